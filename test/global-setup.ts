/**
 * Checks, before any test runs, that what the tests need is here; a missing part is a setup
 * failure with a clear message, never a silent skip. scripts/bootstrap.mjs installs and starts
 * these on a fresh Debian machine (npm test).
 */
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

export default function setup(): void {
  const problems: string[] = [];
  if (!existsSync(join(root, 'dist', 'paddock.js')) || !existsSync(join(root, 'dist', 'step.js'))) {
    problems.push('dist/ is not built: run "npm test" (it builds), or "npm run build"');
  }
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import json, hashlib'], { stdio: 'ignore' });
  } catch {
    problems.push('/usr/bin/python3 is missing: the Python event helper tests need Debian\'s python3 (npm test installs it as root)');
  }
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
  } catch {
    problems.push('tmux is missing: the end-to-end TUI tests drive the real binary in tmux (npm test installs Debian\'s tmux as root)');
  }
  if (problems.length) {
    throw new Error(`test setup failed:\n  - ${problems.join('\n  - ')}`);
  }
}
