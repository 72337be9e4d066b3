/**
 * The workbench's UI reducer without Ink: keys in (as the terminal sends them, bursts split by
 * keyNames), state and commands out. The binding table and the screens are the real ones
 * (screens/index.ts); the rows are ids, all the reducer sees of them.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Key } from 'ink';
import { createUiStore, initialUi, reduceUi, type UiCommand, type UiContext, type UiState } from '../../views/ui-state.js';
import { keyNames } from '../../views/key-names.js';
import { KEYMAP, SCREEN_TABLE } from '../../views/screens/index.js';
import { initialLiveState } from '../../src/live/live-state.js';

const NO_KEY: Key = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false };

/** Special keys as Ink reports them; a plain string is typed text (one burst). */
const K = {
  enter: { ...NO_KEY, return: true },
  esc: { ...NO_KEY, escape: true },
  tab: { ...NO_KEY, tab: true },
  bs: { ...NO_KEY, backspace: true },
  down: { ...NO_KEY, downArrow: true },
  up: { ...NO_KEY, upArrow: true },
  ctrlC: { ...NO_KEY, ctrl: true },
} as const;
type Input = string | Key;

const ACTOR = 'ana@example.com';
const GATE = 'release-signoff';
const FROZEN = { ...initialLiveState, runId: 'r-1' };

function context(over: Partial<UiContext> = {}): UiContext {
  return {
    keymap: KEYMAP,
    screens: SCREEN_TABLE,
    rows: { runs: ['r-2', 'r-1'], run: ['world', 'evaluate', 'gate'], latency: [], slices: ['night', 'day', 'rain'], failures: ['f1', 'f2', 'f3', 'f4'], gates: ['overall-ap', GATE] },
    live: false,
    active: false,
    pendingGates: [],
    view: FROZEN,
    actor: ACTOR,
    ...over,
  };
}

/** Each input as one terminal read: keyNames splits it, the reducer takes the names one by one. */
function press(state: UiState, ctx: UiContext, inputs: readonly Input[]): UiState {
  return inputs.flatMap((i) => (typeof i === 'string' ? keyNames(i, NO_KEY) : keyNames(i === K.ctrlC ? 'c' : '', i))).reduce((s, name) => reduceUi(s, { type: 'key', name, ctx }), state);
}

const LIVE = { live: true, active: true, pendingGates: [GATE] } satisfies Partial<UiContext>;

interface Case {
  name: string;
  screen: string;
  from?: Partial<UiState>;
  ctx?: Partial<UiContext>;
  keys: Input[];
  want: Partial<UiState>;
  sent?: UiCommand[];
}

