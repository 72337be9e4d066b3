/**
 * What a run read at its start besides its recipe and gates file, recorded in the store so that
 * the run can be shown from the store alone: today the slice files of its evaluate steps.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Recipe } from '../schema/recipe.js';
import { recipeSliceFiles } from '../schema/manifest-load.js';
import type { RunStore } from './run-store.js';

/**
 * Records the text of each slice file the recipe's evaluate steps name, as it is now. Call it when
 * a run starts and when it resumes: a file whose text is already the latest record is not
 * recorded again, a changed one is appended (what the rerun step will read). A file that cannot
 * be read is recorded with the reason at the start; on a resume the last good text is kept.
 * Returns how many records were appended.
 */
export function recordRunSlices(store: RunStore, runId: string, recipe: Recipe, recipeFile: string): number {
  const latest = new Map(store.runFiles(runId, 'slices').map((r) => [r.step_id, r]));
  let appended = 0;
  for (const { step, path } of recipeSliceFiles(recipe, recipeFile)) {
    const prev = latest.get(step);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if (prev?.text != null) continue;
      const error = (err as Error).message;
      if (prev?.error === error && prev.path === path) continue;
      store.recordRunFile({ runId, role: 'slices', stepId: step, path, error });
      appended++;
      continue;
    }
    const sha256 = createHash('sha256').update(text).digest('hex');
    if (prev?.sha256 === sha256 && prev.path === path) continue;
    store.recordRunFile({ runId, role: 'slices', stepId: step, path, text, sha256 });
    appended++;
  }
  return appended;
}
