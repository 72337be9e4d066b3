/**
 * The workbench: runs, a run's step DAG, live latency (candidate next to production), the slice
 * table, the failure browser with frames drawn in the terminal, and gate review. The container:
 * it reads the run store (RunReader) and, for the run in progress, the live store and the gate
 * broker; keys go through the one binding table (keymap.ts); the screens are pure leaves
 * (screens.tsx).
 */
import React, { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { readFileSync } from 'node:fs';
import { Box, Text, useApp, useInput } from 'ink';
import type { LiveStore } from '../src/live/live-store.js';
import type { GateBroker, GateRequest } from '../src/pipeline/gate-broker.js';
import type { LiveState } from '../src/live/live-state.js';
import type { RunReader, FailureItem } from '../src/live/run-reader.js';
import { formatDuration } from '../src/files/format.js';
import { clip, type Theme } from './theme.js';
import { lookup, footerHints, SCREENS, TEXT_MODES, type InputMode, type Screen, type Action } from './keymap.js';
import { selectSliceRows } from './panes.js';
import { RunsScreen, RunDagScreen, LatencyScreen, SlicesScreen, FailuresScreen, GatesScreen, HelpOverlay, arrangeSlices, arrangeFailures, parseFailureFilter, failuresLayout, gateIdsOf, SLICE_SORTS, type SliceSort } from './screens.js';
import { renderFrameCells, type ColorDepth, type RgbFrame, type FrameBox } from './frame-cells.js';
import { useTerminalSize } from './use-terminal-size.js';
import { keyNames } from './key-names.js';
import { decodePngRgb } from '../src/model/png.js';

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
}

const EMPTY_STORE = { subscribe: () => () => undefined, getSnapshot: () => undefined };
const NO_GATES: GateRequest[] = [];

const SCREEN_LABEL: Record<Screen, string> = { runs: 'runs', run: 'run', latency: 'latency', slices: 'slices', failures: 'failures', gates: 'gates' };

