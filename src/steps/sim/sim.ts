/**
 * The `sim` step's body: the sweep expanded (src/sim/sweep.ts) and run as shards on the host
 * pool, each run's trace and RunMetrics read back; the report's rows, aggregates and paired
 * deltas (src/sim/reports.ts); metric events per category (slice `category=<c>`) and model
 * (target), one failure event per failed run of the candidate with its clip and trace; and the
 * files: sim_report.json, sim_summary.parquet, scenarios/<name>.json and .csv, sim_heatmap.json,
 * heatmap.svg, heatmap.png, clips/<run>.gif, sim_summary.md, and the Simulation section in the
 * evaluation's evaluation_summary.md.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative, resolve } from 'node:path';
import { emit, progressReporter } from '../emit.js';
import { writeAtomic } from '../../files/atomic.js';
import { InputError } from '../../files/input-error.js';
import { expandSweep } from '../../sim/sweep.js';
import { executeSweep } from './sweep-run.js';
import { simClip } from '../../sim/clip.js';
import { collisionsPer1000Km } from '../../metrics/safety.js';
import { aggregateRuns, buildHeatmap, conditionTokens, failureKind, heatmapPng, heatmapSvg, offlineLinks, pairedDeltas, runRecord, scenarioCsv, scenarioFileName, scenarioJson, simSectionMarkdown, simSummaryParquet, withSimSection } from '../../sim/reports.js';
import { EvalReport } from '../../schema/eval-report.js';
import { SimFailureData, SimHeatmap, SimReport, type SimAggregate, type SimRunRecord } from '../../schema/sim-report.js';
import type { SimRunTrace } from '../../schema/sim-types.js';
import type { SimParams } from './sim.step.js';

function writeArtifact(path: string, content: string | Uint8Array, role: string): void {
  writeAtomic(path, content);
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  emit({ type: 'artifact', path, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, role });
}

/** The evaluate stage's report: its folder or the file itself. */
function evalReportFile(p: string): string {
  const file = existsSync(p) && statSync(p).isDirectory() ? join(p, 'eval_report.json') : p;
  if (!existsSync(file)) throw new InputError(`evaluate: ${file} is missing: give the evaluate step's out folder (it writes eval_report.json)`);
  return file;
}

