/**
 * The help and the footer of the real binary in a real terminal: `paddock ui` in tmux at 80x24
 * (TUI mode: stdin and stdout are TTYs, CI unset) on a store holding two small runs made
 * headless. Every screen's footer keeps `? help` and `q quit`; `?` shows the grouped help,
 * which PgDn scrolls to its last line, the `:` commands included; `/` edits the filter kept with a
 * space after it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PADDOCK, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';

const SOCKET = `paddock-help-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (name: string) => tmux('capture-pane', '-p', '-t', name);
const lines = (name: string) => screen(name).replace(/\n+$/, '').split('\n');

afterAll(() => {
  try {
    execFileSync('tmux', ['-L', SOCKET, 'kill-server'], { stdio: 'ignore' });
  } catch {
    // already gone
  }
});

describe('paddock ui in tmux at 80x24: help and footer', () => {
  it('every screen keeps "? help" and "q quit"; the help scrolls to its end; / edits the filter kept', { timeout: 120_000 }, async () => {
    const { dir, cleanup } = tempDir();
    const name = 'help';
    try {
      const recipe = join(dir, 'paddock.yaml');
      const run = JSON.stringify([process.execPath, join(ROOT, 'test', 'fixtures', 'step-behaviours.mjs'), 'events']);
      writeFileSync(recipe, `version: 1\nname: keys\nstages:\n  package:\n    - { id: only, run: ${run} }\n`);
      for (let i = 0; i < 2; i++) execFileSync(process.execPath, [PADDOCK, 'run', recipe, '--headless'], { env: { ...process.env, PADDOCK_HOME: join(dir, 'home') }, stdio: 'ignore' });
      tmux('new-session', '-d', '-s', name, '-x', '80', '-y', '24', '-c', dir, `env -u CI TERM=xterm-256color LANG=C.UTF-8 PADDOCK_HOME=${dir}/home ${process.execPath} ${PADDOCK} ui; echo "EXIT=$?"; sleep 600`);
      await waitFor(() => screen(name).includes('RUNS (2)'), 'the run list', 30_000);
      for (const [key, id] of [['2', 'run'], ['3', 'latency'], ['4', 'slices'], ['5', 'failures'], ['6', 'gates'], ['1', 'runs']]) {
        tmux('send-keys', '-t', name, key);
        await waitFor(() => lines(name)[0].includes(`[${key} ${id}]`), `the ${id} screen: ${screen(name)}`);
        const footer = await waitFor(() => lines(name).at(-1)?.trimEnd() ?? '', 'the footer');
        expect(footer, `the footer on ${id}`).toMatch(/\? help · q quit$/);
        expect(footer.length).toBeLessThanOrEqual(80);
      }

      tmux('send-keys', '-t', name, '?');
      await waitFor(() => screen(name).includes('HELP: keys and commands'), 'the help');
      expect(screen(name)).toMatch(/^ {2}SCREENS$/m);
      expect(screen(name)).toMatch(/^ {2}6 {10}gates$/m);
      const total = Number(/lines 1-20 of (\d+)/.exec(screen(name))?.[1]);
      expect(total).toBeGreaterThan(20);
      const seen = new Set(lines(name));
      for (let i = 0; i < 5 && !screen(name).includes(`-${total} of ${total}`); i++) {
        const was = screen(name);
        tmux('send-keys', '-t', name, 'NPage');
        await waitFor(() => screen(name) !== was, 'the next page');
        for (const l of lines(name)) seen.add(l.trimEnd());
      }
      expect(screen(name)).toContain(`-${total} of ${total}`);
      for (const heading of ['MOVEMENT', 'ACTIONS', 'COMMANDS (: then the name, Enter)']) expect(seen.has(`  ${heading}`), heading).toBe(true);
      expect([...seen].some((l) => /^ {2}:quit +quit/.test(l))).toBe(true);
      expect([...seen].some((l) => /^ {2}q {10}quit$/.test(l))).toBe(true);
      for (const l of screen(name).split('\n')) expect(l.length).toBeLessThanOrEqual(80);
      tmux('send-keys', '-t', name, 'Escape');
      await waitFor(() => screen(name).includes('RUNS (2)'), 'the help closed');

      tmux('send-keys', '-t', name, '/');
      tmux('send-keys', '-t', name, '-l', 'keys');
      tmux('send-keys', '-t', name, 'Enter');
      await waitFor(() => screen(name).includes('RUNS (2 /keys)'), 'the filter kept');
      tmux('send-keys', '-t', name, '/');
      await waitFor(() => lines(name).at(-1)?.startsWith('/keys ▏'), `the filter edited, a space after it: ${screen(name)}`);
      tmux('send-keys', '-t', name, '-l', 'nomatch');
      await waitFor(() => screen(name).includes('RUNS (0 /keys nomatch)'), 'both words filter');
      tmux('send-keys', '-t', name, 'Escape');
      await waitFor(() => screen(name).includes('RUNS (2)'), 'Esc clears the filter');

      tmux('send-keys', '-t', name, 'q');
      await waitFor(() => screen(name).includes('EXIT=0'), 'exit 0 after q');
    } finally {
      try {
        tmux('kill-session', '-t', name);
      } catch {
        // never started
      }
      cleanup();
    }
  });
});
