/**
 * `paddock eval tracking --gt <gt.txt> --tracker <results.txt> [--frames N] [--json]`: TrackEval's
 * numbers on MOTChallenge files. The frame count is --frames, else seqLength of the seqinfo.ini
 * beside gt.txt (or one folder up, MOTChallenge's <seq>/gt/gt.txt layout): trailing frames without
 * boxes still count, so it cannot come from the files. With --json one object:
 * {"CLEAR": {...}, "Identity": {...}, "HOTA": {... 19-value arrays ...}, "Count": {...},
 *  "nuScenes": {"TID", "LGD", "per_object", ...}}; NaN is written as null.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MotFileError, motSequence, parseMotFile, parseSeqinfo } from '../src/metrics/mot-files.js';
import { evaluateTracking, tidLgd } from '../src/metrics/tracking.js';

class TrackingInputError extends Error {}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TrackingInputError(`${path}: cannot read the ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function frameCount(gt: string, frames: string | undefined): number {
  if (frames !== undefined) {
    if (!/^\d+$/.test(frames) || Number(frames) < 1) throw new TrackingInputError(`--frames must be a positive whole number, not "${frames}"`);
    return Number(frames);
  }
  const candidates = [join(dirname(gt), 'seqinfo.ini'), join(dirname(gt), '..', 'seqinfo.ini')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new TrackingInputError(`no frame count: no seqinfo.ini beside ${gt} (looked for ${candidates.join(' and ')}); give --frames N`);
  }
  return parseSeqinfo(readText(found, 'sequence info'), found);
}

const fmt = (v: number): string => (Number.isNaN(v) ? 'n/a' : v.toFixed(4));
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export function evalTracking(opts: { gt: string; tracker: string; frames?: string; json: boolean }): number {
  try {
    const n = frameCount(opts.gt, opts.frames);
    const gt = parseMotFile(readText(opts.gt, 'ground truth'), opts.gt, 'gt', n);
    const tracker = parseMotFile(readText(opts.tracker, 'tracker results'), opts.tracker, 'tracker', n);
    const seq = motSequence(gt, tracker, n);
    const ev = evaluateTracking(seq);
    const nu = tidLgd(seq, ev.clearMatches);
    if (opts.json) {
      const out = {
        CLEAR: ev.CLEAR, Identity: ev.Identity, HOTA: ev.HOTA, Count: ev.Count,
        nuScenes: { TID: nu.TID, LGD: nu.LGD, frame_ids: 'devkit', step_s: 0.5, per_object: nu.per_object },
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return 0;
    }
    const c = ev.CLEAR;
    const rows: [string, string][] = [
      ['HOTA', fmt(mean(ev.HOTA.HOTA))],
      ['DetA', fmt(mean(ev.HOTA.DetA))],
      ['AssA', fmt(mean(ev.HOTA.AssA))],
      ['MOTA', fmt(c.MOTA)],
      ['MOTP', fmt(c.MOTP)],
      ['IDF1', fmt(ev.Identity.IDF1)],
      ['IDSW', String(c.IDSW)],
      ['Frag', String(c.Frag)],
      ['MT/PT/ML', `${c.MT}/${c.PT}/${c.ML}`],
      ['TID (s)', Number.isNaN(nu.TID) ? 'n/a' : String(Number(nu.TID.toFixed(4)))],
      ['LGD (s)', Number.isNaN(nu.LGD) ? 'n/a' : String(Number(nu.LGD.toFixed(4)))],
    ];
    const lines = [
      `${n} frames, ${ev.Count.GT_IDs} objects (${ev.Count.GT_Dets} boxes), ${ev.Count.IDs} tracks (${ev.Count.Dets} boxes)`,
      ...rows.map(([k, v]) => `${k.padEnd(9)} ${v}`),
      'HOTA, DetA, AssA: means over the 19 alphas 0.05..0.95, as TrackEval prints them',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    if (err instanceof MotFileError || err instanceof TrackingInputError) {
      process.stderr.write(`paddock eval tracking: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
