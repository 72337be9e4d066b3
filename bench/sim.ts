/**
 * Lockstep batching of closed-loop runs against one run at a time (issue 19), on the same 8 runs
 * in the same process (Euro NCAP CCRs at 30 km/h, a stationary car 40 m ahead, 1 s each at
 * 10 Hz, seeds 0-7 with background traffic, the candidate world model, ONNX Runtime with 2
 * intra-op threads):
 *   - one at a time: each run to its end, every frame its own inference call (batch 1);
 *   - lockstep: the 8 runs advancing together, one call of batch 8 per tick, the model on this
 *     thread (src/sim/closed-loop.ts runLockstep, pipeline off);
 *   - lockstep pipelined: the model on a worker thread, two half-batches of 4, one half
 *     rendering and stepping while the other infers (onnxruntime-node's session.run computes on
 *     the calling thread, so without the worker nothing overlaps: src/sim/batch-detector.ts).
 * Six rounds, the order rotated; the machine is shared, so the ratios are the medians of each
 * round's own ratios (modes run back to back, so a round sees one load), beside the medians of
 * wall and CPU time (the process's, worker included) and the 1-minute load average.
 * Also the model alone (batch 1 against batch 8, per frame, on the same frames) and the renderer
 * alone, so the reader sees where the ratios come from: on this CPU the model is compute-bound
 * (batch 8 costs per frame what batch 1 does) and both cores are already the model's while it
 * runs, so what lockstep can win is the renderer's time overlapped with inference. On a GPU the
 * batching itself is the larger gain (one launch sequence for N frames, an idle device filled):
 * that is the production case, and it is not measured here.
 * Checks that all three modes give the same traces, byte for byte. Figures to bench/results/sim.json.
 */
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { runLockstep, runOneAtATime, type LoopOptions } from '../src/sim/closed-loop.js';
import { modelDetector, openBatchDetector } from '../src/sim/batch-detector.js';
import { sceneForStep } from '../src/sim/world-view.js';
import { renderFrame } from '../src/world/render.js';
import { PlannerParams } from '../src/sim/planner.js';
import { VehicleParams } from '../src/sim/dynamics.js';
import type { SimRunSpec, SimRunTrace, SimScenario } from '../src/schema/sim-types.js';
import { median, writeResults, ROOT } from './common.js';

const MODEL = join(ROOT, 'fixtures', 'world', 'models', 'candidate');
const RUNS = 8;
const ROUNDS = 6;
const THREADS = 2;
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
  durationS: 1,
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

const here = await modelDetector('candidate', MODEL, { threads: THREADS });
const worker = await modelDetector('candidate', MODEL, { threads: THREADS, worker: true });
const base = { scenarios: new Map([[scenario.file, () => scenario]]), planner: PlannerParams.parse({}), vehicle: VehicleParams.parse({}), tracker: {}, rateHz: 10 };
const modes = {
  oneAtATime: () => runOneAtATime(runs, { ...base, detector: here } satisfies LoopOptions),
  lockstep: () => runLockstep(runs, { ...base, detector: here, pipeline: false } satisfies LoopOptions),
  pipelined: () => runLockstep(runs, { ...base, detector: worker, pipeline: true } satisfies LoopOptions),
};
type Mode = keyof typeof modes;
const names = Object.keys(modes) as Mode[];
const digest = (ts: SimRunTrace[]) => createHash('sha256').update(JSON.stringify(ts.map((t) => ({ ...t, steps: t.steps.map((s) => ({ ...s, latencyMs: 0 })) })))).digest('hex');

const wall: Record<Mode, number[]> = { oneAtATime: [], lockstep: [], pipelined: [] };
const cpu: Record<Mode, number[]> = { oneAtATime: [], lockstep: [], pipelined: [] };
const loads: number[] = [loadavg()[0]];
const digests = new Set<string>();
let frames = 0;
// Warm-up: each session's first calls of a batch size allocate.
await runLockstep(runs.slice(0, 2), { ...base, detector: here });
await runLockstep(runs.slice(0, 4), { ...base, detector: worker, pipeline: true });
for (let round = 0; round < ROUNDS; round++) {
  for (let j = 0; j < names.length; j++) {
    const mode = names[(round + j) % names.length];
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const traces = await modes[mode]();
    wall[mode].push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu[mode].push((c.user + c.system) / 1e6);
    loads.push(loadavg()[0]);
    frames = traces.reduce((n, t) => n + t.steps.length, 0);
    digests.add(digest(traces));
  }
}

