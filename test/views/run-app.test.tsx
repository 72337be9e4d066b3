/**
 * The run screen at 80x24 and 200x60, built from a recorded run (test/fixtures/demo-run.ndjson:
 * two bench steps and a gate waiting for a person), driven by key presses.
 */
import { describe, expect, it, vi } from 'vitest';
import React from 'react';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { RunApp, keyNames } from '../../views/run-app.js';
import { makeTheme } from '../../views/theme.js';
import { computeLayout } from '../../views/run-screen.js';
import { createLiveStore } from '../../src/store/live-store.js';
import { createGateBroker } from '../../src/pipeline/gate-broker.js';
import { initialLiveState, withPlannedSteps } from '../../src/pipeline/live-state.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { decideGate } from '../../src/pipeline/gates.js';
import { Gate } from '../../src/schema/recipe.js';
import { ROOT, waitFor } from '../helpers/fixtures.js';

const KEYS = { enter: '\r', escape: '\x1b', ctrlC: '\x03', tab: '\t', backspace: '\x7f' };
const ANSI = /\x1b\[[0-9;]*m/g;

function fixtureEvents() {
  return readFileSync(join(ROOT, 'test', 'fixtures', 'demo-run.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => PaddockEvent.parse(JSON.parse(l)));
}

function setup(opts: { columns?: number; rows?: number; color?: boolean; unicode?: boolean; gate?: boolean } = {}) {
  const events = fixtureEvents();
  const store = createLiveStore(
    withPlannedSteps(initialLiveState, [
      { id: 'bench-production', stage: 'package' },
      { id: 'bench-candidate', stage: 'package' },
      { id: 'gate:candidate-p99-latency', stage: 'package' },
    ]),
  );
  for (const e of events) store.dispatch(e);
  store.flush();
  const broker = createGateBroker();
  const ctl = new AbortController();
  let answer: Promise<unknown> | undefined;
  if (opts.gate !== false) {
    const gate = Gate.parse({ id: 'candidate-p99-latency', stage: 'package', metric: 'latency.p99_ms', op: '<=', threshold: 250, approval: 'required' });
    answer = broker.request('candidate-p99-latency', decideGate(gate, [{ name: 'latency.p99_ms', value: 10.4, target: null, slice: null, step_id: 'bench-candidate' }]), ctl.signal);
  }
  const handlers = { onCancel: vi.fn(), onForceQuit: vi.fn(), onQuit: vi.fn() };
  const size = { columns: opts.columns ?? 80, rows: opts.rows ?? 24 };
  const app = render(
    <RunApp store={store} broker={broker} theme={makeTheme(opts.color ?? true, opts.unicode ?? true)} actor="ana@example.com" size={size} {...handlers} />,
  );
  const frame = () => (app.lastFrame() ?? '').replace(ANSI, '');
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await new Promise((r) => setTimeout(r, 15));
    }
  };
  return { app, store, broker, answer, handlers, frame, press, size };
}

describe('run screen', () => {
  it.each([
    [80, 24],
    [200, 60],
  ])('lays out at %ix%i in at most rows - 1 lines, nothing wider than the terminal', async (columns, rows) => {
    const { frame, app } = setup({ columns, rows });
    await waitFor(() => frame().includes('LATENCY'), 'the latency pane');
    const lines = frame().split('\n');
    expect(lines.length).toBeLessThanOrEqual(rows - 1);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
    expect(frame()).toMatch(/✔ package\/bench-production\s+succeeded/);
    expect(frame()).toMatch(/✔ package\/bench-candidate\s+succeeded/);
    expect(frame()).toMatch(/LATENCY candidate\/cpu-fp32 {2}p50 [\d.]+ {2}p95 [\d.]+ {2}p99 [\d.]+ ms {2}n=120/);
    expect(frame()).toMatch(/GATE candidate-p99-latency needs review: verdict REVIEW/);
    expect(frame()).toMatch(/this gate requires a person's approval/);
    app.unmount();
  });

  it('splits the height as designed at 80x24', () => {
    expect(computeLayout(24, 3, 0)).toEqual({ stepRows: 3, chartRows: 10, logRows: 5 });
    expect(computeLayout(24, 12, 4)).toEqual({ stepRows: 4, chartRows: 7, logRows: 3 });
  });

  it('Tab switches the latency target and f freezes the live data', async () => {
    const { frame, press, store, app } = setup();
    await waitFor(() => frame().includes('LATENCY candidate'), 'candidate latency');
    await press(KEYS.tab);
    await waitFor(() => frame().includes('LATENCY production/cpu-fp32'), 'production after Tab');
    await press('f');
    await waitFor(() => frame().includes('FROZEN (f)'), 'the frozen marker');
    store.dispatch({ v: 1, type: 'latency', target: 'production/cpu-fp32', samples: [5, 5, 5], ts: Date.now() });
    store.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(frame()).toMatch(/n=120/);
    await press('f');
    await waitFor(() => /n=123/.test(frame()), 'live data again');
    app.unmount();
  });

  it('approves a gate with a, recording who', async () => {
    const { press, answer, app } = setup();
    await press('a');
    await expect(answer).resolves.toEqual({ decision: 'approved', actor: 'ana@example.com', reason: undefined });
    app.unmount();
  });

  it('rejects a gate with x only after a reason and a confirmation', async () => {
    const { press, answer, frame, broker, app } = setup();
    await press('x');
    await waitFor(() => frame().includes('reason for rejecting:'), 'the reason prompt');
    await press(KEYS.enter);
    await waitFor(() => frame().includes('a reason is required to reject a gate'), 'the reason is required');
    await press('too slow on orin', KEYS.backspace, 'n');
    await waitFor(() => frame().includes('reason for rejecting: too slow on orin'), 'the typed reason');
    await press(KEYS.enter);
    await waitFor(() => frame().includes('reject candidate-p99-latency because "too slow on orin"? y / n'), 'the confirmation');
    await press('n');
    await waitFor(() => frame().includes('reason for rejecting: too slow on orin'), 'back to editing');
    expect(broker.pending()).toHaveLength(1);
    await press(KEYS.enter, 'y');
    await expect(answer).resolves.toEqual({ decision: 'rejected', actor: 'ana@example.com', reason: 'too slow on orin' });
    app.unmount();
  });

  it('asks before quitting while the run is active; Ctrl+C stops, a second Ctrl+C exits at once', async () => {
    const { press, frame, handlers, app } = setup({ gate: false });
    await press('q');
    await waitFor(() => frame().includes('steps are running: stop them and quit? y / n'), 'the quit question');
    await press('n');
    await waitFor(() => frame().includes('Tab next target'), 'the footer again');
    expect(handlers.onCancel).not.toHaveBeenCalled();
    await press(KEYS.ctrlC);
    await waitFor(() => frame().includes('stopping the running steps'), 'the stopping message');
    expect(handlers.onCancel).toHaveBeenCalledTimes(1);
    await press(KEYS.ctrlC);
    expect(handlers.onForceQuit).toHaveBeenCalledTimes(1);
    app.unmount();
  });

  it('quits with q once the run has ended', async () => {
    const { press, store, handlers, frame, app } = setup({ gate: false });
    store.dispatch({ v: 1, type: 'run', run: 'r', status: 'succeeded', ts: Date.now() });
    store.flush();
    await waitFor(() => frame().includes('run succeeded; q to quit'), 'the end message');
    await press('q');
    expect(handlers.onQuit).toHaveBeenCalled();
    app.unmount();
  });

  it('is monochrome without color and ASCII-only without Unicode, status still readable', async () => {
    const mono = setup({ color: false, unicode: false });
    await waitFor(() => mono.frame().includes('LATENCY'), 'the latency pane');
    const raw = mono.app.lastFrame()!;
    expect(raw).not.toMatch(/\x1b\[3[0-9]m/); // no foreground colors
    expect([...new Set(raw.replace(ANSI, '').replace(/[\x20-\x7e\n]/g, ''))].join('')).toBe(''); // printable ASCII only
    expect(mono.frame()).toMatch(/\+ package\/bench-production\s+succeeded/);
    mono.app.unmount();
  });
});

describe('keyNames', () => {
  it('splits a burst into keys and names the special ones', () => {
    const none = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false };
    expect(keyNames('jjj', none as never)).toEqual(['j', 'j', 'j']);
    expect(keyNames('c', { ...none, ctrl: true } as never)).toEqual(['ctrl+c']);
    expect(keyNames('', { ...none, delete: true } as never)).toEqual(['backspace']);
    expect(keyNames('', { ...none, tab: true } as never)).toEqual(['tab']);
  });
});

describe('slice table', () => {
  it('fills in from the evaluate step\'s metrics, regressions first, marked without color', async () => {
    const { store, frame, press, app } = setup({ gate: false, color: false });
    const ev = (name: string, slice: string, value: number, target = 'candidate', ci?: [number, number]) =>
      store.dispatch({ v: 1, type: 'metric', name, slice, value, target, ts: Date.now(), ...(ci ? { ci: { lo: ci[0], hi: ci[1], level: 0.95 } } : {}), denominators: { scenes: 10, frames: 100, objects: 57 } });
    for (const [slice, ap, d, crit] of [['night+pedestrian', 0.31, -0.06, 1], ['day', 0.62, 0.01, 0], ['fog', 0.4, -0.04, 0]] as const) {
      ev('slice.critical', slice, crit);
      ev('coco.AP', slice, ap, 'candidate', [ap - 0.03, ap + 0.03]);
      ev('coco.AP', slice, ap - d, 'production');
      ev('coco.AP.delta', slice, d, 'candidate', [d - 0.02, d + 0.02]);
      ev('coco.AP.delta_p_adjusted', slice, 0.01);
    }
    store.flush();
    await waitFor(() => frame().includes('SLICE'), 'the slice table');
    const lines = frame().split('\n');
    const at = (s: string) => lines.findIndex((l) => l.includes(s));
    expect(lines[at('night+pedestrian')]).toMatch(/^!! night\+pedestrian\s+0\.310 \[0\.280,0\.340\] -0\.060 \[-0\.080,-0\.040\] 0\.010 57/);
    expect(lines[at('fog')]).toMatch(/^! {2}fog/);
    expect(at('night+pedestrian')).toBeLessThan(at('fog'));
    expect(at('fog')).toBeLessThan(at('day'));
    await press('s');
    await waitFor(() => frame().includes('LATENCY'), 'back to latency with s');
    app.unmount();
  });
});
