/**
 * A real PostgreSQL 15 for the registry tests (Debian's postgresql, /usr/lib/postgresql/15/bin):
 * its own cluster under the test services directory, on 127.0.0.1 (password auth, so that a
 * wrong password is really refused) and a unix socket directory of its own (trust, for the admin
 * connection that creates databases). Started by the test setup (test/global-setup.ts), or by the
 * first test that needs it when the setup did not run; either way it is left running and reused
 * by the next run, as the Docker daemons and sshd are (./docker-services.ts).
 *
 * PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user and
 * initdb/pg_ctl run through runuser; otherwise they run as the current user, in a directory of
 * that user's own (the root-owned services directory is not writable for them).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SERVICES_DIR, freePort, portOpen } from './docker-services.js';

export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';
/** The port tried first: fixed, so that the URL stays the same between runs; another one is taken when something else holds it. */
export const POSTGRES_PORT = 54329;

export interface PostgresService {
  host: '127.0.0.1';
  port: number;
  /** The unix socket directory (trust auth: the admin connection). */
  socketDir: string;
  dataDir: string;
  logFile: string;
  /** The role and password the registry connects with over TCP (scram-sha-256); owns the test databases. */
  user: string;
  password: string;
  /** The superuser, reached over the socket. */
  admin: string;
}

const isRoot = process.getuid?.() === 0;
const OWNER = isRoot ? 'postgres' : undefined;

/** Where this user's cluster and its record live. */
export function postgresDir(): string {
  return isRoot ? join(SERVICES_DIR, 'postgres') : join(tmpdir(), `paddock-test-services-${process.getuid?.() ?? 'user'}`, 'postgres');
}

function recordFile(): string {
  return join(postgresDir(), 'instance.json');
}

/** The running instance, as the last start recorded it; throws when none was started. */
export function postgresService(): PostgresService {
  if (!existsSync(recordFile())) throw new Error(`${recordFile()} is missing: PostgreSQL for the tests is started by test/global-setup.ts or ensurePostgres() (test/helpers/postgres-service.ts)`);
  return JSON.parse(readFileSync(recordFile(), 'utf8')) as PostgresService;
}

/** A URL for database `dbName` (default: the `paddock` database) as the registry's user. */
export function postgresUrl(dbName = 'paddock', s: PostgresService = postgresService()): string {
  return `postgres://${s.user}:${s.password}@${s.host}:${s.port}/${encodeURIComponent(dbName)}`;
}

