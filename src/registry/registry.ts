/**
 * The model registry (issue 20, items 1, 2 and 6): entries per model version, the aliases
 * staging -> candidate -> production (and rollback) moved only through recorded transitions,
 * promote and one-step rollback, approvals, waivers and promotion attempts stored, on SQLite or
 * PostgreSQL through one port (./db.ts).
 *
 * Every write is one serialized transaction (RegistryDb.write) that appends the audit record of
 * each row it inserts (./audit.ts appendAudit, which chains and signs it) and stores that
 * record's seq as the row's audit_seq, so a row and its record commit together or not at all.
 *
 * Rules, each refused with a RegistryError that says why:
 * - a version is strict semver (./semver.ts) and greater than every earlier version of its model
 *   (GTO's and MLflow's registries accept any order; a fleet rolling forward must not receive
 *   1.2.0 after 1.10.0);
 * - an entry is never changed: the API has no update, and the store's triggers refuse UPDATE and
 *   DELETE (./schema.ts); a correction is a new, greater version that names `corrects`;
 * - aliases move one step at a time: candidate only for a version that is or was at staging,
 *   production only through promote() and only for one that is or was candidate;
 * - each move is a compare-and-swap on the aliases row (`... WHERE version = expected`): when
 *   the alias is no longer where the caller saw it, nothing is written and the refusal names who
 *   moved it, when and why. Of two promotions racing for production, one wins.
 */
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../files/canonical-json.js';
import { InputError } from '../files/input-error.js';
import { formatPath } from '../schema/export-report.js';
import {
  ApprovalInput,
  PromotionRecord,
  RegistryEntryBody,
  WaiverInput,
  type Alias,
  type ApprovalRow,
  type PromotionRow,
  type PromotionStatus,
  type StoredApprovalInput,
  type StoredEntry,
  type StoredWaiverInput,
  type TransitionAction,
  type TransitionRow,
  type WaiverRow,
} from '../schema/registry.js';
import { appendAudit, loadAuditSigner, type AuditAction, type AuditSigner } from './audit.js';
import { openRegistryDb, type RegistryDb, type SqlRunner, type SqlValue } from './db.js';
import { compareVersions, greatestVersion, sortVersions, versionProblem } from './semver.js';

/** A registry write refused (the reason is the message), or a registry read of something absent. */
export class RegistryError extends InputError {}

/**
 * A model's name: it is part of audit subjects (`<model>@<version>`, `<model>/<alias>`,
 * `<model>:<finding>`) and of S3 prefixes, so none of "@", "/", ":" or spaces.
 */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

type Row = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'string' ? Number(v) : (v as number));
const when = (ms: number) => new Date(ms).toISOString();

export interface RegistryOptions {
  /** The audit signing key's file (PEM P-256; generated when absent, ./audit.ts loadAuditSigner). */
  auditKey: string;
  /** The clock, milliseconds since the epoch (tests pin it). */
  now?: () => number;
}

export class Registry {
  private constructor(
    readonly db: RegistryDb,
    readonly signer: AuditSigner,
    private readonly owns: boolean,
    private readonly now: () => number,
  ) {}

  /** Opens (and migrates) the registry at `spec`: a postgres:// URL or a SQLite file path. */
  static async open(spec: string, opts: RegistryOptions): Promise<Registry> {
    const signer = loadAuditSigner(opts.auditKey);
    const db = await openRegistryDb(spec);
    return new Registry(db, signer, true, opts.now ?? Date.now);
  }

  /** A registry over a database already open (its owner closes it: close() leaves it open). */
  static over(db: RegistryDb, signer: AuditSigner, opts: { now?: () => number } = {}): Registry {
    return new Registry(db, signer, false, opts.now ?? Date.now);
  }

  /** Closes the database when this registry opened it. */
  async close(): Promise<void> {
    if (this.owns) await this.db.close();
  }

  // ---------------------------------------------------------------- entries

