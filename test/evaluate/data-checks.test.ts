/**
 * Manifest integrity and leakage guards on a real (tiny) world, and on mutated copies of it.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildWorld, TINY_WORLD, SPLITS } from '../../src/world/dataset.js';
import { checkFiles, checkLeakage, parseManifest } from '../../src/evaluate/data-checks.js';
import { paddock } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

let dir: string;
let cleanup: () => void;
const manifest = (s: string) => join(dir, 'manifests', `${s}.jsonl`);
const load = (s: string) => parseManifest(readFileSync(manifest(s), 'utf8'), manifest(s), s);

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('paddock-checks-'));
  await buildWorld(dir, TINY_WORLD);
}, 120_000);
afterAll(() => cleanup());

describe('manifest integrity', () => {
  it('a freshly built world is clean', () => {
    const ms = SPLITS.map(load);
    for (const m of ms) {
      expect(m.violations).toEqual([]);
      expect(checkFiles(m, dir)).toEqual([]);
    }
    expect(checkLeakage(ms, { minGapDays: 7, disjointCities: true })).toEqual([]);
  });

  it('names the line and frame of schema errors and duplicate ids', () => {
    const lines = readFileSync(manifest('golden_val'), 'utf8').trim().split('\n');
    const bad = JSON.parse(lines[1]);
    bad.weather = 'hail';
    const text = [lines[0], JSON.stringify(bad), lines[0], '{not json', lines[2]].join('\n');
    const m = parseManifest(text, 'x.jsonl', 'golden_val');
    expect(m.violations.map((v) => [v.check, v.line])).toEqual([
      ['schema', 2],
      ['duplicate-frame', 3],
      ['schema', 4],
    ]);
    expect(m.violations[0].message).toMatch(/weather: Invalid option: expected one of "clear"\|"rain"\|"fog"\|"snow"/);
    expect(m.violations[0].frameId).toBe(bad.frame_id);
    expect(m.violations[1].message).toMatch(/also on line 1/);
    expect(m.rows.length).toBe(2);
  });

  it('finds a missing image and one whose bytes changed', () => {
    const m = load('golden_test');
    const [a, b] = m.rows;
    rmSync(join(dir, a.row.path));
    appendFileSync(join(dir, b.row.path), 'x');
    const v = checkFiles(m, dir);
    expect(v.map((x) => [x.check, x.line, x.frameId])).toEqual([
      ['missing-file', a.line, a.row.frame_id],
      ['hash-mismatch', b.line, b.row.frame_id],
    ]);
  });
});

describe('leakage guards', () => {
  it('a scene in two splits, a split too close in time, a city in two splits', () => {
    const train = load('golden_train');
    const test = load('golden_test');
    const leaked = { ...test.rows[0].row, frame_id: 'copied-frame' };
    train.rows.push({ line: 999, row: { ...leaked, timestamp: '2026-07-30T00:00:00.000Z' } });
    const v = checkLeakage([train, load('golden_val'), test], { minGapDays: 7, disjointCities: true });
    const kinds = v.map((x) => x.check);
    expect(kinds).toContain('scene-leak');
    expect(kinds).toContain('city-leak');
    expect(kinds).toContain('time-gap');
    const scene = v.find((x) => x.check === 'scene-leak')!;
    expect(scene.manifest).toBe('golden_test');
    expect(scene.message).toMatch(/^scene scene-[0-9a-f]{8} is also in golden_train \(line 999\)$/);
    const gap = v.find((x) => x.check === 'time-gap')!;
    expect(gap.message).toMatch(/golden_val starts -?\d+\.\d+ days after golden_train ends \(its line 999, 2026-07-30T00:00:00.000Z\); the policy asks for at least 7/);
  });
});

describe('the check-data step in a recipe', () => {
  it('passes on clean data and fails, listing rows, on a leak', async () => {
    const recipe = join(dir, 'check.yaml');
    const splits = SPLITS.map((s) => `{ name: ${s}, manifest: manifests/${s}.jsonl }`).join(', ');
    writeFileSync(recipe, `version: 1\nname: data\nstages:\n  evaluate:\n    - { id: check-data, uses: check-data, with: { splits: [${splits}], min_gap_days: 7, disjoint_cities: true } }\n`);
    const env = { PADDOCK_HOME: join(dir, 'home') };
    // The earlier test broke two test images; render the world again (world.json removed, so it
    // is not taken as up to date).
    rmSync(join(dir, 'world.json'));
    await buildWorld(dir, TINY_WORLD);
    const ok = await paddock(['run', recipe], env);
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/evaluate\/check-data data\.violations 0\.000/);
    expect(ok.stdout).toMatch(/evaluate\/check-data data\.frames \(golden_test\) 9\.000/);
    const testRows = readFileSync(manifest('golden_test'), 'utf8').trim().split('\n');
    appendFileSync(manifest('golden_train'), `${testRows[0]}\n`);
    const bad = await paddock(['run', recipe], env);
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout).toMatch(/FAILURE critical leakage scene-leak\/golden_test\/1\/\d+: golden_test line 1 \(scene-[0-9a-f]+-t\d+\): scene scene-[0-9a-f]+ is also in golden_train/);
    expect(bad.stdout).toMatch(/evaluate\/check-data failed: exited with status 1/);
  });
});
