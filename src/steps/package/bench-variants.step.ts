/** The `bench-variants` step: latency of every variant at each batch size with ONNX Runtime (body: ./bench-variants.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, packContainer, readPackWith, variantPaths } from './params.js';

export const benchVariantsStep = defineStep({
  name: 'bench-variants',
  stage: 'package',
  summary: 'latency of every variant at each batch size with ONNX Runtime',
  // What it emits (docs/steps.md): per <model>/<variant>/b<batch> (the bench step's timed loop).
  produces: ['latency.p{50,95,99}_ms', 'latency.mean_ms', 'throughput.items_per_s', 'memory.peak_rss_mb'],
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
