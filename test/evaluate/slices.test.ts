/**
 * Slice metrics (src/evaluate/slices.ts) on a constructed case with known structure: 30 scenes of
 * 4 frames, cars everywhere and pedestrians in one scene only, a candidate and a baseline detector
 * (the ground truth jittered, with scores and misses). What a slice is sized by (scenes with
 * objects, not frames), the BCa interval and the paired bounds read off the slice's own seeded
 * draws, reproducibility of one slice alone, adaptive replicates near a decision, Holm within the
 * critical slices; and the shipped world's one-scene critical slice reported as insufficient.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { evaluateCoco } from '../../src/metrics/coco.js';
import { indexDetections, indexGroundTruth, type LoadedGt } from '../../src/metrics/coco-load.js';
import { accumulationData, clusterAPData, clusterIndex, clusterWeightedAP } from '../../src/metrics/bootstrap.js';
import { benjaminiHochberg, bound, clusterBootstrap, derivedSeed, holm, interval, pValue } from '../../src/metrics/inference.js';
import { DEFAULT_SLICE_STATISTICS, evaluateSlices, nearDecision, type EvaluatedModel, type SliceImage, type SliceMetric } from '../../src/evaluate/slices.js';
import { Slice } from '../../src/schema/manifest.js';
import { loadSliceFile } from '../../src/schema/manifest-load.js';
import { seededRandom } from '../../src/files/prng.js';
import { DEFAULT_WORLD, planScenes, renderJob } from '../../src/world/dataset.js';
import { CATEGORY_IDS, CLASSES } from '../../src/world/scene.js';
import { FIXTURES, tempDir } from '../helpers/fixtures.js';

type Box = [number, number, number, number];
interface Ann { id: number; image_id: number; category_id: number; bbox: Box; area: number; iscrowd: number }

const SCENES = 30;
const FRAMES = 4;
const PEDESTRIAN_SCENE = 0;

/** 30 scenes x 4 frames; 2-4 cars a frame everywhere, 2 pedestrians a frame only in scene 0; every third scene at night. */
function world() {
  const rand = seededRandom(11);
  const images: (SliceImage & { id: number; width: number; height: number; file_name: string })[] = [];
  const annotations: Ann[] = [];
  for (let s = 0; s < SCENES; s++) {
    for (let f = 0; f < FRAMES; f++) {
      const id = images.length + 1;
      images.push({ id, width: 640, height: 480, file_name: `s${s}f${f}.png`, scene_id: `scene-${String(s).padStart(2, '0')}`, weather: s % 2 ? 'rain' : 'clear', time_of_day: s % 3 === 0 ? 'night' : 'day', road_type: 'urban', region: 'north' });
      const add = (cls: number, n: number) => {
        for (let k = 0; k < n; k++) {
          const w = 20 + Math.floor(rand() * 80);
          const h = 20 + Math.floor(rand() * 60);
          const bbox: Box = [10 + Math.floor(rand() * 500), 10 + Math.floor(rand() * 380), w, h];
          annotations.push({ id: annotations.length + 1, image_id: id, category_id: cls, bbox, area: w * h, iscrowd: 0 });
        }
      };
      add(1, 2 + Math.floor(rand() * 3));
      if (s === PEDESTRIAN_SCENE) add(2, 2);
    }
  }
  return { images, annotations, categories: [{ id: 1, name: 'car' }, { id: 2, name: 'pedestrian' }] };
}

/** A detector: each object found with probability `recall`, its box jittered by up to `jitter` px, plus a few false positives. */
function detector(gt: ReturnType<typeof world>, seed: number, recall: number, jitter: number) {
  const rand = seededRandom(seed);
  const j = () => (rand() * 2 - 1) * jitter;
  const out: { image_id: number; category_id: number; bbox: number[]; score: number }[] = [];
  for (const a of gt.annotations) {
    if (rand() >= recall) continue;
    const [x, y, w, h] = a.bbox;
    out.push({ image_id: a.image_id, category_id: a.category_id, bbox: [x + j(), y + j(), Math.max(1, w + j()), Math.max(1, h + j())], score: 0.5 + 0.5 * rand() });
  }
  for (const im of gt.images) if (rand() < 0.3) out.push({ image_id: im.id, category_id: 1, bbox: [300 + 100 * rand(), 200 + 100 * rand(), 30, 30], score: 0.7 * rand() });
  return out;
}

