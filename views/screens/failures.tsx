/**
 * The failure browser: failures by their contribution to the regression, `n`/`N` to step through
 * them, the selected one's evidence below with its frame drawn in the terminal (boxes on it), and
 * its reviews and notes, wrapped so that every word shows (the PNG's path too); `m` marks it
 * reviewed, `i` adds a note, both recorded with who and when. Enter (or `e`) opens the selected
 * failure on the whole screen (failure-view.tsx): the frame as large as the rows allow, a zoom on
 * the object, the path whole; `p` prints the path into the terminal. Enter on a flagged replay
 * segment (a `replay-divergence` failure) plays it in the replay screen (replay-view.tsx) instead;
 * the list marks a failure reviewed (✔) or filed for data mining there (⚑).
 */
import React, { useMemo } from 'react';
import { readFileSync } from 'node:fs';
import { Box, Text } from 'ink';
import { arrangeFailures, type FailureFilter, type FailureItem } from '../../src/live/run-reader.js';
import { decodePngRgb } from '../../src/model/png.js';
import { clip, type Theme } from '../theme.js';
import { renderFrameCells, type FrameBox, type RgbFrame } from '../frame-cells.js';
import type { ScreenBinding } from '../keymap.js';
import type { RowModel, ScreenProps } from './screen.js';
import { sortLegend, sortNames, sortRows, type SortColumn } from '../ui-state.js';
import { NoRun, Row, pad, stamp, windowStart } from './list.js';
import { fitColumns, formatRow, wrapLines, type ColumnSpec } from '../table.js';
import { FailureView, drawFailureFrames, failureInfo, failureViewLayout, type DrawnFrame, type DrawnZoom, type FailureViewLayout } from './failure-view.js';

/**
 * o, O, e, / (shared), and the failure keys: Enter opens the failure full-screen (and closes it,
 * as Esc does), p prints the frame path, n/N step, m marks reviewed, i adds a note.
 */
export const FAILURES_BINDINGS: readonly ScreenBinding[] = [
  { keys: ['return'], action: 'expand', hint: 'open the failure full-screen (a replay segment: in the replay screen), or back to the list', short: 'full-screen', modes: ['normal'], footer: true },
  { keys: ['p'], action: 'print-path', hint: 'print the frame path into the terminal (it stays there after q)', short: 'print path', modes: ['normal'], footer: true },
  { keys: ['n'], action: 'next-failure', hint: 'next failure', modes: ['normal'], footer: true },
  { keys: ['N'], action: 'prev-failure', hint: 'previous failure', modes: ['normal'] },
  { keys: ['m'], action: 'reviewed', hint: 'mark reviewed', modes: ['normal'], footer: true },
  { keys: ['i'], action: 'note', hint: 'add a note', modes: ['normal'], footer: true },
  'sort',
  'reverse',
  'expand',
  'filter',
];

/** Parses "kind=lost-object class=pedestrian slice=night words" into a filter. */
export function parseFailureFilter(s: string): FailureFilter {
  const f: FailureFilter = {};
  const words: string[] = [];
  for (const tok of s.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(kind|slice|class)=(.+)$/.exec(tok);
    if (m) f[m[1] as 'kind' | 'slice' | 'class'] = m[2];
    else words.push(tok);
  }
  if (words.length) f.text = words.join(' ');
  return f;
}

const byContribution = (a: FailureItem, b: FailureItem) => b.contribution - a.contribution || a.id.localeCompare(b.id);
/** The columns `o` steps through, the default (arrangeFailures' order) first; ties by contribution. */
export const FAILURE_SORT_COLUMNS: readonly SortColumn<FailureItem>[] = [
  { name: 'contribution', order: 'to the regression', compare: byContribution },
  { name: 'reviewed', order: 'not reviewed first', compare: (a, b) => Number(Boolean(a.reviewed)) - Number(Boolean(b.reviewed)) || byContribution(a, b) },
  { name: 'kind', compare: (a, b) => a.kind.localeCompare(b.kind) || byContribution(a, b) },
  { name: 'class', compare: (a, b) => (a.class ?? '').localeCompare(b.class ?? '') || byContribution(a, b) },
  { name: 'slice', compare: (a, b) => (a.slices[0] ?? '').localeCompare(b.slices[0] ?? '') || byContribution(a, b) },
];

/**
 * The shown run's failures, filtered (`kind=… class=… slice=… words`), by contribution or the
 * column chosen. Enter on one the replay screen lists (a flagged replay segment) opens it there.
 */
