/**
 * The `world-build` step: renders the built-in world (or finds it up to date) and reports its
 * splits, content digest and manifests as artifacts. Frames render on worker threads
 * (src/world/render-pool.ts); this body is also what those workers run.
 */
import { z } from 'zod';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { emit } from '../emit.js';
import { buildWorld, DEFAULT_WORLD, TINY_WORLD, renderOnThisThread, type RenderAll } from '../../world/dataset.js';
import { isRenderWorker, renderOnWorkers, serveRenderJobs } from '../../world/render-pool.js';
import { installRoot } from '../../files/install-root.js';
import { WorldBuildParams } from './world-build.step.js';

/**
 * How the world's frames are rendered: on `workers` threads (default one per core), each running
 * dist/step.js's world-build body as a render worker; on this thread when dist/step.js is not
 * built (tests from the sources) or one worker is asked for.
 */
export function worldRenderer(workers = availableParallelism()): RenderAll {
  const script = join(installRoot(), 'dist', 'step.js');
  if (workers < 2 || !existsSync(script)) return renderOnThisThread;
  return renderOnWorkers({ script, argv: ['world-build', JSON.stringify({ out: '-' })], count: workers });
}

export async function runWorldBuild(p: z.infer<typeof WorldBuildParams>): Promise<number> {
  if (isRenderWorker()) {
    await serveRenderJobs();
    return 0;
  }
  const out = resolve(p.out);
  const t0 = Date.now();
  const workers = p.workers ?? availableParallelism();
  const base = p.size === 'tiny' ? TINY_WORLD : DEFAULT_WORLD;
  const config = p.replay_drives === undefined ? base : { ...base, replayDrives: p.replay_drives };
  const r = await buildWorld(out, config, (done, total, what) => emit({ type: 'progress', done, total, unit: 'scenes', message: what }), worldRenderer(workers));
  const seconds = (Date.now() - t0) / 1000;
  emit({ type: 'log', level: 'info', message: seconds < 2 ? `world in ${out} is up to date (content digest ${r.contentDigest.slice(0, 12)})` : `rendered the world into ${out} in ${seconds.toFixed(1)} s on ${workers} thread(s) (content digest ${r.contentDigest.slice(0, 12)})` });
  for (const [split, s] of Object.entries(r.splits)) {
    emit({ type: 'metric', name: 'world.frames', value: s.frames, slice: split, denominators: { frames: s.frames, objects: s.objects } });
    const bytes = readFileSync(s.manifest);
    emit({ type: 'artifact', path: s.manifest, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, role: `manifest/${split}` });
  }
  return 0;
}
