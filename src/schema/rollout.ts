/**
 * A recipe's rollout plan: how a candidate reaches production traffic (canary steps with a bake
 * time each, a shadow on mirrored traffic, or an A/B test by cohort) and the canary analysis that
 * decides at each interval, under one of two named counting semantics:
 *
 *   rollout:
 *     strategy: canary
 *     steps: [{ weight: 1, bake: 10m }, { weight: 5, bake: 10m }, { weight: 25, bake: 10m }, { weight: 100, bake: 10m }]
 *     analysis:
 *       semantics: argo            # or flagger
 *       interval: 1m
 *       failureLimit: 0
 *       metrics:
 *         - { name: latency.p95_ms, max: 12, breach_for: 3m }
 *         - { name: error_rate, max: 0.01 }
 *
 * Durations are written as Argo Rollouts and Flagger write them (Go's time.ParseDuration units:
 * "90s", "10m", "1h30m") and are seconds after parsing. Field names that are one tool's
 * (failureLimit, inconclusiveLimit, consecutiveErrorLimit, count, startingStep for Argo Rollouts;
 * threshold for Flagger) keep that tool's spelling and meaning, and are refused under the other
 * tool's semantics, so a plan never silently means something else than it says. What the
 * semantics do with them is src/registry/canary.ts.
 */
import { z } from 'zod';
import { InputError } from '../files/input-error.js';
import { parseYamlWith } from './recipe-load.js';

const UNIT_S: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/**
 * Seconds in a Go-style duration ("10m" -> 600, "1h30m" -> 5400, "500ms" -> 0.5); undefined when
 * the text is not one. Argo Rollouts' `interval` and Flagger's `interval` are such strings.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT_S[m[2]];
  return total;
}

/** "600" -> "10m", "90" -> "1m30s": a duration in seconds written back the way a plan writes it. */
export function formatDurationS(seconds: number): string {
  if (!(seconds >= 0) || !Number.isFinite(seconds)) return '-';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round((seconds % 60) * 1000) / 1000;
  const out = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return out || '0s';
}

const DURATION_HINT = 'expected a duration such as "90s", "10m" or "1h30m" (units ms, s, m, h, as Argo Rollouts and Flagger write them)';

