/**
 * The Sim Gate through paddock's one gate mechanism, headless: a recipe whose sim-gate step judges
 * a hand-made sim_report.json (two CCRs runs of the candidate, no collision; nothing of CBLA, so a
 * CBLA criterion is undecidable: review) and whose recipe gate sim-signoff on sim_gate.passed
 * (on_fail: review, approval: required) is answered by --gate-policy approve and reject, the
 * answer recorded in the run store as every gate's is. A fail verdict stops the run at the step.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paddock } from '../helpers/cli.js';
import { MODEL_V1, tempDir } from '../helpers/fixtures.js';
import { RunStore } from '../../src/store/run-store.js';

const run = (key: string, collision: boolean) => ({
  runId: `candidate-${key}`, pairKey: key, scenario: 'ccrs', category: 'ccrs', file: '/x/ccrs.xosc', paramIndex: 0, parameters: {}, seed: Number(key.slice(-1)),
  conditions: { weather: 'clear', timeOfDay: 'day', region: 'north', density: 0 }, model: 'candidate', ended: collision ? 'collision' : 'duration', steps: 60, distanceKm: 0.05,
  collision: collision ? { t: 3, actor: 'target', actorCls: 'car', relativeSpeed: 4, egoSpeed: 4 } : null,
  offroadIncidents: 0, speedingS: 0, laneDepartures: 0, stopLines: 0, ttcMin: 2, vruNearMisses: 0, firstBrakeT: 1, firstBrakeDistance: 10, firstBrakeTtc: 1.5,
  peakJerk: 5, rmsJerk: 1, peakDecel: 6, peakAccel: 1, rmsAccel: 1, aeb: 'full', types: collision ? ['collision'] : [], severityScore: 0,
});

function recipe(dir: string, criteria: unknown[]): string {
  writeFileSync(join(dir, 'sim_report.json'), JSON.stringify({
    format: 'paddock.sim-report/1', candidate: 'candidate', baseline: null, level: 0.95, thresholds: {}, sweep: { runs: 2, scenarios: 1, seeds: 2 },
    runs: [run('ccrs0', false), run('ccrs1', false)], aggregates: [], paired: [], offline: null, files: {},
  }));
  const file = join(dir, 'paddock.yaml');
  writeFileSync(file, `version: 1
name: sim-signoff
models:
  candidate:
    version: 1.0.0
    onnx: { path: ${JSON.stringify(MODEL_V1)} }
    lineage: { dataset: placeholder }
stages:
  replay:
    - id: sim-gate
      uses: sim-gate
      with: { report: sim_report.json, out: build/sim-gate, criteria: ${JSON.stringify(criteria)} }
gates:
  - { id: sim-signoff, stage: replay, metric: sim_gate.passed, target: candidate, op: ">=", threshold: 1, on_fail: review, approval: required }
`);
  return file;
}

describe('the Sim Gate signed off by a recipe gate', () => {
  it.each([
    ['pass', 'approve', 0, 'approved'],
    ['review', 'approve', 0, 'approved'],
    ['review', 'reject', 1, 'rejected'],
  ] as const)('a %s verdict with --gate-policy %s exits %i, the answer recorded for sim-signoff', async (verdict, policy, code, decision) => {
    const { dir, cleanup } = tempDir();
    try {
      const criteria = [{ category: 'ccr*', max_collisions: 0 }, ...(verdict === 'review' ? [{ category: 'cbla', max_collisions: 0 }] : [])];
      const r = await paddock(['run', recipe(dir, criteria), '--gate-policy', policy], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode, r.stdout + r.stderr).toBe(code);
      const store = new RunStore(join(dir, 'home'), { readonly: true });
      try {
        const id = store.listRuns()[0].id;
        // The step's verdict is a finding (gate sim); the gate's is sim-signoff's own: review (approval required, or sim_gate.passed 0).
        expect(store.stepVerdicts(id).map((v) => [v.gate, v.verdict])).toEqual([['sim', verdict]]);
        expect(store.currentVerdicts(id).map((v) => [v.gate, v.verdict])).toEqual([['sim-signoff', 'review']]);
        expect(store.approvals(id).map((a) => [a.gate, a.decision])).toEqual([['sim-signoff', decision]]);
        const m = new Map(store.currentMetrics(id).map((x) => [x.name, x.value]));
        expect([m.get('sim_gate.passed'), m.get('sim_gate.review')]).toEqual(verdict === 'pass' ? [1, 0] : [0, 1]);
      } finally {
        store.close();
      }
    } finally {
      cleanup();
    }
  });

  it('a fail verdict (TTC min p5 2 s < 5 s) fails the sim-gate step; the gate is never asked', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await paddock(['run', recipe(dir, [{ category: '*', max_collisions: 0 }, { category: '*', min_ttc_p5: 5 }]), '--gate-policy', 'approve'], { PADDOCK_HOME: join(dir, 'home') });
      // A failed step is exit 2 (a failed or rejected gate is 1): the run stops at the step.
      expect(r.exitCode, r.stdout + r.stderr).toBe(2);
      expect(r.stdout + r.stderr).toContain('sim gate fails: 1 of 2 checks failed (ccrs min_ttc_p5)');
      expect(r.stdout).toContain('gate:sim-signoff skipped: not run: sim-gate did not succeed');
      const store = new RunStore(join(dir, 'home'), { readonly: true });
      try {
        expect(store.approvals(store.listRuns()[0].id)).toEqual([]);
      } finally {
        store.close();
      }
    } finally {
      cleanup();
    }
  });
});
