/**
 * Trust anchored outside the pack (src/pack/trust.ts), each finding of issue 13 reproduced on a
 * real pack signed by the real sign step, then shown refused: a pack re-signed with another key
 * (fails against the trusted key; `paddock verify --strict` with no key configured exits
 * non-zero; publish and verify-pack refuse it), a file the report does not list and a `.tmp-`
 * file, entries that leave the pack (`../../..`, absolute, through a symlink), every byte of the
 * Sigstore bundle and of the .sig flipped, the .sig's base64 padding changed, malformed report
 * entries (located errors, no stack), and keyrings that are not keyrings.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE, PUBLIC_KEY, REPORT, SIGNATURE, generateSigningKey, privateKeyFromPem, signBlob } from '../../src/pack/signing.js';
import { canonicalBase64, keyFingerprint, loadTrustedKeys, parseKeyring, userKeyringPath, verifyPack, type TrustedKey } from '../../src/pack/trust.js';
import { paddock } from '../helpers/cli.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';

const STEP = join(ROOT, 'dist', 'step.js');
let tmp: ReturnType<typeof tempDir>;
let pack: string;
let keyFile: string;
let publisher: TrustedKey[];
/** No trusted key anywhere: an empty config home, no $PADDOCK_TRUSTED_KEYS. */
let bare: Record<string, string>;

function makePack(dir: string) {
  mkdirSync(join(dir, 'reports'), { recursive: true });
  mkdirSync(join(dir, 'triton', 'm', '1'), { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), Buffer.from('not really a model, but bytes that are signed'));
  writeFileSync(join(dir, 'reports', 'stage.json'), JSON.stringify({ step: 'stage', status: 'succeeded', environment: { node: process.versions.node } }));
  writeFileSync(join(dir, 'triton', 'm', 'config.pbtxt'), 'name: "m"\nbackend: "onnxruntime"\n');
}

async function sign(dir: string, key: object, env: Record<string, string> = {}) {
  const r = await execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack: dir, model: 'm', version: '1.0.0', key })], { env: { ...bare, ...env }, reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
}

/** A copy of the signed pack, to break. */
function copy(name: string): string {
  const d = join(tmp.dir, 'copies', name, '1.0.0');
  cpSync(pack, d, { recursive: true });
  return d;
}

const step = (name: string, params: object, env: Record<string, string> = {}) => execa(process.execPath, [STEP, name, JSON.stringify(params)], { env: { ...bare, ...env }, reject: false });

beforeAll(async () => {
  tmp = tempDir();
  mkdirSync(join(tmp.dir, 'config'));
  bare = { XDG_CONFIG_HOME: join(tmp.dir, 'config'), PADDOCK_TRUSTED_KEYS: '' };
  pack = join(tmp.dir, 'packs', 'm', '1.0.0');
  makePack(pack);
  keyFile = join(tmp.dir, 'keys', 'publisher.pem');
  // The sign step writes the public key beside the private one: the key a verifier trusts.
  await sign(pack, { file: keyFile, generate: true });
  publisher = parseKeyring(readFileSync(`${keyFile}.pub`, 'utf8'), `${keyFile}.pub`);
}, 60_000);
afterAll(() => tmp.cleanup());

