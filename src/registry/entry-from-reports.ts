/**
 * A registry entry's body (src/schema/registry.ts) read from the files a version's runs wrote:
 * the signed pack (export_report.json: every file with its sha256, the lineage, the benchmarks,
 * the coverage, the scans of the serving image), the evaluate stage's eval_report.json (headline
 * figures, the slice table with deltas against the baseline), the replay stage's
 * replay_report.json (overall tracking figures), the sim stage's sim_report.json and the Sim
 * Gate's sim_gate.json (summary.sim), and what the caller knows besides (run ids, gate verdicts,
 * where the pack was published).
 *
 * Nothing is guessed: an input not given, or a field a report does not have, is null (or left
 * out) with why in the body's `absent`. A file that is there but malformed is an EntrySourceError
 * naming the file and the field: `/runs/7/reports/eval_report.json: slices[3].ap.lo: expected number`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../files/input-error.js';
import { sha256FileSync } from '../files/digest.js';
import { parseCalibrationCache } from '../metrics/int8-calibration.js';
import { REPORT, SIGNATURE } from '../pack/signing.js';
import { EvalReport } from '../schema/eval-report.js';
import { EXPORT_REPORT_FORMAT, formatPath, parseExportReport, type ExportReport } from '../schema/export-report.js';
import { EntrySimGate, REGISTRY_ENTRY_FORMAT, RegistryEntryBody } from '../schema/registry.js';
import { ReplayReport } from '../schema/replay-report.js';
import { SimReport } from '../schema/sim-report.js';

/** An input file of an entry is unreadable or does not meet its schema; the message locates it. */
export class EntrySourceError extends InputError {}

export interface EntrySources {
  /** The signed pack's directory (export_report.json and its .sig). */
  pack: string;
  /** The evaluate stage's eval_report.json. */
  evalReport?: string;
  /** The replay stage's replay_report.json. */
  replayReport?: string;
  /** The sim step's sim_report.json, and the sim-gate step's sim_gate.json (its verdict on that report). */
  simReport?: string;
  simGate?: string;
  /** Run ids in paddock's run store. */
  runs?: { package?: string; evaluate?: string; replay?: string; sim?: string };
  /** The gate verdicts of the runs (the run store's verdicts), besides the pack's own (equivalence). */
  gates?: { id: string; verdict: string; stage?: string }[];
  /** Where the publish step put the pack: each file's s3_uri is s3://<bucket>/<prefix>/<path> (src/pack/s3-publish.ts). */
  published?: { bucket: string; prefix: string };
  /** The dataset: its tag (default: the pack's lineage.dataset) and the manifest whose sha256 is its content digest (default: the eval report's manifest). */
  dataset?: { tag?: string; manifest?: string };
  /** The serving image's digest when known from elsewhere (a deploy manifest); default: the pack's image-sbom scan. */
  servingImage?: string;
  /** Why an input was not given, by the body path it leaves absent ("runs.sim", "summary.replay"), in place of the generic reason. */
  reasons?: Record<string, string>;
}

const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;

