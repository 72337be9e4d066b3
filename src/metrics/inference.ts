/**
 * The one place where paddock turns resampled statistics into intervals, one-sided bounds,
 * p-values and power: every stage that reports a number with its uncertainty (the evaluate
 * stage's slices, the Sim Gate's outcomes over seeds, later calibration, robustness, OOD and
 * tracking) draws its replicates through `clusterBootstrap` and reads them through the functions
 * below, so no stage writes its own bootstrap.
 *
 *   clusterBootstrap({ clusters, outputs, statistic, replicates, seed })  -> ReplicateSet[]
 *   interval(set, 0.95, 'bca')            two-sided interval
 *   bound(set, 0.05, 'lower', 'bca')      one-sided 95% lower bound
 *   pValue(set, -0.01, 'less', 'bca')     one-sided p for "the true value is below -0.01"
 *   detectable(set, 0.05, 0.8)            the smallest effect the data can show at 80% power
 *
 * The unit of resampling is the cluster (a scene, a seed, a drive): objects of one scene are not
 * independent, so the scene is what is drawn with replacement. Which interval method reaches its
 * nominal coverage at which number of clusters is measured, not assumed: bench/coverage.ts and
 * the table in docs/evaluate.md.
 */
import { createHash } from 'node:crypto';
import { seededRandom } from '../files/prng.js';
import { meanWithInterval, normalCdf, normalQuantile, studentTQuantile, type Alternative } from './stats.js';

/**
 * How an interval is read off the replicates:
 *   - percentile: the replicates' quantiles (Efron 1979);
 *   - basic: the percentile interval reflected about the estimate (2 * estimate - quantile);
 *   - bca: bias-corrected and accelerated (Efron 1987): z0 from the share of replicates below
 *     the estimate, the acceleration from the leave-one-cluster-out jackknife;
 *   - percentile-expanded, bca-expanded: the same with the tail levels widened for a small number
 *     of clusters n as Hesterberg (2015, "What teachers should know about the bootstrap", 6.2)
 *     proposes, alpha' = Phi(sqrt(n / (n - 1)) * t_{n-1}(alpha)).
 */
export const INTERVAL_METHODS = ['percentile', 'basic', 'bca', 'percentile-expanded', 'bca-expanded'] as const;
export type IntervalMethod = (typeof INTERVAL_METHODS)[number];

/** What a method needs beyond the replicates: the jackknife (BCa's acceleration). */
export function needsJackknife(method: IntervalMethod): boolean {
  return method === 'bca' || method === 'bca-expanded';
}

/** One statistic's bootstrap: its estimate, its defined replicates in ascending order, and how they were drawn. */
export interface ReplicateSet {
  estimate: number;
  /** Defined replicate values (a replicate may be undefined, e.g. AP of a draw with no objects), ascending. */
  sorted: Float64Array;
  /** Replicates drawn, defined or not. */
  drawn: number;
  /** Leave-one-cluster-out values of the statistic (NaN where undefined), or null when not computed. */
  jackknife: Float64Array | null;
  clusters: number;
  seed: number;
}

export interface ClusterBootstrapOptions {
  clusters: number;
  /** How many statistics each draw yields (a candidate's AP and its delta against a baseline: 2). */
  outputs: number;
  /**
   * The statistics of one draw: `draws[c]` is how often cluster c was drawn (all ones for the
   * sample itself, one zero for a jackknife value); write NaN where a statistic is undefined.
   */
  statistic: (draws: Uint16Array, out: Float64Array) => void;
  replicates: number;
  seed: number;
  /** Also compute the leave-one-cluster-out values (needed by BCa). */
  jackknife?: boolean;
  /**
   * Adaptive replicates: after each round, asked whether the sets need more; if so the replicates
   * are doubled (the seeded stream goes on, so the first B are the same) up to `maxReplicates`.
   */
  needsMore?: (sets: ReplicateSet[]) => boolean;
  maxReplicates?: number;
  /** Called after each replicate with the replicates drawn so far. */
  onReplicate?: (drawn: number) => void;
}

/** Draws `clusters` clusters with replacement; returns how often each was drawn. */
export function drawClusters(clusters: number, rand: () => number): Uint16Array {
  const w = new Uint16Array(clusters);
  for (let i = 0; i < clusters; i++) w[Math.floor(rand() * clusters)]++;
  return w;
}

/**
 * The cluster bootstrap of `outputs` statistics on the same draws (paired by construction: a
 * delta computed inside `statistic` is the paired delta). Deterministic for a seed; with
 * `needsMore` it doubles the replicates while asked to, up to `maxReplicates`.
 */
