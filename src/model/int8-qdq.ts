/**
 * The INT8 variant in the QDQ layout that ONNX Runtime fuses into integer kernels on x86
 * (QLinearConv, QLinearAdd, ...), rewritten on the decoded protobuf (onnx-proto.ts). Pure.
 *
 * A quantized node reads int8 and writes int8, as the fused kernel will: every activation input
 * of a quantized node and its output get a QuantizeLinear -> DequantizeLinear pair (shared by all
 * the tensor's consumers), so ORT's QDQ selectors see DQ -> op -> Q and replace the three with
 * one integer kernel. The layout follows what ORT's fusions need (onnxruntime
 * docs/performance/model-optimizations/quantization, "QDQ format"):
 * - activations are uint8, asymmetric (real = scale * (q - zero_point)); on x86 ORT's kernels are
 *   U8S8 (uint8 activations, int8 weights), the fast path with AVX2/AVX-512 VNNI;
 * - weights are int8, symmetric per output channel (axis 0), zero point 0; Conv's bias is int32
 *   at scale x_scale * w_scale[c], zero point 0, which QLinearConv takes as is;
 * - a Relu (or Clip) right after a quantized node is left in the graph with the Q on its output:
 *   the Q's zero point is 0 (the range starts at 0), so ORT removes the Relu (ReluQuantFusion)
 *   and fuses the node with the Q; the Relu's output is the tensor quantized;
 * - Resize and MaxPool only move values: their output takes their input's scale and zero point,
 *   which is what lets ORT drop their Q/DQ and run them on uint8;
 * - a node whose output is a graph output is not quantized: a Q on a model output adds error the
 *   caller sees, and without it ORT cannot fuse; the model keeps float32 I/O.
 * Nodes of other types stay float32 between a DQ and a Q; `int8Plan` says which and why.
 */
import { DataType, type OnnxModel, type OnnxNode, makeNode, makeTensor, tensorDims, tensorFloats } from './onnx-proto.js';

const clone = <T>(v: T): T => structuredClone(v);

/** How a quantizable operator is rewritten. */
interface OpRule {
  /** Input slots that are activations (quantized through Q/DQ). */
  activations: (n: OnnxNode) => number[];
  /** Input slot of a weight initializer quantized per channel, if any. */
  weight?: number;
  /** The output reuses the (first) input's quantization (values are only moved). */
  sameScale?: boolean;
}

/** Operators the plan quantizes, and how. ORT has a QDQ fusion or a uint8 kernel for each. */
export const INT8_OPS: Record<string, OpRule> = {
  Conv: { activations: () => [0], weight: 1 },
  Add: { activations: () => [0, 1] },
  Mul: { activations: () => [0, 1] },
  Concat: { activations: (n) => n.input.map((_, i) => i) },
  Resize: { activations: () => [0], sameScale: true },
  MaxPool: { activations: () => [0], sameScale: true },
  AveragePool: { activations: () => [0] },
  GlobalAveragePool: { activations: () => [0] },
  Sigmoid: { activations: () => [0] },
};

/** Activations a quantized node's output may pass through before its Q (ORT removes them). */
const FOLDED_ACTIVATIONS = new Set(['Relu', 'Clip']);

/** One node the INT8 variant can quantize. */
export interface Int8Layer {
  node: string;
  opType: string;
  /** Activation tensors it reads (each gets a Q/DQ). */
  inputs: string[];
  /** The tensor quantized at its output: its own output, or that of the Relu/Clip after it. */
  output: string;
  /** The Relu/Clip folded into it, if any. */
  folded?: string;
  /** Its weight initializer, if it has one. */
  weight?: string;
}

/** What the INT8 plan does with each node of the model. */
export interface Int8Plan {
  layers: Int8Layer[];
  /** Nodes that stay float32, with why (operators that are folded are not listed). */
  float: { node: string; opType: string; reason: string }[];
  /** Every tensor that needs a range: the layers' inputs and outputs, in graph order. */
  tensors: string[];
}

const nameOf = (n: OnnxNode, i: number) => n.name || `${n.opType}#${i}`;
const isDefaultDomain = (n: OnnxNode) => !n.domain || n.domain === 'ai.onnx';

