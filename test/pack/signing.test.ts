import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE, BUNDLE_MEDIA_TYPE, generateSigningKey, packFiles, privateKeyFromPem, PUBLIC_KEY, REPORT, SIGNATURE, verifyPack } from '../../src/pack/signing.js';
import { FIXTURES, ROOT, tempDir } from '../helpers/fixtures.js';

const STEP = join(ROOT, 'dist', 'step.js');
let tmp: ReturnType<typeof tempDir>;
let pack: string;
let keyPem: string;

/** A small pack: a model, a report, a nested Triton config. */
function makePack(dir: string) {
  mkdirSync(join(dir, 'reports'), { recursive: true });
  mkdirSync(join(dir, 'triton', 'm', '1'), { recursive: true });
  copyFileSync(join(FIXTURES, 'models', 'tiny-det-v1.0.0.onnx'), join(dir, 'model.onnx'));
  writeFileSync(join(dir, 'reports', 'stage.json'), JSON.stringify({ step: 'stage', status: 'succeeded', environment: { node: process.versions.node } }));
  writeFileSync(join(dir, 'triton', 'm', 'config.pbtxt'), 'name: "m"\nbackend: "onnxruntime"\n');
  writeFileSync(join(dir, 'calibration.cache'), 'TRT-8601-EntropyCalibration2\nimages: 3c9ac58b\n');
}

async function signWith(env: Record<string, string>, key: object) {
  return execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack, model: 'm', version: '1.0.0', key, lineage: { dataset: 'golden-v1' } })], { env, reject: false });
}

beforeAll(async () => {
  tmp = tempDir();
  pack = join(tmp.dir, 'packs', 'detection', '1.0.0');
  makePack(pack);
  keyPem = generateSigningKey().privatePem;
  const r = await signWith({ PADDOCK_TEST_SIGNING_KEY: keyPem }, { env: 'PADDOCK_TEST_SIGNING_KEY' });
  expect(r.exitCode, r.stderr).toBe(0);
  // The key never appears in what the step prints.
  const body = keyPem.split('\n').slice(1, -2).join('');
  for (const out of [r.stdout, r.stderr]) {
    expect(out).not.toContain(body.slice(0, 40));
    expect(out).not.toContain('PRIVATE KEY');
  }
});
afterAll(() => tmp.cleanup());

