import { describe, expect, it } from 'vitest';
import { cacheHexToFloat, computeAmax, entropyThresholdBin, floatToCacheHex, formatCalibrationCache, HISTOGRAM_BINS, int8Scale, klDivergence, newRange, observeHistogram, observeRange, parseCalibrationCache } from '../../src/metrics/int8-calibration.js';
import { seededRandom } from '../../src/files/prng.js';

function gaussian(n: number, seed: number, outliers = 0): Float32Array {
  const r = seededRandom(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  for (let k = 0; k < outliers; k++) x[k * 97] = 40 + k;
  return x;
}

const calibrated = (x: Float32Array) => {
  const r = newRange('t');
  observeRange(r, x);
  observeHistogram(r, x);
  return r;
};

describe('INT8 calibrators', () => {
  it('max is the largest |x|', () => {
    expect(computeAmax(calibrated(Float32Array.of(-3, 1, 2.5)), 'max')).toBe(3);
  });

  it('percentile reads the histogram: 99.99% of a Gaussian is near 3.9 sigma, outliers ignored', () => {
    const r = calibrated(gaussian(200_000, 3, 5));
    expect(r.absMax).toBe(44);
    const a = computeAmax(r, 'percentile', { percentile: 99.99 });
    expect(a).toBeGreaterThan(3.6);
    expect(a).toBeLessThan(4.3);
  });

  it('entropy clips far outliers and keeps a clean distribution nearly whole', () => {
    const withOutliers = computeAmax(calibrated(gaussian(200_000, 5, 20)), 'entropy');
    expect(withOutliers).toBeLessThan(10);
    expect(withOutliers).toBeGreaterThan(2);
    const uniform = new Float32Array(100_000).map((_, i) => (i % 1000) / 1000);
    const u = calibrated(uniform);
    expect(computeAmax(u, 'entropy')).toBeGreaterThan(0.9 * u.absMax);
  });

  it('the zero spike of a ReLU does not drive the threshold to the smallest bin', () => {
    const relu = gaussian(100_000, 9).map((v) => Math.max(0, v));
    const r = calibrated(relu);
    expect(computeAmax(r, 'entropy')).toBeGreaterThan(0.4 * r.absMax);
  });

  it('KL divergence: 0 for equal distributions, > 0 otherwise', () => {
    expect(klDivergence([1, 2, 3], [2, 4, 6], 3)).toBeCloseTo(0, 12);
    expect(klDivergence([1, 0, 1], [1, 1, 0], 3)).toBeGreaterThan(1);
    expect(entropyThresholdBin(new Float64Array(HISTOGRAM_BINS).fill(1))).toBe(HISTOGRAM_BINS - 1);
  });
});

describe('TensorRT calibration cache', () => {
  it('writes scales as big-endian float32 hex and reads them back', () => {
    expect(floatToCacheHex(1)).toBe('3f800000');
    expect(floatToCacheHex(int8Scale(127))).toBe('3f800000');
    expect(cacheHexToFloat('3c010a14')).toBeCloseTo(0.00787594, 7);
    const text = formatCalibrationCache([{ name: 'images', scale: 2.4 / 127 }, { name: '/s1/Relu_output_0', scale: 0.05 }], 'entropy');
    expect(text.split('\n')[0]).toBe('TRT-8601-EntropyCalibration2');
    const back = parseCalibrationCache(text);
    expect(back.scales.get('images')).toBeCloseTo(2.4 / 127, 7);
    expect([...back.scales.keys()]).toEqual(['images', '/s1/Relu_output_0']);
  });
  it('names the bad line', () => {
    expect(() => parseCalibrationCache('TRT-8601-EntropyCalibration2\nimages: xyz\n', 'c.cache')).toThrow('c.cache:2: expected "tensor: 8 hex digits"');
    expect(() => parseCalibrationCache('hello\n', 'c.cache')).toThrow('c.cache:1');
  });
});

describe('against onnxruntime\'s own calibrators (fixtures/reference/onnxruntime-calibration)', () => {
  it('max matches exactly and percentile within 0.5% on all 17 activations of the candidate, over the tiny world', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { createHash } = await import('node:crypto');
    const ort = await import('onnxruntime-node');
    const { paddock } = await import('../helpers/cli.js');
    const { FIXTURES, tempDir } = await import('../helpers/fixtures.js');
    const { decodeModel, encodeModel } = await import('../../src/model/onnx-proto.js');
    const { withOutputs } = await import('../../src/model/precision.js');
    const { readFramesInto } = await import('../../src/model/frame-reader.js');
    const { loadContract } = await import('../../src/model/infer.js');
    const ref = JSON.parse(readFileSync(join(FIXTURES, 'reference', 'onnxruntime-calibration', 'candidate-tiny-world.json'), 'utf8')) as { frames: Record<string, string>; frames_rgb: Record<string, string>; amax: Record<string, Record<'max' | 'percentile' | 'entropy', number>> };
    const t = tempDir();
    try {
      const w = await paddock(['world', 'build', '--tiny', '--out', t.dir], {});
      expect(w.exitCode, w.stderr).toBe(0);
      const files = ['golden_train', 'golden_val', 'golden_test'].flatMap((s) => readdirSync(join(t.dir, 'frames', s)).map((f) => join(t.dir, 'frames', s, f)));
      // The same 36 frames, pixel for pixel (the world is seeded; its PNGs are encoded at another zlib level than when the
      // reference was made, losslessly: frames_rgb holds the decoded pixels' digests); onnxruntime's reader took them in name order, whole batches of 4.
      const byName = Object.fromEntries(files.map((f) => [f.split('/').pop()!, f]));
      const sharp = (await import('sharp')).default;
      for (const [name, sha] of Object.entries(ref.frames_rgb)) {
        const { data } = await sharp(readFileSync(byName[name])).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        expect(createHash('sha256').update(data).digest('hex'), name).toBe(sha);
      }
      expect(Object.keys(ref.frames_rgb).sort()).toEqual(Object.keys(ref.frames).sort());
      const ordered = Object.keys(ref.frames).sort().map((n) => byName[n]);
      const cand = join(FIXTURES, 'world', 'models', 'candidate');
      const model = decodeModel(readFileSync(join(cand, 'model.onnx')));
      // The tensors the reference calibrated: each Conv's activation input (onnxruntime's quantizer's choice).
      const tensors = [...new Set(model.graph.node.filter((n) => n.opType === 'Conv').map((n) => n.input[0]))];
      const s = await ort.InferenceSession.create(encodeModel(withOutputs(model, tensors)));
      const contract = loadContract(cand);
      const ranges = new Map(tensors.map((n) => [n, newRange(n)]));
      for (const pass of [0, 1]) {
        for (let i = 0; i < ordered.length; i += 4) {
          const x = new Float32Array(4 * 3 * 192 * 320);
          await readFramesInto(ordered.slice(i, i + 4).map((f) => ({ file: f, label: f })), contract, x);
          const r = await s.run({ images: new ort.Tensor('float32', x, [4, 3, 192, 320]) });
          for (const [n, range] of ranges) (pass ? observeHistogram : observeRange)(range, r[n].data as Float32Array);
        }
      }
      await s.release();
      expect(Object.keys(ref.amax).sort()).toEqual([...tensors].sort());
      for (const [n, range] of ranges) {
        expect(computeAmax(range, 'max') / ref.amax[n].max, `${n} max`).toBeCloseTo(1, 5);
        const p = computeAmax(range, 'percentile', { percentile: 99.99 }) / ref.amax[n].percentile;
        expect(Math.abs(p - 1), `${n} percentile ${p}`).toBeLessThan(0.005);
      }
    } finally {
      t.cleanup();
    }
  }, 120_000);
});
