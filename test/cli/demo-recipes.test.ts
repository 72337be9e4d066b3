/**
 * The two demo recipes: fixtures/demo/paddock.yaml (the quick demo, `paddock demo`) and
 * paddock.full.yaml (`paddock demo --full`). Both load, validate every step's parameters and plan
 * to the same DAG; they differ only in the counts the quick one takes fewer of; `--full` runs the
 * full one.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadRecipe, findStep } from '../../src/steps/catalogue.js';
import { plan } from '../../src/pipeline/plan.js';
import type { Recipe } from '../../src/schema/recipe.js';
import { paddock, paddockProcess } from '../helpers/cli.js';
import { DEMO_RECIPE, FIXTURES, tempDir, waitFor } from '../helpers/fixtures.js';
import { RunStore } from '../../src/store/run-store.js';

const FULL_RECIPE = join(FIXTURES, 'demo', 'paddock.full.yaml');

type Step = Recipe['stages']['package'][number];
const stepOf = (r: Recipe, id: string) => [...r.stages.package, ...r.stages.evaluate, ...r.stages.replay].find((s) => s.id === id) as Step & { with: Record<string, unknown> };

/** What the quick demo takes fewer of, and how many each recipe takes (docs/benchmarks.md, "Demo time"). */
const COUNTS: [step: string, param: string, quick: number, full: number][] = [
  ['bench-production', 'iterations', 300, 300],
  ['bench-candidate', 'iterations', 300, 300],
  ['bench-variants', 'iterations', 30, 100],
  ['bench-variants', 'warmup', 5, 10],
  ['evaluate', 'replicates', 200, 1000],
  ['replay', 'max_drives', 4, 20],
  ['world', 'replay_drives', 4, 20],
  ['sim', 'seeds', 2, 4],
];

describe('the demo recipes', () => {
  const quick = loadRecipe(DEMO_RECIPE).recipe;
  const full = loadRecipe(FULL_RECIPE).recipe;

  it.each([
    ['quick', quick],
    ['full', full],
  ] as const)('the %s one plans, and every built-in step takes its parameters', (_name, recipe) => {
    const p = plan(recipe);
    expect(p.nodes.length).toBe(33); // 24 steps and 9 gates
    for (const s of [...recipe.stages.package, ...recipe.stages.evaluate, ...recipe.stages.replay]) {
      if (!('uses' in s)) continue;
      const def = findStep(s.uses)!;
      expect(def, s.uses).toBeDefined();
      const parsed = def.with.safeParse(s.with);
      expect(parsed.success, `${s.id}: ${parsed.error?.message}`).toBe(true);
    }
  });

  it('plan to the same DAG and differ only in the counts the quick demo takes fewer of', () => {
    const shape = (r: Recipe) => plan(r).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind, needs: n.needs }));
    expect(shape(full)).toEqual(shape(quick));
    for (const [step, param, q, f] of COUNTS) {
      expect(stepOf(quick, step).with[param], `quick ${step}.${param}`).toBe(q);
      expect(stepOf(full, step).with[param], `full ${step}.${param}`).toBe(f);
    }
    // Equivalence is made faster, not smaller: 1000 inputs in both.
    expect((stepOf(quick, 'equivalence').with.inputs as { count: number }).count).toBe(1000);
    // Everything else the same: the full recipe with the quick counts is the quick recipe.
    const asQuick = structuredClone(full);
    asQuick.name = quick.name;
    asQuick.description = quick.description;
    for (const [step, param, q] of COUNTS) stepOf(asQuick, step).with[param] = q;
    expect(asQuick).toEqual(quick);
  });

  it('paddock demo --full runs the full recipe; other commands refuse --full', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { PADDOCK_HOME: join(dir, 'home'), PADDOCK_DEMO_DIR: join(dir, 'demo') };
      const child = paddockProcess(['demo', '--full', '--headless'], env);
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      await waitFor(() => /package\/bench-production started/.test(out) || undefined, 'the full demo to start', 60_000);
      child.kill('SIGTERM');
      await child;
      const store = new RunStore(join(dir, 'home'), { readonly: true });
      try {
        const [run] = store.listRuns();
        expect(run).toMatchObject({ name: 'demo-full' });
        expect(run.recipe_path).toBe(FULL_RECIPE);
      } finally {
        store.close();
      }
      const r = await paddock(['run', DEMO_RECIPE, '--full'], env);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/--full is not an option of paddock run/);
    } finally {
      cleanup();
    }
  }, 120_000);
});
