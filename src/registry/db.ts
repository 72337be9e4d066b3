/**
 * The registry's one database port, with two adapters: the embedded SQLite file (default,
 * ./sqlite-db.ts, better-sqlite3) and PostgreSQL for a team (./postgres-db.ts, `pg`). Everything
 * in src/registry/ talks to this interface only, so one test suite runs against both.
 *
 * SQL is written once, portable: `?` placeholders (the PostgreSQL adapter numbers them $1..$n),
 * TEXT and BIGINT columns, no AUTOINCREMENT/SERIAL (sequence numbers are computed inside the
 * serialized write transaction), no RETURNING, no ON CONFLICT.
 *
 * Writes are serialized: `write()` runs its function in one transaction that no other writer of
 * the same registry interleaves with (SQLite: BEGIN IMMEDIATE with a busy wait; PostgreSQL: a
 * transaction-scoped advisory lock taken first). A function that throws rolls everything back.
 * Reads outside `write()` see committed data only.
 */
export type SqlValue = string | number | null;

/** What a statement in or out of a transaction can do. Rows come back with lower-case column names. */
export interface SqlRunner {
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** A statement's number of changed rows. */
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
}

export interface RegistryDb extends SqlRunner {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, for messages: the file, or the URL without its password. */
  readonly where: string;
  /** Runs `fn` in one serialized write transaction (see above); its value is returned after COMMIT. */
  write<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /** Applies the migrations this database lacks (./schema.ts); returns how many were applied. */
  migrate(): Promise<number>;
  close(): Promise<void>;
}

/** A database error with what was being done and where (the registry's file or URL). */
export class RegistryDbError extends Error {
  constructor(
    message: string,
    readonly where: string,
  ) {
    super(message);
    this.name = 'RegistryDbError';
  }
}

/** An immutable or append-only row was asked to change: the store refused it. */
export const REFUSED = /immutable|append-only/i;

/**
 * Opens a registry: `postgres://` or `postgresql://` URLs go to PostgreSQL, anything else is
 * a SQLite file path (`sqlite:` prefix optional). Migrations are applied.
 */
export async function openRegistryDb(spec: string): Promise<RegistryDb> {
  let db: RegistryDb;
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const { openPostgresRegistry } = await import('./postgres-db.js');
    db = await openPostgresRegistry(spec);
  } else {
    const { openSqliteRegistry } = await import('./sqlite-db.js');
    db = openSqliteRegistry(spec.replace(/^sqlite:/, ''));
  }
  try {
    await db.migrate();
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

/** The URL without its password: postgres://paddock:***@127.0.0.1:5433/registry. */
export function redactUrl(url: string): string {
  return url.replace(/^(\w+:\/\/[^:/@]+):[^@]*@/, '$1:***@');
}
