/**
 * The one percentile definition paddock uses for latency: numpy's default, linear interpolation
 * between the closest ranks (Hyndman and Fan's type 7, R's default, `numpy.percentile(x, p)`):
 *
 *   h = (n - 1) q;  P(q) = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])
 *
 * on the samples sorted ascending (0-based), q in [0, 1]. Every bench (the ONNX Runtime bench and
 * bench-variants here, runners/python/torch_bench.py `percentile`, which mirrors this function
 * and is tested against it), the step reports and the gates' `latency.p*_ms` metrics use it on
 * the exact samples. The live histogram (latency-histogram.ts `quantile`) estimates the same
 * definition within its relative accuracy. Tools that compute their own (trtexec,
 * perf_analyzer) use other definitions; their figures are imported as they are and say which
 * (TOOL_PERCENTILES below).
 *   percentile([10, 20, ..., 100], 0.95) -> 95.5
 */

/** The name written beside every percentile paddock computes. */
export const PERCENTILE_DEFINITION = 'linear (numpy default, Hyndman-Fan type 7)';

/** The q-quantile (0..1) of samples already sorted ascending; NaN when there are none. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`percentile: q must be in [0, 1], got ${q}`);
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** The samples sorted ascending, as a new Float64Array (the input is left alone). */
export function sortedSamples(samples: ArrayLike<number>): Float64Array {
  return Float64Array.from(samples).sort();
}

/** The q-quantile of unsorted samples (sorts a copy). */
export function percentile(samples: ArrayLike<number>, q: number): number {
  return percentileSorted(sortedSamples(samples), q);
}

/** p50, p95 and p99 of samples by the one definition, with it named. */
export function latencyPercentiles(samples: ArrayLike<number>): { p50: number; p95: number; p99: number; definition: string } {
  const s = sortedSamples(samples);
  return { p50: percentileSorted(s, 0.5), p95: percentileSorted(s, 0.95), p99: percentileSorted(s, 0.99), definition: PERCENTILE_DEFINITION };
}

/**
 * The definitions of the tools whose figures paddock imports (src/pack/tool-outputs.ts), read
 * from their sources, so an imported p99 says how it was computed. Not used to compute
 * paddock's own figures; `toolPercentile` reproduces them so the test can show the difference.
 */
export const TOOL_PERCENTILES = {
  /**
   * TensorRT samples/common/sampleReporting.cpp findPercentile: timings sorted ascending,
   * exclude = int((1 - p/100) n) in float32, value timings[max(n - 1 - exclude, 0)], i.e. the
   * nearest rank x[ceil(p n / 100) - 1] but for float32 rounding (at p = 99, n = 100 it is x[99],
   * the maximum); its median (findMedian) is the mean of the two middle values.
   */
  trtexec: 'nearest-rank (trtexec findPercentile: sorted[max(n - 1 - int((1 - p/100) n), 0)] in float32; median: mean of the two middle values)',
  /**
   * perf_analyzer inference_profiler.cc SummarizeLatency: latencies sorted ascending, index
   * size_t((p/100)(n - 1) + 0.5), i.e. the sample nearest type 7's position (halves round up),
   * in microseconds truncated to whole numbers in the console summary.
   */
  perf_analyzer: 'nearest of (n - 1) p/100, halves up (perf_analyzer SummarizeLatency: sorted[int((p/100)(n - 1) + 0.5)]), whole microseconds',
} as const;

/** A percentile as trtexec or perf_analyzer computes it (p in 0..100), on samples sorted ascending. */
export function toolPercentile(tool: keyof typeof TOOL_PERCENTILES, sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (tool === 'trtexec') {
    // In float32, as trtexec computes it: at p = 99, n = 100, (1 - 0.99f) * 100 is 0.99999905,
    // so nothing is excluded and p99 is the maximum (the nearest rank, in exact arithmetic, is x[98]).
    const f = Math.fround;
    const exclude = Math.trunc(f(f(1 - f(f(p) / 100)) * n));
    return sorted[Math.max(n - 1 - exclude, 0)];
  }
  return sorted[Math.min(n - 1, Math.floor((p / 100) * (n - 1) + 0.5))];
}
