/**
 * Help that fits and scrolls, a footer that keeps `? help` and `q quit`, and every key the binding
 * table advertises doing something on every screen that lists it: the workbench rendered at 80x24
 * (and 60 columns) from a store built out of the recorded demo run
 * (test/fixtures/workbench-run.ndjson), plus a live run with a gate waiting. Keys are sent as the
 * terminal sends them.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import React from 'react';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import sharp from 'sharp';
import { Workbench } from '../../views/workbench.js';
import { makeTheme } from '../../views/theme.js';
import { BINDINGS, KEYMAP, SCREEN_TABLE, type Screen } from '../../views/screens/index.js';
import { helpRows } from '../../views/screens/help.js';
import type { ScreenEntry } from '../../views/screens/screen.js';
import { filterEditText, initialUi, matchesFilter, reduceUi, sortLegend, sortRows, type SortColumn, type UiContext, type UiState } from '../../views/ui-state.js';
import { keysLabel, type Binding, type InputMode } from '../../views/keymap.js';
import { RunStore } from '../../src/store/run-store.js';
import { RunReader } from '../../src/live/run-reader.js';
import { createLiveStore } from '../../src/live/live-store.js';
import { createGateBroker } from '../../src/pipeline/gate-broker.js';
import { initialLiveState, withPlannedSteps } from '../../src/live/live-state.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { decideGate } from '../../src/pipeline/gates.js';
import { Gate } from '../../src/schema/recipe.js';
import { parseRecipe } from '../../src/schema/recipe-load.js';
import { plan as makePlan } from '../../src/pipeline/plan.js';
import { Drive } from '../../src/world/drive.js';
import { renderFrame } from '../../src/world/render.js';
import { DEMO_RECIPE, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';

/** What the terminal sends for each key name of the binding table. */
const SEQUENCE: Record<string, string> = {
  return: '\r',
  escape: '\x1b',
  tab: '\t',
  backspace: '\x7f',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  pageup: '\x1b[5~',
  pagedown: '\x1b[6~',
  home: '\x1b[H',
  end: '\x1b[F',
  'ctrl+c': '\x03',
  'ctrl+u': '\x15',
  'ctrl+w': '\x17',
};
const seq = (name: string) => SEQUENCE[name] ?? (name.length === 1 ? name : undefined);
const ANSI = /\x1b\[[0-9;]*m/g;
const RUN = 'r-20261125-215245-a1713b';
const LIVE = 'r-live-0001';
const OLD = 'r-20261124-101010-0ld0ld';
const FIXTURE = join(ROOT, 'test', 'fixtures', 'workbench-run.ndjson');

let store: RunStore;
let reader: RunReader;
let cleanup: () => void;

beforeAll(async () => {
  const t = tempDir();
  cleanup = t.cleanup;
  const drive = new Drive({ driveId: 'd', seed: 5, conditions: { weather: 'clear', timeOfDay: 'day', roadType: 'rural', region: 'south' } });
  drive.step();
  const framePng = join(t.dir, 'frame.png');
  writeFileSync(framePng, await sharp(Buffer.from(renderFrame(drive.state()).rgb), { raw: { width: 320, height: 192, channels: 3 } }).png().toBuffer());
  store = new RunStore(join(t.dir, 'store'));
  reader = new RunReader(store);
  const text = readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.recipe.yaml'), 'utf8');
  const nodes = makePlan(parseRecipe(text, DEMO_RECIPE)).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind }));
  // Three runs, so that every move on the run list has somewhere to go.
  store.createRun({ id: OLD, name: 'nightly', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: '0', lineage: {}, host: 'gpu-box', actor: 'ci@example.com' });
  store.finishRun(OLD, 'failed', 2, 'a step failed');
  store.createRun({ id: RUN, name: 'demo', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: '0', lineage: {}, host: 'vm', actor: 'ci@example.com' });
  store.planSteps(RUN, nodes);
  for (const l of readFileSync(FIXTURE, 'utf8').trim().split('\n')) {
    const { attempt, event } = JSON.parse(l) as { attempt: number; event: unknown };
    const e = PaddockEvent.parse(event);
    if (e.type === 'failure') e.evidence = [{ path: framePng, note: 'frame' }];
    if (e.type === 'step' && e.step) {
      if (e.status === 'started') store.startStep(RUN, e.step, { inputDigest: 'fixture', runner: e.runner ?? 'local', host: e.host ?? 'local' });
      else if (e.status === 'succeeded' || e.status === 'failed' || e.status === 'cancelled') store.finishStep(RUN, e.step, e.status, e.error);
    }
    if (e.type !== 'run') store.appendEvents(RUN, [{ event: e, attempt }]);
  }
  store.finishRun(RUN, 'succeeded', 0);
  store.createRun({ id: LIVE, name: 'demo', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: '0', lineage: {}, host: 'vm', actor: 'ana@example.com' });
  store.planSteps(LIVE, nodes);
});
afterAll(() => {
  store.close();
  cleanup();
});

