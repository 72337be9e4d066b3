/**
 * The workbench's screens, as pure leaves: props in, lines of text out. The container
 * (workbench.tsx) owns the keys, the store and the selection. Every list is windowed around its
 * cursor; the selected row always carries a ">" marker (not only a color); regressions are
 * marked with "!!" (critical) and "!" so that they show in monochrome too.
 */
import React, { memo } from 'react';
import { Box, Text } from 'ink';
import type { LiveState, LiveStep } from '../src/live/live-state.js';
import type { RunRow, StepRow, VerdictRow, ApprovalRow } from '../src/store/run-store.js';
import type { FailureItem, GateRule, PlanRow } from '../src/live/run-reader.js';
import type { GateRequest } from '../src/pipeline/gate-broker.js';
import { formatDuration } from '../src/files/format.js';
import { clip, type Theme } from './theme.js';
import { LatencyPane, type SliceRow } from './panes.js';
import { helpLines, type Screen } from './keymap.js';

/** First row to show so that `cursor` stays visible in `rows` rows of `count`. */
export function windowStart(cursor: number, count: number, rows: number): number {
  if (count <= rows) return 0;
  return Math.max(0, Math.min(cursor - Math.floor(rows / 3), count - rows));
}

function pad(n: number, key: string) {
  return Array.from({ length: Math.max(0, n) }, (_, i) => <Text key={`${key}${i}`}> </Text>);
}

