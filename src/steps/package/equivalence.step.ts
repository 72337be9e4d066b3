/** The `equivalence` step: numerical and task-level equivalence of each variant against the FP32 reference (body: ./equivalence.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, packContainer, readPackWith, variantPaths } from './params.js';

export const equivalenceStep = defineStep({
  name: 'equivalence',
  stage: 'package',
  summary: 'numerical and task-level equivalence of each variant against the FP32 reference',
  // What it emits (docs/steps.md): per variant (max_abs, p99_abs per output; iou_drift, match_rate).
  produces: ['equivalence.*'],
  with: PackWith,
  invoke(w, ctx) {
    const { w: a, rest, pack, packOnnx, m } = readPackWith(w, ctx);
    return nodeStep(ctx, 'equivalence', { ...rest, reference: (a.reference as string) ?? packOnnx, contract: m?.contractDir ?? a.contract, variants: variantPaths(a.variants, pack) });
  },
  container: packContainer,
  load: async () => {
    const m = await import('./equivalence.js');
    return { params: m.EquivalenceParams, run: m.runEquivalence };
  },
});
