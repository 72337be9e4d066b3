/**
 * The host pool: runs many independent jobs (a sweep of scenario runs, a batch of benchmarks)
 * over several Docker hosts, from the job queue in the run store (src/store/job-queue.ts).
 *
 * - placement: a job goes to a healthy host that has every label it requires, enough GPUs and a
 *   free slot; the host with the most free slots wins, and a host that just failed the job is
 *   tried last;
 * - per-host concurrency: `slots` jobs at once on each host;
 * - host failures (daemon gone, SSH dropped: StepResult.hostFailure) are recorded on the
 *   attempt; the host is set aside and probed again after a backoff that doubles per failure,
 *   and the job is queued again after its own backoff, up to its max_host_failures;
 * - a job's own failure (non-zero exit, out of memory) is final: running it again elsewhere
 *   would give the same answer;
 * - every transition is a guarded transaction in the store: no job is lost or finished twice,
 *   and an interrupted run resumes (recover() requeues what a dead process left running).
 */
import type { Event } from '../src/schema/events.js';
import type { JobQueue, JobRow, JobState } from '../src/store/job-queue.js';
import type { Runner, StepResult, StepSpec } from '../src/pipeline/runner.js';

export interface PoolHost {
  name: string;
  labels: Record<string, string>;
  slots: number;
  gpus: number;
  runner: Runner;
  /** Resolves when the host answers (Docker ping); rejects with why not. */
  probe(): Promise<void>;
}

/** What a job runs: a step spec without the ids the pool fills in. */
export type JobSpec = Omit<StepSpec, 'runId' | 'stepId' | 'fn'>;

export interface PoolOptions {
  /** First retry delay of a job after a host failure, doubled per failure; default 500 ms. */
  retryBackoffMs?: number;
  /** First delay before a failed host is probed again, doubled per failure, capped at 30 s; default 1000 ms. */
  hostBackoffMs?: number;
  /** Fail the remaining jobs when no host has been usable for this long; default 120 s. */
  noHostTimeoutMs?: number;
}

export interface PoolCallbacks {
  signal: AbortSignal;
  /** Every event of every attempt, with the job and attempt it belongs to. */
  onEvent?(jobId: string, attempt: number, event: Event): void;
  /** A job changed state (claimed, finished, queued again). */
  onJob?(job: { id: string; attempt: number; host: string; state: JobState | 'running'; error?: string; hostFailure?: boolean }): void;
  /** A host was set aside or came back. */
  onHost?(host: { name: string; healthy: boolean; error?: string }): void;
}

export interface PoolSummary {
  succeeded: number;
  failed: number;
  queued: number;
  cancelled: boolean;
}

interface HostState {
  host: PoolHost;
  running: number;
  gpusInUse: number;
  healthy: boolean;
  failures: number;
  probeAt: number;
  lastError?: string;
  probing: boolean;
}

export class HostPool {
  private readonly hosts: HostState[];
  private readonly retryBackoffMs: number;
  private readonly hostBackoffMs: number;
  private readonly noHostTimeoutMs: number;

  constructor(
    private readonly queue: JobQueue,
    hosts: readonly PoolHost[],
    opts: PoolOptions = {},
  ) {
    if (hosts.length === 0) throw new Error('a host pool needs at least one host');
    this.hosts = hosts.map((host) => ({ host, running: 0, gpusInUse: 0, healthy: true, failures: 0, probeAt: 0, probing: false }));
    this.retryBackoffMs = opts.retryBackoffMs ?? 500;
    this.hostBackoffMs = opts.hostBackoffMs ?? 1000;
    this.noHostTimeoutMs = opts.noHostTimeoutMs ?? 120_000;
  }

  /** Hosts that could ever take this job (labels and GPU capacity). */
  private eligible(job: JobRow): HostState[] {
    const requires = JSON.parse(job.requires) as Record<string, string>;
    return this.hosts.filter((h) => h.host.gpus >= job.gpus && Object.entries(requires).every(([k, v]) => h.host.labels[k] === v));
  }

  private place(job: JobRow, avoid: string | undefined): HostState | undefined {
    const free = this.eligible(job).filter((h) => h.healthy && h.running < h.host.slots && h.host.gpus - h.gpusInUse >= job.gpus);
    free.sort((a, b) => Number(a.host.name === avoid) - Number(b.host.name === avoid) || b.host.slots - b.running - (a.host.slots - a.running) || (a.host.name < b.host.name ? -1 : 1));
    return free[0];
  }

  private setAside(h: HostState, error: string, cb: PoolCallbacks): void {
    h.failures += 1;
    h.lastError = error;
    h.probeAt = Date.now() + Math.min(30_000, this.hostBackoffMs * 2 ** (h.failures - 1));
    if (h.healthy) {
      h.healthy = false;
      cb.onHost?.({ name: h.host.name, healthy: false, error });
    }
  }