/** Runs a PostgreSQL program as the cluster's owner, in the cluster's directory (the postgres user cannot read the caller's cwd). */
function pgRun(program: string, args: string[]): string {
  const bin = join(POSTGRES_BIN, program);
  const [cmd, argv] = OWNER ? ['runuser', ['-u', OWNER, '--', bin, ...args]] : [bin, args];
  try {
    return execFileSync(cmd, argv, { cwd: postgresDir(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${program} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/** Hands a path to the cluster's owner (when root; otherwise it is the caller's already). */
function giveToOwner(path: string): void {
  if (!OWNER) return;
  const id = (flag: string) => Number(execFileSync('id', [flag, OWNER], { encoding: 'utf8' }).trim());
  chownSync(path, id('-u'), id('-g'));
}

/** A directory the cluster's owner can write. */
function ownedDir(dir: string, mode: number): void {
  mkdirSync(dir, { recursive: true, mode });
  giveToOwner(dir);
}

function adminClient(s: Pick<PostgresService, 'socketDir' | 'port' | 'admin'>, database = 'postgres'): pg.Client {
  return new pg.Client({ host: s.socketDir, port: s.port, user: s.admin, database, connectionTimeoutMillis: 5000 });
}

/** Whether the recorded instance answers, and is this cluster (not another server that took the port). */
async function answers(s: PostgresService): Promise<boolean> {
  const c = adminClient(s);
  c.on('error', () => undefined);
  try {
    await c.connect();
    const { rows } = await c.query<{ data_directory: string }>('SHOW data_directory');
    return rows[0]?.data_directory === s.dataDir;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}


function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding a lock directory: test files that each start PostgreSQL when the setup did
 * not run do so at the same moment (vitest forks), and two initdb or pg_ctl start on one data
 * directory must not race. A lock left by a dead process is broken.
 */
async function withStartLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(postgresDir(), 'start.lock');
  const end = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = 0;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // just created, pid not written yet; or removed meanwhile
      }
      const old = (() => {
        try {
          return Date.now() - statSync(lock).mtimeMs > 10_000;
        } catch {
          return false;
        }
      })();
      if ((holder && !pidAlive(holder)) || (!holder && old)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > end) throw new Error(`timed out waiting for ${lock} (held by process ${holder || 'unknown'})`);
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Stops a postmaster left on the data directory that does not answer as recorded (killed mid-setup, or the record lost). */
function stopLeftover(dataDir: string): void {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (pid && pidAlive(pid)) pgRun('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '60']);
}

/**
 * Starts the tests' PostgreSQL unless the recorded one answers; returns it and whether this call
 * started it (the test setup stops only what it started).
 */
export async function startPostgres(): Promise<{ service: PostgresService; started: boolean }> {
  if (!existsSync(join(POSTGRES_BIN, 'postgres'))) throw new Error(`${POSTGRES_BIN}/postgres is missing: the registry tests need Debian's postgresql (PostgreSQL 15; npm test installs it as root)`);
  const dir = postgresDir();
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return withStartLock(async () => {
    let previous: PostgresService | undefined;
    try {
      previous = postgresService();
    } catch {
      // first start for this user on this machine
    }
    if (previous && (await answers(previous))) return { service: previous, started: false };
    const s: PostgresService = {
      host: '127.0.0.1',
      port: previous?.port ?? POSTGRES_PORT,
      socketDir: join(dir, 'sock'),
      dataDir: join(dir, 'data'),
      logFile: join(dir, 'postgres.log'),
      user: 'paddock',
      password: 'paddock',
      admin: 'postgres',
    };
    stopLeftover(s.dataDir);
    if (!existsSync(join(s.dataDir, 'PG_VERSION'))) {
      rmSync(s.dataDir, { recursive: true, force: true });
      ownedDir(s.dataDir, 0o700);
      pgRun('initdb', ['-D', s.dataDir, '-U', s.admin, '--auth-local=trust', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync']);
      appendFileSync(join(s.dataDir, 'postgresql.conf'), "\ninclude_if_exists = 'paddock-test.conf'\n");
    }
    // Rewritten on every start, so that a cluster made by an earlier version of this helper gets
    // today's settings. A test cluster: durability is not wanted (fsync off makes a database per
    // test file cheap); connections are, since every test file and its child processes hold a pool.
    const conf = join(s.dataDir, 'paddock-test.conf');
    writeFileSync(
      conf,
      ["listen_addresses = '127.0.0.1'", `unix_socket_directories = '${s.socketDir}'`, 'max_connections = 400', 'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'log_checkpoints = off', ''].join('\n'),
    );
    giveToOwner(conf);
    ownedDir(s.socketDir, 0o755);
    if (!existsSync(s.logFile)) writeFileSync(s.logFile, '');
    giveToOwner(s.logFile);
    if (await portOpen(s.port)) s.port = await freePort();
    try {
      pgRun('pg_ctl', ['start', '-D', s.dataDir, '-l', s.logFile, '-w', '-t', '60', '-o', `-p ${s.port}`]);
    } catch (err) {
      const tail = readFileSync(s.logFile, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${s.logFile}:\n${tail}`);
    }
    const c = adminClient(s);
    await c.connect();
    try {
      // Not a superuser: the registry's role owns its tables (so may drop their triggers, as a
      // tampering test does) but cannot bypass them otherwise.
      await c.query(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${s.user}') THEN CREATE ROLE ${s.user} LOGIN CREATEDB PASSWORD '${s.password}'; END IF; END $$`);
      if (!(await c.query('SELECT 1 FROM pg_database WHERE datname = $1', ['paddock'])).rowCount) await c.query(`CREATE DATABASE paddock OWNER ${s.user}`);
    } finally {
      await c.end();
    }
    writeFileSync(`${recordFile()}.tmp`, JSON.stringify(s, null, 2));
    renameSync(`${recordFile()}.tmp`, recordFile());
    return { service: s, started: true };
  });
}

let ensured: Promise<PostgresService> | undefined;

/** The running instance, started here first when it is not (no global setup): for test helpers. */
export function ensurePostgres(): Promise<PostgresService> {
  ensured ??= startPostgres().then((r) => r.service);
  ensured.catch(() => (ensured = undefined));
  return ensured;
}

/** Stops the instance (fast shutdown: sessions are ended). For the global teardown, when it started it. */
export function stopPostgres(s: PostgresService): void {
  if (existsSync(join(s.dataDir, 'postmaster.pid'))) pgRun('pg_ctl', ['stop', '-D', s.dataDir, '-m', 'fast', '-w', '-t', '60']);
}

/** A database name PostgreSQL takes unquoted: lower case letters, digits and _, at most 63 bytes. */
function dbName(name: string): string {
  const n = name.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  return (/^[a-z_]/.test(n) ? n : `t_${n}`).slice(0, 63);
}

/**
 * A new, empty database `name` (made safe for PostgreSQL; one left by an earlier run is dropped
 * first) owned by the registry's user; returns its URL. Starts PostgreSQL when needed.
 */
export async function createTestDatabase(name: string): Promise<string> {
  const s = await ensurePostgres();
  const db = dbName(name);
  const c = adminClient(s);
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    // template0: nothing another session does to template1 can make CREATE DATABASE fail ("being accessed by other users").
    await c.query(`CREATE DATABASE ${db} OWNER ${s.user} TEMPLATE template0`);
  } finally {
    await c.end();
  }
  return postgresUrl(db, s);
}

/** Drops database `name` (ending its sessions, child processes' included). */
export async function dropTestDatabase(name: string): Promise<void> {
  const s = await ensurePostgres();
  const c = adminClient(s);
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${dbName(name)} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
