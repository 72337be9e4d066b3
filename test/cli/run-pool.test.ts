/**
 * `paddock run --hosts hosts.yaml` with `host: pool` targets, the real binary over the two test
 * Docker daemons: container steps spread over both hosts (the store says which host ran each),
 * labels steer a target's steps to the host that has them, a requirement no host meets is a
 * recipe error before anything runs, a host made unreachable in the middle of a step (its
 * daemon's socket reached through a proxy that the test closes) has the step placed on the other
 * host and the run passes, and a paddock SIGKILLed in the middle of a pool step is resumed: the
 * job's interrupted attempt is recorded and it finishes exactly once.
 *
 * The steps wait on a file copied into their container (`hold`), not on time: the test writes
 * "go" into it when it has seen what it waits for, and the next attempt finishes at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Docker from 'dockerode';
import { paddock, paddockProcess } from '../helpers/cli.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';
import { daemonSocket } from '../helpers/docker-services.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { RunStore } from '../../src/store/run-store.js';
import { JobQueue } from '../../src/store/job-queue.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function temp(): string {
  const t = tempDir('paddock-pool-');
  cleanups.push(t.cleanup);
  return t.dir;
}

interface TestHost {
  name: string;
  socket: string;
  labels?: Record<string, string>;
  slots: number;
  gpus?: number;
}

function hostsYaml(file: string, hosts: TestHost[]): string {
  const lines = ['version: 1', 'hosts:'];
  for (const h of hosts) {
    lines.push(`  ${h.name}:`, `    docker: unix://${h.socket}`);
    lines.push(`    labels: { ${Object.entries(h.labels ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ')} }`);
    lines.push(`    capacity: { slots: ${h.slots}, gpus: ${h.gpus ?? 0} }`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** A container step that says it works, then finishes at once when `hold` says "go", else waits (a minute at most). */
function step(id: string, target: string, hold: string, needs: string[] = []): string {
  const say = `echo '{"v":1,"type":"log","level":"info","message":"working ${id}"}'`;
  const script = `${say}; i=0; while ! grep -q go ${hold} && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; grep -q go ${hold}`;
  return `    - { id: ${id}, target: ${target}, run: ["sh", "-c", ${JSON.stringify(script)}], inputs: [${JSON.stringify(hold)}]${needs.length ? `, needs: [${needs.join(', ')}]` : ''} }`;
}

function recipeFile(dir: string, targets: string[], steps: string[]): string {
  const file = join(dir, 'paddock.yaml');
  writeFileSync(file, `version: 1\nname: pool-run\ntargets:\n${targets.map((t) => `  - ${t}`).join('\n')}\nstages:\n  package:\n${steps.join('\n')}\n`);
  return file;
}

function readStore<T>(home: string, read: (store: RunStore, queue: JobQueue) => T): T {
  const store = new RunStore(home, { readonly: true });
  try {
    return read(store, new JobQueue(store.db));
  } finally {
    store.close();
  }
}

/** `paddock <args> --json` as a child; its events as they come, and where each step was placed. */
function watch(args: string[], home: string) {
  const child = paddockProcess([...args, '--json'], { PADDOCK_HOME: home });
  const seen: PaddockEvent[] = [];
  const placed = new Map<string, string>();
  let runId: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const e = PaddockEvent.parse(JSON.parse(l));
    seen.push(e);
    if (e.type === 'run') runId = e.run;
    if (e.type === 'step' && e.status === 'started' && e.step && e.host) placed.set(e.step, e.host);
  });
  return { child, seen, placed, runId: () => runId };
}

/** A unix socket that forwards to daemon b's, standing for the network to a host; close() is the host becoming unreachable. */
async function proxyTo(target: string, path: string): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((local) => {
    const remote = connect(target);
    sockets.add(local).add(remote);
    local.pipe(remote).pipe(local);
    const drop = () => {
      local.destroy();
      remote.destroy();
    };
    local.on('error', drop).on('close', drop);
    remote.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(path, r));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  cleanups.push(close);
  return { close };
}

/** Containers of a run still on daemon `d` (removed here: a host cut off mid-step leaves its container). */
async function leftovers(d: 'a' | 'b', runId: string, remove = false): Promise<number> {
  const docker = new Docker({ socketPath: daemonSocket(d) });
  const found = await docker.listContainers({ all: true, filters: { label: [`paddock.run=${runId}`] } });
  if (remove) await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  return found.length;
}

