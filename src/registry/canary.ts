/**
 * Canary analysis on telemetry replay: a rollout plan (src/schema/rollout.ts) walked at
 * accelerated time over a telemetry stream (src/registry/telemetry.ts), measured at each analysis
 * interval, and counted under the semantics the plan names, exactly as the tool counts:
 *
 * Argo Rollouts (argoproj/argo-rollouts at 9f8d111, v1.10 line; docs/features/analysis.md and the
 * controller, analysis/analysis.go):
 *   - a measurement is Successful, Failed, Inconclusive or Error (utils/evaluate/evaluate.go
 *     EvaluateResult: only a successCondition -> Failed when it does not hold; both conditions and
 *     neither holds -> Inconclusive; both hold -> Failed; an evaluation error -> Error);
 *   - per metric: Failed when failed > failureLimit (default 0: "no failures are tolerated"),
 *     Inconclusive when inconclusive > inconclusiveLimit (default 0), Error when
 *     consecutive errors > consecutiveErrorLimit (default 4, utils/defaults); when several hold,
 *     Error wins over Inconclusive over Failed (assessMetricFailureInconclusiveOrError sets them in
 *     that order); an error does not count toward `count` and any other measurement resets the
 *     consecutive errors (runMeasurements);
 *   - the run takes the worst completed metric (Failed > Error > Inconclusive, helpers.go
 *     analysisStatusOrder); the rollout aborts on Failed or Error and pauses on Inconclusive
 *     (rollout/analysis.go; docs: "Successful, Failed, or Inconclusive ... continue, abort, or
 *     pause, respectively"); a background run without `count` stopped at the rollout's end is
 *     Successful unless failureLimit was violated (docs: "terminated successfully, unless ...").
 *
 * Flagger (fluxcd/flagger v1.44.0; docs/gitbook/usage/deployment-strategies.md, pkg/controller):
 *   - each interval runs every metric check in order and stops at the first that fails: one failed
 *     check per interval however many metrics fail (scheduler_metrics.go returns false at once);
 *     a value outside thresholdRange min/max fails; a query that returns no values fails too
 *     (ErrNoValuesFound -> "Halt advancement no values found"; docs/gitbook/usage/webhooks.md:
 *     without traffic "Flagger metric checks will fail with 'no values found ...'");
 *   - a failed check increments failedChecks and halts advancement (the weight stays); nothing
 *     resets failedChecks but a new revision (scheduler.go only sets it to 0 when the canary is
 *     (re)initialised), so failures need not be consecutive;
 *   - at the start of each run, failedChecks >= threshold (default 1) rolls back, before any
 *     metric is queried: the rollback comes one interval after the threshold-th failed check,
 *     "interval * threshold" after the first of them as the docs' formula has it.
 *
 * paddock's own, on top of either: `breach_for` (a value outside the bounds is a breach only after
 * that many consecutive minutes of telemetry out of bounds; a shorter excursion measures as within
 * bounds), which Argo lacks (argoproj/argo-rollouts#4792) and Flagger lacks.
 *
 * Time: the rollout starts at `startMinute` of the telemetry; step i holds its weight for its bake
 * (a whole number of intervals); a tick at rollout time t measures the interval (t - interval, t].
 * Pure: data in, data out.
 */
import { InputError } from '../files/input-error.js';
import { percentileSorted } from '../metrics/percentile.js';
import { formatDurationS, RATE_METRICS, type RolloutMetric, type RolloutPlan } from '../schema/rollout.js';
import { erfc, requestTimeS, type Telemetry } from './telemetry.js';

export type RolloutAction = 'promote' | 'pause' | 'rollback' | 'continue';
export type MeasurementStatus = 'successful' | 'failed' | 'inconclusive' | 'error' | 'not-checked';
type ArgoPhase = 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

/** One metric at one tick. `value` null: no samples in the interval (no data). */
export interface MetricMeasurement {
  name: string;
  value: number | null;
  /** Production's value over the same interval (the requests it served, or mirrored ones), for the chart. */
  baseline: number | null;
  /** Canary requests the value is computed from. */
  samples: number;
  bound: { min?: number; max?: number; failure_min?: number; failure_max?: number };
  status: MeasurementStatus;
  noData: boolean;
  /** With breach_for: consecutive minutes out of bounds ending at this tick, and how many make a breach. */
  breach?: { minutes: number; needed: number };
  note: string;
}

/** Argo's per-metric counters (MetricResult), after the tick. */
export interface ArgoCounters {
  count: number;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
  consecutiveError: number;
  phase: ArgoPhase;
}

