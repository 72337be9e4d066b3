import { describe, expect, it } from 'vitest';
import { DegradationRule, evaluateDegradation, evaluateDegradationRule, faultEpisodes, type DegradationFrame, type DegradationRuleInput } from '../../src/replay/degradation.js';
import { consumeDeliveries, planDelivery, ReplayVariant, type FrameTime, type ReplayVariantInput } from '../../src/replay/stress.js';
import type { Detection, TrackBox } from '../../src/replay/types.js';

/** 60 frames at 10 Hz. */
const T0 = 1_000_000_000_000n;
const frames: FrameTime[] = Array.from({ length: 60 }, (_, i) => ({ index: i, captureNs: T0 + BigInt(i) * 100_000_000n }));

interface FrameSpec {
  detections?: Detection[];
  tracks?: TrackBox[];
  matchedGt?: number[];
  visibleGt?: number[];
  degraded?: boolean;
}

/** The processed frames of a replay under `variant` (real plans, through the real queue), with per-frame contents from `spec`. */
function records(variant: ReplayVariantInput | undefined, spec: (source: number) => FrameSpec = () => ({})): DegradationFrame[] {
  const plan = planDelivery(frames, variant === undefined ? undefined : ReplayVariant.parse(variant));
  return consumeDeliveries(plan).processed.map((delivery) => {
    const s = spec(delivery.source);
    return {
      delivery,
      timeS: Number(delivery.stampNs - T0) / 1e9,
      detections: s.detections ?? [],
      tracks: s.tracks ?? [],
      ...(s.matchedGt ? { matchedGt: s.matchedGt } : {}),
      ...(s.visibleGt ? { visibleGt: s.visibleGt } : {}),
      ...(s.degraded ? { degraded: true } : {}),
    };
  });
}

const det = (score: number, cls = 'car'): Detection => ({ box: [10, 10, 20, 20], score, cls });
const track = (id: number, sinceUpdate: number, confirmed = true): TrackBox => ({ id, box: [10, 10, 20, 20], cls: 'car', score: 0.8, confirmed, sinceUpdate });
const rule = (r: DegradationRuleInput) => DegradationRule.parse(r);
/** Blackout on frames 20..29. */
const blackout: ReplayVariantInput = { kind: 'blackout', name: 'bo', segments: [{ at_s: 2, duration_s: 1 }] };
const inFault = (s: number) => s >= 20 && s <= 29;

describe('fault episodes', () => {
  it('groups consecutive faulted frames per segment', () => {
    const r = records({ kind: 'occlusion', name: 'o', segments: [{ at_s: 1, duration_s: 0.3 }, { at_s: 1.3, duration_s: 0.2 }] });
    expect(faultEpisodes(r, ['occlusion']).map((e) => [e.segment, r[e.from].delivery.source, r[e.to].delivery.source])).toEqual([
      [0, 10, 12],
      [1, 13, 14],
    ]);
    expect(faultEpisodes(r, ['blackout'])).toEqual([]);
  });
});

describe('no_confident_boxes_after_fault', () => {
  const r0 = rule({ kind: 'no_confident_boxes_after_fault' });

  it.each([
    ['confident boxes only in the 3 grace frames', (s: number) => ({ detections: s >= 20 && s <= 22 ? [det(0.9)] : s < 20 || s > 29 ? [det(0.8)] : [] }), 'pass'],
    ['boxes below score_min during the fault', (s: number) => ({ detections: inFault(s) ? [det(0.49)] : [] }), 'pass'],
    ['confident boxes on frames reported degraded', (s: number) => ({ detections: [det(0.9)], degraded: inFault(s) }), 'pass'],
  ])('passes: %s', (_, spec, status) => {
    const v = evaluateDegradationRule(r0, records(blackout, spec));
    expect(v.status).toBe(status);
    expect(v.evidence).toEqual([]);
    expect(v.reason).toMatch(/7 frames checked/);
  });

  it('fails with one evidence entry per run of offending frames', () => {
    const v = evaluateDegradationRule(r0, records(blackout, (s) => ({ detections: [24, 25, 28].includes(s) ? [det(0.3), det(0.7, 'pedestrian')] : s === 26 ? [det(0.5)] : [] })));
    expect(v.status).toBe('fail');
    expect(v.evidence.map((e) => e.frames)).toEqual([
      [24, 26],
      [28, 28],
    ]);
    expect(v.evidence[0].detail).toMatch(/3 frame\(s\) of blackout 'bo' segment 0 .* from 0\.40 s after onset \(best pedestrian 0\.70\)/);
  });

  it('counts grace from the fault onset as the consumer sees it', () => {
    const v = evaluateDegradationRule(rule({ kind: 'no_confident_boxes_after_fault', within_frames: 0 }), records(blackout, (s) => ({ detections: s === 20 ? [det(0.9)] : [] })));
    expect(v.status).toBe('fail');
    expect(v.evidence.map((e) => e.frames)).toEqual([[20, 20]]);
  });

  it.each([
    ['no fault', undefined, /no blackout fault/],
    ['a fault the rule does not concern', { kind: 'occlusion', name: 'o' } as ReplayVariantInput, /no blackout fault/],
    ['a fault shorter than the grace', { kind: 'blackout', name: 'b', segments: [{ at_s: 2, duration_s: 0.25 }] } as ReplayVariantInput, /at most 3 frame/],
  ])('is skipped with %s', (_, variant, reason) => {
    const v = evaluateDegradationRule(r0, records(variant, () => ({ detections: [det(0.99)] })));
    expect(v.status).toBe('skipped');
    expect(v.reason).toMatch(reason);
  });
});

