/**
 * The `variants` step: the FP16 and INT8 variants of the FP32 model.
 *
 * INT8 (src/model/int8-qdq.ts has the layout) is post-training quantization on a shard balanced
 * by slice, unless the recipe names a QAT model, which is preferred:
 * 1. ranges: the FP32 model, with every tensor a quantized layer reads or writes exposed as an
 *    output, runs over the shard twice (min/max, then |x| histograms);
 * 2. per tensor, the calibrator (max, percentile, entropy) whose range causes the least error:
 *    that tensor alone fake-quantized, the worst relative L2 error of the model's outputs;
 * 3. per layer, its task-level sensitivity: the model with only that layer in INT8, decoded and
 *    matched against FP32 (bbox IoU drift, match rate) on inputs drawn like the equivalence
 *    step's;
 * 4. the fallback search (src/pack/int8-fallback.ts): the fewest layers in FP32, most sensitive
 *    first, that bring the whole model within the tolerance (the seed's 0.5% drift by default);
 * 5. ORT's optimised graph read back: each quantized layer must be an integer kernel there;
 *    FP32 and INT8 timed side by side.
 * The report lists every layer, which fell back and what each cost, every search step, the
 * fusion check and the speed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeAtomic } from '../../files/atomic.js';
import { sha256FileSync } from '../../files/digest.js';
import { emit } from '../emit.js';
import { decodeModel, encodeModel, tensorDims, type OnnxModel } from '../../model/onnx-proto.js';
import { toFp16, withOutputs } from '../../model/precision.js';
import { INT8_OPS, int8Plan, opCounts, toQdq, uint8Quant, type ActivationQuant, type Int8Layer } from '../../model/int8-qdq.js';
import { computeAmax, formatCalibrationCache, int8Scale, newRange, observeHistogram, observeRange, type Calibrator, type TensorRange } from '../../metrics/int8-calibration.js';
import { loadContract } from '../../model/infer.js';
import { decodeCenterNet, decodeOptionsOf, identityLetterbox, type Detection } from '../../model/decode.js';
import { DEFAULT_PERTURBATIONS, balancedShard, drawInputs, loadFrames, type SampleFrame } from '../../pack/samples.js';
import type { InferenceContract } from '../../schema/inference-contract.js';
import { addTaskErrors, newTaskStats, summarizeTask } from '../../pack/equivalence.js';
import { meetsTarget, searchFallback, sensitivityOrder, type LayerSensitivity } from '../../pack/int8-fallback.js';
import { loadSliceFile } from '../../schema/manifest-load.js';
import { readFramesInto } from '../../model/frame-reader.js';
import { optimizedGraph } from '../../model/session.js';
import { emitArtifact, log, writeReport, holdPack } from './common.js';
import { PERCENTILE_DEFINITION, percentile } from '../../metrics/percentile.js';

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
            /** `auto`: each tensor's range from the calibrator whose range moves the outputs least (that tensor alone fake-quantized). */
            calibrator: z.enum(['auto', 'entropy', 'max', 'percentile']).default('auto'),
            percentile: z.number().gt(0).max(100).default(99.99),
            manifest: z.string().min(1),
            slices: z.string().min(1),
            /** Slices the shard is balanced over, in order (e.g. night, rain, pedestrian). */
            balance: z.array(z.string()).min(1),
            per_slice: z.number().int().positive().default(16),
            size: z.number().int().positive().default(96),
            seed: z.number().int().default(7),
            /** Frames of the shard the calibrator choice measures output error on. */
            choice_frames: z.number().int().positive().default(8),
            /** Inputs (drawn like the equivalence step's, another seed) of the per-layer sensitivity and the fallback search. */
            sensitivity_inputs: z.number().int().positive().default(96),
            /** The task-level bound the fallback search meets: the seed's 0.5% bbox IoU drift by default. */
            tolerance: z
              .object({ iou_drift: z.number().positive().default(0.005), min_match_rate: z.number().min(0).max(1).default(0.9), min_class_agreement: z.number().min(0).max(1).default(0.97) })
              .strict()
              .default({ iou_drift: 0.005, min_match_rate: 0.9, min_class_agreement: 0.97 }),
            /** The search aims at tolerance.iou_drift x margin, since the equivalence step judges on other inputs. */
            margin: z.number().gt(0).max(1).default(0.8),
            /**
             * Ends the search's prune phase (each fallen-back layer, least sensitive first, tried in
             * INT8 again; one task-level evaluation per try) after this many consecutive refused tries:
             * the layers not yet tried stay in FP32 without being tried. It trades minimality for
             * time: unlimited (the default), no single fallen-back layer can be quantized again; with a
             * limit, one of the untried (more sensitive) layers might have been, so the INT8 model may
             * keep more layers in FP32 than it needs (never fewer: it meets the target either way).
             * The report's search.stopped says how many tries were skipped and which layers.
             */
            stop_after_refusals: z.number().int().positive().optional(),
            /** FP32 and INT8 runs timed alternately for the speed line of the report. */
            speed_runs: z.number().int().positive().default(40),
            /**
             * A QAT checkpoint, preferred over calibration when named: the FP32 ONNX of the QAT weights and the
             * uint8 ranges it learned (fixtures/world/qat/qat_detector.py writes both); every layer is quantized.
             */
            qat: z.object({ model: z.string().min(1), ranges: z.string().min(1) }).strict().optional(),
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

