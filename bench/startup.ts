/**
 * Start-up: wall time of `paddock --help`, which someone on a vehicle computer over SSH pays on
 * every command. Three builds of the same sources, and bare `node -e 0` as the baseline:
 *   bundle  dist/paddock.js: esbuild, code-split, heavy modules loaded lazily (what ships)
 *   tsc     build/tsc/bin/paddock.js: tsc's one-file-per-module output, same lazy imports
 *   eager   one esbuild bundle that imports every command up front (what lazy loading saves)
 * Runs interleaved, 25 times each; reports medians and ratios to bare node.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { median, writeResults, ROOT } from './common.js';

const tscOut = join(ROOT, 'build', 'tsc');
console.log('compiling with tsc for the comparison...');
const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.', '--outDir', tscOut, '--noEmit', 'false'], { stdio: 'inherit', cwd: ROOT });
if (tsc.status !== 0 || !existsSync(join(tscOut, 'bin', 'paddock.js'))) throw new Error('tsc build failed');
writeFileSync(join(tscOut, 'package.json'), '{"type":"module"}\n');

// The eager variant: an entry that imports everything the commands use before parsing args.
const eagerDir = join(ROOT, 'build', 'eager');
mkdirSync(eagerDir, { recursive: true });
writeFileSync(
  join(eagerDir, 'entry.ts'),
  `import '../../cli/run-command.js';\nimport '../../cli/show.js';\nimport '../../views/start.js';\nimport '../../bin/paddock.js';\n`,
);
await build({
  absWorkingDir: ROOT,
  entryPoints: { paddock: join(eagerDir, 'entry.ts') },
  outdir: eagerDir,
  bundle: true,
  splitting: true, // only so that ink's optional devtools stay out of the eager graph
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native addons stay external, as in the shipped build (scripts/build.mjs's EXTERNAL; not imported
  // from there: bundled, that script would take this file for itself and build).
  external: ['better-sqlite3', 'onnxruntime-node', 'react-devtools-core', 'simple-git', 'sharp', 'dockerode', 'ssh2', 'cpu-features', 'tar-stream'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  define: { 'process.env.DEV': '"false"' },
  logLevel: 'warning',
});

const variants: Record<string, string[]> = {
  'node -e 0 (baseline)': ['-e', '0'],
  'bundle (dist/paddock.js)': [join(ROOT, 'dist', 'paddock.js'), '--help'],
  'tsc (build/tsc)': [join(tscOut, 'bin', 'paddock.js'), '--help'],
  'eager bundle': [join(eagerDir, 'paddock.js'), '--help'],
  // A command that loads the run store (SQLite, the show module): where file count matters.
  'bundle: paddock runs': [join(ROOT, 'dist', 'paddock.js'), 'runs'],
  'tsc: paddock runs': [join(tscOut, 'bin', 'paddock.js'), 'runs'],
  // The whole run path (recipe, zod, yaml, SQLite, execa, the executor) on a recipe with no steps.
  'bundle: paddock run (empty)': [join(ROOT, 'dist', 'paddock.js'), 'run', join(ROOT, 'build', 'bench-empty.yaml'), '--headless'],
  'tsc: paddock run (empty)': [join(tscOut, 'bin', 'paddock.js'), 'run', join(ROOT, 'build', 'bench-empty.yaml'), '--headless'],
  // The step catalogue alone (every definition and its schemas, no body): what loading a recipe adds.
  'bundle: paddock steps': [join(ROOT, 'dist', 'paddock.js'), 'steps'],
  // A built-in step's process up to its body: dist/step.js, the catalogue, the body's schema check (bad params: exit 2).
  'bundle: dist/step.js (bad params)': [join(ROOT, 'dist', 'step.js'), 'verify-pack', '{}'],
};
process.env.PADDOCK_HOME = join(ROOT, 'build', 'bench-empty-home');
writeFileSync(join(ROOT, 'build', 'bench-empty.yaml'), 'version: 1\nname: empty\nstages: {}\n');
const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let rep = 0; rep < 25; rep++) {
  for (const [name, args] of Object.entries(variants)) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const ms = performance.now() - t;
    if (r.status !== (name.includes('bad params') ? 2 : 0)) throw new Error(`${name} failed: ${r.stderr}`);
    if (rep > 0) times[name].push(ms);
  }
}
const base = median(times['node -e 0 (baseline)']);
const rows = Object.entries(times).map(([name, xs]) => ({ name, medianMs: +median(xs).toFixed(1), minMs: +Math.min(...xs).toFixed(1), overNodeMs: +(median(xs) - base).toFixed(1), ratioToNode: +(median(xs) / base).toFixed(2) }));
for (const r of rows) console.log(`${r.name.padEnd(28)} median ${r.medianMs.toFixed(1).padStart(6)} ms  min ${r.minMs.toFixed(1).padStart(6)} ms  +${r.overNodeMs.toFixed(1)} ms over node  x${r.ratioToNode}`);
console.log(`figures: ${writeResults('startup', { runs: 24, rows })}`);
