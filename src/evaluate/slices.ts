/**
 * Slice metrics with bootstrap intervals, one-sided bounds and tests against a baseline.
 *
 * For each slice (frame predicates and classes, fixtures/world/slices.yaml):
 *   - its size in the units that drive its variance: the scenes that hold objects of the slice's
 *     classes (the clusters), their Kish effective number (objects spread evenly over few scenes
 *     count more than all of them in one), and the objects; below `minScenes` scenes with objects,
 *     `minEffectiveScenes` effective scenes or `minObjects` objects the slice is "insufficient data": its point AP is reported, no
 *     interval and no test, and a gate on it goes to review;
 *   - AP@[.5:.95] from the evaluation's per-image matches restricted to the slice, with a two-sided
 *     interval from a seeded scene-level (cluster) bootstrap read by `method` (Hesterberg's expanded
 *     percentile by default: the one bench/coverage.ts measured closest to nominal; docs/evaluate.md);
 *   - against a baseline evaluated on the same frames, on the same draws: the paired delta, its
 *     interval, its one-sided (1 - alpha) lower and upper bounds (what non-inferiority and
 *     superiority gates decide on), the one-sided p-value of "the candidate is worse by more than
 *     `margin`" with its resolution, adjusted across slices (Holm within the critical slices,
 *     Benjamini-Hochberg within the rest), and the smallest drop it can detect at `power`;
 *   - replicates added (doubled up to `maxReplicates`) for a slice whose p-value is within Monte
 *     Carlo error of a decision threshold;
 *   - its own seed, derived from the run's seed and its id, so a slice's numbers are reproducible alone.
 */
import { frameInSlice, sliceCountsClass, type Slice } from '../schema/manifest.js';
import type { CocoDtIndex, CocoEvalResult, CocoGtIndex } from '../metrics/coco.js';
import { accumulationData, clusterAPData, clusterIndex, clusterWeightedAP, weightedAP } from '../metrics/bootstrap.js';
import { benjaminiHochberg, bound, clusterBootstrap, derivedSeed, detectable, holm, interval, needsJackknife, pValue, type Interval, type IntervalMethod } from '../metrics/inference.js';

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

/** How the slices are tested: the evaluate step's `statistics` (docs/evaluate.md "Statistics"). */
export interface SliceStatistics {
  method: IntervalMethod;
  /** Two-sided level of the intervals shown. */
  level: number;
  /** One-sided level of the bounds and tests the gates decide on. */
  alpha: number;
  /** The regression test's null: the candidate is not worse than the baseline by more than this. */
  margin: number;
  replicates: number;
  maxReplicates: number;
  minScenes: number;
  /** Below this many effective scenes (Kish) a slice is insufficient too: objects heaped into a few scenes (bench/coverage.ts, clumped). */
  minEffectiveScenes: number;
  minObjects: number;
  power: number;
  seed: number;
}

export const DEFAULT_SLICE_STATISTICS: SliceStatistics = { method: 'percentile-expanded', level: 0.95, alpha: 0.05, margin: 0, replicates: 1000, maxReplicates: 8000, minScenes: 10, minEffectiveScenes: 8, minObjects: 10, power: 0.8, seed: 1 };

/** A slice's interval: the statistics interface's, as read off its replicates. */
export type SliceInterval = Interval;

export interface SliceDelta extends SliceInterval {
  /** One-sided (1 - alpha) bounds of the paired delta. */
  alpha: number;
  lower: number;
  upper: number;
  /** One-sided p of "delta < -margin", its resolution, and the adjusted value within its family. */
  margin: number;
  p: number;
  pAtResolution: boolean;
  pAdjusted: number;
  adjustment: 'holm' | 'benjamini-hochberg';
  /** The smallest drop the slice detects at `power` (one-sided, alpha), and the scenes that would detect `margin` (null when margin is 0). */
  power: number;
  detectable: number;
  scenesForMargin: number | null;
}

export type SliceDenominators = {
  /** Scenes with frames in the slice (the clusters drawn). */
  scenes: number;
  /** Scenes holding objects of the slice's classes: the effective sample size the minimum applies to. */
  scenes_with_objects: number;
  /** Kish's effective number of scenes, (sum n_i)^2 / sum n_i^2 over their object counts, rounded. */
  effective_scenes: number;
  frames: number;
  objects: number;
};

