/**
 * execute(): the shell around the scheduler (schedule.ts). It carries out the scheduler's
 * decisions: runs a plan's nodes through runners with a concurrency limit, records everything in
 * the run store, publishes every event on the bus, computes input digests and asks for gate
 * answers; and it tells the scheduler what happened.
 *
 * Resume: a node whose last attempt succeeded with the same input digest is reused, not rerun,
 * once its recorded outputs (artifacts: path + sha256) are checked on disk: an output that
 * changed or is gone since the step ran makes it run again, and the log says which. A node's
 * input digest covers its spec, the digests of its input files, and the input and output digests
 * of the nodes it needs, so a change anywhere upstream reaches it.
 *
 * Skips: a step that prints a `skip` event (its reason) and exits 0 skipped its own work: it is
 * stored as 'skipped' with the reason (steps.skipped_itself = 1) and published as a `step` event
 * with status 'skipped', and what needs it runs (schedule.ts). A step that skips and then fails is
 * failed. A node not run because a need failed is published the same way, with its reason.
 *
 * Verdicts: only a gate node decides a gate. A `verdict` a step prints is kept as that step's own
 * finding (stored under the step's id, as every event of the step; RunStore.stepVerdicts), never
 * as a gate's verdict (RunStore.currentVerdicts reads only what gate nodes recorded about
 * themselves); one that names a gate of the plan is said so in the log.
 *
 * Step environment: `env:` values are given to the step as the recipe says; `{from_env: NAME}`
 * is read from paddock's environment when the step starts (never stored), and the values that
 * are secrets are registered with the store, which redacts them wherever they show up.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Event, PaddockEvent } from '../schema/events.js';
import { gateNodeId, type Plan, type PlanNode } from './plan.js';
import type { RunStore } from '../store/run-store.js';
import { isSecretEnv } from '../store/redact.js';
import type { StepEnv } from '../schema/recipe.js';
import { sha256FileSync } from '../files/digest.js';
import type { Runner, RunnerContext, StepSpec, ContainerSpec } from './runner.js';
import { decideGate, type GateAnswer, type GateDecision } from './gates.js';
import { createSchedule, decide, reduce, reusableAttempt, type Action, type NodeOutcome, type RunOutcome, type ScheduleEvent } from './schedule.js';

export type { NodeOutcome } from './schedule.js';

/** How a built-in step (`uses:`) becomes a command, and which files it reads. */
export type BuiltinResolver = (node: PlanNode) => { command: string[]; inputs: string[]; cwd?: string };

/**
 * How a step runs in a container on a Docker host: its command there, working directory and
 * container settings (image, inputs copied in, outputs copied out, limits). Throws when the step
 * cannot run in a container.
 */
export type ContainerResolver = (node: PlanNode, local: { command: string[]; inputs: string[] }, runner: Runner) => { command: string[]; cwd?: string; container: ContainerSpec };

/**
 * What a runner that places steps itself (the host pool, runners/host-pool.ts) is told beyond
 * RunnerContext: where each attempt of the step went, and when a host failed under it.
 */
export interface PlacementContext extends RunnerContext {
  /** The step's job was placed on `host` (its `attempt`-th try in the pool). */
  onPlaced?(placed: { host: string; attempt: number }): void;
  /** Its host failed under it; the pool places it again. */
  onHostFailure?(failed: { host: string; attempt: number; error: string }): void;
}

/** Asks a person (TUI) or a policy (headless) to answer a gate that needs one. */
export type GateAsker = (request: { gate: string; decision: GateDecision; signal: AbortSignal }) => Promise<GateAnswer | undefined>;

