/**
 * The closed loop on the known-outcome scenario of the issue: a stationary car ahead in the
 * ego's lane, the ego at 30 km/h with ACC and AEB (Euro NCAP CCRs). The renderer's ground truth
 * as the detector (the oracle) must stop short of it; a blind detector must hit it; the real
 * candidate model must brake; production's and the candidate's first braking are printed.
 * Also: batch N gives each frame the detections of batch 1, and a run is the same bytes twice.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { renderFrame } from '../../src/world/render.js';
import { runLockstep, runOneAtATime, type LoopOptions } from '../../src/sim/closed-loop.js';
import { blindDetector, modelDetector, openBatchDetector, oracleDetector, type SimDetector } from '../../src/sim/batch-detector.js';
import { sceneForStep } from '../../src/sim/world-view.js';
import { rangeOfBox } from '../../src/sim/perceive.js';
import { PlannerParams } from '../../src/sim/planner.js';
import { VehicleParams } from '../../src/sim/dynamics.js';
import { SafetyThresholds, runMetrics } from '../../src/metrics/safety.js';
import type { SimConditions, SimRunSpec, SimRunTrace, SimScenario } from '../../src/schema/sim-types.js';

const MODELS = join(import.meta.dirname, '..', '..', 'fixtures', 'world', 'models');
const KMH = 1 / 3.6;

/** Euro NCAP CCRs by hand: a stationary car 40 m ahead (centre to centre) in the ego's lane. */
function ccrs(egoKmh = 30, gapM = 40, durationS = 7): SimScenario {
  const laneY = 3.5 - 1.5 * 3.5;
  return {
    name: 'ccrs-hand',
    file: 'ccrs-hand.xosc',
    sha256: '0'.repeat(64),
    category: 'ccrs',
    parameters: {},
    road: { roadType: 'urban', lanes: 2, laneWidth: 3.5, leftEdgeY: 3.5, egoLane: 1, oncomingBelow: 1, sidewalk: 3, speedLimit: 50 * KMH, stopLines: [] },
    ego: { name: 'Ego', size: [4.6, 1.85, 1.5], init: { x: 0, y: laneY, heading: 0, speed: egoKmh * KMH }, setSpeed: egoKmh * KMH },
    actors: [{ name: 'Target', cls: 'car', size: [4.5, 1.8, 1.5], init: { x: gapM, y: laneY, heading: 0, speed: 0 }, visible: true }],
    events: [],
    durationS,
    notes: [],
  };
}

const day: SimConditions = { weather: 'clear', timeOfDay: 'day', region: 'north', density: 0 };
const spec = (seed: number, model = 'oracle', conditions = day): SimRunSpec => ({ runId: `ccrs-${model}-${seed}`, scenarioFile: 'ccrs-hand.xosc', parameters: {}, paramIndex: 0, seed, conditions, model, modelDir: '' });

function options(detector: SimDetector, scenario = ccrs()): LoopOptions {
  return { scenarios: new Map([['ccrs-hand.xosc', () => scenario]]), detector, planner: PlannerParams.parse({}), vehicle: VehicleParams.parse({}), tracker: {}, rateHz: 10 };
}

const metrics = (t: SimRunTrace) => runMetrics(t, SafetyThresholds.parse({}));
/** The ego's front to the target's rear at the end, metres. */
const finalGap = (t: SimRunTrace) => {
  const s = t.steps.at(-1)!;
  return s.actors[0].x - s.actors[0].size[0] / 2 - (s.ego.x + s.ego.size[0] / 2);
};

describe('world view', () => {
  it('draws the target where the flat-ground range says it is', () => {
    const s = ccrs();
    const ego = { name: 'Ego', cls: 'car' as const, ...s.ego.init, accel: 0, size: s.ego.size, vy: 0, jerk: 0, steer: 0 };
    const target = { name: 'Target', cls: 'car' as const, ...s.actors[0].init, accel: 0, size: s.actors[0].size, vy: 0 };
    const frame = renderFrame(sceneForStep(s.road, day, 1, { t: 0, ego, actors: [target] }, 0));
    const truth = frame.objects.find((o) => o.trackId === 1)!;
    // Ego front at 2.3 m, target's rear at 40 - 2.25 m: 35.45 m; a box bottom rounded to 0.01 px.
    const r = rangeOfBox(truth.bbox)!;
    expect(r.range).toBeCloseTo(35.45, 0);
    expect(Math.abs(r.lateral)).toBeLessThan(0.3);
    // The same inputs give the same bytes (clips re-render runs from their traces).
    const again = renderFrame(sceneForStep(s.road, day, 1, { t: 0, ego, actors: [target] }, 0));
    expect(Buffer.compare(Buffer.from(frame.rgb), Buffer.from(again.rgb))).toBe(0);
  });
});

