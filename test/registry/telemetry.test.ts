/**
 * Telemetry replay: the same seed gives the same stream; injections change what they say and
 * nothing else; the stream's distributions match the figures it is drawn from; the figures come
 * out of the real report files (the bench's latency events of a recorded run,
 * test/fixtures/workbench-run.ndjson; replay and evaluation reports written in their schemas).
 * Reference values of the normal distribution are scipy 1.17's (scipy.special.erfc,
 * scipy.stats.norm.ppf), printed with repr.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { erfc, normalQuantile, readBenchReportLatency, readEvalOutcomes, readLatencySamples, readOutcomes, readReplayOutcomes, requestTimeS, telemetryFromOutcomes, TelemetryInputError, type ArmOutcomes, type Telemetry } from '../../src/registry/telemetry.js';
import { emptyHistogram, recordSamples } from '../../src/metrics/latency-histogram.js';
import { percentile } from '../../src/metrics/percentile.js';
import { ReplayReport } from '../../src/schema/replay-report.js';
import { EvalReport } from '../../src/schema/eval-report.js';
import { STAT_NAMES } from '../../src/schema/coco-stats.js';
import { tempDir } from '../helpers/fixtures.js';

const RUN = join(import.meta.dirname, '..', 'fixtures', 'workbench-run.ndjson');
const tmp = tempDir('paddock-telemetry-');
afterAll(() => tmp.cleanup());

const candidateSamples = readLatencySamples(RUN, 'candidate/cpu-fp32').samples;
const productionSamples = readLatencySamples(RUN, 'production/cpu-fp32').samples;

function arm(samples: ArrayLike<number>, rates: Partial<ArmOutcomes> = {}): ArmOutcomes {
  return { latency: { kind: 'samples', samples }, errorRate: 0.01, falseBrakingRate: 0.002, disagreementRate: 0.03, ...rates };
}

function all(tel: Telemetry, side: 'canary' | 'baseline', field: 'latencyMs' | 'error' | 'falseBrake' | 'disagreement', fromMinute = 0, toMinute = tel.minutes): number[] {
  const out: number[] = [];
  for (const m of tel.minute.slice(fromMinute, toMinute)) out.push(...m[side][field]);
  return out;
}

const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;

describe('telemetryFromOutcomes', () => {
  const base = { canary: arm(candidateSamples), baseline: arm(productionSamples, { errorRate: 0.005, disagreementRate: 0 }), minutes: 30, perMinute: 1000 };

  it('is deterministic per seed', () => {
    const a = telemetryFromOutcomes({ ...base, seed: 7 });
    const b = telemetryFromOutcomes({ ...base, seed: 7 });
    const c = telemetryFromOutcomes({ ...base, seed: 8 });
    expect(a.minute[17].canary.latencyMs).toEqual(b.minute[17].canary.latencyMs);
    expect(a.minute[29].split).toEqual(b.minute[29].split);
    expect(all(a, 'canary', 'error')).toEqual(all(b, 'canary', 'error'));
    expect(a.minute[17].canary.latencyMs).not.toEqual(c.minute[17].canary.latencyMs);
  });

  it('draws from its inputs: latency mean and p95 of the bench samples, rates within 4 standard errors', () => {
    const t = telemetryFromOutcomes({ ...base, seed: 3 });
    const n = 30 * 1000;
    // A bootstrap draw has the samples' mean; its standard error is sd / sqrt(n).
    for (const [side, samples] of [['canary', candidateSamples], ['baseline', productionSamples]] as const) {
      const xs = all(t, side, 'latencyMs');
      const sd = Math.sqrt(mean(Array.from(samples, (x) => (x - mean(samples)) ** 2)));
      expect(Math.abs(mean(xs) - mean(samples))).toBeLessThan((4 * sd) / Math.sqrt(n));
      expect(percentile(xs, 0.95)).toBeCloseTo(percentile(samples, 0.95), 1);
    }
    for (const [side, field, p] of [['canary', 'error', 0.01], ['canary', 'falseBrake', 0.002], ['canary', 'disagreement', 0.03], ['baseline', 'error', 0.005], ['baseline', 'disagreement', 0]] as const) {
      const rate = mean(all(t, side, field));
      expect(Math.abs(rate - p), `${side} ${field}`).toBeLessThanOrEqual(4 * Math.sqrt((p * (1 - p)) / n) + 1e-12);
    }
    // the recorded run's own figures (numpy on the same samples: mean 9.2306, 6.0218 ms)
    expect(mean(candidateSamples)).toBeCloseTo(9.230604526666678, 9);
    expect(mean(productionSamples)).toBeCloseTo(6.021809996666667, 9);
  });

  it('a step injection multiplies from its minute on and leaves the rest of the stream as it was', () => {
    const clean = telemetryFromOutcomes({ ...base, seed: 5 });
    const hit = telemetryFromOutcomes({ ...base, seed: 5, injections: [{ kind: 'step', metric: 'latency.p95_ms', from_minute: 12, factor: 1.6 }, { kind: 'step', metric: 'error_rate', from_minute: 20, to_minute: 25, add: 0.2 }] });
    expect(all(hit, 'canary', 'latencyMs', 0, 12)).toEqual(all(clean, 'canary', 'latencyMs', 0, 12));
    const after = all(hit, 'canary', 'latencyMs', 12);
    all(clean, 'canary', 'latencyMs', 12).forEach((x, i) => expect(after[i]).toBeCloseTo(x * 1.6, 12));
    expect(all(hit, 'baseline', 'latencyMs')).toEqual(all(clean, 'baseline', 'latencyMs'));
    expect(hit.minute[3].split).toEqual(clean.minute[3].split);
    const during = mean(all(hit, 'canary', 'error', 20, 25));
    expect(Math.abs(during - 0.21)).toBeLessThan(4 * Math.sqrt((0.21 * 0.79) / 5000));
    expect(all(hit, 'canary', 'error', 25)).toEqual(all(clean, 'canary', 'error', 25));
  });

  it('a ramp grows linearly to full effect over ramp_minutes', () => {
    const clean = telemetryFromOutcomes({ ...base, minutes: 12, perMinute: 60, seed: 9 });
    const hit = telemetryFromOutcomes({ ...base, minutes: 12, perMinute: 60, seed: 9, injections: [{ kind: 'ramp', metric: 'latency', from_minute: 4, ramp_minutes: 4, add: 8 }] });
    for (const [m, j] of [[3, 59], [4, 0], [6, 30], [7, 59], [8, 0], [11, 10]]) {
      const f = Math.min(1, Math.max(0, (requestTimeS(m, j, 60) / 60 - 4) / 4));
      expect(hit.minute[m].canary.latencyMs[j] - clean.minute[m].canary.latencyMs[j], `minute ${m} request ${j}`).toBeCloseTo(m < 4 ? 0 : 8 * f, 9);
    }
  });

  it('a gap drops every request of its minutes and the stream resumes unchanged', () => {
    const clean = telemetryFromOutcomes({ ...base, minutes: 10, seed: 2 });
    const gap = telemetryFromOutcomes({ ...base, minutes: 10, seed: 2, injections: [{ kind: 'gap', from_minute: 3, to_minute: 5 }] });
    expect(gap.minute[3]).toMatchObject({ gap: true });
    expect(gap.minute[4].canary.latencyMs.length).toBe(0);
    expect(gap.minute[4].split.length).toBe(0);
    expect(gap.minute[5].canary.latencyMs).toEqual(clean.minute[5].canary.latencyMs);
  });

  it('draws from a latency histogram (inverse CDF) and from a log-normal with their quantiles', () => {
    const hist = recordSamples(emptyHistogram(), candidateSamples);
    const h = telemetryFromOutcomes({ ...base, canary: { ...arm([1]), latency: { kind: 'histogram', histogram: hist } }, seed: 4 });
    expect(percentile(all(h, 'canary', 'latencyMs'), 0.5)).toBeCloseTo(percentile(candidateSamples, 0.5), 1);
    const ln = telemetryFromOutcomes({ ...base, canary: { ...arm([1]), latency: { kind: 'lognormal', mu: Math.log(8), sigma: 0.1 } }, seed: 4 });
    const xs = all(ln, 'canary', 'latencyMs');
    expect(percentile(xs, 0.5)).toBeCloseTo(8, 1);
    // exp(mu + sigma z(0.95)) = 8 exp(0.1 * 1.6448536269514722)
    expect(Math.abs(percentile(xs, 0.95) / (8 * Math.exp(0.16448536269514722)) - 1)).toBeLessThan(0.005);
  });

  it('refuses figures that are not rates, and injections without an effect', () => {
    expect(() => telemetryFromOutcomes({ ...base, canary: arm(candidateSamples, { errorRate: 1.5 }), seed: 1 })).toThrow('canary.errorRate must be a rate in [0, 1], got 1.5');
    expect(() => telemetryFromOutcomes({ ...base, seed: 1, injections: [{ kind: 'step', metric: 'latency', from_minute: 1 }] })).toThrow('injections[0] needs factor or add');
  });
});

describe('the normal distribution (against scipy)', () => {
  it.each([
    [-5, 1.9999999999984626],
    [-1, 1.8427007929497148],
    [-0.3, 1.3286267594591274],
    [0, 1.0],
    [0.2, 0.7772974107895215],
    [0.5, 0.4795001221869535],
    [0.7, 0.3221988061625817],
    [1, 0.15729920705028516],
    [2, 0.004677734981047266],
    [3.9, 3.479224859723178e-8],
    [4.5, 1.9661604415428878e-10],
    [6, 2.1519736712498913e-17],
    [10, 2.0884875837625446e-45],
  ])('erfc(%f)', (x, ref) => expect(Math.abs(erfc(x) / ref - 1)).toBeLessThan(1e-13));

  it.each([
    [1e-10, -6.361340902404056],
    [0.001, -3.090232306167813],
    [0.02, -2.053748910631823],
    [0.05, -1.6448536269514729],
    [0.3, -0.5244005127080409],
    [0.5, 0],
    [0.8, 0.8416212335729143],
    [0.975, 1.959963984540054],
    [0.999999999, 5.997807019601637],
  ])('normalQuantile(%f)', (p, ref) => expect(normalQuantile(p)).toBeCloseTo(ref, 9));
});

// ---------------------------------------------------------------------------------------------
// Report files, written in their schemas.

function summary(frames: number, ghosts: number) {
  return { HOTA: 0.6, DetA: 0.6, AssA: 0.6, LocA: 0.8, MOTA: 0.7, MOTP: 0.8, IDF1: 0.7, IDP: 0.7, IDR: 0.7, IDSW: 3, Frag: 4, MT: 10, PT: 2, ML: 1, TP: 900, FP: 40, FN: 60, gtIds: 13, frames, TID_s: 0.2, LGD_s: 0.1, ttfd_mean_s: 0.15, never_tracked: 1, ghosts };
}

function replayReport(o: { frames: [number, number]; ghosts: { candidate: number; production: number }; late: { candidate: number[]; production: number[] }; segments: number[]; flagged: number[]; baseline?: boolean }) {
  const withBase = o.baseline ?? true;
  const models = (d: number) => ({
    candidate: { ...summary(o.frames[d], 0), late_frames: o.late.candidate[d], objects: [] },
    ...(withBase ? { production: { ...summary(o.frames[d], 0), late_frames: o.late.production[d], objects: [] } } : {}),
  });
  return ReplayReport.parse({
    version: 1,
    candidate: 'candidate',
    baseline: withBase ? 'production' : null,
    timing: 'recorded',
    deadline_ms: 50,
    tracker: {},
    divergence: {},
    drives: o.frames.map((f, d) => ({
      drive_id: `d${d}`,
      bundle: `d${d}.mcap`,
      sha256: 'a'.repeat(64),
      conditions: { weather: 'clear' },
      frames: f,
      km: 1.5,
      models: models(d),
      segments: o.segments[d],
      ghosts: { candidate: [] },
      flagged_segments: Array.from({ length: o.flagged[d] }, (_, i) => ({ index: i, from: i * 20, to: i * 20 + 20, severity: 1, reasons: ['lost pedestrian'] })),
      variants: [],
    })),
    overall: { candidate: summary(o.frames[0] + o.frames[1], o.ghosts.candidate), ...(withBase ? { production: summary(o.frames[0] + o.frames[1], o.ghosts.production) } : {}) },
    flagged_segments: o.flagged.reduce((a, b) => a + b, 0),
    scenarios: [],
  });
}

function write(name: string, value: unknown): string {
  const file = join(tmp.dir, name);
  writeFileSync(file, `${JSON.stringify(value, null, 1)}\n`);
  return file;
}

describe('reading the figures from the reports', () => {
  const replay = write('replay_report.json', replayReport({ frames: [1200, 800], ghosts: { candidate: 6, production: 2 }, late: { candidate: [10, 6], production: [2, 2] }, segments: [60, 40], flagged: [4, 1] }));

  it('takes the bench latency samples of a target from a recorded event log ({attempt, event} lines)', () => {
    const r = readLatencySamples(RUN, 'candidate/cpu-fp32');
    expect(r.samples.length).toBe(300);
    expect(r.source).toContain('300 bench latency samples of candidate/cpu-fp32');
    // `paddock run --json` lines (the event alone) read the same way
    const plain = join(tmp.dir, 'plain.ndjson');
    writeFileSync(plain, `${JSON.stringify({ v: 1, type: 'latency', target: 'x/cpu', samples: [1, 2, 3] })}\n${JSON.stringify({ v: 1, type: 'log', level: 'info', message: 'hi' })}\n`);
    expect(Array.from(readLatencySamples(plain, 'x/cpu').samples)).toEqual([1, 2, 3]);
    writeFileSync(join(tmp.dir, 'bad.ndjson'), `${JSON.stringify({ v: 1, type: 'latency', target: 'x/cpu', samples: [-1] })}\n`);
    expect(() => readLatencySamples(join(tmp.dir, 'bad.ndjson'), 'x/cpu')).toThrow(/bad\.ndjson:1: invalid latency event: samples/);
    expect(() => readLatencySamples(RUN, 'nope/cpu')).toThrow(/no latency samples for target "nope\/cpu" \(targets there: .*candidate\/cpu-fp32/);
  });

  it('fits a log-normal through bench.json p50 and p95', () => {
    const file = write('bench.json', { step: 'bench', status: 'succeeded', results: [{ target: 'm/fp32/b1', batch: 1, samples: 300, p50_ms: 8, p95_ms: 10, p99_ms: 11, mean_ms: 8.2, items_per_s: 120, percentiles: 'linear' }] });
    const d = readBenchReportLatency(file, 'm/fp32/b1');
    expect(d).toMatchObject({ kind: 'lognormal', mu: Math.log(8) });
    if (d.kind !== 'lognormal') throw new Error('kind');
    expect(Math.exp(d.mu + d.sigma * 1.6448536269514722)).toBeCloseTo(10, 9);
    expect(() => readBenchReportLatency(file, 'other')).toThrow('no result for target "other" (targets: m/fp32/b1)');
  });

  it('takes error, false-braking and disagreement proxies from replay_report.json', () => {
    const r = readReplayOutcomes(replay);
    expect(r.candidate).toEqual({ model: 'candidate', frames: 2000, errorRate: 16 / 2000, falseBrakingRate: 6 / 2000, disagreementRate: 5 / 100 });
    expect(r.baseline).toEqual({ model: 'production', frames: 2000, errorRate: 4 / 2000, falseBrakingRate: 2 / 2000, disagreementRate: 0 });
    expect(r.source).toContain('5/100 segments flagged (candidate vs production)');
  });

  it('takes the candidate false positives per frame from eval_report.json', () => {
    const stats = Object.fromEntries(STAT_NAMES.map((s) => [s, 0.5]));
    const file = write('eval_report.json', EvalReport.parse({ version: 1, dataset: { manifest: 'm.jsonl', gt: 'g.json', frames: 500 }, models: { candidate: { model: 'c.onnx', stats, perCategory: [] } }, candidate: 'candidate', baseline: null, bootstrap: { unit: 'scene', replicates: 100, seed: 1, level: 0.95 }, slices: [], outcomes: { missed: 3, lost: 1, falsePositivesOver03: 20 } }));
    expect(readEvalOutcomes(file)).toMatchObject({ candidate: 'candidate', frames: 500, falsePositiveRate: 0.04 });
  });

  it('readOutcomes: both arms from the real bench events and the replay report, with their sources', () => {
    const o = readOutcomes({ events: RUN, canaryTarget: 'candidate/cpu-fp32', baselineTarget: 'production/cpu-fp32', replayReport: replay });
    expect(o.canary).toMatchObject({ errorRate: 0.008, falseBrakingRate: 0.003, disagreementRate: 0.05 });
    expect(o.baseline).toMatchObject({ errorRate: 0.002, falseBrakingRate: 0.001, disagreementRate: 0 });
    expect(o.canary.latency.kind === 'samples' && o.canary.latency.samples.length).toBe(300);
    expect(o.sources).toHaveLength(3);
    const t = telemetryFromOutcomes({ ...o, minutes: 20, perMinute: 500, seed: 1 });
    expect(Math.abs(mean(all(t, 'canary', 'error')) - 0.008)).toBeLessThan(4 * Math.sqrt((0.008 * 0.992) / 10000));
  });

  it('names what is missing instead of inventing it', () => {
    expect(() => readOutcomes({ events: RUN, canaryTarget: 'candidate/cpu-fp32', baselineTarget: 'production/cpu-fp32' })).toThrow(TelemetryInputError);
    expect(() => readOutcomes({ events: RUN, canaryTarget: 'candidate/cpu-fp32', baselineTarget: 'production/cpu-fp32' })).toThrow('come from replay_report.json (build/replay), which was not given');
    const noBase = write('replay_nobase.json', replayReport({ frames: [100, 100], ghosts: { candidate: 1, production: 0 }, late: { candidate: [0, 0], production: [0, 0] }, segments: [5, 5], flagged: [0, 0], baseline: false }));
    expect(() => readOutcomes({ events: RUN, canaryTarget: 'candidate/cpu-fp32', baselineTarget: 'production/cpu-fp32', replayReport: noBase })).toThrow('the replay ran without a baseline (production)');
    const bad = write('bad.json', { version: 2 });
    expect(() => readReplayOutcomes(bad)).toThrow(/bad\.json: not a replay report \(version 1\): version/);
  });
});
