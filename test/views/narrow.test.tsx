/**
 * Nothing essential is lost at 80 and 60 columns: the slice table keeps its denominators, the
 * gates their verdicts and the reasons people gave, the failures their notes and full-size
 * paths, prompts and confirmations their keys; whatever a table cuts is shown whole in the
 * lines for the selected row. The store is the recorded demo run (test/helpers/workbench-store.ts)
 * with a person's approval and note, plus a live run with a gate waiting. Keys are constants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import React from 'react';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { Workbench } from '../../views/workbench.js';
import { makeTheme } from '../../views/theme.js';
import { createLiveStore } from '../../src/live/live-store.js';
import { createGateBroker } from '../../src/pipeline/gate-broker.js';
import { initialLiveState, withPlannedSteps } from '../../src/live/live-state.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { decideGate } from '../../src/pipeline/gates.js';
import { Gate } from '../../src/schema/recipe.js';
import { parseRecipe } from '../../src/schema/recipe-load.js';
import { plan as makePlan } from '../../src/pipeline/plan.js';
import { DEMO_RECIPE, ROOT, waitFor } from '../helpers/fixtures.js';
import { APPROVAL_REASON, LONG_NOTE, RECORDED_RUN, buildWorkbenchStore, type WorkbenchStore } from '../helpers/workbench-store.js';

const KEYS = { enter: '\r', escape: '\x1b', down: 'j', slices: '4', failures: '5', gates: '6', approve: 'a', reject: 'x', bottom: 'G' } as const;
const ANSI = /\x1b\[[0-9;]*m/g;
const LIVE = 'r-live-narrow';
const SIZES = [
  [80, 24],
  [60, 24],
] as const;

let w: WorkbenchStore;

beforeAll(async () => {
  w = await buildWorkbenchStore({ people: true });
  const text = readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.recipe.yaml'), 'utf8');
  w.store.createRun({ id: LIVE, name: 'demo', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: '0', lineage: {}, host: 'vm', actor: 'ana@example.com' });
  w.store.planSteps(LIVE, makePlan(parseRecipe(text, DEMO_RECIPE)).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind })));
});
afterAll(() => w.cleanup());

function setup(columns: number, rows: number, opts: { live?: boolean; screen?: 'slices' | 'failures' | 'gates' } = {}) {
  const broker = createGateBroker();
  let live;
  if (opts.live) {
    const store = createLiveStore(withPlannedSteps({ ...initialLiveState, runId: LIVE }, [{ id: 'bench-production', stage: 'package' }]));
    store.dispatch({ v: 1, type: 'run', run: LIVE, status: 'started', ts: Date.now() });
    for (const l of readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.ndjson'), 'utf8').trim().split('\n').slice(0, 40)) {
      const e = PaddockEvent.parse((JSON.parse(l) as { event: unknown }).event);
      if (e.type !== 'run') store.dispatch(e);
    }
    store.flush();
    const gate = Gate.parse({ id: 'release-signoff', stage: 'evaluate', metric: 'coco.AP', target: 'candidate', op: '>=', threshold: 0.4, approval: 'required' });
    void broker.request('release-signoff', decideGate(gate, [{ name: 'coco.AP', value: 0.479, target: 'candidate', slice: null, step_id: 'evaluate' }]), new AbortController().signal);
    live = { runId: LIVE, store, broker, onCancel: () => undefined, onForceQuit: () => undefined };
  }
  const app = render(
    <Workbench reader={w.reader} actor="ana@example.com" theme={makeTheme(true, true)} depth="mono" size={{ columns, rows }} initialRun={opts.live ? undefined : RECORDED_RUN} initialScreen={opts.screen} live={live} onQuit={() => undefined} />,
  );
  const frame = () => (app.lastFrame() ?? '').replace(ANSI, '');
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const type = (text: string) => press(...text.split(''));
  return { app, frame, press, type };
}

function fits(frame: string, columns: number, rows: number) {
  const lines = frame.split('\n');
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
}

/** The text of wrapped lines as one: each line trimmed (continuations are indented), joined by a space. */
const joined = (lines: readonly string[]) => lines.map((l) => l.trim()).join(' ').replace(/ +/g, ' ');

/** The coco.AP rows of the candidate the slice table shows, from the store: each slice's frames and objects. */
function storedDenominators(): Map<string, { frames: number; objects: number }> {
  const metrics = w.store.currentMetrics(RECORDED_RUN);
  const target = metrics.find((m) => m.name === 'coco.AP.delta' && m.slice)?.target;
  return new Map(
    metrics
      .filter((m) => m.name === 'coco.AP' && m.slice && m.target === target && m.denominators)
      .map((m) => [m.slice!, JSON.parse(m.denominators!) as { frames: number; objects: number }]),
  );
}

