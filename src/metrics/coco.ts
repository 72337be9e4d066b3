/**
 * COCO bbox evaluation with the exact numbers of pycocotools 2.0.11 (COCOeval, iouType bbox):
 * evaluate() + accumulate() + summarize(), every quirk of ../shared/reference/coco/README.md
 * reproduced (ignore = iscrowd, the maxDets cut per image and category, stable sorts, numpy's
 * linspace thresholds and pairwise summation, the +eps in precision). Pure: indexed data in,
 * arrays out; src/metrics/coco-load.ts validates and indexes the JSON.
 *
 * Speed: everything lives in typed arrays. IoUs are computed once per image and category (they
 * do not depend on the area range); matching is done per area range and IoU threshold over
 * at most 100 detections; accumulation sorts each category's detections once and reuses that
 * order for every area range, maxDets and threshold.
 *
 * Memory: O(annotations + detections + images + categories). Only the (category, image) pairs
 * that hold a GT or a detection are visited (a merge of both, sorted by category then image),
 * never the categories x images grid; precision curves are stored as runs and only where
 * defined (CocoPrecision), and the summary's means are streamed. A 60,000 x 60,000 file costs
 * what its annotations cost.
 */

import { STAT_NAMES, type StatName } from '../schema/coco-stats.js';
import { pairwiseSum } from './numpy-sum.js';

export { STAT_NAMES, type StatName };

/** np.linspace(start, stop, num): element i is i*step + start, the last one set to stop. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

export const IOU_THRESHOLDS = linspace(0.5, 0.95, 10);
export const RECALL_THRESHOLDS = linspace(0, 1, 101);
/** all, small, medium, large; closed on both ends. */
export const AREA_RANGES: readonly [number, number][] = [
  [0, 1e10],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e10],
];
export const AREA_NAMES = ['all', 'small', 'medium', 'large'] as const;
export const MAX_DETS = [1, 10, 100] as const;
const T = 10;
const R = 101;
const A = 4;
const M = 3;
const EPS = 2.220446049250313e-16; // np.spacing(1)

/**
 * Ground truth in columns, ordered by (category index, image index), file order within: the
 * annotations of category c are catStart[c] .. catStart[c + 1] - 1, those of one (category,
 * image) pair are contiguous among them. Only pairs that hold an annotation take room, so the
 * index is O(annotations + images + categories), never categories x images.
 */
export interface CocoGtIndex {
  imgIds: Float64Array;
  catIds: Float64Array;
  catNames: string[];
  /** K + 1 offsets: category c's annotations are catStart[c] .. catStart[c + 1] - 1. */
  catStart: Int32Array;
  /** The image index of each ordered annotation (non-decreasing within a category). */
  img: Int32Array;
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  area: Float64Array;
  crowd: Uint8Array;
  id: Float64Array;
  /** Position of each ordered annotation in the input annotations array. */
  source: Int32Array;
}

/** Detections in columns, ordered like the ground truth (category, image), results-file order within. */
export interface CocoDtIndex {
  /** K + 1 offsets: category c's detections are catStart[c] .. catStart[c + 1] - 1. */
  catStart: Int32Array;
  /** The image index of each ordered detection (non-decreasing within a category). */
  img: Int32Array;
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  score: Float64Array;
  /** Position in the results list (pycocotools's id is this + 1). */
  source: Int32Array;
}

/**
 * pycocotools's precision[t][r][k][a][m] (shape [10, 101, K, 4, 3]) without its dense array:
 * for one (t, k, a, m) the 101 values are non-increasing in r, so they are kept as runs of equal
 * values, and only for categories with non-ignored GT in area range a (the rest are -1). That is
 * at most min(101, detections + 1) runs per curve: a category with one object costs a few
 * hundred bytes instead of the dense array's 97 KB (60,000 categories: 5.8 GB).
 */
