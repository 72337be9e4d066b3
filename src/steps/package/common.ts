/**
 * What the package steps share: the pack directory and its reports/ (each step writes
 * reports/<step>.json, the pack step assembles export_report.json from them), the Python
 * interpreter, and small file helpers.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { emit } from '../emit.js';
import { writeAtomic } from '../../files/atomic.js';
import { sha256FileSync } from '../../files/digest.js';
import { acquireDirLock, releaseDirLock, type LockHolder } from '../../files/file-lock.js';

/** The architecture a checkpoint is loaded into (runners/python/paddock_model.py). */
export const Architecture = z.object({ file: z.string().min(1), class: z.string().min(1), kwargs: z.record(z.string(), z.unknown()).default({}) }).strict();

/** Writes JSON atomically (tmp + rename), so a reader never sees half a file. */
export function writeJson(file: string, data: unknown): void {
  writeAtomic(file, `${JSON.stringify(data, null, 1)}\n`);
}

export function writeReport(pack: string, step: string, data: unknown): string {
  const file = join(pack, 'reports', `${step}.json`);
  writeJson(file, { step, written: new Date().toISOString(), ...(data as object) });
  return file;
}

/** Every report under <pack>/reports/, by step name. */
export function readReports(pack: string): Record<string, Record<string, unknown>> {
  const dir = join(pack, 'reports');
  if (!existsSync(dir)) return {};
  const out: Record<string, Record<string, unknown>> = {};
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.json')) out[f.slice(0, -5)] = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  return out;
}

/** Declares a file the step produced (digest computed here; the runner checks it again). */
export function emitArtifact(path: string, role: string): { sha256: string; bytes: number } {
  const d = sha256FileSync(path);
  emit({ type: 'artifact', path, sha256: d.sha256, bytes: d.bytes, role });
  return d;
}


export const log = (message: string, level: 'info' | 'warn' | 'error' = 'info') => emit({ type: 'log', level, message });

/**
 * One run at a time writes a pack (two demos in two terminals write the same
 * build/packs/<task>/<version>): `<pack>.lock` (src/files/file-lock.ts) holds the run id and the
 * pid of the paddock process that runs it. A package step of the same run goes on; of another
 * run, waits while that paddock lives, saying so; a lock whose process is gone is taken over.
 * The `sign` step, the last writer, releases it; otherwise it goes stale with its paddock process.
 */
function packHolder(): LockHolder {
  return process.env.PADDOCK_RUN_ID ? { run: process.env.PADDOCK_RUN_ID, pid: process.ppid } : { run: `pid-${process.pid}`, pid: process.pid };
}

export async function holdPack(pack: string, onWait: (line: string) => void = (l) => log(l, 'warn')): Promise<void> {
  await acquireDirLock(pack, packHolder(), { pollMs: 500, onWait: (held) => onWait(`waiting: run ${held.run} (paddock pid ${held.pid}) is writing ${pack}`) });
}

/** Releases the pack's lock if this run holds it. */
export function releasePack(pack: string): void {
  releaseDirLock(pack, packHolder().run);
}
