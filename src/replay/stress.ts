/**
 * Temporal stress and sensor faults as replay variants (issue 18): what a recipe's `variants:`
 * entry does to a drive on its way to the detector. Two families, kept apart so that each variant
 * changes what it should and only that:
 *
 * - timing variants (drop, drop_burst, jitter, reorder, duplicate) change only the delivery list:
 *   which frames arrive, the stamps the consumer reads, and their order. Pixels are untouched.
 * - pixel faults (blackout, frozen, occlusion, stuck_pixels) change only the pixels of the frames
 *   in their segments: the delivery list is the nominal one, with `fault` set on the affected
 *   deliveries, and the replay calls applyPixelFault on those frames after decoding them.
 *
 * All of it is pure and seeded (src/files/prng.ts): a variant and a seed give the same plan on
 * every machine. Times are relative to the drive's first capture time.
 */
import { z } from 'zod';
import { InputError } from '../files/input-error.js';
import { seededRandom } from '../files/prng.js';

/** A stretch of the drive a pixel fault covers: from `at_s` for `duration_s`, by capture time. */
export const FaultSegment = z
  .object({
    at_s: z.number().nonnegative(),
    duration_s: z.number().positive(),
  })
  .strict();
export type FaultSegment = z.infer<typeof FaultSegment>;

const common = {
  /** The variant's name in reports and the timeline (`night-blackout`). */
  name: z.string().min(1),
  /** Seed of the variant's draws; the same seed gives the same plan. */
  seed: z.number().int().nonnegative().default(0),
};

/** One 1 s segment, 2 s into the drive: long enough for the 1 s rules to bite, after the tracker has warmed up. */
const segments = z.array(FaultSegment).min(1).default([{ at_s: 2, duration_s: 1 }]);

/** A fraction of the frames in [0, 1). */
const fraction = z.number().min(0).lt(1);

/** A rectangle of the image in fractions of its width and height, inside the image. */
export const ImageRegion = z
  .object({
    x: z.number().min(0).max(1),
    y: z.number().min(0).max(1),
    w: z.number().gt(0).max(1),
    h: z.number().gt(0).max(1),
  })
  .strict()
  .refine((r) => r.x + r.w <= 1 + 1e-9, { message: 'x + w must be at most 1 (the region must lie inside the image)', path: ['w'] })
  .refine((r) => r.y + r.h <= 1 + 1e-9, { message: 'y + h must be at most 1 (the region must lie inside the image)', path: ['h'] });
export type ImageRegion = z.infer<typeof ImageRegion>;

const rgb = z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]);

/** A recipe's replay variant (one entry of `replay.variants`). */
export const ReplayVariant = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('drop'),
      ...common,
      /** Exactly round(rate x frames) frames are dropped, chosen uniformly by the seed. */
      rate: fraction.default(0.1),
    })
    .strict(),
  z
    .object({
      kind: z.literal('drop_burst'),
      ...common,
      /** A burst starts every `every_s` seconds of capture time. */
      every_s: z.number().positive().default(2),
      /** Consecutive frames lost in each burst. */
      length_frames: z.number().int().positive().default(3),
      /** When the first burst starts; by default a seeded phase in [0, every_s). */
      start_s: z.number().nonnegative().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('jitter'),
      ...common,
      /** Standard deviation of the stamp error, ms (a Gaussian, clipped to +-max_ms). */
      sigma_ms: z.number().nonnegative().default(5),
      max_ms: z.number().nonnegative().default(20),
    })
    .strict(),
  z
    .object({
      kind: z.literal('reorder'),
      ...common,
      /**
       * round(rate x frames) frames (never the last) are held back by 1..max_delay_frames arrival
       * positions; two held-back neighbours may keep their mutual order.
       */
      rate: fraction.default(0.1),
      max_delay_frames: z.number().int().positive().default(2),
    })
    .strict(),
  z
    .object({
      kind: z.literal('duplicate'),
      ...common,
      /** Exactly round(rate x frames) frames arrive twice, the copy right after the original. */
      rate: fraction.default(0.1),
    })
    .strict(),
  z
    .object({
      kind: z.literal('blackout'),
      ...common,
      segments,
      /** Read-noise floor, DN: 0 gives all-zero frames; > 0 adds |N(0, noise_dn)| per byte, seeded by frame. */
      noise_dn: z.number().nonnegative().max(64).default(0),
    })
    .strict(),
  z.object({ kind: z.literal('frozen'), ...common, segments }).strict(),
  z
    .object({
      kind: z.literal('occlusion'),
      ...common,
      segments,
      region: ImageRegion.default({ x: 0.3, y: 0.35, w: 0.4, h: 0.4 }),
      /** 1 covers the region opaquely; below 1 blends the cover over the scene. */
      opacity: z.number().gt(0).max(1).default(1),
      /** The cover's colour (dark mud by default). */
      color: rgb.default([48, 38, 28]),
    })
    .strict(),
  z
    .object({
      kind: z.literal('stuck_pixels'),
      ...common,
      segments,
      /** Pixels stuck, at seeded positions fixed for the whole variant. */
      count: z.number().int().positive().default(50),
      /** The value they are stuck at, all channels: 255 hot, 0 dead. */
      value: z.number().int().min(0).max(255).default(255),
    })
    .strict(),
]);
export type ReplayVariant = z.infer<typeof ReplayVariant>;
/** A variant as a recipe may write it (defaults not yet filled in). */
export type ReplayVariantInput = z.input<typeof ReplayVariant>;

