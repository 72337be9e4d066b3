/**
 * The `equivalence` step: the FP32 reference against each variant on `count` inputs drawn from a
 * declared, seeded distribution (real frames and perturbations of them: brightness, contrast,
 * sensor noise, flips), at tensor and task level, with a verdict per variant from the recipe's
 * tolerances. A failed verdict fails the step.
 */
import { z } from 'zod';
import { emit } from '../emit.js';
import { decodeCenterNet, type Detection, decodeOptionsOf, identityLetterbox } from '../../model/decode.js';
import { loadContract } from '../../model/infer.js';
import { DEFAULT_PERTURBATIONS, drawInputs, loadFrames, type DrawnInput } from '../../pack/samples.js';
import { DEFAULT_TOLERANCES, addTaskErrors, addTensorErrors, judge, newTaskStats, newTensorStats, summarizeTask, summarizeTensor, type TaskStats, type TensorErrorStats } from '../../pack/equivalence.js';
import { log, writeReport, holdPack } from './common.js';

const Tol = z.object({ max_abs: z.number().positive().optional(), iou_drift: z.number().positive().optional(), min_match_rate: z.number().min(0).max(1).optional(), min_class_agreement: z.number().min(0).max(1).optional() }).strict();

export const EquivalenceParams = z
  .object({
    pack: z.string().min(1),
    reference: z.string().min(1),
    /** Directory holding inference_config.json. */
    contract: z.string().min(1),
    variants: z.array(z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/), model: z.string().min(1), kind: z.enum(['fp32', 'fp16', 'int8']), tolerances: Tol.optional() }).strict()).min(1),
    inputs: z
      .object({
        manifest: z.string().min(1),
        count: z.number().int().positive().max(1_000_000).default(1000),
        seed: z.number().int().default(1234),
        perturbations: z
          .object({
            identity: z.number().min(0),
            brightness: z.object({ weight: z.number().min(0), range: z.tuple([z.number().positive(), z.number().positive()]) }),
            contrast: z.object({ weight: z.number().min(0), range: z.tuple([z.number().positive(), z.number().positive()]) }),
            noise: z.object({ weight: z.number().min(0), sigma: z.tuple([z.number().min(0), z.number().min(0)]) }),
            flip: z.number().min(0),
          })
          .default(DEFAULT_PERTURBATIONS),
      })
      .strict(),
    batch: z.number().int().positive().max(256).default(8),
    threads: z.number().int().min(0).max(64).default(2),
  })
  .strict();
type Params = z.infer<typeof EquivalenceParams>;

