/**
 * The coverage study of src/metrics/inference.ts on detection AP: simulated worlds with a known
 * true AP and known deltas, at 4, 10, 30, 100 and 300 scenes and three object densities, many
 * repetitions, each bootstrapped by the production path (clusterBootstrap over scenes, the AP by
 * clusterWeightedAP on a ClusterAPData built from the synthetic detections, one category, one IoU
 * threshold). Prints, per density x size and per interval method:
 *   - the two-sided 95% coverage of the candidate's AP, with the share missed on each side;
 *   - the one-sided 95% lower-bound coverage (true >= bound) of the AP and of the paired delta
 *     (candidate - baseline on the same draws, one statistic call), in the null and regression worlds;
 *   - the false-positive rate of the one-sided regression test pValue(delta, 0, 'less').p < 0.05
 *     in the null world, and its power in the regression world;
 * and a recommendation: the method, and per density the smallest number of scenes from which its
 * two-sided coverage reaches 0.93 and its test's false-positive rate stays <= 0.07.
 *
 * The world. Per scene: an object count from the density model, a difficulty u ~ N(0, 0.7); per
 * object a latent z ~ N(0, 1). Three detectors see the same scenes and objects (so their APs are
 * positively correlated, as two models on the same frames are): the baseline (detection logit
 * shift 0), the null candidate (shift 0, its own noise: exchangeable with the baseline, so the
 * population delta is exactly 0) and the regression candidate (shift -0.6). A detector finds an
 * object with probability sigmoid(0.3 + shift + u + z), scoring it 1 + u + N(0, 1) on the logit
 * scale; it adds Poisson(c exp(-u / 2)) false positives scored -1 + N(0, 1), c = half the mean
 * object count. Scores are kept as logits (the ranking is the sigmoid's; ties have probability 0).
 * True values: the statistic on one sample of 200,000 scenes of the same generator, with its
 * Monte Carlo standard error from 10 batches of 20,000.
 *
 * Samples with no object (AP undefined) are counted and left out of the rates; degenerate
 * bootstraps (fewer than half the replicates defined, or no spread) are counted and kept.
 * The baseline of the ratios is the percentile method, measured in the same run: each method's
 * coverage error |coverage - 0.95| against percentile's.
 *   npm run bench -- coverage [--quick] [--reps N] [--replicates B] [--sizes 4,10] [--seed S]
 */
import { writeResults } from './common.js';
import { clusterWeightedAP, type ClusterAPData } from '../src/metrics/bootstrap.js';
import { INTERVAL_METHODS, bound, clusterBootstrap, derivedSeed, interval, pValue, type IntervalMethod, type ReplicateSet } from '../src/metrics/inference.js';
import { seededRandom } from '../src/files/prng.js';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const QUICK = argv.includes('--quick');
const REPS = Number(flag('--reps') ?? (QUICK ? 200 : 1000));
const B = Number(flag('--replicates') ?? 1000);
const SIZES = (flag('--sizes') ?? (QUICK ? '4,10,30,100' : '4,10,30,100,300')).split(',').map(Number);
const TRUTH_SCENES = Number(flag('--truth-scenes') ?? 200_000);
const TRUTH_BATCHES = 10;
const SEED = Number(flag('--seed') ?? 1);
const LEVEL = 0.95;
const ALPHA = 0.05;
const TARGET_TWO_SIDED = 0.93;
const MAX_FPR = 0.07;

// ---- The world's parameters (see the header). ----
const INTERCEPT = 0.3;
const SCENE_SD = 0.7;
const OBJECT_SD = 1;
const TP_SCORE = 1;
const FP_SCORE = -1;
const REGRESSION_SHIFT = -0.6;
/** Detection logit shifts of the detectors: baseline, null candidate, regression candidate. */
const SHIFTS = [0, 0, REGRESSION_SHIFT];

