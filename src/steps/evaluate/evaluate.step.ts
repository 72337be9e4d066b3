/**
 * The `evaluate` step: the candidate (and a baseline) on a split: COCO metrics, per-slice
 * bootstrap intervals, outcomes, reports (body: ./evaluate.ts).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineStep, nodeStep, absPath, pathInputs } from '../define.js';
import { INTERVAL_METHODS } from '../../metrics/inference.js';

export const EvaluateParams = z
  .object({
    candidate: z.object({ name: z.string().min(1), model: z.string().min(1) }).strict(),
    baseline: z.object({ name: z.string().min(1), model: z.string().min(1) }).strict().optional(),
    manifest: z.string().min(1),
    /** COCO ground truth; default: the manifest's sibling <split>.coco.json. */
    gt: z.string().optional(),
    slices: z.string().min(1),
    /** Bootstrap replicates per slice before any are added near a decision (statistics.max_replicates). */
    replicates: z.number().int().min(10).max(100_000).default(1000),
    /** The run's seed; each slice's own is derived from it and the slice's id (recorded in eval_report.json). */
    seed: z.number().int().default(1),
    /** How slices are tested (docs/evaluate.md "Statistics"; the defaults are what bench/coverage.ts measured). */
    statistics: z
      .object({
        /** How an interval is read off the replicates. */
        method: z.enum(INTERVAL_METHODS).default('percentile-expanded'),
        /** One-sided level of the bounds and tests the gates decide on (a gate's alpha must be this). */
        alpha: z.number().gt(0).lt(0.5).default(0.05),
        /** The regression test's null: the candidate is not worse than the baseline by more than this (a regression gate's margin must be this). */
        margin: z.number().min(0).default(0),
        /** Replicates are doubled, up to this many, for a slice whose p-value is within Monte Carlo error of a decision. */
        max_replicates: z.number().int().min(10).max(1_000_000).default(8000),
        /** Below this many scenes with objects of the slice's classes, or this many objects, a slice is "insufficient data". */
        min_scenes: z.number().int().min(2).default(10),
        /** ... or this many effective scenes (Kish: objects heaped into few scenes count as few). */
        min_effective_scenes: z.number().int().min(1).default(8),
        min_objects: z.number().int().min(1).default(10),
        /** Power at which the smallest detectable drop is reported. */
        power: z.number().gt(0.5).lt(1).default(0.8),
      })
      .strict()
      .prefault({}),
    /** Where reports go; default: ./evaluation in the step's working directory. */
    out: z.string().default('evaluation'),
    /** At most this many failures of each kind become events (all are in outcomes.jsonl). */
    max_failures: z.number().int().min(0).default(200),
  })
  .strict();

export const evaluateStep = defineStep({
  name: 'evaluate',
  stage: 'evaluate',
  summary: 'COCO metrics and per-slice bootstrap intervals of the candidate against a baseline',
  // What it emits (docs/steps.md): COCO's twelve, per model (target) and per class or slice; slice deltas with their p-values.
  produces: ['coco.{AP,AP50,AP75,APs,APm,APl,AR1,AR10,AR100,ARs,ARm,ARl}', 'coco.AP.{delta,delta_p,delta_p_adjusted}', 'coco.AP.delta.{lower,upper,detectable,scenes_for_margin}', 'slice.{critical,insufficient}', 'infer.images_per_s', 'outcomes.{missed_objects,lost_objects,gained_objects,false_positives_over_0.3}'],
  with: EvaluateParams,
  reportsAs: (w) => [w.candidate, w.baseline].flatMap((m) => (m && typeof m === 'object' && typeof (m as { name?: unknown }).name === 'string' ? [(m as { name: string }).name] : [])),
  invoke(w, ctx) {
    const model = (m?: { name: string; model: string }) => (m ? { ...m, model: absPath(ctx, m.model) } : undefined);
    const params = { ...w, candidate: model(w.candidate), baseline: model(w.baseline), manifest: absPath(ctx, w.manifest), gt: absPath(ctx, w.gt), slices: absPath(ctx, w.slices), out: absPath(ctx, w.out) };
    const inputs = [params.manifest, params.slices, params.candidate && join(params.candidate.model, 'model.onnx'), params.baseline && join(params.baseline.model, 'model.onnx')].filter((x): x is string => Boolean(x));
    return nodeStep(ctx, 'evaluate', params, inputs);
  },
  container: { image: 'paddock', inputs: (p) => pathInputs(p), outputs: (p) => (typeof p.out === 'string' ? [p.out] : []) },
  load: async () => ({ params: EvaluateParams, run: (await import('./evaluate.js')).runEvaluate }),
});
