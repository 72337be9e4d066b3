/** The `triton-repo` step: a Triton model repository (one model per variant, optional ensemble), parsed back and checked (body: ./triton-repo.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, packContainer, modelIdentity, readPackWith } from './params.js';

export const tritonRepoStep = defineStep({
  name: 'triton-repo',
  stage: 'package',
  summary: 'a Triton model repository (one model per variant, optional ensemble), parsed back and checked',
  produces: ['triton.models'],
  with: PackWith,
  invoke(w, ctx) {
    const { rest, m } = readPackWith(w, ctx);
    return nodeStep(ctx, 'triton-repo', { ...rest, ...modelIdentity(m) });
  },
  container: packContainer,
  load: async () => {
    const m = await import('./triton-repo.js');
    return { params: m.TritonRepoParams, run: m.runTritonRepo };
  },
});
