/**
 * Docker runner and host pool benchmarks, on the test services (two local dockerd, sshd on
 * loopback; started here as the test setup starts them, stopped at the end if started here):
 *
 * 1. per-job overhead on the local daemon: create -> first event -> removed, for a step that
 *    prints one event and exits, against `docker run --rm` of the same command (the Docker CLI,
 *    measured in the same run) and against the same step as a local process;
 * 2. the same over ssh:// (one SSH connection, a dial-stdio channel per API connection);
 * 3. pool throughput: 200 such jobs over the two daemons, 2 slots each, against the ideal
 *    (200 x the median single-job time / 4 slots).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServices } from '../test/global-setup.js';
import { services, testHosts } from '../test/helpers/docker-services.js';
import { connectDocker } from '../runners/docker-client.js';
import { createDockerRunner } from '../runners/docker.js';
import { createLocalRunner } from '../runners/local.js';
import { HostPool, type PoolHost } from '../runners/host-pool.js';
import { RunStore } from '../src/store/run-store.js';
import { JobQueue } from '../src/store/job-queue.js';
import type { Runner, StepSpec } from '../src/pipeline/runner.js';
import { median, writeResults } from './common.js';

const stop = await startServices();
const s = services();
const EVENT = '{"v":1,"type":"log","level":"info","message":"ready"}';
const N = 30;

async function timeJobs(runner: Runner, spec: (i: number) => StepSpec, n = N): Promise<{ firstEvent: number; total: number }> {
  const first: number[] = [];
  const total: number[] = [];
  for (let i = -3; i < n; i++) {
    const t0 = performance.now();
    let t1 = 0;
    const r = await runner.run(spec(i), { signal: new AbortController().signal, emit: () => (t1 ||= performance.now()) });
    if (r.status !== 'succeeded') throw new Error(`job failed: ${r.error}`);
    if (i < 0) continue; // warm-up
    first.push(t1 - t0);
    total.push(performance.now() - t0);
  }
  return { firstEvent: median(first), total: median(total) };
}

const hosts = testHosts(s);
const connA = await connectDocker(hosts.a);
const connSsh = await connectDocker(hosts['b-ssh']);
const dockerA = createDockerRunner({ connection: connA, image: s.image });
const dockerSsh = createDockerRunner({ connection: connSsh, image: s.image });
const step = (i: number): StepSpec => ({ runId: 'bench-docker', stepId: `j${i}`, command: ['sh', '-c', `echo '${EVENT}'`] });

const local = await timeJobs(createLocalRunner(), (i) => ({ ...step(i), command: ['sh', '-c', `echo '${EVENT}'`] }));
const onA = await timeJobs(dockerA, step);
const overSsh = await timeJobs(dockerSsh, step);
// The Docker CLI's own `docker run --rm` of the same command, same daemon.
const cli: number[] = [];
for (let i = -3; i < N; i++) {
  const t0 = performance.now();
  execFileSync('docker', ['-H', `unix://${s.daemons.a.socket}`, 'run', '--rm', '--init', '--network', 'none', s.image, 'sh', '-c', `echo '${EVENT}'`], { stdio: 'ignore' });
  if (i >= 0) cli.push(performance.now() - t0);
}
const cliMedian = median(cli);

console.log(`per job, median of ${N} (create -> first event -> removed):`);
console.log(`  local process:                  ${local.total.toFixed(1)} ms`);
console.log(`  docker run --rm (Docker CLI):    ${cliMedian.toFixed(1)} ms`);
console.log(`  paddock docker runner, socket:   ${onA.total.toFixed(1)} ms (first event at ${onA.firstEvent.toFixed(1)} ms) = x${(onA.total / cliMedian).toFixed(2)} of docker run --rm`);
console.log(`  paddock docker runner, ssh://:   ${overSsh.total.toFixed(1)} ms (first event at ${overSsh.firstEvent.toFixed(1)} ms) = x${(overSsh.total / onA.total).toFixed(2)} of the socket`);

// Pool throughput.
const dir = mkdtempSync(join(tmpdir(), 'paddock-bench-pool-'));
const store = new RunStore(dir);
const queue = new JobQueue(store.db);
const connB = await connectDocker(hosts.b);
const slots = 2;
const poolHosts: PoolHost[] = [
  { name: 'a', labels: {}, slots, gpus: 0, runner: createDockerRunner({ connection: connA, image: s.image }), probe: async () => void (await connA.docker.ping()) },
  { name: 'b', labels: {}, slots, gpus: 0, runner: createDockerRunner({ connection: connB, image: s.image }), probe: async () => void (await connB.docker.ping()) },
];
const JOBS = 200;
// What these 4 slots do with no pool at all: 4 loops calling the runners directly, 2 per daemon.
const direct0 = performance.now();
let next = 0;
await Promise.all(
  [0, 1, 2, 3].map(async (w) => {
    const runner = poolHosts[w % 2].runner;
    while (next < JOBS) {
      const i = next++;
      const r = await runner.run(step(1000 + i), { signal: new AbortController().signal, emit: () => undefined });
      if (r.status !== 'succeeded') throw new Error(r.error);
    }
  }),
);
const directSeconds = (performance.now() - direct0) / 1000;
store.createRun({ id: 'r-bench-pool', name: 'bench', recipePath: '-', recipeText: '', recipeSha256: '0', lineage: {}, host: 'bench', actor: 'bench' });
queue.submit('r-bench-pool', Array.from({ length: JOBS }, (_, i) => ({ id: `j${String(i).padStart(3, '0')}`, spec: { command: ['sh', '-c', `echo '${EVENT}'`] } })));
const t0 = performance.now();
const summary = await new HostPool(queue, poolHosts).run('r-bench-pool', { signal: new AbortController().signal });
const poolSeconds = (performance.now() - t0) / 1000;
const perHost = Object.fromEntries(['a', 'b'].map((h) => [h, queue.jobs('r-bench-pool').filter((j) => j.host === h).length]));
const ideal = (JOBS * onA.total) / 1000 / (slots * 2);
store.close();
rmSync(dir, { recursive: true, force: true });
console.log(`pool: ${JOBS} jobs over 2 daemons x ${slots} slots: ${poolSeconds.toFixed(2)} s (${(JOBS / poolSeconds).toFixed(1)} jobs/s), ${summary.succeeded} succeeded, per host ${JSON.stringify(perHost)}`);
console.log(`  the same 4 slots with no pool (4 loops calling the runners directly): ${directSeconds.toFixed(2)} s; the pool takes x${(poolSeconds / directSeconds).toFixed(2)} of that`);
console.log(`  ideal (${JOBS} x ${onA.total.toFixed(1)} ms / ${slots * 2} slots): ${ideal.toFixed(2)} s; pool at ${((ideal / poolSeconds) * 100).toFixed(0)}% of ideal (both daemons and their containers share this machine's ${(await import('node:os')).cpus().length} cores)`);
console.log(
  `figures: ${writeResults('docker', {
    perJobMs: { localProcess: local.total, dockerCliRunRm: cliMedian, dockerSocket: onA.total, dockerSocketFirstEvent: onA.firstEvent, dockerSsh: overSsh.total, dockerSshFirstEvent: overSsh.firstEvent },
    pool: { jobs: JOBS, hosts: 2, slotsPerHost: slots, seconds: poolSeconds, directSeconds, jobsPerSecond: JOBS / poolSeconds, idealSeconds: ideal, efficiency: ideal / poolSeconds, perHost, succeeded: summary.succeeded },
  })}`,
);
await Promise.all([connA.close(), connB.close(), connSsh.close()]);
await stop();
