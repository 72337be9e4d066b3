/**
 * The replay screen's player, pure: which frame of a flagged segment shows, whether it plays,
 * which model's boxes are drawn over it; the segment of a `replay-divergence` failure read out of
 * its drive's timeline (src/schema/replay-timeline.ts); the divergence strip, one symbol a frame;
 * the lists of tracks beside the frame. The screen (screens/replay-view.tsx) draws what these
 * return; the UI reducer (ui-state.ts) keeps a PlayerState and hands it the keys. No React, no I/O.
 */
import type { FailureItem } from '../src/live/run-reader.js';
import type { ReplayTimeline } from '../src/schema/replay-timeline.js';
import { frameDivergence, type DivergenceFrame, type FrameDivergence } from '../src/replay/divergence.js';
import { iouXywh } from '../src/model/decode.js';
import type { FrameBox } from './frame-cells.js';

/** The failure kind the replay step gives a flagged segment. */
export const REPLAY_KIND = 'replay-divergence';

/** Whose boxes are drawn over the frame: `m` steps through them in this order. Ground truth is always drawn. */
export type Overlay = 'candidate' | 'baseline' | 'both' | 'gt';
export const OVERLAYS: readonly Overlay[] = ['candidate', 'baseline', 'both', 'gt'];

export interface PlayerState {
  /** The failure whose segment the frame and the play state are of; another one shown starts at its first frame. */
  failureId?: string;
  /** The frame shown, from 0, inside the segment. */
  frame: number;
  playing: boolean;
  overlay: Overlay;
}

export const initialPlayer: PlayerState = { frame: 0, playing: false, overlay: 'candidate' };

/** What the reducer needs to know of the segment shown: its failure, its length, its rate, whether there is a baseline. */
export interface SegmentFacts {
  failureId: string;
  frames: number;
  rateHz: number;
  hasBaseline: boolean;
}

export type PlayerAction = 'play' | 'frame-next' | 'frame-prev' | 'segment-start' | 'segment-end' | 'overlay' | 'tick';

/** The player of the failure shown: as kept when it is the same failure, else at its first frame, paused (the overlay stays). */
export function playerFor(p: PlayerState, failureId: string | undefined): PlayerState {
  return p.failureId === failureId ? p : { failureId, frame: 0, playing: false, overlay: p.overlay };
}

/** The frame shown of a segment of `frames` frames: the player's, kept inside it. */
export function frameOf(p: PlayerState, frames: number): number {
  return Math.max(0, Math.min(p.frame, frames - 1));
}

/**
 * The next player state for a key (or the play timer's tick), and what the footer should say.
 * Stepping stops playback; a tick at the last frame stops it there; Space at the last frame plays
 * the segment again from its start. Without a baseline, `m` skips the baseline overlays.
 */
export function reducePlayer(state: PlayerState, action: PlayerAction, facts: SegmentFacts): { player: PlayerState; message?: string } {
  const p = playerFor(state, facts.failureId);
  const last = Math.max(0, facts.frames - 1);
  const at = frameOf(p, facts.frames);
  const to = (frame: number, message?: string) => ({ player: { ...p, frame: Math.max(0, Math.min(frame, last)), playing: false }, message });
  switch (action) {
    case 'play':
      if (p.playing) return { player: { ...p, playing: false }, message: 'paused' };
      return { player: { ...p, frame: at >= last ? 0 : at, playing: last > 0 }, message: last > 0 ? undefined : 'the segment has one frame' };
    case 'tick':
      if (!p.playing) return { player: p };
      return at + 1 >= last ? { player: { ...p, frame: last, playing: false }, message: 'end of the segment (Space plays it again)' } : { player: { ...p, frame: at + 1 } };
    case 'frame-next':
      return to(at + 1, at >= last ? 'the last frame of the segment (n: the next segment)' : undefined);
    case 'frame-prev':
      return to(at - 1, at <= 0 ? 'the first frame of the segment (N: the previous segment)' : undefined);
    case 'segment-start':
      return to(0, at === 0 ? 'at the start of the segment already' : undefined);
    case 'segment-end':
      return to(last, at === last ? 'at the end of the segment already' : undefined);
    case 'overlay': {
      const usable = facts.hasBaseline ? OVERLAYS : OVERLAYS.filter((o) => o !== 'baseline' && o !== 'both');
      const overlay = usable[(usable.indexOf(p.overlay) + 1) % usable.length] ?? 'candidate';
      return { player: { ...p, overlay }, message: `overlay: ${overlayLabel(overlay)}${facts.hasBaseline ? '' : ' (this replay has no baseline)'}` };
    }
  }
}