function stamp(ms: number | null | undefined): string {
  if (!ms) return '-';
  const d = new Date(ms);
  const p = (x: number) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

const Row = memo(function Row({ text, selected, theme, width, color, bold }: { text: string; selected: boolean; theme: Theme; width: number; color?: string; bold?: boolean }) {
  return (
    <Text wrap="truncate" inverse={selected} color={theme.color ? color : undefined} bold={bold}>
      {clip(`${selected ? '>' : ' '} ${text}`, width, theme.unicode)}
    </Text>
  );
});

// ---- runs -------------------------------------------------------------------------------------

export interface RunsScreenProps {
  runs: RunRow[];
  cursor: number;
  width: number;
  height: number;
  theme: Theme;
  now: number;
  filter: string;
}

export function RunsScreen({ runs, cursor, width, height, theme, now, filter }: RunsScreenProps) {
  const rows = height - 1;
  const start = windowStart(cursor, runs.length, rows);
  const idW = 25;
  const wide = width >= 100;
  const nameW = wide ? 16 : 8;
  const hostW = wide ? 12 : 6;
  const when = (ms: number) => (wide ? stamp(ms) : stamp(ms).slice(5));
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  ${'STATUS'.padEnd(11)} ${`RUNS (${runs.length}${filter ? ` /${filter}` : ''})`.padEnd(idW)} ${'NAME'.padEnd(nameW)} ${'HOST'.padEnd(hostW)} ${'STARTED'.padEnd(wide ? 16 : 11)} TOOK`, width, theme.unicode)}
      </Text>
      {runs.slice(start, start + rows).map((r, i) => {
        const st = theme.status[r.status] ?? theme.status.pending;
        const took = formatDuration((r.ended_at ?? (r.status === 'running' ? now : r.updated_at)) - r.created_at);
        const text = `${st.symbol} ${r.status.padEnd(9)} ${r.id.padEnd(idW)} ${r.name.padEnd(nameW).slice(0, nameW)} ${r.host.padEnd(hostW).slice(0, hostW)} ${when(r.created_at)} ${took.padStart(6)}`;
        return <Row key={r.id} text={text} selected={start + i === cursor} theme={theme} width={width} color={st.color} />;
      })}
      {runs.length === 0 ? <Text>{'  no runs yet: paddock demo, or paddock run <recipe.yaml>'}</Text> : null}
      {pad(rows - Math.min(rows, runs.length) - (runs.length === 0 ? 1 : 0), 'rp')}
    </Box>
  );
}

// ---- run: the step DAG -----------------------------------------------------------------------

export interface RunDagScreenProps {
  plan: PlanRow[];
  steps: readonly LiveStep[];
  stored: StepRow[];
  cursor: number;
  width: number;
  height: number;
  theme: Theme;
  now: number;
  logs: LiveState['logs'];
}

export function RunDagScreen({ plan, steps, stored, cursor, width, height, theme, now, logs }: RunDagScreenProps) {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const rowOf = new Map(stored.map((s) => [s.step_id, s]));
  const nodes = plan.length ? plan : steps.map((s) => ({ id: s.id, stage: s.stage ?? '', kind: 'step' as const, needs: [] as string[] }));
  const logRows = Math.max(2, Math.floor((height - 3) / 4));
  const listRows = Math.max(3, height - 3 - logRows);
  const start = windowStart(cursor, nodes.length, listRows);
  const sel = nodes[cursor];
  const selStep = sel ? byId.get(sel.id) : undefined;
  const selRow = sel ? rowOf.get(sel.id) : undefined;
  const detail = sel
    ? `${sel.id}: ${selStep?.error ?? (selRow?.container ? `container ${selRow.container.slice(0, 12)} image ${selRow.image ?? '?'}` : selRow?.input_digest ? `inputs ${selRow.input_digest.slice(0, 12)}` : '')}`
    : '';
  const nameW = Math.min(34, Math.max(18, width - 50));
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  ${'STAGE/STEP'.padEnd(nameW)} ${'STATUS'.padEnd(11)} ${'TARGET@HOST'.padEnd(18)} TOOK    NEEDS`, width, theme.unicode)}
      </Text>
      {nodes.slice(start, start + listRows).map((n, i) => {
        const s = byId.get(n.id);
        const row = rowOf.get(n.id);
        const status = s?.status ?? 'pending';
        const st = theme.status[status === 'started' ? 'running' : status] ?? theme.status.pending;
        const host = s?.host ?? row?.host ?? (n as PlanRow).host ?? '';
        const target = (n as PlanRow).target ?? '';
        const took = s?.startedAt ? formatDuration((s.endedAt ?? now) - s.startedAt) : '';
        const needs = n.needs.length ? `${theme.unicode ? '←' : '<-'} ${n.needs.join(', ')}` : '';
        const label = `${n.kind === 'gate' ? (theme.unicode ? '◆ ' : '<> ') : ''}${n.stage}/${n.id}`;
        const where = target ? `${target}@${host || 'local'}` : host || 'local';
        const text = `${label.padEnd(nameW).slice(0, nameW)} ${st.symbol} ${(status === 'started' ? 'running' : status).padEnd(9)} ${where.padEnd(18).slice(0, 18)} ${took.padStart(6)}  ${needs}`;
        return <Row key={n.id} text={text} selected={start + i === cursor} theme={theme} width={width} color={st.color} />;
      })}
      {pad(listRows - Math.min(listRows, nodes.length), 'dp')}
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(detail, width, theme.unicode)}
      </Text>
      <Text wrap="truncate" bold>
        LOG
      </Text>
      {logs.slice(-logRows).map((l, i) => (
        <Text key={i} wrap="truncate" color={theme.color ? (l.level === 'error' ? 'red' : l.level === 'warn' ? 'yellow' : undefined) : undefined}>
          {clip(`${l.level === 'error' ? 'E' : l.level === 'warn' ? 'W' : ' '} ${l.step ? `${l.step}: ` : ''}${l.message.replace(/[\r\n\t]+/g, ' ')}`, width, theme.unicode)}
        </Text>
      ))}
      {pad(logRows - Math.min(logRows, logs.length), 'lp')}
    </Box>
  );
}

// ---- latency: candidate next to production ---------------------------------------------------

/** The target compared with `target`: the same target name after "/", another model. */
export function counterpartOf(target: string, targets: readonly string[]): string | undefined {
  const [model, ...rest] = target.split('/');
  const suffix = rest.join('/');
  const others = targets.filter((t) => t !== target && t.split('/').slice(1).join('/') === suffix && t.split('/')[0] !== model);
  return others.find((t) => /prod|baseline/.test(t)) ?? others[0];
}

