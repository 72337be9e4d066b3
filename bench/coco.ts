/**
 * COCO-val-scale evaluation (5000 images, 80 categories, 34,941 GT, 500,000 detections), made by
 * bench/coco/coco_bench_gen.py (a copy of ../shared/bench's, Python stdlib only) into
 * build/coco-bench/ if it is not there, and checked against its sha256.
 *
 * Timed, 3 runs each, medians: loading (read + JSON.parse + validate + index) and evaluate +
 * accumulate + summarize. Baseline in the same run: JSON.parse of the same files alone. Also
 * shown: pycocotools 2.0.11 and faster-coco-eval 1.7.1 as recorded on a 2-core machine of this
 * kind (bench/coco/coco_bench_expected.json; neither installs here). Checks the 12 stats are
 * pycocotools's, bit for bit, and reports peak RSS.
 *
 * Then the wide cases: n images x n categories for n = 20,000 and 60,000 (test/metrics/coco-big.ts,
 * a few MB each), each loaded and evaluated in a child process of its own (this script again,
 * with --wide-child): time and peak RSS, against a child that only parses the same files (the
 * baseline of the same run), the stats checked against the design's closed form, and the dense
 * evaluator's figures as recorded before the sparse index (bench/coco/coco_wide_recorded.json).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateCoco, STAT_NAMES } from '../src/metrics/coco.js';
import { loadDetections, loadGroundTruth } from '../src/metrics/coco-load.js';
import { bigCocoCase, bigCocoExpected } from '../test/metrics/coco-big.js';
import { median, writeResults, ROOT } from './common.js';

const WIDE_SIZES = [20_000, 60_000];

/**
 * This process's peak RSS in MiB: VmHWM of /proc/self/status. (process.resourceUsage().maxRSS
 * of a child starts at its parent's size: Linux carries it through fork and exec.)
 */
function ownPeakRssMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no VmHWM line in /proc/self/status');
  return Number(m[1]) / 1024;
}

/** Child mode: one wide case, or only its JSON.parse; prints one JSON line. */
function wideChild(mode: string, dir: string): void {
  const start = performance.now();
  if (mode === '--parse-child') {
    JSON.parse(readFileSync(join(dir, 'gt.json'), 'utf8'));
    JSON.parse(readFileSync(join(dir, 'dt.json'), 'utf8'));
    console.log(JSON.stringify({ seconds: (performance.now() - start) / 1000, peakRssMiB: ownPeakRssMiB() }));
    return;
  }
  const gt = loadGroundTruth(join(dir, 'gt.json'));
  const dt = loadDetections(join(dir, 'dt.json'), gt);
  const loaded = performance.now();
  const r = evaluateCoco(gt.index, dt.index);
  const end = performance.now();
  console.log(JSON.stringify({ seconds: (end - start) / 1000, loadSeconds: (loaded - start) / 1000, evaluateSeconds: (end - loaded) / 1000, peakRssMiB: ownPeakRssMiB(), stats: r.stats }));
}

function cocoVal(): Record<string, unknown> {
  const expected = JSON.parse(readFileSync(join(ROOT, 'bench', 'coco', 'coco_bench_expected.json'), 'utf8'));
  const dir = join(ROOT, 'build', 'coco-bench');
  const gtFile = join(dir, 'gt.json');
  const dtFile = join(dir, 'dt.json');
  const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
  if (!existsSync(gtFile) || !existsSync(dtFile) || sha(gtFile) !== expected.dataset.files['gt.json'].sha256) {
    mkdirSync(dir, { recursive: true });
    console.log('generating the COCO-val-scale set (python3, about 10 s)...');
    const g = spawnSync('python3', [join(ROOT, 'bench', 'coco', 'coco_bench_gen.py'), 'gen', '--out', dir], { stdio: 'inherit' });
    if (g.status !== 0) throw new Error('the generator failed');
  }
  for (const f of ['gt.json', 'dt.json'] as const) {
    const got = sha(join(dir, f));
    if (got !== expected.dataset.files[f].sha256) throw new Error(`${f}: sha256 ${got} is not the generator's ${expected.dataset.files[f].sha256}`);
  }

  const load: number[] = [];
  const evaluate: number[] = [];
  const parseOnly: number[] = [];
  let stats: Record<string, number> = {};
  for (let rep = 0; rep < 3; rep++) {
    (globalThis as { gc?: () => void }).gc?.();
    let t = performance.now();
    JSON.parse(readFileSync(gtFile, 'utf8'));
    JSON.parse(readFileSync(dtFile, 'utf8'));
    parseOnly.push(performance.now() - t);
    (globalThis as { gc?: () => void }).gc?.();
    t = performance.now();
    const gt = loadGroundTruth(gtFile);
    const dt = loadDetections(dtFile, gt);
    load.push(performance.now() - t);
    t = performance.now();
    const r = evaluateCoco(gt.index, dt.index);
    evaluate.push(performance.now() - t);
    stats = r.stats;
  }
  const exact = STAT_NAMES.every((s, i) => stats[s] === expected.stats_pycocotools[i]);
  const maxDiff = Math.max(...STAT_NAMES.map((s, i) => Math.abs(stats[s] - expected.stats_pycocotools[i])));
  const rec = expected.timings_seconds;
  const pyEval: number = rec['pycocotools_2.0.11']['evaluate+accumulate'].median;
  const fastEval: number = rec['faster_coco_eval_1.7.1']['evaluate+accumulate'].median;
  const peakMiB = ownPeakRssMiB();
  const e = median(evaluate) / 1000;
  const l = median(load) / 1000;
  const p = median(parseOnly) / 1000;
  console.log(`load (read + parse + validate + index): ${l.toFixed(2)} s; JSON.parse alone in this run: ${p.toFixed(2)} s (x${(l / p).toFixed(2)}); goal < 3 s: ${l < 3 ? 'met' : 'NOT met'}`);
  console.log(`evaluate + accumulate + summarize: ${e.toFixed(2)} s; recorded on this kind of machine: pycocotools ${pyEval} s (x${(pyEval / e).toFixed(1)} faster), faster-coco-eval ${fastEval} s (x${(fastEval / e).toFixed(1)} faster); goal < 3.5 s: ${e < 3.5 ? 'met' : 'NOT met'}`);
  console.log(`stats equal pycocotools's bit for bit: ${exact} (max |diff| ${maxDiff}); peak RSS ${peakMiB.toFixed(0)} MiB (goal < 2048): ${peakMiB < 2048 ? 'met' : 'NOT met'}`);
  return { loadSeconds: load.map((x) => x / 1000), evaluateSeconds: evaluate.map((x) => x / 1000), jsonParseSeconds: parseOnly.map((x) => x / 1000), medianLoad: l, medianEvaluate: e, recorded: { pycocotools: pyEval, fasterCocoEval: fastEval }, statsExact: exact, maxDiff, peakRssMiB: peakMiB, stats };
}

