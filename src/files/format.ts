/**
 * How paddock writes numbers and durations for people: the one module of formatters, so a line
 * in the headless output, a gate's rationale and a cell in the workbench agree.
 */

/** Formats a number for a line: 3 significant digits, no exponent for everyday sizes. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  if (a >= 10) return x.toFixed(2);
  if (a >= 0.001 || a === 0) return x.toFixed(3);
  return x.toPrecision(3);
}

/** A gate's measured value or threshold: 11 -> "11.000", 0.0372 -> "0.0372", 250 -> "250.0". */
export function formatMeasure(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toPrecision(3);
}

/**
 * The parameters a test's metric was computed at, in its `unit`: "alpha=0.05", "margin=0.02
 * resolution=1". A gate reads them back (parseTestUnit) to check that it decides at the level
 * the step tested at.
 */
export function testUnit(params: Record<string, number>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** testUnit's parameters back: "alpha=0.05 power=0.8" -> { alpha: 0.05, power: 0.8 }; anything else is left out. */
export function parseTestUnit(unit: string | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (unit ?? '').split(' ')) {
    const m = /^([a-z_]+)=(-?[0-9.eE+-]+)$/.exec(part);
    if (m && Number.isFinite(Number(m[2]))) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** A latency in milliseconds for charts and panes: 3 significant digits, "-" when not finite. */
export function formatMs(x: number): string {
  return !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** 1234 -> "1.2s", 75000 -> "1m15s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Lays out rows as aligned columns. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
