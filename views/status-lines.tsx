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
import type { UiState } from './ui-state.js';

export interface HeaderFacts {
  runId?: string;
  status: string;
  started?: number;
  ended?: number;
  now: number;
  failures: number;
  frozen: boolean;
}

/** "paddock  r-20261125-215245-a1713b  ✔ succeeded  2m 03s  failures 40  FROZEN" */
export function headerText(h: HeaderFacts, theme: Theme): string {
  const st = theme.status[h.status] ?? theme.status.pending;
  const elapsed = h.started ? formatDuration((h.ended ?? h.now) - h.started) : '';
  return `paddock  ${h.runId ?? '(no run)'}  ${st.symbol} ${h.status}  ${elapsed}${h.failures ? `  failures ${h.failures}` : ''}${h.frozen ? '  FROZEN' : ''}`;
}

/** The screens as tabs, the current one in brackets: "1 runs [2 run] 3 latency", or "1 [2 run] 3" when `room` is short. */
export function tabsText(screens: readonly { id: string; key: string }[], current: string, room: number): string {
  const wide = screens.map((s) => (s.id === current ? `[${s.key} ${s.id}]` : `${s.key} ${s.id}`)).join(' ');
  return room >= wide.length ? wide : screens.map((s) => (s.id === current ? `[${s.key} ${s.id}]` : s.key)).join(' ');
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
        {clip(`GATE ${gate.gate} needs review: ${gate.decision.verdict.toUpperCase()}  (a approve, x reject, ${detailsKey} details)`, width, theme.unicode)}
      </Text>
      <Text wrap="truncate">{clip(gate.decision.rationale[0] ?? '', width, theme.unicode)}</Text>
    </Box>
  );
}

export interface FooterFacts {
  actor: string;
  /** The binding table's hints for the mode and screen. */
  hints: string;
  /** How the live run ended, once it has: "succeeded". */
  ended?: string;
}

/** The bottom line: what is being typed or asked, else a message or the key hints. */
export function footerText(ui: UiState, f: FooterFacts, unicode: boolean): string {
  const caret = unicode ? '▏' : '_';
  const sep = unicode ? '·' : '|';
  const said = ui.message ? `${ui.message} ${sep} ` : '';
  const a = ui.asking;
  switch (ui.mode) {
    case 'command':
      return `:${ui.text}${caret}`;
    case 'filter':
      return `/${ui.text}${caret}  (Enter keeps, Esc clears)`;
    case 'note':
      return `${said}note on ${a?.failure}: ${ui.text}${caret}  (Enter adds, Esc cancels)`;
    case 'reason':
      return `${said}${a?.what === 'reject' ? 'reason for rejecting (required)' : 'reason for approving (optional)'} ${a?.gate}: ${ui.text}${caret}  (Enter)`;
    case 'confirm':
      return `${a?.what} ${a?.gate} as ${f.actor}${a?.reason ? ` because "${a.reason}"` : ''}? y / n`;
    case 'confirm-quit':
      return 'steps are running: stop them and quit? y / n';
    default:
      return f.ended ? `run ${f.ended}; q to quit ${sep} ${ui.message ?? f.hints}` : (ui.message ?? f.hints);
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