describe('pack signatures', () => {
  it('export_report.json lists every file with its sha256, size and the step that made it', () => {
    const report = JSON.parse(readFileSync(join(pack, REPORT), 'utf8'));
    expect(report.files.map((f: { path: string }) => f.path)).toEqual(packFiles(pack));
    const model = report.files.find((f: { path: string }) => f.path === 'model.onnx');
    expect(model).toMatchObject({ sha256: createHash('sha256').update(readFileSync(join(pack, 'model.onnx'))).digest('hex'), role: 'onnx-fp32', produced_by: 'export' });
    expect(report.lineage.dataset).toBe('golden-v1');
    expect(report.environment.node).toBe(process.versions.node);
  });

  it('the .sig verifies with OpenSSL (an independent ECDSA implementation)', async () => {
    const der = Buffer.from(readFileSync(join(pack, SIGNATURE), 'utf8').trim(), 'base64');
    writeFileSync(join(tmp.dir, 'sig.der'), der);
    const ok = await execa('openssl', ['dgst', '-sha256', '-verify', join(pack, PUBLIC_KEY), '-signature', join(tmp.dir, 'sig.der'), join(pack, REPORT)], { reject: false });
    expect(ok.stdout.trim()).toBe('Verified OK');
    writeFileSync(join(tmp.dir, 'other.json'), readFileSync(join(pack, REPORT), 'utf8').replace('"1.0.0"', '"1.0.1"'));
    const bad = await execa('openssl', ['dgst', '-sha256', '-verify', join(pack, PUBLIC_KEY), '-signature', join(tmp.dir, 'sig.der'), join(tmp.dir, 'other.json')], { reject: false });
    expect(bad.exitCode).toBe(1);
  });

  it('the Sigstore bundle v0.3 carries the digest, the signature and the key hint', () => {
    const b = JSON.parse(readFileSync(join(pack, BUNDLE), 'utf8'));
    expect(b.mediaType).toBe(BUNDLE_MEDIA_TYPE);
    expect(b.messageSignature.messageDigest).toEqual({ algorithm: 'SHA2_256', digest: createHash('sha256').update(readFileSync(join(pack, REPORT))).digest('base64') });
    expect(b.messageSignature.signature).toBe(readFileSync(join(pack, SIGNATURE), 'utf8').trim());
    expect(b.verificationMaterial.tlogEntries).toEqual([]);
    expect(b.verificationMaterial.publicKey.hint).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('verifies, and detects a changed byte in any file', () => {
    expect(verifyPack(pack)).toMatchObject({ ok: true, problems: [], trust: 'self-consistency' });
    const all = [...packFiles(pack), REPORT, SIGNATURE, BUNDLE];
    for (const f of all) {
      const p = join(pack, f);
      const orig = readFileSync(p);
      const changed = Buffer.from(orig);
      const at = Math.floor(changed.length / 2);
      changed[at] = changed[at] === 0x30 ? 0x31 : 0x30;
      writeFileSync(p, changed);
      const r = verifyPack(pack);
      writeFileSync(p, orig);
      expect(r.ok, f).toBe(false);
      const esc = (x: string) => x.replace(/\./g, '\\.');
      const want = f === REPORT ? /signature does not (match|verify)/ : f === SIGNATURE || f === BUNDLE || f === PUBLIC_KEY ? new RegExp(esc(f)) : new RegExp(`${esc(f)}: sha256`);
      expect(r.problems.join('\n'), f).toMatch(want);
    }
    expect(verifyPack(pack).ok).toBe(true);
  });

  it('another key does not verify it; a file added later fails it, named as not covered', () => {
    const other = generateSigningKey().publicPem;
    const r = verifyPack(pack, other);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/export_report\.json\.sig: not signed by a trusted key: it was signed with key sha256:\S+ \(the cosign\.pub in the pack\)/);
    writeFileSync(join(pack, 'extra.txt'), 'x');
    const added = verifyPack(pack);
    rmSync(join(pack, 'extra.txt'));
    expect(added.ok).toBe(false);
    expect(added.problems).toEqual(['extra.txt: in the pack but not listed in export_report.json (not covered by the signature)']);
  });

  it('refuses keys that are not P-256, and a missing variable, without printing the key', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => privateKeyFromPem(rsa, 'k.pem')).toThrow('k.pem: the key must be ECDSA P-256 (prime256v1), got rsa');
    expect(() => privateKeyFromPem('garbage', '$KEY')).toThrow(/^\$KEY: not a PEM private key/);
    const r = await signWith({}, { env: 'PADDOCK_NO_SUCH_KEY' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('the signing key variable $PADDOCK_NO_SUCH_KEY is not set');
  });
});

describe('one run at a time writes a pack', () => {
  it('a second run waits for the first, which releases the pack when it signs', async () => {
    const t = tempDir();
    try {
      const p2 = join(t.dir, 'pack');
      makePack(p2);
      const { writeFileSync: wf } = await import('node:fs');
      // Run A (this test process stands for its paddock) holds the pack.
      wf(`${p2}.lock`, JSON.stringify({ run: 'r-a', pid: process.pid }));
      const b = execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack: p2, model: 'm', version: '1', key: { env: 'K' } })], { env: { K: keyPem, PADDOCK_RUN_ID: 'r-b' }, reject: false });
      let out = '';
      b.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      const { waitFor } = await import('../helpers/fixtures.js');
      await waitFor(() => out.includes(`waiting: run r-a (paddock pid ${process.pid}) is writing ${p2}`), 'run b waiting');
      expect(existsSync(join(p2, REPORT))).toBe(false);
      const { rmSync } = await import('node:fs');
      rmSync(`${p2}.lock`);
      const r = await b;
      expect(r.exitCode, r.stderr).toBe(0);
      expect(existsSync(join(p2, REPORT))).toBe(true);
      expect(existsSync(`${p2}.lock`)).toBe(false); // released by sign
      // A lock whose paddock is gone is taken over.
      wf(`${p2}.lock`, JSON.stringify({ run: 'r-dead', pid: 999_999_999 }));
      const c = await execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack: p2, model: 'm', version: '1', key: { env: 'K' } })], { env: { K: keyPem, PADDOCK_RUN_ID: 'r-c' }, reject: false });
      expect(c.exitCode, c.stderr).toBe(0);
      expect(c.stdout).not.toContain('waiting');
    } finally {
      t.cleanup();
    }
  });
});