/** Reads the sources and returns the entry body, valid against RegistryEntryBody. */
export function entryFromReports(s: EntrySources): RegistryEntryBody {
  const absent: Record<string, string> = {};
  const why = (path: string, reason: string) => {
    absent[path] = s.reasons?.[path] ?? reason;
  };

  // The pack: export_report.json, what its signature covers.
  const reportFile = join(s.pack, REPORT);
  if (!existsSync(reportFile)) throw new EntrySourceError(`${s.pack}: not a pack: it has no ${REPORT} (the package stage's sign step writes it)`);
  if (!existsSync(join(s.pack, SIGNATURE))) throw new EntrySourceError(`${s.pack}: the pack is not signed (no ${SIGNATURE}): run the package stage's sign step before registering it`);
  const report = readExportReport(reportFile);
  const manifestDigest = sha256FileSync(reportFile).sha256;
  // The keys publishPack writes: <prefix>/<path> (src/pack/s3-publish.ts).
  const prefix = s.published?.prefix.replace(/^\/+|\/+$/g, '');
  const files = report.files.map((f) => ({ path: f.path, sha256: f.sha256, bytes: f.bytes, ...(s.published ? { s3_uri: `s3://${s.published.bucket}/${prefix ? `${prefix}/` : ''}${f.path}` } : {}) }));
  if (!s.published) why('pack.files.s3_uri', 'the pack was not published to S3 (or where was not given): no S3 URIs');

  // The serving image: given, else what the sbom step scanned.
  const serving = servingImage(report, s.servingImage);
  if (serving.digest === null) why('serving_image_digest', serving.reason);

  const commit = report.lineage.commit;
  if (commit === null) why('commit', `${reportFile}: lineage.commit is null: ${report.lineage.commit_reason}`);

  // The evaluation.
  const evaluation = s.evalReport ? readEvalReport(s.evalReport) : undefined;
  if (!evaluation) why('summary.headline', 'no eval_report.json was given (the evaluate stage has not run for this version)');

  // The dataset: the recipe's tag from the lineage; the content digest is the sha256 of the
  // evaluated split's manifest, whose rows carry each frame's sha256 (src/schema/manifest.ts),
  // so the digest pins every frame's bytes.
  const lineageTag = typeof report.lineage.dataset === 'string' && report.lineage.dataset ? report.lineage.dataset : undefined;
  const tag = s.dataset?.tag ?? lineageTag ?? null;
  if (tag === null) why('dataset.tag', `${reportFile}: lineage has no dataset tag (the recipe's models.<name>.lineage.dataset)`);
  const manifest = s.dataset?.manifest ?? evaluation?.dataset.manifest;
  let contentDigest: string | null = null;
  let source: string | undefined;
  if (!manifest) why('dataset.content_digest', 'no dataset manifest was given, and no eval_report.json to take the evaluated split\'s from');
  else if (!existsSync(manifest)) why('dataset.content_digest', `the dataset manifest ${manifest}${s.dataset?.manifest ? '' : ` (${s.evalReport}: dataset.manifest)`} is not on this machine`);
  else {
    contentDigest = sha256FileSync(manifest).sha256;
    source = `sha256 of ${manifest} (the manifest's rows carry each frame's sha256)`;
  }

  const simSummary = s.simReport ? sim(s.simReport, s.simGate, why) : undefined;
  if (s.simGate && !s.simReport) throw new EntrySourceError(`${s.simGate}: a Sim Gate file without its sim_report.json: give both`);

  const runs: Record<string, string> = {};
  for (const k of ['package', 'evaluate', 'replay', 'sim'] as const) {
    const id = s.runs?.[k];
    if (id) runs[k] = id;
    else why(`runs.${k}`, `no ${k} run id was given`);
  }

  const body: RegistryEntryBody = {
    format: REGISTRY_ENTRY_FORMAT,
    pack: { manifest_digest: manifestDigest, files },
    serving_image_digest: serving.digest,
    commit,
    dataset: { tag, content_digest: contentDigest, ...(source ? { source } : {}) },
    runs,
    summary: {
      headline: evaluation ? headline(evaluation) : {},
      slices: evaluation ? slices(evaluation, why) : [],
      latency: latency(report, reportFile, why),
      targets: targets(report, why),
      precisions: PRECISIONS.filter((p) => report.variants.some((v) => v.precision === p)),
      calibration_cache_version: calibrationCache(s.pack, report, why),
      ...(s.replayReport ? { replay: replay(s.replayReport) } : {}),
      ...(simSummary ? { sim: simSummary.figures, ...(simSummary.gate ? { sim_gate: simSummary.gate } : {}) } : {}),
      gates: [...report.verdicts.map((v) => ({ id: v.gate, verdict: v.verdict, stage: 'package' })), ...(s.gates ?? []).map((g) => ({ id: g.id, verdict: g.verdict, ...(g.stage ? { stage: g.stage } : {}) }))],
    },
    absent,
  };
  if (!s.replayReport) why('summary.replay', 'no replay_report.json was given (the replay stage has not run for this version)');
  if (!s.simReport) why('summary.sim', 'no sim_report.json was given (the closed-loop simulation has not run for this version)');
  if (!s.simReport) why('summary.sim_gate', 'no sim_report.json, so no Sim Gate verdict');
  if (!body.summary.gates.length) why('summary.gates', 'no gate verdicts: the pack has none and none were given');
  const checked = RegistryEntryBody.safeParse(body);
  // A value read from a report that the entry schema refuses (an image digest in another form).
  if (!checked.success) throw new EntrySourceError(`the entry built from ${s.pack} does not meet ${REGISTRY_ENTRY_FORMAT}:\n${checked.error.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`).join('\n')}`);
  return checked.data;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EntrySourceError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EntrySourceError(`${file}: not JSON (${(err as Error).message})`);
  }
}

function located(file: string, list: readonly { path: PropertyKey[]; message: string }[]): EntrySourceError {
  return new EntrySourceError(list.slice(0, 8).map((i) => `${file}: ${formatPath(i.path)}: ${i.message}`).join('\n') + (list.length > 8 ? `\n(${list.length - 8} more)` : ''));
}

function readExportReport(file: string): ExportReport {
  const r = parseExportReport(readJson(file), { file });
  if (r.legacy) throw new EntrySourceError(`${file}: a paddock.export_report/1 report (from before): the registry reads ${EXPORT_REPORT_FORMAT}; sign the pack again with this paddock`);
  if (!r.report) throw new EntrySourceError(r.problems.join('\n'));
  return r.report;
}

function readEvalReport(file: string): EvalReport {
  const r = EvalReport.safeParse(readJson(file));
  if (!r.success) throw located(file, r.error.issues);
  if (!r.data.models[r.data.candidate]) throw new EntrySourceError(`${file}: candidate: "${r.data.candidate}" is not one of models (${Object.keys(r.data.models).join(', ')})`);
  return r.data;
}

/** The candidate's COCO figures, its outcome counts, and its AP delta against the baseline. */
function headline(e: EvalReport): Record<string, number> {
  const c = e.models[e.candidate];
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(c.stats)) out[`coco.${k}`] = v;
  const b = e.baseline ? e.models[e.baseline] : undefined;
  if (b) out['coco.AP.delta'] = c.stats.AP - b.stats.AP;
  // The names the evaluate step emits these under (src/steps/evaluate/evaluate.step.ts `produces`).
  out['outcomes.missed_objects'] = e.outcomes.missed;
  out['outcomes.lost_objects'] = e.outcomes.lost;
  out['outcomes.false_positives_over_0.3'] = e.outcomes.falsePositivesOver03;
  return out;
}

function slices(e: EvalReport, why: (path: string, reason: string) => void) {
  const out = [];
  for (const s of e.slices) {
    if (!s.ap) {
      why(`summary.slices.${s.slice}`, `the evaluation has no AP for slice ${s.slice}${s.note ? `: ${s.note}` : ''}`);
      continue;
    }
    out.push({ slice: s.slice, metric: 'coco.AP', value: s.ap.estimate, ci_lo: s.ap.lo, ci_hi: s.ap.hi, ...(s.delta ? { delta: s.delta.estimate } : {}), critical: s.critical });
  }
  return out;
}

/**
 * The latency of each benchmarked target, with the exact percentiles paddock's benches computed
 * (benchmarks.onnxruntime, benchmarks.pytorch) and the imported tools' figures as they define
 * them (benchmarks.imported, e.g. trtexec's nearest rank), each row naming its source.
 */
function latency(r: ExportReport, file: string, why: (path: string, reason: string) => void) {
  const out: { target: string; p50_ms: number; p95_ms: number; p99_ms: number; source: string }[] = [];
  for (const b of r.benchmarks.onnxruntime ?? []) out.push({ target: b.target, p50_ms: b.p50_ms, p95_ms: b.p95_ms, p99_ms: b.p99_ms, source: 'bench (onnxruntime)' });
  const torch = r.benchmarks.pytorch as { results?: unknown } | null;
  if (torch && Array.isArray(torch.results)) {
    torch.results.forEach((x: unknown, i) => {
      const t = x as { target?: unknown; p50_ms?: unknown; p95_ms?: unknown; p99_ms?: unknown };
      if (typeof t.target !== 'string' || ![t.p50_ms, t.p95_ms, t.p99_ms].every((v) => typeof v === 'number')) throw new EntrySourceError(`${file}: benchmarks.pytorch.results[${i}]: expected target, p50_ms, p95_ms and p99_ms`);
      out.push({ target: t.target, p50_ms: t.p50_ms as number, p95_ms: t.p95_ms as number, p99_ms: t.p99_ms as number, source: 'torch-bench' });
    });
  }
  for (const [step, rep] of Object.entries(r.benchmarks.imported)) {
    const metrics = (rep as { metrics?: unknown }).metrics;
    if (!Array.isArray(metrics)) continue;
    const byTarget = new Map<string, Record<string, number>>();
    for (const m of metrics as { name?: unknown; value?: unknown; target?: unknown }[]) {
      const q = typeof m.name === 'string' ? /^latency\.(p50|p95|p99)_ms$/.exec(m.name)?.[1] : undefined;
      if (!q || typeof m.value !== 'number' || typeof m.target !== 'string') continue;
      byTarget.set(m.target, { ...byTarget.get(m.target), [q]: m.value });
    }
    const tool = String((rep as { tool?: unknown }).tool ?? step);
    for (const [target, q] of byTarget) if (q.p50 !== undefined && q.p95 !== undefined && q.p99 !== undefined) out.push({ target, p50_ms: q.p50, p95_ms: q.p95, p99_ms: q.p99, source: `${step} (${tool})` });
  }
  if (!out.length) why('summary.latency', 'the pack has no benchmark figures (no bench, torch-bench or import-bench step ran)');
  return out;
}

/** The targets whose operator coverage passed (the coverage step's verdict per target). */
function targets(r: ExportReport, why: (path: string, reason: string) => void): string[] {
  if (!r.operator_coverage) {
    why('summary.targets', 'no coverage step ran for this pack, so no target is known to run it');
    return [];
  }
  const ok = [...new Set(r.operator_coverage.targets.filter((t) => t.ok).map((t) => t.target))];
  const failed = r.operator_coverage.targets.filter((t) => !t.ok).map((t) => t.target);
  if (failed.length) why('summary.targets', `operator coverage failed for ${[...new Set(failed)].join(', ')}`);
  return ok;
}

/** The INT8 calibration cache's header line (TRT-<version>-<calibrator>), read from the pack. */
function calibrationCache(pack: string, r: ExportReport, why: (path: string, reason: string) => void): string | null {
  const listed = r.files.find((f) => f.path === 'calibration.cache');
  if (!listed) {
    why('summary.calibration_cache_version', r.variants.some((v) => v.precision === 'int8') ? 'the INT8 variant has no calibration cache (made from a QAT checkpoint)' : 'the pack has no INT8 variant, so no calibration cache');
    return null;
  }
  const file = join(pack, listed.path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EntrySourceError(`${file}: listed in ${REPORT} but cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return parseCalibrationCache(text, file).header;
  } catch (err) {
    throw new EntrySourceError((err as Error).message);
  }
}

