/**
 * The `sign` step: export_report.json (src/schema/export-report.ts, `paddock.export_report/2`:
 * environment, lineage with the resolved git commit, the hosts that ran the steps, the status and
 * reason of each step as its report says, every variant with its precision, opset, IR version,
 * operator inventory, per-target coverage, the runtime options and peak memory of its benchmarks,
 * thresholds, verdicts, benchmarks, scans, and every file of the pack with its sha256), validated
 * against its schema (a report that does not meet it is never signed), then signed with ECDSA
 * P-256: export_report.json.sig, export_report.sigstore.json and cosign.pub. The last writer of a
 * run's pack version: it then publishes it (common.ts publishPack), so readers of
 * the pack go from the old signed version to the new one at once. With `key.file`, the public
 * key is also written beside it, `<key.file>.pub`, outside any pack: the key a verifier trusts.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { writeAtomic } from '../../files/atomic.js';
import { installRoot } from '../../files/install-root.js';
import { BUNDLE, PUBLIC_KEY, REPORT, SIGNATURE, generateSigningKey, loadSigningKey, packFiles, publicPemOf, signBlob } from '../../pack/signing.js';
import { sha256FileSync } from '../../files/digest.js';
import { PERCENTILE_DEFINITION, TOOL_PERCENTILES } from '../../metrics/percentile.js';
import { decodeModel } from '../../model/onnx-proto.js';
import { checkCoverage, defaultOperatorList, listOperators, loadOperatorList, modelInventory } from '../../model/op-coverage.js';
import { gitHead } from '../../pipeline/lineage.js';
import { EXPORT_REPORT_FORMAT, Host, parseExportReport, type Variant } from '../../schema/export-report.js';
import { emitArtifact, hostInfo, log, readReports, holdPack, releasePack, packOfVersion, publishPack } from './common.js';

export const SignParams = z
  .object({
    pack: z.string().min(1),
    model: z.string().min(1),
    version: z.string().min(1),
    contract: z.string().optional(),
    key: z.object({ file: z.string().optional(), env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(), generate: z.boolean().default(false) }).strict(),
    lineage: z.record(z.string(), z.unknown()).default({}),
    /** The recipe's folder: where `commit: auto` is resolved (git HEAD and whether the tree is dirty), as the run store does. */
    lineage_dir: z.string().optional(),
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
  const variantsReport = reports.variants as { int8?: { fallback_threshold?: number; fallback?: string[]; calibrator?: string } } | undefined;
  const coverage = reports.coverage as { status?: unknown; targets?: CoverageTarget[] } | undefined;
  const { hosts, without } = collectHosts(reports);
  const report = {
    format: EXPORT_REPORT_FORMAT,
    model: p.model,
    version: p.version,
    created: new Date().toISOString(),
    environment: (reports.stage?.environment as Record<string, unknown> | undefined) ?? null,
    lineage: { ...p.lineage, ...(await resolveCommit(p.lineage.commit, p.lineage_dir)), inputs: (reports.stage?.artifacts as unknown[] | undefined) ?? [] },
    hosts,
    steps_without_host: without,
    steps: Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, { status: typeof r.status === 'string' ? r.status : null, reason: typeof r.reason === 'string' ? r.reason : null, written: typeof r.written === 'string' ? r.written : null }])),
    variants: packVariants(p.pack, files, reports),
    thresholds: {
      equivalence: Object.fromEntries((eq?.variants ?? []).map((v) => [v.name, v.tolerances])),
      int8: variantsReport?.int8 ? { calibrator: variantsReport.int8.calibrator, fallback_threshold: variantsReport.int8.fallback_threshold, fallback_layers: variantsReport.int8.fallback } : null,
    },
    verdicts: (eq?.variants ?? []).map((v) => ({ gate: `equivalence-${v.name}`, verdict: v.verdict, rationale: v.rationale })),
    operator_coverage: coverage ? { status: coverage.status, targets: (coverage.targets ?? []).map((t) => ({ target: t.target, backend: t.backend, precision: t.precision, list: t.list, ok: t.ok, unsupported: t.problems ?? [] })) } : null,
    benchmarks: {
      percentiles: {
        definition: PERCENTILE_DEFINITION,
        exact: "every p50/p95/p99 in benchmarks.onnxruntime and benchmarks.pytorch, and every latency.p*_ms metric of paddock's own benches: computed from all timed samples (src/metrics/percentile.ts; runners/python/torch_bench.py mirrors it)",
        estimates: "the live views' and the headless line's percentiles: read off the latency histogram (src/metrics/latency-histogram.ts), the same definition within 0.5% relative error; none of them is in this report",
        imported: { trtexec: TOOL_PERCENTILES.trtexec, perf_analyzer: TOOL_PERCENTILES.perf_analyzer, 'trtexec --exportTimes': PERCENTILE_DEFINITION },
      },
      onnxruntime: (reports.bench?.results as unknown[] | undefined) ?? null,
      pytorch: reports['torch-bench'] ?? null,
      imported: Object.fromEntries(Object.entries(reports).filter(([k]) => k.startsWith('import-bench-'))),
    },
    contract_smoke: reports['contract-smoke'] ? { status: reports['contract-smoke'].status, reason: reports['contract-smoke'].reason ?? null } : null,
    scans: reports.sbom?.scans ?? null,
    signature: { algorithm: 'ECDSA_P256_SHA256', files: [SIGNATURE, BUNDLE], public_key: PUBLIC_KEY },
    files,
  };
  // Validated before it is signed: a report that does not meet its schema is never signed.
  const checked = parseExportReport(JSON.parse(JSON.stringify(report)));
  if (checked.problems.length) {
    process.stderr.write(`sign: the export report does not meet its schema (${EXPORT_REPORT_FORMAT}); nothing was signed:\n${checked.problems.map((x) => `  ${x}`).join('\n')}\n`);
    releasePack(p.pack);
    return 1;
  }
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
  log(`${REPORT}: ${report.variants.map((v) => `${v.name} (${v.precision}${v.opset ? `, opset ${v.opset}` : ''}, ${v.nodes ?? '?'} nodes)`).join(', ') || 'no variants'}; commit ${report.lineage.commit ?? `unknown: ${report.lineage.commit_reason}`}${report.lineage.dirty ? ' (dirty tree)' : ''}; ${hosts.length} host(s)`);
  log(`signed ${REPORT} (${files.length} files listed) with ECDSA P-256; verify with: paddock verify ${at}  or  cosign verify-blob --key ${join(at, PUBLIC_KEY)} --bundle ${join(at, BUNDLE)} --insecure-ignore-tlog=true ${join(at, REPORT)}`);
  return 0;
}

