/**
 * The evaluate step's per-slice bootstrap (src/evaluate/slices.ts) on the demo's evaluation:
 * the candidate against production on the built world's golden_test (1000 frames), every slice
 * of fixtures/world/slices.yaml with enough data for an interval, the quick demo's 200 replicates.
 *
 * Two measurements:
 *   1. The replicates, baseline against current, on the same draws: for each slice its own seed
 *      (derivedSeed(1, slice id), as evaluateSlices draws it) and the same draws (drawClusters on
 *      that seeded stream), AP and the paired delta computed by the implementation before
 *      clusterWeightedAP (kept below, verbatim: image weights filled per replicate, weightedAP
 *      over every detection copy) and by clusterWeightedAP. Every replicate value must be
 *      bit-identical (Object.is), and the point AP of each slice equal to evaluateSlices', else it
 *      fails; the ratio is baseline / current time.
 *   2. The full evaluateSlices at the demo's statistics (BCa with its leave-one-scene-out
 *      jackknife, margin 0.02, replicates doubled near a decision up to 1600), timed, and what
 *      share of it the jackknife and the adaptive replicates take: by difference against the same
 *      run without them (percentile, no replicates added; BCa, no replicates added), and by count
 *      (statistic evaluations: B replicates, one jackknife value per scene, the replicates added).
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
import { frameInSlice, sliceCountsClass } from '../src/schema/manifest.js';
import { evaluateSlices, type EvaluatedModel, type SliceImage, type SliceMetric, type SliceOptions } from '../src/evaluate/slices.js';
import { accumulationData, clusterAPData, clusterIndex, clusterWeightedAP, type AccumulationData } from '../src/metrics/bootstrap.js';
import { derivedSeed, drawClusters } from '../src/metrics/inference.js';
import { seededRandom } from '../src/files/prng.js';

const replicates = Number(process.argv[2] ?? 200);
const RUN_SEED = 1;
/** The quick demo's statistics (fixtures/demo/paddock.yaml, the evaluate step). */
const DEMO: SliceOptions = { replicates, seed: RUN_SEED, method: 'bca', alpha: 0.05, margin: 0.02, minScenes: 10, minObjects: 10, maxReplicates: 1600 };
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
/** The baseline's image weights of one draw, as its forEachReplicate filled them. */
function oldWeights(cluster: Int32Array, draws: Uint16Array, w: Float64Array): Float64Array {
  for (let i = 0; i < cluster.length; i++) w[i] = cluster[i] < 0 ? 0 : draws[cluster[i]];
  return w;
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

// ---- 1. The replicates on the same seeds and draws, baseline and current. ----
const ROUNDS = 3;
const loadBefore = loadavg()[0];
interface SliceCase {
  id: string;
  seed: number;
  clusters: number;
  frames: number;
  cluster: Int32Array;
  cand: AccumulationData;
  base: AccumulationData;
  candC: ReturnType<typeof clusterAPData>;
  baseC: ReturnType<typeof clusterAPData>;
  point: number;
}
// The slices evaluateSlices draws replicates for (those with an interval at the demo's statistics).
const reference = evaluateSlices(gt.index, images, slices, cand, base, DEMO);
const cases: SliceCase[] = [];
for (const slice of slices) {
  const m = reference.find((x) => x.slice === slice.id)!;
  if (!m.ap) continue;
  const inSlice = new Uint8Array(gt.index.imgIds.length);
  images.forEach((im, i) => (inSlice[i] = frameInSlice(slice, im) ? 1 : 0));
  const keepCat = (k: number) => sliceCountsClass(slice, gt.index.catNames[k]);
  const sceneNames = images.map((im, i) => (inSlice[i] ? im.scene_id : ''));
  const { cluster, clusters } = clusterIndex(sceneNames);
  const c = accumulationData(gt.index, cand.dt, cand.result, (i) => inSlice[i] === 1, keepCat);
  const b = accumulationData(gt.index, base.dt, base.result, (i) => inSlice[i] === 1, keepCat);
  cases.push({ id: slice.id, seed: derivedSeed(RUN_SEED, slice.id), clusters, frames: inSlice.reduce((x, y) => x + y, 0), cluster, cand: c, base: b, candC: clusterAPData(c, cluster, clusters), baseC: clusterAPData(b, cluster, clusters), point: oldWeightedAP(c, Float64Array.from(inSlice)) });
}

/** B replicates of one slice on its seeded stream: [AP, delta] per replicate (NaN where undefined), and the time. */
function baselineReplicates(k: SliceCase): { values: Float64Array; ms: number } {
  const t = performance.now();
  const rand = seededRandom(k.seed);
  const w = new Float64Array(k.cluster.length);
  const values = new Float64Array(2 * replicates);
  for (let r = 0; r < replicates; r++) {
    const weights = oldWeights(k.cluster, drawClusters(k.clusters, rand), w);
    const c = oldWeightedAP(k.cand, weights);
    values[2 * r] = c;
    values[2 * r + 1] = Number.isNaN(c) ? NaN : c - oldWeightedAP(k.base, weights);
  }
  return { values, ms: performance.now() - t };
}
function currentReplicates(k: SliceCase): { values: Float64Array; ms: number } {
  const t = performance.now();
  const rand = seededRandom(k.seed);
  const values = new Float64Array(2 * replicates);
  for (let r = 0; r < replicates; r++) {
    const draws = drawClusters(k.clusters, rand);
    const c = clusterWeightedAP(k.candC, draws);
    values[2 * r] = c;
    values[2 * r + 1] = Number.isNaN(c) ? NaN : c - clusterWeightedAP(k.baseC, draws);
  }
  return { values, ms: performance.now() - t };
}

const diffs: string[] = [];
const tOld: number[] = [];
const tNew: number[] = [];
const perSlice = new Map<string, { old: number[]; cur: number[] }>(cases.map((k) => [k.id, { old: [], cur: [] }]));
let compared = 0;
for (let round = 0; round < ROUNDS; round++) {
  let sumOld = 0;
  let sumNew = 0;
  for (const k of cases) {
    // Alternately, so that load on the machine falls on both alike.
    const o = baselineReplicates(k);
    const n = currentReplicates(k);
    sumOld += o.ms;
    sumNew += n.ms;
    perSlice.get(k.id)!.old.push(o.ms);
    perSlice.get(k.id)!.cur.push(n.ms);
    if (round > 0) continue;
    for (let i = 0; i < o.values.length; i++) {
      compared++;
      if (!Object.is(o.values[i], n.values[i])) diffs.push(`${k.id} replicate ${i >> 1} ${i & 1 ? 'delta' : 'AP'}: ${o.values[i]} vs ${n.values[i]}`);
    }
    const m = reference.find((x) => x.slice === k.id)!;
    compared++;
    if (!Object.is(k.point, m.ap!.estimate)) diffs.push(`${k.id} point AP: ${k.point} vs evaluateSlices ${m.ap!.estimate}`);
  }
  tOld.push(sumOld);
  tNew.push(sumNew);
}

// ---- 2. The full evaluateSlices, and what the jackknife and the adaptive replicates cost. ----
const configs = {
  full: DEMO,
  noAdaptive: { ...DEMO, maxReplicates: replicates },
  noJackknifeNoAdaptive: { ...DEMO, method: 'percentile' as const, maxReplicates: replicates },
};
const tEval: Record<keyof typeof configs, number[]> = { full: [], noAdaptive: [], noJackknifeNoAdaptive: [] };
let full: SliceMetric[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, opts] of Object.entries(configs) as [keyof typeof configs, SliceOptions][]) {
    const t = performance.now();
    const out = evaluateSlices(gt.index, images, slices, cand, base, opts);
    tEval[name].push(performance.now() - t);
    if (name === 'full') full = out;
  }
}
const fullMs = median(tEval.full);
const jackknifeMs = median(tEval.noAdaptive) - median(tEval.noJackknifeNoAdaptive);
const adaptiveMs = fullMs - median(tEval.noAdaptive);
// By count: every statistic evaluation costs about the same (one draw's AP and delta).
const withInterval = full.filter((m) => m.ap);
const jackknifeEvals = cases.reduce((n, k) => n + k.clusters, 0);
const addedEvals = withInterval.reduce((n, m) => n + (m.ap!.drawn - replicates), 0);
const replicateEvals = withInterval.length * replicates;
const totalEvals = replicateEvals + jackknifeEvals + addedEvals + withInterval.length;
const share = (x: number) => Number((100 * x).toFixed(1));

