/**
 * The scheduling decisions of a run, pure: state and facts in, decisions out; no I/O, no timers,
 * no promises. execute() carries the decisions out (runners, run store, input digests, gate
 * asking) and reports what happened back as events.
 *
 * - A node starts once every node it needs succeeded or was reused, in plan order, while fewer
 *   than `concurrency` nodes run.
 * - A node whose need failed, was cancelled, skipped, or did not pass its gate is skipped with
 *   the reason, and so, in turn, is everything that needs it.
 * - A step may skip itself (it printed a `skip` event with its reason, then exited 0: the
 *   contract smoke with no Triton image): its outcome is `self-skipped`, which is not a failure
 *   and does not block what needs it (a smoke test that could not run must not hold back the
 *   SBOM), while a need that failed still blocks. Both kinds of skip are counted and named with
 *   their reasons (`skipped`), for the run's summary line.
 * - A step's own failure is final for this run (`paddock resume` runs it again as a new attempt).
 *   A host failure (daemon gone, SSH dropped) runs again only while the retry policy allows;
 *   the default allows none, as execute() always did.
 * - A stop (abort, Ctrl+C) starts nothing more: queued nodes stay unrun, so their store rows stay
 *   pending for a resume; running nodes are stopped by the runners through the signal, and the
 *   run is done when the last of them has ended. A failed store write stops it the same way.
 * - Resume: a step whose last attempt succeeded, or skipped itself, on the same input digest is
 *   reused, not rerun (a self-skipped step stays skipped, with its reason, until its inputs change).
 * - Gates are nodes like steps: plan() makes a gate need its stage's steps and everything later
 *   need the gate, so a gate is decided once its stage is through, and blocks what follows.
 * - The run is done when nothing runs and nothing more can start; outcome() says how it ended.
 *
 *   let s = createSchedule(plan);
 *   decide(s);  // { actions: [{ type: 'start', id: 'export' }, { type: 'start', id: 'smoke' }] }
 *   s = reduce(s, { type: 'node.started', id: 'export' });  // and 'smoke'
 *   s = reduce(s, { type: 'node.finished', id: 'export', outcome: 'failed', error: 'exited with status 1' });
 *   decide(s);  // { actions: [{ type: 'skip', id: 'variants', reason: 'not run: export did not succeed' }] }
 */

/** `skipped`: not run because a need did not succeed; `self-skipped`: the step ran and skipped its own work. */
export type NodeOutcome = 'succeeded' | 'failed' | 'cancelled' | 'skipped' | 'self-skipped' | 'reused' | 'gate-failed';

/** How a run ended. */
export interface RunOutcome {
  status: 'succeeded' | 'failed' | 'cancelled';
  /** 0 ok, 1 a gate failed or was rejected, 2 an error. */
  exitCode: 0 | 1 | 2;
  error?: string;
}

/** How often a node that failed on its host runs again in the same run. */
export interface RetryPolicy {
  hostFailureRetries: number;
}

/** No retries: a failed node, host failure or not, stays failed until a resume. */
export const NO_RETRIES: RetryPolicy = { hostFailureRetries: 0 };

export interface Schedule {
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  /** Every node, in plan (topological) order. */
  readonly order: readonly string[];
  /** What each node needs. */
  readonly needs: Readonly<Record<string, readonly string[]>>;
  /** Nodes not started yet, in plan order. */
  readonly pending: readonly string[];
  readonly running: readonly string[];
  /** Nodes that are through, in the order they got there. */
  readonly outcomes: Readonly<Record<string, NodeOutcome>>;
  /** Why a failed or gate-failed node failed, as its runner said. */
  readonly errors: Readonly<Record<string, string>>;
  /** Why each skipped or self-skipped node was skipped, in the order they were. */
  readonly skipReasons: Readonly<Record<string, string>>;
  /** How often each node ran again after a host failure in this run. */
  readonly retries: Readonly<Record<string, number>>;
  /** The first error that was not a step's own failure: a node that could not be carried out. */
  readonly fatal?: string;
  /** Stopped by abort or Ctrl+C. */
  readonly stopped: boolean;
  /** The run store failed: nothing more may start. */
  readonly halted: boolean;
}

