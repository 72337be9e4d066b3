/**
 * The scheduler's decisions, table-driven. Each row is a story: facts the shell reports
 * ("a succeeded", "a host failure: SSH dropped", "stop") interleaved with the decisions the
 * scheduler must make in answer ("start b", "skip c: ...", "done ..."). The driver feeds the
 * facts whenever the scheduler waits and checks that the decisions come out as written.
 */
import { describe, expect, it } from 'vitest';
import { createSchedule, decide, reduce, reusableAttempt, NO_RETRIES, type NodeOutcome, type RetryPolicy, type Schedule, type ScheduleEvent } from '../../src/pipeline/schedule.js';
import { plan } from '../../src/pipeline/plan.js';
import { Recipe } from '../../src/schema/recipe.js';

const DECISION = /^(start|skip|done) /;

function fact(line: string): ScheduleEvent {
  if (line === 'stop') return { type: 'run.stopped' };
  if (line === 'store failed') return { type: 'store.failed' };
  let m = /^(\S+) errored: (.*)$/.exec(line);
  if (m) return { type: 'node.errored', id: m[1], message: m[2] };
  m = /^(\S+) host failure: (.*)$/.exec(line);
  if (m) return { type: 'node.finished', id: m[1], outcome: 'failed', error: m[2], hostFailure: true };
  m = /^(\S+) (succeeded|failed|cancelled|reused|gate-failed)(?:: (.*))?$/.exec(line);
  if (m) return { type: 'node.finished', id: m[1], outcome: m[2] as Exclude<NodeOutcome, 'skipped'>, error: m[3] };
  throw new Error(`not a fact: ${line}`);
}

/** Drives a schedule the way execute() does: carry out every action, feed a fact when it waits. */
function drive(schedule: Schedule, story: string[], before: string[] = []) {
  let s = before.reduce((acc, line) => reduce(acc, fact(line)), schedule);
  const facts = story.filter((line) => !DECISION.test(line));
  const trace: string[] = [];
  for (let turn = 0; turn < 1000; turn++) {
    const d = decide(s);
    if (d.done) {
      trace.push(`done ${d.done.status} (exit ${d.done.exitCode})${d.done.error ? `: ${d.done.error}` : ''}`);
      break;
    }
    for (const a of d.actions) {
      trace.push(a.type === 'start' ? `start ${a.id}` : `skip ${a.id}: ${a.reason}`);
      s = reduce(s, a.type === 'start' ? { type: 'node.started', id: a.id } : { type: 'node.skipped', id: a.id, reason: a.reason });
    }
    if (d.actions.length) continue;
    const next = facts.shift();
    if (next === undefined) {
      trace.push('wait');
      break;
    }
    trace.push(next);
    s = reduce(s, fact(next));
  }
  return { trace, state: s };
}

const nodesOf = (needs: Record<string, string[]>) => Object.entries(needs).map(([id, n]) => ({ id, needs: n }));

/** A plan from a recipe, as execute() gets it: stage order and gates from plan(). */
function recipePlan(stages: Record<string, { id: string; needs?: string[] }[]>, gates: { id: string; stage: string }[], concurrency: number) {
  const s = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, v.map((st) => ({ run: ['true'], ...st }))]));
  return plan(Recipe.parse({ version: 1, name: 't', concurrency, stages: s, gates: gates.map((g) => ({ ...g, metric: 'm', op: '<=', threshold: 1 })) }));
}

interface Row {
  name: string;
  /** Hand-made needs (id -> needs, in plan order), or a plan from plan(). */
  plan: { concurrency: number; nodes: { id: string; needs: string[] }[] };
  retry?: RetryPolicy;
  /** Facts before the first decision. */
  before?: string[];
  story: string[];
  /** The outcomes at the end, when the row is about them. */
  outcomes?: Record<string, NodeOutcome>;
}

