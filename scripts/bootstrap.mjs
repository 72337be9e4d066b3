#!/usr/bin/env node
// The one script behind `npm run demo`, `npm test` and `npm run bench` on a fresh machine:
// installs what is missing (npm packages; Debian packages when running as root on Debian),
// builds dist/ when the sources changed, then runs the command. Plain Node, no dependencies,
// so it works before `npm install` ever ran.
//
// It also makes the `paddock` command callable (docs/usage.md, "Getting paddock on PATH"):
//   demo     links `paddock` into npm's global bin directory when it may (PADDOCK_LINK=0: never)
//   link     the same on its own (`npm run link`); exit 1, with the command to run, when it may not
//   prepack  npm pack's prepack script: a fresh dist/ for the tarball
//   prepare  npm's prepare script (after `npm install` / `npm ci` in the checkout): builds dist/
//            when it is missing or stale and links node_modules/.bin/paddock, so `npx paddock`
//            works in the checkout; never fails the install
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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
  const sources = Math.max(...['bin', 'cli', 'src', 'runners', 'views'].map((d) => newestMtime(join(root, d))), ...['package-lock.json', 'scripts/build.mjs'].map((f) => statSync(join(root, f)).mtimeMs));
  if (!force && existsSync(out) && statSync(out).mtimeMs >= sources) return;
  say('building dist/ (esbuild)');
  if (run(process.execPath, [join(root, 'scripts', 'build.mjs')]) !== 0) die('build failed');
}

/** Every file under dir (relative paths), for comparing two builds. */
function listFiles(dir, rel = '') {
  const out = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(join(dir, r)).isDirectory()) out.push(...listFiles(dir, r));
    else out.push(r);
  }
  return out;
}

function sameTree(a, b) {
  if (!existsSync(a) || !existsSync(b)) return false;
  const fa = listFiles(a);
  const fb = listFiles(b);
  return fa.length === fb.length && fa.every((f, i) => f === fb[i] && readFileSync(join(a, f)).equals(readFileSync(join(b, f))));
}

/**
 * npm pack's prepack: always a fresh build, made beside dist/ and swapped in only when it differs,
 * so that packing while tests or a demo run from dist/ does not pull it from under them.
 */
async function buildForPack() {
  const { buildDist } = await import(pathToFileURL(join(root, 'scripts', 'build.mjs')).href);
  const dist = join(root, 'dist');
  const next = join(root, 'build', `.dist-next-${process.pid}`); // build/ is git-ignored
  try {
    await buildDist({ outdir: next });
    if (sameTree(next, dist)) return say('dist/ is up to date (a fresh build is identical)');
    const old = join(root, 'build', `.dist-old-${process.pid}`);
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(next, dist);
    rmSync(old, { recursive: true, force: true });
    say('built dist/ (esbuild)');
  } finally {
    rmSync(next, { recursive: true, force: true });
  }
}

/** dist/paddock.js: the `bin` of package.json. */
const BIN_TARGET = join(root, 'dist', 'paddock.js');

function sameFile(a, b) {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * node_modules/.bin/paddock -> ../../dist/paddock.js. npm links the bins of dependencies there,
 * never the project's own; `npx paddock` in the checkout (and npm scripts) look there.
 */
function linkLocalBin() {
  const dir = join(root, 'node_modules', '.bin');
  if (!existsSync(join(root, 'node_modules'))) return;
  const link = join(dir, 'paddock');
  const want = relative(dir, BIN_TARGET);
  try {
    if (readlinkSync(link) === want) return;
    unlinkSync(link);
  } catch {
    // not there yet (or not a link)
  }
  mkdirSync(dir, { recursive: true });
  symlinkSync(want, link);
}

/** npm's global prefix: what `npm prefix -g` says (npm run passes it in the environment). */
function npmGlobalPrefix() {
  if (process.env.npm_config_global_prefix) return process.env.npm_config_global_prefix;
  const r = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8', cwd: root, timeout: 30_000 });
  if (r.error) throw new Error(`cannot run npm: ${r.error.message}`);
  const prefix = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !prefix) throw new Error(`npm prefix -g failed: ${r.stderr.trim().split('\n').pop()}`);
  return prefix;
}

