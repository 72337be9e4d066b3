/**
 * How long the demo takes on this machine, step by step (docs/benchmarks.md, "Demo time"):
 * - a first run into a fresh outputs folder (the world is rendered) and a second one (the world
 *   reused), of the quick demo or, with DEMO_TIME_FULL=1, of `paddock demo --full`;
 * - the two parts that run on worker threads against their one-thread baseline, measured in the
 *   same run on the pack and world the first run made: the world's render (its first 60 scenes,
 *   one thread against one worker per core) and equivalence (200 inputs, the reference and the
 *   three variants on one thread against a worker each), alternated, two rounds each.
 * Every figure carries the load average (1 min) before and after it: other work on the machine
 * shows. DEMO_TIME_PARTS=0 skips the second part. Needs dist/ (npm run build).
 * Figures: bench/results/demo-time.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, median, writeResults } from './common.js';
import { planRenderJobs, renderOnThisThread, DEFAULT_WORLD, type RenderAll } from '../src/world/dataset.js';
import { renderOnWorkers } from '../src/world/render-pool.js';

const full = process.env.DEMO_TIME_FULL === '1';
const parts = process.env.DEMO_TIME_PARTS !== '0';
const PADDOCK = join(ROOT, 'dist', 'paddock.js');
const STEP = join(ROOT, 'dist', 'step.js');
const work = mkdtempSync(join(tmpdir(), 'paddock-demo-time-'));
const env = { ...process.env, CI: '1', NO_COLOR: '1', PADDOCK_LINK: '0', PADDOCK_HOME: join(work, 'home'), PADDOCK_DEMO_DIR: join(work, 'demo') };
const load = () => Number(loadavg()[0].toFixed(2));

interface StepTime {
  id: string;
  status: string;
  seconds: number;
}

/** One headless demo run: its wall time, its steps' times from the run store, the load around it. */
function demoRun(label: string) {
  const before = load();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [PADDOCK, 'demo', '--headless', ...(full ? ['--full'] : [])], { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const wall = (performance.now() - t0) / 1000;
  const after = load();
  if (r.status !== 0) throw new Error(`${label}: paddock demo exited ${r.status}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const id = /run (r-\S+) succeeded/.exec(r.stdout)![1];
  const shown = JSON.parse(execFileSync(process.execPath, [PADDOCK, 'show', id, '--json'], { env, encoding: 'utf8', maxBuffer: 1 << 28 })) as { steps: { step_id: string; status: string; started_at: number; ended_at: number }[] };
  const steps: StepTime[] = shown.steps.map((s) => ({ id: s.step_id, status: s.status, seconds: (s.ended_at - s.started_at) / 1000 }));
  console.log(`${label}: ${wall.toFixed(1)} s (load ${before} -> ${after})`);
  return { run: id, wallS: wall, load: { before, after }, steps };
}

const first = demoRun('first run (world rendered)');
const second = demoRun('second run (world reused)');
console.log(`\n${'step'.padEnd(30)} ${'first'.padStart(8)} ${'second'.padStart(8)}`);
for (const s of first.steps) {
  const b = second.steps.find((x) => x.id === s.id);
  if (s.seconds >= 0.5 || (b && b.seconds >= 0.5)) console.log(`${s.id.padEnd(30)} ${s.seconds.toFixed(1).padStart(7)}s ${(b ? b.seconds.toFixed(1) : '-').padStart(7)}s`);
}

let world: Record<string, unknown> | undefined;
let equivalence: Record<string, unknown> | undefined;
if (parts) {
  // The world's render: the same 60 scenes on one thread and on a worker per core.
  const jobs = planRenderJobs(DEFAULT_WORLD).slice(0, 60);
  const workers = availableParallelism();
  const timeRender = async (renderAll: RenderAll) => {
    const out = mkdtempSync(join(work, 'render-'));
    const before = load();
    const t0 = performance.now();
    await renderAll(jobs, out, () => undefined);
    const s = (performance.now() - t0) / 1000;
    rmSync(out, { recursive: true, force: true });
    return { s, load: [before, load()] };
  };
  const one: { s: number; load: number[] }[] = [];
  const many: { s: number; load: number[] }[] = [];
  for (let round = 0; round < 2; round++) {
    one.push(await timeRender(renderOnThisThread));
    many.push(await timeRender(renderOnWorkers({ script: STEP, argv: ['world-build', '{"out":"-"}'], count: workers })));
  }
  const w1 = median(one.map((x) => x.s));
  const wn = median(many.map((x) => x.s));
  console.log(`\nworld render, ${jobs.length} scenes (${jobs.length * DEFAULT_WORLD.framesPerScene} frames): one thread ${w1.toFixed(1)} s, ${workers} workers ${wn.toFixed(1)} s: x${(w1 / wn).toFixed(2)} (loads ${[...one, ...many].map((x) => x.load.join('->')).join(', ')})`);
  world = { scenes: jobs.length, workers, oneThreadS: w1, workersS: wn, speedup: w1 / wn, rounds: { one, many } };

  // Equivalence: the demo's comparison on 200 inputs, on one thread and on workers.
  const pack = join(work, 'demo', 'packs', 'world-detector', '1.1.0');
  const report = () => JSON.parse(readFileSync(join(pack, 'reports', 'equivalence.json'), 'utf8')) as { variants: unknown };
  const params = (workersOn: boolean) => ({
    pack,
    reference: join(pack, 'model.onnx'),
    contract: pack,
    variants: [
      { name: 'committed-onnx', kind: 'fp32', model: join(ROOT, 'fixtures', 'world', 'models', 'candidate', 'model.onnx') },
      { name: 'fp16', kind: 'fp16', model: join(pack, 'model.fp16.onnx') },
      { name: 'int8', kind: 'int8', model: join(pack, 'model.int8.onnx'), tolerances: { iou_drift: 0.5, min_match_rate: 0 } },
    ],
    inputs: { manifest: join(work, 'demo', 'world', 'manifests', 'golden_val.jsonl'), count: 200, seed: 1234 },
    workers: workersOn,
  });
  const timeEq = (workersOn: boolean) => {
    const before = load();
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [STEP, 'equivalence', JSON.stringify(params(workersOn))], { encoding: 'utf8', maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`equivalence (workers ${workersOn}) exited ${r.status}: ${r.stderr}`);
    return { s: (performance.now() - t0) / 1000, load: [before, load()], variants: JSON.stringify(report().variants) };
  };
  const seq: ReturnType<typeof timeEq>[] = [];
  const par: ReturnType<typeof timeEq>[] = [];
  for (let round = 0; round < 2; round++) {
    seq.push(timeEq(false));
    par.push(timeEq(true));
  }
  const same = new Set([...seq, ...par].map((x) => x.variants)).size === 1;
  const e1 = median(seq.map((x) => x.s));
  const en = median(par.map((x) => x.s));
  console.log(`equivalence, 200 inputs x 4 models: one thread ${e1.toFixed(1)} s, a worker per model ${en.toFixed(1)} s: x${(e1 / en).toFixed(2)}; reports ${same ? 'identical' : 'DIFFER'} (loads ${[...seq, ...par].map((x) => x.load.join('->')).join(', ')})`);
  equivalence = { inputs: 200, oneThreadS: e1, workersS: en, speedup: e1 / en, identicalReports: same, rounds: { seq: seq.map(({ variants: _v, ...x }) => x), par: par.map(({ variants: _v, ...x }) => x) } };
  if (!same) process.exitCode = 1;
}

const file = writeResults(full ? 'demo-time-full' : 'demo-time', { recipe: full ? 'fixtures/demo/paddock.full.yaml' : 'fixtures/demo/paddock.yaml', cores: availableParallelism(), first, second, world, equivalence });
console.log(`figures: ${file}`);
rmSync(work, { recursive: true, force: true });