export interface TimelineTick {
  /** Simulated seconds since the rollout started. */
  t_s: number;
  step: number;
  weight: number;
  /** The interval measured, rollout seconds [from, to). */
  window: [number, number];
  metrics: MetricMeasurement[];
  argo?: { phase: ArgoPhase; metrics: Record<string, ArgoCounters> };
  flagger?: { check: 'passed' | 'failed' | 'not-run'; failedChecks: number };
  /** What happened at this tick: "advance to step 2 (25%)", "halt advancement", "rollback", ... */
  event?: string;
}

export interface StepOutcome {
  index: number;
  weight: number;
  from_s: number;
  to_s: number;
  ticks: number;
  decision: RolloutAction;
  reason: string;
}

export interface RolloutDecision {
  action: RolloutAction;
  semantics: 'argo' | 'flagger';
  step: number;
  weight: number;
  /** Simulated seconds since the rollout started, and the same as "23m". */
  at_s: number;
  at: string;
  reason: string;
}

export interface AbCohortResult {
  cohort: string;
  nA: number;
  nB: number;
  valueA: number | null;
  valueB: number | null;
  delta: number | null;
  z?: number;
  p?: number;
  enough: boolean;
  worse: boolean;
}

export interface RolloutAnalysisResult {
  strategy: RolloutPlan['strategy'];
  semantics: 'argo' | 'flagger';
  decision: RolloutDecision;
  steps: StepOutcome[];
  timeline: TimelineTick[];
  limits: EffectiveLimits;
  ab?: { metric: string; test: 'two-proportion z' | 'delta'; cohorts: AbCohortResult[] };
}

export interface AnalyzeOptions {
  /** Telemetry minute at which the rollout starts (default 0). */
  startMinute?: number;
}

/** The limits in force, each tool's default filled in where the plan leaves one out. */
export interface EffectiveLimits {
  interval_s: number;
  argo?: { failureLimit: number; inconclusiveLimit: number; consecutiveErrorLimit: number; count: number | null; no_data: 'error' | 'failed' | 'successful'; run: 'background' | 'step'; startingStep: number };
  flagger?: { threshold: number };
}

/** The plan's limits with the tools' defaults: Argo failureLimit 0, inconclusiveLimit 0, consecutiveErrorLimit 4; Flagger threshold 1. */
export function effectiveLimits(plan: RolloutPlan): EffectiveLimits {
  const a = plan.analysis;
  if (a.semantics === 'flagger') return { interval_s: a.interval, flagger: { threshold: a.threshold ?? 1 } };
  return {
    interval_s: a.interval,
    argo: { failureLimit: a.failureLimit ?? 0, inconclusiveLimit: a.inconclusiveLimit ?? 0, consecutiveErrorLimit: a.consecutiveErrorLimit ?? 4, count: a.count ?? null, no_data: a.no_data ?? 'error', run: a.run ?? 'background', startingStep: a.startingStep ?? 0 },
  };
}

// ---------------------------------------------------------------------------------------------
// Measuring a metric over a window of telemetry.

/** The name shadow mode measures on mirrored requests: the fraction on which the candidate behaves otherwise than production. */
export const SHADOW_DIFF_METRIC = 'shadow.diff_rate';

type Stat = { kind: 'quantile'; q: number } | { kind: 'mean-latency' } | { kind: 'rate'; field: 'error' | 'falseBrake' | 'disagreement' } | { kind: 'series'; name: string } | { kind: 'diff' };

function statOf(name: string): Stat {
  if (name === SHADOW_DIFF_METRIC) return { kind: 'diff' };
  const q = /^latency\.p(\d+(?:\.\d+)?)_ms$/.exec(name);
  if (q) {
    const p = Number(q[1]);
    if (!(p >= 0 && p <= 100)) throw new InputError(`metric ${name}: the percentile must be in 0..100`);
    return { kind: 'quantile', q: p / 100 };
  }
  if (name === 'latency.mean_ms') return { kind: 'mean-latency' };
  if (name.startsWith('latency.')) throw new InputError(`metric ${name}: telemetry replay measures latency as latency.pNN_ms (e.g. latency.p95_ms) or latency.mean_ms`);
  if (name === 'error_rate') return { kind: 'rate', field: 'error' };
  if (name === 'false_emergency_braking_rate') return { kind: 'rate', field: 'falseBrake' };
  if (name === 'perception_planning_disagreement') return { kind: 'rate', field: 'disagreement' };
  return { kind: 'series', name };
}

