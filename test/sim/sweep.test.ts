/**
 * Sweeps: the expansion (sets x seeds x conditions x models, stable ids, paired conditions),
 * the shards, and a sweep on the host pool (local host, real processes running the sim-shard
 * step) killed with SIGKILL mid-way and run again: every run executed exactly once (counted by
 * PADDOCK_SIM_RUN_LOG, one line per run start) and its result recorded once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { SweepParams, expandSweep, shardRuns, runFiles } from '../../src/sim/sweep.js';
import { SWEEP_RUN_ID, openSweepCheckpoint } from '../../src/steps/sim/sweep-run.js';
import { JobQueue } from '../../src/store/job-queue.js';
// @ts-expect-error scripts/build.mjs is plain JavaScript: the externals dist/step.js keeps out of its bundle.
import { EXTERNAL } from '../../scripts/build.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const SCENARIO = join(ROOT, 'fixtures', 'sim', 'ncap', 'ccrs.xosc');
let dir: string;

beforeAll(async () => {
  // Under the repository, so that the bundles find node_modules (better-sqlite3, onnxruntime-node).
  mkdirSync(join(ROOT, 'build'), { recursive: true });
  dir = mkdtempSync(join(ROOT, 'build', 'test-sim-sweep-'));
  // The shard step's process as dist/step.js runs it (only this step), and a sweep's process.
  writeFileSync(
    join(dir, 'shard-main.ts'),
    `import { SimShardParams } from ${JSON.stringify(join(ROOT, 'src/steps/sim/sim-shard.step.ts'))};
import { runSimShard } from ${JSON.stringify(join(ROOT, 'src/steps/sim/sim-shard.ts'))};
const [, params] = process.argv.slice(2);
runSimShard(SimShardParams.parse(JSON.parse(params))).then((c) => (process.exitCode = c), (e) => { process.stderr.write(String(e?.stack ?? e) + '\\n'); process.exitCode = 1; });
`,
  );
  writeFileSync(
    join(dir, 'sweep-main.ts'),
    `import { readFileSync } from 'node:fs';
import { executeSweep, localPoolHost } from ${JSON.stringify(join(ROOT, 'src/steps/sim/sweep-run.ts'))};
const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const outcome = await executeSweep(job.runs, job.lockstep, { out: job.out, settings: job.settings, hosts: [localPoolHost(1)], entry: job.entry });
process.stdout.write(JSON.stringify({ ...outcome, results: outcome.results.length }) + '\\n');
`,
  );
  await build({
    absWorkingDir: ROOT,
    entryPoints: { 'shard-main': join(dir, 'shard-main.ts'), 'sweep-main': join(dir, 'sweep-main.ts') },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'error',
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = (extra: Record<string, unknown> = {}) =>
  SweepParams.parse({
    scenarios: [{ file: SCENARIO }],
    seeds: 2,
    conditions: { weather: ['clear', 'rain'], time_of_day: ['day'], region: ['north'], density: [0] },
    conditions_per_seed: 'all',
    models: [
      { name: 'oracle', model: 'builtin:oracle' },
      { name: 'blind', model: 'builtin:blind' },
    ],
    lockstep: 3,
    ...extra,
  });

describe('expandSweep and shardRuns', () => {
  it('expands sets x seeds x conditions x models with stable, distinct ids and paired conditions', () => {
    const runs = expandSweep(base(), ROOT);
    // 1 scenario x 1 set x 2 seeds x 2 conditions (all) x 2 models.
    expect(runs).toHaveLength(8);
    expect(new Set(runs.map((r) => r.runId)).size).toBe(8);
    expect(expandSweep(base(), ROOT).map((r) => r.runId)).toEqual(runs.map((r) => r.runId));
    const key = (r: (typeof runs)[number]) => JSON.stringify([r.seed, r.paramIndex, r.conditions]);
    expect(runs.filter((r) => r.model === 'oracle').map(key)).toEqual(runs.filter((r) => r.model === 'blind').map(key));
    // Random conditions: one per seed, the same for both models.
    const random = expandSweep(base({ conditions_per_seed: 'random' }), ROOT);
    expect(random).toHaveLength(4);
    expect(random.filter((r) => r.model === 'oracle').map(key)).toEqual(random.filter((r) => r.model === 'blind').map(key));
    const shards = shardRuns(runs, 3);
    // Per model 4 runs: shards of 3 and 1.
    expect(shards.map((s) => [s.model, s.runs.length])).toEqual([['oracle', 3], ['oracle', 1], ['blind', 3], ['blind', 1]]);
    expect(shards.flatMap((s) => s.runs.map((r) => r.runId)).sort()).toEqual(runs.map((r) => r.runId).sort());
  });

  it('draws the same random conditions for the same scenario wherever it lives, and others for another scenario', () => {
    const sweep = (file: string) => SweepParams.parse({ ...base({ conditions_per_seed: 'random', seeds: 6, conditions: { weather: ['clear', 'rain', 'fog', 'snow'], time_of_day: ['day', 'dusk', 'night'], region: ['north', 'south'], density: [0, 2] } }), scenarios: [{ file }] });
    const drawn = (runs: ReturnType<typeof expandSweep>) => runs.filter((r) => r.model === 'oracle').map((r) => JSON.stringify([r.seed, r.conditions]));
    const here = expandSweep(sweep(SCENARIO), ROOT);
    // A copy of the scenario in another folder, named by a relative path from there.
    const elsewhere = join(dir, 'elsewhere', 'deep');
    mkdirSync(elsewhere, { recursive: true });
    writeFileSync(join(elsewhere, 'ccrs-copy.xosc'), readFileSync(SCENARIO));
    const there = expandSweep(sweep('deep/ccrs-copy.xosc'), join(dir, 'elsewhere'));
    expect(drawn(there)).toEqual(drawn(here));
    // Another scenario's text draws its own conditions (6 seeds from 48: the same sequence by chance is negligible).
    const other = expandSweep(sweep(join(ROOT, 'fixtures', 'sim', 'ncap', 'cpnc.xosc')), ROOT);
    expect(drawn(other)).not.toEqual(drawn(here));
  });
});

describe('executeSweep on the host pool', () => {
  it('resumes a sweep killed with SIGKILL mid-way: every run executed exactly once, each result recorded once', async () => {
    const runs = expandSweep(base({ seeds: 3, conditions: { weather: ['clear'], time_of_day: ['day'], region: ['north'], density: [0] }, conditions_per_seed: 'random' }), ROOT);
    expect(runs).toHaveLength(6);
    const out = join(dir, 'out');
    const runLog = join(dir, 'runs.log');
    const job = join(dir, 'job.json');
    const settings = { rate_hz: 10, planner: {}, vehicle: {}, tracker: {}, thresholds: {} };
    writeFileSync(job, JSON.stringify({ runs, lockstep: 2, out, settings: SweepSettings(settings), entry: [process.execPath, join(dir, 'shard-main.mjs')] }));
    const env = { ...process.env, PADDOCK_SIM_RUN_LOG: runLog };
    const lines = () => (existsSync(runLog) ? readFileSync(runLog, 'utf8').trim().split('\n').filter(Boolean) : []);

    // First sweep: killed once the second shard's runs have started (one slot: shards in turn).
    const first = spawn(process.execPath, [join(dir, 'sweep-main.mjs'), job], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    first.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t0 = Date.now();
    while (lines().length < 3) {
      if (first.exitCode !== null) throw new Error(`the sweep ended before it could be killed: ${stderr}`);
      if (Date.now() - t0 > 60_000) throw new Error(`no runs started in 60 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(first.pid!, 'SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const killedAt = lines().length;
    expect(killedAt).toBeLessThan(6);

    // Second sweep, same out: to the end.
    const second = spawnSync(process.execPath, [join(dir, 'sweep-main.mjs'), job], { env, encoding: 'utf8', timeout: 120_000 });
    expect(second.status, second.stderr).toBe(0);
    const outcome = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as { results: number; recorded: number; failed: unknown[]; shards: { skipped: number; succeeded: number } };
    console.log(`killed after ${killedAt} run starts; resumed: ${JSON.stringify(outcome)}`);
    expect(outcome.results).toBe(6);
    expect(outcome.failed).toEqual([]);

    // Exactly once: one start per run over both sweeps, one result row per run.
    const started = lines().map((l) => l.split(' ')[0]);
    expect(started.sort()).toEqual(runs.map((r) => r.runId).sort());
    const db = new Database(join(out, 'sweep.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT run_id FROM sim_results').all() as { run_id: string }[];
    const jobs = db.prepare("SELECT job_id, state FROM jobs WHERE run_id = 'sim-sweep'").all() as { job_id: string; state: string }[];
    db.close();
    expect(rows.map((r) => r.run_id).sort()).toEqual(runs.map((r) => r.runId).sort());
    // Per model 3 runs in shards of 2 and 1: each shard's last job succeeded. A shard the dead sweep
    // had queued while fewer of its runs were done was given up as superseded and went on as <id>#2.
    const last = new Map<string, string>();
    for (const j of jobs.sort((a, b) => a.job_id.localeCompare(b.job_id))) last.set(j.job_id.replace(/#\d+$/, ''), j.state);
    expect(last.size).toBe(4);
    expect([...last.values()].every((st) => st === 'succeeded')).toBe(true);
    expect(jobs.filter((j) => j.state !== 'succeeded').every((j) => j.state === 'failed')).toBe(true);
    for (const r of runs) expect(existsSync(runFiles(out, r.runId).trace)).toBe(true);
    // The blind runs hit the stationary car; the oracle's do not.
    const collided = (id: string) => (JSON.parse(readFileSync(runFiles(out, id).metrics, 'utf8')) as { collision: unknown }).collision !== null;
    expect(runs.filter((r) => r.model === 'blind').every((r) => collided(r.runId))).toBe(true);
    expect(runs.filter((r) => r.model === 'oracle').some((r) => collided(r.runId))).toBe(false);

    // A third sweep finds everything done: nothing runs, nothing is recorded again.
    const third = spawnSync(process.execPath, [join(dir, 'sweep-main.mjs'), job], { env, encoding: 'utf8', timeout: 60_000 });
    const again = JSON.parse(third.stdout.trim().split('\n').at(-1)!) as { results: number; recorded: number; shards: { skipped: number } };
    expect(again).toMatchObject({ results: 6, recorded: 0, shards: { skipped: 4 } });
    expect(lines()).toHaveLength(6);
  });
});

describe('a shard queued by a dead sweep with another spec', () => {
  it('is given up as superseded and run again under its next id: every run once, each result once', async () => {
    const runs = expandSweep(base({ seeds: 1, conditions: { weather: ['clear'], time_of_day: ['day'], region: ['north'], density: [0] }, conditions_per_seed: 'random' }), ROOT);
    const out = join(dir, 'out-superseded');
    const runLog = join(dir, 'runs-superseded.log');
    const job = join(dir, 'job-superseded.json');
    const settings = { rate_hz: 10, planner: {}, vehicle: {}, tracker: {}, thresholds: {} };
    writeFileSync(job, JSON.stringify({ runs, lockstep: 2, out, settings: SweepSettings(settings), entry: [process.execPath, join(dir, 'shard-main.mjs')] }));
    // What a sweep killed mid-shard leaves: the shard's job queued with the spec it had then.
    const [first] = shardRuns(runs, 2);
    mkdirSync(out, { recursive: true });
    const db = openSweepCheckpoint(out);
    new JobQueue(db).submit(SWEEP_RUN_ID, [{ id: `shard-${first.id}`, spec: { command: ['stale', 'spec'] } }]);
    db.close();
    const r = spawnSync(process.execPath, [join(dir, 'sweep-main.mjs'), job], { env: { ...process.env, PADDOCK_SIM_RUN_LOG: runLog }, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const outcome = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { results: number; failed: unknown[] };
    expect(outcome).toMatchObject({ results: runs.length, failed: [] });
    expect(readFileSync(runLog, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]).sort()).toEqual(runs.map((x) => x.runId).sort());
    const check = new Database(join(out, 'sweep.sqlite'), { readonly: true });
    const stale = check.prepare('SELECT state FROM jobs WHERE job_id = ?').get(`shard-${first.id}`) as { state: string };
    const next = check.prepare('SELECT state FROM jobs WHERE job_id = ?').get(`shard-${first.id}#2`) as { state: string };
    const results = check.prepare('SELECT COUNT(*) AS n FROM sim_results').get() as { n: number };
    check.close();
    expect(stale.state).toBe('failed');
    expect(next.state).toBe('succeeded');
    expect(results.n).toBe(runs.length);
  });
});

/** The shard settings with the schemas' defaults. */
function SweepSettings(s: Record<string, unknown>) {
  const p = base();
  return { ...s, planner: p.planner, vehicle: p.vehicle, tracker: p.tracker };
}
