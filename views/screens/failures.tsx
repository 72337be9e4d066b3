/**
 * The failure browser: failures by their contribution to the regression, `n`/`N` to step through
 * them, the selected one's evidence below with its frame drawn in the terminal (boxes on it), and
 * its reviews and notes; `m` marks it reviewed, `i` adds a note, both recorded with who and when.
 * `e` gives the evidence the whole screen (the list folds away, the frame is drawn larger).
 */
import React, { useMemo } from 'react';
import { readFileSync } from 'node:fs';
import { Box, Text } from 'ink';
import type { FailureItem } from '../../src/live/run-reader.js';
import { decodePngRgb } from '../../src/model/png.js';
import { clip, type Theme } from '../theme.js';
import { renderFrameCells, type FrameBox, type RgbFrame } from '../frame-cells.js';
import type { ScreenBinding } from '../keymap.js';
import type { RowModel, ScreenProps } from './screen.js';
import { NoRun, Row, pad, stamp, windowStart } from './list.js';

/** Enter, o, O, e, / (shared), and the failure keys: n/N step, m marks reviewed, i adds a note. */
export const FAILURES_BINDINGS: readonly ScreenBinding[] = [
  'open',
  { keys: ['n'], action: 'next-failure', hint: 'next failure', modes: ['normal'], footer: true },
  { keys: ['N'], action: 'prev-failure', hint: 'previous failure', modes: ['normal'] },
  { keys: ['m'], action: 'reviewed', hint: 'mark reviewed', modes: ['normal'], footer: true },
  { keys: ['i'], action: 'note', hint: 'add a note', modes: ['normal'], footer: true },
  'sort',
  'reverse',
  'expand',
  'filter',
];

export interface FailureFilter {
  kind?: string;
  slice?: string;
  class?: string;
  text?: string;
}

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

/** Failures matching a filter, by contribution to the regression (largest first) unless sorted otherwise. */
export function arrangeFailures(items: readonly FailureItem[], filter: FailureFilter, reverse = false): FailureItem[] {
  const out = items
    .filter((x) => !filter.kind || x.kind.startsWith(filter.kind))
    .filter((x) => !filter.class || x.class === filter.class)
    .filter((x) => !filter.slice || x.slices.includes(filter.slice))
    .filter((x) => !filter.text || x.title.toLowerCase().includes(filter.text.toLowerCase()) || x.id.includes(filter.text))
    .sort((a, b) => b.contribution - a.contribution || a.id.localeCompare(b.id));
  return reverse ? out.reverse() : out;
}

/** The shown run's failures, filtered (`kind=… class=… slice=… words`) and by contribution. */
export const FAILURE_ROWS: RowModel<FailureItem> = {
  select: (data, options) => arrangeFailures(data.run?.detail.failures ?? [], parseFailureFilter(options.filter), options.reversed),
  id: (f) => f.id,
};

