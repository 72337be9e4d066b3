import { describe, expect, it } from 'vitest';
import { plan, topoSort, dependentsOf, PlanError, type PlanNode } from '../../src/pipeline/plan.js';
import { Recipe } from '../../src/schema/recipe.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecipeError } from '../../src/schema/recipe-load.js';
import { loadRecipe, parseRecipe } from '../../src/steps/catalogue.js';
import { DEMO_RECIPE, tempDir } from '../helpers/fixtures.js';

function recipe(stages: Record<string, { id: string; needs?: string[] }[]>, gates: { id: string; stage: string }[] = []) {
  const s = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, v.map((st) => ({ run: ['true'], ...st }))]));
  return Recipe.parse({
    version: 1,
    name: 't',
    stages: s,
    gates: gates.map((g) => ({ ...g, metric: 'm', op: '<=', threshold: 1 })),
  });
}

const table: { name: string; stages: Record<string, { id: string; needs?: string[] }[]>; gates?: { id: string; stage: string }[]; order: string[]; needs: Record<string, string[]> }[] = [
  {
    name: 'one stage, parallel steps',
    stages: { package: [{ id: 'a' }, { id: 'b' }] },
    order: ['a', 'b'],
    needs: { a: [], b: [] },
  },
  {
    name: 'needs order steps inside a stage',
    stages: { package: [{ id: 'b', needs: ['a'] }, { id: 'a' }] },
    order: ['a', 'b'],
    needs: { a: [], b: ['a'] },
  },
  {
    name: 'a later stage waits for every node of the stage before',
    stages: { package: [{ id: 'a' }, { id: 'b' }], evaluate: [{ id: 'c' }] },
    order: ['a', 'b', 'c'],
    needs: { c: ['a', 'b'] },
  },
  {
    name: 'gates close their stage, and later stages wait for them',
    stages: { package: [{ id: 'a' }, { id: 'b' }], evaluate: [{ id: 'c' }] },
    gates: [{ id: 'lat', stage: 'package' }],
    order: ['a', 'b', 'gate:lat', 'c'],
    needs: { 'gate:lat': ['a', 'b'], c: ['a', 'b', 'gate:lat'] },
  },
  {
    name: 'empty stages are skipped over',
    stages: { package: [{ id: 'a' }], promote: [{ id: 'z' }] },
    order: ['a', 'z'],
    needs: { z: ['a'] },
  },
  {
    name: 'a gate of an empty stage waits for the stage before',
    stages: { package: [{ id: 'a' }] },
    gates: [{ id: 'g', stage: 'evaluate' }],
    order: ['a', 'gate:g'],
    needs: { 'gate:g': ['a'] },
  },
];

describe('plan', () => {
  it.each(table)('$name', ({ stages, gates, order, needs }) => {
    const p = plan(recipe(stages, gates));
    expect(p.nodes.map((n) => n.id)).toEqual(order);
    for (const [id, want] of Object.entries(needs)) expect(p.nodes.find((n) => n.id === id)!.needs).toEqual(want);
  });

  it('is pure: the same recipe gives the same plan', () => {
    const r = recipe({ package: [{ id: 'a' }, { id: 'b', needs: ['a'] }], evaluate: [{ id: 'c' }] }, [{ id: 'g', stage: 'package' }]);
    expect(JSON.stringify(plan(r))).toBe(JSON.stringify(plan(r)));
  });

  it('rejects a cycle and names the steps in it', () => {
    expect(() => plan(recipe({ package: [{ id: 'a', needs: ['b'] }, { id: 'b', needs: ['a'] }, { id: 'c' }] }))).toThrow(/cycle among: a, b/);
  });

  it('rejects needing a step of a later stage', () => {
    expect(() => plan(recipe({ package: [{ id: 'a', needs: ['c'] }], evaluate: [{ id: 'c' }] }))).toThrow(PlanError);
  });

  it('finds dependents transitively', () => {
    const p = plan(recipe({ package: [{ id: 'a' }, { id: 'b', needs: ['a'] }], evaluate: [{ id: 'c' }] }));
    expect(dependentsOf(p, 'a').sort()).toEqual(['b', 'c']);
  });

  it('topoSort reports unknown needs', () => {
    const nodes: PlanNode[] = [{ id: 'x', kind: 'step', stage: 'package', needs: ['nope'] }];
    expect(() => topoSort(nodes)).toThrow(/unknown node "nope"/);
  });
});

/**
 * A gate may name only a metric that a step at or before its stage produces (the catalogue's
 * `produces`, a `run:` step's `produces:`); otherwise the recipe is refused when it loads, located
 * at the gate's metric in the file that holds it. Before, such a gate found nothing to decide on,
 * went to review, and `--gate-policy approve` approved it.
 */