interface Open {
  screen: Screen;
  live?: boolean;
  columns?: number;
  rows?: number;
  color?: boolean;
}

/**
 * The workbench showing `screen`, reached with its key from another screen (so that Esc has
 * somewhere to go back to); live: the run in progress with a gate waiting, else the recorded run.
 */
async function open({ screen, live = false, columns = 80, rows = 24, color = true }: Open) {
  const handlers = { onCancel: vi.fn(), onForceQuit: vi.fn(), onQuit: vi.fn() };
  const broker = createGateBroker();
  let liveRun;
  if (live) {
    const liveStore = createLiveStore(withPlannedSteps({ ...initialLiveState, runId: LIVE }, [{ id: 'bench-production', stage: 'package' }]));
    liveStore.dispatch({ v: 1, type: 'run', run: LIVE, status: 'started', ts: Date.now() });
    for (const l of readFileSync(FIXTURE, 'utf8').trim().split('\n').slice(0, 40)) {
      const e = PaddockEvent.parse((JSON.parse(l) as { event: unknown }).event);
      if (e.type !== 'run') liveStore.dispatch(e);
    }
    liveStore.flush();
    const gate = Gate.parse({ id: 'release-signoff', stage: 'evaluate', metric: 'coco.AP', target: 'candidate', op: '>=', threshold: 0.4, approval: 'required' });
    void broker.request('release-signoff', decideGate(gate, [{ name: 'coco.AP', value: 0.479, target: 'candidate', slice: null, step_id: 'evaluate' }]), new AbortController().signal);
    liveRun = { runId: LIVE, store: liveStore, broker, onCancel: handlers.onCancel, onForceQuit: handlers.onForceQuit };
  }
  const from: Screen = screen === 'runs' ? 'gates' : 'runs';
  const app = render(
    <Workbench reader={reader} actor="ana@example.com" theme={makeTheme(color, color)} depth={color ? 'truecolor' : 'mono'} size={{ columns, rows }} initialRun={live ? undefined : RUN} initialScreen={from} live={liveRun} onQuit={handlers.onQuit} />,
  );
  const frame = () => (app.lastFrame() ?? '').replace(ANSI, '');
  const press = async (...names: string[]) => {
    for (const n of names) {
      const s = seq(n);
      if (s === undefined) throw new Error(`no terminal sequence for the key "${n}"`);
      app.stdin.write(s);
      await new Promise((r) => setTimeout(r, 15));
    }
  };
  /** Waits until two reads 20 ms apart agree. */
  const settled = async () => waitFor(async () => {
    const a = frame();
    await new Promise((r) => setTimeout(r, 20));
    return a === frame() && a;
  }, 'the frame to settle');
  const key = SCREEN_TABLE.find((s) => s.id === screen)!.key;
  await press(key);
  await waitFor(() => frame().split('\n')[0].includes(`[${key} ${screen}]`), `the ${screen} screen`);
  return { app, frame, press, settled, handlers, broker };
}

