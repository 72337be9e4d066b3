/**
 * The replay tracker: SORT (Bewley et al. 2016, "Simple Online and Realtime Tracking") on the
 * detector's boxes, with the two changes replay needs.
 *
 * - Time, not frames: each prediction uses the real time step between capture times, so a
 *   dropped or jittered frame predicts as far as the object really moved, and the process noise
 *   grows with the step (continuous white-noise acceleration: Bar-Shalom, "Estimation with
 *   Applications to Tracking and Navigation", 6.2.2). Predicting 2 dt in one step and dt twice
 *   give the same mean; the deletion rule is in seconds for the same reason.
 * - State [cx, cy, w, h, vcx, vcy, vw, vh] (px, px/s), as ByteTrack and BoT-SORT keep it, rather
 *   than SORT's [cx, cy, area, aspect, ...] with a constant aspect: ground-truth and detector
 *   boxes are clipped to the image, so a car entering or leaving the frame changes its aspect
 *   quickly, which SORT's model cannot follow; and the noise is a fraction of the box's size
 *   (ByteTrack's std_weight_position), so one set of defaults fits a far 12 px pedestrian and a
 *   near 300 px truck, which SORT's fixed pixel noise does not.
 *
 * Association is SORT's: the IoU of each predicted track box with each detection, one
 * Hungarian assignment maximizing total IoU (src/metrics/assignment.ts, scipy's
 * linear_sum_assignment), pairs under `iou_min` rejected. With `class_aware` (the default) a
 * track and a detection of different classes have IoU 0 in the matrix, which gives the same
 * matches as one assignment per class; without it a track takes its latest detection's class.
 *
 * Track life is DeepSORT's (Wojke et al. 2017): a detection no track took starts a tentative
 * track; `min_hits` consecutive matched frames confirm it; a tentative track that misses a
 * frame is deleted; a confirmed one coasts on its prediction until `max_age_s` has passed since
 * its last match, then is deleted. Ids start at 1 and only increase.
 *
 * Everything is plain data and pure: `stepTracker` returns a new state and never changes the
 * one it was given, no clock and no randomness, so the same frames give the same ids and boxes
 * (the closed-loop sim snapshots the state).
 */
import { iouXywh } from '../model/decode.js';
import { z } from 'zod';
import { linearSumAssignment } from '../metrics/assignment.js';
import type { BoxXYWH, Detection, TrackBox } from './types.js';

/** The tracker's settings, as a recipe's replay step names them (snake_case), with defaults. */
export const TrackerParams = z
  .object({
    /** Consecutive matched frames that confirm a track (SORT's and DeepSORT's 3). */
    min_hits: z.number().int().min(1).default(3),
    /** Seconds a confirmed track coasts without a match before it is deleted (5 frames at 10 Hz). */
    max_age_s: z.number().nonnegative().default(0.5),
    /** Least IoU of a predicted track box and a detection for them to match (SORT's 0.3). */
    iou_min: z.number().min(0).max(1).default(0.3),
    /** Detections scoring below this are ignored: they neither update nor start tracks. */
    score_min: z.number().min(0).max(1).default(0.3),
    /** Whether coasting confirmed tracks (no match this frame) are in the tracker's output. */
    report_coasting: z.boolean().default(false),
    /** Match a track only with detections of its class. */
    class_aware: z.boolean().default(true),
    /** Standard deviation of a detection's cx, cy, w, h as a fraction of its w (cx, w) or h (cy, h). */
    measurement_noise: z.number().positive().default(0.05),
    /**
     * Acceleration noise: the square root of the white-noise acceleration's spectral density, as a
     * fraction of the box's size, 1/s^1.5; over a step dt a velocity gains variance (a s)^2 dt.
     */
    acceleration_noise: z.number().positive().default(1),
    /** Standard deviation of a new track's velocity, box sizes per second. */
    initial_velocity_std: z.number().positive().default(2),
  })
  .strict();
export type TrackerParams = z.output<typeof TrackerParams>;
export type TrackerParamsInput = z.input<typeof TrackerParams>;

/** The defaults, parsed. */
export const DEFAULT_TRACKER_PARAMS: TrackerParams = TrackerParams.parse({});

/** A Kalman filter's estimate: x (8) and its covariance P (8 x 8, row-major). */
export interface KalmanState {
  x: number[];
  P: number[];
}

/** One live track, plain data. */
export interface TrackState extends KalmanState {
  id: number;
  cls: string;
  /** Score of the last matched detection. */
  score: number;
  /** Consecutive frames matched (0 after a miss). */
  hits: number;
  /** Frames since the last match. */
  sinceUpdate: number;
  /** Capture time of the last match, s. */
  lastUpdateS: number;
  confirmed: boolean;
}

