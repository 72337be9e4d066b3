/**
 * One run: its steps and gates in plan order with status, where each ran and how long it took,
 * what each needs; a progress bar (done/total, rate, ETA) for each running step that reports
 * progress; the selected step whole (name, needs, error or container: what the table cuts at 80
 * columns); then the run's last log lines. Tab and `f` act on the live data (next latency target,
 * freeze).
 */
import React, { useRef } from 'react';
import { Box, Text } from 'ink';
import type { LiveState, LiveStep } from '../../src/live/live-state.js';
import type { PlanRow } from '../../src/live/run-reader.js';
import type { StepRow } from '../../src/store/run-store.js';
import { formatDuration } from '../../src/files/format.js';
import { clip, type Theme } from '../theme.js';
import { formatProgress, progressBar, reduceProgressRate, type ProgressRate } from '../charts.js';
import type { ScreenBinding } from '../keymap.js';
import type { RowModel, ScreenProps } from './screen.js';
import { NoRun, Row, pad, windowStart } from './list.js';

/** Tab and f act on the live data, as on the latency screen. */
export const RUN_BINDINGS: readonly ScreenBinding[] = ['next-pane', 'freeze'];

/** A node of the DAG: a planned step or gate, or a step the live state knows of when the store has no plan. */
export type DagNode = Pick<PlanRow, 'id' | 'stage' | 'kind' | 'needs'> & Partial<Pick<PlanRow, 'target' | 'host'>>;

/** The run's plan, or its live steps when the store holds no plan. */
export function dagNodes(plan: readonly PlanRow[], steps: readonly LiveStep[]): readonly DagNode[] {
  return plan.length ? plan : steps.map((s) => ({ id: s.id, stage: s.stage ?? '', kind: 'step' as const, needs: [] as string[] }));
}

/** The shown run's nodes (dagNodes). */
export const STEP_ROWS: RowModel<DagNode> = {
  select: (data) => (data.run ? dagNodes(data.run.detail.plan, data.run.view.steps) : []),
  id: (n) => n.id,
};

/**
 * The rate of each running step's progress, from when this screen saw its counts change (the live
 * state keeps only the latest count): a phase's first sight starts its clock, so the rate and ETA
 * show from the second.
 */
export function useProgressRates(steps: readonly LiveStep[]): ReadonlyMap<string, ProgressRate> {
  const seen = useRef(new Map<string, ProgressRate>());
  const rates = seen.current;
  for (const s of steps) {
    if (s.status !== 'started' || !s.progress) {
      rates.delete(s.id);
      continue;
    }
    const prev = rates.get(s.id);
    const p = s.progress;
    if (!prev || prev.done !== p.done || prev.total !== p.total || prev.unit !== p.unit || prev.message !== p.message) rates.set(s.id, reduceProgressRate(prev, p, Date.now()));
  }
  return rates;
}

/** The run screen: the shown run's nodes as a StepDag, with the live steps, their progress and logs. */
export function RunScreen({ rows, cursor, data, width, height, theme }: ScreenProps<DagNode>) {
  const rates = useProgressRates(data.run?.view.steps ?? []);
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  const { detail, view } = data.run;
  return <StepDag nodes={rows} steps={view.steps} stored={detail.steps} cursor={cursor} width={width} height={height} theme={theme} now={data.now} logs={view.logs} rates={rates} />;
}

export interface StepDagProps {
  nodes: readonly DagNode[];
  /** Live status of each step. */
  steps: readonly LiveStep[];
  /** What the store recorded of each step (container, image, input digest). */
  stored: readonly StepRow[];
  cursor: number;
  width: number;
  height: number;
  theme: Theme;
  now: number;
  logs: LiveState['logs'];
  /** Each running step's progress with its rate (useProgressRates); without it, done/total alone. */
  rates?: ReadonlyMap<string, ProgressRate>;
}

/** At most this many progress bars (running steps) above the detail lines. */
export const MAX_PROGRESS_LINES = 3;

/**
 * A running step's progress line: its id, a bar, done/total, percent, and the rate and ETA as of
 * its latest report, then what it does.
 *   evaluate ████████▍░░░░░░░░░░░ 420/1000 frames 42% 312 frames/s ETA 1.9s (candidate inference)
 */
