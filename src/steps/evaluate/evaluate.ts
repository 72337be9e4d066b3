/**
 * The `evaluate` step: runs the candidate (and the baseline) over a manifest with the inference
 * contract, computes COCO metrics, per-object outcomes and per-slice metrics with bootstrap
 * intervals and paired deltas, and streams them as events: the overall numbers, one group of
 * metric events per slice as it is computed (the slice table fills in live), and failures
 * ordered by their contribution to the regression. Writes eval_report.json, outcomes.jsonl,
 * pr_curves.json and evaluation_summary.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { emit, progressReporter } from '../emit.js';
import { runInference } from '../../model/infer.js';
import { evaluateCoco, STAT_NAMES } from '../../metrics/coco.js';
import { indexDetections, indexGroundTruth } from '../../metrics/coco-load.js';
import { perObjectOutcomes, prCurves, rankRegressions } from '../../evaluate/outcomes.js';
import { DEFAULT_SLICE_STATISTICS, evaluateSlices, type SliceMetric } from '../../evaluate/slices.js';
import { formatP } from '../../metrics/inference.js';
import { loadSliceFile, groundTruthFileOf } from '../../schema/manifest-load.js';
import { EvalReport } from '../../schema/eval-report.js';
import { prCurvesSvg, sliceDeltaSvg, sliceMetricsParquet } from '../../evaluate/reports.js';
import { EvaluateParams } from './evaluate.step.js';
import { testUnit } from '../../files/format.js';

export type EvaluateParams = z.infer<typeof EvaluateParams>;



function writeArtifact(path: string, content: string | Uint8Array, role: string): void {
  writeFileSync(path, content);
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  emit({ type: 'artifact', path, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, role });
}

export async function runEvaluate(p: z.infer<typeof EvaluateParams>): Promise<number> {
  const out = resolve(p.out);
  mkdirSync(out, { recursive: true });
  const gtFile = p.gt ?? groundTruthFileOf(p.manifest);
  const gtJson = JSON.parse(readFileSync(gtFile, 'utf8'));
  const gt = indexGroundTruth(gtJson, gtFile);
  const slices = loadSliceFile(p.slices);
  const models = [p.candidate, ...(p.baseline ? [p.baseline] : [])];

  const evaluated: Record<string, { dt: ReturnType<typeof indexDetections>; result: ReturnType<typeof evaluateCoco>; results: Awaited<ReturnType<typeof runInference>>['results'] }> = {};
  for (const m of models) {
    emit({ type: 'log', level: 'info', message: `inference: ${m.name} (${m.model}) over ${p.manifest}` });
    const inf = await runInference({
      modelDir: m.model,
      manifest: p.manifest,
      onProgress: (done, total) => emit({ type: 'progress', done, total, unit: 'frames', message: `${m.name} inference` }),
    });
    emit({ type: 'metric', name: 'infer.images_per_s', value: inf.timings.imagesPerSecond, target: m.name, unit: 'images/s', denominators: { frames: inf.timings.images } });
    const dt = indexDetections(inf.results, gt, `${m.name} results`);
    const result = evaluateCoco(gt.index, dt.index);
    evaluated[m.name] = { dt, result, results: inf.results };
    const objects = gtJson.annotations.filter((a: { iscrowd?: number }) => !a.iscrowd).length;
    for (const s of STAT_NAMES) emit({ type: 'metric', name: `coco.${s}`, value: result.stats[s], target: m.name, denominators: { frames: gt.index.imgIds.length, objects } });
    for (const c of result.perCategory) if (c.ap >= 0) emit({ type: 'metric', name: 'coco.AP', value: c.ap, target: m.name, slice: `class=${c.name}` });
  }
  const cand = evaluated[p.candidate.name];
  const base = p.baseline ? evaluated[p.baseline.name] : undefined;

  // Per-object outcomes; failures in order of their contribution to the regression.
  const candOutcomes = perObjectOutcomes(gt.index, cand.dt.index, cand.result);
  const frameOf = new Map<number, Record<string, unknown>>(gtJson.images.map((im: { id: number }) => [im.id, im]));
  // Frames by absolute path, so that a failure's evidence opens in any viewer (and the workbench).
  const datasetRoot = dirname(dirname(resolve(p.manifest)));
  const framePath = (im: Record<string, unknown>) => resolve(datasetRoot, String(im.file_name));
  const catName = new Map<number, string>(gtJson.categories.map((c: { id: number; name: string }) => [c.id, c.name]));
  const outcomesText = [...candOutcomes.objects.map((o) => JSON.stringify({ kind: 'object', model: p.candidate.name, ...o })), ...candOutcomes.detections.map((d) => JSON.stringify({ kind: 'detection', model: p.candidate.name, ...d }))].join('\n') + '\n';
  writeArtifact(join(out, 'outcomes.jsonl'), outcomesText, 'outcomes');
  const objById = new Map(candOutcomes.objects.map((o) => [o.annotationId, o]));
  const annById = new Map<number, { bbox: number[]; occlusion?: number; distance?: number }>(gtJson.annotations.map((a: { id: number }) => [a.id, a]));
  let regressions = 0;
  if (base) {
    const baseOutcomes = perObjectOutcomes(gt.index, base.dt.index, base.result);
    const ranked = rankRegressions(candOutcomes.objects, baseOutcomes.objects, (d) => base.results[d]?.score ?? 0);
    const lost = ranked.filter((r) => r.change === 'lost');
    regressions = lost.length;
    emit({ type: 'metric', name: 'outcomes.lost_objects', value: lost.length, target: p.candidate.name, denominators: { objects: candOutcomes.objects.filter((o) => !o.crowd).length } });
    emit({ type: 'metric', name: 'outcomes.gained_objects', value: ranked.filter((r) => r.change === 'gained').length, target: p.candidate.name });
    for (const r of lost.slice(0, p.max_failures)) {
      const im = frameOf.get(r.imageId)!;
      const ann = annById.get(r.annotationId)!;
      const cls = catName.get(r.categoryId) ?? String(r.categoryId);
      const o = objById.get(r.annotationId)!;
      emit({
        type: 'failure',
        id: `lost/${r.annotationId}`,
        kind: 'lost-object',
        severity: cls === 'car' ? 'major' : 'critical',
        title: `${cls} ${ann.distance !== undefined ? `at ${Number(ann.distance).toFixed(0)} m ` : ''}found by ${p.baseline!.name}, missed by ${p.candidate.name} (${im.time_of_day}, ${im.weather}, ${im.road_type})`,
        evidence: [{ path: framePath(im), note: `frame ${im.frame_id}` }],
        data: { annotation_id: r.annotationId, image_id: r.imageId, class: cls, bbox: ann.bbox, occlusion: ann.occlusion, distance: ann.distance, baseline_score: r.contribution, closest: o.closest, frame: { weather: im.weather, time_of_day: im.time_of_day, road_type: im.road_type, region: im.region, scene_id: im.scene_id } },
      });
    }
  }
  const missed = candOutcomes.objects.filter((o) => !o.crowd && o.at50.outcome === 'FN');
  const fps = candOutcomes.detections.filter((d) => d.at50.outcome === 'FP' && d.score >= 0.3).sort((a, b) => b.score - a.score);
  emit({ type: 'metric', name: 'outcomes.missed_objects', value: missed.length, target: p.candidate.name, denominators: { objects: candOutcomes.objects.filter((o) => !o.crowd).length } });
  emit({ type: 'metric', name: 'outcomes.false_positives_over_0.3', value: fps.length, target: p.candidate.name });
  for (const d of fps.slice(0, p.max_failures)) {
    const im = frameOf.get(d.imageId)!;
    emit({
      type: 'failure',
      id: `fp/${d.detection}`,
      kind: `false-positive/${d.at50.error}`,
      severity: d.score >= 0.6 ? 'major' : 'minor',
      title: `${catName.get(d.categoryId)} detection at score ${d.score.toFixed(2)} is a ${d.at50.error} error (${im.time_of_day}, ${im.weather}, ${im.road_type})`,
      evidence: [{ path: framePath(im), note: `frame ${im.frame_id}` }],
      data: { detection: d.detection, image_id: d.imageId, class: catName.get(d.categoryId), score: d.score, iou: d.at50.iou, bbox: cand.results[d.detection]?.bbox, frame: { weather: im.weather, time_of_day: im.time_of_day, road_type: im.road_type, region: im.region, scene_id: im.scene_id } },
    });
  }

  // Slices, streamed as they are computed; the bootstrap is most of the step's time, so it reports progress.
  const bootstrapProgress = progressReporter('replicates');
  const images = gtJson.images.slice().sort((a: { id: number }, b: { id: number }) => a.id - b.id);
  const sliceMetrics = evaluateSlices(gt.index, images, slices, { dt: cand.dt.index, result: cand.result }, base ? { dt: base.dt.index, result: base.result } : undefined, {
    replicates: p.replicates,
    seed: p.seed,
    method: p.statistics.method,
    alpha: p.statistics.alpha,
    margin: p.statistics.margin,
    maxReplicates: p.statistics.max_replicates,
    minScenes: p.statistics.min_scenes,
    minEffectiveScenes: p.statistics.min_effective_scenes,
    minObjects: p.statistics.min_objects,
    power: p.statistics.power,
    onSlice: (m) => emitSlice(m, p.candidate.name, p.baseline?.name, { min_scenes: p.statistics.min_scenes, min_effective_scenes: p.statistics.min_effective_scenes, min_objects: p.statistics.min_objects }),
    onProgress: (done, total, slice) => bootstrapProgress(done, total, `bootstrap, slice ${slice}`),
  });
  // Adjusted p-values are known only when every slice is done.
  // Each family (the critical slices, the rest) is adjusted together; its size goes with each value.
  const family = (critical: boolean) => sliceMetrics.filter((x) => x.delta && x.critical === critical).length;
  for (const m of sliceMetrics) if (m.delta) emit({ type: 'metric', name: 'coco.AP.delta_p_adjusted', value: m.delta.pAdjusted, slice: m.slice, target: p.candidate.name, unit: m.delta.adjustment, denominators: { ...m.denominators, replicates: m.delta.replicates, family: family(m.critical) } });

  const curves = prCurves(cand.result, gt.index);
  writeArtifact(join(out, 'pr_curves.json'), `${JSON.stringify(curves)}\n`, 'pr-curves');
  const report = {
    version: 1 as const,
    dataset: { manifest: p.manifest, gt: gtFile, frames: gt.index.imgIds.length },
    models: Object.fromEntries(models.map((m) => [m.name, { model: m.model, stats: evaluated[m.name].result.stats, perCategory: evaluated[m.name].result.perCategory }])),
    candidate: p.candidate.name,
    baseline: p.baseline?.name ?? null,
    bootstrap: { unit: 'scene', replicates: p.replicates, seed: p.seed, level: 0.95, method: p.statistics.method, alpha: p.statistics.alpha, margin: p.statistics.margin, max_replicates: p.statistics.max_replicates, min_scenes: p.statistics.min_scenes, min_effective_scenes: p.statistics.min_effective_scenes, min_objects: p.statistics.min_objects, power: p.statistics.power },
    slices: sliceMetrics,
    outcomes: { missed: missed.length, lost: regressions, falsePositivesOver03: fps.length },
  };
  writeArtifact(join(out, 'slice_metrics.parquet'), await sliceMetricsParquet(sliceMetrics, p.candidate.name, p.baseline?.name ?? null), 'slice-metrics');
  writeArtifact(join(out, 'slice_deltas.svg'), sliceDeltaSvg(sliceMetrics, `AP@[.5:.95] delta, ${p.candidate.name} minus ${p.baseline?.name ?? '(no baseline)'}`), 'chart');
  writeArtifact(join(out, 'pr_curves.svg'), prCurvesSvg(curves, `${p.candidate.name}: precision-recall per class (solid IoU 0.50, dashed 0.75)`), 'chart');
  // Checked against its versioned schema before it is written.
  writeArtifact(join(out, 'eval_report.json'), `${JSON.stringify(EvalReport.parse(report), null, 2)}\n`, 'eval-report');
  writeArtifact(join(out, 'evaluation_summary.md'), summaryMarkdown(report, sliceMetrics), 'evaluation-summary');
  return 0;
}

/** How a slice's numbers were computed, as the events' `ci.method` says it: "BCa scene bootstrap, 1000 replicates, seed 2216617409". */
function methodText(i: { method: string; replicates: number }, seed: number, paired = false): string {
  return `${METHOD_LABEL[i.method] ?? i.method} ${paired ? 'paired ' : ''}scene bootstrap, ${i.replicates} replicates, seed ${seed}`;
}
const METHOD_LABEL: Record<string, string> = { percentile: 'percentile', basic: 'basic', bca: 'BCa', 'percentile-expanded': 'expanded percentile', 'bca-expanded': 'expanded BCa' };

