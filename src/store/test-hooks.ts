/**
 * Crash points for the crash-safety tests. When PADDOCK_KILL_AT is set, each named point that a
 * write passes counts one, and the process SIGKILLs itself at the chosen count:
 *   PADDOCK_KILL_AT=7            die at the 7th crash point of any name
 *   PADDOCK_KILL_AT=cas.write:2  die at the 2nd time a CAS copy writes a chunk
 * PADDOCK_PAUSE_AT (same form) pauses the process there instead: it creates the file named by
 * PADDOCK_PAUSE_FILE and blocks (the whole process: these points are in synchronous writes)
 * until the test removes that file, so that a test can look at the store mid-write, e.g. with a
 * CAS copy half done:
 *   PADDOCK_PAUSE_AT=cas.write:1 PADDOCK_PAUSE_FILE=/tmp/x/paused
 * Unset (always, outside tests) a hook is one boolean check.
 */
import { existsSync, writeFileSync } from 'node:fs';
const spec = process.env.PADDOCK_KILL_AT;
let target = 0;
let name: string | undefined;
if (spec) {
  const m = /^(?:([a-z.-]+):)?(\d+)$/.exec(spec);
  if (m) {
    name = m[1];
    target = Number(m[2]);
  }
}
let count = 0;

function parsePoint(v: string | undefined): { name?: string; target: number } {
  const m = v ? /^(?:([a-z.-]+):)?(\d+)$/.exec(v) : null;
  return m ? { name: m[1], target: Number(m[2]) } : { target: 0 };
}
const pause = parsePoint(process.env.PADDOCK_PAUSE_AT);
const pauseFile = process.env.PADDOCK_PAUSE_FILE;
let pauseCount = 0;

/** Blocks until the pause file is removed (Atomics.wait: a synchronous sleep). */
function pauseHere(point: string): void {
  writeFileSync(pauseFile!, `${process.pid} ${point}\n`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (existsSync(pauseFile!)) Atomics.wait(cell, 0, 0, 20);
}

/** Marks a crash point. */
export function testHook(point: string): void {
  if (pause.target !== 0 && pauseFile && (pause.name === undefined || pause.name === point) && ++pauseCount === pause.target) pauseHere(point);
  if (target === 0) return;
  if (name !== undefined && name !== point) return;
  count += 1;
  if (count === target) {
    process.stderr.write(`paddock: PADDOCK_KILL_AT reached at ${point} #${count}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
