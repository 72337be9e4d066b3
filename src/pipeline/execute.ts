/**
 * execute(): runs a plan's nodes through runners with a concurrency limit, records everything in
 * the run store and publishes every event on the bus. The shell around the pure parts (plan,
 * gates, reducers).
 *
 * Resume: a node whose last attempt succeeded with the same input digest is reused, not rerun.
 * A node's input digest covers its spec, the digests of its input files, and the input and
 * output digests of the nodes it needs, so a change anywhere upstream reaches it.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Event, PaddockEvent } from '../schema/events.js';
import type { Plan, PlanNode } from './plan.js';
import type { RunStore } from '../store/run-store.js';
import { sha256FileSync } from '../files/digest.js';
import type { Runner, StepSpec, ContainerSpec } from './runner.js';
import { decideGate, type GateAnswer, type GateDecision } from './gates.js';

/** How a built-in step (`uses:`) becomes a command, and which files it reads. */
export type BuiltinResolver = (node: PlanNode) => { command: string[]; inputs: string[]; cwd?: string };

/**
 * How a step runs in a container on a Docker host: its command there, working directory and
 * container settings (image, inputs copied in, outputs copied out, limits). Throws when the step
 * cannot run in a container.
 */
export type ContainerResolver = (node: PlanNode, local: { command: string[]; inputs: string[] }, runner: Runner) => { command: string[]; cwd?: string; container: ContainerSpec };

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
  signal: AbortSignal;
  /** Every event, as it happens (views, reporters). */
  onEvent: (event: PaddockEvent) => void;
  /** Milliseconds events may wait before they are written in one transaction. */
  flushMs?: number;
}

export type NodeOutcome = 'succeeded' | 'failed' | 'cancelled' | 'skipped' | 'reused' | 'gate-failed';

export interface ExecuteResult {
  status: 'succeeded' | 'failed' | 'cancelled';
  /** 0 ok, 1 a gate failed or was rejected, 2 an error. */
  exitCode: 0 | 1 | 2;
  outcomes: Record<string, NodeOutcome>;
  error?: string;
}

