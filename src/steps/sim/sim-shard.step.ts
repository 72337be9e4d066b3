/**
 * The `sim-shard` step: one shard of a closed-loop sweep (src/sim/sweep.ts), its runs advancing
 * in lockstep with one batched inference call per tick; each run's trace and RunMetrics are
 * written under `<out>/runs/` (body: ./sim-shard.ts). The `sim` step's sweep submits it to the
 * host pool; a recipe does not name it.
 */
import { z } from 'zod';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineStep, nodeStep, absPath } from '../define.js';
import { TrackerParams } from '../../replay/tracker.js';
import { PlannerParams } from '../../sim/planner.js';
import { VehicleParams } from '../../sim/dynamics.js';
import { SafetyThresholds } from '../../metrics/safety.js';
import { REGIONS, TIMES_OF_DAY, WEATHERS } from '../../world/scene.js';

const RunSpec = z
  .object({
    runId: z.string().min(1),
    scenarioFile: z.string().min(1),
    parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    paramIndex: z.number().int().nonnegative(),
    seed: z.number().int().nonnegative(),
    conditions: z.object({ weather: z.enum(WEATHERS), timeOfDay: z.enum(TIMES_OF_DAY), region: z.enum(REGIONS), density: z.number().nonnegative() }).strict(),
    model: z.string().min(1),
    modelDir: z.string().min(1),
  })
  .strict();

export const SimShardParams = z
  .object({
    /** The shard's id (src/sim/sweep.ts shardRuns): its lock and its log lines. */
    shard: z.string().min(1),
    out: z.string().min(1),
    /** Runs of one model and one scenario file. */
    runs: z.array(RunSpec).min(1),
    rate_hz: z.number().min(10).max(20).default(10),
    planner: PlannerParams.default(PlannerParams.parse({})),
    vehicle: VehicleParams.default(VehicleParams.parse({})),
    tracker: TrackerParams.default(TrackerParams.parse({})),
    thresholds: SafetyThresholds.default(SafetyThresholds.parse({})),
    /** ONNX Runtime intra-op threads. */
    threads: z.number().int().positive().default(1),
  })
  .strict();
export type SimShardParams = z.output<typeof SimShardParams>;

export const simShardStep = defineStep({
  name: 'sim-shard',
  stage: 'replay',
  summary: "one shard of a closed-loop sweep: its runs in lockstep (one batched inference call per tick), traces and safety metrics under <out>/runs/",
  produces: [],
  with: SimShardParams,
  invoke(w, ctx) {
    const runs = w.runs.map((r) => ({ ...r, scenarioFile: absPath(ctx, r.scenarioFile), modelDir: r.modelDir.startsWith('builtin:') ? r.modelDir : absPath(ctx, r.modelDir) }));
    const params = { ...w, out: absPath(ctx, w.out), runs };
    return nodeStep(ctx, 'sim-shard', params, [...new Set(runs.flatMap((r) => [r.scenarioFile]))]);
  },
  // In paddock's step image (node, dist/, onnxruntime-node; the renderer is pure JS and the shard
  // imports no sharp or SQLite): its scenario files and model folders copied in, and the results
  // its runs already have (so that a resumed shard skips them there as here); its runs/ copied out.
  container: {
    image: 'paddock',
    inputs: (params) => {
      const p = params as { out: string; runs: { runId: string; scenarioFile: string; modelDir: string }[] };
      const files = new Set(p.runs.flatMap((r) => [r.scenarioFile, ...(r.modelDir.startsWith('builtin:') ? [] : [r.modelDir])]));
      // <out>/runs/<id>.json and .metrics.json (src/sim/sweep.ts runFiles), the metrics last: its presence means done.
      for (const r of p.runs) {
        const done = [join(p.out, 'runs', `${r.runId}.json`), join(p.out, 'runs', `${r.runId}.metrics.json`)];
        if (done.every((f) => existsSync(f))) for (const f of done) files.add(f);
      }
      return [...files].map((path) => ({ path }));
    },
    outputs: (params) => [join(String(params.out), 'runs')],
  },
  load: async () => ({ params: SimShardParams, run: (await import('./sim-shard.js')).runSimShard }),
});
