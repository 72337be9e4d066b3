/**
 * The in-process runner: runs a step's function in paddock's own process. For steps that are
 * cheap and pure (gate decisions); anything heavy runs as a process so that it can be killed
 * and so that it does not disturb the workbench (or the other way round).
 */
import type { Event } from '../src/schema/events.js';
import type { Runner, StepResult, StepSpec } from '../src/pipeline/runner.js';

export function createInProcessRunner(): Runner {
  return {
    kind: 'in-process',
    host: 'local',
    async run(spec: StepSpec, ctx): Promise<StepResult> {
      if (!spec.fn) return { status: 'failed', error: `step ${spec.stepId}: the in-process runner needs a function`, protocolErrors: 0 };
      if (ctx.signal.aborted) return { status: 'cancelled', error: 'cancelled before it started', protocolErrors: 0 };
      const inner = new AbortController();
      let timedOut = false;
      const onAbort = () => inner.abort(ctx.signal.reason);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const timer = spec.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            inner.abort(new Error('timeout'));
          }, spec.timeoutMs)
        : undefined;
      const emit = (e: Event) => {
        e.step = spec.stepId;
        if (e.ts === undefined) e.ts = Date.now();
        ctx.emit(e);
      };
      const aborted = new Promise<'aborted'>((resolve) => inner.signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
      try {
        const outcome = await Promise.race([spec.fn({ signal: inner.signal, emit }).then(() => 'done' as const), aborted]);
        if (outcome === 'aborted' || inner.signal.aborted) {
          return timedOut
            ? { status: 'failed', error: `timed out after ${(spec.timeoutMs! / 1000).toFixed(1)} s`, protocolErrors: 0 }
            : { status: 'cancelled', error: 'cancelled: the run was stopped', protocolErrors: 0 };
        }
        return { status: 'succeeded', protocolErrors: 0 };
      } catch (err) {
        if (inner.signal.aborted && !timedOut) return { status: 'cancelled', error: 'cancelled: the run was stopped', protocolErrors: 0 };
        return { status: 'failed', error: (err as Error).message ?? String(err), protocolErrors: 0 };
      } finally {
        if (timer) clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
