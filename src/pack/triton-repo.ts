/**
 * A Triton model repository for a pack: one model per variant (`<repo>/<name>/config.pbtxt` and
 * a numbered version directory with model.onnx or model.plan), dynamic batching and instance
 * groups from the recipe, and, when asked, an ensemble of Python pre-processing, the detector and
 * Python post-processing. Every config written is parsed back (pbtxt.ts) and checked against the
 * model it serves and, for the ensemble, against the maps of its steps.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from '../files/atomic.js';
import type { InferenceContract } from '../schema/inference-contract.js';
import { decodeModel, DATA_TYPE_NAMES, toNumber } from '../model/onnx-proto.js';
import { formatPbtxt, parsePbtxt, pbMessages, pbString, type PbMessage } from './pbtxt.js';

export interface TritonModelSpec {
  /** Triton model name, e.g. world-detector_fp16. */
  name: string;
  /** The file served: an ONNX model or a TensorRT plan. */
  file: string;
  format: 'onnx' | 'plan';
}

export interface TritonOptions {
  repo: string;
  version: number;
  maxBatchSize: number;
  dynamicBatching?: { preferred: number[]; maxQueueDelayUs: number };
  instances: { count: number; kind: 'KIND_GPU' | 'KIND_CPU' };
  ensemble?: { name: string; detector: string; preprocessPy: string; postprocessPy: string };
}

const TRITON_TYPE: Record<string, string> = { float32: 'TYPE_FP32', float16: 'TYPE_FP16', int8: 'TYPE_INT8', uint8: 'TYPE_UINT8', int32: 'TYPE_INT32', int64: 'TYPE_INT64', bool: 'TYPE_BOOL', float64: 'TYPE_FP64' };
const en = (e: string) => ({ enum: e });

interface Io {
  name: string;
  type: string;
  dims: number[];
}

/** Inputs and outputs of an ONNX model, without the batch axis. */
export function onnxIo(file: string): { inputs: Io[]; outputs: Io[] } {
  const m = decodeModel(readFileSync(file), file);
  const inits = new Set(m.graph.initializer.map((t) => t.name));
  const io = (v: (typeof m.graph.input)[number]): Io => {
    const t = v.type?.tensorType;
    const dims = (t?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined ? toNumber(d.dimValue) : -1));
    return { name: v.name, type: TRITON_TYPE[DATA_TYPE_NAMES[t?.elemType ?? 0]] ?? 'TYPE_INVALID', dims: dims.slice(1) };
  };
  return { inputs: m.graph.input.filter((i) => !inits.has(i.name)).map(io), outputs: m.graph.output.map(io) };
}

const ioMsg = (x: Io): PbMessage => ({ name: [x.name], data_type: [en(x.type)], dims: x.dims });

function modelConfig(spec: TritonModelSpec, io: { inputs: Io[]; outputs: Io[] }, o: TritonOptions): PbMessage {
  const cfg: PbMessage = {
    name: [spec.name],
    ...(spec.format === 'onnx' ? { backend: ['onnxruntime'] } : { platform: ['tensorrt_plan'] }),
    max_batch_size: [o.maxBatchSize],
    input: io.inputs.map(ioMsg),
    output: io.outputs.map(ioMsg),
    instance_group: [{ count: [o.instances.count], kind: [en(o.instances.kind)] }],
    version_policy: [{ specific: [{ versions: [o.version] }] }],
  };
  if (o.dynamicBatching) cfg.dynamic_batching = [{ preferred_batch_size: o.dynamicBatching.preferred, max_queue_delay_microseconds: [o.dynamicBatching.maxQueueDelayUs] }];
  return cfg;
}

export interface WrittenRepo {
  models: { name: string; config: string; file?: string; platform: string }[];
  checks: string[];
}

