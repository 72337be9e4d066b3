/**
 * Scene-level (cluster) bootstrap for detection metrics, reusing the per-image match results of
 * one COCO evaluation: a replicate draws scenes with replacement, gives each image the count of
 * its scene's draws as a weight, and redoes only the accumulation (weighted cumulative TP / FP
 * along the category's score order, computed once). The draws, intervals, bounds and p-values are
 * src/metrics/inference.ts's (clusterBootstrap with clusterWeightedAP as the statistic); this file
 * is only the AP of a draw.
 *
 * Weighted accumulation counts a detection of an image drawn w times as w detections at the same
 * score, adjacent in the ranking: exactly the evaluation of a data set holding the image w times
 * with the copies side by side (test/metrics/bootstrap.test.ts checks this against evaluateCoco),
 * except that equal-scored detections of one image are ranked copy by copy (a, a', b, b') where
 * such a data set would rank them image by image (a, b, a', b').
 */
import { seededRandom } from '../files/prng.js';
import { drawClusters } from './inference.js';

import { IOU_THRESHOLDS, RECALL_THRESHOLDS, type CocoEvalResult, type CocoGtIndex, type CocoDtIndex } from './coco.js';

const T = IOU_THRESHOLDS.length;
const R = RECALL_THRESHOLDS.length;
const EPS = 2.220446049250313e-16;

/**
 * What accumulation needs of one evaluation, restricted to a subset of images and categories:
 * for each category, its kept detections (area all, 100 per image) in score order with their
 * image and TP/FP codes per threshold, and non-ignored GT counts per image.
 */
export interface AccumulationData {
  categories: number[];
  /** Per category: slots in accumulation order. */
  order: Int32Array[];
  slotImage: Int32Array;
  code: Uint8Array;
  slots: number;
  /** Per category, sparse: the images holding its non-ignored GT (area all), ascending, and how many each. */
  npigImages: Int32Array[];
  npigCounts: Int32Array[];
  nImages: number;
}

export function accumulationData(gt: CocoGtIndex, dt: CocoDtIndex, r: CocoEvalResult, keepImage: (i: number) => boolean, keepCategory: (k: number) => boolean): AccumulationData {
  const nImg = gt.imgIds.length;
  const K = gt.catIds.length;
  const m = r.matches;
  const N = m.slots;
  const slotImage = m.slotImage;
  const score = new Float64Array(N);
  for (let s = 0; s < N; s++) score[s] = dt.score[m.slotDet[s]];
  const categories: number[] = [];
  const order: Int32Array[] = [];
  const npigImages: Int32Array[] = [];
  const npigCounts: Int32Array[] = [];
  // Sparse per (category, image) pair: a dense count per image would cost categories x images.
  const counts = new Map<number, number>();
  for (let k = 0; k < K; k++) {
    if (!keepCategory(k)) continue;
    const idx: number[] = [];
    for (let s = m.catSlotStart[k]; s < m.catSlotStart[k + 1]; s++) if (keepImage(slotImage[s])) idx.push(s);
    idx.sort((a, b) => score[b] - score[a] || a - b);
    counts.clear();
    for (let q = gt.catStart[k]; q < gt.catStart[k + 1]; q++) if (!gt.crowd[q] && keepImage(gt.img[q])) counts.set(gt.img[q], (counts.get(gt.img[q]) ?? 0) + 1);
    const images = Int32Array.from(counts.keys()).sort();
    categories.push(k);
    order.push(Int32Array.from(idx));
    npigImages.push(images);
    npigCounts.push(images.map((i) => counts.get(i)!));
  }
  return { categories, order, slotImage, code: m.code, slots: N, npigImages, npigCounts, nImages: nImg };
}

/**
 * AP@[.5:.95] (area all, 100 detections) with per-image weights: the mean over categories with
 * ground truth and the 10 thresholds of the 101-point interpolated precision. With every weight 1
 * it is the plain mean (left-to-right sums, so it may differ from pycocotools's pairwise mean in
 * the last bits). Returns NaN when no category has ground truth.
 */
