/**
 * Retention of heavy intermediate artifacts (engines, calibration caches, replay outputs of old
 * runs) per policy, in two halves, the way changesets plans before it writes: `planRetention`
 * reads the tree and returns what would happen, with the bytes, changing nothing; and
 * `applyRetention` does it (or, with dryRun, only says so). Archiving writes one .tar.gz
 * (tar-stream + zlib), reads it back and compares every entry's type, size and SHA-256 with what
 * went in, and only then removes the originals.
 *
 * Nothing outside root is touched: the tree is walked with lstat and symbolic links are never
 * followed (a link is an artifact of its own: archived as a link, removed as a link, its target
 * left alone); a rule's `dir` or `glob` that would leave root is refused; and before each removal
 * the parent is resolved again, so a directory swapped for a link since the plan is not entered.
 *
 * Age: an item's newest modification time (a directory's is the newest of anything inside it:
 * a run directory written to yesterday is a day old, however old the directory entry is).
 * Rules are taken in order; the first rule that matches a path decides it (act or keep); an
 * action inside another action's directory is folded into that one.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, relative, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { writeAtomic } from '../files/atomic.js';
import { InputError } from '../files/input-error.js';
import type { RetentionRule } from '../schema/hooks.js';

export type { RetentionRule } from '../schema/hooks.js';

const DAY_MS = 86_400_000;

export interface RetentionItem {
  /** Relative to root, with "/" separators. */
  path: string;
  kind: 'file' | 'dir' | 'symlink';
  /** Bytes it holds (a directory: every file in it; a link: the link itself). */
  bytes: number;
  files: number;
  /** Newest modification time inside it (ms). */
  mtimeMs: number;
  /** Index of the rule that decided it. */
  rule: number;
  action: 'archive' | 'delete';
  reason: string;
}

export interface RetentionPlan {
  /** The real path of root (links in the path given resolved once, here). */
  root: string;
  now: number;
  /** Where archives go, relative to root. */
  archiveDir: string;
  actions: RetentionItem[];
  kept: { path: string; rule: number; reason: string }[];
  totals: { archive: { items: number; bytes: number }; delete: { items: number; bytes: number } };
}

/** A path relative to root that stays inside it, with "/" separators; else an InputError naming `what`. */
function insideRoot(p: string, what: string): string {
  const norm = posix.normalize(p.split(sep).join('/')).replace(/\/+$/, '');
  if (isAbsolute(p) || norm === '..' || norm.startsWith('../') || norm.startsWith('/')) throw new InputError(`${what}: "${p}" leaves the retention root; give a path relative to it`);
  return norm === '.' ? '' : norm;
}

