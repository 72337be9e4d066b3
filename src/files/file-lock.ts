/**
 * A lock on a directory, for work that one holder at a time may do on it (rendering the world,
 * publishing a pack version): the file `<dir>.lock`, whose presence means "held", naming its
 * holder as JSON {run, pid, host, started, pidStart, token}. The same run gets it again at once
 * (the package steps of one run share a pack); anyone else waits, told every so often who holds
 * it, since when and how fresh its heartbeat is; a dead holder's lock is taken over.
 *
 * Taking it: the holder is written to a temporary file of its own (`<dir>.lock.<token>.tmp`),
 * which is then link(2)ed to `<dir>.lock`. link is atomic and fails with EEXIST when the name
 * exists, so the lock appears whole or not at all (never empty), and of any number of
 * contenders exactly one gets it. (Where a filesystem has no hard links, an exclusive create
 * and a write; the empty-lock rule below covers the moment between them.)
 *
 * Heartbeat: the holder keeps a descriptor on its lock's inode and sets its mtime every
 * HEARTBEAT_MS (a timer that does not keep the process alive). Through the descriptor, not the
 * name: a holder never refreshes a lock that has become someone else's.
 *
 * Dead: a holder on this host whose pid is gone, or whose pid now belongs to a process started
 * at another time (pidStart, from /proc: a reused pid is not the holder); a holder on another
 * host (a container, a machine sharing the filesystem), whose pid means nothing here, when its
 * heartbeat is older than STALE_MS; an empty or unparseable lock (an older paddock that crashed
 * between creating and writing it) when it is older than EMPTY_GRACE_MS. Locks of older
 * paddocks ({run, pid}, or a bare pid) are holders of this host.
 *
 * Taking over: a contender that judges the lock dead removes it only through a break file for
 * that very lock, `<dir>.lock.break-<id>-<n>` (id: the lock's token, or for a lock without one
 * its inode, size and mtime), taken with the same link(2): holding it, it reads `<dir>.lock`
 * again and unlinks it only if it is still the same lock and still dead. Then it competes for
 * the free name like everyone else. A breaker that dies holding the break file is itself judged
 * dead by the same rules (pid on this host; older than BREAK_STALE_MS elsewhere) and the next
 * contender takes break file n+1.
 *
 * Why there are never two holders: a holder H holds from its successful link until it releases
 * or dies, and nobody else ever creates the name while it exists. So two holders need H's file
 * to be removed while H lives. H's own release removes only its own inode (checked through its
 * descriptor). Anyone else removes it only while holding a break file for it, after seeing,
 * under that break file, that the name is still H's lock and H is dead — which H, alive, is
 * not (its pid lives, or its heartbeat is fresh). Between that check and the unlink the name
 * could change only by an unlink, and every unlink of someone else's lock is made under a break
 * file for that lock, which no one else holds (two holders of one break file would need one of
 * them judged dead while alive). Stale locks of different victims have different ids, so a late
 * breaker with an old view finds the name holding another lock and leaves it. The one
 * assumption: a process on another host that has not touched its heartbeat for STALE_MS (or
 * its break file for BREAK_STALE_MS) is gone; one that wakes up after that has lost the lock
 * (its release then leaves the new holder's lock alone).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, futimesSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { formatDuration } from './format.js';

export interface LockHolder {
  /** Who holds it: a run id, or `pid-<n>` for a process on its own. */
  run: string;
  /** The process whose life keeps the lock. */
  pid: number;
  /** The host of that process (os.hostname()); a pid means something only there. */
  host?: string;
  /** When it was taken (ISO time). */
  started?: string;
  /** The start time of `pid` (clock ticks since boot, /proc/<pid>/stat), so a reused pid is not taken for the holder. */
  pidStart?: number;
  /** Unique to one taking of the lock. */
  token?: string;
}

/** What a waiter is told about the lock it waits for. */
export interface LockWait {
  lock: string;
  /** The holder as its lock file says ({} for an empty or unreadable one). */
  holder: Partial<LockHolder>;
  /** The lock file is empty or not a holder (taken over once EMPTY_GRACE_MS old). */
  unreadable: boolean;
  /** How long it has been held (since `started`, else since the file was made). */
  heldMs: number;
  /** Since the holder last touched the lock (its heartbeat). */
  heartbeatMs: number;
  /** How long this waiter has waited so far. */
  waitedMs: number;
}

export interface LockOptions {
  /** How often to look again while it is held (ms, jittered). */
  pollMs?: number;
  /** Told who holds it when the wait starts, when the holder changes, and every `repeatMs` while waiting. */
  onWait?: (w: LockWait) => void;
  repeatMs?: number;
  /** A holder of another host whose heartbeat is older than this is dead. */
  staleMs?: number;
  /** An empty or unparseable lock older than this is dead. */
  emptyGraceMs?: number;
  /** How often a holder touches its lock. */
  heartbeatMs?: number;
}

export const HEARTBEAT_MS = 5_000;
export const STALE_MS = 30_000;
export const EMPTY_GRACE_MS = 5_000;
export const BREAK_STALE_MS = 30_000;
const REPEAT_MS = 15_000;
/** Temporary and break files of crashed contenders are swept when older than this. */
const LEFTOVER_MS = 60_000;

