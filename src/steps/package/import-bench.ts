/**
 * The `import-bench` step: a benchmark run by the tools of a GPU host (trtexec's console log or
 * --exportTimes JSON, perf_analyzer's console summary or CSV), read into the same metrics and
 * latency events as paddock's own benchmarks, so a plan benchmarked on the vehicle computer sits
 * beside the CPU figures in the workbench, the gates and export_report.json.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { emit } from '../emit.js';
import { parsePerfAnalyzerConsole, parsePerfAnalyzerCsv, parseTrtexecLog, parseTrtexecTimes, trtexecMetrics } from '../../pack/tool-outputs.js';
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
  const metric = (name: string, value: number, unit: string) => emit({ type: 'metric', name, value, unit, target: p.target, denominators: { batch: p.batch } });
  let summary: unknown;
  switch (p.tool) {
    case 'trtexec': {
      const l = parseTrtexecLog(text, p.file);
      for (const m of trtexecMetrics(l, p.batch)) metric(m.name, m.value, m.unit);
      for (const w of l.warnings) log(`trtexec: ${w}`, 'warn');
      log(`trtexec ${l.tensorrtVersion ?? '?'} on ${l.device?.name ?? 'an unnamed device'}: ${l.passed ? 'PASSED' : 'not passed'}`);
      summary = { tensorrt: l.tensorrtVersion, device: l.device, passed: l.passed, throughput_qps: l.throughputQps, summary: l.summary, warnings: l.warnings };
      break;
    }
    case 'trtexec-times': {
      const t = parseTrtexecTimes(text, p.file);
      for (let i = 0; i < t.length; i += 1000) emit({ type: 'latency', target: p.target, samples: t.slice(i, i + 1000).map((r) => r.computeMs) });
      summary = { records: t.length };
      break;
    }
    case 'perf_analyzer': {
      const runs = parsePerfAnalyzerConsole(text, p.file);
      for (const r of runs) {
        const t = `${p.target}/c${r.concurrency}`;
        emit({ type: 'metric', name: 'throughput.items_per_s', value: r.client.throughput, unit: 'items/s', target: t });
        for (const [q, us] of Object.entries(r.client.percentilesUs)) emit({ type: 'metric', name: `latency.p${q}_ms`, value: us / 1000, unit: 'ms', target: t });
      }
      summary = { runs };
      break;
    }
    case 'perf_analyzer-csv': {
      const { rows } = parsePerfAnalyzerCsv(text, p.file);
      for (const r of rows) {
        const t = `${p.target}/c${r.Concurrency ?? r['Request Rate']}`;
        emit({ type: 'metric', name: 'throughput.items_per_s', value: r['Inferences/Second'], unit: 'items/s', target: t });
        for (const q of ['50', '90', '95', '99']) if (r[`p${q} latency`] !== undefined) emit({ type: 'metric', name: `latency.p${q}_ms`, value: r[`p${q} latency`] / 1000, unit: 'ms', target: t });
      }
      summary = { rows };
      break;
    }
  }
  writeReport(p.pack, `import-bench-${p.target.replace(/[^A-Za-z0-9_.-]/g, '_')}`, { status: 'succeeded', tool: p.tool, file: p.file, target: p.target, ...(summary as object) });
  return 0;
}
