/**
 * Docker hosts of hosts.yaml as hosts of the pool, for `paddock run` (cli/run-hosts.ts) and for
 * steps that run their own pool (the sim step's sweep, src/sim/sweep.ts), which must not import
 * cli/: which hosts.yaml applies, every host it names, and a host made ready for steps (it
 * answers, paddock's step image is there, containers a dead paddock left are gone).
 *
 * hosts.yaml is found at the explicit path, else $PADDOCK_HOSTS, else beside the recipe, else
 * ~/.config/paddock/hosts.yaml. The host named "docker" is always the local engine
 * (unix:///var/run/docker.sock, or $DOCKER_HOST when it is a unix socket) unless the file names
 * its own "docker". Docker modules load only when a host is connected (`paddock --help` stays small).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { ResolvedHost } from '../src/schema/hosts.js';
import type { Runner } from '../src/pipeline/runner.js';
import type { DockerConnection } from './docker-client.js';
import type { PoolHost } from './host-pool.js';

export const LOCAL_DOCKER = 'docker';

/** The hosts.yaml that applies, or undefined when there is none (`recipeDir`: the recipe's folder when there is no recipe file, e.g. in a step). */
export function findHostsFile(explicit: string | undefined, recipeFile?: string, recipeDir = recipeFile && dirname(recipeFile)): string | undefined {
  if (explicit) return resolve(explicit);
  if (process.env.PADDOCK_HOSTS) return resolve(process.env.PADDOCK_HOSTS);
  const candidates = [recipeDir && join(recipeDir, 'hosts.yaml'), join(homedir(), '.config', 'paddock', 'hosts.yaml')].filter((x): x is string => Boolean(x));
  return candidates.find((f) => existsSync(f));
}

/**
 * Every host: the file's, and the local engine as "docker". The host pool is the file's hosts
 * (those not marked `pool: false`); the local engine joins it only when there is no file.
 */
export async function loadAllHosts(file: string | undefined): Promise<{ hosts: ResolvedHost[]; file?: string }> {
  const { loadHosts, localHost } = await import('../src/schema/hosts.js');
  const hosts = file ? loadHosts(file) : [];
  if (!hosts.some((h) => h.name === LOCAL_DOCKER)) hosts.push({ ...localHost(), name: LOCAL_DOCKER, pool: !file });
  return { hosts, file };
}

/** A connected host: its engine, the image its steps run in by default, and a Docker runner on it. */
export interface ConnectedHost {
  host: ResolvedHost;
  conn: DockerConnection;
  image: string;
  runner: Runner;
}

/** Connects to a host (no request made yet); its image is hosts.yaml's, else paddock's step image. */
export async function connectHost(host: ResolvedHost): Promise<ConnectedHost> {
  const { connectDocker } = await import('./docker-client.js');
  const { createDockerRunner } = await import('./docker.js');
  const { stepImageRef } = await import('./docker-images.js');
  const conn = await connectDocker(host);
  const image = host.image ?? stepImageRef();
  return { host, conn, image, runner: createDockerRunner({ connection: conn, image }) };
}

/** Resolves when the host answers and has the step image (built when the host uses the default image and lacks it); rejects with why not. */
export async function readyHost(c: ConnectedHost, log: (line: string) => void): Promise<void> {
  try {
    await c.conn.docker.ping();
  } catch (err) {
    throw new Error(`host ${c.host.name} (${c.conn.address}) does not answer: ${c.conn.failure?.()?.message ?? (err as Error).message}`);
  }
  if (!c.host.image) {
    const { buildStepImage } = await import('./docker-images.js');
    const img = await buildStepImage(c.conn.docker, (l) => log(`host ${c.host.name}: ${l}`));
    if (img.built) log(`host ${c.host.name}: built ${img.ref} (${img.id})`);
  }
}

/** Removes the containers of paddock processes of this machine that are gone. */
async function sweepDead(c: ConnectedHost): Promise<number> {
  const { sweepOrphans } = await import('./docker.js');
  const { isAlive } = await import('./process-tree.js');
  return sweepOrphans(c.conn.docker, isAlive);
}

/** Removes the containers an earlier attempt of `runId` left (none when `runId` is undefined), and those of paddock processes of this machine that are gone. */
export async function sweepHost(c: ConnectedHost, runId: string | undefined, log: (line: string) => void): Promise<void> {
  const swept = runId === undefined ? 0 : await c.runner.sweep!(runId);
  if (swept) log(`host ${c.host.name}: removed ${swept} container(s) left by an earlier attempt of ${runId}`);
  const orphans = await sweepDead(c);
  if (orphans) log(`host ${c.host.name}: removed ${orphans} container(s) left by paddock processes of this machine that are gone`);
}

/**
 * A host of hosts.yaml as a host of the pool: connected, made ready and swept of `runId`'s
 * leftovers; one that does not answer starts set aside (`down`) and the pool probes it again
 * with backoff (probe: ready again; ping: the engine answers). `runId` undefined: a pool whose
 * run id is not unique to it (every sweep's queue has the same one), so only the containers of
 * dead paddock processes are ever removed, never those of another live pool with the same id.
 */
export async function dockerPoolHost(host: ResolvedHost, runId: string | undefined, log: (line: string) => void): Promise<{ poolHost: PoolHost; close(): Promise<void> }> {
  const c = await connectHost(host);
  if (runId === undefined) c.runner = { ...c.runner, kind: c.runner.kind, host: c.runner.host, run: c.runner.run, close: c.runner.close, sweep: () => sweepDead(c) };
  let down: string | undefined;
  try {
    await readyHost(c, log);
    await sweepHost(c, runId, log);
  } catch (err) {
    down = (err as Error).message;
    log(`host pool: ${down}; set aside, tried again later`);
  }
  const poolHost: PoolHost = {
    name: host.name,
    labels: host.labels,
    slots: host.capacity.slots,
    gpus: host.capacity.gpus,
    runner: c.runner,
    image: c.image,
    down,
    probe: () => readyHost(c, log),
    ping: async () => void (await c.conn.docker.ping()),
  };
  return { poolHost, close: () => c.conn.close() };
}

/**
 * A host whose runner takes jobs of built-in node steps written as they run here
 * ([...localEntry, step, params] with the step's container inputs and outputs): a Docker host
 * runs the step in its image ([STEP_ENTRY, step, params], in /work, the files copied in and
 * out); a local host runs the process as it is (the local runner reads no container settings).
 */
export async function builtinStepHost(h: PoolHost, localEntry: readonly string[]): Promise<PoolHost> {
  if (h.runner.kind !== 'docker') return h;
  const { STEP_ENTRY } = await import('./docker-images.js');
  const inner = h.runner;
  const runner: Runner = {
    ...inner,
    kind: inner.kind,
    host: inner.host,
    run(spec, ctx) {
      const cmd = spec.command ?? [];
      const ours = localEntry.every((part, i) => cmd[i] === part);
      if (!ours) return inner.run(spec, ctx);
      return inner.run({ ...spec, command: [...STEP_ENTRY, ...cmd.slice(localEntry.length)], cwd: '/work' }, ctx);
    },
  };
  return { ...h, runner };
}
