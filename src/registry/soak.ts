/**
 * The performance soak of a packaged engine before promotion (issue 20, item 5, "a performance
 * soak of the packaged engine for the recipe's duration"): ONNX Runtime runs the pack's model
 * back to back for the whole duration, and the run is cut into windows (every `windowS` seconds,
 * or every `windowInferences` inferences) with each window's p50/p95/p99, throughput and resident
 * memory. A short benchmark (src/steps/package/bench.ts) says how fast the engine is; a soak says
 * whether it stays so: latency that creeps up (thermal throttling, arena fragmentation, a
 * growing queue), memory that keeps growing (a leak in the runtime or around it), inferences that
 * start throwing or return NaN.
 *
 * The verdicts are a pure function of the windows (judgeSoak), so they are tested on synthetic
 * series and never on absolute timings:
 *   drift   the median p95 of the last `driftWindows` windows over that of the first ones; more
 *           than `maxP95Drift` fails. Medians of several windows, so one noisy window (another
 *           process on the core) does not decide it.
 *   memory  the least-squares slope of RSS over time (MiB per minute); it fails only when the
 *           slope exceeds `maxRssSlopeMiBPerMin` and the growth it fits over the soak exceeds
 *           `rssNoiseMiB`: RSS moves by a few MiB as the heap collects, which is not a leak.
 *   errors  inferences that threw or returned a non-finite value; more than `maxErrors` fails
 *           (and stops the soak: its verdict is then known).
 * Too few windows to compare is `inconclusive`, never a pass.
 *
 * Session options are the benches' (src/model/session.ts benchSessionOptions), so the soak runs
 * the engine as it was benchmarked; percentiles are paddock's one definition
 * (src/metrics/percentile.ts).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { InputError } from '../files/input-error.js';
import { seededRandom } from '../files/prng.js';
import { PERCENTILE_DEFINITION, percentileSorted } from '../metrics/percentile.js';
import { benchSessionOptions, openSession, ortReason, readRss } from '../model/session.js';
import { InferenceContract } from '../schema/inference-contract.js';

export class SoakError extends InputError {}

export const SoakBounds = z
  .object({
    /** Last windows' p95 over the first windows' p95 above which latency has drifted (1.5: 50% slower). */
    maxP95Drift: z.number().gt(1).default(1.5),
    /** Windows at each end whose median p95 is compared. */
    driftWindows: z.number().int().positive().default(3),
    /** RSS growth (least-squares slope, MiB per minute) above which memory grows... */
    maxRssSlopeMiBPerMin: z.number().nonnegative().default(4),
    /** ...provided the growth fitted over the soak also exceeds this many MiB (RSS noise below it is not a leak). */
    rssNoiseMiB: z.number().nonnegative().default(16),
    /**
     * The fraction of the windows, from the start, that memory is not judged on: ONNX Runtime's
     * arena grows until it holds the model's peak working set and then stays (this detector:
     * RSS 131 -> 159 MiB over its first 8 s, then flat to 0.1 MiB for 12 s), which a slope fitted
     * over the whole soak takes for a leak; a leak goes on growing after.
     */
    memorySettle: z.number().min(0).max(0.9).default(0.5),
    /** Inferences that may throw or return NaN/Inf. */
    maxErrors: z.number().int().nonnegative().default(0),
  })
  .strict();
export type SoakBounds = z.infer<typeof SoakBounds>;

export const SoakOptions = z
  .object({
    /** The ONNX model to soak (the pack's model.onnx, or a variant). */
    model: z.string().min(1),
    /** How long to run after the warm-up (the recipe's duration). */
    seconds: z.number().positive(),
    /** Intra-op threads (0: ONNX Runtime picks). */
    threads: z.number().int().nonnegative().default(0),
    batch: z.number().int().positive().default(1),
    /** Seconds of inference before the soak is timed (not in any window). */
    warmupS: z.number().nonnegative().default(1),
    /** A window every this many seconds... */
    windowS: z.number().positive().default(1),
    /** ...or every this many inferences, when given. */
    windowInferences: z.number().int().positive().optional(),
    /** The input's values: zeros, or seeded uniforms (a contract makes them pre-processed pixels). */
    input: z.enum(['zeros', 'random']).default('random'),
    /** The inference contract (inference_config.json: a path or its content): the input's name and shape, and its pre-processing for random pixels. */
    contract: z.unknown().optional(),
    seed: z.number().int().default(0),
    bounds: SoakBounds.default(SoakBounds.parse({})),
  })
  .strict();
