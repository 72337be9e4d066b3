/**
 * The runner interface: where a step's process runs. One small interface, one contract suite
 * (test/runners/contract.ts) that every runner passes: in-process, local process, and later
 * Docker on a socket and Docker over SSH.
 */
import type { Event } from '../src/schema/events.js';

/** What to run. A runner uses `command` or `fn`, whichever it supports. */
export interface StepSpec {
  runId: string;
  stepId: string;
  /** argv of a process that prints event-protocol lines on stdout. */
  command?: readonly string[];
  cwd?: string;
  env?: Readonly<Record<string, string>>;
  /** Stop the step and fail it after this many milliseconds. */
  timeoutMs?: number;
  /** Milliseconds between SIGTERM and SIGKILL when stopping; default 3000. */
  graceMs?: number;
  /** In-process work (gates, pure steps). */
  fn?: (ctx: StepContext) => Promise<void>;
}

/** What a step sees while it runs. */
export interface StepContext {
  signal: AbortSignal;
  /** Emits one event; the runner stamps `step` and `ts`. */
  emit(event: Event): void;
}

export interface StepResult {
  status: 'succeeded' | 'failed' | 'cancelled';
  exitCode?: number;
  signal?: string;
  /** Why it failed or was cancelled, in words a person can act on. */
  error?: string;
  /** Lines of its output that were not valid events (each was also emitted as an error log). */
  protocolErrors: number;
}

/** What the executor gives a runner for one step. */
export interface RunnerContext {
  signal: AbortSignal;
  emit(event: Event): void;
  /** Told the process id once a process-based step has started. */
  onSpawn?(info: { pid: number }): void;
}

export interface Runner {
  /** "in-process", "local", "docker", ... */
  readonly kind: string;
  /** Where it runs: "local" or a host name. */
  readonly host: string;
  /** Runs a step to its end. Never throws for the step's own failures; reports them in the result. */
  run(spec: StepSpec, ctx: RunnerContext): Promise<StepResult>;
}
