/**
 * `paddock audit verify` and `paddock audit query` (issue 20 item 7), on the registry the other
 * registry commands use (./registry.ts).
 *
 * verify: the hash chain, every signature and every table row against its record
 * (src/registry/audit.ts verifyAudit), with the keys trusted in this order: --key files, the
 * policy's audit_keys, else this machine's own audit key. That last one proves little: whoever
 * can write this machine's registry can usually read the key beside it, so the output says so.
 * A chain cannot show its own tail cut off (the last records deleted with their rows), so the
 * head verified last time is kept in <home>/audit-head.json, per registry, and the next verify
 * expects the chain to still reach it.
 *
 * query: SQL (DuckDB) over the registry, the run store and Parquet report folders
 * (src/registry/audit-query.ts), printed as a table when it fits 80 columns, else one block per
 * row (psql's expanded display), or --json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeAtomic } from '../src/files/atomic.js';
import { formatTable } from '../src/files/format.js';
import { parseKeyring } from '../src/pack/trust.js';
import { CANNED_QUERIES } from '../src/registry/audit-query.js';
import { verifyAudit } from '../src/registry/audit.js';
import { wrap } from './command-help.js';
import { UsageError, auditKeyFile, guard, out, outJson, say, policyFile, requirePolicy, withRegistry, type CliValues, type RegistryContext } from './registry.js';

const WIDTH = 80;

/** `paddock audit <verify|query> ...`: the arguments checked, then the command run. */
export async function auditCli(rest: string[], values: CliValues, home: string): Promise<number> {
  const ctx: RegistryContext = { home, registry: typeof values.registry === 'string' ? values.registry : undefined, json: Boolean(values.json) };
  const [sub, ...args] = rest;
  const usage = (command: string, message: string) => {
    process.stderr.write(`paddock ${command}: ${message}\nTry "paddock ${command} --help".\n`);
    return 2;
  };
  if (sub === 'verify') {
    if (args.length) return usage('audit verify', `unexpected argument "${args[0]}"`);
    const keys = Array.isArray(values.key) ? values.key : [];
    return guard('audit verify', () => auditVerify(ctx, { keys, policy: typeof values.policy === 'string' ? values.policy : undefined }));
  }
  if (sub === 'query') {
    const canned = typeof values.canned === 'string' ? values.canned : undefined;
    if (args.length > 1) return usage('audit query', `unexpected argument "${args[1]}" (quote the SQL as one argument)`);
    if (Boolean(args[0]) === Boolean(canned)) return usage('audit query', `give the SQL as one argument, or --canned NAME (${Object.keys(CANNED_QUERIES).join(', ')}), one of them`);
    const parquet = Array.isArray(values.parquet) ? values.parquet : [];
    return guard('audit query', () => auditQueryCommand(ctx, { sql: args[0], canned, parquet }));
  }
  return usage('audit verify', `${sub ? `unknown audit command "${sub}"` : 'audit needs a command'}: verify or query`);
}

/** The verified heads, by registry (a file path, or a URL without its password). */
type Heads = Record<string, { seq: number; hash: string; at: string }>;

function headsFile(home: string): string {
  return join(home, 'audit-head.json');
}

function readHeads(home: string): Heads {
  const file = headsFile(home);
  if (!existsSync(file)) return {};
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { heads?: Heads };
    return doc.heads ?? {};
  } catch (err) {
    // A head file that is not JSON cannot be trusted to say anything: refuse rather than forget it silently.
    throw new UsageError(`${file}: not JSON (${(err as Error).message}); it keeps the audit head verified last: restore it, or remove it to start over (a cut tail then goes unnoticed once)`);
  }
}

/**
 * `paddock audit verify [--key FILE]...`: verifyAudit with the trusted keys, the head kept from
 * the last verify as `expect`. Every problem printed, exit 1 on any; the new head is kept only
 * when the chain verifies.
 */
