/**
 * The `sim` and `sim-gate` steps end to end as their processes run (dist/step.js built into a
 * temporary folder, so the sweep's shards start the same bundle's `sim-shard`): a small real
 * sweep (CCRs and CPNC from fixtures/sim/ncap, their first parameter set, 2 seeds, the candidate
 * and production models from fixtures/world/models driving), its events, its files, the
 * Simulation section appended to an evaluation summary, and the Sim Gate judging the report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PaddockEvent } from '../../src/schema/events.js';
import { SimFailureData, SimHeatmap, SimReport } from '../../src/schema/sim-report.js';
import { SimParams } from '../../src/steps/sim/sim.step.js';
import { STAT_NAMES } from '../../src/schema/coco-stats.js';
import { EntrySourceError, entryFromReports } from '../../src/registry/entry-from-reports.js';
import { simRequirement } from '../../src/registry/policy.js';
import { simGateForProduction } from '../../src/steps/promote/promote.step.js';
import { RegistryEntryBody } from '../../src/schema/registry.js';
import { GovernancePolicy } from '../../src/schema/registry-policy.js';

const ROOT = join(import.meta.dirname, '..', '..');
const NCAP = join(ROOT, 'fixtures', 'sim', 'ncap');
const MODELS = join(ROOT, 'fixtures', 'world', 'models');
let dir: string;
let stepJs: string;
let events: PaddockEvent[] = [];
let exitCode: number | null = null;
let stderr = '';

const EVALUATION = '# Evaluation: candidate against production\n\n## Next actions\n\n- review the gates\n';

function runStep(name: string, params: unknown, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [stepJs, name, JSON.stringify(params)], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { code: r.status, stderr: r.stderr, events: r.stdout.trim().split('\n').filter(Boolean).map((l) => PaddockEvent.parse(JSON.parse(l))) };
}

beforeAll(async () => {
  mkdirSync(join(ROOT, 'build'), { recursive: true });
  dir = mkdtempSync(join(ROOT, 'build', 'test-sim-step-'));
  // @ts-expect-error: a plain .mjs build script without types
  const { buildDist } = await import('../../scripts/build.mjs');
  await buildDist({ outdir: join(dir, 'dist'), entryPoints: { step: 'src/steps/step-main.ts' } });
  stepJs = join(dir, 'dist', 'step.js');
  // An evaluation's folder: a report with the slices the failures' conditions name, and its summary.
  const ev = join(dir, 'evaluation');
  mkdirSync(ev);
  const stats = Object.fromEntries(STAT_NAMES.map((s) => [s, 0.5]));
  const iv = (e: number) => ({ estimate: e, lo: e - 0.05, hi: e + 0.05, level: 0.95, replicates: 100, se: 0.02 });
  const slice = (name: string, ap: number, d: number) => ({ slice: name, critical: false, denominators: { scenes: 4, frames: 40, objects: 80 }, ap: iv(ap), baselineAp: ap - d, delta: { ...iv(d), p: 0.01, pAdjusted: 0.04, adjustment: 'holm' } });
  writeFileSync(join(ev, 'eval_report.json'), JSON.stringify({
    version: 1, dataset: { manifest: '/m.jsonl', gt: '/gt.json', frames: 40 },
    models: { candidate: { model: 'c', stats, perCategory: [] }, production: { model: 'p', stats, perCategory: [] } },
    candidate: 'candidate', baseline: 'production', bootstrap: { unit: 'scene', replicates: 100, seed: 1, level: 0.95 },
    slices: [slice('all', 0.5, 0), slice('day', 0.52, 0.01), slice('night', 0.4, -0.05), slice('pedestrian', 0.35, -0.08), slice('car', 0.55, 0.02), slice('region-north', 0.5, -0.01)],
    outcomes: { missed: 0, lost: 0, falsePositivesOver03: 0 },
  }));
  writeFileSync(join(ev, 'evaluation_summary.md'), EVALUATION);
  const params = SimParams.parse({
    scenarios: [
      { file: join(NCAP, 'ccrs.xosc'), distribution: join(NCAP, 'ccrs_variation.xosc'), max_sets: 1 },
      { file: join(NCAP, 'cpnc.xosc'), distribution: join(NCAP, 'cpnc_variation.xosc'), max_sets: 1 },
    ],
    seeds: 2,
    models: [
      { name: 'candidate', model: join(MODELS, 'candidate') },
      { name: 'production', model: join(MODELS, 'production') },
    ],
    lockstep: 2,
    evaluate: ev,
    out: join(dir, 'sim'),
  });
  const r = runStep('sim', params);
  exitCode = r.code;
  stderr = r.stderr;
  events = r.events;
}, 590_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const metric = (name: string, target: string, slice?: string) => events.find((e) => e.type === 'metric' && e.name === name && e.target === target && e.slice === slice) as Extract<PaddockEvent, { type: 'metric' }> | undefined;

describe('sim step', () => {
  it('runs the sweep (2 scenarios x 1 set x 2 seeds x 2 models) and reports per category and model', () => {
    expect(exitCode, stderr).toBe(0);
    const report = SimReport.parse(JSON.parse(readFileSync(join(dir, 'sim', 'sim_report.json'), 'utf8')));
    expect(report.runs).toHaveLength(8);
    expect(report.sweep.runs).toBe(8);
    expect(new Set(report.runs.map((r) => r.category))).toEqual(new Set(['ccrs', 'cpnc']));
    // Every candidate run has its production twin (same pair key).
    const keys = (m: string) => report.runs.filter((r) => r.model === m).map((r) => r.pairKey).sort();
    expect(keys('candidate')).toEqual(keys('production'));
    for (const m of ['candidate', 'production']) {
      const overall = report.aggregates.find((a) => a.scope === 'overall' && a.model === m)!;
      expect(overall.runs).toBe(4);
      expect(metric('sim.runs', m)!.value).toBe(4);
      expect(metric('sim.collisions', m)!.value).toBe(overall.collisions);
      expect(metric('sim.collisions', m, 'category=ccrs')!.value).toBe(report.runs.filter((r) => r.model === m && r.category === 'ccrs' && r.collision).length);
      expect(metric('sim.collision_rate', m, 'category=cpnc')!.ci).toBeDefined();
      expect(metric('sim.vru_near_misses', m, 'category=cpnc')).toBeDefined();
      expect(metric('sim.collisions_per_1000km', m)!.value).toBeCloseTo((1000 * overall.collisions) / overall.km, 6);
    }
    // Paired: the candidate against production on the same runs.
    const pc = report.paired.find((p) => p.scope === 'overall' && p.metric === 'collision')!;
    expect(pc.n).toBe(4);
    expect(metric('sim.collisions.delta', 'candidate')!.value).toBeCloseTo(pc.meanDelta!, 6);
    // The figures the loop measured are in the rows: each run drove, and braked or collided.
    for (const r of report.runs) {
      expect(r.distanceKm).toBeGreaterThan(0);
      expect(r.steps).toBeGreaterThan(10);
    }
    console.log(report.runs.map((r) => `${r.model} ${r.scenario} seed ${r.seed}: ${r.types.join(',') || 'ok'}, first brake ${r.firstBrakeT ?? '-'} s, TTC@brake ${r.firstBrakeTtc ?? '-'} s, ttc min ${r.ttcMin ?? '-'}`).join('\n'));
  });

  it('writes the parquet, per-scenario JSON and CSV, the heat map (JSON, SVG, PNG) and a clip per failed run', async () => {
    const out = join(dir, 'sim');
    const report = SimReport.parse(JSON.parse(readFileSync(join(out, 'sim_report.json'), 'utf8')));
    const { parquetReadObjects } = await import('hyparquet');
    const bytes = readFileSync(join(out, 'sim_summary.parquet'));
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
    expect(rows.map((r) => r.run_id).sort()).toEqual(report.runs.map((r) => r.runId).sort());
    for (const s of ['ccrs', 'cpnc']) {
      const name = report.runs.find((r) => r.category === s)!.scenario;
      const file = join(out, report.files[`scenario:${name}`]);
      expect(JSON.parse(readFileSync(file, 'utf8')).runs).toHaveLength(4);
      expect(readFileSync(file.replace(/\.json$/, '.csv'), 'utf8').trim().split('\r\n')).toHaveLength(5);
    }
    const heat = SimHeatmap.parse(JSON.parse(readFileSync(join(out, 'sim_heatmap.json'), 'utf8')));
    expect(heat.scenarios).toHaveLength(2);
    expect(heat.scenarios.flatMap((s) => s.cells).reduce((a, c) => a + c.runs, 0)).toBe(8);
    expect(heat.scenarios.flatMap((s) => s.cells).reduce((a, c) => a + c.failed, 0)).toBe(report.runs.filter((r) => r.types.length).length);
    expect(readFileSync(join(out, 'heatmap.svg'), 'utf8')).toMatch(/^<svg /);
    expect(readFileSync(join(out, 'heatmap.png')).subarray(1, 4).toString()).toBe('PNG');
    // Failures: one event per failed run of the candidate, its clip a GIF on disk.
    const failed = report.runs.filter((r) => r.model === 'candidate' && r.types.length);
    const failures = events.filter((e) => e.type === 'failure') as Extract<PaddockEvent, { type: 'failure' }>[];
    expect(failures).toHaveLength(failed.length);
    for (const f of failures) {
      const data = SimFailureData.parse(f.data);
      expect(f.kind).toMatch(/^sim\.(collision|vru-near-miss|offroad|violation)$/);
      expect(data.baseline?.model).toBe('production');
      expect(readFileSync(join(out, data.clip!)).subarray(0, 6).toString()).toBe('GIF89a');
      expect(existsSync(join(out, data.trace!))).toBe(true);
    }
    for (const r of report.runs.filter((x) => x.types.length)) expect(r.clip).toBeDefined();
    expect(events.some((e) => e.type === 'artifact' && e.role === 'sim-heatmap')).toBe(true);
  });

  it('appends the Simulation section to the evaluation summary, keeping the evaluation\'s text', () => {
    const md = readFileSync(join(dir, 'evaluation', 'evaluation_summary.md'), 'utf8');
    expect(md.startsWith(EVALUATION)).toBe(true);
    expect(md).toContain('## Simulation');
    expect(md).toContain('### Which offline slice numbers predicted the sim failures');
    const report = SimReport.parse(JSON.parse(readFileSync(join(dir, 'sim', 'sim_report.json'), 'utf8')));
    expect(report.offline!.links).toHaveLength(report.runs.filter((r) => r.model === 'candidate' && r.types.length).length);
  });
});

describe('sim-gate step', () => {
  const gate = (criteria: unknown[], out: string) => runStep('sim-gate', { criteria, report: join(dir, 'sim'), out: join(dir, out) });
  const metric = (events: PaddockEvent[], name: string) => (events.find((e) => e.type === 'metric' && e.name === name) as Extract<PaddockEvent, { type: 'metric' }> | undefined)?.value;

  it('a pass: the verdict for gate sim with the numbers, sim_gate.json, sim_gate.passed 1; it asks nobody (a recipe gate does)', () => {
    const r = gate([{ category: '*', max_collisions: 1000 }], 'gate-ok');
    expect(r.code, r.stderr).toBe(0);
    const v = r.events.find((e) => e.type === 'verdict') as Extract<PaddockEvent, { type: 'verdict' }>;
    expect(v).toMatchObject({ gate: 'sim', verdict: 'pass' });
    expect(v.rationale[0]).toBe('sim gate passes: all 2 checks passed');
    expect(v.rationale.some((l) => /^ccrs \(candidate\): collisions \d+ <= 1000 over 2 runs: pass$/.test(l))).toBe(true);
    expect([metric(r.events, 'sim_gate.passed'), metric(r.events, 'sim_gate.review'), metric(r.events, 'sim_gate.failed_checks'), metric(r.events, 'sim_gate.review_checks')]).toEqual([1, 0, 0, 0]);
    const rec = JSON.parse(readFileSync(join(dir, 'gate-ok', 'sim_gate.json'), 'utf8'));
    expect(rec).toMatchObject({ format: 'paddock.sim-gate/1', verdict: 'pass', final: 'pass', approval: { required: false, decision: null } });
  });

  it('a review (a category with no runs: insufficient data) exits 0 with sim_gate.passed 0 and sim_gate.review 1, and no failure', () => {
    const r = gate([{ category: '*', max_collisions: 1000 }, { category: 'cbla', max_collisions: 0 }], 'gate-review');
    expect(r.code, r.stderr).toBe(0);
    const v = r.events.find((e) => e.type === 'verdict') as Extract<PaddockEvent, { type: 'verdict' }>;
    expect(v).toMatchObject({ gate: 'sim', verdict: 'review' });
    expect(v.rationale[0]).toBe('sim gate needs review: 1 of 3 checks could not be decided (cbla runs)');
    expect([metric(r.events, 'sim_gate.passed'), metric(r.events, 'sim_gate.review'), metric(r.events, 'sim_gate.failed_checks'), metric(r.events, 'sim_gate.review_checks')]).toEqual([0, 1, 0, 1]);
    expect(r.events.some((e) => e.type === 'failure')).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'gate-review', 'sim_gate.json'), 'utf8'))).toMatchObject({ verdict: 'review', final: 'fail', approval: { required: true, decision: null } });
    // The step's own approval and its wait are gone: the recipe gate on sim_gate.passed asks.
    expect(runStep('sim-gate', { criteria: [{ category: '*', max_collisions: 0 }], approval: 'required', report: join(dir, 'sim'), out: join(dir, 'x') }).code).not.toBe(0);
  });

  it('fails when a category has more collisions than allowed', () => {
    const report = SimReport.parse(JSON.parse(readFileSync(join(dir, 'sim', 'sim_report.json'), 'utf8')));
    const worst = Math.max(...['ccrs', 'cpnc'].map((c) => report.runs.filter((r) => r.model === 'candidate' && r.category === c).reduce((a, r) => a + r.vruNearMisses + (r.collision ? 1 : 0), 0)));
    // max_collisions -1 is refused by the schema; a bound of 0 on the sum fails where anything happened, else use min_ttc_p5 beyond any run's.
    const r = worst > 0 ? gate([{ category: '*', max_collisions: 0, max_vru_near_misses: 0 }], 'gate-fail') : gate([{ category: '*', min_ttc_p5: 1e6 }], 'gate-fail');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sim gate fails:');
    expect(metric(r.events, 'sim_gate.passed')).toBe(0);
    expect(metric(r.events, 'sim_gate.review')).toBe(0);
    const v = r.events.find((e) => e.type === 'verdict') as Extract<PaddockEvent, { type: 'verdict' }>;
    expect(v.verdict).toBe('fail');
    expect(r.events.some((e) => e.type === 'failure' && e.kind === 'sim.gate')).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'gate-fail', 'sim_gate.json'), 'utf8')).final).toBe('fail');
  });
});


describe('the Sim Gate on the registry entry', () => {
  it('register\'s sources give summary.sim (the candidate\'s figures) and summary.sim_gate; a policy with require_sim needs it passed', () => {
    const pack = join(dir, 'pack');
    mkdirSync(pack);
    cpSync(join(MODELS, 'candidate', 'model.onnx'), join(pack, 'model.onnx'));
    const signed = runStep('sign', { pack, model: 'world-detector', version: '1.0.0', key: { file: join(dir, 'keys', 'publisher.pem'), generate: true }, lineage: { commit: '0123456789abcdef0123456789abcdef01234567', dataset: 'golden-v1' } });
    expect(signed.code, signed.stderr).toBe(0);
    const simReport = join(dir, 'sim', 'sim_report.json');
    const report = SimReport.parse(JSON.parse(readFileSync(simReport, 'utf8')));
    const overall = report.aggregates.find((a) => a.scope === 'overall' && a.model === 'candidate')!;
    const body = entryFromReports({ pack, simReport, simGate: join(dir, 'gate-ok', 'sim_gate.json'), runs: { sim: 'r-sim' } });
    expect(RegistryEntryBody.parse(body)).toEqual(body);
    expect(body.runs.sim).toBe('r-sim');
    expect(body.summary.sim).toMatchObject({ runs: 4, collisions: overall.collisions, vru_near_misses: overall.vruNearMisses });
    expect(body.summary.sim_gate).toMatchObject({ verdict: 'pass', final: 'pass', approval: null, candidate: 'candidate', baseline: 'production' });
    expect(Object.keys(body.summary.sim_gate!.categories).sort()).toEqual(['ccrs', 'cpnc']);
    const policy = (require_sim?: boolean) => ({ governance: GovernancePolicy.parse(require_sim === undefined ? {} : { require_sim }) });
    expect(simRequirement(policy(true), { version: '1.0.0', body }).ok).toBe(true);
    const failedBody = entryFromReports({ pack, simReport, simGate: join(dir, 'gate-fail', 'sim_gate.json') });
    const refused = simRequirement(policy(true), { version: '1.0.0', body: failedBody });
    expect(refused.ok).toBe(false);
    expect(refused.detail).toContain("the policy requires the Sim Gate to have passed, and 1.0.0's failed: sim gate fails");
    expect(simRequirement(policy(), { version: '1.0.0', body: failedBody }).ok).toBe(true);
    const noGate = entryFromReports({ pack, simReport });
    expect(noGate.absent['summary.sim_gate']).toContain('no sim_gate.json');
    expect(simRequirement(policy(true), { version: '1.0.0', body: noGate }).ok).toBe(false);
    // A review: the person's answer is the recipe gate's (sim-signoff), from the run store's gate records.
    const reviewBody = entryFromReports({ pack, simReport, simGate: join(dir, 'gate-review', 'sim_gate.json'), runs: { sim: 'r-sim' } });
    expect(reviewBody.summary.sim_gate).toMatchObject({ verdict: 'review', final: 'fail', approval: null });
    const entry = { version: '1.0.0', body: reviewBody };
    const review = { gate: 'sim-signoff', verdict: 'review' as const, rationale: '["sim_gate.passed (target candidate) = 0 does not meet >= 1"]' };
    const records = (decision?: 'approved' | 'rejected') => ({ verdicts: [review], approvals: decision ? [{ gate: 'sim-signoff', decision, actor: 'alice@example.com', reason: decision === 'rejected' ? 'cbla was never run' : null }] : [] });
    const approved = simGateForProduction(policy(true), entry, ['sim-signoff'], records('approved'), 'r-sim', simRequirement);
    expect(approved).toEqual({ ok: true, detail: 'sim gate passed (approved by alice@example.com): sim gate needs review: 1 of 3 checks could not be decided (cbla runs)' });
    const rejected = simGateForProduction(policy(true), entry, ['sim-signoff'], records('rejected'), 'r-sim', simRequirement);
    expect(rejected.ok).toBe(false);
    expect(rejected.detail).toBe("the policy requires the Sim Gate to have passed, and 1.0.0's was rejected by alice@example.com: sim gate needs review: 1 of 3 checks could not be decided (cbla runs); missing: sim-signoff: rejected by alice@example.com (cbla was never run)");
    expect(simGateForProduction(policy(true), entry, ['sim-signoff'], records(), 'r-sim', simRequirement).detail).toContain('missing: sim-signoff: review not answered in run r-sim');
    expect(simGateForProduction(policy(true), entry, ['sim-signoff'], { verdicts: [], approvals: [] }, 'r-sim', simRequirement).detail).toContain('missing: no answer in run r-sim from the recipe gate sim-signoff (not run)');
    expect(simGateForProduction(policy(true), entry, [], { verdicts: [], approvals: [] }, 'r-sim', simRequirement).detail).toContain('no recipe gate on sim_gate.passed asked a person');
    // A pass needs no answer; a failed verdict is refused whatever was answered.
    expect(simGateForProduction(policy(true), { version: '1.0.0', body }, ['sim-signoff'], { verdicts: [], approvals: [] }, 'r-sim', simRequirement).ok).toBe(true);
    expect(simGateForProduction(policy(true), { version: '1.0.0', body: failedBody }, ['sim-signoff'], records('approved'), 'r-sim', simRequirement).ok).toBe(false);
    expect(simGateForProduction(policy(), entry, ['sim-signoff'], records(), 'r-sim', simRequirement).ok).toBe(true);
    // A gate file about another report is refused, located.
    const other = join(dir, 'other_report.json');
    writeFileSync(other, JSON.stringify({ ...report, runs: report.runs.slice(1) }));
    expect(() => entryFromReports({ pack, simReport: other, simGate: join(dir, 'gate-ok', 'sim_gate.json') })).toThrow(EntrySourceError);
    expect(() => entryFromReports({ pack, simReport: other, simGate: join(dir, 'gate-ok', 'sim_gate.json') })).toThrow(/report_sha256: the gate judged another report/);
  });
});
