/**
 * Gate rules on table-driven cases with known answers: absolute thresholds, baselines (plus and
 * times), interval ends against a threshold, paired one-sided bounds (non-inferiority,
 * superiority, upper), the adjusted regression test, level and margin mismatches between gate and
 * step, every critical slice, insufficient data, and what the schema refuses.
 */
import { describe, expect, it } from 'vitest';
import { decideGate, type GateMetric } from '../../src/pipeline/gates.js';
import { Gate } from '../../src/schema/recipe.js';
import { testUnit } from '../../src/files/format.js';

const m = (name: string, value: number, target: string | null, slice: string | null = null, lo?: number, hi?: number): GateMetric => ({ name, value, target, slice, step_id: 'evaluate', ci_lo: lo ?? null, ci_hi: hi ?? null });

type Denominators = Record<string, number>;

/** What the evaluate step emits for one slice with an interval and a baseline (src/steps/evaluate/evaluate.ts emitSlice), the real names and units. */
interface PairedSlice {
  critical: boolean;
  ap: number;
  baseAp: number;
  delta: number;
  lo: number;
  hi: number;
  lower: number;
  upper: number;
  p: number;
  atResolution?: boolean;
  adjusted: number;
  adjustment: 'holm' | 'benjamini-hochberg';
  family: number;
  den?: Denominators;
  /** Denominators as the store keeps them (a JSON string), or as an object. */
  asJson?: boolean;
  alpha?: number;
  margin?: number;
}
const DEN: Denominators = { scenes: 14, scenes_with_objects: 12, effective_scenes: 9, frames: 140, objects: 80 };
const MIN = { min_scenes: 10, min_objects: 10 };

function pairedSlice(slice: string, s: PairedSlice): GateMetric[] {
  const den = s.den ?? DEN;
  const enc = (d: Denominators) => (s.asJson ? JSON.stringify(d) : d);
  const withB = enc({ ...den, replicates: 1000 });
  const alpha = s.alpha ?? 0.05;
  const row = (name: string, value: number, extra: Partial<GateMetric> = {}, target = 'candidate'): GateMetric => ({ name, value, target, slice, step_id: 'evaluate', ...extra });
  return [
    row('slice.critical', s.critical ? 1 : 0, { denominators: enc(den) }),
    row('slice.insufficient', 0, { denominators: enc({ ...den, ...MIN }) }),
    row('coco.AP', s.ap, { ci_lo: s.ap - 0.04, ci_hi: s.ap + 0.04, ci_level: 0.95, ci_method: 'BCa scene bootstrap, 1000 replicates, seed 12345', denominators: withB }),
    row('coco.AP', s.baseAp, { denominators: enc(den) }, 'production'),
    row('coco.AP.delta', s.delta, { ci_lo: s.lo, ci_hi: s.hi, ci_level: 0.95, ci_method: 'BCa paired scene bootstrap, 1000 replicates, seed 12345', denominators: withB }),
    row('coco.AP.delta.lower', s.lower, { unit: testUnit({ alpha }), denominators: withB }),
    row('coco.AP.delta.upper', s.upper, { unit: testUnit({ alpha }), denominators: withB }),
    row('coco.AP.delta_p', s.p, { unit: testUnit({ margin: s.margin ?? 0.02, resolution: s.atResolution ? 1 : 0 }), denominators: withB }),
    row('coco.AP.delta_p_adjusted', s.adjusted, { unit: s.adjustment, denominators: enc({ ...den, replicates: 1000, family: s.family }) }),
    row('coco.AP.delta.detectable', 0.031, { unit: testUnit({ alpha, power: 0.8 }), denominators: withB }),
    row('coco.AP.delta.scenes_for_margin', 29, { unit: testUnit({ margin: s.margin ?? 0.02, power: 0.8 }), denominators: withB }),
  ];
}

