import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { SIM_CLIP_INKS, SIM_CLIP_LAYOUT, clipFrames, clipSteps, failureMoment, simClip } from '../../src/sim/clip.js';
import { GLYPHS, GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, textWidth } from '../../src/sim/bitmap-font.js';
import { sceneForStep } from '../../src/sim/world-view.js';
import { renderFrame } from '../../src/world/render.js';
import { isInputError } from '../../src/files/input-error.js';
import type { EntityState, SimRoad, SimRunTrace, TraceStep } from '../../src/schema/sim-types.js';

const KMH = 1 / 3.6;
const road: SimRoad = { roadType: 'urban', lanes: 2, laneWidth: 3.5, leftEdgeY: 3.5, egoLane: 1, oncomingBelow: 1, sidewalk: 3, speedLimit: 50 * KMH, stopLines: [] };
const LANE1 = road.leftEdgeY - 1.5 * road.laneWidth;
const LANE0 = road.leftEdgeY - 0.5 * road.laneWidth;

const entity = (name: string, cls: EntityState['cls'], x: number, y: number, speed: number, size: [number, number, number]): EntityState => ({ name, cls, x, y, heading: 0, speed, accel: 0, size, vy: 0 });

/**
 * A CCRs-like run built step by step in closed form: the ego at `v0` towards a stationary car
 * `gap0` metres ahead (front to rear) in its lane, braking at `decel` from `brakeAt` s; an oncoming
 * car in lane 0. The tracks are the rendered ground truth's boxes (a perfect tracker, id 7 the target).
 */
function ccrsTrace(opts: { v0: number; gap0: number; decel: number; brakeAt: number; steps: number; dt?: number; tracked?: boolean }): SimRunTrace {
  const dt = opts.dt ?? 0.1;
  const egoSize: [number, number, number] = [4.6, 1.9, 1.5];
  const target = entity('target', 'car', 2.3 + opts.gap0 + 2.2, LANE1, 0, [4.4, 1.8, 1.5]);
  const spec = { runId: 'clip-test', scenarioFile: 'ccrs.xosc', parameters: {}, paramIndex: 0, seed: 3, conditions: { weather: 'clear', timeOfDay: 'day', region: 'north', density: 0 }, model: 'candidate', modelDir: '' } as const;
  const steps: TraceStep[] = [];
  let x = 0;
  let v = opts.v0;
  let hit = false;
  for (let i = 0; i < opts.steps; i++) {
    const t = i * dt;
    const braking = t >= opts.brakeAt && v > 0 && !hit;
    const accel = braking ? -opts.decel : 0;
    const ego = { ...entity('ego', 'car', x, LANE1, v, egoSize), accel, jerk: 0, steer: 0 };
    const oncoming = { ...entity('oncoming', 'car', 40 - 10 * t, LANE0, 10, [4.5, 1.8, 1.5]), heading: Math.PI };
    const actors = [target, oncoming];
    const base = { t, ego, actors };
    const objects = opts.tracked === false ? [] : renderFrame(sceneForStep(road, spec.conditions, spec.seed, base, i)).objects;
    const tracks = objects.filter((o) => o.trackId === 1).map((o) => ({ id: 7, box: o.bbox, cls: 'car', score: 0.9 }));
    const range = target.x - target.size[0] / 2 - (x + egoSize[0] / 2);
    steps.push({ ...base, mode: braking ? 'aeb-full' : 'cruise', command: accel, lead: tracks.length ? { trackId: 7, range, ttc: v > 0 ? range / v : null } : undefined, detections: tracks.length, tracks, latencyMs: 1 });
    if (range <= 0) hit = true;
    if (!hit) {
      x += v * dt;
      v = Math.max(0, v + accel * dt);
    } else v = 0;
  }
  return { spec: { ...spec, conditions: { ...spec.conditions } }, scenario: { name: 'ccrs', category: 'ccrs', sha256: '0' }, road, dt, steps, ended: hit ? 'collision' : 'duration' };
}

