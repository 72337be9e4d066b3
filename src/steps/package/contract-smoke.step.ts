/** The `contract-smoke` step: the Triton repository served and asked over KServe v2, answers checked against the contract (body: ./contract-smoke.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, modelIdentity, readPackWith } from './params.js';

export const contractSmokeStep = defineStep({
  name: 'contract-smoke',
  stage: 'package',
  summary: 'the Triton repository served and asked over KServe v2, answers checked against the contract',
  produces: ['contract_smoke.{ran,problems}'],
  with: PackWith,
  invoke(w, ctx) {
    const { rest, m } = readPackWith(w, ctx);
    return nodeStep(ctx, 'contract-smoke', { ...rest, ...modelIdentity(m) });
  },
  container: { unsupported: "it starts Triton in a container on this machine's Docker engine" },
  load: async () => {
    const m = await import('./contract-smoke.js');
    return { params: m.ContractSmokeParams, run: m.runContractSmoke };
  },
});
