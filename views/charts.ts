/**
 * Chart strings, made outside render (STYLE.md): latency histograms on an x axis that the targets
 * shown together share, percentiles over time (asciichart) with a legend and values on both axes,
 * and progress bars with rate and ETA. Pure: data and a size in, lines out.
 */
import asciichart from 'asciichart';
import { binCounts, quantile, type LatencyHistogram } from '../src/metrics/latency-histogram.js';
import type { PercentilePoint } from '../src/live/live-state.js';
import { formatDuration, formatMs } from '../src/files/format.js';

export interface Glyphs {
  bars: readonly string[];
  /** asciichart's symbols: ┼ ┤ ╶ ╴ ─ ╰ ╭ ╮ ╯ │ */
  chart: readonly string[];
  /** The second line of an overlaid chart (dotted where the first is solid). */
  dot: string;
  /** The x axis under a histogram: its line and the mark of a labelled value. */
  axis: string;
  tick: string;
  /** A progress bar: done, the fractions of a cell (eighths, none first), not yet done. */
  done: string;
  partial: readonly string[];
  todo: string;
}

export const UNICODE_GLYPHS: Glyphs = {
  bars: [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'],
  chart: ['┼', '┤', '╶', '╴', '─', '╰', '╭', '╮', '╯', '│'],
  dot: '·',
  axis: '─',
  tick: '┴',
  done: '█',
  partial: ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'],
  todo: '░',
};

export const ASCII_GLYPHS: Glyphs = {
  bars: [' ', '.', '.', ':', ':', '|', '|', '#', '#'],
  chart: ['+', '|', '-', '-', '-', '\\', '/', '\\', '/', '|'],
  dot: '.',
  axis: '-',
  tick: '+',
  done: '#',
  partial: [''],
  todo: '-',
};

/** An x axis: from `lo` to `hi` milliseconds, linear or logarithmic. */
export interface AxisScale {
  lo: number;
  hi: number;
  log: boolean;
}

/** Ranges spanning this factor or more are drawn on a log axis (a long tail would squash the rest). */
export const LOG_SCALE_FACTOR = 4;

/**
 * The x axis that histograms shown together share: from the smallest minimum to the largest
 * 99.5th percentile (one outlier does not squash the rest; the last bar holds what lies beyond),
 * logarithmic when that spans a factor of LOG_SCALE_FACTOR or more. Undefined when no histogram
 * has samples.
 *   latencyScale([cand, prod]) -> { lo: 5.2, hi: 439, log: true }
 */
export function latencyScale(hs: readonly LatencyHistogram[]): AxisScale | undefined {
  const full = hs.filter((h) => h.count > 0);
  if (!full.length) return undefined;
  const lo = Math.min(...full.map((h) => h.min));
  let hi = Math.max(...full.map((h) => Math.max(h.min, quantile(h, 0.995))));
  if (!(hi > lo)) hi = lo + Math.max(1e-3, Math.abs(lo) * 0.01);
  return { lo, hi, log: lo > 0 && hi / lo >= LOG_SCALE_FACTOR };
}

/** Where value `v` falls on the axis, 0..1 (clamped). */
function axisFraction(scale: AxisScale, v: number): number {
  const f = scale.log ? (Math.log(v) - Math.log(scale.lo)) / (Math.log(scale.hi) - Math.log(scale.lo)) : (v - scale.lo) / (scale.hi - scale.lo);
  return Math.max(0, Math.min(1, f));
}

/** The value at fraction `f` of the axis. */
function axisValue(scale: AxisScale, f: number): number {
  return scale.log ? Math.exp(Math.log(scale.lo) + f * (Math.log(scale.hi) - Math.log(scale.lo))) : scale.lo + f * (scale.hi - scale.lo);
}

/** The column of value `v` on an axis `width` columns wide. */
export function axisColumn(scale: AxisScale, v: number, width: number): number {
  return Math.min(width - 1, Math.floor(axisFraction(scale, v) * width));
}

/**
 * `height` rows of bars, `width` columns, on `scale` (default: the histogram's own). Each bar is
 * the samples of its column's share of the axis, scaled to the tallest bar.
 */
export function histogramBars(h: LatencyHistogram, opts: { width: number; height: number; scale?: AxisScale; glyphs?: Glyphs }): string[] {
  const { width, height } = opts;
  const glyphs = opts.glyphs ?? UNICODE_GLYPHS;
  const scale = opts.scale ?? latencyScale([h]);
  if (!scale || h.count === 0 || width < 1) return Array.from({ length: height }, () => ' '.repeat(Math.max(0, width)));
  const edges = Array.from({ length: width + 1 }, (_, i) => axisValue(scale, i / width));
  const counts = binCounts(h, edges);
  const peak = Math.max(...counts);
  const levels = glyphs.bars.length - 1;
  const rows: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    let line = '';
    for (const c of counts) {
      const units = peak === 0 ? 0 : (c / peak) * height * levels;
      const inRow = Math.max(0, Math.min(levels, Math.round(units - r * levels)));
      // A column holding samples always shows on the bottom row, however few they are.
      line += glyphs.bars[c >= 0.3 && r === 0 && inRow === 0 ? 1 : inRow];
    }
    rows.push(line);
  }
  return rows;
}

