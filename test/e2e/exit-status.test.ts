/**
 * The exit status of `paddock run` in the workbench is the run's outcome, after `q` as headless:
 * 0 ok, 1 a gate failed or was rejected, 2 an error. The real binary in tmux at 80x24 (TUI mode:
 * stdin and stdout are TTYs, CI unset), as test/e2e/tmux.test.ts drives it, on small recipes of
 * command steps (test/fixtures/step-behaviours.mjs) so that each case takes seconds. The shell
 * in the pane prints `EXIT=<status>` once paddock has ended; the run store must say the same.
 */
import { describe, expect, it, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PADDOCK, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';
import { RunStore } from '../../src/store/run-store.js';

const SOCKET = `paddock-exit-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (name: string) => tmux('capture-pane', '-p', '-t', name);
const BEHAVIOURS = join(ROOT, 'test', 'fixtures', 'step-behaviours.mjs');

function start(name: string, command: string, cwd: string) {
  tmux('new-session', '-d', '-s', name, '-x', '80', '-y', '24', '-c', cwd, `env -u CI TERM=xterm-256color LANG=C.UTF-8 ${command}; echo "EXIT=$?"; sleep 600`);
}

afterAll(() => {
  try {
    execFileSync('tmux', ['-L', SOCKET, 'kill-server'], { stdio: 'ignore' });
  } catch {
    // already gone
  }
});

/**
 * One command step (step-behaviours.mjs: `events` prints the metric m = 42 ms, `fail` exits 3)
 * and, when given, one gate on m after the package stage.
 */
function recipe(dir: string, behaviour: 'events' | 'fail', gate?: string): string {
  const path = join(dir, 'paddock.yaml');
  const run = JSON.stringify([process.execPath, BEHAVIOURS, behaviour]);
  writeFileSync(path, `version: 1\nname: exit-${behaviour}\nstages:\n  package:\n    - { id: only, run: ${run} }\n${gate ? `gates:\n  - ${gate}\n` : ''}`);
  return path;
}

/** The header says the run has ended: the workbench's `q` then quits instead of asking to stop steps. */
const ENDED = /^paddock\s+r-\S+\s+\S*\s*(succeeded|failed|cancelled)/m;

/**
 * Runs `recipeFile` in the workbench, lets `answer` act on the screen, waits for the run's end,
 * presses q, and returns the shell's exit status and the run's recorded one.
 */
async function runInWorkbench(name: string, recipeFile: string, dir: string, answer?: () => Promise<void>): Promise<{ exit: number; recorded: number | null; status: string }> {
  const gitConfig = join(dir, 'gitconfig');
  writeFileSync(gitConfig, '[user]\n\temail = e2e@paddock.test\n');
  start(name, `GIT_CONFIG_GLOBAL=${gitConfig} PADDOCK_HOME=${dir}/home ${process.execPath} ${PADDOCK} run ${recipeFile}`, dir);
  try {
    await waitFor(() => screen(name).includes('STAGE/STEP'), 'the run screen', 30_000);
    if (answer) await answer();
    await waitFor(() => ENDED.test(screen(name)), `the end of the run: ${screen(name)}`, 60_000);
    // Nothing printed EXIT yet: paddock waits for q.
    expect(screen(name)).not.toMatch(/EXIT=/);
    tmux('send-keys', '-t', name, 'q');
    const exit = Number(await waitFor(() => /EXIT=(\d+)/.exec(screen(name))?.[1], `paddock to exit after q: ${screen(name)}`));
    const store = new RunStore(join(dir, 'home'), { readonly: true });
    try {
      const run = store.listRuns(1)[0];
      return { exit, recorded: run.exit_code, status: run.status };
    } finally {
      store.close();
    }
  } finally {
    tmux('kill-session', '-t', name);
  }
}

/** Answers the gate `gate` at the keyboard: `a` (approve) or `x` (reject), a reason, Enter, then y at the confirmation. */
function answerGate(name: string, gate: string, key: 'a' | 'x', reason: string) {
  return async () => {
    await waitFor(() => screen(name).includes(`GATE ${gate} needs review`), `the gate ${gate} asking: ${screen(name)}`, 30_000);
    tmux('send-keys', '-t', name, key);
    await waitFor(() => new RegExp(`reason for (approving|rejecting).* ${gate}:`).test(screen(name)), 'the reason prompt');
    tmux('send-keys', '-t', name, '-l', reason);
    tmux('send-keys', '-t', name, 'Enter');
    const verb = key === 'a' ? 'approve' : 'reject';
    await waitFor(() => new RegExp(`${verb} ${gate} as e2e@paddock\\.test because "${reason}"\\?`).test(screen(name)), `the confirmation: ${screen(name)}`);
    tmux('send-keys', '-t', name, 'y');
  };
}

const SIGNOFF = '{ id: signoff, stage: package, metric: m, op: "<", threshold: 100, approval: required }';

describe('the exit status after q in the workbench (tmux, 80x24)', () => {
  it('is 0 when the gate is approved', { timeout: 120_000 }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await runInWorkbench('approve', recipe(dir, 'events', SIGNOFF), dir, answerGate('approve', 'signoff', 'a', 'looks right'));
      expect(r).toEqual({ exit: 0, recorded: 0, status: 'succeeded' });
    } finally {
      cleanup();
    }
  });

  it('is 1 when the gate is rejected', { timeout: 120_000 }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await runInWorkbench('reject', recipe(dir, 'events', SIGNOFF), dir, answerGate('reject', 'signoff', 'x', 'not yet'));
      expect(r).toEqual({ exit: 1, recorded: 1, status: 'failed' });
    } finally {
      cleanup();
    }
  });

  it('is 1 when a gate fails', { timeout: 120_000 }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await runInWorkbench('gate-fail', recipe(dir, 'events', '{ id: too-slow, stage: package, metric: m, op: "<", threshold: 1 }'), dir);
      expect(r).toEqual({ exit: 1, recorded: 1, status: 'failed' });
    } finally {
      cleanup();
    }
  });

  it('is 2 when a step fails', { timeout: 120_000 }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await runInWorkbench('step-fail', recipe(dir, 'fail'), dir);
      expect(r).toEqual({ exit: 2, recorded: 2, status: 'failed' });
    } finally {
      cleanup();
    }
  });
});
