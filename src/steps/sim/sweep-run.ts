/**
 * A sweep's shards (src/sim/sweep.ts: expandSweep, shardRuns) run as jobs on the host pool
 * (executeSweep), each one the `sim-shard` step, whose runs advance in lockstep through one
 * batched inference call per tick.
 *
 * Checkpoint: `<out>/sweep.sqlite` holds the host pool's job queue (the run store's migrations,
 * so its jobs and job_attempts tables and their guards are the run store's) and the sweep's
 * results, one row per run, inserted once (INSERT OR IGNORE on the run id). A resumed sweep
 * (same out) submits only the shards not yet succeeded, continues a shard a dead sweep left
 * queued or running, and records each run's result exactly once. A shard's process itself skips
 * runs whose results are already written and waits for a live shard process of a killed sweep
 * (local hosts run steps in their own process group, which outlives the sweep) to finish, so a
 * run is never executed twice (src/steps/sim/sim-shard.ts).
 *
 * Hosts: by name (`hosts`): `local` is this machine (localPoolHost, slots = cores), any other a
 * host of hosts.yaml (`hosts_file`, else the lookup of `paddock run`: runners/pool-hosts.ts) whose
 * shards run the sim-shard step in paddock's step image, the scenario files and model folders
 * copied in and runs/ copied out into `<out>/incoming/<shard>/`, from where the files move into
 * runs/ by rename (trace first, metrics last) before the results are recorded: a sweep killed
 * in the middle of a copy never leaves a half-written result that looks done. A host that does
 * not answer is set aside by the pool and probed again. Docker modules load only then: the
 * shard's process in the image imports this module (runFiles) and has no SQLite or dockerode.
 */
import { availableParallelism, hostname } from 'node:os';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { MIGRATIONS } from '../../store/migrations.js';
import { JobQueue } from '../../store/job-queue.js';
import { HostPool, SupersededJobError, type PoolHost, type PoolOptions } from '../../../runners/host-pool.js';
import { createLocalRunner } from '../../../runners/local.js';
import { TrackerParams } from '../../replay/tracker.js';
import { PlannerParams } from '../../sim/planner.js';
import { VehicleParams } from '../../sim/dynamics.js';
import { SafetyThresholds } from '../../metrics/safety.js';
import { InputError } from '../../files/input-error.js';
import { simShardStep } from './sim-shard.step.js';
import type { ContainerUse } from '../define.js';
import type { Event } from '../../schema/events.js';
import type { RunMetrics, SimRunSpec } from '../../schema/sim-types.js';

import { runFiles, shardRuns, type Shard } from '../../sim/sweep.js';

/** The checkpoint's run id in its job queue (one sweep per out folder). */
export const SWEEP_RUN_ID = 'sim-sweep';

/** Opens `<out>/sweep.sqlite` with the run store's migrations and the sweep's results table. */
export function openSweepCheckpoint(out: string): Database.Database {
  mkdirSync(out, { recursive: true });
  // Loaded here, not imported: the shard's process in the step image loads this module and has no SQLite.
  const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(join(out, 'sweep.sqlite'), { timeout: 10_000 });
  db.pragma('journal_mode = WAL');
  // As the run store: WAL with synchronous=NORMAL survives SIGKILL without losing commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const version = () => (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  for (const m of MIGRATIONS.slice(version())) {
    db.transaction(() => {
      if (version() >= m.version) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    }).immediate();
  }
  const now = Date.now();
  db.prepare(`INSERT OR IGNORE INTO runs (id, name, recipe_path, recipe_text, recipe_sha256, status, host, pid, created_at, updated_at) VALUES (?, 'sim sweep', '-', '', '', 'running', ?, ?, ?, ?)`).run(SWEEP_RUN_ID, hostname(), process.pid, now, now);
  db.exec(`CREATE TABLE IF NOT EXISTS sim_results (
    run_id TEXT PRIMARY KEY,
    shard TEXT NOT NULL,
    metrics TEXT NOT NULL,
    trace TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
  )`);
  return db;
}

/** This machine as a pool host: its steps run as local processes, `slots` at once (default: cores). */
export function localPoolHost(slots = availableParallelism()): PoolHost {
  return { name: 'local', labels: {}, slots, gpus: 0, runner: createLocalRunner(), probe: async () => undefined };
}

/**
 * The pool's hosts by name: `local` (this machine) and hosts of hosts.yaml (connected, the step
 * image there or built, a host that does not answer set aside); an unknown name is an InputError
 * that lists the known ones. `close` ends their connections.
 */
