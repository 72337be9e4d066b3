/**
 * Store schema 9: failure_reviews takes 'filed' (a failure filed for data mining, with its note).
 * A store written at schema 8 with reviews and notes is opened by RunStore, which migrates it:
 * the old rows keep their ids and values, 'filed' is accepted with a note and refused without,
 * the table is still append-only, and new rows number on after the old ones.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RunStore } from '../../src/store/run-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { RunReader } from '../../src/live/run-reader.js';
import { tempDir } from '../helpers/fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** A store at schema 8 (as the paddock before this one left it), with a run and three review rows. */
function storeAtSchema8(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const home = join(t.dir, '.paddock');
  mkdirSync(home, { recursive: true });
  const db = new Database(join(home, 'runs.sqlite'));
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  for (const m of MIGRATIONS.filter((x) => x.version <= 8)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, 0)').run(m.version);
  }
  db.prepare("INSERT INTO runs (id, name, recipe_path, recipe_text, recipe_sha256, status, host, created_at, updated_at) VALUES ('r-old', 'demo', '/x', 'version: 1', ?, 'succeeded', 'h', 1, 1)").run('a'.repeat(64));
  const add = db.prepare('INSERT INTO failure_reviews (run_id, failure_id, action, note, actor, at) VALUES (?, ?, ?, ?, ?, ?)');
  add.run('r-old', 'lost/1', 'reviewed', null, 'ana@example.com', 1000);
  add.run('r-old', 'lost/1', 'note', 'occluded by the bus', 'ana@example.com', 2000);
  add.run('r-old', 'fp/7', 'reviewed', null, 'bo@example.com', 3000);
  // Schema 8 refuses the new action: the migration is what makes it possible.
  expect(() => add.run('r-old', 'fp/7', 'filed', 'x', 'bo@example.com', 4000)).toThrow(/CHECK constraint failed/);
  db.close();
  return home;
}

function open(home: string): RunStore {
  const store = new RunStore(home);
  cleanups.unshift(() => store.close());
  return store;
}

describe('failure_reviews at schema 9', () => {
  it('keeps the rows a schema 8 store had, ids and all', () => {
    const store = open(storeAtSchema8());
    expect(store.migrate()).toBe(MIGRATIONS.length);
    expect(MIGRATIONS.find((m) => m.version === 9)).toBeDefined();
    expect(store.failureReviews('r-old')).toEqual([
      { id: 1, run_id: 'r-old', failure_id: 'lost/1', action: 'reviewed', note: null, actor: 'ana@example.com', at: 1000 },
      { id: 2, run_id: 'r-old', failure_id: 'lost/1', action: 'note', note: 'occluded by the bus', actor: 'ana@example.com', at: 2000 },
      { id: 3, run_id: 'r-old', failure_id: 'fp/7', action: 'reviewed', note: null, actor: 'bo@example.com', at: 3000 },
    ]);
    expect(store.db.prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'failure_reviews' ORDER BY name").all().map((r) => (r as { name: string }).name)).toEqual([
      'failure_reviews',
      'failure_reviews_append_only_d',
      'failure_reviews_append_only_u',
      'failure_reviews_run',
    ]);
    expect(store.integrityCheck()).toBe('ok');
  });

  it("accepts 'filed' with a note, numbered after the old rows, and the reader shows it on the failure", () => {
    const store = open(storeAtSchema8());
    store.recordFailureReview({ runId: 'r-old', failureId: 'fp/7', action: 'filed', note: '  night glare on wet road  ', actor: 'bo@example.com', at: 5000 });
    const rows = store.failureReviews('r-old');
    expect(rows.at(-1)).toEqual({ id: 4, run_id: 'r-old', failure_id: 'fp/7', action: 'filed', note: 'night glare on wet road', actor: 'bo@example.com', at: 5000 });
    new RunReader(store).recordReview({ runId: 'r-old', failureId: 'lost/1', action: 'filed', note: 'bus occlusions', actor: 'ana@example.com' });
    expect(store.failureReviews('r-old').map((r) => [r.id, r.failure_id, r.action])).toEqual([
      [1, 'lost/1', 'reviewed'],
      [2, 'lost/1', 'note'],
      [3, 'fp/7', 'reviewed'],
      [4, 'fp/7', 'filed'],
      [5, 'lost/1', 'filed'],
    ]);
  });

  it("refuses 'filed' without a note (the method says so; the table's CHECK too) and an action it does not know", () => {
    const store = open(storeAtSchema8());
    expect(() => store.recordFailureReview({ runId: 'r-old', failureId: 'fp/7', action: 'filed', note: '   ', actor: 'bo@example.com' })).toThrow(/"filed" of fp\/7 needs a note/);
    const raw = store.db.prepare('INSERT INTO failure_reviews (run_id, failure_id, action, note, actor, at) VALUES (?, ?, ?, ?, ?, ?)');
    expect(() => raw.run('r-old', 'fp/7', 'filed', null, 'bo@example.com', 1)).toThrow(/CHECK constraint failed/);
    expect(() => raw.run('r-old', 'fp/7', 'filed', ' ', 'bo@example.com', 1)).toThrow(/CHECK constraint failed/);
    expect(() => raw.run('r-old', 'fp/7', 'deleted', 'x', 'bo@example.com', 1)).toThrow(/CHECK constraint failed/);
    expect(() => raw.run('r-nope', 'fp/7', 'reviewed', null, 'bo@example.com', 1)).toThrow(/FOREIGN KEY/);
    expect(store.failureReviews('r-old')).toHaveLength(3);
  });

  it('is still append-only: updates and deletes are refused, old rows and new', () => {
    const store = open(storeAtSchema8());
    store.recordFailureReview({ runId: 'r-old', failureId: 'fp/7', action: 'filed', note: 'glare', actor: 'bo@example.com' });
    expect(() => store.db.prepare("UPDATE failure_reviews SET note = 'changed' WHERE id = 2").run()).toThrow(/append-only/);
    expect(() => store.db.prepare("UPDATE failure_reviews SET action = 'reviewed' WHERE action = 'filed'").run()).toThrow(/append-only/);
    expect(() => store.db.prepare('DELETE FROM failure_reviews WHERE id = 4').run()).toThrow(/append-only/);
    expect(() => store.db.prepare('DELETE FROM failure_reviews').run()).toThrow(/append-only/);
    expect(store.failureReviews('r-old')).toHaveLength(4);
  });
});
