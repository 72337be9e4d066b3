/**
 * The files a run read at its start (its evaluate steps' slice files), recorded append-only:
 * a resume appends a changed file's new text and keeps the old record; a file that cannot be read
 * is recorded with the reason.
 */
import { describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunStore } from '../../src/store/run-store.js';
import { recordRunSlices } from '../../src/store/run-files.js';
import { parseRecipe } from '../../src/schema/recipe-load.js';
import { tempDir } from '../helpers/fixtures.js';

const recipeText = (slices: string) =>
  `version: 1\nname: r\nstages:\n  evaluate:\n    - { id: ev, uses: evaluate, with: { candidate: { name: c, model: m }, manifest: d/manifests/t.jsonl, slices: ${slices} } }\n    - { id: other, run: ["true"] }\n`;

describe('run files', () => {
  it('records the slice file at the start, appends only what changed, never rewrites', () => {
    const { dir, cleanup } = tempDir();
    const store = new RunStore(join(dir, 'store'));
    try {
      const recipeFile = join(dir, 'paddock.yaml');
      const recipe = parseRecipe(recipeText('s.yaml'), recipeFile);
      store.createRun({ id: 'r-1', name: 'r', recipePath: recipeFile, recipeText: recipeText('s.yaml'), recipeSha256: '0', lineage: {}, host: 'h', actor: 'a' });
      writeFileSync(join(dir, 's.yaml'), 'version: 1\nslices: [{ id: all }]\n');
      expect(recordRunSlices(store, 'r-1', recipe, recipeFile)).toBe(1);
      // A resume with the file unchanged records nothing; with it changed, appends.
      expect(recordRunSlices(store, 'r-1', recipe, recipeFile)).toBe(0);
      writeFileSync(join(dir, 's.yaml'), 'version: 1\nslices: [{ id: night, where: { time_of_day: [night] } }]\n');
      expect(recordRunSlices(store, 'r-1', recipe, recipeFile)).toBe(1);
      // A resume that finds the file gone keeps the last good record.
      rmSync(join(dir, 's.yaml'));
      expect(recordRunSlices(store, 'r-1', recipe, recipeFile)).toBe(0);
      const latest = store.runFiles('r-1', 'slices');
      expect(latest.map((r) => [r.step_id, r.path, r.text])).toEqual([['ev', join(dir, 's.yaml'), 'version: 1\nslices: [{ id: night, where: { time_of_day: [night] } }]\n']]);
      expect(latest[0].sha256).toMatch(/^[0-9a-f]{64}$/);
      expect((store.db.prepare('SELECT COUNT(*) AS n FROM run_files').get() as { n: number }).n).toBe(2);
      expect(() => store.db.prepare('UPDATE run_files SET text = ?').run('x')).toThrow(/append-only/);
      expect(() => store.db.prepare('DELETE FROM run_files').run()).toThrow(/append-only/);
    } finally {
      store.close();
      cleanup();
    }
  });

  it('records why a slice file could not be read when the run started', () => {
    const { dir, cleanup } = tempDir();
    const store = new RunStore(join(dir, 'store'));
    try {
      const recipeFile = join(dir, 'paddock.yaml');
      store.createRun({ id: 'r-1', name: 'r', recipePath: recipeFile, recipeText: recipeText('/nonexistent/s.yaml'), recipeSha256: '0', lineage: {}, host: 'h', actor: 'a' });
      expect(recordRunSlices(store, 'r-1', parseRecipe(recipeText('/nonexistent/s.yaml'), recipeFile), recipeFile)).toBe(1);
      expect(recordRunSlices(store, 'r-1', parseRecipe(recipeText('/nonexistent/s.yaml'), recipeFile), recipeFile)).toBe(0);
      const [row] = store.runFiles('r-1');
      expect(row).toMatchObject({ role: 'slices', step_id: 'ev', path: '/nonexistent/s.yaml', text: null, sha256: null });
      expect(row.error).toMatch(/ENOENT/);
      expect(() => store.db.prepare("INSERT INTO run_files (run_id, role, step_id, path, recorded_at) VALUES ('r-1', 'slices', 'ev', 'p', 0)").run()).toThrow(/CHECK constraint/);
    } finally {
      store.close();
      cleanup();
    }
  });
});
