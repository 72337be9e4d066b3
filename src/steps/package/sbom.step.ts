/** The `sbom` step: a CycloneDX 1.6 SBOM with the model components, and Trivy's scans of the pack and the serving image (body: ./sbom.ts). */
import { absPath, defineStep, nodeStep } from '../define.js';
import { PackWith, modelIdentity, readPackWith } from './params.js';

export const sbomStep = defineStep({
  name: 'sbom',
  stage: 'package',
  summary: 'a CycloneDX 1.6 SBOM with the model components; Trivy (offline) on the pack and the serving image: image SBOM, secrets, licenses, and vulnerabilities against a database you give',
  // What it emits (docs/steps.md): scan.* per scan (tool, kind).
  produces: ['scan.*'],
  with: PackWith,
  invoke(w, ctx) {
    const { rest, m } = readPackWith(w, ctx);
    // Paths of this step's own parameters, relative to the recipe like the pack's.
    const paths = Object.fromEntries((['vulnerability_db', 'cache_dir'] as const).filter((k) => typeof rest[k] === 'string').map((k) => [k, absPath(ctx, rest[k] as string)]));
    return nodeStep(ctx, 'sbom', { ...rest, ...paths, ...modelIdentity(m) });
  },
  container: { unsupported: "it reads the serving image from this machine's Docker engine and runs Trivy from paddock's node_modules" },
  load: async () => {
    const m = await import('./sbom.js');
    return { params: m.SbomParams, run: m.runSbom };
  },
});
