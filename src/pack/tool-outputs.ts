/**
 * Parsers for the benchmark tools run on GPU hosts, so their figures land in paddock as the
 * same metrics as its own benchmarks: trtexec's console log (version, device, options, the
 * performance summary, warnings, the per-layer profile), its --exportTimes and --exportProfile
 * JSON, and perf_analyzer's console summary and CSV. Errors name the file and line.
 *
 * Their percentiles are the tools' own, not paddock's (src/metrics/percentile.ts): trtexec takes
 * the nearest rank, perf_analyzer the sample nearest type 7's position. Each parse result and
 * each metric from them says which (`percentileDefinition`), so an imported p99 is never read
 * as one paddock computed. --exportTimes records are raw samples: paddock's own definition
 * applies to them.
 */
import { InputError } from '../files/input-error.js';
import { PERCENTILE_DEFINITION, TOOL_PERCENTILES } from '../metrics/percentile.js';

export class ToolOutputError extends InputError {}

export interface Stat {
  min: number;
  max: number;
  mean: number;
  median: number;
  /** percentile -> ms, e.g. {90: 0.0388, 95: ..., 99: ...} */
  percentiles: Record<string, number>;
}

export interface TrtexecLog {
  tensorrtVersion?: string;
  /** How trtexec computed the summary's percentiles and median (TOOL_PERCENTILES.trtexec). */
  percentileDefinition: string;
  passed: boolean;
  command?: string;
  device?: { name: string; computeCapability?: string; memoryMiB?: number };
  options: Record<string, string>;
  throughputQps?: number;
  /** Latency, Enqueue Time, H2D Latency, GPU Compute Time, D2H Latency, End-to-End Host Latency (ms). */
  summary: Record<string, Stat>;
  totalHostWalltimeS?: number;
  totalGpuComputeS?: number;
  warnings: string[];
  profile?: { iterations: number; layers: { name: string; timeMs: number; avgMs: number; medianMs: number; percent: number }[] };
}

const LINE = /^\[(\d\d\/\d\d\/\d{4}-\d\d:\d\d:\d\d)\] \[([IWEV])\] (?:\[TRT\] )?(.*)$/;

/** Parses `min = 0.03 ms, max = ..., percentile(99%) = ... ms`. */
function parseStat(text: string, where: string): Stat {
  const stat: Stat = { min: NaN, max: NaN, mean: NaN, median: NaN, percentiles: {} };
  for (const part of text.split(',')) {
    const m = /^\s*(min|max|mean|median|percentile\((\d+(?:\.\d+)?)%\))\s*=\s*([-+\d.eE]+)\s*ms\s*$/.exec(part);
    if (!m) throw new ToolOutputError(`${where}: cannot read ${JSON.stringify(part.trim())} as "name = value ms"`);
    const v = Number(m[3]);
    if (m[2]) stat.percentiles[m[2]] = v;
    else stat[m[1] as 'min' | 'max' | 'mean' | 'median'] = v;
  }
  for (const k of ['min', 'max', 'mean', 'median'] as const) if (Number.isNaN(stat[k])) throw new ToolOutputError(`${where}: ${k} is missing`);
  return stat;
}

const SUMMARY_KEYS = ['Latency', 'Enqueue Time', 'H2D Latency', 'GPU Compute Time', 'D2H Latency', 'End-to-End Host Latency'];

