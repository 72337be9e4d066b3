/**
 * Gate decisions: pure functions from a gate's rule and the run's metrics to a verdict, and
 * from a policy to an answer when a person is not there (headless).
 */
import { createHash } from 'node:crypto';
import type { Gate } from '../schema/recipe.js';
import { formatMeasure, parseTestUnit } from '../files/format.js';

export interface GateMetric {
  name: string;
  value: number;
  target: string | null;
  slice: string | null;
  step_id: string | null;
  ci_lo?: number | null;
  ci_hi?: number | null;
  ci_level?: number | null;
  ci_method?: string | null;
  unit?: string | null;
  /** As the store keeps them: a JSON object of counts ({"scenes": 12, "objects": 80}), or already parsed. */
  denominators?: string | Record<string, number> | null;
}

/**
 * What each `decide_on` decides on: the claims docs/evaluate.md makes, word for word (a test
 * reads the doc's table and compares it with this one).
 */
export const DECISION_RULES: Record<Gate['decide_on'], string> = {
  point: "the point estimate, against the threshold or the baseline's point estimate (value * times + plus); no statistical claim",
  lower:
    'with a baseline: the one-sided (1 - alpha) lower bound of the paired delta (candidate minus baseline, same scenes, same replicates) against plus (non-inferiority with plus < 0, superiority with plus >= 0); with a threshold: the lower end of the metric\'s two-sided interval',
  upper: "with a baseline: the one-sided (1 - alpha) upper bound of the paired delta against plus; with a threshold: the upper end of the metric's two-sided interval",
  regression:
    'the one-sided p-value of "the candidate is worse than the baseline by more than the margin (-plus)", adjusted across slices (Holm within the critical slices, Benjamini-Hochberg within the rest), against alpha: an adjusted p below alpha fails the slice',
};

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

function countsOf(m: GateMetric | undefined): Record<string, number> {
  if (!m?.denominators) return {};
  if (typeof m.denominators !== 'string') return m.denominators;
  try {
    return JSON.parse(m.denominators) as Record<string, number>;
  } catch {
    return {};
  }
}

/** "12 scenes with objects, 80 objects, 2000 replicates": the sample sizes a rationale names. */
function sizes(m: GateMetric | undefined): string {
  const d = countsOf(m);
  const parts: string[] = [];
  if (d.scenes_with_objects !== undefined) parts.push(`${d.scenes_with_objects} scene${d.scenes_with_objects === 1 ? '' : 's'} with objects (${d.effective_scenes ?? '?'} effective)`);
  else if (d.scenes !== undefined) parts.push(`${d.scenes} scene${d.scenes === 1 ? '' : 's'}`);
  if (d.objects !== undefined) parts.push(`${d.objects} objects`);
  if (d.replicates !== undefined) parts.push(`${d.replicates} replicates`);
  return parts.join(', ');
}

const pct = (alpha: number) => `${+((1 - alpha) * 100).toFixed(2)}%`;

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
  // The step's own sample-size judgement comes first: too few scenes with objects is never a pass.
  const small = slice !== undefined ? find(metrics, 'slice.insufficient', gate.target, slice) : undefined;
  if (small && small.value === 1) return { slice, insufficient: true, value: m?.value, line: `${label}${m ? ` = ${formatMeasure(m.value)}` : ''}: insufficient data (${sizes(small)}; below the evaluate step's minimum), so no interval or test is trusted here` };
  if (!m) return { slice, insufficient: true, line: `${label}: not measured in this run (insufficient data)` };
  if (gate.baseline && gate.decide_on !== 'point') return checkPaired(gate, metrics, slice, label, m);
  let compared = m.value;
  let what = `= ${formatMeasure(m.value)}`;
  if (gate.decide_on === 'lower' || gate.decide_on === 'upper') {
    const bound = gate.decide_on === 'lower' ? m.ci_lo : m.ci_hi;
    if (bound === null || bound === undefined) return { slice, insufficient: true, line: `${label} = ${formatMeasure(m.value)} has no confidence interval to decide on (insufficient data)` };
    compared = bound;
    const level = m.ci_level ?? 0.95;
    what = `= ${formatMeasure(m.value)}, ${gate.decide_on} end of its two-sided ${pct(1 - level)} interval ${formatMeasure(bound)} (a one-sided ${pct((1 - level) / 2)} bound${m.ci_method ? `; ${m.ci_method}` : ''})`;
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
    thrText = `${formatMeasure(threshold)} (${parts.join(' ')}; point estimates, no statistical claim)`;
  } else {
    threshold = gate.threshold!;
    thrText = formatMeasure(threshold);
  }
  const ok = OPS[gate.op](compared, threshold);
  const n = sizes(m);
  return { slice, ok, value: m.value, line: `${label} ${what} ${ok ? 'meets' : 'does not meet'} ${gate.op} ${thrText}${n ? ` [${n}]` : ''}${m.step_id ? ` (from ${m.step_id})` : ''}` };
}

