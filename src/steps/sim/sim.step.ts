/**
 * The `sim` step: a closed-loop sweep (src/sim/sweep.ts: scenarios x parameter sets x seeds x
 * conditions x models, shards on the host pool) with the models driving; per run its safety and
 * comfort figures, aggregated per scenario and category with intervals over seeds, the candidate
 * paired against production on the same runs, failures with clips, sim_summary.parquet,
 * per-scenario JSON and CSV, the violation heat map, sim_report.json, and a Simulation section in
 * the evaluation's evaluation_summary.md (body: ./sim.ts).
 */
import { z } from 'zod';
import { defineStep, nodeStep, absPath } from '../define.js';
import { SweepParams, BUILTIN_DETECTORS } from '../../sim/sweep.js';
import { SafetyThresholds } from '../../metrics/safety.js';

/** Clips of failed runs (src/sim/clip.ts). */
const ClipParams = z
  .object({
    enabled: z.boolean().default(true),
    fps: z.number().positive().optional(),
    max_frames: z.number().int().positive().default(80),
    scale: z.number().int().min(1).max(4).default(1),
    /** `failure`: the seconds around the failure; `all`: the whole run. */
    window: z.enum(['failure', 'all']).default('failure'),
    /** At most this many clips (the worst runs first); every failed run still gets a failure event. */
    max: z.number().int().min(0).default(50),
  })
  .strict();

export const SimParams = SweepParams.extend({
  /** The model judged (default: the first of `models`), and the one it is paired against (default: the second, if any). */
  candidate: z.string().min(1).optional(),
  baseline: z.string().min(1).optional(),
  thresholds: SafetyThresholds.default(SafetyThresholds.parse({})),
  /** Confidence level of the intervals over seeds and of the paired intervals. */
  level: z.number().gt(0).lt(1).default(0.95),
  clips: ClipParams.default(ClipParams.parse({})),
  /** The evaluate stage's output folder (or its eval_report.json): which offline slices describe the sim failures; its evaluation_summary.md gets a Simulation section. */
  evaluate: z.string().min(1).optional(),
  /** ONNX Runtime intra-op threads per shard process. */
  threads: z.number().int().positive().default(1),
  /** At most this many failure events (the worst first); all failed runs are in the report. */
  max_failures: z.number().int().min(0).default(200),
  out: z.string().default('sim'),
  /** The recipe's folder, where a hosts.yaml beside it is found (set by the step's invocation). */
  recipe_dir: z.string().optional(),
}).strict();
export type SimParams = z.output<typeof SimParams>;

const MODEL_FILES = ['model.onnx', 'inference_config.json'];

export const simStep = defineStep({
  name: 'sim',
  stage: 'replay',
  summary: 'closed-loop simulation: NCAP-style scenario sweeps with the model driving, safety and comfort metrics with CIs over seeds, paired against production, failure clips, heat maps',
  produces: ['sim.*'],
  with: SimParams,
  reportsAs: (w) => (Array.isArray((w as { models?: unknown }).models) ? ((w as { models: { name?: unknown }[] }).models.flatMap((m) => (typeof m.name === 'string' ? [m.name] : []))) : []),
  invoke(w, ctx) {
    const params = {
      ...w,
      scenarios: w.scenarios.map((s) => ({ ...s, file: absPath(ctx, s.file), ...(s.distribution ? { distribution: absPath(ctx, s.distribution) } : {}) })),
      models: w.models.map((m) => ({ ...m, model: m.model in BUILTIN_DETECTORS ? m.model : absPath(ctx, m.model) })),
      out: absPath(ctx, w.out),
      recipe_dir: ctx.baseDir,
      ...(w.hosts_file ? { hosts_file: absPath(ctx, w.hosts_file) } : {}),
      ...(w.evaluate ? { evaluate: absPath(ctx, w.evaluate) } : {}),
    };
    const inputs = [
      ...params.scenarios.flatMap((s) => [s.file, ...(s.distribution ? [s.distribution] : [])]),
      ...params.models.flatMap((m) => (m.model in BUILTIN_DETECTORS ? [] : MODEL_FILES.map((f) => `${m.model}/${f}`))),
    ];
    return nodeStep(ctx, 'sim', params, [...new Set(inputs)]);
  },
  container: { unsupported: "it runs the sweep's shards on the host pool from the machine that holds the sweep's checkpoint" },
  load: async () => ({ params: SimParams, run: (await import('./sim.js')).runSim }),
});