export interface ExecuteOptions {
  plan: Plan;
  runId: string;
  store: RunStore;
  /** Directory that relative paths of the recipe are resolved against. */
  baseDir: string;
  runners: { inProcess: Runner; local: Runner; forHost?: (host: string) => Runner | undefined };
  builtin: BuiltinResolver;
  /** Container steps; without it, steps on Docker hosts fail to plan. */
  containerize?: ContainerResolver;
  askGate: GateAsker;
  /**
   * Variables every step process starts with, under the recipe's own `env:` (which wins): who
   * answers what needs a person (PADDOCK_GATE_POLICY: "person" in the workbench, else the headless
   * policy), the actor, the run store's home. The promote step reads them (src/steps/promote).
   */
  stepEnvironment?: Record<string, string>;
  signal: AbortSignal;
  /** Every event, as it happens (views, reporters). */
  onEvent: (event: PaddockEvent) => void;
  /** Milliseconds events may wait before they are written in one transaction. */
  flushMs?: number;
}

export interface ExecuteResult extends RunOutcome {
  outcomes: Record<string, NodeOutcome>;
  /** Why each skipped node (not run, or skipped by itself) was skipped, in the order they were. */
  skipped: Record<string, string>;
}

export { canonicalJson } from '../files/canonical-json.js';
import { canonicalJson } from '../files/canonical-json.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const resolvePath = (p: string, base: string) => (isAbsolute(p) ? p : resolve(base, p));

class GateFailed extends Error {}

/** The event path of one run: each event to the bus at once, and to the store in batches. */
interface EventPath {
  publish(event: PaddockEvent, attempt?: number): void;
  log(level: 'info' | 'warn' | 'error', message: string, step?: string): void;
  /** Stores what is buffered now. */
  flush(): void;
  /** The first store write that failed, if any. */
  readonly storeError: Error | undefined;
}

/** What the parts of one run share. */
interface RunContext {
  opts: ExecuteOptions;
  events: EventPath;
  /** The store's attempt number of each node this run started or reused; its events carry it. */
  attempts: Map<string, number>;
}

/** How a node runs, and what its input digest covers. */
interface PreparedNode {
  spec: StepSpec;
  runner: Runner;
  command?: string[];
  inputs: string[];
}

/** What a node ended with, for the scheduler. */
type NodeResult = Omit<Extract<ScheduleEvent, { type: 'node.finished' }>, 'type' | 'id'>;

/** Runs the plan to its end, or until the signal stops it; throws only when the run store fails. */
export async function execute(opts: ExecuteOptions): Promise<ExecuteResult> {
  const { plan, runId, store, signal } = opts;
  const attempts = new Map<string, number>();
  const ctx: RunContext = { opts, attempts, events: createEventPath(opts, attempts) };
  const { events } = ctx;
  const byId = new Map(plan.nodes.map((n) => [n.id, n]));
  let schedule = createSchedule(plan);
  const inFlight = new Map<string, Promise<void>>();
  const settle = (id: string, event: ScheduleEvent) => {
    schedule = reduce(schedule, event);
    inFlight.delete(id);
  };
  const carryOut = (action: Action) => {
    const { id } = action;
    if (action.type === 'skip') {
      schedule = reduce(schedule, { type: 'node.skipped', id, reason: action.reason });
      store.skipStep(runId, id, action.reason);
      events.publish({ v: 1, type: 'step', step: id, status: 'skipped', reason: action.reason });
      return;
    }
    schedule = reduce(schedule, { type: 'node.started', id });
    const carried = runNode(ctx, byId.get(id)!).then(
      (result) => settle(id, { type: 'node.finished', id, ...result }),
      (err: Error) => {
        settle(id, { type: 'node.errored', id, message: err.message });
        recordError(ctx, id, err);
      },
    );
    inFlight.set(id, carried);
  };

  // One listener for the whole run (a new one per turn of the loop piled up: Node warned of 11).
  const stopped = new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
  let done: RunOutcome | undefined;
  while (!done) {
    if (signal.aborted) schedule = reduce(schedule, { type: 'run.stopped' });
    if (events.storeError) schedule = reduce(schedule, { type: 'store.failed' });
    const decision = decide(schedule);
    done = decision.done;
    for (const action of decision.actions) carryOut(action);
    // Once stopped, wait for the running steps to end (racing the settled `stopped` again would
    // spin this loop on microtasks and starve the child processes' exit events).
    if (inFlight.size) await Promise.race(signal.aborted ? [...inFlight.values()] : [...inFlight.values(), stopped]);
  }
  events.flush();
  if (events.storeError) throw events.storeError;
  return { ...done, outcomes: { ...schedule.outcomes }, skipped: { ...schedule.skipReasons } };
}

