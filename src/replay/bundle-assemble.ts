/**
 * From decoded messages to a drive: whichever container they came from (an MCAP bundle in
 * protobuf, JSON or CDR, a ROS 2 .db3 bag) and whichever schema family (foxglove's, or ROS 2's
 * sensor_msgs / geometry_msgs / nav_msgs / tf2_msgs), each topic's messages are read into
 * BundleInfo and BundleFrame: frames in the order of the image's own timestamp (not log time),
 * ground truth and ego pose joined to them by timestamp. Pure: data in, data out.
 */
import { basename, extname } from 'node:path';
import { InputError } from '../files/input-error.js';
import { DEFAULT_TOPICS, type BundleTopics } from './bundle-write.js';
import type { BundleFrame, BundleInfo, CameraCalibration, CameraExtrinsics, EgoPose, GtObject } from './types.js';

/** A bundle that cannot be read: the message names the file, where in it, and what is wrong. */
export class BundleError extends InputError {}

/** One message as a container's reader decoded it. */
export interface DecodedMessage {
  topic: string;
  /** The schema (message type) name as the container names it. */
  schema: string;
  logNs: bigint;
  /** Where it is, for errors: e.g. "message 12 on /camera/front/image/compressed". */
  where: string;
  value: unknown;
}

export interface AssembleOptions {
  topics?: Partial<BundleTopics>;
  /** How far a ground-truth or ego message may be from a frame's capture time and still join it (default: a quarter of the frame interval). */
  joinToleranceNs?: bigint;
}

export interface DriveBundle {
  file: string;
  info: BundleInfo;
  frames: BundleFrame[];
}

type Rec = Record<string, unknown>;

/** Schema names in one spelling: ROS 2's pkg/msg/Type and ROS 1's pkg/Type alike; foxglove_msgs/X is foxglove.X. */
export function canonicalSchema(name: string): string {
  const n = name.replace('/msg/', '/');
  const fox = /^foxglove_msgs\/(\w+)$/.exec(n);
  return fox ? `foxglove.${fox[1]}` : n;
}

const ROLE_SCHEMAS: Record<keyof BundleTopics, string[]> = {
  image: ['foxglove.CompressedImage', 'sensor_msgs/CompressedImage'],
  calibration: ['foxglove.CameraCalibration', 'sensor_msgs/CameraInfo'],
  tf: ['foxglove.FrameTransform', 'foxglove.FrameTransforms', 'tf2_msgs/TFMessage', 'geometry_msgs/TransformStamped'],
  ego: ['foxglove.Odometry', 'foxglove.PoseInFrame', 'nav_msgs/Odometry', 'geometry_msgs/PoseStamped'],
  gt: ['foxglove.SceneUpdate'],
};

/** Which topics a reader must decode, and the schemas each may have. */
export function roleTopics(topics?: Partial<BundleTopics>): BundleTopics {
  return { ...DEFAULT_TOPICS, ...topics };
}

const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null ? (v as Rec) : {});

function fail(file: string, where: string, what: string): never {
  throw new BundleError(`${file}: ${where}: ${what}`);
}

/** ns since the epoch from any Time spelling: {sec, nsec} (foxglove JSON, ROS 1), {sec, nanosec} (ROS 2), {seconds, nanos} (protobuf). */
function timeNs(v: unknown): bigint | undefined {
  const t = rec(v);
  const sec = t.sec ?? t.seconds;
  const nsec = t.nsec ?? t.nanosec ?? t.nanos ?? 0;
  if (sec === undefined) return undefined;
  try {
    return BigInt(String(sec)) * 1_000_000_000n + BigInt(String(nsec));
  } catch {
    return undefined;
  }
}

/** A message's own stamp: foxglove's `timestamp`, or ROS's `header.stamp`. */
function ownStamp(v: Rec): bigint | undefined {
  return timeNs(v.timestamp) ?? timeNs(rec(v.header).stamp);
}

function frameIdOf(v: Rec): string {
  return String(v.frame_id ?? rec(v.header).frame_id ?? '');
}

function numbers(v: unknown): number[] {
  if (Array.isArray(v)) return v.map(Number);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, Number);
  return [];
}

function vec3(v: unknown): [number, number, number] {
  const r = rec(v);
  return [Number(r.x ?? 0), Number(r.y ?? 0), Number(r.z ?? 0)];
}

function quat(v: unknown): [number, number, number, number] {
  const r = rec(v);
  return [Number(r.x ?? 0), Number(r.y ?? 0), Number(r.z ?? 0), Number(r.w ?? 1)];
}

