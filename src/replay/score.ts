/**
 * A replay scored against ground truth with the tracking metrics exact to TrackEval
 * (src/metrics/tracking.ts): per model, over the drive's frames in capture order, one slot per
 * bundle frame. A slot the model never processed (a dropped frame, one the input queue discarded)
 * has no tracker output, so a stress variant's lost frames count as the misses they are and
 * continuity is measured in the drive's time, not in processed frames.
 *
 * Hard objects (too small, hidden or far; the COCO crowd regions of the world's datasets) are
 * distractors, as in TrackEval's MOTChallenge preprocessing: per frame, tracker boxes matched to
 * them (Hungarian on IoU >= 0.5 against every object) are removed, and they are not scored.
 * "All" is class-agnostic (any track may match any object, MOTChallenge's single class); per
 * class, each class's objects are scored against the tracks of that class, as TrackEval
 * evaluates classes separately.
 */
import { linearSumAssignment } from '../metrics/assignment.js';
import { boxIou, combineTracking, evaluateTracking, evaluateTrackingWindow, ghostTracks, tidLgd, timeToFirstDetection, type GhostRun, type TrackEvalMetrics, type TrackingFrame, type TrackingSequence } from '../metrics/tracking.js';
import type { LoadedDrive, ReplayedVariant } from './replay-run.js';
import type { GtObject, TrackBox } from './types.js';
import type { TrackingSummary } from '../schema/replay-report.js';

/** What a segment's own evaluation gives the segment table. */
export interface WindowFigures {
  MOTA: number;
  IDF1: number;
  HOTA: number;
  IDSW: number;
  Frag: number;
  FP: number;
  FN: number;
  gtIds: number;
}

export interface ObjectFigures {
  id: number;
  cls: string;
  first_frame: number;
  /** Frames and seconds from its first visible frame to its first tracked one; null: never tracked. */
  ttfd_frames: number | null;
  ttfd_s: number | null;
  lgd_s: number | null;
  /** Runs of visible frames without its track between its first and last tracked frame (continuity breaks). */
  gaps: number;
  tracked_frames: number;
  visible_frames: number;
}

export interface FrameFigures {
  gt: number;
  tracks: number;
  TP: number;
  FP: number;
  FN: number;
  IDSW: number;
}

export interface ModelScore {
  /** What was scored: one frame per bundle frame, distractors removed (written as MOTChallenge files by motFiles). */
  sequence: TrackingSequence;
  metrics: TrackEvalMetrics;
  summary: TrackingSummary;
  /** Per processed frame: GT id -> the model's track id (CLEAR's match there). */
  matches: Map<number, number>[];
  ghosts: (GhostRun & { t0: number; t1: number })[];
  /** Per object, seconds from its first visible frame to its first tracked one (null: never). */
  ttfd: { id: number; cls: string; seconds: number | null }[];
  /** Per object, TID and LGD in seconds (null: never tracked). */
  continuity: { id: number; tid_s: number | null; lgd_s: number | null }[];
  /** Per object: first visible frame (bundle index), time to first detection, TID, LGD and the gaps in its track. */
  objects: ObjectFigures[];
  /** Per processed frame: objects, tracker boxes, TP, FP, FN and ID switches (CLEAR's). */
  frames: FrameFigures[];
  perClass: Record<string, ModelScore>;
  /** The figures of processed frames [from, to) evaluated as a sequence of their own. */
  window(from: number, to: number): WindowFigures;
}

const HOTA_MEAN = (a: readonly number[]) => a.reduce((s, x) => s + x, 0) / a.length;

/** Tracker boxes of a frame with those on distractors removed (TrackEval's preprocessing rule). */
export function withoutDistractors(gt: readonly GtObject[], tracks: readonly TrackBox[]): TrackBox[] {
  const hard = gt.some((g) => g.hard);
  if (!hard || tracks.length === 0) return [...tracks];
  const cost = new Float64Array(gt.length * tracks.length);
  for (let i = 0; i < gt.length; i++) for (let j = 0; j < tracks.length; j++) {
    const iou = boxIou(gt[i].box, tracks[j].box);
    cost[i * tracks.length + j] = iou >= 0.5 - Number.EPSILON ? iou : 0;
  }
  const { rowInd, colInd } = linearSumAssignment(cost, gt.length, tracks.length, { maximize: true });
  const drop = new Set<number>();
  for (let k = 0; k < rowInd.length; k++) if (cost[rowInd[k] * tracks.length + colInd[k]] > 0 && gt[rowInd[k]].hard) drop.add(colInd[k]);
  return tracks.filter((_, j) => !drop.has(j));
}

