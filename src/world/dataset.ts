/**
 * The golden datasets: drives rendered into golden_train / golden_val / golden_test, each a
 * JSONL manifest and a COCO ground-truth JSON, plus replay drives at 10 Hz, each an MCAP log
 * bundle (src/replay/bundle.ts, docs/replay.md) listed in manifests/replay_drives.json. Splits are separated
 * by scene (a scene is one drive), in time (each split is recorded in its own period, with a
 * gap), and by city (no city in two splits); every region, weather, time of day and road type
 * appears in every split so that slices can be compared.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, hashSeed } from './detmath.js';
import { Drive, DRIVE_HZ } from './drive.js';
import { renderFrame, type Frame } from './render.js';
import type { ManifestRow } from '../schema/manifest.js';
import type { ReplayDriveEntry, ReplayDrivesManifest } from '../schema/bundle.js';
import { DriveBundleWriter, type BundleHeader, type WrittenBundle } from '../replay/bundle-write.js';
import type { CameraCalibration, CameraExtrinsics, GtObject } from '../replay/types.js';
import { acquireDirLock, describeLockWait, releaseDirLock } from '../files/file-lock.js';
import { CAMERA, CATEGORY_IDS, CLASSES, REGIONS, ROAD_TYPES, TIMES_OF_DAY, WEATHERS, type Actor, type Conditions, type ObjectTruth, type Road } from './scene.js';

export const SPLITS = ['golden_train', 'golden_val', 'golden_test'] as const;
export type Split = (typeof SPLITS)[number];

export const CITIES: Record<(typeof REGIONS)[number], string[]> = {
  north: ['tromso', 'umea', 'oulu', 'bergen'],
  south: ['seville', 'palermo', 'faro', 'nicosia'],
  east: ['lviv', 'kaunas', 'brno', 'iasi'],
};

/** The separation policies the build follows and the evaluate stage checks. */
export const POLICY = {
  /** Cities (by index in CITIES[region]) each split may use: no city in two splits. */
  cities: { golden_train: [0, 1], golden_val: [2], golden_test: [3] } as Record<Split, number[]>,
  /** Recording periods (UTC): each split's scenes fall in its own window, in this order. */
  periods: {
    golden_train: ['2026-01-05', '2026-05-31'],
    golden_val: ['2026-06-15', '2026-07-15'],
    golden_test: ['2026-08-01', '2026-09-30'],
  } as Record<Split, [string, string]>,
  /** Minimum gap between the last frame of one split and the first of the next. */
  minGapDays: 7,
};

export interface WorldConfig {
  seed: number;
  scenes: Record<Split, number>;
  /** Frames kept per scene, one every `frameEvery` ticks (10 Hz). */
  framesPerScene: number;
  frameEvery: number;
  /** Replay drives (every tick kept) and their length in seconds. */
  replayDrives: number;
  replaySeconds: number;
}

export const DEFAULT_WORLD: WorldConfig = {
  seed: 2026,
  scenes: { golden_train: 400, golden_val: 50, golden_test: 100 },
  framesPerScene: 10,
  frameEvery: 10,
  replayDrives: 20,
  replaySeconds: 30,
};

/** A small world for tests. */
export const TINY_WORLD: WorldConfig = {
  seed: 7,
  scenes: { golden_train: 6, golden_val: 3, golden_test: 3 },
  framesPerScene: 3,
  frameEvery: 5,
  replayDrives: 1,
  replaySeconds: 2,
};


const WEATHER_W = { clear: 0.4, rain: 0.22, fog: 0.16, snow: 0.22 } as const;
const TOD_W = { day: 0.5, dusk: 0.2, night: 0.3 } as const;

/** One scene of a split, before rendering. */
export interface PlannedScene {
  sceneId: string;
  seed: number;
  conditions: Conditions;
  city: string;
  /** Recording start, ms since the epoch. */
  start: number;
}

