/**
 * The slice table: each slice's AP with its 95% interval, the delta against production with its
 * interval, the adjusted one-sided p of a regression ("<" where it is at the resolution of its
 * replicates), and the denominators: scenes with objects (the effective sample size), frames and
 * objects. Regressions (the delta's one-sided upper bound below 0; the interval's upper end in
 * runs from before the bounds) are marked "!!" (critical) and "!", a slice with too little data
 * for an interval "?" (its point AP shown, "insufficient" where the intervals go, never colored
 * as a pass), so that they show in monochrome too; Enter lists the slice's failures. At narrow
 * widths the columns give way as SLICE_COLUMNS says (the denominators never do), and the lines
 * under the table show the selected slice with every value.
 */
import React from 'react';
import { Box, Text } from 'ink';
import { clip, type Theme } from '../theme.js';
import { selectSliceRows, sliceRegressed, type SliceRow } from '../panes.js';
import type { ScreenBinding } from '../keymap.js';
import type { RowModel, ScreenProps } from './screen.js';
import { NoRun, Row, pad, windowStart } from './list.js';
import { fitColumns, fitParts, formatHeader, formatRow, wrapFields, type ColumnSpec } from '../table.js';

/** Enter lists the slice's failures, o sorts, O reverses, f freezes, / filters. */
export const SLICES_BINDINGS: readonly ScreenBinding[] = ['open', 'sort', 'reverse', 'freeze', 'filter'];

/** The orders `o` and `:sort` choose from, the default first. */
export const SLICE_SORTS = ['regression', 'delta', 'ap', 'p', 'n', 'name'] as const;
export type SliceSort = (typeof SLICE_SORTS)[number];

