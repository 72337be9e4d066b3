/**
 * The registry's audit trail: every registry write appends one record to a hash-chained, signed
 * log (the `audit` table, ./schema.ts) in the same transaction as the row it records, and
 * `paddock audit verify` (verifyAudit) re-derives the chain and cross-checks it against the tables.
 *
 * The chain is a linked hash list (Haber and Stornetta, "How to time-stamp a digital document",
 * 1991): each record commits to the previous record's hash, so changing, removing or moving one
 * record breaks the recomputed hash of that record or the link of the next. Each hash is signed
 * (ECDSA P-256, the scheme packs use: ../pack/signing.ts), so that someone who can write the
 * database but does not hold the registry's audit key cannot rebuild a consistent chain. What a
 * chain alone cannot show, a cut tail (the last records and their rows deleted together), shows
 * when a row survives that points past the end (every table row carries its `audit_seq`), or when
 * the caller compares the head with one it recorded earlier (`expect`).
 *
 *   hash = sha256hex(prev_hash + '\n' + canonicalJson({ seq, at, actor, action, subject, body }))
 *   body = canonicalJson({ row })      row: the inserted row's columns without audit_seq
 *   signature = base64(DER ECDSA P-256 over the utf8 bytes of the hash hex)   key_id = keyFingerprint
 *
 * One record per inserted row of an audited table (AUDITED_TABLES): a write that adds three rows
 * (a promotion: its promotions row and two transitions) appends three records.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { canonicalJson } from '../files/canonical-json.js';
import { InputError } from '../files/input-error.js';
import { writeAtomic } from '../files/atomic.js';
import { generateSigningKey, privateKeyFromPem, publicPemOf } from '../pack/signing.js';
import { keyFingerprint } from '../pack/trust.js';
import type { SqlRunner } from './db.js';

export type AuditAction = 'model.created' | 'entry.registered' | 'alias.moved' | 'approval.recorded' | 'waiver.recorded' | 'promotion.recorded';

export interface AuditInput {
  actor: string;
  action: AuditAction;
  subject: string;
  /** The inserted row's columns (audit_seq, when present, is left out of the record). */
  row: Record<string, unknown>;
  /** Milliseconds since the epoch. */
  at: number;
}

export interface AuditSigner {
  /** keyFingerprint of the public key: base64 sha256 of its SPKI DER. */
  keyId: string;
  /** base64 DER ECDSA P-256 signature over the utf8 bytes of the hash hex. */
  sign(hashHex: string): string;
  publicPem: string;
}

/** A stored audit record (the `audit` table's columns). */
export interface AuditRecord {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  body: string;
  prev_hash: string;
  hash: string;
  key_id: string;
  signature: string;
}

export interface AuditVerification {
  ok: boolean;
  records: number;
  /** One line per problem, each naming the record (seq, action, subject) or the row at fault. */
  problems: string[];
  /** The last record: what a caller keeps to detect a cut tail next time (`expect`). seq 0 and 64 zeros when empty. */
  head: { seq: number; hash: string };
}

/** prev_hash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

type Row = Record<string, unknown>;

/**
 * Which table each action records, and the subject a row is named by (the design's table ↔
 * action ↔ subject mapping); `key` names a row for messages (its primary key columns).
 */
export const AUDITED_TABLES = {
  models: { action: 'model.created', subject: (r: Row) => `${r.name}`, key: ['name'] },
  entries: { action: 'entry.registered', subject: (r: Row) => `${r.model}@${r.version}`, key: ['model', 'version'] },
  transitions: { action: 'alias.moved', subject: (r: Row) => `${r.model}/${r.alias}`, key: ['seq'] },
  approvals: { action: 'approval.recorded', subject: (r: Row) => `${r.model}@${r.version}`, key: ['id'] },
  waivers: { action: 'waiver.recorded', subject: (r: Row) => `${r.model}:${r.finding}`, key: ['id'] },
  promotions: { action: 'promotion.recorded', subject: (r: Row) => `${r.model}@${r.version}`, key: ['id'] },
} as const satisfies Record<string, { action: AuditAction; subject: (r: Row) => string; key: readonly string[] }>;

export type AuditedTable = keyof typeof AUDITED_TABLES;