export function clusterBootstrap(opts: ClusterBootstrapOptions): ReplicateSet[] {
  const { clusters, outputs, statistic } = opts;
  if (!(clusters >= 1)) throw new Error(`clusterBootstrap: need at least one cluster, got ${clusters}`);
  const out = new Float64Array(outputs);
  const ones = new Uint16Array(clusters).fill(1);
  statistic(ones, out);
  const estimates = Array.from(out);
  let jackknife: Float64Array[] | null = null;
  if (opts.jackknife) {
    jackknife = Array.from({ length: outputs }, () => new Float64Array(clusters));
    for (let c = 0; c < clusters; c++) {
      ones[c] = 0;
      statistic(ones, out);
      ones[c] = 1;
      for (let k = 0; k < outputs; k++) jackknife[k][c] = out[k];
    }
  }
  const values: number[][] = Array.from({ length: outputs }, () => []);
  const rand = seededRandom(opts.seed);
  let drawn = 0;
  const drawTo = (target: number) => {
    for (; drawn < target; ) {
      statistic(drawClusters(clusters, rand), out);
      for (let k = 0; k < outputs; k++) if (!Number.isNaN(out[k])) values[k].push(out[k]);
      drawn++;
      opts.onReplicate?.(drawn);
    }
  };
  const sets = () =>
    values.map((v, k): ReplicateSet => ({ estimate: estimates[k], sorted: Float64Array.from(v).sort(), drawn, jackknife: jackknife ? jackknife[k] : null, clusters, seed: opts.seed }));
  drawTo(opts.replicates);
  let result = sets();
  const cap = Math.max(opts.replicates, opts.maxReplicates ?? opts.replicates);
  while (opts.needsMore && drawn < cap && opts.needsMore(result)) {
    drawTo(Math.min(cap, drawn * 2));
    result = sets();
  }
  return result;
}

/** Linear interpolation between order statistics (numpy's default, "type 7"); clamps outside [0, 1]. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = Math.min(1, Math.max(0, p)) * (n - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

/** The bootstrap standard error: the standard deviation of the defined replicates. */
export function standardError(r: ReplicateSet): number {
  const v = r.sorted;
  const n = v.length;
  if (n < 2) return NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += v[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
  return Math.sqrt(ss / (n - 1));
}

const bcaCache = new WeakMap<ReplicateSet, { z0: number; a: number }>();

/**
 * BCa's bias correction z0 (the normal quantile of the share of replicates below the estimate,
 * ties counted half, kept within [1/(2B), 1 - 1/(2B)]) and acceleration a (Efron and Tibshirani
 * 1993, 14.15: from the jackknife, sum(d^3) / (6 sum(d^2)^1.5), d = mean - leave-one-out value).
 */
export function bcaParameters(r: ReplicateSet): { z0: number; a: number } {
  const hit = bcaCache.get(r);
  if (hit) return hit;
  const B = r.sorted.length;
  let below = 0;
  let ties = 0;
  for (let i = 0; i < B; i++) {
    if (r.sorted[i] < r.estimate) below++;
    else if (r.sorted[i] === r.estimate) ties++;
  }
  const share = Math.min(1 - 1 / (2 * B), Math.max(1 / (2 * B), (below + ties / 2) / B));
  const z0 = normalQuantile(share);
  let a = 0;
  if (r.jackknife) {
    const jk = Array.from(r.jackknife).filter((x) => !Number.isNaN(x));
    if (jk.length >= 2) {
      const mean = jk.reduce((s, x) => s + x, 0) / jk.length;
      let s2 = 0;
      let s3 = 0;
      for (const x of jk) {
        const d = mean - x;
        s2 += d * d;
        s3 += d * d * d;
      }
      a = s2 > 0 ? s3 / (6 * Math.pow(s2, 1.5)) : 0;
    }
  }
  const p = { z0, a };
  bcaCache.set(r, p);
  return p;
}

/** Hesterberg's expansion of a tail level for n clusters: Phi(sqrt(n / (n - 1)) * t_{n-1}(beta)). */
export function expandLevel(beta: number, n: number): number {
  if (n < 2 || beta <= 0 || beta >= 1) return beta;
  return normalCdf(Math.sqrt(n / (n - 1)) * studentTQuantile(beta, n - 1));
}

/**
 * The interval endpoint whose nominal lower-tail level is `beta`: beta = 0.025 gives the lower
 * end of a 95% two-sided interval (and the one-sided 97.5% lower bound), 0.975 the upper end.
 */
export function endpoint(r: ReplicateSet, beta: number, method: IntervalMethod): number {
  const v = r.sorted;
  if (v.length === 0) return NaN;
  const b = method === 'percentile-expanded' || method === 'bca-expanded' ? expandLevel(beta, r.clusters) : beta;
  switch (method) {
    case 'percentile':
    case 'percentile-expanded':
      return quantileSorted(v, b);
    case 'basic':
      return 2 * r.estimate - quantileSorted(v, 1 - b);
    case 'bca':
    case 'bca-expanded': {
      if (needsJackknife(method) && !r.jackknife) throw new Error(`${method} needs the jackknife values: run clusterBootstrap with jackknife: true`);
      const { z0, a } = bcaParameters(r);
      const z = normalQuantile(b);
      const denom = 1 - a * (z0 + z);
      // Past the acceleration's pole the adjusted level would fold back: hold it at the end it was heading to.
      const level = denom <= 0 ? (z > 0 ? 1 : 0) : normalCdf(z0 + (z0 + z) / denom);
      return quantileSorted(v, level);
    }
  }
}

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  level: number;
  method: IntervalMethod;
  /** Defined replicates behind it, and the replicates drawn. */
  replicates: number;
  drawn: number;
  se: number;
}

