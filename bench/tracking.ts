/**
 * The tracking metrics (src/metrics/tracking.ts) on replay-sized sequences: the 20 sequences of
 * bench/tracking/sequences.ts (300 frames, 10-30 objects, misses, swaps, ghosts; written as
 * MOTChallenge files into build/tracking-bench/) and the 22 committed cases of
 * test/fixtures/tracking/cases.
 *
 * Timed, 5 rounds after a warm-up, medians: evaluateTracking per sequence, tidLgd on its CLEAR
 * matches, combineTracking over the set. Baseline in the same run: reading the same MOTChallenge
 * text into sequences (parseSeqinfo, parseMotFile, motSequence, which includes MOT17's
 * distractor matching, one assignment per frame), so "the metrics cost N x the parse".
 *
 * Beside it, labelled recorded: TrackEval 12c8791b's HOTA + CLEAR + Identity on the same files,
 * timed once on this machine by bench/tracking/trackeval_time.py (bench/tracking/
 * trackeval_recorded.json; TrackEval is not a dependency and is not run here). The recorded
 * JSON carries TrackEval's HOTA (19 alphas), MOTA and IDF1 per sequence and for COMBINED_SEQ;
 * the bench checks ours equals them within 1e-12 (relative, as test/fixtures/tracking/helpers.ts)
 * and that the files are the very bytes TrackEval read (sha256).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { motSequence, parseMotFile, parseSeqinfo } from '../src/metrics/mot-files.js';
import { combineTracking, evaluateTracking, tidLgd, type TrackEvalMetrics, type TrackingEvaluation, type TrackingSequence } from '../src/metrics/tracking.js';
import { median, writeResults, ROOT } from './common.js';
import { NUM_SEQUENCES, trackingSequence, type MotText } from './tracking/sequences.js';

const BENCH_DIR = join(ROOT, 'build', 'tracking-bench');
const CASES_DIR = join(ROOT, 'test', 'fixtures', 'tracking', 'cases');
const RECORDED = join(ROOT, 'bench', 'tracking', 'trackeval_recorded.json');
const FILES = ['gt.txt', 'tracker.txt', 'seqinfo.ini'] as const;
const ROUNDS = 5;

/** What trackeval_time.py records per set (times in seconds, one entry per run). */
interface RecordedSet {
  sha256: string;
  sequences: number;
  frames: number;
  seconds: { evaluate_total: number[]; load: number[]; iou: number[]; preprocess: number[]; metrics: number[]; combine: number[] };
  results: Record<string, { HOTA: (number | null)[]; MOTA: number | null; IDF1: number | null }>;
}
interface Recorded {
  measured_at: string;
  machine: Record<string, unknown>;
  trackeval: { commit: string };
  sets: Record<'generated' | 'fixtures', RecordedSet>;
}

/**
 * The digest trackeval_time.py computes too: sha256 over, for each sequence by name and each of
 * its three files, `name/file\n` and the file's bytes.
 */
function digest(set: MotText[]): string {
  const h = createHash('sha256');
  for (const s of [...set].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const f of FILES) h.update(`${s.name}/${f}\n`).update(f === 'gt.txt' ? s.gt : f === 'tracker.txt' ? s.tracker : s.seqinfo);
  }
  return h.digest('hex');
}

function generatedSet(): MotText[] {
  const set = Array.from({ length: NUM_SEQUENCES }, (_, k) => trackingSequence(k));
  for (const s of set) {
    mkdirSync(join(BENCH_DIR, s.name), { recursive: true });
    writeFileSync(join(BENCH_DIR, s.name, 'gt.txt'), s.gt);
    writeFileSync(join(BENCH_DIR, s.name, 'tracker.txt'), s.tracker);
    writeFileSync(join(BENCH_DIR, s.name, 'seqinfo.ini'), s.seqinfo);
  }
  return set;
}

function fixtureSet(): MotText[] {
  return readdirSync(CASES_DIR).sort().map((name) => {
    const read = (f: string) => readFileSync(join(CASES_DIR, name, f), 'utf8');
    return { name, gt: read('gt.txt'), tracker: read('tracker.txt'), seqinfo: read('seqinfo.ini') };
  });
}

/** The baseline: MOTChallenge text to sequences, as `paddock eval tracking` reads them. */
function parseSet(set: MotText[]): { seqs: TrackingSequence[]; rowsMs: number } {
  let rowsMs = 0;
  const seqs = set.map((s) => {
    const t = performance.now();
    const n = parseSeqinfo(s.seqinfo, 'seqinfo.ini');
    const gt = parseMotFile(s.gt, 'gt.txt', 'gt', n);
    const tracker = parseMotFile(s.tracker, 'tracker.txt', 'tracker', n);
    rowsMs += performance.now() - t;
    return motSequence(gt, tracker, n);
  });
  return { seqs, rowsMs };
}

