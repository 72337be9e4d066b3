/**
 * A closed-loop run's failure clip (issue 19, part 7): each step's camera frame re-rendered from
 * the trace (src/sim/world-view.ts sceneForStep: the scene the loop rendered, same bytes), with
 * the ground-truth boxes (green), the run's confirmed tracks (red, the planner's lead yellow),
 * a bird's-eye view beside it (lanes, the ego, the actors coloured by class, the lead outlined,
 * a 10 m scale bar) and a status strip under both (time, the ego's speed and acceleration, the
 * planner's TTC and the true one, its mode, the collision), as an animated GIF via gifenc.
 *
 *   +----------------------------+---------+
 *   | camera 320x192, boxes      |  BEV    |
 *   |                            | 128x192 |
 *   +----------------------------+---------+
 *   | T 3.20S  42 KM/H  A -8.9  TTC 1.4S (TRUE 1.2S)    AEB-FULL |
 *   +--------------------------------------+
 *
 * Deterministic and palette-stable: the overlays are drawn into an ink layer of fixed colours
 * that sit at fixed palette entries, and only the camera's pixels are quantised (once per clip,
 * from its first, middle and last frames), so the same trace gives the same bytes and a box's
 * colour is the same in every frame (gifenc's applyPalette would map a fixed colour through its
 * rgb565 cache to whatever camera colour shares the key; the ink layer never goes through it).
 */
import { GIFEncoder, applyPalette, quantize, type Palette } from 'gifenc';
import { CLIP_COLORS } from '../replay/clip.js';
import { iouXywh } from '../model/decode.js';
import { renderFrame } from '../world/render.js';
import { CAMERA } from '../world/scene.js';
import { InputError } from '../files/input-error.js';
import { SafetyThresholds, boxesOverlap, gapBetween, ttcBetween } from '../metrics/safety.js';
import { BACKGROUND_TRACK_BASE, sceneForStep } from './world-view.js';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, forEachTextPixel, textWidth } from './bitmap-font.js';
import type { EntityState, SimClass, SimRunTrace, TraceStep } from '../schema/sim-types.js';

type RGB = readonly [number, number, number];

/** The clip's fixed colours, in palette order after the camera's. */
export const SIM_CLIP_INKS = {
  gt: CLIP_COLORS.gt,
  track: CLIP_COLORS.candidate,
  lead: [255, 215, 0],
  text: [240, 240, 240],
  dim: [150, 150, 150],
  warn: [255, 165, 40],
  alert: [255, 50, 50],
  strip: [16, 16, 20],
  grass: [30, 44, 32],
  sidewalk: [112, 112, 108],
  asphalt: [66, 66, 72],
  marking: [225, 225, 225],
  ego: [0, 200, 220],
  car: [80, 160, 255],
  pedestrian: [255, 140, 30],
  cyclist: [220, 90, 220],
  background: [128, 128, 128],
} as const satisfies Record<string, RGB>;
export type SimClipInk = keyof typeof SIM_CLIP_INKS;
const INK_NAMES = Object.keys(SIM_CLIP_INKS) as SimClipInk[];
const INK_RGB: RGB[] = INK_NAMES.map((k) => SIM_CLIP_INKS[k]);
/** Ink layer value of an ink: 0 is "the camera's pixel". */
const INK = Object.fromEntries(INK_NAMES.map((k, i) => [k, i + 1])) as Record<SimClipInk, number>;
const CLASS_INK: Record<SimClass, number> = { car: INK.car, pedestrian: INK.pedestrian, cyclist: INK.cyclist };