export function Workbench({ reader, actor, theme, depth, live, onQuit, size, initialScreen, initialRun, readFrame }: WorkbenchProps) {
  const terminal = useTerminalSize();
  const { columns: width, rows: height } = size ?? terminal;
  const { exit } = useApp();
  const liveState = useSyncExternalStore(live?.store.subscribe ?? EMPTY_STORE.subscribe, live?.store.getSnapshot ?? EMPTY_STORE.getSnapshot) as LiveState | undefined;
  const pending = useSyncExternalStore(live?.broker.subscribe ?? EMPTY_STORE.subscribe, live?.broker.pending ?? (() => NO_GATES));

  const [screen, setScreenState] = useState<Screen>(initialScreen ?? (live ? 'run' : initialRun ? 'run' : 'runs'));
  const [history, setHistory] = useState<Screen[]>([]);
  const [runId, setRunId] = useState<string | undefined>(live?.runId ?? initialRun ?? reader.listRuns(1)[0]?.id);
  const [cursor, setCursor] = useState<Record<Screen, number>>({ runs: 0, run: 0, latency: 0, slices: 0, failures: 0, gates: 0 });
  const [filters, setFilters] = useState<Record<Screen, string>>({ runs: '', run: '', latency: '', slices: '', failures: '', gates: '' });
  const [sliceSort, setSliceSort] = useState<SliceSort>('regression');
  const [reversed, setReversed] = useState<Record<Screen, boolean>>({ runs: false, run: false, latency: false, slices: false, failures: false, gates: false });
  const [frozen, setFrozen] = useState<LiveState | undefined>();
  const [targetIndex, setTargetIndex] = useState(0);
  const [message, setMessage] = useState<string | undefined>();
  const [helpCursor, setHelpCursor] = useState(0);
  const [interrupts, setInterrupts] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [reviewTick, setReviewTick] = useState(0);
  // Mode, typed text and the pending confirmation live in refs as well as state: the keys of one
  // burst (":", then a typed command) are handled before React re-renders.
  const [mode, setModeState] = useState<InputMode>('normal');
  const [text, setTextState] = useState('');
  const [confirm, setConfirmState] = useState<{ what: 'approve' | 'reject' | 'note'; gate?: string; failure?: string; reason: string } | undefined>();
  const modeRef = useRef<InputMode>('normal');
  const textRef = useRef('');
  const confirmRef = useRef<typeof confirm>(undefined);
  const screenRef = useRef(screen);
  screenRef.current = screen;
  const setMode = (m: InputMode) => {
    modeRef.current = m;
    setModeState(m);
  };
  const setText = (t: string) => {
    textRef.current = t;
    setTextState(t);
  };
  const setConfirm = (c: typeof confirm) => {
    confirmRef.current = c;
    setConfirmState(c);
  };

  const isLive = Boolean(live && runId === live.runId);
  const active = isLive && (liveState?.runStatus === 'running' || liveState?.runStatus === 'idle');
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  useEffect(() => {
    if (!active && interrupts > 0) quit();
  }, [active, interrupts]);

  // What the store says about the run; for the run in progress, read again when its failures,
  // gates or step statuses change (never at the 10 Hz of the latency stream).
  const liveKey = isLive && liveState ? `${liveState.failureCount}|${liveState.runStatus}|${liveState.steps.map((s) => s.status[0]).join('')}|${Object.values(liveState.gates).map((g) => g.status ?? g.verdict).join()}|${pending.length}` : '';
  const detail = useMemo(() => (runId ? reader.detail(runId, { replay: !isLive }) : undefined), [runId, isLive, liveKey, reviewTick]);
  const runs = useMemo(() => reader.listRuns(), [screen, liveKey]);
  const view: LiveState | undefined = frozen ?? (isLive ? liveState : detail?.live);

  const shownRuns = useMemo(() => {
    const f = filters.runs.toLowerCase();
    const list = runs.filter((r) => !f || `${r.id} ${r.name} ${r.status} ${r.host}`.toLowerCase().includes(f));
    return reversed.runs ? list.slice().reverse() : list;
  }, [runs, filters.runs, reversed.runs]);
  const sliceRows = useMemo(() => (view ? arrangeSlices(selectSliceRows(view), sliceSort, reversed.slices, filters.slices) : []), [view, sliceSort, reversed.slices, filters.slices]);
  const failures = useMemo(() => arrangeFailures(detail?.failures ?? [], parseFailureFilter(filters.failures), reversed.failures), [detail, filters.failures, reversed.failures]);
  const gateIds = useMemo(() => gateIdsOf(detail?.gates ?? [], detail?.verdicts ?? [], isLive ? pending : []), [detail, pending, isLive]);
  const planCount = detail?.plan.length || view?.steps.length || 0;
  const counts: Record<Screen, number> = { runs: shownRuns.length, run: planCount, latency: 0, slices: sliceRows.length, failures: failures.length, gates: gateIds.length };
  const cur = (s: Screen) => Math.max(0, Math.min(cursor[s], Math.max(0, counts[s] - 1)));

  // Layout: header, an optional gate banner, the screen, the footer; never the full height.
  const frameRows = Math.max(10, height - 1);
  const gate = isLive ? pending[0] : undefined;
  const bannerRows = gate ? 2 : 0;
  const bodyRows = frameRows - 2 - bannerRows;

  // The selected failure's frame, drawn once per failure and size.
  const selFailure: FailureItem | undefined = failures[cur('failures')];
  const frameCols = Math.max(16, Math.floor(width * 0.5) - 2);
  const frameRowsAvail = Math.max(4, failuresLayout(bodyRows, failures.length).detailRows);
  const frame = useMemo(() => {
    if (screen !== 'failures' || !selFailure) return { missing: '' };
    if (!selFailure.framePath) return { missing: 'no frame recorded for this failure' };
    const img = (readFrame ?? defaultReadFrame)(selFailure.framePath);
    if (!img) return { missing: `cannot read ${selFailure.framePath}` };
    return { lines: renderFrameCells(img, frameCols, frameRowsAvail, failureBoxes(selFailure), depth, theme.unicode) };
  }, [screen, selFailure?.id, selFailure?.framePath, frameCols, frameRowsAvail, depth, theme.unicode]);

  const go = (s: Screen, push = true) => {
    const from = screenRef.current;
    if (s === from) return;
    // The updater runs at the next render, after screenRef has moved on: capture `from` now.
    if (push) setHistory((h) => [...h.slice(-20), from]);
    screenRef.current = s;
    setScreenState(s);
    setMessage(undefined);
  };
  const quit = () => {
    onQuit();
    exit();
  };
  const move = (s: Screen, to: (c: number) => number) => setCursor((c) => ({ ...c, [s]: Math.max(0, Math.min(to(Math.min(c[s], Math.max(0, counts[s] - 1))), Math.max(0, counts[s] - 1))) }));
  const pendingGate = (): GateRequest | undefined => {
    if (!isLive || !pending.length) return undefined;
    if (screenRef.current === 'gates') return pending.find((p) => p.gate === gateIds[cur('gates')]) ?? pending[0];
    return pending[0];
  };

  const runCommand = (line: string) => {
    const [cmd, ...args] = line.trim().split(/\s+/);
    const arg = args.join(' ');
    switch (cmd) {
      case 'q':
      case 'quit':
        return act('quit');
      case 'runs':
      case 'run':
      case 'latency':
      case 'slices':
      case 'failures':
      case 'gates': {
        if (cmd === 'run' && arg) {
          const r = reader.findRun(arg);
          if (!r) return setMessage(`no run "${arg}"`);
          setRunId(r.id);
          setFrozen(undefined);
        }
        if ((cmd === 'failures' || cmd === 'slices') && arg) setFilters((f) => ({ ...f, [cmd]: arg }));
        return go(cmd as Screen);
      }
      case 'sort': {
        if (!SLICE_SORTS.includes(arg as SliceSort)) return setMessage(`sort by one of: ${SLICE_SORTS.join(', ')}`);
        setSliceSort(arg as SliceSort);
        return go('slices');
      }
      case 'filter':
        return setFilters((f) => ({ ...f, [screenRef.current]: arg }));
      case '':
        return;
      default:
        return setMessage(`unknown command ":${cmd}" (? lists them)`);
    }
  };

  const act = (action: Action) => {
    const s = screenRef.current;
    switch (action) {
      case 'interrupt':
        if (!active || interrupts >= 1) {
          if (active) live?.onForceQuit();
          return quit();
        }
        setInterrupts(1);
        setMessage('stopping the running steps... (Ctrl+C again to exit at once)');
        live?.onCancel();
        return;
      case 'quit':
        if (active) return setMode('confirm-quit');
        return quit();
      case 'back':
        if (history.length) {
          const prev = history[history.length - 1];
          setHistory((h) => h.slice(0, -1));
          go(prev, false);
        }
        return;
      case 'help':
        setText('');
        setHelpCursor(0);
        return setMode('help');
      case 'command':
        setText('');
        return setMode('command');
      case 'filter':
        setText(filters[s]);
        return setMode('filter');
      case 'up':
        return move(s, (c) => c - 1);
      case 'down':
        return move(s, (c) => c + 1);
      case 'top':
        return move(s, () => 0);
      case 'bottom':
        return move(s, () => counts[s] - 1);
      case 'open':
        if (s === 'runs') {
          const r = shownRuns[cur('runs')];
          if (r) {
            setRunId(r.id);
            setFrozen(undefined);
            go('run');
          }
        } else if (s === 'slices') {
          const r = sliceRows[cur('slices')];
          if (r) {
            setFilters((f) => ({ ...f, failures: `slice=${r.slice}` }));
            setCursor((c) => ({ ...c, failures: 0 }));
            go('failures');
          }
        }
        return;
      case 'next-pane':
        return setTargetIndex((i) => i + 1);
      case 'freeze':
        setFrozen((f) => (f ? undefined : view));
        return setMessage(frozen ? 'live again' : 'frozen: f to go live');
      case 'sort':
        if (s === 'slices') setSliceSort((k) => SLICE_SORTS[(SLICE_SORTS.indexOf(k) + 1) % SLICE_SORTS.length]);
        else setReversed((r) => ({ ...r, [s]: !r[s] }));
        return;
      case 'reverse':
        return setReversed((r) => ({ ...r, [s]: !r[s] }));
      case 'next-failure':
        return move('failures', (c) => c + 1);
      case 'prev-failure':
        return move('failures', (c) => c - 1);
      case 'reviewed': {
        const f = failures[cur('failures')];
        if (!f || !runId) return;
        reader.recordReview({ runId, failureId: f.id, action: 'reviewed', actor });
        setReviewTick((t) => t + 1);
        setMessage(`${f.id} marked reviewed by ${actor}`);
        return move('failures', (c) => c + 1);
      }
      case 'note': {
        const f = failures[cur('failures')];
        if (!f) return;
        setConfirm({ what: 'note', failure: f.id, reason: '' });
        setText('');
        return setMode('note');
      }
      case 'approve':
      case 'reject': {
        const g = pendingGate();
        if (!g) return setMessage(isLive ? 'no gate is waiting for an answer' : 'gates are answered while their run is running');
        setConfirm({ what: action, gate: g.gate, reason: '' });
        setText('');
        return setMode('reason');
      }
      case 'yes': {
        if (modeRef.current === 'confirm-quit') {
          setMode('normal');
          setInterrupts(1);
          setMessage('stopping the running steps...');
          live?.onCancel();
          return;
        }
        const c = confirmRef.current;
        setMode('normal');
        setConfirm(undefined);
        if (c && c.gate && (c.what === 'approve' || c.what === 'reject')) {
          live?.broker.answer(c.gate, { decision: c.what === 'approve' ? 'approved' : 'rejected', actor, reason: c.reason || undefined });
          setMessage(`${c.gate} ${c.what === 'approve' ? 'approved' : 'rejected'} by ${actor}`);
        }
        return;
      }
      case 'no':
        if (modeRef.current === 'confirm' && confirmRef.current) {
          setText(confirmRef.current.reason);
          return setMode('reason');
        }
        setConfirm(undefined);
        return setMode('normal');
      default:
        if (action.startsWith('go-')) return go(action.slice(3) as Screen);
    }
  };

  /** Keys of the text modes: a line editor; Enter and Esc end it. */
  const typed = (name: string) => {
    const m = modeRef.current;
    if (name === 'escape') {
      if (m === 'filter') setFilters((f) => ({ ...f, [screenRef.current]: '' }));
      setConfirm(undefined);
      setText('');
      return setMode('normal');
    }
    if (name === 'return') {
      const line = textRef.current;
      if (m === 'command') {
        setMode('normal');
        return runCommand(line);
      }
      if (m === 'filter') {
        setCursor((c) => ({ ...c, [screenRef.current]: 0 }));
        return setMode('normal');
      }
      const c = confirmRef.current;
      if (m === 'note' && c?.failure && runId) {
        if (!line.trim()) return setMessage('an empty note is not kept');
        reader.recordReview({ runId, failureId: c.failure, action: 'note', note: line.trim(), actor });
        setReviewTick((t) => t + 1);
        setConfirm(undefined);
        setMessage(`note added to ${c.failure}`);
        return setMode('normal');
      }
      if (m === 'reason' && c) {
        if (c.what === 'reject' && !line.trim()) return setMessage('a reason is required to reject a gate');
        setConfirm({ ...c, reason: line.trim() });
        return setMode('confirm');
      }
      return;
    }
    let next = textRef.current;
    if (name === 'backspace') next = next.slice(0, -1);
    else if (name.length === 1) next += name;
    else return;
    setText(next);
    setMessage(undefined);
    if (m === 'filter') setFilters((f) => ({ ...f, [screenRef.current]: next }));
  };

  const onKey = (name: string) => {
    const m = modeRef.current;
    if (name === 'ctrl+c') return act('interrupt');
    if ((TEXT_MODES as string[]).includes(m)) return typed(name);
    if (m === 'help') {
      if (name === 'escape') return setMode('normal');
      if (name === 'down' || name === 'up') return setHelpCursor((c) => Math.max(0, c + (name === 'down' ? 1 : -1)));
      if (name === 'backspace') return setText(textRef.current.slice(0, -1));
      if (name.length === 1 && name !== '?') return setText(textRef.current + name);
      return;
    }
    const action = lookup(m, screenRef.current, name);
    if (!action) return;
    if (m === 'normal') setMessage(undefined);
    act(action);
  };
  const onKeyRef = useRef(onKey);
  onKeyRef.current = onKey;
  useInput((input, key) => {
    for (const name of keyNames(input, key)) onKeyRef.current(name);
  });

  // ---- render ---------------------------------------------------------------------------------
  const run = detail?.run;
  const status = isLive ? (liveState?.runStatus ?? 'running') : (run?.status ?? '');
  const st = theme.status[status === 'running' ? 'running' : status] ?? theme.status.pending;
  const started = isLive ? liveState?.startedAt : run?.created_at;
  const ended = isLive ? liveState?.endedAt : (run?.ended_at ?? undefined);
  const elapsed = started ? formatDuration((ended ?? now) - started) : '';
  // Screen tabs: names when there is room, else digits with the current one named.
  const wideTabs = SCREENS.map((s, i) => (s === screen ? `[${i + 1} ${SCREEN_LABEL[s]}]` : `${i + 1} ${SCREEN_LABEL[s]}`)).join(' ');
  const narrowTabs = SCREENS.map((s, i) => (s === screen ? `[${i + 1} ${SCREEN_LABEL[s]}]` : String(i + 1))).join(' ');
  const failuresN = detail?.failures.length ?? view?.failureCount ?? 0;
  const header = `paddock  ${runId ?? '(no run)'}  ${st.symbol} ${status}  ${elapsed}${failuresN ? `  failures ${failuresN}` : ''}${frozen ? '  FROZEN' : ''}`;

  let footer: string;
  if (mode === 'command') footer = `:${text}${theme.unicode ? '▏' : '_'}`;
  else if (mode === 'filter') footer = `/${text}${theme.unicode ? '▏' : '_'}  (Enter keeps, Esc clears)`;
  else if (mode === 'note') footer = `${message ? `${message} ${theme.unicode ? '·' : '|'} ` : ''}note on ${confirm?.failure}: ${text}${theme.unicode ? '▏' : '_'}  (Enter adds, Esc cancels)`;
  else if (mode === 'reason') footer = `${message ? `${message} ${theme.unicode ? '·' : '|'} ` : ''}${confirm?.what === 'reject' ? 'reason for rejecting (required)' : 'reason for approving (optional)'} ${confirm?.gate}: ${text}${theme.unicode ? '▏' : '_'}  (Enter)`;
  else if (mode === 'confirm') footer = `${confirm?.what} ${confirm?.gate} as ${actor}${confirm?.reason ? ` because "${confirm.reason}"` : ''}? y / n`;
  else if (mode === 'confirm-quit') footer = 'steps are running: stop them and quit? y / n';
  else if (isLive && !active && liveState) footer = `run ${liveState.runStatus}; q to quit · ${message ?? footerHints(mode, screen, theme.unicode)}`;
  else footer = message ?? footerHints(mode, screen, theme.unicode);

  let body: React.ReactNode;
  if (mode === 'help') body = <HelpOverlay screen={screen} filter={text} width={width} height={bodyRows} theme={theme} cursor={helpCursor} />;
  else if (screen === 'runs') body = <RunsScreen runs={shownRuns} cursor={cur('runs')} width={width} height={bodyRows} theme={theme} now={now} filter={filters.runs} />;
  else if (!view || !detail) body = <Text>{clip(runId ? `run ${runId} is not in the store` : 'no run yet: 1 shows the run history', width, theme.unicode)}</Text>;
  else if (screen === 'run') body = <RunDagScreen plan={detail.plan} steps={view.steps} stored={detail.steps} cursor={cur('run')} width={width} height={bodyRows} theme={theme} now={now} logs={view.logs} />;
  else if (screen === 'latency') body = <LatencyScreen state={view} targetIndex={targetIndex} width={width} height={bodyRows} theme={theme} frozen={Boolean(frozen)} />;
  else if (screen === 'slices') body = <SlicesScreen rows={sliceRows} cursor={cur('slices')} sort={sliceSort} reverse={reversed.slices} filter={filters.slices} width={width} height={bodyRows} theme={theme} />;
  else if (screen === 'failures') body = <FailuresScreen items={failures} total={detail.failures.length} cursor={cur('failures')} filter={filters.failures} width={width} height={bodyRows} theme={theme} frame={frame} />;
  else body = <GatesScreen rules={detail.gates} verdicts={detail.verdicts} approvals={detail.approvals} pending={isLive ? pending : []} cursor={cur('gates')} width={width} height={bodyRows} theme={theme} />;

  return (
    <Box flexDirection="column" width={width} height={frameRows}>
      <HeaderLine header={header} tabs={width - header.length - 2 >= wideTabs.length ? wideTabs : narrowTabs} width={width} theme={theme} />
      {gate ? (
        <Box flexDirection="column">
          <Text wrap="truncate" bold inverse={!theme.color} color={theme.color ? 'yellow' : undefined}>
            {clip(`GATE ${gate.gate} needs review: ${gate.decision.verdict.toUpperCase()}  (a approve, x reject, 6 details)`, width, theme.unicode)}
          </Text>
          <Text wrap="truncate">{clip(gate.decision.rationale[0] ?? '', width, theme.unicode)}</Text>
        </Box>
      ) : null}
      <Box flexDirection="column" height={bodyRows}>
        {body}
      </Box>
      <Text wrap="truncate" dimColor={theme.dim && mode === 'normal' && !message} inverse={mode !== 'normal' && !theme.color} bold={mode !== 'normal'}>
        {clip(footer, width, theme.unicode)}
      </Text>
    </Box>
  );
}

