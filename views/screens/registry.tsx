/**
 * The registry screen (issue 20 item 10): models and their versions with alias badges, the
 * selected version's alias history, the approvals the candidate headed to production has and
 * lacks (approved and rejected from here with `a` / `x`, a reason asked, then y / n), the latest
 * promotion attempt's governance checks, and its canary analysis as a chart with the SLO drawn
 * as a horizontal line and the interval at which the decision was taken marked.
 *
 * The screen has panes (Tab steps through them), each with its own cursor (j/k), and Enter
 * drills into the selected row of the pane in front (Esc comes back). The workbench's UI reducer
 * (views/ui-state.ts) keeps one cursor per screen and ties its reason prompt to run gates, so the
 * registry keeps its own small pure reducer here (reduceRegistryUi), fed with the actions the
 * one binding table gives for its keys (keymap.ts, REGISTRY_BINDINGS below); keys it does not
 * take (digits, ?, :, q, Esc with nothing drilled) go on to the workbench's reducer.
 *
 * Nothing here opens the registry, a policy or a key: the shell hands in a RegistrySource
 * (cli/ui.ts: `load` reads a snapshot with src/registry/snapshot.ts, `onApprove` signs and stores
 * with src/registry/approve.ts), polled about once a second while the screen is shown.
 */
