/**
 * A failure on the whole screen (Enter on the failures screen): the frame as large as the rows
 * allow, a zoom of 2-4x on the object's box beside it, the full-size path whole, `p` printing it
 * into the terminal; Enter or Esc back to the list. Rendered at 80x24 and 200x60 from the
 * recorded demo run (test/helpers/workbench-store.ts); the crop and zoom arithmetic table-driven.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import React from 'react';
import { render } from 'ink-testing-library';
import { Workbench } from '../../views/workbench.js';
import { makeTheme } from '../../views/theme.js';
import { cropFrame, renderFrameCells, zoomRegion, type ColorDepth } from '../../views/frame-cells.js';
import { waitFor } from '../helpers/fixtures.js';
import { RECORDED_RUN, buildWorkbenchStore, type WorkbenchStore } from '../helpers/workbench-store.js';

const KEYS = { enter: '\r', escape: '\x1b', failures: '5', slices: '4', next: 'n', print: 'p' } as const;
const ANSI = /\x1b\[[0-9;]*m/g;
/** The green of the missed object's box (failureBoxes). */
const OBJECT_BOX = '40;255;80';

let w: WorkbenchStore;
beforeAll(async () => {
  w = await buildWorkbenchStore({ people: true });
});
afterAll(() => w.cleanup());

function setup(columns: number, rows: number, opts: { color?: boolean; depth?: ColorDepth } = {}) {
  const color = opts.color ?? true;
  const app = render(<Workbench reader={w.reader} actor="ana@example.com" theme={makeTheme(color, color)} depth={opts.depth ?? 'truecolor'} size={{ columns, rows }} initialRun={RECORDED_RUN} initialScreen="slices" onQuit={() => undefined} />);
  const raw = () => app.lastFrame() ?? '';
  const frame = () => raw().replace(ANSI, '');
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { app, raw, frame, press };
}

