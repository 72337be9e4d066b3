/**
 * eval_report.json, version 1: what the evaluate step measured, in one versioned document.
 * A reader checks `version` first; fields are only ever added within a version.
 */
import { z } from 'zod';
import { STAT_NAMES } from './coco-stats.js';

const Interval = z.object({ estimate: z.number(), lo: z.number(), hi: z.number(), level: z.number(), method: z.string(), replicates: z.number().int(), drawn: z.number().int(), se: z.number() });

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
    method: z.string(),
    alpha: z.number(),
    margin: z.number(),
    max_replicates: z.number().int(),
    min_scenes: z.number().int(),
    min_effective_scenes: z.number(),
    min_objects: z.number().int(),
    power: z.number(),
  }),
  slices: z.array(
    z.object({
      slice: z.string(),
      critical: z.boolean(),
      denominators: z.object({ scenes: z.number().int(), scenes_with_objects: z.number().int(), effective_scenes: z.number().int(), frames: z.number().int(), objects: z.number().int() }),
      seed: z.number().int(),
      apPoint: z.number().optional(),
      ap: Interval.optional(),
      baselineAp: z.number().optional(),
      delta: Interval.extend({
        alpha: z.number(),
        lower: z.number(),
        upper: z.number(),
        margin: z.number(),
        p: z.number(),
        pAtResolution: z.boolean(),
        pAdjusted: z.number(),
        adjustment: z.enum(['holm', 'benjamini-hochberg']),
        power: z.number(),
        detectable: z.number(),
        scenesForMargin: z.number().int().nullable(),
      }).optional(),
      note: z.string().optional(),
      insufficient: z.boolean().optional(),
    }),
  ),
  outcomes: z.object({ missed: z.number().int(), lost: z.number().int(), falsePositivesOver03: z.number().int() }),
});
export type EvalReport = z.infer<typeof EvalReport>;
