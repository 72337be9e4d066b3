/** The `bench-variants` step: latency of every variant at each batch size with ONNX Runtime (body: ./bench-variants.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, packContainer, readPackWith, variantPaths } from './params.js';

export const benchVariantsStep = defineStep({
  name: 'bench-variants',
  stage: 'package',
  summary: 'latency of every variant at each batch size with ONNX Runtime',
  with: PackWith,
  invoke(w, ctx) {
    const { w: a, rest, pack, m } = readPackWith(w, ctx);
    return nodeStep(ctx, 'bench-variants', { ...rest, variants: variantPaths(a.variants, pack), model: m?.name ?? 'model' });
  },
  container: packContainer,
  load: async () => {
    const m = await import('./bench-variants.js');
    return { params: m.BenchVariantsParams, run: m.runBenchVariants };
  },
});
