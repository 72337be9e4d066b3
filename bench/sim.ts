/**
 * Lockstep batching of closed-loop runs against one run at a time (issue 19): the same 8 runs
 * (Euro NCAP CCRs at 30 km/h, a stationary car 40 m ahead, 3 s each at 10 Hz, seeds 0-7 with
 * background traffic) driven by the candidate world model,
 *   - one at a time: each run to its end, every frame its own inference call (batch 1), and
 *   - lockstep: the 8 runs advancing together, one inference call of batch 8 per tick
 *     (src/sim/closed-loop.ts runLockstep);
 * one round (the bench stays under a minute on 2 cores), one at a time first. Everything else (render, tracker, perception,
 * planner, dynamics) is the same work in both, so the ratio is what batching saves, diluted by
 * the renderer's share. Also checks that the two give the same traces, byte for byte (batch 8
 * and batch 1 detections are equal here: src/sim/batch-detector.ts).
 * ONNX Runtime, 2 intra-op threads. Figures to bench/results/sim.json.
 */
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { runLockstep, runOneAtATime, type LoopOptions } from '../src/sim/closed-loop.js';
import { modelDetector } from '../src/sim/batch-detector.js';
import { PlannerParams } from '../src/sim/planner.js';
import { VehicleParams } from '../src/sim/dynamics.js';
import type { SimRunSpec, SimRunTrace, SimScenario } from '../src/sim/types.js';
import { median, writeResults, ROOT } from './common.js';

const MODEL = join(ROOT, 'fixtures', 'world', 'models', 'candidate');
const RUNS = 8;
const ROUNDS = 1;
const KMH = 1 / 3.6;

const laneY = 3.5 - 1.5 * 3.5;
const scenario: SimScenario = {
  name: 'ccrs-bench',
  file: 'ccrs-bench.xosc',
  sha256: '0'.repeat(64),
  category: 'ccrs',
  parameters: {},
  road: { roadType: 'urban', lanes: 2, laneWidth: 3.5, leftEdgeY: 3.5, egoLane: 1, oncomingBelow: 1, sidewalk: 3, speedLimit: 50 * KMH, stopLines: [] },
  ego: { name: 'Ego', size: [4.6, 1.85, 1.5], init: { x: 0, y: laneY, heading: 0, speed: 30 * KMH }, setSpeed: 30 * KMH },
  actors: [{ name: 'Target', cls: 'car', size: [4.5, 1.8, 1.5], init: { x: 40, y: laneY, heading: 0, speed: 0 }, visible: true }],
  events: [],
  durationS: 3,
  notes: [],
};
const runs: SimRunSpec[] = Array.from({ length: RUNS }, (_, seed) => ({
  runId: `bench-${seed}`,
  scenarioFile: scenario.file,
  parameters: {},
  paramIndex: 0,
  seed,
  conditions: { weather: 'clear', timeOfDay: seed % 2 ? 'dusk' : 'day', region: 'north', density: 2 },
  model: 'candidate',
  modelDir: MODEL,
}));

const detector = await modelDetector('candidate', MODEL, { threads: 2 });
const opts: LoopOptions = { scenarios: new Map([[scenario.file, () => scenario]]), detector, planner: PlannerParams.parse({}), vehicle: VehicleParams.parse({}), tracker: {}, rateHz: 10 };
const digest = (ts: SimRunTrace[]) => createHash('sha256').update(JSON.stringify(ts.map((t) => ({ ...t, steps: t.steps.map((s) => ({ ...s, latencyMs: 0 })) })))).digest('hex');

const times: { lockstep: number[]; oneAtATime: number[] } = { lockstep: [], oneAtATime: [] };
let frames = 0;
const digests = new Set<string>();
// Warm-up: the session's first calls of each batch size allocate.
await runLockstep(runs.slice(0, 2), { ...opts, scenarios: opts.scenarios });
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? (['oneAtATime', 'lockstep'] as const) : (['lockstep', 'oneAtATime'] as const);
  for (const mode of order) {
    const t0 = performance.now();
    const traces = mode === 'lockstep' ? await runLockstep(runs, opts) : await runOneAtATime(runs, opts);
    times[mode].push((performance.now() - t0) / 1000);
    frames = traces.reduce((n, t) => n + t.steps.length, 0);
    digests.add(digest(traces));
  }
}
await detector.close();

const lock = median(times.lockstep);
const one = median(times.oneAtATime);
const figures = {
  runs: RUNS,
  rounds: ROUNDS,
  frames,
  model: 'candidate',
  threads: 2,
  lockstep_s: lock,
  one_at_a_time_s: one,
  speedup: one / lock,
  lockstep_frames_per_s: frames / lock,
  one_at_a_time_frames_per_s: frames / one,
  same_traces: digests.size === 1,
  loadavg: loadavg()[0],
};
console.log(`closed loop, ${RUNS} runs x ${frames / RUNS} steps: one at a time ${one.toFixed(2)} s (${(frames / one).toFixed(0)} frames/s), lockstep batch ${RUNS} ${lock.toFixed(2)} s (${(frames / lock).toFixed(0)} frames/s): speedup ${(one / lock).toFixed(2)}x; same traces: ${digests.size === 1}; load ${loadavg()[0].toFixed(1)}`);
console.log(`figures: ${writeResults('sim', figures)}`);
