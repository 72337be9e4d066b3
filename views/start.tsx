/**
 * Mounts the TUI for a run and returns the hooks the run command feeds: events in, and a
 * promise that settles when the person quits.
 */
import React from 'react';
import { render } from 'ink';
import { createLiveStore } from '../src/store/live-store.js';
import { initialLiveState, withPlannedSteps, type LiveStep } from '../src/pipeline/live-state.js';
import type { Plan } from '../src/pipeline/plan.js';
import type { PaddockEvent } from '../src/schema/events.js';
import type { GateBroker } from '../src/pipeline/gate-broker.js';
import type { StepRow } from '../src/store/run-store.js';
import type { RunStore } from '../src/store/run-store.js';
import { RunReader } from '../src/store/run-reader.js';
import { Workbench } from './workbench.js';
import { detectTheme } from './theme.js';
import { detectColorDepth } from './frame-cells.js';
import type { Screen } from './keymap.js';

export interface StartRunAppOptions {
  runId: string;
  plan: Plan;
  broker: GateBroker;
  actor: string;
  /** Steps already recorded (resume): shown with their stored status. */
  resumedSteps: StepRow[];
  /** The run store, read by the workbench's screens (runs, failures, gates, reviews). */
  store: RunStore;
  onCancel(): void;
  onForceQuit(): void;
}

export function startRunApp(opts: StartRunAppOptions) {
  let state = withPlannedSteps({ ...initialLiveState, runId: opts.runId }, opts.plan.nodes.map((n) => ({ id: n.id, stage: n.stage })));
  const stored = new Map(opts.resumedSteps.map((s) => [s.step_id, s]));
  state = {
    ...state,
    steps: state.steps.map((s): LiveStep => {
      const row = stored.get(s.id);
      return row && row.status === 'succeeded' ? { ...s, status: 'succeeded', startedAt: row.started_at ?? undefined, endedAt: row.ended_at ?? undefined, host: row.host ?? undefined } : s;
    }),
  };
  const store = createLiveStore(state, 10);
  let resolveQuit: () => void = () => {};
  const quit = new Promise<void>((r) => (resolveQuit = r));
  const app = render(
    <Workbench
      reader={new RunReader(opts.store)}
      actor={opts.actor}
      theme={detectTheme()}
      depth={detectColorDepth()}
      live={{ runId: opts.runId, store, broker: opts.broker, onCancel: opts.onCancel, onForceQuit: opts.onForceQuit }}
      onQuit={() => resolveQuit()}
    />,
    // ink 6.8.0's incrementalRendering left lines of earlier frames on screen in tmux at 80x24
    // (seen here), so the default is a full redraw, capped at 10 fps and never full height (no
    // screen clears); PADDOCK_INCREMENTAL=1 turns it on to compare.
    { exitOnCtrlC: false, patchConsole: false, incrementalRendering: process.env.PADDOCK_INCREMENTAL === '1', maxFps: 10 },
  );
  return {
    onEvent: (e: PaddockEvent) => store.dispatch(e),
    async done(): Promise<void> {
      store.flush();
      await quit;
      app.unmount();
      await app.waitUntilExit().catch(() => undefined);
    },
  };
}

/** The workbench on the store alone (`paddock ui`): runs, and any run's screens; resolves on quit. */
export async function openWorkbench(opts: { store: RunStore; actor: string; runId?: string; screen?: Screen }): Promise<void> {
  const app = render(
    <Workbench reader={new RunReader(opts.store)} actor={opts.actor} theme={detectTheme()} depth={detectColorDepth()} initialRun={opts.runId} initialScreen={opts.screen} onQuit={() => undefined} />,
    { exitOnCtrlC: false, patchConsole: false, incrementalRendering: process.env.PADDOCK_INCREMENTAL === '1', maxFps: 10 },
  );
  await app.waitUntilExit().catch(() => undefined);
}
