/**
 * The run history: status, id, name, host, when it started and how long it took; Enter opens a
 * run, `/` filters by words (each must be in the id, name, status or host), `o` sorts by the next
 * column, `O` reverses.
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { RunRow } from '../../src/store/run-store.js';
import { formatDuration } from '../../src/files/format.js';
import { clip, type Theme } from '../theme.js';
import type { ScreenBinding } from '../keymap.js';
import { matchesFilter, sortLegend, sortNames, sortRows, type SortColumn } from '../ui-state.js';
import type { RowModel, ScreenProps } from './screen.js';
import { Row, pad, stamp, windowStart } from './list.js';

/** Enter opens, o sorts by the next column, O reverses, / filters. */
export const RUNS_BINDINGS: readonly ScreenBinding[] = ['open', 'sort', 'reverse', 'filter'];

const newest = (a: RunRow, b: RunRow) => b.created_at - a.created_at || b.id.localeCompare(a.id);
const took = (r: RunRow) => (r.ended_at ?? r.updated_at) - r.created_at;

/** The columns `o` steps through, the default (the store's order, newest first) first. */
export const RUN_SORT_COLUMNS: readonly SortColumn<RunRow>[] = [
  { name: 'started', order: 'newest first', compare: newest },
  { name: 'status', order: 'then newest', compare: (a, b) => a.status.localeCompare(b.status) || newest(a, b) },
  { name: 'name', order: 'then newest', compare: (a, b) => a.name.localeCompare(b.name) || newest(a, b) },
  { name: 'host', order: 'then newest', compare: (a, b) => a.host.localeCompare(b.host) || newest(a, b) },
  { name: 'took', order: 'longest first', compare: (a, b) => took(b) - took(a) || newest(a, b) },
];

/** The runs holding every word of the filter in their id, name, status or host, in the order chosen; Enter shows the run. */
export const RUN_ROWS: RowModel<RunRow> = {
  select(data, { filter, reversed, sort }) {
    const list = data.runs.filter((r) => matchesFilter(`${r.id} ${r.name} ${r.status} ${r.host}`, filter));
    return sortRows(list, RUN_SORT_COLUMNS, sort, reversed);
  },
  id: (r) => r.id,
  open: (id) => ({ to: 'run', runId: id }),
  sorts: sortNames(RUN_SORT_COLUMNS),
};

/** The runs screen: its rows as a RunTable. */
export function RunsScreen({ rows, cursor, options, data, width, height, theme }: ScreenProps<RunRow>) {
  return <RunTable runs={rows} cursor={cursor} width={width} height={height} theme={theme} now={data.now} filter={options.filter} order={sortLegend(RUN_SORT_COLUMNS, options.sort, options.reversed)} />;
}

export interface RunTableProps {
  runs: readonly RunRow[];
  cursor: number;
  width: number;
  height: number;
  theme: Theme;
  /** What a running run's time is measured to. */
  now: number;
  /** The filter, shown in the header. */
  filter: string;
  /** How the list is sorted, in the last line: "sorted by started, newest first". */
  order?: string;
}

/** The run list, windowed around the cursor, and a line saying its order; wider columns from 100 columns on. */
export function RunTable({ runs, cursor, width, height, theme, now, filter, order }: RunTableProps) {
  const rows = height - (order ? 2 : 1);
  const start = windowStart(cursor, runs.length, rows);
  const idW = 25;
  const wide = width >= 100;
  const nameW = wide ? 16 : 8;
  const hostW = wide ? 12 : 6;
  const when = (ms: number) => (wide ? stamp(ms) : stamp(ms).slice(5));
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  ${'STATUS'.padEnd(11)} ${`RUNS (${runs.length}${filter ? ` /${filter}` : ''})`.padEnd(idW)} ${'NAME'.padEnd(nameW)} ${'HOST'.padEnd(hostW)} ${'STARTED'.padEnd(wide ? 16 : 11)} TOOK`, width, theme.unicode)}
      </Text>
      {runs.slice(start, start + rows).map((r, i) => {
        const st = theme.status[r.status] ?? theme.status.pending;
        const took = formatDuration((r.ended_at ?? (r.status === 'running' ? now : r.updated_at)) - r.created_at);
        const text = `${st.symbol} ${r.status.padEnd(9)} ${r.id.padEnd(idW)} ${r.name.padEnd(nameW).slice(0, nameW)} ${r.host.padEnd(hostW).slice(0, hostW)} ${when(r.created_at)} ${took.padStart(6)}`;
        return <Row key={r.id} text={text} selected={start + i === cursor} theme={theme} width={width} color={st.color} />;
      })}
      {runs.length === 0 ? <Text>{'  no runs yet: paddock demo, or paddock run <recipe.yaml>'}</Text> : null}
      {pad(rows - Math.min(rows, runs.length) - (runs.length === 0 ? 1 : 0), 'rp')}
      {order ? (
        <Text wrap="truncate" dimColor={theme.dim}>
          {clip(`${runs.length} runs; ${order}; o next column, O reverses`, width, theme.unicode)}
        </Text>
      ) : null}
    </Box>
  );
}