export interface SliceMetric {
  slice: string;
  critical: boolean;
  denominators: SliceDenominators;
  /** This slice's bootstrap seed (derived from the run's seed and the slice id). */
  seed: number;
  /** Point AP of the candidate and the baseline: also when the slice is too small for an interval. */
  apPoint?: number;
  baselineAp?: number;
  ap?: SliceInterval;
  delta?: SliceDelta;
  /** Why there is no interval: "insufficient data: ..." (a gate on it goes to review), no frames, no objects. */
  note?: string;
  insufficient?: boolean;
}

export interface SliceOptions extends Partial<SliceStatistics> {
  /** Called as each slice is done (the step streams metric events from it). */
  onSlice?: (m: SliceMetric) => void;
  /** Called after each bootstrap replicate: replicates done of the planned total, and the slice. */
  onProgress?: (done: number, total: number, slice: string) => void;
}

/**
 * Is a p-value too close to a decision to trust B replicates? Its Monte Carlo band (2.58 standard
 * errors, sqrt(p (1 - p) / B)) reaches into [alpha / k, alpha], k the number of slices adjusted
 * together: where Holm or BH would put the threshold for it.
 */
export function nearDecision(p: number, replicates: number, alpha: number, family: number): boolean {
  const mc = 2.58 * Math.sqrt((p * (1 - p)) / Math.max(1, replicates));
  return p - mc <= alpha && p + mc >= alpha / Math.max(1, family);
}

