/**
 * Per-object outcomes from a COCO evaluation: every ground-truth object and every kept detection
 * gets its outcome at IoU 0.5 and 0.75 (TP / FP / FN, or ignored), the id it matched, the IoU,
 * and for errors the kind: a detection is a duplicate, a localisation error, a class confusion
 * or background; a missed object is missed (with what came closest). Matching is exactly the
 * COCO evaluation's (area "all", 100 detections), so these outcomes add up to its numbers.
 *
 * With a baseline evaluated on the same frames, `rankRegressions` orders the candidate's missed
 * objects by what they cost: objects the baseline found and the candidate lost come first.
 */
import type { CocoDtIndex, CocoEvalResult, CocoGtIndex } from '../metrics/coco.js';
import { IOU_THRESHOLDS } from '../metrics/coco.js';

export type DetectionError = 'duplicate' | 'localisation' | 'class-confusion' | 'background';

export interface ThresholdOutcome {
  outcome: 'TP' | 'FP' | 'FN' | 'ignored';
  /** For a detection: the annotation id it matched; for an object: the detection (results index) that matched it. */
  matchedId: number | null;
  /** IoU with the match, or with the closest box when unmatched. */
  iou: number;
  error?: DetectionError | 'missed';
}

export interface DetectionOutcome {
  /** Index in the results list. */
  detection: number;
  imageId: number;
  categoryId: number;
  score: number;
  at50: ThresholdOutcome;
  at75: ThresholdOutcome;
}

export interface ObjectOutcome {
  annotationId: number;
  imageId: number;
  categoryId: number;
  crowd: boolean;
  at50: ThresholdOutcome;
  at75: ThresholdOutcome;
  /** The best-overlapping detection of any class, and its IoU (what came closest). */
  closest: { detection: number; categoryId: number; iou: number } | null;
}

