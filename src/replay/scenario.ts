/**
 * A flagged interval of a logged drive as a scenario: the ego's logged poses and every
 * ground-truth track seen in the interval, moved from the ego frame into the drive's world frame
 * ('map'), typed for OpenSCENARIO, with the parameters a sweep varies (ego speed, the key actor's
 * gap time, speed and type). Pure: frames in, a ScenarioInterval out; src/replay/xosc.ts writes it.
 */
import { SCENARIO_INTERVAL_FORMAT, ScenarioInterval, type OscType, type ScenarioEntity, type ScenarioRoad, type TrajectorySample } from '../schema/scenario.js';
import { InputError } from '../files/input-error.js';
import type { BundleFrame, BundleInfo, GtObject } from './types.js';

export interface IntervalOptions {
  /** Why the interval was flagged; it goes into the OpenSCENARIO FileHeader. */
  reason: string;
  /** The road; without it, a straight road of the world's layout for the bundle's road_type. */
  road?: ScenarioRoad;
  /** The ego's length, width, height (bundles carry no ego size); default a mid-size car. */
  egoSize?: [number, number, number];
}

/** A mid-size car (4.6 x 1.9 x 1.5 m), for bundles that do not give the ego's size. */
export const DEFAULT_EGO_SIZE: [number, number, number] = [4.6, 1.9, 1.5];

/** Below this speed (m/s) an entity counts as standing: gap time and time scaling are not defined. */
export const STANDING_SPEED = 0.5;

/** The bundle classes and the OpenSCENARIO element and category each becomes (the 1.3 XSD's enumerations). */
export const OSC_TYPES: Record<string, OscType> = {
  car: { kind: 'vehicle', category: 'car' },
  truck: { kind: 'vehicle', category: 'truck' },
  bus: { kind: 'vehicle', category: 'bus' },
  van: { kind: 'vehicle', category: 'van' },
  motorbike: { kind: 'vehicle', category: 'motorbike' },
  motorcycle: { kind: 'vehicle', category: 'motorbike' },
  cyclist: { kind: 'vehicle', category: 'bicycle' },
  bicycle: { kind: 'vehicle', category: 'bicycle' },
  pedestrian: { kind: 'pedestrian', category: 'pedestrian' },
};

/**
 * The world's road layouts (src/world/drive.ts makeRoad) with the ego in lane 1, for bundles
 * that name only their road type. A highway's ego lane varies by drive there; pass `road` to be exact.
 */
export function defaultRoad(roadType: string | undefined): ScenarioRoad {
  if (roadType === 'highway') return { kind: 'generated', lanes: 3, laneWidth: 3.7, leftEdgeY: 1.5 * 3.7, oncomingLanes: 0, sidewalk: 0, curvature: 0, roadType: 'motorway' };
  if (roadType === 'urban') return { kind: 'generated', lanes: 2, laneWidth: 3.3, leftEdgeY: 1.5 * 3.3, oncomingLanes: 1, sidewalk: 3, curvature: 0, roadType: 'town' };
  return { kind: 'generated', lanes: 2, laneWidth: 3.0, leftEdgeY: 1.5 * 3.0, oncomingLanes: 1, sidewalk: 0, curvature: 0, roadType: 'rural' };
}

/** Yaw about z of a quaternion (x, y, z, w). */
export function yawOf(q: readonly [number, number, number, number]): number {
  const [x, y, z, w] = q;
  return Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
}

/** Rotates v by the unit quaternion q (x, y, z, w). */
function rotate(q: readonly [number, number, number, number], v: readonly [number, number, number]): [number, number, number] {
  const [qx, qy, qz, qw] = q;
  const tx = 2 * (qy * v[2] - qz * v[1]);
  const ty = 2 * (qz * v[0] - qx * v[2]);
  const tz = 2 * (qx * v[1] - qy * v[0]);
  return [v[0] + qw * tx + (qy * tz - qz * ty), v[1] + qw * ty + (qz * tx - qx * tz), v[2] + qw * tz + (qx * ty - qy * tx)];
}

/** An angle in (-pi, pi]. */
export function wrapAngle(a: number): number {
  const w = Math.atan2(Math.sin(a), Math.cos(a));
  return w === -Math.PI ? Math.PI : w;
}

interface TrackSeen {
  trackId: number;
  cls: string;
  size: [number, number, number];
  samples: TrajectorySample[];
  /** Ego-frame positions, for choosing the key actor. */
  rel: { t: number; x: number; y: number; width: number; speed: number }[];
}

function conditionOf(info: BundleInfo, snake: string, camel: string): string | undefined {
  return info.conditions[snake] ?? info.conditions[camel];
}

/**
 * The interval of frames with index fromIndex..toIndex (inclusive) as a scenario. Every frame in
 * the range must be present and carry an ego pose; a track seen in one frame only is listed in
 * `droppedTracks` (a trajectory needs two samples).
 */
