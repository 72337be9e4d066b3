/**
 * One binding table drives key dispatch, the footer hints and the `?` help overlay (lazygit,
 * k9s). A binding applies in some input modes and, optionally, only on some screens; the first
 * match wins. Keys are names: a character, or "escape", "return", "tab", "up", "down",
 * "backspace", "ctrl+c".
 */
export type Screen = 'runs' | 'run' | 'latency' | 'slices' | 'failures' | 'gates';
export const SCREENS: readonly Screen[] = ['runs', 'run', 'latency', 'slices', 'failures', 'gates'];

/** normal: browsing; help: the overlay; the text modes read a line; confirm asks y/n. */
export type InputMode = 'normal' | 'help' | 'command' | 'filter' | 'reason' | 'note' | 'confirm' | 'confirm-quit';
export const TEXT_MODES: readonly InputMode[] = ['command', 'filter', 'reason', 'note'];

export type Action =
  | 'quit'
  | 'interrupt'
  | 'back'
  | 'help'
  | 'command'
  | 'filter'
  | 'up'
  | 'down'
  | 'top'
  | 'bottom'
  | 'open'
  | 'next-pane'
  | 'freeze'
  | 'approve'
  | 'reject'
  | 'yes'
  | 'no'
  | 'sort'
  | 'reverse'
  | 'next-failure'
  | 'prev-failure'
  | 'reviewed'
  | 'note'
  | `go-${Screen}`;

export interface Binding {
  keys: readonly string[];
  action: Action;
  hint: string;
  modes: readonly InputMode[];
  /** Only on these screens (all when absent). */
  screens?: readonly Screen[];
  /** Shown in the footer (the help overlay shows every binding). */
  footer?: boolean;
}

const N: InputMode[] = ['normal'];
const NH: InputMode[] = ['normal', 'help'];

export const BINDINGS: readonly Binding[] = [
  { keys: ['y'], action: 'yes', hint: 'yes', modes: ['confirm', 'confirm-quit'], footer: true },
  { keys: ['n', 'escape'], action: 'no', hint: 'no', modes: ['confirm', 'confirm-quit'], footer: true },
  { keys: ['escape'], action: 'back', hint: 'cancel', modes: ['command', 'filter', 'reason', 'note', 'help'], footer: true },
  { keys: ['return'], action: 'open', hint: 'enter', modes: ['command', 'filter', 'reason', 'note'], footer: true },
  { keys: ['j', 'down'], action: 'down', hint: 'down', modes: NH, footer: false },
  { keys: ['k', 'up'], action: 'up', hint: 'up', modes: NH, footer: false },
  { keys: ['g'], action: 'top', hint: 'top', modes: N },
  { keys: ['G'], action: 'bottom', hint: 'bottom', modes: N },
  { keys: ['return'], action: 'open', hint: 'open', modes: N, screens: ['runs', 'slices', 'failures'], footer: true },
  { keys: ['n'], action: 'next-failure', hint: 'next failure', modes: N, screens: ['failures'], footer: true },
  { keys: ['N'], action: 'prev-failure', hint: 'previous failure', modes: N, screens: ['failures'] },
  { keys: ['m'], action: 'reviewed', hint: 'mark reviewed', modes: N, screens: ['failures'], footer: true },
  { keys: ['i'], action: 'note', hint: 'add a note', modes: N, screens: ['failures'], footer: true },
  { keys: ['o'], action: 'sort', hint: 'sort by next column', modes: N, screens: ['slices', 'failures', 'runs'], footer: true },
  { keys: ['O'], action: 'reverse', hint: 'reverse the order', modes: N, screens: ['slices', 'failures', 'runs'] },
  { keys: ['tab'], action: 'next-pane', hint: 'next target', modes: N, screens: ['latency', 'run'], footer: true },
  { keys: ['f'], action: 'freeze', hint: 'freeze live data', modes: N, screens: ['latency', 'run', 'slices'], footer: true },
  { keys: ['a'], action: 'approve', hint: 'approve gate', modes: N, footer: true },
  { keys: ['x'], action: 'reject', hint: 'reject gate', modes: N, footer: true },
  { keys: ['/'], action: 'filter', hint: 'filter', modes: N, screens: ['runs', 'slices', 'failures'], footer: true },
  { keys: [':'], action: 'command', hint: 'command', modes: N, footer: true },
  { keys: ['1'], action: 'go-runs', hint: 'runs', modes: N },
  { keys: ['2'], action: 'go-run', hint: 'run: steps', modes: N },
  { keys: ['3'], action: 'go-latency', hint: 'latency', modes: N },
  { keys: ['4'], action: 'go-slices', hint: 'slices', modes: N },
  { keys: ['5'], action: 'go-failures', hint: 'failures', modes: N },
  { keys: ['6'], action: 'go-gates', hint: 'gates', modes: N },
  { keys: ['escape'], action: 'back', hint: 'back', modes: N, footer: true },
  { keys: ['?'], action: 'help', hint: 'help', modes: N, footer: true },
  { keys: ['q'], action: 'quit', hint: 'quit', modes: N, footer: true },
  { keys: ['ctrl+c'], action: 'interrupt', hint: 'stop the run / exit', modes: ['normal', 'help', 'command', 'filter', 'reason', 'note', 'confirm', 'confirm-quit'] },
];

