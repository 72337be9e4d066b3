/**
 * Multi-object tracking metrics, computed exactly as TrackEval computes them (JonathonLuiten/
 * TrackEval at 12c8791b, the MOTChallenge 2D-box evaluator): CLEAR (MOTA, MOTP, IDSW, Frag,
 * MT/PT/ML, ...), Identity (IDF1, IDP, IDR), HOTA over its 19 alphas, and Count, with TrackEval's
 * field names, its early returns for an empty tracker or an empty ground truth, and its way of
 * combining sequences. On top: the nuScenes TID and LGD (nuscenes-devkit's definitions, on the
 * CLEAR matches), the CLEAR matches frame by frame, per-object time to first detection, and
 * ghost tracks. Pure: data in, data out.
 *
 * "Exactly" means the same decisions (which pairs match, hence every count) and the same float64
 * arithmetic in the same order where it is cheap to keep (numpy's pairwise summation for its
 * `sum`, Python's left-to-right `sum`), so the ratios agree with TrackEval's to the last bits or
 * within 1e-12. The decisions hang on ties in the assignment, which is why the assignment is
 * scipy's (./assignment.ts) and the boxes inside a frame stay in their input order (TrackEval
 * keeps file order; a different order can break a tie differently).
 */
import { linearSumAssignment } from './assignment.js';
import { pairwiseSum } from './numpy-sum.js';

/**
 * [x, y, w, h] in pixels, top-left corner and size: the same shape as src/replay/types.ts
 * BoxXYWH, declared here because src/replay imports src/metrics (the tracker uses the
 * assignment), so an import back would be a folder cycle.
 */
export type BoxXYWH = [number, number, number, number];

/** One box of one object (GT) or track (tracker) at one frame. */
export interface TrackedBox {
  id: number;
  box: BoxXYWH;
}

/** One frame: the ground-truth boxes and the tracker's boxes, each id at most once. */
export interface TrackingFrame {
  gt: TrackedBox[];
  tracker: TrackedBox[];
}

/** A sequence: frame k is MOTChallenge frame k + 1; the length is the sequence length. */
export interface TrackingSequence {
  frames: TrackingFrame[];
}

export interface ClearMetrics {
  MOTA: number; MOTP: number; MODA: number; CLR_Re: number; CLR_Pr: number; MTR: number; PTR: number; MLR: number;
  sMOTA: number; CLR_F1: number; FP_per_frame: number; MOTAL: number; MOTP_sum: number;
  CLR_TP: number; CLR_FN: number; CLR_FP: number; IDSW: number; MT: number; PT: number; ML: number; Frag: number;
  CLR_Frames: number;
}

export interface IdentityMetrics {
  IDF1: number; IDR: number; IDP: number; IDTP: number; IDFN: number; IDFP: number;
}

/** Arrays are over HOTA_ALPHAS. */
export interface HotaMetrics {
  HOTA: number[]; DetA: number[]; AssA: number[]; DetRe: number[]; DetPr: number[]; AssRe: number[]; AssPr: number[];
  LocA: number[]; OWTA: number[]; HOTA_TP: number[]; HOTA_FN: number[]; HOTA_FP: number[];
  'HOTA(0)': number; 'LocA(0)': number; 'HOTALocA(0)': number;
}

/** Count; `Frames` only in a per-sequence result (TrackEval's combined row has none). */
export interface CountMetrics {
  Dets: number; GT_Dets: number; IDs: number; GT_IDs: number; Frames?: number;
}

export interface TrackEvalMetrics {
  CLEAR: ClearMetrics;
  Identity: IdentityMetrics;
  HOTA: HotaMetrics;
  Count: CountMetrics;
}

/** The CLEAR matches of one frame: [gt id, tracker id, IoU], in the frame's GT order. */
export interface FrameMatches {
  /** 1-based (MOTChallenge) frame number. */
  frame: number;
  pairs: [number, number, number][];
}

/** CLEAR's and Identity's matching threshold (TrackEval's default, THRESHOLD 0.5). */
export const MATCH_THRESHOLD = 0.5;

const EPS = 2.220446049250313e-16;

/**
 * numpy's `np.arange(0.05, 0.99, 0.05)`: start + i * delta with delta = (start + step) - start, as
 * numpy fills it, hence 0.15000000000000002 and friends.
 */
export const HOTA_ALPHAS: readonly number[] = (() => {
  const start = 0.05;
  const delta = start + 0.05 - start;
  return Array.from({ length: 19 }, (_, i) => (i === 0 ? start : i === 1 ? start + 0.05 : start + i * delta));
})();

/**
 * TrackEval's box IoU on xywh boxes (_calculate_box_ious): corners x2 = x + w, areas from the
 * corners, 0 where either area or the union is not positive.
 */