const TABLE_OF_ACTION = new Map<string, AuditedTable>(Object.entries(AUDITED_TABLES).map(([t, v]) => [v.action, t as AuditedTable]));

/** The table an action's rows live in, or undefined for an action the registry never writes. */
export function tableOfAction(action: string): AuditedTable | undefined {
  return TABLE_OF_ACTION.get(action);
}

/**
 * The registry's BIGINT columns (./schema.ts), read as numbers before hashing or comparing, so
 * that one chain verifies on either database. Both adapters return numbers already (the
 * PostgreSQL one parses int8 itself: ./postgres-db.ts); a string or bigint from some other reader
 * of the same tables (pg's default int8 parser, DuckDB) would otherwise read as changed content.
 */
const BIGINT_COLUMNS = new Set(['seq', 'at', 'created_at', 'audit_seq', 'expires_at', 'transition_seq']);

function asNumber(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : (v as number);
}

/** A row as the record keeps it: without audit_seq and undefined members, BIGINT columns as numbers. */
function recordedRow(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === 'audit_seq' || v === undefined) continue;
    out[k] = BIGINT_COLUMNS.has(k) && v !== null ? asNumber(v) : v;
  }
  return out;
}

/** The hash of a record's content at `seq` after `prevHash` (the module comment's formula). */
export function auditHash(prevHash: string, r: { seq: number; at: number; actor: string; action: string; subject: string; body: string }): string {
  const content = canonicalJson({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, subject: r.subject, body: r.body });
  return createHash('sha256').update(`${prevHash}\n${content}`).digest('hex');
}

/** The signer for a PEM P-256 private key. */
function signerOf(key: KeyObject): AuditSigner {
  return {
    keyId: keyFingerprint(key),
    publicPem: publicPemOf(key),
    sign: (hashHex) => sign('sha256', Buffer.from(hashHex, 'utf8'), key).toString('base64'),
  };
}

/**
 * The audit signer from `keyFile` (a PEM P-256 private key), generated with mode 0600 when the
 * file is absent (its directory made); its public key is written beside it as `<keyFile>.pub.pem`
 * (what a policy's `audit_keys` names). Processes that start at once agree on one key: the new key
 * is linked into place, which fails when another process linked its key first (then that one is read).
 */
