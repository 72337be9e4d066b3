/**
 * `paddock audit query` (src/registry/audit-query.ts) on real sources: a registry on either
 * database with rows written as the registry writes them (appendAudit, then the row), a run store
 * made by RunStore in a temporary home, and slice_metrics.parquet files written by the evaluate
 * step's own writer (src/evaluate/reports.ts, hyparquet-writer), joined in one DuckDB query.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { CANNED_QUERIES, AuditQueryError, auditQuery, cannedQuery } from '../../src/registry/audit-query.js';
import { AUDITED_TABLES, appendAudit, loadAuditSigner, type AuditAction, type AuditSigner, type AuditedTable } from '../../src/registry/audit.js';
import type { RegistryDb, SqlRunner, SqlValue } from '../../src/registry/db.js';
import { RunStore } from '../../src/store/run-store.js';
import { sliceMetricsParquet } from '../../src/evaluate/reports.js';
import type { SliceMetric } from '../../src/evaluate/slices.js';
import { isInputError } from '../../src/files/input-error.js';
import { canonicalJson } from '../../src/files/canonical-json.js';
import { tempDir } from '../helpers/fixtures.js';
import { forEachRegistryDb } from '../helpers/registry-dbs.js';

const T0 = 1_760_000_000_000; // 2025-10-09T08:53:20Z
const MODEL = 'world-detector';
const RUNS = { '1.0.0': 'r-20251009-085320-aaaaaa', '1.1.0': 'r-20251010-085320-bbbbbb' } as const;

type Row = Record<string, SqlValue>;

async function add(tx: SqlRunner, signer: AuditSigner, table: AuditedTable, row: Row, at: number): Promise<void> {
  const seq = await appendAudit(tx, signer, { actor: 'alice@example.com', action: AUDITED_TABLES[table].action as AuditAction, subject: AUDITED_TABLES[table].subject(row), row, at });
  const full = { ...row, audit_seq: seq };
  await tx.run(`INSERT INTO ${table} (${Object.keys(full).join(', ')}) VALUES (${Object.keys(full).map(() => '?').join(', ')})`, Object.values(full));
}

const approval = (id: string, version: string, role: string, identity: string, decision: string, at: number): Row => ({
  id,
  model: MODEL,
  version,
  stage: 'production',
  role,
  identity,
  decision,
  reason: `${role} review`,
  at,
  scheme: 'ssh',
  payload: '{}',
  signature: 'c2ln',
});

/** Two versions, three approvals, two waivers (one for 1.0.0, one for every version), production at 1.0.0. */
async function seedRegistry(db: RegistryDb, signer: AuditSigner): Promise<void> {
  await db.write(async (tx) => {
    await add(tx, signer, 'models', { name: MODEL, created_at: T0, created_by: 'alice@example.com' }, T0);
    for (const [i, version] of (['1.0.0', '1.1.0'] as const).entries()) {
      const body = canonicalJson({ runs: { evaluate: RUNS[version] }, metrics: { map: 0.4 + i / 100 } });
      await add(tx, signer, 'entries', { model: MODEL, version, created_at: T0 + i * 86_400_000, created_by: 'alice@example.com', body, digest: 'd'.repeat(64), corrects: null }, T0 + i * 86_400_000);
    }
    await add(tx, signer, 'approvals', approval('ap-1', '1.0.0', 'technical', 'alice@example.com', 'approved', T0 + 1000), T0 + 1000);
    await add(tx, signer, 'approvals', approval('ap-2', '1.0.0', 'safety', 'bob@example.com', 'approved', T0 + 2000), T0 + 2000);
    await add(tx, signer, 'approvals', approval('ap-3', '1.1.0', 'safety', 'bob@example.com', 'rejected', T0 + 86_400_000 + 3000), T0 + 86_400_000 + 3000);
    await add(tx, signer, 'waivers', { id: 'w-1', model: MODEL, finding: 'CVE-2024-1234', version: '1.0.0', justification: 'not reachable', approver: 'carol@example.com', expires_at: T0 + 30 * 86_400_000, at: T0 }, T0);
    await add(tx, signer, 'waivers', { id: 'w-2', model: MODEL, finding: 'GPL-2.0-only:libfoo', version: null, justification: 'linked dynamically', approver: 'carol@example.com', expires_at: 4_102_444_800_000, at: T0 }, T0);
    const t = { seq: 1, model: MODEL, alias: 'production', from_version: null, to_version: '1.0.0', action: 'promote', actor: 'alice@example.com', reason: 'go', at: T0 + 5000, promotion_id: null };
    await add(tx, signer, 'transitions', t, T0 + 5000);
    await tx.run('INSERT INTO aliases (model, alias, version, transition_seq) VALUES (?, ?, ?, ?)', [MODEL, 'production', '1.0.0', 1]);
  });
}

