/**
 * MOTChallenge tracking text files (gt.txt, a tracker's results, seqinfo.ini) read into a
 * TrackingSequence the way TrackEval's MotChallenge2DBox loader does with its MOT17 defaults
 * (DO_PREPROC): rows grouped by frame in file order; tracker boxes matched (IoU >= 0.5, one
 * Hungarian assignment on the whole frame) to GT boxes of a distractor class are removed; only
 * GT rows of class 1 (pedestrian) whose conf column is non-zero as an integer are evaluated
 * (TrackEval truncates it: 0.5 counts as 0, ignored). Text in, data out:
 * the caller reads the files, and every complaint names the file, the line and the field.
 */
import { linearSumAssignment } from './assignment.js';
import { boxIou, type BoxXYWH, type TrackedBox, type TrackingSequence } from './tracking.js';

/** MOT17's class numbers that TrackEval accepts in ground truth (pedestrian .. crowd). */
const VALID_GT_CLASSES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
/** person_on_vehicle, static_person, distractor, reflection: tracker boxes on these are not counted. */
const DISTRACTOR_CLASSES = new Set([2, 7, 8, 12]);
const PEDESTRIAN = 1;

export interface MotRow {
  frame: number;
  id: number;
  box: BoxXYWH;
  conf: number;
  cls: number;
  /** 1-based line in its file. */
  line: number;
}

export class MotFileError extends Error {}

function fail(file: string, line: number, what: string): never {
  throw new MotFileError(`${file}:${line}: ${what}`);
}

const GT_FIELDS = ['frame', 'id', 'x', 'y', 'w', 'h', 'conf', 'class', 'visibility'];
const TRACKER_FIELDS = ['frame', 'id', 'x', 'y', 'w', 'h', 'conf', 'x3d', 'y3d', 'z3d'];

/**
 * Parse one MOTChallenge file. GT rows need at least frame,id,x,y,w,h,conf,class (TrackEval
 * needs the class column of GT); tracker rows at least frame,id,x,y,w,h (conf and class default
 * to 1, as TrackEval's loader). Frames must be whole numbers in 1..numFrames, ids whole numbers.
 */
export function parseMotFile(text: string, file: string, kind: 'gt' | 'tracker', numFrames: number): MotRow[] {
  const names = kind === 'gt' ? GT_FIELDS : TRACKER_FIELDS;
  const minFields = kind === 'gt' ? 8 : 6;
  const rows: MotRow[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, n) => {
    const line = n + 1;
    const s = raw.replace(/\r$/, '').trim();
    if (s === '') return;
    const parts = s.split(',').map((p) => p.trim());
    if (parts.length < minFields) {
      fail(file, line, `${parts.length} fields, a ${kind === 'gt' ? 'ground-truth' : 'tracker'} row needs at least ${minFields} (${names.slice(0, minFields).join(',')})`);
    }
    const values = parts.map((p, i) => {
      const v = p === '' ? NaN : Number(p);
      if (!Number.isFinite(v)) fail(file, line, `field ${i + 1} (${names[i] ?? 'extra'}) is not a number: ${JSON.stringify(p)}`);
      return v;
    });
    const [frame, id, x, y, w, h] = values;
    if (!Number.isInteger(frame)) fail(file, line, `frame ${parts[0]} is not a whole number`);
    if (frame < 1 || frame > numFrames) fail(file, line, `frame ${frame} is outside the sequence's frames 1..${numFrames}`);
    if (!Number.isInteger(id)) fail(file, line, `id ${parts[1]} is not a whole number`);
    const conf = values.length > 6 ? values[6] : 1;
    const cls = values.length > 7 ? values[7] : 1;
    if (kind === 'gt' && !VALID_GT_CLASSES.has(cls)) fail(file, line, `class ${parts[7]} is not a MOT17 class (1..13)`);
    if (kind === 'tracker' && cls > 1) fail(file, line, `class ${parts[7]}: only the pedestrian class (1, or -1 for none) can be evaluated`);
    rows.push({ frame, id, box: [x, y, w, h], conf, cls, line });
  });
  const seen = new Map<string, number>();
  for (const r of rows) {
    const key = `${r.frame}:${r.id}`;
    const before = seen.get(key);
    if (before !== undefined) {
      fail(file, r.line, `${kind === 'gt' ? 'ground-truth' : 'tracker'} id ${r.id} appears twice in frame ${r.frame} (also line ${before})`);
    }
    seen.set(key, r.line);
  }
  return rows;
}

/** `seqLength` from a seqinfo.ini's [Sequence] section. */
export function parseSeqinfo(text: string, file: string): number {
  let section = '';
  let found: number | undefined;
  text.split('\n').forEach((raw, n) => {
    const s = raw.replace(/\r$/, '').trim();
    if (s === '' || s.startsWith(';') || s.startsWith('#')) return;
    const header = /^\[(.+)\]$/.exec(s);
    if (header) {
      section = header[1].trim();
      return;
    }
    const eq = s.indexOf('=');
    if (eq < 0) return;
    if (section === 'Sequence' && s.slice(0, eq).trim() === 'seqLength') {
      const v = s.slice(eq + 1).trim();
      if (!/^\d+$/.test(v) || Number(v) < 1) fail(file, n + 1, `seqLength ${JSON.stringify(v)} is not a positive whole number`);
      found = Number(v);
    }
  });
  if (found === undefined) throw new MotFileError(`${file}: no seqLength in its [Sequence] section`);
  return found;
}

/** The GT and tracker rows as a TrackingSequence of numFrames frames, after MOT17's preprocessing. */
export function motSequence(gt: MotRow[], tracker: MotRow[], numFrames: number): TrackingSequence {
  const gtBy: MotRow[][] = Array.from({ length: numFrames }, () => []);
  const trBy: MotRow[][] = Array.from({ length: numFrames }, () => []);
  for (const r of gt) gtBy[r.frame - 1].push(r);
  for (const r of tracker) trBy[r.frame - 1].push(r);
  const frames = gtBy.map((g, t) => {
    let trk = trBy[t];
    if (g.length > 0 && trk.length > 0) {
      const T = trk.length;
      const score = new Float64Array(g.length * T);
      for (let i = 0; i < g.length; i++) {
        for (let j = 0; j < T; j++) {
          const s = boxIou(g[i].box, trk[j].box);
          score[i * T + j] = s < 0.5 - 2.220446049250313e-16 ? 0 : s;
        }
      }
      const { rowInd, colInd } = linearSumAssignment(score, g.length, T, { maximize: true });
      const remove = new Set<number>();
      for (let n = 0; n < rowInd.length; n++) {
        if (score[rowInd[n] * T + colInd[n]] > 2.220446049250313e-16 && DISTRACTOR_CLASSES.has(g[rowInd[n]].cls)) remove.add(colInd[n]);
      }
      trk = trk.filter((_, j) => !remove.has(j));
    }
    const toBox = (r: MotRow): TrackedBox => ({ id: r.id, box: r.box });
    return { gt: g.filter((r) => Math.trunc(r.conf) !== 0 && r.cls === PEDESTRIAN).map(toBox), tracker: trk.map(toBox) };
  });
  return { frames };
}
