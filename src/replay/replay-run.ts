/**
 * One drive replayed through one or more models under one variant: the frames the input queue
 * takes (src/replay/stress.ts: which frames arrive, with which stamps, in which order; pixel
 * faults), each one decoded, undistorted per its calibration, faulted, detected, and every
 * model's detections tracked (src/replay/tracker.ts). Timing follows the recipe: `recorded`
 * releases each frame at its stamp and waits; `fast` runs frames back to back and replays the
 * queue at the recorded rate on a clock of the measured latencies, so that which frames are late
 * is the same question either way: did the result come more than `deadlineMs` after the frame
 * arrived (a frame waits while the previous one is still running)?
 *
 * Detections depend only on a frame's pixels, so a frame already detected under the nominal
 * replay is not run again under a timing variant (its measured latency is reused); faulted
 * frames are.
 */
import { InputError } from '../files/input-error.js';
import { decodeFrameRgb } from './frame-decode.js';
import { applyPixelFault, consumeDeliveries, planDelivery, type ConsumedDeliveries, type Delivery, type ReplayVariant } from './stress.js';
import { trackDrive, type TrackerParams } from './tracker.js';
import { isPinhole, undistortImage } from './undistort.js';
import type { BundleFrame, BundleInfo, Detection, TrackBox } from './types.js';

/** A drive in memory: its frames in capture order, every one decoded (and undistorted) once. */
export interface LoadedDrive {
  info: BundleInfo;
  file: string;
  frames: BundleFrame[];
  width: number;
  height: number;
  /** RGB8 of frame `source`, undistorted when the calibration has distortion. */
  pixels(source: number): Uint8Array;
}

/**
 * Decodes every frame of a bundle (PNG or JPEG) and undistorts it per the calibration, so the
 * replay's clock measures the model, not the decoder (a camera driver hands the perception node
 * decoded images too). A 30 s drive at 320x192 is about 55 MB of pixels.
 */
export async function loadDrive(file: string, info: BundleInfo, frames: BundleFrame[]): Promise<LoadedDrive> {
  const pinhole = isPinhole(info.calibration);
  const pixels: Uint8Array[] = [];
  let width = info.calibration.width;
  let height = info.calibration.height;
  for (const [i, f] of frames.entries()) {
    const img = await decodeFrameRgb(f.format, f.data, `${file}: frame ${f.index}`);
    if (i === 0) ({ width, height } = img);
    else if (img.width !== width || img.height !== height) throw new InputError(`${file}: frame ${f.index} is ${img.width}x${img.height}, the drive's first is ${width}x${height}`);
    pixels.push(pinhole ? img.data : undistortImage(img.data, width, height, info.calibration));
  }
  return { info, file, frames, width, height, pixels: (source) => pixels[source] };
}

export type DetectFn = (rgb: Uint8Array, width: number, height: number) => Promise<{ dets: Detection[]; latencyMs: number }>;

/** One processed frame of one model. */
export interface ModelFrame {
  dets: Detection[];
  latencyMs: number;
  /** Detections taken from the nominal replay of the same pixels (latency too). */
  reused: boolean;
  /** When its result was ready, ms after the drive's first frame, and whether that was past the deadline. */
  doneMs: number;
  late: boolean;
}

export interface ReplayedFrame {
  delivery: Delivery;
  /** Stamp as delivered, seconds since the drive's first capture. */
  t: number;
  models: Record<string, ModelFrame>;
}

export interface ReplayedVariant {
  variant: string;
  consumed: ConsumedDeliveries['counts'];
  frames: ReplayedFrame[];
  /** Per model: per processed frame, the tracker's output and every live track, and its per-frame cost (µs). */
  tracks: Record<string, { out: TrackBox[][]; live: TrackBox[][]; costUs: Float64Array }>;
}

/** Nominal detections per model and source frame, shared by a drive's variants. */
export type DetectionCache = Map<string, Map<number, { dets: Detection[]; latencyMs: number }>>;

export interface ReplayOptions {
  variant?: ReplayVariant;
  models: Record<string, DetectFn>;
  tracker: TrackerParams;
  timing: 'recorded' | 'fast';
  deadlineMs: number;
  cache: DetectionCache;
  onFrame?: (done: number, total: number) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replays `drive` under `opts.variant` (none: nominal) through every model of `opts.models`. */
export async function replayVariant(drive: LoadedDrive, opts: ReplayOptions): Promise<ReplayedVariant> {
  const deliveries = planDelivery(drive.frames, opts.variant);
  const consumed = consumeDeliveries(deliveries);
  const t0 = drive.frames[0]?.captureNs ?? 0n;
  const rel = (ns: bigint) => Number(ns - t0) / 1e6;
  const names = Object.keys(opts.models);
  const busyUntil = Object.fromEntries(names.map((n) => [n, 0]));
  // Arrival times: a delivery arrives at its stamp, never before the one that arrived ahead of it.
  const arrival = new Map<Delivery, number>();
  let lastArrival = -Infinity;
  for (const d of [...deliveries].sort((a, b) => a.arrival - b.arrival)) {
    lastArrival = Math.max(lastArrival, rel(d.stampNs));
    arrival.set(d, lastArrival);
  }
  const wallStart = performance.now();
  const frames: ReplayedFrame[] = [];
  let k = 0;
  for (const d of consumed.processed) {
    const arrive = arrival.get(d) ?? rel(d.stampNs);
    if (opts.timing === 'recorded') {
      const wait = arrive - (performance.now() - wallStart);
      if (wait > 0) await sleep(wait);
    }
    let rgb: Uint8Array | undefined;
    const pixels = () => {
      if (!rgb) {
        const clean = drive.pixels(d.source);
        rgb = d.fault ? applyPixelFault(clean, drive.width, drive.height, d.fault, { frozenRgb: d.fault.kind === 'frozen' ? drive.pixels(d.fault.frozenSource) : undefined, source: d.source }) : clean;
      }
      return rgb;
    };
    const models: Record<string, ModelFrame> = {};
    for (const name of names) {
      let cache = opts.cache.get(name);
      if (!cache) opts.cache.set(name, (cache = new Map()));
      const hit = d.fault ? undefined : cache.get(d.source);
      const startedWall = performance.now() - wallStart;
      const r = hit ?? (await opts.models[name](pixels(), drive.width, drive.height));
      if (!hit && !d.fault) cache.set(d.source, r);
      // The result is ready after the frame arrived, the model was free, and it ran.
      const start = opts.timing === 'recorded' && !hit ? Math.max(arrive, startedWall) : Math.max(arrive, busyUntil[name]);
      const doneMs = start + r.latencyMs;
      busyUntil[name] = doneMs;
      models[name] = { dets: r.dets, latencyMs: r.latencyMs, reused: Boolean(hit), doneMs, late: doneMs - arrive > opts.deadlineMs };
    }
    frames.push({ delivery: d, t: rel(d.stampNs) / 1000, models });
    opts.onFrame?.(++k, consumed.processed.length);
  }
  const tracks: ReplayedVariant['tracks'] = {};
  for (const name of names) {
    const tracked = trackDrive(frames.map((f) => ({ timeS: f.t, dets: f.models[name].dets })), opts.tracker);
    tracks[name] = { out: tracked.tracks, live: tracked.live, costUs: tracked.costUs };
  }
  return { variant: opts.variant?.name ?? 'nominal', consumed: consumed.counts, frames, tracks };
}
