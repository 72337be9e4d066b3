/**
 * What the package steps share: the pack directory and its reports/ (each step writes
 * reports/<step>.json, the pack step assembles export_report.json from them), the Python
 * interpreter, and small file helpers.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { emit } from '../emit.js';
import { writeAtomic } from '../../package/atomic.js';
import { sha256FileSync } from '../../store/cas.js';

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

/** The Python that has PyTorch: $PADDOCK_PYTHON, else Debian's /usr/bin/python3, else python3 on PATH. */
export function pythonBin(): string {
  if (process.env.PADDOCK_PYTHON) return process.env.PADDOCK_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export const log = (message: string, level: 'info' | 'warn' | 'error' = 'info') => emit({ type: 'log', level, message });

/**
 * One run at a time writes a pack (two demos in two terminals write the same
 * build/packs/<task>/<version>): `<pack>.lock` holds the run id and the pid of the paddock process
 * that runs it. A package step of the same run goes on; of another run, waits while that paddock
 * lives, saying so; a lock whose process is gone is taken over. The `sign` step, the last writer,
 * releases it; otherwise it goes stale with its paddock process.
 */
export async function holdPack(pack: string, onWait: (line: string) => void = (l) => log(l, 'warn')): Promise<void> {
  const run = process.env.PADDOCK_RUN_ID ?? `pid-${process.pid}`;
  const owner = process.env.PADDOCK_RUN_ID ? process.ppid : process.pid;
  const lock = `${pack.replace(/\/+$/, '')}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  let said = false;
  for (;;) {
    try {
      writeFileSync(lock, JSON.stringify({ run, pid: owner }), { flag: 'wx' });
      return;
    } catch {
      let held: { run?: string; pid?: number } = {};
      try {
        held = JSON.parse(readFileSync(lock, 'utf8'));
      } catch {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (held.run === run) return;
      let alive = (held.pid ?? 0) > 0;
      try {
        if (alive) process.kill(held.pid!, 0);
      } catch {
        alive = false;
      }
      if (!alive) {
        rmSync(lock, { force: true });
        continue;
      }
      if (!said) onWait(`waiting: run ${held.run} (paddock pid ${held.pid}) is writing ${pack}`);
      said = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Releases the pack's lock if this run holds it. */
export function releasePack(pack: string): void {
  const lock = `${pack.replace(/\/+$/, '')}.lock`;
  try {
    const held = JSON.parse(readFileSync(lock, 'utf8')) as { run?: string };
    if (held.run === (process.env.PADDOCK_RUN_ID ?? `pid-${process.pid}`)) rmSync(lock, { force: true });
  } catch {
    // no lock
  }
}

/** The local Docker engine's unix socket: the one given, else $DOCKER_HOST's, else /var/run/docker.sock. */
export function localDockerSocket(given?: string): string {
  return given ?? (process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock');
}