describe('the signer is checked against keys from outside the pack', () => {
  it('a pack re-signed with another key verifies only as self-consistent, and fails against the trusted key, naming the key it was signed with', async () => {
    expect(verifyPack(pack, { trusted: publisher })).toMatchObject({ ok: true, trust: 'trusted', signer: { fingerprint: publisher[0].fingerprint } });
    const forged = copy('forged');
    const attacker = generateSigningKey();
    await sign(forged, { env: 'ATTACKER_KEY' }, { ATTACKER_KEY: attacker.privatePem });
    const attackerFp = keyFingerprint(createPublicKey(attacker.publicPem));
    // The finding: checked only against what the pack carries, it holds together.
    expect(verifyPack(forged)).toMatchObject({ ok: true, trust: 'self-consistency' });
    const r = verifyPack(forged, { trusted: publisher });
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toBe(`${SIGNATURE}: not signed by a trusted key: it was signed with key sha256:${attackerFp} (the ${PUBLIC_KEY} in the pack); trusted: sha256:${publisher[0].fingerprint} (${keyFile}.pub:1)`);
    // A bare KeyObject (a registry's policy) serves as well.
    expect(verifyPack(forged, { trusted: [createPublicKey(readFileSync(`${keyFile}.pub`))] }).ok).toBe(false);
    expect(verifyPack(forged, { strict: true }).problems[0]).toMatch(/^no trusted key is configured, so who signed the pack cannot be checked \(strict\): give one with a keyring file, \$PADDOCK_TRUSTED_KEYS/);

    // paddock verify: plain about self-consistency; --strict without a key fails; --key fails it.
    const plain = await paddock(['verify', forged], bare);
    expect(plain.exitCode, plain.stdout).toBe(0);
    expect(plain.stdout).toMatch(/^note: no trusted key is configured, so this checks self-consistency only/m);
    expect(plain.stdout).toMatch(/^OK .* \(self-consistent only, no trusted key\): signature valid, 4 files match their sha256$/m);
    const strict = await paddock(['verify', forged, '--strict'], bare);
    expect(strict.exitCode).toBe(1);
    expect(strict.stdout).toContain(`FAIL no trusted key is configured, so who signed the pack cannot be checked (strict): give one with --key FILE (or --keyring FILE), $PADDOCK_TRUSTED_KEYS naming a keyring file, or the user keyring ${join(tmp.dir, 'config', 'paddock', 'trusted-keys.pem')}`);
    const keyed = await paddock(['verify', forged, '--key', `${keyFile}.pub`], bare);
    expect(keyed.exitCode).toBe(1);
    expect(keyed.stdout).toContain(`it was signed with key sha256:${attackerFp}`);
    const good = await paddock(['verify', pack, '--keyring', `${keyFile}.pub`, '--strict', '--json'], bare);
    expect(good.exitCode, good.stdout).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, trust: 'trusted', signer: { fingerprint: publisher[0].fingerprint }, problems: [] });

    // verify-pack and publish are strict by default and name how to give a key.
    const vpBare = await step('verify-pack', { pack: forged });
    expect(vpBare.exitCode).toBe(1);
    expect(vpBare.stderr).toMatch(/no trusted key is configured, so who signed the pack cannot be checked \(strict\): give one with a `trusted_keys:` parameter naming a keyring file, \$PADDOCK_TRUSTED_KEYS naming a keyring file, or the user keyring \S+trusted-keys\.pem/);
    const vp = await step('verify-pack', { pack: forged, trusted_keys: `${keyFile}.pub` });
    expect(vp.exitCode).toBe(1);
    expect(vp.stderr).toContain(`it was signed with key sha256:${attackerFp}`);
    expect(vp.stdout).toContain('"name":"pack.verified","value":0');
    expect((await step('verify-pack', { pack, trusted_keys: `${keyFile}.pub` })).exitCode).toBe(0);
    // The endpoint is nowhere: publish must refuse before it sends anything.
    const pub = await step('publish', { pack: forged, bucket: 'packs', endpoint: 'http://127.0.0.1:9', trusted_keys: `${keyFile}.pub` });
    expect(pub.exitCode).toBe(1);
    expect(pub.stderr).toContain('publish: the pack does not verify, nothing was sent');
    expect(pub.stderr).toContain(`sha256:${attackerFp}`);
    const pubBare = await step('publish', { pack, bucket: 'packs', endpoint: 'http://127.0.0.1:9' });
    expect(pubBare.exitCode).toBe(1);
    expect(pubBare.stderr).toMatch(/nothing was sent:\n {2}no trusted key is configured, so who signed the pack cannot be checked \(strict\): give one with a `trusted_keys:` parameter/);
  }, 120_000);

  it('trusted keys come from --key, $PADDOCK_TRUSTED_KEYS or the user keyring (XDG_CONFIG_HOME), one or more keys a file', async () => {
    const other = generateSigningKey().publicPem;
    const ring = `# the publishers we trust\n${other}\n${readFileSync(`${keyFile}.pub`, 'utf8')}`;
    const ringFile = join(tmp.dir, 'ring.pem');
    writeFileSync(ringFile, ring);
    expect(loadTrustedKeys({ env: { ...bare, PADDOCK_TRUSTED_KEYS: ringFile } })?.length).toBe(2);
    expect(loadTrustedKeys({ env: bare })).toBeUndefined();
    const xdg = join(tmp.dir, 'xdg');
    expect(userKeyringPath({ XDG_CONFIG_HOME: xdg })).toBe(join(xdg, 'paddock', 'trusted-keys.pem'));
    expect(userKeyringPath({ HOME: '/home/u' })).toBe('/home/u/.config/paddock/trusted-keys.pem');
    mkdirSync(join(xdg, 'paddock'), { recursive: true });
    writeFileSync(join(xdg, 'paddock', 'trusted-keys.pem'), ring);
    const user = await paddock(['verify', pack, '--strict'], { ...bare, XDG_CONFIG_HOME: xdg });
    expect(user.exitCode, user.stdout).toBe(0);
    expect(user.stdout).toMatch(new RegExp(`^OK .* \\(signed by trusted key sha256:\\S+ \\(${join(xdg, 'paddock', 'trusted-keys.pem').replace(/[./]/g, '\\$&')}:\\d+\\)\\): signature valid, 4 files`, 'm'));
    const env = await paddock(['verify', pack, '--strict'], { ...bare, PADDOCK_TRUSTED_KEYS: ringFile });
    expect(env.exitCode, env.stdout).toBe(0);
    // Set but missing is an error, never a fall-back to weaker checking.
    const missing = await paddock(['verify', pack], { ...bare, PADDOCK_TRUSTED_KEYS: join(tmp.dir, 'nope.pem') });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toBe(`paddock verify: trusted keys ${join(tmp.dir, 'nope.pem')} ($PADDOCK_TRUSTED_KEYS): no such file`);
    // The step resolves the user keyring when the recipe names none.
    expect((await step('verify-pack', { pack }, { XDG_CONFIG_HOME: xdg })).exitCode).toBe(0);
  }, 60_000);

  it('a keyring that is not one is refused with its line; a private key in it is named, never printed', async () => {
    const priv = readFileSync(keyFile, 'utf8');
    const cases: [string, string][] = [
      ['', ': holds no public key'],
      ['hello\n', ':1: not part of a PEM block'],
      [`# mine\n${priv}`, ':2: a private key; a keyring holds public keys only'],
      ['-----BEGIN PUBLIC KEY-----\nAAAA\n', ':1: the PUBLIC KEY block is not closed'],
      ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', ':1: not a public key'],
      ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', ':1: a CERTIFICATE block; a keyring holds PUBLIC KEY blocks'],
    ];
    for (const [text, want] of cases) {
      const f = join(tmp.dir, 'bad-ring.pem');
      writeFileSync(f, text);
      const r = await paddock(['verify', pack, '--key', f], bare);
      expect(r.exitCode, text).toBe(2);
      expect(r.stderr, text).toContain(`${f}${want}`);
      expect(r.stderr).not.toContain(priv.split('\n')[1].slice(0, 20));
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(() => parseKeyring(rsa, 'r.pem')).toThrow('r.pem:1: the key must be ECDSA P-256 (prime256v1), as paddock signs with, got rsa');
  }, 60_000);
});

