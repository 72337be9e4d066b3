/**
 * Gate decisions: pure functions from a gate's rule and the run's metrics to a verdict, and
 * from a policy to an answer when a person is not there (headless).
 */
import { createHash } from 'node:crypto';
import type { Gate } from '../schema/recipe.js';

export interface GateMetric {
  name: string;
  value: number;
  target: string | null;
  slice: string | null;
  step_id: string | null;
}

export interface GateDecision {
  verdict: 'pass' | 'fail' | 'review';
  /** A person must answer before the run goes on. */
  needsPerson: boolean;
  rationale: string[];
  /** The value the rule compared, if measured. */
  value?: number;
  /** Digest of what was decided on: an approval holds only for exactly these values. */
  subjectDigest: string;
}

export type GatePolicy = 'fail' | 'approve' | 'reject';

const OPS: Record<Gate['op'], (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toPrecision(3);
}

/** Decides a gate on the metrics of the run's current attempts (the last value of a name wins). */
export function decideGate(gate: Gate, metrics: readonly GateMetric[]): GateDecision {
  const matching = metrics.filter(
    (m) => m.name === gate.metric && (gate.target === undefined || m.target === gate.target) && (gate.slice === undefined || m.slice === gate.slice),
  );
  const where = [gate.target && `target ${gate.target}`, gate.slice && `slice ${gate.slice}`].filter(Boolean).join(', ');
  const label = `${gate.metric}${where ? ` (${where})` : ''}`;
  const subject = (value: number | null) =>
    createHash('sha256').update(JSON.stringify({ gate, value })).digest('hex');
  if (matching.length === 0) {
    const verdict = gate.on_fail === 'review' ? 'review' : 'fail';
    return {
      verdict,
      needsPerson: verdict === 'review',
      rationale: [`${label} was not measured in this run`],
      subjectDigest: subject(null),
    };
  }
  const m = matching[matching.length - 1];
  const ok = OPS[gate.op](m.value, gate.threshold);
  const line = `${label} = ${fmt(m.value)} ${ok ? 'meets' : 'does not meet'} ${gate.op} ${fmt(gate.threshold)}${m.step_id ? ` (from ${m.step_id})` : ''}`;
  if (ok) {
    const review = gate.approval === 'required';
    return {
      verdict: review ? 'review' : 'pass',
      needsPerson: review,
      rationale: review ? [line, 'this gate requires a person\'s approval'] : [line],
      value: m.value,
      subjectDigest: subject(m.value),
    };
  }
  const verdict = gate.on_fail === 'review' ? 'review' : 'fail';
  return {
    verdict,
    needsPerson: verdict === 'review',
    rationale: verdict === 'review' ? [line, 'a failed rule of this gate goes to review'] : [line],
    value: m.value,
    subjectDigest: subject(m.value),
  };
}

/** A person's (or a policy's) answer to a gate. */
export interface GateAnswer {
  decision: 'approved' | 'rejected';
  actor: string;
  reason?: string;
}

/** Answers a gate by policy, for headless runs. `fail` answers nothing: the gate fails. */
export function answerByPolicy(policy: GatePolicy, actor: string): GateAnswer | undefined {
  if (policy === 'approve') return { decision: 'approved', actor: `${actor} (--gate-policy approve)`, reason: 'approved by policy' };
  if (policy === 'reject') return { decision: 'rejected', actor: `${actor} (--gate-policy reject)`, reason: 'rejected by policy' };
  return undefined;
}