const HOST = hostname();
const lockPath = (dir: string) => `${dir.replace(/\/+$/, '')}.lock`;
const newToken = () => `${process.pid.toString(36)}${randomBytes(8).toString('hex')}`;
const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Locks this process took, by path: the descriptor of each one's inode and its heartbeat. */
const mine = new Map<string, { fd: number; run: string; timer: NodeJS.Timeout }>();

/** A process's start time, in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined where there is no /proc. */
export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const v = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number | undefined, pidStart: number | undefined): boolean {
  if (!pid || pid <= 0 || !Number.isInteger(pid)) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, and belongs to someone else.
    if (code(err) !== 'EPERM') return false;
  }
  if (pidStart === undefined) return true;
  const now = processStart(pid);
  return now === undefined || now === pidStart;
}

/** A lock file as seen at one moment: its identity, its holder if it names one, its times. */
interface Seen {
  id: string;
  holder?: Partial<LockHolder>;
  mtimeMs: number;
  birthMs: number;
}

function parseHolder(text: string): Partial<LockHolder> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    // Locks of older paddocks held a bare pid.
    if (typeof v === 'number') return { pid: v };
    if (v && typeof v === 'object' && typeof (v as LockHolder).pid === 'number') return v as Partial<LockHolder>;
  } catch {
    // empty, half written, or not ours: judged by its age
  }
  return undefined;
}

/** Reads a lock file whole (stat, read, stat again: the same inode both times); undefined when there is none. */
function look(file: string): Seen | undefined {
  for (let i = 0; i < 20; i++) {
    let a: Stats;
    let text: string;
    let b: Stats;
    try {
      a = lstatSync(file);
      text = readFileSync(file, 'utf8');
      b = lstatSync(file);
    } catch (err) {
      if (code(err) === 'ENOENT') return undefined;
      throw err;
    }
    if (a.ino !== b.ino || a.dev !== b.dev || a.size !== b.size) continue;
    const holder = parseHolder(text);
    const id = holder?.token ? `t${holder.token}` : `i${b.dev}.${b.ino}.${b.size}.${Math.round(b.mtimeMs)}`;
    return { id: id.replace(/[^A-Za-z0-9.]/g, '_'), holder, mtimeMs: b.mtimeMs, birthMs: b.birthtimeMs > 0 ? b.birthtimeMs : b.mtimeMs };
  }
  throw new Error(`${file}: it changed on every one of 20 reads`);
}

function dead(s: Seen, o: { staleMs: number; emptyGraceMs: number }, now = Date.now()): boolean {
  if (!s.holder) return now - s.mtimeMs > o.emptyGraceMs;
  if (s.holder.host && s.holder.host !== HOST) return now - s.mtimeMs > o.staleMs;
  return !alive(s.holder.pid, s.holder.pidStart);
}

/**
 * Creates `file` holding `holder`, whole, or finds it there: a temporary file linked to the
 * name. Returns the descriptor of the new file's inode, or undefined when the name exists.
 */
function create(file: string, holder: LockHolder): number | undefined {
  const text = JSON.stringify(holder);
  const tmp = `${file}.${holder.token}.tmp`;
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, text);
    try {
      linkSync(tmp, file);
    } catch (err) {
      if (code(err) === 'EEXIST') {
        closeSync(fd);
        return undefined;
      }
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(code(err) ?? '')) throw err;
      // No hard links here: an exclusive create, then the write (empty for a moment).
      closeSync(fd);
      return createDirect(file, text);
    }
    return fd;
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    throw err;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // gone already
    }
  }
}

function createDirect(file: string, text: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (err) {
    if (code(err) === 'EEXIST') return undefined;
    throw err;
  }
  writeSync(fd, text);
  return fd;
}

/**
 * Removes the lock file `seen` (someone else's) if, under a break file for it, it is still that
 * lock and `still` holds: see the module comment for why this can never remove a live holder's
 * lock. Returns false when another contender is breaking it now.
 */
function removeUnderBreak(lock: string, seen: Seen, still: (again: Seen) => boolean, o: { staleMs: number; emptyGraceMs: number }): boolean {
  const prefix = `${lock}.break-${seen.id}-`;
  for (let n = 1; n < 1000; n++) {
    const brk = `${prefix}${n}`;
    const me: LockHolder = { run: 'break', pid: process.pid, host: HOST, started: new Date().toISOString(), pidStart: processStart(process.pid), token: newToken() };
    const fd = create(brk, me);
    if (fd === undefined) {
      const other = look(brk);
      // Gone: that breaker finished; the caller looks at the lock again.
      if (!other) return true;
      if (dead(other, { staleMs: BREAK_STALE_MS, emptyGraceMs: o.emptyGraceMs })) continue;
      return false;
    }
    try {
      const again = look(lock);
      if (again && again.id === seen.id && still(again)) {
        try {
          unlinkSync(lock);
        } catch (err) {
          if (code(err) !== 'ENOENT') throw err;
        }
      }
    } finally {
      closeSync(fd);
      for (let k = n; k >= 1; k--) {
        try {
          unlinkSync(`${prefix}${k}`);
        } catch {
          // a dead breaker's file already swept
        }
      }
    }
    return true;
  }
  throw new Error(`${lock}: a thousand breakers of one lock died holding their break files`);
}

