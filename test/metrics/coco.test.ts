/**
 * COCO bbox evaluation against pycocotools's own numbers (../shared/reference/coco): all 12
 * stats and per-category ap / ap50 / ap75 / ar100 within 1e-12.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateCoco, summaryLines, formatFixed, STAT_NAMES, IOU_THRESHOLDS, RECALL_THRESHOLDS, numpyMean } from '../../src/metrics/coco.js';
import { loadDetections, loadGroundTruth } from '../../src/metrics/coco-load.js';
import { ROOT } from '../helpers/fixtures.js';

export const REFERENCE = join(ROOT, 'fixtures', 'reference', 'coco');

interface Expected {
  stat_names: string[];
  stats: number[];
  per_category_ap: { category_id: number; name: string; ap: number; ap50: number; ap75: number; ar100: number }[];
  pycocotools_summary: string[];
}

const cases = existsSync(REFERENCE) ? readdirSync(REFERENCE).filter((d) => /^\d\d_/.test(d)) : [];

describe('COCO bbox evaluation matches pycocotools', () => {
  it('has the reference cases', () => {
    expect(cases.length, `reference cases under ${REFERENCE}`).toBe(6);
  });

  it.each(cases)('%s: 12 stats and per-category values within 1e-12', (name) => {
    const dir = join(REFERENCE, name);
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
    const gt = loadGroundTruth(join(dir, 'gt.json'));
    const dt = loadDetections(join(dir, 'dt.json'), gt);
    const r = evaluateCoco(gt.index, dt.index);
    expect([...STAT_NAMES]).toEqual(expected.stat_names);
    STAT_NAMES.forEach((s, i) => expect(Math.abs(r.stats[s] - expected.stats[i]), `${s}: ${r.stats[s]} vs ${expected.stats[i]}`).toBeLessThanOrEqual(1e-12));
    expect(r.perCategory.map((c) => c.category_id)).toEqual(expected.per_category_ap.map((c) => c.category_id));
    for (const [i, want] of expected.per_category_ap.entries()) {
      const got = r.perCategory[i];
      expect(got.name).toBe(want.name);
      for (const key of ['ap', 'ap50', 'ap75', 'ar100'] as const) {
        expect(Math.abs(got[key] - want[key]), `category ${want.category_id} ${key}: ${got[key]} vs ${want[key]}`).toBeLessThanOrEqual(1e-12);
      }
    }
    expect(summaryLines(r.stats)).toEqual(expected.pycocotools_summary);
    // Stronger than asked: numpy's summation order is reproduced, so the doubles are identical.
    STAT_NAMES.forEach((s, i) => expect(r.stats[s], s).toBe(expected.stats[i]));
    for (const [i, want] of expected.per_category_ap.entries()) expect(r.perCategory[i]).toEqual(want);
  });

  it('uses numpy linspace thresholds', () => {
    expect(IOU_THRESHOLDS[8]).toBe(0.8999999999999999);
    expect(RECALL_THRESHOLDS[35]).toBe(0.35000000000000003);
    expect(IOU_THRESHOLDS[9]).toBe(0.95);
  });

  it('sums like numpy (pairwise), not left to right', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => 0.1 + i * 1e-3);
    const naive = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(numpyMean(xs) - naive)).toBeLessThan(1e-12);
  });
});

describe('formatFixed', () => {
  it.each([
    [0.0625, '0.062'],
    [0.1875, '0.188'],
    [-1, '-1.000'],
    [0.20271892122821678, '0.203'],
    [0.9999999999999998, '1.000'],
  ])('%f -> %s as Python formats it', (x, want) => {
    expect(formatFixed(x, 3)).toBe(want);
  });
});
