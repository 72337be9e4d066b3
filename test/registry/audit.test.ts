/**
 * The audit trail (src/registry/audit.ts) on both databases: a chain written the way the registry
 * writes it (appendAudit inside db.write(), then the row with its audit_seq), verified clean, then
 * tampered with the way someone holding the database would do it (the append-only triggers
 * dropped or disabled, then plain UPDATE / DELETE / INSERT), each kind found and named.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDITED_TABLES, GENESIS_HASH, appendAudit, auditHash, loadAuditSigner, verifyAudit, type AuditAction, type AuditSigner, type AuditedTable } from '../../src/registry/audit.js';
import type { RegistryDb, SqlRunner, SqlValue } from '../../src/registry/db.js';
import { generateSigningKey, privateKeyFromPem } from '../../src/pack/signing.js';
import { keyFingerprint } from '../../src/pack/trust.js';
import { canonicalJson } from '../../src/files/canonical-json.js';
import { tempDir } from '../helpers/fixtures.js';
import { forEachRegistryDb } from '../helpers/registry-dbs.js';

const T0 = 1_760_000_000_000;
const MODEL = 'world-detector';

type Row = Record<string, SqlValue>;

/** Inserts `row` into `table` with its audit record, as the registry does: record first, its seq on the row. */
async function add(tx: SqlRunner, signer: AuditSigner, table: AuditedTable, actor: string, row: Row, at: number): Promise<number> {
  const seq = await appendAudit(tx, signer, { actor, action: AUDITED_TABLES[table].action as AuditAction, subject: AUDITED_TABLES[table].subject(row), row, at });
  const full = { ...row, audit_seq: seq };
  const cols = Object.keys(full);
  await tx.run(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, Object.values(full));
  return seq;
}

/** Points an alias (not append-only, no record of its own) at the transition just written. */
async function point(tx: SqlRunner, alias: string, version: string | null, transitionSeq: number): Promise<void> {
  const had = await tx.get('SELECT 1 AS x FROM aliases WHERE model = ? AND alias = ?', [MODEL, alias]);
  if (had) await tx.run('UPDATE aliases SET version = ?, transition_seq = ? WHERE model = ? AND alias = ?', [version, transitionSeq, MODEL, alias]);
  else await tx.run('INSERT INTO aliases (model, alias, version, transition_seq) VALUES (?, ?, ?, ?)', [MODEL, alias, version, transitionSeq]);
}

const entry = (version: string, at: number): Row => ({ model: MODEL, version, created_at: at, created_by: 'alice@example.com', body: canonicalJson({ version, metrics: { map: 0.41 } }), digest: createHash('sha256').update(version).digest('hex'), corrects: null });
const transition = (seq: number, alias: string, from: string | null, to: string, action: string, at: number, promotionId: string | null = null): Row => ({
  seq,
  model: MODEL,
  alias,
  from_version: from,
  to_version: to,
  action,
  actor: 'alice@example.com',
  reason: `move ${alias}`,
  at,
  promotion_id: promotionId,
});

/**
 * Ten records, one per row, in five write transactions: model + 1.0.0 (1-2), 1.1.0 (3), staging and
 * candidate moved (4-5), an approval and a waiver (6-7), the promotion with its transition (8-9),
 * staging moved to 1.1.0 (10).
 */
