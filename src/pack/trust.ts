/**
 * Whom a pack is trusted to come from, and the whole check of a signed pack against it.
 *
 * The key that a pack must be signed with never comes from the pack: a pack carries its own
 * cosign.pub, and whoever can change the pack can re-sign it and replace that too. Trusted keys
 * come from the user's configuration (a keyring file of PEM public keys: given, or named by
 * $PADDOCK_TRUSTED_KEYS, or the user keyring ~/.config/paddock/trusted-keys.pem) or, later, a
 * registry's policy, which calls verifyPack with its own keys. Without trusted keys a pack can
 * only be checked for self-consistency (its signature against its own cosign.pub), and the
 * result says so; `strict` makes that a failure.
 *
 * verifyPack is strict about every byte it is given: the report's entries (located errors, never
 * a throw), no path out of the pack, no file in the pack that the report does not list, the .sig
 * as canonical base64 of a DER ECDSA signature, and the Sigstore bundle field by field (nothing
 * unknown, nothing missing). The bundle is checked by hand rather than with @sigstore/bundle,
 * whose parser (ts-proto's fromJSON) drops unknown fields, coerces types and decodes base64
 * leniently: exactly the slack that let byte flips in verificationMaterial pass.
 */
import { InputError } from '../files/input-error.js';
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { sha256FileSync } from '../files/digest.js';
import { parseExportReport } from '../schema/export-report.js';

export const REPORT = 'export_report.json';
export const SIGNATURE = 'export_report.json.sig';
export const BUNDLE = 'export_report.sigstore.json';
export const PUBLIC_KEY = 'cosign.pub';
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export class TrustError extends InputError {}

/** A key a pack may be signed with, and where it was configured (for messages). */
export interface TrustedKey {
  key: KeyObject;
  /** base64 sha256 of the key's SPKI DER: the bundle's verificationMaterial.publicKey.hint. */
  fingerprint: string;
  source: string;
}

