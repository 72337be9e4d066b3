/**
 * Graceful-degradation rules for replay under stress (issue 18): what the model and tracker must
 * do while a sensor fault lasts and after it ends, checked over the processed frames of one
 * variant's replay, each with a verdict and the frames that show it.
 *
 * A fault episode is a run of consecutive processed frames carrying a pixel fault of the same
 * variant segment (src/replay/stress.ts). Evidence names frames by bundle index
 * (Delivery.source), which is what the timeline and the failure clips show. Times are the
 * record's `timeS`, read from the delivered stamps, as the tracker sees them.
 */
import { z } from 'zod';
import { InputError } from '../files/input-error.js';
import type { Delivery, PixelFaultKind } from './stress.js';
import type { Detection, TrackBox } from './types.js';

const faultKind = z.enum(['blackout', 'frozen', 'occlusion', 'stuck_pixels']);
const ruleName = z.string().min(1).optional();

/** One rule of a recipe's `replay.degradation` list. */
export const DegradationRule = z.discriminatedUnion('kind', [
  z
    .object({
      /** From `within_frames` frames after a fault's onset until it ends, no detection scores >= score_min (or the frame is reported degraded). */
      kind: z.literal('no_confident_boxes_after_fault'),
      name: ruleName,
      faults: z.array(faultKind).min(1).default(['blackout']),
      /** Frames of grace from the onset: frames onset+0 .. onset+within_frames-1 are not checked. */
      within_frames: z.number().int().nonnegative().default(3),
      score_min: z.number().min(0).max(1).default(0.5),
    })
    .strict(),
  z
    .object({
      /** No confirmed track is output coasting (sinceUpdate > 0) longer than `seconds` after its last update. */
      kind: z.literal('max_coast_s'),
      name: ruleName,
      seconds: z.number().positive().default(1),
    })
    .strict(),
  z
    .object({
      /** After a fault ends, each ground-truth object visible then is tracked again within `seconds`. */
      kind: z.literal('reacquire_within_s'),
      name: ruleName,
      faults: z.array(faultKind).min(1).default(['blackout', 'frozen', 'occlusion', 'stuck_pixels']),
      seconds: z.number().positive().default(1),
    })
    .strict(),
  z
    .object({
      /** No confirmed track id first appears during a fault episode: with nothing (or nothing new) to see, a new track is a ghost. */
      kind: z.literal('no_ghost_tracks_during_fault'),
      name: ruleName,
      faults: z.array(faultKind).min(1).default(['blackout', 'frozen']),
    })
    .strict(),
]);
export type DegradationRule = z.infer<typeof DegradationRule>;
export type DegradationRuleInput = z.input<typeof DegradationRule>;

/** A rule's verdict on one replay; `skipped` when the replay has nothing the rule concerns. */
export const DegradationVerdict = z
  .object({
    rule: z.string(),
    status: z.enum(['pass', 'fail', 'skipped']),
    reason: z.string(),
    evidence: z.array(z.object({ frames: z.tuple([z.number().int(), z.number().int()]), detail: z.string() }).strict()),
  })
  .strict();
export type DegradationVerdict = z.infer<typeof DegradationVerdict>;
type Evidence = DegradationVerdict['evidence'][number];

/** One processed frame of a variant's replay, as the rules read it. */
export interface DegradationFrame {
  delivery: Delivery;
  /** Seconds since the drive's first frame, from the delivered stamp. */
  timeS: number;
  detections: readonly Detection[];
  /** The tracker's output at this frame. */
  tracks: readonly TrackBox[];
  /** GT track ids matched to a confirmed track at this frame (CLEAR matching). */
  matchedGt?: readonly number[];
  /** GT track ids that count at this frame (visible, not hard). */
  visibleGt?: readonly number[];
  /** The model reported itself degraded at this frame (its boxes are not to be used). */
  degraded?: boolean;
}

/** Evidence entries listed per verdict; past this the reason says how many more. */
const MAX_EVIDENCE = 20;
const EPS = 1e-9;

interface Episode {
  kind: PixelFaultKind;
  variant: string;
  segment: number;
  /** Positions in the records: [first, last]. */
  from: number;
  to: number;
}

/** The fault episodes of the records whose kind is in `kinds`, in order. */
export function faultEpisodes(records: readonly DegradationFrame[], kinds: readonly PixelFaultKind[]): Episode[] {
  const out: Episode[] = [];
  let open: Episode | undefined;
  records.forEach((r, i) => {
    const f = r.delivery.fault;
    if (f === undefined || !kinds.includes(f.kind)) {
      open = undefined;
      return;
    }
    if (open !== undefined && open.variant === f.variant && open.segment === f.segment && open.to === i - 1) {
      open.to = i;
      return;
    }
    open = { kind: f.kind, variant: f.variant, segment: f.segment, from: i, to: i };
    out.push(open);
  });
  return out;
}

