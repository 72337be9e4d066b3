/**
 * The `import-bench` step: a benchmark run by the tools of a GPU host (trtexec's console log or
 * --exportTimes JSON, perf_analyzer's console summary or CSV), read into the same metrics and
 * latency events as paddock's own benchmarks, so a plan benchmarked on the vehicle computer sits
 * beside the CPU figures in the workbench, the gates and export_report.json.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { emit } from '../emit.js';
import { PERCENTILE_DEFINITION, TOOL_PERCENTILES, latencyPercentiles } from '../../metrics/percentile.js';
import { parsePerfAnalyzerConsole, parsePerfAnalyzerCsv, parseTrtexecLog, parseTrtexecTimes, perfAnalyzerMetrics, trtexecMetrics } from '../../pack/tool-outputs.js';
import { log, writeReport, holdPack } from './common.js';

export const ImportBenchParams = z
  .object({
    pack: z.string().min(1),
    tool: z.enum(['trtexec', 'trtexec-times', 'perf_analyzer', 'perf_analyzer-csv']),
    file: z.string().min(1),
    target: z.string().min(1),
    /** Items per query (trtexec's qps times batch is items/s). */
    batch: z.number().int().positive().default(1),
  })
  .strict();

export async function runImportBench(p: z.infer<typeof ImportBenchParams>): Promise<number> {
  await holdPack(p.pack);
  const text = readFileSync(p.file, 'utf8');
  // Every figure emitted is also listed in the report with how the tool computed it (a metric
  // event has no field for that): `latency.p99_ms` from trtexec is its nearest rank, not paddock's.
  const metrics: { name: string; value: number; unit: string; target: string; percentile_definition: string | null }[] = [];
  const metric = (name: string, value: number, unit: string, how?: string, target = p.target) => {
    emit({ type: 'metric', name, value, unit, target, denominators: { batch: p.batch } });
    metrics.push({ name, value, unit, target, percentile_definition: how ?? null });
  };
  let summary: unknown;
  switch (p.tool) {
    case 'trtexec': {
      const l = parseTrtexecLog(text, p.file);
      for (const m of trtexecMetrics(l, p.batch)) metric(m.name, m.value, m.unit, m.percentileDefinition);
      for (const w of l.warnings) log(`trtexec: ${w}`, 'warn');
      log(`trtexec ${l.tensorrtVersion ?? '?'} on ${l.device?.name ?? 'an unnamed device'}: ${l.passed ? 'PASSED' : 'not passed'}`);
      // The command line and the options trtexec printed: the build and inference flags used.
      summary = { tensorrt: l.tensorrtVersion, device: l.device, passed: l.passed, command: l.command ?? null, options: l.options, percentile_definition: l.percentileDefinition, throughput_qps: l.throughputQps, summary: l.summary, warnings: l.warnings };
      break;
    }
    case 'trtexec-times': {
      const t = parseTrtexecTimes(text, p.file);
      for (let i = 0; i < t.length; i += 1000) emit({ type: 'latency', target: p.target, samples: t.slice(i, i + 1000).map((r) => r.computeMs) });
      // Raw samples: their percentiles are paddock's own, computed exactly here.
      const q = t.length ? latencyPercentiles(t.map((r) => r.computeMs)) : undefined;
      summary = { records: t.length, percentile_definition: PERCENTILE_DEFINITION, compute_ms: q ? { p50: q.p50, p95: q.p95, p99: q.p99 } : null };
      break;
    }
    case 'perf_analyzer': {
      const runs = parsePerfAnalyzerConsole(text, p.file);
      for (const m of perfAnalyzerMetrics(runs)) metric(m.name, m.value, m.unit, m.percentileDefinition, `${p.target}/c${m.concurrency}`);
      summary = { percentile_definition: TOOL_PERCENTILES.perf_analyzer, runs };
      break;
    }
    case 'perf_analyzer-csv': {
      const { rows, percentileDefinition } = parsePerfAnalyzerCsv(text, p.file);
      for (const r of rows) {
        const t = `${p.target}/c${r.Concurrency ?? r['Request Rate']}`;
        metric('throughput.items_per_s', r['Inferences/Second'], 'items/s', undefined, t);
        for (const q of ['50', '90', '95', '99']) if (r[`p${q} latency`] !== undefined) metric(`latency.p${q}_ms`, r[`p${q} latency`] / 1000, 'ms', percentileDefinition, t);
      }
      summary = { percentile_definition: percentileDefinition, rows };
      break;
    }
  }
  writeReport(p.pack, `import-bench-${p.target.replace(/[^A-Za-z0-9_.-]/g, '_')}`, { status: 'succeeded', tool: p.tool, file: p.file, target: p.target, ...(summary as object), metrics });
  return 0;
}