export async function runSim(p: SimParams): Promise<number> {
  const started = Date.now();
  const out = resolve(p.out);
  for (const d of ['scenarios', 'clips']) mkdirSync(join(out, d), { recursive: true });
  const names = p.models.map((m) => m.name);
  if (new Set(names).size !== names.length) throw new InputError(`models: names must differ (${names.join(', ')})`);
  const candidate = p.candidate ?? names[0];
  const baseline = p.baseline ?? (names.length > 1 ? names.find((n) => n !== candidate) : undefined) ?? null;
  for (const [k, v] of [['candidate', candidate], ['baseline', baseline]] as const) if (v !== null && !names.includes(v)) throw new InputError(`${k}: "${v}" is not one of models (${names.join(', ')})`);
  const evalFile = p.evaluate ? evalReportFile(p.evaluate) : undefined;
  const evaluation = evalFile ? EvalReport.parse(JSON.parse(readFileSync(evalFile, 'utf8'))) : undefined;

  // The step's paths are absolute (invoke resolves them against the recipe); a direct call resolves against the cwd.
  const runs = expandSweep(p, process.cwd());
  if (!runs.length) throw new InputError('the sweep expands to no runs');
  const seeds = typeof p.seeds === 'number' ? p.seeds : p.seeds.length;
  emit({ type: 'log', level: 'info', message: `sim: ${runs.length} runs (${p.scenarios.length} scenarios x their parameter sets x ${seeds} seeds x conditions x ${names.length} models), ${p.lockstep} runs per shard in lockstep at ${p.rate_hz} Hz; candidate ${candidate}${baseline ? `, paired against ${baseline}` : ''}` });
  const progress = progressReporter('runs');
  const outcome = await executeSweep(runs, p.lockstep, {
    out,
    // `local` is this machine; other names are hosts of hosts.yaml (--hosts, $PADDOCK_HOSTS, beside the recipe, ~/.config/paddock).
    hostNames: p.hosts,
    hostsFile: p.hosts_file,
    recipeDir: p.recipe_dir,
    log: (line: string) => emit({ type: 'log', level: 'info', message: line }),
    settings: { rate_hz: p.rate_hz, planner: p.planner, vehicle: p.vehicle, tracker: p.tracker, thresholds: p.thresholds, threads: p.threads },
    onProgress: (x) => progress(x.runsDone, x.runs, `${x.shardsDone}/${x.shards} shards`),
    // A shard's warnings and errors reach the run's log; its progress and metrics are the sweep's business.
    onEvent: (shard, e) => {
      if (e.type === 'log' && (e.level === 'warn' || e.level === 'error')) emit({ type: 'log', level: e.level, message: `shard ${shard}: ${e.message}` });
    },
  });
  emit({ type: 'log', level: outcome.failed.length ? 'error' : 'info', message: `sweep: ${outcome.shards.total} shards (${outcome.shards.skipped} done before, ${outcome.shards.succeeded} now, ${outcome.shards.failed} failed); ${outcome.results.length}/${runs.length} runs have results, ${outcome.recorded} recorded by this call` });
  for (const f of outcome.failed.slice(0, 5)) emit({ type: 'log', level: 'error', message: `run ${f.runId} (shard ${f.shard}) failed: ${f.error}` });
  if (outcome.cancelled) throw new Error('sim: cancelled before the sweep finished (run it again with the same out to resume)');
  if (!outcome.results.length) throw new Error(`sim: no run produced a result (${outcome.failed.length} failed: ${outcome.failed[0]?.error ?? 'unknown'})`);

  // Per run: the row, and a clip when it failed (worst first, up to clips.max).
  const traces = new Map<string, SimRunTrace>();
  const clipMeta = new Map<string, { file: string; frames: number; fps: number }>();
  let rows: SimRunRecord[] = outcome.results.map((res) => {
    const trace = JSON.parse(readFileSync(res.trace, 'utf8')) as SimRunTrace;
    traces.set(res.runId, trace);
    return runRecord(trace, res.metrics, { trace: relative(out, res.trace) });
  });
  if (p.clips.enabled) {
    const worst = rows.filter((r) => r.types.length).sort((a, b) => b.severityScore - a.severityScore || a.runId.localeCompare(b.runId)).slice(0, p.clips.max);
    const clipOf = clipMeta;
    for (const r of worst) {
      const clip = simClip(traces.get(r.runId)!, { ...(p.clips.fps ? { fps: p.clips.fps } : {}), maxFrames: p.clips.max_frames, scale: p.clips.scale, window: p.clips.window, thresholds: p.thresholds });
      const file = join(out, 'clips', `${r.runId}.gif`);
      writeArtifact(file, clip.gif, 'clip');
      clipOf.set(r.runId, { file: relative(out, file), frames: clip.frames, fps: clip.fps });
    }
    rows = rows.map((r) => (clipOf.has(r.runId) ? { ...r, clip: clipOf.get(r.runId)!.file } : r));
  }

  const aggregates = aggregateRuns(rows, p.level);
  const paired = baseline ? pairedDeltas(rows, candidate, baseline, p.level) : [];
  const failedCand = rows.filter((r) => r.model === candidate && r.types.length);
  const offline = evaluation && evalFile
    ? offlineLinks(failedCand.map((run) => ({ run, tokens: conditionTokens(run, traces.get(run.runId)?.road.roadType, vruClassOf(traces.get(run.runId))) })), evaluation, evalFile)
    : null;
  const files: Record<string, string> = { summary: 'sim_summary.parquet', heatmap: 'sim_heatmap.json', heatmapSvg: 'heatmap.svg', heatmapPng: 'heatmap.png', markdown: 'sim_summary.md' };
  const scenarios = [...new Set(rows.map((r) => r.scenario))].sort();
  for (const s of scenarios) {
    files[`scenario:${s}`] = `scenarios/${scenarioFileName(s)}.json`;
  }
  const report = SimReport.parse({
    format: 'paddock.sim-report/1',
    candidate,
    baseline,
    level: p.level,
    thresholds: p.thresholds,
    sweep: { runs: runs.length, scenarios: scenarios.length, seeds, rateHz: p.rate_hz, wallS: Math.round((Date.now() - started) / 100) / 10 },
    runs: rows,
    aggregates,
    paired,
    offline,
    files,
  });

  // The files.
  writeArtifact(join(out, 'sim_summary.parquet'), await simSummaryParquet(rows), 'sim-summary');
  for (const s of scenarios) {
    writeArtifact(join(out, 'scenarios', `${scenarioFileName(s)}.json`), `${JSON.stringify(scenarioJson(s, report), null, 2)}\n`, 'sim-scenario');
    writeArtifact(join(out, 'scenarios', `${scenarioFileName(s)}.csv`), scenarioCsv(rows.filter((r) => r.scenario === s)), 'sim-scenario-csv');
  }
  const heatmap = SimHeatmap.parse(buildHeatmap(rows));
  writeArtifact(join(out, 'sim_heatmap.json'), `${JSON.stringify(heatmap)}\n`, 'sim-heatmap');
  const svg = heatmapSvg(heatmap);
  writeArtifact(join(out, 'heatmap.svg'), svg, 'chart');
  writeArtifact(join(out, 'heatmap.png'), await heatmapPng(svg), 'chart');
  const section = simSectionMarkdown(report);
  writeArtifact(join(out, 'sim_summary.md'), `# Simulation: ${candidate}${baseline ? ` against ${baseline}` : ''}\n\n${section.replace(/^## Simulation\n\n/, '')}`, 'sim-summary-md');
  if (p.evaluate) {
    const summary = join(existsSync(p.evaluate) && statSync(p.evaluate).isDirectory() ? p.evaluate : resolve(p.evaluate, '..'), 'evaluation_summary.md');
    if (existsSync(summary)) writeArtifact(summary, withSimSection(readFileSync(summary, 'utf8'), section), 'evaluation-summary');
    else emit({ type: 'log', level: 'warn', message: `evaluate: ${summary} is not there, so the Simulation section is only in sim_summary.md` });
  }
  writeArtifact(join(out, 'sim_report.json'), `${JSON.stringify(report, null, 2)}\n`, 'sim-report');

  emitMetrics(aggregates, report);
  emitFailures(report, out, p.max_failures, clipMeta);
  const cand = aggregates.find((a) => a.scope === 'overall' && a.model === candidate);
  emit({ type: 'log', level: cand && cand.failed ? 'warn' : 'info', message: `sim: ${candidate}: ${cand?.runs ?? 0} runs, ${cand?.collisions ?? 0} collisions, ${cand?.vruNearMisses ?? 0} VRU near misses, ${cand?.failed ?? 0} failed runs${baseline ? `; ${baseline}: ${aggregates.find((a) => a.scope === 'overall' && a.model === baseline)?.collisions ?? 0} collisions` : ''}; report ${join(out, 'sim_report.json')}` });
  return 0;
}

