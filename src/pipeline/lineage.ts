/**
 * Resolves each model's lineage at the start of a run: file digests checked against the recipe,
 * the training code's git commit (read with simple-git when the recipe says "auto"), dataset
 * tag and training run. The result is stored with the run, so a report can say exactly which
 * bytes it measured.
 */
import { isAbsolute, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { Recipe } from '../schema/recipe.js';
import { formatRecipeIssue, locateInText } from '../schema/recipe-load.js';
import { sha256FileSync } from '../files/digest.js';
import { InputError } from '../files/input-error.js';

export interface ResolvedFile {
  path: string;
  sha256: string;
  bytes: number;
}

export interface ResolvedModel {
  version: string;
  role?: string;
  onnx?: ResolvedFile;
  checkpoint?: ResolvedFile;
  commit: string;
  dirty?: boolean;
  dataset: string;
  training_run?: string;
}

export class LineageError extends InputError {}

/**
 * The commit checked out in `dir` and whether the tree has uncommitted changes (simple-git), or
 * `unknown (why)` when `dir` is not in a git repository or git cannot be run. The run store and
 * the sign step (export_report.json's lineage.commit) resolve "auto" with it, the same way.
 */
export async function gitHead(dir: string): Promise<{ commit: string; dirty?: boolean }> {
  try {
    const { simpleGit } = await import('simple-git');
    const git = simpleGit({ baseDir: dir, timeout: { block: 5000 } });
    if (!(await git.checkIsRepo())) return { commit: 'unknown (not a git repository)' };
    const commit = (await git.revparse(['HEAD'])).trim();
    const status = await git.status();
    return { commit, dirty: !status.isClean() };
  } catch (err) {
    return { commit: `unknown (${(err as Error).message.split('\n')[0]})` };
  }
}

/**
 * The models' lineage: each onnx and checkpoint file found and hashed (a missing file or a sha256
 * that does not match is a LineageError that names the recipe's line and column of that value,
 * read from `recipeText`, else from `recipeFile`):
 *   /w/paddock.yaml:16:15 models.candidate.onnx.sha256: the recipe says 58d1..., but /w/m.onnx has 4b7a...
 */
export async function resolveLineage(recipe: Recipe, baseDir: string, recipeFile: string, recipeText?: string): Promise<Record<string, ResolvedModel>> {
  const out: Record<string, ResolvedModel> = {};
  let head: { commit: string; dirty?: boolean } | undefined;
  const problem = (path: (string | number)[], message: string) => {
    let text = recipeText;
    try {
      text ??= readFileSync(recipeFile, 'utf8');
    } catch {
      // the recipe is gone since it was loaded: the error names the file without a line
    }
    const at = text === undefined ? undefined : locateInText(text, path);
    return new LineageError(formatRecipeIssue({ file: recipeFile, path: path.join('.'), line: at?.line ?? 0, column: at?.column ?? 0, message }));
  };
  for (const [name, model] of Object.entries(recipe.models)) {
    const file = (kind: 'onnx' | 'checkpoint'): ResolvedFile | undefined => {
      const f = model[kind];
      if (!f) return undefined;
      const abs = isAbsolute(f.path) ? f.path : resolve(baseDir, f.path);
      if (!existsSync(abs)) throw problem(['models', name, kind, 'path'], `file not found: ${abs}${isAbsolute(f.path) ? '' : ` ("${f.path}" is relative to the recipe's folder, ${baseDir})`}`);
      const { sha256, bytes } = sha256FileSync(abs);
      if (f.sha256 && f.sha256 !== sha256) throw problem(['models', name, kind, 'sha256'], `the recipe says ${f.sha256}, but ${abs} has ${sha256}`);
      return { path: abs, sha256, bytes };
    };
    let commit = model.lineage.commit;
    let dirty: boolean | undefined;
    if (commit === 'auto') {
      head ??= await gitHead(baseDir);
      commit = head.commit;
      dirty = head.dirty;
    }
    out[name] = {
      version: model.version,
      role: model.role,
      onnx: file('onnx'),
      checkpoint: file('checkpoint'),
      commit,
      dirty,
      dataset: model.lineage.dataset,
      training_run: model.lineage.training_run,
    };
  }
  return out;
}
