/**
 * The `equivalence` step: the FP32 reference against each variant on `count` inputs drawn from a
 * declared, seeded distribution (real frames and perturbations of them: brightness, contrast,
 * sensor noise, flips), at tensor and task level, with a verdict per variant from the recipe's
 * tolerances. A failed verdict fails the step.
 *
 * Inputs are drawn (frames decoded, perturbed) once per batch, on this thread, and every model
 * runs that same batch. With `workers` (the default) the reference and each variant run on a
 * worker thread of their own, decoding their own detections, while this thread draws the next
 * batch: onnxruntime-node runs a session synchronously on its JavaScript thread, so models on
 * one thread cannot overlap. The errors are added up here in batch order, reference first, as
 * the sequential loop does, so both give the same numbers to the bit
 * (test/steps/equivalence-workers.test.ts).
 */
import { z } from 'zod';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { emit } from '../emit.js';
import { decodeCenterNet, type Detection, decodeOptionsOf, identityLetterbox } from '../../model/decode.js';
import { loadContract } from '../../model/infer.js';
import { DEFAULT_PERTURBATIONS, drawInputs, loadFrames, type DrawnInput } from '../../pack/samples.js';
import { DEFAULT_TOLERANCES, addTaskErrors, addTensorErrors, judge, newTaskStats, newTensorStats, summarizeTask, summarizeTensor, type TaskStats, type TensorErrorStats } from '../../pack/equivalence.js';
import type { InferenceContract } from '../../schema/inference-contract.js';
import { installRoot } from '../../files/install-root.js';
import { sha256FileSync } from '../../files/digest.js';
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
    /**
     * Intra-op threads of each model's session. Default: with workers, this machine's cores
     * shared among the models (at least 1 each); on one thread, 2.
     */
    threads: z.number().int().min(0).max(64).optional(),
    /** Each model on a worker thread of its own (needs dist/step.js; without it, one thread). */
    workers: z.boolean().default(true),
  })
  .strict();
type Params = z.infer<typeof EquivalenceParams>;
type Ort = typeof import('onnxruntime-node');

/** workerData.role of a model worker. */
const MODEL_WORKER = 'paddock-equivalence-model';

/** What one model gives for a batch: its outputs by name and, when they decode, its detections per image. */
interface ModelRun {
  outputs: Record<string, Float32Array>;
  detections?: Detection[][];
}

/** One model, on this thread or a worker: runs batches (in the order given) and says its output names. */
interface ModelRunner {
  outputNames: readonly string[];
  run(x: Float32Array, n: number): Promise<ModelRun>;
  release(): Promise<void>;
}

interface ModelSpec {
  file: string;
  threads: number;
  contract: InferenceContract;
}

const DECODED = ['heatmap', 'size', 'offset'];

/** A session and the decode of its outputs, shared by both kinds of runner. */
async function openModel(ort: Ort, spec: ModelSpec) {
  const session = await ort.InferenceSession.create(spec.file, { intraOpNumThreads: spec.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const { width: W, height: H } = spec.contract.input.resize;
  const canDecode = DECODED.every((o) => session.outputNames.includes(o));
  const options = decodeOptionsOf(spec.contract);
  const classes = spec.contract.classes.length;
  const run = async (x: Float32Array, n: number): Promise<ModelRun> => {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [n, 3, H, W]) });
    const outputs = Object.fromEntries(session.outputNames.map((o) => [o, out[o].data as Float32Array]));
    if (!canDecode) return { outputs };
    const [, , oh, ow] = out.heatmap.dims as number[];
    const detections = Array.from({ length: n }, (_, b) => decodeCenterNet(outputs.heatmap, outputs.size, outputs.offset, b, classes, oh, ow, identityLetterbox(W, H), options));
    return { outputs, detections };
  };
  return { session, run };
}

async function threadRunner(ort: Ort, spec: ModelSpec): Promise<ModelRunner> {
  const { session, run } = await openModel(ort, spec);
  return { outputNames: session.outputNames, run, release: () => session.release() };
}

type ToWorker = { id: number; x: Float32Array; n: number } | { id: number; release: true };
type FromWorker = { ready: true; outputNames: string[] } | { id: number; run: ModelRun } | { id: number; released: true } | { id?: number; error: string };

