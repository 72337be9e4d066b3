/** The `coverage` step: check every operator against each target's operator list before anything is built (body: ./coverage.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, packContainer, readPackWith } from './params.js';

export const coverageStep = defineStep({
  name: 'coverage',
  stage: 'package',
  summary: 'check every operator against each target\'s operator list before anything is built',
  produces: ['coverage.unsupported_operators'],
  with: PackWith,
  invoke(w, ctx) {
    const { w: a, rest, packOnnx } = readPackWith(w, ctx);
    const targets = ctx.recipe.targets.filter((t) => !a.targets || (a.targets as string[]).includes(t.name)).map((t) => ({ name: t.name, backend: t.backend, precision: t.precision, ...(t.operators ? { operators: t.operators } : {}) }));
    return nodeStep(ctx, 'coverage', { ...rest, model: (a.onnx as string) ?? packOnnx, targets, onnx: undefined });
  },
  container: packContainer,
  load: async () => {
    const m = await import('./coverage.js');
    return { params: m.CoverageParams, run: m.runCoverage };
  },
});
