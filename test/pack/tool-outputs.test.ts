import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePerfAnalyzerConsole, parsePerfAnalyzerCsv, parseTrtexecLog, parseTrtexecProfile, parseTrtexecTimes, perfAnalyzerMetrics, trtexecMetrics } from '../../src/pack/tool-outputs.js';
import { PERCENTILE_DEFINITION, TOOL_PERCENTILES, percentile } from '../../src/metrics/percentile.js';
import { FIXTURES } from '../helpers/fixtures.js';

const ref = (dir: string, f: string) => readFileSync(join(FIXTURES, 'reference', dir, f), 'utf8');

describe('trtexec console logs', () => {
  it('TensorRT 10.16 on an H100: version, device, options, the summary', () => {
    const log = parseTrtexecLog(ref('trtexec', 'trt10.16.1_h100pcie_loadEngine_cudagraph_verbose.log'));
    expect(log.tensorrtVersion).toBe('10.16.1');
    expect(log.passed).toBe(true);
    expect(log.device).toEqual({ name: 'NVIDIA H100 PCIe', computeCapability: '9.0', memoryMiB: 81081 });
    expect(log.throughputQps).toBe(24896.9);
    expect(log.summary['GPU Compute Time']).toEqual({ min: 0.0383301, max: 0.0651855, mean: 0.0387646, median: 0.0388184, percentiles: { 90: 0.0388489, 95: 0.0389404, 99: 0.0390625 } });
    expect(log.summary['H2D Latency'].max).toBe(0);
    expect(Object.keys(log.summary)).toEqual(['Latency', 'Enqueue Time', 'H2D Latency', 'GPU Compute Time', 'D2H Latency']);
    expect(log.totalHostWalltimeS).toBe(3.00005);
    expect(log.totalGpuComputeS).toBe(2.89541);
    expect(log.command).toContain('--useCudaGraph');
    expect(trtexecMetrics(log, 4).find((m) => m.name === 'throughput.items_per_s')!.value).toBeCloseTo(99587.6, 6);
    expect(trtexecMetrics(log).find((m) => m.name === 'latency.p99_ms')!.value).toBe(0.0390625);
  });

  it('TensorRT 8.6 on an RTX 3090: the 8.6 wording and the instability warning', () => {
    const log = parseTrtexecLog(ref('trtexec', 'trt8.6.0_rtx3090_loadEngine_verbose_excerpt.log'));
    expect(log.tensorrtVersion).toBe('8.6.0');
    expect(log.throughputQps).toBe(21009.2);
    expect(log.summary.Latency.percentiles['99']).toBe(0.0630798);
    expect(log.warnings[0]).toBe('GPU compute time is unstable, with coefficient of variance = 44.3558%.');
  });

  it('the per-layer profile table (--dumpProfile)', () => {
    const log = parseTrtexecLog(ref('trtexec', 'trt10.16.1_h100pcie_dumpProfile_exportTimes.log'));
    expect(log.profile!.iterations).toBe(18362);
    const rows = log.profile!.layers;
    expect(rows[0]).toEqual({ timeMs: 31.4, avgMs: 0.0017, medianMs: 0.0018, percent: 2.1, name: '__mye59_0_myl0_0' });
    expect(rows[3].name).toBe('Reformatting CopyNode for Input Tensor 0 to {ForeignNode[node_conv2d_1...node_relu_1]}');
    expect(rows.at(-1)).toMatchObject({ name: 'Total', timeMs: 1529.13, percent: 100 });
    expect(log.options['Export profile to JSON file']).toBe('./model-trained-exportProfile.json');
  });

  it('--exportProfile and --exportTimes JSON', () => {
    const p = parseTrtexecProfile(ref('trtexec', 'trt8.4era_a100_exportProfile.json'));
    expect(p.count).toBe(1);
    expect(p.layers[0]).toEqual({ name: 'QuantizeLinear_2', timeMs: 0.06144, averageMs: 0.06144, medianMs: 0.06144, percentage: 5.60748 });
    const t = parseTrtexecTimes(ref('trtexec', 'trt8.4era_a100_exportTimes_first25.json'));
    expect(t).toHaveLength(25);
    expect(t[0].computeMs).toBe(0.909312);
    expect(t.every((r) => r.h2dMs === 0 && r.d2hMs === 0)).toBe(true);
  });

  it('refuses what is not trtexec output', () => {
    expect(() => parseTrtexecLog('hello\nworld\n', 'x.log')).toThrow('x.log: not a trtexec log');
    expect(() => parseTrtexecLog('[01/01/2024-00:00:00] [I] TensorRT version: 10.0.0\n[01/01/2024-00:00:00] [I] === Performance summary ===\n[01/01/2024-00:00:00] [I] Latency: min = x ms\n', 'y.log')).toThrow('y.log:3');
    expect(() => parseTrtexecProfile('[{"name":"a"}]', 'p.json')).toThrow('p.json: the first element must be {"count": N}');
    expect(() => parseTrtexecTimes('[{"computeMs": 1}]', 't.json')).toThrow('t.json: record 0: "latencyMs" is missing');
  });
});