/** The action of a key in a mode on a screen. */
export function lookup(mode: InputMode, screen: Screen, key: string, table: readonly Binding[] = BINDINGS): Action | undefined {
  return table.find((b) => b.modes.includes(mode) && (!b.screens || b.screens.includes(screen)) && b.keys.includes(key))?.action;
}

/** How a key name is shown: "Esc", "Enter", "Tab", "Ctrl+C", "j". */
export function keyLabel(key: string): string {
  return ({ escape: 'Esc', return: 'Enter', tab: 'Tab', 'ctrl+c': 'Ctrl+C', up: '↑', down: '↓' } as Record<string, string>)[key] ?? key;
}

/** Footer hints for a mode and screen: "Enter open · / filter · q quit". */
export function footerHints(mode: InputMode, screen: Screen, unicode = true): string {
  const sep = unicode ? ' · ' : ' | ';
  const seen = new Set<Action>();
  return BINDINGS.filter((b) => b.footer && b.modes.includes(mode) && (!b.screens || b.screens.includes(screen)))
    .filter((b) => (seen.has(b.action) ? false : (seen.add(b.action), true)))
    .map((b) => `${keyLabel(b.keys[0])} ${b.hint}`)
    .join(sep);
}

/** Lines of the help overlay, from the same table, optionally filtered by a word. */
export function helpLines(screen: Screen, filter = '', unicode = true): string[] {
  const f = filter.toLowerCase();
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const b of BINDINGS) {
    if (!b.modes.includes('normal') && !b.modes.includes('confirm')) continue;
    const keys = b.keys.map((k) => (unicode ? keyLabel(k) : keyLabel(k).replace('↑', 'up').replace('↓', 'down'))).join('/');
    const where = b.screens ? ` (${b.screens.join(', ')})` : '';
    const line = `${keys.padEnd(10)} ${b.hint}${where}${b.screens && !b.screens.includes(screen) ? '' : ''}`;
    if (seen.has(line) || (f && !line.toLowerCase().includes(f))) continue;
    seen.add(line);
    lines.push(line);
  }
  lines.push(...COMMANDS.map((c) => `:${c.name.padEnd(9)} ${c.hint}`).filter((l) => !f || l.toLowerCase().includes(f)));
  return lines;
}

/** The `:` commands. */
export const COMMANDS: readonly { name: string; hint: string }[] = [
  { name: 'runs', hint: 'the run history' },
  { name: 'run', hint: 'open a run by id or prefix: :run r-2026' },
  { name: 'latency', hint: 'latency, candidate next to production' },
  { name: 'slices', hint: 'the slice table' },
  { name: 'failures', hint: 'failures; :failures kind=lost-object class=pedestrian slice=night' },
  { name: 'gates', hint: 'gates, verdicts, approvals' },
  { name: 'sort', hint: 'sort by a column: :sort delta | ap | p | n | name' },
  { name: 'filter', hint: 'filter the list: :filter night' },
  { name: 'quit', hint: 'quit (also :q)' },
];
