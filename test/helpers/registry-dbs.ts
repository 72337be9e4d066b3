/**
 * Runs a registry test suite against both databases: `forEachRegistryDb(fn)` declares the suite
 * twice, under describe('sqlite') and describe('postgres'), as the runner contract suite does for
 * every runner. Each registry a test asks for is new and empty (a temporary SQLite file, or a
 * database of its own on the tests' PostgreSQL, ./postgres-service.ts), so suites and tests never
 * see each other's rows. PostgreSQL is started here when the global setup did not (never skipped).
 *
 * `bundleWorker(entry)` makes a TypeScript file runnable as a child process (node cannot import
 * our sources directly: they import `./x.js` for `./x.ts`), for tests where several real processes
 * use one registry.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeEach, describe } from 'vitest';
import { openRegistryDb, type RegistryDb } from '../../src/registry/db.js';
import { openSqliteRegistry } from '../../src/registry/sqlite-db.js';
import { openPostgresRegistry } from '../../src/registry/postgres-db.js';
import { ROOT, tempDir } from './fixtures.js';
import { createTestDatabase, dropTestDatabase } from './postgres-service.js';

export type RegistryDbKind = 'sqlite' | 'postgres';
export const REGISTRY_DB_KINDS: readonly RegistryDbKind[] = ['sqlite', 'postgres'];

/** What a suite body gets: new registries of one kind, opened and closed for it. */
export interface RegistryDbTarget {
  readonly kind: RegistryDbKind;
  /** A new, empty, unmigrated registry; its spec (SQLite file path or PostgreSQL URL), as openRegistryDb, Registry.open and child processes take it. */
  fresh(): Promise<string>;
  /** Opens `spec` through openRegistryDb (migrations applied) — by default a fresh registry; closed after the test. */
  open(spec?: string): Promise<RegistryDb>;
  /** Opens `spec` with the adapter alone, migrations not applied (for migration tests); closed after the test. */
  openUnmigrated(spec: string): Promise<RegistryDb>;
  /** The spec of the registry the last fresh() or open() without a spec made. */
  readonly spec: string;
}

let serial = 0;

/**
 * Declares `fn`'s tests twice, under describe('sqlite') and describe('postgres'); `fn` gets the
 * target to make registries from. Databases and files are removed after the suite.
 */
export function forEachRegistryDb(fn: (target: RegistryDbTarget) => void): void {
  for (const kind of REGISTRY_DB_KINDS) {
    describe(kind, () => {
      // Registries opened in a test (or its beforeEach) close after it; those opened in beforeAll, after the suite.
      const openedInTest: RegistryDb[] = [];
      const openedInSuite: RegistryDb[] = [];
      let inTest = false;
      const databases: string[] = [];
      let files: ReturnType<typeof tempDir> | undefined;
      let last: string | undefined;

      async function fresh(): Promise<string> {
        const n = ++serial;
        if (kind === 'sqlite') {
          files ??= tempDir('paddock-registry-');
          last = join(files.dir, `registry-${n}.sqlite`);
        } else {
          // The process id keeps test files running at once (vitest forks) apart.
          const name = `reg_${process.pid}_${n}`;
          databases.push(name);
          last = await createTestDatabase(name);
        }
        return last;
      }
      const track = (db: RegistryDb): RegistryDb => ((inTest ? openedInTest : openedInSuite).push(db), db);
      const target: RegistryDbTarget = {
        kind,
        fresh,
        async open(spec) {
          return track(await openRegistryDb(spec ?? (await fresh())));
        },
        async openUnmigrated(spec) {
          return track(kind === 'sqlite' ? openSqliteRegistry(spec) : await openPostgresRegistry(spec));
        },
        get spec() {
          if (!last) throw new Error('no registry yet: call fresh() or open() first');
          return last;
        },
      };

      // Registered before fn's hooks: vitest runs after-hooks in reverse (sequence.hooks 'stack'),
      // so fn's own afterEach/afterAll still find their registries open.
      beforeEach(() => {
        inTest = true;
      });
      afterEach(async () => {
        await Promise.all(openedInTest.splice(0).map((db) => db.close().catch(() => undefined)));
        inTest = false;
      });
      afterAll(async () => {
        await Promise.all(openedInSuite.splice(0).map((db) => db.close().catch(() => undefined)));
        for (const name of databases.splice(0)) await dropTestDatabase(name);
        files?.cleanup();
      });
      fn(target);
    });
  }
}

const bundles = new Map<string, Promise<string>>();

/**
 * Bundles the TypeScript file `entryTs` (esbuild; native and driver packages stay external, found
 * in node_modules) into build/test-workers/<name>-<content hash>.mjs and returns that path, to run
 * as `spawn(process.execPath, [path, ...args])`. The file is written whole (rename), so test files
 * bundling the same worker at once never run a half-written one.
 */
export function bundleWorker(entryTs: string): Promise<string> {
  const entry = resolve(ROOT, entryTs);
  let out = bundles.get(entry);
  if (!out) {
    out = (async () => {
      const result = await build({
        absWorkingDir: ROOT,
        entryPoints: [entry],
        bundle: true,
        write: false,
        format: 'esm',
        platform: 'node',
        target: 'node22',
        external: ['better-sqlite3', 'pg', 'pg-native', '@duckdb/node-api', 'onnxruntime-node', 'sharp', 'dockerode', 'ssh2', 'cpu-features'],
        // Bundled CommonJS code calls require(); ESM output has none of its own.
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
        logLevel: 'silent',
      });
      const code = result.outputFiles[0]!.contents;
      const dir = join(ROOT, 'build', 'test-workers');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${basename(entry).replace(/\.tsx?$/, '')}-${createHash('sha256').update(code).digest('hex').slice(0, 12)}.mjs`);
      if (!existsSync(file)) {
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, code);
        renameSync(tmp, file);
      }
      return file;
    })();
    bundles.set(entry, out);
    out.catch(() => bundles.delete(entry));
  }
  return out;
}
