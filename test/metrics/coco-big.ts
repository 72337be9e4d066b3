/**
 * A deterministic COCO case with as many categories as images (20,000 x 20,000 and up), built so
 * that pycocotools's numbers are known in closed form: the oracle below derives them from the
 * design (each category's kind and box size), never from the evaluator.
 *
 * Design, for n images and n categories:
 * - 45% of the categories (spread over the sorted ids) have ground truth: exactly two objects,
 *   on two different images; 90% of the images hold one object each, the last 10% none.
 * - A category with ground truth is one of four kinds (j mod 4), with its two objects A and B:
 *     perfect: A and B detected exactly, plus a low-scored false positive on another image;
 *     half:    A detected exactly, B missed;
 *     loose:   A detected exactly, B by a box shifted by a fifth of its width (IoU 2/3, so a
 *              true positive at IoU 0.50 to 0.65 and a false positive from 0.70 on);
 *     none:    nothing detected.
 * - Box sizes by (j / 4) mod 3: 20 x 20 (small), 50 x 50 (medium), 120 x 120 (large), area = w*h.
 * - Categories without ground truth get false positives on the images without objects (their
 *   AP is -1, as pycocotools says), and one detection names a category that does not exist
 *   (dropped). Ids are non-contiguous and listed out of order; detections are shuffled.
 */

export type BigKind = 'perfect' | 'half' | 'loose' | 'none';
export type BigSize = 'small' | 'medium' | 'large';

export interface BigCocoCase {
  gt: { images: { id: number; width: number; height: number }[]; annotations: Record<string, unknown>[]; categories: { id: number; name: string }[] };
  dt: { image_id: number; category_id: number; bbox: number[]; score: number }[];
  /** The design of each category with ground truth, by category id. */
  design: Map<number, { kind: BigKind; size: BigSize }>;
  /** All category ids, ascending. */
  categoryIds: number[];
  /** Detections whose category is not in the ground truth. */
  droppedDetections: number;
}

const KINDS: BigKind[] = ['perfect', 'half', 'loose', 'none'];
const SIZES: [BigSize, number][] = [
  ['small', 20],
  ['medium', 50],
  ['large', 120],
];
const STEP = 7919; // a prime: image i (of the first 2 * gtCats) holds category (i * STEP) mod gtCats

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The case for `n` images and `n` categories (n >= 40). */
export function bigCocoCase(n: number): BigCocoCase {
  const gtCats = Math.floor(0.45 * n);
  if (n < 40 || gcd(STEP, gtCats) !== 1) throw new Error(`bigCocoCase: n = ${n} does not fit the design`);
  const imageId = (i: number) => 2 * i + 1;
  // Category with ground truth j sits at position floor(j * n / gtCats) among the sorted categories.
  const categoryId = (pos: number) => 3 * pos + 5;
  const gtPos = (j: number) => Math.floor((j * n) / gtCats);
  const isGtPos = new Uint8Array(n);
  for (let j = 0; j < gtCats; j++) isGtPos[gtPos(j)] = 1;
  const noGtPos: number[] = [];
  for (let p = 0; p < n; p++) if (!isGtPos[p]) noGtPos.push(p);

  const images = Array.from({ length: n }, (_, i) => ({ id: imageId(n - 1 - i), width: 640, height: 480 }));
  const categories = Array.from({ length: n }, (_, p) => ({ id: categoryId(n - 1 - p), name: `c${categoryId(n - 1 - p)}` }));
  const annotations: Record<string, unknown>[] = [];
  const dt: BigCocoCase['dt'] = [];
  const design = new Map<number, { kind: BigKind; size: BigSize }>();
  const boxAt = (i: number, w: number) => [10 + (i % 37) * 11, 10 + (i % 23) * 13, w, w];

  for (let i = 0; i < 2 * gtCats; i++) {
    const j = (i * STEP) % gtCats;
    const cid = categoryId(gtPos(j));
    const [size, w] = SIZES[Math.floor(j / 4) % 3];
    const kind = KINDS[j % 4];
    design.set(cid, { kind, size });
    const box = boxAt(i, w);
    annotations.push({ id: 100 + i, image_id: imageId(i), category_id: cid, bbox: box, area: w * w, iscrowd: 0 });
    const first = i < gtCats; // object A (the first image of the category) or B
    const det = (bbox: number[], score: number, image = i) => dt.push({ image_id: imageId(image), category_id: cid, bbox, score });
    if (kind === 'perfect') {
      det(box, first ? 0.9 : 0.8);
      if (first) det(boxAt(i + 1, w), 0.05, i + 1);
    } else if (kind === 'half') {
      if (first) det(box, 0.7);
    } else if (kind === 'loose') {
      det(first ? box : [box[0] + w / 5, box[1], w, w], first ? 0.9 : 0.6);
    }
  }
  for (let i = 2 * gtCats; i < n; i++) {
    const cid = categoryId(noGtPos[(i * 31) % noGtPos.length]);
    dt.push({ image_id: imageId(i), category_id: cid, bbox: boxAt(i, 30), score: 0.5 });
  }
  dt.push({ image_id: imageId(0), category_id: 2, bbox: [1, 1, 5, 5], score: 0.99 });
  // A fixed shuffle (a linear congruential generator), so file order is not bucket order.
  let seed = 12345;
  for (let k = dt.length - 1; k > 0; k--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const r = seed % (k + 1);
    [dt[k], dt[r]] = [dt[r], dt[k]];
  }
  const categoryIds = Array.from({ length: n }, (_, p) => categoryId(p));
  return { gt: { images, annotations, categories }, dt, design, categoryIds, droppedDetections: 1 };
}

