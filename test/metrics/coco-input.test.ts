/**
 * Malformed COCO input: a clear error naming the file and the entry, or documented
 * pycocotools-compatible handling; fuzzed mutations never crash.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { indexDetections, indexGroundTruth, CocoInputError } from '../../src/metrics/coco-load.js';
import { evaluateCoco } from '../../src/metrics/coco.js';
import { seededRandom as mulberry32 } from '../../src/files/prng.js';
import { REFERENCE } from './coco.test.js';

const CASE = join(REFERENCE, '01_basic_mixed_missing_categories');
const gtJson = () => JSON.parse(readFileSync(join(CASE, 'gt.json'), 'utf8'));
const dtJson = () => JSON.parse(readFileSync(join(CASE, 'dt.json'), 'utf8'));

type Mut = (gt: any, dt: any) => void;
const table: [string, Mut, RegExp][] = [
  ['ground truth is a list', (gt) => { gt.images = undefined; }, /gt: "images" must be a list, got undefined/],
  ['results not a list', (_gt, dt) => { dt.length = 0; Object.assign(dt, {}); }, /never/],
  ['duplicate image id', (gt) => gt.images.push({ ...gt.images[3] }), /gt: duplicate image id 4 \(images\[3\] and images\[42\]\)/],
  ['duplicate category id', (gt) => gt.categories.push({ ...gt.categories[0] }), /duplicate category id 1 \(categories\[0\] and categories\[6\]\)/],
  ['duplicate annotation id', (gt) => gt.annotations.push({ ...gt.annotations[5] }), /duplicate annotation id \d+ \(annotations\[5\] and annotations\[168\]\)/],
  ['missing bbox', (gt) => delete gt.annotations[7].bbox, /annotations\[7\] \(id \d+\): bbox must be \[x, y, width, height\], got undefined/],
  ['negative width', (gt) => (gt.annotations[2].bbox[2] = -3), /annotations\[2\] \(id \d+\): bbox has a negative size \(-3 x/],
  ['string coordinate', (gt) => (gt.annotations[2].bbox[1] = '10'), /bbox\[1\] must be a finite number, got "10"/],
  ['GT on an unknown image', (gt) => (gt.annotations[9].image_id = 999), /annotations\[9\] \(id \d+\): image_id 999 is not in images/],
  ['negative area', (gt) => (gt.annotations[4].area = -1), /area must be a finite number >= 0, got -1/],
  ['bad iscrowd', (gt) => (gt.annotations[4].iscrowd = 2), /iscrowd must be 0 or 1, got 2/],
  ['detection on an unknown image', (_gt, dt) => (dt[17].image_id = 12345), /dt: \[17\]: image_id 12345 is not an image of the ground truth/],
  ['null score (NaN in Python JSON)', (_gt, dt) => (dt[3].score = null), /dt: \[3\] \(image \d+\): score must be a finite number, got null/],
  ['detection with a negative height', (_gt, dt) => (dt[8].bbox[3] = -0.5), /dt: \[8\] \(image \d+\): bbox has a negative size/],
  ['detection that is not an object', (_gt, dt) => (dt[0] = 7), /dt: \[0\] must be an object, got number/],
  ['string category', (_gt, dt) => (dt[1].category_id = 'car'), /dt: \[1\] \(image \d+\): category_id must be a number, got "car"/],
];

describe('COCO input errors', () => {
  it.each(table.filter(([n]) => n !== 'results not a list'))('%s', (_name, mutate, re) => {
    const gt = gtJson();
    const dt = dtJson();
    mutate(gt, dt);
    const run = () => indexDetections(dt, indexGroundTruth(gt, 'gt'), 'dt');
    expect(run).toThrow(CocoInputError);
    expect(run).toThrow(re);
  });

  it('a results file that is an object, not a list', () => {
    expect(() => indexDetections({ annotations: [] }, indexGroundTruth(gtJson(), 'gt'), 'dt')).toThrow(/dt: a results file must be a list of detections, got an object/);
  });

  it('drops detections of unknown categories, as pycocotools does, and counts them', () => {
    const dt = indexDetections(dtJson(), indexGroundTruth(gtJson(), 'gt'), 'dt');
    expect(dt.droppedUnknownCategory).toBe(3);
    expect(dt.total).toBe(259);
  });

  it('an empty results list gives AP 0 for every category with ground truth', () => {
    const gt = indexGroundTruth(gtJson(), 'gt');
    const r = evaluateCoco(gt.index, indexDetections([], gt, 'dt').index);
    expect(r.stats.AP).toBe(0);
    expect(r.perCategory.filter((c) => c.ap !== -1).every((c) => c.ap === 0)).toBe(true);
  });

  it('survives 400 random mutations: an input error or a result, never a crash', () => {
    const rand = mulberry32(99);
    const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const junk = [null, -1, 0, 1e308, -1e-9, 'x', [], {}, true, [1, 2, 3], [0, 0, -1, 2], undefined];
    for (let i = 0; i < 400; i++) {
      const gt = gtJson();
      const dt = dtJson();
      const targets: [any, string[]][] = [
        [pick(gt.images), ['id']],
        [pick(gt.annotations), ['id', 'image_id', 'category_id', 'bbox', 'area', 'iscrowd']],
        [pick(gt.categories), ['id', 'name']],
        [pick(dt), ['image_id', 'category_id', 'bbox', 'score']],
        [gt, ['images', 'annotations', 'categories']],
      ];
      const [obj, keys] = pick(targets);
      obj[pick(keys)] = pick(junk);
      try {
        const g = indexGroundTruth(gt, 'gt');
        const r = evaluateCoco(g.index, indexDetections(dt, g, 'dt').index);
        expect(Number.isFinite(r.stats.AP)).toBe(true);
      } catch (err) {
        expect(err, String((err as Error).stack)).toBeInstanceOf(CocoInputError);
      }
    }
  });
});
