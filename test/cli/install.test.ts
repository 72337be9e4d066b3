/**
 * The `paddock` command as a user gets it (docs/usage.md, "Getting paddock on PATH"):
 *  - `npx paddock` in the checkout (node_modules/.bin/paddock, linked by npm install's prepare);
 *  - the bootstrap's link into npm's global bin directory (what `npm run demo` does when it may),
 *    idempotent, never replacing someone else's paddock, and saying what to run when it may not;
 *  - `npm pack`, then `npm install -g` of the tarball into a temporary prefix, then `paddock --help`
 *    and `paddock demo --headless` from an unrelated directory with the store and HOME in temp dirs.
 *
 * npm must be here: a missing npm (or python3-torch, which the demo's export needs) fails the setup,
 * it never skips. The install uses the local npm cache (--prefer-offline) and skips
 * onnxruntime-node's download (ONNXRUNTIME_NODE_INSTALL=skip); better-sqlite3 compiles
 * from source (about 2 minutes on 2 cores).
 *
 * The world: the installed demo writes its outputs under ~/.cache/paddock/demo (never into the
 * install directory) and renders the built-in world there (about 80 s on an idle 2-core machine).
 * To keep this test within minutes, it first brings the checkout's build/world up to date with the
 * installed `paddock world build` (shared with the in-tree demo tests and `npm run demo`, rendered
 * at most once) and links ~/.cache/paddock/demo/world to it. PADDOCK_TEST_FRESH_WORLD=1 lets the
 * installed demo render its own instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { ROOT, tempDir } from '../helpers/fixtures.js';

const BOOTSTRAP = join(ROOT, 'scripts', 'bootstrap.mjs');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; files: string[]; scripts: Record<string, string> };
const MINUTE = 60_000;

/** The environment without what an enclosing `npm test` / `npm run` put there (npm_config_prefix, npm_package_*, ...). */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, ...extra };
}

function sh(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeout?: number }) {
  return execa(cmd, args, { cwd: opts.cwd, env: opts.env, extendEnv: false, reject: false, timeout: opts.timeout ?? 2 * MINUTE, stdin: 'ignore' });
}

const tail = (s: unknown, n = 4000) => String(s).slice(-n);

beforeAll(() => {
  const npm = spawnSync('npm', ['--version'], { encoding: 'utf8', env: cleanEnv() });
  if (npm.error || npm.status !== 0) {
    throw new Error(`test setup failed: npm is missing or broken (${npm.error?.message ?? npm.stderr}); the install tests run npm pack, npm install -g and npx. Node.js's npm must be on PATH.`);
  }
  const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch, onnx'], { encoding: 'utf8' });
  if (torch.status !== 0) {
    throw new Error('test setup failed: /usr/bin/python3 cannot import torch and onnx; the demo exports its checkpoint with PyTorch (npm test installs python3-torch and python3-onnx as root)');
  }
});

