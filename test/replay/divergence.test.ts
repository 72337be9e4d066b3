/**
 * Divergence between two replays on hand-made frames: lost and gained objects, track breaks,
 * detection agreement, TTFD differences, segments and what the thresholds flag.
 */
import { describe, expect, it } from 'vitest';
import { DivergenceThresholds, frameDivergence, matchDetections, segmentDivergence, segmentRanges, type DivergenceFrame } from '../../src/replay/divergence.js';
import type { Detection } from '../../src/replay/types.js';

const det = (x: number, score = 0.9, cls = 'car'): Detection => ({ box: [x, 10, 20, 20], score, cls });

/** Frames at 10 Hz; `a`/`b` give, per frame, the GT id -> track id matches of each side. */
function frames(n: number, gt: { id: number; cls: string }[], a: (i: number) => [number, number][], b: (i: number) => [number, number][], dets: (i: number) => { a: Detection[]; b: Detection[] } = () => ({ a: [], b: [] })): DivergenceFrame[] {
  return Array.from({ length: n }, (_, i) => ({ t: i / 10, gt, a: { matches: new Map(a(i)), dets: dets(i).a }, b: { matches: new Map(b(i)), dets: dets(i).b } }));
}

describe('frameDivergence', () => {
  it('counts an object the other side tracks and this one does not as lost, and the reverse as gained', () => {
    const f = frames(3, [{ id: 1, cls: 'pedestrian' }, { id: 2, cls: 'car' }], (i) => (i === 1 ? [[2, 20]] : [[1, 10], [2, 20]]), () => [[1, 7]]);
    const d = frameDivergence(f);
    expect(d.map((x) => x.lost)).toEqual([[], [1], []]);
    expect(d.map((x) => x.gained)).toEqual([[2], [2], [2]]);
  });

  it('counts a track break when the matched id changes or the object is re-acquired after a gap', () => {
    // a: 1->10, 10, gap, 10 (re-acquired: break), 11 (new id: break); b: steady.
    const ids = [10, 10, undefined, 10, 11];
    const d = frameDivergence(frames(5, [{ id: 1, cls: 'car' }], (i) => (ids[i] === undefined ? [] : [[1, ids[i]!]]), () => [[1, 5]]));
    expect(d.map((x) => x.breaksA.length)).toEqual([0, 0, 0, 1, 1]);
    expect(d.every((x) => x.breaksB.length === 0)).toBe(true);
  });

  it('matches the two sides\' detections one to one by IoU within a class, above the score floor', () => {
    expect(matchDetections([det(0), det(100)], [det(2), det(300)])).toMatchObject({ detMatched: 1, detOnlyA: 1, detOnlyB: 1 });
    // Same box, other class: no match.
    expect(matchDetections([det(0, 0.9, 'car')], [det(0, 0.9, 'cyclist')])).toMatchObject({ detMatched: 0, detOnlyA: 1, detOnlyB: 1 });
    const d = frameDivergence(frames(1, [], () => [], () => [], () => ({ a: [det(0, 0.2)], b: [det(0)] })), 0.3);
    expect(d[0]).toMatchObject({ detMatched: 0, detOnlyA: 0, detOnlyB: 1 });
    expect(matchDetections([det(0)], [det(0)]).detMeanIou).toBe(1);
  });
});

describe('segments', () => {
  it('cuts frames into windows by stamp, the last one shorter', () => {
    expect(segmentRanges([0, 0.1, 0.2, 0.3, 0.4], 0.2)).toEqual([[0, 2], [2, 4], [4, 5]]);
    expect(segmentRanges([], 2)).toEqual([]);
  });

  it('flags a segment where the candidate loses a pedestrian production tracks, and names it', () => {
    const th = DivergenceThresholds.parse({ segment_s: 1 });
    // 20 frames; the candidate loses pedestrian 1 in frames 12..18 (7 frames, in the second segment).
    const f = frames(20, [{ id: 1, cls: 'pedestrian' }], (i) => (i >= 12 && i <= 18 ? [] : [[1, 3]]), () => [[1, 9]]);
    const segs = segmentDivergence(f, frameDivergence(f), th);
    expect(segs.map((s) => [s.from, s.to])).toEqual([[0, 10], [10, 20]]);
    expect(segs[0].flagged).toBe(false);
    expect(segs[1].flagged).toBe(true);
    expect(segs[1].lostObjects).toEqual([{ id: 1, cls: 'pedestrian', frames: 7 }]);
    expect(segs[1].reasons[0]).toContain('pedestrian #1 (7 frames)');
    expect(segs[1].severity).toBeGreaterThan(segs[0].severity);
    // The re-acquisition after the gap is a break of the candidate's track.
    expect(segs[1].breaksA).toBe(1);
    // Under the frame threshold it is not flagged.
    const lenient = segmentDivergence(f, frameDivergence(f), DivergenceThresholds.parse({ segment_s: 1, lost_frames: 8 }));
    expect(lenient[1].lostObjects).toEqual([]);
  });

  it('gives time to first detection on both sides for objects first seen in the segment, and flags a late one', () => {
    const th = DivergenceThresholds.parse({ segment_s: 1, ttfd_s: 0.5 });
    // Object 4 appears at frame 0; b tracks it from frame 1, a from frame 8.
    const f = frames(10, [{ id: 4, cls: 'cyclist' }], (i) => (i >= 8 ? [[4, 1]] : []), (i) => (i >= 1 ? [[4, 2]] : []));
    const [seg] = segmentDivergence(f, frameDivergence(f), th);
    expect(seg.ttfd).toEqual([{ id: 4, cls: 'cyclist', a: 0.8, b: 0.1 }]);
    expect(seg.flagged).toBe(true);
    expect(seg.reasons.some((r) => r.includes('first tracked later: cyclist #4 +0.7 s'))).toBe(true);
  });

  it('does not flag two replays that agree', () => {
    const f = frames(30, [{ id: 1, cls: 'car' }], () => [[1, 1]], () => [[1, 2]], () => ({ a: [det(0)], b: [det(1)] }));
    expect(segmentDivergence(f, frameDivergence(f), DivergenceThresholds.parse({})).every((s) => !s.flagged && s.severity === 0)).toBe(true);
  });
});
