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
import { join } from 'node:path';
import { loadContract } from '../model/infer.js';
import { openSession } from '../model/session.js';
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
}

export interface BatchDetector {
  readonly contract: InferenceContract;
  /** One inference call of batch frames.length over RGB8 frames of width x height. */
  detectBatch(frames: readonly Uint8Array[], width: number, height: number): Promise<{ dets: Detection[][]; latencyMs: number }>;
  close(): Promise<void>;
}

/** Opens `modelDir` (model.onnx beside inference_config.json) for batched inference. */
export async function openBatchDetector(modelDir: string, opts: { threads?: number } = {}): Promise<BatchDetector> {
  const contract = loadContract(modelDir);
  const ort = await import('onnxruntime-node');
  const session = await openSession(ort, join(modelDir, 'model.onnx'), {
    intraOpNumThreads: opts.threads ?? 2,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const { width: W, height: H } = contract.input.resize;
  const per = 3 * W * H;
  // Grown to the largest batch seen, then reused: a shard's batch size is fixed.
  let input = new Float32Array(per);
  const names = contract.classes.map((c) => c.name);
  const options = decodeOptionsOf(contract);
  return {
    contract,
    async detectBatch(frames, width, height) {
      const n = frames.length;
      if (n === 0) return { dets: [], latencyMs: 0 };
      const t0 = performance.now();
      if (input.length < n * per) input = new Float32Array(n * per);
      const view = input.subarray(0, n * per);
      const boxes = frames.map((rgb, i) => preprocessInto(rgb, width, height, contract, view, i));
      const out = await session.run({ [contract.input.name]: new ort.Tensor('float32', view, [n, 3, H, W]) });
      const hm = out.heatmap;
      const [, , oh, ow] = hm.dims as number[];
      const dets = boxes.map((box, i) =>
        decodeCenterNet(hm.data as Float32Array, out.size.data as Float32Array, out.offset.data as Float32Array, i, names.length, oh, ow, box, options).map((d) => ({
          box: [d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]] as Detection['box'],
          score: d.score,
          cls: names[d.classIndex],
        })),
      );
      return { dets, latencyMs: performance.now() - t0 };
    },
    close: () => session.release(),
  };
}

/** The model as the loop's detector. */
export async function modelDetector(name: string, modelDir: string, opts: { threads?: number } = {}): Promise<SimDetector> {
  const d = await openBatchDetector(modelDir, opts);
  return {
    name,
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
