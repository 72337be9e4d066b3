/**
 * Dataset manifests (JSONL, one row per frame) and the world's slice definitions (slices.yaml),
 * with the one slice evaluator: which frames and object classes a slice selects. Reading the
 * files is in manifest-load.ts.
 */
import { z } from 'zod';
import { CLASSES, REGIONS, ROAD_TYPES, TIMES_OF_DAY, WEATHERS } from './conditions.js';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const ManifestRow = z
  .object({
    frame_id: z.string().min(1),
    scene_id: z.string().min(1),
    drive_id: z.string().min(1),
    timestamp: z.string().datetime(),
    region: z.enum(REGIONS),
    city: z.string().min(1),
    weather: z.enum(WEATHERS),
    time_of_day: z.enum(TIMES_OF_DAY),
    road_type: z.enum(ROAD_TYPES),
    seed: z.number().int().nonnegative(),
    path: z.string().min(1),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    sha256,
    pixels_sha256: sha256,
  })
  .strict();
export type ManifestRow = z.infer<typeof ManifestRow>;

/**
 * What inference needs of a row: its frame id and image path (other fields are kept, unchecked),
 * so that `paddock infer` runs over any manifest that names its frames.
 */
export const ManifestFrameRef = z.looseObject({ frame_id: z.string(), path: z.string() });
export type ManifestFrameRef = z.infer<typeof ManifestFrameRef>;

/** Frame metadata a slice can test. */
export const SLICE_FIELDS = ['weather', 'time_of_day', 'road_type', 'region'] as const;

const Where = z
  .object({
    weather: z.array(z.enum(WEATHERS)).min(1).optional(),
    time_of_day: z.array(z.enum(TIMES_OF_DAY)).min(1).optional(),
    road_type: z.array(z.enum(ROAD_TYPES)).min(1).optional(),
    region: z.array(z.enum(REGIONS)).min(1).optional(),
  })
  .strict();

export const Slice = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_.+-]*$/),
    description: z.string().optional(),
    /** Frame predicates: every listed field must take one of the listed values. */
    where: Where.default({}),
    /** Object class: the slice counts only these classes' ground truth and detections. */
    class: z.array(z.enum(CLASSES)).min(1).optional(),
    /** A critical slice is held to the strict (Holm-adjusted) regression gate. */
    critical: z.boolean().default(false),
  })
  .strict();

export const SliceFile = z
  .object({
    version: z.literal(1),
    slices: z.array(Slice).min(1),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.slices.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['slices', i, 'id'], message: `duplicate slice id "${s.id}"` });
      seen.add(s.id);
    });
  });
export type SliceFile = z.infer<typeof SliceFile>;
export type Slice = z.infer<typeof Slice>;

/**
 * The frame metadata a slice tests (a manifest row, a COCO image of the world, a failure's frame);
 * a frame without a field the slice tests is not in the slice.
 */
export type SliceFrame = { readonly [F in (typeof SLICE_FIELDS)[number]]?: string };

/** Does a frame (manifest row) belong to the slice's frames? Tests the frame predicates only. */
export function frameInSlice(slice: Slice, row: SliceFrame): boolean {
  for (const f of SLICE_FIELDS) {
    const allowed = slice.where[f] as readonly string[] | undefined;
    if (allowed && !allowed.includes(row[f] as string)) return false;
  }
  return true;
}

/** Does the slice count this object class's ground truth and detections? A slice without classes counts every class. */
export function sliceCountsClass(slice: Slice, className: string): boolean {
  return !slice.class || (slice.class as readonly string[]).includes(className);
}

/**
 * Does the slice select this frame, given the classes of the objects in question (an object's
 * class, or the classes of a frame's ground truth)? The frame predicates must hold and, when the
 * slice names classes, one of `classes` must be among them.
 *   sliceSelects(night+pedestrian, { time_of_day: 'night', ... }, ['pedestrian']) -> true
 *   sliceSelects(night+pedestrian, { time_of_day: 'night', ... }, ['car'])        -> false
 */
export function sliceSelects(slice: Slice, frame: SliceFrame, classes: Iterable<string>): boolean {
  if (!frameInSlice(slice, frame)) return false;
  if (!slice.class) return true;
  for (const c of classes) if (sliceCountsClass(slice, c)) return true;
  return false;
}