export function evaluateSlices(gt: CocoGtIndex, images: readonly SliceImage[], slices: readonly Slice[], candidate: EvaluatedModel, baseline: EvaluatedModel | undefined, opts: SliceOptions = {}): SliceMetric[] {
  const st: SliceStatistics = { ...DEFAULT_SLICE_STATISTICS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  const out: SliceMetric[] = [];
  const nImg = gt.imgIds.length;
  const total = slices.length * st.replicates;
  // Who is in each slice, and its objects per scene: first for every slice, so that the families
  // adjusted together (and so the thresholds near which replicates are added) count only the
  // slices large enough to be tested.
  const members = slices.map((slice) => {
    const inSlice = new Uint8Array(nImg);
    images.forEach((im, i) => (inSlice[i] = frameInSlice(slice, im) ? 1 : 0));
    const keepCat = (k: number) => sliceCountsClass(slice, gt.catNames[k]);
    const sceneNames = images.map((im, i) => (inSlice[i] ? im.scene_id : ''));
    const perScene = new Map<string, number>();
    for (let k = 0; k < gt.catIds.length; k++) {
      if (!keepCat(k)) continue;
      for (let q = gt.catStart[k]; q < gt.catStart[k + 1]; q++) if (inSlice[gt.img[q]] && !gt.crowd[q]) perScene.set(sceneNames[gt.img[q]], (perScene.get(sceneNames[gt.img[q]]) ?? 0) + 1);
    }
    let objects = 0;
    let squares = 0;
    for (const n of perScene.values()) {
      objects += n;
      squares += n * n;
    }
    const effective = squares ? (objects * objects) / squares : 0;
    return { inSlice, keepCat, sceneNames, perScene, objects, effective, testable: objects > 0 && perScene.size >= st.minScenes && effective >= st.minEffectiveScenes && objects >= st.minObjects };
  });
  const families = { critical: slices.filter((s, i) => s.critical && members[i].testable).length, other: slices.filter((s, i) => !s.critical && members[i].testable).length };
  for (const [si, slice] of slices.entries()) {
    const { inSlice, keepCat, sceneNames, perScene, objects, effective } = members[si];
    const frames = inSlice.reduce((a, b) => a + b, 0);
    const scenes = new Set(sceneNames.filter(Boolean)).size;
    const denominators: SliceDenominators = { scenes, scenes_with_objects: perScene.size, effective_scenes: Math.round(effective), frames, objects };
    const seed = derivedSeed(st.seed, slice.id);
    const metric: SliceMetric = { slice: slice.id, critical: slice.critical, denominators, seed };
    const done = () => {
      out.push(metric);
      opts.onSlice?.(metric);
    };
    if (frames === 0 || objects === 0) {
      metric.insufficient = true;
      metric.note = frames === 0 ? 'no frames in this slice' : 'no objects in this slice';
      opts.onProgress?.((si + 1) * st.replicates, total, slice.id);
      done();
      continue;
    }
    const cand = accumulationData(gt, candidate.dt, candidate.result, (i) => inSlice[i] === 1, keepCat);
    const base = baseline ? accumulationData(gt, baseline.dt, baseline.result, (i) => inSlice[i] === 1, keepCat) : undefined;
    const ones = Float64Array.from(inSlice);
    metric.apPoint = weightedAP(cand, ones);
    if (base) metric.baselineAp = weightedAP(base, ones);
    if (!members[si].testable) {
      metric.insufficient = true;
      metric.note = `insufficient data: ${perScene.size} scene(s) with objects (minimum ${st.minScenes}), ${effective.toFixed(1)} effective scene(s) (minimum ${st.minEffectiveScenes}), ${objects} object(s) (minimum ${st.minObjects})`;
      opts.onProgress?.((si + 1) * st.replicates, total, slice.id);
      done();
      continue;
    }
    // Clusters: the slice's scenes (also those with only false positives); images outside it weigh nothing.
    const { cluster, clusters } = clusterIndex(sceneNames);
    // The replicates work on cluster draw counts directly (clusterWeightedAP: bit for bit
    // weightedAP on the image weights a draw gives, only faster).
    const candC = clusterAPData(cand, cluster, clusters);
    const baseC = base ? clusterAPData(base, cluster, clusters) : undefined;
    const family = slice.critical ? families.critical : families.other;
    const sets = clusterBootstrap({
      clusters,
      outputs: baseC ? 2 : 1,
      replicates: st.replicates,
      maxReplicates: st.maxReplicates,
      seed,
      jackknife: needsJackknife(st.method),
      statistic: (draws, o) => {
        const c = clusterWeightedAP(candC, draws);
        o[0] = c;
        // A draw with none of the slice's objects has no AP (NaN): left out of both, and counted.
        if (baseC) o[1] = Number.isNaN(c) ? NaN : c - clusterWeightedAP(baseC, draws);
      },
      needsMore: baseC ? (s) => nearDecision(pValue(s[1], -st.margin, 'less', st.method).p, s[1].sorted.length, st.alpha, family) : undefined,
      onReplicate: (n) => opts.onProgress?.(Math.min(si * st.replicates + n, (si + 1) * st.replicates), total, slice.id),
    });
    if (sets[0].sorted.length < sets[0].drawn / 2) {
      metric.insufficient = true;
      metric.note = `insufficient data: ${sets[0].sorted.length} of ${sets[0].drawn} replicates drew any of the slice's objects`;
      done();
      continue;
    }
    metric.ap = interval(sets[0], st.level, st.method);
    if (baseC) {
      const d = sets[1];
      const p = pValue(d, -st.margin, 'less', st.method);
      const power = detectable(d, st.alpha, st.power, st.margin > 0 ? st.margin : undefined);
      metric.delta = {
        ...interval(d, st.level, st.method),
        alpha: st.alpha,
        lower: bound(d, st.alpha, 'lower', st.method),
        upper: bound(d, st.alpha, 'upper', st.method),
        margin: st.margin,
        p: p.p,
        pAtResolution: p.atResolution,
        pAdjusted: p.p,
        adjustment: slice.critical ? 'holm' : 'benjamini-hochberg',
        power: st.power,
        detectable: power.effect,
        scenesForMargin: power.clustersForMargin,
      };
    }
    done();
  }
  // Adjust for the number of slices compared: Holm within the critical list, BH within the rest.
  for (const critical of [true, false]) {
    const group = out.filter((m) => m.delta && m.critical === critical);
    const adjusted = (critical ? holm : benjaminiHochberg)(group.map((m) => m.delta!.p));
    group.forEach((m, i) => (m.delta!.pAdjusted = adjusted[i]));
  }
  return out;
}