/** A model on a worker thread started from `script` (dist/step.js, which serves it: serveModel). */
async function workerRunner(script: string, argv: string[], spec: ModelSpec): Promise<ModelRunner> {
  const worker = new Worker(script, { argv, workerData: { role: MODEL_WORKER, spec } });
  const waiting = new Map<number, { resolve: (v: FromWorker) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let broken: Error | undefined;
  const breakAll = (err: Error) => {
    broken ??= err;
    for (const w of waiting.values()) w.reject(broken);
    waiting.clear();
  };
  const ready = new Promise<{ outputNames: string[] }>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      if ('ready' in m) return resolve(m);
      if ('error' in m && m.id === undefined) {
        reject(new Error(`equivalence: ${spec.file}: ${m.error}`));
        return breakAll(new Error(`equivalence: ${spec.file}: ${m.error}`));
      }
      const w = waiting.get(m.id!);
      waiting.delete(m.id!);
      if ('error' in m) w?.reject(new Error(`equivalence: ${spec.file}: ${m.error}`));
      else w?.resolve(m);
    });
    worker.on('error', (err) => {
      const e = new Error(`equivalence: the worker of ${spec.file} failed: ${err.message}`);
      reject(e);
      breakAll(e);
    });
    worker.on('exit', (code) => {
      const e = new Error(`equivalence: the worker of ${spec.file} (${script}) ended with code ${code}`);
      reject(e);
      breakAll(e);
    });
  });
  const ask = (m: ToWorker, transfer: ArrayBuffer[] = []) =>
    new Promise<FromWorker>((resolve, reject) => {
      if (broken) return reject(broken);
      waiting.set(m.id, { resolve, reject });
      worker.postMessage(m, transfer);
    });
  const { outputNames } = await ready;
  return {
    outputNames,
    // The batch is copied to each worker (structured clone): onnxruntime-node refuses a view of a SharedArrayBuffer.
    run: async (x, n) => ((await ask({ id: nextId++, x, n })) as { run: ModelRun }).run,
    release: async () => {
      await ask({ id: nextId++, release: true }).catch(() => undefined);
      await worker.terminate();
    },
  };
}

/** A model worker's side: opens the session it was started for and runs each batch it is sent, in order. */
async function serveModel(): Promise<number> {
  const port = parentPort!;
  const { spec } = workerData as { spec: ModelSpec };
  try {
    const ort = await import('onnxruntime-node');
    const { session, run } = await openModel(ort, spec);
    let queue = Promise.resolve();
    port.on('message', (m: ToWorker) => {
      queue = queue.then(async () => {
        try {
          if ('release' in m) {
            await session.release();
            port.postMessage({ id: m.id, released: true } satisfies FromWorker);
            return;
          }
          const r = await run(m.x, m.n);
          // Copies that can be moved: the session's output buffers are its own.
          const outputs = Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.slice()]));
          port.postMessage({ id: m.id, run: { outputs, detections: r.detections } } satisfies FromWorker, Object.values(outputs).map((v) => v.buffer as ArrayBuffer));
        } catch (err) {
          port.postMessage({ id: m.id, error: (err as Error).message } satisfies FromWorker);
        }
      });
    });
    port.postMessage({ ready: true, outputNames: [...session.outputNames] } satisfies FromWorker);
  } catch (err) {
    port.postMessage({ error: (err as Error).message } satisfies FromWorker);
  }
  return 0;
}

/** Whether models run on workers, and the worker script: dist/step.js, this step's body (PADDOCK_EQUIVALENCE_WORKERS=0: one thread). */
function workerScript(p: Params): string | undefined {
  if (!p.workers || process.env.PADDOCK_EQUIVALENCE_WORKERS === '0') return undefined;
  const script = join(installRoot(), 'dist', 'step.js');
  return existsSync(script) ? script : undefined;
}

