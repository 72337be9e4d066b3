/**
 * Post-processing from the inference contract: CenterNet decode (3x3 peaks on the class
 * heatmaps, top-k, size and offset at the peak), back through the letterbox, class-wise greedy
 * NMS, the detection cap. Pure functions over typed arrays.
 */

/** A detection in input-image pixels, COCO xywh. */
export interface Detection {
  classIndex: number;
  score: number;
  bbox: [number, number, number, number];
  /** Every class's heatmap score at the peak (for calibration and OOD later). */
  classScores: number[];
}

export interface Letterbox {
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
  /** Original image size, for clipping. */
  width: number;
  height: number;
}

export interface DecodeOptions {
  stride: number;
  topK: number;
  scoreThreshold: number;
  nmsIou: number;
  maxDetections: number;
}

/** The decode options an inference contract gives. */
export function decodeOptionsOf(c: { decode: { stride: number; top_k: number }; score_threshold: number; nms_iou: number; max_detections: number }): DecodeOptions {
  return { stride: c.decode.stride, topK: c.decode.top_k, scoreThreshold: c.score_threshold, nmsIou: c.nms_iou, maxDetections: c.max_detections };
}

/** The identity letterbox of a frame already at the model's input size. */
export const identityLetterbox = (width: number, height: number): Letterbox => ({ scaleX: 1, scaleY: 1, padX: 0, padY: 0, width, height });

/** IoU of two xywh boxes (no +1, as COCO). */
export function iouXywh(a: readonly number[], b: readonly number[]): number {
  const iw = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  if (iw <= 0) return 0;
  const ih = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/** Greedy NMS within each class: keeps the higher score, drops overlaps above `iou`. Input sorted by score, descending. */
export function nmsByClass(dets: Detection[], iou: number): Detection[] {
  const kept: Detection[] = [];
  for (const d of dets) {
    let ok = true;
    for (const k of kept) {
      if (k.classIndex === d.classIndex && iouXywh(k.bbox, d.bbox) > iou) {
        ok = false;
        break;
      }
    }
    if (ok) kept.push(d);
  }
  return kept;
}

/**
 * Decodes one image's heads. `heatmap` is C x H x W (after sigmoid), `size` and `offset` are
 * 2 x H x W, all for batch item `b` of their tensors (offsets into the flat arrays).
 */
export function decodeCenterNet(
  heatmap: Float32Array,
  size: Float32Array,
  offset: Float32Array,
  b: number,
  classes: number,
  h: number,
  w: number,
  lb: Letterbox,
  o: DecodeOptions,
): Detection[] {
  const plane = h * w;
  const hmBase = b * classes * plane;
  const szBase = b * 2 * plane;
  const cand: { c: number; i: number; s: number }[] = [];
  for (let c = 0; c < classes; c++) {
    const base = hmBase + c * plane;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const s = heatmap[base + i];
        if (s < o.scoreThreshold) continue;
        let peak = true;
        for (let dy = -1; dy <= 1 && peak; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= h) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= w || (dx === 0 && dy === 0)) continue;
            if (heatmap[base + yy * w + xx] > s) {
              peak = false;
              break;
            }
          }
        }
        if (peak) cand.push({ c, i, s });
      }
    }
  }
  cand.sort((p, q) => q.s - p.s || p.c - q.c || p.i - q.i);
  const top = cand.slice(0, o.topK);
  const dets: Detection[] = top.map(({ c, i, s }) => {
    const x = i % w;
    const y = (i - x) / w;
    const cx = (x + offset[szBase + i]) * o.stride;
    const cy = (y + offset[szBase + plane + i]) * o.stride;
    const bw = Math.exp(size[szBase + i]) * o.stride;
    const bh = Math.exp(size[szBase + plane + i]) * o.stride;
    // Back to the original image through the letterbox, clipped to it.
    let x0 = (cx - bw / 2 - lb.padX) / lb.scaleX;
    let y0 = (cy - bh / 2 - lb.padY) / lb.scaleY;
    let x1 = (cx + bw / 2 - lb.padX) / lb.scaleX;
    let y1 = (cy + bh / 2 - lb.padY) / lb.scaleY;
    x0 = Math.max(0, Math.min(lb.width, x0));
    x1 = Math.max(0, Math.min(lb.width, x1));
    y0 = Math.max(0, Math.min(lb.height, y0));
    y1 = Math.max(0, Math.min(lb.height, y1));
    const classScores: number[] = [];
    for (let k = 0; k < classes; k++) classScores.push(heatmap[hmBase + k * plane + i]);
    return { classIndex: c, score: s, bbox: [x0, y0, x1 - x0, y1 - y0], classScores };
  });
  return nmsByClass(
    dets.filter((d) => d.bbox[2] > 0 && d.bbox[3] > 0),
    o.nmsIou,
  ).slice(0, o.maxDetections);
}
