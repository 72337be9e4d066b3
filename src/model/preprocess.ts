/**
 * Pre-processing from the inference contract: letterbox (keep aspect, pad) or stretch to the
 * model's input size with bilinear sampling, then scale, mean and std into NCHW float32.
 */
import type { InferenceContract } from '../schema/inference-contract.js';
import type { Letterbox } from './decode.js';

type PlanarFill = (rgb: Uint8Array, out: Float32Array, o0: number, o1: number, o2: number) => void;
const fills = new WeakMap<InferenceContract, PlanarFill>();

/**
 * Interleaved RGB bytes to three planes through per-channel tables (byte -> normalised float),
 * specialised once per contract: with the tables and the plane size closed over, V8 compiles a
 * tight loop (0.14 ms for a 320x192 frame here, against about 0.3 ms with them as parameters).
 */
function planarFillFor(c: InferenceContract): PlanarFill {
  let f = fills.get(c);
  if (!f) {
    const [l0, l1, l2] = [0, 1, 2].map((ch) => Float32Array.from({ length: 256 }, (_, v) => (v * c.input.scale - c.input.mean[ch]) / c.input.std[ch]));
    const n = c.input.resize.width * c.input.resize.height;
    f = (rgb, out, o0, o1, o2) => {
      for (let i = 0, j = 0; i < n; i++, j += 3) {
        out[o0 + i] = l0[rgb[j]];
        out[o1 + i] = l1[rgb[j + 1]];
        out[o2 + i] = l2[rgb[j + 2]];
      }
    };
    fills.set(c, f);
  }
  return f;
}

/**
 * Writes one RGB8 image (interleaved, `width` x `height`) into `out` at batch slot `b` and
 * returns the letterbox that maps model pixels back to image pixels.
 */
export function preprocessInto(rgb: Uint8Array, width: number, height: number, c: InferenceContract, out: Float32Array, b: number): Letterbox {
  const { width: W, height: H, mode, pad_value } = c.input.resize;
  const scale = mode === 'letterbox' ? Math.min(W / width, H / height) : 1;
  const sx = mode === 'letterbox' ? scale : W / width;
  const sy = mode === 'letterbox' ? scale : H / height;
  const nw = Math.round(width * sx);
  const nh = Math.round(height * sy);
  const padX = mode === 'letterbox' ? Math.floor((W - nw) / 2) : 0;
  const padY = mode === 'letterbox' ? Math.floor((H - nh) / 2) : 0;
  const plane = W * H;
  const base = b * 3 * plane;
  const k = c.input.scale;
  const swap = c.input.color === 'BGR';
  const m = c.input.mean;
  const s = c.input.std;
  const mul = [k / s[0], k / s[1], k / s[2]];
  const add = [-m[0] / s[0], -m[1] / s[1], -m[2] / s[2]];
  const padV = [pad_value * mul[0] + add[0], pad_value * mul[1] + add[1], pad_value * mul[2] + add[2]];
  const same = nw === width && nh === height;
  if (same && padX === 0 && padY === 0) {
    // The common case (frames already at the model's size): one table lookup per byte.
    planarFillFor(c)(rgb, out, base + (swap ? 2 : 0) * plane, base + plane, base + (swap ? 0 : 2) * plane);
    return { scaleX: 1, scaleY: 1, padX: 0, padY: 0, width, height };
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = y * W + x;
      const ix = x - padX;
      const iy = y - padY;
      for (let ch = 0; ch < 3; ch++) {
        const dst = base + (swap ? 2 - ch : ch) * plane + o;
        if (ix < 0 || iy < 0 || ix >= nw || iy >= nh) {
          out[dst] = padV[ch];
          continue;
        }
        let v: number;
        if (same) {
          v = rgb[(iy * width + ix) * 3 + ch];
        } else {
          // Bilinear, pixel centres aligned.
          const fx = Math.min(width - 1, Math.max(0, (ix + 0.5) / sx - 0.5));
          const fy = Math.min(height - 1, Math.max(0, (iy + 0.5) / sy - 0.5));
          const x0 = Math.floor(fx);
          const y0 = Math.floor(fy);
          const x1 = Math.min(width - 1, x0 + 1);
          const y1 = Math.min(height - 1, y0 + 1);
          const tx = fx - x0;
          const ty = fy - y0;
          const p = (yy: number, xx: number) => rgb[(yy * width + xx) * 3 + ch];
          v = (p(y0, x0) * (1 - tx) + p(y0, x1) * tx) * (1 - ty) + (p(y1, x0) * (1 - tx) + p(y1, x1) * tx) * ty;
        }
        out[dst] = v * mul[ch] + add[ch];
      }
    }
  }
  return { scaleX: sx, scaleY: sy, padX, padY, width, height };
}
