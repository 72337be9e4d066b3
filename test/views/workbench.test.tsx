/**
 * The workbench at 80x24 and 200x60, from a store built out of a recorded demo run
 * (test/fixtures/workbench-run.ndjson, made from a real `paddock demo` with
 * scripts/export-run-events.mjs: benchmarks, the evaluation's slices and 40 of its failures,
 * verdicts) plus a live run with a gate waiting for a person. Keys are sent as constants.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import React from 'react';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { render } from 'ink-testing-library';
import sharp from 'sharp';
import { Workbench } from '../../views/workbench.js';
import { keyNames } from '../../views/key-names.js';
import { makeTheme } from '../../views/theme.js';
import { footerHints, helpLines, lookup, BINDINGS } from '../../views/screens/index.js';
import type { ColorDepth } from '../../views/frame-cells.js';
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

export const KEYS = { enter: '\r', escape: '\x1b', ctrlC: '\x03', tab: '\t', backspace: '\x7f', up: '\x1b[A', down: '\x1b[B' } as const;
const ANSI = /\x1b\[[0-9;]*m/g;
const RUN = 'r-20261125-215245-a1713b';
const LIVE = 'r-live-0001';

let store: RunStore;
let reader: RunReader;
let cleanup: () => void;
let framePng: string;

/** A store holding the recorded demo run, its failures pointing at a rendered world frame. */
beforeAll(async () => {
  const t = tempDir();
  cleanup = t.cleanup;
  const drive = new Drive({ driveId: 'd', seed: 5, conditions: { weather: 'clear', timeOfDay: 'day', roadType: 'rural', region: 'south' } });
  drive.step();
  framePng = join(t.dir, 'frame.png');
  writeFileSync(framePng, await sharp(Buffer.from(renderFrame(drive.state()).rgb), { raw: { width: 320, height: 192, channels: 3 } }).png().toBuffer());
  store = new RunStore(join(t.dir, 'store'));
  reader = new RunReader(store);
  // The recipe the recorded run was made with (the demo's before it gained its package steps).
  const text = readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.recipe.yaml'), 'utf8');
  store.createRun({ id: RUN, name: 'demo', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: createHash('sha256').update(text).digest('hex'), lineage: {}, host: 'vm', actor: 'ci@example.com' });
  const recipe = parseRecipe(text, DEMO_RECIPE);
  store.planSteps(RUN, makePlan(recipe).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind })));
  const lines = readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.ndjson'), 'utf8').trim().split('\n');
  for (const l of lines) {
    const { attempt, event } = JSON.parse(l) as { attempt: number; event: unknown };
    const e = PaddockEvent.parse(event);
    if (e.type === 'failure') e.evidence = [{ path: framePng, note: 'frame' }];
    if (e.type === 'step' && e.step) {
      if (e.status === 'started') store.startStep(RUN, e.step, { inputDigest: 'fixture', runner: e.runner ?? 'local', host: e.host ?? 'local' });
      else if (e.status === 'succeeded' || e.status === 'failed' || e.status === 'cancelled') store.finishStep(RUN, e.step, e.status, e.error);
    }
    if (e.type === 'run') continue;
    store.appendEvents(RUN, [{ event: e, attempt }]);
  }
  store.finishRun(RUN, 'succeeded', 0);
  store.createRun({ id: LIVE, name: 'demo', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: '0', lineage: {}, host: 'vm', actor: 'ana@example.com' });
  store.planSteps(LIVE, makePlan(recipe).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind })));
});
afterAll(() => {
  store.close();
  cleanup();
});

interface SetupOptions {
  columns?: number;
  rows?: number;
  color?: boolean;
  unicode?: boolean;
  depth?: ColorDepth;
  live?: boolean;
  screen?: 'runs' | 'run' | 'latency' | 'slices' | 'failures' | 'gates';
}

