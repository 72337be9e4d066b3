/**
 * The run history: status, id, name, host, when it started and how long it took; Enter opens a
 * run, `/` filters by any of those words, `o` reverses.
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { RunRow } from '../../src/store/run-store.js';
import { formatDuration } from '../../src/files/format.js';
import { clip, type Theme } from '../theme.js';
import type { ScreenBinding } from '../keymap.js';
import type { RowModel, ScreenProps } from './screen.js';
import { Row, pad, stamp, windowStart } from './list.js';

/** Enter opens, o and O reverse, / filters. */
export const RUNS_BINDINGS: readonly ScreenBinding[] = ['open', 'sort', 'reverse', 'filter'];

/** The runs whose id, name, status or host contain the filter; Enter shows the run. */
export const RUN_ROWS: RowModel<RunRow> = {
  select(data, { filter, reversed }) {
    const f = filter.toLowerCase();
    const list = data.runs.filter((r) => !f || `${r.id} ${r.name} ${r.status} ${r.host}`.toLowerCase().includes(f));
    return reversed ? list.slice().reverse() : list;
  },
  id: (r) => r.id,
  open: (id) => ({ to: 'run', runId: id }),
};

/** The runs screen: its rows as a RunTable. */
export function RunsScreen({ rows, cursor, options, data, width, height, theme }: ScreenProps<RunRow>) {
  return <RunTable runs={rows} cursor={cursor} width={width} height={height} theme={theme} now={data.now} filter={options.filter} />;
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
}

/** The run list, windowed around the cursor; wider columns from 100 columns on. */
export function RunTable({ runs, cursor, width, height, theme, now, filter }: RunTableProps) {
  const rows = height - 1;
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
    </Box>
  );
}
