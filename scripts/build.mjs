#!/usr/bin/env node
// Builds dist/ with esbuild: one ESM bundle per entry point, code-split so that
// `paddock --help` loads a few kilobytes and the heavy parts (Ink, React, SQLite, ONNX Runtime)
// load only when a command needs them. bench/startup.ts measures this against tsc's output.
// Native addons stay external: they are loaded from node_modules at run time. dist/paddock.js,
// the `paddock` command, is scripts/launcher.mjs: it starts dist/paddock-cli.js (bin/paddock.ts)
// on the Node the native addons were built for (scripts/bootstrap.mjs records it).
import { build } from 'esbuild';
import { copyFileSync, existsSync, rmSync, writeFileSync, chmodSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist');

export const ENTRY_POINTS = {
  'paddock-cli': 'bin/paddock.ts',
  step: 'src/steps/step-main.ts',
  'frame-reader': 'src/model/frame-reader-worker.ts',
};

export const EXTERNAL = ['better-sqlite3', 'onnxruntime-node', 'react-devtools-core', 'simple-git', 'sharp', 'dockerode', 'ssh2', 'cpu-features', 'tar-stream', '@duckdb/node-api'];

/**
 * Builds into a fresh folder beside `outdir`, then moves each file into `outdir` by rename, so a
 * paddock process (or a test) running from `outdir` never sees it missing or half written: its
 * lazily loaded chunks (content-hashed names) stay until they are an hour old.
 */
export async function buildDist({ outdir = out, entryPoints = ENTRY_POINTS, minify = false } = {}) {
  const fresh = `${outdir}.build-${process.pid}`;
  rmSync(fresh, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints,
    outdir: fresh,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    external: EXTERNAL,
    // Bundled CommonJS dependencies call require(); give ESM chunks one.
    banner: {
      js: "import { createRequire as __paddockCreateRequire } from 'node:module'; const require = __paddockCreateRequire(import.meta.url);",
    },
    // React and Ink in production mode: the development build checks and times every render
    // (runWithFiberInDEV, performance.measure; seen in a CPU profile of the workbench).
    define: { 'process.env.DEV': '"false"', 'process.env.NODE_ENV': '"production"' },
  });
  writeFileSync(join(fresh, 'package.json'), '{"type":"module"}\n');
  const launcher = 'paddock-cli' in entryPoints;
  if (launcher) copyFileSync(join(root, 'scripts', 'launcher.mjs'), join(fresh, 'paddock.js'));
  for (const f of ['paddock.js', 'paddock-cli.js']) if (existsSync(join(fresh, f))) chmodSync(join(fresh, f), 0o755);
  mkdirSync(outdir, { recursive: true });
  const built = new Set(readdirSync(fresh));
  // Chunks first, entry points next, the launcher last: a new entry point never imports a chunk
  // not yet in place, and the launcher never starts a paddock-cli.js not yet in place.
  const entries = new Set(Object.keys(entryPoints).map((e) => `${e}.js`));
  const order = (f) => (f === 'paddock.js' && launcher ? 2 : Number(entries.has(f)));
  for (const f of [...built].sort((a, b) => order(a) - order(b))) renameSync(join(fresh, f), join(outdir, f));
  rmSync(fresh, { recursive: true, force: true });
  const hourAgo = Date.now() - 3600_000;
  for (const f of readdirSync(outdir)) {
    const p = join(outdir, f);
    if (!built.has(f) && statSync(p).mtimeMs < hourAgo) rmSync(p, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildDist();
}
