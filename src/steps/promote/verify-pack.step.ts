/**
 * The `verify-pack` step, the first of the promote stage: before a pack is promoted, it must be
 * signed by a trusted publisher key (kept outside the pack: `trusted_keys` or `public_key`, a
 * keyring file of PEM public keys; else $PADDOCK_TRUSTED_KEYS or the user keyring,
 * src/pack/trust.ts), its signature over export_report.json and every listed file's sha256 must
 * hold, and it must hold nothing unlisted. Strict by default: with no trusted key configured it
 * fails, saying how to give one (`strict: false` checks self-consistency only, and warns so).
 * Emits `pack.files_verified` and `pack.verified` (1 or 0) for the promote gates; fails naming
 * each problem. One file: definition and body (the body is small).
 */
import { z } from 'zod';
import { emit } from '../emit.js';
import { defineStep, nodeStep, absPath, pathInputs } from '../define.js';
// Light (node:crypto, node:fs): the keyring in force is found when the step is invoked.
import { trustedKeyringFiles } from '../../pack/trust.js';

export const VerifyPackParams = z
  .object({
    /** The pack directory (export_report.json, its .sig, the files it lists). */
    pack: z.string().min(1),
    /** A PEM public key file of the publisher (or a keyring, as trusted_keys). */
    public_key: z.string().min(1).optional(),
    /** A keyring file (PEM public keys, one or more) of the publishers whose signature is trusted. */
    trusted_keys: z.string().min(1).optional(),
    /** Fail when no trusted key is configured (default); false: self-consistency only, said as a warning. */
    strict: z.boolean().default(true),
  })
  .strict();
type Params = z.infer<typeof VerifyPackParams>;

const HOW = 'a `trusted_keys:` parameter naming a keyring file';

async function runVerifyPack(p: Params): Promise<number> {
  const { loadTrustedKeys, verifyPack, describeTrust, howToTrust, isInside, TrustError } = await import('../../pack/trust.js');
  const given = [p.trusted_keys, p.public_key].filter((x): x is string => Boolean(x));
  let trusted;
  try {
    trusted = loadTrustedKeys({ files: given });
  } catch (err) {
    if (!(err instanceof TrustError)) throw err;
    process.stderr.write(`verify-pack: ${err.message}\n`);
    return 2;
  }
  for (const f of trustedKeyringFiles(given)?.files ?? []) if (isInside(f, p.pack)) emit({ type: 'log', level: 'warn', message: `the trusted key file ${f} is inside the pack: it vouches for nothing the pack could not say itself` });
  if (!trusted && !p.strict) emit({ type: 'log', level: 'warn', message: `strict: false and no trusted key: checking ${p.pack} against its own cosign.pub, which proves integrity, not who signed it` });
  const r = verifyPack(p.pack, { trusted, strict: p.strict, howToTrust: howToTrust(HOW) });
  emit({ type: 'metric', name: 'pack.files_verified', value: r.checked });
  emit({ type: 'metric', name: 'pack.verified', value: r.ok ? 1 : 0 });
  if (!r.ok) {
    process.stderr.write(`verify-pack: ${p.pack} does not verify:\n${r.problems.map((x) => `  ${x}`).join('\n')}\n`);
    return 1;
  }
  emit({ type: 'log', level: r.trust === 'trusted' ? 'info' : 'warn', message: `${p.pack}: ${describeTrust(r)}; signature valid, ${r.checked} files match their sha256, nothing unlisted` });
  return 0;
}

export const verifyPackStep = defineStep({
  name: 'verify-pack',
  stage: 'promote',
  summary: "the pack's signer (a trusted key), signature and every file's sha256, checked before promotion",
  produces: ['pack.verified', 'pack.files_verified'],
  with: VerifyPackParams,
  invoke: (w, ctx) => {
    // The keyring in force is resolved here, on this machine, and passed as a parameter: it is
    // then recorded with the run and copied into a container like any other input.
    const given = w.trusted_keys ?? w.public_key;
    const found = given ? undefined : trustedKeyringFiles([], process.env)?.files[0];
    const params = {
      pack: absPath(ctx, w.pack),
      ...(w.trusted_keys ? { trusted_keys: absPath(ctx, w.trusted_keys) } : found ? { trusted_keys: found } : {}),
      ...(w.public_key ? { public_key: absPath(ctx, w.public_key) } : {}),
      ...(w.strict === false ? { strict: false } : {}),
    };
    return nodeStep(ctx, 'verify-pack', params, [params.trusted_keys, params.public_key].filter((x): x is string => Boolean(x)));
  },
  container: { image: 'paddock', inputs: (p) => pathInputs(p), outputs: () => [] },
  load: async () => ({ params: VerifyPackParams, run: runVerifyPack }),
});