export function weightedAP(a: AccumulationData, weight: ArrayLike<number>, thresholds: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]): number {
  let total = 0;
  let count = 0;
  let rc = new Float64Array(256);
  let pr = new Float64Array(256);
  for (let c = 0; c < a.categories.length; c++) {
    let np = 0;
    const images = a.npigImages[c];
    const counts = a.npigCounts[c];
    // In ascending image order, as a dense loop over images would add them.
    for (let j = 0; j < images.length; j++) np += counts[j] * weight[images[j]];
    if (np === 0) continue;
    const order = a.order[c];
    if (order.length > rc.length) {
      rc = new Float64Array(order.length * 2);
      pr = new Float64Array(order.length * 2);
    }
    for (const t of thresholds) {
      const base = t * a.slots; // area "all" codes come first
      let tp = 0;
      let fp = 0;
      let nd = 0;
      for (let j = 0; j < order.length; j++) {
        const s = order[j];
        const w = weight[a.slotImage[s]];
        if (w === 0) continue;
        const code = a.code[base + s];
        if (code === 0) continue;
        if (nd + w > rc.length) {
          const grow = (x: Float64Array) => {
            const y = new Float64Array((nd + w) * 2);
            y.set(x.subarray(0, nd));
            return y;
          };
          rc = grow(rc);
          pr = grow(pr);
        }
        // Each of the w copies is its own point of the curve, as in a data set with the image w times.
        for (let copy = 0; copy < w; copy++) {
          if (code === 1) tp++;
          else fp++;
          rc[nd] = tp / np;
          pr[nd] = tp / (fp + tp + EPS);
          nd++;
        }
      }
      for (let j = nd - 1; j > 0; j--) if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
      let p = 0;
      let sum = 0;
      for (let ri = 0; ri < R; ri++) {
        while (p < nd && rc[p] < RECALL_THRESHOLDS[ri]) p++;
        sum += p < nd ? pr[p] : 0;
      }
      total += sum / R;
      count++;
    }
  }
  return count ? total / count : NaN;
}

/**
 * `weightedAP` prepared for cluster weights, for the bootstrap's inner loop: per category and
 * threshold, the non-ignored detections (kept images only) in accumulation order as (cluster,
 * TP or FP, multiplicity: consecutive detections of one cluster with one code merged), and per
 * category the non-ignored GT counted per cluster. `clusterWeightedAP` on a replicate's draw
 * counts returns exactly (bit for bit) `weightedAP` on the image weights the draw gives:
 *   - GT counts and FP counts are integer sums (exact in any order);
 *   - only TP copies are kept as curve points: an FP copy has the recall of the point before it
 *     (so the recall search never picks it) and a precision no higher (same TP count, larger
 *     denominator; rounding is monotone), so removing it changes no interpolated precision; a
 *     leading FP (no TP yet) has precision 0 and the next point takes its place with the same
 *     interpolated value (the maximum of all points);
 *   - consecutive TP copies (one entry drawn w times, no FP between) have the same fp and a
 *     rising tp, so their precisions tp / (fp + tp + EPS) do not fall (exactly they rise, and
 *     rounding is monotone), nor do their recalls tp / np: the first copy the recall search
 *     picks lies in the first group whose last copy reaches the threshold, and its interpolated
 *     precision is the last copy's. So each entry is one point, its last copy's tp, recall and
 *     precision, computed with the same operations as weightedAP.
 * bench/evaluate-bootstrap.ts checks the identity on the demo's evaluation.
 */
export interface ClusterAPData {
  /** Per category: GT per cluster, sparse (clusters ascending, counts). */
  gtClusters: Int32Array[];
  gtCounts: Int32Array[];
  /** Per category x threshold (category-major): entries' cluster, multiplicity (negative: FP). */
  entryCluster: Int32Array[];
  entryMult: Int32Array[];
  thresholds: number;
  /** Buffers of the curve's points (one per TP entry at most): precision and TP count. */
  pr: Float64Array;
  tpAt: Float64Array;
}

