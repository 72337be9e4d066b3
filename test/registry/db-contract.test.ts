/**
 * The registry database contract (src/registry/db.ts), run against both adapters: a SQLite file
 * and a real PostgreSQL 15 (test/helpers/postgres-service.ts). Migrations, the append-only
 * triggers, write() transactions, and writers in several real processes that must serialize.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFUSED, RegistryDbError, type RegistryDb, type SqlRunner } from '../../src/registry/db.js';
import { numberPlaceholders, openPostgresRegistry } from '../../src/registry/postgres-db.js';
import { APPEND_ONLY, REGISTRY_MIGRATIONS } from '../../src/registry/schema.js';
import { freePort } from '../helpers/docker-services.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';
import { createTestDatabase, dropTestDatabase, postgresService } from '../helpers/postgres-service.js';
import { bundleWorker, forEachRegistryDb } from '../helpers/registry-dbs.js';

const KNOWN = Math.max(...REGISTRY_MIGRATIONS.map((m) => m.version));

/** One valid row per table (the foreign keys point at model `m`), and the column an UPDATE tries to change. */
const ROWS: Record<(typeof APPEND_ONLY)[number] | 'aliases', { row: Record<string, string | number | null>; change: string }> = {
  models: { row: { name: 'm', created_at: 1, created_by: 'a', audit_seq: 1 }, change: 'created_by' },
  entries: { row: { model: 'm', version: '1.0.0', created_at: 1, created_by: 'a', body: '{}', digest: 'd', corrects: null, audit_seq: 2 }, change: 'body' },
  transitions: { row: { seq: 1, model: 'm', alias: 'staging', from_version: null, to_version: '1.0.0', action: 'assign', actor: 'a', reason: 'r', at: 1, promotion_id: null, audit_seq: 3 }, change: 'reason' },
  approvals: { row: { id: 'ap1', model: 'm', version: '1.0.0', stage: 'production', role: 'technical', identity: 'a', decision: 'approved', reason: 'r', at: 1, scheme: 'policy', payload: '{}', signature: 's', audit_seq: 4 }, change: 'reason' },
  waivers: { row: { id: 'w1', model: 'm', finding: 'CVE-1', version: null, justification: 'j', approver: 'a', expires_at: 2, at: 1, audit_seq: 5 }, change: 'justification' },
  promotions: { row: { id: 'p1', model: 'm', version: '1.0.0', alias: 'production', status: 'promoted', actor: 'a', at: 1, record: '{}', audit_seq: 6 }, change: 'record' },
  audit: { row: { seq: 1, at: 1, actor: 'a', action: 'model.created', subject: 'm', body: '{}', prev_hash: '0'.repeat(64), hash: 'h', key_id: 'k', signature: 's' }, change: 'signature' },
  aliases: { row: { model: 'm', alias: 'staging', version: '1.0.0', transition_seq: 1 }, change: 'version' },
};

async function insert(db: SqlRunner, table: keyof typeof ROWS): Promise<void> {
  const { row } = ROWS[table];
  const cols = Object.keys(row);
  await db.run(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, Object.values(row));
}

async function count(db: SqlRunner, table: string): Promise<number> {
  return (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;
}

/** What a refused change must throw: the adapter's error, carrying the trigger's "immutable" message. */
async function expectRefused(p: Promise<unknown>): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(RegistryDbError);
  expect((err as Error).message).toMatch(REFUSED);
}

/**
 * The child process the multi-process tests run, bundled by bundleWorker. `migrate`: opens the
 * registry with the adapter alone and migrates; `count`: n read-modify-write increments of one
 * counter, each in its own write(), with a pause between the read and the write so that an
 * unserialized writer would lose updates. Both wait for a common start time, so that the
 * processes really overlap.
 */
