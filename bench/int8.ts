/**
 * INT8 against FP32 on this CPU, with ONNX Runtime: the world detector's FP32 model and its INT8
 * variants in the QDQ layout ORT fuses into integer kernels (src/model/int8-qdq.ts), timed
 * alternately in one process (a run of each in turn, so load on the machine falls on both
 * alike), batch 1 and 8, one intra-op thread and two. The ratio is FP32 p50 / INT8 p50.
 * Variants: every layer INT8 with min/max ranges (the fastest this layout gets), the committed
 * QAT checkpoint (fixtures/world/models/candidate/qat), and the demo pack's model.int8.onnx (the
 * fallback search's result at the demo's tolerance) when build/packs has one.
 * No world needed: inputs are drawn from a fixed PRNG (speed does not depend on the pixels).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ROOT, writeResults } from './common.js';
import { decodeModel, encodeModel, type OnnxModel } from '../src/model/onnx-proto.js';
import { int8Plan, opCounts, toQdq, uint8Quant } from '../src/model/int8-qdq.js';
import { withOutputs } from '../src/model/precision.js';
import { percentile } from '../src/metrics/percentile.js';

const CAND = join(ROOT, 'fixtures', 'world', 'models', 'candidate');
const fp32 = decodeModel(readFileSync(join(CAND, 'model.onnx')));
const per = 3 * 192 * 320;
const x = new Float32Array(8 * per);
let s = 12345;
for (let i = 0; i < x.length; i++) {
  s = (s * 1103515245 + 12345) >>> 0;
  x[i] = ((s >>> 8) / 2 ** 24) * 4 - 1.6; // the normalised input's range
}

async function allInt8(): Promise<OnnxModel> {
  const plan = int8Plan(fp32);
  const sess = await ort.InferenceSession.create(encodeModel(withOutputs(fp32, plan.tensors)));
  const r = await sess.run({ images: new ort.Tensor('float32', x, [8, 3, 192, 320]) });
  await sess.release();
  const act = new Map(plan.tensors.map((t) => {
    const d = r[t].data as Float32Array;
    return [t, uint8Quant(d.reduce((a, v) => Math.min(a, v), 0), d.reduce((a, v) => Math.max(a, v), 0))];
  }));
  return toQdq(fp32, { activations: act }).model;
}

function qat(): OnnxModel {
  const m = decodeModel(readFileSync(join(CAND, 'qat', 'model.onnx')));
  const doc = JSON.parse(readFileSync(join(CAND, 'qat', 'qat_ranges.json'), 'utf8')) as { activations: Record<string, { scale: number; zero_point: number }> };
  return toQdq(m, { activations: new Map(Object.entries(doc.activations).map(([k, v]) => [k, { scale: v.scale, zeroPoint: v.zero_point }])) }).model;
}

const variants: [string, OnnxModel][] = [['int8-all-layers', await allInt8()], ['int8-qat', qat()]];
const demoPack = join(ROOT, 'build', 'packs', 'world-detector', '1.1.0', 'model.int8.onnx');
if (existsSync(demoPack)) variants.push(['int8-demo-pack', decodeModel(readFileSync(demoPack))]);
else console.log(`(no ${demoPack}: run the demo to bench its INT8 too)`);

const RUNS = 60;
const WARMUP = 8;
const rows = [];
for (const threads of [1, 2]) {
  for (const batch of [1, 8]) {
    const opts = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' as const };
    const base = await ort.InferenceSession.create(encodeModel(fp32), opts);
    const others = await Promise.all(variants.map(([, m]) => ort.InferenceSession.create(encodeModel(m), opts)));
    const feed = { images: new ort.Tensor('float32', x.subarray(0, batch * per), [batch, 3, 192, 320]) };
    const times: number[][] = [[], ...variants.map(() => [])];
    const all = [base, ...others];
    for (let i = 0; i < RUNS + WARMUP; i++) {
      for (const [k, sess] of all.entries()) {
        const t0 = performance.now();
        await sess.run(feed);
        if (i >= WARMUP) times[k].push(performance.now() - t0);
      }
    }
    await Promise.all(all.map((a) => a.release()));
    const p50 = times.map((t) => percentile(t, 0.5));
    for (const [k, [name]] of variants.entries()) {
      const row = { variant: name, threads, batch, fp32_p50_ms: p50[0], int8_p50_ms: p50[k + 1], fp32_p90_ms: percentile(times[0], 0.9), int8_p90_ms: percentile(times[k + 1], 0.9), speedup: p50[0] / p50[k + 1] };
      rows.push(row);
      console.log(`${name.padEnd(16)} threads ${threads} batch ${batch}: INT8 p50 ${row.int8_p50_ms.toFixed(2)} ms, FP32 ${row.fp32_p50_ms.toFixed(2)} ms -> ${row.speedup.toFixed(2)}x`);
    }
  }
}
const fused = Object.fromEntries(variants.map(([name, m]) => [name, { layers_int8: m.graph.node.filter((n) => n.opType === 'QuantizeLinear').length, ops: opCounts(m) }]));
console.log(`wrote ${writeResults('int8', { runs: RUNS, warmup: WARMUP, percentile: 'linear interpolation (numpy default), src/metrics/percentile.ts', rows, models: fused })}`);
