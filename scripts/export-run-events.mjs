#!/usr/bin/env node
// Writes a stored run's events as NDJSON (each line: {"attempt":N,"event":{...}}), for test
// fixtures made from real runs:
//   node scripts/export-run-events.mjs <store dir> <run id> <out.ndjson> [--max-failures N] [--drop progress,log]
// test/fixtures/workbench-run.ndjson was made from a demo run with --max-failures 40 --drop progress.
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [home, runId, out, ...rest] = process.argv.slice(2);
if (!home || !runId || !out) {
  console.error('usage: node scripts/export-run-events.mjs <store dir> <run id> <out.ndjson> [--max-failures N] [--drop types]');
  process.exit(2);
}
const opt = (name) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const maxFailures = Number(opt('--max-failures') ?? Infinity);
const drop = new Set((opt('--drop') ?? '').split(',').filter(Boolean));
const db = new Database(join(home, 'runs.sqlite'), { readonly: true });
const rows = db.prepare('SELECT attempt, type, body FROM events WHERE run_id = ? ORDER BY seq').all(runId);
if (!rows.length) {
  console.error(`no events for run ${runId} in ${home}`);
  process.exit(2);
}
// Failures: the first ones of each kind, alternating, so that every kind is in the fixture.
const failures = rows.filter((r) => r.type === 'failure');
const byKind = new Map();
for (const f of failures) {
  const kind = JSON.parse(f.body).kind.split('/')[0];
  if (!byKind.has(kind)) byKind.set(kind, []);
  byKind.get(kind).push(f);
}
const keep = new Set();
for (let i = 0; keep.size < Math.min(maxFailures, failures.length); i++) for (const list of byKind.values()) if (list[i] && keep.size < maxFailures) keep.add(list[i]);
const lines = rows.filter((r) => !drop.has(r.type) && (r.type !== 'failure' || keep.has(r))).map((r) => JSON.stringify({ attempt: r.attempt, event: JSON.parse(r.body) }));
writeFileSync(out, lines.join('\n') + '\n');
console.log(`${lines.length} events to ${out}`);
