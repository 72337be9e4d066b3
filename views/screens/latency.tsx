/**
 * Live latency, candidate against production: the target in front and its counterpart (the same
 * target of the other model) as histograms stacked on one shared x axis, so that a column means
 * the same milliseconds in both, then p50 and p99 over time with both targets overlaid (solid
 * and dotted, a legend, values on both axes). Tab brings the next target to the front, `e` shows
 * it alone, `f` freezes the data.
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { LiveState, TargetLatency } from '../../src/live/live-state.js';
import { quantile } from '../../src/metrics/latency-histogram.js';
import { formatMs } from '../../src/files/format.js';
import { clip, type Theme } from '../theme.js';
import { histogramAxis, histogramBars, latencyScale, plotOverTime, visibleLength } from '../charts.js';
import { fitParts, type LinePart } from '../table.js';
import type { ScreenBinding } from '../keymap.js';
import type { ScreenProps } from './screen.js';
import { NoRun, pad } from './list.js';

/** Tab (next target), f (freeze), e (the target in front alone). */
export const LATENCY_BINDINGS: readonly ScreenBinding[] = ['next-pane', 'freeze', 'expand'];

/** The target compared with `target`: the same target name after "/", another model. */
export function counterpartOf(target: string, targets: readonly string[]): string | undefined {
  const [model, ...rest] = target.split('/');
  const suffix = rest.join('/');
  const others = targets.filter((t) => t !== target && t.split('/').slice(1).join('/') === suffix && t.split('/')[0] !== model);
  return others.find((t) => /prod|baseline/.test(t)) ?? others[0];
}

/** The latency screen: the shown run's live latency, the target chosen with Tab in front. */
export function LatencyScreen({ data, options, width, height, theme }: ScreenProps<unknown>) {
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  return <LatencyPanes state={data.run.view} targetIndex={data.target} width={width} height={height} theme={theme} frozen={data.frozen} expanded={options.expanded} />;
}

export interface LatencyPanesProps {
  state: LiveState;
  /** Which target is in front: counts Tab presses, taken modulo the targets. */
  targetIndex: number;
  width: number;
  height: number;
  theme: Theme;
  frozen: boolean;
  /** Only the target in front, at full size. */
  expanded?: boolean;
}

/** The targets in the order Tab steps through them: candidates before production, then by name. */
export function latencyTargets(state: LiveState): string[] {
  return Object.keys(state.latency).sort((a, b) => Number(/prod|baseline/.test(a)) - Number(/prod|baseline/.test(b)) || a.localeCompare(b));
}

/** The target in front and its counterpart (none when expanded or when it has none). */
export function shownTargets(state: LiveState, targetIndex: number, expanded = false): string[] {
  const targets = latencyTargets(state);
  if (!targets.length) return [];
  const main = targets[targetIndex % targets.length];
  const other = expanded ? undefined : counterpartOf(main, targets);
  return other ? [main, other] : [main];
}

/** The panes of the target in front and of its counterpart, from latencyLines. */
export function LatencyPanes({ state, targetIndex, width, height, theme, frozen, expanded = false }: LatencyPanesProps) {
  const shown = shownTargets(state, targetIndex, expanded);
  if (!shown.length) {
    return (
      <Box flexDirection="column">
        <Text bold color={theme.accent}>
          LATENCY
        </Text>
        <Text>{clip('  no latency samples in this run yet (bench steps stream them)', width, theme.unicode)}</Text>
        {pad(height - 2, 'lz')}
      </Box>
    );
  }
  const lines = latencyLines(shown.map((t) => state.latency[t]), { width, height, theme, frozen, targets: latencyTargets(state) });
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate" bold={l.bold} color={theme.color ? l.color : undefined}>
          {l.text}
        </Text>
      ))}
    </Box>
  );
}

/** One line of the latency screen, with its color. */
export interface LatencyLine {
  text: string;
  color?: string;
  bold?: boolean;
}

/** The colors of the target in front and of its counterpart, in histograms and lines alike. */
export const TARGET_COLORS = ['cyan', 'magenta'] as const;

/** "candidate/cpu-fp32" -> "candidate": the model part, which tells a pair apart. */
const modelOf = (target: string) => target.split('/')[0] || target;

const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? `x${(a / b).toFixed(2)}` : '-');

/**
 * A latency title in `width`: "LATENCY candidate/cpu-fp32  p50 9.25  p95 9.25  p99 9.44 ms
 * n=300  [1/2 Tab]". When it is too long p95 goes first, then p50; FROZEN, the target, p99, the
 * sample count and the Tab hint always stay.
 */
export function latencyTitle(latency: TargetLatency | undefined, targets: readonly string[], frozen: boolean, width: number, unicode: boolean): string {
  const h = latency?.total;
  const parts: LinePart[] = latency && h
    ? [{ text: `LATENCY ${latency.target}` }, { text: `p50 ${formatMs(quantile(h, 0.5))}`, drop: 2 }, { text: `p95 ${formatMs(quantile(h, 0.95))}`, drop: 1 }, { text: `p99 ${formatMs(quantile(h, 0.99))} ms` }, { text: `n=${h.count}` }]
    : [{ text: 'LATENCY' }, { text: 'no samples yet' }];
  if (targets.length > 1) parts.push({ text: `[${targets.indexOf(latency?.target ?? '') + 1}/${targets.length} Tab]` });
  if (frozen) parts.unshift({ text: 'FROZEN (f)' });
  return fitParts(parts, width, '  ', unicode);
}

