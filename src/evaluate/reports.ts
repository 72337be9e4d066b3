/**
 * Evaluation reports in the formats other tools read: slice metrics as Parquet (hyparquet-writer:
 * small, pure JS), gate verdicts as JUnit XML for CI systems, and charts as SVG (a slice-delta
 * chart with interval whiskers, per-class precision-recall curves).
 */
import type { SliceMetric } from './slices.js';

/**
 * Columns of slice_metrics.parquet, one row per slice: the denominators (scenes, scenes with
 * objects, Kish's effective scenes, frames, objects), the slice's seed, whether it had too little
 * data for an interval (`insufficient`: `ap` is then its point AP, `ap_lo`/`ap_hi` null), the
 * interval's method and replicates, the delta with its two-sided interval and one-sided bounds
 * at `alpha`, the one-sided p of "delta < -margin" (with `p_at_resolution`: p is 1/(B+1), the
 * true p anything below), its adjustment, and the power figures (the smallest drop detectable,
 * the scenes that would detect the margin).
 */
export function sliceMetricsColumns(rows: readonly SliceMetric[], candidate: string, baseline: string | null) {
  const num = (f: (m: SliceMetric) => number | null | undefined) => rows.map((m) => f(m) ?? null);
  return [
    { name: 'slice', data: rows.map((m) => m.slice), type: 'STRING' as const },
    { name: 'critical', data: rows.map((m) => m.critical), type: 'BOOLEAN' as const },
    { name: 'model', data: rows.map(() => candidate), type: 'STRING' as const },
    { name: 'baseline', data: rows.map(() => baseline), type: 'STRING' as const },
    { name: 'scenes', data: rows.map((m) => m.denominators.scenes), type: 'INT32' as const },
    { name: 'scenes_with_objects', data: rows.map((m) => m.denominators.scenes_with_objects), type: 'INT32' as const },
    { name: 'effective_scenes', data: rows.map((m) => m.denominators.effective_scenes), type: 'INT32' as const },
    { name: 'frames', data: rows.map((m) => m.denominators.frames), type: 'INT32' as const },
    { name: 'objects', data: rows.map((m) => m.denominators.objects), type: 'INT32' as const },
    // A uint32 (derivedSeed): past INT32's range, so INT64.
    { name: 'seed', data: rows.map((m) => BigInt(m.seed)), type: 'INT64' as const },
    { name: 'insufficient', data: rows.map((m) => m.insufficient === true), type: 'BOOLEAN' as const },
    // The interval's estimate, or the point AP where the slice is too small for one.
    { name: 'ap', data: num((m) => m.ap?.estimate ?? (m.apPoint !== undefined && !Number.isNaN(m.apPoint) ? m.apPoint : undefined)), type: 'DOUBLE' as const },
    { name: 'ap_lo', data: num((m) => m.ap?.lo), type: 'DOUBLE' as const },
    { name: 'ap_hi', data: num((m) => m.ap?.hi), type: 'DOUBLE' as const },
    { name: 'method', data: rows.map((m) => m.ap?.method ?? null), type: 'STRING' as const },
    { name: 'replicates', data: num((m) => m.ap?.replicates), type: 'INT32' as const },
    { name: 'baseline_ap', data: num((m) => m.baselineAp), type: 'DOUBLE' as const },
    { name: 'delta', data: num((m) => m.delta?.estimate), type: 'DOUBLE' as const },
    { name: 'delta_lo', data: num((m) => m.delta?.lo), type: 'DOUBLE' as const },
    { name: 'delta_hi', data: num((m) => m.delta?.hi), type: 'DOUBLE' as const },
    { name: 'delta_lower', data: num((m) => m.delta?.lower), type: 'DOUBLE' as const },
    { name: 'delta_upper', data: num((m) => m.delta?.upper), type: 'DOUBLE' as const },
    { name: 'alpha', data: num((m) => m.delta?.alpha), type: 'DOUBLE' as const },
    { name: 'margin', data: num((m) => m.delta?.margin), type: 'DOUBLE' as const },
    { name: 'p', data: num((m) => m.delta?.p), type: 'DOUBLE' as const },
    { name: 'p_at_resolution', data: rows.map((m) => m.delta?.pAtResolution ?? null), type: 'BOOLEAN' as const },
    { name: 'p_adjusted', data: num((m) => m.delta?.pAdjusted), type: 'DOUBLE' as const },
    { name: 'adjustment', data: rows.map((m) => m.delta?.adjustment ?? null), type: 'STRING' as const },
    { name: 'detectable', data: num((m) => m.delta?.detectable), type: 'DOUBLE' as const },
    { name: 'scenes_for_margin', data: num((m) => m.delta?.scenesForMargin), type: 'INT32' as const },
    { name: 'note', data: rows.map((m) => m.note ?? null), type: 'STRING' as const },
  ];
}

