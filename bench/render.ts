/**
 * The world's renderer (src/world/render.ts renderFrame) against the renderer as it was before
 * its hot loops were rewritten (a verbatim copy below, the baseline), in the same run:
 *   - identity: both render the same 2,160 scenes (every weather x time of day x road type x
 *     region, 20 frames of each drive, 3 ticks apart) and must give the same RGB bytes and the
 *     same ground truth; any difference fails the bench (exit 1);
 *   - speed: ms per frame over 216 of those scenes (2 per condition), 3 rounds alternating,
 *     the median round of each.
 * Figures to bench/results/render.json.
 */
import { createHash } from 'node:crypto';
import { CAMERA, PALETTES, REGIONS, ROAD_TYPES, TIMES_OF_DAY, WEATHERS, type Actor, type Conditions, type ObjectTruth, type RGB, type SceneState } from '../src/world/scene.js';
import { Rng, clamp, dexp, hashSeed } from '../src/world/detmath.js';
import { Drive } from '../src/world/drive.js';
import { renderFrame } from '../src/world/render.js';
import { median, writeResults } from './common.js';

const FRAMES_PER_DRIVE = 20;
const TICKS_APART = 3;
const ROUNDS = 3;

function conditionsList(): Conditions[] {
  const out: Conditions[] = [];
  for (const weather of WEATHERS) for (const timeOfDay of TIMES_OF_DAY) for (const roadType of ROAD_TYPES) for (const region of REGIONS) out.push({ weather, timeOfDay, roadType, region });
  return out;
}

/** The scenes of one drive: frames 0, 3, 6, ... */
function* driveScenes(seed: number, conditions: Conditions, frames: number): Generator<SceneState> {
  const d = new Drive({ driveId: `bench-${seed}`, seed, conditions });
  for (let f = 0; f < frames; f++) {
    yield d.state();
    for (let t = 0; t < TICKS_APART; t++) d.step();
  }
}

function main(): void {
  const conds = conditionsList();
  // Identity over every condition.
  let checked = 0;
  const mismatches: string[] = [];
  const digest = createHash('sha256');
  const tId = performance.now();
  conds.forEach((c, ci) => {
    let f = 0;
    for (const s of driveScenes(1000 + ci, c, FRAMES_PER_DRIVE)) {
      const a = baselineRenderFrame(s);
      const b = renderFrame(s);
      const same = a.width === b.width && a.height === b.height && Buffer.from(a.rgb.buffer, a.rgb.byteOffset, a.rgb.length).equals(Buffer.from(b.rgb.buffer, b.rgb.byteOffset, b.rgb.length)) && JSON.stringify(a.objects) === JSON.stringify(b.objects);
      if (!same) mismatches.push(`${c.weather}/${c.timeOfDay}/${c.roadType}/${c.region} frame ${f}`);
      digest.update(b.rgb);
      checked++;
      f++;
    }
  });
  const identitySeconds = (performance.now() - tId) / 1000;
  console.log(`identity: ${checked} frames over ${conds.length} conditions, ${mismatches.length} differ (${identitySeconds.toFixed(1)} s)`);
  for (const m of mismatches.slice(0, 10)) console.log(`  differs: ${m}`);

  // Speed on a fixed set of scenes.
  const scenes: SceneState[] = [];
  conds.forEach((c, ci) => {
    for (const s of driveScenes(5000 + ci, c, 2)) scenes.push(s);
  });
  const time = (fn: (s: SceneState) => unknown) => {
    const t0 = performance.now();
    for (const s of scenes) fn(s);
    return (performance.now() - t0) / scenes.length;
  };
  time(baselineRenderFrame);
  time(renderFrame);
  const old: number[] = [];
  const now: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    (globalThis as { gc?: () => void }).gc?.();
    old.push(time(baselineRenderFrame));
    (globalThis as { gc?: () => void }).gc?.();
    now.push(time(renderFrame));
  }
  const oldMs = median(old);
  const newMs = median(now);
  const ratio = oldMs / newMs;
  console.log(`baseline (original renderFrame): ${oldMs.toFixed(2)} ms/frame`);
  console.log(`renderFrame:                     ${newMs.toFixed(2)} ms/frame`);
  console.log(`ratio: ${ratio.toFixed(2)}x faster, ${scenes.length} frames x ${ROUNDS} rounds`);
  const file = writeResults('render', {
    frame: { width: CAMERA.width, height: CAMERA.height },
    identity: { frames: checked, conditions: conds.length, differing: mismatches.length, examples: mismatches.slice(0, 10), sha256: digest.digest('hex'), seconds: Number(identitySeconds.toFixed(1)) },
    speed: { frames: scenes.length, rounds: ROUNDS, baselineMsPerFrame: Number(oldMs.toFixed(3)), msPerFrame: Number(newMs.toFixed(3)), ratio: Number(ratio.toFixed(2)), baselineRoundsMs: old.map((x) => Number(x.toFixed(3))), roundsMs: now.map((x) => Number(x.toFixed(3))) },
  });
  console.log(`figures: ${file}`);
  if (mismatches.length > 0) process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// The baseline: src/world/render.ts as it was before the rewrite, verbatim but for the name.
