/**
 * Crash safety: a run killed with SIGKILL at any moment leaves a sound database and no
 * half-written artifact, and `paddock resume` finishes it without redoing steps whose inputs
 * did not change. The kills are real: PADDOCK_KILL_AT makes the paddock process SIGKILL itself
 * at the N-th crash point (inside SQLite transactions, between chunks of a CAS copy, before
 * the rename, between steps), and a few more kills come from outside at random times.
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

async function crashAndResume(kill: { at?: number; afterMs?: number }) {
  const { dir, cleanup } = tempDir('paddock-crash-');
  try {
    const home = join(dir, 'home');
    const file = recipe(dir);
    const env: Record<string, string> = { PADDOCK_HOME: home };
    if (kill.at) env.PADDOCK_KILL_AT = String(kill.at);
    const child = paddockProcess(['run', file, '--headless'], env);
    if (kill.afterMs !== undefined) {
      setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
    }
    const first = await child;
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
    const after = new RunStore(home);
    try {
      expect(after.integrityCheck()).toBe('ok');
      expect(after.getRun(run.id)?.status).toBe('succeeded');
      expect(after.getSteps(run.id).map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
      const arts = after.currentArtifacts(run.id);
      expect(arts.map((a) => a.step_id).sort()).toEqual(['evaluate', 'export', 'variants']);
      for (const a of arts) expect(after.cas.has(a.sha256)).toBe(true);
      expect(after.cas.verifyAll().corrupt).toEqual([]);
      expect(after.currentVerdicts(run.id).map((v) => v.verdict)).toEqual(['pass']);
    } finally {
      after.close();
    }
    return { before };
  } finally {
    cleanup();
  }
}

describe('crash safety and resume', () => {
  it('a run that is not killed succeeds and each step runs once', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await paddock(['run', recipe(dir), '--headless'], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(executions(dir)).toEqual({ export: 1, variants: 1, evaluate: 1 });
      expect(r.stdout).toMatch(/package\/export started \[local\]/);
      expect(r.stdout).toMatch(/evaluate\/gate:quality verdict PASS evaluate.value = 4.000 meets >= 4.000/);
    } finally {
      cleanup();
    }
  });

  // Every crash point of this recipe's run, in order: run created, event batches, step
  // started/finished, each 1 MiB chunk of a CAS copy, just before the CAS rename, the gate,
  // run finished (35 in all; point 36 would be past the end, which the next test checks).
  const points = Array.from({ length: 35 }, (_, i) => i + 1);
  it.each(points)('SIGKILL at crash point %i, then resume', async (at) => {
    await crashAndResume({ at });
  });

  it('crash point 36 is past the end of the run', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await paddock(['run', recipe(dir), '--headless'], { PADDOCK_HOME: join(dir, 'home'), PADDOCK_KILL_AT: '36' });
      expect(r.exitCode).toBe(0);
    } finally {
      cleanup();
    }
  });

  const rand = mulberry32(2026);
  const delays = Array.from({ length: 4 }, () => Math.round(120 + rand() * 500));
  it.each(delays)('SIGKILL from outside after %i ms, then resume', async (afterMs) => {
    await crashAndResume({ afterMs });
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
