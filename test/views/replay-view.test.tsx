/**
 * The replay screen at 80x24 and 160x48: a run store holding a run with three flagged replay
 * segments (replay-divergence failures pointing at test/fixtures/replay/d1.timeline.json) and an
 * ordinary failure; the frames rendered by the world's renderer from the drive the timeline was
 * made of (make-timeline.ts), handed to the workbench as its frame loader. Keys are sent as the
 * terminal sends them; reviews and filings are read back from SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import React from 'react';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { render } from 'ink-testing-library';
import sharp from 'sharp';
import { Workbench } from '../../views/workbench.js';
import { makeTheme } from '../../views/theme.js';
import type { ColorDepth, RgbFrame } from '../../views/frame-cells.js';
import { defaultReadTimeline, defaultReplayIo, type LoadFrame } from '../../views/screens/replay-view.js';
import { divergenceStrip, segmentMarks, replaySegment, replayRef } from '../../views/replay-player.js';
import { RunStore, type FailureReviewRow } from '../../src/store/run-store.js';
import { RunReader } from '../../src/live/run-reader.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { ReplayTimeline } from '../../src/schema/replay-timeline.js';
import { parseRecipe } from '../../src/schema/recipe-load.js';
import { plan as makePlan } from '../../src/pipeline/plan.js';
import { writeDriveBundle } from '../../src/replay/bundle.js';
import { DEMO_RECIPE, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';
import { DRIVE_SPEC, driveFrames, makeTimeline } from '../fixtures/replay/make-timeline.js';

const KEYS = { enter: '\r', escape: '\x1b', right: '\x1b[C', left: '\x1b[D', space: ' ' } as const;
const ANSI = /\x1b\[[0-9;]*m/g;
const RUN = 'r-20261201-101010-replay';
const TIMELINE = join(ROOT, 'test', 'fixtures', 'replay', 'd1.timeline.json');
/** The drive's bundle: written in beforeAll (MCAP, paddock's writer) from the frames the timeline was made of. */
let BUNDLE: string;
const ACTOR = 'ana@example.com';

let store: RunStore;
let reader: RunReader;
let cleanup: () => void;
let frames: RgbFrame[];

/** A replay failure as the replay step records it. */
function replayFailure(segment: number, severity: 'critical' | 'major' | 'minor', score: number, from: number, to: number) {
  const id = `replay/d1/nominal/seg${segment}`;
  return PaddockEvent.parse({
    v: 1,
    type: 'failure',
    step: 'replay',
    id,
    kind: 'replay-divergence',
    severity,
    title: `d1 nominal segment ${segment} diverges from production`,
    evidence: [
      { path: BUNDLE, frames: [from, to] },
      { path: TIMELINE, note: 'timeline' },
      { path: `clips/d1-seg${segment}.gif`, note: 'clip' },
    ],
    data: { drive_id: 'd1', variant: 'nominal', segment, frames: [from, to], timeline: TIMELINE, bundle: BUNDLE, reasons: [`segment ${segment} reason`], severity: score },
  });
}

beforeAll(async () => {
  const t = tempDir();
  cleanup = t.cleanup;
  frames = driveFrames().map((f) => ({ data: f.rgb, width: f.width, height: f.height }));
  BUNDLE = join(t.dir, 'drives', 'd1.mcap');
  const pngs = await Promise.all(frames.map((f) => sharp(Buffer.from(f.data), { raw: { width: f.width, height: f.height, channels: 3 } }).png().toBuffer()));
  const T0 = 1_790_000_000_000_000_000n;
  await writeDriveBundle(
    BUNDLE,
    {
      driveId: 'd1',
      conditions: { ...DRIVE_SPEC.conditions },
      rateHz: 10,
      seed: DRIVE_SPEC.seed,
      calibration: { frameId: 'camera_front_optical', width: 320, height: 192, distortionModel: 'plumb_bob', D: [0, 0, 0, 0, 0], K: [200, 0, 160, 0, 200, 96, 0, 0, 1], R: [1, 0, 0, 0, 1, 0, 0, 0, 1], P: [200, 0, 160, 0, 0, 200, 96, 0, 0, 0, 1, 0] },
    },
    pngs.map((data, i) => ({ captureNs: T0 + BigInt(i) * 100_000_000n, format: 'png', data, gt: [] })),
  );
  store = new RunStore(join(t.dir, 'store'));
  reader = new RunReader(store);
  const text = readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.recipe.yaml'), 'utf8');
  store.createRun({ id: RUN, name: 'demo', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: createHash('sha256').update(text).digest('hex'), lineage: {}, host: 'vm', actor: 'ci@example.com' });
  store.planSteps(RUN, makePlan(parseRecipe(text, DEMO_RECIPE)).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind })));
  const events = [
    replayFailure(3, 'minor', 0.4, 18, 24),
    replayFailure(1, 'critical', 2.4, 6, 12),
    PaddockEvent.parse({ v: 1, type: 'failure', step: 'evaluate', id: 'lost/42', kind: 'lost-object', severity: 'major', title: 'lost car 0.91 in frame 42', data: { class: 'car', baseline_score: 0.91 } }),
    replayFailure(2, 'major', 1.3, 12, 18),
  ];
  store.appendEvents(RUN, events.map((event) => ({ event, attempt: 1 })));
  store.finishRun(RUN, 'succeeded', 0);
});
afterAll(() => {
  store.close();
  cleanup();
});