const footer = (frame: string) => frame.split('\n').at(-1) ?? '';

function fits(frame: string, columns: number, rows: number) {
  const lines = frame.split('\n');
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
}

describe('the help overlay', () => {
  it('at 80x24 fits, is grouped, and scrolls to every key and every : command', async () => {
    const { frame, press, app } = await open({ screen: 'slices' });
    await press('?');
    await waitFor(() => frame().includes('HELP: keys and commands'), 'the help');
    fits(frame(), 80, 24);
    // The first page starts with the screens: 1 to 6 and Esc are there without typing anything.
    for (const s of SCREEN_TABLE) expect(frame()).toMatch(new RegExp(`^ {2}${s.key} {10}${s.title.replace(/[:]/g, '\\$&')}$`, 'm'));
    expect(frame()).toMatch(/^ {2}Esc +back/m);
    expect(footer(frame())).toContain('PgUp/PgDn');
    const total = Number(/lines 1-\d+ of (\d+)/.exec(frame())?.[1]);
    expect(total).toBeGreaterThan(20); // it does not fit one page at 24 rows: it must scroll
    const seen = new Set(frame().split('\n'));
    const last = new RegExp(`lines \\d+-${total} of ${total}`);
    for (let i = 0; i < 10 && !last.test(frame()); i++) {
      const was = frame();
      await press('pagedown');
      await waitFor(() => frame() !== was, `the page after:\n${was}`);
      for (const l of frame().split('\n')) seen.add(l);
      fits(frame(), 80, 24);
    }
    expect(frame()).toMatch(last);
    const atEnd = frame();
    await press('pagedown', 'down');
    await new Promise((r) => setTimeout(r, 40));
    expect(frame()).toBe(atEnd); // the end stops scrolling
    // Every line of every group was on one of the pages, whole.
    // (helpRows keeps every word of every line: the test of wrapping below.)
    for (const row of helpRows(KEYMAP.helpSections(), 80)) expect(seen.has(`  ${row.text}`), row.text).toBe(true);
    for (const section of KEYMAP.helpSections()) expect(seen.has(`  ${section.title}`), section.title).toBe(true);
    expect(KEYMAP.helpSections().map((s) => s.title.split(' ')[0])).toEqual(['SCREENS', 'MOVEMENT', 'ACTIONS', 'COMMANDS']);
    await press('home');
    await waitFor(() => /lines 1-\d+ of/.test(frame()), 'back at the top');
    await press('end', 'up');
    await waitFor(() => new RegExp(`lines \\d+-${total - 1} of ${total}`).test(frame()), 'one line up from the end');
    app.unmount();
  });

  it('typing filters it from its top; Ctrl+U clears the filter; ? closes it', async () => {
    const { frame, press, app } = await open({ screen: 'runs' });
    await press('?', 'pagedown', 's', 'o', 'r', 't');
    await waitFor(() => frame().includes('matching "sort"') && frame().includes('all '), 'the filtered help');
    expect(frame()).toMatch(/^ {2}o +sort by the next column/m);
    expect(frame()).toMatch(/^ {2}:sort +sort the list shown/m);
    expect(frame()).not.toContain('freeze');
    await press('z', 'z');
    await waitFor(() => frame().includes('nothing matches "sortzz"'), 'nothing matches');
    await press('ctrl+u');
    await waitFor(() => frame().includes('HELP: keys and commands (type to filter)'), 'the filter cleared');
    await press('?');
    await waitFor(() => frame().includes('RUNS (3)'), 'the help closed');
    app.unmount();
  });

  it.each([40, 60, 80])('wraps a line too long for %i columns under its hint: every word shows', (columns) => {
    const rows = helpRows(KEYMAP.helpSections(), columns);
    for (const r of rows) expect(r.text.length + 2, r.text).toBeLessThanOrEqual(Math.max(22, columns));
    const words = (s: string) => s.split(/\s+/).filter(Boolean);
    expect(rows.flatMap((r) => words(r.text))).toEqual(KEYMAP.helpSections().flatMap((s) => [s.title, ...s.lines]).flatMap(words));
    if (columns === 40) expect(rows.some((r) => r.text.startsWith(' '.repeat(11)))).toBe(true);
  });

  it('at 60x20 in monochrome ASCII fits and still scrolls', async () => {
    const { frame, press, app } = await open({ screen: 'failures', columns: 60, rows: 20, color: false });
    await press('?');
    await waitFor(() => /lines 1-\d+ of \d+/.test(frame()), 'the help');
    fits(frame(), 60, 20);
    expect([...new Set(frame().replace(/[\x20-\x7e\n]/g, ''))].join('')).toBe('');
    await press('pagedown');
    await waitFor(() => !/lines 1-/.test(frame()), 'the second page');
    app.unmount();
  });
});

