/**
 * Gate decisions: pure functions from a gate's rule and the run's metrics to a verdict, and
 * from a policy to an answer when a person is not there (headless).
 */
import { createHash } from 'node:crypto';
import type { Gate } from '../schema/recipe.js';
import { formatMeasure } from '../files/format.js';

export interface GateMetric {
  name: string;
  value: number;
  target: string | null;
  slice: string | null;
  step_id: string | null;
  ci_lo?: number | null;
  ci_hi?: number | null;
}

export interface GateDecision {
  verdict: 'pass' | 'fail' | 'review';
  /** A person must answer before the run goes on. */
  needsPerson: boolean;
  rationale: string[];
  /** The value the rule compared, if measured (the first checked slice for slice lists). */
  value?: number;
  /** Slices that failed the rule, and those with insufficient data. */
  failingSlices?: string[];
  insufficientSlices?: string[];
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

/** The last value of a metric for a target (undefined: any) and a slice (undefined: the overall value). */
function find(metrics: readonly GateMetric[], name: string, target: string | undefined, slice: string | undefined): GateMetric | undefined {
  for (let i = metrics.length - 1; i >= 0; i--) {
    const m = metrics[i];
    if (m.name !== name) continue;
    if (target !== undefined && m.target !== target) continue;
    if ((m.slice ?? undefined) !== slice) continue;
    return m;
  }
  return undefined;
}

interface Check {
  slice?: string;
  ok?: boolean;
  insufficient?: boolean;
  line: string;
  value?: number;
}

function checkOne(gate: Gate, metrics: readonly GateMetric[], slice: string | undefined): Check {
  const where = [gate.target && `target ${gate.target}`, slice && `slice ${slice}`].filter(Boolean).join(', ');
  const label = `${gate.metric}${where ? ` (${where})` : ''}`;
  const m = find(metrics, gate.metric, gate.target, slice);
  if (!m) return { slice, insufficient: true, line: `${label}: not measured in this run (insufficient data)` };
  let compared = m.value;
  let what = `= ${formatMeasure(m.value)}`;
  if (gate.decide_on !== 'point') {
    const bound = gate.decide_on === 'lower' ? m.ci_lo : m.ci_hi;
    if (bound === null || bound === undefined) return { slice, insufficient: true, line: `${label} = ${formatMeasure(m.value)} has no confidence interval to decide on (insufficient data)` };
    compared = bound;
    what = `= ${formatMeasure(m.value)}, ${gate.decide_on} 95% bound ${formatMeasure(bound)}`;
  }
  if (gate.margin !== undefined && m.ci_lo !== null && m.ci_lo !== undefined && m.ci_hi !== null && m.ci_hi !== undefined && (m.ci_hi - m.ci_lo) / 2 > gate.margin) {
    return { slice, insufficient: true, value: m.value, line: `${label} ${what}: insufficient data (interval +-${formatMeasure((m.ci_hi - m.ci_lo) / 2)} is wider than the margin ${formatMeasure(gate.margin)})` };
  }
  let threshold: number;
  let thrText: string;
  if (gate.baseline) {
    const b = find(metrics, gate.metric, gate.baseline.target, slice);
    if (!b) return { slice, insufficient: true, value: m.value, line: `${label} ${what}: the baseline ${gate.baseline.target} was not measured here (insufficient data)` };
    threshold = b.value * gate.baseline.times + gate.baseline.plus;
    const parts = [`${gate.baseline.target} ${formatMeasure(b.value)}`];
    if (gate.baseline.times !== 1) parts.push(`x ${gate.baseline.times}`);
    if (gate.baseline.plus !== 0) parts.push(`${gate.baseline.plus > 0 ? '+' : '-'} ${formatMeasure(Math.abs(gate.baseline.plus))}`);
    thrText = `${formatMeasure(threshold)} (${parts.join(' ')})`;
  } else {
    threshold = gate.threshold!;
    thrText = formatMeasure(threshold);
  }
  const ok = OPS[gate.op](compared, threshold);
  return { slice, ok, value: m.value, line: `${label} ${what} ${ok ? 'meets' : 'does not meet'} ${gate.op} ${thrText}${m.step_id ? ` (from ${m.step_id})` : ''}` };
}

/**
 * Decides a gate on the metrics of the run's current attempts (the last value of a name wins):
 * against a threshold or the baseline, on the point estimate or a confidence bound, for one
 * metric or every slice of a list ("critical": every slice the evaluate step marked critical).
 */
export function decideGate(gate: Gate, metrics: readonly GateMetric[]): GateDecision {
  let slices: (string | undefined)[] = [gate.slice];
  if (gate.slices === 'critical') {
    const critical = new Set<string>();
    for (const m of metrics) if (m.name === 'slice.critical' && m.value === 1 && m.slice && (gate.target === undefined || m.target === gate.target)) critical.add(m.slice);
    slices = [...critical];
  } else if (gate.slices) slices = gate.slices;
  const checks = slices.length ? slices.map((s) => checkOne(gate, metrics, s)) : [{ insufficient: true, line: 'no critical slice was measured in this run (insufficient data)' } as Check];
  const failing = checks.filter((c) => c.ok === false);
  const insufficient = checks.filter((c) => c.insufficient);
  const subject = createHash('sha256').update(JSON.stringify({ gate, checks: checks.map((c) => [c.slice, c.value, c.ok, c.insufficient]) })).digest('hex');
  const rationale = [...failing, ...insufficient, ...checks.filter((c) => c.ok)].map((c) => c.line);
  const base = { value: checks[0]?.value, subjectDigest: subject, failingSlices: failing.map((c) => c.slice!).filter(Boolean), insufficientSlices: insufficient.map((c) => c.slice!).filter(Boolean) };
  if (failing.length) {
    if (gate.slices) rationale.push(`next action: mine more frames like ${failing.map((c) => c.slice).join(', ')} (${failing.map((c) => c.slice!.replace(/\+/g, ', ')).join('; ')}) and retrain`);
    const verdict = gate.on_fail === 'review' ? 'review' : 'fail';
    if (verdict === 'review') rationale.push('a failed rule of this gate goes to review');
    return { ...base, verdict, needsPerson: verdict === 'review', rationale };
  }
  if (insufficient.length) {
    rationale.push('insufficient data: a person must decide');
    return { ...base, verdict: 'review', needsPerson: true, rationale };
  }
  const review = gate.approval === 'required';
  if (review) rationale.push("this gate requires a person's approval");
  return { ...base, verdict: review ? 'review' : 'pass', needsPerson: review, rationale };
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
