/**
 * Reading the dataset files a recipe names: the one manifest reader (JSONL, one row per frame,
 * every problem naming the file and line), the COCO ground truth beside a manifest, and the one
 * slice-file loader (located YAML errors, like a recipe's).
 *
 *   build/world/manifests/golden_val.jsonl:2: not a manifest row: weather: Invalid option: expected one of "clear"|"rain"|"fog"|"snow"
 *   fixtures/world/slices.yaml:9:36 slices[3].where.weather[0]: Invalid option: ...
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { ManifestFrameRef, ManifestRow, SliceFile, type Slice } from './manifest.js';
import { formatZodIssues } from './event-lines.js';
import { RecipeError, parseYamlWith } from './recipe-load.js';
import type { Recipe } from './recipe.js';
import { InputError } from '../files/input-error.js';

/** One problem with a manifest: the whole file (no line), or one of its rows. */
export interface ManifestIssue {
  kind: 'unreadable' | 'json' | 'row' | 'duplicate-frame';
  file: string;
  /** 1-based line of the row at fault. */
  line?: number;
  /** The row's frame id, when it has one. */
  frameId?: string;
  /** What is wrong, without the location: "invalid JSON (...)", "frame id f-1 also on line 3". */
  message: string;
}

/** "m.jsonl:2: invalid JSON (Unexpected token ...)", "m.jsonl: cannot read the manifest: ENOENT ..." */
export function formatManifestIssue(i: ManifestIssue): string {
  return `${i.file}${i.line !== undefined ? `:${i.line}` : ''}: ${i.message}`;
}

/** Thrown by readManifest on the first problem; its message is formatManifestIssue's. */
export class ManifestError extends InputError {
  readonly issue: ManifestIssue;
  constructor(issue: ManifestIssue) {
    super(formatManifestIssue(issue));
    this.name = 'ManifestError';
    this.issue = issue;
  }
}

/**
 * How much of a row is checked: `full` validates every row against ManifestRow (the world's
 * manifests, data checks, calibration and equivalence inputs); `frames` only asks for the frame
 * id and image path (inference over any manifest).
 */
export type ManifestRows = 'full' | 'frames';

type RowOf<R extends ManifestRows> = R extends 'full' ? ManifestRow : ManifestFrameRef;

export interface ParsedManifest<R extends ManifestRows = 'full'> {
  file: string;
  /** Good rows, in order, with their 1-based line. */
  rows: { line: number; row: RowOf<R> }[];
  /** Bad rows (their line is not in `rows`), in order. */
  issues: ManifestIssue[];
}

const SCHEMA: Record<ManifestRows, { schema: z.ZodType; problem: (err: z.ZodError) => string }> = {
  full: { schema: ManifestRow, problem: (err) => `not a manifest row: ${formatZodIssues(err, 4)}` },
  frames: { schema: ManifestFrameRef, problem: () => 'a row needs "frame_id" and "path" strings' },
};

/**
 * Parses manifest text: blank lines are skipped, every other line is one JSON row. A row that is
 * not JSON, fails the row schema or repeats an earlier row's frame id becomes an issue; the rest
 * are returned with their line.
 */
export function parseManifestText<R extends ManifestRows = 'full'>(text: string, file: string, opts: { rows?: R } = {}): ParsedManifest<R> {
  const { schema, problem } = SCHEMA[opts.rows ?? 'full'];
  const rows: ParsedManifest<R>['rows'] = [];
  const issues: ManifestIssue[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      issues.push({ kind: 'json', file, line, message: `invalid JSON (${(err as Error).message})` });
      return;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const frameId = (value as { frame_id?: unknown } | null)?.frame_id;
      issues.push({ kind: 'row', file, line, frameId: typeof frameId === 'string' ? frameId : undefined, message: problem(parsed.error) });
      return;
    }
    const row = parsed.data as RowOf<R>;
    const prev = seen.get(row.frame_id);
    if (prev !== undefined) {
      issues.push({ kind: 'duplicate-frame', file, line, frameId: row.frame_id, message: `frame id ${row.frame_id} also on line ${prev}` });
      return;
    }
    seen.set(row.frame_id, line);
    rows.push({ line, row });
  });
  return { file, rows, issues };
}

/** The dataset root of a manifest: the parent of its manifests/ folder (rows' paths start there). */
export function datasetRootOf(manifest: string): string {
  return dirname(dirname(manifest));
}

/**
 * Reads a JSONL manifest; throws a ManifestError naming the file (and line) of the first problem.
 * `root` is where the rows' image paths start.
 */
export function readManifest<R extends ManifestRows = 'full'>(file: string, opts: { rows?: R } = {}): { file: string; root: string; rows: RowOf<R>[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ManifestError({ kind: 'unreadable', file, message: `cannot read the manifest: ${(err as Error).message}` });
  }
  const parsed = parseManifestText(text, file, opts);
  if (parsed.issues.length > 0) throw new ManifestError(parsed.issues[0]);
  return { file, root: datasetRootOf(file), rows: parsed.rows.map((r) => r.row) };
}

/** The COCO ground truth of a manifest's split: `<split>.coco.json` beside `<split>.jsonl`. */
export function groundTruthFileOf(manifest: string): string {
  return manifest.replace(/\.jsonl$/, '.coco.json');
}

/** What the manifest's users take from its ground truth: images by file name, objects' classes. */
export interface GroundTruthBeside {
  file: string;
  images: { id: number; file_name: string }[];
  annotations: { image_id: number; category_id: number }[];
  categories: { id: number; name: string }[];
}

/** The ground truth beside a manifest, or undefined when there is none (or it is not COCO JSON). */
export function readGroundTruthBeside(manifest: string): GroundTruthBeside | undefined {
  const file = groundTruthFileOf(manifest);
  try {
    const gt = JSON.parse(readFileSync(file, 'utf8')) as Partial<GroundTruthBeside>;
    if (!Array.isArray(gt.images)) return undefined;
    return { file, images: gt.images, annotations: Array.isArray(gt.annotations) ? gt.annotations : [], categories: Array.isArray(gt.categories) ? gt.categories : [] };
  } catch {
    return undefined;
  }
}

/** Parses and validates a slice file's text; errors are located in `file` (RecipeError). */
export function parseSliceFile(text: string, file: string): Slice[] {
  return parseYamlWith(text, file, SliceFile).value.slices;
}

/** Reads and validates a slice file (fixtures/world/slices.yaml); errors name the file, path and line. */
export function loadSliceFile(file: string): Slice[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RecipeError([{ file, path: '', line: 0, column: 0, message: `cannot read the slices file: ${(err as Error).message}` }]);
  }
  return parseSliceFile(text, file);
}

/**
 * The slice files a recipe's evaluate steps read (`with.slices`), resolved against the recipe's
 * folder the way paddock passes them to the step.
 *   [{ step: 'evaluate', path: '/repo/fixtures/world/slices.yaml' }]
 */
export function recipeSliceFiles(recipe: Recipe, recipeFile: string): { step: string; path: string }[] {
  const out: { step: string; path: string }[] = [];
  for (const steps of Object.values(recipe.stages)) {
    for (const step of steps) {
      if (!('uses' in step) || step.uses !== 'evaluate') continue;
      const slices = (step.with as { slices?: unknown }).slices;
      if (typeof slices === 'string' && slices) out.push({ step: step.id, path: isAbsolute(slices) ? slices : resolve(dirname(recipeFile), slices) });
    }
  }
  return out;
}
