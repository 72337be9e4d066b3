/**
 * The lines around every screen: the header (run, status, time; the screens as tabs), the banner
 * of a gate that waits for a person, and the footer (key hints, a message, or the line being
 * typed). The texts are pure functions of the UI state; the components only style them.
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { GateRequest } from '../src/pipeline/gate-broker.js';
import { formatDuration } from '../src/files/format.js';
import { clip, type Theme } from './theme.js';
import { fitParts, fitTyped } from './table.js';
import type { UiState } from './ui-state.js';

export interface HeaderFacts {
  runId?: string;
  status: string;
  started?: number;
  ended?: number;
  now: number;
  failures: number;
  /** Steps that were skipped (by themselves, or because a need failed): a succeeded run says how many. */
  skipped?: number;
  frozen: boolean;
}

/**
 * "paddock  r-20261125-215245-a1713b  ✔ succeeded  2m 03s  failures 40  ↷ 1 skipped  FROZEN"; in
 * `width`, "paddock" goes first, then the skipped count, then the time, then FROZEN, then the
 * status word (its symbol stays): the run id and the failure count stay.
 */
export function headerText(h: HeaderFacts, theme: Theme, width = Infinity): string {
  const st = theme.status[h.status] ?? theme.status.pending;
  const elapsed = h.started ? formatDuration((h.ended ?? h.now) - h.started) : '';
  const line = (status: string, sep = '  ') =>
    fitParts(
      [
        { text: 'paddock', drop: 1 },
        { text: h.runId ?? '(no run)' },
        { text: status },
        { text: elapsed, drop: 2 },
        { text: h.failures ? `failures ${h.failures}` : '' },
        { text: h.skipped ? `${theme.status.skipped.symbol} ${h.skipped} skipped` : '', drop: 2 },
        { text: h.frozen ? 'FROZEN' : '', drop: 3 },
      ],
      width,
      sep,
      theme.unicode,
    );
  const cut = (s: string) => s.length >= width && s.endsWith(theme.unicode ? '…' : '...');
  const full = line(`${st.symbol} ${h.status}`);
  // Short of room: the status as its symbol, then single spaces, before anything is cut; the
  // status word also goes before FROZEN does (the symbol says the status; nothing else says frozen).
  const short = line(st.symbol);
  if (h.frozen && !full.includes('FROZEN') && short.includes('FROZEN') && !cut(short)) return short;
  if (!cut(full)) return full;
  return cut(short) ? line(st.symbol, ' ') : short;
}

/** The screens as tabs, the current one in brackets: "1 runs [2 run] 3 latency", or "1 [2 run] 3" when `room` is short. */
export function tabsText(screens: readonly { id: string; key: string }[], current: string, room: number): string {
  const wide = screens.map((s) => (s.id === current ? `[${s.key} ${s.id}]` : `${s.key} ${s.id}`)).join(' ');
  if (room >= wide.length) return wide;
  const keys = screens.map((s) => (s.id === current ? `[${s.key} ${s.id}]` : s.key));
  const spaced = keys.join(' ');
  // Eight screens' keys spaced out left the header too little room at 60 columns: the keys are
  // single characters, so run together ("1[2 run]345678") they still read one by one.
  return room >= spaced.length ? spaced : keys.join('');
}

/** The top line: run, status, time on the left; the screens on the right (the header is cut first). */
export function HeaderLine({ header, tabs, width, theme }: { header: string; tabs: string; width: number; theme: Theme }) {
  const left = clip(header, Math.max(10, width - tabs.length - 2), theme.unicode);
  const gap = Math.max(1, width - left.length - tabs.length);
  return (
    <Text wrap="truncate">
      <Text bold color={theme.accent}>
        {left}
      </Text>
      {' '.repeat(gap)}
      <Text>{clip(tabs, Math.max(0, width - left.length - gap), theme.unicode)}</Text>
    </Text>
  );
}