/** base64 of the sha256 of the key's SubjectPublicKeyInfo DER: the bundle's publicKey.hint (signBlob), and the fingerprint keys are named by. */
export function keyFingerprint(key: KeyObject): string {
  const spki = (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

const P256 = (k: KeyObject) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1';

/**
 * The public keys of a keyring: PEM `PUBLIC KEY` blocks, one or more, with blank lines and `#`
 * comments between them. Anything else is refused with its line (a private key is named as one
 * and not read further, so it never reaches a message).
 */
export function parseKeyring(text: string, where: string): TrustedKey[] {
  const lines = text.split('\n');
  const keys: TrustedKey[] = [];
  let block: { label: string; start: number; body: string[] } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '').trim();
    const at = `${where}:${i + 1}`;
    if (block) {
      const end = /^-----END ([A-Z0-9 ]+)-----$/.exec(line);
      if (!end) {
        if (line.startsWith('-----')) throw new TrustError(`${at}: ${line} inside the block begun at line ${block.start}`);
        block.body.push(line);
        continue;
      }
      if (end[1] !== block.label) throw new TrustError(`${at}: END ${end[1]} closes BEGIN ${block.label} (line ${block.start})`);
      const pem = `-----BEGIN PUBLIC KEY-----\n${block.body.join('\n')}\n-----END PUBLIC KEY-----\n`;
      let key: KeyObject;
      try {
        key = createPublicKey({ key: pem, format: 'pem' });
      } catch (err) {
        throw new TrustError(`${where}:${block.start}: not a public key (${(err as Error).message.split('\n')[0]})`);
      }
      if (!P256(key)) throw new TrustError(`${where}:${block.start}: the key must be ECDSA P-256 (prime256v1), as paddock signs with, got ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
      const fingerprint = keyFingerprint(key);
      if (!keys.some((k) => k.fingerprint === fingerprint)) keys.push({ key, fingerprint, source: `${where}:${block.start}` });
      block = undefined;
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const begin = /^-----BEGIN ([A-Z0-9 ]+)-----$/.exec(line);
    if (!begin) throw new TrustError(`${at}: not part of a PEM block (a keyring holds PUBLIC KEY blocks; comments start with #)`);
    if (begin[1].includes('PRIVATE KEY')) throw new TrustError(`${at}: a private key; a keyring holds public keys only (give the .pub file written beside it)`);
    if (begin[1] !== 'PUBLIC KEY') throw new TrustError(`${at}: a ${begin[1]} block; a keyring holds PUBLIC KEY blocks`);
    block = { label: begin[1], start: i + 1, body: [] };
  }
  if (block) throw new TrustError(`${where}:${block.start}: the PUBLIC KEY block is not closed (no -----END PUBLIC KEY-----)`);
  if (!keys.length) throw new TrustError(`${where}: holds no public key`);
  return keys;
}

/** The keyring file of one user: $XDG_CONFIG_HOME/paddock/trusted-keys.pem, ~/.config/... by default. */
export function userKeyringPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(xdg, 'paddock', 'trusted-keys.pem');
}

/** How a user gives trusted keys, for messages that say there are none. */
export function howToTrust(given: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${given}, $PADDOCK_TRUSTED_KEYS naming a keyring file, or the user keyring ${userKeyringPath(env)} (a keyring holds PEM public keys, e.g. the <key.file>.pub that the sign step writes beside the signing key)`;
}

/**
 * The keyring files in force, first match wins: the files given; else $PADDOCK_TRUSTED_KEYS
 * (set but missing is an error, never a silent fall-back); else the user keyring if it exists.
 */
export function trustedKeyringFiles(given: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): { files: string[]; from: 'given' | 'env' | 'user' } | undefined {
  if (given.length) return { files: [...given], from: 'given' };
  if (env.PADDOCK_TRUSTED_KEYS) return { files: [resolve(env.PADDOCK_TRUSTED_KEYS)], from: 'env' };
  const user = userKeyringPath(env);
  return existsSync(user) ? { files: [user], from: 'user' } : undefined;
}

/** The trusted keys from the configuration (trustedKeyringFiles), or undefined when none is configured. */
export function loadTrustedKeys(opts: { files?: readonly string[]; env?: NodeJS.ProcessEnv } = {}): TrustedKey[] | undefined {
  const found = trustedKeyringFiles(opts.files, opts.env);
  if (!found) return undefined;
  const keys: TrustedKey[] = [];
  for (const f of found.files) {
    const label = found.from === 'env' ? `${f} ($PADDOCK_TRUSTED_KEYS)` : f;
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new TrustError(`trusted keys ${label}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a keyring file' : (err as Error).message}`);
    }
    for (const k of parseKeyring(text, label)) if (!keys.some((x) => x.fingerprint === k.fingerprint)) keys.push(k);
  }
  return keys;
}