export function parseTrtexecLog(text: string, file = 'trtexec.log'): TrtexecLog {
  const out: TrtexecLog = { passed: false, percentileDefinition: TOOL_PERCENTILES.trtexec, options: {}, summary: {}, warnings: [] };
  let section = '';
  let sawSummary = false;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('&&&& ')) {
      const m = /^&&&& (RUNNING|PASSED|FAILED) TensorRT\.trtexec \[TensorRT v(\d+)\](?: \[b\d+\])? # (.*)$/.exec(line);
      if (m) {
        if (m[1] === 'PASSED') out.passed = true;
        if (m[1] === 'FAILED') out.passed = false;
        out.command = m[3];
        if (!out.tensorrtVersion) {
          const v = m[2];
          out.tensorrtVersion = v.length >= 5 ? `${Number(v.slice(0, v.length - 4))}.${Number(v.slice(-4, -2))}.${Number(v.slice(-2))}` : v;
        }
      }
      return;
    }
    const m = LINE.exec(line);
    if (!m) return;
    const [, , level, msg] = m;
    const sec = /^=== (.*) ===$/.exec(msg.trim());
    if (sec) {
      section = sec[1];
      if (section === 'Performance summary') sawSummary = true;
      const prof = /^Profile \((\d+) iterations ?\)$/.exec(section);
      if (prof) out.profile = { iterations: Number(prof[1]), layers: [] };
      return;
    }
    if (level === 'W' && sawSummary) {
      const w = msg.replace(/^\*\s*/, '').trim();
      if (w) out.warnings.push(w);
    }
    if (level !== 'I') return;
    const tv = /^TensorRT version: (\S+)/.exec(msg);
    if (tv) out.tensorrtVersion = tv[1];
    if (section.endsWith('Options')) {
      const kv = /^([^:]+):\s?(.*)$/.exec(msg);
      if (kv && !kv[1].startsWith(' ')) out.options[kv[1].trim()] = kv[2].trim();
    }
    if (section === 'Device Information') {
      const sd = /^Selected Device: (.+)$/.exec(msg);
      if (sd) out.device = { ...(out.device ?? {}), name: sd[1].trim() };
      const cc = /^Compute Capability: (.+)$/.exec(msg);
      if (cc && out.device) out.device.computeCapability = cc[1].trim();
      const mem = /^Device Global Memory: (\d+) MiB/.exec(msg);
      if (mem && out.device) out.device.memoryMiB = Number(mem[1]);
    }
    if (section === 'Performance summary') {
      const tp = /^Throughput: ([\d.eE+-]+) qps/.exec(msg);
      if (tp) out.throughputQps = Number(tp[1]);
      const hw = /^Total Host Walltime: ([\d.eE+-]+) s/.exec(msg);
      if (hw) out.totalHostWalltimeS = Number(hw[1]);
      const gc = /^Total GPU Compute Time: ([\d.eE+-]+) s/.exec(msg);
      if (gc) out.totalGpuComputeS = Number(gc[1]);
      const st = /^([A-Za-z0-9 -]+?): (min = .*)$/.exec(msg);
      if (st && SUMMARY_KEYS.includes(st[1])) out.summary[st[1]] = parseStat(st[2], where);
    }
    if (out.profile && section.startsWith('Profile')) {
      const row = /^\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(.+)$/.exec(msg);
      if (row) out.profile.layers.push({ timeMs: Number(row[1]), avgMs: Number(row[2]), medianMs: Number(row[3]), percent: Number(row[4]), name: row[5].trim() });
    }
  });
  if (!out.tensorrtVersion && !out.command) throw new ToolOutputError(`${file}: not a trtexec log (no "&&&& RUNNING TensorRT.trtexec" line and no "TensorRT version:")`);
  return out;
}

export interface TrtexecTime {
  startEnqMs: number;
  endEnqMs: number;
  startComputeMs: number;
  endComputeMs: number;
  h2dMs: number;
  computeMs: number;
  d2hMs: number;
  latencyMs: number;
}