/** Which arm a request at telemetry time t with this split counts for, if any. */
type Pick = (tS: number, split: number) => 'canary' | 'baseline' | null;

/** A value over a window, the requests it is computed from, and (for rates) how many of them were hits. */
interface Measured {
  value: number | null;
  n: number;
  hits: number;
}

class Acc {
  n = 0;
  hits = 0;
  sum = 0;
  xs: number[] = [];
}

function value(stat: Stat, acc: Acc): number | null {
  if (acc.n === 0) return null;
  switch (stat.kind) {
    case 'quantile':
      return percentileSorted(Float64Array.from(acc.xs).sort(), stat.q);
    case 'mean-latency':
    case 'series':
      return acc.xs.length ? acc.sum / acc.xs.length : null;
    case 'rate':
    case 'diff':
      return acc.hits / acc.n;
  }
}

/** Both arms' value of one metric over telemetry seconds [fromS, toS). */
function measureWindow(tel: Telemetry, stat: Stat, fromS: number, toS: number, pick: Pick): { canary: Measured; baseline: Measured } {
  const accs = { canary: new Acc(), baseline: new Acc() };
  const m0 = Math.max(0, Math.floor(fromS / 60));
  const m1 = Math.min(tel.minutes - 1, Math.ceil(toS / 60) - 1);
  for (let m = m0; m <= m1; m++) {
    const min = tel.minute[m];
    if (min.gap) continue;
    for (let j = 0; j < min.split.length; j++) {
      const t = requestTimeS(m, j, tel.perMinute);
      if (t < fromS || t >= toS) continue;
      const arm = pick(t, min.split[j]);
      if (!arm) continue;
      const acc = accs[arm];
      const s = min[arm];
      switch (stat.kind) {
        case 'quantile':
        case 'mean-latency':
          acc.n++;
          acc.xs.push(s.latencyMs[j]);
          acc.sum += s.latencyMs[j];
          break;
        case 'rate':
          acc.n++;
          acc.hits += s[stat.field][j];
          break;
        case 'series': {
          const x = s.series[stat.name]?.[j];
          if (x === undefined || Number.isNaN(x)) break;
          acc.n++;
          acc.xs.push(x);
          acc.sum += x;
          break;
        }
        case 'diff': {
          // A mirrored request is served by both: it differs when the candidate's perception
          // diverges from production's there, or one of them brakes for a phantom and the other not.
          if (arm !== 'canary') break;
          acc.n++;
          acc.hits += min.canary.disagreement[j] || min.canary.falseBrake[j] !== min.baseline.falseBrake[j] ? 1 : 0;
          break;
        }
      }
    }
  }
  const out = (a: Acc): Measured => ({ value: value(stat, a), n: a.n, hits: a.hits });
  return { canary: out(accs.canary), baseline: out(accs.baseline) };
}

function outOfBounds(m: RolloutMetric, v: number): boolean {
  return (m.max !== undefined && v > m.max) || (m.min !== undefined && v < m.min);
}

function fmt(x: number | null): string {
  if (x === null) return 'no data';
  const a = Math.abs(x);
  return a !== 0 && a < 0.01 ? x.toPrecision(3) : a < 100 ? String(Math.round(x * 1000) / 1000) : String(Math.round(x * 10) / 10);
}

function boundText(m: RolloutMetric, v: number): string {
  if (m.max !== undefined && v > m.max) return `${fmt(v)} > max ${m.max}`;
  if (m.min !== undefined && v < m.min) return `${fmt(v)} < min ${m.min}`;
  return `${fmt(v)} within [${m.min ?? '-inf'}, ${m.max ?? 'inf'}]`;
}

/** The worst value a metric reached over the walk, against its bound: "latency.p95_ms peaked at 9.41 (max 11.5)". */
function peakText(m: RolloutMetric, timeline: readonly TimelineTick[]): string {
  const values = timeline.flatMap((t) => t.metrics.filter((x) => x.name === m.name && x.value !== null).map((x) => x.value!));
  if (values.length === 0) return `${m.name}: no data`;
  return m.max !== undefined ? `${m.name} peaked at ${fmt(Math.max(...values))} (max ${m.max})` : `${m.name} fell to ${fmt(Math.min(...values))} (min ${m.min})`;
}

/** "23m", "1h02m30s" for a tick. */
function at(seconds: number): string {
  return formatDurationS(seconds);
}

// ---------------------------------------------------------------------------------------------
// The walk.

