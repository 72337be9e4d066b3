/**
 * The `variants` step: the FP16 and INT8 variants of the FP32 model.
 *
 * INT8 is post-training calibration on a shard balanced by slice: the FP32 model, with the
 * activation inputs of its quantizable nodes exposed as outputs, runs over the shard twice (ranges,
 * then |x| histograms); every calibrator's amax is computed (the chosen one is used, the others are
 * recorded for comparison); calibration.cache is written in TensorRT's format and the QDQ model in
 * ONNX, which onnxruntime runs here. Then each layer's sensitivity: the model with only that layer
 * quantized, its outputs against FP32 (relative L2 error, worst output); a layer over the threshold
 * falls back to FP32, and the report says which and why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeAtomic } from '../../files/atomic.js';
import { emit } from '../emit.js';
import { decodeModel, encodeModel, type OnnxModel } from '../../model/onnx-proto.js';
import { calibrationTensors, toFp16, toQdq, withOutputs } from '../../model/precision.js';
import { computeAmax, formatCalibrationCache, int8Scale, newRange, observeHistogram, observeRange, type Calibrator, type TensorRange } from '../../metrics/int8-calibration.js';
import { loadContract } from '../../model/infer.js';
import { balancedShard, loadFrames } from '../../pack/samples.js';
import { loadSliceFile } from '../../schema/manifest-load.js';
import { readFramesInto } from '../../model/frame-reader.js';
import { emitArtifact, log, writeReport, holdPack } from './common.js';

export const VariantsParams = z
  .object({
    pack: z.string().min(1),
    model: z.string().min(1),
    /** The directory holding inference_config.json (input size and normalisation). */
    contract: z.string().min(1),
    threads: z.number().int().min(0).max(64).default(2),
    fp16: z.union([z.literal(false), z.object({ keep_ops: z.array(z.string()).default([]), keep_nodes: z.array(z.string()).default([]) }).strict()]).default({ keep_ops: [], keep_nodes: [] }),
    int8: z
      .union([
        z.literal(false),
        z
          .object({
            calibrator: z.enum(['entropy', 'max', 'percentile']).default('entropy'),
            percentile: z.number().gt(0).max(100).default(99.99),
            manifest: z.string().min(1),
            slices: z.string().min(1),
            /** Slices the shard is balanced over, in order (e.g. night, rain, pedestrian). */
            balance: z.array(z.string()).min(1),
            per_slice: z.number().int().positive().default(16),
            size: z.number().int().positive().default(96),
            seed: z.number().int().default(7),
            /** A layer whose relative output error alone passes this falls back to FP32. */
            fallback_threshold: z.number().positive().default(0.05),
            sensitivity_frames: z.number().int().positive().default(16),
          })
          .strict(),
      ])
      .default(false),
  })
  .strict();
type Params = z.infer<typeof VariantsParams>;

type Ort = typeof import('onnxruntime-node');

async function session(ort: Ort, m: OnnxModel, threads: number) {
  return ort.InferenceSession.create(encodeModel(m), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
}

/** Relative L2 error of b against a. */
export function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += a[i] * a[i];
  }
  return den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
}

export async function runVariants(p: Params): Promise<number> {
  await holdPack(p.pack);
  const ort = (await import('onnxruntime-node')) as Ort;
  const fp32 = decodeModel(readFileSync(p.model), p.model);
  const report: Record<string, unknown> = { status: 'succeeded', source: p.model };
  if (p.fp16) {
    const { model, report: r } = toFp16(fp32, { keepOps: p.fp16.keep_ops, keepNodes: p.fp16.keep_nodes });
    const file = join(p.pack, 'model.fp16.onnx');
    writeAtomic(file, encodeModel(model));
    await (await session(ort, model, 1)).release(); // it must load
    const d = emitArtifact(file, 'onnx-fp16');
    report.fp16 = { file: 'model.fp16.onnx', sha256: d.sha256, keep_ops: p.fp16.keep_ops, keep_nodes: p.fp16.keep_nodes, ...r };
    log(`FP16: ${r.converted} nodes in half precision, ${r.kept.length} kept in FP32${r.kept.length ? ` (${r.kept.join(', ')})` : ''}, ${r.casts} casts, ${r.initializers} initializers converted${r.clamped ? `, ${r.clamped} weights clamped to +-65504` : ''}`);
  }
  if (p.int8) report.int8 = await int8(ort, fp32, p, p.int8);
  writeReport(p.pack, 'variants', report);
  return 0;
}

