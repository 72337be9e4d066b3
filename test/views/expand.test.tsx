/**
 * `e` expands the pane in front, rendered at 80x24 and 200x60 from the recorded demo run
 * (test/fixtures/workbench-run.ndjson): latency shows the target in front alone, the failure
 * browser folds its list away and draws the frame larger. Keys are sent as constants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import React from 'react';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import sharp from 'sharp';
import { Workbench } from '../../views/workbench.js';
import { makeTheme } from '../../views/theme.js';
import { RunStore } from '../../src/store/run-store.js';
import { RunReader } from '../../src/live/run-reader.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { parseRecipe } from '../../src/schema/recipe-load.js';
import { plan as makePlan } from '../../src/pipeline/plan.js';
import { Drive } from '../../src/world/drive.js';
import { renderFrame } from '../../src/world/render.js';
import { DEMO_RECIPE, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';

const KEYS = { expand: 'e', latency: '3', failures: '5', next: 'n' } as const;
const ANSI = /\x1b\[[0-9;]*m/g;
const RUN = 'r-20261125-215245-a1713b';

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
  store.createRun({ id: RUN, name: 'demo', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: '0', lineage: {}, host: 'vm', actor: 'ci@example.com' });
  store.planSteps(RUN, makePlan(parseRecipe(text, DEMO_RECIPE)).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind })));
  for (const l of readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.ndjson'), 'utf8').trim().split('\n')) {
    const { attempt, event } = JSON.parse(l) as { attempt: number; event: unknown };
    const e = PaddockEvent.parse(event);
    if (e.type === 'failure') e.evidence = [{ path: framePng, note: 'frame' }];
    if (e.type !== 'run') store.appendEvents(RUN, [{ event: e, attempt }]);
  }
  store.finishRun(RUN, 'succeeded', 0);
});
afterAll(() => {
  store.close();
  cleanup();
});

function setup(columns: number, rows: number, color = true) {
  const app = render(<Workbench reader={reader} actor="ana@example.com" theme={makeTheme(color, color)} depth={color ? 'truecolor' : 'mono'} size={{ columns, rows }} initialRun={RUN} onQuit={() => undefined} />);
  const frame = () => (app.lastFrame() ?? '').replace(ANSI, '');
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { app, frame, press };
}

function fits(frame: string, columns: number, rows: number) {
  const lines = frame.split('\n');
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
}

/** The widest run of frame cells on one line: half-blocks in color, the brightness ramp in mono. */
const frameWidth = (frame: string) => Math.max(...frame.split('\n').map((l) => /[▀░▒▓█#*+=:.-]{8,}/.exec(l)?.[0].length ?? 0));

describe('e expands the pane in front', () => {
  it.each([
    [80, 24],
    [200, 60],
  ])('latency at %ix%i: the target in front alone, then both again', async (columns, rows) => {
    const { frame, press, app } = setup(columns, rows);
    await press(KEYS.latency);
    await waitFor(() => (frame().match(/LATENCY \S+\/cpu-fp32/g) ?? []).length === 2, `both targets: ${frame()}`);
    await press(KEYS.expand);
    await waitFor(() => (frame().match(/LATENCY \S+\/cpu-fp32/g) ?? []).length === 1, `one target: ${frame()}`);
    fits(frame(), columns, rows);
    await press(KEYS.expand);
    await waitFor(() => (frame().match(/LATENCY \S+\/cpu-fp32/g) ?? []).length === 2, 'both again');
    app.unmount();
  });

  it.each([
    [80, 24, true],
    [200, 60, true],
    [80, 24, false],
  ])('failures at %ix%i (color %s): the list folds away, the frame is drawn larger, n still steps', async (columns, rows, color) => {
    const { frame, press, app } = setup(columns, rows, color);
    await press(KEYS.failures);
    await waitFor(() => frame().includes('FAILURES 40') && frameWidth(frame()) > 0, 'the failure list and its frame');
    expect(frame()).toMatch(/^> {3}crit lost-object/m);
    const before = frameWidth(frame());
    await press(KEYS.expand);
    await waitFor(() => !/^> /m.test(frame()) && frameWidth(frame()) > before, `the evidence expanded: ${frame()}`);
    expect(frame()).toContain('FAILURES 40');
    fits(frame(), columns, rows);
    if (!color) expect([...new Set(frame().replace(/[\x20-\x7e\n]/g, ''))].join('')).toBe('');
    await press(KEYS.next);
    await waitFor(() => frame().includes('2/40'), 'the next failure, still expanded');
    app.unmount();
  });
});