function writable(dir) {
  // The nearest existing directory decides whether we may create what is missing below it.
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(d)) {
      try {
        if (!statSync(d).isDirectory()) return false;
        accessSync(d, constants.W_OK);
        return true;
      } catch {
        return false;
      }
    }
    if (dirname(d) === d) return false;
  }
}

function onPath(dir) {
  return (process.env.PATH ?? '').split(delimiter).some((p) => p && sameFile(p, dir));
}

/** How to link by hand: the exact commands. */
function linkAdvice(prefix) {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  const lines = [
    [`cd ${root} && ${sudo}npm link`, `into npm's global bin directory${prefix ? ` (${join(prefix, 'bin')})` : ''}`],
    [`cd ${root} && npm_config_prefix="$HOME/.local" npm link`, 'without root; then put ~/.local/bin on PATH'],
  ];
  const width = Math.max(...lines.map(([c]) => c.length));
  return [
    'to put paddock on your PATH, run one of:',
    ...lines.map(([c, why]) => `    ${c.padEnd(width)}   # ${why}`),
    `  or call it as \`npx paddock\` in ${root} (docs/usage.md, "Getting paddock on PATH")`,
  ].join('\n');
}

/**
 * Links the `paddock` command the way `npm link` does (<prefix>/lib/node_modules/paddock -> this
 * checkout, <prefix>/bin/paddock -> ../lib/node_modules/paddock/dist/paddock.js, so
 * `npm uninstall -g paddock` removes it), without npm's registry round trip. Never replaces a
 * paddock that is already there and is not this checkout (an `npm install -g` of a tarball, another
 * checkout). Returns true when `paddock` in that bin directory is this checkout's.
 */
function linkGlobal() {
  let prefix;
  try {
    if (process.platform === 'win32') {
      say(`not linking paddock on Windows: ${linkAdvice()}`);
      return false;
    }
    prefix = npmGlobalPrefix();
    const binDir = join(prefix, 'bin');
    const libDir = join(prefix, 'lib', 'node_modules');
    const bin = join(binDir, 'paddock');
    const pkg = join(libDir, 'paddock');
    const pathNote = onPath(binDir) ? '' : `\n  note: ${binDir} is not on your PATH; add it (export PATH="${binDir}:$PATH") or call ${bin}`;
    let binThere = false;
    try {
      lstatSync(bin);
      binThere = true;
    } catch {
      // not there
    }
    if (binThere) {
      if (sameFile(bin, BIN_TARGET)) {
        say(`paddock is linked: ${bin} -> ${BIN_TARGET}${pathNote}`);
        return true;
      }
      let what;
      try {
        what = realpathSync(bin);
      } catch {
        what = undefined;
      }
      if (what !== undefined) {
        say(`${bin} is already there and is not this checkout's (it is ${what}); leaving it.\n  To use this checkout's instead: cd ${root} && npm link --force`);
        return false;
      }
      // A dangling link (a checkout that was deleted, e.g. CI's fresh clone): nothing is lost by
      // replacing it, nor the package link beside it if that dangles too.
      say(`replacing ${bin}, a dangling link (${readlinkSync(bin)})`);
      unlinkSync(bin);
      try {
        if (lstatSync(pkg).isSymbolicLink() && !existsSync(pkg)) unlinkSync(pkg);
      } catch {
        // no package link
      }
    }
    let pkgThere = false;
    try {
      lstatSync(pkg);
      pkgThere = true;
    } catch {
      // not there
    }
    if (pkgThere && !sameFile(pkg, root)) {
      say(`${pkg} is another install of paddock; leaving it.\n  ${linkAdvice(prefix)}`);
      return false;
    }
    if (!writable(binDir) || !writable(libDir)) {
      say(`not linking paddock: ${binDir} is not writable by this user.\n  ${linkAdvice(prefix)}`);
      return false;
    }
    mkdirSync(libDir, { recursive: true });
    mkdirSync(binDir, { recursive: true });
    if (!pkgThere) symlinkSync(relative(libDir, root), pkg);
    symlinkSync(relative(binDir, join(pkg, 'dist', 'paddock.js')), bin);
    say(`linked paddock: ${bin} -> ${BIN_TARGET} (like \`npm link\`; \`npm uninstall -g paddock\` removes it)${pathNote}`);
    return true;
  } catch (err) {
    say(`could not link paddock (${err.message}).\n  ${linkAdvice(prefix)}`);
    return false;
  }
}

