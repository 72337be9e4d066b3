/**
 * The model registry's command line (issue 20 items 2, 3, 6 and 10): `paddock registry list |
 * show | history | approve | waive`, `paddock promote` and `paddock rollback`; `paddock audit` is
 * ./audit.ts, on the helpers here. Every command reads the same registry the promote stage writes
 * (src/steps/promote/registry-common.ts): --registry, else $PADDOCK_REGISTRY, else
 * <home>/registry.db, with the audit key <home>/keys/registry-audit.pem.
 *
 * Exit status: 0 done; 1 refused (the registry, the policy or the approvals said no: the reason
 * is printed, and a refused promotion is recorded as such); 2 a bad argument or input (an unknown
 * model, a malformed version or date, a policy that does not load, a database that cannot be
 * reached). No stack for any of these unless --debug.
 *
 * A registry that does not exist is never created by a command here: every command needs a
 * model registered first (by the pipeline's register step), so an absent SQLite file is a
 * mistyped path far more often than a wish for an empty registry.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError, debugWanted, isInputError } from '../src/files/input-error.js';
import { formatTable } from '../src/files/format.js';
import { ApprovalError, approvalStatus, type ApprovalStatus } from '../src/registry/approvals.js';
import { approveEntry, registryPublicPem, schemeOfKey } from '../src/registry/approve.js';
import { loadAuditSigner, type AuditSigner } from '../src/registry/audit.js';
import { RegistryDbError, openRegistryDb } from '../src/registry/db.js';
import type { GovernanceResult, GovernanceWaiver, GateApprovalInput, GateVerdictInput } from '../src/registry/governance.js';
import { loadPolicy, type RegistryPolicy } from '../src/registry/policy.js';
import { Registry, RegistryError } from '../src/registry/registry.js';
import { versionProblem } from '../src/registry/semver.js';
import { Role, Stage } from '../src/schema/registry-policy.js';
import { ALIASES, Alias, type ApprovalRow, type StoredEntry, type TransitionRow } from '../src/schema/registry.js';
import { didYouMean, wrap } from './command-help.js';
import { currentActor } from './identity.js';

/** parseArgs's values, as bin/paddock.ts passes them (OPTIONS in ./command-help.ts). */
export type CliValues = Record<string, string | boolean | string[] | undefined>;

/** What every registry command is given: the run store's home, the --registry spec, --json. */
export interface RegistryContext {
  home: string;
  registry?: string;
  json: boolean;
  env?: NodeJS.ProcessEnv;
}

/** A bad argument or input: exit 2, the message as it stands. */
export class UsageError extends InputError {}
/** Refused by a rule (the reason is the message): exit 1. */
export class Refusal extends InputError {}

const WIDTH = 80;
const isUrl = (spec: string) => /^postgres(ql)?:\/\//.test(spec);
/** 2026-05-01T10:00:00Z: seconds are enough for people, and the line stays short. */
export const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const short = (digest: string) => digest.slice(0, 12);

// ---------------------------------------------------------------- where things are

/** The registry: --registry, else $PADDOCK_REGISTRY, else <home>/registry.db; a SQLite path made absolute. */
export function registrySpec(ctx: RegistryContext): string {
  const env = ctx.env ?? process.env;
  const spec = ctx.registry || env.PADDOCK_REGISTRY || join(ctx.home, 'registry.db');
  return isUrl(spec) ? spec : resolve(spec.replace(/^sqlite:/, ''));
}

/** The audit signing key the promote steps use: <home>/keys/registry-audit.pem (src/steps/promote/registry-common.ts). */
export function auditKeyFile(home: string): string {
  return join(home, 'keys', 'registry-audit.pem');
}

