/**
 * Resolves each model's lineage at the start of a run: file digests checked against the recipe,
 * the training code's git commit (read with simple-git when the recipe says "auto"), dataset
 * tag and training run. The result is stored with the run, so a report can say exactly which
 * bytes it measured.
 */
import { isAbsolute, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Recipe } from '../schema/recipe.js';
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

async function gitHead(dir: string): Promise<{ commit: string; dirty?: boolean }> {
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

export async function resolveLineage(recipe: Recipe, baseDir: string, recipeFile: string): Promise<Record<string, ResolvedModel>> {
  const out: Record<string, ResolvedModel> = {};
  let head: { commit: string; dirty?: boolean } | undefined;
  for (const [name, model] of Object.entries(recipe.models)) {
    const file = (kind: 'onnx' | 'checkpoint'): ResolvedFile | undefined => {
      const f = model[kind];
      if (!f) return undefined;
      const abs = isAbsolute(f.path) ? f.path : resolve(baseDir, f.path);
      if (!existsSync(abs)) throw new LineageError(`${recipeFile}: models.${name}.${kind}.path: file not found: ${abs}`);
      const { sha256, bytes } = sha256FileSync(abs);
      if (f.sha256 && f.sha256 !== sha256) {
        throw new LineageError(`${recipeFile}: models.${name}.${kind}.sha256: the recipe says ${f.sha256}, but ${abs} has ${sha256}`);
      }
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
