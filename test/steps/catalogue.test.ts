/**
 * The step catalogue: one definition per built-in step, each complete; recipe loading takes its
 * rules; dist/step.js finds each body; `paddock steps` and docs/steps.md list the same steps.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOGUE, STEP_RULES, findStep, parseRecipe } from '../../src/steps/catalogue.js';
import { parseRecipe as parseRecipeWithout, RecipeError } from '../../src/schema/recipe-load.js';
import { paddock } from '../helpers/cli.js';
import { ROOT } from '../helpers/fixtures.js';
import { execa } from 'execa';

const RECIPE = `version: 1
name: t
models:
  candidate: { version: 1.0.0, onnx: { path: m.onnx }, lineage: { dataset: d } }
stages:
  promote:
    - { id: verify, uses: verify-pack, with: { pack: build/pack } }
`;

describe('the step catalogue', () => {
  it('declares each step once, with a stage, a with schema, a command and where it runs', () => {
    const names = CATALOGUE.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const s of CATALOGUE) {
      expect(s.summary.length, s.name).toBeGreaterThan(10);
      expect(['package', 'evaluate', 'replay', 'promote', 'any']).toContain(s.stage);
      expect(typeof s.with.safeParse).toBe('function');
      expect(typeof s.invoke).toBe('function');
      expect('unsupported' in s.container || typeof s.container.inputs === 'function').toBe(true);
    }
    expect(findStep('verify-pack')?.stage).toBe('promote');
    expect(findStep('nope')).toBeUndefined();
  });

  it('every node step has a body with a params schema; the Python steps have none', async () => {
    for (const s of CATALOGUE) {
      if (['export', 'torch-bench'].includes(s.name)) {
        expect(s.load, s.name).toBeUndefined();
        continue;
      }
      const body = await s.load!();
      expect(typeof body.run, s.name).toBe('function');
      expect(typeof body.params.safeParse, s.name).toBe('function');
    }
  });

  it('recipe loading checks with against the catalogue, and an unknown step is named with the known ones', () => {
    expect(parseRecipe(RECIPE, 'r.yaml').stages.promote[0]).toMatchObject({ uses: 'verify-pack' });
    const bad = RECIPE.replace('pack: build/pack', 'pack: build/pack, key: x');
    expect(() => parseRecipe(bad, 'r.yaml')).toThrow(/r\.yaml:7:\d+ stages\.promote\[0\]\.with\.key: unknown verify-pack parameter "key" \(known: pack, public_key, trusted_keys, strict\)/);
    const unknown = RECIPE.replace('uses: verify-pack', 'uses: verify-pak');
    try {
      parseRecipe(unknown, 'r.yaml');
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(RecipeError);
      expect((err as Error).message).toMatch(/stages\.promote\[0\]\.uses: unknown built-in step "verify-pak" \(known: bench, world-build, .*verify-pack\)/);
    }
    // Without the catalogue (a stored run read back) the recipe's own shape is still checked.
    expect(() => parseRecipeWithout(bad, 'r.yaml')).not.toThrow();
    expect(Object.keys(STEP_RULES)).toEqual(CATALOGUE.map((s) => s.name));
  });

  it('dist/step.js checks a step\'s parameters against its body\'s schema', async () => {
    const r = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'verify-pack', '{"pack":1}'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^verify-pack: invalid parameters: pack: /);
    const u = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'frobnicate', '{}'], { reject: false });
    expect(u.exitCode).toBe(2);
    expect(u.stderr).toMatch(/unknown built-in step "frobnicate" \(known: bench, .*verify-pack\)/);
  });

  it('paddock steps and docs/steps.md list every step', async () => {
    const r = await paddock(['steps', '--json'], {});
    expect(r.exitCode).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; stage: string; container: { unsupported?: string } });
    expect(rows.map((x) => x.name)).toEqual(CATALOGUE.map((s) => s.name));
    expect(rows.find((x) => x.name === 'world-build')!.container.unsupported).toMatch(/sharp/);
    const text = await paddock(['steps'], {});
    expect(text.stdout).toMatch(/^STEP +STAGE +WHAT IT DOES$/m);
    expect(text.stdout).toMatch(/^verify-pack +any host \(paddock's step image\)$/m);
    const doc = readFileSync(join(ROOT, 'docs', 'steps.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| step | runs on a Docker host |'));
    for (const s of CATALOGUE) expect(table, s.name).toMatch(new RegExp(`[|,] ${s.name}[,| ]`));
  });
});
