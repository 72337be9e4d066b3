/**
 * Protobuf text format (what Triton's config.pbtxt is written in): a parser to a generic tree
 * and a writer back, without a schema. Every field maps to a list of values (text format does not
 * say which fields repeat); a value is a number, a string, an enum identifier or a message.
 * Errors name the line and column.
 */
import { InputError } from '../files/input-error.js';

export type PbValue = number | string | { enum: string } | PbMessage;
export interface PbMessage {
  [field: string]: PbValue[];
}

export class PbtxtError extends InputError {}

type Tok = { kind: 'id' | 'num' | 'str' | 'punct'; text: string; value?: number | string; line: number; col: number };

function tokenize(text: string, where: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      line++;
      lineStart = ++i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    const col = i - lineStart + 1;
    if ('{}[]:,;<>'.includes(c)) {
      toks.push({ kind: 'punct', text: c === '<' ? '{' : c === '>' ? '}' : c, line, col });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\n') throw new PbtxtError(`${where}:${line}:${col}: unterminated string`);
        if (text[j] === '\\') {
          const e = text[++j];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        } else s += text[j];
        j++;
      }
      if (j >= text.length) throw new PbtxtError(`${where}:${line}:${col}: unterminated string`);
      toks.push({ kind: 'str', text: text.slice(i, j + 1), value: s, line, col });
      i = j + 1;
      continue;
    }
    const m = /^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)[fF]?/.exec(text.slice(i));
    if (m && (/[\d.]/.test(c) || ((c === '-' || c === '+') && /[\d.i]/.test(text[i + 1] ?? '')))) {
      toks.push({ kind: 'num', text: m[0], value: Number(m[0].replace(/[fF]$/, '').replace(/inf$/, 'Infinity').replace(/nan$/, 'NaN')), line, col });
      i += m[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i));
    if (id) {
      toks.push({ kind: 'id', text: id[0], line, col });
      i += id[0].length;
      continue;
    }
    throw new PbtxtError(`${where}:${line}:${col}: unexpected character ${JSON.stringify(c)}`);
  }
  return toks;
}

/** Parses config.pbtxt text. */
export function parsePbtxt(text: string, where = 'config.pbtxt'): PbMessage {
  const toks = tokenize(text, where);
  let k = 0;
  const at = (t: Tok | undefined) => (t ? `${where}:${t.line}:${t.col}` : `${where}: at the end`);
  const expect = (p: string) => {
    const t = toks[k];
    if (!t || t.kind !== 'punct' || t.text !== p) throw new PbtxtError(`${at(t)}: expected "${p}", got ${t ? JSON.stringify(t.text) : 'the end of the file'}`);
    k++;
  };
  const scalar = (): PbValue => {
    const t = toks[k++];
    if (!t) throw new PbtxtError(`${where}: a value is missing at the end`);
    if (t.kind === 'num') return t.value as number;
    if (t.kind === 'str') {
      let s = t.value as string;
      while (toks[k]?.kind === 'str') s += toks[k++].value as string; // adjacent strings concatenate
      return s;
    }
    if (t.kind === 'id') return t.text === 'true' ? 1 : t.text === 'false' ? 0 : { enum: t.text };
    throw new PbtxtError(`${at(t)}: expected a value, got ${JSON.stringify(t.text)}`);
  };
  const message = (end: string | undefined): PbMessage => {
    const msg: PbMessage = {};
    for (;;) {
      const t = toks[k];
      if (!t) {
        if (end) throw new PbtxtError(`${where}: "${end}" is missing at the end`);
        return msg;
      }
      if (t.kind === 'punct' && t.text === end) {
        k++;
        return msg;
      }
      if (t.kind !== 'id') throw new PbtxtError(`${at(t)}: expected a field name, got ${JSON.stringify(t.text)}`);
      k++;
      const name = t.text;
      const list = (msg[name] ??= []);
      let colon = false;
      if (toks[k]?.kind === 'punct' && toks[k].text === ':') {
        colon = true;
        k++;
      }
      const nt = toks[k];
      if (nt?.kind === 'punct' && nt.text === '{') {
        k++;
        list.push(message('}'));
      } else if (nt?.kind === 'punct' && nt.text === '[') {
        k++;
        if (toks[k]?.kind === 'punct' && toks[k].text === ']') k++;
        else
          for (;;) {
            if (toks[k]?.kind === 'punct' && toks[k].text === '{') {
              k++;
              list.push(message('}'));
            } else list.push(scalar());
            const sep = toks[k];
            if (sep?.kind === 'punct' && sep.text === ',') {
              k++;
              continue;
            }
            expect(']');
            break;
          }
      } else {
        if (!colon) throw new PbtxtError(`${at(nt)}: expected ":" or "{" after ${name}`);
        list.push(scalar());
      }
      if (toks[k]?.kind === 'punct' && (toks[k].text === ',' || toks[k].text === ';')) k++;
    }
  };
  return message(undefined);
}

const isMsg = (v: PbValue): v is PbMessage => typeof v === 'object' && !('enum' in v && Object.keys(v).length === 1 && typeof (v as { enum: unknown }).enum === 'string');

function formatScalar(v: PbValue): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  return (v as { enum: string }).enum;
}

/** Writes a message as text format, two-space indented; one line per scalar, lists of numbers inline. */
export function formatPbtxt(msg: PbMessage, indent = ''): string {
  let out = '';
  for (const [name, values] of Object.entries(msg)) {
    if (!values.length) continue;
    if (values.every((v) => typeof v === 'number') && values.length > 1) {
      out += `${indent}${name}: [ ${values.map(formatScalar).join(', ')} ]\n`;
      continue;
    }
    for (const v of values) {
      if (isMsg(v)) out += `${indent}${name} {\n${formatPbtxt(v, `${indent}  `)}${indent}}\n`;
      else out += `${indent}${name}: ${formatScalar(v)}\n`;
    }
  }
  return out;
}

/** First value of a field, or undefined. */
export const pbFirst = (m: PbMessage, f: string): PbValue | undefined => m[f]?.[0];
export const pbString = (m: PbMessage, f: string): string | undefined => {
  const v = pbFirst(m, f);
  return typeof v === 'string' ? v : v && typeof v === 'object' && 'enum' in v ? String(v.enum) : undefined;
};
export const pbMessages = (m: PbMessage, f: string): PbMessage[] => (m[f] ?? []).filter(isMsg) as PbMessage[];
