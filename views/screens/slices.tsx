/**
 * The slice table: each slice's AP with its 95% interval, the delta against production with its
 * interval, the adjusted p-value, frames and objects. Regressions are marked "!!" (critical) and
 * "!" so that they show in monochrome too; Enter lists the slice's failures.
 */
import React from 'react';
import { Box, Text } from 'ink';
import { clip, type Theme } from '../theme.js';
import { selectSliceRows, type SliceRow } from '../panes.js';
import type { ScreenBinding } from '../keymap.js';
import type { RowModel, ScreenProps } from './screen.js';
import { NoRun, Row, pad, windowStart } from './list.js';

/** Enter lists the slice's failures, o sorts, O reverses, f freezes, / filters. */
export const SLICES_BINDINGS: readonly ScreenBinding[] = ['open', 'sort', 'reverse', 'freeze', 'filter'];

/** The orders `o` and `:sort` choose from, the default first. */
export const SLICE_SORTS = ['regression', 'delta', 'ap', 'p', 'n', 'name'] as const;
export type SliceSort = (typeof SLICE_SORTS)[number];

/** Sorted and filtered slice rows; "regression" puts significant critical regressions first. */
export function arrangeSlices(rows: SliceRow[], sort: SliceSort, reverse: boolean, filter: string): SliceRow[] {
  const f = filter.toLowerCase();
  const bad = (r: SliceRow) => (r.deltaHi !== undefined && r.deltaHi < 0 ? (r.critical ? 0 : 1) : 2);
  const key: Record<SliceSort, (a: SliceRow, b: SliceRow) => number> = {
    regression: (a, b) => bad(a) - bad(b) || (a.delta ?? 0) - (b.delta ?? 0) || a.slice.localeCompare(b.slice),
    delta: (a, b) => (a.delta ?? 0) - (b.delta ?? 0),
    ap: (a, b) => a.ap - b.ap,
    p: (a, b) => (a.p ?? 1) - (b.p ?? 1),
    n: (a, b) => (b.objects ?? 0) - (a.objects ?? 0),
    name: (a, b) => a.slice.localeCompare(b.slice),
  };
  const out = rows.filter((r) => !f || r.slice.toLowerCase().includes(f) || (f === 'critical' && r.critical) || (f === 'regressed' && r.deltaHi !== undefined && r.deltaHi < 0)).sort(key[sort]);
  return reverse ? out.reverse() : out;
}

/** A sort's name as one of SLICE_SORTS; the default for anything else. */
function sliceSort(name: string | undefined): SliceSort {
  return SLICE_SORTS.find((s) => s === name) ?? SLICE_SORTS[0];
}

/** The slices of the shown run's live metrics; Enter shows the failures that fall in the slice. */
export const SLICE_ROWS: RowModel<SliceRow> = {
  select: (data, options) => (data.run ? arrangeSlices(selectSliceRows(data.run.view), sliceSort(options.sort), options.reversed, options.filter) : []),
  id: (r) => r.slice,
  open: (slice) => ({ to: 'failures', filter: `slice=${slice}` }),
  sorts: SLICE_SORTS,
};

/** The slices screen: its rows as a SliceTable, with the order and filter chosen. */
export function SlicesScreen({ rows, cursor, options, data, width, height, theme }: ScreenProps<SliceRow>) {
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  return <SliceTable rows={rows} cursor={cursor} sort={sliceSort(options.sort)} reverse={options.reversed} filter={options.filter} width={width} height={height} theme={theme} />;
}

export interface SliceTableProps {
  rows: readonly SliceRow[];
  cursor: number;
  /** The order, named in the last line. */
  sort: string;
  reverse: boolean;
  filter: string;
  width: number;
  height: number;
  theme: Theme;
}

/** The table, windowed around the cursor, and a legend line; frames and objects apart from 100 columns on. */
export function SliceTable({ rows, cursor, sort, reverse, filter, width, height, theme }: SliceTableProps) {
  const f3 = (x?: number) => (x === undefined ? '    -' : x.toFixed(3));
  const sg = (x?: number) => (x === undefined ? '     -' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);
  const nameW = Math.max(14, Math.min(30, width - 60));
  const listRows = height - 2;
  const start = windowStart(cursor, rows.length, listRows);
  const wide = width >= 100;
  const header = `    ${'SLICE'.padEnd(nameW)}    AP [95% CI]        DELTA  [95% CI]        P(adj)  ${wide ? 'FRAMES OBJECTS' : 'OBJ'}`;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(header, width, theme.unicode)}
      </Text>
      {rows.slice(start, start + listRows).map((r, i) => {
        const regressed = r.deltaHi !== undefined && r.deltaHi < 0;
        const mark = regressed ? (r.critical ? '!!' : '! ') : r.critical ? '* ' : '  ';
        const n = wide ? `${String(r.frames ?? '-').padStart(6)} ${String(r.objects ?? '-').padStart(7)}` : String(r.objects ?? '-').padStart(5);
        const text = `${mark} ${r.slice.padEnd(nameW).slice(0, nameW)} ${f3(r.ap)} [${f3(r.lo)},${f3(r.hi)}] ${sg(r.delta)} [${sg(r.deltaLo)},${sg(r.deltaHi)}] ${r.p === undefined ? '    -' : r.p.toFixed(3).padStart(6)} ${n}`;
        return <Row key={r.slice} text={text} selected={start + i === cursor} theme={theme} width={width} color={regressed ? 'red' : undefined} bold={regressed} />;
      })}
      {rows.length === 0 ? <Text>{clip(`  no slice metrics${filter ? ` matching "${filter}"` : ' yet (the evaluate step streams them)'}`, width, theme.unicode)}</Text> : null}
      {pad(listRows - Math.min(listRows, rows.length) - (rows.length === 0 ? 1 : 0), 'sp')}
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(`${rows.length} slices; sorted by ${sort}${reverse ? ' (reversed)' : ''}; !! critical regression, ! regression (95% CI of the delta below 0), * critical`, width, theme.unicode)}
      </Text>
    </Box>
  );
}