describe('paddock run --hosts: the host pool', () => {
  it('spreads the container steps of pool targets over both daemons, and labels steer a target to the host that has them', async () => {
    const dir = temp();
    const home = join(dir, 'home');
    const hold = join(dir, 'hold');
    writeFileSync(hold, 'go\n');
    const hosts = hostsYaml(join(dir, 'lab-hosts.yaml'), [
      { name: 'a', socket: daemonSocket('a'), labels: { site: 'desk' }, slots: 2 },
      { name: 'b', socket: daemonSocket('b'), labels: { site: 'lab' }, slots: 2 },
    ]);
    const any = ['s1', 's2', 's3', 's4'];
    const recipe = recipeFile(
      dir,
      ['{ name: any, backend: onnxruntime, host: pool }', '{ name: lab, backend: onnxruntime, host: pool, requires: { labels: { site: lab } } }'],
      [...any.map((id) => step(id, 'any', hold)), step('l1', 'lab', hold, any), step('l2', 'lab', hold, any)],
    );
    const r = await paddock(['run', recipe, '--hosts', hosts, '--concurrency', '4', '--json'], { PADDOCK_HOME: home });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => PaddockEvent.parse(JSON.parse(l)));
    const runId = events.flatMap((e) => (e.type === 'run' ? [e.run] : []))[0];
    const { steps, jobs, attempts } = readStore(home, (store, queue) => ({ steps: store.getSteps(runId), jobs: queue.jobs(runId), attempts: queue.attempts(runId) }));
    const hostOf = Object.fromEntries(steps.map((s) => [s.step_id, s.host]));
    // Four steps, two slots on each host, all four at once: both hosts ran some.
    expect(new Set(any.map((id) => hostOf[id]))).toEqual(new Set(['a', 'b']));
    expect(hostOf.l1).toBe('b');
    expect(hostOf.l2).toBe('b');
    for (const s of steps) expect(s, s.step_id).toMatchObject({ status: 'succeeded', runner: 'docker' });
    // Each step one job, one attempt, on the host the step row names.
    expect(jobs.map((j) => j.job_id).sort()).toEqual([...any, 'l1', 'l2'].sort());
    for (const j of jobs) {
      expect(j).toMatchObject({ state: 'succeeded', attempts: 1, host: hostOf[j.job_id] });
      expect(attempts.filter((a) => a.job_id === j.job_id).map((a) => [a.host, a.outcome])).toEqual([[hostOf[j.job_id], 'succeeded']]);
    }
    // The events say where each step went: queued in the pool, then placed.
    for (const id of [...any, 'l1', 'l2']) {
      const started = events.filter((e) => e.type === 'step' && e.step === id && e.status === 'started').map((e) => (e.type === 'step' ? e.host : ''));
      expect(started).toEqual(['pool', hostOf[id]]);
    }
    const show = await paddock(['show', runId], { PADDOCK_HOME: home });
    for (const id of [...any, 'l1', 'l2']) expect(show.stdout).toMatch(new RegExp(`^package +${id} +succeeded +1 +${hostOf[id]} `, 'm'));
  }, 120_000);

  it('refuses, before anything runs, a target whose requirements no host of the pool meets: naming the target, what it needs and the hosts', async () => {
    const dir = temp();
    const home = join(dir, 'home');
    const hold = join(dir, 'hold');
    writeFileSync(hold, 'go\n');
    const hosts = hostsYaml(join(dir, 'hosts.yaml'), [
      { name: 'a', socket: daemonSocket('a'), labels: { arch: 'x86_64' }, slots: 1 },
      { name: 'b', socket: daemonSocket('b'), labels: { arch: 'x86_64' }, slots: 1, gpus: 1 },
    ]);
    const recipe = recipeFile(dir, ['{ name: orin, backend: tensorrt, host: pool, requires: { labels: { arch: aarch64 }, gpus: 1 } }'], [step('s1', 'orin', hold)]);
    const r = await paddock(['run', recipe, '--hosts', hosts], { PADDOCK_HOME: home });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${recipe}:4:`);
    expect(r.stderr).toContain('targets[0].requires: target orin (host: pool) needs arch=aarch64, 1 GPU(s): no host of the pool has that');
    expect(r.stderr).toContain('a (arch=x86_64, 0 GPU(s)), b (arch=x86_64, 1 GPU(s))');
    expect(r.stderr).toContain(`hosts from ${hosts}`);
    // Nothing ran: no run was recorded.
    expect(existsSync(join(home, 'runs.sqlite')) ? readStore(home, (s) => s.listRuns().length) : 0).toBe(0);
  });

  it('a host that becomes unreachable in the middle of a step: the step is placed on the other host and the run passes', async () => {
    const dir = temp();
    const home = join(dir, 'home');
    const hold = join(dir, 'hold');
    writeFileSync(hold, 'wait\n');
    const proxy = await proxyTo(daemonSocket('b'), join(dir, 'b.sock'));
    // bp (daemon b through the proxy) has more free slots, so the step goes there first.
    const hosts = hostsYaml(join(dir, 'hosts.yaml'), [
      { name: 'a', socket: daemonSocket('a'), slots: 1 },
      { name: 'bp', socket: join(dir, 'b.sock'), slots: 2 },
    ]);
    const recipe = recipeFile(dir, ['{ name: any, backend: onnxruntime, host: pool }'], [step('s1', 'any', hold)]);
    const run = watch(['run', recipe, '--hosts', hosts], home);
    await waitFor(() => run.placed.get('s1') === 'bp' && run.seen.some((e) => e.type === 'log' && e.message === 'working s1'), 'step s1 to work on host bp', 60_000);
    writeFileSync(hold, 'go\n');
    await proxy.close();
    const r = await run.child;
    const runId = run.runId()!;
    cleanups.push(() => void leftovers('b', runId, true));
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const { step: row, attempts } = readStore(home, (store, queue) => ({ step: store.getStep(runId, 's1')!, attempts: queue.attempts(runId, 's1') }));
    expect(row).toMatchObject({ status: 'succeeded', host: 'a', attempt: 1 });
    expect(attempts.map((a) => [a.host, a.outcome])).toEqual([
      ['bp', 'host-failed'],
      ['a', 'succeeded'],
    ]);
    expect(run.seen.some((e) => e.type === 'log' && e.level === 'warn' && /s1: host bp failed during pool attempt 1 .*the pool places it again/.test(e.message))).toBe(true);
    expect(run.seen.filter((e) => e.type === 'step' && e.step === 's1' && e.status === 'started').map((e) => (e.type === 'step' ? e.host : ''))).toEqual(['pool', 'bp', 'a']);
  }, 120_000);

  it('--host pool, paddock SIGKILLed in the middle of a pool step: paddock resume recovers the job and finishes it exactly once', async () => {
    const dir = temp();
    const home = join(dir, 'home');
    const hold = join(dir, 'hold');
    writeFileSync(hold, 'wait\n');
    const hosts = hostsYaml(join(dir, 'pool.yaml'), [
      { name: 'a', socket: daemonSocket('a'), slots: 1 },
      { name: 'b', socket: daemonSocket('b'), slots: 1 },
    ]);
    // The target says local; --host pool puts it on the pool (and the run records that).
    const recipe = recipeFile(dir, ['{ name: any, backend: onnxruntime, host: local }'], [step('s1', 'any', hold)]);
    const first = watch(['run', recipe, '--host', 'pool', '--hosts', hosts], home);
    await waitFor(() => first.seen.some((e) => e.type === 'log' && e.message === 'working s1'), 'step s1 to work', 60_000);
    const ranOn = first.placed.get('s1')!;
    expect(['a', 'b']).toContain(ranOn);
    first.child.kill('SIGKILL');
    await first.child;
    const runId = first.runId()!;
    expect(await leftovers(ranOn as 'a' | 'b', runId)).toBe(1);
    writeFileSync(hold, 'go\n');
    // No --hosts: the run recorded it.
    const r = await paddock(['resume', runId, '--json'], { PADDOCK_HOME: home });
    expect(r.stderr).toMatch(/^(paddock resume: run \S+ was held by pid \d+, which is gone; taken over)?$/);
    expect(r.exitCode).toBe(0);
    const { step: row, jobs, attempts } = readStore(home, (store, queue) => ({ step: store.getStep(runId, 's1')!, jobs: queue.jobs(runId), attempts: queue.attempts(runId, 's1') }));
    expect(row).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect(jobs.map((j) => [j.job_id, j.state])).toEqual([['s1', 'succeeded']]);
    expect(attempts.map((a) => a.outcome)).toEqual(['interrupted', 'succeeded']);
    expect(attempts[0]).toMatchObject({ host: ranOn, error: 'paddock stopped while it ran' });
    expect(row.host).toBe(attempts[1].host);
    // The killed run's container was swept by the resume.
    expect((await leftovers('a', runId)) + (await leftovers('b', runId))).toBe(0);
  }, 120_000);
});