/** One stretch of the rollout at one traffic setting: a canary step, the shadow, or the A/B test. */
interface Segment {
  index: number;
  weight: number;
  duration_s: number;
  pick: (split: number) => 'canary' | 'baseline' | null;
}

interface Walk {
  plan: RolloutPlan;
  tel: Telemetry;
  limits: EffectiveLimits;
  metrics: RolloutMetric[];
  stats: Stat[];
  startS: number;
  /** Rollout seconds at which each segment started (and the segment), for picking requests by time. */
  history: { fromS: number; seg: Segment }[];
  minuteCache: Map<string, Measured>;
}

function segmentAt(w: Walk, rolloutS: number): Segment | undefined {
  for (let i = w.history.length - 1; i >= 0; i--) if (rolloutS >= w.history[i].fromS) return w.history[i].seg;
  return undefined;
}

function pickFor(w: Walk): Pick {
  return (tS, split) => {
    const seg = segmentAt(w, tS - w.startS);
    return seg ? seg.pick(split) : null;
  };
}

/** Consecutive telemetry minutes out of bounds, ending with the last whole minute before rollout time t (capped at `needed`). */
function breachMinutes(w: Walk, k: number, tS: number, needed: number): number {
  const m = w.metrics[k];
  const last = Math.floor((w.startS + tS) / 60) - 1;
  let run = 0;
  for (let minute = last; minute >= 0 && run < needed; minute--) {
    if (minute * 60 < w.startS) break;
    const key = `${k}:${minute}`;
    let v = w.minuteCache.get(key);
    if (!v) {
      v = measureWindow(w.tel, w.stats[k], minute * 60, minute * 60 + 60, pickFor(w)).canary;
      w.minuteCache.set(key, v);
    }
    if (v.value === null || !outOfBounds(m, v.value)) break;
    run++;
  }
  return run;
}

/** Measures every metric at rollout time t over the interval before it. `measured[k]` false: shown but not counted. */
function measureTick(w: Walk, tS: number, seg: Segment): { m: RolloutMetric; v: ReturnType<typeof measureWindow>; breach?: { minutes: number; needed: number } }[] {
  const from = w.startS + tS - w.limits.interval_s;
  const to = w.startS + tS;
  return w.metrics.map((m, k) => {
    const v = measureWindow(w.tel, w.stats[k], from, to, (_t, split) => seg.pick(split));
    if (m.breach_for === undefined) return { m, v };
    const needed = m.breach_for / 60;
    return { m, v, breach: { minutes: breachMinutes(w, k, tS, needed), needed } };
  });
}

function bounds(m: RolloutMetric): MetricMeasurement['bound'] {
  const b: MetricMeasurement['bound'] = {};
  for (const k of ['min', 'max', 'failure_min', 'failure_max'] as const) if (m[k] !== undefined) b[k] = m[k];
  return b;
}

/** Whether the value counts as out of bounds now: out of bounds, and (with breach_for) for long enough. */
function breached(m: RolloutMetric, value: number, breach?: { minutes: number; needed: number }): { out: boolean; tolerated: boolean } {
  if (!outOfBounds(m, value)) return { out: false, tolerated: false };
  if (breach && breach.minutes < breach.needed) return { out: false, tolerated: true };
  return { out: true, tolerated: false };
}

function toleranceNote(m: RolloutMetric, value: number, breach?: { minutes: number; needed: number }): string {
  return `${boundText(m, value)} for ${breach!.minutes}/${breach!.needed} min: not yet a breach`;
}

/** Argo: one measurement's phase (EvaluateResult), with the no-data policy and breach_for. */
function argoMeasure(m: RolloutMetric, v: number | null, noData: 'error' | 'failed' | 'successful', breach?: { minutes: number; needed: number }): { status: Exclude<MeasurementStatus, 'not-checked'>; note: string } {
  if (v === null) {
    if (noData === 'error') return { status: 'error', note: 'no data: a condition on result[0] of an empty result is an evaluation error (argoproj/argo-rollouts#1466)' };
    return { status: noData, note: `no data: measured ${noData === 'failed' ? 'Failed' : 'Successful'} (no_data: ${noData}, as len(result) ${noData === 'failed' ? '> 0 &&' : '== 0 ||'} ... would)` };
  }
  const b = breached(m, v, breach);
  if (b.tolerated) return { status: 'successful', note: toleranceNote(m, v, breach) };
  if (!b.out) return { status: 'successful', note: boundText(m, v) };
  const hasFailure = m.failure_max !== undefined || m.failure_min !== undefined;
  // EvaluateResult: without a failureCondition, a successCondition that does not hold is Failed.
  if (!hasFailure) return { status: 'failed', note: boundText(m, v) };
  const failed = (m.failure_max !== undefined && v > m.failure_max) || (m.failure_min !== undefined && v < m.failure_min);
  if (failed) return { status: 'failed', note: `${fmt(v)} past the failure bound ${m.failure_max !== undefined && v > m.failure_max ? `failure_max ${m.failure_max}` : `failure_min ${m.failure_min}`}` };
  return { status: 'inconclusive', note: `${boundText(m, v)} but within the failure bound: neither condition holds` };
}

