/**
 * The column policy (views/table.ts), table-driven: what shrinks, what goes and in which order,
 * what never does; lines of parts; wrapping that shows every character; prompts that keep their keys.
 */
import { describe, expect, it } from 'vitest';
import { fitColumns, fitParts, fitTyped, formatHeader, formatRow, rowIsCut, wrapFields, wrapText, type ColumnSpec } from '../../views/table.js';
import { SLICE_COLUMNS, sliceCells } from '../../views/screens/slices.js';

/** Two slice rows as the recorded demo run has them (test/fixtures/workbench-run.ndjson). */
const SLICES = [
  { slice: 'night+rain+pedestrian', critical: true, ap: 0.057, lo: 0.055, hi: 0.059, delta: 0.009, deltaLo: 0.007, deltaHi: 0.012, p: 0.014, frames: 40, objects: 13 },
  { slice: 'all', critical: false, ap: 0.479, lo: 0.454, hi: 0.502, delta: -0.109, deltaLo: -0.123, deltaHi: -0.094, p: 0.002, frames: 1000, objects: 2286 },
];
const CELLS = SLICES.map(sliceCells);

describe('fitColumns', () => {
  it.each([
    // width, columns dropped (in order), the slice name's width
    [120, [], 21],
    [78, ['ap-ci'], 21],
    [58, ['ap-ci', 'delta-ci'], 20],
    [48, ['ap-ci', 'delta-ci', 'p'], 17],
  ])('the slice table in %i columns drops %j, the name %i wide; denominators and marks whole', (width, dropped, nameWidth) => {
    const layout = fitColumns(SLICE_COLUMNS, CELLS, width);
    expect(layout.dropped).toEqual(dropped);
    expect(layout.columns.find((c) => c.spec.id === 'slice')?.width).toBe(nameWidth);
    expect(layout.overflow).toBe(false);
    for (const [i, cells] of CELLS.entries()) {
      const line = formatRow(layout, cells, true);
      expect(line.length).toBeLessThanOrEqual(width);
      expect(line).toMatch(new RegExp(`${SLICES[i].frames} +${SLICES[i].objects}$`));
      expect(line.startsWith(cells[0].padEnd(2))).toBe(true);
      expect(line).toContain(cells[2]); // AP
      expect(line).toContain(cells[4]); // delta
    }
    expect(formatHeader(layout, true)).toMatch(/FRAMES OBJECTS$/);
  });

  it('shrinks the lowest `shrink` first, down to its min, before dropping anything', () => {
    const specs: ColumnSpec[] = [
      { id: 'a', header: 'A', min: 3, shrink: 1 },
      { id: 'b', header: 'B', min: 4, shrink: 0 },
      { id: 'c', header: 'C', drop: 1 },
      { id: 'n', header: 'N' },
    ];
    const rows = [['aaaaaaaaaa', 'bbbbbbbbbb', 'cc', '12345']];
    expect(fitColumns(specs, rows, 31).columns.map((c) => c.width)).toEqual([10, 10, 2, 5]);
    expect(fitColumns(specs, rows, 26).columns.map((c) => c.width)).toEqual([10, 6, 2, 5]); // b gives first
    expect(fitColumns(specs, rows, 22).columns.map((c) => c.width)).toEqual([8, 4, 2, 5]); // then a
    const dropped = fitColumns(specs, rows, 16);
    expect(dropped.dropped).toEqual(['c']);
    expect(dropped.columns.map((c) => [c.spec.id, c.width])).toEqual([['a', 5], ['b', 4], ['n', 5]]); // laid out again from what they want
    const tight = fitColumns(specs, rows, 10);
    expect(tight.overflow).toBe(true);
    expect(tight.columns.map((c) => c.spec.id)).toEqual(['a', 'b', 'n']); // never-drop columns stay
    expect(rowIsCut(dropped, rows[0])).toBe(true);
    expect(rowIsCut(fitColumns(specs, rows, 31), rows[0])).toBe(false);
  });

  it('cuts with the theme\'s ellipsis and right-aligns numbers', () => {
    const specs: ColumnSpec[] = [{ id: 'name', header: 'NAME', min: 4 }, { id: 'n', header: 'N', align: 'right' }];
    const layout = fitColumns(specs, [['pedestrian', '7'], ['car', '1234']], 11);
    expect(formatRow(layout, ['pedestrian', '7'], true)).toBe('pedes…    7');
    expect(formatRow(layout, ['pedestrian', '7'], false)).toBe('ped...    7');
  });
});