/** Stores that a node could not be carried out, whichever state its row was left in. */
function recordError(ctx: RunContext, id: string, err: Error): void {
  const { store, runId } = ctx.opts;
  ctx.events.flush();
  const row = store.getStep(runId, id);
  if (row?.status === 'running') store.finishStep(runId, id, 'failed', err.message);
  else if (row?.status === 'pending') store.skipStep(runId, id, err.message);
  ctx.events.publish({ v: 1, type: 'step', step: id, status: 'failed', error: err.message }, ctx.attempts.get(id) ?? 0);
}

/** The event path; `log` numbers a step's lines with its current attempt. */
function createEventPath(opts: ExecuteOptions, attempts: ReadonlyMap<string, number>): EventPath {
  const flushMs = opts.flushMs ?? 50;
  let buffer: { event: PaddockEvent; attempt: number }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let storeError: Error | undefined;
  const flush = () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    try {
      opts.store.appendEvents(opts.runId, batch);
    } catch (err) {
      storeError ??= err as Error;
    }
  };
  const publish = (event: PaddockEvent, attempt = 0) => {
    if (event.ts === undefined) event.ts = Date.now();
    buffer.push({ event, attempt });
    if (!timer) timer = setTimeout(flush, flushMs);
    // The terminal (headless lines, CI logs, the workbench) sees what the store keeps: secrets redacted.
    opts.onEvent(opts.store.redactEvent(event));
  };
  return {
    publish,
    flush,
    log: (level, message, step) => publish({ v: 1, type: 'log', level, message, step, stream: 'paddock' }, step ? attempts.get(step) ?? 0 : 0),
    get storeError() {
      return storeError;
    },
  };
}

/** A node's input digest: its spec, its input files' digests, and its needs' input and output digests. */
function inputDigest(ctx: RunContext, node: PlanNode, spec: { command?: readonly string[]; inputs: string[] }): string {
  const { store, runId, baseDir } = ctx.opts;
  const files = spec.inputs.map((p) => {
    const abs = resolvePath(p, baseDir);
    if (!existsSync(abs)) throw new Error(`input file not found: ${abs}`);
    return { path: p, sha256: sha256FileSync(abs).sha256 };
  });
  const needs = node.needs.map((id) => {
    const row = store.getStep(runId, id);
    return { id, input: row?.input_digest ?? null, outputs: store.currentArtifacts(runId, id).map((a) => a.sha256).sort() };
  });
  const { step, gate, target } = node;
  return sha(canonicalJson({ node: { id: node.id, kind: node.kind, step, gate, target }, command: spec.command, files, needs }));
}

