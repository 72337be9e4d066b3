/**
 * The canary analysis against the two tools' documented counting, table-driven. Each row is a
 * minute-by-minute pattern of what the canary's telemetry measures, and the decision the tool
 * would take, with the rule it checks cited:
 *
 *   .  within bounds (p95 5 ms, max 10)
 *   F  out of bounds (15 ms: past max 10 and past failure_max 14 where a row sets one)
 *   I  in Argo's inconclusive band (12 ms: past max 10, not past failure_max 14)
 *   N  no data (a telemetry gap: no requests at all that minute)
 *
 * With a 1m interval, the tick at minute k measures minute k - 1, so a pattern's minute i is
 * judged at i + 1 minutes. Sources: argoproj/argo-rollouts at 9f8d111 (docs/features/analysis.md,
 * analysis/analysis.go, utils/evaluate/evaluate.go, utils/defaults/defaults.go); fluxcd/flagger
 * v1.44.0 (docs/gitbook/usage/deployment-strategies.md, docs/gitbook/usage/webhooks.md,
 * pkg/controller/scheduler.go, scheduler_metrics.go).
 */
import { describe, expect, it } from 'vitest';
import { analyzeRollout } from '../../src/registry/canary.js';
import { telemetryFromOutcomes, type Injection } from '../../src/registry/telemetry.js';
import { RolloutPlan, type RolloutPlanInput } from '../../src/schema/rollout.js';

const ADD: Record<string, number> = { F: 10, I: 7 };

/** Telemetry whose every request takes 5 ms, raised per minute by the pattern; `errors` sets error_rate minutes to 1. */
function patternTelemetry(pattern: string, opts: { errors?: string; perMinute?: number; pad?: number } = {}) {
  const injections: Injection[] = [];
  [...pattern].forEach((c, k) => {
    if (c === 'N') injections.push({ kind: 'gap', from_minute: k, to_minute: k + 1 });
    else if (ADD[c]) injections.push({ kind: 'step', metric: 'latency', from_minute: k, to_minute: k + 1, add: ADD[c] });
  });
  [...(opts.errors ?? '')].forEach((c, k) => {
    if (c === 'F') injections.push({ kind: 'step', metric: 'error_rate', from_minute: k, to_minute: k + 1, add: 1 });
  });
  const arm = { latency: { kind: 'samples' as const, samples: [5] }, errorRate: 0, falseBrakingRate: 0, disagreementRate: 0 };
  return telemetryFromOutcomes({ canary: arm, baseline: arm, minutes: pattern.length + (opts.pad ?? 6), perMinute: opts.perMinute ?? 20, seed: 11, injections });
}

type Row = {
  rule: string;
  cite: string;
  pattern: string;
  errors?: string;
  analysis: Partial<RolloutPlanInput['analysis']> & { semantics: 'argo' | 'flagger' };
  metric?: Record<string, unknown>;
  steps?: RolloutPlanInput['steps'];
  expect: { action: string; at: number; step?: number };
};

function planFor(row: Row): RolloutPlan {
  const metrics: unknown[] = [{ name: 'latency.p95_ms', max: 10, ...row.metric }];
  if (row.errors) metrics.push({ name: 'error_rate', max: 0.5 });
  return RolloutPlan.parse({
    strategy: 'canary',
    steps: row.steps ?? [{ weight: 100, bake: `${row.pattern.length}m` }],
    analysis: { interval: '1m', metrics, ...row.analysis },
  });
}

