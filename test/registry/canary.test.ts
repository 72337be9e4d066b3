/**
 * Whole rollout plans over telemetry replay drawn from a real recorded bench run
 * (test/fixtures/workbench-run.ndjson: candidate p95 9.28 ms, production p95 6.07 ms, 300 samples
 * each): canary steps 1% -> 5% -> 25% -> 100% with a 10m bake each, a latency regression injected
 * in the third step, and the decision each semantics takes, at which step and simulated minute;
 * shadow and A/B plans; and the plan file's located errors.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { analyzeRollout, twoProportionTest } from '../../src/registry/canary.js';
import { readLatencySamples, telemetryFromOutcomes, type ArmOutcomes, type Injection } from '../../src/registry/telemetry.js';
import { parseRolloutPlan, parseRolloutPlanValue, RolloutPlan, type RolloutPlanInput } from '../../src/schema/rollout.js';

const RUN = join(import.meta.dirname, '..', 'fixtures', 'workbench-run.ndjson');
const canaryArm: ArmOutcomes = { latency: { kind: 'samples', samples: readLatencySamples(RUN, 'candidate/cpu-fp32').samples }, errorRate: 0.002, falseBrakingRate: 0.0005, disagreementRate: 0.02 };
const baselineArm: ArmOutcomes = { latency: { kind: 'samples', samples: readLatencySamples(RUN, 'production/cpu-fp32').samples }, errorRate: 0.002, falseBrakingRate: 0.0002, disagreementRate: 0 };

function telemetry(injections: Injection[] = [], minutes = 45) {
  return telemetryFromOutcomes({ canary: canaryArm, baseline: baselineArm, minutes, perMinute: 2000, seed: 20, injections });
}

/** The plan of issue 20's example: 1% -> 5% -> 25% -> 100%, 10m each, SLOs on p95, errors and the two safety proxies. */
function canaryPlan(analysis: Partial<RolloutPlanInput['analysis']> & { semantics: 'argo' | 'flagger' }, latency: Record<string, unknown> = {}): RolloutPlan {
  return RolloutPlan.parse({
    strategy: 'canary',
    steps: [1, 5, 25, 100].map((weight) => ({ weight, bake: '10m' })),
    analysis: {
      interval: '1m',
      metrics: [
        { name: 'latency.p95_ms', max: 11.5, ...latency },
        // Rates on a 1% canary are a few requests a minute: one error is already 5%, so the rate
        // SLOs ask for a breach over 3 consecutive minutes.
        { name: 'error_rate', max: 0.01, breach_for: '3m' },
        { name: 'false_emergency_braking_rate', max: 0.005, breach_for: '3m' },
        { name: 'perception_planning_disagreement', max: 0.05, breach_for: '3m' },
      ],
      ...analysis,
    },
  });
}

const REGRESSION: Injection[] = [{ kind: 'step', metric: 'latency', from_minute: 22, factor: 1.6 }];

