/**
 * The `replay` step: each drive bundle replayed through the candidate and production at the
 * recorded timing (src/replay/replay-run.ts), tracked, scored against ground truth with the
 * tracking metrics exact to TrackEval (src/replay/score.ts), compared segment by segment
 * (src/replay/divergence.ts); then the recipe's stress variants and sensor faults on the
 * candidate, each against its nominal replay, with the graceful-degradation rules. Streams the
 * per-drive and overall metrics as events; flagged segments become failures with a clip, most
 * severe first; the worst become OpenSCENARIO files (validated against the ASAM XSD). Writes
 * replay_report.json, segment_metrics.parquet, a timeline per drive (JSON for the workbench, SVG
 * for people), clips/ and scenarios/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import type { z } from 'zod';
import { emit, progressReporter } from '../emit.js';
import { openFrameDetector, type FrameDetector } from '../../replay/detector.js';
import { loadDrive, replayVariant, type DetectionCache, type LoadedDrive, type ReplayedVariant } from '../../replay/replay-run.js';
import { listBundles, readBundle } from '../../replay/bundle-files.js';
import { scoreReplay, combineScores, motFiles, type ModelScore } from '../../replay/score.js';
import { frameDivergence, segmentDivergence, segmentRanges, type DivergenceFrame, type SegmentDivergence } from '../../replay/divergence.js';
import { evaluateDegradation, type DegradationFrame } from '../../replay/degradation.js';
import { encodeClip, CLIP_COLORS, type ClipBox } from '../../replay/clip.js';
import { frameMetricsParquet, segmentMetricsParquet, timelineSvg, type FrameRow, type SegmentRow } from '../../replay/reports.js';
import { defaultRoad, intervalFromFrames } from '../../replay/scenario.js';
import { toOpenScenario, validateXosc } from '../../replay/xosc.js';
import { percentile } from '../../metrics/percentile.js';
import { ReplayTimeline } from '../../schema/replay-timeline.js';
import { ReplayReport } from '../../schema/replay-report.js';
import type { ReplayParams } from './replay.step.js';
import type { TrackingSummary } from '../../schema/replay-report.js';

type Params = z.infer<typeof ReplayParams>;

function writeArtifact(path: string, content: string | Uint8Array, role: string): void {
  writeFileSync(path, content);
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  emit({ type: 'artifact', path, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, role });
}

const round = (x: number, d = 4) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

/** What one drive's replay gives the report and the overall figures. */
interface DriveOutcome {
  driveId: string;
  file: string;
  sha256: string;
  conditions: Record<string, string>;
  frames: number;
  km: number;
  scores: Record<string, ModelScore>;
  late: Record<string, number>;
  latencies: Record<string, number[]>;
  trackerUs: number[];
  segments: SegmentDivergence[];
  /** Per model, its ghost tracks: tracker id, frames, times and where the ego was (map x, y). */
  ghosts: Record<string, { track: number; frames: [number, number]; t: [number, number]; map_xy: [number, number] | null }[]>;
  variants: { name: string; kind: string; consumed: ReplayedVariant['consumed']; score: ModelScore; nominal: ModelScore; segments: SegmentDivergence[]; verdicts: ReturnType<typeof evaluateDegradation> }[];
}

