/**
 * `paddock audit query`: SQL over the registry, the run store and the Parquet reports at once,
 * in an in-memory DuckDB (@duckdb/node-api).
 *
 * DuckDB could read both databases in place with its sqlite and postgres extensions, but those are
 * downloaded on first use (duckdb_extensions() in @duckdb/node-api 1.5.6-r.1 lists only
 * core_functions, json, parquet, icu and autocomplete as installed), and paddock must work offline. So the tables are copied
 * in: the registry's through its port (./db.ts: the same code for SQLite and PostgreSQL), the run
 * store's from its SQLite file opened read-only. They are loaded with DuckDB's appender, typed per
 * column: measured on 50,000 and 200,000 event-like rows (six columns, a JSON body), 149 ms and
 * 541 ms, against 242 ms and 861 ms for writing NDJSON and reading it back with read_json, and
 * 201 ms / 543 ms for the appender fed through JSToDuckDBValueConverter. Parquet files are read in
 * place (read_parquet is built in): every `*.parquet` under the report folders is a view.
 *
 * Names: schema `registry` (models, entries, transitions, aliases, approvals, waivers, promotions,
 * audit), schema `store` (runs, steps, events, metrics, failures, artifacts, verdicts, approvals,
 * ...), schema `reports` (one view per Parquet file name, e.g. `reports.slice_metrics` over every
 * slice_metrics.parquet found, with a `filename` column saying which file a row came from). The
 * search path is registry, store, reports: an unqualified name is looked up in that order (the
 * store also has an `approvals`; `approvals` alone is the registry's).
 *
 * Only the tables a query names are filled (a word match on the SQL, an over-approximation): a
 * store of a year of runs holds hundreds of thousands of events that most queries never touch.
 * The others exist, with their columns, empty.
 */
import Database from 'better-sqlite3';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { InputError } from '../files/input-error.js';
import { defaultHome } from '../store/run-store.js';
import type { RegistryDb } from './db.js';

/** A query could not be run: bad SQL, or a source that cannot be read. The message names it. */
export class AuditQueryError extends InputError {}

export interface AuditQueryInput {
  registry: RegistryDb;
  /** The run store's SQLite file (`<home>/runs.sqlite`: defaultStoreFile()); without it, schema `store` is empty. */
  storeFile?: string;
  /** Folders searched (recursively) for `*.parquet` reports. */
  parquetDirs?: string[];
  /** SQL, or the name of a canned query (CANNED_QUERIES). */
  sql: string;
}

export interface AuditQueryResult {
  columns: string[];
  /**
   * Rows as plain JS: BIGINT as a number when it is a safe integer, else as its decimal string
   * (exact, and printable as JSON, which a bigint is not); TIMESTAMP as an ISO string.
   */
  rows: unknown[][];
}

/** The registry's tables (./schema.ts), copied into schema `registry`. */
export const REGISTRY_TABLES = ['models', 'entries', 'transitions', 'aliases', 'approvals', 'waivers', 'promotions', 'audit'] as const;

/**
 * Queries that answer the issue's questions. `who-approved-what`: every approval with its
 * identity, role, decision and time. `versions-with-a-waived-finding`: each version of a model
 * with each waiver that covers it (a waiver naming no version covers every version of its model),
 * whether the waiver has expired, and the aliases pointing at the version now.
 */
export const CANNED_QUERIES = {
  'who-approved-what': {
    title: 'who approved what',
    sql: `SELECT a.model, a.version, a.stage, a.role, a.identity, a.decision, a.reason, a.scheme,
       strftime(epoch_ms(a.at), '%Y-%m-%dT%H:%M:%SZ') AS at, a.audit_seq
FROM registry.approvals a
ORDER BY a.at, a.id`,
  },
  'versions-with-a-waived-finding': {
    title: 'versions with a waived finding',
    sql: `SELECT e.model, e.version, w.finding, w.justification, w.approver,
       strftime(epoch_ms(w.expires_at), '%Y-%m-%dT%H:%M:%SZ') AS expires,
       w.expires_at <= epoch_ms(now()) AS expired,
       (SELECT string_agg(al.alias, ',' ORDER BY al.alias) FROM registry.aliases al WHERE al.model = e.model AND al.version = e.version) AS aliases
FROM registry.entries e
JOIN registry.waivers w ON w.model = e.model AND (w.version IS NULL OR w.version = e.version)
ORDER BY e.model, e.created_at, w.finding`,
  },
} as const;

