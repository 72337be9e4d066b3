/**
 * A lock file for work that one process at a time may do on a directory (rendering the world,
 * writing a pack): `<dir>.lock` holds who has it (`run`) and the pid that keeps it alive. The same
 * holder gets it again at once; another waits while that pid lives; a lock whose pid is gone is
 * taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface LockHolder {
  /** Who holds it: a run id, or `pid-<n>` for a process on its own. */
  run: string;
  /** The process whose life keeps the lock. */
  pid: number;
}

const lockPath = (dir: string) => `${dir.replace(/\/+$/, '')}.lock`;

function readHolder(lock: string): Partial<LockHolder> | undefined {
  try {
    const v = JSON.parse(readFileSync(lock, 'utf8')) as unknown;
    // Locks written before this module held a bare pid.
    return typeof v === 'number' ? { pid: v } : (v as Partial<LockHolder>);
  } catch {
    return undefined;
  }
}

function alive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for the lock on `dir`; `onWait` is told once who holds it. */
export async function acquireDirLock(dir: string, me: LockHolder, opts: { pollMs?: number; onWait?: (held: Partial<LockHolder>) => void } = {}): Promise<void> {
  const lock = lockPath(dir);
  mkdirSync(dirname(lock), { recursive: true });
  let said = false;
  for (;;) {
    try {
      writeFileSync(lock, JSON.stringify(me), { flag: 'wx' });
      return;
    } catch {
      const held = readHolder(lock);
      if (!held) {
        // Between its creation and its first write, or just removed: look again.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (held.run === me.run) return;
      if (!alive(held.pid)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (!said) opts.onWait?.(held);
      said = true;
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
    }
  }
}

/** Removes the lock on `dir` if `run` holds it. */
export function releaseDirLock(dir: string, run: string): void {
  const lock = lockPath(dir);
  if (readHolder(lock)?.run === run) rmSync(lock, { force: true });
}
