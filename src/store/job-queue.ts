/**
 * The host pool's job queue, in the run store (tables jobs and job_attempts, migration 3).
 * Every transition is one SQLite transaction guarded by the state it expects, so that a job is
 * claimed by one host at a time and finished once: a late answer from an attempt that was
 * already given up on (its host came back) changes nothing. A run interrupted at any point
 * resumes with recover(): attempts left running by a dead process are marked interrupted and
 * their jobs queued again.
 */
import type Database from 'better-sqlite3';
import { testHook } from './test-hooks.js';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';
export type AttemptOutcome = 'succeeded' | 'failed' | 'host-failed' | 'interrupted' | 'cancelled';

export interface JobRow {
  run_id: string;
  job_id: string;
  spec: string;
  requires: string;
  gpus: number;
  state: JobState;
  attempts: number;
  host_failures: number;
  max_host_failures: number;
  not_before: number;
  host: string | null;
  exit_code: number | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export interface AttemptRow {
  run_id: string;
  job_id: string;
  attempt: number;
  host: string;
  container: string | null;
  started_at: number;
  ended_at: number | null;
  outcome: AttemptOutcome | null;
  error: string | null;
}

export interface NewJob {
  id: string;
  /** JSON-able description of what to run (the pool's caller reads it back). */
  spec: unknown;
  /** Labels a host must have. */
  requires?: Record<string, string>;
  gpus?: number;
  /** Host failures tolerated before the job fails; default 3. */
  maxHostFailures?: number;
}

export class JobQueue {
  constructor(private readonly db: Database.Database) {}

