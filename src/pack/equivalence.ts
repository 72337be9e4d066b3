/**
 * Numerical equivalence of a model variant against the FP32 reference, pure:
 * - tensor level, per output: max abs, max rel, mean abs and p99 abs error, streamed batch by batch
 *   (p99 from a log-bucketed histogram: 100 buckets a decade, so within 2.3% of the exact value);
 * - task level: both sides decoded (peaks, NMS) and matched greedily by IoU (>= 0.5, best pairs
 *   first, any class): IoU drift (1 - mean IoU of matches), class agreement, score deltas,
 *   unmatched counts on each side.
 */
import { iouXywh, type Detection } from '../model/decode.js';

const DECADES_LO = -12;
const PER_DECADE = 100;
const BUCKETS = (3 - DECADES_LO) * PER_DECADE;

export interface TensorErrorStats {
  count: number;
  maxAbs: number;
  maxRel: number;
  sumAbs: number;
  zero: number;
  buckets: Float64Array;
}

export function newTensorStats(): TensorErrorStats {
  return { count: 0, maxAbs: 0, maxRel: 0, sumAbs: 0, zero: 0, buckets: new Float64Array(BUCKETS) };
}

/** Adds the element-wise errors of `b` against `a`. Relative error is |a-b| / max(|a|, relFloor). */
export function addTensorErrors(s: TensorErrorStats, a: Float32Array, b: Float32Array, relFloor = 1e-3): void {
  if (a.length !== b.length) throw new Error(`output sizes differ: ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) {
      s.maxAbs = Infinity;
      s.maxRel = Infinity;
      s.buckets[BUCKETS - 1]++;
      continue;
    }
    s.sumAbs += d;
    if (d > s.maxAbs) s.maxAbs = d;
    const r = d / Math.max(Math.abs(a[i]), relFloor);
    if (r > s.maxRel) s.maxRel = r;
    if (d === 0) s.zero++;
    else {
      let k = Math.floor((Math.log10(d) - DECADES_LO) * PER_DECADE);
      if (k < 0) k = 0;
      if (k >= BUCKETS) k = BUCKETS - 1;
      s.buckets[k]++;
    }
  }
  s.count += a.length;
}

/** The q-quantile of |error|: the upper edge of the bucket that holds it. */
export function errorQuantile(s: TensorErrorStats, q: number): number {
  const want = q * s.count;
  let acc = s.zero;
  if (acc >= want) return 0;
  for (let k = 0; k < BUCKETS; k++) {
    acc += s.buckets[k];
    if (acc >= want) return 10 ** ((k + 1) / PER_DECADE + DECADES_LO);
  }
  return s.maxAbs;
}

export function summarizeTensor(s: TensorErrorStats) {
  return { values: s.count, max_abs: s.maxAbs, max_rel: s.maxRel, mean_abs: s.count ? s.sumAbs / s.count : 0, p99_abs: errorQuantile(s, 0.99) };
}

export interface TaskStats {
  images: number;
  reference: number;
  variant: number;
  matched: number;
  sumIou: number;
  minIou: number;
  sameClass: number;
  sumScoreDelta: number;
  maxScoreDelta: number;
}

export const newTaskStats = (): TaskStats => ({ images: 0, reference: 0, variant: 0, matched: 0, sumIou: 0, minIou: 1, sameClass: 0, sumScoreDelta: 0, maxScoreDelta: 0 });

/** Matches one image's detections (greedy by IoU >= minIou, best pairs first) and adds them up. */
export function addTaskErrors(s: TaskStats, ref: Detection[], got: Detection[], minIou = 0.5): void {
  s.images++;
  s.reference += ref.length;
  s.variant += got.length;
  const pairs: [number, number, number][] = [];
  for (let i = 0; i < ref.length; i++) for (let j = 0; j < got.length; j++) {
    const iou = iouXywh(ref[i].bbox, got[j].bbox);
    if (iou >= minIou) pairs.push([iou, i, j]);
  }
  pairs.sort((x, y) => y[0] - x[0] || x[1] - y[1] || x[2] - y[2]);
  const ri = new Set<number>();
  const gj = new Set<number>();
  for (const [iou, i, j] of pairs) {
    if (ri.has(i) || gj.has(j)) continue;
    ri.add(i);
    gj.add(j);
    s.matched++;
    s.sumIou += iou;
    if (iou < s.minIou) s.minIou = iou;
    if (ref[i].classIndex === got[j].classIndex) s.sameClass++;
    const d = Math.abs(ref[i].score - got[j].score);
    s.sumScoreDelta += d;
    if (d > s.maxScoreDelta) s.maxScoreDelta = d;
  }
}

export function summarizeTask(s: TaskStats) {
  const meanIou = s.matched ? s.sumIou / s.matched : 1;
  return {
    images: s.images,
    reference_detections: s.reference,
    variant_detections: s.variant,
    matched: s.matched,
    unmatched_reference: s.reference - s.matched,
    unmatched_variant: s.variant - s.matched,
    match_rate: Math.max(s.reference, s.variant) ? s.matched / Math.max(s.reference, s.variant) : 1,
    mean_iou: meanIou,
    iou_drift: 1 - meanIou,
    min_iou: s.matched ? s.minIou : 1,
    class_agreement: s.matched ? s.sameClass / s.matched : 1,
    mean_score_delta: s.matched ? s.sumScoreDelta / s.matched : 0,
    max_score_delta: s.maxScoreDelta,
  };
}

export interface Tolerances {
  /** Largest absolute output difference allowed (any output). */
  max_abs?: number;
  /** Largest IoU drift (1 - mean IoU of matched boxes), absolute. */
  iou_drift: number;
  /** Smallest share of detections matched between the two sides. */
  min_match_rate?: number;
  /** Smallest share of matches with the same class. */
  min_class_agreement?: number;
}

/** Default tolerances by variant kind; the recipe overrides any of them. */
export const DEFAULT_TOLERANCES: Record<'fp32' | 'fp16' | 'int8', Tolerances> = {
  // The defaults: logits within 1e-3 for an FP32 export, bbox IoU drift under 0.5%.
  fp32: { max_abs: 1e-3, iou_drift: 0.005, min_match_rate: 0.99, min_class_agreement: 0.99 },
  // Reduced precision: no element-wise bound by default (reported, not judged); the boxes must hold.
  fp16: { iou_drift: 0.005, min_match_rate: 0.97, min_class_agreement: 0.99 },
  int8: { iou_drift: 0.005, min_match_rate: 0.9, min_class_agreement: 0.97 },
};

/** The verdict and its rationale lines from the summaries and the tolerances. */
export function judge(outputs: Record<string, ReturnType<typeof summarizeTensor>>, task: ReturnType<typeof summarizeTask>, tol: Tolerances): { verdict: 'pass' | 'fail'; rationale: string[] } {
  const lines: string[] = [];
  let ok = true;
  const check = (pass: boolean, text: string) => {
    if (!pass) ok = false;
    lines.push(`${pass ? 'ok  ' : 'FAIL'} ${text}`);
  };
  if (tol.max_abs !== undefined) for (const [name, o] of Object.entries(outputs)) check(o.max_abs < tol.max_abs, `${name}: max |delta| ${o.max_abs.toExponential(2)} < ${tol.max_abs} (p99 ${o.p99_abs.toExponential(2)}, mean ${o.mean_abs.toExponential(2)})`);
  check(task.iou_drift < tol.iou_drift, `bbox IoU drift ${(task.iou_drift * 100).toFixed(3)}% < ${(tol.iou_drift * 100).toFixed(3)}% over ${task.matched} matched boxes`);
  if (tol.min_match_rate !== undefined) check(task.match_rate >= tol.min_match_rate, `boxes matched ${(task.match_rate * 100).toFixed(2)}% >= ${(tol.min_match_rate * 100).toFixed(2)}% (unmatched: ${task.unmatched_reference} reference, ${task.unmatched_variant} variant)`);
  if (tol.min_class_agreement !== undefined) check(task.class_agreement >= tol.min_class_agreement, `class agreement ${(task.class_agreement * 100).toFixed(2)}% >= ${(tol.min_class_agreement * 100).toFixed(2)}%`);
  return { verdict: ok ? 'pass' : 'fail', rationale: lines };
}