export async function runReplay(p: Params): Promise<number> {
  const out = resolve(p.out);
  for (const d of ['timelines', 'clips', 'scenarios']) mkdirSync(join(out, d), { recursive: true });
  const files = listBundles(p.bundles).slice(0, p.max_drives ?? Infinity);
  if (files.length === 0) throw new Error(`replay: no drive bundles in ${p.bundles.join(', ')}`);
  const cand = p.candidate.name;
  const base = p.baseline?.name;
  const detectors: Record<string, FrameDetector> = { [cand]: await openFrameDetector(p.candidate.model) };
  if (p.baseline) detectors[p.baseline.name] = await openFrameDetector(p.baseline.model);
  const detect = Object.fromEntries(Object.entries(detectors).map(([n, d]) => [n, d.detect.bind(d)]));
  emit({ type: 'log', level: 'info', message: `replay: ${files.length} drives, timing ${p.timing}${p.timing === 'fast' ? ' (back to back; late frames from the measured latencies at the recorded rate)' : ' (each frame released at its capture time)'}, deadline ${p.deadline_ms} ms, ${p.variants.length} stress variants` });

  const outcomes: DriveOutcome[] = [];
  const rows: SegmentRow[] = [];
  const frameRows: FrameRow[] = [];
  const flaggedAll: { outcome: DriveOutcome; drive: LoadedDrive; variant: string; seg: SegmentDivergence; timeline: string; clip: ClipSource[] }[] = [];
  const progress = progressReporter('frames');
  let framesDone = 0;
  try {
    for (const [k, file] of files.entries()) {
      const { info, frames } = await readBundle(file);
      const drive = await loadDrive(file, info, frames);
      emit({ type: 'log', level: 'info', message: `drive ${info.driveId} (${k + 1}/${files.length}): ${frames.length} frames at ${info.rateHz} Hz, ${Object.values(info.conditions).join(', ')}; bundle sha256 ${info.sha256}` });
      const cache: DetectionCache = new Map();
      const onFrame = (done: number) => progress(framesDone + done, undefined, `drive ${k + 1}/${files.length} ${info.driveId}`);
      const nominal = await replayVariant(drive, { models: detect, tracker: p.tracker, timing: p.timing, deadlineMs: p.deadline_ms, cache, onFrame });
      framesDone += nominal.frames.length;
      const scores = scoreReplay(drive, nominal, { ghostFrames: p.ghost_frames });
      const outcome: DriveOutcome = {
        driveId: info.driveId,
        file,
        sha256: info.sha256,
        conditions: info.conditions,
        frames: nominal.frames.length,
        km: drivenKm(drive),
        scores,
        late: Object.fromEntries(Object.keys(detect).map((n) => [n, nominal.frames.filter((f) => f.models[n].late).length])),
        latencies: Object.fromEntries(Object.keys(detect).map((n) => [n, nominal.frames.map((f) => f.models[n].latencyMs)])),
        trackerUs: [...nominal.tracks[cand].costUs],
        segments: [],
        ghosts: Object.fromEntries(Object.entries(scores).map(([n, sc]) => [n, sc.ghosts.map((g) => {
          const ego = drive.frames[g.from]?.ego;
          return { track: g.trackerId, frames: [g.from, g.to - 1] as [number, number], t: [round(g.t0, 3), round(g.t1, 3)] as [number, number], map_xy: ego ? ([round(ego.position[0], 2), round(ego.position[1], 2)] as [number, number]) : null };
        })])),
        variants: [],
      };
      // Candidate against production, segment by segment.
      const divFrames = base ? divergenceFrames(drive, nominal, scores[cand], nominal, scores[base], cand, base) : [];
      outcome.segments = base ? segmentDivergence(divFrames, frameDivergence(divFrames, p.divergence.det_score), p.divergence, { a: cand, b: base }) : [];
      rows.push(...segmentRows(outcome.driveId, 'nominal', nominal, scores, outcome.segments, cand, p.divergence.segment_s));
      frameRows.push(...frameRowsOf(outcome.driveId, 'nominal', nominal, scores));
      // The scored sequences as MOTChallenge files: TrackEval (or `paddock eval tracking`) scores them again.
      const motDir = join(out, 'mot', info.driveId);
      mkdirSync(motDir, { recursive: true });
      for (const [name, score] of Object.entries(scores)) {
        const mot = motFiles(score.sequence, info.driveId, info.rateHz);
        if (name === cand) {
          writeFileSync(join(motDir, 'gt.txt'), mot.gt);
          writeFileSync(join(motDir, 'seqinfo.ini'), mot.seqinfo);
        }
        writeFileSync(join(motDir, `${name}.txt`), mot.tracker);
      }
      const timelineFile = join(out, 'timelines', `${info.driveId}.json`);
      writeTimeline(timelineFile, drive, nominal, 'nominal', outcome.segments, cand, base ?? null);
      for (const seg of outcome.segments.filter((s) => s.flagged)) flaggedAll.push({ outcome, drive, variant: 'nominal', seg, timeline: timelineFile, clip: clipSources(drive, seg, nominal, cand, nominal, base) });
      emitDrive(outcome, cand, base);

      // Stress variants and sensor faults, the candidate against its own nominal replay.
      for (const v of p.variants) {
        const rv = await replayVariant(drive, { variant: v, models: { [cand]: detect[cand] }, tracker: p.tracker, timing: p.timing, deadlineMs: p.deadline_ms, cache });
        const vs = scoreReplay(drive, rv, { ghostFrames: p.ghost_frames })[cand];
        const vFrames = divergenceFrames(drive, rv, vs, nominal, scores[cand], cand, cand);
        const segs = segmentDivergence(vFrames, frameDivergence(vFrames, p.divergence.det_score), p.divergence, { a: `${cand} under ${v.name}`, b: `${cand} nominal` });
        const records: DegradationFrame[] = rv.frames.map((f, i) => ({
          delivery: f.delivery,
          timeS: f.t,
          detections: f.models[cand].dets,
          tracks: rv.tracks[cand].out[i],
          matchedGt: [...vs.matches[i].keys()],
          visibleGt: drive.frames[f.delivery.source].gt.filter((g) => !g.hard).map((g) => g.trackId),
        }));
        const verdicts = evaluateDegradation(p.degradation, records);
        outcome.variants.push({ name: v.name, kind: v.kind, consumed: rv.consumed, score: vs, nominal: scores[cand], segments: segs, verdicts });
        rows.push(...segmentRows(outcome.driveId, v.name, rv, { [cand]: vs }, segs, cand, p.divergence.segment_s));
        frameRows.push(...frameRowsOf(outcome.driveId, v.name, rv, { [cand]: vs }));
        const vTimeline = join(out, 'timelines', `${info.driveId}.${v.name}.json`);
        writeTimeline(vTimeline, drive, rv, v.name, segs, cand, null);
        for (const seg of segs.filter((s) => s.flagged)) flaggedAll.push({ outcome, drive, variant: v.name, seg, timeline: vTimeline, clip: clipSources(drive, seg, rv, cand, nominal, cand) });
        emitVariant(outcome.driveId, v.name, vs, scores[cand], rv, verdicts, cand);
      }
      writeArtifact(join(out, 'timelines', `${info.driveId}.svg`), timelineSvg({
        title: `${info.driveId}: ${Object.values(info.conditions).join(', ')}`,
        t: nominal.frames.map((f) => f.t),
        gt: nominal.frames.map((f) => drive.frames[f.delivery.source].gt.filter((g) => !g.hard).length),
        models: Object.keys(detect).map((n, i) => ({ name: n, color: i === 0 ? '#d33' : '#36c', tracked: scores[n].matches.map((m) => m.size), late: nominal.frames.map((f) => f.models[n].late) })),
        segments: outcome.segments.map((s) => ({ t0: nominal.frames[s.from].t, t1: nominal.frames[s.to - 1].t + 1 / info.rateHz, flagged: s.flagged, severity: s.severity })),
      }), 'chart');
      outcomes.push(outcome);
    }
  } finally {
    await Promise.all(Object.values(detectors).map((d) => d.close()));
  }

  // Overall and per slice: TrackEval's combination over drives.
  emitOverall(outcomes, cand, base);

  // Flagged segments, most severe first: failures with a clip; the worst as OpenSCENARIO.
  flaggedAll.sort((a, b) => b.seg.severity - a.seg.severity || a.outcome.driveId.localeCompare(b.outcome.driveId) || a.seg.index - b.seg.index);
  emit({ type: 'metric', name: 'divergence.flagged_segments', value: flaggedAll.filter((f) => f.variant === 'nominal').length, target: cand, denominators: { segments: outcomes.reduce((s, o) => s + o.segments.length, 0) } });
  const scenarios: { file: string; valid: boolean; errors: string[]; drive: string; segment: number }[] = [];
  for (const [i, f] of flaggedAll.entries()) {
    if (i >= p.max_failures) break;
    const clip = join(out, 'clips', `${f.outcome.driveId}.${f.variant}.seg${f.seg.index}.gif`);
    writeArtifact(clip, clipOf(f.drive, f.clip), 'clip');
    const sources = [f.clip[0]?.source ?? 0, f.clip[f.clip.length - 1]?.source ?? 0];
    emit({
      type: 'failure',
      id: `replay/${f.outcome.driveId}/${f.variant}/seg${f.seg.index}`,
      kind: 'replay-divergence',
      severity: f.seg.severity >= 3 ? 'critical' : f.seg.severity >= 1 ? 'major' : 'minor',
      title: `${f.outcome.driveId} ${f.variant === 'nominal' ? '' : `under ${f.variant} `}${timeRange(f)}: ${f.seg.reasons.join('; ')}`.slice(0, 1000),
      evidence: [
        { path: f.drive.file, frames: [sources[0], sources[1]], note: 'bundle, processed-frame range' },
        { path: f.timeline, note: 'timeline' },
        { path: clip, note: 'clip' },
      ],
      data: { drive_id: f.outcome.driveId, variant: f.variant, segment: f.seg.index, frames: [f.seg.from, f.seg.to], timeline: f.timeline, bundle: f.drive.file, reasons: f.seg.reasons, severity: f.seg.severity, lost: f.seg.lostObjects, ttfd: f.seg.ttfd, conditions: f.outcome.conditions },
    });
  }
  for (const f of flaggedAll.filter((x) => x.variant === 'nominal').slice(0, p.export_scenarios)) {
    const from = f.seg.from;
    const to = f.seg.to - 1;
    // The road as the bundle records it (the world's do); else the world's layout for its road type.
    const r = f.drive.info.road;
    const layout = defaultRoad(f.drive.info.conditions.road_type);
    const road = r ? { kind: 'generated' as const, ...r, curvature: 0, roadType: layout.kind === 'generated' ? layout.roadType : 'town' } : undefined;
    const interval = intervalFromFrames(f.drive.frames, f.drive.info, from, to, { reason: f.seg.reasons.join('; '), ...(road ? { road } : {}) });
    const name = `${f.outcome.driveId}-seg${f.seg.index}`;
    const xodrName = `${name}.xodr`;
    const doc = toOpenScenario(interval, { xodrFile: xodrName });
    const file = join(out, 'scenarios', `${name}.xosc`);
    if (doc.xodr) writeArtifact(join(out, 'scenarios', xodrName), doc.xodr, 'opendrive');
    writeArtifact(file, doc.xosc, 'openscenario');
    const check = await validateXosc(file);
    scenarios.push({ file, valid: check.ok, errors: check.errors, drive: f.outcome.driveId, segment: f.seg.index });
    if (!check.ok) emit({ type: 'log', level: 'error', message: `${basename(file)} does not validate against the OpenSCENARIO XSD: ${check.errors.slice(0, 3).join('; ')}` });
  }
  emit({ type: 'metric', name: 'divergence.scenarios_exported', value: scenarios.length, target: cand });

  writeArtifact(join(out, 'segment_metrics.parquet'), await segmentMetricsParquet(rows), 'segment-metrics');
  writeArtifact(join(out, 'frame_metrics.parquet'), await frameMetricsParquet(frameRows), 'frame-metrics');
  const report = reportOf(p, outcomes, flaggedAll.length, scenarios);
  writeArtifact(join(out, 'replay_report.json'), `${JSON.stringify(ReplayReport.parse(report), null, 2)}\n`, 'replay-report');
  return scenarios.some((s) => !s.valid) ? 1 : 0;
}

