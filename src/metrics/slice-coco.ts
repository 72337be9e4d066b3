/**
 * COCO metrics of one slice: the frames whose metadata the slice selects, and (when the slice
 * names classes) only those classes' ground truth and detections.
 */
import { frameInSlice, sliceCountsClass, type Slice } from '../schema/manifest.js';
import { evaluateCoco, type CocoEvalResult } from './coco.js';
import { indexDetections, indexGroundTruth } from './coco-load.js';

interface CocoImage {
  id: number;
  weather: string;
  time_of_day: string;
  road_type: string;
  region: string;
  scene_id?: string;
}

export interface SliceResult {
  slice: string;
  frames: number;
  scenes: number;
  objects: number;
  result?: CocoEvalResult;
}

export function evaluateSlice(gt: { images: CocoImage[]; annotations: { image_id: number; category_id: number; iscrowd?: number }[]; categories: { id: number; name: string }[] }, dt: { image_id: number; category_id: number }[], slice: Slice): SliceResult {
  const images = gt.images.filter((im) => frameInSlice(slice, im));
  const ids = new Set(images.map((im) => im.id));
  const catIds = new Set(gt.categories.filter((c) => sliceCountsClass(slice, c.name)).map((c) => c.id));
  // A slice without classes keeps every annotation, even one of a category the file does not list.
  const keepCat = (c: number) => !slice.class || catIds.has(c);
  const annotations = gt.annotations.filter((a) => ids.has(a.image_id) && keepCat(a.category_id));
  const categories = gt.categories.filter((c) => keepCat(c.id));
  const sub = { images, annotations, categories };
  const objects = annotations.filter((a) => !a.iscrowd).length;
  const scenes = new Set(images.map((im) => im.scene_id)).size;
  if (images.length === 0) return { slice: slice.id, frames: 0, scenes: 0, objects: 0 };
  const g = indexGroundTruth(sub, `slice ${slice.id}`);
  const d = indexDetections(dt.filter((x) => ids.has(x.image_id) && keepCat(x.category_id)), g, `slice ${slice.id}`);
  return { slice: slice.id, frames: images.length, scenes, objects, result: evaluateCoco(g.index, d.index) };
}