describe('plan time: gates on metrics no step produces', () => {
  const BENCH = `version: 1
name: t
models:
  candidate: { version: 1.1.0, onnx: { path: m.onnx }, lineage: { dataset: d } }
targets:
  - { name: cpu-fp32, backend: onnxruntime }
stages:
  package:
    - { id: bench-candidate, uses: bench, target: cpu-fp32, with: { model: candidate, iterations: 10 } }
`;
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(RecipeError);
      return err as RecipeError;
    }
    throw new Error('expected the recipe to be refused');
  };

  it('refuses a gate in gates.yaml on a metric no step produces, with the file, line and column of its metric', () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'paddock.yaml'), `${BENCH}gates: gates.yaml\n`);
      writeFileSync(join(dir, 'gates.yaml'), 'version: 1\ngates:\n  - { id: fast, stage: package, metric: latency.p99_ms, op: "<=", threshold: 50 }\n  - id: latency\n    stage: package\n    metric: latency.p99\n    op: "<="\n    threshold: 50\n');
      const e = refusal(() => loadRecipe(join(dir, 'paddock.yaml')));
      expect(e.issues).toHaveLength(1);
      expect(e.issues[0]).toMatchObject({ file: join(dir, 'gates.yaml'), path: 'gates[1].metric', line: 6, column: 13 });
      expect(e.message).toBe(
        `${join(dir, 'gates.yaml')}:6:13 gates[1].metric: gate "latency": metric "latency.p99" is produced by no step of this recipe up to stage package (steps produce: latency.p{50,95,99}_ms, latency.mean_ms, throughput.items_per_s, memory.peak_rss_mb)`,
      );
    } finally {
      cleanup();
    }
  });

  it.each([
    {
      name: 'a gate in the recipe itself is located there',
      stages: 'package:\n    - { id: mine, run: ["true"], produces: ["mine.{p50,p99}_ms"] }\n',
      gate: '{ id: g, stage: package, metric: mine.p95_ms, op: "<", threshold: 1 }',
      error: /^paddock\.yaml:7:38 gates\[0\]\.metric: gate "g": metric "mine\.p95_ms" is produced by no step of this recipe up to stage package \(steps produce: mine\.\{p50,p99\}_ms\)$/,
    },
    {
      name: 'a metric of a later stage cannot decide an earlier gate',
      stages: 'package:\n    - { id: a, run: ["true"], produces: [a.value] }\n  evaluate:\n    - { id: ev, run: ["true"], produces: ["coco.*"] }\n',
      gate: '{ id: g, stage: package, metric: coco.AP, op: ">", threshold: 0 }',
      error: /gate "g" \(stage package\): metric "coco\.AP" is produced only by steps of a later stage \(ev\), after this gate is decided$/,
    },
    { name: 'a declared pattern matches', stages: 'package:\n    - { id: mine, run: ["true"], produces: ["mine.*"] }\n', gate: '{ id: g, stage: package, metric: mine.p95_ms, op: "<", threshold: 1 }', error: undefined },
    { name: 'a metric of an earlier stage is there for a later gate', stages: 'package:\n    - { id: a, run: ["true"], produces: [a.value] }\n  evaluate:\n    - { id: ev, run: ["true"], produces: [] }\n', gate: '{ id: g, stage: evaluate, metric: a.value, op: ">", threshold: 0 }', error: undefined },
    { name: 'a run: step that declares nothing is taken on trust', stages: 'package:\n    - { id: any, run: ["true"] }\n', gate: '{ id: g, stage: package, metric: whatever.it_prints, op: "<", threshold: 1 }', error: undefined },
  ])('$name', ({ stages, gate, error }) => {
    const text = `version: 1\nname: t\nstages:\n  ${stages}gates:\n  - ${gate}\n`;
    const load = () => parseRecipe(text, 'paddock.yaml');
    if (!error) {
      expect(plan(load()).nodes.some((n) => n.id === 'gate:g')).toBe(true);
      return;
    }
    expect(refusal(load).message).toMatch(error);
  });

  it('the demo recipe and its gates plan', () => {
    const p = plan(loadRecipe(DEMO_RECIPE).recipe);
    expect(p.nodes.filter((n) => n.kind === 'gate').map((n) => n.id)).toEqual(['gate:candidate-p99-latency', 'gate:overall-ap', 'gate:overall-ap-non-inferior', 'gate:critical-slices', 'gate:release-signoff', 'gate:tracking-idf1', 'gate:replay-deadline', 'gate:blackout-no-confident-boxes', 'gate:sim-signoff']);
  });
});
