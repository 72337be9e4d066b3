/**
 * The run screen at 80x24 (and 200x60) on a real run in which a step skipped itself (made by the
 * real binary: the step prints a `skip` and exits 0): the step shows the skipped marker and word,
 * never ✔ succeeded, the selected step's detail says why, the step that needs it ran; monochrome
 * and ASCII too. And the header counts the skipped steps.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import React from 'react';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { Workbench } from '../../views/workbench.js';
import { makeTheme } from '../../views/theme.js';
import { headerText } from '../../views/status-lines.js';
import { RunStore } from '../../src/store/run-store.js';
import { RunReader } from '../../src/live/run-reader.js';
import { paddock } from '../helpers/cli.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';

const ANSI = /\x1b\[[0-9;]*m/g;
const REASON = 'no Triton image on this Docker engine (contract-smoke.with.image)';

let store: RunStore;
let reader: RunReader;
let runId: string;
let cleanup: () => void;

beforeAll(async () => {
  const t = tempDir();
  cleanup = t.cleanup;
  const node = JSON.stringify(process.execPath);
  const skip = join(t.dir, 'skip.mjs');
  writeFileSync(skip, `process.stdout.write(JSON.stringify({ v: 1, type: 'skip', reason: ${JSON.stringify(REASON)} }) + '\\n');\n`);
  const file = join(t.dir, 'p.yaml');
  writeFileSync(file, `version: 1\nname: skips\nconcurrency: 1\nstages:\n  package:\n    - { id: contract-smoke, run: [${node}, ${JSON.stringify(skip)}] }\n    - { id: sbom, needs: [contract-smoke], run: [${node}, -e, "0"] }\n`);
  const home = join(t.dir, 'home');
  const r = await paddock(['run', file], { PADDOCK_HOME: home });
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  runId = /run (r-\S+) succeeded/.exec(r.stdout)![1];
  store = new RunStore(home);
  reader = new RunReader(store);
}, 60_000);
afterAll(() => {
  store?.close();
  cleanup?.();
});

function setup(columns: number, rows: number, color = true, unicode = true) {
  const app = render(
    <Workbench reader={reader} actor="ana@example.com" theme={makeTheme(color, unicode)} depth="truecolor" size={{ columns, rows }} initialRun={runId} initialScreen="run" onQuit={vi.fn()} />,
  );
  const frame = () => (app.lastFrame() ?? '').replace(ANSI, '');
  return { app, frame };
}

describe('a self-skipped step on the run screen', () => {
  it.each([
    [80, 24],
    [200, 60],
  ])('at %ix%i: the skipped marker and word, the reason in the detail, the next step succeeded', async (columns, rows) => {
    const { app, frame } = setup(columns, rows);
    await waitFor(() => /package\/contract-smoke +↷ skipped/.test(frame()), `the run screen: ${frame()}`);
    const f = frame();
    expect(f).not.toMatch(/package\/contract-smoke +✔/);
    expect(f).toMatch(/package\/sbom +✔ succeeded/);
    // The first row is selected: its detail says why it was skipped (wrapped at 80 columns).
    expect(f.replace(/\s+/g, ' ')).toContain(`skipped: ${REASON}`.slice(0, 40));
    const lines = f.split('\n');
    expect(lines.length).toBeLessThanOrEqual(rows - 1);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
    app.unmount();
  });

  it('monochrome and ASCII: "-" and the word, never "+" (succeeded)', async () => {
    const { app, frame } = setup(80, 24, false, false);
    await waitFor(() => /package\/contract-smoke +- skipped/.test(frame()), `the run screen: ${frame()}`);
    expect(frame()).toMatch(/> package\/contract-smoke/);
    expect(frame()).not.toMatch(/package\/contract-smoke +\+/);
    app.unmount();
  });

  it('the header counts the skipped steps, and gives the count up before the time and the run id when short', () => {
    const facts = { runId, status: 'succeeded', started: 1_000, ended: 124_000, now: 124_000, failures: 0, skipped: 1, frozen: false };
    expect(headerText(facts, makeTheme(false, true))).toBe(`paddock  ${runId}  ✔ succeeded  2m03s  ↷ 1 skipped`);
    expect(headerText(facts, makeTheme(false, false))).toBe(`paddock  ${runId}  + succeeded  2m03s  - 1 skipped`);
    expect(headerText(facts, makeTheme(false, true), 40)).toBe(`${runId}  ✔ succeeded`);
  });
});