/** Uniforms from the project's PRNG; normals by Box-Muller, Poisson by Knuth in chunks, Gamma by Marsaglia-Tsang. */
class Rng {
  private readonly u: () => number;
  private spare = NaN;
  constructor(seed: number) {
    this.u = seededRandom(seed);
  }
  uniform(): number {
    return this.u();
  }
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.u()));
    const t = 2 * Math.PI * this.u();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }
  poisson(lambda: number): number {
    let k = 0;
    for (let rest = lambda; rest > 0; rest -= 20) {
      const floor = Math.exp(-Math.min(rest, 20));
      for (let p = this.u(); p > floor; p *= this.u()) k++;
    }
    return k;
  }
  gamma(shape: number, scale: number): number {
    if (shape < 1) return this.gamma(shape + 1, scale) * Math.pow(1 - this.u(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = this.normal();
      const v0 = 1 + c * x;
      if (v0 <= 0) continue;
      const v = v0 * v0 * v0;
      const u = 1 - this.u();
      if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * scale;
    }
  }
}

interface Density {
  name: string;
  mean: number;
  objects: (r: Rng) => number;
}
const DENSITIES: Density[] = [
  { name: 'sparse', mean: 1.5, objects: (r) => r.poisson(1.5) },
  { name: 'dense', mean: 8, objects: (r) => r.poisson(8) },
  // Negative binomial, mean 3, shape 0.3: about half the scenes empty, most objects in a few.
  { name: 'clumped', mean: 3, objects: (r) => r.poisson(r.gamma(0.3, 3 / 0.3)) },
];

/** One detector's detections, growable, reused between repetitions. */
class Detections {
  score = new Float64Array(1024);
  scene = new Int32Array(1024);
  sign = new Int8Array(1024);
  length = 0;
  push(score: number, scene: number, sign: number): void {
    if (this.length === this.score.length) {
      const grow = <A extends Float64Array | Int32Array | Int8Array>(a: A): A => {
        const b = new (a.constructor as new (n: number) => A)(a.length * 2);
        b.set(a);
        return b;
      };
      this.score = grow(this.score);
      this.scene = grow(this.scene);
      this.sign = grow(this.sign);
    }
    this.score[this.length] = score;
    this.scene[this.length] = scene;
    this.sign[this.length] = sign;
    this.length++;
  }
}

interface Sample {
  scenes: number;
  gt: Int32Array;
  objects: number;
  dets: Detections[];
}

function simulate(scenes: number, density: Density, r: Rng, reuse?: Sample): Sample {
  const s: Sample = reuse && reuse.gt.length === scenes ? reuse : { scenes, gt: new Int32Array(scenes), objects: 0, dets: SHIFTS.map(() => new Detections()) };
  for (const d of s.dets) d.length = 0;
  s.objects = 0;
  const fpRate = 0.5 * density.mean;
  for (let c = 0; c < scenes; c++) {
    const u = SCENE_SD * r.normal();
    const k = density.objects(r);
    s.gt[c] = k;
    s.objects += k;
    for (let o = 0; o < k; o++) {
      const z = OBJECT_SD * r.normal();
      for (let d = 0; d < SHIFTS.length; d++) {
        if (r.uniform() < 1 / (1 + Math.exp(-(INTERCEPT + SHIFTS[d] + u + z)))) s.dets[d].push(TP_SCORE + u + r.normal(), c, 1);
      }
    }
    for (let d = 0; d < SHIFTS.length; d++) {
      const f = r.poisson(fpRate * Math.exp(-u / 2));
      for (let j = 0; j < f; j++) s.dets[d].push(FP_SCORE + r.normal(), c, -1);
    }
  }
  return s;
}

