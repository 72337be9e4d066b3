/**
 * The COCO loader and evaluator cost what the input holds, not categories x images: files with
 * 20,000 images x 20,000 categories and 60,000 x 60,000 (coco-big.ts, a few MB each) are loaded
 * and evaluated in a child process with a small heap, its peak RSS (VmHWM) watched from /proc
 * while it runs and reported by the child at its end, and every number checked against the
 * closed-form oracle of the design (not against the evaluator). Before the sparse index the
 * 20k file took 6.5 GB and the 60k one could not allocate its buckets.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError, isInputError } from '../../src/files/input-error.js';
import { AREA_NAMES, evaluateCoco, STAT_NAMES } from '../../src/metrics/coco.js';
import { CocoInputError, indexDetections, indexGroundTruth } from '../../src/metrics/coco-load.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';
import { bigCocoCase, bigCocoExpected, type BigCocoCase } from './coco-big.js';

const CHILD = join(ROOT, 'build', 'test', `coco-big-child-${process.pid}.mjs`);
/** The child's JS heap limit, and the peak RSS it must stay under (the old evaluator: 6.5 GB at 20k). */
const HEAP_MIB = 384;
const RSS_LIMIT_MIB = 600;
/** Past this the watchdog kills the child, so a regression fails the test instead of the machine. */
const KILL_MIB = 1536;
const TOLERANCE = 1e-12;

let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  tmp = tempDir('paddock-coco-big-');
  mkdirSync(join(ROOT, 'build', 'test'), { recursive: true });
  await build({ entryPoints: [join(ROOT, 'test', 'metrics', 'coco-big-child.ts')], outfile: CHILD, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning', absWorkingDir: ROOT });
});
afterAll(() => {
  tmp.cleanup();
  rmSync(CHILD, { force: true });
});

function writeCase(n: number): { dir: string; c: BigCocoCase } {
  const c = bigCocoCase(n);
  const dir = join(tmp.dir, `n${n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'gt.json'), JSON.stringify(c.gt));
  writeFileSync(join(dir, 'dt.json'), JSON.stringify(c.dt));
  return { dir, c };
}

/** Peak RSS (VmHWM) of a live process in MiB, from /proc; undefined once it has exited. */
function peakRssMiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface ChildCase {
  dir: string;
  seconds: number;
  stats: Record<string, number>;
  perCategory: number[][];
  counts: { images: number; categories: number; detectionsKept: number };
  dropped: number;
}

/** Runs the child on the case folders; resolves with its report and the highest VmHWM seen. */
function runChild(dirs: string[]): Promise<{ code: number | null; stdout: string; stderr: string; watchedMiB: number; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MIB}`, CHILD, ...dirs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let watchedMiB = 0;
    let killed = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const watch = setInterval(() => {
      const peak = peakRssMiB(child.pid!);
      if (peak === undefined) return;
      watchedMiB = Math.max(watchedMiB, peak);
      if (peak > KILL_MIB && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    }, 25);
    child.on('error', (err) => {
      clearInterval(watch);
      reject(err);
    });
    child.on('close', (code) => {
      clearInterval(watch);
      resolve({ code, stdout, stderr, watchedMiB, killed });
    });
  });
}

function expectMatchesOracle(got: ChildCase, c: BigCocoCase, n: number): void {
  const want = bigCocoExpected(c.design, c.categoryIds);
  for (const s of STAT_NAMES) expect(Math.abs(got.stats[s] - want.stats[s]), `n=${n} ${s}: ${got.stats[s]} vs ${want.stats[s]}`).toBeLessThanOrEqual(TOLERANCE);
  expect(got.perCategory.map((row) => row[0])).toEqual(c.categoryIds);
  let undefinedCategories = 0;
  for (const [i, row] of want.perCategory.entries()) {
    if (row[1] === -1) undefinedCategories++;
    for (let j = 1; j < 5; j++) {
      if (Math.abs(got.perCategory[i][j] - row[j]) > TOLERANCE) {
        expect.fail(`n=${n} category ${row[0]} value ${j}: ${got.perCategory[i][j]} vs ${row[j]}`);
      }
    }
  }
  // Categories without GT report -1, as pycocotools does: here 55% of them.
  expect(undefinedCategories).toBe(n - Math.floor(0.45 * n));
  expect(got.counts).toEqual({ images: n, categories: n, detectionsKept: c.dt.length - c.droppedDetections });
  expect(got.dropped).toBe(c.droppedDetections);
}

