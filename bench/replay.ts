/**
 * What the replay pipeline adds on top of the model, per frame. Two drives of the default world
 * (the first two of build/world/manifests/replay_drives.json, 300 frames at 10 Hz each), or, when
 * that world is not built, the tiny world's one drive, built into build/replay-bench/world.
 *
 * Per drive: the bundle read (src/replay/bundle-files.ts readBundle: MCAP, zstd chunks, protobuf)
 * and decoded (src/replay/replay-run.ts loadDrive: JPEG to RGB8, undistortion where the
 * calibration has distortion), timed once. Then 3 rounds, in alternating order, of
 *   - the baseline, the bare detector (src/replay/detector.ts detect: pre-process, ONNX Runtime,
 *     decode + NMS) called on the same decoded frames one after another, and
 *   - replayVariant, nominal, timing 'fast' (frames back to back: the input queue's plan, the
 *     detector, the late-frame clock, then the tracker over the drive), with a fresh detection
 *     cache so that every frame is detected again, followed by scoreReplay (TrackEval's metrics,
 *     class-agnostic and per class, TID/LGD, TTFD, ghosts) on its output;
 * medians. Since the detector's own time varies from pass to pass by more than the pipeline adds,
 * the replay's part outside the detector is also taken within each replay: its wall time less
 * the sum of the detect calls' latencies it measured itself ("outside the detector").
 * The candidate world model, 2 intra-op threads (the replay step's settings).
 * Checks that the replay's detections are the bare loop's, frame for frame.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { percentile } from '../src/metrics/percentile.js';
import { readBundle } from '../src/replay/bundle-files.js';
import { openFrameDetector, type FrameDetector } from '../src/replay/detector.js';
import { loadDrive, replayVariant, type LoadedDrive } from '../src/replay/replay-run.js';
import { scoreReplay } from '../src/replay/score.js';
import { DEFAULT_TRACKER_PARAMS } from '../src/replay/tracker.js';
import type { Detection } from '../src/replay/types.js';
import { buildWorld, TINY_WORLD } from '../src/world/dataset.js';
import { median, writeResults, ROOT } from './common.js';

const MODEL = join(ROOT, 'fixtures', 'world', 'models', 'candidate');
const ROUNDS = 5;
const DEADLINE_MS = 100;
const GHOST_FRAMES = 5;

/** The drives to replay: two of the default world's, else the tiny world's (built if need be). */
async function driveFiles(): Promise<{ world: string; files: string[] }> {
  const index = (root: string) => {
    const file = join(root, 'manifests', 'replay_drives.json');
    if (!existsSync(file)) return [];
    const drives = (JSON.parse(readFileSync(file, 'utf8')) as { drives: { path: string }[] }).drives;
    return drives.map((d) => join(root, d.path)).filter((f) => existsSync(f));
  };
  const world = join(ROOT, 'build', 'world');
  const defaults = index(world);
  if (defaults.length >= 2) return { world, files: defaults.slice(0, 2) };
  const tiny = join(ROOT, 'build', 'replay-bench', 'world');
  if (index(tiny).length === 0) {
    console.log(`no default world in ${world} (paddock world build makes it); building the tiny world into ${tiny}`);
    await buildWorld(tiny, TINY_WORLD);
  }
  return { world: tiny, files: index(tiny) };
}

const sameDetections = (a: Detection[], b: Detection[]) =>
  a.length === b.length && a.every((d, i) => d.cls === b[i].cls && d.score === b[i].score && d.box.every((v, k) => v === b[i].box[k]));

interface DriveRound {
  detectMs: number;
  /** Each detect call's own latency, in the bare loop and inside the replay. */
  bareLatencies: number[];
  replayLatencies: number[];
  replayMs: number;
  /** The replay's wall time less its detect calls' own latencies: queue, clock, cache, tracker. */
  outsideMs: number;
  scoreMs: number;
  trackerUs: number[];
  mismatched: number;
}

