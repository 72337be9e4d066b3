/**
 * The `?` overlay over any screen: the binding table's groups (screens, movement, actions, `:`
 * commands) from keymap.ts's helpSections(), filtered by what is typed, long lines wrapped to the
 * width, scrolled by ↑/↓, PgUp/PgDn, Home/End (ui-state.ts keeps the first line shown).
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { HelpSection } from '../keymap.js';
import { clip, type Theme } from '../theme.js';
import { pad } from './list.js';

/** One line of the overlay's body: a group's title, or (part of) a binding's or command's line. */
export interface HelpRow {
  text: string;
  heading: boolean;
}

/** Columns before a line's text (the overlay's margin). */
const MARGIN = 2;
/** Where a wrapped line goes on: under the hint, after the keys' column (keymap.ts pads keys to 10). */
const HANG = 11;

/**
 * The overlay's body as rows at `width` columns: each group's title, then its lines, a line too
 * long for the width wrapped at spaces under its hint, so that nothing is cut off.
 * "Enter      open the selected row (runs, slices, failures)" at 40 columns gives two rows.
 */
export function helpRows(sections: readonly HelpSection[], width: number): HelpRow[] {
  const room = Math.max(20, width - MARGIN);
  const rows: HelpRow[] = [];
  for (const s of sections) {
    rows.push({ text: s.title, heading: true });
    for (const line of s.lines) for (const text of wrapLine(line, room)) rows.push({ text, heading: false });
  }
  return rows;
}

function wrapLine(line: string, room: number): string[] {
  const out: string[] = [];
  let rest = line;
  let indent = '';
  while (indent.length + rest.length > room) {
    const fit = room - indent.length;
    const cut = rest.lastIndexOf(' ', fit);
    const at = cut > HANG ? cut : fit;
    out.push(indent + rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
    indent = ' '.repeat(HANG);
  }
  out.push(indent + rest);
  return out;
}

/** Rows of the overlay's body at `height`: all but its title line. */
export function helpPage(height: number): number {
  return Math.max(1, height - 1);
}

export interface HelpOverlayProps {
  /** helpRows() of the sections shown. */
  rows: readonly HelpRow[];
  /** The word the lines were filtered by, named in the title. */
  filter: string;
  width: number;
  height: number;
  theme: Theme;
  /** The first row shown (kept inside the rows here). */
  top: number;
}

/** The overlay: a title naming the filter and which rows show, then the rows from `top`. */
export function HelpOverlay({ rows, filter, width, height, theme, top }: HelpOverlayProps) {
  const page = helpPage(height);
  const start = Math.max(0, Math.min(top, rows.length - page));
  const shown = rows.slice(start, start + page);
  const where = rows.length <= page ? `all ${rows.length} lines` : `lines ${start + 1}-${start + shown.length} of ${rows.length}`;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  HELP: keys and commands${filter ? ` matching "${filter}"` : ' (type to filter)'}  ${where}`, width, theme.unicode)}
      </Text>
      {shown.map((r, i) => (
        <Text key={i} wrap="truncate" bold={r.heading} color={r.heading ? theme.accent : undefined}>
          {clip(`${' '.repeat(MARGIN)}${r.text}`, width, theme.unicode)}
        </Text>
      ))}
      {rows.length === 0 ? <Text>{clip(`  nothing matches "${filter}" (Backspace or Ctrl+U to change it)`, width, theme.unicode)}</Text> : null}
      {pad(page - shown.length - (rows.length === 0 ? 1 : 0), 'hp')}
    </Box>
  );
}
