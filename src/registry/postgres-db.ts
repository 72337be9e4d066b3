/**
 * The registry on PostgreSQL (the `pg` package), for a team sharing one registry. The port is
 * ./db.ts; this adapter makes the portable SQL written for it run here:
 *
 * - `?` placeholders are numbered $1..$n (outside string literals, quoted identifiers, dollar
 *   quotes and comments), since PostgreSQL's protocol knows only numbered parameters.
 * - BIGINT (int8) and NUMERIC come back as JS numbers, as SQLite gives them: node-postgres returns
 *   them as strings by default because int8 can exceed 2^53. Our BIGINTs are epoch milliseconds
 *   and sequence numbers, far below that; a value that is not a safe integer is an error rather
 *   than a silently rounded number. The parser is set on this pool only (`types`), not on pg's
 *   global table, so other `pg` users in the process keep the default.
 * - Writes are serialized like SQLite's BEGIN IMMEDIATE: each write transaction first takes one
 *   transaction-scoped advisory lock (REGISTRY_LOCK), so read-modify-write sequences (the audit
 *   chain's next seq, the alias compare-and-swap) never interleave, whichever process runs them.
 *   https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS
 */
import pg from 'pg';
import { RegistryDbError, redactUrl, type RegistryDb, type SqlRunner, type SqlValue } from './db.js';
import { REGISTRY_MIGRATIONS } from './schema.js';

/**
 * The advisory lock key every paddock registry writer takes (advisory locks are per database, so
 * two registries on one server do not contend): the first 8 bytes of sha256("paddock registry
 * write lock") as a signed 64-bit integer, fixed so that every paddock version agrees on it.
 */
export const REGISTRY_LOCK = '7673227214150013353';

/**
 * How long a writer waits for the lock before failing, as SQLite's busy timeout (sqlite-db.ts):
 * a writer stuck behind a hung one gets an error naming the registry, not a hang.
 */
const LOCK_WAIT_MS = 30_000;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

function toNumber(text: string): number {
  const n = Number(text);
  // NUMERIC may be fractional (AVG); int8 must be exact.
  if (!Number.isFinite(n) || (Number.isInteger(n) && !Number.isSafeInteger(n))) throw new Error(`the number ${text} does not fit a JS number exactly`);
  return n;
}

const registryTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if ((oid === INT8_OID || oid === NUMERIC_OID) && (format ?? 'text') === 'text') return toNumber;
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * `sql` with each `?` placeholder replaced by $1..$n, in order. A `?` inside '...' (E'...' with
 * backslash escapes), "..." identifiers, $tag$...$tag$ bodies, -- and /* *\/ comments is text,
 * left as it is.
 */
export function numberPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '?') {
      out += `$${++n}`;
      i++;
    } else if (c === "'") {
      // E'..' strings take backslash escapes; standard strings only '' (standard_conforming_strings is on by default since 9.1).
      const escapes = /[eE]/.test(sql[i - 1] ?? '') && !/[\w$]/.test(sql[i - 2] ?? '');
      let j = i + 1;
      while (j < sql.length) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const j = end === -1 ? sql.length : end;
      out += sql.slice(i, j);
      i = j;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const j = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, j);
      i = j;
    } else if (c === '$' && !/[\w$]/.test(sql[i - 1] ?? '')) {
      // A dollar quote $$ or $tag$ (a tag does not start with a digit: $1 is a parameter).
      const tag = /^\$(?:[A-Za-z_][\w]*)?\$/.exec(sql.slice(i))?.[0];
      if (!tag) {
        out += c;
        i++;
        continue;
      }
      const end = sql.indexOf(tag, i + tag.length);
      const j = end === -1 ? sql.length : end + tag.length;
      out += sql.slice(i, j);
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The URL without its password, in the userinfo or in a `password=` query parameter. */
function redact(url: string): string {
  return redactUrl(url).replace(/([?&]password=)[^&]*/gi, '$1***');
}

interface PgError extends Error {
  code?: string;
  address?: string;
  port?: number;
  errors?: PgError[];
}

/** A message that says what went wrong in words a user can act on, for the usual connection failures. */
function explain(err: PgError): string {
  const code = err.code ?? err.errors?.[0]?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'cannot connect: connection refused (is PostgreSQL running and listening there?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot connect: unknown host (${err.message})`;
    case 'ETIMEDOUT':
      return 'cannot connect: timed out';
    case 'ENOENT':
      return `cannot connect: no PostgreSQL socket there (${err.message})`;
    case '28P01':
    case '28000':
      return `authentication failed (${err.message}): check the user and password in the URL`;
    case '3D000':
      return `${err.message}: create it first (createdb)`;
    case '55P03':
      return `another writer held the registry's write lock for over ${LOCK_WAIT_MS / 1000} s (${err.message})`;
    default:
      return err.message || String(code ?? err);
  }
}

