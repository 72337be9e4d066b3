/**
 * Undistortion (src/replay/undistort.ts): the point mapping against an independent numpy
 * implementation of OpenCV's initUndistortRectifyMap equations, and its inverse against scipy's
 * root finder, on a grid of points; the remap table equals the point mapping; distort then
 * undistort returns a made image away from the borders; zero distortion is exactly the identity;
 * bad calibrations and image sizes are refused by name.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { CameraCalibration } from '../../src/replay/types.js';
import { distortImage, isPinhole, rawToRectified, rectifiedToRaw, undistortImage, undistortMap } from '../../src/replay/undistort.js';
import { pythonBin } from '../../src/pack/python.js';
import { seededRandom } from '../../src/files/prng.js';

const W = 160;
const H = 120;

function pinhole(over: Partial<CameraCalibration> = {}): CameraCalibration {
  return {
    frameId: 'camera_front',
    width: W,
    height: H,
    distortionModel: 'plumb_bob',
    D: [0, 0, 0, 0, 0],
    K: [125, 0, 80, 0, 125, 60, 0, 0, 1],
    R: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    P: [125, 0, 80, 0, 0, 125, 60, 0, 0, 0, 1, 0],
    ...over,
  };
}

/** A small rotation about y then x, as a stereo rectification has. */
function rotation(ay: number, ax: number): number[] {
  const [cy, sy, cx, sx] = [Math.cos(ay), Math.sin(ay), Math.cos(ax), Math.sin(ax)];
  // Rx * Ry
  return [cy, 0, sy, sx * sy, cx, -sx * cy, -cx * sy, sx, cx * cy];
}

const CALS: Record<string, CameraCalibration> = {
  'plumb_bob barrel, R = I, P = K': pinhole({ D: [-0.28, 0.07, 0.001, -0.0005, -0.008] }),
  'plumb_bob pincushion with tangential, R rotated, P rescaled': pinhole({
    D: [0.12, -0.05, -0.002, 0.003, 0.01],
    K: [130, 0.4, 78.5, 0, 128, 61.25, 0, 0, 1],
    R: rotation(0.01, -0.004),
    P: [118, 0, 81, 0, 0, 118, 59, 0, 0, 0, 1, 0],
  }),
  'rational_polynomial': pinhole({
    distortionModel: 'rational_polynomial',
    D: [0.6, -0.1, 0.0008, -0.0012, 0.02, 0.9, -0.05, 0.03],
    K: [120, 0, 82, 0, 121, 58, 0, 0, 1],
    P: [110, 0, 80, 0, 0, 110, 60, 0, 0, 0, 1, 0],
  }),
};

/** OpenCV's map equations and their inverse by scipy.optimize.fsolve, written from the OpenCV docs, not from the TS. */
const ORACLE = String.raw`
import json, sys
import numpy as np
from scipy.optimize import fsolve
d = json.load(sys.stdin)
out = {}
for name, c in d["cals"].items():
    K = np.array(c["K"], float).reshape(3, 3)
    R = np.array(c["R"], float).reshape(3, 3)
    P = np.array(c["P"], float).reshape(3, 4)
    D = np.zeros(8); D[:len(c["D"])] = c["D"]
    k1, k2, p1, p2, k3, k4, k5, k6 = D
    def dist(x, y):
        r2 = x * x + y * y
        kr = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
        return x * kr + 2 * p1 * x * y + p2 * (r2 + 2 * x * x), y * kr + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    iR = np.linalg.inv(P[:, :3] @ R)
    pts = np.array(d["points"], float)
    ray = iR @ np.vstack([pts.T, np.ones(len(pts))])
    xd, yd = dist(ray[0] / ray[2], ray[1] / ray[2])
    fwd = np.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], 1)
    inv = []
    for u, v in pts:
        xd0, yd0 = (u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1]
        sol = fsolve(lambda q: np.array(dist(q[0], q[1])) - [xd0, yd0], [xd0, yd0], xtol=1e-14)
        X = P @ np.append(R @ np.array([sol[0], sol[1], 1.0]), 1.0)
        inv.append([X[0] / X[2], X[1] / X[2]])
    out[name] = {"forward": fwd.tolist(), "inverse": inv}
print(json.dumps(out))
`;

function grid(): [number, number][] {
  const pts: [number, number][] = [];
  for (let v = 0; v <= H - 1; v += 17) for (let u = 0; u <= W - 1; u += 13) pts.push([u + 0.25, v + 0.75]);
  pts.push([0, 0], [W - 1, H - 1], [80, 60]);
  return pts;
}

/** A smooth checkerboard (period 32 px) and a sharp one. */
function boards(): { smooth: Uint8Array; sharp: Uint8Array } {
  const smooth = new Uint8Array(W * H * 3);
  const sharp = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = 128 + 100 * Math.sin((2 * Math.PI * x) / 32) * Math.sin((2 * Math.PI * y) / 32);
      const b = (Math.floor(x / 16) + Math.floor(y / 16)) % 2 ? 230 : 20;
      for (let ch = 0; ch < 3; ch++) {
        smooth[(y * W + x) * 3 + ch] = Math.round(s) - ch * 10;
        sharp[(y * W + x) * 3 + ch] = b;
      }
    }
  }
  return { smooth, sharp };
}

/**
 * |a - b| over the rectified pixels at least `margin` px from every border whose raw point is too
 * (a rectified camera wider than the raw one sees black past the raw image's edges).
 */
