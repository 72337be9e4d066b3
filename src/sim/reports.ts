/**
 * The sim step's outputs as pure functions (issue 19 items 4 and 8): a run's figures as a report
 * row (its violation types and severity), aggregates per scenario, category and overall with
 * intervals over seeds, candidate-vs-production paired deltas on the same run keys, the rows as
 * sim_summary.parquet, per-scenario JSON and CSV, the violation heat map (SimHeatmap, SVG, PNG),
 * which offline slices describe the failed runs, and the "Simulation" section of
 * evaluation_summary.md.
 */
import { createHash } from 'node:crypto';
import { collisionsPer1000Km, ttcBetween } from '../metrics/safety.js';
import { meanWithInterval, mcnemarExact, rateWithInterval } from '../metrics/stats.js';
import { pairedComparison } from '../metrics/inference.js';
import { percentile } from '../metrics/percentile.js';
import type { EvalReport } from '../schema/eval-report.js';
import type { SimAggregate, SimHeatmap, SimPaired, SimReport, SimRunRecord } from '../schema/sim-report.js';
import type { RunMetrics, SimRunSpec, SimRunTrace } from '../schema/sim-types.js';

/** The violation types, in the heat map's and the triage list's order (collision first). */
export const VIOLATION_TYPES = ['collision', 'vru-near-miss', 'offroad', 'speeding', 'lane-departure', 'stop-line'] as const;

/** A run's violation types (empty: it passed). */
export function violationTypes(m: RunMetrics): string[] {
  const t: string[] = [];
  if (m.collision) t.push('collision');
  if (m.vruNearMisses > 0) t.push('vru-near-miss');
  if (m.offroadIncidents > 0) t.push('offroad');
  if (m.violations.speedingS > 0) t.push('speeding');
  if (m.violations.laneDepartures > 0) t.push('lane-departure');
  if (m.violations.stopLines > 0) t.push('stop-line');
  return t;
}

/**
 * How bad a run was, to order the triage list: a collision 100 plus its impact speed in km/h
 * (and 50 more when it hit a pedestrian or cyclist), a VRU near miss 40, off-road 30, a stop line
 * 20, a lane departure 10, speeding 1 per second.
 */
export function severityOf(m: RunMetrics): number {
  let s = 0;
  if (m.collision) s += 100 + m.collision.relativeSpeed * 3.6 + (m.collision.actorCls === 'car' ? 0 : 50);
  s += 40 * m.vruNearMisses + 30 * m.offroadIncidents + 20 * m.violations.stopLines + 10 * m.violations.laneDepartures + m.violations.speedingS;
  return Math.round(s * 100) / 100;
}

/** The failure event kind of a run: sim.collision, sim.vru-near-miss, sim.offroad, else sim.violation. */
export function failureKind(types: readonly string[]): string {
  const first = types[0];
  return first === 'collision' || first === 'vru-near-miss' || first === 'offroad' ? `sim.${first}` : 'sim.violation';
}

/** The spec less the model: the candidate's and the baseline's runs of one key pair up. */
export function pairKeyOf(spec: Pick<SimRunSpec, 'scenarioFile' | 'parameters' | 'paramIndex' | 'seed' | 'conditions'>): string {
  const c = spec.conditions;
  return createHash('sha256')
    .update(JSON.stringify([spec.scenarioFile, spec.paramIndex, spec.seed, c.weather, c.timeOfDay, c.region, c.density, Object.entries(spec.parameters).sort(([a], [b]) => a.localeCompare(b))]))
    .digest('hex')
    .slice(0, 20);
}

