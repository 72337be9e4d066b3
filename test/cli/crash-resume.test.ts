/**
 * Crash safety: a run killed with SIGKILL at any moment leaves a sound database and no
 * half-written artifact, and `paddock resume` finishes it without redoing steps whose inputs
 * did not change. The kills are real: PADDOCK_KILL_AT makes the paddock process SIGKILL itself
 * at the N-th pass of a named crash point (src/store/test-hooks.ts: inside SQLite transactions,
 * between chunks of a CAS copy, before the rename, between steps), and a few more kills come from
 * outside at moments chosen from a clean run's duration measured here.
 *
 * Nothing here depends on how busy the machine is. Most crash points are passed a fixed number
 * of times by this recipe (CRASH_POINTS; "one more is past the end" checks each count). Event
 * batches (`store.append`) are not: the executor flushes every 50 ms as well as at step ends, so
 * a slow run has more of them. Their first few are always there; the rest are found by killing
 * at each next one until a run goes past the last.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunStore } from '../../src/store/run-store.js';
import { paddock, paddockProcess } from '../helpers/cli.js';
import { ROOT, tempDir, waitFor } from '../helpers/fixtures.js';
import { seededRandom as mulberry32 } from '../../src/files/prng.js';

const STEP = join(ROOT, 'test', 'fixtures', 'crash-step.mjs');

function recipe(dir: string): string {
  const step = (name: string, mb: number, needs: string[] = []) =>
    `    - id: ${name}\n      run: [${JSON.stringify(process.execPath)}, ${JSON.stringify(STEP)}, ${name}, ${JSON.stringify(dir)}, "${mb}"]\n      needs: [${needs.join(', ')}]\n`;
  const text = `version: 1
name: crash
concurrency: 1
stages:
  package:
${step('export', 2.5)}${step('variants', 0.5, ['export'])}
  evaluate:
${step('evaluate', 1.2)}
gates:
  - { id: quality, stage: evaluate, metric: evaluate.value, op: ">=", threshold: 4 }
`;
  const path = join(dir, 'paddock.yaml');
  writeFileSync(path, text);
  return path;
}

/** How many times each step ran, counting only attempts started by paddock process `byPid` if given. */
function executions(dir: string, byPid?: number): Record<string, number> {
  const file = join(dir, 'executions.log');
  const counts: Record<string, number> = {};
  if (!existsSync(file)) return counts;
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const [name, ppid] = line.split(' ');
    if (byPid === undefined || Number(ppid) === byPid) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Checks the store after a crash, before anything repairs it. */
function checkSound(home: string) {
  const tmp = join(home, 'cas', 'tmp');
  const leftovers = existsSync(tmp) ? readdirSync(tmp) : [];
  const store = new RunStore(home);
  try {
    expect(store.integrityCheck()).toBe('ok');
    const { corrupt } = store.cas.verifyAll();
    expect(corrupt).toEqual([]);
    for (const run of store.listRuns()) {
      for (const a of store.db.prepare('SELECT sha256 FROM artifacts WHERE run_id = ?').all(run.id) as { sha256: string }[]) {
        expect(store.cas.has(a.sha256), `artifact ${a.sha256} recorded but not stored`).toBe(true);
      }
    }
    // The constructor swept whatever a killed copy left in tmp/.
    expect(readdirSync(tmp)).toEqual([]);
    return { store, leftovers };
  } catch (err) {
    store.close();
    throw err;
  }
}

/** Checks a run that went to its end: every node succeeded once, artifacts stored, the gate passed. */
function checkFinished(home: string, runId: string) {
  const after = new RunStore(home);
  try {
    expect(after.integrityCheck()).toBe('ok');
    expect(after.getRun(runId)?.status).toBe('succeeded');
    expect(after.getSteps(runId).map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const arts = after.currentArtifacts(runId);
    expect(arts.map((a) => a.step_id).sort()).toEqual(['evaluate', 'export', 'variants']);
    for (const a of arts) expect(after.cas.has(a.sha256)).toBe(true);
    expect(after.cas.verifyAll().corrupt).toEqual([]);
    expect(after.currentVerdicts(runId).map((v) => v.verdict)).toEqual(['pass']);
  } finally {
    after.close();
  }
}

/**
 * Runs the recipe, kills it (at a crash point `name:N`, or from outside after `afterMs`), checks
 * the store before anything repairs it, resumes and checks the finished run. With `pastTheEnd:
 * 'allowed'` a run that ends before the kill is checked as finished and returns `pastTheEnd`.
 */
async function crashAndResume(kill: { at?: string; afterMs?: number; pastTheEnd?: 'allowed' }): Promise<{ pastTheEnd?: boolean; killedBeforeRun?: boolean; before?: Record<string, string> }> {
  const { dir, cleanup } = tempDir('paddock-crash-');
  try {
    const home = join(dir, 'home');
    const file = recipe(dir);
    const env: Record<string, string> = { PADDOCK_HOME: home };
    if (kill.at) env.PADDOCK_KILL_AT = kill.at;
    const child = paddockProcess(['run', file, '--headless'], env);
    const timer = kill.afterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
    const first = await child;
    clearTimeout(timer);
    if (first.signal !== 'SIGKILL' && kill.pastTheEnd === 'allowed') {
      expect(first.exitCode, String(first.stdout) + String(first.stderr)).toBe(0);
      const { store } = checkSound(home);
      const runId = store.listRuns()[0]?.id ?? '';
      store.close();
      expect(executions(dir)).toEqual({ export: 1, variants: 1, evaluate: 1 });
      checkFinished(home, runId);
      return { pastTheEnd: true };
    }
    expect(first.signal, `run was meant to be killed: ${first.stdout}`).toBe('SIGKILL');

    const { store } = checkSound(home);
    const run = store.listRuns()[0];
    const before = Object.fromEntries(store.getSteps(run?.id ?? '').map((s) => [s.step_id, s.status]));
    store.close();
    if (!run) return { killedBeforeRun: true };

    // Steps the killed paddock had started may still be running (their parent died, they did
    // not): resume stops them. Only attempts started by the resuming process are counted.
    const proc = paddockProcess(['resume', run.id, '--headless'], { PADDOCK_HOME: home });
    const resumed = await proc;
    expect(resumed.exitCode, String(resumed.stdout) + String(resumed.stderr)).toBe(0);
    const counts = executions(dir, proc.pid);
    for (const [step, status] of Object.entries(before)) {
      if (step.startsWith('gate:')) continue;
      if (status === 'succeeded') expect(counts[step] ?? 0, `${step} succeeded before the crash and must not run again`).toBe(0);
      else expect(counts[step] ?? 0, `${step} was unfinished and must run once`).toBe(1);
    }
    checkFinished(home, run.id);
    return { before };
  } finally {
    cleanup();
  }
}

/** Wall time of a clean run of the recipe on this machine now (measured once, by the first test or here). */
let cleanRun: number | undefined;
async function cleanRunMs(): Promise<number> {
  if (cleanRun !== undefined) return cleanRun;
  const { dir, cleanup } = tempDir();
  try {
    const t0 = Date.now();
    const r = await paddock(['run', recipe(dir), '--headless'], { PADDOCK_HOME: join(dir, 'home') });
    expect(r.exitCode, r.stderr).toBe(0);
    cleanRun = Date.now() - t0;
    return cleanRun;
  } finally {
    cleanup();
  }
}

describe('crash safety and resume', () => {
  it('a run that is not killed succeeds and each step runs once', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const t0 = Date.now();
      const r = await paddock(['run', recipe(dir), '--headless'], { PADDOCK_HOME: join(dir, 'home') });
      cleanRun = Date.now() - t0;
      expect(r.exitCode, r.stderr).toBe(0);
      expect(executions(dir)).toEqual({ export: 1, variants: 1, evaluate: 1 });
      expect(r.stdout).toMatch(/package\/export started \[local\]/);
      expect(r.stdout).toMatch(/evaluate\/gate:quality verdict PASS evaluate.value = 4.000 meets >= 4.000/);
    } finally {
      cleanup();
    }
  });

  // Crash points this recipe's run passes a fixed number of times, whatever the load: the run
  // created and finished; each node (three steps and the gate) started and finished; each 1 MiB
  // chunk of the three CAS copies (2.5, 0.5 and 1.2 MB: 3 + 1 + 2 chunks) and the rename after
  // each copy.
  const CRASH_POINTS: Record<string, number> = {
    'store.run-created': 1,
    'store.step-started': 4,
    'store.step-finished': 4,
    'cas.write': 6,
    'cas.before-rename': 3,
    'store.run-finished': 1,
  };
  // Event batches every run has: each of the four nodes' events (its `started` at least) are
  // flushed before the store records it finished (src/pipeline/execute.ts).
  const MIN_APPENDS = 4;
  const points = [...Object.entries(CRASH_POINTS), ['store.append', MIN_APPENDS] as const].flatMap(([name, n]) => Array.from({ length: n }, (_, i) => `${name}:${i + 1}`));
  it.each(points)('SIGKILL at crash point %s, then resume', async (at) => {
    await crashAndResume({ at });
  });

  it.each(Object.entries(CRASH_POINTS))('crash point %s: passed %i time(s), and one more is past the end of the run', async (name, n) => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await paddock(['run', recipe(dir), '--headless'], { PADDOCK_HOME: join(dir, 'home'), PADDOCK_KILL_AT: `${name}:${n + 1}` });
      expect(r.signal, `${name}:${n + 1} killed the run: ${r.stderr}`).toBeUndefined();
      expect(r.exitCode, r.stderr).toBe(0);
    } finally {
      cleanup();
    }
  });

  it(`SIGKILL at every later event batch (past the first ${MIN_APPENDS}, as many as this run's timing makes), then resume`, async () => {
    let at = MIN_APPENDS + 1;
    // A run has a few dozen batches at most (about 16 on an idle 2-core machine); the bound only
    // stops a loop that would never end.
    for (; at <= 400; at++) {
      const r = await crashAndResume({ at: `store.append:${at}`, pastTheEnd: 'allowed' });
      if (r.pastTheEnd) break;
    }
    expect(at, 'the run never got past its last event batch').toBeLessThanOrEqual(400);
  }, 15 * 60_000);

  // Kills from outside, at a seeded fraction of a clean run's duration measured here: early in
  // the run, mid-copy, between steps, near the end, on a fast machine or a slow one.
  const rand = mulberry32(2026);
  const fractions = Array.from({ length: 4 }, (_, i) => Number((0.1 + 0.2 * i + rand() * 0.15).toFixed(2)));
  it.each(fractions)('SIGKILL from outside at %f of a clean run\'s duration, then resume', async (fraction) => {
    const afterMs = Math.round(fraction * (await cleanRunMs()));
    // The moment is a guess from another run's time: a run this one is quicker than may finish first.
    await crashAndResume({ afterMs, pastTheEnd: 'allowed' });
  });

  it('resume refuses an unknown run, and says a finished run has nothing to do', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const home = join(dir, 'home');
      const unknown = await paddock(['resume', 'r-nope'], { PADDOCK_HOME: home });
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toMatch(/no run "r-nope"/);
      const ok = await paddock(['run', recipe(dir), '--headless'], { PADDOCK_HOME: home });
      const id = /run (r-\S+) succeeded/.exec(ok.stdout)![1];
      const again = await paddock(['resume', id], { PADDOCK_HOME: home });
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toMatch(/already succeeded; nothing to resume/);
      await waitFor(() => true, 'nothing');
    } finally {
      cleanup();
    }
  });
});