describe('the pack holds exactly what the report lists', () => {
  it('a file not in export_report.json fails, a .tmp- file and a Triton model directory too; publish refuses them', async () => {
    const d = copy('unlisted');
    writeFileSync(join(d, 'model.onnx.tmp-1234'), 'half a write');
    mkdirSync(join(d, 'triton', 'evil', '1'), { recursive: true });
    writeFileSync(join(d, 'triton', 'evil', 'config.pbtxt'), 'name: "evil"\n');
    writeFileSync(join(d, 'triton', 'evil', '1', 'model.onnx'), 'x');
    const r = verifyPack(d, { trusted: publisher });
    expect(r.ok).toBe(false);
    const not = (f: string) => `${f}: in the pack but not listed in ${REPORT} (not covered by the signature)`;
    expect(r.problems).toEqual([not('model.onnx.tmp-1234'), not('triton/evil/1/model.onnx'), not('triton/evil/config.pbtxt')]);
    const pub = await step('publish', { pack: d, bucket: 'packs', endpoint: 'http://127.0.0.1:9', trusted_keys: `${keyFile}.pub` });
    expect(pub.exitCode).toBe(1);
    expect(pub.stderr).toContain(not('triton/evil/1/model.onnx'));
    const cli = await paddock(['verify', d, '--key', `${keyFile}.pub`], bare);
    expect(cli.exitCode).toBe(1);
    expect(cli.stdout).toContain(`FAIL ${not('model.onnx.tmp-1234')}`);
    // A symlink out of the pack is refused, listed or not; one that stays inside is a file like any other.
    const s = copy('symlinks');
    symlinkSync(join(tmp.dir, 'keys'), join(s, 'keys'));
    expect(verifyPack(s, { trusted: publisher }).problems).toEqual([`keys: a symlink to outside the pack (${join(tmp.dir, 'keys')})`]);
  });

  it('entries that leave the pack are refused (.., absolute, through a symlink) even when the report is signed', () => {
    const d = copy('escape');
    symlinkSync(join(tmp.dir, 'keys'), join(d, 'outside'));
    const report = JSON.parse(readFileSync(join(d, REPORT), 'utf8'));
    const outsideSha = 'a'.repeat(64);
    report.files.push({ path: '../../..', sha256: outsideSha, bytes: 1 }, { path: '/etc/passwd', sha256: outsideSha, bytes: 1 }, { path: 'outside/publisher.pem', sha256: outsideSha, bytes: 1 }, { path: 'triton/./m/config.pbtxt', sha256: outsideSha, bytes: 1 });
    resign(d, report);
    const r = verifyPack(d); // self-consistent: the attacker's own key
    expect(r.ok).toBe(false);
    const n = report.files.length;
    expect(r.problems).toEqual([
      `${REPORT}: files[${n - 4}].path: "../../.." is refused: contains "..": it would point outside the pack`,
      `${REPORT}: files[${n - 3}].path: "/etc/passwd" is refused: an absolute path; entries are relative to the pack`,
      `${REPORT}: files[${n - 1}].path: "triton/./m/config.pbtxt" is refused: not in normal form (empty or "." segments)`,
      `outside/publisher.pem: resolves to ${keyFile}, outside the pack`,
      `outside: a symlink to outside the pack (${join(tmp.dir, 'keys')})`,
    ]);
  });

  it('malformed report entries are located errors, never a throw', async () => {
    const d = copy('malformed');
    const report = JSON.parse(readFileSync(join(d, REPORT), 'utf8'));
    const good = { ...report.files[0] };
    report.files.push(null, { path: 42, sha256: good.sha256, bytes: 1 }, { path: 'x' }, { path: 'y', sha256: good.sha256.toUpperCase(), bytes: -1 }, { ...good }, 'model.onnx');
    resign(d, report);
    const n = report.files.length;
    const r = verifyPack(d);
    expect(r.problems).toEqual([
      `${REPORT}: files[${n - 6}]: expected an object {path, sha256, bytes}, got null`,
      `${REPORT}: files[${n - 5}].path: expected a string, got a number`,
      `${REPORT}: files[${n - 4}].sha256: expected 64 lowercase hex digits, got nothing`,
      `${REPORT}: files[${n - 4}].bytes: expected a whole number of bytes, got nothing`,
      `${REPORT}: files[${n - 3}].sha256: expected 64 lowercase hex digits, got "${good.sha256.toUpperCase()}"`,
      `${REPORT}: files[${n - 3}].bytes: expected a whole number of bytes, got -1`,
      `${REPORT}: files[${n - 2}].path: "${good.path}" is listed twice (also files[0])`,
      `${REPORT}: files[${n - 1}]: expected an object {path, sha256, bytes}, got a string`,
    ]);
    for (const files of [{}, 'all', [], undefined]) {
      resign(d, { ...report, files });
      const p = verifyPack(d).problems;
      expect(p[0], JSON.stringify(files)).toMatch(new RegExp(`^${REPORT.replace(/\./g, '\\.')}: files: (expected an array, got an object|expected an array, got a string|lists no files|missing)`));
    }
    resign(d, report);
    const cli = await paddock(['verify', d], bare);
    expect(cli.exitCode).toBe(1);
    expect(cli.stdout).toContain(`FAIL ${REPORT}: files[${n - 6}]: expected an object`);
    expect(cli.stderr).toBe('');
  });
});

