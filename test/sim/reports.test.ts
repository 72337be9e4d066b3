/**
 * The sim step's pure outputs on hand-made rows: aggregates with intervals checked against
 * scipy (Wilson score via binomtest's proportion_ci, t interval via scipy.stats.t), paired deltas
 * against an exact enumeration, the parquet read back by hyparquet, the CSV, the heat map's
 * counts, the PNG's size, which offline slices describe a failure, and the Simulation section
 * appended once.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { aggregateRuns, buildHeatmap, conditionTokens, heatmapPng, heatmapSvg, offlineLinks, pairedDeltas, pairKeyOf, runRecord, scenarioCsv, severityOf, simSectionMarkdown, simSummaryParquet, violationTypes, withSimSection, SUMMARY_COLUMNS } from '../../src/sim/reports.js';
import { SimHeatmap, SimReport, SimRunRecord } from '../../src/schema/sim-report.js';
import type { RunMetrics, SimRunTrace } from '../../src/schema/sim-types.js';
import type { EvalReport } from '../../src/schema/eval-report.js';

const py = (code: string) => JSON.parse(execFileSync('python3', ['-c', code], { encoding: 'utf8' }));

const metrics = (o: Partial<RunMetrics> = {}): RunMetrics => ({
  collision: null,
  distanceKm: 0.05,
  offroadIncidents: 0,
  violations: { speedingS: 0, laneDepartures: 0, stopLines: 0 },
  ttcMin: 2,
  vruNearMisses: 0,
  firstBrake: { t: 1, distance: 12 },
  comfort: { peakJerk: 5, rmsJerk: 1, peakDecel: 6, peakAccel: 1, rmsAccel: 0.5 },
  aeb: 'full',
  ...o,
});

const ego = (x: number, speed: number) => ({ name: 'ego', cls: 'car' as const, x, y: 0, heading: 0, speed, accel: 0, size: [4.5, 1.8, 1.5] as [number, number, number], vy: 0, jerk: 0, steer: 0 });

/** A two-step trace: the ego at 10 m/s, a stationary car 20.5 m ahead (box gap 20 - 4.5/2 - 4.5/2 = 16 m... see below). */
function trace(seed: number, model: string, scenario = 'ccrs', paramIndex = 0, weather: 'clear' | 'rain' = 'clear'): SimRunTrace {
  const car = { name: 'target', cls: 'car' as const, x: 20.5, y: 0, heading: 0, speed: 0, accel: 0, size: [4.5, 1.8, 1.5] as [number, number, number], vy: 0 };
  const step = (t: number, x: number) => ({ t, ego: ego(x, 10), actors: [car], mode: 'cruise' as const, command: 0, detections: 1, tracks: [], latencyMs: 1 });
  return {
    spec: { runId: `${model}-${scenario}-${paramIndex}-${seed}`, scenarioFile: `/s/${scenario}.xosc`, parameters: { EgoSpeed: 10 + paramIndex * 5 }, paramIndex, seed, conditions: { weather, timeOfDay: 'night', region: 'north', density: 0 }, model, modelDir: '/m' },
    scenario: { name: scenario, category: scenario, sha256: '0'.repeat(64) },
    road: { roadType: 'urban', lanes: 2, laneWidth: 3.5, leftEdgeY: 3.5, egoLane: 1, oncomingBelow: 0, sidewalk: 2, speedLimit: 14, stopLines: [] },
    dt: 0.1,
    steps: [step(0, 0), step(0.1, 1), step(1, 10)],
    ended: 'duration',
  };
}

describe('run rows', () => {
  it('violation types, severity, the pair key without the model, and the TTC at first braking', () => {
    const m = metrics({ collision: { t: 2, actor: 'ped', actorCls: 'pedestrian', relativeSpeed: 5, egoSpeed: 5 }, vruNearMisses: 1, violations: { speedingS: 2, laneDepartures: 0, stopLines: 1 } });
    expect(violationTypes(m)).toEqual(['collision', 'vru-near-miss', 'speeding', 'stop-line']);
    // 100 + 5 m/s * 3.6 + 50 (a VRU) + 40 + 20 + 2.
    expect(severityOf(m)).toBe(230);
    const a = runRecord(trace(0, 'candidate'), m);
    const b = runRecord(trace(0, 'production'), metrics());
    expect(a.pairKey).toBe(b.pairKey);
    expect(a.pairKey).not.toBe(runRecord(trace(1, 'candidate'), m).pairKey);
    expect(pairKeyOf(trace(0, 'x').spec)).toBe(a.pairKey);
    // At t = 1 the ego's front is at 10 + 2.25 and the car's rear at 20.5 - 2.25: 6 m at 10 m/s = 0.6 s.
    expect(a.firstBrakeTtc).toBeCloseTo(0.6, 10);
    expect(SimRunRecord.safeParse(a).success).toBe(true);
  });
});