  /** Runs the run's queued jobs to the end (or until aborted); returns the counts. */
  async run(runId: string, cb: PoolCallbacks): Promise<PoolSummary> {
    const q = this.queue;
    // Attempts a dead paddock left running: their jobs go back to the queue, their containers away.
    if (q.recover(runId).length > 0) {
      await Promise.all(this.hosts.map((h) => h.host.runner.sweep?.(runId).catch((err: Error) => this.setAside(h, err.message, cb))));
    }
    for (const j of q.jobs(runId)) {
      if (j.state === 'queued' && this.eligible(j).length === 0) {
        const attempt = q.claim(runId, j.job_id, '(none)')!;
        q.finish(runId, j.job_id, attempt, { outcome: 'failed', error: `no host in the pool has ${describeNeeds(j)}` });
      }
    }
    const inFlight = new Set<Promise<void>>();
    let wake: () => void = () => undefined;
    const wakeUp = () => wake();
    cb.signal.addEventListener('abort', wakeUp, { once: true });
    let noHostSince: number | undefined;
    const lastHost = new Map<string, string>();

    const runJob = async (job: JobRow, h: HostState, attempt: number) => {
      const spec = { ...(JSON.parse(job.spec) as JobSpec), runId, stepId: `job:${job.job_id}`, labels: { 'paddock.job': job.job_id } };
      cb.onJob?.({ id: job.job_id, attempt, host: h.host.name, state: 'running' });
      let result: StepResult;
      try {
        result = await h.host.runner.run(spec, {
          signal: cb.signal,
          emit: (e) => cb.onEvent?.(job.job_id, attempt, e),
          onContainer: ({ container }) => q.setContainer(runId, job.job_id, attempt, container),
        });
      } catch (err) {
        result = { status: 'failed', error: (err as Error).message, protocolErrors: 0 };
      }
      h.running -= 1;
      h.gpusInUse -= job.gpus;
      const now = Date.now();
      let end: Parameters<JobQueue['finish']>[3];
      if (result.status === 'succeeded') {
        end = { outcome: 'succeeded', exitCode: result.exitCode };
        h.failures = 0;
      } else if (result.status === 'cancelled') end = { outcome: 'cancelled', error: result.error };
      else if (result.hostFailure) {
        this.setAside(h, result.error ?? 'host failure', cb);
        lastHost.set(job.job_id, h.host.name);
        end = { outcome: 'host-failed', error: result.error, retryAt: now + this.retryBackoffMs * 2 ** job.host_failures };
      } else end = { outcome: 'failed', error: result.error, exitCode: result.exitCode };
      const { state } = q.finish(runId, job.job_id, attempt, end, now);
      if (state) cb.onJob?.({ id: job.job_id, attempt, host: h.host.name, state, error: result.error, hostFailure: result.hostFailure });
    };

    const probe = (h: HostState) => {
      h.probing = true;
      h.host
        .probe()
        .then(
          () => {
            h.healthy = true;
            h.failures = 0;
            cb.onHost?.({ name: h.host.name, healthy: true });
          },
          (err: Error) => this.setAside(h, err.message, cb),
        )
        .finally(() => {
          h.probing = false;
          wakeUp();
        });
    };

    for (;;) {
      const now = Date.now();
      for (const h of this.hosts) if (!h.healthy && !h.probing && now >= h.probeAt && !cb.signal.aborted) probe(h);
      if (!cb.signal.aborted) {
        const capacity = this.hosts.reduce((n, h) => n + (h.healthy ? h.host.slots - h.running : 0), 0);
        if (capacity > 0) {
          for (const job of q.ready(runId, now, Math.max(16, capacity * 4))) {
            const h = this.place(job, lastHost.get(job.job_id));
            if (!h) continue;
            const attempt = q.claim(runId, job.job_id, h.host.name);
            if (attempt === undefined) continue;
            h.running += 1;
            h.gpusInUse += job.gpus;
            const p = runJob(job, h, attempt).finally(() => {
              inFlight.delete(p);
              wakeUp();
            });
            inFlight.add(p);
          }
        }
      }
      const counts = q.counts(runId);
      if (inFlight.size === 0 && (cb.signal.aborted || counts.queued === 0)) break;
      // Nothing can run anywhere: give up after noHostTimeoutMs.
      if (inFlight.size === 0 && counts.queued > 0 && this.hosts.every((h) => !h.healthy)) {
        noHostSince ??= now;
        if (now - noHostSince > this.noHostTimeoutMs) {
          const why = this.hosts.map((h) => `${h.host.name}: ${h.lastError ?? 'unreachable'}`).join('; ');
          for (const j of q.jobs(runId).filter((x) => x.state === 'queued')) {
            const attempt = q.claim(runId, j.job_id, '(none)')!;
            q.finish(runId, j.job_id, attempt, { outcome: 'failed', error: `no host usable for ${Math.round(this.noHostTimeoutMs / 1000)} s (${why})` });
          }
          continue;
        }
      } else noHostSince = undefined;
      const nextJob = q.nextReadyAt(runId);
      const nextProbe = Math.min(...this.hosts.filter((h) => !h.healthy && !h.probing).map((h) => h.probeAt));
      const until = Math.min(nextJob !== undefined && nextJob > now ? nextJob : Infinity, nextProbe, now + 1000);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(5, until - now));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    cb.signal.removeEventListener('abort', wakeUp);
    const c = q.counts(runId);
    return { succeeded: c.succeeded, failed: c.failed, queued: c.queued, cancelled: cb.signal.aborted };
  }
}

function describeNeeds(j: JobRow): string {
  const r = JSON.parse(j.requires) as Record<string, string>;
  const parts = Object.entries(r).map(([k, v]) => `${k}=${v}`);
  if (j.gpus) parts.push(`${j.gpus} GPU(s)`);
  return parts.join(', ') || 'room for it';
}