describe('canary plans on telemetry replay', () => {
  const clean = telemetry();
  const regressed = telemetry(REGRESSION);

  it.each([
    ['argo', { semantics: 'argo' as const }],
    ['flagger', { semantics: 'flagger' as const, threshold: 2 }],
  ])('clean telemetry: %s promotes after the last step bake (40m)', (_name, analysis) => {
    const r = analyzeRollout(canaryPlan(analysis), clean);
    expect(r.decision, r.decision.reason).toMatchObject({ action: 'promote', step: 3, weight: 100, at_s: 2400, at: '40m' });
    expect(r.steps.map((s) => [s.index, s.weight, s.decision, s.ticks])).toEqual([
      [0, 1, 'continue', 10],
      [1, 5, 'continue', 10],
      [2, 25, 'continue', 10],
      [3, 100, 'promote', 10],
    ]);
    expect(r.timeline).toHaveLength(40);
  });

  it('argo (failureLimit 0): a latency regression at minute 22 of step 2 (25%) rolls back at 23m', () => {
    const r = analyzeRollout(canaryPlan({ semantics: 'argo' }), regressed);
    expect(r.decision).toMatchObject({ action: 'rollback', semantics: 'argo', step: 2, weight: 25, at: '23m' });
    const tick = r.timeline.at(-1)!;
    const p95 = tick.metrics[0];
    // 1.6 x the candidate's 9.28 ms
    expect(p95.value!).toBeGreaterThan(14);
    expect(p95.samples).toBeGreaterThan(400);
    expect(p95.baseline!).toBeCloseTo(6.07, 0);
    expect(r.decision.reason).toContain('metric "latency.p95_ms" assessed Failed due to failed (1) > failureLimit (0)');
    expect(r.decision.reason).toMatch(/\(1[45]\.\d+ > max 11\.5 at 23m\)/);
    // minute 21 of the same step was measured clean
    expect(r.timeline[21].metrics[0]).toMatchObject({ status: 'successful' });
  });

  it('flagger (threshold 2): failed checks at 23m and 24m, rolled back at the next run, 25m', () => {
    const r = analyzeRollout(canaryPlan({ semantics: 'flagger', threshold: 2 }), regressed);
    expect(r.decision).toMatchObject({ action: 'rollback', semantics: 'flagger', step: 2, weight: 25, at: '25m' });
    expect(r.timeline.slice(-3).map((t) => [t.t_s / 60, t.flagger!.check, t.flagger!.failedChecks])).toEqual([
      [23, 'failed', 1],
      [24, 'failed', 2],
      [25, 'not-run', 2],
    ]);
    expect(r.decision.reason).toMatch(/^flagger: failed checks 2 >= threshold 2 \(latency\.p95_ms 1[45]\.\d+ > max 11\.5 at 23m; latency\.p95_ms .* at 24m\); rolled back at the next run, 25m$/);
  });

  it('argo with breach_for 3m on latency: the regression is a breach after minutes 22-24, at 25m', () => {
    const r = analyzeRollout(canaryPlan({ semantics: 'argo' }, { breach_for: '3m' }), regressed);
    expect(r.decision).toMatchObject({ action: 'rollback', step: 2, at: '25m' });
    expect(r.timeline.slice(-3).map((t) => t.metrics[0].breach)).toEqual([
      { minutes: 1, needed: 3 },
      { minutes: 2, needed: 3 },
      { minutes: 3, needed: 3 },
    ]);
  });

  it('a ramp crossing the SLO inside minute 22 fails the check at 23m', () => {
    const r = analyzeRollout(canaryPlan({ semantics: 'argo' }), telemetry([{ kind: 'ramp', metric: 'latency', from_minute: 21, ramp_minutes: 4, factor: 1.6 }]));
    expect(r.decision).toMatchObject({ action: 'rollback', step: 2, at: '23m' });
  });

  it('telemetry that ends before the last bake: continue, at the last interval analysed', () => {
    const r = analyzeRollout(canaryPlan({ semantics: 'argo' }), telemetry([], 35));
    expect(r.decision).toMatchObject({ action: 'continue', step: 3, weight: 100, at: '35m' });
    expect(r.decision.reason).toContain('5 of 10 intervals analysed: no decision yet');
  });

  it('startMinute places the rollout later in the stream', () => {
    const r = analyzeRollout(canaryPlan({ semantics: 'argo' }), regressed, { startMinute: 5 });
    // the regression at stream minute 22 is rollout minute 17: step 1 (5%)
    expect(r.decision).toMatchObject({ action: 'rollback', step: 1, weight: 5, at: '18m' });
  });

  it('the timeline carries each interval: step, weight, every metric value, bound, status', () => {
    const r = analyzeRollout(canaryPlan({ semantics: 'argo' }), clean);
    const t = r.timeline[25];
    expect(t).toMatchObject({ t_s: 1560, step: 2, weight: 25, window: [1500, 1560] });
    expect(t.metrics.map((m) => [m.name, m.bound, m.status])).toEqual([
      ['latency.p95_ms', { max: 11.5 }, 'successful'],
      ['error_rate', { max: 0.01 }, 'successful'],
      ['false_emergency_braking_rate', { max: 0.005 }, 'successful'],
      ['perception_planning_disagreement', { max: 0.05 }, 'successful'],
    ]);
    expect(t.metrics[0].value!).toBeCloseTo(9.28, 0);
    expect(t.argo!.phase).toBe('Running');
  });
});

