// The variants step's INT8 on the world detector, for real: the step binary (dist/step.js) on a
// tiny world's frames, ONNX Runtime running every candidate model, its optimised graph read back.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorld, TINY_WORLD } from '../../src/world/dataset.js';
import { parseCalibrationCache } from '../../src/metrics/int8-calibration.js';
import { FIXTURES, ROOT, tempDir } from '../helpers/fixtures.js';

const CAND = join(FIXTURES, 'world', 'models', 'candidate');
const QAT = join(CAND, 'qat');
const t = tempDir('paddock-int8-');
let manifest = '';

beforeAll(async () => {
  manifest = (await buildWorld(join(t.dir, 'world'), TINY_WORLD)).splits.golden_val.manifest;
}, 120_000);
afterAll(() => t.cleanup());

async function variants(name: string, int8: Record<string, unknown>) {
  const pack = join(t.dir, name);
  mkdirSync(pack, { recursive: true });
  const params = { pack, model: join(CAND, 'model.onnx'), contract: CAND, fp16: false, threads: 1, int8: { manifest, slices: join(FIXTURES, 'world', 'slices.yaml'), balance: ['night', 'pedestrian', 'day'], per_slice: 2, size: 6, sensitivity_inputs: 16, choice_frames: 2, speed_runs: 2, ...int8 } };
  const r = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'variants', JSON.stringify(params)], { reject: false });
  const logs = String(r.stdout).split('\n').filter((l) => l.includes('"type":"log"')).map((l) => JSON.parse(l).message as string);
  return { r, pack, logs, report: () => JSON.parse(readFileSync(join(pack, 'reports', 'variants.json'), 'utf8')).int8 };
}

describe('INT8 of the world detector', () => {
  it('post-training: meets the seed\'s 0.5% bbox IoU drift with the fewest layers in FP32 the search finds; every quantized layer is an integer kernel in ORT\'s graph', async () => {
    const { r, pack, logs, report } = await variants('ptq', {});
    expect(r.exitCode, r.stderr).toBe(0);
    const v = report();
    expect(v.source).toBe('post-training quantization');
    expect(v.tolerance.iou_drift).toBe(0.005);
    // The measured drift of the final model on the search's inputs is under the target, and the search says so.
    expect(v.search.meets).toBe(true);
    expect(v.search.final.iou_drift).toBeLessThan(0.005 * 0.8);
    expect(v.search.final.matched).toBeGreaterThan(20);
    // Each layer alone was measured at task level; what fell back is listed with what it cost.
    expect(v.layers).toHaveLength(21);
    for (const l of v.layers) expect(l.alone.images).toBe(16);
    expect(v.fallback_cost.map((c: { node: string }) => c.node)).toEqual(v.fallback);
    for (const c of v.fallback_cost) expect(c.alone_iou_drift).toBeGreaterThan(0);
    // Minimal one layer at a time: quantizing any fallen-back layer again was tried and failed the target.
    const pruned = v.search.steps.filter((s: { phase: string }) => s.phase === 'prune');
    expect(pruned.length).toBeGreaterThanOrEqual(v.fallback.length);
    // The fused integer operators: every quantized layer found as a QLinear* kernel (or a uint8 Resize).
    expect(v.optimized_graph.unfused).toEqual([]);
    expect(v.optimized_graph.integer_kernels).toBe(v.quantized.length);
    // Per-tensor calibrator, chosen by the output error each range causes.
    for (const tr of v.tensors) {
      expect(['max', 'percentile', 'entropy']).toContain(tr.calibrator);
      const errs = tr.output_rel_error as Record<string, number>;
      expect(errs[tr.calibrator]).toBe(Math.min(...Object.values(errs)));
    }
    expect(parseCalibrationCache(readFileSync(join(pack, 'calibration.cache'), 'utf8')).scales.size).toBe(v.tensors.length);
    expect(v.speed.fp32_p50_ms).toBeGreaterThan(0);
    expect(logs.some((l) => /^INT8: \d+ of 21 layers quantized, \d+ in FP32; meets bbox IoU drift < 0.400%/.test(l))).toBe(true);
  }, 240_000);

  it('a looser tolerance quantizes more layers than the seed\'s (the search follows the recipe\'s bound)', async () => {
    const strict = JSON.parse(readFileSync(join(t.dir, 'ptq', 'reports', 'variants.json'), 'utf8')).int8;
    const { r, report } = await variants('loose', { tolerance: { iou_drift: 0.05, min_match_rate: 0.8, min_class_agreement: 0.9 } });
    expect(r.exitCode, r.stderr).toBe(0);
    const v = report();
    expect(v.search.meets).toBe(true);
    expect(v.quantized.length).toBeGreaterThan(strict.quantized.length);
  }, 240_000);

  it('a QAT checkpoint named by the recipe is preferred: every layer in INT8 from its learned ranges, measured and fused the same way', async () => {
    const { r, logs, report } = await variants('qat', { qat: { model: join(QAT, 'model.onnx'), ranges: join(QAT, 'qat_ranges.json') } });
    expect(r.exitCode, r.stderr).toBe(0);
    const v = report();
    expect(v.source).toBe('quantization-aware training');
    expect(v.quantized).toHaveLength(21);
    expect(v.fallback).toEqual([]);
    expect(v.optimized_graph.integer_kernels).toBe(21);
    expect(v.qat.ranges_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(v.search.final.images).toBe(16);
    // The QAT checkpoint does not reach 0.5% on this model (docs/package.md has the figures): said, not hidden.
    expect(v.search.meets).toBe(v.search.final.iou_drift < 0.004 && v.search.final.match_rate >= 0.9 && v.search.final.class_agreement >= 0.97);
    expect(logs.some((l) => l.startsWith('INT8 from the QAT checkpoint'))).toBe(true);
  }, 240_000);

  it('a QAT ranges file that misses a quantized tensor is refused, naming it', async () => {
    const doc = JSON.parse(readFileSync(join(QAT, 'qat_ranges.json'), 'utf8'));
    delete doc.activations['/m2/m2.2/Relu_output_0'];
    const bad = join(t.dir, 'bad-ranges.json');
    writeFileSync(bad, JSON.stringify(doc));
    const { r } = await variants('qat-bad', { qat: { model: join(QAT, 'model.onnx'), ranges: bad } });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(`int8.qat.ranges: ${bad} has no range for /m2/m2.2/Relu_output_0`);
  }, 120_000);
});
