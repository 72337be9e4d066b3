/**
 * What the `sim` step writes for people and for the workbench (docs/sim.md): the heat map of
 * violations per scenario x parameter set (sim_heatmap.json, artifact role `sim-heatmap`), and
 * the `data` of each `failure` event it emits for a failed run (kind `sim.<what>`), which the
 * simulation screen reads back from the run store.
 */
import { z } from 'zod';

/** The world's conditions of one run, as the sweep randomised them. */
export const SimConditionsRecord = z
  .object({
    weather: z.string(),
    timeOfDay: z.string(),
    region: z.string(),
    density: z.number(),
  })
  .strict();

/** One cell of the heat map: every run of one scenario's parameter set (over seeds and conditions) for one model. */
export const SimHeatmapCell = z
  .object({
    paramIndex: z.number().int().nonnegative(),
    model: z.string(),
    runs: z.number().int().nonnegative(),
    /** Runs with at least one violation of any kind. */
    failed: z.number().int().nonnegative(),
    /** Runs per violation type: collision, vru-near-miss, offroad, speeding, lane-departure, stop-line. */
    byType: z.record(z.string(), z.number().int().nonnegative()),
  })
  .strict();

export const SimHeatmapScenario = z
  .object({
    scenario: z.string(),
    category: z.string(),
    file: z.string(),
    /** The parameter sets, in expansion order: index, the values, and a short label for a column head ("v=30 h=12"). */
    columns: z.array(z.object({ paramIndex: z.number().int().nonnegative(), label: z.string(), parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])) }).strict()),
    cells: z.array(SimHeatmapCell),
  })
  .strict();

export const SimHeatmap = z
  .object({
    format: z.literal('paddock.sim-heatmap/1'),
    /** The violation types the cells count, in display order. */
    types: z.array(z.string()),
    models: z.array(z.string()),
    scenarios: z.array(SimHeatmapScenario),
  })
  .strict();
export type SimHeatmap = z.infer<typeof SimHeatmap>;

/** A failed run as a failure event's `data` (the evidence carries the clip and the trace). */
export const SimFailureData = z
  .object({
    runId: z.string(),
    scenario: z.string(),
    category: z.string(),
    paramIndex: z.number().int().nonnegative(),
    parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    seed: z.number().int(),
    conditions: SimConditionsRecord,
    model: z.string(),
    /** The violation types of the run (collision first), and a severity score that orders the triage list (higher: worse). */
    types: z.array(z.string()).min(1),
    severityScore: z.number(),
    /** The run's figures (src/schema/sim-types.ts RunMetrics), as recorded. */
    metrics: z.record(z.string(), z.unknown()),
    /** The same run driven by the baseline (production), where the sweep ran it: did it fail too? */
    baseline: z.object({ model: z.string(), failed: z.boolean(), types: z.array(z.string()) }).strict().optional(),
    /** Files: the clip (GIF), the trace (JSON), relative to the step's out folder or absolute. */
    clip: z.string().optional(),
    trace: z.string().optional(),
    /** Frames of the clip, and its rate, for the terminal player. */
    clipFrames: z.number().int().nonnegative().optional(),
    fps: z.number().positive().optional(),
  })
  .strict();
export type SimFailureData = z.infer<typeof SimFailureData>;

/** One run as the report records it (a row of sim_summary.parquet, plus its parameters and conditions). */
export const SimRunRecord = z
  .object({
    runId: z.string().min(1),
    /** The run's spec less the model: the candidate's and production's runs of one key are a pair. */
    pairKey: z.string().min(1),
    scenario: z.string(),
    category: z.string(),
    file: z.string(),
    paramIndex: z.number().int().nonnegative(),
    parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    seed: z.number().int(),
    conditions: SimConditionsRecord,
    model: z.string(),
    ended: z.enum(['duration', 'stop-trigger', 'collision']),
    steps: z.number().int().nonnegative(),
    distanceKm: z.number().nonnegative(),
    collision: z.object({ t: z.number(), actor: z.string(), actorCls: z.string(), relativeSpeed: z.number(), egoSpeed: z.number() }).strict().nullable(),
    offroadIncidents: z.number().int().nonnegative(),
    speedingS: z.number().nonnegative(),
    laneDepartures: z.number().int().nonnegative(),
    stopLines: z.number().int().nonnegative(),
    ttcMin: z.number().nullable(),
    vruNearMisses: z.number().int().nonnegative(),
    firstBrakeT: z.number().nullable(),
    firstBrakeDistance: z.number().nullable(),
    /** The true TTC to the nearest closing actor at the first braking step (null: no braking, or nothing closing). */
    firstBrakeTtc: z.number().nullable(),
    peakJerk: z.number(),
    rmsJerk: z.number(),
    peakDecel: z.number(),
    peakAccel: z.number(),
    rmsAccel: z.number(),
    aeb: z.enum(['none', 'warn', 'partial', 'full']),
    /** Violation types of the run (collision first); empty: it passed. */
    types: z.array(z.string()),
    severityScore: z.number(),
    trace: z.string().optional(),
    clip: z.string().optional(),
  })
  .strict();
