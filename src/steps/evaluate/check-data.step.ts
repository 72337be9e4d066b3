/** The `check-data` step: manifest integrity and split leakage before anything is evaluated (body: ./check-data.ts). */
import { z } from 'zod';
import { defineStep, nodeStep, absPath, pathInputs } from '../define.js';

export const CheckDataParams = z
  .object({
    /** Splits in temporal order, e.g. golden_train, golden_val, golden_test. */
    splits: z.array(z.object({ name: z.string().min(1), manifest: z.string().min(1) }).strict()).min(1),
    /** Dataset root the rows' paths are relative to; default: the parent of each manifest's folder. */
    root: z.string().optional(),
    files: z.boolean().default(true),
    min_gap_days: z.number().nonnegative().optional(),
    disjoint_cities: z.boolean().default(false),
  })
  .strict();

export const checkDataStep = defineStep({
  name: 'check-data',
  stage: 'evaluate',
  summary: 'manifest schema, missing or changed files, scene/time/city leakage between splits',
  produces: ['data.frames', 'data.violations'],
  with: CheckDataParams,
  invoke(w, ctx) {
    const splits = w.splits.map((s) => ({ ...s, manifest: absPath(ctx, s.manifest) }));
    return nodeStep(ctx, 'check-data', { ...w, splits, ...(w.root ? { root: absPath(ctx, w.root) } : {}) }, splits.map((s) => s.manifest));
  },
  container: { image: 'paddock', inputs: (p) => pathInputs(p), outputs: () => [] },
  load: async () => ({ params: CheckDataParams, run: (await import('./check-data.js')).runCheckData }),
});