function evaluated(gt: LoadedGt, results: unknown): EvaluatedModel {
  const dt = indexDetections(results, gt).index;
  return { dt, result: evaluateCoco(gt.index, dt) };
}

const gtJson = world();
const gt = indexGroundTruth(gtJson);
const images = gt.images as unknown as SliceImage[];
const good = evaluated(gt, detector(gtJson, 21, 0.92, 1.5));
const poor = evaluated(gt, detector(gtJson, 22, 0.75, 5));

const slice = (id: string, s: Record<string, unknown> = {}) => Slice.parse({ id, ...s });
const SLICES = [
  slice('all'),
  slice('day', { where: { time_of_day: ['day'] } }),
  slice('car', { class: ['car'], critical: true }),
  slice('night', { where: { time_of_day: ['night'] }, critical: true }),
  slice('pedestrian', { class: ['pedestrian'], critical: true }),
];
const byId = (ms: SliceMetric[]) => Object.fromEntries(ms.map((m) => [m.slice, m]));
const REPLICATES = 400;

describe('slice metrics', () => {
  // BCa here (the default is the expanded percentile): its endpoints are cross-checked against SciPy's in test/metrics/inference.test.ts.
  const full = byId(evaluateSlices(gt.index, images, SLICES, good, poor, { replicates: REPLICATES, method: 'bca' }));

  it('sizes a slice by the scenes that hold its objects: pedestrians in one scene are insufficient though their frames span 30 scenes', () => {
    const p = full.pedestrian;
    expect(p.denominators).toEqual({ scenes: 30, scenes_with_objects: 1, effective_scenes: 1, frames: 120, objects: 8 });
    expect(p.insufficient).toBe(true);
    expect(p.note).toBe('insufficient data: 1 scene(s) with objects (minimum 10), 1.0 effective scene(s) (minimum 8), 8 object(s) (minimum 10)');
    // Point AP of both models only: no interval, no test.
    expect(p.apPoint).toEqual(expect.any(Number));
    expect(p.baselineAp).toEqual(expect.any(Number));
    expect(p.ap).toBeUndefined();
    expect(p.delta).toBeUndefined();
    // Below the minimum by objects alone, too.
    const [few] = evaluateSlices(gt.index, images, [SLICES[2]], good, poor, { replicates: 50, minObjects: 10_000 });
    expect(few.insufficient).toBe(true);
    expect(few.note).toMatch(/^insufficient data: 30 scene\(s\) with objects \(minimum 10\), [\d.]+ effective scene\(s\) \(minimum 8\), \d+ object\(s\) \(minimum 10000\)/);
    // The same slice above a lowered minimum gets its interval.
    const [ok] = evaluateSlices(gt.index, images, [SLICES[4]], good, poor, { replicates: 50, minScenes: 1, minEffectiveScenes: 1, minObjects: 1 });
    expect(ok.insufficient).toBeUndefined();
    expect(ok.ap).toBeDefined();
  });

  it('counts scenes, scenes with objects, their Kish effective number, frames and objects', () => {
    const objects = (cls: number, keep: (im: (typeof gtJson.images)[number]) => boolean) => {
      const per = new Map<string, number>();
      for (const a of gtJson.annotations) {
        const im = gtJson.images[a.image_id - 1];
        if (a.category_id === cls && keep(im)) per.set(im.scene_id, (per.get(im.scene_id) ?? 0) + 1);
      }
      return per;
    };
    const kish = (per: Map<string, number>) => {
      const n = [...per.values()];
      return Math.round(n.reduce((a, b) => a + b, 0) ** 2 / n.reduce((a, b) => a + b * b, 0));
    };
    const cars = objects(1, () => true);
    expect(full.car.denominators).toEqual({ scenes: 30, scenes_with_objects: 30, effective_scenes: kish(cars), frames: 120, objects: [...cars.values()].reduce((a, b) => a + b, 0) });
    const night = objects(1, (im) => im.time_of_day === 'night');
    expect(full.night.denominators).toMatchObject({ scenes: 10, scenes_with_objects: 10, frames: 40, objects: [...night.values()].reduce((a, b) => a + b, 0) + 8 });
    expect(full.all.denominators.effective_scenes).toBeLessThanOrEqual(30);
  });

  it('gives a BCa interval and one-sided paired bounds read off the slice\'s own seeded draws', () => {
    const car = full.car;
    expect(car.ap!.method).toBe('bca');
    expect(car.ap!.lo).toBeLessThanOrEqual(car.ap!.estimate);
    expect(car.ap!.estimate).toBeLessThanOrEqual(car.ap!.hi);
    const d = car.delta!;
    expect(d.estimate).toBeGreaterThan(0);
    expect(d.lower).toBeLessThanOrEqual(d.estimate);
    expect(d.estimate).toBeLessThanOrEqual(d.upper);
    // One-sided 95% bounds lie inside the two-sided 95% interval.
    expect(d.lo).toBeLessThanOrEqual(d.lower);
    expect(d.upper).toBeLessThanOrEqual(d.hi);
    expect(d).toMatchObject({ alpha: 0.05, margin: 0, power: 0.8, adjustment: 'holm', scenesForMargin: null });
    expect(d.detectable).toBeGreaterThan(0);
    // The same numbers from the statistics interface directly, on the slice's seed.
    expect(car.seed).toBe(derivedSeed(1, 'car'));
    const keepCar = (k: number) => gt.index.catNames[k] === 'car';
    const { cluster, clusters } = clusterIndex(images.map((im) => im.scene_id));
    const candC = clusterAPData(accumulationData(gt.index, good.dt, good.result, () => true, keepCar), cluster, clusters);
    const baseC = clusterAPData(accumulationData(gt.index, poor.dt, poor.result, () => true, keepCar), cluster, clusters);
    const sets = clusterBootstrap({
      clusters,
      outputs: 2,
      replicates: REPLICATES,
      seed: derivedSeed(1, 'car'),
      jackknife: true,
      statistic: (draws, o) => {
        const c = clusterWeightedAP(candC, draws);
        o[0] = c;
        o[1] = Number.isNaN(c) ? NaN : c - clusterWeightedAP(baseC, draws);
      },
    });
    expect(car.ap).toEqual(interval(sets[0], 0.95, 'bca'));
    expect(d).toMatchObject({ ...interval(sets[1], 0.95, 'bca'), lower: bound(sets[1], 0.05, 'lower', 'bca'), upper: bound(sets[1], 0.05, 'upper', 'bca'), p: pValue(sets[1], 0, 'less', 'bca').p });
    // Another method reads other ends off the same draws.
    const [pct] = evaluateSlices(gt.index, images, [SLICES[2]], good, poor, { replicates: REPLICATES, method: 'percentile' });
    expect(pct.ap).toEqual(interval(sets[0], 0.95, 'percentile'));
  });

  it('derives each slice\'s seed from the run\'s seed and its id: a slice alone gives the same numbers', () => {
    for (const m of Object.values(full)) expect(m.seed, m.slice).toBe(derivedSeed(DEFAULT_SLICE_STATISTICS.seed, m.slice));
    expect(new Set(Object.values(full).map((m) => m.seed)).size).toBe(SLICES.length);
    for (const s of SLICES) {
      const [alone] = evaluateSlices(gt.index, images, [s], good, poor, { replicates: REPLICATES, method: 'bca' });
      // Everything but the adjustment, whose family is the slices evaluated together (alone: only itself).
      const strip = (m: SliceMetric) => ({ ...m, delta: m.delta && { ...m.delta, pAdjusted: 0 } });
      expect(strip(alone), s.id).toEqual(strip(full[s.id]));
      if (alone.delta) expect(alone.delta.pAdjusted).toBe(alone.delta.p);
    }
    // Another run seed, other draws.
    const [other] = evaluateSlices(gt.index, images, [SLICES[2]], good, poor, { replicates: REPLICATES, seed: 2 });
    expect(other.seed).toBe(derivedSeed(2, 'car'));
    expect(other.ap!.lo).not.toBe(full.car.ap!.lo);
  });

  it('adjusts with Holm within the critical slices and Benjamini-Hochberg within the rest', () => {
    // The poor detector as the candidate (deltas -0.43 to -0.51) and a margin of 0.47 among them: p-values from about 0.02 to 0.9.
    const worse = byId(evaluateSlices(gt.index, images, SLICES, poor, good, { replicates: REPLICATES, margin: 0.47, method: 'bca' }));
    const critical = ['car', 'night'];
    const rest = ['all', 'day'];
    // The insufficient critical slice has no test and is no member of the family.
    expect(worse.pedestrian.delta).toBeUndefined();
    const hp = holm(critical.map((s) => worse[s].delta!.p));
    critical.forEach((s, i) => expect(worse[s].delta).toMatchObject({ adjustment: 'holm', pAdjusted: hp[i] }));
    const bh = benjaminiHochberg(rest.map((s) => worse[s].delta!.p));
    rest.forEach((s, i) => expect(worse[s].delta).toMatchObject({ adjustment: 'benjamini-hochberg', pAdjusted: bh[i] }));
    // Not one family of all four.
    const all4 = holm([...critical, ...rest].map((s) => worse[s].delta!.p));
    expect(critical.map((s) => worse[s].delta!.pAdjusted)).not.toEqual(all4.slice(0, 2));
    for (const s of critical) expect(worse[s].delta!.pAdjusted).toBeGreaterThanOrEqual(worse[s].delta!.p);
    expect(Math.min(...critical.map((s) => worse[s].delta!.p))).toBeLessThan(0.05);
    expect(Math.max(...critical.map((s) => worse[s].delta!.p))).toBeGreaterThan(0.5);
    // Replicates were doubled (up to the default 8000) only where a p-value is near its threshold (Holm/BH over 2: between 0.025 and 0.05).
    for (const s of ['all', 'night']) expect(worse[s].delta!.drawn, s).toBeGreaterThan(REPLICATES);
    for (const s of ['day', 'car']) expect(worse[s].delta!.drawn, s).toBe(REPLICATES);
    // The one-sided p of "delta < -0.47"; at the resolution of its replicates it says so.
    for (const s of [...critical, ...rest]) {
      const d = worse[s].delta!;
      expect(d.margin).toBe(0.47);
      expect(d.pAtResolution).toBe(d.p <= 1 / (d.replicates + 1) + 1e-15);
    }
  });
});

