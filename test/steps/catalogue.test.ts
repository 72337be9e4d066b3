/**
 * The step catalogue: one definition per built-in step, each complete; recipe loading takes its
 * rules; dist/step.js finds each body; `paddock steps` and docs/steps.md list the same steps.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOGUE, STEP_RULES, findStep, parseRecipe } from '../../src/steps/catalogue.js';
import { parseRecipe as parseRecipeWithout, RecipeError } from '../../src/schema/recipe-load.js';
import { paddock } from '../helpers/cli.js';
import { ROOT } from '../helpers/fixtures.js';
import { execa } from 'execa';
import { parse as parseYaml } from 'yaml';
import { producesMetric } from '../../src/schema/recipe-load.js';

const RECIPE = `version: 1
name: t
models:
  candidate: { version: 1.0.0, onnx: { path: m.onnx }, lineage: { dataset: d } }
stages:
  promote:
    - { id: verify, uses: verify-pack, with: { pack: build/pack } }
`;

describe('the step catalogue', () => {
  it('declares each step once, with a stage, a with schema, a command and where it runs', () => {
    const names = CATALOGUE.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const s of CATALOGUE) {
      expect(s.summary.length, s.name).toBeGreaterThan(10);
      expect(['package', 'evaluate', 'replay', 'promote', 'any']).toContain(s.stage);
      expect(typeof s.with.safeParse).toBe('function');
      expect(typeof s.invoke).toBe('function');
      expect('unsupported' in s.container || typeof s.container.inputs === 'function').toBe(true);
    }
    expect(findStep('verify-pack')?.stage).toBe('promote');
    expect(findStep('nope')).toBeUndefined();
  });

  it('every node step has a body with a params schema; the Python steps have none', async () => {
    for (const s of CATALOGUE) {
      if (['export', 'torch-bench'].includes(s.name)) {
        expect(s.load, s.name).toBeUndefined();
        continue;
      }
      const body = await s.load!();
      expect(typeof body.run, s.name).toBe('function');
      expect(typeof body.params.safeParse, s.name).toBe('function');
    }
  });

  it('recipe loading checks with against the catalogue, and an unknown step is named with the known ones', () => {
    expect(parseRecipe(RECIPE, 'r.yaml').stages.promote[0]).toMatchObject({ uses: 'verify-pack' });
    const bad = RECIPE.replace('pack: build/pack', 'pack: build/pack, key: x');
    expect(() => parseRecipe(bad, 'r.yaml')).toThrow(/r\.yaml:7:\d+ stages\.promote\[0\]\.with\.key: unknown verify-pack parameter "key" \(known: pack, public_key, trusted_keys, strict\)/);
    const unknown = RECIPE.replace('uses: verify-pack', 'uses: verify-pak');
    try {
      parseRecipe(unknown, 'r.yaml');
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(RecipeError);
      expect((err as Error).message).toMatch(/stages\.promote\[0\]\.uses: unknown built-in step "verify-pak" \(known: bench, world-build, .*verify-pack.*\)/);
    }
    // Without the catalogue (a stored run read back) the recipe's own shape is still checked.
    expect(() => parseRecipeWithout(bad, 'r.yaml')).not.toThrow();
    expect(Object.keys(STEP_RULES)).toEqual(CATALOGUE.map((s) => s.name));
  });

  it('dist/step.js checks a step\'s parameters against its body\'s schema', async () => {
    const r = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'verify-pack', '{"pack":1}'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^verify-pack: invalid parameters: pack: /);
    const u = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'frobnicate', '{}'], { reject: false });
    expect(u.exitCode).toBe(2);
    expect(u.stderr).toMatch(/unknown built-in step "frobnicate" \(known: bench, .*verify-pack.*\)/);
  });

  it('paddock steps and docs/steps.md list every step', async () => {
    const r = await paddock(['steps', '--json'], {});
    expect(r.exitCode).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; stage: string; container: { unsupported?: string } });
    expect(rows.map((x) => x.name)).toEqual(CATALOGUE.map((s) => s.name));
    expect(rows.find((x) => x.name === 'world-build')!.container.unsupported).toMatch(/sharp/);
    const text = await paddock(['steps'], {});
    expect(text.stdout).toMatch(/^STEP +STAGE +WHAT IT DOES$/m);
    expect(text.stdout).toMatch(/^verify-pack +any host \(paddock's step image\)$/m);
    const doc = readFileSync(join(ROOT, 'docs', 'steps.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| step | runs on a Docker host |'));
    for (const s of CATALOGUE) expect(table, s.name).toMatch(new RegExp(`[|,] ${s.name}[,| ]`));
  });
});

/**
 * What each step emits, where its metrics are named: its body and the helpers that name metrics
 * for it. A new step must be added here (the first test says so).
 */
