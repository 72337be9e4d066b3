/**
 * The package stage's own costs, each against a baseline measured in the same run:
 * - equivalence: the step's work per input (draw + perturb, reference and variant inference,
 *   element-wise error stats, decode + matching) against the bare onnxruntime-node runs of the
 *   same two sessions on ready tensors;
 * - the ONNX protobuf codec: decode + re-encode of the candidate against reading the file;
 * - INT8 calibration: the two passes over a 64-frame shard against plain FP32 inference on it.
 * Needs the world (npm run demo builds it, or: node dist/paddock.js world build).
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ROOT, median, writeResults } from './common.js';
import { decodeModel, encodeModel } from '../src/model/onnx-proto.js';
import { loadContract } from '../src/model/infer.js';
import { decodeCenterNet } from '../src/model/decode.js';
import { DEFAULT_PERTURBATIONS, drawInputs, loadFrames } from '../src/pack/samples.js';
import { addTaskErrors, addTensorErrors, newTaskStats, newTensorStats } from '../src/pack/equivalence.js';
import { withOutputs } from '../src/model/precision.js';
import { int8Plan, toQdq, uint8Quant } from '../src/model/int8-qdq.js';
import { newRange, observeHistogram, observeRange } from '../src/metrics/int8-calibration.js';

const CAND = join(ROOT, 'fixtures', 'world', 'models', 'candidate');
const MANIFEST = join(ROOT, 'build', 'world', 'manifests', 'golden_val.jsonl');
if (!existsSync(MANIFEST)) {
  console.error(`bench/package: ${MANIFEST} is missing; build the world first (node dist/paddock.js world build)`);
  process.exit(2);
}
const contract = loadContract(CAND);
const frames = loadFrames(MANIFEST);
const opts = { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' as const };
const fp32 = decodeModel(readFileSync(join(CAND, 'model.onnx')));
const ref = await ort.InferenceSession.create(join(CAND, 'model.onnx'), opts);
// The variant: INT8 at max calibration over 8 frames (the bench times the comparison, not the variant's quality).
const per = 3 * 192 * 320;
const N = 160;
const B = 8;

// 1. Equivalence per input vs bare inference of the same sessions.
const cal = int8Plan(fp32).tensors.map((tensor) => ({ tensor }));
const x8 = new Float32Array(B * per);
await drawInputs(frames, contract, DEFAULT_PERTURBATIONS, 1, 0, B, x8);
const aug = await ort.InferenceSession.create(encodeModel(withOutputs(fp32, cal.map((c) => c.tensor))), opts);
const act = await aug.run({ images: new ort.Tensor('float32', x8, [B, 3, 192, 320]) });
const activations = new Map(cal.map((c) => { const d = act[c.tensor].data as Float32Array; return [c.tensor, uint8Quant(d.reduce((a, v) => Math.min(a, v), 0), d.reduce((a, v) => Math.max(a, v), 0))]; }));
const variant = await ort.InferenceSession.create(encodeModel(toQdq(fp32, { activations }).model), opts);
const batches: Float32Array[] = [];
for (let i = 0; i < N; i += B) {
  const x = new Float32Array(B * per);
  await drawInputs(frames, contract, DEFAULT_PERTURBATIONS, 7, i, B, x);
  batches.push(x);
}
const decode = (out: ort.InferenceSession.OnnxValueMapType, b: number) =>
  decodeCenterNet(out.heatmap.data as Float32Array, out.size.data as Float32Array, out.offset.data as Float32Array, b, 3, 48, 80, { scaleX: 1, scaleY: 1, padX: 0, padY: 0, width: 320, height: 192 }, { stride: 4, topK: 100, scoreThreshold: 0.05, nmsIou: 0.6, maxDetections: 100 });
const bare: number[] = [];
const full: number[] = [];
for (let round = 0; round < 3; round++) {
  let t = performance.now();
  for (const x of batches) {
    const feed = { images: new ort.Tensor('float32', x, [B, 3, 192, 320]) };
    await ref.run(feed);
    await variant.run(feed);
  }
  bare.push((performance.now() - t) / N);
  t = performance.now();
  const stats = { heatmap: newTensorStats(), size: newTensorStats(), offset: newTensorStats() };
  const task = newTaskStats();
  for (let i = 0; i < N; i += B) {
    const x = new Float32Array(B * per);
    await drawInputs(frames, contract, DEFAULT_PERTURBATIONS, 7, i, B, x);
    const feed = { images: new ort.Tensor('float32', x, [B, 3, 192, 320]) };
    const a = await ref.run(feed);
    const b = await variant.run(feed);
    for (const o of ['heatmap', 'size', 'offset'] as const) addTensorErrors(stats[o], a[o].data as Float32Array, b[o].data as Float32Array);
    for (let k = 0; k < B; k++) addTaskErrors(task, decode(a, k), decode(b, k));
  }
  full.push((performance.now() - t) / N);
}
const eqBare = median(bare);
const eqFull = median(full);
console.log(`equivalence per input: ${eqFull.toFixed(2)} ms (bare inference of both sessions ${eqBare.toFixed(2)} ms): x${(eqFull / eqBare).toFixed(3)}, overhead ${(((eqFull - eqBare) / eqBare) * 100).toFixed(1)}%`);

// 2. ONNX codec.
const file = join(CAND, 'model.onnx');
const readT: number[] = [];
const codecT: number[] = [];
for (let i = 0; i < 15; i++) {
  let t = performance.now();
  const bytes = readFileSync(file);
  readT.push(performance.now() - t);
  t = performance.now();
  encodeModel(decodeModel(bytes));
  codecT.push(performance.now() - t);
}
console.log(`ONNX decode + encode of ${(readFileSync(file).length / 2 ** 20).toFixed(2)} MiB: ${median(codecT).toFixed(1)} ms (reading the file ${median(readT).toFixed(2)} ms)`);

// 3. Calibration passes vs plain inference over a 64-frame shard.
const shard = batches.slice(0, 8);
const plainT: number[] = [];
const calT: number[] = [];
for (let round = 0; round < 3; round++) {
  let t = performance.now();
  for (const x of shard) await ref.run({ images: new ort.Tensor('float32', x, [B, 3, 192, 320]) });
  plainT.push(performance.now() - t);
  t = performance.now();
  const ranges = new Map(cal.map((c) => [c.tensor, newRange(c.tensor)]));
  for (const pass of [0, 1]) for (const x of shard) {
    const r = await aug.run({ images: new ort.Tensor('float32', x, [B, 3, 192, 320]) });
    for (const [n, range] of ranges) (pass ? observeHistogram : observeRange)(range, r[n].data as Float32Array);
  }
  calT.push(performance.now() - t);
}
console.log(`INT8 calibration, 2 passes over 64 frames: ${(median(calT) / 1000).toFixed(2)} s (one plain FP32 pass ${(median(plainT) / 1000).toFixed(2)} s): x${(median(calT) / median(plainT)).toFixed(2)}`);

const out = writeResults('package', {
  equivalence: { inputs: N, batch: B, perInputMs: eqFull, bareBothSessionsPerInputMs: eqBare, ratio: eqFull / eqBare, rounds: { bare, full } },
  onnxCodec: { file: 'fixtures/world/models/candidate/model.onnx', decodeEncodeMs: median(codecT), readMs: median(readT) },
  calibration: { frames: 64, twoPassesS: median(calT) / 1000, plainPassS: median(plainT) / 1000, ratio: median(calT) / median(plainT) },
});
console.log(`figures: ${out}`);
await Promise.all([ref.release(), variant.release(), aug.release()]);