/** The true TTC (boxes, constant velocity) to the nearest closing actor at the step the ego first braked; null without braking or with nothing closing. */
export function firstBrakeTtc(trace: Pick<SimRunTrace, 'steps'>, m: Pick<RunMetrics, 'firstBrake'>): number | null {
  if (!m.firstBrake) return null;
  const t0 = m.firstBrake.t;
  const step = trace.steps.find((s) => Math.abs(s.t - t0) < 1e-6) ?? trace.steps.find((s) => s.t >= t0);
  if (!step) return null;
  let best: number | null = null;
  for (const a of step.actors) {
    const t = ttcBetween(step.ego, a);
    if (t !== null && (best === null || t < best)) best = t;
  }
  return best;
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** A run as the report's row. */
export function runRecord(trace: SimRunTrace, m: RunMetrics, files: { trace?: string; clip?: string } = {}): SimRunRecord {
  const s = trace.spec;
  const types = violationTypes(m);
  const fbTtc = firstBrakeTtc(trace, m);
  return {
    runId: s.runId,
    pairKey: pairKeyOf(s),
    scenario: trace.scenario.name,
    category: trace.scenario.category,
    file: s.scenarioFile,
    paramIndex: s.paramIndex,
    parameters: s.parameters,
    seed: s.seed,
    conditions: { ...s.conditions },
    model: s.model,
    ended: trace.ended,
    steps: trace.steps.length,
    distanceKm: m.distanceKm,
    collision: m.collision ? { t: m.collision.t, actor: m.collision.actor, actorCls: m.collision.actorCls, relativeSpeed: r4(m.collision.relativeSpeed), egoSpeed: r4(m.collision.egoSpeed) } : null,
    offroadIncidents: m.offroadIncidents,
    speedingS: r4(m.violations.speedingS),
    laneDepartures: m.violations.laneDepartures,
    stopLines: m.violations.stopLines,
    ttcMin: m.ttcMin === null ? null : r4(m.ttcMin),
    vruNearMisses: m.vruNearMisses,
    firstBrakeT: m.firstBrake ? r4(m.firstBrake.t) : null,
    firstBrakeDistance: m.firstBrake?.distance === null || !m.firstBrake ? null : r4(m.firstBrake.distance),
    firstBrakeTtc: fbTtc === null ? null : r4(fbTtc),
    peakJerk: r4(m.comfort.peakJerk),
    rmsJerk: r4(m.comfort.rmsJerk),
    peakDecel: r4(m.comfort.peakDecel),
    peakAccel: r4(m.comfort.peakAccel),
    rmsAccel: r4(m.comfort.rmsAccel),
    aeb: m.aeb,
    types,
    severityScore: severityOf(m),
    ...(files.trace ? { trace: files.trace } : {}),
    ...(files.clip ? { clip: files.clip } : {}),
  };
}

const finiteOr = (x: number, d: number) => (Number.isFinite(x) ? x : d);

/** A mean with its t interval, or null with no values; below two values the interval is the point. */
function meanInterval(values: readonly number[], level: number) {
  if (!values.length) return null;
  const m = meanWithInterval(values, level);
  return { estimate: r4(m.mean), lo: r4(finiteOr(m.lo, m.mean)), hi: r4(finiteOr(m.hi, m.mean)), level, n: m.n };
}

/** One model's figures over a group of runs. */
function aggregateOf(scope: SimAggregate['scope'], key: string, model: string, runs: readonly SimRunRecord[], level: number): SimAggregate {
  const n = runs.length;
  const collisions = runs.filter((r) => r.collision).length;
  const rate = rateWithInterval(collisions, n, level);
  const km = runs.reduce((s, r) => s + r.distanceKm, 0);
  const per1000 = collisionsPer1000Km(collisions, km, level);
  const ttc = runs.flatMap((r) => (r.ttcMin === null ? [] : [r.ttcMin]));
  const nn = (f: (r: SimRunRecord) => number | null) => runs.flatMap((r) => {
    const v = f(r);
    return v === null ? [] : [v];
  });
  return {
    scope,
    key,
    model,
    runs: n,
    failed: runs.filter((r) => r.types.length).length,
    collisions,
    collisionRate: { estimate: r4(finiteOr(rate.rate, 0)), lo: r4(rate.lo), hi: r4(rate.hi), level, n },
    km: r4(km),
    collisionsPer1000Km: Number.isFinite(per1000.rate) ? r4(per1000.rate) : null,
    vruNearMisses: runs.reduce((s, r) => s + r.vruNearMisses, 0),
    vruNearMissesPerRun: meanInterval(runs.map((r) => r.vruNearMisses), level),
    offroadIncidents: runs.reduce((s, r) => s + r.offroadIncidents, 0),
    violations: { speedingRuns: runs.filter((r) => r.speedingS > 0).length, laneDepartures: runs.reduce((s, r) => s + r.laneDepartures, 0), stopLines: runs.reduce((s, r) => s + r.stopLines, 0) },
    ttcMinP5: ttc.length ? r4(percentile(ttc, 0.05)) : null,
    firstBrakeT: meanInterval(nn((r) => r.firstBrakeT), level),
    firstBrakeTtc: meanInterval(nn((r) => r.firstBrakeTtc), level),
    rmsJerk: meanInterval(runs.map((r) => r.rmsJerk), level),
    peakJerk: meanInterval(runs.map((r) => r.peakJerk), level),
    rmsAccel: meanInterval(runs.map((r) => r.rmsAccel), level),
    peakDecel: meanInterval(runs.map((r) => r.peakDecel), level),
  };
}

/** The groups the report aggregates over: each scenario, each category, and all runs. */
function groupsOf(runs: readonly SimRunRecord[]): { scope: SimAggregate['scope']; key: string; runs: SimRunRecord[] }[] {
  const by = (f: (r: SimRunRecord) => string) => {
    const m = new Map<string, SimRunRecord[]>();
    for (const r of runs) m.set(f(r), [...(m.get(f(r)) ?? []), r]);
    return [...m].sort(([a], [b]) => a.localeCompare(b));
  };
  return [
    ...by((r) => r.scenario).map(([key, rs]) => ({ scope: 'scenario' as const, key, runs: rs })),
    ...by((r) => r.category).map(([key, rs]) => ({ scope: 'category' as const, key, runs: rs })),
    { scope: 'overall' as const, key: 'all', runs: [...runs] },
  ];
}

/** Per scenario, per category and overall, for each model, with intervals over seeds at `level`. */
export function aggregateRuns(runs: readonly SimRunRecord[], level: number): SimAggregate[] {
  const models = [...new Set(runs.map((r) => r.model))];
  return groupsOf(runs).flatMap((g) => models.flatMap((m) => {
    const rs = g.runs.filter((r) => r.model === m);
    return rs.length ? [aggregateOf(g.scope, g.key, m, rs, level)] : [];
  }));
}

/** The figures compared pair by pair (candidate - baseline; a null on either side leaves the pair out). */
export const PAIRED_METRICS: { metric: string; of: (r: SimRunRecord) => number | null }[] = [
  { metric: 'vru_near_misses', of: (r) => r.vruNearMisses },
  { metric: 'ttc_min', of: (r) => r.ttcMin },
  { metric: 'first_brake_t', of: (r) => r.firstBrakeT },
  { metric: 'first_brake_ttc', of: (r) => r.firstBrakeTtc },
  { metric: 'jerk_rms', of: (r) => r.rmsJerk },
  { metric: 'jerk_peak', of: (r) => r.peakJerk },
  { metric: 'decel_peak', of: (r) => r.peakDecel },
];

/** Candidate against baseline on the same run keys, per scenario, category and overall: McNemar for collisions, paired mean deltas for the rest. */
export function pairedDeltas(runs: readonly SimRunRecord[], candidate: string, baseline: string, level: number): SimPaired[] {
  const out: SimPaired[] = [];
  for (const g of groupsOf(runs)) {
    const base = new Map(g.runs.filter((r) => r.model === baseline).map((r) => [r.pairKey, r]));
    const pairs = g.runs.filter((r) => r.model === candidate).flatMap((r) => (base.has(r.pairKey) ? [[r, base.get(r.pairKey)!] as const] : []));
    if (!pairs.length) continue;
    const b = pairs.filter(([x, y]) => x.collision && !y.collision).length;
    const c = pairs.filter(([x, y]) => !x.collision && y.collision).length;
    const mc = mcnemarExact(b, c);
    const delta = pairs.reduce((s, [x, y]) => s + (x.collision ? 1 : 0) - (y.collision ? 1 : 0), 0) / pairs.length;
    out.push({ scope: g.scope, key: g.key, metric: 'collision', candidate, baseline, n: pairs.length, meanDelta: r4(delta), lo: null, hi: null, p: r4(mc.p), discordant: { b, c } });
    for (const pm of PAIRED_METRICS) {
      const both = pairs.flatMap(([x, y]) => {
        const u = pm.of(x);
        const v = pm.of(y);
        return u === null || v === null ? [] : [[u, v] as const];
      });
      if (!both.length) {
        out.push({ scope: g.scope, key: g.key, metric: pm.metric, candidate, baseline, n: 0, meanDelta: null, lo: null, hi: null, p: null });
        continue;
      }
      const cmp = pairedComparison(both.map(([u]) => u), both.map(([, v]) => v), { level });
      const fin = (x: number) => (Number.isFinite(x) ? r4(x) : null);
      out.push({ scope: g.scope, key: g.key, metric: pm.metric, candidate, baseline, n: cmp.n, meanDelta: fin(cmp.meanDelta), lo: fin(cmp.ci[0]), hi: fin(cmp.ci[1]), p: fin(cmp.p) });
    }
  }
  return out;
}

// ---- sim_summary.parquet and per-scenario files ------------------------------------------

type ColumnType = 'STRING' | 'INT32' | 'DOUBLE' | 'BOOLEAN';

/** sim_summary.parquet's columns: one row per run, nested fields flattened. */
export const SUMMARY_COLUMNS: { name: string; type: ColumnType; of: (r: SimRunRecord) => string | number | boolean | null }[] = [
  { name: 'run_id', type: 'STRING', of: (r) => r.runId },
  { name: 'pair_key', type: 'STRING', of: (r) => r.pairKey },
  { name: 'scenario', type: 'STRING', of: (r) => r.scenario },
  { name: 'category', type: 'STRING', of: (r) => r.category },
  { name: 'param_index', type: 'INT32', of: (r) => r.paramIndex },
  { name: 'parameters', type: 'STRING', of: (r) => JSON.stringify(r.parameters) },
  { name: 'seed', type: 'INT32', of: (r) => r.seed },
  { name: 'weather', type: 'STRING', of: (r) => r.conditions.weather },
  { name: 'time_of_day', type: 'STRING', of: (r) => r.conditions.timeOfDay },
  { name: 'region', type: 'STRING', of: (r) => r.conditions.region },
  { name: 'density', type: 'DOUBLE', of: (r) => r.conditions.density },
  { name: 'model', type: 'STRING', of: (r) => r.model },
  { name: 'ended', type: 'STRING', of: (r) => r.ended },
  { name: 'steps', type: 'INT32', of: (r) => r.steps },
  { name: 'distance_km', type: 'DOUBLE', of: (r) => r.distanceKm },
  { name: 'collision', type: 'BOOLEAN', of: (r) => r.collision !== null },
  { name: 'collision_actor', type: 'STRING', of: (r) => r.collision?.actor ?? null },
  { name: 'collision_actor_class', type: 'STRING', of: (r) => r.collision?.actorCls ?? null },
  { name: 'impact_speed_mps', type: 'DOUBLE', of: (r) => r.collision?.relativeSpeed ?? null },
  { name: 'offroad_incidents', type: 'INT32', of: (r) => r.offroadIncidents },
  { name: 'speeding_s', type: 'DOUBLE', of: (r) => r.speedingS },
  { name: 'lane_departures', type: 'INT32', of: (r) => r.laneDepartures },
  { name: 'stop_lines', type: 'INT32', of: (r) => r.stopLines },
  { name: 'ttc_min_s', type: 'DOUBLE', of: (r) => r.ttcMin },
  { name: 'vru_near_misses', type: 'INT32', of: (r) => r.vruNearMisses },
  { name: 'first_brake_t', type: 'DOUBLE', of: (r) => r.firstBrakeT },
  { name: 'first_brake_distance_m', type: 'DOUBLE', of: (r) => r.firstBrakeDistance },
  { name: 'first_brake_ttc_s', type: 'DOUBLE', of: (r) => r.firstBrakeTtc },
  { name: 'peak_jerk', type: 'DOUBLE', of: (r) => r.peakJerk },
  { name: 'rms_jerk', type: 'DOUBLE', of: (r) => r.rmsJerk },
  { name: 'peak_decel', type: 'DOUBLE', of: (r) => r.peakDecel },
  { name: 'peak_accel', type: 'DOUBLE', of: (r) => r.peakAccel },
  { name: 'rms_accel', type: 'DOUBLE', of: (r) => r.rmsAccel },
  { name: 'aeb', type: 'STRING', of: (r) => r.aeb },
  { name: 'failed', type: 'BOOLEAN', of: (r) => r.types.length > 0 },
  { name: 'types', type: 'STRING', of: (r) => r.types.join(',') },
  { name: 'severity', type: 'DOUBLE', of: (r) => r.severityScore },
];

/** sim_summary.parquet as bytes (hyparquet-writer, as src/replay/reports.ts writes its tables; nulls where a figure is undefined). */
export async function simSummaryParquet(runs: readonly SimRunRecord[]): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const columnData = SUMMARY_COLUMNS.map((c) => ({ name: c.name, type: c.type, data: runs.map((r) => c.of(r)) }));
  return new Uint8Array(parquetWriteBuffer({ columnData: columnData as never }));
}

