/**
 * A real S3-protocol server for the tests: s3rver (an npm package, run as its own process on a
 * free loopback port, data in a temporary directory), with one bucket. It checks AWS SigV4
 * signatures with its fixed credentials S3RVER / S3RVER.
 */
import { execa, type ResultPromise } from 'execa';
import { join } from 'node:path';
import { ROOT, waitFor } from './fixtures.js';
import { freePort } from './docker-services.js';

export const S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export interface S3Server {
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

export async function startS3Server(dataDir: string, bucket = 'packs'): Promise<S3Server> {
  const port = await freePort();
  const bin = join(ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js');
  const proc: ResultPromise = execa(process.execPath, [bin, '-d', dataDir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', bucket], { reject: false });
  let exited = false;
  void proc.then((r) => {
    exited = true;
    return r;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`s3rver exited: ${(await proc).stderr}`);
      const r = await fetch(`${endpoint}/`);
      return r.status > 0;
    }, `s3rver on ${endpoint}`, 20_000, 100);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`setup: the S3-protocol test server (s3rver) did not start: ${(err as Error).message}`);
  }
  return {
    endpoint,
    bucket,
    stop: async () => {
      proc.kill('SIGTERM');
      await proc;
    },
  };
}
