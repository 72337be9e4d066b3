/**
 * Release notes: rendered byte for byte as the committed expected Markdown (the same input
 * always gives the same bytes), the worst slice regression on top, and published to a real
 * S3-protocol server (s3rver), read back.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../src/pack/s3-publish.js';
import { publishReleaseNotes, releaseNotes, type ReleaseNotesInput, type ReleaseSummary } from '../../src/registry/release-notes.js';
import type { EntrySummary } from '../../src/schema/registry.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';
import { S3_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';

const EXPECTED = join(ROOT, 'test', 'fixtures', 'registry', 'release-notes.md');
const EXPECTED_FIRST = join(ROOT, 'test', 'fixtures', 'registry', 'release-notes-first.md');
const sha = (c: string) => c.repeat(64);

const previous: ReleaseNotesInput['previous'] = {
  version: '2.0.0',
  summary: {
    headline: { mAP: 0.412, mAP50: 0.6231, 'false_braking_per_1000km': 0.8 },
    slices: [
      { slice: 'night', metric: 'AP', value: 0.351 },
      { slice: 'rain', metric: 'AP', value: 0.402 },
      { slice: 'pedestrians|near', metric: 'AP', value: 0.55 },
      { slice: 'day', metric: 'AP', value: 0.47 },
    ],
    latency: [
      { target: 'orin-trt-fp16', p50_ms: 6.1, p95_ms: 7.4, p99_ms: 8.9 },
      { target: 'x86-ort-cpu', p50_ms: 41.2, p95_ms: 48, p99_ms: 55.5 },
      { target: 'jetson-xavier', p50_ms: 12, p95_ms: 14, p99_ms: 16 },
    ],
    replay: { HOTA: 0.611, IDSW: 42, ghosts: 7, frames: 1200 },
  },
};

const input: ReleaseNotesInput = {
  model: 'world-detector',
  version: '2.1.0',
  previous,
  current: {
    summary: {
      headline: { mAP: 0.431, mAP50: 0.6231, 'false_braking_per_1000km': 0.95 },
      slices: [
        { slice: 'day', metric: 'AP', value: 0.48, delta: 0.012 },
        { slice: 'night', metric: 'AP', value: 0.338, delta: -0.009 },
        { slice: 'rain', metric: 'AP', value: 0.409, delta: 0.004 },
        { slice: 'pedestrians|near', metric: 'AP', value: 0.55 },
        { slice: 'fog', metric: 'AP', value: 0.29, delta: -0.02 },
      ],
      latency: [
        { target: 'x86-ort-cpu', p50_ms: 40.05, p95_ms: 47.25, p99_ms: 56 },
        { target: 'orin-trt-fp16', p50_ms: 6.3, p95_ms: 7.1, p99_ms: 9.25 },
        { target: 'orin-trt-int8', p50_ms: 3.9, p95_ms: 4.6, p99_ms: 5.2 },
      ],
      replay: { HOTA: 0.624, IDSW: 37, ghosts: 9, frames: 1260 },
      sim: { collisions: 0, scenarios_passed: 118 },
    },
  },
  links: {
    pack: 's3://paddock-packs/world-detector/2.1.0/',
    modelCard: 's3://paddock-packs/world-detector/2.1.0/MODEL_CARD.md',
    evaluation: 's3://paddock-packs/world-detector/2.1.0/reports/eval_report.json',
    replay: 's3://paddock-packs/world-detector/2.1.0/reports/replay_report.json',
    sbom: 's3://paddock-packs/world-detector/2.1.0/sbom.cdx.json',
  },
  digests: {
    manifest: sha('a'),
    files: [
      { path: 'model.plan', sha256: sha('c') },
      { path: 'model.onnx', sha256: sha('b') },
    ],
  },
  approvals: [
    { role: 'technical', identity: 'alice@example.com', decision: 'approved', at: Date.UTC(2026, 11, 2, 9, 30), reason: 'slices within margin', scheme: 'ssh' },
    { role: 'safety', identity: 'bob@example.com', decision: 'approved', at: Date.UTC(2026, 11, 2, 11, 0), reason: 'night regression accepted: fog | night data requested', scheme: 'ecdsa' },
    { role: 'product', identity: 'policy:demo', decision: 'approved', at: Date.UTC(2026, 11, 2, 12, 0), scheme: 'policy' },
  ],
  governance: {
    ok: true,
    checks: [
      { id: 'signature', status: 'pass', detail: 'pack signed by 3f:9a (trusted publisher)' },
      { id: 'vulnerabilities', status: 'waived', detail: 'CVE-2026-0001 waived until 2027-01-31 by carol@example.com' },
    ],
  },
  canary: {
    decision: 'promote',
    step: 4,
    semantics: 'argo',
    reason: 'no SLO breached over 4 steps',
    analyses: [
      { semantics: 'flagger', decision: 'promote', step: 4 },
      { semantics: 'argo', decision: 'promote', step: 4, reason: 'failures 0 <= failureLimit 1' },
    ],
  },
  at: Date.UTC(2026, 11, 3, 10, 0, 0),
  lowerIsBetter: ['false_braking_per_1000km'],
};

/** Type-checked (tsc), not run: a registry entry's summary (H2's schema) is release-notes input as it stands. */
const entrySummaryFits = (s: import('zod').infer<typeof EntrySummary>): ReleaseSummary => s;
void entrySummaryFits;