/** Facts the shell reports: what it did with a decision, what a node ended with, what happened to the run. */
export type ScheduleEvent =
  | { type: 'node.started'; id: string }
  | { type: 'node.skipped'; id: string; reason: string }
  /** `reason`: why a self-skipped node skipped its work. */
  | { type: 'node.finished'; id: string; outcome: Exclude<NodeOutcome, 'skipped'>; error?: string; reason?: string; hostFailure?: boolean }
  /** The shell could not carry the node out at all (no runner for its host, an input file missing). */
  | { type: 'node.errored'; id: string; message: string }
  | { type: 'run.stopped' }
  | { type: 'store.failed' };

/** One thing for the shell to do: start a node, or record that it is skipped and why. */
export type Action = { type: 'start'; id: string } | { type: 'skip'; id: string; reason: string };

/**
 * What to do now: actions in plan order (the order their events take). No actions and no `done`:
 * wait for a running node to end, or a stop. `done` comes alone, once nothing runs and nothing
 * more can start.
 */
export interface Decision {
  actions: Action[];
  done?: RunOutcome;
}

/** The schedule of a plan before anything ran. */
export function createSchedule(plan: { concurrency: number; nodes: readonly { id: string; needs: readonly string[] }[] }, retry: RetryPolicy = NO_RETRIES): Schedule {
  return {
    concurrency: plan.concurrency,
    retry,
    order: plan.nodes.map((n) => n.id),
    needs: Object.fromEntries(plan.nodes.map((n) => [n.id, n.needs])),
    pending: plan.nodes.map((n) => n.id),
    running: [],
    outcomes: {},
    errors: {},
    skipReasons: {},
    retries: {},
    stopped: false,
    halted: false,
  };
}

const without = (ids: readonly string[], id: string) => ids.filter((x) => x !== id);

/** The schedule after one fact. */
export function reduce(s: Schedule, e: ScheduleEvent): Schedule {
  switch (e.type) {
    case 'node.started':
      return { ...s, pending: without(s.pending, e.id), running: [...s.running, e.id] };
    case 'node.skipped':
      return { ...s, pending: without(s.pending, e.id), outcomes: { ...s.outcomes, [e.id]: 'skipped' }, skipReasons: { ...s.skipReasons, [e.id]: e.reason } };
    case 'node.finished': {
      const running = without(s.running, e.id);
      if (retried(s, e)) {
        const pending = s.order.filter((id) => id === e.id || s.pending.includes(id));
        return { ...s, running, pending, retries: { ...s.retries, [e.id]: (s.retries[e.id] ?? 0) + 1 } };
      }
      const errors = e.error !== undefined && (e.outcome === 'failed' || e.outcome === 'gate-failed') ? { ...s.errors, [e.id]: e.error } : s.errors;
      const skipReasons = e.outcome === 'self-skipped' ? { ...s.skipReasons, [e.id]: e.reason ?? 'skipped by itself' } : s.skipReasons;
      return { ...s, running, outcomes: { ...s.outcomes, [e.id]: e.outcome }, errors, skipReasons };
    }
    case 'node.errored':
      return {
        ...s,
        pending: without(s.pending, e.id),
        running: without(s.running, e.id),
        outcomes: { ...s.outcomes, [e.id]: 'failed' },
        fatal: s.fatal ?? `${e.id}: ${e.message}`,
      };
    case 'run.stopped':
      return s.stopped ? s : { ...s, stopped: true };
    case 'store.failed':
      return s.halted ? s : { ...s, halted: true };
  }
}

/**
 * Whether a finished attempt runs again: only a host failure (a step's own failure would fail
 * the same way again), only while the policy has retries left, and never once the run stopped.
 */
export function retried(s: Schedule, e: Extract<ScheduleEvent, { type: 'node.finished' }>): boolean {
  return e.outcome === 'failed' && e.hostFailure === true && !s.stopped && !s.halted && (s.retries[e.id] ?? 0) < s.retry.hostFailureRetries;
}

// A self-skipped need lets what needs it run (its outputs are what they are; a step that cannot
// do without them fails, saying so); one that was not run at all blocks.
const blocking = new Set<NodeOutcome | undefined>(['failed', 'cancelled', 'skipped', 'gate-failed']);
const through = (o: NodeOutcome | undefined) => o === 'succeeded' || o === 'reused' || o === 'self-skipped';

