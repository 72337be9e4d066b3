/**
 * A frame drawn in the terminal: each character cell shows two pixels, the upper one as the
 * foreground of "▀" and the lower one as the background, so a 40x12 cell area shows 40x24
 * pixels. Boxes (ground truth, detections) are drawn onto the pixel grid first. Colors are
 * written at the depth the terminal has: 24-bit ("truecolor"), the xterm 256-color palette, the
 * 16 ANSI colors; without color (NO_COLOR) or without Unicode (TERM=dumb), brightness becomes a
 * character ramp and boxes are drawn with "#". Pure: pixels in, lines of text out.
 */

export type ColorDepth = 'truecolor' | '256' | '16' | 'mono';

export interface RgbFrame {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface FrameBox {
  /** COCO xywh in image pixels. */
  bbox: readonly [number, number, number, number];
  rgb: readonly [number, number, number];
}

/** The terminal's color depth from the environment (COLORTERM, TERM, NO_COLOR). */
export function detectColorDepth(env: NodeJS.ProcessEnv = process.env): ColorDepth {
  if ('NO_COLOR' in env || env.FORCE_COLOR === '0' || env.TERM === 'dumb') return 'mono';
  if (/truecolor|24bit/i.test(env.COLORTERM ?? '')) return 'truecolor';
  if (/256/.test(env.TERM ?? '')) return '256';
  return '16';
}

/** Area-averaged resample of an RGB image to w x h. */
export function resample(img: RgbFrame, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  const sx = img.width / w;
  const sy = img.height / h;
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor(y * sy);
    const y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor(x * sx);
      const x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
      let r = 0;
      let g = 0;
      let b = 0;
      let n = 0;
      for (let yy = y0; yy < y1 && yy < img.height; yy++) {
        for (let xx = x0; xx < x1 && xx < img.width; xx++) {
          const i = (yy * img.width + xx) * 3;
          r += img.data[i];
          g += img.data[i + 1];
          b += img.data[i + 2];
          n++;
        }
      }
      const o = (y * w + x) * 3;
      out[o] = Math.round(r / n);
      out[o + 1] = Math.round(g / n);
      out[o + 2] = Math.round(b / n);
    }
  }
  return out;
}

/** The xterm 256-color index nearest an RGB color (the 6x6x6 cube or the 24 greys). */
export function xterm256(r: number, g: number, b: number): number {
  const level = (v: number) => (v < 48 ? 0 : v < 115 ? 1 : Math.min(5, Math.floor((v - 35) / 40)));
  const cube = [0, 95, 135, 175, 215, 255];
  const [lr, lg, lb] = [level(r), level(g), level(b)];
  const cubeDist = (cube[lr] - r) ** 2 + (cube[lg] - g) ** 2 + (cube[lb] - b) ** 2;
  // The grey ramp: 232 + i is (8 + 10 i) on every channel.
  const grey = Math.max(0, Math.min(23, Math.round(((r + g + b) / 3 - 8) / 10)));
  const gv = 8 + grey * 10;
  const greyDist = (gv - r) ** 2 + (gv - g) ** 2 + (gv - b) ** 2;
  return greyDist < cubeDist ? 232 + grey : 16 + 36 * lr + 6 * lg + lb;
}

const ANSI16: readonly [number, number, number][] = [
  [0, 0, 0], [205, 0, 0], [0, 205, 0], [205, 205, 0], [0, 0, 238], [205, 0, 205], [0, 205, 205], [229, 229, 229],
  [127, 127, 127], [255, 0, 0], [0, 255, 0], [255, 255, 0], [92, 92, 255], [255, 0, 255], [0, 255, 255], [255, 255, 255],
];

