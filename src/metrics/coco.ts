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
 */

import { STAT_NAMES, type StatName } from '../schema/coco-stats.js';

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

/** Ground truth in columns, bucketed by (category index, image index) in file order. */
export interface CocoGtIndex {
  imgIds: Float64Array;
  catIds: Float64Array;
  catNames: string[];
  /** bucket b = c * nImg + i holds annotations gtStart[b] .. gtStart[b + 1] - 1 */
  gtStart: Int32Array;
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  area: Float64Array;
  crowd: Uint8Array;
  id: Float64Array;
  /** Position of each bucketed annotation in the input annotations array. */
  source: Int32Array;
}

/** Detections in columns, bucketed like the ground truth, in results-file order. */
export interface CocoDtIndex {
  dtStart: Int32Array;
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  score: Float64Array;
  /** Position in the results list (pycocotools's id is this + 1). */
  source: Int32Array;
}

export interface CocoEvalResult {
  /** precision[t][r][k][a][m] flattened in C order, -1 where undefined. */
  precision: Float64Array;
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

/**
 * numpy's pairwise summation (umath loops, PW_BLOCKSIZE 128) of a[start .. start + n).
 */
function pairwiseSum(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = [a[start], a[start + 1], a[start + 2], a[start + 3], a[start + 4], a[start + 5], a[start + 6], a[start + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      r[0] += a[start + i];
      r[1] += a[start + i + 1];
      r[2] += a[start + i + 2];
      r[3] += a[start + i + 3];
      r[4] += a[start + i + 4];
      r[5] += a[start + i + 5];
      r[6] += a[start + i + 6];
      r[7] += a[start + i + 7];
    }
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** np.mean of a 1-D float64 array: reduce in buffers of 8192, pairwise within each. */
export function numpyMean(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  let total = 0;
  for (let off = 0; off < n; off += 8192) total += pairwiseSum(values, off, Math.min(8192, n - off));
  return total / n;
}

/** mean(x[x > -1]) or -1 when nothing qualifies (pycocotools _summarize). */
function meanDefined(values: number[]): number {
  const kept = values.filter((v) => v > -1);
  return kept.length === 0 ? -1 : numpyMean(kept);
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

export function evaluateCoco(gt: CocoGtIndex, dt: CocoDtIndex): CocoEvalResult {
  const nImg = gt.imgIds.length;
  const K = gt.catIds.length;
  const nBuckets = K * nImg;
  const G = gt.x.length;

  // ---- slots: the kept detections (top 100 per bucket, score order), category by category --
  const catSlotStart = new Int32Array(K + 1);
  const bucketSlotStart = new Int32Array(nBuckets + 1);
  let slots = 0;
  for (let b = 0; b < nBuckets; b++) {
    if (b % nImg === 0) catSlotStart[b / nImg] = slots;
    bucketSlotStart[b] = slots;
    slots += Math.min(100, dt.dtStart[b + 1] - dt.dtStart[b]);
  }
  bucketSlotStart[nBuckets] = slots;
  catSlotStart[K] = slots;
  const N = slots;
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

  for (let c = 0; c < K; c++) {
    for (let i = 0; i < nImg; i++) {
      const b = c * nImg + i;
      const g0 = gt.gtStart[b];
      const nG = gt.gtStart[b + 1] - g0;
      const d0 = dt.dtStart[b];
      const s0 = bucketSlotStart[b];
      const nD = bucketSlotStart[b + 1] - s0;
      if (nG === 0 && nD === 0) continue;

      const order = orderByScore(dt.score, d0, dt.dtStart[b + 1]);
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
    }
  }

  // ---- accumulate ---------------------------------------------------------------------------
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  let rc = new Float64Array(1024);
  let pr = new Float64Array(1024);
  let list = new Int32Array(1024);
  for (let c = 0; c < K; c++) {
    const lo = catSlotStart[c];
    const hi = catSlotStart[c + 1];
    // Concatenation in image order, then a stable sort by descending score.
    const order = orderByScore(slotScore, lo, hi);
    if (order.length > list.length) {
      list = new Int32Array(order.length * 2);
      rc = new Float64Array(order.length * 2);
      pr = new Float64Array(order.length * 2);
    }
    for (let m = 0; m < M; m++) {
      const maxDet = MAX_DETS[m];
      let nList = 0;
      for (let j = 0; j < order.length; j++) if (slotRank[order[j]] < maxDet) list[nList++] = order[j];
      for (let a = 0; a < A; a++) {
        const np = npig[c * A + a];
        if (np === 0) continue;
        for (let t = 0; t < T; t++) {
          const base = (a * T + t) * N;
          // Ignored detections change neither tp nor fp: their points repeat the previous one
          // and cannot change the interpolated precision, so they are left out.
          let tp = 0;
          let fp = 0;
          let nd = 0;
          for (let j = 0; j < nList; j++) {
            const cd = code[base + list[j]];
            if (cd === 0) continue;
            if (cd === 1) tp++;
            else fp++;
            rc[nd] = tp / np;
            pr[nd] = tp / (fp + tp + EPS);
            nd++;
          }
          recall[((t * K + c) * A + a) * M + m] = nd ? rc[nd - 1] : 0;
          for (let j = nd - 1; j > 0; j--) if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
          let p = 0;
          const pBase = t * R * K * A * M + c * A * M + a * M + m;
          for (let r = 0; r < R; r++) {
            const thr = RECALL_THRESHOLDS[r];
            while (p < nd && rc[p] < thr) p++;
            precision[pBase + r * K * A * M] = p < nd ? pr[p] : 0;
          }
        }
      }
    }
  }

  // ---- summarize ----------------------------------------------------------------------------
  const pAt = (t: number, r: number, k: number, a: number, m: number) => precision[(((t * R + r) * K + k) * A + a) * M + m];
  const rAt = (t: number, k: number, a: number, m: number) => recall[((t * K + k) * A + a) * M + m];
  const ap = (a: number, m: number, t?: number) => {
    const v: number[] = [];
    for (let ti = 0; ti < T; ti++) {
      if (t !== undefined && ti !== t) continue;
      for (let r = 0; r < R; r++) for (let k = 0; k < K; k++) v.push(pAt(ti, r, k, a, m));
    }
    return meanDefined(v);
  };
  const ar = (a: number, m: number) => {
    const v: number[] = [];
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) v.push(rAt(t, k, a, m));
    return meanDefined(v);
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
  const perCategory = Array.from(gt.catIds, (id, k) => {
    const all: number[] = [];
    const at = (t: number) => Array.from({ length: R }, (_, r) => pAt(t, r, k, 0, 2));
    for (let t = 0; t < T; t++) all.push(...at(t));
    return {
      category_id: id,
      name: gt.catNames[k],
      ap: meanDefined(all),
      ap50: meanDefined(at(0)),
      ap75: meanDefined(at(5)),
      ar100: meanDefined(Array.from({ length: T }, (_, t) => rAt(t, k, 0, 2))),
    };
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