/** The scenes of a split: conditions, city and recording time, all from the config's seed. */
export function planScenes(split: Split, config: WorldConfig): PlannedScene[] {
  const rng = new Rng(hashSeed(config.seed, split));
  const [p0, p1] = POLICY.periods[split];
  const span = dayMs(p1) - dayMs(p0);
  const out: PlannedScene[] = [];
  for (let k = 0; k < config.scenes[split]; k++) {
    const conditions = sceneConditions(rng, k);
    const city = CITIES[conditions.region][rng.pick(POLICY.cities[split])];
    const seed = hashSeed(config.seed, split, k);
    const start = dayMs(p0) + Math.floor(rng.next() * (span / 60_000)) * 60_000;
    out.push({ sceneId: `scene-${seed.toString(16).padStart(8, '0')}`, seed, conditions, city, start });
  }
  return out;
}

/** Conditions of each scene of a split: a balanced cycle of road types and regions, random weather and light. */
function sceneConditions(rng: Rng, k: number): Conditions {
  return {
    roadType: ROAD_TYPES[k % ROAD_TYPES.length],
    region: REGIONS[Math.floor(k / ROAD_TYPES.length) % REGIONS.length],
    weather: rng.choose(WEATHER_W),
    timeOfDay: rng.choose(TOD_W),
  };
}

function dayMs(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

export interface PngEncoder {
  (rgb: Uint8Array, width: number, height: number): Promise<Buffer>;
}

/**
 * PNG through sharp, unfiltered rows so that a plain zlib reader (train_detector.py) can decode it.
 * zlib level 1: the sensor noise does not compress (about 150 KB a frame at level 1, 105 KB at 6),
 * and level 6 took 40% longer per frame than level 1 (7.8 ms against 4.7 ms on this 2-core
 * machine), 5500 frames of the world build's 2 minutes. Readers inflate either alike.
 */
export async function sharpPng(): Promise<PngEncoder> {
  const sharp = (await import('sharp')).default;
  return (rgb, width, height) => sharp(rgb, { raw: { width, height, channels: 3 } }).png({ adaptiveFiltering: false, compressionLevel: 1 }).toBuffer();
}

/**
 * JPEG through sharp for the replay drives' camera frames, as vehicle logs carry them: quality 90
 * without chroma subsampling keeps a 12 px pedestrian's edges. A PNG of these frames is about
 * 130 KB (the sensor noise does not compress), a JPEG about a fifth of that, so 20 drives of 30 s
 * stay a bundle set one can copy around. The same libjpeg-turbo build gives the same bytes; the
 * content digest covers the rendered pixels, not the encoding.
 */
export async function sharpJpeg(): Promise<PngEncoder> {
  const sharp = (await import('sharp')).default;
  return (rgb, width, height) => sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90, chromaSubsampling: '4:4:4', mozjpeg: false }).toBuffer();
}

let jpegEncoder: Promise<PngEncoder> | undefined;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface BuildResult {
  out: string;
  splits: Record<Split, { frames: number; objects: number; manifest: string; coco: string; manifestSha256: string }>;
  /** The replay drives: how many, their frames in all, and manifests/replay_drives.json with its sha256. */
  replay: { drives: number; frames: number; manifest: string; manifestSha256: string };
  /** sha256 over every split's rows without PNG digests: equal on every machine for the same config. */
  contentDigest: string;
}

/** What rendering one job gave: its frames, and for a replay drive the bundle written. */
export interface RenderedJob {
  frames: RenderedFrame[];
  bundle?: WrittenBundle;
}

/**
 * Renders every job and resolves with each one's frames, in job order; `onDone` is told after each
 * job (in the order they finish, `done` counting up). The world's rows are assembled from the
 * result, so how jobs are spread over threads cannot change a byte of it.
 */
export type RenderAll = (jobs: RenderJob[], out: string, onDone: (done: number, job: RenderJob) => void) => Promise<RenderedJob[]>;

/** Renders the jobs one after another on this thread. */
export const renderOnThisThread: RenderAll = async (jobs, out, onDone) => {
  const encode = await sharpPng();
  const all: RenderedJob[] = [];
  for (const job of jobs) {
    all.push(await renderJob(job, out, encode));
    onDone(all.length, job);
  }
  return all;
};