/** Where the parts of a clip frame are at scale 1 (pixels); the BEV's metric scale and the ego's row in it. */
export const SIM_CLIP_LAYOUT = (() => {
  const camera = { x: 0, y: 0, w: CAMERA.width, h: CAMERA.height };
  // 3 px/m: 56 m ahead of the ego's centre (AEB's 2.6 s warning at 80 km/h is 58 m), 8 m behind,
  // 42 m across (the road, its sidewalks, a crossing pedestrian's start).
  const bev = { x: camera.w, y: 0, w: 128, h: camera.h, pxPerM: 3, egoRow: camera.h - 24 };
  const strip = { x: 0, y: camera.h, w: camera.w + bev.w, h: GLYPH_HEIGHT + 4, textY: camera.h + 2 };
  return { width: strip.w, height: camera.h + strip.h, camera, bev, strip };
})();

/** Clip options, as the sim step's recipe passes them through. */
export interface SimClipOptions {
  /** Playback rate; default real time (the run's rate over the subsampling stride). */
  fps?: number;
  /** At most this many frames (default 80); more steps are subsampled at an even stride. */
  maxFrames?: number;
  /** Integer upscale 1-4 (nearest neighbour), default 1: 448x203. */
  scale?: number;
  /**
   * Which steps: 'failure' (default) the seconds around the run's failure (its collision, else
   * its closest VRU near miss), or the whole run where it had none; 'all' the whole run; or an
   * explicit window around the failure.
   */
  window?: 'failure' | 'all' | { beforeS: number; afterS: number };
  /** Near-miss thresholds (src/metrics/safety.ts, the run's own); defaults as there. */
  thresholds?: Partial<SafetyThresholds>;
  /** Entities the scenario declared invisible to sensors (not drawn in the camera, as the loop did not). */
  hidden?: readonly string[];
}

/** The default failure window: the approach and the second after contact (the loop runs one more second). */
export const FAILURE_WINDOW = { beforeS: 4, afterS: 1 } as const;
const DEFAULT_MAX_FRAMES = 80;

/** A run's failure moment: its first contact, else its VRU near miss with the least gap. */
export interface FailureMoment {
  kind: 'collision' | 'near-miss';
  index: number;
  t: number;
  actor: string;
}

/** The step a clip centres on (collision as src/metrics/safety.ts runMetrics finds it; near miss by its thresholds); null: none. */
export function failureMoment(trace: Pick<SimRunTrace, 'steps'>, thresholds: Partial<SafetyThresholds> = {}): FailureMoment | null {
  const th = SafetyThresholds.parse(thresholds);
  for (let i = 0; i < trace.steps.length; i++) {
    const s = trace.steps[i];
    const hit = s.actors.find((a) => boxesOverlap(s.ego, a));
    if (hit) return { kind: 'collision', index: i, t: s.t, actor: hit.name };
  }
  let best: { moment: FailureMoment; gap: number } | null = null;
  for (let i = 0; i < trace.steps.length; i++) {
    const s = trace.steps[i];
    for (const a of s.actors) {
      if (a.cls === 'car') continue;
      const ttc = ttcBetween(s.ego, a);
      const gap = gapBetween(s.ego, a).euclid;
      if (!((ttc !== null && ttc < th.vru_ttc_s) || gap < th.vru_gap_m)) continue;
      if (!best || gap < best.gap) best = { moment: { kind: 'near-miss', index: i, t: s.t, actor: a.name }, gap };
    }
  }
  return best ? best.moment : null;
}