/** The baseline: the detector alone on every decoded frame, in order. */
async function detectOnly(detector: FrameDetector, drive: LoadedDrive): Promise<{ ms: number; dets: Detection[][]; latencies: number[] }> {
  const dets: Detection[][] = [];
  const latencies: number[] = [];
  const t = performance.now();
  for (let i = 0; i < drive.frames.length; i++) {
    const r = await detector.detect(drive.pixels(i), drive.width, drive.height);
    dets.push(r.dets);
    latencies.push(r.latencyMs);
  }
  return { ms: performance.now() - t, dets, latencies };
}

async function replayOnce(detector: FrameDetector, drive: LoadedDrive, baseline: Detection[][] | undefined): Promise<Omit<DriveRound, 'detectMs' | 'bareLatencies'>> {
  const detect = detector.detect.bind(detector);
  let t = performance.now();
  const r = await replayVariant(drive, { models: { candidate: detect }, tracker: DEFAULT_TRACKER_PARAMS, timing: 'fast', deadlineMs: DEADLINE_MS, cache: new Map() });
  const replayMs = performance.now() - t;
  const outsideMs = replayMs - r.frames.reduce((a, f) => a + f.models.candidate.latencyMs, 0);
  t = performance.now();
  scoreReplay(drive, r, { ghostFrames: GHOST_FRAMES });
  const scoreMs = performance.now() - t;
  if (r.frames.length !== drive.frames.length) throw new Error(`${drive.file}: the nominal replay processed ${r.frames.length} of ${drive.frames.length} frames`);
  const mismatched = baseline ? r.frames.filter((f) => !sameDetections(f.models.candidate.dets, baseline[f.delivery.source])).length : 0;
  return { replayMs, outsideMs, replayLatencies: r.frames.map((f) => f.models.candidate.latencyMs), scoreMs, trackerUs: [...r.tracks.candidate.costUs], mismatched };
}

const ms = (x: number) => (Math.abs(x) >= 10 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toFixed(3));

