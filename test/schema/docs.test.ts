import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Event, PaddockEvent } from '../../src/schema/events.js';
import { decodeEventLine } from '../../src/schema/event-lines.js';
import { ROOT } from '../helpers/fixtures.js';

/** Every line of every ```jsonl block of docs/events.md. */
function examples(): string[] {
  const md = readFileSync(join(ROOT, 'docs', 'events.md'), 'utf8');
  return [...md.matchAll(/```jsonl\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n').filter(Boolean));
}

describe('docs/events.md', () => {
  it('has examples of every kind, and every example is a valid event', () => {
    const lines = examples();
    const types = new Set<string>();
    for (const line of lines) {
      const obj = JSON.parse(line) as { type: string };
      types.add(obj.type);
      const parsed = PaddockEvent.safeParse(obj);
      expect(parsed.success, `${line}\n${parsed.error?.message}`).toBe(true);
      // Steps' own kinds also pass the line parser a step's output goes through.
      if (Event.options.some((o) => o.shape.type.value === obj.type)) expect(decodeEventLine(line, 1).ok, line).toBe(true);
    }
    expect([...types].sort()).toEqual(['artifact', 'failure', 'gate', 'latency', 'log', 'metric', 'progress', 'run', 'skip', 'step', 'verdict']);
  });
});
