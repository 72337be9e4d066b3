/**
 * eval_report.json, version 1: what the evaluate step measured, in one versioned document.
 * A reader checks `version` first; fields are only ever added within a version.
 */
import { z } from 'zod';
import { STAT_NAMES } from './coco-stats.js';

// Fields added within version 1 (2026-12-04: the statistics of docs/evaluate.md) are optional, so that reports written before them still read.
const Interval = z.object({ estimate: z.number(), lo: z.number(), hi: z.number(), level: z.number(), method: z.string().optional(), replicates: z.number().int(), drawn: z.number().int().optional(), se: z.number() });

export const EvalReport = z.object({
  version: z.literal(1),
  dataset: z.object({ manifest: z.string(), gt: z.string(), frames: z.number().int().nonnegative() }),
  models: z.record(
    z.string(),
    z.object({
      model: z.string(),
      stats: z.object(Object.fromEntries(STAT_NAMES.map((s) => [s, z.number()])) as Record<(typeof STAT_NAMES)[number], z.ZodNumber>),
      perCategory: z.array(z.object({ category_id: z.number(), name: z.string(), ap: z.number(), ap50: z.number(), ap75: z.number(), ar100: z.number() })),
    }),
  ),
  candidate: z.string(),
  baseline: z.string().nullable(),
  bootstrap: z.object({
    unit: z.literal('scene'),
    replicates: z.number().int(),
    seed: z.number().int(),
    level: z.number(),
    method: z.string().optional(),
    alpha: z.number().optional(),
    margin: z.number().optional(),
    max_replicates: z.number().int().optional(),
    min_scenes: z.number().int().optional(),
    min_effective_scenes: z.number().optional(),
    min_objects: z.number().int().optional(),
    power: z.number().optional(),
  }),
  slices: z.array(
    z.object({
      slice: z.string(),
      critical: z.boolean(),
      denominators: z.object({ scenes: z.number().int(), scenes_with_objects: z.number().int().optional(), effective_scenes: z.number().int().optional(), frames: z.number().int(), objects: z.number().int() }),
      seed: z.number().int().optional(),
      apPoint: z.number().optional(),
      ap: Interval.optional(),
      baselineAp: z.number().optional(),
      delta: Interval.extend({
        alpha: z.number().optional(),
        lower: z.number().optional(),
        upper: z.number().optional(),
        margin: z.number().optional(),
        /** One-sided p of a regression beyond the margin since the statistics; two-sided before. */
        p: z.number(),
        pAtResolution: z.boolean().optional(),
        pAdjusted: z.number(),
        adjustment: z.enum(['holm', 'benjamini-hochberg']),
        power: z.number().optional(),
        detectable: z.number().optional(),
        scenesForMargin: z.number().int().nullable().optional(),
      }).optional(),
      note: z.string().optional(),
      insufficient: z.boolean().optional(),
    }),
  ),
  outcomes: z.object({ missed: z.number().int(), lost: z.number().int(), falsePositivesOver03: z.number().int() }),
});
export type EvalReport = z.infer<typeof EvalReport>;