const readySet: Row[] = [
  {
    name: 'independent nodes start in plan order, never more at once than the concurrency limit',
    plan: { concurrency: 2, nodes: nodesOf({ a: [], b: [], c: [], d: [], e: [] }) },
    story: ['start a', 'start b', 'b succeeded', 'start c', 'a succeeded', 'start d', 'c succeeded', 'start e', 'd succeeded', 'e succeeded', 'done succeeded (exit 0)'],
  },
  {
    name: 'a node starts once everything it needs succeeded or was reused, even with free slots before',
    plan: { concurrency: 3, nodes: nodesOf({ a: [], b: [], c: ['a', 'b'] }) },
    story: ['start a', 'start b', 'a succeeded', 'b reused', 'start c', 'c succeeded', 'done succeeded (exit 0)'],
    outcomes: { a: 'succeeded', b: 'reused', c: 'succeeded' },
  },
  {
    name: 'a node waiting for its needs holds no slot: a ready node after it takes the slot',
    plan: { concurrency: 2, nodes: nodesOf({ a: [], b: ['a'], c: [] }) },
    story: ['start a', 'start c', 'a succeeded', 'start b', 'c succeeded', 'b succeeded', 'done succeeded (exit 0)'],
  },
  {
    name: 'needs that can never be met end the run as a deadlock rather than a hang',
    plan: { concurrency: 2, nodes: nodesOf({ a: ['ghost'] }) },
    story: ['done failed (exit 2): deadlock: a can never start'],
  },
];

const failures: Row[] = [
  {
    name: 'a failure skips what needs it, in turn, with the reason; the rest runs on',
    plan: { concurrency: 2, nodes: nodesOf({ a: [], b: ['a'], c: ['b'], d: [] }) },
    story: ['start a', 'start d', 'a failed: exited with status 1', 'skip b: not run: a did not succeed', 'skip c: not run: b did not succeed', 'd succeeded', 'done failed (exit 2): a: exited with status 1'],
    outcomes: { a: 'failed', b: 'skipped', c: 'skipped', d: 'succeeded' },
  },
  {
    name: 'a cancelled need blocks like a failed one',
    plan: { concurrency: 2, nodes: nodesOf({ a: [], b: ['a'], c: [] }) },
    story: ['start a', 'start c', 'a cancelled', 'skip b: not run: a did not succeed', 'c failed: exited with status 1', 'done failed (exit 2): c: exited with status 1'],
  },
  {
    name: 'a failure without a message still names its node',
    plan: { concurrency: 1, nodes: nodesOf({ a: [] }) },
    story: ['start a', 'a failed', 'done failed (exit 2): a: failed'],
  },
  {
    name: 'a full slot ends the walk: a skip further down comes with a later decision, in plan order',
    plan: { concurrency: 1, nodes: nodesOf({ a: [], b: [], d: [], c: ['a'] }) },
    story: ['start a', 'a failed: boom', 'start b', 'b succeeded', 'start d', 'skip c: not run: a did not succeed', 'd succeeded', 'done failed (exit 2): a: boom'],
  },
  {
    name: 'a node that could not be carried out fails the run with its error, before any step failure',
    plan: { concurrency: 2, nodes: nodesOf({ a: [], b: [], c: ['b'] }) },
    story: ['start a', 'start b', 'a failed: exited with status 1', 'b errored: input file not found: /data/shard.txt', 'skip c: not run: b did not succeed', 'done failed (exit 2): b: input file not found: /data/shard.txt'],
    outcomes: { a: 'failed', b: 'failed', c: 'skipped' },
  },
];

