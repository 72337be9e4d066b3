import { describe, expect, it } from 'vitest';
import React from 'react';
import { render } from 'ink-testing-library';
import { RunScreen } from '../../views/run-screen.js';
import { makeTheme } from '../../views/theme.js';
import { initialLiveState, reduceAll, withPlannedSteps } from '../../src/pipeline/live-state.js';
import type { PaddockEvent } from '../../src/schema/events.js';

function demoState() {
  let s = withPlannedSteps(initialLiveState, [
    { id: 'bench-production', stage: 'package' },
    { id: 'bench-candidate', stage: 'package' },
    { id: 'gate:candidate-p99-latency', stage: 'package' },
  ]);
  const events: PaddockEvent[] = [{ v: 1, type: 'run', run: 'r-1', status: 'started', ts: 1000 }];
  events.push({ v: 1, type: 'step', step: 'bench-production', status: 'started', ts: 1000, host: 'local', runner: 'local' });
  for (let i = 0; i < 40; i++) events.push({ v: 1, type: 'latency', target: 'production/cpu-fp32', step: 'bench-production', samples: [4 + (i % 7) * 0.1, 4.5, 5.2], ts: 1000 + i * 150 });
  for (let i = 0; i < 12; i++) events.push({ v: 1, type: 'log', level: 'info', message: `line ${i}`, step: 'bench-production', ts: 2000 + i });
  return reduceAll(s, events);
}

describe('RunScreen', () => {
  for (const [w, h] of [
    [80, 24],
    [200, 60],
  ]) {
    it(`fits ${w}x${h} in at most rows - 1 lines`, () => {
      const { lastFrame } = render(
        <RunScreen state={demoState()} width={w} height={h} theme={makeTheme(true, true)} now={8000} targetIndex={0} frozen={false} mode="normal" reason="" />,
      );
      const lines = lastFrame()!.split('\n');
      expect(lines.length).toBeLessThanOrEqual(h - 1);
      for (const l of lines) expect(l.replace(/\x1b\[[0-9;]*m/g, '').length).toBeLessThanOrEqual(w);
      expect(lastFrame()).toContain('bench-production');
      expect(lastFrame()).toContain('LATENCY production/cpu-fp32');
    });
  }
});
