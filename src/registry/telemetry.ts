/**
 * Telemetry replay: a deterministic stream of per-request samples for the candidate (canary) and
 * production (baseline), drawn from what the package, evaluate and replay stages measured, with
 * regressions injected where a test or a demo wants one. src/registry/canary.ts runs the rollout
 * analysis over it at accelerated time.
 *
 * The stream is request by request, minute by minute: `perMinute` requests a minute, evenly spaced
 * (request j of minute m at 60 m + (j + 0.5) 60 / perMinute seconds), each with
 *   - `split`, a uniform in [0, 1) that routes it: to the canary when split < weight / 100, to the
 *     mirror when split < mirror_percent / 100, to an A/B cohort by range (src/registry/canary.ts);
 *   - both arms' outcome on it (latency, error, false emergency brake, perception-planning
 *     disagreement, and any extra series), so whichever arm the split sends it to, its outcome is
 *     there, and shadow mode can compare the two on the same request.
 * One seeded PRNG (src/files/prng.ts) is drawn in a fixed order whatever the injections, so a
 * stream with an injection equals the clean stream of the same seed up to the injection's start.
 *
 * Nothing here reads a clock or the network; only the read* functions read report files.
 */
import { readFileSync } from 'node:fs';
import { seededRandom } from '../files/prng.js';
import { InputError } from '../files/input-error.js';
import { quantile, type LatencyHistogram } from '../metrics/latency-histogram.js';
import { Event } from '../schema/events.js';
import { EvalReport } from '../schema/eval-report.js';
import { ReplayReport } from '../schema/replay-report.js';

/** Where latency draws come from: the bench's samples (resampled), a latency histogram (inverse CDF), or a log-normal fitted to percentiles. */
export type LatencyDistribution =
  | { kind: 'samples'; samples: ArrayLike<number>; source?: string }
  | { kind: 'histogram'; histogram: LatencyHistogram; source?: string }
  | { kind: 'lognormal'; mu: number; sigma: number; source?: string };

/** What one arm (candidate or production) is drawn from. Rates are per request, in [0, 1]. */
export interface ArmOutcomes {
  latency: LatencyDistribution;
  errorRate: number;
  falseBrakingRate: number;
  disagreementRate: number;
  /** Extra per-request series by metric name (resampled like latency samples); a plan may name them. */
  series?: Record<string, ArrayLike<number>>;
}

/**
 * A regression injected into one arm (the canary unless `arm` says otherwise), from `from_minute`
 * to `to_minute` (exclusive; default: the end): `step` at full effect at once, `ramp` growing
 * linearly to full effect over `ramp_minutes` (default 5); `factor` multiplies, `add` adds
 * (latency in ms, rates in absolute terms, clamped to [0, 1]). `gap` drops every request of the
 * minutes (a telemetry outage: no data for either arm).
 * `metric`: "latency" (or any latency.* name: every latency sample is changed), "error_rate",
 * "false_emergency_braking_rate", "perception_planning_disagreement", or an extra series' name.
 */
export interface Injection {
  kind: 'step' | 'ramp' | 'gap';
  metric?: string;
  from_minute: number;
  to_minute?: number;
  factor?: number;
  add?: number;
  ramp_minutes?: number;
  arm?: 'canary' | 'baseline';
}

export interface TelemetryInput {
  canary: ArmOutcomes;
  baseline: ArmOutcomes;
  minutes: number;
  perMinute: number;
  seed: number;
  injections?: readonly Injection[];
}

/** One arm's outcome on each request of a minute (index j = request j). */
export interface ArmSamples {
  latencyMs: Float64Array;
  error: Uint8Array;
  falseBrake: Uint8Array;
  disagreement: Uint8Array;
  series: Record<string, Float64Array>;
}

export interface TelemetryMinute {
  index: number;
  /** A telemetry outage (a gap injection): no requests this minute. */
  gap: boolean;
  split: Float64Array;
  canary: ArmSamples;
  baseline: ArmSamples;
}

export interface Telemetry {
  seed: number;
  perMinute: number;
  minutes: number;
  injections: readonly Injection[];
  minute: TelemetryMinute[];
  /** Where each arm's figures came from, as the caller named them (readOutcomes fills it). */
  sources: string[];
}