export const FAILURE_ROWS: RowModel<FailureItem> = {
  select: (data, options) => sortRows(arrangeFailures(data.run?.detail.failures ?? [], parseFailureFilter(options.filter)), FAILURE_SORT_COLUMNS, options.sort, options.reversed),
  id: (f) => f.id,
  expandTo: (id) => ({ to: 'replay', select: id }),
  sorts: sortNames(FAILURE_SORT_COLUMNS),
};

/** Rows of the failure list and of the detail pane below it, in `height` rows. */
export function failuresLayout(height: number, count: number): { listRows: number; detailRows: number } {
  const listRows = Math.max(3, Math.min(count || 1, Math.floor((height - 2) / 3)));
  return { listRows, detailRows: height - 2 - listRows };
}

/** The boxes drawn on a failure's frame: the object (green) or the false detection (red), and the closest other box (yellow). */
export function failureBoxes(f: FailureItem): FrameBox[] {
  const boxes: FrameBox[] = [];
  const bbox = f.data.bbox;
  const isBox = (b: unknown): b is [number, number, number, number] => Array.isArray(b) && b.length === 4 && b.every((x) => typeof x === 'number');
  if (isBox(bbox)) boxes.push({ bbox, rgb: f.kind.startsWith('false-positive') ? [255, 40, 40] : [40, 255, 80] });
  const closest = (f.data.closest ?? undefined) as { bbox?: unknown } | undefined;
  if (closest && isBox(closest.bbox)) boxes.push({ bbox: closest.bbox, rgb: [255, 220, 0] });
  return boxes;
}

const frameCache = new Map<string, RgbFrame | undefined>();

/** Reads a PNG frame with the inference path's decoder (png.ts); undefined when it cannot. */
export function defaultReadFrame(path: string): RgbFrame | undefined {
  if (frameCache.has(path)) return frameCache.get(path);
  let img: RgbFrame | undefined;
  try {
    img = decodePngRgb(readFileSync(path), path);
  } catch {
    img = undefined;
  }
  if (frameCache.size > 64) frameCache.clear();
  frameCache.set(path, img);
  return img;
}

/** The failures screen: its rows in the FailureBrowser, or the selected one full-screen (FailureView); frames drawn here. */
export function FailuresScreen({ rows, cursor, options, data, width, height, theme, depth, readFrame }: ScreenProps<FailureItem>) {
  const sel = rows[cursor];
  const full = options.expanded && sel !== undefined;
  // In the list, a thumbnail in 40% of the width, none where the details would have less than
  // LIST_TEXT_MIN columns (the details come first there, the frame is a key away); full-screen,
  // failureViewLayout's (at most 120 columns for the frame): Ink lays out every escape of the frame
  // again at each render (at 200x60 in truecolor, a key took 1.3 s to show with a 176-column
  // frame, 0.7 s with 120).
  const frameCols = Math.floor(width * 0.4) - 2;
  const thumbnail = width - frameCols - 2 >= LIST_TEXT_MIN;
  const frameRows = Math.max(4, failuresLayout(height, rows.length).detailRows);
  // Drawn once per failure and size, not at every frame of the live view.
  const drawn = useMemo((): { frame: DrawnFrame; layout?: FailureViewLayout; zoom?: DrawnZoom } => {
    if (!sel) return { frame: { missing: '' } };
    const img = sel.framePath ? readFrame(sel.framePath) : undefined;
    const missing = !sel.framePath ? 'no frame recorded for this failure' : !img ? `cannot read ${sel.framePath}` : '';
    if (full) {
      const layout = failureViewLayout(sel, img, width, height);
      if (!img) return { layout, frame: { missing }, zoom: { missing: '' } };
      return { layout, ...drawFailureFrames(img, failureBoxes(sel), layout, depth, theme.unicode) };
    }
    if (!img) return { frame: { missing } };
    if (!thumbnail) return { frame: { lines: [] } };
    return { frame: { lines: renderFrameCells(img, frameCols, frameRows, failureBoxes(sel), depth, theme.unicode) } };
  }, [sel?.id, sel?.framePath, sel?.title, full, width, height, frameCols, frameRows, thumbnail, depth, theme.unicode]);
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  const total = data.run.detail.failures.length;
  if (full && drawn.layout && drawn.zoom) {
    return <FailureView item={sel} position={cursor} count={rows.length} total={total} filter={options.filter} layout={drawn.layout} frame={drawn.frame} zoom={drawn.zoom} width={width} height={height} theme={theme} />;
  }
  return <FailureBrowser items={rows} total={total} cursor={cursor} filter={options.filter} order={options.reversed || (options.sort ?? FAILURE_SORT_COLUMNS[0].name) !== FAILURE_SORT_COLUMNS[0].name ? sortLegend(FAILURE_SORT_COLUMNS, options.sort, options.reversed) : undefined} width={width} height={height} theme={theme} frame={drawn.frame} />;
}

