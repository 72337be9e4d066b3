/**
 * The evaluate stage end to end through the real binary, on a tiny world and the committed
 * world models: world-build, check-data, evaluate with slices and a baseline, gates over the
 * slices, JUnit output.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { paddock } from '../helpers/cli.js';
import { FIXTURES, tempDir } from '../helpers/fixtures.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { EvalReport } from '../../src/schema/eval-report.js';

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
      with: { candidate: { name: candidate, model: ${JSON.stringify(join(models, 'candidate'))} }, baseline: { name: production, model: ${JSON.stringify(join(models, 'production'))} }, manifest: world/manifests/golden_train.jsonl, slices: ${JSON.stringify(join(FIXTURES, 'world', 'slices.yaml'))}, replicates: 200, out: reports }
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
      // Lost objects, in order of the baseline's confidence.
      const lost = events.filter((e) => e.type === 'failure' && e.kind === 'lost-object').map((e) => (e.type === 'failure' ? (e.data.baseline_score as number) : 0));
      expect([...lost].sort((a, b) => b - a)).toEqual(lost);
      // Reports on disk.
      for (const f of ['eval_report.json', 'slice_metrics.parquet', 'evaluation_summary.md', 'pr_curves.json', 'pr_curves.svg', 'slice_deltas.svg', 'outcomes.jsonl']) expect(existsSync(join(dir, 'reports', f)), f).toBe(true);
      const rep = EvalReport.parse(JSON.parse(readFileSync(join(dir, 'reports', 'eval_report.json'), 'utf8')));
      expect(rep.version).toBe(1);
      expect(rep.slices.length).toBeGreaterThan(10);
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
    } finally {
      cleanup();
    }
  });
});
