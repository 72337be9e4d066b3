/**
 * The Sim Gate's decisions on hand-made report rows, against values worked by hand: McNemar's
 * exact one-sided p for b discordant pairs and c = 0 is 2^-b; the exact sign-flip test of n
 * deltas all +1 has p = 2^-n (only the observed pattern sums as high); the relative comfort
 * regression is (mean cand - mean base) / mean base.
 */
import { describe, expect, it } from 'vitest';
import { categoryMatches, decideSimGate, SimGateCriteria } from '../../src/sim/gate.js';
import { SimRunRecord } from '../../src/schema/sim-report.js';

type Row = SimRunRecord;

function row(o: Partial<Row> & { key: string; model: string; category: string }): Row {
  return SimRunRecord.parse({
    runId: `${o.model}-${o.key}`,
    pairKey: o.key,
    scenario: o.scenario ?? `${o.category}-scene`,
    category: o.category,
    file: `/x/${o.category}.xosc`,
    paramIndex: 0,
    parameters: {},
    seed: 0,
    conditions: { weather: 'clear', timeOfDay: 'day', region: 'north', density: 0 },
    model: o.model,
    ended: o.collision ? 'collision' : 'duration',
    steps: 60,
    distanceKm: o.distanceKm ?? 0.05,
    collision: o.collision ?? null,
    offroadIncidents: 0,
    speedingS: 0,
    laneDepartures: 0,
    stopLines: 0,
    ttcMin: o.ttcMin ?? 2,
    vruNearMisses: o.vruNearMisses ?? 0,
    firstBrakeT: 1,
    firstBrakeDistance: 10,
    firstBrakeTtc: 1.5,
    peakJerk: o.peakJerk ?? 5,
    rmsJerk: o.rmsJerk ?? 1,
    peakDecel: 6,
    peakAccel: 1,
    rmsAccel: 1,
    aeb: 'full',
    types: o.collision ? ['collision'] : (o.vruNearMisses ?? 0) > 0 ? ['vru-near-miss'] : [],
    severityScore: 0,
  });
}

const hit = { t: 3, actor: 'target', actorCls: 'car', relativeSpeed: 4, egoSpeed: 4 };
const report = (runs: Row[]) => ({ candidate: 'candidate', baseline: 'production', level: 0.95, runs });
/** n pairs of one category; `cand(i)` and `base(i)` override the rows' fields. */
function pairs(category: string, n: number, cand: (i: number) => Partial<Row> = () => ({}), base: (i: number) => Partial<Row> = () => ({})): Row[] {
  return Array.from({ length: n }, (_, i) => [row({ key: `${category}${i}`, model: 'candidate', category, ...cand(i) }), row({ key: `${category}${i}`, model: 'production', category, ...base(i) })]).flat();
}

describe('sim gate criteria', () => {
  it('parses the issue\'s example criteria and refuses a typo', () => {
    const c = SimGateCriteria.parse({
      criteria: [
        { category: 'ccr*', max_collisions: 0 },
        { category: 'cp*', vru_near_misses: { no_increase_vs: 'production', confidence: 0.95 } },
        { category: '*', jerk_rms: { max_regression: 0.2 } },
      ],
    });
    expect(c.criteria[1].vru_near_misses).toEqual({ no_increase_vs: 'production', confidence: 0.95 });
    expect(SimGateCriteria.safeParse({ criteria: [{ category: 'ccr*', max_colisions: 0 }] }).success).toBe(false);
    expect(SimGateCriteria.safeParse({ criteria: [{ category: '*', jerk_rms: {} }] }).success).toBe(false);
    // A person's approval is the recipe gate's (on sim_gate.passed), not a second mechanism here.
    expect(SimGateCriteria.safeParse({ criteria: [{ category: '*', max_collisions: 0 }], approval: 'required' }).success).toBe(false);
  });

  it.each([
    ['ccr*', 'ccrs', true],
    ['ccr*', 'cpnc', false],
    ['cp?c', 'cpnc', true],
    ['*', 'cut-in', true],
    ['ccrs', 'ccrs', true],
    ['c.rs', 'ccrs', false],
  ])('%s matches %s: %s', (p, c, want) => expect(categoryMatches(p, c)).toBe(want));
});