const METRIC_SOURCES: Record<string, string[]> = {
  bench: ['src/steps/package/bench.ts'],
  'world-build': ['src/steps/world/world-build.ts'],
  'check-data': ['src/steps/evaluate/check-data.ts'],
  evaluate: ['src/steps/evaluate/evaluate.ts'],
  stage: ['src/steps/package/stage.ts'],
  export: ['runners/python/export.py'],
  coverage: ['src/steps/package/coverage.ts'],
  variants: ['src/steps/package/variants.ts'],
  equivalence: ['src/steps/package/equivalence.ts'],
  'bench-variants': ['src/steps/package/bench-variants.ts', 'src/steps/package/bench.ts'],
  'triton-repo': ['src/steps/package/triton-repo.ts'],
  'contract-smoke': ['src/steps/package/contract-smoke.ts'],
  sbom: ['src/steps/package/sbom.ts'],
  sign: ['src/steps/package/sign.ts'],
  publish: ['src/steps/package/publish.ts'],
  'import-bench': ['src/steps/package/import-bench.ts'],
  'torch-bench': ['runners/python/torch_bench.py'],
  'verify-pack': ['src/steps/promote/verify-pack.step.ts'],
  replay: ['src/steps/replay/replay.ts'],
  carla: ['src/steps/sim/carla.ts'],
  sim: ['src/steps/sim/sim.ts'],
  'sim-gate': ['src/steps/sim/sim-gate.ts'],
  // Its runs' figures go to <out>/runs/*.metrics.json, read by the sim step: it emits no metric event.
  'sim-shard': ['src/steps/sim/sim-shard.ts'],
  register: ['src/steps/promote/register.step.ts'],
  governance: ['src/steps/promote/governance.step.ts'],
  soak: ['src/steps/promote/soak.step.ts'],
  canary: ['src/steps/promote/canary.step.ts'],
  promote: ['src/steps/promote/promote.step.ts'],
};

/** The metric names a source file spells out whole (names built at run time are left to the recorded runs). */
function literalMetricNames(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const patterns = file.endsWith('.py') ? [/\bmetric\("([^"%]+)"/g] : [/type: 'metric', name: '([^']+)'/g, /\bmetric\('([^']+)'/g];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]));
}

/** Metric names by step name (`uses:`) in a recorded run's events. */
function recordedMetrics(file: string, usesOf: (stepId: string) => string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n').filter(Boolean)) {
    const raw = JSON.parse(line) as { event?: { type: string; step?: string; name?: string }; type?: string; step?: string; name?: string };
    const e = raw.event ?? raw;
    if (e.type !== 'metric' || !e.step) continue;
    const uses = usesOf(e.step);
    out.set(uses, (out.get(uses) ?? new Set()).add(e.name!));
  }
  return out;
}

describe('what the steps produce', () => {
  it('every built-in step declares the metrics it produces, and names the files it emits them from here', () => {
    for (const s of CATALOGUE) {
      expect(Array.isArray(s.produces), `${s.name} declares no produces`).toBe(true);
      expect(METRIC_SOURCES[s.name], `${s.name}: add its sources to METRIC_SOURCES`).toBeDefined();
    }
    expect(Object.keys(METRIC_SOURCES).sort()).toEqual(CATALOGUE.map((s) => s.name).sort());
  });

  it('every metric name a step spells out in its body is one it declares', () => {
    let checked = 0;
    for (const s of CATALOGUE) {
      for (const file of METRIC_SOURCES[s.name]) {
        for (const name of literalMetricNames(file)) {
          expect(producesMetric(s.produces!, name), `${s.name} emits ${name} (${file}) but declares ${JSON.stringify(s.produces)}`).toBe(true);
          checked++;
        }
      }
    }
    // The scan finds the names (bench, check-data, evaluate, equivalence, ... spell out dozens).
    expect(checked).toBeGreaterThan(30);
  });

  it('the metrics of recorded runs are the ones their steps declare, and each declared name was emitted', () => {
    const workbench = parseYaml(readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.recipe.yaml'), 'utf8')) as { stages: Record<string, { id: string; uses?: string }[]> };
    const usesById = new Map(Object.values(workbench.stages).flat().map((st) => [st.id, st.uses ?? st.id]));
    const runs = [
      // test/fixtures/README.md: two bench steps (bench-production, bench-candidate).
      recordedMetrics('test/fixtures/demo-run.ndjson', () => 'bench'),
      recordedMetrics('test/fixtures/workbench-run.ndjson', (id) => usesById.get(id) ?? id),
      // The evaluate step recorded again after it gained its one-sided bounds, tests and power.
      recordedMetrics('test/fixtures/evaluate-run.ndjson', () => 'evaluate'),
    ];
    const seen = new Map<string, Set<string>>();
    for (const run of runs) {
      for (const [uses, names] of run) {
        const step = findStep(uses);
        expect(step, uses).toBeDefined();
        for (const name of names) {
          expect(producesMetric(step!.produces!, name), `${uses} emitted ${name}, which it does not declare`).toBe(true);
          seen.set(uses, (seen.get(uses) ?? new Set()).add(name));
        }
      }
    }
    expect([...seen.keys()].sort()).toEqual(['bench', 'check-data', 'evaluate', 'world-build']);
    // No declared pattern of these steps is stale: each matched something the step really emitted.
    for (const [uses, names] of seen) {
      for (const pattern of findStep(uses)!.produces!) expect([...names].some((n) => producesMetric([pattern], n)), `${uses} declares ${pattern}, never emitted`).toBe(true);
    }
  });

  it('paddock steps lists what each step produces', async () => {
    const r = await paddock(['steps', '--json'], {});
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; produces: string[] });
    expect(rows.find((x) => x.name === 'bench')!.produces).toEqual(['latency.p{50,95,99}_ms', 'latency.mean_ms', 'throughput.items_per_s', 'memory.peak_rss_mb']);
    expect(rows.find((x) => x.name === 'sign')!.produces).toEqual([]);
    const text = await paddock(['steps'], {});
    expect(text.stdout).toMatch(/^STEP +PRODUCES \(metrics a gate may name\)$/m);
    expect(text.stdout).toMatch(/^contract-smoke +contract_smoke\.\{ran,problems\}$/m);
    expect(text.stdout).toMatch(/^sign +\(none\)$/m);
  });
});