// ---------------------------------------------------------------------------------------------

const W = CAMERA.width;
const H = CAMERA.height;
const { fx, fy, cx, cy } = CAMERA;
const CAM_H = CAMERA.mountHeight;

interface Frame {
  width: number;
  height: number;
  /** Interleaved RGB, row-major, 8 bits per channel. */
  rgb: Uint8Array;
  objects: ObjectTruth[];
}

interface Buffers {
  r: Float32Array;
  g: Float32Array;
  b: Float32Array;
  depth: Float32Array;
  id: Int16Array;
}

interface DrawStats {
  drawn: number;
  u0: number;
  v0: number;
  u1: number;
  v1: number;
}

const AMBIENT: Record<SceneState['conditions']['timeOfDay'], RGB> = {
  day: [1, 1, 1],
  dusk: [0.62, 0.5, 0.45],
  night: [0.16, 0.17, 0.22],
};
const SKY: Record<SceneState['conditions']['timeOfDay'], [RGB, RGB]> = {
  day: [[0.45, 0.62, 0.88], [0.78, 0.86, 0.95]],
  dusk: [[0.3, 0.28, 0.45], [0.95, 0.55, 0.3]],
  night: [[0.02, 0.02, 0.05], [0.07, 0.07, 0.12]],
};
const NOISE: Record<SceneState['conditions']['timeOfDay'], number> = { day: 0.012, dusk: 0.025, night: 0.05 };

function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function shade(c: RGB, k: number): RGB {
  return [c[0] * k, c[1] * k, c[2] * k];
}

class Canvas {
  constructor(
    readonly buf: Buffers,
    readonly ambient: RGB,
  ) {}

  /** Writes one pixel (colour lit by the ambient unless emissive). */
  put(u: number, v: number, c: RGB, z: number, id: number, emissive: boolean, stats?: DrawStats): void {
    const i = v * W + u;
    // Count each pixel of the object once (its own parts overdraw each other).
    if (stats && this.buf.id[i] !== id) stats.drawn++;
    if (emissive) {
      this.buf.r[i] = c[0];
      this.buf.g[i] = c[1];
      this.buf.b[i] = c[2];
    } else {
      this.buf.r[i] = c[0] * this.ambient[0];
      this.buf.g[i] = c[1] * this.ambient[1];
      this.buf.b[i] = c[2] * this.ambient[2];
    }
    this.buf.depth[i] = z;
    this.buf.id[i] = id;
    if (stats) {
      if (u < stats.u0) stats.u0 = u;
      if (u > stats.u1) stats.u1 = u;
      if (v < stats.v0) stats.v0 = v;
      if (v > stats.v1) stats.v1 = v;
    }
  }

  /** Fills [u0, u1) x [v0, v1) (pixel edges, clipped). */
  rect(u0: number, v0: number, u1: number, v1: number, c: RGB, z: number, id: number, emissive = false, stats?: DrawStats): void {
    const a = Math.max(0, Math.round(u0));
    const b = Math.min(W, Math.round(u1));
    const top = Math.max(0, Math.round(v0));
    const bot = Math.min(H, Math.round(v1));
    for (let v = top; v < bot; v++) for (let u = a; u < b; u++) this.put(u, v, c, z, id, emissive, stats);
  }