/** Writes the repository; throws when a config does not parse back or does not fit its model. */
export function writeTritonRepo(models: TritonModelSpec[], contract: InferenceContract, o: TritonOptions): WrittenRepo {
  const out: WrittenRepo = { models: [], checks: [] };
  const ios = new Map<string, { inputs: Io[]; outputs: Io[] }>();
  for (const spec of models) {
    const dir = join(o.repo, spec.name);
    mkdirSync(join(dir, String(o.version)), { recursive: true });
    const dest = join(dir, String(o.version), spec.format === 'onnx' ? 'model.onnx' : 'model.plan');
    copyFileSync(spec.file, dest);
    const io = spec.format === 'onnx' ? onnxIo(spec.file) : { inputs: [{ name: contract.input.name, type: 'TYPE_FP32', dims: contract.input.shape.slice(1) }], outputs: Object.entries(contract.outputs).map(([name, v]) => ({ name, type: 'TYPE_FP32', dims: v.shape.slice(1) })) };
    ios.set(spec.name, io);
    const cfgFile = join(dir, 'config.pbtxt');
    writeAtomic(cfgFile, formatPbtxt(modelConfig(spec, io, o)));
    checkModelConfig(cfgFile, spec.name, io, o);
    out.checks.push(`${spec.name}: config.pbtxt parses back; inputs ${io.inputs.map((i) => `${i.name}[${i.dims.join(',')}]`).join(' ')} and outputs ${io.outputs.map((x) => x.name).join(' ')} match ${spec.format === 'onnx' ? 'the ONNX graph' : 'the contract'}`);
    out.models.push({ name: spec.name, config: cfgFile, file: dest, platform: spec.format === 'onnx' ? 'onnxruntime' : 'tensorrt_plan' });
  }
  if (o.ensemble) {
    const e = o.ensemble;
    const det = ios.get(e.detector);
    if (!det) throw new Error(`ensemble: no model "${e.detector}" in the repository`);
    const pre = `${e.name}_preprocess`;
    const post = `${e.name}_postprocess`;
    const { width: W, height: H } = contract.input.resize;
    const pyCfg = (name: string, inputs: Io[], outputs: Io[]): PbMessage => ({ name: [name], backend: ['python'], max_batch_size: [o.maxBatchSize], input: inputs.map(ioMsg), output: outputs.map(ioMsg), instance_group: [{ count: [1], kind: [en('KIND_CPU')] }] });
    const preIo = { inputs: [{ name: 'image', type: 'TYPE_UINT8', dims: [-1, -1, 3] }], outputs: [{ name: contract.input.name, type: 'TYPE_FP32', dims: [3, H, W] }, { name: 'letterbox', type: 'TYPE_FP32', dims: [6] }] };
    const postIo = { inputs: [...det.outputs, { name: 'letterbox', type: 'TYPE_FP32', dims: [6] }], outputs: [{ name: 'detections', type: 'TYPE_FP32', dims: [contract.max_detections, 6] }, { name: 'num_detections', type: 'TYPE_INT32', dims: [1] }] };
    for (const [name, io, py] of [[pre, preIo, e.preprocessPy], [post, postIo, e.postprocessPy]] as const) {
      mkdirSync(join(o.repo, name, '1'), { recursive: true });
      copyFileSync(py, join(o.repo, name, '1', 'model.py'));
      writeAtomic(join(o.repo, name, 'contract.json'), JSON.stringify(contract, null, 1));
      const f = join(o.repo, name, 'config.pbtxt');
      writeAtomic(f, formatPbtxt(pyCfg(name, io.inputs, io.outputs)));
      checkModelConfig(f, name, io, o);
      ios.set(name, io);
      out.models.push({ name, config: f, file: join(o.repo, name, '1', 'model.py'), platform: 'python' });
    }
    const map = (pairs: [string, string][]) => pairs.map(([key, value]) => ({ key: [key], value: [value] }));
    const ens: PbMessage = {
      name: [e.name],
      platform: ['ensemble'],
      max_batch_size: [o.maxBatchSize],
      input: [ioMsg(preIo.inputs[0])],
      output: postIo.outputs.map(ioMsg),
      ensemble_scheduling: [
        {
          step: [
            { model_name: [pre], model_version: [-1], input_map: map([['image', 'image']]), output_map: map([[contract.input.name, 'preprocessed'], ['letterbox', 'letterbox']]) },
            { model_name: [e.detector], model_version: [-1], input_map: map([[det.inputs[0].name, 'preprocessed']]), output_map: map(det.outputs.map((x) => [x.name, `raw_${x.name}`])) },
            { model_name: [post], model_version: [-1], input_map: map([...det.outputs.map((x) => [x.name, `raw_${x.name}`] as [string, string]), ['letterbox', 'letterbox']]), output_map: map([['detections', 'detections'], ['num_detections', 'num_detections']]) },
          ],
        },
      ],
    };
    mkdirSync(join(o.repo, e.name, '1'), { recursive: true });
    const f = join(o.repo, e.name, 'config.pbtxt');
    writeAtomic(f, formatPbtxt(ens));
    out.checks.push(...checkEnsemble(f, ios));
    out.models.push({ name: e.name, config: f, platform: 'ensemble' });
  }
  return out;
}

