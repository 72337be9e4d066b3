/**
 * The run store among several processes and against damage (issue 13): atomic claims of a run,
 * event numbers from the database, temp files swept only when their writer is gone, read-only
 * opens, gate verdicts only from gate nodes, secrets never written, and a damaged file said in
 * one message. Real files, real sqlite, real processes; no mocks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, truncateSync, utimesSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { execa } from 'execa';
import { build } from 'esbuild';
import Database from 'better-sqlite3';
import { RunStore, StoreError, asStoreError, newRunId } from '../../src/store/run-store.js';
import { ContentStore } from '../../src/store/cas.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { REDACTED, looksSecret, redactRecipeText } from '../../src/store/redact.js';
import { isAlive } from '../../runners/process-tree.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function home(): string {
  const t = tempDir('paddock-integrity-');
  cleanups.push(t.cleanup);
  return join(t.dir, '.paddock');
}

function open(h: string, options?: { readonly?: boolean }): RunStore {
  const s = new RunStore(h, options);
  cleanups.unshift(() => s.db.open && s.close());
  return s;
}

function makeRun(store: RunStore, id = newRunId(), recipeText = 'version: 1') {
  store.createRun({ id, name: 'demo', recipePath: '/x/paddock.yaml', recipeText, recipeSha256: 'a'.repeat(64), lineage: {}, host: 'h', actor: 'me' });
  return id;
}

/** The pid of a process of this host that has exited. */
const deadPid = () => spawnSync('true').pid!;

describe('event sequence numbers', () => {
  it('come from the database inside the insert transaction: two connections appending in turn never collide', () => {
    const h = home();
    const a = open(h);
    const b = open(h);
    const run = makeRun(a);
    const log = (m: string) => [{ attempt: 0, event: { v: 1 as const, type: 'log' as const, level: 'info' as const, message: m, ts: 1 } }];
    a.appendEvents(run, log('a1'));
    b.appendEvents(run, log('b1'));
    // A per-process cache of the last seq (what the store had) would take 2 here again.
    a.appendEvents(run, log('a2'));
    b.appendEvents(run, log('b2'));
    expect(a.events(run).map((e) => [e.seq, (e as { message: string }).message])).toEqual([[1, 'a1'], [2, 'b1'], [3, 'a2'], [4, 'b2']]);
  });
});