export type SimRunRecord = z.infer<typeof SimRunRecord>;

/** An estimate with its interval (Wilson score for rates, t for means), at `level`. */
export const SimInterval = z.object({ estimate: z.number(), lo: z.number(), hi: z.number(), level: z.number(), n: z.number().int().nonnegative() }).strict();

/** Figures of one model over a group of runs (a scenario, a category, or all), with intervals over seeds. */
export const SimAggregate = z
  .object({
    scope: z.enum(['scenario', 'category', 'overall']),
    key: z.string(),
    model: z.string(),
    runs: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    collisions: z.number().int().nonnegative(),
    collisionRate: SimInterval,
    km: z.number().nonnegative(),
    /** Null when no distance was driven. */
    collisionsPer1000Km: z.number().nullable(),
    vruNearMisses: z.number().int().nonnegative(),
    vruNearMissesPerRun: SimInterval.nullable(),
    offroadIncidents: z.number().int().nonnegative(),
    violations: z.object({ speedingRuns: z.number().int(), laneDepartures: z.number().int(), stopLines: z.number().int() }).strict(),
    /** 5th percentile of the runs' minimum TTC (numpy's linear definition); null: no run was ever closing. */
    ttcMinP5: z.number().nullable(),
    firstBrakeT: SimInterval.nullable(),
    firstBrakeTtc: SimInterval.nullable(),
    rmsJerk: SimInterval.nullable(),
    peakJerk: SimInterval.nullable(),
    rmsAccel: SimInterval.nullable(),
    peakDecel: SimInterval.nullable(),
  })
  .strict();
export type SimAggregate = z.infer<typeof SimAggregate>;

/** Candidate against the baseline on the same run keys: a mean paired delta (cand - base) with its interval and p, or McNemar's exact test for collisions. */
export const SimPaired = z
  .object({
    scope: z.enum(['scenario', 'category', 'overall']),
    key: z.string(),
    metric: z.string(),
    candidate: z.string(),
    baseline: z.string(),
    n: z.number().int().nonnegative(),
    meanDelta: z.number().nullable(),
    lo: z.number().nullable(),
    hi: z.number().nullable(),
    /** Two-sided p of the paired test (sign-flip permutation / bootstrap; McNemar exact for collisions). */
    p: z.number().nullable(),
    /** McNemar's discordant pairs: candidate collided and baseline not (b), the reverse (c). */
    discordant: z.object({ b: z.number().int(), c: z.number().int() }).strict().optional(),
  })
  .strict();
export type SimPaired = z.infer<typeof SimPaired>;

/** For a failed run, the evaluate stage's slices that describe its conditions, worst candidate delta first. */
export const SimOfflineLink = z
  .object({
    runId: z.string(),
    scenario: z.string(),
    tokens: z.array(z.string()),
    slices: z.array(z.object({ slice: z.string(), ap: z.number(), delta: z.number().nullable(), pAdjusted: z.number().nullable(), critical: z.boolean() }).strict()),
  })
  .strict();

/** sim_report.json: what the `sim` step ran and measured (artifact role `sim-report`); the Sim Gate and the registry read it. */
export const SimReport = z
  .object({
    format: z.literal('paddock.sim-report/1'),
    candidate: z.string(),
    baseline: z.string().nullable(),
    level: z.number().positive().lt(1),
    thresholds: z.record(z.string(), z.unknown()),
    sweep: z.object({ runs: z.number().int().nonnegative(), scenarios: z.number().int().nonnegative(), seeds: z.number().int().nonnegative(), rateHz: z.number().positive().optional(), wallS: z.number().nonnegative().optional() }).strict(),
    runs: z.array(SimRunRecord),
    aggregates: z.array(SimAggregate),
    paired: z.array(SimPaired),
    /** Which offline slice numbers describe the sim failures (evaluate's eval_report.json, when given). */
    offline: z.object({ evalReport: z.string(), links: z.array(SimOfflineLink), ranking: z.array(z.object({ slice: z.string(), failures: z.number().int(), delta: z.number().nullable(), ap: z.number() }).strict()) }).strict().nullable(),
    files: z.record(z.string(), z.string()),
  })
  .strict();
export type SimReport = z.infer<typeof SimReport>;