/** Which per-request field a metric name reads: latency.* -> latency, the three rates, else a series. */
export type MetricField = 'latency' | 'error' | 'falseBrake' | 'disagreement' | { series: string };

/** The telemetry field behind a metric name. */
export function metricField(name: string): MetricField {
  if (name === 'latency' || name.startsWith('latency.')) return 'latency';
  if (name === 'error_rate') return 'error';
  if (name === 'false_emergency_braking_rate') return 'falseBrake';
  if (name === 'perception_planning_disagreement') return 'disagreement';
  return { series: name };
}

function sameField(a: MetricField, b: MetricField): boolean {
  return typeof a === 'string' || typeof b === 'string' ? a === b : a.series === b.series;
}

/** Seconds from the start of the stream at which request j of minute m is served. */
export function requestTimeS(minute: number, j: number, perMinute: number): number {
  return 60 * minute + ((j + 0.5) * 60) / perMinute;
}

/**
 * The inverse of the standard normal CDF, Acklam's rational approximation refined by one Halley
 * step (relative error near machine precision); p in (0, 1).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  let x: number;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - lo) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // One Halley step on the exact CDF (Acklam's note) takes the 1.15e-9 relative error to ~1e-15.
  const e = 0.5 * erfc(-x / Math.SQRT2) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/**
 * The complementary error function, W. J. Cody's rational Chebyshev approximations (Math. Comp.
 * 23, 1969; the algorithm of SPECFUN's CALERF), relative error below 1e-15 in double precision.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let r: number;
  if (ax <= 0.5) {
    const A = [3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947, 0.185777706184603153];
    const B = [23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062];
    const y = ax * ax;
    let num = A[4] * y;
    let den = y;
    for (let i = 0; i < 3; i++) {
      num = (num + A[i]) * y;
      den = (den + B[i]) * y;
    }
    const erf = (x * (num + A[3])) / (den + B[3]);
    return 1 - erf;
  }
  if (ax <= 4) {
    const C = [0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131, 881.95222124176909, 1712.04761263407058, 2051.07837782607147, 1230.33935479799725, 2.15311535474403846e-8];
    const D = [15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019, 3290.79923573345963, 4362.61909014324716, 3439.36767414372164, 1230.33935480374942];
    let num = C[8] * ax;
    let den = ax;
    for (let i = 0; i < 7; i++) {
      num = (num + C[i]) * ax;
      den = (den + D[i]) * ax;
    }
    r = (num + C[7]) / (den + D[7]);
  } else {
    const P = [0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766, 6.58749161529837803e-4, 0.0163153871373020978];
    const Q = [2.56852019228982242, 1.87295284992346725, 0.527905102951428412, 0.0605183413124413191, 0.00233520497626869185];
    const y = 1 / (ax * ax);
    let num = P[5] * y;
    let den = y;
    for (let i = 0; i < 4; i++) {
      num = (num + P[i]) * y;
      den = (den + Q[i]) * y;
    }
    r = (y * (num + P[4])) / (den + Q[4]);
    r = (1 / Math.sqrt(Math.PI) - r) / ax;
  }
  // exp(-x^2) split as Cody does, so that large |x| keeps its relative accuracy.
  const ysq = Math.trunc(ax * 16) / 16;
  r = Math.exp(-ysq * ysq) * Math.exp(-(ax - ysq) * (ax + ysq)) * r;
  return x < 0 ? 2 - r : r;
}

/** The standard normal CDF, Phi(z) = erfc(-z / sqrt 2) / 2. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

function drawLatency(d: LatencyDistribution, u: number): number {
  switch (d.kind) {
    case 'samples':
      // A bootstrap draw: each recorded sample equally likely, so the stream has the bench's own shape.
      return d.samples[Math.min(d.samples.length - 1, Math.floor(u * d.samples.length))];
    case 'histogram':
      return quantile(d.histogram, u);
    case 'lognormal':
      return Math.exp(d.mu + d.sigma * normalQuantile(Math.min(1 - 1e-12, Math.max(1e-12, u))));
  }
}

function checkArm(name: string, a: ArmOutcomes): void {
  for (const [k, v] of [['errorRate', a.errorRate], ['falseBrakingRate', a.falseBrakingRate], ['disagreementRate', a.disagreementRate]] as const) {
    if (!(v >= 0 && v <= 1)) throw new InputError(`telemetry: ${name}.${k} must be a rate in [0, 1], got ${v}`);
  }
  const l = a.latency;
  if (l.kind === 'samples' && l.samples.length === 0) throw new InputError(`telemetry: ${name}.latency has no samples`);
  if (l.kind === 'histogram' && l.histogram.count === 0) throw new InputError(`telemetry: ${name}.latency histogram is empty`);
  if (l.kind === 'lognormal' && !(Number.isFinite(l.mu) && l.sigma >= 0)) throw new InputError(`telemetry: ${name}.latency log-normal needs a finite mu and sigma >= 0`);
  for (const [k, s] of Object.entries(a.series ?? {})) if (s.length === 0) throw new InputError(`telemetry: ${name}.series.${k} has no samples`);
}

/** How much of an injection applies at `minuteT` (fractional minutes): 0 before it, 1 at full effect. */
function effect(inj: Injection, minuteT: number, end: number): number {
  if (minuteT < inj.from_minute || minuteT >= (inj.to_minute ?? end)) return 0;
  if (inj.kind !== 'ramp') return 1;
  const span = inj.ramp_minutes ?? 5;
  return span > 0 ? Math.min(1, (minuteT - inj.from_minute) / span) : 1;
}

