/**
 * The tracking metrics against TrackEval's own numbers: the six shared reference cases
 * (../shared/reference/tracking: TrackEval 12c8791b's per-sequence and combined results,
 * nuscenes-devkit's TID/LGD, the CLEAR matches per frame), every field to 1e-12 (null = NaN).
 * Then hand-made cases for what the reference does not reach: TID/LGD across an empty frame in
 * both frame-id conventions, never-matched ids and NaN; time to first detection; ghost runs;
 * windows; the MOTChallenge parser's errors and its MOT17 preprocessing.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  HOTA_ALPHAS, combineTracking, evaluateTracking, evaluateTrackingWindow, ghostTracks, tidLgd, timeToFirstDetection,
  type BoxXYWH, type TrackingSequence,
} from '../../src/metrics/tracking.js';
import { motSequence, parseMotFile, parseSeqinfo } from '../../src/metrics/mot-files.js';
import { REFERENCE, expectClose, loadCase } from '../fixtures/tracking/helpers.js';

const CASES = existsSync(REFERENCE) ? readdirSync(REFERENCE).filter((d) => existsSync(join(REFERENCE, d, 'expected.json'))).sort() : [];

describe('tracking metrics on the shared TrackEval reference cases', () => {
  it('finds the six cases', () => expect(CASES.length).toBe(6));

  it('uses numpy arange(0.05, 0.99, 0.05) as the alphas, bit for bit', () => {
    const expected = JSON.parse(readFileSync(join(REFERENCE, CASES[0], 'expected.json'), 'utf8'));
    expect([...HOTA_ALPHAS]).toEqual(expected.trackeval.hota_alphas);
  });

  describe.each(CASES)('%s', (name) => {
    const dir = join(REFERENCE, name);
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
    const seq = loadCase(dir);
    const ev = evaluateTracking(seq);

    it('per sequence: CLEAR, Identity, HOTA, Count as TrackEval', () => {
      for (const metric of ['CLEAR', 'Identity', 'HOTA', 'Count'] as const) {
        const want = expected.trackeval.sequence[metric];
        expectClose(ev[metric], want, `${name} sequence ${metric}`);
        expect(Object.keys(ev[metric]).sort(), `${name} ${metric} field names`).toEqual(Object.keys(want).sort());
      }
    });

    it('combined row as TrackEval', () => {
      const combined = combineTracking([ev]);
      for (const metric of ['CLEAR', 'Identity', 'HOTA', 'Count'] as const) {
        expectClose(combined[metric], expected.trackeval.combined[metric], `${name} combined ${metric}`);
        expect(Object.keys(combined[metric]).sort()).toEqual(Object.keys(expected.trackeval.combined[metric]).sort());
      }
    });

    it('CLEAR matches per frame', () => {
      expect(ev.clearMatches.length).toBe(expected.seq_length);
      for (const f of expected.clear_matches.frames) {
        const got = ev.clearMatches[f.frame - 1];
        expect(got.frame).toBe(f.frame);
        const sorted = [...got.pairs].sort((a, b) => a[0] - b[0]);
        expect(sorted.map((p) => [p[0], p[1]]), `${name} frame ${f.frame}`).toEqual(f.pairs.map((p: number[]) => [p[0], p[1]]));
        expectClose(sorted.map((p) => p[2]), f.pairs.map((p: number[]) => p[2]), `${name} frame ${f.frame} IoU`);
      }
    });

    it.each(['devkit_frame_ids', 'frame_numbers'] as const)('nuScenes TID/LGD, %s', (convention) => {
      const want = expected.nuscenes_tid_lgd[convention];
      const got = tidLgd(seq, ev.clearMatches, { frameIds: convention === 'devkit_frame_ids' ? 'devkit' : 'frame-numbers' });
      expectClose(got.TID, want.TID_s, `${name} TID`);
      expectClose(got.LGD, want.LGD_s, `${name} LGD`);
      expect(got.per_object).toEqual(want.per_object);
    });
  });
});

const box = (x: number): BoxXYWH => [x, 0, 10, 10];

describe('TID / LGD, hand-made', () => {
  // Object 1 at frames 1..6, matched at 1, 5, 6; frame 3 is empty in both files (no GT, no tracker).
  // Object 2 never matched. Object 3 matched from its second frame.
  const seq: TrackingSequence = {
    frames: [
      { gt: [{ id: 1, box: box(0) }, { id: 2, box: box(100) }], tracker: [{ id: 7, box: box(0) }] },
      { gt: [{ id: 1, box: box(0) }], tracker: [{ id: 8, box: box(50) }] },
      { gt: [], tracker: [] },
      { gt: [{ id: 1, box: box(0) }, { id: 3, box: box(200) }], tracker: [] },
      { gt: [{ id: 1, box: box(0) }, { id: 3, box: box(200) }], tracker: [{ id: 7, box: box(0) }, { id: 9, box: box(200) }] },
      { gt: [{ id: 1, box: box(0) }], tracker: [{ id: 7, box: box(0) }] },
    ],
  };
  const ev = evaluateTracking(seq);

  it('devkit frame ids: the empty frame is no gap', () => {
    const r = tidLgd(seq, ev.clearMatches);
    expect(r.per_object).toEqual({
      1: { matched_frames: 3, tid_steps: 0, lgd_steps: 2 },
      2: { matched_frames: 0, tid_steps: null, lgd_steps: null },
      // The devkit's gap loop starts at the first appearance: the frames before the first match are a gap too.
      3: { matched_frames: 1, tid_steps: 1, lgd_steps: 1 },
    });
    expect(r.TID).toBe((0 * 0.5 + 1 * 0.5) / 2);
    expect(r.LGD).toBe((2 * 0.5 + 1 * 0.5) / 2);
  });

  it('frame numbers: the empty frame is a gap step; the step length is a parameter', () => {
    const r = tidLgd(seq, ev.clearMatches, { frameIds: 'frame-numbers', stepSeconds: 0.1 });
    expect(r.per_object[1]).toEqual({ matched_frames: 3, tid_steps: 0, lgd_steps: 3 });
    expect(r.LGD).toBe((3 * 0.1 + 1 * 0.1) / 2);
    expect(r.TID).toBe((0 * 0.1 + 1 * 0.1) / 2);
  });

  it('is NaN when no object is ever matched', () => {
    const none: TrackingSequence = { frames: [{ gt: [{ id: 1, box: box(0) }], tracker: [{ id: 1, box: box(500) }] }] };
    const r = tidLgd(none, evaluateTracking(none).clearMatches);
    expect(r.TID).toBeNaN();
    expect(r.LGD).toBeNaN();
  });

  it('time to first detection in frames and seconds', () => {
    expect(timeToFirstDetection(seq, ev.clearMatches, 0.1)).toEqual([
      { gtId: 1, firstFrame: 0, firstMatchedFrame: 0, frames: 0, seconds: 0 },
      { gtId: 2, firstFrame: 0, firstMatchedFrame: null, frames: null, seconds: null },
      { gtId: 3, firstFrame: 3, firstMatchedFrame: 4, frames: 1, seconds: 0.1 },
    ]);
    expect(() => timeToFirstDetection(seq, ev.clearMatches, 0)).toThrow(/framePeriodSeconds/);
  });
});

describe('ghost tracks', () => {
  // Tracker 5 sits on nothing for frames 0..3, matches GT at 4, is away at 5 and unmatched at 6..7;
  // tracker 6 is unmatched in 0..1 then gone; tracker 7 follows GT 1 throughout.
  const frames = Array.from({ length: 8 }, (_, t) => ({
    gt: [{ id: 1, box: box(0) }, ...(t === 4 ? [{ id: 2, box: box(300) }] : [])],
    tracker: [
      { id: 7, box: box(1) },
      ...(t === 5 ? [] : [{ id: 5, box: box(300) }]),
      ...(t < 2 ? [{ id: 6, box: box(600) }] : []),
    ],
  }));
  const seq = { frames };
  const ev = evaluateTracking(seq);

  it.each([
    [1, [{ trackerId: 5, from: 0, to: 4, frames: 4 }, { trackerId: 5, from: 6, to: 8, frames: 2 }, { trackerId: 6, from: 0, to: 2, frames: 2 }]],
    [3, [{ trackerId: 5, from: 0, to: 4, frames: 4 }]],
    [5, []],
  ])('at least %i frames', (n, want) => {
    expect(ghostTracks(seq, ev.clearMatches, n)).toEqual(want);
  });
});

describe('windows', () => {
  it('a window is evaluated as its own sequence, frames numbered as in the whole', () => {
    const seq = loadCase(join(REFERENCE, '02_id_switches'));
    const w = evaluateTrackingWindow(seq, 10, 20);
    const own = evaluateTracking({ frames: seq.frames.slice(10, 20) });
    expect(w.CLEAR).toEqual(own.CLEAR);
    expect(w.HOTA).toEqual(own.HOTA);
    expect(w.clearMatches[0].frame).toBe(11);
    expect(w.Count.Frames).toBe(10);
    expect(() => evaluateTrackingWindow(seq, 5, 31)).toThrow(/window \[5, 31\) is not inside the sequence's 30 frames/);
  });
});

describe('early returns', () => {
  it('no tracker boxes: FN = GT boxes, ML = GT ids, LocA = 1', () => {
    const ev = evaluateTracking({ frames: [{ gt: [{ id: 3, box: box(0) }], tracker: [] }, { gt: [{ id: 4, box: box(0) }], tracker: [] }] });
    expect(ev.CLEAR).toMatchObject({ CLR_FN: 2, ML: 2, MLR: 1, CLR_Frames: 0, MOTA: 0 });
    expect(ev.Identity.IDFN).toBe(2);
    expect(ev.HOTA.LocA).toEqual(new Array(19).fill(1));
    expect(combineTracking([ev]).CLEAR.MLR).toBe(1);
  });

  it('no GT boxes: FP = tracker boxes; the combined row recomputes MOTA = -FP', () => {
    const ev = evaluateTracking({ frames: [{ gt: [], tracker: [{ id: 1, box: box(0) }, { id: 2, box: box(50) }] }] });
    expect(ev.CLEAR).toMatchObject({ CLR_FP: 2, MLR: 1, MOTA: 0 });
    expect(combineTracking([ev]).CLEAR).toMatchObject({ MOTA: -2, MLR: 0 });
  });

  it('a tracker id twice in one frame is an error naming the frame', () => {
    expect(() => evaluateTracking({ frames: [{ gt: [], tracker: [] }, { gt: [], tracker: [{ id: 4, box: box(0) }, { id: 4, box: box(9) }] }] }))
      .toThrow(/tracker has id 4 more than once in frame 2/);
  });
});

describe('MOTChallenge files', () => {
  it.each([
    ['gt', '1,1,0,0,10,10,1,1,1\n1,2,0,0,10\n', /gt\.txt:2: 5 fields, a ground-truth row needs at least 8/],
    ['gt', '1,1,0,0,10,x,1,1,1\n', /gt\.txt:1: field 6 \(h\) is not a number: "x"/],
    ['gt', '4,1,0,0,10,10,1,1,1\n', /gt\.txt:1: frame 4 is outside the sequence's frames 1\.\.3/],
    ['gt', '1,1,0,0,10,10,1,14,1\n', /gt\.txt:1: class 14 is not a MOT17 class/],
    ['tracker', '1,1.5,0,0,10,10,1,-1,-1,-1\n', /tracker\.txt:1: id 1\.5 is not a whole number/],
    ['tracker', '1,1,0,0,10,10,1,-1,-1,-1\n\n2,1,0,0,1,1,1\n2,1,5,5,1,1,1\n', /tracker\.txt:4: tracker id 1 appears twice in frame 2 \(also line 3\)/],
  ] as const)('%s: %j', (kind, text, message) => {
    expect(() => parseMotFile(text, `${kind === 'gt' ? 'gt' : 'tracker'}.txt`, kind, 3)).toThrow(message);
  });

  it('seqinfo.ini: seqLength, or an error naming the file', () => {
    expect(parseSeqinfo('[Sequence]\nname=a\nseqLength=12\r\n', 's.ini')).toBe(12);
    expect(() => parseSeqinfo('[Sequence]\nname=a\n', 's.ini')).toThrow(/s\.ini: no seqLength/);
    expect(() => parseSeqinfo('[Sequence]\nseqLength=1.5\n', 's.ini')).toThrow(/s\.ini:2: seqLength "1\.5"/);
  });

  it('MOT17 preprocessing: conf 0 (and 0.5) GT rows dropped; tracker boxes on distractors removed', () => {
    const gt = parseMotFile('1,1,0,0,10,10,1,1,1\n1,2,100,0,10,10,0,1,1\n1,3,200,0,10,10,1,7,1\n1,4,300,0,10,10,0.5,1,1\n', 'gt.txt', 'gt', 1);
    const tr = parseMotFile('1,10,0,0,10,10,1\n1,11,201,0,10,10,1\n1,12,100,0,10,10,1\n', 'tracker.txt', 'tracker', 1);
    const seq = motSequence(gt, tr, 1);
    expect(seq.frames[0].gt.map((b) => b.id)).toEqual([1]);
    expect(seq.frames[0].tracker.map((b) => b.id)).toEqual([10, 12]);
  });
});