/** Rows of the failure list and of the detail pane below it, in `height` rows; expanded, the detail pane has them all. */
export function failuresLayout(height: number, count: number, expanded = false): { listRows: number; detailRows: number } {
  const listRows = expanded ? 0 : Math.max(3, Math.min(count || 1, Math.floor((height - 2) / 3)));
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

/** The failures screen: its rows in the FailureBrowser, the selected one's frame drawn here. */
export function FailuresScreen({ rows, cursor, options, data, width, height, theme, depth, readFrame }: ScreenProps<FailureItem>) {
  const sel = rows[cursor];
  // Half the width; expanded, all but a text column of 22, up to 120 columns: Ink lays out every
  // escape of the frame again at each render (at 200x60 in truecolor, a key took 1.3 s to show with
  // a 176-column frame, 0.7 s with 120).
  const frameCols = Math.max(16, options.expanded ? Math.min(120, width - 24) : Math.floor(width * 0.5) - 2);
  const frameRows = Math.max(4, failuresLayout(height, rows.length, options.expanded).detailRows);
  // Drawn once per failure and size, not at every frame of the live view.
  const frame = useMemo(() => {
    if (!sel) return { missing: '' };
    if (!sel.framePath) return { missing: 'no frame recorded for this failure' };
    const img = readFrame(sel.framePath);
    if (!img) return { missing: `cannot read ${sel.framePath}` };
    return { lines: renderFrameCells(img, frameCols, frameRows, failureBoxes(sel), depth, theme.unicode) };
  }, [sel?.id, sel?.framePath, frameCols, frameRows, depth, theme.unicode]);
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  return <FailureBrowser items={rows} total={data.run.detail.failures.length} cursor={cursor} filter={options.filter} expanded={options.expanded} width={width} height={height} theme={theme} frame={frame} />;
}

export interface FailureBrowserProps {
  items: readonly FailureItem[];
  /** Failures before the filter. */
  total: number;
  cursor: number;
  filter: string;
  /** The list folded away, the details and the frame with every row. */
  expanded?: boolean;
  width: number;
  height: number;
  theme: Theme;
  /** The selected failure's frame, drawn (lines with escapes), or a reason there is none. */
  frame: { lines: string[] } | { missing: string };
}

function num(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : Array.isArray(v) ? `[${v.map((x) => (typeof x === 'number' ? x.toFixed(1) : String(x))).join(', ')}]` : String(v);
}

/** The list windowed around the cursor, a position line, and the selected failure's details with its frame to the right. */
export function FailureBrowser({ items, total, cursor, filter, expanded = false, width, height, theme, frame }: FailureBrowserProps) {
  const { listRows, detailRows } = failuresLayout(height, items.length, expanded);
  const start = windowStart(cursor, items.length, listRows);
  const sel = items[cursor];
  const frameLines = 'lines' in frame ? frame.lines : [];
  const frameW = frameLines.length ? Math.min(expanded ? width : Math.floor(width * 0.5), Math.max(...frameLines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').length))) : 0;
  const textW = Math.max(20, width - frameW - 2);
  const details: string[] = [];
  if (sel) {
    details.push(`${sel.severity.toUpperCase()} ${sel.kind}  ${sel.id}`);
    details.push(sel.title);
    details.push(`png: ${sel.framePath ?? '-'}`);
    if ('missing' in frame && frame.missing) details.push(frame.missing);
    details.push(sel.reviewed ? `reviewed by ${sel.reviewed.actor} at ${stamp(sel.reviewed.at)}` : 'not reviewed (m marks it)');
    for (const n of sel.notes) details.push(`note by ${n.actor} at ${stamp(n.at)}: ${n.text}`);
    details.push(`class ${sel.class ?? '-'}; slices ${sel.slices.join(', ') || '-'}`);
    for (const [k, v] of Object.entries(sel.data)) {
      if (k === 'frame' && v && typeof v === 'object') details.push(`frame: ${Object.values(v as Record<string, unknown>).join(', ')}`);
      else if (v !== undefined && v !== null && typeof v !== 'object') details.push(`${k}: ${num(v)}`);
      else if (Array.isArray(v)) details.push(`${k}: ${num(v)}`);
    }
  }
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  FAILURES ${items.length}${items.length !== total ? ` of ${total}` : ''}${filter ? ` (filter: ${filter})` : ''}, by contribution to the regression`, width, theme.unicode)}
      </Text>
      {items.slice(start, start + listRows).map((x, i) => (
        <Row
          key={x.id}
          text={`${x.reviewed ? (theme.unicode ? '✔' : '+') : ' '} ${x.severity.slice(0, 4).padEnd(4)} ${x.kind.padEnd(24).slice(0, 24)} ${x.title}`}
          selected={start + i === cursor}
          theme={theme}
          width={width}
          color={x.severity === 'critical' ? 'red' : x.severity === 'major' ? 'yellow' : undefined}
        />
      ))}
      {items.length === 0 && !expanded ? <Text>{clip(total ? '  no failure matches the filter' : '  no failures recorded in this run', width, theme.unicode)}</Text> : null}
      {pad(listRows - Math.min(listRows, items.length) - (items.length === 0 && !expanded ? 1 : 0), 'fp')}
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(sel ? `${theme.unicode ? '─' : '-'} ${cursor + 1}/${items.length} ${theme.unicode ? '─' : '-'} n next, N previous` : '', width, theme.unicode)}
      </Text>
      <Box flexDirection="row" height={detailRows}>
        <Box flexDirection="column" width={textW}>
          {details.slice(0, detailRows).map((d, i) => (
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
