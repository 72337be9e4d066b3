/**
 * Opening an ONNX Runtime session on a model file, with the error a user can act on: ONNX
 * Runtime's own text carries its source paths and C++ signatures
 * (`/onnxruntime_src/.../model.cc:187 onnxruntime::Model::Model(...) ModelProto does not have a
 * graph.`); the message keeps the file and the reason.
 *   fixtures/m/model.onnx: ONNX Runtime cannot load it: ModelProto does not have a graph.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { InputError } from '../files/input-error.js';

export class ModelLoadError extends InputError {}

/** ONNX Runtime's load failure without its source locations and C++ signatures. */
export function ortReason(message: string): string {
  const first = message.replace(/^Load model from .*? failed:/, '').trim();
  // "/onnxruntime_src/onnxruntime/core/graph/model.cc:187 onnxruntime::Model::Model(...) reason"
  const located = /^\/?\S*onnxruntime\S*:\d+ [^\s(]+\(.*?\)\s+(.*)$/s.exec(first);
  return (located ? located[1] : first).split('\n')[0].trim() || first;
}

/** A session on `file`; a file ONNX Runtime cannot load is a ModelLoadError naming it. */
export async function openSession(ort: typeof import('onnxruntime-node'), file: string, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, options);
  } catch (err) {
    throw new ModelLoadError(`${file}: ONNX Runtime cannot load it: ${ortReason((err as Error).message)}`);
  }
}