/** The policy: --policy, else $PADDOCK_REGISTRY_POLICY, else <home>/registry-policy.yaml; `given` says whether one was named. */
export function policyFile(home: string, flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { file: string; named: boolean } {
  const named = flag || env.PADDOCK_REGISTRY_POLICY;
  return { file: resolve(named || join(home, 'registry-policy.yaml')), named: Boolean(named) };
}

/** The policy, loaded; a missing file is a usage error that says how to name one. */
export function requirePolicy(home: string, flag: string | undefined, env?: NodeJS.ProcessEnv): RegistryPolicy {
  const p = policyFile(home, flag, env);
  if (!existsSync(p.file)) throw new UsageError(`no registry policy at ${p.file}: give --policy FILE (or set PADDOCK_REGISTRY_POLICY); the policy says who holds each role and which keys sign`);
  return loadPolicy(p.file);
}

/** The policy when there is one (named, or at the default place); a named one must load. */
function optionalPolicy(home: string, flag: string | undefined, env?: NodeJS.ProcessEnv): RegistryPolicy | undefined {
  const p = policyFile(home, flag, env);
  if (!p.named && !existsSync(p.file)) return undefined;
  return requirePolicy(home, flag, env);
}

/**
 * A signer for reading: the audit key when this machine has it (its public half checks headless
 * policy approvals), else one that refuses to sign. Reads never make a key: a `registry list` on
 * a team's PostgreSQL must not leave a new audit key behind.
 */
function readSigner(home: string): AuditSigner {
  const file = auditKeyFile(home);
  if (existsSync(file)) return loadAuditSigner(file);
  return {
    keyId: '(none)',
    publicPem: '',
    sign: () => {
      throw new Error('a read-only registry command tried to write');
    },
  };
}

/**
 * Opens the registry for `fn` and closes it after. `write`: with the audit key (made when this
 * machine has none yet, and said so, since its public half must be trusted for `paddock audit
 * verify` elsewhere to pass). A SQLite file that is not there is a usage error, never created.
 */
export async function withRegistry<T>(ctx: RegistryContext, mode: 'read' | 'write', fn: (r: Registry) => Promise<T>): Promise<T> {
  const spec = registrySpec(ctx);
  if (!isUrl(spec) && !existsSync(spec)) throw new UsageError(`no registry at ${spec}: give --registry FILE or postgres://user@host/db (or set PADDOCK_REGISTRY); the pipeline's register step makes <home>/registry.db`);
  if (mode === 'write') {
    const key = auditKeyFile(ctx.home);
    const made = !existsSync(key);
    const registry = await Registry.open(spec, { auditKey: key });
    if (made) process.stderr.write(`note: made a new audit key ${key}; its public half ${key}.pub.pem must be in the policy's audit_keys for paddock audit verify to trust this machine's records elsewhere\n`);
    try {
      return await fn(registry);
    } finally {
      await registry.close();
    }
  }
  const signer = readSigner(ctx.home);
  const db = await openRegistryDb(spec);
  try {
    return await fn(Registry.over(db, signer));
  } finally {
    await db.close();
  }
}

/** The entry, or a usage error naming what the registry has (no model / which versions). */
export async function requireEntry(r: Registry, model: string, version: string): Promise<StoredEntry> {
  const problem = versionProblem(version);
  if (problem) throw new UsageError(`${model} version ${JSON.stringify(version)}: ${problem}`);
  await requireModel(r, model);
  const e = await r.entry(model, version);
  if (!e) throw new UsageError(`${model} ${version} is not registered in ${r.db.where} (registered: ${(await r.entries(model)).map((x) => x.version).join(', ') || 'none'})`);
  return e;
}

/** A usage error for a model the registry does not have, with a near name when there is one. */
export async function requireModel(r: Registry, model: string): Promise<void> {
  const models = await r.models();
  if (models.includes(model)) return;
  const guess = didYouMean(model, models);
  throw new UsageError(`no model ${model} in the registry ${r.db.where}${guess ? `; did you mean ${guess}?` : models.length ? ` (models: ${models.join(', ')})` : ' (it has no models yet)'}`);
}

// ---------------------------------------------------------------- output

/** Prints one line of stdout. */
export function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Prints `text` wrapped to 80 columns: the first line after `indent`, the others 2 further in. */
export function say(text: string, indent = ''): void {
  out(wrap(text, WIDTH - indent.length - 2).map((l, i) => `${indent}${i ? '  ' : ''}${l}`).join('\n'));
}

/** Prints a JSON document on one line. */
export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * formatTable, narrowed to `width` columns by shortening column `flex` (the free text: a reason,
 * a name) with "...": a table that wraps in an 80-column SSH terminal is unreadable.
 */
export function fitTable(header: string[], rows: string[][], flex: number, width = WIDTH): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const total = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  if (total <= width) return formatTable(header, rows);
  const room = Math.max(header[flex].length, 12, widths[flex] - (total - width));
  return formatTable(header, rows.map((r) => r.map((c, i) => (i === flex && c.length > room ? `${c.slice(0, room - 3)}...` : c))));
}

/** `label  text`, the text wrapped under itself. */
function field(label: string, text: string, pad = 12): string[] {
  const lines = wrap(text, WIDTH - 2 - pad);
  return (lines.length ? lines : ['']).map((l, i) => `  ${(i === 0 ? label : '').padEnd(pad)}${l}`);
}

/**
 * Runs one command: a usage error or a bad input exits 2, a refusal 1, each as one message after
 * `paddock <command>: ` (its stack only under --debug); anything else is a bug and goes on to
 * bin/paddock.ts, which says so.
 */
export async function guard(command: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    const code = exitOf(err);
    if (code === undefined) throw err;
    const e = err as Error;
    process.stderr.write(`paddock ${command}: ${debugWanted() ? (e.stack ?? e.message) : e.message}\n`);
    return code;
  }
}

function exitOf(err: unknown): number | undefined {
  // A RegistryError is the registry saying no (a read of something absent is caught before, as a UsageError).
  if (err instanceof Refusal || err instanceof RegistryError || err instanceof ApprovalError) return 1;
  // Unreachable PostgreSQL, a SQLite file that is not a registry: the spec is wrong.
  if (err instanceof RegistryDbError || (err instanceof Error && err.name === 'RegistryDbError')) return 2;
  if (isInputError(err)) return 2;
  return undefined;
}

/** A usage error for `paddock <command>`, pointing at its help (as bin/paddock.ts's fail() does). */
function usage(command: string, message: string): number {
  process.stderr.write(`paddock ${command}: ${message}\nTry "paddock ${command} --help".\n`);
  return 2;
}

const str = (v: CliValues[string]): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) ? v.at(-1) : undefined);

// ---------------------------------------------------------------- dispatch