/** The recipe's `commit`, resolved: "auto" (or none) is the git HEAD of the recipe's folder, as the run store resolves it. */
async function resolveCommit(given: unknown, dir: string | undefined): Promise<{ commit: string | null; commit_reason?: string; commit_source?: string; dirty: boolean | null }> {
  if (typeof given === 'string' && given !== 'auto') {
    if (/^[0-9a-f]{7,64}$/.test(given)) return { commit: given, commit_source: 'the recipe (lineage.commit, as pinned there)', dirty: null };
    return { commit: null, commit_reason: `the recipe's lineage.commit ${JSON.stringify(given)} is not a git commit SHA or "auto"`, dirty: null };
  }
  if (!dir) return { commit: null, commit_reason: 'no recipe folder was given to resolve "auto" in (the step was run by hand, not by paddock run)', dirty: null };
  const head = await gitHead(dir);
  if (head.commit.startsWith('unknown')) return { commit: null, commit_reason: `${dir}: ${head.commit.replace(/^unknown \((.*)\)$/, '$1')}`, dirty: null };
  return { commit: head.commit, commit_source: `git rev-parse HEAD in ${dir}`, dirty: head.dirty ?? null };
}

/**
 * The hosts that ran the steps, from each report's `host` (writeReport, runners/python
 * paddock_model.host_info), this step's own, and the device of each imported trtexec log; the
 * steps whose report carries none, listed with why.
 */