/** Nice values between lo and hi: 1, 2, 5 x 10^k on a log axis, multiples of a round step on a linear one. */
function niceTicks(scale: AxisScale, max: number): number[] {
  const { lo, hi } = scale;
  if (max < 1 || !(hi > lo) || !Number.isFinite(hi - lo)) return [];
  if (scale.log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v > lo && v < hi) out.push(v);
    }
    if (out.length <= max) return out;
    const decades = out.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
    return decades.length ? decades : out.filter((_, i) => i % Math.ceil(out.length / max) === 0);
  }
  const raw = (hi - lo) / max;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v < hi; v += step) if (v > lo) out.push(Number(v.toPrecision(12)));
  return out;
}

/**
 * The x axis of a histogram: a line with a mark under each labelled value, and the labels (the
 * two ends, exact, then round values where they fit), `width` columns each. `beyond`: samples lie
 * above the top of the axis (in the last bar), and its label says so with a "+".
 *   histogramAxis({lo: 5.91, hi: 9.44, log: false}, 40) ->
 *   ['┴──────┴──────────┴──────────┴───────┴', '5.91   7          8          9    9.44']
 */
export function histogramAxis(scale: AxisScale, width: number, glyphs: Glyphs = UNICODE_GLYPHS, opts: { beyond?: boolean } = {}): [string, string] {
  const line = Array.from({ length: width }, () => glyphs.axis);
  const labels = Array.from({ length: width }, () => ' ');
  const taken = new Uint8Array(width);
  const place = (v: number, text: string, at: 'start' | 'end' | 'centre') => {
    const col = axisColumn(scale, v, width);
    const start = at === 'start' ? 0 : at === 'end' ? width - text.length : Math.max(0, Math.min(width - text.length, col - Math.floor(text.length / 2)));
    if (start < 0) return false;
    // One free column on each side, so two labels never run together.
    for (let i = Math.max(0, start - 1); i < Math.min(width, start + text.length + 1); i++) if (taken[i]) return false;
    for (let i = 0; i < text.length; i++) {
      labels[start + i] = text[i];
      taken[start + i] = 1;
    }
    line[col] = glyphs.tick;
    return true;
  };
  place(scale.lo, formatMs(scale.lo), 'start');
  place(scale.hi, `${formatMs(scale.hi)}${opts.beyond ? '+' : ''}`, 'end');
  for (const v of niceTicks(scale, Math.max(1, Math.floor(width / 7)))) place(v, formatMs(v).replace(/\.0+$/, ''), 'centre');
  return [line.join(''), labels.join('')];
}

/**
 * A histogram of `height` rows of bars and one axis row, `width` columns, on the histogram's own
 * scale (or the one given, to share it with another histogram).
 *   plotHistogram(h, {width: 20, height: 3}) ->
 *   ['      ▂█▅           ', '     ▃███▆▁         ', '   ▁▅██████▄▂▁      ', '2.91            4.12']
 */
export function plotHistogram(h: LatencyHistogram, opts: { width: number; height: number; scale?: AxisScale; glyphs?: Glyphs }): string[] {
  const { width, height } = opts;
  const scale = opts.scale ?? latencyScale([h]);
  if (!scale || h.count === 0 || width < 4 || height < 1) {
    return [...Array.from({ length: height }, () => ' '.repeat(Math.max(0, width))), 'waiting for samples'.slice(0, width).padEnd(width)];
  }
  return [...histogramBars(h, { ...opts, scale }), histogramAxis(scale, width, opts.glyphs)[1]];
}

/** One line of a percentile-over-time chart: a target's windows. */
export interface TimeLine {
  name: string;
  points: readonly PercentilePoint[];
}

export type Percentile = 'p50' | 'p95' | 'p99';

const ANSI_COLORS: Record<string, string> = { cyan: '\x1b[36m', magenta: '\x1b[35m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m' };
const ANSI_RESET = '\x1b[39m';

/**
 * One percentile of up to two targets over time, overlaid: a legend row, the chart (asciichart:
 * the y axis labelled in ms on every row; the first line solid, the second dotted), and a time
 * row. x is the seconds since each target's first window, so targets benchmarked one after the
 * other start together; a column holds the worst window that falls in it. Exactly `height` rows
 * of `width` columns (with `colors`, ANSI color codes around the lines' glyphs).
 *   plotOverTime([cand, prod], 'p99', {width: 40, height: 6}) ->
 *   ['p99, ms  ─ candidate  · production', ' 9.44┤   ╭──╮', ' 8.10┤╭──╯  ╰─', ' 6.76┼╯  ···', ' 5.41┤·····', '     0s           1.5s          3s']
 */
