/**
 * What the docs and the demo's recipe files claim about the statistics against what the code
 * does: docs/evaluate.md's table of `decide_on` rules word for word against DECISION_RULES, the
 * defaults it names against the evaluate step's schema, and the demo's gates against the
 * evaluate step they read (a gate decides at the alpha and margin the step tested at, on the
 * rule its comment says).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DECISION_RULES } from '../../src/pipeline/gates.js';
import { EvaluateParams } from '../../src/steps/evaluate/evaluate.step.js';
import { DEFAULT_SLICE_STATISTICS } from '../../src/evaluate/slices.js';
import { loadRecipe } from '../../src/schema/recipe-load.js';
import { ROOT } from '../helpers/fixtures.js';

const doc = readFileSync(join(ROOT, 'docs', 'evaluate.md'), 'utf8');
const section = (title: string) => {
  const start = doc.indexOf(`\n## ${title}\n`);
  expect(start, `docs/evaluate.md has a "## ${title}" section`).toBeGreaterThan(-1);
  const end = doc.indexOf('\n## ', start + 4);
  return doc.slice(start, end < 0 ? undefined : end);
};

describe('the statistics docs say what the code does', () => {
  it('the decide_on table is DECISION_RULES, row for row', () => {
    const rows = [...section('Gates').matchAll(/^\| `([a-z]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(rows)).toEqual(DECISION_RULES);
  });

  it('the defaults it names are the step schema defaults', () => {
    const defaults = EvaluateParams.parse({ candidate: { name: 'c', model: 'm' }, manifest: 'x.jsonl', slices: 's.yaml' });
    const stats = section('Statistics');
    expect(stats).toMatch(new RegExp(`\`min_scenes\` scenes with objects \\(default ${defaults.statistics.min_scenes}\\)`));
    expect(stats).toMatch(new RegExp(`\`min_objects\` objects \\(default ${defaults.statistics.min_objects}\\)`));
    expect(stats).toMatch(new RegExp(`\`min_effective_scenes\` effective scenes \\(default ${defaults.statistics.min_effective_scenes}\\)`));
    expect(stats).toMatch(/Hesterberg's expanded\s+percentile by default \(`percentile-expanded`/);
    expect(defaults.statistics.method).toBe('percentile-expanded');
    // The coverage study's conclusion, as the docs state it, names the defaults.
    expect(stats).toMatch(new RegExp(`\`min_scenes: ${defaults.statistics.min_scenes}\` scenes with objects and\\s+\`min_effective_scenes: ${defaults.statistics.min_effective_scenes}\``));
    // The library's defaults are the step's.
    expect(DEFAULT_SLICE_STATISTICS).toMatchObject({ method: defaults.statistics.method, alpha: defaults.statistics.alpha, margin: defaults.statistics.margin, minScenes: defaults.statistics.min_scenes, minEffectiveScenes: defaults.statistics.min_effective_scenes, minObjects: defaults.statistics.min_objects, maxReplicates: defaults.statistics.max_replicates, power: defaults.statistics.power, replicates: defaults.replicates, seed: defaults.seed });
  });

  it.each(['paddock.yaml', 'paddock.full.yaml'])('the demo recipe %s: its gates decide at the alpha and margin its evaluate step tests at, on the rules gates.yaml says', (file) => {
    const { recipe } = loadRecipe(join(ROOT, 'fixtures', 'demo', file));
    const evaluate = recipe.stages.evaluate.find((s) => 'uses' in s && s.uses === 'evaluate');
    expect(evaluate).toBeDefined();
    const stats = EvaluateParams.parse((evaluate as { with: unknown }).with).statistics;
    const statistical = recipe.gates.filter((g) => g.stage === 'evaluate' && g.decide_on !== 'point' && g.baseline);
    expect(statistical.map((g) => g.id).sort()).toEqual(['critical-slices', 'overall-ap-non-inferior']);
    for (const g of statistical) expect(g.alpha, g.id).toBe(stats.alpha);
    const critical = recipe.gates.find((g) => g.id === 'critical-slices')!;
    // gates.yaml: "no critical slice significantly worse than production by more than 0.02 (one-sided, Holm-adjusted over the critical slices, alpha 0.05)".
    const comment = readFileSync(join(ROOT, 'fixtures', 'demo', 'gates.yaml'), 'utf8');
    const claim = /significantly worse than production by more than ([0-9.]+)\s*#?\s*\(one-sided, Holm-adjusted over the critical\s*#?\s*slices, alpha ([0-9.]+)/.exec(comment.replace(/\n# /g, ' '));
    expect(claim, 'gates.yaml states the critical-slice rule').not.toBeNull();
    expect(critical).toMatchObject({ slices: 'critical', decide_on: 'regression', alpha: Number(claim![2]) });
    expect(-critical.baseline!.plus).toBeCloseTo(Number(claim![1]), 12);
    expect(stats.margin).toBeCloseTo(-critical.baseline!.plus, 12);
    const nonInferior = recipe.gates.find((g) => g.id === 'overall-ap-non-inferior')!;
    expect(nonInferior).toMatchObject({ decide_on: 'lower', slices: ['all'] });
    expect(nonInferior.baseline!.plus).toBeLessThan(0);
  });

  it("the world's slices file claims nothing the gates do not do", () => {
    // slices.yaml marks critical slices; the critical-slice rule is the gate's (Holm within them), not the file's.
    const slices = parse(readFileSync(join(ROOT, 'fixtures', 'world', 'slices.yaml'), 'utf8')) as { slices: { id: string; critical?: boolean }[] };
    expect(slices.slices.filter((s) => s.critical).map((s) => s.id)).toContain('night+rain+pedestrian');
    expect(readFileSync(join(ROOT, 'fixtures', 'world', 'slices.yaml'), 'utf8')).not.toMatch(/Holm-adjusted regression gate/);
  });
});
