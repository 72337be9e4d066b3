/**
 * binCounts: the histogram re-binned for a chart's columns, checked against the exact counts of
 * the raw samples (the reference: counting each sample into its bin), for the distributions the
 * bench steps produce, on linear and logarithmic edges, including bins narrower than a bucket.
 */
import { describe, expect, it } from 'vitest';
import { binCounts, emptyHistogram, recordSamples } from '../../src/metrics/latency-histogram.js';
import { seededRandom } from '../../src/files/prng.js';

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Counts of the raw samples per bin, the first and last bins holding what lies outside. */
function exactCounts(samples: number[], edges: number[]): number[] {
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (const x of samples) {
    let k = edges.findIndex((e, i) => i + 1 < edges.length && x < edges[i + 1]);
    if (k < 0) k = counts.length - 1;
    counts[k]++;
  }
  return counts;
}

const linear = (lo: number, hi: number, n: number) => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
const logEdges = (lo: number, hi: number, n: number) => Array.from({ length: n + 1 }, (_, i) => lo * (hi / lo) ** (i / n));

describe('binCounts against the raw samples', () => {
  it.each([
    ['lognormal around 9 ms, 70 linear bins', (r: () => number) => Math.exp(Math.log(9) + 0.25 * gaussian(r)), (s: number[]) => linear(Math.min(...s), Math.max(...s), 70), 0.01],
    ['5-40 ms with a tail, 68 log bins', (r: () => number) => (r() < 0.97 ? 5 + 10 * r() ** 2 : 40 + 400 * r()), (s: number[]) => logEdges(Math.min(...s), Math.max(...s), 68), 0.01],
    // 9.13-9.44 ms over 70 columns: a column is 0.05% wide, a bucket 1%; whole-bucket placement drew a comb.
    ['narrow 9.13-9.44 ms, bins narrower than a bucket', (r: () => number) => 9.13 + 0.31 * r(), (s: number[]) => linear(Math.min(...s), Math.max(...s), 70), 0.03],
  ])('%s: every count kept, the bins within the bucket resolution of the exact counts', (_name, draw, edgesOf, tolerance) => {
    const rand = seededRandom(3);
    const samples = Array.from({ length: 50_000 }, () => draw(rand));
    const edges = edgesOf(samples);
    const h = recordSamples(emptyHistogram(), samples);
    const got = binCounts(h, edges);
    const want = exactCounts(samples, edges);
    expect(got.reduce((a, b) => a + b, 0)).toBeCloseTo(samples.length, 6);
    // Total variation between the two distributions: what a bucket's spread moves across bin edges.
    const moved = got.reduce((a, g, k) => a + Math.abs(g - want[k]), 0) / 2 / samples.length;
    expect(moved).toBeLessThan(tolerance);
    // No empty column where samples lie (the comb), none filled where none lie beyond a bucket's width.
    for (let k = 0; k < want.length; k++) if (want[k] > 0.01 * samples.length / want.length) expect(got[k], `bin ${k}`).toBeGreaterThan(0);
  });

  it('puts everything outside the edges into the end bins, and identical samples into one bin', () => {
    const h = recordSamples(emptyHistogram(), [1, 2, 2, 9, 50]);
    const got = binCounts(h, [3, 5, 10]);
    expect(got[0]).toBeCloseTo(3, 9);
    expect(got[1]).toBeCloseTo(2, 9);
    const same = binCounts(recordSamples(emptyHistogram(), [5, 5, 5, 5]), linear(4, 6, 8));
    expect(same.filter((c) => c > 0)).toEqual([4]);
    expect(binCounts(emptyHistogram(), [0, 1])).toEqual([0]);
  });

  it('names bad edges', () => {
    expect(() => binCounts(emptyHistogram(), [1])).toThrow(/at least two edges/);
    expect(() => binCounts(emptyHistogram(), [1, 3, 2])).toThrow(/edges must ascend, got 3 then 2 at 1/);
  });
});
