/**
 * Moving files in and out of containers through the Docker archive API (PUT/GET
 * /containers/{id}/archive), as tar streams built and read with tar-stream, hashing every file
 * on the way: inputs are checked against their declared sha256 before they are sent, outputs
 * are hashed as they are written on this side.
 */
import { createReadStream, createWriteStream, mkdirSync, readdirSync, statSync, lstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, posix, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import tar from 'tar-stream';
import type { CopySpec } from '../src/pipeline/runner.js';
import { sha256FileSync } from '../src/files/digest.js';

export class CopyError extends Error {}

interface PackEntry {
  file: string;
  name: string;
  size: number;
  mode: number;
}

function listInputs(inputs: readonly CopySpec[]): PackEntry[] {
  const out: PackEntry[] = [];
  for (const c of inputs) {
    if (!posix.isAbsolute(c.target)) throw new CopyError(`input ${c.source}: the target ${JSON.stringify(c.target)} must be an absolute path in the container`);
    let st;
    try {
      st = statSync(c.source);
    } catch (err) {
      throw new CopyError(`input ${c.source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    const base = posix.normalize(c.target).replace(/^\/+/, '');
    if (st.isFile()) {
      if (c.sha256) {
        const got = sha256FileSync(c.source).sha256;
        if (got !== c.sha256) throw new CopyError(`input ${c.source}: sha256 ${got} does not match the declared ${c.sha256}`);
      }
      out.push({ file: c.source, name: base, size: st.size, mode: st.mode & 0o777 });
    } else if (st.isDirectory()) {
      if (c.sha256) throw new CopyError(`input ${c.source}: a sha256 can be declared for a file, not a folder`);
      const walk = (dir: string) => {
        for (const d of readdirSync(dir, { withFileTypes: true })) {
          const p = join(dir, d.name);
          if (d.isDirectory()) walk(p);
          else if (d.isFile()) {
            const s = lstatSync(p);
            out.push({ file: p, name: posix.join(base, relative(c.source, p).split(sep).join('/')), size: s.size, mode: s.mode & 0o777 });
          }
        }
      };
      walk(c.source);
    } else throw new CopyError(`input ${c.source}: not a file or a folder`);
  }
  return out;
}

/**
 * A tar stream of the inputs, rooted at "/", and the sha256 of each file as sent (checked
 * against a declared digest first, so a file changed between the check and the send also shows:
 * the digests are compared again when the stream ends).
 */
export function packInputs(inputs: readonly CopySpec[]): { stream: Readable; done: Promise<Map<string, string>> } {
  const entries = listInputs(inputs);
  const pack = tar.pack();
  const sent = new Map<string, string>();
  const done = (async () => {
    for (const e of entries) {
      const hash = createHash('sha256');
      const entry = pack.entry({ name: e.name, size: e.size, mode: e.mode, type: 'file' });
      await pipeline(
        createReadStream(e.file),
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            cb(null, chunk);
          },
        }),
        entry,
      );
      sent.set('/' + e.name, hash.digest('hex'));
    }
    pack.finalize();
    for (const c of inputs) {
      const got = sent.get(posix.normalize(c.target));
      if (c.sha256 && got !== c.sha256) throw new CopyError(`input ${c.source}: changed while it was being sent (sha256 ${got}, declared ${c.sha256})`);
    }
    return sent;
  })();
  done.catch((err: Error) => pack.destroy(err));
  return { stream: pack, done };
}

/** A file copied out of a container. */
export interface CopiedFile {
  /** Path in the container. */
  source: string;
  /** Path on this machine. */
  path: string;
  sha256: string;
  bytes: number;
}

/**
 * Writes the tar stream of GET /archive for `spec.source` under `spec.target` (a file lands at
 * the target path itself; a folder's content lands inside the target folder). Entry names with
 * ".." or absolute paths are refused.
 */
export async function unpackOutput(stream: NodeJS.ReadableStream, spec: CopySpec): Promise<CopiedFile[]> {
  const extract = tar.extract();
  const files: CopiedFile[] = [];
  const root = posix.basename(posix.normalize(spec.source));
  extract.on('entry', (header, entry, next) => {
    const name = posix.normalize(header.name).replace(/\/+$/, '');
    if (name.startsWith('..') || posix.isAbsolute(name)) {
      entry.resume();
      next(new CopyError(`output ${spec.source}: the archive holds an unsafe name ${JSON.stringify(header.name)}`));
      return;
    }
    const rest = name === root ? '' : name.startsWith(root + '/') ? name.slice(root.length + 1) : name;
    if (header.type !== 'file') {
      entry.resume();
      entry.once('end', () => next());
      return;
    }
    const dest = rest ? join(spec.target, ...rest.split('/')) : spec.target;
    mkdirSync(dirname(dest), { recursive: true });
    const hash = createHash('sha256');
    let bytes = 0;
    entry.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    pipeline(entry, createWriteStream(dest)).then(
      () => {
        files.push({ source: rest ? posix.join(spec.source, rest) : spec.source, path: dest, sha256: hash.digest('hex'), bytes });
        next();
      },
      (err: Error) => next(err),
    );
  });
  await pipeline(stream as Readable, extract);
  return files;
}
