/**
 * One binding table drives key dispatch, the footer hints and the `?` help overlay (lazygit,
 * k9s). A binding applies in some input modes and, optionally, only on some screens; the first
 * match wins. Keys are names: a character, or "escape", "return", "tab", "up", "down",
 * "backspace", "ctrl+c".
 *
 * The global bindings are declared here; each screen brings its own and names the shared ones it
 * takes (screens/index.ts), and createKeymap() makes the one table of both.
 */

/** normal: browsing; help: the overlay; the text modes read a line; confirm asks y/n. */
export type InputMode = 'normal' | 'help' | 'command' | 'filter' | 'reason' | 'note' | 'confirm' | 'confirm-quit';
/** The modes in which keys are typed into a line. */
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
  | 'expand'
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
  | `go-${string}`;

export interface Binding {
  keys: readonly string[];
  action: Action;
  hint: string;
  modes: readonly InputMode[];
  /** Only on these screens (all when absent). */
  screens?: readonly string[];
  /** Shown in the footer (the help overlay shows every binding). */
  footer?: boolean;
}

const N: InputMode[] = ['normal'];
const NH: InputMode[] = ['normal', 'help'];

/** Bindings that several screens take by naming them: one line in the help lists every screen that has it. */
const SHARED = {
  open: { keys: ['return'], action: 'open', hint: 'open', modes: N, footer: true },
  sort: { keys: ['o'], action: 'sort', hint: 'sort by next column', modes: N, footer: true },
  reverse: { keys: ['O'], action: 'reverse', hint: 'reverse the order', modes: N },
  'next-pane': { keys: ['tab'], action: 'next-pane', hint: 'next target', modes: N, footer: true },
  freeze: { keys: ['f'], action: 'freeze', hint: 'freeze live data', modes: N, footer: true },
  expand: { keys: ['e'], action: 'expand', hint: 'expand the pane in front', modes: N },
  filter: { keys: ['/'], action: 'filter', hint: 'filter', modes: N, footer: true },
} as const satisfies Record<string, Binding>;

/** A shared binding a screen takes by its name. */
export type SharedBinding = keyof typeof SHARED;

/** What a screen lists as its bindings: shared ones by name, and its own (which apply on it alone). */
export type ScreenBinding = SharedBinding | Omit<Binding, 'screens'>;

/** What the binding table needs of a screen: its id, the key that shows it, and its bindings. */
export interface ScreenKeys {
  id: string;
  /** The key that shows the screen: "1". */
  key: string;
  /** The key's line in the help: "run: steps". */
  title: string;
  /** The `:id` command's line in the help: "the run history". */
  about: string;
  bindings: readonly ScreenBinding[];
}

/** Answers and confirmations, and the line editor's ends; these come first so that `n` means no when asked. */
const MODE_BINDINGS: readonly Binding[] = [
  { keys: ['y'], action: 'yes', hint: 'yes', modes: ['confirm', 'confirm-quit'], footer: true },
  { keys: ['n', 'escape'], action: 'no', hint: 'no', modes: ['confirm', 'confirm-quit'], footer: true },
  { keys: ['escape'], action: 'back', hint: 'cancel', modes: ['command', 'filter', 'reason', 'note', 'help'], footer: true },
  { keys: ['return'], action: 'open', hint: 'enter', modes: ['command', 'filter', 'reason', 'note'], footer: true },
];

const MOVES: readonly Binding[] = [
  { keys: ['j', 'down'], action: 'down', hint: 'down', modes: NH, footer: false },
  { keys: ['k', 'up'], action: 'up', hint: 'up', modes: NH, footer: false },
  { keys: ['g'], action: 'top', hint: 'top', modes: N },
  { keys: ['G'], action: 'bottom', hint: 'bottom', modes: N },
];

const GATE_KEYS: readonly Binding[] = [
  { keys: ['a'], action: 'approve', hint: 'approve gate', modes: N, footer: true },
  { keys: ['x'], action: 'reject', hint: 'reject gate', modes: N, footer: true },
];

const COMMAND_KEY: Binding = { keys: [':'], action: 'command', hint: 'command', modes: N, footer: true };

const LAST: readonly Binding[] = [
  { keys: ['escape'], action: 'back', hint: 'back', modes: N, footer: true },
  { keys: ['?'], action: 'help', hint: 'help', modes: N, footer: true },
  { keys: ['q'], action: 'quit', hint: 'quit', modes: N, footer: true },
  { keys: ['ctrl+c'], action: 'interrupt', hint: 'stop the run / exit', modes: ['normal', 'help', 'command', 'filter', 'reason', 'note', 'confirm', 'confirm-quit'] },
];

