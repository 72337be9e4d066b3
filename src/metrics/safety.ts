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
import { gammaP, invertCdf } from './stats.js';

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
    return invertCdf((x) => gammaP(a, x), p, 0, hi);
  };
  const scale = 1000 / km;
  const lo = collisions === 0 ? 0 : gammaQ(alpha / 2, collisions);
  return { rate: collisions * scale, lo: lo * scale, hi: gammaQ(1 - alpha / 2, collisions + 1) * scale, collisions, km, level };
}