  /** A quadrilateral with vertical left and right edges: column-wise spans interpolated. */
  trapezoid(uA: number, topA: number, botA: number, uB: number, topB: number, botB: number, c: RGB, z: number, id: number, stats?: DrawStats): void {
    const lo = Math.min(uA, uB);
    const hi = Math.max(uA, uB);
    const a = Math.max(0, Math.round(lo));
    const b = Math.min(W, Math.round(hi));
    const span = hi - lo || 1;
    for (let u = a; u < b; u++) {
      const t = clamp((u + 0.5 - uA) / (uB - uA || span), 0, 1);
      const top = Math.max(0, Math.round(topA + (topB - topA) * t));
      const bot = Math.min(H, Math.round(botA + (botB - botA) * t));
      for (let v = top; v < bot; v++) this.put(u, v, c, z, id, false, stats);
    }
  }

  disk(uc: number, vc: number, radius: number, c: RGB, z: number, id: number, emissive = false, stats?: DrawStats): void {
    const r2 = radius * radius;
    const a = Math.max(0, Math.floor(uc - radius));
    const b = Math.min(W - 1, Math.ceil(uc + radius));
    const top = Math.max(0, Math.floor(vc - radius));
    const bot = Math.min(H - 1, Math.ceil(vc + radius));
    for (let v = top; v <= bot; v++) {
      for (let u = a; u <= b; u++) {
        const du = u + 0.5 - uc;
        const dv = v + 0.5 - vc;
        if (du * du + dv * dv <= r2) this.put(u, v, c, z, id, emissive, stats);
      }
    }
  }
}

const project = (x: number, y: number, z: number): [number, number] => [cx + (fx * x) / z, cy + (fy * (CAM_H - y)) / z];

/** Sky, road, markings and roadside, with a world-fixed texture that scrolls with the ego. */
function drawGround(s: SceneState, canvas: Canvas): void {
  const pal = PALETTES[s.conditions.region];
  const { road } = s;
  const tod = s.conditions.timeOfDay;
  const [skyTop, skyHorizon] = SKY[tod];
  const skyTint = mix(skyTop, pal.sky, tod === 'day' ? 0.4 : 0.1);
  const snow = s.conditions.weather === 'snow';
  const roadRight = road.leftEdge + road.lanes * road.laneWidth;
  const urban = s.conditions.roadType === 'urban';
  const rural = s.conditions.roadType === 'rural';
  const highway = s.conditions.roadType === 'highway';
  const asphalt = snow ? mix(pal.asphalt, [0.85, 0.86, 0.9], 0.25) : pal.asphalt;
  const roadside = snow ? mix(pal.roadside, [0.92, 0.93, 0.96], 0.75) : pal.roadside;
  const hz = Math.floor(cy);
  for (let v = 0; v < H; v++) {
    if (v <= hz) {
      const t = v / hz;
      const c = mix(skyTint, skyHorizon, t * t);
      for (let u = 0; u < W; u++) canvas.put(u, v, c, 1e9, -1, tod === 'night');
      continue;
    }
    const z = (fy * CAM_H) / (v + 0.5 - cy);
    const zWorld = z + s.egoOdometer;
    for (let u = 0; u < W; u++) {
      const x = ((u + 0.5 - cx) * z) / fx;
      let c: RGB;
      if (x >= road.leftEdge && x <= roadRight) {
        // Asphalt with a coarse world-fixed texture.
        const cell = hashSeed(Math.floor(x * 2), Math.floor(zWorld * 1.5)) & 0xff;
        c = shade(asphalt, 0.94 + (cell / 255) * 0.12);
        const pixelWidth = z / fx;
        const lineHalf = Math.max(0.08, pixelWidth * 0.6);
        const dashOn = (zWorld % (pal.dash.on + pal.dash.off)) < pal.dash.on;
        // Edge lines (solid, not on rural roads), lane lines (dashed), centre line.
        if (!rural && (x - road.leftEdge < lineHalf * 2 || roadRight - x < lineHalf * 2)) c = pal.marking;
        for (let k = 1; k < road.lanes; k++) {
          const lx = road.leftEdge + k * road.laneWidth;
          const isCenter = k === road.oncomingBelow;
          if (isCenter) {
            const off = pal.doubleCenter ? 0.12 : 0;
            if (Math.abs(Math.abs(x - lx) - off) < lineHalf) c = pal.centerLine;
          } else if (!rural && dashOn && Math.abs(x - lx) < lineHalf) {
            c = pal.marking;
          }
        }
      } else {
        const d = x < road.leftEdge ? road.leftEdge - x : x - roadRight;
        if (urban && d < road.sidewalk) {
          const slab = (Math.floor(zWorld / 1.5) + Math.floor(d / 1.5)) & 1;
          c = shade(snow ? mix(pal.sidewalk, [0.92, 0.93, 0.96], 0.6) : pal.sidewalk, slab ? 1 : 0.93);
        } else if (highway && d < 0.6) {
          c = [0.55, 0.56, 0.58];
        } else {
          const cell = hashSeed(Math.floor(x), Math.floor(zWorld)) & 0xff;
          c = shade(roadside, 0.85 + (cell / 255) * 0.3);
        }
      }
      canvas.put(u, v, c, z, -1, false);
    }
  }
}

