/**
 * A streaming parser for event-protocol lines from any process.
 *
 * Bytes arrive in arbitrary chunks (a line may be split anywhere, even inside a UTF-8
 * sequence); lines end in LF or CRLF; blank lines are ignored; a line over `maxLineBytes` is
 * skipped without ever being held in memory and reported as an error; invalid JSON, unknown
 * event types, wrong protocol versions and schema violations each become an error result that
 * names the line number. Nothing throws and nothing is dropped silently.
 */
import { Event, EVENT_TYPES, PROTOCOL_VERSION } from './events.js';
import type { z } from 'zod';

/** One parsed line: an event, or an error that names the line. */
export type LineResult =
  | { ok: true; line: number; event: Event }
  | { ok: false; line: number; error: string; text?: string };

/** The default bound on one line: 4 MiB (a batch of 100k latency samples fits in about 1 MiB). */
export const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;

const LF = 0x0a;
const KNOWN_TYPES = new Set<string>(EVENT_TYPES);
const PREVIEW_CHARS = 120;

function preview(text: string): string {
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

/** Formats a zod issue list as `samples[3]: expected number, received string`. */
export function formatZodIssues(error: z.ZodError, max = 3): string {
  const parts = error.issues.slice(0, max).map((issue) => {
    const path = issue.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join('');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const more = error.issues.length > max ? ` (and ${error.issues.length - max} more)` : '';
  return parts.join('; ') + more;
}

/**
 * Decodes one complete line of text (without its line ending) into an event or an error.
 * `decodeEventLine('{"v":1,"type":"log","level":"info","message":"hi"}', 1)`
 *   -> { ok: true, line: 1, event: { v: 1, type: 'log', level: 'info', message: 'hi' } }
 */
export function decodeEventLine(text: string, line: number): LineResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, line, error: `line ${line}: invalid JSON (${(err as Error).message})`, text: preview(text) };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, line, error: `line ${line}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`, text: preview(text) };
  }
  const obj = value as Record<string, unknown>;
  if (!('v' in obj)) {
    return { ok: false, line, error: `line ${line}: missing protocol version "v" (expected ${PROTOCOL_VERSION})`, text: preview(text) };
  }
  if (obj.v !== PROTOCOL_VERSION) {
    return { ok: false, line, error: `line ${line}: protocol version ${JSON.stringify(obj.v)} is not supported (this paddock speaks v${PROTOCOL_VERSION})`, text: preview(text) };
  }
  if (typeof obj.type !== 'string' || !KNOWN_TYPES.has(obj.type)) {
    return {
      ok: false,
      line,
      error: `line ${line}: unknown event type ${JSON.stringify(obj.type)} (known: ${EVENT_TYPES.join(', ')})`,
      text: preview(text),
    };
  }
  const parsed = Event.safeParse(obj);
  if (!parsed.success) {
    return { ok: false, line, error: `line ${line}: invalid ${obj.type} event: ${formatZodIssues(parsed.error)}`, text: preview(text) };
  }
  return { ok: true, line, event: parsed.data };
}

/** Options of the streaming parser. */
export interface EventLineParserOptions {
  /** Lines longer than this many bytes are skipped and reported; default 4 MiB. */
  maxLineBytes?: number;
}

/** A complete line of text, or the size of one that was too long to keep. */
export type SplitLine = { line: number; text: string } | { line: number; overflowBytes: number };

/**
 * Splits a byte stream into lines (LF or CRLF), bounded: a line longer than `maxLineBytes`
 * is dropped as it arrives and reported by its size. Blank lines are counted, not returned.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overflowBytes = 0;
  private lineNo = 0;

  constructor(maxLineBytes = DEFAULT_MAX_LINE_BYTES) {
    this.maxLineBytes = maxLineBytes;
  }

  /** The number of lines completed so far (blank lines included). */
  get lines(): number {
    return this.lineNo;
  }

  push(chunk: Buffer | Uint8Array | string, out: SplitLine[] = []): SplitLine[] {
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(LF, start);
      if (nl === -1) {
        this.append(buf.subarray(start));
        break;
      }
      this.append(buf.subarray(start, nl));
      this.finishLine(out);
      start = nl + 1;
    }
    return out;
  }

  /** Completes a last line that had no line ending. */
  end(out: SplitLine[] = []): SplitLine[] {
    if (this.pendingBytes > 0 || this.overflowBytes > 0) this.finishLine(out);
    return out;
  }

  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.overflowBytes > 0) {
      this.overflowBytes += piece.length;
      return;
    }
    if (this.pendingBytes + piece.length > this.maxLineBytes) {
      // Drop what we held: an over-long line is never kept whole in memory.
      this.overflowBytes = this.pendingBytes + piece.length;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(piece);
    this.pendingBytes += piece.length;
  }

  private finishLine(out: SplitLine[]): void {
    this.lineNo += 1;
    const line = this.lineNo;
    if (this.overflowBytes > 0) {
      out.push({ line, overflowBytes: this.overflowBytes });
      this.overflowBytes = 0;
      return;
    }
    const buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (buf === undefined || buf.length === 0) return;
    let text = buf.toString('utf8');
    if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
    if (text.trim() === '') return;
    out.push({ line, text });
  }
}

/**
 * Splits a byte stream into lines and decodes each. Feed it with `push(chunk)` and finish with
 * `end()`; both return the results of the lines they completed, in order.
 */
export class EventLineParser {
  private readonly splitter: LineSplitter;
  private readonly maxLineBytes: number;

  constructor(options: EventLineParserOptions = {}) {
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.splitter = new LineSplitter(this.maxLineBytes);
  }

  /** The number of lines completed so far (blank lines included). */
  get lines(): number {
    return this.splitter.lines;
  }

  push(chunk: Buffer | Uint8Array | string): LineResult[] {
    return this.decode(this.splitter.push(chunk));
  }

  end(): LineResult[] {
    return this.decode(this.splitter.end());
  }

  private decode(lines: SplitLine[]): LineResult[] {
    return lines.map((l) =>
      'text' in l
        ? decodeEventLine(l.text, l.line)
        : { ok: false as const, line: l.line, error: `line ${l.line}: line of ${l.overflowBytes} bytes exceeds the limit of ${this.maxLineBytes} bytes; skipped` },
    );
  }
}