function applyValue(inj: Injection, x: number, f: number): number {
  let y = x;
  if (inj.factor !== undefined) y *= 1 + (inj.factor - 1) * f;
  if (inj.add !== undefined) y += inj.add * f;
  return y;
}

/**
 * Telemetry for `minutes` minutes at `perMinute` requests a minute, drawn (seeded) from the two
 * arms' outcomes, with `injections` applied. Same input, same stream, on every machine.
 *   telemetryFromOutcomes({ canary, baseline, minutes: 60, perMinute: 600, seed: 7,
 *     injections: [{ kind: 'step', metric: 'latency', from_minute: 22, factor: 1.6 }] })
 */
export function telemetryFromOutcomes(input: TelemetryInput): Telemetry {
  const { minutes, perMinute, seed } = input;
  if (!(Number.isInteger(minutes) && minutes >= 1)) throw new InputError(`telemetry: minutes must be a positive whole number, got ${minutes}`);
  if (!(Number.isInteger(perMinute) && perMinute >= 1)) throw new InputError(`telemetry: perMinute must be a positive whole number, got ${perMinute}`);
  checkArm('canary', input.canary);
  checkArm('baseline', input.baseline);
  const injections = input.injections ?? [];
  injections.forEach((inj, i) => {
    if (inj.kind !== 'gap' && !inj.metric) throw new InputError(`telemetry: injections[${i}] (${inj.kind}) needs a metric`);
    if (inj.kind !== 'gap' && inj.factor === undefined && inj.add === undefined) throw new InputError(`telemetry: injections[${i}] needs factor or add`);
    if (inj.kind === 'gap' && inj.to_minute === undefined) throw new InputError(`telemetry: injections[${i}] (gap) needs to_minute`);
  });
  const rand = seededRandom(seed);
  const seriesNames = [...new Set([...Object.keys(input.canary.series ?? {}), ...Object.keys(input.baseline.series ?? {})])].sort();
  const activeOn = {
    canary: injections.filter((inj) => inj.kind !== 'gap' && (inj.arm ?? 'canary') === 'canary'),
    baseline: injections.filter((inj) => inj.kind !== 'gap' && inj.arm === 'baseline'),
  };
  const out: TelemetryMinute[] = [];
  for (let m = 0; m < minutes; m++) {
    const gap = injections.some((inj) => inj.kind === 'gap' && m >= inj.from_minute && m < (inj.to_minute ?? minutes));
    const n = perMinute;
    const split = new Float64Array(n);
    const arms = { canary: emptyArm(n, seriesNames), baseline: emptyArm(n, seriesNames) };
    for (let j = 0; j < n; j++) {
      split[j] = rand();
      const t = requestTimeS(m, j, perMinute) / 60;
      for (const armName of ['canary', 'baseline'] as const) {
        const src = input[armName];
        const arm = arms[armName];
        const active = activeOn[armName];
        const adjust = (field: MetricField, x: number) => {
          let y = x;
          for (const inj of active) {
            if (!sameField(metricField(inj.metric!), field)) continue;
            const f = effect(inj, t, minutes);
            if (f > 0) y = applyValue(inj, y, f);
          }
          return y;
        };
        const rate = (field: MetricField, p: number) => Math.min(1, Math.max(0, adjust(field, p)));
        arm.latencyMs[j] = Math.max(0, adjust('latency', drawLatency(src.latency, rand())));
        arm.error[j] = rand() < rate('error', src.errorRate) ? 1 : 0;
        arm.falseBrake[j] = rand() < rate('falseBrake', src.falseBrakingRate) ? 1 : 0;
        arm.disagreement[j] = rand() < rate('disagreement', src.disagreementRate) ? 1 : 0;
        for (const s of seriesNames) {
          const u = rand();
          const xs = src.series?.[s];
          arm.series[s][j] = xs ? adjust({ series: s }, xs[Math.min(xs.length - 1, Math.floor(u * xs.length))]) : NaN;
        }
      }
    }
    // A gap drops the minute's requests after drawing them, so the stream after it is unchanged.
    out.push(gap ? { index: m, gap, split: new Float64Array(0), canary: emptyArm(0, seriesNames), baseline: emptyArm(0, seriesNames) } : { index: m, gap, split, ...arms });
  }
  const sources = [input.canary, input.baseline].map((a, i) => `${i === 0 ? 'canary' : 'baseline'} latency: ${a.latency.source ?? a.latency.kind}`);
  return { seed, perMinute, minutes, injections, minute: out, sources };
}

