/**
 * src/sim/planner.ts with the real dynamics: ACC settles at min_gap + time_gap v behind a steady
 * lead; AEB stages by TTC (range / closing speed) at its three thresholds, latches, holds when
 * stopped and releases when the threat has gone; confirmation frames; the corridor, including a
 * crossing pedestrian whose predicted path misses it (or meets it) over the TTC window.
 */
import { describe, expect, it } from 'vitest';
import { PlannerParams, createPlanner, inCorridor, type PerceivedObject } from '../../src/sim/planner.js';
import { VehicleParams, stepVehicle, type VehicleState } from '../../src/sim/dynamics.js';
import type { PlannerMode } from '../../src/schema/sim-types.js';

const P = PlannerParams.parse({});
const V = VehicleParams.parse({});
const obj = (o: Partial<PerceivedObject>): PerceivedObject => ({ trackId: 1, cls: 'car', range: 50, lateral: 0, rangeRate: 0, lateralRate: 0, confirmedFor: 10, ...o });

/** Ego and a lead car on one lane, perceived perfectly (range to the near face, exact rates). */
function follow(egoSpeed: number, setSpeed: number, leadX: number, leadSpeed: number, seconds: number, dt = 0.05) {
  const planner = createPlanner(P);
  let ego: VehicleState = { x: 0, y: 0, heading: 0, speed: egoSpeed, accel: 0, steer: 0 };
  let lx = leadX;
  let minRange = Infinity;
  const modes = new Set<PlannerMode>();
  for (let t = 0; t < seconds; t += dt) {
    const range = lx - 2.25 - (ego.x + 2.25);
    minRange = Math.min(minRange, range);
    const out = planner.step({ speed: ego.speed, setSpeed }, [obj({ range, rangeRate: leadSpeed - ego.speed })], dt);
    modes.add(out.mode);
    ego = stepVehicle(ego, { accel: out.accel, steer: 0 }, dt, V);
    lx += leadSpeed * dt;
  }
  return { ego, range: lx - 2.25 - (ego.x + 2.25), minRange, modes };
}

describe('ACC', () => {
  it('converges to the time gap behind a steady lead', () => {
    const r = follow(25, 30, 60, 15, 80);
    // 4 m + 1.8 s x 15 m/s.
    expect(r.range).toBeCloseTo(31, 1);
    expect(r.ego.speed).toBeCloseTo(15, 2);
    expect(r.minRange).toBeGreaterThan(20);
    expect(r.modes.has('aeb-partial') || r.modes.has('aeb-full')).toBe(false);
  });

  it('cruises at the set speed with nothing ahead, and stops short of a stationary car', () => {
    const planner = createPlanner(P);
    let ego: VehicleState = { x: 0, y: 0, heading: 0, speed: 10, accel: 0, steer: 0 };
    for (let i = 0; i < 600; i++) ego = stepVehicle(ego, { accel: planner.step({ speed: ego.speed, setSpeed: 20 }, [], 0.05).accel, steer: 0 }, 0.05, V);
    expect(ego.speed).toBeCloseTo(20, 3);
    // CCRs at 30 km/h with perfect perception from 60 m.
    const r = follow(30 / 3.6, 30 / 3.6, 60, 0, 30);
    expect(r.ego.speed).toBe(0);
    expect(r.range).toBeGreaterThan(2);
    expect(r.range).toBeLessThan(6);
  });
});

