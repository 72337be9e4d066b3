/** The `variants` step: FP16 and INT8 variants (calibrated on a slice-balanced shard, per-layer FP32 fallback) (body: ./variants.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, packContainer, readPackWith } from './params.js';

export const variantsStep = defineStep({
  name: 'variants',
  stage: 'package',
  summary: 'FP16 and INT8 variants (calibrated on a slice-balanced shard, per-layer FP32 fallback)',
  // What it emits (docs/steps.md): int8.* per layer and output.
  produces: ['int8.*'],
  with: PackWith,
  invoke(w, ctx) {
    const { w: a, rest, packOnnx, m } = readPackWith(w, ctx);
    return nodeStep(ctx, 'variants', { ...rest, onnx: undefined, model: (a.onnx as string) ?? packOnnx, contract: m?.contractDir ?? a.contract });
  },
  container: packContainer,
  load: async () => {
    const m = await import('./variants.js');
    return { params: m.VariantsParams, run: m.runVariants };
  },
});
