/**
 * Undistortion per calibration, as ROS's image_proc rectifies (cv::initUndistortRectifyMap then
 * cv::remap, INTER_LINEAR, a constant 0 border): every pixel of the rectified camera P is traced
 * back through R to a ray, the ray is distorted by the lens model (plumb_bob: OpenCV's k1, k2,
 * p1, p2, k3; rational_polynomial: k1, k2, p1, p2, k3, k4, k5, k6), projected by K, and the raw
 * image is sampled there bilinearly. OpenCV's equations (calib3d/src/undistort.dispatch.cpp):
 *
 *   [X Y W]^T = (P[:, :3] R)^-1 [u v 1]^T,  x = X/W, y = Y/W,  r2 = x^2 + y^2
 *   k  = (1 + k1 r2 + k2 r2^2 + k3 r2^3) / (1 + k4 r2 + k5 r2^2 + k6 r2^3)
 *   xd = x k + 2 p1 x y + p2 (r2 + 2 x^2),  yd = y k + p1 (r2 + 2 y^2) + 2 p2 x y
 *   u_raw = fx xd + cx,  v_raw = fy yd + cy      (K's skew is ignored, as OpenCV's map does)
 *
 * One remap table per calibration (cached by its size, model, D, K, R and P), so a drive pays
 * for one. `distortImage` is the inverse, for making test bundles: each raw pixel is undistorted
 * by iterating the model (as cv::undistortPoints does, to convergence) and the rectified image
 * sampled there. Bilinear weights are float here; OpenCV rounds them to 1/32 px, so the two
 * differ by at most a grey level or so, never in geometry.
 */
import type { CameraCalibration } from './types.js';

/** Where each rectified pixel reads the raw image: source x and y per pixel, row-major. */
export interface RemapTable {
  width: number;
  height: number;
  mapX: Float32Array;
  mapY: Float32Array;
}

interface Lens {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  /** k1, k2, p1, p2, k3, k4, k5, k6 (zeros where the model has fewer). */
  d: number[];
}

const MODELS: Record<string, number> = { plumb_bob: 5, rational_polynomial: 8 };
const CACHE_LIMIT = 8;
const cache = new Map<string, RemapTable>();

function fail(cal: CameraCalibration, what: string): never {
  throw new Error(`calibration of '${cal.frameId}': ${what}`);
}

/** Checks the parts the mapping uses and returns the lens. */
function lensOf(cal: CameraCalibration): Lens {
  const n = MODELS[cal.distortionModel];
  if (n === undefined) fail(cal, `distortion model '${cal.distortionModel}' is not one of ${Object.keys(MODELS).join(', ')}`);
  if (!Number.isInteger(cal.width) || !Number.isInteger(cal.height) || cal.width <= 0 || cal.height <= 0) fail(cal, `size ${cal.width}x${cal.height} is not two positive integers`);
  if (cal.D.length !== 0 && cal.D.length !== n && !(cal.distortionModel === 'plumb_bob' && cal.D.length === 4)) fail(cal, `D has ${cal.D.length} coefficients; ${cal.distortionModel} takes ${n}`);
  for (const [name, arr, len] of [['D', cal.D, cal.D.length], ['K', cal.K, 9], ['R', cal.R, 9], ['P', cal.P, 12]] as const) {
    if (arr.length !== len) fail(cal, `${name} has ${arr.length} entries, not ${len}`);
    const bad = arr.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(cal, `${name}[${bad}] = ${arr[bad]} is not finite`);
  }
  if (!(cal.K[0] > 0 && cal.K[4] > 0)) fail(cal, `K's focal lengths fx = ${cal.K[0]}, fy = ${cal.K[4]} are not positive`);
  const d = [...cal.D, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8);
  return { fx: cal.K[0], fy: cal.K[4], cx: cal.K[2], cy: cal.K[5], d };
}

/** True when D is all zeros (or empty): rectifying then changes nothing but R and P, and a caller with R = I and P = K skips it. */
export function isPinhole(cal: CameraCalibration): boolean {
  return cal.D.every((v) => v === 0);
}

/** The 3 x 3 inverse of a row-major matrix (by cofactors), with `what` naming it if singular. */
function inverse3(m: number[], what: string): number[] {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!(Math.abs(det) > 0)) throw new Error(`${what} is singular (determinant ${det})`);
  return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det];
}