export async function sweepHosts(names: readonly string[], opts: { hostsFile?: string; recipeDir?: string; log?: (line: string) => void; localSlots?: number } = {}): Promise<{ hosts: PoolHost[]; close(): Promise<void> }> {
  const unique = [...new Set(names)];
  const remote = unique.filter((n) => n !== 'local');
  const hosts: PoolHost[] = unique.includes('local') ? [localPoolHost(opts.localSlots)] : [];
  const closers: (() => Promise<void>)[] = [];
  const close = async () => void (await Promise.all(closers.map((c) => c().catch(() => undefined))));
  if (!remote.length) return { hosts, close };
  const { findHostsFile, loadAllHosts, dockerPoolHost } = await import('../../../runners/pool-hosts.js');
  const file = findHostsFile(opts.hostsFile, undefined, opts.recipeDir);
  const { hosts: known } = await loadAllHosts(file);
  const missing = remote.filter((n) => !known.some((h) => h.name === n));
  if (missing.length) throw new InputError(`hosts: ${missing.map((n) => `"${n}"`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in ${file ?? 'any hosts.yaml (none found: hosts_file, $PADDOCK_HOSTS, beside the recipe, ~/.config/paddock/hosts.yaml)'}; known hosts: local, ${known.map((h) => h.name).join(', ')}`);
  try {
    for (const name of remote) {
      // Every sweep's queue has the same run id: only dead processes' containers are swept (pool-hosts.ts).
      const { poolHost, close: c } = await dockerPoolHost(known.find((h) => h.name === name)!, undefined, opts.log ?? (() => undefined));
      closers.push(c);
      hosts.push(poolHost);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { hosts, close };
}

/**
 * Moves a Docker host's copy of a shard's results (`<out>/incoming/<shard>/`) into runs/ by
 * rename, each run's trace before its metrics (the metrics file means done), then removes it.
 */
function settleIncoming(out: string, shard: Shard): void {
  const dir = join(out, 'incoming', shard.id);
  if (!existsSync(dir)) return;
  for (const r of shard.runs) {
    const f = runFiles(out, r.runId);
    const from = { trace: join(dir, relative(out, f.trace)), metrics: join(dir, relative(out, f.metrics)) };
    if (!existsSync(from.metrics) || !existsSync(from.trace)) continue;
    renameSync(from.trace, f.trace);
    renameSync(from.metrics, f.metrics);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** What a shard's step receives besides its runs (the sweep's settings). */
export interface ShardSettings {
  rate_hz: number;
  planner: PlannerParams;
  vehicle: VehicleParams;
  tracker: TrackerParams;
  thresholds: SafetyThresholds;
  /** ONNX Runtime intra-op threads per shard process. */
  threads?: number;
}

export interface SweepResult {
  runId: string;
  metrics: RunMetrics;
  trace: string;
}

export interface SweepOutcome {
  /** One per run that has a result, in the order of `runs`. */
  results: SweepResult[];
  /** Runs whose shard failed, with why. */
  failed: { runId: string; shard: string; error: string }[];
  shards: { total: number; skipped: number; succeeded: number; failed: number };
  /** Results recorded by this call (a resumed sweep records only what an earlier one did not). */
  recorded: number;
  cancelled: boolean;
}

export interface ExecuteOptions {
  out: string;
  settings: ShardSettings;
  /** The pool's hosts; default: those `hostNames` name. */
  hosts?: readonly PoolHost[];
  /** Hosts by name when `hosts` is absent (SweepParams.hosts): `local` and hosts of hosts.yaml; default ['local']. */
  hostNames?: readonly string[];
  /** The hosts.yaml naming them (SweepParams.hosts_file); default: found as `paddock run` finds it, beside `recipeDir`. */
  hostsFile?: string;
  /** The recipe's folder (where a hosts.yaml beside the recipe is looked for). */
  recipeDir?: string;
  /** Host lines (image built, host set aside, back again). */
  log?(line: string): void;
  /** The pool's backoffs and timeouts. */
  pool?: PoolOptions;
  signal?: AbortSignal;
  /** How a step's process starts: [node, dist/step.js] (the default, from this install). */
  entry?: readonly string[];
  /** Added to every shard's environment. */
  env?: Readonly<Record<string, string>>;
  onProgress?(p: { shardsDone: number; shards: number; runsDone: number; runs: number }): void;
  /** Every event of every shard's process. */
  onEvent?(shard: string, event: Event): void;
}

/** [node, dist/step.js] of this install (src/ and dist/ sit side by side under the repository). */
export function defaultStepEntry(): string[] {
  const here = new URL('.', import.meta.url).pathname;
  // Bundled into dist/*.js, or run from src/steps/sim/ by a test runner.
  const candidates = [join(here, 'step.js'), join(here, '..', '..', '..', 'dist', 'step.js')];
  return [process.execPath, candidates.find((c) => existsSync(c)) ?? candidates[1]];
}

/**
 * Runs the sweep's shards as host-pool jobs (each the `sim-shard` step) from the checkpoint in
 * `<out>/sweep.sqlite`, and records each run's result there once; returns every run's result.
 */
export async function executeSweep(runs: readonly SimRunSpec[], lockstep: number, opts: ExecuteOptions): Promise<SweepOutcome> {
  const out = resolve(opts.out);
  mkdirSync(join(out, 'runs'), { recursive: true });
  const db = openSweepCheckpoint(out);
  const shards = shardRuns(runs, lockstep);
  const queue = new JobQueue(db);
  const signal = opts.signal ?? new AbortController().signal;
  const entry = opts.entry ?? defaultStepEntry();
  let named: Awaited<ReturnType<typeof sweepHosts>> | undefined;
  try {
    named = opts.hosts ? undefined : await sweepHosts(opts.hostNames ?? ['local'], opts);
  } catch (err) {
    db.close();
    throw err;
  }
  let hosts: PoolHost[] = [...(opts.hosts ?? named!.hosts)];
  // A Docker host runs the step in its image: the command of this install becomes the image's.
  if (hosts.some((h) => h.runner.kind === 'docker')) {
    const { builtinStepHost } = await import('../../../runners/pool-hosts.js');
    hosts = await Promise.all(hosts.map((h) => builtinStepHost(h, entry)));
  }
  const pool = new HostPool(queue, hosts, opts.pool);
  const use = simShardStep.container as ContainerUse;
  const insert = db.prepare('INSERT OR IGNORE INTO sim_results (run_id, shard, metrics, trace, recorded_at) VALUES (?, ?, ?, ?, ?)');
  let recorded = 0;
  const record = (shard: Shard) => {
    settleIncoming(out, shard);
    db.transaction(() => {
      for (const r of shard.runs) {
        const f = runFiles(out, r.runId);
        const metrics = readFileSync(f.metrics, 'utf8');
        recorded += insert.run(r.runId, shard.id, metrics, f.trace, Date.now()).changes;
      }
    })();
  };
  const counts = { total: shards.length, skipped: 0, succeeded: 0, failed: 0 };
  const failed: SweepOutcome['failed'] = [];
  let runsDone = 0;
  const progress = () => opts.onProgress?.({ shardsDone: counts.skipped + counts.succeeded + counts.failed, shards: shards.length, runsDone, runs: runs.length });
  /** The shard's job id: its id, or `<id>#n` after n-1 failed attempts of earlier sweeps (a failed job is final). */
  const jobIdOf = (shard: Shard): { id: string; done: boolean } => {
    for (let n = 1; ; n++) {
      const id = n === 1 ? `shard-${shard.id}` : `shard-${shard.id}#${n}`;
      const row = queue.job(SWEEP_RUN_ID, id);
      if (!row || row.state === 'queued' || row.state === 'running') return { id, done: false };
      if (row.state === 'succeeded') return { id, done: true };
    }
  };
  const session = await pool.serve(SWEEP_RUN_ID, {
    signal,
    onHost: (h) => opts.log?.(h.healthy ? `host pool: ${h.name} answers again` : `host pool: ${h.name} set aside: ${h.error ?? 'host failure'}`),
  });
  try {
    await Promise.all(
      shards.map(async (shard) => {
        const job = jobIdOf(shard);
        if (job.done) {
          // Finished by an earlier sweep; its results may not all have been recorded before it died.
          record(shard);
          counts.skipped += 1;
          runsDone += shard.runs.length;
          progress();
          return;
        }
        const params = { shard: shard.id, out, runs: shard.runs, ...opts.settings };
        // A copy out that a killed sweep left half done is not a result.
        rmSync(join(out, 'incoming', shard.id), { recursive: true, force: true });
        // On a Docker host (its own image: ''): the step's inputs copied in, its runs/ copied out beside runs/ (settleIncoming).
        const container = {
          image: '',
          inputs: use.inputs(params, {}, undefined as never).map((i) => ({ source: i.path, target: i.path })),
          outputs: use.outputs(params).map((dir) => ({ source: dir, target: join(out, 'incoming', shard.id, relative(out, dir)) })),
        };
        const submit = (id: string) =>
          session.submit({
            id,
            spec: { command: [...entry, 'sim-shard', JSON.stringify(params)], container },
            env: opts.env,
            emit: (_attempt, e) => opts.onEvent?.(shard.id, e),
          });
        let result: Awaited<ReturnType<typeof submit>>;
        try {
          result = await submit(job.id);
        } catch (err) {
          // A dead sweep queued this shard while fewer of its runs were done: the spec (which copies
          // the done runs' results in) differs now. The pool has given that job up as superseded
          // (a failed job is final), so the shard goes on under its next id.
          if (!(err instanceof SupersededJobError)) throw err;
          result = await submit(jobIdOf(shard).id);
        }
        if (result.status === 'succeeded') {
          record(shard);
          counts.succeeded += 1;
          runsDone += shard.runs.length;
        } else if (result.status === 'failed') {
          counts.failed += 1;
          for (const r of shard.runs) failed.push({ runId: r.runId, shard: shard.id, error: result.error ?? 'failed' });
        }
        progress();
      }),
    );
  } finally {
    await session.close();
    await named?.close();
  }
  const rows = new Map((db.prepare('SELECT run_id, metrics, trace FROM sim_results').all() as { run_id: string; metrics: string; trace: string }[]).map((r) => [r.run_id, r]));
  db.close();
  const results = runs.flatMap((r) => {
    const row = rows.get(r.runId);
    return row ? [{ runId: r.runId, metrics: JSON.parse(row.metrics) as RunMetrics, trace: row.trace }] : [];
  });
  return { results, failed, shards: counts, recorded, cancelled: signal.aborted };
}