export function loadAuditSigner(keyFile: string): AuditSigner {
  if (!existsSync(keyFile)) {
    mkdirSync(dirname(keyFile), { recursive: true });
    const { privatePem } = generateSigningKey();
    const tmp = `${keyFile}.tmp-${process.pid}-${Date.now()}`;
    writeFileSync(tmp, privatePem, { mode: 0o600 });
    try {
      // link(2) never replaces an existing name: of racing processes one key wins, whole.
      linkSync(tmp, keyFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
  }
  const signer = signerOf(privateKeyFromPem(readFileSync(keyFile, 'utf8'), `audit key ${keyFile}`));
  const pubFile = `${keyFile}.pub.pem`;
  // The public file is derived from the private key: (re)written whenever it does not match it.
  if (!existsSync(pubFile) || readFileSync(pubFile, 'utf8') !== signer.publicPem) writeAtomic(pubFile, signer.publicPem, 0o644);
  return signer;
}

/**
 * Appends the record of one inserted row. Call inside db.write(), before inserting the row, and
 * store the returned seq as the row's audit_seq: reads the last record and appends seq = last + 1
 * with prev_hash = last.hash (GENESIS_HASH for the first). The write transaction is serialized
 * (./db.ts), so no two writers take the same seq. A subject that is not the one AUDITED_TABLES
 * derives from the row is a bug in the caller, refused here rather than found by the next verify.
 */
export async function appendAudit(tx: SqlRunner, signer: AuditSigner, rec: AuditInput): Promise<number> {
  const table = tableOfAction(rec.action);
  if (!table) throw new Error(`appendAudit: unknown action ${rec.action}`);
  const row = recordedRow(rec.row);
  const subject = AUDITED_TABLES[table].subject(row);
  if (subject !== rec.subject) throw new Error(`appendAudit: ${rec.action} subject "${rec.subject}" is not the row's subject "${subject}"`);
  if (!Number.isSafeInteger(rec.at)) throw new Error(`appendAudit: at must be integer milliseconds, got ${rec.at}`);
  const last = await tx.get<{ seq: unknown; hash: string }>('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  const seq = last ? asNumber(last.seq) + 1 : 1;
  const prevHash = last ? last.hash : GENESIS_HASH;
  const body = canonicalJson({ row });
  const hash = auditHash(prevHash, { seq, at: rec.at, actor: rec.actor, action: rec.action, subject: rec.subject, body });
  await tx.run('INSERT INTO audit (seq, at, actor, action, subject, body, prev_hash, hash, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
    seq,
    rec.at,
    rec.actor,
    rec.action,
    rec.subject,
    body,
    prevHash,
    hash,
    signer.keyId,
    signer.sign(hash),
  ]);
  return seq;
}

/** The audit keys given were not usable (not PEM P-256 public keys). */
export class AuditKeyError extends InputError {}

/** A record as messages name it: `audit record 17 (alias.moved world-detector/production)`. */
function named(r: Pick<AuditRecord, 'seq' | 'action' | 'subject'>): string {
  return `audit record ${r.seq} (${r.action} ${r.subject})`;
}

/** A row as messages name it: `transitions row seq=5 (world-detector/production)`. */
function namedRow(table: AuditedTable, row: Row): string {
  const key = AUDITED_TABLES[table].key.map((k) => `${k}=${String(row[k])}`).join(' ');
  return `${table} row ${key} (${AUDITED_TABLES[table].subject(row)})`;
}

const show = (v: unknown) => {
  const s = v === undefined ? 'absent' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** The columns whose values differ between a record's row and a table's row (null and absent alike). */
function differences(recorded: Row, stored: Row): string[] {
  const a = recordedRow(recorded);
  const b = recordedRow(stored);
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const x = a[k] ?? null;
    const y = b[k] ?? null;
    if (canonicalJson(x) !== canonicalJson(y)) out.push(`${k}: recorded ${show(a[k])}, table ${show(b[k])}`);
  }
  return out;
}

/**
 * Verifies the whole trail: the chain (seq contiguous from 1, each prev_hash the previous hash,
 * each hash recomputed, each signature by one of `keys`), then both directions between the chain
 * and the tables (each audited row has its record, of its action, with the same content; each
 * record's row exists), then the aliases table against the transitions it materializes (aliases
 * are not append-only, so a pointer moved outside the registry shows here). `expect`: a head
 * recorded earlier; a chain that no longer reaches it, or reaches it with another hash, was cut or
 * rewritten. Every problem names the record (seq, action, subject) or the row.
 */
export async function verifyAudit(
  db: SqlRunner,
  keys: { keyId: string; publicPem: string }[],
  opts: { expect?: { seq: number; hash: string } } = {},
): Promise<AuditVerification> {
  const trusted = new Map<string, KeyObject>();
  for (const [i, k] of keys.entries()) {
    let key: KeyObject;
    try {
      key = createPublicKey(k.publicPem);
    } catch (err) {
      throw new AuditKeyError(`audit key ${i + 1} (${k.keyId}): not a PEM public key (${(err as Error).message.split('\n')[0]})`);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new AuditKeyError(`audit key ${i + 1} (${k.keyId}): not ECDSA P-256`);
    // Keyed by the fingerprint of the key itself, never by the id the caller wrote beside it.
    trusted.set(keyFingerprint(key), key);
  }

  const raw = await db.all<Record<string, unknown>>('SELECT seq, at, actor, action, subject, body, prev_hash, hash, key_id, signature FROM audit ORDER BY seq');
  const records: AuditRecord[] = raw.map((r) => ({ ...(r as unknown as AuditRecord), seq: asNumber(r.seq), at: asNumber(r.at) }));
  const problems: string[] = [];
  const bySeq = new Map(records.map((r) => [r.seq, r]));

  // The chain.
  const mismatched: AuditRecord[] = [];
  let prev: AuditRecord | undefined;
  for (const r of records) {
    const expectedSeq = prev ? prev.seq + 1 : 1;
    if (r.seq !== expectedSeq) {
      const gap = r.seq - 1 === expectedSeq ? `record ${expectedSeq} is` : `records ${expectedSeq}..${r.seq - 1} are`;
      problems.push(`${named(r)}: ${prev ? `follows record ${prev.seq}` : 'is the first record'}: ${gap} missing (deleted from the chain)`);
    } else if (r.prev_hash !== (prev ? prev.hash : GENESIS_HASH)) {
      // A gap already explains a broken link; said once.
      problems.push(`${named(r)}: prev_hash ${r.prev_hash.slice(0, 12)}... is not ${prev ? `record ${prev.seq}'s hash ${prev.hash.slice(0, 12)}...` : 'the genesis hash (64 zeros)'} (a record before it was changed, removed or moved)`);
    }
    if (auditHash(r.prev_hash, r) !== r.hash) mismatched.push(r);
    const key = trusted.get(r.key_id);
    if (!key) problems.push(`${named(r)}: signed by key ${r.key_id}, which is not a trusted audit key`);
    else if (!verifySignature(key, r)) problems.push(`${named(r)}: the signature does not verify with key ${r.key_id} (forged, or the hash was rewritten)`);
    checkRecordShape(r, problems);
    prev = r;
  }
  // A hash mismatch: the record was changed, or it holds another position's record (reordered):
  // the content recomputed at another mismatched position's seq matches what was signed there.
  const hashAt = (seq: number) => (seq === 0 ? GENESIS_HASH : bySeq.get(seq)?.hash);
  for (const r of mismatched) {
    const from = mismatched.length <= 500 ? mismatched.find((o) => o !== r && movedFrom(r, o.seq, hashAt)) : undefined;
    if (from) problems.push(`${named(r)}: holds the content written as record ${from.seq} (records reordered)`);
    else problems.push(`${named(r)}: its hash does not match its content (the record was changed)`);
  }

  const head = prev ? { seq: prev.seq, hash: prev.hash } : { seq: 0, hash: GENESIS_HASH };
  if (opts.expect && opts.expect.seq > 0) {
    const at = bySeq.get(opts.expect.seq);
    if (opts.expect.seq > head.seq) problems.push(`the chain ends at record ${head.seq}, before the expected head ${opts.expect.seq} (its tail was cut)`);
    else if (!at || at.hash !== opts.expect.hash) problems.push(`audit record ${opts.expect.seq}: not the expected head ${opts.expect.hash.slice(0, 12)}... (the chain was rewritten)`);
  }

  // Rows against records, both ways.
  const claimed = new Map<number, { table: AuditedTable; row: Row }>();
  for (const table of Object.keys(AUDITED_TABLES) as AuditedTable[]) {
    const spec = AUDITED_TABLES[table];
    const rows = await db.all<Row>(`SELECT * FROM ${table}`);
    for (const row of rows) {
      const seqRaw = row.audit_seq;
      const seq = seqRaw === null || seqRaw === undefined ? NaN : asNumber(seqRaw);
      const rec = Number.isSafeInteger(seq) ? bySeq.get(seq) : undefined;
      if (!Number.isSafeInteger(seq) || seq < 1) {
        problems.push(`${namedRow(table, row)}: audit_seq ${show(seqRaw)} names no audit record (a row added without one)`);
        continue;
      }
      if (!rec) {
        if (seq > head.seq) problems.push(`${namedRow(table, row)}: its audit record ${seq} is past the chain's end (record ${head.seq}): the chain's tail was cut, or the row was added without a record`);
        else problems.push(`${namedRow(table, row)}: its audit record ${seq} is missing (deleted from the chain)`);
        continue;
      }
      if (rec.action !== spec.action) {
        problems.push(`${namedRow(table, row)}: its ${named(rec)} is a ${rec.action} record, not ${spec.action} (a row added without a record)`);
        continue;
      }
      const other = claimed.get(seq);
      if (other) {
        problems.push(`${namedRow(table, row)}: claims ${named(rec)}, which already records ${namedRow(other.table, other.row)} (a row added without a record)`);
        continue;
      }
      claimed.set(seq, { table, row });
      const recorded = recordRow(rec);
      if (!recorded) continue; // its body is malformed: said by checkRecordShape
      const diff = differences(recorded, row);
      if (diff.length) problems.push(`${named(rec)}: the ${namedRow(table, row)} differs from the record (changed outside the registry): ${diff.join('; ')}`);
    }
  }
  for (const r of records) {
    const table = tableOfAction(r.action);
    if (table && !claimed.has(r.seq)) problems.push(`${named(r)}: its ${table} row is gone (deleted outside the registry)`);
  }

  await checkAliases(db, problems);
  return { ok: problems.length === 0, records: records.length, problems, head };
}

function verifySignature(key: KeyObject, r: AuditRecord): boolean {
  try {
    return verify('sha256', Buffer.from(r.hash, 'utf8'), key, Buffer.from(r.signature, 'base64'));
  } catch {
    return false; // not DER: as forged as a wrong one
  }
}

/** Whether `r`'s content, written at `seq` (after that position's predecessor), gives the hash stored there or stored with `r`. */
function movedFrom(r: AuditRecord, seq: number, hashAt: (seq: number) => string | undefined): boolean {
  const hashes = new Set([r.hash, hashAt(seq)]);
  for (const prevHash of new Set([r.prev_hash, hashAt(seq - 1)])) {
    if (prevHash !== undefined && hashes.has(auditHash(prevHash, { ...r, seq }))) return true;
  }
  return false;
}

/** The record's `row`, or undefined when its body is not `{"row":{...}}`. */
function recordRow(r: AuditRecord): Row | undefined {
  try {
    const body = JSON.parse(r.body) as { row?: unknown };
    return body && typeof body.row === 'object' && body.row !== null && !Array.isArray(body.row) ? (body.row as Row) : undefined;
  } catch {
    return undefined;
  }
}

/** A record of an action the registry does not write, a malformed body, or a subject that is not its row's. */
function checkRecordShape(r: AuditRecord, problems: string[]): void {
  const table = tableOfAction(r.action);
  if (!table) {
    problems.push(`${named(r)}: ${r.action} is not an action the registry writes`);
    return;
  }
  const row = recordRow(r);
  if (!row) problems.push(`${named(r)}: its body is not {"row": {...}}`);
  else if (AUDITED_TABLES[table].subject(row) !== r.subject) problems.push(`${named(r)}: its subject is not its row's (${AUDITED_TABLES[table].subject(row)})`);
}

/**
 * The aliases table is where each alias points now, a materialized view of transitions that the
 * registry updates by compare-and-swap (./schema.ts), so it is not append-only and has no record of
 * its own: each alias row must point where its latest transition moved it.
 */
async function checkAliases(db: SqlRunner, problems: string[]): Promise<void> {
  const aliases = await db.all<Row>('SELECT model, alias, version, transition_seq FROM aliases');
  const transitions = await db.all<Row>('SELECT seq, model, alias, to_version, audit_seq FROM transitions');
  const latest = new Map<string, Row>();
  const bySeq = new Map<number, Row>();
  for (const t of transitions) {
    bySeq.set(asNumber(t.seq), t);
    const k = `${t.model}/${t.alias}`;
    const cur = latest.get(k);
    if (!cur || asNumber(cur.seq) < asNumber(t.seq)) latest.set(k, t);
  }
  const seen = new Set<string>();
  for (const a of aliases) {
    const k = `${a.model}/${a.alias}`;
    seen.add(k);
    const last = latest.get(k);
    const t = bySeq.get(asNumber(a.transition_seq));
    const where = `alias ${k} (pointing at ${a.version ?? 'nothing'})`;
    if (!t || t.model !== a.model || t.alias !== a.alias) problems.push(`${where}: its transition ${show(a.transition_seq)} is not a recorded move of ${k} (the aliases table was changed outside the registry)`);
    else if ((t.to_version ?? null) !== (a.version ?? null)) problems.push(`${where}: its transition ${show(a.transition_seq)} (audit record ${show(t.audit_seq)}) moved it to ${t.to_version ?? 'nothing'} (the aliases table was changed outside the registry)`);
    else if (last && last !== t) problems.push(`${where}: transition ${show(last.seq)} (audit record ${show(last.audit_seq)}) moved it later, to ${last.to_version ?? 'nothing'} (the aliases table was changed outside the registry)`);
  }
  for (const [k, t] of latest) {
    if (!seen.has(k) && t.to_version != null) problems.push(`alias ${k}: no aliases row, but transition ${show(t.seq)} (audit record ${show(t.audit_seq)}) points it at ${t.to_version} (the aliases table was changed outside the registry)`);
  }
}