/**
 * A glob (relative to root) as a regular expression over "/"-separated relative paths: `*` and
 * `?` within one path segment, `**` across segments, `{a,b}` alternatives, `[...]` classes.
 * Dotfiles are matched like any other name.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        re += slash ? '(?:[^/]*(?:/[^/]*)*/)?' : '.*';
        i += slash ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      depth++;
      re += '(?:';
    } else if (c === '}' && depth > 0) {
      depth--;
      re += ')';
    } else if (c === ',' && depth > 0) re += '|';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `(?!/)[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|\\\]]/g, '\\$&');
  }
  if (depth !== 0) throw new InputError(`glob "${glob}": an unclosed "{"`);
  return new RegExp(`^${re}$`);
}

interface Measured {
  kind: RetentionItem['kind'];
  bytes: number;
  files: number;
  mtimeMs: number;
}

/** Size and newest mtime of what is at `abs`, never following a link. */
function measure(abs: string, st: Stats = lstatSync(abs)): Measured {
  if (st.isSymbolicLink()) return { kind: 'symlink', bytes: st.size, files: 1, mtimeMs: st.mtimeMs };
  if (!st.isDirectory()) return { kind: 'file', bytes: st.size, files: 1, mtimeMs: st.mtimeMs };
  const m: Measured = { kind: 'dir', bytes: 0, files: 0, mtimeMs: st.mtimeMs };
  for (const name of readdirSync(abs)) {
    const c = measure(join(abs, name));
    m.bytes += c.bytes;
    m.files += c.files;
    m.mtimeMs = Math.max(m.mtimeMs, c.mtimeMs);
  }
  return m;
}

/** Every path under root (relative) matching `re`; a matching directory is not entered; links are never entered; `skip` (the archive dir) is left out. */
function globMatches(root: string, re: RegExp, skip: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const d of readdirSync(rel ? join(root, rel) : root, { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (p === skip) continue;
      if (re.test(p)) out.push(p);
      else if (d.isDirectory() && !d.isSymbolicLink()) walk(p);
    }
  };
  walk('');
  return out;
}

/** The entries directly inside `dir` under root; the path to it must be real directories (a link on the way is refused, not followed). */
function dirEntries(root: string, dir: string, skip: string, ruleNo: number): string[] {
  let at = root;
  for (const part of dir ? dir.split('/') : []) {
    at = join(at, part);
    let st: Stats;
    try {
      st = lstatSync(at);
    } catch {
      return [];
    }
    if (st.isSymbolicLink()) throw new InputError(`retention rule ${ruleNo}: dir "${dir}": ${relative(root, at)} is a symbolic link; links are not followed`);
    if (!st.isDirectory()) throw new InputError(`retention rule ${ruleNo}: dir "${dir}": ${relative(root, at)} is not a directory`);
  }
  return readdirSync(at)
    .map((name) => (dir ? `${dir}/${name}` : name))
    .filter((p) => p !== skip && !p.startsWith(`${skip}/`));
}

const days = (ms: number) => (ms / DAY_MS).toFixed(1);

/** What the rules would do under root at `now` (ms): pure, reads the tree and changes nothing. */
export function planRetention(root: string, rules: readonly RetentionRule[], now: number, opts: { archiveDir?: string } = {}): RetentionPlan {
  const realRoot = realpathSync(root);
  const archiveDir = insideRoot(opts.archiveDir ?? '.paddock-archive', 'archive_dir');
  if (!archiveDir) throw new InputError('archive_dir: the archive directory cannot be the retention root itself');
  const decided = new Set<string>();
  const actions: RetentionItem[] = [];
  const kept: RetentionPlan['kept'] = [];
  rules.forEach((rule, i) => {
    const ruleNo = i + 1;
    if ((rule.glob === undefined) === (rule.dir === undefined)) throw new InputError(`retention rule ${ruleNo}: needs exactly one of "glob" or "dir"`);
    if (rule.older_than_days === undefined && rule.keep_last === undefined) throw new InputError(`retention rule ${ruleNo}: needs "older_than_days" or "keep_last"; without either it would take everything`);
    const paths =
      rule.glob !== undefined
        ? globMatches(realRoot, globToRegExp(insideRoot(rule.glob, `retention rule ${ruleNo}: glob`)), archiveDir)
        : dirEntries(realRoot, insideRoot(rule.dir!, `retention rule ${ruleNo}: dir`), archiveDir, ruleNo);
    const items = paths
      .filter((p) => !decided.has(p))
      .map((p) => ({ path: p, ...measure(join(realRoot, p)) }))
      // Newest first; equal times by path, later names first (run ids that sort by time).
      .sort((a, b) => b.mtimeMs - a.mtimeMs || (a.path < b.path ? 1 : a.path > b.path ? -1 : 0));
    items.forEach((it, rank) => {
      decided.add(it.path);
      const age = now - it.mtimeMs;
      const young = rule.older_than_days !== undefined && age <= rule.older_than_days * DAY_MS;
      const recent = rule.keep_last !== undefined && rank < rule.keep_last;
      if (young || recent) {
        kept.push({ path: it.path, rule: i, reason: recent ? `among the newest ${rule.keep_last}` : `${days(age)} days old, not older than ${rule.older_than_days}` });
        return;
      }
      const why = [rule.older_than_days !== undefined ? `${days(age)} days old, older than ${rule.older_than_days}` : undefined, rule.keep_last !== undefined ? `not among the newest ${rule.keep_last}` : undefined].filter(Boolean).join('; ');
      actions.push({ ...it, rule: i, action: rule.action, reason: why });
    });
  });
  // An action inside another action's directory goes with that one.
  const dirs = actions.filter((a) => a.kind === 'dir').map((a) => `${a.path}/`);
  const folded = actions.filter((a) => !dirs.some((d) => a.path.startsWith(d))).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const total = (act: 'archive' | 'delete') => {
    const xs = folded.filter((a) => a.action === act);
    return { items: xs.length, bytes: xs.reduce((s, a) => s + a.bytes, 0) };
  };
  kept.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { root: realRoot, now, archiveDir, actions: folded, kept, totals: { archive: total('archive'), delete: total('delete') } };
}

export interface RetentionOutcome {
  path: string;
  action: 'archive' | 'delete';
  status: 'archived' | 'deleted' | 'would archive' | 'would delete' | 'skipped';
  bytes: number;
  detail?: string;
}

export interface RetentionResult {
  dryRun: boolean;
  items: RetentionOutcome[];
  /** The archive written (absolute path), its size and digest, and how many entries were read back and matched. */
  archive?: { path: string; bytes: number; sha256: string; entries: number };
  freedBytes: number;
}

interface TarEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
  sha256?: string;
  linkname?: string;
}

/**
 * `rel` under root as an absolute path, if it is still what the plan saw a path to: no ".."
 * and its parent, resolved now, is the same directory under root (not a link swapped in since).
 */
function stillInside(root: string, rel: string): string | undefined {
  if (insideRoot(rel, 'retention item') !== rel || !rel) return undefined;
  const abs = join(root, rel);
  try {
    if (realpathSync(dirname(abs)) !== dirname(abs)) return undefined;
    lstatSync(abs);
  } catch {
    return undefined;
  }
  return abs;
}

/** Everything under (and including) an item, parents first, never through a link. */
function tarList(root: string, rel: string): { rel: string; st: Stats }[] {
  const st = lstatSync(join(root, rel));
  const out = [{ rel, st }];
  if (st.isDirectory() && !st.isSymbolicLink()) for (const name of readdirSync(join(root, rel)).sort()) out.push(...tarList(root, `${rel}/${name}`));
  return out;
}

async function writeArchive(root: string, rels: readonly string[], file: string): Promise<TarEntry[]> {
  const pack = tar.pack();
  const written = pipeline(pack, createGzip(), createWriteStream(file));
  const entries: TarEntry[] = [];
  try {
    for (const rel of rels) {
      for (const { rel: name, st } of tarList(root, rel)) {
        const abs = join(root, name);
        const header = { name, mode: st.mode & 0o7777, mtime: st.mtime };
        if (st.isSymbolicLink()) {
          const linkname = readlinkSync(abs);
          pack.entry({ ...header, type: 'symlink', linkname });
          entries.push({ name, type: 'symlink', size: 0, linkname });
        } else if (st.isDirectory()) {
          pack.entry({ ...header, type: 'directory' });
          entries.push({ name, type: 'directory', size: 0 });
        } else if (st.isFile()) {
          const h = createHash('sha256');
          await new Promise<void>((resolve, reject) => {
            const entry = pack.entry({ ...header, type: 'file', size: st.size }, (err) => (err ? reject(err) : resolve()));
            const tap = new Transform({
              transform(chunk: Buffer, _enc, cb) {
                h.update(chunk);
                cb(null, chunk);
              },
            });
            pipeline(createReadStream(abs), tap, entry).catch(reject);
          });
          entries.push({ name, type: 'file', size: st.size, sha256: h.digest('hex') });
        } else {
          throw new Error(`${abs}: neither a file, a directory nor a link (a socket or device?); not archived`);
        }
      }
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => undefined);
    throw err;
  }
  await written;
  const fh = await open(file, 'r+');
  await fh.sync();
  await fh.close();
  return entries;
}

async function readArchive(file: string): Promise<TarEntry[]> {
  const got: TarEntry[] = [];
  const ex = tar.extract();
  ex.on('entry', (hdr, stream, next) => {
    const h = createHash('sha256');
    let size = 0;
    stream.on('data', (c: Buffer) => {
      h.update(c);
      size += c.length;
    });
    stream.on('end', () => {
      const type = hdr.type === 'directory' ? 'directory' : hdr.type === 'symlink' ? 'symlink' : 'file';
      got.push({ name: hdr.name.replace(/\/$/, ''), type, size, ...(type === 'file' ? { sha256: h.digest('hex') } : {}), ...(type === 'symlink' ? { linkname: hdr.linkname ?? '' } : {}) });
      next();
    });
    stream.resume();
  });
  await pipeline(createReadStream(file), createGunzip(), ex);
  return got;
}

function compareEntries(want: readonly TarEntry[], got: readonly TarEntry[]): string | undefined {
  if (got.length !== want.length) return `${got.length} entries read back, ${want.length} written`;
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    if (g.name !== w.name || g.type !== w.type || g.size !== w.size || g.sha256 !== w.sha256 || g.linkname !== w.linkname) return `entry ${i} read back as ${JSON.stringify(g)}, written as ${JSON.stringify(w)}`;
  }
  return undefined;
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');

/**
 * Carries out a plan: deletes, and archives into <root>/<archiveDir>/retention-<time>.tar.gz
 * (with a .json listing every entry's sha256 beside it), verified by reading it back before any
 * original is removed; with dryRun, changes nothing and says what it would do.
 */
export async function applyRetention(plan: RetentionPlan, o: { dryRun: boolean }): Promise<RetentionResult> {
  const items: RetentionOutcome[] = [];
  if (o.dryRun) {
    for (const a of plan.actions) items.push({ path: a.path, action: a.action, status: a.action === 'archive' ? 'would archive' : 'would delete', bytes: a.bytes, detail: a.reason });
    return { dryRun: true, items, freedBytes: 0 };
  }
  const live = plan.actions.map((a) => ({ a, abs: stillInside(plan.root, a.path) }));
  for (const { a, abs } of live) if (!abs) items.push({ path: a.path, action: a.action, status: 'skipped', bytes: 0, detail: 'gone since the plan, or its parent is no longer the directory under root the plan saw' });
  let archive: RetentionResult['archive'];
  const toArchive = live.filter((x) => x.abs && x.a.action === 'archive');
  if (toArchive.length) {
    const dir = join(plan.root, plan.archiveDir);
    mkdirSync(dir, { recursive: true });
    if (realpathSync(dir) !== dir) throw new InputError(`archive_dir ${plan.archiveDir}: resolves outside ${plan.root} (a link on the way); not written`);
    let file = join(dir, `retention-${stamp(plan.now)}.tar.gz`);
    for (let n = 2; existsSync(file); n++) file = join(dir, `retention-${stamp(plan.now)}-${n}.tar.gz`);
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      const wrote = await writeArchive(
        plan.root,
        toArchive.map((x) => x.a.path),
        tmp,
      );
      const problem = compareEntries(wrote, await readArchive(tmp));
      if (problem) throw new Error(`${file}: the archive did not read back as written (${problem}); nothing was removed`);
      const h = createHash('sha256');
      for await (const c of createReadStream(tmp)) h.update(c as Buffer);
      const sha256 = h.digest('hex');
      writeAtomic(`${file}.json`, `${JSON.stringify({ format: 'paddock.retention_archive/1', created_at: new Date(plan.now).toISOString(), root: plan.root, archive: file, sha256, entries: wrote }, null, 1)}\n`);
      renameSync(tmp, file);
      archive = { path: file, bytes: statSync(file).size, sha256, entries: wrote.length };
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }
  let freedBytes = 0;
  for (const { a, abs } of live) {
    if (!abs) continue;
    // Resolved again right before removing: rmSync removes a link, never what it points at.
    const again = stillInside(plan.root, a.path);
    if (!again) {
      items.push({ path: a.path, action: a.action, status: 'skipped', bytes: 0, detail: 'changed since the plan' + (a.action === 'archive' ? ' (its copy stays in the archive)' : '') });
      continue;
    }
    const st = lstatSync(again);
    if (st.isDirectory() && !st.isSymbolicLink()) rmSync(again, { recursive: true });
    else unlinkSync(again);
    freedBytes += a.bytes;
    items.push({ path: a.path, action: a.action, status: a.action === 'archive' ? 'archived' : 'deleted', bytes: a.bytes, detail: a.reason });
  }
  items.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return { dryRun: false, items, ...(archive ? { archive } : {}), freedBytes };
}