function timeRange(f: { seg: SegmentDivergence; drive: LoadedDrive }): string {
  return `frames ${f.seg.from}-${f.seg.to - 1}`;
}

/** Distance the ego drove, km, from its poses (0 when the bundle has none). */
function drivenKm(drive: LoadedDrive): number {
  let m = 0;
  let prev: [number, number, number] | undefined;
  for (const f of drive.frames) {
    if (!f.ego) continue;
    if (prev) m += Math.hypot(f.ego.position[0] - prev[0], f.ego.position[1] - prev[1], f.ego.position[2] - prev[2]);
    prev = f.ego.position;
  }
  return m / 1000;
}

/** The per-frame input of the divergence: side a (its replay and scores) against side b, aligned by source frame. */
function divergenceFrames(drive: LoadedDrive, ra: ReplayedVariant, sa: ModelScore, rb: ReplayedVariant, sb: ModelScore, nameA: string, nameB: string): DivergenceFrame[] {
  const bBySource = new Map(rb.frames.map((f, i) => [f.delivery.source, i]));
  return ra.frames.map((f, i) => {
    const j = bBySource.get(f.delivery.source);
    return {
      t: f.t,
      gt: drive.frames[f.delivery.source].gt.filter((g) => !g.hard).map((g) => ({ id: g.trackId, cls: g.cls })),
      a: { matches: sa.matches[i], dets: f.models[nameA].dets },
      b: j === undefined ? { matches: new Map(), dets: [] } : { matches: sb.matches[j], dets: rb.frames[j].models[nameB].dets },
    };
  });
}