export async function runEquivalence(p: Params): Promise<number> {
  if (!isMainThread && (workerData as { role?: string } | null)?.role === MODEL_WORKER) return serveModel();
  await holdPack(p.pack);
  const ort = await import('onnxruntime-node');
  const contract = loadContract(p.contract);
  const frames = loadFrames(p.inputs.manifest);
  if (!frames.length) throw new Error(`${p.inputs.manifest}: no frames`);
  // A variant whose file has the reference's bytes (the committed ONNX against a reproducible
  // export) is the same model: ONNX Runtime on this CPU gives it the same outputs to the bit, so it
  // shares the reference's session instead of running every input a second time (in the demo, a
  // quarter of the step's inference). It is still judged on every input, against those outputs.
  const digest = (file: string) => (existsSync(file) ? sha256FileSync(file).sha256 : undefined);
  const refDigest = digest(p.reference);
  const models = [p.reference, ...p.variants.map((v) => v.model).filter((m) => refDigest === undefined || digest(m) !== refDigest)];
  const runnerOf = [0, ...p.variants.map((v) => (refDigest !== undefined && digest(v.model) === refDigest ? 0 : models.indexOf(v.model)))];
  const same = p.variants.filter((_, i) => runnerOf[i + 1] === 0).map((v) => v.name);
  if (same.length) log(`${same.join(', ')}: the same bytes as the reference (sha256 ${refDigest!.slice(0, 12)}); its outputs are the reference's, not computed again`);
  const script = workerScript(p);
  const threads = p.threads ?? (script ? Math.max(1, Math.floor(availableParallelism() / models.length)) : 2);
  const open = (file: string) => (script ? workerRunner(script, ['equivalence', JSON.stringify(p)], { file, threads, contract }) : threadRunner(ort, { file, threads, contract }));
  const runners: ModelRunner[] = [];
  try {
    const opened = await Promise.allSettled(models.map(open));
    for (const r of opened) if (r.status === 'fulfilled') runners.push(r.value);
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return await compare(p, frames, contract, runners, runnerOf, script ? `${models.length} worker threads, ${threads} intra-op thread(s) each` : `one thread, ${threads} intra-op thread(s)`);
  } finally {
    await Promise.all(runners.map((r) => r.release().catch(() => undefined)));
  }
}

/** `runnerOf[0]` is the reference's runner (0), `runnerOf[1 + i]` variant i's: runners are shared by models of the same bytes. */
async function compare(p: Params, frames: ReturnType<typeof loadFrames>, contract: InferenceContract, runners: ModelRunner[], runnerOf: number[], how: string): Promise<number> {
  const outNames = runners[0].outputNames;
  const { width: W, height: H } = contract.input.resize;
  const per = 3 * W * H;
  const tensor = p.variants.map(() => Object.fromEntries(outNames.map((o) => [o, newTensorStats()])) as Record<string, TensorErrorStats>);
  const task = p.variants.map(() => newTaskStats() as TaskStats);
  const perturbationCounts: Record<string, number> = {};
  log(`${p.inputs.count} inputs from ${frames.length} frames of ${p.inputs.manifest} (seed ${p.inputs.seed}; identity ${p.inputs.perturbations.identity}, brightness ${p.inputs.perturbations.brightness.weight}, contrast ${p.inputs.perturbations.contrast.weight}, noise ${p.inputs.perturbations.noise.weight}, flip ${p.inputs.perturbations.flip}); variants ${p.variants.map((v) => v.name).join(', ')}; batches of ${p.batch} on ${how}`);
  const canDecode = DECODED.every((o) => outNames.includes(o));
  // Every model runs the batch (reference first); batch k+1 is drawn while the models run batch k.
  const launch = async (i0: number) => {
    const n = Math.min(p.batch, p.inputs.count - i0);
    const x = new Float32Array(n * per);
    const drawn: DrawnInput[] = await drawInputs(frames, contract, p.inputs.perturbations, p.inputs.seed, i0, n, x);
    return { n, drawn, runs: await Promise.all(runners.map((r) => r.run(x, n))) };
  };
  let pending = launch(0);
  for (let i0 = 0; i0 < p.inputs.count; i0 += p.batch) {
    const next = i0 + p.batch < p.inputs.count ? launch(i0 + p.batch) : undefined;
    // Its error, if any, is thrown when its turn comes (not as an unhandled rejection meanwhile).
    next?.catch(() => undefined);
    const { n, drawn, runs: byRunner } = await pending;
    const [r, ...outs] = runnerOf.map((k) => byRunner[k]);
    for (const d of drawn) {
      const kind = d.perturbation.split(' ')[0];
      perturbationCounts[kind] = (perturbationCounts[kind] ?? 0) + 1;
    }
    for (const [vi, o] of outs.entries()) {
      for (const name of outNames) addTensorErrors(tensor[vi][name], r.outputs[name], o.outputs[name]);
      if (canDecode) for (let b = 0; b < n; b++) addTaskErrors(task[vi], r.detections![b], o.detections![b]);
    }
    emit({ type: 'progress', done: i0 + n, total: p.inputs.count, unit: 'inputs' });
    if (next) pending = next;
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
  if (failed) {
    process.stderr.write(`equivalence: ${failed} of ${p.variants.length} variant(s) outside tolerance: ${results.filter((r) => r.verdict === 'fail').map((r) => `${r.name} (${r.rationale.filter((l) => l.startsWith('FAIL')).map((l) => l.slice(5)).join('; ')})`).join(', ')}\n`);
    return 1;
  }
  return 0;
}
