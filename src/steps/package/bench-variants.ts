/**
 * The `bench-variants` step: the latency microbenchmark of every variant at every batch size, in
 * one process (the bench step's timed loop), streaming live; targets are
 * "<model>/<variant>/b<batch>". Results go to reports/bench.json for the export report.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { sha256FileSync } from '../../files/digest.js';
import { installRoot } from '../../files/install-root.js';
import { PERCENTILE_DEFINITION } from '../../metrics/percentile.js';
import { benchSessionOptions, measurePeakRss, type SessionMemory } from '../../model/session.js';
import { timeSession, type BenchSummary } from './bench.js';
import { log, writeReport, holdPack } from './common.js';

export const BenchVariantsParams = z
  .object({
    pack: z.string().min(1),
    model: z.string().min(1),
    variants: z.array(z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/), model: z.string().min(1) }).strict()).min(1),
    batches: z.array(z.number().int().min(1).max(4096)).min(1).default([1, 8]),
    iterations: z.number().int().min(1).default(200),
    warmup: z.number().int().min(0).default(20),
    threads: z.number().int().min(0).max(256).default(1),
    reportMs: z.number().int().min(10).default(100),
    seed: z.number().int().default(1),
  })
  .strict();

export async function runBenchVariants(p: z.infer<typeof BenchVariantsParams>): Promise<number> {
  await holdPack(p.pack);
  const ort = await import('onnxruntime-node');
  const results: BenchSummary[] = [];
  // One count over every variant and batch, so the step's bar and ETA are the whole step's.
  const total = p.variants.length * p.batches.length * p.iterations;
  let before = 0;
  // What each variant ran with, for the export report: the options passed (the one set,
  // session.ts benchSessionOptions), the runtime's version, the file by digest, the peak memory.
  const options = benchSessionOptions(p.threads);
  const runtime = `onnxruntime-node ${JSON.parse(readFileSync(join(installRoot(), 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version}`;
  const ran: { name: string; model: string; sha256: string; runtime: string; session_options: typeof options; memory: SessionMemory }[] = [];
  for (const v of p.variants) {
    const { memory } = await measurePeakRss(async () => {
      const session = await ort.InferenceSession.create(v.model, options);
      for (const batch of p.batches) {
        const target = `${p.model}/${v.name}/b${batch}`;
        const r = await timeSession(ort, session, { ...p, batch, target }, { before, total, message: target });
        before += p.iterations;
        results.push(r);
        log(`${r.target}: p50 ${r.p50_ms.toFixed(3)} ms, p99 ${r.p99_ms.toFixed(3)} ms, ${r.items_per_s.toFixed(1)} items/s`);
      }
      await session.release();
    });
    for (const r of results) if (r.target.startsWith(`${p.model}/${v.name}/b`)) r.memory = memory;
    ran.push({ name: v.name, model: v.model, sha256: sha256FileSync(v.model).sha256, runtime, session_options: options, memory });
    log(`${v.name}: peak RSS ${memory.peak_rss_mib} MiB (${memory.rss_before_mib} MiB before the session)`);
  }
  writeReport(p.pack, 'bench', { status: 'succeeded', machine: 'this machine (onnxruntime-node CPU)', threads: p.threads, iterations: p.iterations, warmup: p.warmup, percentiles: PERCENTILE_DEFINITION, variants: ran, results });
  return 0;
}