export type SoakOptions = z.input<typeof SoakOptions>;

/** One window of the soak. Percentiles are null when no inference of the window succeeded. */
export interface SoakWindow {
  index: number;
  /** Seconds from the end of the warm-up to the window's start. */
  start_s: number;
  seconds: number;
  inferences: number;
  /** Inferences that threw. */
  errors: number;
  /** Inferences with a NaN or infinite value in an output. */
  non_finite: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
  max_ms: number | null;
  /** Items (inferences x batch) per second of the window's wall time. */
  items_per_s: number;
  /** Resident memory of the process at the window's end (MiB), and the JS heap's share. */
  rss_mib: number;
  heap_mib: number;
}

export interface SoakVerdict {
  status: 'pass' | 'fail' | 'inconclusive';
  detail: string;
  /** The figure judged: the p95 ratio, the RSS slope (MiB/min), the error count. */
  value: number | null;
}

export interface SoakVerdicts {
  drift: SoakVerdict;
  memory: SoakVerdict;
  errors: SoakVerdict;
  /** Every verdict passed. */
  ok: boolean;
}

export interface SoakResult extends SoakVerdicts {
  model: string;
  /** Each model input's name and the shape fed. */
  inputs: Record<string, number[]>;
  input: 'zeros' | 'random' | 'contract';
  threads: number;
  batch: number;
  warmup: { seconds: number; inferences: number };
  /** Seconds the soak ran after the warm-up. */
  seconds: number;
  windows: SoakWindow[];
  overall: { inferences: number; errors: number; non_finite: number; p50_ms: number | null; p95_ms: number | null; p99_ms: number | null };
  percentiles: string;
  bounds: SoakBounds;
  /** Why the soak stopped before its duration, if it did. */
  stopped: string | null;
  /** The first error an inference threw, if any (ONNX Runtime's reason without its source paths). */
  first_error: string | null;
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? percentileSorted(s, 0.5) : NaN;
};

/** Resident memory now (MiB): /proc/self/status's VmRSS (what the OS holds for the process), else Node's figure. */
function rssMiB(): number {
  const r = readRss();
  return r ? Math.round((r.rssKiB / 1024) * 10) / 10 : mib(process.memoryUsage.rss());
}

/**
 * The verdicts on a soak's windows (see the file's comment): latency drift, memory growth and
 * errors, each with the figure it judged and a detail naming the windows and numbers.
 */
