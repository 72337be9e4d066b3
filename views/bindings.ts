/**
 * One binding table drives key dispatch, the footer hints and help. Bindings are looked up
 * in order; `when` limits one to a mode.
 */
export type Mode = 'normal' | 'gate' | 'reason' | 'confirm-reject' | 'confirm-quit';

export type Action =
  | 'quit'
  | 'interrupt'
  | 'freeze'
  | 'next-target'
  | 'toggle-view'
  | 'approve'
  | 'reject'
  | 'yes'
  | 'no'
  | 'back';

export interface Binding {
  keys: string[];
  action: Action;
  hint: string;
  modes: Mode[];
  /** Shown in the footer. */
  footer?: boolean;
}

export const BINDINGS: Binding[] = [
  { keys: ['a'], action: 'approve', hint: 'approve gate', modes: ['gate'], footer: true },
  { keys: ['x'], action: 'reject', hint: 'reject gate', modes: ['gate'], footer: true },
  { keys: ['y'], action: 'yes', hint: 'yes', modes: ['confirm-reject', 'confirm-quit'], footer: true },
  { keys: ['n', 'escape'], action: 'no', hint: 'no', modes: ['confirm-reject', 'confirm-quit'], footer: true },
  { keys: ['escape'], action: 'back', hint: 'back', modes: ['reason'], footer: true },
  { keys: ['tab'], action: 'next-target', hint: 'next target', modes: ['normal', 'gate'], footer: true },
  { keys: ['s'], action: 'toggle-view', hint: 'slices/latency', modes: ['normal', 'gate'], footer: true },
  { keys: ['f'], action: 'freeze', hint: 'freeze', modes: ['normal', 'gate'], footer: true },
  { keys: ['q'], action: 'quit', hint: 'quit', modes: ['normal', 'gate'], footer: true },
  { keys: ['ctrl+c'], action: 'interrupt', hint: 'stop', modes: ['normal', 'gate', 'reason', 'confirm-reject', 'confirm-quit'], footer: true },
];

/** Finds the action of a key name in a mode. */
export function lookup(mode: Mode, key: string): Action | undefined {
  return BINDINGS.find((b) => b.modes.includes(mode) && b.keys.includes(key))?.action;
}

/** Footer text for a mode: "a approve gate · x reject gate · q quit". */
export function footerHints(mode: Mode, unicode = true): string {
  const sep = unicode ? ' · ' : ' | ';
  return BINDINGS.filter((b) => b.footer && b.modes.includes(mode))
    .map((b) => `${b.keys[0] === 'ctrl+c' ? 'Ctrl+C' : b.keys[0] === 'escape' ? 'Esc' : b.keys[0] === 'tab' ? 'Tab' : b.keys[0]} ${b.hint}`)
    .join(sep);
}
