/**
 * The stage step records the container images a recipe runs in by id, on a real Docker engine
 * (daemon a of the test services), and says which it could not resolve.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { services } from '../helpers/docker-services.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';

describe('stage: container image digests', () => {
  it('resolves image references to ids on the engine, and names the ones it cannot', async () => {
    const s = services();
    const t = tempDir();
    try {
      const r = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'stage', JSON.stringify({ pack: t.dir, images: [s.image, 'paddock/no-such-image:0'], docker_socket: s.daemons.a.socket })], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      const env = JSON.parse(readFileSync(join(t.dir, 'reports', 'stage.json'), 'utf8')).environment;
      const [found, missing] = env.container_images;
      expect(found.ref).toBe(s.image);
      expect(found.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(missing).toEqual({ ref: 'paddock/no-such-image:0', error: `not resolved on ${s.daemons.a.socket}: no such image` });
      expect(r.stdout).toContain(`image ${s.image}: ${found.id}`);
    } finally {
      t.cleanup();
    }
  });
});
