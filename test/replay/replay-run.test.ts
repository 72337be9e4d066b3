/**
 * One drive through the real detector (ONNX Runtime, the committed candidate): a bundle whose
 * camera has lens distortion is undistorted per its calibration before the model sees it (the
 * detections agree with the undistorted drive's; told it is a pinhole camera, they agree much
 * less); `recorded` timing really releases frames at their capture times; detections of the
 * nominal replay are reused under a timing variant and faulted frames are run again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { buildWorld, TINY_WORLD } from '../../src/world/dataset.js';
import { readDrive, writeDriveBundle } from '../../src/replay/bundle.js';
import { distortImage } from '../../src/replay/undistort.js';
import { openFrameDetector, type FrameDetector } from '../../src/replay/detector.js';
import { loadDrive, replayVariant, type DetectionCache } from '../../src/replay/replay-run.js';
import { matchDetections } from '../../src/replay/divergence.js';
import { TrackerParams } from '../../src/replay/tracker.js';
import { ReplayVariant } from '../../src/replay/stress.js';
import { FIXTURES, tempDir } from '../helpers/fixtures.js';
import type { CameraCalibration } from '../../src/replay/types.js';

let dir: string;
let cleanup: () => void;
let bundle: string;
let detector: FrameDetector;
const tracker = TrackerParams.parse({});

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('paddock-replay-run-'));
  const world = await buildWorld(join(dir, 'world'), TINY_WORLD);
  const listed = JSON.parse((await import('node:fs')).readFileSync(world.replay.manifest, 'utf8')) as { drives: { path: string }[] };
  bundle = join(dir, 'world', listed.drives[0].path);
  detector = await openFrameDetector(join(FIXTURES, 'world', 'models', 'candidate'));
}, 120_000);
afterAll(async () => {
  await detector?.close();
  cleanup?.();
});

/** Agreement of two replays' detections (score >= 0.3), frame by frame: matched / all. */
function agreement(a: { dets: { box: [number, number, number, number]; score: number; cls: string }[] }[], b: typeof a): number {
  let matched = 0;
  let total = 0;
  a.forEach((f, i) => {
    const m = matchDetections(f.dets.filter((d) => d.score >= 0.3), b[i].dets.filter((d) => d.score >= 0.3));
    matched += 2 * m.detMatched;
    total += 2 * m.detMatched + m.detOnlyA + m.detOnlyB;
  });
  return total ? matched / total : 1;
}

describe('replayVariant', () => {
  it('undistorts a distorted camera per its calibration before the model sees the frame', async () => {
    const clean = await readDrive(bundle);
    const plain = await loadDrive(bundle, clean.info, clean.frames);
    const cal: CameraCalibration = { ...clean.info.calibration, distortionModel: 'plumb_bob', D: [-0.25, 0.08, 0.001, -0.001, 0] };
    const sharp = (await import('sharp')).default;
    const frames = await Promise.all(
      clean.frames.map(async (f) => {
        const warped = distortImage(plain.pixels(f.index), plain.width, plain.height, cal);
        return { captureNs: f.captureNs, format: 'png', data: await sharp(warped, { raw: { width: plain.width, height: plain.height, channels: 3 } }).png().toBuffer(), gt: f.gt, ...(f.ego ? { ego: f.ego } : {}) };
      }),
    );
    const header = { driveId: 'distorted', conditions: clean.info.conditions, calibration: cal, rateHz: clean.info.rateHz };
    const distorted = join(dir, 'distorted.mcap');
    const lying = join(dir, 'lying.mcap');
    await writeDriveBundle(distorted, header, frames);
    await writeDriveBundle(lying, { ...header, calibration: clean.info.calibration }, frames);
    const run = async (file: string) => {
      const b = await readDrive(file);
      const drive = await loadDrive(file, b.info, b.frames);
      const r = await replayVariant(drive, { models: { m: detector.detect.bind(detector) }, tracker, timing: 'fast', deadlineMs: 100, cache: new Map() });
      return r.frames.map((f) => f.models.m);
    };
    const reference = await run(bundle);
    const undistorted = await run(distorted);
    const raw = await run(lying);
    const good = agreement(undistorted, reference);
    const bad = agreement(raw, reference);
    expect(good, `undistorted ${good.toFixed(3)} vs raw ${bad.toFixed(3)}`).toBeGreaterThan(0.75);
    // Told it is a pinhole camera, the model sees bent frames: its detections agree less.
    expect(good).toBeGreaterThan(bad);
  }, 120_000);

  it('releases frames at their capture times with recorded timing, and counts a frame late when it finishes past the deadline', async () => {
    const b = await readDrive(bundle);
    const drive = await loadDrive(bundle, b.info, b.frames.slice(0, 10));
    const t0 = performance.now();
    const r = await replayVariant(drive, { models: { m: detector.detect.bind(detector) }, tracker, timing: 'recorded', deadlineMs: 100, cache: new Map() });
    const wall = performance.now() - t0;
    // Ten frames at 10 Hz: the last is released 0.9 s after the first.
    expect(wall).toBeGreaterThanOrEqual(900);
    expect(r.frames.every((f) => f.models.m.doneMs >= f.t * 1000)).toBe(true);
    // One slow frame (150 ms) is late, and so is the next, which waited for it in the queue
    // (arrives at 100 ms, starts at 150, done at 210); the one after catches up.
    let k = 0;
    const slow = async (rgb: Uint8Array, w: number, h: number) => ({ ...(await detector.detect(rgb, w, h)), latencyMs: k++ === 0 ? 150 : 60 });
    const behind = await replayVariant(drive, { models: { slow }, tracker, timing: 'fast', deadlineMs: 100, cache: new Map() });
    expect(behind.frames.map((f) => f.models.slow.late)).toEqual([true, true, ...Array(8).fill(false)]);
    expect(behind.frames.slice(0, 3).map((f) => f.models.slow.doneMs)).toEqual([150, 210, 270]);
  }, 60_000);

  it('reuses nominal detections under a timing variant and runs faulted frames again', async () => {
    const b = await readDrive(bundle);
    const drive = await loadDrive(bundle, b.info, b.frames);
    let calls = 0;
    const counting = async (rgb: Uint8Array, w: number, h: number) => {
      calls++;
      return detector.detect(rgb, w, h);
    };
    const cache: DetectionCache = new Map();
    const opts = { models: { m: counting }, tracker, timing: 'fast' as const, deadlineMs: 100, cache };
    await replayVariant(drive, opts);
    expect(calls).toBe(20);
    const jitter = await replayVariant(drive, { ...opts, variant: ReplayVariant.parse({ kind: 'jitter', name: 'j', seed: 1 }) });
    expect(calls).toBe(20);
    expect(jitter.frames.every((f) => f.models.m.reused)).toBe(true);
    const blackout = await replayVariant(drive, { ...opts, variant: ReplayVariant.parse({ kind: 'blackout', name: 'b', seed: 1, segments: [{ at_s: 0.5, duration_s: 0.5 }] }) });
    const faulted = blackout.frames.filter((f) => f.delivery.fault).length;
    expect(faulted).toBe(5);
    expect(calls).toBe(25);
    // A black frame gives the model nothing to see.
    expect(blackout.frames.filter((f) => f.delivery.fault).every((f) => f.models.m.dets.every((d) => d.score < 0.5))).toBe(true);
  }, 60_000);
});