/** "candidate tracks and GT", "GT only". */
export function overlayLabel(o: Overlay): string {
  return { candidate: 'candidate tracks and GT', baseline: 'baseline tracks and GT', both: 'candidate and baseline tracks and GT', gt: 'GT only' }[o];
}

/** Milliseconds between frames when playing: the drive's rate, capped by the redraw rate (a faster timer would only skip frames). */
export function playInterval(rateHz: number, maxFps: number): number {
  return Math.round(1000 / Math.max(0.1, Math.min(rateHz, maxFps)));
}

/** What a `replay-divergence` failure says of its segment (its `data`). */
export interface ReplayRef {
  driveId: string;
  variant: string;
  /** The segment's index in the timeline. */
  segment: number;
  timeline: string;
  bundle?: string;
  reasons: string[];
  /** The segment's numeric severity, when the failure carries it. */
  score?: number;
}

/** The segment a failure points at, or undefined when it is not a replay failure with a timeline. */
export function replayRef(f: FailureItem): ReplayRef | undefined {
  const d = f.data;
  if (f.kind !== REPLAY_KIND || typeof d.timeline !== 'string' || typeof d.segment !== 'number') return undefined;
  return {
    driveId: typeof d.drive_id === 'string' ? d.drive_id : '?',
    variant: typeof d.variant === 'string' ? d.variant : '?',
    segment: d.segment,
    timeline: d.timeline,
    bundle: typeof d.bundle === 'string' ? d.bundle : undefined,
    reasons: Array.isArray(d.reasons) ? d.reasons.map(String) : [],
    score: typeof d.severity === 'number' ? d.severity : undefined,
  };
}

const SEVERITY_ORDER = { critical: 0, major: 1, minor: 2, info: 3 } as const;

/** The run's replay failures by severity (the label, then the segment's score, highest first), ties by id: the order `n`/`N` step in. */
export function replayFailures(failures: readonly FailureItem[]): FailureItem[] {
  const score = (f: FailureItem) => replayRef(f)?.score ?? 0;
  return failures.filter((f) => f.kind === REPLAY_KIND).sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || score(b) - score(a) || a.id.localeCompare(b.id));
}

type TimelineFrame = ReplayTimeline['frames'][number];
type TimelineSegment = ReplayTimeline['segments'][number];

/** A flagged segment ready to play: its frames, and per frame the divergence of the candidate from the baseline (from GT without one). */
export interface ReplaySegment {
  timeline: ReplayTimeline;
  segment: TimelineSegment;
  frames: TimelineFrame[];
  divergence: FrameDivergence[];
}

/**
 * The segment `ref` names in `timeline`, with its per-frame divergence computed over the whole
 * drive (a track break at the segment's first frame needs the frame before); an error that says
 * what does not fit otherwise.
 */
export function replaySegment(timeline: ReplayTimeline, ref: ReplayRef): ReplaySegment | { error: string } {
  const segment = timeline.segments.find((s) => s.index === ref.segment);
  if (!segment) return { error: `the timeline ${ref.timeline} has no segment ${ref.segment} (it has ${timeline.segments.length})` };
  if (segment.to > timeline.frames.length || segment.from >= segment.to) return { error: `segment ${ref.segment} of ${ref.timeline} spans frames [${segment.from}, ${segment.to}) of ${timeline.frames.length}` };
  const all = timelineDivergence(timeline);
  return { timeline, segment, frames: timeline.frames.slice(segment.from, segment.to), divergence: all.slice(segment.from, segment.to) };
}