/** Whether `file` lies inside `dir` (both resolved through symlinks): a trusted key kept in the pack vouches for nothing. */
export function isInside(file: string, dir: string): boolean {
  try {
    const f = realpathSync(file);
    const d = realpathSync(dir);
    return f === d || f.startsWith(d + sep);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Strict parsers of the signature files.

/** Canonical base64: the alphabet, padding only where due, and re-encoding gives the same text. */
export function canonicalBase64(text: string): Buffer | undefined {
  if (!text.length || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** A DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) for P-256, minimal encodings, 0 < r, s < n; the problem if not. */
export function derEcdsaProblem(der: Buffer): string | undefined {
  if (der.length < 8 || der[0] !== 0x30) return 'not a DER SEQUENCE';
  if (der[1] >= 0x80) return 'the SEQUENCE length is not in short form (a P-256 signature is at most 72 bytes)';
  if (der[1] !== der.length - 2) return `the SEQUENCE says ${der[1]} bytes, ${der.length - 2} follow`;
  let at = 2;
  for (const name of ['r', 's']) {
    if (der[at] !== 0x02) return `${name} is not an INTEGER`;
    const len = der[at + 1];
    if (len === undefined || len < 1 || len > 33 || at + 2 + len > der.length) return `${name} has a bad length`;
    const v = der.subarray(at + 2, at + 2 + len);
    if (v[0] & 0x80) return `${name} is negative`;
    if (len > 1 && v[0] === 0 && !(v[1] & 0x80)) return `${name} is not minimally encoded`;
    const n = BigInt(`0x${v.toString('hex')}`);
    if (n === 0n || n >= P256_ORDER) return `${name} is out of range for P-256`;
    at += 2 + len;
  }
  return at === der.length ? undefined : 'bytes after the signature';
}

/** The .sig text: canonical base64 of a DER ECDSA signature, one trailing newline allowed. */
export function parseSigText(text: string): { der: Buffer } | { problem: string } {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const der = canonicalBase64(body);
  if (!der) return { problem: 'not canonical base64 (one line, standard alphabet, exact padding, at most one trailing newline)' };
  const p = derEcdsaProblem(der);
  return p ? { problem: `not a DER ECDSA P-256 signature (${p})` } : { der };
}

export interface SigstoreBundle {
  hint: string;
  digest: Buffer;
  signature: Buffer;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);

/**
 * The Sigstore bundle v0.3 that signBlob writes, parsed field by field: every field required,
 * none other allowed, base64 canonical, digest and signature well formed. tlogEntries must be
 * empty: an entry would need Rekor's log key and checkpoint to verify, which offline we lack,
 * and an unverified entry must not look like assurance.
 */
export function parseBundle(text: string): { bundle: SigstoreBundle } | { problems: string[] } {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    return { problems: [`not JSON (${(err as Error).message})`] };
  }
  const problems: string[] = [];
  const obj = (v: Json | undefined, path: string, keys: string[]): Record<string, Json> | undefined => {
    if (v === undefined) return void problems.push(`${path}: missing`);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return void problems.push(`${path}: expected an object, got ${kind(v)}`);
    for (const k of Object.keys(v)) if (!keys.includes(k)) problems.push(`${path ? `${path}.` : ''}${k}: unknown field (expected only ${keys.join(', ')})`);
    for (const k of keys) if (!(k in v)) problems.push(`${path ? `${path}.` : ''}${k}: missing`);
    return v;
  };
  const b64 = (v: Json | undefined, path: string, bytes?: number): Buffer | undefined => {
    if (v === undefined) return undefined; // named missing by obj()
    if (typeof v !== 'string') return void problems.push(`${path}: expected a base64 string, got ${kind(v)}`);
    const b = canonicalBase64(v);
    if (!b) return void problems.push(`${path}: not canonical base64`);
    if (bytes !== undefined && b.length !== bytes) return void problems.push(`${path}: ${b.length} bytes, expected ${bytes}`);
    return b;
  };
  const top = obj(doc, '', ['mediaType', 'verificationMaterial', 'messageSignature']);
  if (!top) return { problems: problems.map((p) => p.replace(/^: /, '')) };
  if (top.mediaType !== undefined && top.mediaType !== BUNDLE_MEDIA_TYPE) problems.push(`mediaType: ${JSON.stringify(top.mediaType)}, expected ${JSON.stringify(BUNDLE_MEDIA_TYPE)}`);
  const vm = top.verificationMaterial !== undefined ? obj(top.verificationMaterial, 'verificationMaterial', ['publicKey', 'tlogEntries']) : undefined;
  const pk = vm?.publicKey !== undefined ? obj(vm.publicKey, 'verificationMaterial.publicKey', ['hint']) : undefined;
  const hint = pk ? b64(pk.hint, 'verificationMaterial.publicKey.hint', 32) : undefined;
  if (vm?.tlogEntries !== undefined) {
    if (!Array.isArray(vm.tlogEntries)) problems.push(`verificationMaterial.tlogEntries: expected an array, got ${kind(vm.tlogEntries)}`);
    else if (vm.tlogEntries.length) problems.push(`verificationMaterial.tlogEntries: ${vm.tlogEntries.length} entr${vm.tlogEntries.length === 1 ? 'y' : 'ies'}; transparency-log entries are not verified offline, so a bundle carrying them is refused rather than half-checked`);
  }
  const ms = top.messageSignature !== undefined ? obj(top.messageSignature, 'messageSignature', ['messageDigest', 'signature']) : undefined;
  const md = ms?.messageDigest !== undefined ? obj(ms.messageDigest, 'messageSignature.messageDigest', ['algorithm', 'digest']) : undefined;
  if (md?.algorithm !== undefined && md.algorithm !== 'SHA2_256') problems.push(`messageSignature.messageDigest.algorithm: ${JSON.stringify(md.algorithm)}, expected "SHA2_256"`);
  const digest = md ? b64(md.digest, 'messageSignature.messageDigest.digest', 32) : undefined;
  const signature = ms ? b64(ms.signature, 'messageSignature.signature') : undefined;
  if (signature) {
    const p = derEcdsaProblem(signature);
    if (p) problems.push(`messageSignature.signature: not a DER ECDSA P-256 signature (${p})`);
  }
  if (problems.length || !hint || !digest || !signature) return { problems: problems.length ? problems : ['incomplete'] };
  return { bundle: { hint: hint.toString('base64'), digest, signature } };
}

// ---------------------------------------------------------------------------------------------
// The report's file list.

export interface ListedFile {
  path: string;
  sha256: string;
  bytes: number;
}

/** Why a listed path is not a plain relative path inside the pack, or undefined if it is. */
function pathProblem(p: string): string | undefined {
  if (p === '') return 'empty';
  if (p.includes('\0')) return 'contains a NUL byte';
  if (p.startsWith('/') || isAbsolute(p)) return 'an absolute path; entries are relative to the pack';
  if (p.includes('\\')) return 'contains a backslash; entries use / between folders';
  const parts = p.split('/');
  if (parts.includes('..')) return 'contains "..": it would point outside the pack';
  if (parts.some((x) => x === '' || x === '.')) return 'not in normal form (empty or "." segments)';
  return undefined;
}

/** The report's `files`, every entry checked; problems are located (`export_report.json: files[3].sha256: ...`). */
export function parseReportFiles(doc: unknown): { files: ListedFile[]; problems: string[] } {
  const problems: string[] = [];
  const at = (s: string) => `${REPORT}: ${s}`;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { files: [], problems: [at(`expected an object, got ${kind(doc)}`)] };
  const list = (doc as { files?: unknown }).files;
  if (list === undefined) return { files: [], problems: [at('files: missing')] };
  if (!Array.isArray(list)) return { files: [], problems: [at(`files: expected an array, got ${kind(list)}`)] };
  if (!list.length) return { files: [], problems: [at('files: lists no files')] };
  const files: ListedFile[] = [];
  const seen = new Map<string, number>();
  list.forEach((e: unknown, i) => {
    const where = `files[${i}]`;
    if (!e || typeof e !== 'object' || Array.isArray(e)) return void problems.push(at(`${where}: expected an object {path, sha256, bytes}, got ${kind(e)}`));
    const { path, sha256, bytes } = e as Record<string, unknown>;
    const before = problems.length;
    if (typeof path !== 'string') problems.push(at(`${where}.path: expected a string, got ${path === undefined ? 'nothing' : kind(path)}`));
    else {
      const why = pathProblem(path);
      if (why) problems.push(at(`${where}.path: ${JSON.stringify(path)} is refused: ${why}`));
      else if (seen.has(path)) problems.push(at(`${where}.path: ${JSON.stringify(path)} is listed twice (also files[${seen.get(path)}])`));
      else seen.set(path, i);
    }
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) problems.push(at(`${where}.sha256: expected 64 lowercase hex digits, got ${sha256 === undefined ? 'nothing' : typeof sha256 === 'string' ? JSON.stringify(sha256.slice(0, 80)) : kind(sha256)}`));
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) problems.push(at(`${where}.bytes: expected a whole number of bytes, got ${bytes === undefined ? 'nothing' : JSON.stringify(bytes)}`));
    if (problems.length === before) files.push({ path: path as string, sha256: sha256 as string, bytes: bytes as number });
  });
  return { files, problems };
}

