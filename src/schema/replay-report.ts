/**
 * replay_report.json: what the replay step found, drive by drive and overall, versioned. Numbers
 * that are undefined (TID with no object ever tracked, say) are NaN in memory and null in the
 * file, as JSON has no NaN.
 */
import { z } from 'zod';

const num = z.number().nullable().or(z.nan());

/** The tracking figures of one model over a drive or a set of drives. */
export const TrackingSummary = z
  .object({
    HOTA: num,
    DetA: num,
    AssA: num,
    LocA: num,
    MOTA: num,
    MOTP: num,
    IDF1: num,
    IDP: num,
    IDR: num,
    IDSW: z.number().int(),
    Frag: z.number().int(),
    MT: z.number().int(),
    PT: z.number().int(),
    ML: z.number().int(),
    TP: z.number().int(),
    FP: z.number().int(),
    FN: z.number().int(),
    /** Ground-truth objects (ids) and frames scored. */
    gtIds: z.number().int(),
    frames: z.number().int(),
    /** nuScenes' track initialisation duration and longest gap, seconds at the drive's frame period. */
    TID_s: num,
    LGD_s: num,
    /** Mean time from an object's first visible frame to its first tracked one, over objects tracked at all. */
    ttfd_mean_s: num,
    /** Objects never tracked, and ghost tracks (confirmed tracks matching no object for the recipe's ghost_frames). */
    never_tracked: z.number().int(),
    ghosts: z.number().int(),
  })
  .strict();

const Verdict = z.object({ rule: z.string(), status: z.enum(['pass', 'fail', 'skipped']), reason: z.string(), evidence: z.array(z.object({ frames: z.tuple([z.number(), z.number()]), detail: z.string() })) });

export const ReplayReport = z
  .object({
    version: z.literal(1),
    candidate: z.string(),
    baseline: z.string().nullable(),
    timing: z.enum(['recorded', 'fast']),
    deadline_ms: z.number(),
    tracker: z.record(z.string(), z.unknown()),
    divergence: z.record(z.string(), z.unknown()),
    drives: z.array(
      z.object({
        drive_id: z.string(),
        bundle: z.string(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        conditions: z.record(z.string(), z.string()),
        frames: z.number().int(),
        km: z.number(),
        models: z.record(
          z.string(),
          TrackingSummary.extend({
            late_frames: z.number().int(),
            /** Per object: first visible frame, time to first detection (frames, s), LGD, gaps in its track, frames tracked and visible. */
            objects: z.array(z.object({ id: z.number().int(), cls: z.string(), first_frame: z.number().int(), ttfd_frames: z.number().int().nullable(), ttfd_s: z.number().nullable(), lgd_s: z.number().nullable(), gaps: z.number().int(), tracked_frames: z.number().int(), visible_frames: z.number().int() }).strict()),
          }),
        ),
        segments: z.number().int(),
        /** Per model: each ghost track, its bundle frame range, times (s) and the ego's map position at its start. */
        ghosts: z.record(z.string(), z.array(z.object({ track: z.number().int(), frames: z.tuple([z.number().int(), z.number().int()]), t: z.tuple([z.number(), z.number()]), map_xy: z.tuple([z.number(), z.number()]).nullable() }).strict())),
        flagged_segments: z.array(z.object({ index: z.number().int(), from: z.number().int(), to: z.number().int(), severity: z.number(), reasons: z.array(z.string()) })),
        variants: z.array(z.object({ name: z.string(), kind: z.string(), consumed: z.record(z.string(), z.number()), summary: TrackingSummary, verdicts: z.array(Verdict), flagged_segments: z.number().int() })),
      }),
    ),
    overall: z.record(z.string(), TrackingSummary),
    flagged_segments: z.number().int(),
    scenarios: z.array(z.object({ file: z.string(), valid: z.boolean(), errors: z.array(z.string()), drive: z.string(), segment: z.number().int() })),
  })
  .strict();
export type ReplayReport = z.infer<typeof ReplayReport>;
/** In memory every figure is a number (NaN where undefined); the file has null there. */
export type TrackingSummary = { [K in keyof z.infer<typeof TrackingSummary>]: number };
