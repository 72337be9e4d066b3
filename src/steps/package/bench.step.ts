/**
 * The `bench` step: a latency microbenchmark of one recipe model with ONNX Runtime on the step's
 * host, latency batches streamed live (body: ./bench.ts).
 */
import { z } from 'zod';
import { defineStep, nodeStep, absPath } from '../define.js';

export const BenchParams = z
  .object({
    model: z.string().min(1),
    target: z.string().min(1).default('cpu-fp32'),
    iterations: z.number().int().min(1).max(10_000_000).default(300),
    warmup: z.number().int().min(0).max(100_000).default(20),
    batch: z.number().int().min(1).max(4096).default(1),
    /** intra-op threads; 0 lets ONNX Runtime choose. */
    threads: z.number().int().min(0).max(256).default(1),
    /** How often latency batches are sent, in ms. */
    reportMs: z.number().int().min(10).max(60_000).default(100),
    seed: z.number().int().default(1),
  })
  .strict();

export const benchStep = defineStep({
  name: 'bench',
  stage: 'any',
  summary: 'latency microbenchmark of a recipe model with ONNX Runtime, streamed live',
  // What it emits (docs/steps.md): per target (<model>/<target>); percentiles of the samples.
  produces: ['latency.p{50,95,99}_ms', 'latency.mean_ms', 'throughput.items_per_s', 'memory.peak_rss_mb'],
  // `model` names a recipe model (checked below, against the recipe); the target comes from the step's.
  with: BenchParams.omit({ target: true }).extend({ model: z.unknown().optional() }),
  check(w, recipe) {
    const model = w.model;
    if (typeof model !== 'string' || !(model in recipe.models)) return [{ path: ['model'], message: `expected the name of a model in "models" (${Object.keys(recipe.models).join(', ') || 'none'})` }];
    if (!recipe.models[model].onnx) return [{ path: ['model'], message: `model "${model}" has no onnx file to benchmark` }];
    return [];
  },
  invoke(w, ctx) {
    const { model: modelName, ...rest } = w as { model: string } & Record<string, unknown>;
    const modelPath = absPath(ctx, ctx.recipe.models[modelName].onnx!.path);
    return nodeStep(ctx, 'bench', { model: modelPath, target: `${modelName}/${ctx.target?.name ?? 'local'}`, ...rest }, [modelPath]);
  },
  container: {
    image: 'paddock',
    // The model is copied in with the digest the recipe pins (a mismatch fails before the start).
    inputs: (p, w, ctx) => [{ path: p.model as string, sha256: ctx.recipe.models[w.model as string]?.onnx?.sha256 }],
    outputs: () => [],
  },
  load: async () => ({ params: BenchParams, run: (await import('./bench.js')).runBench }),
});