/** ClusterAPData of one detector: one category, one threshold, entries merged as its doc comment says. */
function apData(gt: Int32Array, dets: Detections): ClusterAPData {
  const withGt: number[] = [];
  for (let c = 0; c < gt.length; c++) if (gt[c] > 0) withGt.push(c);
  const gtClusters = Int32Array.from(withGt);
  const gtCounts = gtClusters.map((c) => gt[c]);
  const n = dets.length;
  const score = dets.score;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => score[b] - score[a] || a - b);
  const cl = new Int32Array(n);
  const mult = new Int32Array(n);
  let entries = 0;
  let tpEntries = 0;
  for (let j = 0; j < n; j++) {
    const i = order[j];
    const k = dets.scene[i];
    const sign = dets.sign[i];
    if (entries > 0 && cl[entries - 1] === k && Math.sign(mult[entries - 1]) === sign) mult[entries - 1] += sign;
    else {
      cl[entries] = k;
      mult[entries] = sign;
      entries++;
      if (sign > 0) tpEntries++;
    }
  }
  return {
    gtClusters: [gtClusters],
    gtCounts: [gtCounts],
    entryCluster: [cl.slice(0, entries)],
    entryMult: [mult.slice(0, entries)],
    thresholds: 1,
    pr: new Float64Array(Math.max(1, tpEntries)),
    tpAt: new Float64Array(Math.max(1, tpEntries)),
  };
}

interface Truth {
  ap: number;
  apSE: number;
  delta: number;
  deltaSE: number;
  nullDelta: number;
  nullDeltaSE: number;
  scenes: number;
  objects: number;
  seconds: number;
}

function truthOf(density: Density): Truth {
  const t0 = performance.now();
  const s = simulate(TRUTH_SCENES, density, new Rng(derivedSeed(SEED, `truth/${density.name}`)));
  const data = s.dets.map((d) => apData(s.gt, d));
  const values = (draws: Uint16Array) => {
    const [b, c0, c1] = data.map((d) => clusterWeightedAP(d, draws));
    return { ap: (b + c0) / 2, delta: c1 - b, nullDelta: c0 - b };
  };
  const all = values(new Uint16Array(TRUTH_SCENES).fill(1));
  const batches: ReturnType<typeof values>[] = [];
  const per = Math.floor(TRUTH_SCENES / TRUTH_BATCHES);
  for (let k = 0; k < TRUTH_BATCHES; k++) batches.push(values(new Uint16Array(TRUTH_SCENES).fill(1, k * per, (k + 1) * per)));
  const se = (key: 'ap' | 'delta' | 'nullDelta') => {
    const xs = batches.map((b) => b[key]);
    const m = xs.reduce((a, x) => a + x, 0) / xs.length;
    return Math.sqrt(xs.reduce((a, x) => a + (x - m) * (x - m), 0) / (xs.length - 1) / xs.length);
  };
  return { ap: all.ap, apSE: se('ap'), delta: all.delta, deltaSE: se('delta'), nullDelta: all.nullDelta, nullDeltaSE: se('nullDelta'), scenes: TRUTH_SCENES, objects: s.objects, seconds: (performance.now() - t0) / 1000 };
}

/** Counts of one cell and one method, over the repetitions with objects. */
interface Counts {
  covered: number;
  missLow: number; // the truth below the interval
  missHigh: number;
  apLower: number;
  deltaLower: number; // regression world
  nullDeltaLower: number;
  falsePositive: number;
  detected: number; // regression world
  pBoundDisagree: number; // p < alpha against "upper bound < 0": the same test read two ways
}
const zero = (): Counts => ({ covered: 0, missLow: 0, missHigh: 0, apLower: 0, deltaLower: 0, nullDeltaLower: 0, falsePositive: 0, detected: 0, pBoundDisagree: 0 });

interface Cell {
  density: string;
  scenes: number;
  reps: number;
  used: number;
  noObjects: number;
  degenerate: number;
  meanObjects: number;
  meanEstimate: number;
  seconds: number;
  counts: Record<IntervalMethod, Counts>;
}

function degenerate(set: ReplicateSet): boolean {
  const v = set.sorted;
  return v.length < set.drawn / 2 || v.length === 0 || v[0] === v[v.length - 1];
}