export interface LatencyScreenProps {
  state: LiveState;
  targetIndex: number;
  width: number;
  height: number;
  theme: Theme;
  frozen: boolean;
}

export function LatencyScreen({ state, targetIndex, width, height, theme, frozen }: LatencyScreenProps) {
  const targets = Object.keys(state.latency).sort((a, b) => Number(/prod|baseline/.test(a)) - Number(/prod|baseline/.test(b)) || a.localeCompare(b));
  if (!targets.length) {
    return (
      <Box flexDirection="column">
        <Text bold color={theme.accent}>
          LATENCY
        </Text>
        <Text>{clip('  no latency samples in this run yet (bench steps stream them)', width, theme.unicode)}</Text>
        {pad(height - 2, 'lz')}
      </Box>
    );
  }
  const main = targets[targetIndex % targets.length];
  const other = counterpartOf(main, targets);
  const side = width >= 120 && other;
  if (!other) return <LatencyPane latency={state.latency[main]} targets={targets} width={width} rows={height - 1} theme={theme} frozen={frozen} />;
  if (side) {
    const half = Math.floor((width - 1) / 2);
    return (
      <Box flexDirection="row">
        <Box width={half} flexDirection="column">
          <LatencyPane latency={state.latency[main]} targets={targets} width={half} rows={height - 1} theme={theme} frozen={frozen} />
        </Box>
        <Box width={1} />
        <Box width={width - half - 1} flexDirection="column">
          <LatencyPane latency={state.latency[other]} targets={targets} width={width - half - 1} rows={height - 1} theme={theme} frozen={frozen} />
        </Box>
      </Box>
    );
  }
  const top = Math.floor(height / 2);
  return (
    <Box flexDirection="column">
      <LatencyPane latency={state.latency[main]} targets={targets} width={width} rows={top - 1} theme={theme} frozen={frozen} />
      <LatencyPane latency={state.latency[other]} targets={targets} width={width} rows={height - top - 1} theme={theme} frozen={frozen} />
    </Box>
  );
}

// ---- slices ----------------------------------------------------------------------------------

export const SLICE_SORTS = ['regression', 'delta', 'ap', 'p', 'n', 'name'] as const;
export type SliceSort = (typeof SLICE_SORTS)[number];

/** Sorted and filtered slice rows; "regression" puts significant critical regressions first. */
export function arrangeSlices(rows: SliceRow[], sort: SliceSort, reverse: boolean, filter: string): SliceRow[] {
  const f = filter.toLowerCase();
  const bad = (r: SliceRow) => (r.deltaHi !== undefined && r.deltaHi < 0 ? (r.critical ? 0 : 1) : 2);
  const key: Record<SliceSort, (a: SliceRow, b: SliceRow) => number> = {
    regression: (a, b) => bad(a) - bad(b) || (a.delta ?? 0) - (b.delta ?? 0) || a.slice.localeCompare(b.slice),
    delta: (a, b) => (a.delta ?? 0) - (b.delta ?? 0),
    ap: (a, b) => a.ap - b.ap,
    p: (a, b) => (a.p ?? 1) - (b.p ?? 1),
    n: (a, b) => (b.objects ?? 0) - (a.objects ?? 0),
    name: (a, b) => a.slice.localeCompare(b.slice),
  };
  const out = rows.filter((r) => !f || r.slice.toLowerCase().includes(f) || (f === 'critical' && r.critical) || (f === 'regressed' && r.deltaHi !== undefined && r.deltaHi < 0)).sort(key[sort]);
  return reverse ? out.reverse() : out;
}

export interface SlicesScreenProps {
  rows: SliceRow[];
  cursor: number;
  sort: SliceSort;
  reverse: boolean;
  filter: string;
  width: number;
  height: number;
  theme: Theme;
}