const CASES: Case[] = [
  // moving
  { name: 'j j k: down twice, up once', screen: 'failures', keys: ['j', 'j', 'k'], want: { cursor: { failures: 1 } } },
  { name: 'a burst "jjj" is three moves', screen: 'failures', keys: ['jjj'], want: { cursor: { failures: 3 } } },
  { name: 'moves stop at the last row', screen: 'failures', keys: ['jjjjjjj'], want: { cursor: { failures: 3 } } },
  { name: 'k at the top stays there', screen: 'failures', keys: ['k'], want: { cursor: { failures: 0 } } },
  { name: 'G goes to the bottom', screen: 'failures', keys: ['G'], want: { cursor: { failures: 3 } } },
  { name: 'g goes to the top', screen: 'failures', keys: ['G', 'g'], want: { cursor: { failures: 0 } } },
  { name: 'arrows move too', screen: 'slices', keys: [K.down, K.down, K.up], want: { cursor: { slices: 1 } } },
  { name: 'a screen without rows does not move', screen: 'latency', keys: ['jj'], want: { cursor: { latency: 0 } } },
  { name: 'each screen keeps its own cursor', screen: 'failures', keys: ['jj', '4', 'j', '5'], want: { screen: 'failures', cursor: { failures: 2, slices: 1 } } },
  { name: 'n and N step through failures', screen: 'failures', keys: ['n', 'n', 'N'], want: { cursor: { failures: 1 } } },
  // screens, Enter, Esc
  { name: 'digits go to screens, Esc goes back', screen: 'runs', keys: ['2', '3', K.esc], want: { screen: 'run', history: ['runs'] } },
  { name: 'Esc without history stays', screen: 'runs', keys: [K.esc], want: { screen: 'runs', history: [] } },
  { name: 'Enter on a run opens it', screen: 'runs', keys: ['j', K.enter], want: { screen: 'run', runId: 'r-1', history: ['runs'] } },
  { name: 'Enter on a run drops the frozen view', screen: 'runs', from: { frozen: FROZEN }, keys: [K.enter], want: { runId: 'r-2', frozen: undefined } },
  { name: "Enter on a slice lists the slice's failures from the top", screen: 'slices', from: { cursor: { failures: 2 } }, keys: ['jj', K.enter], want: { screen: 'failures', filter: { failures: 'slice=rain' }, cursor: { slices: 2, failures: 0 } } },
  { name: 'Enter where nothing opens does nothing', screen: 'gates', keys: [K.enter], want: { screen: 'gates', history: [] } },
  // filter
  { name: '/ filters as it is typed', screen: 'runs', keys: ['/', 'li'], want: { mode: 'filter', text: 'li', filter: { runs: 'li' } } },
  { name: '/ then Enter keeps the filter, the cursor back at the top', screen: 'runs', from: { cursor: { runs: 1 } }, keys: ['/', 'lix', K.bs, K.enter], want: { mode: 'normal', filter: { runs: 'li' }, cursor: { runs: 0 } } },
  { name: '/ then Esc clears the filter', screen: 'runs', keys: ['/', 'li', K.esc], want: { mode: 'normal', text: '', filter: { runs: '' } } },
  { name: '/ edits the filter kept, a separator after it', screen: 'slices', from: { filter: { slices: 'night' } }, keys: ['/'], want: { mode: 'filter', text: 'night ' } },
  { name: '/ where there is no list to filter does nothing', screen: 'gates', keys: ['/'], want: { mode: 'normal' } },
  // : commands
  { name: ':gates goes there', screen: 'runs', keys: [':gates', K.enter], want: { screen: 'gates', mode: 'normal', history: ['runs'] } },
  { name: 'a burst ":gates\\r" is a command and its Enter', screen: 'runs', keys: [':gates\r'], want: { screen: 'gates', mode: 'normal' } },
  { name: ':failures with words sets their filter', screen: 'runs', keys: [':failures kind=lost-object', K.enter], want: { screen: 'failures', filter: { failures: 'kind=lost-object' } } },
  { name: ':sort delta goes to the slices and sorts them', screen: 'latency', keys: [':sort delta\r'], want: { screen: 'slices', sort: { slices: 'delta' } } },
  { name: ':sort with an unknown column names the columns', screen: 'runs', keys: [':sort zz\r'], want: { screen: 'runs', message: 'sort runs by one of: started, status, name, host, took' } },
  { name: ':filter filters the screen shown', screen: 'slices', keys: [':filter night\r'], want: { filter: { slices: 'night' }, mode: 'normal' } },
  { name: ':run with an id looks it up', screen: 'runs', keys: [':run r-1\r'], want: { screen: 'runs', mode: 'normal' }, sent: [{ type: 'run.find', query: 'r-1' }] },
  { name: 'an unknown command says so', screen: 'run', keys: [':nope\r'], want: { message: 'unknown command ":nope" (? lists them)' } },
  { name: 'Esc leaves the command line', screen: 'run', keys: [':ga', K.esc], want: { mode: 'normal', text: '', screen: 'run' } },
  { name: ':q quits', screen: 'run', keys: [':q\r'], want: { mode: 'normal' }, sent: [{ type: 'quit' }] },
  // freeze, expand, Tab, sort
  { name: 'f freezes the live data', screen: 'latency', keys: ['f'], want: { frozen: FROZEN, message: 'frozen: f to go live' } },
  { name: 'f again goes live', screen: 'latency', keys: ['f', 'f'], want: { frozen: undefined, message: 'live again' } },
  { name: 'f where nothing is live does nothing', screen: 'runs', keys: ['f'], want: { frozen: undefined, message: undefined } },
  { name: 'e expands the pane in front', screen: 'latency', keys: ['e'], want: { expanded: { latency: true } } },
  { name: 'e again folds it back', screen: 'failures', keys: ['e', 'e'], want: { expanded: { failures: false } } },
  { name: 'e where there is one pane does nothing', screen: 'runs', keys: ['e'], want: { expanded: {} } },
  { name: 'Tab brings the next target to the front', screen: 'latency', keys: [K.tab, K.tab], want: { target: 2 } },
  { name: 'Tab where there are no targets does nothing', screen: 'slices', keys: [K.tab], want: { target: 0 } },
  { name: 'o steps through the slice sorts', screen: 'slices', keys: ['oo'], want: { sort: { slices: 'ap' } } },
  { name: 'o steps through the run sorts', screen: 'runs', keys: ['o'], want: { sort: { runs: 'status' } } },
  { name: 'O reverses', screen: 'slices', keys: ['O'], want: { reversed: { slices: true } } },
  // approve
  { name: 'a asks for a reason', screen: 'run', ctx: LIVE, keys: ['a'], want: { mode: 'reason', asking: { what: 'approve', gate: GATE, reason: '' } } },
  { name: 'a, a reason, Enter asks to confirm', screen: 'run', ctx: LIVE, keys: ['a', 'ok for q4', K.enter], want: { mode: 'confirm', asking: { what: 'approve', gate: GATE, reason: 'ok for q4' } } },
  { name: 'a ... y approves', screen: 'run', ctx: LIVE, keys: ['a', 'ok', K.enter, 'y'], want: { mode: 'normal', asking: undefined, message: `${GATE} approved by ${ACTOR}` }, sent: [{ type: 'gate.answer', gate: GATE, decision: 'approved', reason: 'ok' }] },
  { name: 'an approval needs no reason', screen: 'run', ctx: LIVE, keys: ['a', K.enter, 'y'], want: { mode: 'normal' }, sent: [{ type: 'gate.answer', gate: GATE, decision: 'approved' }] },
  { name: 'a on the gates screen answers the waiting gate selected', screen: 'gates', from: { cursor: { gates: 1 } }, ctx: { ...LIVE, pendingGates: ['overall-ap', GATE] }, keys: ['a'], want: { asking: { what: 'approve', gate: GATE, reason: '' } } },
  { name: 'a elsewhere answers the first gate waiting', screen: 'runs', ctx: { ...LIVE, pendingGates: ['overall-ap', GATE] }, keys: ['a'], want: { asking: { what: 'approve', gate: 'overall-ap', reason: '' } } },
  { name: 'a on a past run says gates are answered live', screen: 'gates', keys: ['a'], want: { mode: 'normal', message: 'gates are answered while their run is running' } },
  { name: 'a with no gate waiting says so', screen: 'gates', ctx: { ...LIVE, pendingGates: [] }, keys: ['a'], want: { mode: 'normal', message: 'no gate is waiting for an answer' } },
  // reject
  { name: 'x asks for a reason and refuses none', screen: 'run', ctx: LIVE, keys: ['x', K.enter], want: { mode: 'reason', message: 'a reason is required to reject a gate' } },
  { name: 'typing clears the refusal', screen: 'run', ctx: LIVE, keys: ['x', K.enter, 't'], want: { mode: 'reason', text: 't', message: undefined } },
  { name: 'x, a reason, Enter, n: back to editing the reason', screen: 'run', ctx: LIVE, keys: ['x', 'too slow', K.enter, 'n'], want: { mode: 'reason', text: 'too slow' } },
  { name: 'x ... y rejects with the reason', screen: 'run', ctx: LIVE, keys: ['x', 'too slow', K.enter, 'y'], want: { mode: 'normal', message: `${GATE} rejected by ${ACTOR}` }, sent: [{ type: 'gate.answer', gate: GATE, decision: 'rejected', reason: 'too slow' }] },
  { name: 'Esc at the confirmation is n: back to the reason', screen: 'run', ctx: LIVE, keys: ['x', 'r', K.enter, K.esc], want: { mode: 'reason', text: 'r' } },
  { name: 'Esc twice answers nothing', screen: 'run', ctx: LIVE, keys: ['x', 'r', K.enter, K.esc, K.esc], want: { mode: 'normal', asking: undefined } },
  { name: 'Esc while typing the reason answers nothing', screen: 'run', ctx: LIVE, keys: ['x', 'r', K.esc], want: { mode: 'normal', asking: undefined, text: '' } },
  // quit and Ctrl+C
  { name: 'q quits when nothing runs', screen: 'runs', keys: ['q'], want: { mode: 'normal' }, sent: [{ type: 'quit' }] },
  { name: 'q asks while steps run', screen: 'runs', ctx: LIVE, keys: ['q'], want: { mode: 'confirm-quit' } },
  { name: 'q then n keeps running', screen: 'runs', ctx: LIVE, keys: ['q', 'n'], want: { mode: 'normal', interrupts: 0 } },
  { name: 'q then y stops the steps first', screen: 'runs', ctx: LIVE, keys: ['q', 'y'], want: { mode: 'normal', interrupts: 1, message: 'stopping the running steps...' }, sent: [{ type: 'run.cancel' }] },
  { name: 'Ctrl+C stops the steps first', screen: 'latency', ctx: LIVE, keys: [K.ctrlC], want: { interrupts: 1, message: 'stopping the running steps... (Ctrl+C again to exit at once)' }, sent: [{ type: 'run.cancel' }] },
  { name: 'a second Ctrl+C exits at once', screen: 'latency', ctx: LIVE, keys: [K.ctrlC, K.ctrlC], want: { interrupts: 1 }, sent: [{ type: 'run.cancel' }, { type: 'run.force-quit' }, { type: 'quit' }] },
  { name: 'Ctrl+C works while typing', screen: 'runs', ctx: LIVE, keys: [':so', K.ctrlC], want: { mode: 'command', interrupts: 1 }, sent: [{ type: 'run.cancel' }] },
  { name: 'Ctrl+C with nothing running quits', screen: 'runs', keys: [K.ctrlC], want: {}, sent: [{ type: 'quit' }] },
  // help
  { name: '? opens the help', screen: 'slices', from: { text: 'old' }, keys: ['?'], want: { mode: 'help', text: '', helpCursor: 0 } },
  { name: 'typing filters the help, arrows move in it', screen: 'slices', keys: ['?', 'rex', K.bs, K.down, K.down, K.up], want: { mode: 'help', text: 're', helpCursor: 1, cursor: {} } },
  { name: 'Esc closes the help', screen: 'slices', keys: ['?', 'j', K.esc], want: { mode: 'normal', screen: 'slices', cursor: {} } },
  // failures: reviews and notes
  { name: 'm marks the failure reviewed and moves on', screen: 'failures', from: { runId: 'r-1' }, keys: ['m'], want: { cursor: { failures: 1 }, reviews: 1, message: `f1 marked reviewed by ${ACTOR}` }, sent: [{ type: 'failure.review', runId: 'r-1', failureId: 'f1', action: 'reviewed' }] },
  { name: 'i takes a note, Enter records it', screen: 'failures', from: { runId: 'r-1' }, keys: ['j', 'i', 'occluded', K.enter], want: { mode: 'normal', reviews: 1, message: 'note added to f2' }, sent: [{ type: 'failure.review', runId: 'r-1', failureId: 'f2', action: 'note', note: 'occluded' }] },
  { name: 'an empty note is not kept', screen: 'failures', from: { runId: 'r-1' }, keys: ['i', '  ', K.enter], want: { mode: 'note', message: 'an empty note is not kept' } },
  // messages
  { name: 'a key clears the message', screen: 'failures', from: { message: 'old news' }, keys: ['j'], want: { message: undefined } },
];