function checkRecords(records: readonly DegradationFrame[]): void {
  records.forEach((r, i) => {
    if (!Number.isFinite(r.timeS)) throw new InputError(`degradation records[${i}].timeS: expected a finite number, got ${r.timeS}`);
    if (i > 0 && r.timeS < records[i - 1].timeS) {
      throw new InputError(`degradation records[${i}].timeS: ${r.timeS} is before records[${i - 1}]'s ${records[i - 1].timeS}; records must be in processing order`);
    }
  });
}

function verdict(rule: string, status: DegradationVerdict['status'], reason: string, evidence: Evidence[] = []): DegradationVerdict {
  const more = evidence.length - MAX_EVIDENCE;
  return { rule, status, reason: more > 0 ? `${reason} (${more} more not listed)` : reason, evidence: evidence.slice(0, MAX_EVIDENCE) };
}

const s2 = (x: number) => x.toFixed(2);
const src = (records: readonly DegradationFrame[], i: number) => records[i].delivery.source;
const kindsText = (kinds: readonly string[]) => kinds.join('/');

function noConfidentBoxes(rule: Extract<DegradationRule, { kind: 'no_confident_boxes_after_fault' }>, name: string, records: readonly DegradationFrame[]): DegradationVerdict {
  const episodes = faultEpisodes(records, rule.faults);
  if (episodes.length === 0) return verdict(name, 'skipped', `no ${kindsText(rule.faults)} fault in this replay`);
  const evidence: Evidence[] = [];
  let checked = 0;
  for (const ep of episodes) {
    let run: { from: number; to: number; n: number; best: Detection } | undefined;
    const close = () => {
      if (run === undefined) return;
      evidence.push({
        frames: [src(records, run.from), src(records, run.to)],
        detail: `${run.n} frame(s) of ${ep.kind} '${ep.variant}' segment ${ep.segment} with boxes scoring >= ${rule.score_min} from ${s2(records[run.from].timeS - records[ep.from].timeS)} s after onset (best ${run.best.cls} ${s2(run.best.score)})`,
      });
      run = undefined;
    };
    for (let i = ep.from + rule.within_frames; i <= ep.to; i++) {
      checked++;
      const r = records[i];
      const confident = r.degraded === true ? [] : r.detections.filter((d) => d.score >= rule.score_min);
      if (confident.length === 0) {
        close();
        continue;
      }
      const best = confident.reduce((a, b) => (b.score > a.score ? b : a));
      if (run === undefined) run = { from: i, to: i, n: 1, best };
      else {
        run.to = i;
        run.n++;
        if (best.score > run.best.score) run.best = best;
      }
    }
    close();
  }
  if (checked === 0) return verdict(name, 'skipped', `each ${kindsText(rule.faults)} fault is at most ${rule.within_frames} frame(s) long, all within the grace`);
  if (evidence.length > 0) return verdict(name, 'fail', `confident boxes ${rule.within_frames}+ frames into ${kindsText(rule.faults)} faults in ${evidence.length} run(s)`, evidence);
  return verdict(name, 'pass', `no box scored >= ${rule.score_min} from ${rule.within_frames} frame(s) after onset in ${episodes.length} fault segment(s) (${checked} frames checked)`);
}

function maxCoast(rule: Extract<DegradationRule, { kind: 'max_coast_s' }>, name: string, records: readonly DegradationFrame[]): DegradationVerdict {
  if (records.length === 0) return verdict(name, 'skipped', 'no processed frames');
  /** Track id -> time of its last update (sinceUpdate 0), or of its first appearance. */
  const lastUpdate = new Map<number, number>();
  const open = new Map<number, { from: number; to: number; coast: number; cls: string; since: number }>();
  const evidence: Evidence[] = [];
  let longest = 0;
  const close = (id: number) => {
    const v = open.get(id);
    if (v === undefined) return;
    evidence.push({ frames: [src(records, v.from), src(records, v.to)], detail: `track ${id} (${v.cls}) output coasting up to ${s2(v.coast)} s after its last update at ${s2(v.since)} s (limit ${rule.seconds} s)` });
    open.delete(id);
  };
  records.forEach((r, i) => {
    for (const t of r.tracks) {
      if (t.sinceUpdate === 0) {
        lastUpdate.set(t.id, r.timeS);
        close(t.id);
        continue;
      }
      if (!lastUpdate.has(t.id)) lastUpdate.set(t.id, r.timeS);
      if (!t.confirmed) continue;
      const since = lastUpdate.get(t.id) as number;
      const coast = r.timeS - since;
      longest = Math.max(longest, coast);
      if (coast <= rule.seconds + EPS) continue;
      const v = open.get(t.id);
      if (v === undefined) open.set(t.id, { from: i, to: i, coast, cls: t.cls, since });
      else Object.assign(v, { to: i, coast });
    }
  });
  for (const id of [...open.keys()]) close(id);
  if (evidence.length > 0) return verdict(name, 'fail', `${evidence.length} coast(s) of confirmed tracks past ${rule.seconds} s`, evidence);
  return verdict(name, 'pass', `longest coast of an output confirmed track ${s2(longest)} s (limit ${rule.seconds} s)`);
}