function newCounters(): ArgoCounters {
  return { count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0, consecutiveError: 0, phase: 'Running' };
}

/** analysis.go assessMetricFailureInconclusiveOrError: the later checks override the earlier. */
function argoAssess(c: ArgoCounters, l: NonNullable<EffectiveLimits['argo']>): { phase: ArgoPhase; message: string } | undefined {
  let out: { phase: ArgoPhase; message: string } | undefined;
  if (l.failureLimit >= 0 && c.failed > l.failureLimit) out = { phase: 'Failed', message: `failed (${c.failed}) > failureLimit (${l.failureLimit})` };
  if (c.inconclusive > l.inconclusiveLimit) out = { phase: 'Inconclusive', message: `inconclusive (${c.inconclusive}) > inconclusiveLimit (${l.inconclusiveLimit})` };
  if (c.consecutiveError > l.consecutiveErrorLimit) out = { phase: 'Error', message: `consecutiveErrors (${c.consecutiveError}) > consecutiveErrorLimit (${l.consecutiveErrorLimit})` };
  return out;
}

const ARGO_ORDER: ArgoPhase[] = ['Successful', 'Running', 'Inconclusive', 'Error', 'Failed'];

/** The segments a plan walks through. */
function segmentsOf(plan: RolloutPlan): Segment[] {
  const interval = plan.analysis.interval;
  if (plan.strategy === 'canary') {
    return plan.steps!.map((s, index) => ({ index, weight: s.weight, duration_s: s.bake, pick: (split: number) => (split < s.weight / 100 ? 'canary' : 'baseline') }));
  }
  if (plan.strategy === 'shadow') {
    const mirror = plan.shadow!.mirror_percent / 100;
    // Mirrored requests are served by both; production's outcome on the same request is the baseline.
    return [{ index: 0, weight: 0, duration_s: plan.shadow!.duration, pick: (split: number) => (split < mirror ? 'canary' : null) }];
  }
  const ab = plan.ab!;
  return [{ index: 0, weight: ab.cohorts.reduce((s, c) => s + c.percent, 0) / 2, duration_s: ab.iterations * interval, pick: (split: number) => abArm(ab, split)?.arm ?? null }];
}

/**
 * Cohort and arm of a request in an A/B test: cohorts take consecutive ranges of the split; within
 * one, a bit of the split's binary expansion far below the cohort boundaries assigns A or B, so
 * the two arms are a random half each of the same cohort.
 */
function abArm(ab: NonNullable<RolloutPlan['ab']>, split: number): { cohort: string; arm: 'canary' | 'baseline' } | null {
  let lo = 0;
  for (const c of ab.cohorts) {
    const hi = lo + c.percent / 100;
    if (split >= lo && split < hi) return { cohort: c.name, arm: Math.floor(split * 2 ** 24) & 1 ? 'canary' : 'baseline' };
    lo = hi;
  }
  return null;
}

/**
 * Walks the plan over the telemetry and decides: promote after the last step's bake, roll back
 * or pause when the named semantics say so, or continue when the telemetry ends first. Returns
 * the timeline (each interval: step, weight, every metric's value, bound and status) and the
 * decision with the step and simulated time at which it was taken and why, citing the numbers.
 *   analyzeRollout(plan, telemetry).decision
 *     -> { action: 'rollback', step: 2, weight: 25, at: '23m', reason: 'argo: metric "latency.p95_ms" assessed Failed due to failed (1) > failureLimit (0) (14.8 > max 12 at 23m); ...' }
 */
