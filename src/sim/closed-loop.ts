/**
 * The closed loop: the model drives. Each tick, for every live run,
 *
 *   world --src/sim/world-view.ts + renderFrame--> camera frame
 *         --detector (one batched call for all live runs)--> detections
 *         --src/replay/tracker.ts--> tracks --src/sim/perceive.ts--> perceived objects
 *         --src/sim/planner.ts--> command --src/sim/dynamics.ts--> the ego's next state
 *   and src/sim/storyboard.ts moves the other actors; the ego's box against theirs
 *   (src/metrics/safety.ts boxesOverlap) ends the run a second after contact.
 *
 * Lockstep: the runs of a shard advance together, so one inference call per tick carries every
 * live run's frame (batch N) instead of N calls of batch 1; a run that ends drops out of the
 * batch. Everything else is per run and deterministic for its seed: the renderer's pixels, the
 * tracker, perception, the planner, the dynamics and the storyboard are pure functions of the
 * spec, and the batch at each tick is fixed by the shard's composition (src/sim/batch-detector.ts
 * on batch N against batch 1). The runs are stepped in the shard's order.
 */
import { renderFrame, type Frame } from '../world/render.js';
import { createTracker, type TrackerParamsInput } from '../replay/tracker.js';
import { stepVehicle, type VehicleParams, type VehicleState } from './dynamics.js';
import { createPlanner, type PlannerParams } from './planner.js';
import { boxesOverlap } from '../metrics/safety.js';
import { createPerceiver } from './perceive.js';
import { sceneForStep } from './world-view.js';
import type { SimDetector } from './batch-detector.js';
import type { Detection } from '../replay/types.js';
import type { EntityState, SimRunSpec, SimRunTrace, SimScenario, TraceStep } from '../schema/sim-types.js';

/** Seconds a run goes on after the ego's first contact (the ego stopped), then it ends. */
export const AFTER_COLLISION_S = 1;

/** What the loop needs of a storyboard (src/sim/storyboard.ts createStoryboard): it moves the non-ego entities in `world`. */
export interface SimStoryboard {
  step(t: number, dt: number, world: Map<string, EntityState>): void;
  egoSetSpeed(): number;
  stopped(): boolean;
}

/** A scenario file's executable scenario for a run's parameter values (src/sim/scenario.ts loadScenario, cached by the caller). */
export type ScenarioLoader = (parameters: SimRunSpec['parameters']) => SimScenario;

export interface LoopOptions {
  /** By scenario file (SimRunSpec.scenarioFile). */
  scenarios: ReadonlyMap<string, ScenarioLoader>;
  detector: SimDetector;
  planner: PlannerParams;
  vehicle: VehicleParams;
  tracker: TrackerParamsInput;
  /** Steps per second, 10-20. */
  rateHz: number;
  /** Called after every tick with the runs' step counts (progress). */
  onStep?(tick: number, live: number): void;
  /** The storyboard of a scenario; default src/sim/storyboard.ts createStoryboard. */
  storyboard?(scenario: SimScenario): SimStoryboard;
  /** Called when a run starts (the sweep's execution count hook). */
  onRunStart?(spec: SimRunSpec): void;
  /** Called with each run's trace as it ends (a shard writes it at once). */
  onRunEnd?(trace: SimRunTrace): void;
  /**
   * Split the live runs into two halves and overlap one half's inference with the other half's
   * rendering and stepping (default: when the detector is `concurrent`, i.e. computes off this
   * thread). Each run's own sequence of operations is unchanged; only the batch a frame rides in
   * is the half's instead of the whole shard's.
   */
  pipeline?: boolean;
}

/** One run's moving parts between ticks. */
interface LiveRun {
  spec: SimRunSpec;
  scenario: SimScenario;
  hidden: Set<string>;
  storyboard: SimStoryboard;
  tracker: ReturnType<typeof createTracker>;
  perceiver: ReturnType<typeof createPerceiver>;
  planner: ReturnType<typeof createPlanner>;
  ego: VehicleState;
  jerk: number;
  world: Map<string, EntityState>;
  steps: TraceStep[];
  t: number;
  index: number;
  collidedAt: number | null;
  ended?: SimRunTrace['ended'];
}

function egoEntity(r: LiveRun): EntityState {
  const e = r.ego;
  return { name: r.scenario.ego.name, cls: 'car', x: e.x, y: e.y, heading: e.heading, speed: e.speed, accel: e.accel, size: r.scenario.ego.size, vy: e.speed * Math.sin(e.heading) };
}

