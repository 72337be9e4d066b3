#!/usr/bin/env node
// paddock's launcher: scripts/build.mjs copies it to dist/paddock.js, the `paddock` command (the
// `bin` of package.json, what npm's global bin, node_modules/.bin and `npx paddock` point at).
// The real command is dist/paddock-cli.js.
//
// Why: the native addons in node_modules (better-sqlite3, ssh2, cpu-features) load only on the
// Node ABI they were compiled for, and the `paddock` command starts on whatever `node` is first on
// PATH. Where this machine's Node is one paddock does not support, scripts/bootstrap.mjs installs
// with a pinned Node 24 of its own and records it in node_modules/.paddock-runtime.json; started
// by another Node, this runs paddock on the recorded one. Without a record (a plain `npm ci`, an
// `npm install -g` of the tarball) or on a Node of the same ABI, paddock runs in this process.
// Plain JavaScript for any Node that can start it; nothing else is loaded before the decision.
import { readFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { delimiter } from 'node:path';
import { isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';

const cli = new URL('./paddock-cli.js', import.meta.url);

/** node_modules/.paddock-runtime.json: { node, version, modules, bin } (scripts/bootstrap.mjs writes it). */
function recordedRuntime() {
  try {
    return JSON.parse(readFileSync(new URL('../node_modules/.paddock-runtime.json', import.meta.url), 'utf8'));
  } catch {
    return undefined;
  }
}

const runtime = recordedRuntime();
if (runtime && typeof runtime.node === 'string' && String(runtime.modules) !== process.versions.modules) {
  if (!existsSync(runtime.node)) {
    process.stderr.write(
      `paddock: its native addons were built for Node ${runtime.version} (${runtime.node}), which is gone, and this is Node ${process.version} (ABI ${process.versions.modules}, not ${runtime.modules}).\n` +
        `  In the checkout, \`npm run demo\` (or node scripts/bootstrap.mjs runtime) fetches that Node again.\n`,
    );
    process.exit(2);
  }
  const env = { ...process.env };
  // paddock's own children (steps, npm) then find the same Node first on PATH.
  if (runtime.bin) env.PATH = `${runtime.bin}${delimiter}${env.PATH ?? ''}`;
  const child = spawn(runtime.node, [fileURLToPath(cli), ...process.argv.slice(2)], { stdio: 'inherit', env });
  // SIGTERM and SIGHUP are passed on. A terminal sends Ctrl+C (SIGINT) and Ctrl+\ (SIGQUIT) to
  // its whole foreground process group, paddock included: passed on as well, paddock would see
  // each one twice (its second Ctrl+C exits at once). So those are passed on only when stdin is
  // not a terminal (a signal sent to this process alone).
  // isatty(0), not process.stdin: opening stdin here would change the terminal under paddock.
  const onTerminal = isatty(0);
  for (const sig of ['SIGINT', 'SIGQUIT']) process.on(sig, () => onTerminal || child.kill(sig));
  for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    process.stderr.write(`paddock: cannot start ${runtime.node}: ${err.message}\n`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die the way paddock died, so that the shell sees the same status.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 200).unref();
    } else {
      process.exit(code ?? 2);
    }
  });
} else {
  await import(cli.href);
}