/** Yaw about z of a quaternion (x, y, z, w). */
export function quaternionYaw([x, y, z, w]: [number, number, number, number]): number {
  return Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
}

function bytesOf(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Buffer.from(v, 'base64');
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  return undefined;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** 'png' or 'jpeg' from a format string (foxglove's 'png', ROS's 'bgr8; png compressed bgr8'), checked against the bytes. */
function imageFormat(file: string, where: string, format: string, data: Uint8Array): 'png' | 'jpeg' {
  const f = format.toLowerCase();
  const kind = /\bpng\b/.test(f) ? 'png' : /\bjpe?g\b/.test(f) ? 'jpeg' : undefined;
  if (!kind) fail(file, where, `unknown image format '${format}' (paddock reads png and jpeg)`);
  const ok = kind === 'png' ? PNG_MAGIC.every((b, i) => data[i] === b) : data[0] === 0xff && data[1] === 0xd8;
  if (!ok) fail(file, where, `format says ${kind} but the ${data.length} bytes of data do not start like a ${kind} file`);
  return kind;
}

function calibrationOf(file: string, m: DecodedMessage): CameraCalibration {
  const v = rec(m.value);
  const pick = (upper: string) => numbers(v[upper] ?? v[upper.toLowerCase()]);
  const cal: CameraCalibration = {
    frameId: frameIdOf(v),
    width: Number(v.width ?? 0),
    height: Number(v.height ?? 0),
    distortionModel: String(v.distortion_model ?? ''),
    D: pick('D'),
    K: pick('K'),
    R: pick('R'),
    P: pick('P'),
  };
  if (!(cal.width > 0 && cal.height > 0)) fail(file, m.where, `calibration has width ${cal.width} and height ${cal.height}; both must be positive`);
  if (cal.K.length !== 9) fail(file, m.where, `calibration K has ${cal.K.length} values, not 9 (3x3 row-major)`);
  if (cal.P.length !== 12 && cal.P.length !== 0) fail(file, m.where, `calibration P has ${cal.P.length} values, not 12 (3x4 row-major)`);
  if (cal.R.length !== 9 && cal.R.length !== 0) fail(file, m.where, `calibration R has ${cal.R.length} values, not 9 (3x3 row-major)`);
  if (cal.R.length === 0) cal.R = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  if (cal.P.length === 0) cal.P = [cal.K[0], cal.K[1], cal.K[2], 0, cal.K[3], cal.K[4], cal.K[5], 0, cal.K[6], cal.K[7], cal.K[8], 0];
  return cal;
}

/** The transforms of one tf message, foxglove's or ROS's, as (parent, child, translation, rotation). */
function transformsOf(m: DecodedMessage): CameraExtrinsics[] {
  const v = rec(m.value);
  const list = Array.isArray(v.transforms) ? (v.transforms as unknown[]) : [v];
  return list.map((t) => {
    const r = rec(t);
    const ros = rec(r.transform);
    return {
      parentFrameId: String(r.parent_frame_id ?? rec(r.header).frame_id ?? ''),
      childFrameId: String(r.child_frame_id ?? ''),
      translation: vec3(r.translation ?? ros.translation),
      rotation: quat(r.rotation ?? ros.rotation),
    };
  });
}

function egoOf(m: DecodedMessage): EgoPose & { speedKnown: boolean } {
  const v = rec(m.value);
  const kind = canonicalSchema(m.schema);
  // foxglove.Odometry and PoseInFrame carry `pose`; nav_msgs/Odometry `pose.pose`; PoseStamped `pose`.
  const poseField = rec(v.pose);
  const pose = kind === 'nav_msgs/Odometry' ? rec(poseField.pose) : poseField;
  const linear = kind === 'foxglove.Odometry' ? v.linear_velocity : kind === 'nav_msgs/Odometry' ? rec(rec(v.twist).twist).linear : undefined;
  return {
    timeNs: ownStamp(v) ?? m.logNs,
    position: vec3(pose.position),
    orientation: quat(pose.orientation),
    speed: linear === undefined ? 0 : vec3(linear)[0],
    speedKnown: linear !== undefined,
  };
}

function parseList(file: string, where: string, key: string, text: string | undefined, n: number): number[] {
  if (text === undefined) fail(file, where, `no '${key}' metadata (${n} numbers)`);
  const trimmed = text.trim();
  let vals: unknown;
  try {
    vals = trimmed.startsWith('[') ? JSON.parse(trimmed) : trimmed.split(',').map((s) => Number(s));
  } catch {
    fail(file, where, `'${key}' metadata '${text}' is not a list of ${n} numbers`);
  }
  if (!Array.isArray(vals) || vals.length !== n || !vals.every((x) => typeof x === 'number' && Number.isFinite(x))) fail(file, where, `'${key}' metadata '${text}' is not a list of ${n} numbers`);
  return vals as number[];
}

/** The ground truth of one SceneUpdate: one object per entity with a cube; 2D truth from the entity's metadata. */
function gtOf(file: string, m: DecodedMessage, trackIds: Map<string, number>): { ns: bigint | undefined; objects: GtObject[] } {
  const v = rec(m.value);
  const entities = Array.isArray(v.entities) ? (v.entities as unknown[]).map(rec) : [];
  let ns: bigint | undefined;
  const objects: GtObject[] = [];
  for (const e of entities) {
    ns ??= timeNs(e.timestamp);
    const id = String(e.id ?? '');
    const where = `${m.where}, entity '${id}'`;
    const cubes = Array.isArray(e.cubes) ? (e.cubes as unknown[]).map(rec) : [];
    if (cubes.length === 0) continue;
    const meta = new Map<string, string>();
    for (const kv of Array.isArray(e.metadata) ? (e.metadata as unknown[]).map(rec) : []) meta.set(String(kv.key), String(kv.value));
    let trackId = /^\d+$/.test(id) ? Number(id) : trackIds.get(id);
    if (trackId === undefined) {
      trackId = 1_000_000 + trackIds.size;
      trackIds.set(id, trackId);
    }
    const cube = cubes[0];
    const pose = rec(cube.pose);
    const box = parseList(file, where, 'box', meta.get('box'), 4) as GtObject['box'];
    const visibility = meta.has('visibility') ? Number(meta.get('visibility')) : 1;
    if (!(visibility >= 0 && visibility <= 1)) fail(file, where, `'visibility' metadata '${meta.get('visibility')}' is not a number in [0, 1]`);
    const hard = meta.get('hard');
    if (hard !== undefined && hard !== 'true' && hard !== 'false') fail(file, where, `'hard' metadata '${hard}' is not true or false`);
    objects.push({
      trackId,
      cls: meta.get('class') ?? 'object',
      box,
      visibility,
      hard: hard === 'true',
      position: vec3(pose.position),
      size: vec3(cube.size),
      yaw: quaternionYaw(quat(pose.orientation)),
      velocity: meta.has('velocity') ? (parseList(file, where, 'velocity', meta.get('velocity'), 3) as GtObject['velocity']) : [0, 0, 0],
    });
  }
  if (ns === undefined && Array.isArray(v.deletions)) ns = timeNs(rec((v.deletions as unknown[])[0]).timestamp);
  return { ns, objects };
}

/** The index of the frame whose capture time is nearest `ns`, if within `tol`. */
function nearest(times: bigint[], ns: bigint, tol: bigint): number | undefined {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] < ns) lo = mid + 1;
    else hi = mid;
  }
  let best: number | undefined;
  let bestD = tol + 1n;
  for (const i of [lo - 1, lo]) {
    if (i < 0 || i >= times.length) continue;
    const d = times[i] > ns ? times[i] - ns : ns - times[i];
    if (d < bestD) {
      best = i;
      bestD = d;
    }
  }
  return best;
}