describe('closed loop, CCRs at 30 km/h', () => {
  it('the oracle stops short of the stationary car; a blind detector hits it', async () => {
    const [oracle] = await runLockstep([spec(1)], options(oracleDetector()));
    const [blind] = await runLockstep([spec(1, 'blind')], options(blindDetector()));
    const mo = metrics(oracle);
    const mb = metrics(blind);
    console.log(`oracle: ended ${oracle.ended}, gap ${finalGap(oracle).toFixed(2)} m, first brake ${JSON.stringify(mo.firstBrake)}, aeb ${mo.aeb}; blind: ended ${blind.ended}, impact ${mb.collision?.relativeSpeed.toFixed(2)} m/s`);
    expect(mo.collision).toBeNull();
    expect(finalGap(oracle)).toBeGreaterThan(0);
    // ACC creeps up to its standstill gap (4 m) at walking pace by the end.
    expect(oracle.steps.at(-1)!.ego.speed).toBeLessThan(1);
    expect(mb.collision).not.toBeNull();
    expect(blind.ended).toBe('collision');
    // Never braked: it hits at the speed it drove (30 km/h), within the lag of a stopped ego.
    expect(mb.collision!.relativeSpeed).toBeCloseTo(30 * KMH, 1);
  });

  it('the candidate model brakes; production and candidate first braking on the same run', async () => {
    const cand = await modelDetector('candidate', join(MODELS, 'candidate'), { threads: 1 });
    const prod = await modelDetector('production', join(MODELS, 'production'), { threads: 1 });
    try {
      const [tc] = await runLockstep([spec(2, 'candidate')], options(cand));
      const [tp] = await runLockstep([spec(2, 'production')], options(prod));
      const mc = metrics(tc);
      const mp = metrics(tp);
      const fb = (m: ReturnType<typeof metrics>) => (m.firstBrake ? `t ${m.firstBrake.t.toFixed(2)} s, at ${m.firstBrake.distance?.toFixed(1)} m` : 'never');
      console.log(`CCRs 30 km/h: candidate first brake ${fb(mc)}, aeb ${mc.aeb}, collision ${mc.collision ? `${mc.collision.relativeSpeed.toFixed(2)} m/s` : 'none'}; production first brake ${fb(mp)}, aeb ${mp.aeb}, collision ${mp.collision ? `${mp.collision.relativeSpeed.toFixed(2)} m/s` : 'none'}`);
      expect(mc.firstBrake).not.toBeNull();
      expect(tc.steps.some((s) => s.command < -1)).toBe(true);
    } finally {
      await cand.close();
      await prod.close();
    }
  });

  it('is deterministic per seed: the same run twice is the same bytes; lockstep equals one at a time', async () => {
    const runs = [spec(3), spec(4, 'oracle', { ...day, density: 3, timeOfDay: 'dusk' })];
    const sha = (ts: SimRunTrace[]) => createHash('sha256').update(JSON.stringify(ts.map((t) => ({ ...t, steps: t.steps.map((s) => ({ ...s, latencyMs: 0 })) })))).digest('hex');
    const a = await runLockstep(runs, options(oracleDetector()));
    const b = await runLockstep(runs, options(oracleDetector()));
    const c = await runOneAtATime(runs, options(oracleDetector()));
    expect(sha(a)).toBe(sha(b));
    expect(sha(a)).toBe(sha(c));
  });
});

