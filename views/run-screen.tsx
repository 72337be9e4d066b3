/**
 * The run screen: steps with their status, a live latency histogram and percentile chart per
 * target, gate prompts, and a log pane. Leaves are pure props -> text; RunApp (run-app.tsx)
 * owns the keys and the store.
 */
import React, { memo } from 'react';
import { Box, Text } from 'ink';
import type { LiveState, LiveStep, TargetLatency } from '../src/pipeline/live-state.js';
import { quantile } from '../src/metrics/latency-histogram.js';
import { clip, type Theme } from './theme.js';
import { plotHistogram, plotPercentiles } from './charts.js';
import { formatDuration } from '../src/cli/show.js';
import type { GateRequest } from '../src/pipeline/gate-broker.js';
import { footerHints, type Mode } from './bindings.js';

export interface ScreenLayout {
  stepRows: number;
  chartRows: number;
  logRows: number;
}

/**
 * Splits the height among the panes; the frame is at most rows - 1 tall (a full-height frame
 * makes Ink 6 clear the screen on every update). At 80x24: 6 step rows, 8 chart rows, 4 log rows.
 */
export function computeLayout(height: number, stepCount: number, gateRows: number): ScreenLayout {
  const frame = Math.max(10, height - 1);
  // header 1, steps title 1, latency title 1, log title 1, footer 1
  const fixed = 5 + gateRows;
  const free = Math.max(3, frame - fixed);
  const stepRows = Math.max(1, Math.min(stepCount, Math.round(free * 0.3)));
  const chartRows = Math.max(3, Math.min(16, Math.round((free - stepRows) * 0.65)));
  const logRows = Math.max(1, free - stepRows - chartRows);
  return { stepRows, chartRows, logRows };
}

function fmt(x: number): string {
  return !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export interface StepRowProps {
  step: LiveStep;
  now: number;
  width: number;
  theme: Theme;
}

export const StepRow = memo(function StepRow({ step, now, width, theme }: StepRowProps) {
  const st = theme.status[step.status] ?? theme.status.pending;
  const elapsed = step.startedAt ? formatDuration((step.endedAt ?? now) - step.startedAt) : '';
  const prog = step.progress && step.status === 'started' ? `${step.progress.done}/${step.progress.total ?? '?'} ${step.progress.unit ?? ''}` : '';
  const name = `${step.stage ? `${step.stage}/` : ''}${step.id}`;
  const detail = step.error && (step.status === 'failed' || step.status === 'cancelled' || step.status === 'skipped') ? step.error : prog;
  const status = step.status === 'started' ? 'running' : step.status;
  const left = `${st.symbol} ${name.padEnd(Math.min(34, Math.max(20, width - 44))).slice(0, Math.max(20, width - 44))} ${status.padEnd(9)} ${(step.host ?? '').padEnd(6).slice(0, 6)} ${elapsed.padStart(6)}`;
  return (
    <Text wrap="truncate">
      <Text color={st.color}>{left.slice(0, 2)}</Text>
      {left.slice(2)}
      <Text dimColor={theme.dim}> {clip(detail, Math.max(0, width - left.length - 1), theme.unicode)}</Text>
    </Text>
  );
});

export interface LatencyPaneProps {
  latency?: TargetLatency;
  targets: string[];
  width: number;
  rows: number;
  theme: Theme;
  frozen: boolean;
}

export function LatencyPane({ latency, targets, width, rows, theme, frozen }: LatencyPaneProps) {
  const h = latency?.total;
  const title = latency
    ? `LATENCY ${latency.target}  p50 ${fmt(quantile(h!, 0.5))}  p95 ${fmt(quantile(h!, 0.95))}  p99 ${fmt(quantile(h!, 0.99))} ms  n=${h!.count}`
    : 'LATENCY  no samples yet';
  const more = targets.length > 1 ? `  [${targets.indexOf(latency?.target ?? '') + 1}/${targets.length} Tab]` : '';
  const histWidth = Math.max(10, Math.floor((width - 2) * 0.45));
  const chartWidth = Math.max(10, width - histWidth - 3);
  const histLines = latency ? plotHistogram(latency.total, { width: histWidth, height: rows - 1, glyphs: theme.glyphs }) : Array.from({ length: rows }, () => '');
  const pctLines = latency ? plotPercentiles(latency.series, { width: chartWidth, height: rows, glyphs: theme.glyphs, colors: theme.color }) : [];
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`${frozen ? 'FROZEN (f) ' : ''}${title}${more}`, width, theme.unicode)}
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

export interface SlicePaneProps {
  rows: SliceRow[];
  width: number;
  height: number;
  theme: Theme;
}

/** The slice table: fills in live as the evaluate step streams slices. "!!" marks a critical regression, "!" a regression. */
export function SlicePane({ rows, width, height, theme }: SlicePaneProps) {
  const f = (x?: number) => (x === undefined ? '    -' : x.toFixed(3));
  const sg = (x?: number) => (x === undefined ? '     -' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);
  const nameW = Math.max(12, Math.min(26, width - 58));
  const header = `${'SLICE'.padEnd(nameW)}    AP  [95% CI]       delta  [95% CI]         p   n`;
  const shown = rows.slice(0, Math.max(0, height - 1));
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`${header}  (${rows.length} slices)`, width, theme.unicode)}
      </Text>
      {shown.map((r) => {
        const regressed = r.deltaHi !== undefined && r.deltaHi < 0;
        const mark = regressed ? (r.critical ? '!! ' : '!  ') : r.critical ? '*  ' : '   ';
        const line = `${mark}${r.slice.padEnd(nameW - 3).slice(0, nameW - 3)} ${f(r.ap)} [${f(r.lo)},${f(r.hi)}] ${sg(r.delta)} [${sg(r.deltaLo)},${sg(r.deltaHi)}] ${r.p === undefined ? '    -' : r.p.toFixed(3)} ${r.objects ?? ''}`;
        return (
          <Text key={r.slice} wrap="truncate" color={theme.color && regressed ? 'red' : undefined} bold={regressed}>
            {clip(line, width, theme.unicode)}
          </Text>
        );
      })}
      {Array.from({ length: Math.max(0, height - 1 - shown.length) }, (_, i) => (
        <Text key={`spad${i}`}> </Text>
      ))}
    </Box>
  );
}

