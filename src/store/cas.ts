/**
 * Content-addressed artifact store: `<home>/cas/sha256/ab/abcdef...`.
 *
 * A file enters the store atomically: it is copied to `<home>/cas/tmp/`, hashed while copied,
 * fsynced, renamed to its digest's name, and the directory fsynced. A crash at any moment leaves
 * either no file or the whole file under its name; leftovers in tmp/ are swept on open.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { testHook } from './test-hooks.js';
import { sha256File, sha256FileSync } from '../files/digest.js';


const CHUNK = 1 << 20;

export interface CasEntry {
  sha256: string;
  bytes: number;
  path: string;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class ContentStore {
  readonly root: string;
  private readonly tmp: string;

  constructor(home: string) {
    this.root = join(home, 'cas', 'sha256');
    this.tmp = join(home, 'cas', 'tmp');
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  /** Removes temp files a crashed writer left behind. */
  sweep(): number {
    let n = 0;
    for (const name of readdirSync(this.tmp)) {
      rmSync(join(this.tmp, name), { force: true });
      n++;
    }
    return n;
  }

  pathOf(sha256: string): string {
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  has(sha256: string): boolean {
    return existsSync(this.pathOf(sha256));
  }

  /**
   * Copies `src` into the store and returns its digest. When `expectedSha256` is given and the
   * file differs, nothing is stored and an error names both digests.
   */
  put(src: string, expectedSha256?: string): CasEntry {
    const tmpPath = join(this.tmp, `${process.pid}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let bytes = 0;
    const inFd = openSync(src, 'r');
    const outFd = openSync(tmpPath, 'wx');
    try {
      for (;;) {
        const n = readSync(inFd, buf, 0, CHUNK, null);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
        let off = 0;
        while (off < n) off += writeSync(outFd, buf, off, n - off);
        bytes += n;
        testHook('cas.write');
      }
      fsyncSync(outFd);
    } catch (err) {
      closeSync(outFd);
      rmSync(tmpPath, { force: true });
      throw err;
    } finally {
      closeSync(inFd);
    }
    closeSync(outFd);
    const sha256 = hash.digest('hex');
    if (expectedSha256 && expectedSha256 !== sha256) {
      rmSync(tmpPath, { force: true });
      throw new Error(`sha256 mismatch for ${src}: declared ${expectedSha256}, file has ${sha256}`);
    }
    const dest = this.pathOf(sha256);
    if (existsSync(dest) && statSync(dest).size === bytes) {
      rmSync(tmpPath, { force: true });
      return { sha256, bytes, path: dest };
    }
    mkdirSync(join(this.root, sha256.slice(0, 2)), { recursive: true });
    testHook('cas.before-rename');
    renameSync(tmpPath, dest);
    fsyncDir(join(this.root, sha256.slice(0, 2)));
    return { sha256, bytes, path: dest };
  }

  /** Checks every stored file against its name; returns the digests that do not match. */
  verifyAll(): { checked: number; corrupt: string[] } {
    const corrupt: string[] = [];
    let checked = 0;
    for (const dir of readdirSync(this.root)) {
      for (const name of readdirSync(join(this.root, dir))) {
        checked++;
        if (sha256FileSync(join(this.root, dir, name)).sha256 !== name) corrupt.push(name);
      }
    }
    return { checked, corrupt };
  }
}
