/**
 * The evaluate stage end to end through the real binary, on a tiny world and the committed
 * world models: world-build, check-data, evaluate with slices and a baseline, gates over the
 * slices, JUnit output. The tiny world (6 scenes, 18 frames) is below the default minimum of
 * 10 scenes with objects for every slice: the first run lowers it (statistics) so intervals and
 * tests are computed; a second run on the same world keeps the defaults and every slice is
 * "insufficient data", so a gate on the critical slices goes to review.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { paddock } from '../helpers/cli.js';
import { FIXTURES, tempDir } from '../helpers/fixtures.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { EvalReport } from '../../src/schema/eval-report.js';
import { derivedSeed } from '../../src/metrics/inference.js';

describe('evaluate stage', () => {
  it('streams slice metrics, ranks lost objects, writes the reports, and decides gates', async () => {
    const { dir, cleanup } = tempDir('paddock-eval-');
    try {
      const models = join(FIXTURES, 'world', 'models');
      const recipe = join(dir, 'p.yaml');
      writeFileSync(
        recipe,
        `version: 1
name: eval
stages:
  evaluate:
    - { id: world, uses: world-build, with: { out: world, size: tiny } }
    - id: check-data
      uses: check-data
      needs: [world]
      with: { splits: [{ name: golden_train, manifest: world/manifests/golden_train.jsonl }, { name: golden_val, manifest: world/manifests/golden_val.jsonl }, { name: golden_test, manifest: world/manifests/golden_test.jsonl }], min_gap_days: 7, disjoint_cities: true }
    - id: evaluate
      uses: evaluate
      needs: [check-data]
      with: { candidate: { name: candidate, model: ${JSON.stringify(join(models, 'candidate'))} }, baseline: { name: production, model: ${JSON.stringify(join(models, 'production'))} }, manifest: world/manifests/golden_train.jsonl, slices: ${JSON.stringify(join(FIXTURES, 'world', 'slices.yaml'))}, replicates: 200, statistics: { method: bca, min_scenes: 2, min_effective_scenes: 1, min_objects: 1 }, out: reports }
gates:
  - { id: measured, stage: evaluate, metric: coco.AP, target: candidate, op: ">=", threshold: 0 }
  - { id: every-slice-vs-production, stage: evaluate, metric: coco.AP, target: candidate, slices: [all, day, car], op: ">=", baseline: { target: production, times: 0 } }
`,
      );
      const junit = join(dir, 'gates.xml');
      const r = await paddock(['run', recipe, '--json', '--junit', junit], { PADDOCK_HOME: join(dir, 'home') });
      const events = r.stdout.trim().split('\n').map((l) => PaddockEvent.parse(JSON.parse(l)));
      expect(r.exitCode, r.stderr + events.filter((e) => e.type === 'log' && e.level === 'error').map((e) => (e.type === 'log' ? e.message : '')).join('\n')).toBe(0);
      const metric = (name: string, slice?: string, target = 'candidate') => events.find((e) => e.type === 'metric' && e.name === name && e.slice === slice && e.target === target);
      // Overall numbers for both models, with denominators.
      for (const t of ['candidate', 'production']) expect(metric('coco.AP', undefined, t)).toBeDefined();
      // Slices stream: each slice's metrics come before the reports are written.
      const all = metric('coco.AP', 'all');
      expect(all && all.type === 'metric' && all.ci && all.denominators).toMatchObject({ frames: 18 });
      const firstSlice = events.findIndex((e) => e.type === 'metric' && e.name === 'coco.AP' && e.slice === 'all');
      const report = events.findIndex((e) => e.type === 'artifact' && e.role === 'eval-report');
      expect(firstSlice).toBeGreaterThan(-1);
      expect(firstSlice).toBeLessThan(report);
      expect(metric('coco.AP.delta', 'all')).toBeDefined();
      // How each slice was computed: its own seed (derived from the run's seed 1 and its id), in the interval's method text.
      const allSeed = derivedSeed(1, 'all');
      expect(all && all.type === 'metric' && all.ci?.method).toBe(`BCa scene bootstrap, ${all && all.type === 'metric' ? all.denominators?.replicates : '?'} replicates, seed ${allSeed}`);
      // The one-sided bounds the gates decide on, at the step's alpha.
      const lower = metric('coco.AP.delta.lower', 'all');
      expect(lower && lower.type === 'metric' && lower.unit).toBe('alpha=0.05');
      const upper = metric('coco.AP.delta.upper', 'all');
      expect(upper && upper.type === 'metric' && lower && lower.type === 'metric' && lower.value <= upper.value).toBe(true);
      expect(metric('coco.AP.delta_p', 'all')).toMatchObject({ unit: expect.stringMatching(/^margin=0 resolution=[01]$/) });
      expect(metric('coco.AP.delta_p_adjusted', 'all')).toMatchObject({ unit: 'benjamini-hochberg' });
      // Every slice says whether it is too small, with the minimum it was held to.
      const insufficient = events.filter((e) => e.type === 'metric' && e.name === 'slice.insufficient' && e.target === 'candidate');
      const critical = events.filter((e) => e.type === 'metric' && e.name === 'slice.critical' && e.target === 'candidate');
      expect(insufficient.length).toBe(critical.length);
      expect(insufficient.length).toBeGreaterThan(10);
      for (const e of insufficient) expect(e.type === 'metric' && e.denominators).toMatchObject({ min_scenes: 2, min_objects: 1, scenes_with_objects: expect.any(Number), effective_scenes: expect.any(Number) });
      expect(metric('slice.insufficient', 'all')).toMatchObject({ value: 0 });
      // Lost objects, in order of the baseline's confidence.
      const lost = events.filter((e) => e.type === 'failure' && e.kind === 'lost-object').map((e) => (e.type === 'failure' ? (e.data.baseline_score as number) : 0));
      expect([...lost].sort((a, b) => b - a)).toEqual(lost);
      // Reports on disk.
      for (const f of ['eval_report.json', 'slice_metrics.parquet', 'evaluation_summary.md', 'pr_curves.json', 'pr_curves.svg', 'slice_deltas.svg', 'outcomes.jsonl']) expect(existsSync(join(dir, 'reports', f)), f).toBe(true);
      const rep = EvalReport.parse(JSON.parse(readFileSync(join(dir, 'reports', 'eval_report.json'), 'utf8')));
      expect(rep.version).toBe(1);
      expect(rep.slices.length).toBeGreaterThan(10);
      expect(rep.bootstrap).toMatchObject({ method: 'bca', alpha: 0.05, margin: 0, min_scenes: 2, min_effective_scenes: 1, min_objects: 1, seed: 1 });
      // Each slice's seed is its own: derived from the run's seed and its id, different across slices.
      for (const s of rep.slices) expect(s.seed, s.slice).toBe(derivedSeed(1, s.slice));
      expect(new Set(rep.slices.map((s) => s.seed)).size).toBe(rep.slices.length);
      // Denominators in the units that drive the variance: scenes with objects and their Kish effective number.
      const repAll = rep.slices.find((s) => s.slice === 'all')!;
      expect(repAll.denominators).toMatchObject({ scenes: 6, frames: 18 });
      expect(repAll.denominators.scenes_with_objects).toBeGreaterThanOrEqual(2);
      expect(repAll.denominators.scenes_with_objects).toBeLessThanOrEqual(6);
      expect(repAll.denominators.effective_scenes).toBeGreaterThanOrEqual(1);
      expect(repAll.denominators.effective_scenes).toBeLessThanOrEqual(repAll.denominators.scenes_with_objects!);
      expect(repAll.ap?.method).toBe('bca');
      expect(repAll.delta).toMatchObject({ alpha: 0.05, margin: 0, adjustment: 'benjamini-hochberg' });
      expect(repAll.delta!.lower).toBeLessThanOrEqual(repAll.delta!.estimate);
      expect(repAll.delta!.upper).toBeGreaterThanOrEqual(repAll.delta!.estimate);
      expect(readFileSync(join(dir, 'reports', 'evaluation_summary.md'), 'utf8')).toMatch(/## What improved[\s\S]*## What regressed[\s\S]*## Next actions/);
      // Gates decided, and written as JUnit.
      const verdicts = events.filter((e) => e.type === 'verdict').map((e) => (e.type === 'verdict' ? [e.gate, e.verdict] : []));
      expect(verdicts).toEqual([
        ['measured', 'pass'],
        ['every-slice-vs-production', 'pass'],
      ]);
      const xml = execFileSync('/usr/bin/python3', ['-c', 'import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); print(r.get("tests"), r.get("failures"))', junit], { encoding: 'utf8' });
      // The 2 gates and the run's 3 steps (JUnit lists steps too, so that a skipped one shows as skipped).
      expect(xml.trim()).toBe('5 0');

      // The same world with the default statistics (at least 10 scenes with objects): every slice is too small.
      const recipe2 = join(dir, 'p2.yaml');
      writeFileSync(
        recipe2,
        `version: 1
name: eval-defaults
stages:
  evaluate:
    - id: evaluate
      uses: evaluate
      with: { candidate: { name: candidate, model: ${JSON.stringify(join(models, 'candidate'))} }, baseline: { name: production, model: ${JSON.stringify(join(models, 'production'))} }, manifest: world/manifests/golden_train.jsonl, slices: ${JSON.stringify(join(FIXTURES, 'world', 'slices.yaml'))}, out: reports-default }
gates:
  - { id: critical-slices, stage: evaluate, metric: coco.AP, target: candidate, slices: critical, op: ">=", threshold: 0 }
`,
      );
      const r2 = await paddock(['run', recipe2, '--json', '--gate-policy', 'fail'], { PADDOCK_HOME: join(dir, 'home') });
      const events2 = r2.stdout.trim().split('\n').map((l) => PaddockEvent.parse(JSON.parse(l)));
      // Headless with --gate-policy fail: a gate that needs a person fails the run (exit 1), its verdict is review.
      expect(r2.exitCode, r2.stderr).toBe(1);
      const verdicts2 = events2.filter((e) => e.type === 'verdict');
      expect(verdicts2.map((e) => (e.type === 'verdict' ? [e.gate, e.verdict] : []))).toEqual([['critical-slices', 'review']]);
      const why = verdicts2[0].type === 'verdict' ? verdicts2[0].rationale.join('\n') : '';
      expect(why).toMatch(/insufficient data: a person must decide/);
      expect(why).toMatch(/next action: collect at least \d+ more scenes with objects of slice night/);
      expect(why).not.toMatch(/meets >=/);
      const rep2 = EvalReport.parse(JSON.parse(readFileSync(join(dir, 'reports-default', 'eval_report.json'), 'utf8')));
      expect(rep2.bootstrap).toMatchObject({ min_scenes: 10, min_objects: 10 });
      const measured = rep2.slices.filter((s) => s.denominators.objects > 0);
      expect(measured.length).toBeGreaterThan(5);
      for (const s of measured) {
        expect(s.insufficient, s.slice).toBe(true);
        expect(s.note, s.slice).toMatch(/^insufficient data: \d+ scene\(s\) with objects \(minimum 10\)/);
        // The point AP is still reported; no interval, no test.
        expect(s.apPoint, s.slice).toEqual(expect.any(Number));
        expect(s.ap, s.slice).toBeUndefined();
        expect(s.delta, s.slice).toBeUndefined();
      }
      // Every slice is insufficient here: the measured ones by their size, the others for having no objects at all.
      const small = events2.filter((e) => e.type === 'metric' && e.name === 'slice.insufficient' && e.value === 1);
      expect(small.length).toBe(rep2.slices.length);
      for (const s of rep2.slices.filter((x) => x.denominators.objects === 0)) expect(s.note, s.slice).toMatch(/^no (objects|frames) in this slice$/);
      expect(events2.some((e) => e.type === 'metric' && e.name.startsWith('coco.AP.delta'))).toBe(false);
    } finally {
      cleanup();
    }
  });
});
