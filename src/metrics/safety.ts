/**
 * Safety and comfort of closed-loop runs (issue 19): the geometry the storyboard's conditions,
 * the loop's collision check and the metrics share, a run's RunMetrics from its trace, and the
 * statistics that aggregate runs over seeds and compare a candidate with production on the
 * same runs. Pure: data in, data out.
 *
 * Velocities: an entity moves at (speed cos heading, vy) in the world frame. `vy` is the
 * entity's whole world-frame y velocity (src/schema/sim-types.ts: a pedestrian crossing, a lane
 * change), not an addition to the heading's share; the ego's is speed sin heading.
 *
 * Boxes: the pose is the box's centre, the box is length x width along and across the heading.
 * Gaps and TTC use the box's hull aligned with the road (exact for road-aligned boxes, which
 * every vehicle on the straight road nearly is); contact uses the oriented boxes (SAT).
 */
import { z } from 'zod';
import type { EntityState, PlannerMode, RunMetrics, SimClass, SimCollision, SimRoad, SimRunTrace, TraceStep } from '../schema/sim-types.js';
import { seededRandom } from '../files/prng.js';

type Box = Pick<EntityState, 'x' | 'y' | 'heading' | 'speed' | 'size' | 'vy'>;

/** The entity's world-frame velocity (see the module's note on vy). */
export function worldVelocity(e: Pick<EntityState, 'heading' | 'speed' | 'vy'>): { vx: number; vy: number } {
  return { vx: e.speed * Math.cos(e.heading), vy: e.vy };
}

/** Half extents in x and y of the road-aligned hull of an oriented box. */
function halfExtents(e: Box): { hx: number; hy: number } {
  const c = Math.abs(Math.cos(e.heading));
  const s = Math.abs(Math.sin(e.heading));
  const hl = e.size[0] / 2;
  const hw = e.size[1] / 2;
  return { hx: hl * c + hw * s, hy: hl * s + hw * c };
}

/**
 * Freespace distance between two boxes' road-aligned hulls: along the road, across it, and the
 * shortest between them (0 on each axis where their extents overlap). All non-negative, as
 * OpenSCENARIO's freespace RelativeDistanceCondition measures.
 */
export function gapBetween(a: Box, b: Box): { longitudinal: number; lateral: number; euclid: number } {
  const ea = halfExtents(a);
  const eb = halfExtents(b);
  const longitudinal = Math.max(0, Math.abs(b.x - a.x) - ea.hx - eb.hx);
  const lateral = Math.max(0, Math.abs(b.y - a.y) - ea.hy - eb.hy);
  return { longitudinal, lateral, euclid: Math.hypot(longitudinal, lateral) };
}

/**
 * Time to collision of two boxes at constant velocity: the first t >= 0 at which their
 * road-aligned hulls overlap, from the exact slab intersection in x and y; 0 when they overlap
 * now; null when they never will (parallel, diverging, or passing beside each other).
 */
export function ttcBetween(a: Box, b: Box): number | null {
  const ea = halfExtents(a);
  const eb = halfExtents(b);
  const va = worldVelocity(a);
  const vb = worldVelocity(b);
  const x = slab(b.x - a.x, vb.vx - va.vx, ea.hx + eb.hx);
  if (!x) return null;
  const y = slab(b.y - a.y, vb.vy - va.vy, ea.hy + eb.hy);
  if (!y) return null;
  const enter = Math.max(x[0], y[0], 0);
  const exit = Math.min(x[1], y[1]);
  // A touching instant (enter === exit) is no collision: boxes only graze.
  return enter < exit ? enter : null;
}

/** The open time interval in which |d + v t| < h on one axis; null if never. */
function slab(d: number, v: number, h: number): [number, number] | null {
  if (v === 0) return Math.abs(d) < h ? [-Infinity, Infinity] : null;
  const t1 = (-h - d) / v;
  const t2 = (h - d) / v;
  return t1 < t2 ? [t1, t2] : [t2, t1];
}