describe('the footer', () => {
  it.each(SCREEN_TABLE.flatMap((s) => [[s.id, 80], [s.id, 60]] as const))('on %s at %i columns keeps "? help" and "q quit", whole, and the hints that fit', async (screen, columns) => {
    const { frame, app, settled } = await open({ screen, columns });
    await settled();
    const f = footer(frame());
    expect(f.length).toBeLessThanOrEqual(columns);
    expect(f).toMatch(/\? help · q quit$/);
    expect(f).not.toContain('…');
    // Each hint shown is one the binding table has for this screen.
    const hints = KEYMAP.footerHints('normal', screen).split(' · ');
    for (const h of f.split(' · ')) expect(hints).toContain(h);
    app.unmount();
  });

  it.each([80, 60])('a message at %i columns leaves "? help · q quit" in place', async (columns) => {
    const { frame, press, app } = await open({ screen: 'gates', columns });
    await press('x');
    const message = 'gates are answered while their run is running';
    // Whole where there is room, else cut (with its end marked), never the two hints.
    await waitFor(() => footer(frame()).startsWith(columns === 80 ? `${message} · ` : message.slice(0, 30)), `the message: ${footer(frame())}`);
    expect(footer(frame())).toMatch(/\? help · q quit$/);
    expect(footer(frame()).length).toBeLessThanOrEqual(columns);
    app.unmount();
  });

  it('drops the spare hints first, then the global ones, then the screen\'s own from the end', () => {
    const all = KEYMAP.footerHints('normal', 'failures').split(' · ');
    let previous = all;
    for (let width = 200; width >= 15; width--) {
      const shown = KEYMAP.footerHints('normal', 'failures', true, width).split(' · ');
      expect(shown.slice(-2)).toEqual(['? help', 'q quit']);
      expect(shown.join(' · ').length <= width || shown.length === 2).toBe(true);
      for (const h of shown) expect(previous).toContain(h); // narrower never brings one back
      previous = shown;
    }
    const at80 = KEYMAP.footerHints('normal', 'failures', true, 80);
    expect(at80).not.toContain('a approve');
    expect(at80).toContain(all[0]);
  });
});

/** One key of the table to press: in which mode, on which screen. */
interface KeyCase {
  label: string;
  key: string;
  binding: Binding;
  mode: InputMode;
  screen: Screen;
  live: boolean;
}