/** Two-sided interval at `level`. */
export function interval(r: ReplicateSet, level: number, method: IntervalMethod): Interval {
  const tail = (1 - level) / 2;
  return { estimate: r.estimate, lo: endpoint(r, tail, method), hi: endpoint(r, 1 - tail, method), level, method, replicates: r.sorted.length, drawn: r.drawn, se: standardError(r) };
}

/** One-sided bound at confidence 1 - alpha: 'lower' (the true value is above it with that confidence) or 'upper'. */
export function bound(r: ReplicateSet, alpha: number, side: 'lower' | 'upper', method: IntervalMethod): number {
  return endpoint(r, side === 'lower' ? alpha : 1 - alpha, method);
}

/** A bootstrap p-value with its resolution: with B replicates none can be smaller than 1 / (B + 1). */
export interface PValue {
  p: number;
  /** Replicates on the far side of the null value (0: p is at its resolution, "p < 1/(B+1)"). */
  beyond: number;
  replicates: number;
  /** True when p is at its floor 1 / (B + 1): the true p may be anything below it. */
  atResolution: boolean;
  alternative: 'less' | 'greater';
  nullValue: number;
  method: IntervalMethod;
}

/**
 * One-sided p-value for H1 "the true value is below `nullValue`" ('less') or "above" ('greater'),
 * by inverting the method's one-sided bound: the smallest alpha at which the (1 - alpha) upper
 * bound falls below the null value ('less'; the lower bound above it for 'greater'). For the
 * percentile method that is the count (1 + replicates on the null's side) / (B + 1); for the
 * others the level is found by bisection on the endpoint (monotone in its level), and never
 * reported below 1 / (B + 1).
 */
export function pValue(r: ReplicateSet, nullValue: number, alternative: 'less' | 'greater', method: IntervalMethod): PValue {
  const v = r.sorted;
  const B = v.length;
  let beyond = 0;
  // Replicates that speak for the null: at or above it for 'less', at or below it for 'greater'.
  for (let i = 0; i < B; i++) if (alternative === 'less' ? v[i] >= nullValue : v[i] <= nullValue) beyond++;
  const floor = 1 / (B + 1);
  let p: number;
  if (B === 0) p = 1;
  else if (method === 'percentile') p = (1 + beyond) / (B + 1);
  else {
    // beta* with endpoint(beta*) = nullValue; 'greater' rejects at alpha > beta*, 'less' at alpha > 1 - beta*.
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (endpoint(r, mid, method) < nullValue) lo = mid;
      else hi = mid;
    }
    const star = (lo + hi) / 2;
    p = alternative === 'greater' ? star : 1 - star;
  }
  p = Math.min(1, Math.max(floor, p));
  return { p, beyond, replicates: B, atResolution: p <= floor * (1 + 1e-12), alternative, nullValue, method };
}

/** "p = 0.031" or, at the resolution of B replicates, "p < 0.0005 (2000 replicates)". */
export function formatP(p: Pick<PValue, 'p' | 'atResolution' | 'replicates'>): string {
  if (p.atResolution) return `p < ${Number((1 / (p.replicates + 1)).toPrecision(2))} (${p.replicates} replicates)`;
  return `p = ${p.p < 0.001 ? p.p.toExponential(1) : p.p.toPrecision(2)}`;
}

/**
 * Power: the smallest true effect a one-sided test at `alpha` detects with probability `power`,
 * (z_{1-alpha} + z_power) * SE, SE the bootstrap standard error (the normal approximation to the
 * statistic's sampling distribution); and how many clusters would bring it down to `margin`
 * (SE shrinks as 1 / sqrt(clusters)).
 */