function interiorErrors(a: Uint8Array, b: Uint8Array, margin: number, cal: CameraCalibration): number[] {
  const e: number[] = [];
  for (let y = margin; y < H - margin; y++) {
    for (let x = margin; x < W - margin; x++) {
      const [u, v] = rectifiedToRaw(cal, x, y);
      if (!(u >= margin && v >= margin && u <= W - 1 - margin && v <= H - 1 - margin)) continue;
      for (let ch = 0; ch < 3; ch++) e.push(Math.abs(a[(y * W + x) * 3 + ch] - b[(y * W + x) * 3 + ch]));
    }
  }
  return e;
}

describe('undistort: the point mapping', () => {
  it('equals numpy OpenCV equations (forward) and scipy fsolve (inverse) to 1e-6 px on a grid', async () => {
    const points = grid();
    const r = await execa(pythonBin(), ['-c', ORACLE], { input: JSON.stringify({ cals: CALS, points }) });
    const want = JSON.parse(r.stdout) as Record<string, { forward: number[][]; inverse: number[][] }>;
    for (const [name, cal] of Object.entries(CALS)) {
      let fwdMax = 0;
      let invMax = 0;
      points.forEach(([u, v], i) => {
        const [su, sv] = rectifiedToRaw(cal, u, v);
        fwdMax = Math.max(fwdMax, Math.abs(su - want[name].forward[i][0]), Math.abs(sv - want[name].forward[i][1]));
        const [ru, rv] = rawToRectified(cal, u, v);
        invMax = Math.max(invMax, Math.abs(ru - want[name].inverse[i][0]), Math.abs(rv - want[name].inverse[i][1]));
      });
      expect(fwdMax, `${name}: forward`).toBeLessThan(1e-6);
      expect(invMax, `${name}: inverse`).toBeLessThan(1e-6);
    }
  });

  it('the remap table is the point mapping, in float32, and is made once per calibration', () => {
    const cal = CALS['plumb_bob pincushion with tangential, R rotated, P rescaled'];
    const t = undistortMap(cal);
    for (const [u, v] of [[0, 0], [17, 33], [W - 1, H - 1], [80, 60]]) {
      const [su, sv] = rectifiedToRaw(cal, u, v);
      expect(t.mapX[v * W + u]).toBe(Math.fround(su));
      expect(t.mapY[v * W + u]).toBe(Math.fround(sv));
    }
    expect(undistortMap(structuredClone(cal))).toBe(t);
    expect(undistortMap({ ...cal, D: [0.12, -0.05, -0.002, 0.003, 0.0101] })).not.toBe(t);
  });
});

describe('undistort: images', () => {
  it('zero distortion with R = I and P = K is exactly the identity', () => {
    const cal = pinhole();
    expect(isPinhole(cal)).toBe(true);
    const r = seededRandom(5);
    const img = Uint8Array.from({ length: W * H * 3 }, () => Math.floor(r() * 256));
    expect(Buffer.from(undistortImage(img, W, H, cal)).equals(Buffer.from(img))).toBe(true);
    expect(Buffer.from(distortImage(img, W, H, cal)).equals(Buffer.from(img))).toBe(true);
  });

  it.each(Object.keys(CALS))('distort then undistort returns a checkerboard away from the borders: %s', (name) => {
    const cal = CALS[name];
    expect(isPinhole(cal)).toBe(false);
    const { smooth, sharp } = boards();
    const smoothBack = interiorErrors(undistortImage(distortImage(smooth, W, H, cal), W, H, cal), smooth, 8, cal);
    expect(Math.max(...smoothBack), 'smooth board: worst grey-level error').toBeLessThanOrEqual(4);
    expect(smoothBack.reduce((a, b) => a + b, 0) / smoothBack.length, 'smooth board: mean').toBeLessThan(1);
    expect(smoothBack.length, 'pixels compared').toBeGreaterThan(0.5 * W * H * 3);
    const sharpBack = interiorErrors(undistortImage(distortImage(sharp, W, H, cal), W, H, cal), sharp, 8, cal);
    // Two bilinear resamplings blur the one-pixel edges; the squares themselves come back.
    expect(sharpBack.reduce((a, b) => a + b, 0) / sharpBack.length, 'sharp board: mean').toBeLessThan(12);
    expect(sharpBack.filter((e) => e > 60).length / sharpBack.length, 'sharp board: pixels off by more than 60').toBeLessThan(0.05);
    // And the distortion moved things: the distorted board is not the board.
    const moved = interiorErrors(distortImage(sharp, W, H, cal), sharp, 8, cal);
    expect(moved.reduce((a, b) => a + b, 0) / moved.length).toBeGreaterThan(3 * (sharpBack.reduce((a, b) => a + b, 0) / sharpBack.length));
  });

  it('refuses bad calibrations and images, naming what is wrong', () => {
    const img = new Uint8Array(W * H * 3);
    expect(() => undistortImage(img, W, H, pinhole({ distortionModel: 'equidistant' }))).toThrow(/camera_front.*'equidistant' is not one of plumb_bob, rational_polynomial/);
    expect(() => undistortImage(img, W, H, pinhole({ D: [0.1, 0.2] }))).toThrow(/D has 2 coefficients; plumb_bob takes 5/);
    expect(() => undistortImage(img, W, H, pinhole({ K: [125, 0, 80, 0, Number.NaN, 60, 0, 0, 1], D: [0.1, 0, 0, 0, 0] }))).toThrow(/K\[4\] = NaN is not finite/);
    expect(() => undistortImage(img, W, H, pinhole({ P: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], D: [0.1, 0, 0, 0, 0] }))).toThrow(/P\[:, :3\] R is singular/);
    expect(() => undistortImage(img, W + 1, H, pinhole())).toThrow(/161x120 but the calibration of 'camera_front' is for 160x120/);
    expect(() => undistortImage(img.subarray(3), W, H, pinhole())).toThrow(/57597 bytes is not 160x120 RGB8 \(57600\)/);
  });
});