describe('shadow plans', () => {
  const plan = RolloutPlan.parse({ strategy: 'shadow', shadow: { mirror_percent: 10, max_diff_rate: 0.05, duration: '20m' }, analysis: { semantics: 'argo', interval: '5m', metrics: [{ name: 'latency.p95_ms', max: 11.5 }] } });

  it('a candidate that diverges on ~2% of mirrored requests passes the shadow', () => {
    const r = analyzeRollout(plan, telemetry());
    expect(r.decision, r.decision.reason).toMatchObject({ action: 'promote', at: '20m' });
    const diff = r.timeline[0].metrics.find((m) => m.name === 'shadow.diff_rate')!;
    expect(diff.samples).toBeGreaterThan(900);
    expect(diff.value!).toBeGreaterThan(0.01);
    expect(diff.value!).toBeLessThan(0.035);
  });

  it('a behavioural regression on mirrored traffic fails the diff rate at the next interval', () => {
    const r = analyzeRollout(plan, telemetry([{ kind: 'step', metric: 'perception_planning_disagreement', from_minute: 10, add: 0.1 }]));
    expect(r.decision).toMatchObject({ action: 'rollback', at: '15m' });
    expect(r.decision.reason).toContain('metric "shadow.diff_rate" assessed Failed');
  });
});

describe('A/B plans', () => {
  const plan = (over: Record<string, unknown> = {}) => RolloutPlan.parse({ strategy: 'ab', ab: { cohorts: [{ name: 'fleet-a', percent: 40 }, { name: 'fleet-b', percent: 40 }], metric: 'error_rate', min_samples: 2000, iterations: 10, ...over }, analysis: { semantics: 'flagger', interval: '1m', threshold: 3 } });

  it('equal error rates in both cohorts promote after interval * iterations', () => {
    const r = analyzeRollout(plan(), telemetry());
    expect(r.decision, r.decision.reason).toMatchObject({ action: 'promote', at: '10m' });
    expect(r.ab!.test).toBe('two-proportion z');
    for (const c of r.ab!.cohorts) {
      expect(c.enough).toBe(true);
      expect(c.nA + c.nB).toBeGreaterThan(7000);
      expect(c.p!).toBeGreaterThan(0.05);
    }
  });

  it('a 4x error rate in the candidate is significantly worse: rollback, with z and p', () => {
    const r = analyzeRollout(plan(), telemetry([{ kind: 'step', metric: 'error_rate', from_minute: 0, factor: 4 }]));
    expect(r.decision.action).toBe('rollback');
    for (const c of r.ab!.cohorts) {
      expect(c.worse).toBe(true);
      expect(c.p!).toBeLessThan(0.001);
      expect(c.z).toBeCloseTo(twoProportionTest(Math.round(c.valueA! * c.nA), c.nA, Math.round(c.valueB! * c.nB), c.nB).z, 9);
    }
    expect(r.decision.reason).toMatch(/fleet-a: B 0\.00\d+ \(n \d+\) vs A 0\.00\d+ \(n \d+\), z \d\.\d\d, p /);
  });

  it('fewer samples than min_samples: continue (not enough evidence)', () => {
    const r = analyzeRollout(plan({ min_samples: 100_000 }), telemetry());
    expect(r.decision.action).toBe('continue');
    expect(r.decision.reason).toContain('fewer than min_samples 100000 per arm');
  });

  it('a latency A/B compares the delta against max_delta', () => {
    const r = analyzeRollout(plan({ metric: 'latency.p95_ms', max_delta: 1 }), telemetry());
    // candidate p95 9.28 ms against production 6.07 ms: 3.2 ms worse
    expect(r.decision.action).toBe('rollback');
    expect(r.ab!.cohorts[0].delta!).toBeCloseTo(3.2, 0);
  });
});

