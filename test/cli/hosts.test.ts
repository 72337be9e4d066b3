/**
 * The real binary with Docker hosts: a recipe's bench step in a container on a local daemon and
 * over SSH, with the latency stream live; the demo with --host; `paddock hosts`; host-key
 * checking; and no secret in output, events or the store.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { paddock, paddockProcess } from '../helpers/cli.js';
import { FIXTURES, tempDir } from '../helpers/fixtures.js';
import { services, testHosts } from '../helpers/docker-services.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { RunStore } from '../../src/store/run-store.js';
import type { ResolvedHost } from '../../src/schema/hosts.js';

const CANDIDATE = join(FIXTURES, 'world', 'models', 'candidate', 'model.onnx');
const CANDIDATE_SHA = '58d1f8de4bcfd1e1a9a94e54afd689ef722acdc0fce2fd614749dab01f02dac2';

function hostsYaml(hosts: ResolvedHost[], extra = ''): string {
  const lines = ['version: 1', 'hosts:'];
  for (const h of hosts) {
    lines.push(`  ${h.name}:`, `    docker: ${h.docker}`);
    if (h.identity_file) lines.push(`    identity_file: ${h.identity_file}`);
    if (h.identity_env) lines.push(`    identity_env: ${h.identity_env}`);
    if (h.known_hosts) lines.push(`    known_hosts: ${h.known_hosts}`);
    lines.push(`    labels: { ${Object.entries(h.labels).map(([k, v]) => `${k}: ${v}`).join(', ')} }`, `    capacity: { slots: ${h.capacity.slots} }`);
  }
  return lines.join('\n') + '\n' + extra;
}

function recipe(dir: string, host: string): string {
  const path = join(dir, 'paddock.yaml');
  writeFileSync(
    path,
    `version: 1
name: remote-bench
models:
  candidate:
    version: 1.1.0
    onnx: { path: ${JSON.stringify(CANDIDATE)}, sha256: ${CANDIDATE_SHA} }
    lineage: { dataset: paddock-world }
targets:
  - { name: cpu-fp32, backend: onnxruntime, host: ${host} }
stages:
  package:
    - id: bench-candidate
      uses: bench
      target: cpu-fp32
      with: { model: candidate, iterations: 150, warmup: 5, threads: 1 }
      container: { memory_mb: 512, cpus: 1 }
`,
  );
  return path;
}

function ndjson(stdout: string): PaddockEvent[] {
  return stdout.trim().split('\n').map((l) => PaddockEvent.parse(JSON.parse(l)));
}

describe('paddock with Docker hosts', () => {
  it.each(['a', 'b-ssh'] as const)('runs the bench step in a container on host %s, latency streaming live', async (host) => {
    const { dir, cleanup } = tempDir();
    try {
      const hosts = testHosts();
      writeFileSync(join(dir, 'hosts.yaml'), hostsYaml([hosts.a, hosts['b-ssh']]));
      const r = await paddock(['run', recipe(dir, host), '--json'], { PADDOCK_HOME: join(dir, '.paddock') }, dir);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const events = ndjson(r.stdout);
      const started = events.find((e) => e.type === 'step' && e.status === 'started');
      expect(started).toMatchObject({ host, runner: 'docker' });
      const latency = events.filter((e) => e.type === 'latency');
      expect(latency.length).toBeGreaterThan(1);
      expect(latency.reduce((n, e) => n + (e.type === 'latency' ? e.samples.length : 0), 0)).toBe(150);
      const done = events.findIndex((e) => e.type === 'step' && e.status === 'succeeded');
      expect(events.findIndex((e) => e.type === 'latency')).toBeLessThan(done);
      const store = new RunStore(join(dir, '.paddock'), { readonly: true });
      try {
        const run = store.listRuns(1)[0];
        const step = store.getStep(run.id, 'bench-candidate')!;
        expect(step).toMatchObject({ runner: 'docker', host, status: 'succeeded' });
        expect(step.container).toMatch(/^[0-9a-f]{64}$/);
        expect(step.image).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(store.currentMetrics(run.id).find((m) => m.name === 'latency.p99_ms')).toBeTruthy();
      } finally {
        store.close();
      }
    } finally {
      cleanup();
    }
  });

  it('runs the demo with --host: its bench steps in containers, the latency live', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'hosts.yaml'), hostsYaml([testHosts().a]));
      const child = paddockProcess(['demo', '--json', '--host', 'a', '--hosts', join(dir, 'hosts.yaml')], { PADDOCK_HOME: join(dir, '.paddock') }, dir);
      let out = '';
      const seen: PaddockEvent[] = [];
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const lines = out.split('\n');
        out = lines.pop()!;
        for (const l of lines) seen.push(PaddockEvent.parse(JSON.parse(l)));
        // Both bench steps done: the rest of the demo (world, evaluation) runs locally; stop it here.
        if (seen.filter((e) => e.type === 'step' && e.status === 'succeeded' && e.step?.startsWith('bench-')).length === 2) child.kill('SIGINT');
      });
      await child;
      for (const id of ['bench-production', 'bench-candidate']) {
        expect(seen.find((e) => e.type === 'step' && e.step === id && e.status === 'started')).toMatchObject({ host: 'a', runner: 'docker' });
        expect(seen.filter((e) => e.type === 'latency' && e.step === id).length).toBeGreaterThan(1);
      }
    } finally {
      cleanup();
    }
  }, 120_000);

  it('paddock hosts shows each host: reachable or why not, Docker version, images, GPUs, containers', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const hosts = testHosts();
      const wrongKeys = join(dir, 'known_hosts');
      // A known_hosts entry for the right address with another key: a man in the middle.
      const other = readFileSync(join(services().ssh.identityFile + '.pub'), 'utf8').trim().split(/\s+/);
      writeFileSync(wrongKeys, `[127.0.0.1]:${services().ssh.port} ${other[0]} ${other[1]}\n`);
      const file = join(dir, 'hosts.yaml');
      writeFileSync(file, hostsYaml([hosts.a, hosts['b-ssh'], { ...hosts['b-ssh'], name: 'mitm', known_hosts: wrongKeys }, { ...hosts.a, name: 'gone', docker: 'unix:///tmp/paddock-nothing-here.sock' }]));
      const r = await paddock(['hosts', '--hosts', file, '--json'], {});
      expect(r.exitCode).toBe(1);
      const report = JSON.parse(r.stdout) as { hosts: { name: string; reachable: boolean; error?: string; docker?: { version: string }; images: { ref: string; id: string }[]; gpus: { detail: string } }[] };
      const by = Object.fromEntries(report.hosts.map((h) => [h.name, h]));
      for (const n of ['a', 'b-ssh']) {
        expect(by[n].reachable).toBe(true);
        expect(by[n].docker!.version).toMatch(/^20\.10/);
        expect(by[n].images.map((i) => i.ref)).toContain(services().image);
        expect(by[n].gpus.detail).toMatch(/no NVIDIA container runtime/);
      }
      expect(by.mitm.reachable).toBe(false);
      expect(by.mitm.error).toMatch(/the host key of \[127\.0\.0\.1\]:\d+ does not match known_hosts/);
      expect(by.gone.reachable).toBe(false);
      expect(by.gone.error).toMatch(/ENOENT/);
      const text = await paddock(['hosts', '--hosts', file], {});
      expect(text.stdout).toMatch(/^mitm {2}ssh:\/\/root@127\.0\.0\.1:\d+ {2}UNREACHABLE$/m);
      expect(text.stdout).toMatch(/^a {2}unix:\/\/.*a\/docker\.sock {2}reachable$/m);
    } finally {
      cleanup();
    }
  });

  it('never puts a secret in its output, events or store', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const key = readFileSync(services().ssh.identityFile, 'utf8');
      const body = key.split('\n').filter((l) => l && !l.startsWith('-----'));
      writeFileSync(join(dir, 'hosts.yaml'), hostsYaml([{ ...testHosts()['b-ssh'], identity_file: undefined, identity_env: 'PADDOCK_TEST_KEY' }]));
      const r = await paddock(['run', recipe(dir, 'b-ssh'), '--json'], { PADDOCK_HOME: join(dir, '.paddock'), PADDOCK_TEST_KEY: key }, dir);
      expect(r.exitCode).toBe(0);
      const everything = [r.stdout, r.stderr, ...readdirSync(join(dir, '.paddock')).filter((f) => f.startsWith('runs.sqlite')).map((f) => readFileSync(join(dir, '.paddock', f), 'latin1'))].join('\n');
      for (const line of body) expect(everything.includes(line)).toBe(false);
      // A missing key is a clear error naming the variable, not a crash.
      const missing = await paddock(['run', recipe(dir, 'b-ssh'), '--headless'], { PADDOCK_HOME: join(dir, '.paddock') }, dir);
      expect(missing.exitCode).toBe(2);
      expect(missing.stderr + missing.stdout).toMatch(/the environment variable PADDOCK_TEST_KEY \(identity_env of host b-ssh\) is not set/);
    } finally {
      cleanup();
    }
  });

  it('names a hosts.yaml error by file, line and column', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'hosts.yaml'), 'version: 1\nhosts:\n  x:\n    docker: ftp://nope\n');
      const r = await paddock(['run', recipe(dir, 'x'), '--headless'], { PADDOCK_HOME: join(dir, '.paddock') }, dir);
      expect(r.exitCode).toBe(2);
      expect(r.stderr + r.stdout).toMatch(/hosts\.yaml:4:13 hosts\.x\.docker: expected unix:\/\/\/path\/docker\.sock, ssh:\/\/user@host\[:port\] or tcp:\/\/host:port/);
    } finally {
      cleanup();
    }
  });
});
