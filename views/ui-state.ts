/**
 * The workbench's UI state as a pure reducer: which screen, where each list's cursor is, what is
 * typed, what is being asked. Keys go in as names ("j", "return", "ctrl+c") with the context the
 * shell read from the stores; the binding table (keymap.ts) turns each into an action. What must
 * happen outside (answer a gate, record a review, stop the run, quit) comes out as commands in
 * `outbox`, which the store hands to the shell after each dispatch. No React, no I/O.
 */
import type { LiveState } from '../src/live/live-state.js';
import { TEXT_MODES, type Action, type InputMode, type Keymap, type ScreenBinding } from './keymap.js';

/** Where Enter on a row leads: a screen, showing another run or with a filter set (its cursor back at the top). */
export interface Jump {
  to: string;
  runId?: string;
  filter?: string;
}

/** What the reducer reads of a screen's line in the screen table. */
export interface ScreenFacts {
  id: string;
  /** A screen that takes the shared `filter` binding takes words after its `:` command as its filter. */
  bindings: readonly ScreenBinding[];
  rows?: {
    /** The orders `o` steps through, the default first; without them `o` reverses. */
    sorts?: readonly string[];
    /** What Enter does on the row with this id. */
    open?(id: string): Jump;
  };
}

/** What the shell knows at a key press and the reducer reads: the binding table, the screens, the rows shown. */
export interface UiContext {
  keymap: Keymap;
  screens: readonly ScreenFacts[];
  /** The ids of each screen's rows, in the order shown: moves stop at the ends, Enter opens the selected one. */
  rows: Readonly<Record<string, readonly string[]>>;
  /** The run shown is the one in progress (its gates can be answered). */
  live: boolean;
  /** ...and its steps are running: q asks first, Ctrl+C stops them first. */
  active: boolean;
  /** Gates waiting for a person, in the order they asked. */
  pendingGates: readonly string[];
  /** What the screens show now: `f` keeps it. */
  view?: LiveState;
  /** Who answers gates and reviews failures. */
  actor: string;
}

/** What the shell does for the reducer. */
export type UiCommand =
  | { type: 'gate.answer'; gate: string; decision: 'approved' | 'rejected'; reason?: string }
  | { type: 'failure.review'; runId: string; failureId: string; action: 'reviewed' | 'note'; note?: string }
  /** Looks a run up by id or prefix and dispatches `run.found` or `run.missing`. */
  | { type: 'run.find'; query: string }
  | { type: 'run.cancel' }
  | { type: 'run.force-quit' }
  | { type: 'quit' };

export type UiAction =
  | { type: 'key'; name: string; ctx: UiContext }
  | { type: 'run.found'; runId: string }
  | { type: 'run.missing'; query: string }
  /** The clock the elapsed times are measured with (every second while a run is active). */
  | { type: 'tick'; now: number };

/** A question in progress: the reason for answering a gate, or a note on a failure. */
export interface Asking {
  what: 'approve' | 'reject' | 'note';
  gate?: string;
  failure?: string;
  reason: string;
}

export interface UiState {
  screen: string;
  /** Screens to go back to with Esc, the last one last. */
  history: readonly string[];
  runId?: string;
  /** Per screen, the selected row (clamped to the rows shown when read: cursorOf). */
  cursor: Readonly<Record<string, number>>;
  filter: Readonly<Record<string, string>>;
  reversed: Readonly<Record<string, boolean>>;
  /** Per screen with sort orders, the one chosen (the first when absent). */
  sort: Readonly<Record<string, string>>;
  /** The live state kept by `f`; the screens show it instead of the live one. */
  frozen?: LiveState;
  /** Which latency target is in front (Tab). */
  target: number;
  /** Per screen, whether its pane in front has the whole body (`e`). */
  expanded: Readonly<Record<string, boolean>>;
  message?: string;
  mode: InputMode;
  /** The line being typed: a command, a filter, a reason, a note, the help's filter. */
  text: string;
  helpCursor: number;
  asking?: Asking;
  /** Ctrl+C presses (and quits confirmed) while steps ran: the next one exits at once. */
  interrupts: number;
  now: number;
  /** Reviews recorded here: the run's failures are read again when it moves. */
  reviews: number;
  /** Commands for the shell, oldest first; the store empties it after each dispatch. */
  outbox: readonly UiCommand[];
}

