/**
 * Retention on real temporary trees: the plan (pure: the tree is unchanged after it and after a
 * dry run), the archive read back by the real `tar` and compared file by file with what was
 * there, deletions, and the boundary: nothing outside root is followed, archived or removed,
 * not through a link in the tree, not through a rule's path, not through a parent swapped for a
 * link between plan and apply.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRetention, globToRegExp, planRetention } from '../../src/registry/retention.js';
import { RetentionRule } from '../../src/schema/hooks.js';
import { tempDir } from '../helpers/fixtures.js';

const NOW = Date.UTC(2026, 11, 3, 10, 0, 0);
const DAY = 86_400_000;

let tmp: ReturnType<typeof tempDir>;
let root: string;
let outside: string;

/** A file of `bytes` seeded bytes, `age` days old. */
function file(path: string, bytes: number, age: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + bytes) & 0xff;
  writeFileSync(path, b);
  const t = (NOW - age * DAY) / 1000;
  utimesSync(path, t, t);
}
function age(path: string, days: number): void {
  const t = (NOW - days * DAY) / 1000;
  utimesSync(path, t, t);
}

/** Every path under dir with its type, size, sha256 or link target (lstat: links not followed). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, p));
      if (st.isSymbolicLink()) out[p] = `link -> ${readlinkSync(join(dir, p))}`;
      else if (st.isDirectory()) {
        out[p] = `dir ${st.mtimeMs}`;
        walk(p);
      } else out[p] = `file ${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(join(dir, p))).digest('hex')}`;
    }
  };
  walk('');
  return out;
}

beforeEach(() => {
  tmp = tempDir();
  root = join(tmp.dir, 'root');
  outside = join(tmp.dir, 'outside');
  // Outside root: what a link in the tree points at. Old, and matching every rule's pattern.
  file(join(outside, 'precious.plan'), 500, 400);
  file(join(outside, 'cache', 'calib-9.bin'), 64, 400);
  // Five runs, 40, 30, 20, 3 and 1 days old, each with an engine and a report.
  [40, 30, 20, 3, 1].forEach((d, i) => {
    const run = join(root, 'runs', `r${i + 1}`);
    file(join(run, 'engine.plan'), 1000 * (i + 1), d);
    file(join(run, 'report.json'), 10, d);
    age(run, d);
  });
  // A link inside a run to a file outside, and a link among the runs to the outside directory.
  symlinkSync(join(outside, 'precious.plan'), join(root, 'runs', 'r1', 'escape.plan'));
  lutimesSync(join(root, 'runs', 'r1', 'escape.plan'), (NOW - 40 * DAY) / 1000, (NOW - 40 * DAY) / 1000);
  age(join(root, 'runs', 'r1'), 40); // adding the link touched the directory
  symlinkSync(outside, join(root, 'runs', 'link-out'));
  lutimesSync(join(root, 'runs', 'link-out'), (NOW - 50 * DAY) / 1000, (NOW - 50 * DAY) / 1000);
  file(join(root, 'cache', 'calib-1.bin'), 300, 10);
  file(join(root, 'cache', 'calib-2.bin'), 200, 2);
  file(join(root, 'cache', 'notes.txt'), 5, 100);
});
afterEach(() => tmp.cleanup());

const rules = (rs: unknown[]) => rs.map((r) => RetentionRule.parse(r));

describe('planRetention', () => {
  it('lists what each rule would do, with the bytes, and changes nothing', () => {
    const before = snapshot(tmp.dir);
    const plan = planRetention(
      root,
      rules([
        { dir: 'runs', older_than_days: 10, keep_last: 2, action: 'archive' },
        { glob: 'cache/*.bin', older_than_days: 5, action: 'delete' },
      ]),
      NOW,
    );
    expect(plan.actions.map((a) => [a.path, a.kind, a.action, a.bytes, a.files])).toEqual([
      ['cache/calib-1.bin', 'file', 'delete', 300, 1],
      // r1 holds its engine, report and the link (its own size: the length of the target path).
      ['runs/link-out', 'symlink', 'archive', Buffer.byteLength(outside), 1],
      ['runs/r1', 'dir', 'archive', 1000 + 10 + Buffer.byteLength(join(outside, 'precious.plan')), 3],
      ['runs/r2', 'dir', 'archive', 2010, 2],
      ['runs/r3', 'dir', 'archive', 3010, 2],
    ]);
    expect(plan.actions.find((a) => a.path === 'runs/r2')!.reason).toBe('30.0 days old, older than 10; not among the newest 2');
    expect(plan.kept).toEqual([
      { path: 'cache/calib-2.bin', rule: 1, reason: '2.0 days old, not older than 5' },
      { path: 'runs/r4', rule: 0, reason: 'among the newest 2' },
      { path: 'runs/r5', rule: 0, reason: 'among the newest 2' },
    ]);
    expect(plan.totals.delete).toEqual({ items: 1, bytes: 300 });
    expect(plan.totals.archive.items).toBe(4);
    expect(snapshot(tmp.dir)).toEqual(before);
  });

  it('keep_last alone keeps the newest N; the first rule that matches a path decides it', () => {
    const plan = planRetention(
      root,
      rules([
        { glob: 'runs/r5', keep_last: 0, action: 'delete' },
        { glob: 'runs/r*', keep_last: 3, action: 'delete' },
      ]),
      NOW,
    );
    // r5 is taken by rule 1; of r1..r4, rule 2 keeps the newest 3 (r4, r3, r2).
    expect(plan.actions.map((a) => [a.path, a.rule])).toEqual([
      ['runs/r1', 1],
      ['runs/r5', 0],
    ]);
  });

  it('a glob never enters a linked directory; ** matches at any depth inside root only', () => {
    const plan = planRetention(root, rules([{ glob: '**/*.plan', older_than_days: 0, action: 'delete' }]), NOW);
    expect(plan.actions.map((a) => [a.path, a.kind])).toEqual([
      ['runs/r1/engine.plan', 'file'],
      ['runs/r1/escape.plan', 'symlink'],
      ['runs/r2/engine.plan', 'file'],
      ['runs/r3/engine.plan', 'file'],
      ['runs/r4/engine.plan', 'file'],
      ['runs/r5/engine.plan', 'file'],
    ]);
  });

  it('refuses rules that leave root, or a dir reached through a link', () => {
    expect(() => planRetention(root, rules([{ glob: '../outside/*', older_than_days: 0, action: 'delete' }]), NOW)).toThrow(/leaves the retention root/);
    expect(() => planRetention(root, rules([{ dir: outside, older_than_days: 0, action: 'delete' }]), NOW)).toThrow(/leaves the retention root/);
    expect(() => planRetention(root, rules([{ dir: 'runs/../../outside', older_than_days: 0, action: 'delete' }]), NOW)).toThrow(/leaves the retention root/);
    expect(() => planRetention(root, rules([{ dir: 'runs/link-out/cache', older_than_days: 0, action: 'delete' }]), NOW)).toThrow(/runs\/link-out is a symbolic link; links are not followed/);
    expect(() => RetentionRule.parse({ dir: 'runs', action: 'delete' })).toThrow(/without either it would take everything/);
    expect(() => planRetention(root, rules([{ dir: 'runs', older_than_days: 0, action: 'delete' }]), NOW, { archiveDir: '../elsewhere' })).toThrow(/archive_dir: "..\/elsewhere" leaves the retention root/);
  });

  it.each([
    ['runs/*/engine.plan', 'runs/r1/engine.plan', true],
    ['runs/*/engine.plan', 'runs/r1/x/engine.plan', false],
    ['**/*.plan', 'a.plan', true],
    ['**/*.plan', 'a/b/c.plan', true],
    ['runs/**', 'runs/a/b', true],
    ['cache/calib-?.bin', 'cache/calib-1.bin', true],
    ['cache/calib-?.bin', 'cache/calib-10.bin', false],
    ['cache/*.{bin,cache}', 'cache/x.cache', true],
    ['cache/*.{bin,cache}', 'cache/x.txt', false],
    ['cache/[!n]*', 'cache/notes.txt', false],
    ['cache/[!n]*', 'cache/calib-1.bin', true],
    ['a.b', 'axb', false],
  ])('glob %s against %s: %s', (glob, path, want) => {
    expect(globToRegExp(glob).test(path)).toBe(want);
  });
});

