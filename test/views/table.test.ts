/**
 * The column policy (views/table.ts), table-driven: what shrinks, what goes and in which order,
 * what never does; lines of parts; wrapping that shows every character; prompts that keep their keys.
 */
import { describe, expect, it } from 'vitest';
import { fitColumns, fitParts, fitTyped, formatHeader, formatRow, rowIsCut, wrapFields, wrapText, type ColumnSpec } from '../../views/table.js';
import { SLICE_COLUMNS, sliceCells, sliceDetail } from '../../views/screens/slices.js';

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
    [78, ['ap-ci'], 20],
    [58, ['ap-ci', 'delta-ci'], 16],
    [50, ['ap-ci', 'delta-ci', 'p'], 15],
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

describe('the slice table with sample sizes, insufficient slices and p at its resolution', () => {
  /** As the evaluate step emits them now: scenes with objects, one-sided bounds, an insufficient slice, a p at 1/(B+1). */
  const NEW = [
    { slice: 'night+rain+pedestrian', critical: true, ap: 0.057, insufficient: true, scenes: 1, frames: 40, objects: 13 },
    { slice: 'all', critical: false, ap: 0.479, lo: 0.454, hi: 0.502, delta: -0.109, deltaLo: -0.123, deltaHi: -0.094, deltaLower: -0.12, deltaUpper: -0.096, alpha: 0.05, p: 0.035, pAtResolution: true, replicates: 200, scenes: 100, frames: 1000, objects: 2286 },
    { slice: 'night', critical: true, ap: 0.356, lo: 0.307, hi: 0.392, delta: -0.02, deltaLo: -0.041, deltaHi: 0.001, deltaLower: -0.037, deltaUpper: -0.003, alpha: 0.05, p: 0.21, pAtResolution: false, replicates: 200, scenes: 24, frames: 240, objects: 539 },
  ];
  const cells = NEW.map(sliceCells);

  it('marks an insufficient slice "?" with its point AP, "n/a" and "insufficient" for the intervals, no p', () => {
    expect(cells[0]).toEqual(['*?', 'night+rain+pedestrian', '0.057', 'n/a', '-', 'insufficient', '-', '1', '40', '13']);
    expect(sliceDetail(NEW[0])).toEqual(['night+rain+pedestrian (critical, insufficient data):', 'AP 0.057 (point)', 'scenes 1', 'frames 40', 'objects 13']);
  });

  it('shows the adjusted p with "<" at the resolution, and decides "regressed" on the one-sided upper bound', () => {
    expect(cells[1].slice(0, 1)).toEqual(['!']);
    expect(cells[1][6]).toBe('<0.035');
    expect(sliceDetail(NEW[1])).toContain('p(adj) < 0.035 (B=200)');
    expect(sliceDetail(NEW[1])).toContain('95% bounds -0.120/-0.096');
    // The two-sided interval reaches above 0, the one-sided upper bound does not: regressed.
    expect(cells[2][0]).toBe('!!');
    expect(sliceDetail(NEW[2])[0]).toBe('night (critical, regressed):');
  });

  it.each([
    [120, []],
    [78, ['ap-ci']],
    [58, ['ap-ci', 'delta-ci']],
  ])('in %i columns drops %j; the scenes with objects, frames and objects whole; an insufficient slice still says so', (width, dropped) => {
    const layout = fitColumns(SLICE_COLUMNS, cells, width);
    expect(layout.dropped).toEqual(dropped);
    expect(layout.overflow).toBe(false);
    expect(formatHeader(layout, true)).toMatch(/SCN FRAMES OBJECTS$/);
    for (const [i, c] of cells.entries()) {
      const line = formatRow(layout, c, true);
      expect(line.length).toBeLessThanOrEqual(width);
      expect(line).toMatch(new RegExp(` ${NEW[i].scenes} +${NEW[i].frames} +${NEW[i].objects}$`));
      expect(line).toContain(c[2]);
    }
    expect(formatRow(layout, cells[0], true).startsWith('*? ')).toBe(true);
    if (width >= 78) expect(formatRow(layout, cells[0], true)).toContain('insufficient');
  });

  it('selectSliceRows: the new metrics of the evaluate step, and a recorded run without them', async () => {
    const { initialLiveState } = await import('../../src/live/live-state.js');
    const { selectSliceRows } = await import('../../views/panes.js');
    const metric = (name: string, slice: string, value: number, extra: Record<string, unknown> = {}) => ({ v: 1, ts: 1, type: 'metric', name, slice, target: 'candidate', value, step: 'evaluate', ...extra });
    const den = (scenes_with_objects: number, frames: number, objects: number) => ({ denominators: { scenes: scenes_with_objects, scenes_with_objects, effective_scenes: scenes_with_objects, frames, objects } });
    const events = [
      metric('coco.AP', 'class=car', 0.69),
      metric('slice.critical', 'tiny', 1),
      metric('slice.insufficient', 'tiny', 1, den(1, 40, 13)),
      metric('coco.AP', 'tiny', 0.057, den(1, 40, 13)),
      metric('coco.AP', 'tiny', 0.048, { ...den(1, 40, 13), target: 'production' }),
      metric('slice.critical', 'all', 0),
      metric('slice.insufficient', 'all', 0, den(100, 1000, 2286)),
      metric('coco.AP', 'all', 0.479, { ci: { lo: 0.454, hi: 0.502, level: 0.95, method: 'BCa' }, ...den(100, 1000, 2286) }),
      metric('coco.AP.delta', 'all', -0.109, { ci: { lo: -0.123, hi: -0.094, level: 0.95, method: 'BCa' } }),
      metric('coco.AP.delta.lower', 'all', -0.12, { unit: 'alpha=0.05' }),
      metric('coco.AP.delta.upper', 'all', -0.096, { unit: 'alpha=0.05' }),
      metric('coco.AP.delta_p', 'all', 1 / 201, { unit: 'margin=0.02 resolution=1', denominators: { replicates: 200 } }),
      metric('coco.AP.delta_p_adjusted', 'all', 0.035, { unit: 'benjamini-hochberg' }),
    ];
    const state = { ...initialLiveState, metrics: Object.fromEntries(events.map((e, i) => [String(i), e])) } as never;
    const rows = selectSliceRows(state);
    expect(rows.map((r) => r.slice)).toEqual(['all', 'tiny']);
    expect(rows[0]).toMatchObject({ ap: 0.479, deltaUpper: -0.096, alpha: 0.05, p: 0.035, pAtResolution: true, replicates: 200, scenes: 100, frames: 1000, objects: 2286 });
    expect(rows[1]).toMatchObject({ critical: true, insufficient: true, ap: 0.057, scenes: 1, frames: 40, objects: 13 });
    // The recorded run of the step before these metrics: rows as before, no scenes, no bounds, no insufficient slice.
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const recorded = readFileSync(join(__dirname, '..', 'fixtures', 'workbench-run.ndjson'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { event: { type: string } }).event).filter((e) => e.type === 'metric');
    const old = selectSliceRows({ ...initialLiveState, metrics: Object.fromEntries(recorded.map((e, i) => [String(i), e])) } as never);
    expect(old.length).toBe(25);
    for (const r of old) {
      expect(r.insufficient).toBeUndefined();
      expect(r.scenes).toBeUndefined();
      expect(sliceCells(r)[7]).toBe('-');
      expect(r.lo).toBeDefined();
    }
  });
});