/** A slice below the step's minimum: the point estimates only (and slice.insufficient = 1), as the step emits it. */
function insufficientSlice(slice: string, asJson = false): GateMetric[] {
  const den = { scenes: 4, scenes_with_objects: 1, effective_scenes: 1, frames: 40, objects: 13 };
  const enc = (d: Denominators) => (asJson ? JSON.stringify(d) : d);
  const row = (name: string, value: number, extra: Partial<GateMetric> = {}, target = 'candidate'): GateMetric => ({ name, value, target, slice, step_id: 'evaluate', ...extra });
  return [
    row('slice.critical', 1, { denominators: enc(den) }),
    row('slice.insufficient', 1, { denominators: enc({ ...den, ...MIN }) }),
    row('coco.AP', 0.0566, { denominators: enc(den) }),
    row('coco.AP', 0.0475, { denominators: enc(den) }, 'production'),
  ];
}

const metrics: GateMetric[] = [
  m('coco.AP', 0.5, 'candidate', null, 0.47, 0.53),
  m('coco.AP', 0.48, 'production'),
  m('latency.p95_ms', 11, 'candidate/cpu'),
  m('slice.critical', 1, 'candidate', 'night'),
  m('slice.critical', 1, 'candidate', 'pedestrian'),
  m('slice.critical', 0, 'candidate', 'day'),
  m('coco.AP', 0.40, 'candidate', 'night', 0.35, 0.45),
  m('coco.AP', 0.41, 'production', 'night'),
  m('coco.AP', 0.30, 'candidate', 'pedestrian', 0.20, 0.40),
  m('coco.AP', 0.35, 'production', 'pedestrian'),
  m('coco.AP', 0.6, 'candidate', 'day', 0.58, 0.62),
  m('coco.AP', 0.3, 'production', 'day'),
  // The slice "all" with its paired delta (0.5 vs 0.48): lower bound -0.012, what the old "times" rules now decide on.
  ...pairedSlice('all', { critical: false, ap: 0.5, baseAp: 0.48, delta: 0.02, lo: -0.016, hi: 0.056, lower: -0.012, upper: 0.05, p: 0.02, adjusted: 0.02, adjustment: 'benjamini-hochberg', family: 1 }).filter((r) => r.name !== 'slice.critical'),
];
const gate = (g: Record<string, unknown>) => Gate.parse({ id: 'g', stage: 'evaluate', op: '>=', ...g });

