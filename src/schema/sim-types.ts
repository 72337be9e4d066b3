/**
 * The shapes closed-loop simulation passes between its parts (docs/sim.md), here at the bottom
 * layer because the metrics (src/metrics/safety.ts) and the simulator (src/sim/) both read them:
 *
 *   OpenSCENARIO file --src/sim/scenario.ts--> SimScenario (executable, parameters resolved)
 *   ParameterValueDistribution x seeds x conditions --src/sim/sweep.ts--> SimRunSpec[] --> shards (jobs)
 *   per step: SimWorld --render--> frame --detector--> dets --tracker--> tracks
 *             --src/sim/perceive.ts--> PerceivedObject[] --src/sim/planner.ts--> command
 *             --src/sim/dynamics.ts--> ego's next state; src/sim/storyboard.ts moves the other actors
 *   the steps' TraceStep[] --src/metrics/safety.ts--> RunMetrics --> aggregates, paired deltas, the Sim Gate
 *
 * One world frame throughout: OpenSCENARIO's and REP-103's, x forward along the road, y left,
 * z up, metres; heading in radians, counter-clockwise from +x. The road is straight along +x;
 * lane k (0 = leftmost) has its centre at y = road.leftEdgeY - (k + 0.5) * laneWidth.
 */
import type { REGIONS, ROAD_TYPES, TIMES_OF_DAY, WEATHERS } from './conditions.js';

type RoadType = (typeof ROAD_TYPES)[number];
type TimeOfDay = (typeof TIMES_OF_DAY)[number];
type Weather = (typeof WEATHERS)[number];
type Region = (typeof REGIONS)[number];

/** The world's actor classes: what the detector knows and what the scenario's entities map to. */
export type SimClass = 'car' | 'pedestrian' | 'cyclist';

/** Where and how fast an entity is, in the world frame. */
export interface Pose {
  x: number;
  y: number;
  /** Radians, counter-clockwise from +x (the road's direction). */
  heading: number;
  /** Speed along the heading, m/s (never negative for the ego). */
  speed: number;
}

/** An entity at a step: its pose plus what the metrics need (acceleration, size, class). */
export interface EntityState extends Pose {
  name: string;
  cls: SimClass;
  /** Longitudinal acceleration, m/s^2 (negative: braking). */
  accel: number;
  /** Length (along the heading), width, height, metres; the pose is the box's centre. */
  size: [number, number, number];
  /** Lateral velocity in the world frame (y), m/s: a pedestrian crossing, a lane change. */
  vy: number;
}

/** The straight road a scenario runs on (the world has no curves; a LanePosition maps onto it). */
export interface SimRoad {
  roadType: RoadType;
  lanes: number;
  laneWidth: number;
  /** y of the road's left edge (lane 0's left border). */
  leftEdgeY: number;
  /** The lane the ego starts in. */
  egoLane: number;
  /** Lanes with index below this carry oncoming traffic. */
  oncomingBelow: number;
  /** Sidewalk width beside the road, metres (0: none). */
  sidewalk: number;
  /** Speed limit, m/s (speeding is a rule violation). */
  speedLimit: number;
  /** x positions of stop lines across the ego's lane (a violation: crossing one above 0.5 m/s without having stopped). */
  stopLines: number[];
}

/** A trigger: OR over condition groups, AND within a group (OpenSCENARIO's ConditionGroup). */
export interface SimTrigger {
  groups: SimCondition[][];
}

/** Comparison of a condition (OpenSCENARIO's Rule). */
export type SimRule = 'greaterThan' | 'lessThan' | 'equalTo' | 'greaterOrEqual' | 'lessOrEqual' | 'notEqualTo';