describe('release notes', () => {
  it('render byte for byte as the committed expected Markdown', () => {
    const text = releaseNotes(input);
    expect(text).toBe(readFileSync(EXPECTED, 'utf8'));
    // The same input (another order of the same rows) gives the same bytes.
    expect(releaseNotes({ ...input, approvals: [...input.approvals].reverse(), digests: { ...input.digests, files: [...input.digests.files].reverse() } })).toBe(text);
  });

  it('put the worst regression first, escape pipes, and say better or worse by direction', () => {
    const text = releaseNotes(input);
    const rows = text
      .split('\n## Slices')[1]
      .split('\n## ')[0]
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| slice'));
    // fog has no previous row: its eval-baseline delta (-0.02) ranks it; night fell 0.013 against 2.0.0.
    expect(rows.map((r) => r.split(' | ')[0].slice(2))).toEqual(['fog', 'night', 'pedestrians\\|near', 'rain', 'day']);
    expect(text).toMatch(/\| false_braking_per_1000km \| 0\.8000 \| 0\.9500 \| \+0\.1500 \| worse \|/);
    expect(text).toMatch(/\| mAP \| 0\.4120 \| 0\.4310 \| \+0\.0190 \| better \|/);
    expect(text).toContain('No longer measured: `jetson-xavier`.');
  });

  it('the first production has no comparison columns', () => {
    const { previous: _drop, ...first } = input;
    expect(releaseNotes(first)).toBe(readFileSync(EXPECTED_FIRST, 'utf8'));
  });
});

describe('publishing release notes to S3', () => {
  let tmp: ReturnType<typeof tempDir>;
  let s3: S3Server;
  const credentials = { accessKeyId: S3_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY };
  beforeAll(async () => {
    tmp = tempDir();
    s3 = await startS3Server(join(tmp.dir, 's3'));
  }, 60_000);
  afterAll(async () => {
    await s3?.stop();
    tmp?.cleanup();
  });

  it('uploads under the pack prefix and reads the object back with its sha256', async () => {
    const text = releaseNotes(input);
    const r = await publishReleaseNotes({ s3: { bucket: s3.bucket, prefix: 'world-detector/2.1.0', endpoint: s3.endpoint, credentials }, text, name: 'RELEASE_NOTES.md' });
    const want = createHash('sha256').update(text).digest('hex');
    expect(r).toEqual({ key: 'world-detector/2.1.0/RELEASE_NOTES.md', uri: `s3://${s3.bucket}/world-detector/2.1.0/RELEASE_NOTES.md`, sha256: want, bytes: Buffer.byteLength(text) });
    const c = s3Client({ endpoint: s3.endpoint, credentials });
    try {
      const g = await c.send(new GetObjectCommand({ Bucket: s3.bucket, Key: r.key }));
      expect(await g.Body!.transformToString('utf8')).toBe(text);
      const h = await c.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: r.key }));
      expect(h.Metadata?.sha256).toBe(want);
      expect(h.ContentType).toBe('text/markdown; charset=utf-8');
    } finally {
      c.destroy();
    }
  });

  it('refuses an object name that climbs out of the prefix', async () => {
    await expect(publishReleaseNotes({ s3: { bucket: s3.bucket, prefix: 'world-detector/2.1.0/', endpoint: s3.endpoint, credentials }, text: 'x', name: '../2.0.0/RELEASE_NOTES.md' })).rejects.toThrow(/no "\.\."/);
  });
});