/** Why a node is skipped when `blocker`, a node it needs, ended with `outcome`. */
export function skipReason(blocker: string, outcome: NodeOutcome): string {
  return outcome === 'gate-failed' ? `blocked by ${blocker}, which did not pass` : `not run: ${blocker} did not succeed`;
}

/** The decision for the schedule as it stands: skips and starts, a wait, or the end of the run. */
export function decide(s: Schedule): Decision {
  if (s.stopped || s.halted) return s.running.length ? { actions: [] } : { actions: [], done: outcome(s) };
  // Skips decided on this walk count at once, so that what needs a skipped node is skipped too
  // (plan order is topological: a node's needs come before it).
  const outcomes: Record<string, NodeOutcome> = { ...s.outcomes };
  const actions: Action[] = [];
  let slots = s.concurrency - s.running.length;
  for (const id of s.pending) {
    const blocker = s.needs[id].find((need) => blocking.has(outcomes[need]));
    if (blocker) {
      actions.push({ type: 'skip', id, reason: skipReason(blocker, outcomes[blocker]) });
      outcomes[id] = 'skipped';
      continue;
    }
    // The walk ends at the first node that finds no free slot, as execute()'s loop did before
    // this module existed; skips further down come with a later decision, in the same order.
    if (slots <= 0) break;
    if (s.needs[id].every((need) => through(outcomes[need]))) {
      actions.push({ type: 'start', id });
      slots--;
    }
  }
  if (actions.length || s.running.length) return { actions };
  // Nothing runs and nothing can start: whatever is still pending waits for a node that never
  // ends, which a plan from plan() (a DAG) cannot do; said rather than hung on.
  const deadlock = s.pending.length ? `deadlock: ${s.pending.join(', ')} can never start` : undefined;
  return { actions, done: outcome(s, deadlock) };
}

/**
 * How the run ended, from its nodes' outcomes: stopped -> cancelled (exit 2); a failed node or a
 * fatal error -> failed (exit 2); a failed or rejected gate -> failed (exit 1); else succeeded.
 */
export function outcome(s: Schedule, fatal = s.fatal): RunOutcome {
  // The shell throws the store's own error; this says the same in words.
  if (s.halted) return { status: 'failed', exitCode: 2, error: 'the run store failed' };
  if (s.stopped) return { status: 'cancelled', exitCode: 2, error: 'the run was stopped' };
  const ended = Object.entries(s.outcomes);
  const failed = ended.find(([, o]) => o === 'failed')?.[0];
  if (fatal || failed) return { status: 'failed', exitCode: 2, error: fatal ?? `${failed}: ${s.errors[failed!] ?? 'failed'}` };
  const gate = ended.find(([, o]) => o === 'gate-failed')?.[0];
  if (gate) return { status: 'failed', exitCode: 1, error: s.errors[gate] ?? `${gate} did not pass` };
  return { status: 'succeeded', exitCode: 0 };
}

/**
 * The skipped nodes of a run and why, in the order they were skipped, for the summary line:
 *   summarizeSkips(s) -> '1 skipped: contract-smoke: the recipe names no Triton image (contract-smoke.with.image)'
 * (at most `max` named; empty when nothing was skipped).
 */
export function summarizeSkips(s: Pick<Schedule, 'skipReasons'>, max = 5): string {
  const entries = Object.entries(s.skipReasons);
  if (!entries.length) return '';
  const named = entries.slice(0, max).map(([id, why]) => `${id}: ${why}`);
  const more = entries.length > max ? `; and ${entries.length - max} more` : '';
  return `${entries.length} skipped: ${named.join('; ')}${more}`;
}

/**
 * The earlier attempt that a resume reuses instead of running a step again: its last one, when
 * that succeeded, or skipped itself (`skipped_itself`), on the same input digest; a step skipped
 * because a need failed never ran, and runs. Gates are decided again every time, on the metrics
 * as they are now (an approval of the same values is found again by its subject digest).
 */
export function reusableAttempt(
  kind: 'step' | 'gate',
  previous: { status: string; input_digest: string | null; attempt: number; skipped_itself?: number } | undefined,
  digest: string,
): number | undefined {
  if (kind !== 'step' || !previous || previous.input_digest !== digest || previous.attempt < 1) return undefined;
  return previous.status === 'succeeded' || (previous.status === 'skipped' && previous.skipped_itself === 1) ? previous.attempt : undefined;
}
