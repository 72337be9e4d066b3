/**
 * Seeded, bounded mutations of real inputs for the fuzz suite: byte flips, cuts, repeats,
 * hostile tokens spliced into text, and structural changes to JSON (a value replaced by null, a
 * wrong type, a huge number, deep nesting). The same seed gives the same cases on every machine,
 * so a failure names its seed and case and is reproduced by running that case alone.
 */
import { seededRandom } from '../../src/files/prng.js';

/** Tokens that break readers which trust their input's shape. */
const HOSTILE = ['null', '[]', '{}', '-1', '0', '1e309', '-0', 'NaN', '""', '"', '\\', '\u0000', '&a', '*a', ': ', '\n- ', '\n  ', '!!binary', '<<: *a', '\uFEFF', '\uD800', '9'.repeat(40), '../../..', '/etc/passwd', 'true', '{"v":1}', '\t'];

export interface Mutant<T> {
  /** What was done, for the failure message. */
  how: string;
  value: T;
}

export type Rng = () => number;

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rng, n: number) => Math.floor(r() * n);

/** One random change to a byte buffer. */
export function mutateBytes(r: Rng, b: Uint8Array): Mutant<Uint8Array> {
  const out = Buffer.from(b);
  const k = int(r, 5);
  const at = int(r, Math.max(1, out.length));
  if (k === 0 && out.length) {
    const n = 1 + int(r, 8);
    for (let i = 0; i < n; i++) out[int(r, out.length)] ^= 1 << int(r, 8);
    return { how: `flipped ${n} bits`, value: out };
  }
  if (k === 1) return { how: `cut at ${at}`, value: out.subarray(0, at) };
  if (k === 2) {
    const len = 1 + int(r, 64);
    return { how: `removed ${len} bytes at ${at}`, value: Buffer.concat([out.subarray(0, at), out.subarray(at + len)]) };
  }
  if (k === 3) {
    const len = 1 + int(r, 64);
    return { how: `repeated ${len} bytes at ${at}`, value: Buffer.concat([out.subarray(0, at + len), out.subarray(at, at + len), out.subarray(at + len)]) };
  }
  const v = int(r, 256);
  out.fill(v, Math.min(at, out.length), Math.min(out.length, at + 1 + int(r, 16)));
  return { how: `filled with ${v} at ${at}`, value: out };
}

/** One random change to a text: a hostile token spliced in, a line cut, a line repeated, or a byte-level change. */
export function mutateText(r: Rng, text: string): Mutant<string> {
  const k = int(r, 4);
  if (k === 0) {
    const at = int(r, text.length + 1);
    const tok = pick(r, HOSTILE);
    return { how: `inserted ${JSON.stringify(tok)} at ${at}`, value: text.slice(0, at) + tok + text.slice(at) };
  }
  const lines = text.split('\n');
  if (k === 1) {
    const i = int(r, lines.length);
    return { how: `removed line ${i + 1}`, value: [...lines.slice(0, i), ...lines.slice(i + 1)].join('\n') };
  }
  if (k === 2) {
    const i = int(r, lines.length);
    return { how: `repeated line ${i + 1}`, value: [...lines.slice(0, i + 1), lines[i], ...lines.slice(i + 1)].join('\n') };
  }
  const m = mutateBytes(r, Buffer.from(text, 'utf8'));
  return { how: m.how, value: Buffer.from(m.value).toString('utf8') };
}

/** A value of a random wrong kind. */
function wrongValue(r: Rng): unknown {
  const k = int(r, 10);
  if (k === 0) return null;
  if (k === 1) return -1;
  if (k === 2) return 1e308;
  if (k === 3) return '';
  if (k === 4) return [];
  if (k === 5) return {};
  if (k === 6) return 'x'.repeat(1 + int(r, 300));
  if (k === 7) return [null];
  if (k === 8) {
    // Deep nesting: readers that recurse must not overflow the stack.
    let v: unknown = 0;
    for (let i = 0; i < 1000; i++) v = [v];
    return v;
  }
  return true;
}

/** Every path to a value in a JSON tree (bounded, breadth first). */
function paths(v: unknown, limit = 2000): (string | number)[][] {
  const out: (string | number)[][] = [[]];
  const queue: { v: unknown; p: (string | number)[] }[] = [{ v, p: [] }];
  while (queue.length && out.length < limit) {
    const { v: x, p } = queue.shift()!;
    // Not into deep nesting a mutant made: a path 1000 deep, nested again and again, overflows the stack.
    if (x && typeof x === 'object' && p.length < 32) {
      for (const [k, c] of Object.entries(x)) {
        const q = [...p, Array.isArray(x) ? Number(k) : k];
        out.push(q);
        queue.push({ v: c, p: q });
      }
    }
  }
  return out;
}

/** One structural change to a JSON value: a node replaced by a wrong kind, removed, or a key added. */
export function mutateJson(r: Rng, value: unknown): Mutant<unknown> {
  const copy = structuredClone(value);
  const ps = paths(copy);
  const p = pick(r, ps);
  if (p.length === 0) return { how: 'the whole document replaced', value: wrongValue(r) };
  const parent = p.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string, unknown>)[k as string], copy) as Record<string | number, unknown>;
  const key = p[p.length - 1];
  const k = int(r, 3);
  if (k === 0 && !Array.isArray(parent)) {
    delete parent[key];
    return { how: `removed ${p.join('.')}`, value: copy };
  }
  if (k === 1 && !Array.isArray(parent)) {
    parent[`fuzz_${int(r, 1000)}`] = wrongValue(r);
    return { how: `added a key beside ${p.join('.')}`, value: copy };
  }
  parent[key] = wrongValue(r);
  return { how: `replaced ${p.join('.')}`, value: copy };
}

/** `n` mutants of `seedInput`, the same for the same seed; each stacks one to `stack` mutations. */
export function* mutants<T>(seed: number, n: number, seedInput: T, mutate: (r: Rng, x: T) => Mutant<T>, stack = 3): Generator<Mutant<T> & { seed: number; index: number }> {
  const r = seededRandom(seed);
  for (let i = 0; i < n; i++) {
    let cur: Mutant<T> = { how: '', value: seedInput };
    const hows: string[] = [];
    for (let j = 0, m = 1 + int(r, stack); j < m; j++) {
      cur = mutate(r, cur.value);
      hows.push(cur.how);
    }
    yield { how: hows.join(', then '), value: cur.value, seed, index: i };
  }
}
