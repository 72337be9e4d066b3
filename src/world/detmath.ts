/**
 * Deterministic math for the renderer. +, -, *, / and sqrt are correctly rounded in IEEE 754,
 * so they give the same bits on every machine; Math.exp, Math.sin and friends are not specified
 * that tightly (engines may differ in the last bit, and one bit can flip a rounded pixel). The
 * world uses only the functions below, built from the exact operations.
 */

import { seededRandom } from '../files/prng.js';

/** e^x by (1 + x/2^k)^(2^k) with k = 16 after splitting off whole multiples of ln 2. Rel. error ~1e-6: plenty for pixels. */
export function dexp(x: number): number {
  if (x < -700) return 0;
  const LN2 = 0.6931471805599453;
  const n = Math.round(x / LN2);
  const r = x - n * LN2;
  let y = 1 + r / 65536;
  for (let i = 0; i < 16; i++) y *= y;
  let scale = 1;
  if (n > 0) for (let i = 0; i < n; i++) scale *= 2;
  else for (let i = 0; i < -n; i++) scale *= 0.5;
  return y * scale;
}

/** sin(x): reduce to [-pi, pi], then a Taylor polynomial to the 15th power (abs. error < 1e-6). */
export function dsin(x: number): number {
  const TWO_PI = 6.283185307179586;
  let r = x - Math.round(x / TWO_PI) * TWO_PI;
  if (r > Math.PI / 2) r = Math.PI - r;
  else if (r < -Math.PI / 2) r = -Math.PI - r;
  const r2 = r * r;
  return r * (1 - (r2 / 6) * (1 - (r2 / 20) * (1 - (r2 / 42) * (1 - (r2 / 72) * (1 - (r2 / 110) * (1 - r2 / 156))))));
}

export function dcos(x: number): number {
  return dsin(x + Math.PI / 2);
}

export const clamp = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);

/** A seeded PRNG (src/files/prng.ts's mulberry32) with the draws the world needs. */
export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hiInclusive: number): number {
    return lo + Math.floor(this.next() * (hiInclusive - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** Weighted choice. */
  choose<T extends string>(weights: Readonly<Record<T, number>>): T {
    const entries = Object.entries(weights) as [T, number][];
    const total = entries.reduce((a, [, w]) => a + w, 0);
    let x = this.next() * total;
    for (const [k, w] of entries) {
      x -= w;
      if (x < 0) return k;
    }
    return entries[entries.length - 1][0];
  }
  /** Approximately normal (Irwin-Hall of 6 uniforms, scaled): exact arithmetic only. */
  normal(mean = 0, sd = 1): number {
    let s = 0;
    for (let i = 0; i < 6; i++) s += this.next();
    return mean + sd * (s - 3) * 1.4142135623730951;
  }
}

/** A stable 32-bit hash of strings and numbers (FNV-1a), for deriving seeds. */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    const s = String(p);
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 0x2f;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const FNV_PRIME = 0x01000193;
const digitScratch = new Int32Array(12);

/** One part of hashSeed for an integer |n| < 2^31: the FNV-1a of String(n), then the 0x2f separator. */
function fnvInt(h: number, n: number): number {
  if (n < 0) {
    h = Math.imul(h ^ 45, FNV_PRIME); // '-'
    n = -n;
  }
  let k = 0;
  do {
    const q = (n / 10) | 0;
    digitScratch[k++] = n - q * 10;
    n = q;
  } while (n > 0);
  while (k > 0) h = Math.imul(h ^ (48 + digitScratch[--k]), FNV_PRIME);
  return Math.imul(h ^ 0x2f, FNV_PRIME);
}

/**
 * hashSeed(a, b) for two numbers, the same 32 bits, without building strings when both are
 * integers of magnitude below 2^31 (-0 is "0", as String gives); anything else goes to hashSeed.
 */
export function hashSeed2(a: number, b: number): number {
  if (!(a === (a | 0) && b === (b | 0)) || a === -2147483648 || b === -2147483648) return hashSeed(a, b);
  return fnvInt(fnvInt(0x811c9dc5 | 0, a), b) >>> 0;
}