/** frame_metrics.parquet rows of one replay: each model's CLEAR counts, latency and lateness per processed frame. */
function frameRowsOf(driveId: string, variant: string, r: ReplayedVariant, scores: Record<string, ModelScore>): FrameRow[] {
  return Object.entries(scores).flatMap(([model, s]) =>
    r.frames.map((f, i) => ({ drive_id: driveId, variant, model, source: f.delivery.source, t: round(f.t, 4), gt_objects: s.frames[i].gt, tracks: s.frames[i].tracks, TP: s.frames[i].TP, FP: s.frames[i].FP, FN: s.frames[i].FN, IDSW: s.frames[i].IDSW, latency_ms: round(f.models[model].latencyMs, 3), late: f.models[model].late })),
  );
}

/** segment_metrics.parquet rows of one replay: each model's tracking metrics per segment, the first model's divergence. */
function segmentRows(driveId: string, variant: string, r: ReplayedVariant, scores: Record<string, ModelScore>, segs: readonly SegmentDivergence[], cand: string, segmentS: number): SegmentRow[] {
  const out: SegmentRow[] = [];
  const ranges = segs.length ? segs.map((s) => [s.from, s.to] as [number, number]) : segmentRanges(r.frames.map((f) => f.t), segmentS);
  for (const [name, score] of Object.entries(scores)) {
    ranges.forEach(([from, to], index) => {
      const m = score.window(from, to);
      const d = name === cand ? segs[index] : undefined;
      out.push({
        drive_id: driveId,
        variant,
        model: name,
        segment: index,
        frame_from: from,
        frame_to: to,
        t_from: r.frames[from]?.t ?? 0,
        t_to: r.frames[to - 1]?.t ?? 0,
        gt_objects: m.gtIds,
        MOTA: m.MOTA,
        IDF1: m.IDF1,
        HOTA: m.HOTA,
        IDSW: m.IDSW,
        Frag: m.Frag,
        FP: m.FP,
        FN: m.FN,
        late_frames: r.frames.slice(from, to).filter((f) => f.models[name]?.late).length,
        lost_objects: d?.lostObjects.length ?? 0,
        gained_objects: d?.gainedObjects.length ?? 0,
        track_breaks: d?.breaksA ?? 0,
        detection_mismatch: d?.detMismatch ?? NaN,
        severity: d?.severity ?? 0,
        flagged: d?.flagged ?? false,
        reasons: d?.reasons.join('; ') ?? '',
      });
    });
  }
  return out;
}

