/**
 * The directory lock (src/files/file-lock.ts) with real processes and real files: many
 * contenders racing for many rounds, some dying while they hold it, empty locks dropped in
 * between, every holder logging while it holds, and the log showing never two at once; takeover
 * of a dead holder's lock by eight contenders let loose at the same moment; an empty lock that
 * no longer waits forever; a wait that says who holds the lock, where and for how long, and
 * says it again; a holder on another host judged by its heartbeat; a reused pid.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDirLock, describeLockWait, processStart, releaseDirLock, type LockWait } from '../../src/files/file-lock.js';
import { paddockProcess } from '../helpers/cli.js';
import { ROOT, tempDir, waitFor } from '../helpers/fixtures.js';

const CONTENDER = join(ROOT, 'build', 'test', `lock-contender-${process.pid}.mjs`);
let tmp: ReturnType<typeof tempDir>;

beforeAll(async () => {
  tmp = tempDir('paddock-lock-');
  await build({ entryPoints: [join(ROOT, 'test', 'files', 'lock-contender.ts')], outfile: CONTENDER, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning', absWorkingDir: ROOT });
});
afterAll(() => tmp.cleanup());

/** The holders in order, from the shared log; fails on an "enter" while another holds it. */
function checkLog(file: string): { entries: number; deaths: number } {
  let inside: string | undefined;
  let entries = 0;
  let deaths = 0;
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  lines.forEach((line, i) => {
    const [what, id, round] = line.split(' ');
    const who = `${id}#${round}`;
    if (what === 'enter') {
      if (inside) throw new Error(`line ${i + 1}: ${who} entered while ${inside} held the lock:\n${lines.slice(Math.max(0, i - 4), i + 2).join('\n')}`);
      inside = who;
      entries++;
    } else {
      if (inside !== who) throw new Error(`line ${i + 1}: ${line} but ${inside ?? 'nobody'} held the lock`);
      inside = undefined;
      if (what === 'die') deaths++;
    }
  });
  return { entries, deaths };
}

const contender = (dir: string, log: string, id: string, rounds: number, dieAt?: number, env: Record<string, string> = {}) =>
  execa(process.execPath, [CONTENDER, dir, log, id, String(rounds), ...(dieAt === undefined ? [] : [String(dieAt)])], { reject: false, env: { LOCK_EMPTY_GRACE_MS: '150', ...env } });

describe('the directory lock under contention', () => {
  it('12 processes, 30 rounds each, 3 of them dying while they hold it, empty locks dropped in: never two holders', async () => {
    const dir = join(tmp.dir, 'race', 'target');
    const log = join(tmp.dir, 'race.log');
    mkdirSync(join(tmp.dir, 'race'), { recursive: true });
    writeFileSync(log, '');
    const dying: Record<number, number> = { 0: 3, 5: 12, 9: 25 };
    const procs = Array.from({ length: 12 }, (_, i) => contender(dir, log, `p${i}`, 30, dying[i]));
    // An older paddock that crashes between creating its lock and writing it: an empty lock,
    // made only where there is none (it never replaces a holder's).
    let vandal = 0;
    const timer = setInterval(() => {
      try {
        closeSync(openSync(`${dir}.lock`, 'wx'));
        vandal++;
      } catch {
        // held: nothing dropped
      }
    }, 40);
    const results = await Promise.all(procs);
    clearInterval(timer);
    for (const [i, r] of results.entries()) {
      if (i in dying) expect(r.signal, `p${i}: ${r.stderr}`).toBe('SIGKILL');
      else expect(r.exitCode, `p${i}: ${r.stderr}`).toBe(0);
    }
    const { entries, deaths } = checkLog(log);
    expect(deaths).toBe(3);
    expect(entries).toBe(9 * 30 + 3 + 12 + 25 + 3);
    expect(vandal).toBeGreaterThan(0);
  }, 120_000);

  it("10 races of 8 processes let loose at once on a dead holder's lock: one holder at a time, every time", async () => {
    for (let race = 0; race < 10; race++) {
      const dir = join(tmp.dir, `dead-${race}`, 'target');
      mkdirSync(join(tmp.dir, `dead-${race}`), { recursive: true });
      const log = join(tmp.dir, `dead-${race}.log`);
      writeFileSync(log, '');
      const go = join(tmp.dir, `go-${race}`);
      // Each waits for the go file, then all find the same dead lock at the same moment.
      writeFileSync(`${dir}.lock`, JSON.stringify({ run: 'r-dead', pid: 999_999_999 }));
      const procs = Array.from({ length: 8 }, (_, i) => contender(dir, log, `q${i}`, 2, undefined, { LOCK_GO_FILE: go }));
      await waitFor(() => readdirCount(join(tmp.dir, `dead-${race}`)) >= 8 + 1, 'every contender ready', 30_000);
      writeFileSync(go, '');
      const results = await Promise.all(procs);
      for (const r of results) expect(r.exitCode, r.stderr).toBe(0);
      expect(checkLog(log).entries).toBe(16);
    }
  }, 180_000);
});

