import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, opsetOf, OnnxFormatError, tensorDims, walkNodes } from '../../src/model/onnx-proto.js';
import { FIXTURES } from '../helpers/fixtures.js';

const CANDIDATE = join(FIXTURES, 'world', 'models', 'candidate', 'model.onnx');

describe('ONNX protobuf codec', () => {
  it.each([
    ['world candidate', CANDIDATE],
    ['world production', join(FIXTURES, 'world', 'models', 'production', 'model.onnx')],
    ['tiny detector', join(FIXTURES, 'models', 'tiny-det-v1.0.0.onnx')],
  ])('decodes and re-encodes the %s byte for byte', (_name, file) => {
    const bytes = readFileSync(file);
    const m = decodeModel(bytes, file);
    expect(Buffer.compare(Buffer.from(encodeModel(m)), bytes)).toBe(0);
  });

  it('reads what PyTorch wrote: opset, I/O, dynamic batch, nodes, initializers', () => {
    const m = decodeModel(readFileSync(CANDIDATE));
    expect(m.producerName).toBe('pytorch');
    expect(opsetOf(m)).toBe(17);
    expect(m.graph.input.map((i) => i.name)).toEqual(['images']);
    expect(m.graph.output.map((o) => o.name)).toEqual(['heatmap', 'size', 'offset']);
    const dims = m.graph.input[0].type!.tensorType!.shape!.dim;
    expect(dims[0].dimParam).toBe('batch');
    expect(dims.slice(1).map((d) => d.dimValue)).toEqual([3, 192, 320]);
    const ops = [...walkNodes(m.graph)].map(({ node }) => node.opType);
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(19);
    expect(ops.filter((o) => o === 'Relu')).toHaveLength(14);
    const w = m.graph.initializer.find((t) => tensorDims(t).length === 4)!;
    expect(tensorDims(w)[1]).toBeGreaterThan(0);
  });

  it('refuses bytes that are not a model, naming the file', () => {
    expect(() => decodeModel(Buffer.from('not a model at all'), 'junk.onnx')).toThrow(/junk\.onnx: not an ONNX model/);
    expect(() => decodeModel(Buffer.alloc(0), 'empty.onnx')).toThrow(OnnxFormatError);
    const truncated = readFileSync(CANDIDATE).subarray(0, 5000);
    expect(() => decodeModel(truncated, 'cut.onnx')).toThrow(/cut\.onnx/);
  });

  it('refuses a model carrying fields it would drop on re-encoding', () => {
    const bytes = readFileSync(CANDIDATE);
    // ModelProto field 20 (training_info), length-delimited, 2 bytes: unknown to this codec.
    const extra = Buffer.concat([bytes, Buffer.from([0xa2, 0x01, 2, 0x0a, 0x00])]);
    expect(() => decodeModel(extra, 'x.onnx')).toThrow(/fields paddock does not read/);
  });
});