/** Two lines over every screen while a gate waits: its verdict and the keys, then the first reason. */
export function GateBanner({ gate, detailsKey, width, theme }: { gate: GateRequest; detailsKey: string; width: number; theme: Theme }) {
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold inverse={!theme.color} color={theme.color ? 'yellow' : undefined}>
        {/* The keys stay; "needs review: VERDICT" gives way first (views/table.ts). */}
        {fitParts([{ text: `GATE ${gate.gate}` }, { text: ` needs review: ${gate.decision.verdict.toUpperCase()}`, drop: 1 }, { text: `  (a approve, x reject, ${detailsKey} details)` }], width, '', theme.unicode)}
      </Text>
      <Text wrap="truncate">{clip(gate.decision.rationale[0] ?? '', width, theme.unicode)}</Text>
    </Box>
  );
}

export interface FooterFacts {
  actor: string;
  /** The binding table's hints for the mode and screen that fit in `room` columns (keymap.ts's footerHints): those that always show when `room` is 0. */
  hints(room: number): string;
  /** How the live run ended, once it has: "succeeded". */
  ended?: string;
  /** The footer's width: the hints are fitted to it, and a message leaves room for `? help · q quit`. */
  width?: number;
}

/**
 * The bottom line: what is being typed or asked, else the key hints, or a message and the hints
 * that always show ("3 runs sorted by status · ? help · q quit").
 */
export function footerText(ui: UiState, f: FooterFacts, unicode: boolean): string {
  const caret = unicode ? '▏' : '_';
  const sep = unicode ? '·' : '|';
  const said = ui.message ? `${ui.message} ${sep} ` : '';
  const a = ui.asking;
  const width = f.width ?? Infinity;
  switch (ui.mode) {
    case 'command':
      return `${said}:${ui.text}${caret}  (Enter runs, Esc cancels)`;
    case 'filter':
      return `${said}/${ui.text}${caret}  (Enter keeps, Esc clears, Ctrl+W erases a word)`;
    case 'note':
      // The message, the keys and the end of the note (a prefilled data request is long) always show; the question gives way.
      if (a?.what === 'file') return said + fitTyped(`file ${a.failure} for data mining, note: `, `${ui.text}${caret}`, '  (Enter files, Esc cancels)', width - said.length, unicode);
      return said + fitTyped(`note on ${a?.failure}: `, `${ui.text}${caret}`, '  (Enter adds, Esc cancels)', width - said.length, unicode);
    case 'reason':
      // The keys and the end of the reason always show; the question gives way (views/table.ts).
      return fitTyped(`${said}${a?.what === 'reject' ? 'reason for rejecting (required)' : 'reason for approving (optional)'} ${a?.gate}: `, `${ui.text}${caret}`, '  (Enter)', width, unicode);
    case 'confirm': {
      // `y / n` always shows: the reason gives way first (the gates screen shows it whole), then the question.
      const head = `${a?.what} ${a?.gate} as ${f.actor}`;
      const because = a?.reason ? ` because "${a.reason}"` : '';
      const room = width - head.length - '? y / n'.length;
      if (because.length <= room) return `${head}${because}? y / n`;
      if (room >= 14) return `${head}${clip(because.slice(0, -1), room - 1, unicode)}"? y / n`;
      return `${clip(head, Math.max(1, width - '? y / n'.length), unicode)}? y / n`;
    }
    case 'confirm-quit':
      return 'steps are running: stop them and quit? y / n';
    default: {
      const lead = f.ended ? `run ${f.ended}; q to quit ${sep} ` : '';
      const room = width - lead.length;
      if (!ui.message) return lead + f.hints(room);
      const kept = f.hints(0);
      const tail = kept ? ` ${sep} ${kept}` : '';
      return lead + clip(ui.message, Math.max(10, room - tail.length), unicode) + tail;
    }
  }
}

/** The footer line, inverse or bold while something is typed or asked. */
export function FooterLine({ text, ui, width, theme }: { text: string; ui: UiState; width: number; theme: Theme }) {
  const asking = ui.mode !== 'normal';
  return (
    <Text wrap="truncate" dimColor={theme.dim && !asking && !ui.message} inverse={asking && !theme.color} bold={asking}>
      {clip(text, width, theme.unicode)}
    </Text>
  );
}
