/**
 * Contract-driven inference over a (tiny) rendered world: the frame reader on its worker thread
 * gives exactly what it gives on the inference thread, partial last batches included, and a
 * broken frame is an error that names the file and the frame.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildWorld, TINY_WORLD } from '../../src/world/dataset.js';
import { runInference, InferenceError } from '../../src/model/infer.js';
import { FIXTURES, ROOT, tempDir } from '../helpers/fixtures.js';

const modelDir = join(FIXTURES, 'world', 'models', 'candidate');
let dir: string;
let cleanup: () => void;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  await buildWorld(dir, TINY_WORLD);
}, 120_000);
afterAll(() => cleanup());

async function infer(where: 'worker' | 'thread', batch: number, manifest = join(dir, 'manifests', 'golden_test.jsonl')) {
  const before = process.env.PADDOCK_FRAME_READER;
  process.env.PADDOCK_FRAME_READER = where === 'thread' ? 'thread' : '';
  try {
    return await runInference({ modelDir, manifest, batch, threads: 1 });
  } finally {
    process.env.PADDOCK_FRAME_READER = before ?? '';
  }
}

describe('runInference', () => {
  it('reads frames on a worker thread when dist/ is built', () => {
    expect(existsSync(join(ROOT, 'dist', 'frame-reader.js')), 'dist/frame-reader.js: run npm run build').toBe(true);
  });

  it('gives identical results on the worker and on the inference thread, whatever the batch', async () => {
    const onThread = await infer('thread', 4);
    expect(onThread.timings.readOn).toBe('thread');
    expect(onThread.timings.images).toBe(9);
    expect(onThread.results.length).toBeGreaterThan(0);
    for (const batch of [1, 4, 8]) {
      const onWorker = await infer('worker', batch);
      expect(onWorker.timings.readOn).toBe('worker');
      expect(onWorker.results).toEqual(onThread.results);
    }
  }, 60_000);

  it('names the file and the frame when a frame is broken', async () => {
    const manifest = join(dir, 'manifests', 'golden_test.jsonl');
    const rows = readFileSync(manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { frame_id: string; path: string });
    const victim = rows[5];
    const png = readFileSync(join(dir, victim.path));
    writeFileSync(join(dir, victim.path), png.subarray(0, 100));
    try {
      for (const where of ['worker', 'thread'] as const) {
        const err = await infer(where, 4).catch((e: Error) => e);
        expect(err).toBeInstanceOf(InferenceError);
        expect((err as Error).message).toContain(victim.path);
        expect((err as Error).message).toContain(victim.frame_id);
      }
    } finally {
      writeFileSync(join(dir, victim.path), png);
    }
  }, 60_000);
});
