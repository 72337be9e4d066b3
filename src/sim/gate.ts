/**
 * The Sim Gate (issue 19 item 6): the recipe's pass criteria per scenario category, judged on
 * the sim step's sim_report.json, to a verdict with a rationale that cites the numbers. Pure:
 * the report's runs in, a decision out; the `sim-gate` step does the I/O. A person's approval is
 * not asked here: the recipe asks it with a gate on the step's `sim_gate.passed` metric
 * (`on_fail: review`, `approval: required`), paddock's one gate mechanism.
 *
 *   criteria:
 *     - { category: "ccr*", max_collisions: 0 }
 *     - { category: "cp*", vru_near_misses: { no_increase_vs: production, confidence: 0.95 } }
 *     - { category: "*", jerk_rms: { max_regression: 0.2 } }
 *
 * A criterion is judged for each category its pattern matches, on the runs of the candidate (or
 * the criterion's `model`). Comparisons against a baseline pair runs by their spec less the model
 * (SimRunRecord.pairKey): the same scenario, parameter set, seed and conditions.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { mcnemarExact, rateWithInterval } from '../metrics/stats.js';
import { pairedComparison } from '../metrics/inference.js';
import { percentile } from '../metrics/percentile.js';
import type { SimReport, SimRunRecord } from '../schema/sim-report.js';

/** "Not more than the baseline": a one-sided paired test over the same run keys, at `confidence`. */
const NoIncrease = z
  .object({
    no_increase_vs: z.string().min(1),
    confidence: z.number().gt(0).lt(1).default(0.95),
  })
  .strict();

