/**
 * Reads a manifest's frames into batch input tensors: file -> PNG decode (png.ts, sharp for
 * anything it does not take) -> the contract's pre-processing (preprocess.ts).
 *
 * onnxruntime-node runs a session synchronously on the JavaScript thread (its `run` is a
 * setImmediate around the native call), so frames decoded on that thread cannot overlap
 * inference. The reader therefore runs on a worker thread and fills input buffers one batch
 * ahead: while batch k is inferred, batch k+1 is read. Buffers move between the threads by
 * transfer, not copy (onnxruntime-node refuses a SharedArrayBuffer view: "Invalid argument").
 * Measured in bench/infer.ts.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { InferenceContract } from '../schema/inference-contract.js';
import type { Letterbox } from './decode.js';
import { decodePngRgb, type RgbImage } from './png.js';
import { preprocessInto } from './preprocess.js';
import { installRoot } from '../files/install-root.js';
import { InputError } from '../files/input-error.js';

export class FrameReadError extends InputError {}

/** One frame to read: its file and how to name it in an error. */
export interface FrameSource {
  file: string;
  label: string;
}

async function decodeFrame(src: FrameSource): Promise<RgbImage> {
  const where = `${src.file} (${src.label})`;
  let bytes: Buffer;
  try {
    bytes = readFileSync(src.file);
  } catch (err) {
    throw new FrameReadError(`${where}: cannot read the frame: ${(err as Error).message}`);
  }
  let image: RgbImage | undefined;
  try {
    image = decodePngRgb(bytes, where);
  } catch (err) {
    throw new FrameReadError(`${(err as Error).message}`);
  }
  if (image) return image;
  // Not an 8-bit RGB(A) PNG (palette, grey, 16-bit, JPEG...): libvips reads it.
  const sharp = (await import('sharp')).default;
  try {
    const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    throw new FrameReadError(`${where}: cannot decode the frame: ${(err as Error).message}`);
  }
}

/** Reads frames `sources` into `input` (slots 0..n-1) and returns each one's letterbox. */
export async function readFramesInto(sources: FrameSource[], contract: InferenceContract, input: Float32Array): Promise<Letterbox[]> {
  const boxes: Letterbox[] = [];
  for (let b = 0; b < sources.length; b++) {
    const image = await decodeFrame(sources[b]);
    boxes.push(preprocessInto(image.data, image.width, image.height, contract, input, b));
  }
  return boxes;
}

export interface FrameReader {
  /** Starts reading `sources` into buffer `slot` (not to be touched until this resolves); resolves with the letterboxes. */
  fill(slot: number, sources: FrameSource[]): Promise<Letterbox[]>;
  /** The input tensor data of a slot, `batch * 3 * H * W` floats, once its fill has resolved. */
  input(slot: number): Float32Array;
  /** Milliseconds the reader spent reading, decoding and pre-processing so far. */
  busyMs(): number;
  close(): Promise<void>;
  /** 'worker' or 'thread': where frames are read. */
  readonly where: 'worker' | 'thread';
}

type Reply = { slot: number; buffer: ArrayBuffer; boxes: Letterbox[]; ms: number } | { slot: number; buffer: ArrayBuffer; error: string };

/**
 * A frame reader with `slots` input buffers of `batch` frames each. It runs on a worker thread
 * when dist/frame-reader.js is built (PADDOCK_FRAME_READER=thread keeps it on this thread).
 */
export function createFrameReader(contract: InferenceContract, batch: number, slots = 2): FrameReader {
  const { width: W, height: H } = contract.input.resize;
  const floats = batch * 3 * W * H;
  const script = join(installRoot(), 'dist', 'frame-reader.js');
  const useWorker = process.env.PADDOCK_FRAME_READER !== 'thread' && existsSync(script);
  const inputs = Array.from({ length: slots }, () => new Float32Array(floats));
  let busy = 0;
  if (!useWorker) {
    return {
      where: 'thread',
      async fill(slot, sources) {
        const t = performance.now();
        const boxes = await readFramesInto(sources, contract, inputs[slot]);
        busy += performance.now() - t;
        return boxes;
      },
      input: (slot) => inputs[slot],
      busyMs: () => busy,
      close: async () => undefined,
    };
  }
  const worker = new Worker(script, { workerData: { contract } });
  const pending = new Map<number, { resolve: (b: Letterbox[]) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (m: Reply) => {
    const p = pending.get(m.slot);
    if (!p) return;
    pending.delete(m.slot);
    inputs[m.slot] = new Float32Array(m.buffer);
    if ('error' in m) p.reject(new FrameReadError(m.error));
    else {
      busy += m.ms;
      p.resolve(m.boxes);
    }
  });
  worker.on('error', (err) => failAll(new FrameReadError(`frame reader thread failed: ${err.message}`)));
  worker.on('exit', (code) => failAll(new FrameReadError(`frame reader thread exited (code ${code})`)));
  return {
    where: 'worker',
    fill(slot, sources) {
      return new Promise((resolve, reject) => {
        pending.set(slot, { resolve, reject });
        const buffer = inputs[slot].buffer as ArrayBuffer;
        worker.postMessage({ slot, sources, buffer }, [buffer]);
      });
    },
    input: (slot) => inputs[slot],
    busyMs: () => busy,
    async close() {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}