/** One candidate range of a tensor: the calibrator's clip applied to the observed range. */
function candidateQuant(r: TensorRange, c: Calibrator, percentile: number): ActivationQuant {
  const a = computeAmax(r, c, { percentile });
  return uint8Quant(Math.max(r.min, -a), Math.min(r.max, a));
}

type TaskSummary = ReturnType<typeof summarizeTask>;
type Int8Params = Exclude<Params['int8'], false>;

/**
 * The task-level measure every INT8 decision uses: `count` inputs drawn like the equivalence
 * step's (real frames of the manifest and perturbations of them, another seed), the FP32 model's
 * detections decoded once, and a function that runs a model on the same inputs and matches its
 * detections against them (bbox IoU drift, match rate, class agreement).
 */
async function taskMeasure(ort: Ort, fp32: OnnxModel, p: Params, q: Int8Params, contract: InferenceContract, frames: SampleFrame[]) {
  const { width: W, height: H } = contract.input.resize;
  const per = 3 * W * H;
  const inputName = fp32.graph.input[0].name;
  const outNames = fp32.graph.output.map((o) => o.name);
  if (!['heatmap', 'size', 'offset'].every((o) => outNames.includes(o))) throw new Error(`int8: the task-level measure decodes heatmap, size and offset; ${p.model} has outputs ${outNames.join(', ')}`);
  const seed = q.seed + 1_000_003;
  const x = new Float32Array(q.sensitivity_inputs * per);
  await drawInputs(frames, contract, DEFAULT_PERTURBATIONS, seed, 0, q.sensitivity_inputs, x);
  const decode = (out: Record<string, import('onnxruntime-node').Tensor>, b: number): Detection[] => {
    const [, , oh, ow] = out.heatmap.dims as number[];
    return decodeCenterNet(out.heatmap.data as Float32Array, out.size.data as Float32Array, out.offset.data as Float32Array, b, contract.classes.length, oh, ow, identityLetterbox(W, H), decodeOptionsOf(contract));
  };
  const batch = 8;
  const runAll = async (m: OnnxModel, each: (r: Record<string, import('onnxruntime-node').Tensor>, i: number, n: number) => void) => {
    const s = await session(ort, m, p.threads);
    for (let i = 0; i < q.sensitivity_inputs; i += batch) {
      const n = Math.min(batch, q.sensitivity_inputs - i);
      each(await s.run({ [inputName]: new ort.Tensor('float32', x.subarray(i * per, (i + n) * per), [n, 3, H, W]) }), i, n);
    }
    await s.release();
  };
  const ref: Detection[][] = [];
  await runAll(fp32, (r, _i, n) => {
    for (let b = 0; b < n; b++) ref.push(decode(r, b));
  });
  let evaluations = 0;
  const evaluate = async (m: OnnxModel): Promise<TaskSummary> => {
    const st = newTaskStats();
    await runAll(m, (r, i, n) => {
      for (let b = 0; b < n; b++) addTaskErrors(st, ref[i + b], decode(r, b));
    });
    evaluations++;
    return summarizeTask(st);
  };
  return { evaluate, firstInput: x.subarray(0, per), dims: [1, 3, H, W], inputs: { count: q.sensitivity_inputs, seed, distribution: 'DEFAULT_PERTURBATIONS of src/pack/samples.ts over the manifest' }, evaluations: () => evaluations };
}

