/**
 * docs/workbench.md against what the workbench does: its keys against the binding table
 * (views/keymap.ts with the screen table, views/screens/index.ts), per screen and overall; its
 * `:` commands and sort columns against the table's; its redraw rate against the frame rate
 * views/start.tsx renders with (docs/usage.md's too); its help example against the help's layout
 * at 80x24; and no file it names missing, no issue number. A key is what the page writes in
 * backticks as a single character or a key's name (`Enter`, `Ctrl+W`, `PgDn`).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEYMAP, SCREEN_TABLE } from '../../views/screens/index.js';
import type { ScreenEntry } from '../../views/screens/screen.js';
import { keyLabel, ALL_MODES } from '../../views/keymap.js';
import { helpPage, helpRows } from '../../views/screens/help.js';
import { ROOT } from '../helpers/fixtures.js';

const DOC_PATH = join(ROOT, 'docs', 'workbench.md');
const doc = readFileSync(DOC_PATH, 'utf8');
const TABLE: readonly ScreenEntry[] = SCREEN_TABLE;

/** The binding table's key names by the label the page writes: "Enter" -> "return", "↓" -> "down". */
const KEY_BY_LABEL = new Map(KEYMAP.bindings.flatMap((b) => b.keys).map((k) => [keyLabel(k), k]));
const NAMED = /^(Enter|Esc|Tab|Backspace|Home|End|PgUp|PgDn|Ctrl\+[A-Z])$/;

/** The keys a piece of the page names: backticked single characters and key names. */
function keysIn(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]).filter((t) => [...t].length === 1 || NAMED.test(t));
}

/** The text of a `## ` section. */
function section(title: string): string {
  const m = new RegExp(`^## ${title}\\n([\\s\\S]*?)(?=^## |(?![\\s\\S]))`, 'm').exec(doc);
  if (!m) throw new Error(`docs/workbench.md has no "## ${title}" section`);
  return m[1];
}

/** The rows of the Screens table: key, screen, what it says. */
const screenRows = section('Screens')
  .split('\n')
  .filter((l) => /^\| `/.test(l))
  .map((l) => {
    const [, key, screen, what] = l.split('|').map((c) => c.trim());
    return { key: key.replace(/`/g, ''), screen, what };
  });

/** Whether `label` is bound on `screen` in some mode. */
const boundOn = (label: string, screen: string) => {
  const key = KEY_BY_LABEL.get(label);
  return key !== undefined && ALL_MODES.some((m) => KEYMAP.lookup(m, screen, key) !== undefined);
};

describe('docs/workbench.md', () => {
  it('has a row per screen of the screen table, with its key', () => {
    expect(screenRows.map((r) => [r.key, r.screen])).toEqual(TABLE.map((s) => [s.key, s.id]));
  });

  it.each(TABLE.map((s) => [s.id, s] as const))('the %s row names every key that screen has of its own, and only keys bound there', (id, s) => {
    const row = screenRows.find((r) => r.screen === id)!;
    const named = keysIn(row.what);
    for (const label of named) expect(boundOn(label, id), `the ${id} row names \`${label}\`, which is not bound on ${id}`).toBe(true);
    for (const b of KEYMAP.bindings.filter((x) => x.screens?.includes(id))) {
      expect(b.keys.some((k) => named.includes(keyLabel(k))), `the ${id} row does not name ${b.keys.map((k) => keyLabel(k)).join('/')} (${b.hint})`).toBe(true);
    }
  });

  it.each(TABLE.filter((s) => s.rows?.sorts).map((s) => [s.id, s.rows!.sorts!] as const))('the %s row lists its sort columns in the order o steps through them', (id, sorts) => {
    expect(screenRows.find((r) => r.screen === id)!.what).toContain(`(${sorts.join(', ')})`);
  });

  it('names every key of the binding table, and no key the table does not have', () => {
    const named = new Set(keysIn(doc));
    for (const b of KEYMAP.bindings) for (const k of b.keys) expect(named.has(keyLabel(k)), `\`${keyLabel(k)}\` (${b.hint}) is not in docs/workbench.md`).toBe(true);
    for (const label of named) expect(KEY_BY_LABEL.has(label), `docs/workbench.md names \`${label}\`, which no binding has`).toBe(true);
  });

  it('names every : command, and no command the table does not have', () => {
    const named = new Set([...doc.matchAll(/`:([a-z]+)[^`]*`/g)].map((m) => m[1]));
    const commands = [...KEYMAP.commands.map((c) => c.name), 'q'];
    for (const c of KEYMAP.commands) expect(named.has(c.name), `:${c.name} is not in docs/workbench.md`).toBe(true);
    for (const c of named) expect(commands, `docs/workbench.md names :${c}`).toContain(c);
  });

  it('describes the help as it is at 80x24: its groups, its pages', () => {
    const help = section('Keys');
    const sections = KEYMAP.helpSections();
    for (const s of sections) expect(help.toLowerCase()).toContain(s.title.split(' ')[0].toLowerCase());
    // At 80x24 without a gate banner the body has 24 - 1 - 2 rows (header and footer), the help's title one of them.
    const page = helpPage(24 - 1 - 2);
    const rows = helpRows(sections, 80).length;
    const words = ['one', 'two', 'three', 'four', 'five'];
    expect(help).toMatch(new RegExp(`takes ${words[Math.ceil(rows / page) - 1]} pages of ${page} lines`));
  });

  it('gives the redraw rate views/start.tsx renders with, as docs/usage.md does', () => {
    const start = readFileSync(join(ROOT, 'views', 'start.tsx'), 'utf8');
    const m = /FRAME_HZ\s*=\s*Math\.max\((\d+),\s*Math\.min\((\d+),\s*Number\(process\.env\.PADDOCK_FPS\)\s*\|\|\s*(\d+)\)\)/.exec(start);
    expect(m, 'views/start.tsx: FRAME_HZ = Math.max(lo, Math.min(hi, Number(process.env.PADDOCK_FPS) || default))').not.toBeNull();
    const [lo, hi, rate] = m!.slice(1).map(Number);
    expect(doc).toMatch(new RegExp(`redraws are capped at ${rate} per second \\(\`PADDOCK_FPS\` sets\\s+another rate, ${lo} to ${hi}\\)`));
    expect([...doc.matchAll(/(\d+) (?:per second|times a second|\/s)\b/g)].map((x) => Number(x[1])).filter((n) => n !== 10_000)).toEqual([rate]);
    const usage = readFileSync(join(ROOT, 'docs', 'usage.md'), 'utf8');
    expect(/redrawn at most (\d+) times a second/.exec(usage)?.[1], 'docs/usage.md: "redrawn at most N times a second"').toBe(String(rate));
  });

  it('names only files that are in the repository, and no issue numbers', () => {
    const files = [...doc.matchAll(/(?<![\w/.-])((?:[\w.-]+\/)*[\w-]+\.(?:md|ts|tsx|mjs|js|json|ya?ml))\b/g)].map((m) => m[1]);
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) expect(existsSync(join(ROOT, f)) || existsSync(join(ROOT, 'docs', f)), `docs/workbench.md names ${f}, which is not in the repository`).toBe(true);
    expect(doc).not.toMatch(/\bissues? #?\d+|(?<![\w&])#\d+\b/i);
  });
});