/** slice_metrics.parquet as bytes. */
export async function sliceMetricsParquet(rows: readonly SliceMetric[], candidate: string, baseline: string | null): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  return new Uint8Array(parquetWriteBuffer({ columnData: sliceMetricsColumns(rows, candidate, baseline) as never }));
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface GateResult {
  gate: string;
  stage: string;
  verdict: 'pass' | 'fail' | 'review';
  rationale: string[];
  answer?: { decision: string; actor: string; reason?: string | null };
}

/** How one step of a run ended, for JUnit: `reason` is why it was skipped or failed. */
export interface StepResult {
  step: string;
  stage: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
  reason?: string | null;
}

/** The steps as a second test suite: a skipped step is <skipped message="why">, a failed or cancelled one a <failure>. */
function stepsSuite(runId: string, steps: readonly StepResult[]): { xml: string; failures: number; skipped: number } {
  let failures = 0;
  let skipped = 0;
  const cases = steps.map((s) => {
    let inner = '';
    if (s.status === 'failed' || s.status === 'cancelled') {
      failures++;
      inner = `<failure message="${esc(s.reason ?? s.status)}" type="${s.status}"/>`;
    } else if (s.status !== 'succeeded') {
      skipped++;
      // A step the run never reached (pending, or still running when it stopped) is not run: said so.
      inner = `<skipped message="${esc(s.status === 'skipped' ? (s.reason ?? 'skipped') : `not run (${s.status})`)}"/>`;
    }
    return `    <testcase classname="paddock.${esc(s.stage)}.steps" name="${esc(s.step)}">${inner}</testcase>`;
  });
  const xml = `  <testsuite name="${esc(runId)} steps" tests="${steps.length}" failures="${failures}" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>\n`;
  return { xml, failures, skipped };
}

/**
 * JUnit XML of the gates: one test case per gate; a failed or rejected gate is a <failure>, a gate
 * still waiting for review is <skipped>, with the rationale as the body. With `steps`, a second
 * suite has a test case per step: a step that skipped itself (or was not run) is <skipped> with
 * its reason, never a pass.
 */
export function gatesJunit(runId: string, gates: readonly GateResult[], steps: readonly StepResult[] = []): string {
  const failed = (g: GateResult) => g.verdict === 'fail' || g.answer?.decision === 'rejected';
  const waiting = (g: GateResult) => g.verdict === 'review' && !g.answer;
  const failures = gates.filter(failed).length;
  const skipped = gates.filter((g) => !failed(g) && waiting(g)).length;
  const cases = gates.map((g) => {
    const body = esc([...g.rationale, ...(g.answer ? [`${g.answer.decision} by ${g.answer.actor}${g.answer.reason ? `: ${g.answer.reason}` : ''}`] : [])].join('\n'));
    const inner = failed(g)
      ? `<failure message="${esc(g.rationale[0] ?? g.verdict)}" type="${g.answer?.decision === 'rejected' ? 'rejected' : 'gate-failed'}">${body}</failure>`
      : waiting(g)
        ? `<skipped message="needs review">${body}</skipped>`
        : `<system-out>${body}</system-out>`;
    return `    <testcase classname="paddock.${esc(g.stage)}" name="${esc(g.gate)}">${inner}</testcase>`;
  });
  const gateSuite = `  <testsuite name="${esc(runId)}" tests="${gates.length}" failures="${failures}" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>\n`;
  if (!steps.length) return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="paddock gates" tests="${gates.length}" failures="${failures}" skipped="${skipped}">\n${gateSuite}</testsuites>\n`;
  const st = stepsSuite(runId, steps);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="paddock gates" tests="${gates.length + steps.length}" failures="${failures + st.failures}" skipped="${skipped + st.skipped}">\n${gateSuite}${st.xml}</testsuites>\n`;
}

/**
 * A horizontal bar chart of each slice's AP delta with its 95% interval; critical slices marked.
 * A slice is red where its one-sided upper bound is below 0 (regressed), green where its lower
 * bound is above 0 (improved). A slice with too little data for an interval is drawn as its point
 * delta alone, no whisker, labelled "insufficient".
 */