/** Temporary and break files of contenders that died long ago (a crash between creating and linking, or while breaking). */
function sweepLeftovers(lock: string): void {
  const dir = dirname(lock);
  const base = basename(lock);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(`${base}.`) || !(name.endsWith('.tmp') || name.startsWith(`${base}.break-`))) continue;
    const p = join(dir, name);
    try {
      const s = look(p);
      if (!s || now - s.mtimeMs < LEFTOVER_MS) continue;
      if (s.holder && (!s.holder.host || s.holder.host === HOST) && alive(s.holder.pid, s.holder.pidStart)) continue;
      unlinkSync(p);
    } catch {
      // someone else swept it
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for the lock on `dir` and takes it (at once when `me.run` holds it already). `onWait` is
 * told who holds it, and again every `repeatMs` while the wait goes on: a wait is never silent.
 */
export async function acquireDirLock(dir: string, me: LockHolder, opts: LockOptions = {}): Promise<void> {
  const lock = lockPath(dir);
  const o = { staleMs: opts.staleMs ?? STALE_MS, emptyGraceMs: opts.emptyGraceMs ?? EMPTY_GRACE_MS };
  const holder: LockHolder = { run: me.run, pid: me.pid, host: me.host ?? HOST, started: new Date().toISOString(), pidStart: me.pidStart ?? processStart(me.pid), token: newToken() };
  const taken = mine.get(lock);
  if (taken && taken.run === me.run) return;
  mkdirSync(dirname(lock), { recursive: true });
  sweepLeftovers(lock);
  const t0 = Date.now();
  let told: { id: string; at: number } | undefined;
  for (;;) {
    const fd = create(lock, holder);
    if (fd !== undefined) {
      const timer = setInterval(() => {
        try {
          const now = new Date();
          futimesSync(fd, now, now);
        } catch {
          // released meanwhile
        }
      }, opts.heartbeatMs ?? HEARTBEAT_MS);
      timer.unref();
      mine.set(lock, { fd, run: me.run, timer });
      return;
    }
    const seen = look(lock);
    if (!seen) continue; // released between the two: try again at once
    if (seen.holder?.run === me.run) return;
    if (dead(seen, o)) {
      if (removeUnderBreak(lock, seen, (again) => dead(again, o), o)) continue;
    } else if (opts.onWait && (told?.id !== seen.id || Date.now() - told.at >= (opts.repeatMs ?? REPEAT_MS))) {
      const now = Date.now();
      const started = seen.holder?.started ? Date.parse(seen.holder.started) : NaN;
      opts.onWait({ lock, holder: seen.holder ?? {}, unreadable: !seen.holder, heldMs: now - (Number.isFinite(started) ? started : seen.birthMs), heartbeatMs: now - seen.mtimeMs, waitedMs: now - t0 });
      told = { id: seen.id, at: now };
    }
    const poll = opts.pollMs ?? 250;
    await sleep(poll * (0.5 + Math.random()));
  }
}

/** One line for a waiter: who holds the lock, where, for how long, how fresh its heartbeat is. */
export function describeLockWait(w: LockWait): string {
  if (w.unreadable) return `${w.lock} is empty or unreadable (a holder that crashed while writing it, or is writing it now; taken over once ${formatDuration(EMPTY_GRACE_MS)} old); waited ${formatDuration(w.waitedMs)}`;
  const where = w.holder.host && w.holder.host !== HOST ? `on host ${w.holder.host}` : 'on this host';
  return `held by run ${w.holder.run ?? '?'} (pid ${w.holder.pid} ${where}) for ${formatDuration(w.heldMs)}, heartbeat ${formatDuration(w.heartbeatMs)} ago; waited ${formatDuration(w.waitedMs)}`;
}

/** Gives up the lock on `dir` if `run` holds it (taken by this process, or by another process of the same run). */
export function releaseDirLock(dir: string, run: string): void {
  const lock = lockPath(dir);
  const m = mine.get(lock);
  if (m && m.run === run) {
    mine.delete(lock);
    clearInterval(m.timer);
    try {
      // Only our own inode: a lock taken over while we were stalled is the new holder's.
      const ours = fstatSync(m.fd);
      const now = lstatSync(lock);
      if (now.ino === ours.ino && now.dev === ours.dev) unlinkSync(lock);
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err;
    } finally {
      closeSync(m.fd);
    }
    return;
  }
  // Another process of this run took it (a package step; `sign` releases): removed under a
  // break file, as a breaker would, so that a lock another run has taken since stays.
  const o = { staleMs: STALE_MS, emptyGraceMs: EMPTY_GRACE_MS };
  for (let i = 0; i < 200; i++) {
    const seen = look(lock);
    if (seen?.holder?.run !== run) return;
    if (removeUnderBreak(lock, seen, (again) => again.holder?.run === run, o)) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  throw new Error(`${lock}: could not release it: another process kept breaking it`);
}