interface Light {
  u: number;
  v: number;
  radius: number;
  color: RGB;
  strength: number;
}

/** Draws one actor; returns what it drew and the lights it carries. */
function drawActor(a: Actor, index: number, canvas: Canvas, night: boolean, lights: Light[]): { stats: DrawStats; box: [number, number, number, number] } {
  const stats: DrawStats = { drawn: 0, u0: Infinity, v0: Infinity, u1: -Infinity, v1: -Infinity };
  const zn = a.z - a.l / 2;
  const zf = a.z + a.l / 2;
  const [uL, vTop] = project(a.x - a.w / 2, a.h, zn);
  const [uR, vBot] = project(a.x + a.w / 2, 0, zn);
  const [uLf, vTopF] = project(a.x - a.w / 2, a.h, zf);
  const [uRf, vBotF] = project(a.x + a.w / 2, 0, zf);
  const box: [number, number, number, number] = [Math.min(uL, uLf), Math.min(vTop, vTopF), Math.max(uR, uRf), Math.max(vBot, vBotF)];
  const hgt = vBot - vTop;
  const wid = uR - uL;
  if (a.cls === 'car') {
    const side = shade(a.color, 0.72);
    // The side we can see: left side when the car is right of us, right side when left.
    if (a.x - a.w / 2 > 0.2) canvas.trapezoid(uL, vTop + hgt * 0.35, vBot, uLf, vTopF + (vBotF - vTopF) * 0.35, vBotF, side, a.z, index, stats);
    else if (a.x + a.w / 2 < -0.2) canvas.trapezoid(uR, vTop + hgt * 0.35, vBot, uRf, vTopF + (vBotF - vTopF) * 0.35, vBotF, side, a.z, index, stats);
    // Body, cabin with its window, bumper, wheels.
    canvas.rect(uL, vTop + hgt * 0.42, uR, vBot - hgt * 0.08, a.color, zn, index, false, stats);
    canvas.rect(uL + wid * 0.12, vTop, uR - wid * 0.12, vTop + hgt * 0.44, shade(a.color, 0.9), zn, index, false, stats);
    canvas.rect(uL + wid * 0.18, vTop + hgt * 0.06, uR - wid * 0.18, vTop + hgt * 0.38, [0.12, 0.14, 0.18], zn, index, false, stats);
    canvas.rect(uL, vBot - hgt * 0.2, uR, vBot - hgt * 0.12, shade(a.color, 0.55), zn, index, false, stats);
    canvas.rect(uL + wid * 0.04, vBot - hgt * 0.1, uL + wid * 0.26, vBot, [0.05, 0.05, 0.05], zn, index, false, stats);
    canvas.rect(uR - wid * 0.26, vBot - hgt * 0.1, uR - wid * 0.04, vBot, [0.05, 0.05, 0.05], zn, index, false, stats);
    const lampV = vTop + hgt * 0.55;
    const lampH = Math.max(1, hgt * 0.09);
    const lamp: RGB = a.oncoming ? (night ? [1, 0.98, 0.85] : [0.9, 0.9, 0.85]) : night ? [1, 0.15, 0.1] : [0.75, 0.1, 0.08];
    canvas.rect(uL + wid * 0.03, lampV, uL + wid * 0.2, lampV + lampH, lamp, zn, index, night, stats);
    canvas.rect(uR - wid * 0.2, lampV, uR - wid * 0.03, lampV + lampH, lamp, zn, index, night, stats);
    if (night) {
      const r = Math.max(2, wid * (a.oncoming ? 0.35 : 0.18));
      lights.push({ u: uL + wid * 0.12, v: lampV, radius: r, color: lamp, strength: a.oncoming ? 0.9 : 0.5 });
      lights.push({ u: uR - wid * 0.12, v: lampV, radius: r, color: lamp, strength: a.oncoming ? 0.9 : 0.5 });
    }
  } else if (a.cls === 'pedestrian') {
    const skin: RGB = [0.78, 0.62, 0.5];
    canvas.rect(uL + wid * 0.28, vTop, uR - wid * 0.28, vTop + hgt * 0.13, skin, zn, index, false, stats);
    canvas.rect(uL + wid * 0.05, vTop + hgt * 0.13, uR - wid * 0.05, vTop + hgt * 0.52, a.color, zn, index, false, stats);
    canvas.rect(uL + wid * 0.12, vTop + hgt * 0.52, uL + wid * 0.46, vBot, a.accent, zn, index, false, stats);
    canvas.rect(uR - wid * 0.46, vTop + hgt * 0.52, uR - wid * 0.12, vBot, a.accent, zn, index, false, stats);
  } else {
    // Cyclist: the bike along z (wheels at both ends), the rider above it.
    const [uBackC, vBackC] = project(a.x, 0.34, zn + 0.3);
    const [uFrontC, vFrontC] = project(a.x, 0.34, zf - 0.3);
    const rBack = (fy * 0.34) / (zn + 0.3);
    const rFront = (fy * 0.34) / (zf - 0.3);
    canvas.disk(uFrontC, vFrontC, rFront, [0.08, 0.08, 0.08], zf, index, false, stats);
    canvas.trapezoid(uBackC - 1, vBackC - rBack * 0.9, vBackC - rBack * 0.6, uFrontC + 1, vFrontC - rFront * 0.9, vFrontC - rFront * 0.6, a.accent, a.z, index, stats);
    canvas.disk(uBackC, vBackC, rBack, [0.08, 0.08, 0.08], zn, index, false, stats);
    const skin: RGB = [0.78, 0.62, 0.5];
    canvas.rect(uL + wid * 0.3, vTop, uR - wid * 0.3, vTop + hgt * 0.13, [0.2, 0.2, 0.22], zn, index, false, stats);
    canvas.rect(uL + wid * 0.32, vTop + hgt * 0.1, uR - wid * 0.32, vTop + hgt * 0.16, skin, zn, index, false, stats);
    canvas.rect(uL + wid * 0.1, vTop + hgt * 0.16, uR - wid * 0.1, vTop + hgt * 0.52, a.color, zn, index, false, stats);
    canvas.rect(uL + wid * 0.2, vTop + hgt * 0.52, uR - wid * 0.2, vTop + hgt * 0.72, shade(a.color, 0.6), zn, index, false, stats);
    if (night) lights.push({ u: uBackC, v: vBackC - rBack, radius: Math.max(1.5, rBack * 0.6), color: [1, 0.1, 0.08], strength: 0.4 });
  }
  return { stats, box };
}

