/**
 * The real services the Docker tests use, started by the test setup (test/global-setup.ts):
 * two Docker daemons standing for two hosts (Debian's docker.io dockerd, separate sockets, data
 * and exec roots, no bridge network), and an OpenSSH server on loopback with key
 * authentication whose sessions reach daemon "b" (`SetEnv DOCKER_HOST`), for the ssh:// path.
 * State lives under /tmp/paddock-test-services so that images survive between test runs.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { ResolvedHost } from '../../src/schema/hosts.js';

export const SERVICES_DIR = '/tmp/paddock-test-services';
export const DAEMONS = ['a', 'b'] as const;
export type DaemonName = (typeof DAEMONS)[number];

export interface Services {
  daemons: Record<DaemonName, { socket: string; pidFile: string }>;
  ssh: { port: number; user: string; identityFile: string; knownHosts: string; pidFile: string; config: string };
  image: string;
}

export function servicesFile(): string {
  return join(SERVICES_DIR, 'services.json');
}

/** The running services (written by the global setup). */
export function services(): Services {
  if (!existsSync(servicesFile())) throw new Error(`${servicesFile()} is missing: the Docker services are started by test/global-setup.ts (run the tests with "npm test")`);
  return JSON.parse(readFileSync(servicesFile(), 'utf8')) as Services;
}

export function daemonSocket(name: DaemonName): string {
  return join(SERVICES_DIR, name, 'docker.sock');
}

/** Host entries for the test services, as hosts.yaml would give them. */
export function testHosts(s = services()): Record<'a' | 'b' | 'b-ssh', ResolvedHost> {
  return {
    a: { name: 'a', docker: `unix://${s.daemons.a.socket}`, labels: { site: 'desk', arch: 'x86_64' }, capacity: { gpus: 0, slots: 2 }, image: s.image },
    b: { name: 'b', docker: `unix://${s.daemons.b.socket}`, labels: { site: 'lab', arch: 'x86_64' }, capacity: { gpus: 0, slots: 2 }, image: s.image },
    'b-ssh': { name: 'b-ssh', docker: `ssh://${s.ssh.user}@127.0.0.1:${s.ssh.port}`, identity_file: s.ssh.identityFile, known_hosts: s.ssh.knownHosts, labels: { site: 'lab', arch: 'x86_64' }, capacity: { gpus: 0, slots: 2 }, image: s.image },
  };
}

async function ping(socket: string): Promise<boolean> {
  try {
    await new Docker({ socketPath: socket }).ping();
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function pidAlive(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Starts daemon `name` unless it answers already; returns true when this call started it. */
export async function startDaemon(name: DaemonName): Promise<boolean> {
  const dir = join(SERVICES_DIR, name);
  const socket = daemonSocket(name);
  if (await ping(socket)) return false;
  const stale = pidAlive(join(dir, 'dockerd.pid'));
  if (stale) {
    process.kill(stale, 'SIGKILL');
    await until(() => !pidAlive(join(dir, 'dockerd.pid')), `the stale dockerd ${stale} to exit`);
  }
  mkdirSync(join(dir, 'root'), { recursive: true });
  rmSync(join(dir, 'dockerd.pid'), { force: true });
  const log = openSync(join(dir, 'dockerd.log'), 'a');
  const child = spawn(
    'dockerd',
    [
      '--host', `unix://${socket}`,
      '--data-root', join(dir, 'root'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'dockerd.pid'),
      '--bridge', 'none',
      '--iptables=false',
      '--ip-masq=false',
      '--storage-driver', 'overlay2',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  const failed = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`dockerd ${name} exited with status ${code}: see ${join(dir, 'dockerd.log')}`))));
  await Promise.race([until(() => ping(socket), `dockerd ${name} on ${socket} (log: ${join(dir, 'dockerd.log')})`), failed]);
  return true;
}

/** Kills daemon `name` at once (SIGKILL): a host that goes away. */
export async function killDaemon(name: DaemonName): Promise<void> {
  const pidFile = join(SERVICES_DIR, name, 'dockerd.pid');
  const pid = pidAlive(pidFile);
  if (!pid) return;
  process.kill(pid, 'SIGKILL');
  await until(() => !pidAlive(pidFile), `dockerd ${name} to exit`);
}

/** Stops daemon `name` cleanly (SIGTERM). */
export async function stopDaemon(name: DaemonName): Promise<void> {
  const pidFile = join(SERVICES_DIR, name, 'dockerd.pid');
  const pid = pidAlive(pidFile);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  await until(() => !pidAlive(pidFile), `dockerd ${name} to stop`, 30_000);
}

/** A free TCP port on loopback (the test servers bind to it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts sshd on loopback (key authentication only), reaching daemon b; returns true when started here. */
export async function startSshd(previous?: Services['ssh']): Promise<{ ssh: Services['ssh']; started: boolean }> {
  const dir = join(SERVICES_DIR, 'ssh');
  // Reuse a running sshd only if it is the one services.json names: two test runs started at once
  // (or one killed mid-setup) can leave the pid file and the recorded port disagreeing.
  if (previous && pidAlive(previous.pidFile)) {
    if (await portOpen(previous.port)) return { ssh: previous, started: false };
    stopSshd(previous);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  for (const k of [hostKey, clientKey]) if (!existsSync(k)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'paddock-test', '-f', k]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  const port = await freePort();
  const [type, key] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${type} ${key}\n`, { mode: 0o600 });
  const pidFile = join(dir, 'sshd.pid');
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'MaxSessions 100',
      'MaxStartups 100:30:200',
      `SetEnv DOCKER_HOST=unix://${daemonSocket('b')}`,
      '',
    ].join('\n'),
  );
  const sshd = execFileSync('which', ['sshd'], { encoding: 'utf8' }).trim() || '/usr/sbin/sshd';
  execFileSync(sshd, ['-f', config, '-E', join(dir, 'sshd.log')]);
  await until(() => Boolean(pidAlive(pidFile)), 'sshd to write its pid file', 10_000);
  return { ssh: { port, user: 'root', identityFile: clientKey, knownHosts: join(dir, 'known_hosts'), pidFile, config }, started: true };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setTimeout(2000);
    sock.once('connect', () => (sock.destroy(), resolve(true)));
    sock.once('timeout', () => (sock.destroy(), resolve(false)));
    sock.once('error', () => resolve(false));
  });
}

/** Kills the sshd processes serving connections (not the listener): an SSH link that drops. */
export function dropSshSessions(s = services()): number {
  const master = pidAlive(s.ssh.pidFile);
  if (!master) return 0;
  let pids: number[] = [];
  try {
    pids = execFileSync('pgrep', ['-P', String(master)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return 0;
  }
  for (const p of pids) process.kill(p, 'SIGKILL');
  return pids.length;
}

export function stopSshd(s: Services['ssh']): void {
  const pid = pidAlive(s.pidFile);
  if (pid) process.kill(pid, 'SIGTERM');
}