async function int8(ort: Ort, fp32: OnnxModel, p: Params, q: Exclude<Params['int8'], false>) {
  const contract = loadContract(p.contract);
  const slices = loadSliceFile(q.slices);
  const unknown = q.balance.filter((id) => !slices.some((s) => s.id === id));
  if (unknown.length) throw new Error(`int8.balance: no slice ${unknown.map((u) => `"${u}"`).join(', ')} in ${q.slices}`);
  const shard = balancedShard(loadFrames(q.manifest), q.balance.map((id) => slices.find((s) => s.id === id)!), { perSlice: q.per_slice, size: q.size, seed: q.seed });
  log(`calibration shard: ${shard.frames.length} frames of ${q.manifest}; taken per slice ${Object.entries(shard.perSlice).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const { width: W, height: H } = contract.input.resize;
  const per = 3 * W * H;
  const batch = 8;
  const inputs: Float32Array[] = [];
  for (let i = 0; i < shard.frames.length; i += batch) {
    const n = Math.min(batch, shard.frames.length - i);
    const buf = new Float32Array(n * per);
    await readFramesInto(shard.frames.slice(i, i + n).map((f) => ({ file: f.file, label: f.row.frame_id })), contract, buf);
    inputs.push(buf);
  }
  const tensors = calibrationTensors(fp32);
  const inputName = fp32.graph.input[0].name;
  const outNames = fp32.graph.output.map((o) => o.name);
  const aug = await session(ort, withOutputs(fp32, tensors.map((t) => t.tensor)), p.threads);
  const ranges = new Map<string, TensorRange>(tensors.map((t) => [t.tensor, newRange(t.tensor)]));
  for (const pass of [0, 1]) {
    for (const [bi, x] of inputs.entries()) {
      const r = await aug.run({ [inputName]: new ort.Tensor('float32', x, [x.length / per, 3, H, W]) });
      for (const [name, range] of ranges) (pass === 0 ? observeRange : observeHistogram)(range, r[name].data as Float32Array);
      emit({ type: 'progress', done: pass * inputs.length + bi + 1, total: 2 * inputs.length, unit: 'calibration batches' });
    }
  }
  await aug.release();
  const calibrators: Calibrator[] = ['max', 'percentile', 'entropy'];
  const table = [...ranges.values()].map((r) => {
    const amax = Object.fromEntries(calibrators.map((c) => [c, computeAmax(r, c, { percentile: q.percentile })])) as Record<Calibrator, number>;
    return { tensor: r.name, min: r.min, max: r.max, values: r.count, amax, scale: int8Scale(amax[q.calibrator]) };
  });
  const scales = new Map(table.map((t) => [t.tensor, t.scale]));
  const cacheText = formatCalibrationCache(table.map((t) => ({ name: t.tensor, scale: t.scale })), q.calibrator);
  const cacheFile = join(p.pack, 'calibration.cache');
  writeAtomic(cacheFile, cacheText);
  const cache = emitArtifact(cacheFile, 'calibration-cache');

  // Per-layer sensitivity on the first frames of the shard.
  const evalX = inputs[0].subarray(0, Math.min(q.sensitivity_frames, inputs[0].length / per) * per);
  const evalFeed = () => ({ [inputName]: new ort.Tensor('float32', evalX, [evalX.length / per, 3, H, W]) });
  const refS = await session(ort, fp32, p.threads);
  const ref = await refS.run(evalFeed());
  await refS.release();
  const errorOf = async (m: OnnxModel) => {
    const s = await session(ort, m, p.threads);
    const r = await s.run(evalFeed());
    await s.release();
    return Object.fromEntries(outNames.map((o) => [o, relL2(ref[o].data as Float32Array, r[o].data as Float32Array)]));
  };
  const layers = [];
  for (const [i, t] of tensors.entries()) {
    const errs = await errorOf(toQdq(fp32, { scales, only: new Set([t.node]) }).model);
    const worst = Math.max(...Object.values(errs));
    layers.push({ node: t.node, input: t.tensor, errors: errs, worst, fallback: worst > q.fallback_threshold });
    emit({ type: 'metric', name: 'int8.layer_rel_error', value: worst, target: t.node });
    emit({ type: 'progress', done: i + 1, total: tensors.length, unit: 'layers' });
  }
  const fallback = layers.filter((l) => l.fallback).map((l) => l.node);
  const { model: qdq, quantized } = toQdq(fp32, { scales, fallback: new Set(fallback) });
  const file = join(p.pack, 'model.int8.onnx');
  writeAtomic(file, encodeModel(qdq));
  const final = await errorOf(qdq);
  const d = emitArtifact(file, 'onnx-int8-qdq');
  for (const [o, e] of Object.entries(final)) emit({ type: 'metric', name: 'int8.output_rel_error', value: e, target: o });
  log(`INT8 (${q.calibrator}): ${quantized.length} layers quantized, ${fallback.length} kept in FP32${fallback.length ? ` (${fallback.join(', ')}: relative error over ${q.fallback_threshold})` : ''}; output relative L2 error ${Object.entries(final).map(([o, e]) => `${o} ${e.toFixed(4)}`).join(', ')}`);
  return {
    file: 'model.int8.onnx',
    sha256: d.sha256,
    format: 'QDQ (QuantizeLinear/DequantizeLinear, int8 symmetric, per-channel weights, int32 bias)',
    calibrator: q.calibrator,
    percentile: q.percentile,
    calibration_cache: { file: 'calibration.cache', sha256: cache.sha256, header: cacheText.split('\n')[0] },
    shard: { manifest: q.manifest, frames: shard.frames.map((f) => f.row.frame_id), per_slice: shard.perSlice, coverage: shard.coverage, seed: q.seed },
    tensors: table,
    fallback_threshold: q.fallback_threshold,
    layers,
    fallback,
    quantized,
    output_rel_error: final,
  };
}
