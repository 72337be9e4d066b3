/**
 * What the workbench's screens share: the slice rows selected from the live metrics.
 */
import type { LiveState } from '../src/live/live-state.js';
import { parseTestUnit } from '../src/files/format.js';

/**
 * One row of the slice table: the candidate's AP with its interval, the delta with its interval
 * and one-sided bounds, the adjusted one-sided p, the denominators. A slice with too little data
 * for an interval (`insufficient`) has its point AP only.
 */
export interface SliceRow {
  slice: string;
  critical: boolean;
  ap: number;
  lo?: number;
  hi?: number;
  delta?: number;
  deltaLo?: number;
  deltaHi?: number;
  /** One-sided (1 - alpha) bounds of the delta (coco.AP.delta.lower / .upper); absent in runs from before them. */
  deltaLower?: number;
  deltaUpper?: number;
  alpha?: number;
  /** The adjusted p (the raw one when no adjusted value came), and whether the raw p is at its resolution 1/(B+1). */
  p?: number;
  pAtResolution?: boolean;
  /** Defined replicates behind the p-value. */
  replicates?: number;
  /** Too little data for an interval and a test: the point AP only (slice.insufficient = 1). */
  insufficient?: boolean;
  /** Scenes holding objects of the slice: the effective sample size (absent in runs from before it). */
  scenes?: number;
  frames?: number;
  objects?: number;
  /** The smallest drop the slice detects at its power (coco.AP.delta.detectable). */
  detectable?: number;
}

/** Regressed: the one-sided upper bound of the delta is below 0 (the two-sided interval's upper end in runs without bounds). */
export function sliceRegressed(r: SliceRow): boolean {
  const upper = r.deltaUpper ?? r.deltaHi;
  return !r.insufficient && upper !== undefined && upper < 0;
}

/** Slice rows from the live metrics (the evaluate step's coco.AP / coco.AP.delta* / slice.critical / slice.insufficient). */
export function selectSliceRows(state: LiveState): SliceRow[] {
  const rows = new Map<string, SliceRow>();
  const critical = new Set<string>();
  const insufficient = new Set<string>();
  let target: string | undefined;
  for (const m of Object.values(state.metrics)) if (m.name === 'coco.AP.delta' && m.slice) target = m.target;
  for (const m of Object.values(state.metrics)) {
    if (!m.slice || (target !== undefined && m.target !== target)) continue;
    if (m.name === 'slice.critical' && m.value === 1) critical.add(m.slice);
    if (m.name === 'slice.insufficient' && m.value === 1) insufficient.add(m.slice);
  }
  for (const m of Object.values(state.metrics)) {
    if (!m.slice || (target !== undefined && m.target !== target) || m.name !== 'coco.AP') continue;
    const den = { scenes: m.denominators?.scenes_with_objects, frames: m.denominators?.frames, objects: m.denominators?.objects };
    // With an interval; or without one where the step said the slice is too small for it (not the per-class APs).
    if (m.ci) rows.set(m.slice, { ...(rows.get(m.slice) ?? { slice: m.slice, critical: false }), ap: m.value, lo: m.ci.lo, hi: m.ci.hi, ...den });
    else if (insufficient.has(m.slice)) rows.set(m.slice, { ...(rows.get(m.slice) ?? { slice: m.slice, critical: false }), ap: m.value, insufficient: true, ...den });
  }
  for (const m of Object.values(state.metrics)) {
    if (!m.slice || !rows.has(m.slice) || (target !== undefined && m.target !== target)) continue;
    const r = rows.get(m.slice)!;
    if (m.name === 'coco.AP.delta') Object.assign(r, { delta: m.value, deltaLo: m.ci?.lo, deltaHi: m.ci?.hi });
    else if (m.name === 'coco.AP.delta.lower') Object.assign(r, { deltaLower: m.value, alpha: parseTestUnit(m.unit).alpha });
    else if (m.name === 'coco.AP.delta.upper') Object.assign(r, { deltaUpper: m.value, alpha: parseTestUnit(m.unit).alpha });
    else if (m.name === 'coco.AP.delta.detectable') r.detectable = m.value;
    else if (m.name === 'coco.AP.delta_p_adjusted') r.p = m.value;
    else if (m.name === 'coco.AP.delta_p') {
      if (r.p === undefined) r.p = m.value;
      r.pAtResolution = parseTestUnit(m.unit).resolution === 1;
      r.replicates = m.denominators?.replicates;
    }
  }
  for (const r of rows.values()) r.critical = critical.has(r.slice);
  // Regressions first (significant critical ones at the very top), then by delta.
  return [...rows.values()].sort((a, b) => {
    const bad = (r: SliceRow) => (sliceRegressed(r) ? (r.critical ? 0 : 1) : 2);
    return bad(a) - bad(b) || (a.delta ?? 0) - (b.delta ?? 0) || a.slice.localeCompare(b.slice);
  });
}
