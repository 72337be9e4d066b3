/**
 * The `?` overlay over any screen: the binding table's lines (keys, then `:` commands), filtered
 * by what is typed, windowed around its cursor. The lines come from keymap.ts's helpLines().
 */
import React from 'react';
import { Box, Text } from 'ink';
import { clip, type Theme } from '../theme.js';
import { pad, windowStart } from './list.js';

export interface HelpOverlayProps {
  lines: readonly string[];
  /** The word the lines were filtered by, named in the title. */
  filter: string;
  width: number;
  height: number;
  theme: Theme;
  cursor: number;
}

/** The overlay: a title naming the filter, then the lines windowed around the cursor. */
export function HelpOverlay({ lines, filter, width, height, theme, cursor }: HelpOverlayProps) {
  const rows = height - 1;
  const start = windowStart(cursor, lines.length, rows);
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  HELP: keys and commands${filter ? ` matching "${filter}"` : ' (type to filter, Esc closes)'}`, width, theme.unicode)}
      </Text>
      {lines.slice(start, start + rows).map((l, i) => (
        <Text key={i} wrap="truncate">
          {clip(`  ${l}`, width, theme.unicode)}
        </Text>
      ))}
      {pad(rows - Math.min(rows, lines.length), 'hp')}
    </Box>
  );
}