describe('pipelined lockstep', () => {
  const sha = (ts: SimRunTrace[]) => createHash('sha256').update(JSON.stringify(ts.map((t) => ({ ...t, steps: t.steps.map((s) => ({ ...s, latencyMs: 0 })) })))).digest('hex');

  it('gives the same bytes as unpipelined lockstep and one at a time, with halves that end at different ticks', async () => {
    // Five runs (halves of 3 and 2), two scenario lengths: the odd half outlives the even one
    // partway, so the loop also runs a half alone.
    const short = ccrs(30, 40, 1.5);
    const long = ccrs(30, 40, 3);
    const runs = [0, 1, 2, 3, 4].map((i) => ({ ...spec(10 + i, 'oracle', { ...day, density: i % 3 }), runId: `p-${i}`, scenarioFile: i % 2 ? 'long.xosc' : 'short.xosc' }));
    const opts = (pipeline: boolean): LoopOptions => ({ ...options(oracleDetector()), scenarios: new Map([['short.xosc', () => short], ['long.xosc', () => long]]), pipeline });
    const ticks: number[] = [];
    const piped = await runLockstep(runs, { ...opts(true), onStep: (t) => ticks.push(t) });
    expect(piped.map((t) => t.steps.length)).toEqual([16, 31, 16, 31, 16]);
    // One tick per step of the longest run.
    expect(ticks.at(-1)).toBe(31);
    expect(sha(piped)).toBe(sha(await runLockstep(runs, opts(false))));
    expect(sha(piped)).toBe(sha(await runOneAtATime(runs, opts(false))));
  });

  it('with the model on a worker thread: the same traces as the model on this thread, one at a time and batched', async () => {
    const here = await modelDetector('candidate', join(MODELS, 'candidate'), { threads: 1 });
    const worker = await modelDetector('candidate', join(MODELS, 'candidate'), { threads: 1, worker: true });
    try {
      expect(worker.concurrent).toBe(true);
      const scenario = ccrs(30, 30, 1.5);
      const runs = [0, 1, 2, 3].map((i) => ({ ...spec(20 + i, 'candidate', { ...day, density: 2, timeOfDay: i % 2 ? 'dusk' : 'day' }), runId: `m-${i}` }));
      const piped = await runLockstep(runs, options(worker, scenario));
      const flat = await runLockstep(runs, options(here, scenario));
      const one = await runOneAtATime(runs, options(here, scenario));
      // The model saw something (else equal traces would say little).
      expect(piped.some((t) => t.steps.some((s) => s.detections > 0))).toBe(true);
      expect(sha(piped)).toBe(sha(flat));
      expect(sha(piped)).toBe(sha(one));
    } finally {
      await here.close();
      await worker.close();
    }
    // Closed: a late call fails plainly instead of hanging.
    const s = ccrs();
    const ego = { name: 'Ego', cls: 'car' as const, ...s.ego.init, accel: 0, size: s.ego.size, vy: 0, jerk: 0, steer: 0 };
    await expect(worker.detect([renderFrame(sceneForStep(s.road, day, 1, { t: 0, ego, actors: [] }, 0))])).rejects.toThrow(/detector is closed/);
  });
});

describe('batched inference', () => {
  it('gives every frame of a batch of 8 the detections it gets alone, bit for bit', async () => {
    const d = await openBatchDetector(join(MODELS, 'candidate'), { threads: 1 });
    try {
      const s = ccrs();
      const frames = Array.from({ length: 8 }, (_, i) => {
        const ego = { name: 'Ego', cls: 'car' as const, ...s.ego.init, x: i * 3, accel: 0, size: s.ego.size, vy: 0, jerk: 0, steer: 0 };
        const target = { name: 'Target', cls: 'car' as const, ...s.actors[0].init, accel: 0, size: s.actors[0].size, vy: 0 };
        return renderFrame(sceneForStep(s.road, { ...day, density: 2 }, i, { t: i * 0.1, ego, actors: [target] }, i)).rgb;
      });
      const batch = await d.detectBatch(frames, 320, 192);
      for (let i = 0; i < 8; i++) {
        const one = await d.detectBatch([frames[i]], 320, 192);
        expect(JSON.stringify(batch.dets[i])).toBe(JSON.stringify(one.dets[0]));
      }
      expect(batch.dets.some((x) => x.length > 0)).toBe(true);
    } finally {
      await d.close();
    }
  });
});
