/**
 * One contender of test/registry/race.test.ts, run as its own process (bundled by
 * test/helpers/registry-dbs.ts bundleWorker): opens the registry given, says `ready` on stdout,
 * waits for `go` on stdin (so that every contender starts its write at once, having decided on
 * the same `expect` beforehand), makes its one write through the real Registry, and prints the
 * outcome as one JSON line: { ok: true, result } or { ok: false, inputError, message }, with
 * when its write began and ended.
 *
 *   node race-worker.mjs '{"spec":"/tmp/r.sqlite","auditKey":"/tmp/k.pem","op":"promote","model":"m","version":"1.2.0","expect":null,"actor":"w1@x","reason":"r"}'
 */
import { createInterface } from 'node:readline';
import { isInputError } from '../../src/files/input-error.js';
import { Registry } from '../../src/registry/registry.js';

interface Job {
  spec: string;
  auditKey: string;
  op: 'promote' | 'rollback';
  model: string;
  version?: string;
  expect?: string | null;
  actor: string;
  reason: string;
}

const job = JSON.parse(process.argv[2]!) as Job;
const reg = await Registry.open(job.spec, { auditKey: job.auditKey });
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === 'go') break;
lines.close();
// When this contender began and ended its write (ms, sub-ms resolution), so the test can show the writes overlapped.
const clock = () => performance.timeOrigin + performance.now();
const began = clock();
let out: object;
try {
  const result =
    job.op === 'promote'
      ? await reg.promote({ model: job.model, version: job.version!, actor: job.actor, reason: job.reason, expect: job.expect ?? null, record: { reason: job.reason, worker: process.pid } })
      : await reg.rollback({ model: job.model, actor: job.actor, reason: job.reason, expect: job.expect });
  out = { ok: true, result };
} catch (err) {
  out = { ok: false, inputError: isInputError(err), message: (err as Error).message };
}
const ended = clock();
await reg.close();
process.stdout.write(`${JSON.stringify({ ...out, began, ended })}\n`);
