/**
 * The live store that views read with useSyncExternalStore: events are reduced as they arrive,
 * listeners are told at most `maxHz` times a second (STYLE.md: batches of about 100 ms), so a
 * burst of thousands of events costs one redraw.
 */
import type { PaddockEvent } from '../schema/events.js';
import { initialLiveState, reduceLive, type LiveState } from './live-state.js';

export interface LiveStore {
  subscribe(listener: () => void): () => void;
  getSnapshot(): LiveState;
  dispatch(event: PaddockEvent): void;
  /** Replaces the state (seeding from a plan or from the run store). */
  set(update: (s: LiveState) => LiveState): void;
  /** Tells listeners now (end of run). */
  flush(): void;
  /** How many notifications were sent (tests check the cap). */
  readonly notifications: number;
}

export function createLiveStore(initial: LiveState = initialLiveState, maxHz = 10): LiveStore {
  let state = initial;
  const listeners = new Set<() => void>();
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  let notifications = 0;
  const interval = 1000 / maxHz;
  const notify = () => {
    timer = undefined;
    last = Date.now();
    notifications++;
    for (const l of listeners) l();
  };
  const schedule = () => {
    if (timer) return;
    const wait = Math.max(0, last + interval - Date.now());
    timer = setTimeout(notify, wait);
    timer.unref?.();
  };
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot: () => state,
    dispatch(event) {
      state = reduceLive(state, event, Date.now());
      schedule();
    },
    set(update) {
      state = update(state);
      schedule();
    },
    flush() {
      if (timer) clearTimeout(timer);
      notify();
    },
    get notifications() {
      return notifications;
    },
  };
}