describe('paddock in the checkout', () => {
  it('`npx paddock` runs the checkout\'s command (node_modules/.bin/paddock, from npm install\'s prepare)', async () => {
    expect(PKG.bin.paddock).toBe('dist/paddock.js');
    expect(PKG.scripts.prepare).toBe('node scripts/bootstrap.mjs prepare');
    // What `npm install` / `npm ci` run after installing; idempotent, builds dist/ only when stale.
    const prep = await sh(process.execPath, [BOOTSTRAP, 'prepare'], { cwd: ROOT, env: cleanEnv() });
    expect(prep.exitCode, tail(prep.stderr)).toBe(0);
    expect(readlinkSync(join(ROOT, 'node_modules', '.bin', 'paddock'))).toBe(join('..', '..', 'dist', 'paddock.js'));

    const help = await sh('npx', ['paddock', '--help'], { cwd: ROOT, env: cleanEnv({ CI: '1' }) });
    expect(help.exitCode, tail(help.stderr)).toBe(0);
    expect(help.stdout).toMatch(/paddock demo \[--headless\]/);
    const version = await sh('npx', ['paddock', '--version'], { cwd: ROOT, env: cleanEnv({ CI: '1' }) });
    expect(version.stdout.trim()).toBe(`paddock ${PKG.version}`);
  });

  it('the bootstrap links `paddock` into npm\'s global bin directory, idempotently, and says how when it may not', async () => {
    const { dir, cleanup } = tempDir('paddock-link-');
    try {
      const prefix = join(dir, 'prefix');
      const bin = join(prefix, 'bin', 'paddock');
      // Not on PATH yet: it links and says so.
      const first = await sh(process.execPath, [BOOTSTRAP, 'link'], { cwd: ROOT, env: cleanEnv({ npm_config_prefix: prefix }) });
      expect(first.exitCode, first.stderr).toBe(0);
      expect(first.stderr).toContain(`linked paddock: ${bin} -> ${join(ROOT, 'dist', 'paddock.js')}`);
      expect(first.stderr).toContain(`${join(prefix, 'bin')} is not on your PATH`);
      // The layout of `npm link`: npm sees it, and `npm uninstall -g paddock` would remove it.
      expect(realpathSync(bin)).toBe(realpathSync(join(ROOT, 'dist', 'paddock.js')));
      expect(lstatSync(join(prefix, 'lib', 'node_modules', 'paddock')).isSymbolicLink()).toBe(true);
      expect(realpathSync(join(prefix, 'lib', 'node_modules', 'paddock'))).toBe(realpathSync(ROOT));
      const ls = await sh('npm', ['ls', '-g', '--depth', '0', '--prefix', prefix], { cwd: dir, env: cleanEnv() });
      expect(ls.stdout).toMatch(new RegExp(`paddock@${PKG.version.replace(/\./g, '\\.')} -> `));

      // Callable by name once its directory is on PATH; a second run only checks.
      const env = cleanEnv({ npm_config_prefix: prefix, PATH: `${join(prefix, 'bin')}${delimiter}${process.env.PATH}` });
      const v = await sh('paddock', ['--version'], { cwd: dir, env });
      expect(v.stdout.trim()).toBe(`paddock ${PKG.version}`);
      const t0 = Date.now();
      const again = await sh(process.execPath, [BOOTSTRAP, 'link'], { cwd: ROOT, env });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stderr).toContain(`paddock is linked: ${bin} -> ${join(ROOT, 'dist', 'paddock.js')}`);
      expect(again.stderr).not.toContain('is not on your PATH');
      expect(Date.now() - t0).toBeLessThan(5000);

      // Someone else's paddock stays as it is.
      const other = join(dir, 'other');
      mkdirSync(join(other, 'bin'), { recursive: true });
      writeFileSync(join(other, 'bin', 'paddock'), '#!/bin/sh\necho other\n', { mode: 0o755 });
      const taken = await sh(process.execPath, [BOOTSTRAP, 'link'], { cwd: ROOT, env: cleanEnv({ npm_config_prefix: other }) });
      expect(taken.exitCode).toBe(1);
      expect(taken.stderr).toMatch(/is already there and is not this checkout's .*; leaving it/);
      expect(taken.stderr).toContain('npm link --force');
      expect(readFileSync(join(other, 'bin', 'paddock'), 'utf8')).toBe('#!/bin/sh\necho other\n');

      // Where it may not write: the exact commands, and no link.
      writeFileSync(join(dir, 'a-file'), '');
      const denied = await sh(process.execPath, [BOOTSTRAP, 'link'], { cwd: ROOT, env: cleanEnv({ npm_config_prefix: join(dir, 'a-file', 'prefix') }) });
      expect(denied.exitCode).toBe(1);
      expect(denied.stderr).toContain('is not writable by this user');
      expect(denied.stderr).toContain(`cd ${ROOT} && `);
      expect(denied.stderr).toMatch(/npm link +# into npm's global bin directory/);
      expect(denied.stderr).toContain('npm_config_prefix="$HOME/.local" npm link');
      expect(denied.stderr).toContain('npx paddock');
    } finally {
      cleanup();
    }
  });
});

describe('paddock from npm pack, installed with npm install -g', () => {
  const work = tempDir('paddock-install-');
  afterAll(() => work.cleanup());

  it('packs, installs into a temporary prefix, and runs `paddock --help` and `paddock demo --headless` from an unrelated directory', async () => {
    const started = Date.now();
    const packDir = join(work.dir, 'pack');
    const prefix = join(work.dir, 'prefix');
    const elsewhere = join(work.dir, 'elsewhere');
    mkdirSync(packDir);
    mkdirSync(join(elsewhere, 'home'), { recursive: true });

    // npm pack: prepack builds dist/, "files" says what goes in.
    const pack = await sh('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: ROOT, env: cleanEnv(), timeout: 5 * MINUTE });
    expect(pack.exitCode, tail(pack.stderr)).toBe(0);
    const [info] = JSON.parse(pack.stdout) as { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }[];
    const paths = info.files.map((f) => f.path);
    for (const needed of ['package.json', 'README.md', 'dist/paddock.js', 'dist/paddock-cli.js', 'dist/step.js', 'dist/frame-reader.js', 'dist/package.json', 'fixtures/demo/paddock.yaml', 'fixtures/demo/gates.yaml', 'fixtures/world/slices.yaml', 'fixtures/world/train_detector.py', 'fixtures/world/models/candidate/model.onnx', 'fixtures/world/models/candidate/model.pt', 'fixtures/world/models/production/model.onnx', 'data/operators/onnxruntime-cpu-1.30.json', 'runners/python/export.py', 'runners/python/paddock_events.py', 'runners/triton/preprocess.py', 'docs/usage.md']) {
      expect(paths, needed).toContain(needed);
    }
    // Only what runs: no sources, tests, benchmarks, caches or build outputs.
    // (fixtures/world/models/*/model.ts is TorchScript, not TypeScript.)
    expect(paths.filter((p) => /^(src|test|bench|cli|views|bin|build|node_modules|scripts)\/|^(?!fixtures\/).*\.tsx?$|__pycache__|\.pyc$|^\.paddock/.test(p))).toEqual([]);
    expect(info.size).toBeLessThan(20 * 1024 * 1024);
    const tarball = join(packDir, info.filename);
    console.log(`[install] tarball ${info.filename}: ${(info.size / 1e6).toFixed(2)} MB, ${info.entryCount} files, ${(info.unpackedSize / 1e6).toFixed(2)} MB unpacked`);

    // npm install -g into a temporary prefix, from the local cache; nothing from unreachable hosts.
    const t0 = Date.now();
    const install = await sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: work.dir,
      env: cleanEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }),
      timeout: 8 * MINUTE,
    });
    const installSeconds = (Date.now() - t0) / 1000;
    expect(install.exitCode, tail(install.stdout) + tail(install.stderr)).toBe(0);
    console.log(`[install] npm install -g --prefix <tmp> --prefer-offline: ${installSeconds.toFixed(1)} s`);
    const installed = join(prefix, 'lib', 'node_modules', 'paddock');
    expect(realpathSync(join(prefix, 'bin', 'paddock'))).toBe(join(realpathSync(installed), 'dist', 'paddock.js'));

    // From a directory that has nothing to do with paddock, with HOME and the store in it.
    const env = cleanEnv({
      PATH: `${join(prefix, 'bin')}${delimiter}${process.env.PATH}`,
      HOME: join(elsewhere, 'home'),
      PADDOCK_HOME: join(elsewhere, 'store'),
      CI: '1',
      NO_COLOR: '1',
    });
    const help = await sh(join(prefix, 'bin', 'paddock'), ['--help'], { cwd: elsewhere, env });
    expect(help.exitCode, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/paddock demo \[--headless\]/);
    const version = await sh('paddock', ['--version'], { cwd: elsewhere, env });
    expect(version.stdout.trim()).toBe(`paddock ${PKG.version}`);

    const demoDir = join(elsewhere, 'home', '.cache', 'paddock', 'demo');
    if (process.env.PADDOCK_TEST_FRESH_WORLD !== '1') {
      const world = join(ROOT, 'build', 'world');
      const wb = await sh('paddock', ['world', 'build', '--out', world], { cwd: elsewhere, env, timeout: 8 * MINUTE });
      expect(wb.exitCode, tail(wb.stderr)).toBe(0);
      mkdirSync(demoDir, { recursive: true });
      symlinkSync(world, join(demoDir, 'world'));
    }

    const t1 = Date.now();
    const demo = await sh('paddock', ['demo', '--headless'], { cwd: elsewhere, env, timeout: 12 * MINUTE });
    const demoSeconds = (Date.now() - t1) / 1000;
    console.log(`[install] paddock demo --headless (installed): exit ${demo.exitCode}, ${demoSeconds.toFixed(1)} s`);
    expect(demo.exitCode, tail(demo.stdout) + tail(demo.stderr)).toBe(0);
    // It ran the installed package's recipe and code, and wrote its outputs under ~/.cache, not into the install directory.
    expect(demo.stdout).toContain(`paddock demo: its world, pack, keys and evaluation go to ${demoDir}`);
    expect(demo.stdout).toMatch(/package\/bench-candidate latency candidate\/cpu-fp32 p50 [\d.]+ ms/);
    expect(demo.stdout).toMatch(/package\/sign succeeded/);
    expect(demo.stdout).toMatch(/gate:overall-ap verdict PASS/);
    const id = /run (r-\S+) succeeded \(exit 0\)/.exec(demo.stdout)?.[1];
    expect(id, tail(demo.stdout)).toBeTruthy();
    expect(existsSync(join(demoDir, 'packs', 'world-detector', '1.1.0', 'export_report.json'))).toBe(true);
    expect(existsSync(join(installed, 'build'))).toBe(false);
    // The store is where PADDOCK_HOME says, and the command reads it back.
    const runs = await sh('paddock', ['runs'], { cwd: elsewhere, env });
    expect(runs.stdout).toMatch(new RegExp(`${id}\\s+demo\\s+succeeded`));
    expect(existsSync(join(elsewhere, '.paddock'))).toBe(false);
    console.log(`[install] whole test ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 20 * MINUTE);
});