/** The cells of a truecolor half-block line, each with its upper (fg) and lower (bg) color, split where two spaces separate two drawings (a drawing has none). */
function drawings(line: string): { fg: string; bg: string }[][] {
  return line.split('  ').filter((part) => part.includes('▀')).map((part) => {
    const cells: { fg: string; bg: string }[] = [];
    let fg = '';
    let bg = '';
    for (const m of part.matchAll(/\x1b\[(38|48);2;(\d+;\d+;\d+)m|▀/g)) {
      if (m[0] === '▀') cells.push({ fg, bg });
      else if (m[1] === '38') fg = m[2];
      else bg = m[2];
    }
    return cells;
  });
}

describe('the failure full-screen', () => {
  it.each([
    [80, 24],
    [200, 60],
  ])('at %ix%i: Enter opens it with the frame at the size the rows allow, a zoom on the box, the path whole', async (columns, rows) => {
    const { frame, raw, press, app } = setup(columns, rows);
    await press(KEYS.failures);
    await waitFor(() => /^> ✔ crit lost-object/m.test(frame()), 'the failure list');
    await press(KEYS.enter);
    await waitFor(() => frame().includes('FAILURES 40 ─ 1/40 ─ CRITICAL lost-object  lost/3653'), `the failure full-screen: ${frame()}`);
    const lines = frame().split('\n');
    expect(lines.length).toBeLessThanOrEqual(rows - 1);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
    expect(frame()).not.toMatch(/^> /m); // the list is gone
    // The path, whole, on lines of its own.
    const pathAt = lines.findIndex((l) => l.startsWith('png: '));
    const pathLines = Math.ceil(`png: ${w.framePng}`.length / columns);
    expect(lines.slice(pathAt, pathAt + pathLines).join('')).toBe(`png: ${w.framePng}`);
    // Body rows: the terminal's less the header and footer lines and one spare; text lines are the
    // heading, the title, the caption, the path and one of info; the frame has the rest (at most
    // 120 columns), a 320x192 frame being 5/3 as wide as tall at two pixels a cell.
    const body = rows - 1 - 2;
    const frameRows = Math.min(body - 4 - pathLines, Math.round(((120 * 3) / 5) / 2));
    const cells = raw().split('\n').map(drawings).filter((d) => d.length > 0);
    expect(cells).toHaveLength(frameRows);
    const [whole, zoom] = [cells[0][0].length, cells[0][1].length];
    expect(whole).toBe(Math.min(120, Math.round((frameRows * 2 * 5) / 3)));
    expect(zoom).toBeGreaterThanOrEqual(16);
    // The zoom: 2 to 4 times the frame, so the box's outline has more cells there than in the whole frame.
    const factor = Number(/zoom (\d\.\d)x/.exec(frame())?.[1]);
    expect(factor).toBeGreaterThanOrEqual(2);
    expect(factor).toBeLessThanOrEqual(4);
    const boxCells = (k: number) => cells.flatMap((d) => d[k] ?? []).filter((c) => c.fg === OBJECT_BOX || c.bg === OBJECT_BOX).length;
    expect(boxCells(0)).toBeGreaterThan(0);
    expect(boxCells(1)).toBeGreaterThanOrEqual(2 * boxCells(0));
    app.unmount();
  });

  it('n steps inside it, p prints the path into the terminal, Enter and Esc go back to the list', async () => {
    const { frame, press, app } = setup(80, 24);
    await press(KEYS.failures, KEYS.enter);
    await waitFor(() => frame().includes('─ 1/40 ─'), 'full-screen');
    await press(KEYS.next);
    await waitFor(() => frame().includes('─ 2/40 ─ CRITICAL lost-object  lost/5561'), 'the next failure, still full-screen');
    await press(KEYS.print);
    await waitFor(() => frame().includes('frame path of lost/5561 is printed'), `the message: ${frame()}`);
    // Ink writes it above the live frame (ink-testing-library records each write).
    expect(app.frames.some((f) => f.startsWith(`lost/5561  ${w.framePng}\n`))).toBe(true);
    await press(KEYS.enter);
    await waitFor(() => /^>   crit lost-object/m.test(frame()) && frame().includes('2/40'), 'back to the list, on the same failure');
    await press(KEYS.enter);
    await waitFor(() => frame().includes('─ 2/40 ─'), 'full-screen again');
    await press(KEYS.escape);
    await waitFor(() => /^>   crit lost-object/m.test(frame()), `Esc closes it first: ${frame()}`);
    await press(KEYS.escape);
    await waitFor(() => frame().includes('sorted by regression'), 'then Esc goes back to the screen before');
    app.unmount();
  });

  it('is ASCII and monochrome without color and Unicode', async () => {
    const { frame, raw, press, app } = setup(80, 24, { color: false, depth: 'mono' });
    await press(KEYS.failures, KEYS.enter);
    await waitFor(() => frame().includes('FAILURES 40 - 1/40 - CRITICAL lost-object'), `full-screen: ${frame()}`);
    expect(raw()).not.toMatch(/\x1b\[(3|4|9|10)[0-9](;[0-9;]*)?m/);
    expect([...new Set(frame().replace(/[\x20-\x7e\n]/g, ''))].join('')).toBe('');
    expect(frame()).toMatch(/zoom \d\.\dx/);
    app.unmount();
  });
});

describe('zoomRegion and cropFrame', () => {
  const img = { width: 320, height: 192 };
  it.each([
    // bbox, pane cols x rows, frame scale -> region and zoom
    ['a cyclist of 5x14 px: 4x (the most)', [163.39, 76.55, 4.86, 14], 28, 15, 50 / 320, { x: 143, y: 60, width: 45, height: 48, zoom: 4 }],
    ['a car of 200x150 px: 2x (the least), centred', [0, 0, 200, 150], 28, 15, 50 / 320, { x: 55, y: 27, width: 90, height: 96, zoom: 2 }],
    ['a box in the corner: the region stays inside the frame', [310, 180, 8, 10], 28, 15, 50 / 320, { x: 275, y: 144, width: 45, height: 48, zoom: 4 }],
    ['a 40x20 px box, too wide for 2x with its margin: 2x', [100, 80, 40, 20], 30, 15, 0.25, { x: 90, y: 60, width: 60, height: 60, zoom: 2 }],
    ['a 20x10 px box: the zoom at which its width and margin fill the pane', [100, 80, 20, 10], 30, 15, 0.25, { x: 94, y: 69, width: 32, height: 32, zoom: 30 / (0.25 * 1.6 * 20) }],
  ] as const)('%s', (_what, bbox, cols, rows, scale, want) => {
    const r = zoomRegion(img, bbox, cols, rows, scale);
    expect({ ...r, zoom: Number(r.zoom.toFixed(6)) }).toEqual({ ...want, zoom: Number(want.zoom.toFixed(6)) });
    expect(r.x >= 0 && r.y >= 0 && r.x + r.width <= img.width && r.y + r.height <= img.height).toBe(true);
  });

  it('crops whole pixels, clipped to the image', () => {
    // A 4x3 image whose pixel i has the value i on every channel.
    const data = Uint8Array.from({ length: 36 }, (_, k) => Math.floor(k / 3));
    const crop = cropFrame({ width: 4, height: 3, data }, 1, 1, 2, 2);
    expect(crop).toMatchObject({ width: 2, height: 2 });
    expect([...crop.data].filter((_, k) => k % 3 === 0)).toEqual([5, 6, 9, 10]);
    expect(cropFrame({ width: 4, height: 3, data }, 3, 2, 5, 5)).toMatchObject({ width: 1, height: 1, data: Uint8Array.from([11, 11, 11]) });
  });

  it('draws only the sides of a box that are inside the drawing, nothing of one outside it', () => {
    const solid = { width: 8, height: 8, data: Uint8Array.from({ length: 192 }, (_, k) => [10, 20, 30][k % 3]) };
    const cell = (lines: string[], row: number, x: number) => drawings(lines[row])[0][x];
    // Its left side is 4 pixels left of the drawing: the top side starts at x 0, no side is drawn there.
    const partly = renderFrameCells(solid, 8, 4, [{ bbox: [-4, 2, 8, 4], rgb: [0, 255, 0] }], 'truecolor', true);
    expect(cell(partly, 1, 0)).toEqual({ fg: '0;255;0', bg: '10;20;30' }); // pixel rows 2 (top side) and 3 (inside)
    expect(cell(partly, 1, 3)).toEqual({ fg: '0;255;0', bg: '0;255;0' }); // the right side
    const outside = renderFrameCells(solid, 8, 4, [{ bbox: [20, 20, 4, 4], rgb: [0, 255, 0] }], 'truecolor', true);
    expect(outside.join('')).not.toContain('0;255;0');
  });
});