const figures = {
  case: { frames: gt.index.imgIds.length, slices: slices.length, replicates, runSeed: RUN_SEED, statistics: DEMO, withInterval: withInterval.length, withDelta: full.filter((m) => m.delta).length, insufficient: full.filter((m) => m.insufficient).map((m) => m.slice) },
  replicates: {
    baselineMs: Math.round(median(tOld)),
    currentMs: Math.round(median(tNew)),
    ratio: Number((median(tOld) / median(tNew)).toFixed(2)),
    identical: diffs.length === 0,
    valuesCompared: compared,
    differences: diffs.slice(0, 20),
    perSlice: cases.map((k) => ({ slice: k.id, seed: k.seed, scenes: k.clusters, frames: k.frames, baselineMs: Number(median(perSlice.get(k.id)!.old).toFixed(1)), currentMs: Number(median(perSlice.get(k.id)!.cur).toFixed(1)) })),
  },
  evaluateSlices: {
    fullMs: Math.round(fullMs),
    noAdaptiveMs: Math.round(median(tEval.noAdaptive)),
    noJackknifeNoAdaptiveMs: Math.round(median(tEval.noJackknifeNoAdaptive)),
    jackknifeSharePct: share(jackknifeMs / fullMs),
    // No replicate added: nothing to pay for, the difference of the timings is noise (also recorded).
    adaptiveSharePct: addedEvals === 0 ? 0 : share(adaptiveMs / fullMs),
    adaptiveDifferencePct: share(adaptiveMs / fullMs),
    evaluations: { replicates: replicateEvals, jackknife: jackknifeEvals, added: addedEvals, points: withInterval.length },
    byCount: { jackknifeSharePct: share(jackknifeEvals / totalEvals), adaptiveSharePct: share(addedEvals / totalEvals) },
    slicesWithAddedReplicates: withInterval.filter((m) => m.ap!.drawn > replicates).map((m) => ({ slice: m.slice, drawn: m.ap!.drawn })),
  },
  loadAverage1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0].toFixed(2)) },
};
const r = figures.replicates;
const e = figures.evaluateSlices;
console.log(`evaluate bootstrap replicates, ${cases.length} slices x ${replicates} replicates on ${gt.index.imgIds.length} frames, each slice on its own seed: baseline ${r.baselineMs} ms, current ${r.currentMs} ms, ${r.ratio}x (median of ${ROUNDS}); load ${figures.loadAverage1m.before} -> ${figures.loadAverage1m.after}`);
console.log(diffs.length === 0 ? `identical: all ${compared} replicate values (AP and delta) and point APs bit for bit` : `DIFFERENT: ${diffs.length} values, e.g. ${diffs.slice(0, 5).join('; ')}`);
console.log(`evaluateSlices at the demo's statistics (BCa, margin 0.02, up to ${DEMO.maxReplicates} replicates): ${e.fullMs} ms; without adding replicates ${e.noAdaptiveMs} ms; percentile without adding ${e.noJackknifeNoAdaptiveMs} ms`);
console.log(`  jackknife ${e.jackknifeSharePct}% of it, adaptive replicates ${e.adaptiveSharePct}%${addedEvals === 0 ? ` (none added; timing difference ${e.adaptiveDifferencePct}%, noise)` : ''} (by count of evaluations: ${e.byCount.jackknifeSharePct}% and ${e.byCount.adaptiveSharePct}%: ${jackknifeEvals} jackknife, ${addedEvals} added, ${replicateEvals} planned); replicates added for ${e.slicesWithAddedReplicates.length} slice(s)`);
console.log(`wrote ${writeResults('evaluate-bootstrap', figures)}`);
if (diffs.length) process.exit(1);