const csvCell = (v: string | number | boolean | null) => {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** A scenario's runs as CSV (RFC 4180), the parquet's columns. */
export function scenarioCsv(runs: readonly SimRunRecord[]): string {
  return [SUMMARY_COLUMNS.map((c) => c.name).join(','), ...runs.map((r) => SUMMARY_COLUMNS.map((c) => csvCell(c.of(r))).join(','))].join('\r\n') + '\r\n';
}

/** A scenario's document: its runs, its aggregates and its paired deltas. */
export function scenarioJson(scenario: string, report: Pick<SimReport, 'candidate' | 'baseline' | 'runs' | 'aggregates' | 'paired'>): unknown {
  const runs = report.runs.filter((r) => r.scenario === scenario);
  return {
    scenario,
    category: runs[0]?.category ?? null,
    file: runs[0]?.file ?? null,
    candidate: report.candidate,
    baseline: report.baseline,
    aggregates: report.aggregates.filter((a) => a.scope === 'scenario' && a.key === scenario),
    paired: report.paired.filter((p) => p.scope === 'scenario' && p.key === scenario),
    runs,
  };
}

/** A file name for a scenario: its name with anything but letters, digits, . _ - as _. */
export const scenarioFileName = (scenario: string) => scenario.replace(/[^A-Za-z0-9._-]/g, '_') || 'scenario';

// ---- the heat map -------------------------------------------------------------------------

/** "v=30 gap=12": the parameter set's values, short names first (numbers to 3 significant digits). */
export function columnLabel(parameters: Record<string, string | number | boolean>): string {
  const parts = Object.entries(parameters).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(3)) : v}`);
  return parts.length ? parts.join(' ') : 'default';
}

/** Violation types x scenario x parameter set, per model: the heat map the workbench and the SVG draw. */
export function buildHeatmap(runs: readonly SimRunRecord[]): SimHeatmap {
  const models = [...new Set(runs.map((r) => r.model))];
  const scenarios = [...new Set(runs.map((r) => r.scenario))].sort();
  return {
    format: 'paddock.sim-heatmap/1',
    types: [...VIOLATION_TYPES],
    models,
    scenarios: scenarios.map((scenario) => {
      const rs = runs.filter((r) => r.scenario === scenario);
      const indices = [...new Set(rs.map((r) => r.paramIndex))].sort((a, b) => a - b);
      return {
        scenario,
        category: rs[0].category,
        file: rs[0].file,
        columns: indices.map((i) => {
          const parameters = rs.find((r) => r.paramIndex === i)!.parameters;
          return { paramIndex: i, label: columnLabel(parameters), parameters };
        }),
        cells: indices.flatMap((paramIndex) => models.flatMap((model) => {
          const cell = rs.filter((r) => r.paramIndex === paramIndex && r.model === model);
          if (!cell.length) return [];
          const byType: Record<string, number> = {};
          for (const t of VIOLATION_TYPES) {
            const k = cell.filter((r) => r.types.includes(t)).length;
            if (k) byType[t] = k;
          }
          return [{ paramIndex, model, runs: cell.length, failed: cell.filter((r) => r.types.length).length, byType }];
        })),
      };
    }),
  };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** White (no failed run) to red (every run failed), by the cell's failed fraction. */
function heat(frac: number): string {
  const c = (a: number, b: number) => Math.round(a + (b - a) * frac);
  return `rgb(${c(247, 204)},${c(247, 30)},${c(247, 30)})`;
}

/**
 * The heat map as SVG: one block per scenario, a row per violation type and model, a column per
 * parameter set; each cell the share of the runs with that violation, and its count.
 */
export function heatmapSvg(h: SimHeatmap): string {
  const cellW = 64;
  const cellH = 18;
  const left = 190;
  let y = 34;
  const parts: string[] = [];
  const widest = Math.max(1, ...h.scenarios.map((s) => s.columns.length));
  const W = left + widest * cellW + 20;
  for (const s of h.scenarios) {
    parts.push(`<text x="10" y="${y + 12}" font-size="13" font-weight="bold">${esc(s.scenario)} (${esc(s.category)})</text>`);
    y += 20;
    s.columns.forEach((c, i) => parts.push(`<text x="${left + i * cellW + cellW / 2}" y="${y + 10}" text-anchor="middle" font-size="9">${esc(c.label.length > 14 ? `#${c.paramIndex}` : c.label)}<title>${esc(`#${c.paramIndex}: ${c.label}`)}</title></text>`));
    y += 16;
    for (const model of h.models) {
      for (const t of h.types) {
        parts.push(`<text x="${left - 6}" y="${y + 13}" text-anchor="end">${esc(`${model} ${t}`)}</text>`);
        s.columns.forEach((c, i) => {
          const cell = s.cells.find((x) => x.paramIndex === c.paramIndex && x.model === model);
          const k = cell?.byType[t] ?? 0;
          const n = cell?.runs ?? 0;
          const x = left + i * cellW;
          parts.push(`<rect x="${x}" y="${y}" width="${cellW - 2}" height="${cellH - 2}" fill="${n ? heat(k / n) : '#ddd'}" stroke="#999" stroke-width="0.5"><title>${esc(`${s.scenario} #${c.paramIndex} ${model} ${t}: ${k}/${n} runs`)}</title></rect>`);
          if (n) parts.push(`<text x="${x + (cellW - 2) / 2}" y="${y + 12}" text-anchor="middle" font-size="10" fill="${k / n > 0.5 ? '#fff' : '#000'}">${k}/${n}</text>`);
        });
        y += cellH;
      }
    }
    y += 12;
  }
  if (!h.scenarios.length) {
    parts.push(`<text x="10" y="${y + 12}">no runs</text>`);
    y += 20;
  }
  const H = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14">Violations per scenario and parameter set (runs with the violation / runs)</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** The heat map's SVG rasterised to PNG (sharp's librsvg). */
export async function heatmapPng(svg: string): Promise<Uint8Array> {
  const sharp = (await import('sharp')).default;
  return new Uint8Array(await sharp(Buffer.from(svg)).png().toBuffer());
}

// ---- offline slices against sim failures --------------------------------------------------

/**
 * The evaluate stage's slice-name tokens that describe a run: its weather, time of day,
 * region-<r>, the road type, the class of the actor it hit or came near, and the evaluate
 * stage's groups (adverse-weather, vulnerable-road-users). A slice "night+pedestrian" describes
 * the run when each of its parts is one of these.
 */
export function conditionTokens(r: Pick<SimRunRecord, 'conditions' | 'collision' | 'types' | 'category'>, roadType?: string, actorCls?: string): string[] {
  const t = new Set<string>(['all', r.conditions.weather, r.conditions.timeOfDay, `region-${r.conditions.region}`]);
  if (roadType) t.add(roadType);
  if (r.conditions.weather !== 'clear') t.add('adverse-weather');
  const cls = r.collision?.actorCls ?? actorCls;
  if (cls) {
    t.add(cls);
    if (cls === 'pedestrian' || cls === 'cyclist') t.add('vulnerable-road-users');
  }
  return [...t];
}

/** For each failed run, the evaluation's slices describing it, worst candidate AP delta first (then the most specific); and the slices ranked by how many failures they describe. */
export function offlineLinks(failed: readonly { run: SimRunRecord; tokens: string[] }[], e: EvalReport, evalFile: string): NonNullable<SimReport['offline']> {
  const slices = e.slices.filter((s) => s.ap);
  const describes = (slice: string, tokens: readonly string[]) => slice.split('+').every((p) => tokens.includes(p));
  const links = failed.map(({ run, tokens }) => {
    const hits = slices
      .filter((s) => describes(s.slice, tokens))
      .map((s) => ({ slice: s.slice, ap: r4(s.ap!.estimate), delta: s.delta ? r4(s.delta.estimate) : null, pAdjusted: s.delta ? r4(s.delta.pAdjusted) : null, critical: s.critical }))
      .sort((a, b) => (a.delta ?? Infinity) - (b.delta ?? Infinity) || b.slice.split('+').length - a.slice.split('+').length || a.slice.localeCompare(b.slice));
    return { runId: run.runId, scenario: run.scenario, tokens, slices: hits };
  });
  const count = new Map<string, number>();
  for (const l of links) for (const s of l.slices) count.set(s.slice, (count.get(s.slice) ?? 0) + 1);
  const ranking = slices
    .filter((s) => count.has(s.slice) && s.slice !== 'all')
    .map((s) => ({ slice: s.slice, failures: count.get(s.slice)!, delta: s.delta ? r4(s.delta.estimate) : null, ap: r4(s.ap!.estimate) }))
    .sort((a, b) => (a.delta ?? Infinity) - (b.delta ?? Infinity) || b.failures - a.failures || a.slice.localeCompare(b.slice));
  return { evalReport: evalFile, links, ranking };
}

const f2 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(2));
const f3 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));
const signed = (x: number | null) => (x === null ? 'n/a' : x >= 0 ? `+${x.toFixed(3)}` : x.toFixed(3));

/** The heading the section starts with: appending again replaces an earlier section, never doubles it. */
export const SIM_SECTION_HEADING = '## Simulation';

/** The "Simulation" section of evaluation_summary.md: per category, the paired comparison, the failures, and which offline slices predicted them. */
export function simSectionMarkdown(r: SimReport): string {
  const lines = [SIM_SECTION_HEADING, ''];
  const cand = r.candidate;
  const models = [cand, ...(r.baseline ? [r.baseline] : [])];
  lines.push(`Closed loop: ${r.sweep.runs} runs over ${r.sweep.scenarios} scenarios and ${r.sweep.seeds} seeds; intervals at ${Math.round(r.level * 100)}% over seeds.`, '');
  lines.push('| category | model | runs | collisions (rate, CI) | per 1000 km | VRU near misses | TTC min p5 (s) | first brake TTC (s) | RMS jerk |', '|---|---|---|---|---|---|---|---|---|');
  for (const a of r.aggregates.filter((x) => x.scope === 'category' || x.scope === 'overall')) {
    if (!models.includes(a.model)) continue;
    lines.push(`| ${a.scope === 'overall' ? '**all**' : a.key} | ${a.model} | ${a.runs} | ${a.collisions} (${f3(a.collisionRate.estimate)} [${f3(a.collisionRate.lo)}, ${f3(a.collisionRate.hi)}]) | ${f2(a.collisionsPer1000Km)} | ${a.vruNearMisses} | ${f2(a.ttcMinP5)} | ${f2(a.firstBrakeTtc?.estimate)} | ${f2(a.rmsJerk?.estimate)} |`);
  }
  lines.push('');
  if (r.baseline) {
    const paired = r.paired.filter((p) => p.scope !== 'scenario' && (p.metric === 'collision' || p.metric === 'vru_near_misses' || p.metric === 'first_brake_ttc' || p.metric === 'jerk_rms') && p.n > 0);
    if (paired.length) {
      lines.push(`Paired against ${r.baseline} on the same runs (${cand} - ${r.baseline}):`, '');
      for (const p of paired) lines.push(`- ${p.key} ${p.metric}: ${p.metric === 'collision' ? `${p.discordant!.b} runs collided only with ${cand}, ${p.discordant!.c} only with ${r.baseline} (McNemar exact p ${f3(p.p)})` : `mean delta ${signed(p.meanDelta)} [${signed(p.lo)}, ${signed(p.hi)}], p ${f3(p.p)}`} over ${p.n} pairs`);
      lines.push('');
    }
  }
  const failed = r.runs.filter((x) => x.types.length && x.model === cand).sort((a, b) => b.severityScore - a.severityScore);
  lines.push(`### Failures of ${cand}`, '');
  if (!failed.length) lines.push(`- no run of ${cand} failed`);
  for (const x of failed.slice(0, 10)) lines.push(`- ${x.scenario} #${x.paramIndex} seed ${x.seed} (${x.conditions.weather}, ${x.conditions.timeOfDay}, ${x.conditions.region}): ${x.types.join(', ')}${x.collision ? ` — hit ${x.collision.actorCls} ${x.collision.actor} at ${(x.collision.relativeSpeed * 3.6).toFixed(1)} km/h` : ''}${x.clip ? ` ([clip](${x.clip}))` : ''}`);
  if (failed.length > 10) lines.push(`- and ${failed.length - 10} more (sim_report.json)`);
  lines.push('');
  lines.push('### Which offline slice numbers predicted the sim failures', '');
  if (!r.offline) lines.push('- no evaluation report was given to the sim step (`evaluate:`), so no offline slice can be related');
  else if (!r.offline.ranking.length) lines.push(failed.length ? '- no slice of the evaluation describes the failed runs\' conditions' : '- no failure to relate');
  else {
    lines.push(`Slices of ${r.offline.evalReport} that describe the failed runs' conditions (weather, time of day, region, the class of the actor hit), worst AP delta against the baseline first:`, '');
    for (const s of r.offline.ranking.slice(0, 10)) lines.push(`- **${s.slice}**: AP ${f3(s.ap)}, delta ${signed(s.delta)}; describes ${s.failures} failed run${s.failures === 1 ? '' : 's'}`);
  }
  lines.push('');
  return lines.join('\n');
}

/** evaluation_summary.md with the Simulation section appended, or put in place of an earlier one (the evaluation's own sections stay as written). */
export function withSimSection(summary: string, section: string): string {
  const at = summary.indexOf(`\n${SIM_SECTION_HEADING}\n`);
  const head = at >= 0 ? summary.slice(0, at + 1) : summary.endsWith('\n') ? summary : `${summary}\n`;
  return `${head}${at >= 0 ? '' : '\n'}${section}`;
}