export function intervalFromFrames(frames: BundleFrame[], info: BundleInfo, fromIndex: number, toIndex: number, opts: IntervalOptions): ScenarioInterval {
  if (!Number.isInteger(fromIndex) || !Number.isInteger(toIndex) || toIndex <= fromIndex) {
    throw new InputError(`drive ${info.driveId}: interval ${fromIndex}..${toIndex} is not a range of at least two frames`);
  }
  const byIndex = new Map(frames.map((f) => [f.index, f]));
  const picked: BundleFrame[] = [];
  for (let i = fromIndex; i <= toIndex; i++) {
    const f = byIndex.get(i);
    if (!f) throw new InputError(`drive ${info.driveId}: frame ${i} of interval ${fromIndex}..${toIndex} is not among the ${frames.length} frames given`);
    if (!f.ego) throw new InputError(`drive ${info.driveId}: frame ${i} has no ego pose; a scenario needs the ego's trajectory`);
    picked.push(f);
  }
  const startNs = picked[0].captureNs;
  const road = opts.road ?? defaultRoad(conditionOf(info, 'road_type', 'roadType'));
  const tracks = new Map<number, TrackSeen>();
  const egoSamples: TrajectorySample[] = [];
  for (const f of picked) {
    const ego = f.ego!;
    const t = Number(f.captureNs - startNs) / 1e9;
    if (egoSamples.length > 0 && t <= egoSamples[egoSamples.length - 1].t) {
      throw new InputError(`drive ${info.driveId}: frame ${f.index} is not later than frame ${f.index - 1} (capture times must increase)`);
    }
    const egoYaw = yawOf(ego.orientation);
    egoSamples.push({ t, x: ego.position[0], y: ego.position[1], h: wrapAngle(egoYaw), speed: Math.abs(ego.speed) });
    const seenHere = new Set<number>();
    for (const g of f.gt) {
      if (seenHere.has(g.trackId)) throw new InputError(`drive ${info.driveId}: frame ${f.index} has track ${g.trackId} twice`);
      seenHere.add(g.trackId);
      const tr = tracks.get(g.trackId) ?? newTrack(g, f.index, info.driveId);
      if (tr.cls !== g.cls) throw new InputError(`drive ${info.driveId}: frame ${f.index}: track ${g.trackId} changes class from ${tr.cls} to ${g.cls}`);
      tracks.set(g.trackId, tr);
      const d = rotate(ego.orientation, g.position);
      const speed = Math.hypot(g.velocity[0], g.velocity[1]);
      tr.samples.push({ t, x: ego.position[0] + d[0], y: ego.position[1] + d[1], h: wrapAngle(egoYaw + g.yaw), speed });
      tr.rel.push({ t, x: g.position[0], y: g.position[1], width: g.size[1], speed });
    }
  }
  const actors: ScenarioEntity[] = [];
  const dropped: number[] = [];
  const rels = new Map<string, TrackSeen['rel']>();
  for (const tr of [...tracks.values()].sort((a, b) => a.trackId - b.trackId)) {
    if (tr.samples.length < 2) {
      dropped.push(tr.trackId);
      continue;
    }
    const name = `${tr.cls.replace(/[^A-Za-z0-9_]/g, '_')}_${tr.trackId}`;
    actors.push({ name, trackId: tr.trackId, cls: tr.cls, type: OSC_TYPES[tr.cls], size: tr.size, trajectory: tr.samples });
    rels.set(name, tr.rel);
  }
  const halfLane = road.kind === 'generated' ? road.laneWidth / 2 : 1.75;
  const key = keyActor(actors, rels, halfLane);
  const egoSpeed = egoSamples[0].speed;
  let params: ScenarioInterval['params'] = { egoSpeed, keyActor: null, gapDistance: null, gapTime: null, actorSpeed: null, actorType: null, gapAt: null };
  if (key) {
    const first = rels.get(key.name)![0];
    params = {
      egoSpeed,
      keyActor: key.name,
      gapDistance: first.x,
      gapTime: egoSpeed >= STANDING_SPEED ? first.x / egoSpeed : null,
      actorSpeed: first.speed,
      actorType: key.type.category,
      gapAt: first.t,
    };
  }
  return ScenarioInterval.parse({
    format: SCENARIO_INTERVAL_FORMAT,
    driveId: info.driveId,
    fromIndex,
    toIndex,
    startNs: startNs.toString(),
    durationS: egoSamples[egoSamples.length - 1].t,
    reason: opts.reason,
    conditions: { ...info.conditions },
    road,
    ego: { name: 'Ego', trackId: null, cls: 'ego', type: { kind: 'vehicle', category: 'car' }, size: opts.egoSize ?? DEFAULT_EGO_SIZE, trajectory: egoSamples },
    actors,
    droppedTracks: dropped,
    params,
  });
}

function newTrack(g: GtObject, frameIndex: number, driveId: string): TrackSeen {
  if (!OSC_TYPES[g.cls]) {
    throw new InputError(`drive ${driveId}: frame ${frameIndex}: track ${g.trackId} has class '${g.cls}', which has no OpenSCENARIO type (known: ${Object.keys(OSC_TYPES).join(', ')})`);
  }
  return { trackId: g.trackId, cls: g.cls, size: [g.size[0], g.size[1], g.size[2]], samples: [], rel: [] };
}

/**
 * The actor the interval is about: of those whose box overlaps the ego's lane corridor ahead of
 * the ego at some frame, the one that comes closest there (a cut-in, a crossing pedestrian, a
 * braking lead car all do); with none in the corridor, the nearest actor ahead at its first
 * sample; with none ahead, none.
 */
function keyActor(actors: ScenarioEntity[], rels: Map<string, TrackSeen['rel']>, halfLane: number): ScenarioEntity | undefined {
  let best: { a: ScenarioEntity; d: number } | undefined;
  for (const a of actors) {
    for (const r of rels.get(a.name)!) {
      if (r.x > 0 && Math.abs(r.y) - r.width / 2 < halfLane && (!best || r.x < best.d)) best = { a, d: r.x };
    }
  }
  if (best) return best.a;
  let ahead: { a: ScenarioEntity; d: number } | undefined;
  for (const a of actors) {
    const r = rels.get(a.name)![0];
    if (r.x > 0 && (!ahead || Math.hypot(r.x, r.y) < ahead.d)) ahead = { a, d: Math.hypot(r.x, r.y) };
  }
  return ahead?.a;
}