export class CocoPrecision {
  /** The index of each (category, area range) pair with curves, pairOf[k * A + a], or -1. */
  private readonly pairOf: Int32Array;
  /** Runs of curve (pair * M + m) * T + t are runStart[c] .. runStart[c + 1] - 1. */
  private readonly runStart: Int32Array;
  /** Exclusive end (in r) of each run; a curve's last run ends at 101. */
  private readonly runEnd: Uint8Array;
  private readonly runValue: Float64Array;

  constructor(
    readonly categories: number,
    pairOf: Int32Array,
    runStart: Int32Array,
    runEnd: Uint8Array,
    runValue: Float64Array,
  ) {
    this.pairOf = pairOf;
    this.runStart = runStart;
    this.runEnd = runEnd;
    this.runValue = runValue;
  }

  /** The curve's index, or -1 where precision[t, :, k, a, m] is -1 everywhere. */
  private curveIndex(t: number, k: number, a: number, m: number): number {
    const pair = this.pairOf[k * A + a];
    return pair < 0 ? -1 : (pair * M + m) * T + t;
  }

  /** Whether category k has a curve (non-ignored GT) in area range a. */
  defined(k: number, a: number): boolean {
    return this.pairOf[k * A + a] >= 0;
  }

  /** precision[t][r][k][a][m]: -1 where the category has no non-ignored GT in the area range. */
  at(t: number, r: number, k: number, a: number, m: number): number {
    const c = this.curveIndex(t, k, a, m);
    if (c < 0) return -1;
    for (let j = this.runStart[c]; j < this.runStart[c + 1]; j++) if (r < this.runEnd[j]) return this.runValue[j];
    return -1;
  }

  /** precision[t, :, k, a, m] (101 values), or undefined where it is -1 everywhere. */
  curve(t: number, k: number, a: number, m: number): Float64Array | undefined {
    const out = new Float64Array(R);
    return this.writeCurve(t, k, a, m, out, 0) ? out : undefined;
  }

  /** Writes precision[t, :, k, a, m] into out[offset ..]; false (nothing written) where undefined. */
  writeCurve(t: number, k: number, a: number, m: number, out: Float64Array, offset: number): boolean {
    const c = this.curveIndex(t, k, a, m);
    if (c < 0) return false;
    let r = 0;
    const lo = this.runStart[c];
    const hi = this.runStart[c + 1];
    for (let j = lo; j < hi; j++) for (const end = this.runEnd[j], v = this.runValue[j]; r < end; r++) out[offset + r] = v;
    return true;
  }

  /**
   * Feeds the defined values of precision[t0..t1][:][:][a][m] to `sink` in C order (t, then r,
   * then k), as pycocotools's summarize flattens them: the values np.mean(p[p > -1]) sees.
   */
  feedDefined(a: number, m: number, t0: number, t1: number, sink: { addAll(values: Float64Array): void }): void {
    let n = 0;
    for (let k = 0; k < this.categories; k++) if (this.defined(k, a)) n++;
    const ks = new Int32Array(n);
    n = 0;
    for (let k = 0; k < this.categories; k++) if (this.defined(k, a)) ks[n++] = k;
    // Per threshold, the n curves' runs are gathered side by side first: the sweep over r then
    // reads memory in order instead of jumping between categories 101 times.
    const cursor = new Int32Array(n);
    const row = new Float64Array(n);
    let end = new Uint8Array(n * 2);
    let value = new Float64Array(n * 2);
    for (let t = t0; t <= t1; t++) {
      let total = 0;
      for (let j = 0; j < n; j++) {
        const c = this.curveIndex(t, ks[j], a, m);
        total += this.runStart[c + 1] - this.runStart[c];
      }
      if (total > end.length) {
        end = new Uint8Array(total);
        value = new Float64Array(total);
      }
      let q = 0;
      for (let j = 0; j < n; j++) {
        const c = this.curveIndex(t, ks[j], a, m);
        cursor[j] = q;
        for (let i = this.runStart[c]; i < this.runStart[c + 1]; i++) {
          end[q] = this.runEnd[i];
          value[q] = this.runValue[i];
          q++;
        }
      }
      for (let r = 0; r < R; r++) {
        for (let j = 0; j < n; j++) {
          let i = cursor[j];
          if (end[i] <= r) {
            do i++;
            while (end[i] <= r);
            cursor[j] = i;
          }
          row[j] = value[i];
        }
        sink.addAll(row);
      }
    }
  }
}