function summarise(m: TrackEvalMetrics, cont: ModelScore['continuity'], ttfd: ModelScore['ttfd'], ghosts: number, frames: number): TrackingSummary {
  const tracked = ttfd.filter((o) => o.seconds !== null);
  const matched = cont.filter((o) => o.tid_s !== null);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  return {
    HOTA: HOTA_MEAN(m.HOTA.HOTA),
    DetA: HOTA_MEAN(m.HOTA.DetA),
    AssA: HOTA_MEAN(m.HOTA.AssA),
    LocA: HOTA_MEAN(m.HOTA.LocA),
    MOTA: m.CLEAR.MOTA,
    MOTP: m.CLEAR.MOTP,
    IDF1: m.Identity.IDF1,
    IDP: m.Identity.IDP,
    IDR: m.Identity.IDR,
    IDSW: m.CLEAR.IDSW,
    Frag: m.CLEAR.Frag,
    MT: m.CLEAR.MT,
    PT: m.CLEAR.PT,
    ML: m.CLEAR.ML,
    TP: m.CLEAR.CLR_TP,
    FP: m.CLEAR.CLR_FP,
    FN: m.CLEAR.CLR_FN,
    gtIds: m.Count.GT_IDs,
    frames,
    TID_s: mean(matched.map((o) => o.tid_s!)),
    LGD_s: mean(matched.map((o) => o.lgd_s!)),
    ttfd_mean_s: mean(tracked.map((o) => o.seconds!)),
    never_tracked: ttfd.length - tracked.length,
    ghosts,
  };
}

function scoreSequence(seq: TrackingSequence, slotOfFrame: readonly number[], slotTimes: readonly number[], cls: ReadonlyMap<number, string>, period: number, ghostFrames: number, withClasses?: () => Record<string, ModelScore>): ModelScore {
  const ev = evaluateTracking(seq);
  const bySlot = ev.clearMatches.map((m) => new Map(m.pairs.map(([g, t]) => [g, t])));
  const tl = tidLgd(seq, ev.clearMatches, { frameIds: 'frame-numbers', stepSeconds: period });
  const continuity = Object.entries(tl.per_object).map(([id, o]) => ({ id: Number(id), tid_s: o.tid_steps === null ? null : o.tid_steps * period, lgd_s: o.lgd_steps === null ? null : o.lgd_steps * period }));
  const ttfdRaw = timeToFirstDetection(seq, ev.clearMatches, period);
  const ttfd = ttfdRaw.map((o) => ({ id: o.gtId, cls: cls.get(o.gtId) ?? '?', seconds: o.firstMatchedFrame === null ? null : slotTimes[o.firstMatchedFrame] - slotTimes[o.firstFrame] }));
  const ghosts = ghostTracks(seq, ev.clearMatches, ghostFrames).map((g) => ({ ...g, t0: slotTimes[g.from], t1: slotTimes[g.to - 1] }));
  const { clearMatches, ...metrics } = ev;
  void clearMatches;
  // Per object: visible slots, tracked slots, gaps between its first and last tracked slot.
  const seen = new Map<number, number[]>();
  seq.frames.forEach((f, t) => f.gt.forEach((g) => seen.set(g.id, [...(seen.get(g.id) ?? []), t])));
  const first = new Map(ttfdRaw.map((o) => [o.gtId, o]));
  const lgdOf = new Map(continuity.map((o) => [o.id, o.lgd_s]));
  const objects: ObjectFigures[] = [...seen].sort(([a], [b]) => a - b).map(([id, slots]) => {
    const tracked = slots.filter((t) => bySlot[t].has(id));
    let gaps = 0;
    if (tracked.length) {
      const lo = tracked[0];
      const hi = tracked[tracked.length - 1];
      let inGap = false;
      for (const t of slots) {
        if (t < lo || t > hi) continue;
        const hit = bySlot[t].has(id);
        if (!hit && !inGap) gaps++;
        inGap = !hit;
      }
    }
    const fd = first.get(id)!;
    return { id, cls: cls.get(id) ?? '?', first_frame: fd.firstFrame, ttfd_frames: fd.frames, ttfd_s: fd.firstMatchedFrame === null ? null : slotTimes[fd.firstMatchedFrame] - slotTimes[fd.firstFrame], lgd_s: lgdOf.get(id) ?? null, gaps, tracked_frames: tracked.length, visible_frames: slots.length };
  });
  // Per slot: CLEAR's counts; an ID switch where an object's track differs from the one it last had.
  const last = new Map<number, number>();
  const slotFigures: FrameFigures[] = seq.frames.map((f, t) => {
    let idsw = 0;
    for (const [g, tr] of bySlot[t]) {
      if (last.has(g) && last.get(g) !== tr) idsw++;
      last.set(g, tr);
    }
    const tp = bySlot[t].size;
    return { gt: f.gt.length, tracks: f.tracker.length, TP: tp, FP: f.tracker.length - tp, FN: f.gt.length - tp, IDSW: idsw };
  });
  return {
    sequence: seq,
    metrics,
    summary: summarise(metrics, continuity, ttfd, ghosts.length, slotOfFrame.length),
    matches: slotOfFrame.map((s) => bySlot[s]),
    ghosts,
    ttfd,
    continuity,
    objects,
    frames: slotOfFrame.map((t) => slotFigures[t]),
    perClass: withClasses?.() ?? {},
    window(from, to) {
      const lo = slotOfFrame[from] ?? 0;
      const hi = to > from ? slotOfFrame[to - 1] + 1 : lo;
      const w = evaluateTrackingWindow(seq, lo, hi);
      return { MOTA: w.CLEAR.MOTA, IDF1: w.Identity.IDF1, HOTA: HOTA_MEAN(w.HOTA.HOTA), IDSW: w.CLEAR.IDSW, Frag: w.CLEAR.Frag, FP: w.CLEAR.CLR_FP, FN: w.CLEAR.CLR_FN, gtIds: w.Count.GT_IDs };
    },
  };
}

