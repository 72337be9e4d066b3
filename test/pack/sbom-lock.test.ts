/**
 * Which lockfile the SBOM lists npm packages from: the checkout's package-lock.json, else the
 * hidden lockfile npm writes for an installed tree (an installed paddock has no package-lock.json:
 * npm never packs it), else none (the step says so).
 */
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { npmComponents, npmLockFile } from '../../src/pack/sbom.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';

describe('the SBOM\'s npm lockfile', () => {
  it('prefers package-lock.json, else node_modules/.package-lock.json, else none', () => {
    const { dir, cleanup } = tempDir();
    try {
      expect(npmLockFile(dir)).toBeUndefined();
      mkdirSync(join(dir, 'node_modules'));
      // The hidden lockfile npm wrote for this checkout's own node_modules: a real one.
      copyFileSync(join(ROOT, 'node_modules', '.package-lock.json'), join(dir, 'node_modules', '.package-lock.json'));
      expect(npmLockFile(dir)).toBe(join(dir, 'node_modules', '.package-lock.json'));
      const installed = npmComponents(npmLockFile(dir)!) as { name: string; version: string; purl: string }[];
      const zod = installed.find((c) => c.name === 'zod')!;
      expect(zod.version).toBe('4.6.7');
      expect(zod.purl).toBe('pkg:npm/zod@4.6.7');
      expect(installed.find((c) => c.name === '@aws-sdk/client-s3')?.purl).toBe('pkg:npm/%40aws-sdk/client-s3@3.1175.0');
      writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages: { '': { name: 'x' }, 'node_modules/a': { version: '1.0.0' } } }));
      expect(npmLockFile(dir)).toBe(join(dir, 'package-lock.json'));
      expect((npmComponents(npmLockFile(dir)!) as { name: string }[]).map((c) => c.name)).toEqual(['a']);
    } finally {
      cleanup();
    }
  });
});
