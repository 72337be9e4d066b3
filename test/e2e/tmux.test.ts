/**
 * The real binary in a real terminal: tmux at 80x24, TUI mode (stdin and stdout are TTYs, CI
 * unset), keys sent with send-keys, the screen read with capture-pane. The identity comes from
 * git's user.email (a GIT_CONFIG_GLOBAL of the test's own).
 */
import { describe, expect, it, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PADDOCK, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';
import { RunStore } from '../../src/store/run-store.js';

const SOCKET = `paddock-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (name: string) => tmux('capture-pane', '-p', '-t', name);

function start(name: string, command: string, cols = 80, rows = 24, cwd = ROOT) {
  tmux('new-session', '-d', '-s', name, '-x', String(cols), '-y', String(rows), '-c', cwd, `env -u CI TERM=xterm-256color LANG=C.UTF-8 ${command}; echo "EXIT=$?"; sleep 600`);
}

afterAll(() => {
  try {
    tmux('kill-server');
  } catch {
    // already gone
  }
});

describe('paddock in tmux at 80x24', () => {
  it('runs the demo in the workbench: latency live, slices, a failure, a gate approved with a reason, q quits; the approval is in the store', { timeout: 600_000 }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const gitConfig = join(dir, 'gitconfig');
      writeFileSync(gitConfig, '[user]\n\temail = e2e@paddock.test\n');
      start('demo', `GIT_CONFIG_GLOBAL=${gitConfig} PADDOCK_HOME=${dir}/home ${process.execPath} ${PADDOCK} demo`, 80, 24, dir);
      await waitFor(() => screen('demo').includes('STAGE/STEP'), 'the run screen', 30_000);
      tmux('send-keys', '-t', 'demo', '3');
      await waitFor(() => /LATENCY \S+\/cpu-fp32 {2}p50/.test(screen('demo')), 'live latency on screen', 60_000);
      // The critical slices ask first (the banner shows one gate at a time): night+rain+pedestrian has
      // all its pedestrians in one scene, too little data to decide on, so a person decides.
      await waitFor(() => screen('demo').includes('GATE critical-slices needs review'), `the critical slices asking: ${screen('demo')}`, 540_000, 500);
      tmux('send-keys', '-t', 'demo', '4');
      await waitFor(() => /night\+rain/.test(screen('demo')) && screen('demo').includes('sorted by regression'), 'the slice table');
      tmux('send-keys', '-t', 'demo', 'a');
      await waitFor(() => screen('demo').includes('reason for approving (optional) critical-slices'), 'the critical slices reason prompt');
      tmux('send-keys', '-t', 'demo', '-l', 'one-scene slice reviewed');
      tmux('send-keys', '-t', 'demo', 'Enter');
      // At 80 columns the reason gives way first in the confirmation (the store holds it whole).
      await waitFor(() => /approve critical-slices as e2e@paddock\.test because "one-scene.*\? y \/ n/.test(screen('demo')), `the critical slices confirmation: ${screen('demo')}`);
      tmux('send-keys', '-t', 'demo', 'y');
      await waitFor(() => screen('demo').includes('GATE release-signoff needs review'), `the release gate asking: ${screen('demo')}`, 60_000, 500);
      tmux('send-keys', '-t', 'demo', '5');
      await waitFor(() => /FAILURES \d+, by contribution/.test(screen('demo')), 'the failure list');
      tmux('send-keys', '-t', 'demo', 'n');
      await waitFor(() => / 2\/\d+ /.test(screen('demo')) && /png: \//.test(screen('demo')) && screen('demo').includes('▀'), `the second failure, with its frame drawn: ${screen('demo')}`);
      tmux('send-keys', '-t', 'demo', 'a');
      await waitFor(() => screen('demo').includes('reason for approving (optional) release-signoff'), 'the reason prompt');
      tmux('send-keys', '-t', 'demo', '-l', 'slices hold up');
      tmux('send-keys', '-t', 'demo', 'Enter');
      await waitFor(() => screen('demo').includes('approve release-signoff as e2e@paddock.test because "slices hold up"? y / n'), 'the confirmation');
      tmux('send-keys', '-t', 'demo', 'y');
      // A resize redraws at the new size: lines use the 120 columns, and the frame the 40 rows.
      tmux('resize-window', '-t', 'demo', '-x', '120', '-y', '40');
      await waitFor(() => screen('demo').split('\n').some((l) => l.length > 80) && screen('demo').split('\n').filter((l) => l.trim()).length > 24, 'the layout at 120x40 after a resize');
      tmux('resize-window', '-t', 'demo', '-x', '80', '-y', '24');
      // The Sim Gate's sign-off waits for a person too (docs/sim.md): answered from the banner, on whatever screen shows.
      await waitFor(() => screen('demo').includes('GATE sim-signoff'), `the sim sign-off waiting: ${screen('demo')}`, 300_000, 1000);
      tmux('send-keys', '-t', 'demo', 'a');
      await waitFor(() => screen('demo').includes('reason for approving (optional) sim-signoff'), 'the sim sign-off reason prompt');
      tmux('send-keys', '-t', 'demo', '-l', 'clips reviewed');
      tmux('send-keys', '-t', 'demo', 'Enter');
      await waitFor(() => screen('demo').includes('approve sim-signoff as e2e@paddock.test because "clips reviewed"? y / n'), 'the sim sign-off confirmation');
      tmux('send-keys', '-t', 'demo', 'y');
      // The promote stage waits for production's four roles while the workbench shows the run. They
      // are given with `paddock registry approve`, as the demo's stand-in approver at the keyboard
      // (cli/demo-approver.ts); screen 8 then shows the registry. (The screen's own a/x are driven
      // in test/views/registry-view.test.tsx.)
      const home = join(dir, 'home');
      const registry = join(home, 'registry.db');
      const cli = (args: string[]) => execFileSync(process.execPath, [PADDOCK, ...args, '--registry', registry], { encoding: 'utf8', env: { ...process.env, PADDOCK_HOME: home, GIT_CONFIG_GLOBAL: gitConfig } });
      let candidate: string | undefined;
      await waitFor(
        () => {
          if (!existsSync(registry)) return false;
          const listed = JSON.parse(cli(['registry', 'list', '--json'])) as { models: { aliases: { candidate: string | null } }[] };
          candidate = listed.models[0]?.aliases.candidate ?? undefined;
          return Boolean(candidate);
        },
        'the candidate registered',
        300_000,
        1000,
      );
      for (const role of ['technical', 'safety', 'security', 'product']) {
        cli(['registry', 'approve', 'world-detector', candidate!, '--role', role, '--reason', `${role} holds`, '--key', join(ROOT, 'build', 'keys', 'demo-approver.pem'), '--as', 'demo-approver@localhost', '--policy', join(ROOT, 'fixtures', 'demo', 'registry-policy.yaml')]);
      }
      tmux('send-keys', '-t', 'demo', '8');
      await waitFor(() => screen('demo').includes('VERSIONS (1)'), `the registry screen: ${screen('demo')}`, 30_000, 500);
      await waitFor(() => screen('demo').includes('run succeeded; q to quit'), 'the end of the run', 120_000, 500);
      const s = screen('demo');
      // Every line of the frame once: earlier frames left nothing behind. (At 80 columns the
      // header gives up its "paddock" first, to keep the run id and the failure count.)
      expect(s.match(/^(?:paddock {2})?r-\d{8}-\d{6}-[0-9a-f]+ {2}\S+ succeeded/gm)).toHaveLength(1);
      for (const l of s.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
      tmux('send-keys', '-t', 'demo', 'q');
      await waitFor(() => screen('demo').includes('EXIT=0'), 'exit 0 after q');
      const store = new RunStore(join(dir, 'home'), { readonly: true });
      try {
        const run = store.listRuns(1)[0];
        const approvals = store.approvals(run.id);
        expect(approvals).toEqual([
          expect.objectContaining({ gate: 'critical-slices', decision: 'approved', actor: 'e2e@paddock.test', reason: 'one-scene slice reviewed' }),
          expect.objectContaining({ gate: 'release-signoff', decision: 'approved', actor: 'e2e@paddock.test', reason: 'slices hold up' }),
          expect.objectContaining({ gate: 'sim-signoff', decision: 'approved', actor: 'e2e@paddock.test', reason: 'clips reviewed' }),
        ]);
        expect(Date.now() - approvals[0].at).toBeLessThan(300_000);
      } finally {
        store.close();
      }
    } finally {
      tmux('kill-session', '-t', 'demo');
      cleanup();
    }
  });

  it('Ctrl+C stops the running step, and a second Ctrl+C is not needed to leave after q', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pids = join(dir, 'pids.json');
      const recipe = join(dir, 'p.yaml');
      writeFileSync(
        recipe,
        `version: 1\nname: sleepy\nstages:\n  package:\n    - { id: nap, run: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(ROOT, 'test', 'fixtures', 'sleepy-step.mjs'))}, ${JSON.stringify(pids)}] }\n`,
      );
      start('nap', `PADDOCK_HOME=${dir}/home ${process.execPath} ${PADDOCK} run ${recipe}`);
      await waitFor(() => existsSync(pids) && screen('nap').includes('nap: asleep'), 'the step to run');
      tmux('send-keys', '-t', 'nap', 'C-c');
      await waitFor(() => /package\/nap\s+⊘ cancelled/.test(screen('nap')), 'the step cancelled');
      expect(screen('nap')).toMatch(/⊘ cancelled/);
      tmux('send-keys', '-t', 'nap', 'q');
      await waitFor(() => screen('nap').includes('EXIT=2'), 'exit 2 (stopped) after q');
    } finally {
      tmux('kill-session', '-t', 'nap');
      cleanup();
    }
  });
});
