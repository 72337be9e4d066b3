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
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateCoco, STAT_NAMES } from '../src/metrics/coco.js';
import { loadDetections, loadGroundTruth } from '../src/metrics/coco-load.js';
import { median, writeResults, ROOT } from './common.js';

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
const peakMiB = process.resourceUsage().maxRSS / 1024;
const e = median(evaluate) / 1000;
const l = median(load) / 1000;
const p = median(parseOnly) / 1000;
console.log(`load (read + parse + validate + index): ${l.toFixed(2)} s; JSON.parse alone in this run: ${p.toFixed(2)} s (x${(l / p).toFixed(2)}); goal < 3 s: ${l < 3 ? 'met' : 'NOT met'}`);
console.log(`evaluate + accumulate + summarize: ${e.toFixed(2)} s; recorded on this kind of machine: pycocotools ${pyEval} s (x${(pyEval / e).toFixed(1)} faster), faster-coco-eval ${fastEval} s (x${(fastEval / e).toFixed(1)} faster); goal < 3.5 s: ${e < 3.5 ? 'met' : 'NOT met'}`);
console.log(`stats equal pycocotools's bit for bit: ${exact} (max |diff| ${maxDiff}); peak RSS ${peakMiB.toFixed(0)} MiB (goal < 2048): ${peakMiB < 2048 ? 'met' : 'NOT met'}`);
console.log(`figures: ${writeResults("coco", { loadSeconds: load.map((x) => x / 1000), evaluateSeconds: evaluate.map((x) => x / 1000), jsonParseSeconds: parseOnly.map((x) => x / 1000), medianLoad: l, medianEvaluate: e, recorded: { pycocotools: pyEval, fasterCocoEval: fastEval }, statsExact: exact, maxDiff, peakRssMiB: peakMiB, stats })}`);