async function main(): Promise<void> {
  const loadBefore = loadavg()[0];
  const { world, files } = await driveFiles();
  const detector = await openFrameDetector(MODEL);
  const perDrive: Record<string, unknown>[] = [];
  const all = { frames: 0, read: 0, decode: 0, detect: 0, replay: 0, outside: 0, score: 0, tracker: [] as number[], mismatched: 0 };
  try {
    for (const file of files) {
      let t = performance.now();
      const { info, frames } = await readBundle(file);
      const readMs = performance.now() - t;
      t = performance.now();
      const drive = await loadDrive(file, info, frames);
      const decodeMs = performance.now() - t;
      const n = frames.length;
      // Warm-up: the session's first runs allocate and tune; not timed.
      for (let i = 0; i < Math.min(10, n); i++) await detector.detect(drive.pixels(i), drive.width, drive.height);
      const rounds: DriveRound[] = [];
      for (let k = 0; k < ROUNDS; k++) {
        // Alternate which goes first, so drift in the machine's load falls on both alike.
        if (k % 2 === 0) {
          const base = await detectOnly(detector, drive);
          rounds.push({ detectMs: base.ms, bareLatencies: base.latencies, ...(await replayOnce(detector, drive, base.dets)) });
        } else {
          const rep = await replayOnce(detector, drive, undefined);
          const base = await detectOnly(detector, drive);
          rounds.push({ detectMs: base.ms, bareLatencies: base.latencies, ...rep });
        }
      }
      // The detections check, on the first round's pair (the bare loop ran just before the replay).
      const mismatched = rounds[0].mismatched;
      const detect = median(rounds.map((r) => r.detectMs)) / n;
      const replay = median(rounds.map((r) => r.replayMs)) / n;
      const score = median(rounds.map((r) => r.scoreMs)) / n;
      const outside = median(rounds.map((r) => r.outsideMs)) / n;
      const trackerUs = rounds.flatMap((r) => r.trackerUs);
      const bareP50 = percentile(rounds.flatMap((r) => r.bareLatencies), 0.5);
      const replayP50 = percentile(rounds.flatMap((r) => r.replayLatencies), 0.5);
      const gt = frames.reduce((a, f) => a + f.gt.length, 0);
      console.log(`${info.driveId}: ${n} frames ${drive.width}x${drive.height} ${frames[0]?.format} at ${info.rateHz} Hz, ${(gt / n).toFixed(1)} GT objects/frame; ${Object.values(info.conditions).join(', ')}`);
      console.log(`  read ${ms(readMs / n)} ms/frame, decode ${ms(decodeMs / n)} ms/frame (once)`);
      console.log(`  per frame: detect only ${ms(detect)} ms; replay (detect + tracker + queue) ${ms(replay)} ms (x${(replay / detect).toFixed(3)}, ${replay >= detect ? '+' : ''}${ms(replay - detect)} ms; outside the detector ${ms(outside)} ms); scoring ${ms(score)} ms; replay + scoring x${((replay + score) / detect).toFixed(3)}`);
      console.log(`  a detect call's own latency, p50: ${ms(bareP50)} ms in the bare loop, ${ms(replayP50)} ms inside the replay`);
      console.log(`  tracker ${percentile(trackerUs, 0.5).toFixed(1)} us/frame p50, ${percentile(trackerUs, 0.99).toFixed(1)} p99; replay's detections equal the bare loop's: ${mismatched === 0} (${mismatched} frames differ)`);
      perDrive.push({
        drive: info.driveId, file, frames: n, width: drive.width, height: drive.height, format: frames[0]?.format, gtObjects: gt,
        readMs, decodeMs, detectMs: rounds.map((r) => r.detectMs), replayMs: rounds.map((r) => r.replayMs), outsideMs: rounds.map((r) => r.outsideMs), scoreMs: rounds.map((r) => r.scoreMs),
        perFrame: { detectMs: detect, replayMs: replay, outsideDetectorMs: outside, scoreMs: score, readMs: readMs / n, decodeMs: decodeMs / n, trackerP50Us: percentile(trackerUs, 0.5), trackerP99Us: percentile(trackerUs, 0.99), detectCallP50Ms: { bare: bareP50, inReplay: replayP50 } },
        overhead: replay / detect, overheadWithScoring: (replay + score) / detect, mismatchedFrames: mismatched,
      });
      all.frames += n;
      all.read += readMs;
      all.decode += decodeMs;
      all.detect += detect * n;
      all.replay += replay * n;
      all.outside += outside * n;
      all.score += score * n;
      all.tracker.push(...trackerUs);
      all.mismatched += mismatched;
    }
  } finally {
    await detector.close();
  }
  const f = all.frames;
  const loadAfter = loadavg()[0];
  const overall = {
    frames: f, detectMs: all.detect / f, replayMs: all.replay / f, outsideDetectorMs: all.outside / f, scoreMs: all.score / f, readMs: all.read / f, decodeMs: all.decode / f,
    trackerP50Us: percentile(all.tracker, 0.5), trackerMeanUs: all.tracker.reduce((a, x) => a + x, 0) / all.tracker.length,
    overhead: all.replay / all.detect, overheadWithScoring: (all.replay + all.score) / all.detect,
  };
  console.log(`all ${files.length} drives, ${f} frames, per frame: detect only ${ms(overall.detectMs)} ms | replay ${ms(overall.replayMs)} ms (x${overall.overhead.toFixed(3)} the bare detector; outside the detector ${ms(overall.outsideDetectorMs)} ms) | scoring ${ms(overall.scoreMs)} ms (replay + scoring x${overall.overheadWithScoring.toFixed(3)}) | tracker ${overall.trackerP50Us.toFixed(1)} us p50, ${overall.trackerMeanUs.toFixed(1)} us mean | decode ${ms(overall.decodeMs)} ms, read ${ms(overall.readMs)} ms`);
  console.log(`load average ${loadBefore.toFixed(2)} -> ${loadAfter.toFixed(2)}`);
  console.log(`figures: ${writeResults('replay', { world, model: MODEL, rounds: ROUNDS, load: [loadBefore, loadAfter], drives: perDrive, overall })}`);
  if (all.mismatched > 0) process.exit(1);
}

await main();