/** One node's attempt: reused when resume allows, else run to its end and stored. */
async function runNode(ctx: RunContext, node: PlanNode): Promise<NodeResult> {
  const { store, runId, signal } = ctx.opts;
  const { events, attempts } = ctx;
  const gate = { failed: false };
  const { spec, runner, command, inputs } = node.kind === 'gate' ? gateStep(ctx, node, gate) : processStep(ctx, node);

  const digest = inputDigest(ctx, node, { command, inputs });
  const previous = store.getStep(runId, node.id);
  let reused = reusableAttempt(node.kind, previous, digest);
  if (reused !== undefined) {
    const changed = changedOutputs(ctx, node.id, spec.cwd ?? ctx.opts.baseDir);
    for (const why of changed) events.log('warn', `step ${node.id}: ${why}; running it again`, node.id);
    if (changed.length) reused = undefined;
  }
  if (reused !== undefined) {
    attempts.set(node.id, reused);
    store.markReused(runId, node.id);
    events.log('info', `${node.id}: inputs unchanged (${digest.slice(0, 12)}), reusing attempt ${reused}`, node.id);
    // A step that skipped itself stays skipped, for the same reason, until its inputs change.
    if (previous?.status === 'skipped') {
      const reason = previous.error ?? 'skipped by itself';
      events.publish({ v: 1, type: 'step', step: node.id, status: 'skipped', reason, host: previous.host ?? undefined, runner: previous.runner ?? undefined }, reused);
      return { outcome: 'self-skipped', reason };
    }
    return { outcome: 'reused' };
  }

  const runSpec = node.kind === 'step' && node.step ? { ...spec, env: stepEnv(ctx, node.id, node.step.env) } : spec;
  events.flush();
  const attempt = store.startStep(runId, node.id, { inputDigest: digest, runner: runner.kind, host: runner.host });
  attempts.set(node.id, attempt);
  events.publish({ v: 1, type: 'step', step: node.id, status: 'started', host: runner.host, runner: runner.kind }, attempt);

  const artifactErrors: string[] = [];
  // The reason of a `skip` the step printed, if it did.
  const skip: { reason?: string } = {};
  // Where it runs: the runner's host, or, in the host pool, the host its job was placed on.
  let placedOn = runner.host;
  const runnerCtx: PlacementContext = {
    signal,
    emit: attemptEmitter(ctx, node, attempt, spec.cwd ?? ctx.opts.baseDir, artifactErrors, skip),
    onSpawn: ({ pid }) => store.setStepPid(runId, node.id, pid),
    onContainer: ({ container, image, imageId }) => {
      store.setStepContainer(runId, node.id, container, imageId);
      events.log('info', `${node.id}: container ${container.slice(0, 12)} on ${placedOn}, image ${image} = ${imageId}`, node.id);
    },
    onPlaced: ({ host, attempt: tries }) => {
      placedOn = host;
      events.flush();
      store.setStepHost(runId, node.id, host);
      // A second `started` with the host: the views, the headless line and the store all say where it runs.
      events.publish({ v: 1, type: 'step', step: node.id, status: 'started', host, runner: runner.kind }, attempt);
      if (tries > 1) events.log('info', `${node.id}: placed on ${host} (pool attempt ${tries})`, node.id);
    },
    onHostFailure: ({ host, attempt: tries, error: why }) => events.log('warn', `${node.id}: host ${host} failed during pool attempt ${tries} (${why}); the pool places it again`, node.id),
  };
  const result = await runner.run(runSpec, runnerCtx);
  let status: 'succeeded' | 'failed' | 'cancelled' | 'skipped' = result.status;
  let error = result.error;
  if (status === 'succeeded' && artifactErrors.length) {
    status = 'failed';
    error = artifactErrors[0];
  }
  // Exit 0 after a `skip`: the step did not do its work, and says so everywhere.
  const reason = status === 'succeeded' && skip.reason !== undefined ? skip.reason : undefined;
  if (reason !== undefined) status = 'skipped';
  if (result.protocolErrors > 0) events.log('warn', `${node.id}: ${result.protocolErrors} line(s) of its output were not valid events (see the errors above)`, node.id);
  events.flush();
  store.finishStep(runId, node.id, status, reason ?? error, result.exitCode);
  events.publish({ v: 1, type: 'step', step: node.id, status, error, reason, host: placedOn, runner: runner.kind }, attempt);
  if (status === 'skipped') return { outcome: 'self-skipped', reason };
  return { outcome: status === 'failed' && gate.failed ? 'gate-failed' : status, error, hostFailure: result.hostFailure };
}

