/**
 * One run: its steps and gates in plan order with status, where each ran and how long it took,
 * what each needs; the selected step's error or container below, then the run's last log lines.
 * Tab and `f` act on the live data (next latency target, freeze).
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { LiveState, LiveStep } from '../../src/live/live-state.js';
import type { PlanRow } from '../../src/live/run-reader.js';
import type { StepRow } from '../../src/store/run-store.js';
import { formatDuration } from '../../src/files/format.js';
import { clip, type Theme } from '../theme.js';
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

/** The run screen: the shown run's nodes as a StepDag, with the live steps and logs. */
export function RunScreen({ rows, cursor, data, width, height, theme }: ScreenProps<DagNode>) {
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  const { detail, view } = data.run;
  return <StepDag nodes={rows} steps={view.steps} stored={detail.steps} cursor={cursor} width={width} height={height} theme={theme} now={data.now} logs={view.logs} />;
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
}

/** The step list windowed around the cursor, a detail line, and a quarter of the rows for the log. */
export function StepDag({ nodes, steps, stored, cursor, width, height, theme, now, logs }: StepDagProps) {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const rowOf = new Map(stored.map((s) => [s.step_id, s]));
  const logRows = Math.max(2, Math.floor((height - 3) / 4));
  const listRows = Math.max(3, height - 3 - logRows);
  const start = windowStart(cursor, nodes.length, listRows);
  const sel = nodes[cursor];
  const selStep = sel ? byId.get(sel.id) : undefined;
  const selRow = sel ? rowOf.get(sel.id) : undefined;
  const detail = sel
    ? `${sel.id}: ${selStep?.error ?? (selRow?.container ? `container ${selRow.container.slice(0, 12)} image ${selRow.image ?? '?'}` : selRow?.input_digest ? `inputs ${selRow.input_digest.slice(0, 12)}` : '')}`
    : '';
  const nameW = Math.min(34, Math.max(18, width - 50));
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  ${'STAGE/STEP'.padEnd(nameW)} ${'STATUS'.padEnd(11)} ${'TARGET@HOST'.padEnd(18)} TOOK    NEEDS`, width, theme.unicode)}
      </Text>
      {nodes.slice(start, start + listRows).map((n, i) => {
        const s = byId.get(n.id);
        const row = rowOf.get(n.id);
        const status = s?.status ?? 'pending';
        const st = theme.status[status === 'started' ? 'running' : status] ?? theme.status.pending;
        const host = s?.host ?? row?.host ?? n.host ?? '';
        const target = n.target ?? '';
        const took = s?.startedAt ? formatDuration((s.endedAt ?? now) - s.startedAt) : '';
        const needs = n.needs.length ? `${theme.unicode ? '←' : '<-'} ${n.needs.join(', ')}` : '';
        const label = `${n.kind === 'gate' ? (theme.unicode ? '◆ ' : '<> ') : ''}${n.stage}/${n.id}`;
        const where = target ? `${target}@${host || 'local'}` : host || 'local';
        const text = `${label.padEnd(nameW).slice(0, nameW)} ${st.symbol} ${(status === 'started' ? 'running' : status).padEnd(9)} ${where.padEnd(18).slice(0, 18)} ${took.padStart(6)}  ${needs}`;
        return <Row key={n.id} text={text} selected={start + i === cursor} theme={theme} width={width} color={st.color} />;
      })}
      {pad(listRows - Math.min(listRows, nodes.length), 'dp')}
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(detail, width, theme.unicode)}
      </Text>
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
