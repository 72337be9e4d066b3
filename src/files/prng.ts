/**
 * The one seeded PRNG of paddock: mulberry32, integer arithmetic only, so a seed gives the same
 * sequence on every machine (the world's scenes, bootstrap replicates, benchmark inputs).
 */

/** A function returning uniforms in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