/** The timeline the workbench's replay screen plays (src/schema/replay-timeline.ts). */
function writeTimeline(file: string, drive: LoadedDrive, r: ReplayedVariant, variant: string, segs: readonly SegmentDivergence[], cand: string, base: string | null): void {
  const box = (b: readonly number[]) => b.map((v) => round(v, 2)) as [number, number, number, number];
  const timeline = {
    version: 1 as const,
    drive_id: drive.info.driveId,
    variant,
    bundle: drive.file,
    bundle_sha256: drive.info.sha256,
    rate_hz: drive.info.rateHz,
    width: drive.width,
    height: drive.height,
    candidate: cand,
    baseline: base,
    conditions: drive.info.conditions,
    frames: r.frames.map((f, i) => ({
      source: f.delivery.source,
      t: round(f.t, 4),
      gt: drive.frames[f.delivery.source].gt.map((g) => ({ id: g.trackId, cls: g.cls, box: box(g.box), hard: g.hard })),
      models: Object.fromEntries(
        Object.entries(f.models).map(([n, m]) => [n, { dets: m.dets.map((d) => ({ box: box(d.box), score: round(d.score, 3), cls: d.cls })), tracks: r.tracks[n].out[i].map((t) => ({ id: t.id, box: box(t.box), cls: t.cls, score: round(t.score, 3), coasting: t.sinceUpdate > 0 })), latency_ms: round(m.latencyMs, 3), late: m.late }]),
      ),
    })),
    segments: segs.map((s) => ({ index: s.index, from: s.from, to: s.to, flagged: s.flagged, severity: s.severity, reasons: s.reasons })),
  };
  writeArtifact(file, `${JSON.stringify(ReplayTimeline.parse(timeline))}\n`, 'replay-timeline');
}

