/**
 * Built-in steps report progress on their long loops: each is run for real as its own process
 * (dist/step.js, as a runner starts it) on the tiny world, and its event lines are read back:
 * world-build (scenes), check-data (files hashed), evaluate (frames of each model's inference,
 * then bootstrap replicates over the slices) and bench-variants (timed runs over every variant and
 * batch, one count for the step). Each count climbs to its total; none goes past it.
 */
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { PaddockEvent } from '../../src/schema/events.js';
import { TINY_WORLD } from '../../src/world/dataset.js';
import { loadSliceFile } from '../../src/schema/manifest-load.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';

type Progress = Extract<PaddockEvent, { type: 'progress' }>;

let dir: string;
let cleanup: () => void;
let world: string;
let worldEvents: PaddockEvent[];

/** Runs a built-in step; its parsed events and exit code. */
async function step(name: string, params: unknown): Promise<{ code: number | undefined; events: PaddockEvent[]; stderr: string }> {
  const r = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), name, JSON.stringify(params)], { reject: false });
  const events = String(r.stdout).split('\n').filter(Boolean).map((l) => PaddockEvent.parse(JSON.parse(l)));
  return { code: r.exitCode, events, stderr: String(r.stderr) };
}

const progressOf = (events: PaddockEvent[], unit?: string) => events.filter((e): e is Progress => e.type === 'progress' && (!unit || e.unit === unit));

/** Splits a step's reports into phases (a new one where the count goes back) and checks each climbs to its total. */
function phases(ps: Progress[]): Progress[][] {
  const out: Progress[][] = [];
  for (const p of ps) {
    const cur = out.at(-1);
    if (!cur || p.done < cur.at(-1)!.done || p.total !== cur[0].total) out.push([p]);
    else cur.push(p);
  }
  for (const ph of out) {
    for (const p of ph) expect(p.done).toBeLessThanOrEqual(p.total!);
    expect(ph.at(-1)!.done, JSON.stringify(ph.at(-1))).toBe(ph[0].total);
  }
  return out;
}

beforeAll(async () => {
  const t = tempDir();
  dir = t.dir;
  cleanup = t.cleanup;
  world = join(dir, 'world');
  const r = await step('world-build', { out: world, size: 'tiny' });
  expect(r.code, r.stderr).toBe(0);
  worldEvents = r.events;
});
afterAll(() => cleanup());

describe('built-in steps report progress', () => {
  it('world-build: one report per scene rendered, up to every scene of the world', () => {
    const ps = progressOf(worldEvents, 'scenes');
    const total = Object.values(TINY_WORLD.scenes).reduce((a, b) => a + b, 0) + TINY_WORLD.replayDrives;
    expect(ps.map((p) => p.done)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(new Set(ps.map((p) => p.total))).toEqual(new Set([total]));
    // Workers take the largest jobs first (the replay drives), so the drive's report comes early, not last.
    expect(ps.map((p) => p.message)).toContain('replay');
  });

  it('check-data: the files it hashes, over all the splits', async () => {
    const splits = ['golden_train', 'golden_val', 'golden_test'].map((name) => ({ name, manifest: join(world, 'manifests', `${name}.jsonl`) }));
    const r = await step('check-data', { splits });
    expect(r.code, r.stderr).toBe(0);
    const frames = r.events.filter((e) => e.type === 'metric' && e.name === 'data.frames').reduce((a, e) => a + (e.type === 'metric' ? e.value : 0), 0);
    const [files] = phases(progressOf(r.events, 'files'));
    expect(files[0].total).toBe(frames);
    expect(files.map((p) => p.message)).toContain('hashing golden_test');
  });

  it('evaluate: the frames of each model, then the bootstrap replicates of every slice', async () => {
    const slices = join(ROOT, 'fixtures', 'world', 'slices.yaml');
    const replicates = 40;
    const r = await step('evaluate', {
      candidate: { name: 'candidate', model: join(ROOT, 'fixtures', 'world', 'models', 'candidate') },
      baseline: { name: 'production', model: join(ROOT, 'fixtures', 'world', 'models', 'production') },
      manifest: join(world, 'manifests', 'golden_test.jsonl'),
      slices,
      replicates,
      out: join(dir, 'evaluation'),
    });
    expect(r.code, r.stderr).toBe(0);
    const inference = phases(progressOf(r.events, 'frames'));
    expect(inference.map((ph) => ph[0].message)).toEqual(['candidate inference', 'production inference']);
    expect(inference.map((ph) => ph[0].total)).toEqual([TINY_WORLD.scenes.golden_test * TINY_WORLD.framesPerScene, TINY_WORLD.scenes.golden_test * TINY_WORLD.framesPerScene]);
    const [bootstrap] = phases(progressOf(r.events, 'replicates'));
    expect(bootstrap[0].total).toBe(loadSliceFile(slices).length * replicates);
    expect(bootstrap.every((p) => /^bootstrap, slice \S+/.test(p.message ?? ''))).toBe(true);
    // The replicates come after the inference, before the reports.
    const at = (pred: (e: PaddockEvent) => boolean) => r.events.findIndex(pred);
    expect(at((e) => e.type === 'progress' && e.unit === 'replicates')).toBeGreaterThan(at((e) => e.type === 'progress' && e.message === 'production inference'));
    const lastProgress = r.events.map((e) => e.type).lastIndexOf('progress');
    expect(at((e) => e.type === 'artifact' && e.role === 'eval-report')).toBeGreaterThan(lastProgress);
  });

  it('bench-variants: one count of timed runs over every variant and batch', async () => {
    const pack = join(dir, 'pack');
    mkdirSync(pack, { recursive: true });
    const model = join(ROOT, 'fixtures', 'world', 'models', 'candidate', 'model.onnx');
    const r = await step('bench-variants', { pack, model: 'candidate', variants: [{ name: 'fp32', model }, { name: 'again', model }], batches: [1, 2], iterations: 12, warmup: 1, reportMs: 10 });
    expect(r.code, r.stderr).toBe(0);
    const all = phases(progressOf(r.events, 'runs'));
    expect(all).toHaveLength(1);
    expect(all[0][0].total).toBe(2 * 2 * 12);
    expect(new Set(all[0].map((p) => p.message))).toEqual(new Set(['candidate/fp32/b1', 'candidate/fp32/b2', 'candidate/again/b1', 'candidate/again/b2']));
  });
});