interface SetupOptions {
  columns?: number;
  rows?: number;
  color?: boolean;
  unicode?: boolean;
  depth?: ColorDepth;
  loadFrame?: LoadFrame;
  /** Frames from the bundle through the workbench's own loader (src/replay/bundle.ts), not the rendered ones. */
  realLoader?: boolean;
  frameHz?: number;
}

/** The frames the loader was asked for, by bundle and index. */
const asked: string[] = [];
const renderedFrames: LoadFrame = async (bundle, index) => {
  asked.push(`${bundle}#${index}`);
  const f = frames[index];
  if (!f) throw new Error(`no frame ${index}`);
  return f;
};

function setup(opts: SetupOptions = {}) {
  const size = { columns: opts.columns ?? 80, rows: opts.rows ?? 24 };
  const app = render(
    <Workbench
      reader={reader}
      actor={ACTOR}
      theme={makeTheme(opts.color ?? true, opts.unicode ?? true)}
      depth={opts.depth ?? 'truecolor'}
      size={size}
      initialRun={RUN}
      initialScreen="failures"
      replayIo={opts.realLoader ? undefined : { readTimeline: defaultReadTimeline, loadFrame: opts.loadFrame ?? renderedFrames }}
      frameHz={opts.frameHz}
      onQuit={() => undefined}
    />,
  );
  const raw = () => app.lastFrame() ?? '';
  const frame = () => raw().replace(ANSI, '');
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const see = (what: RegExp | string, timeoutMs?: number) => waitFor(() => (typeof what === 'string' ? frame().includes(what) : what.test(frame())), `${what} in:\n${frame()}`, timeoutMs);
  return { app, frame, raw, press, see, size };
}

function fits(frame: string, columns: number, rows: number) {
  const lines = frame.split('\n');
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
}

const reviews = (failureId: string) => store.db.prepare('SELECT * FROM failure_reviews WHERE run_id = ? AND failure_id = ? ORDER BY id').all(RUN, failureId) as FailureReviewRow[];
/** The first of the frame's lines that starts with `start` (after its indent). */
const line = (frame: string, start: string) => frame.split('\n').find((l) => l.trimStart().startsWith(start)) ?? '';

/** Opens the worst replay segment from the failures list, and waits for its first frame to be drawn. */
async function openWorst(s: ReturnType<typeof setup>) {
  await s.see(/FAILURES 4, by contribution/);
  // The list is by contribution: the critical segment first.
  expect(s.frame()).toMatch(/> .*replay-divergence/);
  await s.press(KEYS.enter);
  await s.see('REPLAY 1/3');
  await waitFor(() => !s.frame().includes('loading frame'), 'the first frame drawn');
}

describe('the fixture', () => {
  it('round-trips through its schema and is what make-timeline.ts makes of the drive', () => {
    const json = JSON.parse(readFileSync(TIMELINE, 'utf8'));
    expect(ReplayTimeline.parse(json)).toEqual(json);
    expect(json).toEqual(JSON.parse(JSON.stringify(makeTimeline())));
  });

  it("gives the strip the segments' divergence: lost, then the re-acquired track's break; an id switch; late frames and a baseline loss", () => {
    const timeline = ReplayTimeline.parse(JSON.parse(readFileSync(TIMELINE, 'utf8')));
    const strip = (segment: number) => {
      const seg = replaySegment(timeline, { driveId: 'd1', variant: 'nominal', segment, timeline: TIMELINE, reasons: [] });
      if ('error' in seg) throw new Error(seg.error);
      return divergenceStrip(segmentMarks(seg), 0, 80, true).strip;
    };
    expect(strip(0)).toBe('······');
    expect(strip(1)).toBe('·▲▲▲▲✕');
    expect(strip(2)).toBe('··✕···');
    expect(strip(3)).toBe('·LL▼▼·');
    expect(divergenceStrip(['match', 'lost', 'match', 'break', 'late', 'match'], 5, 3, false)).toEqual({ strip: '^xL', caret: '  ^' });
  });
});

