/**
 * OpenSCENARIO 1.2/1.3 ParameterValueDistribution files expanded into parameter sets, one per
 * run, to apply over a scenario's global ParameterDeclarations (src/sim/scenario.ts loadScenario).
 *
 * Deterministic: every DeterministicSingleParameterDistribution (a DistributionSet, or a
 * DistributionRange from lowerLimit to upperLimit by stepWidth) and every
 * DeterministicMultiParameterDistribution (a ValueSetDistribution's ParameterValueSets) is one
 * factor; the sets are their cartesian product, the first factor varying slowest (file order).
 * esmini's cut-in_parameter_set.xosc gives 2 x 2 x 3 = 12, as esmini prints.
 *
 * Stochastic: numberOfTestRuns sets, each parameter drawn in file order from a generator seeded
 * by randomSeed (src/world/detmath.ts Rng), so a file always gives the same sets. A Range on a
 * Normal, LogNormal or Poisson draw truncates it (draws outside are redrawn).
 */
import { XMLValidator } from 'fast-xml-parser';
import { InputError } from '../files/input-error.js';
import { Reader, kid, kids, parser, raw, type El } from '../replay/xosc.js';
import { Rng } from '../world/detmath.js';

export type ParameterSet = Record<string, string | number | boolean>;

/** Redraws before a truncated distribution gives up (a Range that holds almost none of the mass). */
const MAX_REDRAWS = 10_000;

/** A value as written: numbers and booleans typed, everything else the text. */
function typed(v: string): string | number | boolean {
  if (v === 'true' || v === 'false') return v === 'true';
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) ? n : v;
}

/** Rounds away the float noise of lower + i * step (1.1 + 2 * 0.2 = 1.5000000000000002). */
const clean = (x: number): number => Number(x.toPrecision(12));

function number(r: Reader, n: El, name: string, element: string): number {
  const t = raw(n, name);
  if (t === undefined) r.fail(n, `${element} has no ${name}`);
  const v = Number(t);
  if (t!.trim() === '' || !Number.isFinite(v)) r.fail(n, `${element} ${name}="${t}" is not a number`);
  return v;
}

function range(r: Reader, n: El | undefined, where: El, element: string): [number, number] {
  if (!n) return r.fail(where, `${element} has no Range`);
  const lo = number(r, n, 'lowerLimit', 'Range');
  const hi = number(r, n, 'upperLimit', 'Range');
  if (hi < lo) r.fail(n, `Range upperLimit ${hi} is below lowerLimit ${lo}`);
  return [lo, hi];
}

function deterministic(r: Reader, det: El): ParameterSet[] {
  const factors: ParameterSet[][] = [];
  // The children in file order (the parser keeps each element name's list; the metadata keeps positions).
  const children = [...kids(det, 'DeterministicSingleParameterDistribution'), ...kids(det, 'DeterministicMultiParameterDistribution')].sort((a, b) => (r.lineOf(a) ?? 0) - (r.lineOf(b) ?? 0));
  for (const c of children) {
    const name = raw(c, 'parameterName');
    if (name !== undefined) {
      const set = kid(c, 'DistributionSet');
      const rng = kid(c, 'DistributionRange');
      if (set) factors.push(kids(set, 'Element').map((e) => ({ [name]: typed(raw(e, 'value') ?? r.fail(e, 'Element has no value')) })));
      else if (rng) {
        const step = number(r, rng, 'stepWidth', 'DistributionRange');
        if (!(step > 0)) r.fail(rng, `DistributionRange stepWidth ${step} is not positive`);
        const [lo, hi] = range(r, kid(rng, 'Range'), rng, 'DistributionRange');
        const values: ParameterSet[] = [];
        for (let i = 0; lo + i * step <= hi + step * 1e-9; i++) values.push({ [name]: clean(lo + i * step) });
        factors.push(values);
      } else if (kid(c, 'UserDefinedDistribution')) r.fail(kid(c, 'UserDefinedDistribution'), 'UserDefinedDistribution is not supported by paddock (supported: DistributionSet, DistributionRange)');
      else r.fail(c, `DeterministicSingleParameterDistribution ${name} has neither a DistributionSet nor a DistributionRange`);
      continue;
    }
    const vs = kid(c, 'ValueSetDistribution') ?? r.fail(c, 'DeterministicMultiParameterDistribution has no ValueSetDistribution');
    factors.push(
      kids(vs, 'ParameterValueSet').map((s) => {
        const out: ParameterSet = {};
        for (const a of kids(s, 'ParameterAssignment')) out[raw(a, 'parameterRef') ?? r.fail(a, 'ParameterAssignment has no parameterRef')] = typed(raw(a, 'value') ?? r.fail(a, 'ParameterAssignment has no value'));
        return out;
      }),
    );
  }
  let sets: ParameterSet[] = [{}];
  for (const f of factors) sets = sets.flatMap((s) => f.map((v) => ({ ...s, ...v })));
  return factors.length === 0 ? [] : sets;
}

/** A standard normal draw (Box-Muller on two uniforms in (0, 1]). */
function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Knuth's multiplication method; fine for the small means scenario parameters have. */
function poisson(rng: Rng, mean: number): number {
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rng.next();
  } while (p > l);
  return k - 1;
}

