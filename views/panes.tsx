/**
 * Panes shared by the workbench's screens: the live latency pane (histogram and percentiles
 * over time of one target; its title gives way as fitParts() says, keeping p99, n and the Tab
 * hint) and the slice rows selected from the live metrics.
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { LiveState, TargetLatency } from '../src/live/live-state.js';
import { quantile } from '../src/metrics/latency-histogram.js';
import type { Theme } from './theme.js';
import { fitParts, type LinePart } from './table.js';
import { plotHistogram, plotPercentiles } from './charts.js';
import { formatMs } from '../src/files/format.js';

export interface LatencyPaneProps {
  latency?: TargetLatency;
  targets: string[];
  width: number;
  rows: number;
  theme: Theme;
  frozen: boolean;
}

/**
 * A latency pane's title in `width`: "LATENCY candidate/cpu-fp32  p50 9.25  p95 9.25  p99 9.44 ms
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

export function LatencyPane({ latency, targets, width, rows, theme, frozen }: LatencyPaneProps) {
  const histWidth = Math.max(10, Math.floor((width - 2) * 0.45));
  const chartWidth = Math.max(10, width - histWidth - 3);
  const histLines = latency ? plotHistogram(latency.total, { width: histWidth, height: rows - 1, glyphs: theme.glyphs }) : Array.from({ length: rows }, () => '');
  const pctLines = latency ? plotPercentiles(latency.series, { width: chartWidth, height: rows, glyphs: theme.glyphs, colors: theme.color }) : [];
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {latencyTitle(latency, targets, frozen, width, theme.unicode)}
      </Text>
      <Box flexDirection="row">
        <Box flexDirection="column" width={histWidth + 2}>
          {histLines.slice(0, rows).map((l, i) => (
            <Text key={i} wrap="truncate">
              {l}
            </Text>
          ))}
        </Box>
        <Box flexDirection="column" width={chartWidth}>
          {pctLines.slice(0, rows).map((l, i) => (
            <Text key={i} wrap="truncate">
              {l}
            </Text>
          ))}
        </Box>
      </Box>
    </Box>
  );
}

/** One row of the slice table: the candidate's AP with its interval, the delta, adjusted p, denominators. */
export interface SliceRow {
  slice: string;
  critical: boolean;
  ap: number;
  lo?: number;
  hi?: number;
  delta?: number;
  deltaLo?: number;
  deltaHi?: number;
  p?: number;
  frames?: number;
  objects?: number;
}

/** Slice rows from the live metrics (the evaluate step's coco.AP / coco.AP.delta / slice.critical). */
export function selectSliceRows(state: LiveState): SliceRow[] {
  const rows = new Map<string, SliceRow>();
  const critical = new Set<string>();
  let target: string | undefined;
  for (const m of Object.values(state.metrics)) if (m.name === 'coco.AP.delta' && m.slice) target = m.target;
  for (const m of Object.values(state.metrics)) {
    if (!m.slice || (target !== undefined && m.target !== target)) continue;
    if (m.name === 'slice.critical' && m.value === 1) critical.add(m.slice);
    if (m.name === 'coco.AP' && m.ci) rows.set(m.slice, { ...(rows.get(m.slice) ?? { slice: m.slice, critical: false }), ap: m.value, lo: m.ci.lo, hi: m.ci.hi, frames: m.denominators?.frames, objects: m.denominators?.objects });
  }
  for (const m of Object.values(state.metrics)) {
    if (!m.slice || !rows.has(m.slice) || (target !== undefined && m.target !== target)) continue;
    const r = rows.get(m.slice)!;
    if (m.name === 'coco.AP.delta') Object.assign(r, { delta: m.value, deltaLo: m.ci?.lo, deltaHi: m.ci?.hi });
    if (m.name === 'coco.AP.delta_p_adjusted') r.p = m.value;
    else if (m.name === 'coco.AP.delta_p' && r.p === undefined) r.p = m.value;
  }
  for (const r of rows.values()) r.critical = critical.has(r.slice);
  // Regressions first (significant critical ones at the very top), then by delta.
  return [...rows.values()].sort((a, b) => {
    const bad = (r: SliceRow) => (r.deltaHi !== undefined && r.deltaHi < 0 ? (r.critical ? 0 : 1) : 2);
    return bad(a) - bad(b) || (a.delta ?? 0) - (b.delta ?? 0) || a.slice.localeCompare(b.slice);
  });
}

