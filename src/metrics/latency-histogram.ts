/**
 * A log-bucketed latency histogram: bounded memory, mergeable, a plain JSON value.
 *
 * Bucket i holds values in (gamma^(i-1), gamma^i] with gamma = (1 + a) / (1 - a); reporting a
 * bucket by 2 * gamma^i / (gamma + 1) is within a relative error `a` of every value in it
 * (the DDSketch construction; HDR histograms bound the error the same way with linear
 * sub-buckets). With a = 0.5% and values from 0.1 us to 3 h, at most ~2,900 buckets exist, so
 * a histogram never grows with the number of samples.
 *
 * The functions are pure: `recordSamples(h, xs)` returns a new histogram and leaves `h` alone,
 * so live-state reducers can hold histograms as values. We keep our own rather than
 * hdr-histogram-js because that one records integers into a mutable class instance, and we need
 * float milliseconds in an immutable, serialisable value that the store and views can share.
 */

/** A histogram of latency samples in milliseconds. */
export interface LatencyHistogram {
  /** Relative accuracy of quantile estimates. */
  readonly alpha: number;
  /** Index of counts[0]. */
  readonly offset: number;
  /** Dense counts from bucket `offset` upwards. */
  readonly counts: readonly number[];
  /** Samples at or below MIN_TRACKED_MS (reported as 0). */
  readonly zeroCount: number;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

/** Default relative accuracy: 0.5%, half the 1% the views promise. */
export const DEFAULT_ALPHA = 0.005;
/** Samples at or below 0.1 microseconds count as zero. */
export const MIN_TRACKED_MS = 1e-4;
/** Samples above three hours are clamped into the top bucket (min/max stay exact). */
export const MAX_TRACKED_MS = 1.08e7;

/** An empty histogram. */
export function emptyHistogram(alpha = DEFAULT_ALPHA): LatencyHistogram {
  return { alpha, offset: 0, counts: [], zeroCount: 0, count: 0, sum: 0, min: Infinity, max: -Infinity };
}

function lnGamma(alpha: number): number {
  return Math.log((1 + alpha) / (1 - alpha));
}

const lnGammaCache = new Map<number, number>();
function cachedLnGamma(alpha: number): number {
  let v = lnGammaCache.get(alpha);
  if (v === undefined) {
    v = lnGamma(alpha);
    lnGammaCache.set(alpha, v);
  }
  return v;
}

/** The bucket index of a value above MIN_TRACKED_MS. */
export function bucketIndex(valueMs: number, alpha = DEFAULT_ALPHA): number {
  const v = valueMs > MAX_TRACKED_MS ? MAX_TRACKED_MS : valueMs;
  return Math.ceil(Math.log(v) / cachedLnGamma(alpha));
}

/** The value a bucket reports: within `alpha` relative error of everything it holds. */
export function bucketValue(index: number, alpha = DEFAULT_ALPHA): number {
  const g = Math.exp(cachedLnGamma(alpha));
  return (2 * Math.pow(g, index)) / (g + 1);
}

/**
 * Returns a new histogram with `samples` (milliseconds) added. Non-finite and negative samples
 * must be rejected before this point (the event schema does).
 */
export function recordSamples(h: LatencyHistogram, samples: ArrayLike<number>): LatencyHistogram {
  const n = samples.length;
  if (n === 0) return h;
  const inv = 1 / cachedLnGamma(h.alpha);
  const idx = new Int32Array(n);
  let lo = Infinity;
  let hi = -Infinity;
  let zero = 0;
  let sum = 0;
  let min = h.min;
  let max = h.max;
  for (let k = 0; k < n; k++) {
    const x = samples[k];
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
    if (x <= MIN_TRACKED_MS) {
      zero++;
      idx[k] = 0x7fffffff;
      continue;
    }
    const i = Math.ceil(Math.log(x > MAX_TRACKED_MS ? MAX_TRACKED_MS : x) * inv);
    idx[k] = i;
    if (i < lo) lo = i;
    if (i > hi) hi = i;
  }
  let offset = h.offset;
  let counts: number[];
  if (h.counts.length === 0) {
    if (lo === Infinity) {
      counts = [];
    } else {
      offset = lo;
      counts = new Array<number>(hi - lo + 1).fill(0);
    }
  } else {
    const oldHi = h.offset + h.counts.length - 1;
    const newLo = Math.min(h.offset, lo);
    const newHi = Math.max(oldHi, hi === -Infinity ? oldHi : hi);
    offset = newLo;
    counts = new Array<number>(newHi - newLo + 1).fill(0);
    const shift = h.offset - newLo;
    for (let j = 0; j < h.counts.length; j++) counts[j + shift] = h.counts[j];
  }
  for (let k = 0; k < n; k++) {
    const i = idx[k];
    if (i !== 0x7fffffff) counts[i - offset]++;
  }
  return { alpha: h.alpha, offset, counts, zeroCount: h.zeroCount + zero, count: h.count + n, sum: h.sum + sum, min, max };
}

/** Merges two histograms of the same accuracy (for several hosts, windows or workers). */
export function mergeHistograms(a: LatencyHistogram, b: LatencyHistogram): LatencyHistogram {
  if (a.alpha !== b.alpha) throw new Error(`cannot merge histograms of accuracy ${a.alpha} and ${b.alpha}`);
  if (b.count === 0) return a;
  if (a.count === 0) return b;
  let offset: number;
  let counts: number[];
  if (a.counts.length === 0 || b.counts.length === 0) {
    const src = a.counts.length === 0 ? b : a;
    offset = src.offset;
    counts = src.counts.slice();
  } else {
    const lo = Math.min(a.offset, b.offset);
    const hi = Math.max(a.offset + a.counts.length, b.offset + b.counts.length) - 1;
    offset = lo;
    counts = new Array<number>(hi - lo + 1).fill(0);
    for (let j = 0; j < a.counts.length; j++) counts[j + a.offset - lo] += a.counts[j];
    for (let j = 0; j < b.counts.length; j++) counts[j + b.offset - lo] += b.counts[j];
  }
  return {
    alpha: a.alpha,
    offset,
    counts,
    zeroCount: a.zeroCount + b.zeroCount,
    count: a.count + b.count,
    sum: a.sum + b.sum,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
  };
}

/**
 * The q-quantile (0..1) of the recorded samples, an estimate of paddock's one percentile
 * definition (src/metrics/percentile.ts: numpy's linear interpolation, type 7): the estimates of
 * the samples of rank floor(h) and floor(h) + 1, h = q (count - 1), interpolated as type 7 does.
 * Each is within `alpha` relative error of its sample and the weights are positive, so the result
 * is within `alpha` of the exact type 7 value. An estimate, for the live views and the headless
 * line; the benches' reported figures are computed exactly from their samples. NaN when empty.
 */
export function quantile(h: LatencyHistogram, q: number): number {
  if (h.count === 0) return NaN;
  if (q <= 0) return h.min;
  if (q >= 1) return h.max;
  const pos = q * (h.count - 1);
  const rank = Math.floor(pos);
  const lo = rankValue(h, rank);
  const frac = pos - rank;
  return frac === 0 || rank + 1 >= h.count ? lo : lo + frac * (rankValue(h, rank + 1) - lo);
}

/** The estimate of the sample of 0-based rank `rank` in sorted order. */
function rankValue(h: LatencyHistogram, rank: number): number {
  if (rank <= 0) return h.min;
  if (rank >= h.count - 1) return h.max;
  if (rank < h.zeroCount) return Math.max(0, h.min);
  let seen = h.zeroCount;
  for (let j = 0; j < h.counts.length; j++) {
    seen += h.counts[j];
    if (seen > rank) {
      const v = bucketValue(j + h.offset, h.alpha);
      return Math.min(h.max, Math.max(h.min, v));
    }
  }
  return h.max;
}

/** Mean of the recorded samples (exact). */
export function mean(h: LatencyHistogram): number {
  return h.count === 0 ? NaN : h.sum / h.count;
}

/** The usual summary: count, mean, min, p50, p90, p95, p99, max. */
export interface LatencySummary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(h: LatencyHistogram): LatencySummary {
  return {
    count: h.count,
    mean: mean(h),
    min: h.count ? h.min : NaN,
    p50: quantile(h, 0.5),
    p90: quantile(h, 0.9),
    p95: quantile(h, 0.95),
    p99: quantile(h, 0.99),
    max: h.count ? h.max : NaN,
  };
}

/**
 * Re-buckets into `bins` equal-width bins between min and max (or a given range), for drawing.
 * Returns the bin edges (bins + 1) and counts.
 */
export function toLinearBins(
  h: LatencyHistogram,
  bins: number,
  range?: { lo: number; hi: number },
): { edges: number[]; counts: number[] } {
  const counts = new Array<number>(Math.max(1, bins)).fill(0);
  if (h.count === 0) return { edges: counts.map((_, i) => i).concat(bins), counts };
  const lo = range?.lo ?? h.min;
  const hi0 = range?.hi ?? h.max;
  const hi = hi0 > lo ? hi0 : lo + 1e-9;
  const width = (hi - lo) / counts.length;
  const edges = Array.from({ length: counts.length + 1 }, (_, i) => lo + i * width);
  const place = (v: number, c: number) => {
    let b = Math.floor((v - lo) / width);
    if (b < 0) b = 0;
    if (b >= counts.length) b = counts.length - 1;
    counts[b] += c;
  };
  if (h.zeroCount > 0) place(0, h.zeroCount);
  for (let j = 0; j < h.counts.length; j++) {
    const c = h.counts[j];
    if (c > 0) place(Math.min(h.max, Math.max(h.min, bucketValue(j + h.offset, h.alpha))), c);
  }
  return { edges, counts };
}

/**
 * Counts per bin between consecutive `edges` (ascending), for drawing on an axis that several
 * histograms share. A sample may lie anywhere in its bucket (gamma^(i-1), gamma^i], so each
 * bucket's count is spread evenly over the part of that interval within [min, max]: a bin
 * narrower than a bucket gets its share, where placing the whole bucket at one point would draw
 * a comb of spikes and gaps. What lies below edges[0] counts in the first bin, what lies above
 * the last edge in the last one, so every count is kept (the counts are fractional).
 *   binCounts(recordSamples(emptyHistogram(), [1, 2, 2, 9]), [0, 5, 10]) -> [3, 1]
 */
export function binCounts(h: LatencyHistogram, edges: readonly number[]): number[] {
  const bins = edges.length - 1;
  if (bins < 1) throw new Error(`binCounts needs at least two edges, got ${edges.length}`);
  for (let k = 0; k < bins; k++) if (!(edges[k + 1] > edges[k])) throw new Error(`binCounts: edges must ascend, got ${edges[k]} then ${edges[k + 1]} at ${k}`);
  const counts = new Array<number>(bins).fill(0);
  if (h.count === 0) return counts;
  const first = edges[0];
  const last = edges[bins];
  // The bin of a single value: binary search, clamped to the ends.
  const binOf = (v: number) => {
    if (v < edges[1]) return 0;
    if (v >= edges[bins - 1]) return bins - 1;
    let lo = 1;
    let hi = bins - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (edges[mid] <= v) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const spread = (a: number, b: number, c: number) => {
    if (!(b > a)) {
      counts[binOf(a)] += c;
      return;
    }
    const perMs = c / (b - a);
    if (a < first) counts[0] += (Math.min(b, first) - a) * perMs;
    if (b > last) counts[bins - 1] += (b - Math.max(a, last)) * perMs;
    const lo = Math.max(a, first);
    const hi = Math.min(b, last);
    if (hi <= lo) return;
    for (let k = binOf(lo); k < bins && edges[k] < hi; k++) counts[k] += (Math.min(hi, edges[k + 1]) - Math.max(lo, edges[k])) * perMs;
  };
  if (h.zeroCount > 0) counts[binOf(Math.max(0, h.min))] += h.zeroCount;
  const lnG = cachedLnGamma(h.alpha);
  for (let j = 0; j < h.counts.length; j++) {
    const c = h.counts[j];
    if (c === 0) continue;
    const i = j + h.offset;
    const a = Math.max(h.min, Math.exp((i - 1) * lnG));
    const b = Math.min(h.max, Math.exp(i * lnG));
    // A bucket the extremes cut to nothing (rounding at its edge) holds its samples at min or max.
    if (b < a) counts[binOf(Math.min(h.max, Math.max(h.min, bucketValue(i, h.alpha))))] += c;
    else spread(a, b, c);
  }
  return counts;
}