/** The attacker's move: rewrite the report and sign it, with a key of their own, cosign.pub replaced. */
function resign(d: string, report: { files?: unknown }) {
  const k = generateSigningKey();
  writeFileSync(join(d, PUBLIC_KEY), k.publicPem);
  const pub = Array.isArray(report.files) ? report.files.find((f) => f?.path === PUBLIC_KEY) : undefined;
  if (pub) Object.assign(pub, { sha256: createHash('sha256').update(k.publicPem).digest('hex'), bytes: Buffer.byteLength(k.publicPem) });
  const bytes = Buffer.from(`${JSON.stringify(report, null, 1)}\n`);
  const s = signBlob(bytes, privateKeyFromPem(k.privatePem, 'k'));
  writeFileSync(join(d, REPORT), bytes);
  writeFileSync(join(d, SIGNATURE), `${s.sig}\n`);
  writeFileSync(join(d, BUNDLE), `${JSON.stringify(s.bundle, null, 1)}\n`);
}

describe('the signature files are parsed whole', () => {
  it('every single-byte change of the Sigstore bundle is detected, or leaves the same JSON', () => {
    const d = copy('bundle-flips');
    const file = join(d, BUNDLE);
    const orig = readFileSync(file);
    const meaning = JSON.parse(orig.toString('utf8'));
    let detected = 0;
    let same = 0;
    const missed: string[] = [];
    for (let i = 0; i < orig.length; i++) {
      for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80]) {
        const b = Buffer.from(orig);
        b[i] ^= mask;
        writeFileSync(file, b);
        for (const trusted of [publisher, undefined]) {
          const r = verifyPack(d, { trusted });
          if (!r.ok && r.problems.every((p) => p.startsWith(`${BUNDLE}: `))) detected++;
          else {
            let equal = false;
            try {
              equal = JSON.stringify(JSON.parse(b.toString('utf8'))) === JSON.stringify(meaning);
            } catch {}
            if (equal && r.ok) same++;
            else missed.push(`byte ${i} ^ 0x${mask.toString(16)} (${trusted ? 'trusted' : 'self'}): ${r.ok ? 'accepted' : r.problems.join('; ')}`);
          }
        }
      }
    }
    writeFileSync(file, orig);
    expect(missed).toEqual([]);
    expect(detected).toBeGreaterThan(orig.length * 15);
    expect(verifyPack(d, { trusted: publisher }).ok).toBe(true);
  }, 120_000);

  it('refuses a hint of another key, transparency-log entries, unknown and missing fields, by name', () => {
    const d = copy('bundle-fields');
    const file = join(d, BUNDLE);
    const orig = readFileSync(file, 'utf8');
    const with_ = (edit: (b: Record<string, any>) => void) => {
      const b = JSON.parse(orig);
      edit(b);
      writeFileSync(file, JSON.stringify(b));
      const p = verifyPack(d, { trusted: publisher }).problems;
      writeFileSync(file, orig);
      return p;
    };
    const other = keyFingerprint(createPublicKey(generateSigningKey().publicPem));
    expect(with_((b) => (b.verificationMaterial.publicKey.hint = other))).toEqual([`${BUNDLE}: verificationMaterial.publicKey.hint names key sha256:${other}, but the pack is signed with sha256:${publisher[0].fingerprint}`]);
    expect(with_((b) => (b.verificationMaterial.tlogEntries = [{ logIndex: '1' }]))[0]).toMatch(/verificationMaterial\.tlogEntries: 1 entry; transparency-log entries are not verified offline/);
    expect(with_((b) => (b.verificationMaterial.x509CertificateChain = {}))).toEqual([`${BUNDLE}: verificationMaterial.x509CertificateChain: unknown field (expected only publicKey, tlogEntries)`]);
    expect(with_((b) => delete b.verificationMaterial.tlogEntries)).toEqual([`${BUNDLE}: verificationMaterial.tlogEntries: missing`]);
    expect(with_((b) => delete b.messageSignature)).toEqual([`${BUNDLE}: messageSignature: missing`]);
    expect(with_((b) => (b.mediaType = 'application/vnd.dev.sigstore.bundle.v0.2+json'))[0]).toMatch(/mediaType: "application\/vnd\.dev\.sigstore\.bundle\.v0\.2\+json", expected/);
    expect(with_((b) => (b.messageSignature.messageDigest.digest = Buffer.alloc(32).toString('base64')))).toEqual([`${BUNDLE}: messageSignature.messageDigest.digest is not the sha256 of ${REPORT}`]);
  });

  it('the .sig must be canonical base64 of a DER ECDSA signature: changed padding, spacing or trailing bytes are refused', () => {
    const d = copy('sig');
    const file = join(d, SIGNATURE);
    const text = readFileSync(file, 'utf8');
    const b64 = text.trim();
    expect(canonicalBase64(b64)).toBeDefined();
    const der = Buffer.from(b64, 'base64');
    const variants: [string, string][] = [
      ['padding removed', b64.replace(/=+$/, '') === b64 ? `${b64}=` : b64.replace(/=+$/, '')],
      ['padding added', `${b64}==`],
      ['two trailing newlines', `${b64}\n\n`],
      ['CRLF', `${b64}\r\n`],
      ['a leading space', ` ${b64}\n`],
      ['a newline inside', `${b64.slice(0, 20)}\n${b64.slice(20)}\n`],
      ['URL-safe alphabet', b64.replace(/\+/g, '-').replace(/\//g, '_') === b64 ? `${b64.slice(0, -4)}-${b64.slice(-3)}` : b64.replace(/\+/g, '-').replace(/\//g, '_')],
      ['a trailing byte after the DER', `${Buffer.concat([der, Buffer.from([0])]).toString('base64')}\n`],
    ];
    for (const [what, v] of variants) {
      writeFileSync(file, v);
      const r = verifyPack(d, { trusted: publisher });
      expect(r.ok, what).toBe(false);
      expect(r.problems.join('\n'), what).toMatch(/^export_report\.json\.sig: not (canonical base64|a DER ECDSA P-256 signature)/);
    }
    // Non-canonical trailing bits: the same bytes decode, but it is not the text base64 writes.
    if (b64.endsWith('=')) {
      const last = b64.replace(/=+$/, '').slice(-1);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const bumped = b64.replace(/.(=+)$/, `${alphabet[alphabet.indexOf(last) + 1] ?? 'A'}$1`);
      if (Buffer.from(bumped, 'base64').equals(der)) {
        writeFileSync(file, `${bumped}\n`);
        expect(verifyPack(d, { trusted: publisher }).problems[0]).toMatch(/not canonical base64/);
      }
    }
    // Every byte of the .sig flipped is caught.
    const orig = Buffer.from(text);
    for (let i = 0; i < orig.length; i++) {
      const b = Buffer.from(orig);
      b[i] ^= 0x01;
      writeFileSync(file, b);
      expect(verifyPack(d, { trusted: publisher }).ok, `byte ${i}`).toBe(false);
    }
    writeFileSync(file, text);
    expect(verifyPack(d, { trusted: publisher }).ok).toBe(true);
    rmSync(d, { recursive: true });
  });
});