function drawProp(p: SceneState['props'][number], canvas: Canvas, night: boolean, lights: Light[]): void {
  if (p.z < 1) return;
  const [u0, vTop] = project(p.x - p.w / 2, p.h, p.z);
  const [u1, vBot] = project(p.x + p.w / 2, 0, p.z);
  if (p.kind === 'building') {
    canvas.rect(u0, vTop, u1, vBot, p.color, p.z, -1);
    // Windows: a grid, lit at night.
    const cols = Math.max(1, Math.floor(p.w / 3));
    const rows = Math.max(1, Math.floor(p.h / 3.2));
    const cw = (u1 - u0) / cols;
    const rh = (vBot - vTop) / rows;
    if (cw < 2 || rh < 2) return;
    for (let i = 0; i < cols; i++) {
      for (let j = 0; j < rows - 1; j++) {
        const lit = night && ((hashSeed(p.x, p.z, i, j) & 3) === 0);
        canvas.rect(u0 + cw * (i + 0.25), vTop + rh * (j + 0.25), u0 + cw * (i + 0.75), vTop + rh * (j + 0.7), lit ? [0.95, 0.85, 0.55] : shade(p.color, 0.45), p.z, -1, lit);
      }
    }
  } else if (p.kind === 'tree') {
    const [ut, vt] = project(p.x, p.h * 0.65, p.z);
    canvas.rect((u0 + u1) / 2 - (u1 - u0) * 0.08, vt, (u0 + u1) / 2 + (u1 - u0) * 0.08, vBot, [0.3, 0.2, 0.12], p.z, -1);
    canvas.disk(ut, vt, ((u1 - u0) / 2) * 1.1, p.color, p.z, -1);
  } else if (p.kind === 'post') {
    canvas.rect(u0, vTop, u1, vBot, p.color, p.z, -1);
  } else {
    canvas.rect(u0, vTop, u1, vBot, [0.3, 0.3, 0.32], p.z, -1);
    if (night) {
      canvas.disk((u0 + u1) / 2, vTop, Math.max(1, (u1 - u0) * 1.5), [1, 0.9, 0.6], p.z, -1, true);
      lights.push({ u: (u0 + u1) / 2, v: vTop, radius: Math.max(3, (u1 - u0) * 6), color: [1, 0.85, 0.55], strength: 0.5 });
    }
  }
}