const ROWS: Row[] = [
  // Argo Rollouts
  { rule: 'argo: failureLimit 0 (the default) with one failure fails', cite: 'analysis.md "failureLimit having a default value of 0, so no failures are tolerated"; analysis.go: failed > failureLimit', pattern: '.F....', analysis: { semantics: 'argo' }, expect: { action: 'rollback', at: 2 } },
  { rule: 'argo: failureLimit 2 with 2 failures continues to promotion', cite: 'analysis.go assessMetricFailureInconclusiveOrError: Failed only when failed > failureLimit', pattern: 'F.F...', analysis: { semantics: 'argo', failureLimit: 2 }, expect: { action: 'promote', at: 6 } },
  { rule: 'argo: failureLimit 2 with 3 failures fails at the third', cite: 'analysis.md "The entire analysis run is considered as Failed after three failed measurements" (failureLimit: 3 there fails at the 4th: failed > limit)', pattern: 'F.F.F.', analysis: { semantics: 'argo', failureLimit: 2 }, expect: { action: 'rollback', at: 5 } },
  { rule: 'argo: an inconclusive measurement pauses (inconclusiveLimit 0)', cite: 'analysis.md "Inconclusive runs causes a rollout to become paused at its current step"; schema: inconclusiveLimit default 0', pattern: '..I...', metric: { failure_max: 14 }, analysis: { semantics: 'argo' }, expect: { action: 'pause', at: 3 } },
  { rule: 'argo: inconclusiveLimit 1 tolerates one, pauses at the second', cite: 'analysis.go: inconclusive > inconclusiveLimit', pattern: 'I.I...', metric: { failure_max: 14 }, analysis: { semantics: 'argo', inconclusiveLimit: 1 }, expect: { action: 'pause', at: 3 } },
  { rule: 'argo: with a failureCondition, a value past it is Failed, not Inconclusive', cite: 'evaluate.go EvaluateResult: failCondition true -> Failed', pattern: '.F....', metric: { failure_max: 14 }, analysis: { semantics: 'argo', inconclusiveLimit: 3 }, expect: { action: 'rollback', at: 2 } },
  { rule: 'argo: 4 consecutive errors are tolerated (consecutiveErrorLimit default 4), a success resets them', cite: 'defaults.go DefaultConsecutiveErrorLimit = 4; analysis.go runMeasurements: any completed non-error measurement sets ConsecutiveError = 0', pattern: 'NNNN.NNNN.', analysis: { semantics: 'argo' }, expect: { action: 'promote', at: 10 } },
  { rule: 'argo: the 5th consecutive error makes the metric Error, which aborts', cite: 'analysis.go: consecutiveErrors (5) > consecutiveErrorLimit (4); argoproj/argo-rollouts#1466 (empty result -> Error -> RolloutAborted)', pattern: '.NNNNN....', analysis: { semantics: 'argo' }, expect: { action: 'rollback', at: 6 } },
  { rule: 'argo: consecutiveErrorLimit 2 aborts at the 3rd error in a row', cite: 'analysis.go: ConsecutiveError > consecutiveErrorLimit', pattern: 'NN.NNN', analysis: { semantics: 'argo', consecutiveErrorLimit: 2 }, expect: { action: 'rollback', at: 6 } },
  { rule: 'argo: errors do not count as failures (failureLimit 0 with 3 errors promotes)', cite: 'analysis.go runMeasurements: an Error increments Error and ConsecutiveError, not Failed', pattern: '.N.N.N', analysis: { semantics: 'argo' }, expect: { action: 'promote', at: 6 } },
  { rule: 'argo: no data with no_data: failed ("len(result) > 0 && ...") fails at once', cite: 'analysis.md "Empty array": the len(result) > 0 && result[0] >= 0.95 example is Failed', pattern: '.N....', analysis: { semantics: 'argo', no_data: 'failed' }, expect: { action: 'rollback', at: 2 } },
  { rule: 'argo: no data with no_data: successful ("len(result) == 0 || ...") passes', cite: 'analysis.md "Empty array": the len(result) == 0 || result[0] >= 0.95 example is Successful', pattern: 'NNNNNN', analysis: { semantics: 'argo', no_data: 'successful' }, expect: { action: 'promote', at: 6 } },
  { rule: 'argo: the run takes the worst metric: Failed beats Inconclusive at one tick', cite: 'helpers.go analysisStatusOrder (... Inconclusive, Error, Failed); assessRunStatus keeps the worst', pattern: '..I...', errors: '..F...', metric: { failure_max: 14 }, analysis: { semantics: 'argo' }, expect: { action: 'rollback', at: 3 } },
  { rule: 'argo: with count 3 the metric completes Successful, later failures are not measured', cite: 'analysis.go assessMetricStatus: "If a count was specified, and we reached that count, then metric is considered Successful"', pattern: '...FFF', analysis: { semantics: 'argo', count: 3 }, expect: { action: 'promote', at: 6 } },
  { rule: 'argo: background analysis from startingStep 1 ignores step 0', cite: 'analysis.md "Delaying starting background analysis run until step 3": startingStep', pattern: 'FFF...', steps: [{ weight: 50, bake: '3m' }, { weight: 100, bake: '3m' }], analysis: { semantics: 'argo', startingStep: 1 }, expect: { action: 'promote', at: 6, step: 1 } },
  { rule: 'argo: one background run counts failures across steps', cite: 'analysis.md "Background Analysis": one AnalysisRun for the whole rollout', pattern: 'F..F..', steps: [{ weight: 50, bake: '3m' }, { weight: 100, bake: '3m' }], analysis: { semantics: 'argo', failureLimit: 1 }, expect: { action: 'rollback', at: 4, step: 1 } },
  { rule: 'argo: run: step starts a new AnalysisRun each step (inline analysis), so counts restart', cite: 'analysis.md "Analysis at a Predefined Step": an AnalysisRun is started when the step is reached', pattern: 'F..F..', steps: [{ weight: 50, bake: '3m' }, { weight: 100, bake: '3m' }], analysis: { semantics: 'argo', failureLimit: 1, run: 'step' }, expect: { action: 'promote', at: 6, step: 1 } },

  // Flagger
  { rule: 'flagger: threshold 1 (the default): one failed check rolls back at the next run', cite: 'canary.go GetAnalysisThreshold default 1; scheduler.go checks FailedChecks >= threshold before running the analysis', pattern: '.F....', analysis: { semantics: 'flagger' }, expect: { action: 'rollback', at: 3 } },
  { rule: 'flagger: threshold 3 counts failed checks that are not consecutive; a success resets nothing', cite: 'deployment-strategies.md "increment the failed checks counter", "check if the number of failed checks reached the threshold"; scheduler.go resets FailedChecks only on a new revision', pattern: 'F.F.F...', analysis: { semantics: 'flagger', threshold: 3 }, expect: { action: 'rollback', at: 6 } },
  { rule: 'flagger: threshold 3 with 2 failed checks promotes', cite: 'scheduler.go: rollback only when FailedChecks >= threshold', pattern: 'F.F.....', analysis: { semantics: 'flagger', threshold: 3 }, expect: { action: 'promote', at: 8 } },
  { rule: 'flagger: rollback comes interval * threshold after the first failing check', cite: 'deployment-strategies.md: "the time it takes for a canary to be rollback ... interval * threshold"', pattern: '..FFFFF.', analysis: { semantics: 'flagger', threshold: 4 }, expect: { action: 'rollback', at: 7 } },
  { rule: 'flagger: no data counts as a failed check', cite: 'webhooks.md "Flagger metric checks will fail with no values found"; scheduler_metrics.go ErrNoValuesFound -> return false', pattern: 'N.N...', analysis: { semantics: 'flagger', threshold: 2 }, expect: { action: 'rollback', at: 4 } },
  { rule: 'argo: the same no-data pattern is two Error measurements, tolerated (consecutiveErrorLimit 4)', cite: 'analysis.md "Empty array" + #1466: result[0] of an empty result is an evaluation error; defaults.go limit 4', pattern: 'N.N...', analysis: { semantics: 'argo' }, expect: { action: 'promote', at: 6 } },
  { rule: 'flagger: several metrics failing in one interval are one failed check', cite: 'scheduler_metrics.go: the first failing metric returns false; scheduler.go increments FailedChecks once per run', pattern: 'F.....', errors: 'F.....', analysis: { semantics: 'flagger', threshold: 2 }, expect: { action: 'promote', at: 6 } },
  { rule: 'flagger: a failed check halts advancement; the step holds one more interval', cite: 'deployment-strategies.md "halt advancement if any metric is under the specified threshold"', pattern: '.F....', steps: [{ weight: 50, bake: '2m' }, { weight: 100, bake: '2m' }], analysis: { semantics: 'flagger', threshold: 5 }, expect: { action: 'promote', at: 5, step: 1 } },

  // breach_for (paddock's, on top of either)
  { rule: 'breach_for 3m: 3 consecutive minutes out of bounds is a breach (argo fails at the 3rd)', cite: 'issue 20 "breach for N consecutive minutes"; argoproj/argo-rollouts#4792 (no consecutive-failure limit in Argo)', pattern: '..FFF...', metric: { breach_for: '3m' }, analysis: { semantics: 'argo' }, expect: { action: 'rollback', at: 5 } },
  { rule: 'breach_for 3m: 2 isolated minutes out of bounds are not a breach', cite: 'issue 20: a breach only after N consecutive minutes', pattern: '..F.F...', metric: { breach_for: '3m' }, analysis: { semantics: 'argo' }, expect: { action: 'promote', at: 8 } },
  { rule: 'without breach_for the same 2 isolated minutes fail at once', cite: 'analysis.md failureLimit default 0', pattern: '..F.F...', analysis: { semantics: 'argo' }, expect: { action: 'rollback', at: 3 } },
  { rule: 'breach_for 3m: two runs of 2 minutes are not a breach', cite: 'issue 20: consecutive minutes', pattern: '.FF.FF..', metric: { breach_for: '3m' }, analysis: { semantics: 'argo' }, expect: { action: 'promote', at: 8 } },
  { rule: 'breach_for 3m under flagger: the breach is a failed check, rolled back at the next run', cite: 'scheduler.go: FailedChecks >= threshold at the next run', pattern: '..FFF...', metric: { breach_for: '3m' }, analysis: { semantics: 'flagger' }, expect: { action: 'rollback', at: 6 } },
  { rule: 'breach_for: a minute with no data breaks the run of breaching minutes', cite: 'paddock: a breach not observed is not counted', pattern: '.FFNF...', metric: { breach_for: '3m' }, analysis: { semantics: 'argo', no_data: 'successful' }, expect: { action: 'promote', at: 8 } },
];