describe('reduceUi', () => {
  it.each(CASES)('$name', ({ screen, from, ctx, keys, want, sent }) => {
    const end = press({ ...initialUi({ screen, now: 0 }), ...from }, context(ctx), keys);
    // Only the fields the case names; absent and undefined are alike.
    expect(Object.fromEntries(Object.keys(want).map((k) => [k, end[k as keyof UiState]]))).toEqual(want);
    expect(end.outbox).toEqual(sent ?? []);
  });

  it.each([
    ['a run found opens', { type: 'run.found', runId: 'r-9' }, { screen: 'run', runId: 'r-9', history: ['runs'] }],
    ['a run not found says so', { type: 'run.missing', query: 'zz' }, { screen: 'runs', message: 'no run "zz"' }],
    ['the clock moves', { type: 'tick', now: 5000 }, { now: 5000 }],
  ] as const)('%s', (_, action, want) => {
    expect(reduceUi(initialUi({ screen: 'runs', now: 0 }), action)).toMatchObject(want);
  });

  it('the store hands each dispatch its commands once and tells its readers', () => {
    const store = createUiStore(initialUi({ screen: 'runs', now: 0 }));
    const seen = vi.fn();
    store.subscribe(seen);
    const ctx = context();
    expect(store.dispatch({ type: 'key', name: 'q', ctx })).toEqual([{ type: 'quit' }]);
    expect(store.getSnapshot().outbox).toEqual([]);
    expect(store.dispatch({ type: 'key', name: 'j', ctx })).toEqual([]);
    expect(store.getSnapshot().cursor).toEqual({ runs: 1 });
    expect(seen).toHaveBeenCalledTimes(2);
    store.dispatch({ type: 'key', name: 'F', ctx }); // no binding: no change, no notification
    expect(seen).toHaveBeenCalledTimes(2);
  });
});