/** P[:, :3] R, row-major 3 x 3. */
function newCameraTimesR(cal: CameraCalibration): number[] {
  const p = [cal.P[0], cal.P[1], cal.P[2], cal.P[4], cal.P[5], cal.P[6], cal.P[8], cal.P[9], cal.P[10]];
  const out = new Array<number>(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out[r * 3 + c] = p[r * 3] * cal.R[c] + p[r * 3 + 1] * cal.R[3 + c] + p[r * 3 + 2] * cal.R[6 + c];
  return out;
}

/** The lens model on normalized coordinates: the distorted (xd, yd) of an ideal (x, y). */
function distortNormalized(lens: Lens, x: number, y: number): [number, number] {
  const [k1, k2, p1, p2, k3, k4, k5, k6] = lens.d;
  const x2 = x * x;
  const y2 = y * y;
  const r2 = x2 + y2;
  const xy2 = 2 * x * y;
  const kr = (1 + ((k3 * r2 + k2) * r2 + k1) * r2) / (1 + ((k6 * r2 + k5) * r2 + k4) * r2);
  return [x * kr + p1 * xy2 + p2 * (r2 + 2 * x2), y * kr + p1 * (r2 + 2 * y2) + p2 * xy2];
}

/** The raw-image point (px) a rectified pixel (u, v) of camera P sees: OpenCV's map, in float64. */
export function rectifiedToRaw(cal: CameraCalibration, u: number, v: number): [number, number] {
  const lens = lensOf(cal);
  return rectifiedToRawWith(lens, inverse3(newCameraTimesR(cal), `calibration of '${cal.frameId}': P[:, :3] R`), u, v);
}

function rectifiedToRawWith(lens: Lens, ir: number[], u: number, v: number): [number, number] {
  const X = ir[0] * u + ir[1] * v + ir[2];
  const Y = ir[3] * u + ir[4] * v + ir[5];
  const W = ir[6] * u + ir[7] * v + ir[8];
  const [xd, yd] = distortNormalized(lens, X / W, Y / W);
  return [lens.fx * xd + lens.cx, lens.fy * yd + lens.cy];
}

/** Newton steps at most per point in `rawToRectified`; the fixed point of cv::undistortPoints takes its 5 by default. */
const INVERSE_ITERATIONS = 50;
const INVERSE_TOLERANCE = 1e-14;

/**
 * The rectified pixel of camera P that sees raw point (u, v): the lens model inverted by Newton's
 * method with its analytic Jacobian (from the undistorted guess x = xd, as cv::undistortPoints
 * starts), then R and P. Returns NaNs where it does not converge (far outside the lens's valid field).
 */
export function rawToRectified(cal: CameraCalibration, u: number, v: number): [number, number] {
  const lens = lensOf(cal);
  return rawToRectifiedWith(lens, cal, u, v);
}

function rawToRectifiedWith(lens: Lens, cal: CameraCalibration, u: number, v: number): [number, number] {
  const xd = (u - lens.cx) / lens.fx;
  const yd = (v - lens.cy) / lens.fy;
  const [k1, k2, p1, p2, k3, k4, k5, k6] = lens.d;
  let x = xd;
  let y = yd;
  let converged = false;
  for (let it = 0; it < INVERSE_ITERATIONS; it++) {
    const [fx, fy] = distortNormalized(lens, x, y);
    const ex = fx - xd;
    const ey = fy - yd;
    if (Math.abs(ex) < INVERSE_TOLERANCE && Math.abs(ey) < INVERSE_TOLERANCE) {
      converged = true;
      break;
    }
    // Jacobian of distortNormalized: kr = n / m with n, m polynomials in r2.
    const r2 = x * x + y * y;
    const n = 1 + ((k3 * r2 + k2) * r2 + k1) * r2;
    const m = 1 + ((k6 * r2 + k5) * r2 + k4) * r2;
    const dn = (3 * k3 * r2 + 2 * k2) * r2 + k1;
    const dm = (3 * k6 * r2 + 2 * k5) * r2 + k4;
    const kr = n / m;
    const dkr = (dn * m - n * dm) / (m * m);
    const j00 = kr + 2 * x * x * dkr + 2 * p1 * y + 6 * p2 * x;
    const j01 = 2 * x * y * dkr + 2 * p1 * x + 2 * p2 * y;
    const j10 = 2 * x * y * dkr + 2 * p1 * x + 2 * p2 * y;
    const j11 = kr + 2 * y * y * dkr + 6 * p1 * y + 2 * p2 * x;
    const det = j00 * j11 - j01 * j10;
    if (!(Math.abs(det) > 1e-12)) break;
    x -= (j11 * ex - j01 * ey) / det;
    y -= (-j10 * ex + j00 * ey) / det;
  }
  if (!converged) return [NaN, NaN];
  const R = cal.R;
  const P = cal.P;
  const X = R[0] * x + R[1] * y + R[2];
  const Y = R[3] * x + R[4] * y + R[5];
  const Z = R[6] * x + R[7] * y + R[8];
  const w = P[8] * X + P[9] * Y + P[10] * Z + P[11];
  return [(P[0] * X + P[1] * Y + P[2] * Z + P[3]) / w, (P[4] * X + P[5] * Y + P[6] * Z + P[7]) / w];
}

function cacheKey(cal: CameraCalibration, direction: string): string {
  return JSON.stringify([direction, cal.width, cal.height, cal.distortionModel, cal.D, cal.K, cal.R, cal.P]);
}

function remember(key: string, table: RemapTable): RemapTable {
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, table);
  return table;
}