import React, { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { Box, Text } from 'ink';
import type { AliasMove, CanarySeries, CanarySnapshot, GovernanceCheckSnapshot, ModelSnapshot, RegistrySnapshot, VersionSnapshot } from '../../src/registry/snapshot.js';
import { visibleLength, type Glyphs } from '../charts.js';
import { clip, type Theme } from '../theme.js';
import type { Action, Keymap, ScreenBinding } from '../keymap.js';
import { fitParts, fitTyped, wrapLines } from '../table.js';
import type { ScreenProps } from './screen.js';
import { pad, stamp, windowStart } from './list.js';

const N = ['normal'] as const;

/** The registry's keys: panes, drilling in, approving and rejecting the candidate as a role. */
export const REGISTRY_BINDINGS: readonly ScreenBinding[] = [
  { keys: ['tab'], action: 'next-pane', hint: 'next pane: versions, history, approvals, governance, canary', short: 'pane', modes: [...N], footer: true },
  { keys: ['return'], action: 'open', hint: 'drill into the selected row (Esc back)', short: 'open', modes: [...N], footer: true },
  // a and x are the workbench's approve and reject (keymap.ts GATE_KEYS, one binding for each key
  // on every screen): here they answer for the candidate as the role selected, signed with your key.
];

// ---------------------------------------------------------------- the port the shell implements

/** One person's decision on the candidate, as the screen asks the shell to sign and store it. */
export interface RegistryDecision {
  model: string;
  version: string;
  role: string;
  decision: 'approved' | 'rejected';
  reason: string;
}

/** What a read of the registry gave: a snapshot (with a note, e.g. why no policy was loaded), none yet, or an error. */
export type RegistryLoad = { snapshot: RegistrySnapshot; note?: string } | { absent: string } | { error: string };

/** The registry as the shell hands it to the workbench. */
export interface RegistrySource {
  /** Reads a fresh snapshot; never creates a registry. */
  load(): Promise<RegistryLoad>;
  /** Signs and stores a decision; resolves with what was recorded, rejects with the refusal (its message is shown as is). */
  onApprove(d: RegistryDecision): Promise<string>;
}

// ---------------------------------------------------------------- state: panes, cursors, the question asked

export const PANES = ['versions', 'history', 'approvals', 'governance', 'canary'] as const;
export type Pane = (typeof PANES)[number];

export interface RegistryUi {
  pane: Pane;
  cursor: Readonly<Record<Pane, number>>;
  /** The selected row of the pane in front is shown whole. */
  drilled: boolean;
  /** normal, or typing the reason, or asked to confirm (the binding table's modes of those names). */
  mode: 'normal' | 'reason' | 'confirm';
  text: string;
  asking?: RegistryDecision;
  /** The screen's status line: what was recorded, what was refused and why, what is being signed. */
  status?: { text: string; tone: 'info' | 'ok' | 'error' | 'busy' };
  /** Decisions for the shell to sign and store, oldest first; the store empties it after each dispatch. */
  outbox: readonly RegistryDecision[];
}

export const initialRegistryUi: RegistryUi = { pane: 'versions', cursor: { versions: 0, history: 0, approvals: 0, governance: 0, canary: 0 }, drilled: false, mode: 'normal', text: '', outbox: [] };

/** What the reducer reads at a key: the binding table, the snapshot shown (or why there is none), who is at the keyboard. */
export interface RegistryContext {
  keymap: Pick<Keymap, 'lookup'>;
  load?: RegistryLoad;
  actor: string;
  /** A run's gate waits for a person: with no registry to act on, `a` and `x` answer it, as the banner over every screen says. */
  gateWaiting?: boolean;
}

export type RegistryAction = { type: 'key'; name: string; ctx: RegistryContext } | { type: 'decided'; ok: boolean; text: string };

/**
 * The next state, or undefined when the key is not the registry's (the workbench's reducer takes
 * it then). Ctrl+C is never taken: it stops or quits from anywhere.
 */
export function reduceRegistryUi(state: RegistryUi, action: RegistryAction): RegistryUi | undefined {
  if (action.type === 'decided') return { ...state, status: { text: action.text, tone: action.ok ? 'ok' : 'error' } };
  const { name, ctx } = action;
  if (name === 'ctrl+c') return undefined;
  if (state.mode === 'reason') return typedReason(state, name, ctx);
  if (state.mode === 'confirm') {
    const a = ctx.keymap.lookup('confirm', 'registry', name);
    if (a === 'yes' && state.asking) return { ...state, mode: 'normal', asking: undefined, text: '', outbox: [...state.outbox, state.asking], status: { text: `signing ${ctx.actor}'s ${state.asking.decision === 'approved' ? 'approval' : 'rejection'} of ${state.asking.model} ${state.asking.version} as ${state.asking.role}...`, tone: 'busy' } };
    if (a === 'no') return { ...state, mode: 'reason', text: state.asking?.reason ?? '' };
    // Asked y / n: nothing else is taken, and nothing goes through to the screens behind.
    return state;
  }
  const act = ctx.keymap.lookup('normal', 'registry', name);
  if (!act) return undefined;
  const snapshot = ctx.load && 'snapshot' in ctx.load ? ctx.load.snapshot : undefined;
  const taken: Action[] = ['up', 'down', 'top', 'bottom', 'next-pane', 'open', 'approve', 'reject'];
  if (!snapshot) {
    if (act === 'back' || !taken.includes(act)) return undefined;
    if ((act === 'approve' || act === 'reject') && ctx.gateWaiting) return undefined;
    return { ...state, status: { text: `nothing to ${act === 'approve' || act === 'reject' ? act : 'browse'}: ${whyNone(ctx.load)}`, tone: 'info' } };
  }
  const model = registryModel(snapshot, state, ctx.actor);
  const count = model.counts[state.pane];
  const cur = Math.min(state.cursor[state.pane], Math.max(0, count - 1));
  const moveTo = (to: number) => {
    if (!count) return { ...state, status: { text: `the ${state.pane} pane is empty${model.empty[state.pane] ? `: ${model.empty[state.pane]}` : ''}`, tone: 'info' as const } };
    return { ...state, cursor: { ...state.cursor, [state.pane]: Math.max(0, Math.min(to, count - 1)) }, status: undefined };
  };
  switch (act) {
    case 'down':
      return moveTo(cur + 1);
    case 'up':
      return moveTo(cur - 1);
    case 'top':
      return moveTo(0);
    case 'bottom':
      return moveTo(count - 1);
    case 'next-pane': {
      const pane = PANES[(PANES.indexOf(state.pane) + 1) % PANES.length];
      // A version's history starts at its latest move.
      const cursor = pane === 'history' ? { ...state.cursor, history: 0 } : state.cursor;
      return { ...state, pane, cursor, status: undefined };
    }
    case 'open':
      if (!count) return { ...state, status: { text: `nothing to open: the ${state.pane} pane is empty${model.empty[state.pane] ? `: ${model.empty[state.pane]}` : ''}`, tone: 'info' } };
      return { ...state, drilled: true, status: undefined };
    case 'back':
      // Esc first closes the row drilled into; then the workbench goes back to the screen before.
      return state.drilled ? { ...state, drilled: false, status: undefined } : undefined;
    case 'approve':
    case 'reject': {
      const target = decisionTarget(model, state, snapshot, ctx.actor, act === 'approve' ? 'approved' : 'rejected');
      if (typeof target === 'string') return { ...state, status: { text: target, tone: 'info' } };
      return { ...state, mode: 'reason', text: '', asking: target, status: undefined };
    }
    default:
      return undefined;
  }
}

/** Keys while the reason is typed: a line editor; Enter asks to confirm (a reason is required: the signed approval carries it), Esc cancels. */
function typedReason(state: RegistryUi, name: string, ctx: RegistryContext): RegistryUi {
  const a = ctx.keymap.lookup('reason', 'registry', name);
  if (a === 'back') return { ...state, mode: 'normal', asking: undefined, text: '', status: { text: 'cancelled: nothing was signed', tone: 'info' } };
  if (a === 'open') {
    if (!state.text.trim()) return { ...state, status: { text: 'a reason is required: it is part of what is signed (Esc cancels)', tone: 'error' } };
    return { ...state, mode: 'confirm', asking: state.asking && { ...state.asking, reason: state.text.trim() }, status: undefined };
  }
  if (a === 'erase-char') return { ...state, text: state.text.slice(0, -1) };
  if (a === 'erase-word') return { ...state, text: state.text.replace(/\S*\s*$/, '') };
  if (a === 'erase-line') return { ...state, text: '' };
  return name.length === 1 ? { ...state, text: state.text + name, status: undefined } : state;
}

function whyNone(load: RegistryLoad | undefined): string {
  if (!load) return 'the registry is being read';
  if ('absent' in load) return load.absent;
  if ('error' in load) return load.error;
  return '';
}

/** The prompt the footer shows while a decision is asked, fitted to `width`; undefined when nothing is asked. */
export function registryPrompt(ui: RegistryUi, actor: string, width: number, unicode: boolean): string | undefined {
  const a = ui.asking;
  if (!a || ui.mode === 'normal') return undefined;
  const what = `${a.model} ${a.version} as ${a.role}`;
  if (ui.mode === 'reason') return fitTyped(`reason for ${a.decision === 'approved' ? 'approving' : 'rejecting'} ${what} (required): `, `${ui.text}${unicode ? '▏' : '_'}`, '  (Enter)', width, unicode);
  // `y / n` always shows; the reason gives way first, then the question.
  // Who signs is named: the approval is signed with their key.
  const head = `${a.decision === 'approved' ? 'approve' : 'reject'} ${what} (${actor})`;
  const because = ` because "${a.reason}"`;
  const room = width - head.length - '? y / n'.length;
  if (because.length <= room) return `${head}${because}? y / n`;
  if (room >= 14) return `${head}${clip(because.slice(0, -1), room - 1, unicode)}"? y / n`;
  return `${clip(head, Math.max(1, width - '? y / n'.length), unicode)}? y / n`;
}

// ---------------------------------------------------------------- what each pane lists

/** One row of the approvals pane: a required role and how it stands, or (without a policy) one decision recorded. */
export interface ApprovalLine {
  role: string;
  state: 'approved' | 'rejected' | 'missing';
  identity?: string;
  reason?: string;
  at?: number;
  /** The person at the keyboard holds this role under the policy. */
  yours: boolean;
  required: boolean;
}

/** The rows of every pane for the version selected, and why a pane is empty. */
export interface RegistryModel {
  versionRows: { model: ModelSnapshot; version: VersionSnapshot }[];
  selected?: { model: ModelSnapshot; version: VersionSnapshot };
  /** The selected version's alias moves (to it or away from it), newest first. */
  history: AliasMove[];
  approvals: ApprovalLine[];
  checks: GovernanceCheckSnapshot[];
  series: CanarySeries[];
  counts: Record<Pane, number>;
  empty: Partial<Record<Pane, string>>;
}

/** The panes' rows for `ui`'s selection in `snapshot`. Pure. */
export function registryModel(snapshot: RegistrySnapshot, ui: Pick<RegistryUi, 'cursor'>, actor: string): RegistryModel {
  const versionRows = snapshot.models.flatMap((model) => model.versions.map((version) => ({ model, version })));
  const selected = versionRows[Math.min(ui.cursor.versions, versionRows.length - 1)];
  const m = selected?.model;
  const v = selected?.version.version;
  const history = m ? m.history.filter((h) => h.to === v || h.from === v).reverse() : [];
  const approvals = m ? approvalLines(m, snapshot, actor) : [];
  const checks = m?.promotion?.governance?.checks ?? [];
  const series = m?.promotion?.canary?.series ?? [];
  const empty: Partial<Record<Pane, string>> = {};
  if (!versionRows.length) empty.versions = `no model is registered in ${snapshot.where} yet`;
  if (selected && !history.length) empty.history = `no alias has pointed at ${m!.name} ${v} yet`;
  if (m && !m.pending) empty.approvals = m.aliases.candidate ? `the candidate ${m.aliases.candidate} is production already: nothing waits for approval` : `${m.name} has no candidate: nothing waits for approval`;
  else if (m?.pending && !approvals.length) empty.approvals = `no approval of ${m.name} ${m.pending.version} recorded yet, and no policy loaded to say which roles it needs`;
  if (m && !m.promotion) empty.governance = empty.canary = `no promotion of ${m.name} attempted yet`;
  else if (m?.promotion) {
    if (!checks.length) empty.governance = `the latest attempt (${m.promotion.version}, ${m.promotion.status}) recorded no governance checks`;
    if (!series.length) empty.canary = `the latest attempt (${m.promotion.version}, ${m.promotion.status}) recorded no canary analysis`;
  }
  const counts: Record<Pane, number> = { versions: versionRows.length, history: history.length, approvals: approvals.length, governance: checks.length, canary: series.length };
  return { versionRows, selected, history, approvals, checks, series, counts, empty };
}

function approvalLines(m: ModelSnapshot, snapshot: RegistrySnapshot, actor: string): ApprovalLine[] {
  const p = m.pending;
  if (!p) return [];
  const yours = (role: string) => Boolean((snapshot.policy?.roles as Record<string, string[] | undefined> | undefined)?.[role]?.includes(actor));
  const s = p.status;
  if (!s) return p.decisions.map((d) => ({ role: d.role, state: d.decision, identity: d.identity, reason: d.reason, at: d.at, yours: yours(d.role), required: false }));
  const lines: ApprovalLine[] = s.required.map((role) => {
    const rej = s.rejectedBy.find((r) => r.role === role);
    if (rej) return { role, state: 'rejected', identity: rej.identity, reason: rej.reason, at: rej.at, yours: yours(role), required: true };
    const ok = s.approvedBy.find((r) => r.role === role);
    const reason = ok ? p.decisions.find((d) => d.role === role && d.identity === ok.identity && d.at === ok.at)?.reason : undefined;
    return ok ? { role, state: 'approved', identity: ok.identity, reason, at: ok.at, yours: yours(role), required: true } : { role, state: 'missing', yours: yours(role), required: true };
  });
  // A rejection under a role the stage does not require still blocks (approvals.ts): it is listed too.
  for (const r of s.rejectedBy) if (!s.required.includes(r.role)) lines.push({ role: r.role, state: 'rejected', identity: r.identity, reason: r.reason, at: r.at, yours: yours(r.role), required: false });
  return lines;
}

/**
 * What `a` / `x` would decide on: the candidate headed to production, as the role selected in
 * the approvals pane, or (from another pane) the first required role the person holds that is
 * still missing, else the first they hold; a sentence saying why not otherwise.
 */
function decisionTarget(model: RegistryModel, ui: RegistryUi, snapshot: RegistrySnapshot, actor: string, decision: RegistryDecision['decision']): RegistryDecision | string {
  const m = model.selected?.model;
  if (!m) return `nothing to ${decision === 'approved' ? 'approve' : 'reject'}: ${model.empty.versions ?? 'no version selected'}`;
  const p = m.pending;
  if (!p) return model.empty.approvals!;
  const lines = model.approvals;
  let role: string | undefined;
  if (ui.pane === 'approvals' && lines.length) role = lines[Math.min(ui.cursor.approvals, lines.length - 1)].role;
  else role = (lines.find((l) => l.yours && l.required && l.state === 'missing') ?? lines.find((l) => l.yours))?.role;
  if (!role) {
    const held = Object.entries(snapshot.policy?.roles ?? {}).filter(([, ids]) => ids?.includes(actor)).map(([r]) => r);
    if (held.length) role = held[0];
    else return snapshot.policy ? `${actor} holds no role in ${snapshot.policy.file}: select a role in the approvals pane (Tab) to try anyway` : 'no registry policy is loaded, so the roles are unknown: select a role in the approvals pane (Tab)';
  }
  return { model: m.name, version: p.version, role, decision, reason: '' };
}

// ---------------------------------------------------------------- the store and the hook the workbench uses

/** A tiny external store around reduceRegistryUi: a burst of keys is reduced one after another before React renders. */
export function createRegistryUiStore(initial: RegistryUi = initialRegistryUi) {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    getSnapshot: () => state,
    subscribe(l: () => void) {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    /** Reduces `action`; returns whether it was taken, and the decisions it asked for. */
    dispatch(action: RegistryAction): { taken: boolean; decisions: readonly RegistryDecision[] } {
      const next = reduceRegistryUi(state, action);
      if (next === undefined) return { taken: false, decisions: [] };
      const decisions = next.outbox;
      state = decisions.length ? { ...next, outbox: [] } : next;
      for (const l of listeners) l();
      return { taken: true, decisions };
    },
  };
}

/** What the registry screen gets from the workbench besides a screen's props. */
export interface RegistryProps {
  /** The last read; undefined before the first (or when the workbench was started without a registry: `source` false). */
  load?: RegistryLoad;
  source: boolean;
  ui: RegistryUi;
  actor: string;
}

/** How often the shown registry is read again: about once a second (issue 20 item 10). */
export const REGISTRY_POLL_MS = 1000;

/**
 * The registry screen's state for the workbench: its reads (now and every REGISTRY_POLL_MS while
 * `shown`), its key handler (`onKey` says whether it took the key), the decisions carried out
 * through `source.onApprove`, and the footer's prompt while a decision is asked.
 */
export function useRegistryScreen(opts: { source?: RegistrySource; shown: boolean; actor: string; keymap: Pick<Keymap, 'lookup'> }) {
  const { source, shown, actor, keymap } = opts;
  const [store] = useState(() => createRegistryUiStore());
  const ui = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const [load, setLoad] = useState<RegistryLoad | undefined>(source ? undefined : { absent: 'this workbench was started without a registry (paddock ui opens <home>/registry.db)' });
  const [reads, setReads] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const last = useRef('');
  useEffect(() => {
    if (!shown || !source) return;
    let alive = true;
    let reading = false;
    const read = () => {
      // A slow read (a remote PostgreSQL) is not stacked up behind itself.
      if (reading) return;
      reading = true;
      source
        .load()
        .catch((err: unknown): RegistryLoad => ({ error: (err as Error).message }))
        .then((r) => {
          // A poll that finds nothing new does not render again (the snapshot's read time aside).
          const key = JSON.stringify('snapshot' in r ? { ...r, snapshot: { ...r.snapshot, at: 0 } } : r);
          if (alive && key !== last.current) {
            last.current = key;
            loadRef.current = r;
            setLoad(r);
          }
        })
        .finally(() => (reading = false));
    };
    read();
    const t = setInterval(read, REGISTRY_POLL_MS);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [shown, source, reads]);
  const decide = (d: RegistryDecision) => {
    if (!source) return;
    source.onApprove(d).then(
      (text) => store.dispatch({ type: 'decided', ok: true, text }),
      (err: unknown) => store.dispatch({ type: 'decided', ok: false, text: (err as Error).message }),
    ).finally(() => setReads((n) => n + 1));
  };
  /** Offers a key to the registry (only while it is shown and the workbench is not asking something itself); true when taken. */
  const onKey = (name: string, workbench: { screen: string; mode: string; gateWaiting?: boolean }): boolean => {
    if (workbench.screen !== 'registry' || workbench.mode !== 'normal') return false;
    const r = store.dispatch({ type: 'key', name, ctx: { keymap, load: loadRef.current, actor, gateWaiting: workbench.gateWaiting } });
    for (const d of r.decisions) decide(d);
    return r.taken;
  };
  const props: RegistryProps = useMemo(() => ({ load, source: Boolean(source), ui, actor }), [load, source, ui, actor]);
  return { props, onKey, prompt: (width: number, unicode: boolean) => registryPrompt(ui, actor, width, unicode), asking: ui.mode !== 'normal' ? ui.mode : undefined };
}

// ---------------------------------------------------------------- the canary chart

/**
 * A canary metric over the analysis intervals, as `height` rows of `width` columns: a legend,
 * the chart (y labelled on every row; the canary solid, production dotted, the SLO bound as a
 * horizontal dashed line, the decision's interval as a vertical dotted line), and a row with each
 * step's traffic weight under its first interval and the decision under its own. Columns hold the
 * intervals stretched to the width (the worst value where several share a column); an interval
 * without data leaves a gap.
 *   plotCanary(series, decision, { width: 40, height: 6, glyphs }) ->
 *   ['latency.p95_ms ─ canary · production ╌ max 12', '14.8┤              ╭─┆', ...,
 *    '     1%    5%      25%    ▲ rollback 23m']
 */
export function plotCanary(series: CanarySeries, decision: CanarySnapshot['decision'] | undefined, opts: { width: number; height: number; glyphs: Glyphs; unicode: boolean; color?: boolean }): string[] {
  const { width, height, glyphs, unicode } = opts;
  const fit = (s: string) => (visibleLength(s) > width ? clip(s, width, unicode) : s + ' '.repeat(width - visibleLength(s)));
  const slo = unicode ? '╌' : '=';
  const mark = unicode ? '┆' : ':';
  const paint = (s: string, c: string) => (opts.color ? `${c}${s}\x1b[39m` : s);
  const b = series.bound;
  const bounds = [b.max !== undefined ? `max ${fmtValue(b.max)}` : '', b.min !== undefined ? `min ${fmtValue(b.min)}` : ''].filter(Boolean).join(', ');
  const legend = fit(`${series.name} ${glyphs.chart[4]} canary ${glyphs.dot} production${bounds ? ` ${slo} ${bounds}` : ''}`);
  const rows = height - 2;
  const pts = series.points;
  const values = pts.flatMap((p) => [p.value, p.baseline]).filter((x): x is number => x !== null);
  if (rows < 2 || !values.length) return [legend, ...Array.from({ length: Math.max(0, height - 1) }, (_, i) => fit(i === 0 && rows >= 1 ? 'no measurements in the timeline' : ''))].slice(0, height);
  let min = Math.min(...values, ...[b.min, b.max].filter((x): x is number => x !== undefined));
  let max = Math.max(...values, ...[b.min, b.max].filter((x): x is number => x !== undefined));
  if (!(max - min > Math.abs(max) * 1e-6)) {
    const d = Math.max(1e-6, Math.abs(max) * 0.05);
    min -= d;
    max += d;
  }
  const rowOf = (v: number) => Math.round(((max - v) / (max - min)) * (rows - 1));
  const labels = Array.from({ length: rows }, (_, r) => fmtValue(max - (r / (rows - 1)) * (max - min)));
  // The SLO's row is labelled with the bound itself, so that the line reads "12┤╌╌╌".
  for (const bound of [b.max, b.min]) if (bound !== undefined) labels[rowOf(bound)] = fmtValue(bound);
  const lw = Math.max(...labels.map((l) => l.length));
  const dw = Math.max(2, width - lw - 1);
  // Column c shows the intervals [floor(c n / dw), ceil((c + 1) n / dw)): one interval stretched
  // over several columns, or the worst of several (the highest under a max bound) in one.
  const n = pts.length;
  const worse = (a: number | null, x: number | null) => (a === null ? x : x === null ? a : b.max === undefined && b.min !== undefined ? Math.min(a, x) : Math.max(a, x));
  const colOf = (i: number) => Math.min(dw - 1, Math.ceil((i * dw) / n));
  const column = (pick: (p: (typeof pts)[number]) => number | null) =>
    Array.from({ length: dw }, (_, c) => {
      const i0 = Math.floor((c * n) / dw);
      const i1 = Math.max(i0, Math.ceil(((c + 1) * n) / dw) - 1);
      let v: number | null = null;
      for (let i = i0; i <= Math.min(i1, n - 1); i++) v = worse(v, pick(pts[i]));
      return v;
    });
  const canary = column((p) => p.value);
  const base = column((p) => p.baseline);
  const grid: string[][] = Array.from({ length: rows }, () => Array.from({ length: dw }, () => ' '));
  const fill: boolean[][] = Array.from({ length: rows }, () => Array.from({ length: dw }, () => false));
  const put = (r: number, c: number, s: string) => {
    if (r < 0 || r >= rows || c < 0 || c >= dw) return;
    grid[r][c] = s;
    fill[r][c] = true;
  };
  // The canary line, as asciichart draws one (a corner where it moves, a bar between), broken at gaps.
  const [, , , , line, downEnd, upEnd, downStart, upStart, bar] = glyphs.chart;
  for (let c = 0; c < dw; c++) {
    const v = canary[c];
    if (v === null) continue;
    const n = c + 1 < dw ? canary[c + 1] : null;
    const y0 = rowOf(v);
    if (n === null || rowOf(n) === y0) {
      put(y0, c, paint(line, '\x1b[36m'));
      continue;
    }
    const y1 = rowOf(n);
    // Rows count down from the top: y1 < y0 is a rise.
    put(y0, c, paint(y1 < y0 ? upStart : downStart, '\x1b[36m'));
    put(y1, c, paint(y1 < y0 ? upEnd : downEnd, '\x1b[36m'));
    for (let r = Math.min(y0, y1) + 1; r < Math.max(y0, y1); r++) put(r, c, paint(bar, '\x1b[36m'));
  }
  for (let c = 0; c < dw; c++) if (base[c] !== null && !fill[rowOf(base[c]!)][c]) put(rowOf(base[c]!), c, paint(glyphs.dot, '\x1b[35m'));
  for (const bound of [b.max, b.min]) {
    if (bound === undefined) continue;
    const r = rowOf(bound);
    for (let c = 0; c < dw; c++) if (!fill[r][c]) put(r, c, paint(slo, '\x1b[31m'));
  }
  // The decision's interval: the one that ends at the decision's time (the last one when it is past the timeline).
  let decided = -1;
  if (decision) {
    const i = pts.findIndex((p) => p.t_s >= decision.at_s);
    decided = colOf(i === -1 ? pts.length - 1 : i);
    for (let r = 0; r < rows; r++) if (!fill[r][decided]) put(r, decided, paint(mark, '\x1b[33m'));
  }
  const chart = grid.map((cells, r) => fit(`${labels[r].padStart(lw)}${r === rows - 1 ? glyphs.chart[0] : glyphs.chart[1]}${cells.join('')}`));
  // The steps row: the decision first (it must show), then each step's weight where it fits.
  const foot = Array.from({ length: width }, () => ' ');
  const taken = new Uint8Array(width);
  const place = (col: number, text: string, force = false) => {
    const start = Math.max(0, Math.min(width - text.length, col));
    for (let i = Math.max(0, start - 1); i < Math.min(width, start + text.length + 1); i++) if (taken[i] && !force) return;
    for (let i = 0; i < text.length && start + i < width; i++) {
      foot[start + i] = text[i];
      taken[start + i] = 1;
    }
  };
  if (decision) {
    const text = `${unicode ? '▲' : '^'} ${decision.action} ${decision.at}`;
    const col = lw + 1 + decided;
    // The marker sits under the decision's column; its words go left of it when there is no room to the right.
    place(col + text.length <= width ? col : col - text.length + 1, col + text.length <= width ? text : `${decision.action} ${decision.at} ${unicode ? '▲' : '^'}`, true);
  }
  let lastStep = -1;
  pts.forEach((p, i) => {
    if (p.step === lastStep) return;
    lastStep = p.step;
    place(lw + 1 + colOf(i), `${fmtValue(p.weight)}%`);
  });
  return [legend, ...chart, foot.join('')];
}

/** A measured value in a few characters: 14.8, 0.012, 1200. */
export function fmtValue(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return String(Math.round(v));
  if (a >= 10) return String(Math.round(v * 10) / 10);
  if (a >= 1) return String(Math.round(v * 100) / 100);
  return String(Number(v.toPrecision(2)));
}

// ---------------------------------------------------------------- the screen

type Line = { text: string; color?: string; bold?: boolean; selected?: boolean };

const ALIAS_SHORT: Record<string, string> = { staging: 'stg', candidate: 'cand', production: 'prod', rollback: 'rb' };

function symbolOf(state: string, unicode: boolean): string {
  const u: Record<string, string> = { pass: '✔', approved: '✔', fail: '✘', rejected: '✘', waived: '~', skipped: '·', missing: '○' };
  const a: Record<string, string> = { pass: '+', approved: '+', fail: 'x', rejected: 'x', waived: '~', skipped: '-', missing: 'o' };
  return (unicode ? u : a)[state] ?? ' ';
}

function colorOf(state: string): string | undefined {
  return ({ pass: 'green', approved: 'green', fail: 'red', rejected: 'red', waived: 'yellow', missing: 'yellow', skipped: 'gray' } as Record<string, string>)[state];
}

/** "05-01 10:02": a short time for the panes (stamp() without the year). */
function short(ms: number): string {
  return stamp(ms).slice(5);
}

const arrow = (unicode: boolean) => (unicode ? '→' : '->');

function versionLine(v: VersionSnapshot, width: number, unicode: boolean): string {
  const names = v.aliases.map((a) => (width >= 56 ? a : ALIAS_SHORT[a]));
  const h = v.headline[0];
  return fitParts(
    [{ text: v.version.padEnd(8) }, { text: names.length ? `[${names.join(' ')}]` : '' }, { text: h ? `${h.name} ${fmtValue(h.value)}` : '', drop: 2 }, { text: `${v.created_by} ${short(v.created_at)}`, drop: 1 }],
    width,
    ' ',
    unicode,
  );
}

function moveLine(h: AliasMove, unicode: boolean): string {
  return `${short(h.at)} ${h.alias} ${h.from ?? '-'}${arrow(unicode)}${h.to ?? '-'} ${h.actor}: ${h.reason}`;
}

function approvalText(l: ApprovalLine, unicode: boolean): string {
  const who = l.state === 'missing' ? `missing${l.yours ? ' (yours: a approves)' : ''}` : `${l.identity}${l.reason ? `: ${l.reason}` : ''}`;
  return `${l.role.padEnd(9)} ${symbolOf(l.state, unicode)} ${who}${l.required ? '' : ' (not required)'}`;
}

/** The detail line under the panes: the selected row of the pane in front, in a line. */
function detailOf(model: RegistryModel, ui: RegistryUi, canary: CanarySnapshot | undefined, unicode: boolean): string {
  const at = (n: number) => Math.min(ui.cursor[ui.pane], Math.max(0, n - 1));
  switch (ui.pane) {
    case 'versions': {
      const s = model.selected;
      return s ? `${s.model.name} ${s.version.version}  digest ${s.version.digest_short}  pack ${s.version.manifest_short}  ${s.version.headline.map((h) => `${h.name} ${fmtValue(h.value)}`).join('  ')}` : (model.empty.versions ?? '');
    }
    case 'history': {
      const h = model.history[at(model.history.length)];
      return h ? `#${h.seq} ${h.action} by ${h.actor} ${stamp(h.at)}: ${h.reason}` : (model.empty.history ?? '');
    }
    case 'approvals': {
      const l = model.approvals[at(model.approvals.length)];
      if (!l) return model.empty.approvals ?? '';
      return l.state === 'missing' ? `${l.role}: no counted approval yet${l.yours ? '; you hold it (a approve, x reject)' : ''}` : `${l.role} ${l.state} by ${l.identity} ${l.at ? stamp(l.at) : ''}: ${l.reason ?? ''}`;
    }
    case 'governance': {
      const c = model.checks[at(model.checks.length)];
      return c ? `${c.id} ${c.status.toUpperCase()}: ${c.detail}` : (model.empty.governance ?? '');
    }
    case 'canary': {
      const s = model.series[at(model.series.length)];
      return s && canary ? `${canary.decision.action} at step ${canary.decision.step} (${fmtValue(canary.decision.weight)}%), ${canary.decision.at}: ${canary.decision.reason}` : (model.empty.canary ?? '');
    }
  }
}

/** The selected row of the pane in front, whole (Enter). */
function drilledLines(snapshot: RegistrySnapshot, model: RegistryModel, ui: RegistryUi, unicode: boolean): { title: string; lines: string[] } {
  const at = (n: number) => Math.min(ui.cursor[ui.pane], Math.max(0, n - 1));
  const m = model.selected?.model;
  switch (ui.pane) {
    case 'versions': {
      const s = model.selected!;
      const v = s.version;
      return {
        title: `${s.model.name} ${v.version}`,
        lines: [
          `registered ${stamp(v.created_at)} by ${v.created_by}${v.corrects ? `, correcting ${v.corrects}` : ''}`,
          `aliases: ${v.aliases.length ? v.aliases.join(', ') : 'none'}`,
          `entry digest ${v.digest}`,
          `pack manifest ${v.manifest_short}...`,
          `headline: ${v.headline.map((h) => `${h.name} ${h.value}`).join(', ') || 'none'}`,
          `alias history of ${v.version}, newest first:`,
          ...(model.history.length ? model.history.map((h) => `  ${moveLine(h, unicode)}`) : [`  ${model.empty.history}`]),
        ],
      };
    }
    case 'history': {
      const h = model.history[at(model.history.length)];
      return { title: `${m!.name} ${h.alias} move #${h.seq}`, lines: [`${h.alias}: ${h.from ?? 'unset'} ${arrow(unicode)} ${h.to ?? 'unset'} (${h.action})`, `by ${h.actor} at ${stamp(h.at)}`, `why: ${h.reason}`, ...(h.promotion_id ? [`promotion ${h.promotion_id}`] : [])] };
    }
    case 'approvals': {
      const l = model.approvals[at(model.approvals.length)];
      const p = m!.pending!;
      const holders = (snapshot.policy?.roles as Record<string, string[] | undefined> | undefined)?.[l.role];
      return {
        title: `${m!.name} ${p.version} ${arrow(unicode)} production: ${l.role}`,
        lines: [
          `${l.role}: ${l.state}${l.identity ? ` by ${l.identity}` : ''}${l.at ? ` at ${stamp(l.at)}` : ''}${l.reason ? `: ${l.reason}` : ''}`,
          `held by: ${holders?.join(', ') ?? (snapshot.policy ? 'no one' : 'unknown (no policy loaded)')}`,
          `entry digest ${p.digest}`,
          'decisions recorded for this role:',
          ...p.decisions.filter((d) => d.role === l.role).map((d) => `  ${stamp(d.at)} ${d.decision} by ${d.identity} (${d.scheme}): ${d.reason}`),
          ...(p.status ? [`required: ${p.status.required.join(', ') || 'none'}; missing: ${p.status.missing.join(', ') || 'none'}${p.status.satisfied ? '; satisfied' : ''}`, ...p.status.problems.map((x) => `not counted: ${x}`)] : []),
        ],
      };
    }
    case 'governance': {
      const c = model.checks[at(model.checks.length)];
      const pr = m!.promotion!;
      return { title: `${m!.name} ${pr.version} governance: ${c.id}`, lines: [`${c.id}: ${c.status.toUpperCase()}`, c.detail, `attempt ${pr.id}: ${pr.status} by ${pr.actor} at ${stamp(pr.at)}${pr.reason ? `: ${pr.reason}` : ''}`, ...pr.unreadable.map((u) => `unreadable: ${u}`)] };
    }
    case 'canary': {
      const c = m!.promotion!.canary!;
      const s = model.series[at(model.series.length)];
      return {
        title: `${m!.name} ${m!.promotion!.version} canary (${c.semantics}): ${s.name}`,
        lines: [
          `decision: ${c.decision.action} at step ${c.decision.step} (${fmtValue(c.decision.weight)}%), ${c.decision.at}`,
          c.decision.reason,
          `bound: ${Object.entries(s.bound).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
          ...c.steps.map((st) => `step ${st.index} (${fmtValue(st.weight)}%): ${st.decision}: ${st.reason}`),
        ],
      };
    }
  }
}

/** A pane: its title (in brackets while in front) and exactly `height - 1` rows, windowed around its cursor. */
function PaneBox({ title, focused, lines, cursor, width, height, theme, note }: { title: string; focused: boolean; lines: readonly Line[]; cursor: number; width: number; height: number; theme: Theme; note?: string }) {
  const rows = Math.max(0, height - 1);
  const selIndex = lines.findIndex((l) => l.selected);
  const start = windowStart(selIndex >= 0 ? selIndex : cursor, lines.length, rows);
  const shown = lines.slice(start, start + rows);
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate" bold color={theme.accent} inverse={focused && !theme.color}>
        {clip(focused ? `[${title}]` : ` ${title}`, width, theme.unicode)}
      </Text>
      {shown.length === 0 && rows > 0 ? (
        <Text wrap="truncate" dimColor={theme.dim}>
          {clip(`  ${note ?? ''}`, width, theme.unicode)}
        </Text>
      ) : null}
      {shown.map((l, i) => (
        <Text key={i} wrap="truncate" bold={l.bold} inverse={Boolean(l.selected && focused)} color={theme.color ? l.color : undefined}>
          {clip(`${l.selected ? '>' : ' '} ${l.text}`, width, theme.unicode)}
        </Text>
      ))}
      {pad(rows - Math.max(shown.length, rows > 0 && shown.length === 0 ? 1 : 0), `p${title}`)}
    </Box>
  );
}

/** The registry screen: the panes at 80x24 and up, or the row drilled into, and the screen's status line. */
export function RegistryScreen({ width, height, theme, registry }: ScreenProps<unknown>) {
  const load = registry?.load;
  const ui = registry?.ui ?? initialRegistryUi;
  const actor = registry?.actor ?? '';
  const snapshot = load && 'snapshot' in load ? load.snapshot : undefined;
  const model = useMemo(() => (snapshot ? registryModel(snapshot, ui, actor) : undefined), [snapshot, ui.cursor, actor]);
  const u = theme.unicode;
  // The status line: up to three rows for a refusal (its message is the reason), two for what was recorded, one otherwise.
  const statusText = ui.status?.text ?? (load && 'note' in load && load.note ? load.note : '');
  const statusRows = ui.status?.tone === 'error' ? 3 : ui.status?.tone === 'ok' ? 2 : 1;
  const statusLines = statusText ? wrapLines(statusText.split('\n'), width, '  ').slice(0, statusRows) : [''];
  const statusColor = ui.status?.tone === 'error' ? 'red' : ui.status?.tone === 'ok' ? 'green' : ui.status?.tone === 'busy' ? 'yellow' : undefined;
  const status = statusLines.map((l, i) => (
    <Text key={`s${i}`} wrap="truncate" color={theme.color ? statusColor : undefined} bold={ui.status?.tone === 'error'} dimColor={!ui.status && theme.dim}>
      {clip(l, width, u)}
    </Text>
  ));
  const body = height - statusLines.length;
  if (!snapshot || !model) {
    const why = !registry?.source && !load ? 'this workbench was started without a registry' : load ? ('absent' in load ? load.absent : 'error' in load ? `cannot read the registry: ${load.error}` : '') : 'reading the registry...';
    const lines = wrapLines([load && 'absent' in load ? 'no registry yet' : 'REGISTRY', why], width, '  ').slice(0, Math.max(0, body));
    return (
      <Box flexDirection="column" height={height}>
        {lines.map((l, i) => (
          <Text key={i} wrap="truncate" bold={i === 0}>
            {clip(l, width, u)}
          </Text>
        ))}
        {pad(body - lines.length, 'rn')}
        {status}
      </Box>
    );
  }
  const m = model.selected?.model;
  const canary = m?.promotion?.canary;

  if (ui.drilled && model.counts[ui.pane] > 0) {
    const d = drilledLines(snapshot, model, ui, u);
    const wrapped = wrapLines(d.lines, width, '    ');
    const room = Math.max(0, body - 1);
    const lines = wrapped.length > room ? [...wrapped.slice(0, Math.max(0, room - 1)), `... ${wrapped.length - room + 1} more lines: a taller terminal shows them`] : wrapped;
    return (
      <Box flexDirection="column" height={height}>
        <Text wrap="truncate" bold color={theme.accent}>
          {clip(`[${d.title}]  (Esc back, j/k the next one)`, width, u)}
        </Text>
        {lines.map((l, i) => (
          <Text key={i} wrap="truncate">
            {clip(l, width, u)}
          </Text>
        ))}
        {pad(room - lines.length, 'rd')}
        {status}
      </Box>
    );
  }

  // Rows: the top panes, the middle panes, the canary chart, one detail line, the status line.
  const avail = Math.max(6, body - 1);
  const canaryRows = Math.max(4, Math.min(16, Math.floor(avail * 0.4)));
  const rest = avail - canaryRows;
  const midRows = Math.max(2, Math.min(Math.floor(rest * 0.45), 10));
  const topRows = rest - midRows;
  const lw = Math.floor((width - 1) / 2);
  const rw = width - lw - 1;
  const cur = (pane: Pane, n: number) => Math.min(ui.cursor[pane], Math.max(0, n - 1));

  // Versions, grouped under their model's name.
  const vlines: Line[] = [];
  let lastModel = '';
  const selV = cur('versions', model.versionRows.length);
  model.versionRows.forEach((r, i) => {
    if (r.model.name !== lastModel) {
      lastModel = r.model.name;
      vlines.push({ text: `${r.model.name}${r.model.aliases.production ? `  production ${r.model.aliases.production}` : ''}`, bold: true });
    }
    vlines.push({ text: versionLine(r.version, lw - 2, u), selected: i === selV, color: r.version.aliases.includes('production') ? 'green' : r.version.aliases.includes('candidate') ? 'cyan' : undefined });
  });
  const hlines: Line[] = model.history.map((h, i) => ({ text: moveLine(h, u), selected: ui.pane === 'history' && i === cur('history', model.history.length) }));
  const alines: Line[] = model.approvals.map((l, i) => ({ text: approvalText(l, u), selected: ui.pane === 'approvals' && i === cur('approvals', model.approvals.length), color: colorOf(l.state) }));
  const pending = m?.pending;
  const st = pending?.status;
  const approvalsTitle = pending ? `APPROVALS ${pending.version} ${arrow(u)} production${st ? `: ${st.satisfied ? 'complete' : st.rejectedBy.length ? 'REJECTED' : `${st.approvedBy.length}/${st.required.length}`}` : ' (no policy)'}` : 'APPROVALS';
  const pr = m?.promotion;
  const gov = pr?.governance;
  const govTitle = pr ? `GOVERNANCE ${pr.version} ${pr.status}${gov ? `: ${gov.ok ? 'ok' : 'FAILED'}` : ''}` : 'GOVERNANCE';

  // Governance checks in as many columns as the rows need.
  const gRows = Math.max(1, midRows - 1);
  const gCols = Math.max(1, Math.ceil(model.checks.length / gRows));
  const cellW = Math.floor(rw / gCols);
  const selG = cur('governance', model.checks.length);
  // Each row's cells, colored by status (the symbol says it without color too).
  const glines: { text: string; color?: string }[][] = [];
  for (let r = 0; r < Math.min(gRows, model.checks.length); r++) {
    const cells: { text: string; color?: string }[] = [];
    let used = 0;
    for (let c = 0; c < gCols; c++) {
      const k = c * gRows + r;
      const chk = model.checks[k];
      if (!chk) continue;
      const cell = `${ui.pane === 'governance' && k === selG ? '>' : ' '}${symbolOf(chk.status, u)} ${chk.id}`;
      const text = c < gCols - 1 ? clip(cell, cellW - 1, u).padEnd(cellW) : clip(cell, Math.max(0, rw - used), u);
      used += text.length;
      cells.push({ text, color: colorOf(chk.status) });
    }
    glines.push(cells);
  }

  const selS = cur('canary', model.series.length);
  const series = model.series[selS];
  const chart = series ? plotCanary(series, canary?.decision, { width, height: canaryRows - 1, glyphs: theme.glyphs, unicode: u, color: theme.color }) : [];
  const canaryTitle = canary ? `CANARY ${pr!.version} ${canary.semantics}: ${canary.decision.action.toUpperCase()} at step ${canary.decision.step} (${fmtValue(canary.decision.weight)}%), ${canary.decision.at}${model.series.length > 1 ? `  metric ${selS + 1}/${model.series.length}${ui.pane === 'canary' ? ' (j/k)' : ''}` : ''}` : 'CANARY';
  const detail = detailOf(model, ui, canary, u);

  return (
    <Box flexDirection="column" height={height}>
      <Box flexDirection="row" height={topRows}>
        <PaneBox title={`VERSIONS (${model.versionRows.length})`} focused={ui.pane === 'versions'} lines={vlines} cursor={0} width={lw} height={topRows} theme={theme} note={model.empty.versions} />
        <Text> </Text>
        <PaneBox title={approvalsTitle} focused={ui.pane === 'approvals'} lines={alines} cursor={cur('approvals', alines.length)} width={rw} height={topRows} theme={theme} note={model.empty.approvals} />
      </Box>
      <Box flexDirection="row" height={midRows}>
        <PaneBox title={`HISTORY ${model.selected?.version.version ?? ''}`} focused={ui.pane === 'history'} lines={hlines} cursor={cur('history', hlines.length)} width={lw} height={midRows} theme={theme} note={model.empty.history} />
        <Text> </Text>
        <Box flexDirection="column" width={rw}>
          <Text wrap="truncate" bold color={theme.accent} inverse={ui.pane === 'governance' && !theme.color}>
            {clip(ui.pane === 'governance' ? `[${govTitle}]` : ` ${govTitle}`, rw, u)}
          </Text>
          {glines.length ? (
            glines.map((cells, i) => (
              <Text key={i} wrap="truncate">
                {cells.map((c, j) => (
                  <Text key={j} color={theme.color ? c.color : undefined}>
                    {c.text}
                  </Text>
                ))}
              </Text>
            ))
          ) : (
            <Text wrap="truncate" dimColor={theme.dim}>
              {clip(`  ${model.empty.governance ?? ''}`, rw, u)}
            </Text>
          )}
          {pad(midRows - 1 - Math.max(1, glines.length), 'gv')}
        </Box>
      </Box>
      <Box flexDirection="column" height={canaryRows}>
        <Text wrap="truncate" bold color={theme.accent} inverse={ui.pane === 'canary' && !theme.color}>
          {clip(ui.pane === 'canary' ? `[${canaryTitle}]` : ` ${canaryTitle}`, width, u)}
        </Text>
        {chart.length ? (
          chart.map((l, i) => (
            <Text key={i} wrap="truncate">
              {l}
            </Text>
          ))
        ) : (
          <Text wrap="truncate" dimColor={theme.dim}>
            {clip(`  ${model.empty.canary ?? ''}`, width, u)}
          </Text>
        )}
        {pad(canaryRows - 1 - Math.max(1, chart.length), 'cn')}
      </Box>
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(detail, width, u)}
      </Text>
      {status}
    </Box>
  );
}
