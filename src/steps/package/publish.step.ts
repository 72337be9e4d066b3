/** The `publish` step: the signed pack, verified against a trusted key, uploaded to S3 with checksums, resumable, read back (body: ./publish.ts). */
import { z } from 'zod';
import { defineStep, nodeStep } from '../define.js';
// Light (node:crypto, node:fs): the keyring in force is found when the step is invoked.
import { trustedKeyringFiles } from '../../pack/trust.js';
import { PackWith, packContainer, readPackWith } from './params.js';

export const publishStep = defineStep({
  name: 'publish',
  stage: 'package',
  summary: 'the signed pack, verified against a trusted key, uploaded to S3 with checksums, resumable, read back',
  produces: ['publish.files'],
  with: PackWith.extend({ bucket: z.string().min(1), trusted_keys: z.string().min(1).optional(), strict: z.boolean().optional() }),
  invoke(w, ctx) {
    const { rest } = readPackWith(w, ctx, false);
    // The keyring in force ($PADDOCK_TRUSTED_KEYS or the user keyring, when the recipe names
    // none) is resolved on this machine and passed on: recorded with the run, and copied into a
    // container like any other input.
    const found = rest.trusted_keys ? undefined : trustedKeyringFiles([], process.env)?.files[0];
    return nodeStep(ctx, 'publish', { ...rest, ...(found ? { trusted_keys: found } : {}) });
  },
  container: packContainer,
  load: async () => {
    const m = await import('./publish.js');
    return { params: m.PublishParams, run: m.runPublish };
  },
});
