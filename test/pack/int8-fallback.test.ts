import { describe, expect, it } from 'vitest';
import { meetsTarget, searchFallback, sensitivityOrder, type TaskSummary } from '../../src/pack/int8-fallback.js';

const summary = (drift: number): TaskSummary => ({ iou_drift: drift, match_rate: 1, class_agreement: 1, matched: 100 });

/** An evaluator where each quantized layer adds its own drift (the search's easy case), counting calls. */
function additive(cost: Record<string, number>) {
  const calls: string[][] = [];
  return {
    calls,
    evaluate: async (q: Set<string>) => {
      calls.push([...q]);
      return summary([...q].reduce((a, n) => a + cost[n], 0));
    },
  };
}

describe('the INT8 fallback search', () => {
  it('orders layers by their drift alone, then by match rate, then in graph order', () => {
    expect(sensitivityOrder([
      { node: 'a', alone: summary(0.01) },
      { node: 'b', alone: summary(0.03) },
      { node: 'c', alone: { ...summary(0.01), match_rate: 0.9 } },
      { node: 'd', alone: summary(0.01) },
    ])).toEqual(['b', 'c', 'a', 'd']);
  });

  it('keeps every layer in INT8 when the whole model already meets the target', async () => {
    const e = additive({ a: 0.001, b: 0.001 });
    const r = await searchFallback(['a', 'b'], [{ node: 'a', alone: summary(0.001) }, { node: 'b', alone: summary(0.001) }], { iou_drift: 0.005 }, e.evaluate);
    expect(r).toMatchObject({ fallback: [], meets: true });
    expect(e.calls).toEqual([['a', 'b']]);
  });

  it('falls back the most sensitive layers, then quantizes again each one that is not needed', async () => {
    // Target 0.010: all in INT8 is 0.020; the sensitivity order is c, a, b, d; dropping c (0.008) and a (0.005) gives 0.007.
    const cost = { a: 0.005, b: 0.004, c: 0.008, d: 0.003 };
    const e = additive(cost);
    const r = await searchFallback(Object.keys(cost), Object.entries(cost).map(([node, d]) => ({ node, alone: summary(d) })), { iou_drift: 0.01 }, e.evaluate);
    expect(r.fallback).toEqual(['c', 'a']);
    expect(r.meets).toBe(true);
    expect(r.final.iou_drift).toBeCloseTo(0.007, 12);
    // Minimal: no layer of the fallback can be quantized again alone.
    for (const n of r.fallback) expect(meetsTarget(summary(r.final.iou_drift + cost[n as keyof typeof cost]), { iou_drift: 0.01 })).toBe(false);
    expect(r.steps[0]).toMatchObject({ phase: 'all-int8', float: [], meets: false });
    expect(r.steps.some((s) => s.phase === 'prune')).toBe(true);
  });

  it('prunes a layer the sensitivity order wrongly put first', async () => {
    // Alone, x looks worst (0.02), but together it costs nothing (its error is masked); y is the real culprit.
    const e = {
      evaluate: async (q: Set<string>) => summary((q.has('y') ? 0.02 : 0) + (q.has('z') ? 0.001 : 0)),
    };
    const r = await searchFallback(['x', 'y', 'z'], [{ node: 'x', alone: summary(0.02) }, { node: 'y', alone: summary(0.019) }, { node: 'z', alone: summary(0.001) }], { iou_drift: 0.005 }, e.evaluate);
    expect(r.fallback).toEqual(['y']);
  });

  it('walks up past a k the binary search got wrong when the error is not monotone in k', async () => {
    // Falling back the 2 most sensitive meets the target, 3 does not (a masking pair), 4 does again.
    const order = ['a', 'b', 'c', 'd'];
    const e = {
      evaluate: async (q: Set<string>) => {
        const float = order.filter((n) => !q.has(n)).length;
        return summary(float === 0 ? 0.05 : float === 1 ? 0.03 : float === 2 ? 0.004 : float === 3 ? 0.02 : 0);
      },
    };
    const r = await searchFallback(order, order.map((node, i) => ({ node, alone: summary(0.05 - i * 0.01) })), { iou_drift: 0.005 }, e.evaluate);
    expect(r.meets).toBe(true);
    expect(r.final.iou_drift).toBeLessThan(0.005);
  });

  it('reports when nothing meets the target, not even all in FP32 (a QAT model whose float weights moved)', async () => {
    const r = await searchFallback(['a'], [{ node: 'a', alone: summary(0.02) }], { iou_drift: 0.005 }, async () => summary(0.02));
    expect(r.meets).toBe(false);
    expect(r.fallback).toEqual(['a']);
  });

  it('judges match rate and class agreement too, as the equivalence step does', () => {
    expect(meetsTarget({ ...summary(0.001), match_rate: 0.89 }, { iou_drift: 0.005, min_match_rate: 0.9 })).toBe(false);
    expect(meetsTarget({ ...summary(0.001), class_agreement: 0.96 }, { iou_drift: 0.005, min_class_agreement: 0.97 })).toBe(false);
    expect(meetsTarget(summary(0.005), { iou_drift: 0.005 })).toBe(false); // strict, like the judge
  });
});
