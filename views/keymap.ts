/**
 * One binding table drives key dispatch, the footer hints and the `?` help overlay (lazygit,
 * k9s). A binding applies in some input modes and, optionally, only on some screens; the first
 * match wins. Keys are names: a character, or "escape", "return", "tab", "up", "down",
 * "pageup", "pagedown", "home", "end", "left", "right", "backspace", "ctrl+c", "ctrl+u", "ctrl+w"; " " is the space bar.
 *
 * The global bindings are declared here; each screen brings its own and names the shared ones it
 * takes (screens/index.ts), and createKeymap() makes the one table of both.
 */

/** normal: browsing; help: the overlay; the text modes read a line; confirm asks y/n. */
export type InputMode = 'normal' | 'help' | 'command' | 'filter' | 'reason' | 'note' | 'confirm' | 'confirm-quit';
/** The modes in which keys are typed into a line. */
export const TEXT_MODES: readonly InputMode[] = ['command', 'filter', 'reason', 'note'];
/** Every mode. */
export const ALL_MODES: readonly InputMode[] = ['normal', 'help', ...TEXT_MODES, 'confirm', 'confirm-quit'];

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
  | 'page-up'
  | 'page-down'
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
  | 'print-path'
  | 'play'
  | 'frame-next'
  | 'frame-prev'
  | 'segment-start'
  | 'segment-end'
  | 'overlay'
  | 'file'
  | 'erase-char'
  | 'erase-word'
  | 'erase-line'
  | `go-${string}`;

/** The groups of the help overlay, in its order. */
export type HelpGroup = 'screens' | 'movement' | 'actions';

export interface Binding {
  keys: readonly string[];
  action: Action;
  hint: string;
  modes: readonly InputMode[];
  /** Only on these screens (all when absent). */
  screens?: readonly string[];
  /**
   * Shown in the footer: `true` while there is room (a screen's own kept longest, then the global
   * ones), `'spare'` only when every hint fits, `'always'` never dropped (`? help`, `q quit`).
   */
  footer?: boolean | 'always' | 'spare';
  /** The hint in the footer, where it is shorter than the help's: "sort" for "sort by the next column". */
  short?: string;
  /** How the keys are shown, where not each key's label joined by "/": "PgUp/PgDn". */
  label?: string;
}

const N: InputMode[] = ['normal'];
const HELP: InputMode[] = ['help'];

