/**
 * What the package steps share: the pack directory and its reports/ (each step writes
 * reports/<step>.json, the pack step assembles export_report.json from them), the pack's
 * versions (where a run builds its pack, how `sign` publishes it), and small file helpers.
 */
import { constants, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, hostname, release, totalmem, type as osType } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { emit } from '../emit.js';
import { writeAtomic } from '../../files/atomic.js';
import { sha256FileSync } from '../../files/digest.js';
import { acquireDirLock, describeLockWait, releaseDirLock, type LockHolder } from '../../files/file-lock.js';
import { BUNDLE, REPORT, SIGNATURE } from '../../pack/signing.js';
import { testHook } from '../../store/test-hooks.js';

/** The architecture a checkpoint is loaded into (runners/python/paddock_model.py). */
export const Architecture = z.object({ file: z.string().min(1), class: z.string().min(1), kwargs: z.record(z.string(), z.unknown()).default({}) }).strict();

/** Writes JSON atomically (tmp + rename), so a reader never sees half a file. */
export function writeJson(file: string, data: unknown): void {
  writeAtomic(file, `${JSON.stringify(data, null, 1)}\n`);
}

/**
 * Writes reports/<step>.json: the step's data, when, and the host the step ran on (hostInfo, for
 * the export report's `hosts`; a step that knows its host better passes its own `host`).
 */
export function writeReport(pack: string, step: string, data: unknown): string {
  const file = join(pack, 'reports', `${step}.json`);
  writeJson(file, { step, written: new Date().toISOString(), host: hostInfo(), ...(data as object) });
  return file;
}

/** A version that may be absent: then `version` is null and `reason` says why. */
export interface Versioned {
  version: string | null;
  reason?: string;
  source?: string;
}

/** The machine a step ran on, as the export report's `hosts` lists it (src/schema/export-report.ts Host). */
export interface HostInfo {
  name: string;
  /** Whether the step ran in a container (then `name` is the container's hostname). */
  container: boolean;
  os: string;
  cpu: { model: string | null; cores: number | null; reason?: string };
  memory_mib: number | null;
  gpus: { index: number; name: string; driver: string | null; memory_mib: number | null }[];
  gpu_reason: string | null;
  driver: Versioned;
  /** The CUDA runtime the step used (a Python step: torch.version.cuda). */
  cuda: Versioned;
  /** The CUDA version the driver supports (nvidia-smi's header), where there is a driver. */
  cuda_driver: Versioned;
  cudnn: Versioned;
  tensorrt: Versioned;
  source: string;
}

/** The CPU model of /proc/cpuinfo text: the first "model name" (x86), else "Model" or "Hardware" (arm64). */
export function cpuModelOf(cpuinfo: string): string | null {
  for (const key of ['model name', 'Model', 'Hardware', 'cpu model']) {
    const m = new RegExp(`^${key}\\s*:\\s*(.+)$`, 'm').exec(cpuinfo);
    if (m && m[1].trim()) return m[1].trim();
  }
  return null;
}

/** Rows of `nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmiGpus(csv: string): HostInfo['gpus'] {
  return csv
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [index, name, driver, mem] = l.split(',').map((x) => x.trim());
      const n = Number(mem);
      return { index: Number(index), name, driver: driver && !/N\/A/.test(driver) ? driver : null, memory_mib: Number.isFinite(n) && mem !== '' ? n : null };
    });
}

/** The "CUDA Version: 12.4" of nvidia-smi's header: the newest CUDA the driver supports. */
export function cudaOfNvidiaSmi(text: string): string | null {
  return /CUDA Version:\s*([\d.]+)/.exec(text)?.[1] ?? null;
}

let cachedHost: HostInfo | undefined;

/**
 * This machine, for the report of a Node step: CPU model and cores (/proc/cpuinfo, os.cpus),
 * memory, GPUs and driver through nvidia-smi when it is on PATH. A Node step runs
 * onnxruntime-node on the CPU: it loads no CUDA, cuDNN or TensorRT, and says so rather than
 * reporting what some other program on the host might use. Read once per process.
 */
