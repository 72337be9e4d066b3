/**
 * Per-object outcomes: they add up to pycocotools's own recall on the reference cases, and the
 * error kinds are right on a hand-made image.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { evaluateCoco } from '../../src/metrics/coco.js';
import { indexDetections, indexGroundTruth, loadDetections, loadGroundTruth } from '../../src/metrics/coco-load.js';
import { perObjectOutcomes, prCurves, rankRegressions } from '../../src/evaluate/outcomes.js';
import { FIXTURES } from '../helpers/fixtures.js';

const REF = join(FIXTURES, 'reference', 'coco');

describe('per-object outcomes', () => {
  it.each(['01_basic_mixed_missing_categories', '02_crowd_regions_and_ignore_flags', '04_score_ties_duplicates_exact_iou', '05_maxdets_over_100_per_image'])(
    '%s: true positives per class equal recall x non-ignored GT, at IoU 0.5 and 0.75',
    (name) => {
      const gt = loadGroundTruth(join(REF, name, 'gt.json'));
      const dt = loadDetections(join(REF, name, 'dt.json'), gt);
      const r = evaluateCoco(gt.index, dt.index);
      const { detections, objects } = perObjectOutcomes(gt.index, dt.index, r);
      const K = gt.index.catIds.length;
      gt.index.catIds.forEach((cid, k) => {
        for (const [t, key] of [[0, 'at50'], [5, 'at75']] as const) {
          const npig = r.matches.npig[k * 4];
          const recall = r.recall[((t * K + k) * 4 + 0) * 3 + 2];
          const tpObjects = objects.filter((o) => o.categoryId === cid && o[key].outcome === 'TP').length;
          const tpDets = detections.filter((d) => d.categoryId === cid && d[key].outcome === 'TP').length;
          expect(tpDets).toBe(tpObjects);
          if (npig > 0) expect(tpObjects / npig).toBeCloseTo(recall, 12);
          else expect(tpObjects).toBe(0);
        }
      });
      expect(objects.filter((o) => o.crowd).every((o) => o.at50.outcome === 'ignored')).toBe(true);
    },
  );

  it('names the kind of each error on a hand-made image', () => {
    const gtJson = {
      images: [{ id: 1, width: 200, height: 200 }],
      categories: [{ id: 1, name: 'car' }, { id: 2, name: 'pedestrian' }, { id: 3, name: 'cyclist' }],
      annotations: [
        { id: 10, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 },
        { id: 11, image_id: 1, category_id: 2, bbox: [50, 50, 10, 20], area: 200, iscrowd: 0 },
        { id: 12, image_id: 1, category_id: 3, bbox: [150, 150, 10, 20], area: 200, iscrowd: 0 },
      ],
    };
    const dts = [
      { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.9 }, // TP
      { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.8 }, // duplicate
      { image_id: 1, category_id: 1, bbox: [6, 0, 10, 10], score: 0.7 }, // localisation (IoU 0.25)
      { image_id: 1, category_id: 1, bbox: [50, 50, 10, 20], score: 0.6 }, // class confusion (a pedestrian)
      { image_id: 1, category_id: 1, bbox: [100, 100, 10, 10], score: 0.5 }, // background
    ];
    const gt = indexGroundTruth(gtJson);
    const dt = indexDetections(dts, gt);
    const r = evaluateCoco(gt.index, dt.index);
    const { detections, objects } = perObjectOutcomes(gt.index, dt.index, r);
    expect(detections.map((d) => [d.detection, d.at50.outcome, d.at50.error ?? d.at50.matchedId])).toEqual([
      [0, 'TP', 10],
      [1, 'FP', 'duplicate'],
      [2, 'FP', 'localisation'],
      [3, 'FP', 'class-confusion'],
      [4, 'FP', 'background'],
    ]);
    expect(detections[2].at50.iou).toBeCloseTo(0.25, 12);
    expect(objects.map((o) => [o.annotationId, o.at50.outcome, o.at50.error ?? o.at50.matchedId])).toEqual([
      [10, 'TP', 0],
      [11, 'FN', 'missed'],
      [12, 'FN', 'missed'],
    ]);
    expect(objects[1].closest).toEqual({ detection: 3, categoryId: 1, iou: 1 });
    expect(objects[2].closest).toBeNull();
    const curves = prCurves(r, gt.index);
    expect(curves.map((c) => [c.name, c.iou])).toEqual([
      ['car', 0.5],
      ['car', 0.75],
      ['pedestrian', 0.5],
      ['pedestrian', 0.75],
      ['cyclist', 0.5],
      ['cyclist', 0.75],
    ]);
    expect(curves[0].precision[0]).toBeCloseTo(1, 12);
  });

  it('ranks the candidate\'s misses: objects the baseline found first, by the baseline\'s confidence', () => {
    const o = (id: number, c: 'TP' | 'FN', matched: number | null = null) => ({ annotationId: id, imageId: 1, categoryId: 1, crowd: false, at50: { outcome: c, matchedId: matched, iou: 0 }, at75: { outcome: c, matchedId: matched, iou: 0 }, closest: null });
    const candidate = [o(1, 'FN'), o(2, 'FN'), o(3, 'TP', 7), o(4, 'FN')];
    const baseline = [o(1, 'TP', 100), o(2, 'FN'), o(3, 'FN'), o(4, 'TP', 101)];
    const scores: Record<number, number> = { 100: 0.4, 101: 0.9 };
    expect(rankRegressions(candidate as never, baseline as never, (d) => scores[d]).map((x) => [x.annotationId, x.change, x.contribution])).toEqual([
      [4, 'lost', 0.9],
      [1, 'lost', 0.4],
      [2, 'both-missed', 0],
      [3, 'gained', 0],
    ]);
  });
});
