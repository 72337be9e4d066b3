/**
 * End-to-end inference over golden_test (read PNG, pre-process per the contract, ONNX Runtime,
 * decode + NMS) against a bare onnxruntime-node loop on ready-made tensors, same model, batch
 * and threads, in the same run. Goal: reading, pre- and post-processing cost < 10% of the time
 * of inference (end to end within 10% of the bare loop).
 * Needs the world: `paddock world build` (build/world) and the committed candidate model.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runInference, loadContract } from '../src/model/infer.js';
import { median, writeResults, ROOT } from './common.js';

const modelDir = join(ROOT, 'fixtures', 'world', 'models', 'candidate');
const manifest = join(ROOT, 'build', 'world', 'manifests', 'golden_test.jsonl');
if (!existsSync(manifest)) throw new Error(`${manifest} is missing: run "node dist/paddock.js world build" first`);
const LIMIT = 400;
const BATCH = 8;
const THREADS = 2;

const ort = await import('onnxruntime-node');
const contract = loadContract(modelDir);
const { width: W, height: H } = contract.input.resize;

async function bare(): Promise<number> {
  const session = await ort.InferenceSession.create(join(modelDir, 'model.onnx'), { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } });
  const batches = Array.from({ length: LIMIT / BATCH }, (_, k) => {
    const a = new Float32Array(BATCH * 3 * W * H);
    for (let i = 0; i < a.length; i++) a[i] = ((i * 2654435761 + k) % 1000) / 500 - 1;
    return new ort.Tensor('float32', a, [BATCH, 3, H, W]);
  });
  await session.run({ images: batches[0] });
  const t = performance.now();
  for (const b of batches) await session.run({ images: b });
  const s = (performance.now() - t) / 1000;
  await session.release();
  return LIMIT / s;
}

/** Pre- and post-processing timed on their own: frames decoded first, then each phase in turn, no overlap. */
async function serial(): Promise<{ read: number; pre: number; inference: number; post: number }> {
  const { readManifest } = await import('../src/model/infer.js');
  const { preprocessInto } = await import('../src/model/preprocess.js');
  const { decodeCenterNet } = await import('../src/model/decode.js');
  const { decodePngRgb } = await import('../src/model/png.js');
  const { readFileSync } = await import('node:fs');
  const { root, entries } = readManifest(manifest);
  const files = entries.slice(0, LIMIT).map((e) => readFileSync(join(root, e.path)));
  const t0 = performance.now();
  const frames: Uint8Array[] = [];
  for (const [i, f] of files.entries()) frames.push(decodePngRgb(f, entries[i].path)!.data);
  const read = (performance.now() - t0) / 1000;
  const session = await ort.InferenceSession.create(join(modelDir, 'model.onnx'), { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } });
  const input = new Float32Array(BATCH * 3 * W * H);
  let pre = 0;
  let inference = 0;
  let post = 0;
  for (let k = 0; k < frames.length; k += BATCH) {
    let t = performance.now();
    const lbs = frames.slice(k, k + BATCH).map((f, b) => preprocessInto(f, W, H, contract, input, b));
    pre += performance.now() - t;
    t = performance.now();
    const out = await session.run({ images: new ort.Tensor('float32', input, [BATCH, 3, H, W]) });
    inference += performance.now() - t;
    t = performance.now();
    const [, , oh, ow] = out.heatmap.dims as number[];
    for (let b = 0; b < lbs.length; b++) decodeCenterNet(out.heatmap.data as Float32Array, out.size.data as Float32Array, out.offset.data as Float32Array, b, 3, oh, ow, lbs[b], { stride: 4, topK: 100, scoreThreshold: contract.score_threshold, nmsIou: contract.nms_iou, maxDetections: contract.max_detections });
    post += performance.now() - t;
  }
  await session.release();
  return { read, pre: pre / 1000, inference: inference / 1000, post: post / 1000 };
}

const bareRates: number[] = [];
const serialRuns: Awaited<ReturnType<typeof serial>>[] = [];
const e2e: Awaited<ReturnType<typeof runInference>>['timings'][] = [];
for (let rep = 0; rep < 3; rep++) {
  bareRates.push(await bare());
  e2e.push((await runInference({ modelDir, manifest, limit: LIMIT, batch: BATCH, threads: THREADS })).timings);
  serialRuns.push(await serial());
}
const sPre = median(serialRuns.map((r) => r.pre));
const sInf = median(serialRuns.map((r) => r.inference));
const sPost = median(serialRuns.map((r) => r.post));
const sRead = median(serialRuns.map((r) => r.read));
const serialOverhead = (sPre + sPost) / sInf;
const pick = (f: (t: (typeof e2e)[number]) => number) => median(e2e.map(f));
const rate = pick((t) => t.imagesPerSecond);
const inference = pick((t) => t.inference);
const read = pick((t) => t.readFrames);
const wait = pick((t) => t.waitForFrames);
const post = pick((t) => t.postprocess);
const bareRate = median(bareRates);
const e2eOverhead = bareRate / rate - 1;
console.log(`bare onnxruntime loop on ready tensors: ${bareRate.toFixed(1)} images/s (batch ${BATCH}, ${THREADS} threads)`);
console.log(`paddock infer end to end (PNG files -> COCO results): ${rate.toFixed(1)} images/s = x${(rate / bareRate).toFixed(3)} of the bare loop; for ${LIMIT} frames: inference ${inference.toFixed(2)} s, post-processing ${post.toFixed(3)} s on the inference thread, reading + pre-processing ${read.toFixed(2)} s on the ${e2e[0].readOn === 'worker' ? 'reader thread (overlapped)' : 'inference thread'}, inference waited ${wait.toFixed(3)} s for frames`);
console.log(`cost of reading, pre- and post-processing end to end: ${(e2eOverhead * 100).toFixed(1)}% over the bare loop's time; goal < 10%: ${e2eOverhead < 0.1 ? 'met' : 'NOT met'}`);
console.log(`timed on their own, one thread, no overlap: PNG decode ${(sRead * 1000 / LIMIT).toFixed(3)} ms/frame, pre-processing ${(sPre * 1000 / LIMIT).toFixed(3)} ms/frame, post-processing ${(sPost * 1000 / LIMIT).toFixed(3)} ms/frame, inference ${(sInf * 1000 / LIMIT).toFixed(3)} ms/frame (wall, ${THREADS} threads): pre + post = ${(serialOverhead * 100).toFixed(1)}% of inference`);
console.log(`figures: ${writeResults('infer', { frames: LIMIT, batch: BATCH, threads: THREADS, bareImagesPerSecond: bareRate, endToEndImagesPerSecond: rate, endToEndOverBare: rate / bareRate, endToEndOverhead: e2eOverhead, inferenceSeconds: inference, readFramesSeconds: read, waitForFramesSeconds: wait, postprocessSeconds: post, serial: { pngDecodeSeconds: sRead, preprocessSeconds: sPre, inferenceSeconds: sInf, postprocessSeconds: sPost, prePostOverInference: serialOverhead }, runs: e2e })}`);