function emptyArm(n: number, series: readonly string[]): ArmSamples {
  return { latencyMs: new Float64Array(n), error: new Uint8Array(n), falseBrake: new Uint8Array(n), disagreement: new Uint8Array(n), series: Object.fromEntries(series.map((s) => [s, new Float64Array(n)])) };
}

// ---------------------------------------------------------------------------------------------
// The figures, from the real report files.

/** A report file that cannot be used, named with what was wrong. */
export class TelemetryInputError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'TelemetryInputError';
  }
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TelemetryInputError(`${file}: cannot read the ${what}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TelemetryInputError(`${file}: the ${what} is not JSON (${(err as Error).message})`);
  }
}

function issuesText(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * The latency samples a bench step streamed for `target` ("candidate/cpu-fp32"), from an NDJSON
 * file of its events: `paddock run --json` lines, or the run store's `{attempt, event}` lines
 * (test/fixtures/workbench-run.ndjson). The bench step writes no samples to a report, only to its
 * `latency` events (src/steps/package/bench.ts timeSession); of several attempts the last is used.
 */
export function readLatencySamples(file: string, target: string): { samples: Float64Array; source: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TelemetryInputError(`${file}: cannot read the event log: ${(err as Error).message}`);
  }
  const byAttempt = new Map<number, number[]>();
  const targets = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new TelemetryInputError(`${file}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new TelemetryInputError(`${file}:${i + 1}: not an event (a JSON object)`);
    const wrapped = 'event' in obj && !('type' in obj);
    const raw = wrapped ? (obj as { event: unknown }).event : obj;
    if ((raw as { type?: unknown } | null)?.type !== 'latency') return;
    const parsed = Event.safeParse(raw);
    if (!parsed.success) throw new TelemetryInputError(`${file}:${i + 1}: invalid latency event: ${issuesText(parsed.error)}`);
    const e = parsed.data;
    if (e.type !== 'latency') return;
    targets.add(e.target);
    if (e.target !== target) return;
    const attempt = wrapped ? Number((obj as { attempt?: unknown }).attempt ?? 0) : 0;
    let list = byAttempt.get(attempt);
    if (!list) byAttempt.set(attempt, (list = []));
    for (const s of e.samples) list.push(s);
  });
  if (byAttempt.size === 0) throw new TelemetryInputError(`${file}: no latency samples for target "${target}" (targets there: ${[...targets].join(', ') || 'none'})`);
  const last = Math.max(...byAttempt.keys());
  const samples = Float64Array.from(byAttempt.get(last)!);
  return { samples, source: `${file}: ${samples.length} bench latency samples of ${target}${byAttempt.size > 1 ? ` (attempt ${last})` : ''}` };
}

