/**
 * Turns one Ink input callback into key names for the binding table (keymap.ts); a burst like
 * "jjj" arrives as one input and becomes three keys.
 */
import type { Key } from 'ink';

export function keyNames(input: string, key: Key): string[] {
  if (key.ctrl && input === 'c') return ['ctrl+c'];
  // The line editor's: Ctrl+U erases the line, Ctrl+W the last word (as readline does).
  if (key.ctrl && (input === 'u' || input === 'w')) return [`ctrl+${input}`];
  if (key.escape) return ['escape'];
  if (key.tab) return ['tab'];
  if (key.return) return ['return'];
  // ink 6 reports 0x7F as key.delete; treat it as backspace
  if (key.backspace || key.delete) return ['backspace'];
  if (key.upArrow) return ['up'];
  if (key.downArrow) return ['down'];
  if (key.leftArrow) return ['left'];
  if (key.rightArrow) return ['right'];
  if (key.pageUp) return ['pageup'];
  if (key.pageDown) return ['pagedown'];
  if (key.home) return ['home'];
  if (key.end) return ['end'];
  // A pasted or buffered line may end with a carriage return: keep the text, then Enter.
  const out: string[] = [];
  for (const ch of input) out.push(ch === '\r' || ch === '\n' ? 'return' : ch);
  return out;
}
