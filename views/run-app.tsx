/**
 * RunApp: the container of the run screen. Reads the live store with useSyncExternalStore,
 * dispatches keys through the binding table, answers gates through the broker.
 */
import React, { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { useInput, useApp, type Key } from 'ink';
import type { LiveStore } from '../src/store/live-store.js';
import type { GateBroker } from '../src/pipeline/gate-broker.js';
import type { LiveState } from '../src/pipeline/live-state.js';
import { RunScreen } from './run-screen.js';
import { lookup, type Mode } from './bindings.js';
import type { Theme } from './theme.js';
import { useTerminalSize } from './use-terminal-size.js';

export interface RunAppProps {
  store: LiveStore;
  broker: GateBroker;
  theme: Theme;
  actor: string;
  /** Stop the running steps (first Ctrl+C, or quit confirmed). */
  onCancel(): void;
  /** Exit at once (second Ctrl+C). */
  onForceQuit(): void;
  /** The person is done looking: unmount. */
  onQuit(): void;
  /** Fixed size for tests; the terminal's otherwise. */
  size?: { columns: number; rows: number };
}

/** Turns one Ink input callback into key names; a burst like "jjj" becomes three keys. */
export function keyNames(input: string, key: Key): string[] {
  if (key.ctrl && input === 'c') return ['ctrl+c'];
  if (key.escape) return ['escape'];
  if (key.tab) return ['tab'];
  if (key.return) return ['return'];
  // ink 6 reports 0x7F as key.delete; treat it as backspace
  if (key.backspace || key.delete) return ['backspace'];
  if (key.upArrow) return ['up'];
  if (key.downArrow) return ['down'];
  return [...input];
}

export function RunApp({ store, broker, theme, actor, onCancel, onForceQuit, onQuit, size }: RunAppProps) {
  const live = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const gates = useSyncExternalStore(broker.subscribe, broker.pending);
  const terminal = useTerminalSize();
  const { columns: width, rows: height } = size ?? terminal;
  const { exit } = useApp();
  const [frozen, setFrozen] = useState<LiveState | undefined>();
  const [targetIndex, setTargetIndex] = useState<number | undefined>(undefined);
  // Modal and reason live in refs as well as state: the keys of one burst ("x", then a typed
  // reason) are handled before React re-renders, and each must see the effect of the last.
  const [modal, setModalState] = useState<Mode | undefined>();
  const [reason, setReasonState] = useState('');
  const modalRef = useRef<Mode | undefined>(undefined);
  const reasonRef = useRef('');
  const setModal = (m: Mode | undefined) => {
    modalRef.current = m;
    setModalState(m);
  };
  const setReason = (update: string | ((r: string) => string)) => {
    reasonRef.current = typeof update === 'function' ? update(reasonRef.current) : update;
    setReasonState(reasonRef.current);
  };
  const [interrupts, setInterrupts] = useState(0);
  const [message, setMessage] = useState<string | undefined>();
  const [now, setNow] = useState(Date.now());
  const [viewChoice, setViewChoice] = useState<'latency' | 'slices' | undefined>();
  // Until the person chooses, show slices as soon as the evaluate step streams them.
  const hasSlices = Object.values(live.metrics).some((m) => m.name === 'coco.AP' && m.slice && m.ci);
  const view = viewChoice ?? (hasSlices ? 'slices' : 'latency');

  const active = live.runStatus === 'running' || live.runStatus === 'idle';
  const gate = gates[0];
  const mode: Mode = modal ?? (gate ? 'gate' : 'normal');

  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);

  useEffect(() => {
    if (!active && interrupts > 0) {
      onQuit();
      exit();
    }
  }, [active, interrupts]);

  useEffect(() => {
    if (!gate && (modal === 'reason' || modal === 'confirm-reject')) {
      setModal(undefined);
      setReason('');
    }
  }, [gate]);

  const quit = () => {
    onQuit();
    exit();
  };

  const act = (name: string) => {
    const mode: Mode = modalRef.current ?? (gate ? 'gate' : 'normal');
    const reason = reasonRef.current;
    if (mode === 'reason' && name !== 'escape' && name !== 'ctrl+c') {
      if (name === 'return') {
        if (reason.trim()) setModal('confirm-reject');
        else setMessage('a reason is required to reject a gate');
      } else if (name === 'backspace') setReason((r) => r.slice(0, -1));
      else if (name.length === 1) setReason((r) => r + name);
      return;
    }
    const action = lookup(mode, name);
    if (!action) return;
    setMessage(undefined);
    switch (action) {
      case 'interrupt':
        if (!active || interrupts >= 1) {
          if (active) onForceQuit();
          quit();
          return;
        }
        setInterrupts(1);
        setMessage('stopping the running steps... (Ctrl+C again to exit at once)');
        onCancel();
        return;
      case 'quit':
        if (active) setModal('confirm-quit');
        else quit();
        return;
      case 'freeze':
        setFrozen((f) => (f ? undefined : live));
        return;
      case 'toggle-view':
        setViewChoice(view === 'slices' ? 'latency' : 'slices');
        return;
      case 'next-target':
        setTargetIndex((i) => {
          const targets = Object.keys(live.latency);
          const cur = i ?? Math.max(0, targets.indexOf(live.activeTarget ?? ''));
          return cur + 1;
        });
        return;
      case 'approve':
        if (gate) broker.answer(gate.gate, { decision: 'approved', actor, reason: undefined });
        return;
      case 'reject':
        setReason('');
        setModal('reason');
        return;
      case 'yes':
        if (mode === 'confirm-quit') {
          setModal(undefined);
          setInterrupts(1);
          setMessage('stopping the running steps...');
          onCancel();
        } else if (mode === 'confirm-reject' && gate) {
          broker.answer(gate.gate, { decision: 'rejected', actor, reason: reason.trim() });
          setModal(undefined);
          setReason('');
        }
        return;
      case 'no':
      case 'back':
        setModal(mode === 'confirm-reject' ? 'reason' : undefined);
        return;
    }
  };

  // Ink may call a handler from an earlier render; always dispatch to the latest one.
  const actRef = useRef(act);
  actRef.current = act;
  useInput((input, key) => {
    for (const name of keyNames(input, key)) actRef.current(name);
  });

  const prompt =
    mode === 'confirm-quit'
      ? 'steps are running: stop them and quit? y / n'
      : !active && !message
        ? `run ${live.runStatus}; q to quit`
        : message;

  return (
    <RunScreen
      state={frozen ?? live}
      width={width}
      height={height}
      theme={theme}
      now={now}
      targetIndex={targetIndex}
      frozen={Boolean(frozen)}
      mode={mode}
      gate={gate}
      reason={reason}
      message={prompt}
      view={view}
    />
  );
}
