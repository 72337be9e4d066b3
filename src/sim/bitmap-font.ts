/**
 * A tiny bitmap font for the simulator's clips: 5x7 glyphs on a 6-pixel advance, upper case,
 * digits and the punctuation a readout needs ("T 3.20S  42 KM/H  TTC 1.4S"). Pure: text and a
 * target buffer in, pixels set; no font files, so a clip's bytes depend on nothing outside it.
 * Lower case is drawn as upper case; a character it lacks is drawn as '?'.
 */

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 7;
/** Horizontal distance from one character to the next, pixels (one blank column between). */
export const GLYPH_ADVANCE = 6;

// Rows top to bottom, '1' is ink. Shapes after the classic 5x7 LCD character generator's.
const ROWS: Record<string, string> = {
  '0': '01110 10001 10011 10101 11001 10001 01110',
  '1': '00100 01100 00100 00100 00100 00100 01110',
  '2': '01110 10001 00001 00010 00100 01000 11111',
  '3': '11111 00010 00100 00010 00001 10001 01110',
  '4': '00010 00110 01010 10010 11111 00010 00010',
  '5': '11111 10000 11110 00001 00001 10001 01110',
  '6': '00110 01000 10000 11110 10001 10001 01110',
  '7': '11111 00001 00010 00100 01000 01000 01000',
  '8': '01110 10001 10001 01110 10001 10001 01110',
  '9': '01110 10001 10001 01111 00001 00010 01100',
  A: '01110 10001 10001 11111 10001 10001 10001',
  B: '11110 10001 10001 11110 10001 10001 11110',
  C: '01110 10001 10000 10000 10000 10001 01110',
  D: '11100 10010 10001 10001 10001 10010 11100',
  E: '11111 10000 10000 11110 10000 10000 11111',
  F: '11111 10000 10000 11110 10000 10000 10000',
  G: '01110 10001 10000 10111 10001 10001 01111',
  H: '10001 10001 10001 11111 10001 10001 10001',
  I: '01110 00100 00100 00100 00100 00100 01110',
  J: '00111 00010 00010 00010 00010 10010 01100',
  K: '10001 10010 10100 11000 10100 10010 10001',
  L: '10000 10000 10000 10000 10000 10000 11111',
  M: '10001 11011 10101 10101 10001 10001 10001',
  N: '10001 10001 11001 10101 10011 10001 10001',
  O: '01110 10001 10001 10001 10001 10001 01110',
  P: '11110 10001 10001 11110 10000 10000 10000',
  Q: '01110 10001 10001 10001 10101 10010 01101',
  R: '11110 10001 10001 11110 10100 10010 10001',
  S: '01111 10000 10000 01110 00001 00001 11110',
  T: '11111 00100 00100 00100 00100 00100 00100',
  U: '10001 10001 10001 10001 10001 10001 01110',
  V: '10001 10001 10001 10001 10001 01010 00100',
  W: '10001 10001 10001 10101 10101 10101 01010',
  X: '10001 10001 01010 00100 01010 10001 10001',
  Y: '10001 10001 10001 01010 00100 00100 00100',
  Z: '11111 00001 00010 00100 01000 10000 11111',
  ' ': '00000 00000 00000 00000 00000 00000 00000',
  '.': '00000 00000 00000 00000 00000 01100 01100',
  ',': '00000 00000 00000 00000 01100 00100 01000',
  ':': '00000 01100 01100 00000 01100 01100 00000',
  '/': '00000 00001 00010 00100 01000 10000 00000',
  '-': '00000 00000 00000 11111 00000 00000 00000',
  '+': '00000 00100 00100 11111 00100 00100 00000',
  '=': '00000 00000 11111 00000 11111 00000 00000',
  '%': '11000 11001 00010 00100 01000 10011 00011',
  '(': '00010 00100 01000 01000 01000 00100 00010',
  ')': '01000 00100 00010 00010 00010 00100 01000',
  '<': '00010 00100 01000 10000 01000 00100 00010',
  '>': '01000 00100 00010 00001 00010 00100 01000',
  _: '00000 00000 00000 00000 00000 00000 11111',
  '!': '00100 00100 00100 00100 00100 00000 00100',
  '?': '01110 10001 00001 00010 00100 00000 00100',
  '#': '01010 01010 11111 01010 11111 01010 01010',
};

/** Each glyph as GLYPH_HEIGHT row bitmasks, bit 4 the leftmost column. */
export const GLYPHS: ReadonlyMap<string, readonly number[]> = new Map(Object.entries(ROWS).map(([ch, rows]) => [ch, rows.split(' ').map((r) => parseInt(r, 2))]));

/** The rows of `ch`'s glyph (upper case; '?' when the font lacks it). */
export function glyphOf(ch: string): readonly number[] {
  return GLYPHS.get(ch.toUpperCase()) ?? GLYPHS.get('?')!;
}

/** Width of `text` in pixels, without the trailing blank column. */
export function textWidth(text: string): number {
  return text.length === 0 ? 0 : text.length * GLYPH_ADVANCE - 1;
}

/**
 * Calls `put(x, y)` for every ink pixel of `text` with its top-left corner at (x, y): the caller
 * decides what a pixel is (an RGB write, an index in an overlay layer) and clips.
 */
export function forEachTextPixel(text: string, x: number, y: number, put: (x: number, y: number) => void): void {
  for (let k = 0; k < text.length; k++) {
    const rows = glyphOf(text[k]);
    const x0 = x + k * GLYPH_ADVANCE;
    for (let r = 0; r < GLYPH_HEIGHT; r++) {
      const bits = rows[r];
      if (bits === 0) continue;
      for (let c = 0; c < GLYPH_WIDTH; c++) if (bits & (1 << (GLYPH_WIDTH - 1 - c))) put(x0 + c, y + r);
    }
  }
}