describe('gates', () => {
  const table: [string, Record<string, unknown>, 'pass' | 'fail' | 'review', RegExp][] = [
    ['absolute latency', { metric: 'latency.p95_ms', op: '<=', threshold: 12 }, 'pass', /latency.p95_ms = 11.000 meets <= 12.000/],
    ['AP >= baseline + 0.015 (0.5 vs 0.495)', { metric: 'coco.AP', target: 'candidate', baseline: { target: 'production', plus: 0.015 } }, 'pass', /meets >= 0.495 \(production 0.480 \+ 0.0150; point estimates, no statistical claim\)/],
    ['AP >= baseline + 0.03 (0.5 vs 0.51)', { metric: 'coco.AP', target: 'candidate', baseline: { target: 'production', plus: 0.03 } }, 'fail', /does not meet >= 0.510/],
    ['the lower end of the interval against a threshold (0.47 >= 0.45)', { metric: 'coco.AP', target: 'candidate', threshold: 0.45, decide_on: 'lower' }, 'pass', /= 0.500, lower end of its two-sided 95% interval 0.470 \(a one-sided 97.5% bound\) meets >= 0.450/],
    // What `baseline: { times: 0.98 }, decide_on: lower` meant (0.48 x 0.98 = 0.4704, a drop of 0.0096) is now a paired rule with plus -0.0096.
    ['non-inferiority by 0.0096 on the paired lower bound (-0.012) fails', { metric: 'coco.AP', target: 'candidate', slice: 'all', baseline: { target: 'production', plus: -0.0096 }, decide_on: 'lower' }, 'fail', /paired delta vs production \+0.0200, one-sided 95% lower bound -0.0120 does not meet >= -0.00960/],
    ['non-inferiority passes with a looser margin (0.024, what times 0.95 meant)', { metric: 'coco.AP', target: 'candidate', slice: 'all', baseline: { target: 'production', plus: -0.024 }, decide_on: 'lower' }, 'pass', /lower bound -0.0120 meets >= -0.0240/],
    ['every critical slice vs baseline x 0.98: pedestrian fails', { metric: 'coco.AP', target: 'candidate', slices: 'critical', baseline: { target: 'production', times: 0.98 } }, 'fail', /slice pedestrian\) = 0.300 does not meet >= 0.343/],
    ['every critical slice with a margin: pedestrian too wide to say', { metric: 'coco.AP', target: 'candidate', slices: 'critical', baseline: { target: 'production', times: 0.9 }, margin: 0.08 }, 'review', /insufficient data \(interval \+-0.100 is wider than the margin 0.0800\)/],
    ['a listed slice that was never measured', { metric: 'coco.AP', target: 'candidate', slices: ['fog'], threshold: 0.1 }, 'review', /slice fog\): not measured in this run \(insufficient data\)/],
    ['a failed rule that goes to review', { metric: 'latency.p95_ms', op: '<', threshold: 10, on_fail: 'review' }, 'review', /a failed rule of this gate goes to review/],
  ];
  it.each(table)('%s', (_name, g, verdict, re) => {
    const d = decideGate(gate(g), metrics);
    expect(d.verdict, d.rationale.join('\n')).toBe(verdict);
    expect(d.rationale.join('\n')).toMatch(re);
  });

  it('names the failing slices and the next action', () => {
    const d = decideGate(gate({ metric: 'coco.AP', target: 'candidate', slices: ['night', 'pedestrian', 'day'], baseline: { target: 'production', times: 0.98 } }), metrics);
    // night: 0.40 < 0.41 x 0.98 = 0.4018; pedestrian: 0.30 < 0.343; day passes.
    expect(d.failingSlices).toEqual(['night', 'pedestrian']);
    expect(d.rationale.at(-1)).toBe('next action: mine more frames like night, pedestrian (night; pedestrian) and retrain');
  });

  it('needs exactly one of threshold and baseline', () => {
    expect(() => Gate.parse({ id: 'g', stage: 'evaluate', metric: 'm', op: '>=' })).toThrow(/exactly one of/);
    expect(() => Gate.parse({ id: 'g', stage: 'evaluate', metric: 'm', op: '>=', threshold: 1, baseline: { target: 'p' } })).toThrow(/exactly one/);
  });

  it('an approval holds only for the same measured values', () => {
    const g = gate({ metric: 'coco.AP', target: 'candidate', threshold: 0.4, approval: 'required' });
    const a = decideGate(g, metrics);
    const b = decideGate(g, [...metrics, m('coco.AP', 0.51, 'candidate')]);
    expect(a.verdict).toBe('review');
    expect(a.subjectDigest).not.toBe(b.subjectDigest);
    expect(decideGate(g, metrics).subjectDigest).toBe(a.subjectDigest);
  });
});

describe('schema refusals', () => {
  const base = { id: 'g', stage: 'evaluate', metric: 'coco.AP', target: 'candidate' };
  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['decide_on: lower with times 0.98 (the old non-inferiority rule)', { op: '>=', baseline: { target: 'production', times: 0.98 }, decide_on: 'lower' }, /"times" must be 1, and "plus" is the margin/],
    ['decide_on: lower with times 0.95', { op: '>=', baseline: { target: 'production', times: 0.95 }, decide_on: 'lower' }, /"times" must be 1/],
    ['decide_on: regression without a baseline', { op: '>=', threshold: 0.3, decide_on: 'regression' }, /decide_on: regression tests the candidate against a baseline/],
    ["op '<=' with decide_on: lower", { op: '<=', baseline: { target: 'production', plus: -0.01 }, decide_on: 'lower' }, /decide_on: lower and regression ask "at least": op must be ">=" or ">"/],
    ["op '<' with decide_on: regression", { op: '<', baseline: { target: 'production', plus: -0.02 }, decide_on: 'regression' }, /op must be ">=" or ">"/],
    ["op '>=' with decide_on: upper", { op: '>=', baseline: { target: 'production', plus: 0.02 }, decide_on: 'upper' }, /decide_on: upper asks "at most": op must be "<=" or "<"/],
    ['alpha of 0.5 or more', { op: '>=', baseline: { target: 'production' }, decide_on: 'lower', alpha: 0.5 }, /alpha|0\.5/],
  ];
  it.each(refused)('%s', (_name, g, re) => {
    const r = Gate.safeParse({ ...base, ...g });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')).toMatch(re);
  });

  it('a point rule may still scale the baseline, and alpha defaults to 0.05', () => {
    const g = Gate.parse({ ...base, op: '>=', baseline: { target: 'production', times: 0.98 } });
    expect(g.decide_on).toBe('point');
    expect(g.alpha).toBe(0.05);
  });
});

