/**
 * The storyboard at run time against closed forms: an event fires at its simulation time; a lead
 * car brakes when the ego's TTC to it falls below the threshold and then decelerates at the
 * action's rate; a lane change follows its sinusoidal dynamics over its duration; storyboard
 * element states chain events (a real file: ScenarioRunner's PedestrianCrossingFront). The ego is
 * moved by the test (as the loop's dynamics would), never by the storyboard.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ttcBetween } from '../../src/metrics/safety.js';
import { loadScenario } from '../../src/sim/scenario.js';
import { createStoryboard } from '../../src/sim/storyboard.js';
import type { EntityState, SimAction, SimCondition, SimScenario } from '../../src/schema/sim-types.js';

const REF = join(import.meta.dirname, '..', 'fixtures', 'openscenario');
const DT = 0.1;
const CAR: [number, number, number] = [4.6, 1.9, 1.5];

/** A two-lane road, the ego in lane 1 (y = -1.75) at x 0 and `egoSpeed`, a lead in the same lane `gap` ahead (centres). */
function scenario(events: SimScenario['events'], opts: { egoSpeed?: number; leadX?: number; leadY?: number; leadSpeed?: number } = {}): SimScenario {
  const pose = (x: number, y: number, speed: number) => ({ x, y, heading: 0, speed });
  return {
    name: 't',
    file: 't.xosc',
    sha256: '',
    category: 'other',
    parameters: {},
    road: { roadType: 'rural', lanes: 2, laneWidth: 3.5, leftEdgeY: 3.5, egoLane: 1, oncomingBelow: 0, sidewalk: 0, speedLimit: 30, stopLines: [] },
    ego: { name: 'Ego', size: CAR, init: pose(0, -1.75, opts.egoSpeed ?? 20), setSpeed: opts.egoSpeed ?? 20 },
    actors: [{ name: 'Lead', cls: 'car', size: CAR, init: pose(opts.leadX ?? 30, opts.leadY ?? -1.75, opts.leadSpeed ?? 10), visible: true }],
    events: [{ path: 's/a', name: 'a', trigger: { groups: [[cond({ kind: 'simulationTime', value: 0, rule: 'greaterOrEqual' })]] }, actions: [], maxExecutions: 1 }, ...events],
    durationS: 8,
    notes: [],
  };
}
const cond = (c: Record<string, unknown>): SimCondition => ({ name: 'c', delay: 0, edge: 'none', ...c }) as SimCondition;
const event = (name: string, c: SimCondition, actions: SimAction[]): SimScenario['events'][number] => ({ path: `s/a/g/m/${name}`, name, trigger: { groups: [[c]] }, actions, maxExecutions: 1 });

/** Runs the storyboard for `seconds` with the ego at constant speed; returns the world after each step. */
function run(s: SimScenario, seconds: number, onStep?: (t: number, w: Map<string, EntityState>) => void) {
  const sb = createStoryboard(s);
  const world = new Map<string, EntityState>();
  const egoName = s.ego.name;
  world.set(egoName, { name: egoName, cls: 'car', ...s.ego.init, accel: 0, size: s.ego.size, vy: 0 });
  for (const a of s.actors) world.set(a.name, { name: a.name, cls: a.cls, ...a.init, accel: 0, size: a.size, vy: a.init.speed * Math.sin(a.init.heading) });
  const steps = Math.round(seconds / DT);
  for (let i = 0; i < steps; i++) {
    const t = i * DT;
    const ego = world.get(egoName)!;
    const before = { ...ego };
    sb.step(t, DT, world);
    expect(world.get(egoName)).toEqual(before);
    world.set(egoName, { ...ego, x: ego.x + ego.speed * DT });
    onStep?.(t + DT, world);
  }
  return { sb, world };
}