async function int8(ort: Ort, fp32: OnnxModel, p: Params, q: Int8Params) {
  const contract = loadContract(p.contract);
  const frames = loadFrames(q.manifest);
  const plan = int8Plan(fp32);
  if (!plan.layers.length) throw new Error(`int8: ${p.model} has no layer the INT8 variant can quantize (${plan.float.map((f) => `${f.node}: ${f.reason}`).join('; ')})`);
  const tolerance = q.tolerance;
  const target = { iou_drift: tolerance.iou_drift * q.margin, min_match_rate: tolerance.min_match_rate, min_class_agreement: tolerance.min_class_agreement };
  if (q.qat) return int8FromQat(ort, fp32, p, q, q.qat, plan, target, await taskMeasure(ort, fp32, p, q, contract, frames));
  const slices = loadSliceFile(q.slices);
  const unknown = q.balance.filter((id) => !slices.some((s) => s.id === id));
  if (unknown.length) throw new Error(`int8.balance: no slice ${unknown.map((u) => `"${u}"`).join(', ')} in ${q.slices}`);
  const shard = balancedShard(frames, q.balance.map((id) => slices.find((s) => s.id === id)!), { perSlice: q.per_slice, size: q.size, seed: q.seed });
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
  const inputName = fp32.graph.input[0].name;
  const outNames = fp32.graph.output.map((o) => o.name);
  const feedOf = (x: Float32Array) => ({ [inputName]: new ort.Tensor('float32', x, [x.length / per, 3, H, W]) });

  // 1. Ranges: every tensor a quantized layer reads or writes, over the shard (min/max, then |x| histograms).
  const aug = await session(ort, withOutputs(fp32, plan.tensors), p.threads);
  const ranges = new Map<string, TensorRange>(plan.tensors.map((t) => [t, newRange(t)]));
  for (const pass of [0, 1]) {
    for (const [bi, x] of inputs.entries()) {
      const r = await aug.run(feedOf(x));
      for (const [name, range] of ranges) (pass === 0 ? observeRange : observeHistogram)(range, r[name].data as Float32Array);
      emit({ type: 'progress', done: pass * inputs.length + bi + 1, total: 2 * inputs.length, unit: 'calibration batches' });
    }
  }
  await aug.release();

  // 2. The calibrator of each tensor: the one whose range, that tensor alone fake-quantized, moves the outputs least.
  const calibrators: Calibrator[] = q.calibrator === 'auto' ? ['max', 'percentile', 'entropy'] : [q.calibrator];
  const choiceX = inputs[0].subarray(0, Math.min(q.choice_frames, inputs[0].length / per) * per);
  const refS = await session(ort, fp32, p.threads);
  const choiceRef = await refS.run(feedOf(choiceX));
  await refS.release();
  const outputError = async (m: OnnxModel) => {
    const s = await session(ort, m, p.threads);
    const r = await s.run(feedOf(choiceX));
    await s.release();
    return Math.max(...outNames.map((o) => relL2(choiceRef[o].data as Float32Array, r[o].data as Float32Array)));
  };
  const act = new Map<string, ActivationQuant>();
  const table = [];
  for (const [i, r] of [...ranges.values()].entries()) {
    const amax = Object.fromEntries((['max', 'percentile', 'entropy'] as Calibrator[]).map((c) => [c, computeAmax(r, c, { percentile: q.percentile })])) as Record<Calibrator, number>;
    const errors: Partial<Record<Calibrator, number>> = {};
    if (calibrators.length > 1) for (const c of calibrators) errors[c] = await outputError(toQdq(fp32, { activations: new Map([[r.name, candidateQuant(r, c, q.percentile)]]), layers: new Set(), tensors: new Set([r.name]) }).model);
    const chosen = calibrators.length > 1 ? calibrators.reduce((a, b) => (errors[b]! < errors[a]! ? b : a)) : calibrators[0];
    const qp = candidateQuant(r, chosen, q.percentile);
    act.set(r.name, qp);
    table.push({ tensor: r.name, min: r.min, max: r.max, values: r.count, amax, output_rel_error: calibrators.length > 1 ? errors : undefined, calibrator: chosen, scale: qp.scale, zero_point: qp.zeroPoint });
    emit({ type: 'progress', done: i + 1, total: ranges.size, unit: 'tensors' });
  }
  // TensorRT's cache is symmetric int8: the chosen range's larger side over 127.
  const cacheText = formatCalibrationCache(
    table.map((t) => ({ name: t.tensor, scale: int8Scale(Math.max(t.scale * t.zero_point, t.scale * (255 - t.zero_point))) })),
    q.calibrator === 'auto' ? 'entropy' : q.calibrator,
  );
  const cacheFile = join(p.pack, 'calibration.cache');
  writeAtomic(cacheFile, cacheText);
  const cache = emitArtifact(cacheFile, 'calibration-cache');

  // 3. Each layer alone in INT8, its task-level effect; 4. the fewest layers in FP32 that meet the target.
  const measure = await taskMeasure(ort, fp32, p, q, contract, frames);
  const taskOf = (layers: Set<string>) => measure.evaluate(toQdq(fp32, { activations: act, layers }).model);
  const sensitivity: LayerSensitivity[] = [];
  for (const [i, l] of plan.layers.entries()) {
    const alone = await taskOf(new Set([l.node]));
    sensitivity.push({ node: l.node, alone });
    emit({ type: 'metric', name: 'int8.layer_iou_drift', value: alone.iou_drift, target: l.node, denominators: { boxes: alone.matched } });
    emit({ type: 'progress', done: i + 1, total: plan.layers.length, unit: 'layers' });
  }
  const all = plan.layers.map((l) => l.node);
  const capped = capRefusals(sensitivityOrder(sensitivity), all, target, q.stop_after_refusals, taskOf);
  const search = await searchFallback(all, sensitivity, target, capped.evaluate);
  const fallback = search.fallback;
  const quantizedSet = new Set(all.filter((n) => !fallback.includes(n)));
  const { model: qdq, quantized } = toQdq(fp32, { activations: act, layers: quantizedSet });
  const file = join(p.pack, 'model.int8.onnx');
  writeAtomic(file, encodeModel(qdq));
  const d = emitArtifact(file, 'onnx-int8-qdq');
  const fused = await fusionCheck(ort, qdq, plan.layers.filter((l) => quantizedSet.has(l.node)), p.pack);
  const speed = await sideBySide(ort, fp32, qdq, measure.firstInput, measure.dims, q.speed_runs);
  const sens = new Map(sensitivity.map((s) => [s.node, s.alone]));
  const weights = layerWeights(fp32, plan.layers);
  const totalWeights = [...weights.values()].reduce((a, b) => a + b, 0);
  const fallbackCost = fallback.map((n) => ({ node: n, alone_iou_drift: sens.get(n)!.iou_drift, alone_match_rate: sens.get(n)!.match_rate, weights: weights.get(n) ?? 0, share_of_quantizable_weights: totalWeights ? (weights.get(n) ?? 0) / totalWeights : 0 }));
  report8(search.final, search.meets, fallback.length, all.length, speed, fused, target, q, measure.evaluations());
  return {
    file: 'model.int8.onnx',
    sha256: d.sha256,
    source: 'post-training quantization',
    format: FORMAT,
    calibrator: q.calibrator,
    percentile: q.percentile,
    calibration_cache: { file: 'calibration.cache', sha256: cache.sha256, header: cacheText.split('\n')[0], note: "TensorRT caches are symmetric int8: each scale is the chosen range's larger side / 127" },
    shard: { manifest: q.manifest, frames: shard.frames.map((f) => f.row.frame_id), per_slice: shard.perSlice, coverage: shard.coverage, seed: q.seed },
    tensors: table,
    tolerance,
    margin: q.margin,
    target,
    search_inputs: measure.inputs,
    layers: plan.layers.map((l) => ({ node: l.node, op: l.opType, folded: l.folded ?? null, inputs: l.inputs, output: l.output, alone: sens.get(l.node), quantized: quantizedSet.has(l.node) })),
    float_nodes: plan.float,
    search: { meets: search.meets, final: search.final, evaluations: measure.evaluations(), ...(q.stop_after_refusals !== undefined ? { stopped: { after_refusals: q.stop_after_refusals, skipped_tries: capped.skipped.length, kept_in_fp32_untried: capped.skipped } } : {}), steps: search.steps.filter((s) => !capped.isSkipped(s.task)).map((s) => ({ phase: s.phase, float: s.float.length, float_layers: s.float, iou_drift: s.task.iou_drift, match_rate: s.task.match_rate, class_agreement: s.task.class_agreement, meets: s.meets })) },
    fallback,
    fallback_cost: fallbackCost,
    quantized,
    optimized_graph: fused,
    speed,
  };
}