export type PixelFaultKind = 'blackout' | 'frozen' | 'occlusion' | 'stuck_pixels';
export const PIXEL_FAULT_KINDS: readonly PixelFaultKind[] = ['blackout', 'frozen', 'occlusion', 'stuck_pixels'];

interface FaultBase {
  /** The variant's name. */
  variant: string;
  /** Which of the variant's segments (0-based). */
  segment: number;
  /** Bundle index of the segment's first frame (the fault's onset). */
  onsetSource: number;
}

/** What applyPixelFault does to one delivered frame. */
export type PixelFault =
  | (FaultBase & { kind: 'blackout'; noiseDn: number; seed: number })
  | (FaultBase & { kind: 'frozen'; /** Bundle index of the frame the camera is stuck on: the last one before the segment (its first, when the segment starts the drive). */ frozenSource: number })
  | (FaultBase & { kind: 'occlusion'; region: ImageRegion; opacity: number; color: [number, number, number] })
  | (FaultBase & { kind: 'stuck_pixels'; count: number; value: number; seed: number });

/** One frame as the consumer sees it. */
export interface Delivery {
  /** Bundle frame index of the pixels delivered. */
  source: number;
  /** The timestamp the consumer reads (the capture time, jittered under `jitter`). */
  stampNs: bigint;
  /** 0-based order of arrival. */
  arrival: number;
  /** A second copy of a frame already delivered. */
  duplicate?: boolean;
  fault?: PixelFault;
}

/** A frame's place in the drive: what planDelivery needs of a BundleFrame. */
export interface FrameTime {
  index: number;
  captureNs: bigint;
}

/** k distinct indices of [0, n), uniformly (a partial Fisher-Yates), in ascending order. */
function sample(n: number, k: number, rand: () => number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k).sort((a, b) => a - b);
}

/** A standard normal draw (Box-Muller). */
function gaussian(rand: () => number): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const NS_PER_S = 1e9;

function checkFrames(frames: readonly FrameTime[]): void {
  for (let i = 1; i < frames.length; i++) {
    if (frames[i].captureNs <= frames[i - 1].captureNs) {
      throw new InputError(`replay frames: frame ${frames[i].index} (position ${i}) captureNs ${frames[i].captureNs} is not after frame ${frames[i - 1].index}'s ${frames[i - 1].captureNs}; frames must be in capture-time order`);
    }
  }
}

/** Seconds since the first frame's capture time. */
function relSeconds(frames: readonly FrameTime[], i: number): number {
  return Number(frames[i].captureNs - frames[0].captureNs) / NS_PER_S;
}

function nominal(frames: readonly FrameTime[]): Delivery[] {
  return frames.map((f, i) => ({ source: f.index, stampNs: f.captureNs, arrival: i }));
}

/**
 * What the consumer sees of `frames` (in capture-time order) under `variant`; undefined is the
 * nominal replay (every frame once, at its capture time, in order).
 *
 *   planDelivery(frames, { kind: 'drop', name: 'd', seed: 1, rate: 0.1 })  // 90 of 100 frames
 */