/** Matches a model's confirmed tracks to the frame's ground truth: greedy by IoU (>= 0.5), the largest first; GT id -> track id. */
export function matchTracks(gt: TimelineFrame['gt'], tracks: readonly { id: number; box: readonly number[] }[]): Map<number, number> {
  const pairs: { g: number; t: number; iou: number }[] = [];
  for (const g of gt) for (const t of tracks) {
    const iou = iouXywh(g.box, t.box);
    if (iou >= 0.5) pairs.push({ g: g.id, t: t.id, iou });
  }
  pairs.sort((a, b) => b.iou - a.iou || a.g - b.g || a.t - b.t);
  const out = new Map<number, number>();
  const used = new Set<number>();
  for (const p of pairs) {
    if (out.has(p.g) || used.has(p.t)) continue;
    out.set(p.g, p.t);
    used.add(p.t);
  }
  return out;
}

/**
 * Per frame of the drive, the candidate against the baseline as src/replay/divergence.ts counts
 * it: GT objects the candidate lost (the baseline tracks them), gained, and the candidate's
 * track breaks. Without a baseline, ground truth stands in for it: "lost" is every object the
 * candidate does not track. Hard objects do not count.
 */
export function timelineDivergence(timeline: ReplayTimeline): FrameDivergence[] {
  const kept = divergenceOf.get(timeline);
  if (kept) return kept;
  const cand = timeline.candidate;
  const base = timeline.baseline;
  const frames: DivergenceFrame[] = timeline.frames.map((f) => {
    const gt = f.gt.filter((g) => !g.hard);
    const a = f.models[cand];
    const b = base !== null ? f.models[base] : undefined;
    return {
      t: f.t,
      gt: gt.map((g) => ({ id: g.id, cls: g.cls })),
      a: { matches: matchTracks(gt, a?.tracks ?? []), dets: a?.dets ?? [] },
      b: b ? { matches: matchTracks(gt, b.tracks), dets: b.dets } : { matches: new Map(gt.map((g) => [g.id, g.id])), dets: [] },
    };
  });
  const out = frameDivergence(frames);
  divergenceOf.set(timeline, out);
  return out;
}

/** Each timeline's divergence, computed once: a timeline read is never changed (the reader keeps it). */
const divergenceOf = new WeakMap<ReplayTimeline, FrameDivergence[]>();

/** What one frame of the strip shows, the first that holds: a track break, an object lost, one gained, a late frame, else matched. */
export type FrameMark = 'break' | 'lost' | 'gained' | 'late' | 'match';

export function frameMark(d: FrameDivergence | undefined, late: boolean): FrameMark {
  if (d?.breaksA.length) return 'break';
  if (d?.lost.length) return 'lost';
  if (d?.gained.length) return 'gained';
  return late ? 'late' : 'match';
}

const MARK_GLYPHS: Record<'unicode' | 'ascii', Record<FrameMark, string>> = {
  unicode: { match: '·', lost: '▲', gained: '▼', break: '✕', late: 'L' },
  ascii: { match: '.', lost: '^', gained: 'v', break: 'x', late: 'L' },
};
const MARK_RANK: Record<FrameMark, number> = { break: 4, lost: 3, gained: 2, late: 1, match: 0 };

/** The glyph of a mark: "▲" (or "^" in ASCII). */
export function markGlyph(m: FrameMark, unicode: boolean): string {
  return MARK_GLYPHS[unicode ? 'unicode' : 'ascii'][m];
}

/** The strip's legend: "· matched  ▲ lost  ▼ gained  ✕ track break  L late". */
export function stripLegend(unicode: boolean): string {
  const g = (m: FrameMark) => markGlyph(m, unicode);
  return `${g('match')} matched  ${g('lost')} lost  ${g('gained')} gained  ${g('break')} track break  ${g('late')} late`;
}

/** Each frame's mark in a segment. */
export function segmentMarks(seg: ReplaySegment): FrameMark[] {
  const cand = seg.timeline.candidate;
  return seg.frames.map((f, i) => frameMark(seg.divergence[i], f.models[cand]?.late ?? false));
}

/**
 * The divergence strip in at most `width` columns, one glyph a frame (several frames a glyph when
 * the segment is longer than that: the most severe of them shows), and a caret line under the
 * frame shown: "··▲▲✕··L" over "    ^".
 */
