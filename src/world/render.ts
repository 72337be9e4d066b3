/**
 * The renderer: a SceneState in, an RGB frame (320x192, 8-bit) and per-object ground truth
 * out. Flat-shaded and deterministic: the same state gives the same bytes on any machine (only
 * exact IEEE operations and src/world/detmath.ts; test/world/world.test.ts checks hashes).
 *
 * Painter's algorithm, far to near, into colour, depth and object-id buffers; then fog by
 * depth, light glare, rain streaks or snow flakes, and sensor noise by time of day.
 *
 * Written for speed (bench/render.ts: it keeps the straightforward original as its baseline and
 * checks the bytes of both over thousands of frames): every float32 store and every double
 * operation that decides a byte is the original's, in its order; what changed is where the work
 * happens (colours per primitive and per texture cell, not per pixel; fog and rain's darkening
 * folded into the noise pass; the PRNG and Math.round inlined; buffers reused).
 */
import { CAMERA, PALETTES, type Actor, type ObjectTruth, type RGB, type SceneState } from './scene.js';
import { clamp, dexp, hashSeed, hashSeed2 } from './detmath.js';

const W = CAMERA.width;
const H = CAMERA.height;
const { fx, fy, cx, cy } = CAMERA;
const CAM_H = CAMERA.mountHeight;

export interface Frame {
  width: number;
  height: number;
  /** Interleaved RGB, row-major, 8 bits per channel. */
  rgb: Uint8Array;
  objects: ObjectTruth[];
}

/**
 * Scratch planes, reused from frame to frame (renderFrame is synchronous, so one set per thread
 * is enough; worker threads each have their own module instance). Colour is interleaved RGB in
 * float32, as the output is; every pixel is written by drawGround before anything reads it.
 */
const N = W * H;
const COL = new Float32Array(N * 3);
const DEPTH = new Float32Array(N);
const ID = new Int16Array(N);
/** u + 0.5 - cx for each column, the same doubles the per-pixel expression gives. */
const U_OFF = new Float64Array(W);
for (let u = 0; u < W; u++) U_OFF[u] = u + 0.5 - cx;

interface DrawStats {
  drawn: number;
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

/**
 * Draws into the scratch planes. Each primitive works out its (float32-rounded) colour once:
 * c * ambient, or c itself when emissive, exactly the products the per-pixel write made.
 * The object's pixel count counts each pixel once (its own parts overdraw each other).
 */
class Canvas {
  /** The range of pixel indices [idLo, idHi) that actors (id >= 0) may have drawn into. */
  idLo = N;
  idHi = 0;
  constructor(readonly ambient: RGB) {}

  private touched(id: number, rowTop: number, rowBot: number): void {
    if (id < 0) return;
    if (rowTop * W < this.idLo) this.idLo = rowTop * W;
    if ((rowBot + 1) * W > this.idHi) this.idHi = (rowBot + 1) * W;
  }

  /** Fills [u0, u1) x [v0, v1) (pixel edges, clipped). */
  rect(u0: number, v0: number, u1: number, v1: number, c: RGB, z: number, id: number, emissive = false, stats?: DrawStats): void {
    const a = Math.max(0, Math.round(u0));
    const b = Math.min(W, Math.round(u1));
    const top = Math.max(0, Math.round(v0));
    const bot = Math.min(H, Math.round(v1));
    if (a >= b || top >= bot) return;
    this.touched(id, top, bot - 1);
    const amb = this.ambient;
    const cr = emissive ? c[0] : c[0] * amb[0];
    const cg = emissive ? c[1] : c[1] * amb[1];
    const cb = emissive ? c[2] : c[2] * amb[2];
    const col = COL;
    const ids = ID;
    let drawn = 0;
    for (let v = top; v < bot; v++) {
      const row = v * W;
      for (let i = row + a, end = row + b; i < end; i++) {
        if (ids[i] !== id) drawn++;
        const j = i * 3;
        col[j] = cr;
        col[j + 1] = cg;
        col[j + 2] = cb;
        ids[i] = id;
      }
      DEPTH.fill(z, row + a, row + b);
    }
    if (stats) stats.drawn += drawn;
  }