describe('the screen table', () => {
  const help = KEYMAP.helpLines('runs');
  it.each(SCREEN_TABLE.map((s) => [s.id, s] as const))('%s has a key, a title and bindings the help lists', (id, s) => {
    expect(s.key).toMatch(/^\S$/);
    expect(s.title).not.toBe('');
    expect(KEYMAP.lookup('normal', 'runs', s.key)).toBe(`go-${id}`);
    expect(help).toContain(`${s.key.padEnd(10)} ${s.title}`);
    expect(help.some((l) => l.startsWith(`:${id.padEnd(9)} ${s.about}`))).toBe(true);
    const own = KEYMAP.bindings.filter((b) => b.screens?.includes(id));
    expect(own.length).toBe(s.bindings.length);
    const where = (l: string) => /\(([^)]*)\)$/.exec(l)?.[1].split(', ') ?? [];
    for (const b of own) expect(help.some((l) => l.includes(` ${b.hint} (`) && where(l).includes(id)), b.hint).toBe(true);
  });

  it('keys are unique: no two screens share a key, no screen has two bindings for one key', () => {
    expect(new Set(SCREEN_TABLE.map((s) => s.key)).size).toBe(SCREEN_TABLE.length);
    for (const s of SCREEN_TABLE) {
      const keys = KEYMAP.bindings.filter((b) => b.modes.includes('normal') && (!b.screens || b.screens.includes(s.id))).flatMap((b) => b.keys);
      expect(keys.length, s.id).toBe(new Set(keys).size);
    }
  });
});