describe('fitParts', () => {
  it.each([
    [200, '25 slices; sorted by delta; !! critical regressed; regressed: CI below 0'],
    [60, '25 slices; sorted by delta; !! critical regressed'],
    [30, '25 slices; sorted by delta'],
    [20, '25 slices; sorted b…'],
  ])('in %i columns: %s', (width, line) => {
    const parts = [{ text: '25 slices' }, { text: 'sorted by delta' }, { text: '!! critical regressed', drop: 2 }, { text: 'regressed: CI below 0', drop: 1 }];
    expect(fitParts(parts, width, '; ', true)).toBe(line);
  });
});

describe('wrapText', () => {
  const path = '/tmp/paddock-test-abc/datasets/golden_test/frames/scene-c9e2f816/camera-front/scene-c9e2f816-t0005.png';

  it.each([20, 37, 60, 80])('a path in %i columns: every character shown, no line too long', (width) => {
    const lines = wrapText(`png: ${path}`, width);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(width);
    expect(lines.join('')).toBe(`png: ${path}`);
    expect(lines[0].startsWith('png: /')).toBe(true);
  });

  it('breaks words at spaces, indenting the lines after the first', () => {
    expect(wrapText('the cyclist is half hidden behind the van', 16, '  ')).toEqual(['the cyclist is', '  half hidden', '  behind the van']);
    expect(wrapText('', 10)).toEqual(['']);
  });

  it('keeps a field whole (wrapFields)', () => {
    expect(wrapFields(['night (critical):', 'AP 0.356 [0.312, 0.399]', 'frames 240', 'objects 539'], 30)).toEqual(['night (critical):', '  AP 0.356 [0.312, 0.399]', '  frames 240  objects 539']);
  });
});

describe('fitTyped', () => {
  const head = 'reason for rejecting (required) overall-ap-non-inferior: ';
  it.each([30, 40, 60, 80, 120])('in %i columns the keys and the end of the reason show', (width) => {
    const typed = 'the night+rain+pedestrian slice regresses beyond its interval▏';
    const line = fitTyped(head, typed, '  (Enter)', width, true);
    expect(line.length).toBeLessThanOrEqual(width);
    expect(line.endsWith('interval▏  (Enter)')).toBe(true);
  });

  it('shows everything when it fits', () => {
    expect(fitTyped('note: ', 'ok▏', '  (Enter)', 80, true)).toBe('note: ok▏  (Enter)');
    expect(fitTyped('reason for rejecting (required) overall-ap: ', 'too slow▏', '  (Enter)', 40, true)).toBe('reason for rejecting… too slow▏  (Enter)');
  });
});

describe('the examples in views/table.ts', () => {
  it('fitColumns: a name cut, the numbers whole', () => {
    const specs: ColumnSpec[] = [{ id: 'slice', header: 'SLICE', min: 6 }, { id: 'ap', header: 'AP' }, { id: 'frames', header: 'FRAMES', align: 'right' }];
    const row = ['night+rain+pedestrian', '0.057', '40'];
    expect(formatRow(fitColumns(specs, [row], 20), row, true)).toBe('night+… 0.057     40');
  });
});

describe('the header line', () => {
  it('keeps the run, its status and the failure count at 80 and 60 columns beside the tabs; "paddock", the time, FROZEN and the status word go first', async () => {
    const { headerText, tabsText } = await import('../../views/status-lines.js');
    const { SCREEN_TABLE: SCREENS } = await import('../../views/screens/index.js');
    const { makeTheme } = await import('../../views/theme.js');
    const theme = makeTheme(false, true);
    const facts = { runId: 'r-20261125-215245-a1713b', status: 'succeeded', started: 1_000, ended: 124_000, now: 200_000, failures: 40, frozen: true };
    expect(headerText(facts, theme)).toBe('paddock  r-20261125-215245-a1713b  ✔ succeeded  2m03s  failures 40  FROZEN');
    for (const width of [80, 60]) {
      const room = width - tabsText(SCREENS, 'run', 0).length - 2;
      const h = headerText(facts, theme, room);
      expect(h.length).toBeLessThanOrEqual(room);
      expect(h).toContain('r-20261125-215245-a1713b');
      expect(h).toContain('failures 40');
      expect(h).toContain('✔');
      expect(h).not.toContain('…');
      if (width === 80) expect(h).toContain('FROZEN');
    }
    expect(headerText(facts, theme, 66)).not.toContain('paddock');
  });
});