/**
 * Every entry under the pack, relative, with what it is. Nothing is skipped: temporary files
 * (`.tmp-`) included. A symlink is followed only where it stays inside the pack.
 */
function walkPack(root: string): { files: string[]; problems: string[] } {
  const files: string[] = [];
  const problems: string[] = [];
  const walk = (d: string, rel: string, ancestors: string[]) => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch (err) {
      return void problems.push(`${rel || '.'}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(d, name);
      let st;
      try {
        st = lstatSync(p);
      } catch (err) {
        problems.push(`${r}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        continue;
      }
      if (st.isSymbolicLink()) {
        let real: string;
        try {
          real = realpathSync(p);
        } catch {
          problems.push(`${r}: a symlink that leads nowhere`);
          continue;
        }
        if (real !== root && !real.startsWith(root + sep)) {
          problems.push(`${r}: a symlink to outside the pack (${real})`);
          continue;
        }
        st = statSync(p);
        if (st.isDirectory() && ancestors.includes(real)) {
          problems.push(`${r}: a symlink loop`);
          continue;
        }
        if (st.isDirectory()) walk(p, r, [...ancestors, real]);
        else files.push(r);
        continue;
      }
      if (st.isDirectory()) walk(p, r, [...ancestors, realpathSync(p)]);
      else if (st.isFile()) files.push(r);
      else problems.push(`${r}: not a regular file`);
    }
  };
  walk(root, '', [root]);
  return { files, problems };
}