/** The class of the VRU in a run's scene (for a near miss, what it came near), if any. */
function vruClassOf(trace: SimRunTrace | undefined): string | undefined {
  const a = trace?.steps[0]?.actors.find((x) => x.cls === 'pedestrian' || x.cls === 'cyclist');
  return a?.cls;
}

const ci = (i: { lo: number; hi: number; level: number } | null | undefined, method: string) => (i && Number.isFinite(i.lo) && Number.isFinite(i.hi) ? { ci: { lo: i.lo, hi: i.hi, level: i.level, method } } : {});

/** The aggregates as metric events: per model (target), per category (slice category=<c>) and per scenario (scenario=<name>), and overall (no slice). */
function emitMetrics(aggregates: readonly SimAggregate[], r: SimReport): void {
  for (const a of aggregates) {
    const slice = a.scope === 'overall' ? undefined : `${a.scope}=${a.key}`;
    const base = { type: 'metric' as const, target: a.model, ...(slice ? { slice } : {}) };
    const den = { denominators: { runs: a.runs } };
    emit({ ...base, name: 'sim.runs', value: a.runs });
    emit({ ...base, name: 'sim.failed_runs', value: a.failed, ...den });
    emit({ ...base, name: 'sim.collisions', value: a.collisions, ...den });
    emit({ ...base, name: 'sim.collision_rate', value: a.collisionRate.estimate, ...ci(a.collisionRate, 'wilson'), ...den });
    if (a.km > 0) {
      const per = collisionsPer1000Km(a.collisions, a.km, r.level);
      emit({ ...base, name: 'sim.collisions_per_1000km', value: per.rate, unit: '1/1000km', ...ci(per, 'garwood'), ...den });
      emit({ ...base, name: 'sim.km', value: a.km, unit: 'km', ...den });
    }
    emit({ ...base, name: 'sim.vru_near_misses', value: a.vruNearMisses, ...den });
    if (a.vruNearMissesPerRun) emit({ ...base, name: 'sim.vru_near_misses_per_run', value: a.vruNearMissesPerRun.estimate, ...ci(a.vruNearMissesPerRun, 't'), ...den });
    emit({ ...base, name: 'sim.offroad_incidents', value: a.offroadIncidents, ...den });
    emit({ ...base, name: 'sim.speeding_runs', value: a.violations.speedingRuns, ...den });
    emit({ ...base, name: 'sim.lane_departures', value: a.violations.laneDepartures, ...den });
    emit({ ...base, name: 'sim.stop_line_violations', value: a.violations.stopLines, ...den });
    if (a.ttcMinP5 !== null) emit({ ...base, name: 'sim.ttc_min_p5', value: a.ttcMinP5, unit: 's', ...den });
    const means: [string, SimAggregate['rmsJerk'], string][] = [
      ['sim.first_brake_t', a.firstBrakeT, 's'],
      ['sim.first_brake_ttc', a.firstBrakeTtc, 's'],
      ['sim.jerk_rms', a.rmsJerk, 'm/s^3'],
      ['sim.jerk_peak', a.peakJerk, 'm/s^3'],
      ['sim.accel_rms', a.rmsAccel, 'm/s^2'],
      ['sim.decel_peak', a.peakDecel, 'm/s^2'],
    ];
    for (const [name, v, unit] of means) if (v) emit({ ...base, name, value: v.estimate, unit, ...ci(v, 't'), denominators: { runs: v.n } });
  }
  // Paired deltas, candidate - baseline, on the candidate as target.
  for (const d of r.paired) {
    if (d.meanDelta === null) continue;
    const slice = d.scope === 'overall' ? undefined : `${d.scope}=${d.key}`;
    const base = { type: 'metric' as const, target: d.candidate, ...(slice ? { slice } : {}), denominators: { pairs: d.n } };
    const name = d.metric === 'collision' ? 'sim.collisions' : `sim.${d.metric}`;
    emit({ ...base, name: `${name}.delta`, value: d.meanDelta, ...(d.lo !== null && d.hi !== null ? { ci: { lo: d.lo, hi: d.hi, level: r.level, method: 'paired' } } : {}) });
    if (d.p !== null) emit({ ...base, name: `${name}.delta_p`, value: d.p });
  }
}

