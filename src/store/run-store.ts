/**
 * The run store: SQLite (better-sqlite3, WAL) under `.paddock/` (PADDOCK_HOME overrides).
 *
 * Events are appended, never changed (triggers refuse UPDATE and DELETE on events and
 * approvals); metrics, failures, artifacts and verdicts are materialised from them in the same
 * transaction. Each batch of events is one transaction, so a SIGKILL at any moment leaves the
 * database as of the last committed batch, and `PRAGMA integrity_check` ok.
 *
 * Several processes share one store (a run, a resume, `paddock runs`, the workbench): event
 * sequence numbers are taken inside the insert transaction (BEGIN IMMEDIATE: the write lock is
 * held from the read of MAX(seq) to the commit), a resume claims its run by compare-and-set in one
 * such transaction (claimRun), read-only commands open the store read-only, and nothing here
 * removes another live process's files (cas.ts sweep).
 *
 * A store sqlite cannot read (truncated, garbage, not a database, a newer schema) is a
 * StoreError that names the file and what to do, never a stack trace (asStoreError for errors
 * that surface later, in a query).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { PaddockEvent } from '../schema/events.js';
import { ContentStore } from './cas.js';
import { MIGRATIONS } from './migrations.js';
import { testHook } from './test-hooks.js';
import { InputError } from '../files/input-error.js';
import { redactRecipeText, redactValues } from './redact.js';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';
export type StoredStepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

export interface RunRow {
  id: string;
  name: string;
  recipe_path: string;
  recipe_text: string;
  /** The text of the gates file the recipe named, as it was when the run started. */
  gates_text: string | null;
  recipe_sha256: string;
  lineage: string;
  status: RunStatus;
  exit_code: number | null;
  error: string | null;
  host: string;
  pid: number | null;
  actor: string | null;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
  /** The host of the process that holds the run (pid is of that host); null for runs before store schema 7. */
  owner_host: string | null;
  /** The options the run was started (or last resumed) with, as JSON (RunOptions); null before store schema 7. */
  options: string | null;
}

/**
 * What a run was started with besides its recipe, stored with it so that `paddock resume` goes on
 * the same way (unless its own command line says otherwise). --host, --target and the demo's
 * output folder are not here: they rewrite the recipe text, which the run records.
 */
export interface RunOptions {
  gatePolicy?: 'fail' | 'approve' | 'reject';
  /** The gate policy was the demo's default, not given. */
  policyDefaulted?: boolean;
  junit?: string;
  concurrency?: number;
  hostsFile?: string;
  /** --host as given (its effect is in the recipe text); a resume may not change it. */
  host?: string;
}

/** The answer to a claim of a run (claimRun). */
export type Claim =
  | { ok: true; run: RunRow; tookOverFrom?: { pid: number; host: string } }
  | { ok: false; why: 'unknown' | 'succeeded' | 'held'; message: string; run?: RunRow };

export interface StepRow {
  run_id: string;
  step_id: string;
  stage: string;
  kind: string;
  position: number;
  status: StoredStepStatus;
  attempt: number;
  input_digest: string | null;
  runner: string | null;
  host: string | null;
  started_at: number | null;
  ended_at: number | null;
  error: string | null;
  exit_code: number | null;
  reused: number;
  /** 1 when the step ran and skipped its own work (`error` says why); 0 when skipped because a need failed, or not skipped (store schema 8 on). */
  skipped_itself: number;
  pid: number | null;
  container: string | null;
  image: string | null;
}

export interface MetricRow {
  run_id: string;
  step_id: string;
  attempt: number;
  name: string;
  value: number;
  unit: string | null;
  slice: string | null;
  target: string | null;
  ci_lo: number | null;
  ci_hi: number | null;
  ci_level: number | null;
  denominators: string | null;
}

export interface ArtifactRow {
  run_id: string;
  step_id: string;
  attempt: number;
  path: string;
  sha256: string;
  bytes: number;
  role: string;
}

export interface VerdictRow {
  run_id: string;
  /** The node that recorded it: `gate:<gate>` for a gate's own verdict, else the step whose finding it is. */
  step_id: string;
  gate: string;
  verdict: 'pass' | 'fail' | 'review';
  rationale: string;
}