/**
 * Paired rules against a baseline, on the metrics of an evaluate step run at alpha 0.05 and
 * margin 0.02 over four slices (two critical: Holm over 2; two others: BH over 2).
 */
describe('paired rules', () => {
  const slices = (asJson = false): GateMetric[] => [
    // A regression beyond the margin, at the resolution of 1000 replicates.
    ...pairedSlice('night', { critical: true, ap: 0.34, baseAp: 0.41, delta: -0.07, lo: -0.1, hi: -0.04, lower: -0.095, upper: -0.045, p: 1 / 1001, atResolution: true, adjusted: 2 / 1001, adjustment: 'holm', family: 2, asJson }),
    // An improvement: its lower bound is above zero.
    ...pairedSlice('pedestrian', { critical: true, ap: 0.33, baseAp: 0.3, delta: 0.03, lo: 0.01, hi: 0.05, lower: 0.012, upper: 0.048, p: 0.999, adjusted: 0.999, adjustment: 'holm', family: 2, asJson }),
    // Non-inferior by 0.01, not superior.
    ...pairedSlice('rain', { critical: false, ap: 0.45, baseAp: 0.44, delta: 0.01, lo: -0.008, hi: 0.028, lower: -0.005, upper: 0.025, p: 0.9, adjusted: 0.9, adjustment: 'benjamini-hochberg', family: 2, asJson }),
    // A raw p below alpha that the adjustment lifts above it.
    ...pairedSlice('day', { critical: false, ap: 0.55, baseAp: 0.58, delta: -0.03, lo: -0.045, hi: -0.012, lower: -0.043, upper: -0.015, p: 0.03, adjusted: 0.06, adjustment: 'benjamini-hochberg', family: 2, asJson }),
  ];
  const table: [string, Record<string, unknown>, 'pass' | 'fail' | 'review', RegExp[]][] = [
    ['non-inferiority (plus -0.01): lower bound 0.012 passes', { slice: 'pedestrian', baseline: { target: 'production', plus: -0.01 }, decide_on: 'lower' }, 'pass', [/paired delta vs production \+0.0300, one-sided 95% lower bound 0.0120 meets >= -0.0100/, /BCa paired scene bootstrap, 1000 replicates, seed 12345/, /12 scenes with objects \(9 effective\), 80 objects, 1000 replicates/]],
    ['non-inferiority (plus -0.01): lower bound -0.095 fails', { slice: 'night', baseline: { target: 'production', plus: -0.01 }, decide_on: 'lower' }, 'fail', [/one-sided 95% lower bound -0.0950 does not meet >= -0.0100/, /at 80% power this slice can detect a drop of 0.0310 or more/]],
    ['non-inferiority (plus -0.01): lower bound -0.005 passes', { slice: 'rain', baseline: { target: 'production', plus: -0.01 }, decide_on: 'lower' }, 'pass', [/lower bound -0.00500 meets >= -0.0100/]],
    ['superiority (plus 0): lower bound -0.005 fails', { slice: 'rain', op: '>', baseline: { target: 'production', plus: 0 }, decide_on: 'lower' }, 'fail', [/lower bound -0.00500 does not meet > 0.00/]],
    ['superiority (plus 0): lower bound 0.012 passes', { slice: 'pedestrian', op: '>', baseline: { target: 'production' }, decide_on: 'lower' }, 'pass', [/lower bound 0.0120 meets > 0.00/]],
    ['upper bound -0.015 <= 0 passes', { slice: 'day', op: '<=', baseline: { target: 'production', plus: 0 }, decide_on: 'upper' }, 'pass', [/one-sided 95% upper bound -0.0150 meets <= 0.00/]],
    ['upper bound 0.048 <= 0.02 fails', { slice: 'pedestrian', op: '<=', baseline: { target: 'production', plus: 0.02 }, decide_on: 'upper' }, 'fail', [/one-sided 95% upper bound 0.0480 does not meet <= 0.0200/]],
    [
      'regression on every critical slice: night (Holm-adjusted p 0.002) fails',
      { slices: 'critical', baseline: { target: 'production', plus: -0.02 }, decide_on: 'regression' },
      'fail',
      [/slice night\): paired delta vs production -0.0700; one-sided p < 0.000999 \(the resolution of its replicates\) for a drop beyond 0.0200, holm-adjusted over 2 slices 0.00200 < alpha 0.05: a significant regression/, /slice pedestrian\).*holm-adjusted over 2 slices 0.999 >= alpha 0.05: no significant regression/, /next action: mine more frames like night/],
    ],
    ['regression: adjusted p 0.999 passes', { slice: 'pedestrian', baseline: { target: 'production', plus: -0.02 }, decide_on: 'regression' }, 'pass', [/one-sided p = 0.999 for a drop beyond 0.0200, holm-adjusted over 2 slices 0.999 >= alpha 0.05: no significant regression/, /about 29 scenes would detect the margin/]],
    ['regression: raw p 0.03 but BH-adjusted 0.06 passes', { slice: 'day', baseline: { target: 'production', plus: -0.02 }, decide_on: 'regression' }, 'pass', [/one-sided p = 0.0300 for a drop beyond 0.0200, benjamini-hochberg-adjusted over 2 slices 0.0600 >= alpha 0.05/]],
    ['regression at alpha 0.1: BH-adjusted 0.06 fails', { slice: 'day', baseline: { target: 'production', plus: -0.02 }, decide_on: 'regression', alpha: 0.1 }, 'fail', [/0.0600 < alpha 0.1: a significant regression/]],
    ['alpha mismatch (step 0.05, gate 0.025) on a lower bound goes to review', { slice: 'pedestrian', baseline: { target: 'production', plus: -0.01 }, decide_on: 'lower', alpha: 0.025 }, 'review', [/the step's bounds are one-sided at alpha 0.05, this gate decides at alpha 0.025 \(set the step's statistics.alpha to 0.025\): insufficient data/, /insufficient data: a person must decide/]],
    ['alpha mismatch on an upper bound goes to review', { slice: 'day', op: '<=', baseline: { target: 'production' }, decide_on: 'upper', alpha: 0.025 }, 'review', [/one-sided at alpha 0.05, this gate decides at alpha 0.025/]],
    ['margin mismatch (step 0.02, gate 0.01) goes to review', { slice: 'night', baseline: { target: 'production', plus: -0.01 }, decide_on: 'regression' }, 'review', [/the step tested a drop beyond 0.02, this gate asks about a drop beyond 0.0100 \(set the step's statistics.margin to 0.01\): insufficient data/]],
    ['margin mismatch (step 0.02, gate 0) goes to review', { slice: 'night', baseline: { target: 'production' }, decide_on: 'regression' }, 'review', [/the step tested a drop beyond 0.02, this gate asks about a drop beyond 0.00/]],
  ];
  it.each(table)('%s', (_name, g, verdict, res) => {
    for (const asJson of [false, true]) {
      const d = decideGate(gate({ metric: 'coco.AP', target: 'candidate', ...g }), slices(asJson));
      const text = d.rationale.join('\n');
      expect(d.verdict, text).toBe(verdict);
      for (const re of res) expect(text).toMatch(re);
      if (verdict === 'review') expect(d.needsPerson).toBe(true);
    }
  });

  it('names the slice a regression fails, and reads denominators as a JSON string and as an object alike', () => {
    const g = gate({ metric: 'coco.AP', target: 'candidate', slices: 'critical', baseline: { target: 'production', plus: -0.02 }, decide_on: 'regression' });
    const asObject = decideGate(g, slices(false));
    const asJson = decideGate(g, slices(true));
    expect(asObject.failingSlices).toEqual(['night']);
    expect(asJson.failingSlices).toEqual(['night']);
    expect(asJson.rationale).toEqual(asObject.rationale);
    expect(asObject.rationale.join('\n')).toMatch(/\[12 scenes with objects \(9 effective\), 80 objects, 1000 replicates; BCa paired scene bootstrap, 1000 replicates, seed 12345\]/);
  });

  it('a statistical rule without the paired metrics is insufficient data, never a pass', () => {
    const noDelta = slices().filter((r) => !(r.slice === 'pedestrian' && r.name.startsWith('coco.AP.delta')));
    for (const decide_on of ['lower', 'regression'] as const) {
      const d = decideGate(gate({ metric: 'coco.AP', target: 'candidate', slice: 'pedestrian', baseline: { target: 'production', plus: -0.02 }, decide_on }), noDelta);
      expect(d.verdict, d.rationale.join('\n')).toBe('review');
      expect(d.rationale.join('\n')).toMatch(/insufficient data/);
    }
  });
});

