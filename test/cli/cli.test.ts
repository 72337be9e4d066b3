/**
 * The real binary end to end, headless: help, the demo, NDJSON, exit codes, gate policies,
 * recipe errors, runs/show, and SIGTERM stopping a run's process trees.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { paddock, paddockProcess } from '../helpers/cli.js';
import { DEMO_RECIPE, MODEL_V1, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { RunStore } from '../../src/store/run-store.js';
import { isAlive } from '../../runners/process-tree.js';

function benchRecipe(dir: string, gate: string, iterations = 30): string {
  const text = `version: 1
name: small
models:
  tiny:
    version: 1.0.0
    onnx: { path: ${JSON.stringify(MODEL_V1)} }
    lineage: { dataset: placeholder }
targets:
  - { name: cpu-fp32, backend: onnxruntime }
stages:
  package:
    - id: bench-tiny
      uses: bench
      target: cpu-fp32
      with: { model: tiny, iterations: ${iterations}, warmup: 2 }
gates:
${gate}
`;
  const path = join(dir, 'paddock.yaml');
  writeFileSync(path, text);
  return path;
}

describe('paddock CLI', () => {
  it('prints help and the version fast, without touching the store', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await paddock(['--help'], { PADDOCK_HOME: join(dir, 'h') });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/paddock demo \[--headless\]/);
      expect(r.stdout).toMatch(/Exit status: 0 ok, 1 a gate failed or was rejected, 2 an error/);
      expect(existsSync(join(dir, 'h'))).toBe(false);
      const v = await paddock(['--version'], {});
      expect(v.stdout.trim()).toBe(`paddock ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}`);
    } finally {
      cleanup();
    }
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['run'], /run needs a recipe file/],
    [['run', 'x.yaml', '--gate-policy', 'maybe'], /--gate-policy must be fail, approve or reject, not "maybe"/],
    [['run', 'x.yaml', '--concurrency', '0'], /--concurrency must be an integer from 1 to 256/],
    [['runs', '--bogus'], /paddock runs: unknown option --bogus/],
    [['run', '/nonexistent/paddock.yaml'], /\/nonexistent\/paddock.yaml: cannot read recipe/],
  ])('rejects bad usage %j with exit 2 and a clear message', async (args, re) => {
    const r = await paddock(args as string[], { PADDOCK_HOME: '/tmp/paddock-never-created' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(re);
  });

  it('runs the demo headless: latency, the world, data guards, slices, gates, exit 0; runs and show read it back', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { PADDOCK_HOME: join(dir, 'home') };
      const r = await paddock(['demo'], env);
      expect(r.exitCode, r.stdout.slice(-3000) + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/package\/bench-production started \[local\]/);
      expect(r.stdout).toMatch(/package\/bench-candidate latency candidate\/cpu-fp32 p50 [\d.]+ ms {2}p95 [\d.]+ {2}p99 [\d.]+ {2}n=\d+/);
      expect(r.stdout).toMatch(/latency.p99_ms \(candidate\/cpu-fp32\) [\d.]+ ms/);
      expect(r.stdout).toMatch(/gate:candidate-p99-latency verdict PASS/);
      // The package stage ran first: variants, equivalence verdicts, the contract smoke said it was skipped, the pack signed.
      expect(r.stdout).toMatch(/package\/equivalence verdict PASS committed-onnx \(fp32\) vs FP32 reference on 1000 inputs/);
      expect(r.stdout).toMatch(/package\/equivalence verdict PASS fp16/);
      expect(r.stdout).toMatch(/package\/contract-smoke WARN contract smoke SKIPPED: /);
      expect(r.stdout).toMatch(/package\/sign succeeded/);
      expect(r.stdout).toMatch(/evaluate\/check-data data\.violations 0\.000/);
      expect(r.stdout).toMatch(/evaluate\/evaluate coco\.AP \(candidate night\+pedestrian\) [\d.]+ \[[\d.]+, [\d.]+\]/);
      expect(r.stdout).toMatch(/gate:overall-ap verdict PASS/);
      expect(r.stdout).toMatch(/gate:overall-ap-non-inferior verdict PASS/);
      // The critical slices are decided on regression (Holm over the critical slices); night+rain+pedestrian
      // has all its pedestrians in one scene, so it is insufficient data and the gate goes to a person.
      expect(r.stdout).toMatch(/gate:critical-slices verdict REVIEW coco\.AP \(target candidate, slice night\+rain\+pedestrian\) = [\d.]+: insufficient data/);
      expect(r.stdout).toMatch(/gate:critical-slices verdict REVIEW .*insufficient data: a person must decide/);
      // The gates that need a person: headless, the demo says it answers them by policy.
      expect(r.stdout).toMatch(/paddock demo: headless, so gates that need a person are answered by --gate-policy approve/);
      expect(r.stdout).toMatch(/gate:critical-slices gate critical-slices approved by .* \(--gate-policy approve\): approved by policy/);
      expect(r.stdout).toMatch(/gate:release-signoff verdict REVIEW/);
      // The replay stage: tracking against production and the blackout rule.
      expect(r.stdout).toMatch(/gate:tracking-idf1 verdict PASS/);
      expect(r.stdout).toMatch(/gate:blackout-no-confident-boxes verdict PASS/);
      const id = /run (r-\S+) succeeded \(exit 0\)/.exec(r.stdout)![1];

      const runs = await paddock(['runs'], env);
      expect(runs.stdout).toMatch(new RegExp(`${id}\\s+demo\\s+succeeded`));
      const shown = await paddock(['show', id.slice(0, 20)], env);
      expect(shown.exitCode).toBe(0);
      expect(shown.stdout).toMatch(/model candidate v1\.1\.0 {2}onnx 58d1f8de4bcf/);
      expect(shown.stdout).toMatch(/bench-candidate\s+latency\.p50_ms\s+candidate\/cpu-fp32/);
      expect(shown.stdout).toMatch(/overall-ap\s+PASS/);
      const json = JSON.parse((await paddock(['show', id, '--json'], env)).stdout);
      // Every step succeeded but the contract smoke, skipped (no Triton image here) with its reason.
      expect(json.steps.filter((s: { status: string }) => s.status !== 'succeeded').map((s: { step_id: string; status: string }) => `${s.step_id}:${s.status}`)).toEqual(['contract-smoke:skipped']);
      expect(json.steps).toHaveLength(33); // 24 steps and 9 gates
      // The promote stage moved production to this run's pre-release of 1.1.0 (docs/promote.md).
      expect(json.metrics.find((m: { name: string }) => m.name === 'promote.promoted')?.value).toBe(1);
      expect(json.metrics.find((m: { name: string }) => m.name === 'canary.promote')?.value).toBe(1);
      // The three gates that need a person, in the order the run asked: the critical slices (insufficient
      // data in night+rain+pedestrian), the release sign-off, and the Sim Gate's sign-off (docs/sim.md).
      expect(json.approvals).toEqual([
        expect.objectContaining({ gate: 'critical-slices', decision: 'approved' }),
        expect.objectContaining({ gate: 'release-signoff', decision: 'approved' }),
        expect.objectContaining({ gate: 'sim-signoff', decision: 'approved' }),
      ]);
      const p50 = json.metrics.find((m: { name: string; target: string }) => m.name === 'latency.p50_ms' && m.target === 'candidate/cpu-fp32');
      expect(p50.value).toBeGreaterThan(0);
      expect(JSON.parse(p50.denominators)).toEqual({ samples: 300, batch: 1 });
      expect(json.run.lineage.candidate.onnx.sha256).toBe('58d1f8de4bcfd1e1a9a94e54afd689ef722acdc0fce2fd614749dab01f02dac2');
      expect(json.run.lineage.candidate.commit).toMatch(/^([0-9a-f]{40}|unknown)/);
    } finally {
      cleanup();
    }
  }, 600_000);

  it('--json prints one valid event per line, covering the whole run', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await paddock(['run', benchRecipe(dir, '  - { id: p99, stage: package, metric: latency.p99_ms, op: "<", threshold: 100000 }'), '--json'], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode, r.stderr).toBe(0);
      const events = r.stdout.trim().split('\n').map((l) => PaddockEvent.parse(JSON.parse(l)));
      const types = new Set(events.map((e) => e.type));
      for (const t of ['run', 'step', 'log', 'latency', 'progress', 'metric', 'verdict']) expect(types.has(t as never), t).toBe(true);
      const samples = events.flatMap((e) => (e.type === 'latency' ? e.samples : []));
      expect(samples).toHaveLength(30);
      expect(events.at(-1)).toMatchObject({ type: 'run', status: 'succeeded', exitCode: 0 });
    } finally {
      cleanup();
    }
  });

  it('exits 1 when a gate fails, and the store says why', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { PADDOCK_HOME: join(dir, 'home') };
      const r = await paddock(['run', benchRecipe(dir, '  - { id: impossible, stage: package, metric: latency.p50_ms, op: "<", threshold: 0.000001 }')], env);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/verdict FAIL latency\.p50_ms \(target tiny\/cpu-fp32\)|verdict FAIL latency\.p50_ms = [\d.]+ does not meet < 0\.00000100/);
      expect(r.stdout).toMatch(/failed a gate \(exit 1\)/);
      const store = new RunStore(join(dir, 'home'));
      expect(store.listRuns()[0]).toMatchObject({ status: 'failed', exit_code: 1 });
      store.close();
    } finally {
      cleanup();
    }
  });

  it.each([
    ['fail', 1, /needs review and nobody answered/],
    ['approve', 0, /gate needs-person approved by .+ \(--gate-policy approve\)/],
    ['reject', 1, /gate needs-person rejected by .+ \(--gate-policy reject\): rejected by policy/],
  ])('answers a gate that needs a person with --gate-policy %s (exit %i), recorded as an approval', async (policy, code, re) => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { PADDOCK_HOME: join(dir, 'home') };
      const file = benchRecipe(dir, '  - { id: needs-person, stage: package, metric: latency.p50_ms, op: ">", threshold: 0, approval: required }', 5);
      const r = await paddock(['run', file, '--gate-policy', policy], env);
      expect(r.exitCode).toBe(code);
      expect(r.stdout + r.stderr).toMatch(re);
      const store = new RunStore(join(dir, 'home'));
      const approvals = store.approvals(store.listRuns()[0].id);
      store.close();
      expect(approvals.map((a) => a.decision)).toEqual(policy === 'fail' ? [] : [policy === 'approve' ? 'approved' : 'rejected']);
    } finally {
      cleanup();
    }
  });

  it('exits 2 with file, path and line when the recipe is wrong, and stores nothing', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = benchRecipe(dir, '  - { id: g, stage: package, metric: m, op: "~", threshold: 1 }');
      const r = await paddock(['run', file], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`${file}:17:45 gates\\[0\\]\\.op: Invalid option: expected one of`));
      expect(existsSync(join(dir, 'home', 'runs.sqlite'))).toBe(false);
    } finally {
      cleanup();
    }
  });

  it('exits 2 when a model file does not match its recorded sha256', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = benchRecipe(dir, '  []').replace(/$/, '');
      writeFileSync(file, readFileSync(file, 'utf8').replace(`onnx: { path: ${JSON.stringify(MODEL_V1)} }`, `onnx: { path: ${JSON.stringify(MODEL_V1)}, sha256: "${'0'.repeat(64)}" }`));
      const r = await paddock(['run', file], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/models\.tiny\.onnx\.sha256: the recipe says 0{64}, but .*tiny-det-v1\.0\.0\.onnx has 7fac7ef7/);
    } finally {
      cleanup();
    }
  });

  it('exits 2 when a step fails, and skips what depended on it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'p.yaml');
      writeFileSync(file, `version: 1
name: broken
stages:
  package:
    - { id: boom, run: [${JSON.stringify(process.execPath)}, -e, "process.exit(7)"] }
  evaluate:
    - { id: later, run: ["true"] }
`);
      const r = await paddock(['run', file], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toMatch(/package\/boom failed: exited with status 7/);
      expect(r.stdout).toMatch(/evaluate\/later skipped: not run: boom did not succeed/);
    } finally {
      cleanup();
    }
  });

  it('SIGTERM stops the running steps and their children, marks them cancelled, and the run can resume', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pids = join(dir, 'pids.json');
      const file = join(dir, 'p.yaml');
      writeFileSync(file, `version: 1
name: sleepy
stages:
  package:
    - { id: nap, run: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(ROOT, 'test', 'fixtures', 'sleepy-step.mjs'))}, ${JSON.stringify(pids)}] }
`);
      const env = { PADDOCK_HOME: join(dir, 'home') };
      const child = paddockProcess(['run', file], env);
      await waitFor(() => existsSync(pids), 'the step to start');
      const { step, grandchild } = JSON.parse(readFileSync(pids, 'utf8')) as { step: number; grandchild: number };
      child.kill('SIGTERM');
      const r = await child;
      expect(r.exitCode).toBe(2);
      expect(String(r.stderr)).toMatch(/SIGTERM: stopping the running steps/);
      expect(String(r.stdout)).toMatch(/package\/nap cancelled: cancelled: the run was stopped/);
      await waitFor(() => !isAlive(step) && !isAlive(grandchild), 'the step and its child to be gone', 5000);
      const store = new RunStore(join(dir, 'home'));
      const run = store.listRuns()[0];
      expect(run.status).toBe('cancelled');
      expect(store.getSteps(run.id)[0].status).toBe('cancelled');
      expect(store.integrityCheck()).toBe('ok');
      store.close();
    } finally {
      cleanup();
    }
  });
});

describe('paddock eval coco', () => {
  const ref = join(ROOT, 'fixtures', 'reference', 'coco');
  it.each(['02_crowd_regions_and_ignore_flags', '05_maxdets_over_100_per_image'])('prints pycocotools\'s numbers for %s, as JSON and as the 12 lines', async (name) => {
    const dir = join(ref, name);
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
    const json = await paddock(['eval', 'coco', '--gt', join(dir, 'gt.json'), '--dt', join(dir, 'dt.json'), '--json'], {});
    expect(json.exitCode, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout);
    expect(Object.keys(out.stats)).toEqual(expected.stat_names);
    expect(Object.values(out.stats)).toEqual(expected.stats);
    expect(out.per_category).toEqual(expected.per_category_ap);
    const text = await paddock(['eval', 'coco', '--gt', join(dir, 'gt.json'), '--dt', join(dir, 'dt.json')], {});
    expect(text.stdout.trimEnd().split('\n')).toEqual(expected.pycocotools_summary);
  });

  it('names the file and entry of bad input, exit 2', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'dt.json'), '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "score": 0.5}]');
      const r = await paddock(['eval', 'coco', '--gt', join(ref, '01_basic_mixed_missing_categories', 'gt.json'), '--dt', join(dir, 'dt.json')], {});
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/dt\.json: \[0\] \(image 1\): bbox must be \[x, y, width, height\], got \[1,2,3\]/);
      const usage = await paddock(['eval', 'coco', '--gt', 'x.json'], {});
      expect(usage.exitCode).toBe(2);
      expect(usage.stderr).toMatch(/eval coco needs --gt <gt.json> and --dt <results.json>/);
    } finally {
      cleanup();
    }
  });
});