function runCell(density: Density, scenes: number, truth: Truth): Cell {
  const t0 = performance.now();
  const counts = Object.fromEntries(INTERVAL_METHODS.map((m) => [m, zero()])) as Record<IntervalMethod, Counts>;
  let noObjects = 0;
  let degenerateCount = 0;
  let objects = 0;
  let estimateSum = 0;
  let sample: Sample | undefined;
  for (let rep = 0; rep < REPS; rep++) {
    const key = `${density.name}/${scenes}/${rep}`;
    sample = simulate(scenes, density, new Rng(derivedSeed(SEED, key)), sample);
    objects += sample.objects;
    if (sample.objects === 0) {
      noObjects++;
      continue;
    }
    const [dBase, dNull, dReg] = sample.dets.map((d) => apData(sample!.gt, d));
    const [apSet, nullSet, regSet] = clusterBootstrap({
      clusters: scenes,
      outputs: 3,
      replicates: B,
      seed: derivedSeed(SEED, `${key}/bootstrap`),
      jackknife: true,
      statistic: (draws, out) => {
        const b = clusterWeightedAP(dBase, draws);
        const c0 = clusterWeightedAP(dNull, draws);
        const c1 = clusterWeightedAP(dReg, draws);
        out[0] = c0;
        out[1] = c0 - b;
        out[2] = c1 - b;
      },
    });
    estimateSum += apSet.estimate;
    if (degenerate(apSet) || degenerate(nullSet) || degenerate(regSet)) degenerateCount++;
    for (const m of INTERVAL_METHODS) {
      const c = counts[m];
      const iv = interval(apSet, LEVEL, m);
      if (truth.ap < iv.lo) c.missLow++;
      else if (truth.ap > iv.hi) c.missHigh++;
      else if (iv.lo <= truth.ap && truth.ap <= iv.hi) c.covered++;
      // (a NaN interval counts as missed on neither side and not covered: it cannot happen with objects)
      if (truth.ap >= bound(apSet, ALPHA, 'lower', m)) c.apLower++;
      if (truth.delta >= bound(regSet, ALPHA, 'lower', m)) c.deltaLower++;
      if (0 >= bound(nullSet, ALPHA, 'lower', m)) c.nullDeltaLower++;
      const fires = pValue(nullSet, 0, 'less', m).p < ALPHA;
      if (fires) c.falsePositive++;
      if (fires !== bound(nullSet, ALPHA, 'upper', m) < 0) c.pBoundDisagree++;
      if (pValue(regSet, 0, 'less', m).p < ALPHA) c.detected++;
    }
  }
  const used = REPS - noObjects;
  return { density: density.name, scenes, reps: REPS, used, noObjects, degenerate: degenerateCount, meanObjects: objects / REPS, meanEstimate: estimateSum / Math.max(1, used), seconds: (performance.now() - t0) / 1000, counts };
}

// ---- Run. ----
const started = performance.now();
console.log(`coverage study: ${REPS} repetitions per cell, B = ${B} replicates (jackknife on), sizes ${SIZES.join(', ')}, ${DENSITIES.map((d) => d.name).join(', ')}; seed ${SEED}`);
console.log(`Monte Carlo SE of a rate near 0.95 over ${REPS} repetitions: ${Math.sqrt((0.95 * 0.05) / REPS).toFixed(4)}; near 0.05 the same.`);
const truths: Record<string, Truth> = {};
for (const d of DENSITIES) {
  const t = truthOf(d);
  truths[d.name] = t;
  console.log(
    `truth ${d.name.padEnd(7)}: AP ${t.ap.toFixed(5)} (MC SE ${t.apSE.toFixed(5)}), regression delta ${t.delta.toFixed(5)} (${t.deltaSE.toFixed(5)}), ` +
      `null delta 0 (its ${TRUTH_SCENES}-scene sample: ${t.nullDelta.toFixed(5)} +- ${t.nullDeltaSE.toFixed(5)}); ${t.objects} objects, ${t.seconds.toFixed(1)} s`,
  );
}
const cells: Cell[] = [];
for (const d of DENSITIES) {
  for (const n of SIZES) {
    const cell = runCell(d, n, truths[d.name]);
    cells.push(cell);
    console.log(
      `  cell ${d.name.padEnd(7)} ${String(n).padStart(3)} scenes: ${cell.seconds.toFixed(1)} s; mean objects ${cell.meanObjects.toFixed(1)}, mean AP estimate ${cell.meanEstimate.toFixed(4)} (truth ${truths[d.name].ap.toFixed(4)}), ` +
        `no objects ${cell.noObjects}, degenerate ${cell.degenerate}`,
    );
  }
}