/** Corners of an oriented box in the ground plane, counter-clockwise. */
export function boxCorners(e: Pick<EntityState, 'x' | 'y' | 'heading' | 'size'>): [number, number][] {
  const c = Math.cos(e.heading);
  const s = Math.sin(e.heading);
  const hl = e.size[0] / 2;
  const hw = e.size[1] / 2;
  return [
    [hl, hw],
    [-hl, hw],
    [-hl, -hw],
    [hl, -hw],
  ].map(([u, v]) => [e.x + u * c - v * s, e.y + u * s + v * c] as [number, number]);
}

/**
 * Whether two oriented boxes overlap in the ground plane (separating axis theorem: the four
 * edge normals). Touching edges do not count: contact needs a positive-area intersection.
 */
export function boxesOverlap(a: Pick<EntityState, 'x' | 'y' | 'heading' | 'size'>, b: Pick<EntityState, 'x' | 'y' | 'heading' | 'size'>): boolean {
  const ca = boxCorners(a);
  const cb = boxCorners(b);
  for (const h of [a.heading, a.heading + Math.PI / 2, b.heading, b.heading + Math.PI / 2]) {
    const ax = Math.cos(h);
    const ay = Math.sin(h);
    let minA = Infinity;
    let maxA = -Infinity;
    let minB = Infinity;
    let maxB = -Infinity;
    for (const [x, y] of ca) {
      const p = x * ax + y * ay;
      minA = Math.min(minA, p);
      maxA = Math.max(maxA, p);
    }
    for (const [x, y] of cb) {
      const p = x * ax + y * ay;
      minB = Math.min(minB, p);
      maxB = Math.max(maxB, p);
    }
    if (maxA <= minB || maxB <= minA) return false;
  }
  return true;
}

/** What counts as a near miss, speeding, braking and a stop, as a recipe's sim step names them (snake_case), with defaults. */
export const SafetyThresholds = z
  .object({
    /** A VRU near miss: true TTC below this, seconds (Euro NCAP's VRU scenarios' 1 s)... */
    vru_ttc_s: z.number().positive().default(1.0),
    /** ...or a freespace gap below this, metres, without contact. */
    vru_gap_m: z.number().positive().default(1.0),
    /** Speeding: above the road's limit by more than this, m/s (3.6 km/h, a speedometer's tolerance). */
    speed_tolerance_mps: z.number().nonnegative().default(1.0),
    /** The ego brakes when its command is below minus this, m/s^2 (ACC's speed trims stay above it). */
    brake_command_mps2: z.number().positive().default(1.0),
    /** Crossing a stop line faster than this, m/s, without having stopped is a violation. */
    stop_line_speed: z.number().nonnegative().default(0.5),
    /** Stopped: slower than this, m/s, with the ego's front within `stop_line_zone_m` before the line. */
    stopped_speed: z.number().nonnegative().default(0.1),
    stop_line_zone_m: z.number().positive().default(5),
  })
  .strict();
export type SafetyThresholds = z.infer<typeof SafetyThresholds>;

const AEB_RANK: Partial<Record<PlannerMode, number>> = { 'aeb-warn': 1, 'aeb-partial': 2, 'aeb-full': 3 };
const AEB_NAME = ['none', 'warn', 'partial', 'full'] as const;
const VRU: ReadonlySet<SimClass> = new Set(['pedestrian', 'cyclist']);

/** The lane (0 = leftmost) whose band holds y; may be out of range (off the road). */
function laneOf(road: SimRoad, y: number): number {
  return Math.floor((road.leftEdgeY - y) / road.laneWidth);
}

/**
 * A run's safety and comfort figures from its trace. Everything about the drive before contact
 * (TTC, comfort, braking) stops at the first collision, which is what the run is judged on;
 * distance, speeding and road incidents cover the whole trace.
 */