/** Everything the tracker carries from one frame to the next. */
export interface TrackerState {
  /** Capture time of the last frame, s; null before the first. */
  timeS: number | null;
  nextId: number;
  /** Live tracks in birth order (so ascending id). */
  tracks: TrackState[];
}

/** What one frame gives. */
export interface TrackerStep {
  state: TrackerState;
  /** The tracker's output: confirmed tracks, coasting ones only with `report_coasting`. */
  tracks: TrackBox[];
  /** Every live track, tentative and coasting included (`confirmed`, `sinceUpdate` set). */
  live: TrackBox[];
}

const N = 8;
const M = 4;
/** Floating slack on the age rule, so 0.1 s steps summing to 0.30000000000000004 count as 0.3. */
const AGE_EPS_S = 1e-9;
/** Floor of the size that scales the noise, px, so a degenerate box keeps a positive covariance. */
const MIN_SCALE_PX = 1;

/** An empty tracker: no tracks, the next id 1. */
export function createTrackerState(): TrackerState {
  return { timeS: null, nextId: 1, tracks: [] };
}

/** The size that scales axis i's noise: w for cx and w, h for cy and h. */
function scaleOf(x: ArrayLike<number>, i: number): number {
  return Math.max(MIN_SCALE_PX, Math.abs(i % 2 === 0 ? x[2] : x[3]));
}

/** cx, cy, w, h of an [x, y, w, h] box. */
export function boxToMeasurement(b: BoxXYWH): number[] {
  return [b[0] + b[2] / 2, b[1] + b[3] / 2, b[2], b[3]];
}

/** The [x, y, w, h] box of a state. */
export function stateToBox(x: ArrayLike<number>): BoxXYWH {
  return [x[0] - x[2] / 2, x[1] - x[3] / 2, x[2], x[3]];
}

/** A new track's filter from its first detection: position as measured, velocity zero with `initial_velocity_std`. */
export function kalmanInit(box: BoxXYWH, params: TrackerParams): KalmanState {
  const z = boxToMeasurement(box);
  const x = [...z, 0, 0, 0, 0];
  const P = new Array<number>(N * N).fill(0);
  for (let i = 0; i < M; i++) {
    const s = scaleOf(z, i);
    P[i * N + i] = (params.measurement_noise * s) ** 2;
    P[(i + M) * N + i + M] = (params.initial_velocity_std * s) ** 2;
  }
  return { x, P };
}

/**
 * Predicts `dt` seconds ahead: x' = F x, P' = F P F^T + Q with F = [[I, dt I], [0, I]] and, per
 * axis, Q = q [[dt^3/3, dt^2/2], [dt^2/2, dt]], q = (acceleration_noise * size)^2 (size from the
 * state before the step). A size velocity that would take w or h to zero or below is zeroed
 * first, as SORT does for its area.
 */
export function kalmanPredict(kf: KalmanState, dt: number, params: TrackerParams): KalmanState {
  const x = kf.x.slice();
  if (dt === 0) return { x, P: kf.P.slice() };
  if (x[2] + x[6] * dt <= 0) x[6] = 0;
  if (x[3] + x[7] * dt <= 0) x[7] = 0;
  const P = kf.P;
  for (let i = 0; i < M; i++) x[i] += dt * x[i + M];
  // F P F^T by blocks: P = [[A, B], [B^T, C]] gives [[A + dt (B + B^T) + dt^2 C, B + dt C], [B^T + dt C, C]].
  const out = new Array<number>(N * N);
  for (let r = 0; r < N; r++) {
    for (let c = 0; c < N; c++) {
      let v = P[r * N + c];
      if (r < M) v += dt * P[(r + M) * N + c];
      if (c < M) v += dt * P[r * N + c + M];
      if (r < M && c < M) v += dt * dt * P[(r + M) * N + c + M];
      out[r * N + c] = v;
    }
  }
  for (let i = 0; i < M; i++) {
    const q = (params.acceleration_noise * scaleOf(kf.x, i)) ** 2;
    out[i * N + i] += (q * dt ** 3) / 3;
    out[i * N + i + M] += (q * dt ** 2) / 2;
    out[(i + M) * N + i] += (q * dt ** 2) / 2;
    out[(i + M) * N + i + M] += q * dt;
  }
  return { x, P: out };
}

/**
 * The measurement update with z = the detection's cx, cy, w, h, H = [I 0], R diagonal with
 * standard deviations `measurement_noise` times the detection's w or h: S = H P H^T + R,
 * K = P H^T S^-1 (S by Cholesky), x' = x + K (z - H x), P' = (I - K H) P, made symmetric.
 */