export function hostInfo(): HostInfo {
  if (cachedHost) return cachedHost;
  let cpuModel: string | null = null;
  let cpuReason: string | undefined;
  try {
    cpuModel = cpuModelOf(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    // not Linux: os.cpus() below
  }
  cpuModel ??= cpus()[0]?.model?.trim() || null;
  if (!cpuModel) cpuReason = 'neither /proc/cpuinfo nor os.cpus() names the CPU model';
  const cores = cpus().length || null;
  const noGpuRuntime = 'this step runs onnxruntime-node on the CPU execution provider: it loads no GPU runtime';
  let gpus: HostInfo['gpus'] = [];
  let gpuReason: string | null = null;
  let cudaDriver: Versioned = { version: null, reason: 'no NVIDIA driver found (nvidia-smi is not on PATH)' };
  let driver: Versioned = { version: null, reason: 'no NVIDIA driver found (nvidia-smi is not on PATH)' };
  try {
    gpus = parseNvidiaSmiGpus(execFileSync('nvidia-smi', ['--query-gpu=index,name,driver_version,memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }));
    if (!gpus.length) gpuReason = 'nvidia-smi lists no GPU';
    const d = gpus.find((g) => g.driver)?.driver ?? null;
    driver = d ? { version: d, source: 'nvidia-smi --query-gpu=driver_version' } : { version: null, reason: 'nvidia-smi reports no driver version' };
    const cuda = cudaOfNvidiaSmi(execFileSync('nvidia-smi', [], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }));
    cudaDriver = cuda ? { version: cuda, source: "nvidia-smi's header (the newest CUDA the driver supports)" } : { version: null, reason: "nvidia-smi's header names no CUDA version" };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'nvidia-smi is not on PATH' : `nvidia-smi failed: ${String(e.stderr || e.message).trim().split('\n')[0]}`;
    gpuReason = `no GPU found: ${why}`;
    cudaDriver = { version: null, reason: why };
    driver = { version: null, reason: why };
  }
  cachedHost = {
    name: hostname(),
    container: existsSync('/.dockerenv') || existsSync('/run/.containerenv'),
    os: `${osType()} ${release()} ${process.arch}`,
    cpu: { model: cpuModel, cores, ...(cpuReason ? { reason: cpuReason } : {}) },
    memory_mib: Math.round(totalmem() / 2 ** 20),
    gpus,
    gpu_reason: gpuReason,
    driver,
    cuda: { version: null, reason: noGpuRuntime },
    cuda_driver: cudaDriver,
    cudnn: { version: null, reason: noGpuRuntime },
    tensorrt: { version: null, reason: `${noGpuRuntime} (TensorRT versions come from the trtexec logs import-bench reads)` },
    source: `node ${process.versions.node} step: /proc/cpuinfo, os, nvidia-smi`,
  };
  return cachedHost;
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
 * A pack is never rewritten in place, so that a reader (`paddock verify`, publish, a registry)
 * sees the old signed pack or the new one, never a mix, and a crash leaves the old one whole:
 *
 *   <pack>                      a symlink to the version readers see: <name>.versions/<run id>
 *   <pack>.versions/<run id>/   the versions; a run builds its own, its staging directory
 *   <pack>.versions/history.json  the versions that have been published, in order, and pruned
 *   <pack>.lock                 held while a version is published (src/files/file-lock.ts)
 *
 * Where the switch happens: readPackWith (params.ts), when paddock builds a package step's
 * command line, replaces the recipe's `pack:` by the run's staging directory (stagePack below),
 * made first, so that a container step has it to copy in and back out at the same absolute
 * path, and the command line (and so the input digest a resume compares) is the same for every
 * attempt of the run. The steps of one run (several processes) write there; a resume finds it
 * again by the run id. It starts as a copy of the current version (files of steps a recipe
 * leaves out stay, as when packs were rewritten in place; the signature files do not: the
 * version is unsigned until `sign`). `sign`, the last writer, signs it and publishes it
 * (publishPack): a new symlink under a temporary name, renamed over <pack> (rename(2) replaces
 * it in one step; a reader that resolves <pack> once, as verifyPack does, reads one version
 * throughout). The version it replaces is kept (rollback: point <pack> back at it); older
 * published versions are pruned; versions never published (a failed run that may be resumed)
 * are left alone. A pack directory from before versions is moved aside into <pack>.versions
 * when the first version is published over it, and said so. A published version is never
 * written again: a step of its run that would (a resume after an input changed) fails, saying
 * to start a new run. A step run by hand on a plain directory (no run: `dist/step.js <step>`)
 * writes in place under <pack>.lock, as before.
 */
const VERSIONS = '.versions';
const HISTORY = 'history.json';

/** The staging directory of `run` for the pack at `pack`. */
export function stagingDir(pack: string, run: string): string {
  return join(`${pack}${VERSIONS}`, run.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** The pack a staging directory is a version of (`<pack>.versions/<run>` -> `<pack>`), or undefined for a plain directory. */
export function packOfVersion(dir: string): string | undefined {
  const parent = dirname(resolve(dir));
  return parent.endsWith(VERSIONS) && basename(parent).length > VERSIONS.length ? parent.slice(0, -VERSIONS.length) : undefined;
}

interface History {
  format: 'paddock.pack-versions/1';
  /** `publishing`: recorded before the switch, `published` after it (a crash between them is settled by where <pack> points). */
  versions: { version: string; publishing?: string; published?: string; pruned?: string; note?: string }[];
}

function readHistory(versions: string, say: (l: string) => void): History {
  const file = join(versions, HISTORY);
  const empty: History = { format: 'paddock.pack-versions/1', versions: [] };
  if (!existsSync(file)) return empty;
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as History;
    if (!Array.isArray(h.versions)) throw new Error('no "versions" list');
    return h;
  } catch (err) {
    // Nothing is pruned on its word then; the versions on disk stay.
    say(`${file}: unreadable (${(err as Error).message}); starting it again, nothing is pruned this time`);
    return empty;
  }
}

/** The version <pack> points at now (its directory name under <pack>.versions), if it is a symlink into it. */
export function currentVersion(pack: string): string | undefined {
  try {
    if (!lstatSync(pack).isSymbolicLink()) return undefined;
    const target = resolve(dirname(pack), readlinkSync(pack));
    return dirname(target) === `${pack}${VERSIONS}` ? basename(target) : undefined;
  } catch {
    return undefined;
  }
}

/** Copies a version (the signature files left out) into a fresh directory, then moves it to `dir` whole. */
function seed(from: string | undefined, dir: string): void {
  const tmp = join(dirname(dir), `.seed-${basename(dir)}-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    if (from) {
      const root = realpathSync(from);
      const skip = new Set([REPORT, SIGNATURE, BUNDLE].map((f) => join(root, f)));
      // A clone where the filesystem can (copy on write), else a copy: never a hard link, which
      // a step writing a file in place would write through into the published version.
      cpSync(root, tmp, { recursive: true, mode: constants.COPYFILE_FICLONE, filter: (src) => !skip.has(src) && !basename(src).includes('.tmp-') });
    } else mkdirSync(tmp, { recursive: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another step process of this run made it first.
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The staging directory of `run` for `pack`, made (a copy of the current version) if there is
 * none yet. Called when paddock builds the command line of a package step that writes the pack.
 */
export function stagePack(pack: string, run: string): string {
  const dir = stagingDir(pack, run);
  if (existsSync(dir)) return dir;
  mkdirSync(dirname(dir), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const from = existsSync(pack) ? pack : undefined;
    try {
      seed(from, dir);
      return dir;
    } catch (err) {
      // The version copied from was pruned mid-copy by another run's publish: copy the new one.
      if (attempt >= 3 || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${dir}: could not make the run's pack version from ${from ?? 'nothing'}: ${(err as Error).message}`);
    }
  }
}

/** Fails when `dir`, a version of `pack`, has been published and not pruned since: a published version is never written again. */
function checkUnpublished(dir: string, pack: string): void {
  const version = basename(dir);
  const say = (l: string) => log(l, 'warn');
  const last = readHistory(`${pack}${VERSIONS}`, say).versions.filter((v) => v.version === version).pop();
  const current = currentVersion(pack) === version;
  if (current || (last?.published && !last.pruned)) {
    throw new Error(`${dir} is ${current ? 'the published version' : 'a version kept for rollback'} of ${pack} (published ${last?.published ?? 'earlier'}), and a published pack is never rewritten: start a new run to build a new version`);
  }
}

/**
 * Publishes the version in `dir` (signed) as `pack`: the symlink flipped by rename(2), under
 * the pack's lock; the version it replaces kept, older published ones pruned. Returns what it
 * replaced.
 */
export async function publishPack(dir: string, pack: string, say: (line: string, level?: 'info' | 'warn') => void = log): Promise<{ previous?: string; pruned: string[]; migrated?: string }> {
  const versions = `${pack}${VERSIONS}`;
  const historyFile = join(versions, HISTORY);
  const version = basename(dir);
  if (resolve(dirname(dir)) !== resolve(versions)) throw new Error(`${dir} is not a version of ${pack} (${versions}/<run>)`);
  const me: LockHolder = { run: `publish-${version}`, pid: process.pid };
  await acquireDirLock(pack, me, { pollMs: 200, onWait: (w) => say(`waiting to publish ${pack}: ${describeLockWait(w)}`, 'warn') });
  try {
    const history = readHistory(versions, (l) => say(l, 'warn'));
    const now = new Date().toISOString();
    let previous = currentVersion(pack);
    // A publish that crashed between recording and switching: published if <pack> points at it, else not (its run's work stays).
    history.versions = history.versions.flatMap((v) => (!v.publishing || v.published ? [v] : v.version === previous ? [{ ...v, published: v.publishing, publishing: undefined }] : []));
    let migrated: string | undefined;
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(pack);
    } catch {
      st = undefined;
    }
    if (st && previous === undefined) {
      if (st.isSymbolicLink()) say(`${pack} was a symlink to ${readlinkSync(pack)}: it now points at the published version (what it pointed at is left where it is)`, 'warn');
      else if (!st.isDirectory()) throw new Error(`${pack}: a file is where the pack should be; move it away`);
      else {
        // A pack from before versions: moved aside whole (recorded first, so that a crash just
        // after the move still knows it), kept as the previous version. rename cannot put a
        // symlink over a directory, so <pack> is missing between the move and the link (a
        // reader then finds no pack, never a mix; after a crash there, the next publish keeps
        // the moved pack as its previous version).
        migrated = `pre-versions-${now.replace(/[-:]/g, '').replace(/\..*$/, '')}`;
        history.versions.push({ version: migrated, published: now, note: `the pack at ${pack} from before versions, moved here` });
        writeJson(historyFile, history);
        renameSync(pack, join(versions, migrated));
        testHook('pack.publish');
        symlinkSync(join(basename(versions), migrated), pack);
        previous = migrated;
        say(`${pack} was a directory from before versioned packs: moved whole to ${join(versions, migrated)}, kept as the previous version (pruned, like any version, once two newer ones are published)`, 'warn');
      }
    }
    // No <pack> (a crash between a move and its link, or removed by hand): the newest published version still on disk is the previous one.
    previous ??= history.versions.filter((v) => v.published && !v.pruned && v.version !== version && existsSync(join(versions, v.version))).pop()?.version;
    if (previous !== undefined && !history.versions.some((v) => v.version === previous && !v.pruned)) history.versions.push({ version: previous, published: 'before this history' });
    // Recorded before the switch, so that a crash just after it still knows this version was published (and prunes it in its turn).
    history.versions = history.versions.filter((v) => !(v.version === version && !v.pruned));
    const entry: History['versions'][number] = { version, publishing: now };
    history.versions.push(entry);
    writeJson(historyFile, history);
    const tmp = `${pack}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    symlinkSync(join(basename(versions), version), tmp);
    testHook('pack.publish');
    renameSync(tmp, pack);
    testHook('pack.publish');
    entry.published = now;
    delete entry.publishing;
    // Prune: every published version but this one and the one it replaced. Moved to a trash
    // name first, so a crash mid-removal leaves no half version under a version's name.
    const pruned: string[] = [];
    for (const v of history.versions) {
      if (v.pruned || v.version === version || v.version === previous) continue;
      const d = join(versions, v.version);
      if (existsSync(d)) {
        const trash = join(versions, `.trash-${v.version}-${randomBytes(3).toString('hex')}`);
        renameSync(d, trash);
        testHook('pack.publish');
        rmSync(trash, { recursive: true, force: true });
      }
      v.pruned = now;
      pruned.push(v.version);
    }
    sweepVersions(versions, pack);
    writeJson(historyFile, history);
    return { previous, pruned, migrated };
  } finally {
    releaseDirLock(pack, me.run);
  }
}

/** What a killed publisher or step left: trash folders, temporary symlinks (only a publisher, under the lock, makes either), seed folders an hour old. */
function sweepVersions(versions: string, pack: string): void {
  const now = Date.now();
  for (const name of readdirSync(dirname(pack))) {
    const p = join(dirname(pack), name);
    try {
      if (name.startsWith(`${basename(pack)}.tmp-`) && lstatSync(p).isSymbolicLink()) rmSync(p, { force: true });
    } catch {
      // gone already
    }
  }
  for (const name of readdirSync(versions)) {
    if (!name.startsWith('.seed-') && !name.startsWith('.trash-')) continue;
    const p = join(versions, name);
    try {
      // A seed folder may be a live step's.
      if (name.startsWith('.trash-') || now - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
    } catch {
      // gone already
    }
  }
}

/**
 * Before a package step writes `pack`: a version of its run's own (the usual case) is checked
 * never to have been published; a plain directory (a step run by hand) is locked for the run:
 * `<pack>.lock` (src/files/file-lock.ts) names the run and the paddock process (or this one);
 * a step of the same run goes on, another waits, saying who holds it and since when, again
 * while it waits; a dead holder's lock is taken over; `sign`, the last writer, releases it.
 */
function packHolder(): LockHolder {
  return process.env.PADDOCK_RUN_ID ? { run: process.env.PADDOCK_RUN_ID, pid: process.ppid } : { run: `pid-${process.pid}`, pid: process.pid };
}

export async function holdPack(pack: string, onWait: (line: string) => void = (l) => log(l, 'warn')): Promise<void> {
  const of = packOfVersion(pack);
  if (of) return checkUnpublished(pack, of);
  const me = packHolder();
  await acquireDirLock(pack, me, { pollMs: 500, onWait: (w) => onWait(w.unreadable ? `waiting for ${pack}: ${describeLockWait(w)}` : `waiting: run ${w.holder.run} (paddock pid ${w.holder.pid}) is writing ${pack}; ${describeLockWait(w)}`) });
}

/** Releases a plain pack directory's lock if this run holds it (a version of a run's own has none). */
export function releasePack(pack: string): void {
  if (!packOfVersion(pack)) releaseDirLock(pack, packHolder().run);
}