export function boxIou(a: BoxXYWH, b: BoxXYWH): number {
  const ax0 = a[0];
  const ay0 = a[1];
  const ax1 = a[0] + a[2];
  const ay1 = a[1] + a[3];
  const bx0 = b[0];
  const by0 = b[1];
  const bx1 = b[0] + b[2];
  const by1 = b[1] + b[3];
  let inter = Math.max(Math.min(ax1, bx1) - Math.max(ax0, bx0), 0) * Math.max(Math.min(ay1, by1) - Math.max(ay0, by0), 0);
  const area1 = (ax1 - ax0) * (ay1 - ay0);
  const area2 = (bx1 - bx0) * (by1 - by0);
  let union = area1 + area2 - inter;
  if (area1 <= EPS || area2 <= EPS || union <= EPS) inter = 0;
  if (union <= EPS) union = 1;
  return inter / union;
}

/** The sequence with ids relabelled 0..n-1 (ascending id, as TrackEval does) and IoUs per frame. */
interface Prepared {
  numFrames: number;
  gtIds: number[];
  trackerIds: number[];
  gt: Int32Array[];
  tracker: Int32Array[];
  /** Row-major gt x tracker IoU per frame. */
  sim: Float64Array[];
  numGtDets: number;
  numTrackerDets: number;
}

function prepare(seq: TrackingSequence): Prepared {
  const gtSet = new Set<number>();
  const trSet = new Set<number>();
  seq.frames.forEach((f, k) => {
    const seen = new Set<number>();
    for (const b of f.gt) {
      if (seen.has(b.id)) throw new Error(`tracking: ground truth has id ${b.id} more than once in frame ${k + 1}`);
      seen.add(b.id);
      gtSet.add(b.id);
    }
    seen.clear();
    for (const b of f.tracker) {
      if (seen.has(b.id)) throw new Error(`tracking: tracker has id ${b.id} more than once in frame ${k + 1}`);
      seen.add(b.id);
      trSet.add(b.id);
    }
  });
  const gtIds = [...gtSet].sort((a, b) => a - b);
  const trackerIds = [...trSet].sort((a, b) => a - b);
  const gtIndex = new Map(gtIds.map((id, i) => [id, i]));
  const trIndex = new Map(trackerIds.map((id, i) => [id, i]));
  let numGtDets = 0;
  let numTrackerDets = 0;
  const gt: Int32Array[] = [];
  const tracker: Int32Array[] = [];
  const sim: Float64Array[] = [];
  for (const f of seq.frames) {
    gt.push(Int32Array.from(f.gt, (b) => gtIndex.get(b.id)!));
    tracker.push(Int32Array.from(f.tracker, (b) => trIndex.get(b.id)!));
    const s = new Float64Array(f.gt.length * f.tracker.length);
    for (let i = 0; i < f.gt.length; i++) {
      for (let j = 0; j < f.tracker.length; j++) s[i * f.tracker.length + j] = boxIou(f.gt[i].box, f.tracker[j].box);
    }
    sim.push(s);
    numGtDets += f.gt.length;
    numTrackerDets += f.tracker.length;
  }
  return { numFrames: seq.frames.length, gtIds, trackerIds, gt, tracker, sim, numGtDets, numTrackerDets };
}

/** CLEAR's ratios from its sums (TrackEval's CLEAR._compute_final_fields). */
function clearFinal(s: Pick<ClearMetrics, 'CLR_TP' | 'CLR_FN' | 'CLR_FP' | 'IDSW' | 'MT' | 'PT' | 'ML' | 'Frag' | 'CLR_Frames' | 'MOTP_sum'>): ClearMetrics {
  const numGtIds = s.MT + s.ML + s.PT;
  const gtDets = Math.max(1, s.CLR_TP + s.CLR_FN);
  const safeLogIdsw = s.IDSW > 0 ? Math.log10(s.IDSW) : s.IDSW;
  return {
    MOTA: (s.CLR_TP - s.CLR_FP - s.IDSW) / gtDets,
    MOTP: s.MOTP_sum / Math.max(1, s.CLR_TP),
    MODA: (s.CLR_TP - s.CLR_FP) / gtDets,
    CLR_Re: s.CLR_TP / gtDets,
    CLR_Pr: s.CLR_TP / Math.max(1, s.CLR_TP + s.CLR_FP),
    MTR: s.MT / Math.max(1, numGtIds),
    PTR: s.PT / Math.max(1, numGtIds),
    MLR: s.ML / Math.max(1, numGtIds),
    sMOTA: (s.MOTP_sum - s.CLR_FP - s.IDSW) / gtDets,
    CLR_F1: s.CLR_TP / Math.max(1, s.CLR_TP + 0.5 * s.CLR_FN + 0.5 * s.CLR_FP),
    FP_per_frame: s.CLR_FP / Math.max(1, s.CLR_Frames),
    MOTAL: (s.CLR_TP - s.CLR_FP - safeLogIdsw) / gtDets,
    MOTP_sum: s.MOTP_sum,
    CLR_TP: s.CLR_TP, CLR_FN: s.CLR_FN, CLR_FP: s.CLR_FP, IDSW: s.IDSW, MT: s.MT, PT: s.PT, ML: s.ML, Frag: s.Frag,
    CLR_Frames: s.CLR_Frames,
  };
}

