/**
 * Progress headless: the line reporter prints a throttled progress line per step (at most one a
 * second, and only when a tenth more is done or half a minute went by), with done/total, rate and
 * ETA; and the real binary, run headless on a recipe whose command step reports progress
 * (test/fixtures/progress-step.mjs), prints such lines and no more than that. The reporter is
 * driven by event times, so its table-driven cases need no clock; the binary's case bounds the
 * count by the run's own measured length, never by an absolute time.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLineReporter } from '../../cli/headless.js';
import type { PaddockEvent } from '../../src/schema/events.js';
import { paddock } from '../helpers/cli.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

/** `n` progress reports of one step, `everyMs` apart, done = 1..n of `total` (or no total). */
function reports(n: number, everyMs: number, opts: { total?: number; unit?: string; step?: string; start?: number } = {}): PaddockEvent[] {
  const step = opts.step ?? 'evaluate';
  const start = opts.start ?? T0;
  return [
    { v: 1, type: 'step', step, status: 'started', ts: start },
    ...Array.from({ length: n }, (_, i): PaddockEvent => ({ v: 1, type: 'progress', step, done: i + 1, total: opts.total, unit: opts.unit ?? 'frames', ts: start + (i + 1) * everyMs })),
    { v: 1, type: 'step', step, status: 'succeeded', ts: start + (n + 1) * everyMs },
  ];
}

function progressLines(events: PaddockEvent[]): string[] {
  const out: string[] = [];
  const r = createLineReporter((l) => out.push(l), () => 'evaluate');
  for (const e of events) r.onEvent(e);
  r.end();
  return out.filter((l) => / progress /.test(l));
}

describe('headless progress lines', () => {
  it('a 100-second loop of 1000 reports prints one line per tenth, with rate and ETA, the last at 100%', () => {
    const lines = progressLines(reports(1000, 100, { total: 1000 }));
    expect(lines.length).toBeGreaterThanOrEqual(9);
    expect(lines.length).toBeLessThanOrEqual(11);
    const done = lines.map((l) => Number(/ (\d+)\/1000 frames/.exec(l)?.[1]));
    expect(done).toEqual([...done].sort((a, b) => a - b));
    for (let i = 1; i < done.length; i++) expect(done[i] - done[i - 1]).toBeGreaterThanOrEqual(100);
    // 10 frames a second, 1000 - done left.
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d evaluate\/evaluate progress \[#+-*] 100\/1000 frames 10% 10 frames\/s ETA 1m30s$/);
    expect(lines.at(-1)).toMatch(/progress \[#{20}] 1000\/1000 frames 100% 10 frames\/s$/);
  });

  it.each([
    ['a step done within a second prints none', reports(100, 5, { total: 100 }), 0, 0],
    ['fast reports over 3 s print at most one a second (plus the last)', reports(300, 10, { total: 300 }), 2, 4],
    ['without a total, a line every 5 s', reports(600, 100, { unit: 'bytes' }), 11, 12],
    ['a crawl prints a heartbeat every 30 s between its tenths', reports(100, 6000, { total: 1000 }), 19, 20],
  ])('%s', (_name, events, min, max) => {
    const lines = progressLines(events);
    expect(lines.length).toBeGreaterThanOrEqual(min);
    expect(lines.length).toBeLessThanOrEqual(max);
  });

  it('each step keeps its own clock; a new phase (done going back) gets its own rate', () => {
    const a = reports(300, 20, { total: 300, step: 'a' });
    const b = reports(300, 20, { total: 300, step: 'b', start: T0 + 10 });
    const mixed = [...a, ...b].sort((x, y) => (x.ts ?? 0) - (y.ts ?? 0));
    const lines = progressLines(mixed);
    expect(lines.filter((l) => l.includes('evaluate/a ')).length).toBeGreaterThanOrEqual(5);
    expect(lines.filter((l) => l.includes('evaluate/b ')).length).toBeGreaterThanOrEqual(5);
    const phases = progressLines([...reports(400, 10, { total: 400 }).slice(0, -1), ...reports(400, 40, { total: 400, start: T0 + 5000 }).slice(1)]);
    const rates = phases.map((l) => Number(/ (\d+) frames\/s/.exec(l)?.[1]));
    expect(rates[0]).toBe(100);
    expect(rates.at(-1)).toBe(25);
  });

  it('the real binary, headless: a command step reporting progress for 3 s prints a few throttled lines', async () => {
    const t = tempDir();
    try {
      const recipe = join(t.dir, 'p.yaml');
      writeFileSync(recipe, `version: 1\nname: progress\nstages:\n  package:\n    - { id: count-frames, run: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(ROOT, 'test', 'fixtures', 'progress-step.mjs'))}, "60", "50"] }\n`);
      const started = Date.now();
      const r = await paddock(['run', recipe, '--headless'], { PADDOCK_HOME: join(t.dir, 'home') });
      const seconds = (Date.now() - started) / 1000;
      expect(r.exitCode, r.stderr).toBe(0);
      const lines = r.stdout.split('\n').filter((l) => / package\/count-frames progress /.test(l));
      // 60 reports 50 ms apart: the step takes 3 s at least, so it prints; at most one line a
      // second of the whole run (plus the last), and at most one per tenth.
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines.length).toBeLessThanOrEqual(Math.floor(seconds) + 1);
      expect(lines.length).toBeLessThanOrEqual(11);
      for (const l of lines) expect(l).toMatch(/progress \[[#-]{20}] \d+\/60 frames \d+% [\d.]+ frames\/s( ETA \S+)? \(counting\)$/);
      expect(lines.at(-1)).toMatch(/ 60\/60 frames 100% /);
      expect(lines.slice(0, -1).every((l) => / ETA /.test(l))).toBe(true);
    } finally {
      t.cleanup();
    }
  });
});