describe('adaptive replicates near a decision', () => {
  const table: [string, number, number, number, number, boolean][] = [
    // p, replicates, alpha, family, near?
    ['p at alpha', 0.05, 1000, 0.05, 1, true],
    ['p far above alpha', 0.5, 1000, 0.05, 1, false],
    ['p far below alpha / family', 0.0001, 1000, 0.05, 4, false],
    ['p within Monte Carlo error above alpha', 0.06, 1000, 0.05, 1, true],
    ['p just outside the band above alpha with 8000 replicates', 0.06, 8000, 0.05, 1, false],
    ['p between alpha / family and alpha (Holm could put the threshold there)', 0.02, 1000, 0.05, 4, true],
    ['p below alpha / family, within its error', 0.012, 1000, 0.05, 4, true],
    ['p below alpha for one slice, far', 0.001, 1000, 0.05, 1, false],
  ];
  it.each(table)('%s', (_name, p, b, alpha, family, near) => {
    expect(nearDecision(p, b, alpha, family)).toBe(near);
  });

  it('doubles the replicates of a slice whose p is near alpha, up to the maximum', () => {
    // Candidate worse than the baseline; the margin put at the delta's 95% upper bound makes p = alpha.
    const [probe] = evaluateSlices(gt.index, images, [SLICES[2]], poor, good, { replicates: REPLICATES });
    expect(probe.delta!.upper).toBeLessThan(0);
    const margin = -probe.delta!.upper;
    const [tight] = evaluateSlices(gt.index, images, [SLICES[2]], poor, good, { replicates: REPLICATES, maxReplicates: REPLICATES, margin });
    expect(tight.delta!.p).toBeCloseTo(0.05, 2);
    expect(tight.delta!.drawn).toBe(REPLICATES);
    const [near] = evaluateSlices(gt.index, images, [SLICES[2]], poor, good, { replicates: REPLICATES, maxReplicates: 4 * REPLICATES, margin });
    expect(near.delta!.drawn).toBeGreaterThan(REPLICATES);
    expect([2 * REPLICATES, 4 * REPLICATES]).toContain(near.delta!.drawn);
    expect(near.ap!.drawn).toBe(near.delta!.drawn);
    // Far from a decision (no margin: p tiny for a clear regression; or a clear improvement), B stays as asked.
    const [far] = evaluateSlices(gt.index, images, [SLICES[2]], good, poor, { replicates: REPLICATES, maxReplicates: 4 * REPLICATES });
    expect(nearDecision(far.delta!.p, REPLICATES, 0.05, 1)).toBe(false);
    expect(far.delta!.drawn).toBe(REPLICATES);
  });
});