describe.each(SIZES)('at %ix%i', (columns, rows) => {
  it('slices: every row keeps its frames and objects whole; the selected slice is shown with every value', async () => {
    const { frame, press, app } = setup(columns, rows, { screen: 'slices' });
    await waitFor(() => frame().includes('sorted by regression'), `the slice table: ${frame()}`);
    fits(frame(), columns, rows);
    const lines = frame().split('\n');
    expect(lines[1]).toMatch(/FRAMES OBJECTS$/);
    const want = storedDenominators();
    const tableRows = lines.slice(2).filter((l) => /^[> ] (!!|! |\* | {2}) \S/.test(l));
    expect(tableRows.length).toBeGreaterThan(10);
    for (const l of tableRows) {
      const shown = l.slice(5).split(/\s+/)[0];
      const name = shown.endsWith('…') ? [...want.keys()].find((k) => k.startsWith(shown.slice(0, -1)))! : shown;
      const d = want.get(name)!;
      expect(d, `slice ${shown}`).toBeDefined();
      expect(l, `the denominators of ${name}`).toMatch(new RegExp(` ${d.frames} +${d.objects}$`));
    }
    // The longest name, cut or not in the table, is whole in the lines for the selected row.
    const longest = tableRows.map((l) => l.slice(5).split(/\s+/)[0]).findIndex((n) => n.startsWith('vulnerable-road'));
    await press(...Array.from({ length: longest }, () => KEYS.down));
    await waitFor(() => /^> .*vulnerable-road/m.test(frame()), 'the cursor on vulnerable-road-users');
    const d = want.get('vulnerable-road-users')!;
    const after = frame().split('\n');
    const lastRow = after.map((l, i) => (/^[> ] (!!|! |\* | {2}) \S/.test(l) && i > 1 ? i : -1)).reduce((a, b) => Math.max(a, b));
    // Between the table and the legend (the footer is the last line).
    const detail = joined(after.slice(lastRow + 1, -2).filter((l) => l.trim()));
    expect(detail).toMatch(new RegExp(`^vulnerable-road-users \\(critical\\): AP \\d\\.\\d{3} \\[\\d\\.\\d{3}, \\d\\.\\d{3}\\] delta [+-]\\d\\.\\d{3} \\[[+-]\\d\\.\\d{3}, [+-]\\d\\.\\d{3}\\] p\\(adj\\) \\d\\.\\d{3} frames ${d.frames} objects ${d.objects}$`));
    app.unmount();
  });

  it('gates: verdicts and answers in the list, the selected gate whole below with the approval\'s reason', async () => {
    const { frame, press, app } = setup(columns, rows, { screen: 'gates' });
    await waitFor(() => frame().includes('GATES (9)'), 'the gates');
    fits(frame(), columns, rows);
    for (const [word, gate] of [['PASS', 'candidate-p99-latency'], ['APPROVED', 'overall-ap'], ['PASS', 'overall-ap-non-inferior'], ['PASS', 'critical-slices']]) {
      expect(frame()).toMatch(new RegExp(`^[> ] . ${word} +${gate.slice(0, 12)}`, 'm'));
    }
    await press(KEYS.down);
    await waitFor(() => /^> ✔ APPROVED +overall-ap /m.test(frame()), 'overall-ap selected');
    const below = joined(frame().split('\n').slice(8));
    expect(below).toContain('overall-ap: coco.AP of candidate >= production + 0.01');
    expect(below).toContain('verdict: PASS');
    expect(below).toContain(`approved by ana@example.com at `);
    expect(below).toContain(APPROVAL_REASON);
    await press(KEYS.down);
    await waitFor(() => /^> ✔ PASS +overall-ap-non-in/m.test(frame()), 'the gate with the longest name');
    expect(joined(frame().split('\n').slice(8))).toContain('overall-ap-non-inferior: coco.AP of candidate on all >= production - 0.01 (on the paired lower bound, alpha 0.05)');
    app.unmount();
  });

  it('a gate waiting: the keys in its banner and details; the reason prompt and the confirmation keep theirs', async () => {
    const { frame, press, type, app } = setup(columns, rows, { live: true, screen: 'gates' });
    await waitFor(() => frame().includes('GATE release-signoff'), 'the gate banner');
    fits(frame(), columns, rows);
    expect(frame().split('\n')[1]).toMatch(/\(a approve, x reject, 6 details\)$/);
    // release-signoff is the last of the evaluate stage's gates; the replay stage's four follow it.
    await press(KEYS.bottom);
    for (let i = 0; i < 4; i++) await press('k');
    await waitFor(() => /^> \? REVIEW\? +release-signoff/m.test(frame()), `the gate waiting selected: ${frame()}`);
    await waitFor(() => joined(frame().split('\n')).includes('waiting for a person (a approve, x reject)'), `the keys in the details: ${frame()}`);
    await press(KEYS.reject);
    await waitFor(() => frame().includes('(Enter)'), 'the reason prompt');
    const reason = 'night+rain+pedestrian regresses beyond its interval; production stays until the Q1 retrain';
    await type(reason);
    await waitFor(() => frame().split('\n').at(-1)!.endsWith('the Q1 retrain▏  (Enter)'), `the end of the reason and its key: ${frame()}`);
    fits(frame(), columns, rows);
    await press(KEYS.enter);
    await waitFor(() => frame().split('\n').at(-1)!.endsWith('? y / n'), `the confirmation with its keys: ${frame()}`);
    const asked = frame().split('\n').at(-1)!;
    expect(asked).toMatch(/^reject release-signoff as ana@example.com/);
    expect(asked.length).toBeLessThanOrEqual(columns);
    app.unmount();
  });

  it('failures: the note and the full-size path whole in the details of the selected failure', async () => {
    const { frame, app } = setup(columns, rows, { screen: 'failures' });
    await waitFor(() => frame().includes('FAILURES 40'), 'the failure list');
    fits(frame(), columns, rows);
    expect(frame()).toMatch(/^> ✔ crit lost-object/m);
    // The details pane: the text before any frame cells on each line below the position line.
    const lines = frame().split('\n');
    const details = lines.slice(lines.findIndex((l) => l.includes('1/40')) + 1).map((l) => l.replace(/ {2}[ ░▒▓█]*[░▒▓█][ ░▒▓█]*$/, ''));
    expect(joined(details)).toContain(`note by ana@example.com at `);
    expect(joined(details)).toContain(LONG_NOTE);
    expect(details.map((l) => l.trim()).join('')).toContain(`png: ${w.framePng}`);
    app.unmount();
  });
});

