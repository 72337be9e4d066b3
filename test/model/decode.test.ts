/**
 * Decode and NMS on hand-checked cases, and pre-processing by the contract.
 */
import { describe, expect, it } from 'vitest';
import { decodeCenterNet, iouXywh, nmsByClass, type Detection } from '../../src/model/decode.js';
import { preprocessInto } from '../../src/model/preprocess.js';
import { InferenceContract } from '../../src/schema/inference-contract.js';

const opts = { stride: 4, topK: 100, scoreThreshold: 0.1, nmsIou: 0.6, maxDetections: 100 };
const identity = { scaleX: 1, scaleY: 1, padX: 0, padY: 0, width: 40, height: 24 };

/** Heads of a 2-class, 6 x 10 output with peaks placed by hand. */
function heads(peaks: { c: number; x: number; y: number; s: number; w: number; h: number; ox?: number; oy?: number }[], batch = 1, b = 0) {
  const H = 6;
  const W = 10;
  const C = 2;
  const hm = new Float32Array(batch * C * H * W);
  const size = new Float32Array(batch * 2 * H * W);
  const off = new Float32Array(batch * 2 * H * W);
  for (const p of peaks) {
    const i = p.y * W + p.x;
    hm[b * C * H * W + p.c * H * W + i] = p.s;
    size[b * 2 * H * W + i] = Math.log(p.w / 4);
    size[b * 2 * H * W + H * W + i] = Math.log(p.h / 4);
    off[b * 2 * H * W + i] = p.ox ?? 0.5;
    off[b * 2 * H * W + H * W + i] = p.oy ?? 0.5;
  }
  return { hm, size, off, C, H, W };
}

describe('CenterNet decode', () => {
  it('turns a peak into a box centred on the cell plus its offset, in input pixels', () => {
    const { hm, size, off, C, H, W } = heads([{ c: 1, x: 3, y: 2, s: 0.9, w: 8, h: 12, ox: 0.25, oy: 0.75 }]);
    const d = decodeCenterNet(hm, size, off, 0, C, H, W, identity, opts);
    expect(d).toHaveLength(1);
    // centre (3.25 * 4, 2.75 * 4) = (13, 11); 8 x 12 box
    expect(d[0].classIndex).toBe(1);
    expect(d[0].score).toBeCloseTo(0.9, 6);
    expect(d[0].bbox.map((v) => +v.toFixed(4))).toEqual([9, 5, 8, 12]);
    expect(d[0].classScores.map((v) => +v.toFixed(4))).toEqual([0, 0.9]);
  });

  it('keeps only local maxima over 3x3 and above the threshold, best first', () => {
    const { hm, size, off, C, H, W } = heads([
      { c: 0, x: 5, y: 3, s: 0.8, w: 8, h: 8 },
      { c: 0, x: 6, y: 3, s: 0.5, w: 8, h: 8 }, // neighbour of a stronger peak
      { c: 0, x: 1, y: 1, s: 0.05, w: 8, h: 8 }, // under the threshold
      { c: 1, x: 8, y: 4, s: 0.95, w: 4, h: 4 },
    ]);
    const d = decodeCenterNet(hm, size, off, 0, C, H, W, identity, opts);
    expect(d.map((x) => [x.classIndex, +x.score.toFixed(2)])).toEqual([
      [1, 0.95],
      [0, 0.8],
    ]);
  });

  it('reads the right batch item', () => {
    const { hm, size, off, C, H, W } = heads([{ c: 0, x: 2, y: 2, s: 0.7, w: 8, h: 8 }], 3, 2);
    expect(decodeCenterNet(hm, size, off, 0, C, H, W, identity, opts)).toHaveLength(0);
    expect(decodeCenterNet(hm, size, off, 2, C, H, W, identity, opts)).toHaveLength(1);
  });

  it('maps boxes back through a letterbox and clips them to the image', () => {
    const { hm, size, off, C, H, W } = heads([{ c: 0, x: 0, y: 0, s: 0.9, w: 16, h: 8 }]);
    const lb = { scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 2, width: 80, height: 40 };
    const [d] = decodeCenterNet(hm, size, off, 0, C, H, W, lb, opts);
    // model box (2 - 8, 2 - 4, 16, 8) -> x -6..10 -> /0.5 -> -12..20 clipped to 0..20; y (-2 - 2)/0.5 .. (6 - 2)/0.5 -> -8..8 -> 0..8
    expect(d.bbox.map((v) => +v.toFixed(4))).toEqual([0, 0, 20, 8]);
  });
});