export interface CocoEvalResult {
  /** precision[t][r][k][a][m], -1 where undefined: see `CocoPrecision`. */
  precision: CocoPrecision;
  /** recall[t][k][a][m] flattened in C order, -1 where undefined. */
  recall: Float64Array;
  stats: Record<StatName, number>;
  perCategory: { category_id: number; name: string; ap: number; ap50: number; ap75: number; ar100: number }[];
  /** Per-detection match codes, for per-object outcomes: see `CocoMatches`. */
  matches: CocoMatches;
  counts: { images: number; categories: number; detectionsKept: number };
}

/**
 * What evaluate() decided for each kept detection (top 100 per image and category), in
 * accumulation order within each category: `slotDet[s]` is the detection (index into the
 * CocoDtIndex arrays), and for area range a and threshold t, `code[(a * T + t) * N + s]` is
 * 0 ignored, 1 true positive, 2 false positive, and `matchedGt[t * N + s]` (area "all") the
 * matched annotation (index into the CocoGtIndex arrays) or -1.
 */
export interface CocoMatches {
  slots: number;
  catSlotStart: Int32Array;
  slotDet: Int32Array;
  /** The image index of each slot. */
  slotImage: Int32Array;
  slotRank: Uint8Array;
  code: Uint8Array;
  matchedGt: Int32Array;
  /** For area "all" and each threshold: gtMatchedBy[t * G + g] = slot or -1. */
  gtMatchedBy: Int32Array;
  /** Non-ignored GT count per category and area range: npig[c * A + a]. */
  npig: Int32Array;
}

const MEAN_BUFFER = 8192;

/** np.mean of a 1-D float64 array: reduce in buffers of 8192, pairwise within each. */
export function numpyMean(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  let total = 0;
  for (let off = 0; off < n; off += MEAN_BUFFER) total += pairwiseSum(values, off, Math.min(MEAN_BUFFER, n - off));
  return total / n;
}

/**
 * np.mean over values fed one at a time, in the same buffers of 8192 as numpyMean, so the
 * result is the same double without holding the whole array: the summary's means run over
 * 10 x 101 x K values.
 */
class StreamingMean {
  private readonly buf = new Float64Array(MEAN_BUFFER);
  private fill = 0;
  private total = 0;
  private n = 0;

  /** Starts over (the buffer is reused). */
  reset(): this {
    this.fill = 0;
    this.total = 0;
    this.n = 0;
    return this;
  }

  add(v: number): void {
    this.buf[this.fill++] = v;
    this.n++;
    if (this.fill === MEAN_BUFFER) {
      this.total += pairwiseSum(this.buf, 0, MEAN_BUFFER);
      this.fill = 0;
    }
  }

  /** add() of each value of `values`, in order. */
  addAll(values: Float64Array): void {
    let from = 0;
    while (from < values.length) {
      const take = Math.min(MEAN_BUFFER - this.fill, values.length - from);
      this.buf.set(values.subarray(from, from + take), this.fill);
      this.fill += take;
      this.n += take;
      from += take;
      if (this.fill === MEAN_BUFFER) {
        this.total += pairwiseSum(this.buf, 0, MEAN_BUFFER);
        this.fill = 0;
      }
    }
  }

  /** The mean, or -1 when nothing was added (pycocotools _summarize's "no value" marker). */
  meanOrMinusOne(): number {
    if (this.n === 0) return -1;
    return (this.total + pairwiseSum(this.buf, 0, this.fill)) / this.n;
  }
}

