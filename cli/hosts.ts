/**
 * Docker hosts for the CLI: which hosts.yaml applies, runners for the hosts a run uses,
 * `paddock hosts` (what each host is and has) and `paddock images build`.
 *
 * hosts.yaml is found at --hosts, else $PADDOCK_HOSTS, else beside the recipe, else
 * ~/.config/paddock/hosts.yaml. The host named "docker" is always the local engine
 * (unix:///var/run/docker.sock, or $DOCKER_HOST when it is a unix socket) unless the file
 * names its own "docker".
 */
import type { ResolvedHost } from '../src/schema/hosts.js';
import type { DockerEngine } from '../runners/docker-client.js';
import { LOCAL_DOCKER, loadAllHosts, findHostsFile } from '../runners/pool-hosts.js';

// One implementation: runners/pool-hosts.ts (the sim step's sweep uses it too, and src/ does not import cli/).
export { LOCAL_DOCKER, loadAllHosts, findHostsFile };

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s (${what})`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolvePromise(v);
      },
      (err: Error) => {
        clearTimeout(t);
        reject(err);
      },
    );
  });
}

export interface HostReport {
  name: string;
  address: string;
  labels: Record<string, string>;
  capacity: { gpus: number; slots: number };
  reachable: boolean;
  error?: string;
  docker?: { version: string; apiVersion: string; os: string; arch: string; runtimes: string[] };
  images: { ref: string; id: string; created: string; sizeMb: number }[];
  gpus: { available: boolean; detail: string; devices: string[] };
  containers: { id: string; name: string; run?: string; step?: string; status: string }[];
}

/** Everything `paddock hosts` shows about one host; never throws, never includes secrets. */
export async function inspectHost(host: ResolvedHost, timeoutMs = 8000): Promise<HostReport> {
  const { connectDocker } = await import('../runners/docker-client.js');
  const { LABELS } = await import('../runners/docker.js');
  const base: HostReport = { name: host.name, address: host.docker, labels: host.labels, capacity: host.capacity, reachable: false, images: [], gpus: { available: false, detail: 'not checked', devices: [] }, containers: [] };
  let conn;
  try {
    conn = await connectDocker(host);
    base.address = conn.address;
  } catch (err) {
    return { ...base, error: (err as Error).message };
  }
  try {
    const d = conn.docker;
    const version = (await withTimeout(d.version(), timeoutMs, 'docker version')) as { Version: string; ApiVersion: string; Os: string; Arch: string };
    const info = (await withTimeout(d.info(), timeoutMs, 'docker info')) as { Runtimes?: Record<string, unknown>; Architecture?: string };
    const runtimes = Object.keys(info.Runtimes ?? {});
    base.reachable = true;
    base.docker = { version: version.Version, apiVersion: version.ApiVersion, os: version.Os, arch: info.Architecture ?? version.Arch, runtimes };
    const images = await d.listImages({ filters: { reference: ['paddock-step', 'paddock-base', 'paddock-*'] } });
    base.images = images.flatMap((im) => (im.RepoTags ?? []).filter((t) => t.startsWith('paddock')).map((ref) => ({ ref, id: im.Id, created: new Date(im.Created * 1000).toISOString(), sizeMb: Math.round(im.Size / 1e5) / 10 })));
    base.images.sort((a, b) => (a.ref < b.ref ? -1 : 1));
    const containers = await d.listContainers({ filters: { label: [LABELS.managed] } });
    base.containers = containers.map((c) => ({ id: c.Id.slice(0, 12), name: (c.Names[0] ?? '').replace(/^\//, ''), run: c.Labels[LABELS.run], step: c.Labels[LABELS.step], status: c.Status }));
    if (!runtimes.includes('nvidia')) base.gpus = { available: false, detail: 'no NVIDIA container runtime on this host', devices: [] };
    else base.gpus = await nvidiaSmi(d, base.images[0]?.id ?? host.image, timeoutMs);
  } catch (err) {
    base.error = conn.failure?.()?.message ?? (err as Error).message;
  } finally {
    await conn.close();
  }
  return base;
}

/** Runs nvidia-smi in a container with every GPU (the NVIDIA runtime mounts the tool in). */
async function nvidiaSmi(d: DockerEngine, image: string | undefined, timeoutMs: number): Promise<HostReport['gpus']> {
  if (!image) return { available: false, detail: 'NVIDIA runtime present; no paddock image to run nvidia-smi in (paddock images build)', devices: [] };
  try {
    const c = await d.createContainer({
      Image: image,
      Cmd: ['nvidia-smi', '--query-gpu=index,name,memory.total,driver_version', '--format=csv,noheader'],
      Labels: { paddock: '1', 'paddock.step': 'hosts:nvidia-smi' },
      HostConfig: { DeviceRequests: [{ Driver: '', Count: -1, Capabilities: [['gpu', 'utility']], Options: {} }], NetworkMode: 'none' },
    });
    try {
      await c.start();
      const r = (await withTimeout(c.wait(), timeoutMs, 'nvidia-smi')) as { StatusCode: number };
      const logs = (await c.logs({ stdout: true, stderr: true })) as unknown as Buffer;
      const text = demuxToText(logs);
      if (r.StatusCode !== 0) return { available: false, detail: `nvidia-smi exited with status ${r.StatusCode}: ${text.trim().slice(0, 200)}`, devices: [] };
      const devices = text.split('\n').map((l) => l.trim()).filter(Boolean);
      return { available: devices.length > 0, detail: `${devices.length} GPU(s)`, devices };
    } finally {
      await c.remove({ force: true }).catch(() => undefined);
    }
  } catch (err) {
    return { available: false, detail: `nvidia-smi could not run: ${(err as { json?: { message?: string } }).json?.message ?? (err as Error).message}`, devices: [] };
  }
}

/** The text of a multiplexed Docker log buffer (8-byte frame headers). */
function demuxToText(buf: Buffer): string {
  let out = '';
  for (let o = 0; o + 8 <= buf.length; ) {
    const n = buf.readUInt32BE(o + 4);
    out += buf.subarray(o + 8, o + 8 + n).toString('utf8');
    o += 8 + n;
  }
  return out;
}

export function formatHostReport(r: HostReport): string {
  const lines = [`${r.name}  ${r.address}  ${r.reachable ? 'reachable' : 'UNREACHABLE'}`];
  if (r.error) lines.push(`  error: ${r.error}`);
  const labels = Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(' ');
  lines.push(`  labels: ${labels || '-'}   capacity: ${r.capacity.slots} slot(s), ${r.capacity.gpus} GPU(s)`);
  if (r.docker) lines.push(`  docker: ${r.docker.version} (API ${r.docker.apiVersion}), ${r.docker.os}/${r.docker.arch}, runtimes: ${r.docker.runtimes.join(', ') || '-'}`);
  if (r.reachable) {
    lines.push(`  images: ${r.images.length ? '' : 'none of paddock\'s (paddock images build --host ' + r.name + ')'}`);
    for (const im of r.images) lines.push(`    ${im.ref}  ${im.id}  ${im.sizeMb} MB`);
    lines.push(`  GPUs: ${r.gpus.detail}`);
    for (const g of r.gpus.devices) lines.push(`    ${g}`);
    lines.push(`  paddock containers running: ${r.containers.length}`);
    for (const c of r.containers) lines.push(`    ${c.id} ${c.name} run ${c.run ?? '?'} step ${c.step ?? '?'} (${c.status})`);
  }
  return lines.join('\n');
}

/** `paddock hosts [--hosts FILE] [--json]`; exit 0 when every host answered, else 1. */
export async function hostsCommand(opts: { hostsFile?: string; json: boolean }, write = (s: string) => process.stdout.write(s)): Promise<number> {
  const file = findHostsFile(opts.hostsFile);
  const { hosts } = await loadAllHosts(file);
  const reports = await Promise.all(hosts.map((h) => inspectHost(h)));
  if (opts.json) write(`${JSON.stringify({ file: file ?? null, hosts: reports }, null, 2)}\n`);
  else {
    write(`hosts from ${file ?? '(no hosts.yaml: only the local engine)'}\n\n`);
    write(reports.map(formatHostReport).join('\n\n') + '\n');
  }
  return reports.every((r) => r.reachable) ? 0 : 1;
}

/** `paddock images build [--host NAME]`: the step image on a host (default: the local engine). */
export async function imagesBuildCommand(opts: { hostsFile?: string; host?: string }, write = (s: string) => process.stdout.write(s)): Promise<number> {
  const { hosts } = await loadAllHosts(findHostsFile(opts.hostsFile));
  const name = opts.host ?? LOCAL_DOCKER;
  const host = hosts.find((h) => h.name === name);
  if (!host) {
    process.stderr.write(`paddock images build: no host "${name}" (known: ${hosts.map((h) => h.name).join(', ')})\n`);
    return 2;
  }
  const { connectDocker } = await import('../runners/docker-client.js');
  const { buildStepImage } = await import('../runners/docker-images.js');
  const conn = await connectDocker(host);
  try {
    const img = await buildStepImage(conn.docker, (l) => write(`${l}\n`));
    write(`${img.built ? 'built' : 'already there'}: ${img.ref} = ${img.id} on ${host.name}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`paddock images build: host ${host.name} (${conn.address}): ${(err as Error).message}\n`);
    return 2;
  } finally {
    await conn.close();
  }
}