export function kalmanUpdate(kf: KalmanState, box: BoxXYWH, params: TrackerParams): KalmanState {
  const z = boxToMeasurement(box);
  const { x, P } = kf;
  // S (4 x 4) and its Cholesky factor L (S = L L^T).
  const S = new Array<number>(M * M);
  for (let r = 0; r < M; r++) for (let c = 0; c < M; c++) S[r * M + c] = P[r * N + c];
  for (let i = 0; i < M; i++) S[i * M + i] += (params.measurement_noise * scaleOf(z, i)) ** 2;
  const L = new Array<number>(M * M).fill(0);
  for (let r = 0; r < M; r++) {
    for (let c = 0; c <= r; c++) {
      let v = S[r * M + c];
      for (let k = 0; k < c; k++) v -= L[r * M + k] * L[c * M + k];
      if (r === c) {
        if (!(v > 0)) throw new Error(`kalmanUpdate: the innovation covariance is not positive definite (pivot ${v} at ${r})`);
        L[r * M + r] = Math.sqrt(v);
      } else L[r * M + c] = v / L[c * M + c];
    }
  }
  // K^T = S^-1 (H P) = S^-1 P[0:4, :], solved column by column of P[0:4, :].
  const Kt = new Array<number>(M * N);
  const col = new Array<number>(M);
  for (let j = 0; j < N; j++) {
    for (let r = 0; r < M; r++) {
      let v = P[r * N + j];
      for (let k = 0; k < r; k++) v -= L[r * M + k] * col[k];
      col[r] = v / L[r * M + r];
    }
    for (let r = M - 1; r >= 0; r--) {
      let v = col[r];
      for (let k = r + 1; k < M; k++) v -= L[k * M + r] * col[k];
      col[r] = v / L[r * M + r];
    }
    for (let r = 0; r < M; r++) Kt[r * N + j] = col[r];
  }
  const y = z.map((zi, i) => zi - x[i]);
  const xn = x.slice();
  for (let i = 0; i < N; i++) for (let k = 0; k < M; k++) xn[i] += Kt[k * N + i] * y[k];
  // (I - K H) P = P - K P[0:4, :].
  const Pn = new Array<number>(N * N);
  for (let r = 0; r < N; r++) {
    for (let c = 0; c < N; c++) {
      let v = P[r * N + c];
      for (let k = 0; k < M; k++) v -= Kt[k * N + r] * P[k * N + c];
      Pn[r * N + c] = v;
    }
  }
  for (let r = 0; r < N; r++) {
    for (let c = r + 1; c < N; c++) {
      const v = (Pn[r * N + c] + Pn[c * N + r]) / 2;
      Pn[r * N + c] = v;
      Pn[c * N + r] = v;
    }
  }
  return { x: xn, P: Pn };
}

function checkDetections(dets: readonly Detection[], timeS: number): void {
  dets.forEach((d, i) => {
    const b = d.box;
    if (!Array.isArray(b) || b.length !== 4 || !b.every(Number.isFinite)) throw new Error(`stepTracker: detection ${i} at ${timeS} s: box ${JSON.stringify(b)} is not four finite numbers`);
    if (!(b[2] > 0 && b[3] > 0)) throw new Error(`stepTracker: detection ${i} at ${timeS} s: box ${JSON.stringify(b)} has a width or height <= 0`);
    if (!Number.isFinite(d.score)) throw new Error(`stepTracker: detection ${i} at ${timeS} s: score ${d.score} is not finite`);
  });
}

function toTrackBox(t: TrackState): TrackBox {
  return { id: t.id, box: stateToBox(t.x), cls: t.cls, score: t.score, confirmed: t.confirmed, sinceUpdate: t.sinceUpdate };
}

/**
 * One frame: predict every track to `timeS`, match the detections scoring at least `score_min`,
 * update, start, confirm and delete tracks by the rules of `params`. `timeS` is the frame's
 * capture time in seconds and must not go back; detections are [x, y, w, h] pixels.
 */
