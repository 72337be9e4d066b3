#!/usr/bin/env node
// Builds the benchmarks in bench/*.ts with esbuild (bundled, native addons external) into
// build/bench/ and runs them one after another, or only those named:
//   npm run bench                 all of them
//   npm run bench -- ingest       only bench/ingest.ts
// Each prints ratios against a baseline measured in the same run and writes its figures to
// bench/results/<name>.json.
import { build } from 'esbuild';
import { readdirSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wanted = process.argv.slice(2);
const names = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .filter((n) => n !== 'common')
  .filter((n) => wanted.length === 0 || wanted.includes(n));
if (names.length === 0) {
  console.error(`no benchmark named ${wanted.join(', ')} in bench/`);
  process.exit(2);
}
const outdir = join(root, 'build', 'bench');
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: Object.fromEntries(names.map((n) => [n, `bench/${n}.ts`])),
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  external: ['better-sqlite3', 'pg', 'pg-native', '@duckdb/node-api', 'onnxruntime-node', 'react-devtools-core', 'simple-git', 'esbuild', 'typescript', 'sharp', 'dockerode', 'ssh2', 'cpu-features', 'tar-stream'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
let failed = 0;
for (const n of names) {
  console.log(`\n=== bench/${n}.ts ===`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(outdir, `${n}.mjs`)], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