export function progressLine(id: string, rate: ProgressRate, width: number, theme: Theme): string {
  const barWidth = width >= 100 ? 30 : 20;
  const bar = rate.total ? progressBar(rate.done / rate.total, barWidth, theme.glyphs) : theme.glyphs.todo.repeat(barWidth);
  return clip(`  ${clip(id, 20, theme.unicode)} ${bar} ${formatProgress(rate)}`, width, theme.unicode);
}

/**
 * The NEEDS cell in `width` columns: the whole list when it fits; else the first name and how many
 * more, or only how many (the detail lines below the table list them all).
 *   needsCell(['bench-production', 'bench-candidate', 'world'], 21, true) -> '← bench-production +2'
 *   needsCell(['bench-production', 'bench-candidate', 'world'], 8, true) -> '← 3'
 */
export function needsCell(needs: readonly string[], width: number, unicode: boolean): string {
  if (!needs.length) return '';
  const arrow = unicode ? '←' : '<-';
  const whole = `${arrow} ${needs.join(', ')}`;
  if (whole.length <= width || needs.length === 1) return whole;
  const more = ` +${needs.length - 1}`;
  const room = width - arrow.length - 1 - more.length;
  return room >= Math.min(needs[0].length, 6) ? `${arrow} ${clip(needs[0], room, unicode)}${more}` : `${arrow} ${needs.length}`;
}

/**
 * The TARGET@HOST cell in `width` columns: whole when it fits; else the target gives way (it is on
 * the detail lines and in the step's name), and the host, which tells where the step runs, stays.
 *   whereCell('cpu-fp32', 'gpu-box-lab-2', 18, true) -> 'cpu…@gpu-box-lab-2'
 *   whereCell('cpu-fp32', 'a-very-long-host-name', 18, true) -> 'a-very-long-host-…'
 *   whereCell(undefined, '', 18, true) -> 'local'
 */
export function whereCell(target: string | undefined, host: string, width: number, unicode: boolean): string {
  const h = host || 'local';
  if (!target) return clip(h, width, unicode);
  const whole = `${target}@${h}`;
  if (whole.length <= width) return whole;
  const room = width - h.length - 1;
  return room >= 4 ? `${clip(target, room, unicode)}@${h}` : clip(h, width, unicode);
}

/**
 * Words to lines of at most `width` columns, at most `max` lines (the last cut with an ellipsis):
 * the selected step's detail, whole where the table cuts it.
 */
export function wrapWords(text: string, width: number, max: number, unicode: boolean): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/ +/)) {
    const next = cur ? `${cur} ${word}` : word;
    if (next.length <= width) {
      cur = next;
      continue;
    }
    if (cur) lines.push(cur);
    // A word longer than the line (a path) is cut into line-sized pieces.
    let w = word;
    while (w.length > width) {
      lines.push(w.slice(0, width));
      w = w.slice(width);
    }
    cur = w;
  }
  if (cur) lines.push(cur);
  if (lines.length <= max) return lines;
  return [...lines.slice(0, max - 1), clip(`${lines[max - 1]} ${lines.slice(max).join(' ')}`, width, unicode)];
}

/**
 * The step list windowed around the cursor, a progress bar per running step that reports
 * progress, the selected step in full (two lines, three from 30 rows), and a quarter of the rest
 * for the log.
 */