interface Round {
  parseMs: number;
  /** The part of parseMs in parseSeqinfo + parseMotFile (the rest is motSequence: grouping, MOT17's distractor matching). */
  rowsMs: number;
  evaluateMs: number;
  tidLgdMs: number;
  combineMs: number;
  evaluations: TrackingEvaluation[];
  combined: TrackEvalMetrics;
}

function round(set: MotText[]): Round {
  (globalThis as { gc?: () => void }).gc?.();
  let t = performance.now();
  const { seqs, rowsMs } = parseSet(set);
  const parseMs = performance.now() - t;
  t = performance.now();
  const evaluations = seqs.map((s) => evaluateTracking(s));
  const evaluateMs = performance.now() - t;
  t = performance.now();
  seqs.forEach((s, i) => tidLgd(s, evaluations[i].clearMatches, { frameIds: 'frame-numbers', stepSeconds: 0.1 }));
  const tidLgdMs = performance.now() - t;
  t = performance.now();
  const combined = combineTracking(evaluations);
  const combineMs = performance.now() - t;
  return { parseMs, rowsMs, evaluateMs, tidLgdMs, combineMs, evaluations, combined };
}

/** Within 1e-12 relative (null = NaN), as test/fixtures/tracking/helpers.ts's expectClose. */
function close(got: number, want: number | null): { ok: boolean; exact: boolean; diff: number } {
  if (want === null) return { ok: Number.isNaN(got), exact: Number.isNaN(got), diff: 0 };
  const diff = Math.abs(got - want);
  return { ok: diff <= 1e-12 * Math.max(1, Math.abs(want)), exact: got === want, diff };
}

/** Ours against TrackEval's recorded HOTA (19 alphas), MOTA, IDF1, per sequence and COMBINED_SEQ. */
function compare(names: string[], r: Round, rec: RecordedSet): { values: number; ok: boolean; bitExact: number; maxDiff: number; failures: string[] } {
  let values = 0;
  let bitExact = 0;
  let maxDiff = 0;
  const failures: string[] = [];
  const rows: [string, TrackEvalMetrics][] = [...names.map((n, i): [string, TrackEvalMetrics] => [n, r.evaluations[i]]), ['COMBINED_SEQ', r.combined]];
  for (const [name, m] of rows) {
    const want = rec.results[name];
    if (!want) {
      failures.push(`${name}: not in the recorded results`);
      continue;
    }
    const pairs: [string, number, number | null][] = [['MOTA', m.CLEAR.MOTA, want.MOTA], ['IDF1', m.Identity.IDF1, want.IDF1], ...m.HOTA.HOTA.map((v, a): [string, number, number | null] => [`HOTA[${a}]`, v, want.HOTA[a]])];
    if (want.HOTA.length !== m.HOTA.HOTA.length) failures.push(`${name}: ${want.HOTA.length} HOTA alphas recorded, ${m.HOTA.HOTA.length} ours`);
    for (const [field, got, w] of pairs) {
      const c = close(got, w);
      values++;
      if (c.exact) bitExact++;
      maxDiff = Math.max(maxDiff, c.diff);
      if (!c.ok) failures.push(`${name} ${field}: ours ${got}, TrackEval ${w}`);
    }
  }
  return { values, ok: failures.length === 0, bitExact, maxDiff, failures };
}