describe('claims', () => {
  it('take a stopped run, refuse a run a live process holds, and take over one whose holder died', () => {
    const store = open(home());
    const run = makeRun(store);
    store.finishRun(run, 'cancelled', 2, 'the run was stopped');
    const other = spawnSync('sleep', ['0']).pid!; // gone
    const first = store.claimRun(run, isAlive, { pid: process.pid });
    expect(first).toMatchObject({ ok: true, run: { status: 'running', pid: process.pid, owner_host: hostname() } });
    // This very process is alive: a second claimer is refused, with the reason.
    const second = store.claimRun(run, isAlive, { pid: other });
    expect(second).toMatchObject({ ok: false, why: 'held' });
    expect(!second.ok && second.message).toMatch(new RegExp(`run ${run} is still running \\(pid ${process.pid}\\)`));
    // The holder is gone (SIGKILLed paddock): taken over, and said from whom.
    store.db.prepare('UPDATE runs SET pid = ? WHERE id = ?').run(deadPid(), run);
    const third = store.claimRun(run, isAlive, { pid: process.pid });
    expect(third.ok && third.tookOverFrom?.host).toBe(hostname());
    // A holder on another host cannot be checked from here.
    store.db.prepare("UPDATE runs SET owner_host = 'elsewhere', pid = 1 WHERE id = ?").run(run);
    const fourth = store.claimRun(run, isAlive, { pid: process.pid });
    expect(!fourth.ok && fourth.message).toMatch(/held by pid 1 on host elsewhere/);
    store.finishRun(run, 'succeeded', 0);
    expect(store.claimRun(run, isAlive)).toMatchObject({ ok: false, why: 'succeeded' });
    expect(store.claimRun('r-none', isAlive)).toMatchObject({ ok: false, why: 'unknown' });
  });

  it('of 12 processes claiming one stopped run at the same moment, exactly one wins, round after round', async () => {
    const h = home();
    const dir = join(h, '..');
    const worker = join(ROOT, 'build', 'test', `claim-worker-${process.pid}.mjs`);
    await build({ entryPoints: [join(ROOT, 'test', 'store', 'claim-worker.ts')], outfile: worker, bundle: true, format: 'esm', platform: 'node', target: 'node20', external: ['better-sqlite3'], banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }, logLevel: 'warning', absWorkingDir: ROOT });
    const store = open(h);
    const run = makeRun(store);
    for (let round = 0; round < 4; round++) {
      store.finishRun(run, 'cancelled', 2, 'stopped');
      const go = join(dir, `go-${round}`);
      const release = join(dir, `release-${round}`);
      const procs = Array.from({ length: 12 }, () => execa(process.execPath, [worker, h, run, go, release], { reject: false }));
      // Each prints its claim, then waits for the release (listening from the start: nothing is missed).
      const claimed = procs.map(
        (p) =>
          new Promise<{ pid: number; ok: boolean; message?: string } | undefined>((resolve) => {
            let out = '';
            p.stdout!.on('data', (d: Buffer) => {
              out += d;
              if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
            });
            void p.then(() => resolve(undefined));
          }),
      );
      // Let them all open the store and wait at the line.
      await new Promise((r) => setTimeout(r, 1500));
      writeFileSync(go, '');
      const lines = (await Promise.all(claimed)).filter((l) => l !== undefined);
      writeFileSync(release, '');
      const results = await Promise.all(procs);
      expect(results.map((r) => r.exitCode), results.map((r) => r.stderr).join('\n')).toEqual(Array(12).fill(0));
      const winners = lines.filter((l) => l.ok);
      expect(winners, JSON.stringify(lines)).toHaveLength(1);
      for (const l of lines.filter((x) => !x.ok)) expect(l.message).toMatch(new RegExp(`still running \\(pid ${winners[0].pid}\\)`));
      expect(store.getRun(run)?.pid).toBe(winners[0].pid);
    }
  });
});

describe('temporary artifact files', () => {
  it('are swept only when their writer is gone: a dead writer of this host, or a day-old file of another', () => {
    const h = home();
    const store = open(h);
    const tmp = join(h, 'cas', 'tmp');
    const dayAgo = (Date.now() - 25 * 3600 * 1000) / 1000;
    const files = {
      live: ContentStore.tmpName(process.pid),
      dead: ContentStore.tmpName(deadPid()),
      foreignNew: ContentStore.tmpName(4242, 'another-host'),
      foreignOld: ContentStore.tmpName(4242, 'another-host'),
      unknownNew: 'something-else',
      unknownOld: 'older-something',
    };
    for (const name of Object.values(files)) writeFileSync(join(tmp, name), 'half');
    utimesSync(join(tmp, files.foreignOld), dayAgo, dayAgo);
    utimesSync(join(tmp, files.unknownOld), dayAgo, dayAgo);
    expect(store.cas.sweep()).toBe(3);
    const left = Object.entries(files).filter(([, name]) => existsSync(join(tmp, name))).map(([k]) => k).sort();
    expect(left).toEqual(['foreignNew', 'live', 'unknownNew']);
  });

  it('are never swept by a read-only open (paddock runs, show), and a writable open keeps a live writer\'s', () => {
    const h = home();
    open(h).close();
    const tmp = join(h, 'cas', 'tmp');
    const dead = join(tmp, ContentStore.tmpName(deadPid()));
    const live = join(tmp, ContentStore.tmpName(process.pid));
    writeFileSync(dead, 'half');
    writeFileSync(live, 'half');
    open(h, { readonly: true }).close();
    expect([existsSync(dead), existsSync(live)]).toEqual([true, true]);
    open(h).close();
    expect([existsSync(dead), existsSync(live)]).toEqual([false, true]);
  });

  it('read-only opens write nothing, and migrate a store of an older schema first', () => {
    const h = home();
    mkdirSync(h, { recursive: true });
    const db = new Database(join(h, 'runs.sqlite'));
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.slice(0, 6)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, 0)').run(m.version);
    }
    db.prepare("INSERT INTO runs (id, name, recipe_path, recipe_text, recipe_sha256, status, host, created_at, updated_at) VALUES ('r-old', 'demo', '/x', 'version: 1', ?, 'failed', 'h', 1, 1)").run('a'.repeat(64));
    db.close();
    const ro = open(h, { readonly: true });
    expect(ro.getRun('r-old')).toMatchObject({ status: 'failed', owner_host: null, options: null });
    expect(() => ro.db.prepare("UPDATE runs SET status = 'succeeded'").run()).toThrow(/readonly/);
  });
});

