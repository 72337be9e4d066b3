/**
 * The layering of DESIGN.md, enforced on the import graph (test/helpers/import-graph.ts):
 *
 *   bin/ -> cli/ -> views/, src/steps/, runners/ -> src/live/ -> src/pipeline/
 *        -> src/store/, src/metrics/, src/model/, src/pack/, src/evaluate/, src/world/ (the domain)
 *        -> src/schema/, src/files/ (zod schemas; digests, atomic writes, locks, install root, formatting)
 *
 * - An import never points up a layer; within a layer, folders may import each other only while
 *   no cycle of folders results (src/steps may use runners/ to reach Docker, never the reverse).
 * - views/ never imports runners/ or src/steps/ (they read the store and live state).
 * - The pipeline owns the runner interface (src/pipeline/runner.ts); runners implement it.
 * - src/schema/ names no step: recipe loading takes the step catalogue's rules as an argument.
 * - Every folder under src/ is placed in a layer; a new one fails here until it is.
 * - Only bin/ calls process.exit(); dockerode is imported only under runners/.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { folderCycles, importArrows, layerViolations } from './helpers/import-graph.js';

const root = join(import.meta.dirname, '..');

function plant(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-arch-'));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.tsx?$/.test(name)) out.push(relative(root, p));
  }
  return out;
}

describe('architecture', () => {
  it('no import points up a layer and no folders form a cycle', () => {
    expect(layerViolations(root)).toEqual([]);
  });

  it('finds the arrows it checks (the graph is not empty by accident)', () => {
    const arrows = importArrows(root);
    expect(arrows.length).toBeGreaterThan(100);
    expect(arrows.some((a) => a.from === 'cli' && a.to === 'src/pipeline')).toBe(true);
    expect(arrows.some((a) => a.from === 'runners' && a.to === 'src/pipeline' && a.at.startsWith('runners/local.ts:'))).toBe(true);
  });

  it('fails on a planted upward import, naming the file and line', () => {
    const dir = plant({
      'src/schema/recipe.ts': "import { z } from 'zod';\n\nimport { bench } from '../steps/bench.js';\nexport const x = bench;\n",
      'src/steps/bench.ts': "import { Recipe } from '../schema/recipe.js';\nexport const bench = 1;\n",
    });
    try {
      const v = layerViolations(dir);
      expect(v).toContain('src/schema/recipe.ts:3: src/schema imports src/steps, a layer above it');
      expect(v.some((l) => l.startsWith('folder cycle src/schema -> src/steps -> src/schema'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails on a cycle inside one layer, on a forbidden arrow, on a dynamic import and on an unplaced folder', () => {
    const dir = plant({
      'src/store/a.ts': "export type { B } from '../metrics/b.js';\n",
      'src/metrics/b.ts': "import type { A } from '../store/a.js';\nexport type B = A;\n",
      'views/screen.tsx': "const r = await import('../runners/local.js');\n",
      'runners/local.ts': 'export const x = 1;\n',
      'src/pipeline/p.ts': "export const p = () => import('../live/l.js');\n",
      'src/live/l.ts': 'export const l = 1;\n',
      'src/gadgets/g.ts': 'export const g = 1;\n',
    });
    try {
      const v = layerViolations(dir);
      expect(v.some((l) => /^folder cycle src\/(metrics|store) -> src\/(store|metrics) -> src\/(metrics|store)/.test(l))).toBe(true);
      expect(v).toContain('views/screen.tsx:1: views imports runners: views read the store and live state, never call runners');
      expect(v).toContain('src/pipeline/p.ts:1: src/pipeline imports src/live, a layer above it');
      expect(v).toContain('src/gadgets is in no layer: place it in LAYERS (test/helpers/import-graph.ts)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds a cycle of three folders', () => {
    expect(folderCycles([
      { from: 'a', to: 'b', at: 'a/x.ts:1' },
      { from: 'b', to: 'c', at: 'b/x.ts:1' },
      { from: 'c', to: 'a', at: 'c/x.ts:1' },
    ])).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('only bin/ exits the process; only runners/ import dockerode', () => {
    const files = ['cli', 'src', 'runners', 'views'].flatMap((d) => sources(join(root, d)));
    const exits = files.filter((f) => /process\.exit\(/.test(readFileSync(join(root, f), 'utf8')));
    expect(exits).toEqual([]);
    const docker = files.filter((f) => !f.startsWith('runners/') && /from 'dockerode'|import\('dockerode'\)/.test(readFileSync(join(root, f), 'utf8')));
    expect(docker).toEqual([]);
  });
});