describe('COCO evaluation memory is bounded by the input', () => {
  it('the design and its oracle agree with the evaluator at 1,000 x 1,000, precision curves included', () => {
    const c = bigCocoCase(1000);
    const gt = indexGroundTruth(c.gt, 'gt');
    const dt = indexDetections(c.dt, gt, 'dt');
    const r = evaluateCoco(gt.index, dt.index);
    expectMatchesOracle({ dir: '', seconds: 0, stats: r.stats, perCategory: r.perCategory.map((p) => [p.category_id, p.ap, p.ap50, p.ap75, p.ar100]), counts: r.counts, dropped: dt.droppedUnknownCategory }, c, 1000);
    // precision[t, r, k, a=all, maxDets=100] of one category of each kind, from the design.
    const kOf = (kind: string) => c.categoryIds.findIndex((id) => c.design.get(id)?.kind === kind);
    const at = (kind: string, t: number, rr: number) => r.precision.at(t, rr, kOf(kind), 0, 2);
    for (const t of [0, 9]) {
      expect(at('perfect', t, 100)).toBe(1);
      expect(at('half', t, 50)).toBeCloseTo(1, 15);
      expect(at('half', t, 51)).toBe(0);
      expect(at('none', t, 0)).toBe(0);
    }
    expect(at('loose', 3, 100)).toBe(1);
    expect(at('loose', 4, 51)).toBe(0);
    const noGt = c.categoryIds.findIndex((id) => !c.design.has(id));
    expect(r.precision.at(0, 0, noGt, 0, 2)).toBe(-1);
    expect(r.precision.curve(0, noGt, 0, 2)).toBeUndefined();
    // A small category has no curve in the medium and large ranges (-1 there).
    const small = c.categoryIds.findIndex((id) => c.design.get(id)?.size === 'small');
    expect(AREA_NAMES.map((_, a) => r.precision.defined(small, a))).toEqual([true, true, false, false]);
  });

  it(
    `20,000 x 20,000 and 60,000 x 60,000 in one child with a ${HEAP_MIB} MiB heap: peak RSS under ${RSS_LIMIT_MIB} MiB, numbers exact`,
    async () => {
      const cases = [20_000, 60_000].map((n) => ({ n, ...writeCase(n) }));
      const run = await runChild(cases.map((x) => x.dir));
      expect(run.killed, `the child passed ${KILL_MIB} MiB of RSS and was killed`).toBe(false);
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as { cases: ChildCase[]; peakRssMiB: number };
      // The child's own VmHWM before it writes its report, and the highest the watchdog saw
      // (which may include the report being written).
      expect(report.peakRssMiB, `child peak RSS ${report.peakRssMiB.toFixed(0)} MiB`).toBeLessThan(RSS_LIMIT_MIB);
      expect(run.watchedMiB, 'the watchdog read the child\'s /proc status').toBeGreaterThan(0);
      expect(run.watchedMiB, `child peak RSS seen from /proc ${run.watchedMiB.toFixed(0)} MiB`).toBeLessThan(RSS_LIMIT_MIB);
      cases.forEach(({ n, c }, i) => expectMatchesOracle(report.cases[i], c, n));
    },
    300_000,
  );
});

describe('CocoInputError', () => {
  it('is an InputError: the CLI prints its message as one line, not as an internal error', () => {
    let err: unknown;
    try {
      indexGroundTruth({ images: [{ id: 1 }], annotations: [], categories: [{ id: 1 }, { id: 1 }] }, 'gt.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CocoInputError);
    expect(isInputError(err)).toBe(true);
    expect(describeError(err, false)).toBe('gt.json: duplicate category id 1 (categories[0] and categories[1])');
  });
});