function collectHosts(reports: Record<string, Record<string, unknown>>): { hosts: Host[]; without: { step: string; reason: string }[] } {
  const byKey = new Map<string, Host>();
  const without: { step: string; reason: string }[] = [];
  const add = (step: string, h: Record<string, unknown>) => {
    const key = JSON.stringify(h);
    const known = byKey.get(key);
    if (known) return void known.steps.push(step);
    const parsed = Host.safeParse({ ...h, steps: [step] });
    if (parsed.success) byKey.set(key, parsed.data);
    else without.push({ step, reason: `its report's host does not read as one: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}` });
  };
  for (const [step, r] of Object.entries(reports)) {
    if (r.host && typeof r.host === 'object') add(step, r.host as Record<string, unknown>);
    else without.push({ step, reason: 'its report records no host (written by a step from before hosts were recorded, or by hand)' });
    if (step.startsWith('import-bench-') && r.tool === 'trtexec' && r.device && typeof r.device === 'object') {
      const d = r.device as { name?: string; computeCapability?: string; memoryMiB?: number };
      const log = `the trtexec log ${String(r.file)}`;
      add(step, {
        name: `${d.name ?? 'a GPU'} (${log})`,
        container: null,
        os: null,
        cpu: { model: null, cores: null, reason: `${log} does not name the CPU` },
        memory_mib: null,
        gpus: d.name ? [{ index: 0, name: d.name, driver: null, memory_mib: d.memoryMiB ?? null, ...(d.computeCapability ? { compute_capability: d.computeCapability } : {}) }] : [],
        gpu_reason: d.name ? null : `${log} names no device`,
        driver: { version: null, reason: `${log} does not print the driver version` },
        cuda: { version: null, reason: `${log} does not print the CUDA version` },
        cuda_driver: { version: null, reason: `${log} does not print it` },
        cudnn: { version: null, reason: `${log} does not print the cuDNN version` },
        tensorrt: typeof r.tensorrt === 'string' ? { version: r.tensorrt, source: `${log} (&&&& RUNNING TensorRT.trtexec [TensorRT vNNNN])` } : { version: null, reason: `${log} names no TensorRT version` },
        source: `the device section of ${log}`,
      });
    }
  }
  add('sign', hostInfo() as unknown as Record<string, unknown>);
  return { hosts: [...byKey.values()], without };
}

interface CoverageTarget {
  target: string;
  backend: string;
  precision: 'fp32' | 'fp16' | 'int8';
  list: string;
  operators_list?: string;
  ok: boolean;
  problems?: unknown[];
}

const VARIANT_FILES: { file: string; name: string; format: 'onnx' | 'torchscript'; precision: 'fp32' | 'fp16' | 'int8' }[] = [
  { file: 'model.onnx', name: 'fp32', format: 'onnx', precision: 'fp32' },
  { file: 'model.fp16.onnx', name: 'fp16', format: 'onnx', precision: 'fp16' },
  { file: 'model.int8.onnx', name: 'int8', format: 'onnx', precision: 'int8' },
  { file: 'model.ts', name: 'torchscript', format: 'torchscript', precision: 'fp32' },
];

/**
 * Every model variant in the pack: what it is (ONNX IR version, opsets, producer), its operators
 * with counts (read from the file, onnx-proto.ts), each recipe target's coverage of it (the lists
 * the coverage step used), and what its benchmarks ran it with and how much memory they took.
 */