function loadRecorded(): Recorded | undefined {
  if (!existsSync(RECORDED)) return undefined;
  return JSON.parse(readFileSync(RECORDED, 'utf8')) as Recorded;
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

function benchSet(label: string, key: 'generated' | 'fixtures', set: MotText[], recorded: Recorded | undefined): { figures: Record<string, unknown>; ok: boolean } {
  const sha = digest(set);
  const frames = set.reduce((a, s) => a + parseSeqinfo(s.seqinfo, 'seqinfo.ini'), 0);
  const lines = (t: string) => (t ? t.split('\n').length - 1 : 0);
  const gtRows = set.reduce((a, s) => a + lines(s.gt), 0);
  const trRows = set.reduce((a, s) => a + lines(s.tracker), 0);
  round(set); // warm-up: JIT and caches, not timed
  const rounds = Array.from({ length: ROUNDS }, () => round(set));
  const m = (get: (r: Round) => number) => median(rounds.map(get));
  const parse = m((r) => r.parseMs);
  const rows = m((r) => r.rowsMs);
  const evaluate = m((r) => r.evaluateMs);
  const tl = m((r) => r.tidLgdMs);
  const combine = m((r) => r.combineMs);
  const metrics = m((r) => r.evaluateMs + r.tidLgdMs + r.combineMs);
  console.log(`${label}: ${set.length} sequences, ${frames} frames, ${gtRows} GT rows, ${trRows} tracker rows (sha256 ${sha.slice(0, 12)})`);
  console.log(`  parse (MOTChallenge text -> sequences, the baseline): ${fmt(parse)} ms (of it parseMotFile ${fmt(rows)} ms, motSequence with MOT17's distractor matching the rest)`);
  console.log(`  metrics: ${fmt(metrics)} ms = evaluateTracking ${fmt(evaluate)} + tidLgd ${fmt(tl)} + combineTracking ${combine.toFixed(2)}; x${(metrics / parse).toFixed(2)} the parse; ${((metrics * 1000) / frames).toFixed(1)} us per frame`);
  const figures: Record<string, unknown> = {
    sequences: set.length, frames, gtRows, trackerRows: trRows, sha256: sha,
    parseMs: rounds.map((r) => r.parseMs), rowsMs: rounds.map((r) => r.rowsMs), evaluateMs: rounds.map((r) => r.evaluateMs), tidLgdMs: rounds.map((r) => r.tidLgdMs), combineMs: rounds.map((r) => r.combineMs),
    median: { parseMs: parse, rowsMs: rows, evaluateMs: evaluate, tidLgdMs: tl, combineMs: combine, metricsMs: metrics, metricsOverParse: metrics / parse, metricsUsPerFrame: (metrics * 1000) / frames },
  };
  const rec = recorded?.sets[key];
  if (!rec) {
    console.log(`  TrackEval: no recorded figures (${RECORDED} is missing; run /usr/bin/python3 bench/tracking/trackeval_time.py)`);
    return { figures, ok: true };
  }
  if (rec.sha256 !== sha) {
    console.log(`  TrackEval: the recorded figures are of other files (recorded sha256 ${rec.sha256.slice(0, 12)}, these ${sha.slice(0, 12)}): the generator changed; run bench/tracking/trackeval_time.py again`);
    return { figures: { ...figures, recordedMismatch: rec.sha256 }, ok: false };
  }
  const teMetrics = median(rec.seconds.metrics.map((s, i) => s + rec.seconds.combine[i])) * 1000;
  const teTotal = median(rec.seconds.evaluate_total) * 1000;
  const teLoad = median(rec.seconds.load.map((s, i) => s + rec.seconds.preprocess[i])) * 1000;
  const oursMetrics = m((r) => r.evaluateMs + r.combineMs);
  const oursTotal = m((r) => r.parseMs + r.evaluateMs + r.combineMs);
  const cmp = compare(set.map((s) => s.name), rounds[0], rec);
  console.log(`  TrackEval 12c8791b, recorded ${recorded!.measured_at.slice(0, 10)} on this machine (not run now):`);
  console.log(`    HOTA + CLEAR + Identity + combine: recorded ${fmt(teMetrics)} ms vs ours evaluateTracking + combineTracking ${fmt(oursMetrics)} ms (recorded / ours x${(teMetrics / oursMetrics).toFixed(1)})`);
  console.log(`    read + IoU + preprocess: recorded ${fmt(teLoad)} ms vs ours parse ${fmt(parse)} ms (x${(teLoad / parse).toFixed(1)})`);
  console.log(`    Evaluator.evaluate end to end: recorded ${fmt(teTotal)} ms vs ours parse + evaluate + combine ${fmt(oursTotal)} ms (x${(teTotal / oursTotal).toFixed(1)})`);
  console.log(`  equal to TrackEval's HOTA (19 alphas), MOTA, IDF1 per sequence and COMBINED_SEQ within 1e-12: ${cmp.ok} (${cmp.values} values, ${cmp.bitExact} bit for bit, max |diff| ${cmp.maxDiff})`);
  for (const f of cmp.failures.slice(0, 10)) console.log(`    ${f}`);
  return {
    figures: { ...figures, recorded: { measuredAt: recorded!.measured_at, metricsMs: teMetrics, loadMs: teLoad, totalMs: teTotal, recordedOverOursMetrics: teMetrics / oursMetrics, recordedOverOursLoad: teLoad / parse, recordedOverOursTotal: teTotal / oursTotal }, equalsTrackEval: cmp },
    ok: cmp.ok,
  };
}

const loadBefore = loadavg()[0];
const recorded = loadRecorded();
const generated = benchSet(`generated (${BENCH_DIR})`, 'generated', generatedSet(), recorded);
const fixtures = benchSet('committed cases (test/fixtures/tracking/cases)', 'fixtures', fixtureSet(), recorded);
const loadAfter = loadavg()[0];
console.log(`load average ${loadBefore.toFixed(2)} -> ${loadAfter.toFixed(2)}`);
console.log(`figures: ${writeResults('tracking', { load: [loadBefore, loadAfter], generated: generated.figures, fixtures: fixtures.figures })}`);
if (!generated.ok || !fixtures.ok) process.exit(1);