export function analyzeRollout(plan: RolloutPlan, telemetry: Telemetry, opts: AnalyzeOptions = {}): RolloutAnalysisResult {
  const limits = effectiveLimits(plan);
  const metrics = [...plan.analysis.metrics];
  if (plan.strategy === 'shadow') metrics.push({ name: SHADOW_DIFF_METRIC, max: plan.shadow!.max_diff_rate });
  const w: Walk = { plan, tel: telemetry, limits, metrics, stats: metrics.map((m) => statOf(m.name)), startS: (opts.startMinute ?? 0) * 60, history: [], minuteCache: new Map() };
  const semantics = plan.analysis.semantics;
  const interval = limits.interval_s;
  const endS = telemetry.minutes * 60 - w.startS;
  if (endS <= 0) throw new InputError(`canary analysis: the rollout starts at minute ${opts.startMinute}, past the telemetry's ${telemetry.minutes} minutes`);
  const segments = segmentsOf(plan);
  const timeline: TimelineTick[] = [];
  const steps: StepOutcome[] = [];
  const label = (seg: Segment) => (plan.strategy === 'canary' ? `step ${seg.index} (${seg.weight}%)` : plan.strategy === 'shadow' ? `shadow (${plan.shadow!.mirror_percent}% mirrored)` : `A/B test (${plan.ab!.cohorts.map((c) => `${c.name} ${c.percent}%`).join(', ')})`);
  const decide = (action: RolloutAction, seg: Segment, tS: number, reason: string, stepFrom: number, ticks: number): RolloutAnalysisResult => {
    steps.push({ index: seg.index, weight: seg.weight, from_s: stepFrom, to_s: tS, ticks, decision: action, reason });
    return { strategy: plan.strategy, semantics, decision: { action, semantics, step: seg.index, weight: seg.weight, at_s: tS, at: at(tS), reason }, steps, timeline, limits };
  };

  // Argo state: one AnalysisRun (background) or one per step.
  let argo: Record<string, ArgoCounters> = Object.fromEntries(metrics.map((m) => [m.name, newCounters()]));
  // Flagger state.
  let failedChecks = 0;
  const failedAt: string[] = [];

  let t = 0;
  for (const seg of segments) {
    w.history.push({ fromS: t, seg });
    const stepFrom = t;
    const planned = seg.duration_s / interval;
    let ticks = 0;
    let lastCheckFailed = false;
    if (limits.argo?.run === 'step') argo = Object.fromEntries(metrics.map((m) => [m.name, newCounters()]));
    for (;;) {
      const tick = t + interval;
      if (semantics === 'flagger' && failedChecks >= limits.flagger!.threshold) {
        // scheduler.go advanceCanary: the counter is checked before the analysis runs.
        timeline.push({ t_s: tick, step: seg.index, weight: seg.weight, window: [t, tick], metrics: [], flagger: { check: 'not-run', failedChecks }, event: 'rollback' });
        return decide('rollback', seg, tick, `flagger: failed checks ${failedChecks} >= threshold ${limits.flagger!.threshold} (${failedAt.join('; ')}); rolled back at the next run, ${at(tick)}`, stepFrom, ticks);
      }
      if (tick > endS) {
        return decide('continue', seg, t, `telemetry ends at ${at(endS)} (minute ${telemetry.minutes}) during ${label(seg)}, ${ticks} of ${planned} intervals analysed: no decision yet`, stepFrom, ticks);
      }
      const measured = measureTick(w, tick, seg);
      ticks++;
      t = tick;
      const entry: TimelineTick = { t_s: tick, step: seg.index, weight: seg.weight, window: [tick - interval, tick], metrics: [] };
      timeline.push(entry);

      if (semantics === 'argo') {
        const l = limits.argo!;
        const active = l.run === 'step' || plan.strategy !== 'canary' || seg.index >= l.startingStep;
        const raw: Record<string, string> = {};
        for (const { m, v, breach } of measured) {
          const c = argo[m.name];
          const base = { name: m.name, value: v.canary.value, baseline: v.baseline.value, samples: v.canary.n, bound: bounds(m), noData: v.canary.value === null, ...(breach ? { breach } : {}) };
          if (!active || c.phase !== 'Running') {
            entry.metrics.push({ ...base, status: 'not-checked', note: !active ? `analysis starts at step ${l.startingStep} (startingStep)` : `metric completed ${c.phase}` });
            continue;
          }
          const r = argoMeasure(m, v.canary.value, l.no_data, breach);
          raw[m.name] = r.note;
          // runMeasurements: how each phase moves the counters.
          if (r.status === 'error') {
            c.error++;
            c.consecutiveError++;
          } else {
            c.count++;
            c.consecutiveError = 0;
            if (r.status === 'successful') c.successful++;
            else if (r.status === 'failed') c.failed++;
            else c.inconclusive++;
          }
          const verdict = argoAssess(c, l);
          if (verdict) c.phase = verdict.phase;
          else if (l.count !== null && c.count >= l.count) c.phase = 'Successful';
          entry.metrics.push({ ...base, status: r.status, note: verdict ? `${r.note}; metric ${verdict.phase}: ${verdict.message}` : r.note });
        }
        // assessRunStatus: the worst completed metric; Failed/Error/Inconclusive terminate the run.
        let worst: { phase: ArgoPhase; name: string; message: string } | undefined;
        for (const m of metrics) {
          const c = argo[m.name];
          if (c.phase === 'Running' || c.phase === 'Successful') continue;
          if (!worst || ARGO_ORDER.indexOf(c.phase) > ARGO_ORDER.indexOf(worst.phase)) worst = { phase: c.phase, name: m.name, message: argoAssess(c, l)!.message };
        }
        const allDone = metrics.every((m) => argo[m.name].phase === 'Successful');
        entry.argo = { phase: worst?.phase ?? (allDone ? 'Successful' : 'Running'), metrics: structuredClone(argo) };
        if (worst) {
          const why = `argo: metric "${worst.name}" assessed ${worst.phase} due to ${worst.message} (${raw[worst.name]} at ${at(tick)})`;
          if (worst.phase === 'Inconclusive') {
            entry.event = 'pause';
            return decide('pause', seg, tick, `${why}; an Inconclusive run pauses the rollout for a person to resume or abort`, stepFrom, ticks);
          }
          entry.event = 'rollback';
          return decide('rollback', seg, tick, `${why}; the rollout aborts and the canary weight returns to 0`, stepFrom, ticks);
        }
      } else {
        let failed: { name: string; note: string } | undefined;
        for (const { m, v, breach } of measured) {
          const base = { name: m.name, value: v.canary.value, baseline: v.baseline.value, samples: v.canary.n, bound: bounds(m), noData: v.canary.value === null, ...(breach ? { breach } : {}) };
          if (failed) {
            entry.metrics.push({ ...base, status: 'not-checked', note: `not queried: ${failed.name} already failed this check` });
            continue;
          }
          if (v.canary.value === null) {
            failed = { name: m.name, note: 'no values found (no data counts as a failed check)' };
            entry.metrics.push({ ...base, status: 'failed', note: failed.note });
            continue;
          }
          const b = breached(m, v.canary.value, breach);
          if (b.out) {
            failed = { name: m.name, note: boundText(m, v.canary.value) };
            entry.metrics.push({ ...base, status: 'failed', note: failed.note });
          } else entry.metrics.push({ ...base, status: 'successful', note: b.tolerated ? toleranceNote(m, v.canary.value, breach) : boundText(m, v.canary.value) });
        }
        lastCheckFailed = failed !== undefined;
        if (failed) {
          failedChecks++;
          failedAt.push(`${failed.name} ${failed.note} at ${at(tick)}`);
          entry.event = 'halt advancement';
        }
        entry.flagger = { check: failed ? 'failed' : 'passed', failedChecks };
      }

      if (ticks >= planned && !(semantics === 'flagger' && lastCheckFailed)) break;
    }
    const last = seg === segments[segments.length - 1];
    if (!last) {
      const next = segments[segments.indexOf(seg) + 1];
      timeline[timeline.length - 1].event ??= `advance to ${label(next)}`;
      steps.push({ index: seg.index, weight: seg.weight, from_s: stepFrom, to_s: t, ticks, decision: 'continue', reason: `${label(seg)} baked ${formatDurationS(t - stepFrom)} over ${ticks} intervals${ticks > planned ? ` (${ticks - planned} more than planned: advancement halted by failed checks)` : ''}; advancing to ${label(next)}` });
      continue;
    }
    const counted = semantics === 'flagger' ? `failed checks ${failedChecks} < threshold ${limits.flagger!.threshold}` : metrics.map((m) => `${m.name} failed ${argo[m.name].failed}, inconclusive ${argo[m.name].inconclusive}, errors ${argo[m.name].error}`).join('; ');
    const summary = `${counted}${metrics.length ? `; ${metrics.map((m) => peakText(m, timeline)).join('; ')}` : ''}`;
    if (plan.strategy === 'ab') {
      const res = abDecision(w, seg, t, summary);
      const out = decide(res.action, seg, t, res.reason, stepFrom, ticks);
      timeline[timeline.length - 1].event = res.action;
      return { ...out, ab: res.ab };
    }
    timeline[timeline.length - 1].event = 'promote';
    const what = plan.strategy === 'shadow' ? `the shadow passed (${SHADOW_DIFF_METRIC} <= ${plan.shadow!.max_diff_rate} at every check that counted)` : `the last step's bake is done`;
    return decide('promote', seg, t, `${semantics}: ${label(seg)} completed at ${at(t)}; ${what}; ${summary}`, stepFrom, ticks);
  }
  throw new Error('unreachable: a plan has at least one segment');
}

