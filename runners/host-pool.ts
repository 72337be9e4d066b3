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
 *
 * Two ways to drive it: run() takes the run's queued jobs to the end (a sweep submitted up front);
 * serve() opens a session that a run's executor submits jobs to as its DAG reaches them and
 * awaits each (the pool runner, createPoolRunner: `host: pool` targets of `paddock run`).
 */
import type { Event } from '../src/schema/events.js';
import type { JobQueue, JobRow, JobState, NewJob } from '../src/store/job-queue.js';
import type { Runner, RunnerContext, StepResult, StepSpec } from '../src/pipeline/runner.js';
import type { PlacementContext } from '../src/pipeline/execute.js';

export interface PoolHost {
  name: string;
  labels: Record<string, string>;
  slots: number;
  gpus: number;
  runner: Runner;
  /** Resolves when the host is ready for jobs again (Docker ping, image there); rejects with why not. */
  probe(): Promise<void>;
  /** Resolves when the host answers (a cheap check while it runs jobs); default: probe(). */
  ping?(): Promise<void>;
  /** The image of a job whose container names none (an empty `image`): hosts may differ in it. */
  image?: string;
  /** The host did not answer when the pool was made: it starts set aside, and is probed. */
  down?: string;
}

/** What a job runs: a step spec without the ids the pool fills in (container.image '' = the host's image). */
export type JobSpec = Omit<StepSpec, 'runId' | 'stepId' | 'fn'>;

export interface PoolOptions {
  /** First retry delay of a job after a host failure, doubled per failure; default 500 ms. */
  retryBackoffMs?: number;
  /** First delay before a failed host is probed again, doubled per failure, capped at 30 s; default 1000 ms. */
  hostBackoffMs?: number;
  /** Fail the remaining jobs when no host has been usable for this long; default 120 s. */
  noHostTimeoutMs?: number;
  /** How often a host that runs jobs is checked (ping); one that does not answer has its attempts given up as host failures. Default 5 s. */
  watchMs?: number;
}

export interface PoolCallbacks {
  signal: AbortSignal;
  /** Every event of every attempt, with the job and attempt it belongs to. */
  onEvent?(jobId: string, attempt: number, event: Event): void;
  /** A job changed state (claimed, finished, queued again). */
  onJob?(job: { id: string; attempt: number; host: string; state: JobState | 'running'; error?: string; hostFailure?: boolean }): void;
  /** A host was set aside or came back. */
  onHost?(host: { name: string; healthy: boolean; error?: string }): void;
  /** An attempt's container was created (its id, the image by reference and by id). */
  onContainer?(jobId: string, attempt: number, info: { container: string; image: string; imageId: string }): void;
}

/** How a job of a session ended, as its waiter sees it. */
export interface PoolJobResult extends StepResult {
  /** The host of its last attempt ("(none)" when no host ever took it). */
  host: string;
  /** Attempts it took, over every host. */
  attempts: number;
}

/** A job of a session: what it runs, plus what must not be stored (the environment: it may hold secrets). */
export interface SessionJob extends NewJob {
  spec: JobSpec;
  /** Given to every attempt, kept in memory only. */
  env?: Readonly<Record<string, string>>;
  /** Every event of every attempt. */
  emit?(attempt: number, event: Event): void;
  /** An attempt was placed on a host. */
  onPlaced?(placed: { host: string; attempt: number }): void;
  /** An attempt failed on its host and the job goes back to the queue. */
  onHostFailure?(failed: { host: string; attempt: number; error: string }): void;
  onContainer?(attempt: number, info: { container: string; image: string; imageId: string }): void;
}

/** A session of the pool for one run (serve()). */
export interface PoolSession {
  /** Queues the job (or takes over the one a dead process left queued under the same id) and resolves when it is done. */
  submit(job: SessionJob): Promise<PoolJobResult>;
  /** Ends the session once its jobs are through (or cancelled by the signal). */
  close(): Promise<PoolSummary>;
}

