/**
 * Which layers of an INT8 model fall back to float32: the smallest set the search finds that
 * brings the task-level error within the tolerance. Pure over an `evaluate` callback (which runs
 * the model with the given layers quantized and returns its task-level summary), so the search
 * is tested on its own and the variants step supplies the real measurement.
 *
 * 1. Sensitivity order: each layer quantized alone, its task-level effect measured (given).
 * 2. Fall back the most sensitive layers, as few as a binary search over "the k most sensitive"
 *    finds meeting the target (the error is not monotone in k in general, so the k found is then
 *    checked, and walked up one by one if the binary search landed on a k that fails).
 * 3. Prune: each fallen-back layer, least sensitive first, is quantized again if the model still
 *    meets the target without it in float32. What is left is a set from which no single layer
 *    can be quantized again: minimal one layer at a time (not a global minimum, which would need
 *    2^n evaluations).
 */

export interface TaskSummary {
  iou_drift: number;
  match_rate: number;
  class_agreement: number;
  matched: number;
}

export interface Int8Target {
  iou_drift: number;
  min_match_rate?: number;
  min_class_agreement?: number;
}

export interface LayerSensitivity {
  node: string;
  /** Task-level summary with only this layer quantized. */
  alone: TaskSummary;
}

/** One evaluation the search made: the float32 layers and what the model did. */
export interface SearchStep {
  phase: 'all-int8' | 'fallback' | 'prune';
  float: string[];
  task: TaskSummary;
  meets: boolean;
}

export interface FallbackResult {
  /** Layers left in float32, in sensitivity order. */
  fallback: string[];
  /** Whether the final model meets the target on the search's inputs. */
  meets: boolean;
  steps: SearchStep[];
  final: TaskSummary;
}

/** Whether a task summary meets the target. Bounds are strict for drift, as the equivalence judge is. */
export function meetsTarget(t: TaskSummary, target: Int8Target): boolean {
  return t.iou_drift < target.iou_drift && (target.min_match_rate === undefined || t.match_rate >= target.min_match_rate) && (target.min_class_agreement === undefined || t.class_agreement >= target.min_class_agreement);
}

/** Layers from most to least sensitive: larger drift first, then lower match rate, then graph order. */
export function sensitivityOrder(layers: LayerSensitivity[]): string[] {
  return layers
    .map((l, i) => ({ l, i }))
    .sort((a, b) => b.l.alone.iou_drift - a.l.alone.iou_drift || a.l.alone.match_rate - b.l.alone.match_rate || a.i - b.i)
    .map(({ l }) => l.node);
}

/**
 * The fallback set. `evaluate(quantized)` measures the model with exactly those layers in INT8;
 * `all` is every layer in graph order.
 */
export async function searchFallback(all: string[], sensitivity: LayerSensitivity[], target: Int8Target, evaluate: (quantized: Set<string>) => Promise<TaskSummary>): Promise<FallbackResult> {
  const order = sensitivityOrder(sensitivity);
  const steps: SearchStep[] = [];
  const cache = new Map<string, TaskSummary>();
  const run = async (float: Set<string>, phase: SearchStep['phase']) => {
    const key = [...float].sort().join('\n');
    let t = cache.get(key);
    if (!t) {
      t = await evaluate(new Set(all.filter((n) => !float.has(n))));
      cache.set(key, t);
      steps.push({ phase, float: order.filter((n) => float.has(n)), task: t, meets: meetsTarget(t, target) });
    }
    return t;
  };
  const firstK = (k: number) => new Set(order.slice(0, k));
  const allInt8 = await run(new Set(), 'all-int8');
  let k = 0;
  if (!meetsTarget(allInt8, target)) {
    // All float32 meets any target (it is the reference): the binary search is over 1..n.
    let lo = 1;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (meetsTarget(await run(firstK(mid), 'fallback'), target)) hi = mid;
      else lo = mid + 1;
    }
    k = lo;
    while (k < order.length && !meetsTarget(await run(firstK(k), 'fallback'), target)) k++;
  }
  const float = firstK(k);
  for (const node of [...float].reverse()) {
    const without = new Set([...float].filter((n) => n !== node));
    if (meetsTarget(await run(without, 'prune'), target)) float.delete(node);
  }
  const final = await run(float, 'prune');
  return { fallback: order.filter((n) => float.has(n)), meets: meetsTarget(final, target), steps, final };
}
