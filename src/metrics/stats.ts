/**
 * Distributions and small exact tests shared by every stage: the normal and Student's t CDFs and
 * quantiles, the incomplete gamma and beta functions under them, Wilson's interval for a
 * proportion, the t interval for a mean, McNemar's exact test. Pure, no I/O. The bootstrap and
 * everything built on it (bounds, p-values, power) is src/metrics/inference.ts.
 */
// The special functions are Numerical Recipes' (3rd ed., 6.1-6.4): Lanczos log-gamma, the
// incomplete gamma by series / continued fraction, the incomplete beta by Lentz's continued
// fraction; quantiles by bisection on the CDF (monotone, so it cannot fail to converge).

const LANCZOS = [57.1562356658629235, -59.5979603554754912, 14.1360979747417471, -0.491913816097620199, 0.339946499848118887e-4, 0.465236289270485756e-4, -0.983744753048795646e-4, 0.158088703224912494e-3, -0.210264441724104883e-3, 0.217439618115212643e-3, -0.164318106536763890e-3, 0.844182239838527433e-4, -0.261908384015814087e-4, 0.368991826595316234e-5];

/** ln Gamma(x), x > 0. */
export function logGamma(x: number): number {
  let y = x;
  const tmp = x + 5.2421875;
  const t = (x + 0.5) * Math.log(tmp) - tmp;
  let ser = 0.999999999999997092;
  for (const c of LANCZOS) ser += c / ++y;
  return t + Math.log((2.5066282746310005 * ser) / x);
}

/** Regularized lower incomplete gamma P(a, x). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const lead = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < 10000; i++) {
      del *= x / ++ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-16) break;
    }
    return sum * Math.exp(lead);
  }
  return 1 - Math.exp(lead) * lentz((i) => -i * (i - a), (i) => x + 1 - a + 2 * i);
}

/** 1 / (b0 + a1 / (b1 + a2 / (b2 + ...))) by Lentz's method, as NR's gcf evaluates it. */
function lentz(aOf: (i: number) => number, bOf: (i: number) => number): number {
  const tiny = 1e-300;
  let b = bOf(0);
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = aOf(i);
    b = bOf(i);
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
export function betaI(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  if (x > (a + 1) / (a + b + 2)) return 1 - betaI(b, a, 1 - x);
  // NR's betacf: the even and odd coefficients of the continued fraction.
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return (front * h) / a;
}

/** Inverts a monotone increasing CDF on [lo, hi] by bisection to full double precision. */
export function invertCdf(cdf: (x: number) => number, p: number, lo: number, hi: number): number {
  for (let i = 0; i < 2000; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Standard normal CDF (through P(1/2, x^2/2)). */
export function normalCdf(x: number): number {
  const h = 0.5 * gammaP(0.5, (x * x) / 2);
  return x >= 0 ? 0.5 + h : 0.5 - h;
}

/** Standard normal quantile. */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  return invertCdf(normalCdf, p, -40, 40);
}

/** Student's t CDF with df degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * betaI(df / 2, 0.5, df / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

/** Student's t quantile with df degrees of freedom. */
export function studentTQuantile(p: number, df: number): number {
  if (p === 0.5) return 0;
  // Symmetric: solve in the upper half, where the bracket can grow until it holds p.
  const q = p > 0.5 ? p : 1 - p;
  let hi = 1;
  while (studentTCdf(hi, df) < q) hi *= 2;
  const t = invertCdf((x) => studentTCdf(x, df), q, 0, hi);
  return p > 0.5 ? t : -t;
}

/** A proportion with its Wilson score interval (Wilson 1927): good at 0 and at n small, where the Wald interval is not. */
export function rateWithInterval(k: number, n: number, level = 0.95): { rate: number; lo: number; hi: number; k: number; n: number; level: number } {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || k > n) throw new Error(`rateWithInterval: need integers 0 <= k <= n, got k=${k} n=${n}`);
  if (n === 0) return { rate: NaN, lo: 0, hi: 1, k, n, level };
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  // At k = 0 or n the interval touches the bound exactly; rounding must not leave it a hair off.
  return { rate: p, lo: k === 0 ? 0 : Math.max(0, centre - half), hi: k === n ? 1 : Math.min(1, centre + half), k, n, level };
}

/** A mean with its t interval (the sample's standard deviation, n - 1 degrees of freedom); the interval is NaN below two values. */
export function meanWithInterval(values: readonly number[], level = 0.95): { mean: number; lo: number; hi: number; sd: number; n: number; level: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, lo: NaN, hi: NaN, sd: NaN, n, level };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, lo: NaN, hi: NaN, sd: NaN, n, level };
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) * (v - mean), 0) / (n - 1));
  const half = studentTQuantile(1 - (1 - level) / 2, n - 1) * (sd / Math.sqrt(n));
  return { mean, lo: mean - half, hi: mean + half, sd, n, level };
}

/** Which way a paired test looks: 'greater' asks whether the candidate's values are higher than the baseline's. */
export type Alternative = 'two-sided' | 'greater' | 'less';

/** Binomial(n, 1/2) probabilities, exact in logs (n in the thousands stays finite). */
function halfBinomialPmf(k: number, n: number): number {
  return Math.exp(logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) - n * Math.LN2);
}

/**
 * McNemar's exact test for paired binary outcomes: b runs failed (collided) with the candidate
 * only, c with the baseline only; under "no difference" b ~ Binomial(b + c, 1/2), the test
 * scipy.stats.binomtest(b, b + c, 0.5) makes. 'greater': the candidate fails more often.
 */
export function mcnemarExact(b: number, c: number, alternative: Alternative = 'two-sided'): { b: number; c: number; n: number; p: number } {
  if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 0) throw new Error(`mcnemarExact: discordant counts must be non-negative integers, got b=${b} c=${c}`);
  const n = b + c;
  if (n === 0) return { b, c, n, p: 1 };
  const cdf = (k: number) => {
    let s = 0;
    for (let i = 0; i <= k; i++) s += halfBinomialPmf(i, n);
    return s;
  };
  let p: number;
  if (alternative === 'greater') p = cdf(n - b); // P(X >= b) = P(X <= n - b) by symmetry
  else if (alternative === 'less') p = cdf(b);
  else p = 2 * b === n ? 1 : 2 * cdf(Math.min(b, c));
  return { b, c, n, p: Math.min(1, p) };
}