export interface FailureBrowserProps {
  items: readonly FailureItem[];
  /** Failures before the filter. */
  total: number;
  cursor: number;
  filter: string;
  /** The order, in the title: "sorted by kind" (by contribution to the regression when absent). */
  order?: string;
  width: number;
  height: number;
  theme: Theme;
  /** The selected failure's frame, drawn (lines with escapes), or a reason there is none. */
  frame: DrawnFrame;
}

/**
 * The failure list's columns: the title is cut first (down to 12), then the kind (down to 10);
 * the review mark and the severity are always shown. The detail pane shows the selected one whole.
 */
export const FAILURE_COLUMNS: readonly ColumnSpec[] = [
  { id: 'reviewed', header: '' },
  { id: 'severity', header: '' },
  { id: 'kind', header: '', max: 24, min: 10, shrink: 1 },
  { id: 'title', header: '', min: 12, shrink: 0 },
];

/** The fewest columns the list's details get beside a thumbnail; with fewer, no thumbnail. */
const LIST_TEXT_MIN = 44;

/** The list windowed around the cursor, a position line, and the selected failure's details (wrapped whole) with its frame to the right. */
export function FailureBrowser({ items, total, cursor, filter, order, width, height, theme, frame }: FailureBrowserProps) {
  const { listRows, detailRows } = failuresLayout(height, items.length);
  const start = windowStart(cursor, items.length, listRows);
  const sel = items[cursor];
  const frameLines = 'lines' in frame ? frame.lines : [];
  const frameW = frameLines.length ? Math.max(...frameLines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').length)) : 0;
  const textW = frameW ? Math.max(20, width - frameW - 2) : width;
  // Filed for data mining (from the replay screen) says more than reviewed: it shows first.
  const cells = items.map((x) => [x.filed ? (theme.unicode ? '⚑' : 'F') : x.reviewed ? (theme.unicode ? '✔' : '+') : ' ', x.severity.slice(0, 4).padEnd(4), x.kind, x.title]);
  const layout = fitColumns(FAILURE_COLUMNS, cells, width - 2);
  const details: string[] = [];
  if (sel) {
    // People's words (the review, the notes) before the path, the path before the data.
    const { review, notes, facts } = failureInfo(sel);
    const filed = sel.filed ? [`filed for data mining by ${sel.filed.actor} at ${stamp(sel.filed.at)}: ${sel.filed.note}`] : [];
    details.push(`${sel.severity.toUpperCase()} ${sel.kind}  ${sel.id}`, sel.title, review, ...filed, ...notes, `png: ${sel.framePath ?? '-'}`);
    if ('missing' in frame && frame.missing) details.push(frame.missing);
    details.push(...facts);
  }
  const wrapped = wrapLines(details, textW, '  ');
  const shown = wrapped.length > detailRows ? [...wrapped.slice(0, Math.max(0, detailRows - 1)), clip(`... ${wrapped.length - detailRows + 1} more lines: paddock failures --json`, textW, theme.unicode)] : wrapped;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  FAILURES ${items.length}${items.length !== total ? ` of ${total}` : ''}${filter ? ` (filter: ${filter})` : ''}, ${order ?? 'by contribution to the regression'}`, width, theme.unicode)}
      </Text>
      {items.slice(start, start + listRows).map((x, i) => (
        <Row
          key={x.id}
          text={formatRow(layout, cells[start + i], theme.unicode)}
          selected={start + i === cursor}
          theme={theme}
          width={width}
          color={x.severity === 'critical' ? 'red' : x.severity === 'major' ? 'yellow' : undefined}
        />
      ))}
      {items.length === 0 ? <Text>{clip(total ? '  no failure matches the filter' : '  no failures recorded in this run', width, theme.unicode)}</Text> : null}
      {pad(listRows - Math.min(listRows, items.length) - (items.length === 0 ? 1 : 0), 'fp')}
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(sel ? `${theme.unicode ? '─' : '-'} ${cursor + 1}/${items.length} ${theme.unicode ? '─' : '-'} n next, N previous, Enter full-screen` : '', width, theme.unicode)}
      </Text>
      <Box flexDirection="row" height={detailRows}>
        <Box flexDirection="column" width={textW}>
          {shown.map((d, i) => (
            <Text key={i} wrap="truncate" bold={i === 0}>
              {clip(d, textW, theme.unicode)}
            </Text>
          ))}
        </Box>
        {frameLines.length ? (
          <Box flexDirection="column" marginLeft={2}>
            {frameLines.slice(0, detailRows).map((l, i) => (
              <Text key={i}>{l}</Text>
            ))}
          </Box>
        ) : null}
      </Box>
    </Box>
  );
}