describe('perf_analyzer', () => {
  it('the gRPC console summary with server breakdown', () => {
    const [r] = parsePerfAnalyzerConsole(ref('perf_analyzer', 'pa_console_grpc_concurrency1_issue3657.txt'));
    expect(r).toMatchObject({ batchSize: 1, concurrency: 1, protocol: 'grpc', client: { requests: 1098, throughput: 219.6, avgUs: 4553, stdUs: 1593, percentilesUs: { 50: 3912, 90: 6667, 95: 8506, 99: 11129 } } });
    expect(r.server).toEqual({ inferenceCount: 1315, executionCount: 1315, successCount: 1315, avgRequestUs: 4180, overheadUs: 2, queueUs: 30, computeInputUs: 3012, computeInferUs: 1100, computeOutputUs: 36 });
  });
  it('the HTTP summary at batch 8 (dynamic batching: more inferences than executions)', () => {
    const [r] = parsePerfAnalyzerConsole(ref('perf_analyzer', 'pa_console_http_batch8_concurrency8_issue1878.txt'));
    expect(r).toMatchObject({ batchSize: 8, concurrency: 8, protocol: 'http' });
    expect(r.server).toMatchObject({ inferenceCount: 12440, executionCount: 1554, queueUs: 24611, computeInferUs: 3756 });
    expect(r.client.percentilesUs['99']).toBe(33116);
  });
  it('the CSV, rows as written (sorted by throughput, not concurrency)', () => {
    const { columns, rows } = parsePerfAnalyzerCsv(ref('perf_analyzer', 'pa_perf_csv_inception_graphdef_docs.csv'));
    expect(columns).toHaveLength(13);
    expect(rows.map((r) => r.Concurrency)).toEqual([1, 3, 4, 2]);
    expect(rows[0]).toMatchObject({ 'Inferences/Second': 69.2, 'Server Compute Infer': 11781, 'p99 latency': 21018 });
  });
  it('refuses malformed input, naming the line', () => {
    expect(() => parsePerfAnalyzerCsv('a,b\n1,2\n', 'f.csv')).toThrow('f.csv:1: not a perf_analyzer CSV');
    expect(() => parsePerfAnalyzerCsv('Concurrency,Inferences/Second\n1\n', 'f.csv')).toThrow('f.csv:2: 1 cells, the header has 2');
    expect(() => parsePerfAnalyzerCsv('Concurrency,Inferences/Second\n1,abc\n', 'f.csv')).toThrow('f.csv:2: column "Inferences/Second" is "abc"');
    expect(() => parsePerfAnalyzerConsole('nothing here', 'c.txt')).toThrow('c.txt: no "Request concurrency:" block');
  });
});

describe('import-bench step: tool outputs as paddock metrics', () => {
  it('a trtexec log and perf_analyzer CSV become latency and throughput metrics', async () => {
    const { execa } = await import('execa');
    const { ROOT, tempDir } = await import('../helpers/fixtures.js');
    const { PaddockEvent } = await import('../../src/schema/events.js');
    const t = tempDir();
    try {
      const run = async (params: object) => {
        const r = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'import-bench', JSON.stringify({ pack: t.dir, ...params })], { reject: false });
        expect(r.exitCode, r.stderr).toBe(0);
        return r.stdout.trim().split('\n').map((l) => PaddockEvent.parse(JSON.parse(l)));
      };
      const ev = await run({ tool: 'trtexec', file: join(FIXTURES, 'reference', 'trtexec', 'trt10.16.1_h100pcie_loadEngine_cudagraph_verbose.log'), target: 'candidate/trt-h100', batch: 4 });
      const m = Object.fromEntries(ev.flatMap((e) => (e.type === 'metric' ? [[e.name, e.value]] : [])));
      expect(m['latency.p50_ms']).toBe(0.0388184);
      expect(m['latency.p99_ms']).toBe(0.0390625);
      expect(m['throughput.items_per_s']).toBeCloseTo(99587.6, 6);
      const times = await run({ tool: 'trtexec-times', file: join(FIXTURES, 'reference', 'trtexec', 'trt8.4era_a100_exportTimes_first25.json'), target: 'x/trt-a100' });
      const lat = times.find((e) => e.type === 'latency');
      expect(lat && lat.type === 'latency' ? lat.samples.length : 0).toBe(25);
      const csv = await run({ tool: 'perf_analyzer-csv', file: join(FIXTURES, 'reference', 'perf_analyzer', 'pa_perf_csv_inception_graphdef_docs.csv'), target: 'incep' });
      const c1 = csv.find((e) => e.type === 'metric' && e.target === 'incep/c1' && e.name === 'latency.p99_ms');
      expect(c1 && c1.type === 'metric' ? c1.value : 0).toBeCloseTo(21.018, 9);
    } finally {
      t.cleanup();
    }
  });
});