export function detectable(r: ReplicateSet, alpha: number, power = 0.8, margin?: number): { effect: number; se: number; clustersForMargin: number | null } {
  const se = standardError(r);
  const z = normalQuantile(1 - alpha) + normalQuantile(power);
  const effect = z * se;
  const clustersForMargin = margin !== undefined && margin > 0 && Number.isFinite(se) ? Math.ceil(r.clusters * Math.pow(effect / margin, 2)) : null;
  return { effect, se, clustersForMargin };
}

/** A statistic's own seed, from the run's seed and its name (a slice id): reproducible alone, different across slices. */
export function derivedSeed(runSeed: number, name: string): number {
  return createHash('sha256').update(`${runSeed}\u0000${name}`).digest().readUInt32BE(0);
}

/** Holm's step-down adjustment (family-wise error), in the input order. */
export function holm(p: readonly number[]): number[] {
  const idx = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
  const out = new Array<number>(p.length);
  let running = 0;
  idx.forEach((i, rank) => {
    running = Math.max(running, Math.min(1, (p.length - rank) * p[i]));
    out[i] = running;
  });
  return out;
}

/** Benjamini-Hochberg adjustment (false discovery rate), in the input order. */
export function benjaminiHochberg(p: readonly number[]): number[] {
  const n = p.length;
  const idx = p.map((_, i) => i).sort((a, b) => p[b] - p[a]);
  const out = new Array<number>(n);
  let running = 1;
  idx.forEach((i, k) => {
    const rank = n - k;
    running = Math.min(running, Math.min(1, (p[i] * n) / rank));
    out[i] = running;
  });
  return out;
}

/** Pairs up to this many are tested exactly (2^16 sign patterns); beyond, a seeded paired bootstrap. */
export const EXACT_PAIRS_MAX = 16;

export interface PairedComparison {
  /** Mean of candidate - baseline over the pairs. */
  meanDelta: number;
  /** Two-sided interval of the mean delta at `level`: t interval (exact test) or percentile bootstrap. */
  ci: [number, number];
  p: number;
  n: number;
  level: number;
  method: 'exact-sign-flip' | 'paired-bootstrap';
}

/**
 * Candidate vs baseline on the same runs (same scenario, parameters, seed, conditions). With
 * n <= 16 pairs, the exact sign-flip permutation test of the mean delta (under "no difference"
 * each pair's delta is as likely negative as positive: Fisher's randomisation test, what
 * scipy.stats.permutation_test with permutation_type='samples' computes exactly); beyond, the
 * paired bootstrap of the mean delta (each pair a cluster), its percentile interval and p-value.
 */
export function pairedComparison(cand: readonly number[], base: readonly number[], opts: { level?: number; alternative?: Alternative; replicates?: number; seed?: number } = {}): PairedComparison {
  if (cand.length !== base.length) throw new Error(`pairedComparison: ${cand.length} candidate values against ${base.length} baseline values; the runs must pair up`);
  const level = opts.level ?? 0.95;
  const alternative = opts.alternative ?? 'two-sided';
  const n = cand.length;
  const d = cand.map((c, i) => c - base[i]);
  if (n === 0) return { meanDelta: NaN, ci: [NaN, NaN], p: 1, n, level, method: 'exact-sign-flip' };
  const sum = d.reduce((a, b) => a + b, 0);
  const meanDelta = sum / n;
  if (n <= EXACT_PAIRS_MAX) {
    // Sums of one sign pattern differ from the observed one only by rounding when they are equal in exact arithmetic.
    const eps = 1e-12 * Math.max(1, d.reduce((a, b) => a + Math.abs(b), 0));
    let hits = 0;
    const patterns = 2 ** n;
    for (let m = 0; m < patterns; m++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += m & (1 << i) ? -d[i] : d[i];
      if (alternative === 'greater' ? s >= sum - eps : alternative === 'less' ? s <= sum + eps : Math.abs(s) >= Math.abs(sum) - eps) hits++;
    }
    const t = meanWithInterval(d, level);
    return { meanDelta, ci: [t.lo, t.hi], p: hits / patterns, n, level, method: 'exact-sign-flip' };
  }
  const [set] = clusterBootstrap({
    clusters: n,
    outputs: 1,
    replicates: opts.replicates ?? 10000,
    seed: opts.seed ?? 19,
    statistic: (draws, out) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += draws[i] * d[i];
      out[0] = s / n;
    },
  });
  const ci = interval(set, level, 'percentile');
  // 'greater': evidence that the delta is above 0; two-sided: twice the smaller one-sided p, at most 1.
  const greater = pValue(set, 0, 'greater', 'percentile').p;
  const less = pValue(set, 0, 'less', 'percentile').p;
  const p = alternative === 'greater' ? greater : alternative === 'less' ? less : Math.min(1, 2 * Math.min(greater, less));
  return { meanDelta, ci: [ci.lo, ci.hi], p, n, level, method: 'paired-bootstrap' };
}
