/**
 * The replay tracker (src/replay/tracker.ts): determinism; hand-made cases for its rules (one id
 * per object, confirmation, deletion, coasting on the velocity, crossing objects, score_min, class
 * checks, a dropped frame); its Kalman filter against an independent numpy implementation of the
 * same matrices; noisy synthetic drives, by hand and by TrackEval's metrics (src/metrics/tracking.ts);
 * refusals of bad input.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { BoxXYWH, Detection, TrackBox } from '../../src/replay/types.js';
import {
  DEFAULT_TRACKER_PARAMS,
  TrackerParams,
  createTracker,
  createTrackerState,
  kalmanInit,
  kalmanPredict,
  kalmanUpdate,
  stepTracker,
  trackDrive,
  type KalmanState,
  type TrackerParamsInput,
} from '../../src/replay/tracker.js';
import { evaluateTracking } from '../../src/metrics/tracking.js';
import { pythonBin } from '../../src/pack/python.js';
import { seededRandom } from '../../src/files/prng.js';

const DT = 0.1;

/** A detection centred at (cx, cy). */
function det(cx: number, cy: number, w: number, h: number, cls = 'car', score = 0.9): Detection {
  return { box: [cx - w / 2, cy - h / 2, w, h], score, cls };
}

const cx = (t: TrackBox) => t.box[0] + t.box[2] / 2;
const cy = (t: TrackBox) => t.box[1] + t.box[3] / 2;