export function runMetrics(trace: SimRunTrace, th: SafetyThresholds): RunMetrics {
  const { steps, road, dt } = trace;
  let collision: SimCollision | null = null;
  let end = steps.length;
  for (let i = 0; i < steps.length && !collision; i++) {
    const s = steps[i];
    for (const a of s.actors) {
      if (!boxesOverlap(s.ego, a)) continue;
      const ve = worldVelocity(s.ego);
      const va = worldVelocity(a);
      collision = { t: s.t, actor: a.name, actorCls: a.cls, relativeSpeed: Math.hypot(ve.vx - va.vx, ve.vy - va.vy), egoSpeed: s.ego.speed };
      end = i + 1;
      break;
    }
  }
  const before = steps.slice(0, end);

  let distance = 0;
  for (let i = 1; i < steps.length; i++) distance += Math.hypot(steps[i].ego.x - steps[i - 1].ego.x, steps[i].ego.y - steps[i - 1].ego.y);

  const speedingS = road.speedLimit > 0 ? steps.filter((s) => s.ego.speed > road.speedLimit + th.speed_tolerance_mps).length * dt : 0;

  // Off-road and lane departures: runs of consecutive steps are one incident each.
  const top = road.leftEdgeY;
  const bottom = road.leftEdgeY - road.lanes * road.laneWidth;
  let offroadIncidents = 0;
  let wasOff = false;
  let laneDepartures = 0;
  let lane = steps.length ? laneOf(road, steps[0].ego.y) : 0;
  // An excursion beyond the ego's lane borders; it is a lane change when the centre ends up in another lane.
  let excursion: { changed: boolean } | null = null;
  const outsideLane = (ys: number[], k: number) => ys.some((y) => y > road.leftEdgeY - k * road.laneWidth || y < road.leftEdgeY - (k + 1) * road.laneWidth);
  for (const s of steps) {
    const ys = boxCorners(s.ego).map(([, y]) => y);
    const off = ys.some((y) => y > top || y < bottom);
    if (off && !wasOff) offroadIncidents++;
    wasOff = off;
    if (!excursion && outsideLane(ys, lane)) excursion = { changed: false };
    const centre = laneOf(road, s.ego.y);
    if (centre !== lane && centre >= 0 && centre < road.lanes) {
      lane = centre;
      if (excursion) excursion.changed = true;
    }
    if (excursion && !outsideLane(ys, lane)) {
      if (!excursion.changed) laneDepartures++;
      excursion = null;
    }
  }
  if (excursion && !excursion.changed) laneDepartures++;

  let stopLines = 0;
  for (const line of road.stopLines) {
    let stoppedBefore = false;
    for (let i = 0; i < steps.length; i++) {
      const e = steps[i].ego;
      const front = e.x + (e.size[0] / 2) * Math.cos(e.heading);
      if (front <= line && front >= line - th.stop_line_zone_m && e.speed < th.stopped_speed) stoppedBefore = true;
      if (i > 0) {
        const p = steps[i - 1].ego;
        const prevFront = p.x + (p.size[0] / 2) * Math.cos(p.heading);
        if (prevFront < line && front >= line) {
          if (e.speed > th.stop_line_speed && !stoppedBefore) stopLines++;
          break;
        }
      }
    }
  }

  let ttcMin: number | null = null;
  const nearMissed = new Set<string>();
  for (const s of before) {
    for (const a of s.actors) {
      const ttc = ttcBetween(s.ego, a);
      if (ttc !== null && (ttcMin === null || ttc < ttcMin)) ttcMin = ttc;
      if (!VRU.has(a.cls) || a.name === collision?.actor) continue;
      if ((ttc !== null && ttc < th.vru_ttc_s) || gapBetween(s.ego, a).euclid < th.vru_gap_m) nearMissed.add(a.name);
    }
  }

  let firstBrake: RunMetrics['firstBrake'] = null;
  const braking = before.find((s) => s.command < -th.brake_command_mps2);
  if (braking) firstBrake = { t: braking.t, distance: brakeDistance(braking) };

  let peakJerk = 0;
  let sj = 0;
  let peakDecel = 0;
  let peakAccel = 0;
  let sa = 0;
  let aeb = 0;
  for (const s of before) {
    peakJerk = Math.max(peakJerk, Math.abs(s.ego.jerk));
    sj += s.ego.jerk * s.ego.jerk;
    peakDecel = Math.max(peakDecel, -s.ego.accel);
    peakAccel = Math.max(peakAccel, s.ego.accel);
    sa += s.ego.accel * s.ego.accel;
    aeb = Math.max(aeb, AEB_RANK[s.mode] ?? 0);
  }
  const n = Math.max(1, before.length);
  return {
    collision,
    distanceKm: distance / 1000,
    offroadIncidents,
    violations: { speedingS, laneDepartures, stopLines },
    ttcMin,
    vruNearMisses: nearMissed.size,
    firstBrake,
    comfort: { peakJerk, rmsJerk: Math.sqrt(sj / n), peakDecel, peakAccel, rmsAccel: Math.sqrt(sa / n) },
    aeb: AEB_NAME[aeb],
  };
}

