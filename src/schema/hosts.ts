/**
 * hosts.yaml: the Docker hosts steps may run on.
 *
 *   hosts:
 *     desk:
 *       docker: unix:///var/run/docker.sock
 *       labels: { gpu: rtx4090, arch: x86_64 }
 *       capacity: { gpus: 1, slots: 2 }
 *     orin-1:
 *       docker: ssh://paddock@orin-1.lab:22
 *       identity_file: ~/.ssh/id_ed25519          # or identity_env: PADDOCK_ORIN_KEY
 *       known_hosts: ~/.ssh/known_hosts           # host keys are always checked
 *       labels: { gpu: orin, arch: aarch64 }
 *     gpu-box:
 *       docker: tcp://gpu-box.lab:2376
 *       tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }
 *       pool: false                                # only targets that name it; not the host pool
 *
 * Secrets (keys, certificates) are named by path or environment variable, never written here,
 * and never copied into logs, events or the store.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { parseYamlWith, RecipeError } from './recipe-load.js';

const hostName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'a host name is letters, digits, ".", "_" or "-"')
  // A target's host: "local" is this machine and "pool" the host pool, never a host of the file.
  .refine((n) => n !== 'local' && n !== 'pool', { message: '"local" and "pool" are reserved host names (this machine, the host pool)' });

const DockerUrl = z.string().refine((s) => /^(unix:\/\/\/.+|ssh:\/\/[^@/\s]+@[^:/\s]+(:\d{1,5})?\/?|tcp:\/\/[^:/\s]+:\d{1,5}\/?)$/.test(s), {
  message: 'expected unix:///path/docker.sock, ssh://user@host[:port] or tcp://host:port',
});

export const HostConfig = z
  .object({
    docker: DockerUrl,
    /** ssh://: the private key file, or the environment variable holding the key. */
    identity_file: z.string().min(1).optional(),
    identity_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
    /** ssh://: known_hosts file checked against the host's key (default ~/.ssh/known_hosts). */
    known_hosts: z.string().min(1).optional(),
    /** tcp://: TLS files (PEM), paths relative to hosts.yaml. */
    tls: z.object({ ca: z.string().min(1), cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    labels: z.record(z.string(), z.string()).default({}),
    capacity: z
      .object({
        gpus: z.number().int().min(0).default(0),
        /** Jobs this host runs at once. */
        slots: z.number().int().positive().default(1),
      })
      .strict()
      .default({ gpus: 0, slots: 1 }),
    /** The image steps run in when a step names none. */
    image: z.string().min(1).optional(),
    /** Whether `host: pool` targets may run here (false: only targets that name this host). */
    pool: z.boolean().default(true),
  })
  .strict()
  .superRefine((h, ctx) => {
    const scheme = h.docker.split(':')[0];
    if (scheme === 'ssh' && !h.identity_file && !h.identity_env) ctx.addIssue({ code: 'custom', path: ['identity_file'], message: 'an ssh:// host needs identity_file or identity_env' });
    if (scheme !== 'ssh' && (h.identity_file || h.identity_env || h.known_hosts)) ctx.addIssue({ code: 'custom', path: ['identity_file'], message: `identity_file, identity_env and known_hosts are for ssh:// hosts, not ${scheme}://` });
    if (scheme === 'tcp' && !h.tls) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'a tcp:// host needs tls (ca, cert, key): the Docker API without TLS is root on that machine for anyone on the network' });
    if (scheme !== 'tcp' && h.tls) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls is for tcp:// hosts' });
  });
export type HostConfig = z.infer<typeof HostConfig>;

export const HostsFile = z
  .object({
    version: z.literal(1).default(1),
    hosts: z.record(hostName, HostConfig, {
      error: (iss) => (iss.code === 'invalid_type' ? `expected a mapping of host names to their settings (hosts: { gpu1: { docker: ssh://me@gpu1 } }), not ${Array.isArray(iss.input) ? 'a list' : iss.input === null ? 'nothing' : `a ${typeof iss.input}`}` : undefined),
    }),
  })
  .strict();
export type HostsFile = z.infer<typeof HostsFile>;

/** A host with its file paths resolved (relative to hosts.yaml, ~ expanded). */
export interface ResolvedHost extends Omit<HostConfig, 'pool'> {
  name: string;
  /** In the host pool unless false. */
  pool?: boolean;
}

function expand(p: string, base: string): string {
  if (p === '~' || p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(base, p);
}

/** Parses hosts.yaml text; errors are located (file:line:column path: message). */
export function parseHosts(text: string, file: string): ResolvedHost[] {
  const { value } = parseYamlWith(text, file, HostsFile);
  const base = dirname(file);
  return Object.entries(value.hosts).map(([name, h]) => ({
    ...h,
    name,
    identity_file: h.identity_file && expand(h.identity_file, base),
    known_hosts: h.docker.startsWith('ssh:') ? expand(h.known_hosts ?? '~/.ssh/known_hosts', base) : undefined,
    tls: h.tls && { ca: expand(h.tls.ca, base), cert: expand(h.tls.cert, base), key: expand(h.tls.key, base) },
  }));
}

/** Reads hosts.yaml. */
export function loadHosts(file: string): ResolvedHost[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RecipeError([{ file, path: '', line: 0, column: 0, message: `cannot read the hosts file: ${(err as Error).message}` }]);
  }
  return parseHosts(text, file);
}

/** The local Docker engine, when no hosts.yaml names one. */
export function localHost(socket = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST : 'unix:///var/run/docker.sock'): ResolvedHost {
  return { name: 'local-docker', docker: socket, labels: {}, capacity: { gpus: 0, slots: 2 } };
}