const L = SIM_CLIP_LAYOUT;
const rgbAt = (f: { data: Uint8Array; width: number }, x: number, y: number) => Array.from(f.data.subarray((y * f.width + x) * 3, (y * f.width + x) * 3 + 3));
const same = (a: readonly number[], b: readonly number[]) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

/** Reads the strip's text back: each 6-px cell matched exactly against the font's glyphs (unknown cells as '~'). */
function readText(f: { data: Uint8Array; width: number }, x0: number, y0: number, cells: number, ink: readonly number[]): string {
  let s = '';
  for (let k = 0; k < cells; k++) {
    const rows: number[] = [];
    for (let r = 0; r < GLYPH_HEIGHT; r++) {
      let bits = 0;
      for (let c = 0; c < GLYPH_WIDTH; c++) if (same(rgbAt(f, x0 + k * GLYPH_ADVANCE + c, y0 + r), ink)) bits |= 1 << (GLYPH_WIDTH - 1 - c);
      rows.push(bits);
    }
    const hit = [...GLYPHS].find(([, g]) => g.every((b, i) => b === rows[i]));
    s += hit ? hit[0] : '~';
  }
  return s;
}

/** The GIF's blocks walked per GIF89a (https://www.w3.org/Graphics/GIF/spec-gif89a.txt): screen size, global table size, frames and their delays. */
function parseGif(b: Uint8Array): { version: string; width: number; height: number; globalColors: number; frames: number; delaysCs: number[]; loop: boolean } {
  const u16 = (o: number) => b[o] | (b[o + 1] << 8);
  const version = new TextDecoder('latin1').decode(b.subarray(0, 6));
  const width = u16(6);
  const height = u16(8);
  const packed = b[10];
  const globalColors = packed & 0x80 ? 2 << (packed & 7) : 0;
  let o = 13 + globalColors * 3;
  const skipSubBlocks = () => {
    while (b[o] !== 0) o += b[o] + 1;
    o += 1;
  };
  let frames = 0;
  let loop = false;
  const delaysCs: number[] = [];
  for (;;) {
    const tag = b[o++];
    if (tag === 0x3b) break;
    if (tag === 0x21) {
      const label = b[o++];
      if (label === 0xf9) delaysCs.push(u16(o + 2));
      if (label === 0xff && new TextDecoder('latin1').decode(b.subarray(o + 1, o + 12)) === 'NETSCAPE2.0') loop = true;
      skipSubBlocks();
    } else if (tag === 0x2c) {
      frames++;
      const p = b[o + 8];
      o += 9;
      if (p & 0x80) o += (2 << (p & 7)) * 3;
      o += 1; // LZW minimum code size
      skipSubBlocks();
    } else throw new Error(`GIF: unexpected block 0x${tag.toString(16)} at ${o - 1}`);
  }
  return { version, width, height, globalColors, frames, delaysCs, loop };
}

