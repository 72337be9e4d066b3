import { createInProcessRunner } from '../../runners/in-process.js';
import { runnerContract } from './contract.js';
import type { StepContext } from '../../src/pipeline/runner.js';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

const behaviours: Record<string, (ctx: StepContext) => Promise<void>> = {
  events: async (ctx) => {
    ctx.emit({ v: 1, type: 'log', level: 'info', message: 'hello' });
    ctx.emit({ v: 1, type: 'latency', target: 't', samples: [1.5, 2.5] });
    ctx.emit({ v: 1, type: 'metric', name: 'm', value: 42, unit: 'ms' });
  },
  fail: async (ctx) => {
    ctx.emit({ v: 1, type: 'log', level: 'info', message: 'about to fail' });
    throw new Error('gave up with exit status 3');
  },
  sleep: async (ctx) => {
    ctx.emit({ v: 1, type: 'log', level: 'info', message: 'sleeping' });
    await sleep(60_000, ctx.signal);
  },
};

runnerContract({
  name: 'in-process',
  make: () => createInProcessRunner(),
  processes: false,
  spec: (behaviour, base) => ({ ...base, fn: behaviours[behaviour] }),
});