function truncated(r: Reader, n: El, draw: () => number, lim: [number, number] | undefined): number {
  if (!lim) return draw();
  for (let i = 0; i < MAX_REDRAWS; i++) {
    const x = draw();
    if (x >= lim[0] && x <= lim[1]) return x;
  }
  return r.fail(n, `no draw in ${MAX_REDRAWS} fell in the Range [${lim[0]}, ${lim[1]}]`);
}

function stochastic(r: Reader, st: El): ParameterSet[] {
  const runs = number(r, st, 'numberOfTestRuns', 'Stochastic');
  if (!Number.isInteger(runs) || runs < 0) r.fail(st, `numberOfTestRuns ${runs} is not a whole number`);
  const seed = raw(st, 'randomSeed') === undefined ? 0 : number(r, st, 'randomSeed', 'Stochastic');
  const rng = new Rng(Math.trunc(seed) >>> 0);
  const dists = kids(st, 'StochasticDistribution');
  const sets: ParameterSet[] = [];
  for (let i = 0; i < runs; i++) {
    const set: ParameterSet = {};
    for (const d of dists) {
      const name = raw(d, 'parameterName') ?? r.fail(d, 'StochasticDistribution has no parameterName');
      const [kind] = Object.keys(d).filter((k) => !k.startsWith('@_'));
      const el = kid(d, kind) ?? r.fail(d, `StochasticDistribution ${name} has no distribution`);
      const lim = kid(el, 'Range') ? range(r, kid(el, 'Range'), el, kind) : undefined;
      switch (kind) {
        case 'NormalDistribution': {
          const mean = number(r, el, 'expectedValue', kind);
          const sd = Math.sqrt(number(r, el, 'variance', kind));
          set[name] = truncated(r, el, () => mean + sd * gaussian(rng), lim);
          break;
        }
        case 'LogNormalDistribution': {
          // expectedValue and variance are the log-normal variable's own: mu and sigma^2 of its logarithm follow from them.
          const m = number(r, el, 'expectedValue', kind);
          const v = number(r, el, 'variance', kind);
          if (!(m > 0)) r.fail(el, `LogNormalDistribution expectedValue ${m} is not positive`);
          const s2 = Math.log(1 + v / (m * m));
          const mu = Math.log(m) - s2 / 2;
          set[name] = truncated(r, el, () => Math.exp(mu + Math.sqrt(s2) * gaussian(rng)), lim);
          break;
        }
        case 'UniformDistribution': {
          const [lo, hi] = lim ?? r.fail(el, 'UniformDistribution has no Range');
          set[name] = rng.uniform(lo, hi);
          break;
        }
        case 'PoissonDistribution': {
          const mean = number(r, el, 'expectedValue', kind);
          set[name] = truncated(r, el, () => poisson(rng, mean), lim);
          break;
        }
        case 'Histogram': {
          const bins = kids(el, 'Bin').map((b) => ({ w: number(r, b, 'weight', 'Bin'), lim: range(r, kid(b, 'Range'), b, 'Bin') }));
          const total = bins.reduce((a, b) => a + b.w, 0);
          if (!(total > 0)) r.fail(el, 'Histogram bins have no weight');
          let x = rng.next() * total;
          const bin = bins.find((b) => (x -= b.w) < 0) ?? bins[bins.length - 1];
          set[name] = rng.uniform(bin.lim[0], bin.lim[1]);
          break;
        }
        case 'ProbabilityDistributionSet': {
          const els = kids(el, 'Element').map((e) => ({ v: raw(e, 'value') ?? r.fail(e, 'Element has no value'), w: number(r, e, 'weight', 'Element') }));
          const total = els.reduce((a, b) => a + b.w, 0);
          if (!(total > 0)) r.fail(el, 'ProbabilityDistributionSet elements have no weight');
          let x = rng.next() * total;
          set[name] = typed((els.find((e) => (x -= e.w) < 0) ?? els[els.length - 1]).v);
          break;
        }
        default:
          r.fail(el, `${kind} is not supported by paddock (supported: NormalDistribution, LogNormalDistribution, UniformDistribution, PoissonDistribution, Histogram, ProbabilityDistributionSet)`);
      }
    }
    sets.push(set);
  }
  return sets;
}

/**
 * A ParameterValueDistribution file's parameter sets (see the module's note) and the scenario it
 * names. Malformed XML, bad numbers and anything it cannot expand: an InputError at file:line.
 */
export function expandDistribution(text: string, file: string): { scenarioFile?: string; sets: ParameterSet[] } {
  // A UTF-8 byte-order mark (esmini's file has one) is no XML.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const valid = XMLValidator.validate(body);
  if (valid !== true) throw new InputError(`${file}:${valid.err.line}:${valid.err.col}: not well-formed XML: ${valid.err.msg}`);
  const r = new Reader(file, body);
  const root = kid(parser().parse(body) as El, 'OpenSCENARIO') ?? r.fail(undefined, 'the root element is not OpenSCENARIO');
  const pvd = kid(root, 'ParameterValueDistribution') ?? r.fail(root, 'this file has no ParameterValueDistribution (it is not a parameter variation)');
  const scenarioFile = raw(kid(pvd, 'ScenarioFile'), 'filepath');
  const det = kid(pvd, 'Deterministic');
  const st = kid(pvd, 'Stochastic');
  const sets = det ? deterministic(r, det) : st ? stochastic(r, st) : r.fail(pvd, 'ParameterValueDistribution has neither Deterministic nor Stochastic');
  return { ...(scenarioFile !== undefined ? { scenarioFile } : {}), sets };
}
