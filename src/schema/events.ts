/**
 * Event protocol v1: the one stream that joins every step, runner, store and view.
 *
 * A step in any language takes part by printing one JSON object per line on stdout, e.g.
 *   {"v":1,"type":"latency","target":"cpu-fp32","samples":[3.12,3.08,3.15]}
 * docs/events.md documents every kind with examples. Nothing else defines these shapes.
 */
import { z } from 'zod';

/** The protocol version this build speaks. A line with another `v` is rejected, visibly. */
export const PROTOCOL_VERSION = 1 as const;

const id = z.string().min(1).max(512);
const nonNegInt = z.number().int().nonnegative();
const finite = z.number().finite();

const base = {
  v: z.literal(PROTOCOL_VERSION),
  /** Milliseconds since the epoch when the fact happened; the runner stamps it when absent. */
  ts: z.number().nonnegative().optional(),
  /** The step the event belongs to; the runner fills it from the step it runs. */
  step: id.optional(),
};

export const StepStatus = z.enum(['started', 'succeeded', 'failed', 'cancelled', 'skipped']);
export type StepStatus = z.infer<typeof StepStatus>;

/**
 * `step`: the life of one step, as paddock tells it (a step cannot claim its own status). `error`
 * says why a step failed or was cancelled; `reason` why it was skipped: by itself (it printed a
 * `skip`) or because something it needs did not succeed.
 */
export const StepEvent = z.object({
  ...base,
  type: z.literal('step'),
  status: StepStatus,
  error: z.string().max(64_000).optional(),
  reason: z.string().max(4096).optional(),
  host: z.string().optional(),
  runner: z.string().optional(),
});

/** `progress`: `done` of `total` units (frames, iterations, scenarios). */
export const ProgressEvent = z.object({
  ...base,
  type: z.literal('progress'),
  done: z.number().nonnegative(),
  total: z.number().nonnegative().optional(),
  unit: z.string().max(64).optional(),
  message: z.string().max(4096).optional(),
});

export const LogLevel = z.enum(['debug', 'info', 'warn', 'error']);
export type LogLevel = z.infer<typeof LogLevel>;

/** `log`: a line of text; stderr lines of a step arrive as `log` with stream "stderr". */
export const LogEvent = z.object({
  ...base,
  type: z.literal('log'),
  level: LogLevel,
  message: z.string().max(64_000),
  stream: z.enum(['stdout', 'stderr', 'paddock']).optional(),
});

/** `latency`: a batch of latency samples in milliseconds for one target (never one line per sample). */
export const LatencyEvent = z.object({
  ...base,
  type: z.literal('latency'),
  target: id,
  samples: z.array(z.number().finite().nonnegative()).min(1).max(1_000_000),
});

/** A confidence interval: [lo, hi] at `level` (0.95 by default), and how it was computed. */
export const ConfidenceInterval = z.object({
  lo: finite,
  hi: finite,
  level: z.number().gt(0).lt(1).default(0.95),
  method: z.string().max(128).optional(),
});

/** Denominators behind a number: how many scenes, frames, objects, samples it rests on. */
export const Denominators = z.record(z.string().min(1).max(64), nonNegInt);

/** `metric`: one measured number, optionally for a slice and a target, with its CI and denominators. */
export const MetricEvent = z.object({
  ...base,
  type: z.literal('metric'),
  name: id,
  value: finite,
  unit: z.string().max(64).optional(),
  slice: z.string().max(512).optional(),
  target: z.string().max(512).optional(),
  ci: ConfidenceInterval.optional(),
  denominators: Denominators.optional(),
});

export const Severity = z.enum(['info', 'minor', 'major', 'critical']);

/** Evidence behind a failure: an artifact (path and/or digest), a frame range, a note. */
export const EvidenceRef = z.object({
  path: z.string().max(4096).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  frames: z.tuple([nonNegInt, nonNegInt]).optional(),
  note: z.string().max(4096).optional(),
});

