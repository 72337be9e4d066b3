/**
 * What a table keeps when the terminal is narrow. Each column declares how far it may shrink
 * (cut with an ellipsis) and in which order, and whether it may be dropped and in which order;
 * a column that declares neither keeps its width whatever happens (denominators, verdicts,
 * marks). fitColumns() lays the columns out in a width: every column at the width it wants;
 * when that is too wide, the shrinkable ones give up room (lowest `shrink` first) down to their
 * `min`; when that is not enough, the droppable ones go (lowest `drop` first) and the rest are
 * laid out again from the widths they want. Whatever was cut or dropped is shown whole in the
 * screen's detail lines for the selected row (wrapText). Pure: strings in, strings out.
 *
 * The same policy for a line made of parts (a title, a legend, a prompt): fitParts() drops the
 * droppable parts first and keeps the others whole.
 */
import { clip } from './theme.js';

export interface ColumnSpec {
  /** Names the column in `dropped`. */
  id: string;
  header: string;
  /** The widest it is shown; its widest cell or header when absent. */
  max?: number;
  /** The narrowest it may be cut to; absent: it never shrinks. */
  min?: number;
  /** Of the columns that shrink, the lower numbers give up room first (default 0). */
  shrink?: number;
  /** It may be dropped when shrinking is not enough: the lower numbers go first. Absent: never dropped. */
  drop?: number;
  /** Numbers are right-aligned. */
  align?: 'left' | 'right';
}

export interface ColumnLayout {
  spec: ColumnSpec;
  /** Its position in the specs (and so in each row's cells). */
  index: number;
  width: number;
}

export interface TableLayout {
  /** The columns shown, in order, with their widths. */
  columns: ColumnLayout[];
  /** The ids of the columns left out, in the order they went. */
  dropped: string[];
  /** Columns between columns. */
  gap: number;
  /** Every column kept at its smallest and the line still does not fit: it is cut at the end. */
  overflow: boolean;
}

/** The width a column wants: its widest cell or header, at most its max. */
function wanted(spec: ColumnSpec, index: number, rows: readonly (readonly string[])[]): number {
  const widest = Math.max(spec.header.length, ...rows.map((r) => (r[index] ?? '').length));
  return spec.max !== undefined ? Math.min(spec.max, widest) : widest;
}

/**
 * Lays out `specs` for `rows` (each row its cells, in the specs' order) in `width` columns.
 * SLICE (min 6), AP and FRAMES (right-aligned, neither shrinks) for the row
 * ["night+rain+pedestrian", "0.057", "40"] in 20 columns: "night+… 0.057     40".
 */
export function fitColumns(specs: readonly ColumnSpec[], rows: readonly (readonly string[])[], width: number, gap = 1): TableLayout {
  const droppable = specs.map((s, i) => ({ s, i })).filter((x) => x.s.drop !== undefined).sort((a, b) => a.s.drop! - b.s.drop! || b.i - a.i);
  const want = specs.map((s, i) => wanted(s, i, rows));
  const dropped: string[] = [];
  for (let k = 0; ; k++) {
    const gone = new Set(droppable.slice(0, k).map((x) => x.i));
    const shown = specs.map((spec, index) => ({ spec, index, width: want[index] })).filter((c) => !gone.has(c.index));
    let excess = shown.reduce((n, c) => n + c.width, 0) + gap * Math.max(0, shown.length - 1) - width;
    const shrinkers = shown.filter((c) => c.spec.min !== undefined).sort((a, b) => (a.spec.shrink ?? 0) - (b.spec.shrink ?? 0) || b.index - a.index);
    for (const c of shrinkers) {
      if (excess <= 0) break;
      const give = Math.min(excess, Math.max(0, c.width - c.spec.min!));
      c.width -= give;
      excess -= give;
    }
    if (excess <= 0 || k >= droppable.length) return { columns: shown, dropped, gap, overflow: excess > 0 };
    dropped.push(droppable[k].s.id);
  }
}

/** One cell at its column's width: padded (right-aligned numbers), or cut with the theme's ellipsis. */
function fitCell(text: string, c: ColumnLayout, unicode: boolean): string {
  if (text.length > c.width) return clip(text, c.width, unicode);
  return c.spec.align === 'right' ? text.padStart(c.width) : text.padEnd(c.width);
}

/** A row's cells as one line of the layout (trailing blanks trimmed). */
export function formatRow(layout: TableLayout, cells: readonly string[], unicode: boolean): string {
  return layout.columns
    .map((c) => fitCell(cells[c.index] ?? '', c, unicode))
    .join(' '.repeat(layout.gap))
    .trimEnd();
}

/** The header line of the layout. */
export function formatHeader(layout: TableLayout, unicode: boolean): string {
  const cells: string[] = [];
  for (const c of layout.columns) cells[c.index] = c.spec.header;
  return formatRow(layout, cells, unicode);
}