function parseJsonArray(text: string, file: string): unknown[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ToolOutputError(`${file}: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new ToolOutputError(`${file}: expected a JSON array`);
  return data;
}

/** --exportTimes: one record per inference. */
export function parseTrtexecTimes(text: string, file = 'times.json'): TrtexecTime[] {
  return parseJsonArray(text, file).map((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new ToolOutputError(`${file}: record ${i}: expected an object, got ${r === null ? 'null' : Array.isArray(r) ? 'a list' : typeof r}`);
    const rec = r as Record<string, unknown>;
    for (const k of ['computeMs', 'latencyMs', 'h2dMs', 'd2hMs', 'startEnqMs', 'endEnqMs', 'startComputeMs', 'endComputeMs']) {
      if (typeof rec[k] !== 'number' || !Number.isFinite(rec[k])) throw new ToolOutputError(`${file}: record ${i}: "${k}" is missing or not a number`);
    }
    return rec as unknown as TrtexecTime;
  });
}

/** --exportProfile: `[{count}, {name, timeMs, averageMs, medianMs, percentage}...]`. */
export function parseTrtexecProfile(text: string, file = 'profile.json'): { count: number; layers: { name: string; timeMs: number; averageMs: number; medianMs?: number; percentage: number }[] } {
  const arr = parseJsonArray(text, file);
  const head = arr[0] as { count?: unknown };
  if (typeof head?.count !== 'number') throw new ToolOutputError(`${file}: the first element must be {"count": N}`);
  const layers = arr.slice(1).map((r, i) => {
    const x = (r ?? {}) as Record<string, unknown>;
    if (typeof x.name !== 'string' || typeof x.timeMs !== 'number' || typeof x.averageMs !== 'number' || typeof x.percentage !== 'number') throw new ToolOutputError(`${file}: layer ${i + 1}: needs name, timeMs, averageMs and percentage`);
    return { name: x.name, timeMs: x.timeMs, averageMs: x.averageMs, medianMs: typeof x.medianMs === 'number' ? x.medianMs : undefined, percentage: x.percentage };
  });
  return { count: head.count, layers };
}

export interface PerfAnalyzerRun {
  /** How perf_analyzer computed the client percentiles (TOOL_PERCENTILES.perf_analyzer). */
  percentileDefinition: string;
  batchSize?: number;
  concurrency?: number;
  protocol?: 'http' | 'grpc';
  client: { requests?: number; throughput: number; avgUs?: number; stdUs?: number; percentilesUs: Record<string, number> };
  server?: { inferenceCount: number; executionCount: number; successCount: number; avgRequestUs: number; overheadUs: number; queueUs: number; computeInputUs: number; computeInferUs: number; computeOutputUs: number };
}

/** perf_analyzer's console summary: one run per "Request concurrency:" block. */
export function parsePerfAnalyzerConsole(text: string, file = 'perf_analyzer.txt'): PerfAnalyzerRun[] {
  const runs: PerfAnalyzerRun[] = [];
  let batch: number | undefined;
  let cur: PerfAnalyzerRun | undefined;
  let block = '';
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    const where = `${file}:${i + 1}`;
    let m;
    if ((m = /^Batch size: (\d+)/.exec(line))) batch = Number(m[1]);
    else if ((m = /^Request concurrency: (\d+)/.exec(line))) {
      cur = { percentileDefinition: TOOL_PERCENTILES.perf_analyzer, batchSize: batch, concurrency: Number(m[1]), client: { throughput: NaN, percentilesUs: {} } };
      runs.push(cur);
    } else if (line === 'Client:' || line === 'Server:') block = line;
    else if (cur && block === 'Client:') {
      if ((m = /^Request count: (\d+)/.exec(line))) cur.client.requests = Number(m[1]);
      else if ((m = /^Throughput: ([\d.]+) infer\/sec/.exec(line))) cur.client.throughput = Number(m[1]);
      else if ((m = /^Avg latency: (\d+) usec \(standard deviation (\d+) usec\)/.exec(line))) {
        cur.client.avgUs = Number(m[1]);
        cur.client.stdUs = Number(m[2]);
      } else if ((m = /^p(\d+) latency: (\d+) usec/.exec(line))) cur.client.percentilesUs[m[1]] = Number(m[2]);
      else if (/^Avg gRPC time/.test(line)) cur.protocol = 'grpc';
      else if (/^Avg HTTP time/.test(line)) cur.protocol = 'http';
    } else if (cur && block === 'Server:') {
      cur.server ??= { inferenceCount: 0, executionCount: 0, successCount: 0, avgRequestUs: 0, overheadUs: 0, queueUs: 0, computeInputUs: 0, computeInferUs: 0, computeOutputUs: 0 };
      if ((m = /^Inference count: (\d+)/.exec(line))) cur.server.inferenceCount = Number(m[1]);
      else if ((m = /^Execution count: (\d+)/.exec(line))) cur.server.executionCount = Number(m[1]);
      else if ((m = /^Successful request count: (\d+)/.exec(line))) cur.server.successCount = Number(m[1]);
      else if ((m = /^Avg request latency: (\d+) usec \(overhead (\d+) usec \+ queue (\d+) usec \+ compute input (\d+) usec \+ compute infer (\d+) usec \+ compute output (\d+) usec\)/.exec(line))) {
        [cur.server.avgRequestUs, cur.server.overheadUs, cur.server.queueUs, cur.server.computeInputUs, cur.server.computeInferUs, cur.server.computeOutputUs] = m.slice(1, 7).map(Number);
      } else if (/^Avg request latency/.test(line)) throw new ToolOutputError(`${where}: cannot read the server latency breakdown: ${line}`);
    }
    if (/^Inferences\/Second vs\./.test(line)) block = '';
  });
  if (!runs.length) throw new ToolOutputError(`${file}: no "Request concurrency:" block; not perf_analyzer console output`);
  for (const r of runs) if (Number.isNaN(r.client.throughput)) throw new ToolOutputError(`${file}: the run at concurrency ${r.concurrency} has no client throughput`);
  return runs;
}

/** perf_analyzer -f CSV: rows by column name, all numbers (microseconds for latencies; percentiles by TOOL_PERCENTILES.perf_analyzer). */
export function parsePerfAnalyzerCsv(text: string, file = 'perf.csv'): { columns: string[]; rows: Record<string, number>[]; percentileDefinition: string } {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim());
  if (!lines.length) throw new ToolOutputError(`${file}: empty`);
  const columns = lines[0].split(',');
  if (!['Concurrency', 'Request Rate'].includes(columns[0]) || !columns.includes('Inferences/Second')) throw new ToolOutputError(`${file}:1: not a perf_analyzer CSV (expected Concurrency or Request Rate, then Inferences/Second)`);
  const rows = lines.slice(1).map((l, i) => {
    const cells = l.split(',');
    if (cells.length !== columns.length) throw new ToolOutputError(`${file}:${i + 2}: ${cells.length} cells, the header has ${columns.length}`);
    return Object.fromEntries(
      columns.map((c, k) => {
        const v = cells[k];
        // --collect-metrics cells are "gpu-uuid:value;" lists: sum of values.
        const n = v.includes(':') ? v.split(';').filter(Boolean).reduce((a, p) => a + Number(p.split(':').pop()), 0) : Number(v);
        if (!Number.isFinite(n)) throw new ToolOutputError(`${file}:${i + 2}: column "${c}" is ${JSON.stringify(v)}, not a number`);
        return [c, n];
      }),
    );
  });
  return { columns, rows, percentileDefinition: TOOL_PERCENTILES.perf_analyzer };
}

/** An imported figure: a latency percentile or median says how the tool computed it. */
export interface ImportedMetric {
  name: string;
  value: number;
  unit: string;
  percentileDefinition?: string;
}

/** The latency metrics paddock records for a trtexec run (ms), named as its own benchmarks name them. */
export function trtexecMetrics(log: TrtexecLog, batch = 1): ImportedMetric[] {
  const lat = log.summary['GPU Compute Time'] ?? log.summary.Latency;
  if (!lat) return [];
  const how = log.percentileDefinition;
  const out: ImportedMetric[] = [
    { name: 'latency.p50_ms', value: lat.median, unit: 'ms', percentileDefinition: how },
    { name: 'latency.mean_ms', value: lat.mean, unit: 'ms' },
    ...Object.entries(lat.percentiles).map(([p, v]) => ({ name: `latency.p${p.replace('.', '_')}_ms`, value: v, unit: 'ms', percentileDefinition: how })),
  ];
  if (log.throughputQps !== undefined) out.push({ name: 'throughput.items_per_s', value: log.throughputQps * batch, unit: 'items/s' });
  return out;
}

/** The latency metrics of perf_analyzer runs (console summary), per concurrency, in ms. */
export function perfAnalyzerMetrics(runs: PerfAnalyzerRun[]): (ImportedMetric & { concurrency?: number })[] {
  return runs.flatMap((r) => [
    { concurrency: r.concurrency, name: 'throughput.items_per_s', value: r.client.throughput, unit: 'items/s' },
    ...Object.entries(r.client.percentilesUs).map(([q, us]) => ({ concurrency: r.concurrency, name: `latency.p${q}_ms`, value: us / 1000, unit: 'ms', percentileDefinition: r.percentileDefinition })),
  ]);
}

/** --exportTimes records are raw samples: percentiles of them are paddock's own definition. */
export const TRTEXEC_TIMES_PERCENTILES = PERCENTILE_DEFINITION;
