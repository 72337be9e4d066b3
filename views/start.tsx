/**
 * Mounts the TUI for a run and returns the hooks the run command feeds: events in, and a
 * promise that settles when the person quits.
 */
import React from 'react';
import { render } from 'ink';
import { createLiveStore } from '../src/live/live-store.js';
import { initialLiveState, withPlannedSteps, type LiveStep } from '../src/live/live-state.js';
import type { Plan } from '../src/pipeline/plan.js';
import type { PaddockEvent } from '../src/schema/events.js';
import type { GateBroker } from '../src/pipeline/gate-broker.js';
import type { StepRow } from '../src/store/run-store.js';
import type { RunStore } from '../src/store/run-store.js';
import { RunReader } from '../src/live/run-reader.js';
import { Workbench } from './workbench.js';
import { detectTheme } from './theme.js';
import { detectColorDepth } from './frame-cells.js';
import type { Screen } from './screens/index.js';
import type { RegistrySource } from './screens/registry.js';

/**
 * Frames per second of the live view. bench/tui.ts, while a benchmark streams 10,000 samples/s:
 * 10 per second took 8.2% of a core, 4 took 5.8%, 2 take 4.9% (headless ingest alone: 3.0%);
 * most of the rest is Ink turning each frame's styled text into output. The percentile chart's
 * points are 500 ms windows, so 2 frames a second show every one of them.
 */
const FRAME_HZ = Math.max(1, Math.min(30, Number(process.env.PADDOCK_FPS) || 2));

/**
 * Ink's incremental rendering writes only the lines that changed (0.6 KB/s to the terminal
 * against 2.0 KB/s for full redraws in bench/tui.ts), but ink 6.8.0 leaves the first frame's
 * top line on screen in tmux and shifts every later frame down by one (seen here again with the
 * workbench, whose frame is always rows - 1 tall). Full redraws, 2 a second, stay within the
 * 10 KB/s budget; PADDOCK_INCREMENTAL=1 turns incremental rendering on to compare.
 */
const INCREMENTAL = process.env.PADDOCK_INCREMENTAL === '1';

export interface StartRunAppOptions {
  runId: string;
  plan: Plan;
  broker: GateBroker;
  actor: string;
  /** Steps already recorded (resume): shown with their stored status. */
  resumedSteps: StepRow[];
  /** The run store, read by the workbench's screens (runs, failures, gates, reviews). */
  store: RunStore;
  /** The model registry for screen 8 (the promote stage's approvals are answered there). */
  registry?: RegistrySource;
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
  // The live view updates at most FRAME_HZ times a second (env PADDOCK_FPS to try others).
  const store = createLiveStore(state, FRAME_HZ);
  let resolveQuit: () => void = () => {};
  const quit = new Promise<void>((r) => (resolveQuit = r));
  const app = render(
    <Workbench
      reader={new RunReader(opts.store)}
      actor={opts.actor}
      theme={detectTheme()}
      depth={detectColorDepth()}
      live={{ runId: opts.runId, store, broker: opts.broker, onCancel: opts.onCancel, onForceQuit: opts.onForceQuit }}
      frameHz={FRAME_HZ}
      registry={opts.registry}
      onQuit={() => resolveQuit()}
    />,
    { exitOnCtrlC: false, patchConsole: false, incrementalRendering: INCREMENTAL, maxFps: FRAME_HZ },
  );
  // Asked for now, before anything unmounts: ink 6.8 settles this promise only in an unmount that
  // happens after the call. Asked after `q` had unmounted the app (useApp().exit()), it never
  // settled, Node ran out of work and ended with status 0 whatever the run's outcome (issue 14).
  const exited = app.waitUntilExit().catch(() => undefined);
  return {
    onEvent: (e: PaddockEvent) => store.dispatch(e),
    /** Resolves once the person has quit and the terminal is restored; the caller then returns the run's exit code. */
    async done(): Promise<void> {
      store.flush();
      await quit;
      app.unmount();
      await exited;
    },
  };
}

/** The workbench on the store alone (`paddock ui`): runs, and any run's screens; resolves on quit. */
export async function openWorkbench(opts: { store: RunStore; actor: string; runId?: string; screen?: Screen; registry?: RegistrySource }): Promise<void> {
  const app = render(
    <Workbench reader={new RunReader(opts.store)} actor={opts.actor} theme={detectTheme()} depth={detectColorDepth()} initialRun={opts.runId} initialScreen={opts.screen} frameHz={FRAME_HZ} registry={opts.registry} onQuit={() => undefined} />,
    { exitOnCtrlC: false, patchConsole: false, incrementalRendering: INCREMENTAL, maxFps: FRAME_HZ },
  );
  await app.waitUntilExit().catch(() => undefined);
}
