import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/files/prng.js';
import { s3Client } from '../../src/pack/s3-publish.js';
import { generateSigningKey, packFiles } from '../../src/pack/signing.js';
import { FIXTURES, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';
import { S3_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';

const STEP = join(ROOT, 'dist', 'step.js');
let tmp: ReturnType<typeof tempDir>;
let s3: S3Server;
let pack: string;
const env = () => ({ ...S3_CREDENTIALS, PADDOCK_TEST_KEY: keyPem });
let keyPem: string;
/** The publisher's public key, outside the pack: what publish verifies the pack against. */
let trustedKeys: string;

function publish(extra: object = {}) {
  return execa(process.execPath, [STEP, 'publish', JSON.stringify({ pack, bucket: s3.bucket, endpoint: s3.endpoint, part_size_mb: 5, multipart_threshold_mb: 5, trusted_keys: trustedKeys, ...extra })], { env: env(), reject: false });
}

async function objectSha(key: string): Promise<string> {
  const c = s3Client({ endpoint: s3.endpoint, credentials: { accessKeyId: S3_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY } });
  const g = await c.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  const h = createHash('sha256');
  for await (const chunk of g.Body as AsyncIterable<Uint8Array>) h.update(chunk);
  c.destroy();
  return h.digest('hex');
}

beforeAll(async () => {
  tmp = tempDir();
  s3 = await startS3Server(join(tmp.dir, 's3'));
  pack = join(tmp.dir, 'packs', 'detection', '2.0.0');
  mkdirSync(join(pack, 'reports'), { recursive: true });
  copyFileSync(join(FIXTURES, 'models', 'tiny-det-v1.0.0.onnx'), join(pack, 'model.onnx'));
  // A 23 MiB "engine": five parts of 5 MiB, seeded bytes.
  const big = Buffer.alloc(23 * 2 ** 20);
  const r = seededRandom(42);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(Math.floor(r() * 2 ** 32), i);
  writeFileSync(join(pack, 'model.plan'), big);
  const k = generateSigningKey();
  keyPem = k.privatePem;
  trustedKeys = join(tmp.dir, 'publisher.pub');
  writeFileSync(trustedKeys, k.publicPem);
  const s = await execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack, model: 'detection', version: '2.0.0', key: { env: 'PADDOCK_TEST_KEY' } })], { env: env(), reject: false });
  expect(s.exitCode, s.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  await s3?.stop();
  tmp.cleanup();
});

describe('publish to an S3-protocol server', () => {
  it('an upload killed mid-file resumes from its last part; every object reads back with its sha256', async () => {
    const state = `${pack}.upload-state.json`;
    const first = publish();
    // SIGKILL once two parts of the large file are recorded.
    await waitFor(() => existsSync(state) && Object.values(JSON.parse(readFileSync(state, 'utf8')) as { parts: unknown[] }[]).some((s) => s.parts.length >= 2), 'two parts uploaded', 60_000, 10);
    first.kill('SIGKILL');
    await first;
    const before = Object.values(JSON.parse(readFileSync(state, 'utf8')) as { parts: unknown[] }[])[0].parts.length;
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThan(5);

    const second = await publish();
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain(`resuming detection/2.0.0/model.plan: ${before} part(s) of 5 already uploaded`);
    expect(second.stdout).toMatch(new RegExp(`model\\.plan: resumed \\(5 parts, ${before} from before\\), read back and verified`));
    expect(JSON.parse(readFileSync(state, 'utf8'))).toEqual({});
    for (const f of [...packFiles(pack), 'export_report.json', 'export_report.json.sig', 'export_report.sigstore.json']) {
      expect(await objectSha(`detection/2.0.0/${f}`), f).toBe(createHash('sha256').update(readFileSync(join(pack, f))).digest('hex'));
    }
  }, 120_000);

  it('a second publish sends nothing that is already there', async () => {
    const r = await publish();
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.includes('"message":"s3://'));
    expect(lines).toHaveLength(6); // model.onnx, model.plan, cosign.pub, the report and its two signatures
    expect(lines.every((l) => l.includes('skipped (same sha256 there)'))).toBe(true);
  }, 60_000);

  it('a pack that does not verify is not sent', async () => {
    const f = join(pack, 'model.onnx');
    const orig = readFileSync(f);
    writeFileSync(f, Buffer.concat([orig, Buffer.from([0])]));
    try {
      const r = await publish({ prefix: 'other/place' });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('the pack does not verify, nothing was sent');
      expect(r.stderr).toContain('model.onnx: sha256');
    } finally {
      writeFileSync(f, orig);
    }
  });

  it('unknown credentials are a clear error, and the secret is not printed', async () => {
    const r = await execa(process.execPath, [STEP, 'publish', JSON.stringify({ pack, bucket: s3.bucket, endpoint: s3.endpoint, prefix: 'x/y', trusted_keys: trustedKeys })], { env: { ...S3_CREDENTIALS, AWS_ACCESS_KEY_ID: 'NOBODY', AWS_SECRET_ACCESS_KEY: 'sekrit-value-123' }, reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/InvalidAccessKeyId|AWS Access Key Id/);
    expect(r.stdout + r.stderr).not.toContain('sekrit-value-123');
  });
});