checkNode();
switch (mode) {
  case 'prepare': {
    // npm runs this after `npm install` / `npm ci` in the checkout (and before `npm pack`, after
    // prepack's fresh build). Never fails the install: the demo's own build step reports errors.
    if (!existsSync(join(root, 'node_modules', 'esbuild'))) {
      say('esbuild is not installed (npm install --omit=dev?): not building dist/; `npm run build` needs the dev dependencies');
    } else {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'build-if-stale'], { stdio: 'inherit', cwd: root });
      if (r.status !== 0) say('could not build dist/ (see above); `npx paddock` needs it: npm run build');
    }
    try {
      linkLocalBin();
    } catch (err) {
      say(`could not link node_modules/.bin/paddock: ${err.message}`);
    }
    process.exit(0);
    break;
  }
  case 'prepack': {
    try {
      await buildForPack();
    } catch (err) {
      die(`build failed: ${err.stack ?? err.message}`);
    }
    break;
  }
  case 'build-if-stale': {
    ensureBuilt(false);
    process.exit(0);
    break;
  }
  case 'link': {
    ensureBuilt(false);
    linkLocalBin();
    process.exit(linkGlobal() ? 0 : 1);
    break;
  }
  case 'demo': {
    ensureDebs(DEMO_DEBS);
    ensureNpmPackages();
    ensureBuilt(false);
    try {
      linkLocalBin();
    } catch (err) {
      say(`could not link node_modules/.bin/paddock: ${err.message}`);
    }
    // Linking never fails the demo: at worst it says what to run. PADDOCK_LINK=0: leave PATH alone.
    const linked = process.env.PADDOCK_LINK === '0' ? false : linkGlobal();
    const status = run(process.execPath, [BIN_TARGET, 'demo', ...args]);
    if (status <= 1) say(`next: ${linked ? 'paddock' : 'npx paddock'} ui   (in ${root}, where this demo's run store .paddock/ is; elsewhere set PADDOCK_HOME=${join(root, '.paddock')})`);
    process.exit(status);
    break;
  }
  case 'test': {
    ensureDebs(TEST_DEBS);
    ensureNpmPackages();
    ensureBuilt(true);
    say('type-checking (tsc --noEmit)');
    if (run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.']) !== 0) die('type errors (see above)');
    const vitest = [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run'];
    if (args.length) process.exit(run(process.execPath, [...vitest, ...args]));
    // The install test compiles better-sqlite3 and runs a whole demo (minutes of both cores): run
    // it after the others, alone, so that it does not starve the Docker and SSH fault tests.
    const INSTALL_TEST = 'test/cli/install.test.ts';
    const first = run(process.execPath, [...vitest, '--exclude', INSTALL_TEST]);
    const second = run(process.execPath, [...vitest, INSTALL_TEST]);
    process.exit(first !== 0 ? first : second);
    break;
  }
  case 'bench': {
    ensureNpmPackages();
    ensureBuilt(true);
    process.exit(run(process.execPath, [join(root, 'scripts', 'run-bench.mjs'), ...args]));
    break;
  }
  default:
    die(`usage: node scripts/bootstrap.mjs demo|test|bench|link|prepare|prepack [args...] (got ${JSON.stringify(mode)})`);
}