/** What paddock can evaluate; anything else is refused by name when the scenario loads. */
export type SimCondition = {
  name: string;
  /** Seconds the condition must have held before it counts (OpenSCENARIO delay). */
  delay: number;
  edge: 'rising' | 'falling' | 'risingOrFalling' | 'none';
} & (
  | { kind: 'simulationTime'; value: number; rule: SimRule }
  | { kind: 'relativeDistance'; triggering: string[]; any: boolean; entity: string; value: number; rule: SimRule; freespace: boolean; type: 'longitudinal' | 'lateral' | 'cartesianDistance' }
  | { kind: 'timeHeadway'; triggering: string[]; any: boolean; entity: string; value: number; rule: SimRule; freespace: boolean }
  | { kind: 'timeToCollision'; triggering: string[]; any: boolean; entity: string; value: number; rule: SimRule; freespace: boolean }
  | { kind: 'speed'; triggering: string[]; any: boolean; value: number; rule: SimRule }
  | { kind: 'reachPosition'; triggering: string[]; any: boolean; x: number; y: number; tolerance: number }
  | { kind: 'traveledDistance'; triggering: string[]; any: boolean; value: number }
  | { kind: 'standStill'; triggering: string[]; any: boolean; duration: number }
  | { kind: 'storyboardElementState'; ref: string; elementType: string; state: string }
  | { kind: 'parameter'; parameter: string; value: string; rule: SimRule }
);

/** OpenSCENARIO's TransitionDynamics. */
export interface SimDynamics {
  shape: 'step' | 'linear' | 'cubic' | 'sinusoidal';
  dimension: 'time' | 'distance' | 'rate';
  value: number;
}

/** What paddock can execute on a scripted (non-ego) entity; anything else is refused by name. */
export type SimAction =
  | { kind: 'speed'; entity: string; target: { absolute: number } | { relative: string; value: number; valueType: 'delta' | 'factor'; continuous: boolean }; dynamics: SimDynamics }
  | { kind: 'laneChange'; entity: string; target: { absoluteLane: number } | { relative: string; value: number }; offset: number; dynamics: SimDynamics }
  | { kind: 'laneOffset'; entity: string; offset: number; dynamics: SimDynamics }
  | { kind: 'teleport'; entity: string; position: { x: number; y: number; heading?: number } | { relativeTo: string; dx: number; dy: number } }
  | { kind: 'followTrajectory'; entity: string; vertices: { t: number; x: number; y: number; heading?: number }[] };

export interface SimEvent {
  /** Story/Act/ManeuverGroup/Maneuver/Event, for storyboardElementState conditions and the trace. */
  path: string;
  name: string;
  trigger: SimTrigger;
  actions: SimAction[];
  /** How many times it may run (OpenSCENARIO maximumExecutionCount), default 1. */
  maxExecutions: number;
}

/** A scenario paddock can execute: parameters resolved, positions on the straight road. */
export interface SimScenario {
  name: string;
  /** The .xosc file it came from, and the sha256 of its bytes. */
  file: string;
  sha256: string;
  /** NCAP-style category for the gate's criteria: 'ccrs', 'ccrm', 'ccrb', 'cpnc', 'cpfa', 'cbla', 'cut-in', ... (FileHeader property `paddock:category`, else from the name). */
  category: string;
  /** The global parameters as resolved for this run. */
  parameters: Record<string, string | number | boolean>;
  road: SimRoad;
  /** The ego: driven by paddock's planner; its Init speed is the ACC's set speed unless a speed action on it sets another. */
  ego: { name: string; size: [number, number, number]; init: Pose; setSpeed: number };
  /** Everyone else, moved by the storyboard. */
  actors: { name: string; cls: SimClass; size: [number, number, number]; init: Pose; visible: boolean }[];
  events: SimEvent[];
  /** The run ends at this simulation time, or earlier when `stopTrigger` fires or the ego has collided and stopped. */
  durationS: number;
  stopTrigger?: SimTrigger;
  /** From the Init's EnvironmentAction, where it has one (a sweep's randomised conditions override it). */
  environment?: Partial<SimConditions>;
  /** Elements read and deliberately not executed, each with why (CARLA's criteria_ conditions, a catalog that is not here): shown, never silent. */
  notes: string[];
}

