/** The `stage` step: pin the environment, fetch and hash-verify the artifacts, resolve container images to ids (body: ./stage.ts). */
import { STAGES } from '../../schema/recipe.js';
import { defineStep, nodeStep } from '../define.js';
import { PackWith, contractIo, readPackWith } from './params.js';

export const stageStep = defineStep({
  name: 'stage',
  stage: 'package',
  summary: 'pin the environment, fetch and hash-verify the artifacts, resolve container images to ids',
  produces: ['stage.artifact_verified'],
  with: PackWith,
  invoke(w, ctx) {
    const { w: a, rest, m } = readPackWith(w, ctx);
    const artifacts = m ? [m.onnx && { name: `${m.name}.onnx`, ...m.onnx }, m.checkpoint && { name: `${m.name}.checkpoint`, ...m.checkpoint }].filter((x) => x !== undefined) : [];
    // Every container image a step of the recipe names, to be resolved to its id by the stage step.
    const images = [...new Set([...STAGES.flatMap((st) => ctx.recipe.stages[st].flatMap((s) => (s.container?.image ? [s.container.image] : []))), ...((a.images as string[]) ?? [])])];
    const params = { ...rest, images, artifacts: [...artifacts, ...((a.artifacts as unknown[]) ?? [])], checkpoint: m?.checkpoint?.path, ...contractIo(m?.contractDir) };
    return nodeStep(ctx, 'stage', params, artifacts.map((x) => x.path));
  },
  container: { unsupported: "it records this machine's environment and looks images up on this machine's Docker engine" },
  load: async () => {
    const m = await import('./stage.js');
    return { params: m.StageParams, run: m.runStage };
  },
});
