/**
 * Connections to Docker engines named in hosts.yaml: a local socket, ssh:// (one SSH connection
 * per host, with each API connection a `docker system dial-stdio` channel on it, reached through
 * a private unix socket), or tcp:// with TLS. docker-modem's own ssh transport opens a new SSH
 * connection for every API request (docker-modem 5.0.7, lib/ssh.js) and checks no host key
 * unless told to; ours authenticates once, checks the host key against known_hosts, and loses
 * every in-flight request at once when the connection drops, which the runner reports as a
 * host failure.
 */
import Docker from 'dockerode';
import { createServer, type Server, type Socket } from 'node:net';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as SshClient } from 'ssh2';
import type { ResolvedHost } from '../src/schema/hosts.js';

/** The host or the way to it failed, not the step: the job may be retried elsewhere. */
export class HostError extends Error {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostError';
  }
}

/** True when an error from dockerode means the engine or the link to it is gone. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof HostError) return true;
  const e = err as { code?: string; message?: string; statusCode?: number };
  if (e?.code && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE'].includes(e.code)) return true;
  return /socket hang up|connect ENOENT|ECONNREFUSED|ECONNRESET|premature close|aborted|SSH connection/i.test(e?.message ?? '');
}

export interface DockerConnection {
  readonly host: ResolvedHost;
  readonly docker: Docker;
  /** Where it connects, without secrets: "unix:///run/docker.sock", "ssh://paddock@orin:22". */
  readonly address: string;
  /**
   * Why the link itself last failed (SSH: refused, host key, closed), if it has not worked
   * since: dockerode only sees "socket hang up" when the tunnel under it fails.
   */
  failure?(): Error | undefined;
  close(): Promise<void>;
}

interface KnownKey {
  hosts: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  key: Buffer;
  revoked: boolean;
}