const WORKER = `
import { openRegistryDb } from ${JSON.stringify(join(ROOT, 'src/registry/db.js'))};
import { openSqliteRegistry } from ${JSON.stringify(join(ROOT, 'src/registry/sqlite-db.js'))};
import { openPostgresRegistry } from ${JSON.stringify(join(ROOT, 'src/registry/postgres-db.js'))};

const [mode, spec, startAt, n] = process.argv.slice(2);
const isPg = /^postgres(ql)?:\\/\\//.test(spec);
const db = mode === 'migrate' ? (isPg ? await openPostgresRegistry(spec) : openSqliteRegistry(spec)) : await openRegistryDb(spec);
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
const out: Record<string, number> = {};
if (mode === 'migrate') out.applied = await db.migrate();
else {
  for (let i = 0; i < Number(n); i++) {
    await db.write(async (tx) => {
      const row = await tx.get<{ transition_seq: number }>("SELECT transition_seq FROM aliases WHERE model = 'counter' AND alias = 'staging'");
      await new Promise((r) => setTimeout(r, 2));
      await tx.run("UPDATE aliases SET transition_seq = ? WHERE model = 'counter' AND alias = 'staging'", [row!.transition_seq + 1]);
    });
  }
  out.done = Number(n);
}
await db.close();
process.stdout.write(JSON.stringify(out));
`;

let worker: string;
const workerDir = tempDir('paddock-db-contract-');

beforeAll(async () => {
  const entry = join(workerDir.dir, 'db-contract-worker.ts');
  writeFileSync(entry, WORKER);
  worker = await bundleWorker(entry);
});
afterAll(() => workerDir.cleanup());

/** Runs the worker `copies` times at once; resolves with each one's JSON output, rejects on a failed one. */
async function runWorkers(copies: number, args: (string | number)[]): Promise<Record<string, number>[]> {
  return Promise.all(
    Array.from({ length: copies }, () =>
      new Promise<Record<string, number>>((resolve, reject) => {
        const child = spawn(process.execPath, [worker, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.stderr.on('data', (d: Buffer) => (err += d));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, number>) : reject(new Error(`worker exited ${code}: ${err}`))));
      }),
    ),
  );
}

describe('numberPlaceholders', () => {
  it.each([
    ['SELECT * FROM t WHERE a = ? AND b = ?', 'SELECT * FROM t WHERE a = $1 AND b = $2'],
    ["SELECT '?', 'it''s ?', ? FROM t", "SELECT '?', 'it''s ?', $1 FROM t"],
    ["SELECT E'\\' ?', ?", "SELECT E'\\' ?', $1"],
    ['SELECT "a?""b", ? FROM t', 'SELECT "a?""b", $1 FROM t'],
    ['SELECT ? -- what?\n, ?', 'SELECT $1 -- what?\n, $2'],
    ['SELECT /* ? */ ?', 'SELECT /* ? */ $1'],
    ['DO $$ BEGIN PERFORM ?; END $$; SELECT ?', 'DO $$ BEGIN PERFORM ?; END $$; SELECT $1'],
    ['SELECT $tag$ ? $tag$, ?', 'SELECT $tag$ ? $tag$, $1'],
    ['SELECT ?', 'SELECT $1'],
    ['INSERT INTO t (a) VALUES (?)', 'INSERT INTO t (a) VALUES ($1)'],
  ])('%s', (sql, want) => {
    expect(numberPlaceholders(sql)).toBe(want);
  });
});

