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
    /** The run's figures (src/sim/types.ts RunMetrics), as recorded. */
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
