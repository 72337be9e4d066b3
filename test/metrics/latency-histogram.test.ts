import { describe, expect, it } from 'vitest';
import {
  emptyHistogram,
  mergeHistograms,
  quantile,
  recordSamples,
  summarize,
  toLinearBins,
  MAX_TRACKED_MS,
} from '../../src/metrics/latency-histogram.js';
import { seededRandom as mulberry32 } from '../../src/files/prng.js';

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const distributions: [string, (r: () => number) => number][] = [
  ['uniform 2-4 ms', (r) => 2 + 2 * r()],
  ['lognormal around 5 ms', (r) => Math.exp(Math.log(5) + 0.3 * gaussian(r))],
  ['bimodal cache hit/miss', (r) => (r() < 0.8 ? 1 + 0.05 * gaussian(r) ** 2 : 12 + r())],
  ['heavy tail (pareto)', (r) => 0.5 / Math.pow(1 - r(), 1 / 1.5)],
  ['sub-millisecond', (r) => 0.02 + 0.01 * r()],
  ['seconds', (r) => 1000 + 5000 * r()],
];

/** The sample of rank floor(q (n - 1)), the definition quantile() approximates. */
function exact(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

describe('latency histogram', () => {
  it.each(distributions)('p50/p95/p99 within 1%% of the exact values: %s', (_name, draw) => {
    const rand = mulberry32(42);
    const samples = Array.from({ length: 50_000 }, () => draw(rand));
    let h = emptyHistogram();
    for (let i = 0; i < samples.length; i += 997) h = recordSamples(h, samples.slice(i, i + 997));
    const sorted = [...samples].sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) {
      const rel = Math.abs(quantile(h, q) - exact(sorted, q)) / exact(sorted, q);
      expect(rel, `q=${q}`).toBeLessThanOrEqual(0.01);
    }
    expect(h.count).toBe(samples.length);
    expect(h.min).toBe(sorted[0]);
    expect(h.max).toBe(sorted[sorted.length - 1]);
    expect(summarize(h).mean).toBeCloseTo(samples.reduce((a, b) => a + b, 0) / samples.length, 9);
  });

  it('keeps memory bounded: the bucket count does not grow with samples', () => {
    const rand = mulberry32(7);
    let h = emptyHistogram();
    for (let round = 0; round < 200; round++) h = recordSamples(h, Array.from({ length: 5000 }, () => 1 + 99 * rand()));
    const afterMillion = h.counts.length;
    for (let round = 0; round < 200; round++) h = recordSamples(h, Array.from({ length: 5000 }, () => 1 + 99 * rand()));
    expect(h.count).toBe(2_000_000);
    expect(h.counts.length).toBe(afterMillion);
    // 1..100 ms at 0.5% accuracy is ~461 buckets; the full tracked range stays under 3,000.
    expect(h.counts.length).toBeLessThan(470);
    const wide = recordSamples(emptyHistogram(), [1e-3, 1e7]);
    expect(wide.counts.length).toBeLessThan(3000);
  });

  it('merging equals recording everything in one histogram', () => {
    const rand = mulberry32(3);
    const a = Array.from({ length: 3000 }, () => 1 + 10 * rand());
    const b = Array.from({ length: 2000 }, () => 20 + 10 * rand());
    const merged = mergeHistograms(recordSamples(emptyHistogram(), a), recordSamples(emptyHistogram(), b));
    const all = recordSamples(emptyHistogram(), [...a, ...b]);
    expect(merged.counts).toEqual(all.counts);
    expect(merged.offset).toBe(all.offset);
    expect(merged.count).toBe(all.count);
    expect(merged.min).toBe(all.min);
    expect(merged.max).toBe(all.max);
    expect(merged.sum).toBeCloseTo(all.sum, 9);
    expect(() => mergeHistograms(emptyHistogram(0.01), emptyHistogram(0.005))).toThrow(/cannot merge/);
  });

  it('is pure: recording returns a new value and leaves the old one alone', () => {
    const h0 = recordSamples(emptyHistogram(), [1, 2, 3]);
    const snapshot = JSON.stringify(h0);
    const h1 = recordSamples(h0, [4, 5, 100]);
    expect(JSON.stringify(h0)).toBe(snapshot);
    expect(h1.count).toBe(6);
    expect(JSON.parse(JSON.stringify(h1))).toEqual(h1);
  });

  it('handles zeros, huge values and empty histograms', () => {
    expect(quantile(emptyHistogram(), 0.5)).toBeNaN();
    const h = recordSamples(emptyHistogram(), [0, 0, 0, 5]);
    expect(quantile(h, 0.5)).toBe(0);
    expect(quantile(h, 1)).toBe(5);
    const big = recordSamples(emptyHistogram(), [MAX_TRACKED_MS * 10]);
    expect(big.max).toBe(MAX_TRACKED_MS * 10);
    expect(quantile(big, 0.5)).toBe(MAX_TRACKED_MS * 10);
  });

  it('re-buckets into linear bins that keep every count', () => {
    const h = recordSamples(emptyHistogram(), [1, 1.1, 2, 3, 3, 3, 9]);
    const { counts, edges } = toLinearBins(h, 8);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(7);
    expect(edges).toHaveLength(9);
    expect(edges[0]).toBe(1);
  });
});