forEachRegistryDb((target) => {
  it('applies the migrations once; applying again is a no-op', async () => {
    const spec = await target.fresh();
    const db = await target.openUnmigrated(spec);
    expect(await db.migrate()).toBe(REGISTRY_MIGRATIONS.length);
    expect(await db.migrate()).toBe(0);
    const again = await target.open(spec);
    expect(await again.migrate()).toBe(0);
    expect((await db.all<{ version: number }>('SELECT version FROM registry_migrations ORDER BY version')).map((r) => r.version)).toEqual(REGISTRY_MIGRATIONS.map((m) => m.version));
    for (const t of [...APPEND_ONLY, 'aliases']) expect(await count(db, t)).toBe(0);
  });

  it('refuses a registry whose schema is newer than this paddock knows', async () => {
    const db = await target.open();
    await db.run('INSERT INTO registry_migrations (version, applied_at) VALUES (?, ?)', [KNOWN + 1, Date.now()]);
    await expect(db.migrate()).rejects.toThrow(new RegExp(`schema version ${KNOWN + 1}, newer than this paddock knows \\(${KNOWN}\\)`));
  });

  it('lets several processes migrate one new registry at once: all succeed, the migrations apply once', async () => {
    const spec = await target.fresh();
    const results = await runWorkers(4, ['migrate', spec, Date.now() + 1500]);
    expect(results.map((r) => r.applied).reduce((a, b) => a + b, 0)).toBe(REGISTRY_MIGRATIONS.length);
    const db = await target.open(spec);
    expect(await count(db, 'registry_migrations')).toBe(REGISTRY_MIGRATIONS.length);
  });

  it.each(APPEND_ONLY)('%s rows cannot be updated or deleted', async (table) => {
    const db = await target.open();
    if (table !== 'models') await insert(db, 'models');
    await insert(db, table);
    const { change } = ROWS[table];
    await expectRefused(db.run(`UPDATE ${table} SET ${change} = ?`, ['changed']));
    await expectRefused(db.run(`DELETE FROM ${table}`));
    // Inside a write transaction too: the refusal is the store's, not the connection's.
    await expectRefused(db.write((tx) => tx.run(`DELETE FROM ${table}`)));
    if (target.kind === 'postgres') await expectRefused(db.run(`TRUNCATE ${table} CASCADE`));
    expect(await count(db, table)).toBe(1);
    expect((await db.get<Record<string, unknown>>(`SELECT ${change} AS v FROM ${table}`))!.v).toBe(ROWS[table].row[change]);
  });

  it('lets aliases move (the one mutable table)', async () => {
    const db = await target.open();
    await insert(db, 'models');
    await insert(db, 'aliases');
    expect(await db.run("UPDATE aliases SET version = ?, transition_seq = ? WHERE model = 'm' AND alias = 'staging'", ['1.1.0', 2])).toEqual({ changes: 1 });
    expect(await db.get('SELECT version, transition_seq FROM aliases')).toEqual({ version: '1.1.0', transition_seq: 2 });
  });

  it('returns BIGINT columns and counts as numbers', async () => {
    const db = await target.open();
    const at = 1_790_000_000_123;
    await db.run('INSERT INTO models (name, created_at, created_by, audit_seq) VALUES (?, ?, ?, ?)', ['m', at, 'a', 9_007_199_254_740_991]);
    const row = await db.get<{ created_at: unknown; audit_seq: unknown }>('SELECT created_at, audit_seq FROM models');
    expect(row).toEqual({ created_at: at, audit_seq: 9_007_199_254_740_991 });
    expect(await db.get('SELECT COUNT(*) AS n, MAX(created_at) AS newest FROM models')).toEqual({ n: 1, newest: at });
    expect(await db.get("SELECT name FROM models WHERE name = ?", ['nobody'])).toBeUndefined();
    expect(await db.all("SELECT name FROM models WHERE name = ?", ['nobody'])).toEqual([]);
  });

  it('write() commits and returns the value; a throw rolls everything back and is rethrown as it is', async () => {
    const db = await target.open();
    expect(await db.write(async (tx) => (await insert(tx, 'models'), 'done'))).toBe('done');
    const boom = new Error('boom');
    await expect(
      db.write(async (tx) => {
        await insert(tx, 'entries');
        expect(await count(tx, 'entries')).toBe(1);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await count(db, 'entries')).toBe(0);
    // A failing statement rolls back the statements before it, and the lock is released.
    await expect(
      db.write(async (tx) => {
        await insert(tx, 'entries');
        await tx.run('INSERT INTO nowhere VALUES (1)');
      }),
    ).rejects.toThrow(RegistryDbError);
    expect(await count(db, 'entries')).toBe(0);
    await db.write((tx) => insert(tx, 'entries'));
    expect(await count(db, 'entries')).toBe(1);
  });

  it('serializes write()s in one process: no lost update', async () => {
    const db = await target.open();
    // Two handles on one registry in one process only on PostgreSQL: better-sqlite3's busy wait
    // is synchronous, so a second SQLite handle waiting for the lock blocks the event loop that
    // the first one's transaction needs to finish (it fails after the 30 s busy timeout).
    // Separate processes are the multi-writer case for SQLite (the next test).
    const other = target.kind === 'postgres' ? await target.open(target.spec) : db;
    await insert(db, 'models');
    await db.run("INSERT INTO aliases (model, alias, version, transition_seq) VALUES ('m', 'staging', NULL, 0)");
    const bump = (d: RegistryDb) =>
      d.write(async (tx) => {
        const { transition_seq: n } = (await tx.get<{ transition_seq: number }>('SELECT transition_seq FROM aliases'))!;
        await new Promise((r) => setTimeout(r, 1));
        await tx.run('UPDATE aliases SET transition_seq = ?', [n + 1]);
      });
    await Promise.all(Array.from({ length: 30 }, (_, i) => bump(i % 2 ? db : other)));
    expect((await db.get('SELECT transition_seq FROM aliases'))!.transition_seq).toBe(30);
  });

  it('serializes write()s from several processes: the counter ends at the total', async () => {
    const db = await target.open();
    await db.run("INSERT INTO models (name, created_at, created_by, audit_seq) VALUES ('counter', 1, 'test', 1)");
    await db.run("INSERT INTO aliases (model, alias, version, transition_seq) VALUES ('counter', 'staging', NULL, 0)");
    const processes = 6;
    const each = 25;
    const results = await runWorkers(processes, ['count', target.spec, Date.now() + 1500, each]);
    expect(results.map((r) => r.done)).toEqual(Array(processes).fill(each));
    expect((await db.get("SELECT transition_seq FROM aliases WHERE model = 'counter'"))!.transition_seq).toBe(processes * each);
  });
});

describe('postgres adapter: connection failures name the URL, never the password', () => {
  it('connection refused', async () => {
    const port = await freePort();
    const url = `postgres://paddock:s3cret@127.0.0.1:${port}/registry`;
    const err = (await openPostgresRegistry(url).catch((e: unknown) => e)) as RegistryDbError;
    expect(err).toBeInstanceOf(RegistryDbError);
    expect(err.message).toBe(`registry postgres://paddock:***@127.0.0.1:${port}/registry: cannot connect: connection refused (is PostgreSQL running and listening there?)`);
    expect(err.where).toBe(`postgres://paddock:***@127.0.0.1:${port}/registry`);
  });

  it('a wrong password, and a database that does not exist', async () => {
    const url = await createTestDatabase(`auth_${process.pid}`);
    try {
      const s = postgresService();
      const bad = url.replace(`:${s.password}@`, ':wrong-s3cret@');
      const err = (await openPostgresRegistry(bad).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(RegistryDbError);
      expect(err.message).toMatch(/^registry postgres:\/\/paddock:\*\*\*@127\.0\.0\.1:\d+\/auth_\d+: authentication failed \(password authentication failed for user "paddock"\)/);
      expect(err.message).not.toContain('s3cret');
      const missing = url.replace(/\/[^/]+$/, '/no_such_registry');
      await expect(openPostgresRegistry(missing)).rejects.toThrow(/no_such_registry.*database "no_such_registry" does not exist: create it first/);
      const ok = await openPostgresRegistry(`${url}?application_name=paddock-test`);
      expect(ok.where).toMatch(/^postgres:\/\/paddock:\*\*\*@/);
      await ok.close();
    } finally {
      await dropTestDatabase(`auth_${process.pid}`);
    }
  });
});