/** Parses a written config back and checks it against what it serves. */
export function checkModelConfig(file: string, name: string, io: { inputs: Io[]; outputs: Io[] }, o: Pick<TritonOptions, 'maxBatchSize'>): void {
  const cfg = parsePbtxt(readFileSync(file, 'utf8'), file);
  const fail = (why: string) => {
    throw new Error(`${file}: ${why}`);
  };
  if (pbString(cfg, 'name') !== name) fail(`name is ${pbString(cfg, 'name')}, the directory is ${name}`);
  if (cfg.max_batch_size?.[0] !== o.maxBatchSize) fail(`max_batch_size is ${cfg.max_batch_size?.[0]}, expected ${o.maxBatchSize}`);
  for (const [field, want] of [['input', io.inputs], ['output', io.outputs]] as const) {
    const got = pbMessages(cfg, field);
    if (got.length !== want.length) fail(`${got.length} ${field}s, the model has ${want.length}`);
    want.forEach((w, i) => {
      const g = got[i];
      if (pbString(g, 'name') !== w.name || pbString(g, 'data_type') !== w.type || JSON.stringify(g.dims) !== JSON.stringify(w.dims)) fail(`${field} ${i} is ${pbString(g, 'name')} ${pbString(g, 'data_type')} [${(g.dims ?? []).join(',')}], the model has ${w.name} ${w.type} [${w.dims.join(',')}]`);
    });
  }
}

/** Every step's input_map reads an ensemble input or an earlier step's output; keys are the step model's tensors. */
export function checkEnsemble(file: string, ios: Map<string, { inputs: Io[]; outputs: Io[] }>): string[] {
  const cfg = parsePbtxt(readFileSync(file, 'utf8'), file);
  const available = new Set(pbMessages(cfg, 'input').map((i) => pbString(i, 'name')!));
  const sched = pbMessages(cfg, 'ensemble_scheduling')[0];
  if (!sched) throw new Error(`${file}: an ensemble needs ensemble_scheduling`);
  const lines: string[] = [];
  for (const [k, step] of pbMessages(sched, 'step').entries()) {
    const model = pbString(step, 'model_name')!;
    const io = ios.get(model);
    if (!io) throw new Error(`${file}: step ${k + 1} runs "${model}", which is not in the repository`);
    for (const m of pbMessages(step, 'input_map')) {
      const key = pbString(m, 'key')!;
      const value = pbString(m, 'value')!;
      if (!io.inputs.some((i) => i.name === key)) throw new Error(`${file}: step ${k + 1} (${model}) maps "${key}", which is not an input of ${model}`);
      if (!available.has(value)) throw new Error(`${file}: step ${k + 1} (${model}) reads "${value}", which no earlier step produces`);
    }
    for (const m of pbMessages(step, 'output_map')) {
      const key = pbString(m, 'key')!;
      if (!io.outputs.some((x) => x.name === key)) throw new Error(`${file}: step ${k + 1} (${model}) maps output "${key}", which ${model} does not produce`);
      available.add(pbString(m, 'value')!);
    }
  }
  for (const out of pbMessages(cfg, 'output')) if (!available.has(pbString(out, 'name')!)) throw new Error(`${file}: the ensemble output "${pbString(out, 'name')}" is produced by no step`);
  lines.push(`${pbString(cfg, 'name')}: ensemble of ${pbMessages(sched, 'step').length} steps; every map names a real tensor and every output is produced`);
  return lines;
}