export function plotOverTime(lines: readonly TimeLine[], q: Percentile, opts: { width: number; height: number; glyphs?: Glyphs; colors?: readonly string[] }): string[] {
  const { width, height } = opts;
  const glyphs = opts.glyphs ?? UNICODE_GLYPHS;
  const shown = lines.slice(0, 2);
  const fit = (s: string) => (s.length > width ? s.slice(0, width) : s.padEnd(width));
  const paint = (s: string, k: number) => {
    const c = opts.colors?.[k];
    return c && ANSI_COLORS[c] ? `${ANSI_COLORS[c]}${s}${ANSI_RESET}` : s;
  };
  const legendText = `${q}, ms  ${shown.map((l, k) => `${k === 0 ? glyphs.chart[4] : glyphs.dot} ${l.name}`).join('  ')}`;
  const legend = fit(legendText);
  const rows = height - 2;
  const withData = shown.filter((l) => l.points.length >= 2);
  if (rows < 2 || !withData.length) {
    const msg = fit(rows < 2 ? '' : 'percentiles appear after 2 s');
    return [legend, ...Array.from({ length: Math.max(0, height - 1) }, (_, i) => (i === 0 ? msg : ' '.repeat(width)))].slice(0, Math.max(0, height));
  }
  const values = withData.flatMap((l) => l.points.map((p) => p[q]));
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (!(max - min > Math.abs(max) * 1e-3)) {
    const pad = Math.max(1e-3, Math.abs(max) * 0.02);
    min -= pad;
    max += pad;
  }
  const labelWidth = Math.max(formatMs(min).length, formatMs(max).length);
  const dataWidth = Math.max(2, width - labelWidth - 1);
  const span = Math.max(1, ...withData.map((l) => l.points[l.points.length - 1].t - l.points[0].t));
  const columns = (l: TimeLine): number[] => {
    if (l.points.length < 2) return [];
    const t0 = l.points[0].t;
    const out: number[] = [];
    for (const p of l.points) {
      const col = Math.round(((p.t - t0) / span) * (dataWidth - 1));
      while (out.length < col) out.push(out[out.length - 1] ?? p[q]);
      out[col] = out.length > col ? Math.max(out[col], p[q]) : p[q];
    }
    return out;
  };
  // asciichart's label goes at column offset - label length, and the axis at offset - 1: offset 2
  // leaves the label whole (offset 1 drew the axis over it).
  const plotOne = (series: number[], h: number) =>
    asciichart.plot(series, { height: h, min, max, offset: 2, format: (x: number) => formatMs(x).padStart(labelWidth), symbols: [...glyphs.chart] }).split('\n');
  const series = shown.map(columns);
  // asciichart's row count depends on rounding; ask for fewer rows until it fits.
  let grids: string[][] = [];
  for (let h = rows - 1; h >= 1; h--) {
    grids = series.map((s) => (s.length ? plotOne(s, h) : []));
    if (Math.max(...grids.map((g) => g.length)) <= rows) break;
  }
  const base = grids.find((g) => g.length) ?? [];
  const chart: string[] = base.map((_, r) => {
    let out = '';
    const a = [...(grids[0][r] ?? '')];
    const b = [...(grids[1]?.[r] ?? '')];
    const axis = (grids[0].length ? a : b).slice(0, labelWidth + 1).join('');
    out += b[labelWidth] === glyphs.chart[0] && a[labelWidth] !== glyphs.chart[0] ? axis.slice(0, labelWidth) + glyphs.chart[0] : axis;
    for (let i = labelWidth + 1; i < labelWidth + 1 + dataWidth; i++) {
      const ca = a[i] ?? ' ';
      const cb = b[i] ?? ' ';
      out += ca !== ' ' ? paint(ca, 0) : cb !== ' ' ? paint(glyphs.dot, 1) : ' ';
    }
    return out;
  });
  while (chart.length < rows) chart.unshift(' '.repeat(width));
  // The time row: 0 s under the first column, the span under the last, the middle between.
  const time = Array.from({ length: width }, () => ' ');
  const put = (col: number, text: string) => {
    const start = Math.max(0, Math.min(width - text.length, col));
    for (let i = 0; i < text.length; i++) time[start + i] = text[i];
  };
  const secs = (ms: number) => `${Number((ms / 1000).toPrecision(2))}s`;
  put(labelWidth + 1, '0s');
  const endLabel = secs(span);
  put(width - endLabel.length, endLabel);
  const mid = secs(span / 2);
  if (dataWidth >= 16) put(labelWidth + 1 + Math.floor(dataWidth / 2) - Math.floor(mid.length / 2), mid);
  return [legend, ...chart.map((l) => l + ' '.repeat(Math.max(0, width - visibleLength(l)))), time.join('')];
}