function zeroClear(): ClearMetrics {
  return {
    MOTA: 0, MOTP: 0, MODA: 0, CLR_Re: 0, CLR_Pr: 0, MTR: 0, PTR: 0, MLR: 0, sMOTA: 0, CLR_F1: 0, FP_per_frame: 0,
    MOTAL: 0, MOTP_sum: 0, CLR_TP: 0, CLR_FN: 0, CLR_FP: 0, IDSW: 0, MT: 0, PT: 0, ML: 0, Frag: 0, CLR_Frames: 0,
  };
}

/** CLEAR over a prepared sequence, and its matches per frame (as contiguous indices). */
function clear(p: Prepared): { metrics: ClearMetrics; matches: { gt: number[]; tracker: number[]; iou: number[] }[] } {
  const res = zeroClear();
  const matches = p.gt.map(() => ({ gt: [] as number[], tracker: [] as number[], iou: [] as number[] }));
  if (p.numTrackerDets === 0) {
    res.CLR_FN = p.numGtDets;
    res.ML = p.gtIds.length;
    res.MLR = 1;
    return { metrics: res, matches };
  }
  if (p.numGtDets === 0) {
    res.CLR_FP = p.numTrackerDets;
    res.MLR = 1;
    return { metrics: res, matches };
  }
  const nG = p.gtIds.length;
  const gtCount = new Float64Array(nG);
  const gtMatched = new Float64Array(nG);
  const gtFrag = new Float64Array(nG);
  /** The tracker index each GT id was last matched to, ever (-1: never): IDSW. */
  const prevTracker = new Int32Array(nG).fill(-1);
  /** The tracker index each GT id was matched to in the previous evaluated frame: the matching bonus. */
  const prevStep = new Int32Array(nG).fill(-1);
  let tp = 0;
  let fn = 0;
  let fp = 0;
  let idsw = 0;
  let motpSum = 0;
  for (let t = 0; t < p.numFrames; t++) {
    const g = p.gt[t];
    const k = p.tracker[t];
    if (g.length === 0) {
      fp += k.length;
      continue;
    }
    if (k.length === 0) {
      fn += g.length;
      for (const gi of g) gtCount[gi]++;
      continue;
    }
    const sim = p.sim[t];
    const score = new Float64Array(g.length * k.length);
    for (let i = 0; i < g.length; i++) {
      for (let j = 0; j < k.length; j++) {
        const s = sim[i * k.length + j];
        score[i * k.length + j] = s < MATCH_THRESHOLD - EPS ? 0 : (k[j] === prevStep[g[i]] ? 1000 : 0) + s;
      }
    }
    const { rowInd, colInd } = linearSumAssignment(score, g.length, k.length, { maximize: true });
    const m = matches[t];
    for (let n = 0; n < rowInd.length; n++) {
      const r = rowInd[n];
      const c = colInd[n];
      if (score[r * k.length + c] > EPS) {
        m.gt.push(r);
        m.tracker.push(c);
        m.iou.push(sim[r * k.length + c]);
      }
    }
    for (let n = 0; n < m.gt.length; n++) {
      const gi = g[m.gt[n]];
      const ti = k[m.tracker[n]];
      if (prevTracker[gi] !== -1 && prevTracker[gi] !== ti) idsw++;
    }
    for (const gi of g) gtCount[gi]++;
    const notPreviouslyTracked = prevStep.map((x) => (x === -1 ? 1 : 0));
    prevStep.fill(-1);
    for (let n = 0; n < m.gt.length; n++) {
      const gi = g[m.gt[n]];
      const ti = k[m.tracker[n]];
      gtMatched[gi]++;
      prevTracker[gi] = ti;
      prevStep[gi] = ti;
    }
    for (let gi = 0; gi < nG; gi++) if (notPreviouslyTracked[gi] && prevStep[gi] !== -1) gtFrag[gi]++;
    tp += m.gt.length;
    fn += g.length - m.gt.length;
    fp += k.length - m.gt.length;
    if (m.gt.length > 0) {
      let frameSum = 0;
      for (const v of m.iou) frameSum += v;
      motpSum += frameSum;
    }
  }
  let mt = 0;
  let ptOrMore = 0;
  let frag = 0;
  for (let gi = 0; gi < nG; gi++) {
    if (gtCount[gi] > 0) {
      const ratio = gtMatched[gi] / gtCount[gi];
      if (ratio > 0.8) mt++;
      if (ratio >= 0.2) ptOrMore++;
    }
    if (gtFrag[gi] > 0) frag += gtFrag[gi] - 1;
  }
  const pt = ptOrMore - mt;
  const metrics = clearFinal({
    CLR_TP: tp, CLR_FN: fn, CLR_FP: fp, IDSW: idsw, MT: mt, PT: pt, ML: nG - mt - pt, Frag: frag,
    CLR_Frames: p.numFrames, MOTP_sum: motpSum,
  });
  return { metrics, matches };
}