/** The ego's freespace distance to what it braked for: the actor of least TTC, else the nearest one ahead; null if none. */
function brakeDistance(s: TraceStep): number | null {
  let best: { a: EntityState; ttc: number } | undefined;
  for (const a of s.actors) {
    const ttc = ttcBetween(s.ego, a);
    if (ttc !== null && (!best || ttc < best.ttc)) best = { a, ttc };
  }
  if (best) return gapBetween(s.ego, best.a).euclid;
  let nearest: number | null = null;
  for (const a of s.actors) if (a.x > s.ego.x) nearest = Math.min(nearest ?? Infinity, gapBetween(s.ego, a).euclid);
  return nearest;
}

// ---- Aggregation over seeds -------------------------------------------------------------
// The special functions are Numerical Recipes' (3rd ed., 6.1-6.4): Lanczos log-gamma, the
// incomplete gamma by series / continued fraction, the incomplete beta by Lentz's continued
// fraction; quantiles by bisection on the CDF (monotone, so it cannot fail to converge).

const LANCZOS = [57.1562356658629235, -59.5979603554754912, 14.1360979747417471, -0.491913816097620199, 0.339946499848118887e-4, 0.465236289270485756e-4, -0.983744753048795646e-4, 0.158088703224912494e-3, -0.210264441724104883e-3, 0.217439618115212643e-3, -0.164318106536763890e-3, 0.844182239838527433e-4, -0.261908384015814087e-4, 0.368991826595316234e-5];

/** ln Gamma(x), x > 0. */
export function logGamma(x: number): number {
  let y = x;
  const tmp = x + 5.2421875;
  const t = (x + 0.5) * Math.log(tmp) - tmp;
  let ser = 0.999999999999997092;
  for (const c of LANCZOS) ser += c / ++y;
  return t + Math.log((2.5066282746310005 * ser) / x);
}