/**
 * Reads decoded messages into a drive. The image and calibration topics are required; tf, ego
 * and ground truth are used where present. `metadata` is the bundle's paddock.drive record;
 * `inFile` every topic of the file with its schema (named when a required topic is missing).
 */
export function assembleDrive(file: string, sha256: string, messages: DecodedMessage[], metadata: Map<string, string> | undefined, opts: AssembleOptions = {}, inFile: [topic: string, schema: string][] = []): DriveBundle {
  const topics = roleTopics(opts.topics);
  const byRole = new Map<keyof BundleTopics, DecodedMessage[]>();
  const seenTopics = new Map<string, string>(inFile);
  for (const m of messages) {
    seenTopics.set(m.topic, m.schema);
    for (const role of Object.keys(topics) as (keyof BundleTopics)[]) {
      if (topics[role] !== m.topic) continue;
      if (!ROLE_SCHEMAS[role].includes(canonicalSchema(m.schema))) fail(file, `topic ${m.topic}`, `schema '${m.schema}' is not one paddock reads as ${role} (${ROLE_SCHEMAS[role].join(', ')})`);
      let list = byRole.get(role);
      if (!list) byRole.set(role, (list = []));
      list.push(m);
    }
  }
  const listed = () => [...seenTopics].sort(([a], [b]) => (a < b ? -1 : 1)).map(([t, s]) => `${t} (${s})`).join(', ') || 'none';
  const images = byRole.get('image') ?? [];
  if (images.length === 0) fail(file, 'topics', `no image messages on ${topics.image} (foxglove.CompressedImage or sensor_msgs/msg/CompressedImage); the bundle has: ${listed()}`);
  const cals = byRole.get('calibration') ?? [];
  if (cals.length === 0) fail(file, 'topics', `no calibration: no messages on ${topics.calibration} (foxglove.CameraCalibration or sensor_msgs/msg/CameraInfo); the bundle has: ${listed()}`);
  const calibration = calibrationOf(file, cals[0]);

  const frames: BundleFrame[] = images.map((m) => {
    const v = rec(m.value);
    const captureNs = ownStamp(v);
    if (captureNs === undefined) fail(file, m.where, 'the image has no timestamp (foxglove timestamp or header.stamp)');
    const data = bytesOf(v.data);
    if (!data || data.length === 0) fail(file, m.where, 'the image has no data');
    return { index: 0, captureNs, format: imageFormat(file, m.where, String(v.format ?? ''), data), data, gt: [] };
  });
  const order = frames.map((_, i) => i).sort((a, b) => (frames[a].captureNs < frames[b].captureNs ? -1 : frames[a].captureNs > frames[b].captureNs ? 1 : a - b));
  const sorted = order.map((i) => frames[i]);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].captureNs === sorted[i - 1].captureNs) fail(file, images[order[i]].where, `two images have the same capture time ${sorted[i].captureNs} ns (the other is ${images[order[i - 1]].where})`);
  }
  sorted.forEach((f, i) => (f.index = i));
  const times = sorted.map((f) => f.captureNs);
  const gaps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const medianGap = gaps.length ? gaps[gaps.length >> 1] : 0n;
  const tol = opts.joinToleranceNs ?? (medianGap > 0n ? medianGap / 4n : 0n);

  const trackIds = new Map<string, number>();
  for (const m of byRole.get('gt') ?? []) {
    const { ns, objects } = gtOf(file, m, trackIds);
    const i = nearest(times, ns ?? m.logNs, tol);
    if (i !== undefined) sorted[i].gt = objects;
  }
  const egos = (byRole.get('ego') ?? []).map(egoOf);
  for (const e of egos) {
    const i = nearest(times, e.timeNs, tol);
    if (i !== undefined) sorted[i].ego = { timeNs: e.timeNs, position: e.position, orientation: e.orientation, speed: e.speed };
  }
  // A pose without velocity (PoseInFrame, PoseStamped): speed from successive positions.
  if (egos.length > 0 && !egos[0].speedKnown) {
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1].ego;
      const b = sorted[i].ego;
      if (!a || !b || b.timeNs === a.timeNs) continue;
      const d = Math.hypot(b.position[0] - a.position[0], b.position[1] - a.position[1], b.position[2] - a.position[2]);
      b.speed = d / (Number(b.timeNs - a.timeNs) / 1e9);
      if (i === 1) a.speed = b.speed;
    }
  }

  let extrinsics: CameraExtrinsics | undefined;
  for (const m of byRole.get('tf') ?? []) {
    extrinsics ??= transformsOf(m).find((t) => t.childFrameId === calibration.frameId);
  }

  const meta = metadata ?? new Map<string, string>();
  const conditions: Record<string, string> = {};
  for (const [k, v] of meta) if (k.startsWith('condition.')) conditions[k.slice('condition.'.length)] = v;
  const metaRate = meta.has('rate_hz') ? Number(meta.get('rate_hz')) : NaN;
  const rateHz = Number.isFinite(metaRate) && metaRate > 0 ? metaRate : medianGap > 0n ? 1e9 / Number(medianGap) : 0;
  const seed = meta.has('seed') ? Number(meta.get('seed')) : undefined;
  const roadNum = (k: string) => (meta.has(`road.${k}`) ? Number(meta.get(`road.${k}`)) : NaN);
  const road = { lanes: roadNum('lanes'), laneWidth: roadNum('lane_width'), leftEdgeY: roadNum('left_edge_y'), oncomingLanes: roadNum('oncoming_lanes'), sidewalk: roadNum('sidewalk') };
  const hasRoad = Object.values(road).every(Number.isFinite) && road.lanes >= 1 && road.laneWidth > 0;
  const info: BundleInfo = {
    driveId: meta.get('drive_id') ?? basename(file, extname(file)),
    conditions,
    calibration,
    ...(extrinsics ? { extrinsics } : {}),
    rateHz,
    ...(seed !== undefined && Number.isFinite(seed) ? { seed } : {}),
    ...(hasRoad ? { road } : {}),
    frames: sorted.length,
    sha256,
  };
  return { file, info, frames: sorted };
}