export function planDelivery(frames: readonly FrameTime[], variant: ReplayVariant | undefined): Delivery[] {
  checkFrames(frames);
  const base = nominal(frames);
  if (variant === undefined || frames.length === 0) return base;
  const rand = seededRandom(variant.seed);
  const n = frames.length;
  const renumber = (ds: Delivery[]) => ds.map((d, i) => ({ ...d, arrival: i }));
  switch (variant.kind) {
    case 'drop': {
      const gone = new Set(sample(n, Math.round(variant.rate * n), rand));
      return renumber(base.filter((_, i) => !gone.has(i)));
    }
    case 'drop_burst': {
      const start = variant.start_s ?? rand() * variant.every_s;
      const gone = new Set<number>();
      for (let t = start, i = 0; ; t += variant.every_s) {
        while (i < n && relSeconds(frames, i) < t - 1e-9) i++;
        if (i >= n) break;
        for (let k = 0; k < variant.length_frames && i + k < n; k++) gone.add(i + k);
        i += variant.length_frames;
      }
      return renumber(base.filter((_, i) => !gone.has(i)));
    }
    case 'jitter': {
      return base.map((d) => {
        const ms = Math.max(-variant.max_ms, Math.min(variant.max_ms, gaussian(rand) * variant.sigma_ms));
        return { ...d, stampNs: d.stampNs + BigInt(Math.round(ms * 1e6)) };
      });
    }
    case 'reorder': {
      const late = sample(n - 1, Math.min(n - 1, Math.round(variant.rate * n)), rand);
      const key = base.map((_, i) => i);
      for (const i of late) key[i] = i + 1 + Math.floor(rand() * variant.max_delay_frames) + 0.5;
      const order = base.map((_, i) => i).sort((a, b) => key[a] - key[b] || a - b);
      return renumber(order.map((i) => base[i]));
    }
    case 'duplicate': {
      const twice = new Set(sample(n, Math.round(variant.rate * n), rand));
      return renumber(base.flatMap((d, i) => (twice.has(i) ? [d, { ...d, duplicate: true }] : [d])));
    }
    default:
      return base.map((d, i) => {
        const fault = faultAt(frames, i, variant);
        return fault === undefined ? d : { ...d, fault };
      });
  }
}

/** The pixel fault of `variant` on frame i, if i lies in one of its segments. */
function faultAt(frames: readonly FrameTime[], i: number, variant: Extract<ReplayVariant, { segments: unknown }>): PixelFault | undefined {
  const t = relSeconds(frames, i);
  const segment = variant.segments.findIndex((s) => t >= s.at_s - 1e-9 && t < s.at_s + s.duration_s - 1e-9);
  if (segment < 0) return undefined;
  const seg = variant.segments[segment];
  let onset = i;
  while (onset > 0 && relSeconds(frames, onset - 1) >= seg.at_s - 1e-9) onset--;
  const base = { variant: variant.name, segment, onsetSource: frames[onset].index };
  switch (variant.kind) {
    case 'blackout':
      return { ...base, kind: 'blackout', noiseDn: variant.noise_dn, seed: variant.seed };
    case 'frozen':
      return { ...base, kind: 'frozen', frozenSource: frames[Math.max(0, onset - 1)].index };
    case 'occlusion':
      return { ...base, kind: 'occlusion', region: variant.region, opacity: variant.opacity, color: variant.color };
    case 'stuck_pixels':
      return { ...base, kind: 'stuck_pixels', count: variant.count, value: variant.value, seed: variant.seed };
  }
}

/** The pixel indices (y * width + x) stuck under a stuck_pixels fault: seeded, the same on every frame. */
export function stuckPixelPositions(width: number, height: number, count: number, seed: number): number[] {
  if (count > width * height) throw new InputError(`stuck_pixels: count ${count} is more than the image's ${width}x${height} = ${width * height} pixels`);
  return sample(width * height, count, seededRandom(seed));
}

/** The region's pixel bounds: [x0, x1) x [y0, y1), rounded to the nearest pixel edge. */
export function regionPixels(region: ImageRegion, width: number, height: number): { x0: number; x1: number; y0: number; y1: number } {
  return {
    x0: Math.round(region.x * width),
    x1: Math.min(width, Math.round((region.x + region.w) * width)),
    y0: Math.round(region.y * height),
    y1: Math.min(height, Math.round((region.y + region.h) * height)),
  };
}

/**
 * The frame's pixels (packed RGB, row-major, width x height) under `fault`, as a new array; the
 * input is never changed.
 *
 * - blackout: all zeros (a camera whose link or ISP delivers black frames), or with `noise_dn`
 *   a dark frame's read-noise floor, |N(0, noise_dn)| per byte, seeded by the frame. Zeros are the
 *   default because they are the harder-to-argue case: nothing in the image, so any confident box is
 *   the model's invention.
 * - frozen: a copy of `context.frozenRgb`, the decoded pixels of `fault.frozenSource` (the last
 *   good frame; the replay keeps it). The stamps keep advancing, as a driver republishing a stale
 *   buffer does.
 * - occlusion: the region covered by `color` at `opacity` (mud, a leaf, a dirty lens).
 * - stuck_pixels: `count` pixels at seeded fixed positions set to `value` in every channel.
 */
