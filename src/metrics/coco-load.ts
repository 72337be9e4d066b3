/**
 * Reading COCO ground truth and results into the evaluator's columns, with errors that name the
 * file and the entry. Validation is hand-written (not zod) because it runs on 500,000
 * detections in the time budget of a load; every rule is listed in docs/coco.md.
 *
 * pycocotools-compatible handling, documented rather than rejected:
 * - a detection whose category_id is not in the ground truth's categories is dropped (counted);
 * - the `area`, `id` and `iscrowd` of detections are ignored (area is w*h, as loadRes does);
 * - a ground-truth `ignore` field is ignored (ignore = iscrowd).
 * Rejected with an error: anything else malformed, including detections on unknown images
 * (pycocotools asserts), duplicate image / category / annotation ids, negative sizes, NaN.
 */
import { readFileSync } from 'node:fs';
import type { CocoDtIndex, CocoGtIndex } from './coco.js';

export class CocoInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CocoInputError';
  }
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CocoInputError(`${what} ${file}: cannot read: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CocoInputError(`${what} ${file}: invalid JSON: ${(err as Error).message}`);
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkBox(where: string, bbox: unknown): [number, number, number, number] {
  if (!Array.isArray(bbox) || bbox.length !== 4) throw new CocoInputError(`${where}: bbox must be [x, y, width, height], got ${JSON.stringify(bbox)?.slice(0, 80)}`);
  for (let j = 0; j < 4; j++) if (!isNum(bbox[j])) throw new CocoInputError(`${where}: bbox[${j}] must be a finite number, got ${JSON.stringify(bbox[j])}`);
  if (bbox[2] < 0 || bbox[3] < 0) throw new CocoInputError(`${where}: bbox has a negative size (${bbox[2]} x ${bbox[3]})`);
  return bbox as [number, number, number, number];
}

export interface LoadedGt {
  index: CocoGtIndex;
  imageIndex: Map<number, number>;
  catIndex: Map<number, number>;
  /** The images in sorted-id order, as given (for slices: file names, metadata). */
  images: Record<string, unknown>[];
  annotations: Record<string, unknown>[];
}

/** Validates and indexes ground truth (an already-parsed object); `file` names it in errors. */
export function indexGroundTruth(data: unknown, file = 'ground truth'): LoadedGt {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new CocoInputError(`${file}: expected an object with images, annotations and categories, got ${typeName(data)}`);
  const d = data as Record<string, unknown>;
  for (const key of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(d[key])) throw new CocoInputError(`${file}: "${key}" must be a list, got ${typeName(d[key])}`);
  }
  const images = d.images as Record<string, unknown>[];
  const categories = d.categories as Record<string, unknown>[];
  const annotations = d.annotations as Record<string, unknown>[];

  const seenImg = new Map<number, number>();
  images.forEach((im, i) => {
    if (im === null || typeof im !== 'object') throw new CocoInputError(`${file}: images[${i}] must be an object`);
    if (!isNum(im.id)) throw new CocoInputError(`${file}: images[${i}].id must be a number, got ${JSON.stringify(im.id)}`);
    const prev = seenImg.get(im.id);
    if (prev !== undefined) throw new CocoInputError(`${file}: duplicate image id ${im.id} (images[${prev}] and images[${i}])`);
    seenImg.set(im.id, i);
  });
  const seenCat = new Map<number, number>();
  categories.forEach((c, i) => {
    if (c === null || typeof c !== 'object') throw new CocoInputError(`${file}: categories[${i}] must be an object`);
    if (!isNum(c.id)) throw new CocoInputError(`${file}: categories[${i}].id must be a number, got ${JSON.stringify(c.id)}`);
    const prev = seenCat.get(c.id);
    if (prev !== undefined) throw new CocoInputError(`${file}: duplicate category id ${c.id} (categories[${prev}] and categories[${i}])`);
    seenCat.set(c.id, i);
  });
  const imgIds = Float64Array.from([...seenImg.keys()]).sort();
  const catIds = Float64Array.from([...seenCat.keys()]).sort();
  const imageIndex = new Map<number, number>(Array.from(imgIds, (id, i) => [id, i]));
  const catIndex = new Map<number, number>(Array.from(catIds, (id, i) => [id, i]));
  const nImg = imgIds.length;

  const bucketOf = new Int32Array(annotations.length);
  const counts = new Int32Array(catIds.length * nImg + 1);
  const seenAnn = new Map<number, number>();
  annotations.forEach((a, i) => {
    const where = `${file}: annotations[${i}]`;
    if (a === null || typeof a !== 'object') throw new CocoInputError(`${where} must be an object`);
    if (!isNum(a.id)) throw new CocoInputError(`${where}.id must be a number, got ${JSON.stringify(a.id)}`);
    const prev = seenAnn.get(a.id);
    if (prev !== undefined) throw new CocoInputError(`${file}: duplicate annotation id ${a.id} (annotations[${prev}] and annotations[${i}])`);
    seenAnn.set(a.id, i);
    const ii = imageIndex.get(a.image_id as number);
    if (ii === undefined) throw new CocoInputError(`${where} (id ${a.id}): image_id ${JSON.stringify(a.image_id)} is not in images`);
    const ci = catIndex.get(a.category_id as number);
    if (ci === undefined) throw new CocoInputError(`${where} (id ${a.id}): category_id ${JSON.stringify(a.category_id)} is not in categories`);
    checkBox(`${where} (id ${a.id})`, a.bbox);
    if (!isNum(a.area) || a.area < 0) throw new CocoInputError(`${where} (id ${a.id}): area must be a finite number >= 0, got ${JSON.stringify(a.area)}`);
    if (a.iscrowd !== undefined && a.iscrowd !== 0 && a.iscrowd !== 1 && a.iscrowd !== true && a.iscrowd !== false) {
      throw new CocoInputError(`${where} (id ${a.id}): iscrowd must be 0 or 1, got ${JSON.stringify(a.iscrowd)}`);
    }
    const b = ci * nImg + ii;
    bucketOf[i] = b;
    counts[b + 1]++;
  });
  const gtStart = new Int32Array(catIds.length * nImg + 1);
  for (let b = 0; b < catIds.length * nImg; b++) gtStart[b + 1] = gtStart[b] + counts[b + 1];
  const n = annotations.length;
  const fill = gtStart.slice(0, -1);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const w = new Float64Array(n);
  const h = new Float64Array(n);
  const area = new Float64Array(n);
  const crowd = new Uint8Array(n);
  const id = new Float64Array(n);
  const source = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = annotations[i];
    const p = fill[bucketOf[i]]++;
    const bb = a.bbox as number[];
    x[p] = bb[0];
    y[p] = bb[1];
    w[p] = bb[2];
    h[p] = bb[3];
    area[p] = a.area as number;
    crowd[p] = a.iscrowd ? 1 : 0;
    id[p] = a.id as number;
    source[p] = i;
  }
  const catNames = Array.from(catIds, (cid) => String(categories[seenCat.get(cid)!].name ?? cid));
  const imagesSorted = Array.from(imgIds, (iid) => images[seenImg.get(iid)!]);
  return { index: { imgIds, catIds, catNames, gtStart, x, y, w, h, area, crowd, id, source }, imageIndex, catIndex, images: imagesSorted, annotations };
}

export interface LoadedDt {
  index: CocoDtIndex;
  /** Detections dropped because their category is not in the ground truth (pycocotools does the same). */
  droppedUnknownCategory: number;
  total: number;
}

/** Validates and indexes a results list against indexed ground truth. */
export function indexDetections(data: unknown, gt: LoadedGt, file = 'results'): LoadedDt {
  if (!Array.isArray(data)) throw new CocoInputError(`${file}: a results file must be a list of detections, got ${typeName(data)}`);
  const nImg = gt.index.imgIds.length;
  const nB = gt.index.catIds.length * nImg;
  const n = data.length;
  const bucketOf = new Int32Array(n);
  const counts = new Int32Array(nB + 1);
  let dropped = 0;
  const { imageIndex, catIndex } = gt;
  for (let i = 0; i < n; i++) {
    const r = data[i] as Record<string, unknown>;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new CocoInputError(`${file}: [${i}] must be an object, got ${typeName(r)}`);
    const ii = imageIndex.get(r.image_id as number);
    if (ii === undefined) {
      throw new CocoInputError(`${file}: [${i}]: image_id ${JSON.stringify(r.image_id)} is not an image of the ground truth`);
    }
    if (!isNum(r.score)) throw new CocoInputError(`${file}: [${i}] (image ${r.image_id}): score must be a finite number, got ${JSON.stringify(r.score)}`);
    const bb = r.bbox as number[];
    if (!(Array.isArray(bb) && bb.length === 4 && isNum(bb[0]) && isNum(bb[1]) && isNum(bb[2]) && isNum(bb[3]) && bb[2] >= 0 && bb[3] >= 0)) {
      checkBox(`${file}: [${i}] (image ${r.image_id})`, bb);
    }
    if (!isNum(r.category_id)) throw new CocoInputError(`${file}: [${i}] (image ${r.image_id}): category_id must be a number, got ${JSON.stringify(r.category_id)}`);
    const ci = catIndex.get(r.category_id);
    if (ci === undefined) {
      dropped++;
      bucketOf[i] = -1;
      continue;
    }
    const b = ci * nImg + ii;
    bucketOf[i] = b;
    counts[b + 1]++;
  }
  const dtStart = new Int32Array(nB + 1);
  for (let b = 0; b < nB; b++) dtStart[b + 1] = dtStart[b] + counts[b + 1];
  const kept = n - dropped;
  const fill = dtStart.slice(0, -1);
  const x = new Float64Array(kept);
  const y = new Float64Array(kept);
  const w = new Float64Array(kept);
  const h = new Float64Array(kept);
  const score = new Float64Array(kept);
  const source = new Int32Array(kept);
  for (let i = 0; i < n; i++) {
    const b = bucketOf[i];
    if (b < 0) continue;
    const r = data[i] as { bbox: number[]; score: number };
    const p = fill[b]++;
    x[p] = r.bbox[0];
    y[p] = r.bbox[1];
    w[p] = r.bbox[2];
    h[p] = r.bbox[3];
    score[p] = r.score;
    source[p] = i;
  }
  return { index: { dtStart, x, y, w, h, score, source }, droppedUnknownCategory: dropped, total: n };
}

export function loadGroundTruth(file: string): LoadedGt {
  return indexGroundTruth(readJson(file, 'ground truth'), file);
}

export function loadDetections(file: string, gt: LoadedGt): LoadedDt {
  return indexDetections(readJson(file, 'results'), gt, file);
}