/** The screen that shows one run: `:run <id>` opens a run there. */
const RUN_SCREEN = 'run';

/** The state a workbench starts in. */
export function initialUi(opts: { screen: string; runId?: string; now: number }): UiState {
  return { screen: opts.screen, history: [], runId: opts.runId, cursor: {}, filter: {}, reversed: {}, sort: {}, target: 0, expanded: {}, mode: 'normal', text: '', helpCursor: 0, interrupts: 0, now: opts.now, reviews: 0, outbox: [] };
}

/** The selected row of a screen with `count` rows: the cursor, kept inside the list. */
export function cursorOf(state: UiState, screen: string, count: number): number {
  return Math.max(0, Math.min(state.cursor[screen] ?? 0, count - 1));
}

/** The sort order of a screen: the one chosen, else its first. */
export function sortOf(state: UiState, screen: string, sorts: readonly string[]): string {
  return state.sort[screen] ?? sorts[0];
}

/** The next state; commands for the shell are appended to `outbox`. */
export function reduceUi(state: UiState, action: UiAction): UiState {
  switch (action.type) {
    case 'tick':
      return { ...state, now: action.now };
    case 'run.found':
      return jump(state, { to: RUN_SCREEN, runId: action.runId });
    case 'run.missing':
      return { ...state, message: `no run "${action.query}"` };
    case 'key':
      return onKey(state, action.name, action.ctx);
  }
}

function onKey(state: UiState, name: string, ctx: UiContext): UiState {
  if (name === 'ctrl+c') return act(state, 'interrupt', ctx);
  if (TEXT_MODES.includes(state.mode)) return typed(state, name, ctx);
  if (state.mode === 'help') {
    if (name === 'escape') return { ...state, mode: 'normal' };
    if (name === 'down' || name === 'up') return { ...state, helpCursor: Math.max(0, state.helpCursor + (name === 'down' ? 1 : -1)) };
    if (name === 'backspace') return { ...state, text: state.text.slice(0, -1) };
    if (name.length === 1 && name !== '?') return { ...state, text: state.text + name };
    return state;
  }
  const action = ctx.keymap.lookup(state.mode, state.screen, name);
  if (!action) return state;
  return act(state.mode === 'normal' ? { ...state, message: undefined } : state, action, ctx);
}

/** Keys of the text modes: a line editor; Enter and Esc end it. */
function typed(state: UiState, name: string, ctx: UiContext): UiState {
  const { mode, text: line, asking, screen } = state;
  if (name === 'escape') {
    const filter = mode === 'filter' ? { ...state.filter, [screen]: '' } : state.filter;
    return { ...state, filter, asking: undefined, text: '', mode: 'normal' };
  }
  if (name === 'return') {
    if (mode === 'command') return runCommand({ ...state, mode: 'normal' }, line, ctx);
    if (mode === 'filter') return { ...state, cursor: { ...state.cursor, [screen]: 0 }, mode: 'normal' };
    if (mode === 'note' && asking?.failure && state.runId) {
      if (!line.trim()) return { ...state, message: 'an empty note is not kept' };
      const review: UiCommand = { type: 'failure.review', runId: state.runId, failureId: asking.failure, action: 'note', note: line.trim() };
      return { ...send(state, review), reviews: state.reviews + 1, asking: undefined, message: `note added to ${asking.failure}`, mode: 'normal' };
    }
    if (mode === 'reason' && asking) {
      if (asking.what === 'reject' && !line.trim()) return { ...state, message: 'a reason is required to reject a gate' };
      return { ...state, asking: { ...asking, reason: line.trim() }, mode: 'confirm' };
    }
    return state;
  }
  let next = line;
  if (name === 'backspace') next = next.slice(0, -1);
  else if (name.length === 1) next += name;
  else return state;
  return { ...state, text: next, message: undefined, filter: mode === 'filter' ? { ...state.filter, [screen]: next } : state.filter };
}