/** The nearest of the 16 ANSI colors, 0-15. */
export function ansi16(r: number, g: number, b: number): number {
  let best = 0;
  let bestD = Infinity;
  ANSI16.forEach(([cr, cg, cb], i) => {
    const d = (cr - r) ** 2 + (cg - g) ** 2 + (cb - b) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}

function sgr(depth: ColorDepth, fg: boolean, r: number, g: number, b: number): string {
  if (depth === 'truecolor') return `\x1b[${fg ? 38 : 48};2;${r};${g};${b}m`;
  if (depth === '256') return `\x1b[${fg ? 38 : 48};5;${xterm256(r, g, b)}m`;
  const i = ansi16(r, g, b);
  return `\x1b[${(fg ? 30 : 40) + (i % 8) + (i >= 8 ? 60 : 0)}m`;
}

/** The cell area a frame takes at most `cols` x `rows`, keeping its aspect (two pixels a cell, one cell about twice as tall as wide). */
export function frameCellSize(img: { width: number; height: number }, cols: number, rows: number): { cols: number; rows: number } {
  const scale = Math.min(cols / img.width, (rows * 2) / img.height);
  return { cols: Math.max(1, Math.round(img.width * scale)), rows: Math.max(1, Math.round((img.height * scale) / 2)) };
}

/** The pixels of `img` in the rectangle x, y, w, h (whole pixels; the part inside the image). */
export function cropFrame(img: RgbFrame, x: number, y: number, w: number, h: number): RgbFrame {
  const x0 = Math.max(0, Math.min(img.width - 1, Math.floor(x)));
  const y0 = Math.max(0, Math.min(img.height - 1, Math.floor(y)));
  const cw = Math.max(1, Math.min(img.width - x0, Math.round(w)));
  const ch = Math.max(1, Math.min(img.height - y0, Math.round(h)));
  const data = new Uint8Array(cw * ch * 3);
  for (let row = 0; row < ch; row++) data.set(img.data.subarray(((y0 + row) * img.width + x0) * 3, ((y0 + row) * img.width + x0 + cw) * 3), row * cw * 3);
  return { data, width: cw, height: ch };
}

/** The part of a frame a zoom shows: a rectangle in image pixels, and how many times larger than the whole frame it is drawn. */
export interface ZoomRegion {
  x: number;
  y: number;
  width: number;
  height: number;
  zoom: number;
}

/**
 * What a pane of cols x rows cells shows around `bbox` (COCO xywh) when the whole frame is drawn
 * at `frameScale` cells per image pixel: the largest zoom in [minZoom, maxZoom] (2 to 4) at which
 * the box, with `margin` times its size around it, still fits the pane; centred on the box, kept
 * inside the image. A box too large for 2x is shown at 2x, its centre in the middle.
 * For a 5x14-pixel cyclist in a 320x192 frame drawn 47 cells wide, a 31x14 pane shows 4x: 53x48 pixels.
 */
export function zoomRegion(img: { width: number; height: number }, bbox: readonly [number, number, number, number], cols: number, rows: number, frameScale: number, opts: { minZoom?: number; maxZoom?: number; margin?: number } = {}): ZoomRegion {
  const { minZoom = 2, maxZoom = 4, margin = 1.6 } = opts;
  const [bx, by, bw, bh] = bbox;
  // Two pixels a cell vertically: the pane is cols x 2*rows pixels of the drawing.
  const fit = Math.min(cols / (frameScale * margin * Math.max(1, bw)), (2 * rows) / (frameScale * margin * Math.max(1, bh)));
  const zoom = Math.max(minZoom, Math.min(maxZoom, fit));
  const width = Math.min(img.width, Math.max(1, Math.round(cols / (frameScale * zoom))));
  const height = Math.min(img.height, Math.max(1, Math.round((2 * rows) / (frameScale * zoom))));
  const x = Math.max(0, Math.min(img.width - width, Math.round(bx + bw / 2 - width / 2)));
  const y = Math.max(0, Math.min(img.height - height, Math.round(by + bh / 2 - height / 2)));
  return { x, y, width, height, zoom };
}

/**
 * Draws `img` into at most cols x rows cells with its boxes; returns one string per row (with
 * SGR escapes unless mono; each colored row ends with a reset).
 */
export function renderFrameCells(img: RgbFrame, cols: number, rows: number, boxes: readonly FrameBox[], depth: ColorDepth, unicode: boolean): string[] {
  const size = frameCellSize(img, cols, rows);
  const w = size.cols;
  const h = size.rows * 2;
  const px = resample(img, w, h);
  const boxMask = new Uint8Array(w * h);
  const sx = w / img.width;
  const sy = h / img.height;
  boxes.forEach((bx, k) => {
    // A box partly outside the area (a zoomed crop) has only its sides inside drawn; one wholly outside, nothing.
    const left = Math.round(bx.bbox[0] * sx);
    const top = Math.round(bx.bbox[1] * sy);
    const right = Math.max(left, Math.round((bx.bbox[0] + bx.bbox[2]) * sx) - 1);
    const bottom = Math.max(top, Math.round((bx.bbox[1] + bx.bbox[3]) * sy) - 1);
    if (right < 0 || bottom < 0 || left > w - 1 || top > h - 1) return;
    const paint = (x: number, y: number) => {
      const o = (y * w + x) * 3;
      px[o] = bx.rgb[0];
      px[o + 1] = bx.rgb[1];
      px[o + 2] = bx.rgb[2];
      boxMask[y * w + x] = k + 1;
    };
    const [x0, x1, y0, y1] = [Math.max(0, left), Math.min(w - 1, right), Math.max(0, top), Math.min(h - 1, bottom)];
    for (let x = x0; x <= x1; x++) {
      if (top >= 0) paint(x, top);
      if (bottom <= h - 1) paint(x, bottom);
    }
    for (let y = y0; y <= y1; y++) {
      if (left >= 0) paint(left, y);
      if (right <= w - 1) paint(right, y);
    }
  });
  const lines: string[] = [];
  if (depth === 'mono') {
    const ramp = unicode ? ' ░▒▓█' : ' .:-=+*#%@';
    for (let row = 0; row < size.rows; row++) {
      let line = '';
      for (let x = 0; x < w; x++) {
        const a = (2 * row * w + x) * 3;
        const b = ((2 * row + 1) * w + x) * 3;
        if (boxMask[2 * row * w + x] || boxMask[(2 * row + 1) * w + x]) {
          line += unicode ? '█' : '#';
          continue;
        }
        const lum = (0.2126 * (px[a] + px[b]) + 0.7152 * (px[a + 1] + px[b + 1]) + 0.0722 * (px[a + 2] + px[b + 2])) / 2 / 255;
        line += ramp[Math.min(ramp.length - 1, Math.floor(lum * ramp.length))];
      }
      lines.push(line);
    }
    return lines;
  }
  for (let row = 0; row < size.rows; row++) {
    let line = '';
    let lastFg = '';
    let lastBg = '';
    for (let x = 0; x < w; x++) {
      const a = (2 * row * w + x) * 3;
      const b = ((2 * row + 1) * w + x) * 3;
      const fg = sgr(depth, true, px[a], px[a + 1], px[a + 2]);
      const bg = sgr(depth, false, px[b], px[b + 1], px[b + 2]);
      if (fg !== lastFg) line += fg;
      if (bg !== lastBg) line += bg;
      lastFg = fg;
      lastBg = bg;
      line += unicode ? '▀' : '"';
    }
    lines.push(`${line}\x1b[0m`);
  }
  return lines;
}