// The model alone on the same kind of frames, and the renderer alone.
const scenes = runs.map((r, i) => {
  const e = scenario.ego;
  const ego = { name: e.name, cls: 'car' as const, ...e.init, x: i, accel: 0, size: e.size, vy: 0, jerk: 0, steer: 0 };
  const target = { name: 'Target', cls: 'car' as const, ...scenario.actors[0].init, accel: 0, size: scenario.actors[0].size, vy: 0 };
  return sceneForStep(scenario.road, r.conditions, r.seed, { t: i * 0.1, ego, actors: [target] }, i);
});
const renderMs: number[] = [];
const rgb = scenes.map((s) => {
  const t0 = performance.now();
  const f = renderFrame(s);
  renderMs.push(performance.now() - t0);
  return f.rgb;
});
for (const s of scenes) {
  const t0 = performance.now();
  renderFrame(s);
  renderMs.push(performance.now() - t0);
}
const model = await openBatchDetector(MODEL, { threads: THREADS });
await model.detectBatch(rgb, 320, 192);
const b1: number[] = [];
const bN: number[] = [];
for (let rep = 0; rep < 3; rep++) {
  let t0 = performance.now();
  for (const f of rgb) await model.detectBatch([f], 320, 192);
  b1.push((performance.now() - t0) / rgb.length);
  t0 = performance.now();
  await model.detectBatch(rgb, 320, 192);
  bN.push((performance.now() - t0) / rgb.length);
}
await model.close();
await here.close();
await worker.close();

const w = Object.fromEntries(names.map((m) => [m, median(wall[m])])) as Record<Mode, number>;
const c = Object.fromEntries(names.map((m) => [m, median(cpu[m])])) as Record<Mode, number>;
const ratio = (m: Mode) => median(wall.oneAtATime.map((one, r) => one / wall[m][r]));
const figures = {
  runs: RUNS,
  rounds: ROUNDS,
  frames,
  model: 'candidate',
  threads: THREADS,
  wall_s: w,
  cpu_s: c,
  wall_s_all: wall,
  cpu_s_all: cpu,
  // Per round, then the median: paired against the load of the moment.
  speedup_vs_one_at_a_time: { lockstep: ratio('lockstep'), pipelined: ratio('pipelined') },
  speedup_of_medians: { lockstep: w.oneAtATime / w.lockstep, pipelined: w.oneAtATime / w.pipelined },
  frames_per_s: Object.fromEntries(names.map((m) => [m, frames / w[m]])),
  model_only_ms_per_frame: { batch_1: median(b1), [`batch_${RUNS}`]: median(bN) },
  render_ms_per_frame: median(renderMs),
  same_traces: digests.size === 1,
  loadavg_1m: { min: Math.min(...loads), max: Math.max(...loads) },
};
const f2 = (x: number) => x.toFixed(2);
console.log(`closed loop, ${RUNS} runs x ${frames / RUNS} steps, ${ROUNDS} rounds, medians (load ${f2(Math.min(...loads))}-${f2(Math.max(...loads))} on ${THREADS} threads):`);
for (const m of names) console.log(`  ${m.padEnd(11)} ${f2(w[m])} s wall (${(frames / w[m]).toFixed(1)} frames/s), ${f2(c[m])} s CPU${m === 'oneAtATime' ? '' : `: ${f2(ratio(m))}x one at a time (median of rounds; range ${f2(Math.min(...wall.oneAtATime.map((o, r) => o / wall[m][r])))}-${f2(Math.max(...wall.oneAtATime.map((o, r) => o / wall[m][r])))})`}`);
console.log(`  model alone: batch 1 ${f2(median(b1))} ms/frame, batch ${RUNS} ${f2(median(bN))} ms/frame; renderer ${f2(median(renderMs))} ms/frame`);
console.log(`  same traces in all modes: ${digests.size === 1}`);
console.log(`figures: ${writeResults('sim', figures)}`);
if (digests.size !== 1) process.exitCode = 1;