  /**
   * Registers `version` of `model` (creating the model on its first entry): refused unless the
   * version is strict semver and greater than every earlier one, and, with `corrects`, unless that
   * names an earlier version. The body is stored as canonical JSON with its sha256.
   */
  async register(e: { model: string; version: string; body: RegistryEntryBody; actor: string; corrects?: string }): Promise<StoredEntry> {
    checkModel(e.model);
    checkVersion(e.model, e.version);
    const actor = required('actor', e.actor, `${e.model}@${e.version}`);
    if (e.corrects !== undefined) checkVersion(e.model, e.corrects, 'corrects');
    const parsed = RegistryEntryBody.safeParse(e.body);
    if (!parsed.success) throw new RegistryError(`entry ${e.model}@${e.version}: its body does not meet ${'paddock.registry_entry/1'}:\n${parsed.error.issues.map((i) => `  body.${formatPath(i.path)}: ${i.message}`).join('\n')}`);
    const body = canonicalJson(parsed.data);
    const digest = createHash('sha256').update(body).digest('hex');
    return this.db.write(async (tx) => {
      const at = this.now();
      if (!(await tx.get('SELECT name FROM models WHERE name = ?', [e.model]))) {
        const model = { name: e.model, created_at: at, created_by: actor };
        const seq = await this.audit(tx, actor, 'model.created', e.model, model, at);
        await insert(tx, 'models', { ...model, audit_seq: seq });
      }
      const versions = (await tx.all<{ version: string }>('SELECT version FROM entries WHERE model = ?', [e.model])).map((r) => r.version);
      const same = versions.find((v) => compareVersions(v, e.version) === 0);
      if (same === e.version) throw new RegistryError(`${e.model} ${e.version} is already registered, and an entry is never changed: register a correction as a new, greater version with corrects: ${e.version}`);
      if (same) throw new RegistryError(`${e.model} ${e.version} has the precedence of ${same}, already registered (build metadata is ignored in ordering, semver 2.0.0 §10): give it a greater version`);
      const greatest = greatestVersion(versions);
      if (greatest && compareVersions(e.version, greatest) < 0) throw new RegistryError(`${e.model} ${e.version} is not greater than ${greatest}, the greatest version registered: a new version must be greater than every earlier one (semver 2.0.0 §11 precedence)`);
      if (e.corrects !== undefined && !versions.includes(e.corrects)) throw new RegistryError(`${e.model} ${e.version} corrects ${e.corrects}, which is not registered${versions.length ? ` (registered: ${sortVersions(versions).join(', ')})` : ''}`);
      const row = { model: e.model, version: e.version, created_at: at, created_by: actor, body, digest, corrects: e.corrects ?? null };
      const seq = await this.audit(tx, actor, 'entry.registered', `${e.model}@${e.version}`, row, at);
      await insert(tx, 'entries', { ...row, audit_seq: seq });
      return toEntry({ ...row, audit_seq: seq });
    });
  }

