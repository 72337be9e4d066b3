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
import { InputError } from '../files/input-error.js';
import type { CocoDtIndex, CocoGtIndex } from './coco.js';

/** A ground-truth or results file that is not valid COCO; the message names the file and the entry. */
export class CocoInputError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'CocoInputError';
  }
}

/**
 * Where each entry goes when entries are sorted by (category index, image index), input order
 * within a pair: two stable counting sorts (by image, then by category), O(entries + images +
 * categories). Entries with category -1 are left out (position -1). Returns the positions, the
 * number kept and the K + 1 category offsets of the sorted order.
 */
function sortByCategoryAndImage(cat: Int32Array, img: Int32Array, nCat: number, nImg: number): { position: Int32Array; kept: number; catStart: Int32Array } {
  const n = cat.length;
  const imgStart = new Int32Array(nImg + 1);
  const catStart = new Int32Array(nCat + 1);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    if (cat[i] < 0) continue;
    imgStart[img[i] + 1]++;
    catStart[cat[i] + 1]++;
    kept++;
  }
  for (let i = 0; i < nImg; i++) imgStart[i + 1] += imgStart[i];
  for (let c = 0; c < nCat; c++) catStart[c + 1] += catStart[c];
  const byImage = new Int32Array(kept);
  for (let i = 0; i < n; i++) if (cat[i] >= 0) byImage[imgStart[img[i]]++] = i;
  const position = new Int32Array(n).fill(-1);
  const fill = catStart.slice(0, nCat);
  for (let j = 0; j < kept; j++) {
    const i = byImage[j];
    position[i] = fill[cat[i]]++;
  }
  return { position, kept, catStart };
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

  const n = annotations.length;
  const annCat = new Int32Array(n);
  const annImg = new Int32Array(n);
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
    annCat[i] = ci;
    annImg[i] = ii;
  });
  // Sparse (category, image) order: only pairs that hold an annotation take room.
  const { position, catStart } = sortByCategoryAndImage(annCat, annImg, catIds.length, nImg);
  const img = new Int32Array(n);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const w = new Float64Array(n);
  const h = new Float64Array(n);
  const area = new Float64Array(n);
  const crowd = new Uint8Array(n);
  const id = new Float64Array(n);
  const source = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = position[i];
    const a = annotations[i];
    const bb = a.bbox as number[];
    img[p] = annImg[i];
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
  return { index: { imgIds, catIds, catNames, catStart, img, x, y, w, h, area, crowd, id, source }, imageIndex, catIndex, images: imagesSorted, annotations };
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
  const n = data.length;
  const detCat = new Int32Array(n);
  const detImg = new Int32Array(n);
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
      detCat[i] = -1;
      continue;
    }
    detCat[i] = ci;
    detImg[i] = ii;
  }
  const { position, kept, catStart } = sortByCategoryAndImage(detCat, detImg, gt.index.catIds.length, nImg);
  const img = new Int32Array(kept);
  const x = new Float64Array(kept);
  const y = new Float64Array(kept);
  const w = new Float64Array(kept);
  const h = new Float64Array(kept);
  const score = new Float64Array(kept);
  const source = new Int32Array(kept);
  for (let i = 0; i < n; i++) {
    const p = position[i];
    if (p < 0) continue;
    const r = data[i] as { bbox: number[]; score: number };
    img[p] = detImg[i];
    x[p] = r.bbox[0];
    y[p] = r.bbox[1];
    w[p] = r.bbox[2];
    h[p] = r.bbox[3];
    score[p] = r.score;
    source[p] = i;
  }
  return { index: { catStart, img, x, y, w, h, score, source }, droppedUnknownCategory: dropped, total: n };
}

export function loadGroundTruth(file: string): LoadedGt {
  return indexGroundTruth(readJson(file, 'ground truth'), file);
}

export function loadDetections(file: string, gt: LoadedGt): LoadedDt {
  return indexDetections(readJson(file, 'results'), gt, file);
}
