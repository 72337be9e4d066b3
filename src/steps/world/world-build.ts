/**
 * The `world-build` step: renders the built-in world (or finds it up to date) and reports its
 * splits, content digest and manifests as artifacts.
 */
import { z } from 'zod';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { emit } from '../emit.js';
import { buildWorld, DEFAULT_WORLD, TINY_WORLD } from '../../world/dataset.js';
import { WorldBuildParams } from './world-build.step.js';


export async function runWorldBuild(p: z.infer<typeof WorldBuildParams>): Promise<number> {
  const out = resolve(p.out);
  const t0 = Date.now();
  const r = await buildWorld(out, p.size === 'tiny' ? TINY_WORLD : DEFAULT_WORLD, (done, total, what) => emit({ type: 'progress', done, total, unit: 'scenes', message: what }));
  const seconds = (Date.now() - t0) / 1000;
  emit({ type: 'log', level: 'info', message: seconds < 2 ? `world in ${out} is up to date (content digest ${r.contentDigest.slice(0, 12)})` : `rendered the world into ${out} in ${seconds.toFixed(1)} s (content digest ${r.contentDigest.slice(0, 12)})` });
  for (const [split, s] of Object.entries(r.splits)) {
    emit({ type: 'metric', name: 'world.frames', value: s.frames, slice: split, denominators: { frames: s.frames, objects: s.objects } });
    const bytes = readFileSync(s.manifest);
    emit({ type: 'artifact', path: s.manifest, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, role: `manifest/${split}` });
  }
  return 0;
}