  /** The entry of `model` at `version`, or undefined. */
  async entry(model: string, version: string): Promise<StoredEntry | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM entries WHERE model = ? AND version = ?', [model, version]);
    return r ? toEntry(r) : undefined;
  }

  /** Every entry of `model`, in ascending semver order. */
  async entries(model: string): Promise<StoredEntry[]> {
    const rows = (await this.db.all<Row>('SELECT * FROM entries WHERE model = ?', [model])).map(toEntry);
    return rows.sort((a, b) => compareVersions(a.version, b.version));
  }

  /** The names of every model, sorted. */
  async models(): Promise<string[]> {
    return (await this.db.all<{ name: string }>('SELECT name FROM models ORDER BY name')).map((r) => r.name);
  }

  // ---------------------------------------------------------------- aliases

  /** Where each alias of `model` points now (null: never set, or cleared). */
  async aliases(model: string): Promise<Record<Alias, string | null>> {
    const out: Record<Alias, string | null> = { staging: null, candidate: null, production: null, rollback: null };
    for (const r of await this.db.all<{ alias: Alias; version: string | null }>('SELECT alias, version FROM aliases WHERE model = ?', [model])) out[r.alias] = r.version;
    return out;
  }

  /** Every move of `model`'s aliases (or of one), oldest first: who pointed it at what, when, why. */
  async history(model: string, alias?: Alias): Promise<TransitionRow[]> {
    const rows = alias
      ? await this.db.all<Row>('SELECT * FROM transitions WHERE model = ? AND alias = ? ORDER BY seq', [model, alias])
      : await this.db.all<Row>('SELECT * FROM transitions WHERE model = ? ORDER BY seq', [model]);
    return rows.map(toTransition);
  }

  /**
   * Moves an alias one step in the order staging -> candidate -> production: any registered
   * version to staging; to candidate only a version that is at staging or has been. `expect`: the
   * version the caller saw there (null: none); when the alias has moved since, nothing is written
   * and the refusal names who moved it. Without `expect`, the move is from wherever it is now.
   */
  async transition(t: { model: string; version: string; alias: 'staging' | 'candidate'; actor: string; reason: string; expect?: string | null }): Promise<TransitionRow> {
    if ((t.alias as string) === 'production') throw new RegistryError(`${t.model}: production moves only through a promotion (paddock promote), which also tags the previous production as rollback`);
    if ((t.alias as string) === 'rollback') throw new RegistryError(`${t.model}: rollback is set only by a promotion (the production it replaced) and cleared by paddock rollback`);
    if (t.alias !== 'staging' && t.alias !== 'candidate') throw new RegistryError(`${t.model}: unknown alias ${JSON.stringify(t.alias)}; the aliases are staging, candidate, production and rollback`);
    const actor = required('actor', t.actor, `${t.model}/${t.alias}`);
    const reason = required('reason', t.reason, `${t.model}/${t.alias}`);
    return this.db.write(async (tx) => {
      await this.mustExist(tx, t.model, t.version);
      if (t.alias === 'candidate' && !(await wasAt(tx, t.model, 'staging', t.version)))
        throw new RegistryError(`${t.model} ${t.version} cannot go to candidate: it has never been at staging (the order is staging -> candidate -> production); move it to staging first`);
      return this.move(tx, { model: t.model, alias: t.alias, to: t.version, action: 'assign', actor, reason, expect: t.expect });
    });
  }

  /**
   * Promotes `version` to production in one transaction: production := version (compare-and-swap
   * against `expect`, the production the caller decided on; null: none yet), rollback := the
   * production it replaces, and a promotions row with `record`. Refused when production has moved
   * since `expect` (naming who moved it), when the version has never been candidate, or when it
   * is production already.
   */
  async promote(p: { model: string; version: string; actor: string; reason: string; expect: string | null; record: PromotionRecord }): Promise<{ promotionId: string; previous: string | null; transitions: TransitionRow[] }> {
    const actor = required('actor', p.actor, `${p.model}/production`);
    const reason = required('reason', p.reason, `${p.model}/production`);
    const record = checkRecord(p.model, p.record);
    if (p.expect !== null && typeof p.expect !== 'string') throw new RegistryError(`${p.model}: promote needs expect, the production version the decision was made against (null when there is none)`);
    return this.db.write(async (tx) => {
      await this.mustExist(tx, p.model, p.version);
      if (!(await wasAt(tx, p.model, 'candidate', p.version)))
        throw new RegistryError(`${p.model} ${p.version} cannot be promoted to production: it has never been candidate (the order is staging -> candidate -> production)`);
      const at = this.now();
      const promotionId = randomUUID();
      const prod = await this.move(tx, { model: p.model, alias: 'production', to: p.version, action: 'promote', actor, reason, expect: p.expect, promotionId, at });
      const transitions = [prod];
      if (prod.from_version !== null) transitions.push(await this.move(tx, { model: p.model, alias: 'rollback', to: prod.from_version, action: 'promote', actor, reason: `the production before ${p.version}: ${reason}`, promotionId, at }));
      await this.insertPromotion(tx, { id: promotionId, model: p.model, version: p.version, alias: 'production', status: 'promoted', actor, at, record: { reason, ...record } });
      return { promotionId, previous: prod.from_version, transitions };
    });
  }

  /**
   * One step back: production := the rollback version, rollback := cleared, both moves (action
   * rollback and clear) and a promotions row (status rolled-back, for the version rolled back
   * from) in one transaction. Refused when there is no rollback version, or when production has
   * moved since `expect` (when given).
   */
  async rollback(r: { model: string; actor: string; reason: string; expect?: string | null }): Promise<{ from: string; to: string; promotionId: string }> {
    const actor = required('actor', r.actor, `${r.model}/production`);
    const reason = required('reason', r.reason, `${r.model}/production`);
    return this.db.write(async (tx) => {
      if (!(await tx.get('SELECT name FROM models WHERE name = ?', [r.model]))) throw new RegistryError(`no model ${r.model} in the registry ${this.db.where}`);
      const cur = await aliasRow(tx, r.model, 'production');
      const back = await aliasRow(tx, r.model, 'rollback');
      if (!back?.version) {
        const last = back ? await transitionAt(tx, num(back.transition_seq)) : undefined;
        throw new RegistryError(`${r.model} has no rollback version${last ? ` (rollback was cleared ${when(last.at)} by ${last.actor}: "${last.reason}")` : ''}: a rollback is one step, to the production the last promotion replaced${cur?.version ? `; production is ${cur.version}` : ''}`);
      }
      const at = this.now();
      const promotionId = randomUUID();
      const prod = await this.move(tx, { model: r.model, alias: 'production', to: back.version, action: 'rollback', actor, reason, expect: r.expect, promotionId, at });
      await this.move(tx, { model: r.model, alias: 'rollback', to: null, action: 'clear', actor, reason: `rolled back to ${back.version}: ${reason}`, promotionId, at });
      const from = prod.from_version!;
      await this.insertPromotion(tx, { id: promotionId, model: r.model, version: from, alias: 'production', status: 'rolled-back', actor, at, record: { reason, rolled_back_to: back.version } });
      return { from, to: back.version, promotionId };
    });
  }

  // ---------------------------------------------------------------- approvals, waivers, promotion attempts

  /** Stores a signed decision (checked by the caller: ./approvals.ts) for a registered version. */
  async recordApproval(a: StoredApprovalInput): Promise<ApprovalRow> {
    const parsed = ApprovalInput.safeParse(a);
    if (!parsed.success) throw new RegistryError(`approval of ${a?.model}@${a?.version}: ${issues(parsed.error.issues)}`);
    const v = parsed.data;
    return this.db.write(async (tx) => {
      await this.mustExist(tx, v.model, v.version);
      const row = { id: v.id ?? randomUUID(), model: v.model, version: v.version, stage: v.stage, role: v.role, identity: v.identity, decision: v.decision, reason: v.reason, at: v.at, scheme: v.scheme, payload: v.payload, signature: v.signature };
      if (await tx.get('SELECT id FROM approvals WHERE id = ?', [row.id])) throw new RegistryError(`approval ${row.id} is already recorded, and an approval is never changed`);
      const seq = await this.audit(tx, v.identity, 'approval.recorded', `${v.model}@${v.version}`, row, this.now());
      await insert(tx, 'approvals', { ...row, audit_seq: seq });
      return { ...row, audit_seq: seq };
    });
  }

  /** The approvals of `model`@`version` (for one stage), oldest first. */
  async approvals(model: string, version: string, stage?: string): Promise<ApprovalRow[]> {
    const rows = stage
      ? await this.db.all<Row>('SELECT * FROM approvals WHERE model = ? AND version = ? AND stage = ? ORDER BY at, id', [model, version, stage])
      : await this.db.all<Row>('SELECT * FROM approvals WHERE model = ? AND version = ? ORDER BY at, id', [model, version]);
    return rows.map((r) => ({ ...(r as unknown as ApprovalRow), at: num(r.at), audit_seq: num(r.audit_seq) }));
  }

  /** Stores a waiver of a scan finding for a model (or one version of it), recorded by its approver. */
  async recordWaiver(w: StoredWaiverInput): Promise<WaiverRow> {
    const parsed = WaiverInput.safeParse(w);
    if (!parsed.success) throw new RegistryError(`waiver of ${w?.finding} for ${w?.model}: ${issues(parsed.error.issues)}`);
    const v = parsed.data;
    return this.db.write(async (tx) => {
      if (v.version) await this.mustExist(tx, v.model, v.version);
      else if (!(await tx.get('SELECT name FROM models WHERE name = ?', [v.model]))) throw new RegistryError(`no model ${v.model} in the registry ${this.db.where}`);
      const at = this.now();
      const row = { id: v.id ?? randomUUID(), model: v.model, finding: v.finding, version: v.version ?? null, justification: v.justification, approver: v.approver, expires_at: v.expires_at, at };
      if (await tx.get('SELECT id FROM waivers WHERE id = ?', [row.id])) throw new RegistryError(`waiver ${row.id} is already recorded, and a waiver is never changed`);
      const seq = await this.audit(tx, v.approver, 'waiver.recorded', `${v.model}:${v.finding}`, row, at);
      await insert(tx, 'waivers', { ...row, audit_seq: seq });
      return { ...row, audit_seq: seq };
    });
  }

  /** The waivers of `model`, oldest first (expired ones too: the caller compares expires_at). */
  async waivers(model: string): Promise<WaiverRow[]> {
    return (await this.db.all<Row>('SELECT * FROM waivers WHERE model = ? ORDER BY at, id', [model])).map((r) => ({ ...(r as unknown as WaiverRow), at: num(r.at), expires_at: num(r.expires_at), audit_seq: num(r.audit_seq) }));
  }

  /**
   * Records a promotion attempt that moved nothing (refused by governance or approvals, paused by
   * the canary), so that every attempt is in the history with what it was decided on.
   */
  async recordPromotion(p: { model: string; version: string; status: Exclude<PromotionStatus, 'promoted' | 'rolled-back'>; actor: string; record: PromotionRecord; alias?: Alias }): Promise<{ promotionId: string }> {
    const actor = required('actor', p.actor, `${p.model}@${p.version}`);
    if (p.status !== 'refused' && p.status !== 'paused') throw new RegistryError(`${p.model}@${p.version}: recordPromotion stores refused or paused attempts; a promotion is made with promote() and a rollback with rollback()`);
    const record = checkRecord(p.model, p.record);
    return this.db.write(async (tx) => {
      await this.mustExist(tx, p.model, p.version);
      const id = randomUUID();
      await this.insertPromotion(tx, { id, model: p.model, version: p.version, alias: p.alias ?? 'production', status: p.status, actor, at: this.now(), record });
      return { promotionId: id };
    });
  }

  /** The promotion attempts of `model` (of one version), oldest first. */
  async promotions(model: string, version?: string): Promise<PromotionRow[]> {
    const rows = version
      ? await this.db.all<Row>('SELECT * FROM promotions WHERE model = ? AND version = ? ORDER BY at, id', [model, version])
      : await this.db.all<Row>('SELECT * FROM promotions WHERE model = ? ORDER BY at, id', [model]);
    return rows.map((r) => ({ ...(r as unknown as PromotionRow), at: num(r.at), audit_seq: num(r.audit_seq), record: JSON.parse(String(r.record)) as PromotionRecord }));
  }

  // ---------------------------------------------------------------- inside a write

  private audit(tx: SqlRunner, actor: string, action: AuditAction, subject: string, row: Row, at: number): Promise<number> {
    return appendAudit(tx, this.signer, { actor, action, subject, row, at });
  }

  private async mustExist(tx: SqlRunner, model: string, version: string): Promise<void> {
    if (await tx.get('SELECT version FROM entries WHERE model = ? AND version = ?', [model, version])) return;
    if (!(await tx.get('SELECT name FROM models WHERE name = ?', [model]))) throw new RegistryError(`no model ${model} in the registry ${this.db.where}`);
    const versions = sortVersions((await tx.all<{ version: string }>('SELECT version FROM entries WHERE model = ?', [model])).map((r) => r.version));
    throw new RegistryError(`${model} ${version} is not registered (registered: ${versions.join(', ')})`);
  }

  /**
   * One alias move: the compare-and-swap on the aliases row, then its transition row and audit
   * record. The swap is the UPDATE's WHERE (the alias still holds `expect`): with 0 rows changed
   * nothing is written and the refusal says where the alias is, since when and by whom. NULL
   * never equals NULL in SQL, so "still unset" is spelled out; the CAST gives the parameter a
   * type, which PostgreSQL needs for `$n IS NULL` ("could not determine data type of parameter").
   */
  private async move(
    tx: SqlRunner,
    m: { model: string; alias: Alias; to: string | null; action: TransitionAction; actor: string; reason: string; expect?: string | null; promotionId?: string; at?: number },
  ): Promise<TransitionRow> {
    const at = m.at ?? this.now();
    const cur = await aliasRow(tx, m.model, m.alias);
    const expected = m.expect === undefined ? (cur?.version ?? null) : m.expect;
    const seq = num((await tx.get<{ s: unknown }>('SELECT COALESCE(MAX(seq), 0) AS s FROM transitions'))!.s) + 1;
    let changed = 0;
    if (cur) {
      changed = (await tx.run('UPDATE aliases SET version = ?, transition_seq = ? WHERE model = ? AND alias = ? AND (version = ? OR (version IS NULL AND CAST(? AS TEXT) IS NULL))', [m.to, seq, m.model, m.alias, expected, expected])).changes;
    } else if (expected === null) {
      changed = (await tx.run('INSERT INTO aliases (model, alias, version, transition_seq) VALUES (?, ?, ?, ?)', [m.model, m.alias, m.to, seq])).changes;
    }
    if (changed !== 1) throw await casRefusal(tx, m.model, m.alias, expected);
    if (expected === m.to) throw new RegistryError(`${m.alias} of ${m.model} is ${m.to ?? 'unset'} already: nothing to move`);
    const row = { seq, model: m.model, alias: m.alias, from_version: expected, to_version: m.to, action: m.action, actor: m.actor, reason: m.reason, at, promotion_id: m.promotionId ?? null };
    const auditSeq = await this.audit(tx, m.actor, 'alias.moved', `${m.model}/${m.alias}`, row, at);
    await insert(tx, 'transitions', { ...row, audit_seq: auditSeq });
    return { ...row, audit_seq: auditSeq };
  }

  private async insertPromotion(tx: SqlRunner, p: Omit<PromotionRow, 'audit_seq'>): Promise<void> {
    const row = { ...p, record: canonicalJson(p.record) };
    const seq = await this.audit(tx, p.actor, 'promotion.recorded', `${p.model}@${p.version}`, row, p.at);
    await insert(tx, 'promotions', { ...row, audit_seq: seq });
  }
}