export async function runEquivalence(p: Params): Promise<number> {
  await holdPack(p.pack);
  const ort = await import('onnxruntime-node');
  const contract = loadContract(p.contract);
  const frames = loadFrames(p.inputs.manifest);
  if (!frames.length) throw new Error(`${p.inputs.manifest}: no frames`);
  const opts = { intraOpNumThreads: p.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' as const };
  const ref = await ort.InferenceSession.create(p.reference, opts);
  const sessions = await Promise.all(p.variants.map((v) => ort.InferenceSession.create(v.model, opts)));
  const inputName = ref.inputNames[0];
  const outNames = ref.outputNames;
  const { width: W, height: H } = contract.input.resize;
  const per = 3 * W * H;
  const tensor = p.variants.map(() => Object.fromEntries(outNames.map((o) => [o, newTensorStats()])) as Record<string, TensorErrorStats>);
  const task = p.variants.map(() => newTaskStats() as TaskStats);
  const perturbationCounts: Record<string, number> = {};
  const decode = (out: Record<string, import('onnxruntime-node').Tensor>, b: number): Detection[] => {
    const [, , oh, ow] = out.heatmap.dims as number[];
    return decodeCenterNet(out.heatmap.data as Float32Array, out.size.data as Float32Array, out.offset.data as Float32Array, b, contract.classes.length, oh, ow, identityLetterbox(W, H), decodeOptionsOf(contract));
  };
  log(`${p.inputs.count} inputs from ${frames.length} frames of ${p.inputs.manifest} (seed ${p.inputs.seed}; identity ${p.inputs.perturbations.identity}, brightness ${p.inputs.perturbations.brightness.weight}, contrast ${p.inputs.perturbations.contrast.weight}, noise ${p.inputs.perturbations.noise.weight}, flip ${p.inputs.perturbations.flip}); variants ${p.variants.map((v) => v.name).join(', ')}`);
  const canDecode = ['heatmap', 'size', 'offset'].every((o) => outNames.includes(o));
  for (let i0 = 0; i0 < p.inputs.count; i0 += p.batch) {
    const n = Math.min(p.batch, p.inputs.count - i0);
    const x = new Float32Array(n * per);
    const drawn: DrawnInput[] = await drawInputs(frames, contract, p.inputs.perturbations, p.inputs.seed, i0, n, x);
    for (const d of drawn) {
      const kind = d.perturbation.split(' ')[0];
      perturbationCounts[kind] = (perturbationCounts[kind] ?? 0) + 1;
    }
    const feed = { [inputName]: new ort.Tensor('float32', x, [n, 3, H, W]) };
    const r = await ref.run(feed);
    const refDets = canDecode ? Array.from({ length: n }, (_, b) => decode(r, b)) : [];
    for (const [vi, s] of sessions.entries()) {
      const o = await s.run(feed);
      for (const name of outNames) addTensorErrors(tensor[vi][name], r[name].data as Float32Array, o[name].data as Float32Array);
      if (canDecode) for (let b = 0; b < n; b++) addTaskErrors(task[vi], refDets[b], decode(o, b));
    }
    emit({ type: 'progress', done: i0 + n, total: p.inputs.count, unit: 'inputs' });
  }
  const results = [];
  let failed = 0;
  for (const [vi, v] of p.variants.entries()) {
    const outputs = Object.fromEntries(outNames.map((o) => [o, summarizeTensor(tensor[vi][o])]));
    const t = summarizeTask(task[vi]);
    const tol = { ...DEFAULT_TOLERANCES[v.kind], ...v.tolerances };
    const { verdict, rationale } = judge(outputs, t, tol);
    if (verdict === 'fail') failed++;
    for (const [o, s] of Object.entries(outputs)) {
      emit({ type: 'metric', name: 'equivalence.max_abs', value: s.max_abs, target: `${v.name}/${o}`, denominators: { values: s.values } });
      emit({ type: 'metric', name: 'equivalence.p99_abs', value: s.p99_abs, target: `${v.name}/${o}`, denominators: { values: s.values } });
    }
    emit({ type: 'metric', name: 'equivalence.iou_drift', value: t.iou_drift, target: v.name, denominators: { boxes: t.matched, images: t.images } });
    emit({ type: 'metric', name: 'equivalence.match_rate', value: t.match_rate, target: v.name, denominators: { boxes: Math.max(t.reference_detections, t.variant_detections) } });
    emit({ type: 'verdict', gate: `equivalence-${v.name}`, verdict, rationale: [`${v.name} (${v.kind}) vs FP32 reference on ${p.inputs.count} inputs`, ...rationale] });
    results.push({ name: v.name, kind: v.kind, model: v.model, tolerances: tol, verdict, rationale, outputs, task: t });
  }
  writeReport(p.pack, 'equivalence', {
    status: failed ? 'failed' : 'succeeded',
    reference: p.reference,
    inputs: { manifest: p.inputs.manifest, frames: frames.length, count: p.inputs.count, seed: p.inputs.seed, distribution: p.inputs.perturbations, drawn: perturbationCounts },
    variants: results,
  });
  await Promise.all([ref.release(), ...sessions.map((s) => s.release())]);
  if (failed) {
    process.stderr.write(`equivalence: ${failed} of ${p.variants.length} variant(s) outside tolerance: ${results.filter((r) => r.verdict === 'fail').map((r) => `${r.name} (${r.rationale.filter((l) => l.startsWith('FAIL')).map((l) => l.slice(5)).join('; ')})`).join(', ')}\n`);
    return 1;
  }
  return 0;
}