describe('aggregates and paired deltas', () => {
  // ccrs: 6 seeds per model; the candidate collides in seeds 0 and 1, production in seed 0.
  const hit = { t: 2, actor: 'target', actorCls: 'car' as const, relativeSpeed: 4, egoSpeed: 4 };
  const jerkC = [1.2, 1.4, 0.9, 1.1, 1.6, 1.0];
  const jerkB = [1.0, 1.1, 1.0, 0.9, 1.2, 1.0];
  const rows = [0, 1, 2, 3, 4, 5].flatMap((s) => [
    runRecord(trace(s, 'candidate'), metrics({ collision: s < 2 ? hit : null, comfort: { peakJerk: 5, rmsJerk: jerkC[s], peakDecel: 6, peakAccel: 1, rmsAccel: 0.5 }, ttcMin: 0.5 + s * 0.3 })),
    runRecord(trace(s, 'production'), metrics({ collision: s < 1 ? hit : null, comfort: { peakJerk: 5, rmsJerk: jerkB[s], peakDecel: 6, peakAccel: 1, rmsAccel: 0.5 } })),
  ]);

  it('the collision rate\'s Wilson interval and the RMS jerk\'s t interval match scipy', () => {
    const agg = aggregateRuns(rows, 0.95);
    const c = agg.find((a) => a.scope === 'category' && a.key === 'ccrs' && a.model === 'candidate')!;
    expect(c.runs).toBe(6);
    expect(c.collisions).toBe(2);
    const ref = py(`
from scipy.stats import binomtest, t
import numpy as np
ci = binomtest(2, 6).proportion_ci(confidence_level=0.95, method='wilson')
x = np.array(${JSON.stringify(jerkC)})
h = t.ppf(0.975, len(x)-1) * x.std(ddof=1) / np.sqrt(len(x))
ttc = np.percentile([0.5 + s*0.3 for s in range(6)], 5)
import json; print(json.dumps([ci.low, ci.high, x.mean()-h, x.mean()+h, ttc]))`);
    expect(c.collisionRate.lo).toBeCloseTo(ref[0], 4);
    expect(c.collisionRate.hi).toBeCloseTo(ref[1], 4);
    expect(c.rmsJerk!.lo).toBeCloseTo(ref[2], 4);
    expect(c.rmsJerk!.hi).toBeCloseTo(ref[3], 4);
    expect(c.ttcMinP5).toBeCloseTo(ref[4], 4);
    // 2 collisions in 6 x 0.05 km.
    expect(c.collisionsPer1000Km).toBeCloseTo(2000 / 0.3, 2);
    expect(agg.filter((a) => a.scope === 'overall').map((a) => a.model)).toEqual(['candidate', 'production']);
  });

  it('paired: McNemar on the discordant pairs (b = 1, c = 0: p = 1) and the jerk delta\'s exact sign-flip p', () => {
    const paired = pairedDeltas(rows, 'candidate', 'production', 0.95);
    const col = paired.find((p) => p.scope === 'overall' && p.metric === 'collision')!;
    expect(col.discordant).toEqual({ b: 1, c: 0 });
    expect(col.p).toBe(1);
    const jerk = paired.find((p) => p.scope === 'overall' && p.metric === 'jerk_rms')!;
    const d = jerkC.map((x, i) => x - jerkB[i]);
    expect(jerk.meanDelta).toBeCloseTo(d.reduce((a, b) => a + b, 0) / 6, 4);
    // Exact two-sided sign-flip p: the share of the 64 sign patterns whose |sum| >= the observed |sum|.
    const ref = py(`
import itertools, json
d = ${JSON.stringify(d)}
s = abs(sum(d))
print(json.dumps(sum(1 for sg in itertools.product([1,-1], repeat=6) if abs(sum(a*b for a,b in zip(sg,d))) >= s - 1e-12) / 64))`);
    expect(jerk.p).toBeCloseTo(ref, 4);
  });

  it('sim_summary.parquet reads back with one row per run and the flattened columns; the CSV has the same', async () => {
    const { parquetReadObjects } = await import('hyparquet');
    const bytes = await simSummaryParquet(rows);
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const back = (await parquetReadObjects({ file: buf })) as Record<string, unknown>[];
    expect(back).toHaveLength(12);
    expect(Object.keys(back[0])).toEqual(SUMMARY_COLUMNS.map((c) => c.name));
    expect(back[0]).toMatchObject({ run_id: 'candidate-ccrs-0-0', model: 'candidate', collision: true, collision_actor_class: 'car', weather: 'clear', time_of_day: 'night', failed: true, types: 'collision' });
    expect(back[3].collision_actor).toBeNull(); // production, seed 1: no collision
    const csv = scenarioCsv(rows).split('\r\n');
    expect(csv[0].split(',')).toEqual(SUMMARY_COLUMNS.map((c) => c.name));
    expect(csv).toHaveLength(14);
    expect(csv[1]).toContain('"{""EgoSpeed"":10}"');
  });
});