/**
 * The search's evaluations with `stop_after_refusals`: once `limit` prune tries in a row were
 * refused, later prune tries are refused without evaluating (a summary that meets no target,
 * left out of the report's steps). searchFallback evaluates only prefixes of the sensitivity
 * order before its prune phase, and a prune try that is not a prefix; a prune try that is one
 * (the fallen-back set's last layer, when that prefix was not evaluated yet) is not counted, so
 * the count can only run late, never early. The search's own cache answers repeated sets first.
 */
function capRefusals(order: string[], all: string[], target: { iou_drift: number; min_match_rate: number; min_class_agreement: number }, limit: number | undefined, evaluate: (quantized: Set<string>) => Promise<TaskSummary>) {
  const skippedTasks = new WeakSet<object>();
  const skipped: string[] = [];
  let refusals = 0;
  let prevFloat = new Set<string>();
  const isPrefix = (float: Set<string>) => order.slice(0, float.size).every((n) => float.has(n));
  return {
    skipped,
    isSkipped: (t: object) => skippedTasks.has(t),
    evaluate: async (quantized: Set<string>): Promise<TaskSummary> => {
      if (limit === undefined) return evaluate(quantized);
      const float = new Set(all.filter((n) => !quantized.has(n)));
      if (isPrefix(float)) {
        prevFloat = float;
        return evaluate(quantized);
      }
      const previous = prevFloat;
      prevFloat = float;
      if (refusals >= limit) {
        // The layer this try would quantize again: in the float set of the try before, not in this one.
        skipped.push(...[...previous].filter((n) => !float.has(n)));
        const t: TaskSummary = { ...summarizeTask(newTaskStats()), iou_drift: Number.POSITIVE_INFINITY, match_rate: 0, class_agreement: 0 };
        skippedTasks.add(t);
        return t;
      }
      const t = await evaluate(quantized);
      refusals = meetsTarget(t, target) ? 0 : refusals + 1;
      return t;
    },
  };
}

