/**
 * Checks, before any test runs, that what the tests need is here; a missing part is a setup
 * failure with a clear message, never a silent skip. scripts/bootstrap.mjs installs and starts
 * these on a fresh Debian machine (npm test).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import Docker from 'dockerode';
import { BUSYBOX, buildStepImage } from '../runners/docker-images.js';
import { DAEMONS, SERVICES_DIR, daemonSocket, services, servicesFile, startDaemon, startSshd, stopDaemon, stopSshd, type DaemonName, type Services } from './helpers/docker-services.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { POSTGRES_BIN, startPostgres, stopPostgres } from './helpers/postgres-service.js';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

export default async function setup(): Promise<() => Promise<void>> {
  const problems: string[] = [];
  if (!existsSync(join(root, 'dist', 'paddock.js')) || !existsSync(join(root, 'dist', 'step.js'))) {
    problems.push('dist/ is not built: run "npm test" (it builds), or "npm run build"');
  }
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import json, hashlib'], { stdio: 'ignore' });
  } catch {
    problems.push('/usr/bin/python3 is missing: the Python event helper tests need Debian\'s python3 (npm test installs it as root)');
  }
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
  } catch {
    problems.push('tmux is missing: the end-to-end TUI tests drive the real binary in tmux (npm test installs Debian\'s tmux as root)');
  }
  for (const [bin, pkg] of [['dockerd', 'docker.io'], ['sshd', 'openssh-server'], ['ssh-keygen', 'openssh-client'], [BUSYBOX, 'busybox-static']]) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin} || test -x ${bin}`], { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    } catch {
      problems.push(`${bin} is missing: the Docker runner tests need Debian's ${pkg} (npm test installs it as root)`);
    }
  }
  if (!existsSync(join(POSTGRES_BIN, 'postgres'))) problems.push(`${POSTGRES_BIN}/postgres is missing: the registry tests run against a real PostgreSQL 15 (npm test installs Debian's postgresql as root)`);
  if (process.getuid?.() !== 0) problems.push('the Docker runner tests start their own Docker daemons and sshd, which needs root (this machine runs the tests as root)');
  if (problems.length) {
    throw new Error(`test setup failed:\n  - ${problems.join('\n  - ')}`);
  }
  return startServices();
}

/** Starts the two Docker daemons and sshd (test/helpers/docker-services.ts), builds the step image on both, then PostgreSQL (test/helpers/postgres-service.ts). */
export async function startServices(): Promise<() => Promise<void>> {
  process.env.PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
  mkdirSync(SERVICES_DIR, { recursive: true });
  const started: DaemonName[] = [];
  let previous: Services | undefined;
  try {
    previous = services();
  } catch {
    // first run on this machine
  }
  let starting = 'the Docker test services';
  try {
    for (const d of DAEMONS) if (await startDaemon(d)) started.push(d);
    const { ssh, started: sshStarted } = await startSshd(previous?.ssh);
    let image = '';
    // No pruning: another checkout's tests may be using its own build of the image on these daemons.
    for (const d of DAEMONS) image = (await buildStepImage(new Docker({ socketPath: daemonSocket(d) }), undefined, { prune: false })).ref;
    const daemons = Object.fromEntries(DAEMONS.map((d) => [d, { socket: daemonSocket(d), pidFile: join(SERVICES_DIR, d, 'dockerd.pid') }])) as Services['daemons'];
    writeFileSync(servicesFile(), JSON.stringify({ daemons, ssh, image } satisfies Services, null, 2));
    // PostgreSQL records itself (postgresService(), postgresUrl() in test/helpers/postgres-service.ts
    // read it), as services.json records the Docker services.
    starting = 'PostgreSQL for the registry tests';
    const postgres = await startPostgres();
    return async () => {
      // Only what this setup started: daemons already running belong to someone else's run.
      if (postgres.started) stopPostgres(postgres.service);
      if (sshStarted) stopSshd(ssh);
      for (const d of started) await stopDaemon(d);
    };
  } catch (err) {
    for (const d of started) await stopDaemon(d).catch(() => undefined);
    throw new Error(`test setup failed: could not start ${starting}: ${(err as Error).message}`);
  }
}
