/**
 * The registry on an embedded SQLite file (better-sqlite3): the default. WAL, a busy wait of
 * 30 s, and BEGIN IMMEDIATE for writes, so that writers in different processes queue on the
 * file's lock instead of failing; writers in this process queue on a promise chain (one
 * connection cannot hold two transactions).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RegistryDbError, type RegistryDb, type SqlRunner, type SqlValue } from './db.js';
import { REGISTRY_MIGRATIONS } from './schema.js';

export function openSqliteRegistry(file: string): RegistryDb {
  const where = resolve(file);
  mkdirSync(dirname(where), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(where);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 30000');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    throw new RegistryDbError(`registry ${where}: cannot open (${(err as Error).message})`, where);
  }
  const wrap = (err: unknown): never => {
    throw new RegistryDbError(`registry ${where}: ${(err as Error).message}`, where);
  };
  const runner: SqlRunner = {
    async all(sql, params = []) {
      try {
        return db.prepare(sql).all(...(params as SqlValue[])) as never[];
      } catch (err) {
        return wrap(err);
      }
    },
    async get(sql, params = []) {
      try {
        return db.prepare(sql).get(...(params as SqlValue[])) as never;
      } catch (err) {
        return wrap(err);
      }
    },
    async run(sql, params = []) {
      try {
        return { changes: db.prepare(sql).run(...(params as SqlValue[])).changes };
      } catch (err) {
        return wrap(err);
      }
    },
  };
  let queue: Promise<unknown> = Promise.resolve();
  return {
    kind: 'sqlite',
    where,
    ...runner,
    write<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
      const next = queue.then(async () => {
        try {
          db.exec('BEGIN IMMEDIATE');
        } catch (err) {
          return wrap(err);
        }
        try {
          const value = await fn(runner);
          db.exec('COMMIT');
          return value;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        }
      });
      queue = next.catch(() => undefined);
      return next;
    },
    async migrate() {
      db.exec('CREATE TABLE IF NOT EXISTS registry_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const have = new Set((db.prepare('SELECT version FROM registry_migrations').all() as { version: number }[]).map((r) => r.version));
      const newest = Math.max(0, ...have);
      const known = Math.max(...REGISTRY_MIGRATIONS.map((m) => m.version));
      if (newest > known) throw new RegistryDbError(`registry ${where} is at schema version ${newest}, newer than this paddock knows (${known}): upgrade paddock`, where);
      let applied = 0;
      for (const m of REGISTRY_MIGRATIONS) {
        if (have.has(m.version)) continue;
        db.exec('BEGIN IMMEDIATE');
        try {
          // Another process may have applied it while this one waited for the lock.
          if (!db.prepare('SELECT 1 FROM registry_migrations WHERE version = ?').get(m.version)) {
            db.exec(m.sqlite);
            db.prepare('INSERT INTO registry_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
            applied++;
          }
          db.exec('COMMIT');
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw new RegistryDbError(`registry ${where}: migration ${m.version} failed (${(err as Error).message})`, where);
        }
      }
      return applied;
    },
    async close() {
      db.close();
    },
  };
}