const retries: Row[] = [
  {
    name: 'by default a host failure is final, as execute() always had it (a resume runs it again)',
    plan: { concurrency: 1, nodes: nodesOf({ a: [], b: ['a'] }) },
    retry: NO_RETRIES,
    story: ['start a', 'a host failure: SSH dropped', 'skip b: not run: a did not succeed', 'done failed (exit 2): a: SSH dropped'],
  },
  {
    name: 'a host failure runs again while the policy has retries left',
    plan: { concurrency: 1, nodes: nodesOf({ a: [], b: ['a'] }) },
    retry: { hostFailureRetries: 1 },
    story: ['start a', 'a host failure: SSH dropped', 'start a', 'a succeeded', 'start b', 'b succeeded', 'done succeeded (exit 0)'],
    outcomes: { a: 'succeeded', b: 'succeeded' },
  },
  {
    name: 'out of retries, a host failure is final',
    plan: { concurrency: 1, nodes: nodesOf({ a: [], b: ['a'] }) },
    retry: { hostFailureRetries: 1 },
    story: ['start a', 'a host failure: SSH dropped', 'start a', 'a host failure: daemon gone', 'skip b: not run: a did not succeed', 'done failed (exit 2): a: daemon gone'],
  },
  {
    name: "a step's own failure is never retried: it would fail the same way",
    plan: { concurrency: 1, nodes: nodesOf({ a: [] }) },
    retry: { hostFailureRetries: 3 },
    story: ['start a', 'a failed: exited with status 1', 'done failed (exit 2): a: exited with status 1'],
  },
  {
    name: 'a retried node keeps its place in plan order',
    plan: { concurrency: 1, nodes: nodesOf({ a: [], b: [] }) },
    retry: { hostFailureRetries: 1 },
    story: ['start a', 'a host failure: SSH dropped', 'start a', 'a succeeded', 'start b', 'b succeeded', 'done succeeded (exit 0)'],
  },
  {
    name: 'a host failure after a stop is not retried',
    plan: { concurrency: 1, nodes: nodesOf({ a: [] }) },
    retry: { hostFailureRetries: 1 },
    story: ['start a', 'stop', 'a host failure: SSH dropped', 'done cancelled (exit 2): the run was stopped'],
    outcomes: { a: 'failed' },
  },
];

const stops: Row[] = [
  {
    name: 'a stop starts nothing more: running nodes end and count, queued ones stay unrun',
    plan: { concurrency: 2, nodes: nodesOf({ a: [], b: [], c: [], d: ['a'] }) },
    story: ['start a', 'start b', 'stop', 'a succeeded', 'b cancelled', 'done cancelled (exit 2): the run was stopped'],
    outcomes: { a: 'succeeded', b: 'cancelled' },
  },
  {
    name: 'a stop skips nothing: what a failure would block stays queued for a resume',
    plan: { concurrency: 2, nodes: nodesOf({ a: [], b: ['a'] }) },
    story: ['start a', 'stop', 'a failed: killed', 'done cancelled (exit 2): the run was stopped'],
    outcomes: { a: 'failed' },
  },
  {
    name: 'a run stopped before it began ends at once',
    plan: { concurrency: 2, nodes: nodesOf({ a: [], b: [] }) },
    before: ['stop'],
    story: ['done cancelled (exit 2): the run was stopped'],
    outcomes: {},
  },
  {
    name: 'a failed store write stops the run like a stop, and says so',
    plan: { concurrency: 1, nodes: nodesOf({ a: [], b: [] }) },
    story: ['start a', 'store failed', 'a succeeded', 'done failed (exit 2): the run store failed'],
  },
];