/** How the loop is driven: by run() (every queued job, until none is left) or a session. */
interface Drive {
  /** Whether a ready job is this drive's to claim. */
  claimable(jobId: string): boolean;
  /** True while more jobs may come (a session not closed yet). */
  open(): boolean;
  /** What the attempt gets beyond its stored spec (the environment). */
  overlay(jobId: string): Partial<JobSpec> | undefined;
  /** Called on every turn of the loop and after every job transition. */
  turn?(): void;
  /** Lets a session wake the loop when a job is submitted or it closes. */
  setWake?(wake: () => void): void;
  /** Told how each attempt ended. */
  ended?(jobId: string, result: StepResult): void;
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
  /** When the host is next checked while it runs jobs (watchMs), and whether a check is out. */
  watchAt: number;
  watching: boolean;
}

/** An attempt on a host; given up when its host stops answering under it. */
interface RunningAttempt {
  jobId: string;
  attempt: number;
  gpus: number;
  hostFailures: number;
  abort: AbortController;
  givenUp: boolean;
  promise?: Promise<void>;
}

/** A job id queued earlier (by a process that died) with another spec: that job is given up as superseded, and the work goes on under a new id. */
export class SupersededJobError extends Error {
  override name = 'SupersededJobError';
}

export class HostPool {
  private readonly hosts: HostState[];
  private readonly retryBackoffMs: number;
  private readonly hostBackoffMs: number;
  private readonly noHostTimeoutMs: number;
  private readonly watchMs: number;

  constructor(
    private readonly queue: JobQueue,
    hosts: readonly PoolHost[],
    opts: PoolOptions = {},
  ) {
    if (hosts.length === 0) throw new Error('a host pool needs at least one host');
    this.hosts = hosts.map((host) => ({ host, running: 0, gpusInUse: 0, healthy: host.down === undefined, failures: host.down === undefined ? 0 : 1, probeAt: 0, probing: false, lastError: host.down, watchAt: 0, watching: false }));
    this.retryBackoffMs = opts.retryBackoffMs ?? 500;
    this.hostBackoffMs = opts.hostBackoffMs ?? 1000;
    this.noHostTimeoutMs = opts.noHostTimeoutMs ?? 120_000;
    this.watchMs = opts.watchMs ?? 5000;
  }