describe('the slice table with the evaluate step\'s sample sizes and insufficient slices', () => {
  const NEW = [
    { slice: 'vulnerable-road-users', critical: true, ap: 0.372, lo: 0.332, hi: 0.4, delta: -0.108, deltaLo: -0.19, deltaHi: -0.027, deltaLower: -0.18, deltaUpper: -0.03, alpha: 0.05, p: 0.035, pAtResolution: true, replicates: 1600, scenes: 84, frames: 1000, objects: 984 },
    { slice: 'night+rain+pedestrian', critical: true, ap: 0.057, insufficient: true, scenes: 1, frames: 40, objects: 13 },
    { slice: 'all', critical: false, ap: 0.479, lo: 0.454, hi: 0.502, delta: 0.109, deltaLo: 0.099, deltaHi: 0.124, deltaLower: 0.101, deltaUpper: 0.122, alpha: 0.05, p: 1, pAtResolution: false, replicates: 200, scenes: 100, frames: 1000, objects: 2286 },
  ];
  it.each(SIZES)('at %ix%i: scenes with objects, frames and objects whole; "?" and "insufficient"; the selected slice whole below', async (columns, rows) => {
    const { SliceTable } = await import('../../views/screens/slices.js');
    const app = render(<SliceTable rows={NEW} cursor={0} sort="regression" reverse={false} filter="" width={columns} height={rows - 2} theme={makeTheme(true, true)} />);
    const lines = (app.lastFrame() ?? '').replace(ANSI, '').split('\n');
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
    expect(lines[0]).toMatch(/SCN FRAMES OBJECTS$/);
    for (const r of NEW) expect(lines.find((l) => l.includes(r.slice.slice(0, 12)))).toMatch(new RegExp(` ${r.scenes} +${r.frames} +${r.objects}$`));
    const tiny = lines.find((l) => l.includes('night+rain'))!;
    expect(tiny).toMatch(/^ {2}\*\? /);
    expect(tiny).toContain('0.057');
    if (columns === 80) {
      expect(tiny).toContain('insufficient');
      expect(lines.find((l) => l.startsWith('> '))).toContain('<0.035');
    }
    const detail = joined(lines.slice(1 + NEW.length).filter((l) => l.trim() && !/^\d+ slices/.test(l)));
    expect(detail).toContain('vulnerable-road-users (critical, regressed): AP 0.372 [0.332, 0.400] delta -0.108 [-0.190, -0.027] 95% bounds -0.180/-0.030 p(adj) < 0.035 (B=1600) scenes 84 frames 1000 objects 984');
    app.unmount();
  });
});