function emitSlice(m: SliceMetric, target: string, baseline: string | undefined, minimum: { min_scenes: number; min_effective_scenes: number; min_objects: number }): void {
  const den = m.denominators;
  emit({ type: 'metric', name: 'slice.critical', value: m.critical ? 1 : 0, slice: m.slice, target, denominators: den });
  emit({ type: 'metric', name: 'slice.insufficient', value: m.insufficient ? 1 : 0, slice: m.slice, target, denominators: { ...den, ...minimum } });
  if (m.apPoint === undefined || Number.isNaN(m.apPoint)) {
    emit({ type: 'log', level: 'warn', message: `slice ${m.slice}: ${m.note}` });
    return;
  }
  if (!m.ap) {
    // Too small for an interval: the point estimates only, and why.
    emit({ type: 'log', level: 'warn', message: `slice ${m.slice}: ${m.note}` });
    emit({ type: 'metric', name: 'coco.AP', value: m.apPoint, slice: m.slice, target, denominators: den });
    if (baseline && m.baselineAp !== undefined) emit({ type: 'metric', name: 'coco.AP', value: m.baselineAp, slice: m.slice, target: baseline, denominators: den });
    return;
  }
  emit({ type: 'metric', name: 'coco.AP', value: m.ap.estimate, slice: m.slice, target, ci: { lo: m.ap.lo, hi: m.ap.hi, level: m.ap.level, method: methodText(m.ap, m.seed) }, denominators: { ...den, replicates: m.ap.replicates } });
  if (baseline && m.baselineAp !== undefined) emit({ type: 'metric', name: 'coco.AP', value: m.baselineAp, slice: m.slice, target: baseline, denominators: den });
  if (m.delta) {
    const d = m.delta;
    const withB = { ...den, replicates: d.replicates };
    emit({ type: 'metric', name: 'coco.AP.delta', value: d.estimate, slice: m.slice, target, ci: { lo: d.lo, hi: d.hi, level: d.level, method: methodText(d, m.seed, true) }, denominators: withB });
    emit({ type: 'metric', name: 'coco.AP.delta.lower', value: d.lower, slice: m.slice, target, unit: testUnit({ alpha: d.alpha }), denominators: withB });
    emit({ type: 'metric', name: 'coco.AP.delta.upper', value: d.upper, slice: m.slice, target, unit: testUnit({ alpha: d.alpha }), denominators: withB });
    emit({ type: 'metric', name: 'coco.AP.delta_p', value: d.p, slice: m.slice, target, unit: testUnit({ margin: d.margin, resolution: d.pAtResolution ? 1 : 0 }), denominators: withB });
    emit({ type: 'metric', name: 'coco.AP.delta.detectable', value: d.detectable, slice: m.slice, target, unit: testUnit({ alpha: d.alpha, power: d.power }), denominators: withB });
    if (d.scenesForMargin !== null) emit({ type: 'metric', name: 'coco.AP.delta.scenes_for_margin', value: d.scenesForMargin, slice: m.slice, target, unit: testUnit({ margin: d.margin, power: d.power }), denominators: withB });
  }
}

