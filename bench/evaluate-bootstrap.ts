/**
 * The evaluate step's per-slice bootstrap (src/evaluate/slices.ts) on the demo's evaluation:
 * the candidate against production on the built world's golden_test (1000 frames), every slice
 * of fixtures/world/slices.yaml, the quick demo's 200 replicates, seed 1. The baseline is the
 * implementation before clusterWeightedAP (kept below: image weights filled per replicate,
 * weightedAP over every detection copy); the ratio is baseline / current, and every interval
 * bound, estimate, standard error and p-value must be bit-identical (Object.is), else it fails.
 * Needs the world (build/world, `npm run demo` or the world-build step); the two models'
 * detections are computed once with ONNX Runtime and cached in build/bench/.
 *   npm run bench -- evaluate-bootstrap [replicates]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { ROOT, median, writeResults } from './common.js';
import { runInference, type CocoResult } from '../src/model/infer.js';
import { evaluateCoco } from '../src/metrics/coco.js';
import { RECALL_THRESHOLDS } from '../src/metrics/coco.js';
import { indexDetections, indexGroundTruth } from '../src/metrics/coco-load.js';
import { loadSliceFile } from '../src/schema/manifest-load.js';
import { frameInSlice, sliceCountsClass, type Slice } from '../src/schema/manifest.js';
import { evaluateSlices, type EvaluatedModel, type SliceImage, type SliceMetric } from '../src/evaluate/slices.js';
import { accumulationData, benjaminiHochberg, clusterIndex, drawClusters, holm, percentileInterval, twoSidedP, type AccumulationData } from '../src/metrics/bootstrap.js';
import { seededRandom } from '../src/files/prng.js';
import type { CocoGtIndex } from '../src/metrics/coco.js';

const replicates = Number(process.argv[2] ?? 200);
const manifest = join(ROOT, 'build', 'world', 'manifests', 'golden_test.jsonl');
const gtFile = join(ROOT, 'build', 'world', 'manifests', 'golden_test.coco.json');
if (!existsSync(gtFile)) {
  console.error(`no ${gtFile}: build the world first (npm run demo, or the world-build step)`);
  process.exit(2);
}

// ---- The baseline: the implementation before clusterWeightedAP, verbatim. ----
const EPS = 2.220446049250313e-16;
const R = RECALL_THRESHOLDS.length;
function oldWeightedAP(a: AccumulationData, weight: ArrayLike<number>, thresholds: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]): number {
  let total = 0;
  let count = 0;
  let rc = new Float64Array(256);
  let pr = new Float64Array(256);
  for (let c = 0; c < a.categories.length; c++) {
    let np = 0;
    const images = a.npigImages[c];
    const counts = a.npigCounts[c];
    for (let j = 0; j < images.length; j++) np += counts[j] * weight[images[j]];
    if (np === 0) continue;
    const order = a.order[c];
    if (order.length > rc.length) {
      rc = new Float64Array(order.length * 2);
      pr = new Float64Array(order.length * 2);
    }
    for (const t of thresholds) {
      const base = t * a.slots;
      let tp = 0;
      let fp = 0;
      let nd = 0;
      for (let j = 0; j < order.length; j++) {
        const s = order[j];
        const w = weight[a.slotImage[s]];
        if (w === 0) continue;
        const code = a.code[base + s];
        if (code === 0) continue;
        if (nd + w > rc.length) {
          const grow = (x: Float64Array) => {
            const y = new Float64Array((nd + w) * 2);
            y.set(x.subarray(0, nd));
            return y;
          };
          rc = grow(rc);
          pr = grow(pr);
        }
        for (let copy = 0; copy < w; copy++) {
          if (code === 1) tp++;
          else fp++;
          rc[nd] = tp / np;
          pr[nd] = tp / (fp + tp + EPS);
          nd++;
        }
      }
      for (let j = nd - 1; j > 0; j--) if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
      let p = 0;
      let sum = 0;
      for (let ri = 0; ri < R; ri++) {
        while (p < nd && rc[p] < RECALL_THRESHOLDS[ri]) p++;
        sum += p < nd ? pr[p] : 0;
      }
      total += sum / R;
      count++;
    }
  }
  return count ? total / count : NaN;
}
function oldForEachReplicate(cluster: Int32Array, clusters: number, reps: number, seed: number, visit: (weights: Float64Array, replicate: number) => void): void {
  const rand = seededRandom(seed);
  const w = new Float64Array(cluster.length);
  for (let b = 0; b < reps; b++) {
    const draws = drawClusters(clusters, rand);
    for (let i = 0; i < cluster.length; i++) w[i] = cluster[i] < 0 ? 0 : draws[cluster[i]];
    visit(w, b);
  }
}
function oldEvaluateSlices(gt: CocoGtIndex, images: readonly SliceImage[], slices: readonly Slice[], candidate: EvaluatedModel, baseline: EvaluatedModel | undefined, reps: number, seed: number, level = 0.95): SliceMetric[] {
  const out: SliceMetric[] = [];
  const nImg = gt.imgIds.length;
  for (const slice of slices) {
    const inSlice = new Uint8Array(nImg);
    images.forEach((im, i) => (inSlice[i] = frameInSlice(slice, im) ? 1 : 0));
    const keepCat = (k: number) => sliceCountsClass(slice, gt.catNames[k]);
    const frames = inSlice.reduce((a, b) => a + b, 0);
    const sceneNames = images.map((im, i) => (inSlice[i] ? im.scene_id : ''));
    const scenes = new Set(sceneNames.filter(Boolean)).size;
    let objects = 0;
    for (let k = 0; k < gt.catIds.length; k++) {
      if (!keepCat(k)) continue;
      for (let q = gt.catStart[k]; q < gt.catStart[k + 1]; q++) if (inSlice[gt.img[q]] && !gt.crowd[q]) objects++;
    }
    const metric: SliceMetric = { slice: slice.id, critical: slice.critical, denominators: { scenes, frames, objects } };
    if (frames === 0 || objects === 0) {
      metric.note = frames === 0 ? 'no frames in this slice' : 'no objects in this slice';
      out.push(metric);
      continue;
    }
    const { cluster, clusters } = clusterIndex(sceneNames);
    const cand = accumulationData(gt, candidate.dt, candidate.result, (i) => inSlice[i] === 1, keepCat);
    const ones = Float64Array.from(inSlice);
    const base = baseline ? accumulationData(gt, baseline.dt, baseline.result, (i) => inSlice[i] === 1, keepCat) : undefined;
    const candReps: number[] = [];
    const deltas: number[] = [];
    oldForEachReplicate(cluster, clusters, reps, seed, (w) => {
      const c = oldWeightedAP(cand, w);
      if (Number.isNaN(c)) return;
      candReps.push(c);
      if (base) deltas.push(c - oldWeightedAP(base, w));
    });
    if (candReps.length < reps / 2 || clusters < 2) {
      metric.note = `insufficient data: ${clusters} scene(s), ${objects} object(s); ${candReps.length} of ${reps} replicates defined`;
      out.push(metric);
      continue;
    }
    const candPoint = oldWeightedAP(cand, ones);
    metric.ap = percentileInterval(candPoint, Float64Array.from(candReps), level);
    if (base) {
      const basePoint = oldWeightedAP(base, ones);
      const p = twoSidedP(deltas);
      metric.baselineAp = basePoint;
      metric.delta = { ...percentileInterval(candPoint - basePoint, Float64Array.from(deltas), level), p, pAdjusted: p, adjustment: slice.critical ? 'holm' : 'benjamini-hochberg' };
    }
    out.push(metric);
  }
  for (const critical of [true, false]) {
    const group = out.filter((m) => m.delta && m.critical === critical);
    const adjusted = (critical ? holm : benjaminiHochberg)(group.map((m) => m.delta!.p));
    group.forEach((m, i) => (m.delta!.pAdjusted = adjusted[i]));
  }
  return out;
}

// ---- The demo's evaluation. ----
const gtJson = JSON.parse(readFileSync(gtFile, 'utf8'));
const gt = indexGroundTruth(gtJson, gtFile);
const slices = loadSliceFile(join(ROOT, 'fixtures', 'world', 'slices.yaml'));
const images: SliceImage[] = gtJson.images.slice().sort((a: { id: number }, b: { id: number }) => a.id - b.id);
mkdirSync(join(ROOT, 'build', 'bench'), { recursive: true });
async function evaluated(name: string): Promise<EvaluatedModel> {
  const cache = join(ROOT, 'build', 'bench', `evaluate-bootstrap-${name}.json`);
  let results: CocoResult[];
  if (existsSync(cache)) results = JSON.parse(readFileSync(cache, 'utf8'));
  else {
    results = (await runInference({ modelDir: join(ROOT, 'fixtures', 'world', 'models', name), manifest })).results;
    writeFileSync(cache, JSON.stringify(results));
  }
  const dt = indexDetections(results, gt, `${name} results`);
  return { dt: dt.index, result: evaluateCoco(gt.index, dt.index) };
}
const cand = await evaluated('candidate');
const base = await evaluated('production');

/** Every number, compared with Object.is (bit-identical doubles; NaN equals NaN). */
function identical(a: unknown, b: unknown, path: string, diffs: string[]): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (!Object.is(a, b)) diffs.push(`${path}: ${a} vs ${b}`);
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) identical((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, diffs);
  } else if (a !== b) diffs.push(`${path}: ${String(a)} vs ${String(b)}`);
}

