/**
 * The run screen says which host ran each step: the real binary runs two container steps of a
 * `host: pool` target over the two test daemons (`paddock run --hosts --json`), its events feed a
 * live store as the TUI's pipeline does, and the workbench, reading the same run store, shows
 * each step's TARGET@HOST at 80x24 (Unicode, and monochrome ASCII) and at 120x40. At 80 columns
 * a long host name keeps its place and the target gives way (whereCell).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import React from 'react';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { render } from 'ink-testing-library';
import { Workbench } from '../../views/workbench.js';
import { whereCell } from '../../views/screens/run-dag.js';
import { makeTheme } from '../../views/theme.js';
import { RunStore } from '../../src/store/run-store.js';
import { RunReader } from '../../src/live/run-reader.js';
import { createLiveStore } from '../../src/live/live-store.js';
import { createGateBroker } from '../../src/pipeline/gate-broker.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { paddockProcess } from '../helpers/cli.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';
import { daemonSocket } from '../helpers/docker-services.js';

const ANSI = /\x1b\[[0-9;]*m/g;
const LONG_HOST = 'gpu-box-lab-2';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('whereCell: TARGET@HOST in its column', () => {
  it.each([
    ['cpu-fp32', 'a', 18, true, 'cpu-fp32@a'],
    ['cpu-fp32', LONG_HOST, 18, true, 'cpu…@gpu-box-lab-2'],
    ['cpu-fp32', LONG_HOST, 18, false, 'c...@gpu-box-lab-2'],
    ['cpu-fp32', LONG_HOST, 26, true, 'cpu-fp32@gpu-box-lab-2'],
    ['cpu-fp32', 'a-very-long-host-name', 18, true, 'a-very-long-host-…'],
    ['cpu-fp32', '', 18, true, 'cpu-fp32@local'],
    [undefined, '', 18, true, 'local'],
    [undefined, 'pool', 18, true, 'pool'],
  ] as const)('(%s, %s, %i columns, unicode %s) -> %s', (target, host, width, unicode, want) => {
    const got = whereCell(target, host, width, unicode);
    expect(got).toBe(want);
    expect(got.length).toBeLessThanOrEqual(width);
  });
});

describe('the run screen shows the host of each pool step', () => {
  it('at 80x24 (Unicode and monochrome ASCII) and 120x40, after paddock run --hosts put one step on each daemon', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const home = join(t.dir, 'home');
    const hosts = join(t.dir, 'hosts.yaml');
    // One slot each: of two steps started at once, the first goes to a (by name), the second to the other.
    writeFileSync(hosts, `version: 1\nhosts:\n  a:\n    docker: unix://${daemonSocket('a')}\n  ${LONG_HOST}:\n    docker: unix://${daemonSocket('b')}\n`);
    const recipe = join(t.dir, 'p.yaml');
    const step = (id: string) => `    - { id: ${id}, target: cpu-fp32, run: ["sh", "-c", "echo '{\\"v\\":1,\\"type\\":\\"log\\",\\"level\\":\\"info\\",\\"message\\":\\"on it\\"}'"] }`;
    writeFileSync(recipe, `version: 1\nname: pool-view\ntargets:\n  - { name: cpu-fp32, backend: onnxruntime, host: pool }\nstages:\n  package:\n${step('first')}\n${step('second')}\n`);
    const child = paddockProcess(['run', recipe, '--hosts', hosts, '--json'], { PADDOCK_HOME: home });
    const liveStore = createLiveStore();
    let runId: string | undefined;
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const e = PaddockEvent.parse(JSON.parse(l));
      if (e.type === 'run') runId = e.run;
      liveStore.dispatch(e);
    });
    const r = await child;
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    liveStore.flush();
    const store = new RunStore(home, { readonly: true });
    cleanups.push(() => store.close());
    const reader = new RunReader(store);
    const hostOf = Object.fromEntries(store.getSteps(runId!).map((s) => [s.step_id, s.host]));
    expect(hostOf).toEqual({ first: 'a', second: LONG_HOST });

    for (const [columns, rows, unicode] of [
      [80, 24, true],
      [80, 24, false],
      [120, 40, true],
    ] as const) {
      const app = render(
        <Workbench
          reader={reader}
          actor="ana@example.com"
          theme={makeTheme(unicode, unicode)}
          depth={unicode ? 'truecolor' : 'mono'}
          size={{ columns, rows }}
          initialScreen="run"
          live={{ runId: runId!, store: liveStore, broker: createGateBroker(), onCancel: vi.fn(), onForceQuit: vi.fn() }}
          onQuit={() => undefined}
        />,
      );
      const frame = () => (app.lastFrame() ?? '').replace(ANSI, '');
      try {
        await waitFor(() => frame().includes('TARGET@HOST'), `the run screen at ${columns}x${rows}`);
        const row = (id: string) => frame().split('\n').find((l) => l.includes(`package/${id}`)) ?? '';
        await waitFor(() => row('second').includes('succeeded'), 'the second step succeeded');
        expect(row('first')).toMatch(/ cpu-fp32@a +\S/);
        const long = columns >= 100 ? `cpu-fp32@${LONG_HOST}` : unicode ? `cpu…@${LONG_HOST}` : `c...@${LONG_HOST}`;
        expect(row('second')).toContain(` ${long} `);
        const lines = frame().split('\n');
        expect(lines.length).toBeLessThanOrEqual(rows - 1);
        for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
        if (!unicode) expect([...new Set(frame().replace(/[\x20-\x7e\n]/g, ''))].join('')).toBe('');
      } finally {
        app.unmount();
      }
    }
  }, 120_000);
});