describe('sim clip', () => {
  // 30 km/h, 20 m to the target, brakes at 0.6 s at 2 m/s^2: 8.33 m/s needs 17.4 m, and it has
  // driven 5 m before braking: it hits at ~3.2 s (15 = 8.33 t - t^2).
  const crash = ccrsTrace({ v0: 30 * KMH, gap0: 20, decel: 2, brakeAt: 0.6, steps: 40 });

  it('centres on the collision: the first step whose boxes overlap, and a window around it', () => {
    const f = failureMoment(crash)!;
    expect(f.kind).toBe('collision');
    expect(f.actor).toBe('target');
    // Closed form: the step where the ego's front first passes the target's rear.
    const first = crash.steps.findIndex((s) => s.ego.x + 2.3 > s.actors[0].x - 2.2);
    expect(f.index).toBe(first);
    const w = clipSteps(crash, { window: { beforeS: 1, afterS: 0.5 } });
    expect(w.indices).toEqual(Array.from({ length: 16 }, (_, k) => f.index - 10 + k).filter((i) => i < 40));
    expect(clipSteps(crash, { window: 'all', maxFrames: 10 })).toMatchObject({ stride: 4 });
    const sub = clipSteps(crash, { window: 'all', maxFrames: 10 });
    // Anchored on the failure's step, evenly spaced.
    expect(sub.indices).toContain(f.index);
    expect(sub.indices.every((v, i, a) => i === 0 || v - a[i - 1] === 4)).toBe(true);
    expect(sub.indices.length).toBeLessThanOrEqual(10);
  });

  it('centres on a VRU near miss where there is no collision: the first step of least gap', () => {
    // The ego stands; a pedestrian walks across 0.5 m before its front at 1 m/s from y = -6.05.
    // The lateral gap closes when |y + 1.75| <= 0.95 + 0.2, i.e. from t = 3.15 s: step 32 (t = 3.2).
    const base = ccrsTrace({ v0: 0, gap0: 40, decel: 0, brakeAt: 99, steps: 60, tracked: false });
    const steps = base.steps.map((s) => ({ ...s, actors: [...s.actors, { ...entity('ped', 'pedestrian', 2.3 + 0.5 + 0.25, -6.05 + s.t, 0, [0.4, 0.5, 1.7]), heading: Math.PI / 2, vy: 1 }] }));
    const trace = { ...base, steps };
    expect(failureMoment(trace)).toEqual({ kind: 'near-miss', index: 32, t: steps[32].t, actor: 'ped' });
    // The default window: 4 s before, 1 s after.
    const w = clipSteps(trace);
    expect([w.indices[0], w.indices.at(-1), w.indices.length]).toEqual([0, 42, 43]);
    expect(failureMoment(base)).toBeNull();
    expect(clipSteps(base).indices.length).toBe(60);
  });

  it('writes a valid, looping GIF of the chosen frames and size, identical bytes for the same trace', async () => {
    const a = simClip(crash, { window: 'all', scale: 2 });
    const b = simClip(ccrsTrace({ v0: 30 * KMH, gap0: 20, decel: 2, brakeAt: 0.6, steps: 40 }), { window: 'all', scale: 2 });
    expect(Buffer.from(a.gif).equals(Buffer.from(b.gif))).toBe(true);
    expect(a).toMatchObject({ frames: 40, fps: 10, width: 896, height: 406 });
    const g = parseGif(a.gif);
    expect(g).toMatchObject({ version: 'GIF89a', width: 896, height: 406, globalColors: 256, frames: 40, loop: true });
    expect(g.delaysCs.every((d) => d === 10)).toBe(true);
    // A reference decoder (libvips via sharp) reads the same frames.
    const meta = await sharp(Buffer.from(a.gif), { pages: -1 }).metadata();
    expect(meta).toMatchObject({ format: 'gif', pages: 40, width: 896, pageHeight: 406 });
    // Subsampled: 40 steps into at most 15 frames at stride 3, played in real time.
    const hit = failureMoment(crash)!.index;
    const expected = Array.from({ length: 40 }, (_, i) => i).filter((i) => (i - hit) % 3 === 0).length;
    const sub = simClip(crash, { window: 'all', maxFrames: 15 });
    expect(sub).toMatchObject({ frames: expected, fps: 10 / 3 });
    expect(parseGif(sub.gif).frames).toBe(expected);
  });

  it('keeps overlay colours exact in the GIF: a decoder finds the strip, the BEV ego and the GT box in their inks', async () => {
    const c = simClip(crash, { window: 'all', maxFrames: 1 });
    const { data, info } = await sharp(Buffer.from(c.gif)).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    expect(at(1, L.strip.y + 1)).toEqual([...SIM_CLIP_INKS.strip]);
    const step = crash.steps[clipSteps(crash, { window: 'all', maxFrames: 1 }).indices[0]];
    const bevCol = Math.round(L.bev.x + L.bev.w / 2 - (step.ego.y - 0) * L.bev.pxPerM);
    expect(at(bevCol, L.bev.egoRow)).toEqual([...SIM_CLIP_INKS.ego]);
  });

  it('draws the ground truth and the tracks on the camera, and the readout in the strip', () => {
    const i = 10;
    const { frames } = clipFrames(crash, { window: 'all' });
    const f = frames[i];
    const s = crash.steps[i];
    expect(f.stepIndex).toBe(i);
    const gt = renderFrame(sceneForStep(road, crash.spec.conditions, crash.spec.seed, s, i)).objects.find((o) => o.trackId === 1)!;
    const [bx, by] = gt.bbox.map(Math.round);
    const bx1 = Math.round(gt.bbox[0] + gt.bbox[2]);
    const by1 = Math.round(gt.bbox[1] + gt.bbox[3]);
    const bh = by1 - by;
    // The lead's track (the target's GT box here) is drawn over its GT box in the lead's ink; the oncoming car's GT box is green.
    expect(rgbAt(f, bx, by + Math.floor(bh / 2))).toEqual([...SIM_CLIP_INKS.lead]);
    expect(rgbAt(f, bx1, by1)).toEqual([...SIM_CLIP_INKS.lead]);
    const oncoming = renderFrame(sceneForStep(road, crash.spec.conditions, crash.spec.seed, s, i)).objects.find((o) => o.trackId === 2)!;
    expect(rgbAt(f, Math.round(oncoming.bbox[0]), Math.round(oncoming.bbox[1]) + 2)).toEqual([...SIM_CLIP_INKS.gt]);
    // The track's id above the box.
    expect(readText(f, bx, by - GLYPH_HEIGHT - 2, 1, SIM_CLIP_INKS.lead)).toBe('7');
    // The readout: t 1.00 s, 30 km/h braking since 0.6 s: 8.333 - 0.4 * 2 = 7.53 m/s = 27 km/h.
    const expected = `T 1.00S  27 KM/H  A -2.0  TTC ${s.lead!.ttc!.toFixed(1)}S (TRUE`;
    expect(readText(f, 3, L.strip.textY, expected.length, SIM_CLIP_INKS.text)).toBe(expected);
    expect(readText(f, L.width - 3 - textWidth('AEB-FULL'), L.strip.textY, 8, SIM_CLIP_INKS.alert)).toBe('AEB-FULL');
    // After contact the strip says so.
    const hit = failureMoment(crash)!.index;
    const last = frames[hit + 1];
    expect(readText(last, L.width - 3 - textWidth('COLLISION'), L.strip.textY, 9, SIM_CLIP_INKS.alert)).toBe('COLLISION');
    expect(readText(frames[hit - 1], L.width - 3 - textWidth('COLLISION'), L.strip.textY, 9, SIM_CLIP_INKS.alert)).not.toBe('COLLISION');
  });

  it('puts the ego and the actors at their places in the bird\'s-eye view', () => {
    const { frames } = clipFrames(crash, { window: 'all' });
    const i = 5;
    const f = frames[i];
    const s = crash.steps[i];
    /** The centroid of the BEV's pixels in `ink`, within `cols` of a column where given. */
    const centroid = (ink: readonly number[], near?: { col: number; cols: number }) => {
      let n = 0;
      let sx = 0;
      let sy = 0;
      for (let y = L.bev.y; y < L.bev.y + L.bev.h; y++) {
        for (let x = L.bev.x; x < L.bev.x + L.bev.w; x++) {
          if (near && Math.abs(x + 0.5 - near.col) > near.cols) continue;
          if (!same(rgbAt(f, x, y), ink)) continue;
          n++;
          sx += x + 0.5;
          sy += y + 0.5;
        }
      }
      return { n, x: sx / n, y: sy / n };
    };
    const px = L.bev.pxPerM;
    const ego = centroid(SIM_CLIP_INKS.ego);
    // The ego's box 4.6 x 1.9 m: 4.6 * 1.9 * px^2 pixels, give or take its border rows.
    expect(Math.abs(ego.n - 4.6 * 1.9 * px * px)).toBeLessThan(2 * (4.6 + 1.9) * px);
    expect(ego.y).toBeCloseTo(L.bev.egoRow, 0);
    expect(ego.x).toBeCloseTo(L.bev.x + L.bev.w / 2 + 1.75 * px, 0);
    // The target (a car, blue) is straight ahead: dx metres up, the same column; the oncoming car one lane (3.5 m) left.
    const cars = [s.actors[0], s.actors[1]].map((a) => ({ row: L.bev.egoRow - (a.x - s.ego.x) * px, col: ego.x - (a.y - s.ego.y) * px }));
    expect(cars[0].col).toBeCloseTo(ego.x, 6);
    expect(cars[1].col).toBeCloseTo(ego.x - 3.5 * px, 6);
    for (const want of cars) {
      const car = centroid(SIM_CLIP_INKS.car, { col: want.col, cols: 4 });
      // A car's box, 4.4-4.5 x 1.8 m; its centroid at its centre.
      expect(Math.abs(car.n - 4.4 * 1.8 * px * px)).toBeLessThan(2 * (4.5 + 1.8) * px);
      expect(Math.abs(car.y - want.row)).toBeLessThan(1);
      expect(Math.abs(car.x - want.col)).toBeLessThan(1);
    }
    // The target's box is ringed in the lead's ink.
    const ring = centroid(SIM_CLIP_INKS.lead);
    expect(Math.abs(ring.y - cars[0].row)).toBeLessThan(1);
    expect(Math.abs(ring.x - cars[0].col)).toBeLessThan(1);
    // The scale bar's label.
    expect(readText(f, L.bev.x + 4 + Math.round(10 * px) + 4, L.bev.y + L.bev.h - 4 - GLYPH_HEIGHT + 1, 4, SIM_CLIP_INKS.text)).toBe('10 M');
  });

  it('has a font whose digits are the 5x7 shapes', () => {
    // "4" and "7" as the HD44780's character generator draws them.
    expect(GLYPHS.get('4')).toEqual([0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010]);
    expect(GLYPHS.get('7')).toEqual([0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000]);
    const shapes = new Set([...GLYPHS.values()].map((g) => g.join(',')));
    expect(shapes.size).toBe(GLYPHS.size);
  });

  it('refuses bad options and an empty trace by name', () => {
    const catchMsg = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(isInputError(e)).toBe(true);
        return (e as Error).message;
      }
      return '';
    };
    expect(catchMsg(() => simClip(crash, { scale: 7 }))).toMatch(/scale must be an integer 1-4, not 7/);
    expect(catchMsg(() => simClip(crash, { maxFrames: 0 }))).toMatch(/max_frames/);
    expect(catchMsg(() => simClip({ ...crash, steps: [] }))).toMatch(/run clip-test has no steps/);
  });

  it('makes a 60-frame clip of a whole run (its time is reported, not asserted: no test depends on the machine\'s load)', () => {
    const long = ccrsTrace({ v0: 30 * KMH, gap0: 60, decel: 2, brakeAt: 3, steps: 60 });
    let t0 = performance.now();
    long.steps.forEach((s, i) => renderFrame(sceneForStep(road, long.spec.conditions, long.spec.seed, s, i)));
    const renderMs = performance.now() - t0;
    t0 = performance.now();
    const c = simClip(long, { window: 'all' });
    const ms = performance.now() - t0;
    expect(c.frames).toBe(60);
    console.log(`sim clip: 60 frames in ${ms.toFixed(0)} ms (the renderer alone ${renderMs.toFixed(0)} ms), ${c.gif.length} bytes`);
    // A GIF89a of 60 frames (one graphic control extension each).
    expect(Buffer.from(c.gif.subarray(0, 6)).toString('latin1')).toBe('GIF89a');
    expect(Buffer.from(c.gif).toString('latin1').split('\x21\xf9\x04').length - 1).toBeGreaterThanOrEqual(60);
  });
});