/** The nodes the INT8 variant quantizes (in graph order), the ones it leaves in float32, and why. */
export function int8Plan(model: OnnxModel): Int8Plan {
  const g = model.graph;
  const inits = new Map(g.initializer.map((t) => [t.name!, t]));
  const graphOutputs = new Set(g.output.map((o) => o.name));
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.node) for (const x of n.input) if (x) consumers.set(x, [...(consumers.get(x) ?? []), n]);
  const folded = new Set<string>();
  const layers: Int8Layer[] = [];
  const float: Int8Plan['float'] = [];
  for (const [i, n] of g.node.entries()) {
    const name = nameOf(n, i);
    const rule = isDefaultDomain(n) ? INT8_OPS[n.opType] : undefined;
    if (folded.has(name)) continue;
    if (!rule) {
      if (n.opType !== 'Constant') float.push({ node: name, opType: n.opType, reason: FOLDED_ACTIVATIONS.has(n.opType) ? 'follows a float32 node (nothing to fold it into)' : 'no integer kernel in the QDQ layout for this operator' });
      continue;
    }
    const inputs = rule.activations(n).map((k) => n.input[k]).filter((x) => x && !inits.has(x));
    if (!inputs.length) {
      float.push({ node: name, opType: n.opType, reason: 'no activation input (constants only)' });
      continue;
    }
    if (rule.weight !== undefined) {
      const w = inits.get(n.input[rule.weight]);
      if (!w || w.dataType !== DataType.FLOAT) {
        float.push({ node: name, opType: n.opType, reason: 'its weight is not a float32 initializer' });
        continue;
      }
      if (n.input[2] && !inits.has(n.input[2])) {
        float.push({ node: name, opType: n.opType, reason: 'its bias is not an initializer' });
        continue;
      }
    }
    let output = n.output[0];
    let fold: string | undefined;
    const next = consumers.get(output) ?? [];
    if (next.length === 1 && FOLDED_ACTIVATIONS.has(next[0].opType) && isDefaultDomain(next[0]) && !graphOutputs.has(output) && !rule.sameScale) {
      const j = g.node.indexOf(next[0]);
      fold = nameOf(next[0], j);
      output = next[0].output[0];
    }
    if (graphOutputs.has(output)) {
      float.push({ node: name, opType: n.opType, reason: 'writes a model output (kept float32: a Q there adds error and cannot fuse)' });
      continue;
    }
    if (fold) folded.add(fold);
    layers.push({ node: name, opType: n.opType, inputs, output, folded: fold, weight: rule.weight !== undefined ? n.input[rule.weight] : undefined });
  }
  const tensors: string[] = [];
  const seen = new Set<string>();
  for (const l of layers) for (const t of [...l.inputs, l.output]) if (!seen.has(t)) {
    seen.add(t);
    tensors.push(t);
  }
  return { layers, float, tensors };
}

/** uint8 asymmetric quantization of one tensor: real = scale * (q - zeroPoint). */
export interface ActivationQuant {
  scale: number;
  zeroPoint: number;
}

/**
 * The uint8 quantization of a real range, widened to include 0 (so that 0, padding and ReLU's
 * floor, is exact), as ONNX Runtime's quantizer does.
 */
export function uint8Quant(lo: number, hi: number): ActivationQuant {
  const a = Math.min(0, lo);
  const b = Math.max(0, hi);
  if (!(b > a)) return { scale: 1, zeroPoint: 0 };
  const scale = (b - a) / 255;
  return { scale, zeroPoint: Math.max(0, Math.min(255, roundHalfEven(-a / scale))) };
}

export interface QdqOptions {
  /** The quantization of each activation tensor the quantized layers read or write. */
  activations: Map<string, ActivationQuant>;
  /** The layers (node names) quantized; default every layer of the plan. */
  layers?: Set<string>;
  /** Tensors given a Q/DQ pair without quantizing any node (fake quantization, to measure one range's error). */
  tensors?: Set<string>;
}

/** Rounds half to even, as ONNX's QuantizeLinear, numpy and torch.round do (Math.round rounds half up). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Symmetric int8 per output channel (axis 0) of a float weight: values and scales, rounded as the QAT training rounds. */
export function quantizeWeightPerChannel(w: Float32Array, cout: number): { q: Int8Array; scale: Float32Array } {
  const per = w.length / cout;
  const scale = new Float32Array(cout);
  const q = new Int8Array(w.length);
  for (let c = 0; c < cout; c++) {
    let amax = 0;
    for (let j = 0; j < per; j++) amax = Math.max(amax, Math.abs(w[c * per + j]));
    const s = amax > 0 ? amax / 127 : 1;
    scale[c] = s;
    for (let j = 0; j < per; j++) q[c * per + j] = Math.max(-127, Math.min(127, roundHalfEven(w[c * per + j] / s)));
  }
  return { q, scale };
}