export function judgeSoak(windows: readonly SoakWindow[], boundsIn: Partial<SoakBounds> = {}): SoakVerdicts {
  const b = SoakBounds.parse(boundsIn);
  const timed = windows.filter((w) => w.p95_ms !== null);
  let drift: SoakVerdict;
  if (timed.length < 2) drift = { status: 'inconclusive', value: null, detail: `${timed.length} window(s) with timed inferences; a drift needs at least 2 to compare` };
  else {
    const k = Math.min(b.driftWindows, Math.floor(timed.length / 2));
    const first = timed.slice(0, k);
    const last = timed.slice(-k);
    const p0 = median(first.map((w) => w.p95_ms!));
    const p1 = median(last.map((w) => w.p95_ms!));
    const ratio = p1 / p0;
    const span = (ws: SoakWindow[]) => (ws.length === 1 ? `window ${ws[0].index}` : `windows ${ws[0].index}-${ws[ws.length - 1].index}`);
    const text = `median p95 ${round(p1)} ms over ${span(last)} vs ${round(p0)} ms over ${span(first)}: x${round(ratio, 2)} (bound x${b.maxP95Drift})`;
    drift = ratio > b.maxP95Drift ? { status: 'fail', value: round(ratio, 3), detail: `latency drifted: ${text}` } : { status: 'pass', value: round(ratio, 3), detail: text };
  }

  let memory: SoakVerdict;
  // Judged on the windows after the arena settled (memorySettle), at least 2 where there are.
  const settled = windows.slice(Math.min(Math.floor(windows.length * b.memorySettle), Math.max(0, windows.length - 2)));
  if (settled.length < 2) memory = { status: 'inconclusive', value: null, detail: `${windows.length} window(s); a memory slope needs at least 2` };
  else {
    // Least squares of RSS against each window's end time, in minutes.
    const xs = settled.map((w) => (w.start_s + w.seconds) / 60);
    const ys = settled.map((w) => w.rss_mib);
    const mx = xs.reduce((a, x) => a + x, 0) / xs.length;
    const my = ys.reduce((a, y) => a + y, 0) / ys.length;
    const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    const slope = sxx > 0 ? xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / sxx : 0;
    const fitted = slope * (xs[xs.length - 1] - xs[0]);
    const text = `RSS ${ys[0]} -> ${ys[ys.length - 1]} MiB over windows ${settled[0].index}-${settled[settled.length - 1].index}${settled.length < windows.length ? ` (the first ${windows.length - settled.length} of ${windows.length} left out while the arena settles)` : ''}: slope ${round(slope, 2)} MiB/min, ${round(fitted, 1)} MiB fitted over the soak (bounds ${b.maxRssSlopeMiBPerMin} MiB/min and ${b.rssNoiseMiB} MiB)`;
    memory = slope > b.maxRssSlopeMiBPerMin && fitted > b.rssNoiseMiB ? { status: 'fail', value: round(slope, 3), detail: `memory grows: ${text}` } : { status: 'pass', value: round(slope, 3), detail: text };
  }

  const errs = windows.reduce((a, w) => a + w.errors + w.non_finite, 0);
  const thrown = windows.reduce((a, w) => a + w.errors, 0);
  const bad = windows.filter((w) => w.errors + w.non_finite > 0).map((w) => w.index);
  const inferences = windows.reduce((a, w) => a + w.inferences, 0);
  const errText = `${thrown} threw, ${errs - thrown} returned NaN/Inf, of ${inferences} inferences${bad.length ? ` (windows ${bad.slice(0, 10).join(', ')}${bad.length > 10 ? ', ...' : ''})` : ''}; bound ${b.maxErrors}`;
  const errors: SoakVerdict = inferences === 0 ? { status: 'inconclusive', value: 0, detail: 'no inference ran' } : errs > b.maxErrors ? { status: 'fail', value: errs, detail: `inference errors: ${errText}` } : { status: 'pass', value: errs, detail: errText };

  return { drift, memory, errors, ok: drift.status === 'pass' && memory.status === 'pass' && errors.status === 'pass' };
}

type Ort = typeof import('onnxruntime-node');