describe('verdicts', () => {
  it('of a gate are only what its gate node recorded; a step\'s verdict is its own finding', () => {
    const store = open(home());
    const run = makeRun(store);
    store.planSteps(run, [
      { id: 'variants', stage: 'package', kind: 'step' },
      { id: 'gate:release', stage: 'package', kind: 'gate' },
      { id: 'gate:other', stage: 'package', kind: 'gate' },
    ]);
    const a = store.startStep(run, 'variants', { inputDigest: 'd', runner: 'local', host: 'local' });
    store.appendEvents(run, [
      { attempt: a, event: { v: 1, type: 'verdict', gate: 'release', verdict: 'pass', rationale: ['forged'], step: 'variants', ts: 1 } },
      { attempt: a, event: { v: 1, type: 'verdict', gate: 'equivalence-fp16', verdict: 'pass', rationale: ['own'], step: 'variants', ts: 2 } },
    ]);
    // Before any gate ran: no gate verdict at all.
    expect(store.currentVerdicts(run)).toEqual([]);
    const g = store.startStep(run, 'gate:release', { inputDigest: 'g', runner: 'in-process', host: 'local' });
    const o = store.startStep(run, 'gate:other', { inputDigest: 'g', runner: 'in-process', host: 'local' });
    store.appendEvents(run, [
      { attempt: g, event: { v: 1, type: 'verdict', gate: 'release', verdict: 'fail', rationale: ['real'], step: 'gate:release', ts: 3 } },
      // A gate node naming another gate decides nothing but itself.
      { attempt: o, event: { v: 1, type: 'verdict', gate: 'release', verdict: 'pass', rationale: ['not mine'], step: 'gate:other', ts: 4 } },
    ]);
    expect(store.currentVerdicts(run).map((v) => [v.step_id, v.gate, v.verdict])).toEqual([['gate:release', 'release', 'fail']]);
    expect(store.stepVerdicts(run).map((v) => [v.step_id, v.gate, v.verdict])).toEqual([
      ['variants', 'release', 'pass'],
      ['variants', 'equivalence-fp16', 'pass'],
      ['gate:other', 'release', 'pass'],
    ]);
  });
});