/** Regularized lower incomplete gamma P(a, x). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const lead = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < 10000; i++) {
      del *= x / ++ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-16) break;
    }
    return sum * Math.exp(lead);
  }
  return 1 - Math.exp(lead) * lentz((i) => -i * (i - a), (i) => x + 1 - a + 2 * i);
}

/** 1 / (b0 + a1 / (b1 + a2 / (b2 + ...))) by Lentz's method, as NR's gcf evaluates it. */
function lentz(aOf: (i: number) => number, bOf: (i: number) => number): number {
  const tiny = 1e-300;
  let b = bOf(0);
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = aOf(i);
    b = bOf(i);
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
export function betaI(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  if (x > (a + 1) / (a + b + 2)) return 1 - betaI(b, a, 1 - x);
  // NR's betacf: the even and odd coefficients of the continued fraction.
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return (front * h) / a;
}

/** Inverts a monotone increasing CDF on [lo, hi] by bisection to full double precision. */
function invert(cdf: (x: number) => number, p: number, lo: number, hi: number): number {
  for (let i = 0; i < 2000; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Standard normal CDF (through P(1/2, x^2/2)). */
export function normalCdf(x: number): number {
  const h = 0.5 * gammaP(0.5, (x * x) / 2);
  return x >= 0 ? 0.5 + h : 0.5 - h;
}

/** Standard normal quantile. */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  return invert(normalCdf, p, -40, 40);
}

/** Student's t CDF with df degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * betaI(df / 2, 0.5, df / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

/** Student's t quantile with df degrees of freedom. */
export function studentTQuantile(p: number, df: number): number {
  if (p === 0.5) return 0;
  // Symmetric: solve in the upper half, where the bracket can grow until it holds p.
  const q = p > 0.5 ? p : 1 - p;
  let hi = 1;
  while (studentTCdf(hi, df) < q) hi *= 2;
  const t = invert((x) => studentTCdf(x, df), q, 0, hi);
  return p > 0.5 ? t : -t;
}

/** A proportion with its Wilson score interval (Wilson 1927): good at 0 and at n small, where the Wald interval is not. */
export function rateWithInterval(k: number, n: number, level = 0.95): { rate: number; lo: number; hi: number; k: number; n: number; level: number } {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || k > n) throw new Error(`rateWithInterval: need integers 0 <= k <= n, got k=${k} n=${n}`);
  if (n === 0) return { rate: NaN, lo: 0, hi: 1, k, n, level };
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  // At k = 0 or n the interval touches the bound exactly; rounding must not leave it a hair off.
  return { rate: p, lo: k === 0 ? 0 : Math.max(0, centre - half), hi: k === n ? 1 : Math.min(1, centre + half), k, n, level };
}

/** A mean with its t interval (the sample's standard deviation, n - 1 degrees of freedom); the interval is NaN below two values. */
export function meanWithInterval(values: readonly number[], level = 0.95): { mean: number; lo: number; hi: number; sd: number; n: number; level: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, lo: NaN, hi: NaN, sd: NaN, n, level };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, lo: NaN, hi: NaN, sd: NaN, n, level };
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) * (v - mean), 0) / (n - 1));
  const half = studentTQuantile(1 - (1 - level) / 2, n - 1) * (sd / Math.sqrt(n));
  return { mean, lo: mean - half, hi: mean + half, sd, n, level };
}

/** Which way a paired test looks: 'greater' asks whether the candidate's values are higher than the baseline's. */
export type Alternative = 'two-sided' | 'greater' | 'less';

export interface PairedComparison {
  /** Mean of candidate - baseline over the pairs. */
  meanDelta: number;
  /** Two-sided interval of the mean delta at `level`: t interval (exact test) or percentile bootstrap. */
  ci: [number, number];
  p: number;
  n: number;
  level: number;
  method: 'exact-sign-flip' | 'paired-bootstrap';
}

/** Pairs up to this many are tested exactly (2^16 sign patterns); beyond, a seeded paired bootstrap. */
export const EXACT_PAIRS_MAX = 16;

/**
 * Candidate vs baseline on the same runs (same scenario, parameters, seed, conditions). With
 * n <= 16 pairs, the exact sign-flip permutation test of the mean delta (under "no difference"
 * each pair's delta is as likely negative as positive: Fisher's randomisation test, what
 * scipy.stats.permutation_test with permutation_type='samples' computes exactly); beyond, a
 * paired bootstrap of the mean delta with the replicates' p as src/metrics/bootstrap.ts counts it.
 */