function setup(opts: SetupOptions = {}) {
  const handlers = { onCancel: vi.fn(), onForceQuit: vi.fn(), onQuit: vi.fn() };
  const size = { columns: opts.columns ?? 80, rows: opts.rows ?? 24 };
  const broker = createGateBroker();
  let answer: Promise<unknown> | undefined;
  let liveStore;
  if (opts.live) {
    liveStore = createLiveStore(withPlannedSteps({ ...initialLiveState, runId: LIVE }, [{ id: 'bench-production', stage: 'package' }]));
    liveStore.dispatch({ v: 1, type: 'run', run: LIVE, status: 'started', ts: Date.now() });
    for (const l of readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.ndjson'), 'utf8').trim().split('\n').slice(0, 40)) {
      const e = PaddockEvent.parse((JSON.parse(l) as { event: unknown }).event);
      if (e.type !== 'run') liveStore.dispatch(e);
    }
    liveStore.flush();
    const gate = Gate.parse({ id: 'release-signoff', stage: 'evaluate', metric: 'coco.AP', target: 'candidate', op: '>=', threshold: 0.4, approval: 'required' });
    answer = broker.request('release-signoff', decideGate(gate, [{ name: 'coco.AP', value: 0.479, target: 'candidate', slice: null, step_id: 'evaluate' }]), new AbortController().signal);
  }
  const app = render(
    <Workbench
      reader={reader}
      actor="ana@example.com"
      theme={makeTheme(opts.color ?? true, opts.unicode ?? true)}
      depth={opts.depth ?? 'truecolor'}
      size={size}
      initialRun={opts.live ? undefined : RUN}
      initialScreen={opts.screen}
      live={opts.live ? { runId: LIVE, store: liveStore!, broker, onCancel: handlers.onCancel, onForceQuit: handlers.onForceQuit } : undefined}
      onQuit={handlers.onQuit}
    />,
  );
  const raw = () => app.lastFrame() ?? '';
  const frame = () => raw().replace(ANSI, '');
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { app, frame, raw, press, handlers, broker, answer, size, liveStore };
}

function fits(frame: string, columns: number, rows: number) {
  const lines = frame.split('\n');
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
}

const SCREEN_KEYS = [
  ['1', 'runs', /RUNS \(2\)/],
  ['2', 'run', /evaluate\/evaluate\s+. succeeded/],
  ['3', 'latency', /LATENCY candidate\/cpu-fp32 {2}p50 [\d.]+ {2}p95 [\d.]+ {2}p99 [\d.]+ ms {2}n=300/],
  ['4', 'slices', /\* +night\+rain\+ped/],
  ['5', 'failures', /FAILURES 40, by contribution to the regression/],
  ['6', 'gates', /PASS +candidate-p99-latency/],
] as const;