/** Whether a row shows less than all of its cells: one cut, or one in a dropped column. */
export function rowIsCut(layout: TableLayout, cells: readonly string[]): boolean {
  const shown = new Set(layout.columns.map((c) => c.index));
  return cells.some((t, i) => t !== '' && !shown.has(i)) || layout.columns.some((c) => (cells[c.index] ?? '').length > c.width);
}

/**
 * `text` in lines of at most `width`, broken at spaces; a word longer than a line (a path) is
 * broken inside, so that every character is shown. Lines after the first start with `indent`.
 * "png: /tmp/a/b/c.png" in 10 gives ["png: /tmp/", "a/b/c.png"].
 */
export function wrapText(text: string, width: number, indent = ''): string[] {
  const w = Math.max(1, width);
  const pre = indent.length < w ? indent : '';
  const lines: string[] = [];
  let line = '';
  const room = () => w - (lines.length ? pre.length : 0);
  const push = () => {
    lines.push((lines.length ? pre : '') + line);
    line = '';
  };
  for (const word of text.split(' ')) {
    let rest = word;
    if (line) {
      const fits = line.length + 1 + rest.length <= room();
      // A word longer than a line of its own (a path) goes on after the line's words, if a character of it still fits.
      const runsOn = rest.length > w - pre.length && line.length + 2 <= room();
      if (fits || runsOn) line += ' ';
      else push();
    }
    while (line.length + rest.length > room()) {
      const take = room() - line.length;
      line += rest.slice(0, take);
      rest = rest.slice(take);
      push();
    }
    line += rest;
  }
  if (line || lines.length === 0) push();
  return lines;
}

/**
 * Fields ("AP 0.412 [0.380, 0.440]") joined with two spaces and wrapped at field boundaries
 * only, so that no field is split unless it alone is longer than a line.
 */
export function wrapFields(fields: readonly string[], width: number, indent = '  '): string[] {
  // U+00A0 holds a field's words together while wrapping; it is a space again in the lines.
  const glued = fields.filter(Boolean).map((f) => f.replace(/ /g, '\u00a0')).join('\u00a0 ');
  return wrapText(glued, width, indent).map((l) => l.replace(/\u00a0/g, ' ').trimEnd());
}

/** Lines wrapped (wrapText) one after another, each continued lines indented. */
export function wrapLines(texts: readonly string[], width: number, indent = '  '): string[] {
  return texts.flatMap((t) => wrapText(t, width, indent));
}

export interface LinePart {
  text: string;
  /** It may be left out when the line is too long: the lower numbers go first. Absent: always shown. */
  drop?: number;
}

/**
 * The parts joined with `sep`, leaving out droppable parts (lowest `drop` first) until the line
 * fits `width`; the parts that are always shown are cut only when they alone are too long.
 * fitParts([{text:'25 slices'}, {text:'sorted by delta'}, {text:'!! critical regression', drop: 1}], 30, '; ')
 * gives "25 slices; sorted by delta".
 */
export function fitParts(parts: readonly LinePart[], width: number, sep: string, unicode: boolean): string {
  const order = parts.map((p, i) => ({ p, i })).filter((x) => x.p.drop !== undefined).sort((a, b) => a.p.drop! - b.p.drop! || b.i - a.i);
  const gone = new Set<number>();
  const line = () => parts.filter((_, i) => !gone.has(i)).map((p) => p.text).filter(Boolean).join(sep);
  for (const x of order) {
    if (line().length <= width) break;
    gone.add(x.i);
  }
  return clip(line(), width, unicode);
}

/**
 * A prompt line: `head` (what is asked), `typed` (the text so far, its caret last) and `tail`
 * (the keys, "  (Enter)"), in `width`. The keys always show, and the end of what is typed (at
 * least 20 columns of it, cut at its start); the question gives way first.
 * fitTyped('reason for rejecting (required) overall-ap: ', 'too slow▏', '  (Enter)', 40) gives
 * "reason for rejecting… too slow▏  (Enter)".
 */
export function fitTyped(head: string, typed: string, tail: string, width: number, unicode: boolean): string {
  if (head.length + typed.length + tail.length <= width) return head + typed + tail;
  const ell = unicode ? '…' : '...';
  const room = Math.max(0, width - tail.length);
  const typedRoom = Math.min(room, Math.max(Math.min(typed.length, 20), room - head.length));
  const shownTyped = typed.length <= typedRoom ? typed : ell + typed.slice(typed.length - Math.max(0, typedRoom - ell.length));
  const headRoom = room - shownTyped.length;
  const shownHead = head.length <= headRoom ? head : headRoom >= ell.length + 2 ? `${clip(head.trimEnd(), headRoom - 1, unicode)} ` : '';
  return clip(shownHead + shownTyped + tail, width, unicode);
}