export function StepDag({ nodes, steps, stored, cursor, width, height, theme, now, logs, rates }: StepDagProps) {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const rowOf = new Map(stored.map((s) => [s.step_id, s]));
  const running = steps.filter((s) => s.status === 'started' && s.progress).slice(0, MAX_PROGRESS_LINES);
  const bars = running.map((s) => {
    const rate = rates?.get(s.id) ?? reduceProgressRate(undefined, s.progress!, now);
    return progressLine(s.id, rate, width, theme);
  });
  const detailRows = height >= 30 ? 3 : 2;
  const fixed = 2 + detailRows + bars.length;
  const logRows = Math.max(2, Math.floor((height - fixed) / 4));
  const listRows = Math.max(3, height - fixed - logRows);
  const start = windowStart(cursor, nodes.length, listRows);
  const sel = nodes[cursor];
  const selStep = sel ? byId.get(sel.id) : undefined;
  const selRow = sel ? rowOf.get(sel.id) : undefined;
  const labelOf = (n: DagNode) => `${n.kind === 'gate' ? (theme.unicode ? '◆ ' : '<> ') : ''}${n.stage}/${n.id}`;
  // As wide as the longest name where there is room; from 80 columns down the names give way first.
  const nameW = Math.max(18, Math.min(Math.max(0, ...nodes.map((n) => labelOf(n).length)), width - 50));
  // TARGET@HOST: 18 columns at 80 (the target gives way to the host, whereCell), more from 100.
  const whereW = width >= 100 ? 26 : 18;
  // What is left of the row for NEEDS: "> ", name, status, target@host, took.
  const needsW = Math.max(3, width - (2 + nameW + 1 + 11 + 1 + whereW + 1 + 6 + 2));
  // The live host first: a pool step's moves from "pool" to the host its job was placed on.
  const hostOf = (n: DagNode) => byId.get(n.id)?.host ?? rowOf.get(n.id)?.host ?? n.host ?? '';
  const whereOf = (n: DagNode) => whereCell(n.target, hostOf(n), Infinity, theme.unicode);
  const detail = sel
    ? wrapWords(
        [
          `${sel.stage}/${sel.id}`,
          `(${selStep?.status === 'started' ? 'running' : selStep?.status ?? 'pending'}, ${whereOf(sel)}${selStep?.startedAt ? `, ${formatDuration((selStep.endedAt ?? now) - selStep.startedAt)}` : ''})`,
          sel.needs.length ? `needs ${sel.needs.join(', ')}.` : 'needs nothing.',
          selStep?.error ? `error: ${selStep.error.replace(/\s+/g, ' ')}` : selStep?.reason ? `skipped: ${selStep.reason.replace(/\s+/g, ' ')}` : selRow?.container ? `container ${selRow.container.slice(0, 12)} image ${selRow.image ?? '?'}` : selRow?.input_digest ? `inputs ${selRow.input_digest.slice(0, 12)}` : '',
        ].filter(Boolean).join(' '),
        width,
        detailRows,
        theme.unicode,
      )
    : [];
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  ${'STAGE/STEP'.padEnd(nameW)} ${'STATUS'.padEnd(11)} ${'TARGET@HOST'.padEnd(whereW)} TOOK    NEEDS`, width, theme.unicode)}
      </Text>
      {nodes.slice(start, start + listRows).map((n, i) => {
        const s = byId.get(n.id);
        const status = s?.status ?? 'pending';
        const st = theme.status[status === 'started' ? 'running' : status] ?? theme.status.pending;
        const took = s?.startedAt ? formatDuration((s.endedAt ?? now) - s.startedAt) : '';
        const needs = needsCell(n.needs, needsW, theme.unicode);
        const label = labelOf(n);
        const where = whereCell(n.target, hostOf(n), whereW, theme.unicode);
        const text = `${clip(label, nameW, theme.unicode).padEnd(nameW)} ${st.symbol} ${(status === 'started' ? 'running' : status).padEnd(9)} ${where.padEnd(whereW)} ${took.padStart(6)}  ${needs}`;
        return <Row key={n.id} text={text} selected={start + i === cursor} theme={theme} width={width} color={st.color} />;
      })}
      {pad(listRows - Math.min(listRows, nodes.length), 'dp')}
      {bars.map((b, i) => (
        <Text key={`pb${i}`} wrap="truncate" color={theme.color ? 'cyan' : undefined}>
          {b}
        </Text>
      ))}
      {detail.map((l, i) => (
        <Text key={`dl${i}`} wrap="truncate" dimColor={theme.dim}>
          {l}
        </Text>
      ))}
      {pad(detailRows - detail.length, 'dl')}
      <Text wrap="truncate" bold>
        LOG
      </Text>
      {logs.slice(-logRows).map((l, i) => (
        <Text key={i} wrap="truncate" color={theme.color ? (l.level === 'error' ? 'red' : l.level === 'warn' ? 'yellow' : undefined) : undefined}>
          {clip(`${l.level === 'error' ? 'E' : l.level === 'warn' ? 'W' : ' '} ${l.step ? `${l.step}: ` : ''}${l.message.replace(/[\r\n\t]+/g, ' ')}`, width, theme.unicode)}
        </Text>
      ))}
      {pad(logRows - Math.min(logRows, logs.length), 'lp')}
    </Box>
  );
}