/** Which steps a clip shows: their indices in the trace, the subsampling stride, and the failure it centres on. */
export function clipSteps(trace: SimRunTrace, opts: Pick<SimClipOptions, 'maxFrames' | 'window' | 'thresholds'> = {}): { indices: number[]; stride: number; failure: FailureMoment | null } {
  const n = trace.steps.length;
  if (n === 0) throw new InputError(`sim clip: run ${trace.spec.runId} has no steps`);
  const maxFrames = opts.maxFrames ?? DEFAULT_MAX_FRAMES;
  if (!Number.isInteger(maxFrames) || maxFrames < 1) throw new InputError(`sim clip: max_frames must be a positive integer, not ${maxFrames}`);
  const failure = failureMoment(trace, opts.thresholds);
  const window = opts.window ?? 'failure';
  let first = 0;
  let last = n - 1;
  if (window !== 'all' && failure) {
    const w = window === 'failure' ? FAILURE_WINDOW : window;
    if (!(w.beforeS >= 0 && w.afterS >= 0)) throw new InputError(`sim clip: window before_s/after_s must be >= 0, not ${w.beforeS}/${w.afterS}`);
    // Steps from their index (t = index * dt in the loop), so the window has whole steps.
    first = Math.max(0, failure.index - Math.round(w.beforeS / trace.dt));
    last = Math.min(n - 1, failure.index + Math.round(w.afterS / trace.dt));
  }
  const span = last - first + 1;
  const stride = Math.ceil(span / maxFrames);
  // The stride is anchored on the failure's step (else the last), so the moment itself is shown.
  const anchor = failure && failure.index >= first && failure.index <= last ? failure.index : last;
  const indices: number[] = [];
  for (let i = first + ((((anchor - first) % stride) + stride) % stride); i <= last; i += stride) indices.push(i);
  return { indices, stride, failure };
}

/** One composed frame at scale 1: the camera's RGB and the ink layer over the whole frame. */
interface Composed {
  camera: Uint8Array;
  ink: Uint8Array;
  stepIndex: number;
  t: number;
}

/** A composed clip frame (true colour), for the workbench's terminal player (views/frame-cells.ts RgbFrame). */
export interface SimClipFrame {
  data: Uint8Array;
  width: number;
  height: number;
  /** The trace step it shows, and its time. */
  stepIndex: number;
  t: number;
}

function checkScale(scale: number | undefined): number {
  const s = scale ?? 1;
  if (!Number.isInteger(s) || s < 1 || s > 4) throw new InputError(`sim clip: scale must be an integer 1-4, not ${s}`);
  return s;
}

function checkFps(fps: number | undefined, trace: SimRunTrace, stride: number): number {
  const f = fps ?? 1 / trace.dt / stride;
  if (!(f > 0 && f <= 100)) throw new InputError(`sim clip: fps must be in (0, 100], not ${f}`);
  return f;
}

function compose(trace: SimRunTrace, opts: SimClipOptions): { frames: Composed[]; stride: number } {
  const { indices, stride, failure } = clipSteps(trace, opts);
  const hidden = opts.hidden ? new Set(opts.hidden) : undefined;
  const frames = indices.map((i) => composeStep(trace, i, failure, hidden));
  return { frames, stride };
}

/**
 * The clip's frames as true-colour RGB (scale applied), with the step each shows and the rate
 * they play at: what simClip encodes, for a player that draws frames itself.
 */
export function clipFrames(trace: SimRunTrace, opts: SimClipOptions = {}): { frames: SimClipFrame[]; width: number; height: number; fps: number } {
  const scale = checkScale(opts.scale);
  const { frames, stride } = compose(trace, opts);
  const fps = checkFps(opts.fps, trace, stride);
  const { width: W, height: H, camera: cam } = SIM_CLIP_LAYOUT;
  const out = frames.map((f) => {
    const rgb = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = y * W + x;
        const k = f.ink[p];
        if (k) {
          const c = INK_RGB[k - 1];
          rgb[p * 3] = c[0];
          rgb[p * 3 + 1] = c[1];
          rgb[p * 3 + 2] = c[2];
        } else {
          // Ink 0 occurs only inside the camera's rectangle, which starts at (0, 0).
          const q = (y * cam.w + x) * 3;
          rgb[p * 3] = f.camera[q];
          rgb[p * 3 + 1] = f.camera[q + 1];
          rgb[p * 3 + 2] = f.camera[q + 2];
        }
      }
    }
    return { data: upscale(rgb, W, H, 3, scale), width: W * scale, height: H * scale, stepIndex: f.stepIndex, t: f.t };
  });
  return { frames: out, width: W * scale, height: H * scale, fps };
}

