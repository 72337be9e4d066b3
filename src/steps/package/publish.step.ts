/** The `publish` step: the signed pack uploaded to S3 with checksums, resumable, read back (body: ./publish.ts). */
import { z } from 'zod';
import { defineStep, nodeStep } from '../define.js';
import { PackWith, packContainer, readPackWith } from './params.js';

export const publishStep = defineStep({
  name: 'publish',
  stage: 'package',
  summary: 'the signed pack uploaded to S3 with checksums, resumable, read back',
  with: PackWith.extend({ bucket: z.string().min(1) }),
  invoke(w, ctx) {
    const { rest } = readPackWith(w, ctx, false);
    return nodeStep(ctx, 'publish', { ...rest });
  },
  container: packContainer,
  load: async () => {
    const m = await import('./publish.js');
    return { params: m.PublishParams, run: m.runPublish };
  },
});
