/**
 * Replay reports in formats other tools read: per-segment metrics as Parquet (hyparquet-writer,
 * as the evaluate stage's slice metrics; DuckDB, pandas and Spark read it), and a per-drive
 * timeline chart as SVG (objects in view, objects each model tracks, late frames, flagged
 * segments shaded), drawn as a pure string function.
 */

/** One row of segment_metrics.parquet: a segment of a drive under a variant, for one model. */
export interface SegmentRow {
  drive_id: string;
  variant: string;
  model: string;
  segment: number;
  frame_from: number;
  frame_to: number;
  t_from: number;
  t_to: number;
  gt_objects: number;
  MOTA: number;
  IDF1: number;
  HOTA: number;
  IDSW: number;
  Frag: number;
  FP: number;
  FN: number;
  late_frames: number;
  /** Divergence of this model against the reference of the variant (production, or the nominal replay); NaN/empty for the reference itself. */
  lost_objects: number;
  gained_objects: number;
  track_breaks: number;
  detection_mismatch: number;
  severity: number;
  flagged: boolean;
  reasons: string;
}

const COLUMNS: { name: keyof SegmentRow; type: 'STRING' | 'INT32' | 'DOUBLE' | 'BOOLEAN' }[] = [
  { name: 'drive_id', type: 'STRING' },
  { name: 'variant', type: 'STRING' },
  { name: 'model', type: 'STRING' },
  { name: 'segment', type: 'INT32' },
  { name: 'frame_from', type: 'INT32' },
  { name: 'frame_to', type: 'INT32' },
  { name: 't_from', type: 'DOUBLE' },
  { name: 't_to', type: 'DOUBLE' },
  { name: 'gt_objects', type: 'INT32' },
  { name: 'MOTA', type: 'DOUBLE' },
  { name: 'IDF1', type: 'DOUBLE' },
  { name: 'HOTA', type: 'DOUBLE' },
  { name: 'IDSW', type: 'INT32' },
  { name: 'Frag', type: 'INT32' },
  { name: 'FP', type: 'INT32' },
  { name: 'FN', type: 'INT32' },
  { name: 'late_frames', type: 'INT32' },
  { name: 'lost_objects', type: 'INT32' },
  { name: 'gained_objects', type: 'INT32' },
  { name: 'track_breaks', type: 'INT32' },
  { name: 'detection_mismatch', type: 'DOUBLE' },
  { name: 'severity', type: 'DOUBLE' },
  { name: 'flagged', type: 'BOOLEAN' },
  { name: 'reasons', type: 'STRING' },
];

/** Rows as Parquet bytes with the given column types (NaN written as null). */
async function parquetOf<R>(rows: readonly R[], columns: readonly { name: keyof R & string; type: 'STRING' | 'INT32' | 'DOUBLE' | 'BOOLEAN' }[]): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const columnData = columns.map((c) => ({ name: c.name, type: c.type, data: rows.map((r) => (typeof r[c.name] === 'number' && Number.isNaN(r[c.name]) ? null : r[c.name])) }));
  return new Uint8Array(parquetWriteBuffer({ columnData: columnData as never }));
}

/** segment_metrics.parquet as bytes. */
export function segmentMetricsParquet(rows: readonly SegmentRow[]): Promise<Uint8Array> {
  return parquetOf(rows, COLUMNS);
}

/** One row of frame_metrics.parquet: a processed frame of a drive under a variant, for one model. */
export interface FrameRow {
  drive_id: string;
  variant: string;
  model: string;
  /** The frame's index in the bundle, and its stamp as delivered (s since the drive's first frame). */
  source: number;
  t: number;
  gt_objects: number;
  tracks: number;
  TP: number;
  FP: number;
  FN: number;
  IDSW: number;
  latency_ms: number;
  late: boolean;
}