/** The rendered world's conditions for a run (the renderer's Conditions less the road type, which is the scenario's). */
export interface SimConditions {
  weather: Weather;
  timeOfDay: TimeOfDay;
  region: Region;
  /** Background traffic beyond the scenario's entities: parked cars, oncoming cars, people on the sidewalk, per 100 m. */
  density: number;
}

/** One run of a sweep: a scenario with its parameter values, a seed, conditions and the model driving. */
export interface SimRunSpec {
  /** Stable: the digest of everything below (same inputs, same id, so a resumed sweep knows what is done). */
  runId: string;
  scenarioFile: string;
  /** The distribution's values for this run (applied over the scenario's global ParameterDeclarations). */
  parameters: Record<string, string | number | boolean>;
  /** Index of this parameter set in the sweep's expansion (the heat map's columns). */
  paramIndex: number;
  seed: number;
  conditions: SimConditions;
  /** The model's name in the recipe (candidate, production) and its folder (model.onnx + inference_config.json). */
  model: string;
  modelDir: string;
}

/** The planner's mode at a step. */
export type PlannerMode = 'cruise' | 'follow' | 'aeb-warn' | 'aeb-partial' | 'aeb-full' | 'stopped';

/** One step of a run's trace: ground truth, what the ego did and why. */
export interface TraceStep {
  t: number;
  ego: EntityState & { jerk: number; steer: number };
  actors: EntityState[];
  mode: PlannerMode;
  /** The planner's commanded acceleration, m/s^2. */
  command: number;
  /** The object the planner reacted to (a perceived track id), its estimated range and TTC, if any. */
  lead?: { trackId: number; range: number; ttc: number | null };
  /** Detections and confirmed tracks this step (image pixels), for clips and the triage screen. */
  detections: number;
  tracks: { id: number; box: [number, number, number, number]; cls: string; score: number }[];
  /** Milliseconds the detector took for this step's frame (its share of the batched call). */
  latencyMs: number;
}

/** Everything a run produced: its spec, its trace, and how it ended. */
export interface SimRunTrace {
  spec: SimRunSpec;
  scenario: { name: string; category: string; sha256: string };
  road: SimRoad;
  dt: number;
  steps: TraceStep[];
  ended: 'duration' | 'stop-trigger' | 'collision';
}

/** A collision: the first contact of the ego's box with an actor's. */
export interface SimCollision {
  t: number;
  actor: string;
  actorCls: SimClass;
  /** |v_ego - v_actor| at contact (world-frame vectors), m/s. */
  relativeSpeed: number;
  /** The ego's speed at contact, m/s. */
  egoSpeed: number;
}

/** A run's safety and comfort figures (src/metrics/safety.ts runMetrics). Null: not defined for this run (no braking, no actor ahead). */
export interface RunMetrics {
  collision: SimCollision | null;
  /** Distance the ego drove, km. */
  distanceKm: number;
  /** Steps on which the ego's box left the road (beyond both edges), counted as incidents (a run of steps is one). */
  offroadIncidents: number;
  violations: { speedingS: number; laneDepartures: number; stopLines: number };
  /** Minimum true TTC to any actor over the run (constant-velocity, boxes), seconds; null: never closing. */
  ttcMin: number | null;
  /** Vulnerable road users (pedestrians, cyclists) the ego came near: true TTC under the threshold or gap under the distance threshold, without colliding, counted once per actor. */
  vruNearMisses: number;
  /** First time the ego braked (command below the braking threshold), and the ego's distance to the actor it braked for. */
  firstBrake: { t: number; distance: number | null } | null;
  comfort: { peakJerk: number; rmsJerk: number; peakDecel: number; peakAccel: number; rmsAccel: number };
  /** The lowest planner mode reached: cruise < follow < aeb-warn < aeb-partial < aeb-full. */
  aeb: 'none' | 'warn' | 'partial' | 'full';
}
