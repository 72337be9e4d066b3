/**
 * The heat map of violations as pure string functions: one row per scenario, one cell per
 * parameter set, for one model, each cell a glyph of how many of the set's runs (over seeds and
 * conditions) failed, of any violation or of one type. Monochrome-safe: the glyphs differ by
 * level, the selected cell is bracketed ("[█]") and its row has the ">" marker; colour (green to
 * red) is only added on top by the view. Wide sweeps are windowed: the columns around the
 * selected set, the rows around its scenario.
 *
 *   sets   0         5         10
 * > ccrs    · · ░ ▒[█]▓ ▒ · · ·
 *   ccrm    · · · · ░ ░ ▒ ▒ ▓ █ █
 */
import type { SimHeatmap } from '../src/schema/sim-report.js';

/** How bad a cell is: 0 no run failed, 1 up to a third, 2 up to two thirds, 3 more, 4 all; null: no runs. */
export type HeatLevel = 0 | 1 | 2 | 3 | 4 | null;

const GLYPHS = { unicode: ['·', '░', '▒', '▓', '█'], ascii: ['.', '-', '+', '*', '#'] } as const;

/** The level of `count` failed runs of `runs`. */
export function heatLevel(count: number, runs: number): HeatLevel {
  if (runs <= 0) return null;
  if (count <= 0) return 0;
  const f = count / runs;
  return f >= 1 ? 4 : f > 2 / 3 ? 3 : f > 1 / 3 ? 2 : 1;
}

/** A level's glyph: "▒" ("+" in ASCII), a blank for a set without runs. */
export function heatGlyph(level: HeatLevel, unicode: boolean): string {
  return level === null ? ' ' : GLYPHS[unicode ? 'unicode' : 'ascii'][level];
}

/** "· none  ░ ≤1/3  ▒ ≤2/3  ▓ more  █ all of a set's runs failed  [ ] selected". */
export function heatLegend(unicode: boolean, type?: string): string {
  const g = (l: HeatLevel) => heatGlyph(l, unicode);
  const le = unicode ? '≤' : '<=';
  return `${g(0)} none  ${g(1)} ${le}1/3  ${g(2)} ${le}2/3  ${g(3)} more  ${g(4)} all of a set's runs ${type ? `with ${type}` : 'failed'}  [ ] selected`;
}

/** A piece of a heat map line: text, and the level it shows when it is a cell's glyph (the view colours those). */
export interface HeatSegment {
  text: string;
  level?: HeatLevel;
}

export interface HeatmapLines {
  /** The column ticks: "sets   0         5". */
  head: string;
  /** One per scenario shown: its pieces, and whether it is the selected run's scenario. */
  rows: { scenario: string; selected: boolean; segments: HeatSegment[] }[];
  /** Scenarios and sets left out by the windows: "rows 3-8 of 12", "sets 10-43 of 60"; empty when all show. */
  cut: string;
  /** The selected cell in words: "ccrs set 4 v=30 gap=12: 3 of 8 runs failed (collision 3, speeding 1)". */
  cell: string;
}

export interface HeatmapOptions {
  model: string;
  /** Count runs with this violation type; any violation when absent. */
  type?: string;
  /** The selected run's scenario and parameter set. */
  selected?: { scenario: string; paramIndex: number };
  width: number;
  /** Scenario rows shown at most. */
  rows: number;
  unicode: boolean;
}

/** The widest a scenario's name is shown. */
const LABEL_MAX = 12;

/** The plain text of a heat map row (the segments joined). */
export function segmentsText(segments: readonly HeatSegment[]): string {
  return segments.map((s) => s.text).join('');
}

/**
 * The heat map laid out in `width` columns and `rows` scenario rows: "> " or "  ", the scenario
 * (cut to 12), then two columns per set (a separator and the glyph; the separators around the
 * selected cell become "[" and "]").
 */