/** JSON with sorted keys, so that digests do not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

class GateFailed extends Error {}

export async function execute(opts: ExecuteOptions): Promise<ExecuteResult> {
  const { plan, runId, store, signal } = opts;
  const flushMs = opts.flushMs ?? 50;
  const outcomes: Record<string, NodeOutcome> = {};
  const attempts = new Map<string, number>();
  const byId = new Map(plan.nodes.map((n) => [n.id, n]));

  // ---- the event path: bus now, store in batches --------------------------------------------
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
      store.appendEvents(runId, batch);
    } catch (err) {
      storeError ??= err as Error;
    }
  };
  const publish = (event: PaddockEvent, attempt = 0) => {
    if (event.ts === undefined) event.ts = Date.now();
    buffer.push({ event, attempt });
    if (!timer) timer = setTimeout(flush, flushMs);
    opts.onEvent(event);
  };
  const log = (level: 'info' | 'warn' | 'error', message: string, step?: string) =>
    publish({ v: 1, type: 'log', level, message, step, stream: 'paddock' }, step ? attempts.get(step) ?? 0 : 0);

  // ---- digests ------------------------------------------------------------------------------
  const resolvePath = (p: string, base = opts.baseDir) => (isAbsolute(p) ? p : resolve(base, p));
  const inputDigest = (node: PlanNode, spec: { command?: readonly string[]; inputs: string[] }): string => {
    const files = spec.inputs.map((p) => {
      const abs = resolvePath(p);
      if (!existsSync(abs)) throw new Error(`input file not found: ${abs}`);
      return { path: p, sha256: sha256FileSync(abs).sha256 };
    });
    const needs = node.needs.map((id) => {
      const row = store.getStep(runId, id);
      return { id, input: row?.input_digest ?? null, outputs: store.currentArtifacts(runId, id).map((a) => a.sha256).sort() };
    });
    const { step, gate, target } = node;
    return sha(canonicalJson({ node: { id: node.id, kind: node.kind, step, gate, target }, command: spec.command, files, needs }));
  };

  // ---- one node -----------------------------------------------------------------------------
  const runNode = async (node: PlanNode): Promise<NodeOutcome> => {
    let spec: StepSpec;
    let runner: Runner;
    let inputs: string[] = [];
    let command: string[] | undefined;
    const gateState = { failed: false };

    if (node.kind === 'gate') {
      runner = opts.runners.inProcess;
      const gate = node.gate!;
      spec = {
        runId,
        stepId: node.id,
        fn: async (ctx) => {
          const decision = decideGate(gate, store.currentMetrics(runId));
          ctx.emit({ v: 1, type: 'verdict', gate: gate.id, verdict: decision.verdict, rationale: decision.rationale });
          if (decision.verdict === 'fail') {
            gateState.failed = true;
            throw new GateFailed(`gate ${gate.id} failed: ${decision.rationale[0]}`);
          }
          if (!decision.needsPerson) return;
          const prior = store.findApproval(runId, gate.id, decision.subjectDigest);
          let answer: GateAnswer | undefined;
          if (prior) {
            answer = { decision: prior.decision, actor: prior.actor, reason: prior.reason ?? undefined };
            log('info', `gate ${gate.id}: reusing the ${prior.decision} answer of ${prior.actor} for the same values`, node.id);
          } else {
            publish({ v: 1, type: 'gate', gate: gate.id, status: 'requested', step: node.id }, attempts.get(node.id));
            answer = await opts.askGate({ gate: gate.id, decision, signal: ctx.signal });
            if (ctx.signal.aborted) return;
            if (!answer) {
              gateState.failed = true;
              throw new GateFailed(`gate ${gate.id} needs review and nobody answered (headless runs answer with --gate-policy approve|reject)`);
            }
            store.recordApproval({ runId, gate: gate.id, decision: answer.decision, reason: answer.reason, actor: answer.actor, subjectDigest: decision.subjectDigest });
            publish({ v: 1, type: 'gate', gate: gate.id, status: answer.decision, actor: answer.actor, reason: answer.reason, step: node.id }, attempts.get(node.id));
          }
          if (answer.decision === 'rejected') {
            gateState.failed = true;
            throw new GateFailed(`gate ${gate.id} rejected by ${answer.actor}${answer.reason ? `: ${answer.reason}` : ''}`);
          }
        },
      };
    } else {
      const step = node.step!;
      const host = node.target?.host ?? 'local';
      runner = host === 'local' ? opts.runners.local : opts.runners.forHost?.(host) ?? opts.runners.local;
      if (host !== 'local' && !opts.runners.forHost?.(host)) {
        throw new Error(`step ${node.id}: no runner for host "${host}" (remote hosts come with the Docker runner)`);
      }
      let cwd = opts.baseDir;
      if ('uses' in step) {
        const b = opts.builtin(node);
        command = b.command;
        inputs = b.inputs;
        if (b.cwd) cwd = b.cwd;
      } else {
        command = step.run;
        inputs = step.inputs;
        if (step.cwd) cwd = resolvePath(step.cwd);
      }
      spec = {
        runId,
        stepId: node.id,
        command,
        cwd,
        env: step.env,
        timeoutMs: step.timeout ? step.timeout * 1000 : undefined,
      };
      if (runner.kind === 'docker') {
        if (!opts.containerize) throw new Error(`step ${node.id}: host "${host}" runs containers, and this run cannot make container steps`);
        const c = opts.containerize(node, { command, inputs }, runner);
        spec = { ...spec, command: c.command, cwd: c.cwd, container: c.container };
      }
    }

    const digest = inputDigest(node, { command, inputs });
    const prev = store.getStep(runId, node.id);
    if (prev && prev.status === 'succeeded' && prev.input_digest === digest && node.kind === 'step') {
      attempts.set(node.id, prev.attempt);
      store.markReused(runId, node.id);
      log('info', `${node.id}: inputs unchanged (${digest.slice(0, 12)}), reusing attempt ${prev.attempt}`, node.id);
      return 'reused';
    }

    flush();
    const attempt = store.startStep(runId, node.id, { inputDigest: digest, runner: runner.kind, host: runner.host });
    attempts.set(node.id, attempt);
    publish({ v: 1, type: 'step', step: node.id, status: 'started', host: runner.host, runner: runner.kind }, attempt);

    const artifactErrors: string[] = [];
    const emit = (e: Event) => {
      if (e.type === 'artifact') {
        const abs = resolvePath(e.path, spec.cwd ?? opts.baseDir);
        try {
          const entry = store.cas.put(abs, e.sha256);
          if (entry.bytes !== e.bytes) throw new Error(`size mismatch for ${abs}: declared ${e.bytes} bytes, file has ${entry.bytes}`);
        } catch (err) {
          const msg = `artifact ${e.path} (${e.role}): ${(err as Error).message}`;
          artifactErrors.push(msg);
          publish({ v: 1, type: 'log', level: 'error', stream: 'paddock', step: node.id, message: msg }, attempt);
          return;
        }
      }
      publish(e, attempt);
    };

    const result = await runner.run(spec, {
      signal,
      emit,
      onSpawn: ({ pid }) => store.setStepPid(runId, node.id, pid),
      onContainer: ({ container, image, imageId }) => {
        store.setStepContainer(runId, node.id, container, imageId);
        log('info', `${node.id}: container ${container.slice(0, 12)} on ${runner.host}, image ${image} = ${imageId}`, node.id);
      },
    });
    let status = result.status;
    let error = result.error;
    if (status === 'succeeded' && artifactErrors.length) {
      status = 'failed';
      error = artifactErrors[0];
    }
    if (result.protocolErrors > 0) log('warn', `${node.id}: ${result.protocolErrors} line(s) of its output were not valid events (see the errors above)`, node.id);
    flush();
    store.finishStep(runId, node.id, status, error, result.exitCode);
    publish({ v: 1, type: 'step', step: node.id, status, error, host: runner.host, runner: runner.kind }, attempt);
    if (status === 'failed' && gateState.failed) return 'gate-failed';
    return status;
  };

  // ---- scheduling ---------------------------------------------------------------------------
  // One listener for the whole run (a new one per turn of the loop piled up: Node warned of 11).
  const stopped = new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
  const running = new Map<string, Promise<void>>();
  const pending = new Set(plan.nodes.map((n) => n.id));
  const blocked = (node: PlanNode): string | undefined => {
    for (const need of node.needs) {
      const o = outcomes[need];
      if (o === 'failed' || o === 'cancelled' || o === 'skipped' || o === 'gate-failed') return need;
    }
    return undefined;
  };
  const isDone = (id: string) => outcomes[id] === 'succeeded' || outcomes[id] === 'reused';

  let fatal: string | undefined;
  while ((pending.size > 0 || running.size > 0) && !storeError) {
    if (!signal.aborted) {
      for (const id of [...pending]) {
        const node = byId.get(id)!;
        const blocker = blocked(node);
        if (blocker) {
          pending.delete(id);
          outcomes[id] = 'skipped';
          const why = outcomes[blocker] === 'gate-failed' ? `blocked by ${blocker}, which did not pass` : `not run: ${blocker} did not succeed`;
          store.skipStep(runId, id, why);
          log('warn', `${id}: ${why}`, id);
          continue;
        }
        if (running.size >= plan.concurrency) break;
        if (!node.needs.every(isDone)) continue;
        pending.delete(id);
        const p = runNode(node)
          .then((o) => {
            outcomes[id] = o;
          })
          .catch((err: Error) => {
            outcomes[id] = 'failed';
            fatal ??= `${id}: ${err.message}`;
            flush();
            const row = store.getStep(runId, id);
            if (row?.status === 'running') store.finishStep(runId, id, 'failed', err.message);
            else if (row?.status === 'pending') store.skipStep(runId, id, err.message);
            publish({ v: 1, type: 'step', step: id, status: 'failed', error: err.message }, attempts.get(id) ?? 0);
          })
          .finally(() => running.delete(id));
        running.set(id, p);
      }
    } else if (running.size === 0) {
      break;
    }
    if (running.size === 0) {
      if (pending.size === 0 || signal.aborted) break;
      // Nothing runnable and nothing running: every pending node was just skipped above.
      if ([...pending].every((id) => !byId.get(id)!.needs.every(isDone) && !blocked(byId.get(id)!))) {
        fatal ??= `deadlock: ${[...pending].join(', ')} can never start`;
        break;
      }
      continue;
    }
    // Once stopped, wait for the running steps to end (racing the settled `stopped` again would
    // spin this loop on microtasks and starve the child processes' exit events).
    await Promise.race(signal.aborted ? [...running.values()] : [...running.values(), stopped]);
  }
  if (running.size) await Promise.allSettled(running.values());
  flush();
  if (storeError) throw storeError;

  const values = Object.values(outcomes);
  if (signal.aborted) {
    return { status: 'cancelled', exitCode: 2, outcomes, error: 'the run was stopped' };
  }
  if (fatal || values.includes('failed')) {
    const failedStep = Object.entries(outcomes).find(([, o]) => o === 'failed');
    const err = fatal ?? (failedStep ? `${failedStep[0]}: ${store.getStep(runId, failedStep[0])?.error ?? 'failed'}` : 'failed');
    return { status: 'failed', exitCode: 2, outcomes, error: err };
  }
  if (values.includes('gate-failed')) {
    const g = Object.entries(outcomes).find(([, o]) => o === 'gate-failed')!;
    return { status: 'failed', exitCode: 1, outcomes, error: store.getStep(runId, g[0])?.error ?? `${g[0]} did not pass` };
  }
  return { status: 'succeeded', exitCode: 0, outcomes };
}
