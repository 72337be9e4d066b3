/**
 * The golden datasets: drives rendered into golden_train / golden_val / golden_test, each a
 * JSONL manifest and a COCO ground-truth JSON, plus replay drives at 10 Hz. Splits are separated
 * by scene (a scene is one drive), in time (each split is recorded in its own period, with a
 * gap), and by city (no city in two splits); every region, weather, time of day and road type
 * appears in every split so that slices can be compared.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, hashSeed } from './detmath.js';
import { Drive, DRIVE_HZ } from './drive.js';
import { renderFrame, type Frame } from './render.js';
import type { ManifestRow } from '../schema/manifest.js';
import { acquireDirLock, describeLockWait, releaseDirLock } from '../files/file-lock.js';
import { CAMERA, CATEGORY_IDS, CLASSES, REGIONS, ROAD_TYPES, TIMES_OF_DAY, WEATHERS, type Conditions } from './scene.js';

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
  replayDrives: 6,
  replaySeconds: 20,
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

/** PNG through sharp, unfiltered rows so that a plain zlib reader (train_detector.py) can decode it. */
export async function sharpPng(): Promise<PngEncoder> {
  const sharp = (await import('sharp')).default;
  return (rgb, width, height) => sharp(rgb, { raw: { width, height, channels: 3 } }).png({ adaptiveFiltering: false, compressionLevel: 6 }).toBuffer();
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface BuildResult {
  out: string;
  splits: Record<Split, { frames: number; objects: number; manifest: string; coco: string; manifestSha256: string }>;
  replay: { drives: number; frames: number; manifest: string };
  /** sha256 over every split's rows without PNG digests: equal on every machine for the same config. */
  contentDigest: string;
}

/**
 * Renders the world into `out`. `onProgress` is told after each scene.
 */
export async function buildWorld(out: string, config: WorldConfig = DEFAULT_WORLD, onProgress?: (done: number, total: number, what: string) => void): Promise<BuildResult> {
  const unlock = await lockWorld(out);
  try {
    const current = upToDate(out, config);
    if (current) return current;
    return await render(out, config, onProgress);
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

async function render(out: string, config: WorldConfig, onProgress?: (done: number, total: number, what: string) => void): Promise<BuildResult> {
  const encode = await sharpPng();
  const total = SPLITS.reduce((a, s) => a + config.scenes[s], 0) + config.replayDrives;
  let done = 0;
  const content = createHash('sha256');
  const result = { out, splits: {}, replay: {} } as BuildResult;
  const categories = CLASSES.map((c) => ({ id: CATEGORY_IDS[c], name: c, supercategory: c === 'car' ? 'vehicle' : 'person' }));

  const renderAndStore = async (frame: Frame, rel: string) => {
    const png = await encode(frame.rgb, frame.width, frame.height);
    mkdirSync(join(out, rel, '..'), { recursive: true });
    writeFileSync(join(out, rel), png);
    return { sha256: sha256(png), pixels: sha256(frame.rgb) };
  };

  for (const split of SPLITS) {
    const rows: ManifestRow[] = [];
    const images: Record<string, unknown>[] = [];
    const annotations: Record<string, unknown>[] = [];
    for (const { conditions, city, seed, sceneId, start } of planScenes(split, config)) {
      const drive = new Drive({ driveId: sceneId, seed, conditions });
      for (let f = 0; f < config.framesPerScene; f++) {
        for (let t = 0; t < (f === 0 ? 5 : config.frameEvery); t++) drive.step();
        const frame = renderFrame(drive.state());
        const frameId = `${sceneId}-t${String(drive.frameIndex).padStart(4, '0')}`;
        const rel = `frames/${split}/${frameId}.png`;
        const digests = await renderAndStore(frame, rel);
        const imageId = rows.length + 1;
        const row: ManifestRow = {
          frame_id: frameId,
          scene_id: sceneId,
          drive_id: sceneId,
          timestamp: new Date(start + (drive.frameIndex * 1000) / DRIVE_HZ).toISOString(),
          region: conditions.region,
          city,
          weather: conditions.weather,
          time_of_day: conditions.timeOfDay,
          road_type: conditions.roadType,
          seed,
          path: rel,
          width: frame.width,
          height: frame.height,
          sha256: digests.sha256,
          pixels_sha256: digests.pixels,
        };
        rows.push(row);
        const { sha256: _png, ...portable } = row;
        content.update(`${JSON.stringify(portable)}\n`);
        images.push({ id: imageId, file_name: rel, width: frame.width, height: frame.height, frame_id: frameId, scene_id: sceneId, region: row.region, city, weather: row.weather, time_of_day: row.time_of_day, road_type: row.road_type, timestamp: row.timestamp });
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
      onProgress?.(++done, total, split);
    }
    mkdirSync(join(out, 'manifests'), { recursive: true });
    const manifest = join(out, 'manifests', `${split}.jsonl`);
    const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    writeFileSync(manifest, text);
    const coco = join(out, 'manifests', `${split}.coco.json`);
    writeFileSync(coco, JSON.stringify({ info: { description: `paddock built-in world, ${split}`, version: '1', seed: config.seed }, images, annotations, categories }));
    result.splits[split] = { frames: rows.length, objects: annotations.length, manifest, coco, manifestSha256: sha256(Buffer.from(text)) };
  }

  // Replay drives: every tick, with track ids, for open-loop replay and tracking.
  const replayRows: Record<string, unknown>[] = [];
  for (let k = 0; k < config.replayDrives; k++) {
    const rng = new Rng(hashSeed(config.seed, 'replay', k));
    const conditions = sceneConditions(rng, k);
    const seed = hashSeed(config.seed, 'replay', k, 'drive');
    const driveId = `drive-${seed.toString(16).padStart(8, '0')}`;
    const drive = new Drive({ driveId, seed, conditions });
    const start = dayMs(POLICY.periods.golden_test[1]) + (k + 10) * 86_400_000;
    for (let t = 0; t < config.replaySeconds * DRIVE_HZ; t++) {
      const frame = renderFrame(drive.state());
      const rel = `drives/${driveId}/${String(t).padStart(4, '0')}.png`;
      const digests = await renderAndStore(frame, rel);
      replayRows.push({
        frame_id: `${driveId}-t${String(t).padStart(4, '0')}`,
        drive_id: driveId,
        scene_id: driveId,
        timestamp: new Date(start + (t * 1000) / DRIVE_HZ).toISOString(),
        region: conditions.region,
        weather: conditions.weather,
        time_of_day: conditions.timeOfDay,
        road_type: conditions.roadType,
        seed,
        path: rel,
        sha256: digests.sha256,
        pixels_sha256: digests.pixels,
        objects: frame.objects,
      });
      content.update(`${digests.pixels}\n`);
      drive.step();
    }
    onProgress?.(++done, total, 'replay');
  }
  const replayManifest = join(out, 'manifests', 'replay_drives.jsonl');
  writeFileSync(replayManifest, replayRows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  result.replay = { drives: config.replayDrives, frames: replayRows.length, manifest: replayManifest };
  result.contentDigest = content.digest('hex');
  writeFileSync(join(out, 'world.json'), JSON.stringify({ config, camera: CAMERA, policy: POLICY, contentDigest: result.contentDigest, splits: result.splits, replay: result.replay }, null, 2) + '\n');
  return result;
}

/**
 * A world already built in `out` with the same config, whose manifests still have the digests
 * recorded in world.json, is not rendered again (frames are checked by the evaluate stage's
 * integrity guard, which hashes every file).
 */
export function upToDate(out: string, config: WorldConfig): BuildResult | undefined {
  const file = join(out, 'world.json');
  if (!existsSync(file)) return undefined;
  try {
    const w = JSON.parse(readFileSync(file, 'utf8')) as { config: WorldConfig; contentDigest: string; splits: BuildResult['splits']; replay: BuildResult['replay'] };
    if (JSON.stringify(w.config) !== JSON.stringify(config)) return undefined;
    for (const split of SPLITS) {
      const s = w.splits[split];
      if (!s || !existsSync(s.manifest) || !existsSync(s.coco) || sha256(readFileSync(s.manifest)) !== s.manifestSha256) return undefined;
    }
    return { out, splits: w.splits, replay: w.replay, contentDigest: w.contentDigest };
  } catch {
    return undefined;
  }
}

export { WEATHERS, TIMES_OF_DAY, ROAD_TYPES, REGIONS };