// ---------------------------------------------------------------------------------------------
// The whole check.

export interface VerifyOptions {
  /** The keys the pack must be signed with; undefined: none configured (self-consistency only). */
  trusted?: readonly (TrustedKey | KeyObject)[];
  /** Fail when no trusted key is configured. */
  strict?: boolean;
  /** How to configure one, for that failure (default: howToTrust with a keyring file). */
  howToTrust?: string;
}

export interface PackVerification {
  ok: boolean;
  problems: string[];
  /** Listed files whose sha256 and size were checked. */
  checked: number;
  /** The listed files (relative paths), as the report gives them. */
  files: string[];
  /** Whether the signer was checked against trusted keys, or only against the pack's own cosign.pub. */
  trust: 'trusted' | 'self-consistency';
  /** The key that the .sig verifies with, when one does: fingerprint and where it was configured. */
  signer?: { fingerprint: string; source: string };
}

const EXEMPT = new Set([REPORT, SIGNATURE, BUNDLE, PUBLIC_KEY]);
const fp = (f: string) => `sha256:${f}`;

function asTrusted(k: TrustedKey | KeyObject, i: number): TrustedKey {
  if ('fingerprint' in k) return k;
  return { key: k, fingerprint: keyFingerprint(k), source: `trusted key ${i + 1}` };
}

/** Where a pack file really is, when it lies inside the pack (no symlink out) and is a regular file; or why not; undefined when missing. */
function locateInside(root: string, rel: string): { real: string } | { problem: string } | undefined {
  const p = join(root, rel);
  if (!existsSync(p)) return undefined;
  let real: string;
  try {
    real = realpathSync(p);
  } catch {
    return { problem: `${rel}: a symlink that leads nowhere` };
  }
  if (!real.startsWith(root + sep)) return { problem: `${rel}: resolves to ${real}, outside the pack` };
  if (!statSync(real).isFile()) return { problem: `${rel}: not a regular file` };
  return { real };
}

/** A small pack file (the report, its signatures, the key), read as locateInside finds it. */
function readInside(root: string, rel: string): { bytes: Buffer } | { problem: string } | undefined {
  const at = locateInside(root, rel);
  return at && 'real' in at ? { bytes: readFileSync(at.real) } : at;
}