describe('max_coast_s', () => {
  const r1 = rule({ kind: 'max_coast_s', seconds: 1 });
  /** Track 1 updated on frames 0..9, then output coasting from frame 10 to `last`. */
  const coastTo = (last: number, confirmed = true) => (s: number) => ({ tracks: s <= 9 ? [track(1, 0)] : s <= last ? [track(1, s - 9, confirmed)] : [] });

  it('passes a coast of exactly the limit', () => {
    const v = evaluateDegradationRule(r1, records(undefined, coastTo(19)));
    expect(v).toMatchObject({ status: 'pass', reason: 'longest coast of an output confirmed track 1.00 s (limit 1 s)' });
  });

  it('fails past the limit, naming the frames output past it', () => {
    const v = evaluateDegradationRule(r1, records(undefined, coastTo(24)));
    expect(v.status).toBe('fail');
    expect(v.evidence).toEqual([{ frames: [20, 24], detail: 'track 1 (car) output coasting up to 1.50 s after its last update at 0.90 s (limit 1 s)' }]);
  });

  it('ignores tentative tracks and restarts the clock on an update', () => {
    expect(evaluateDegradationRule(r1, records(undefined, coastTo(30, false))).status).toBe('pass');
    const v = evaluateDegradationRule(r1, records(undefined, (s) => ({ tracks: [track(1, s % 8)] })));
    expect(v).toMatchObject({ status: 'pass', reason: expect.stringMatching(/0\.70 s/) });
  });

  it('measures seconds from stamps, not frame counts (frames dropped under the coast)', () => {
    const r = records({ kind: 'drop_burst', name: 'b', every_s: 100, start_s: 1, length_frames: 8 }, (s) => ({ tracks: s < 10 ? [track(1, 0)] : [track(1, 1)] }));
    const v = evaluateDegradationRule(r1, r);
    expect(v.status).toBe('fail');
    expect(v.evidence[0].frames).toEqual([20, 59]); // last update 0.9 s; frames 10..17 never arrive; 20 is 1.1 s on
  });

  it('is skipped on an empty replay', () => {
    expect(evaluateDegradationRule(r1, []).status).toBe('skipped');
  });
});