export type CannedQuery = keyof typeof CANNED_QUERIES;

/** The SQL of a canned query named by its key or its title (`who approved what`), else undefined. */
export function cannedQuery(name: string): string | undefined {
  const key = name.trim().toLowerCase().replace(/\s+/g, '-');
  return (CANNED_QUERIES as Record<string, { sql: string }>)[key]?.sql;
}

/** The run store's file under the store's home ($PADDOCK_HOME, else ./.paddock): what RunStore opens. */
export function defaultStoreFile(): string {
  return join(defaultHome(), 'runs.sqlite');
}

type Column = { name: string; type: 'BIGINT' | 'DOUBLE' | 'VARCHAR' | 'BLOB' };
interface Source {
  schema: 'registry' | 'store';
  table: string;
  columns: Column[];
  rows: () => Promise<Record<string, unknown>[]>;
}

/** A SQLite or PostgreSQL declared type as a DuckDB column type. */
function duckType(declared: string): Column['type'] {
  const t = declared.toUpperCase();
  // SQLite's affinity rules (sqlite.org/datatype3.html, 3.1): INT anywhere is integer; CHAR, CLOB,
  // TEXT are text; BLOB (or no type) is blob-or-anything; REAL, FLOA, DOUB are real.
  if (t.includes('INT')) return 'BIGINT';
  if (/REAL|FLOA|DOUB|NUMERIC|DECIMAL/.test(t)) return 'DOUBLE';
  if (t.includes('BLOB') || t === 'BYTEA') return 'BLOB';
  return 'VARCHAR';
}

/**
 * SQLite keeps any value in any column (a declared type is an affinity, not a constraint): a
 * column is widened when some value does not fit its declared type, rather than the load failing.
 */
function fitColumns(columns: Column[], rows: Record<string, unknown>[]): Column[] {
  return columns.map((c) => {
    if (c.type === 'VARCHAR') return c; // anything is text (String(v) on the way in)
    let type: Column['type'] = c.type;
    for (const r of rows) {
      const v = r[c.name];
      if (v === null || v === undefined) continue;
      if (type === 'BIGINT' && !(typeof v === 'number' && Number.isSafeInteger(v)) && typeof v !== 'bigint') type = typeof v === 'number' ? 'DOUBLE' : 'VARCHAR';
      else if (type === 'DOUBLE' && typeof v !== 'number') type = 'VARCHAR';
      else if (type === 'BLOB' && !(v instanceof Uint8Array)) type = 'VARCHAR';
    }
    return type === c.type ? c : { ...c, type };
  });
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The registry's tables and their columns, read through the port (each dialect's catalogue). */
async function registrySources(db: RegistryDb): Promise<Source[]> {
  const out: Source[] = [];
  for (const table of REGISTRY_TABLES) {
    const cols =
      db.kind === 'sqlite'
        ? await db.all<{ name: string; type: string }>('SELECT name, type FROM pragma_table_info(?) ORDER BY cid', [table])
        : await db.all<{ name: string; type: string }>('SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position', [table]);
    if (!cols.length) continue; // a registry older than this paddock: queries naming it say so
    out.push({ schema: 'registry', table, columns: cols.map((c) => ({ name: c.name, type: duckType(c.type) })), rows: () => db.all(`SELECT * FROM ${table}`) });
  }
  return out;
}

/** The run store's tables, from its file opened read-only (nothing is written, not even a migration). */
function storeSources(file: string): { sources: Source[]; close: () => void } {
  const where = resolve(file);
  if (!existsSync(where)) throw new AuditQueryError(`run store ${where}: no such file (the store is <home>/runs.sqlite; PADDOCK_HOME names the home)`);
  let db: Database.Database;
  try {
    db = new Database(where, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 30000');
  } catch (err) {
    throw new AuditQueryError(`run store ${where}: cannot open (${(err as Error).message})`);
  }
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
    const sources = tables.map(({ name }) => {
      const cols = db.prepare('SELECT name, type FROM pragma_table_info(?) ORDER BY cid').all(name) as { name: string; type: string }[];
      return { schema: 'store' as const, table: name, columns: cols.map((c) => ({ name: c.name, type: duckType(c.type) })), rows: async () => db.prepare(`SELECT * FROM ${ident(name)}`).all() as Record<string, unknown>[] };
    });
    return { sources, close: () => db.close() };
  } catch (err) {
    db.close();
    throw new AuditQueryError(`run store ${where}: cannot read its tables (${(err as Error).message})`);
  }
}