const f3 = (x: number) => x.toFixed(3);
const signed = (x: number) => (x >= 0 ? `+${f3(x)}` : f3(x));
/** AP in points (0.037 -> "3.7"). */
const points = (x: number) => (100 * x).toFixed(1);
const ADJUSTMENT_LABEL: Record<string, string> = { holm: 'Holm', 'benjamini-hochberg': 'BH' };

/** A slice's sample sizes, the effective one first: "34 scenes with objects, 120 objects, 400 frames". */
function sizes(s: SliceMetric): string {
  const d = s.denominators;
  return `${d.scenes_with_objects} ${plural(d.scenes_with_objects, 'scene')} with objects, ${d.objects} ${plural(d.objects, 'object')}, ${d.frames} ${plural(d.frames, 'frame')}`;
}
const plural = (n: number, word: string) => (n === 1 ? word : `${word}s`);

/**
 * The one-sided p of "a regression beyond the margin", raw and adjusted, with its resolution:
 * "one-sided p < 0.005 (200 replicates), Holm-adjusted p < 0.025". At the resolution the true
 * p is below the floor, and so its adjusted value below the adjusted floor.
 */
function pText(d: NonNullable<SliceMetric['delta']>): string {
  const raw = formatP({ p: d.p, atResolution: d.pAtResolution, replicates: d.replicates });
  const adjusted = formatP({ p: d.pAdjusted, atResolution: false, replicates: d.replicates }).replace(/^p = /, d.pAtResolution ? 'p < ' : 'p = ');
  return `one-sided ${raw}, ${ADJUSTMENT_LABEL[d.adjustment] ?? d.adjustment}-adjusted ${adjusted}`;
}

