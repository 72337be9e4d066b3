/**
 * The runner interface: where a step's process runs. One small interface, one contract suite
 * (test/runners/contract.ts) that every runner passes: in-process, local process, and later
 * Docker on a socket and Docker over SSH.
 */
import type { Event } from '../schema/events.js';

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
  /** Container settings, for runners that run steps in containers (`cwd` is the working directory inside). */
  container?: ContainerSpec;
  /** Extra labels for the step's container (the pool adds its job id). */
  labels?: Readonly<Record<string, string>>;
}

/** A file or folder moved through the Docker archive API. */
export interface CopySpec {
  /** Host path (inputs) or container path (outputs). */
  source: string;
  /** Container path (inputs) or host path (outputs). */
  target: string;
  /** Inputs: the expected sha256 of a file; a mismatch fails the step before it starts. */
  sha256?: string;
}

export interface ContainerSpec {
  /** Image reference; resolved to its id (sha256 digest) on the host, and run by that id. */
  image: string;
  user?: string;
  /** Bind mounts of paths on the Docker host. */
  mounts?: readonly { source: string; target: string; readOnly?: boolean }[];
  shmSizeMb?: number;
  memoryMb?: number;
  cpus?: number;
  /** GPUs through the NVIDIA runtime's device requests: a count (-1: all) or device ids. */
  gpus?: { count: number } | { deviceIds: readonly string[] };
  /** "none" (default: steps are hermetic), "host", "bridge" or a network name. */
  network?: string;
  /** Copied into the container before it starts. */
  inputs?: readonly CopySpec[];
  /** Copied out after it exits, before it is removed. */
  outputs?: readonly CopySpec[];
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
  /** The host or the link to it failed (daemon gone, SSH dropped), not the step itself: worth retrying elsewhere. */
  hostFailure?: boolean;
}

/** What the executor gives a runner for one step. */
export interface RunnerContext {
  signal: AbortSignal;
  emit(event: Event): void;
  /** Told the process id once a process-based step has started. */
  onSpawn?(info: { pid: number }): void;
  /** Told the container and the image it runs (by id) once a container step has been created. */
  onContainer?(info: { container: string; image: string; imageId: string }): void;
}

export interface Runner {
  /** "in-process", "local", "docker", ... */
  readonly kind: string;
  /** Where it runs: "local" or a host name. */
  readonly host: string;
  /** Runs a step to its end. Never throws for the step's own failures; reports them in the result. */
  run(spec: StepSpec, ctx: RunnerContext): Promise<StepResult>;
  /** Removes what earlier attempts of a run left behind (containers); returns how many. */
  sweep?(runId: string): Promise<number>;
  /** Stops and removes what this runner still runs, and closes its connections. */
  close?(): Promise<void>;
}