  /** A quadrilateral with vertical left and right edges: column-wise spans interpolated. */
  trapezoid(uA: number, topA: number, botA: number, uB: number, topB: number, botB: number, c: RGB, z: number, id: number, stats?: DrawStats): void {
    const lo = Math.min(uA, uB);
    const hi = Math.max(uA, uB);
    const a = Math.max(0, Math.round(lo));
    const b = Math.min(W, Math.round(hi));
    const span = hi - lo || 1;
    if (a < b) this.touched(id, 0, H - 1);
    const amb = this.ambient;
    const cr = c[0] * amb[0];
    const cg = c[1] * amb[1];
    const cb = c[2] * amb[2];
    const col = COL;
    const ids = ID;
    const depth = DEPTH;
    let drawn = 0;
    for (let u = a; u < b; u++) {
      const t = clamp((u + 0.5 - uA) / (uB - uA || span), 0, 1);
      const top = Math.max(0, Math.round(topA + (topB - topA) * t));
      const bot = Math.min(H, Math.round(botA + (botB - botA) * t));
      for (let v = top; v < bot; v++) {
        const i = v * W + u;
        if (ids[i] !== id) drawn++;
        const j = i * 3;
        col[j] = cr;
        col[j + 1] = cg;
        col[j + 2] = cb;
        depth[i] = z;
        ids[i] = id;
      }
    }
    if (stats) stats.drawn += drawn;
  }

