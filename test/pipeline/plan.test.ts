import { describe, expect, it } from 'vitest';
import { plan, topoSort, dependentsOf, PlanError, type PlanNode } from '../../src/pipeline/plan.js';
import { Recipe } from '../../src/schema/recipe.js';

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