describe('reacquire_within_s', () => {
  const r2 = rule({ kind: 'reacquire_within_s', seconds: 1 });
  /** GT 7 visible everywhere, tracked before the blackout and again from `from`. */
  const back = (from: number) => (s: number) => ({ visibleGt: [7], matchedGt: s < 20 || s >= from ? [7] : [] });

  it('passes when the object is tracked again within the limit', () => {
    const v = evaluateDegradationRule(r2, records(blackout, back(34)));
    expect(v).toMatchObject({ status: 'pass', reason: '1 object(s) re-acquired after 1 fault segment(s), slowest 0.40 s (limit 1 s)' });
  });

  it('passes at exactly the limit and fails just past it, with the window as evidence', () => {
    expect(evaluateDegradationRule(r2, records(blackout, back(40))).status).toBe('pass');
    const v = evaluateDegradationRule(r2, records(blackout, back(41)));
    expect(v.status).toBe('fail');
    expect(v.evidence).toEqual([{ frames: [30, 40], detail: "GT 7 visible and not tracked for 1 s after blackout 'bo' segment 0 ended (frame 30)" }]);
  });

  it('excuses an object that leaves the view before it is re-acquired', () => {
    const spec = (s: number) => ({ visibleGt: s < 33 ? [7, 8] : [8], matchedGt: s < 20 || s >= 35 ? [8] : [] });
    expect(evaluateDegradationRule(r2, records(blackout, spec))).toMatchObject({ status: 'pass', reason: expect.stringMatching(/^1 object/) });
  });

  it.each([
    ['no fault', undefined, () => ({ visibleGt: [7], matchedGt: [] }), /no blackout\/frozen\/occlusion\/stuck_pixels fault/],
    ['no ground truth', blackout, () => ({}), /no matchedGt\/visibleGt/],
    ['a fault to the end of the drive', { kind: 'frozen', name: 'f', segments: [{ at_s: 5, duration_s: 10 }] } as ReplayVariantInput, () => ({ visibleGt: [7], matchedGt: [] }), /lasts to the end/],
    ['nothing visible when the fault ends', blackout, (s: number) => ({ visibleGt: s < 25 ? [7] : [], matchedGt: [] }), /no ground-truth object stayed visible/],
  ])('is skipped with %s', (_, variant, spec, reason) => {
    const v = evaluateDegradationRule(r2, records(variant, spec));
    expect(v.status).toBe('skipped');
    expect(v.reason).toMatch(reason);
  });
});

describe('no_ghost_tracks_during_fault', () => {
  const r3 = rule({ kind: 'no_ghost_tracks_during_fault' });

  it('passes when only tracks from before the fault are output during it', () => {
    const v = evaluateDegradationRule(r3, records(blackout, (s) => ({ tracks: [track(1, inFault(s) ? s - 19 : 0)] })));
    expect(v.status).toBe('pass');
  });

  it('fails on a track first confirmed during the fault, not on one born after it', () => {
    const v = evaluateDegradationRule(r3, records(blackout, (s) => ({ tracks: [track(1, 0), ...(s >= 23 ? [track(5, 0)] : []), ...(s >= 26 ? [track(6, 0)] : []), ...(s >= 31 ? [track(9, 0)] : []), ...(s === 24 ? [track(12, 0, false)] : [])] })));
    expect(v.status).toBe('fail');
    expect(v.evidence).toEqual([{ frames: [23, 26], detail: "new confirmed track(s) 5, 6 during blackout 'bo' segment 0" }]);
  });

  it('is skipped for a fault it does not concern', () => {
    expect(evaluateDegradationRule(r3, records({ kind: 'stuck_pixels', name: 's' }, () => ({ tracks: [track(3, 0)] }))).status).toBe('skipped');
  });
});

describe('evaluateDegradation', () => {
  it('gives one verdict per rule, in order, named by name or kind', () => {
    const vs = evaluateDegradation([rule({ kind: 'max_coast_s' }), rule({ kind: 'no_ghost_tracks_during_fault', name: 'ghosts' })], records(undefined));
    expect(vs.map((v) => [v.rule, v.status])).toEqual([
      ['max_coast_s', 'pass'],
      ['ghosts', 'skipped'],
    ]);
  });

  it('refuses records out of time order, naming the record', () => {
    const r = records(undefined);
    const bad = [r[0], { ...r[1], timeS: -1 }];
    expect(() => evaluateDegradation([rule({ kind: 'max_coast_s' })], bad)).toThrow(/records\[1\]\.timeS: -1 is before records\[0\]/);
  });

  it.each([
    [{ kind: 'max_coast_s', seconds: 0 }, 'seconds'],
    [{ kind: 'no_confident_boxes_after_fault', faults: ['fog'] }, 'faults.0'],
    [{ kind: 'no_confident_boxes_after_fault', within_frames: -1 }, 'within_frames'],
    [{ kind: 'reacquire_within_s', second: 1 }, 'second'],
    [{ kind: 'coast' }, 'kind'],
  ])('rejects %j naming %s', (input, field) => {
    const r = DegradationRule.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => [...i.path, ...((i as { keys?: string[] }).keys ?? [])].join('.'))).toContain(field);
  });
});