export function SlicesScreen({ rows, cursor, sort, reverse, filter, width, height, theme }: SlicesScreenProps) {
  const f3 = (x?: number) => (x === undefined ? '    -' : x.toFixed(3));
  const sg = (x?: number) => (x === undefined ? '     -' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);
  const nameW = Math.max(14, Math.min(30, width - 60));
  const listRows = height - 2;
  const start = windowStart(cursor, rows.length, listRows);
  const wide = width >= 100;
  const header = `    ${'SLICE'.padEnd(nameW)}    AP [95% CI]        DELTA  [95% CI]        P(adj)  ${wide ? 'FRAMES OBJECTS' : 'OBJ'}`;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(header, width, theme.unicode)}
      </Text>
      {rows.slice(start, start + listRows).map((r, i) => {
        const regressed = r.deltaHi !== undefined && r.deltaHi < 0;
        const mark = regressed ? (r.critical ? '!!' : '! ') : r.critical ? '* ' : '  ';
        const n = wide ? `${String(r.frames ?? '-').padStart(6)} ${String(r.objects ?? '-').padStart(7)}` : String(r.objects ?? '-').padStart(5);
        const text = `${mark} ${r.slice.padEnd(nameW).slice(0, nameW)} ${f3(r.ap)} [${f3(r.lo)},${f3(r.hi)}] ${sg(r.delta)} [${sg(r.deltaLo)},${sg(r.deltaHi)}] ${r.p === undefined ? '    -' : r.p.toFixed(3).padStart(6)} ${n}`;
        return <Row key={r.slice} text={text} selected={start + i === cursor} theme={theme} width={width} color={regressed ? 'red' : undefined} bold={regressed} />;
      })}
      {rows.length === 0 ? <Text>{clip(`  no slice metrics${filter ? ` matching "${filter}"` : ' yet (the evaluate step streams them)'}`, width, theme.unicode)}</Text> : null}
      {pad(listRows - Math.min(listRows, rows.length) - (rows.length === 0 ? 1 : 0), 'sp')}
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(`${rows.length} slices; sorted by ${sort}${reverse ? ' (reversed)' : ''}; !! critical regression, ! regression (95% CI of the delta below 0), * critical`, width, theme.unicode)}
      </Text>
    </Box>
  );
}

// ---- failures --------------------------------------------------------------------------------

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
export function arrangeFailures(items: FailureItem[], filter: FailureFilter, reverse = false): FailureItem[] {
  const out = items
    .filter((x) => !filter.kind || x.kind.startsWith(filter.kind))
    .filter((x) => !filter.class || x.class === filter.class)
    .filter((x) => !filter.slice || x.slices.includes(filter.slice))
    .filter((x) => !filter.text || x.title.toLowerCase().includes(filter.text.toLowerCase()) || x.id.includes(filter.text))
    .sort((a, b) => b.contribution - a.contribution || a.id.localeCompare(b.id));
  return reverse ? out.reverse() : out;
}

/** Rows of the failure list and of the detail pane below it, in `height` rows. */
export function failuresLayout(height: number, count: number): { listRows: number; detailRows: number } {
  const listRows = Math.max(3, Math.min(count || 1, Math.floor((height - 2) / 3)));
  return { listRows, detailRows: height - 2 - listRows };
}

export interface FailuresScreenProps {
  items: FailureItem[];
  total: number;
  cursor: number;
  filter: string;
  width: number;
  height: number;
  theme: Theme;
  /** The selected failure's frame, drawn (lines with escapes), or a reason there is none. */
  frame: { lines: string[] } | { missing: string };
}

function num(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : Array.isArray(v) ? `[${v.map((x) => (typeof x === 'number' ? x.toFixed(1) : String(x))).join(', ')}]` : String(v);
}