/** Opens (and checks by connecting) a PostgreSQL registry; `url` is a postgres:// or postgresql:// URL. Not migrated: see openRegistryDb. */
export async function openPostgresRegistry(url: string): Promise<RegistryDb> {
  const where = redact(url);
  const fail = (err: unknown, doing?: string): never => {
    if (err instanceof RegistryDbError) throw err;
    throw new RegistryDbError(`registry ${where}: ${doing ? `${doing}: ` : ''}${explain(err as PgError)}`, where);
  };
  let pool: pg.Pool;
  try {
    pool = new pg.Pool({ connectionString: url, types: registryTypes, connectionTimeoutMillis: 30_000 });
  } catch (err) {
    return fail(err, 'bad URL');
  }
  // An idle client whose server went away emits 'error' on the pool; unhandled, that would kill
  // the process. The next query gets a fresh client or reports the failure itself.
  pool.on('error', () => undefined);
  try {
    // Connect now, so that a wrong URL or a server that is down is reported on open, not on first use.
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    return fail(err);
  }

  const runnerOn = (q: pg.Pool | pg.PoolClient): SqlRunner => ({
    async all(sql, params = []) {
      try {
        return (await q.query(numberPlaceholders(sql), params as SqlValue[])).rows;
      } catch (err) {
        return fail(err);
      }
    },
    async get(sql, params = []) {
      try {
        return (await q.query(numberPlaceholders(sql), params as SqlValue[])).rows[0];
      } catch (err) {
        return fail(err);
      }
    },
    async run(sql, params = []) {
      try {
        return { changes: (await q.query(numberPlaceholders(sql), params as SqlValue[])).rowCount ?? 0 };
      } catch (err) {
        return fail(err);
      }
    },
  });

  /** BEGIN, the registry's write lock, fn, COMMIT; ROLLBACK when fn throws. fn's own error is rethrown as it is. */
  async function serialized<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      return fail(err);
    }
    let broken: Error | undefined;
    try {
      try {
        await client.query('BEGIN');
        await client.query(`SET LOCAL lock_timeout = ${LOCK_WAIT_MS}`);
        await client.query(`SELECT pg_advisory_xact_lock(${REGISTRY_LOCK})`);
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        return fail(err, 'cannot start a write transaction');
      }
      let value: T;
      try {
        value = await fn(client);
      } catch (err) {
        // A client whose ROLLBACK fails is in an unknown state: destroyed, not returned to the pool.
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      }
      try {
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        return fail(err, 'commit failed');
      }
      return value;
    } finally {
      client.release(broken);
    }
  }

  return {
    kind: 'postgres',
    where,
    ...runnerOn(pool),
    write<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
      return serialized((client) => fn(runnerOn(client)));
    },
    async migrate() {
      const known = Math.max(...REGISTRY_MIGRATIONS.map((m) => m.version));
      // Under the write lock: two processes running CREATE TABLE IF NOT EXISTS at once can both
      // pass the check and one fail on the catalog's unique index.
      const have = await serialized(async (c) => {
        await c.query('CREATE TABLE IF NOT EXISTS registry_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
        return new Set((await c.query<{ version: number }>('SELECT version FROM registry_migrations')).rows.map((r) => r.version));
      });
      const newest = Math.max(0, ...have);
      if (newest > known) throw new RegistryDbError(`registry ${where} is at schema version ${newest}, newer than this paddock knows (${known}): upgrade paddock`, where);
      let applied = 0;
      for (const m of REGISTRY_MIGRATIONS) {
        if (have.has(m.version)) continue;
        await serialized(async (c) => {
          // Another process may have applied it while this one waited for the lock.
          if ((await c.query('SELECT 1 FROM registry_migrations WHERE version = $1', [m.version])).rowCount) return;
          try {
            // No parameters: the simple query protocol, which runs the migration's many statements.
            await c.query(m.postgres);
            await c.query('INSERT INTO registry_migrations (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
          } catch (err) {
            return fail(err, `migration ${m.version} failed`);
          }
          applied++;
        });
      }
      return applied;
    },
    async close() {
      await pool.end();
    },
  };
}