/** The design's name for the canary case: the same walk (analyzeRollout covers shadow and A/B too). */
export const analyzeCanary = analyzeRollout;

/**
 * One-sided two-proportion z-test (pooled) for "B's rate is above A's": z = (pB - pA) / se,
 * se = sqrt(p (1 - p) (1/nA + 1/nB)) with p the pooled rate; p-value = 1 - Phi(z). When the pooled
 * rate is 0 or 1 the two rates are equal and there is no evidence either way: z = 0, p = 0.5.
 *   twoProportionTest(10, 1000, 25, 1000) -> { z: 2.5579, p: 0.005265 } (as scipy.stats.norm.sf(z) gives)
 */
export function twoProportionTest(xA: number, nA: number, xB: number, nB: number): { pA: number; pB: number; z: number; p: number } {
  const pA = xA / nA;
  const pB = xB / nB;
  const pooled = (xA + xB) / (nA + nB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nA + 1 / nB));
  const z = se > 0 ? (pB - pA) / se : 0;
  return { pA, pB, z, p: 0.5 * erfc(z / Math.SQRT2) };
}

function abDecision(w: Walk, seg: Segment, tS: number, summary: string): { action: RolloutAction; reason: string; ab: NonNullable<RolloutAnalysisResult['ab']> } {
  const ab = w.plan.ab!;
  const rate = (RATE_METRICS as readonly string[]).includes(ab.metric);
  const stat = statOf(ab.metric);
  const from = w.startS + tS - seg.duration_s;
  const to = w.startS + tS;
  const cohorts: AbCohortResult[] = ab.cohorts.map((c) => {
    const v = measureWindow(w.tel, stat, from, to, (_t, split) => {
      const r = abArm(ab, split);
      return r && r.cohort === c.name ? r.arm : null;
    });
    const nA = v.baseline.n;
    const nB = v.canary.n;
    const enough = nA >= ab.min_samples && nB >= ab.min_samples;
    const delta = v.canary.value !== null && v.baseline.value !== null ? v.canary.value - v.baseline.value : null;
    const res: AbCohortResult = { cohort: c.name, nA, nB, valueA: v.baseline.value, valueB: v.canary.value, delta, enough, worse: false };
    if (rate && nA > 0 && nB > 0) {
      const t = twoProportionTest(v.baseline.hits, nA, v.canary.hits, nB);
      res.z = t.z;
      res.p = t.p;
      res.worse = enough && t.p < ab.alpha && (ab.max_delta === undefined || delta! > ab.max_delta);
    } else if (!rate) res.worse = enough && delta !== null && delta > ab.max_delta!;
    return res;
  });
  const result = { metric: ab.metric, test: rate ? ('two-proportion z' as const) : ('delta' as const), cohorts };
  const show = (c: AbCohortResult) => `${c.cohort}: B ${fmt(c.valueB)} (n ${c.nB}) vs A ${fmt(c.valueA)} (n ${c.nA})${c.p !== undefined ? `, z ${c.z!.toFixed(2)}, p ${c.p.toPrecision(3)}` : c.delta !== null ? `, delta ${fmt(c.delta)}` : ''}`;
  const worse = cohorts.filter((c) => c.worse);
  if (worse.length) return { action: 'rollback', reason: `${w.plan.analysis.semantics}: A/B on ${ab.metric} after ${at(seg.duration_s)}: the candidate is worse in ${worse.map(show).join('; ')} (${rate ? `one-sided p < alpha ${ab.alpha}` : `delta > max_delta ${ab.max_delta}`}${rate && ab.max_delta !== undefined ? ` and delta > max_delta ${ab.max_delta}` : ''})`, ab: result };
  const short = cohorts.filter((c) => !c.enough);
  if (short.length) return { action: 'continue', reason: `${w.plan.analysis.semantics}: A/B on ${ab.metric} after ${at(seg.duration_s)}: fewer than min_samples ${ab.min_samples} per arm in ${short.map(show).join('; ')}: not enough evidence yet, keep the test running`, ab: result };
  return { action: 'promote', reason: `${w.plan.analysis.semantics}: A/B on ${ab.metric} after ${at(seg.duration_s)}: not worse in any cohort (${cohorts.map(show).join('; ')}); ${summary}`, ab: result };
}
