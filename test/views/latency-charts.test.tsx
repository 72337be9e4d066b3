/**
 * The latency screen compares: rendered at 80 columns from the recorded demo run
 * (test/fixtures/workbench-run.ndjson, folded by the live reducer), the candidate's and
 * production's histograms stand on one x axis — the same axis labels whichever target is in
 * front, and each histogram's bars where its own samples lie on that axis, read back from the
 * text — and the percentiles over time carry a legend, values on the y axis and a time axis.
 * The wide case of the issue (candidate 6.9-33 ms, production 5.2-439 ms, from a busy machine)
 * goes through the same reducer from latency events and is drawn on one log axis.
 */
import { describe, expect, it } from 'vitest';
import React from 'react';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Box } from 'ink';
import { render } from 'ink-testing-library';
import { LatencyPanes } from '../../views/screens/latency.js';
import { makeTheme } from '../../views/theme.js';
import { initialLiveState, reduceLive, type LiveState } from '../../src/live/live-state.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { quantile } from '../../src/metrics/latency-histogram.js';
import { formatMs } from '../../src/files/format.js';
import { seededRandom } from '../../src/files/prng.js';
import { ROOT } from '../helpers/fixtures.js';

const ANSI = /\x1b\[[0-9;]*m/g;
const CAND = 'candidate/cpu-fp32';
const PROD = 'production/cpu-fp32';

/** The recorded demo run's live state. */
function recorded(): LiveState {
  let s = initialLiveState;
  for (const l of readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.ndjson'), 'utf8').trim().split('\n')) {
    s = reduceLive(s, PaddockEvent.parse((JSON.parse(l) as { event: unknown }).event));
  }
  return s;
}

/** Latency events as a bench step streams them: batches of samples 100 ms apart. */
function streamed(targets: Record<string, (r: () => number) => number>, batches = 40, perBatch = 25): LiveState {
  let s = initialLiveState;
  const rand = seededRandom(11);
  const t0 = Date.UTC(2026, 10, 25, 21, 0, 0);
  for (const [target, draw] of Object.entries(targets)) {
    for (let b = 0; b < batches; b++) {
      const samples = Array.from({ length: perBatch }, () => Number(draw(rand).toFixed(3)));
      s = reduceLive(s, PaddockEvent.parse({ v: 1, type: 'latency', target, samples, ts: t0 + b * 100 }));
    }
  }
  return s;
}

function frameOf(state: LiveState, opts: { targetIndex?: number; width?: number; height?: number; unicode?: boolean; expanded?: boolean } = {}) {
  const width = opts.width ?? 80;
  const height = opts.height ?? 21;
  const unicode = opts.unicode ?? true;
  // A box of the screen's width: ink-testing-library's own stdout is 100 columns wide.
  const app = render(
    <Box width={width}>
      <LatencyPanes state={state} targetIndex={opts.targetIndex ?? 0} width={width} height={height} theme={makeTheme(unicode, unicode)} frozen={false} expanded={opts.expanded} />
    </Box>,
  );
  const text = (app.lastFrame() ?? '').replace(ANSI, '');
  app.unmount();
  const lines = text.split('\n');
  expect(lines.length).toBeLessThanOrEqual(height);
  for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(width);
  return lines;
}

interface Histograms {
  header: string;
  /** Each histogram's rows, by the name in its gutter. */
  bars: Map<string, string[]>;
  gutter: number;
  ticks: string;
  labels: string;
}

/** The histogram block of the screen: header, each target's bar rows, the tick row and the label row. */
function histograms(lines: string[], tick = '┴'): Histograms {
  const h = lines.findIndex((l) => l.startsWith('HISTOGRAM'));
  const t = lines.findIndex((l, i) => i > h && l.includes(tick) && /^ +[┴─+-]+$/.test(l.trimEnd()));
  expect(h, lines.join('\n')).toBeGreaterThanOrEqual(0);
  expect(t, lines.join('\n')).toBeGreaterThan(h);
  const gutter = lines[t].search(/\S/);
  const bars = new Map<string, string[]>();
  let name = '';
  for (const l of lines.slice(h + 1, t)) {
    const g = l.slice(0, gutter).trim();
    if (g) name = g;
    bars.set(name, [...(bars.get(name) ?? []), l.slice(gutter).padEnd(lines[t].length - gutter)]);
  }
  return { header: lines[h], bars, gutter, ticks: lines[t].slice(gutter), labels: lines[t + 1].slice(gutter) };
}

/** The axis as the text shows it: each tick's column and the number labelled under it. */
function axisOf(ticks: string, labels: string, tick = '┴'): { col: number; value: number }[] {
  const tokens = [...labels.matchAll(/\d+(\.\d+)?\+?/g)].map((m) => ({ start: m.index!, end: m.index! + m[0].length, value: Number.parseFloat(m[0]) }));
  const out: { col: number; value: number }[] = [];
  for (let col = 0; col < ticks.length; col++) {
    if (ticks[col] !== tick) continue;
    const near = tokens.reduce((best, tk) => {
      const d = col < tk.start ? tk.start - col : col >= tk.end ? col - tk.end + 1 : 0;
      return d < best.d ? { d, tk } : best;
    }, { d: Infinity, tk: tokens[0] });
    out.push({ col, value: near.tk.value });
  }
  return out;
}

/** The column where `value` falls on the axis read from the text (linear or log between ticks). */
function columnOf(axis: { col: number; value: number }[], value: number, log: boolean): number {
  const f = (v: number) => (log ? Math.log(v) : v);
  const i = Math.max(0, Math.min(axis.length - 2, axis.findIndex((a, k) => k + 1 < axis.length && value <= axis[k + 1].value)));
  const [a, b] = [axis[i], axis[i + 1]];
  return a.col + ((f(value) - f(a.value)) / (f(b.value) - f(a.value))) * (b.col - a.col);
}

/** The first and last columns holding a bar in any of the rows. */
function extent(rows: string[]): [number, number] {
  const cols = rows.flatMap((r) => [...r].flatMap((c, i) => (c !== ' ' ? [i] : [])));
  return [Math.min(...cols), Math.max(...cols)];
}

describe('latency charts at 80 columns', () => {
  const state = recorded();

  it('candidate and production histograms share one x axis: the same labels whichever is in front', () => {
    const front = histograms(frameOf(state, { targetIndex: 0 }));
    const back = histograms(frameOf(state, { targetIndex: 1 }));
    expect(front.header).toMatch(/^HISTOGRAMS, one x axis \(ms, (linear|log)\)/);
    expect([...front.bars.keys()]).toEqual(['candidate', 'production']);
    expect([...back.bars.keys()]).toEqual(['production', 'candidate']);
    expect(back.labels).toBe(front.labels);
    expect(back.ticks).toBe(front.ticks);
    // The axis runs from the smaller of the two minima to the larger of the two 99.5th percentiles.
    const c = state.latency[CAND].total;
    const p = state.latency[PROD].total;
    expect(front.labels.trim().split(/\s+/)[0]).toBe(formatMs(Math.min(c.min, p.min)));
    expect(front.labels.trim().split(/\s+/).at(-1)).toMatch(new RegExp(`^${formatMs(Math.max(quantile(c, 0.995), quantile(p, 0.995))).replace('.', '\\.')}\\+?$`));
  });

  it("each histogram's bars stand where its samples lie on the shared axis (read back from the text)", () => {
    const hs = histograms(frameOf(state));
    const axis = axisOf(hs.ticks, hs.labels);
    expect(axis.length).toBeGreaterThanOrEqual(3);
    const log = hs.header.includes('log)');
    for (const [name, target] of [['candidate', CAND], ['production', PROD]] as const) {
      const [first] = extent(hs.bars.get(name)!);
      expect(Math.abs(first - columnOf(axis, state.latency[target].total.min, log)), `${name}'s first bar`).toBeLessThanOrEqual(1.5);
    }
    // The demo's candidate is slower: its bars start to the right of where production's bulk is.
    const [candFirst] = extent(hs.bars.get('candidate')!);
    expect(candFirst).toBeGreaterThan(columnOf(axis, quantile(state.latency[PROD].total, 0.99), log));
  });

  it('the percentile charts have a legend, values on the y axis and a time axis', () => {
    const lines = frameOf(state);
    const legend = lines.find((l) => l.startsWith('p50, ms'));
    expect(legend).toMatch(/^p50, ms {2}─ candidate {2}· production +p99, ms {2}─ candidate {2}· production/);
    const chart = lines.slice(lines.indexOf(legend!) + 1);
    // y values: every chart row starts with a number and the axis, falling from top to bottom.
    const left = chart.map((l) => /^ *(\d+(?:\.\d+)?)[┤┼]/.exec(l)?.[1]).filter(Boolean).map(Number);
    const right = chart.map((l) => /\s(\d+(?:\.\d+)?)[┤┼]/.exec(l.slice(38))?.[1]).filter(Boolean).map(Number);
    for (const ys of [left, right]) {
      expect(ys.length).toBeGreaterThanOrEqual(4);
      expect(ys).toEqual([...ys].sort((a, b) => b - a));
      expect(new Set(ys).size).toBeGreaterThan(1);
    }
    // Both lines are drawn: the solid one and the dotted one.
    expect(chart.join('\n')).toMatch(/[─╭╮╯╰]/);
    expect(chart.join('\n')).toContain('·');
    // The time axis, in seconds since each target's first window.
    expect(lines).toContainEqual(expect.stringMatching(/^PERCENTILES OVER TIME {2}x: seconds since each target's first window/));
    expect(chart.at(-1)).toMatch(/^ +0s +\S+s +\S+s +0s +\S+s +\S+s\s*$/);
  });

  it('ASCII and monochrome: the same chart in plain characters', () => {
    const lines = frameOf(state, { unicode: false });
    expect([...new Set(lines.join('').replace(/[\x20-\x7e]/g, ''))].join('')).toBe('');
    const hs = histograms(lines, '+');
    expect(axisOf(hs.ticks, hs.labels, '+').length).toBeGreaterThanOrEqual(3);
    expect(lines).toContainEqual(expect.stringMatching(/^p50, ms {2}- candidate {2}\. production/));
  });

  it('e: the target in front alone, its histogram on its own axis and one line per chart', () => {
    const lines = frameOf(state, { expanded: true });
    expect(lines.filter((l) => l.startsWith('LATENCY ')).length).toBe(1);
    expect(lines).toContainEqual(expect.stringMatching(/^HISTOGRAM \(ms, (linear|log)\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^p50, ms {2}─ candidate +p99, ms {2}─ candidate *$/));
  });

  it('lays out at 200x60 too, the histograms still on one axis', () => {
    const lines = frameOf(state, { width: 200, height: 57 });
    const hs = histograms(lines);
    expect([...hs.bars.keys()]).toEqual(['candidate', 'production']);
    expect(hs.bars.get('candidate')!.length).toBeGreaterThan(5);
  });
});

describe("the issue's busy machine: candidate 6.9-33 ms, production 5.2-439 ms", () => {
  // A long production tail (2% of samples between 100 and 439 ms), as a loaded machine gives.
  const state = streamed({
    [CAND]: (r) => 6.9 + 26.1 * r() ** 3,
    [PROD]: (r) => (r() < 0.98 ? 5.2 + 10 * r() ** 2 : 100 + 339 * r()),
  });

  it('is drawn on one log axis spanning both, labelled at round values', () => {
    const hs = histograms(frameOf(state));
    expect(hs.header).toMatch(/^HISTOGRAMS, one x axis \(ms, log\)/);
    const axis = axisOf(hs.ticks, hs.labels);
    const c = state.latency[CAND].total;
    const p = state.latency[PROD].total;
    expect(axis[0].value).toBe(Number(formatMs(Math.min(c.min, p.min))));
    expect(axis.at(-1)!.value).toBe(Number(formatMs(quantile(p, 0.995))));
    expect(axis.map((a) => a.value)).toEqual(expect.arrayContaining([10, 20, 50, 100]));
    // The candidate's bars span 6.9-33 ms of that axis, production's reach into its tail.
    const [cFirst, cLast] = extent(hs.bars.get('candidate')!);
    expect(Math.abs(cFirst - columnOf(axis, c.min, true))).toBeLessThanOrEqual(1.5);
    expect(Math.abs(cLast - columnOf(axis, c.max, true))).toBeLessThanOrEqual(1.5);
    expect(extent(hs.bars.get('production')!)[1]).toBeGreaterThan(columnOf(axis, 100, true));
  });
});