/** What puts the workbench in `mode` with something to act on (a line typed, the help scrolled, the cursor off the top). */
function preparation(c: KeyCase): string[] {
  const erase = ['erase-char', 'erase-word', 'erase-line'].includes(c.binding.action);
  switch (c.mode) {
    case 'normal':
      // The recorded run has no replay segments and no sim runs: on those screens j would say the list is empty before the key under test does.
      return c.screen !== 'replay' && c.screen !== 'sim' && (SCREEN_TABLE as readonly ScreenEntry[]).find((s) => s.id === c.screen)?.rows ? ['j'] : [];
    case 'help':
      return erase ? ['?', 'o', ' ', 'r'] : ['?', 'down', 'down'];
    case 'command':
      return [':', 'a', ' ', 'b'];
    case 'filter':
      return ['/', 'a', ' ', 'b'];
    case 'note':
      return ['i', 'a', ' ', 'b'];
    case 'reason':
      return ['x', 'a', ' ', 'b'];
    case 'confirm':
      return ['a', 'o', 'k', 'return'];
    case 'confirm-quit':
      return ['q'];
  }
}

/** The modes that need the run in progress (a gate waiting, steps running). */
const LIVE_MODES: readonly InputMode[] = ['reason', 'confirm', 'confirm-quit'];
/** Modes a screen can be put in: a filter only where the screen takes it, a note only on failures. */
// The recorded run has no failed sim run to write a note on: the sim screen's notes are driven in test/views/sim-view.test.tsx.
const reachable = (mode: InputMode, screen: Screen) => (mode === 'filter' ? KEYMAP.lookup('normal', screen, '/') === 'filter' : mode === 'note' ? KEYMAP.lookup('normal', screen, 'i') === 'note' && screen !== 'sim' : true);

const CASES: KeyCase[] = [];
for (const binding of BINDINGS) {
  for (const mode of binding.modes) {
    for (const s of SCREEN_TABLE) {
      if (binding.screens && !binding.screens.includes(s.id)) continue;
      if (!reachable(mode, s.id)) continue;
      // Where a key has two bindings in a mode, the first one is what it does (lookup).
      for (const key of binding.keys.filter((k) => KEYMAP.lookup(mode, s.id, k) === binding.action)) {
        // A screen's own key shows the screen already shown.
        if (binding.action === `go-${s.id}`) continue;
        const live = LIVE_MODES.includes(mode);
        CASES.push({ label: `${keysLabel({ keys: [key] })} (${binding.hint}) in ${mode} on ${s.id}${live ? ', live' : ''}`, key, binding, mode, screen: s.id, live });
        // The gate keys and q also on the run in progress, where they ask rather than explain.
        if (mode === 'normal' && ['approve', 'reject', 'quit', 'interrupt'].includes(binding.action)) CASES.push({ label: `${keysLabel({ keys: [key] })} (${binding.hint}) in normal on ${s.id}, live`, key, binding, mode, screen: s.id, live: true });
      }
    }
  }
}

describe('every key in the binding table', () => {
  it('the walk covers every binding, every mode, every screen', () => {
    expect(new Set(CASES.map((c) => c.binding))).toEqual(new Set(BINDINGS));
    expect(new Set(CASES.map((c) => c.mode)).size).toBe(8);
    for (const s of SCREEN_TABLE) expect(CASES.filter((c) => c.screen === s.id && c.mode === 'normal').length, s.id).toBeGreaterThan(15);
  });

  it.each(CASES.map((c) => [c.label, c] as const))('%s changes what shows, or says why not', async (_, c) => {
    const { frame, press, settled, handlers, app } = await open({ screen: c.screen, live: c.live });
    await press(...preparation(c));
    // The run in progress counts its elapsed time in the header every second: the rest must change.
    const body = () => (c.live ? frame().split('\n').slice(1).join('\n') : frame());
    await settled();
    const before = body();
    await press(c.key);
    if (c.binding.action === 'quit' && !c.live) {
      await waitFor(() => handlers.onQuit.mock.calls.length > 0, 'q to quit');
    } else if (c.binding.action === 'interrupt') {
      await waitFor(() => (c.live ? handlers.onCancel.mock.calls.length > 0 && frame().includes('stopping the running steps') : handlers.onQuit.mock.calls.length > 0), 'Ctrl+C to stop or quit');
    } else {
      await waitFor(() => body() !== before, `a change after ${c.label}; the frame stayed:\n${before}`, 2000);
    }
    app.unmount();
  });
});