describe("imported percentiles say how the tool computed them (not paddock's definition)", () => {
  it('trtexec: the parse and every latency percentile and median it yields name the nearest rank', () => {
    const log = parseTrtexecLog(ref('trtexec', 'trt10.16.1_h100pcie_loadEngine_cudagraph_verbose.log'));
    expect(log.percentileDefinition).toBe(TOOL_PERCENTILES.trtexec);
    const ms = trtexecMetrics(log, 4);
    expect(ms.filter((m) => /^latency\.p\d/.test(m.name)).map((m) => [m.name, m.percentileDefinition])).toEqual([
      ['latency.p50_ms', TOOL_PERCENTILES.trtexec],
      ['latency.p90_ms', TOOL_PERCENTILES.trtexec],
      ['latency.p95_ms', TOOL_PERCENTILES.trtexec],
      ['latency.p99_ms', TOOL_PERCENTILES.trtexec],
    ]);
    // A mean and a throughput are no percentile: they carry none.
    expect(ms.filter((m) => !/^latency\.p\d/.test(m.name)).every((m) => m.percentileDefinition === undefined)).toBe(true);
  });

  it("perf_analyzer: console runs, their metrics and the CSV name perf_analyzer's", () => {
    const runs = parsePerfAnalyzerConsole(ref('perf_analyzer', 'pa_console_grpc_concurrency1_issue3657.txt'));
    expect(runs[0].percentileDefinition).toBe(TOOL_PERCENTILES.perf_analyzer);
    expect(perfAnalyzerMetrics(runs)).toEqual([
      { concurrency: 1, name: 'throughput.items_per_s', value: 219.6, unit: 'items/s' },
      { concurrency: 1, name: 'latency.p50_ms', value: 3.912, unit: 'ms', percentileDefinition: TOOL_PERCENTILES.perf_analyzer },
      { concurrency: 1, name: 'latency.p90_ms', value: 6.667, unit: 'ms', percentileDefinition: TOOL_PERCENTILES.perf_analyzer },
      { concurrency: 1, name: 'latency.p95_ms', value: 8.506, unit: 'ms', percentileDefinition: TOOL_PERCENTILES.perf_analyzer },
      { concurrency: 1, name: 'latency.p99_ms', value: 11.129, unit: 'ms', percentileDefinition: TOOL_PERCENTILES.perf_analyzer },
    ]);
    expect(parsePerfAnalyzerCsv(ref('perf_analyzer', 'pa_perf_csv_inception_graphdef_docs.csv')).percentileDefinition).toBe(TOOL_PERCENTILES.perf_analyzer);
    expect(TOOL_PERCENTILES.perf_analyzer).not.toBe(PERCENTILE_DEFINITION);
  });

  it("the import-bench report lists each metric with its definition; --exportTimes samples get paddock's own, computed exactly", async () => {
    const { execa } = await import('execa');
    const { readFileSync } = await import('node:fs');
    const { ROOT, tempDir } = await import('../helpers/fixtures.js');
    const t = tempDir();
    try {
      const run = async (params: object) => {
        const r = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'import-bench', JSON.stringify({ pack: t.dir, ...params })], { reject: false });
        expect(r.exitCode, r.stderr).toBe(0);
      };
      const report = (target: string) => JSON.parse(readFileSync(join(t.dir, 'reports', `import-bench-${target}.json`), 'utf8'));
      await run({ tool: 'trtexec', file: join(FIXTURES, 'reference', 'trtexec', 'trt10.16.1_h100pcie_loadEngine_cudagraph_verbose.log'), target: 'h100' });
      const trt = report('h100');
      expect(trt.percentile_definition).toBe(TOOL_PERCENTILES.trtexec);
      expect(trt.metrics.find((m: { name: string }) => m.name === 'latency.p99_ms')).toEqual({ name: 'latency.p99_ms', value: 0.0390625, unit: 'ms', target: 'h100', percentile_definition: TOOL_PERCENTILES.trtexec });
      // trtexec's flags, as its log printed them.
      expect(trt.command).toMatch(/--useCudaGraph/);
      expect(trt.options['CUDA Graph']).toBe('Enabled');

      const file = join(FIXTURES, 'reference', 'trtexec', 'trt8.4era_a100_exportTimes_first25.json');
      await run({ tool: 'trtexec-times', file, target: 'a100' });
      const times = report('a100');
      expect(times.percentile_definition).toBe(PERCENTILE_DEFINITION);
      const compute = parseTrtexecTimes(readFileSync(file, 'utf8')).map((r) => r.computeMs);
      expect(times.compute_ms).toEqual({ p50: percentile(compute, 0.5), p95: percentile(compute, 0.95), p99: percentile(compute, 0.99) });
    } finally {
      t.cleanup();
    }
  });
});