/** What a flagged segment's clip draws per frame: ground truth, side a's tracks, side b's (by source frame). */
interface ClipSource {
  source: number;
  gt: [number, number, number, number][];
  a: [number, number, number, number][];
  b: [number, number, number, number][];
}

function clipSources(drive: LoadedDrive, seg: SegmentDivergence, ra: ReplayedVariant, nameA: string, rb: ReplayedVariant | undefined, nameB: string | undefined): ClipSource[] {
  const bBySource = new Map((rb?.frames ?? []).map((f, i) => [f.delivery.source, i]));
  return ra.frames.slice(seg.from, seg.to).map((f, k) => {
    const j = bBySource.get(f.delivery.source);
    return {
      source: f.delivery.source,
      gt: drive.frames[f.delivery.source].gt.filter((g) => !g.hard).map((g) => g.box),
      a: ra.tracks[nameA].out[seg.from + k].map((t) => t.box),
      b: rb && nameB && j !== undefined ? rb.tracks[nameB].out[j].map((t) => t.box) : [],
    };
  });
}

/** A flagged segment as a GIF: ground truth (green), side a's tracks (red), side b's (blue, dashed). */
function clipOf(drive: LoadedDrive, frames: readonly ClipSource[]): Uint8Array {
  const clip = frames.map((f) => {
    const boxes: ClipBox[] = [...f.gt.map((box) => ({ box, rgb: CLIP_COLORS.gt })), ...f.a.map((box) => ({ box, rgb: CLIP_COLORS.candidate })), ...f.b.map((box) => ({ box, rgb: CLIP_COLORS.baseline, dashed: true }))];
    return { rgb: drive.pixels(f.source), boxes };
  });
  return encodeClip(clip.length ? clip : [{ rgb: drive.pixels(0), boxes: [] }], drive.width, drive.height, drive.info.rateHz);
}

/** The headline tracking figures, one metric event each. */
const HEADLINE = ['HOTA', 'DetA', 'AssA', 'MOTA', 'MOTP', 'IDF1', 'IDSW', 'Frag', 'MT', 'ML', 'TID_s', 'LGD_s', 'ttfd_mean_s'] as const;

/** A model's tracking figures as metric events; `slice` undefined for the overall figures (as the evaluate stage's overall coco.AP). */
function emitTracking(s: TrackingSummary, target: string, slice: string | undefined, km: number): void {
  const den = { frames: s.frames, objects: s.gtIds };
  for (const k of HEADLINE) if (Number.isFinite(s[k])) emit({ type: 'metric', name: `tracking.${k}`, value: s[k], target, slice, denominators: den });
  emit({ type: 'metric', name: 'tracking.ghosts_per_1000_frames', value: s.frames ? (1000 * s.ghosts) / s.frames : 0, target, slice, denominators: { frames: s.frames } });
  if (km > 0) emit({ type: 'metric', name: 'tracking.ghosts_per_km', value: s.ghosts / km, target, slice, unit: '1/km', denominators: { frames: s.frames } });
}

function emitDrive(o: DriveOutcome, cand: string, base: string | undefined): void {
  for (const [name, score] of Object.entries(o.scores)) {
    emitTracking(score.summary, name, `drive=${o.driveId}`, o.km);
    emit({ type: 'metric', name: 'replay.late_frames', value: o.late[name], target: name, slice: `drive=${o.driveId}`, denominators: { frames: o.frames } });
  }
  if (base) {
    const flagged = o.segments.filter((s) => s.flagged).length;
    emit({ type: 'metric', name: 'divergence.flagged_segments', value: flagged, target: cand, slice: `drive=${o.driveId}`, denominators: { segments: o.segments.length } });
  }
}

