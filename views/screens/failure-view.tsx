/**
 * One failure on the whole screen (Enter or `e` on the failures screen; Enter or Esc again goes
 * back to the list): its frame at the largest size the rows allow, a zoom on the object beside
 * it (a crop around its box, 2 to 4 times larger than in the whole frame), the full-size PNG's
 * path whole on its own lines, then its review, notes and data as room allows. `p` prints the
 * path into the terminal above the workbench, where it stays after quitting (the footer says so).
 * At 80x24 the frame is 50x15 cells (it was 38x11 beside the list), the zoom 28x15.
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { FailureItem } from '../../src/live/run-reader.js';
import { clip, type Theme } from '../theme.js';
import { cropFrame, frameCellSize, renderFrameCells, zoomRegion, type ColorDepth, type FrameBox, type RgbFrame } from '../frame-cells.js';
import { fitParts, wrapLines, wrapText } from '../table.js';
import { pad, stamp } from './list.js';

/** Widest the whole frame is drawn, and the zoom: Ink lays every escape out again at each render (see FailuresScreen). */
const MAX_FRAME_COLS = 120;
const MAX_ZOOM_COLS = 60;
/** The zoom needs this many columns to be worth drawing; the frame gives way to it. */
const MIN_ZOOM_COLS = 16;

export interface FailureViewLayout {
  titleLines: string[];
  pathLines: string[];
  /** The cell area the frame is drawn in (its aspect kept inside it), and the zoom's beside it. */
  frameCols: number;
  frameRows: number;
  zoomCols: number;
  zoomRows: number;
  /** Lines left for the review, notes and data. */
  infoRows: number;
}

/** How the view shares `width` x `height`: a heading, the title, a caption, the frames, the path, info, the keys. */
export function failureViewLayout(item: FailureItem, img: { width: number; height: number } | undefined, width: number, height: number): FailureViewLayout {
  const titleLines = wrapText(item.title, width, '  ').slice(0, 2);
  const pathLines = wrapText(`png: ${item.framePath ?? '(no frame recorded for this failure)'}`, width);
  // Heading, title, caption, path, and at least one line of info.
  const fixed = 1 + titleLines.length + 1 + pathLines.length + 1;
  const rowsLeft = Math.max(4, height - fixed);
  if (!img) return { titleLines, pathLines, frameCols: 0, frameRows: 0, zoomCols: 0, zoomRows: 0, infoRows: Math.max(1, height - fixed + 1) };
  const colsForFrame = Math.max(16, Math.min(MAX_FRAME_COLS, width - MIN_ZOOM_COLS - 2));
  const size = frameCellSize(img, colsForFrame, rowsLeft);
  const zoomCols = Math.min(MAX_ZOOM_COLS, width - size.cols - 2);
  return { titleLines, pathLines, frameCols: size.cols, frameRows: size.rows, zoomCols: zoomCols >= MIN_ZOOM_COLS ? zoomCols : 0, zoomRows: size.rows, infoRows: Math.max(1, height - fixed + 1 - size.rows) };
}

/** The drawn frame, or why there is none. */
export type DrawnFrame = { lines: string[] } | { missing: string };
/** The drawn zoom with its magnification and the part of the frame it shows, or why there is none. */
export type DrawnZoom = { lines: string[]; zoom: number; region: { x: number; y: number; width: number; height: number } } | { missing: string };

/**
 * The whole frame with its boxes in the layout's area, and the zoom on the failure's own box
 * (the first of `boxes`) beside it. Pure: pixels in, lines out.
 */
export function drawFailureFrames(img: RgbFrame, boxes: readonly FrameBox[], layout: FailureViewLayout, depth: ColorDepth, unicode: boolean): { frame: DrawnFrame; zoom: DrawnZoom } {
  const frame = { lines: renderFrameCells(img, layout.frameCols, layout.frameRows, boxes, depth, unicode) };
  const own = boxes[0];
  if (!own) return { frame, zoom: { missing: 'no box recorded: no zoom' } };
  if (!layout.zoomCols) return { frame, zoom: { missing: 'a wider terminal shows a zoom on the box' } };
  const scale = frameCellSize(img, layout.frameCols, layout.frameRows).cols / img.width;
  const region = zoomRegion(img, own.bbox, layout.zoomCols, layout.zoomRows, scale);
  const crop = cropFrame(img, region.x, region.y, region.width, region.height);
  const shifted = boxes.map((b): FrameBox => ({ rgb: b.rgb, bbox: [b.bbox[0] - region.x, b.bbox[1] - region.y, b.bbox[2], b.bbox[3]] }));
  return { frame, zoom: { lines: renderFrameCells(crop, layout.zoomCols, layout.zoomRows, shifted, depth, unicode), zoom: region.zoom, region } };
}

