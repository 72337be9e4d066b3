/**
 * A sweep over a Docker host of hosts.yaml and this machine: the real candidate model driving
 * 4 short runs, one run per shard, the shards placed on the test daemon "a" (the sim-shard step
 * in paddock's step image, its scenario and model copied in, its runs/ copied out) and on the
 * local host; a third host that does not answer is set aside. Each run's result is recorded
 * exactly once, and both hosts took shards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SweepParams, expandSweep, runFiles } from '../../src/sim/sweep.js';
import { executeSweep, SWEEP_RUN_ID } from '../../src/steps/sim/sweep-run.js';
import { SafetyThresholds } from '../../src/metrics/safety.js';
import { testHosts } from '../helpers/docker-services.js';
import { ROOT } from '../helpers/fixtures.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join('/tmp', 'paddock-sweep-docker-'));
  const a = testHosts().a;
  writeFileSync(
    join(dir, 'hosts.yaml'),
    `version: 1\nhosts:\n  a:\n    docker: ${a.docker}\n    image: ${a.image}\n    capacity: { slots: 2 }\n  gone:\n    docker: unix:///tmp/paddock-nothing-here.sock\n    capacity: { slots: 2 }\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a sweep on Docker hosts and this machine', () => {
  it('runs shards on both, in the step image there, and records every result once', async () => {
    const p = SweepParams.parse({
      scenarios: [{ file: join(ROOT, 'fixtures', 'sim', 'ncap', 'ccrs.xosc') }],
      seeds: 2,
      conditions: { weather: ['clear', 'rain'] },
      conditions_per_seed: 'all',
      models: [{ name: 'candidate', model: join(ROOT, 'fixtures', 'world', 'models', 'candidate') }],
      lockstep: 1,
      hosts: ['local', 'a', 'gone'],
      hosts_file: join(dir, 'hosts.yaml'),
    });
    const runs = expandSweep(p, ROOT);
    expect(runs).toHaveLength(4);
    const out = join(dir, 'out');
    const logs: string[] = [];
    const outcome = await executeSweep(runs, p.lockstep, {
      out,
      settings: { rate_hz: p.rate_hz, planner: p.planner, vehicle: p.vehicle, tracker: p.tracker, thresholds: SafetyThresholds.parse({}), threads: 1 },
      hostNames: p.hosts,
      hostsFile: p.hosts_file,
      log: (l) => logs.push(l),
      pool: { hostBackoffMs: 60_000 },
    });
    console.log(logs.join('\n'));
    expect(outcome.failed, JSON.stringify(outcome.failed)).toEqual([]);
    expect(outcome.shards).toEqual({ total: 4, skipped: 0, succeeded: 4, failed: 0 });
    expect(outcome.recorded).toBe(4);
    expect(outcome.results.map((r) => r.runId)).toEqual(runs.map((r) => r.runId));
    expect(logs.some((l) => /host pool: host gone .* does not answer.*set aside/.test(l))).toBe(true);
    const db = new Database(join(out, 'sweep.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT run_id, COUNT(*) AS n FROM sim_results GROUP BY run_id').all() as { run_id: string; n: number }[];
      expect(rows.map((r) => r.n)).toEqual([1, 1, 1, 1]);
      const attempts = db.prepare("SELECT job_id, host, outcome FROM job_attempts WHERE run_id = ?").all(SWEEP_RUN_ID) as { job_id: string; host: string; outcome: string }[];
      console.log(attempts);
      expect(attempts.every((x) => x.outcome === 'succeeded')).toBe(true);
      expect(attempts).toHaveLength(4);
      expect(new Set(attempts.map((x) => x.host))).toEqual(new Set(['a', 'local']));
    } finally {
      db.close();
    }
    for (const r of runs) {
      const trace = JSON.parse(readFileSync(runFiles(out, r.runId).trace, 'utf8')) as { spec: { runId: string }; steps: unknown[] };
      expect(trace.spec.runId).toBe(r.runId);
      expect(trace.steps.length).toBeGreaterThan(10);
    }
    // The Docker host's copies moved into runs/.
    expect(existsSync(join(out, 'incoming')) ? readdirSync(join(out, 'incoming')) : []).toEqual([]);
  }, 300_000);
});