/**
 * Renders the world into `out`. `onProgress` is told after each scene. `renderAll` renders the
 * frames (default: on this thread; src/world/render-pool.ts spreads them over worker threads).
 */
export async function buildWorld(out: string, config: WorldConfig = DEFAULT_WORLD, onProgress?: (done: number, total: number, what: string) => void, renderAll: RenderAll = renderOnThisThread): Promise<BuildResult> {
  const unlock = await lockWorld(out);
  try {
    const current = upToDate(out, config);
    if (current) return current;
    return await render(out, config, onProgress, renderAll);
  } finally {
    unlock();
  }
}

/**
 * One builder at a time per world directory (two demos in two terminals): a lock beside it
 * (src/files/file-lock.ts) naming the builder; a dead builder's lock is taken over. A builder
 * that waits says so on stderr (a step's stderr is its log), who holds it and since when, and
 * again while it waits.
 */
async function lockWorld(out: string, onWait: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<() => void> {
  const me = { run: `pid-${process.pid}`, pid: process.pid };
  await acquireDirLock(out, me, { onWait: (w) => onWait(`world build: waiting for ${out}: ${describeLockWait(w)}`) });
  return () => releaseDirLock(out, me.run);
}

/** One unit of render work: a scene of a split, or a replay drive. Jobs share nothing, so any thread may render any of them. */
export type RenderJob =
  | { kind: 'scene'; split: Split; scene: PlannedScene; framesPerScene: number; frameEvery: number }
  | { kind: 'replay'; drive: PlannedReplay; ticks: number };

/** A replay drive before rendering: its id, seed, conditions and recording start. */
export interface PlannedReplay {
  driveId: string;
  seed: number;
  conditions: Conditions;
  start: number;
}

/** One frame as rendered and written: where (a PNG, or a drive's bundle), its drive tick, size, digests and ground truth. */
export interface RenderedFrame {
  rel: string;
  frameIndex: number;
  width: number;
  height: number;
  /** sha256 of the PNG file and of the raw RGB pixels. */
  sha256: string;
  pixels: string;
  objects: Frame['objects'];
}

/** The render jobs of a world in the order their rows are written: every split's scenes, then the replay drives. */
export function planRenderJobs(config: WorldConfig): RenderJob[] {
  const jobs: RenderJob[] = [];
  for (const split of SPLITS) for (const scene of planScenes(split, config)) jobs.push({ kind: 'scene', split, scene, framesPerScene: config.framesPerScene, frameEvery: config.frameEvery });
  // Replay drives take their conditions as scenes do: road type and region in a balanced cycle, weather and light drawn.
  for (let k = 0; k < config.replayDrives; k++) {
    const rng = new Rng(hashSeed(config.seed, 'replay', k));
    const conditions = sceneConditions(rng, k);
    const seed = hashSeed(config.seed, 'replay', k, 'drive');
    const driveId = `drive-${seed.toString(16).padStart(8, '0')}`;
    const start = dayMs(POLICY.periods.golden_test[1]) + (k + 10) * 86_400_000;
    jobs.push({ kind: 'replay', drive: { driveId, seed, conditions, start }, ticks: config.replaySeconds * DRIVE_HZ });
  }
  return jobs;
}

/** The world camera's intrinsics as a bundle carries them: pinhole, no distortion (plumb_bob with zero coefficients). */
export const WORLD_CALIBRATION: CameraCalibration = {
  frameId: 'camera_front_optical',
  width: CAMERA.width,
  height: CAMERA.height,
  distortionModel: 'plumb_bob',
  D: [0, 0, 0, 0, 0],
  K: [CAMERA.fx, 0, CAMERA.cx, 0, CAMERA.fy, CAMERA.cy, 0, 0, 1],
  R: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  P: [CAMERA.fx, 0, CAMERA.cx, 0, 0, CAMERA.fy, CAMERA.cy, 0, 0, 0, 1, 0],
};

/**
 * The camera on the ego: CAMERA.mountHeight above base_link (on the road), looking forward with no
 * pitch; the optical frame's x right, y down, z forward is REP-103's (x forward, y left, z up)
 * rotated by the quaternion (-0.5, 0.5, -0.5, 0.5).
 */
export const WORLD_EXTRINSICS: CameraExtrinsics = {
  parentFrameId: 'base_link',
  childFrameId: 'camera_front_optical',
  translation: [0, 0, CAMERA.mountHeight],
  rotation: [-0.5, 0.5, -0.5, 0.5],
};

/** 0 - v: a negation that gives +0 for 0, so that a round trip compares equal. */
const neg = (v: number) => 0 - v;
const r2 = (x: number) => Math.round(x * 100) / 100;

/**
 * One rendered object's ground truth in REP-103 (x forward, y left, z up) from the world's scene
 * frame (x right, y up, z forward): position and the box from the render, size and the velocity
 * relative to the ground from the actor (the render's velocity is relative to the ego), heading 0
 * along the road or pi for oncoming traffic (the world's boxes are aligned with the road).
 */
export function worldGtObject(o: ObjectTruth, actor: Actor): GtObject {
  return {
    trackId: o.trackId,
    cls: o.cls,
    box: [o.bbox[0], o.bbox[1], o.bbox[2], o.bbox[3]],
    visibility: r2(1 - o.occlusion),
    hard: o.hard,
    position: [o.position[2], neg(o.position[0]), o.position[1]],
    size: [r2(actor.l), r2(actor.w), r2(actor.h)],
    yaw: actor.oncoming ? Math.PI : 0,
    velocity: [r2(actor.vz), neg(r2(actor.vx)), 0],
  };
}

/** The header of a replay drive's bundle: its id, conditions (the manifest rows' names), rate, seed and the world camera. */
export function replayBundleHeader(drive: PlannedReplay, road?: Road): BundleHeader {
  const c = drive.conditions;
  return {
    // The scene's x is to the right: the left edge's y in base_link (left positive) is -leftEdge.
    ...(road ? { road: { lanes: road.lanes, laneWidth: road.laneWidth, leftEdgeY: 0 - road.leftEdge, oncomingLanes: road.oncomingBelow, sidewalk: road.sidewalk } } : {}),
    driveId: drive.driveId,
    conditions: { weather: c.weather, time_of_day: c.timeOfDay, road_type: c.roadType, region: c.region },
    calibration: WORLD_CALIBRATION,
    extrinsics: WORLD_EXTRINSICS,
    rateHz: DRIVE_HZ,
    seed: drive.seed,
  };
}

/** Where a replay drive's bundle goes, relative to the world directory. */
export const replayBundlePath = (driveId: string) => `drives/${driveId}.mcap`;

/**
 * Renders one job's frames and writes them under `out` (a scene's as PNGs, a replay drive's as
 * one MCAP bundle); pure but for those files, so the same job gives the same bytes on any thread
 * (src/world/render-pool.ts runs jobs on workers).
 */
export async function renderJob(job: RenderJob, out: string, encode: PngEncoder): Promise<RenderedJob> {
  const frames: RenderedFrame[] = [];
  if (job.kind === 'scene') {
    const { sceneId, seed, conditions } = job.scene;
    const drive = new Drive({ driveId: sceneId, seed, conditions });
    for (let f = 0; f < job.framesPerScene; f++) {
      for (let t = 0; t < (f === 0 ? 5 : job.frameEvery); t++) drive.step();
      const frameId = `${sceneId}-t${String(drive.frameIndex).padStart(4, '0')}`;
      const rel = `frames/${job.split}/${frameId}.png`;
      const frame = renderFrame(drive.state());
      const png = await encode(frame.rgb, frame.width, frame.height);
      mkdirSync(join(out, rel, '..'), { recursive: true });
      writeFileSync(join(out, rel), png);
      frames.push({ rel, frameIndex: drive.frameIndex, width: frame.width, height: frame.height, sha256: sha256(png), pixels: sha256(frame.rgb), objects: frame.objects });
    }
    return { frames };
  }
  const { driveId, seed, conditions, start } = job.drive;
  const rel = replayBundlePath(driveId);
  const drive = new Drive({ driveId, seed, conditions });
  const writer = await DriveBundleWriter.open(join(out, rel), replayBundleHeader(job.drive, drive.state().road));
  try {
    for (let t = 0; t < job.ticks; t++) {
      const state = drive.state();
      const frame = renderFrame(state);
      const jpeg = await (await (jpegEncoder ??= sharpJpeg()))(frame.rgb, frame.width, frame.height);
      const captureNs = BigInt(start) * 1_000_000n + BigInt(t) * (1_000_000_000n / BigInt(DRIVE_HZ));
      const actors = new Map(state.actors.map((a) => [a.trackId, a]));
      await writer.add({
        captureNs,
        format: 'jpeg',
        data: jpeg,
        gt: frame.objects.map((o) => worldGtObject(o, actors.get(o.trackId)!)),
        ego: { timeNs: captureNs, position: [state.egoOdometer, 0, 0], orientation: [0, 0, 0, 1], speed: state.egoSpeed },
      });
      frames.push({ rel, frameIndex: t, width: frame.width, height: frame.height, sha256: sha256(jpeg), pixels: sha256(frame.rgb), objects: frame.objects });
      drive.step();
    }
    return { frames, bundle: await writer.close() };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

async function render(out: string, config: WorldConfig, onProgress: ((done: number, total: number, what: string) => void) | undefined, renderAll: RenderAll): Promise<BuildResult> {
  const jobs = planRenderJobs(config);
  // Drives of an earlier build (PNG folders before bundles, or other drive ids) would linger beside the new ones.
  rmSync(join(out, 'drives'), { recursive: true, force: true });
  const rendered = await renderAll(jobs, out, (done, job) => onProgress?.(done, jobs.length, job.kind === 'scene' ? job.split : 'replay'));
  const content = createHash('sha256');
  const result = { out, splits: {}, replay: {} } as BuildResult;
  const categories = CLASSES.map((c) => ({ id: CATEGORY_IDS[c], name: c, supercategory: c === 'car' ? 'vehicle' : 'person' }));

  // Rows, ground truth and the content digest in job order, whichever thread rendered each job.
  for (const split of SPLITS) {
    const rows: ManifestRow[] = [];
    const images: Record<string, unknown>[] = [];
    const annotations: Record<string, unknown>[] = [];
    jobs.forEach((job, j) => {
      if (job.kind !== 'scene' || job.split !== split) return;
      const { conditions, city, seed, sceneId, start } = job.scene;
      for (const frame of rendered[j].frames) {
        const frameId = `${sceneId}-t${String(frame.frameIndex).padStart(4, '0')}`;
        const imageId = rows.length + 1;
        const row: ManifestRow = {
          frame_id: frameId,
          scene_id: sceneId,
          drive_id: sceneId,
          timestamp: new Date(start + (frame.frameIndex * 1000) / DRIVE_HZ).toISOString(),
          region: conditions.region,
          city,
          weather: conditions.weather,
          time_of_day: conditions.timeOfDay,
          road_type: conditions.roadType,
          seed,
          path: frame.rel,
          width: frame.width,
          height: frame.height,
          sha256: frame.sha256,
          pixels_sha256: frame.pixels,
        };
        rows.push(row);
        const { sha256: _png, ...portable } = row;
        content.update(`${JSON.stringify(portable)}\n`);
        images.push({ id: imageId, file_name: frame.rel, width: frame.width, height: frame.height, frame_id: frameId, scene_id: sceneId, region: row.region, city, weather: row.weather, time_of_day: row.time_of_day, road_type: row.road_type, timestamp: row.timestamp });
        for (const o of frame.objects) {
          annotations.push({
            id: annotations.length + 1,
            image_id: imageId,
            category_id: CATEGORY_IDS[o.cls],
            bbox: o.bbox,
            area: o.area,
            iscrowd: o.hard ? 1 : 0,
            track_id: o.trackId,
            occlusion: o.occlusion,
            truncation: o.truncation,
            distance: o.distance,
            position: o.position,
            velocity: o.velocity,
          });
        }
      }
    });
    mkdirSync(join(out, 'manifests'), { recursive: true });
    const manifest = join(out, 'manifests', `${split}.jsonl`);
    const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    writeFileSync(manifest, text);
    const coco = join(out, 'manifests', `${split}.coco.json`);
    writeFileSync(coco, JSON.stringify({ info: { description: `paddock built-in world, ${split}`, version: '1', seed: config.seed }, images, annotations, categories }));
    result.splits[split] = { frames: rows.length, objects: annotations.length, manifest, coco, manifestSha256: sha256(Buffer.from(text)) };
  }

  // Replay drives: every tick, with track ids, one MCAP bundle each, for open-loop replay and tracking.
  const drives: ReplayDriveEntry[] = [];
  let replayFrames = 0;
  jobs.forEach((job, j) => {
    if (job.kind !== 'replay') return;
    const { driveId, seed, start } = job.drive;
    const { frames, bundle } = rendered[j];
    if (!bundle) throw new Error(`world build: replay drive ${driveId} was rendered without its bundle`);
    for (const frame of frames) content.update(`${frame.pixels}\n`);
    replayFrames += frames.length;
    drives.push({
      drive_id: driveId,
      path: replayBundlePath(driveId),
      sha256: bundle.sha256,
      bytes: bundle.bytes,
      frames: bundle.frames,
      rate_hz: DRIVE_HZ,
      duration_s: Number(bundle.endNs - bundle.startNs) / 1e9,
      start: new Date(start).toISOString(),
      seed,
      conditions: replayBundleHeader(job.drive).conditions,
    });
  });
  const replayManifest = join(out, 'manifests', 'replay_drives.json');
  const replayText = JSON.stringify({ version: 1, format: 'mcap', drives } satisfies ReplayDrivesManifest, null, 2) + '\n';
  writeFileSync(replayManifest, replayText);
  result.replay = { drives: drives.length, frames: replayFrames, manifest: replayManifest, manifestSha256: sha256(Buffer.from(replayText)) };
  result.contentDigest = content.digest('hex');
  writeFileSync(join(out, 'world.json'), JSON.stringify({ config, camera: CAMERA, policy: POLICY, contentDigest: result.contentDigest, splits: result.splits, replay: result.replay }, null, 2) + '\n');
  return result;
}

/**
 * A world already built in `out` with the same config (or more replay drives), whose manifests still have the digests
 * recorded in world.json, is not rendered again (frames are checked by the evaluate stage's
 * integrity guard, which hashes every file).
 */
export function upToDate(out: string, config: WorldConfig): BuildResult | undefined {
  const file = join(out, 'world.json');
  if (!existsSync(file)) return undefined;
  try {
    const w = JSON.parse(readFileSync(file, 'utf8')) as { config: WorldConfig; contentDigest: string; splits: BuildResult['splits']; replay: BuildResult['replay'] };
    // Drive k does not depend on how many drives there are: a world with more serves fewer.
    if (JSON.stringify({ ...w.config, replayDrives: 0 }) !== JSON.stringify({ ...config, replayDrives: 0 }) || w.config.replayDrives < config.replayDrives) return undefined;
    for (const split of SPLITS) {
      const s = w.splits[split];
      if (!s || !existsSync(s.manifest) || !existsSync(s.coco) || sha256(readFileSync(s.manifest)) !== s.manifestSha256) return undefined;
    }
    const r = w.replay;
    if (!r || !existsSync(r.manifest) || sha256(readFileSync(r.manifest)) !== r.manifestSha256) return undefined;
    const listed = JSON.parse(readFileSync(r.manifest, 'utf8')) as ReplayDrivesManifest;
    // A bundle's digest is checked where it is read (the replay step); here, that each is there whole.
    for (const d of listed.drives) if (!existsSync(join(out, d.path)) || statSync(join(out, d.path)).size !== d.bytes) return undefined;
    return { out, splits: w.splits, replay: w.replay, contentDigest: w.contentDigest };
  } catch {
    return undefined;
  }
}

export { WEATHERS, TIMES_OF_DAY, ROAD_TYPES, REGIONS };