/** Parses an OpenSSH known_hosts file (plain and hashed names, @revoked; @cert-authority lines are skipped). */
export function parseKnownHosts(text: string): KnownKey[] {
  const out: KnownKey[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0].startsWith('@')) {
      if (fields[0] === '@cert-authority') continue;
      revoked = fields[0] === '@revoked';
      fields = fields.slice(1);
    }
    if (fields.length < 3) continue;
    const key = Buffer.from(fields[2], 'base64');
    if (fields[0].startsWith('|1|')) {
      const [, , salt, hash] = fields[0].split('|');
      out.push({ hosts: [], hashed: { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') }, key, revoked });
    } else {
      out.push({ hosts: fields[0].split(','), key, revoked });
    }
  }
  return out;
}

/** How OpenSSH names a host in known_hosts: "host" on port 22, "[host]:port" otherwise. */
function knownName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Checks a host key (the raw SSH key blob) against known_hosts entries; returns why not when it fails. */
export function checkHostKey(entries: KnownKey[], host: string, port: number, key: Buffer): string | undefined {
  const name = knownName(host, port);
  const mine = entries.filter((e) => (e.hashed ? createHmac('sha1', e.hashed.salt).update(name).digest().equals(e.hashed.hash) : e.hosts.includes(name)));
  if (mine.some((e) => e.revoked && e.key.equals(key))) return `the host key of ${name} is marked @revoked`;
  if (mine.some((e) => !e.revoked && e.key.equals(key))) return undefined;
  return mine.length ? `the host key of ${name} does not match known_hosts (possible man-in-the-middle)` : `${name} is not in known_hosts`;
}

function parseSsh(url: string): { user: string; host: string; port: number } {
  const m = /^ssh:\/\/([^@/]+)@([^:/]+)(?::(\d+))?\/?$/.exec(url)!;
  return { user: m[1], host: m[2], port: m[3] ? Number(m[3]) : 22 };
}

/** One SSH connection to a host, shared by every Docker API connection through a local socket. */
class SshTunnel {
  private client?: SshClient;
  private ready?: Promise<SshClient>;
  private server?: Server;
  private readonly dir = mkdtempSync(join(tmpdir(), 'paddock-ssh-'));
  readonly socketPath = join(this.dir, 'docker.sock');
  private readonly sockets = new Set<Socket>();
  lastFailure?: HostError;

  constructor(
    private readonly host: ResolvedHost,
    private readonly privateKey: Buffer | string,
  ) {}

  async listen(): Promise<void> {
    this.server = createServer((local) => this.forward(local));
    await new Promise<void>((res, rej) => this.server!.once('error', rej).listen(this.socketPath, () => res()));
  }

  private connect(): Promise<SshClient> {
    if (this.ready) return this.ready;
    const { user, host, port } = parseSsh(this.host.docker);
    let knownProblem: string | undefined;
    this.ready = new Promise<SshClient>((resolve, reject) => {
      const client = new SshClient();
      client
        .once('ready', () => {
          this.client = client;
          this.lastFailure = undefined;
          resolve(client);
        })
        .once('error', (err) => {
          this.ready = undefined;
          this.lastFailure = new HostError(this.host.name, knownProblem ? `${knownProblem} (${this.host.known_hosts})` : `SSH connection failed: ${err.message}`);
          reject(this.lastFailure);
        })
        .once('close', () => {
          const wasUp = this.client === client;
          this.ready = undefined;
          this.client = undefined;
          if (!wasUp) return;
          // Every Docker API connection on it ends now: in-flight requests fail as host failures.
          this.lastFailure = new HostError(this.host.name, 'the SSH connection closed');
          for (const s of this.sockets) s.destroy(this.lastFailure);
        });
      let known: KnownKey[];
      try {
        known = parseKnownHosts(readFileSync(this.host.known_hosts!, 'utf8'));
      } catch (err) {
        this.ready = undefined;
        this.lastFailure = new HostError(this.host.name, `cannot read known_hosts ${this.host.known_hosts}: ${(err as Error).message}`);
        reject(this.lastFailure);
        return;
      }
      client.connect({
        host,
        port,
        username: user,
        privateKey: this.privateKey,
        readyTimeout: 10_000,
        keepaliveInterval: 5_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          knownProblem = checkHostKey(known, host, port, key);
          return knownProblem === undefined;
        },
      });
    });
    return this.ready;
  }

  private forward(local: Socket): void {
    this.sockets.add(local);
    local.once('close', () => this.sockets.delete(local));
    local.on('error', () => undefined);
    local.pause();
    this.connect().then(
      (client) => {
        client.exec('docker system dial-stdio', (err, channel) => {
          if (err) {
            local.destroy(new HostError(this.host.name, `cannot open a Docker channel over SSH: ${err.message}`));
            return;
          }
          channel.stderr.on('data', () => undefined);
          local.pipe(channel).pipe(local);
          channel.once('close', () => local.destroy());
          local.once('close', () => channel.close());
          local.resume();
        });
      },
      (err: Error) => local.destroy(err),
    );
  }

  /** Drops the SSH connection (tests use it to stand for a network failure). */
  drop(): void {
    this.client?.destroy();
  }

  async close(): Promise<void> {
    this.client?.end();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function readSecret(host: ResolvedHost): Buffer | string {
  if (host.identity_env) {
    const v = process.env[host.identity_env];
    if (!v) throw new HostError(host.name, `the environment variable ${host.identity_env} (identity_env of host ${host.name}) is not set`);
    return v;
  }
  try {
    return readFileSync(host.identity_file!);
  } catch (err) {
    throw new HostError(host.name, `cannot read the identity file of host ${host.name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Opens a connection to a host's Docker engine (lazily: nothing is sent until the first call). */
export async function connectDocker(host: ResolvedHost): Promise<DockerConnection & { drop?: () => void }> {
  const url = host.docker;
  if (url.startsWith('unix://')) {
    const socketPath = url.slice('unix://'.length);
    return { host, address: url, docker: new Docker({ socketPath }), close: async () => undefined };
  }
  if (url.startsWith('tcp://')) {
    const m = /^tcp:\/\/([^:/]+):(\d+)/.exec(url)!;
    const read = (p: string, what: string) => {
      try {
        return readFileSync(p);
      } catch (err) {
        throw new HostError(host.name, `cannot read the TLS ${what} of host ${host.name} (${p}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    const docker = new Docker({ protocol: 'https', host: m[1], port: Number(m[2]), ca: read(host.tls!.ca, 'CA'), cert: read(host.tls!.cert, 'certificate'), key: read(host.tls!.key, 'key') });
    return { host, address: url, docker, close: async () => undefined };
  }
  const tunnel = new SshTunnel(host, readSecret(host));
  await tunnel.listen();
  const { user, host: h, port } = parseSsh(url);
  return { host, address: `ssh://${user}@${h}:${port}`, docker: new Docker({ socketPath: tunnel.socketPath }), failure: () => tunnel.lastFailure, close: () => tunnel.close(), drop: () => tunnel.drop() };
}

/** The local Docker engine's unix socket: the one given, else $DOCKER_HOST's, else /var/run/docker.sock. */
export function localDockerSocket(given?: string): string {
  return given ?? (process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock');
}

/**
 * The local Docker engine (dockerode on `localDockerSocket(given)`), or why there is none: the
 * stage, sbom and contract-smoke steps look images up there and say so when they cannot (the
 * one way into Docker is this folder).
 */
export async function localDocker(given?: string): Promise<{ socket: string; docker?: Docker; why?: string }> {
  const socket = localDockerSocket(given);
  if (!existsSync(socket)) return { socket, why: `no Docker engine at ${socket}` };
  return { socket, docker: new Docker({ socketPath: socket }) };
}

/** An image on that engine by reference: its id and repo digests, or whether it is missing and why. */
export async function findImage(docker: Docker, socket: string, ref: string): Promise<{ id: string; repoDigests: string[] } | { missing: boolean; why: string }> {
  try {
    const info = await docker.getImage(ref).inspect();
    return { id: info.Id, repoDigests: info.RepoDigests ?? [] };
  } catch (err) {
    const missing = (err as { statusCode?: number }).statusCode === 404;
    return { missing, why: missing ? `image ${ref} is not on the Docker host at ${socket}` : `Docker at ${socket}: ${(err as Error).message}` };
  }
}
/** dockerode's client, for callers above this folder (they never import dockerode themselves). */
export type DockerEngine = Docker;
