/**
 * The `publish` step: upload the signed pack to S3 (src/pack/s3-publish.ts). Credentials come
 * from the AWS SDK's usual sources (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles); they are
 * never logged. The pack must verify before anything is sent, strictly by default: signed by a
 * trusted key (`trusted_keys`, a keyring file of PEM public keys kept outside the pack; else
 * $PADDOCK_TRUSTED_KEYS or the user keyring: src/pack/trust.ts), every listed file's sha256,
 * and nothing in the pack unlisted (an added file would otherwise be served unsigned).
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { emit } from '../emit.js';
import { publishPack } from '../../pack/s3-publish.js';
import { BUNDLE, PUBLIC_KEY, REPORT, SIGNATURE } from '../../pack/signing.js';
import { describeTrust, howToTrust, isInside, loadTrustedKeys, trustedKeyringFiles, verifyPack, TrustError } from '../../pack/trust.js';
import { log } from './common.js';

export const PublishParams = z
  .object({
    pack: z.string().min(1),
    bucket: z.string().min(3),
    /** Key prefix; default <task>/<version> from the pack's last two directories. */
    prefix: z.string().optional(),
    endpoint: z.string().url().optional(),
    region: z.string().optional(),
    force_path_style: z.boolean().optional(),
    part_size_mb: z.number().min(5).max(5120).default(8),
    multipart_threshold_mb: z.number().min(5).default(16),
    state_file: z.string().optional(),
    verify: z.boolean().default(true),
    /** A keyring file (PEM public keys) of the publishers whose packs may be published. */
    trusted_keys: z.string().min(1).optional(),
    /** Refuse to publish when no trusted key is configured (default); false: self-consistency only, with a warning. */
    strict: z.boolean().default(true),
  })
  .strict();

export async function runPublish(p: z.infer<typeof PublishParams>): Promise<number> {
  const given = p.trusted_keys ? [p.trusted_keys] : [];
  let trusted;
  try {
    trusted = loadTrustedKeys({ files: given });
  } catch (err) {
    if (!(err instanceof TrustError)) throw err;
    process.stderr.write(`publish: ${err.message}; nothing was sent\n`);
    return 2;
  }
  for (const f of trustedKeyringFiles(given)?.files ?? []) if (isInside(f, p.pack)) log(`the trusted key file ${f} is inside the pack: it vouches for nothing the pack could not say itself`, 'warn');
  // The pack is a pointer to its current version (sign flips it): resolved once, so what is
  // verified and what is uploaded are the same version even if a new one is signed meanwhile.
  let dir: string;
  try {
    dir = realpathSync(p.pack);
  } catch {
    process.stderr.write(`publish: ${p.pack}: no such pack; nothing was sent\n`);
    return 2;
  }
  const v = verifyPack(dir, { trusted, strict: p.strict, howToTrust: howToTrust('a `trusted_keys:` parameter naming a keyring file') });
  if (!v.ok) {
    process.stderr.write(`publish: the pack does not verify, nothing was sent:\n${v.problems.map((x) => `  ${x}`).join('\n')}\n`);
    return 1;
  }
  log(`${p.pack}${dir !== p.pack ? ` (${dir})` : ''}: ${describeTrust(v)}; ${v.checked} files match their sha256`, v.trust === 'trusted' ? 'info' : 'warn');
  const prefix = p.prefix ?? `${basename(dirname(p.pack))}/${basename(p.pack)}`;
  const files = await publishPack({
    pack: dir,
    // What was verified, and nothing else (a file added since is not sent).
    files: [...new Set([...v.files, ...[REPORT, SIGNATURE, BUNDLE, PUBLIC_KEY].filter((f) => existsSync(join(dir, f)))])],
    bucket: p.bucket,
    prefix,
    endpoint: p.endpoint,
    region: p.region,
    forcePathStyle: p.force_path_style,
    partSizeMb: p.part_size_mb,
    multipartThresholdMb: p.multipart_threshold_mb,
    stateFile: p.state_file ?? `${p.pack}.upload-state.json`,
    verify: p.verify,
    onLog: (m) => log(m),
    onProgress: (done, total) => emit({ type: 'progress', done, total, unit: 'bytes' }),
  });
  for (const f of files) log(`s3://${p.bucket}/${f.key}: ${f.action}${f.parts ? ` (${f.parts} parts${f.resumedParts ? `, ${f.resumedParts} from before` : ''})` : ''}${f.verified ? ', read back and verified' : ''}`);
  emit({ type: 'metric', name: 'publish.files', value: files.length, denominators: { bytes: files.reduce((a, f) => a + f.bytes, 0) } });
  return 0;
}