/**
 * A latency distribution from bench-variants' reports/bench.json, which keeps only p50/p95/p99 of
 * each target (src/steps/package/bench-variants.ts): a log-normal through p50 and p95
 * (mu = ln p50, sigma = ln(p95 / p50) / z(0.95)). A fit, not the samples: its p99 is whatever the
 * log-normal says, so prefer readLatencySamples where the event log is there.
 */
export function readBenchReportLatency(file: string, target: string): LatencyDistribution {
  const report = readJson(file, 'bench report') as { results?: { target?: unknown; p50_ms?: unknown; p95_ms?: unknown; samples?: unknown }[] };
  const results = Array.isArray(report?.results) ? report.results : undefined;
  if (!results) throw new TelemetryInputError(`${file}: not a bench report (no "results" list)`);
  const r = results.find((x) => x.target === target);
  if (!r) throw new TelemetryInputError(`${file}: no result for target "${target}" (targets: ${results.map((x) => String(x.target)).join(', ') || 'none'})`);
  const p50 = Number(r.p50_ms);
  const p95 = Number(r.p95_ms);
  if (!(p50 > 0 && p95 >= p50)) throw new TelemetryInputError(`${file}: target "${target}" has no usable p50_ms/p95_ms (${r.p50_ms}, ${r.p95_ms})`);
  return { kind: 'lognormal', mu: Math.log(p50), sigma: Math.log(p95 / p50) / normalQuantile(0.95), source: `${file}: log-normal through ${target}'s p50 ${p50} ms and p95 ${p95} ms (${r.samples} samples)` };
}

/** The rates replay gives one model, with what each proxy is. */
export interface ReplayRates {
  model: string;
  frames: number;
  /** late_frames / frames: frames that missed the replay's deadline_ms. */
  errorRate: number;
  /** ghosts / frames: ghost-track onsets per frame. */
  falseBrakingRate: number;
  /** flagged / segments of the candidate against production (0 for production itself; NaN without a baseline). */
  disagreementRate: number;
}

/**
 * The candidate's and production's rates from replay_report.json (src/schema/replay-report.ts):
 *
 * - error_rate <- late frames / frames: a frame whose inference missed the replay's deadline_ms
 *   is what a serving timeout is. It is not a count of crashes or 5xx answers, which replay has no
 *   notion of.
 * - false_emergency_braking_rate <- ghost tracks / frames: a ghost is a confirmed (so confident)
 *   track that matched no object for the recipe's ghost_frames frames, and a confident phantom
 *   ahead is what makes a planner brake for nothing. It is an upper bound of that, not a braking
 *   count: the report does not say whether the ghost was in the ego lane ahead (it keeps the ego's
 *   map position, not the ghost's), and no planner ran.
 * - perception_planning_disagreement <- flagged divergence segments / segments: the fraction of
 *   replay windows in which the candidate's perception differs from production's enough to change
 *   what a planner is given (objects lost, tracks broken, late first detections, detections that do
 *   not match; src/replay/divergence.ts). It is a disagreement of the two perceptions on the same
 *   frames, not a measured disagreement between a perception and a planner; per request it is used
 *   as the chance that the window the request falls in is a flagged one. Production against
 *   itself is 0 by definition.
 */
export function readReplayOutcomes(file: string): { candidate: ReplayRates; baseline: ReplayRates | null; source: string } {
  const parsed = ReplayReport.safeParse(readJson(file, 'replay report'));
  if (!parsed.success) throw new TelemetryInputError(`${file}: not a replay report (version 1): ${issuesText(parsed.error)}`);
  const r = parsed.data;
  const segments = r.drives.reduce((s, d) => s + d.segments, 0);
  const flagged = r.drives.reduce((s, d) => s + d.flagged_segments.length, 0);
  const rates = (model: string, disagreement: number): ReplayRates => {
    const overall = r.overall[model];
    if (!overall) throw new TelemetryInputError(`${file}: overall has no model "${model}" (models: ${Object.keys(r.overall).join(', ')})`);
    const frames = overall.frames;
    if (!(frames > 0)) throw new TelemetryInputError(`${file}: model "${model}" scored no frames`);
    const late = r.drives.reduce((s, d) => s + (d.models[model]?.late_frames ?? 0), 0);
    return { model, frames, errorRate: late / frames, falseBrakingRate: overall.ghosts / frames, disagreementRate: disagreement };
  };
  const candidate = rates(r.candidate, r.baseline && segments > 0 ? flagged / segments : NaN);
  const baseline = r.baseline ? rates(r.baseline, 0) : null;
  return { candidate, baseline, source: `${file}: ${r.drives.length} drive(s), ${candidate.frames} frames, ${flagged}/${segments} segments flagged (${r.candidate} vs ${r.baseline ?? 'no baseline'})` };
}

