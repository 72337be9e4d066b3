/**
 * INT8 post-training calibration: per-tensor ranges from activations collected on a calibration
 * shard, turned into symmetric scales by one of three calibrators, and the TensorRT calibration
 * cache text. Pure: numbers in, numbers out.
 *
 * - max:        amax = the largest |x| seen.
 * - percentile: amax = the p-th percentile of |x| (99.99 by default), read off the histogram.
 * - entropy:    the threshold whose 128-level quantization of the |x| histogram loses the least
 *               information (smallest KL divergence between the clipped reference distribution
 *               and its quantized version), the method of TensorRT's entropy calibrators
 *               (Migacz, "8-bit Inference with TensorRT", GTC 2017): 2048 bins, thresholds from
 *               bin 128 to 2048, outliers folded into the last kept bin.
 * TensorRT's own implementation is not published; the details here (|x| histogram, the zero bin
 * set to its neighbour's count) follow NVIDIA's pytorch-quantization entropy calibrator.
 * scale = amax / 127 (symmetric, zero point 0), as TensorRT and ONNX QDQ with int8 use.
 */

export const HISTOGRAM_BINS = 2048;
export const QUANTIZED_BINS = 128;

/** Running statistics of one tensor: |x| max, then a histogram of |x| over [0, range]. */
export interface TensorRange {
  name: string;
  absMax: number;
  min: number;
  max: number;
  count: number;
  /** Set once the first pass fixed the range: HISTOGRAM_BINS counts over [0, histRange]. */
  hist?: Float64Array;
  histRange?: number;
}

export function newRange(name: string): TensorRange {
  return { name, absMax: 0, min: Infinity, max: -Infinity, count: 0 };
}

/** First pass: min, max and |x| max. */
export function observeRange(r: TensorRange, data: ArrayLike<number>): void {
  let lo = r.min;
  let hi = r.max;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  r.min = lo;
  r.max = hi;
  r.absMax = Math.max(r.absMax, Math.abs(lo), Math.abs(hi));
  r.count += data.length;
}

/** Second pass: the |x| histogram over [0, absMax of the first pass]; values beyond go to the last bin. */
export function observeHistogram(r: TensorRange, data: ArrayLike<number>): void {
  if (!r.hist) {
    r.hist = new Float64Array(HISTOGRAM_BINS);
    r.histRange = r.absMax > 0 ? r.absMax : 1e-8;
  }
  const h = r.hist;
  const k = HISTOGRAM_BINS / r.histRange!;
  const last = HISTOGRAM_BINS - 1;
  for (let i = 0; i < data.length; i++) {
    let b = Math.floor(Math.abs(data[i]) * k);
    if (b > last) b = last;
    h[b]++;
  }
}

export type Calibrator = 'max' | 'percentile' | 'entropy';

export interface CalibratorOptions {
  /** For `percentile`: in (0, 100]. */
  percentile?: number;
}

/** amax by the chosen calibrator. Needs the histogram for percentile and entropy. */
export function computeAmax(r: TensorRange, calibrator: Calibrator, opts: CalibratorOptions = {}): number {
  if (calibrator === 'max' || r.absMax === 0) return r.absMax;
  if (!r.hist || !r.histRange) throw new Error(`${r.name}: the ${calibrator} calibrator needs the histogram pass`);
  const width = r.histRange / HISTOGRAM_BINS;
  if (calibrator === 'percentile') {
    const p = opts.percentile ?? 99.99;
    const total = r.hist.reduce((a, b) => a + b, 0);
    const want = (total * p) / 100;
    let acc = 0;
    for (let i = 0; i < HISTOGRAM_BINS; i++) {
      acc += r.hist[i];
      if (acc >= want) return Math.min(r.absMax, (i + 1) * width);
    }
    return r.absMax;
  }
  return (entropyThresholdBin(r.hist) + 0.5) * width;
}

/**
 * The bin index i (threshold at bin i's centre) in [QUANTIZED_BINS, bins) minimising
 * KL(P || Q): P = hist[0..i) with the mass of hist[i..] added to P[i-1]; Q = P's bins merged
 * into 128 groups, each group's mass spread evenly over the group's non-empty bins.
 */
