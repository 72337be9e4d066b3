/**
 * Pieces every screen's list uses: the window around the cursor, the row with its ">" marker
 * (not only a color), blank padding, timestamps, and the line shown when there is no run.
 */
import React, { memo } from 'react';
import { Text } from 'ink';
import { clip, type Theme } from '../theme.js';

/** First row to show so that `cursor` stays visible in `rows` rows of `count`. */
export function windowStart(cursor: number, count: number, rows: number): number {
  if (count <= rows) return 0;
  return Math.max(0, Math.min(cursor - Math.floor(rows / 3), count - rows));
}

/** `n` blank lines, so that a screen keeps its height. */
export function pad(n: number, key: string) {
  return Array.from({ length: Math.max(0, n) }, (_, i) => <Text key={`${key}${i}`}> </Text>);
}

/** "2026-11-25 21:52", or "-". */
export function stamp(ms: number | null | undefined): string {
  if (!ms) return '-';
  const d = new Date(ms);
  const p = (x: number) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** One list row: "> text" when selected (inverse too), "  text" otherwise. */
export const Row = memo(function Row({ text, selected, theme, width, color, bold }: { text: string; selected: boolean; theme: Theme; width: number; color?: string; bold?: boolean }) {
  return (
    <Text wrap="truncate" inverse={selected} color={theme.color ? color : undefined} bold={bold}>
      {clip(`${selected ? '>' : ' '} ${text}`, width, theme.unicode)}
    </Text>
  );
});

/** What a run's screen shows without a run: the id that is not in the store, or where to find runs. */
export function NoRun({ runId, width, theme }: { runId?: string; width: number; theme: Theme }) {
  return <Text>{clip(runId ? `run ${runId} is not in the store` : 'no run yet: 1 shows the run history', width, theme.unicode)}</Text>;
}
