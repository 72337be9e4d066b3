import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { RecipeError } from '../../src/schema/recipe-load.js';
import { parseRecipe, loadRecipe } from '../../src/steps/catalogue.js';
import { Recipe } from '../../src/schema/recipe.js';
import { DEMO_RECIPE } from '../helpers/fixtures.js';

const BASE = `version: 1
name: t
models:
  candidate:
    version: 1.1.0
    onnx: { path: m.onnx }
    lineage: { dataset: golden-v1 }
targets:
  - { name: cpu-fp32, backend: onnxruntime }
stages:
  package:
    - id: bench-candidate
      uses: bench
      target: cpu-fp32
      with: { model: candidate, iterations: 10 }
`;

function issuesOf(text: string) {
  try {
    parseRecipe(text, 'r.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(RecipeError);
    return (err as RecipeError).issues;
  }
  throw new Error('expected the recipe to be rejected');
}

describe('recipe', () => {
  it('loads the demo recipe, and it round-trips through its schema', () => {
    const { recipe, text } = loadRecipe(DEMO_RECIPE);
    expect(recipe.name).toBe('demo');
    expect(Recipe.parse(JSON.parse(JSON.stringify(recipe)))).toEqual(recipe);
    expect(text).toBe(readFileSync(DEMO_RECIPE, 'utf8'));
  });

  it('applies defaults', () => {
    const r = parseRecipe(BASE, 'r.yaml');
    expect(r.targets[0]).toMatchObject({ precision: 'fp32', host: 'local' });
    expect(r.models.candidate.lineage.commit).toBe('auto');
    expect(r.concurrency).toBe(2);
    expect(r.stages.evaluate).toEqual([]);
  });

  const table: [string, string, { path: string; line: number; column: number; message: RegExp }][] = [
    ['wrong type deep inside', BASE.replace('iterations: 10', 'iterations: "ten"'), { path: 'stages.package[0].with.iterations', line: 15, column: 45, message: /expected number/ }],
    ['unknown key', BASE.replace('      target: cpu-fp32\n', '      target: cpu-fp32\n      colour: red\n'), { path: 'stages.package[0].colour', line: 15, column: 15, message: /unknown key "colour"/ }],
    ['bad version string', BASE.replace('1.1.0', 'v1'), { path: 'models.candidate.version', line: 5, column: 14, message: /semantic version/ }],
    ['bad backend', BASE.replace('backend: onnxruntime', 'backend: tflite'), { path: 'targets[0].backend', line: 9, column: 32, message: /onnxruntime/ }],
    ['unknown target', BASE.replace('target: cpu-fp32\n      with', 'target: gpu\n      with'), { path: 'stages.package[0].target', line: 14, column: 15, message: /unknown target "gpu"/ }],
    ['unknown model', BASE.replace('model: candidate', 'model: nobody'), { path: 'stages.package[0].with.model', line: 15, column: 22, message: /name of a model/ }],
    ['needs unknown step', BASE.replace('      uses: bench', '      needs: [ghost]\n      uses: bench'), { path: 'stages.package[0].needs[0]', line: 13, column: 15, message: /needs unknown step "ghost"/ }],
    ['missing version', BASE.replace('version: 1\n', ''), { path: 'version', line: 1, column: 1, message: /expected 1|Invalid input/ }],
    ['YAML syntax', BASE.replace('stages:', 'stages: [\n'), { path: '', line: 13, column: 11, message: /^YAML syntax: Nested mappings are not allowed in compact mappings$/ }],
  ];
  it.each(table)('%s -> file, YAML path, line:column and what was expected', (_name, text, want) => {
    const issues = issuesOf(text);
    const hit = issues.find((i) => i.path === want.path) ?? issues[0];
    expect(hit.file).toBe('r.yaml');
    expect(hit.path).toBe(want.path);
    expect(hit.line).toBe(want.line);
    expect(hit.column).toBe(want.column);
    expect(hit.message).toMatch(want.message);
  });

  it('formats issues as file:line:column path: message', () => {
    try {
      parseRecipe(BASE.replace('1.1.0', 'v1'), 'fixtures/x.yaml');
    } catch (err) {
      expect((err as Error).message).toBe('fixtures/x.yaml:5:14 models.candidate.version: a semantic version such as 1.2.0');
    }
  });
});

describe('gates in their own file', () => {
  it('reads `gates: gates.yaml` relative to the recipe, and locates errors in that file', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join: j } = await import('node:path');
    const dir = mkdtempSync(j(tmpdir(), 'paddock-gates-'));
    const recipe = j(dir, 'paddock.yaml');
    writeFileSync(recipe, BASE + 'gates: gates.yaml\n');
    // The recipe's one step is a bench: its gate names a metric the bench produces (a gate on coco.AP here is refused, test/pipeline/plan.test.ts).
    writeFileSync(j(dir, 'gates.yaml'), 'version: 1\ngates:\n  - { id: ap, stage: evaluate, metric: latency.p99_ms, op: "<=", threshold: 50 }\n');
    const { recipe: r } = loadRecipe(recipe);
    expect(r.gates.map((g) => g.id)).toEqual(['ap']);
    writeFileSync(j(dir, 'gates.yaml'), 'version: 1\ngates:\n  - { id: ap, stage: evaluate, metric: coco.AP, op: "=>", threshold: 0.4 }\n');
    try {
      loadRecipe(recipe);
      throw new Error('expected an error');
    } catch (err) {
      const e = err as RecipeError;
      expect(e.issues[0]).toMatchObject({ file: j(dir, 'gates.yaml'), path: 'gates[0].op', line: 3 });
    }
    writeFileSync(recipe, BASE + 'gates: missing.yaml\n');
    expect(() => loadRecipe(recipe)).toThrow(/cannot read the gates file .*missing\.yaml/);
  });
});