function reacquire(rule: Extract<DegradationRule, { kind: 'reacquire_within_s' }>, name: string, records: readonly DegradationFrame[]): DegradationVerdict {
  const episodes = faultEpisodes(records, rule.faults);
  if (episodes.length === 0) return verdict(name, 'skipped', `no ${kindsText(rule.faults)} fault in this replay`);
  if (!records.some((r) => r.matchedGt !== undefined && r.visibleGt !== undefined)) return verdict(name, 'skipped', 'the records carry no matchedGt/visibleGt (no ground truth)');
  const ended = episodes.filter((ep) => ep.to + 1 < records.length);
  if (ended.length === 0) return verdict(name, 'skipped', 'every fault lasts to the end of the replay: nothing to re-acquire');
  const evidence: Evidence[] = [];
  let objects = 0;
  let slowest = 0;
  for (const ep of ended) {
    const at = ep.to + 1;
    const t0 = records[at].timeS;
    for (const id of records[at].visibleGt ?? []) {
      let outcome: 'tracked' | 'left' | 'ended' | 'missed' = 'ended';
      let last = at;
      for (let i = at; i < records.length; i++) {
        const r = records[i];
        if (r.timeS - t0 > rule.seconds + EPS) {
          outcome = 'missed';
          break;
        }
        last = i;
        if ((r.matchedGt ?? []).includes(id)) {
          outcome = 'tracked';
          slowest = Math.max(slowest, r.timeS - t0);
          break;
        }
        if (!(r.visibleGt ?? []).includes(id)) {
          outcome = 'left';
          break;
        }
      }
      if (outcome === 'left' || outcome === 'ended') continue;
      objects++;
      if (outcome === 'missed') {
        evidence.push({
          frames: [src(records, at), src(records, last)],
          detail: `GT ${id} visible and not tracked for ${rule.seconds} s after ${ep.kind} '${ep.variant}' segment ${ep.segment} ended (frame ${src(records, at)})`,
        });
      }
    }
  }
  if (objects === 0) return verdict(name, 'skipped', 'no ground-truth object stayed visible after a fault ended');
  if (evidence.length > 0) return verdict(name, 'fail', `${evidence.length} of ${objects} object(s) not re-acquired within ${rule.seconds} s of a fault's end`, evidence);
  return verdict(name, 'pass', `${objects} object(s) re-acquired after ${ended.length} fault segment(s), slowest ${s2(slowest)} s (limit ${rule.seconds} s)`);
}

function noGhosts(rule: Extract<DegradationRule, { kind: 'no_ghost_tracks_during_fault' }>, name: string, records: readonly DegradationFrame[]): DegradationVerdict {
  const episodes = faultEpisodes(records, rule.faults);
  if (episodes.length === 0) return verdict(name, 'skipped', `no ${kindsText(rule.faults)} fault in this replay`);
  const firstSeen = new Map<number, number>();
  records.forEach((r, i) => {
    for (const t of r.tracks) if (t.confirmed && !firstSeen.has(t.id)) firstSeen.set(t.id, i);
  });
  const evidence: Evidence[] = [];
  for (const ep of episodes) {
    const born = [...firstSeen].filter(([, i]) => i >= ep.from && i <= ep.to).sort((a, b) => a[1] - b[1]);
    if (born.length === 0) continue;
    evidence.push({
      frames: [src(records, born[0][1]), src(records, born[born.length - 1][1])],
      detail: `new confirmed track(s) ${born.map(([id]) => id).join(', ')} during ${ep.kind} '${ep.variant}' segment ${ep.segment}`,
    });
  }
  if (evidence.length > 0) return verdict(name, 'fail', `new confirmed tracks in ${evidence.length} of ${episodes.length} fault segment(s)`, evidence);
  return verdict(name, 'pass', `no new confirmed track in ${episodes.length} ${kindsText(rule.faults)} fault segment(s)`);
}

/** One rule's verdict over the processed frames of a replay, in processing order. */
export function evaluateDegradationRule(rule: DegradationRule, records: readonly DegradationFrame[]): DegradationVerdict {
  checkRecords(records);
  const name = rule.name ?? rule.kind;
  switch (rule.kind) {
    case 'no_confident_boxes_after_fault':
      return noConfidentBoxes(rule, name, records);
    case 'max_coast_s':
      return maxCoast(rule, name, records);
    case 'reacquire_within_s':
      return reacquire(rule, name, records);
    case 'no_ghost_tracks_during_fault':
      return noGhosts(rule, name, records);
  }
}

/**
 * Every rule's verdict, in the rules' order.
 *
 *   evaluateDegradation([DegradationRule.parse({ kind: 'max_coast_s' })], records)
 *   // [{ rule: 'max_coast_s', status: 'pass', reason: 'longest coast of an output confirmed track 0.40 s (limit 1 s)', evidence: [] }]
 */
export function evaluateDegradation(rules: readonly DegradationRule[], records: readonly DegradationFrame[]): DegradationVerdict[] {
  return rules.map((r) => evaluateDegradationRule(r, records));
}