describe('heat map', () => {
  const rows = [
    runRecord(trace(0, 'candidate', 'ccrs', 0), metrics({ collision: { t: 2, actor: 't', actorCls: 'car', relativeSpeed: 3, egoSpeed: 3 } })),
    runRecord(trace(1, 'candidate', 'ccrs', 0), metrics()),
    runRecord(trace(0, 'candidate', 'ccrs', 1), metrics({ vruNearMisses: 1, violations: { speedingS: 1, laneDepartures: 0, stopLines: 0 } })),
    runRecord(trace(0, 'production', 'ccrs', 1), metrics()),
    runRecord(trace(0, 'candidate', 'cpnc', 0), metrics()),
  ];
  it('counts runs per violation type per scenario x parameter set x model, and meets its schema', async () => {
    const h = SimHeatmap.parse(buildHeatmap(rows));
    expect(h.models).toEqual(['candidate', 'production']);
    expect(h.scenarios.map((s) => s.scenario)).toEqual(['ccrs', 'cpnc']);
    const ccrs = h.scenarios[0];
    expect(ccrs.columns).toEqual([{ paramIndex: 0, label: 'EgoSpeed=10', parameters: { EgoSpeed: 10 } }, { paramIndex: 1, label: 'EgoSpeed=15', parameters: { EgoSpeed: 15 } }]);
    expect(ccrs.cells).toEqual([
      { paramIndex: 0, model: 'candidate', runs: 2, failed: 1, byType: { collision: 1 } },
      { paramIndex: 1, model: 'candidate', runs: 1, failed: 1, byType: { 'vru-near-miss': 1, speeding: 1 } },
      { paramIndex: 1, model: 'production', runs: 1, failed: 0, byType: {} },
    ]);
    const svg = heatmapSvg(h);
    expect(svg).toContain('<title>ccrs #0 candidate collision: 1/2 runs</title>');
    const png = await heatmapPng(svg);
    const sharp = (await import('sharp')).default;
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBe(Number(/width="(\d+)"/.exec(svg)![1]));
  });
});

describe('offline slices and the Simulation section', () => {
  const interval = (estimate: number) => ({ estimate, lo: estimate - 0.05, hi: estimate + 0.05, level: 0.95, replicates: 100, se: 0.02 });
  const slice = (name: string, ap: number, delta: number | null) => ({ slice: name, critical: name.includes('pedestrian'), denominators: { scenes: 4, frames: 40, objects: 80 }, ap: interval(ap), ...(delta === null ? {} : { delta: { ...interval(delta), p: 0.01, pAdjusted: 0.04, adjustment: 'holm' as const } }) });
  const evalReport = { slices: [slice('all', 0.5, -0.01), slice('night', 0.4, -0.06), slice('rain', 0.45, -0.02), slice('night+pedestrian', 0.3, -0.1), slice('day', 0.55, 0.01), slice('car', 0.5, 0.0)] } as unknown as EvalReport;
  const ped = runRecord(trace(0, 'candidate', 'cpnc'), metrics({ collision: { t: 2, actor: 'ped', actorCls: 'pedestrian', relativeSpeed: 4, egoSpeed: 4 } }));

  it('ranks the slices that describe a failed run by the candidate\'s AP delta, worst first', () => {
    const tokens = conditionTokens(ped, 'urban');
    expect(tokens).toEqual(['all', 'clear', 'night', 'region-north', 'urban', 'pedestrian', 'vulnerable-road-users']);
    const o = offlineLinks([{ run: ped, tokens }], evalReport, '/e/eval_report.json');
    expect(o.links[0].slices.map((s) => s.slice)).toEqual(['night+pedestrian', 'night', 'all']);
    expect(o.ranking).toEqual([
      { slice: 'night+pedestrian', failures: 1, delta: -0.1, ap: 0.3 },
      { slice: 'night', failures: 1, delta: -0.06, ap: 0.4 },
    ]);
  });

  it('the section is appended to evaluation_summary.md once, the evaluation\'s text kept', () => {
    const runs = [ped, runRecord(trace(0, 'production', 'cpnc'), metrics())];
    const report = SimReport.parse({
      format: 'paddock.sim-report/1', candidate: 'candidate', baseline: 'production', level: 0.95, thresholds: {},
      sweep: { runs: 2, scenarios: 1, seeds: 1 }, runs, aggregates: aggregateRuns(runs, 0.95), paired: pairedDeltas(runs, 'candidate', 'production', 0.95),
      offline: offlineLinks([{ run: ped, tokens: conditionTokens(ped, 'urban') }], evalReport, '/e/eval_report.json'), files: {},
    });
    const section = simSectionMarkdown(report);
    expect(section).toContain('- **night+pedestrian**: AP 0.300, delta -0.100; describes 1 failed run');
    expect(section).toContain('hit pedestrian ped at 14.4 km/h');
    const evaluation = '# Evaluation: candidate against production\n\n## Next actions\n\n- review the gates\n';
    const once = withSimSection(evaluation, section);
    expect(once.startsWith(evaluation)).toBe(true);
    expect(withSimSection(once, section)).toBe(once);
    expect(once.split('## Simulation').length).toBe(2);
  });
});