/** The rectifying remap table of `cal` (cached): for each pixel of the rectified image, where to read the raw one. */
export function undistortMap(cal: CameraCalibration): RemapTable {
  const key = cacheKey(cal, 'undistort');
  const hit = cache.get(key);
  if (hit) return hit;
  const lens = lensOf(cal);
  const ir = inverse3(newCameraTimesR(cal), `calibration of '${cal.frameId}': P[:, :3] R`);
  const { width, height } = cal;
  const mapX = new Float32Array(width * height);
  const mapY = new Float32Array(width * height);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const [sx, sy] = rectifiedToRawWith(lens, ir, u, v);
      mapX[v * width + u] = sx;
      mapY[v * width + u] = sy;
    }
  }
  return remember(key, { width, height, mapX, mapY });
}

/** The distorting remap table of `cal` (cached): for each raw pixel, where to read the rectified image. */
export function distortMap(cal: CameraCalibration): RemapTable {
  const key = cacheKey(cal, 'distort');
  const hit = cache.get(key);
  if (hit) return hit;
  const lens = lensOf(cal);
  const { width, height } = cal;
  const mapX = new Float32Array(width * height);
  const mapY = new Float32Array(width * height);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const [sx, sy] = rawToRectifiedWith(lens, cal, u, v);
      mapX[v * width + u] = sx;
      mapY[v * width + u] = sy;
    }
  }
  return remember(key, { width, height, mapX, mapY });
}

/**
 * Samples an RGB8 image through a remap table, bilinearly; neighbours outside the image count as
 * black (cv::remap's BORDER_CONSTANT 0), a NaN entry gives black.
 */
export function remapRgb(rgb: Uint8Array, table: RemapTable): Uint8Array {
  const { width, height, mapX, mapY } = table;
  const out = new Uint8Array(width * height * 3);
  const row = width * 3;
  for (let i = 0, o = 0; i < width * height; i++, o += 3) {
    const sx = mapX[i];
    const sy = mapY[i];
    if (!(sx > -1 && sy > -1 && sx < width && sy < height)) continue;
    const x0 = Math.floor(sx);
    const y0 = Math.floor(sy);
    const ax = sx - x0;
    const ay = sy - y0;
    const p = (y0 * width + x0) * 3;
    if (x0 >= 0 && y0 >= 0 && x0 + 1 < width && y0 + 1 < height) {
      // All four neighbours inside: no checks (the common case, so it is kept branch-free). A
      // Uint8Array store truncates, so + 0.5 rounds; the weights sum to 1, so it stays under 256.
      const w00 = (1 - ax) * (1 - ay);
      const w10 = ax * (1 - ay);
      const w01 = (1 - ax) * ay;
      const w11 = ax * ay;
      out[o] = w00 * rgb[p] + w10 * rgb[p + 3] + w01 * rgb[p + row] + w11 * rgb[p + row + 3] + 0.5;
      out[o + 1] = w00 * rgb[p + 1] + w10 * rgb[p + 4] + w01 * rgb[p + row + 1] + w11 * rgb[p + row + 4] + 0.5;
      out[o + 2] = w00 * rgb[p + 2] + w10 * rgb[p + 5] + w01 * rgb[p + row + 2] + w11 * rgb[p + row + 5] + 0.5;
      continue;
    }
    const w00 = x0 >= 0 && y0 >= 0 ? (1 - ax) * (1 - ay) : 0;
    const w10 = x0 + 1 < width && y0 >= 0 ? ax * (1 - ay) : 0;
    const w01 = x0 >= 0 && y0 + 1 < height ? (1 - ax) * ay : 0;
    const w11 = x0 + 1 < width && y0 + 1 < height ? ax * ay : 0;
    for (let ch = 0; ch < 3; ch++) {
      const v = (w00 ? w00 * rgb[p + ch] : 0) + (w10 ? w10 * rgb[p + 3 + ch] : 0) + (w01 ? w01 * rgb[p + row + ch] : 0) + (w11 ? w11 * rgb[p + row + 3 + ch] : 0);
      out[o + ch] = v + 0.5;
    }
  }
  return out;
}

function checkImage(rgb: Uint8Array, width: number, height: number, cal: CameraCalibration, what: string): void {
  if (width !== cal.width || height !== cal.height) throw new Error(`${what}: the image is ${width}x${height} but the calibration of '${cal.frameId}' is for ${cal.width}x${cal.height}`);
  if (rgb.length !== width * height * 3) throw new Error(`${what}: ${rgb.length} bytes is not ${width}x${height} RGB8 (${width * height * 3})`);
}

/** The rectified image (camera P) of a raw RGB8 frame from the camera of `cal`. */
export function undistortImage(rgb: Uint8Array, width: number, height: number, cal: CameraCalibration): Uint8Array {
  checkImage(rgb, width, height, cal, 'undistortImage');
  return remapRgb(rgb, undistortMap(cal));
}

/** The raw frame the camera of `cal` would record of a rectified RGB8 image (camera P): the inverse of `undistortImage`. */
export function distortImage(rgb: Uint8Array, width: number, height: number, cal: CameraCalibration): Uint8Array {
  checkImage(rgb, width, height, cal, 'distortImage');
  return remapRgb(rgb, distortMap(cal));
}
