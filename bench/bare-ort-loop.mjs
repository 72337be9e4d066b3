#!/usr/bin/env node
// The baseline for bench/bench-overhead.ts: the barest onnxruntime-node timing loop, with the
// same session options, input shape and iteration counts as paddock's bench step, and exact
// percentiles from the sorted samples. Prints one JSON line.
//   node bench/bare-ort-loop.mjs <model.onnx> <iterations> <warmup>
import ort from 'onnxruntime-node';

const [model, iterations, warmup] = process.argv.slice(2);
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
const meta = session.inputMetadata[0];
const shape = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : 1));
const n = shape.reduce((a, b) => a * b, 1);
let seed = 1;
const data = Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
const feeds = { [meta.name]: new ort.Tensor('float32', data, shape) };
for (let i = 0; i < Number(warmup); i++) await session.run(feeds);
const samples = [];
for (let i = 0; i < Number(iterations); i++) {
  const s = performance.now();
  await session.run(feeds);
  samples.push(performance.now() - s);
}
samples.sort((a, b) => a - b);
const q = (p) => samples[Math.floor(p * (samples.length - 1))];
process.stdout.write(`${JSON.stringify({ p50: q(0.5), p95: q(0.95), p99: q(0.99), n: samples.length })}\n`);