  /** Hosts that could ever take this job (labels and GPU capacity). */
  private eligible(job: Pick<JobRow, 'requires' | 'gpus'>): HostState[] {
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

  /** Attempts a dead paddock left running: their jobs go back to the queue, their containers away. */
  private async recover(runId: string, cb: PoolCallbacks): Promise<void> {
    if (this.queue.recover(runId).length > 0) {
      await Promise.all(this.hosts.map((h) => h.host.runner.sweep?.(runId).catch((err: Error) => this.setAside(h, err.message, cb))));
    }
  }

  /** Fails a queued job that no host could ever take, and says so; true when it did. */
  private refuseIfNoHost(runId: string, j: JobRow): boolean {
    if (j.state !== 'queued' || this.eligible(j).length > 0) return false;
    const attempt = this.queue.claim(runId, j.job_id, '(none)')!;
    this.queue.finish(runId, j.job_id, attempt, { outcome: 'failed', error: `no host in the pool has ${describeNeeds(j)}` });
    return true;
  }

  /** Runs the run's queued jobs to the end (or until aborted); returns the counts. */
  async run(runId: string, cb: PoolCallbacks): Promise<PoolSummary> {
    await this.recover(runId, cb);
    for (const j of this.queue.jobs(runId)) this.refuseIfNoHost(runId, j);
    return this.drive(runId, cb, { claimable: () => true, open: () => false, overlay: () => undefined });
  }

  /**
   * Opens a session for a run: jobs come one by one (submit) as the run's DAG reaches them, each
   * awaited by its caller, and run as run() runs them (placement, slots, host failures, backoff).
   * Only the session's own jobs are claimed: a job a dead process queued and nobody submits
   * again stays queued. A job submitted under the id of one queued by a dead process (a resume)
   * continues it, with its attempts, when it runs the same spec; else that one is given up.
   */
  async serve(runId: string, cb: PoolCallbacks): Promise<PoolSession> {
    const q = this.queue;
    await this.recover(runId, cb);
    const waiting = new Map<string, { job: SessionJob; resolve: (r: PoolJobResult) => void; last?: StepResult }>();
    let closed = false;
    let wake = () => undefined as void;
    const settle = () => {
      for (const [id, w] of waiting) {
        const row = q.job(runId, id);
        const final = row && (row.state === 'succeeded' || row.state === 'failed');
        const cancelled = cb.signal.aborted && row?.state === 'queued';
        if (!final && !cancelled) continue;
        waiting.delete(id);
        const base = { host: row?.host ?? '(none)', attempts: row?.attempts ?? 0, protocolErrors: w.last?.protocolErrors ?? 0, exitCode: row?.exit_code ?? undefined };
        if (cancelled) w.resolve({ ...base, status: 'cancelled', error: w.last?.error ?? 'the run was stopped' });
        else if (row!.state === 'succeeded') w.resolve({ ...base, status: 'succeeded' });
        else w.resolve({ ...base, status: 'failed', error: row!.error ?? w.last?.error ?? 'failed', hostFailure: w.last?.hostFailure === true });
      }
    };
    const forward: PoolCallbacks = {
      ...cb,
      onEvent: (jobId, attempt, e) => {
        waiting.get(jobId)?.job.emit?.(attempt, e);
        cb.onEvent?.(jobId, attempt, e);
      },
      onJob: (j) => {
        const w = waiting.get(j.id)?.job;
        if (j.state === 'running') w?.onPlaced?.({ host: j.host, attempt: j.attempt });
        else if (j.state === 'queued' && j.hostFailure) w?.onHostFailure?.({ host: j.host, attempt: j.attempt, error: j.error ?? 'host failure' });
        cb.onJob?.(j);
        settle();
      },
      onContainer: (jobId, attempt, info) => {
        waiting.get(jobId)?.job.onContainer?.(attempt, info);
        cb.onContainer?.(jobId, attempt, info);
      },
    };
    const done = this.drive(runId, forward, {
      claimable: (id) => waiting.has(id),
      open: () => !closed,
      overlay: (id) => {
        const env = waiting.get(id)?.job.env;
        return env ? { env } : undefined;
      },
      turn: settle,
      setWake: (w) => (wake = w),
      ended: (id, result) => {
        const w = waiting.get(id);
        if (w) w.last = result;
      },
    });
    return {
      submit: (job) =>
        new Promise<PoolJobResult>((resolve) => {
          const existing = q.job(runId, job.id);
          const spec = JSON.stringify(job.spec);
          if (existing && (existing.state === 'succeeded' || existing.state === 'failed')) throw new Error(`pool job ${job.id} of run ${runId} has already ended (${existing.state}); submit it under a new id`);
          if (existing && existing.spec !== spec) {
            // A dead process queued it with another spec (the step's inputs changed since): that one is given up.
            const attempt = q.claim(runId, job.id, '(none)');
            if (attempt !== undefined) q.finish(runId, job.id, attempt, { outcome: 'failed', error: 'superseded: the step was submitted again with another spec' });
            throw new SupersededJobError(`pool job ${job.id} of run ${runId} was queued with another spec; submit it under a new id`);
          }
          if (!existing) q.submit(runId, [{ id: job.id, spec: job.spec, requires: job.requires, gpus: job.gpus, maxHostFailures: job.maxHostFailures }]);
          waiting.set(job.id, { job, resolve });
          const row = q.job(runId, job.id)!;
          if (this.refuseIfNoHost(runId, row)) settle();
          wake();
        }),
      close: async () => {
        closed = true;
        wake();
        const summary = await done;
        settle();
        return summary;
      },
    };
  }

  /** The loop: claims ready jobs for free hosts, probes hosts set aside, until nothing is left (or the drive closes). */
  private async drive(runId: string, cb: PoolCallbacks, how: Drive): Promise<PoolSummary> {
    const q = this.queue;
    const inFlight = new Set<Promise<void>>();
    let wake: () => void = () => undefined;
    const wakeUp = () => wake();
    how.setWake?.(wakeUp);
    cb.signal.addEventListener('abort', wakeUp, { once: true });
    let noHostSince: number | undefined;
    const lastHost = new Map<string, string>();

    const runningOn = new Map<HostState, Set<RunningAttempt>>();
    /**
     * The host of running attempts stopped answering: each is given up as a host failure and
     * queued again, without waiting for its runner, which may never return (a Docker /wait whose
     * link closed cleanly after its headers is not noticed by docker-modem). A late answer from
     * it changes nothing (the queue moves a job only for its current attempt).
     */
    const giveUp = (h: HostState, why: string) => {
      const runs = [...(runningOn.get(h) ?? [])];
      runningOn.get(h)?.clear();
      this.setAside(h, why, cb);
      const now = Date.now();
      for (const run of runs) {
        run.givenUp = true;
        run.abort.abort();
        h.running -= 1;
        h.gpusInUse -= run.gpus;
        if (run.promise) inFlight.delete(run.promise);
        lastHost.set(run.jobId, h.host.name);
        const error = `host ${h.host.name} stopped answering while the job ran: ${why}`;
        how.ended?.(run.jobId, { status: 'failed', error, hostFailure: true, protocolErrors: 0 });
        const { state } = q.finish(runId, run.jobId, run.attempt, { outcome: 'host-failed', error, retryAt: now + this.retryBackoffMs * 2 ** run.hostFailures }, now);
        if (state) cb.onJob?.({ id: run.jobId, attempt: run.attempt, host: h.host.name, state, error, hostFailure: true });
      }
    };
    const watch = (h: HostState) => {
      h.watching = true;
      const check = (h.host.ping ?? h.host.probe).call(h.host);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${Math.round((this.watchMs * 2) / 1000)} s`)), this.watchMs * 2)));
      Promise.race([check, timeout])
        .then(
          () => undefined,
          (err: Error) => {
            if (runningOn.get(h)?.size) giveUp(h, err.message);
          },
        )
        .finally(() => {
          clearTimeout(timer);
          h.watching = false;
          h.watchAt = Date.now() + this.watchMs;
          wakeUp();
        });
    };

    const runJob = async (job: JobRow, h: HostState, attempt: number, run: RunningAttempt) => {
      const stored = JSON.parse(job.spec) as JobSpec;
      // An empty image is the host's own (hosts may differ in it).
      const container = stored.container && !stored.container.image ? { ...stored.container, image: h.host.image ?? '' } : stored.container;
      const spec = { ...stored, container, ...how.overlay(job.job_id), runId, stepId: `job:${job.job_id}`, labels: { ...stored.labels, 'paddock.job': job.job_id } };
      cb.onJob?.({ id: job.job_id, attempt, host: h.host.name, state: 'running' });
      let result: StepResult;
      try {
        result = await h.host.runner.run(spec, {
          signal: AbortSignal.any([cb.signal, run.abort.signal]),
          emit: (e) => run.givenUp || cb.onEvent?.(job.job_id, attempt, e),
          onContainer: (info) => {
            q.setContainer(runId, job.job_id, attempt, info.container);
            if (!run.givenUp) cb.onContainer?.(job.job_id, attempt, info);
          },
        } satisfies RunnerContext);
      } catch (err) {
        result = { status: 'failed', error: (err as Error).message, protocolErrors: 0 };
      }
      // Given up while it ran (its host stopped answering): already counted and requeued.
      if (run.givenUp) return;
      runningOn.get(h)?.delete(run);
      how.ended?.(job.job_id, result);
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
      how.turn?.();
      const now = Date.now();
      for (const h of this.hosts) if (!h.healthy && !h.probing && now >= h.probeAt && !cb.signal.aborted) probe(h);
      for (const h of this.hosts) if (h.healthy && runningOn.get(h)?.size && !h.watching && now >= h.watchAt && !cb.signal.aborted) watch(h);
      if (!cb.signal.aborted) {
        const capacity = this.hosts.reduce((n, h) => n + (h.healthy ? h.host.slots - h.running : 0), 0);
        if (capacity > 0) {
          for (const job of q.ready(runId, now, Math.max(16, capacity * 4))) {
            if (!how.claimable(job.job_id)) continue;
            const h = this.place(job, lastHost.get(job.job_id));
            if (!h) continue;
            const attempt = q.claim(runId, job.job_id, h.host.name);
            if (attempt === undefined) continue;
            h.running += 1;
            h.gpusInUse += job.gpus;
            const run: RunningAttempt = { jobId: job.job_id, attempt, gpus: job.gpus, hostFailures: job.host_failures, abort: new AbortController(), givenUp: false };
            if (!runningOn.get(h)?.size) h.watchAt = now + this.watchMs;
            runningOn.set(h, (runningOn.get(h) ?? new Set()).add(run));
            const p = runJob(job, h, attempt, run).finally(() => {
              inFlight.delete(p);
              wakeUp();
            });
            run.promise = p;
            inFlight.add(p);
          }
        }
      }
      // A session's queued jobs are those it was given; others (a dead process's, not submitted again) wait.
      const queued = q.jobs(runId).filter((x) => x.state === 'queued' && how.claimable(x.job_id));
      if (inFlight.size === 0 && (cb.signal.aborted || (queued.length === 0 && !how.open()))) break;
      // Nothing can run anywhere: give up after noHostTimeoutMs.
      if (inFlight.size === 0 && queued.length > 0 && this.hosts.every((h) => !h.healthy)) {
        noHostSince ??= now;
        if (now - noHostSince > this.noHostTimeoutMs) {
          const why = this.hosts.map((h) => `${h.host.name}: ${h.lastError ?? 'unreachable'}`).join('; ');
          for (const j of queued) {
            const attempt = q.claim(runId, j.job_id, '(none)')!;
            q.finish(runId, j.job_id, attempt, { outcome: 'failed', error: `no host usable for ${Math.round(this.noHostTimeoutMs / 1000)} s (${why})` });
          }
          continue;
        }
      } else noHostSince = undefined;
      const nextJob = q.nextReadyAt(runId);
      const nextProbe = Math.min(...this.hosts.filter((h) => !h.healthy && !h.probing).map((h) => h.probeAt), ...this.hosts.filter((h) => runningOn.get(h)?.size && !h.watching).map((h) => h.watchAt));
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

/** What a step asks of the pool's hosts: labels they must have, GPUs they must have free. */
export interface PoolNeeds {
  requires?: Record<string, string>;
  gpus?: number;
}

/**
 * The host pool as a runner (kind docker, host "pool") for execute(): each step it is given
 * becomes a job of the session, placed by the pool, retried on another host after a host
 * failure, and awaited; execute() is told where each attempt went (PlacementContext).
 *
 * Job ids: a step's first job is its step id; a step run again in the same run (a resume after
 * it failed) gets `<step>#2`, `#3`, ...; a job a dead process left unfinished is continued, not
 * duplicated, so its attempts stay one history.
 */
export function createPoolRunner(opts: { runId: string; queue: JobQueue; session: PoolSession; needs(stepId: string): PoolNeeds; maxHostFailures?: number }): Runner {
  const jobIdFor = (stepId: string): string => {
    const mine = opts.queue.jobs(opts.runId).filter((j) => j.job_id === stepId || j.job_id.startsWith(`${stepId}#`));
    const n = (id: string) => (id === stepId ? 1 : Number(id.slice(stepId.length + 1)));
    const last = mine.sort((a, b) => n(a.job_id) - n(b.job_id)).at(-1);
    if (!last) return stepId;
    if (last.state === 'queued' || last.state === 'running') return last.job_id;
    return `${stepId}#${n(last.job_id) + 1}`;
  };
  return {
    kind: 'docker',
    host: 'pool',
    async run(spec: StepSpec, ctx: PlacementContext): Promise<StepResult> {
      const { runId: _r, stepId, fn: _f, env, ...rest } = spec;
      void _r;
      void _f;
      const needs = opts.needs(stepId);
      let id: string;
      try {
        id = jobIdFor(stepId);
      } catch (err) {
        return { status: 'failed', error: `the host pool's queue: ${(err as Error).message}`, protocolErrors: 0 };
      }
      const submit = (jobId: string) =>
        opts.session.submit({
          id: jobId,
          spec: rest,
          env,
          requires: needs.requires,
          gpus: needs.gpus,
          maxHostFailures: opts.maxHostFailures,
          emit: (_attempt, e) => ctx.emit(e),
          onPlaced: (p) => ctx.onPlaced?.(p),
          onHostFailure: (f) => ctx.onHostFailure?.(f),
          onContainer: (_attempt, info) => ctx.onContainer?.(info),
        });
      let result: PoolJobResult;
      try {
        result = await submit(id);
      } catch {
        // The job left under this id ran another spec (inputs changed since): a new job.
        try {
          result = await submit(jobIdFor(stepId));
        } catch (err) {
          return { status: 'failed', error: (err as Error).message, protocolErrors: 0 };
        }
      }
      const { host: _h, attempts: _a, ...step } = result;
      void _h;
      void _a;
      return step;
    },
  };
}