function num(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : Array.isArray(v) ? `[${v.map((x) => (typeof x === 'number' ? x.toFixed(1) : String(x))).join(', ')}]` : String(v);
}

/** What is known of a failure besides its frame: its review, the notes on it, then its class, slices and data (one line each, unwrapped). */
export function failureInfo(f: FailureItem): { review: string; notes: string[]; facts: string[] } {
  const review = f.reviewed ? `reviewed by ${f.reviewed.actor} at ${stamp(f.reviewed.at)}` : 'not reviewed (m marks it)';
  const notes = f.notes.map((n) => `note by ${n.actor} at ${stamp(n.at)}: ${n.text}`);
  const facts = [`class ${f.class ?? '-'}; slices ${f.slices.join(', ') || '-'}`];
  for (const [k, v] of Object.entries(f.data)) {
    if (k === 'frame' && v && typeof v === 'object') facts.push(`frame: ${Object.values(v as Record<string, unknown>).join(', ')}`);
    else if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) facts.push(`${k}: ${num(v)}`);
  }
  return { review, notes, facts };
}

export interface FailureViewProps {
  item: FailureItem;
  /** The failure's place in the list shown, from 0, and the list's length. */
  position: number;
  count: number;
  /** Failures before the filter. */
  total: number;
  filter: string;
  layout: FailureViewLayout;
  frame: DrawnFrame;
  zoom: DrawnZoom;
  width: number;
  height: number;
  theme: Theme;
}

/** The view: pure props to lines. */
export function FailureView({ item, position, count, total, filter, layout, frame, zoom, width, height, theme }: FailureViewProps) {
  const dash = theme.unicode ? '─' : '-';
  const heading = fitParts(
    [
      { text: `FAILURES ${count}${count !== total ? ` of ${total}` : ''}` },
      { text: `${position + 1}/${count}` },
      { text: `${item.severity.toUpperCase()} ${item.kind}  ${item.id}` },
      { text: filter ? `(filter: ${filter})` : '', drop: 1 },
      { text: 'Enter/Esc: the list', drop: 2 },
    ],
    width,
    ` ${dash} `,
    theme.unicode,
  );
  const frameLines = 'lines' in frame ? frame.lines : [];
  const zoomLines = 'lines' in zoom ? zoom.lines : [];
  const frameW = frameLines.length ? layout.frameCols : 0;
  const zoomWords = 'lines' in zoom ? [`zoom ${zoom.zoom.toFixed(1)}x on the box (${zoom.region.width}x${zoom.region.height} px)`, `zoom ${zoom.zoom.toFixed(1)}x on the box`, `zoom ${zoom.zoom.toFixed(1)}x`] : [zoom.missing];
  const caption = 'missing' in frame ? frame.missing : `${'whole frame'.padEnd(frameW + 2)}${zoomWords.find((z) => frameW + 2 + z.length <= width) ?? zoomWords.at(-1)}`;
  const { review, notes, facts } = failureInfo(item);
  const info = wrapLines([review, ...notes, ...facts], width, '    ');
  const hidden = info.length - layout.infoRows + 1;
  // What does not fit is in the list's detail pane (Enter) and in `paddock failures --json`.
  const infoShown = info.length <= layout.infoRows ? info : layout.infoRows <= 1 ? [`${info[0]}  (+${info.length - 1} lines: Enter)`] : [...info.slice(0, layout.infoRows - 1), `... ${hidden} more lines: Enter shows the list and them`];
  const used = 1 + layout.titleLines.length + 1 + frameLines.length + layout.pathLines.length + infoShown.length;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {heading}
      </Text>
      {layout.titleLines.map((l, i) => (
        <Text key={`t${i}`} wrap="truncate" bold>
          {clip(l, width, theme.unicode)}
        </Text>
      ))}
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(caption, width, theme.unicode)}
      </Text>
      {frameLines.map((l, i) => (
        <Box key={`f${i}`} flexDirection="row">
          <Text>{l}</Text>
          {zoomLines[i] !== undefined ? <Text>{`  ${zoomLines[i]}`}</Text> : null}
        </Box>
      ))}
      {layout.pathLines.map((l, i) => (
        <Text key={`p${i}`} wrap="truncate">
          {l}
        </Text>
      ))}
      {infoShown.map((l, i) => (
        <Text key={`i${i}`} wrap="truncate">
          {clip(l, width, theme.unicode)}
        </Text>
      ))}
      {pad(height - used, 'fv')}
    </Box>
  );
}
