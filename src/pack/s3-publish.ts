/**
 * Publishing a pack to S3 (or any S3-protocol store) with @aws-sdk/client-s3: every file under
 * <prefix>/<path>, with its SHA-256 sent as the checksum and kept as metadata; files above the
 * multipart threshold go in parts (each part with its own checksum), recorded in a state file
 * after every part, so an interrupted upload resumes where it stopped; a file already there with
 * the same digest is skipped; every object is read back and hashed at the end.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  AbortMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { sha256FileSync } from '../files/digest.js';
import { packFiles, REPORT, SIGNATURE, BUNDLE } from './signing.js';

export interface PublishOptions {
  pack: string;
  bucket: string;
  prefix: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  partSizeMb: number;
  multipartThresholdMb: number;
  stateFile: string;
  verify: boolean;
  /** Exactly these files of the pack (relative paths: what verification checked); default every file in it. */
  files?: readonly string[];
  onLog?: (line: string) => void;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

interface UploadState {
  [key: string]: { uploadId: string; sha256: string; partSize: number; parts: { PartNumber: number; ETag: string; ChecksumSHA256?: string }[] };
}

export interface PublishedFile {
  key: string;
  path: string;
  sha256: string;
  bytes: number;
  action: 'uploaded' | 'multipart' | 'resumed' | 'skipped (same sha256 there)';
  parts?: number;
  resumedParts?: number;
  verified?: boolean;
}

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

function saveState(file: string, state: UploadState): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(state, null, 1));
  renameSync(tmp, file);
}

function readPart(path: string, offset: number, size: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(size);
    const n = readSync(fd, buf, 0, size, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function s3Client(o: Pick<PublishOptions, 'endpoint' | 'region' | 'forcePathStyle'> & { credentials?: { accessKeyId: string; secretAccessKey: string } }): S3Client {
  return new S3Client({
    ...(o.credentials ? { credentials: o.credentials } : {}),
    region: o.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle ?? Boolean(o.endpoint),
    // The SHA-256 of every body is computed here and sent as x-amz-checksum-sha256; the SDK's own
    // default (CRC32 in an aws-chunked trailer) is not understood by every S3-protocol server.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Uploads the pack; the signature files go last, so a reader never sees a signed pack with files missing. */
export async function publishPack(o: PublishOptions): Promise<PublishedFile[]> {
  const s3 = s3Client(o);
  const say = o.onLog ?? (() => undefined);
  const state: UploadState = existsSync(o.stateFile) ? JSON.parse(readFileSync(o.stateFile, 'utf8')) : {};
  const last = [REPORT, SIGNATURE, BUNDLE];
  const files = o.files ? [...o.files.filter((f) => !last.includes(f)), ...last.filter((f) => o.files!.includes(f))] : [...packFiles(o.pack), ...last.filter((f) => existsSync(join(o.pack, f)))];
  const digests = files.map((f) => ({ f, ...sha256FileSync(join(o.pack, f)) }));
  const total = digests.reduce((a, d) => a + d.bytes, 0);
  let done = 0;
  const out: PublishedFile[] = [];
  const partSize = o.partSizeMb * 2 ** 20;
  try {
    for (const d of digests) {
      const key = `${o.prefix.replace(/\/?$/, '/')}${d.f}`;
      const path = join(o.pack, d.f);
      let there: { sha?: string; bytes?: number } | undefined;
      try {
        const h = await s3.send(new HeadObjectCommand({ Bucket: o.bucket, Key: key }));
        there = { sha: h.Metadata?.sha256, bytes: h.ContentLength };
      } catch (err) {
        const code = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (code !== 404 && code !== 403) throw new Error(`s3://${o.bucket}/${key}: HEAD failed: ${(err as Error).message}`);
      }
      if (there?.sha === d.sha256 && there.bytes === d.bytes) {
        out.push({ key, path: d.f, sha256: d.sha256, bytes: d.bytes, action: 'skipped (same sha256 there)' });
        done += d.bytes;
        o.onProgress?.(done, total);
        continue;
      }
      if (d.bytes < o.multipartThresholdMb * 2 ** 20) {
        await s3.send(new PutObjectCommand({ Bucket: o.bucket, Key: key, Body: readFileSync(path), ChecksumSHA256: b64(d.sha256), Metadata: { sha256: d.sha256 } }));
        out.push({ key, path: d.f, sha256: d.sha256, bytes: d.bytes, action: 'uploaded' });
        done += d.bytes;
        o.onProgress?.(done, total);
        continue;
      }
      let st: UploadState[string] | undefined = state[key];
      let resumedParts = 0;
      if (st && (st.sha256 !== d.sha256 || st.partSize !== partSize)) {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: key, UploadId: st.uploadId })).catch(() => undefined);
        st = undefined;
      }
      if (st) {
        resumedParts = st.parts.length;
        say(`resuming ${key}: ${st.parts.length} part(s) of ${Math.ceil(d.bytes / partSize)} already uploaded (upload ${st.uploadId.slice(0, 12)}...)`);
      } else {
        const c = await s3.send(new CreateMultipartUploadCommand({ Bucket: o.bucket, Key: key, Metadata: { sha256: d.sha256 }, ChecksumAlgorithm: 'SHA256' }));
        st = state[key] = { uploadId: c.UploadId!, sha256: d.sha256, partSize, parts: [] };
        saveState(o.stateFile, state);
      }
      const nParts = Math.ceil(d.bytes / partSize);
      done += st.parts.length * partSize;
      for (let n = 1; n <= nParts; n++) {
        if (st.parts.some((x) => x.PartNumber === n)) continue;
        const body = readPart(path, (n - 1) * partSize, partSize);
        const sum = createHash('sha256').update(body).digest('base64');
        let r;
        try {
          r = await s3.send(new UploadPartCommand({ Bucket: o.bucket, Key: key, UploadId: st.uploadId, PartNumber: n, Body: body, ChecksumSHA256: sum }));
        } catch (err) {
          if ((err as { name?: string }).name === 'NoSuchUpload') {
            delete state[key];
            saveState(o.stateFile, state);
            throw new Error(`s3://${o.bucket}/${key}: the server no longer knows upload ${st.uploadId}; run publish again to start this file over`);
          }
          throw err;
        }
        st.parts.push({ PartNumber: n, ETag: r.ETag!, ...(r.ChecksumSHA256 ? { ChecksumSHA256: r.ChecksumSHA256 } : {}) });
        saveState(o.stateFile, state);
        done += body.length;
        o.onProgress?.(Math.min(done, total), total);
      }
      st.parts.sort((a, b) => a.PartNumber - b.PartNumber);
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: o.bucket, Key: key, UploadId: st.uploadId, MultipartUpload: { Parts: st.parts } }));
      delete state[key];
      saveState(o.stateFile, state);
      out.push({ key, path: d.f, sha256: d.sha256, bytes: d.bytes, action: resumedParts ? 'resumed' : 'multipart', parts: nParts, resumedParts });
    }
    if (o.verify) {
      for (const f of out) {
        const g = await s3.send(new GetObjectCommand({ Bucket: o.bucket, Key: f.key }));
        const h = createHash('sha256');
        for await (const chunk of g.Body as AsyncIterable<Uint8Array>) h.update(chunk);
        const got = h.digest('hex');
        if (got !== f.sha256) throw new Error(`s3://${o.bucket}/${f.key}: read back with sha256 ${got}, the pack has ${f.sha256}`);
        f.verified = true;
      }
    }
  } finally {
    s3.destroy();
  }
  return out;
}