/**
 * evaluation_summary.md: headline numbers; what improved and what regressed (by the one-sided
 * bounds at alpha: lower bound above 0, upper bound below 0), each with its sample sizes and the
 * one-sided adjusted p of a regression beyond the margin; the slices with too little data for
 * an interval, why, and how many more scenes with objects they need; next actions, from the
 * power of each critical slice: the smallest drop it can detect and the scenes that would
 * detect the margin (how much data to mine).
 */
export function summaryMarkdown(
  report: { candidate: string; baseline: string | null; models: Record<string, { stats: Record<string, number> }>; dataset: { frames: number }; bootstrap?: { min_scenes?: number; min_objects?: number; margin?: number; alpha?: number } },
  slices: SliceMetric[],
): string {
  const c = report.models[report.candidate].stats;
  const b = report.baseline ? report.models[report.baseline].stats : undefined;
  const minScenes = report.bootstrap?.min_scenes ?? DEFAULT_SLICE_STATISTICS.minScenes;
  const minObjects = report.bootstrap?.min_objects ?? DEFAULT_SLICE_STATISTICS.minObjects;
  const withDelta = slices.filter((s) => s.delta);
  const alpha = withDelta[0]?.delta!.alpha ?? report.bootstrap?.alpha ?? DEFAULT_SLICE_STATISTICS.alpha;
  const margin = withDelta[0]?.delta!.margin ?? report.bootstrap?.margin ?? DEFAULT_SLICE_STATISTICS.margin;
  const conf = `${Math.round(100 * (1 - alpha))}%`;
  const lines = [`# Evaluation: ${report.candidate}${report.baseline ? ` against ${report.baseline}` : ''}`, ''];
  lines.push(`${report.dataset.frames} frames. AP@[.5:.95] ${f3(c.AP)}${b ? ` (${report.baseline} ${f3(b.AP)}, ${signed(c.AP - b.AP)})` : ''}; AP50 ${f3(c.AP50)}${b ? ` (${signed(c.AP50 - b.AP50)})` : ''}; AR100 ${f3(c.AR100)}.`, '');
  if (withDelta.length) {
    lines.push(`Per slice: AP with its ${Math.round(100 * withDelta[0].delta!.level)}% scene-bootstrap interval, the paired delta with its interval and its one-sided ${conf} bounds, and the one-sided p of "the candidate is worse by more than ${f3(margin)}". Improved: the lower bound is above 0; regressed: the upper bound is below 0.`, '');
  }
  const improved = withDelta.filter((s) => s.delta!.lower > 0).sort((x, y) => y.delta!.estimate - x.delta!.estimate);
  const regressed = withDelta.filter((s) => s.delta!.upper < 0).sort((x, y) => x.delta!.estimate - y.delta!.estimate);
  const row = (s: SliceMetric) => {
    const d = s.delta!;
    return `- **${s.slice}**${s.critical ? ' (critical)' : ''}: AP ${f3(s.ap!.estimate)} [${f3(s.ap!.lo)}, ${f3(s.ap!.hi)}], delta ${signed(d.estimate)} [${signed(d.lo)}, ${signed(d.hi)}], one-sided ${conf} bounds ${signed(d.lower)} / ${signed(d.upper)}, ${pText(d)} (${sizes(s)})`;
  };
  lines.push('## What improved', '', ...(improved.length ? improved.map(row) : [`- no slice improved with its one-sided ${conf} lower bound above zero`]), '');
  lines.push('## What regressed', '', ...(regressed.length ? regressed.map(row) : [`- no slice regressed with its one-sided ${conf} upper bound below zero`]), '');
  // Too small for an interval (or with no objects at all): their point AP only, why, and what would do.
  const thinData = slices.filter((s) => s.insufficient || s.apPoint === undefined || Number.isNaN(s.apPoint));
  const moreScenes = (s: SliceMetric) => Math.max(0, minScenes - s.denominators.scenes_with_objects);
  if (thinData.length) {
    lines.push('## Insufficient data', '');
    for (const s of thinData) {
      const point = s.apPoint !== undefined && !Number.isNaN(s.apPoint) ? `AP ${f3(s.apPoint)} (point only${s.baselineAp !== undefined ? `; ${report.baseline} ${f3(s.baselineAp)}` : ''})` : 'no AP';
      const d = s.denominators;
      const need = [moreScenes(s) ? `${moreScenes(s)} more ${plural(moreScenes(s), 'scene')} with objects` : '', d.objects < minObjects ? `${minObjects - d.objects} more ${plural(minObjects - d.objects, 'object')}` : ''].filter(Boolean);
      lines.push(`- **${s.slice}**${s.critical ? ' (critical)' : ''}: ${point}, ${sizes(s)}, ${d.effective_scenes} effective ${plural(d.effective_scenes, 'scene')}; why: ${(s.note ?? 'insufficient data').replace(/^insufficient data: /, '')}; needs ${need.length ? `at least ${need.join(' and ')}` : 'more scenes with objects'}${s.critical ? '; its gate goes to review' : ''}`);
    }
    lines.push('');
  }
  lines.push('## Next actions', '');
  const worst = regressed.filter((s) => s.critical);
  if (worst.length) for (const s of worst) lines.push(`- mine more frames like slice ${s.slice} (${s.slice.replace(/\+/g, ', ')}) and retrain; its regression beyond ${f3(margin)} is significant after adjustment (${ADJUSTMENT_LABEL[s.delta!.adjustment] ?? s.delta!.adjustment}-adjusted p below ${alpha}): ${s.delta!.pAdjusted < alpha ? 'yes' : 'no'}`);
  else if (regressed.length) lines.push(`- look at the failures of ${regressed.map((s) => s.slice).join(', ')} (paddock show <run> lists them by contribution)`);
  else lines.push('- no regression to act on; review the gates');
  for (const s of thinData.filter((x) => x.critical)) lines.push(`- collect at least ${moreScenes(s) || 'a few'} more ${plural(moreScenes(s), 'scene')} with objects for critical slice ${s.slice} (${s.denominators.scenes_with_objects} now): until then it has no interval and no test`);
  // Power: what each critical slice can show, and the data that would let it show the margin.
  for (const s of withDelta.filter((x) => x.critical)) {
    const d = s.delta!;
    const forMargin =
      d.scenesForMargin === null
        ? 'no margin is set (statistics.margin 0), so no scene count to aim for'
        : d.scenesForMargin > s.denominators.scenes
          ? `about ${d.scenesForMargin} scenes would detect the margin of ${points(d.margin)} points (it has ${s.denominators.scenes} scenes: mine about ${d.scenesForMargin - s.denominators.scenes} more scenes like it)`
          : `about ${d.scenesForMargin} scenes would detect the margin of ${points(d.margin)} points; its ${s.denominators.scenes} are enough`;
    lines.push(`- ${s.slice}: this slice can only detect a drop of ${points(d.detectable)} AP points at ${Math.round(100 * d.power)}% power (one-sided, alpha ${d.alpha}; ${sizes(s)}); ${forMargin}`);
  }
  const wide = slices.filter((s) => !s.critical && s.ap && s.ap.hi - s.ap.lo > 0.2);
  if (wide.length) lines.push(`- collect more data for ${wide.map((s) => `${s.slice} (${s.denominators.scenes_with_objects} scenes with objects)`).join(', ')}: their intervals are wider than 0.2`);
  lines.push('');
  return lines.join('\n');
}