interface ChildFigures {
  seconds: number;
  peakRssMiB: number;
  loadSeconds?: number;
  evaluateSeconds?: number;
  stats?: Record<string, number>;
}

function runChild(mode: string, dir: string): ChildFigures {
  const r = spawnSync(process.execPath, [process.argv[1], mode, dir], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`${mode} ${dir}: exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout) as ChildFigures;
}

function wide(): Record<string, unknown> {
  const recorded = JSON.parse(readFileSync(join(ROOT, 'bench', 'coco', 'coco_wide_recorded.json'), 'utf8')).cases as Record<string, { seconds: number; peakRssMiB: number; outcome: string }>;
  const figures: Record<string, unknown> = {};
  for (const n of WIDE_SIZES) {
    const dir = join(ROOT, 'build', 'coco-bench-wide', `n${n}`);
    mkdirSync(dir, { recursive: true });
    const c = bigCocoCase(n);
    const gtText = JSON.stringify(c.gt);
    writeFileSync(join(dir, 'gt.json'), gtText);
    writeFileSync(join(dir, 'dt.json'), JSON.stringify(c.dt));
    const want = bigCocoExpected(c.design, c.categoryIds).stats;
    const parse: ChildFigures[] = [];
    const runs: ChildFigures[] = [];
    for (let rep = 0; rep < 3; rep++) {
      parse.push(runChild('--parse-child', dir));
      runs.push(runChild('--wide-child', dir));
    }
    const maxDiff = Math.max(...runs.flatMap((r) => STAT_NAMES.map((s) => Math.abs(r.stats![s] - (want as Record<string, number>)[s]))));
    const t = median(runs.map((r) => r.seconds));
    const rss = median(runs.map((r) => r.peakRssMiB));
    const tParse = median(parse.map((r) => r.seconds));
    const rssParse = median(parse.map((r) => r.peakRssMiB));
    const before = recorded[String(n)];
    console.log(
      `wide ${n} images x ${n} categories (gt.json ${(gtText.length / 2 ** 20).toFixed(1)} MiB): load + evaluate ${t.toFixed(2)} s (JSON.parse alone in this run ${tParse.toFixed(2)} s, x${(t / tParse).toFixed(1)}); ` +
        `peak RSS ${rss.toFixed(0)} MiB (a process that only parses: ${rssParse.toFixed(0)} MiB, x${(rss / rssParse).toFixed(2)}); ` +
        `dense evaluator as recorded: ${before.seconds} s, ${before.peakRssMiB} MiB (${before.outcome}); stats equal the closed form: ${maxDiff <= 1e-12} (max |diff| ${maxDiff})`,
    );
    figures[`n${n}`] = { seconds: runs.map((r) => r.seconds), loadSeconds: runs.map((r) => r.loadSeconds), evaluateSeconds: runs.map((r) => r.evaluateSeconds), peakRssMiB: runs.map((r) => r.peakRssMiB), parseSeconds: parse.map((r) => r.seconds), parsePeakRssMiB: parse.map((r) => r.peakRssMiB), medianSeconds: t, medianPeakRssMiB: rss, recordedDense: before, maxDiff };
  }
  return figures;
}

const mode = process.argv[2];
if (mode === '--wide-child' || mode === '--parse-child') wideChild(mode, process.argv[3]);
else {
  const val = cocoVal();
  const wideFigures = wide();
  console.log(`figures: ${writeResults('coco', { ...val, wide: wideFigures })}`);
}