const FRAME_COLUMNS: { name: keyof FrameRow; type: 'STRING' | 'INT32' | 'DOUBLE' | 'BOOLEAN' }[] = [
  { name: 'drive_id', type: 'STRING' },
  { name: 'variant', type: 'STRING' },
  { name: 'model', type: 'STRING' },
  { name: 'source', type: 'INT32' },
  { name: 't', type: 'DOUBLE' },
  { name: 'gt_objects', type: 'INT32' },
  { name: 'tracks', type: 'INT32' },
  { name: 'TP', type: 'INT32' },
  { name: 'FP', type: 'INT32' },
  { name: 'FN', type: 'INT32' },
  { name: 'IDSW', type: 'INT32' },
  { name: 'latency_ms', type: 'DOUBLE' },
  { name: 'late', type: 'BOOLEAN' },
];

/** frame_metrics.parquet as bytes. */
export function frameMetricsParquet(rows: readonly FrameRow[]): Promise<Uint8Array> {
  return parquetOf(rows, FRAME_COLUMNS);
}

export interface TimelineChartInput {
  title: string;
  /** Per processed frame: stamp (s), objects in view, and per model the objects it tracks and whether it was late. */
  t: readonly number[];
  gt: readonly number[];
  models: readonly { name: string; color: string; tracked: readonly number[]; late: readonly boolean[] }[];
  segments: readonly { t0: number; t1: number; flagged: boolean; severity: number }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A drive's timeline as an SVG document (900 x 260). */
export function timelineSvg(c: TimelineChartInput): string {
  const W = 900;
  const H = 260;
  const L = 50;
  const R = 20;
  const top = 40;
  const plotH = 150;
  const tMax = Math.max(1e-9, c.t.length ? c.t[c.t.length - 1] : 1);
  const yMax = Math.max(1, ...c.gt, ...c.models.flatMap((m) => m.tracked));
  const x = (t: number) => L + ((W - L - R) * t) / tMax;
  const y = (v: number) => top + plotH - (plotH * v) / yMax;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="#fff"/>`, `<text x="${L}" y="18" font-size="13">${esc(c.title)}</text>`];
  for (const s of c.segments) {
    if (!s.flagged) continue;
    parts.push(`<rect x="${x(s.t0).toFixed(1)}" y="${top}" width="${Math.max(1, x(s.t1) - x(s.t0)).toFixed(1)}" height="${plotH}" fill="#f66" fill-opacity="${Math.min(0.5, 0.12 + s.severity * 0.05).toFixed(2)}"><title>flagged, severity ${s.severity}</title></rect>`);
  }
  parts.push(`<line x1="${L}" y1="${top + plotH}" x2="${W - R}" y2="${top + plotH}" stroke="#333"/>`, `<line x1="${L}" y1="${top}" x2="${L}" y2="${top + plotH}" stroke="#333"/>`);
  for (let v = 0; v <= yMax; v += Math.max(1, Math.ceil(yMax / 5))) parts.push(`<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  for (let t = 0; t <= tMax + 1e-9; t += Math.max(1, Math.ceil(tMax / 10))) parts.push(`<text x="${x(t)}" y="${top + plotH + 14}" text-anchor="middle">${t} s</text>`);
  const path = (vals: readonly number[]) => vals.map((v, i) => `${i ? 'L' : 'M'}${x(c.t[i]).toFixed(1)},${y(v).toFixed(1)}`).join('');
  parts.push(`<path d="${path(c.gt)}" fill="none" stroke="#2a2" stroke-width="2"/>`);
  c.models.forEach((m, k) => {
    parts.push(`<path d="${path(m.tracked)}" fill="none" stroke="${m.color}" stroke-width="1.5"${k ? ' stroke-dasharray="4 2"' : ''}/>`);
    const ly = top + plotH + 26 + k * 12;
    parts.push(`<text x="${L - 6}" y="${ly + 3}" text-anchor="end" fill="${m.color}">late</text>`);
    m.late.forEach((late, i) => late && parts.push(`<line x1="${x(c.t[i]).toFixed(1)}" y1="${ly - 4}" x2="${x(c.t[i]).toFixed(1)}" y2="${ly + 4}" stroke="${m.color}"/>`));
  });
  const legend = [['objects in view', '#2a2'], ...c.models.map((m) => [`tracked by ${m.name}`, m.color]), ['flagged segment', '#f66']];
  legend.forEach(([label, color], i) => parts.push(`<rect x="${L + 200 + i * 150}" y="26" width="10" height="10" fill="${color}"/><text x="${L + 214 + i * 150}" y="35">${esc(label)}</text>`));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
