/**
 * Replay-sized tracking sequences for bench/tracking.ts, as MOTChallenge text: 20 sequences of
 * 300 frames (30 s at 10 Hz, a world drive's length), 10-30 objects each on a 1920 x 1080 image,
 * moving at near-constant velocity and bouncing off the edges, some entering late or leaving
 * early. Ground truth carries TrackEval's MOT17 cases too: a few objects are static_person
 * (class 7, a distractor: tracker boxes on them are removed) and a few rows are zero-marked
 * (conf 0, not evaluated). The tracker's output has box noise, misses, id swaps between two
 * objects, new ids after a miss, ghost tracks that live a few frames on nothing or beside an
 * object, and now and then a frame it lost entirely; rows inside a frame are shuffled.
 *
 * Seeded with src/files/prng.ts, so every machine writes the same bytes; the bench checks their
 * sha256 against the one bench/tracking/trackeval_recorded.json was made on.
 */
import { seededRandom } from '../../src/files/prng.js';

export const NUM_SEQUENCES = 20;
export const NUM_FRAMES = 300;
const IMAGE_W = 1920;
const IMAGE_H = 1080;

/** One sequence's three files. */
export interface MotText {
  name: string;
  gt: string;
  tracker: string;
  seqinfo: string;
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function poisson(r: () => number, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = r();
  while (p > limit) {
    k++;
    p *= r();
  }
  return k;
}

/** A number as the files hold it: two decimals, shortest form ("12.5", "0", "-3.07"). */
const num = (x: number) => String(Number(x.toFixed(2)) + 0);

interface SimObject {
  id: number;
  cls: number;
  start: number;
  end: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
  w: number;
  h: number;
}

interface Ghost {
  id: number;
  left: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
  w: number;
  h: number;
}

/** Sequence `k` (0-based) of the set; deterministic in k. */
export function trackingSequence(k: number): MotText {
  const r = seededRandom(0x7a11 + 7919 * k);
  const nObjects = 10 + Math.floor(r() * 21);
  const objects: SimObject[] = Array.from({ length: nObjects }, (_, i) => {
    const late = r() < 0.35;
    const start = late ? Math.floor(r() * 200) : 0;
    const end = r() < 0.35 ? Math.min(NUM_FRAMES, start + 40 + Math.floor(r() * 200)) : NUM_FRAMES;
    const h = 60 + r() * 180;
    return {
      id: i + 1,
      cls: r() < 0.06 ? 7 : 1,
      start,
      end,
      x: r() * (IMAGE_W - 200),
      y: r() * (IMAGE_H - 300),
      vx: gaussian(r) * 6,
      vy: gaussian(r) * 2,
      w: h * (0.35 + r() * 0.2),
      h,
    };
  });
  const missP = 0.04 + r() * 0.14;
  const jitter = 0.02 + r() * 0.06;
  const trackOf = new Map(objects.map((o) => [o.id, o.id]));
  let nextTrack = objects.length + 1;
  let nextGhost = 10_001;
  const ghosts: Ghost[] = [];
  const gtRows: string[] = [];
  const trRows: string[] = [];
  for (let f = 0; f < NUM_FRAMES; f++) {
    const present = objects.filter((o) => o.start <= f && f < o.end);
    // An id swap between two objects seen this frame (a tracker confusing neighbours).
    if (present.length >= 2 && r() < 0.01) {
      const a = present[Math.floor(r() * present.length)].id;
      const b = present[Math.floor(r() * present.length)].id;
      const ta = trackOf.get(a)!;
      trackOf.set(a, trackOf.get(b)!);
      trackOf.set(b, ta);
    }
    const frameTr: string[] = [];
    for (const o of present) {
      gtRows.push(`${f + 1},${o.id},${num(o.x)},${num(o.y)},${num(o.w)},${num(o.h)},${r() < 0.02 ? 0 : 1},${o.cls},1`);
      if (r() < missP) {
        if (r() < 0.1) trackOf.set(o.id, nextTrack++);
      } else {
        const w = o.w * (1 + jitter * gaussian(r));
        const h = o.h * (1 + jitter * gaussian(r));
        frameTr.push(`${f + 1},${trackOf.get(o.id)},${num(o.x + jitter * o.w * gaussian(r))},${num(o.y + jitter * o.h * gaussian(r))},${num(w)},${num(h)},${num(0.3 + 0.7 * r())},-1,-1,-1`);
      }
      o.x += o.vx + gaussian(r);
      o.y += o.vy + 0.5 * gaussian(r);
      if (o.x < 0 || o.x + o.w > IMAGE_W) o.vx = -o.vx;
      if (o.y < 0 || o.y + o.h > IMAGE_H) o.vy = -o.vy;
    }
    // Ghosts: born at about 0.2 a frame, beside an object or anywhere, living 1-15 frames.
    for (let n = poisson(r, 0.2); n > 0; n--) {
      const near = present.length > 0 && r() < 0.5 ? present[Math.floor(r() * present.length)] : undefined;
      const h = 60 + r() * 150;
      ghosts.push({
        id: nextGhost++,
        left: 1 + Math.floor(r() * 15),
        x: near ? near.x + near.w * (0.4 + 0.6 * r()) : r() * (IMAGE_W - 100),
        y: near ? near.y + 10 * gaussian(r) : r() * (IMAGE_H - 200),
        vx: gaussian(r) * 4,
        vy: gaussian(r),
        w: h * 0.45,
        h,
      });
    }
    for (const g of ghosts) {
      frameTr.push(`${f + 1},${g.id},${num(g.x)},${num(g.y)},${num(g.w)},${num(g.h)},${num(0.3 + 0.4 * r())},-1,-1,-1`);
      g.x += g.vx;
      g.y += g.vy;
      g.left--;
    }
    for (let i = ghosts.length - 1; i >= 0; i--) if (ghosts[i].left <= 0) ghosts.splice(i, 1);
    // A frame the tracker lost (1%), else its rows in a shuffled order.
    if (r() < 0.01) continue;
    for (let i = frameTr.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [frameTr[i], frameTr[j]] = [frameTr[j], frameTr[i]];
    }
    trRows.push(...frameTr);
  }
  const name = `seq_${String(k).padStart(2, '0')}`;
  const text = (rows: string[]) => (rows.length ? `${rows.join('\n')}\n` : '');
  return { name, gt: text(gtRows), tracker: text(trRows), seqinfo: `[Sequence]\nname=${name}\nframeRate=10\nseqLength=${NUM_FRAMES}\n` };
}
