/**
 * Does paddock's bench step report the latency a bare onnxruntime-node loop measures? Runs, in
 * the same session and interleaved (A B A B ...), the bare loop (bench/bare-ort-loop.mjs) and
 * `paddock run` of a one-step bench recipe (its p50 read from --json), on the same model with
 * the same settings. Goal: paddock's p50 within 3% of the bare loop's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, writeResults, ROOT } from './common.js';

const ITER = 600;
const WARMUP = 50;
const ROUNDS = 5;
const models = ['tiny-det-v1.0.0.onnx', 'tiny-det-v1.1.0.onnx'];
const work = mkdtempSync(join(tmpdir(), 'paddock-bench-'));
const results: Record<string, unknown>[] = [];
try {
  for (const model of models) {
    const path = join(ROOT, 'fixtures', 'models', model);
    const recipe = join(work, `${model}.yaml`);
    writeFileSync(
      recipe,
      `version: 1
name: overhead
models:
  m: { version: 1.0.0, onnx: { path: ${JSON.stringify(path)} }, lineage: { dataset: none } }
targets: [{ name: cpu, backend: onnxruntime }]
stages:
  package:
    - { id: bench, uses: bench, target: cpu, with: { model: m, iterations: ${ITER}, warmup: ${WARMUP}, threads: 1 } }
`,
    );
    const bare: number[] = [];
    const paddock: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const b = spawnSync(process.execPath, [join(ROOT, 'bench', 'bare-ort-loop.mjs'), path, String(ITER), String(WARMUP)], { encoding: 'utf8' });
      if (b.status !== 0) throw new Error(`bare loop failed: ${b.stderr}`);
      bare.push((JSON.parse(b.stdout) as { p50: number }).p50);
      const p = spawnSync(process.execPath, [join(ROOT, 'dist', 'paddock.js'), 'run', recipe, '--json'], { encoding: 'utf8', env: { ...process.env, PADDOCK_HOME: join(work, 'home') } });
      if (p.status !== 0) throw new Error(`paddock run failed: ${p.stderr}`);
      const metric = p.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; name?: string; value?: number })
        .find((e) => e.type === 'metric' && e.name === 'latency.p50_ms');
      paddock.push(metric!.value!);
    }
    const mb = median(bare);
    const mp = median(paddock);
    const diff = (mp - mb) / mb;
    results.push({ model, iterations: ITER, rounds: ROUNDS, bareP50Ms: +mb.toFixed(4), paddockP50Ms: +mp.toFixed(4), relativeDifference: +diff.toFixed(4), bareRounds: bare, paddockRounds: paddock });
    console.log(
      `${model}: bare loop p50 ${mb.toFixed(3)} ms, paddock bench p50 ${mp.toFixed(3)} ms, difference ${(diff * 100).toFixed(2)}% ` +
        `(rounds bare ${bare.map((x) => x.toFixed(2)).join(' ')} | paddock ${paddock.map((x) => x.toFixed(2)).join(' ')}); goal within 3%: ${Math.abs(diff) <= 0.03 ? 'met' : 'NOT met'}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`figures: ${writeResults('bench-overhead', { goal: 0.03, results })}`);
