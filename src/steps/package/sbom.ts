/**
 * The `sbom` step: sbom.cdx.json (CycloneDX 1.6) for the pack, and the Syft and Trivy scans run
 * in containers where their images are on the Docker host. A scan that did not run says why and is
 * never reported as clean.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeAtomic } from '../../files/atomic.js';
import { emit } from '../emit.js';
import { installRoot } from '../../files/install-root.js';
import { decodeModel, opsetOf } from '../../model/onnx-proto.js';
import { buildSbom, npmComponents, npmLockFile, type SbomModel } from '../../pack/sbom.js';
import { packFiles } from '../../pack/signing.js';
import { sha256FileSync } from '../../files/digest.js';
import { emitArtifact, log, readReports, writeReport, holdPack } from './common.js';
import { localDocker, findImage } from '../../../runners/docker-client.js';

export const SbomParams = z
  .object({
    pack: z.string().min(1),
    model: z.string().min(1),
    version: z.string().min(1),
    contract: z.string().optional(),
    /** Docker engine for the scanners: a unix socket path (default $DOCKER_HOST's socket or /var/run/docker.sock). */
    docker_socket: z.string().optional(),
    syft_image: z.string().default('anchore/syft:latest'),
    trivy_image: z.string().default('aquasec/trivy:latest'),
    scans: z.boolean().default(true),
  })
  .strict();
type Params = z.infer<typeof SbomParams>;

const MODEL_FILES: Record<string, { precision: string; format: string }> = {
  'model.onnx': { precision: 'fp32', format: 'onnx' },
  'model.ts': { precision: 'fp32', format: 'torchscript' },
  'model.fp16.onnx': { precision: 'fp16', format: 'onnx' },
  'model.int8.onnx': { precision: 'int8', format: 'onnx-qdq' },
  'model.plan': { precision: 'mixed', format: 'tensorrt-plan' },
};

export interface ScanStatus {
  tool: string;
  image: string;
  status: 'ran' | 'not-run' | 'failed';
  reason?: string;
  output?: string;
  findings?: number;
}

async function runScans(p: Params): Promise<ScanStatus[]> {
  const tools = [
    { tool: 'syft', image: p.syft_image, cmd: ['dir:/pack', '-o', 'cyclonedx-json'], out: 'scans/syft.cdx.json' },
    { tool: 'trivy', image: p.trivy_image, cmd: ['fs', '--format', 'json', '--skip-db-update', '/pack'], out: 'scans/trivy.json' },
  ];
  if (!p.scans) return tools.map((t) => ({ tool: t.tool, image: t.image, status: 'not-run' as const, reason: 'scans: false in the recipe' }));
  const { socket, docker, why } = await localDocker(p.docker_socket);
  if (!docker) return tools.map((t) => ({ tool: t.tool, image: t.image, status: 'not-run' as const, reason: why }));
  const out: ScanStatus[] = [];
  for (const t of tools) {
    const found = await findImage(docker, socket, t.image);
    if (!('id' in found)) {
      out.push({ tool: t.tool, image: t.image, status: 'not-run', reason: found.missing ? `${found.why} (paddock pulls nothing; load it there)` : found.why });
      continue;
    }
    const chunks: Buffer[] = [];
    const { Writable } = await import('node:stream');
    const sink = new Writable({ write: (c, _e, cb) => (chunks.push(c as Buffer), cb()) });
    try {
      const [res] = (await docker.run(t.image, t.cmd, sink, { HostConfig: { Binds: [`${p.pack}:/pack:ro`], NetworkMode: 'none', AutoRemove: true }, Tty: true })) as [{ StatusCode: number }];
      const text = Buffer.concat(chunks).toString('utf8');
      if (res.StatusCode !== 0) {
        out.push({ tool: t.tool, image: t.image, status: 'failed', reason: `exit ${res.StatusCode}: ${text.split('\n').slice(-3).join(' ')}` });
        continue;
      }
      const json = JSON.parse(text.slice(text.indexOf('{')));
      mkdirSync(join(p.pack, 'scans'), { recursive: true });
      writeAtomic(join(p.pack, t.out), `${JSON.stringify(json, null, 1)}\n`);
      const findings = t.tool === 'trivy' ? ((json.Results ?? []) as { Vulnerabilities?: unknown[] }[]).reduce((a, r) => a + (r.Vulnerabilities?.length ?? 0), 0) : undefined;
      out.push({ tool: t.tool, image: t.image, status: 'ran', output: t.out, ...(findings !== undefined ? { findings } : {}) });
    } catch (err) {
      out.push({ tool: t.tool, image: t.image, status: 'failed', reason: (err as Error).message });
    }
  }
  return out;
}

export async function runSbom(p: Params): Promise<number> {
  await holdPack(p.pack);
  const reports = readReports(p.pack);
  const cacheFile = join(p.pack, 'calibration.cache');
  const cacheSha = existsSync(cacheFile) ? sha256FileSync(cacheFile).sha256 : undefined;
  const models: SbomModel[] = [];
  for (const [file, info] of Object.entries(MODEL_FILES)) {
    const path = join(p.pack, file);
    if (!existsSync(path)) continue;
    const opset = info.format.startsWith('onnx') ? opsetOf(decodeModel(readFileSync(path), path)) : undefined;
    models.push({ file, name: p.model, version: p.version, sha256: sha256FileSync(path).sha256, opset, ...info, calibrationCacheSha256: info.precision === 'int8' ? cacheSha : undefined });
  }
  const scans = await runScans(p);
  for (const s of scans) {
    emit({ type: 'metric', name: `scan.${s.tool}.ran`, value: s.status === 'ran' ? 1 : 0 });
    log(`${s.tool}: ${s.status === 'ran' ? `ran (${s.output}${s.findings !== undefined ? `, ${s.findings} findings` : ''})` : `${s.status.toUpperCase()}: ${s.reason}; NOT a clean result`}`, s.status === 'ran' ? 'info' : 'warn');
  }
  const files = packFiles(p.pack).filter((f) => f !== 'sbom.cdx.json').map((f) => ({ path: f, ...sha256FileSync(join(p.pack, f)) }));
  const root = installRoot();
  const env = (reports.stage?.environment ?? {}) as { python?: Record<string, string> };
  const lock = npmLockFile(root);
  if (!lock) log(`no package-lock.json or node_modules/.package-lock.json under ${root}: the SBOM lists no npm packages`, 'warn');
  const sbom = buildSbom({
    name: p.model,
    version: p.version,
    paddockVersion: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
    models,
    files,
    npm: lock ? npmComponents(lock) : [],
    python: env.python ?? {},
  });
  const out = join(p.pack, 'sbom.cdx.json');
  writeAtomic(out, `${JSON.stringify(sbom, null, 1)}\n`);
  emitArtifact(out, 'sbom');
  const comps = (sbom as { components: { type: string }[] }).components;
  log(`sbom.cdx.json: CycloneDX 1.6, ${models.length} model components, ${comps.filter((c) => c.type === 'library').length} libraries, ${comps.filter((c) => c.type === 'file').length} files`);
  writeReport(p.pack, 'sbom', { status: 'succeeded', sbom: 'sbom.cdx.json', models: models.length, components: comps.length, scans });
  return 0;
}
