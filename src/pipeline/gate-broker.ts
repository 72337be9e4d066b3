/**
 * Gate requests as request/response messages between the executor and a person at the TUI:
 * the executor awaits `request()`, the view shows `pending()` and calls `answer()`.
 */
import type { GateAnswer, GateDecision } from './gates.js';

export interface GateRequest {
  gate: string;
  decision: GateDecision;
}

export interface GateBroker {
  request(gate: string, decision: GateDecision, signal: AbortSignal): Promise<GateAnswer | undefined>;
  pending(): readonly GateRequest[];
  answer(gate: string, answer: GateAnswer): boolean;
  subscribe(listener: () => void): () => void;
}

export function createGateBroker(): GateBroker {
  const waiting = new Map<string, { req: GateRequest; resolve: (a: GateAnswer | undefined) => void }>();
  const listeners = new Set<() => void>();
  let snapshot: readonly GateRequest[] = [];
  const changed = () => {
    snapshot = [...waiting.values()].map((w) => w.req);
    for (const l of listeners) l();
  };
  return {
    request(gate, decision, signal) {
      return new Promise((resolve) => {
        const onAbort = () => waiting.has(gate) && done(undefined);
        const done = (a: GateAnswer | undefined) => {
          signal.removeEventListener('abort', onAbort);
          waiting.delete(gate);
          changed();
          resolve(a);
        };
        waiting.set(gate, { req: { gate, decision }, resolve: done });
        signal.addEventListener('abort', onAbort, { once: true });
        changed();
      });
    },
    pending: () => snapshot,
    answer(gate, answer) {
      const w = waiting.get(gate);
      if (!w) return false;
      w.resolve(answer);
      return true;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