/** The candidate's overall tracking figures; undefined ones (null in the file, NaN in memory) are left out. */
function replay(file: string): Record<string, number> {
  const r = ReplayReport.safeParse(readJson(file));
  if (!r.success) throw located(file, r.error.issues);
  const overall = r.data.overall[r.data.candidate];
  if (!overall) throw new EntrySourceError(`${file}: overall: no figures for the candidate "${r.data.candidate}" (has ${Object.keys(r.data.overall).join(', ') || 'none'})`);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(overall)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

/**
 * The candidate's closed-loop figures (overall) and the Sim Gate's answer with the figures per
 * category; a gate file about another report (its report_sha256 differs) is refused, not attached.
 */
function sim(file: string, gateFile: string | undefined, why: (path: string, reason: string) => void): { figures: Record<string, number>; gate?: EntrySimGate } {
  const r = SimReport.safeParse(readJson(file));
  if (!r.success) throw located(file, r.error.issues);
  const report = r.data;
  const overall = report.aggregates.find((a) => a.scope === 'overall' && a.model === report.candidate);
  if (!overall) throw new EntrySourceError(`${file}: aggregates: no overall figures for the candidate "${report.candidate}"`);
  const figures: Record<string, number> = { runs: overall.runs, failed_runs: overall.failed, collisions: overall.collisions, collision_rate: overall.collisionRate.estimate, vru_near_misses: overall.vruNearMisses, offroad_incidents: overall.offroadIncidents };
  if (overall.collisionsPer1000Km !== null) figures.collisions_per_1000km = overall.collisionsPer1000Km;
  if (overall.ttcMinP5 !== null) figures.ttc_min_p5 = overall.ttcMinP5;
  if (overall.firstBrakeTtc) figures.first_brake_ttc = overall.firstBrakeTtc.estimate;
  if (overall.rmsJerk) figures.jerk_rms = overall.rmsJerk.estimate;
  const reportSha = sha256FileSync(file).sha256;
  if (!gateFile) {
    why('summary.sim_gate', 'no sim_gate.json was given (the sim-gate step has not judged this report)');
    return { figures };
  }
  const categories: Record<string, { runs: number; collisions: number; vru_near_misses: number }> = {};
  for (const a of report.aggregates) if (a.scope === 'category' && a.model === report.candidate) categories[a.key] = { runs: a.runs, collisions: a.collisions, vru_near_misses: a.vruNearMisses };
  const g = readJson(gateFile) as { format?: unknown; report_sha256?: unknown; verdict?: unknown; final?: unknown; rationale?: unknown; subject_digest?: unknown; approval?: { decision?: unknown; actor?: unknown; by?: unknown } };
  if (g.format !== 'paddock.sim-gate/1') throw new EntrySourceError(`${gateFile}: format: expected "paddock.sim-gate/1", got ${JSON.stringify(g.format)}`);
  if (g.report_sha256 !== reportSha) throw new EntrySourceError(`${gateFile}: report_sha256: the gate judged another report (${String(g.report_sha256).slice(0, 12)}) than ${file} (${reportSha.slice(0, 12)})`);
  const a = g.approval;
  const gate = EntrySimGate.safeParse({
    report_sha256: reportSha,
    candidate: report.candidate,
    baseline: report.baseline,
    verdict: g.verdict,
    final: g.final,
    rationale: g.rationale,
    approval: a && a.decision !== null && a.decision !== undefined ? { decision: a.decision, actor: a.actor, by: a.by } : null,
    subject_digest: g.subject_digest,
    categories,
  });
  if (!gate.success) throw located(gateFile, gate.error.issues);
  return { figures, gate: gate.data };
}

/**
 * The serving image's digest: as given, else the image-sbom scan's target (sbom step,
 * src/steps/package/sbom.ts: `{ image, id, repo_digests }`): a repo digest (name@sha256:...)
 * when the image was pulled or pushed, else its local id (sha256:...).
 */
function servingImage(r: ExportReport, given: string | undefined): { digest: string; reason?: undefined } | { digest: null; reason: string } {
  if (given) return { digest: given };
  if (!r.scans) return { digest: null, reason: 'the pack has no scans (its sbom step did not run), so which serving image it was checked with is not known' };
  const scan = r.scans['image-sbom'] as { status: string; reason?: string | null; target?: { image?: unknown; id?: unknown; repo_digests?: unknown } } | undefined;
  if (!scan) return { digest: null, reason: 'the pack\'s scans have no image-sbom entry, so the serving image is not known' };
  if (scan.status !== 'ran') return { digest: null, reason: `the image-sbom scan ${scan.status === 'not-run' ? 'did not run' : scan.status}${scan.reason ? `: ${scan.reason}` : ''}` };
  const digests = Array.isArray(scan.target?.repo_digests) ? (scan.target.repo_digests as unknown[]).filter((d): d is string => typeof d === 'string' && /@sha256:[0-9a-f]{64}$/.test(d)) : [];
  if (digests.length) return { digest: digests[0] };
  if (typeof scan.target?.id === 'string' && /^sha256:[0-9a-f]{64}$/.test(scan.target.id)) return { digest: scan.target.id };
  return { digest: null, reason: `the image-sbom scan names no digest for ${String(scan.target?.image ?? 'the image')}` };
}