/**
 * A run's clip as an animated GIF (looping), its frame count and rate. Same trace and options,
 * same bytes.
 */
export function simClip(trace: SimRunTrace, opts: SimClipOptions = {}): { gif: Uint8Array; frames: number; fps: number; width: number; height: number } {
  const scale = checkScale(opts.scale);
  const { frames, stride } = compose(trace, opts);
  const fps = checkFps(opts.fps, trace, stride);
  const { width: W, height: H, camera: cam } = SIM_CLIP_LAYOUT;

  const rgbas = frames.map((f) => toRgba(f.camera, cam.w * cam.h));
  const sample = [0, Math.floor(frames.length / 2), frames.length - 1].filter((v, i, a) => a.indexOf(v) === i);
  const pool = new Uint8Array(sample.length * cam.w * cam.h * 4);
  sample.forEach((k, j) => pool.set(rgbas[k], j * cam.w * cam.h * 4));
  const cameraPalette = quantize(pool, 256 - INK_RGB.length);
  const base = cameraPalette.length;
  const palette: Palette = [...cameraPalette, ...INK_RGB.map((c) => [...c])];

  const gif = GIFEncoder();
  const delay = Math.round(1000 / fps);
  frames.forEach((f, k) => {
    const camIndex = applyPalette(rgbas[k], cameraPalette);
    const index = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = y * W + x;
        const ink = f.ink[p];
        index[p] = ink ? base + ink - 1 : camIndex[y * cam.w + x];
      }
    }
    gif.writeFrame(upscale(index, W, H, 1, scale), W * scale, H * scale, k === 0 ? { palette, delay, repeat: 0 } : { delay });
  });
  gif.finish();
  return { gif: gif.bytes(), frames: frames.length, fps, width: W * scale, height: H * scale };
}

function toRgba(rgb: Uint8Array, n: number): Uint8Array {
  const rgba = new Uint8Array(n * 4);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    rgba[i * 4] = rgb[j];
    rgba[i * 4 + 1] = rgb[j + 1];
    rgba[i * 4 + 2] = rgb[j + 2];
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}

