/**
 * A replayed drive, frame by frame, as the replay step writes it (`<out>/timelines/<drive>.json`)
 * and the workbench's replay screen reads it: per processed frame the ground truth and, per
 * model, its detections, its confirmed tracks, the inference latency and whether the frame missed
 * its deadline; per segment (e.g. 2 s windows) whether divergence flagged it and why. Boxes are
 * image pixels, [x, y, w, h]. The images themselves stay in the bundle (`bundle`, frames by
 * `source` index), so a timeline is small.
 */
import { z } from 'zod';

const Box = z.tuple([z.number(), z.number(), z.number(), z.number()]);

export const TimelineGt = z.object({ id: z.number().int(), cls: z.string(), box: Box, hard: z.boolean() }).strict();
export const TimelineDetection = z.object({ box: Box, score: z.number(), cls: z.string() }).strict();
export const TimelineTrack = z.object({ id: z.number().int(), box: Box, cls: z.string(), score: z.number(), coasting: z.boolean() }).strict();

export const TimelineModelFrame = z
  .object({
    dets: z.array(TimelineDetection),
    tracks: z.array(TimelineTrack),
    latency_ms: z.number().nonnegative(),
    /** Finished later than the deadline after the frame's arrival (queueing included). */
    late: z.boolean(),
  })
  .strict();

export const TimelineFrame = z
  .object({
    /** Index of the frame in the bundle (capture order). */
    source: z.number().int().nonnegative(),
    /** The frame's stamp as delivered, seconds since the drive's first frame. */
    t: z.number(),
    gt: z.array(TimelineGt),
    /** Per model name. */
    models: z.record(z.string(), TimelineModelFrame),
  })
  .strict();

export const TimelineSegment = z
  .object({
    index: z.number().int().nonnegative(),
    /** Processed-frame range [from, to) into `frames`. */
    from: z.number().int().nonnegative(),
    to: z.number().int().nonnegative(),
    flagged: z.boolean(),
    /** 0 (no divergence) upwards; flagged segments are reviewed in this order. */
    severity: z.number().nonnegative(),
    reasons: z.array(z.string()),
  })
  .strict();

export const ReplayTimeline = z
  .object({
    version: z.literal(1),
    drive_id: z.string(),
    /** The variant this timeline replays ('nominal' or a stress variant's name). */
    variant: z.string(),
    bundle: z.string(),
    bundle_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    rate_hz: z.number().positive(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    candidate: z.string(),
    baseline: z.string().nullable(),
    conditions: z.record(z.string(), z.string()),
    frames: z.array(TimelineFrame),
    segments: z.array(TimelineSegment),
  })
  .strict();
export type ReplayTimeline = z.infer<typeof ReplayTimeline>;