/** The length of a string without its ANSI color codes. */
export function visibleLength(s: string): number {
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/** How a long piece of work goes: what was done of what, and how fast (from the events' times). */
export interface ProgressRate {
  done: number;
  total?: number;
  unit?: string;
  message?: string;
  /** When this phase began (its first event) and how much was done then. */
  since: number;
  doneSince: number;
  /** The time of the latest event. */
  at: number;
}

/**
 * Folds one progress observation in. A new phase begins when the unit or the total changes or
 * `done` goes back (the evaluate step counts the frames of each model, then bootstrap
 * replicates); a new message alone goes on with the phase (the slice being bootstrapped).
 */
export function reduceProgressRate(prev: ProgressRate | undefined, p: { done: number; total?: number; unit?: string; message?: string }, at: number): ProgressRate {
  const same = prev && prev.unit === p.unit && prev.total === p.total && p.done >= prev.done;
  if (same) return { ...prev, done: p.done, message: p.message, at };
  return { done: p.done, total: p.total, unit: p.unit, message: p.message, since: at, doneSince: p.done, at };
}

/** Units per second since the phase began; undefined until there are two observations apart in time. */
export function progressRate(r: ProgressRate, now = r.at): number | undefined {
  const ms = Math.max(r.at, now) - r.since;
  if (ms <= 0 || r.done <= r.doneSince) return undefined;
  return ((r.done - r.doneSince) / ms) * 1000;
}

/** Milliseconds left at the phase's rate so far; undefined without a total or a rate, or when done. */
export function progressEta(r: ProgressRate, now = r.at): number | undefined {
  const rate = progressRate(r, now);
  if (r.total === undefined || !rate || r.done >= r.total) return undefined;
  return (Math.max(0, r.total - r.done) / rate) * 1000;
}

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];
/** The byte unit for `n`: 1000^k and its name. */
function byteUnit(n: number): { div: number; name: string } {
  let k = 0;
  while (n >= 1000 ** (k + 1) && k < BYTE_UNITS.length - 1) k++;
  return { div: 1000 ** k, name: BYTE_UNITS[k] };
}
const decimal = (n: number) => (n >= 100 || Number.isInteger(n) ? Math.round(n).toString() : n.toFixed(1));

/**
 * The words of a progress line: done/total unit, percent, rate, ETA, then the message.
 *   formatProgress(r) -> '420/1000 frames 42% 312 frames/s ETA 1.9s (candidate inference)'
 *   formatProgress(upload) -> '12.0/48.0 MB 25% 3.1 MB/s ETA 12s'
 */
export function formatProgress(r: ProgressRate, now = r.at): string {
  const rate = progressRate(r, now);
  const eta = progressEta(r, now);
  let amount: string;
  let rateText: string | undefined;
  if (r.unit === 'bytes') {
    const u = byteUnit(r.total ?? r.done);
    amount = `${(r.done / u.div).toFixed(1)}${r.total !== undefined ? `/${(r.total / u.div).toFixed(1)}` : ''} ${u.name}`;
    if (rate !== undefined) {
      const ru = byteUnit(rate);
      rateText = `${(rate / ru.div).toFixed(1)} ${ru.name}/s`;
    }
  } else {
    amount = `${decimal(r.done)}${r.total !== undefined ? `/${decimal(r.total)}` : ''}${r.unit ? ` ${r.unit}` : ''}`;
    if (rate !== undefined) rateText = `${rate >= 10 ? Math.round(rate) : rate.toPrecision(2)} ${r.unit ?? 'units'}/s`;
  }
  // done * 100 first: (29 / 100) * 100 is 28.999999999999996 in floating point.
  const pct = r.total ? ` ${Math.floor((Math.min(r.done, r.total) * 100) / r.total)}%` : '';
  return `${amount}${pct}${rateText ? ` ${rateText}` : ''}${eta !== undefined ? ` ETA ${formatDuration(eta)}` : ''}${r.message ? ` (${r.message})` : ''}`;
}

/**
 * A bar `width` columns wide, filled to done/total (eighths of a cell with Unicode).
 *   progressBar(0.42, 10) -> '████▎░░░░░'
 */
export function progressBar(fraction: number, width: number, glyphs: Glyphs = UNICODE_GLYPHS): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const cells = f * width;
  const full = Math.floor(cells);
  const part = glyphs.partial[Math.floor((cells - full) * glyphs.partial.length)] ?? '';
  const head = glyphs.done.repeat(full) + (full < width ? part : '');
  return head + glyphs.todo.repeat(Math.max(0, width - head.length));
}
