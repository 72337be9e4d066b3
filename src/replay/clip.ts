/**
 * A failure clip: a flagged segment's frames as an animated GIF (gifenc: a small, dependency-free
 * encoder that any browser, chat tool or ticket tracker shows inline), with the ground truth, the
 * candidate's tracks and the baseline's drawn on, at the drive's rate. One palette for the clip
 * (quantised from its middle frame plus the box colours), so it is deterministic and small.
 */
import { GIFEncoder, applyPalette, quantize } from 'gifenc';
import type { BoxXYWH } from './types.js';

export interface ClipBox {
  box: BoxXYWH;
  rgb: readonly [number, number, number];
  /** Drawn dashed (e.g. the baseline's tracks, beside the candidate's solid ones). */
  dashed?: boolean;
}

export interface ClipFrame {
  rgb: Uint8Array;
  boxes: readonly ClipBox[];
}

/** Box colours of clips and the replay screen: ground truth, candidate, baseline. */
export const CLIP_COLORS = { gt: [60, 220, 90], candidate: [255, 70, 60], baseline: [80, 160, 255] } as const;

function drawBox(rgba: Uint8Array, width: number, height: number, b: ClipBox): void {
  const x0 = Math.max(0, Math.round(b.box[0]));
  const y0 = Math.max(0, Math.round(b.box[1]));
  const x1 = Math.min(width - 1, Math.round(b.box[0] + b.box[2]));
  const y1 = Math.min(height - 1, Math.round(b.box[1] + b.box[3]));
  if (x1 < x0 || y1 < y0) return;
  const put = (x: number, y: number, k: number) => {
    if (b.dashed && k % 4 >= 2) return;
    const o = (y * width + x) * 4;
    rgba[o] = b.rgb[0];
    rgba[o + 1] = b.rgb[1];
    rgba[o + 2] = b.rgb[2];
  };
  for (let x = x0; x <= x1; x++) {
    put(x, y0, x);
    put(x, y1, x);
  }
  for (let y = y0; y <= y1; y++) {
    put(x0, y, y);
    put(x1, y, y);
  }
}

function toRgba(frame: ClipFrame, width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    rgba[i * 4] = frame.rgb[j];
    rgba[i * 4 + 1] = frame.rgb[j + 1];
    rgba[i * 4 + 2] = frame.rgb[j + 2];
    rgba[i * 4 + 3] = 255;
  }
  for (const b of frame.boxes) drawBox(rgba, width, height, b);
  return rgba;
}

/** An animated GIF of `frames` (RGB8, `width` x `height`) at `fps`, looping. */
export function encodeClip(frames: readonly ClipFrame[], width: number, height: number, fps: number): Uint8Array {
  if (frames.length === 0) throw new Error('a clip needs at least one frame');
  const rgbas = frames.map((f) => toRgba(f, width, height));
  const palette = quantize(rgbas[Math.floor(rgbas.length / 2)], 252);
  for (const c of Object.values(CLIP_COLORS)) palette.push([...c]);
  const gif = GIFEncoder();
  const delay = Math.round(1000 / fps);
  rgbas.forEach((rgba, k) => gif.writeFrame(applyPalette(rgba, palette), width, height, k === 0 ? { palette, delay, repeat: 0 } : { delay }));
  gif.finish();
  return gif.bytes();
}