/** The original renderFrame, unchanged. */
function baselineRenderFrame(s: SceneState): Frame {
  const n = W * H;
  const buf: Buffers = { r: new Float32Array(n), g: new Float32Array(n), b: new Float32Array(n), depth: new Float32Array(n), id: new Int16Array(n) };
  const tod = s.conditions.timeOfDay;
  const night = tod === 'night';
  const canvas = new Canvas(buf, AMBIENT[tod]);
  drawGround(s, canvas);

  // Everything that stands on the road, far to near.
  type Item = { z: number; draw: () => void };
  const items: Item[] = [];
  const lights: Light[] = [];
  const drawn: ({ stats: DrawStats; box: [number, number, number, number] } | undefined)[] = s.actors.map(() => undefined);
  s.props.forEach((p) => items.push({ z: p.z, draw: () => drawProp(p, canvas, night, lights) }));
  s.actors.forEach((a, i) => {
    if (a.z - a.l / 2 > 0.5) items.push({ z: a.z, draw: () => (drawn[i] = drawActor(a, i, canvas, night, lights)) });
  });
  items.sort((p, q) => q.z - p.z);
  for (const it of items) it.draw();

  // Ground truth from what was drawn and what remained visible.
  const visible = new Int32Array(s.actors.length);
  for (let i = 0; i < n; i++) if (buf.id[i] >= 0) visible[buf.id[i]]++;
  const objects: ObjectTruth[] = [];
  s.actors.forEach((a, i) => {
    const d = drawn[i];
    if (!d || d.stats.drawn === 0) return;
    const [bu0, bv0, bu1, bv1] = d.box;
    const fullArea = Math.max(1e-9, (bu1 - bu0) * (bv1 - bv0));
    const cu0 = clamp(bu0, 0, W);
    const cv0 = clamp(bv0, 0, H);
    const cu1 = clamp(bu1, 0, W);
    const cv1 = clamp(bv1, 0, H);
    if (cu1 - cu0 < 1 || cv1 - cv0 < 1) return;
    const truncation = 1 - ((cu1 - cu0) * (cv1 - cv0)) / fullArea;
    const occlusion = 1 - visible[i] / d.stats.drawn;
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const bbox: [number, number, number, number] = [r2(cu0), r2(cv0), r2(cu1 - cu0), r2(cv1 - cv0)];
    const distance = Math.sqrt(a.x * a.x + a.z * a.z);
    const fogHidden = s.conditions.weather === 'fog' && distance > 55;
    objects.push({
      trackId: a.trackId,
      cls: a.cls,
      bbox,
      area: visible[i],
      occlusion: r2(occlusion),
      truncation: r2(truncation),
      hard: occlusion > 0.7 || truncation > 0.6 || bbox[3] < 10 || visible[i] < 25 || fogHidden,
      position: [r2(a.x), r2(a.h / 2), r2(a.z)],
      velocity: [r2(a.vx), 0, r2(a.vz - s.egoSpeed)],
      distance: r2(distance),
    });
  });

  // Fog: contrast falls off with distance.
  const weather = s.conditions.weather;
  if (weather === 'fog' || weather === 'rain' || weather === 'snow') {
    const visibility = weather === 'fog' ? 35 : weather === 'snow' ? 90 : 120;
    const fogColor: RGB = night ? [0.08, 0.08, 0.1] : tod === 'dusk' ? [0.55, 0.48, 0.45] : [0.78, 0.8, 0.82];
    const fogLut = new Float32Array(256);
    for (let k = 0; k < 256; k++) fogLut[k] = 1 - dexp(-(k * 0.5) / visibility);
    for (let i = 0; i < n; i++) {
      const z = buf.depth[i];
      const t = z >= 127.5 ? 1 - dexp(-z / visibility) : fogLut[Math.floor(z * 2)];
      buf.r[i] += (fogColor[0] - buf.r[i]) * t;
      buf.g[i] += (fogColor[1] - buf.g[i]) * t;
      buf.b[i] += (fogColor[2] - buf.b[i]) * t;
    }
  }

  // Glare around lights (headlights, tail lights, street lamps) at night.
  for (const l of lights) {
    const rad = l.radius * (weather === 'fog' || weather === 'rain' ? 2.2 : 1.4);
    const a0 = Math.max(0, Math.floor(l.u - rad));
    const a1 = Math.min(W - 1, Math.ceil(l.u + rad));
    const b0 = Math.max(0, Math.floor(l.v - rad));
    const b1 = Math.min(H - 1, Math.ceil(l.v + rad));
    for (let v = b0; v <= b1; v++) {
      for (let u = a0; u <= a1; u++) {
        const du = (u + 0.5 - l.u) / rad;
        const dv = (v + 0.5 - l.v) / rad;
        const q = 1 - (du * du + dv * dv);
        if (q <= 0) continue;
        const i = v * W + u;
        const k = l.strength * q * q;
        buf.r[i] += l.color[0] * k;
        buf.g[i] += l.color[1] * k;
        buf.b[i] += l.color[2] * k;
      }
    }
  }

  const rng = new Rng(s.noiseSeed);
  if (weather === 'rain') {
    // Streaks: short, slanted, slightly bright lines; the scene a little darker.
    for (let i = 0; i < n; i++) {
      buf.r[i] *= 0.85;
      buf.g[i] *= 0.87;
      buf.b[i] *= 0.9;
    }
    const streaks = 220;
    for (let k = 0; k < streaks; k++) {
      const u = rng.uniform(0, W);
      const v = rng.uniform(-10, H);
      const len = rng.uniform(4, 10);
      for (let t = 0; t < len; t++) {
        const uu = Math.floor(u + t * 0.3);
        const vv = Math.floor(v + t);
        if (uu < 0 || uu >= W || vv < 0 || vv >= H) continue;
        const i = vv * W + uu;
        buf.r[i] += 0.12;
        buf.g[i] += 0.12;
        buf.b[i] += 0.14;
      }
    }
  } else if (weather === 'snow') {
    const flakes = 260;
    for (let k = 0; k < flakes; k++) {
      const u = Math.floor(rng.uniform(0, W));
      const v = Math.floor(rng.uniform(0, H));
      const big = rng.next() < 0.2;
      for (let dv = 0; dv <= (big ? 1 : 0); dv++) {
        for (let du = 0; du <= (big ? 1 : 0); du++) {
          if (u + du >= W || v + dv >= H) continue;
          const i = (v + dv) * W + u + du;
          buf.r[i] = buf.r[i] * 0.3 + 0.7 * 0.95;
          buf.g[i] = buf.g[i] * 0.3 + 0.7 * 0.95;
          buf.b[i] = buf.b[i] * 0.3 + 0.7 * 0.97;
        }
      }
    }
  }

  // Sensor noise (stronger in low light), then 8-bit quantisation.
  const sigma = NOISE[tod];
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const e = (rng.next() + rng.next() - 1) * sigma * 2.45;
    const r = clamp(buf.r[i] + e + (rng.next() - 0.5) * sigma, 0, 1);
    const g = clamp(buf.g[i] + e + (rng.next() - 0.5) * sigma, 0, 1);
    const b = clamp(buf.b[i] + e + (rng.next() - 0.5) * sigma, 0, 1);
    rgb[i * 3] = Math.round(r * 255);
    rgb[i * 3 + 1] = Math.round(g * 255);
    rgb[i * 3 + 2] = Math.round(b * 255);
  }
  return { width: W, height: H, rgb, objects };
}

main();
