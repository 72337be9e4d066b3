/**
 * The ONNX protobuf (onnx/onnx.proto, IR version 8-10) read and written with protobufjs.
 *
 * protobufjs is the well-kept JavaScript protobuf library (it is already in the tree through
 * dockerode's gRPC); its light build takes a JSON descriptor, so no .proto parser is bundled.
 * The descriptor below declares the messages and field numbers of onnx.proto that a detector
 * export uses: models, graphs, nodes, attributes (with subgraphs), tensors, value infos, types,
 * functions and metadata. protobufjs drops fields it does not know when it re-encodes, so
 * `decodeModel` refuses a model that carries one (training_info, sparse initializers,
 * sequence/map types) instead of writing back less than it read.
 */
import protobuf from 'protobufjs/light.js';
import { InputError } from '../files/input-error.js';

const str = (id: number) => ({ type: 'string', id });
const rep = (type: string, id: number, packed?: boolean) => ({ rule: 'repeated', type, id, ...(packed === undefined ? {} : { options: { packed } }) });
const f = (type: string, id: number) => ({ type, id });

/** Field numbers from onnx/onnx.proto (syntax proto2). */
const DESCRIPTOR = {
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: { fields: { key: str(1), value: str(2) } },
        OperatorSetIdProto: { fields: { domain: str(1), version: f('int64', 2) } },
        TensorShapeProto: {
          fields: { dim: rep('Dimension', 1) },
          nested: { Dimension: { oneofs: { value: { oneof: ['dimValue', 'dimParam'] } }, fields: { dimValue: f('int64', 1), dimParam: str(2), denotation: str(3) } } },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: { tensorType: f('Tensor', 1), denotation: str(6) },
          nested: { Tensor: { fields: { elemType: f('int32', 1), shape: f('TensorShapeProto', 2) } } },
        },
        ValueInfoProto: { fields: { name: str(1), type: f('TypeProto', 2), docString: str(3), metadataProps: rep('StringStringEntryProto', 4) } },
        TensorProto: {
          fields: {
            dims: rep('int64', 1, false),
            dataType: f('int32', 2),
            floatData: rep('float', 4, true),
            int32Data: rep('int32', 5, true),
            stringData: rep('bytes', 6),
            int64Data: rep('int64', 7, true),
            name: str(8),
            rawData: f('bytes', 9),
            doubleData: rep('double', 10, true),
            uint64Data: rep('uint64', 11, true),
            docString: str(12),
            externalData: rep('StringStringEntryProto', 13),
            dataLocation: f('int32', 14),
            metadataProps: rep('StringStringEntryProto', 16),
          },
        },
        AttributeProto: {
          fields: {
            name: str(1),
            f: f('float', 2),
            i: f('int64', 3),
            s: f('bytes', 4),
            t: f('TensorProto', 5),
            g: f('GraphProto', 6),
            floats: rep('float', 7, false),
            ints: rep('int64', 8, false),
            strings: rep('bytes', 9),
            tensors: rep('TensorProto', 10),
            graphs: rep('GraphProto', 11),
            docString: str(13),
            type: f('int32', 20),
            refAttrName: str(21),
          },
        },
        NodeProto: {
          fields: {
            input: rep('string', 1),
            output: rep('string', 2),
            name: str(3),
            opType: str(4),
            attribute: rep('AttributeProto', 5),
            docString: str(6),
            domain: str(7),
            overload: str(8),
            metadataProps: rep('StringStringEntryProto', 9),
          },
        },
        GraphProto: {
          fields: {
            node: rep('NodeProto', 1),
            name: str(2),
            initializer: rep('TensorProto', 5),
            docString: str(10),
            input: rep('ValueInfoProto', 11),
            output: rep('ValueInfoProto', 12),
            valueInfo: rep('ValueInfoProto', 13),
            metadataProps: rep('StringStringEntryProto', 16),
          },
        },
        FunctionProto: {
          fields: {
            name: str(1),
            input: rep('string', 4),
            output: rep('string', 5),
            attribute: rep('string', 6),
            node: rep('NodeProto', 7),
            docString: str(8),
            opsetImport: rep('OperatorSetIdProto', 9),
            domain: str(10),
            attributeProto: rep('AttributeProto', 11),
            valueInfo: rep('ValueInfoProto', 12),
            overload: str(13),
            metadataProps: rep('StringStringEntryProto', 14),
          },
        },
        ModelProto: {
          fields: {
            irVersion: f('int64', 1),
            producerName: str(2),
            producerVersion: str(3),
            domain: str(4),
            modelVersion: f('int64', 5),
            docString: str(6),
            graph: f('GraphProto', 7),
            opsetImport: rep('OperatorSetIdProto', 8),
            metadataProps: rep('StringStringEntryProto', 14),
            functions: rep('FunctionProto', 25),
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(DESCRIPTOR);
const ModelType = root.lookupType('onnx.ModelProto');

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;
export const DATA_TYPE_NAMES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16' };
/** AttributeProto.AttributeType values. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10 } as const;

export interface OnnxTensor {
  name?: string;
  dims?: (number | Long)[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: (number | Long)[];
  doubleData?: number[];
  rawData?: Uint8Array;
  dataLocation?: number;
  externalData?: { key: string; value: string }[];
  [k: string]: unknown;
}
export interface OnnxAttribute {
  name: string;
  type?: number;
  f?: number;
  i?: number | Long;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: (number | Long)[];
  graphs?: OnnxGraph[];
  [k: string]: unknown;
}
export interface OnnxNode {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute: OnnxAttribute[];
  [k: string]: unknown;
}
export interface OnnxValueInfo {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim: { dimValue?: number | Long; dimParam?: string }[] } } };
  [k: string]: unknown;
}
export interface OnnxGraph {
  node: OnnxNode[];
  name?: string;
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
  [k: string]: unknown;
}
export interface OnnxModel {
  irVersion?: number | Long;
  producerName?: string;
  producerVersion?: string;
  graph: OnnxGraph;
  opsetImport: { domain?: string; version?: number | Long }[];
  metadataProps?: { key: string; value: string }[];
  functions?: { name: string; domain?: string; node: OnnxNode[] }[];
  [k: string]: unknown;
}
type Long = { toNumber(): number };

export class OnnxFormatError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxFormatError';
  }
}

/** A protobuf int64 as a JavaScript number (dims and versions stay far below 2^53). */
export function toNumber(v: number | Long | undefined | null): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * Decodes an ONNX model. `where` names the file in errors. Refuses bytes that are not an ONNX
 * model (no graph, no opset) and models with fields this codec would drop on re-encoding.
 */
export function decodeModel(bytes: Uint8Array, where = 'model'): OnnxModel {
  let msg: protobuf.Message;
  try {
    msg = ModelType.decode(bytes);
  } catch (err) {
    throw new OnnxFormatError(`${where}: not an ONNX model (protobuf decoding failed: ${(err as Error).message})`);
  }
  const model = ModelType.toObject(msg, { arrays: true, defaults: false, longs: Number }) as OnnxModel;
  if (!model.graph) throw new OnnxFormatError(`${where}: not an ONNX model (no graph)`);
  if (!model.opsetImport?.length) throw new OnnxFormatError(`${where}: the model imports no operator set`);
  // protobufjs keeps unknown fields nowhere: re-encode and compare sizes to catch a field we lack.
  const again = ModelType.encode(ModelType.fromObject(model)).finish();
  if (again.length !== bytes.length) {
    throw new OnnxFormatError(`${where}: the model uses ONNX fields paddock does not read (re-encoded ${again.length} of ${bytes.length} bytes); it is left unchanged`);
  }
  // Lists the graph's code walks: present even when empty (protobufjs leaves them out).
  const g = model.graph;
  g.node ??= [];
  g.initializer ??= [];
  g.input ??= [];
  g.output ??= [];
  g.valueInfo ??= [];
  for (const n of g.node) {
    n.input ??= [];
    n.output ??= [];
    n.attribute ??= [];
  }
  return model;
}

/** Encodes a model back to bytes. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const err = ModelType.verify(model);
  if (err) throw new OnnxFormatError(`cannot encode the model: ${err}`);
  return ModelType.encode(ModelType.fromObject(model)).finish();
}

/** The opset version a model imports for a domain ("" and "ai.onnx" are the default domain). */
export function opsetOf(model: OnnxModel, domain = ''): number | undefined {
  const d = domain === 'ai.onnx' ? '' : domain;
  const hit = model.opsetImport.find((o) => (o.domain ?? '') === d || (d === '' && o.domain === 'ai.onnx'));
  return hit ? toNumber(hit.version) : undefined;
}

/** Every node of the graph and of its subgraphs (If/Loop/Scan bodies), with the path to it. */
export function* walkNodes(graph: OnnxGraph, path = ''): Generator<{ node: OnnxNode; path: string }> {
  for (const node of graph.node ?? []) {
    yield { node, path };
    for (const a of node.attribute ?? []) {
      const subs = [...(a.g ? [a.g] : []), ...(a.graphs ?? [])];
      for (const g of subs) yield* walkNodes({ ...g, node: g.node ?? [] }, `${path}${node.name || node.opType}.${a.name}/`);
    }
  }
}

/** A float32 tensor's values, from raw_data or float_data. */
export function tensorFloats(t: OnnxTensor): Float32Array {
  if (t.dataType !== DataType.FLOAT) throw new OnnxFormatError(`tensor ${t.name}: expected float32, got ${DATA_TYPE_NAMES[t.dataType ?? 0] ?? t.dataType}`);
  if (t.dataLocation === 1) throw new OnnxFormatError(`tensor ${t.name}: external data is not supported`);
  if (t.rawData && t.rawData.length) {
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

export function tensorDims(t: OnnxTensor): number[] {
  return (t.dims ?? []).map(toNumber);
}

/** A tensor from values: float32, float16 (given as uint16 bits), int8, uint8, int32 or int64. */
export function makeTensor(name: string, dataType: number, dims: number[], data: Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array): OnnxTensor {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dataType, dims, rawData: new Uint8Array(bytes) };
}

/** A node; attributes given as plain values (number -> INT, number[] -> INTS, string -> STRING). */
export function makeNode(opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, number | number[] | string> = {}, domain = ''): OnnxNode {
  const attribute: OnnxAttribute[] = Object.entries(attrs).map(([k, v]) => {
    if (typeof v === 'string') return { name: k, type: AttrType.STRING, s: new TextEncoder().encode(v) };
    if (Array.isArray(v)) return { name: k, type: AttrType.INTS, ints: v };
    return { name: k, type: AttrType.INT, i: v };
  });
  return { input: inputs, output: outputs, name, opType, attribute, ...(domain ? { domain } : {}) };
}