describe('the replay screen', () => {
  it('opens from the failures list at 80x24: frame, tracks with ids, GT, the strip; never more than rows - 1 lines', async () => {
    const s = setup();
    await openWorst(s);
    const f = s.frame();
    fits(f, 80, 24);
    expect(f.split('\n')[1]).toMatch(/REPLAY 1\/3 ─ d1 nominal seg 1 ─ CRITICAL 2\.40 ─ frame 1\/6 #6 t 0\.60 s/);
    expect(f).toContain('candidate lost cyclist #1 for 4 frames');
    expect(line(f, 'divergence')).toMatch(/^divergence ·▲▲▲▲✕ {2}· matched {2}▲ lost/);
    expect(line(f, '^')).toMatch(/candidate matches$/);
    expect(f).toContain('candidate (3) tiny-det');
    expect(f).toMatch(/#101 cyclist 0\.81/);
    expect(f).toMatch(/GT \(7\)/);
    expect(f).toContain('not reviewed (r) · not filed (d)');
    // The frame itself: 50 cells of half blocks beside the list.
    expect(s.raw()).toMatch(/\x1b\[38;2;\d+;\d+;\d+m/);
    expect(f.split('\n').filter((l) => (l.match(/▀/g) ?? []).length >= 50).length).toBe(15);
    expect(asked).toContain(`${BUNDLE}#6`);
    s.app.unmount();
  });

  it('steps frames with l/h, the arrows, H/L and [/]: the counter, the caret, the facts and the track list move', async () => {
    const s = setup();
    await openWorst(s);
    await s.press('l');
    await s.see('frame 2/6 #7 t 0.70 s');
    // The candidate lost the cyclist: its track is gone from the list, the GT keeps it.
    await waitFor(() => !s.frame().includes('#101 cyclist'), 'the lost track gone from the list');
    expect(s.frame()).toContain('candidate (2) tiny-det');
    expect(s.frame()).toMatch(/#1 cyclist/);
    expect(line(s.frame(), '^')).toMatch(/^ {12}\^ +lost GT #1 cyclist$/);
    await s.press(KEYS.right, KEYS.right);
    await s.see('frame 4/6 #9');
    await s.press('h', KEYS.left);
    await s.see('frame 2/6 #7');
    await s.press('L');
    await s.see('frame 6/6 #11');
    expect(line(s.frame(), '^')).toMatch(/track break on GT #1 \(now #101\)/);
    await s.press('l');
    await s.see('the last frame of the segment (n: the next segment)');
    await s.press('H');
    await s.see('frame 1/6 #6');
    await s.press(']');
    await s.see('frame 6/6');
    await s.press('[');
    await s.see('frame 1/6');
    s.app.unmount();
  });

  it('n/N move between the flagged segments by severity, each from its first frame; Esc goes back to the list', async () => {
    const s = setup();
    await openWorst(s);
    await s.press('l', 'l');
    await s.see('frame 3/6');
    await s.press('n');
    await s.see(/REPLAY 2\/3 ─ d1 nominal seg 2 ─ MAJOR 1\.30 ─ frame 1\/6 #12/);
    expect(line(s.frame(), 'divergence')).toMatch(/^divergence ··✕···/);
    await s.press('n');
    await s.see(/REPLAY 3\/3 ─ d1 nominal seg 3 ─ MINOR 0\.40/);
    expect(line(s.frame(), 'divergence')).toMatch(/^divergence ·LL▼▼·/);
    await s.press('l');
    await s.see(/late 142 ms/);
    await s.press('n');
    await s.see('REPLAY 3/3');
    await s.press('N', 'N');
    await s.see(/REPLAY 1\/3 ─ d1 nominal seg 1 ─ CRITICAL 2\.40 ─ frame 1\/6/);
    await s.press(KEYS.escape);
    await s.see(/FAILURES 4, by contribution/);
    fits(s.frame(), 80, 24);
    s.app.unmount();
  });

  it('Enter on a failure that is not a replay segment still opens it full-screen', async () => {
    const s = setup();
    await s.see(/FAILURES 4/);
    await s.press('j');
    await s.see(/> .*lost-object/);
    await s.press(KEYS.enter);
    await s.see('Enter/Esc: the list');
    expect(s.frame()).not.toContain('REPLAY');
    s.app.unmount();
  });

  it('m cycles the overlay: candidate, baseline, both, GT only; the list follows', async () => {
    const s = setup();
    await openWorst(s);
    expect(s.frame()).toContain('overlay candidate tracks and GT');
    const drawn = s.raw();
    await s.press('m');
    await s.see('overlay baseline tracks and GT');
    expect(s.frame()).toContain('baseline (3) tiny-det');
    expect(s.frame()).toMatch(/#51 cyclist 0\.74/);
    expect(s.frame()).not.toContain('#101');
    // The boxes drawn are the baseline's now (magenta), not the candidate's (cyan).
    expect(drawn).toContain('38;2;0;200;255m');
    await waitFor(() => !s.raw().includes('38;2;0;200;255m') && s.raw().includes('38;2;255;80;255m'), 'the baseline boxes drawn');
    await s.press('m');
    await s.see('overlay candidate and baseline tracks and GT');
    expect(s.frame()).toContain('#101 cyclist');
    expect(s.frame()).toContain('#51 cyclist');
    await s.press('m');
    await s.see('overlay GT only');
    expect(s.frame()).not.toMatch(/#101|#51/);
    expect(s.frame()).toMatch(/GT \(7\)/);
    await s.press('m');
    await s.see('overlay candidate tracks and GT');
    s.app.unmount();
  });

  it('r marks the segment reviewed and goes on to the next; d files it for data mining with a note; both are in SQLite', async () => {
    const s = setup();
    await openWorst(s);
    await s.press('r');
    await s.see(`replay/d1/nominal/seg1 marked reviewed by ${ACTOR}`);
    await s.see('REPLAY 2/3');
    expect(reviews('replay/d1/nominal/seg1').map((r) => [r.action, r.actor, r.note])).toEqual([['reviewed', ACTOR, null]]);
    await s.press('N');
    await s.see(/REPLAY 1\/3.*\n(.*\n)*.*reviewed by ana@example\.com at \d{4}-\d\d-\d\d \d\d:\d\d · not filed \(d\)/);
    // d asks for a note; an empty one is refused, Esc cancels, nothing recorded.
    await s.press('d');
    await s.see('file replay/d1/nominal/seg1 for data mining, note: ▏  (Enter files, Esc cancels)');
    await s.press(KEYS.enter);
    await s.see('a note is required to file a segment for data mining');
    await s.press(KEYS.escape);
    await waitFor(() => !s.frame().includes('for data mining, note'), 'the question gone');
    expect(reviews('replay/d1/nominal/seg1')).toHaveLength(1);
    await s.press('d', ...'cyclist close to the kerb, dusk', KEYS.enter);
    await s.see('replay/d1/nominal/seg1 filed for data mining by ana');
    expect(reviews('replay/d1/nominal/seg1').map((r) => [r.action, r.actor, r.note])).toEqual([
      ['reviewed', ACTOR, null],
      ['filed', ACTOR, 'cyclist close to the kerb, dusk'],
    ]);
    // At 80 columns the times and the reviewer's name give way to the note.
    await s.see('  reviewed · filed by ana@example.com: cyclist close to the kerb, dusk');
    // The failures list and `paddock failures` show it.
    await s.press(KEYS.escape);
    await s.see(/> ⚑ crit +replay-divergence/);
    expect(reader.detail(RUN, { replay: false })?.failures.find((f) => f.id === 'replay/d1/nominal/seg1')?.filed).toMatchObject({ actor: ACTOR, note: 'cyclist close to the kerb, dusk' });
    s.app.unmount();
  });

  it('Space plays the segment to its end at the capped rate, and pauses; keys work while it plays', async () => {
    const s = setup({ frameHz: 10 });
    await openWorst(s);
    await s.press('n', 'n');
    await s.see('REPLAY 3/3');
    await s.press(KEYS.space);
    await s.see('▶ playing 10 Hz');
    await s.see('frame 3/6', 5000);
    await s.see('end of the segment (Space plays it again)', 5000);
    expect(s.frame()).toContain('frame 6/6');
    expect(s.frame()).toContain('❚❚ paused');
    await s.press(KEYS.space);
    await s.see('frame 1/6');
    await s.press(KEYS.space);
    await s.see('paused');
    const at = /frame (\d)\/6/.exec(s.frame())?.[1];
    await new Promise((r) => setTimeout(r, 300));
    expect(/frame (\d)\/6/.exec(s.frame())?.[1]).toBe(at);
    s.app.unmount();
  });

  it('shows "loading frame…" while a frame loads, and keeps taking keys', async () => {
    const waiting = new Map<number, () => void>();
    const slow: LoadFrame = (bundle, index) => new Promise((resolve) => waiting.set(index, () => resolve(frames[index])));
    const s = setup({ loadFrame: slow });
    await s.see(/FAILURES 4/);
    await s.press(KEYS.enter);
    await s.see('loading frame…');
    await s.press('l');
    await s.see('frame 2/6 #7');
    expect(s.frame()).toContain('loading frame…');
    await waitFor(() => waiting.has(7), 'frame 7 asked for');
    waiting.get(7)!();
    await waitFor(() => !s.frame().includes('loading frame'), 'frame 7 drawn');
    fits(s.frame(), 80, 24);
    s.app.unmount();
  });

  it("reads the frames from the drive's MCAP bundle with the workbench's own loader: the same pixels as rendered", async () => {
    const rendered = setup();
    await openWorst(rendered);
    await rendered.press('l');
    await waitFor(() => rendered.frame().includes('frame 2/6 #7') && !rendered.frame().includes('loading frame'), 'frame 7 rendered');
    const fromBundle = setup({ realLoader: true });
    await openWorst(fromBundle);
    await fromBundle.press('l');
    await waitFor(() => fromBundle.frame().includes('frame 2/6 #7') && !fromBundle.frame().includes('loading frame'), 'frame 7 from the bundle');
    expect(fromBundle.raw()).toBe(rendered.raw());
    rendered.app.unmount();
    fromBundle.app.unmount();
    await expect(defaultReplayIo.loadFrame(BUNDLE, 99)).rejects.toThrow(/d1\.mcap has no frame 99 \(it has 24\)/);
    await expect(defaultReplayIo.loadFrame(join(ROOT, 'package.json'), 0)).rejects.toThrow(/package\.json/);
  });

  it('at 160x48 draws the frame larger, the list beside it', async () => {
    const s = setup({ columns: 160, rows: 48 });
    await openWorst(s);
    const f = s.frame();
    fits(f, 160, 48);
    const wide = f.split('\n').filter((l) => (l.match(/▀/g) ?? []).length >= 120);
    expect(wide.length).toBe(36);
    expect(wide[0]).toMatch(/▀ {2}candidate \(3\) tiny-det-v1\.1\.0$/);
    s.app.unmount();
  });

  it('in monochrome ASCII (NO_COLOR, TERM=dumb): no escapes, the ASCII strip and ramp, and it fits', async () => {
    const s = setup({ color: false, unicode: false, depth: 'mono' });
    await openWorst(s);
    const f = s.frame();
    expect(s.raw()).not.toMatch(/\x1b\[[34]8;/);
    fits(f, 80, 24);
    expect(f).toMatch(/REPLAY 1\/3 - d1 nominal seg 1/);
    expect(line(f, 'divergence')).toMatch(/^divergence \.\^\^\^\^x {2}\. matched {2}\^ lost {2}v gained {2}x track break {2}L late/);
    expect(f).not.toMatch(/[▀·▲▼✕─…]/);
    expect(f).toContain('|| paused');
    expect(f).toContain('overlay candidate tracks and GT');
    await s.press('l');
    await s.see(/\^ +lost GT #1 cyclist/);
    s.app.unmount();
  });

  it('says why when a timeline cannot be read, and when the run has no replay segments', async () => {
    expect(defaultReadTimeline('/nonexistent/d9.timeline.json')).toEqual({ error: expect.stringMatching(/^cannot read \/nonexistent\/d9\.timeline\.json: ENOENT/) });
    const bad = replayRef({ ...reader.detail(RUN, { replay: false })!.failures[0], data: { timeline: TIMELINE, segment: 9 } });
    expect(bad).toBeDefined();
    const timeline = ReplayTimeline.parse(JSON.parse(readFileSync(TIMELINE, 'utf8')));
    expect(replaySegment(timeline, bad!)).toEqual({ error: expect.stringContaining('has no segment 9 (it has 4)') });
  });
});