export function pairedComparison(cand: readonly number[], base: readonly number[], opts: { level?: number; alternative?: Alternative; replicates?: number; seed?: number } = {}): PairedComparison {
  if (cand.length !== base.length) throw new Error(`pairedComparison: ${cand.length} candidate values against ${base.length} baseline values; the runs must pair up`);
  const level = opts.level ?? 0.95;
  const alternative = opts.alternative ?? 'two-sided';
  const n = cand.length;
  const d = cand.map((c, i) => c - base[i]);
  if (n === 0) return { meanDelta: NaN, ci: [NaN, NaN], p: 1, n, level, method: 'exact-sign-flip' };
  const sum = d.reduce((a, b) => a + b, 0);
  const meanDelta = sum / n;
  if (n <= EXACT_PAIRS_MAX) {
    // Sums of one sign pattern differ from the observed one only by rounding when they are equal in exact arithmetic.
    const eps = 1e-12 * Math.max(1, d.reduce((a, b) => a + Math.abs(b), 0));
    let hits = 0;
    const patterns = 2 ** n;
    for (let m = 0; m < patterns; m++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += m & (1 << i) ? -d[i] : d[i];
      if (alternative === 'greater' ? s >= sum - eps : alternative === 'less' ? s <= sum + eps : Math.abs(s) >= Math.abs(sum) - eps) hits++;
    }
    const t = meanWithInterval(d, level);
    return { meanDelta, ci: [t.lo, t.hi], p: hits / patterns, n, level, method: 'exact-sign-flip' };
  }
  const replicates = opts.replicates ?? 10000;
  const rand = seededRandom(opts.seed ?? 19);
  const reps = new Float64Array(replicates);
  for (let b = 0; b < replicates; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[Math.floor(rand() * n)];
    reps[b] = s / n;
  }
  const sorted = Float64Array.from(reps).sort();
  const q = (p: number) => {
    const pos = p * (replicates - 1);
    const i = Math.floor(pos);
    return i + 1 < replicates ? sorted[i] * (1 - (pos - i)) + sorted[i + 1] * (pos - i) : sorted[i];
  };
  let atOrBelow = 0;
  let atOrAbove = 0;
  for (const r of reps) {
    if (r <= 0) atOrBelow++;
    if (r >= 0) atOrAbove++;
  }
  const p = alternative === 'greater' ? (1 + atOrBelow) / (1 + replicates) : alternative === 'less' ? (1 + atOrAbove) / (1 + replicates) : Math.min(1, (2 * (1 + Math.min(atOrBelow, atOrAbove))) / (1 + replicates));
  return { meanDelta, ci: [q((1 - level) / 2), q(1 - (1 - level) / 2)], p, n, level, method: 'paired-bootstrap' };
}

/** Binomial(n, 1/2) probabilities, exact in logs (n in the thousands stays finite). */
function halfBinomialPmf(k: number, n: number): number {
  return Math.exp(logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) - n * Math.LN2);
}

/**
 * McNemar's exact test for paired binary outcomes: b runs failed (collided) with the candidate
 * only, c with the baseline only; under "no difference" b ~ Binomial(b + c, 1/2), the test
 * scipy.stats.binomtest(b, b + c, 0.5) makes. 'greater': the candidate fails more often.
 */
export function mcnemarExact(b: number, c: number, alternative: Alternative = 'two-sided'): { b: number; c: number; n: number; p: number } {
  if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 0) throw new Error(`mcnemarExact: discordant counts must be non-negative integers, got b=${b} c=${c}`);
  const n = b + c;
  if (n === 0) return { b, c, n, p: 1 };
  const cdf = (k: number) => {
    let s = 0;
    for (let i = 0; i <= k; i++) s += halfBinomialPmf(i, n);
    return s;
  };
  let p: number;
  if (alternative === 'greater') p = cdf(n - b); // P(X >= b) = P(X <= n - b) by symmetry
  else if (alternative === 'less') p = cdf(b);
  else p = 2 * b === n ? 1 : 2 * cdf(Math.min(b, c));
  return { b, c, n, p: Math.min(1, p) };
}

/**
 * Collisions per 1000 km driven, with the exact Poisson interval of Garwood (1936): the count's
 * bounds are Gamma quantiles, chi2(2k)/2 and chi2(2k + 2)/2, scaled by the distance.
 */
export function collisionsPer1000Km(collisions: number, km: number, level = 0.95): { rate: number; lo: number; hi: number; collisions: number; km: number; level: number } {
  if (!Number.isInteger(collisions) || collisions < 0) throw new Error(`collisionsPer1000Km: collisions must be a non-negative integer, got ${collisions}`);
  if (!(km > 0)) return { rate: NaN, lo: NaN, hi: NaN, collisions, km, level };
  const alpha = 1 - level;
  const gammaQ = (p: number, a: number) => {
    let hi = a + 10;
    while (gammaP(a, hi) < p) hi *= 2;
    return invert((x) => gammaP(a, x), p, 0, hi);
  };
  const scale = 1000 / km;
  const lo = collisions === 0 ? 0 : gammaQ(alpha / 2, collisions);
  return { rate: collisions * scale, lo: lo * scale, hi: gammaQ(1 - alpha / 2, collisions + 1) * scale, collisions, km, level };
}
