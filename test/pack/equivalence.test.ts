import { describe, expect, it } from 'vitest';
import type { Detection } from '../../src/model/decode.js';
import { addTaskErrors, addTensorErrors, errorQuantile, judge, newTaskStats, newTensorStats, summarizeTask, summarizeTensor } from '../../src/pack/equivalence.js';

const det = (classIndex: number, score: number, bbox: [number, number, number, number]): Detection => ({ classIndex, score, bbox, classScores: [] });

describe('tensor-level equivalence', () => {
  it('max abs, max rel (with a floor), mean, p99 within a bucket', () => {
    const s = newTensorStats();
    const a = Float32Array.from({ length: 1000 }, (_, i) => i / 100);
    const b = a.map((v, i) => v + (i === 999 ? 0.5 : i % 2 ? 1e-3 : 0));
    addTensorErrors(s, a, b);
    const r = summarizeTensor(s);
    expect(r.values).toBe(1000);
    expect(r.max_abs).toBeCloseTo(0.5, 5);
    expect(r.mean_abs).toBeCloseTo((499 * 1e-3 + 0.5) / 1000, 5);
    // 50% zeros, 49.9% at 1e-3, one at 0.5: p99 is 1e-3 to within a bucket (2.3%).
    expect(r.p99_abs).toBeGreaterThan(1e-3 * 0.99);
    expect(r.p99_abs).toBeLessThan(1e-3 * 1.03);
    // |a| floored at 1e-3: the 1e-3 error at a = 0.01 is relative 0.1.
    expect(r.max_rel).toBeCloseTo(0.1, 2);
    expect(errorQuantile(s, 0.4)).toBe(0);
  });
  it('a NaN makes the errors infinite, not silently small', () => {
    const s = newTensorStats();
    addTensorErrors(s, Float32Array.of(1, 2), Float32Array.of(1, NaN));
    expect(summarizeTensor(s).max_abs).toBe(Infinity);
  });
});

describe('task-level equivalence', () => {
  it('matches boxes by IoU, best pairs first, and counts what is left', () => {
    const s = newTaskStats();
    const ref = [det(0, 0.9, [0, 0, 10, 10]), det(1, 0.8, [50, 50, 10, 10]), det(2, 0.3, [100, 100, 5, 5])];
    const got = [det(0, 0.85, [1, 0, 10, 10]), det(2, 0.8, [50, 50, 10, 10]), det(0, 0.2, [200, 200, 5, 5])];
    addTaskErrors(s, ref, got);
    const r = summarizeTask(s);
    expect(r).toMatchObject({ images: 1, matched: 2, unmatched_reference: 1, unmatched_variant: 1, class_agreement: 0.5 });
    expect(r.mean_iou).toBeCloseTo((90 / 110 + 1) / 2, 12);
    expect(r.iou_drift).toBeCloseTo(1 - (90 / 110 + 1) / 2, 12);
    expect(r.max_score_delta).toBeCloseTo(0.05, 12);
    expect(r.match_rate).toBeCloseTo(2 / 3, 12);
  });
  it('judges against tolerances with a line per check', () => {
    const task = { ...summarizeTask(newTaskStats()), iou_drift: 0.004, matched: 10, match_rate: 1, class_agreement: 1 };
    const outputs = { heatmap: { values: 1, max_abs: 2e-3, max_rel: 0, mean_abs: 0, p99_abs: 0 } };
    const r = judge(outputs, task, { max_abs: 1e-3, iou_drift: 0.005 });
    expect(r.verdict).toBe('fail');
    expect(r.rationale[0]).toMatch(/^FAIL heatmap: max \|delta\| 2\.00e-3 < 0\.001/);
    expect(r.rationale[1]).toMatch(/^ok {3}bbox IoU drift 0\.400% < 0\.500%/);
    expect(judge(outputs, task, { iou_drift: 0.005 }).verdict).toBe('pass');
  });
});