describe('createStoryboard', () => {
  it('fires an event at its simulation time and runs a step speed action then', () => {
    const s = scenario([event('go', cond({ kind: 'simulationTime', value: 2, rule: 'greaterOrEqual' }), [{ kind: 'speed', entity: 'Lead', target: { absolute: 15 }, dynamics: { shape: 'step', dimension: 'time', value: 0 } }])]);
    const { sb, world } = run(s, 3);
    expect(sb.log).toEqual([{ t: 2, event: 's/a/g/m/go', action: 'speed Lead' }]);
    // 10 m/s for 2 s, then 15 m/s for 1 s.
    expect(world.get('Lead')!.x).toBeCloseTo(30 + 20 + 15, 9);
    expect(sb.stopped()).toBe(false);
  });

  it('brakes the lead car when the ego\'s TTC to it falls below 2 s, at the action\'s rate', () => {
    // Centres 30 m apart, 4.6 m boxes: gap 25.4 m closing at 10 m/s; TTC < 2 s once the gap is under 20 m, t > 0.54 s.
    const s = scenario([event('brake', cond({ kind: 'timeToCollision', triggering: ['Ego'], any: true, entity: 'Lead', value: 2, rule: 'lessThan', freespace: true, edge: 'rising' }), [{ kind: 'speed', entity: 'Lead', target: { absolute: 0 }, dynamics: { shape: 'linear', dimension: 'rate', value: -4 } }])]);
    const speeds: [number, number][] = [];
    const { sb, world } = run(s, 3, (t, w) => speeds.push([t, w.get('Lead')!.speed]));
    const fire = 0.6;
    expect(sb.log).toHaveLength(1);
    expect(sb.log[0]).toMatchObject({ event: 's/a/g/m/brake', action: 'speed Lead' });
    expect(sb.log[0].t).toBeCloseTo(fire, 12);
    // The TTC just before the firing step was still >= 2 (same geometry: src/metrics/safety.ts).
    const at = (t: number, x: number): EntityState => ({ name: '', cls: 'car', x, y: -1.75, heading: 0, speed: 0, accel: 0, size: CAR, vy: 0 });
    expect(ttcBetween({ ...at(0, 0.5 * 20), speed: 20 }, { ...at(0, 30 + 0.5 * 10), speed: 10 })!).toBeGreaterThanOrEqual(2);
    for (const [t, v] of speeds) {
      if (t > fire + 1e-9) expect(v).toBeCloseTo(Math.max(0, 10 - 4 * (t - fire)), 9);
    }
    // Distance: 10 m/s to the braking, then v t - 2 t^2 for 2.4 s (stops at 2.5 s after the firing: not yet).
    const tb = 3 - fire;
    expect(world.get('Lead')!.x).toBeCloseTo(30 + 10 * fire + 10 * tb - 2 * tb * tb, 9);
  });

  it('moves a lane change along its sinusoidal dynamics over the duration', () => {
    const s = scenario([event('cut', cond({ kind: 'simulationTime', value: 1, rule: 'greaterOrEqual' }), [{ kind: 'laneChange', entity: 'Lead', target: { absoluteLane: 1 }, offset: 0, dynamics: { shape: 'sinusoidal', dimension: 'time', value: 3 } }])], { leadY: 1.75 });
    const ys: [number, number, number][] = [];
    run(s, 5, (t, w) => ys.push([t, w.get('Lead')!.y, w.get('Lead')!.vy]));
    const y = (t: number): number => (t <= 1 ? 1.75 : t >= 4 ? -1.75 : 1.75 - 3.5 * (1 - Math.cos((Math.PI * (t - 1)) / 3)) / 2);
    for (const [t, yt] of ys) expect(yt).toBeCloseTo(y(t), 9);
    expect(ys.find(([t]) => Math.abs(t - 2.5) < 1e-9)![1]).toBeCloseTo(0, 9);
    // Peak lateral speed of the half cosine: dy pi / (2 T), to the step's resolution.
    const peak = Math.max(...ys.map(([, , vy]) => Math.abs(vy)));
    expect(peak).toBeLessThanOrEqual((3.5 * Math.PI) / 6 + 1e-9);
    expect(peak).toBeGreaterThan((3.5 * Math.PI) / 6 - 0.01);
    expect(ys.at(-1)![2]).toBe(0);
  });

  it('chains events by storyboard element state, one step apart, and a delay on an endTransition', () => {
    const a = event('A', cond({ kind: 'simulationTime', value: 1, rule: 'greaterOrEqual' }), [{ kind: 'speed', entity: 'Lead', target: { absolute: 12 }, dynamics: { shape: 'linear', dimension: 'time', value: 0.5 } }]);
    const b = event('B', cond({ kind: 'storyboardElementState', ref: 's/a/g/m/A', elementType: 'event', state: 'endTransition' }), [{ kind: 'speed', entity: 'Lead', target: { absolute: 5 }, dynamics: { shape: 'step', dimension: 'time', value: 0 } }]);
    const c = event('C', { ...cond({ kind: 'storyboardElementState', ref: 's/a/g/m/B', elementType: 'event', state: 'completeState' }), edge: 'rising', delay: 0.5 }, [{ kind: 'speed', entity: 'Lead', target: { absolute: 0 }, dynamics: { shape: 'step', dimension: 'time', value: 0 } }]);
    const s = { ...scenario([a, b, c]), stopTrigger: { groups: [[{ ...cond({ kind: 'storyboardElementState', ref: 's/a/g/m', elementType: 'maneuver', state: 'endTransition' }), edge: 'rising' as const, delay: 1 }]] } };
    const { sb } = run(s, 5);
    // A runs 0.5 s from t = 1 (ends in the step advancing to 1.5, t = 1.4); B at the next step; C 0.5 s after B completes.
    expect(sb.log.map((l) => [l.event.split('/').pop(), Number(l.t.toFixed(9))])).toEqual([
      ['A', 1],
      ['B', 1.5],
      ['C', 2.1],
    ]);
    expect(sb.stopped()).toBe(true);
  });

  it('runs ScenarioRunner PedestrianCrossingFront: act after 10 m travelled, the walker events chained by completeState', () => {
    const file = join(REF, 'scenario_runner_PedestrianCrossingFront.xosc');
    const s = loadScenario(readFileSync(file, 'utf8'), file);
    const moving = { ...s, ego: { ...s.ego, init: { ...s.ego.init, speed: 10 } } };
    // The hero drives 10 m/s and stops at t = 1.5 (as an agent would for the walker).
    const { sb, world } = run(moving, 3, (t, w) => {
      if (t > 1.5 - 1e-9) w.set('hero', { ...w.get('hero')!, speed: 0 });
    });
    // 10 m at 10 m/s: the act starts at t = 1.0, when the hero is also within 2 m of (160, 55); the walk (a step)
    // completes at once, so the stop follows a step later. Walking away needs, in one ConditionGroup (AND), the
    // rising edge of the stop's completeState (t = 1.2) and that of the hero standing 0.1 s (t = 1.6): under ASAM's
    // per-condition edges they never rise together, so it does not start (ScenarioRunner latches conditions; paddock does not).
    expect(sb.log.map((l) => [l.event.split('/').pop(), Number(l.t.toFixed(9))])).toEqual([
      ['PedestrianStartsWalking', 1],
      ['PedestrianStopsAndWaits', 1.1],
    ]);
    // Heading -pi/2 at 10 m/s for the one step, then standing.
    expect(world.get('adversary')!.y).toBeCloseTo(56.5 - 1, 6);
    expect(world.get('adversary')!.speed).toBe(0);
  });

  it('a SpeedAction on the ego sets the ACC set speed and leaves the ego alone', () => {
    const s = scenario([event('slow', cond({ kind: 'simulationTime', value: 0.5, rule: 'greaterOrEqual' }), [{ kind: 'speed', entity: 'Ego', target: { absolute: 8 }, dynamics: { shape: 'linear', dimension: 'rate', value: 2 } }])]);
    const { sb } = run(s, 1);
    expect(sb.egoSetSpeed()).toBe(8);
  });
});