/**
 * The candidate's confident false positives per frame from eval_report.json
 * (outcomes.falsePositivesOver03 / dataset.frames): a detection scored >= 0.3 that matches no
 * object. A fall-back false-braking proxy where no replay ran: it counts single-frame false
 * detections, most of which a tracker would never confirm, so it overstates far more than the
 * ghost proxy; the report has it for the candidate only.
 */
export function readEvalOutcomes(file: string): { candidate: string; frames: number; falsePositiveRate: number; source: string } {
  const parsed = EvalReport.safeParse(readJson(file, 'evaluation report'));
  if (!parsed.success) throw new TelemetryInputError(`${file}: not an evaluation report (version 1): ${issuesText(parsed.error)}`);
  const r = parsed.data;
  if (!(r.dataset.frames > 0)) throw new TelemetryInputError(`${file}: the evaluation scored no frames`);
  return { candidate: r.candidate, frames: r.dataset.frames, falsePositiveRate: r.outcomes.falsePositivesOver03 / r.dataset.frames, source: `${file}: ${r.outcomes.falsePositivesOver03} false positives >= 0.3 on ${r.dataset.frames} frames (${r.candidate})` };
}

export interface ReadOutcomesOptions {
  /** An NDJSON event log holding the bench's latency events (readLatencySamples). */
  events?: string;
  /** Else reports/bench.json of the pack (readBenchReportLatency). */
  benchReport?: string;
  canaryTarget: string;
  baselineTarget: string;
  replayReport?: string;
  evalReport?: string;
}

/**
 * Both arms' outcomes from the real reports: latency from the bench (event log, else bench.json),
 * rates from replay (else the evaluation's false positives for the candidate's false braking).
 * A figure no report gives is an InputError naming what is missing, never a made-up default.
 */
export function readOutcomes(o: ReadOutcomesOptions): { canary: ArmOutcomes; baseline: ArmOutcomes; sources: string[] } {
  const sources: string[] = [];
  const latency = (target: string): LatencyDistribution => {
    if (o.events) {
      const r = readLatencySamples(o.events, target);
      sources.push(r.source);
      return { kind: 'samples', samples: r.samples, source: r.source };
    }
    if (o.benchReport) {
      const d = readBenchReportLatency(o.benchReport, target);
      sources.push(d.source!);
      return d;
    }
    throw new TelemetryInputError(`telemetry: no latency for ${target}: give the bench's event log or reports/bench.json`);
  };
  const canaryLatency = latency(o.canaryTarget);
  const baselineLatency = latency(o.baselineTarget);
  if (!o.replayReport) {
    const ev = o.evalReport ? readEvalOutcomes(o.evalReport) : undefined;
    throw new TelemetryInputError(`telemetry: error, false-braking and disagreement rates come from replay_report.json (build/replay), which was not given${ev ? `; ${o.evalReport} gives the candidate's false positives only, not production's nor the divergence` : ''}`);
  }
  const rep = readReplayOutcomes(o.replayReport);
  sources.push(rep.source);
  if (!rep.baseline) throw new TelemetryInputError(`${o.replayReport}: the replay ran without a baseline (production), so there is no divergence to read and no production rates`);
  if (o.evalReport) sources.push(readEvalOutcomes(o.evalReport).source);
  return {
    canary: { latency: canaryLatency, errorRate: rep.candidate.errorRate, falseBrakingRate: rep.candidate.falseBrakingRate, disagreementRate: rep.candidate.disagreementRate },
    baseline: { latency: baselineLatency, errorRate: rep.baseline.errorRate, falseBrakingRate: rep.baseline.falseBrakingRate, disagreementRate: rep.baseline.disagreementRate },
    sources,
  };
}