function identityFinal(s: Pick<IdentityMetrics, 'IDTP' | 'IDFN' | 'IDFP'>): IdentityMetrics {
  return {
    IDF1: s.IDTP / Math.max(1, s.IDTP + 0.5 * s.IDFP + 0.5 * s.IDFN),
    IDR: s.IDTP / Math.max(1, s.IDTP + s.IDFN),
    IDP: s.IDTP / Math.max(1, s.IDTP + s.IDFP),
    IDTP: s.IDTP, IDFN: s.IDFN, IDFP: s.IDFP,
  };
}

/** Identity: one global id-to-id assignment minimising IDFN + IDFP (TrackEval's Identity). */
function identity(p: Prepared): IdentityMetrics {
  if (p.numTrackerDets === 0) return { IDF1: 0, IDR: 0, IDP: 0, IDTP: 0, IDFN: p.numGtDets, IDFP: 0 };
  if (p.numGtDets === 0) return { IDF1: 0, IDR: 0, IDP: 0, IDTP: 0, IDFN: 0, IDFP: p.numTrackerDets };
  const nG = p.gtIds.length;
  const nT = p.trackerIds.length;
  const potential = new Float64Array(nG * nT);
  const gtCount = new Float64Array(nG);
  const trCount = new Float64Array(nT);
  for (let t = 0; t < p.numFrames; t++) {
    const g = p.gt[t];
    const k = p.tracker[t];
    const sim = p.sim[t];
    for (let i = 0; i < g.length; i++) {
      for (let j = 0; j < k.length; j++) if (sim[i * k.length + j] >= MATCH_THRESHOLD) potential[g[i] * nT + k[j]]++;
    }
    for (const gi of g) gtCount[gi]++;
    for (const ti of k) trCount[ti]++;
  }
  const n = nG + nT;
  const fnMat = new Float64Array(n * n);
  const fpMat = new Float64Array(n * n);
  for (let r = nG; r < n; r++) for (let c = 0; c < nT; c++) fpMat[r * n + c] = 1e10;
  for (let r = 0; r < nG; r++) for (let c = nT; c < n; c++) fnMat[r * n + c] = 1e10;
  for (let gi = 0; gi < nG; gi++) {
    for (let c = 0; c < nT; c++) fnMat[gi * n + c] = gtCount[gi];
    fnMat[gi * n + nT + gi] = gtCount[gi];
  }
  for (let ti = 0; ti < nT; ti++) {
    for (let r = 0; r < nG; r++) fpMat[r * n + ti] = trCount[ti];
    fpMat[(ti + nG) * n + ti] = trCount[ti];
  }
  for (let gi = 0; gi < nG; gi++) {
    for (let ti = 0; ti < nT; ti++) {
      fnMat[gi * n + ti] -= potential[gi * nT + ti];
      fpMat[gi * n + ti] -= potential[gi * nT + ti];
    }
  }
  const cost = new Float64Array(n * n);
  for (let e = 0; e < n * n; e++) cost[e] = fnMat[e] + fpMat[e];
  const { rowInd, colInd } = linearSumAssignment(cost, n, n);
  let idfn = 0;
  let idfp = 0;
  for (let e = 0; e < rowInd.length; e++) {
    idfn += fnMat[rowInd[e] * n + colInd[e]];
    idfp += fpMat[rowInd[e] * n + colInd[e]];
  }
  let totalGt = 0;
  for (const c of gtCount) totalGt += c;
  return identityFinal({ IDTP: totalGt - idfn, IDFN: idfn, IDFP: idfp });
}