/** Entries in a folder (the contenders mark themselves ready there). */
const readdirCount = (dir: string) => (existsSync(dir) ? readdirSync(dir).length : 0);

describe('the directory lock, one case at a time', () => {
  it('an empty lock (a crash between create and write) is taken over once a few seconds old, never waited on forever', async () => {
    const dir = join(tmp.dir, 'empty-old');
    writeFileSync(`${dir}.lock`, '');
    const old = new Date(Date.now() - 10_000);
    utimesSync(`${dir}.lock`, old, old);
    const t0 = Date.now();
    await acquireDirLock(dir, { run: 'r-1', pid: process.pid }, { pollMs: 20 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(JSON.parse(readFileSync(`${dir}.lock`, 'utf8'))).toMatchObject({ run: 'r-1', pid: process.pid, host: hostname() });
    releaseDirLock(dir, 'r-1');
    expect(existsSync(`${dir}.lock`)).toBe(false);

    // A fresh one: waited on (and said so) for the grace period, then taken.
    const fresh = join(tmp.dir, 'empty-fresh');
    writeFileSync(`${fresh}.lock`, '');
    const waits: LockWait[] = [];
    const t1 = Date.now();
    await acquireDirLock(fresh, { run: 'r-2', pid: process.pid }, { pollMs: 20, emptyGraceMs: 400, onWait: (w) => waits.push(w) });
    expect(Date.now() - t1).toBeGreaterThanOrEqual(350);
    expect(waits[0]).toMatchObject({ unreadable: true, holder: {} });
    expect(describeLockWait(waits[0])).toMatch(/empty-fresh\.lock is empty or unreadable/);
    releaseDirLock(fresh, 'r-2');
  });

  it('a wait names the holder, its pid and host, and how long it has held the lock, and says so again while it lasts', async () => {
    const dir = join(tmp.dir, 'told');
    await acquireDirLock(dir, { run: 'r-a', pid: process.pid });
    const waits: LockWait[] = [];
    const b = acquireDirLock(dir, { run: 'r-b', pid: process.pid }, { pollMs: 20, repeatMs: 150, onWait: (w) => waits.push(w) });
    await waitFor(() => waits.length >= 3, 'three wait messages', 5000);
    expect(existsSync(`${dir}.lock`)).toBe(true);
    const line = describeLockWait(waits[2]);
    expect(line).toMatch(new RegExp(`^held by run r-a \\(pid ${process.pid} on this host\\) for \\d+ms, heartbeat \\d+ms ago; waited \\d+ms$`));
    expect(waits[2].heldMs).toBeGreaterThan(waits[0].heldMs);
    expect(waits[2].waitedMs).toBeGreaterThanOrEqual(250);
    expect(waits[0].holder).toMatchObject({ run: 'r-a', pid: process.pid, host: hostname() });
    releaseDirLock(dir, 'r-a');
    await b;
    expect(JSON.parse(readFileSync(`${dir}.lock`, 'utf8')).run).toBe('r-b');
    releaseDirLock(dir, 'r-b');
  });

  it('a holder on another host keeps its lock while its heartbeat is fresh, and loses it when the heartbeat stops', async () => {
    const dir = join(tmp.dir, 'far');
    writeFileSync(`${dir}.lock`, JSON.stringify({ run: 'r-far', pid: 1, host: 'another-host', started: new Date().toISOString(), token: 'far1' }));
    const waits: LockWait[] = [];
    let stoppedAt = 0;
    let beats = 0;
    const heartbeat = setInterval(() => {
      const now = new Date();
      utimesSync(`${dir}.lock`, now, now);
      if (++beats === 12) {
        clearInterval(heartbeat);
        stoppedAt = Date.now();
      }
    }, 50);
    await acquireDirLock(dir, { run: 'r-here', pid: process.pid }, { pollMs: 20, staleMs: 300, onWait: (w) => waits.push(w) });
    clearInterval(heartbeat);
    expect(stoppedAt).toBeGreaterThan(0);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(250);
    expect(describeLockWait(waits[0])).toMatch(/^held by run r-far \(pid 1 on host another-host\)/);
    releaseDirLock(dir, 'r-here');
  });

  it("the holder's heartbeat keeps its lock fresh; a lock whose pid was reused by another process is dead", async () => {
    const dir = join(tmp.dir, 'beat');
    await acquireDirLock(dir, { run: 'r-beat', pid: process.pid }, { heartbeatMs: 40 });
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${dir}.lock`, old, old);
    await waitFor(() => Date.now() - statSync(`${dir}.lock`).mtimeMs < 1000, 'a heartbeat', 3000);
    releaseDirLock(dir, 'r-beat');

    const start = processStart(process.pid);
    expect(start).toBeGreaterThan(0);
    const reused = join(tmp.dir, 'reused');
    writeFileSync(`${reused}.lock`, JSON.stringify({ run: 'r-old', pid: process.pid, host: hostname(), pidStart: start! - 1, token: 'old1' }));
    await acquireDirLock(reused, { run: 'r-new', pid: process.pid }, { pollMs: 20 });
    expect(JSON.parse(readFileSync(`${reused}.lock`, 'utf8')).run).toBe('r-new');
    releaseDirLock(reused, 'r-new');
  });

  it("a holder that lost its lock leaves the new holder's lock alone when it releases", async () => {
    const dir = join(tmp.dir, 'lost');
    await acquireDirLock(dir, { run: 'r-slow', pid: process.pid });
    // Taken over while it was stalled (its file replaced by the new holder's).
    unlinkSync(`${dir}.lock`);
    writeFileSync(`${dir}.lock`, JSON.stringify({ run: 'r-next', pid: process.pid, host: hostname(), token: 'next1' }));
    releaseDirLock(dir, 'r-slow');
    expect(JSON.parse(readFileSync(`${dir}.lock`, 'utf8')).run).toBe('r-next');
  });

  it('a world build that waits for the world lock says who holds it, then builds when it is released', async () => {
    const out = join(tmp.dir, 'world');
    await acquireDirLock(out, { run: 'r-other-build', pid: process.pid });
    const child = paddockProcess(['world', 'build', '--tiny', '--out', out], {});
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await waitFor(() => err.includes('world build: waiting for'), 'the wait message', 30_000);
    expect(err).toMatch(new RegExp(`waiting for ${out}: held by run r-other-build \\(pid ${process.pid} on this host\\)`));
    releaseDirLock(out, 'r-other-build');
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(existsSync(`${out}.lock`)).toBe(false);
  }, 90_000);
});