function runCommand(state: UiState, line: string, ctx: UiContext): UiState {
  const [cmd, ...args] = line.trim().split(/\s+/);
  const arg = args.join(' ');
  const target = ctx.screens.find((s) => s.id === cmd);
  if (cmd === 'q' || cmd === 'quit') return act(state, 'quit', ctx);
  if (cmd === RUN_SCREEN && arg) return send(state, { type: 'run.find', query: arg });
  if (target) {
    // `:failures kind=lost-object` goes there with the filter set, as `/` would.
    const filtered = arg && target.bindings.includes('filter') ? { ...state, filter: { ...state.filter, [target.id]: arg } } : state;
    return go(filtered, target.id);
  }
  if (cmd === 'sort') {
    const sorted = ctx.screens.find((s) => s.rows?.sorts);
    const sorts = sorted?.rows?.sorts ?? [];
    if (!sorted || !sorts.includes(arg)) return { ...state, message: `sort by one of: ${sorts.join(', ')}` };
    return go({ ...state, sort: { ...state.sort, [sorted.id]: arg } }, sorted.id);
  }
  if (cmd === 'filter') return { ...state, filter: { ...state.filter, [state.screen]: arg } };
  if (cmd === '') return state;
  return { ...state, message: `unknown command ":${cmd}" (? lists them)` };
}

function act(state: UiState, action: Action, ctx: UiContext): UiState {
  const s = state.screen;
  const rows = ctx.rows[s] ?? [];
  const selected = rows[cursorOf(state, s, rows.length)];
  const facts = ctx.screens.find((x) => x.id === s);
  switch (action) {
    case 'interrupt':
      if (!ctx.active || state.interrupts >= 1) return ctx.active ? send(send(state, { type: 'run.force-quit' }), { type: 'quit' }) : send(state, { type: 'quit' });
      return send({ ...state, interrupts: 1, message: 'stopping the running steps... (Ctrl+C again to exit at once)' }, { type: 'run.cancel' });
    case 'quit':
      return ctx.active ? { ...state, mode: 'confirm-quit' } : send(state, { type: 'quit' });
    case 'back': {
      const prev = state.history.at(-1);
      return prev === undefined ? state : go({ ...state, history: state.history.slice(0, -1) }, prev, false);
    }
    case 'help':
      return { ...state, text: '', helpCursor: 0, mode: 'help' };
    case 'command':
      return { ...state, text: '', mode: 'command' };
    case 'filter':
      return { ...state, text: state.filter[s] ?? '', mode: 'filter' };
    case 'up':
      return move(state, s, rows.length, (c) => c - 1);
    case 'down':
    case 'next-failure':
      return move(state, s, rows.length, (c) => c + 1);
    case 'prev-failure':
      return move(state, s, rows.length, (c) => c - 1);
    case 'top':
      return move(state, s, rows.length, () => 0);
    case 'bottom':
      return move(state, s, rows.length, () => rows.length - 1);
    case 'open': {
      const to = selected !== undefined ? facts?.rows?.open?.(selected) : undefined;
      return to ? jump(state, to) : state;
    }
    case 'next-pane':
      return { ...state, target: state.target + 1 };
    case 'expand':
      return { ...state, expanded: { ...state.expanded, [s]: !state.expanded[s] } };
    case 'freeze':
      return { ...state, frozen: state.frozen ? undefined : ctx.view, message: state.frozen ? 'live again' : 'frozen: f to go live' };
    case 'sort': {
      const sorts = facts?.rows?.sorts;
      if (!sorts) return { ...state, reversed: { ...state.reversed, [s]: !state.reversed[s] } };
      return { ...state, sort: { ...state.sort, [s]: sorts[(sorts.indexOf(sortOf(state, s, sorts)) + 1) % sorts.length] } };
    }
    case 'reverse':
      return { ...state, reversed: { ...state.reversed, [s]: !state.reversed[s] } };
    case 'reviewed': {
      if (selected === undefined || !state.runId) return state;
      const reviewed = send(state, { type: 'failure.review', runId: state.runId, failureId: selected, action: 'reviewed' });
      return move({ ...reviewed, reviews: state.reviews + 1, message: `${selected} marked reviewed by ${ctx.actor}` }, s, rows.length, (c) => c + 1);
    }
    case 'note':
      if (selected === undefined) return state;
      return { ...state, asking: { what: 'note', failure: selected, reason: '' }, text: '', mode: 'note' };
    case 'approve':
    case 'reject': {
      // The gate selected, when it is one that waits; else the first that waits.
      const gate = selected !== undefined && ctx.live && ctx.pendingGates.includes(selected) ? selected : ctx.live ? ctx.pendingGates[0] : undefined;
      if (!gate) return { ...state, message: ctx.live ? 'no gate is waiting for an answer' : 'gates are answered while their run is running' };
      return { ...state, asking: { what: action, gate, reason: '' }, text: '', mode: 'reason' };
    }
    case 'yes': {
      if (state.mode === 'confirm-quit') return send({ ...state, mode: 'normal', interrupts: 1, message: 'stopping the running steps...' }, { type: 'run.cancel' });
      const a = state.asking;
      const done: UiState = { ...state, mode: 'normal', asking: undefined };
      if (!a?.gate || a.what === 'note') return done;
      const decision = a.what === 'approve' ? 'approved' : 'rejected';
      return { ...send(done, { type: 'gate.answer', gate: a.gate, decision, reason: a.reason || undefined }), message: `${a.gate} ${decision} by ${ctx.actor}` };
    }
    case 'no':
      if (state.mode === 'confirm' && state.asking) return { ...state, text: state.asking.reason, mode: 'reason' };
      return { ...state, asking: undefined, mode: 'normal' };
    default:
      return action.startsWith('go-') ? go(state, action.slice(3)) : state;
  }
}