const rate = (c: Cell, k: keyof Counts, m: IntervalMethod) => c.counts[m][k] / Math.max(1, c.used);
const SHORT: Record<IntervalMethod, string> = { percentile: 'pct', basic: 'basic', bca: 'bca', 'percentile-expanded': 'pct-exp', 'bca-expanded': 'bca-exp' };
function table(title: string, cellText: (c: Cell, m: IntervalMethod) => string, width = 8): void {
  console.log(`\n${title}`);
  console.log(`${'density  scenes'.padEnd(16)}${INTERVAL_METHODS.map((m) => SHORT[m].padStart(width)).join('')}   excluded`);
  for (const c of cells) console.log(`${c.density.padEnd(8)} ${String(c.scenes).padStart(6)} ${INTERVAL_METHODS.map((m) => cellText(c, m).padStart(width)).join('')}   ${c.noObjects}${c.degenerate ? ` (+${c.degenerate} degenerate, kept)` : ''}`);
}
const f3 = (x: number) => x.toFixed(3);
table('Two-sided 95% coverage of the candidate AP [missed with truth below / above the interval]', (c, m) => `${f3(rate(c, 'covered', m))} [${f3(rate(c, 'missLow', m))}/${f3(rate(c, 'missHigh', m))}]`, 22);
table('One-sided 95% lower-bound coverage, AP (true AP >= bound)', (c, m) => f3(rate(c, 'apLower', m)));
table('One-sided 95% lower-bound coverage, delta in the regression world (true delta >= bound)', (c, m) => f3(rate(c, 'deltaLower', m)));
table('One-sided 95% lower-bound coverage, delta in the null world (0 >= bound)', (c, m) => f3(rate(c, 'nullDeltaLower', m)));
table(`False-positive rate of the regression test p(delta, 0, 'less') < ${ALPHA}, null world`, (c, m) => f3(rate(c, 'falsePositive', m)));
table(`Power of the same test, regression world (shift ${REGRESSION_SHIFT})`, (c, m) => f3(rate(c, 'detected', m)));
const ratio = (c: Cell, m: IntervalMethod) => {
  const base = Math.abs(rate(c, 'covered', 'percentile') - LEVEL);
  return base > 0 ? Math.abs(rate(c, 'covered', m) - LEVEL) / base : NaN;
};
table('Coverage-error ratio |two-sided coverage - 0.95| against the baseline (percentile) in the same run: < 1 is better', (c, m) => (Number.isFinite(ratio(c, m)) ? ratio(c, m).toFixed(2) : '-'));
const disagreements = Object.fromEntries(INTERVAL_METHODS.map((m) => [m, cells.reduce((a, c) => a + c.counts[m].pBoundDisagree, 0)])) as Record<IntervalMethod, number>;
// Percentile's p is the count (1 + replicates >= 0) / (B + 1), its bound an interpolated quantile: they may differ by one replicate's resolution.
console.log(`\np < ${ALPHA} against "95% upper bound < 0" (the same test read two ways), disagreements over all cells: ${INTERVAL_METHODS.map((m) => `${m} ${disagreements[m]}`).join(', ')}`);

