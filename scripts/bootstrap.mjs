#!/usr/bin/env node
// The one script behind `npm run demo`, `npm test` and `npm run bench` on a fresh machine:
// installs what is missing (npm packages; Debian packages when running as root on Debian),
// builds dist/ when the sources changed, then runs the command. Plain Node, no dependencies,
// so it works before `npm install` ever ran.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [mode, ...args] = process.argv.slice(2);

/** Debian packages the tests use: python3 for the Python step helper and fixture scripts,
 *  python3-torch and python3-onnx to regenerate the fixture models, tmux to drive the real TUI,
 *  docker.io and openssh-server for the Docker and remote-host runners (the test setup starts
 *  dockerd and sshd itself), busybox-static for the step image's root filesystem, procps
 *  (pgrep) for the fault tests. */
// The demo's package stage exports the checkpoint with PyTorch (runners/python/export.py).
const DEMO_DEBS = ['python3', 'python3-torch', 'python3-onnx'];
const TEST_DEBS = ['python3', 'python3-torch', 'python3-onnx', 'tmux', 'docker.io', 'openssh-server', 'openssh-client', 'busybox-static', 'openssl', 'procps', 'git'];

function say(msg) {
  process.stderr.write(`[paddock bootstrap] ${msg}\n`);
}

function die(msg) {
  say(`error: ${msg}`);
  process.exit(2);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) die(`cannot run ${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

function checkNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) die(`paddock needs Node.js >= 20; this is ${process.version}`);
}

function ensureNpmPackages() {
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.paddock-lock-sha256');
  const want = createHash('sha256').update(readFileSync(lock)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) return;
  say('installing npm packages (npm ci; the first time compiles better-sqlite3, about 2 minutes)');
  const status = run('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, npm_config_onnxruntime_node_install: 'skip' } });
  if (status !== 0) die('npm ci failed (see above)');
  writeFileSync(stamp, `${want}\n`);
}

function isDebian() {
  return existsSync('/etc/debian_version') && existsSync('/usr/bin/dpkg-query');
}

function missingDebs(pkgs) {
  return pkgs.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

function ensureDebs(pkgs) {
  if (!isDebian()) {
    say(`not a Debian system: make sure these are installed: ${pkgs.join(', ')}`);
    return;
  }
  const missing = missingDebs(pkgs);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    die(`these Debian packages are missing and installing them needs root: ${missing.join(' ')}\n  sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`);
  }
  say(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let status = run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  if (status !== 0) {
    say('apt-get install failed; updating the package lists and trying again');
    run('apt-get', ['update'], { env });
    status = run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
    if (status !== 0) die(`apt-get could not install: ${missing.join(' ')}`);
  }
}

function newestMtime(dir) {
  let newest = 0;
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.(ts|tsx|mjs|json)$/.test(name)) newest = Math.max(newest, st.mtimeMs);
    }
  };
  if (existsSync(dir)) walk(dir);
  return newest;
}

function ensureBuilt(force) {
  const out = join(root, 'dist', 'paddock.js');
  const sources = Math.max(...['bin', 'cli', 'src', 'runners', 'views'].map((d) => newestMtime(join(root, d))), statSync(join(root, 'package-lock.json')).mtimeMs);
  if (!force && existsSync(out) && statSync(out).mtimeMs >= sources) return;
  say('building dist/ (esbuild)');
  if (run(process.execPath, [join(root, 'scripts', 'build.mjs')]) !== 0) die('build failed');
}

checkNode();
switch (mode) {
  case 'demo': {
    ensureDebs(DEMO_DEBS);
    ensureNpmPackages();
    ensureBuilt(false);
    process.exit(run(process.execPath, [join(root, 'dist', 'paddock.js'), 'demo', ...args]));
    break;
  }
  case 'test': {
    ensureDebs(TEST_DEBS);
    ensureNpmPackages();
    ensureBuilt(true);
    say('type-checking (tsc --noEmit)');
    if (run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.']) !== 0) die('type errors (see above)');
    process.exit(run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args]));
    break;
  }
  case 'bench': {
    ensureNpmPackages();
    ensureBuilt(true);
    process.exit(run(process.execPath, [join(root, 'scripts', 'run-bench.mjs'), ...args]));
    break;
  }
  default:
    die(`usage: node scripts/bootstrap.mjs demo|test|bench [args...] (got ${JSON.stringify(mode)})`);
}