describe('canary analysis semantics, table-driven against the tools', () => {
  it.each(ROWS)('$rule', (row) => {
    const res = analyzeRollout(planFor(row), patternTelemetry(row.pattern, { errors: row.errors }));
    expect({ action: res.decision.action, at: res.decision.at_s / 60, step: res.decision.step }, `${row.cite}\n${res.decision.reason}`).toEqual({ action: row.expect.action, at: row.expect.at, step: row.expect.step ?? 0 });
  });

  it('argo: the reason quotes the controller counts (failed (1) > failureLimit (0)) and the value', () => {
    const res = analyzeRollout(planFor(ROWS[0]), patternTelemetry('.F....'));
    expect(res.decision.reason).toContain('metric "latency.p95_ms" assessed Failed due to failed (1) > failureLimit (0)');
    expect(res.decision.reason).toContain('15 > max 10');
    const tick = res.timeline.find((t) => t.t_s === 120)!;
    expect(tick.argo!.metrics['latency.p95_ms']).toMatchObject({ count: 2, successful: 1, failed: 1, phase: 'Failed' });
  });

  it('argo: errors do not count toward count, and a success resets the consecutive errors', () => {
    const res = analyzeRollout(planFor({ rule: '', cite: '', pattern: 'NN.N..', analysis: { semantics: 'argo' }, expect: { action: '', at: 0 } }), patternTelemetry('NN.N..'));
    const c = res.timeline.at(-1)!.argo!.metrics['latency.p95_ms'];
    expect(c).toMatchObject({ count: 3, successful: 3, error: 3, consecutiveError: 0 });
    expect(res.timeline[2].argo!.metrics['latency.p95_ms'].consecutiveError).toBe(0);
    expect(res.timeline[1].argo!.metrics['latency.p95_ms'].consecutiveError).toBe(2);
  });

  it('flagger: the failed-checks counter and the halted step are in the timeline', () => {
    const row = ROWS.find((r) => r.rule.startsWith('flagger: a failed check halts'))!;
    const res = analyzeRollout(planFor(row), patternTelemetry(row.pattern));
    expect(res.timeline.map((t) => [t.t_s / 60, t.step, t.flagger!.check, t.flagger!.failedChecks])).toEqual([
      [1, 0, 'passed', 0],
      [2, 0, 'failed', 1],
      [3, 0, 'passed', 1],
      [4, 1, 'passed', 1],
      [5, 1, 'passed', 1],
    ]);
    expect(res.steps[0]).toMatchObject({ ticks: 3, decision: 'continue' });
    expect(res.steps[0].reason).toContain('1 more than planned');
  });

  it('flagger: metrics after the first failing one are not queried in that interval', () => {
    const row = ROWS.find((r) => r.rule.startsWith('flagger: several metrics'))!;
    const res = analyzeRollout(planFor(row), patternTelemetry(row.pattern, { errors: row.errors }));
    expect(res.timeline[0].metrics.map((m) => m.status)).toEqual(['failed', 'not-checked']);
    expect(res.timeline[0].metrics[1].value).toBe(1);
  });

  it('breach_for reports the run of breaching minutes at each tick', () => {
    const row = ROWS.find((r) => r.rule.startsWith('breach_for 3m: 3 consecutive'))!;
    const res = analyzeRollout(planFor(row), patternTelemetry(row.pattern));
    expect(res.timeline.map((t) => t.metrics[0].breach!.minutes)).toEqual([0, 0, 1, 2, 3]);
    expect(res.timeline.map((t) => t.metrics[0].status)).toEqual(['successful', 'successful', 'successful', 'successful', 'failed']);
    expect(res.timeline[3].metrics[0].note).toContain('2/3 min: not yet a breach');
  });
});