const SUBCOMMANDS = ['list', 'show', 'history', 'approve', 'waive'] as const;

/**
 * `paddock registry <sub> ...`, `paddock promote ...` and `paddock rollback ...`: the arguments
 * checked, then the command run. bin/paddock.ts calls this with its parsed values.
 */
export async function registryCli(command: 'registry' | 'promote' | 'rollback', rest: string[], values: CliValues, home: string): Promise<number> {
  const ctx: RegistryContext = { home, registry: str(values.registry), json: Boolean(values.json) };
  if (command === 'promote') {
    const [model, version, extra] = rest;
    if (!model || !version) return usage('promote', 'promote needs a model and a version: paddock promote <model> <version> --reason TEXT');
    if (extra !== undefined) return usage('promote', `unexpected argument "${extra}"`);
    if (!str(values.reason)?.trim()) return usage('promote', '--reason is required: why this version goes to production (it is recorded)');
    if (Boolean(values.governance) === Boolean(values.pack)) return usage('promote', 'give either --governance FILE (the governance_report.json a pipeline wrote) or --pack DIR (the checks are run here), one of them');
    return guard('promote', () => promoteCommand(ctx, { model, version, reason: str(values.reason)!, governance: str(values.governance), pack: str(values.pack), policy: str(values.policy), expect: str(values.expect) }));
  }
  if (command === 'rollback') {
    const [model, extra] = rest;
    if (!model) return usage('rollback', 'rollback needs a model: paddock rollback <model> --reason TEXT');
    if (extra !== undefined) return usage('rollback', `unexpected argument "${extra}" (a rollback is one step, to the version the last promotion replaced: it takes no version)`);
    if (!str(values.reason)?.trim()) return usage('rollback', '--reason is required: why production goes back (it is recorded)');
    return guard('rollback', () => rollbackCommand(ctx, { model, reason: str(values.reason)!, hooks: str(values.hooks) }));
  }
  const [sub, ...args] = rest;
  if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
    const guess = sub ? didYouMean(sub, SUBCOMMANDS) : undefined;
    return usage('registry', `${sub ? `unknown registry command "${sub}"${guess ? `; did you mean "${guess}"?` : ''}` : 'registry needs a command'}: ${SUBCOMMANDS.join(', ')}`);
  }
  const name = `registry ${sub}`;
  const extra = (n: number) => (args.length > n ? usage(name, `unexpected argument "${args[n]}"`) : undefined);
  switch (sub) {
    case 'list':
      return extra(0) ?? guard(name, () => registryList(ctx));
    case 'show':
      if (!args[0]) return usage(name, 'show needs a model: paddock registry show <model> [<version>]');
      return extra(2) ?? guard(name, () => registryShow(ctx, args[0], args[1], str(values.policy)));
    case 'history':
      if (!args[0]) return usage(name, 'history needs a model: paddock registry history <model> [--alias A]');
      return extra(1) ?? guard(name, () => registryHistory(ctx, args[0], str(values.alias)));
    case 'approve': {
      if (args.length < 2) return usage(name, 'approve needs a model and a version: paddock registry approve <model> <version> --role R --reason TEXT');
      if (!str(values.role)) return usage(name, `--role is required: the role you approve as (${Role.options.join(', ')})`);
      if (!str(values.reason)?.trim()) return usage(name, '--reason is required: why you approve (or reject); it is signed with the decision');
      const keys = Array.isArray(values.key) ? values.key : [];
      if (keys.length > 1) return usage(name, `--key names the one private key you sign with, given ${keys.length} times`);
      return (
        extra(2) ??
        guard(name, () => registryApprove(ctx, { model: args[0], version: args[1], role: str(values.role)!, reason: str(values.reason)!, stage: str(values.stage), reject: Boolean(values.reject), key: keys[0], as: str(values.as), policy: str(values.policy) }))
      );
    }
    case 'waive': {
      if (args.length < 2) return usage(name, 'waive needs a model and a finding: paddock registry waive <model> <finding> --justification TEXT --approver NAME --expires YYYY-MM-DD');
      for (const f of ['justification', 'approver', 'expires'] as const) if (!str(values[f])?.trim()) return usage(name, `--${f} is required: a waiver says why, who accepted it and until when`);
      return extra(2) ?? guard(name, () => registryWaive(ctx, { model: args[0], finding: args[1], justification: str(values.justification)!, approver: str(values.approver)!, expires: str(values.expires)!, version: str(values['for-version']) }));
    }
  }
  return usage('registry', `unknown registry command "${sub}"`);
}

// ---------------------------------------------------------------- list, show, history

/** `paddock registry list`: every model, where its aliases point, how many versions. */
export async function registryList(ctx: RegistryContext): Promise<number> {
  return withRegistry(ctx, 'read', async (r) => {
    const models = [];
    for (const name of await r.models()) {
      const entries = await r.entries(name);
      models.push({ model: name, versions: entries.length, latest: entries.at(-1)?.version ?? null, aliases: await r.aliases(name) });
    }
    if (ctx.json) return outJson({ registry: r.db.where, models }), 0;
    if (!models.length) return say(`registry ${r.db.where}: no models yet (the pipeline's register step adds them)`), 0;
    say(`registry ${r.db.where}: ${models.length} model${models.length === 1 ? '' : 's'}`);
    out(fitTable(['MODEL', 'VERSIONS', 'LATEST', ...ALIASES.map((a) => a.toUpperCase())], models.map((m) => [m.model, String(m.versions), m.latest ?? '-', ...ALIASES.map((a) => m.aliases[a] ?? '-')]), 0));
    return 0;
  });
}