/**
 * Why a step's recorded outputs cannot be reused: each artifact of its current attempt whose file
 * is gone or no longer has the digest it was recorded with (empty: all as they were).
 */
function changedOutputs(ctx: RunContext, stepId: string, cwd: string): string[] {
  const why: string[] = [];
  for (const a of ctx.opts.store.currentArtifacts(ctx.opts.runId, stepId)) {
    const abs = resolvePath(a.path, cwd);
    let now: string;
    try {
      now = sha256FileSync(abs).sha256;
    } catch {
      why.push(`output ${a.path} is missing since it ran (it had sha256 ${a.sha256.slice(0, 12)})`);
      continue;
    }
    if (now !== a.sha256) why.push(`output ${a.path} changed since it ran (sha256 ${a.sha256.slice(0, 12)}, now ${now.slice(0, 12)})`);
  }
  return why;
}

/**
 * A step's environment as it starts: literal values as the recipe says, `{from_env: NAME}` from
 * paddock's environment now (a variable that is not set fails the step, by name). The values
 * that are secrets (by name or look, or from_env) are registered with the store, which never
 * writes them (redact.ts).
 */
function stepEnv(ctx: RunContext, stepId: string, env: StepEnv): Record<string, string> {
  const out: Record<string, string> = { ...ctx.opts.stepEnvironment };
  const secrets: string[] = [];
  for (const [name, v] of Object.entries(env)) {
    if (typeof v === 'string') {
      out[name] = v;
      if (isSecretEnv(name, v)) secrets.push(v);
      continue;
    }
    const value = process.env[v.from_env];
    if (value === undefined) throw new Error(`step ${stepId}: env ${name} comes from $${v.from_env}, which is not set in paddock's environment`);
    out[name] = value;
    secrets.push(value);
  }
  ctx.opts.store.addSecrets(secrets);
  return out;
}

/**
 * What a runner emits for one attempt: each event onto the event path with the attempt's number;
 * an artifact is first copied into the CAS, and one that cannot be (missing, wrong size) is
 * logged and added to `artifactErrors`, which fails the step. A step's verdict stays its own
 * finding (its events carry its id); one that names a gate of the plan is said so. A `skip` sets
 * `skip.reason` (the first one counts; the step's status says it when the step ends).
 */
function attemptEmitter(ctx: RunContext, node: PlanNode, attempt: number, cwd: string, artifactErrors: string[], skip: { reason?: string }): (e: Event) => void {
  const { events } = ctx;
  const stepId = node.id;
  const gateNodes = new Set(ctx.opts.plan.nodes.filter((n) => n.kind === 'gate').map((n) => n.id));
  return (e) => {
    // Every event of the attempt belongs to this node, whatever the line said.
    e.step = stepId;
    if (e.type === 'verdict' && node.kind !== 'gate' && gateNodes.has(gateNodeId(e.gate))) {
      events.publish(
        { v: 1, type: 'log', level: 'warn', stream: 'paddock', step: stepId, message: `step ${stepId} printed a verdict for gate ${e.gate}: kept as the step's own finding; only ${gateNodeId(e.gate)} decides that gate` },
        attempt,
      );
    }
    if (e.type === 'skip') skip.reason ??= e.reason;
    if (e.type === 'artifact') {
      const abs = resolvePath(e.path, cwd);
      try {
        const entry = ctx.opts.store.cas.put(abs, e.sha256);
        if (entry.bytes !== e.bytes) throw new Error(`size mismatch for ${abs}: declared ${e.bytes} bytes, file has ${entry.bytes}`);
      } catch (err) {
        const msg = `artifact ${e.path} (${e.role}): ${(err as Error).message}`;
        artifactErrors.push(msg);
        events.publish({ v: 1, type: 'log', level: 'error', stream: 'paddock', step: stepId, message: msg }, attempt);
        return;
      }
    }
    events.publish(e, attempt);
  };
}

