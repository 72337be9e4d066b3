/**
 * The run reader keeps to what a run had: the gates file's text is stored with the run, so the
 * gates shown (and decided on resume) are the run's, even after the file changes.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRecipe, parseRecipe } from '../../src/schema/recipe-load.js';
import { RunStore } from '../../src/store/run-store.js';
import { RunReader, formatGateRule } from '../../src/live/run-reader.js';
import { tempDir } from '../helpers/fixtures.js';

describe('run reader', () => {
  it('shows the gates the run was planned with, not the gates file as it is now', () => {
    const { dir, cleanup } = tempDir();
    try {
      const recipeFile = join(dir, 'paddock.yaml');
      writeFileSync(recipeFile, 'version: 1\nname: g\nstages:\n  package:\n    - { id: s, run: ["true"] }\ngates: gates.yaml\n');
      writeFileSync(join(dir, 'gates.yaml'), 'version: 1\ngates:\n  - { id: fast, stage: package, metric: latency.p99_ms, op: "<=", threshold: 50 }\n');
      const loaded = loadRecipe(recipeFile);
      expect(loaded.gatesText).toContain('id: fast');
      const store = new RunStore(join(dir, 'store'));
      try {
        store.createRun({ id: 'r-1', name: 'g', recipePath: recipeFile, recipeText: loaded.text, recipeSha256: '0', lineage: {}, host: 'h', actor: 'a', gatesText: loaded.gatesText });
        writeFileSync(join(dir, 'gates.yaml'), 'version: 1\ngates:\n  - { id: faster, stage: package, metric: latency.p99_ms, op: "<=", threshold: 10 }\n');
        const detail = new RunReader(store).detail('r-1')!;
        expect(detail.gates).toEqual([{ id: 'fast', stage: 'package', rule: 'latency.p99_ms <= 50' }]);
        expect(parseRecipe(loaded.text, recipeFile).gates.map((g) => g.id)).toEqual(['faster']);
      } finally {
        store.close();
      }
    } finally {
      cleanup();
    }
  });

  it('formats gate rules the way the gates screen shows them', () => {
    const rules = parseRecipe(
      'version: 1\nname: g\nmodels:\n  candidate: { version: 1.1.0, onnx: { path: c.onnx }, lineage: { dataset: d } }\n  production: { version: 1.0.0, onnx: { path: p.onnx }, lineage: { dataset: d } }\nstages:\n  evaluate:\n    - { id: s, run: ["true"] }\ngates:\n  - { id: a, stage: evaluate, metric: coco.AP, target: candidate, slices: critical, op: ">=", baseline: { target: production, times: 0.9 } }\n  - { id: b, stage: evaluate, metric: coco.AP, target: candidate, op: ">=", baseline: { target: production }, decide_on: lower, approval: required }\n',
      'x.yaml',
    ).gates.map(formatGateRule);
    expect(rules).toEqual(['coco.AP of candidate on every critical slice >= 0.9 x production', 'coco.AP of candidate >= production (on the paired lower bound, alpha 0.05); needs approval']);
  });
});