function hotaFinal(h: Omit<HotaMetrics, 'HOTA' | 'DetA' | 'DetRe' | 'DetPr' | 'OWTA' | 'HOTA(0)' | 'LocA(0)' | 'HOTALocA(0)'>): HotaMetrics {
  const A = HOTA_ALPHAS.length;
  const DetRe = Array.from({ length: A }, (_, a) => h.HOTA_TP[a] / Math.max(1, h.HOTA_TP[a] + h.HOTA_FN[a]));
  const DetPr = Array.from({ length: A }, (_, a) => h.HOTA_TP[a] / Math.max(1, h.HOTA_TP[a] + h.HOTA_FP[a]));
  const DetA = Array.from({ length: A }, (_, a) => h.HOTA_TP[a] / Math.max(1, h.HOTA_TP[a] + h.HOTA_FN[a] + h.HOTA_FP[a]));
  const HOTA = DetA.map((d, a) => Math.sqrt(d * h.AssA[a]));
  const OWTA = DetRe.map((d, a) => Math.sqrt(d * h.AssA[a]));
  return {
    HOTA, DetA, AssA: h.AssA, DetRe, DetPr, AssRe: h.AssRe, AssPr: h.AssPr, LocA: h.LocA, OWTA,
    HOTA_TP: h.HOTA_TP, HOTA_FN: h.HOTA_FN, HOTA_FP: h.HOTA_FP,
    'HOTA(0)': HOTA[0], 'LocA(0)': h.LocA[0], 'HOTALocA(0)': HOTA[0] * h.LocA[0],
  };
}

/** HOTA (TrackEval's HOTA.eval_sequence). */
function hota(p: Prepared): HotaMetrics {
  const A = HOTA_ALPHAS.length;
  const zeros = (): number[] => new Array<number>(A).fill(0);
  if (p.numTrackerDets === 0 || p.numGtDets === 0) {
    return {
      HOTA: zeros(), DetA: zeros(), AssA: zeros(), DetRe: zeros(), DetPr: zeros(), AssRe: zeros(), AssPr: zeros(),
      LocA: new Array<number>(A).fill(1), OWTA: zeros(), HOTA_TP: zeros(),
      HOTA_FN: new Array<number>(A).fill(p.numTrackerDets === 0 ? p.numGtDets : 0),
      HOTA_FP: new Array<number>(A).fill(p.numTrackerDets === 0 ? 0 : p.numTrackerDets),
      'HOTA(0)': 0, 'LocA(0)': 1, 'HOTALocA(0)': 0,
    };
  }
  const nG = p.gtIds.length;
  const nT = p.trackerIds.length;
  const potential = new Float64Array(nG * nT);
  const gtCount = new Float64Array(nG);
  const trCount = new Float64Array(nT);
  for (let t = 0; t < p.numFrames; t++) {
    const g = p.gt[t];
    const k = p.tracker[t];
    const sim = p.sim[t];
    const G = g.length;
    const T = k.length;
    if (G > 0 && T > 0) {
      // similarity.sum(0): down the columns, row after row (pairwise only for a single column).
      const colSum = new Float64Array(T);
      if (T === 1) colSum[0] = pairwiseSum(sim, 0, G);
      else {
        for (let j = 0; j < T; j++) colSum[j] = sim[j];
        for (let i = 1; i < G; i++) for (let j = 0; j < T; j++) colSum[j] += sim[i * T + j];
      }
      const rowSum = new Float64Array(G);
      for (let i = 0; i < G; i++) rowSum[i] = pairwiseSum(sim, i * T, T);
      for (let i = 0; i < G; i++) {
        for (let j = 0; j < T; j++) {
          const s = sim[i * T + j];
          const denom = colSum[j] + rowSum[i] - s;
          potential[g[i] * nT + k[j]] += denom > EPS ? s / denom : 0;
        }
      }
    }
    for (const gi of g) gtCount[gi]++;
    for (const ti of k) trCount[ti]++;
  }
  const alignment = new Float64Array(nG * nT);
  for (let gi = 0; gi < nG; gi++) {
    for (let ti = 0; ti < nT; ti++) {
      const pm = potential[gi * nT + ti];
      alignment[gi * nT + ti] = pm / (gtCount[gi] + trCount[ti] - pm);
    }
  }
  const matchesCounts = Array.from({ length: A }, () => new Float64Array(nG * nT));
  const TP = zeros();
  const FN = zeros();
  const FP = zeros();
  const locSum = zeros();
  for (let t = 0; t < p.numFrames; t++) {
    const g = p.gt[t];
    const k = p.tracker[t];
    if (g.length === 0) {
      for (let a = 0; a < A; a++) FP[a] += k.length;
      continue;
    }
    if (k.length === 0) {
      for (let a = 0; a < A; a++) FN[a] += g.length;
      continue;
    }
    const sim = p.sim[t];
    const T = k.length;
    const score = new Float64Array(g.length * T);
    for (let i = 0; i < g.length; i++) for (let j = 0; j < T; j++) score[i * T + j] = alignment[g[i] * nT + k[j]] * sim[i * T + j];
    const { rowInd, colInd } = linearSumAssignment(score, g.length, T, { maximize: true });
    for (let a = 0; a < A; a++) {
      const alpha = HOTA_ALPHAS[a];
      let num = 0;
      let frameSum = 0;
      for (let n = 0; n < rowInd.length; n++) {
        const s = sim[rowInd[n] * T + colInd[n]];
        if (s >= alpha - EPS) {
          num++;
          frameSum += s;
          matchesCounts[a][g[rowInd[n]] * nT + k[colInd[n]]]++;
        }
      }
      TP[a] += num;
      FN[a] += g.length - num;
      FP[a] += T - num;
      if (num > 0) locSum[a] += frameSum;
    }
  }
  const AssA = zeros();
  const AssRe = zeros();
  const AssPr = zeros();
  const termA = new Float64Array(nG * nT);
  const termRe = new Float64Array(nG * nT);
  const termPr = new Float64Array(nG * nT);
  for (let a = 0; a < A; a++) {
    const mc = matchesCounts[a];
    for (let gi = 0; gi < nG; gi++) {
      for (let ti = 0; ti < nT; ti++) {
        const e = gi * nT + ti;
        termA[e] = mc[e] * (mc[e] / Math.max(1, gtCount[gi] + trCount[ti] - mc[e]));
        termRe[e] = mc[e] * (mc[e] / Math.max(1, gtCount[gi]));
        termPr[e] = mc[e] * (mc[e] / Math.max(1, trCount[ti]));
      }
    }
    AssA[a] = pairwiseSum(termA, 0, nG * nT) / Math.max(1, TP[a]);
    AssRe[a] = pairwiseSum(termRe, 0, nG * nT) / Math.max(1, TP[a]);
    AssPr[a] = pairwiseSum(termPr, 0, nG * nT) / Math.max(1, TP[a]);
  }
  const LocA = locSum.map((s, a) => Math.max(1e-10, s) / Math.max(1e-10, TP[a]));
  return hotaFinal({ AssA, AssRe, AssPr, LocA, HOTA_TP: TP, HOTA_FN: FN, HOTA_FP: FP });
}

