/**
 * Divergence between two models replayed on the same frames (the candidate against production,
 * or a stress variant against the nominal replay): per frame, which ground-truth objects one
 * model tracks and the other does not, whose track broke (a new id, or re-acquired after a gap),
 * how well their detections agree box for box; per segment (a window of frames, e.g. 2 s), the
 * sums, the time-to-first-detection differences of the objects that appear in it, a severity and
 * whether the recipe's thresholds flag it. Pure: matches in, numbers out.
 *
 * "Tracks an object" means the model's confirmed track is matched to it in CLEAR's per-frame
 * matching (IoU >= 0.5, src/metrics/tracking.ts), so the divergence counts what the tracking
 * metrics count.
 */
import { z } from 'zod';
import { linearSumAssignment } from '../metrics/assignment.js';
import { iouXywh } from '../model/decode.js';
import type { Detection } from './types.js';

/** One side of a frame: which GT object each of the model's tracks is matched to, and its detections. */
export interface SideFrame {
  /** GT id -> the model's track id matched to it in this frame. */
  matches: ReadonlyMap<number, number>;
  dets: readonly Detection[];
}

export interface DivergenceFrame {
  /** Stamp, seconds since the drive's first frame. */
  t: number;
  /** The ground-truth objects that count in this frame (not hard), with their class. */
  gt: readonly { id: number; cls: string }[];
  a: SideFrame;
  b: SideFrame;
}

/** What the recipe's `divergence:` says flags a segment, and the segment length. */
export const DivergenceThresholds = z
  .object({
    /** Window length, seconds. */
    segment_s: z.number().positive().default(2),
    /** An object counts as lost (or gained) in a segment when the other model tracks it and this one does not in at least this many frames of it. */
    lost_frames: z.number().int().positive().default(5),
    /** Flag when at least this many objects are lost in the segment. */
    lost_objects: z.number().int().positive().default(1),
    /** Flag when the candidate's track breaks exceed the other's by at least this many. */
    extra_breaks: z.number().int().positive().default(2),
    /** Flag when an object appearing in the segment is first tracked this much later (s). */
    ttfd_s: z.number().positive().default(0.5),
    /** Flag when this fraction of the two models' detections (score >= det_score) do not match each other. */
    detection_mismatch: z.number().positive().max(1).default(0.5),
    det_score: z.number().min(0).max(1).default(0.3),
    /** Weights of a lost object by class in the severity (vulnerable road users first). */
    class_weight: z.record(z.string(), z.number().nonnegative()).default({ pedestrian: 3, cyclist: 2, car: 1 }),
  })
  .strict();
export type DivergenceThresholds = z.infer<typeof DivergenceThresholds>;

export interface FrameDivergence {
  /** GT ids tracked by b and not by a (a "lost" them), and the reverse. */
  lost: number[];
  gained: number[];
  /** GT ids whose a-track (b-track) broke at this frame: a new track id, or re-acquired after a gap. */
  breaksA: number[];
  breaksB: number[];
  /** Detections of a and b (score >= det_score) matched one to one (IoU >= 0.5, same class), and those of each left over. */
  detMatched: number;
  detOnlyA: number;
  detOnlyB: number;
  /** Mean IoU of the matched detection pairs (NaN when none). */
  detMeanIou: number;
}

/** Per-frame divergence of a from b, in frame order (break state runs across the frames given). */
export function frameDivergence(frames: readonly DivergenceFrame[], detScore = 0.3): FrameDivergence[] {
  const lastA = new Map<number, number>();
  const lastB = new Map<number, number>();
  const wasA = new Set<number>();
  const wasB = new Set<number>();
  const breaks = (side: SideFrame, last: Map<number, number>, was: Set<number>, present: readonly { id: number }[]) => {
    const out: number[] = [];
    for (const { id } of present) {
      const track = side.matches.get(id);
      if (track === undefined) {
        was.delete(id);
        continue;
      }
      const prev = last.get(id);
      if (prev !== undefined && (prev !== track || !was.has(id))) out.push(id);
      last.set(id, track);
      was.add(id);
    }
    return out;
  };
  return frames.map((f) => {
    const lost: number[] = [];
    const gained: number[] = [];
    for (const { id } of f.gt) {
      const inA = f.a.matches.has(id);
      const inB = f.b.matches.has(id);
      if (inB && !inA) lost.push(id);
      if (inA && !inB) gained.push(id);
    }
    const det = matchDetections(f.a.dets.filter((d) => d.score >= detScore), f.b.dets.filter((d) => d.score >= detScore));
    return { lost, gained, breaksA: breaks(f.a, lastA, wasA, f.gt), breaksB: breaks(f.b, lastB, wasB, f.gt), ...det };
  });
}

/** One-to-one matching of two detection sets by IoU (>= 0.5, same class), maximising total IoU. */
export function matchDetections(a: readonly Detection[], b: readonly Detection[]): { detMatched: number; detOnlyA: number; detOnlyB: number; detMeanIou: number } {
  if (a.length === 0 || b.length === 0) return { detMatched: 0, detOnlyA: a.length, detOnlyB: b.length, detMeanIou: NaN };
  const cost = new Float64Array(a.length * b.length);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) {
    const iou = a[i].cls === b[j].cls ? iouXywh(a[i].box, b[j].box) : 0;
    cost[i * b.length + j] = iou >= 0.5 ? iou : 0;
  }
  const { rowInd, colInd } = linearSumAssignment(cost, a.length, b.length, { maximize: true });
  let matched = 0;
  let sum = 0;
  for (let k = 0; k < rowInd.length; k++) {
    const v = cost[rowInd[k] * b.length + colInd[k]];
    if (v > 0) {
      matched++;
      sum += v;
    }
  }
  return { detMatched: matched, detOnlyA: a.length - matched, detOnlyB: b.length - matched, detMeanIou: matched ? sum / matched : NaN };
}

