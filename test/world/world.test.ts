/**
 * The built-in world: renderer determinism (hashes of pixels), ground truth that agrees with
 * the camera model, manifests that round-trip through their schema, and splits separated by
 * scene, city and time; the world rendered on worker threads is byte for byte the one rendered on
 * a single thread.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Drive } from '../../src/world/drive.js';
import { renderFrame } from '../../src/world/render.js';
import { CAMERA, type Conditions, type SceneState } from '../../src/world/scene.js';
import { buildWorld, planRenderJobs, planScenes, worldGtObject, DEFAULT_WORLD, TINY_WORLD, POLICY, SPLITS, WORLD_CALIBRATION, WORLD_EXTRINSICS, type BuildResult } from '../../src/world/dataset.js';
import { readDrive } from '../../src/replay/bundle.js';
import { ReplayDrivesManifest } from '../../src/schema/bundle.js';
import sharp from 'sharp';
import { renderOnWorkers } from '../../src/world/render-pool.js';
import { ManifestRow, SliceFile, frameInSlice } from '../../src/schema/manifest.js';
import { indexGroundTruth } from '../../src/metrics/coco-load.js';
import { dexp, dsin } from '../../src/world/detmath.js';
import { FIXTURES, ROOT, tempDir } from '../helpers/fixtures.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function frameAt(seed: number, conditions: Conditions, ticks: number) {
  const d = new Drive({ driveId: 'd', seed, conditions });
  for (let t = 0; t < ticks; t++) d.step();
  return renderFrame(d.state());
}

describe('renderer', () => {
  // Pixel hashes recorded when the renderer was written; any change to the pixels shows here.
  const golden: [Conditions, string][] = [
    [{ weather: 'clear', timeOfDay: 'day', roadType: 'urban', region: 'north' }, '83a5c06e9c73420413975da53a99ff93f745feb1e11e7763364e87b3df9c6d57'],
    [{ weather: 'rain', timeOfDay: 'dusk', roadType: 'highway', region: 'south' }, '346446ca65d0aa601d02667fef1c1b6bcb7b74a179d1568161817ddb246f113e'],
    [{ weather: 'fog', timeOfDay: 'day', roadType: 'rural', region: 'east' }, 'b7325f6e930ff223d8df2bded80cb88fb49d1dec90f89174dc95ee121ace4adf'],
    [{ weather: 'snow', timeOfDay: 'night', roadType: 'urban', region: 'east' }, '7ce12d5ae0cc46f608f90d6df493684972d75df2aca13751f4b357ff2749c160'],
  ];
  it.each(golden.map(([c, h], i) => [`${c.weather}/${c.timeOfDay}/${c.roadType}/${c.region}`, c, h, i] as const))('%s gives the same bytes every time', (_n, c, hash, i) => {
    const a = frameAt(100 + i, c, 12);
    const b = frameAt(100 + i, c, 12);
    expect(sha(a.rgb)).toBe(sha(b.rgb));
    expect(a.rgb.length).toBe(CAMERA.width * CAMERA.height * 3);
    expect(sha(a.rgb)).toBe(hash);
  });

  it('uses deterministic math that is accurate enough', () => {
    for (const x of [-5, -1, -0.1, 0, 0.5, 2, 7]) expect(Math.abs(dexp(x) - Math.exp(x)) / Math.exp(x)).toBeLessThan(2e-5);
    for (const x of [-7, -2, -0.3, 0, 0.4, 1.5, 3, 10]) expect(Math.abs(dsin(x) - Math.sin(x))).toBeLessThan(1e-5);
  });

  it('projects a car straight ahead where the pinhole model says, and reports occlusion and truncation', () => {
    const base: SceneState = {
      conditions: { weather: 'clear', timeOfDay: 'day', roadType: 'highway', region: 'north' },
      road: { lanes: 3, laneWidth: 3.7, leftEdge: -5.55, egoLane: 1, sidewalk: 0, oncomingBelow: 0 },
      egoOdometer: 0,
      egoSpeed: 20,
      props: [],
      noiseSeed: 1,
      actors: [
        { trackId: 1, cls: 'car', x: 0, z: 12.25, w: 1.8, h: 1.5, l: 4.5, vx: 0, vz: 20, color: [0.6, 0.1, 0.1], accent: [0, 0, 0], oncoming: false },
        { trackId: 2, cls: 'pedestrian', x: 0.2, z: 25, w: 0.5, h: 1.8, l: 0.4, vx: 0, vz: 0, color: [0.1, 0.1, 0.5], accent: [0, 0, 0], oncoming: false },
        { trackId: 3, cls: 'car', x: -5, z: 6, w: 1.8, h: 1.5, l: 4.5, vx: 0, vz: 25, color: [0.2, 0.2, 0.2], accent: [0, 0, 0], oncoming: false },
      ],
    };
    const f = renderFrame(base);
    const car = f.objects.find((o) => o.trackId === 1)!;
    // Near face at z = 10: u = 160 +- 200 * 0.9 / 10 = 142..178; v = 78 + 200 * (1.5 - 1.5) / 10 .. 78 + 200 * 1.5 / 10 = 78..108.
    expect(car.bbox).toEqual([142, 78, 36, 30]);
    expect(car.occlusion).toBe(0);
    expect(car.velocity).toEqual([0, 0, 0]);
    const ped = f.objects.find((o) => o.trackId === 2)!;
    expect(ped.occlusion).toBeGreaterThan(0.8); // behind the car but for the top of the head
    expect(ped.hard).toBe(true);
    const side = f.objects.find((o) => o.trackId === 3)!;
    expect(side.truncation).toBeGreaterThan(0.3);
    expect(side.bbox[0]).toBe(0);
  });
});

describe('golden datasets', () => {
  let world: BuildResult;
  let cleanup: () => void;
  let dir: string;
  beforeAll(async () => {
    ({ dir, cleanup } = tempDir('paddock-world-'));
    world = await buildWorld(dir, TINY_WORLD);
  }, 120_000);
  afterAll(() => cleanup());

  it('regenerates identically: the content digest is the one recorded for the tiny world', async () => {
    expect(world.contentDigest).toBe('5f517142c04c4dccf9ff9097843bce6ca97021e56da577a41ba4f4bf146c809a');
  });

  it('writes manifests whose rows round-trip through their schema, with files that match their digests', () => {
    for (const split of SPLITS) {
      const rows = readFileSync(world.splits[split].manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(rows.length).toBe(world.splits[split].frames);
      for (const r of rows) {
        expect(ManifestRow.parse(r)).toEqual(r);
        expect(sha(readFileSync(join(dir, r.path)))).toBe(r.sha256);
      }
    }
  });

  it('writes COCO ground truth that the evaluator accepts, with the objects\' metadata', () => {
    for (const split of SPLITS) {
      const coco = JSON.parse(readFileSync(world.splits[split].coco, 'utf8'));
      const gt = indexGroundTruth(coco, split);
      expect(gt.index.catNames).toEqual(['car', 'pedestrian', 'cyclist']);
      for (const a of coco.annotations) {
        expect(a.bbox[0] + a.bbox[2]).toBeLessThanOrEqual(CAMERA.width + 1e-9);
        expect(a.bbox[1] + a.bbox[3]).toBeLessThanOrEqual(CAMERA.height + 1e-9);
        expect(a.occlusion).toBeGreaterThanOrEqual(0);
        expect(a.occlusion).toBeLessThanOrEqual(1);
        expect(typeof a.track_id).toBe('number');
      }
    }
  });

  it('separates splits by scene, city and time', () => {
    const rows = Object.fromEntries(SPLITS.map((s) => [s, readFileSync(world.splits[s].manifest, 'utf8').trim().split('\n').map((l) => ManifestRow.parse(JSON.parse(l)))]));
    const scenes = SPLITS.map((s) => new Set(rows[s].map((r) => r.scene_id)));
    const cities = SPLITS.map((s) => new Set(rows[s].map((r) => r.city)));
    for (let i = 0; i < 3; i++) {
      for (let j = i + 1; j < 3; j++) {
        expect([...scenes[i]].filter((x) => scenes[j].has(x))).toEqual([]);
        expect([...cities[i]].filter((x) => cities[j].has(x))).toEqual([]);
        const lastI = Math.max(...rows[SPLITS[i]].map((r) => Date.parse(r.timestamp)));
        const firstJ = Math.min(...rows[SPLITS[j]].map((r) => Date.parse(r.timestamp)));
        expect(firstJ - lastI).toBeGreaterThanOrEqual(POLICY.minGapDays * 86_400_000);
      }
    }
  });

  it('renders on worker threads to the same bytes: every file as the single-thread build writes it', async () => {
    // The workers run dist/step.js's world-build body (src/world/render-pool.ts): this checks the build too.
    const files = (root: string) => (readdirSync(root, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[]).filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name))).sort();
    const other = tempDir('paddock-world-workers-');
    try {
      const seen: string[] = [];
      const r = await buildWorld(other.dir, TINY_WORLD, (done, total, what) => seen.push(`${done}/${total} ${what}`), renderOnWorkers({ script: join(ROOT, 'dist', 'step.js'), argv: ['world-build', '{"out":"-"}'], count: 3 }));
      expect(r.contentDigest).toBe(world.contentDigest);
      expect(seen).toHaveLength(13);
      expect(seen.at(-1)).toMatch(/^13\/13 /);
      const names = files(dir);
      // Frames of the three splits, the replay drive's bundle, six split manifests and the replay list, world.json.
      expect(names.length).toBe(18 + 9 + 9 + 1 + 7 + 1);
      expect(files(other.dir)).toEqual(names);
      for (const f of names) {
        // world.json names its own folder; every other file is the same bytes.
        if (f === 'world.json') expect(readFileSync(join(other.dir, f), 'utf8').replaceAll(other.dir, dir)).toBe(readFileSync(join(dir, f), 'utf8'));
        else expect(sha(readFileSync(join(other.dir, f))), f).toBe(sha(readFileSync(join(dir, f))));
      }
    } finally {
      other.cleanup();
    }
  });

  it('a render worker that cannot start is an error naming it, not a partial world', async () => {
    const other = tempDir('paddock-world-workers-');
    try {
      const missing = join(other.dir, 'no-such-step.js');
      await expect(buildWorld(join(other.dir, 'w'), TINY_WORLD, undefined, renderOnWorkers({ script: missing, count: 2 }))).rejects.toThrow(/world build: a render worker/);
      expect(readdirSync(other.dir).includes('w') ? readdirSync(join(other.dir, 'w')).includes('world.json') : false).toBe(false);
    } finally {
      other.cleanup();
    }
  });

  it('writes each replay drive as an MCAP bundle listed with its digest, 10 Hz, stable track ids', async () => {
    const listed = ReplayDrivesManifest.parse(JSON.parse(readFileSync(world.replay.manifest, 'utf8')));
    expect(world.replay.manifest).toBe(join(dir, 'manifests', 'replay_drives.json'));
    expect(listed.drives).toHaveLength(TINY_WORLD.replayDrives);
    expect(world.replay).toMatchObject({ drives: 1, frames: TINY_WORLD.replaySeconds * 10 });
    const entry = listed.drives[0];
    const job = planRenderJobs(TINY_WORLD).find((j) => j.kind === 'replay')!;
    if (job.kind !== 'replay') throw new Error('no replay job');
    const c = job.drive.conditions;
    expect(entry).toEqual({
      drive_id: job.drive.driveId,
      path: `drives/${job.drive.driveId}.mcap`,
      sha256: sha(readFileSync(join(dir, entry.path))),
      bytes: readFileSync(join(dir, entry.path)).length,
      frames: 20,
      rate_hz: 10,
      duration_s: 1.9,
      start: new Date(job.drive.start).toISOString(),
      seed: job.drive.seed,
      conditions: { weather: c.weather, time_of_day: c.timeOfDay, road_type: c.roadType, region: c.region },
    });
    const r = await readDrive(join(dir, entry.path));
    // The road's cross-section as the drive made it (the scene's x is to the right: y = -x).
    const road = new Drive({ driveId: entry.drive_id, seed: entry.seed, conditions: planRenderJobs(TINY_WORLD).flatMap((j) => (j.kind === 'replay' ? [j.drive.conditions] : []))[0] }).state().road;
    expect(r.info).toEqual({ driveId: entry.drive_id, conditions: entry.conditions, calibration: WORLD_CALIBRATION, extrinsics: WORLD_EXTRINSICS, rateHz: 10, seed: entry.seed, road: { lanes: road.lanes, laneWidth: road.laneWidth, leftEdgeY: 0 - road.leftEdge, oncomingLanes: road.oncomingBelow, sidewalk: road.sidewalk }, frames: 20, sha256: entry.sha256 });
    expect(r.frames.map((f) => f.captureNs - r.frames[0].captureNs)).toEqual(r.frames.map((_, t) => BigInt(t) * 100_000_000n));
    expect(r.frames[0].captureNs).toBe(BigInt(job.drive.start) * 1_000_000n);
    const ids = r.frames.map((f) => new Set(f.gt.map((o) => o.trackId)));
    expect([...ids[0]].filter((x) => ids[1].has(x)).length).toBeGreaterThan(0);
  });

  it('a drive bundle reads back with the render\'s pixels (as JPEG) and ground truth, in REP-103', async () => {
    const listed = ReplayDrivesManifest.parse(JSON.parse(readFileSync(world.replay.manifest, 'utf8')));
    const r = await readDrive(join(dir, listed.drives[0].path));
    const job = planRenderJobs(TINY_WORLD).find((j) => j.kind === 'replay')!;
    if (job.kind !== 'replay') throw new Error('no replay job');
    const drive = new Drive({ driveId: job.drive.driveId, seed: job.drive.seed, conditions: job.drive.conditions });
    let objects = 0;
    for (const f of r.frames) {
      const state = drive.state();
      const frame = renderFrame(state);
      // JPEG (quality 90, no chroma subsampling): the decoded pixels are the render's within the codec's error.
      expect(f.format).toBe('jpeg');
      const raw = await sharp(f.data).raw().toBuffer();
      expect(raw.length).toBe(frame.rgb.length);
      let err = 0;
      for (let k = 0; k < raw.length; k++) err += Math.abs(raw[k] - frame.rgb[k]);
      expect(err / raw.length, `frame ${f.index} mean absolute error`).toBeLessThan(3);
      const actors = new Map(state.actors.map((a) => [a.trackId, a]));
      expect(f.gt).toEqual(frame.objects.map((o) => worldGtObject(o, actors.get(o.trackId)!)));
      // The conversion, spelled out: x forward = scene z, y left = -scene x, z up = scene y; ground velocity = relative + ego's.
      f.gt.forEach((g, i) => {
        const o = frame.objects[i];
        expect(g.position).toEqual([o.position[2], 0 - o.position[0], o.position[1]]);
        expect(g.box).toEqual(o.bbox);
        expect(g.visibility).toBeCloseTo(1 - o.occlusion, 9);
        expect(g.velocity[0] - state.egoSpeed).toBeCloseTo(o.velocity[2], 1);
        expect(g.size[0]).toBeGreaterThan(g.size[1] * (g.cls === 'pedestrian' ? 0.4 : 1));
        objects++;
      });
      expect(f.ego).toEqual({ timeNs: f.captureNs, position: [state.egoOdometer, 0, 0], orientation: [0, 0, 0, 1], speed: state.egoSpeed });
      drive.step();
    }
    expect(objects).toBeGreaterThan(20);
  });
});

describe('the default world plan', () => {
  it('has 20 replay drives of 30 s over every weather, time of day, road type and region', () => {
    const drives = planRenderJobs(DEFAULT_WORLD).flatMap((j) => (j.kind === 'replay' ? [j] : []));
    expect(drives).toHaveLength(20);
    expect(new Set(drives.map((d) => d.ticks))).toEqual(new Set([300]));
    expect(new Set(drives.map((d) => d.drive.driveId)).size).toBe(20);
    for (const key of ['region', 'weather', 'timeOfDay', 'roadType'] as const) {
      expect(new Set(drives.map((d) => d.drive.conditions[key])).size, key).toBe(key === 'weather' ? 4 : 3);
    }
  });

  it('puts every region, weather, time of day and road type in every split', () => {
    for (const split of SPLITS) {
      const plan = planScenes(split, DEFAULT_WORLD);
      for (const key of ['region', 'weather', 'timeOfDay', 'roadType'] as const) {
        expect(new Set(plan.map((p) => p.conditions[key])).size, `${split} ${key}`).toBe(key === 'weather' ? 4 : 3);
      }
    }
  });
});

describe('slices.yaml', () => {
  it('round-trips through its schema and selects frames', () => {
    const file = SliceFile.parse(parseYaml(readFileSync(join(FIXTURES, 'world', 'slices.yaml'), 'utf8')));
    expect(SliceFile.parse(JSON.parse(JSON.stringify(file)))).toEqual(file);
    const s = file.slices.find((x) => x.id === 'night+rain+pedestrian')!;
    expect(s).toMatchObject({ class: ['pedestrian'], critical: true });
    expect(frameInSlice(s, { weather: 'rain', time_of_day: 'night', road_type: 'urban', region: 'east' })).toBe(true);
    expect(frameInSlice(s, { weather: 'rain', time_of_day: 'day', road_type: 'urban', region: 'east' })).toBe(false);
    expect(() => SliceFile.parse({ version: 1, slices: [{ id: 'a' }, { id: 'a' }] })).toThrow(/duplicate slice id/);
  });
});
