/**
 * The replay tracker's per-frame cost (src/replay/tracker.ts) and undistortion's per-frame cost
 * (src/replay/undistort.ts).
 *
 * Tracker: one minute at 10 Hz of n objects moving at constant velocities, seen with 3% box
 * noise and 10% misses, for n = 10, 50, 200; the cost of each update as trackDrive measures it,
 * median and p99. Baseline in the same run: the part a SORT cannot avoid, an n x n IoU matrix
 * through linearSumAssignment, timed alone on the same frames; the ratio says what the Kalman
 * filter and the track rules add on top.
 *
 * Undistortion: a 320 x 192 frame (the world's camera) and a 1280 x 720 one through a plumb_bob
 * calibration: building the remap table once, then each frame's remap; baseline, a copy of the
 * frame's bytes (Uint8Array.prototype.slice).
 */
import { seededRandom } from '../src/files/prng.js';
import { linearSumAssignment } from '../src/metrics/assignment.js';
import { percentile } from '../src/metrics/percentile.js';
import { trackDrive } from '../src/replay/tracker.js';
import { iouXywh } from '../src/model/decode.js';
import type { CameraCalibration, Detection } from '../src/replay/types.js';
import { undistortImage, undistortMap } from '../src/replay/undistort.js';
import { median, writeResults } from './common.js';

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function drive(n: number, seed: number): { timeS: number; dets: Detection[] }[] {
  const r = seededRandom(seed);
  const objs = Array.from({ length: n }, () => ({ x: r() * 1280, y: r() * 720, vx: (r() - 0.5) * 100, vy: (r() - 0.5) * 30, w: 20 + r() * 60, h: 20 + r() * 50 }));
  return Array.from({ length: 600 }, (_, i) => {
    const t = i / 10;
    const dets: Detection[] = [];
    for (const o of objs) {
      if (r() < 0.1) continue;
      const w = o.w * (1 + 0.03 * gaussian(r));
      const h = o.h * (1 + 0.03 * gaussian(r));
      dets.push({ box: [o.x + o.vx * t + 0.03 * o.w * gaussian(r) - w / 2, o.y + o.vy * t + 0.03 * o.h * gaussian(r) - h / 2, w, h], score: 0.5 + 0.5 * r(), cls: 'car' });
    }
    return { timeS: t, dets };
  });
}

/** The baseline: per frame, the IoU matrix of the previous frame's detections with this frame's, and its assignment. */
function assignmentOnly(frames: { dets: Detection[] }[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < frames.length; i++) {
    const a = frames[i - 1].dets;
    const b = frames[i].dets;
    const t0 = process.hrtime.bigint();
    const m = new Float64Array(a.length * b.length);
    for (let r = 0; r < a.length; r++) for (let c = 0; c < b.length; c++) m[r * b.length + c] = iouXywh(a[r].box, b[c].box);
    linearSumAssignment(m, a.length, b.length, { maximize: true });
    out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return out;
}

function trackerFigures(): Record<string, unknown> {
  const figures: Record<string, unknown> = {};
  for (const n of [10, 50, 200]) {
    const frames = drive(n, n);
    const tracked: number[] = [];
    const base: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      tracked.push(...trackDrive(frames, {}).costUs);
      base.push(...assignmentOnly(frames));
    }
    const tp50 = percentile(tracked, 0.5);
    const tp99 = percentile(tracked, 0.99);
    const bp50 = percentile(base, 0.5);
    console.log(`tracker, ${n} objects: per frame p50 ${tp50.toFixed(1)} us, p99 ${tp99.toFixed(1)} us; IoU matrix + assignment alone p50 ${bp50.toFixed(1)} us (tracker x${(tp50 / bp50).toFixed(2)})`);
    figures[`objects${n}`] = { p50Us: tp50, p99Us: tp99, baselineP50Us: bp50, ratio: tp50 / bp50, frames: tracked.length };
  }
  return figures;
}

function calibration(width: number, height: number): CameraCalibration {
  const f = width * 0.8;
  return { frameId: 'camera_front', width, height, distortionModel: 'plumb_bob', D: [-0.28, 0.07, 0.001, -0.0005, -0.008], K: [f, 0, width / 2, 0, f, height / 2, 0, 0, 1], R: [1, 0, 0, 0, 1, 0, 0, 0, 1], P: [f, 0, width / 2, 0, 0, f, height / 2, 0, 0, 0, 1, 0] };
}

function undistortFigures(): Record<string, unknown> {
  const figures: Record<string, unknown> = {};
  for (const [w, h] of [[320, 192], [1280, 720]]) {
    const cal = calibration(w, h);
    const r = seededRandom(w);
    const rgb = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(r() * 256));
    let t = performance.now();
    undistortMap(cal);
    const tableMs = performance.now() - t;
    const remap: number[] = [];
    const copy: number[] = [];
    for (let rep = 0; rep < 20; rep++) {
      t = performance.now();
      undistortImage(rgb, w, h, cal);
      remap.push(performance.now() - t);
      t = performance.now();
      rgb.slice();
      copy.push(performance.now() - t);
    }
    const m = median(remap);
    const c = median(copy);
    console.log(`undistort ${w}x${h}: table ${tableMs.toFixed(1)} ms once; per frame ${m.toFixed(2)} ms (a copy of the bytes ${c.toFixed(3)} ms, x${(m / c).toFixed(0)})`);
    figures[`${w}x${h}`] = { tableMs, frameMs: remap, copyMs: copy, medianFrameMs: m, medianCopyMs: c, ratio: m / c };
  }
  return figures;
}

const tracker = trackerFigures();
const undistort = undistortFigures();
console.log(`figures: ${writeResults('tracker', { tracker, undistort })}`);