const slice = (name: string, ap: number): SliceMetric => ({ slice: name, critical: name === 'night', denominators: { scenes: 3, scenes_with_objects: 3, effective_scenes: 3, frames: 30, objects: 120 }, seed: 1, ap: { estimate: ap, lo: ap - 0.03, hi: ap + 0.03, level: 0.95, method: 'bca', replicates: 1000, drawn: 1000, se: 0.015 } });

/** A store with one evaluate run per version (metric events, the Parquet artifact), and the Parquet files under reports/<run>/. */
async function seedStoreAndReports(home: string, reports: string): Promise<string> {
  const store = new RunStore(home);
  try {
    for (const [i, [version, id]] of Object.entries(RUNS).entries()) {
      store.createRun({ id, name: 'evaluate', recipePath: '/x/paddock.yaml', recipeText: 'version: 1', recipeSha256: 'a'.repeat(64), lineage: {}, host: 'h', actor: 'alice@example.com' });
      store.planSteps(id, [{ id: 'evaluate/slices', stage: 'evaluate', kind: 'step' }]);
      const slices = [slice('day', 0.5 + i / 100), slice('night', 0.41 + i / 100)];
      const bytes = await sliceMetricsParquet(slices, `${MODEL}@${version}`, null);
      mkdirSync(join(reports, id), { recursive: true });
      const file = join(reports, id, 'slice_metrics.parquet');
      writeFileSync(file, bytes);
      store.appendEvents(id, [
        ...slices.map((s) => ({ event: { v: 1 as const, type: 'metric' as const, step: 'evaluate/slices', ts: T0, name: 'map', value: s.ap!.estimate, slice: s.slice }, attempt: 1 })),
        { event: { v: 1 as const, type: 'artifact' as const, step: 'evaluate/slices', ts: T0, path: file, sha256: 'e'.repeat(64), bytes: bytes.length, role: 'slice-metrics' }, attempt: 1 },
      ]);
      store.finishRun(id, 'succeeded', 0);
    }
    return store.file;
  } finally {
    store.close();
  }
}