describe('the equivalence and calibration frames', () => {
  it('a manifest that cannot be read, or a bad row, is an error naming the file and line', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { loadFrames } = await import('../../src/pack/samples.js');
    const { tempDir } = await import('../helpers/fixtures.js');
    const t = tempDir();
    try {
      expect(() => loadFrames(join(t.dir, 'none.jsonl'))).toThrow(`${join(t.dir, 'none.jsonl')}: cannot read the manifest`);
      writeFileSync(join(t.dir, 'm.jsonl'), '\n{not json\n');
      expect(() => loadFrames(join(t.dir, 'm.jsonl'))).toThrow(`${join(t.dir, 'm.jsonl')}:2: invalid JSON`);
      writeFileSync(join(t.dir, 'm.jsonl'), '{"frame_id": "x"}\n');
      expect(() => loadFrames(join(t.dir, 'm.jsonl'))).toThrow(`${join(t.dir, 'm.jsonl')}:1: not a manifest row`);
    } finally {
      t.cleanup();
    }
  });
});

describe('the equivalence step on worker threads', () => {
  // The real step (dist/step.js) on a tiny world's frames, the reference and each variant on a
  // worker of their own, against the same step on one thread: every number of the report equal.
  // Variants: the committed FP32 ONNX of the reference itself (zero drift) and the production
  // model (a real, non-zero drift), 37 inputs in batches of 8 (a short last batch).
  it('gives the report the sequential loop gives, to the bit', async () => {
    const { execa } = await import('execa');
    const { mkdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { ROOT, tempDir } = await import('../helpers/fixtures.js');
    const { buildWorld, TINY_WORLD } = await import('../../src/world/dataset.js');
    const t = tempDir('paddock-equivalence-');
    try {
      const world = await buildWorld(join(t.dir, 'world'), TINY_WORLD);
      const models = join(ROOT, 'fixtures', 'world', 'models');
      const run = async (workers: boolean) => {
        const pack = join(t.dir, workers ? 'pack-workers' : 'pack-thread');
        mkdirSync(pack, { recursive: true });
        const params = {
          pack,
          reference: join(models, 'candidate', 'model.onnx'),
          contract: join(models, 'candidate'),
          variants: [
            { name: 'same', kind: 'fp32', model: join(models, 'candidate', 'model.onnx') },
            { name: 'production', kind: 'fp32', model: join(models, 'production', 'model.onnx') },
          ],
          inputs: { manifest: world.splits.golden_val.manifest, count: 37, seed: 99 },
          threads: 1,
          workers,
        };
        const r = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'equivalence', JSON.stringify(params)], { reject: false });
        // The production model is not the candidate: its verdict fails, and so does the step.
        expect(r.exitCode, r.stderr).toBe(1);
        expect(r.stderr).toMatch(/equivalence: 1 of 2 variant\(s\) outside tolerance: production/);
        const how = String(r.stdout).split('\n').find((l) => l.includes(' inputs from '));
        // `same` has the reference's bytes: its outputs are the reference's, so the reference and production take a worker each.
        expect(how).toContain(workers ? 'on 2 worker threads, 1 intra-op thread(s) each' : 'on one thread, 1 intra-op thread(s)');
        const report = JSON.parse(readFileSync(join(pack, 'reports', 'equivalence.json'), 'utf8'));
        return { variants: report.variants, inputs: report.inputs };
      };
      const [sequential, parallel] = [await run(false), await run(true)];
      expect(sequential.inputs.drawn).toEqual(parallel.inputs.drawn);
      expect(parallel.variants).toEqual(sequential.variants);
      const [same, production] = parallel.variants;
      expect(same.task).toMatchObject({ images: 37, iou_drift: 0, match_rate: 1 });
      expect(same.outputs.heatmap.max_abs).toBe(0);
      expect(production.task.images).toBe(37);
      expect(production.task.iou_drift).toBeGreaterThan(0.001);
      expect(production.outputs.heatmap.max_abs).toBeGreaterThan(0.01);
    } finally {
      t.cleanup();
    }
  }, 120_000);
});