/**
 * A critical slice below the step's minimum (the shipped world's night+rain+pedestrian: 4 scenes,
 * one of them with pedestrians, 13 objects): review for every rule, never a pass, with how many
 * scenes to collect; the other critical slice (pedestrian) passes each rule on its own.
 */
describe('insufficient slices', () => {
  const run = (asJson: boolean) => [
    ...pairedSlice('pedestrian', { critical: true, ap: 0.33, baseAp: 0.3, delta: 0.03, lo: 0.01, hi: 0.05, lower: 0.012, upper: 0.048, p: 0.999, adjusted: 0.999, adjustment: 'holm', family: 1, asJson }),
    ...insufficientSlice('night+rain+pedestrian', asJson),
  ];
  const rules: [string, Record<string, unknown>][] = [
    ['point against a threshold', { threshold: 0 }],
    ['point against the baseline (0.0566 >= 0.0475 would pass)', { baseline: { target: 'production' } }],
    ['paired lower bound', { baseline: { target: 'production', plus: -0.01 }, decide_on: 'lower' }],
    ['regression', { baseline: { target: 'production', plus: -0.02 }, decide_on: 'regression' }],
  ];
  it.each(rules)('%s on every critical slice goes to review', (_name, rule) => {
    for (const asJson of [false, true]) {
      const metrics = run(asJson);
      // Alone, the large slice passes this rule.
      expect(decideGate(gate({ metric: 'coco.AP', target: 'candidate', slice: 'pedestrian', ...rule }), metrics).verdict).toBe('pass');
      const d = decideGate(gate({ metric: 'coco.AP', target: 'candidate', slices: 'critical', ...rule }), metrics);
      const text = d.rationale.join('\n');
      expect(d.verdict, text).toBe('review');
      expect(d.needsPerson).toBe(true);
      expect(d.insufficientSlices).toEqual(['night+rain+pedestrian']);
      expect(d.failingSlices).toEqual([]);
      expect(text).toMatch(/slice night\+rain\+pedestrian\) = 0.0566: insufficient data \(1 scene with objects \(1 effective\), 13 objects; below the evaluate step's minimum\)/);
      expect(d.rationale).toContain('next action: collect at least 9 more scenes with objects of slice night+rain+pedestrian (1 of the 10 its intervals need)');
      expect(d.rationale.at(-1)).toBe('insufficient data: a person must decide');
    }
  });

  it('is review even when the step left passing bounds for it (slice.insufficient wins)', () => {
    const metrics = [
      ...run(false),
      ...pairedSlice('night+rain+pedestrian', { critical: true, ap: 0.0566, baseAp: 0.0475, delta: 0.009, lo: 0.007, hi: 0.012, lower: 0.0075, upper: 0.011, p: 0.999, adjusted: 0.999, adjustment: 'holm', family: 2 }).filter((r) => r.name !== 'slice.insufficient' && r.name !== 'slice.critical'),
    ];
    for (const [, rule] of rules) {
      const d = decideGate(gate({ metric: 'coco.AP', target: 'candidate', slice: 'night+rain+pedestrian', ...rule }), metrics);
      expect(d.verdict, d.rationale.join('\n')).toBe('review');
      expect(d.rationale.join('\n')).toMatch(/next action: collect at least 9 more scenes/);
    }
  });
});