export function FailuresScreen({ items, total, cursor, filter, width, height, theme, frame }: FailuresScreenProps) {
  const { listRows, detailRows } = failuresLayout(height, items.length);
  const start = windowStart(cursor, items.length, listRows);
  const sel = items[cursor];
  const frameLines = 'lines' in frame ? frame.lines : [];
  const frameW = frameLines.length ? Math.min(Math.floor(width * 0.5), Math.max(...frameLines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').length))) : 0;
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
      {items.length === 0 ? <Text>{clip(total ? '  no failure matches the filter' : '  no failures recorded in this run', width, theme.unicode)}</Text> : null}
      {pad(listRows - Math.min(listRows, items.length) - (items.length === 0 ? 1 : 0), 'fp')}
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

// ---- gates -----------------------------------------------------------------------------------

/** The gates of a run in the order shown: the recipe's, then any other decided or asking. */
export function gateIdsOf(rules: readonly GateRule[], verdicts: readonly VerdictRow[], pending: readonly GateRequest[]): string[] {
  return [...new Set([...rules.map((r) => r.id), ...verdicts.map((v) => v.gate), ...pending.map((p) => p.gate)])];
}

export interface GatesScreenProps {
  rules: GateRule[];
  verdicts: VerdictRow[];
  approvals: ApprovalRow[];
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

export function GatesScreen({ rules, verdicts, approvals, pending, cursor, width, height, theme }: GatesScreenProps) {
  const ids = gateIdsOf(rules, verdicts, pending);
  const listRows = Math.max(2, Math.min(ids.length, Math.floor((height - 2) / 2)));
  const start = windowStart(cursor, ids.length, listRows);
  const sel = ids[cursor];
  const detailRows = height - 2 - listRows;
  const verdictOf = (id: string) => verdicts.find((v) => v.gate === id);
  const lines: string[] = [];
  if (sel) {
    const rule = rules.find((r) => r.id === sel);
    const v = verdictOf(sel);
    const p = pending.find((x) => x.gate === sel);
    lines.push(`${sel}: ${rule?.rule ?? ''}`);
    lines.push(`verdict: ${p ? `${p.decision.verdict.toUpperCase()}, waiting for a person (a approve, x reject)` : v ? v.verdict.toUpperCase() : 'not decided yet'}`);
    for (const r of p ? p.decision.rationale : rationaleOf(v)) lines.push(`  ${r}`);
    const mine = approvals.filter((a) => a.gate === sel);
    for (const a of mine) lines.push(`${a.decision} by ${a.actor} at ${stamp(a.at)}${a.reason ? `: ${a.reason}` : ''}`);
    if (!mine.length && !p) lines.push('no approvals recorded');
  }
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {clip(`  GATES (${ids.length})   ${'VERDICT'.padEnd(10)} ${'GATE'.padEnd(26)} RULE`, width, theme.unicode)}
      </Text>
      {ids.slice(start, start + listRows).map((id, i) => {
        const v = verdictOf(id);
        const p = pending.some((x) => x.gate === id);
        const a = approvals.filter((x) => x.gate === id).at(-1);
        const word = p ? 'REVIEW?' : a ? a.decision.toUpperCase() : v ? v.verdict.toUpperCase() : '-';
        const sym = p ? '?' : v?.verdict === 'pass' || a?.decision === 'approved' ? (theme.unicode ? '✔' : '+') : v?.verdict === 'fail' || a?.decision === 'rejected' ? (theme.unicode ? '✘' : 'x') : ' ';
        const color = sym === '?' ? 'yellow' : word === 'PASS' || word === 'APPROVED' ? 'green' : word === 'FAIL' || word === 'REJECTED' ? 'red' : undefined;
        return <Row key={id} text={`${sym} ${word.padEnd(9)} ${id.padEnd(26).slice(0, 26)} ${rules.find((r) => r.id === id)?.rule ?? ''}`} selected={start + i === cursor} theme={theme} width={width} color={color} />;
      })}
      {pad(listRows - Math.min(listRows, ids.length), 'gp')}
      <Text> </Text>
      {lines.slice(0, detailRows).map((l, i) => (
        <Text key={i} wrap="truncate" bold={i === 0}>
          {clip(l, width, theme.unicode)}
        </Text>
      ))}
      {pad(detailRows - Math.min(detailRows, lines.length), 'gd')}
    </Box>
  );
}

// ---- help ------------------------------------------------------------------------------------

export function HelpOverlay({ screen, filter, width, height, theme, cursor }: { screen: Screen; filter: string; width: number; height: number; theme: Theme; cursor: number }) {
  const lines = helpLines(screen, filter, theme.unicode);
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