describe('AEB', () => {
  const at = (range: number, o: Partial<PerceivedObject> = {}) => createPlanner(P).step({ speed: 10, setSpeed: 10 }, [obj({ range, rangeRate: -10, ...o })], 0.05);

  it('stages by TTC: warn below 2.6 s, partial (4 m/s^2) below 1.6 s, full (9 m/s^2) below 0.9 s', () => {
    expect(at(30).mode).toBe('follow');
    const warn = at(25);
    expect(warn.mode).toBe('aeb-warn');
    expect(warn.lead).toEqual({ trackId: 1, range: 25, ttc: 2.5 });
    expect(at(15.5)).toMatchObject({ mode: 'aeb-partial', accel: -4 });
    expect(at(8.5)).toMatchObject({ mode: 'aeb-full', accel: -9 });
    // Not confirmed long enough: ACC's comfort braking only.
    expect(at(8.5, { confirmedFor: 2 })).toMatchObject({ mode: 'follow', accel: -3 });
    // Beside the path: nothing.
    expect(at(8.5, { lateral: 3.5 }).mode).toBe('cruise');
  });

  it('latches until stopped and holds there until the threat is gone for release_frames steps', () => {
    const planner = createPlanner(P);
    const step = (speed: number, objects: PerceivedObject[]) => planner.step({ speed, setSpeed: 10 }, objects, 0.05);
    expect(step(10, [obj({ range: 12, rangeRate: -10 })]).mode).toBe('aeb-partial');
    // The TTC rises above every stage (the car ahead pulls away a little): still braking.
    expect(step(8, [obj({ range: 30, rangeRate: -8 })])).toMatchObject({ mode: 'aeb-partial', accel: -4 });
    expect(step(5, [obj({ range: 4, rangeRate: -5 })])).toMatchObject({ mode: 'aeb-full', accel: -9 });
    expect(step(0, [obj({ range: 3, rangeRate: 0 })]).mode).toBe('stopped');
    for (let i = 0; i < 10; i++) expect(step(0, [obj({ range: 3, rangeRate: 0 })]).mode).toBe('stopped');
    // The obstacle goes: released after 5 calm steps.
    const modes = Array.from({ length: 6 }, () => step(0, []).mode);
    expect(modes).toEqual(['stopped', 'stopped', 'stopped', 'stopped', 'cruise', 'cruise']);
  });
});

describe('corridor', () => {
  it('a crossing pedestrian counts only if its predicted path meets the corridor over the TTC window', () => {
    // Ego at 10 m/s, pedestrian 10 m ahead: TTC 1.0 s, window [0.5, 1.5] s; corridor |y| < 0.9 + 0.5.
    const ped = (lateral: number, lateralRate: number) => obj({ cls: 'pedestrian', range: 10, rangeRate: -10, lateral, lateralRate });
    // From -4 at 1.5 m/s: [-3.25, -1.75] over the window, outside.
    expect(inCorridor(ped(-4, 1.5), P)).toBe(false);
    expect(createPlanner(P).step({ speed: 10, setSpeed: 10 }, [ped(-4, 1.5)], 0.05).mode).toBe('cruise');
    // From -2.5: [-1.75, -0.25], it walks into the lane: AEB.
    expect(inCorridor(ped(-2.5, 1.5), P)).toBe(true);
    expect(createPlanner(P).step({ speed: 10, setSpeed: 10 }, [ped(-2.5, 1.5)], 0.05)).toMatchObject({ mode: 'aeb-partial', accel: -4 });
    // In the lane now but running out of it at 3 m/s: [2.5, 5.5], gone before the ego arrives.
    expect(inCorridor(ped(1, 3), P)).toBe(false);
    // A car's lateral motion is not extrapolated: in the lane now, in the path.
    expect(inCorridor(obj({ lateral: 1, lateralRate: 3, rangeRate: -10, range: 10 }), P)).toBe(true);
  });

  it('PlannerParams: defaults, stage order enforced', () => {
    expect(P).toMatchObject({ time_gap_s: 1.8, min_gap_m: 4, comfort_decel: 3, ttc_warn_s: 2.6, ttc_partial_s: 1.6, partial_decel: 4, ttc_full_s: 0.9, full_decel: 9 });
    expect(() => PlannerParams.parse({ ttc_full_s: 2 })).toThrow(/ttc_full_s < ttc_partial_s/);
  });
});