export function divergenceStrip(marks: readonly FrameMark[], current: number, width: number, unicode: boolean): { strip: string; caret: string } {
  const per = Math.max(1, Math.ceil(marks.length / Math.max(1, width)));
  let strip = '';
  for (let i = 0; i < marks.length; i += per) {
    const worst = marks.slice(i, i + per).reduce((w, m) => (MARK_RANK[m] > MARK_RANK[w] ? m : w), 'match' as FrameMark);
    strip += markGlyph(worst, unicode);
  }
  const at = Math.floor(Math.max(0, Math.min(current, marks.length - 1)) / per);
  return { strip, caret: `${' '.repeat(at)}^` };
}

/** The current frame's divergence in words: "lost GT #4 pedestrian; track break on GT #2 (candidate #12); late 58 ms". */
export function frameFacts(seg: ReplaySegment, index: number): string {
  const f = seg.frames[index];
  const d = seg.divergence[index];
  if (!f || !d) return '';
  const cls = new Map(f.gt.map((g) => [g.id, g.cls]));
  const cand = f.models[seg.timeline.candidate];
  const candTrack = matchTracks(f.gt.filter((g) => !g.hard), cand?.tracks ?? []);
  const vs = seg.timeline.baseline === null ? 'missed' : 'lost';
  const parts: string[] = [];
  if (d.lost.length) parts.push(`${vs} ${d.lost.map((id) => `GT #${id} ${cls.get(id) ?? ''}`.trim()).join(', ')}`);
  if (d.gained.length) parts.push(`gained ${d.gained.map((id) => `GT #${id} ${cls.get(id) ?? ''}`.trim()).join(', ')}`);
  if (d.breaksA.length) parts.push(`track break on ${d.breaksA.map((id) => `GT #${id} (now #${candTrack.get(id) ?? '?'})`).join(', ')}`);
  if (cand?.late) parts.push(`late ${cand.latency_ms.toFixed(0)} ms`);
  return parts.length ? parts.join('; ') : 'candidate matches';
}

/** Box colors: ground truth green, the candidate's tracks cyan, the baseline's magenta. */
export const OVERLAY_RGB = { gt: [40, 255, 80], candidate: [0, 200, 255], baseline: [255, 80, 255] } as const;

/** Which models' tracks an overlay draws and lists. */
export function overlayModels(overlay: Overlay, timeline: ReplayTimeline): { name: string; role: 'candidate' | 'baseline' }[] {
  const out: { name: string; role: 'candidate' | 'baseline' }[] = [];
  if (overlay === 'candidate' || overlay === 'both') out.push({ name: timeline.candidate, role: 'candidate' });
  if ((overlay === 'baseline' || overlay === 'both') && timeline.baseline !== null) out.push({ name: timeline.baseline, role: 'baseline' });
  return out;
}

/** The boxes drawn over a frame: its ground truth (hard objects too), then the tracks of the overlay's models. */
export function overlayBoxes(frame: TimelineFrame, timeline: ReplayTimeline, overlay: Overlay): FrameBox[] {
  const boxes: FrameBox[] = frame.gt.map((g) => ({ bbox: g.box, rgb: OVERLAY_RGB.gt }));
  for (const m of overlayModels(overlay, timeline)) for (const t of frame.models[m.name]?.tracks ?? []) boxes.push({ bbox: t.box, rgb: OVERLAY_RGB[m.role] });
  return boxes;
}

/**
 * The lists beside the frame: each model of the overlay, its count of tracks and its name
 * ("candidate (3) tiny-det-v1.1.0"), its tracks ("#12 car 0.81", "~" after a coasting one), then
 * the ground truth ("GT (7)", "#4 pedestrian", "(hard)" after a hard one).
 */
export function trackLines(frame: TimelineFrame, timeline: ReplayTimeline, overlay: Overlay): string[] {
  const lines: string[] = [];
  for (const m of overlayModels(overlay, timeline)) {
    const tracks = [...(frame.models[m.name]?.tracks ?? [])].sort((a, b) => a.id - b.id);
    lines.push(`${m.role} (${tracks.length}) ${m.name}`);
    for (const t of tracks) lines.push(` #${t.id} ${t.cls} ${t.score.toFixed(2)}${t.coasting ? ' ~' : ''}`);
  }
  const gt = [...frame.gt].sort((a, b) => a.id - b.id);
  lines.push(`GT (${gt.length})`);
  for (const g of gt) lines.push(` #${g.id} ${g.cls}${g.hard ? ' (hard)' : ''}`);
  return lines;
}
