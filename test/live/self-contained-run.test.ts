/**
 * A run is self-contained: it records its recipe, its gates file and its evaluate step's slice
 * file in the store when it starts, and `paddock show` and the run reader (what the workbench
 * shows) give the same answer after those files change on disk and after they are deleted. A run
 * from before the store recorded them falls back to the files as they are now and says so.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { paddock } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { RunStore } from '../../src/store/run-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { RunReader } from '../../src/live/run-reader.js';

const SLICES = `version: 1
slices:
  - { id: all }
  - { id: night, where: { time_of_day: [night] }, critical: true }
  - { id: night+pedestrian, where: { time_of_day: [night] }, class: [pedestrian], critical: true }
  - { id: car, class: [car] }
`;
const GATES = 'version: 1\ngates:\n  - { id: overall-ap, stage: evaluate, metric: coco.AP, target: candidate, op: ">=", threshold: 0.3 }\n';

/** A step that reports two failures with their frames (as the evaluate step does), then fails: the evaluate step after it is skipped. */
const EMIT = `const emit = (e) => process.stdout.write(JSON.stringify({ v: 1, ...e }) + '\\n');
const frame = (time_of_day) => ({ weather: 'rain', time_of_day, road_type: 'urban', region: 'east', scene_id: 's1' });
emit({ type: 'failure', id: 'lost/1', kind: 'lost-object', severity: 'critical', title: 'pedestrian missed at night', data: { class: 'pedestrian', baseline_score: 0.9, frame: frame('night') } });
emit({ type: 'failure', id: 'fp/2', kind: 'false-positive/background', severity: 'minor', title: 'car ghost by day', data: { class: 'car', score: 0.4, frame: frame('day') } });
process.exit(1);
`;

function recipe(dir: string, slices = 'slices.yaml', gates = 'gates.yaml'): string {
  return `version: 1
name: kept
stages:
  evaluate:
    - { id: failures, run: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(dir, 'emit.mjs'))}] }
    - id: evaluate
      uses: evaluate
      needs: [failures]
      with: { candidate: { name: candidate, model: models/candidate }, manifest: data/manifests/golden_test.jsonl, slices: ${slices} }
gates: ${gates}
`;
}

