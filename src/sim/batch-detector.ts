/**
 * The detectors a closed loop drives with. `openBatchDetector` is the model: one ONNX Runtime
 * session per model (src/model/session.ts, the session options of src/replay/detector.ts) and
 * one call of batch N for N frames (the models' batch axis is dynamic), with the inference
 * contract's pre- and post-processing for each batch slot (preprocessInto with slot i,
 * decodeCenterNet with batch index i). Lockstep runs of a shard batch their frames through it.
 *
 * Batch N against batch 1: on this machine's CPU (ONNX Runtime 1.x, MLAS) the detections of a
 * frame in a batch of N are the same as alone, bit for bit (test/sim/closed-loop.test.ts checks
 * it for every slot of a batch of 8). Should another CPU's kernels block a batch differently,
 * a lockstep run still gives the same bytes for the same shard, because a shard's runs always
 * advance together in the same order (src/sim/closed-loop.ts): its batch at each tick is fixed.
 *
 * `oracleDetector` returns the renderer's ground truth (the world's truth, the perfect
 * detector of the known-outcome tests) and `blindDetector` nothing at all.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadContract } from '../model/infer.js';
import { ModelLoadError, openSession, ortReason } from '../model/session.js';
import { preprocessInto } from '../model/preprocess.js';
import { decodeCenterNet, decodeOptionsOf } from '../model/decode.js';
import type { InferenceContract } from '../schema/inference-contract.js';
import type { Detection } from '../replay/types.js';
import type { Frame } from '../world/render.js';

/** What the loop asks of a detector: the detections of each frame of a tick, in one call. */
export interface SimDetector {
  readonly name: string;
  /** Detections per frame (same order) and the call's milliseconds (pre, run, post). */
  detect(frames: readonly Frame[]): Promise<{ dets: Detection[][]; latencyMs: number }>;
  close(): Promise<void>;
  /** Its calls compute off this thread, so the loop gains by working while one is in flight (runLockstep pipelines then). */
  readonly concurrent?: boolean;
}

export interface BatchDetector {
  readonly contract: InferenceContract;
  /** One inference call of batch frames.length over RGB8 frames of width x height. */
  detectBatch(frames: readonly Uint8Array[], width: number, height: number): Promise<{ dets: Detection[][]; latencyMs: number }>;
  close(): Promise<void>;
}

export interface BatchDetectorOptions {
  /** ONNX Runtime intra-op threads (default 2). */
  threads?: number;
  /**
   * Run the session on a worker thread. onnxruntime-node's `session.run` returns a promise but
   * computes synchronously on the calling thread (1.30: a setImmediate around the native call;
   * a timer does not fire during it), so only a worker lets the loop render while the model
   * infers (runLockstep's pipeline). Pre- and post-processing stay on the calling thread.
   */
  worker?: boolean;
}

/** The raw model call: NCHW input of batch n in, the three CenterNet heads out. */
type ModelCall = (input: Float32Array, n: number) => Promise<{ heatmap: Float32Array; size: Float32Array; offset: Float32Array; dims: number[]; runMs: number; input?: Float32Array }>;

function sessionOptions(threads: number) {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  } as const;
}

/** The session on this thread. */
async function localCall(file: string, contract: InferenceContract, threads: number): Promise<{ call: ModelCall; close(): Promise<void> }> {
  const ort = await import('onnxruntime-node');
  const session = await openSession(ort, file, sessionOptions(threads));
  const { width: W, height: H } = contract.input.resize;
  return {
    async call(input, n) {
      const t0 = performance.now();
      const out = await session.run({ [contract.input.name]: new ort.Tensor('float32', input, [n, 3, H, W]) });
      return { heatmap: out.heatmap.data as Float32Array, size: out.size.data as Float32Array, offset: out.offset.data as Float32Array, dims: out.heatmap.dims as number[], runMs: performance.now() - t0 };
    },
    close: () => session.release(),
  };
}