/**
 * Verifies a pack: the signer (a trusted key, or, without any, the pack's own cosign.pub: said
 * in `trust`), the .sig and the Sigstore bundle over export_report.json, the report against its
 * versioned schema (src/schema/export-report.ts, each problem located), every listed file's
 * sha256 and size, and that the pack holds nothing else. Never throws on what is in the pack.
 */
export function verifyPack(dir: string, opts: VerifyOptions = {}): PackVerification {
  const problems: string[] = [];
  const trusted = opts.trusted?.map(asTrusted);
  const trust = trusted ? 'trusted' : 'self-consistency';
  const fail = (p: string[]): PackVerification => ({ ok: false, problems: p, checked: 0, files: [], trust });
  if (trusted && !trusted.length) return fail(['the trusted key list is empty: no pack can verify against it']);
  if (!trusted && opts.strict) problems.push(`no trusted key is configured, so who signed the pack cannot be checked (strict): give one with ${opts.howToTrust ?? howToTrust('a keyring file')}`);
  let root: string;
  try {
    root = realpathSync(resolve(dir));
    if (!statSync(root).isDirectory()) return fail([`${dir}: not a directory`]);
  } catch {
    return fail([`${dir}: no such directory`]);
  }

  const report = readInside(root, REPORT);
  if (!report) return fail([...problems, `${REPORT}: missing`]);
  if ('problem' in report) return fail([...problems, report.problem]);
  const data = report.bytes;

  // The pack's own key: the signer without trusted keys; with them, only for the message that
  // names who did sign, and it must then be the signer's key (a consumer may read it).
  let packKey: TrustedKey | undefined;
  const pub = readInside(root, PUBLIC_KEY);
  if (pub && 'problem' in pub) problems.push(pub.problem);
  else if (pub) {
    try {
      const keys = parseKeyring(pub.bytes.toString('utf8'), PUBLIC_KEY);
      if (keys.length > 1) problems.push(`${PUBLIC_KEY}: holds ${keys.length} keys; a pack names the one it is signed with`);
      packKey = { ...keys[0], source: `${PUBLIC_KEY} in the pack` };
    } catch (err) {
      problems.push((err as Error).message);
    }
  } else if (!trusted) problems.push(`${PUBLIC_KEY}: missing, and no trusted key was given to verify with`);
  const candidates = trusted ?? (packKey ? [packKey] : []);

  let signer: TrustedKey | undefined;
  const sig = readInside(root, SIGNATURE);
  if (!sig) problems.push(`${SIGNATURE}: missing`);
  else if ('problem' in sig) problems.push(sig.problem);
  else {
    const parsed = parseSigText(sig.bytes.toString('latin1'));
    if ('problem' in parsed) problems.push(`${SIGNATURE}: ${parsed.problem}`);
    else if (candidates.length) {
      signer = candidates.find((k) => verify('sha256', data, k.key, parsed.der));
      if (!signer && trusted) {
        const by = packKey && verify('sha256', data, packKey.key, parsed.der) ? `it was signed with key ${fp(packKey.fingerprint)} (the ${PUBLIC_KEY} in the pack)` : `it verifies with none of them${packKey ? `, nor with the ${PUBLIC_KEY} in the pack (${fp(packKey.fingerprint)})` : ''}`;
        problems.push(`${SIGNATURE}: not signed by a trusted key: ${by}; trusted: ${trusted.map((k) => `${fp(k.fingerprint)} (${k.source})`).join(', ')}`);
      } else if (!signer) problems.push(`${SIGNATURE}: the signature does not match ${REPORT} and ${PUBLIC_KEY}`);
    }
  }
  if (signer && packKey && packKey.fingerprint !== signer.fingerprint) problems.push(`${PUBLIC_KEY}: key ${fp(packKey.fingerprint)}, not the key the pack is signed with (${fp(signer.fingerprint)})`);

  const bundleFile = readInside(root, BUNDLE);
  if (!bundleFile) problems.push(`${BUNDLE}: missing`);
  else if ('problem' in bundleFile) problems.push(bundleFile.problem);
  else {
    let text: string | undefined;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bundleFile.bytes);
    } catch {
      problems.push(`${BUNDLE}: not UTF-8`);
    }
    const parsed = text === undefined ? undefined : parseBundle(text);
    if (parsed && 'problems' in parsed) problems.push(...parsed.problems.map((p) => `${BUNDLE}: ${p}`));
    else if (parsed) {
      const b = parsed.bundle;
      if (!b.digest.equals(createHash('sha256').update(data).digest())) problems.push(`${BUNDLE}: messageSignature.messageDigest.digest is not the sha256 of ${REPORT}`);
      if (signer) {
        if (b.hint !== signer.fingerprint) problems.push(`${BUNDLE}: verificationMaterial.publicKey.hint names key ${fp(b.hint)}, but the pack is signed with ${fp(signer.fingerprint)}`);
        if (!verify('sha256', data, signer.key, b.signature)) problems.push(`${BUNDLE}: messageSignature.signature does not verify with the signing key`);
      } else if (candidates.length && !candidates.some((k) => k.fingerprint === b.hint)) problems.push(`${BUNDLE}: verificationMaterial.publicKey.hint names key ${fp(b.hint)}, which is not ${trusted ? 'a trusted key' : `the ${PUBLIC_KEY} in the pack`}`);
    }
  }

  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (err) {
    return { ok: false, problems: [...problems, `${REPORT}: not JSON (${(err as Error).message})`], checked: 0, files: [], trust, signer: signer && { fingerprint: signer.fingerprint, source: signer.source } };
  }
  const listed = parseReportFiles(doc);
  problems.push(...listed.problems);
  // The rest of the report against its versioned schema (src/schema/export-report.ts), each
  // problem located; `files` is checked above, with its own messages.
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) problems.push(...parseExportReport(doc, { file: REPORT, skip: ['files'] }).problems);
  let checked = 0;
  for (const f of listed.files) {
    const got = locateInside(root, f.path);
    if (!got) {
      problems.push(`${f.path}: listed but missing`);
      continue;
    }
    if ('problem' in got) {
      problems.push(got.problem);
      continue;
    }
    const d = sha256FileSync(got.real);
    checked++;
    if (d.sha256 !== f.sha256) problems.push(`${f.path}: sha256 ${d.sha256}, the report says ${f.sha256}`);
    else if (d.bytes !== f.bytes) problems.push(`${f.path}: ${d.bytes} bytes, the report says ${f.bytes}`);
  }
  const walked = walkPack(root);
  problems.push(...walked.problems);
  const names = new Set(listed.files.map((f) => f.path));
  // A malformed entry's path still counts as listed, so its file is not named twice.
  if (doc && typeof doc === 'object' && Array.isArray((doc as { files?: unknown }).files)) for (const e of (doc as { files: unknown[] }).files) if (e && typeof e === 'object' && typeof (e as { path?: unknown }).path === 'string') names.add((e as { path: string }).path);
  for (const f of walked.files) if (!names.has(f) && !EXEMPT.has(f)) problems.push(`${f}: in the pack but not listed in ${REPORT} (not covered by the signature)`);
  return { ok: problems.length === 0, problems, checked, files: listed.files.map((f) => f.path), trust, signer: signer && { fingerprint: signer.fingerprint, source: signer.source } };
}

/** The result in one line, for a log: who signed it, and how far that is known. */
export function describeTrust(r: PackVerification): string {
  if (r.trust === 'trusted') return r.signer ? `signed by trusted key ${fp(r.signer.fingerprint)} (${r.signer.source})` : 'not signed by a trusted key';
  return `self-consistent only: signed with the pack's own ${PUBLIC_KEY}${r.signer ? ` (${fp(r.signer.fingerprint)})` : ''}, which anyone who can change the pack can replace; no trusted key was configured, so who signed it is not checked`;
}