function emitVariant(driveId: string, variant: string, s: ModelScore, nominal: ModelScore, r: ReplayedVariant, verdicts: ReturnType<typeof evaluateDegradation>, cand: string): void {
  const failed = verdicts.filter((v) => v.status === 'fail');
  emit({ type: 'log', level: failed.length ? 'warn' : 'info', message: `drive ${driveId} under ${variant}: ${r.consumed.processed}/${r.consumed.delivered} frames processed (${r.consumed.late_dropped} late, ${r.consumed.duplicates_dropped} duplicates dropped); LGD ${fmt(s.summary.LGD_s)} s (nominal ${fmt(nominal.summary.LGD_s)}), TID ${fmt(s.summary.TID_s)} s (nominal ${fmt(nominal.summary.TID_s)}), IDSW ${s.summary.IDSW} (nominal ${nominal.summary.IDSW}); rules: ${verdicts.map((v) => `${v.rule} ${v.status}`).join(', ') || 'none'}` });
  for (const v of failed) {
    const ev = v.evidence[0];
    emit({
      type: 'failure',
      id: `degradation/${driveId}/${variant}/${v.rule}`,
      kind: 'degradation-rule',
      severity: 'major',
      title: `${driveId} under ${variant}: ${v.rule} failed: ${v.reason}`.slice(0, 1000),
      evidence: ev ? [{ frames: [r.frames[ev.frames[0]]?.delivery.source ?? 0, r.frames[ev.frames[1]]?.delivery.source ?? 0], note: ev.detail }] : [],
      data: { drive_id: driveId, variant, rule: v.rule, reason: v.reason, evidence: v.evidence, model: cand },
    });
  }
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

/** Overall, per condition and per class figures, combined over drives as TrackEval combines sequences. */
function emitOverall(outcomes: readonly DriveOutcome[], cand: string, base: string | undefined): void {
  const models = base ? [cand, base] : [cand];
  const km = outcomes.reduce((s, o) => s + o.km, 0);
  for (const name of models) {
    emitTracking(combineScores(outcomes.map((o) => o.scores[name])), name, undefined, km);
    const lat = outcomes.flatMap((o) => o.latencies[name]).sort((a, b) => a - b);
    const late = outcomes.reduce((s, o) => s + o.late[name], 0);
    const frames = outcomes.reduce((s, o) => s + o.frames, 0);
    emit({ type: 'metric', name: 'replay.frames', value: frames, target: name });
    emit({ type: 'metric', name: 'replay.late_frames', value: late, target: name, denominators: { frames } });
    emit({ type: 'metric', name: 'replay.late_fraction', value: frames ? late / frames : 0, target: name, denominators: { frames } });
    for (const q of [50, 95, 99] as const) emit({ type: 'metric', name: `replay.latency_p${q}_ms`, value: percentile(lat, q / 100), target: name, unit: 'ms', denominators: { frames } });
    // Per condition: the drives recorded under it.
    const conditions = new Map<string, DriveOutcome[]>();
    for (const o of outcomes) for (const [k, v] of Object.entries(o.conditions)) conditions.set(`${k}=${v}`, [...(conditions.get(`${k}=${v}`) ?? []), o]);
    for (const [slice, os] of [...conditions].sort(([a], [b]) => a.localeCompare(b))) emitTracking(combineScores(os.map((o) => o.scores[name])), name, slice, os.reduce((s, o) => s + o.km, 0));
    // Per class: each class tracked and scored on its own, as TrackEval does.
    const classes = [...new Set(outcomes.flatMap((o) => Object.keys(o.scores[name].perClass)))].sort();
    for (const c of classes) emitTracking(combineScores(outcomes.flatMap((o) => (o.scores[name].perClass[c] ? [o.scores[name].perClass[c]] : []))), name, `class=${c}`, km);
  }
  const us = outcomes.flatMap((o) => o.trackerUs);
  emit({ type: 'metric', name: 'replay.tracker_us_per_frame', value: us.length ? us.reduce((a, b) => a + b, 0) / us.length : 0, target: cand, unit: 'us', denominators: { frames: us.length } });
  if (base) emit({ type: 'metric', name: 'divergence.lost_objects', value: outcomes.reduce((s, o) => s + o.segments.reduce((t, g) => t + g.lostObjects.length, 0), 0), target: cand, denominators: { segments: outcomes.reduce((s, o) => s + o.segments.length, 0) } });
  // Stress variants over all drives, against the nominal replay.
  const names = [...new Set(outcomes.flatMap((o) => o.variants.map((v) => v.name)))];
  for (const v of names) {
    const runs = outcomes.flatMap((o) => o.variants.filter((x) => x.name === v));
    const s = combineScores(runs.map((r) => r.score));
    const n = combineScores(runs.map((r) => r.nominal));
    const slice = `variant=${v}`;
    for (const k of ['HOTA', 'MOTA', 'IDF1', 'IDSW', 'Frag', 'TID_s', 'LGD_s', 'ttfd_mean_s'] as const) {
      if (Number.isFinite(s[k])) emit({ type: 'metric', name: `stress.${k}`, value: s[k], target: cand, slice, denominators: { frames: s.frames } });
      if (Number.isFinite(s[k]) && Number.isFinite(n[k])) emit({ type: 'metric', name: `stress.${k}.delta`, value: s[k] - n[k], target: cand, slice });
    }
    emit({ type: 'metric', name: 'stress.frames_processed', value: runs.reduce((a, r) => a + r.consumed.processed, 0), target: cand, slice, denominators: { frames: runs.reduce((a, r) => a + r.consumed.delivered, 0) } });
    const rules = [...new Set(runs.flatMap((r) => r.verdicts.map((x) => x.rule)))];
    for (const rule of rules) {
      const vs = runs.flatMap((r) => r.verdicts.filter((x) => x.rule === rule));
      const judged = vs.filter((x) => x.status !== 'skipped');
      if (!judged.length) {
        emit({ type: 'log', level: 'info', message: `degradation rule ${rule} under ${v}: skipped (${vs[0]?.reason ?? 'nothing it concerns'})` });
        continue;
      }
      emit({ type: 'metric', name: `degradation.${rule}`, value: judged.every((x) => x.status === 'pass') ? 1 : 0, target: cand, slice, denominators: { drives: judged.length } });
    }
  }
}

function reportOf(p: Params, outcomes: readonly DriveOutcome[], flagged: number, scenarios: { file: string; valid: boolean; errors: string[]; drive: string; segment: number }[]) {
  const models = [p.candidate.name, ...(p.baseline ? [p.baseline.name] : [])];
  return {
    version: 1 as const,
    candidate: p.candidate.name,
    baseline: p.baseline?.name ?? null,
    timing: p.timing,
    deadline_ms: p.deadline_ms,
    tracker: p.tracker,
    divergence: p.divergence,
    drives: outcomes.map((o) => ({
      drive_id: o.driveId,
      bundle: o.file,
      sha256: o.sha256,
      conditions: o.conditions,
      frames: o.frames,
      km: round(o.km, 3),
      models: Object.fromEntries(Object.entries(o.scores).map(([n, s]) => [n, { ...s.summary, late_frames: o.late[n], objects: s.objects.map((x) => ({ ...x, ttfd_s: x.ttfd_s === null ? null : round(x.ttfd_s, 4), lgd_s: x.lgd_s === null ? null : round(x.lgd_s, 4) })) }])),
      segments: o.segments.length,
      ghosts: o.ghosts,
      flagged_segments: o.segments.filter((s) => s.flagged).map((s) => ({ index: s.index, from: s.from, to: s.to, severity: s.severity, reasons: s.reasons })),
      variants: o.variants.map((v) => ({ name: v.name, kind: v.kind, consumed: v.consumed, summary: v.score.summary, verdicts: v.verdicts, flagged_segments: v.segments.filter((s) => s.flagged).length })),
    })),
    overall: Object.fromEntries(models.map((n) => [n, combineScores(outcomes.map((o) => o.scores[n]))])),
    flagged_segments: flagged,
    scenarios: scenarios.map((s) => ({ ...s, errors: s.errors.slice(0, 5) })),
  };
}
