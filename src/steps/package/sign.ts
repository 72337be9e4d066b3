/**
 * The `sign` step: export_report.json (environment, lineage of each artifact, status of each
 * step, thresholds, verdicts, benchmarks, and every file of the pack with its sha256), signed
 * with ECDSA P-256: export_report.json.sig, export_report.sigstore.json and cosign.pub. The last
 * writer of a run's pack version: it then publishes it (common.ts publishPack), so readers of
 * the pack go from the old signed version to the new one at once. With `key.file`, the public
 * key is also written beside it, `<key.file>.pub`, outside any pack: the key a verifier trusts.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { writeAtomic } from '../../files/atomic.js';
import { BUNDLE, PUBLIC_KEY, REPORT, SIGNATURE, generateSigningKey, loadSigningKey, packFiles, publicPemOf, signBlob } from '../../pack/signing.js';
import { sha256FileSync } from '../../files/digest.js';
import { emitArtifact, log, readReports, holdPack, releasePack, packOfVersion, publishPack } from './common.js';

export const SignParams = z
  .object({
    pack: z.string().min(1),
    model: z.string().min(1),
    version: z.string().min(1),
    contract: z.string().optional(),
    key: z.object({ file: z.string().optional(), env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(), generate: z.boolean().default(false) }).strict(),
    lineage: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
type Params = z.infer<typeof SignParams>;

/** Which step made a pack file. */
export function producedBy(file: string): string {
  if (file.startsWith('reports/')) return file.slice(8, -5);
  if (file.startsWith('triton/') || file === 'inference_config.json') return 'triton-repo';
  if (file.startsWith('scans/') || file === 'sbom.cdx.json') return 'sbom';
  if (file === 'model.onnx' || file === 'model.ts') return 'export';
  if (/^model\.(fp16|int8)\.onnx$/.test(file) || file === 'calibration.cache') return 'variants';
  if (file === PUBLIC_KEY) return 'sign';
  return 'unknown';
}

const ROLES: Record<string, string> = { 'model.onnx': 'onnx-fp32', 'model.ts': 'torchscript', 'model.fp16.onnx': 'onnx-fp16', 'model.int8.onnx': 'onnx-int8-qdq', 'calibration.cache': 'calibration-cache', 'inference_config.json': 'inference-contract', 'sbom.cdx.json': 'sbom', [PUBLIC_KEY]: 'public-key' };

export async function runSign(p: Params): Promise<number> {
  await holdPack(p.pack);
  if (p.key.generate && p.key.file && !existsSync(p.key.file)) {
    mkdirSync(dirname(p.key.file), { recursive: true });
    const k = generateSigningKey();
    writeAtomic(p.key.file, k.privatePem, 0o600);
    chmodSync(p.key.file, 0o600);
    log(`generated a new P-256 signing key at ${p.key.file} (mode 600)`, 'warn');
  }
  const key = loadSigningKey(p.key);
  writeAtomic(join(p.pack, PUBLIC_KEY), publicPemOf(key));
  if (p.key.file && !p.key.env) {
    // Beside the private key, outside the pack: what verify-pack and publish are told to trust.
    writeAtomic(`${p.key.file}.pub`, publicPemOf(key));
    log(`public key: ${p.key.file}.pub`);
  }
  const reports = readReports(p.pack);
  const files = packFiles(p.pack).map((f) => {
    const d = sha256FileSync(join(p.pack, f));
    return { path: f, sha256: d.sha256, bytes: d.bytes, role: ROLES[f] ?? (f.endsWith('config.pbtxt') ? 'triton-config' : f.startsWith('reports/') ? 'step-report' : 'file'), produced_by: producedBy(f) };
  });
  const eq = reports.equivalence as { variants?: { name: string; kind: string; verdict: string; rationale: string[]; tolerances: object; task: object; outputs: object }[] } | undefined;
  const variants = reports.variants as { int8?: { fallback_threshold?: number; fallback?: string[]; calibrator?: string } } | undefined;
  const report = {
    format: 'paddock.export_report/1',
    model: p.model,
    version: p.version,
    created: new Date().toISOString(),
    environment: reports.stage?.environment ?? null,
    lineage: { ...p.lineage, inputs: reports.stage?.artifacts ?? [] },
    steps: Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, { status: r.status, written: r.written }])),
    thresholds: {
      equivalence: Object.fromEntries((eq?.variants ?? []).map((v) => [v.name, v.tolerances])),
      int8: variants?.int8 ? { calibrator: variants.int8.calibrator, fallback_threshold: variants.int8.fallback_threshold, fallback_layers: variants.int8.fallback } : null,
    },
    verdicts: (eq?.variants ?? []).map((v) => ({ gate: `equivalence-${v.name}`, verdict: v.verdict, rationale: v.rationale })),
    operator_coverage: reports.coverage ? { status: reports.coverage.status, targets: (reports.coverage.targets as { target: string; list: string; ok: boolean }[]).map((t) => ({ target: t.target, list: t.list, ok: t.ok })) } : null,
    benchmarks: { onnxruntime: reports.bench?.results ?? null, pytorch: reports['torch-bench'] ?? null, imported: Object.fromEntries(Object.entries(reports).filter(([k]) => k.startsWith('import-bench-'))) },
    contract_smoke: reports['contract-smoke'] ? { status: reports['contract-smoke'].status, reason: reports['contract-smoke'].reason ?? null } : null,
    scans: reports.sbom?.scans ?? null,
    signature: { algorithm: 'ECDSA_P256_SHA256', files: [SIGNATURE, BUNDLE], public_key: PUBLIC_KEY },
    files,
  };
  const reportFile = join(p.pack, REPORT);
  const bytes = Buffer.from(`${JSON.stringify(report, null, 1)}\n`);
  writeAtomic(reportFile, bytes);
  const signed = signBlob(bytes, key);
  writeAtomic(join(p.pack, SIGNATURE), `${signed.sig}\n`);
  writeAtomic(join(p.pack, BUNDLE), `${JSON.stringify(signed.bundle, null, 1)}\n`);
  for (const [f, role] of [[REPORT, 'export-report'], [SIGNATURE, 'signature'], [BUNDLE, 'sigstore-bundle'], [PUBLIC_KEY, 'public-key']]) emitArtifact(join(p.pack, f), role);
  const pack = packOfVersion(p.pack);
  if (pack) {
    const r = await publishPack(p.pack, pack);
    log(`published ${p.pack} as ${pack}${r.previous ? ` (the version it replaced, ${r.previous}, is kept for rollback${r.pruned.length ? `; pruned ${r.pruned.join(', ')}` : ''})` : ''}`);
  } else releasePack(p.pack);
  const at = pack ?? p.pack;
  log(`signed ${REPORT} (${files.length} files listed) with ECDSA P-256; verify with: paddock verify ${at}  or  cosign verify-blob --key ${join(at, PUBLIC_KEY)} --bundle ${join(at, BUNDLE)} --insecure-ignore-tlog=true ${join(at, REPORT)}`);
  return 0;
}