describe('NMS', () => {
  const det = (c: number, s: number, bbox: [number, number, number, number]): Detection => ({ classIndex: c, score: s, bbox, classScores: [] });
  it('drops a lower-scored box of the same class that overlaps more than the threshold', () => {
    const a = det(0, 0.9, [0, 0, 10, 10]);
    const b = det(0, 0.8, [1, 0, 10, 10]); // IoU 90/110 = 0.818
    const c = det(1, 0.7, [1, 0, 10, 10]); // other class: kept
    const e = det(0, 0.6, [6, 0, 10, 10]); // IoU 40/160 = 0.25: kept
    expect(iouXywh(a.bbox, b.bbox)).toBeCloseTo(90 / 110, 12);
    expect(nmsByClass([a, b, c, e], 0.6)).toEqual([a, c, e]);
  });

  it('keeps a box whose IoU equals the threshold (strictly greater suppresses)', () => {
    const a = det(0, 0.9, [0, 0, 10, 10]);
    const b = det(0, 0.8, [0, 0, 10, 5]); // IoU 0.5
    expect(nmsByClass([a, b], 0.5)).toEqual([a, b]);
  });
});

describe('pre-processing', () => {
  const contract = InferenceContract.parse({
    version: 1,
    model: 'm',
    model_version: '1.0.0',
    input: { name: 'images', shape: [-1, 3, 4, 6], dtype: 'float32', layout: 'NCHW', color: 'RGB', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1], resize: { mode: 'letterbox', width: 6, height: 4, pad_value: 0 } },
    outputs: { heatmap: { shape: [-1, 3, 1, 2] } },
    decode: { type: 'centernet', stride: 4, peak_kernel: 3, top_k: 10 },
    score_threshold: 0.1,
    nms_iou: 0.5,
    max_detections: 10,
    classes: [{ index: 0, category_id: 1, name: 'car' }],
  });

  it('normalises into NCHW at the model size without resampling', () => {
    const rgb = new Uint8Array(6 * 4 * 3);
    rgb.set([255, 0, 51], 0);
    const out = new Float32Array(2 * 3 * 24);
    const lb = preprocessInto(rgb, 6, 4, contract, out, 1);
    expect(lb).toEqual({ scaleX: 1, scaleY: 1, padX: 0, padY: 0, width: 6, height: 4 });
    const base = 3 * 24;
    expect(out[base]).toBeCloseTo((1 - 0.5) / 0.25, 5);
    expect(out[base + 24]).toBeCloseTo((0 - 0.5) / 0.5, 5);
    expect(out[base + 48]).toBeCloseTo(0.2 - 0.5, 5);
  });

  it('letterboxes a wider image: scaled to fit, padded top and bottom', () => {
    const rgb = new Uint8Array(12 * 4 * 3).fill(255);
    const out = new Float32Array(3 * 24);
    const lb = preprocessInto(rgb, 12, 4, contract, out, 0);
    expect(lb).toMatchObject({ scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 1 });
    expect(out[0]).toBeCloseTo((0 - 0.5) / 0.25, 5); // padding row
    expect(out[6]).toBeCloseTo((1 - 0.5) / 0.25, 5); // first image row
  });
});

describe('paddock infer input errors', () => {
  it('names the missing manifest, the bad row, and the model directory without a contract', async () => {
    const { readManifest, loadContract, InferenceError } = await import('../../src/model/infer.js');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'paddock-infer-'));
    expect(() => readManifest(join(dir, 'nope.jsonl'))).toThrow(InferenceError);
    expect(() => readManifest(join(dir, 'nope.jsonl'))).toThrow(/nope\.jsonl: cannot read the manifest/);
    writeFileSync(join(dir, 'm.jsonl'), '{"frame_id":"a","path":"a.png"}\n{"frame_id":"b"}\n');
    expect(() => readManifest(join(dir, 'm.jsonl'))).toThrow(/m\.jsonl:2: a row needs "frame_id" and "path" strings/);
    expect(() => loadContract(dir)).toThrow(/inference_config\.json: ENOENT/);
  });
});