// ---------------------------------------------------------------- helpers

function checkModel(model: string): void {
  if (typeof model !== 'string' || !MODEL_NAME.test(model))
    throw new RegistryError(`model name ${JSON.stringify(model)}: expected letters, digits, ".", "_" or "-" (at most 128, starting with a letter or digit), since it is part of audit subjects and S3 prefixes`);
}

function checkVersion(model: string, version: string, what = 'version'): void {
  const problem = versionProblem(version);
  if (problem) throw new RegistryError(`${model} ${what} ${JSON.stringify(version)}: ${problem}`);
}

function required(what: string, value: unknown, where: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new RegistryError(`${where}: ${what === 'actor' ? 'an' : 'a'} ${what} is required (who and why are part of every registry write)`);
  return value;
}

function checkRecord(model: string, record: unknown): PromotionRecord {
  const r = PromotionRecord.safeParse(record ?? {});
  if (!r.success) throw new RegistryError(`${model}: promotion record: ${issues(r.error.issues)}`);
  return r.data;
}

function issues(list: readonly { path: PropertyKey[]; message: string }[]): string {
  return list.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ');
}

/** INSERT of one row; the column names come from this module only, never from input. */
async function insert(tx: SqlRunner, table: string, row: Record<string, SqlValue>): Promise<void> {
  const cols = Object.keys(row);
  await tx.run(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, cols.map((c) => row[c]));
}

