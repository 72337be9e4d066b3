/**
 * The proxy planner of the closed loop: what a production ADAS does with the perceived objects,
 * reduced to its two longitudinal functions.
 *
 * - ACC: the set speed, or a constant time gap behind the lead (the nearest object in the
 *   ego's path): a = k_gap (range - (min_gap + time_gap v)) + k_rate rangeRate, the policy of
 *   Milanés and Shladover (2014), whose closed loop s^2 + (time_gap k_gap + k_rate) s + k_gap is
 *   damped (zeta about 0.85 with the defaults), bounded by the comfort deceleration.
 * - AEB staged on TTC (range / closing speed, constant velocity), as Euro NCAP's AEB systems
 *   are: a warning, then partial, then full braking; only for objects in the ego's path corridor
 *   and confirmed for some frames, so one false detection does not brake the car. A stage,
 *   once reached, latches (it may rise, never fall) until the ego has stopped or the threat is
 *   gone for `release_frames` steps: a track flickering for a frame must not release the brakes.
 *
 * The corridor is the ego's width plus a margin on each side. A vulnerable road user moving
 * across it is in the path if, over the window around its TTC, its predicted lateral position
 * (constant lateral rate) meets the corridor: one that will have crossed before the ego arrives
 * does not trigger, one walking into the lane does.
 */
import { z } from 'zod';
import type { PlannerMode, SimClass } from '../schema/sim-types.js';

/** The planner's settings, as a recipe's sim step names them (snake_case), with defaults. */
export const PlannerParams = z
  .object({
    /** ACC: desired time gap to the lead, seconds (Euro NCAP's and most ACCs' middle setting). */
    time_gap_s: z.number().positive().default(1.8),
    /** ACC: gap kept at standstill, metres. */
    min_gap_m: z.number().nonnegative().default(4),
    /** ACC: gain on the gap error, 1/s^2. */
    gap_gain: z.number().positive().default(0.2),
    /** ACC: gain on the range rate, 1/s. */
    rate_gain: z.number().positive().default(0.4),
    /** ACC: gain on the set-speed error, 1/s. */
    speed_gain: z.number().positive().default(0.5),
    /** ACC: most it accelerates, m/s^2. */
    accel_max: z.number().positive().default(2),
    /** ACC: most it brakes (comfort), m/s^2, positive. */
    comfort_decel: z.number().positive().default(3),
    /** ACC: objects farther than this are no lead, metres. */
    lead_range_m: z.number().positive().default(120),
    /** AEB: warning below this TTC, seconds. */
    ttc_warn_s: z.number().positive().default(2.6),
    /** AEB: partial braking below this TTC, seconds, at `partial_decel`. */
    ttc_partial_s: z.number().positive().default(1.6),
    partial_decel: z.number().positive().default(4),
    /** AEB: full braking below this TTC, seconds, at `full_decel`. */
    ttc_full_s: z.number().positive().default(0.9),
    full_decel: z.number().positive().default(9),
    /** Steps a track must have been confirmed before AEB acts on it. */
    confirm_frames: z.number().int().nonnegative().default(3),
    /** Steps without a threat before a latched stage releases. */
    release_frames: z.number().int().min(1).default(5),
    /** Half the ego's width, metres, and the margin beyond it on each side: the path corridor. */
    ego_half_width_m: z.number().positive().default(0.9),
    corridor_margin_m: z.number().nonnegative().default(0.5),
    /** A VRU counts as crossing above this lateral speed, m/s; its path is predicted over TTC +- this window, seconds. */
    crossing_speed: z.number().nonnegative().default(0.3),
    crossing_window_s: z.number().nonnegative().default(0.5),
    /** Below this speed, m/s, a braking ego has stopped: it holds at `hold_decel` (m/s^2) until the threat is gone. */
    stop_speed: z.number().nonnegative().default(0.1),
    hold_decel: z.number().positive().default(2),
  })
  .strict()
  .refine((p) => p.ttc_full_s < p.ttc_partial_s && p.ttc_partial_s < p.ttc_warn_s, { message: 'AEB stages need ttc_full_s < ttc_partial_s < ttc_warn_s' });
export type PlannerParams = z.infer<typeof PlannerParams>;

/** An object as perception reports it to the planner, in the ego's frame. */
export interface PerceivedObject {
  trackId: number;
  cls: SimClass;
  /** Longitudinal distance to its near face, metres (negative: behind the ego's front). */
  range: number;
  /** Lateral offset of its centre, metres, left +. */
  lateral: number;
  /** d range / dt, m/s (negative: closing). */
  rangeRate: number;
  /** d lateral / dt, m/s. */
  lateralRate: number;
  /** Consecutive steps its track has been confirmed. */
  confirmedFor: number;
}