function iou(ax: number, ay: number, aw: number, ah: number, bx: number, by: number, bw: number, bh: number): number {
  const iw = Math.min(ax + aw, bx + bw) - Math.max(ax, bx);
  if (iw <= 0) return 0;
  const ih = Math.min(ay + ah, by + bh) - Math.max(ay, by);
  if (ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (aw * ah + bw * bh - inter);
}

const T50 = 0;
const T75 = 5;

export function perObjectOutcomes(gt: CocoGtIndex, dt: CocoDtIndex, r: CocoEvalResult): { detections: DetectionOutcome[]; objects: ObjectOutcome[] } {
  const nImg = gt.imgIds.length;
  const K = gt.catIds.length;
  const m = r.matches;
  const N = m.slots;
  const G = gt.x.length;
  // Where each slot and each annotation live: image index, category index.
  const slotImg = m.slotImage;
  const slotCat = new Int32Array(N);
  const gtImg = new Int32Array(G);
  const gtCat = new Int32Array(G);
  for (let c = 0; c < K; c++) {
    for (let q = gt.catStart[c]; q < gt.catStart[c + 1]; q++) {
      gtImg[q] = gt.img[q];
      gtCat[q] = c;
    }
  }
  for (let c = 0; c < K; c++) {
    for (let s = m.catSlotStart[c]; s < m.catSlotStart[c + 1]; s++) slotCat[s] = c;
  }

  // Per image: its slots and annotations of every class, for the error analysis.
  const imgSlots: number[][] = Array.from({ length: nImg }, () => []);
  const imgGts: number[][] = Array.from({ length: nImg }, () => []);
  for (let s = 0; s < N; s++) imgSlots[slotImg[s]].push(s);
  for (let q = 0; q < G; q++) imgGts[gtImg[q]].push(q);

  const slotIou = (s: number, q: number) => {
    const d = m.slotDet[s];
    return iou(dt.x[d], dt.y[d], dt.w[d], dt.h[d], gt.x[q], gt.y[q], gt.w[q], gt.h[q]);
  };

  const detOutcome = (s: number, t: number): ThresholdOutcome => {
    const code = m.code[(0 * 10 + t) * N + s];
    const q = m.matchedGt[t * N + s];
    if (q >= 0) {
      const o: ThresholdOutcome = { outcome: code === 0 ? 'ignored' : code === 1 ? 'TP' : 'FP', matchedId: gt.id[q], iou: slotIou(s, q) };
      return o;
    }
    if (code === 0) return { outcome: 'ignored', matchedId: null, iou: 0 };
    const thr = IOU_THRESHOLDS[t];
    let bestSame = 0;
    let bestSameTaken = false;
    let bestOther = 0;
    for (const g of imgGts[slotImg[s]]) {
      if (gt.crowd[g]) continue;
      const v = slotIou(s, g);
      if (gtCat[g] === slotCat[s]) {
        if (v > bestSame) {
          bestSame = v;
          bestSameTaken = m.gtMatchedBy[t * G + g] >= 0;
        }
      } else if (v > bestOther) bestOther = v;
    }
    let error: DetectionError;
    if (bestSame >= thr && bestSameTaken) error = 'duplicate';
    else if (bestSame >= 0.1) error = 'localisation';
    else if (bestOther >= thr) error = 'class-confusion';
    else error = 'background';
    return { outcome: 'FP', matchedId: null, iou: Math.max(bestSame, error === 'class-confusion' ? bestOther : 0), error };
  };

  const detections: DetectionOutcome[] = [];
  for (let s = 0; s < N; s++) {
    const d = m.slotDet[s];
    detections.push({ detection: dt.source[d], imageId: gt.imgIds[slotImg[s]], categoryId: gt.catIds[slotCat[s]], score: dt.score[d], at50: detOutcome(s, T50), at75: detOutcome(s, T75) });
  }
  detections.sort((a, b) => a.detection - b.detection);

  const objects: ObjectOutcome[] = [];
  for (let q = 0; q < G; q++) {
    let closest: ObjectOutcome['closest'] = null;
    for (const s of imgSlots[gtImg[q]]) {
      const v = slotIou(s, q);
      if (v > 0 && (!closest || v > closest.iou)) closest = { detection: dt.source[m.slotDet[s]], categoryId: gt.catIds[slotCat[s]], iou: v };
    }
    const at = (t: number): ThresholdOutcome => {
      const s = m.gtMatchedBy[t * G + q];
      if (gt.crowd[q]) return { outcome: 'ignored', matchedId: s >= 0 ? dt.source[m.slotDet[s]] : null, iou: s >= 0 ? slotIou(s, q) : 0 };
      if (s >= 0) return { outcome: 'TP', matchedId: dt.source[m.slotDet[s]], iou: slotIou(s, q) };
      return { outcome: 'FN', matchedId: null, iou: closest?.iou ?? 0, error: 'missed' };
    };
    objects.push({ annotationId: gt.id[q], imageId: gt.imgIds[gtImg[q]], categoryId: gt.catIds[gtCat[q]], crowd: gt.crowd[q] === 1, at50: at(T50), at75: at(T75), closest });
  }
  objects.sort((a, b) => a.annotationId - b.annotationId);
  return { detections, objects };
}

export interface Regression {
  annotationId: number;
  imageId: number;
  categoryId: number;
  /** lost: the baseline found it, the candidate did not; both-missed; gained: the candidate found it and the baseline did not. */
  change: 'lost' | 'both-missed' | 'gained';
  /** Ordering key: for a lost object the baseline's confidence in it, else 0. */
  contribution: number;
}

/**
 * Orders the candidate's misses by their contribution to a regression against the baseline, at
 * IoU 0.5: lost objects first (highest baseline score first), then objects both missed; objects
 * the candidate gained are listed last. `score` looks up a detection's score in the baseline.
 */
export function rankRegressions(candidate: ObjectOutcome[], baseline: ObjectOutcome[], baselineScore: (detection: number) => number): Regression[] {
  const base = new Map(baseline.map((o) => [o.annotationId, o]));
  const out: Regression[] = [];
  for (const o of candidate) {
    if (o.crowd) continue;
    const b = base.get(o.annotationId);
    if (!b) continue;
    const cTP = o.at50.outcome === 'TP';
    const bTP = b.at50.outcome === 'TP';
    if (!cTP && bTP) out.push({ annotationId: o.annotationId, imageId: o.imageId, categoryId: o.categoryId, change: 'lost', contribution: baselineScore(b.at50.matchedId!) });
    else if (!cTP && !bTP) out.push({ annotationId: o.annotationId, imageId: o.imageId, categoryId: o.categoryId, change: 'both-missed', contribution: 0 });
    else if (cTP && !bTP) out.push({ annotationId: o.annotationId, imageId: o.imageId, categoryId: o.categoryId, change: 'gained', contribution: 0 });
  }
  const rank = { lost: 0, 'both-missed': 1, gained: 2 } as const;
  return out.sort((a, b) => rank[a.change] - rank[b.change] || b.contribution - a.contribution || a.annotationId - b.annotationId);
}

/** Per-class precision-recall curves at IoU 0.5 and 0.75 (area all, 100 detections), as data. */
export function prCurves(r: CocoEvalResult, gt: CocoGtIndex): { categoryId: number; name: string; iou: number; recall: number[]; precision: number[] }[] {
  const K = gt.catIds.length;
  const R = 101;
  const out: ReturnType<typeof prCurves> = [];
  for (let k = 0; k < K; k++) {
    for (const t of [T50, T75]) {
      const curve = r.precision.curve(t, k, 0, 2);
      if (!curve) continue;
      out.push({ categoryId: gt.catIds[k], name: gt.catNames[k], iou: IOU_THRESHOLDS[t], recall: Array.from({ length: R }, (_, i) => i / 100), precision: Array.from(curve) });
    }
  }
  return out;
}