describe('the two-proportion test (against scipy.stats.norm.sf)', () => {
  it.each([
    [10, 1000, 25, 1000, 2.557943557892809, 0.005264659032641463],
    [50, 5000, 52, 5000, 0.1990472514740337, 0.4211128913531627],
    [3, 400, 12, 380, 2.4475425218542846, 0.007191707602960578],
    [120, 10000, 80, 10000, -2.8426762180748057, 0.9977631753716941],
  ])('%i/%i vs %i/%i', (xA, nA, xB, nB, z, p) => {
    const r = twoProportionTest(xA, nA, xB, nB);
    expect(r.z).toBeCloseTo(z, 12);
    expect(Math.abs(r.p / p - 1)).toBeLessThan(1e-12);
  });
});

describe('rollout plan files', () => {
  const ok = ['strategy: canary', 'steps:', '  - { weight: 1, bake: 10m }', '  - { weight: 5, bake: 1h30m }', 'analysis:', '  semantics: argo', '  interval: 5m', '  metrics:', '    - { name: latency.p95_ms, max: 12, breach_for: 3m }'];

  it('parses durations to seconds', () => {
    const p = parseRolloutPlan(ok.join('\n'), 'plan.yaml');
    expect(p.steps).toEqual([{ weight: 1, bake: 600 }, { weight: 5, bake: 5400 }]);
    expect(p.analysis).toMatchObject({ interval: 300, metrics: [{ name: 'latency.p95_ms', max: 12, breach_for: 180 }] });
  });

  it.each([
    ['a bad duration', [2, '  - { weight: 1, bake: 10 minutes }'], 'plan.yaml:3:24 steps[0].bake: expected a duration such as "90s", "10m" or "1h30m"'],
    ['weights that do not increase', [3, '  - { weight: 1, bake: 10m }'], 'plan.yaml:4:15 steps[1].weight: weights must increase step by step (step 0 has 1, this one 1)'],
    ['a bake that is not whole intervals', [3, '  - { weight: 5, bake: 7m }'], 'plan.yaml:4:24 steps[1].bake: bake (7m) must be a whole number of analysis intervals (5m)'],
    ['a Flagger key under argo', [6, '  interval: 5m\n  threshold: 3'], 'plan.yaml:8:14 analysis.threshold: "threshold" is Flagger\'s (semantics: flagger)'],
    ['failureLimit -1', [6, '  interval: 5m\n  failureLimit: -1'], 'analysis.failureLimit: failureLimit must be 0 or more: Argo accepts -1 (disabled) only together with consecutiveSuccessLimit'],
    ['breach_for not in whole minutes', [8, '    - { name: latency.p95_ms, max: 12, breach_for: 90s }'], 'analysis.metrics[0].breach_for: breach_for counts whole minutes of telemetry'],
    ['a metric without a bound', [8, '    - { name: error_rate }'], 'analysis.metrics[0].max: a metric needs a bound: max, min or both'],
    ['an unknown key', [0, 'strategy: canary\nwieght: 3'], 'plan.yaml:2:9 wieght: unknown key "wieght"'],
  ])('locates %s', (_what, [line, text], message) => {
    const lines = ok.slice();
    lines[line as number] = text as string;
    expect(() => parseRolloutPlan(lines.join('\n'), 'plan.yaml')).toThrow(message as string);
  });

  it('refuses an Argo failure bound under flagger, and a strategy without its block', () => {
    expect(() => parseRolloutPlanValue({ strategy: 'canary', steps: [{ weight: 5, bake: '1m' }], analysis: { semantics: 'flagger', metrics: [{ name: 'error_rate', max: 0.01, failure_max: 0.05 }] } })).toThrow('rollout.analysis.metrics[0].failure_max: "failure_max" is an Argo failureCondition');
    expect(() => parseRolloutPlanValue({ strategy: 'shadow', analysis: { semantics: 'argo' } })).toThrow('rollout.shadow: strategy shadow needs "shadow"');
    expect(() => parseRolloutPlanValue({ strategy: 'ab', ab: { cohorts: [{ name: 'a', percent: 50 }], metric: 'latency.p95_ms', min_samples: 10, iterations: 5 }, analysis: { semantics: 'argo' } })).toThrow('rollout.ab.max_delta: "latency.p95_ms" is not a rate');
  });
});