export interface TrackingEvaluation extends TrackEvalMetrics {
  /** The CLEAR matches of every frame, with the input ids. */
  clearMatches: FrameMatches[];
}

/** TrackEval's per-sequence CLEAR, Identity, HOTA and Count, and the CLEAR matches per frame. */
export function evaluateTracking(seq: TrackingSequence): TrackingEvaluation {
  const p = prepare(seq);
  const c = clear(p);
  const clearMatches = c.matches.map((m, t) => ({
    frame: t + 1,
    pairs: m.gt.map((r, n): [number, number, number] => [seq.frames[t].gt[r].id, seq.frames[t].tracker[m.tracker[n]].id, m.iou[n]]),
  }));
  return {
    CLEAR: c.metrics,
    Identity: identity(p),
    HOTA: hota(p),
    Count: { Dets: p.numTrackerDets, GT_Dets: p.numGtDets, IDs: p.trackerIds.length, GT_IDs: p.gtIds.length, Frames: p.numFrames },
    clearMatches,
  };
}

/**
 * Evaluate frames [from, to) as a sequence of their own (per-segment metrics): ids, IDSW state
 * and the HOTA alignment start afresh at `from`, as if the segment were its own file.
 */
export function evaluateTrackingWindow(seq: TrackingSequence, from: number, to: number): TrackingEvaluation {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from <= to && to <= seq.frames.length)) {
    throw new RangeError(`tracking: window [${from}, ${to}) is not inside the sequence's ${seq.frames.length} frames`);
  }
  const ev = evaluateTracking({ frames: seq.frames.slice(from, to) });
  return { ...ev, clearMatches: ev.clearMatches.map((m) => ({ ...m, frame: m.frame + from })) };
}

/** Python's sum() over a list of results' fields: 0 + r1 + r2 + ... */
function sumField<R>(all: R[], get: (r: R) => number): number {
  let s = 0;
  for (const r of all) s += get(r);
  return s;
}

/**
 * TrackEval's COMBINED_SEQ row over sequences evaluated on their own (combine_sequences of each
 * metric): sums of the counts, ratios recomputed from them, AssA/AssRe/AssPr weighted by HOTA_TP.
 */
