/**
 * `paddock verify <pack>`: the signature over export_report.json (the .sig and the Sigstore
 * bundle), every listed file's sha256, and nothing in the pack unlisted. Who signed it is checked
 * against the trusted keys (--key / --keyring files, else $PADDOCK_TRUSTED_KEYS, else the user
 * keyring: src/pack/trust.ts); with none configured, only the pack's self-consistency can be
 * checked (against its own cosign.pub), and it says so plainly; --strict makes that a failure.
 * Exit 0 when all hold, 1 when anything does not, 2 for bad arguments or a bad keyring.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeTrust, howToTrust, isInside, loadTrustedKeys, trustedKeyringFiles, verifyPack, TrustError, type TrustedKey } from '../src/pack/trust.js';

export interface VerifyCommandOptions {
  /** Keyring files (--key and --keyring): PEM public keys, one or more each. */
  keys?: string[];
  strict?: boolean;
  json?: boolean;
  write?: (l: string) => void;
  env?: NodeJS.ProcessEnv;
}

export function verifyCommand(dir: string, opts: VerifyCommandOptions): number {
  const write = opts.write ?? ((l: string) => process.stdout.write(`${l}\n`));
  const env = opts.env ?? process.env;
  const pack = resolve(dir);
  if (!existsSync(pack)) {
    process.stderr.write(`paddock verify: ${pack}: no such directory\n`);
    return 2;
  }
  let trusted: TrustedKey[] | undefined;
  try {
    trusted = loadTrustedKeys({ files: opts.keys, env });
  } catch (err) {
    if (!(err instanceof TrustError)) throw err;
    process.stderr.write(`paddock verify: ${err.message}\n`);
    return 2;
  }
  const from = trustedKeyringFiles(opts.keys, env)?.files ?? [];
  const how = howToTrust('--key FILE (or --keyring FILE)', env);
  const r = verifyPack(pack, { trusted, strict: opts.strict, howToTrust: how });
  const inPack = from.filter((f) => isInside(f, pack));
  if (opts.json) {
    write(JSON.stringify({ pack, ok: r.ok, trust: r.trust, strict: Boolean(opts.strict), trusted_keys: from, signer: r.signer ?? null, files_checked: r.checked, problems: r.problems }));
    return r.ok ? 0 : 1;
  }
  if (!trusted) write(`note: no trusted key is configured, so this checks self-consistency only: the signature against the cosign.pub inside the pack, which whoever can change the pack can replace. To check who signed it give ${how}.`);
  for (const f of inPack) write(`note: the trusted key file ${f} is inside the pack: it vouches for nothing the pack could not say itself`);
  for (const p of r.problems) write(`FAIL ${p}`);
  if (!r.ok) write(`FAILED ${pack}: ${r.problems.length} problem(s)`);
  else if (r.trust === 'trusted') write(`OK ${pack} (${describeTrust(r)}): signature valid, ${r.checked} files match their sha256`);
  else write(`OK ${pack} (self-consistent only, no trusted key): signature valid, ${r.checked} files match their sha256`);
  return r.ok ? 0 : 1;
}