/** The contract's content from a path or a value, checked against its schema. */
function readContract(c: unknown): InferenceContract {
  let raw = c;
  const where = typeof c === 'string' ? c : 'the contract given';
  if (typeof c === 'string') {
    try {
      raw = JSON.parse(readFileSync(c, 'utf8'));
    } catch (err) {
      throw new SoakError(`contract ${c}: ${(err as Error).message}`);
    }
  }
  const parsed = InferenceContract.safeParse(raw);
  if (!parsed.success) throw new SoakError(`${where}: not an inference contract: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '/'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * One tensor per model input: the model's declared shape with symbolic dimensions as `batch`
 * (first) or 1, as the bench shapes them; with a contract, its input's shape, and random values
 * that are pre-processed pixels (uniform 0-255, times scale, minus mean, over std, per channel).
 */
function makeFeeds(ort: Ort, session: InferenceSession, o: z.infer<typeof SoakOptions>): { feeds: Record<string, Tensor>; shapes: Record<string, number[]>; kind: SoakResult['input'] } {
  const rand = seededRandom(o.seed);
  const contract = o.contract === undefined ? undefined : readContract(o.contract);
  if (contract && !session.inputMetadata.some((m) => m.name === contract.input.name)) throw new SoakError(`the contract's input ${contract.input.name} is not an input of ${o.model} (its inputs: ${session.inputMetadata.map((m) => m.name).join(', ')})`);
  const feeds: Record<string, Tensor> = {};
  const shapes: Record<string, number[]> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new SoakError(`${o.model}: input ${meta.name} is not a tensor; the soak feeds tensors only`);
    const fromContract = contract?.input.name === meta.name ? contract : undefined;
    let shape = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? o.batch : 1));
    if (fromContract) {
      const c = fromContract.input.shape;
      if (c[0] > 0 && c[0] !== o.batch) throw new SoakError(`the contract fixes the batch at ${c[0]}, the soak was asked for ${o.batch}`);
      shape = [o.batch, c[1], c[2], c[3]];
      const declared = meta.shape;
      if (declared.length !== 4 || declared.some((d, i) => typeof d === 'number' && d > 0 && d !== shape[i])) throw new SoakError(`the contract's input shape [${shape.join(', ')}] does not fit ${o.model}'s ${meta.name} [${declared.join(', ')}]`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
    const zeros = o.input === 'zeros';
    switch (meta.type) {
      case 'float32': {
        if (zeros) data = new Float32Array(n);
        else if (fromContract) {
          const { scale, mean, std } = fromContract.input;
          const plane = shape[2] * shape[3];
          data = Float32Array.from({ length: n }, (_, i) => {
            const ch = Math.floor(i / plane) % 3;
            return (Math.floor(rand() * 256) * scale - mean[ch]) / std[ch];
          });
        } else data = Float32Array.from({ length: n }, () => rand() * 2 - 1);
        break;
      }
      case 'int32':
        data = zeros ? new Int32Array(n) : Int32Array.from({ length: n }, () => Math.floor(rand() * 100));
        break;
      case 'int64':
        data = zeros ? new BigInt64Array(n) : BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rand() * 100)));
        break;
      case 'uint8':
        data = zeros ? new Uint8Array(n) : Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
        break;
      default:
        throw new SoakError(`${o.model}: input ${meta.name} has type ${meta.type}; the soak feeds float32, int32, int64 and uint8`);
    }
    feeds[meta.name] = new ort.Tensor(meta.type, data, shape);
    shapes[meta.name] = shape;
  }
  return { feeds, shapes, kind: contract ? 'contract' : o.input };
}

/** Whether any float output holds a NaN or an infinity. */
function nonFinite(outputs: InferenceSession.OnnxValueMapType): boolean {
  for (const v of Object.values(outputs)) {
    const data = (v as Tensor).data;
    if (data instanceof Float32Array || data instanceof Float64Array) {
      for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return true;
    }
  }
  return false;
}

/**
 * Soaks `model`: warm-up, then inference back to back for `seconds`, cut into windows, judged by
 * judgeSoak. `onWindow` sees each window as it closes (for a live view). A model ONNX Runtime
 * cannot load, or options that do not fit it, are a SoakError / ModelLoadError naming them.
 */