/**
 * The worker's program, plain JavaScript so that it runs the same from the sources (vitest), the
 * bench bundle and dist/: it loads onnxruntime-node by URL and answers {id, n, input} with the
 * heads (copied back; the input buffer is handed back for reuse).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
(async () => {
  const mod = await import(workerData.ort);
  const ort = mod.InferenceSession ? mod : mod.default;
  let session;
  try {
    session = await ort.InferenceSession.create(workerData.file, workerData.options);
    parentPort.postMessage({ id: 0, ok: true });
  } catch (e) {
    parentPort.postMessage({ id: 0, error: String(e && e.message || e) });
    return;
  }
  parentPort.on('message', async (m) => {
    if (m.close) { await session.release(); parentPort.postMessage({ id: m.id, ok: true }); return; }
    try {
      const t0 = performance.now();
      const out = await session.run({ [workerData.input]: new ort.Tensor('float32', m.input.subarray(0, m.n * workerData.per), [m.n, 3, workerData.h, workerData.w]) });
      const runMs = performance.now() - t0;
      parentPort.postMessage({ id: m.id, input: m.input, heatmap: out.heatmap.data, size: out.size.data, offset: out.offset.data, dims: out.heatmap.dims, runMs }, [m.input.buffer]);
    } catch (e) {
      parentPort.postMessage({ id: m.id, input: m.input, error: String(e && e.message || e) }, [m.input.buffer]);
    }
  });
})();
`;

/** The session on a worker thread; calls may overlap (they queue in the worker, in order). */
async function workerCall(file: string, contract: InferenceContract, threads: number): Promise<{ call: ModelCall; close(): Promise<void> }> {
  const { Worker } = await import('node:worker_threads');
  const ort = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;
  const { width: W, height: H } = contract.input.resize;
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ort, file, options: sessionOptions(threads), input: contract.input.name, per: 3 * W * H, w: W, h: H } });
  const waiting = new Map<number, { resolve(m: any): void; reject(e: Error): void }>();
  let failure: Error | null = null;
  worker.on('message', (m) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error) w?.reject(m.id === 0 ? new ModelLoadError(`${file}: ONNX Runtime cannot load it: ${ortReason(m.error)}`) : new Error(`${file}: ONNX Runtime: ${m.error}`));
    else w?.resolve(m);
  });
  const fail = (e: Error) => {
    failure ??= e;
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`${file}: the inference worker exited (${code})`)));
  let next = 1;
  const ask = (msg: Record<string, unknown>, transfer: ArrayBuffer[] = []) =>
    new Promise<any>((resolve, reject) => {
      if (failure) return reject(failure);
      const id = msg.id as number;
      waiting.set(id, { resolve, reject });
      worker.postMessage(msg, transfer);
    });
  await new Promise<void>((resolve, reject) => waiting.set(0, { resolve: () => resolve(), reject }));
  return {
    async call(input, n) {
      // The buffer travels to the worker and back (transferred, not copied); the caller gets it back as m.input.
      const m = await ask({ id: next++, input, n }, [input.buffer as ArrayBuffer]);
      return { heatmap: m.heatmap, size: m.size, offset: m.offset, dims: m.dims, runMs: m.runMs, input: new Float32Array(m.input.buffer) };
    },
    async close() {
      if (!failure) await ask({ id: next++, close: true });
      failure = new Error(`${file}: the detector is closed`);
      await worker.terminate();
    },
  };
}

/** Opens `modelDir` (model.onnx beside inference_config.json) for batched inference. */
export async function openBatchDetector(modelDir: string, opts: BatchDetectorOptions = {}): Promise<BatchDetector> {
  const contract = loadContract(modelDir);
  const file = join(modelDir, 'model.onnx');
  const model = await (opts.worker ? workerCall : localCall)(file, contract, opts.threads ?? 2);
  const { width: W, height: H } = contract.input.resize;
  const per = 3 * W * H;
  // Input buffers, reused: one per call in flight (a pipelined shard has two), grown to the largest batch.
  const free: Float32Array[] = [];
  const names = contract.classes.map((c) => c.name);
  const options = decodeOptionsOf(contract);
  return {
    contract,
    async detectBatch(frames, width, height) {
      const n = frames.length;
      if (n === 0) return { dets: [], latencyMs: 0 };
      const t0 = performance.now();
      let input = free.pop();
      if (!input || input.length < n * per) input = new Float32Array(n * per);
      const view = input.subarray(0, n * per);
      const boxes = frames.map((rgb, i) => preprocessInto(rgb, width, height, contract, view, i));
      const tPre = performance.now() - t0;
      const out = await model.call(view, n);
      // A worker hands the (transferred) buffer back; this thread's session never took it.
      free.push(out.input ?? input);
      const t1 = performance.now();
      const [, , oh, ow] = out.dims;
      const dets = boxes.map((box, i) =>
        decodeCenterNet(out.heatmap, out.size, out.offset, i, names.length, oh, ow, box, options).map((d) => ({
          box: [d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]] as Detection['box'],
          score: d.score,
          cls: names[d.classIndex],
        })),
      );
      // Pre + the model's own time + post: with a pipelined loop, the wait for the result also
      // holds the other half's work on this thread, which is not this call's latency.
      return { dets, latencyMs: tPre + out.runMs + (performance.now() - t1) };
    },
    close: () => model.close(),
  };
}

/** The model as the loop's detector; `worker: true` makes its calls overlap this thread's work (`concurrent`). */
export async function modelDetector(name: string, modelDir: string, opts: BatchDetectorOptions = {}): Promise<SimDetector> {
  const d = await openBatchDetector(modelDir, opts);
  return {
    name,
    concurrent: opts.worker === true,
    detect: (frames) => d.detectBatch(frames.map((f) => f.rgb), frames[0]?.width ?? 0, frames[0]?.height ?? 0),
    close: () => d.close(),
  };
}

/** The renderer's ground truth as detections (score 1): the perfect detector. Hard objects (too small, hidden) are left out, as a detector would miss them. */
export function oracleDetector(): SimDetector {
  return {
    name: 'oracle',
    detect: async (frames) => ({
      dets: frames.map((f) => f.objects.filter((o) => !o.hard).map((o) => ({ box: [...o.bbox] as Detection['box'], score: 1, cls: o.cls }))),
      latencyMs: 0,
    }),
    close: async () => undefined,
  };
}

/** A detector that sees nothing. */
export function blindDetector(): SimDetector {
  return { name: 'blind', detect: async (frames) => ({ dets: frames.map(() => []), latencyMs: 0 }), close: async () => undefined };
}
