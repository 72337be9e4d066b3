/**
 * Progress on the run screen: the real binary runs a recipe whose command step reports progress
 * (test/fixtures/progress-step.mjs), its NDJSON (`paddock run --json`) feeds a live store as the
 * TUI's pipeline does, and the workbench, reading the same run store, draws the step's bar with
 * done/total, rate and ETA at 80x24 (Unicode and ASCII). The step holds its last report until the
 * test has seen the bar, so nothing races. Also at 80 columns: a step whose name and NEEDS the
 * table cuts is shown whole on the detail lines when selected.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import React from 'react';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { render } from 'ink-testing-library';
import { Workbench } from '../../views/workbench.js';
import { needsCell, wrapWords } from '../../views/screens/run-dag.js';
import { makeTheme } from '../../views/theme.js';
import { RunStore } from '../../src/store/run-store.js';
import { RunReader } from '../../src/live/run-reader.js';
import { createLiveStore } from '../../src/live/live-store.js';
import { createGateBroker } from '../../src/pipeline/gate-broker.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { paddockProcess } from '../helpers/cli.js';
import { ROOT, tempDir, waitFor } from '../helpers/fixtures.js';

const ANSI = /\x1b\[[0-9;]*m/g;
const STEP = join(ROOT, 'test', 'fixtures', 'progress-step.mjs');
const TOTAL = 200;

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function fits(frame: string, columns: number, rows: number) {
  const lines = frame.split('\n');
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
}

/** Starts `paddock run --json` on `recipe`; its events go into a live store; resolves with the workbench's props once the run has started. */
async function startRun(recipe: string, home: string) {
  const child = paddockProcess(['run', recipe, '--json'], { PADDOCK_HOME: home });
  const liveStore = createLiveStore();
  let runId: string | undefined;
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (l) => {
    const e = PaddockEvent.parse(JSON.parse(l));
    if (e.type === 'run' && e.status === 'started') runId = e.run;
    liveStore.dispatch(e);
  });
  const id: string = (await waitFor(() => runId, 'the run to start', 30_000))!;
  // Read-only, as `paddock ui` beside a running `paddock run` is: the run's process is the writer.
  const store = new RunStore(home, { readonly: true });
  cleanups.push(() => store.close());
  return { child, liveStore, runId: id, reader: new RunReader(store) };
}