/** The `:` commands besides one per screen. */
const COMMANDS: readonly { name: string; hint: string }[] = [
  { name: 'sort', hint: 'sort by a column: :sort delta | ap | p | n | name' },
  { name: 'filter', hint: 'filter the list: :filter night' },
  { name: 'quit', hint: 'quit (also :q)' },
];

/** The binding table of a set of screens, and what is read from it. */
export interface Keymap {
  /** Every binding, in the order the footer and the help show them. */
  bindings: readonly Binding[];
  /** The `:` commands: one per screen, then the others. */
  commands: readonly { name: string; hint: string }[];
  /** The action of a key in a mode on a screen. */
  lookup(mode: InputMode, screen: string, key: string): Action | undefined;
  /** Footer hints for a mode and screen: "Enter open · / filter · q quit". */
  footerHints(mode: InputMode, screen: string, unicode?: boolean): string;
  /** Lines of the help overlay, optionally filtered by a word; the same list from every screen, each binding with the screens it applies on. */
  helpLines(screen: string, filter?: string, unicode?: boolean): string[];
}

/**
 * The one table for `screens` (in tab order): answers first, then moving, then what the screens
 * add, then the global keys, one key per screen, Esc, ?, q.
 */
export function createKeymap(screens: readonly ScreenKeys[]): Keymap {
  const shared = (name: SharedBinding): Binding[] => {
    const on = screens.filter((s) => s.bindings.includes(name)).map((s) => s.id);
    return on.length ? [{ ...SHARED[name], screens: on }] : [];
  };
  const own = screens.flatMap((s) => s.bindings.filter((b) => typeof b !== 'string').map((b): Binding => ({ ...b, screens: [s.id] })));
  const go = screens.map((s): Binding => ({ keys: [s.key], action: `go-${s.id}`, hint: s.title, modes: N }));
  const bindings: Binding[] = [
    ...MODE_BINDINGS,
    ...MOVES,
    ...shared('open'),
    ...own,
    ...shared('sort'),
    ...shared('reverse'),
    ...shared('next-pane'),
    ...shared('freeze'),
    ...shared('expand'),
    ...GATE_KEYS,
    ...shared('filter'),
    COMMAND_KEY,
    ...go,
    ...LAST,
  ];
  const commands = [...screens.map((s) => ({ name: s.id, hint: s.about })), ...COMMANDS];
  const applies = (b: Binding, mode: InputMode, screen: string) => b.modes.includes(mode) && (!b.screens || b.screens.includes(screen));
  return {
    bindings,
    commands,
    lookup: (mode, screen, key) => bindings.find((b) => applies(b, mode, screen) && b.keys.includes(key))?.action,
    footerHints(mode, screen, unicode = true) {
      const seen = new Set<Action>();
      return bindings
        .filter((b) => b.footer && applies(b, mode, screen))
        .filter((b) => (seen.has(b.action) ? false : (seen.add(b.action), true)))
        .map((b) => `${keyLabel(b.keys[0])} ${b.hint}`)
        .join(unicode ? ' · ' : ' | ');
    },
    helpLines(_screen, filter = '', unicode = true) {
      const f = filter.toLowerCase();
      const seen = new Set<string>();
      const lines: string[] = [];
      for (const b of bindings) {
        if (!b.modes.includes('normal') && !b.modes.includes('confirm')) continue;
        const keys = b.keys.map((k) => (unicode ? keyLabel(k) : keyLabel(k).replace('↑', 'up').replace('↓', 'down'))).join('/');
        const line = `${keys.padEnd(10)} ${b.hint}${b.screens ? ` (${b.screens.join(', ')})` : ''}`;
        if (seen.has(line) || (f && !line.toLowerCase().includes(f))) continue;
        seen.add(line);
        lines.push(line);
      }
      lines.push(...commands.map((c) => `:${c.name.padEnd(9)} ${c.hint}`).filter((l) => !f || l.toLowerCase().includes(f)));
      return lines;
    },
  };
}

/** How a key name is shown: "Esc", "Enter", "Tab", "Ctrl+C", "j". */
export function keyLabel(key: string): string {
  return ({ escape: 'Esc', return: 'Enter', tab: 'Tab', 'ctrl+c': 'Ctrl+C', up: '↑', down: '↓' } as Record<string, string>)[key] ?? key;
}
