/**
 * The workbench: runs, a run's step DAG, live latency (candidate next to production), the slice
 * table, the failure browser with frames drawn in the terminal, gate review, and the model registry
 * (screens/registry.tsx, which is offered each key first while it is shown). This file only
 * wires: the terminal size, the stores (use-run.ts), the UI reducer (ui-state.ts) fed with key
 * names, the screen table (screens/index.ts), and the lines around the screen (status-lines.tsx);
 * it carries out the reducer's commands.
 */
import React, { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { Box, useApp, useInput, useStdout } from 'ink';
import type { LiveStore } from '../src/live/live-store.js';
import type { GateBroker } from '../src/pipeline/gate-broker.js';
import type { RunReader } from '../src/live/run-reader.js';
import type { Theme } from './theme.js';
import type { ColorDepth, RgbFrame } from './frame-cells.js';
import { useTerminalSize } from './use-terminal-size.js';
import { keyNames } from './key-names.js';
import { createUiStore, cursorOf, initialUi, type UiAction, type UiCommand, type UiContext } from './ui-state.js';
import { screenOptions, useRun } from './use-run.js';
import { KEYMAP, SCREEN_TABLE, type Screen } from './screens/index.js';
import type { ScreenEntry } from './screens/screen.js';
import { HelpOverlay, helpPage, helpRows } from './screens/help.js';
import { latencyTargets } from './screens/latency.js';
import { defaultReadFrame } from './screens/failures.js';
import { defaultReplayIo, segmentFacts, type ReplayIo } from './screens/replay-view.js';
import { playInterval } from './replay-player.js';
import { simPlayerContext } from './screens/sim-view.js';
import { useRegistryScreen, type RegistrySource } from './screens/registry.js';
import type { FailureItem } from '../src/live/run-reader.js';
import { FooterLine, GateBanner, HeaderLine, footerText, headerText, tabsText } from './status-lines.js';

export interface LiveRun {
  runId: string;
  store: LiveStore;
  broker: GateBroker;
  /** Stop the running steps (first Ctrl+C, or quit confirmed). */
  onCancel(): void;
  /** Exit at once (second Ctrl+C). */
  onForceQuit(): void;
}

export interface WorkbenchProps {
  reader: RunReader;
  actor: string;
  theme: Theme;
  depth: ColorDepth;
  live?: LiveRun;
  onQuit(): void;
  /** Fixed size for tests; the terminal's otherwise. */
  size?: { columns: number; rows: number };
  initialScreen?: Screen;
  initialRun?: string;
  /** Reads a frame for the failure browser (png.ts's decoder by default). */
  readFrame?(path: string): RgbFrame | undefined;
  /** How the replay screen reads timelines and the bundles' frames (src/replay/bundle.ts's reader by default). */
  replayIo?: ReplayIo;
  /** The redraw rate Ink renders with (views/start.tsx's FRAME_HZ): a segment plays no faster. */
  frameHz?: number;
  /** The model registry the registry screen shows, read and written through the shell (cli/ui.ts). */
  registry?: RegistrySource;
}

const TABLE: readonly ScreenEntry[] = SCREEN_TABLE;

/** The whole workbench at `size` (the terminal's by default): header, gate banner, the screen shown, footer. */
export function Workbench({ reader, actor, theme, depth, live, onQuit, size, initialScreen, initialRun, readFrame, replayIo = defaultReplayIo, frameHz = 2, registry }: WorkbenchProps) {
  const terminal = useTerminalSize();
  const { columns: width, rows: height } = size ?? terminal;
  const { exit } = useApp();
  const { write } = useStdout();
  // The UI store is made once, never replaced; its state is read with useSyncExternalStore.
  const [store] = useState(() => createUiStore(initialUi({ screen: initialScreen ?? (live || initialRun ? 'run' : 'runs'), runId: live?.runId ?? initialRun ?? reader.listRuns(1)[0]?.id, now: Date.now() })));
  const ui = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const shown = useRun(reader, live, ui, TABLE);
  // The registry screen keeps its own panes and question; it is offered each key first while shown.
  const reg = useRegistryScreen({ source: registry, shown: ui.screen === 'registry', actor, keymap: KEYMAP });
  const { isLive, active, data } = shown;
  const quit = () => {
    onQuit();
    exit();
  };
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => store.dispatch({ type: 'tick', now: Date.now() }), 1000);
    return () => clearInterval(t);
  }, [active]);
  // Ctrl+C (or a confirmed quit) stopped the steps: leave once they have stopped.
  useEffect(() => {
    if (!active && ui.interrupts > 0) quit();
  }, [active, ui.interrupts]);

  // Layout: header, an optional gate banner, the screen, the footer; never the full height.
  const frameRows = Math.max(10, height - 1);
  const gate = data.pending[0];
  const bodyRows = frameRows - 2 - (gate ? 2 : 0);
  // Laid out at every render (a few dozen lines), so that a key pressed as the help opens scrolls it.
  const help = helpRows(KEYMAP.helpSections(ui.mode === 'help' ? ui.text : '', theme.unicode), width);

  // The replay screen's segment: its length and rate are what the player's keys and timer act on.
  const replayRows = shown.rows.replay ?? [];
  const replayItem = replayRows[cursorOf(ui, 'replay', replayRows.length)] as FailureItem | undefined;
  const segment = useMemo(() => segmentFacts(replayItem, replayIo.readTimeline), [replayItem, replayIo]);
  // The sim screen's clip plays with the same player: its selected run's facts stand in for a segment's there.
  const simRows = shown.rows.sim ?? [];
  const simItem = simRows[cursorOf(ui, 'sim', simRows.length)] as FailureItem | undefined;
  const sim = useMemo(() => simPlayerContext(simItem, data.run?.detail), [simItem, data.run?.detail]);
  const replay = ui.screen === 'sim' ? sim.facts : segment;
  const playing = (ui.screen === 'replay' || ui.screen === 'sim') && ui.player.playing && replay !== undefined && ui.player.failureId === replay.failureId;
  useEffect(() => {
    if (!playing || !replay) return;
    const t = setInterval(() => send({ type: 'player.tick', facts: replay }), playInterval(replay.rateHz, frameHz));
    return () => clearInterval(t);
  }, [playing, replay, frameHz]);

  const ctx: UiContext = {
    keymap: KEYMAP,
    screens: TABLE,
    rows: shown.rowIds,
    live: isLive,
    active,
    pendingGates: data.pending.map((p) => p.gate),
    view: shown.view,
    actor,
    targets: shown.view ? latencyTargets(shown.view) : undefined,
    help: { lines: help.length, page: helpPage(bodyRows) },
    replay,
    fileDraft: ui.screen === 'sim' ? sim.fileDraft : undefined,
  };
  const send = (action: UiAction) => {
    for (const command of store.dispatch(action)) {
      const next = carryOut(command, { reader, live, actor, quit, print: write });
      if (next) send(next);
    }
  };
  useInput((input, key) => {
    for (const name of keyNames(input, key)) if (!reg.onKey(name, { ...store.getSnapshot(), gateWaiting: data.pending.length > 0 })) send({ type: 'key', name, ctx });
  });

  // The header gets what the compact tabs leave; its failure count is never cut.
  const header = headerText({ ...shown.header, runId: ui.runId, now: ui.now, frozen: data.frozen }, theme, width - tabsText(TABLE, ui.screen, 0).length - 2);
  const footer = reg.prompt(width, theme.unicode) ?? footerText(ui, { actor, hints: (room) => KEYMAP.footerHints(ui.mode, ui.screen, theme.unicode, room), ended: shown.liveEnded, width }, theme.unicode);
  const entry = TABLE.find((s) => s.id === ui.screen) ?? TABLE[0];
  const rows = shown.rows[entry.id];

  return (
    <Box flexDirection="column" width={width} height={frameRows}>
      <HeaderLine header={header} tabs={tabsText(TABLE, ui.screen, width - header.length - 2)} width={width} theme={theme} />
      {gate ? <GateBanner gate={gate} detailsKey={TABLE.find((s) => s.id === 'gates')?.key ?? '?'} width={width} theme={theme} /> : null}
      <Box flexDirection="column" height={bodyRows}>
        {ui.mode === 'help' ? (
          <HelpOverlay rows={help} filter={ui.text} width={width} height={bodyRows} theme={theme} top={ui.helpCursor} />
        ) : (
          <entry.component rows={rows} cursor={cursorOf(ui, entry.id, rows.length)} options={screenOptions(ui, entry)} data={data} width={width} height={bodyRows} theme={theme} depth={depth} readFrame={readFrame ?? defaultReadFrame} replay={{ player: ui.player, io: replayIo, maxFps: frameHz }} registry={reg.props} />
        )}
      </Box>
      <FooterLine text={footer} ui={reg.asking ? { ...ui, mode: reg.asking } : ui} width={width} theme={theme} />
    </Box>
  );
}