export function heatmapLines(map: SimHeatmap, o: HeatmapOptions): HeatmapLines {
  const labelW = Math.min(LABEL_MAX, Math.max(4, ...map.scenarios.map((s) => s.scenario.length)));
  const sets = Math.max(0, ...map.scenarios.map((s) => s.columns.length));
  const cols = Math.max(1, Math.floor((o.width - 2 - labelW - 1) / 2));
  const selRow = o.selected ? map.scenarios.findIndex((s) => s.scenario === o.selected!.scenario) : -1;
  const selScenario = selRow >= 0 ? map.scenarios[selRow] : undefined;
  const selCol = selScenario ? Math.max(0, selScenario.columns.findIndex((c) => c.paramIndex === o.selected!.paramIndex)) : 0;
  const c0 = sets <= cols ? 0 : Math.max(0, Math.min(selCol - Math.floor(cols / 2), sets - cols));
  const nRows = Math.max(1, o.rows);
  const r0 = map.scenarios.length <= nRows ? 0 : Math.max(0, Math.min((selRow >= 0 ? selRow : 0) - Math.floor(nRows / 3), map.scenarios.length - nRows));
  const shown = map.scenarios.slice(r0, r0 + nRows);

  let head = `  ${'sets'.padEnd(labelW)}`;
  for (let c = c0; c < Math.min(sets, c0 + cols); c++) {
    // A tick every fifth set; a label needs its room (it may cover the ticks after it).
    if (c % 5 === 0 && head.length <= 2 + labelW + 1 + (c - c0) * 2) head = head.padEnd(2 + labelW + 1 + (c - c0) * 2) + String(c);
  }

  const rows = shown.map((s) => {
    const selected = selScenario === s;
    const segments: HeatSegment[] = [{ text: `${selected ? '>' : ' '} ${s.scenario.length > labelW ? s.scenario.slice(0, labelW - 1) + (o.unicode ? '…' : '~') : s.scenario.padEnd(labelW)}` }];
    let sep = ' ';
    for (let c = c0; c < Math.min(s.columns.length, c0 + cols); c++) {
      const col = s.columns[c];
      const cell = s.cells.find((x) => x.paramIndex === col.paramIndex && x.model === o.model);
      const count = cell ? (o.type ? (cell.byType[o.type] ?? 0) : cell.failed) : 0;
      const level = heatLevel(count, cell?.runs ?? 0);
      const isSel = selected && c === selCol;
      segments.push({ text: isSel ? '[' : sep }, { text: heatGlyph(level, o.unicode), level });
      sep = isSel ? ']' : ' ';
    }
    segments.push({ text: sep === ']' ? ']' : '' });
    return { scenario: s.scenario, selected, segments: segments.filter((x) => x.text !== '' || x.level !== undefined) };
  });

  const cut = [
    map.scenarios.length > nRows ? `scenarios ${r0 + 1}-${r0 + shown.length} of ${map.scenarios.length}` : '',
    sets > cols ? `sets ${c0}-${Math.min(sets, c0 + cols) - 1} of ${sets}` : '',
  ]
    .filter(Boolean)
    .join(', ');

  let cell = '';
  if (selScenario && o.selected) {
    const col = selScenario.columns.find((c) => c.paramIndex === o.selected!.paramIndex);
    const x = selScenario.cells.find((c) => c.paramIndex === o.selected!.paramIndex && c.model === o.model);
    const types = x ? map.types.filter((t) => (x.byType[t] ?? 0) > 0).map((t) => `${t} ${x.byType[t]}`) : [];
    const what = o.type ? `with ${o.type}` : 'failed';
    const count = x ? (o.type ? (x.byType[o.type] ?? 0) : x.failed) : 0;
    cell = `${selScenario.scenario} set ${o.selected.paramIndex}${col ? ` ${col.label}` : ''}: ${x ? `${count} of ${x.runs} runs ${what}${types.length ? ` (${types.join(', ')})` : ''}` : `no runs of ${o.model}`}`;
  }
  return { head, rows, cut, cell };
}

/** The model the heat map shows: the one asked for, else the selected run's, else the heat map's first. */
export function heatmapModel(map: SimHeatmap, asked?: string, selected?: string): string {
  for (const m of [asked, selected]) if (m && map.models.includes(m)) return m;
  return map.models[0] ?? asked ?? selected ?? '';
}
