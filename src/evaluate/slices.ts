/**
 * Slices with confidence intervals and deltas against a baseline.
 *
 * For each slice (frame predicates and classes, fixtures/world/slices.yaml): AP@[.5:.95] from the
 * evaluation's per-image matches restricted to the slice, a 95% interval from a scene-level
 * bootstrap (seeded, 1000 replicates by default, only accumulation redone), and against a
 * baseline evaluated on the same frames, the paired delta's interval and p-value on the same
 * scene draws; p-values adjusted across slices: Holm for the critical ones, Benjamini-Hochberg
 * for the rest. Every number carries its denominators.
 */
import { frameInSlice, sliceCountsClass, type Slice } from '../schema/manifest.js';
import type { CocoDtIndex, CocoEvalResult, CocoGtIndex } from '../metrics/coco.js';
import { accumulationData, benjaminiHochberg, clusterAPData, clusterIndex, clusterWeightedAP, forEachDraw, holm, percentileInterval, twoSidedP, weightedAP, type BootstrapSummary } from '../metrics/bootstrap.js';

export interface EvaluatedModel {
  dt: CocoDtIndex;
  result: CocoEvalResult;
}

export interface SliceImage {
  scene_id: string;
  weather: string;
  time_of_day: string;
  road_type: string;
  region: string;
}

export interface SliceMetric {
  slice: string;
  critical: boolean;
  denominators: { scenes: number; frames: number; objects: number };
  ap?: BootstrapSummary;
  /** The baseline's point estimate on the same frames. */
  baselineAp?: number;
  delta?: BootstrapSummary & { p: number; pAdjusted: number; adjustment: 'holm' | 'benjamini-hochberg' };
  /** Why there is no number: no frames, no objects. */
  note?: string;
}

export interface SliceOptions {
  replicates?: number;
  seed?: number;
  level?: number;
  /** Called as each slice is done (the step streams metric events from it). */
  onSlice?: (m: SliceMetric) => void;
  /** Called after each bootstrap replicate: replicates done of slices x replicates, and the slice. */
  onProgress?: (done: number, total: number, slice: string) => void;
}

export function evaluateSlices(gt: CocoGtIndex, images: readonly SliceImage[], slices: readonly Slice[], candidate: EvaluatedModel, baseline: EvaluatedModel | undefined, opts: SliceOptions = {}): SliceMetric[] {
  const replicates = opts.replicates ?? 1000;
  const seed = opts.seed ?? 1;
  const level = opts.level ?? 0.95;
  const out: SliceMetric[] = [];
  const nImg = gt.imgIds.length;
  const total = slices.length * replicates;
  for (const [si, slice] of slices.entries()) {
    const inSlice = new Uint8Array(nImg);
    images.forEach((im, i) => (inSlice[i] = frameInSlice(slice, im) ? 1 : 0));
    const keepCat = (k: number) => sliceCountsClass(slice, gt.catNames[k]);
    const frames = inSlice.reduce((a, b) => a + b, 0);
    const sceneNames = images.map((im, i) => (inSlice[i] ? im.scene_id : ''));
    const scenes = new Set(sceneNames.filter(Boolean)).size;
    let objects = 0;
    for (let k = 0; k < gt.catIds.length; k++) {
      if (!keepCat(k)) continue;
      for (let q = gt.catStart[k]; q < gt.catStart[k + 1]; q++) if (inSlice[gt.img[q]] && !gt.crowd[q]) objects++;
    }
    const metric: SliceMetric = { slice: slice.id, critical: slice.critical, denominators: { scenes, frames, objects } };
    if (frames === 0 || objects === 0) {
      metric.note = frames === 0 ? 'no frames in this slice' : 'no objects in this slice';
      opts.onProgress?.((si + 1) * replicates, total, slice.id);
      out.push(metric);
      opts.onSlice?.(metric);
      continue;
    }
    // Clusters: the slice's scenes; images outside the slice weigh nothing.
    const { cluster, clusters } = clusterIndex(sceneNames);
    const cand = accumulationData(gt, candidate.dt, candidate.result, (i) => inSlice[i] === 1, keepCat);
    const ones = Float64Array.from(inSlice);
    // One pass over the replicates: the candidate's AP and, on the same draws, the baseline's.
    const base = baseline ? accumulationData(gt, baseline.dt, baseline.result, (i) => inSlice[i] === 1, keepCat) : undefined;
    const candReps: number[] = [];
    const deltas: number[] = [];
    // The replicates work on cluster draw counts directly (clusterWeightedAP: bit for bit
    // weightedAP on the image weights a draw gives, only faster).
    const candC = clusterAPData(cand, cluster, clusters);
    const baseC = base ? clusterAPData(base, cluster, clusters) : undefined;
    forEachDraw(clusters, replicates, seed, (draws, b) => {
      opts.onProgress?.(si * replicates + b + 1, total, slice.id);
      const c = clusterWeightedAP(candC, draws);
      // A replicate that drew none of the slice's objects has no AP: it is left out and counted.
      if (Number.isNaN(c)) return;
      candReps.push(c);
      if (baseC) deltas.push(c - clusterWeightedAP(baseC, draws));
    });
    if (candReps.length < replicates / 2 || clusters < 2) {
      metric.note = `insufficient data: ${clusters} scene(s), ${objects} object(s); ${candReps.length} of ${replicates} replicates defined`;
      out.push(metric);
      opts.onSlice?.(metric);
      continue;
    }
    const candPoint = weightedAP(cand, ones);
    metric.ap = percentileInterval(candPoint, Float64Array.from(candReps), level);
    if (base) {
      const basePoint = weightedAP(base, ones);
      const p = twoSidedP(deltas);
      metric.baselineAp = basePoint;
      metric.delta = { ...percentileInterval(candPoint - basePoint, Float64Array.from(deltas), level), p, pAdjusted: p, adjustment: slice.critical ? 'holm' : 'benjamini-hochberg' };
    }
    out.push(metric);
    opts.onSlice?.(metric);
  }
  // Adjust for the number of slices compared: Holm on the critical list, BH on the rest.
  for (const critical of [true, false]) {
    const group = out.filter((m) => m.delta && m.critical === critical);
    const adjusted = (critical ? holm : benjaminiHochberg)(group.map((m) => m.delta!.p));
    group.forEach((m, i) => (m.delta!.pAdjusted = adjusted[i]));
  }
  return out;
}
