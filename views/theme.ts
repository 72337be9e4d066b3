/**
 * Colors and glyphs, chosen once at the root: NO_COLOR or FORCE_COLOR=0 give monochrome; a
 * non-UTF-8 locale gives ASCII; a dumb terminal gives both. Status is never shown by color alone: every
 * status has its own symbol.
 */
import { ASCII_GLYPHS, UNICODE_GLYPHS, type Glyphs } from './charts.js';

export interface Theme {
  color: boolean;
  unicode: boolean;
  glyphs: Glyphs;
  status: Record<string, { symbol: string; color?: string }>;
  accent?: string;
  dim: boolean;
}

export function detectTheme(env: NodeJS.ProcessEnv = process.env): Theme {
  const color = !('NO_COLOR' in env) && env.FORCE_COLOR !== '0' && env.TERM !== 'dumb';
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  const unicode = env.TERM !== 'dumb' && (locale === '' || /utf-?8/i.test(locale));
  return makeTheme(color, unicode);
}

export function makeTheme(color: boolean, unicode: boolean): Theme {
  const s = (u: string, a: string, c: string) => ({ symbol: unicode ? u : a, color: color ? c : undefined });
  return {
    color,
    unicode,
    glyphs: unicode ? UNICODE_GLYPHS : ASCII_GLYPHS,
    status: {
      pending: s('○', '.', 'gray'),
      started: s('●', '*', 'cyan'),
      running: s('●', '*', 'cyan'),
      succeeded: s('✔', '+', 'green'),
      skipped: s('↷', '-', 'gray'),
      reused: s('↺', '=', 'green'),
      failed: s('✘', 'x', 'red'),
      cancelled: s('⊘', '!', 'yellow'),
    },
    accent: color ? 'cyan' : undefined,
    dim: color,
  };
}

/**
 * Cuts text to `width` columns with an ellipsis of the theme's alphabet, so that Ink never has
 * to truncate (its "…" is not ASCII). Counts UTF-16 units: the text shown here is ASCII or
 * single-column symbols.
 */
export function clip(text: string, width: number, unicode: boolean): string {
  if (text.length <= width) return text;
  const ell = unicode ? '…' : '...';
  return width <= ell.length ? text.slice(0, width) : text.slice(0, width - ell.length) + ell;
}
