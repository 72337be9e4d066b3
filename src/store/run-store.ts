/**
 * The run store: SQLite (better-sqlite3, WAL) under `.paddock/` (PADDOCK_HOME overrides).
 *
 * Events are appended, never changed (triggers refuse UPDATE and DELETE on events and
 * approvals); metrics, failures, artifacts and verdicts are materialised from them in the same
 * transaction. Each batch of events is one transaction, so a SIGKILL at any moment leaves the
 * database as of the last committed batch, and `PRAGMA integrity_check` ok.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { PaddockEvent } from '../schema/events.js';
import { ContentStore } from './cas.js';
import { MIGRATIONS } from './migrations.js';
import { testHook } from './test-hooks.js';

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
}

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
  step_id: string;
  gate: string;
  verdict: 'pass' | 'fail' | 'review';
  rationale: string;
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
  private readonly seqs = new Map<string, number>();
  private readonly stmts: ReturnType<RunStore['prepare']>;

  constructor(home = defaultHome(), options: { readonly?: boolean } = {}) {
    this.home = home;
    mkdirSync(home, { recursive: true });
    this.db = new Database(join(home, 'runs.sqlite'), { readonly: options.readonly ?? false, timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    // WAL with synchronous=NORMAL survives process crashes (SIGKILL) without losing commits;
    // only a power cut can lose the last transactions, never corrupt the file.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    if (!options.readonly) this.migrate();
    this.cas = new ContentStore(home);
    if (!options.readonly) this.cas.sweep();
    this.stmts = this.prepare();
  }

  /** Applies pending migrations, each in its own transaction. Returns the schema version. */
  migrate(): number {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    let current = row.v ?? 0;
    const latest = MIGRATIONS.length;
    if (current > latest) {
      throw new Error(`run store ${this.home} has schema version ${current}, newer than this paddock's ${latest}; upgrade paddock`);
    }
    for (const m of MIGRATIONS.slice(current)) {
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
      })();
      current = m.version;
    }
    return current;
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
  }): void {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO runs (id, name, recipe_path, recipe_text, recipe_sha256, lineage, status, host, pid, actor, created_at, updated_at, gates_text)
         VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)`,
      )
      .run(run.id, run.name, run.recipePath, run.recipeText, run.recipeSha256, JSON.stringify(run.lineage), run.host, process.pid, run.actor, now, now, run.gatesText ?? null);
    testHook('store.run-created');
  }

  /** Marks a run as running again (resume) under this process. */
  reopenRun(id: string): void {
    this.db.prepare("UPDATE runs SET status = 'running', pid = ?, updated_at = ?, ended_at = NULL, exit_code = NULL, error = NULL WHERE id = ?").run(process.pid, Date.now(), id);
  }

  finishRun(id: string, status: Exclude<RunStatus, 'running'>, exitCode: number, error?: string): void {
    const now = Date.now();
    this.db.prepare('UPDATE runs SET status = ?, exit_code = ?, error = ?, updated_at = ?, ended_at = ? WHERE id = ?').run(status, exitCode, error ?? null, now, now, id);
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
      .prepare("UPDATE steps SET status = 'running', attempt = ?, input_digest = ?, runner = ?, host = ?, started_at = ?, ended_at = NULL, error = NULL, exit_code = NULL, reused = 0, pid = NULL WHERE run_id = ? AND step_id = ?")
      .run(attempt, info.inputDigest, info.runner, info.host, Date.now(), runId, stepId);
    testHook('store.step-started');
    return attempt;
  }

  finishStep(runId: string, stepId: string, status: 'succeeded' | 'failed' | 'cancelled', error?: string, exitCode?: number): void {
    this.db
      .prepare('UPDATE steps SET status = ?, error = ?, exit_code = ?, ended_at = ? WHERE run_id = ? AND step_id = ?')
      .run(status, error ?? null, exitCode ?? null, Date.now(), runId, stepId);
    testHook('store.step-finished');
  }

  /** Records the process id of a step's attempt (to find orphans after a crash). */
  /** Records the container a step runs in and the image it runs, by id. */
  setStepContainer(runId: string, stepId: string, container: string, imageId: string): void {
    this.db.prepare('UPDATE steps SET container = ?, image = ? WHERE run_id = ? AND step_id = ?').run(container, imageId, runId, stepId);
  }

  setStepPid(runId: string, stepId: string, pid: number): void {
    this.db.prepare('UPDATE steps SET pid = ? WHERE run_id = ? AND step_id = ?').run(pid, runId, stepId);
  }

  /** Marks a step as skipped (blocked by a failed dependency or gate). */
  skipStep(runId: string, stepId: string, why: string): void {
    this.db.prepare("UPDATE steps SET status = 'skipped', error = ?, ended_at = ? WHERE run_id = ? AND step_id = ?").run(why, Date.now(), runId, stepId);
  }

  /** Marks a succeeded step as reused by a resume (its inputs had not changed). */
  markReused(runId: string, stepId: string): void {
    this.db.prepare('UPDATE steps SET reused = reused + 1 WHERE run_id = ? AND step_id = ?').run(runId, stepId);
  }

  // ---- events -----------------------------------------------------------------------------

  private nextSeq(runId: string): number {
    let s = this.seqs.get(runId);
    if (s === undefined) s = (this.stmts.maxSeq.get(runId) as { s: number }).s;
    s += 1;
    this.seqs.set(runId, s);
    return s;
  }

  /**
   * Appends a batch of events in one transaction and materialises metrics, failures, artifacts
   * and verdicts. Artifact files must already be in the CAS.
   */
  appendEvents(runId: string, batch: readonly StoredEvent[]): void {
    if (batch.length === 0) return;
    const st = this.stmts;
    const saved = this.seqs.get(runId);
    try {
      this.db.transaction(() => {
        for (const { event: e, attempt } of batch) {
          const seq = this.nextSeq(runId);
          const stepId = 'step' in e ? (e.step ?? null) : null;
          st.insertEvent.run(runId, seq, stepId, attempt, e.type, e.ts ?? Date.now(), JSON.stringify(e));
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
      })();
    } catch (err) {
      if (saved === undefined) this.seqs.delete(runId);
      else this.seqs.set(runId, saved);
      throw err;
    }
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

  /** Verdicts of each gate's current attempt. */
  currentVerdicts(runId: string): VerdictRow[] {
    return this.currentRows<VerdictRow>('verdicts', runId);
  }

  failureCount(runId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM failures WHERE run_id = ?').get(runId) as { n: number }).n;
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