export function clusterAPData(a: AccumulationData, cluster: Int32Array, clusters: number, thresholds: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]): ClusterAPData {
  const gtClusters: Int32Array[] = [];
  const gtCounts: Int32Array[] = [];
  const entryCluster: Int32Array[] = [];
  const entryMult: Int32Array[] = [];
  let longest = 0;
  for (let c = 0; c < a.categories.length; c++) {
    const per = new Map<number, number>();
    const images = a.npigImages[c];
    for (let j = 0; j < images.length; j++) {
      const k = cluster[images[j]];
      if (k < 0) continue; // weight 0 in every replicate
      per.set(k, (per.get(k) ?? 0) + a.npigCounts[c][j]);
    }
    const ks = Int32Array.from(per.keys()).sort();
    gtClusters.push(ks);
    gtCounts.push(ks.map((k) => per.get(k)!));
    const order = a.order[c];
    for (const t of thresholds) {
      const base = t * a.slots;
      const cl: number[] = [];
      const mult: number[] = [];
      let tpEntries = 0;
      for (let j = 0; j < order.length; j++) {
        const s = order[j];
        const k = cluster[a.slotImage[s]];
        if (k < 0) continue;
        const code = a.code[base + s];
        if (code === 0) continue;
        const sign = code === 1 ? 1 : -1;
        const last = cl.length - 1;
        if (last >= 0 && cl[last] === k && Math.sign(mult[last]) === sign) mult[last] += sign;
        else {
          cl.push(k);
          mult.push(sign);
          if (sign > 0) tpEntries++;
        }
      }
      longest = Math.max(longest, tpEntries);
      entryCluster.push(Int32Array.from(cl));
      entryMult.push(Int32Array.from(mult));
    }
  }
  return { gtClusters, gtCounts, entryCluster, entryMult, thresholds: thresholds.length, pr: new Float64Array(Math.max(1, longest)), tpAt: new Float64Array(Math.max(1, longest)) };
}

/** `weightedAP` with each image weighted by its cluster's draw count (see clusterAPData). */
export function clusterWeightedAP(d: ClusterAPData, draws: ArrayLike<number>): number {
  let total = 0;
  let count = 0;
  const pr = d.pr;
  const tpAt = d.tpAt;
  const T = d.thresholds;
  for (let c = 0; c < d.gtClusters.length; c++) {
    let np = 0;
    const ks = d.gtClusters[c];
    const counts = d.gtCounts[c];
    for (let j = 0; j < ks.length; j++) np += counts[j] * draws[ks[j]];
    if (np === 0) continue;
    for (let t = 0; t < T; t++) {
      const cl = d.entryCluster[c * T + t];
      const mult = d.entryMult[c * T + t];
      let tp = 0;
      let fp = 0;
      let nd = 0;
      for (let j = 0; j < cl.length; j++) {
        const w = draws[cl[j]];
        if (w === 0) continue;
        const m = mult[j];
        if (m < 0) {
          fp += -m * w;
          continue;
        }
        // The m x w copies as one point: the last copy's (see clusterAPData).
        tp += m * w;
        pr[nd] = tp / (fp + tp + EPS);
        tpAt[nd] = tp;
        nd++;
      }
      for (let j = nd - 1; j > 0; j--) if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
      let p = 0;
      let sum = 0;
      for (let ri = 0; ri < R; ri++) {
        while (p < nd && tpAt[p] / np < RECALL_THRESHOLDS[ri]) p++;
        sum += p < nd ? pr[p] : 0;
      }
      total += sum / R;
      count++;
    }
  }
  return count ? total / count : NaN;
}

/** The replicates' cluster draw counts, seeded: the draws forEachReplicate turns into image weights. */
export function forEachDraw(clusters: number, replicates: number, seed: number, visit: (draws: Uint16Array, replicate: number) => void): void {
  const rand = seededRandom(seed);
  for (let b = 0; b < replicates; b++) visit(drawClusters(clusters, rand), b);
}

/** Maps each image to its cluster (scene) index; an empty scene name means "not in the sample" (-1). */
export function clusterIndex(sceneOfImage: readonly string[]): { cluster: Int32Array; clusters: number } {
  const ids = new Map<string, number>();
  const cluster = new Int32Array(sceneOfImage.length);
  sceneOfImage.forEach((s, i) => {
    if (s === '') {
      cluster[i] = -1;
      return;
    }
    let c = ids.get(s);
    if (c === undefined) {
      c = ids.size;
      ids.set(s, c);
    }
    cluster[i] = c;
  });
  return { cluster, clusters: ids.size };
}

/**
 * The replicates' image weights, one draw of the clusters after another (seeded): for statistics
 * that compute several values per replicate on the same draw (a candidate and its baseline).
 * The weights array is reused between calls.
 */
export function forEachReplicate(cluster: Int32Array, clusters: number, replicates: number, seed: number, visit: (weights: Float64Array, replicate: number) => void): void {
  const rand = seededRandom(seed);
  const w = new Float64Array(cluster.length);
  for (let b = 0; b < replicates; b++) {
    const draws = drawClusters(clusters, rand);
    for (let i = 0; i < cluster.length; i++) w[i] = cluster[i] < 0 ? 0 : draws[cluster[i]];
    visit(w, b);
  }
}