  /** Adds jobs; ids already queued for the run are left as they are (so a resumed run may submit again). */
  submit(runId: string, jobs: readonly NewJob[], now = Date.now()): number {
    const ins = this.db.prepare(
      `INSERT OR IGNORE INTO jobs (run_id, job_id, spec, requires, gpus, state, max_host_failures, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
    );
    let added = 0;
    this.db.transaction(() => {
      for (const j of jobs) added += ins.run(runId, j.id, JSON.stringify(j.spec), JSON.stringify(j.requires ?? {}), j.gpus ?? 0, j.maxHostFailures ?? 3, now, now).changes;
    })();
    return added;
  }

  /** Marks attempts left running (by a process that died) interrupted and queues their jobs again. */
  recover(runId: string, now = Date.now()): JobRow[] {
    const stale = this.db.prepare(`SELECT * FROM jobs WHERE run_id = ? AND state = 'running'`).all(runId) as JobRow[];
    this.db.transaction(() => {
      for (const j of stale) {
        this.db.prepare(`UPDATE job_attempts SET outcome = 'interrupted', ended_at = ?, error = 'paddock stopped while it ran' WHERE run_id = ? AND job_id = ? AND attempt = ? AND outcome IS NULL`).run(now, runId, j.job_id, j.attempts);
        this.db.prepare(`UPDATE jobs SET state = 'queued', host = NULL, updated_at = ? WHERE run_id = ? AND job_id = ? AND state = 'running'`).run(now, runId, j.job_id);
      }
    })();
    return stale;
  }

  /** Queued jobs whose backoff has passed, oldest first. */
  ready(runId: string, now: number, limit: number): JobRow[] {
    return this.db.prepare(`SELECT * FROM jobs WHERE run_id = ? AND state = 'queued' AND not_before <= ? ORDER BY not_before, job_id LIMIT ?`).all(runId, now, limit) as JobRow[];
  }

  /** The earliest time a queued job becomes ready, if any is waiting. */
  nextReadyAt(runId: string): number | undefined {
    const r = this.db.prepare(`SELECT MIN(not_before) AS t FROM jobs WHERE run_id = ? AND state = 'queued'`).get(runId) as { t: number | null };
    return r.t ?? undefined;
  }

  /** Claims a queued job for a host; returns the attempt number, or undefined when someone else has it. */
  claim(runId: string, jobId: string, host: string, now = Date.now()): number | undefined {
    return this.db.transaction(() => {
      const r = this.db.prepare(`UPDATE jobs SET state = 'running', host = ?, attempts = attempts + 1, updated_at = ? WHERE run_id = ? AND job_id = ? AND state = 'queued' RETURNING attempts`).get(host, now, runId, jobId) as { attempts: number } | undefined;
      if (!r) return undefined;
      this.db.prepare(`INSERT INTO job_attempts (run_id, job_id, attempt, host, started_at) VALUES (?, ?, ?, ?, ?)`).run(runId, jobId, r.attempts, host, now);
      testHook('job.claimed');
      return r.attempts;
    })();
  }

  setContainer(runId: string, jobId: string, attempt: number, container: string): void {
    this.db.prepare(`UPDATE job_attempts SET container = ? WHERE run_id = ? AND job_id = ? AND attempt = ?`).run(container, runId, jobId, attempt);
  }

  /**
   * Records how an attempt ended and moves the job on: succeeded or failed (final), or back to
   * the queue after a host failure (with `retryAt`) or a cancellation. Only the job's current
   * attempt can move it; returns false (and records nothing on the job) otherwise.
   */
  finish(runId: string, jobId: string, attempt: number, end: { outcome: Exclude<AttemptOutcome, 'interrupted'>; error?: string; exitCode?: number; retryAt?: number }, now = Date.now()): { moved: boolean; state?: JobState } {
    return this.db.transaction(() => {
      this.db.prepare(`UPDATE job_attempts SET outcome = ?, ended_at = ?, error = ? WHERE run_id = ? AND job_id = ? AND attempt = ? AND outcome IS NULL`).run(end.outcome, now, end.error ?? null, runId, jobId, attempt);
      const job = this.db.prepare(`SELECT * FROM jobs WHERE run_id = ? AND job_id = ?`).get(runId, jobId) as JobRow | undefined;
      if (!job || job.state !== 'running' || job.attempts !== attempt) return { moved: false };
      let state: JobState;
      let error = end.error ?? null;
      let notBefore = job.not_before;
      let hostFailures = job.host_failures;
      if (end.outcome === 'succeeded') state = 'succeeded';
      else if (end.outcome === 'failed') state = 'failed';
      else if (end.outcome === 'cancelled') state = 'queued';
      else {
        hostFailures += 1;
        if (hostFailures >= job.max_host_failures) {
          state = 'failed';
          error = `gave up after ${hostFailures} host failure(s); the last: ${end.error ?? 'unknown'}`;
        } else {
          state = 'queued';
          notBefore = end.retryAt ?? now;
        }
      }
      this.db
        .prepare(`UPDATE jobs SET state = ?, host_failures = ?, not_before = ?, exit_code = ?, error = ?, host = CASE WHEN ? = 'queued' THEN NULL ELSE host END, updated_at = ? WHERE run_id = ? AND job_id = ?`)
        .run(state, hostFailures, notBefore, end.exitCode ?? null, error, state, now, runId, jobId);
      testHook('job.finished');
      return { moved: true, state };
    })();
  }

  job(runId: string, jobId: string): JobRow | undefined {
    return this.db.prepare(`SELECT * FROM jobs WHERE run_id = ? AND job_id = ?`).get(runId, jobId) as JobRow | undefined;
  }

  jobs(runId: string): JobRow[] {
    return this.db.prepare(`SELECT * FROM jobs WHERE run_id = ? ORDER BY job_id`).all(runId) as JobRow[];
  }

  attempts(runId: string, jobId?: string): AttemptRow[] {
    return (jobId
      ? this.db.prepare(`SELECT * FROM job_attempts WHERE run_id = ? AND job_id = ? ORDER BY attempt`).all(runId, jobId)
      : this.db.prepare(`SELECT * FROM job_attempts WHERE run_id = ? ORDER BY job_id, attempt`).all(runId)) as AttemptRow[];
  }

  /** Counts of jobs by state. */
  counts(runId: string): Record<JobState, number> {
    const out: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, failed: 0 };
    for (const r of this.db.prepare(`SELECT state, COUNT(*) AS n FROM jobs WHERE run_id = ? GROUP BY state`).all(runId) as { state: JobState; n: number }[]) out[r.state] = r.n;
    return out;
  }
}