export function combineTracking(all: TrackEvalMetrics[]): TrackEvalMetrics {
  const A = HOTA_ALPHAS.length;
  const cl = all.map((r) => r.CLEAR);
  const CLEAR = clearFinal({
    CLR_TP: sumField(cl, (r) => r.CLR_TP), CLR_FN: sumField(cl, (r) => r.CLR_FN), CLR_FP: sumField(cl, (r) => r.CLR_FP),
    IDSW: sumField(cl, (r) => r.IDSW), MT: sumField(cl, (r) => r.MT), PT: sumField(cl, (r) => r.PT),
    ML: sumField(cl, (r) => r.ML), Frag: sumField(cl, (r) => r.Frag), CLR_Frames: sumField(cl, (r) => r.CLR_Frames),
    MOTP_sum: sumField(cl, (r) => r.MOTP_sum),
  });
  const id = all.map((r) => r.Identity);
  const Identity = identityFinal({ IDTP: sumField(id, (r) => r.IDTP), IDFN: sumField(id, (r) => r.IDFN), IDFP: sumField(id, (r) => r.IDFP) });
  const h = all.map((r) => r.HOTA);
  const arr = (get: (x: HotaMetrics) => number[]) => Array.from({ length: A }, (_, a) => sumField(h, (x) => get(x)[a]));
  const TP = arr((x) => x.HOTA_TP);
  const weighted = (get: (x: HotaMetrics) => number[]) =>
    Array.from({ length: A }, (_, a) => sumField(h, (x) => get(x)[a] * x.HOTA_TP[a]) / Math.max(1, TP[a]));
  const locWeighted = Array.from({ length: A }, (_, a) => sumField(h, (x) => x.LocA[a] * x.HOTA_TP[a]));
  const HOTA = hotaFinal({
    HOTA_TP: TP, HOTA_FN: arr((x) => x.HOTA_FN), HOTA_FP: arr((x) => x.HOTA_FP),
    AssRe: weighted((x) => x.AssRe), AssPr: weighted((x) => x.AssPr), AssA: weighted((x) => x.AssA),
    LocA: locWeighted.map((s, a) => Math.max(1e-10, s) / Math.max(1e-10, TP[a])),
  });
  const co = all.map((r) => r.Count);
  const Count = {
    Dets: sumField(co, (r) => r.Dets), GT_Dets: sumField(co, (r) => r.GT_Dets),
    IDs: sumField(co, (r) => r.IDs), GT_IDs: sumField(co, (r) => r.GT_IDs),
  };
  return { CLEAR, Identity, HOTA, Count };
}

export interface TidLgdOptions {
  /**
   * 'devkit': frames with neither GT nor tracker boxes get no frame id, so they are no gap
   * (nuscenes-devkit's accumulate skips them); 'frame-numbers': every frame is a step.
   */
  frameIds?: 'devkit' | 'frame-numbers';
  /** Seconds per frame step; the devkit hard-codes nuScenes' 2 Hz keyframes, 0.5 s. */
  stepSeconds?: number;
}

export interface TidLgdObject {
  matched_frames: number;
  /** Steps from the first appearance to the first match; null when never matched. */
  tid_steps: number | null;
  /** The longest run of unmatched steps between first and last appearance; null when never matched. */
  lgd_steps: number | null;
}

export interface TidLgd {
  /** Mean over the GT ids matched at least once, seconds; NaN when none is. */
  TID: number;
  LGD: number;
  per_object: Record<string, TidLgdObject>;
}

/**
 * nuScenes TID (track initialisation duration) and LGD (longest gap duration), as
 * nuscenes-devkit's track_initialization_duration / longest_gap_duration compute them, on the
 * CLEAR matches: per GT id, TID = first matched step - first appearance step, LGD = the longest
 * run of unmatched steps from its first to its last appearance (steps where it is not annotated
 * count as gap; a leading run before the first match and a trailing run count too); both times
 * stepSeconds, summed over the ids matched at least once and divided by their number.
 * Never-matched ids are left out; none matched gives NaN.
 */
export function tidLgd(seq: TrackingSequence, clearMatches: FrameMatches[], opts: TidLgdOptions = {}): TidLgd {
  const step = opts.stepSeconds ?? 0.5;
  const mode = opts.frameIds ?? 'devkit';
  const frameId: number[] = [];
  let next = 0;
  seq.frames.forEach((f, t) => {
    if (mode === 'frame-numbers') frameId.push(t);
    else frameId.push(f.gt.length === 0 && f.tracker.length === 0 ? -1 : next++);
  });
  const appear = new Map<number, number[]>();
  const matched = new Map<number, Set<number>>();
  seq.frames.forEach((f, t) => {
    for (const b of f.gt) {
      if (!appear.has(b.id)) appear.set(b.id, []);
      appear.get(b.id)!.push(frameId[t]);
    }
  });
  clearMatches.forEach((m) => {
    for (const [gtId] of m.pairs) {
      if (!matched.has(gtId)) matched.set(gtId, new Set());
      matched.get(gtId)!.add(frameId[m.frame - 1]);
    }
  });
  let tid = 0;
  let lgd = 0;
  let matchedIds = 0;
  const perObject: Record<string, TidLgdObject> = {};
  for (const id of [...appear.keys()].sort((a, b) => a - b)) {
    const ids = appear.get(id)!;
    const hits = matched.get(id) ?? new Set<number>();
    if (hits.size === 0) {
      perObject[String(id)] = { matched_frames: 0, tid_steps: null, lgd_steps: null };
      continue;
    }
    matchedIds++;
    const first = ids[0];
    const last = ids[ids.length - 1];
    const firstHit = Math.min(...hits);
    let gap = 0;
    let cur = 0;
    for (let i = first; i <= last; i++) {
      if (hits.has(i)) {
        gap = Math.max(gap, cur);
        cur = 0;
      } else cur++;
    }
    gap = Math.max(gap, cur);
    perObject[String(id)] = { matched_frames: hits.size, tid_steps: firstHit - first, lgd_steps: gap };
    tid += (firstHit - first) * step;
    lgd += gap * step;
  }
  return {
    TID: matchedIds === 0 ? NaN : tid / matchedIds,
    LGD: matchedIds === 0 ? NaN : lgd / matchedIds,
    per_object: perObject,
  };
}