describe('a run shown from the store alone', () => {
  it('keeps the recipe, gates and slices it started with after the files change and are deleted', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const home = join(dir, 'home');
      const env = { PADDOCK_HOME: home };
      const recipeFile = join(dir, 'paddock.yaml');
      writeFileSync(join(dir, 'emit.mjs'), EMIT);
      writeFileSync(recipeFile, recipe(dir));
      writeFileSync(join(dir, 'gates.yaml'), GATES);
      writeFileSync(join(dir, 'slices.yaml'), SLICES);
      const r = await paddock(['run', recipeFile], env);
      expect(r.exitCode, r.stdout + r.stderr).toBe(2);
      const id = /run (r-\S+) failed/.exec(r.stdout)![1];

      const look = async () => {
        const store = new RunStore(home);
        try {
          const detail = new RunReader(store).detail(id)!;
          return {
            text: (await paddock(['show', id], env)).stdout,
            json: (await paddock(['show', id, '--json'], env)).stdout,
            detail: JSON.parse(JSON.stringify(detail)) as typeof detail,
          };
        } finally {
          store.close();
        }
      };
      const before = await look();
      // What the run started with.
      expect(before.detail.notes).toEqual([]);
      expect(before.detail.gates).toEqual([{ id: 'overall-ap', stage: 'evaluate', rule: 'coco.AP of candidate >= 0.3' }]);
      expect(before.detail.slices.map((s) => [s.step, s.path, s.slices.map((x) => x.id)])).toEqual([['evaluate', join(dir, 'slices.yaml'), ['all', 'night', 'night+pedestrian', 'car']]]);
      expect(before.detail.failures.map((f) => [f.id, f.slices])).toEqual([
        ['lost/1', ['all', 'night', 'night+pedestrian']],
        ['fp/2', ['all', 'car']],
      ]);
      expect(before.detail.plan.map((p) => p.id)).toEqual(['failures', 'evaluate', 'gate:overall-ap']);
      expect(before.text).toMatch(/overall-ap\s+evaluate\s+coco\.AP of candidate >= 0\.3/);
      expect(before.text).toMatch(/slices of evaluate: 4 from \S+slices\.yaml {2}sha256 [0-9a-f]{12}/);
      expect(before.text).toMatch(/night\+pedestrian\s+yes\s+time_of_day in night\s+pedestrian/);
      expect(before.text).not.toMatch(/^note:/m);
      const json = JSON.parse(before.json);
      expect(json.gates).toEqual(before.detail.gates);
      expect(json.slices).toEqual(before.detail.slices);
      expect(json.notes).toEqual([]);

      // The files change: another slice file, a stricter gate, slices that select nothing.
      writeFileSync(recipeFile, recipe(dir, 'other-slices.yaml', 'other-gates.yaml'));
      writeFileSync(join(dir, 'gates.yaml'), GATES.replace('overall-ap', 'stricter').replace('0.3', '0.9'));
      writeFileSync(join(dir, 'slices.yaml'), 'version: 1\nslices:\n  - { id: fog, where: { weather: [fog] } }\n');
      writeFileSync(join(dir, 'other-slices.yaml'), 'version: 1\nslices:\n  - { id: snow, where: { weather: [snow] } }\n');
      writeFileSync(join(dir, 'other-gates.yaml'), 'version: 1\ngates: []\n');
      expect(await look()).toEqual(before);

      // The files are deleted.
      for (const f of ['paddock.yaml', 'gates.yaml', 'slices.yaml', 'other-slices.yaml', 'other-gates.yaml']) rmSync(join(dir, f));
      expect(await look()).toEqual(before);
    } finally {
      cleanup();
    }
  }, 120_000);

  it('a run from before the store recorded gates and slices shows the files as they are now, says so, and shows none once they are gone', () => {
    const { dir, cleanup } = tempDir();
    try {
      const recipeFile = join(dir, 'paddock.yaml');
      writeFileSync(join(dir, 'emit.mjs'), EMIT);
      writeFileSync(recipeFile, recipe(dir));
      writeFileSync(join(dir, 'gates.yaml'), GATES);
      writeFileSync(join(dir, 'slices.yaml'), SLICES);
      // A store at schema 4, with a run in it: no gates text, no slice files.
      const home = join(dir, 'home');
      mkdirSync(home);
      const db = new Database(join(home, 'runs.sqlite'));
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      for (const m of MIGRATIONS.slice(0, 4)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, 0)').run(m.version);
      }
      db.prepare("INSERT INTO runs (id, name, recipe_path, recipe_text, recipe_sha256, lineage, status, host, created_at, updated_at) VALUES ('r-old', 'kept', ?, ?, ?, '{}', 'failed', 'h', 1, 1)").run(recipeFile, recipe(dir), 'a'.repeat(64));
      db.prepare("INSERT INTO events (run_id, seq, step_id, attempt, type, ts, body) VALUES ('r-old', 1, 'failures', 1, 'failure', 1, ?)").run(
        JSON.stringify({ v: 1, type: 'failure', step: 'failures', id: 'lost/1', kind: 'lost-object', severity: 'critical', title: 't', data: { class: 'pedestrian', frame: { weather: 'rain', time_of_day: 'night', road_type: 'urban', region: 'east' } } }),
      );
      db.close();
      const store = new RunStore(home);
      try {
        expect(store.migrate()).toBe(MIGRATIONS.length);
        const reader = new RunReader(store);
        const detail = reader.detail('r-old')!;
        expect(detail.plan.map((p) => p.id)).toEqual(['failures', 'evaluate', 'gate:overall-ap']);
        expect(detail.gates.map((g) => g.id)).toEqual(['overall-ap']);
        expect(detail.slices.map((x) => [x.step, x.recordedAt, x.slices.length])).toEqual([['evaluate', undefined, 4]]);
        expect(detail.failures.map((f) => f.slices)).toEqual([['all', 'night', 'night+pedestrian']]);
        expect(detail.notes).toEqual([
          `this run did not record its gates file (runs before store schema 5 did not): the gates shown are ${join(dir, 'gates.yaml')} as it is now, which may not be what the run used`,
          `this run predates recorded slice files (store schema 6): the slices shown for evaluate are ${join(dir, 'slices.yaml')} as it is now, which may not be what the run used`,
        ]);
        rmSync(join(dir, 'gates.yaml'));
        rmSync(join(dir, 'slices.yaml'));
        const gone = reader.detail('r-old')!;
        expect(gone.plan.map((p) => p.id)).toEqual(['failures', 'evaluate']);
        expect([gone.gates, gone.slices, gone.failures.map((f) => f.slices)]).toEqual([[], [], [[]]]);
        expect(gone.notes).toEqual([
          expect.stringMatching(new RegExp(`^this run did not record its gates file \\(runs before store schema 5 did not\\), and ${join(dir, 'gates.yaml')} cannot be read now \\(ENOENT.*\\): its gates are not shown$`)),
          expect.stringMatching(new RegExp(`^this run predates recorded slice files \\(store schema 6\\), and ${join(dir, 'slices.yaml')} cannot be used now \\(.*ENOENT.*\\): the slices of evaluate are not shown$`)),
        ]);
      } finally {
        store.close();
      }
    } finally {
      cleanup();
    }
  });
});
