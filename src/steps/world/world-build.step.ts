/** The `world-build` step: render the built-in world (or reuse it) into a folder (body: ./world-build.ts). */
import { z } from 'zod';
import { defineStep, nodeStep, absPath } from '../define.js';

export const WorldBuildParams = z
  .object({
    out: z.string().min(1),
    size: z.enum(['default', 'tiny']).default('default'),
    /** Render worker threads (default: one per core, os.availableParallelism()); 1 renders on the step's own thread. */
    workers: z.number().int().min(1).max(64).optional(),
    /**
     * Replay drives to render (default: the world's 20). Drive k is the same drive whatever the
     * count, so a world with more drives serves a recipe asking for fewer (the quick demo
     * replays 4: rendering the other 16, 4,800 frames, was 40% of its world build).
     */
    replay_drives: z.number().int().min(1).max(200).optional(),
  })
  .strict();

export const worldBuildStep = defineStep({
  name: 'world-build',
  stage: 'any',
  summary: "render the built-in world's drives, frames, manifests and ground truth (reused when built)",
  produces: ['world.frames'],
  with: WorldBuildParams.partial({ out: true }),
  invoke: (w, ctx) => nodeStep(ctx, 'world-build', { ...w, out: absPath(ctx, w.out) }),
  container: { unsupported: "it encodes PNGs with sharp's libvips, which paddock's step image does not carry" },
  load: async () => ({ params: WorldBuildParams, run: (await import('./world-build.js')).runWorldBuild }),
});