function actorsOf(r: LiveRun): EntityState[] {
  return r.scenario.actors.map((a) => ({ ...r.world.get(a.name)! }));
}

function startRun(spec: SimRunSpec, opts: LoopOptions, storyboardOf: (s: SimScenario) => SimStoryboard): LiveRun {
  const load = opts.scenarios.get(spec.scenarioFile);
  if (!load) throw new Error(`closed loop: run ${spec.runId} names scenario ${spec.scenarioFile}, which was not loaded`);
  const scenario = load(spec.parameters);
  const e = scenario.ego;
  const ego: VehicleState = { x: e.init.x, y: e.init.y, heading: e.init.heading, speed: e.init.speed, accel: 0, steer: 0 };
  const world = new Map<string, EntityState>();
  for (const a of scenario.actors) {
    world.set(a.name, { name: a.name, cls: a.cls, x: a.init.x, y: a.init.y, heading: a.init.heading, speed: a.init.speed, accel: 0, size: a.size, vy: a.init.speed * Math.sin(a.init.heading) });
  }
  const run: LiveRun = {
    spec,
    scenario,
    hidden: new Set(scenario.actors.filter((a) => !a.visible).map((a) => a.name)),
    storyboard: storyboardOf(scenario),
    tracker: createTracker(opts.tracker),
    perceiver: createPerceiver(),
    planner: createPlanner(opts.planner),
    ego,
    jerk: 0,
    world,
    steps: [],
    t: 0,
    index: 0,
    collidedAt: null,
  };
  world.set(e.name, egoEntity(run));
  opts.onRunStart?.(spec);
  return run;
}

/** Renders a live run's camera frame at its current state. */
function frameOf(r: LiveRun): Frame {
  const scene = sceneForStep(r.scenario.road, r.spec.conditions, r.spec.seed, { t: r.t, ego: { ...egoEntity(r), jerk: r.jerk, steer: r.ego.steer }, actors: actorsOf(r) }, r.index, r.hidden);
  return renderFrame(scene);
}

/** Everything after the detections of one tick for one run; returns whether it goes on. */
function advance(r: LiveRun, dets: Parameters<ReturnType<typeof createTracker>['update']>[0], latencyMs: number, dt: number, opts: LoopOptions): boolean {
  const tracks = r.tracker.update(dets, r.t).tracks;
  const objects = r.perceiver.step(r.t, tracks);
  const ego = egoEntity(r);
  const plan = r.planner.step({ speed: r.ego.speed, setSpeed: r.storyboard.egoSetSpeed() }, objects, dt);
  const actors = actorsOf(r);
  r.steps.push({
    t: r.t,
    ego: { ...ego, jerk: r.jerk, steer: r.ego.steer },
    actors,
    mode: plan.mode,
    command: plan.accel,
    lead: plan.lead,
    detections: dets.length,
    tracks: tracks.map((k) => ({ id: k.id, box: k.box, cls: k.cls, score: k.score })),
    latencyMs,
  });
  if (r.collidedAt === null && actors.some((a) => boxesOverlap(ego, a))) r.collidedAt = r.t;

  // The next state.
  const prevAccel = r.ego.accel;
  r.ego = stepVehicle(r.ego, { accel: plan.accel, steer: 0 }, dt, opts.vehicle);
  // After contact the ego stays where it hit (the cars are locked together, the run is judged).
  if (r.collidedAt !== null) r.ego = { ...r.ego, x: ego.x, y: ego.y, speed: 0, accel: 0 };
  r.jerk = (r.ego.accel - prevAccel) / dt;
  r.world.set(r.scenario.ego.name, egoEntity(r));
  r.storyboard.step(r.t, dt, r.world);
  r.index += 1;
  // t from the index, not summed: 0.1 added 80 times is not 8.
  r.t = r.index * dt;

  if (r.collidedAt !== null && r.t - r.collidedAt >= AFTER_COLLISION_S - 1e-9) r.ended = 'collision';
  else if (r.storyboard.stopped()) r.ended = 'stop-trigger';
  else if (r.t > r.scenario.durationS + 1e-9) r.ended = r.collidedAt !== null ? 'collision' : 'duration';
  return r.ended === undefined;
}