export async function runSoak(options: SoakOptions, onWindow?: (w: SoakWindow) => void): Promise<SoakResult> {
  const parsed = SoakOptions.safeParse(options);
  if (!parsed.success) throw new SoakError(`soak: ${parsed.error.issues.map((i) => `${i.path.join('.') || '/'}: ${i.message}`).join('; ')}`);
  const o = parsed.data;
  const ort = (await import('onnxruntime-node')) as Ort;
  const session = await openSession(ort, o.model, benchSessionOptions(o.threads));
  try {
    const { feeds, shapes, kind } = makeFeeds(ort, session, o);
    let firstError: string | null = null;
    const infer = async (): Promise<{ ms: number; ok: boolean; finite: boolean }> => {
      const t0 = performance.now();
      try {
        const out = await session.run(feeds);
        const ms = performance.now() - t0;
        // Checked outside the timed span: the soak times the engine, not the scan.
        return { ms, ok: true, finite: !nonFinite(out) };
      } catch (err) {
        firstError ??= ortReason((err as Error).message);
        return { ms: performance.now() - t0, ok: false, finite: true };
      }
    };

    const w0 = performance.now();
    let warm = 0;
    while (performance.now() - w0 < o.warmupS * 1000) {
      await infer();
      warm++;
    }
    if (firstError) throw new SoakError(`${o.model}: inference fails during the warm-up: ${firstError}`);
    const warmS = (performance.now() - w0) / 1000;

    const windows: SoakWindow[] = [];
    const all: number[] = [];
    let errorsTotal = 0;
    let stopped: string | null = null;
    const t0 = performance.now();
    const end = t0 + o.seconds * 1000;
    let ws = t0;
    let samples: number[] = [];
    let errors = 0;
    let bad = 0;
    const close = (now: number) => {
      const sorted = Float64Array.from(samples).sort();
      const q = (x: number) => (sorted.length ? round(percentileSorted(sorted, x)) : null);
      const inferences = samples.length + errors;
      const w: SoakWindow = {
        index: windows.length,
        start_s: round((ws - t0) / 1000),
        seconds: round((now - ws) / 1000),
        inferences,
        errors,
        non_finite: bad,
        p50_ms: q(0.5),
        p95_ms: q(0.95),
        p99_ms: q(0.99),
        mean_ms: sorted.length ? round(samples.reduce((a, x) => a + x, 0) / samples.length) : null,
        max_ms: sorted.length ? round(sorted[sorted.length - 1]) : null,
        items_per_s: round((inferences * o.batch) / Math.max((now - ws) / 1000, 1e-9), 1),
        rss_mib: rssMiB(),
        heap_mib: mib(process.memoryUsage().heapUsed),
      };
      windows.push(w);
      onWindow?.(w);
      for (const x of samples) all.push(x);
      samples = [];
      errors = 0;
      bad = 0;
      ws = now;
    };
    for (;;) {
      const r = await infer();
      if (r.ok) samples.push(r.ms);
      else errors++;
      if (!r.finite) bad++;
      if (!r.ok || !r.finite) errorsTotal++;
      const now = performance.now();
      const full = o.windowInferences !== undefined ? samples.length + errors >= o.windowInferences : now - ws >= o.windowS * 1000;
      if (errorsTotal > o.bounds.maxErrors) {
        stopped = `stopped after ${errorsTotal} failed inference(s), more than the ${o.bounds.maxErrors} allowed`;
        close(now);
        break;
      }
      if (now >= end) {
        if (samples.length + errors > 0) close(now);
        break;
      }
      // A timed window is not closed when less than half a window would be left after it: a
      // last window that short has too few samples for a p95, so the one before runs on to the end.
      if (full && (o.windowInferences !== undefined || end - now >= o.windowS * 500)) close(now);
    }
    const soakS = (performance.now() - t0) / 1000;
    const sorted = Float64Array.from(all).sort();
    const q = (x: number) => (sorted.length ? round(percentileSorted(sorted, x)) : null);
    const verdicts = judgeSoak(windows, o.bounds);
    return {
      model: o.model,
      inputs: shapes,
      input: kind,
      threads: o.threads,
      batch: o.batch,
      warmup: { seconds: round(warmS), inferences: warm },
      seconds: round(soakS),
      windows,
      overall: { inferences: windows.reduce((a, w) => a + w.inferences, 0), errors: windows.reduce((a, w) => a + w.errors, 0), non_finite: windows.reduce((a, w) => a + w.non_finite, 0), p50_ms: q(0.5), p95_ms: q(0.95), p99_ms: q(0.99) },
      percentiles: PERCENTILE_DEFINITION,
      bounds: o.bounds,
      stopped,
      first_error: firstError,
      ...verdicts,
    };
  } finally {
    await session.release();
  }
}