export function entropyThresholdBin(hist0: ArrayLike<number>, quantBins = QUANTIZED_BINS): number {
  const bins = hist0.length;
  // The spike of exact zeros after a ReLU would dominate every distribution and drive the
  // threshold to the smallest one tried; like NVIDIA's pytorch-quantization entropy calibrator,
  // the zero bin takes its neighbour's count.
  const hist = Float64Array.from(hist0);
  if (bins > 1) hist[0] = hist[1];
  // Leading zeros carry no information; an all-zero tail would make every threshold equal.
  let lastNonZero = bins - 1;
  while (lastNonZero > 0 && hist[lastNonZero] === 0) lastNonZero--;
  if (lastNonZero < quantBins) return Math.max(lastNonZero, quantBins - 1);
  const suffix = new Float64Array(bins + 1);
  for (let i = bins - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + hist[i];
  let best = bins - 1;
  let bestKl = Infinity;
  const p = new Float64Array(bins);
  const q = new Float64Array(bins);
  for (let i = quantBins; i <= bins; i++) {
    for (let j = 0; j < i; j++) p[j] = hist[j];
    p[i - 1] += suffix[i];
    // Quantize hist[0..i) (without the folded outliers, as the reference method does) into quantBins groups.
    const per = i / quantBins;
    q.fill(0, 0, i);
    for (let g = 0; g < quantBins; g++) {
      const start = Math.floor(g * per);
      const end = g === quantBins - 1 ? i : Math.floor((g + 1) * per);
      let mass = 0;
      let nonZero = 0;
      for (let j = start; j < end; j++) {
        mass += hist[j];
        if (hist[j] !== 0) nonZero++;
      }
      if (nonZero === 0) continue;
      const share = mass / nonZero;
      for (let j = start; j < end; j++) if (hist[j] !== 0) q[j] = share;
    }
    const kl = klDivergence(p, q, i);
    if (kl < bestKl) {
      bestKl = kl;
      best = i - 1;
    }
  }
  return best;
}

/** KL(P || Q) over the first n bins, both normalised; bins where P is 0 add nothing; Q = 0 under P > 0 is smoothed. */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>, n: number): number {
  let sp = 0;
  let sq = 0;
  for (let j = 0; j < n; j++) {
    sp += p[j];
    sq += q[j];
  }
  if (sp === 0 || sq === 0) return Infinity;
  let kl = 0;
  for (let j = 0; j < n; j++) {
    if (p[j] === 0) continue;
    const pj = p[j] / sp;
    const qj = q[j] === 0 ? 1e-10 : q[j] / sq;
    kl += pj * Math.log(pj / qj);
  }
  return kl;
}

/** The symmetric INT8 scale of an amax. */
export const int8Scale = (amax: number) => (amax > 0 ? amax / 127 : 1 / 127);

/** A float as TensorRT writes it in a calibration cache: the big-endian IEEE-754 bits in hex. */
export function floatToCacheHex(v: number): string {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return b.toString('hex');
}

export function cacheHexToFloat(hex: string): number {
  if (!/^[0-9a-f]{8}$/.test(hex)) throw new Error(`"${hex}" is not 8 hex digits`);
  return Buffer.from(hex, 'hex').readFloatBE(0);
}

/**
 * TensorRT calibration cache text: a header `TRT-<version>-<Calibrator>` and one
 * `tensor: <scale hex>` line per tensor, in the given order.
 */
export function formatCalibrationCache(scales: { name: string; scale: number }[], calibrator: Calibrator, trtVersion = 8601): string {
  const tag = calibrator === 'entropy' ? 'EntropyCalibration2' : calibrator === 'percentile' ? 'PercentileCalibration' : 'MinMaxCalibration';
  return `TRT-${trtVersion}-${tag}\n${scales.map((s) => `${s.name}: ${floatToCacheHex(s.scale)}`).join('\n')}\n`;
}

/** Reads a calibration cache back: header and scales by tensor name. Errors name the line. */
export function parseCalibrationCache(text: string, where = 'calibration.cache'): { header: string; scales: Map<string, number> } {
  const lines = text.split('\n').filter((l) => l.length);
  if (!lines.length || !/^TRT-\d+-\w+$/.test(lines[0])) throw new Error(`${where}:1: expected a header like TRT-8601-EntropyCalibration2, got ${JSON.stringify(lines[0] ?? '')}`);
  const scales = new Map<string, number>();
  lines.slice(1).forEach((l, i) => {
    const m = /^(.*): ([0-9a-f]{8})$/.exec(l);
    if (!m) throw new Error(`${where}:${i + 2}: expected "tensor: 8 hex digits", got ${JSON.stringify(l)}`);
    scales.set(m[1], cacheHexToFloat(m[2]));
  });
  return { header: lines[0], scales };
}