function traceOf(r: LiveRun, dt: number): SimRunTrace {
  return {
    spec: r.spec,
    scenario: { name: r.scenario.name, category: r.scenario.category, sha256: r.scenario.sha256 },
    road: r.scenario.road,
    dt,
    steps: r.steps,
    ended: r.ended ?? 'duration',
  };
}

function checkRate(rateHz: number): number {
  if (!(rateHz >= 10 && rateHz <= 20)) throw new Error(`closed loop: rate_hz ${rateHz} is outside 10-20 Hz`);
  return 1 / rateHz;
}

/** A group of live runs stepped together: one batched inference call per tick. */
interface Group {
  active: LiveRun[];
  /** This tick's frames, rendered and not yet sent. */
  ready: Frame[] | null;
  inFlight: Promise<{ dets: Detection[][]; latencyMs: number }> | null;
}

/** Steps a group's runs on their tick's detections (in the group's order) and drops the runs that end. */
function advanceGroup(g: Group, res: { dets: Detection[][]; latencyMs: number }, dt: number, opts: LoopOptions): void {
  // Each run's share of the batched call.
  const share = res.latencyMs / g.active.length;
  g.active = g.active.filter((r, i) => {
    const goesOn = advance(r, res.dets[i], share, dt, opts);
    if (!goesOn) opts.onRunEnd?.(traceOf(r, dt));
    return goesOn;
  });
}

/**
 * Runs `runs` together in lockstep, all with `opts.detector` (one batched call per tick for the
 * frames of every live run); returns their traces in the order given.
 *
 * Pipelined (`opts.pipeline`), the shard's runs are two groups by position (even, odd: fixed for
 * the shard, so the batches stay a function of its composition) and the thread never waits while
 * there is work: when A's detections come back, B's frames (rendered meanwhile) go to the model,
 * and A's tracker, planner, dynamics and next frames run while B infers; then the other way round.
 * On a CPU this only pays with a detector that computes off this thread (batch-detector.ts
 * `worker`), and it gains the renderer's time, not the model's; on a GPU the batching itself is
 * the larger gain (one kernel launch sequence for N frames), which this CPU cannot show.
 */
export async function runLockstep(runs: readonly SimRunSpec[], opts: LoopOptions): Promise<SimRunTrace[]> {
  const dt = checkRate(opts.rateHz);
  // Loaded when first needed, so the loop's other parts load without it.
  const storyboardOf = opts.storyboard ?? (await import('./storyboard.js')).createStoryboard;
  const live = runs.map((s) => startRun(s, opts, storyboardOf));
  const pipeline = (opts.pipeline ?? opts.detector.concurrent === true) && live.length > 1;
  const groups: Group[] = (pipeline ? [live.filter((_, i) => i % 2 === 0), live.filter((_, i) => i % 2 === 1)] : [live]).map((active) => ({ active, ready: null, inFlight: null }));
  const send = (g: Group) => {
    g.inFlight = opts.detector.detect(g.ready!);
    g.ready = null;
  };
  // A's first frames go to the model before B's are rendered.
  for (const g of groups) {
    g.ready = g.active.map(frameOf);
    if (g === groups[0]) send(g);
  }
  let tick = 0;
  for (let k = 0; groups.some((g) => g.active.length > 0); k = (k + 1) % groups.length) {
    const g = groups[k];
    if (g.active.length === 0) continue;
    // Not in flight: the other group has ended (or there is none), nothing to overlap with.
    if (!g.inFlight) send(g);
    const res = await g.inFlight!;
    g.inFlight = null;
    const other = groups[(k + 1) % groups.length];
    if (other !== g && other.ready) send(other);
    advanceGroup(g, res, dt, opts);
    if (g.active.length > 0) g.ready = g.active.map(frameOf);
    // A tick: every group has stepped once (one group: every pass).
    if (k === groups.length - 1 || groups.every((h, j) => j === k || h.active.length === 0)) opts.onStep?.(++tick, groups.reduce((n, h) => n + h.active.length, 0));
  }
  return live.map((r) => traceOf(r, dt));
}

/** The same runs one after another, each frame its own inference call (batch 1): the bench's baseline. */
export async function runOneAtATime(runs: readonly SimRunSpec[], opts: LoopOptions): Promise<SimRunTrace[]> {
  const out: SimRunTrace[] = [];
  for (const spec of runs) out.push(...(await runLockstep([spec], opts)));
  return out;
}