async function populate(db: RegistryDb, signer: AuditSigner): Promise<void> {
  await db.write(async (tx) => {
    await add(tx, signer, 'models', 'alice@example.com', { name: MODEL, created_at: T0, created_by: 'alice@example.com' }, T0);
    await add(tx, signer, 'entries', 'alice@example.com', entry('1.0.0', T0), T0);
  });
  await db.write((tx) => add(tx, signer, 'entries', 'alice@example.com', entry('1.1.0', T0 + 1000), T0 + 1000));
  await db.write(async (tx) => {
    await add(tx, signer, 'transitions', 'alice@example.com', transition(1, 'staging', null, '1.0.0', 'assign', T0 + 2000), T0 + 2000);
    await point(tx, 'staging', '1.0.0', 1);
    await add(tx, signer, 'transitions', 'alice@example.com', transition(2, 'candidate', null, '1.0.0', 'assign', T0 + 3000), T0 + 3000);
    await point(tx, 'candidate', '1.0.0', 2);
  });
  await db.write(async (tx) => {
    await add(
      tx,
      signer,
      'approvals',
      'bob@example.com',
      { id: 'ap-1', model: MODEL, version: '1.0.0', stage: 'production', role: 'safety', identity: 'bob@example.com', decision: 'approved', reason: 'sim gates green', at: T0 + 4000, scheme: 'ecdsa', payload: '{}', signature: 'c2ln' },
      T0 + 4000,
    );
    await add(tx, signer, 'waivers', 'carol@example.com', { id: 'w-1', model: MODEL, finding: 'CVE-2024-1234', version: '1.0.0', justification: 'not reachable', approver: 'carol@example.com', expires_at: T0 + 86_400_000, at: T0 + 5000 }, T0 + 5000);
  });
  await db.write(async (tx) => {
    await add(tx, signer, 'promotions', 'alice@example.com', { id: 'p-1', model: MODEL, version: '1.0.0', alias: 'production', status: 'promoted', actor: 'alice@example.com', at: T0 + 6000, record: '{"canary":"promote"}' }, T0 + 6000);
    await add(tx, signer, 'transitions', 'alice@example.com', transition(3, 'production', null, '1.0.0', 'promote', T0 + 6000, 'p-1'), T0 + 6000);
    await point(tx, 'production', '1.0.0', 3);
  });
  await db.write(async (tx) => {
    await add(tx, signer, 'transitions', 'alice@example.com', transition(4, 'staging', '1.0.0', '1.1.0', 'assign', T0 + 7000), T0 + 7000);
    await point(tx, 'staging', '1.1.0', 4);
  });
}

/** Runs `sql` as an attacker with database access would: the table's append-only triggers out of the way first. */
async function tamper(db: RegistryDb, table: string, sql: string, params: SqlValue[] = []): Promise<void> {
  if (db.kind === 'sqlite') {
    await db.run(`DROP TRIGGER IF EXISTS ${table}_immutable_u`);
    await db.run(`DROP TRIGGER IF EXISTS ${table}_immutable_d`);
  } else {
    // USER, not ALL: ALL includes the foreign-key constraint triggers, which only a superuser may
    // disable (PostgreSQL, ALTER TABLE: "Disabling or enabling internally generated constraint
    // triggers requires superuser privileges"); the table's owner can do this much.
    await db.run(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
  }
  await db.run(sql, params);
}

const withKeyDir = () => tempDir('paddock-audit-key-');

describe('loadAuditSigner', () => {
  it('generates a P-256 key (0600, its directory made) with the public PEM beside it, and reads the same key back', () => {
    const t = withKeyDir();
    try {
      const file = join(t.dir, 'keys', 'nested', 'registry-audit.pem');
      const a = loadAuditSigner(file);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(`${file}.pub.pem`, 'utf8')).toBe(a.publicPem);
      expect(a.keyId).toBe(keyFingerprint(privateKeyFromPem(readFileSync(file, 'utf8'), file)));
      const b = loadAuditSigner(file);
      expect(b.keyId).toBe(a.keyId);
      // A signature checked by openssl, not by our own verify: DER ECDSA over the hash hex's bytes.
      const hash = createHash('sha256').update('x').digest('hex');
      writeFileSync(join(t.dir, 'msg'), hash);
      writeFileSync(join(t.dir, 'sig.der'), Buffer.from(a.sign(hash), 'base64'));
      const out = execFileSync('openssl', ['dgst', '-sha256', '-verify', `${file}.pub.pem`, '-signature', join(t.dir, 'sig.der'), join(t.dir, 'msg')], { encoding: 'utf8' });
      expect(out.trim()).toBe('Verified OK');
    } finally {
      t.cleanup();
    }
  });

  it('refuses a key file that is not a P-256 private key, naming it', () => {
    const t = withKeyDir();
    try {
      const file = join(t.dir, 'bad.pem');
      writeFileSync(file, 'not a key\n');
      expect(() => loadAuditSigner(file)).toThrow(/audit key .*bad\.pem: not a PEM private key/);
      expect(existsSync(`${file}.pub.pem`)).toBe(false);
    } finally {
      t.cleanup();
    }
  });
});