/** A step's process: its runner (by target host), its command and the files it reads. */
function processStep(ctx: RunContext, node: PlanNode): PreparedNode {
  const { opts } = ctx;
  const step = node.step!;
  const host = node.target?.host ?? 'local';
  const remote = host === 'local' ? undefined : opts.runners.forHost?.(host);
  if (host !== 'local' && !remote) throw new Error(`step ${node.id}: no runner for host "${host}" (remote hosts come with the Docker runner)`);
  const runner = remote ?? opts.runners.local;
  let cwd = opts.baseDir;
  let command: string[];
  let inputs: string[];
  if ('uses' in step) {
    const b = opts.builtin(node);
    command = b.command;
    inputs = b.inputs;
    if (b.cwd) cwd = b.cwd;
  } else {
    command = step.run;
    inputs = step.inputs;
    if (step.cwd) cwd = resolvePath(step.cwd, opts.baseDir);
  }
  let spec: StepSpec = { runId: opts.runId, stepId: node.id, command, cwd, timeoutMs: step.timeout ? step.timeout * 1000 : undefined };
  if (runner.kind === 'docker') {
    if (!opts.containerize) throw new Error(`step ${node.id}: host "${host}" runs containers, and this run cannot make container steps`);
    const c = opts.containerize(node, { command, inputs }, runner);
    spec = { ...spec, command: c.command, cwd: c.cwd, container: c.container };
  }
  // The environment is made when the step starts (stepEnv): a reused step needs none of it.
  return { spec, runner, command, inputs };
}

/**
 * A gate as an in-process step: decided on the run's current metrics; a review is answered by an
 * earlier approval of the same values, or else asked for. Sets `gate.failed` when it fails, so a
 * failed gate is told apart from a gate that could not be decided.
 */
function gateStep(ctx: RunContext, node: PlanNode, gate: { failed: boolean }): PreparedNode {
  const { store, runId } = ctx.opts;
  const { events, attempts } = ctx;
  const g = node.gate!;
  const fail = (message: string) => {
    gate.failed = true;
    return new GateFailed(message);
  };
  const fn: StepSpec['fn'] = async (step) => {
    const decision = decideGate(g, store.currentMetrics(runId));
    step.emit({ v: 1, type: 'verdict', gate: g.id, verdict: decision.verdict, rationale: decision.rationale });
    if (decision.verdict === 'fail') throw fail(`gate ${g.id} failed: ${decision.rationale[0]}`);
    if (!decision.needsPerson) return;
    const prior = store.findApproval(runId, g.id, decision.subjectDigest);
    let answer: GateAnswer | undefined;
    if (prior) {
      answer = { decision: prior.decision, actor: prior.actor, reason: prior.reason ?? undefined };
      events.log('info', `gate ${g.id}: reusing the ${prior.decision} answer of ${prior.actor} for the same values`, node.id);
    } else {
      events.publish({ v: 1, type: 'gate', gate: g.id, status: 'requested', step: node.id }, attempts.get(node.id));
      answer = await ctx.opts.askGate({ gate: g.id, decision, signal: step.signal });
      if (step.signal.aborted) return;
      if (!answer) throw fail(`gate ${g.id} needs review and nobody answered (headless runs answer with --gate-policy approve|reject)`);
      store.recordApproval({ runId, gate: g.id, decision: answer.decision, reason: answer.reason, actor: answer.actor, subjectDigest: decision.subjectDigest });
      events.publish({ v: 1, type: 'gate', gate: g.id, status: answer.decision, actor: answer.actor, reason: answer.reason, step: node.id }, attempts.get(node.id));
    }
    if (answer.decision === 'rejected') throw fail(`gate ${g.id} rejected by ${answer.actor}${answer.reason ? `: ${answer.reason}` : ''}`);
  };
  return { spec: { runId, stepId: node.id, fn }, runner: ctx.opts.runners.inProcess, inputs: [] };
}
