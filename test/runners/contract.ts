/**
 * The runner contract: what every runner must do, whatever it runs on. Each runner's test file
 * calls runnerContract() with a way to turn a named behaviour into a StepSpec for that runner
 * (local: a child process; in-process: a function; later: a container, a remote host).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import type { Runner, StepSpec } from '../../src/pipeline/runner.js';
import type { Event } from '../../src/schema/events.js';
import { isAlive } from '../../runners/process-tree.js';
import { waitFor, tempDir } from '../helpers/fixtures.js';

export type Behaviour = 'events' | 'fail' | 'stderr' | 'bad-lines' | 'env-cwd' | 'sleep' | 'tree' | 'ignore-term' | 'step-claims';

export interface ContractSubject {
  name: string;
  make(): Runner;
  /** A spec that makes the step behave as named; `arg` is behaviour-specific. */
  spec(behaviour: Behaviour, base: Pick<StepSpec, 'runId' | 'stepId'> & Partial<StepSpec>, arg?: string): StepSpec;
  /** Runs real processes (stderr, process trees, signals apply). */
  processes: boolean;
  /**
   * After an aborted 'tree' step: waits until its processes are gone. Default: the pids the
   * step wrote are checked on this machine (a container's pids are in its own namespace, so the
   * Docker runner checks that the container is gone instead).
   */
  treeGone?(pidFile: string, runId: string): Promise<void>;
}

async function runCollect(runner: Runner, spec: StepSpec, signal = new AbortController().signal, onEvent?: (e: Event) => void) {
  const events: Event[] = [];
  const result = await runner.run(spec, {
    signal,
    emit: (e) => {
      events.push(e);
      onEvent?.(e);
    },
  });
  return { result, events };
}

