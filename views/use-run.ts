/**
 * What the screens show of the run, read from the stores at each render: the run store through
 * RunReader (again only when the run's failures, gates or step statuses move, or a review was
 * recorded, never at the rate of the latency stream), and for the run in progress the live store
 * and the gate broker. Every screen's rows are selected here too, memoized.
 */
import { useMemo, useSyncExternalStore } from 'react';
import type { LiveStore } from '../src/live/live-store.js';
import type { LiveState } from '../src/live/live-state.js';
import type { GateBroker, GateRequest } from '../src/pipeline/gate-broker.js';
import type { RunReader } from '../src/live/run-reader.js';
import { sortOf, type UiState } from './ui-state.js';
import type { ScreenData, ScreenEntry, ScreenOptions } from './screens/screen.js';
import type { HeaderFacts } from './status-lines.js';

const EMPTY_STORE = { subscribe: () => () => undefined, getSnapshot: () => undefined };
const NO_GATES: readonly GateRequest[] = [];

export interface RunShown {
  /** The run shown is the one in progress. */
  isLive: boolean;
  /** ...and its steps are running. */
  active: boolean;
  /** What the screens show: frozen, live, or replayed from the stored events. */
  view?: LiveState;
  data: ScreenData;
  /** What the header says of the run (status, its times, failures). */
  header: Omit<HeaderFacts, 'runId' | 'now' | 'frozen'>;
  /** How the run in progress ended, once it has (the footer says so). */
  liveEnded?: string;
  /** Each screen's rows, and their ids (what the reducer moves over and opens). */
  rows: Readonly<Record<string, readonly unknown[]>>;
  rowIds: Readonly<Record<string, readonly string[]>>;
}

/** The run `ui.runId` as the screens of `table` show it. */
export function useRun(reader: RunReader, live: { runId: string; store: LiveStore; broker: GateBroker } | undefined, ui: UiState, table: readonly ScreenEntry[]): RunShown {
  const liveState = useSyncExternalStore(live?.store.subscribe ?? EMPTY_STORE.subscribe, live?.store.getSnapshot ?? EMPTY_STORE.getSnapshot) as LiveState | undefined;
  const allPending = useSyncExternalStore(live?.broker.subscribe ?? EMPTY_STORE.subscribe, live?.broker.pending ?? (() => NO_GATES));
  const isLive = Boolean(live && ui.runId === live.runId);
  const active = isLive && (liveState?.runStatus === 'running' || liveState?.runStatus === 'idle');
  const pending = isLive ? allPending : NO_GATES;

  // The run in progress is read from the store again only when this key moves.
  const liveKey = isLive && liveState ? `${liveState.failureCount}|${liveState.runStatus}|${liveState.steps.map((s) => s.status[0]).join('')}|${Object.values(liveState.gates).map((g) => g.status ?? g.verdict).join()}|${pending.length}` : '';
  const detail = useMemo(() => (ui.runId ? reader.detail(ui.runId, { replay: !isLive }) : undefined), [ui.runId, isLive, liveKey, ui.reviews]);
  const runs = useMemo(() => reader.listRuns(), [ui.screen, liveKey]);
  const view = ui.frozen ?? (isLive ? liveState : detail?.live);
  const data: ScreenData = useMemo(
    () => ({ runs, runId: ui.runId, run: detail && view ? { detail, view } : undefined, pending, now: ui.now, frozen: Boolean(ui.frozen), target: ui.target }),
    [runs, ui.runId, detail, view, pending, ui.now, ui.frozen, ui.target],
  );
  // Every screen's rows, not only the one shown: one burst of keys may go to another screen and move there.
  const rows = useMemo(() => Object.fromEntries(table.map((s) => [s.id, s.rows?.select(data, screenOptions(ui, s)) ?? []])), [table, data, ui.filter, ui.reversed, ui.sort, ui.expanded]);
  const rowIds = useMemo(() => Object.fromEntries(table.map((s) => [s.id, rows[s.id].map((r) => s.rows?.id(r) ?? '')])), [table, rows]);
  const run = detail?.run;
  const header = {
    status: isLive ? (liveState?.runStatus ?? 'running') : (run?.status ?? ''),
    started: isLive ? liveState?.startedAt : run?.created_at,
    ended: isLive ? liveState?.endedAt : (run?.ended_at ?? undefined),
    failures: detail?.failures.length ?? view?.failureCount ?? 0,
    skipped: view?.steps.filter((s) => s.status === 'skipped').length,
  };
  return { isLive, active, view, data, header, liveEnded: isLive && !active && liveState ? liveState.runStatus : undefined, rows, rowIds };
}

/** What the person set on a screen: its filter, order and expanded pane. */
export function screenOptions(ui: UiState, screen: ScreenEntry): ScreenOptions {
  const sorts = screen.rows?.sorts;
  return { filter: ui.filter[screen.id] ?? '', reversed: ui.reversed[screen.id] ?? false, sort: sorts ? sortOf(ui, screen.id, sorts) : undefined, expanded: ui.expanded[screen.id] ?? false };
}
