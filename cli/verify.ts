/**
 * `paddock verify <pack>`: the signature over export_report.json (the .sig and the Sigstore
 * bundle) and every listed file's sha256. Exit 0 when all hold, 1 when anything does not.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { verifyPack } from '../src/pack/signing.js';

export function verifyCommand(dir: string, opts: { key?: string; json?: boolean; write?: (l: string) => void }): number {
  const write = opts.write ?? ((l: string) => process.stdout.write(`${l}\n`));
  const pack = resolve(dir);
  if (!existsSync(pack)) {
    process.stderr.write(`paddock verify: ${pack}: no such directory\n`);
    return 2;
  }
  if (opts.key && !existsSync(opts.key)) {
    process.stderr.write(`paddock verify: --key ${opts.key}: no such file\n`);
    return 2;
  }
  const r = verifyPack(pack, opts.key ? readFileSync(opts.key, 'utf8') : undefined);
  if (opts.json) {
    write(JSON.stringify({ pack, ok: r.ok, key: opts.key ?? 'cosign.pub in the pack', files_checked: r.checked, problems: r.problems, not_listed: r.notListed }));
    return r.ok ? 0 : 1;
  }
  if (!opts.key) write('note: trusting cosign.pub inside the pack; pass --key with the publisher\'s public key to check who signed it');
  for (const p of r.problems) write(`FAIL ${p}`);
  for (const f of r.notListed) write(`note: ${f} is in the pack but not in export_report.json (not covered by the signature)`);
  write(r.ok ? `OK ${pack}: signature valid, ${r.checked} files match their sha256` : `FAILED ${pack}: ${r.problems.length} problem(s)`);
  return r.ok ? 0 : 1;
}