// ---- Recommendation. ----
const SIMPLER: IntervalMethod[] = ['percentile', 'basic', 'percentile-expanded', 'bca', 'bca-expanded'];
const tie = Math.sqrt((0.95 * 0.05) / REPS);
const worst = Object.fromEntries(
  INTERVAL_METHODS.map((m) => [m, Math.min(...cells.filter((c) => c.scenes >= 10).map((c) => Math.min(rate(c, 'apLower', m), rate(c, 'deltaLower', m), rate(c, 'nullDeltaLower', m))))]),
) as Record<IntervalMethod, number>;
const best = Math.max(...INTERVAL_METHODS.map((m) => worst[m]));
const method = SIMPLER.find((m) => worst[m] >= best - tie)!;
console.log(`\nworst one-sided lower-bound coverage over AP, regression delta and null delta, sizes >= 10: ${INTERVAL_METHODS.map((m) => `${m} ${f3(worst[m])}`).join(', ')}`);
console.log(`recommendation: ${method} (best worst case, ties within one MC SE ${tie.toFixed(4)} to the simpler method)`);
const minimum: Record<string, number | null> = {};
const insufficient: Record<string, number[]> = {};
for (const d of DENSITIES) {
  const mine = cells.filter((c) => c.density === d.name).sort((a, b) => a.scenes - b.scenes);
  const ok = (c: Cell) => rate(c, 'covered', method) >= TARGET_TWO_SIDED && rate(c, 'falsePositive', method) <= MAX_FPR;
  // The smallest size from which on every larger size measured passes too.
  let min: number | null = null;
  for (let i = mine.length - 1; i >= 0 && ok(mine[i]); i--) min = mine[i].scenes;
  minimum[d.name] = min;
  insufficient[d.name] = mine.filter((c) => !INTERVAL_METHODS.some((m) => rate(c, 'covered', m) >= TARGET_TWO_SIDED)).map((c) => c.scenes);
  console.log(
    `  ${d.name.padEnd(7)}: ${method} reaches two-sided ${TARGET_TWO_SIDED} with false-positive rate <= ${MAX_FPR} from ${min ?? `none of ${SIZES.join(', ')}`} scenes${min ? `; sizes below ${min} are insufficient` : ''}` +
      `; sizes where no method reaches ${TARGET_TWO_SIDED}: ${insufficient[d.name].length ? insufficient[d.name].join(', ') : 'none'}`,
  );
}
const seconds = (performance.now() - started) / 1000;
console.log(`\ntotal ${seconds.toFixed(0)} s (truths ${DENSITIES.reduce((a, d) => a + truths[d.name].seconds, 0).toFixed(0)} s)`);
const file = writeResults('coverage', {
  config: { reps: REPS, replicates: B, sizes: SIZES, truthScenes: TRUTH_SCENES, truthBatches: TRUTH_BATCHES, seed: SEED, level: LEVEL, alpha: ALPHA, world: { intercept: INTERCEPT, sceneSD: SCENE_SD, objectSD: OBJECT_SD, tpScore: TP_SCORE, fpScore: FP_SCORE, fpPerMeanObject: 0.5, regressionShift: REGRESSION_SHIFT, densities: DENSITIES.map((d) => ({ name: d.name, mean: d.mean })) } },
  truth: truths,
  cells: cells.map((c) => ({
    ...c,
    rates: Object.fromEntries(INTERVAL_METHODS.map((m) => [m, { twoSided: rate(c, 'covered', m), missLow: rate(c, 'missLow', m), missHigh: rate(c, 'missHigh', m), apLower: rate(c, 'apLower', m), deltaLower: rate(c, 'deltaLower', m), nullDeltaLower: rate(c, 'nullDeltaLower', m), falsePositive: rate(c, 'falsePositive', m), power: rate(c, 'detected', m), errorRatioVsPercentile: ratio(c, m) }])),
  })),
  pBoundDisagreements: disagreements,
  recommendation: { method, worstLowerBoundCoverage: worst, minimumScenes: minimum, insufficientSizes: insufficient, rule: `best worst-case one-sided lower-bound coverage over sizes >= 10 (ties within ${tie.toFixed(4)} to the simpler: ${SIMPLER.join(' < ')}); minimum: smallest size from which two-sided >= ${TARGET_TWO_SIDED} and false-positive rate <= ${MAX_FPR} at it and every larger size` },
  seconds,
});
console.log(`figures: ${file}`);
