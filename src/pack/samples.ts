/**
 * The inputs the package stage feeds models: a calibration shard balanced by slice, and the
 * seeded distribution of equivalence inputs (real frames and perturbations of them).
 */
import { join } from 'node:path';
import { seededRandom } from '../files/prng.js';
import { sliceSelects, type ManifestRow, type Slice } from '../schema/manifest.js';
import { loadSliceFile, readGroundTruthBeside, readManifest } from '../schema/manifest-load.js';
import type { InferenceContract } from '../schema/inference-contract.js';
import { readFramesInto } from '../model/frame-reader.js';

export interface SampleFrame {
  row: ManifestRow;
  file: string;
  /** Class names of the frame's ground-truth objects. */
  classes: Set<string>;
}

/**
 * Reads a manifest (the one reader: every row a full manifest row; errors name the file and line)
 * with its COCO ground truth beside it (`<split>.coco.json`) for object classes.
 */
export function loadFrames(manifest: string): SampleFrame[] {
  const { root, rows } = readManifest(manifest);
  const classesByFile = new Map<string, Set<string>>();
  const gt = readGroundTruthBeside(manifest);
  if (gt) {
    const cat = new Map(gt.categories.map((c) => [c.id, c.name]));
    const file = new Map(gt.images.map((im) => [im.id, im.file_name]));
    for (const a of gt.annotations) {
      const f = file.get(a.image_id);
      if (f === undefined) continue;
      if (!classesByFile.has(f)) classesByFile.set(f, new Set());
      classesByFile.get(f)!.add(cat.get(a.category_id) ?? String(a.category_id));
    }
  }
  // Without ground truth, class slices select nothing.
  return rows.map((row) => ({ row, file: join(root, row.path), classes: classesByFile.get(row.path) ?? new Set() }));
}


const inSlice = (s: Slice, f: SampleFrame) => sliceSelects(s, f.row, f.classes);

/** Fisher-Yates with the shared seeded PRNG. */
function shuffled<T>(xs: T[], rand: () => number): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export interface Shard {
  frames: SampleFrame[];
  /** Frames taken per slice (a frame counts for the slice that took it). */
  perSlice: Record<string, number>;
  /** Frames of each slice in the whole shard (a frame can count for several). */
  coverage: Record<string, number>;
}

/**
 * A calibration shard balanced by slice: for each slice in turn, up to `perSlice` frames of it
 * not taken yet (seeded order), so rare conditions (night, rain, pedestrians) are not drowned by
 * the common ones; then frames from the whole set until `size`.
 */
export function balancedShard(frames: SampleFrame[], slices: Slice[], opts: { perSlice: number; size: number; seed: number }): Shard {
  const rand = seededRandom(opts.seed);
  const order = shuffled(frames, rand);
  const taken = new Set<SampleFrame>();
  const perSlice: Record<string, number> = {};
  for (const s of slices) {
    let n = 0;
    for (const f of order) {
      if (n >= opts.perSlice || taken.size >= opts.size) break;
      if (!taken.has(f) && inSlice(s, f)) {
        taken.add(f);
        n++;
      }
    }
    perSlice[s.id] = n;
  }
  for (const f of order) {
    if (taken.size >= opts.size) break;
    if (!taken.has(f)) {
      taken.add(f);
      perSlice['(fill)'] = (perSlice['(fill)'] ?? 0) + 1;
    }
  }
  const shard = order.filter((f) => taken.has(f));
  const coverage = Object.fromEntries(slices.map((s) => [s.id, shard.filter((f) => inSlice(s, f)).length]));
  return { frames: shard, perSlice, coverage };
}

/** The declared distribution of equivalence inputs: weights of each perturbation and their ranges. */
export interface PerturbationSpec {
  identity: number;
  brightness: { weight: number; range: [number, number] };
  contrast: { weight: number; range: [number, number] };
  noise: { weight: number; sigma: [number, number] };
  flip: number;
}

export const DEFAULT_PERTURBATIONS: PerturbationSpec = {
  identity: 0.3,
  brightness: { weight: 0.2, range: [0.5, 1.5] },
  contrast: { weight: 0.2, range: [0.6, 1.4] },
  noise: { weight: 0.2, sigma: [2, 12] },
  flip: 0.1,
};

export interface DrawnInput {
  frame: string;
  perturbation: string;
}

/**
 * Fills `out` (batch x 3 x H x W, normalised per the contract) with inputs i0..i0+batch-1 of the
 * seeded sequence: input i takes frame (i mod frames) and a perturbation drawn for i from the
 * spec, applied to the 8-bit pixels before normalisation (clamped to 0..255, as a camera would).
 */
export async function drawInputs(frames: SampleFrame[], contract: InferenceContract, spec: PerturbationSpec, seed: number, i0: number, batch: number, out: Float32Array): Promise<DrawnInput[]> {
  await readFramesInto(frames.length ? Array.from({ length: batch }, (_, b) => ({ file: frames[(i0 + b) % frames.length].file, label: frames[(i0 + b) % frames.length].row.frame_id })) : [], contract, out);
  const drawn: DrawnInput[] = [];
  const { scale, mean, std } = contract.input;
  const plane = contract.input.resize.width * contract.input.resize.height;
  const W = contract.input.resize.width;
  for (let b = 0; b < batch; b++) {
    const rand = seededRandom((seed * 1_000_003 + i0 + b) >>> 0);
    const frame = frames[(i0 + b) % frames.length].row.frame_id;
    const u = rand();
    const cut = [spec.identity, spec.brightness.weight, spec.contrast.weight, spec.noise.weight, spec.flip];
    const total = cut.reduce((a, c) => a + c, 0);
    let pick = 0;
    for (let acc = cut[0] / total; u >= acc && pick < 4; ) acc += cut[++pick] / total;
    const lerp = (r: [number, number]) => r[0] + (r[1] - r[0]) * rand();
    const base = b * 3 * plane;
    // pixel <-> normalised: x = (p * scale - mean) / std.
    const toPix = (x: number, c: number) => (x * std[c] + mean[c]) / scale;
    const toX = (p: number, c: number) => (Math.max(0, Math.min(255, p)) * scale - mean[c]) / std[c];
    let label = 'identity';
    if (pick === 1 || pick === 2) {
      const k = lerp(pick === 1 ? spec.brightness.range : spec.contrast.range);
      label = `${pick === 1 ? 'brightness' : 'contrast'} x${k.toFixed(3)}`;
      for (let c = 0; c < 3; c++) for (let j = 0; j < plane; j++) {
        const p = toPix(out[base + c * plane + j], c);
        out[base + c * plane + j] = toX(pick === 1 ? p * k : 128 + (p - 128) * k, c);
      }
    } else if (pick === 3) {
      const sigma = lerp(spec.noise.sigma);
      label = `noise sigma ${sigma.toFixed(2)}`;
      for (let c = 0; c < 3; c++) for (let j = 0; j < plane; j++) {
        // Box-Muller from the same PRNG.
        const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
        out[base + c * plane + j] = toX(toPix(out[base + c * plane + j], c) + g * sigma, c);
      }
    } else if (pick === 4) {
      label = 'horizontal flip';
      for (let c = 0; c < 3; c++) for (let row = 0; row < plane / W; row++) {
        const o = base + c * plane + row * W;
        out.subarray(o, o + W).reverse();
      }
    }
    drawn.push({ frame, perturbation: label });
  }
  return drawn;
}