/** The top line: run, status, time on the left; the screens on the right (the header is cut first). */
function HeaderLine({ header, tabs, width, theme }: { header: string; tabs: string; width: number; theme: Theme }) {
  const left = clip(header, Math.max(10, width - tabs.length - 2), theme.unicode);
  const gap = Math.max(1, width - left.length - tabs.length);
  return (
    <Text wrap="truncate">
      <Text bold color={theme.accent}>
        {left}
      </Text>
      {' '.repeat(gap)}
      <Text>{clip(tabs, Math.max(0, width - left.length - gap), theme.unicode)}</Text>
    </Text>
  );
}

/** The boxes drawn on a failure's frame: the object (green) or the false detection (red), and the closest other box (yellow). */
export function failureBoxes(f: FailureItem): FrameBox[] {
  const boxes: FrameBox[] = [];
  const bbox = f.data.bbox;
  const isBox = (b: unknown): b is [number, number, number, number] => Array.isArray(b) && b.length === 4 && b.every((x) => typeof x === 'number');
  if (isBox(bbox)) boxes.push({ bbox, rgb: f.kind.startsWith('false-positive') ? [255, 40, 40] : [40, 255, 80] });
  const closest = (f.data.closest ?? undefined) as { bbox?: unknown } | undefined;
  if (closest && isBox(closest.bbox)) boxes.push({ bbox: closest.bbox, rgb: [255, 220, 0] });
  return boxes;
}

const frameCache = new Map<string, RgbFrame | undefined>();

/** Reads a PNG frame with the inference path's decoder (png.ts); undefined when it cannot. */
export function defaultReadFrame(path: string): RgbFrame | undefined {
  if (frameCache.has(path)) return frameCache.get(path);
  let img: RgbFrame | undefined;
  try {
    img = decodePngRgb(readFileSync(path), path);
  } catch {
    img = undefined;
  }
  if (frameCache.size > 64) frameCache.clear();
  frameCache.set(path, img);
  return img;
}
