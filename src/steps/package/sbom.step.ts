/** The `sbom` step: a CycloneDX 1.6 SBOM with the model components, and the scanners where their images are (body: ./sbom.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, modelIdentity, readPackWith } from './params.js';

export const sbomStep = defineStep({
  name: 'sbom',
  stage: 'package',
  summary: 'a CycloneDX 1.6 SBOM with the model components, and the scanners where their images are',
  with: PackWith,
  invoke(w, ctx) {
    const { rest, m } = readPackWith(w, ctx);
    return nodeStep(ctx, 'sbom', { ...rest, ...modelIdentity(m) });
  },
  container: { unsupported: "it runs the scanners' containers on this machine's Docker engine" },
  load: async () => {
    const m = await import('./sbom.js');
    return { params: m.SbomParams, run: m.runSbom };
  },
});