/** The INT8 QDQ model: the chosen layers quantized (int8 in and out), the rest float32. */
export function toQdq(model: OnnxModel, opts: QdqOptions): { model: OnnxModel; quantized: string[] } {
  const m = clone(model);
  const g = m.graph;
  const plan = int8Plan(m);
  const layers = plan.layers.filter((l) => !opts.layers || opts.layers.has(l.node));
  const inits = new Map(g.initializer.map((t) => [t.name!, t]));
  // The tensors that get a Q/DQ pair, and their quantization.
  const act = new Map(opts.activations);
  for (const l of layers) if (INT8_OPS[l.opType].sameScale && act.has(l.inputs[0])) act.set(l.output, act.get(l.inputs[0])!);
  const qdq = new Set<string>(opts.tensors ?? []);
  for (const l of layers) for (const t of [...l.inputs, l.output]) qdq.add(t);
  for (const t of qdq) if (!act.has(t)) throw new Error(`int8: no range for tensor ${t}`);
  const dqName = new Map<string, string>();
  const pairFor = (t: string): OnnxNode[] => {
    const q = act.get(t)!;
    const base = t.replace(/[^A-Za-z0-9_./-]/g, '_');
    g.initializer.push(makeTensor(`${base}__scale`, DataType.FLOAT, [], Float32Array.of(q.scale)), makeTensor(`${base}__zp`, DataType.UINT8, [], Uint8Array.of(q.zeroPoint)));
    dqName.set(t, `${base}__dq`);
    return [
      makeNode('QuantizeLinear', [t, `${base}__scale`, `${base}__zp`], [`${base}__q`], `${base}__QuantizeLinear`),
      makeNode('DequantizeLinear', [`${base}__q`, `${base}__scale`, `${base}__zp`], [`${base}__dq`], `${base}__DequantizeLinear`),
    ];
  };
  const byNode = new Map(layers.map((l) => [l.node, l]));
  const out: OnnxNode[] = [];
  for (const i of g.input) if (qdq.has(i.name)) out.push(...pairFor(i.name));
  const quantized: string[] = [];
  for (const [i, n0] of g.node.entries()) {
    const n = { ...n0, input: n0.input.map((x) => dqName.get(x) ?? x) };
    const layer = byNode.get(nameOf(n0, i));
    if (layer?.weight) {
      const w = inits.get(layer.weight)!;
      const dims = tensorDims(w);
      const { q, scale } = quantizeWeightPerChannel(tensorFloats(w), dims[0]);
      const wn = `${layer.weight}__int8`;
      g.initializer.push(makeTensor(wn, DataType.INT8, dims, q), makeTensor(`${wn}_scale`, DataType.FLOAT, [dims[0]], scale), makeTensor(`${wn}_zp`, DataType.INT8, [dims[0]], new Int8Array(dims[0])));
      out.push(makeNode('DequantizeLinear', [wn, `${wn}_scale`, `${wn}_zp`], [`${wn}_dq`], `${wn}_DequantizeLinear`, { axis: 0 }));
      n.input[1] = `${wn}_dq`;
      const b = n0.input[2] ? inits.get(n0.input[2]) : undefined;
      if (b && b.dataType === DataType.FLOAT) {
        const xs = act.get(layer.inputs[0])!.scale;
        const bd = tensorFloats(b);
        const bs = new Float32Array(dims[0]);
        const bq = new Int32Array(dims[0]);
        for (let c = 0; c < dims[0]; c++) {
          bs[c] = xs * scale[c];
          bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(bd[c] / bs[c])));
        }
        const bn = `${n0.input[2]}__int32`;
        g.initializer.push(makeTensor(bn, DataType.INT32, [dims[0]], bq), makeTensor(`${bn}_scale`, DataType.FLOAT, [dims[0]], bs), makeTensor(`${bn}_zp`, DataType.INT32, [dims[0]], new Int32Array(dims[0])));
        out.push(makeNode('DequantizeLinear', [bn, `${bn}_scale`, `${bn}_zp`], [`${bn}_dq`], `${bn}_DequantizeLinear`, { axis: 0 }));
        n.input[2] = `${bn}_dq`;
      }
    }
    if (layer) quantized.push(layer.node);
    out.push(n);
    for (const o of n0.output) if (qdq.has(o)) out.push(...pairFor(o));
  }
  g.node = out;
  const used = new Set(out.flatMap((n) => n.input));
  g.initializer = g.initializer.filter((t) => used.has(t.name!) || g.output.some((o) => o.name === t.name));
  g.valueInfo = [];
  return { model: m, quantized };
}

/** Operator types of a model by count, e.g. {QLinearConv: 16, Conv: 3, ...}: read off ORT's optimised graph. */
export function opCounts(model: OnnxModel): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of model.graph.node) {
    const k = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    c[k] = (c[k] ?? 0) + 1;
  }
  return c;
}
