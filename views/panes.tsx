/**
 * What the workbench's screens share: the slice rows selected from the live metrics.
 */
import type { LiveState } from '../src/live/live-state.js';

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

