#!/usr/bin/env node
// Runs a TypeScript script of the repository: bundles it with esbuild (native addons external)
// into build/run-ts/ and runs it with the remaining arguments.
//   node scripts/run-ts.mjs scripts/model-cards.ts [args...]
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
const out = join(root, 'build', 'run-ts', `${basename(file, '.ts')}.mjs`);
await build({
  absWorkingDir: root,
  entryPoints: [file],
  outfile: out,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'onnxruntime-node', 'react-devtools-core', 'simple-git', 'sharp', 'dockerode', 'ssh2', 'cpu-features', 'tar-stream'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
process.exit(spawnSync(process.execPath, [out, ...args], { stdio: 'inherit', cwd: root }).status ?? 1);