/** Every `*.parquet` under `dir`, sorted. */
function parquetFiles(dir: string): string[] {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new AuditQueryError(`report folder ${root}: no such folder`);
  return (readdirSync(root, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((d) => d.isFile() && d.name.endsWith('.parquet'))
    .map((d) => join(d.parentPath, d.name))
    .sort();
}

function append(appender: DuckDBAppender, columns: Column[], rows: Record<string, unknown>[]): void {
  for (const r of rows) {
    for (const c of columns) {
      const v = r[c.name];
      if (v === null || v === undefined) appender.appendNull();
      else if (c.type === 'BIGINT') appender.appendBigInt(BigInt(v as number));
      else if (c.type === 'DOUBLE') appender.appendDouble(v as number);
      else if (c.type === 'BLOB') appender.appendBlob(v as Uint8Array);
      else appender.appendVarchar(typeof v === 'string' ? v : String(v));
    }
    appender.endRow();
  }
}

/** A referenced name: the table's name as a word of the SQL (quoted or not, any case). */
const mentions = (sql: string, name: string) => new RegExp(`(^|[^A-Za-z0-9_])${name.replace(/[^A-Za-z0-9_]/g, '\\$&')}($|[^A-Za-z0-9_])`, 'i').test(sql);

/** A file name as a view name: `slice_metrics.parquet` -> slice_metrics. */
const viewName = (file: string) => basename(file, '.parquet').replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_').toLowerCase();

/** The JS value of a DuckDB result value (see AuditQueryResult.rows). */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** One line of a query for messages: whitespace folded, cut at 120 characters. */
const shortSql = (sql: string) => {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

/**
 * Runs `sql` (or a canned query by name) over the registry, the run store and the Parquet reports
 * (the module comment says what is where). Bad SQL is an AuditQueryError naming the query and
 * DuckDB's message.
 */
export async function auditQuery(input: AuditQueryInput): Promise<AuditQueryResult> {
  const sql = cannedQuery(input.sql) ?? input.sql;
  const store = input.storeFile ? storeSources(input.storeFile) : undefined;
  // Imported here, not at the top: the native library loads only for a command that queries.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  // No extension downloads: this must answer offline, at once, rather than hang on a fetch (a
  // query that needs an extension fails with DuckDB's message instead).
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
  let con: DuckDBConnection | undefined;
  try {
    con = await instance.connect();
    await con.run('CREATE SCHEMA registry; CREATE SCHEMA store; CREATE SCHEMA reports');
    for (const src of [...(await registrySources(input.registry)), ...(store?.sources ?? [])]) {
      const wanted = mentions(sql, src.table);
      const rows = wanted ? await src.rows() : [];
      const columns = fitColumns(src.columns, rows);
      const name = `${src.schema}.${ident(src.table)}`;
      await con.run(`CREATE TABLE ${name} (${columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ')})`);
      if (!rows.length) continue;
      const appender = await con.createAppender(src.table, src.schema);
      append(appender, columns, rows);
      appender.closeSync();
    }
    const byView = new Map<string, string[]>();
    for (const dir of input.parquetDirs ?? []) for (const f of parquetFiles(dir)) byView.set(viewName(f), [...(byView.get(viewName(f)) ?? []), f]);
    for (const [view, files] of byView) {
      try {
        // union_by_name: reports written by different paddock versions may differ in columns.
        await con.run(`CREATE VIEW reports.${ident(view)} AS SELECT * FROM read_parquet([${files.map(literal).join(', ')}], union_by_name = true, filename = true)`);
      } catch (err) {
        throw new AuditQueryError(`report ${view}.parquet (${files.length} file${files.length === 1 ? '' : 's'}, e.g. ${files[0]}): DuckDB cannot read it: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    await con.run("SET search_path = 'registry,store,reports,main'");
    let reader;
    try {
      reader = await con.runAndReadAll(sql);
    } catch (err) {
      throw new AuditQueryError(`audit query "${shortSql(sql)}": ${(err as Error).message.trim().replace(/\n+/g, ' ')}`);
    }
    return { columns: reader.columnNames(), rows: reader.getRowsJS().map((r) => r.map(plain)) };
  } finally {
    con?.closeSync();
    instance.closeSync();
    store?.close();
  }
}
