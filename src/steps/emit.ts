/**
 * How a built-in step speaks the event protocol: one JSON line per event on stdout.
 * The TypeScript twin of runners/python/paddock_events.py.
 */
import type { EventInput } from '../schema/events.js';

type WithoutV<T> = T extends unknown ? Omit<T, 'v'> : never;

/** Writes one event line. `emit({type: 'log', level: 'info', message: 'hi'})`. */
export function emit(event: WithoutV<EventInput>): void {
  process.stdout.write(`${JSON.stringify({ v: 1, ts: Date.now(), ...event })}\n`);
}

/**
 * Progress of a loop as `progress` events, at most one every `everyMs` (the last, done = total,
 * always), so that a tight loop reports often enough for a bar and an ETA without flooding the
 * stream. `const report = progressReporter('files'); for (...) report(i + 1, n);`
 */
export function progressReporter(unit: string, everyMs = 200): (done: number, total?: number, message?: string) => void {
  let last = -Infinity;
  return (done, total, message) => {
    const now = Date.now();
    if (now - last < everyMs && done !== total) return;
    last = now;
    emit({ type: 'progress', done, total, unit, ...(message ? { message } : {}) });
  };
}
