/**
 * The `bench` step: load an ONNX model with onnxruntime-node, time inference on inputs shaped
 * from the model's declared inputs, stream latency batches live, report p50/p95/p99 (exact, from
 * the samples, by the one definition of src/metrics/percentile.ts), throughput and peak RSS.
 *
 * It runs as its own process so that the workbench drawing the histogram does not share its
 * event loop with the timed loop (bench/bench-overhead.ts measures how close it stays to a
 * bare onnxruntime-node loop).
 */
import { z } from 'zod';
import { emit } from '../emit.js';
import { PERCENTILE_DEFINITION, percentileSorted } from '../../metrics/percentile.js';
import { benchSessionOptions, type SessionMemory } from '../../model/session.js';
import { seededRandom } from '../../files/prng.js';
import { BenchParams } from './bench.step.js';

export type BenchParams = z.infer<typeof BenchParams>;

type Ort = typeof import('onnxruntime-node');

/** Makes one input tensor per declared model input; symbolic dimensions take the batch size (first) or 1. */
export function makeFeeds(ort: Ort, session: import('onnxruntime-node').InferenceSession, batch: number, seed: number) {
  const rand = seededRandom(seed);
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
  const shapes: Record<string, number[]> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`input ${meta.name} is not a tensor; bench supports tensor inputs only`);
    const shape = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? batch : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
    switch (meta.type) {
      case 'float32':
        data = Float32Array.from({ length: n }, () => rand() * 2 - 1);
        break;
      case 'int32':
        data = Int32Array.from({ length: n }, () => Math.floor(rand() * 100));
        break;
      case 'int64':
        data = BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rand() * 100)));
        break;
      case 'uint8':
        data = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
        break;
      default:
        throw new Error(`input ${meta.name} has type ${meta.type}; bench supports float32, int32, int64 and uint8`);
    }
    feeds[meta.name] = new ort.Tensor(meta.type, data, shape);
    shapes[meta.name] = shape;
  }
  return { feeds, shapes };
}

export async function runBench(p: z.infer<typeof BenchParams>): Promise<number> {
  const ort = (await import('onnxruntime-node')) as Ort;
  emit({ type: 'log', level: 'info', message: `loading ${p.model}` });
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(p.model, benchSessionOptions(p.threads));
  } catch (err) {
    process.stderr.write(`bench: cannot load ONNX model ${p.model}: ${(err as Error).message}\n`);
    return 1;
  }
  await timeSession(ort, session, p);
  await session.release();
  return 0;
}

export interface BenchSummary {
  target: string;
  batch: number;
  samples: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  mean_ms: number;
  items_per_s: number;
  /** How p50/p95/p99 were computed: exactly, from every timed sample (PERCENTILE_DEFINITION). */
  percentiles: string;
  /** Peak resident memory, where the caller measured it around the session (bench-variants). */
  memory?: SessionMemory;
}

/** Where one session's runs fall in a longer count (bench-variants times several in one step). */
export interface RunsProgress {
  /** Timed runs of the step before this session's. */
  before: number;
  total: number;
  message: string;
}

/**
 * Times one session: warm-up, then `iterations` timed runs on seeded inputs, latency batches
 * streamed every `reportMs` with progress (this session's runs, or the step's with `progress`),
 * and the summary metrics emitted for `target`.
 */
export async function timeSession(ort: Ort, session: import('onnxruntime-node').InferenceSession, p: Pick<BenchParams, 'target' | 'iterations' | 'warmup' | 'batch' | 'threads' | 'reportMs' | 'seed'>, progress?: RunsProgress): Promise<BenchSummary> {
  const runs = (done: number) => emit({ type: 'progress', done: (progress?.before ?? 0) + done, total: progress?.total ?? p.iterations, unit: 'runs', ...(progress ? { message: progress.message } : {}) });
  const { feeds, shapes } = makeFeeds(ort, session, p.batch, p.seed);
  emit({
    type: 'log',
    level: 'info',
    message: `inputs ${Object.entries(shapes).map(([k, s]) => `${k}[${s.join('x')}]`).join(' ')}; ${p.warmup} warm-up + ${p.iterations} timed runs, ${p.threads || 'auto'} thread(s)`,
  });

  for (let i = 0; i < p.warmup; i++) await session.run(feeds);

  // Every sample is kept for the summary (8 bytes a run): the percentiles are exact, not the
  // live histogram's estimates; the latency events carry the same samples for the live views.
  const samples = new Float64Array(p.iterations);
  let sent = 0;
  let lastReport = performance.now();
  const t0 = performance.now();
  for (let i = 0; i < p.iterations; i++) {
    const s = performance.now();
    await session.run(feeds);
    const e = performance.now();
    samples[i] = e - s;
    if (e - lastReport >= p.reportMs) {
      emit({ type: 'latency', target: p.target, samples: Array.from(samples.subarray(sent, i + 1)) });
      runs(i + 1);
      sent = i + 1;
      lastReport = performance.now();
    }
  }
  const wall = performance.now() - t0;
  if (sent < p.iterations) emit({ type: 'latency', target: p.target, samples: Array.from(samples.subarray(sent)) });
  runs(p.iterations);
  const sorted = samples.slice().sort();
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const q = (x: number) => percentileSorted(sorted, x);
  const den = { samples: samples.length, batch: p.batch };
  const metric = (name: string, value: number, unit: string) => emit({ type: 'metric', name, value, unit, target: p.target, denominators: den });
  metric('latency.p50_ms', q(0.5), 'ms');
  metric('latency.p95_ms', q(0.95), 'ms');
  metric('latency.p99_ms', q(0.99), 'ms');
  metric('latency.mean_ms', mean, 'ms');
  metric('throughput.items_per_s', (p.iterations * p.batch) / (wall / 1000), 'items/s');
  metric('memory.peak_rss_mb', process.resourceUsage().maxRSS / 1024, 'MiB');
  return { target: p.target, batch: p.batch, samples: samples.length, p50_ms: q(0.5), p95_ms: q(0.95), p99_ms: q(0.99), mean_ms: mean, items_per_s: (p.iterations * p.batch) / (wall / 1000), percentiles: PERCENTILE_DEFINITION };
}