describe('decideSimGate', () => {
  it('zero collisions in NCAP car-to-car scenes: passes with none, fails with one, each matched category on its own, citing the count', () => {
    const criteria = SimGateCriteria.parse({ criteria: [{ category: 'ccr*', max_collisions: 0 }] });
    const ok = decideSimGate(criteria, report([...pairs('ccrs', 3), ...pairs('ccrm', 2)]));
    expect(ok.verdict).toBe('pass');
    expect(ok.checks.map((c) => c.category)).toEqual(['ccrm', 'ccrs']);
    expect(ok.checks[1].line).toBe('ccrs (candidate): collisions 0 <= 0 over 3 runs: pass');
    // The baseline's collision does not count against the candidate.
    const bad = decideSimGate(criteria, report([...pairs('ccrs', 3, (i) => (i === 1 ? { collision: hit } : {}), () => ({ collision: hit })), ...pairs('ccrm', 2)]));
    expect(bad.verdict).toBe('fail');
    expect(bad.rationale[0]).toBe('sim gate fails: 1 of 2 checks failed (ccrs max_collisions)');
    expect(bad.rationale[1]).toBe('ccrs (candidate): collisions 1 > 0 over 3 runs: fail');
  });

  it('no increase in VRU near misses vs production: exact sign-flip p = 2^-n for n deltas of +1', () => {
    const criteria = SimGateCriteria.parse({ criteria: [{ category: 'cp*', vru_near_misses: { no_increase_vs: 'production', confidence: 0.95 } }] });
    // 5 pairs, each +1: p = 1/32 = 0.03125 < 0.05: a significant increase.
    const five = decideSimGate(criteria, report(pairs('cpnc', 5, () => ({ vruNearMisses: 1 }))));
    expect(five.verdict).toBe('fail');
    expect(five.checks[0].line).toContain('mean delta 1 per run');
    expect(five.checks[0].line).toContain('one-sided p 0.031 < 0.050');
    // 3 pairs, each +1: p = 1/8: an increase, not significant: a person decides.
    const three = decideSimGate(criteria, report(pairs('cpnc', 3, () => ({ vruNearMisses: 1 }))));
    expect(three.verdict).toBe('review');
    expect(three.rationale[0]).toBe('sim gate needs review: 1 of 1 checks could not be decided (cpnc vru_near_misses)');
    expect(three.checks[0].line).toContain('one-sided p 0.125 >= 0.050');
    // Fewer near misses than production: pass.
    const fewer = decideSimGate(criteria, report(pairs('cpnc', 3, () => ({}), () => ({ vruNearMisses: 1 }))));
    expect(fewer.verdict).toBe('pass');
  });

  it('collisions paired with McNemar: one-sided exact p = 2^-b with c = 0', () => {
    const criteria = SimGateCriteria.parse({ criteria: [{ category: 'ccrs', collisions: { no_increase_vs: 'production', confidence: 0.95 } }] });
    const five = decideSimGate(criteria, report(pairs('ccrs', 6, (i) => (i < 5 ? { collision: hit } : {}))));
    expect(five.verdict).toBe('fail');
    expect(five.checks[0].line).toContain('in 5 of 6 paired runs, the reverse in 0; McNemar exact one-sided p 0.031 < 0.050');
    const four = decideSimGate(criteria, report(pairs('ccrs', 6, (i) => (i < 4 ? { collision: hit } : {}))));
    expect(four.verdict).toBe('review');
    expect(four.checks[0].line).toContain('p 0.063');
  });

  it('bounded comfort regression: +30% RMS jerk fails a 20% bound, +10% passes; an absolute bound on the mean', () => {
    const criteria = SimGateCriteria.parse({ criteria: [{ category: '*', jerk_rms: { max_regression: 0.2, max: 2 } }] });
    const worse = decideSimGate(criteria, report(pairs('ccrs', 4, () => ({ rmsJerk: 1.3 }), () => ({ rmsJerk: 1.0 }))));
    expect(worse.verdict).toBe('fail');
    const line = worse.checks.find((c) => c.check === 'jerk_rms.max_regression')!.line;
    expect(line).toContain('RMS jerk 1.3 vs production 1 m/s^3 over 4 paired runs: +30%');
    expect(line).toContain('> +20%: fail');
    const mild = decideSimGate(criteria, report(pairs('ccrs', 4, () => ({ rmsJerk: 1.1 }), () => ({ rmsJerk: 1.0 }))));
    expect(mild.verdict).toBe('pass');
    const over = decideSimGate(criteria, report(pairs('ccrs', 4, () => ({ rmsJerk: 2.5 }), () => ({ rmsJerk: 2.4 }))));
    expect(over.checks.find((c) => c.check === 'jerk_rms.max')!.status).toBe('fail');
  });

  it('insufficient data is a review, never a pass: no matching category, no pairs', () => {
    const criteria = SimGateCriteria.parse({ criteria: [{ category: 'cbla', max_collisions: 0 }, { category: 'ccrs', vru_near_misses: { no_increase_vs: 'production' } }] });
    const d = decideSimGate(criteria, report(pairs('ccrs', 2).filter((r) => r.model === 'candidate')));
    expect(d.verdict).toBe('review');
    expect(d.checks.map((c) => c.status)).toEqual(['review', 'review']);
    expect(d.checks[0].line).toContain('no runs of a matching category');
    expect(d.checks[1].line).toContain('no runs paired with production');
  });

  it('the subject digest changes with the numbers, and only with them', () => {
    const criteria = SimGateCriteria.parse({ criteria: [{ category: '*', max_collisions: 0 }] });
    const a = decideSimGate(criteria, report(pairs('ccrs', 2)));
    expect(a.verdict).toBe('pass');
    expect(a.rationale[0]).toBe('sim gate passes: all 1 checks passed');
    const b = decideSimGate(criteria, report(pairs('ccrs', 3)));
    expect(b.subjectDigest).not.toBe(a.subjectDigest);
    expect(decideSimGate(criteria, report(pairs('ccrs', 2))).subjectDigest).toBe(a.subjectDigest);
  });

  it('collision rate on the Wilson upper bound and TTC p5 (numpy linear percentile)', () => {
    // 0 of 10: Wilson 95% upper bound = z^2/(n+z^2) = 3.8415/13.8415 = 0.2775.
    const rate = decideSimGate(SimGateCriteria.parse({ criteria: [{ category: '*', max_collision_rate: 0.25 }] }), report(pairs('ccrs', 10)));
    expect(rate.verdict).toBe('fail');
    expect(rate.checks[0].line).toContain('upper bound 0.278 > 0.25');
    // TTC minima 1..5 s: numpy.percentile([1,2,3,4,5], 5) = 1.2.
    const ttc = decideSimGate(SimGateCriteria.parse({ criteria: [{ category: '*', min_ttc_p5: 1.25 }] }), report(pairs('ccrs', 5, (i) => ({ ttcMin: i + 1 }))));
    expect(ttc.checks[0].line).toContain('TTC min p5 1.2 s over 5 runs < 1.25 s: fail');
  });
});
