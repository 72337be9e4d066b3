/**
 * The registry screen (screen 8) at 80x24 and 120x40, on a real SQLite registry
 * (test/fixtures/registry/screen-registry.ts) read and written through cli/ui.ts's registry
 * source, as `paddock ui` wires it: snapshots polled, approvals signed by the real approveEntry
 * with the approver's P-256 key (or refused, the refusal shown), then read back from the
 * registry. Keys are sent as the terminal sends them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import React from 'react';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { Workbench } from '../../views/workbench.js';
import { makeTheme } from '../../views/theme.js';
import { plotCanary } from '../../views/screens/registry.js';
import { openRegistrySource, type RegistryAccess } from '../../cli/ui.js';
import { RunStore } from '../../src/store/run-store.js';
import { RunReader } from '../../src/live/run-reader.js';
import { approveEntry } from '../../src/registry/approve.js';
import { loadRegistrySnapshot } from '../../src/registry/snapshot.js';
import { UNICODE_GLYPHS, ASCII_GLYPHS } from '../../views/charts.js';
import { MODEL, buildScreenRegistry, type ScreenRegistry } from '../fixtures/registry/screen-registry.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';

const KEYS = { enter: '\r', escape: '\x1b', tab: '\t', backspace: '\x7f', down: '\x1b[B', up: '\x1b[A' } as const;
const ANSI = /\x1b\[[0-9;]*m/g;

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

interface Setup {
  columns?: number;
  rows?: number;
  color?: boolean;
  unicode?: boolean;
  /** Who is at the keyboard, and the key they sign with. */
  identity?: string;
  keyFile?: (fx: ScreenRegistry) => string;
  /** A registry file that does not exist (instead of the fixture's). */
  missing?: boolean;
}

async function setup(opts: Setup = {}) {
  const fx = await buildScreenRegistry();
  const t = tempDir();
  const store = new RunStore(join(t.dir, 'store'));
  const identity = opts.identity ?? 'bob@example.com';
  const access: RegistryAccess = {
    spec: opts.missing ? join(t.dir, 'registry.db') : fx.spec,
    auditKey: fx.approvers.registryKey,
    policyFile: fx.approvers.policyFile,
    keyFile: opts.keyFile ? opts.keyFile(fx) : fx.approvers.ecdsa.bob,
    identity,
  };
  const source = openRegistrySource(access);
  const app = render(<Workbench reader={new RunReader(store)} actor={identity} theme={makeTheme(opts.color ?? true, opts.unicode ?? true)} depth={opts.color === false ? 'mono' : 'truecolor'} size={{ columns: opts.columns ?? 80, rows: opts.rows ?? 24 }} initialScreen={'registry' as never} registry={source} onQuit={() => undefined} />);
  open.push({
    async close() {
      app.unmount();
      await source.close();
      store.close();
      await fx.cleanup();
      t.cleanup();
    },
  });
  const raw = () => app.lastFrame() ?? '';
  const frame = () => raw().replace(ANSI, '');
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const footer = () => frame().split('\n').at(-1) ?? '';
  return { fx, access, app, raw, frame, press, footer, size: { columns: opts.columns ?? 80, rows: opts.rows ?? 24 } };
}

function fits(frame: string, columns: number, rows: number) {
  const lines = frame.split('\n');
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
}

/** The fixture's world-detector 1.2.0 (the candidate waiting for production): the fourth version row. */
const TO_CANDIDATE = ['j', 'j', 'j'];
const selected = (f: string) => f.split('\n').filter((l) => l.startsWith('>')).map((l) => l.slice(2));

