/**
 * Crash points for the crash-safety tests. When PADDOCK_KILL_AT is set, each named point that a
 * write passes counts one, and the process SIGKILLs itself at the chosen count:
 *   PADDOCK_KILL_AT=7            die at the 7th crash point of any name
 *   PADDOCK_KILL_AT=cas.write:2  die at the 2nd time a CAS copy writes a chunk
 * Unset (always, outside tests) a hook is one boolean check.
 */
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

/** Marks a crash point. */
export function testHook(point: string): void {
  if (target === 0) return;
  if (name !== undefined && name !== point) return;
  count += 1;
  if (count === target) {
    process.stderr.write(`paddock: PADDOCK_KILL_AT reached at ${point} #${count}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
