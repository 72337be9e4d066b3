/**
 * The bootstrap machinery on cases with known answers, and weighted accumulation against the
 * exact COCO evaluation.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateCoco } from '../../src/metrics/coco.js';
import { indexDetections, indexGroundTruth } from '../../src/metrics/coco-load.js';
import { accumulationData, clusterAPData, clusterIndex, clusterWeightedAP, forEachDraw, forEachReplicate, weightedAP } from '../../src/metrics/bootstrap.js';
import { benjaminiHochberg, clusterBootstrap, holm, interval, pValue, type ReplicateSet } from '../../src/metrics/inference.js';
import { seededRandom } from '../../src/files/prng.js';
import { FIXTURES } from '../helpers/fixtures.js';

const REF = join(FIXTURES, 'reference', 'coco');
const read = (name: string, f: string) => JSON.parse(readFileSync(join(REF, name, f), 'utf8'));

describe('weighted accumulation', () => {
  it.each(['01_basic_mixed_missing_categories', '02_crowd_regions_and_ignore_flags', '04_score_ties_duplicates_exact_iou', '06_tiny_border_boxes_many_categories'])('%s: weights of 1 give COCO AP', (name) => {
    const gt = indexGroundTruth(read(name, 'gt.json'));
    const dt = indexDetections(read(name, 'dt.json'), gt);
    const r = evaluateCoco(gt.index, dt.index);
    const a = accumulationData(gt.index, dt.index, r, () => true, () => true);
    const ones = new Float64Array(gt.index.imgIds.length).fill(1);
    expect(weightedAP(a, ones)).toBeCloseTo(r.stats.AP, 12);
    expect(weightedAP(a, ones.map(() => 3))).toBeCloseTo(r.stats.AP, 12);
  });

  it('a weight of 2 equals evaluating the data set with every image twice', () => {
    const name = '01_basic_mixed_missing_categories';
    // Annotation ids shifted by one: pycocotools reads a match with GT id 0 as no match, and
    // the copies must not differ from their originals in that.
    const g0 = read(name, 'gt.json');
    const g = { ...g0, annotations: g0.annotations.map((a: { id: number }) => ({ ...a, id: a.id + 1 })) };
    // Scores made distinct: with ties inside one image, a data set with the image twice ranks
    // a, b, a', b' where the weighted ranking has a, a', b, b' (documented in bootstrap.ts).
    const d = (read(name, 'dt.json') as { image_id: number; score: number }[]).map((x, j) => ({ ...x, score: x.score + j * 1e-9 }));
    // Copies get ids interleaved right after their originals (id * 2 and id * 2 + 1), so that a
    // detection and its copy are adjacent in the image order, as the weighted ranking assumes.
    const twice = {
      ...g,
      images: g.images.flatMap((im: { id: number }) => [{ ...im, id: im.id * 2 }, { ...im, id: im.id * 2 + 1 }]),
      annotations: g.annotations.flatMap((a: { id: number; image_id: number }) => [{ ...a, image_id: a.image_id * 2 }, { ...a, id: a.id + 1_000_000, image_id: a.image_id * 2 + 1 }]),
    };
    const dTwice = d.flatMap((x) => [{ ...x, image_id: x.image_id * 2 }, { ...x, image_id: x.image_id * 2 + 1 }]);
    const gt2 = indexGroundTruth(twice);
    const r2 = evaluateCoco(gt2.index, indexDetections(dTwice, gt2).index);
    const gt = indexGroundTruth(g);
    const dt = indexDetections(d, gt);
    const r = evaluateCoco(gt.index, dt.index);
    const a = accumulationData(gt.index, dt.index, r, () => true, () => true);
    expect(weightedAP(a, new Float64Array(gt.index.imgIds.length).fill(2))).toBeCloseTo(r2.stats.AP, 12);
  });
});

describe('weighted accumulation on cluster draws', () => {
  it.each(['01_basic_mixed_missing_categories', '02_crowd_regions_and_ignore_flags', '04_score_ties_duplicates_exact_iou', '06_tiny_border_boxes_many_categories'])('%s: clusterWeightedAP is weightedAP bit for bit', (name) => {
    const gt = indexGroundTruth(read(name, 'gt.json'));
    const dt = indexDetections(read(name, 'dt.json'), gt);
    const r = evaluateCoco(gt.index, dt.index);
    const n = gt.index.imgIds.length;
    // Two images a scene, one image outside the sample (cluster -1), a subset of the categories kept.
    const scenes = Array.from({ length: n }, (_, i) => (i === n - 1 && n > 2 ? '' : `s${i >> 1}`));
    const keepImage = (i: number) => scenes[i] !== '';
    const a = accumulationData(gt.index, dt.index, r, keepImage, (k) => k % 3 !== 2 || gt.index.catIds.length < 3);
    const { cluster, clusters } = clusterIndex(scenes);
    const d = clusterAPData(a, cluster, clusters);
    const viaImages: number[] = [];
    const viaClusters: number[] = [];
    forEachReplicate(cluster, clusters, 300, 9, (w) => viaImages.push(weightedAP(a, w)));
    forEachDraw(clusters, 300, 9, (draws) => viaClusters.push(clusterWeightedAP(d, draws)));
    expect(viaClusters.length).toBe(300);
    for (let b = 0; b < 300; b++) expect(Object.is(viaClusters[b], viaImages[b])).toBe(true);
    expect(clusterWeightedAP(d, new Uint16Array(clusters).fill(1))).toBe(weightedAP(a, Float64Array.from(scenes, (s) => (s ? 1 : 0))));
  });
});

describe('cluster bootstrap', () => {
  it('gives the standard error a mean of cluster values should have', () => {
    const rand = seededRandom(5);
    const n = 60;
    const values = Array.from({ length: n }, () => rand() * 10);
    // Three images per cluster, each with its cluster's value: the statistic is the weighted mean.
    const scenes = values.flatMap((_, c) => [`s${c}`, `s${c}`, `s${c}`]);
    const x = values.flatMap((v) => [v, v, v]);
    const { cluster, clusters } = clusterIndex(scenes);
    expect(clusters).toBe(n);
    // The weighted mean over images, each image weighted by its cluster's draw count.
    const mean = (draws: ArrayLike<number>) => {
      let s = 0;
      let t = 0;
      for (let i = 0; i < x.length; i++) {
        s += draws[cluster[i]] * x[i];
        t += draws[cluster[i]];
      }
      return s / t;
    };
    const reps = (replicates: number) => clusterBootstrap({ clusters, outputs: 1, replicates, seed: 42, statistic: (d, o) => (o[0] = mean(d)) })[0];
    const m = values.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / n);
    const s = interval(reps(4000), 0.95, 'percentile');
    expect(s.se / (sd / Math.sqrt(n))).toBeGreaterThan(0.95);
    expect(s.se / (sd / Math.sqrt(n))).toBeLessThan(1.05);
    // The 95% interval is about +-1.96 SE around the mean.
    expect((s.hi - s.lo) / (2 * 1.96 * (sd / Math.sqrt(n)))).toBeGreaterThan(0.9);
    expect((s.hi - s.lo) / (2 * 1.96 * (sd / Math.sqrt(n)))).toBeLessThan(1.1);
    // Seeded: the same seed gives the same replicates.
    expect(reps(50).sorted).toEqual(reps(50).sorted);
  });

  it('paired: a constant shift is found exactly, and no difference gives p = 1', () => {
    const scenes = Array.from({ length: 40 }, (_, i) => `s${i % 20}`);
    const { cluster, clusters } = clusterIndex(scenes);
    const base = (draws: ArrayLike<number>) => {
      let s = 0;
      let t = 0;
      for (let i = 0; i < cluster.length; i++) {
        s += draws[cluster[i]] * (i % 7);
        t += draws[cluster[i]];
      }
      return s / t;
    };
    // Candidate minus baseline on the same draws; the two-sided p is twice the smaller one-sided one.
    const paired = (candidate: (d: ArrayLike<number>) => number) => clusterBootstrap({ clusters, outputs: 1, replicates: 500, seed: 1, statistic: (d, o) => (o[0] = candidate(d) - base(d)) })[0];
    const twoSided = (set: ReplicateSet) => Math.min(1, 2 * Math.min(pValue(set, 0, 'greater', 'percentile').p, pValue(set, 0, 'less', 'percentile').p));
    const shiftedSet = paired((d) => base(d) + 0.05);
    const shifted = interval(shiftedSet, 0.95, 'percentile');
    expect(shifted.estimate).toBeCloseTo(0.05, 12);
    expect(shifted.lo).toBeCloseTo(0.05, 12);
    expect(shifted.hi).toBeCloseTo(0.05, 12);
    expect(twoSided(shiftedSet)).toBeCloseTo(2 / 501, 12);
    expect(twoSided(paired(base))).toBe(1);
  });

  it('percentile intervals interpolate like numpy\'s linear quantiles', () => {
    const v = Float64Array.from({ length: 101 }, (_, i) => i);
    const set: ReplicateSet = { estimate: 50, sorted: v, drawn: 101, jackknife: null, clusters: 101, seed: 0 };
    const s = interval(set, 0.9, 'percentile');
    expect(s.lo).toBeCloseTo(5, 12);
    expect(s.hi).toBeCloseTo(95, 12);
  });
});

describe('multiple-comparison adjustment', () => {
  it('Holm and Benjamini-Hochberg match R\'s p.adjust', () => {
    const p = [0.01, 0.04, 0.03, 0.005];
    expect(holm(p).map((x) => +x.toFixed(12))).toEqual([0.03, 0.06, 0.06, 0.02]);
    expect(benjaminiHochberg(p).map((x) => +x.toFixed(12))).toEqual([0.02, 0.04, 0.04, 0.02]);
    expect(holm([0.5, 0.9])).toEqual([1, 1]);
  });
});
