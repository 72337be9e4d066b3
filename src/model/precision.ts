/**
 * Precision variants of an ONNX model, rewritten on the decoded protobuf (onnx-proto.ts):
 *
 * - FP16: float initializers and Constant values to half, a Cast at each float graph input and
 *   output (the model keeps float32 I/O, so the inference contract does not change), a keep-FP32
 *   list of operator types or node names that run in float32 between Casts, and the inputs that
 *   ONNX requires as float32 whatever the data type (Resize's roi and scales) left alone.
 * - Calibration: the model with chosen intermediate tensors added as graph outputs.
 * The INT8 QDQ variant is in int8-qdq.ts.
 *
 * The results are checked by loading them in onnxruntime (test/model/precision.test.ts).
 */
import { DataType, type OnnxModel, type OnnxNode, type OnnxTensor, makeNode, makeTensor, tensorDims, tensorFloats, toNumber } from './onnx-proto.js';

const clone = <T>(v: T): T => structuredClone(v);

/** float32 -> IEEE half bits, round to nearest even; beyond the half range: +-65504 (clamped, not Inf). */
export function f32ToF16Bits(v: number): number {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  if (Number.isNaN(v)) return 0x7e00;
  f[0] = Math.max(-65504, Math.min(65504, v));
  const x = u[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** Half bits -> number. */
export function f16BitsToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Inputs (by index) that ONNX types as float32 whatever T is. */
const FLOAT32_INPUTS: Record<string, number[]> = { Resize: [1, 2], Upsample: [1] };
/** Operators whose outputs are not floats (the FP16 pass leaves their types alone). */
const NON_FLOAT_OUTPUTS = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf', 'NonMaxSuppression', 'QuantizeLinear']);

export interface Fp16Options {
  /** Operator types that stay float32 (e.g. ["Sigmoid"]). */
  keepOps?: string[];
  /** Node names that stay float32. */
  keepNodes?: string[];
}

export interface Fp16Report {
  converted: number;
  kept: string[];
  casts: number;
  initializers: number;
  clamped: number;
}

/** Hoists float Constant nodes into initializers (same meaning, one place to convert). */
function hoistConstants(m: OnnxModel): void {
  const keep: OnnxNode[] = [];
  for (const n of m.graph.node) {
    const value = n.opType === 'Constant' && (!n.domain || n.domain === 'ai.onnx') ? n.attribute.find((a) => a.name === 'value' && a.t) : undefined;
    if (value && n.output.length === 1) m.graph.initializer.push({ ...value.t!, name: n.output[0] });
    else keep.push(n);
  }
  m.graph.node = keep;
}

/** The FP16 variant of an FP32 model. */
export function toFp16(model: OnnxModel, opts: Fp16Options = {}): { model: OnnxModel; report: Fp16Report } {
  const m = clone(model);
  hoistConstants(m);
  const g = m.graph;
  const keepOps = new Set(opts.keepOps ?? []);
  const keepNodes = new Set(opts.keepNodes ?? []);
  const report: Fp16Report = { converted: 0, kept: [], casts: 0, initializers: 0, clamped: 0 };
  const newInits: OnnxTensor[] = g.initializer.filter((t) => t.dataType !== DataType.FLOAT);
  // Current float type of each float tensor: 'f32' | 'f16'. Non-float tensors are absent.
  const typeOf = new Map<string, 'f32' | 'f16'>();
  for (const i of g.input) if (i.type?.tensorType?.elemType === DataType.FLOAT) typeOf.set(i.name, 'f32');
  const floatInits = new Map<string, OnnxTensor>();
  for (const t of g.initializer) if (t.dataType === DataType.FLOAT) floatInits.set(t.name!, t);
  const made = new Map<string, string>(); // `${name}|${type}` -> tensor name of that type
  const out: OnnxNode[] = [];
  const graphOutputs = new Set(g.output.map((o) => o.name));
  let castId = 0;

  const asType = (name: string, want: 'f32' | 'f16'): string => {
    if (name === '') return name;
    const key = `${name}|${want}`;
    const hit = made.get(key);
    if (hit) return hit;
    const init = floatInits.get(name);
    if (init) {
      const tname = want === 'f32' ? name : `${name}__fp16`;
      if (want === 'f32') newInits.push(init);
      else {
        const src = tensorFloats(init);
        const bits = new Uint16Array(src.length);
        for (let i = 0; i < src.length; i++) {
          if (Math.abs(src[i]) > 65504) report.clamped++;
          bits[i] = f32ToF16Bits(src[i]);
        }
        newInits.push(makeTensor(tname, DataType.FLOAT16, tensorDims(init), bits));
        report.initializers++;
      }
      made.set(key, tname);
      return tname;
    }
    const cur = typeOf.get(name);
    if (!cur || cur === want) return name;
    const tname = `${name}__to_${want}`;
    out.push(makeNode('Cast', [name], [tname], `paddock_cast_${castId++}`, { to: want === 'f16' ? DataType.FLOAT16 : DataType.FLOAT }));
    report.casts++;
    made.set(key, tname);
    return tname;
  };

  for (const n0 of g.node) {
    const n = clone(n0);
    const isDefault = !n.domain || n.domain === 'ai.onnx';
    const keep = !isDefault || keepOps.has(n.opType) || keepNodes.has(n.name ?? '') || n.opType === 'Cast';
    const mode: 'f32' | 'f16' = keep ? 'f32' : 'f16';
    if (keep && isDefault && n.opType !== 'Cast') report.kept.push(n.name || n.opType);
    else if (!keep) report.converted++;
    const f32Slots = new Set(FLOAT32_INPUTS[n.opType] ?? []);
    const hasFloatInput = n0.input.some((x) => typeOf.has(x) || floatInits.has(x));
    n.input = n.input.map((name, i) => (typeOf.has(name) || floatInits.has(name) ? asType(name, f32Slots.has(i) ? 'f32' : mode) : name));
    let outType: 'f32' | 'f16' | undefined;
    if (n.opType === 'Cast') {
      const to = toNumber(n.attribute.find((a) => a.name === 'to')?.i);
      outType = to === DataType.FLOAT ? 'f32' : to === DataType.FLOAT16 ? 'f16' : undefined;
    } else if (!NON_FLOAT_OUTPUTS.has(n.opType) && hasFloatInput) outType = mode;
    const finalCasts: OnnxNode[] = [];
    n.output = n.output.map((name, i) => {
      if (!outType || (n.opType === 'TopK' && i === 1)) return name;
      if (outType === 'f16' && graphOutputs.has(name)) {
        // The graph output keeps float32: the node writes a half tensor, a Cast makes the output.
        const inner = `${name}__fp16_out`;
        typeOf.set(inner, 'f16');
        made.set(`${name}|f16`, inner);
        typeOf.set(name, 'f32');
        finalCasts.push(makeNode('Cast', [inner], [name], `paddock_cast_${castId++}`, { to: DataType.FLOAT }));
        report.casts++;
        return inner;
      }
      typeOf.set(name, outType);
      return name;
    });
    out.push(n, ...finalCasts);
  }
  g.node = out;
  g.initializer = newInits;
  g.valueInfo = [];
  return { model: m, report };
}

/** The model with `tensors` added as graph outputs (float32), for collecting activation ranges. */
export function withOutputs(model: OnnxModel, tensors: string[]): OnnxModel {
  const m = clone(model);
  const have = new Set(m.graph.output.map((o) => o.name));
  for (const t of tensors) if (!have.has(t)) m.graph.output.push({ name: t, type: { tensorType: { elemType: DataType.FLOAT } } });
  return m;
}
