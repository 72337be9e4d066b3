/** The `sign` step: export_report.json signed with ECDSA P-256 (.sig, Sigstore bundle, cosign.pub) (body: ./sign.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, readPackWith } from './params.js';

export const signStep = defineStep({
  name: 'sign',
  stage: 'package',
  summary: 'export_report.json signed with ECDSA P-256 (.sig, Sigstore bundle, cosign.pub)',
  // What it emits (docs/steps.md): none: it signs and publishes.
  produces: [],
  with: PackWith,
  invoke(w, ctx) {
    const { rest, m } = readPackWith(w, ctx);
    return nodeStep(ctx, 'sign', { ...rest, ...(m ? { model: m.name, version: m.version, contract: m.contractDir, lineage: { ...ctx.recipe.models[m.name].lineage, onnx: m.onnx, checkpoint: m.checkpoint }, lineage_dir: ctx.baseDir } : {}) });
  },
  // It publishes the version it signs by switching <pack> on this machine's filesystem, which a
  // container's copy of the pack cannot do (and the private key stays on this machine).
  container: { unsupported: "it publishes the pack's new version by switching the pack's symlink on this machine" },
  load: async () => {
    const m = await import('./sign.js');
    return { params: m.SignParams, run: m.runSign };
  },
});