export interface PlannerOutput {
  /** Commanded acceleration, m/s^2. */
  accel: number;
  mode: PlannerMode;
  /** The object it reacted to: the AEB threat if any, else the ACC lead. */
  lead?: { trackId: number; range: number; ttc: number | null };
}

export interface Planner {
  step(ego: { speed: number; setSpeed: number }, objects: PerceivedObject[], dt: number): PlannerOutput;
}

type Stage = 0 | 1 | 2 | 3;
const STAGE_MODE: PlannerMode[] = ['cruise', 'aeb-warn', 'aeb-partial', 'aeb-full'];

/** TTC at constant velocity from range and range rate; null when not closing. */
export function perceivedTtc(o: Pick<PerceivedObject, 'range' | 'rangeRate'>): number | null {
  if (o.rangeRate >= 0) return null;
  return Math.max(0, o.range) / -o.rangeRate;
}

/** Whether the object is in the ego's path corridor (over its TTC window, for a crossing VRU). */
export function inCorridor(o: PerceivedObject, p: PlannerParams): boolean {
  const w = p.ego_half_width_m + p.corridor_margin_m;
  const crossing = o.cls !== 'car' && Math.abs(o.lateralRate) > p.crossing_speed;
  if (!crossing) return Math.abs(o.lateral) < w;
  const ttc = perceivedTtc(o);
  // Not closing: it is in the path only while it is in the corridor now.
  if (ttc === null) return Math.abs(o.lateral) < w;
  const t0 = Math.max(0, ttc - p.crossing_window_s);
  const t1 = ttc + p.crossing_window_s;
  const a = o.lateral + o.lateralRate * t0;
  const b = o.lateral + o.lateralRate * t1;
  return Math.min(a, b) < w && Math.max(a, b) > -w;
}

/** A planner with its hysteresis state (the latched AEB stage); everything else is a function of the step's inputs. */
export function createPlanner(params: PlannerParams): Planner {
  const p = params;
  let latched: Stage = 0;
  let stopped = false;
  let calm = 0;
  return {
    step(ego, objects, _dt) {
      const path = objects.filter((o) => o.range > -0.5 && inCorridor(o, p));

      let threat: { o: PerceivedObject; ttc: number } | undefined;
      for (const o of path) {
        if (o.confirmedFor < p.confirm_frames) continue;
        const ttc = perceivedTtc(o);
        if (ttc !== null && ttc < p.ttc_warn_s && (!threat || ttc < threat.ttc)) threat = { o, ttc };
      }
      const now: Stage = !threat ? 0 : threat.ttc < p.ttc_full_s ? 3 : threat.ttc < p.ttc_partial_s ? 2 : 1;
      // At standstill nothing closes; an object still close in the path keeps the hold.
      const blocking = path.some((o) => o.range < p.min_gap_m + 2 && o.confirmedFor >= p.confirm_frames);
      calm = now > 0 || (stopped && blocking) ? 0 : calm + 1;
      if (calm >= p.release_frames) {
        latched = 0;
        stopped = false;
      }
      // Only braking stages latch; a warning is just a warning.
      if (now >= 2 && now > latched) latched = now;
      if (latched >= 2 && ego.speed <= p.stop_speed) stopped = true;

      let lead: PerceivedObject | undefined;
      for (const o of path) if (o.range <= p.lead_range_m && (!lead || o.range < lead.range)) lead = o;
      const cruise = p.speed_gain * (ego.setSpeed - ego.speed);
      const follow = lead ? p.gap_gain * (lead.range - (p.min_gap_m + p.time_gap_s * ego.speed)) + p.rate_gain * lead.rangeRate : Infinity;
      const acc = Math.min(p.accel_max, Math.max(-p.comfort_decel, Math.min(cruise, follow)));
      const leadOut = (o: PerceivedObject) => ({ trackId: o.trackId, range: o.range, ttc: perceivedTtc(o) });

      if (stopped) return { accel: Math.min(acc, -p.hold_decel), mode: 'stopped', lead: threat ? leadOut(threat.o) : lead ? leadOut(lead) : undefined };
      const stage = Math.max(latched, now) as Stage;
      if (stage >= 2) {
        const brake = stage === 3 ? -p.full_decel : -p.partial_decel;
        return { accel: Math.min(acc, brake), mode: STAGE_MODE[stage], lead: threat ? leadOut(threat.o) : lead ? leadOut(lead) : undefined };
      }
      if (stage === 1) return { accel: acc, mode: 'aeb-warn', lead: leadOut(threat!.o) };
      const following = lead !== undefined && follow <= cruise;
      return { accel: acc, mode: following ? 'follow' : 'cruise', lead: lead ? leadOut(lead) : undefined };
    },
  };
}