/** A person's triage of a failure: reviewed, a note on it, or filed for data mining (with the note saying what to mine). */
export interface FailureReviewRow {
  id: number;
  run_id: string;
  failure_id: string;
  action: 'reviewed' | 'note' | 'filed';
  note: string | null;
  actor: string;
  at: number;
}

/** A file a run read, as it was when the run recorded it (or why it could not be read). */
export interface RunFileRow {
  id: number;
  run_id: string;
  role: 'slices';
  step_id: string;
  path: string;
  sha256: string | null;
  text: string | null;
  error: string | null;
  recorded_at: number;
}

export interface ApprovalRow {
  id: number;
  run_id: string;
  gate: string;
  decision: 'approved' | 'rejected';
  reason: string | null;
  actor: string;
  subject_digest: string;
  at: number;
}

/**
 * The run store cannot be used: its file is damaged, is not a database, or has a newer schema.
 * An input error (src/files/input-error.ts): its message, which names the file and what to do, is
 * all the user sees, and the command exits 2.
 */
export class StoreError extends InputError {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** `runs.sqlite.corrupt-20261125-200305`: a name to move a damaged store to, that sorts by time. */
function asideName(file: string, now = new Date()): string {
  return `${file}.corrupt-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}

/**
 * The StoreError for an error sqlite raised on the store `file` because the file is damaged or
 * is not a database (SQLITE_CORRUPT, SQLITE_NOTADB and their extended codes), else undefined.
 * Such an error can come at open or at any later query (a truncated file opens, then a read
 * past its end fails), so commands map what they catch through this.
 */
export function asStoreError(err: unknown, file: string): StoreError | undefined {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^SQLITE_(CORRUPT|NOTADB|IOERR_SHORT_READ)/.test(code)) return undefined;
  const aside = asideName(file);
  return new StoreError(
    `the run store ${file} is damaged (${(err as Error).message}): move it aside, and the next paddock command starts an empty one: ` +
      `mv ${file} ${aside} (its -wal and -shm files too, if there); ${basename(aside)} keeps the old runs (sqlite3 .recover may get them back)`,
    file,
  );
}

/** Where the store lives: $PADDOCK_HOME, else ./.paddock. */
export function defaultHome(): string {
  return resolve(process.env.PADDOCK_HOME ?? '.paddock');
}

/** A sortable, readable run id: r-20261125-200305-3fa9c1. */
export function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `r-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** An event as it is stored: which step attempt it belongs to. */
export interface StoredEvent {
  event: PaddockEvent;
  attempt: number;
}

export class RunStore {
  readonly db: Database.Database;
  readonly cas: ContentStore;
  readonly home: string;
  /** The database file: `<home>/runs.sqlite`. */
  readonly file: string;
  readonly readonly: boolean;
  private readonly stmts: ReturnType<RunStore['prepare']>;
  /** Values this run's steps were given as secrets: never written to the store (redact.ts). */
  private readonly secrets = new Set<string>();

  /**
   * Opens (and, writable, creates or migrates) the store. `readonly`: for commands that only
   * look (`paddock runs`, `show`): no write of any kind, no sweep of temp files; a store of an
   * older schema is migrated first by a short writable open, so that the reads find their
   * columns. Throws a StoreError when the file cannot be used.
   */
  constructor(home = defaultHome(), options: { readonly?: boolean } = {}) {
    this.home = home;
    this.file = join(home, 'runs.sqlite');
    this.readonly = options.readonly ?? false;
    if (!this.readonly) mkdirSync(home, { recursive: true });
    let db: Database.Database | undefined;
    try {
      if (this.readonly) {
        db = openDatabase(this.file, true);
        if (schemaVersion(db) < MIGRATIONS.length) {
          db.close();
          db = openDatabase(this.file, false);
          migrateDatabase(db, this.file);
          db.close();
          db = openDatabase(this.file, true);
        }
        checkVersion(schemaVersion(db), this.file);
      } else {
        db = openDatabase(this.file, false);
        migrateDatabase(db, this.file);
      }
      this.db = db;
      this.stmts = this.prepare();
    } catch (err) {
      try {
        db?.close();
      } catch {
        // closing a database that failed to open: nothing more to do
      }
      throw asStoreError(err, this.file) ?? err;
    }
    this.cas = new ContentStore(home);
    if (!this.readonly) this.cas.sweep();
  }

  /** Applies pending migrations, each in its own transaction. Returns the schema version. */
  migrate(): number {
    return migrateDatabase(this.db, this.file);
  }

  private prepare() {
    const db = this.db;
    return {
      insertEvent: db.prepare('INSERT INTO events (run_id, seq, step_id, attempt, type, ts, body) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      insertMetric: db.prepare(
        'INSERT INTO metrics (run_id, seq, step_id, attempt, name, value, unit, slice, target, ci_lo, ci_hi, ci_level, ci_method, denominators) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertFailure: db.prepare(
        'INSERT INTO failures (run_id, seq, step_id, attempt, failure_id, kind, severity, title, evidence, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertArtifact: db.prepare('INSERT INTO artifacts (run_id, seq, step_id, attempt, path, sha256, bytes, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      insertVerdict: db.prepare('INSERT INTO verdicts (run_id, seq, step_id, attempt, gate, verdict, rationale) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      maxSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM events WHERE run_id = ?'),
    };
  }

  // ---- secrets ----------------------------------------------------------------------------

  /** Registers values that must never be written to the store (a step's secret env values). */
  addSecrets(values: Iterable<string>): void {
    // Short values would redact ordinary words and numbers everywhere.
    for (const v of values) if (v.length >= 6) this.secrets.add(v);
  }

  /** The text with every registered secret replaced (redact.ts). */
  redact(text: string): string;
  redact(text: string | null | undefined): string | null | undefined;
  redact(text: string | null | undefined): string | null | undefined {
    return text == null || this.secrets.size === 0 ? text : redactValues(text, this.secrets);
  }

  /** The event with every registered secret replaced: what the terminal may show (headless lines, the workbench). */
  redactEvent<E extends PaddockEvent>(event: E): E {
    if (this.secrets.size === 0) return event;
    const body = JSON.stringify(event);
    const redacted = this.redact(body);
    return redacted === body ? event : (JSON.parse(redacted) as E);
  }

  close(): void {
    this.db.close();
  }

  // ---- runs -------------------------------------------------------------------------------

  createRun(run: {
    id: string;
    name: string;
    recipePath: string;
    recipeText: string;
    recipeSha256: string;
    lineage: unknown;
    host: string;
    actor: string;
    gatesText?: string;
    options?: RunOptions;
  }): void {
    const now = Date.now();
    // The recipe's secret env values are not kept (redact.ts); recipe_sha256 is of the real text.
    const recipeText = this.redact(redactRecipeText(run.recipeText).text);
    this.db
      .prepare(
        `INSERT INTO runs (id, name, recipe_path, recipe_text, recipe_sha256, lineage, status, host, pid, actor, created_at, updated_at, gates_text, owner_host, options)
         VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(run.id, run.name, run.recipePath, recipeText, run.recipeSha256, JSON.stringify(run.lineage), run.host, process.pid, run.actor, now, now, run.gatesText ?? null, ownerHost(), run.options ? JSON.stringify(run.options) : null);
    testHook('store.run-created');
  }

  /**
   * Claims a run for this process (`paddock resume`), in one transaction that holds the write
   * lock from the read to the write (BEGIN IMMEDIATE), and writes by compare-and-set on the
   * status, pid and owner host it read: of any number of processes claiming one run at once,
   * exactly one gets it. A run held by a live process is refused with the reason; one whose
   * holder died (a SIGKILLed paddock) is taken over. A holder on another host cannot be checked
   * from here and is refused. `isAlive` tells whether a pid of this host lives.
   */
  claimRun(idOrPrefix: string, isAlive: (pid: number) => boolean, owner: { pid?: number; host?: string } = {}): Claim {
    const pid = owner.pid ?? process.pid;
    const host = owner.host ?? ownerHost();
    return this.db
      .transaction((): Claim => {
        const row = this.findRun(idOrPrefix);
        if (!row) return { ok: false, why: 'unknown', message: `no run "${idOrPrefix}" in ${this.home} (paddock runs lists them)` };
        if (row.status === 'succeeded') return { ok: false, why: 'succeeded', message: `run ${row.id} already succeeded; nothing to resume`, run: row };
        const heldBy = row.owner_host ?? row.host;
        let tookOverFrom: { pid: number; host: string } | undefined;
        if (row.status === 'running' && row.pid !== null && !(row.pid === pid && heldBy === host)) {
          if (heldBy !== host) {
            return { ok: false, why: 'held', run: row, message: `run ${row.id} is held by pid ${row.pid} on host ${heldBy}, which this host cannot check; resume it there` };
          }
          if (isAlive(row.pid)) return { ok: false, why: 'held', run: row, message: `run ${row.id} is still running (pid ${row.pid}); not resumed twice` };
          tookOverFrom = { pid: row.pid, host: heldBy };
        }
        const now = Date.now();
        const changed = this.db
          .prepare(
            "UPDATE runs SET status = 'running', pid = ?, owner_host = ?, updated_at = ?, ended_at = NULL, exit_code = NULL, error = NULL WHERE id = ? AND status = ? AND pid IS ? AND owner_host IS ?",
          )
          .run(pid, host, now, row.id, row.status, row.pid, row.owner_host).changes;
        // Cannot happen under the write lock; said rather than assumed.
        if (changed !== 1) return { ok: false, why: 'held', run: row, message: `run ${row.id} changed while it was being claimed; try again` };
        testHook('store.run-claimed');
        return { ok: true, run: this.getRun(row.id)!, tookOverFrom };
      })
      .immediate();
  }

  /** The options a run was started with (empty for runs before store schema 7). */
  runOptions(id: string): RunOptions {
    const text = this.getRun(id)?.options;
    if (!text) return {};
    try {
      return JSON.parse(text) as RunOptions;
    } catch {
      return {};
    }
  }

  /** Records the options a run goes on with (a resume whose command line changed some). */
  setRunOptions(id: string, options: RunOptions): void {
    this.db.prepare('UPDATE runs SET options = ? WHERE id = ?').run(JSON.stringify(options), id);
  }

  finishRun(id: string, status: Exclude<RunStatus, 'running'>, exitCode: number, error?: string): void {
    const now = Date.now();
    this.db.prepare('UPDATE runs SET status = ?, exit_code = ?, error = ?, updated_at = ?, ended_at = ? WHERE id = ?').run(status, exitCode, this.redact(error) ?? null, now, now, id);
    testHook('store.run-finished');
  }

  getRun(id: string): RunRow | undefined {
    return this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
  }

  /** Finds a run by its id or a unique prefix of it. */
  findRun(idOrPrefix: string): RunRow | undefined {
    const exact = this.getRun(idOrPrefix);
    if (exact) return exact;
    const rows = this.db.prepare("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2").all(`${idOrPrefix.replace(/[%_\\]/g, '\\$&')}%`) as RunRow[];
    return rows.length === 1 ? rows[0] : undefined;
  }

  listRuns(limit = 50): RunRow[] {
    return this.db.prepare('SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT ?').all(limit) as RunRow[];
  }

  /** When the store gained a migration (ms), or undefined if it has not: runs created before it could not record what it added. */
  migrationAppliedAt(version: number): number | undefined {
    const row = this.db.prepare('SELECT applied_at FROM schema_migrations WHERE version = ?').get(version) as { applied_at: number } | undefined;
    return row?.applied_at;
  }

  // ---- files a run read -------------------------------------------------------------------

  /** Appends the text (or the read error) of a file a run read; earlier records stay. */
  recordRunFile(f: { runId: string; role: RunFileRow['role']; stepId: string; path: string } & ({ text: string; sha256: string } | { error: string })): void {
    const text = 'text' in f ? f.text : null;
    this.db
      .prepare('INSERT INTO run_files (run_id, role, step_id, path, sha256, text, error, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(f.runId, f.role, f.stepId, f.path, 'text' in f ? f.sha256 : null, text, 'error' in f ? f.error : null, Date.now());
  }

  /** The latest record of each (role, step) file of a run, in step order of first record. */
  runFiles(runId: string, role?: RunFileRow['role']): RunFileRow[] {
    const rows = (role
      ? this.db.prepare('SELECT * FROM run_files WHERE run_id = ? AND role = ? ORDER BY id').all(runId, role)
      : this.db.prepare('SELECT * FROM run_files WHERE run_id = ? ORDER BY id').all(runId)) as RunFileRow[];
    const latest = new Map<string, RunFileRow>();
    for (const r of rows) latest.set(`${r.role}\0${r.step_id}`, r);
    return [...latest.values()];
  }

  // ---- steps ------------------------------------------------------------------------------

  /** Records the planned steps of a run (idempotent: existing rows are kept). */
  planSteps(runId: string, steps: readonly { id: string; stage: string; kind: string }[]): void {
    const ins = this.db.prepare(
      "INSERT INTO steps (run_id, step_id, stage, kind, position, status, attempt) VALUES (?, ?, ?, ?, ?, 'pending', 0) ON CONFLICT (run_id, step_id) DO UPDATE SET position = excluded.position",
    );
    this.db.transaction(() => steps.forEach((s, i) => ins.run(runId, s.id, s.stage, s.kind, i)))();
  }

  getSteps(runId: string): StepRow[] {
    return this.db.prepare('SELECT * FROM steps WHERE run_id = ? ORDER BY position').all(runId) as StepRow[];
  }

  getStep(runId: string, stepId: string): StepRow | undefined {
    return this.db.prepare('SELECT * FROM steps WHERE run_id = ? AND step_id = ?').get(runId, stepId) as StepRow | undefined;
  }

  /** Starts a new attempt of a step; returns its number. */
  startStep(runId: string, stepId: string, info: { inputDigest: string; runner: string; host: string }): number {
    const row = this.getStep(runId, stepId);
    const attempt = (row?.attempt ?? 0) + 1;
    this.db
      .prepare("UPDATE steps SET status = 'running', attempt = ?, input_digest = ?, runner = ?, host = ?, started_at = ?, ended_at = NULL, error = NULL, exit_code = NULL, reused = 0, skipped_itself = 0, pid = NULL WHERE run_id = ? AND step_id = ?")
      .run(attempt, info.inputDigest, info.runner, info.host, Date.now(), runId, stepId);
    testHook('store.step-started');
    return attempt;
  }

  /** Ends a step's attempt; 'skipped' is a step that skipped its own work, `error` its reason. */
  finishStep(runId: string, stepId: string, status: 'succeeded' | 'failed' | 'cancelled' | 'skipped', error?: string, exitCode?: number): void {
    this.db
      .prepare('UPDATE steps SET status = ?, error = ?, exit_code = ?, ended_at = ?, skipped_itself = ? WHERE run_id = ? AND step_id = ?')
      .run(status, this.redact(error) ?? null, exitCode ?? null, Date.now(), status === 'skipped' ? 1 : 0, runId, stepId);
    testHook('store.step-finished');
  }

  /** Records the container a step runs in and the image it runs, by id. */
  setStepContainer(runId: string, stepId: string, container: string, imageId: string): void {
    this.db.prepare('UPDATE steps SET container = ?, image = ? WHERE run_id = ? AND step_id = ?').run(container, imageId, runId, stepId);
  }

  /** Records the host a step's attempt was placed on (the host pool decides it after the step started). */
  setStepHost(runId: string, stepId: string, host: string): void {
    this.db.prepare('UPDATE steps SET host = ? WHERE run_id = ? AND step_id = ?').run(host, runId, stepId);
  }

  /** Records the process id of a step's attempt (to find orphans after a crash). */
  setStepPid(runId: string, stepId: string, pid: number): void {
    this.db.prepare('UPDATE steps SET pid = ? WHERE run_id = ? AND step_id = ?').run(pid, runId, stepId);
  }

  /** Marks a step as skipped without running it (blocked by a failed dependency or gate). */
  skipStep(runId: string, stepId: string, why: string): void {
    this.db.prepare("UPDATE steps SET status = 'skipped', error = ?, ended_at = ?, skipped_itself = 0 WHERE run_id = ? AND step_id = ?").run(this.redact(why), Date.now(), runId, stepId);
  }

  /** Marks a succeeded (or self-skipped) step as reused by a resume (its inputs had not changed). */
  markReused(runId: string, stepId: string): void {
    this.db.prepare('UPDATE steps SET reused = reused + 1 WHERE run_id = ? AND step_id = ?').run(runId, stepId);
  }

  // ---- events -----------------------------------------------------------------------------

  /**
   * Appends a batch of events in one transaction and materialises metrics, failures, artifacts
   * and verdicts. Artifact files must already be in the CAS. Sequence numbers come from the
   * database inside the transaction, which holds the write lock from the start (IMMEDIATE): no
   * other process can take the same numbers, and no cache here can go stale.
   */
  appendEvents(runId: string, batch: readonly StoredEvent[]): void {
    if (batch.length === 0) return;
    const st = this.stmts;
    this.db
      .transaction(() => {
        let seq = (st.maxSeq.get(runId) as { s: number }).s;
        for (const { event: raw, attempt } of batch) {
          seq += 1;
          let body = JSON.stringify(raw);
          const redacted = this.redact(body);
          const e = redacted === body ? raw : (JSON.parse(redacted) as PaddockEvent);
          body = redacted;
          const stepId = 'step' in e ? (e.step ?? null) : null;
          st.insertEvent.run(runId, seq, stepId, attempt, e.type, e.ts ?? Date.now(), body);
          switch (e.type) {
            case 'metric':
              st.insertMetric.run(runId, seq, stepId, attempt, e.name, e.value, e.unit ?? null, e.slice ?? null, e.target ?? null, e.ci?.lo ?? null, e.ci?.hi ?? null, e.ci?.level ?? null, e.ci?.method ?? null, e.denominators ? JSON.stringify(e.denominators) : null);
              break;
            case 'failure':
              st.insertFailure.run(runId, seq, stepId, attempt, e.id, e.kind, e.severity, e.title, JSON.stringify(e.evidence), JSON.stringify(e.data));
              break;
            case 'artifact':
              st.insertArtifact.run(runId, seq, stepId, attempt, e.path, e.sha256, e.bytes, e.role);
              break;
            case 'verdict':
              st.insertVerdict.run(runId, seq, stepId, attempt, e.gate, e.verdict, JSON.stringify(e.rationale));
              break;
            default:
              break;
          }
        }
        testHook('store.append');
      })
      .immediate();
  }

  /** Events of a run in order, optionally of one type. */
  events(runId: string, type?: string): (PaddockEvent & { seq: number })[] {
    const rows = (type
      ? this.db.prepare('SELECT seq, body FROM events WHERE run_id = ? AND type = ? ORDER BY seq').all(runId, type)
      : this.db.prepare('SELECT seq, body FROM events WHERE run_id = ? ORDER BY seq').all(runId)) as { seq: number; body: string }[];
    return rows.map((r) => ({ ...(JSON.parse(r.body) as PaddockEvent), seq: r.seq }));
  }

  /** Rows of a materialised table that belong to each step's current attempt, in event order. */
  private currentRows<T>(table: 'metrics' | 'artifacts' | 'verdicts', runId: string, stepId?: string): T[] {
    const sql = `SELECT x.* FROM ${table} x JOIN steps s ON s.run_id = x.run_id AND s.step_id = x.step_id AND s.attempt = x.attempt
       WHERE x.run_id = ? ${stepId ? 'AND x.step_id = ?' : ''} ORDER BY x.seq`;
    return (stepId ? this.db.prepare(sql).all(runId, stepId) : this.db.prepare(sql).all(runId)) as T[];
  }

  /** Metrics of each step's current attempt (what gates and reports use). */
  currentMetrics(runId: string): MetricRow[] {
    return this.currentRows<MetricRow>('metrics', runId);
  }

  /** Artifacts of each step's current attempt. */
  currentArtifacts(runId: string, stepId?: string): ArtifactRow[] {
    return this.currentRows<ArtifactRow>('artifacts', runId, stepId);
  }

  /**
   * Each gate's own verdict, of its current attempt: only what a gate node (`gate:<id>`, kind
   * gate) recorded about itself. A verdict a step printed is that step's finding (stepVerdicts),
   * whatever gate it names: a step cannot pass a gate.
   */
  currentVerdicts(runId: string): VerdictRow[] {
    return this.db
      .prepare(
        `SELECT x.* FROM verdicts x JOIN steps s ON s.run_id = x.run_id AND s.step_id = x.step_id AND s.attempt = x.attempt
         WHERE x.run_id = ? AND s.kind = 'gate' AND x.step_id = 'gate:' || x.gate ORDER BY x.seq`,
      )
      .all(runId) as VerdictRow[];
  }

  /** Verdicts that steps printed about their own work (equivalence per variant), of their current attempts: findings, not gates. */
  stepVerdicts(runId: string): VerdictRow[] {
    return this.db
      .prepare(
        `SELECT x.* FROM verdicts x JOIN steps s ON s.run_id = x.run_id AND s.step_id = x.step_id AND s.attempt = x.attempt
         WHERE x.run_id = ? AND NOT (s.kind = 'gate' AND x.step_id = 'gate:' || x.gate) ORDER BY x.seq`,
      )
      .all(runId) as VerdictRow[];
  }

  failureCount(runId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM failures WHERE run_id = ?').get(runId) as { n: number }).n;
  }

  // ---- failure triage ---------------------------------------------------------------------

  /**
   * Records a person's triage of a failure (append-only, with who and when): reviewed, a note,
   * or filed for data mining; a note and a filing need their text.
   */
  recordFailureReview(r: { runId: string; failureId: string; action: FailureReviewRow['action']; note?: string; actor: string; at?: number }): void {
    const note = r.note?.trim() || undefined;
    if (r.action !== 'reviewed' && !note) throw new InputError(`a failure review "${r.action}" of ${r.failureId} needs a note`);
    this.db.prepare('INSERT INTO failure_reviews (run_id, failure_id, action, note, actor, at) VALUES (?, ?, ?, ?, ?, ?)').run(r.runId, r.failureId, r.action, note ?? null, r.actor, r.at ?? Date.now());
  }

  /** A run's failure reviews, notes and filings, in the order they were recorded. */
  failureReviews(runId: string): FailureReviewRow[] {
    return this.db.prepare('SELECT * FROM failure_reviews WHERE run_id = ? ORDER BY id').all(runId) as FailureReviewRow[];
  }

  // ---- approvals --------------------------------------------------------------------------

  recordApproval(a: { runId: string; gate: string; decision: 'approved' | 'rejected'; reason?: string; actor: string; subjectDigest: string }): void {
    this.db
      .prepare('INSERT INTO approvals (run_id, gate, decision, reason, actor, subject_digest, at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(a.runId, a.gate, a.decision, a.reason ?? null, a.actor, a.subjectDigest, Date.now());
  }

  /** The latest answer for a gate about exactly this subject (same measured values). */
  findApproval(runId: string, gate: string, subjectDigest: string): ApprovalRow | undefined {
    return this.db
      .prepare('SELECT * FROM approvals WHERE run_id = ? AND gate = ? AND subject_digest = ? ORDER BY id DESC LIMIT 1')
      .get(runId, gate, subjectDigest) as ApprovalRow | undefined;
  }

  approvals(runId: string): ApprovalRow[] {
    return this.db.prepare('SELECT * FROM approvals WHERE run_id = ? ORDER BY id').all(runId) as ApprovalRow[];
  }

  integrityCheck(): string {
    return (this.db.pragma('integrity_check', { simple: true }) as string) ?? 'unknown';
  }
}

/** This host's name, as runs record who holds them. */
export function ownerHost(): string {
  return hostname();
}

function openDatabase(file: string, readonly: boolean): Database.Database {
  const db = new Database(file, { readonly, fileMustExist: readonly, timeout: 10_000 });
  try {
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      // WAL with synchronous=NORMAL survives process crashes (SIGKILL) without losing commits;
      // only a power cut can lose the last transactions, never corrupt the file.
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    // Reads the header and the schema: a file that is not a database fails here, at open.
    db.prepare('SELECT COUNT(*) FROM sqlite_master').get();
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function schemaVersion(db: Database.Database): number {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!has) return 0;
  return (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
}

function checkVersion(current: number, file: string): void {
  const latest = MIGRATIONS.length;
  if (current > latest) {
    throw new StoreError(
      `the run store ${file} has schema version ${current}, newer than this paddock's ${latest}: use the newer paddock that wrote it, or move the store aside (mv ${file} ${asideName(file)}) to start an empty one`,
      file,
    );
  }
}

/** Applies pending migrations, each in its own transaction. Returns the schema version. */
function migrateDatabase(db: Database.Database, file: string): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  let current = schemaVersion(db);
  checkVersion(current, file);
  for (const m of MIGRATIONS.slice(current)) {
    // Another process may be migrating the same store: the version is read again under the lock.
    db.transaction(() => {
      if (schemaVersion(db) >= m.version) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    }).immediate();
    current = m.version;
  }
  return current;
}