export interface GatePanelProps {
  request: GateRequest;
  mode: Mode;
  reason: string;
  width: number;
  theme: Theme;
}

/** Rows the gate panel takes. */
export const GATE_ROWS = 4;

export function GatePanel({ request, mode, reason, theme, width }: GatePanelProps) {
  const d = request.decision;
  const action =
    mode === 'reason'
      ? `reason for rejecting: ${reason}${theme.unicode ? '▏' : '_'}  (Enter to continue)`
      : mode === 'confirm-reject'
        ? `reject ${request.gate} because "${reason}"? y / n`
        : `a approve  ${theme.unicode ? '·' : '|'}  x reject (asks for a reason)`;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold inverse={!theme.color} color={theme.color ? 'yellow' : undefined}>
        {clip(`GATE ${request.gate} needs review: verdict ${d.verdict.toUpperCase()}`, width, theme.unicode)}
      </Text>
      <Text wrap="truncate">{clip(d.rationale[0] ?? '', width, theme.unicode)}</Text>
      <Text wrap="truncate">{clip(d.rationale[1] ?? '', width, theme.unicode)}</Text>
      <Text wrap="truncate" bold>
        {clip(action, width, theme.unicode)}
      </Text>
    </Box>
  );
}

export interface RunScreenProps {
  state: LiveState;
  width: number;
  height: number;
  theme: Theme;
  now: number;
  /** The target chosen with Tab; the most recently active one when undefined. */
  targetIndex: number | undefined;
  frozen: boolean;
  mode: Mode;
  gate?: GateRequest;
  reason: string;
  message?: string;
  /** Which pane fills the middle: latency or slices (s switches). */
  view?: 'latency' | 'slices';
}

export function RunScreen({ state, width, height, theme, now, targetIndex, frozen, mode, gate, reason, message, view }: RunScreenProps) {
  const layout = computeLayout(height, state.steps.length, gate ? GATE_ROWS : 0);
  const targets = Object.keys(state.latency);
  const target = targets.length ? (targetIndex === undefined ? state.activeTarget : targets[targetIndex % targets.length]) : undefined;
  // Window the step list around the running steps.
  // Window the list on the first step still running or pending; when all are done, on the end.
  const active = state.steps.findIndex((s) => s.status === 'started' || s.status === 'pending');
  const firstActive = active === -1 ? state.steps.length : active;
  const start = Math.max(0, Math.min(firstActive - 1, state.steps.length - layout.stepRows));
  const steps = state.steps.slice(start, start + layout.stepRows);
  const done = state.steps.filter((s) => s.status === 'succeeded' || s.status === 'skipped').length;
  const elapsed = state.startedAt ? formatDuration((state.endedAt ?? now) - state.startedAt) : '';
  const logs = state.logs.slice(-layout.logRows);
  const runSt = theme.status[state.runStatus === 'running' ? 'running' : state.runStatus] ?? theme.status.pending;
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold color={theme.accent}>
          paddock
        </Text>
        {`  ${state.runId ?? ''}  `}
        <Text color={runSt.color}>{`${runSt.symbol} ${state.runStatus}`}</Text>
        {`  ${elapsed}  steps ${done}/${state.steps.length}`}
        {state.failureCount ? `  failures ${state.failureCount}` : ''}
      </Text>
      <Text wrap="truncate" bold>
        {`STEPS${state.steps.length > layout.stepRows ? ` (${start + 1}-${start + steps.length} of ${state.steps.length})` : ''}`}
      </Text>
      {steps.map((s) => (
        <StepRow key={s.id} step={s} now={now} width={width} theme={theme} />
      ))}
      {Array.from({ length: layout.stepRows - steps.length }, (_, i) => (
        <Text key={`pad${i}`}> </Text>
      ))}
      {view === 'slices' ? (
        <SlicePane rows={selectSliceRows(state)} width={width} height={layout.chartRows + 1} theme={theme} />
      ) : (
        <LatencyPane latency={target ? state.latency[target] : undefined} targets={targets} width={width} rows={layout.chartRows} theme={theme} frozen={frozen} />
      )}
      {gate ? <GatePanel request={gate} mode={mode} reason={reason} width={width} theme={theme} /> : null}
      <Text wrap="truncate" bold>
        LOG
      </Text>
      {logs.map((l, i) => (
        <Text key={i} wrap="truncate" color={theme.color ? (l.level === 'error' ? 'red' : l.level === 'warn' ? 'yellow' : undefined) : undefined}>
          {clip(`${l.level === 'error' ? 'E' : l.level === 'warn' ? 'W' : ' '} ${l.step ? `${l.step}: ` : ''}${l.message.replace(/[\r\n\t]+/g, ' ')}`, width, theme.unicode)}
        </Text>
      ))}
      {Array.from({ length: layout.logRows - logs.length }, (_, i) => (
        <Text key={`lpad${i}`}> </Text>
      ))}
      <Text wrap="truncate" dimColor={theme.dim} inverse={!!message && !theme.color}>
        {clip(message ?? footerHints(mode, theme.unicode), width, theme.unicode)}
      </Text>
    </Box>
  );
}