/** Nearest-neighbour integer upscale of a `channels`-per-pixel image. */
function upscale(src: Uint8Array, w: number, h: number, channels: number, s: number): Uint8Array {
  if (s === 1) return src;
  const W = w * s;
  const out = new Uint8Array(W * h * s * channels);
  for (let y = 0; y < h * s; y++) {
    const sy = Math.floor(y / s);
    for (let x = 0; x < W; x++) {
      const from = (sy * w + Math.floor(x / s)) * channels;
      const to = (y * W + x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = src[from + c];
    }
  }
  return out;
}

// ---- Drawing into the ink layer ---------------------------------------------------------

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Puts `ink` at (x, y) of the layer when the pixel lies in `clip`. */
function put(layer: Uint8Array, clip: Rect, x: number, y: number, ink: number): void {
  if (x < clip.x || y < clip.y || x >= clip.x + clip.w || y >= clip.y + clip.h) return;
  layer[y * SIM_CLIP_LAYOUT.width + x] = ink;
}

function fillRect(layer: Uint8Array, clip: Rect, r: Rect, ink: number): void {
  for (let y = r.y; y < r.y + r.h; y++) for (let x = r.x; x < r.x + r.w; x++) put(layer, clip, x, y, ink);
}

/** A COCO box's outline in image pixels, offset to the camera's rectangle; dashed every other pair of pixels. */
function outline(layer: Uint8Array, clip: Rect, box: readonly number[], ink: number, dashed = false): void {
  const x0 = Math.round(box[0]) + clip.x;
  const y0 = Math.round(box[1]) + clip.y;
  const x1 = Math.round(box[0] + box[2]) + clip.x;
  const y1 = Math.round(box[1] + box[3]) + clip.y;
  if (x1 < x0 || y1 < y0) return;
  const dot = (x: number, y: number, k: number) => {
    if (!dashed || k % 4 < 2) put(layer, clip, x, y, ink);
  };
  for (let x = x0; x <= x1; x++) {
    dot(x, y0, x);
    dot(x, y1, x);
  }
  for (let y = y0; y <= y1; y++) {
    dot(x0, y, y);
    dot(x1, y, y);
  }
}

function text(layer: Uint8Array, clip: Rect, s: string, x: number, y: number, ink: number): void {
  forEachTextPixel(s, x, y, (px, py) => put(layer, clip, px, py, ink));
}

const fmtTtc = (ttc: number | null | undefined) => (ttc === null || ttc === undefined || !(ttc < 100) ? '--' : `${ttc.toFixed(1)}S`);

/** The planner's lead as a scenario actor: its track's best-overlapping ground-truth object (IoU >= 0.1). */
function leadActor(step: TraceStep, objects: ReturnType<typeof renderFrame>['objects']): number | null {
  if (!step.lead) return null;
  const track = step.tracks.find((k) => k.id === step.lead!.trackId);
  if (!track) return null;
  let best: { actor: number; iou: number } | null = null;
  for (const o of objects) {
    if (o.trackId < 1 || o.trackId >= BACKGROUND_TRACK_BASE) continue;
    const iou = iouXywh(track.box, o.bbox);
    if (iou >= 0.1 && (!best || iou > best.iou)) best = { actor: o.trackId - 1, iou };
  }
  return best ? best.actor : null;
}

function composeStep(trace: SimRunTrace, index: number, failure: FailureMoment | null, hidden: ReadonlySet<string> | undefined): Composed {
  const step = trace.steps[index];
  const { spec, road } = trace;
  const scene = sceneForStep(road, spec.conditions, spec.seed, step, index, hidden);
  const frame = renderFrame(scene);
  const L = SIM_CLIP_LAYOUT;
  const ink = new Uint8Array(L.width * L.height);

  // Camera: ground truth under the tracks, the lead's track last (on top).
  for (const o of frame.objects) outline(ink, L.camera, o.bbox, INK.gt, o.hard);
  const leadId = step.lead?.trackId;
  const tracks = [...step.tracks].sort((a, b) => Number(a.id === leadId) - Number(b.id === leadId));
  for (const k of tracks) {
    const c = k.id === leadId ? INK.lead : INK.track;
    outline(ink, L.camera, k.box, c);
    const label = String(k.id);
    const ly = k.box[1] - GLYPH_HEIGHT - 2 >= 0 ? Math.round(k.box[1]) - GLYPH_HEIGHT - 2 : Math.round(k.box[1] + k.box[3]) + 2;
    text(ink, L.camera, label, Math.round(k.box[0]), ly, c);
  }

  drawBev(ink, trace, step, scene, leadActor(step, frame.objects));
  drawStrip(ink, step, failure !== null && failure.kind === 'collision' && index >= failure.index);
  return { camera: frame.rgb, ink, stepIndex: index, t: step.t };
}

function drawStrip(ink: Uint8Array, step: TraceStep, collided: boolean): void {
  const { strip } = SIM_CLIP_LAYOUT;
  fillRect(ink, strip, strip, INK.strip);
  const e = step.ego;
  let trueTtc: number | null = null;
  for (const a of step.actors) {
    const ttc = ttcBetween(e, a);
    if (ttc !== null && (trueTtc === null || ttc < trueTtc)) trueTtc = ttc;
  }
  const accel = `${e.accel < 0 ? '-' : '+'}${Math.abs(e.accel).toFixed(1)}`;
  const left = `T ${step.t.toFixed(2)}S  ${Math.round(e.speed * 3.6)} KM/H  A ${accel}  TTC ${fmtTtc(step.lead?.ttc)} (TRUE ${fmtTtc(trueTtc)})`;
  text(ink, strip, left, strip.x + 3, strip.textY, INK.text);
  const mode = step.mode.toUpperCase();
  const modeInk = step.mode === 'aeb-full' || step.mode === 'aeb-partial' ? INK.alert : step.mode === 'aeb-warn' ? INK.warn : step.mode === 'stopped' ? INK.dim : INK.text;
  let right = strip.x + strip.w - 3;
  if (collided) {
    right -= textWidth('COLLISION');
    text(ink, strip, 'COLLISION', right, strip.textY, INK.alert);
    right -= 2 * GLYPH_ADVANCE;
  }
  text(ink, strip, mode, right - textWidth(mode), strip.textY, modeInk);
}

function drawBev(ink: Uint8Array, trace: SimRunTrace, step: TraceStep, scene: ReturnType<typeof sceneForStep>, lead: number | null): void {
  const { bev } = SIM_CLIP_LAYOUT;
  const road = trace.road;
  const { ego } = step;
  const px = bev.pxPerM;
  const leftY = road.leftEdgeY;
  const rightY = road.leftEdgeY - road.lanes * road.laneWidth;
  // The panel's centre column is the road's centre line; its ego row is the ego's centre.
  const cx = bev.x + bev.w / 2;
  const yCentre = (leftY + rightY) / 2;
  const colOf = (y: number) => cx - (y - yCentre) * px;
  const rowOf = (x: number) => bev.y + bev.egoRow - (x - ego.x) * px;
  const worldAt = (col: number, row: number): [number, number] => [ego.x + (bev.y + bev.egoRow - (row + 0.5)) / px, yCentre - (col + 0.5 - cx) / px];

  // Ground: grass, sidewalks, asphalt, by column (the road is straight along x).
  for (let col = bev.x; col < bev.x + bev.w; col++) {
    const y = worldAt(col, 0)[1];
    const c = y <= leftY && y >= rightY ? INK.asphalt : road.sidewalk > 0 && y <= leftY + road.sidewalk && y >= rightY - road.sidewalk ? INK.sidewalk : INK.grass;
    fillRect(ink, bev, { x: col, y: bev.y, w: 1, h: bev.h }, c);
  }
  // Markings: solid edges and centre line (between oncoming and with-flow lanes), dashed lane lines fixed to the road (3 m on, 6 m off).
  for (let k = 0; k <= road.lanes; k++) {
    const col = Math.round(colOf(leftY - k * road.laneWidth) - 0.5);
    const solid = k === 0 || k === road.lanes || k === road.oncomingBelow;
    for (let row = bev.y; row < bev.y + bev.h; row++) {
      const x = worldAt(col, row)[0];
      if (solid || ((x % 9) + 9) % 9 < 3) put(ink, bev, col, row, INK.marking);
    }
  }
  for (const line of road.stopLines) {
    const row = Math.round(rowOf(line));
    const y0 = leftY - road.egoLane * road.laneWidth;
    const c0 = Math.round(colOf(y0));
    const c1 = Math.round(colOf(y0 - road.laneWidth));
    fillRect(ink, bev, { x: c0, y: row - 1, w: c1 - c0, h: 2 }, INK.marking);
  }

  // Background traffic, from the scene the camera drew (ego frame back to the world).
  const cos = Math.cos(ego.heading);
  const sin = Math.sin(ego.heading);
  const camX = ego.x + (ego.size[0] / 2) * cos;
  const camY = ego.y + (ego.size[0] / 2) * sin;
  for (const a of scene.actors) {
    if (a.trackId < BACKGROUND_TRACK_BASE) continue;
    const fwd = a.z;
    const left = -a.x;
    const x = camX + fwd * cos - left * sin;
    const y = camY + fwd * sin + left * cos;
    fillBox(ink, { x, y, heading: ego.heading + (a.oncoming ? Math.PI : 0), size: [a.l, a.w, a.h] }, INK.background, worldAt, rowOf, colOf);
  }

  step.actors.forEach((a, i) => {
    fillBox(ink, a, CLASS_INK[a.cls], worldAt, rowOf, colOf);
    if (boxesOverlap(ego, a)) outlineBox(ink, a, INK.alert, worldAt, rowOf, colOf);
    else if (i === lead) outlineBox(ink, a, INK.lead, worldAt, rowOf, colOf);
  });
  fillBox(ink, ego, INK.ego, worldAt, rowOf, colOf);

  // Scale bar: 10 m, bottom left, ticks at its ends.
  const barY = bev.y + bev.h - 4;
  const x0 = bev.x + 4;
  const len = Math.round(10 * px);
  fillRect(ink, bev, { x: x0, y: barY, w: len + 1, h: 1 }, INK.text);
  fillRect(ink, bev, { x: x0, y: barY - 2, w: 1, h: 2 }, INK.text);
  fillRect(ink, bev, { x: x0 + len, y: barY - 2, w: 1, h: 2 }, INK.text);
  text(ink, bev, '10 M', x0 + len + 4, barY - GLYPH_HEIGHT + 1, INK.text);
}

type BoxPose = Pick<EntityState, 'x' | 'y' | 'heading' | 'size'>;

/** Whether world (x, y) lies in `b` grown by `grow` metres on every side. */
function inBox(b: BoxPose, x: number, y: number, grow: number, minHalf: number): boolean {
  const c = Math.cos(b.heading);
  const s = Math.sin(b.heading);
  const dx = x - b.x;
  const dy = y - b.y;
  const u = dx * c + dy * s;
  const v = -dx * s + dy * c;
  return Math.abs(u) <= Math.max(b.size[0] / 2, minHalf) + grow && Math.abs(v) <= Math.max(b.size[1] / 2, minHalf) + grow;
}

type WorldAt = (col: number, row: number) => [number, number];

function boxPixels(b: BoxPose, grow: number, worldAt: WorldAt, rowOf: (x: number) => number, colOf: (y: number) => number, each: (col: number, row: number, x: number, y: number) => void): void {
  const { bev } = SIM_CLIP_LAYOUT;
  const r = Math.hypot(b.size[0], b.size[1]) / 2 + grow + 1;
  const row0 = Math.max(bev.y, Math.floor(rowOf(b.x + r)));
  const row1 = Math.min(bev.y + bev.h - 1, Math.ceil(rowOf(b.x - r)));
  const col0 = Math.max(bev.x, Math.floor(colOf(b.y + r)));
  const col1 = Math.min(bev.x + bev.w - 1, Math.ceil(colOf(b.y - r)));
  for (let row = row0; row <= row1; row++) {
    for (let col = col0; col <= col1; col++) {
      const [x, y] = worldAt(col, row);
      each(col, row, x, y);
    }
  }
}

/** Fills an entity's box; a person (0.5 m) is at least 2 px across so that it shows. */
function fillBox(ink: Uint8Array, b: BoxPose, c: number, worldAt: WorldAt, rowOf: (x: number) => number, colOf: (y: number) => number): void {
  const minHalf = 1 / SIM_CLIP_LAYOUT.bev.pxPerM;
  boxPixels(b, 0, worldAt, rowOf, colOf, (col, row, x, y) => {
    if (inBox(b, x, y, 0, minHalf)) put(ink, SIM_CLIP_LAYOUT.bev, col, row, c);
  });
}

/** A one-pixel ring around an entity's box (the lead, the actor hit). */
function outlineBox(ink: Uint8Array, b: BoxPose, c: number, worldAt: WorldAt, rowOf: (x: number) => number, colOf: (y: number) => number): void {
  const { bev } = SIM_CLIP_LAYOUT;
  const minHalf = 1 / bev.pxPerM;
  const ring = 1 / bev.pxPerM;
  boxPixels(b, ring, worldAt, rowOf, colOf, (col, row, x, y) => {
    if (inBox(b, x, y, ring, minHalf) && !inBox(b, x, y, 0, minHalf)) put(ink, bev, col, row, c);
  });
}