describe('applyRetention', () => {
  it('dry run changes nothing and says what it would do', async () => {
    const before = snapshot(tmp.dir);
    const plan = planRetention(root, rules([{ dir: 'runs', older_than_days: 10, action: 'archive' }, { glob: 'cache/*', older_than_days: 5, action: 'delete' }]), NOW);
    const r = await applyRetention(plan, { dryRun: true });
    expect(r.dryRun).toBe(true);
    expect(r.items.map((i) => [i.path, i.status])).toEqual([
      ['cache/calib-1.bin', 'would delete'],
      ['cache/notes.txt', 'would delete'],
      ['runs/link-out', 'would archive'],
      ['runs/r1', 'would archive'],
      ['runs/r2', 'would archive'],
      ['runs/r3', 'would archive'],
    ]);
    expect(r.freedBytes).toBe(0);
    expect(snapshot(tmp.dir)).toEqual(before);
  });

  it('archives into a .tar.gz that the real tar reads back file for file, then removes the originals; deletes; leaves what is outside root alone', async () => {
    const outsideBefore = snapshot(outside);
    const originals = snapshot(join(root, 'runs'));
    const plan = planRetention(root, rules([{ dir: 'runs', older_than_days: 10, action: 'archive' }, { glob: 'cache/*.bin', older_than_days: 5, action: 'delete' }]), NOW);
    const r = await applyRetention(plan, { dryRun: false });
    expect(r.items.map((i) => [i.path, i.status])).toEqual([
      ['cache/calib-1.bin', 'deleted'],
      ['runs/link-out', 'archived'],
      ['runs/r1', 'archived'],
      ['runs/r2', 'archived'],
      ['runs/r3', 'archived'],
    ]);
    expect(r.archive!.path).toBe(join(root, '.paddock-archive', 'retention-20261203T100000Z.tar.gz'));
    // link-out, r1 (dir, engine, escape link, report), r2 and r3 (dir, engine, report each).
    expect(r.archive!.entries).toBe(1 + 4 + 3 + 3);
    expect(r.freedBytes).toBe(plan.totals.archive.bytes + plan.totals.delete.bytes);
    expect(createHash('sha256').update(readFileSync(r.archive!.path)).digest('hex')).toBe(r.archive!.sha256);
    const listing = JSON.parse(readFileSync(`${r.archive!.path}.json`, 'utf8'));
    expect(listing.entries.find((e: { name: string }) => e.name === 'runs/r2/engine.plan').sha256).toBe(originals['r2/engine.plan'].split(' ')[3]);

    // Originals gone; the young runs, the young cache file and the untouched notes stay.
    expect(readdirSync(join(root, 'runs')).sort()).toEqual(['r4', 'r5']);
    expect(readdirSync(join(root, 'cache')).sort()).toEqual(['calib-2.bin', 'notes.txt']);
    // Outside root: the linked directory and the linked file are exactly as they were.
    expect(snapshot(outside)).toEqual(outsideBefore);

    // The real tar lists the links as links and extracts the same bytes.
    const tv = await execa('tar', ['-tvzf', r.archive!.path]);
    expect(tv.stdout).toMatch(new RegExp(`runs/r1/escape\\.plan -> ${join(outside, 'precious.plan').replace(/[.]/g, '\\.')}`));
    expect(tv.stdout).toMatch(new RegExp(`runs/link-out -> ${outside.replace(/[.]/g, '\\.')}`));
    const back = join(tmp.dir, 'restored');
    mkdirSync(back);
    await execa('tar', ['-xzf', r.archive!.path, '-C', back]);
    const restored = snapshot(join(back, 'runs'));
    for (const p of ['r1/engine.plan', 'r1/report.json', 'r2/engine.plan', 'r2/report.json', 'r3/engine.plan', 'r3/report.json']) {
      // Same size and digest (and mtime, which tar restores).
      expect(restored[p]).toBe(originals[p]);
    }
    expect(restored['r1/escape.plan']).toBe(originals['r1/escape.plan']);
    expect(restored['link-out']).toBe(originals['link-out']);
  });

  it('a second run the same instant writes a second archive, never over the first', async () => {
    const p1 = planRetention(root, rules([{ glob: 'runs/r1', older_than_days: 10, action: 'archive' }]), NOW);
    const a = await applyRetention(p1, { dryRun: false });
    const p2 = planRetention(root, rules([{ glob: 'runs/r2', older_than_days: 10, action: 'archive' }]), NOW);
    const b = await applyRetention(p2, { dryRun: false });
    expect(b.archive!.path).toBe(join(root, '.paddock-archive', 'retention-20261203T100000Z-2.tar.gz'));
    expect(existsSync(a.archive!.path)).toBe(true);
    // The archive directory is never a candidate itself.
    const p3 = planRetention(root, rules([{ glob: '**', older_than_days: 0, action: 'delete' }]), NOW);
    expect(p3.actions.some((x) => x.path.startsWith('.paddock-archive'))).toBe(false);
  });

  it('a parent swapped for a link to outside root between plan and apply: skipped, the outside file kept', async () => {
    const plan = planRetention(root, rules([{ glob: 'cache/calib-1.bin', older_than_days: 5, action: 'delete' }]), NOW);
    expect(plan.actions.map((a) => a.path)).toEqual(['cache/calib-1.bin']);
    // Now cache/ is a link to a directory outside root that also has a calib-1.bin.
    file(join(outside, 'cache', 'calib-1.bin'), 300, 400);
    renameSync(join(root, 'cache'), join(root, 'cache-moved'));
    symlinkSync(join(outside, 'cache'), join(root, 'cache'));
    const r = await applyRetention(plan, { dryRun: false });
    expect(r.items).toMatchObject([{ path: 'cache/calib-1.bin', status: 'skipped' }]);
    expect(existsSync(join(outside, 'cache', 'calib-1.bin'))).toBe(true);
    expect(r.freedBytes).toBe(0);
  });
});