export function stepTracker(state: TrackerState, dets: readonly Detection[], timeS: number, params: TrackerParams = DEFAULT_TRACKER_PARAMS): TrackerStep {
  if (!Number.isFinite(timeS)) throw new Error(`stepTracker: frame time ${timeS} is not a finite number of seconds`);
  if (state.timeS !== null && timeS < state.timeS) throw new Error(`stepTracker: frame time ${timeS} s is before the previous frame's ${state.timeS} s (frames go in capture-time order)`);
  checkDetections(dets, timeS);
  const dt = state.timeS === null ? 0 : timeS - state.timeS;
  const predicted: TrackState[] = state.tracks.map((t) => ({ ...t, ...kalmanPredict(t, dt, params) }));
  const kept = dets.filter((d) => d.score >= params.score_min);

  const rows = predicted.length;
  const cols = kept.length;
  const trackOf = new Int32Array(cols).fill(-1);
  const matchedTrack = new Uint8Array(rows);
  if (rows > 0 && cols > 0) {
    const iou = new Float64Array(rows * cols);
    const boxes = predicted.map((t) => stateToBox(t.x));
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        if (params.class_aware && predicted[r].cls !== kept[c].cls) continue;
        iou[r * cols + c] = iouXywh(boxes[r], kept[c].box);
      }
    }
    const { rowInd, colInd } = linearSumAssignment(iou, rows, cols, { maximize: true });
    for (let k = 0; k < rowInd.length; k++) {
      const v = iou[rowInd[k] * cols + colInd[k]];
      if (v > 0 && v >= params.iou_min) {
        trackOf[colInd[k]] = rowInd[k];
        matchedTrack[rowInd[k]] = 1;
      }
    }
  }

  const next: TrackState[] = [];
  const detOf = new Int32Array(rows).fill(-1);
  trackOf.forEach((r, c) => {
    if (r >= 0) detOf[r] = c;
  });
  for (let r = 0; r < rows; r++) {
    const t = predicted[r];
    if (matchedTrack[r]) {
      const d = kept[detOf[r]];
      const hits = t.hits + 1;
      next.push({
        ...t,
        ...kalmanUpdate(t, d.box, params),
        cls: d.cls,
        score: d.score,
        hits,
        sinceUpdate: 0,
        lastUpdateS: timeS,
        confirmed: t.confirmed || hits >= params.min_hits,
      });
    } else if (t.confirmed && timeS - t.lastUpdateS <= params.max_age_s + AGE_EPS_S) {
      next.push({ ...t, hits: 0, sinceUpdate: t.sinceUpdate + 1 });
    }
  }
  let nextId = state.nextId;
  for (let c = 0; c < cols; c++) {
    if (trackOf[c] >= 0) continue;
    const d = kept[c];
    next.push({ id: nextId++, cls: d.cls, score: d.score, ...kalmanInit(d.box, params), hits: 1, sinceUpdate: 0, lastUpdateS: timeS, confirmed: params.min_hits <= 1 });
  }
  const live = next.map(toTrackBox);
  return {
    state: { timeS, nextId, tracks: next },
    tracks: live.filter((t) => t.confirmed && (t.sinceUpdate === 0 || params.report_coasting)),
    live,
  };
}

/** A tracker object around `stepTracker`, for callers that keep no state of their own. */
export interface Tracker {
  readonly params: TrackerParams;
  update(dets: readonly Detection[], timeS: number): TrackerStep;
  /** The current state (plain data; safe to keep: later updates make new states). */
  snapshot(): TrackerState;
}

/** A tracker with `params` (a recipe's, validated here; defaults for what it leaves out). */
export function createTracker(params: TrackerParamsInput = {}, from: TrackerState = createTrackerState()): Tracker {
  const p = TrackerParams.parse(params);
  let state = from;
  return {
    params: p,
    update(dets, timeS) {
      const step = stepTracker(state, dets, timeS, p);
      state = step.state;
      return step;
    },
    snapshot: () => state,
  };
}

/** A drive's frames through one tracker, with each frame's update timed. */
export interface TrackedDrive {
  /** Per frame, the tracker's output (`TrackerStep.tracks`). */
  tracks: TrackBox[][];
  /** Per frame, every live track (`TrackerStep.live`). */
  live: TrackBox[][];
  /** Per frame, the update's wall time, microseconds (process.hrtime.bigint around stepTracker). */
  costUs: Float64Array;
}

/** Tracks a drive: `frames` in capture-time order (seconds) with their detections. */
export function trackDrive(frames: readonly { timeS: number; dets: readonly Detection[] }[], params: TrackerParamsInput = {}): TrackedDrive {
  const p = TrackerParams.parse(params);
  let state = createTrackerState();
  const tracks: TrackBox[][] = [];
  const live: TrackBox[][] = [];
  const costUs = new Float64Array(frames.length);
  frames.forEach((f, i) => {
    const t0 = process.hrtime.bigint();
    const step = stepTracker(state, f.dets, f.timeS, p);
    costUs[i] = Number(process.hrtime.bigint() - t0) / 1000;
    state = step.state;
    tracks.push(step.tracks);
    live.push(step.live);
  });
  return { tracks, live, costUs };
}
