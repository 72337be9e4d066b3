/**
 * Which files a replay reads: a recipe's `bundles` list names bundle files (.mcap, a ROS 2 .db3),
 * folders of them (sorted by name, not recursive), or a world's manifests/replay_drives.json
 * (its `drives[].path`, relative to the world's root). readBundle reads one with
 * src/replay/bundle.ts, whichever container it is.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../files/input-error.js';
import { readDrive, type DriveBundle } from './bundle.js';

const BUNDLE_EXT = /\.(mcap|db3)$/i;

/** The bundle files `entries` name, in order, each once. */
export function listBundles(entries: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of entries) {
    if (!existsSync(entry)) throw new InputError(`replay bundles: ${entry} does not exist`);
    if (statSync(entry).isDirectory()) {
      const names = readdirSync(entry).filter((n) => BUNDLE_EXT.test(n)).sort();
      if (names.length === 0) throw new InputError(`replay bundles: ${entry} holds no .mcap or .db3 file`);
      out.push(...names.map((n) => join(entry, n)));
    } else if (entry.endsWith('.json')) {
      out.push(...indexEntries(entry));
    } else {
      out.push(entry);
    }
  }
  return [...new Set(out.map((f) => resolve(f)))];
}

/** The bundles of a world's replay index: `{ "drives": [{ "path": "drives/<id>.mcap", ... }] }`. */
function indexEntries(file: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`replay bundles: ${file}: not JSON (${(err as Error).message})`);
  }
  const drives = (doc as { drives?: unknown }).drives;
  if (!Array.isArray(drives)) throw new InputError(`replay bundles: ${file}: expected an object with a "drives" array`);
  // The index sits in <world>/manifests/; its paths are relative to <world>.
  const root = dirname(dirname(resolve(file)));
  return drives.map((d, i) => {
    const p = (d as { path?: unknown }).path;
    if (typeof p !== 'string' || !p) throw new InputError(`replay bundles: ${file}: drives[${i}].path must be a non-empty string`);
    return isAbsolute(p) ? p : join(root, p);
  });
}

/** One drive: its info (sha256 included) and its frames in capture order. */
export function readBundle(file: string): Promise<DriveBundle> {
  return readDrive(file);
}
