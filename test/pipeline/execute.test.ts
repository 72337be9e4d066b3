/**
 * execute() through the real binary: the concurrency limit, and resume's rule (rerun what did
 * not finish and what has changed inputs; reuse the rest).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paddock } from '../helpers/cli.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';
import { createSchedule, decide, reduce, reusableAttempt, summarizeSkips } from '../../src/pipeline/schedule.js';

const STEP = join(ROOT, 'test', 'fixtures', 'record-step.mjs');
const step = (dir: string, name: string, ms: number, extra = '') =>
  `    - { id: ${name}, run: [${JSON.stringify(process.execPath)}, ${JSON.stringify(STEP)}, ${name}, ${JSON.stringify(dir)}, "${ms}"]${extra} }\n`;
const times = (dir: string, name: string) =>
  existsSync(join(dir, `${name}.times`))
    ? readFileSync(join(dir, `${name}.times`), 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number])
    : [];

describe('execute', () => {
  it('never runs more steps at once than the concurrency limit', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const names = ['s1', 's2', 's3', 's4', 's5', 's6'];
      writeFileSync(join(dir, 'p.yaml'), `version: 1\nname: par\nconcurrency: 2\nstages:\n  package:\n${names.map((n) => step(dir, n, 400)).join('')}`);
      const r = await paddock(['run', join(dir, 'p.yaml')], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode, r.stdout).toBe(0);
      const spans = names.map((n) => times(dir, n)[0]);
      const edges = spans.flatMap(([s, e]) => [[s, 1], [e, -1]] as [number, number][]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let now = 0;
      let peak = 0;
      for (const [, d] of edges) peak = Math.max(peak, (now += d));
      expect(peak).toBe(2);
    } finally {
      cleanup();
    }
  });

  it('resume reuses finished steps with unchanged inputs and reruns the rest', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = join(dir, 'calibration.txt');
      writeFileSync(input, 'shard 1');
      writeFileSync(
        join(dir, 'p.yaml'),
        `version: 1\nname: resume\nconcurrency: 1\nstages:\n  package:\n${step(dir, 'a', 10)}${step(dir, 'b', 10, `, inputs: [${JSON.stringify(input)}]`)}${step(dir, 'c', 10, ', needs: [b]')}`,
      );
      const env = { PADDOCK_HOME: join(dir, 'home') };
      writeFileSync(join(dir, 'c.fail'), '');
      const first = await paddock(['run', join(dir, 'p.yaml')], env);
      expect(first.exitCode).toBe(2);
      expect(first.stdout).toMatch(/package\/c failed: exited with status 1/);
      const id = /run (r-\S+) failed/.exec(first.stdout)![1];

      // Unchanged inputs: only the failed step runs again.
      rmSync(join(dir, 'c.fail'));
      writeFileSync(join(dir, 'c.fail'), '');
      const second = await paddock(['resume', id], env);
      expect(second.exitCode).toBe(2);
      expect(second.stdout).toMatch(/a: inputs unchanged \([0-9a-f]{12}\), reusing attempt 1/);
      expect(second.stdout).toMatch(/b: inputs unchanged/);
      expect([times(dir, 'a').length, times(dir, 'b').length, times(dir, 'c').length]).toEqual([1, 1, 2]);

      // A changed input file: its step and what needs it run again; the rest is reused.
      rmSync(join(dir, 'c.fail'));
      writeFileSync(input, 'shard 2');
      const third = await paddock(['resume', id], env);
      expect(third.exitCode, third.stdout).toBe(0);
      expect([times(dir, 'a').length, times(dir, 'b').length, times(dir, 'c').length]).toEqual([1, 2, 3]);
      const shown = JSON.parse((await paddock(['show', id, '--json'], env)).stdout) as { steps: { step_id: string; attempt: number; reused: number }[] };
      expect(shown.steps.map((s) => [s.step_id, s.attempt, s.reused])).toEqual([
        ['a', 1, 2],
        ['b', 2, 0],
        ['c', 3, 0],
      ]);
    } finally {
      cleanup();
    }
  });
});

/**
 * The scheduler's rules for a step that skipped itself (test/cli/skipped-status.test.ts runs them
 * end to end): it does not block what needs it, a failed need still does, both kinds of skip are
 * named for the summary line, and a resume reuses a self-skip on the same inputs only.
 */
describe('the scheduler on a self-skipped step', () => {
  const nodes = (needs: Record<string, string[]>) => Object.entries(needs).map(([id, n]) => ({ id, needs: n }));

  it('what needs a self-skipped step starts; what needs a failed one is skipped; the run succeeds only without the failure', () => {
    let s = createSchedule({ concurrency: 2, nodes: nodes({ smoke: [], sbom: ['smoke'], a: [], b: ['a'] }) });
    expect(decide(s).actions).toEqual([{ type: 'start', id: 'smoke' }, { type: 'start', id: 'a' }]);
    s = reduce(reduce(s, { type: 'node.started', id: 'smoke' }), { type: 'node.started', id: 'a' });
    s = reduce(s, { type: 'node.finished', id: 'smoke', outcome: 'self-skipped', reason: 'no Triton image' });
    s = reduce(s, { type: 'node.finished', id: 'a', outcome: 'failed', error: 'exited with status 1' });
    expect(decide(s).actions).toEqual([{ type: 'start', id: 'sbom' }, { type: 'skip', id: 'b', reason: 'not run: a did not succeed' }]);
    s = reduce(reduce(s, { type: 'node.started', id: 'sbom' }), { type: 'node.skipped', id: 'b', reason: 'not run: a did not succeed' });
    s = reduce(s, { type: 'node.finished', id: 'sbom', outcome: 'succeeded' });
    expect(decide(s).done).toEqual({ status: 'failed', exitCode: 2, error: 'a: exited with status 1' });
    expect(summarizeSkips(s)).toBe('2 skipped: smoke: no Triton image; b: not run: a did not succeed');
  });

  it('a run whose only irregularity is a self-skip succeeds with exit 0, and names it', () => {
    let s = createSchedule({ concurrency: 1, nodes: nodes({ smoke: [], sbom: ['smoke'] }) });
    s = reduce(reduce(s, { type: 'node.started', id: 'smoke' }), { type: 'node.finished', id: 'smoke', outcome: 'self-skipped', reason: 'no Docker engine' });
    s = reduce(reduce(s, { type: 'node.started', id: 'sbom' }), { type: 'node.finished', id: 'sbom', outcome: 'succeeded' });
    expect(decide(s).done).toEqual({ status: 'succeeded', exitCode: 0 });
    expect(summarizeSkips(s)).toBe('1 skipped: smoke: no Docker engine');
    expect(summarizeSkips(createSchedule({ concurrency: 1, nodes: [] }))).toBe('');
  });

  const row = (status: string, skipped_itself: number, input_digest: string | null = 'd1', attempt = 1) => ({ status, input_digest, attempt, skipped_itself });
  it.each([
    { name: 'a self-skip on the same inputs is reused', previous: row('skipped', 1), want: 1 },
    { name: 'a self-skip on changed inputs runs again', previous: row('skipped', 1, 'd0'), want: undefined },
    { name: 'a step skipped because a need failed never ran, and runs', previous: row('skipped', 0), want: undefined },
    { name: 'a dependency skip of a row that never ran runs', previous: row('skipped', 0, null, 0), want: undefined },
  ])('resume: $name', ({ previous, want }) => {
    expect(reusableAttempt('step', previous, 'd1')).toBe(want);
  });
});