describe('sort and filter', () => {
  it.each([
    ['runs', /(\d+) runs; sorted by (\w+)/],
    ['slices', /\d+ slices; sorted by (\w+)/],
    ['failures', /FAILURES \d+, (?:by (contribution)|sorted by (\w+))/],
  ] as const)('o on %s steps through every sort column and back; O reverses the rows', async (screen, pattern) => {
    const { frame, press, settled, app } = await open({ screen, columns: 120, rows: 40 });
    const entry = (SCREEN_TABLE as readonly ScreenEntry[]).find((s) => s.id === screen)!;
    const sorts = entry.rows!.sorts!;
    expect(sorts.length).toBeGreaterThan(2);
    const sortShown = () => {
      const m = pattern.exec(frame());
      return m ? m.slice(1).filter((x) => x && !/^\d+$/.test(x))[0] : undefined;
    };
    await waitFor(() => sortShown() === sorts[0], `sorted by ${sorts[0]}: ${frame()}`);
    for (const next of [...sorts.slice(1), sorts[0]]) {
      await press('o');
      await waitFor(() => sortShown() === next, `sorted by ${next}: ${frame()}`);
    }
    // The last row goes first: the row selected at the bottom (G) is the one selected at the top (g) once reversed.
    const selected = () => frame().split('\n').find((l) => l.startsWith('> '))?.slice(2);
    const first = selected();
    await press('G');
    await waitFor(() => selected() !== first, 'the last row selected');
    const lastRow = await settled().then(selected);
    await press('g', 'O');
    await waitFor(() => frame().includes('reversed'), 'reversed');
    await waitFor(() => selected() === lastRow, `the last row first: ${lastRow}\n${frame()}`);
    app.unmount();
  });

  it('/ on failures edits the filter kept with a space after it; the words typed narrow it further', async () => {
    const failures = reader.detail(RUN)!.failures;
    // A slice, and a class some but not all of its failures have.
    const pick = [...new Set(failures.flatMap((f) => f.slices))].flatMap((slice) => {
      const inSlice = failures.filter((f) => f.slices.includes(slice));
      return [...new Set(inSlice.map((f) => f.class ?? ''))].filter(Boolean).map((cls) => ({ slice, inSlice, cls, both: inSlice.filter((f) => f.class === cls).length })).filter((x) => x.both < x.inSlice.length);
    })[0];
    expect(pick, 'a slice whose failures are of several classes').toBeDefined();
    const { slice, inSlice, cls, both } = pick;
    const kind = `class=${cls}`;
    const { frame, press, app } = await open({ screen: 'failures', columns: 120, rows: 40 });
    await press(':', ...`failures slice=${slice}`, 'return');
    await waitFor(() => frame().includes(`FAILURES ${inSlice.length} of ${failures.length} (filter: slice=${slice})`), `the slice's failures: ${frame()}`);
    await press('/');
    await waitFor(() => footer(frame()).startsWith(`/slice=${slice} ▏`), `the filter being edited, a space after it: ${footer(frame())}`);
    await press(...kind);
    await waitFor(() => footer(frame()).startsWith(`/slice=${slice} ${kind}▏`), 'the words typed after it');
    await waitFor(() => frame().includes(`FAILURES ${both} of ${failures.length} (filter: slice=${slice} ${kind})`), `both words filter: ${frame()}`);
    await press('ctrl+w');
    await waitFor(() => footer(frame()).startsWith(`/slice=${slice} ▏`) && frame().includes(`FAILURES ${inSlice.length} of`), 'Ctrl+W erases the last word');
    await press('return');
    await waitFor(() => footer(frame()).includes('? help · q quit'), 'the filter kept');
    app.unmount();
  });

  it('/ on runs: each word must match, in any order', async () => {
    const { frame, press, app } = await open({ screen: 'runs' });
    await press('/', ...'demo', 'return');
    await waitFor(() => frame().includes('RUNS (2 /demo)'), `two demo runs: ${frame()}`);
    await press('/');
    await waitFor(() => footer(frame()).startsWith('/demo ▏'), 'the filter being edited');
    await press(...'live', 'return');
    await waitFor(() => frame().includes('RUNS (1 /demo live)'), `demo and live: ${frame()}`);
    expect(frame()).toContain(LIVE);
    app.unmount();
  });
});