/** `failure`: one thing that went wrong (a missed pedestrian, a collision), with its evidence. */
export const FailureEvent = z.object({
  ...base,
  type: z.literal('failure'),
  id,
  kind: z.string().min(1).max(128),
  severity: Severity,
  title: z.string().min(1).max(1024),
  evidence: z.array(EvidenceRef).default([]),
  data: z.record(z.string(), z.unknown()).default({}),
});

/** `artifact`: a file the step produced; the runner checks the digest before it is stored. */
export const ArtifactEvent = z.object({
  ...base,
  type: z.literal('artifact'),
  path: z.string().min(1).max(4096),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256 of 64 characters'),
  bytes: nonNegInt,
  role: z.string().min(1).max(128),
});

/**
 * `skip`: the step decided not to do its work, and why (`contract-smoke` with no Triton image).
 * When it then exits 0 it is recorded and shown as `skipped` with this reason, never as
 * succeeded; what needs it still runs. Added in v1 as a new kind (older paddocks reject the line
 * visibly as an unknown type, never take it for success).
 */
export const SkipEvent = z.object({
  ...base,
  type: z.literal('skip'),
  reason: z.string().min(1).max(4096),
});

export const VerdictValue = z.enum(['pass', 'fail', 'review']);
export type VerdictValue = z.infer<typeof VerdictValue>;

/** `verdict`: a gate's outcome with the lines that justify it. */
export const VerdictEvent = z.object({
  ...base,
  type: z.literal('verdict'),
  gate: id,
  verdict: VerdictValue,
  rationale: z.array(z.string().max(4096)).default([]),
});

export const Event = z.discriminatedUnion('type', [
  StepEvent,
  ProgressEvent,
  LogEvent,
  LatencyEvent,
  MetricEvent,
  FailureEvent,
  ArtifactEvent,
  VerdictEvent,
  SkipEvent,
]);
export type Event = z.infer<typeof Event>;
export type EventInput = z.input<typeof Event>;
export type StepEvent = z.infer<typeof StepEvent>;
export type LatencyEvent = z.infer<typeof LatencyEvent>;
export type MetricEvent = z.infer<typeof MetricEvent>;
export type FailureEvent = z.infer<typeof FailureEvent>;
export type ArtifactEvent = z.infer<typeof ArtifactEvent>;
export type VerdictEvent = z.infer<typeof VerdictEvent>;
export type LogEvent = z.infer<typeof LogEvent>;
export type ProgressEvent = z.infer<typeof ProgressEvent>;
export type SkipEvent = z.infer<typeof SkipEvent>;

export const EVENT_TYPES = ['step', 'progress', 'log', 'latency', 'metric', 'failure', 'artifact', 'verdict', 'skip'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/*
 * Facts that paddock itself records around the steps' own events. Steps cannot emit these
 * (the line parser accepts only `Event`), but `--json` output and the run store carry them.
 */

/** `run`: the life of a whole run. */
export const RunEvent = z.object({
  v: z.literal(PROTOCOL_VERSION),
  ts: z.number().nonnegative().optional(),
  type: z.literal('run'),
  run: id,
  status: z.enum(['started', 'resumed', 'succeeded', 'failed', 'cancelled']),
  exitCode: z.number().int().optional(),
  error: z.string().optional(),
});
export type RunEvent = z.infer<typeof RunEvent>;

/** `gate`: a gate that asks a person (requested) and their answer (approved / rejected). */
export const GateEvent = z.object({
  v: z.literal(PROTOCOL_VERSION),
  ts: z.number().nonnegative().optional(),
  step: id.optional(),
  type: z.literal('gate'),
  gate: id,
  status: z.enum(['requested', 'approved', 'rejected']),
  actor: z.string().optional(),
  reason: z.string().optional(),
});
export type GateEvent = z.infer<typeof GateEvent>;

/** Everything that flows on paddock's bus: steps' events plus paddock's own facts. */
export const PaddockEvent = z.discriminatedUnion('type', [
  StepEvent,
  ProgressEvent,
  LogEvent,
  LatencyEvent,
  MetricEvent,
  FailureEvent,
  ArtifactEvent,
  VerdictEvent,
  SkipEvent,
  RunEvent,
  GateEvent,
]);
export type PaddockEvent = z.infer<typeof PaddockEvent>;
