/**
 * Live state: what the views show, computed by pure reducers from the event stream.
 *
 * `reduceLive(state, event)` never mutates `state`; every event type has one case. Memory is
 * bounded whatever the run's length: latency is a log-bucketed histogram per target, the
 * percentile-over-time series and the log are ring buffers.
 */
import type { PaddockEvent, MetricEvent, VerdictEvent, StepStatus } from '../schema/events.js';
import {
  emptyHistogram,
  recordSamples,
  quantile,
  type LatencyHistogram,
} from '../metrics/latency-histogram.js';

/** One point of the percentile-over-time chart. */
export interface PercentilePoint {
  /** End of the window, ms since the epoch. */
  t: number;
  count: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Live latency of one target. */
export interface TargetLatency {
  target: string;
  /** Every sample of the run. */
  total: LatencyHistogram;
  /** Samples of the window not yet closed into a point. */
  window: LatencyHistogram;
  windowStart: number;
  /** Closed windows, oldest first, at most SERIES_POINTS. */
  series: readonly PercentilePoint[];
}

export type LiveStepStatus = 'pending' | StepStatus | 'skipped';

export interface LiveStep {
  id: string;
  stage?: string;
  status: LiveStepStatus;
  startedAt?: number;
  endedAt?: number;
  error?: string;
  /** Why it was skipped: by itself (a `skip` it printed) or because a step it needs did not succeed. */
  reason?: string;
  host?: string;
  runner?: string;
  progress?: { done: number; total?: number; unit?: string; message?: string };
}

export interface LogLine {
  ts: number;
  step?: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

export interface LiveGate {
  gate: string;
  verdict?: VerdictEvent['verdict'];
  rationale: readonly string[];
  status?: 'requested' | 'approved' | 'rejected';
  actor?: string;
  reason?: string;
}

export interface LiveState {
  runId?: string;
  runStatus: 'idle' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  startedAt?: number;
  endedAt?: number;
  /** Steps in the order they were first seen (plan order when seeded with `withPlannedSteps`). */
  steps: readonly LiveStep[];
  latency: Readonly<Record<string, TargetLatency>>;
  /** The target that received samples last (what the latency pane shows by default). */
  activeTarget?: string;
  /** Latest value of each metric, keyed by `metricKey`. */
  metrics: Readonly<Record<string, MetricEvent>>;
  gates: Readonly<Record<string, LiveGate>>;
  logs: readonly LogLine[];
  failureCount: number;
  artifactCount: number;
  eventCount: number;
}

/** Window of one percentile point, and how many points are kept. */
export const WINDOW_MS = 500;
export const SERIES_POINTS = 240;
export const LOG_LINES = 500;

export const initialLiveState: LiveState = {
  runStatus: 'idle',
  steps: [],
  latency: {},
  metrics: {},
  gates: {},
  logs: [],
  failureCount: 0,
  artifactCount: 0,
  eventCount: 0,
};

/** Seeds the step list from a plan so pending steps show before they start. */
export function withPlannedSteps(state: LiveState, steps: readonly { id: string; stage?: string }[]): LiveState {
  const known = new Set(state.steps.map((s) => s.id));
  const added = steps.filter((s) => !known.has(s.id)).map((s): LiveStep => ({ id: s.id, stage: s.stage, status: 'pending' }));
  return { ...state, steps: [...state.steps, ...added] };
}

/** Key of a metric in `LiveState.metrics`: name, then target and slice when present. */
export function metricKey(m: Pick<MetricEvent, 'name' | 'target' | 'slice'>): string {
  return `${m.name}|${m.target ?? ''}|${m.slice ?? ''}`;
}

function pushRing<T>(ring: readonly T[], item: T, cap: number): readonly T[] {
  const next = ring.length >= cap ? ring.slice(ring.length - cap + 1) : ring.slice();
  next.push(item);
  return next;
}

function updateStep(state: LiveState, id: string, patch: (s: LiveStep) => LiveStep): LiveState {
  const i = state.steps.findIndex((s) => s.id === id);
  const steps = state.steps.slice();
  if (i === -1) steps.push(patch({ id, status: 'pending' }));
  else steps[i] = patch(steps[i]);
  return { ...state, steps };
}

/** Adds a batch of samples to a target, closing windows by event time. */
export function reduceLatency(
  prev: TargetLatency | undefined,
  target: string,
  samples: readonly number[],
  ts: number,
): TargetLatency {
  let cur: TargetLatency = prev ?? {
    target,
    total: emptyHistogram(),
    window: emptyHistogram(),
    windowStart: ts,
    series: [],
  };
  if (ts - cur.windowStart >= WINDOW_MS && cur.window.count > 0) {
    const point: PercentilePoint = {
      t: ts,
      count: cur.window.count,
      p50: quantile(cur.window, 0.5),
      p95: quantile(cur.window, 0.95),
      p99: quantile(cur.window, 0.99),
    };
    cur = { ...cur, series: pushRing(cur.series, point, SERIES_POINTS), window: emptyHistogram(), windowStart: ts };
  }
  return {
    ...cur,
    total: recordSamples(cur.total, samples),
    window: recordSamples(cur.window, samples),
  };
}

/** The pure reducer. `now` is only a fall-back for events without a timestamp. */
export function reduceLive(state: LiveState, event: PaddockEvent, now = 0): LiveState {
  const ts = event.ts ?? now;
  const s: LiveState = { ...state, eventCount: state.eventCount + 1 };
  switch (event.type) {
    case 'run': {
      const runStatus =
        event.status === 'started' || event.status === 'resumed' ? 'running' : event.status;
      return {
        ...s,
        runId: event.run,
        runStatus,
        startedAt: event.status === 'started' || event.status === 'resumed' ? ts : s.startedAt,
        endedAt: runStatus === 'running' ? undefined : ts,
      };
    }
    case 'step': {
      if (!event.step) return s;
      const next = updateStep(s, event.step, (st) => ({
        ...st,
        status: event.status,
        startedAt: event.status === 'started' ? ts : st.startedAt,
        endedAt: event.status === 'started' ? undefined : ts,
        error: event.status === 'started' ? undefined : event.error,
        reason: event.status === 'skipped' ? event.reason : undefined,
        host: event.host ?? st.host,
        runner: event.runner ?? st.runner,
      }));
      if (event.status === 'failed' || event.status === 'cancelled') {
        const line: LogLine = { ts, step: event.step, level: 'error', message: `${event.step} ${event.status}${event.error ? `: ${event.error}` : ''}` };
        return { ...next, logs: pushRing(next.logs, line, LOG_LINES) };
      }
      if (event.status === 'skipped') {
        const line: LogLine = { ts, step: event.step, level: 'warn', message: `${event.step} skipped${event.reason ? `: ${event.reason}` : ''}` };
        return { ...next, logs: pushRing(next.logs, line, LOG_LINES) };
      }
      return next;
    }
    case 'progress': {
      if (!event.step) return s;
      return updateStep(s, event.step, (st) => ({
        ...st,
        progress: { done: event.done, total: event.total, unit: event.unit, message: event.message },
      }));
    }
    case 'log': {
      const line: LogLine = { ts, step: event.step, level: event.level, message: event.message };
      return { ...s, logs: pushRing(s.logs, line, LOG_LINES) };
    }
    case 'latency': {
      const cur = s.latency[event.target];
      return {
        ...s,
        activeTarget: event.target,
        latency: { ...s.latency, [event.target]: reduceLatency(cur, event.target, event.samples, ts) },
      };
    }
    case 'metric':
      return { ...s, metrics: { ...s.metrics, [metricKey(event)]: event } };
    case 'failure':
      return { ...s, failureCount: s.failureCount + 1 };
    case 'artifact':
      return { ...s, artifactCount: s.artifactCount + 1 };
    // The step's own word that it skips its work; its status follows with the `step` event paddock
    // records when the step ends (a step that skips and then fails is failed).
    case 'skip':
      return s;
    case 'verdict': {
      const g = s.gates[event.gate] ?? { gate: event.gate, rationale: [] };
      return { ...s, gates: { ...s.gates, [event.gate]: { ...g, verdict: event.verdict, rationale: event.rationale } } };
    }
    case 'gate': {
      const g = s.gates[event.gate] ?? { gate: event.gate, rationale: [] };
      return {
        ...s,
        gates: { ...s.gates, [event.gate]: { ...g, status: event.status, actor: event.actor ?? g.actor, reason: event.reason ?? g.reason } },
      };
    }
  }
}

/** Folds many events. */
export function reduceAll(state: LiveState, events: Iterable<PaddockEvent>): LiveState {
  let s = state;
  for (const e of events) s = reduceLive(s, e);
  return s;
}