describe('the reducer behind these keys', () => {
  const ctx = (over: Partial<UiContext> = {}): UiContext => ({
    keymap: KEYMAP,
    screens: SCREEN_TABLE,
    rows: { runs: ['r-3', 'r-2', 'r-1'], run: ['a', 'b'], latency: [], slices: ['night', 'day'], failures: [], gates: ['g'] },
    live: false,
    active: false,
    pendingGates: [],
    actor: 'ana@example.com',
    ...over,
  });
  const keys = (state: UiState, c: UiContext, ...names: string[]) => names.reduce((s, name) => reduceUi(s, { type: 'key', name, ctx: c }), state);
  const at = (screen: string, over: Partial<UiState> = {}) => ({ ...initialUi({ screen, now: 0 }), ...over });

  it.each([
    ['↓ scrolls the help a line, stopping at its last page', at('runs'), ctx({ help: { lines: 30, page: 20 } }), ['?', ...Array<string>(15).fill('down')], { mode: 'help', helpCursor: 10 }],
    ['PgDn scrolls a page less one line; PgUp back', at('runs'), ctx({ help: { lines: 60, page: 20 } }), ['?', 'pagedown', 'pagedown', 'pageup'], { helpCursor: 19 }],
    ['End goes to the last page, Home to the top', at('runs'), ctx({ help: { lines: 60, page: 20 } }), ['?', 'end'], { helpCursor: 40 }],
    ['typing filters the help from its top', at('runs'), ctx({ help: { lines: 60, page: 20 } }), ['?', 'end', 's', 'o'], { text: 'so', helpCursor: 0 }],
    ['Ctrl+W erases the help filter\'s last word', at('runs'), ctx(), ['?', 'a', ' ', 'b', 'ctrl+w'], { text: 'a ' }],
    ['? closes the help', at('runs'), ctx(), ['?', '?'], { mode: 'normal' }],
    ['/ edits the filter kept: a space after it', at('failures', { filter: { failures: 'slice=night' } }), ctx(), ['/'], { mode: 'filter', text: 'slice=night ' }],
    ['what is typed is a new word; the filter applied has no outer spaces', at('failures', { filter: { failures: 'slice=night' } }), ctx(), ['/', 'k', 'return'], { filter: { failures: 'slice=night k' }, mode: 'normal' }],
    ['the space alone changes no filter', at('failures', { filter: { failures: 'slice=night' } }), ctx(), ['/'], { filter: { failures: 'slice=night' } }],
    ['Ctrl+U erases the line, and the filter with it', at('runs', { filter: { runs: 'demo' } }), ctx(), ['/', 'ctrl+u'], { text: '', filter: { runs: '' } }],
    ['o names the column it sorts by', at('runs'), ctx(), ['o'], { sort: { runs: 'status' }, message: 'sorted by status (o next column, O reverses)' }],
    ['o comes back to the first column', at('runs'), ctx(), ['o', 'o', 'o', 'o', 'o'], { sort: { runs: 'started' } }],
    ['O reverses and says so', at('runs'), ctx(), ['O'], { reversed: { runs: true }, message: 'order reversed (O again: back)' }],
    [':sort sorts the list shown', at('failures'), ctx(), [':', ...'sort kind', 'return'], { screen: 'failures', sort: { failures: 'kind' } }],
    [':sort from a screen without a list goes to the list with that column', at('latency'), ctx(), [':', ...'sort delta', 'return'], { screen: 'slices', sort: { slices: 'delta' } }],
    [':sort with an unknown column names the columns of the list shown', at('runs'), ctx(), [':', ...'sort zz', 'return'], { message: 'sort runs by one of: started, status, name, host, took' }],
    ['moving where there is no list says so', at('latency'), ctx(), ['j'], { message: 'the latency screen has no list to move in' }],
    ['moving in an empty list says so', at('failures'), ctx(), ['G'], { message: 'nothing to move over: the failures list is empty' }],
    ['Tab away from the latency screen names the target in front', at('run'), ctx({ targets: ['candidate/cpu', 'production/cpu'] }), ['tab'], { target: 1, message: 'latency: production/cpu in front (3 shows it)' }],
    ['Tab with one target says so', at('latency'), ctx({ targets: ['candidate/cpu'] }), ['tab'], { target: 0, message: "candidate/cpu is this run's one latency target" }],
    ['f with no run shown says there is nothing to freeze', at('run'), ctx(), ['f'], { frozen: undefined, message: 'nothing to freeze: no run is shown' }],
    ['Esc with nowhere to go back says so', at('runs'), ctx(), ['escape'], { message: 'nothing to go back to' }],
    ['Ctrl+C at a confirmation stops the steps and drops the question', at('run'), ctx({ live: true, active: true, pendingGates: ['g'] }), ['a', 'return', 'ctrl+c'], { mode: 'normal', asking: undefined, interrupts: 1 }],
  ] as const)('%s', (_, from, c, names, want) => {
    const end = keys(from, c, ...names);
    expect(Object.fromEntries(Object.keys(want).map((k) => [k, end[k as keyof UiState]]))).toEqual(want);
  });
});