/**
 * The latency screen as lines, exactly `height` of them and none wider than `width`: for each
 * target shown (one, or the one in front and its counterpart) its title with p50/p95/p99 and n;
 * their histograms on one x axis (ms, the axis values under them); then p50 and p99 over time,
 * the targets overlaid, side by side when there is room.
 *   LATENCY candidate/cpu-fp32  p50 9.25  p95 9.25  p99 9.44 ms  n=300  [1/2 Tab]
 *   LATENCY production/cpu-fp32  p50 6.02  p95 6.08  p99 6.65 ms  n=300  [2/2 Tab]
 *   HISTOGRAMS, one x axis (ms, linear)  candidate/production p50 x1.54 p99 x1.42
 *   candidate                                               ▂█▅
 *   production  ▁▅█▇▂
 *               ┴──────────┴──────────┴──────────┴─────────────┴
 *            ms 5.91       7          8          9          9.44
 */
export function latencyLines(latencies: readonly TargetLatency[], opts: { width: number; height: number; theme: Theme; frozen: boolean; targets: readonly string[] }): LatencyLine[] {
  const { width, height, theme, frozen, targets } = opts;
  const glyphs = theme.glyphs;
  const n = latencies.length;
  const out: LatencyLine[] = [];
  const fit = (s: string) => clip(s, width, theme.unicode).padEnd(width);
  for (const l of latencies) {
    out.push({ text: fit(latencyTitle(l, targets, frozen, width, theme.unicode)), bold: true, color: theme.accent });
  }
  const names = latencies.map((l) => modelOf(l.target));
  const scale = latencyScale(latencies.map((l) => l.total));
  const fixed = n + 4;
  const rest = Math.max(0, height - fixed);
  const barRows = Math.max(1, Math.floor((rest * 0.45) / n));
  const chartRows = rest - barRows * n;
  // Histograms: the model's name in a gutter, the bars on the shared scale.
  const gutter = Math.min(12, Math.max(...names.map((s) => s.length))) + 1;
  const barWidth = Math.max(4, width - gutter);
  const scaleName = scale?.log ? 'log' : 'linear';
  const compare = n > 1 ? `  ${names[0]}/${names[1]} p50 ${ratio(quantile(latencies[0].total, 0.5), quantile(latencies[1].total, 0.5))} p99 ${ratio(quantile(latencies[0].total, 0.99), quantile(latencies[1].total, 0.99))}` : '';
  out.push({ text: fit(`${n > 1 ? 'HISTOGRAMS, one x axis' : 'HISTOGRAM'} (ms, ${scaleName})${compare}`), bold: true });
  latencies.forEach((l, k) => {
    const bars = scale && l.total.count ? histogramBars(l.total, { width: barWidth, height: barRows, scale, glyphs }) : Array.from({ length: barRows }, (_, r) => (r === barRows - 1 ? 'waiting for samples' : ''));
    bars.forEach((b, r) => out.push({ text: fit(`${(r === 0 ? clip(names[k], gutter - 1, theme.unicode) : '').padEnd(gutter)}${b}`), color: TARGET_COLORS[k] }));
  });
  if (scale) {
    const beyond = latencies.some((l) => l.total.count && l.total.max > scale.hi);
    const [line, labels] = histogramAxis(scale, barWidth, glyphs, { beyond });
    out.push({ text: fit(`${' '.repeat(gutter)}${line}`) });
    out.push({ text: fit(`${'ms'.padStart(gutter - 1)} ${labels}`) });
  } else {
    out.push({ text: fit('') }, { text: fit('') });
  }
  // Percentiles over time: p50 and p99 side by side (p99 alone when narrow), the targets overlaid.
  out.push({ text: fit(`PERCENTILES OVER TIME  x: seconds since ${n > 1 ? "each target's" : 'the'} first window`), bold: true });
  if (chartRows >= 4) {
    const timeLines = latencies.map((l, k) => ({ name: names[k], points: l.series }));
    const colors = theme.color ? [...TARGET_COLORS] : undefined;
    const both = width >= 60;
    const half = both ? Math.floor((width - 2) / 2) : width;
    const p99 = plotOverTime(timeLines, 'p99', { width: both ? width - half - 2 : width, height: chartRows, glyphs, colors });
    const p50 = both ? plotOverTime(timeLines, 'p50', { width: half, height: chartRows, glyphs, colors }) : undefined;
    for (let r = 0; r < chartRows; r++) {
      const row = p50 ? `${p50[r]}${' '.repeat(Math.max(0, half - visibleLength(p50[r])))}  ${p99[r]}` : p99[r];
      out.push({ text: row });
    }
  } else {
    for (let r = 0; r < chartRows; r++) out.push({ text: fit('') });
  }
  return out.slice(0, height);
}