const gates: Row[] = [
  {
    name: 'a gate is decided once every step of its stage is through; the next stage waits for it',
    plan: recipePlan({ package: [{ id: 'a' }, { id: 'b' }], evaluate: [{ id: 'c' }] }, [{ id: 'lat', stage: 'package' }], 4),
    story: ['start a', 'start b', 'a succeeded', 'b reused', 'start gate:lat', 'gate:lat succeeded', 'start c', 'c succeeded', 'done succeeded (exit 0)'],
  },
  {
    name: 'a failed gate blocks the stages after it and exits 1 with its reason',
    plan: recipePlan({ package: [{ id: 'a' }], evaluate: [{ id: 'c' }, { id: 'd', needs: ['c'] }] }, [{ id: 'lat', stage: 'package' }], 2),
    story: ['start a', 'a succeeded', 'start gate:lat', 'gate:lat gate-failed: gate lat rejected by ana: p99 too high', 'skip c: blocked by gate:lat, which did not pass', 'skip d: blocked by gate:lat, which did not pass', 'done failed (exit 1): gate lat rejected by ana: p99 too high'],
    outcomes: { a: 'succeeded', 'gate:lat': 'gate-failed', c: 'skipped', d: 'skipped' },
  },
  {
    name: 'a failed step skips its stage gate: an error (exit 2), not a failed gate',
    plan: recipePlan({ package: [{ id: 'a' }, { id: 'b' }] }, [{ id: 'lat', stage: 'package' }], 2),
    story: ['start a', 'start b', 'a failed: exited with status 1', 'skip gate:lat: not run: a did not succeed', 'b succeeded', 'done failed (exit 2): a: exited with status 1'],
  },
  {
    name: 'a failed step outranks a failed gate for the exit code',
    plan: { concurrency: 2, nodes: nodesOf({ a: [], 'gate:g': [] }) },
    story: ['start a', 'start gate:g', 'gate:g gate-failed: gate g failed: mAP 0.41 < 0.45', 'a failed: exited with status 1', 'done failed (exit 2): a: exited with status 1'],
  },
  {
    name: 'a gate that failed without a message is named',
    plan: { concurrency: 1, nodes: nodesOf({ 'gate:g': [] }) },
    story: ['start gate:g', 'gate:g gate-failed', 'done failed (exit 1): gate:g did not pass'],
  },
];

describe('schedule', () => {
  describe.each([
    ['ready set', readySet],
    ['failure and skips', failures],
    ['retries', retries],
    ['stop', stops],
    ['gates', gates],
  ] as const)('%s', (_, rows) => {
    it.each(rows)('$name', ({ plan: p, retry, before, story, outcomes }) => {
      const { trace, state } = drive(createSchedule(p, retry), story, before);
      expect(trace).toEqual(story);
      if (outcomes) expect(state.outcomes).toEqual(outcomes);
    });
  });

  it('is pure: deciding changes nothing, and the same state gives the same decision', () => {
    const s = reduce(createSchedule({ concurrency: 2, nodes: nodesOf({ a: [], b: ['a'], c: [] }) }), { type: 'node.started', id: 'a' });
    const copy = structuredClone(s);
    expect(decide(s)).toEqual(decide(s));
    reduce(s, { type: 'node.finished', id: 'a', outcome: 'failed' });
    expect(s).toEqual(copy);
  });
});

describe('resume: reusableAttempt', () => {
  const row = (status: string, input_digest: string | null, attempt = 2) => ({ status, input_digest, attempt });
  it.each([
    { name: 'a step that succeeded on the same inputs is reused, at its last attempt', kind: 'step', previous: row('succeeded', 'd1', 3), want: 3 },
    { name: 'changed inputs run again', kind: 'step', previous: row('succeeded', 'd0'), want: undefined },
    { name: 'a failed attempt on the same inputs runs again', kind: 'step', previous: row('failed', 'd1'), want: undefined },
    { name: 'an attempt a crash left running runs again', kind: 'step', previous: row('running', 'd1'), want: undefined },
    { name: 'a step that never ran runs', kind: 'step', previous: row('pending', null, 0), want: undefined },
    { name: 'a new step (no row) runs', kind: 'step', previous: undefined, want: undefined },
    { name: 'a gate is decided again, even on the same inputs', kind: 'gate', previous: row('succeeded', 'd1'), want: undefined },
  ] as const)('$name', ({ kind, previous, want }) => {
    expect(reusableAttempt(kind, previous, 'd1')).toBe(want);
  });
});
