/**
 * The `soak` step, a pre-deploy check: the packaged engine (the pack's model.onnx, or a variant)
 * run continuously for the recipe's duration with ONNX Runtime (src/registry/soak.ts), judged per
 * window on latency drift, memory growth and errors. A short microbenchmark (the package stage's
 * bench) shows none of these: they show after minutes under load.
 */
import { z } from 'zod';
import { emit } from '../emit.js';
import { defineStep, nodeStep, absPath } from '../define.js';
import { writeReport } from './registry-common.js';

export const SoakParams = z
  .object({
    pack: z.string().min(1),
    /** The pack's file to soak (default model.onnx). */
    file: z.string().min(1).default('model.onnx'),
    seconds: z.number().positive(),
    threads: z.number().int().nonnegative().default(1),
    batch: z.number().int().positive().default(1),
    warmup_s: z.number().nonnegative().default(1),
    window_s: z.number().positive().default(1),
    /** The soak's bounds (src/registry/soak.ts SoakBounds); its defaults where left out. */
    bounds: z.record(z.string(), z.number()).default({}),
    out: z.string().min(1),
  })
  .strict();
type Params = z.infer<typeof SoakParams>;

async function runSoakStep(p: Params): Promise<number> {
  const { join } = await import('node:path');
  const { existsSync } = await import('node:fs');
  const { runSoak, SoakBounds } = await import('../../registry/soak.js');
  const { sha256FileSync } = await import('../../files/digest.js');
  const { progressReporter } = await import('../emit.js');
  const model = join(p.pack, p.file);
  const contract = join(p.pack, 'inference_config.json');
  const progress = progressReporter('s', 1000);
  const r = await runSoak(
    { model, seconds: p.seconds, threads: p.threads, batch: p.batch, warmupS: p.warmup_s, windowS: p.window_s, ...(existsSync(contract) ? { contract } : {}), bounds: SoakBounds.parse(p.bounds) },
    (w) => progress(Math.min(p.seconds, Math.round(w.start_s + w.seconds)), p.seconds, `p95 ${w.p95_ms?.toFixed(2) ?? '-'} ms`),
  );
  const file = writeReport(p.out, 'soak_report.json', r);
  emit({ type: 'artifact', path: file, ...sha256FileSync(file), role: 'soak-report' });
  for (const [k, v] of Object.entries({ drift: r.drift, memory: r.memory, errors: r.errors })) emit({ type: 'log', level: v.status === 'fail' ? 'error' : v.status === 'pass' ? 'info' : 'warn', message: `soak ${k}: ${v.status}: ${v.detail}` });
  emit({ type: 'metric', name: 'soak.ok', value: r.ok ? 1 : 0 });
  if (r.overall.p95_ms !== null) emit({ type: 'metric', name: 'soak.p95_ms', value: r.overall.p95_ms, unit: 'ms' });
  if (r.drift.value !== null) emit({ type: 'metric', name: 'soak.p95_drift_ratio', value: r.drift.value });
  emit({ type: 'metric', name: 'soak.inferences', value: r.overall.inferences });
  if (!r.ok) {
    process.stderr.write(`soak: ${model} failed its soak: ${[r.drift, r.memory, r.errors].filter((v) => v.status === 'fail').map((v) => v.detail).join('; ')}\n`);
    return 1;
  }
  return 0;
}

export const soakStep = defineStep({
  name: 'soak',
  stage: 'promote',
  summary: 'a performance soak of the packaged engine for the recipe\'s duration: latency drift, memory growth, errors',
  produces: ['soak.ok', 'soak.p95_ms', 'soak.p95_drift_ratio', 'soak.inferences'],
  with: SoakParams,
  invoke: (w, ctx) => {
    const params = { ...w, pack: absPath(ctx, w.pack), out: absPath(ctx, w.out) };
    return nodeStep(ctx, 'soak', params, []);
  },
  container: { image: 'paddock', inputs: (p) => [{ path: String(p.pack) }], outputs: (p) => [String(p.out)] },
  load: async () => ({ params: SoakParams, run: runSoakStep }),
});