/** `paddock registry show <model> [<version>]`: the versions newest first, or one entry in full. */
export async function registryShow(ctx: RegistryContext, model: string, version: string | undefined, policyFlag: string | undefined): Promise<number> {
  const policy = optionalPolicy(ctx.home, policyFlag, ctx.env);
  return withRegistry(ctx, 'read', async (r) => {
    if (version !== undefined) return showEntry(ctx, r, await requireEntry(r, model, version), policy);
    await requireModel(r, model);
    const aliases = await r.aliases(model);
    const entries = (await r.entries(model)).reverse();
    const at = (v: string) => ALIASES.filter((a) => aliases[a] === v);
    if (ctx.json) {
      outJson({ registry: r.db.where, model, aliases, versions: entries.map((e) => ({ version: e.version, aliases: at(e.version), created_at: e.created_at, created_by: e.created_by, digest: e.digest, manifest_digest: e.body.pack.manifest_digest, corrects: e.corrects, headline: e.body.summary.headline })) });
      return 0;
    }
    say(`${model} (registry ${r.db.where}): ${entries.length} version${entries.length === 1 ? '' : 's'}, newest first`);
    say(`aliases: ${ALIASES.map((a) => `${a} ${aliases[a] ?? '-'}`).join(', ')}`);
    // The first headline figure, where entries have one (registered without an evaluation, they have none).
    const headline = (e: StoredEntry) => Object.entries(e.body.summary.headline).slice(0, 1).map(([k, v]) => `${k} ${v}`).join('') || '-';
    const withHeadline = entries.some((e) => headline(e) !== '-');
    const rows = entries.map((e) => [e.version, at(e.version).join(',') || '-', when(e.created_at).slice(0, 16).replace('T', ' '), e.created_by, short(e.digest), ...(withHeadline ? [headline(e)] : [])]);
    out(fitTable(['VERSION', 'ALIASES', 'REGISTERED (UTC)', 'BY', 'DIGEST', ...(withHeadline ? ['HEADLINE'] : [])], rows, 3));
    return 0;
  });
}

