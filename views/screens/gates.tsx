/**
 * Gates: every gate of the run with its verdict or the approval it got, and the selected one's
 * rule, measured values, rationale and approvals. A gate that waits for a person is answered
 * here (or from the banner on any screen) with `a` or `x`.
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { GateRule } from '../../src/live/run-reader.js';
import type { VerdictRow, ApprovalRow } from '../../src/store/run-store.js';
import type { GateRequest } from '../../src/pipeline/gate-broker.js';
import { clip, type Theme } from '../theme.js';
import type { ScreenBinding } from '../keymap.js';
import type { RowModel, ScreenProps } from './screen.js';
import { NoRun, Row, pad, stamp, windowStart } from './list.js';
import { fitColumns, formatHeader, formatRow, wrapLines, type ColumnSpec } from '../table.js';

/** None of its own: `a` and `x` answer a gate from every screen. */
export const GATES_BINDINGS: readonly ScreenBinding[] = [];

/** The gates of a run in the order shown: the recipe's, then any other decided or asking. */
export function gateIdsOf(rules: readonly GateRule[], verdicts: readonly VerdictRow[], pending: readonly GateRequest[]): string[] {
  return [...new Set([...rules.map((r) => r.id), ...verdicts.map((v) => v.gate), ...pending.map((p) => p.gate)])];
}

/** The shown run's gates, in gateIdsOf's order. */
export const GATE_ROWS: RowModel<string> = {
  select: (data) => (data.run ? gateIdsOf(data.run.detail.gates, data.run.detail.verdicts, data.pending) : []),
  id: (gate) => gate,
};

/** The gates screen: the shown run's gates, verdicts and approvals, and the gates waiting. */
export function GatesScreen({ cursor, data, width, height, theme }: ScreenProps<string>) {
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  const { detail } = data.run;
  return <GateList rules={detail.gates} verdicts={detail.verdicts} approvals={detail.approvals} pending={data.pending} cursor={cursor} width={width} height={height} theme={theme} />;
}

export interface GateListProps {
  rules: readonly GateRule[];
  verdicts: readonly VerdictRow[];
  approvals: readonly ApprovalRow[];
  pending: readonly GateRequest[];
  cursor: number;
  width: number;
  height: number;
  theme: Theme;
}

function rationaleOf(v: VerdictRow | undefined): string[] {
  if (!v) return [];
  try {
    const r = JSON.parse(v.rationale) as unknown;
    return Array.isArray(r) ? r.map(String) : [String(r)];
  } catch {
    return [v.rationale];
  }
}

/**
 * The gate list's columns at narrow widths: the rule is cut first (down to 10 columns), then the
 * gate's name (down to 12), then the rule goes; the verdict or answer and its symbol are always
 * shown. The detail lines show the selected gate whole: its name and rule, the verdict with its
 * reasons, every approval with its reason.
 */
export function gateColumns(count: number): ColumnSpec[] {
  return [
    { id: 'symbol', header: ' ' },
    { id: 'verdict', header: 'VERDICT' },
    { id: 'gate', header: `GATES (${count})`, max: 32, min: 12, shrink: 1 },
    { id: 'rule', header: 'RULE', min: 10, shrink: 0, drop: 1 },
  ];
}

/** The selected gate in lines: name and rule, verdict (and the keys that answer it), reasons, approvals. */
export function gateDetail(id: string, rules: readonly GateRule[], verdict: VerdictRow | undefined, pending: GateRequest | undefined, approvals: readonly ApprovalRow[]): string[] {
  const rule = rules.find((r) => r.id === id);
  const lines = [`${id}: ${rule?.rule ?? ''}`];
  lines.push(`verdict: ${pending ? `${pending.decision.verdict.toUpperCase()}, waiting for a person (a approve, x reject)` : verdict ? verdict.verdict.toUpperCase() : 'not decided yet'}`);
  for (const r of pending ? pending.decision.rationale : rationaleOf(verdict)) lines.push(`  ${r}`);
  const mine = approvals.filter((a) => a.gate === id);
  for (const a of mine) lines.push(`${a.decision} by ${a.actor} at ${stamp(a.at)}${a.reason ? `: ${a.reason}` : ''}`);
  if (!mine.length && !pending) lines.push('no approvals recorded');
  return lines;
}

/** The gate list (up to half the rows) and the selected gate's details below it, wrapped whole. */
export function GateList({ rules, verdicts, approvals, pending, cursor, width, height, theme }: GateListProps) {
  const ids = gateIdsOf(rules, verdicts, pending);
  const listRows = Math.max(2, Math.min(ids.length, Math.floor((height - 2) / 2)));
  const start = windowStart(cursor, ids.length, listRows);
  const sel = ids[cursor];
  const detailRows = height - 2 - listRows;
  const verdictOf = (id: string) => verdicts.find((v) => v.gate === id);
  const cells = ids.map((id) => {
    const v = verdictOf(id);
    const p = pending.some((x) => x.gate === id);
    const a = approvals.filter((x) => x.gate === id).at(-1);
    const word = p ? 'REVIEW?' : a ? a.decision.toUpperCase() : v ? v.verdict.toUpperCase() : '-';
    const sym = p ? '?' : v?.verdict === 'pass' || a?.decision === 'approved' ? (theme.unicode ? '✔' : '+') : v?.verdict === 'fail' || a?.decision === 'rejected' ? (theme.unicode ? '✘' : 'x') : ' ';
    return [sym, word, id, rules.find((r) => r.id === id)?.rule ?? ''];
  });
  // Two columns for the row's "> ".
  const layout = fitColumns(gateColumns(ids.length), cells, width - 2);
  const wrapped = sel ? wrapLines(gateDetail(sel, rules, verdictOf(sel), pending.find((x) => x.gate === sel), approvals), width, '    ') : [];
  const lines = detailRows <= 0 ? [] : wrapped.length > detailRows ? [...wrapped.slice(0, Math.max(0, detailRows - 1)), `... ${wrapped.length - detailRows + 1} more lines: a taller terminal shows them`] : wrapped;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  ${formatHeader(layout, theme.unicode)}`, width, theme.unicode)}
      </Text>
      {ids.slice(start, start + listRows).map((id, i) => {
        const [sym, word] = cells[start + i];
        const color = sym === '?' ? 'yellow' : word === 'PASS' || word === 'APPROVED' ? 'green' : word === 'FAIL' || word === 'REJECTED' ? 'red' : undefined;
        return <Row key={id} text={formatRow(layout, cells[start + i], theme.unicode)} selected={start + i === cursor} theme={theme} width={width} color={color} />;
      })}
      {pad(listRows - Math.min(listRows, ids.length), 'gp')}
      <Text> </Text>
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate" bold={i === 0}>
          {clip(l, width, theme.unicode)}
        </Text>
      ))}
      {pad(detailRows - lines.length, 'gd')}
    </Box>
  );
}
