/**
 * Content-addressed artifact store: `<home>/cas/sha256/ab/abcdef...`.
 *
 * A file enters the store atomically: it is copied to `<home>/cas/tmp/`, hashed while copied,
 * fsynced, renamed to its digest's name, and the directory fsynced. A crash at any moment leaves
 * either no file or the whole file under its name.
 *
 * A temp file's name carries its writer: `<pid>@<host>-<random>`. Several processes share one
 * store (a run copying a 400 MiB artifact while `paddock runs` looks, two runs at once), so a
 * leftover is swept only when its writer is certainly gone: a process of this host that no longer
 * exists, or, for a writer of another host sharing the folder (or a name paddock did not make),
 * a file untouched for a day. A live writer's copy is never touched.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { testHook } from './test-hooks.js';
import { sha256File, sha256FileSync } from '../files/digest.js';


const CHUNK = 1 << 20;

/** A temp file of another host (or of an unknown writer) is swept once untouched this long. */
const FOREIGN_TMP_MAX_AGE_MS = 24 * 3600 * 1000;

/** The host part of temp names: the hostname with anything but [A-Za-z0-9.-] replaced. */
function tmpHost(): string {
  return hostname().replace(/[^A-Za-z0-9.-]/g, '_') || 'unknown';
}

/** Who wrote a temp file, from its name: `<pid>@<host>-<random>`. */
function tmpWriter(name: string): { pid: number; host: string } | undefined {
  const m = /^(\d+)@([A-Za-z0-9._-]+)-[0-9a-f]+$/.exec(name);
  return m ? { pid: Number(m[1]), host: m[2] } : undefined;
}

/** Whether a process of this host exists (a zombie counts as gone: it writes nothing more). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

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

  /**
   * Removes temp files that crashed writers left behind, and only those (see the top of this
   * file). `now` and `isAlive` are for tests.
   */
  sweep(opts: { now?: number; isAlive?: (pid: number) => boolean } = {}): number {
    const now = opts.now ?? Date.now();
    const alive = opts.isAlive ?? processAlive;
    const host = tmpHost();
    let n = 0;
    for (const name of readdirSync(this.tmp)) {
      const path = join(this.tmp, name);
      const writer = tmpWriter(name);
      let gone: boolean;
      if (writer && writer.host === host) gone = !alive(writer.pid);
      else {
        let mtime: number;
        try {
          mtime = statSync(path).mtimeMs;
        } catch {
          continue; // its writer renamed or removed it meanwhile
        }
        gone = now - mtime > FOREIGN_TMP_MAX_AGE_MS;
      }
      if (!gone) continue;
      rmSync(path, { force: true });
      n++;
    }
    return n;
  }

  /** The name of a temp file this process would write now (for tests of the sweep). */
  static tmpName(pid = process.pid, host = tmpHost()): string {
    return `${pid}@${host}-${randomBytes(6).toString('hex')}`;
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
    const tmpPath = join(this.tmp, ContentStore.tmpName());
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
