/**
 * Contract-driven inference over a manifest: read frames (PNG inflated on libuv's threads, png.ts),
 * pre-process per the contract, run onnxruntime-node in batches, decode + NMS, and write COCO
 * results with every detection's class scores. Decoding the next batch overlaps the current
 * batch's inference, so both cores stay busy.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, isAbsolute } from 'node:path';
import { InferenceContract } from '../schema/inference-contract.js';
import { formatZodIssues } from '../schema/event-lines.js';
import { ManifestError, readGroundTruthBeside, readManifest as readManifestRows } from '../schema/manifest-load.js';
import { decodeCenterNet, type Detection, type Letterbox, decodeOptionsOf } from './decode.js';
import { createFrameReader } from './frame-reader.js';
import { InputError } from '../files/input-error.js';
import { openSession } from './session.js';

export class InferenceError extends InputError {}

export function loadContract(modelDir: string): InferenceContract {
  const file = join(modelDir, 'inference_config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InferenceError(`${file}: ${(err as Error).message}`);
  }
  const parsed = InferenceContract.safeParse(raw);
  if (!parsed.success) throw new InferenceError(`${file}: ${formatZodIssues(parsed.error, 5)}`);
  return parsed.data;
}

export interface ManifestEntry {
  frame_id: string;
  path: string;
  image_id: number;
}

/**
 * Reads a JSONL manifest (the one reader, src/schema/manifest-load.ts; a row needs only its frame
 * id and path). Frame paths are relative to the dataset root (the parent of the manifests/
 * folder); image ids come from the COCO ground truth beside the manifest (`<split>.coco.json`,
 * matched by file name) when it is there, else from the row number.
 */
export function readManifest(manifest: string): { root: string; entries: ManifestEntry[] } {
  let read: ReturnType<typeof readManifestRows<'frames'>>;
  try {
    read = readManifestRows(manifest, { rows: 'frames' });
  } catch (err) {
    if (err instanceof ManifestError) throw new InferenceError(err.message);
    throw err;
  }
  const byFile = new Map((readGroundTruthBeside(manifest)?.images ?? []).map((im) => [im.file_name, im.id]));
  const entries: ManifestEntry[] = read.rows.map((row, i) => ({ frame_id: row.frame_id, path: row.path, image_id: byFile.get(row.path) ?? i + 1 }));
  return { root: read.root, entries };
}

export interface CocoResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
  class_scores: number[];
}

export interface InferenceTimings {
  images: number;
  seconds: number;
  imagesPerSecond: number;
  /** Seconds the frame reader spent reading, decoding and pre-processing (overlapping inference when on a worker). */
  readFrames: number;
  /** Where frames were read: a worker thread or the inference thread. */
  readOn: 'worker' | 'thread';
  /** Seconds inference waited for frames to be ready. */
  waitForFrames: number;
  inference: number;
  postprocess: number;
}

export interface InferOptions {
  modelDir: string;
  manifest: string;
  batch?: number;
  threads?: number;
  limit?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function runInference(opts: InferOptions): Promise<{ results: CocoResult[]; detections: Detection[][]; timings: InferenceTimings; contract: InferenceContract }> {
  const contract = loadContract(opts.modelDir);
  const { root, entries: all } = readManifest(opts.manifest);
  const entries = opts.limit ? all.slice(0, opts.limit) : all;
  const ort = await import('onnxruntime-node');
  const session = await openSession(ort, join(opts.modelDir, 'model.onnx'), {
    intraOpNumThreads: opts.threads ?? 2,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Intra-op threads that spin after a run would steal this 2-core machine's CPU from the
    // pre- and post-processing that follows on the main thread.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const batch = opts.batch ?? 8;
  const { width: W, height: H } = contract.input.resize;
  const classes = contract.classes.length;
  const timings = { waitForFrames: 0, inference: 0, postprocess: 0 };
  const reader = createFrameReader(contract, batch);
  const sourcesOf = (k: number) => entries.slice(k, k + batch).map((e) => ({ file: isAbsolute(e.path) ? e.path : join(root, e.path), label: e.frame_id }));
  const results: CocoResult[] = [];
  const detections: Detection[][] = [];
  const t0 = performance.now();
  // Two input buffers: batch k+1 is read into one while batch k is inferred from the other.
  const fills = new Map<number, Promise<Letterbox[]>>();
  const request = (k: number) => {
    if (k >= entries.length) return;
    const fill = reader.fill((k / batch) % 2, sourcesOf(k));
    fill.catch(() => undefined); // a read ahead that fails is reported when its batch is awaited
    fills.set(k, fill);
  };
  request(0);
  request(batch);
  try {
    for (let k = 0; k < entries.length; k += batch) {
      let t = performance.now();
      const boxes = await fills.get(k)!.catch((err: Error) => {
        throw new InferenceError(err.message);
      });
      fills.delete(k);
      timings.waitForFrames += performance.now() - t;
      const n = boxes.length;
      const slot = reader.input((k / batch) % 2);
      t = performance.now();
      const out = await session.run({ [contract.input.name]: new ort.Tensor('float32', n === batch ? slot : slot.subarray(0, n * 3 * W * H), [n, 3, H, W]) });
      timings.inference += performance.now() - t;
      request(k + 2 * batch);
      t = performance.now();
      const hm = out.heatmap;
      const [, , oh, ow] = hm.dims as number[];
      for (let b = 0; b < n; b++) {
        const dets = decodeCenterNet(hm.data as Float32Array, out.size.data as Float32Array, out.offset.data as Float32Array, b, classes, oh, ow, boxes[b], decodeOptionsOf(contract));
        detections.push(dets);
        const image_id = entries[k + b].image_id;
        for (const d of dets) {
          const r2 = (x: number) => Math.round(x * 100) / 100;
          results.push({
            image_id,
            category_id: contract.classes[d.classIndex].category_id,
            bbox: [r2(d.bbox[0]), r2(d.bbox[1]), r2(d.bbox[2]), r2(d.bbox[3])],
            score: Math.round(d.score * 1e6) / 1e6,
            class_scores: d.classScores.map((s) => Math.round(s * 1e6) / 1e6),
          });
        }
      }
      timings.postprocess += performance.now() - t;
      opts.onProgress?.(Math.min(entries.length, k + batch), entries.length);
    }
  } finally {
    await Promise.allSettled(fills.values());
    await reader.close();
    await session.release();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    results,
    detections,
    contract,
    timings: {
      images: entries.length,
      seconds,
      imagesPerSecond: entries.length / seconds,
      readFrames: reader.busyMs() / 1000,
      readOn: reader.where,
      waitForFrames: timings.waitForFrames / 1000,
      inference: timings.inference / 1000,
      postprocess: timings.postprocess / 1000,
    },
  };
}

export function writeResults(file: string, results: CocoResult[]): void {
  writeFileSync(file, `[\n${results.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
}