export interface SegmentDivergence {
  index: number;
  /** Frame range [from, to) of the frames given. */
  from: number;
  to: number;
  /** Objects lost (gained) in at least `lost_frames` frames of the segment, with their class. */
  lostObjects: { id: number; cls: string; frames: number }[];
  gainedObjects: { id: number; cls: string; frames: number }[];
  breaksA: number;
  breaksB: number;
  /** Objects first seen in this segment: seconds from first seen to first tracked by a and by b (null: never in the drive). */
  ttfd: { id: number; cls: string; a: number | null; b: number | null }[];
  detMismatch: number;
  detMeanIou: number;
  severity: number;
  flagged: boolean;
  reasons: string[];
}

/** Frames of a drive cut into windows of `segment_s` by stamp (the last one may be shorter). */
export function segmentRanges(times: readonly number[], segmentS: number): [number, number][] {
  const out: [number, number][] = [];
  if (times.length === 0) return out;
  const t0 = times[0];
  let from = 0;
  let k = Math.floor((times[0] - t0) / segmentS);
  for (let i = 1; i <= times.length; i++) {
    const ki = i < times.length ? Math.floor((times[i] - t0) / segmentS + 1e-9) : Infinity;
    if (ki !== k) {
      out.push([from, i]);
      from = i;
      k = ki;
    }
  }
  return out;
}

/** Segments of a drive with their divergence, severity and flags (a against b). */
export function segmentDivergence(frames: readonly DivergenceFrame[], perFrame: readonly FrameDivergence[], th: DivergenceThresholds, labels = { a: 'candidate', b: 'baseline' }): SegmentDivergence[] {
  // First seen / first tracked per object over the whole drive.
  const first = new Map<number, { seen: number; cls: string; a: number | null; b: number | null }>();
  frames.forEach((f, i) => {
    for (const g of f.gt) {
      let o = first.get(g.id);
      if (!o) first.set(g.id, (o = { seen: i, cls: g.cls, a: null, b: null }));
      if (o.a === null && f.a.matches.has(g.id)) o.a = i;
      if (o.b === null && f.b.matches.has(g.id)) o.b = i;
    }
  });
  const weight = (cls: string) => th.class_weight[cls] ?? 1;
  return segmentRanges(frames.map((f) => f.t), th.segment_s).map(([from, to], index) => {
    const lostCount = new Map<number, number>();
    const gainedCount = new Map<number, number>();
    const cls = new Map<number, string>();
    let breaksA = 0;
    let breaksB = 0;
    let matched = 0;
    let only = 0;
    let iouSum = 0;
    for (let i = from; i < to; i++) {
      for (const g of frames[i].gt) cls.set(g.id, g.cls);
      for (const id of perFrame[i].lost) lostCount.set(id, (lostCount.get(id) ?? 0) + 1);
      for (const id of perFrame[i].gained) gainedCount.set(id, (gainedCount.get(id) ?? 0) + 1);
      breaksA += perFrame[i].breaksA.length;
      breaksB += perFrame[i].breaksB.length;
      matched += perFrame[i].detMatched;
      only += perFrame[i].detOnlyA + perFrame[i].detOnlyB;
      if (perFrame[i].detMatched) iouSum += perFrame[i].detMeanIou * perFrame[i].detMatched;
    }
    const objects = (m: Map<number, number>) => [...m].filter(([, n]) => n >= th.lost_frames).map(([id, n]) => ({ id, cls: cls.get(id) ?? '?', frames: n })).sort((x, y) => x.id - y.id);
    const lostObjects = objects(lostCount);
    const gainedObjects = objects(gainedCount);
    const ttfd = [...first].filter(([, o]) => o.seen >= from && o.seen < to).map(([id, o]) => ({ id, cls: o.cls, a: o.a === null ? null : frames[o.a].t - frames[o.seen].t, b: o.b === null ? null : frames[o.b].t - frames[o.seen].t })).sort((x, y) => x.id - y.id);
    const total = 2 * matched + only;
    const detMismatch = total ? only / total : 0;
    const reasons: string[] = [];
    let severity = 0;
    if (lostObjects.length >= th.lost_objects) {
      reasons.push(`${labels.a} lost ${lostObjects.map((o) => `${o.cls} #${o.id} (${o.frames} frames)`).join(', ')} that ${labels.b} tracks`);
    }
    severity += lostObjects.reduce((s, o) => s + weight(o.cls) * (o.frames / Math.max(1, to - from)), 0) * 2;
    if (breaksA - breaksB >= th.extra_breaks) reasons.push(`${breaksA} track breaks against ${breaksB}`);
    severity += Math.max(0, breaksA - breaksB) * 0.25;
    const late = ttfd.filter((o) => o.b !== null && (o.a === null || o.a - o.b >= th.ttfd_s));
    if (late.length) reasons.push(`first tracked later: ${late.map((o) => `${o.cls} #${o.id} ${o.a === null ? 'never' : `+${(o.a - o.b!).toFixed(1)} s`}`).join(', ')}`);
    severity += late.reduce((s, o) => s + weight(o.cls) * Math.min(2, o.a === null ? 2 : o.a - o.b!), 0);
    if (detMismatch >= th.detection_mismatch && only >= 3) reasons.push(`${(detMismatch * 100).toFixed(0)}% of detections unmatched between the models`);
    severity += detMismatch * 0.5;
    return { index, from, to, lostObjects, gainedObjects, breaksA, breaksB, ttfd, detMismatch, detMeanIou: matched ? iouSum / matched : NaN, severity: Math.round(severity * 1000) / 1000, flagged: reasons.length > 0, reasons };
  });
}
