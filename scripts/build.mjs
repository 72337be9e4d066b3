#!/usr/bin/env node
// Builds dist/ with esbuild: one ESM bundle per entry point, code-split so that
// `paddock --help` loads a few kilobytes and the heavy parts (Ink, React, SQLite, ONNX Runtime)
// load only when a command needs them. bench/startup.ts measures this against tsc's output.
// Native addons stay external: they are loaded from node_modules at run time.
import { build } from 'esbuild';
import { rmSync, writeFileSync, chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist');

export const ENTRY_POINTS = {
  paddock: 'bin/paddock.ts',
  step: 'src/steps/step-main.ts',
  'frame-reader': 'src/model/frame-reader-worker.ts',
};

export const EXTERNAL = ['better-sqlite3', 'onnxruntime-node', 'react-devtools-core', 'simple-git', 'sharp', 'dockerode', 'ssh2', 'cpu-features', 'tar-stream'];

export async function buildDist({ outdir = out, entryPoints = ENTRY_POINTS, minify = false } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints,
    outdir,
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
  writeFileSync(join(outdir, 'package.json'), '{"type":"module"}\n');
  chmodSync(join(outdir, 'paddock.js'), 0o755);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildDist();
}
