/**
 * The real binary in a real terminal: tmux at 80x24, TUI mode (stdin and stdout are TTYs, CI
 * unset), keys sent with send-keys, the screen read with capture-pane.
 */
import { describe, expect, it, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PADDOCK, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';

const SOCKET = `paddock-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (name: string) => tmux('capture-pane', '-p', '-t', name);

function start(name: string, command: string, cols = 80, rows = 24) {
  tmux('new-session', '-d', '-s', name, '-x', String(cols), '-y', String(rows), `env -u CI TERM=xterm-256color LANG=C.UTF-8 ${command}; echo "EXIT=$?"; sleep 600`);
}

afterAll(() => {
  try {
    tmux('kill-server');
  } catch {
    // already gone
  }
});

describe('paddock in tmux at 80x24', () => {
  it('runs the demo in the TUI: live screen, no stale lines, q quits with exit 0', { timeout: 600_000 }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      start('demo', `PADDOCK_HOME=${dir}/home ${process.execPath} ${PADDOCK} demo`);
      await waitFor(() => /LATENCY \S+\/cpu-fp32 {2}p50/.test(screen('demo')), 'live latency on screen', 30_000);
      await waitFor(() => screen('demo').includes('run succeeded; q to quit'), 'the end of the run', 540_000, 500);
      const s = screen('demo');
      const lines = s.split('\n');
      // Every line of the frame once: earlier frames left nothing behind.
      expect(s.match(/^paddock {2}r-/gm)).toHaveLength(1);
      expect(s.match(/^STEPS/gm)).toHaveLength(1);
      expect(s.match(/^LOG$/gm)).toHaveLength(1);
      // The last steps are on screen; the slice table replaced the latency pane.
      expect(s).toMatch(/✔ evaluate\/gate:critical-slices\s+succeeded/);
      expect(s).toMatch(/SLICE\s+AP/);
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
      tmux('send-keys', '-t', 'demo', 'q');
      await waitFor(() => screen('demo').includes('EXIT=0'), 'exit 0 after q');
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
      await waitFor(() => /⊘ package\/nap\s+cancelled/.test(screen('nap')), 'the step cancelled');
      expect(screen('nap')).toMatch(/⊘ cancelled/);
      tmux('send-keys', '-t', 'nap', 'q');
      await waitFor(() => screen('nap').includes('EXIT=2'), 'exit 2 (stopped) after q');
    } finally {
      tmux('kill-session', '-t', 'nap');
      cleanup();
    }
  });
});
