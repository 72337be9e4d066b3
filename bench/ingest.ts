/**
 * Sustained ingest of latency samples through the real path: NDJSON bytes in arbitrary chunks ->
 * EventLineParser (split, JSON.parse, zod validation) -> reduceLive (histograms, percentile
 * windows). Goal: >= 2 million samples/s on the 2-core dev machine.
 * Baseline in the same run: JSON.parse alone on the same lines (the floor any parser pays).
 */
import { EventLineParser } from '../src/schema/event-lines.js';
import { initialLiveState, reduceLive, type LiveState } from '../src/live/live-state.js';
import { quantile } from '../src/metrics/latency-histogram.js';
import { seededRandom as mulberry32 } from '../src/files/prng.js';
import { median, writeResults } from './common.js';

function makeStream(batch: number, totalSamples: number): Buffer {
  const rand = mulberry32(11);
  const lines: string[] = [];
  let ts = 1_700_000_000_000;
  for (let n = 0; n < totalSamples; n += batch) {
    const samples = Array.from({ length: batch }, () => Math.round((3 + rand() * 4 + (rand() < 0.01 ? 20 : 0)) * 1000) / 1000);
    ts += 100;
    lines.push(JSON.stringify({ v: 1, type: 'latency', target: n % (batch * 2) === 0 ? 'candidate/cpu-fp32' : 'production/cpu-fp32', samples, ts }));
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

function ingest(bytes: Buffer, chunk: number): { samples: number; state: LiveState } {
  const parser = new EventLineParser();
  let state = initialLiveState;
  let samples = 0;
  for (let off = 0; off < bytes.length; off += chunk) {
    for (const r of parser.push(bytes.subarray(off, off + chunk))) {
      if (!r.ok) throw new Error(r.error);
      if (r.event.type === 'latency') samples += r.event.samples.length;
      state = reduceLive(state, r.event);
    }
  }
  for (const r of parser.end()) if (r.ok) state = reduceLive(state, r.event);
  return { samples, state };
}

function jsonParseOnly(bytes: Buffer): number {
  let samples = 0;
  for (const line of bytes.toString('utf8').split('\n')) {
    if (!line) continue;
    samples += (JSON.parse(line) as { samples: number[] }).samples.length;
  }
  return samples;
}

const TOTAL = 4_000_000;
const results: Record<string, unknown>[] = [];
for (const batch of [100, 1000]) {
  const bytes = makeStream(batch, TOTAL);
  const paddockRates: number[] = [];
  const floorRates: number[] = [];
  let last: LiveState | undefined;
  for (let rep = 0; rep < 5; rep++) {
    let t = performance.now();
    const { samples, state } = ingest(bytes, 64 * 1024);
    paddockRates.push(samples / ((performance.now() - t) / 1000));
    last = state;
    t = performance.now();
    const n = jsonParseOnly(bytes);
    floorRates.push(n / ((performance.now() - t) / 1000));
  }
  const rate = median(paddockRates);
  const floor = median(floorRates);
  const h = last!.latency['candidate/cpu-fp32'].total;
  results.push({ batch, samples: TOTAL, megabytes: +(bytes.length / 2 ** 20).toFixed(1), samplesPerSecond: Math.round(rate), jsonParseOnlySamplesPerSecond: Math.round(floor), ratioToJsonParse: +(rate / floor).toFixed(3) });
  console.log(
    `batch ${String(batch).padStart(4)}: ${(rate / 1e6).toFixed(2)} M samples/s through parse + validate + reduce ` +
      `(JSON.parse alone: ${(floor / 1e6).toFixed(2)} M/s, ratio ${(rate / floor).toFixed(2)}); candidate p99 ${quantile(h, 0.99).toFixed(2)} ms, ` +
      `${h.counts.length} buckets for ${h.count} samples; goal >= 2 M/s: ${rate >= 2e6 ? 'met' : 'NOT met'}`,
  );
}
console.log(`figures: ${writeResults('ingest', { goalSamplesPerSecond: 2e6, results })}`);