/**
 * The 12 stats and per-category values pycocotools gives for this design, in closed form. Every
 * interpolated precision value of the design is 1 or 0 (to within a rounding of 1e-16: the first
 * true positive's precision is 1 / (1 + eps)) and every recall is 1, 1/2 or 0, so each mean is a
 * count over a count, computed exactly in integers and divided once.
 */
export function bigCocoExpected(design: BigCocoCase['design'], categoryIds: readonly number[]) {
  // How many of the 101 recall points have precision 1, per kind and IoU threshold t
  // (0.50 + 0.05 t). A curve that stops at recall 1/2 has precision 1 at r = 0.00 .. 0.50: 51.
  const onesAt = (kind: BigKind, t: number) => (kind === 'perfect' ? 101 : kind === 'half' ? 51 : kind === 'loose' ? (t <= 3 ? 101 : 51) : 0);
  // Recall in halves: both objects found 2, one 1, none 0.
  const halvesAt = (kind: BigKind, t: number) => (kind === 'perfect' ? 2 : kind === 'half' ? 1 : kind === 'loose' ? (t <= 3 ? 2 : 1) : 0);
  const ts = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const cats = [...design.values()];
  const of = (size?: BigSize) => cats.filter((c) => !size || c.size === size);
  /** Mean precision over the thresholds `tsUsed`, the 101 recall points and the categories `cs`. */
  const ap = (cs: typeof cats, tsUsed = ts) => (cs.length === 0 ? -1 : sum(cs.map((c) => sum(tsUsed.map((t) => onesAt(c.kind, t))))) / (cs.length * tsUsed.length * 101));
  const ar = (cs: typeof cats) => (cs.length === 0 ? -1 : sum(cs.map((c) => sum(ts.map((t) => halvesAt(c.kind, t))))) / (cs.length * ts.length * 2));
  const stats = {
    AP: ap(of()),
    AP50: ap(of(), [0]),
    AP75: ap(of(), [5]),
    APs: ap(of('small')),
    APm: ap(of('medium')),
    APl: ap(of('large')),
    // One detection per (category, image) pair: maxDets 1, 10 and 100 keep the same ones.
    AR1: ar(of()),
    AR10: ar(of()),
    AR100: ar(of()),
    ARs: ar(of('small')),
    ARm: ar(of('medium')),
    ARl: ar(of('large')),
  };
  const perCategory = categoryIds.map((id) => {
    const d = design.get(id);
    if (!d) return [id, -1, -1, -1, -1];
    return [id, ap([d]), ap([d], [0]), ap([d], [5]), ar([d])];
  });
  return { stats, perCategory };
}
