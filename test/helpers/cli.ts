/**
 * Runs the real paddock binary (dist/paddock.js) as a child process.
 */
import { execa, type ResultPromise } from 'execa';
import { PADDOCK } from './fixtures.js';

export interface CliResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

export function paddockProcess(args: string[], env: Record<string, string>, cwd?: string): ResultPromise<{ reject: false; all: false }> {
  return execa(process.execPath, [PADDOCK, ...args], { env: { CI: '1', NO_COLOR: '1', ...env }, cwd, reject: false, all: false });
}

export async function paddock(args: string[], env: Record<string, string>, cwd?: string): Promise<CliResult> {
  const r = await paddockProcess(args, env, cwd);
  return { exitCode: r.exitCode, signal: r.signal ?? undefined, stdout: String(r.stdout), stderr: String(r.stderr) };
}
