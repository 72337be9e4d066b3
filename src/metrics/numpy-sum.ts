/**
 * numpy's pairwise summation, the order np.add.reduce adds a contiguous float64 run in, so that
 * sums and means are the very doubles pycocotools and TrackEval compute (src/metrics/coco.ts,
 * src/metrics/tracking.ts): umath's loops, PW_BLOCKSIZE 128, over a[start .. start + n).
 */
export function pairwiseSum(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = [a[start], a[start + 1], a[start + 2], a[start + 3], a[start + 4], a[start + 5], a[start + 6], a[start + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      r[0] += a[start + i];
      r[1] += a[start + i + 1];
      r[2] += a[start + i + 2];
      r[3] += a[start + i + 3];
      r[4] += a[start + i + 4];
      r[5] += a[start + i + 5];
      r[6] += a[start + i + 6];
      r[7] += a[start + i + 7];
    }
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}
