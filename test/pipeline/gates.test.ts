/**
 * Gate rules on table-driven cases with known answers: absolute thresholds, baselines (plus and
 * times), confidence bounds (non-inferiority), every critical slice, insufficient data.
 */
import { describe, expect, it } from 'vitest';
import { decideGate, type GateMetric } from '../../src/pipeline/gates.js';
import { Gate } from '../../src/schema/recipe.js';

const m = (name: string, value: number, target: string | null, slice: string | null = null, lo?: number, hi?: number): GateMetric => ({ name, value, target, slice, step_id: 'evaluate', ci_lo: lo ?? null, ci_hi: hi ?? null });
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
];
const gate = (g: Record<string, unknown>) => Gate.parse({ id: 'g', stage: 'evaluate', op: '>=', ...g });

describe('gates', () => {
  const table: [string, Record<string, unknown>, 'pass' | 'fail' | 'review', RegExp][] = [
    ['absolute latency', { metric: 'latency.p95_ms', op: '<=', threshold: 12 }, 'pass', /latency.p95_ms = 11.000 meets <= 12.000/],
    ['AP >= baseline + 0.015 (0.5 vs 0.495)', { metric: 'coco.AP', target: 'candidate', baseline: { target: 'production', plus: 0.015 } }, 'pass', /meets >= 0.495 \(production 0.480 \+ 0.0150\)/],
    ['AP >= baseline + 0.03 (0.5 vs 0.51)', { metric: 'coco.AP', target: 'candidate', baseline: { target: 'production', plus: 0.03 } }, 'fail', /does not meet >= 0.510/],
    ['non-inferiority on the lower bound (0.47 vs 0.48 * 0.98 = 0.4704)', { metric: 'coco.AP', target: 'candidate', baseline: { target: 'production', times: 0.98 }, decide_on: 'lower' }, 'fail', /lower 95% bound 0.470 does not meet >= 0.470 \(production 0.480 x 0.98\)/],
    ['non-inferiority passes with a looser factor', { metric: 'coco.AP', target: 'candidate', baseline: { target: 'production', times: 0.95 }, decide_on: 'lower' }, 'pass', /meets/],
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