export function applyPixelFault(rgb: Uint8Array, width: number, height: number, fault: PixelFault, context: { frozenRgb?: Uint8Array; source?: number } = {}): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new InputError(`applyPixelFault: width and height must be positive integers, got ${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new InputError(`applyPixelFault: rgb has ${rgb.length} bytes, expected ${width}x${height}x3 = ${width * height * 3}`);
  }
  switch (fault.kind) {
    case 'blackout': {
      const out = new Uint8Array(rgb.length);
      if (fault.noiseDn > 0) {
        const rand = seededRandom((fault.seed ^ Math.imul((context.source ?? fault.onsetSource) + 1, 0x9e3779b1)) >>> 0);
        for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.round(Math.abs(gaussian(rand)) * fault.noiseDn));
      }
      return out;
    }
    case 'frozen': {
      const frozen = context.frozenRgb;
      if (frozen === undefined) throw new InputError(`applyPixelFault: frozen fault of variant '${fault.variant}' needs context.frozenRgb (the pixels of frame ${fault.frozenSource})`);
      if (frozen.length !== rgb.length) throw new InputError(`applyPixelFault: context.frozenRgb has ${frozen.length} bytes, expected ${rgb.length} (frame ${fault.frozenSource} at ${width}x${height})`);
      return frozen.slice();
    }
    case 'occlusion': {
      const out = rgb.slice();
      const { x0, x1, y0, y1 } = regionPixels(fault.region, width, height);
      const a = fault.opacity;
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const p = (y * width + x) * 3;
          for (let c = 0; c < 3; c++) out[p + c] = Math.round((1 - a) * rgb[p + c] + a * fault.color[c]);
        }
      }
      return out;
    }
    case 'stuck_pixels': {
      const out = rgb.slice();
      for (const i of stuckPixelPositions(width, height, fault.count, fault.seed)) out.fill(fault.value, i * 3, i * 3 + 3);
      return out;
    }
  }
}

/** Why the input queue dropped a delivery. */
export type QueueDrop = 'late' | 'duplicate';

export interface ConsumedDeliveries {
  /** The deliveries the detector runs on, in processing order (stamps strictly increasing). */
  processed: Delivery[];
  dropped: { delivery: Delivery; reason: QueueDrop }[];
  counts: {
    delivered: number;
    processed: number;
    /** Stamp not newer than the last processed one, and a frame not yet processed (out of order, or a stamp that jumped back). */
    late_dropped: number;
    /** A frame (source) already processed arriving again. */
    duplicates_dropped: number;
  };
}

/**
 * The replay's input queue for out-of-order and duplicated frames: deliveries are taken in arrival
 * order, and one whose stamp is not newer than the last processed stamp is dropped and counted:
 * as a duplicate when its source frame was already processed, else as late.
 *
 * This is what a real-time perception node does with a camera stream: it runs on the newest frame
 * and guards its tracker with a monotonic-time check, because a Kalman predict over a negative dt
 * and an association against a past frame corrupt the tracks. Apollo's fusion is an example:
 * Sensor::QueryLatestFrames (modules/perception/fusion/base/sensor.cc) takes only frames stamped
 * after `latest_query_timestamp_`, so a straggler is never fused. It does not re-sort the stream
 * by waiting for late frames either, since that wait would add latency to every frame.
 */
export function consumeDeliveries(deliveries: readonly Delivery[]): ConsumedDeliveries {
  const ordered = [...deliveries].sort((a, b) => a.arrival - b.arrival);
  const processed: Delivery[] = [];
  const dropped: { delivery: Delivery; reason: QueueDrop }[] = [];
  const seen = new Set<number>();
  let last: bigint | undefined;
  for (const d of ordered) {
    if (last !== undefined && d.stampNs <= last) {
      dropped.push({ delivery: d, reason: seen.has(d.source) ? 'duplicate' : 'late' });
      continue;
    }
    processed.push(d);
    seen.add(d.source);
    last = d.stampNs;
  }
  const late = dropped.filter((x) => x.reason === 'late').length;
  return {
    processed,
    dropped,
    counts: { delivered: deliveries.length, processed: processed.length, late_dropped: late, duplicates_dropped: dropped.length - late },
  };
}