const FORMAT = 'QDQ: uint8 asymmetric activations, int8 symmetric per-channel weights (axis 0), int32 bias; the layout ONNX Runtime fuses into QLinear* kernels';

/** The INT8 variant's metrics and log lines: the task-level result, the fusion check, the speed against FP32. */
function report8(final: { iou_drift: number; match_rate: number; matched: number }, meets: boolean, fellBack: number, layers: number, speed: Awaited<ReturnType<typeof sideBySide>>, fused: Awaited<ReturnType<typeof fusionCheck>>, target: { iou_drift: number }, q: Int8Params, evaluations: number) {
  const ratio = speed.fp32_p50_ms / speed.int8_p50_ms;
  emit({ type: 'metric', name: 'int8.iou_drift', value: final.iou_drift, target: 'search', denominators: { boxes: final.matched } });
  emit({ type: 'metric', name: 'int8.fallback_layers', value: fellBack, target: 'search', denominators: { layers } });
  emit({ type: 'metric', name: 'int8.speedup', value: ratio, target: 'cpu-batch1' });
  const bound = `bbox IoU drift < ${(target.iou_drift * 100).toFixed(3)}% (tolerance ${(q.tolerance.iou_drift * 100).toFixed(2)}% x margin ${q.margin})`;
  log(`INT8: ${layers - fellBack} of ${layers} layers quantized, ${fellBack} in FP32; ${meets ? 'meets' : 'does NOT meet'} ${bound} on ${q.sensitivity_inputs} inputs: ${(final.iou_drift * 100).toFixed(3)}%, boxes matched ${(final.match_rate * 100).toFixed(2)}%; ${evaluations} task-level evaluations`, meets ? 'info' : 'warn');
  log(`INT8 on this CPU (batch 1, 1 thread, ${speed.runs} runs alternating with FP32): p50 ${speed.int8_p50_ms.toFixed(2)} ms against ${speed.fp32_p50_ms.toFixed(2)} ms, ${ratio.toFixed(2)}x${ratio < 1.05 ? ' — not faster than FP32 at this tolerance' : ''}; ORT's optimised graph: ${fused.integer_kernels} integer kernels${fused.unfused.length ? `; not fused: ${fused.unfused.map((u) => `${u.node} (${u.reason})`).join(', ')}` : ''}`, ratio < 1.05 || fused.unfused.length ? 'warn' : 'info');
}