async function showEntry(ctx: RegistryContext, r: Registry, e: StoredEntry, policy: RegistryPolicy | undefined): Promise<number> {
  const aliases = await r.aliases(e.model);
  const at = ALIASES.filter((a) => aliases[a] === e.version);
  const approvals = await r.approvals(e.model, e.version);
  const promotions = await r.promotions(e.model, e.version);
  const status = policy ? approvalStatus(policy, 'production', approvals, e.digest, { registryPublicPem: registryPublicPem(r) }) : undefined;
  if (ctx.json) {
    outJson({ registry: r.db.where, ...e, aliases: at, approvals: approvals.map(approvalJson), production_approvals: status ?? null, promotions });
    return 0;
  }
  const b = e.body;
  const lines = [
    ...wrap(`${e.model} ${e.version}${at.length ? ` (${at.join(', ')})` : ''}, registry ${r.db.where}`, WIDTH),
    ...wrap(`registered ${when(e.created_at)} by ${e.created_by}${e.corrects ? `, correcting ${e.corrects}` : ''}`, WIDTH),
    `entry digest ${e.digest}`,
    '',
    'pointers:',
  ];
  const absent = (path: string) => `absent: ${b.absent[path] ?? 'not recorded'}`;
  lines.push(...field('manifest', b.pack.manifest_digest));
  for (const f of b.pack.files) lines.push(...field('file', `${f.path} ${short(f.sha256)} ${f.bytes} B${f.s3_uri ? ` ${f.s3_uri}` : ''}`));
  lines.push(...field('image', b.serving_image_digest ?? absent('serving_image_digest')));
  lines.push(...field('commit', b.commit ?? absent('commit')));
  lines.push(...field('dataset', `${b.dataset.tag ?? `(tag ${absent('dataset.tag')})`}, content ${b.dataset.content_digest ? short(b.dataset.content_digest) : absent('dataset.content_digest')}`));
  const runs = Object.entries(b.runs).map(([k, v]) => `${k} ${v}`);
  lines.push(...field('runs', runs.join(', ') || 'none recorded'));
  const s = b.summary;
  lines.push('', 'summary:');
  lines.push(...field('headline', Object.entries(s.headline).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'));
  lines.push(...field('targets', `${s.targets.join(', ') || 'none'}; precisions ${s.precisions.join(', ') || 'none'}`));
  lines.push(...field('int8 cache', s.calibration_cache_version ?? absent('summary.calibration_cache_version')));
  for (const l of s.latency) lines.push(...field('latency', `${l.target}: p50 ${l.p50_ms} ms, p95 ${l.p95_ms} ms, p99 ${l.p99_ms} ms`));
  for (const sl of s.slices) lines.push(...field('slice', `${sl.slice} ${sl.metric} ${sl.value}${sl.ci_lo !== undefined && sl.ci_hi !== undefined ? ` [${sl.ci_lo}, ${sl.ci_hi}]` : ''}${sl.delta !== undefined ? ` (${sl.delta >= 0 ? '+' : ''}${sl.delta})` : ''}`));
  if (s.replay) lines.push(...field('replay', Object.entries(s.replay).map(([k, v]) => `${k} ${v}`).join(', ')));
  lines.push(...field('gates', s.gates.map((g) => `${g.id} ${g.verdict}`).join(', ') || 'none'));
  lines.push('', approvals.length ? 'approvals:' : 'approvals: none');
  // One decision in two lines or more (as history's moves): the reason is free text and gets a line of its own.
  for (const a of approvals) lines.push(...wrap(`${when(a.at)}  ${a.stage}  ${a.role}  ${a.decision} by ${a.identity} (${a.scheme})`, WIDTH - 2).map((l, i) => `${i ? '    ' : '  '}${l}`), ...wrap(`why: ${a.reason}`, WIDTH - 6).map((l) => `      ${l}`));
  if (status) lines.push(...statusLines(status, policy!));
  lines.push('', promotions.length ? 'promotions:' : 'promotions: none');
  for (const p of promotions) lines.push(...wrap(`${when(p.at)}  ${p.status} by ${p.actor}`, WIDTH - 2).map((l, i) => `${i ? '    ' : '  '}${l}`), ...wrap(`why: ${typeof p.record.reason === 'string' ? p.record.reason : '(none recorded)'}`, WIDTH - 6).map((l) => `      ${l}`));
  out(lines.join('\n'));
  return 0;
}

/** An approval row for JSON: the columns and the signed payload, the signature's length only (it is long and checked by verify). */
function approvalJson(a: ApprovalRow) {
  return { id: a.id, stage: a.stage, role: a.role, identity: a.identity, decision: a.decision, reason: a.reason, at: a.at, scheme: a.scheme, payload: a.payload, signature: a.signature, audit_seq: a.audit_seq };
}

/** Where a stage's approvals stand, in lines: covered roles, missing ones, rejections, what did not count. */
function statusLines(s: ApprovalStatus, policy: RegistryPolicy, stage = 'production'): string[] {
  const lines = wrap(`${stage} needs ${s.required.join(', ') || 'no role'} (${policy.file}): ${s.satisfied ? 'complete' : 'not complete'}`, WIDTH - 4).map((l, i) => `${i ? '    ' : '  '}${l}`);
  for (const a of s.approvedBy) lines.push(`    ${a.role}: approved by ${a.identity} ${when(a.at)}`);
  if (s.missing.length) lines.push(`    missing: ${s.missing.join(', ')}`);
  for (const x of s.rejectedBy) lines.push(...wrap(`${x.role}: rejected by ${x.identity} ${when(x.at)}: ${x.reason}`, WIDTH - 6).map((l, i) => `    ${i ? '  ' : ''}${l}`));
  for (const p of s.problems) lines.push(...wrap(`not counted: ${p}`, WIDTH - 6).map((l, i) => `    ${i ? '  ' : ''}${l}`));
  return lines;
}

/** `paddock registry history <model> [--alias A]`: every move, oldest first: when, alias, from -> to, action, who, why. */
export async function registryHistory(ctx: RegistryContext, model: string, aliasFlag: string | undefined): Promise<number> {
  let alias: Alias | undefined;
  if (aliasFlag !== undefined) {
    const a = Alias.safeParse(aliasFlag);
    if (!a.success) throw new UsageError(`--alias ${JSON.stringify(aliasFlag)}: the aliases are ${ALIASES.join(', ')}`);
    alias = a.data;
  }
  return withRegistry(ctx, 'read', async (r) => {
    await requireModel(r, model);
    const moves = await r.history(model, alias);
    if (ctx.json) return outJson({ registry: r.db.where, model, alias: alias ?? null, transitions: moves }), 0;
    say(`${model}${alias ? ` ${alias}` : ''}: ${moves.length} move${moves.length === 1 ? '' : 's'}, oldest first (registry ${r.db.where})`);
    for (const t of moves) out(historyLines(t).join('\n'));
    return 0;
  });
}

/** One move in two lines or more: `2026-05-01T10:00:00Z  production  1.0.0 -> 1.1.0  promote  by alice`, then why. */
function historyLines(t: TransitionRow): string[] {
  const head = `${when(t.at)}  ${t.alias.padEnd(10)}  ${t.from_version ?? '-'} -> ${t.to_version ?? '(cleared)'}  ${t.action}`;
  // The columns line up from move to move; a long actor goes to a line of its own rather than past 80.
  const line = `${head}  by ${t.actor}`;
  const who = line.length <= WIDTH ? [line] : [head, ...wrap(`by ${t.actor}`, WIDTH - 4).map((l) => `    ${l}`)];
  return [...who, ...wrap(`why: ${t.reason}`, WIDTH - 4).map((l) => `    ${l}`)];
}

// ---------------------------------------------------------------- approve, waive

export interface ApproveOptions {
  model: string;
  version: string;
  role: string;
  reason: string;
  stage?: string;
  reject: boolean;
  key?: string;
  as?: string;
  policy?: string;
}

/**
 * `paddock registry approve`: the decision signed with the approver's key (an OpenSSH private
 * key: ssh-keygen -Y sign; a PEM P-256 key: the pack's ECDSA scheme), checked against the
 * policy and stored through approveEntry; one the policy would not count is refused (exit 1).
 */
export async function registryApprove(ctx: RegistryContext, o: ApproveOptions): Promise<number> {
  const env = ctx.env ?? process.env;
  const role = Role.safeParse(o.role);
  if (!role.success) throw new UsageError(`--role ${JSON.stringify(o.role)}: the roles are ${Role.options.join(', ')}`);
  const stage = Stage.safeParse(o.stage ?? 'production');
  if (!stage.success) throw new UsageError(`--stage ${JSON.stringify(o.stage)}: the stages are ${Stage.options.join(', ')}`);
  const keyFile = resolve(o.key || env.PADDOCK_APPROVER_KEY || join(homedir(), '.ssh', 'id_ed25519'));
  if (!existsSync(keyFile)) throw new UsageError(`approver key ${keyFile}: no such file; give --key FILE (or set PADDOCK_APPROVER_KEY): your OpenSSH private key, or a PEM P-256 key for the ecdsa scheme`);
  const policy = requirePolicy(ctx.home, o.policy, env);
  const identity = o.as?.trim() || currentActor();
  const scheme = schemeOfKey(keyFile);
  return withRegistry(ctx, 'write', async (r) => {
    const entry = await requireEntry(r, o.model, o.version);
    const row = await approveEntry(r, policy, { model: o.model, version: o.version, stage: stage.data, role: role.data, identity, decision: o.reject ? 'rejected' : 'approved', reason: o.reason, scheme, keyFile });
    const status = approvalStatus(policy, stage.data, await r.approvals(o.model, o.version, stage.data), entry.digest, { registryPublicPem: registryPublicPem(r) });
    if (ctx.json) return outJson({ registry: r.db.where, approval: approvalJson(row), status }), 0;
    say(`${o.model} ${o.version}: ${row.decision} for ${row.stage} as ${row.role} by ${row.identity}, signed (${row.scheme}, ${keyFile}) and recorded (audit record ${row.audit_seq})`);
    out(statusLines(status, policy, stage.data).join('\n'));
    return 0;
  });
}

export interface WaiveOptions {
  model: string;
  finding: string;
  justification: string;
  approver: string;
  /** YYYY-MM-DD: the waiver holds through that day (UTC). */
  expires: string;
  version?: string;
}

const DAY = 86_400_000;

/** YYYY-MM-DD as the first millisecond after that day (UTC): a waiver "until 2026-06-30" holds all of the 30th. */
export function parseExpiry(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const day = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  // Date.UTC rolls 2026-02-30 over to March: a date that does not round-trip is not a date.
  if (!m || Number.isNaN(day) || new Date(day).toISOString().slice(0, 10) !== text) throw new UsageError(`--expires ${JSON.stringify(text)}: expected a date YYYY-MM-DD (the waiver holds through that day, UTC), e.g. 2026-06-30`);
  return day + DAY;
}

/** `paddock registry waive`: a scan finding accepted, with why, by whom and until when; an expiry already past is refused. */
export async function registryWaive(ctx: RegistryContext, o: WaiveOptions): Promise<number> {
  const expiresAt = parseExpiry(o.expires);
  if (expiresAt <= Date.now()) throw new Refusal(`--expires ${o.expires} is past: a waiver must expire in the future (an expired waiver blocks the promotion it was meant to allow)`);
  return withRegistry(ctx, 'write', async (r) => {
    if (o.version !== undefined) await requireEntry(r, o.model, o.version);
    else await requireModel(r, o.model);
    const w = await r.recordWaiver({ model: o.model, finding: o.finding, version: o.version ?? null, justification: o.justification, approver: o.approver, expires_at: expiresAt });
    if (ctx.json) return outJson({ registry: r.db.where, waiver: w }), 0;
    say(`${o.model}: ${o.finding} waived for ${w.version ?? 'every version'} by ${w.approver} through ${o.expires} (UTC), recorded (audit record ${w.audit_seq})`);
    out(field('why', w.justification, 5).join('\n'));
    return 0;
  });
}

// ---------------------------------------------------------------- promote, rollback

export interface PromoteOptions {
  model: string;
  version: string;
  reason: string;
  /** A governance_report.json the pipeline's governance step wrote. */
  governance?: string;
  /** A pack to run the governance checks on here. */
  pack?: string;
  policy?: string;
  /** The production version the decision was made against ("none": unset); default: the one read now. */
  expect?: string;
}

type GovernanceLike = Pick<GovernanceResult, 'ok' | 'checks' | 'model' | 'version'> & { pack?: string };

/** A governance report file, checked for the shape governance.ts gives (the governance step writes it with pack, policy, run). */
function readGovernanceReport(file: string): GovernanceLike {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new UsageError(`--governance ${abs}: no such file (the pipeline's governance step writes governance_report.json in its out folder)`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (err) {
    throw new UsageError(`--governance ${abs}: not JSON (${(err as Error).message})`);
  }
  const g = doc as GovernanceLike;
  if (typeof g !== 'object' || g === null || typeof g.ok !== 'boolean' || !Array.isArray(g.checks) || g.checks.some((c) => typeof c?.id !== 'string' || typeof c?.status !== 'string'))
    throw new UsageError(`--governance ${abs}: not a governance report (expected { ok, checks: [{ id, status, detail }] }, as the governance step writes)`);
  return g;
}

/** sha256 of a pack's export_report.json: what the entry's manifest_digest is (src/registry/entry-from-reports.ts). */
function manifestDigestOf(pack: string): string | undefined {
  const file = join(pack, 'export_report.json');
  return existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : undefined;
}

/**
 * The governance checks run here on `pack` against the policy: the registry's waivers, and the
 * gate verdicts of the entry (the ones copied into it at registration, then those the run store
 * holds for its runs, which are later and carry the answers to reviews).
 */
async function governanceHere(ctx: RegistryContext, r: Registry, entry: StoredEntry, pack: string, policy: RegistryPolicy): Promise<GovernanceLike> {
  const { runGovernance } = await import('../src/registry/governance.js');
  const dir = resolve(pack);
  if (!existsSync(dir)) throw new UsageError(`--pack ${dir}: no such directory`);
  const waivers: GovernanceWaiver[] = (await r.waivers(entry.model)).map((w) => ({ id: w.id, finding: w.finding, version: w.version, justification: w.justification, approver: w.approver, expires_at: w.expires_at, at: w.at }));
  const verdicts: GateVerdictInput[] = entry.body.summary.gates.map((g) => ({ gate: g.id, verdict: g.verdict === 'pass' || g.verdict === 'fail' ? g.verdict : 'review', rationale: `as recorded in ${entry.model} ${entry.version}'s registry entry: ${g.verdict}` }));
  const approvals: GateApprovalInput[] = [];
  const storeFile = join(ctx.home, 'runs.sqlite');
  if (existsSync(storeFile)) {
    const { RunStore } = await import('../src/store/run-store.js');
    const store = new RunStore(ctx.home, { readonly: true });
    try {
      for (const id of new Set(Object.values(entry.body.runs))) {
        for (const v of store.currentVerdicts(id)) verdicts.push({ gate: v.gate, verdict: v.verdict as GateVerdictInput['verdict'], rationale: v.rationale });
        for (const a of store.approvals(id)) approvals.push({ gate: a.gate, decision: a.decision, actor: a.actor, reason: a.reason });
      }
    } finally {
      store.close();
    }
  }
  const result = await runGovernance({
    packDir: dir,
    trustedKeys: policy.publishers,
    requireSbom: policy.governance.require_sbom,
    scans: { failOn: policy.governance.scans.fail_on, denyLicenses: policy.governance.licenses.deny },
    waivers,
    gates: { required: policy.governance.gates, verdicts, approvals },
    consumption: policy.consumption,
    now: Date.now(),
  });
  return { ...result, pack: dir };
}

/**
 * `paddock promote <model> <version>`: a promotion by hand, outside a pipeline. It needs a
 * passing governance report for this very entry (the pack's export_report.json digest is the
 * entry's manifest digest) and every role the policy requires for production; then production
 * moves by compare-and-swap against the production read (or --expect), and the previous one
 * becomes rollback. Every refusal is recorded (a promotions row, status refused) and exits 1.
 */
export async function promoteCommand(ctx: RegistryContext, o: PromoteOptions): Promise<number> {
  const policy = requirePolicy(ctx.home, o.policy, ctx.env);
  const governanceFile = o.governance ? readGovernanceReport(o.governance) : undefined;
  const actor = currentActor();
  return withRegistry(ctx, 'write', async (r) => {
    const entry = await requireEntry(r, o.model, o.version);
    const aliases = await r.aliases(o.model);
    let expect = aliases.production;
    if (o.expect !== undefined) {
      if (o.expect !== 'none' && versionProblem(o.expect)) throw new UsageError(`--expect ${JSON.stringify(o.expect)}: ${versionProblem(o.expect)} (or "none": production unset)`);
      expect = o.expect === 'none' ? null : o.expect;
    }
    if (aliases.production === o.version && o.expect === undefined) {
      if (ctx.json) outJson({ registry: r.db.where, model: o.model, version: o.version, promoted: false, already: true });
      else say(`${o.model} ${o.version} is production already (registry ${r.db.where}): nothing to move`);
      return 0;
    }
    const governance = governanceFile ?? (await governanceHere(ctx, r, entry, o.pack!, policy));
    const record = { reason: o.reason, by_hand: true, governance: { ok: governance.ok, checks: governance.checks.map((c) => ({ id: c.id, status: c.status, detail: c.detail })), ...(o.governance ? { report: resolve(o.governance) } : { pack: governance.pack }) } };
    /** Records the refusal (with why, not the hint: the hint is for the person at the terminal) and ends with exit 1. */
    const refuse = async (why: string, hint = ''): Promise<number> => {
      const { promotionId } = await r.recordPromotion({ model: o.model, version: o.version, status: 'refused', actor, record: { ...record, reason: why, asked_reason: o.reason } });
      if (ctx.json) outJson({ registry: r.db.where, model: o.model, version: o.version, promoted: false, refused: why, promotion: promotionId, governance: record.governance });
      throw new Refusal(`${o.model} ${o.version} not promoted: ${why} (recorded: refused promotion ${promotionId})${hint}`);
    };
    // The report must be about this entry: a green report for another pack proves nothing here.
    const judged = governance.model !== undefined && governance.version !== undefined ? `${governance.model} ${governance.version}` : undefined;
    if (judged && (governance.model !== o.model || governance.version !== o.version)) return refuse(`the governance report is for ${judged}, not ${o.model} ${o.version}`);
    const digest = governance.pack ? manifestDigestOf(governance.pack) : undefined;
    if (digest && digest !== entry.body.pack.manifest_digest) return refuse(`the governance report's pack ${governance.pack} has export_report.json sha256 ${short(digest)}, not the entry's manifest digest ${short(entry.body.pack.manifest_digest)}: it is another pack`);
    if (!governance.ok) return refuse(`governance failed: ${governance.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.detail}`).join('; ')}`);
    const rows = await r.approvals(o.model, o.version, 'production');
    const status = approvalStatus(policy, 'production', rows, entry.digest, { registryPublicPem: registryPublicPem(r) });
    if (!status.satisfied) {
      const parts = [status.missing.length ? `missing ${status.missing.join(', ')}` : '', ...status.rejectedBy.map((x) => `rejected by ${x.identity} as ${x.role}: ${x.reason}`), ...status.problems.map((p) => `not counted: ${p}`)].filter(Boolean);
      return refuse(`the production approvals are not complete (${policy.file} requires ${status.required.join(', ')}): ${parts.join('; ')}`, `; paddock registry approve ${o.model} ${o.version} --role R --reason TEXT records one`);
    }
    const used = rows.filter((a) => a.decision === 'approved' && status.approvedBy.some((b) => b.role === a.role && b.identity === a.identity && b.at === a.at));
    let promoted;
    try {
      promoted = await r.promote({ model: o.model, version: o.version, actor, reason: o.reason, expect, record: { ...record, approvals: used.map((a) => a.id) } });
    } catch (err) {
      if (err instanceof RegistryError) return refuse(err.message);
      throw err;
    }
    if (ctx.json) {
      outJson({ registry: r.db.where, model: o.model, version: o.version, promoted: true, previous: promoted.previous, promotion: promoted.promotionId, governance: record.governance, approvals: used.map((a) => ({ id: a.id, role: a.role, identity: a.identity, scheme: a.scheme })) });
      return 0;
    }
    say(`${o.model}: production ${promoted.previous ?? '-'} -> ${o.version}${promoted.previous ? `; rollback -> ${promoted.previous} (paddock rollback ${o.model} goes back)` : ''}`);
    say(`promotion ${promoted.promotionId} by ${actor}, registry ${r.db.where}`, '  ');
    say(`governance: ${governance.checks.map((c) => `${c.id} ${c.status}`).join(', ')}`, '  ');
    say(`approvals: ${status.approvedBy.map((a) => `${a.role} ${a.identity}`).join(', ')}`, '  ');
    return 0;
  });
}

export interface RollbackOptions {
  model: string;
  reason: string;
  /** A YAML file of post-promotion hooks (src/schema/hooks.ts PostPromotionHooks), run for model_version.rolled_back. */
  hooks?: string;
}

/** `paddock rollback <model>`: production := rollback, one step, recorded; hooks only when --hooks names them. */
export async function rollbackCommand(ctx: RegistryContext, o: RollbackOptions): Promise<number> {
  // Read before anything moves: a bad hooks file must not leave a rollback done and its hooks not.
  const hooks = o.hooks ? await loadHooks(o.hooks) : undefined;
  const actor = currentActor();
  return withRegistry(ctx, 'write', async (r) => {
    await requireModel(r, o.model);
    const back = await r.rollback({ model: o.model, actor, reason: o.reason });
    const at = Date.now();
    let outcomes: { hook: string; status: string; detail: string }[] = [];
    if (hooks) {
      const { runPostPromotionHooks } = await import('../src/registry/hooks.js');
      outcomes = await runPostPromotionHooks(hooks.config, { event: 'model_version.rolled_back', model: o.model, version: back.to, previous: back.from, promotionId: back.promotionId, actor, at }, { baseDir: hooks.dir });
    }
    if (ctx.json) return outJson({ registry: r.db.where, model: o.model, from: back.from, to: back.to, promotion: back.promotionId, hooks: outcomes }), 0;
    say(`${o.model}: production ${back.from} -> ${back.to} (rolled back by ${actor}; rollback cleared: the next rollback needs a new promotion)`);
    say(`recorded as promotion ${back.promotionId}, registry ${r.db.where}`, '  ');
    for (const h of outcomes) say(`hook ${h.hook}: ${h.status}: ${h.detail}`, '  ');
    if (!hooks) out('  no hooks run (--hooks FILE runs them)');
    return 0;
  });
}

async function loadHooks(file: string) {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new UsageError(`--hooks ${abs}: no such file`);
  const { parseYamlWith } = await import('../src/schema/recipe-load.js');
  const { PostPromotionHooks } = await import('../src/schema/hooks.js');
  // Located errors (file:line:col), as a recipe's hooks: section gets them.
  const { value } = parseYamlWith(readFileSync(abs, 'utf8'), abs, PostPromotionHooks);
  return { config: value, dir: dirname(abs) };
}
