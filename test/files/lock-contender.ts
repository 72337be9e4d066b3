/**
 * One contender for a directory lock, for test/files/file-lock.test.ts (bundled by the test
 * with esbuild):
 *   node lock-contender.mjs <dir> <log> <id> <rounds> [die-at-round]
 * Each round: take the lock, append "enter <id> <round>" to the shared log, hold it a moment,
 * append "exit <id> <round>", release. At round die-at-round it appends "die <id> <round>" while
 * holding and SIGKILLs itself, leaving its lock to be taken over. LOCK_EMPTY_GRACE_MS shortens
 * the wait before an empty lock is taken over; with LOCK_GO_FILE it first marks itself ready
 * (ready-<id> beside the lock) and waits for that file, so that all start at the same moment.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { acquireDirLock, releaseDirLock } from '../../src/files/file-lock.js';

const [dir, log, id, roundsText, dieAtText] = process.argv.slice(2);
const rounds = Number(roundsText);
const dieAt = dieAtText === undefined ? -1 : Number(dieAtText);
const opts = { pollMs: 5, emptyGraceMs: Number(process.env.LOCK_EMPTY_GRACE_MS ?? 5000) };

const go = process.env.LOCK_GO_FILE;
if (go) {
  writeFileSync(join(dirname(dir), `ready-${id}`), '');
  while (!existsSync(go)) await new Promise((r) => setTimeout(r, 2));
}

for (let i = 0; i < rounds; i++) {
  await acquireDirLock(dir, { run: `c-${id}`, pid: process.pid }, opts);
  appendFileSync(log, `enter ${id} ${i}\n`);
  if (i === dieAt) {
    appendFileSync(log, `die ${id} ${i}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
  await new Promise((r) => setTimeout(r, Math.random() * 3));
  appendFileSync(log, `exit ${id} ${i}\n`);
  releaseDirLock(dir, `c-${id}`);
  // Sometimes straight back, sometimes after a pause, so that contenders meet in every state.
  if (Math.random() < 0.5) await new Promise((r) => setTimeout(r, Math.random() * 4));
}