describe('workbench screens', () => {
  it.each([
    [80, 24],
    [200, 60],
  ])('every screen lays out at %ix%i: at most rows - 1 lines, none wider than the terminal', async (columns, rows) => {
    const { frame, press, app } = setup({ columns, rows, screen: 'run' });
    for (const [key, name, content] of SCREEN_KEYS) {
      await press(key);
      await waitFor(() => content.test(frame()), `the ${name} screen: ${frame()}`);
      fits(frame(), columns, rows);
      expect(frame().split('\n')[0]).toMatch(new RegExp(`\\[${key} ${name}\\]`));
    }
    app.unmount();
  });

  it.each(SCREEN_KEYS)('%s %s is monochrome without color and ASCII-only without Unicode', async (key, name, content) => {
    const { raw, frame, press, app } = setup({ color: false, unicode: false, depth: 'mono', screen: 'run' });
    await press(key);
    await waitFor(() => content.test(frame()) || (name === 'slices' && /night\+rain\+ped/.test(frame())), `the ${name} screen`);
    expect(raw()).not.toMatch(/\x1b\[(3|4|9|10)[0-9](;[0-9;]*)?m/); // no colors at all
    expect([...new Set(frame().replace(/[\x20-\x7e\n]/g, ''))].join('')).toBe('');
    if (name !== 'latency') expect(frame()).toMatch(/^> /m); // the selection shows without color
    app.unmount();
  });

  it('runs: Enter opens the selected run, / filters the history', async () => {
    const { frame, press, app } = setup({ screen: 'runs' });
    await waitFor(() => frame().includes('RUNS (2)'), 'the run list');
    await press('/', 'l', 'i', 'v', 'e', KEYS.enter);
    await waitFor(() => frame().includes('RUNS (1 /live)'), 'the filtered list');
    await press(KEYS.escape, '/', KEYS.escape);
    await waitFor(() => frame().includes('RUNS (2)'), 'the filter cleared');
    await press('j', KEYS.enter);
    await waitFor(() => frame().includes(`${RUN}`) && frame().includes('STAGE/STEP'), 'the run opened');
    await press(KEYS.escape);
    await waitFor(() => frame().includes('RUNS (2)'), `Esc goes back: ${frame()}`);
    app.unmount();
  });

  it('slices: sortable, filterable, Enter opens the slice\'s failures', async () => {
    const { frame, press, app } = setup({ screen: 'slices', columns: 120, rows: 40 });
    await waitFor(() => frame().includes('sorted by regression'), 'the slice table');
    await press('o');
    await waitFor(() => frame().includes('sorted by delta'), 'sorted by delta');
    await press(':', 's', 'o', 'r', 't', ' ', 'n', 'a', 'm', 'e', KEYS.enter);
    await waitFor(() => frame().includes('sorted by name'), 'sorted by name');
    const rows = frame().split('\n').filter((l) => /^[> ] (!!|! |\* | {2}) \S/.test(l)).map((l) => l.slice(5).split(/\s+/)[0]);
    expect(rows).toEqual([...rows].sort());
    await press('/', 'r', 'a', 'i', 'n', KEYS.enter);
    await waitFor(() => !frame().includes(' day ') && frame().includes('night+rain'), 'only rain slices');
    await press(KEYS.enter);
    await waitFor(() => /FAILURES \d+ of 40 \(filter: slice=/.test(frame()), 'the failures of that slice');
    app.unmount();
  });

  it('failures: sorted by contribution, n/N step, the frame drawn, reviews and notes recorded with who and when', async () => {
    const { frame, raw, press, app } = setup({ screen: 'failures', columns: 120, rows: 40 });
    await waitFor(() => frame().includes('FAILURES 40'), 'the failure list');
    expect(frame()).toMatch(/^> {3}crit lost-object/m);
    expect(frame()).toContain(`png: ${framePng}`);
    expect(raw()).toMatch(/\x1b\[38;2;\d+;\d+;\d+m\x1b\[48;2;\d+;\d+;\d+m▀/); // truecolor half-blocks
    await press('n');
    await waitFor(() => frame().includes('2/40'), 'the next failure');
    await press('N');
    await waitFor(() => frame().includes('1/40'), 'the previous failure');
    const id = /CRITICAL lost-object {2}(\S+)/.exec(frame())![1];
    await press('m');
    await waitFor(() => frame().includes(`${id} marked reviewed by ana@example.com`), 'the review message');
    await press('N', 'i', 'o', 'c', 'c', 'l', 'u', 'd', 'e', 'd', KEYS.enter);
    await waitFor(() => frame().includes(`note added to ${id}`), 'the note');
    const reviews = reader.reviews(RUN).filter((r) => r.failure_id === id);
    expect(reviews.map((r) => [r.action, r.note, r.actor])).toEqual([
      ['reviewed', null, 'ana@example.com'],
      ['note', 'occluded', 'ana@example.com'],
    ]);
    expect(Math.abs(reviews[0].at - Date.now())).toBeLessThan(60_000);
    await waitFor(() => frame().includes('reviewed by ana@example.com at') && frame().includes(': occluded'), 'the review shown');
    await press(':', 'f', 'a', 'i', 'l', 'u', 'r', 'e', 's', ' ', 'k', 'i', 'n', 'd', '=', 'f', 'a', 'l', 's', 'e', KEYS.enter);
    await waitFor(() => /FAILURES \d+ of 40 \(filter: kind=false\)/.test(frame()) && !/lost-object/.test(frame().split('\n').slice(2, 8).join('\n')), 'only false positives');
    expect(() => store.db.prepare('DELETE FROM failure_reviews').run()).toThrow(/append-only/);
    app.unmount();
  });

  it.each([
    ['256', /\x1b\[38;5;\d+m/],
    ['16', /\x1b\[(3[0-7]|9[0-7])m\x1b\[(4[0-7]|10[0-7])m▀/],
    ['mono', /[░▒▓█]/],
  ] as const)('draws the frame with %s colors', async (depth, pattern) => {
    const { raw, frame, app } = setup({ screen: 'failures', depth, color: depth !== 'mono' });
    await waitFor(() => frame().includes('FAILURES 40'), 'the failure list');
    expect(raw()).toMatch(pattern);
    expect(raw()).not.toMatch(/\x1b\[38;2;/);
    app.unmount();
  });

  it('gates: rules, measured values and verdicts of a past run', async () => {
    const { frame, press, app } = setup({ screen: 'gates', columns: 200, rows: 60 });
    await waitFor(() => frame().includes('GATES (9)'), 'the gates');
    expect(frame()).toMatch(/PASS +overall-ap +coco\.AP of candidate >= production \+ 0\.01/);
    expect(frame()).toMatch(/latency\.p99_ms \(target candidate\/cpu-fp32\) = [\d.]+ meets <= 50/);
    await press('a');
    await waitFor(() => frame().includes('gates are answered while their run is running'), 'no answer on a past run');
    app.unmount();
  });
});

describe('workbench on a live run', () => {
  it('approves a gate with a reason after a confirmation, recording who', async () => {
    const { frame, press, answer, app } = setup({ live: true, screen: 'gates' });
    await waitFor(() => frame().includes('GATE release-signoff needs review'), 'the gate banner');
    await press('a');
    await waitFor(() => frame().includes('reason for approving (optional) release-signoff'), 'the reason prompt');
    await press('o', 'k', ' ', 'f', 'o', 'r', ' ', 'q', '4', KEYS.enter);
    await waitFor(() => frame().includes('approve release-signoff as ana@example.com because "ok for q4"? y / n'), 'the confirmation');
    await press('y');
    await expect(answer).resolves.toEqual({ decision: 'approved', actor: 'ana@example.com', reason: 'ok for q4' });
    app.unmount();
  });

  it('rejects only with a reason and a confirmation; n goes back to editing', async () => {
    const { frame, press, answer, broker, app } = setup({ live: true });
    await press('x');
    await waitFor(() => frame().includes('reason for rejecting (required)'), 'the reason prompt');
    await press(KEYS.enter);
    await waitFor(() => frame().includes('a reason is required to reject a gate'), 'the reason is required');
    await press('t', 'o', 'o', ' ', 's', 'l', 'o', 'w', 'x', KEYS.backspace, KEYS.enter);
    await waitFor(() => frame().includes('reject release-signoff as ana@example.com because "too slow"? y / n'), 'the confirmation');
    await press('n');
    await waitFor(() => frame().includes('reason for rejecting (required) release-signoff: too slow'), 'back to editing');
    expect(broker.pending()).toHaveLength(1);
    await press(KEYS.enter, 'y');
    await expect(answer).resolves.toEqual({ decision: 'rejected', actor: 'ana@example.com', reason: 'too slow' });
    app.unmount();
  });

  it('latency: Tab switches targets, f freezes the live data', async () => {
    const { frame, press, liveStore, app } = setup({ live: true, screen: 'latency', columns: 200, rows: 60 });
    await waitFor(() => /LATENCY \w+\/cpu-fp32/.test(frame()), 'the latency panes');
    await press('f');
    await waitFor(() => frame().includes('FROZEN'), 'frozen');
    const before = frame();
    const n = Number(/production\/cpu-fp32 .* n=(\d+)/.exec(before)?.[1] ?? 0);
    liveStore!.dispatch({ v: 1, type: 'latency', target: 'production/cpu-fp32', samples: [5, 5, 5], ts: Date.now() });
    liveStore!.flush();
    await new Promise((r) => setTimeout(r, 60));
    expect(frame()).toContain(`n=${n}`);
    await press('f');
    await waitFor(() => frame().includes(`n=${n + 3}`), 'live again');
    app.unmount();
  });

  it('asks before quitting while the run is active; Ctrl+C stops, a second Ctrl+C exits at once', async () => {
    const { press, frame, handlers, app } = setup({ live: true });
    await press('q');
    await waitFor(() => frame().includes('steps are running: stop them and quit? y / n'), 'the quit question');
    await press('n');
    await waitFor(() => !frame().includes('stop them and quit'), 'back');
    expect(handlers.onCancel).not.toHaveBeenCalled();
    await press(KEYS.ctrlC);
    await waitFor(() => frame().includes('stopping the running steps'), 'the stopping message');
    expect(handlers.onCancel).toHaveBeenCalledTimes(1);
    await press(KEYS.ctrlC);
    expect(handlers.onForceQuit).toHaveBeenCalledTimes(1);
    app.unmount();
  });
});

describe('keys and help', () => {
  it('one binding table: dispatch, footer and the help overlay agree', () => {
    expect(lookup('normal', 'failures', 'n')).toBe('next-failure');
    expect(lookup('confirm', 'failures', 'n')).toBe('no');
    expect(lookup('normal', 'slices', 'n')).toBeUndefined();
    expect(footerHints('normal', 'failures')).toContain('m mark reviewed');
    for (const b of BINDINGS.filter((x) => x.modes.includes('normal'))) expect(helpLines('runs').some((l) => l.includes(b.hint))).toBe(true);
  });

  it('? shows the help, typing filters it, Esc closes it; : runs commands', async () => {
    const { frame, press, app } = setup({ screen: 'run' });
    await press('?');
    await waitFor(() => frame().includes('HELP: keys and commands'), 'the help');
    await press('r', 'e', 'v');
    await waitFor(() => frame().includes('matching "rev"') && frame().includes('mark reviewed') && !frame().includes('freeze'), 'filtered help');
    await press(KEYS.escape);
    await waitFor(() => frame().includes('STAGE/STEP'), 'help closed');
    await press(':', 'n', 'o', 'p', 'e', KEYS.enter);
    await waitFor(() => frame().includes('unknown command ":nope"'), 'unknown command');
    await press(':', 'g', 'a', 't', 'e', 's', KEYS.enter);
    await waitFor(() => frame().includes('GATES (9)'), ':gates');
    app.unmount();
  });

  it('splits a burst into keys and names the special ones', () => {
    const none = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false };
    expect(keyNames('jjj', none as never)).toEqual(['j', 'j', 'j']);
    expect(keyNames('c', { ...none, ctrl: true } as never)).toEqual(['ctrl+c']);
    expect(keyNames('', { ...none, delete: true } as never)).toEqual(['backspace']);
    expect(keyNames('ok\r', none as never)).toEqual(['o', 'k', 'return']);
  });
});