function send(state: UiState, command: UiCommand): UiState {
  return { ...state, outbox: [...state.outbox, command] };
}

/** Shows screen `to`; the one left is remembered for Esc unless going back. */
function go(state: UiState, to: string, remember = true): UiState {
  if (to === state.screen) return state;
  const history = remember ? [...state.history.slice(-20), state.screen] : state.history;
  return { ...state, history, screen: to, message: undefined };
}

function jump(state: UiState, to: Jump): UiState {
  let next = state;
  if (to.runId) next = { ...next, runId: to.runId, frozen: undefined };
  if (to.filter !== undefined) next = { ...next, filter: { ...next.filter, [to.to]: to.filter }, cursor: { ...next.cursor, [to.to]: 0 } };
  return go(next, to.to);
}

/** Moves a screen's cursor within its `count` rows. */
function move(state: UiState, screen: string, count: number, to: (c: number) => number): UiState {
  const last = Math.max(0, count - 1);
  return { ...state, cursor: { ...state.cursor, [screen]: Math.max(0, Math.min(to(cursorOf(state, screen, count)), last)) } };
}

/** A tiny external store around reduceUi, read with useSyncExternalStore: a burst of keys is reduced one after another before React renders. */
export interface UiStore {
  getSnapshot(): UiState;
  subscribe(listener: () => void): () => void;
  /** Reduces `action` and returns the commands it sent, for the shell to carry out. */
  dispatch(action: UiAction): readonly UiCommand[];
}

/** A store starting at `initial`. */
export function createUiStore(initial: UiState): UiStore {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    getSnapshot: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dispatch(action) {
      const next = reduceUi(state, action);
      if (next === state) return [];
      const out = next.outbox;
      state = out.length ? { ...next, outbox: [] } : next;
      for (const l of listeners) l();
      return out;
    },
  };
}
