/**
 * The workbench's UI state as a pure reducer: which screen, where each list's cursor is, what is
 * typed, what is being asked. Keys go in as names ("j", "return", "ctrl+c") with the context the
 * shell read from the stores; the binding table (keymap.ts) turns each into an action. What must
 * happen outside (answer a gate, record a review, stop the run, quit) comes out as commands in
 * `outbox`, which the store hands to the shell after each dispatch. No React, no I/O.
 */
import type { LiveState } from '../src/live/live-state.js';
import { TEXT_MODES, type Action, type InputMode, type Keymap, type ScreenBinding } from './keymap.js';
import { initialPlayer, reducePlayer, type PlayerState, type SegmentFacts } from './replay-player.js';

/** Where Enter on a row leads: a screen, showing another run or with a filter set (its cursor back at the top). */
export interface Jump {
  to: string;
  runId?: string;
  filter?: string;
  /** The row to select there, by id (the replay screen opened on the failure that was selected). */
  select?: string;
}

/** What the reducer reads of a screen's line in the screen table. */
export interface ScreenFacts {
  id: string;
  /** The key that shows it, named in messages: "3". */
  key?: string;
  /** A screen that takes the shared `filter` binding takes words after its `:` command as its filter. */
  bindings: readonly ScreenBinding[];
  rows?: {
    /** The orders `o` steps through, the default first; without them `o` reverses. */
    sorts?: readonly string[];
    /** What Enter does on the row with this id. */
    open?(id: string): Jump;
    /** Where Enter or `e` on the row leads instead of expanding its pane (a replay failure: the replay screen). */
    expandTo?(id: string): Jump | undefined;
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
  /** The run's latency targets in the latency screen's order (Tab steps through them); unknown when absent. */
  targets?: readonly string[];
  /** The help overlay as laid out: how many lines it has and how many show at once (scrolling stops at its end). */
  help?: { lines: number; page: number };
  /** The replay segment of the replay screen's selected row, once its timeline is read: the player's keys act on it (the sim screen's clip, there). */
  replay?: SegmentFacts;
  /** The note a filing starts from, which the person edits (the sim screen's data request: the slice and conditions to mine). */
  fileDraft?: string;
}

/** What the shell does for the reducer. */
export type UiCommand =
  | { type: 'gate.answer'; gate: string; decision: 'approved' | 'rejected'; reason?: string }
  | { type: 'failure.review'; runId: string; failureId: string; action: 'reviewed' | 'note' | 'filed'; note?: string }
  /** Prints the failure's frame path into the terminal, above the workbench (it stays there after quitting). */
  | { type: 'failure.print-path'; runId: string; failureId: string }
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
  | { type: 'tick'; now: number }
  /** The replay player's timer: the next frame of the segment playing. */
  | { type: 'player.tick'; facts: SegmentFacts };

/** A question in progress: the reason for answering a gate, a note on a failure, or the note a filing for data mining needs. */
export interface Asking {
  what: 'approve' | 'reject' | 'note' | 'file';
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
  /** The help's first line shown (it scrolls); back to 0 when its filter changes. */
  helpCursor: number;
  asking?: Asking;
  /** Ctrl+C presses (and quits confirmed) while steps ran: the next one exits at once. */
  interrupts: number;
  now: number;
  /** Reviews recorded here: the run's failures are read again when it moves. */
  reviews: number;
  /** The replay screen's player: the frame of the segment shown, play or pause, the overlay. */
  player: PlayerState;
  /** Commands for the shell, oldest first; the store empties it after each dispatch. */
  outbox: readonly UiCommand[];
}

/** The screen that shows one run: `:run <id>` opens a run there. */
const RUN_SCREEN = 'run';
/** The screen that shows the latency target Tab brings to the front. */
const LATENCY_SCREEN = 'latency';

/** The state a workbench starts in. */
export function initialUi(opts: { screen: string; runId?: string; now: number }): UiState {
  return { screen: opts.screen, history: [], runId: opts.runId, cursor: {}, filter: {}, reversed: {}, sort: {}, target: 0, expanded: {}, mode: 'normal', text: '', helpCursor: 0, interrupts: 0, now: opts.now, reviews: 0, player: initialPlayer, outbox: [] };
}

/** The selected row of a screen with `count` rows: the cursor, kept inside the list. */
export function cursorOf(state: UiState, screen: string, count: number): number {
  return Math.max(0, Math.min(state.cursor[screen] ?? 0, count - 1));
}

/** The sort order of a screen: the one chosen, else its first. */
export function sortOf(state: UiState, screen: string, sorts: readonly string[]): string {
  return state.sort[screen] ?? sorts[0];
}

/** A column a list can be sorted by (`o` steps through a list's columns, `:sort <name>` picks one). */
export interface SortColumn<Row> {
  /** As `:sort` takes it and the list names it: "started". */
  name: string;
  /** The order of two rows, the first one shown first. */
  compare(a: Row, b: Row): number;
  /** How the order reads, for the list's legend: "newest first". */
  order?: string;
}

/** The names of a list's sort columns, the default first: a row model's `sorts`. */
export function sortNames(columns: readonly SortColumn<never>[]): string[] {
  return columns.map((c) => c.name);
}

/** `rows` in the order of the column named `sort` (the first column when it names none), reversed if asked; stable, so ties keep their order. */
export function sortRows<Row>(rows: readonly Row[], columns: readonly SortColumn<Row>[], sort: string | undefined, reversed: boolean): Row[] {
  const column = columns.find((c) => c.name === sort) ?? columns[0];
  const out = column ? rows.slice().sort((a, b) => column.compare(a, b)) : rows.slice();
  return reversed ? out.reverse() : out;
}

/** "sorted by started, newest first (reversed)": a list's legend of its order. */
export function sortLegend(columns: readonly SortColumn<never>[], sort: string | undefined, reversed: boolean): string {
  const column = columns.find((c) => c.name === sort) ?? columns[0];
  return column ? `sorted by ${column.name}${column.order ? `, ${column.order}` : ''}${reversed ? ' (reversed)' : ''}` : reversed ? 'reversed' : '';
}

/** The words of a filter, lower case: "Slice=night  kind=x" gives ["slice=night", "kind=x"]. */
export function filterWords(filter: string): string[] {
  return filter.toLowerCase().split(/\s+/).filter(Boolean);
}

/** Whether `text` holds every word of `filter` (an empty filter holds for all). */
export function matchesFilter(text: string, filter: string): boolean {
  const t = text.toLowerCase();
  return filterWords(filter).every((w) => t.includes(w));
}

/** The line `/` starts editing: the filter kept, with a space after it so that what is typed is a new word. */
export function filterEditText(filter: string | undefined): string {
  const f = (filter ?? '').trim();
  return f ? `${f} ` : '';
}

/** The next state; commands for the shell are appended to `outbox`. */
export function reduceUi(state: UiState, action: UiAction): UiState {
  switch (action.type) {
    case 'tick':
      return { ...state, now: action.now };
    case 'player.tick': {
      const { player, message } = reducePlayer(state.player, 'tick', action.facts);
      return player === state.player ? state : { ...state, player, message: message ?? state.message };
    }
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
  if (state.mode === 'help') return inHelp(state, name, ctx);
  const action = ctx.keymap.lookup(state.mode, state.screen, name);
  if (!action) return state;
  return act(state.mode === 'normal' ? { ...state, message: undefined } : state, action, ctx);
}

/** The line after an erasing action: a character, a word (and the spaces after it), or all of it. */
function erased(line: string, action: Action): string | undefined {
  if (action === 'erase-char') return line.slice(0, -1);
  if (action === 'erase-word') return line.replace(/\S*\s*$/, '');
  if (action === 'erase-line') return '';
  return undefined;
}

/** Keys of the help overlay: its bindings scroll and close it; other characters filter it (from its top again). */
function inHelp(state: UiState, name: string, ctx: UiContext): UiState {
  const action = ctx.keymap.lookup('help', state.screen, name);
  const last = ctx.help ? Math.max(0, ctx.help.lines - ctx.help.page) : Infinity;
  const page = Math.max(1, (ctx.help?.page ?? 10) - 1);
  const scroll = (to: number) => ({ ...state, helpCursor: Math.max(0, Math.min(to, last)) });
  const at = Math.min(state.helpCursor, last);
  switch (action) {
    case 'back':
      return { ...state, mode: 'normal' };
    case 'down':
      return scroll(at + 1);
    case 'up':
      return scroll(at - 1);
    case 'page-down':
      return scroll(at + page);
    case 'page-up':
      return scroll(at - page);
    case 'top':
      return scroll(0);
    case 'bottom':
      return scroll(last === Infinity ? at : last);
    case undefined:
      return name.length === 1 ? { ...state, text: state.text + name, helpCursor: 0 } : state;
    default: {
      const text = erased(state.text, action);
      return text === undefined ? act(state, action, ctx) : { ...state, text, helpCursor: 0 };
    }
  }
}

/** Keys of the text modes: a line editor; Enter and Esc end it. */
function typed(state: UiState, name: string, ctx: UiContext): UiState {
  const { mode, text: line, asking, screen } = state;
  const action = ctx.keymap.lookup(mode, screen, name);
  if (action === 'back') {
    const filter = mode === 'filter' ? { ...state.filter, [screen]: '' } : state.filter;
    return { ...state, filter, asking: undefined, text: '', mode: 'normal' };
  }
  if (action === 'open') {
    if (mode === 'command') return runCommand({ ...state, mode: 'normal' }, line, ctx);
    if (mode === 'filter') return { ...state, cursor: { ...state.cursor, [screen]: 0 }, mode: 'normal' };
    if (mode === 'note' && asking?.failure && state.runId) {
      const filing = asking.what === 'file';
      if (!line.trim()) return { ...state, message: filing ? 'a note is required to file a segment for data mining (Esc cancels)' : 'an empty note is not kept' };
      const review: UiCommand = { type: 'failure.review', runId: state.runId, failureId: asking.failure, action: filing ? 'filed' : 'note', note: line.trim() };
      const said = filing ? `${asking.failure} filed for data mining by ${ctx.actor}` : `note added to ${asking.failure}`;
      return { ...send(state, review), reviews: state.reviews + 1, asking: undefined, message: said, mode: 'normal' };
    }
    if (mode === 'reason' && asking) {
      if (asking.what === 'reject' && !line.trim()) return { ...state, message: 'a reason is required to reject a gate' };
      return { ...state, asking: { ...asking, reason: line.trim() }, mode: 'confirm' };
    }
    return state;
  }
  const next = action ? erased(line, action) : name.length === 1 ? line + name : undefined;
  if (next === undefined) return action ? act(state, action, ctx) : state;
  // The filter applied is the line without its outer spaces: "night " (a word about to be typed) is "night".
  return { ...state, text: next, message: undefined, filter: mode === 'filter' ? { ...state.filter, [screen]: next.trim() } : state.filter };
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
    // The list shown, when it has sorts; from a screen without any, the first list that has the column.
    const here = ctx.screens.find((s) => s.id === state.screen && s.rows?.sorts);
    const sorted = here ?? ctx.screens.find((s) => s.rows?.sorts?.includes(arg)) ?? ctx.screens.find((s) => s.rows?.sorts);
    const sorts = sorted?.rows?.sorts ?? [];
    if (!sorted) return { ...state, message: 'no list here has sorts' };
    if (!sorts.includes(arg)) return { ...state, message: `sort ${sorted.id} by one of: ${sorts.join(', ')}` };
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
      // A question asked (answer the gate? quit?) is moot once the steps stop: it goes, so the message shows.
      return send({ ...state, ...(state.mode === 'confirm' || state.mode === 'confirm-quit' ? { mode: 'normal' as const, asking: undefined } : {}), interrupts: 1, message: 'stopping the running steps... (Ctrl+C again to exit at once)' }, { type: 'run.cancel' });
    case 'quit':
      return ctx.active ? { ...state, mode: 'confirm-quit' } : send(state, { type: 'quit' });
    case 'back': {
      // Esc first closes the pane expanded on this screen (the failure full-screen), then goes back.
      if (state.expanded[s]) return { ...state, expanded: { ...state.expanded, [s]: false } };
      const prev = state.history.at(-1);
      return prev === undefined ? { ...state, message: 'nothing to go back to' } : go({ ...state, history: state.history.slice(0, -1) }, prev, false);
    }
    case 'help':
      return { ...state, text: '', helpCursor: 0, mode: 'help' };
    case 'command':
      return { ...state, text: '', mode: 'command' };
    case 'filter':
      return { ...state, text: filterEditText(state.filter[s]), mode: 'filter' };
    case 'up':
    case 'down':
    case 'next-failure':
    case 'prev-failure':
    case 'top':
    case 'bottom': {
      const to = { up: (c: number) => c - 1, 'prev-failure': (c: number) => c - 1, down: (c: number) => c + 1, 'next-failure': (c: number) => c + 1, top: () => 0, bottom: () => rows.length - 1 }[action];
      const moved = move(state, s, rows.length, to);
      return rows.length ? moved : { ...moved, message: facts?.rows ? `nothing to move over: the ${s} list is empty` : `the ${s} screen has no list to move in` };
    }
    case 'open': {
      const to = selected !== undefined ? facts?.rows?.open?.(selected) : undefined;
      return to ? jump(state, to, ctx) : state;
    }
    case 'play':
    case 'frame-next':
    case 'frame-prev':
    case 'segment-start':
    case 'segment-end':
    case 'overlay': {
      if (!ctx.replay || ctx.replay.failureId !== selected) return { ...state, message: selected === undefined ? 'no replay segment to play: this run has no replay-divergence failures' : `the segment of ${selected} is not read yet (or cannot be: the screen says why)` };
      const { player, message } = reducePlayer(state.player, action, ctx.replay);
      return { ...state, player, message };
    }
    case 'file':
      if (selected === undefined || !state.runId) return { ...state, message: 'no replay segment selected to file for data mining' };
      return { ...state, asking: { what: 'file', failure: selected, reason: '' }, text: ctx.fileDraft ?? '', mode: 'note' };
    case 'next-pane': {
      const targets = ctx.targets;
      const next = { ...state, target: state.target + 1 };
      if (targets === undefined) return next;
      if (targets.length < 2) return { ...state, message: targets.length ? `${targets[0]} is this run's one latency target` : 'no latency targets in this run yet' };
      if (s === LATENCY_SCREEN) return next;
      // Elsewhere Tab changes nothing on the screen: say what it did.
      const key = ctx.screens.find((x) => x.id === LATENCY_SCREEN)?.key;
      return { ...next, message: `latency: ${targets[next.target % targets.length]} in front${key ? ` (${key} shows it)` : ''}` };
    }
    case 'expand': {
      if (facts?.rows && rows.length === 0) return { ...state, message: `nothing to open: the ${s} list is empty` };
      // A row another screen shows better (a replay segment) opens there, when that screen lists it.
      const to = selected !== undefined && !state.expanded[s] ? facts?.rows?.expandTo?.(selected) : undefined;
      const there = to && (to.select === undefined || (ctx.rows[to.to] ?? []).includes(to.select));
      return to && there ? jump(state, to, ctx) : { ...state, expanded: { ...state.expanded, [s]: !state.expanded[s] } };
    }
    case 'freeze':
      if (!state.frozen && !ctx.view) return { ...state, message: 'nothing to freeze: no run is shown' };
      return { ...state, frozen: state.frozen ? undefined : ctx.view, message: state.frozen ? 'live again' : 'frozen: f to go live' };
    case 'sort': {
      const sorts = facts?.rows?.sorts;
      if (!sorts || sorts.length < 2) return { ...state, message: `the ${s} list has one order (O reverses it)` };
      const next = sorts[(sorts.indexOf(sortOf(state, s, sorts)) + 1) % sorts.length];
      return { ...state, sort: { ...state.sort, [s]: next }, message: `sorted by ${next} (o next column, O reverses)` };
    }
    case 'reverse': {
      const reversed = !state.reversed[s];
      return { ...state, reversed: { ...state.reversed, [s]: reversed }, message: reversed ? 'order reversed (O again: back)' : 'order back to normal' };
    }
    case 'reviewed': {
      if (selected === undefined || !state.runId) return { ...state, message: `nothing to mark reviewed: the ${s} list is empty` };
      const reviewed = send(state, { type: 'failure.review', runId: state.runId, failureId: selected, action: 'reviewed' });
      return move({ ...reviewed, reviews: state.reviews + 1, message: `${selected} marked reviewed by ${ctx.actor}` }, s, rows.length, (c) => c + 1);
    }
    case 'print-path':
      if (selected === undefined || !state.runId) return { ...state, message: 'no failure selected' };
      return { ...send(state, { type: 'failure.print-path', runId: state.runId, failureId: selected }), message: `the frame path of ${selected} is printed above the workbench (it stays after q)` };
    case 'note':
      if (selected === undefined) return { ...state, message: `nothing to write a note on: the ${s} list is empty` };
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
      if (!a?.gate || a.what === 'note' || a.what === 'file') return done;
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

/** Shows screen `to`; the one left is remembered for Esc unless going back. A segment playing pauses. */
function go(state: UiState, to: string, remember = true): UiState {
  if (to === state.screen) return state;
  const history = remember ? [...state.history.slice(-20), state.screen] : state.history;
  return { ...state, history, screen: to, message: undefined, player: state.player.playing ? { ...state.player, playing: false } : state.player };
}

/** Follows a Jump; its `select` finds the row among the rows `ctx` says the screen has. */
function jump(state: UiState, to: Jump, ctx?: UiContext): UiState {
  let next = state;
  if (to.runId) next = { ...next, runId: to.runId, frozen: undefined };
  if (to.filter !== undefined) next = { ...next, filter: { ...next.filter, [to.to]: to.filter }, cursor: { ...next.cursor, [to.to]: 0 } };
  const at = to.select !== undefined ? (ctx?.rows[to.to]?.indexOf(to.select) ?? -1) : -1;
  if (at >= 0) next = { ...next, cursor: { ...next.cursor, [to.to]: at } };
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
