/**
 * End-to-end inference over golden_test (read PNG, pre-process per the contract, ONNX Runtime,
 * decode + NMS) against a bare onnxruntime-node loop on ready-made tensors, same model, batch
 * and threads, in the same run. Goal: pre- and post-processing cost < 10% of inference time.
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
  const session = await ort.InferenceSession.create(join(modelDir, 'model.onnx'), { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
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

const bareRates: number[] = [];
const e2e: Awaited<ReturnType<typeof runInference>>['timings'][] = [];
for (let rep = 0; rep < 3; rep++) {
  bareRates.push(await bare());
  e2e.push((await runInference({ modelDir, manifest, limit: LIMIT, batch: BATCH, threads: THREADS })).timings);
}
const pick = (f: (t: (typeof e2e)[number]) => number) => median(e2e.map(f));
const rate = pick((t) => t.imagesPerSecond);
const inference = pick((t) => t.inference);
const pre = pick((t) => t.preprocess);
const post = pick((t) => t.postprocess);
const overhead = (pre + post) / inference;
const bareRate = median(bareRates);
console.log(`bare onnxruntime loop on ready tensors: ${bareRate.toFixed(1)} images/s (batch ${BATCH}, ${THREADS} threads)`);
console.log(`paddock infer end to end: ${rate.toFixed(1)} images/s (x${(rate / bareRate).toFixed(2)} of the bare loop); inference ${inference.toFixed(2)} s, pre-processing ${pre.toFixed(3)} s, post-processing ${post.toFixed(3)} s for ${LIMIT} frames`);
console.log(`pre + post = ${(overhead * 100).toFixed(1)}% of inference time; goal < 10%: ${overhead < 0.1 ? 'met' : 'NOT met'} (PNG decoding runs on libuv threads, overlapped with inference)`);
console.log(`figures: ${writeResults('infer', { frames: LIMIT, batch: BATCH, threads: THREADS, bareImagesPerSecond: bareRate, endToEndImagesPerSecond: rate, inferenceSeconds: inference, preprocessSeconds: pre, postprocessSeconds: post, prePostOverInference: overhead, runs: e2e })}`);