export function sliceDeltaSvg(rows: readonly SliceMetric[], title: string): string {
  const pointDelta = (m: SliceMetric) => (m.apPoint !== undefined && m.baselineAp !== undefined && Number.isFinite(m.apPoint - m.baselineAp) ? m.apPoint - m.baselineAp : undefined);
  const data = rows.filter((m) => m.delta || m.insufficient);
  const rowH = 18;
  const left = 210;
  const width = 720;
  const plotW = width - left - 40;
  const height = 50 + data.length * rowH + 30;
  const extent = Math.max(0.05, ...data.flatMap((m) => (m.delta ? [Math.abs(m.delta.lo), Math.abs(m.delta.hi)] : [Math.abs(pointDelta(m) ?? 0)])).filter(Number.isFinite));
  const x = (v: number) => left + ((v + extent) / (2 * extent)) * plotW;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<text x="10" y="20" font-size="14">${esc(title)}</text>`);
  parts.push(`<line x1="${x(0)}" y1="35" x2="${x(0)}" y2="${height - 25}" stroke="#444"/>`);
  data.forEach((m, i) => {
    const y = 45 + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 4}" text-anchor="end">${esc(m.slice)}${m.critical ? ' *' : ''}</text>`);
    const d = m.delta;
    if (!d) {
      // Too little data: the point delta (when there is a baseline), no whisker, and the word.
      const v = pointDelta(m);
      if (v !== undefined) parts.push(`<circle cx="${x(v)}" cy="${y}" r="3" fill="none" stroke="#7f8c8d"/>`);
      parts.push(`<text x="${x(v ?? 0) + 8}" y="${y + 4}" fill="#7f8c8d" font-style="italic">insufficient</text>`);
      return;
    }
    const colour = d.upper < 0 ? '#c0392b' : d.lower > 0 ? '#27ae60' : '#7f8c8d';
    parts.push(`<rect x="${Math.min(x(0), x(d.estimate))}" y="${y - 5}" width="${Math.abs(x(d.estimate) - x(0))}" height="10" fill="${colour}" opacity="0.6"/>`);
    parts.push(`<line x1="${x(d.lo)}" y1="${y}" x2="${x(d.hi)}" y2="${y}" stroke="#000"/>`);
    parts.push(`<line x1="${x(d.lo)}" y1="${y - 4}" x2="${x(d.lo)}" y2="${y + 4}" stroke="#000"/><line x1="${x(d.hi)}" y1="${y - 4}" x2="${x(d.hi)}" y2="${y + 4}" stroke="#000"/>`);
  });
  parts.push(`<text x="${x(-extent)}" y="${height - 8}">${(-extent).toFixed(3)}</text><text x="${x(0)}" y="${height - 8}" text-anchor="middle">0</text><text x="${x(extent)}" y="${height - 8}" text-anchor="end">+${extent.toFixed(3)}</text>`);
  parts.push(`<text x="10" y="${height - 8}">AP delta, 95% interval; * critical</text>`);
  parts.push('</svg>\n');
  return parts.join('\n');
}

/** Precision-recall curves, one polyline per class and IoU threshold. */
export function prCurvesSvg(curves: readonly { name: string; iou: number; recall: number[]; precision: number[] }[], title: string): string {
  const size = 360;
  const pad = 40;
  const colours = ['#2980b9', '#c0392b', '#27ae60', '#8e44ad', '#d35400', '#16a085'];
  const px = (r: number) => pad + r * (size - 2 * pad);
  const py = (p: number) => size - pad - p * (size - 2 * pad);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${size + 160}" height="${size}" font-family="sans-serif" font-size="11">`, `<text x="10" y="18" font-size="14">${esc(title)}</text>`];
  parts.push(`<rect x="${pad}" y="${pad}" width="${size - 2 * pad}" height="${size - 2 * pad}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${size / 2}" y="${size - 8}" text-anchor="middle">recall</text><text x="12" y="${size / 2}" transform="rotate(-90 12 ${size / 2})" text-anchor="middle">precision</text>`);
  curves.forEach((c, i) => {
    const pts = c.recall.map((r, j) => `${px(r).toFixed(1)},${py(Math.max(0, c.precision[j])).toFixed(1)}`).join(' ');
    const colour = colours[Math.floor(i / 2) % colours.length];
    parts.push(`<polyline points="${pts}" fill="none" stroke="${colour}" stroke-width="1.5"${c.iou > 0.6 ? ' stroke-dasharray="4 3"' : ''}/>`);
    parts.push(`<text x="${size - 20}" y="${pad + 14 * i}" fill="${colour}">${esc(c.name)} @${c.iou.toFixed(2)}</text>`);
  });
  parts.push('</svg>\n');
  return parts.join('\n');
}