describe('what the lists share', () => {
  const cols: SortColumn<{ n: number; s: string }>[] = [
    { name: 'n', order: 'largest first', compare: (a, b) => b.n - a.n },
    { name: 's', compare: (a, b) => a.s.localeCompare(b.s) },
  ];
  const rows = [{ n: 1, s: 'b' }, { n: 3, s: 'a' }, { n: 2, s: 'c' }, { n: 3, s: 'd' }];

  it('sortRows sorts by the column named (the first by default), stably, reversed when asked', () => {
    expect(sortRows(rows, cols, undefined, false).map((r) => r.s)).toEqual(['a', 'd', 'c', 'b']);
    expect(sortRows(rows, cols, 's', false).map((r) => r.s)).toEqual(['a', 'b', 'c', 'd']);
    expect(sortRows(rows, cols, 'n', true).map((r) => r.s)).toEqual(['b', 'c', 'd', 'a']);
    expect(sortRows(rows, cols, 'nope', false).map((r) => r.s)).toEqual(['a', 'd', 'c', 'b']);
    expect(rows.map((r) => r.s)).toEqual(['b', 'a', 'c', 'd']); // the input is left as it was
    expect(sortLegend(cols, undefined, false)).toBe('sorted by n, largest first');
    expect(sortLegend(cols, 's', true)).toBe('sorted by s (reversed)');
  });

  it.each([
    ['r-1 demo succeeded vm', 'demo', true],
    ['r-1 demo succeeded vm', 'vm  DEMO', true],
    ['r-1 demo succeeded vm', 'demo failed', false],
    ['r-1 demo succeeded vm', '   ', true],
  ] as const)('matchesFilter(%j, %j) is %s', (text, filter, want) => {
    expect(matchesFilter(text, filter)).toBe(want);
  });

  it('filterEditText puts one space after the filter kept, none after no filter', () => {
    expect(filterEditText('slice=night')).toBe('slice=night ');
    expect(filterEditText('slice=night  ')).toBe('slice=night ');
    expect(filterEditText('')).toBe('');
    expect(filterEditText(undefined)).toBe('');
  });
});
