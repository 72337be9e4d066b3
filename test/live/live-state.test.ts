import { describe, expect, it } from 'vitest';
import { initialLiveState, reduceLive, reduceAll, withPlannedSteps, LOG_LINES, SERIES_POINTS, WINDOW_MS } from '../../src/live/live-state.js';
import type { PaddockEvent } from '../../src/schema/events.js';
import { quantile } from '../../src/metrics/latency-histogram.js';
import { createLiveStore } from '../../src/live/live-store.js';
import { waitFor } from '../helpers/fixtures.js';

describe('live state', () => {
  it('follows a step through its life, with pending steps from the plan', () => {
    let s = withPlannedSteps(initialLiveState, [{ id: 'a', stage: 'package' }, { id: 'b', stage: 'package' }]);
    expect(s.steps.map((x) => x.status)).toEqual(['pending', 'pending']);
    s = reduceAll(s, [
      { v: 1, type: 'run', run: 'r1', status: 'started', ts: 100 },
      { v: 1, type: 'step', step: 'a', status: 'started', ts: 110, host: 'local' },
      { v: 1, type: 'progress', step: 'a', done: 3, total: 10, ts: 120 },
      { v: 1, type: 'step', step: 'a', status: 'failed', error: 'exited with status 3', ts: 130 },
    ]);
    expect(s.runStatus).toBe('running');
    expect(s.steps[0]).toMatchObject({ status: 'failed', startedAt: 110, endedAt: 130, error: 'exited with status 3', host: 'local', progress: { done: 3, total: 10 } });
    expect(s.logs.at(-1)!.message).toBe('a failed: exited with status 3');
  });

  it('never mutates the state it is given', () => {
    const s0 = withPlannedSteps(initialLiveState, [{ id: 'a' }]);
    const frozen = JSON.stringify(s0);
    reduceLive(s0, { v: 1, type: 'latency', target: 't', samples: [1, 2], step: 'a', ts: 1 });
    reduceLive(s0, { v: 1, type: 'log', level: 'info', message: 'x', ts: 1 });
    reduceLive(s0, { v: 1, type: 'step', step: 'a', status: 'started', ts: 1 });
    expect(JSON.stringify(s0)).toBe(frozen);
  });

  it('keeps latency per target and closes percentile windows by event time, bounded', () => {
    let s = initialLiveState;
    for (let i = 0; i < 1000; i++) {
      s = reduceLive(s, { v: 1, type: 'latency', target: 'cand', samples: [1 + (i % 10), 2], ts: i * (WINDOW_MS / 2) });
    }
    s = reduceLive(s, { v: 1, type: 'latency', target: 'prod', samples: [3], ts: 0 });
    const cand = s.latency.cand;
    expect(cand.total.count).toBe(2000);
    expect(cand.series.length).toBe(SERIES_POINTS);
    expect(quantile(cand.total, 1)).toBe(10);
    expect(s.latency.prod.total.count).toBe(1);
    expect(s.activeTarget).toBe('prod');
  });

  it('keeps the log a bounded ring buffer', () => {
    const events: PaddockEvent[] = Array.from({ length: LOG_LINES + 50 }, (_, i) => ({ v: 1, type: 'log', level: 'info', message: `m${i}`, ts: i }));
    const s = reduceAll(initialLiveState, events);
    expect(s.logs).toHaveLength(LOG_LINES);
    expect(s.logs[0].message).toBe('m50');
  });

  it('records metrics, verdicts and gate answers', () => {
    const s = reduceAll(initialLiveState, [
      { v: 1, type: 'metric', name: 'latency.p99_ms', value: 3, target: 't', ts: 1 },
      { v: 1, type: 'metric', name: 'latency.p99_ms', value: 4, target: 't', ts: 2 },
      { v: 1, type: 'verdict', gate: 'g', verdict: 'review', rationale: ['why'], ts: 3 },
      { v: 1, type: 'gate', gate: 'g', status: 'approved', actor: 'ana@example.com', ts: 4 },
    ]);
    expect(s.metrics['latency.p99_ms|t|'].value).toBe(4);
    expect(s.gates.g).toMatchObject({ verdict: 'review', status: 'approved', actor: 'ana@example.com', rationale: ['why'] });
  });
});

describe('live store', () => {
  it('reduces every event but notifies at most 10 times a second', async () => {
    const store = createLiveStore(initialLiveState, 10);
    let calls = 0;
    store.subscribe(() => calls++);
    const t0 = Date.now();
    for (let i = 0; i < 20_000; i++) store.dispatch({ v: 1, type: 'latency', target: 't', samples: [1], ts: i });
    expect(store.getSnapshot().latency.t.total.count).toBe(20_000);
    await waitFor(() => calls >= 1, 'a first notification');
    const elapsed = Date.now() - t0;
    expect(calls).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 1);
  });
});