let dirs: ReturnType<typeof tempDir>[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

forEachRegistryDb((target) => {
  async function setup() {
    const t = tempDir('paddock-audit-query-');
    dirs.push(t);
    const signer = loadAuditSigner(join(t.dir, 'audit.pem'));
    const registry = await target.open();
    await seedRegistry(registry, signer);
    const storeFile = await seedStoreAndReports(join(t.dir, 'home'), join(t.dir, 'reports'));
    return { registry, storeFile, parquetDirs: [join(t.dir, 'reports')], dir: t.dir };
  }

  it('joins the registry, the run store and the Parquet reports in one query', async () => {
    const src = await setup();
    const r = await auditQuery({
      ...src,
      sql: `SELECT e.version, r.status, m.value AS store_map, p.ap AS parquet_ap, p.model AS parquet_model, al.alias
            FROM entries e
            JOIN store.runs r ON r.id = json_extract_string(e.body, '$.runs.evaluate')
            JOIN store.metrics m ON m.run_id = r.id AND m.slice = 'night'
            JOIN store.artifacts a ON a.run_id = r.id AND a.role = 'slice-metrics'
            JOIN reports.slice_metrics p ON p.filename = a.path AND p.slice = 'night'
            LEFT JOIN aliases al ON al.model = e.model AND al.version = e.version
            ORDER BY e.version`,
    });
    expect(r.columns).toEqual(['version', 'status', 'store_map', 'parquet_ap', 'parquet_model', 'alias']);
    expect(r.rows).toEqual([
      ['1.0.0', 'succeeded', 0.41, 0.41, `${MODEL}@1.0.0`, 'production'],
      ['1.1.0', 'succeeded', 0.42, 0.42, `${MODEL}@1.1.0`, null],
    ]);
  });

  it('answers "who approved what"', async () => {
    const src = await setup();
    const r = await auditQuery({ ...src, sql: 'who approved what' });
    expect(r.columns).toEqual(['model', 'version', 'stage', 'role', 'identity', 'decision', 'reason', 'scheme', 'at', 'audit_seq']);
    expect(r.rows.map((x) => x.slice(1, 9))).toEqual([
      ['1.0.0', 'production', 'technical', 'alice@example.com', 'approved', 'technical review', 'ssh', '2025-10-09T08:53:21Z'],
      ['1.0.0', 'production', 'safety', 'bob@example.com', 'approved', 'safety review', 'ssh', '2025-10-09T08:53:22Z'],
      ['1.1.0', 'production', 'safety', 'bob@example.com', 'rejected', 'safety review', 'ssh', '2025-10-10T08:53:23Z'],
    ]);
    // audit_seq is a BIGINT in DuckDB, returned as a JS number (4: after the model and two entries).
    expect(r.rows[0][9]).toBe(4);
  });

  it('answers "versions with a waived finding": a waiver for one version, and one for every version', async () => {
    const src = await setup();
    const r = await auditQuery({ ...src, sql: 'versions-with-a-waived-finding' });
    expect(r.columns).toEqual(['model', 'version', 'finding', 'justification', 'approver', 'expires', 'expired', 'aliases']);
    expect(r.rows).toEqual([
      [MODEL, '1.0.0', 'CVE-2024-1234', 'not reachable', 'carol@example.com', '2025-11-08T08:53:20Z', true, 'production'],
      [MODEL, '1.0.0', 'GPL-2.0-only:libfoo', 'linked dynamically', 'carol@example.com', '2100-01-01T00:00:00Z', false, 'production'],
      [MODEL, '1.1.0', 'GPL-2.0-only:libfoo', 'linked dynamically', 'carol@example.com', '2100-01-01T00:00:00Z', false, null],
    ]);
    expect(cannedQuery('Versions with a waived finding')).toBe(CANNED_QUERIES['versions-with-a-waived-finding'].sql);
  });

  it('refuses bad SQL with an input error naming the query and DuckDB\'s message', async () => {
    const src = await setup();
    const err = await auditQuery({ ...src, sql: 'SELEC version FROM entries' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditQueryError);
    expect(isInputError(err)).toBe(true);
    expect((err as Error).message).toMatch(/^audit query "SELEC version FROM entries": Parser Error: syntax error at or near "SELEC"/);
    const err2 = await auditQuery({ ...src, sql: 'SELECT nope FROM entries' }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/^audit query "SELECT nope FROM entries": Binder Error: Referenced column "nope" not found/);
  });

  it('names a missing store file or report folder', async () => {
    const src = await setup();
    await expect(auditQuery({ registry: src.registry, storeFile: join(src.dir, 'nope.sqlite'), sql: 'SELECT 1' })).rejects.toThrow(/run store .*nope\.sqlite: no such file/);
    await expect(auditQuery({ registry: src.registry, parquetDirs: [join(src.dir, 'none')], sql: 'SELECT 1' })).rejects.toThrow(/report folder .*none: no such folder/);
  });

  it('returns BIGINT as a number when safe, else as its exact decimal string', async () => {
    const src = await setup();
    const r = await auditQuery({ registry: src.registry, sql: 'SELECT count(*) AS n, 9007199254740993::BIGINT AS big, max(created_at) AS t FROM registry.entries' });
    expect(r.rows).toEqual([[2, '9007199254740993', T0 + 86_400_000]]);
  });

  it('fills only the tables a query names, and loads a big store\'s events quickly when asked', async () => {
    const src = await setup();
    const store = new RunStore(join(src.dir, 'home'));
    const id = RUNS['1.0.0'];
    const n = 50_000;
    for (let i = 0; i < n; i += 5000) {
      store.appendEvents(id, Array.from({ length: 5000 }, (_, j) => ({ event: { v: 1 as const, type: 'metric' as const, step: 'evaluate/slices', ts: T0 + i + j, name: 'latency_ms', value: (i + j) % 97 }, attempt: 1 })));
    }
    store.close();
    let t = performance.now();
    const small = await auditQuery({ ...src, sql: 'SELECT count(*) FROM store.runs' });
    const tSmall = performance.now() - t;
    t = performance.now();
    const big = await auditQuery({ ...src, sql: "SELECT count(*), sum(value) FROM store.events e JOIN store.metrics m USING (run_id, seq) WHERE m.name = 'latency_ms'" });
    const tBig = performance.now() - t;
    const expectedSum = Array.from({ length: n }, (_, k) => k % 97).reduce((a, b) => a + b, 0);
    expect(small.rows).toEqual([[2]]);
    expect(big.rows).toEqual([[n, expectedSum]]);
    // Tables the query does not name are there too (with their columns), for a query of the catalogue.
    const tables = await auditQuery({ ...src, sql: "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema IN ('registry', 'store', 'reports') ORDER BY 1" });
    expect(tables.rows.flat()).toEqual(expect.arrayContaining(['registry.audit', 'registry.entries', 'reports.slice_metrics', 'store.events', 'store.runs', 'store.steps']));
    console.log(`${target.kind}: runs only ${tSmall.toFixed(0)} ms; events + metrics (${n + 6} and ${n + 4} rows) ${tBig.toFixed(0)} ms`);
  });
});