export function runnerContract(subject: ContractSubject): void {
  describe(`runner contract: ${subject.name}`, () => {
    const base = { runId: 'r-test', stepId: 'step-1' };

    it('runs a step to success and stamps its events with the step and a time', async () => {
      const before = Date.now();
      const { result, events } = await runCollect(subject.make(), subject.spec('events', base));
      expect(result.status).toBe('succeeded');
      expect(result.protocolErrors).toBe(0);
      expect(events.map((e) => e.type)).toEqual(['log', 'latency', 'metric']);
      for (const e of events) {
        expect(e.step).toBe('step-1');
        expect(e.ts).toBeGreaterThanOrEqual(before - 1);
      }
      const lat = events[1];
      expect(lat.type === 'latency' && lat.samples).toEqual([1.5, 2.5]);
    });

    it('turns a failure into a failed step that says why', async () => {
      const { result, events } = await runCollect(subject.make(), subject.spec('fail', base));
      expect(result.status).toBe('failed');
      expect(result.error).toMatch(/status 3|exit/);
      expect(events.some((e) => e.type === 'log' && e.message === 'about to fail')).toBe(true);
    });

    it('stops a step at its timeout and fails it', async () => {
      const t0 = Date.now();
      const { result } = await runCollect(subject.make(), subject.spec('sleep', { ...base, timeoutMs: 500, graceMs: 500 }));
      expect(result.status).toBe('failed');
      expect(result.error).toMatch(/timed out after 0\.5 s/);
      expect(Date.now() - t0).toBeLessThan(10_000);
    });

    it('cancels a step when the run is aborted', async () => {
      const ctl = new AbortController();
      const p = runCollect(subject.make(), subject.spec('sleep', { ...base, graceMs: 500 }), ctl.signal, (e) => {
        if (e.type === 'log' && e.message === 'sleeping') ctl.abort();
      });
      const { result } = await p;
      expect(result.status).toBe('cancelled');
      expect(result.error).toMatch(/cancelled/);
    });

    it('does not start a step when the run is already aborted', async () => {
      const ctl = new AbortController();
      ctl.abort();
      const { result, events } = await runCollect(subject.make(), subject.spec('events', base), ctl.signal);
      expect(result.status).toBe('cancelled');
      expect(events).toEqual([]);
    });

    if (!subject.processes) return;

    it('turns stderr lines into log events (CRLF stripped)', async () => {
      const { result, events } = await runCollect(subject.make(), subject.spec('stderr', base));
      expect(result.status).toBe('succeeded');
      const logs = events.filter((e) => e.type === 'log' && e.stream === 'stderr').map((e) => (e.type === 'log' ? e.message : ''));
      expect(logs).toEqual(['warning: one', 'warning: two']);
    });

    it('shows every malformed stdout line as an error with its line number, and goes on', async () => {
      const { result, events } = await runCollect(subject.make(), subject.spec('bad-lines', base));
      expect(result.status).toBe('succeeded');
      expect(result.protocolErrors).toBe(3);
      const errors = events.filter((e) => e.type === 'log' && e.level === 'error').map((e) => (e.type === 'log' ? e.message : ''));
      expect(errors[0]).toMatch(/^stdout line 1: invalid JSON/);
      expect(errors[1]).toMatch(/^stdout line 2: protocol version 2 is not supported/);
      expect(errors[2]).toMatch(/^stdout line 4: unknown event type "mystery"/);
      expect(events.some((e) => e.type === 'log' && e.message === 'still here')).toBe(true);
    });

    it('does not let a step claim its own status', async () => {
      const { result, events } = await runCollect(subject.make(), subject.spec('step-claims', base));
      expect(result.status).toBe('succeeded');
      expect(events.some((e) => e.type === 'step')).toBe(false);
      expect(events.some((e) => e.type === 'log' && /cannot report its own status/.test(e.message))).toBe(true);
    });

    it('passes env and cwd', async () => {
      const { dir, cleanup } = tempDir();
      try {
        const { events } = await runCollect(subject.make(), subject.spec('env-cwd', { ...base, env: { PADDOCK_TEST_VALUE: 'x=1 y' }, cwd: dir }));
        const msg = events.find((e) => e.type === 'log');
        expect(msg && msg.type === 'log' && msg.message).toBe(`x=1 y|${dir}|step-1`);
      } finally {
        cleanup();
      }
    });

    it('kills the whole process tree on abort', async () => {
      const { dir, cleanup } = tempDir();
      const pidFile = `${dir}/pids.json`;
      try {
        const ctl = new AbortController();
        const { result } = await runCollect(subject.make(), subject.spec('tree', { ...base, graceMs: 1000 }, pidFile), ctl.signal, (e) => {
          if (e.type === 'log' && e.message === 'tree ready') ctl.abort();
        });
        expect(result.status).toBe('cancelled');
        const pids = JSON.parse(readFileSync(pidFile, 'utf8')) as { child: number; grandchild: number };
        expect(pids.grandchild).toBeGreaterThan(0);
        if (subject.treeGone) await subject.treeGone(pidFile, base.runId);
        else await waitFor(() => !isAlive(pids.child) && !isAlive(pids.grandchild), 'the child and grandchild to be gone', 5000);
      } finally {
        cleanup();
      }
    });

    it('kills a step that ignores SIGTERM after the grace period', async () => {
      const ctl = new AbortController();
      const t0 = Date.now();
      let aborted = 0;
      const { result, events } = await runCollect(subject.make(), subject.spec('ignore-term', { ...base, graceMs: 700 }), ctl.signal, (e) => {
        if (e.type === 'log' && e.message === 'stubborn') {
          aborted = Date.now();
          ctl.abort();
        }
      });
      expect(result.status).toBe('cancelled');
      expect(events.some((e) => e.type === 'log' && e.message === 'ignoring SIGTERM')).toBe(true);
      expect(Date.now() - aborted).toBeGreaterThanOrEqual(650);
      expect(Date.now() - t0).toBeLessThan(15_000);
    });

    it('fails clearly when the command does not exist', async () => {
      const spec = { ...subject.spec('events', base), command: ['/nonexistent/paddock-step'] };
      const { result } = await runCollect(subject.make(), spec);
      expect(result.status).toBe('failed');
      expect(result.error).toMatch(/could not start "\/nonexistent\/paddock-step": ENOENT/);
      expect(existsSync('/nonexistent')).toBe(false);
    });
  });
}