export interface ScoreOptions {
  /** A confirmed track matching no object for at least this many frames is a ghost. */
  ghostFrames: number;
}

/** Each model of a replay scored over the drive's frames (class-agnostic, and per class). */
export function scoreReplay(drive: LoadedDrive, r: ReplayedVariant, opts: ScoreOptions): Record<string, ModelScore> {
  const slots = drive.frames.length;
  const period = 1 / drive.info.rateHz;
  const slotTimes = drive.frames.map((f) => Number(f.captureNs - drive.frames[0].captureNs) / 1e9);
  const slotOfFrame = r.frames.map((f) => f.delivery.source);
  const cls = new Map<number, string>();
  for (const f of drive.frames) for (const g of f.gt) cls.set(g.trackId, g.cls);
  const out: Record<string, ModelScore> = {};
  for (const name of Object.keys(r.tracks)) {
    // Tracker output by slot; a slot no processed frame fills stays empty.
    const tracksAt: TrackBox[][] = Array.from({ length: slots }, () => []);
    r.frames.forEach((f, i) => (tracksAt[f.delivery.source] = withoutDistractors(drive.frames[f.delivery.source].gt, r.tracks[name].out[i])));
    const sequence = (keep: (c: string) => boolean): TrackingSequence => ({
      frames: drive.frames.map((f, s): TrackingFrame => ({
        gt: f.gt.filter((g) => !g.hard && keep(g.cls)).map((g) => ({ id: g.trackId, box: g.box })),
        tracker: tracksAt[s].filter((t) => keep(t.cls)).map((t) => ({ id: t.id, box: t.box })),
      })),
    });
    const classes = [...new Set(drive.frames.flatMap((f) => f.gt.filter((g) => !g.hard).map((g) => g.cls)))].sort();
    out[name] = scoreSequence(sequence(() => true), slotOfFrame, slotTimes, cls, period, opts.ghostFrames, () =>
      Object.fromEntries(classes.map((c) => [c, scoreSequence(sequence((x) => x === c), slotOfFrame, slotTimes, cls, period, opts.ghostFrames)])),
    );
  }
  return out;
}

/** Scores of several drives combined: TrackEval's COMBINED_SEQ for its metrics; per-object means for TID, LGD, TTFD; sums of ghosts and frames. */
export function combineScores(scores: readonly ModelScore[]): TrackingSummary {
  if (scores.length === 0) throw new Error('combineScores: no scores');
  const m = combineTracking(scores.map((s) => s.metrics));
  const continuity = scores.flatMap((s) => s.continuity);
  const ttfd = scores.flatMap((s) => s.ttfd);
  const summary = summarise({ ...m, Count: { ...m.Count, GT_IDs: scores.reduce((a, s) => a + s.metrics.Count.GT_IDs, 0) } }, continuity, ttfd, scores.reduce((a, s) => a + s.ghosts.length, 0), scores.reduce((a, s) => a + s.summary.frames, 0));
  return summary;
}

/**
 * A scored sequence as MOTChallenge files (gt.txt, tracker.txt, seqinfo.ini), so TrackEval or
 * `paddock eval tracking` can score the replay again from outside. Numbers are written in their
 * shortest exact form, so a reader parses the very doubles that were scored.
 */
export function motFiles(seq: TrackingSequence, name: string, rateHz: number): { gt: string; tracker: string; seqinfo: string } {
  const rows = (pick: (f: TrackingFrame) => TrackingFrame['gt'], tail: string) =>
    seq.frames.flatMap((f, t) => pick(f).map((b) => `${t + 1},${b.id},${b.box.map(String).join(',')},${tail}`)).join('\n');
  const text = (s: string) => (s ? `${s}\n` : '');
  return {
    gt: text(rows((f) => f.gt, '1,1,1')),
    tracker: text(rows((f) => f.tracker, '1,-1,-1,-1')),
    seqinfo: `[Sequence]\nname=${name}\nframeRate=${rateHz}\nseqLength=${seq.frames.length}\n`,
  };
}
