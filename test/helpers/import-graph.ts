/**
 * The import graph of paddock's sources, folder by folder, and the layering rules it must keep
 * (test/architecture.test.ts). Reads the files as text: every `from '...'`, side-effect
 * `import '...'` and `import('...')` with a relative specifier is an arrow, type-only ones too.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';

/**
 * The layers, top to bottom. A file may import its own folder, any folder of a lower layer, and a
 * folder of its own layer as long as no cycle of folders results. Every folder under src/ must be
 * placed here: a new one fails the test until it is.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['bin'],
  ['cli'],
  ['views', 'src/steps', 'runners', 'src/engines'],
  ['src/live'],
  ['src/pipeline'],
  ['src/store', 'src/metrics', 'src/model', 'src/pack', 'src/evaluate', 'src/world', 'src/registry', 'src/replay', 'src/sim'],
  ['src/schema', 'src/files'],
];

/** Arrows forbidden even though they point down or sideways (DESIGN.md, STYLE.md). */
export const FORBIDDEN: readonly [string, string, string][] = [
  ['views', 'runners', 'views read the store and live state, never call runners'],
  ['views', 'src/steps', 'views never run step bodies'],
  ['views', 'src/engines', 'views read the store and live state, never submit to an engine'],
];

/** Source roots scanned. */
export const ROOTS = ['bin', 'cli', 'src', 'runners', 'views'];

export interface ImportArrow {
  from: string;
  to: string;
  /** file:line of the import, relative to the root. */
  at: string;
}

/** The folder a file belongs to: `src/<name>` under src/, else its top-level directory. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  return parts[0] === 'src' && parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
}

function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(relative(root, p).split(sep).join('/'));
    }
  };
  for (const r of ROOTS) {
    try {
      walk(join(root, r));
    } catch {
      // a root this tree does not have
    }
  }
  return out.sort();
}

const IMPORT = /\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every arrow between two different folders, with the file and line of its import. */
export function importArrows(root: string): ImportArrow[] {
  const arrows: ImportArrow[] = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = posix.normalize(posix.join(posix.dirname(file), m[1] ?? m[2]));
      const from = folderOf(file);
      const to = folderOf(relative(root, resolve(root, target)).split(sep).join('/'));
      if (from === to) continue;
      arrows.push({ from, to, at: `${file}:${text.slice(0, m.index).split('\n').length}` });
    }
  }
  return arrows;
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((l) => l.includes(folder));
}

/** Cycles between folders (each listed once, as a path a -> b -> a). */
export function folderCycles(arrows: readonly ImportArrow[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const a of arrows) {
    if (!next.has(a.from)) next.set(a.from, new Set());
    next.get(a.from)!.add(a.to);
  }
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of next.get(n) ?? []) {
      if (state.get(m) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(m)), m];
        const key = [...cycle.slice(0, -1)].sort().join(' ');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...next.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}

/** Every broken rule, one line each, naming the file and line of the import that breaks it. */
export function layerViolations(root: string): string[] {
  const arrows = importArrows(root);
  const problems: string[] = [];
  const folders = new Set(sourceFiles(root).map(folderOf));
  for (const f of [...folders].sort()) if (layerOf(f) < 0) problems.push(`${f} is in no layer: place it in LAYERS (test/helpers/import-graph.ts)`);
  for (const a of arrows) {
    const [lf, lt] = [layerOf(a.from), layerOf(a.to)];
    if (lf >= 0 && lt >= 0 && lt < lf) problems.push(`${a.at}: ${a.from} imports ${a.to}, a layer above it`);
    const rule = FORBIDDEN.find(([f, t]) => f === a.from && t === a.to);
    if (rule) problems.push(`${a.at}: ${a.from} imports ${a.to}: ${rule[2]}`);
  }
  for (const cycle of folderCycles(arrows)) {
    const where = cycle.slice(0, -1).map((f, i) => arrows.find((a) => a.from === f && a.to === cycle[i + 1])!.at);
    problems.push(`folder cycle ${cycle.join(' -> ')} (${where.join(', ')})`);
  }
  return problems;
}