const ROUNDS = 3;
const tOld: number[] = [];
const tNew: number[] = [];
let before: SliceMetric[] = [];
let after: SliceMetric[] = [];
const loadBefore = loadavg()[0];
for (let r = 0; r < ROUNDS; r++) {
  // Alternately, so that load on the machine falls on both alike.
  let t = performance.now();
  before = oldEvaluateSlices(gt.index, images, slices, cand, base, replicates, 1);
  tOld.push(performance.now() - t);
  t = performance.now();
  after = evaluateSlices(gt.index, images, slices, cand, base, { replicates, seed: 1 });
  tNew.push(performance.now() - t);
}
const diffs: string[] = [];
identical(before, after, 'slices', diffs);
const numbers = after.reduce((n, m) => n + (m.ap ? 6 : 0) + (m.delta ? 8 : 0) + (m.baselineAp !== undefined ? 1 : 0), 0);
const figures = {
  case: { frames: gt.index.imgIds.length, slices: slices.length, replicates, seed: 1, withInterval: after.filter((m) => m.ap).length, withDelta: after.filter((m) => m.delta).length },
  baselineMs: Math.round(median(tOld)),
  currentMs: Math.round(median(tNew)),
  ratio: Number((median(tOld) / median(tNew)).toFixed(2)),
  identical: diffs.length === 0,
  numbersCompared: numbers,
  differences: diffs.slice(0, 20),
  loadAverage1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0].toFixed(2)) },
};
console.log(`evaluate bootstrap, ${slices.length} slices x ${replicates} replicates on ${gt.index.imgIds.length} frames: baseline ${figures.baselineMs} ms, current ${figures.currentMs} ms, ${figures.ratio}x (median of ${ROUNDS}); load ${figures.loadAverage1m.before} -> ${figures.loadAverage1m.after}`);
console.log(diffs.length === 0 ? `identical: all ${numbers} interval bounds, estimates, SEs and p-values bit for bit` : `DIFFERENT: ${diffs.length} numbers, e.g. ${diffs.slice(0, 5).join('; ')}`);
console.log(`wrote ${writeResults('evaluate-bootstrap', figures)}`);
if (diffs.length) process.exit(1);