/**
 * What ONNX Runtime made of the QDQ model: its optimised graph (level all, as the benches run)
 * read back, the operators counted, and each quantized layer looked up by name (ORT names a
 * fused node after the node it replaced: "/s1/s1.0/s1.0.0/Conv_token_12"). A quantized layer
 * that is not an integer kernel there is listed with why.
 */
async function fusionCheck(ort: Ort, qdq: OnnxModel, layers: Int8Layer[], pack: string) {
  const opt = await optimizedGraph(ort, qdq, pack);
  const ops = opCounts(opt);
  const byName = (node: string) => opt.graph.node.filter((n) => n.name === node || n.name?.startsWith(`${node}_token`));
  const unfused: { node: string; reason: string }[] = [];
  let integer = 0;
  for (const l of layers) {
    const found = byName(l.node);
    const kernel = found.find((n) => n.opType.startsWith('QLinear') || (INT8_OPS[l.opType]?.sameScale && n.opType === l.opType && !n.input.some((x) => x.endsWith('__dq'))));
    if (kernel) integer++;
    else unfused.push({ node: l.node, reason: found.length ? `ORT kept it as ${found.map((n) => n.opType).join('+')} between DequantizeLinear and QuantizeLinear` : 'not found in the optimised graph' });
  }
  return { level: 'all', ops, integer_kernels: integer, quantize_linear: ops.QuantizeLinear ?? 0, dequantize_linear: ops.DequantizeLinear ?? 0, unfused };
}

/** FP32 and INT8 timed alternately in this process (batch 1, one thread), so that load affects both alike. */
async function sideBySide(ort: Ort, fp32: OnnxModel, qdq: OnnxModel, x: Float32Array, dims: number[], runs: number) {
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' as const };
  const a = await ort.InferenceSession.create(encodeModel(fp32), opts);
  const b = await ort.InferenceSession.create(encodeModel(qdq), opts);
  const feed = { [a.inputNames[0]]: new ort.Tensor('float32', x, dims) };
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < runs + 5; i++) {
    let t = performance.now();
    await a.run(feed);
    if (i >= 5) ta.push(performance.now() - t);
    t = performance.now();
    await b.run(feed);
    if (i >= 5) tb.push(performance.now() - t);
  }
  await Promise.all([a.release(), b.release()]);
  return { runs, batch: 1, threads: 1, percentile: PERCENTILE_DEFINITION, fp32_p50_ms: percentile(ta, 0.5), int8_p50_ms: percentile(tb, 0.5), fp32_p90_ms: percentile(ta, 0.9), int8_p90_ms: percentile(tb, 0.9) };
}