function packVariants(pack: string, files: { path: string; sha256: string; bytes: number }[], reports: Record<string, Record<string, unknown>>): Variant[] {
  const targets = ((reports.coverage?.targets as CoverageTarget[] | undefined) ?? []).filter((t) => t && typeof t.target === 'string');
  const bench = reports.bench as { variants?: { name: string; sha256: string; runtime: string; session_options: Record<string, unknown>; memory: Record<string, unknown> }[]; results?: { target: string }[]; model?: string } | undefined;
  const torch = reports['torch-bench'] as { torch?: string; options?: Record<string, unknown> & { modes?: Record<string, unknown> }; results?: { target: string; mode: string; memory?: Record<string, unknown> }[] } | undefined;
  const exported = reports.export as { torchscript?: { operators?: unknown[] } } | undefined;
  const imported = Object.entries(reports).filter(([k, r]) => k.startsWith('import-bench-') && r.tool === 'trtexec');
  const out: Variant[] = [];
  for (const vf of VARIANT_FILES) {
    const listed = files.find((f) => f.path === vf.file);
    if (!listed) continue;
    const v: Variant = {
      name: vf.name,
      file: vf.file,
      sha256: listed.sha256,
      bytes: listed.bytes,
      format: vf.format,
      precision: vf.precision,
      ir_version: null,
      opset: null,
      opsets: [],
      producer: null,
      nodes: null,
      operators: null,
      coverage: [],
      coverage_reason: null,
      runtime: [],
      runtime_reason: null,
      memory: [],
      memory_reason: null,
    };
    if (vf.format === 'onnx') {
      try {
        const model = decodeModel(readFileSync(join(pack, vf.file)), vf.file);
        const inv = modelInventory(model);
        Object.assign(v, { ir_version: inv.ir_version || null, opset: inv.opset, opsets: inv.opsets, producer: inv.producer, nodes: inv.nodes, operators: inv.operators });
        if (!inv.ir_version || inv.opset === null) v.format_reason = `${vf.file} declares ${inv.ir_version ? '' : 'no IR version'}${!inv.ir_version && inv.opset === null ? ' and ' : ''}${inv.opset === null ? 'no default-domain opset' : ''}`;
        const uses = listOperators(model);
        for (const t of targets) {
          const name = t.operators_list ?? defaultOperatorList(t.backend);
          if (!name) continue;
          const r = checkCoverage(uses, loadOperatorList(installRoot(), name));
          v.coverage.push({ target: t.target, backend: t.backend, precision: t.precision, list: r.list, precision_matches: t.precision === vf.precision, ok: r.ok, unsupported: r.problems.map((x) => ({ domain: x.domain, op: x.op, opset: x.opset, nodes: x.nodes, reason: x.reason })) });
        }
        if (!v.coverage.length) v.coverage_reason = targets.length ? 'no target of the coverage step has an operator list for its backend' : 'no coverage step ran for this pack (reports/coverage.json is missing), so no target is known';
      } catch (err) {
        const why = `${vf.file} could not be read as ONNX: ${(err as Error).message}`;
        Object.assign(v, { format_reason: why, operators_reason: why, coverage_reason: why });
      }
    } else {
      v.format_reason = 'a TorchScript module has no ONNX IR version or opset';
      v.coverage_reason = 'the operator lists are for ONNX backends; a TorchScript module runs in libtorch';
      const ops = exported?.torchscript?.operators;
      if (Array.isArray(ops)) {
        v.operators = ops as Variant['operators'];
        v.nodes = (ops as { count: number }[]).reduce((a, o) => a + o.count, 0);
      } else v.operators_reason = 'reports/export.json lists no TorchScript operators (an export from before they were recorded)';
    }
    // Benchmarks: ONNX Runtime by the file's digest, PyTorch's TorchScript mode, trtexec by the --onnx it names.
    for (const b of bench?.variants ?? []) {
      if (b.sha256 !== listed.sha256) continue;
      const targetsOf = (bench?.results ?? []).map((r) => r.target).filter((t) => t.split('/').at(-2) === b.name);
      v.runtime.push({ step: 'bench', runtime: b.runtime, options: b.session_options, targets: targetsOf });
      v.memory.push({ step: 'bench', ...(b.memory as { peak_rss_mib: number; method: string; includes: string }) });
    }
    if (vf.format === 'torchscript' && torch?.results) {
      const rs = torch.results.filter((r) => r.mode === 'torchscript');
      if (rs.length) {
        const { modes, ...options } = torch.options ?? {};
        v.runtime.push({ step: 'torch-bench', runtime: `torch ${torch.torch ?? '?'}`, options: { ...options, build: modes?.torchscript ?? null }, targets: rs.map((r) => r.target) });
        for (const r of rs) if (r.memory) v.memory.push({ step: 'torch-bench', target: r.target, ...(r.memory as { peak_rss_mib: number; method: string; includes: string }) });
      }
    }
    for (const [step, r] of imported) {
      const onnx = /--onnx=(\S+)/.exec(String(r.command ?? ''))?.[1];
      if (!onnx || basename(onnx) !== vf.file) continue;
      v.runtime.push({ step, runtime: `TensorRT ${String(r.tensorrt ?? '?')} (trtexec)`, options: { command: r.command, ...(r.options as object) }, targets: [String(r.target)] });
    }
    if (!v.runtime.length) v.runtime_reason = `no benchmark of this pack ran ${vf.file}${vf.format === 'onnx' ? ' (bench-variants names the variants it times; an imported trtexec log counts when its command has --onnx=' + vf.file + ')' : ' (torch-bench with mode torchscript)'}`;
    if (!v.memory.length) v.memory_reason = v.runtime.length ? 'its benchmarks report no memory figure for it (trtexec logs do not print one)' : v.runtime_reason;
    if (vf.name === 'int8' && reports.variants?.int8 && typeof reports.variants.int8 === 'object') v.int8 = reports.variants.int8 as Record<string, unknown>;
    out.push(v);
  }
  return out;
}
