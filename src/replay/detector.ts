/**
 * A detector for replay: one frame at a time, as a vehicle's perception node runs it (batch 1),
 * with the inference contract's pre- and post-processing and the wall time of each call, so the
 * replay can tell which frames would have missed their deadline. ONNX Runtime on this machine's
 * CPU, the session options of src/model/infer.ts.
 */
import { join } from 'node:path';
import { loadContract } from '../model/infer.js';
import { openSession } from '../model/session.js';
import { preprocessInto } from '../model/preprocess.js';
import { decodeCenterNet, decodeOptionsOf } from '../model/decode.js';
import type { InferenceContract } from '../schema/inference-contract.js';
import type { Detection } from './types.js';

export interface FrameDetector {
  readonly contract: InferenceContract;
  /** Detections of one RGB8 frame and the milliseconds the call took (pre, run, post). */
  detect(rgb: Uint8Array, width: number, height: number): Promise<{ dets: Detection[]; latencyMs: number }>;
  close(): Promise<void>;
}

/** Opens `modelDir` (model.onnx beside inference_config.json) for frame-by-frame replay. */
export async function openFrameDetector(modelDir: string, threads = 2): Promise<FrameDetector> {
  const contract = loadContract(modelDir);
  const ort = await import('onnxruntime-node');
  const session = await openSession(ort, join(modelDir, 'model.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const { width: W, height: H } = contract.input.resize;
  const input = new Float32Array(3 * W * H);
  const names = contract.classes.map((c) => c.name);
  const options = decodeOptionsOf(contract);
  return {
    contract,
    async detect(rgb, width, height) {
      const t0 = performance.now();
      const box = preprocessInto(rgb, width, height, contract, input, 0);
      const out = await session.run({ [contract.input.name]: new ort.Tensor('float32', input, [1, 3, H, W]) });
      const hm = out.heatmap;
      const [, , oh, ow] = hm.dims as number[];
      const decoded = decodeCenterNet(hm.data as Float32Array, out.size.data as Float32Array, out.offset.data as Float32Array, 0, names.length, oh, ow, box, options);
      const dets = decoded.map((d) => ({ box: [d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]] as Detection['box'], score: d.score, cls: names[d.classIndex] }));
      return { dets, latencyMs: performance.now() - t0 };
    },
    close: () => session.release(),
  };
}