/** A positive duration in whole seconds, written as text; seconds after parsing. */
export const Duration = z.string({ error: DURATION_HINT }).transform((text, ctx) => {
  const s = parseDuration(text);
  if (s === undefined) {
    ctx.addIssue({ code: 'custom', message: `${DURATION_HINT}, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  if (!(s > 0) || !Number.isInteger(s)) {
    ctx.addIssue({ code: 'custom', message: `expected a positive whole number of seconds, got ${JSON.stringify(text)} (${s}s)` });
    return z.NEVER;
  }
  return s;
});

/**
 * One SLO of the analysis, on the canary's telemetry over each interval. `name` is one of the
 * metrics telemetry replay produces (latency.p95_ms or any latency.pNN_ms / latency.mean_ms,
 * error_rate, false_emergency_braking_rate, perception_planning_disagreement) or any other name,
 * read from the telemetry's series of that name (none there: every interval has no data).
 */
export const RolloutMetric = z
  .object({
    name: z.string().min(1),
    /** The accepted range: Flagger's thresholdRange {min, max}; Argo's successCondition `min <= result <= max`. */
    max: z.number().finite().optional(),
    min: z.number().finite().optional(),
    /**
     * Argo only: the failureCondition `result > failure_max || result < failure_min`. With it, a
     * value outside [min, max] but not past the failure bound is Inconclusive (neither condition
     * holds); without it a value outside [min, max] is Failed (argo-rollouts utils/evaluate/evaluate.go
     * EvaluateResult: "without a failure condition, a measurement is considered a failure if the
     * measurement's success condition is not true").
     */
    failure_max: z.number().finite().optional(),
    failure_min: z.number().finite().optional(),
    /**
     * A breach only when the per-minute value has been out of [min, max] for this many consecutive
     * minutes of telemetry (whole minutes): the "breach for N minutes" neither tool has (Argo
     * Rollouts has consecutiveSuccessLimit but no consecutive-failure limit, argoproj/argo-rollouts#4792).
     */
    breach_for: Duration.optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.max === undefined && m.min === undefined) ctx.addIssue({ code: 'custom', path: ['max'], message: 'a metric needs a bound: max, min or both (Flagger thresholdRange, Argo successCondition)' });
    if (m.min !== undefined && m.max !== undefined && m.min > m.max) ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${m.min}) is above max (${m.max})` });
    if (m.failure_max !== undefined && (m.max === undefined || m.failure_max < m.max)) ctx.addIssue({ code: 'custom', path: ['failure_max'], message: `failure_max needs a max at or below it (values in (max, failure_max] are Inconclusive)` });
    if (m.failure_min !== undefined && (m.min === undefined || m.failure_min > m.min)) ctx.addIssue({ code: 'custom', path: ['failure_min'], message: `failure_min needs a min at or above it (values in [failure_min, min) are Inconclusive)` });
    if (m.breach_for !== undefined && m.breach_for % 60 !== 0) ctx.addIssue({ code: 'custom', path: ['breach_for'], message: `breach_for counts whole minutes of telemetry (e.g. "3m"), got ${m.breach_for}s` });
  });
export type RolloutMetric = z.infer<typeof RolloutMetric>;

/** Keys that only one tool's semantics reads. */
const ARGO_ONLY = ['failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit', 'count', 'no_data', 'run', 'startingStep'] as const;
const FLAGGER_ONLY = ['threshold'] as const;

export const RolloutAnalysis = z
  .object({
    semantics: z.enum(['argo', 'flagger']),
    /** How often the metrics are measured, each over the interval just past. Flagger's default: 60s (AnalysisInterval). */
    interval: Duration.default(60),
    metrics: z.array(RolloutMetric).default([]),
    /**
     * Argo: failed measurements tolerated per metric; the metric fails when failed > failureLimit.
     * Default 0. Argo's -1 (disabled) is valid there only beside consecutiveSuccessLimit (docs:
     * "One of them has to be applicable ... otherwise a validation error is thrown"), which paddock
     * does not run, so it is refused here.
     */
    failureLimit: z.number().int().min(0, { error: 'failureLimit must be 0 or more: Argo accepts -1 (disabled) only together with consecutiveSuccessLimit, which paddock does not run' }).optional(),
    /** Argo: inconclusive measurements tolerated; inconclusive > inconclusiveLimit makes the run Inconclusive, which pauses. Default 0. */
    inconclusiveLimit: z.number().int().min(0).optional(),
    /** Argo: measurement errors tolerated in a row; consecutive errors > limit make the run Error, which aborts. Default 4. */
    consecutiveErrorLimit: z.number().int().min(0).optional(),
    /** Argo: measurements per metric after which the run completes Successful (unset: until the rollout ends). */
    count: z.number().int().min(1).optional(),
    /**
     * Argo: what an interval with no samples measures, which in Argo depends on how the condition is
     * written (docs/features/analysis.md "Empty array"): `result[0] >= x` on an empty result is an
     * evaluation error ("error", the default, argoproj/argo-rollouts#1466); `len(result) > 0 && ...`
     * is "failed"; `len(result) == 0 || ...` is "successful".
     */
    no_data: z.enum(['error', 'failed', 'successful']).optional(),
    /** Argo: one background AnalysisRun over the whole rollout (default) or one run per step (inline analysis steps). */
    run: z.enum(['background', 'step']).optional(),
    /** Argo: background analysis starts at this step index (spec.strategy.canary.analysis.startingStep). */
    startingStep: z.number().int().min(0).optional(),
    /** Flagger: failed checks before rollback (failedChecks >= threshold rolls back). Default 1 (GetAnalysisThreshold). */
    threshold: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const wrong = a.semantics === 'flagger' ? ARGO_ONLY : FLAGGER_ONLY;
    for (const k of wrong) {
      if ((a as Record<string, unknown>)[k] === undefined) continue;
      ctx.addIssue({
        code: 'custom',
        path: [k],
        message: a.semantics === 'flagger' ? `"${k}" is Argo Rollouts' (semantics: argo); Flagger counts failed checks against "threshold"` : `"${k}" is Flagger's (semantics: flagger); Argo Rollouts counts failed measurements against "failureLimit"`,
      });
    }
    if (a.semantics === 'flagger') {
      a.metrics.forEach((m, i) => {
        for (const k of ['failure_max', 'failure_min'] as const) {
          if (m[k] !== undefined) ctx.addIssue({ code: 'custom', path: ['metrics', i, k], message: `"${k}" is an Argo failureCondition; Flagger's thresholdRange has only min and max (a check passes or fails)` });
        }
      });
    }
    const names = new Set<string>();
    a.metrics.forEach((m, i) => {
      if (names.has(m.name)) ctx.addIssue({ code: 'custom', path: ['metrics', i, 'name'], message: `metric "${m.name}" is listed twice (Argo refuses two metrics of one name)` });
      names.add(m.name);
    });
  });
export type RolloutAnalysis = z.infer<typeof RolloutAnalysis>;

export const RolloutStep = z
  .object({
    /** Percent of traffic the canary serves in this step (Argo setWeight, Flagger stepWeights). */
    weight: z.number().gt(0).max(100),
    /** How long the step holds before the next (Argo pause duration; Flagger holds each weight one interval). */
    bake: Duration,
  })
  .strict();
export type RolloutStep = z.infer<typeof RolloutStep>;

export const ShadowPlan = z
  .object({
    /** Percent of production requests mirrored to the candidate (its responses are discarded). */
    mirror_percent: z.number().gt(0).max(100),
    /** The largest tolerated fraction of mirrored requests on which the candidate behaves differently. */
    max_diff_rate: z.number().min(0).max(1),
    duration: Duration,
  })
  .strict();
export type ShadowPlan = z.infer<typeof ShadowPlan>;

/** Metrics whose A/B comparison is a two-proportion test (the rest compare by their delta). */
export const RATE_METRICS = ['error_rate', 'false_emergency_braking_rate', 'perception_planning_disagreement'] as const;

export const AbPlan = z
  .object({
    /** Slices of traffic, each split at random between production (A) and the candidate (B). */
    cohorts: z.array(z.object({ name: z.string().min(1), percent: z.number().gt(0).max(100) }).strict()).min(1),
    /** What is compared per cohort: a rate (two-proportion z-test) or any other metric (its delta). */
    metric: z.string().min(1),
    /** Requests each arm of each cohort needs before the comparison counts. */
    min_samples: z.number().int().min(1),
    /** How many analysis intervals the test runs (Flagger's A/B `iterations`: it lasts interval * iterations). */
    iterations: z.number().int().min(1),
    /** One-sided significance level for "B is worse". */
    alpha: z.number().gt(0).lt(1).default(0.05),
    /** Tolerated B - A difference: required for non-rate metrics, optional for rates (then also required to be exceeded). */
    max_delta: z.number().min(0).optional(),
  })
  .strict();
export type AbPlan = z.infer<typeof AbPlan>;

export const RolloutPlan = z
  .object({
    strategy: z.enum(['canary', 'shadow', 'ab']),
    steps: z.array(RolloutStep).min(1).optional(),
    analysis: RolloutAnalysis,
    shadow: ShadowPlan.optional(),
    ab: AbPlan.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const interval = p.analysis.interval;
    const need = (key: 'steps' | 'shadow' | 'ab') => {
      if (p[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `strategy ${p.strategy} needs "${key}"` });
    };
    for (const key of ['steps', 'shadow', 'ab'] as const) {
      const owner = key === 'steps' ? 'canary' : key;
      if (p[key] !== undefined && p.strategy !== owner) ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is read only with strategy: ${owner} (this plan's strategy is ${p.strategy})` });
    }
    if (p.strategy === 'canary') {
      need('steps');
      if (p.analysis.metrics.length === 0) ctx.addIssue({ code: 'custom', path: ['analysis', 'metrics'], message: 'a canary analysis needs at least one metric' });
      (p.steps ?? []).forEach((s, i, all) => {
        if (i > 0 && s.weight <= all[i - 1].weight) ctx.addIssue({ code: 'custom', path: ['steps', i, 'weight'], message: `weights must increase step by step (step ${i - 1} has ${all[i - 1].weight}, this one ${s.weight})` });
        if (s.bake % interval !== 0) ctx.addIssue({ code: 'custom', path: ['steps', i, 'bake'], message: `bake (${formatDurationS(s.bake)}) must be a whole number of analysis intervals (${formatDurationS(interval)}), so that each interval belongs to one step` });
      });
      const start = p.analysis.startingStep;
      if (start !== undefined && p.steps && start >= p.steps.length) ctx.addIssue({ code: 'custom', path: ['analysis', 'startingStep'], message: `startingStep ${start} is past the last step (${p.steps.length - 1})` });
    }
    if (p.strategy === 'shadow') {
      need('shadow');
      if (p.shadow && p.shadow.duration % interval !== 0) ctx.addIssue({ code: 'custom', path: ['shadow', 'duration'], message: `duration (${formatDurationS(p.shadow.duration)}) must be a whole number of analysis intervals (${formatDurationS(interval)})` });
    }
    if (p.strategy === 'ab') {
      need('ab');
      if (p.ab) {
        const total = p.ab.cohorts.reduce((s, c) => s + c.percent, 0);
        if (total > 100 + 1e-9) ctx.addIssue({ code: 'custom', path: ['ab', 'cohorts'], message: `cohorts take ${total}% of traffic; at most 100%` });
        const seen = new Set<string>();
        p.ab.cohorts.forEach((c, i) => {
          if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: ['ab', 'cohorts', i, 'name'], message: `cohort "${c.name}" is listed twice` });
          seen.add(c.name);
        });
        if (!(RATE_METRICS as readonly string[]).includes(p.ab.metric) && p.ab.max_delta === undefined) ctx.addIssue({ code: 'custom', path: ['ab', 'max_delta'], message: `"${p.ab.metric}" is not a rate (${RATE_METRICS.join(', ')}), so it is compared by its delta: give max_delta` });
      }
    }
  });
export type RolloutPlan = z.infer<typeof RolloutPlan>;
export type RolloutPlanInput = z.input<typeof RolloutPlan>;

/** Thrown by parseRolloutPlanValue: every problem as `path: message`. */
export class RolloutPlanError extends InputError {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'RolloutPlanError';
  }
}

/**
 * A plan from YAML text (a rollout file, or the recipe's `rollout:` mapping on its own), with
 * errors located `file:line:col path: message` (recipe-load's parseYamlWith).
 */
export function parseRolloutPlan(text: string, file: string): RolloutPlan {
  return parseYamlWith(text, file, RolloutPlan).value;
}

/** A plan from a value already parsed (a recipe's `rollout`), with errors named by path: `steps[2].bake: expected ...`. */
export function parseRolloutPlanValue(value: unknown, where = 'rollout'): RolloutPlan {
  const r = RolloutPlan.safeParse(value);
  if (r.success) return r.data;
  throw new RolloutPlanError(
    r.error.issues.map((i) => {
      const path = i.path.map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`)).join('');
      const at = where ? (path ? `${where}.${path}`.replace('.[', '[') : where) : path;
      const msg = i.code === 'unrecognized_keys' ? `unknown key ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
      return `${at}: ${msg}`;
    }),
  );
}