/** Stable order of indices [lo, hi) by descending score (ties keep index order). */
function orderByScore(score: Float64Array, lo: number, hi: number): Int32Array {
  const n = hi - lo;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = lo + i;
  if (n < 2) return idx;
  if (n <= 16) {
    for (let i = 1; i < n; i++) {
      const v = idx[i];
      const s = score[v];
      let j = i - 1;
      while (j >= 0 && score[idx[j]] < s) {
        idx[j + 1] = idx[j];
        j--;
      }
      idx[j + 1] = v;
    }
    return idx;
  }
  return idx.sort((p, q) => score[q] - score[p] || p - q);
}

/** The first r >= from with RECALL_THRESHOLDS[r] > x, or R (the thresholds ascend). */
function firstThresholdAbove(x: number, from: number): number {
  let lo = from;
  let hi = R;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (RECALL_THRESHOLDS[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A growable column of precision runs (the count is known only after accumulation). */
class RunColumn {
  end = new Uint8Array(1024);
  value = new Float64Array(1024);
  length = 0;

  push(end: number, value: number): void {
    if (this.length === this.end.length) {
      const e = new Uint8Array(this.length * 2);
      e.set(this.end);
      this.end = e;
      const v = new Float64Array(this.length * 2);
      v.set(this.value);
      this.value = v;
    }
    this.end[this.length] = end;
    this.value[this.length] = value;
    this.length++;
  }
}

export function evaluateCoco(gt: CocoGtIndex, dt: CocoDtIndex): CocoEvalResult {
  const nImg = gt.imgIds.length;
  const K = gt.catIds.length;
  const G = gt.x.length;

  // ---- slots: the kept detections (top 100 per (category, image) pair, score order) ---------
  // Pairs are visited category by category, images ascending (pycocotools's evalImgs order);
  // only pairs holding a GT or a detection exist.
  let slots = 0;
  for (let c = 0; c < K; c++) {
    const end = dt.catStart[c + 1];
    for (let d = dt.catStart[c]; d < end; ) {
      const i = dt.img[d];
      let e = d + 1;
      while (e < end && dt.img[e] === i) e++;
      slots += Math.min(100, e - d);
      d = e;
    }
  }
  const N = slots;
  const catSlotStart = new Int32Array(K + 1);
  const slotDet = new Int32Array(N);
  const slotRank = new Uint8Array(N);
  const slotImage = new Int32Array(N);
  const slotScore = new Float64Array(N);
  const code = new Uint8Array(A * T * N);
  const matchedGt = new Int32Array(T * N).fill(-1);
  const gtMatchedBy = new Int32Array(T * G).fill(-1);
  const npig = new Int32Array(K * A);

  const thresholds = Array.from(IOU_THRESHOLDS, (t) => Math.min(t, 1 - 1e-10));
  let iouBuf = new Float64Array(1024);
  let gtOrder = new Int32Array(64);
  let gIgSorted = new Uint8Array(64);
  let gtTaken = new Uint8Array(64);

  let s0 = 0;
  for (let c = 0; c < K; c++) {
    catSlotStart[c] = s0;
    let gNext = gt.catStart[c];
    const gEnd = gt.catStart[c + 1];
    let dNext = dt.catStart[c];
    const dEnd = dt.catStart[c + 1];
    // Merge the category's GT and detections by image: one step per (category, image) pair.
    while (gNext < gEnd || dNext < dEnd) {
      const i = Math.min(gNext < gEnd ? gt.img[gNext] : nImg, dNext < dEnd ? dt.img[dNext] : nImg);
      const g0 = gNext;
      while (gNext < gEnd && gt.img[gNext] === i) gNext++;
      const nG = gNext - g0;
      const d0 = dNext;
      while (dNext < dEnd && dt.img[dNext] === i) dNext++;
      const nD = Math.min(100, dNext - d0);

      const order = orderByScore(dt.score, d0, dNext);
      for (let d = 0; d < nD; d++) {
        slotDet[s0 + d] = order[d];
        slotRank[s0 + d] = d;
        slotImage[s0 + d] = i;
        slotScore[s0 + d] = dt.score[order[d]];
      }

      // IoU of each kept detection with each GT (original GT order), as pycocotools' bbIou.
      if (nD * nG > iouBuf.length) iouBuf = new Float64Array(nD * nG * 2);
      for (let d = 0; d < nD; d++) {
        const k = order[d];
        const dx = dt.x[k];
        const dy = dt.y[k];
        const dw = dt.w[k];
        const dh = dt.h[k];
        const da = dw * dh;
        for (let g = 0; g < nG; g++) {
          const q = g0 + g;
          const gx = gt.x[q];
          const gy = gt.y[q];
          const gw = gt.w[q];
          const gh = gt.h[q];
          let v = 0;
          const iw = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
          if (iw > 0) {
            const ih = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
            if (ih > 0) {
              const inter = iw * ih;
              const u = gt.crowd[q] ? da : da + gw * gh - inter;
              v = inter / u;
            }
          }
          iouBuf[d * nG + g] = v;
        }
      }

      if (nG > gtOrder.length) {
        gtOrder = new Int32Array(nG * 2);
        gIgSorted = new Uint8Array(nG * 2);
        gtTaken = new Uint8Array(nG * 2);
      }
      for (let a = 0; a < A; a++) {
        const [lo, hi] = AREA_RANGES[a];
        // GTs stably reordered: non-ignored first.
        let n = 0;
        for (let g = 0; g < nG; g++) {
          const q = g0 + g;
          if (!(gt.crowd[q] || gt.area[q] < lo || gt.area[q] > hi)) {
            gtOrder[n] = g;
            gIgSorted[n] = 0;
            n++;
          }
        }
        npig[c * A + a] += n;
        for (let g = 0; g < nG; g++) {
          const q = g0 + g;
          if (gt.crowd[q] || gt.area[q] < lo || gt.area[q] > hi) {
            gtOrder[n] = g;
            gIgSorted[n] = 1;
            n++;
          }
        }
        for (let t = 0; t < T; t++) {
          gtTaken.fill(0, 0, nG);
          const base = (a * T + t) * N + s0;
          for (let d = 0; d < nD; d++) {
            let best = thresholds[t];
            let m = -1;
            const row = d * nG;
            for (let gi = 0; gi < nG; gi++) {
              const g = gtOrder[gi];
              if (gtTaken[gi] && !gt.crowd[g0 + g]) continue;
              if (m > -1 && gIgSorted[m] === 0 && gIgSorted[gi] === 1) break;
              const v = iouBuf[row + g];
              if (v < best) continue;
              best = v;
              m = gi;
            }
            const k = order[d];
            const outside = dt.w[k] * dt.h[k] < lo || dt.w[k] * dt.h[k] > hi;
            if (m === -1) {
              code[base + d] = outside ? 0 : 2;
              continue;
            }
            gtTaken[m] = 1;
            const q = g0 + gtOrder[m];
            // pycocotools stores the GT id in dtMatches and tests it for truth: id 0 reads as unmatched.
            const truthy = gt.id[q] !== 0;
            const ignored = gIgSorted[m] === 1 || (!truthy && outside);
            code[base + d] = ignored ? 0 : truthy ? 1 : 2;
            if (a === 0) {
              matchedGt[t * N + s0 + d] = q;
              gtMatchedBy[t * G + q] = s0 + d;
            }
          }
        }
      }
      s0 += nD;
    }
  }
  catSlotStart[K] = s0;

  // ---- accumulate ---------------------------------------------------------------------------
  // Curves only for (category, area range) pairs with non-ignored GT, in the order
  // CocoPrecision indexes them: pair (category, then area range), maxDets, threshold.
  const pairOf = new Int32Array(K * A).fill(-1);
  let pairs = 0;
  for (let j = 0; j < K * A; j++) if (npig[j] > 0) pairOf[j] = pairs++;
  const runStart = new Int32Array(pairs * M * T + 1);
  let curves = 0;
  const runs = new RunColumn();
  const recall = new Float64Array(T * K * A * M).fill(-1);
  let rc = new Float64Array(1024);
  let pr = new Float64Array(1024);
  // The category's slots in accumulation order, cut at each maxDets: lists[m * L ..] of listLength[m].
  let lists = new Int32Array(3 * 1024);
  const listLength = new Int32Array(M);
  for (let c = 0; c < K; c++) {
    let hasGt = false;
    for (let a = 0; a < A; a++) if (npig[c * A + a] > 0) hasGt = true;
    if (!hasGt) continue; // every value of the category is -1
    // Concatenation in image order, then a stable sort by descending score.
    const order = orderByScore(slotScore, catSlotStart[c], catSlotStart[c + 1]);
    const L = order.length;
    if (M * L > lists.length) {
      lists = new Int32Array(M * L * 2);
      rc = new Float64Array(L * 2);
      pr = new Float64Array(L * 2);
    }
    for (let m = 0; m < M; m++) {
      const maxDet = MAX_DETS[m];
      let n = 0;
      for (let j = 0; j < L; j++) if (slotRank[order[j]] < maxDet) lists[m * L + n++] = order[j];
      listLength[m] = n;
    }
    for (let a = 0; a < A; a++) {
      const np = npig[c * A + a];
      if (np === 0) continue;
      for (let m = 0; m < M; m++) {
        const list0 = m * L;
        const nList = listLength[m];
        for (let t = 0; t < T; t++) {
          const base = (a * T + t) * N;
          // Ignored detections change neither tp nor fp: their points repeat the previous one
          // and cannot change the interpolated precision, so they are left out.
          let tp = 0;
          let fp = 0;
          let nd = 0;
          for (let j = 0; j < nList; j++) {
            const cd = code[base + lists[list0 + j]];
            if (cd === 0) continue;
            if (cd === 1) tp++;
            else fp++;
            rc[nd] = tp / np;
            pr[nd] = tp / (fp + tp + EPS);
            nd++;
          }
          recall[((t * K + c) * A + a) * M + m] = nd ? rc[nd - 1] : 0;
          for (let j = nd - 1; j > 0; j--) if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
          // precision at recall threshold r: pr at the first point with rc >= r, else 0. It is
          // non-increasing in r: each run of equal values is stored once. Once the sweep reaches
          // the last point the rest is known: pr[nd - 1] while r <= rc[nd - 1], then 0.
          let p = 0;
          let r = 0;
          let open = -1; // the value of the run being extended
          for (; r < R; r++) {
            const thr = RECALL_THRESHOLDS[r];
            while (p < nd && rc[p] < thr) p++;
            if (p >= nd - 1) break;
            if (pr[p] !== open) {
              if (r > 0) runs.push(r, open);
              open = pr[p];
            }
          }
          if (r < R && p === nd - 1) {
            if (pr[p] !== open) {
              if (r > 0) runs.push(r, open);
              open = pr[p];
            }
            r = firstThresholdAbove(rc[p], r);
          }
          if (r < R && open !== 0) {
            if (r > 0) runs.push(r, open);
            open = 0;
          }
          runs.push(R, open);
          runStart[++curves] = runs.length;
        }
      }
    }
  }
  const precision = new CocoPrecision(K, pairOf, runStart, runs.end.slice(0, runs.length), runs.value.slice(0, runs.length));

  // ---- summarize ----------------------------------------------------------------------------
  // np.mean(p[p > -1]) over precision[t, :, :, a, m] flattened in C order, fed value by value.
  const mean = new StreamingMean();
  const ap = (a: number, m: number, t?: number) => {
    precision.feedDefined(a, m, t ?? 0, t ?? T - 1, mean.reset());
    return mean.meanOrMinusOne();
  };
  const ar = (a: number, m: number) => {
    mean.reset();
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < K; k++) {
        const v = recall[((t * K + k) * A + a) * M + m];
        if (v > -1) mean.add(v);
      }
    }
    return mean.meanOrMinusOne();
  };
  const stats: Record<StatName, number> = {
    AP: ap(0, 2),
    AP50: ap(0, 2, 0),
    AP75: ap(0, 2, 5),
    APs: ap(1, 2),
    APm: ap(2, 2),
    APl: ap(3, 2),
    AR1: ar(0, 0),
    AR10: ar(0, 1),
    AR100: ar(0, 2),
    ARs: ar(1, 2),
    ARm: ar(2, 2),
    ARl: ar(3, 2),
  };
  const all = new Float64Array(T * R);
  const recalls = new Float64Array(T);
  const perCategory = Array.from(gt.catIds, (id, k) => {
    const entry = { category_id: id, name: gt.catNames[k], ap: -1, ap50: -1, ap75: -1, ar100: -1 };
    // Without non-ignored GT in area "all" every value is -1; with it, every value is defined
    // (>= 0), so mean(x[x > -1]) is the plain mean.
    if (!precision.defined(k, 0)) return entry;
    for (let t = 0; t < T; t++) {
      precision.writeCurve(t, k, 0, 2, all, t * R);
      recalls[t] = recall[((t * K + k) * A + 0) * M + 2];
    }
    entry.ap = numpyMean(all);
    entry.ap50 = numpyMean(all.subarray(0, R));
    entry.ap75 = numpyMean(all.subarray(5 * R, 6 * R));
    entry.ar100 = numpyMean(recalls);
    return entry;
  });
  return {
    precision,
    recall,
    stats,
    perCategory,
    matches: { slots: N, catSlotStart, slotDet, slotImage, slotRank, code, matchedGt, gtMatchedBy, npig },
    counts: { images: nImg, categories: K, detectionsKept: N },
  };
}

/**
 * Python's '{:0.Nf}'.format(x): rounds the exact binary value, ties to even. JS toFixed breaks
 * exact ties upwards (0.0625 -> "0.063" where Python prints "0.062").
 */
export function formatFixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  const scaled = x * 10 ** digits;
  if (Number.isFinite(scaled) && Math.abs(scaled) < 2 ** 52 && scaled - Math.trunc(scaled) !== 0 && Math.abs(scaled - Math.trunc(scaled)) === 0.5) {
    const down = Math.trunc(scaled);
    const even = down % 2 === 0 ? down : down + Math.sign(scaled);
    return (even / 10 ** digits).toFixed(digits);
  }
  return s;
}

/** pycocotools's 12 summary lines, e.g.
 * " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.203" */
export function summaryLines(stats: Record<StatName, number>): string[] {
  const rows: [string, string, string, number][] = [
    ['AP', '0.50:0.95', 'all', 100],
    ['AP', '0.50', 'all', 100],
    ['AP', '0.75', 'all', 100],
    ['AP', '0.50:0.95', 'small', 100],
    ['AP', '0.50:0.95', 'medium', 100],
    ['AP', '0.50:0.95', 'large', 100],
    ['AR', '0.50:0.95', 'all', 1],
    ['AR', '0.50:0.95', 'all', 10],
    ['AR', '0.50:0.95', 'all', 100],
    ['AR', '0.50:0.95', 'small', 100],
    ['AR', '0.50:0.95', 'medium', 100],
    ['AR', '0.50:0.95', 'large', 100],
  ];
  return rows.map(([kind, iou, area, md], i) => {
    const title = kind === 'AP' ? 'Average Precision' : 'Average Recall';
    const value = stats[STAT_NAMES[i]];
    return ` ${title.padEnd(18)} (${kind}) @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(md).padStart(3)} ] = ${formatFixed(value, 3)}`;
  });
}