/** A comfort figure: an absolute bound on the candidate's mean, and/or a bound on its relative regression against a baseline (0.2: at most 20 % worse). */
const ComfortBound = z
  .object({
    max: z.number().nonnegative().optional(),
    max_regression: z.number().nonnegative().optional(),
    /** The baseline to compare with; default the report's baseline (production). */
    vs: z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => c.max !== undefined || c.max_regression !== undefined, 'give max or max_regression');

export const SimGateCriterion = z
  .object({
    /** A category name or a glob over them (`ccr*`, `cp?c`, `*`). */
    category: z.string().min(1),
    /** Whose runs are judged; default the report's candidate. */
    model: z.string().min(1).optional(),
    max_collisions: z.number().int().min(0).optional(),
    /** Bound on the Wilson upper limit of the collision rate (at the report's level). */
    max_collision_rate: z.number().min(0).max(1).optional(),
    max_collisions_per_1000km: z.number().min(0).optional(),
    /** Collided or not, paired: McNemar's exact test on the discordant pairs. */
    collisions: NoIncrease.optional(),
    max_vru_near_misses: z.number().int().min(0).optional(),
    vru_near_misses: NoIncrease.optional(),
    max_offroad: z.number().int().min(0).optional(),
    /** Runs with a rule violation (speeding, lane departure, stop line). */
    max_rule_violations: z.number().int().min(0).optional(),
    /** Bound on the 5th percentile of the runs' minimum TTC, seconds. */
    min_ttc_p5: z.number().min(0).optional(),
    jerk_rms: ComfortBound.optional(),
    jerk_peak: ComfortBound.optional(),
    accel_rms: ComfortBound.optional(),
    decel_peak: ComfortBound.optional(),
  })
  .strict();
export type SimGateCriterion = z.infer<typeof SimGateCriterion>;

export const SimGateCriteria = z
  .object({
    criteria: z.array(SimGateCriterion).min(1),
  })
  .strict();
export type SimGateCriteria = z.infer<typeof SimGateCriteria>;

/** One judged check: the criterion's pattern, the category it was judged on, what, and the line that says why. */
export interface SimGateCheck {
  pattern: string;
  category: string;
  check: string;
  status: 'pass' | 'fail' | 'review';
  line: string;
}

export interface SimGateDecision {
  verdict: 'pass' | 'fail' | 'review';
  rationale: string[];
  checks: SimGateCheck[];
  /** sha256 of the verdict and the checks' lines: what exactly was decided on. */
  subjectDigest: string;
}

/** `ccr*` -> /^ccr.*$/ (glob: `*` any run, `?` one character). */
export function categoryMatches(pattern: string, category: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(category);
}

/** A number with at most `d` decimals, trailing zeros dropped: 1.3, 0.278, 2. */
const f = (x: number, d = 3) => String(Number(x.toFixed(d)));
const fp = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const COMFORT: { key: 'jerk_rms' | 'jerk_peak' | 'accel_rms' | 'decel_peak'; field: 'rmsJerk' | 'peakJerk' | 'rmsAccel' | 'peakDecel'; label: string; unit: string }[] = [
  { key: 'jerk_rms', field: 'rmsJerk', label: 'RMS jerk', unit: 'm/s^3' },
  { key: 'jerk_peak', field: 'peakJerk', label: 'peak jerk', unit: 'm/s^3' },
  { key: 'accel_rms', field: 'rmsAccel', label: 'RMS acceleration', unit: 'm/s^2' },
  { key: 'decel_peak', field: 'peakDecel', label: 'peak deceleration', unit: 'm/s^2' },
];

/** The pairs (model's run, baseline's run) over the same keys, in the model's run order. */
function pairsOf(runs: readonly SimRunRecord[], base: readonly SimRunRecord[]): [SimRunRecord, SimRunRecord][] {
  const byKey = new Map(base.map((r) => [r.pairKey, r]));
  return runs.flatMap((r) => {
    const b = byKey.get(r.pairKey);
    return b ? [[r, b] as [SimRunRecord, SimRunRecord]] : [];
  });
}

/** Judges the criteria on the report's runs. */
export function decideSimGate(criteria: SimGateCriteria, report: Pick<SimReport, 'candidate' | 'baseline' | 'level' | 'runs'>): SimGateDecision {
  const checks: SimGateCheck[] = [];
  const categories = [...new Set(report.runs.map((r) => r.category))].sort();
  for (const c of criteria.criteria) {
    const model = c.model ?? report.candidate;
    const matched = categories.filter((k) => categoryMatches(c.category, k));
    const add = (category: string, check: string, status: SimGateCheck['status'], line: string) => checks.push({ pattern: c.category, category, check, status, line: `${category} (${model}): ${line}` });
    if (!matched.length) {
      checks.push({ pattern: c.category, category: c.category, check: 'runs', status: 'review', line: `${c.category}: no runs of a matching category in the report (categories: ${categories.join(', ') || 'none'}): insufficient data` });
      continue;
    }
    for (const category of matched) {
      const runs = report.runs.filter((r) => r.category === category && r.model === model);
      if (!runs.length) {
        add(category, 'runs', 'review', `no runs of this model (insufficient data)`);
        continue;
      }
      const n = runs.length;
      const collided = runs.filter((r) => r.collision).length;
      const bound = (name: string, value: number, max: number, what: string) => add(category, name, value <= max ? 'pass' : 'fail', `${what} ${f(value)} ${value <= max ? '<=' : '>'} ${f(max)} over ${n} runs: ${value <= max ? 'pass' : 'fail'}`);
      if (c.max_collisions !== undefined) bound('max_collisions', collided, c.max_collisions, 'collisions');
      if (c.max_collision_rate !== undefined) {
        const r = rateWithInterval(collided, n, report.level);
        const ok = r.hi <= c.max_collision_rate;
        add(category, 'max_collision_rate', ok ? 'pass' : 'fail', `collision rate ${f(r.rate)} (${collided}/${n}), ${f(report.level * 100, 0)}% Wilson upper bound ${f(r.hi)} ${ok ? '<=' : '>'} ${f(c.max_collision_rate)}: ${ok ? 'pass' : 'fail'}`);
      }
      if (c.max_collisions_per_1000km !== undefined) {
        const km = runs.reduce((s, r) => s + r.distanceKm, 0);
        if (km <= 0) add(category, 'max_collisions_per_1000km', 'review', `no distance driven: collisions per 1000 km undefined (insufficient data)`);
        else {
          const v = (1000 * collided) / km;
          const ok = v <= c.max_collisions_per_1000km;
          add(category, 'max_collisions_per_1000km', ok ? 'pass' : 'fail', `${f(v, 1)} collisions per 1000 km (${collided} in ${f(km, 3)} km) ${ok ? '<=' : '>'} ${f(c.max_collisions_per_1000km)}: ${ok ? 'pass' : 'fail'}`);
        }
      }
      if (c.max_vru_near_misses !== undefined) bound('max_vru_near_misses', runs.reduce((s, r) => s + r.vruNearMisses, 0), c.max_vru_near_misses, 'VRU near misses');
      if (c.max_offroad !== undefined) bound('max_offroad', runs.reduce((s, r) => s + r.offroadIncidents, 0), c.max_offroad, 'off-road incidents');
      if (c.max_rule_violations !== undefined) bound('max_rule_violations', runs.filter((r) => r.speedingS > 0 || r.laneDepartures > 0 || r.stopLines > 0).length, c.max_rule_violations, 'runs with a rule violation');
      if (c.min_ttc_p5 !== undefined) {
        const ttc = runs.flatMap((r) => (r.ttcMin === null ? [] : [r.ttcMin]));
        if (!ttc.length) add(category, 'min_ttc_p5', 'pass', `no run was ever closing on an actor (TTC undefined in all ${n}): pass`);
        else {
          const p5 = percentile(ttc, 0.05);
          const ok = p5 >= c.min_ttc_p5;
          add(category, 'min_ttc_p5', ok ? 'pass' : 'fail', `TTC min p5 ${f(p5, 2)} s over ${ttc.length} runs ${ok ? '>=' : '<'} ${f(c.min_ttc_p5)} s: ${ok ? 'pass' : 'fail'}`);
        }
      }
      const baseRuns = (name: string) => report.runs.filter((r) => r.category === category && r.model === name);
      if (c.collisions) {
        const pairs = pairsOf(runs, baseRuns(c.collisions.no_increase_vs));
        if (!pairs.length) add(category, 'collisions', 'review', `no runs paired with ${c.collisions.no_increase_vs} (insufficient data)`);
        else {
          const b = pairs.filter(([x, y]) => x.collision && !y.collision).length;
          const cc = pairs.filter(([x, y]) => !x.collision && y.collision).length;
          const pOne = mcnemarExact(b, cc, 'greater').p;
          const alpha = 1 - c.collisions.confidence;
          const status = b <= cc ? 'pass' : pOne < alpha ? 'fail' : 'review';
          add(category, 'collisions', status, `collided where ${c.collisions.no_increase_vs} did not in ${b} of ${pairs.length} paired runs, the reverse in ${cc}; McNemar exact one-sided p ${fp(pOne)} ${status === 'fail' ? '<' : '>='} ${fp(alpha)}${status === 'review' ? ': more collisions, not significant at this confidence: a person decides' : ''}: ${status}`);
        }
      }
      if (c.vru_near_misses) {
        const vs = c.vru_near_misses.no_increase_vs;
        const pairs = pairsOf(runs, baseRuns(vs));
        if (!pairs.length) add(category, 'vru_near_misses', 'review', `no runs paired with ${vs} (insufficient data)`);
        else {
          const cmp = pairedComparison(pairs.map(([x]) => x.vruNearMisses), pairs.map(([, y]) => y.vruNearMisses), { level: c.vru_near_misses.confidence, alternative: 'greater' });
          const alpha = 1 - c.vru_near_misses.confidence;
          const status = cmp.meanDelta <= 0 ? 'pass' : cmp.p < alpha ? 'fail' : 'review';
          add(category, 'vru_near_misses', status, `VRU near misses ${pairs.reduce((s, [x]) => s + x.vruNearMisses, 0)} vs ${vs} ${pairs.reduce((s, [, y]) => s + y.vruNearMisses, 0)} over ${pairs.length} paired runs, mean delta ${f(cmp.meanDelta)} per run [${f(cmp.ci[0])}, ${f(cmp.ci[1])}], one-sided p ${fp(cmp.p)} ${cmp.p < alpha ? '<' : '>='} ${fp(alpha)}${status === 'review' ? ': an increase, not significant at this confidence: a person decides' : ''}: ${status}`);
        }
      }
      for (const m of COMFORT) {
        const cb = c[m.key];
        if (!cb) continue;
        const values = runs.map((r) => r[m.field]);
        if (cb.max !== undefined) {
          const v = mean(values);
          const ok = v <= cb.max;
          add(category, `${m.key}.max`, ok ? 'pass' : 'fail', `mean ${m.label} ${f(v, 2)} ${m.unit} over ${n} runs ${ok ? '<=' : '>'} ${f(cb.max)}: ${ok ? 'pass' : 'fail'}`);
        }
        if (cb.max_regression !== undefined) {
          const vs = cb.vs ?? report.baseline;
          if (!vs) {
            add(category, `${m.key}.max_regression`, 'review', `${m.label}: no baseline in the report to compare with (insufficient data)`);
            continue;
          }
          const pairs = pairsOf(runs, baseRuns(vs));
          if (!pairs.length) {
            add(category, `${m.key}.max_regression`, 'review', `${m.label}: no runs paired with ${vs} (insufficient data)`);
            continue;
          }
          const cand = pairs.map(([x]) => x[m.field]);
          const base = pairs.map(([, y]) => y[m.field]);
          const cmp = pairedComparison(cand, base, { level: report.level, alternative: 'two-sided' });
          const baseMean = mean(base);
          if (baseMean <= 0) {
            const status = cmp.meanDelta > 0 ? 'review' : 'pass';
            add(category, `${m.key}.max_regression`, status, `${m.label}: ${vs}'s mean is 0, so a relative regression is undefined; mean delta ${f(cmp.meanDelta, 2)} ${m.unit}: ${status}`);
            continue;
          }
          const rel = cmp.meanDelta / baseMean;
          const ok = rel <= cb.max_regression;
          add(category, `${m.key}.max_regression`, ok ? 'pass' : 'fail', `${m.label} ${f(mean(cand), 2)} vs ${vs} ${f(baseMean, 2)} ${m.unit} over ${pairs.length} paired runs: ${rel >= 0 ? '+' : ''}${f(rel * 100, 1)}% (delta ${f(cmp.meanDelta, 2)} [${f(cmp.ci[0], 2)}, ${f(cmp.ci[1], 2)}], p ${fp(cmp.p)}) ${ok ? '<=' : '>'} +${f(cb.max_regression * 100, 1)}%: ${ok ? 'pass' : 'fail'}`);
        }
      }
    }
  }
  const verdict = checks.some((c) => c.status === 'fail') ? 'fail' : checks.some((c) => c.status === 'review') ? 'review' : 'pass';
  const failed = checks.filter((c) => c.status === 'fail');
  const review = checks.filter((c) => c.status === 'review');
  const head =
    verdict === 'fail'
      ? `sim gate fails: ${failed.length} of ${checks.length} checks failed (${[...new Set(failed.map((c) => `${c.category} ${c.check}`))].join(', ')})`
      : verdict === 'review'
        ? `sim gate needs review: ${review.length} of ${checks.length} checks could not be decided (${[...new Set(review.map((c) => `${c.category} ${c.check}`))].join(', ')})`
        : `sim gate passes: all ${checks.length} checks passed`;
  // The failing and undecided lines first: the rationale's first line is what a failed step prints.
  const ordered = [...failed, ...review, ...checks.filter((c) => c.status === 'pass')];
  const rationale = [head, ...ordered.map((c) => c.line)];
  const subjectDigest = createHash('sha256').update(JSON.stringify({ verdict, lines: checks.map((c) => c.line) })).digest('hex');
  return { verdict, rationale, checks, subjectDigest };
}