describe('the run screen shows progress', () => {
  it.each([
    ['Unicode', true, /count-frames +[█▉▊▋▌▍▎▏]+░+ (\d+)\/200 frames (\d+)% [\d.]+ frames\/s ETA \d\S*/],
    ['ASCII', false, /count-frames +#+-+ (\d+)\/200 frames (\d+)% [\d.]+ frames\/s ETA \d\S*/],
  ])('%s: a command step that prints progress events gets a bar with done/total, rate and ETA at 80x24', async (_name, unicode, bar) => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const hold = join(t.dir, 'release');
    const recipe = join(t.dir, 'p.yaml');
    writeFileSync(recipe, `version: 1\nname: progress\nstages:\n  package:\n    - { id: count-frames, run: [${JSON.stringify(process.execPath)}, ${JSON.stringify(STEP)}, "${TOTAL}", "20", ${JSON.stringify(hold)}] }\n`);
    const { child, liveStore, runId, reader } = await startRun(recipe, join(t.dir, 'home'));
    const app = render(
      <Workbench
        reader={reader}
        actor="ana@example.com"
        theme={makeTheme(unicode, unicode)}
        depth={unicode ? 'truecolor' : 'mono'}
        size={{ columns: 80, rows: 24 }}
        initialScreen="run"
        live={{ runId, store: liveStore, broker: createGateBroker(), onCancel: vi.fn(), onForceQuit: vi.fn() }}
        onQuit={() => undefined}
      />,
    );
    const frame = () => (app.lastFrame() ?? '').replace(ANSI, '');
    try {
      // The rate needs two reports seen apart in time, so the ETA shows a moment after the bar.
      const m = (await waitFor(() => bar.exec(frame()), 'the progress bar with an ETA', 30_000))!;
      const [done, pct] = [Number(m[1]), Number(m[2])];
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThan(TOTAL);
      expect(pct).toBe(Math.floor((done * 100) / TOTAL));
      fits(frame(), 80, 24);
      if (!unicode) expect([...new Set(frame().replace(/[\x20-\x7e\n]/g, ''))].join('')).toBe('');
      writeFileSync(hold, '');
      const r = await child;
      expect(r.exitCode).toBe(0);
      // Once the step is done its bar goes away.
      await waitFor(() => !/count-frames +\S*[█#]/.test(frame()) && /count-frames\s+. succeeded/.test(frame()), 'the bar gone and the step succeeded');
    } finally {
      writeFileSync(hold, '');
      app.unmount();
      await child.catch(() => undefined);
    }
  });

  it('a step whose name and NEEDS the table cuts at 80 columns is whole on the detail lines when selected', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const recipe = join(t.dir, 'p.yaml');
    const long = 'render-the-night-rain-pedestrian-frames';
    const needs = ['fetch-calibration-shard', 'export-onnx-opset17', 'quantise-int8-entropy'];
    const stepLines = [...needs.map((n) => `    - { id: ${n}, run: ["true"] }`), `    - { id: ${long}, run: ["true"], needs: [${needs.join(', ')}] }`];
    writeFileSync(recipe, `version: 1\nname: long-names\nstages:\n  package:\n${stepLines.join('\n')}\n`);
    const { child, liveStore, runId, reader } = await startRun(recipe, join(t.dir, 'home'));
    expect((await child).exitCode).toBe(0);
    liveStore.flush();
    const app = render(
      <Workbench
        reader={reader}
        actor="ana@example.com"
        theme={makeTheme(false, true)}
        depth="mono"
        size={{ columns: 80, rows: 24 }}
        initialScreen="run"
        live={{ runId, store: liveStore, broker: createGateBroker(), onCancel: vi.fn(), onForceQuit: vi.fn() }}
        onQuit={() => undefined}
      />,
    );
    const frame = () => (app.lastFrame() ?? '').replace(ANSI, '');
    try {
      await waitFor(() => frame().includes('STAGE/STEP'), 'the run screen');
      const row = () => frame().split('\n').find((l) => l.includes('package/render-'));
      await waitFor(() => row(), "the long step's row");
      // The table cuts the name and the NEEDS column ...
      expect(row()).not.toContain(long);
      expect(row()).not.toContain(needs[2]);
      // ... so select it: the detail lines below the table hold both whole.
      for (let i = 0; i < 6 && !/^> package\/render-/m.test(frame()); i++) {
        app.stdin.write('j');
        await new Promise((r) => setTimeout(r, 30));
      }
      await waitFor(() => /^> package\/render-/m.test(frame()), 'the long step selected');
      const afterTable = frame().split('\n').slice(frame().split('\n').findIndex((l) => l.startsWith('> package/render-')) + 1).join(' ').replace(/\s+/g, ' ');
      expect(afterTable).toContain(`package/${long}`);
      expect(afterTable).toContain(`needs ${needs.join(', ')}.`);
      fits(frame(), 80, 24);
    } finally {
      app.unmount();
    }
  });

  it.each([
    [['bench-production'], 8, '← bench-production'],
    [['bench-production', 'bench-candidate', 'world'], 60, '← bench-production, bench-candidate, world'],
    [['bench-production', 'bench-candidate', 'world'], 21, '← bench-production +2'],
    [['bench-production', 'bench-candidate', 'world'], 14, '← bench-pr… +2'],
    [['bench-production', 'bench-candidate', 'world'], 8, '← 3'],
  ])('the NEEDS cell of %j in %i columns: %s', (needs, width, cell) => {
    expect(needsCell(needs, width, true)).toBe(cell);
  });

  it('the detail lines wrap at words, cut long words, and end with an ellipsis past their last line', () => {
    expect(wrapWords('package/evaluate (running, local) needs check-data, world.', 20, 3, true)).toEqual(['package/evaluate', '(running, local)', 'needs check-data, w…']);
    expect(wrapWords('a b c d e f', 5, 1, false)).toEqual(['a ...']);
    expect(wrapWords(`path /${'x'.repeat(25)}`, 10, 5, true)).toEqual(['path', `/${'x'.repeat(9)}`, 'x'.repeat(10), 'x'.repeat(6)]);
  });
});