/** Sorted and filtered slice rows; "regression" puts significant critical regressions first. */
export function arrangeSlices(rows: SliceRow[], sort: SliceSort, reverse: boolean, filter: string): SliceRow[] {
  const f = filter.toLowerCase();
  const bad = (r: SliceRow) => (sliceRegressed(r) ? (r.critical ? 0 : 1) : 2);
  const key: Record<SliceSort, (a: SliceRow, b: SliceRow) => number> = {
    regression: (a, b) => bad(a) - bad(b) || (a.delta ?? 0) - (b.delta ?? 0) || a.slice.localeCompare(b.slice),
    delta: (a, b) => (a.delta ?? 0) - (b.delta ?? 0),
    ap: (a, b) => a.ap - b.ap,
    p: (a, b) => (a.p ?? 1) - (b.p ?? 1),
    n: (a, b) => (b.scenes ?? 0) - (a.scenes ?? 0) || (b.objects ?? 0) - (a.objects ?? 0),
    name: (a, b) => a.slice.localeCompare(b.slice),
  };
  const out = rows.filter((r) => !f || r.slice.toLowerCase().includes(f) || (f === 'critical' && r.critical) || (f === 'regressed' && sliceRegressed(r)) || (f === 'insufficient' && r.insufficient)).sort(key[sort]);
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

/**
 * The slice table's columns at narrow widths: the slice name is cut first (down to 14), then the
 * AP's interval goes, then the delta's, then the p-value; the marks, AP, delta and the
 * denominators (scenes with objects, frames, objects) are always shown whole. At 80 columns the
 * AP's interval is gone and the name cut to 14; an insufficient slice says so in the delta's
 * interval column (and "?" in the marks, whatever is dropped). The detail lines below the table
 * show the selected slice with everything.
 */
export const SLICE_COLUMNS: readonly ColumnSpec[] = [
  // Two columns whatever the marks shown: "!!", "! ", "* ", "  ".
  { id: 'mark', header: '  ' },
  { id: 'slice', header: 'SLICE', max: 30, min: 14 },
  { id: 'ap', header: 'AP', align: 'right' },
  { id: 'ap-ci', header: '[95% CI]', drop: 1 },
  { id: 'delta', header: 'DELTA', align: 'right' },
  { id: 'delta-ci', header: '[95% CI]', drop: 2 },
  { id: 'p', header: 'P(adj)', align: 'right', drop: 3 },
  // Scenes with objects of the slice: the effective sample size the minimum applies to.
  { id: 'scenes', header: 'SCN', align: 'right' },
  { id: 'frames', header: 'FRAMES', align: 'right' },
  { id: 'objects', header: 'OBJECTS', align: 'right' },
];

const f3 = (x?: number) => (x === undefined ? '-' : x.toFixed(3));
const sg = (x?: number) => (x === undefined ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);

/** The adjusted p in a cell: "0.014", "<0.035" where the raw p is at its resolution, "<0.001" below that. */
export function pCell(r: Pick<SliceRow, 'p' | 'pAtResolution'>): string {
  if (r.p === undefined) return '-';
  if (r.p < 0.001) return '<0.001';
  return `${r.pAtResolution ? '<' : ''}${r.p.toFixed(3)}`;
}

/** A row's cells in SLICE_COLUMNS' order. */
export function sliceCells(r: SliceRow): string[] {
  const mark = sliceRegressed(r) ? (r.critical ? '!!' : '!') : r.insufficient ? (r.critical ? '*?' : '?') : r.critical ? '*' : '';
  const apCi = r.insufficient ? 'n/a' : `[${f3(r.lo)},${f3(r.hi)}]`;
  const deltaCi = r.insufficient ? 'insufficient' : `[${sg(r.deltaLo)},${sg(r.deltaHi)}]`;
  return [mark, r.slice, f3(r.ap), apCi, sg(r.delta), deltaCi, pCell(r), String(r.scenes ?? '-'), String(r.frames ?? '-'), String(r.objects ?? '-')];
}

/** The selected slice in words, every value whole: "night (critical)", "AP 0.356 [0.312, 0.399]", ..., "objects 5120". */
export function sliceDetail(r: SliceRow): string[] {
  // What "regressed" means is in the legend (the upper bound of the delta below 0).
  const what = [r.critical ? 'critical' : '', sliceRegressed(r) ? 'regressed' : '', r.insufficient ? 'insufficient data' : ''].filter(Boolean).join(', ');
  const conf = r.alpha !== undefined ? `${Math.round(100 * (1 - r.alpha))}% ` : '';
  return [
    `${r.slice}${what ? ` (${what})` : ''}:`,
    r.insufficient ? `AP ${f3(r.ap)} (point)` : `AP ${f3(r.ap)} [${f3(r.lo)}, ${f3(r.hi)}]`,
    r.insufficient ? '' : `delta ${sg(r.delta)} [${sg(r.deltaLo)}, ${sg(r.deltaHi)}]`,
    r.deltaLower !== undefined && r.deltaUpper !== undefined ? `${conf}bounds ${sg(r.deltaLower)}/${sg(r.deltaUpper)}` : '',
    r.insufficient ? '' : `p(adj) ${r.p === undefined ? '-' : r.pAtResolution ? `< ${r.p.toFixed(3)}${r.replicates !== undefined ? ` (B=${r.replicates})` : ''}` : r.p.toFixed(3)}`,
    r.scenes !== undefined ? `scenes ${r.scenes}` : '',
    `frames ${r.frames ?? '-'}`,
    `objects ${r.objects ?? '-'}`,
  ].filter(Boolean);
}

/**
 * Lines under the table for the selected slice: as many as the longest needs, 1 to 4 (kept while
 * the cursor moves): a regressed slice's name, AP, delta, bounds, p and denominators take 4 at 60 columns.
 */
function detailRows(rows: readonly SliceRow[], width: number): number {
  return Math.min(4, Math.max(1, ...rows.map((r) => wrapFields(sliceDetail(r), width).length)));
}

/** The table (SLICE_COLUMNS) windowed around the cursor, the selected slice whole, and a legend line. */
export function SliceTable({ rows, cursor, sort, reverse, filter, width, height, theme }: SliceTableProps) {
  const shownDetail = detailRows(rows, width - 2);
  const listRows = Math.max(1, height - 2 - shownDetail);
  const start = windowStart(cursor, rows.length, listRows);
  const cells = rows.map(sliceCells);
  // Laid out on every row, not only those shown, so that the columns stay put while scrolling; two columns for the row's "> ".
  const layout = fitColumns(SLICE_COLUMNS, cells, width - 2);
  const sel = rows[cursor];
  const detail = sel ? wrapFields(sliceDetail(sel), width - 2).slice(0, shownDetail) : [];
  const legend = fitParts(
    [
      { text: `${rows.length} slices` },
      { text: `sorted by ${sort}${reverse ? ' (reversed)' : ''}` },
      { text: filter ? `filter "${filter}"` : '' },
      { text: '!! critical regressed, ! regressed, * critical, ? insufficient data', drop: 3 },
      { text: 'SCN: scenes with objects', drop: 2 },
      { text: 'regressed: the upper bound of the delta below 0', drop: 1 },
    ],
    width,
    '; ',
    theme.unicode,
  );
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  ${formatHeader(layout, theme.unicode)}`, width, theme.unicode)}
      </Text>
      {rows.slice(start, start + listRows).map((r, i) => {
        const regressed = sliceRegressed(r);
        // An insufficient slice is never colored as a pass: yellow, as a gate that goes to review.
        return <Row key={r.slice} text={formatRow(layout, cells[start + i], theme.unicode)} selected={start + i === cursor} theme={theme} width={width} color={regressed ? 'red' : r.insufficient ? 'yellow' : undefined} bold={regressed} />;
      })}
      {rows.length === 0 ? <Text>{clip(`  no slice metrics${filter ? ` matching "${filter}"` : ' yet (the evaluate step streams them)'}`, width, theme.unicode)}</Text> : null}
      {pad(listRows - Math.min(listRows, rows.length) - (rows.length === 0 ? 1 : 0), 'sp')}
      {detail.map((l, i) => (
        <Text key={`sd${i}`} wrap="truncate" bold={i === 0}>
          {clip(`  ${l}`, width, theme.unicode)}
        </Text>
      ))}
      {pad(shownDetail - detail.length, 'sd-')}
      <Text wrap="truncate" dimColor={theme.dim}>
        {legend}
      </Text>
    </Box>
  );
}