describe('the registry screen', () => {
  it('lays out at 80x24: versions with alias badges, the history, approvals by role, governance, the canary chart', async () => {
    const { frame, press, raw } = await setup();
    await waitFor(() => frame().includes('VERSIONS (6)'), `the registry read: ${frame()}`);
    fits(frame(), 80, 24);
    await press(...TO_CANDIDATE);
    await waitFor(() => frame().includes('APPROVALS 1.2.0 → production: 2/4'), `world-detector 1.2.0 selected: ${frame()}`);
    const f = frame();
    fits(f, 80, 24);
    expect(f.split('\n')[0], f.split('\n')[0]).toMatch(/\[8 registry\] ?9$/);
    expect(f).toMatch(/^ {2}world-detector {2}production 1\.1\.0/m);
    expect(selected(f)[0]).toMatch(/^1\.2\.0 +\[stg cand\] coco\.AP 0\.42/);
    expect(f).toMatch(/^ {2}1\.1\.0 +\[prod\] coco\.AP 0\.41/m);
    expect(f).toMatch(/^ {2}1\.0\.0 +\[rb\] coco\.AP 0\.4\b/m);
    // The history of 1.2.0, newest first; the approvals by role; the governance checks with their status.
    expect(f).toMatch(/HISTORY 1\.2\.0 +GOVERNANCE 1\.2\.0 refused: FAILED/);
    expect(f).toMatch(/candidate 1\.1\.0→1\.2\.0 al/);
    expect(f).toMatch(/technical ✔ alice@example\.com: metric/);
    expect(f).toMatch(/safety {4}○ missing \(yours: a approve/);
    expect(f).toMatch(/security  ✔ carol@example\.com: scans/);
    expect(f).toMatch(/✘ vulnerabilities/);
    expect(f).toMatch(/~ licenses/);
    expect(f).toMatch(/· consumption/);
    // The canary: the decision in the title, the SLO as a horizontal line, the step weights and the decision marked under the chart.
    expect(f).toContain('CANARY 1.2.0 argo: ROLLBACK at step 2 (50%), 13m  metric 1/2');
    expect(f).toContain('latency.p95_ms ─ canary · production ╌ max 12');
    const sloRow = f.split('\n').find((l) => /^ *12┤/.test(l));
    expect(sloRow, `the SLO row:\n${f}`).toMatch(/╌{10}/);
    expect(f).toMatch(/^ +5% +25% +rollback 13m ▲$/m);
    expect(f).toMatch(/┆/);
    // Colors while there are colors: the canary line cyan, the SLO red.
    expect(raw()).toContain('\x1b[31m╌');
    expect(raw()).toContain('\x1b[36m');
  });

  it('uses the room at 120x40: full alias names, more history, a taller chart', async () => {
    const { frame, press } = await setup({ columns: 120, rows: 40 });
    await waitFor(() => frame().includes('VERSIONS (6)'), 'the registry read');
    await press(...TO_CANDIDATE);
    await waitFor(() => frame().includes('APPROVALS 1.2.0 → production: 2/4'), 'world-detector 1.2.0 selected');
    const f = frame();
    fits(f, 120, 40);
    expect(f.split('\n').length).toBe(39);
    expect(selected(f)[0]).toMatch(/^1\.2\.0 +\[staging candidate\] coco\.AP 0\.42/);
    expect(f).toMatch(/^ +5% +25% +50% +rollback 13m ▲$/m);
    expect(f).toMatch(/staging 1\.1\.0→1\.2\.0 ci@example\.com: 1\.2/);
    const chartRows = f.split('\n').filter((l) => /^ *[\d.]+[┤┼]/.test(l));
    expect(chartRows.length).toBeGreaterThanOrEqual(10);
  });

  it('moves with j/k, steps through the panes with Tab, drills in with Enter and comes back with Esc', async () => {
    const { frame, press } = await setup();
    await waitFor(() => frame().includes('VERSIONS (6)'), 'the registry read');
    await press(...TO_CANDIDATE, 'k', KEYS.down);
    await waitFor(() => selected(frame())[0]?.startsWith('1.2.0'), `k then down: back on 1.2.0: ${frame()}`);
    await press(KEYS.enter);
    await waitFor(() => frame().includes('[world-detector 1.2.0]  (Esc back'), `the version drilled into: ${frame()}`);
    expect(frame()).toMatch(/entry digest [0-9a-f]{64}/);
    expect(frame()).toContain('alias history of 1.2.0, newest first:');
    fits(frame(), 80, 24);
    await press(KEYS.escape);
    await waitFor(() => frame().includes('[VERSIONS (6)]'), 'Esc: back to the panes');
    // Tab: history, approvals, governance, canary, and round to versions.
    await press(KEYS.tab);
    await waitFor(() => frame().includes('[HISTORY 1.2.0]'), 'the history pane in front');
    expect(frame()).toMatch(/^> \d\d-\d\d \d\d:\d\d candidate 1\.1\.0→1\.2\.0/m);
    await press(KEYS.tab, 'j');
    await waitFor(() => frame().includes('[APPROVALS 1.2.0 → production: 2/4]') && /> safety/.test(frame()), `the approvals pane, safety selected: ${frame()}`);
    expect(frame()).toContain('safety: no counted approval yet; you hold it (a approve, x reject)');
    await press(KEYS.tab, 'j', 'j', 'j');
    await waitFor(() => frame().includes('[GOVERNANCE 1.2.0 refused: FAILED]') && frame().includes('>✘ vulnerabilities'), `the governance pane, vulnerabilities selected: ${frame()}`);
    expect(frame()).toContain('vulnerabilities FAIL: CVE-2026-0001 (HIGH) in libfoo 1.2.3 is not waived');
    await press(KEYS.enter);
    await waitFor(() => frame().includes('[world-detector 1.2.0 governance: vulnerabilities]'), `the check drilled into: ${frame()}`);
    expect(frame()).toMatch(/attempt [0-9a-f-]{36}: refused by alice@example\.com/);
    await press(KEYS.escape, KEYS.tab, 'j');
    await waitFor(() => frame().includes('metric 2/2 (j/k)') && frame().includes('error_rate ─ canary · production ╌ max 0.02'), `the second canary metric: ${frame()}`);
    await press(KEYS.tab);
    await waitFor(() => frame().includes('[VERSIONS (6)]'), 'round to the versions');
    // Esc with nothing drilled goes to the workbench: nothing to go back to from the first screen.
    await press(KEYS.escape);
    await waitFor(() => frame().includes('nothing to go back to'), 'Esc reaches the workbench');
  });

  it('approves with a: a reason asked, then y; signed with the P-256 key the policy trusts, stored, shown', async () => {
    const { frame, press, footer, fx } = await setup({ identity: 'bob@example.com' });
    await waitFor(() => frame().includes('VERSIONS (6)'), 'the registry read');
    await press(...TO_CANDIDATE, 'a');
    await waitFor(() => footer().startsWith('reason for approving world-detector 1.2.0 as safety (required): ▏'), `the reason asked: ${footer()}`);
    await press(KEYS.enter);
    await waitFor(() => frame().includes('a reason is required: it is part of what is signed (Esc cancels)'), 'an empty reason refused');
    await press(...'braking proxies hold', KEYS.enter);
    // At 80 columns the reason gives way first; who signs, and y / n, stay.
    await waitFor(() => /^approve world-detector 1\.2\.0 as safety \(bob@example\.com\) because "brak\w*…"\? y \/ n$/.test(footer()), 'asked to confirm');
    await press('y');
    await waitFor(() => /world-detector 1\.2\.0 approved as safety by bob@example\.com: signed \(ecdsa\) and recorded \(audit record \d+\)/.test(frame().replace(/\n\s*/g, ' ')), 'recorded');
    await waitFor(() => frame().includes('APPROVALS 1.2.0 → production: 3/4') && /safety {4}✔ bob@example\.com: brak/.test(frame()), 'the approval shown');
    // In the registry: the signed row, counted under the policy.
    const rows = await fx.registry.approvals(MODEL, '1.2.0', 'production');
    expect(rows.map((r) => `${r.role} ${r.decision} ${r.identity} ${r.scheme}: ${r.reason}`)).toContain('safety approved bob@example.com ecdsa: braking proxies hold');
    const snap = await loadRegistrySnapshot(fx.registry, { policy: fx.policy, now: Date.now() });
    const status = snap.models.find((m) => m.name === MODEL)!.pending!.status!;
    expect(status.missing).toEqual(['product']);
    expect(status.problems).toEqual([]);
  });

  it('rejects with x: a reason required, n goes back to editing, y records it', async () => {
    const { frame, press, footer, fx } = await setup({ identity: 'dan@example.com', keyFile: (f) => f.approvers.ecdsa.dan });
    await waitFor(() => frame().includes('VERSIONS (6)'), 'the registry read');
    // The approvals pane, the product row.
    await press(...TO_CANDIDATE, KEYS.tab, KEYS.tab, 'G');
    await waitFor(() => /> product/.test(frame()), 'product selected');
    await press('x');
    await waitFor(() => footer().startsWith('reason for rejecting world-detector 1.2.0 as product (required): ▏'), `the reason asked: ${footer()}`);
    await press(...'no release notes', KEYS.enter);
    await waitFor(() => footer() === 'reject world-detector 1.2.0 as product (dan@example.com) because "no re…"? y / n', 'asked to confirm');
    await press('n');
    await waitFor(() => footer().includes('no release notes▏'), 'n: back to the reason');
    await press(KEYS.backspace, KEYS.backspace, KEYS.backspace, KEYS.backspace, KEYS.backspace, ...'a changelog', KEYS.enter, 'y');
    await waitFor(() => /world-detector 1\.2\.0 rejected as product by dan@example\.com: signed \(ecdsa\)/.test(frame()), 'recorded');
    await waitFor(() => frame().includes('APPROVALS 1.2.0 → production: REJECTED') && frame().includes('product   ✘ dan@example.com: no rel') && frame().includes('product rejected by dan@example.com'), 'the rejection shown');
    expect(frame()).toMatch(/: no release a changelog$/m);
    const rows = await fx.registry.approvals(MODEL, '1.2.0', 'production');
    expect(rows.filter((r) => r.decision === 'rejected').map((r) => `${r.role} ${r.identity}: ${r.reason}`)).toEqual(['product dan@example.com: no release a changelog']);
  });

  it('shows a refusal in the status line and keeps working: a role the approver does not hold', async () => {
    const { frame, press, fx } = await setup({ identity: 'bob@example.com' });
    await waitFor(() => frame().includes('VERSIONS (6)'), 'the registry read');
    await press(...TO_CANDIDATE, KEYS.tab, KEYS.tab, 'a');
    await waitFor(() => frame().includes('reason for approving world-detector 1.2.0 as technical'), 'technical asked');
    await press(...'looks fine', KEYS.enter, 'y');
    await waitFor(() => frame().replace(/\n\s*/g, ' ').includes("bob@example.com's approval of world-detector 1.2.0 as technical would not count, so it was not stored: bob@example.com does not hold the role technical"), 'the refusal');
    fits(frame(), 80, 24);
    expect((await fx.registry.approvals(MODEL, '1.2.0')).map((r) => r.identity)).toEqual(['alice@example.com', 'carol@example.com']);
    await press('j');
    await waitFor(() => /> safety/.test(frame()) && !frame().includes('would not count'), 'the screen still answers keys');
  });

  it('reads the registry again about once a second: a decision made elsewhere shows without a key', async () => {
    const { frame, press, fx } = await setup();
    await waitFor(() => frame().includes('VERSIONS (6)'), 'the registry read');
    await press(...TO_CANDIDATE);
    await waitFor(() => frame().includes('product   ○ missing'), 'product missing');
    await approveEntry(fx.registry, fx.policy, { model: MODEL, version: '1.2.0', stage: 'production', role: 'product', identity: 'dan@example.com', decision: 'approved', reason: 'notes are in', scheme: 'ecdsa', keyFile: fx.approvers.ecdsa.dan });
    // Polled about once a second: well within three.
    await waitFor(() => frame().includes('product   ✔ dan@example.com: notes') && frame().includes('production: 3/4'), 'the approval made elsewhere', 3000);
  });

  it('is monochrome without color and ASCII-only without Unicode; the selection shows as >', async () => {
    const { frame, raw, press } = await setup({ color: false, unicode: false });
    await waitFor(() => frame().includes('VERSIONS (6)'), 'the registry read');
    await press(...TO_CANDIDATE);
    await waitFor(() => frame().includes('APPROVALS 1.2.0 -> production: 2/4'), `world-detector 1.2.0 selected: ${frame()}`);
    expect(raw()).not.toMatch(/\x1b\[(3|4|9|10)[0-9](;[0-9;]*)?m/);
    expect([...new Set(frame().replace(/[\x20-\x7e\n]/g, ''))].join('')).toBe('');
    expect(frame()).toMatch(/^> 1\.2\.0/m);
    expect(frame()).toMatch(/x vulnerabilities/);
    expect(frame()).toMatch(/technical \+ alice@example\.com/);
    expect(frame()).toContain('latency.p95_ms - canary . production = max 12');
    expect(frame()).toMatch(/rollback 13m \^$/m);
    expect(frame()).toMatch(/^ *12\|={20}/m);
    fits(frame(), 80, 24);
  });

  it('says "no registry yet" for a registry file that does not exist, and does not create it', async () => {
    const { frame, press, access } = await setup({ missing: true });
    await waitFor(() => frame().includes('no registry yet'), `the screen: ${frame()}`);
    expect(frame()).toContain(`no registry yet at ${access.spec}`);
    await press('a');
    await waitFor(() => frame().includes('nothing to approve: no registry yet'), 'a says why not');
    await new Promise((r) => setTimeout(r, 1200));
    expect(existsSync(access.spec)).toBe(false);
  });
});

describe('plotCanary', () => {
  it('draws the SLO as a horizontal line and marks the decision, exactly width x height', async () => {
    const fx = await buildScreenRegistry();
    try {
      const snap = await loadRegistrySnapshot(fx.registry, { now: Date.now() });
      const canary = snap.models.find((m) => m.name === MODEL)!.promotion!.canary!;
      for (const [glyphs, unicode] of [[UNICODE_GLYPHS, true], [ASCII_GLYPHS, false]] as const) {
        const lines = plotCanary(canary.series[0], canary.decision, { width: 60, height: 9, glyphs, unicode });
        expect(lines.length).toBe(9);
        for (const l of lines) expect(l.length).toBe(60);
        const slo = lines.find((l) => /^ *12[┤|+]/.test(l))!;
        expect(slo.replace(/[^╌=]/g, '').length).toBeGreaterThan(40);
        // The marker is under the decision's column, which holds the breach (the canary above the SLO row).
        const foot = lines.at(-1)!;
        const col = foot.indexOf(unicode ? '▲' : '^');
        expect(col).toBeGreaterThan(40);
        expect(lines.slice(1, lines.indexOf(slo)).some((l) => l[col] !== ' ' && l[col] !== (unicode ? '┆' : ':'))).toBe(true);
      }
    } finally {
      await fx.cleanup();
    }
  });
});
