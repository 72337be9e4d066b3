/**
 * The terminal frame renderer and the terminal detection: color depth from the environment,
 * the xterm 256 and ANSI 16 palettes on known colors, sizes that keep the aspect, boxes drawn.
 */
import { describe, expect, it } from 'vitest';
import { ansi16, detectColorDepth, frameCellSize, renderFrameCells, resample, xterm256 } from '../../views/frame-cells.js';
import { detectTheme } from '../../views/theme.js';

const solid = (w: number, h: number, rgb: [number, number, number]) => ({ width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, (_, i) => rgb[i % 3]) });

describe('terminal detection', () => {
  it.each([
    [{ COLORTERM: 'truecolor', TERM: 'xterm-256color' }, 'truecolor'],
    [{ COLORTERM: '24bit' }, 'truecolor'],
    [{ TERM: 'xterm-256color' }, '256'],
    [{ TERM: 'xterm' }, '16'],
    [{ TERM: 'xterm-256color', NO_COLOR: '' }, 'mono'],
    [{ TERM: 'dumb', COLORTERM: 'truecolor' }, 'mono'],
  ] as const)('%o -> %s', (env, depth) => {
    expect(detectColorDepth(env as NodeJS.ProcessEnv)).toBe(depth);
  });

  it('TERM=dumb gives ASCII without color; a UTF-8 xterm gives both', () => {
    expect(detectTheme({ TERM: 'dumb', LANG: 'C.UTF-8' })).toMatchObject({ color: false, unicode: false });
    expect(detectTheme({ TERM: 'xterm-256color', LANG: 'en_US.UTF-8' })).toMatchObject({ color: true, unicode: true });
    expect(detectTheme({ TERM: 'xterm', LANG: 'C' })).toMatchObject({ color: true, unicode: false });
  });
});

describe('palettes', () => {
  it('maps known colors to the xterm 256 cube and grey ramp, and to the 16 ANSI colors', () => {
    expect(xterm256(255, 0, 0)).toBe(196);
    expect(xterm256(0, 0, 0)).toBe(16);
    expect(xterm256(255, 255, 255)).toBe(231);
    expect(xterm256(128, 128, 128)).toBe(244);
    expect(ansi16(255, 0, 0)).toBe(9);
    expect(ansi16(0, 0, 0)).toBe(0);
    expect(ansi16(250, 250, 250)).toBe(15);
  });
});

describe('renderFrameCells', () => {
  it('keeps the aspect: a 320x192 frame in 40x12 cells is 40x12, in 80x40 it is 67x20', () => {
    expect(frameCellSize({ width: 320, height: 192 }, 40, 12)).toEqual({ cols: 40, rows: 12 });
    expect(frameCellSize({ width: 320, height: 192 }, 80, 20)).toEqual({ cols: 67, rows: 20 });
  });

  it('averages pixels when it shrinks', () => {
    const img = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 200, 100, 50]) };
    expect([...resample(img, 1, 1)]).toEqual([100, 50, 25]);
  });

  it('draws two pixels a cell in truecolor, with a box in its color', () => {
    const lines = renderFrameCells(solid(8, 8, [10, 20, 30]), 8, 4, [{ bbox: [0, 0, 8, 8], rgb: [0, 255, 0] }], 'truecolor', true);
    expect(lines).toHaveLength(4);
    expect(lines[0].startsWith('\x1b[38;2;0;255;0m\x1b[48;2;0;255;0m▀')).toBe(true); // the box's top-left corner
    expect(lines[1]).toContain('\x1b[38;2;10;20;30m'); // inside: the image
    for (const l of lines) expect(l.replace(/\x1b\[[0-9;]*m/g, '')).toBe('▀'.repeat(8));
  });

  it('falls back to a brightness ramp without color, ASCII without Unicode', () => {
    const dark = renderFrameCells(solid(4, 4, [0, 0, 0]), 4, 2, [], 'mono', false);
    const light = renderFrameCells(solid(4, 4, [255, 255, 255]), 4, 2, [], 'mono', false);
    expect(dark).toEqual(['    ', '    ']);
    expect(light).toEqual(['@@@@', '@@@@']);
    const boxed = renderFrameCells(solid(4, 4, [0, 0, 0]), 4, 2, [{ bbox: [0, 0, 4, 4], rgb: [255, 0, 0] }], 'mono', false);
    expect(boxed[0]).toBe('####');
  });
});
