/** The world detector (fixtures/world/models/candidate) for tests that rewrite and run it in onnxruntime. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel, type OnnxModel } from '../../src/model/onnx-proto.js';
import { FIXTURES } from './fixtures.js';

/** The candidate's FP32 ONNX, decoded afresh (callers may change it). */
export const candidateFp32 = (): OnnxModel => decodeModel(readFileSync(join(FIXTURES, 'world', 'models', 'candidate', 'model.onnx')));

/** A deterministic input of `n` frames that looks like a normalised image (smooth plus texture), not noise. */
export function imageLikeInput(n = 2): Float32Array {
  const x = new Float32Array(n * 3 * 192 * 320);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.0007) * 1.2 + Math.cos(i * 0.013) * 0.4;
  return x;
}

/** Runs `m` in a fresh onnxruntime session on `x` (default: imageLikeInput()). */
export async function runModel(m: OnnxModel, x = imageLikeInput()): Promise<ort.InferenceSession.OnnxValueMapType> {
  const s = await ort.InferenceSession.create(encodeModel(m));
  const r = await s.run({ images: new ort.Tensor('float32', x, [x.length / (3 * 192 * 320), 3, 192, 320]) });
  await s.release();
  return r;
}
