/**
 * `paddock world build [--out DIR] [--tiny]`: renders the built-in world's datasets, on one worker
 * thread per core (src/world/render-pool.ts).
 */
import { resolve } from 'node:path';
import { buildWorld, DEFAULT_WORLD, TINY_WORLD } from '../src/world/dataset.js';
import { worldRenderer } from '../src/steps/world/world-build.js';

export async function worldBuild(opts: { out?: string; tiny: boolean; json: boolean }): Promise<number> {
  const out = resolve(opts.out ?? 'build/world');
  const t0 = Date.now();
  let last = 0;
  const r = await buildWorld(out, opts.tiny ? TINY_WORLD : DEFAULT_WORLD, (done, total, what) => {
    if (!opts.json && (Date.now() - last > 2000 || done === total)) {
      last = Date.now();
      process.stderr.write(`world build: ${done}/${total} scenes (${what})\n`);
    }
  }, worldRenderer());
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return 0;
  }
  for (const [split, s] of Object.entries(r.splits)) {
    process.stdout.write(`${split.padEnd(13)} ${String(s.frames).padStart(5)} frames ${String(s.objects).padStart(6)} objects  ${s.manifest}\n`);
  }
  process.stdout.write(`replay        ${r.replay.frames} frames in ${r.replay.drives} drives  ${r.replay.manifest}\n`);
  process.stdout.write(`content digest ${r.contentDigest} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  return 0;
}