/** An object at constant velocity, 10 Hz, detected in frames [0, seen). */
function constantVelocity(frames: number, seen = frames, v = 50): { timeS: number; dets: Detection[] }[] {
  return Array.from({ length: frames }, (_, i) => ({ timeS: i * DT, dets: i < seen ? [det(100 + v * i * DT, 80, 40, 30)] : [] }));
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

interface Truth {
  id: number;
  box: BoxXYWH;
}

/**
 * A drive of `objects` boxes moving at constant velocities (some crossing), 10 Hz for 12 s, seen
 * with box noise of 3% of their size, missed 10% of frames, plus clutter false positives.
 */
function syntheticDrive(seed: number, objects = 6): { frames: { timeS: number; dets: Detection[] }[]; truth: Truth[][] } {
  const r = seededRandom(seed);
  const objs = Array.from({ length: objects }, (_, k) => ({
    id: k + 1,
    x: 40 + r() * 500,
    y: 40 + r() * 300,
    vx: (r() - 0.5) * 120,
    vy: (r() - 0.5) * 40,
    w: 30 + r() * 50,
    h: 25 + r() * 40,
    from: Math.floor(r() * 30),
    to: 90 + Math.floor(r() * 30),
  }));
  const frames: { timeS: number; dets: Detection[] }[] = [];
  const truth: Truth[][] = [];
  for (let i = 0; i < 120; i++) {
    const t = i * DT;
    const gt: Truth[] = [];
    const dets: Detection[] = [];
    for (const o of objs) {
      if (i < o.from || i >= o.to) continue;
      const c = [o.x + o.vx * t, o.y + o.vy * t];
      gt.push({ id: o.id, box: [c[0] - o.w / 2, c[1] - o.h / 2, o.w, o.h] });
      if (r() < 0.1) continue;
      dets.push(det(c[0] + 0.03 * o.w * gaussian(r), c[1] + 0.03 * o.h * gaussian(r), o.w * (1 + 0.03 * gaussian(r)), o.h * (1 + 0.03 * gaussian(r)), 'car', 0.5 + 0.5 * r()));
    }
    if (r() < 0.2) dets.push(det(r() * 640, r() * 400, 20 + r() * 30, 20 + r() * 30, 'car', 0.3 + 0.3 * r()));
    frames.push({ timeS: t, dets });
    truth.push(gt);
  }
  return { frames, truth };
}

describe('tracker: determinism', () => {
  it('the same frames give the same ids and boxes: twice, from a new tracker, and step by step', () => {
    const { frames } = syntheticDrive(7);
    const a = trackDrive(frames, {});
    const b = trackDrive(frames, {});
    expect(b.tracks).toEqual(a.tracks);
    expect(b.live).toEqual(a.live);
    const t = createTracker();
    const c = frames.map((f) => t.update(f.dets, f.timeS).tracks);
    expect(c).toEqual(a.tracks);
    expect(a.tracks.flat().length).toBeGreaterThan(300);
  });

  it('stepTracker leaves the state it was given as it was; a snapshot resumes identically', () => {
    const { frames } = syntheticDrive(3);
    const t = createTracker();
    frames.slice(0, 60).forEach((f) => t.update(f.dets, f.timeS));
    const snap = t.snapshot();
    const before = structuredClone(snap);
    const rest = frames.slice(60).map((f) => t.update(f.dets, f.timeS).tracks);
    expect(snap).toEqual(before);
    const resumed = createTracker({}, JSON.parse(JSON.stringify(snap)));
    expect(frames.slice(60).map((f) => resumed.update(f.dets, f.timeS).tracks)).toEqual(rest);
  });
});

describe('tracker: rules', () => {
  it('a constant-velocity object keeps one id; confirmed after min_hits; its cost is measured per frame', () => {
    const frames = constantVelocity(30);
    const out = trackDrive(frames, { min_hits: 3 });
    expect(out.live.every((f) => f.length === 1 && f[0].id === 1)).toBe(true);
    expect(out.tracks.map((f) => f.length)).toEqual([0, 0, ...new Array(28).fill(1)]);
    expect(out.live.slice(0, 3).map((f) => f[0].confirmed)).toEqual([false, false, true]);
    expect(out.costUs.length).toBe(30);
    expect(out.costUs.every((c) => Number.isFinite(c) && c > 0)).toBe(true);
    expect(trackDrive(frames, { min_hits: 1 }).tracks[0]).toHaveLength(1);
  });

  it('a confirmed track coasts while younger than max_age_s, then is deleted; coasting is reported only when asked', () => {
    const frames = constantVelocity(20, 10);
    const quiet = trackDrive(frames, { max_age_s: 0.3 });
    const loud = trackDrive(frames, { max_age_s: 0.3, report_coasting: true });
    // Last match at frame 9 (0.9 s); coasting at 1.0, 1.1, 1.2 s; deleted at 1.3 s.
    expect(quiet.live.slice(9, 14).map((f) => f.map((t) => t.sinceUpdate))).toEqual([[0], [1], [2], [3], []]);
    expect(quiet.tracks.slice(9, 14).map((f) => f.length)).toEqual([1, 0, 0, 0, 0]);
    expect(loud.tracks.slice(9, 14).map((f) => f.map((t) => t.sinceUpdate))).toEqual([[0], [1], [2], [3], []]);
    expect(loud.tracks[11][0].confirmed).toBe(true);
  });

  it('a tentative track that misses a frame is deleted', () => {
    const t = createTracker({ min_hits: 3 });
    t.update([det(100, 80, 40, 30)], 0);
    expect(t.update([], 0.1).live).toEqual([]);
    expect(t.update([det(100, 80, 40, 30)], 0.2).live.map((x) => x.id)).toEqual([2]);
  });

  it('coasting boxes follow the estimated velocity: the prediction is the last estimate plus k dt v', () => {
    const t = createTracker({ max_age_s: 1, report_coasting: true });
    constantVelocity(20).forEach((f) => t.update(f.dets, f.timeS));
    const s = t.snapshot().tracks[0];
    // Exact constant-velocity detections: the estimate has converged to the motion.
    expect(s.x[4]).toBeCloseTo(50, 0);
    expect(Math.abs(s.x[5]) + Math.abs(s.x[6]) + Math.abs(s.x[7])).toBeLessThan(0.5);
    for (let k = 1; k <= 5; k++) {
      const b = t.update([], 1.9 + k * DT).tracks[0];
      expect(b.sinceUpdate).toBe(k);
      expect(cx(b)).toBeCloseTo(s.x[0] + k * DT * s.x[4], 9);
      expect(cy(b)).toBeCloseTo(s.x[1] + k * DT * s.x[5], 9);
      expect(b.box[2]).toBeCloseTo(s.x[2] + k * DT * s.x[6], 9);
      // And the truth, 100 + 50 t: within a pixel after half a second of coasting.
      expect(Math.abs(cx(b) - (100 + 50 * (1.9 + k * DT)))).toBeLessThan(1);
    }
  });

  it('a dropped frame (dt doubled) predicts twice as far, and a fast object is matched across dropped frames', () => {
    const t = createTracker({ report_coasting: true });
    constantVelocity(10, 10, 150).forEach((f) => t.update(f.dets, f.timeS));
    const snap = t.snapshot();
    const x0 = snap.tracks[0].x[0];
    const one = stepTracker(snap, [], 1.0, t.params).tracks[0];
    const two = stepTracker(snap, [], 1.1, t.params).tracks[0];
    expect(cx(two) - x0).toBeCloseTo(2 * (cx(one) - x0), 9);
    expect(cx(one) - x0).toBeCloseTo(15, 0);
    // Two frames dropped: 150 px/s moves a 40 px box 45 px by 1.2 s. Predicted by the real 0.3 s it
    // matches; predicted one frame (0.1 s), as a tracker counting frames would, it is 30 px off
    // (IoU 1/7) and a new track starts.
    const at12 = det(100 + 150 * 1.2, 80, 40, 30);
    expect(stepTracker(snap, [at12], 1.2, t.params).tracks.map((b) => [b.id, b.sinceUpdate])).toEqual([[1, 0]]);
    expect(stepTracker(snap, [at12], 1.0, t.params).live.map((b) => [b.id, b.sinceUpdate])).toEqual([[1, 1], [2, 0]]);
  });

  it('two objects crossing keep their ids: the velocity tells them apart', () => {
    const frames = Array.from({ length: 40 }, (_, i) => ({ timeS: i * DT, dets: [det(60 + 100 * i * DT, 100, 40, 40), det(440 - 100 * i * DT, 106, 40, 40)] }));
    const out = trackDrive(frames, {});
    out.live.forEach((f, i) => {
      expect(f.map((t) => t.id)).toEqual([1, 2]);
      expect(Math.abs(cx(f[0]) - (60 + 100 * i * DT)), `frame ${i}: track 1 follows the object moving right`).toBeLessThan(2);
      expect(Math.abs(cx(f[1]) - (440 - 100 * i * DT)), `frame ${i}: track 2 follows the object moving left`).toBeLessThan(2);
    });
  });

  it('detections below score_min are ignored: they neither start nor update tracks', () => {
    const t = createTracker({ score_min: 0.5, min_hits: 1, report_coasting: true });
    expect(t.update([det(100, 80, 40, 30, 'car', 0.49)], 0).live).toEqual([]);
    t.update([det(100, 80, 40, 30, 'car', 0.8)], 0.1);
    const s = t.update([det(105, 80, 40, 30, 'car', 0.2)], 0.2);
    expect(s.tracks.map((b) => [b.id, b.sinceUpdate, b.score])).toEqual([[1, 1, 0.8]]);
  });

  it('classes: a track takes only detections of its class, unless class_aware is off', () => {
    const aware = createTracker({ min_hits: 1 });
    aware.update([det(100, 80, 40, 30, 'cyclist')], 0);
    expect(aware.update([det(100, 80, 40, 30, 'pedestrian')], 0.1).live.map((b) => [b.id, b.cls])).toEqual([[1, 'cyclist'], [2, 'pedestrian']]);
    const blind = createTracker({ min_hits: 1, class_aware: false });
    blind.update([det(100, 80, 40, 30, 'cyclist')], 0);
    expect(blind.update([det(100, 80, 40, 30, 'pedestrian')], 0.1).live.map((b) => [b.id, b.cls])).toEqual([[1, 'pedestrian']]);
  });

  it('iou_min gates the assignment', () => {
    const run = (iouMin: number) => {
      const t = createTracker({ min_hits: 1, iou_min: iouMin });
      t.update([det(100, 80, 40, 40)], 0);
      // Shifted 20 px: IoU (20 * 40) / (2 * 1600 - 800) = 1/3.
      return t.update([det(120, 80, 40, 40)], 0).live.map((b) => b.id);
    };
    expect(run(0.3)).toEqual([1]);
    expect(run(0.34)).toEqual([1, 2]);
  });
});

/** The same filter in numpy: F(dt), Q(dt), H, R(z), P0(z) built as matrices and multiplied out. */
const KALMAN_ORACLE = String.raw`
import json, sys
import numpy as np
d = json.load(sys.stdin)
p = d["params"]
sm, sa, sv = p["measurement_noise"], p["acceleration_noise"], p["initial_velocity_std"]
H = np.hstack([np.eye(4), np.zeros((4, 4))])
def meas(b): return np.array([b[0] + b[2] / 2, b[1] + b[3] / 2, b[2], b[3]])
def scales(v): return np.maximum(1.0, np.abs(np.array([v[2], v[3], v[2], v[3]])))
def R(z): return np.diag((sm * scales(z)) ** 2)
x = P = None
out = []
for op in d["ops"]:
    if op["op"] == "init":
        z = meas(op["box"])
        x = np.concatenate([z, np.zeros(4)])
        P = np.diag(np.concatenate([(sm * scales(z)) ** 2, (sv * scales(z)) ** 2]))
    elif op["op"] == "predict":
        dt = op["dt"]
        F = np.eye(8); F[:4, 4:] = dt * np.eye(4)
        q = (sa * scales(x)) ** 2
        Q = np.block([[np.diag(q * dt**3 / 3), np.diag(q * dt**2 / 2)], [np.diag(q * dt**2 / 2), np.diag(q * dt)]])
        x = F @ x
        P = F @ P @ F.T + Q
    else:
        z = meas(op["box"])
        S = H @ P @ H.T + R(z)
        K = P @ H.T @ np.linalg.inv(S)
        x = x + K @ (z - H @ x)
        P = (np.eye(8) - K @ H) @ P
        P = (P + P.T) / 2
    out.append({"x": x.tolist(), "P": P.flatten().tolist()})
print(json.dumps(out))
`;

describe('tracker: the Kalman filter', () => {
  it('equals an independent numpy implementation of the same matrices on a random sequence (1e-9 relative)', async () => {
    const r = seededRandom(42);
    const params = TrackerParams.parse({ measurement_noise: 0.04, acceleration_noise: 1.5, initial_velocity_std: 3 });
    const box = (): BoxXYWH => [50 + r() * 400, 40 + r() * 200, 20 + r() * 80, 20 + r() * 60];
    type Op = { op: 'init'; box: BoxXYWH } | { op: 'predict'; dt: number } | { op: 'update'; box: BoxXYWH };
    const ops: Op[] = [{ op: 'init', box: box() }];
    for (let i = 0; i < 60; i++) {
      ops.push({ op: 'predict', dt: 0.03 + r() * 0.3 });
      if (r() < 0.8) {
        const base = ops.find((o) => o.op === 'init')!.box as BoxXYWH;
        ops.push({ op: 'update', box: [base[0] + i * 3 + r() * 10, base[1] - i + r() * 10, base[2] * (1 + i * 0.01 + r() * 0.05), base[3] * (1 + i * 0.01 + r() * 0.05)] });
      }
    }
    const ours: KalmanState[] = [];
    let kf: KalmanState | undefined;
    for (const o of ops) {
      kf = o.op === 'init' ? kalmanInit(o.box, params) : o.op === 'predict' ? kalmanPredict(kf!, o.dt, params) : kalmanUpdate(kf!, o.box, params);
      ours.push(kf);
    }
    const res = await execa(pythonBin(), ['-c', KALMAN_ORACLE], { input: JSON.stringify({ params, ops }) });
    const want = JSON.parse(res.stdout) as { x: number[]; P: number[] }[];
    expect(want).toHaveLength(ops.length);
    let worst = 0;
    want.forEach((w, i) => {
      const xs = Math.max(1, ...w.x.map(Math.abs));
      const ps = Math.max(1, ...w.P.map(Math.abs));
      w.x.forEach((v, j) => (worst = Math.max(worst, Math.abs(ours[i].x[j] - v) / xs)));
      w.P.forEach((v, j) => (worst = Math.max(worst, Math.abs(ours[i].P[j] - v) / ps)));
    });
    expect(worst).toBeLessThan(1e-9);
  });

  it('predicting 2 dt at once gives the mean of predicting dt twice', () => {
    const p = DEFAULT_TRACKER_PARAMS;
    const kf = kalmanUpdate(kalmanPredict(kalmanInit([100, 50, 40, 30], p), 0.1, p), [104, 51, 41, 30], p);
    const once = kalmanPredict(kf, 0.2, p);
    const twice = kalmanPredict(kalmanPredict(kf, 0.1, p), 0.1, p);
    once.x.forEach((v, i) => expect(v).toBeCloseTo(twice.x[i], 9));
  });
});

describe('tracker: a noisy synthetic drive', () => {
  it.each([1, 2, 3])('seed %i: each object is mostly covered by one confirmed id, few ids switch, clutter rarely confirms', (seed) => {
    const { frames, truth } = syntheticDrive(seed);
    const out = trackDrive(frames, {});
    const idsOf = new Map<number, Map<number, number>>();
    let covered = 0;
    let total = 0;
    let falseTracks = 0;
    out.tracks.forEach((tracks, i) => {
      const used = new Set<number>();
      for (const g of truth[i]) {
        total++;
        let best: TrackBox | undefined;
        let bestIou = 0.5;
        for (const t of tracks) {
          const iw = Math.min(t.box[0] + t.box[2], g.box[0] + g.box[2]) - Math.max(t.box[0], g.box[0]);
          const ih = Math.min(t.box[1] + t.box[3], g.box[1] + g.box[3]) - Math.max(t.box[1], g.box[1]);
          const inter = Math.max(0, iw) * Math.max(0, ih);
          const iou = inter / (t.box[2] * t.box[3] + g.box[2] * g.box[3] - inter);
          if (iou > bestIou && !used.has(t.id)) [best, bestIou] = [t, iou];
        }
        if (!best) continue;
        used.add(best.id);
        covered++;
        const m = idsOf.get(g.id) ?? new Map<number, number>();
        m.set(best.id, (m.get(best.id) ?? 0) + 1);
        idsOf.set(g.id, m);
      }
      falseTracks += tracks.filter((t) => !used.has(t.id)).length;
    });
    const extraIds = [...idsOf.values()].reduce((a, m) => a + m.size - 1, 0);
    expect(covered / total, 'fraction of object-frames covered by a confirmed track').toBeGreaterThan(0.83);
    expect(extraIds, 'ids beyond one per object').toBeLessThanOrEqual(3);
    expect(falseTracks / total, 'unmatched confirmed track-frames per object-frame').toBeLessThan(0.05);
  });
});

describe('tracker: a noisy synthetic drive, by TrackEval\'s metrics (src/metrics/tracking.ts)', () => {
  it.each([1, 2, 3, 4])('seed %i: MOTA, IDF1 and IDSW within bounds, coasting helps recall, and the tracker beats per-frame ids', (seed) => {
    const { frames, truth } = syntheticDrive(seed, 14);
    const evaluate = (tracks: { id: number; box: BoxXYWH }[][]) =>
      evaluateTracking({ frames: truth.map((gt, i) => ({ gt: gt.map((g) => ({ id: g.id, box: g.box })), tracker: tracks[i].map((t) => ({ id: t.id, box: t.box })) })) });
    const quiet = evaluate(trackDrive(frames, {}).tracks);
    const coast = evaluate(trackDrive(frames, { report_coasting: true }).tracks);
    // The detections themselves, each with an id of its own: every frame is an identity switch.
    let n = 0;
    const raw = evaluate(frames.map((f) => f.dets.map((d) => ({ id: ++n, box: d.box }))));
    expect(quiet.CLEAR.MOTA).toBeGreaterThan(0.8);
    expect(quiet.CLEAR.IDSW).toBeLessThanOrEqual(2);
    expect(quiet.Identity.IDF1).toBeGreaterThan(0.85);
    expect(coast.CLEAR.CLR_Re).toBeGreaterThan(quiet.CLEAR.CLR_Re);
    expect(coast.CLEAR.MOTA).toBeGreaterThan(0.85);
    expect(raw.Identity.IDF1).toBeLessThan(0.2);
    expect(quiet.HOTA.AssA[0]).toBeGreaterThan(4 * raw.HOTA.AssA[0]);
  });
});

describe('tracker: bad input', () => {
  it.each<[string, () => unknown, RegExp]>([
    ['time going back', () => stepTracker(stepTracker(createTrackerState(), [], 1).state, [], 0.5), /frame time 0.5 s is before the previous frame's 1 s/],
    ['a NaN time', () => stepTracker(createTrackerState(), [], Number.NaN), /frame time NaN is not a finite number/],
    ['a NaN box', () => stepTracker(createTrackerState(), [det(1, 2, 3, 4), { box: [0, Number.NaN, 3, 4], score: 1, cls: 'car' }], 0), /detection 1 at 0 s: box \[0,null,3,4\] is not four finite numbers/],
    ['a zero-width box', () => stepTracker(createTrackerState(), [{ box: [0, 0, 0, 4], score: 1, cls: 'car' }], 2), /detection 0 at 2 s: .* width or height <= 0/],
    ['a NaN score', () => stepTracker(createTrackerState(), [{ box: [0, 0, 3, 4], score: Number.NaN, cls: 'car' }], 0), /detection 0 at 0 s: score NaN is not finite/],
    ['min_hits 0', () => createTracker({ min_hits: 0 }), /min_hits/],
    ['an unknown setting', () => createTracker({ max_age: 3 } as TrackerParamsInput), /max_age/],
  ])('%s', (_name, f, msg) => {
    expect(f).toThrow(msg);
  });
});