forEachRegistryDb((target) => {
  const keys = (s: AuditSigner) => [{ keyId: s.keyId, publicPem: s.publicPem }];
  async function setup() {
    const t = withKeyDir();
    const signer = loadAuditSigner(join(t.dir, 'audit.pem'));
    t.cleanup();
    const db = await target.open();
    await populate(db, signer);
    return { db, signer };
  }
  /** verifyAudit's problems, expected to hold a line matching each pattern. */
  async function problemsOf(db: RegistryDb, signer: AuditSigner): Promise<string[]> {
    const v = await verifyAudit(db, keys(signer));
    expect(v.ok).toBe(false);
    return v.problems;
  }
  const having = (problems: string[], ...patterns: RegExp[]) => {
    for (const p of patterns) expect(problems.some((l) => p.test(l)), `no problem matches ${p}:\n${problems.join('\n')}`).toBe(true);
  };

  it('writes the chain of the design (hash, genesis, signature) and verifies it clean', async () => {
    const { db, signer } = await setup();
    const v = await verifyAudit(db, keys(signer));
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ ok: true, records: 10 });
    const recs = await db.all<Record<string, unknown>>('SELECT * FROM audit ORDER BY seq');
    expect(recs.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(v.head).toEqual({ seq: 10, hash: recs[9].hash });
    expect(recs[0].prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < recs.length; i++) expect(recs[i].prev_hash).toBe(recs[i - 1].hash);
    // The first record's hash by the formula, written out by hand here (keys in sorted order), not through canonicalJson.
    const row = { created_at: T0, created_by: 'alice@example.com', name: MODEL };
    const content = JSON.stringify({ action: 'model.created', actor: 'alice@example.com', at: T0, body: JSON.stringify({ row }), seq: 1, subject: MODEL });
    expect(recs[0].body).toBe('{"row":{"created_at":1760000000000,"created_by":"alice@example.com","name":"world-detector"}}');
    expect(recs[0].hash).toBe(createHash('sha256').update(`${GENESIS_HASH}\n${content}`).digest('hex'));
    expect(recs.every((r) => r.key_id === signer.keyId)).toBe(true);
    // Each row's audit_seq names its record, of its table's action.
    const trans = await db.all<{ audit_seq: number }>('SELECT audit_seq FROM transitions ORDER BY seq');
    expect(trans.map((t) => Number(t.audit_seq))).toEqual([4, 5, 9, 10]);
    expect(recs[8]).toMatchObject({ action: 'alias.moved', subject: `${MODEL}/production` });
  });

  it('keeps the store append-only: the triggers refuse UPDATE and DELETE of a record', async () => {
    const { db } = await setup();
    await expect(db.run("UPDATE audit SET actor = 'mallory' WHERE seq = 3")).rejects.toThrow(/immutable/);
    await expect(db.run('DELETE FROM audit WHERE seq = 3')).rejects.toThrow(/immutable/);
  });

  it('rolls the record back with a write that fails', async () => {
    const { db, signer } = await setup();
    await expect(
      db.write(async (tx) => {
        await add(tx, signer, 'entries', 'alice@example.com', entry('2.0.0', T0 + 9000), T0 + 9000);
        throw new Error('refused after the record');
      }),
    ).rejects.toThrow(/refused after/);
    expect((await verifyAudit(db, keys(signer))).records).toBe(10);
  });

  it('refuses a subject that is not the row\'s', async () => {
    const { db, signer } = await setup();
    await expect(db.write((tx) => appendAudit(tx, signer, { actor: 'a', action: 'entry.registered', subject: `${MODEL}@9.9.9`, row: entry('2.0.0', T0), at: T0 }))).rejects.toThrow(/subject "world-detector@9.9.9" is not the row's subject "world-detector@2.0.0"/);
  });

  // Every column of one record changed: each shows at record 6, named with its action and subject.
  for (const [column, value] of [
    ['actor', "'mallory@example.com'"],
    ['at', String(T0 + 1)],
    ['action', "'waiver.recorded'"],
    ['subject', `'${MODEL}@6.6.6'`],
    ['body', `'{"row":{}}'`],
    ['prev_hash', `'${'1'.repeat(64)}'`],
    ['hash', `'${'2'.repeat(64)}'`],
    ['signature', "'bm90IGEgc2lnbmF0dXJl'"],
  ] as const) {
    it(`names a record whose ${column} was changed`, async () => {
      const { db, signer } = await setup();
      const before = await db.get<{ action: string; subject: string }>('SELECT action, subject FROM audit WHERE seq = 6');
      await tamper(db, 'audit', `UPDATE audit SET ${column} = ${value} WHERE seq = 6`);
      const problems = await problemsOf(db, signer);
      const after = await db.get<{ action: string; subject: string }>('SELECT action, subject FROM audit WHERE seq = 6');
      const name = `audit record 6 (${after!.action} ${after!.subject})`.replace(/[().@]/g, '\\$&');
      const expected: Record<string, RegExp> = {
        hash: /record 6 .*signature does not verify|record 7 .*prev_hash .* is not record 6's hash/,
        prev_hash: /record 6 .*prev_hash .* is not record 5's hash/,
        signature: /record 6 .*signature does not verify/,
      };
      having(problems, expected[column] ?? new RegExp(`^${name}: its hash does not match its content \\(the record was changed\\)`));
      expect(before!.subject).toBe(`${MODEL}@1.0.0`);
    });
  }

  it('names a record changed with its hash recomputed: the signature no longer verifies, the next link breaks', async () => {
    const { db, signer } = await setup();
    const r = (await db.get<Record<string, unknown>>('SELECT * FROM audit WHERE seq = 6'))!;
    const body = (r.body as string).replace('sim gates green', 'looked fine');
    const hash = auditHash(r.prev_hash as string, { seq: 6, at: Number(r.at), actor: r.actor as string, action: r.action as string, subject: r.subject as string, body });
    await tamper(db, 'audit', 'UPDATE audit SET body = ?, hash = ? WHERE seq = 6', [body, hash]);
    const problems = await problemsOf(db, signer);
    having(
      problems,
      /^audit record 6 \(approval\.recorded world-detector@1\.0\.0\): the signature does not verify/,
      /^audit record 7 \(waiver\.recorded world-detector:CVE-2024-1234\): prev_hash .* is not record 6's hash/,
      /^audit record 6 \(approval\.recorded world-detector@1\.0\.0\): the approvals row id=ap-1 .* differs from the record .*reason: recorded "looked fine", table "sim gates green"/,
    );
  });

  it('names a record deleted from the middle: the gap, and the row left without its record', async () => {
    const { db, signer } = await setup();
    await tamper(db, 'audit', 'DELETE FROM audit WHERE seq = 5');
    const problems = await problemsOf(db, signer);
    having(
      problems,
      /^audit record 6 \(approval\.recorded world-detector@1\.0\.0\): follows record 4: record 5 is missing \(deleted from the chain\)$/,
      /^transitions row seq=2 \(world-detector\/candidate\): its audit record 5 is missing \(deleted from the chain\)$/,
    );
    expect(problems.some((p) => /prev_hash/.test(p)), 'a gap is said once, not again as a broken link').toBe(false);
  });

  it('names the first records deleted', async () => {
    const { db, signer } = await setup();
    await tamper(db, 'audit', 'DELETE FROM audit WHERE seq <= 2');
    having(await problemsOf(db, signer), /^audit record 3 \(entry\.registered world-detector@1\.1\.0\): is the first record: records 1\.\.2 are missing/);
  });

  it('names reordered records: two records swapped whole (renumbered)', async () => {
    const { db, signer } = await setup();
    await tamper(db, 'audit', 'UPDATE audit SET seq = 1000 WHERE seq = 3');
    await db.run('UPDATE audit SET seq = 3 WHERE seq = 7');
    await db.run('UPDATE audit SET seq = 7 WHERE seq = 1000');
    const problems = await problemsOf(db, signer);
    having(
      problems,
      /^audit record 3 \(waiver\.recorded world-detector:CVE-2024-1234\): holds the content written as record 7 \(records reordered\)$/,
      /^audit record 7 \(entry\.registered world-detector@1\.1\.0\): holds the content written as record 3 \(records reordered\)$/,
    );
  });

  it('names reordered records: two records\' contents swapped in place', async () => {
    const { db, signer } = await setup();
    const cols = ['at', 'actor', 'action', 'subject', 'body'];
    const a = (await db.get<Record<string, SqlValue>>(`SELECT ${cols.join(', ')} FROM audit WHERE seq = 4`))!;
    const b = (await db.get<Record<string, SqlValue>>(`SELECT ${cols.join(', ')} FROM audit WHERE seq = 8`))!;
    const set = `UPDATE audit SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE seq = ?`;
    await tamper(db, 'audit', set, [...cols.map((c) => b[c]), 4]);
    await db.run(set, [...cols.map((c) => a[c]), 8]);
    const problems = await problemsOf(db, signer);
    having(
      problems,
      /^audit record 4 \(promotion\.recorded world-detector@1\.0\.0\): holds the content written as record 8 \(records reordered\)$/,
      /^audit record 8 \(alias\.moved world-detector\/staging\): holds the content written as record 4 \(records reordered\)$/,
    );
  });

  it('names a forged signature and a record signed by a key that is not trusted', async () => {
    const { db, signer } = await setup();
    const other = generateSigningKey();
    const mallory = privateKeyFromPem(other.privatePem, 'mallory');
    const { sign } = await import('node:crypto');
    const r = (await db.get<Record<string, string>>('SELECT hash FROM audit WHERE seq = 2'))!;
    const forged = sign('sha256', Buffer.from(r.hash, 'utf8'), mallory).toString('base64');
    // Forged under the registry's key id; then another record signed by Mallory under Mallory's own id.
    await tamper(db, 'audit', 'UPDATE audit SET signature = ? WHERE seq = 2', [forged]);
    const r9 = (await db.get<Record<string, string>>('SELECT hash FROM audit WHERE seq = 9'))!;
    await db.run('UPDATE audit SET signature = ?, key_id = ? WHERE seq = 9', [sign('sha256', Buffer.from(r9.hash, 'utf8'), mallory).toString('base64'), keyFingerprint(mallory)]);
    const problems = await problemsOf(db, signer);
    having(
      problems,
      new RegExp(`^audit record 2 \\(entry\\.registered world-detector@1\\.0\\.0\\): the signature does not verify with key ${signer.keyId.replace(/[+/]/g, '\\$&')}`),
      new RegExp(`^audit record 9 \\(alias\\.moved world-detector/production\\): signed by key ${keyFingerprint(mallory).replace(/[+/]/g, '\\$&')}, which is not a trusted audit key$`),
    );
    expect(problems).toHaveLength(2);
    // Mallory's key trusted (given in keys) makes her record verify, and only the forged one remains.
    const v = await verifyAudit(db, [...keys(signer), { keyId: 'mallory', publicPem: other.publicPem }]);
    expect(v.problems).toHaveLength(1);
  });

  it('names a table row changed outside the registry, column by column', async () => {
    const { db, signer } = await setup();
    await tamper(db, 'entries', "UPDATE entries SET digest = 'ffff', created_by = 'mallory@example.com' WHERE version = '1.1.0'");
    await tamper(db, 'waivers', 'UPDATE waivers SET expires_at = ? WHERE id = ?', [T0 + 10 * 86_400_000, 'w-1']);
    const problems = await problemsOf(db, signer);
    having(
      problems,
      /^audit record 3 \(entry\.registered world-detector@1\.1\.0\): the entries row model=world-detector version=1\.1\.0 \(world-detector@1\.1\.0\) differs from the record \(changed outside the registry\): created_by: recorded "alice@example\.com", table "mallory@example\.com"; digest: recorded "[0-9a-f]+\.\.\., table "ffff"$/,
      /^audit record 7 \(waiver\.recorded world-detector:CVE-2024-1234\): the waivers row id=w-1 .* expires_at: recorded 1760086400000, table 1760864000000$/,
    );
    expect(problems).toHaveLength(2);
  });

  it('names a table row deleted outside the registry', async () => {
    const { db, signer } = await setup();
    await tamper(db, 'approvals', "DELETE FROM approvals WHERE id = 'ap-1'");
    const problems = await problemsOf(db, signer);
    expect(problems).toEqual(['audit record 6 (approval.recorded world-detector@1.0.0): its approvals row is gone (deleted outside the registry)']);
  });

  it('names rows added without a record: a taken seq, another action\'s seq, a seq past the end, none', async () => {
    const { db, signer } = await setup();
    const ins = 'INSERT INTO approvals (id, model, version, stage, role, identity, decision, reason, at, scheme, payload, signature, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    const ap = (id: string, seq: number) => [id, MODEL, '1.1.0', 'production', 'security', 'mallory@example.com', 'approved', 'lgtm', T0, 'policy', '{}', 'x', seq];
    await db.run(ins, ap('ap-dup', 6));
    await db.run(ins, ap('ap-wrong', 2));
    await db.run(ins, ap('ap-past', 99));
    await db.run(ins, ap('ap-none', 0));
    const problems = await problemsOf(db, signer);
    having(
      problems,
      /^approvals row id=ap-dup \(world-detector@1\.1\.0\): claims audit record 6 \(approval\.recorded world-detector@1\.0\.0\), which already records approvals row id=ap-1/,
      /^approvals row id=ap-wrong \(world-detector@1\.1\.0\): its audit record 2 \(entry\.registered world-detector@1\.0\.0\) is a entry\.registered record, not approval\.recorded/,
      /^approvals row id=ap-past \(world-detector@1\.1\.0\): its audit record 99 is past the chain's end \(record 10\)/,
      /^approvals row id=ap-none \(world-detector@1\.1\.0\): audit_seq 0 names no audit record/,
    );
    expect(problems).toHaveLength(4);
  });

  it('names a cut tail: rows past the chain\'s end; records and rows cut together, against the head kept before', async () => {
    const { db, signer } = await setup();
    const before = await verifyAudit(db, keys(signer));
    await tamper(db, 'audit', 'DELETE FROM audit WHERE seq >= 9');
    having(await problemsOf(db, signer), /^transitions row seq=3 \(world-detector\/production\): its audit record 9 is past the chain's end \(record 8\): the chain's tail was cut/, /^transitions row seq=4 .*record 10 is past/);
    // The rows cut too (and the aliases put back as they were): only the head kept before shows it.
    await tamper(db, 'transitions', 'DELETE FROM transitions WHERE seq >= 3');
    await db.run("DELETE FROM aliases WHERE alias = 'production'");
    await db.run("UPDATE aliases SET version = '1.0.0', transition_seq = 1 WHERE alias = 'staging'");
    const cut = await verifyAudit(db, keys(signer));
    expect(cut.problems).toEqual([]);
    const v = await verifyAudit(db, keys(signer), { expect: before.head });
    expect(v.problems).toEqual(['the chain ends at record 8, before the expected head 10 (its tail was cut)']);
  });

  it('names an alias moved outside the registry (the aliases table is not append-only)', async () => {
    const { db, signer } = await setup();
    await db.run("UPDATE aliases SET version = '1.1.0' WHERE alias = 'production'");
    await db.run("UPDATE aliases SET transition_seq = 1 WHERE alias = 'candidate'");
    const problems = await problemsOf(db, signer);
    having(
      problems,
      /^alias world-detector\/production \(pointing at 1\.1\.0\): its transition 3 \(audit record 9\) moved it to 1\.0\.0/,
      /^alias world-detector\/candidate \(pointing at 1\.0\.0\): its transition 1 is not a recorded move of world-detector\/candidate/,
    );
  });

  it('verifies a few thousand records in well under a second or two', async () => {
    const { db, signer } = await setup();
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i += 100) {
      await db.write(async (tx) => {
        for (let j = i; j < i + 100; j++) await add(tx, signer, 'entries', 'alice@example.com', entry(`3.0.${j}`, T0 + 10_000 + j), T0 + 10_000 + j);
      });
    }
    const wrote = performance.now() - t0;
    const t1 = performance.now();
    const v = await verifyAudit(db, keys(signer));
    const verified = performance.now() - t1;
    expect(v).toMatchObject({ ok: true, records: n + 10 });
    console.log(`${target.kind}: ${n} records appended in ${wrote.toFixed(0)} ms, ${n + 10} verified in ${verified.toFixed(0)} ms`);
    expect(verified).toBeLessThan(5000);
  });
});