/** One failure event per failed run of the candidate, worst first (SimFailureData as its data; the clip and the trace as evidence). */
function emitFailures(r: SimReport, out: string, max: number, clipMeta: ReadonlyMap<string, { frames: number; fps: number }>): void {
  const byKey = new Map(r.baseline ? r.runs.filter((x) => x.model === r.baseline).map((x) => [x.pairKey, x]) : []);
  const failed = r.runs.filter((x) => x.model === r.candidate && x.types.length).sort((a, b) => b.severityScore - a.severityScore || a.runId.localeCompare(b.runId));
  for (const x of failed.slice(0, max)) {
    const b = byKey.get(x.pairKey);
    const clip = clipMeta.get(x.runId);
    const { runId, scenario, category, paramIndex, parameters, seed, conditions, model, types, severityScore } = x;
    const metrics = { collision: x.collision, distanceKm: x.distanceKm, offroadIncidents: x.offroadIncidents, violations: { speedingS: x.speedingS, laneDepartures: x.laneDepartures, stopLines: x.stopLines }, ttcMin: x.ttcMin, vruNearMisses: x.vruNearMisses, firstBrake: x.firstBrakeT === null ? null : { t: x.firstBrakeT, distance: x.firstBrakeDistance }, firstBrakeTtc: x.firstBrakeTtc, comfort: { peakJerk: x.peakJerk, rmsJerk: x.rmsJerk, peakDecel: x.peakDecel, peakAccel: x.peakAccel, rmsAccel: x.rmsAccel }, aeb: x.aeb };
    const data = SimFailureData.parse({
      runId, scenario, category, paramIndex, parameters, seed, conditions, model, types, severityScore, metrics,
      ...(b ? { baseline: { model: b.model, failed: b.types.length > 0, types: b.types } } : {}),
      ...(x.clip ? { clip: x.clip } : {}),
      ...(x.trace ? { trace: x.trace } : {}),
      ...(clip ? { clipFrames: clip.frames, fps: clip.fps } : {}),
    });
    const what = x.collision ? `hit ${x.collision.actorCls} ${x.collision.actor} at ${(x.collision.relativeSpeed * 3.6).toFixed(1)} km/h` : types.join(', ');
    emit({
      type: 'failure',
      id: `sim/${x.runId}`,
      kind: failureKind(types),
      severity: x.collision ? 'critical' : types.includes('vru-near-miss') || types.includes('offroad') ? 'major' : 'minor',
      title: `${scenario} #${paramIndex} seed ${seed} (${conditions.weather}, ${conditions.timeOfDay}): ${model} ${what}${b ? (b.types.length ? `; ${b.model} failed too (${b.types.join(', ')})` : `; ${b.model} did not`) : ''}`.slice(0, 1024),
      evidence: [...(x.clip ? [{ path: join(out, x.clip), note: 'clip (GIF)' }] : []), ...(x.trace ? [{ path: join(out, x.trace), note: 'trace (JSON)' }] : [])],
      data,
    });
  }
}