export async function auditVerify(ctx: RegistryContext, o: { keys: string[]; policy?: string }): Promise<number> {
  const env = ctx.env ?? process.env;
  let trusted: { keyId: string; publicPem: string }[];
  let source: string;
  let localOnly = false;
  const asTrusted = (ks: { key: import('node:crypto').KeyObject; fingerprint: string }[]) => ks.map((k) => ({ keyId: k.fingerprint, publicPem: k.key.export({ type: 'spki', format: 'pem' }).toString() }));
  if (o.keys.length) {
    const files = o.keys.map((k) => resolve(k));
    for (const f of files) if (!existsSync(f)) throw new UsageError(`--key ${f}: no such file`);
    trusted = asTrusted(files.flatMap((f) => parseKeyring(readFileSync(f, 'utf8'), f)));
    source = files.join(', ');
  } else {
    const p = policyFile(ctx.home, o.policy, env);
    const policy = p.named || existsSync(p.file) ? requirePolicy(ctx.home, o.policy, env) : undefined;
    if (policy?.audit_keys.length) {
      trusted = asTrusted(policy.audit_keys);
      source = `the policy's audit_keys (${policy.paths.audit_keys.join(', ')})`;
    } else {
      const pub = `${auditKeyFile(ctx.home)}.pub.pem`;
      if (!existsSync(pub)) throw new UsageError(`no audit key to trust: give --key FILE (the registry's audit public key, PEM), or name it in the policy's audit_keys${policy ? ` (${policy.file} names none)` : ''}; this machine has no audit key (${pub}) either`);
      trusted = asTrusted(parseKeyring(readFileSync(pub, 'utf8'), pub));
      source = `this machine's own audit key (${pub})`;
      localOnly = true;
    }
  }
  return withRegistry(ctx, 'read', async (r) => {
    const where = r.db.where;
    const heads = readHeads(ctx.home);
    const expect = heads[where];
    const v = await verifyAudit(r.db, trusted, expect ? { expect: { seq: expect.seq, hash: expect.hash } } : {});
    if (v.ok) writeAtomic(headsFile(ctx.home), `${JSON.stringify({ heads: { ...heads, [where]: { seq: v.head.seq, hash: v.head.hash, at: new Date().toISOString() } } }, null, 2)}\n`);
    const localNote = "the only key trusted is this machine's own audit key: it vouches only for records this machine wrote, and whoever can change this registry here can usually read that key too; name the registry's key in the policy's audit_keys, or give --key";
    if (ctx.json) {
      outJson({ registry: where, ok: v.ok, records: v.records, head: v.head, expected: expect ?? null, trusted: source, local_key_only: localOnly, problems: v.problems });
      return v.ok ? 0 : 1;
    }
    say(`audit trail of ${where}: ${v.records} record${v.records === 1 ? '' : 's'}, trusting ${source}`);
    if (localOnly) out(wrap(`note: ${localNote}`, WIDTH).join('\n'));
    if (expect) say(`expected head: record ${expect.seq} (${expect.hash.slice(0, 12)}..., verified ${expect.at})`);
    for (const p of v.problems) out(wrap(`FAIL ${p}`, WIDTH - 5).map((l, i) => (i ? `     ${l}` : l)).join('\n'));
    if (v.ok) say(`OK: the chain links, every signature verifies, every row matches its record; head record ${v.head.seq} (${v.head.hash.slice(0, 12)}...) kept in ${headsFile(ctx.home)}`);
    else out(`FAILED: ${v.problems.length} problem${v.problems.length === 1 ? '' : 's'}`);
    return v.ok ? 0 : 1;
  });
}

/** A value of a result cell as text: null as "-", objects as JSON. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * Rows as a table when it fits `width`, else one block per row with the column names at the
 * left (psql's \x): a query's columns are the user's, so no column can be chosen to shorten.
 */
export function formatRows(columns: string[], rows: unknown[][], width = WIDTH): string {
  const text = rows.map((r) => r.map(cell).map((c) => c.replace(/\s*\n\s*/g, ' ')));
  const table = formatTable(columns, text);
  if (table.split('\n').every((l) => l.length <= width)) return table;
  const pad = Math.min(24, Math.max(...columns.map((c) => c.length)) + 2);
  const blocks = text.map((r, i) => [`-[ row ${i + 1} ]${'-'.repeat(Math.max(0, 20 - String(i + 1).length))}`, ...columns.flatMap((c, j) => wrap(r[j], width - pad).map((l, k) => `${(k === 0 ? c : '').padEnd(pad)}${l}`))].join('\n'));
  return blocks.join('\n');
}

/** `paddock audit query "<SQL>" | --canned NAME [--parquet DIR]...`: the rows, as text or --json (one object per row). */
export async function auditQueryCommand(ctx: RegistryContext, o: { sql?: string; canned?: string; parquet: string[] }): Promise<number> {
  let sql = o.sql ?? '';
  if (o.canned !== undefined) {
    const q = (CANNED_QUERIES as Record<string, { sql: string }>)[o.canned];
    if (!q) throw new UsageError(`--canned ${JSON.stringify(o.canned)}: the canned queries are ${Object.keys(CANNED_QUERIES).join(', ')}`);
    sql = q.sql;
  }
  const { auditQuery } = await import('../src/registry/audit-query.js');
  const storeFile = join(ctx.home, 'runs.sqlite');
  return withRegistry(ctx, 'read', async (r) => {
    const res = await auditQuery({ registry: r.db, storeFile: existsSync(storeFile) ? storeFile : undefined, parquetDirs: o.parquet.map((d) => resolve(d)), sql });
    if (ctx.json) {
      outJson(res.rows.map((row) => Object.fromEntries(res.columns.map((c, i) => [c, row[i]]))));
      return 0;
    }
    if (o.canned) say(`${o.canned} (registry ${r.db.where}${existsSync(storeFile) ? `, run store ${storeFile}` : ''}):`);
    out(res.rows.length ? formatRows(res.columns, res.rows) : `(no rows; columns: ${res.columns.join(', ')})`);
    out(`${res.rows.length} row${res.rows.length === 1 ? '' : 's'}`);
    return 0;
  });
}