/** Carries out one of the reducer's commands; a run looked up comes back as an action. */
function carryOut(command: UiCommand, shell: { reader: RunReader; live?: LiveRun; actor: string; quit(): void; print(text: string): void }): UiAction | undefined {
  const { reader, live, actor } = shell;
  switch (command.type) {
    case 'gate.answer':
      live?.broker.answer(command.gate, { decision: command.decision, actor, reason: command.reason });
      return;
    case 'failure.review':
      reader.recordReview({ runId: command.runId, failureId: command.failureId, action: command.action, note: command.note, actor });
      return;
    case 'failure.print-path': {
      // Ink writes it above the live frame: it scrolls into the terminal's history and stays after quitting.
      const f = reader.detail(command.runId, { replay: false })?.failures.find((x) => x.id === command.failureId);
      shell.print(`${command.failureId}  ${f?.framePath ?? '(no frame recorded)'}\n`);
      return;
    }
    case 'run.find': {
      const found = reader.findRun(command.query);
      return found ? { type: 'run.found', runId: found.id } : { type: 'run.missing', query: command.query };
    }
    case 'run.cancel':
      live?.onCancel();
      return;
    case 'run.force-quit':
      live?.onForceQuit();
      return;
    case 'quit':
      shell.quit();
      return;
  }
}
