import { describe, expect, it, afterEach } from 'vitest';
import { readdirSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { RunStore, newRunId } from '../../src/store/run-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { ContentStore } from '../../src/store/cas.js';
import { spawnSync } from 'node:child_process';
import { tempDir } from '../helpers/fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function fresh() {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const store = new RunStore(join(t.dir, '.paddock'));
  cleanups.unshift(() => store.close());
  return { store, dir: t.dir };
}

function makeRun(store: RunStore, id = newRunId()) {
  store.createRun({ id, name: 'demo', recipePath: '/x/paddock.yaml', recipeText: 'version: 1', recipeSha256: 'a'.repeat(64), lineage: {}, host: 'h', actor: 'me' });
  return id;
}

describe('run store', () => {
  it('creates its schema through versioned migrations, in WAL mode, and reopens idempotently', () => {
    const { store, dir } = fresh();
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    const versions = store.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
    expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version));
    store.close();
    const again = new RunStore(join(dir, '.paddock'));
    expect(again.migrate()).toBe(MIGRATIONS.length);
    again.close();
    cleanups.shift();
  });

  it('refuses a store written by a newer paddock', () => {
    const { store, dir } = fresh();
    store.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(999, 0);
    expect(() => new RunStore(join(dir, '.paddock'))).toThrow(/schema version 999, newer than this paddock's/);
  });

  it('appends events and materialises metrics, failures, artifacts and verdicts per attempt', () => {
    const { store } = fresh();
    const run = makeRun(store);
    store.planSteps(run, [{ id: 'a', stage: 'package', kind: 'step' }]);
    const a1 = store.startStep(run, 'a', { inputDigest: 'd1', runner: 'local', host: 'local' });
    store.appendEvents(run, [
      { attempt: a1, event: { v: 1, type: 'metric', name: 'm', value: 1, step: 'a', ts: 1 } },
      { attempt: a1, event: { v: 1, type: 'failure', id: 'f1', kind: 'missed', severity: 'major', title: 't', evidence: [], data: {}, step: 'a', ts: 2 } },
      { attempt: a1, event: { v: 1, type: 'artifact', path: 'x', sha256: 'b'.repeat(64), bytes: 3, role: 'onnx', step: 'a', ts: 3 } },
      { attempt: a1, event: { v: 1, type: 'verdict', gate: 'g', verdict: 'pass', rationale: ['ok'], step: 'a', ts: 4 } },
    ]);
    store.finishStep(run, 'a', 'failed', 'boom');
    const a2 = store.startStep(run, 'a', { inputDigest: 'd1', runner: 'local', host: 'local' });
    expect(a2).toBe(2);
    store.appendEvents(run, [{ attempt: a2, event: { v: 1, type: 'metric', name: 'm', value: 2, step: 'a', ts: 5 } }]);
    store.finishStep(run, 'a', 'succeeded');
    expect(store.currentMetrics(run).map((m) => m.value)).toEqual([2]);
    expect(store.currentArtifacts(run)).toEqual([]);
    expect(store.events(run).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(store.failureCount(run)).toBe(1);
    expect(store.getStep(run, 'a')).toMatchObject({ status: 'succeeded', attempt: 2, input_digest: 'd1' });
  });

  it('keeps events and approvals append-only', () => {
    const { store } = fresh();
    const run = makeRun(store);
    store.appendEvents(run, [{ attempt: 0, event: { v: 1, type: 'log', level: 'info', message: 'x', ts: 1 } }]);
    store.recordApproval({ runId: run, gate: 'g', decision: 'approved', actor: 'me', subjectDigest: 's' });
    expect(() => store.db.prepare('UPDATE events SET body = ?').run('{}')).toThrow(/append-only/);
    expect(() => store.db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
    expect(() => store.db.prepare("UPDATE approvals SET decision = 'rejected'").run()).toThrow(/append-only/);
    expect(store.findApproval(run, 'g', 's')).toMatchObject({ decision: 'approved', actor: 'me' });
    expect(store.findApproval(run, 'g', 'other')).toBeUndefined();
  });

  it('rolls back a whole batch when one event cannot be stored, and keeps numbering', () => {
    const { store } = fresh();
    const run = makeRun(store);
    const bad = { attempt: 0, event: { v: 1, type: 'metric', name: 'm', value: null, ts: 1 } } as never;
    expect(() => store.appendEvents(run, [{ attempt: 0, event: { v: 1, type: 'log', level: 'info', message: 'x', ts: 1 } }, bad])).toThrow();
    expect(store.events(run)).toEqual([]);
    store.appendEvents(run, [{ attempt: 0, event: { v: 1, type: 'log', level: 'info', message: 'y', ts: 1 } }]);
    expect(store.events(run).map((e) => e.seq)).toEqual([1]);
  });

  it('finds runs by a unique prefix', () => {
    const { store } = fresh();
    makeRun(store, 'r-20260101-000000-aaaaaa');
    makeRun(store, 'r-20260101-000000-aaabbb');
    expect(store.findRun('r-20260101-000000-aaaa')?.id).toBe('r-20260101-000000-aaaaaa');
    expect(store.findRun('r-20260101-000000-aaa')).toBeUndefined();
    expect(store.listRuns().length).toBe(2);
  });
});

describe('content-addressed store', () => {
  it('stores a file under its sha256, verifies declared digests, and sweeps temp leftovers', () => {
    const { store, dir } = fresh();
    const src = join(dir, 'model.onnx');
    writeFileSync(src, 'onnx bytes');
    const e = store.cas.put(src);
    expect(e.sha256).toBe(createHash('sha256').update('onnx bytes').digest('hex'));
    expect(e.bytes).toBe(10);
    expect(existsSync(store.cas.pathOf(e.sha256))).toBe(true);
    expect(store.cas.put(src, e.sha256).path).toBe(e.path);
    expect(() => store.cas.put(src, 'c'.repeat(64))).toThrow(/sha256 mismatch .* declared c{64}, file has [0-9a-f]{64}/);
    expect(store.cas.verifyAll()).toEqual({ checked: 1, corrupt: [] });
    mkdirSync(join(dir, '.paddock', 'cas', 'tmp'), { recursive: true });
    // A writer of this host that is gone (the pid of a process that has exited).
    writeFileSync(join(dir, '.paddock', 'cas', 'tmp', ContentStore.tmpName(spawnSync('true').pid!)), 'half a file');
    expect(store.cas.sweep()).toBe(1);
    expect(readdirSync(join(dir, '.paddock', 'cas', 'tmp'))).toEqual([]);
  });

  it('reports a stored file whose bytes no longer match its name', () => {
    const { store, dir } = fresh();
    const src = join(dir, 'a.bin');
    writeFileSync(src, 'aaaa');
    const e = store.cas.put(src);
    writeFileSync(e.path, 'tampered');
    expect(store.cas.verifyAll().corrupt).toEqual([e.sha256]);
  });

  it('is what sqlite says is a sound database', () => {
    const { store } = fresh();
    expect(store.integrityCheck()).toBe('ok');
    const raw = new Database(join(store.home, 'runs.sqlite'), { readonly: true });
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
  });
});

describe('migrations', () => {
  it('upgrades a store written at schema version 1 without losing its runs', () => {
    const t = tempDir();
    try {
      const home = join(t.dir, '.paddock');
      mkdirSync(home, { recursive: true });
      const db = new Database(join(home, 'runs.sqlite'));
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      db.exec(MIGRATIONS[0].sql);
      db.prepare('INSERT INTO schema_migrations VALUES (1, 0)').run();
      db.prepare("INSERT INTO runs (id, name, recipe_path, recipe_text, recipe_sha256, status, host, created_at, updated_at) VALUES ('r-old', 'demo', '/x', 'version: 1', ?, 'succeeded', 'h', 1, 1)").run('a'.repeat(64));
      db.close();
      const store = new RunStore(home);
      expect(store.getRun('r-old')?.status).toBe('succeeded');
      store.planSteps('r-old', [{ id: 'a', stage: 'package', kind: 'step' }]);
      store.setStepPid('r-old', 'a', 123);
      expect(store.getStep('r-old', 'a')?.pid).toBe(123);
      store.close();
    } finally {
      t.cleanup();
    }
  });
});
