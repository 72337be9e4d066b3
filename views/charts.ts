/**
 * Chart strings, made outside render (STYLE.md): a latency histogram of vertical bars and a
 * percentile-over-time line chart (asciichart). Pure: data and a size in, lines out.
 */
import asciichart from 'asciichart';
import { quantile, toLinearBins, type LatencyHistogram } from '../src/metrics/latency-histogram.js';
import type { PercentilePoint } from '../src/live/live-state.js';
import { formatMs } from '../src/files/format.js';

export interface Glyphs {
  bars: readonly string[];
  /** asciichart's symbols: ┼ ┤ ╶ ╴ ─ ╰ ╭ ╮ ╯ │ */
  chart: readonly string[];
}

export const UNICODE_GLYPHS: Glyphs = {
  bars: [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'],
  chart: ['┼', '┤', '╶', '╴', '─', '╰', '╭', '╮', '╯', '│'],
};

export const ASCII_GLYPHS: Glyphs = {
  bars: [' ', '.', '.', ':', ':', '|', '|', '#', '#'],
  chart: ['+', '|', '-', '-', '-', '\\', '/', '\\', '/', '|'],
};

/**
 * A histogram of `height` rows of bars and one axis row, `width` columns.
 * The range runs from the minimum to the 99.5th percentile so one outlier does not squash it;
 * the last bar also holds what lies beyond.
 *   plotHistogram(h, {width: 20, height: 3}) ->
 *   ['      ▂█▅           ', '     ▃███▆▁         ', '   ▁▅██████▄▂▁      ', '2.91ms        4.12ms']
 */
export function plotHistogram(h: LatencyHistogram, opts: { width: number; height: number; glyphs?: Glyphs }): string[] {
  const { width, height } = opts;
  const glyphs = opts.glyphs ?? UNICODE_GLYPHS;
  if (h.count === 0 || width < 4 || height < 1) {
    return [...Array.from({ length: height }, () => ' '.repeat(Math.max(0, width))), 'waiting for samples'.slice(0, width).padEnd(width)];
  }
  const hi = Math.max(h.min, quantile(h, 0.995));
  const { counts } = toLinearBins(h, width, { lo: h.min, hi: hi > h.min ? hi : h.min + 1e-6 });
  const peak = Math.max(...counts);
  const levels = glyphs.bars.length - 1;
  const rows: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    let line = '';
    for (const c of counts) {
      const units = peak === 0 ? 0 : (c / peak) * height * levels;
      const inRow = Math.max(0, Math.min(levels, Math.round(units - r * levels)));
      line += glyphs.bars[c > 0 && r === 0 && inRow === 0 ? 1 : inRow];
    }
    rows.push(line);
  }
  const left = `${formatMs(h.min)}ms`;
  const right = `${formatMs(hi)}ms`;
  const gap = Math.max(1, width - left.length - right.length);
  rows.push(`${left}${' '.repeat(gap)}${right}`.slice(0, width));
  return rows;
}

/**
 * p50 and p99 over time, the newest point on the right; `height` rows plus none extra.
 * Returns the chart lines (asciichart) padded to `width`.
 */
export function plotPercentiles(series: readonly PercentilePoint[], opts: { width: number; height: number; glyphs?: Glyphs; colors?: boolean }): string[] {
  const { width, height } = opts;
  const labelWidth = 8;
  const points = Math.max(2, width - labelWidth - 1);
  if (series.length < 2 || height < 2) {
    const msg = series.length < 2 ? 'percentiles appear after 2 s' : '';
    return Array.from({ length: height }, (_, i) => (i === 0 ? msg : '').slice(0, width).padEnd(width));
  }
  const tail = series.slice(-points);
  const p50 = tail.map((p) => p.p50);
  const p99 = tail.map((p) => p.p99);
  const chart = asciichart.plot([p99, p50], {
    height: height - 1,
    offset: 1,
    padding: ' '.repeat(labelWidth - 1),
    format: (x: number) => formatMs(x).padStart(labelWidth - 1),
    symbols: [...(opts.glyphs ?? UNICODE_GLYPHS).chart],
    colors: opts.colors ? [asciichart.red, asciichart.green] : undefined,
  });
  return chart.split('\n').map((l: string) => l);
}
