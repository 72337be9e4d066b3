/**
 * The `verify-pack` step, the first of the promote stage: before a pack is promoted, its
 * signature over export_report.json and every listed file's sha256 must hold, checked with the
 * publisher's public key (`public_key`, kept outside the pack) or, said plainly as weaker, the
 * cosign.pub the pack carries. Emits `pack.files_verified` and `pack.verified` (1 or 0) for the
 * promote gates; fails naming each problem. One file: definition and body (the body is small).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { emit } from '../emit.js';
import { defineStep, nodeStep, absPath, pathInputs } from '../define.js';

export const VerifyPackParams = z
  .object({
    /** The pack directory (export_report.json, its .sig, the files it lists). */
    pack: z.string().min(1),
    /** PEM public key of the publisher; without it the pack's own cosign.pub is trusted (and the step says so). */
    public_key: z.string().min(1).optional(),
  })
  .strict();
type Params = z.infer<typeof VerifyPackParams>;

async function runVerifyPack(p: Params): Promise<number> {
  const { verifyPack } = await import('../../pack/signing.js');
  let key: string | undefined;
  if (p.public_key) {
    try {
      key = readFileSync(p.public_key, 'utf8');
    } catch (err) {
      process.stderr.write(`verify-pack: public_key ${p.public_key}: ${(err as Error).message}\n`);
      return 2;
    }
  } else emit({ type: 'log', level: 'warn', message: `no public_key given: trusting the cosign.pub inside ${p.pack}, which proves integrity, not who signed it` });
  const r = verifyPack(p.pack, key);
  emit({ type: 'metric', name: 'pack.files_verified', value: r.checked });
  emit({ type: 'metric', name: 'pack.verified', value: r.ok ? 1 : 0 });
  for (const f of r.notListed) emit({ type: 'log', level: 'warn', message: `${f} is in the pack but not in export_report.json (not covered by the signature)` });
  if (!r.ok) {
    process.stderr.write(`verify-pack: ${p.pack} does not verify:\n${r.problems.map((x) => `  ${x}`).join('\n')}\n`);
    return 1;
  }
  emit({ type: 'log', level: 'info', message: `${p.pack}: signature valid, ${r.checked} files match their sha256` });
  return 0;
}

export const verifyPackStep = defineStep({
  name: 'verify-pack',
  stage: 'promote',
  summary: "the pack's signature and every file's sha256, checked with the publisher's key before promotion",
  with: VerifyPackParams,
  invoke: (w, ctx) => {
    const params = { pack: absPath(ctx, w.pack), ...(w.public_key ? { public_key: absPath(ctx, w.public_key) } : {}) };
    return nodeStep(ctx, 'verify-pack', params, params.public_key ? [params.public_key] : []);
  },
  container: { image: 'paddock', inputs: (p) => pathInputs(p), outputs: () => [] },
  load: async () => ({ params: VerifyPackParams, run: runVerifyPack }),
});