/**
 * A statistical rule against a baseline: the one-sided bound of the paired delta
 * (`<metric>.delta.lower` / `.upper`) against plus, or the adjusted one-sided p-value of a
 * regression beyond the margin (`<metric>.delta_p_adjusted`) against alpha; always at the level
 * the step tested at, never silently at another.
 */
function checkPaired(gate: Gate, metrics: readonly GateMetric[], slice: string | undefined, label: string, m: GateMetric): Check {
  const base = gate.baseline!;
  const delta = find(metrics, `${gate.metric}.delta`, gate.target, slice);
  const method = delta?.ci_method ? `; ${delta.ci_method}` : '';
  const power = find(metrics, `${gate.metric}.delta.detectable`, gate.target, slice);
  const atPower = parseTestUnit(power?.unit).power ?? 0.8;
  const powerText = power ? `; at ${+(atPower * 100).toFixed(0)}% power this slice can detect a drop of ${formatMeasure(power.value)} or more` : '';
  const need = find(metrics, `${gate.metric}.delta.scenes_for_margin`, gate.target, slice);
  const needText = need ? ` (about ${need.value} scenes would detect the margin)` : '';
  const deltaText = delta ? `paired delta vs ${base.target} ${delta.value >= 0 ? '+' : ''}${formatMeasure(delta.value)}` : `vs ${base.target}`;
  if (gate.decide_on === 'regression') {
    const p = find(metrics, `${gate.metric}.delta_p`, gate.target, slice);
    const adj = find(metrics, `${gate.metric}.delta_p_adjusted`, gate.target, slice);
    if (!p || !adj) return { slice, insufficient: true, value: m.value, line: `${label}: no one-sided regression test against ${base.target} was measured here (insufficient data)` };
    const tested = parseTestUnit(p.unit);
    const margin = -base.plus;
    if (tested.margin === undefined || Math.abs(tested.margin - margin) > 1e-12) return { slice, insufficient: true, value: m.value, line: `${label}: the step tested a drop beyond ${tested.margin ?? '?'}, this gate asks about a drop beyond ${formatMeasure(margin)} (set the step's statistics.margin to ${margin}): insufficient data` };
    const family = countsOf(adj).family;
    const pText = tested.resolution === 1 ? `p < ${formatMeasure(1 / ((countsOf(p).replicates ?? 0) + 1))} (the resolution of its replicates)` : `p = ${formatMeasure(p.value)}`;
    const significant = OPS['<'](adj.value, gate.alpha);
    return {
      slice,
      ok: !significant,
      value: m.value,
      line: `${label}: ${deltaText}; one-sided ${pText} for a drop beyond ${formatMeasure(margin)}, ${adj.unit ?? 'adjusted'}-adjusted${family ? ` over ${family} slices` : ''} ${formatMeasure(adj.value)} ${significant ? '<' : '>='} alpha ${gate.alpha}: ${significant ? 'a significant regression' : 'no significant regression'} [${sizes(p)}${method}]${powerText}${needText}`,
    };
  }
  const side = gate.decide_on as 'lower' | 'upper';
  const b = find(metrics, `${gate.metric}.delta.${side}`, gate.target, slice);
  if (!b) return { slice, insufficient: true, value: m.value, line: `${label}: no paired ${side} bound of ${gate.metric} against ${base.target} was measured here (insufficient data)` };
  const alpha = parseTestUnit(b.unit).alpha;
  if (alpha === undefined || Math.abs(alpha - gate.alpha) > 1e-12) return { slice, insufficient: true, value: m.value, line: `${label}: the step's bounds are one-sided at alpha ${alpha ?? '?'}, this gate decides at alpha ${gate.alpha} (set the step's statistics.alpha to ${gate.alpha}): insufficient data` };
  const ok = OPS[gate.op](b.value, base.plus);
  return {
    slice,
    ok,
    value: m.value,
    line: `${label}: ${deltaText}, one-sided ${pct(gate.alpha)} ${side} bound ${formatMeasure(b.value)} ${ok ? 'meets' : 'does not meet'} ${gate.op} ${formatMeasure(base.plus)} [${sizes(b)}${method}]${powerText}${needText}`,
  };
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
    // How much more data each too-small slice needs, where the step said (its minimum, or the scenes that would detect the margin).
    for (const c of insufficient) {
      if (!c.slice) continue;
      const d = countsOf(find(metrics, 'slice.insufficient', gate.target, c.slice));
      if (d.min_scenes !== undefined && d.scenes_with_objects !== undefined && d.scenes_with_objects < d.min_scenes) rationale.push(`next action: collect at least ${d.min_scenes - d.scenes_with_objects} more scenes with objects of slice ${c.slice} (${d.scenes_with_objects} of the ${d.min_scenes} its intervals need)`);
      else if (d.min_effective_scenes !== undefined && d.effective_scenes !== undefined && d.effective_scenes < d.min_effective_scenes) rationale.push(`next action: collect scenes with objects of slice ${c.slice} beyond the few that hold most of them (${d.effective_scenes} effective scenes of the ${d.min_effective_scenes} its intervals need)`);
    }
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
