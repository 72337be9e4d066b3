/**
 * Pack signatures: ECDSA P-256 over export_report.json (which lists every file of the pack with
 * its sha256), written as a cosign-style `.sig` (base64 of the DER signature) and as a Sigstore
 * bundle v0.3 (messageSignature with the SHA2_256 digest, the public key as a hint, no
 * transparency-log entry), which `cosign verify-blob --key cosign.pub --bundle ...
 * --insecure-ignore-tlog=true` accepts (cosign 2.4+ with --new-bundle-format; the default in
 * cosign 3). Keys come from a PEM file or an environment variable; they are never logged.
 * Verifying a pack, and which keys it must be signed with, is ./trust.ts.
 */
import { InputError } from '../files/input-error.js';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BUNDLE, BUNDLE_MEDIA_TYPE, REPORT, SIGNATURE, keyFingerprint, parseKeyring, verifyPack as verifyWith, type PackVerification, type VerifyOptions } from './trust.js';

// The names of a signed pack's files live with their verification (./trust.ts), which needs
// nothing from here: one direction of import, no cycle.
export { REPORT, SIGNATURE, BUNDLE, PUBLIC_KEY, BUNDLE_MEDIA_TYPE, keyFingerprint } from './trust.js';

export class SigningError extends InputError {}

/** A P-256 private key from PEM text (PKCS#8 or SEC1); the text itself never appears in errors. */
export function privateKeyFromPem(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem.includes('-----BEGIN') ? pem : Buffer.from(pem, 'base64').toString('utf8'), format: 'pem' });
  } catch (err) {
    throw new SigningError(`${where}: not a PEM private key (${(err as Error).message.split('\n')[0].replace(/-----[^-]+-----/g, '')})`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new SigningError(`${where}: the key must be ECDSA P-256 (prime256v1), got ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
  return key;
}

/** The key from `file` or the environment variable `env`. */
export function loadSigningKey(src: { file?: string; env?: string }): KeyObject {
  if (src.env) {
    const v = process.env[src.env];
    if (!v) throw new SigningError(`the signing key variable $${src.env} is not set`);
    return privateKeyFromPem(v, `$${src.env}`);
  }
  if (src.file) {
    if (!existsSync(src.file)) throw new SigningError(`signing key ${src.file}: no such file`);
    return privateKeyFromPem(readFileSync(src.file, 'utf8'), src.file);
  }
  throw new SigningError('no signing key: give key.file or key.env');
}

export function generateSigningKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

export function publicPemOf(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
}

/** Signs bytes: the DER signature, the `.sig` text and the Sigstore bundle. */
export function signBlob(data: Buffer, key: KeyObject): { der: Buffer; sig: string; bundle: object } {
  const der = sign('sha256', data, key);
  const bundle = {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyFingerprint(key) }, tlogEntries: [] },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(data).digest('base64') }, signature: der.toString('base64') },
  };
  return { der, sig: der.toString('base64'), bundle };
}

/**
 * Every file under `dir`, relative, sorted (the signature files and the report excluded): what
 * sign lists. Temporary files (`.tmp-`, an atomic write under way) are left out here; verifyPack
 * (./trust.ts) skips nothing, so one left behind fails verification, named.
 */
export function packFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.filter((f) => ![REPORT, SIGNATURE, BUNDLE].includes(f) && !f.includes('.tmp-'));
}

/**
 * verifyPack (./trust.ts) with, for a PEM text, that text's keys as the trusted ones; without
 * one, self-consistency only (the result's `trust` says so).
 */
export function verifyPack(dir: string, trusted?: string | VerifyOptions): PackVerification {
  if (typeof trusted === 'string') return verifyWith(dir, { trusted: parseKeyring(trusted, 'the public key given') });
  return verifyWith(dir, trusted);
}
