import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, DataType, type OnnxModel } from '../../src/model/onnx-proto.js';
import { f16BitsToF32, f32ToF16Bits, toFp16 } from '../../src/model/precision.js';
import { relL2 } from '../../src/steps/package/variants.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { candidateFp32, runModel } from '../helpers/world-model.js';

const fp32 = candidateFp32;
const run = runModel;

describe('float16 conversion of numbers', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [1e6, 0x7bff], // clamped to the largest half, not Inf
    [0.1, 0x2e66],
    [1 + 2 ** -11, 0x3c00], // a tie rounds to even
    [1 + 3 * 2 ** -11, 0x3c02],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -26, 0x0000],
    [6.1e-5, 0x03ff + 1 - 1 + 0], // just under the smallest normal: a subnormal
  ])('%f -> 0x%s', (v, bits) => {
    expect(f32ToF16Bits(v)).toBe(bits);
  });
  it('round-trips every half value', () => {
    for (let h = 0; h < 0x7c00; h += 7) expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
  });
});

describe('FP16 variant', () => {
  it('runs in onnxruntime with float32 I/O, close to FP32', async () => {
    const { model, report } = toFp16(fp32());
    expect(report.kept).toEqual([]);
    expect(report.casts).toBe(4); // one at the input, three at the outputs
    expect(model.graph.input[0].type!.tensorType!.elemType).toBe(DataType.FLOAT);
    // Resize's scales stay float32, as ONNX requires.
    const scales = model.graph.initializer.filter((t) => t.name?.startsWith('/Constant'));
    expect(scales.map((t) => t.dataType)).toEqual([DataType.FLOAT, DataType.FLOAT]);
    const [a, b] = [await run(fp32()), await run(model)];
    for (const o of ['heatmap', 'size', 'offset']) {
      expect(b[o].type).toBe('float32');
      expect(relL2(a[o].data as Float32Array, b[o].data as Float32Array)).toBeLessThan(5e-3);
    }
  });

  it('keeps the listed operators and nodes in float32 between casts', async () => {
    const { model, report } = toFp16(fp32(), { keepOps: ['Sigmoid', 'Resize'], keepNodes: ['/hm/hm.1/Conv'] });
    expect(report.kept.sort()).toEqual(['/Resize', '/Resize_1', '/Sigmoid', '/hm/hm.1/Conv'].sort());
    const conv = model.graph.node.find((n) => n.name === '/hm/hm.1/Conv')!;
    // Its weight is the float32 original, its input a cast back to float32.
    expect(conv.input[1]).not.toMatch(/__fp16$/);
    expect(conv.input[0]).toMatch(/__to_f32$/);
    const out = await run(model);
    expect((out.heatmap.data as Float32Array).every(Number.isFinite)).toBe(true);
  });
});
