/**
 * One of many processes that claim the same run at once, for test/store/store-integrity.test.ts:
 *   node claim-worker.mjs <store home> <run id> <go file> <release file>
 * Waits for <go file> (so that every worker claims at the same moment), claims the run, prints
 * the claim as JSON, then holds it (stays alive) until <release file> exists.
 */
import { existsSync } from 'node:fs';
import { RunStore } from '../../src/store/run-store.js';
import { isAlive } from '../../runners/process-tree.js';

const [home, runId, go, release] = process.argv.slice(2);
const store = new RunStore(home);
const cell = new Int32Array(new SharedArrayBuffer(4));
while (!existsSync(go)) Atomics.wait(cell, 0, 0, 1);
const claim = store.claimRun(runId, isAlive);
process.stdout.write(`${JSON.stringify({ pid: process.pid, ok: claim.ok, message: claim.ok ? undefined : claim.message })}\n`);
while (!existsSync(release)) Atomics.wait(cell, 0, 0, 5);
store.close();