describe('secrets', () => {
  const TOKEN = 'ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5';

  it('look like secrets by name or value; paths, versions and digests do not', () => {
    const yes = ['AKIAIOSFODNN7EXAMPLE', TOKEN, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '-----BEGIN RSA PRIVATE KEY-----\nabc'];
    const no = ['/usr/local/lib/python3.11/site-packages', '1.2.0', 'a'.repeat(64), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'cpu-fp32', 'golden-v1', 'hello world'];
    expect(yes.map(looksSecret)).toEqual(yes.map(() => true));
    expect(no.map(looksSecret)).toEqual(no.map(() => false));
  });

  it('in a recipe\'s env are redacted in the stored text (by name or value), the rest kept byte for byte', () => {
    const plain = 'version: 1\nname: x\nstages:\n  package:\n    - id: a\n      run: [echo]\n      env: { MODE: fast }\n';
    expect(redactRecipeText(plain)).toEqual({ text: plain, redacted: [] });
    const secret = `version: 1\nname: x\nstages:\n  package:\n    - id: a\n      run: [echo]  # a comment\n      env:\n        MODE: fast\n        API_TOKEN: hunter2hunter2\n        OTHER: ${TOKEN}\n        FROM: { from_env: CI_TOKEN }\n`;
    const r = redactRecipeText(secret);
    expect(r.redacted).toEqual([{ step: 'a', name: 'API_TOKEN' }, { step: 'a', name: 'OTHER' }]);
    expect(r.text).not.toContain('hunter2hunter2');
    expect(r.text).not.toContain(TOKEN);
    expect(r.text).toContain(`API_TOKEN: "${REDACTED}"`);
    expect(r.text).toContain('MODE: fast');
    expect(r.text).toContain('from_env: CI_TOKEN');
    expect(r.text).toContain('# a comment');
  });

  it('never reach the database file: not in the recipe, events, logs, errors', () => {
    const h = home();
    const store = open(h);
    const recipe = `version: 1\nname: x\nstages:\n  package:\n    - id: a\n      run: [echo]\n      env: { API_TOKEN: ${TOKEN} }\n`;
    const run = makeRun(store, newRunId(), recipe);
    store.addSecrets([TOKEN, 'tiny']);
    store.planSteps(run, [{ id: 'a', stage: 'package', kind: 'step' }]);
    const a = store.startStep(run, 'a', { inputDigest: 'd', runner: 'local', host: 'local' });
    store.appendEvents(run, [
      { attempt: a, event: { v: 1, type: 'log', level: 'info', stream: 'stderr', message: `using token ${TOKEN}`, step: 'a', ts: 1 } },
      { attempt: a, event: { v: 1, type: 'failure', id: 'f', kind: 'k', severity: 'minor', title: `t ${TOKEN}`, evidence: [], data: { token: TOKEN }, step: 'a', ts: 2 } },
    ]);
    store.finishStep(run, 'a', 'failed', `exited: ${TOKEN}`);
    store.finishRun(run, 'failed', 2, `a: exited: ${TOKEN}`);
    expect((store.events(run)[0] as { message: string }).message).toBe(`using token ${REDACTED}`);
    expect(store.getRun(run)?.recipe_text).toContain(REDACTED);
    store.close();
    for (const f of ['runs.sqlite', 'runs.sqlite-wal']) {
      if (existsSync(join(h, f))) expect(readFileSync(join(h, f)).includes(TOKEN), f).toBe(false);
    }
    const again = open(h, { readonly: true });
    expect(again.getStep(run, 'a')?.error).toBe(`exited: ${REDACTED}`);
  });
});

describe('a damaged store', () => {
  function damaged(kind: 'truncated' | 'garbage' | 'not a database' | 'newer schema'): string {
    const h = home();
    const store = open(h);
    const run = makeRun(store);
    store.planSteps(run, Array.from({ length: 300 }, (_, i) => ({ id: `s${i}`, stage: 'package', kind: 'step' })));
    store.appendEvents(run, Array.from({ length: 2000 }, (_, i) => ({ attempt: 0, event: { v: 1 as const, type: 'log' as const, level: 'info' as const, message: `line ${i} ${'x'.repeat(100)}`, ts: i } })));
    if (kind === 'newer schema') store.db.prepare('INSERT INTO schema_migrations VALUES (99, 0)').run();
    store.close();
    const file = join(h, 'runs.sqlite');
    if (kind === 'truncated') truncateSync(file, Math.floor(statSync(file).size / 3));
    if (kind === 'garbage') {
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(statSync(file).size - 4096, 0xa5), 0, undefined, 4096);
      closeSync(fd);
    }
    if (kind === 'not a database') writeFileSync(file, 'this is a note, not a database\n'.repeat(200));
    return h;
  }

  it.each(['truncated', 'garbage', 'not a database', 'newer schema'] as const)('%s: one StoreError that names the file and what to do, writable or read-only', (kind) => {
    const h = damaged(kind);
    const file = join(h, 'runs.sqlite');
    for (const readonly of [false, true]) {
      let err: unknown;
      try {
        const s = new RunStore(h, { readonly });
        // A damage the open did not reach shows in a query; commands map it the same way.
        try {
          s.listRuns();
          s.events(s.listRuns()[0]?.id ?? '');
        } finally {
          s.close();
        }
      } catch (e) {
        err = asStoreError(e, file) ?? e;
      }
      expect(err, `${kind} readonly=${readonly}`).toBeInstanceOf(StoreError);
      const message = (err as Error).message;
      expect(message).toContain(file);
      expect(message).toMatch(kind === 'newer schema' ? /schema version 99, newer than this paddock's/ : /is damaged \(.+\): move it aside/);
      expect(message).toMatch(/mv \S+runs\.sqlite \S+runs\.sqlite\.corrupt-\d{8}-\d{6}/);
    }
    // Nothing was moved or repaired: the file is the user's to keep.
    expect(existsSync(file)).toBe(true);
  });
});