/**
 * The shipped world's golden_test (src/world/dataset.ts, DEFAULT_WORLD): the scenes are planned
 * without rendering; only the night+rain ones (4 scenes, 40 frames) are drawn for their ground
 * truth (renderJob, PNG encoding left out), which is all the slice night+rain+pedestrian sees. The
 * committed recorded run (test/fixtures/workbench-run.ndjson) reports it as 4 scenes, 40 frames,
 * 13 objects; its pedestrians are all in one scene, so under the default statistics it is insufficient.
 */
describe('the shipped world', () => {
  it('reports its one-scene critical slice night+rain+pedestrian as insufficient', async () => {
    const scenes = planScenes('golden_test', DEFAULT_WORLD).filter((s) => s.conditions.timeOfDay === 'night' && s.conditions.weather === 'rain');
    expect(scenes).toHaveLength(4);
    const { dir, cleanup } = tempDir('paddock-slices-');
    const imgs: Record<string, unknown>[] = [];
    const anns: Record<string, unknown>[] = [];
    try {
      for (const scene of scenes) {
        const r = await renderJob({ kind: 'scene', split: 'golden_test', scene, framesPerScene: DEFAULT_WORLD.framesPerScene, frameEvery: DEFAULT_WORLD.frameEvery }, dir, async () => Buffer.alloc(0));
        for (const f of r.frames) {
          const id = imgs.length + 1;
          const c = scene.conditions;
          imgs.push({ id, file_name: f.rel, width: f.width, height: f.height, scene_id: scene.sceneId, weather: c.weather, time_of_day: c.timeOfDay, road_type: c.roadType, region: c.region });
          // As the world build writes them (src/world/dataset.ts render): a hard object is a crowd region.
          for (const o of f.objects) anns.push({ id: anns.length + 1, image_id: id, category_id: CATEGORY_IDS[o.cls], bbox: o.bbox, area: o.area, iscrowd: o.hard ? 1 : 0 });
        }
      }
    } finally {
      cleanup();
    }
    const g = indexGroundTruth({ images: imgs, annotations: anns, categories: CLASSES.map((c) => ({ id: CATEGORY_IDS[c], name: c })) });
    // A detector that finds every object: the verdict is about the data, not the model.
    const perfect = evaluated(g, anns.map((a) => ({ image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: 0.9 })));
    const shipped = loadSliceFile(join(FIXTURES, 'world', 'slices.yaml')).find((s) => s.id === 'night+rain+pedestrian')!;
    expect(shipped.critical).toBe(true);
    const [m] = evaluateSlices(g.index, g.images as unknown as SliceImage[], [shipped], perfect, perfect);
    expect(m.denominators).toMatchObject({ scenes: 4, frames: 40, objects: 13, scenes_with_objects: 1, effective_scenes: 1 });
    expect(m.insufficient).toBe(true);
    expect(m.note).toMatch(/^insufficient data: 1 scene\(s\) with objects \(minimum 10\), 1\.0 effective scene\(s\) \(minimum 8\), 13 object\(s\) \(minimum 10\)/);
    expect(m.ap).toBeUndefined();
    expect(m.delta).toBeUndefined();
    expect(m.apPoint).toBeCloseTo(1, 6);
  });
});
