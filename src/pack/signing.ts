/**
 * Pack signatures: ECDSA P-256 over export_report.json (which lists every file of the pack with
 * its sha256), written as a cosign-style `.sig` (base64 of the DER signature) and as a Sigstore
 * bundle v0.3 (messageSignature with the SHA2_256 digest, the public key as a hint, no
 * transparency-log entry), which `cosign verify-blob --key cosign.pub --bundle ...
 * --insecure-ignore-tlog=true` accepts (cosign 2.4+ with --new-bundle-format; the default in
 * cosign 3). Keys come from a PEM file or an environment variable; they are never logged.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sha256FileSync } from '../files/digest.js';

export const REPORT = 'export_report.json';
export const SIGNATURE = 'export_report.json.sig';
export const BUNDLE = 'export_report.sigstore.json';
export const PUBLIC_KEY = 'cosign.pub';
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export class SigningError extends Error {}

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
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const bundle = {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: createHash('sha256').update(spki).digest('base64') }, tlogEntries: [] },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(data).digest('base64') }, signature: der.toString('base64') },
  };
  return { der, sig: der.toString('base64'), bundle };
}

export interface VerifyResult {
  ok: boolean;
  problems: string[];
  checked: number;
  notListed: string[];
}

/** Every file under `dir`, relative, sorted (the signature files and the report excluded). */
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
 * Verifies a pack: the signature over export_report.json (the .sig and the bundle, against
 * cosign.pub or the key given), then every listed file's sha256 and size.
 */
export function verifyPack(dir: string, publicKeyPem?: string): VerifyResult {
  const problems: string[] = [];
  const reportPath = join(dir, REPORT);
  if (!existsSync(reportPath)) return { ok: false, problems: [`${reportPath}: missing`], checked: 0, notListed: [] };
  const data = readFileSync(reportPath);
  const pubPem = publicKeyPem ?? (existsSync(join(dir, PUBLIC_KEY)) ? readFileSync(join(dir, PUBLIC_KEY), 'utf8') : undefined);
  if (!pubPem) problems.push(`no public key: ${join(dir, PUBLIC_KEY)} is missing and none was given`);
  let pub: KeyObject | undefined;
  if (pubPem) {
    try {
      pub = createPublicKey(pubPem);
    } catch (err) {
      problems.push(`${publicKeyPem ? 'the key given' : PUBLIC_KEY}: not a public key (${(err as Error).message})`);
    }
  }
  if (pub) {
    const sigFile = join(dir, SIGNATURE);
    if (!existsSync(sigFile)) problems.push(`${SIGNATURE}: missing`);
    else if (!verify('sha256', data, pub, Buffer.from(readFileSync(sigFile, 'utf8').trim(), 'base64'))) problems.push(`${SIGNATURE}: the signature does not match ${REPORT} and the public key`);
    const bundleFile = join(dir, BUNDLE);
    if (!existsSync(bundleFile)) problems.push(`${BUNDLE}: missing`);
    else {
      try {
        const b = JSON.parse(readFileSync(bundleFile, 'utf8')) as { mediaType?: string; messageSignature?: { messageDigest?: { algorithm?: string; digest?: string }; signature?: string } };
        if (b.mediaType !== BUNDLE_MEDIA_TYPE) problems.push(`${BUNDLE}: mediaType is ${JSON.stringify(b.mediaType)}, expected ${BUNDLE_MEDIA_TYPE}`);
        const md = b.messageSignature?.messageDigest;
        if (md?.algorithm !== 'SHA2_256' || md.digest !== createHash('sha256').update(data).digest('base64')) problems.push(`${BUNDLE}: the message digest does not match ${REPORT}`);
        if (!b.messageSignature?.signature || !verify('sha256', data, pub, Buffer.from(b.messageSignature.signature, 'base64'))) problems.push(`${BUNDLE}: the signature does not verify`);
      } catch (err) {
        problems.push(`${BUNDLE}: not JSON (${(err as Error).message})`);
      }
    }
  }
  let report: { files?: { path: string; sha256: string; bytes: number }[] };
  try {
    report = JSON.parse(data.toString('utf8'));
  } catch (err) {
    return { ok: false, problems: [...problems, `${REPORT}: not JSON (${(err as Error).message})`], checked: 0, notListed: [] };
  }
  const files = report.files ?? [];
  if (!files.length) problems.push(`${REPORT}: lists no files`);
  let checked = 0;
  for (const f of files) {
    const p = join(dir, f.path);
    if (!existsSync(p)) {
      problems.push(`${f.path}: listed but missing`);
      continue;
    }
    const d = sha256FileSync(p);
    checked++;
    if (d.sha256 !== f.sha256) problems.push(`${f.path}: sha256 ${d.sha256}, the report says ${f.sha256}`);
    else if (d.bytes !== f.bytes) problems.push(`${f.path}: ${d.bytes} bytes, the report says ${f.bytes}`);
  }
  const listed = new Set(files.map((f) => f.path));
  const notListed = packFiles(dir).filter((f) => !listed.has(f));
  return { ok: problems.length === 0, problems, checked, notListed };
}
