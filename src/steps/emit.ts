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