export interface FirstDetection {
  gtId: number;
  /** 0-based frame index of the object's first frame in the ground truth. */
  firstFrame: number;
  /** 0-based frame index of its first CLEAR match; null when never matched. */
  firstMatchedFrame: number | null;
  /** firstMatchedFrame - firstFrame; null when never matched. */
  frames: number | null;
  /** frames x framePeriodSeconds; null when never matched. */
  seconds: number | null;
}

/**
 * Time to first detection per GT object: from the first frame it is in the ground truth (the
 * caller passes only the boxes that count as visible) to the first frame the tracker holds it
 * (its first CLEAR match), in frames and in seconds at the given frame period. Ascending GT id.
 */
export function timeToFirstDetection(seq: TrackingSequence, clearMatches: FrameMatches[], framePeriodSeconds: number): FirstDetection[] {
  if (!(framePeriodSeconds > 0)) throw new RangeError(`tracking: framePeriodSeconds must be positive, got ${framePeriodSeconds}`);
  const first = new Map<number, number>();
  seq.frames.forEach((f, t) => {
    for (const b of f.gt) if (!first.has(b.id)) first.set(b.id, t);
  });
  const firstHit = new Map<number, number>();
  for (const m of clearMatches) for (const [gtId] of m.pairs) if (!firstHit.has(gtId)) firstHit.set(gtId, m.frame - 1);
  return [...first.keys()].sort((a, b) => a - b).map((gtId) => {
    const hit = firstHit.get(gtId);
    const frames = hit === undefined ? null : hit - first.get(gtId)!;
    return { gtId, firstFrame: first.get(gtId)!, firstMatchedFrame: hit ?? null, frames, seconds: frames === null ? null : frames * framePeriodSeconds };
  });
}

export interface GhostRun {
  trackerId: number;
  /** 0-based first frame of the run. */
  from: number;
  /** 0-based frame after the run (exclusive). */
  to: number;
  frames: number;
}

/**
 * Ghost tracks. A ghost is a run of at least `minFrames` consecutive frames in which one tracker
 * id is present and matches no GT box under CLEAR's matching (IoU >= 0.5, previous pairings kept):
 * a track the tracker holds with nothing real under it. A frame where the id is absent ends the
 * run; a match ends it too. One tracker id may give several runs. Sorted by id, then frame.
 * A single unmatched frame is an FP, not a ghost: hence the minimum length.
 */
export function ghostTracks(seq: TrackingSequence, clearMatches: FrameMatches[], minFrames: number): GhostRun[] {
  if (!(Number.isInteger(minFrames) && minFrames >= 1)) throw new RangeError(`tracking: minFrames must be an integer >= 1, got ${minFrames}`);
  const matchedAt = seq.frames.map(() => new Set<number>());
  for (const m of clearMatches) for (const [, trId] of m.pairs) matchedAt[m.frame - 1].add(trId);
  const open = new Map<number, number>();
  const runs: GhostRun[] = [];
  const close = (id: number, start: number, end: number) => {
    if (end - start >= minFrames) runs.push({ trackerId: id, from: start, to: end, frames: end - start });
  };
  seq.frames.forEach((f, t) => {
    const unmatchedNow = new Set(f.tracker.filter((b) => !matchedAt[t].has(b.id)).map((b) => b.id));
    for (const [id, start] of [...open]) {
      if (!unmatchedNow.has(id)) {
        close(id, start, t);
        open.delete(id);
      }
    }
    for (const id of unmatchedNow) if (!open.has(id)) open.set(id, t);
  });
  for (const [id, start] of open) close(id, start, seq.frames.length);
  return runs.sort((a, b) => a.trackerId - b.trackerId || a.from - b.from);
}