/** Weights of each layer that has them: the fallback's cost in parameters kept in float32 (4 bytes instead of 1). */
function layerWeights(model: OnnxModel, layers: Int8Layer[]): Map<string, number> {
  const inits = new Map(model.graph.initializer.map((t) => [t.name!, t]));
  const out = new Map<string, number>();
  for (const l of layers) {
    if (!l.weight) continue;
    const w = inits.get(l.weight);
    if (w) out.set(l.node, tensorDims(w).reduce((a, b) => a * b, 1));
  }
  return out;
}

/**
 * INT8 from a QAT checkpoint, preferred over calibration when the recipe names one (as the seed
 * says): the FP32 ONNX of the QAT weights and the uint8 ranges the training learned, put into
 * the same QDQ layout with every layer quantized (QAT trained them all in INT8, so there is no
 * fallback search), measured like the calibrated variant, and put through the same fusion check.
 */
async function int8FromQat(ort: Ort, fp32: OnnxModel, p: Params, q: Int8Params, qat: NonNullable<Int8Params['qat']>, plan: ReturnType<typeof int8Plan>, target: { iou_drift: number; min_match_rate: number; min_class_agreement: number }, measure: Awaited<ReturnType<typeof taskMeasure>>) {
  const model = decodeModel(readFileSync(qat.model), qat.model);
  const io = (x: OnnxModel) => JSON.stringify([x.graph.input.map((i) => i.name), x.graph.output.map((o) => o.name)]);
  if (io(model) !== io(fp32)) throw new Error(`int8.qat.model: ${qat.model} has inputs/outputs ${io(model)}, the FP32 model ${io(fp32)}`);
  const doc = QatRanges.parse(JSON.parse(readFileSync(qat.ranges, 'utf8')));
  const act = new Map(Object.entries(doc.activations).map(([k, v]) => [k, { scale: v.scale, zeroPoint: v.zero_point }]));
  const qplan = int8Plan(model);
  const missing = qplan.tensors.filter((t) => !act.has(t) && !qplan.layers.some((l) => INT8_OPS[l.opType].sameScale && l.output === t));
  if (missing.length) throw new Error(`int8.qat.ranges: ${qat.ranges} has no range for ${missing.join(', ')} (tensors of ${qat.model} that the INT8 layout quantizes)`);
  const { model: qdq, quantized } = toQdq(model, { activations: act });
  const file = join(p.pack, 'model.int8.onnx');
  writeAtomic(file, encodeModel(qdq));
  const d = emitArtifact(file, 'onnx-int8-qdq');
  const final = await measure.evaluate(qdq);
  const meets = meetsTarget(final, target);
  const fused = await fusionCheck(ort, qdq, qplan.layers, p.pack);
  const speed = await sideBySide(ort, fp32, qdq, measure.firstInput, measure.dims, q.speed_runs);
  log(`INT8 from the QAT checkpoint ${qat.model} (ranges ${qat.ranges}), preferred over calibration`);
  report8(final, meets, 0, qplan.layers.length, speed, fused, target, q, measure.evaluations());
  return {
    file: 'model.int8.onnx',
    sha256: d.sha256,
    source: 'quantization-aware training',
    format: FORMAT,
    qat: { model: qat.model, model_sha256: sha256FileSync(qat.model).sha256, ranges: qat.ranges, ranges_sha256: sha256FileSync(qat.ranges).sha256, training: doc.training ?? null },
    tolerance: q.tolerance,
    margin: q.margin,
    target,
    search_inputs: measure.inputs,
    layers: qplan.layers.map((l) => ({ node: l.node, op: l.opType, folded: l.folded ?? null, inputs: l.inputs, output: l.output, quantized: true })),
    float_nodes: qplan.float,
    search: { meets, final, evaluations: measure.evaluations(), steps: [] },
    fallback: [],
    fallback_cost: [],
    quantized,
    quantizable_layers_of_fp32: plan.layers.length,
    optimized_graph: fused,
    speed,
  };
}

/** qat_ranges.json (fixtures/world/qat/qat_detector.py): each quantized tensor's uint8 scale and zero point. */
const QatRanges = z
  .object({
    format: z.literal('paddock.qat_ranges/1'),
    activations: z.record(z.string(), z.object({ scale: z.number().positive(), zero_point: z.number().int().min(0).max(255) }).strict()),
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();