  disk(uc: number, vc: number, radius: number, c: RGB, z: number, id: number, emissive = false, stats?: DrawStats): void {
    const r2 = radius * radius;
    const a = Math.max(0, Math.floor(uc - radius));
    const b = Math.min(W - 1, Math.ceil(uc + radius));
    const top = Math.max(0, Math.floor(vc - radius));
    const bot = Math.min(H - 1, Math.ceil(vc + radius));
    if (top <= bot) this.touched(id, top, bot);
    const amb = this.ambient;
    const cr = emissive ? c[0] : c[0] * amb[0];
    const cg = emissive ? c[1] : c[1] * amb[1];
    const cb = emissive ? c[2] : c[2] * amb[2];
    const col = COL;
    const ids = ID;
    const depth = DEPTH;
    let drawn = 0;
    for (let v = top; v <= bot; v++) {
      const dv = v + 0.5 - vc;
      for (let u = a; u <= b; u++) {
        const du = u + 0.5 - uc;
        if (du * du + dv * dv <= r2) {
          const i = v * W + u;
          if (ids[i] !== id) drawn++;
          const j = i * 3;
          col[j] = cr;
          col[j + 1] = cg;
          col[j + 2] = cb;
          depth[i] = z;
          ids[i] = id;
        }
      }
    }
    if (stats) stats.drawn += drawn;
  }
}

const project = (x: number, y: number, z: number): [number, number] => [cx + (fx * x) / z, cy + (fy * (CAM_H - y)) / z];

/** A 256-entry table of a texture's float32 colours: shade(c, base + (cell / 255) * range) * ambient. */
function cellLut(c: RGB, base: number, range: number, amb: RGB): Float32Array {
  const lut = new Float32Array(256 * 3);
  for (let cell = 0; cell < 256; cell++) {
    const s = shade(c, base + (cell / 255) * range);
    lut[cell * 3] = s[0] * amb[0];
    lut[cell * 3 + 1] = s[1] * amb[1];
    lut[cell * 3 + 2] = s[2] * amb[2];
  }
  return lut;
}

/** Sky, road, markings and roadside, with a world-fixed texture that scrolls with the ego. */
function drawGround(s: SceneState, canvas: Canvas): void {
  const pal = PALETTES[s.conditions.region];
  const { road } = s;
  const tod = s.conditions.timeOfDay;
  const amb = canvas.ambient;
  const [skyTop, skyHorizon] = SKY[tod];
  const skyTint = mix(skyTop, pal.sky, tod === 'day' ? 0.4 : 0.1);
  const snow = s.conditions.weather === 'snow';
  const leftEdge = road.leftEdge;
  const roadRight = road.leftEdge + road.lanes * road.laneWidth;
  const lanes = road.lanes;
  const laneWidth = road.laneWidth;
  const oncomingBelow = road.oncomingBelow;
  const sidewalkW = road.sidewalk;
  const urban = s.conditions.roadType === 'urban';
  const rural = s.conditions.roadType === 'rural';
  const highway = s.conditions.roadType === 'highway';
  const asphalt = snow ? mix(pal.asphalt, [0.85, 0.86, 0.9], 0.25) : pal.asphalt;
  const roadside = snow ? mix(pal.roadside, [0.92, 0.93, 0.96], 0.75) : pal.roadside;
  const sidewalk = snow ? mix(pal.sidewalk, [0.92, 0.93, 0.96], 0.6) : pal.sidewalk;
  // The float32 colours every pixel can take, worked out once with the per-pixel products.
  const asphaltLut = cellLut(asphalt, 0.94, 0.12, amb);
  const roadsideLut = cellLut(roadside, 0.85, 0.3, amb);
  const slab1 = shade(sidewalk, 1);
  const slab0 = shade(sidewalk, 0.93);
  const lit = (c: RGB) => new Float32Array([c[0] * amb[0], c[1] * amb[1], c[2] * amb[2]]);
  const sideLit = [lit(slab0), lit(slab1)];
  const shoulder = lit([0.55, 0.56, 0.58]);
  const marking = lit(pal.marking);
  const centerLine = lit(pal.centerLine);
  const dashPeriod = pal.dash.on + pal.dash.off;
  const dashLen = pal.dash.on;
  const centerOff = pal.doubleCenter ? 0.12 : 0;
  const col = COL;
  const night = tod === 'night';
  const hz = Math.floor(cy);
  for (let v = 0; v < H; v++) {
    const row = v * W;
    if (v <= hz) {
      const t = v / hz;
      const c = mix(skyTint, skyHorizon, t * t);
      const r = night ? c[0] : c[0] * amb[0];
      const g = night ? c[1] : c[1] * amb[1];
      const b = night ? c[2] : c[2] * amb[2];
      for (let j = row * 3, end = (row + W) * 3; j < end; j += 3) {
        col[j] = r;
        col[j + 1] = g;
        col[j + 2] = b;
      }
      DEPTH.fill(1e9, row, row + W);
      continue;
    }
    const z = (fy * CAM_H) / (v + 0.5 - cy);
    const zWorld = z + s.egoOdometer;
    const pixelWidth = z / fx;
    const lineHalf = Math.max(0.08, pixelWidth * 0.6);
    const dashOn = (zWorld % dashPeriod) < dashLen;
    const asphaltRow = Math.floor(zWorld * 1.5);
    const roadsideRow = Math.floor(zWorld);
    const slabRow = Math.floor(zWorld / 1.5);
    // Neighbouring pixels mostly share a texture cell: remember the last one of each kind.
    let lastA = NaN;
    let cellA = 0;
    let lastR = NaN;
    let cellR = 0;
    for (let u = 0; u < W; u++) {
      const x = (U_OFF[u] * z) / fx;
      const j = (row + u) * 3;
      let lut: Float32Array;
      let k3: number;
      if (x >= leftEdge && x <= roadRight) {
        // Asphalt with a coarse world-fixed texture.
        const key = Math.floor(x * 2);
        if (key !== lastA) {
          lastA = key;
          cellA = hashSeed2(key, asphaltRow) & 0xff;
        }
        lut = asphaltLut;
        k3 = cellA * 3;
        // Edge lines (solid, not on rural roads), lane lines (dashed), centre line.
        if (!rural && (x - leftEdge < lineHalf * 2 || roadRight - x < lineHalf * 2)) {
          lut = marking;
          k3 = 0;
        }
        for (let k = 1; k < lanes; k++) {
          const lx = leftEdge + k * laneWidth;
          if (k === oncomingBelow) {
            if (Math.abs(Math.abs(x - lx) - centerOff) < lineHalf) {
              lut = centerLine;
              k3 = 0;
            }
          } else if (!rural && dashOn && Math.abs(x - lx) < lineHalf) {
            lut = marking;
            k3 = 0;
          }
        }
      } else {
        const d = x < leftEdge ? leftEdge - x : x - roadRight;
        if (urban && d < sidewalkW) {
          lut = sideLit[(slabRow + Math.floor(d / 1.5)) & 1];
          k3 = 0;
        } else if (highway && d < 0.6) {
          lut = shoulder;
          k3 = 0;
        } else {
          const key = Math.floor(x);
          if (key !== lastR) {
            lastR = key;
            cellR = hashSeed2(key, roadsideRow) & 0xff;
          }
          lut = roadsideLut;
          k3 = cellR * 3;
        }
      }
      col[j] = lut[k3];
      col[j + 1] = lut[k3 + 1];
      col[j + 2] = lut[k3 + 2];
    }
    DEPTH.fill(z, row, row + W);
  }
  ID.fill(-1);
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
  const stats: DrawStats = { drawn: 0 };
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

/** Fog's 1 - e^(-z / visibility) at z = k / 2 for k < 256, by visibility (the same float32 table each frame). */
const fogLuts = new Map<number, Float32Array>();
function fogLut(visibility: number): Float32Array {
  let lut = fogLuts.get(visibility);
  if (!lut) {
    lut = new Float32Array(256);
    for (let k = 0; k < 256; k++) lut[k] = 1 - dexp(-(k * 0.5) / visibility);
    fogLuts.set(visibility, lut);
  }
  return lut;
}

/**
 * Fog by depth and rain's darkening are deferred into the noise pass, which does them pixel by
 * pixel with the original's arithmetic (each result stored to float32 as the planes stored it).
 * The sparse passes that come between them in the original (glare, rain streaks, snow flakes)
 * first bring each pixel they touch up to date ("settle"), and STAGE remembers how far a pixel
 * is: 0 nothing yet, 1 fogged, 2 fogged and (for rain) darkened. The noise pass finishes each
 * pixel from its stage and sets it back to 0, so STAGE is all 0 between frames.
 */
const STAGE = new Uint8Array(N);

interface FogPass {
  visibility: number;
  /** 1 - e^(-z / visibility) at z = k / 2 (float32), for z < 127.5. */
  lut: Float32Array;
  color: RGB;
  /** Rain: the scene darkened after fog and glare. */
  darken: boolean;
}

/** Fog's t at depth z: the table below 127.5 m, dexp beyond (a double, as the original). */
function fogT(f: FogPass, z: number): number {
  return z >= 127.5 ? 1 - dexp(-z / f.visibility) : f.lut[Math.floor(z * 2)];
}

/** Brings pixel i to `stage` (1: fogged, for glare; 2: also darkened, for streaks and flakes). */
function settle(f: FogPass, i: number, stage: 1 | 2): void {
  const col = COL;
  const j = i * 3;
  let at = STAGE[i];
  if (at === 0) {
    const t = fogT(f, DEPTH[i]);
    col[j] += (f.color[0] - col[j]) * t;
    col[j + 1] += (f.color[1] - col[j + 1]) * t;
    col[j + 2] += (f.color[2] - col[j + 2]) * t;
    at = 1;
  }
  if (stage === 2 && at === 1) {
    if (f.darken) {
      col[j] *= 0.85;
      col[j + 1] *= 0.87;
      col[j + 2] *= 0.9;
    }
    at = 2;
  }
  STAGE[i] = at;
}

/**
 * The deferred fog and darkening (when `fog` is given), then sensor noise and 8-bit
 * quantisation: five draws of mulberry32 a pixel (state `st`, int32), in the original's order:
 * two for the shared grain, one per channel.
 */
function addNoise(col: Float32Array, rgb: Uint8Array, st: number, sigma: number, fog: FogPass | null): void {
  const n = N;
  const depth = DEPTH;
  const stage = STAGE;
  const fogOn = fog !== null;
  const darken = fog !== null && fog.darken;
  const visibility = fog ? fog.visibility : 1;
  const lut = fog ? fog.lut : new Float32Array(256);
  const fr = fog ? fog.color[0] : 0;
  const fg = fog ? fog.color[1] : 0;
  const fb = fog ? fog.color[2] : 0;
  // Rows share a depth: remember the last far one (the only ones that need dexp).
  let lastZ = NaN;
  let lastT = 0;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    let cr = col[j];
    let cg = col[j + 1];
    let cb = col[j + 2];
    if (fogOn) {
      const at = stage[i];
      if (at === 0) {
        const z = depth[i];
        let ft: number;
        if (z >= 127.5) {
          if (z !== lastZ) {
            lastZ = z;
            lastT = 1 - dexp(-z / visibility);
          }
          ft = lastT;
        } else ft = lut[Math.floor(z * 2)];
        cr = Math.fround(cr + (fr - cr) * ft);
        cg = Math.fround(cg + (fg - cg) * ft);
        cb = Math.fround(cb + (fb - cb) * ft);
        if (darken) {
          cr = Math.fround(cr * 0.85);
          cg = Math.fround(cg * 0.87);
          cb = Math.fround(cb * 0.9);
        }
      } else {
        if (at === 1 && darken) {
          cr = Math.fround(cr * 0.85);
          cg = Math.fround(cg * 0.87);
          cb = Math.fround(cb * 0.9);
        }
        stage[i] = 0;
      }
    }
    let t: number;
    st = (st + 0x6d2b79f5) | 0;
    t = Math.imul(st ^ (st >>> 15), st | 1);
    t ^= (t + Math.imul(t ^ (t >>> 7), t | 61)) | 0;
    const n1 = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    st = (st + 0x6d2b79f5) | 0;
    t = Math.imul(st ^ (st >>> 15), st | 1);
    t ^= (t + Math.imul(t ^ (t >>> 7), t | 61)) | 0;
    const n2 = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    const e = (n1 + n2 - 1) * sigma * 2.45;
    st = (st + 0x6d2b79f5) | 0;
    t = Math.imul(st ^ (st >>> 15), st | 1);
    t ^= (t + Math.imul(t ^ (t >>> 7), t | 61)) | 0;
    const r = cr + e + ((((t ^ (t >>> 14)) >>> 0) / 4294967296) - 0.5) * sigma;
    st = (st + 0x6d2b79f5) | 0;
    t = Math.imul(st ^ (st >>> 15), st | 1);
    t ^= (t + Math.imul(t ^ (t >>> 7), t | 61)) | 0;
    const g = cg + e + ((((t ^ (t >>> 14)) >>> 0) / 4294967296) - 0.5) * sigma;
    st = (st + 0x6d2b79f5) | 0;
    t = Math.imul(st ^ (st >>> 15), st | 1);
    t ^= (t + Math.imul(t ^ (t >>> 7), t | 61)) | 0;
    const b = cb + e + ((((t ^ (t >>> 14)) >>> 0) / 4294967296) - 0.5) * sigma;
    // Math.round(x) for x in [0, 255] (or NaN, stored as 0 either way): floor(x + 0.5), less
    // one where x + 0.5 rounded up to the next integer (x just under a half).
    const xr = (r < 0 ? 0 : r > 1 ? 1 : r) * 255;
    const xg = (g < 0 ? 0 : g > 1 ? 1 : g) * 255;
    const xb = (b < 0 ? 0 : b > 1 ? 1 : b) * 255;
    let kr = (xr + 0.5) | 0;
    let kg = (xg + 0.5) | 0;
    let kb = (xb + 0.5) | 0;
    if (xr < kr - 0.5) kr--;
    if (xg < kg - 0.5) kg--;
    if (xb < kb - 0.5) kb--;
    rgb[j] = kr;
    rgb[j + 1] = kg;
    rgb[j + 2] = kb;
  }
}

/**
 * Renders a scene to 8-bit RGB with its objects' ground truth.
 *
 * The passes after drawing keep the original's arithmetic, operation for operation, with every
 * intermediate stored to float32 where the planes stored it; bench/render.ts checks the bytes
 * against the original renderer over thousands of frames. The noise source is src/files/prng.ts's
 * mulberry32 seeded with s.noiseSeed, inlined (the same draws in the same order).
 */
export function renderFrame(s: SceneState): Frame {
  const n = N;
  const col = COL;
  const ids = ID;
  const tod = s.conditions.timeOfDay;
  const night = tod === 'night';
  const canvas = new Canvas(AMBIENT[tod]);
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
  for (let i = canvas.idLo, end = canvas.idHi; i < end; i++) if (ids[i] >= 0) visible[ids[i]]++;
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

  const weather = s.conditions.weather;
  const rain = weather === 'rain';
  // Fog: contrast falls off with distance (deferred to the noise pass, see STAGE).
  let fog: FogPass | null = null;
  if (weather === 'fog' || rain || weather === 'snow') {
    const visibility = weather === 'fog' ? 35 : weather === 'snow' ? 90 : 120;
    const color: RGB = night ? [0.08, 0.08, 0.1] : tod === 'dusk' ? [0.55, 0.48, 0.45] : [0.78, 0.8, 0.82];
    fog = { visibility, lut: fogLut(visibility), color, darken: rain };
  }

  // Glare around lights (headlights, tail lights, street lamps) at night.
  for (const l of lights) {
    const rad = l.radius * (weather === 'fog' || rain ? 2.2 : 1.4);
    const a0 = Math.max(0, Math.floor(l.u - rad));
    const a1 = Math.min(W - 1, Math.ceil(l.u + rad));
    const b0 = Math.max(0, Math.floor(l.v - rad));
    const b1 = Math.min(H - 1, Math.ceil(l.v + rad));
    const [lr, lg, lb] = l.color;
    const strength = l.strength;
    for (let v = b0; v <= b1; v++) {
      const dv = (v + 0.5 - l.v) / rad;
      for (let u = a0; u <= a1; u++) {
        const du = (u + 0.5 - l.u) / rad;
        const q = 1 - (du * du + dv * dv);
        if (q <= 0) continue;
        const i = v * W + u;
        if (fog) settle(fog, i, 1);
        const j = i * 3;
        const k = strength * q * q;
        col[j] += lr * k;
        col[j + 1] += lg * k;
        col[j + 2] += lb * k;
      }
    }
  }

  // mulberry32 (src/files/prng.ts), inlined: `a` is its state, int32 here (the same bits).
  let a = s.noiseSeed | 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= (t + Math.imul(t ^ (t >>> 7), t | 61)) | 0;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  if (rain) {
    // Streaks: short, slanted, slightly bright lines; the scene a little darker (deferred).
    const streaks = 220;
    for (let k = 0; k < streaks; k++) {
      const u = 0 + (W - 0) * next();
      const v = -10 + (H - -10) * next();
      const len = 4 + (10 - 4) * next();
      for (let t = 0; t < len; t++) {
        const uu = Math.floor(u + t * 0.3);
        const vv = Math.floor(v + t);
        if (uu < 0 || uu >= W || vv < 0 || vv >= H) continue;
        const i = vv * W + uu;
        settle(fog!, i, 2);
        const j = i * 3;
        col[j] += 0.12;
        col[j + 1] += 0.12;
        col[j + 2] += 0.14;
      }
    }
  } else if (weather === 'snow') {
    const flakes = 260;
    for (let k = 0; k < flakes; k++) {
      const u = Math.floor(0 + (W - 0) * next());
      const v = Math.floor(0 + (H - 0) * next());
      const big = next() < 0.2;
      for (let dv = 0; dv <= (big ? 1 : 0); dv++) {
        for (let du = 0; du <= (big ? 1 : 0); du++) {
          if (u + du >= W || v + dv >= H) continue;
          const i = (v + dv) * W + u + du;
          settle(fog!, i, 2);
          const j = i * 3;
          col[j] = col[j] * 0.3 + 0.7 * 0.95;
          col[j + 1] = col[j + 1] * 0.3 + 0.7 * 0.95;
          col[j + 2] = col[j + 2] * 0.3 + 0.7 * 0.97;
        }
      }
    }
  }

  // Sensor noise (stronger in low light), then 8-bit quantisation.
  const rgb = new Uint8Array(n * 3);
  addNoise(col, rgb, a, NOISE[tod], fog);
  return { width: W, height: H, rgb, objects };
}