/** Bindings that several screens take by naming them: one line in the help lists every screen that has it. */
const SHARED = {
  open: { keys: ['return'], action: 'open', hint: 'open the selected row', short: 'open', modes: N, footer: true },
  sort: { keys: ['o'], action: 'sort', hint: 'sort by the next column', short: 'sort', modes: N, footer: true },
  reverse: { keys: ['O'], action: 'reverse', hint: 'reverse the order', modes: N },
  'next-pane': { keys: ['tab'], action: 'next-pane', hint: 'next latency target', short: 'next target', modes: N, footer: true },
  freeze: { keys: ['f'], action: 'freeze', hint: 'freeze or unfreeze the live data', short: 'freeze', modes: N, footer: true },
  expand: { keys: ['e'], action: 'expand', hint: 'expand or fold the pane in front', short: 'expand', modes: N },
  filter: { keys: ['/'], action: 'filter', hint: 'filter the list, or edit its filter', short: 'filter', modes: N, footer: true },
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

/** Answers and confirmations, the help's own keys, and the line editor's; these come first so that `n` means no when asked. */
const MODE_BINDINGS: readonly Binding[] = [
  { keys: ['y'], action: 'yes', hint: 'yes, when asked', short: 'yes', modes: ['confirm', 'confirm-quit'], footer: true },
  { keys: ['n', 'escape'], action: 'no', hint: 'no, when asked', short: 'no', modes: ['confirm', 'confirm-quit'], footer: true },
  { keys: ['escape', '?'], action: 'back', hint: 'close the help', short: 'close', modes: HELP, footer: true },
  // Each pair is one hint ("↑/↓ scroll") on the first of its two bindings.
  { keys: ['down'], action: 'down', hint: 'scroll the help', label: '↑/↓', short: 'scroll', modes: HELP, footer: true },
  { keys: ['up'], action: 'up', hint: 'scroll the help back', modes: HELP },
  { keys: ['pagedown'], action: 'page-down', hint: 'scroll the help by a page', label: 'PgUp/PgDn', short: 'page', modes: HELP, footer: true },
  { keys: ['pageup'], action: 'page-up', hint: 'scroll the help back by a page', modes: HELP },
  { keys: ['home'], action: 'top', hint: "the help's top", modes: HELP },
  { keys: ['end'], action: 'bottom', hint: "the help's end", modes: HELP },
  { keys: ['escape'], action: 'back', hint: 'cancel', modes: TEXT_MODES, footer: true },
  { keys: ['return'], action: 'open', hint: 'enter', modes: TEXT_MODES, footer: true },
  { keys: ['backspace'], action: 'erase-char', hint: 'erase a character', modes: [...TEXT_MODES, 'help'] },
  { keys: ['ctrl+w'], action: 'erase-word', hint: 'erase a word', modes: [...TEXT_MODES, 'help'] },
  { keys: ['ctrl+u'], action: 'erase-line', hint: 'erase the line', modes: [...TEXT_MODES, 'help'] },
];

const MOVES: readonly Binding[] = [
  { keys: ['j', 'down'], action: 'down', hint: 'down', modes: N },
  { keys: ['k', 'up'], action: 'up', hint: 'up', modes: N },
  { keys: ['g'], action: 'top', hint: 'top', modes: N },
  { keys: ['G'], action: 'bottom', hint: 'bottom', modes: N },
];

const GATE_KEYS: readonly Binding[] = [
  { keys: ['a'], action: 'approve', hint: 'approve the gate waiting (registry: the candidate, as the role selected)', short: 'approve', modes: N, footer: 'spare' },
  { keys: ['x'], action: 'reject', hint: 'reject the gate waiting, a reason is required (registry: the candidate)', short: 'reject', modes: N, footer: 'spare' },
];

const COMMAND_KEY: Binding = { keys: [':'], action: 'command', hint: 'type a command (listed below)', short: 'command', modes: N, footer: true };

const LAST: readonly Binding[] = [
  { keys: ['escape'], action: 'back', hint: 'back to the screen before', short: 'back', modes: N, footer: true },
  { keys: ['?'], action: 'help', hint: 'help', modes: N, footer: 'always' },
  { keys: ['q'], action: 'quit', hint: 'quit', modes: N, footer: 'always' },
  { keys: ['ctrl+c'], action: 'interrupt', hint: 'stop the run / exit', modes: ALL_MODES },
];

/** The `:` commands besides one per screen. */
const COMMANDS: readonly { name: string; hint: string }[] = [
  { name: 'sort', hint: 'sort the list shown by a column: :sort name (:sort lists them)' },
  { name: 'filter', hint: 'filter the list shown: :filter night' },
  { name: 'quit', hint: 'quit (also :q)' },
];

/** The help group of an action: screens (keys that show one), movement (within one), actions. */
export function helpGroupOf(action: Action): HelpGroup {
  if (action.startsWith('go-') || action === 'open' || action === 'back') return 'screens';
  if (['up', 'down', 'top', 'bottom', 'page-up', 'page-down', 'next-failure', 'prev-failure', 'next-pane', 'frame-next', 'frame-prev', 'segment-start', 'segment-end'].includes(action)) return 'movement';
  return 'actions';
}

/** One group of the help overlay: its title and its lines. */
export interface HelpSection {
  title: string;
  lines: string[];
}

const HELP_TITLES: Record<HelpGroup | 'commands', string> = {
  screens: 'SCREENS',
  movement: 'MOVEMENT',
  actions: 'ACTIONS',
  commands: 'COMMANDS (: then the name, Enter)',
};

/** The binding table of a set of screens, and what is read from it. */
export interface Keymap {
  /** Every binding, in the order the footer and the help show them. */
  bindings: readonly Binding[];
  /** The `:` commands: one per screen, then the others. */
  commands: readonly { name: string; hint: string }[];
  /** The action of a key in a mode on a screen. */
  lookup(mode: InputMode, screen: string, key: string): Action | undefined;
  /**
   * Footer hints for a mode and screen, as many as fit in `width` columns (all without it):
   * "Enter open · / filter · ? help · q quit". The `'always'` ones stay, the others go first:
   * the spare ones, then the global ones, then the screen's own, the last first.
   */
  footerHints(mode: InputMode, screen: string, unicode?: boolean, width?: number): string;
  /** The help overlay's groups (screens, movement, actions, `:` commands), lines filtered by a word; the same from every screen, each binding with the screens it applies on. */
  helpSections(filter?: string, unicode?: boolean): HelpSection[];
  /** helpSections() as lines, each group's title before its lines. */
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
  const helpSections = (filter = '', unicode = true): HelpSection[] => {
    const f = filter.toLowerCase();
    const seen = new Set<string>();
    const groups: Record<HelpGroup, string[]> = { screens: [], movement: [], actions: [] };
    for (const b of bindings) {
      // The help's and the line editor's own keys are in the footer while they apply.
      if (!b.modes.includes('normal') && !b.modes.includes('confirm')) continue;
      const line = `${keysLabel(b, unicode).padEnd(10)} ${b.hint}${b.screens ? ` (${b.screens.join(', ')})` : ''}`;
      if (seen.has(line) || (f && !line.toLowerCase().includes(f))) continue;
      seen.add(line);
      groups[helpGroupOf(b.action)].push(line);
    }
    const cmds = commands.map((c) => `:${c.name.padEnd(9)} ${c.hint}`).filter((l) => !f || l.toLowerCase().includes(f));
    return [...(Object.keys(groups) as HelpGroup[]).map((g) => ({ title: HELP_TITLES[g], lines: groups[g] })), { title: HELP_TITLES.commands, lines: cmds }].filter((s) => s.lines.length);
  };
  return {
    bindings,
    commands,
    lookup: (mode, screen, key) => bindings.find((b) => applies(b, mode, screen) && b.keys.includes(key))?.action,
    footerHints(mode, screen, unicode = true, width = Infinity) {
      const sep = unicode ? ' · ' : ' | ';
      const seen = new Set<Action>();
      const hints = bindings
        .filter((b) => b.footer && applies(b, mode, screen))
        .filter((b) => (seen.has(b.action) ? false : (seen.add(b.action), true)))
        .map((b, order) => ({ text: `${footerLabel(b, unicode)} ${b.short ?? b.hint}`, order, rank: b.footer === 'always' ? 3 : b.footer === 'spare' ? 0 : b.screens ? 2 : 1 }));
      const kept = new Set(hints);
      const text = () => hints.filter((h) => kept.has(h)).map((h) => h.text).join(sep);
      if (text().length <= width) return text();
      // The spare ones go together (a without x would read oddly); then the rest, the lowest rank and the last first.
      for (const h of hints) if (h.rank === 0) kept.delete(h);
      for (const h of hints.filter((x) => x.rank === 1 || x.rank === 2).sort((a, b) => a.rank - b.rank || b.order - a.order)) {
        if (text().length <= width) break;
        kept.delete(h);
      }
      return text();
    },
    helpSections,
    helpLines: (_screen, filter = '', unicode = true) => helpSections(filter, unicode).flatMap((s) => [s.title, ...s.lines]),
  };
}

/**
 * How a key name is shown: "Esc", "Enter", "Tab", "Ctrl+C", "PgDn", "j"; arrows as "up"/"down"
 * without Unicode; the space bar as "␣" ("Space" in ASCII; a binding's `label` may say "Space").
 */
export function keyLabel(key: string, unicode = true): string {
  const named: Record<string, string> = {
    escape: 'Esc',
    return: 'Enter',
    tab: 'Tab',
    backspace: 'Backspace',
    pageup: 'PgUp',
    pagedown: 'PgDn',
    home: 'Home',
    end: 'End',
    up: unicode ? '↑' : 'up',
    down: unicode ? '↓' : 'down',
    left: unicode ? '←' : 'left',
    right: unicode ? '→' : 'right',
    ' ': unicode ? '␣' : 'Space',
  };
  if (named[key]) return named[key];
  const ctrl = /^ctrl\+(.)$/.exec(key);
  return ctrl ? `Ctrl+${ctrl[1].toUpperCase()}` : key;
}

/** A binding's keys as the help shows them: "j/↓", "n/Esc", "PgUp/PgDn". */
export function keysLabel(b: Pick<Binding, 'keys' | 'label'>, unicode = true): string {
  return ascii(b.label ?? b.keys.map((k) => keyLabel(k, unicode)).join('/'), unicode);
}

/** A binding's keys as the footer shows them: the first key, or the label. */
function footerLabel(b: Binding, unicode: boolean): string {
  return ascii(b.label ?? keyLabel(b.keys[0], unicode), unicode);
}

function ascii(label: string, unicode: boolean): string {
  return unicode ? label : label.replace(/↑/g, 'up').replace(/↓/g, 'down').replace(/←/g, 'left').replace(/→/g, 'right').replace(/␣/g, 'Space');
}