async function aliasRow(tx: SqlRunner, model: string, alias: Alias): Promise<{ version: string | null; transition_seq: unknown } | undefined> {
  return tx.get('SELECT version, transition_seq FROM aliases WHERE model = ? AND alias = ?', [model, alias]);
}

async function transitionAt(tx: SqlRunner, seq: number): Promise<TransitionRow | undefined> {
  const r = await tx.get<Row>('SELECT * FROM transitions WHERE seq = ?', [seq]);
  return r ? toTransition(r) : undefined;
}

/** Whether `version` is at `alias` now or has been moved there before. */
async function wasAt(tx: SqlRunner, model: string, alias: Alias, version: string): Promise<boolean> {
  return Boolean(await tx.get('SELECT seq FROM transitions WHERE model = ? AND alias = ? AND to_version = ?', [model, alias, version]));
}

/**
 * The refusal of a move whose compare-and-swap found the alias elsewhere:
 *   production of world-detector is 1.2.0 since 2025-05-01T10:00:00.000Z (moved by bob@x: "canary green"); you expected 1.1.0: refused
 */
async function casRefusal(tx: SqlRunner, model: string, alias: Alias, expected: string | null): Promise<RegistryError> {
  const cur = await aliasRow(tx, model, alias);
  const last = cur ? await transitionAt(tx, num(cur.transition_seq)) : undefined;
  const now = cur?.version ? `is ${cur.version}` : 'is unset';
  const since = last ? ` since ${when(last.at)} (${last.to_version === null ? 'cleared' : 'moved'} by ${last.actor}: ${JSON.stringify(last.reason)})` : '';
  return new RegistryError(`${alias} of ${model} ${now}${since}; you expected ${expected ?? 'it unset'}: refused`);
}

function toEntry(r: Row): StoredEntry {
  return {
    model: String(r.model),
    version: String(r.version),
    created_at: num(r.created_at),
    created_by: String(r.created_by),
    body: JSON.parse(String(r.body)) as RegistryEntryBody,
    digest: String(r.digest),
    corrects: (r.corrects as string | null) ?? null,
    audit_seq: num(r.audit_seq),
  };
}

function toTransition(r: Row): TransitionRow {
  return {
    seq: num(r.seq),
    model: String(r.model),
    alias: r.alias as Alias,
    from_version: (r.from_version as string | null) ?? null,
    to_version: (r.to_version as string | null) ?? null,
    action: r.action as TransitionAction,
    actor: String(r.actor),
    reason: String(r.reason),
    at: num(r.at),
    promotion_id: (r.promotion_id as string | null) ?? null,
    audit_seq: num(r.audit_seq),
  };
}
