/**
 * export_report.json (`paddock.export_report/2`, src/schema/export-report.ts) on the tiny world,
 * through the real binary: a package run from a recipe committed in a git repository of its own,
 * then the report read back and checked against what is measured here independently: the
 * commit (`git rev-parse HEAD`), each variant's operators counted by Python's onnx module (and
 * the TorchScript module's by torch.jit), the session options the benches used, a host whose
 * CPU model is /proc/cpuinfo's, a skipped step that stays skipped, trtexec's flags and device;
 * and a corrupted report refused with a located error, when read and when written.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paddock } from '../helpers/cli.js';
import { FIXTURES, ROOT, tempDir } from '../helpers/fixtures.js';
import { generateSigningKey, privateKeyFromPem, signBlob, BUNDLE, REPORT, SIGNATURE } from '../../src/pack/signing.js';
import { verifyPack } from '../../src/pack/trust.js';
import { pythonBin } from '../../src/pack/python.js';
import { benchSessionOptions } from '../../src/model/session.js';
import { cpuModelOf, cudaOfNvidiaSmi, parseNvidiaSmiGpus } from '../../src/steps/package/common.js';
import { EXPORT_REPORT_FORMAT, parseExportReport, type ExportReport } from '../../src/schema/export-report.js';

const CAND = join(FIXTURES, 'world', 'models', 'candidate');
const TRTEXEC_LOG = join(FIXTURES, 'reference', 'trtexec', 'trt10.16.1_h100pcie_loadEngine_cudagraph_verbose.log');
const STEP = join(ROOT, 'dist', 'step.js');
const key = generateSigningKey().privatePem;
let tmp: ReturnType<typeof tempDir>;
let repo: string;
let pack: string;
let head: string;
let report: ExportReport;
let run: Awaited<ReturnType<typeof paddock>>;

const git = (args: string[], cwd = repo) => execa('git', args, { cwd }).then((r) => r.stdout.trim());

function recipe(): string {
  return `version: 1
name: export-report
models:
  candidate:
    version: 1.1.0
    onnx: { path: ${JSON.stringify(join(CAND, 'model.onnx'))} }
    checkpoint: { path: ${JSON.stringify(join(CAND, 'model.pt'))} }
    lineage: { commit: auto, dataset: paddock-world golden_train }
targets:
  - { name: cpu-fp32, backend: onnxruntime, precision: fp32 }
  - { name: cpu-int8, backend: onnxruntime, precision: int8 }
  - { name: gpu-trt-fp16, backend: tensorrt, precision: fp16 }
stages:
  package:
    - { id: world, uses: world-build, with: { out: world, size: tiny } }
    - id: stage
      uses: stage
      with: { model: candidate, pack: &pack packs/detector/1.1.0, architecture: &arch { file: ${JSON.stringify(join(FIXTURES, 'world', 'train_detector.py'))}, class: CenterNet, kwargs: { width: 16 } } }
    - { id: export, uses: export, needs: [stage], with: { model: candidate, pack: *pack, architecture: *arch } }
    - { id: coverage, uses: coverage, needs: [export], with: { pack: *pack } }
    - id: variants
      uses: variants
      needs: [coverage, world]
      with:
        model: candidate
        pack: *pack
        fp16: { keep_ops: [Sigmoid] }
        # Small and loose: this test is about the report, not INT8's accuracy.
        int8: { calibrator: max, manifest: world/manifests/golden_val.jsonl, slices: ${JSON.stringify(join(FIXTURES, 'world', 'slices.yaml'))}, balance: [night, pedestrian, day], per_slice: 2, size: 8, choice_frames: 2, sensitivity_inputs: 4, speed_runs: 2, tolerance: { iou_drift: 0.9, min_match_rate: 0, min_class_agreement: 0 } }
    - id: bench
      uses: bench-variants
      needs: [variants]
      with: { model: candidate, pack: *pack, variants: [{ name: fp32, model: model.onnx }, { name: fp16, model: model.fp16.onnx }, { name: int8, model: model.int8.onnx }], batches: [1], iterations: 5, warmup: 1 }
    - { id: torch-bench, uses: torch-bench, needs: [bench], with: { model: candidate, pack: *pack, architecture: *arch, device: cpu, batches: [1], iterations: 4, warmup: 1, report_every: 2, modes: [torchscript] } }
    - { id: trt, uses: import-bench, needs: [stage], with: { pack: *pack, tool: trtexec, file: ${JSON.stringify(TRTEXEC_LOG)}, target: h100/trt-plan } }
    # No image: the step skips, and says why (its frame is never read then).
    - { id: contract-smoke, uses: contract-smoke, needs: [variants], with: { model: candidate, pack: *pack, frame: world/manifests/golden_val.jsonl } }
    - { id: sign, uses: sign, needs: [torch-bench, trt, contract-smoke], with: { model: candidate, pack: *pack, key: { env: EXPORT_REPORT_TEST_KEY } } }
`;
}

beforeAll(async () => {
  tmp = tempDir('paddock-export-report-');
  repo = join(tmp.dir, 'repo');
  await execa('mkdir', ['-p', repo]);
  await git(['init', '-q']);
  writeFileSync(join(repo, 'paddock.yaml'), recipe());
  // What the run writes is ignored, so the tree is clean when the report is written.
  writeFileSync(join(repo, '.gitignore'), 'world/\npacks/\n');
  await git(['add', '.']);
  await git(['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'recipe']);
  head = await git(['rev-parse', 'HEAD']);
  run = await paddock(['package', join(repo, 'paddock.yaml'), '--json'], { PADDOCK_HOME: join(tmp.dir, 'home'), EXPORT_REPORT_TEST_KEY: key }, repo);
  pack = join(repo, 'packs', 'detector', '1.1.0');
  if (existsSync(join(pack, REPORT))) report = JSON.parse(readFileSync(join(pack, REPORT), 'utf8'));
}, 300_000);
afterAll(() => tmp.cleanup());

/** Each ONNX file's IR version, opsets and operators counted by Python's onnx module (subgraphs included). */
async function onnxCounts(files: string[]): Promise<Record<string, { ir_version: number; opsets: Record<string, number>; ops: [string, string, number][] }>> {
  const script = `
import collections, json, sys, onnx
out = {}
for f in sys.argv[1:]:
    m = onnx.load(f)
    c = collections.Counter()
    def walk(g):
        for n in g.node:
            c[(n.domain or "ai.onnx", n.op_type)] += 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)
    walk(m.graph)
    out[f] = {"ir_version": m.ir_version, "opsets": {(o.domain or "ai.onnx"): o.version for o in m.opset_import}, "ops": [[d, o, n] for (d, o), n in sorted(c.items())]}
print(json.dumps(out))
`;
  return JSON.parse((await execa(pythonBin(), ['-c', script, ...files])).stdout);
}

describe('export_report.json', () => {
  it('the package run succeeds and the report meets its schema, version 2', () => {
    expect(run.exitCode, `${run.stderr}\n${run.stdout.split('\n').filter((l) => l.includes('"error"') || l.includes('stderr')).slice(-20).join('\n')}`).toBe(0);
    expect(report.format).toBe(EXPORT_REPORT_FORMAT);
    const r = parseExportReport(report);
    expect(r.problems).toEqual([]);
    expect(r.report).toBeDefined();
  });

  it('carries the real commit of the recipe\'s repository, not "auto", and says the tree was clean', async () => {
    expect(report.lineage.commit).toBe(head);
    expect(report.lineage.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(report.lineage.dirty).toBe(false);
    expect(await git(['status', '--porcelain'])).toBe('');
  });

  it('says dirty when the tree is, and null with a reason outside a repository', async () => {
    writeFileSync(join(repo, 'paddock.yaml'), `${recipe()}# edited\n`);
    const copy = join(tmp.dir, 'copy', '1.1.0');
    cpSync(pack, copy, { recursive: true, dereference: true });
    const sign = (dir: string) => execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack: copy, model: 'candidate', version: '1.1.0', key: { env: 'K' }, lineage: { commit: 'auto' }, lineage_dir: dir })], { env: { K: key }, reject: false });
    const dirty = await sign(repo);
    expect(dirty.exitCode, dirty.stderr).toBe(0);
    const d = JSON.parse(readFileSync(join(copy, REPORT), 'utf8'));
    expect(d.lineage).toMatchObject({ commit: head, dirty: true });
    const outside = await sign(join(tmp.dir, 'copy'));
    expect(outside.exitCode, outside.stderr).toBe(0);
    const o = JSON.parse(readFileSync(join(copy, REPORT), 'utf8'));
    expect(o.lineage.commit).toBeNull();
    expect(o.lineage.commit_reason).toMatch(/not a git repository/);
    writeFileSync(join(repo, 'paddock.yaml'), recipe());
    expect(await git(['status', '--porcelain'])).toBe('');
  });

  it('lists every variant with its precision, IR version, opset and operators, counted as onnx counts them', async () => {
    expect(report.variants.map((v) => [v.name, v.file, v.format, v.precision])).toEqual([
      ['fp32', 'model.onnx', 'onnx', 'fp32'],
      ['fp16', 'model.fp16.onnx', 'onnx', 'fp16'],
      ['int8', 'model.int8.onnx', 'onnx', 'int8'],
      ['torchscript', 'model.ts', 'torchscript', 'fp32'],
    ]);
    const onnx = report.variants.filter((v) => v.format === 'onnx');
    const counted = await onnxCounts(onnx.map((v) => join(pack, v.file)));
    for (const v of onnx) {
      const c = counted[join(pack, v.file)];
      expect(v.ir_version, v.file).toBe(c.ir_version);
      expect(v.opset, v.file).toBe(c.opsets['ai.onnx']);
      expect(Object.fromEntries(v.opsets.map((o) => [o.domain, o.version])), v.file).toEqual(c.opsets);
      expect(v.operators!.map((o) => [o.domain, o.op, o.count]), v.file).toEqual(c.ops);
      expect(v.nodes).toBe(c.ops.reduce((a, o) => a + o[2], 0));
      expect(v.operators!.every((o) => o.opset === c.opsets[o.domain]), v.file).toBe(true);
    }
    // The precision shows in the operators: FP16 adds casts, INT8 quantize/dequantize pairs.
    expect(onnx[1].operators!.some((o) => o.op === 'Cast')).toBe(true);
    expect(onnx[2].operators!.find((o) => o.op === 'QuantizeLinear')?.count).toBeGreaterThan(0);
    expect(onnx[2].operators!.find((o) => o.op === 'DequantizeLinear')?.count).toBeGreaterThan(0);
  });

  it('the TorchScript variant lists its graph\'s operators as torch.jit counts them in the saved module', async () => {
    const ts = report.variants.find((v) => v.name === 'torchscript')!;
    expect(ts.opset).toBeNull();
    expect(ts.format_reason).toMatch(/TorchScript/);
    const script = 'import collections, json, sys, torch\nc = collections.Counter(n.kind() for n in torch.jit.load(sys.argv[1]).inlined_graph.nodes())\nprint(json.dumps(sorted([k.split("::")[0], k.split("::")[1], v] for k, v in c.items())))';
    const counted = JSON.parse((await execa(pythonBin(), ['-c', script, join(pack, 'model.ts')])).stdout) as [string, string, number][];
    expect(ts.operators!.map((o) => [o.domain, o.op, o.count])).toEqual(counted);
    expect(counted.some(([d, o]) => d === 'aten' && /conv/.test(o))).toBe(true);
  });

  it('each ONNX variant has every target\'s coverage, naming what is unsupported', () => {
    for (const v of report.variants.filter((x) => x.format === 'onnx')) {
      expect(v.coverage.map((c) => [c.target, c.precision_matches]), v.name).toEqual([
        ['cpu-fp32', v.precision === 'fp32'],
        ['cpu-int8', v.precision === 'int8'],
        ['gpu-trt-fp16', v.precision === 'fp16'],
      ]);
      for (const c of v.coverage) expect(c.ok).toBe(c.unsupported.length === 0);
    }
    const fp32 = report.variants[0];
    expect(fp32.coverage.every((c) => c.ok)).toBe(true);
    // The same as the coverage step found for the FP32 model (it checks that one only).
    expect(report.operator_coverage?.targets.map((t) => [t.target, t.ok])).toEqual(fp32.coverage.map((c) => [c.target, c.ok]));
    expect(report.variants[3].coverage).toEqual([]);
    expect(report.variants[3].coverage_reason).toMatch(/ONNX backends/);
  });

  it('records the session options the ONNX Runtime bench used, and peak memory with how it was measured', () => {
    const ort = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version;
    for (const v of report.variants.filter((x) => x.format === 'onnx')) {
      expect(v.runtime, v.name).toEqual([{ step: 'bench', runtime: `onnxruntime-node ${ort}`, options: benchSessionOptions(1), targets: [`candidate/${v.name}/b1`] }]);
      expect(v.runtime[0].options).toMatchObject({ graphOptimizationLevel: 'all', executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
      expect(v.memory).toHaveLength(1);
      const m = v.memory[0];
      expect(m.peak_rss_mib).toBeGreaterThanOrEqual(m.rss_before_mib!);
      expect(m.method).toMatch(/VmHWM|maxRSS/);
      expect(m.includes).toMatch(/session/);
    }
    const ts = report.variants[3];
    expect(ts.runtime[0]).toMatchObject({ step: 'torch-bench', targets: ['candidate/cpu-torch-torchscript/b1'] });
    expect(ts.runtime[0].options).toMatchObject({ device: 'cpu', no_grad: true });
    expect(ts.memory[0]).toMatchObject({ step: 'torch-bench', target: 'candidate/cpu-torch-torchscript/b1' });
    // The figures themselves are paddock's one percentile definition, said so.
    expect(report.benchmarks.percentiles.definition).toMatch(/type 7/);
    expect(report.benchmarks.onnxruntime!.every((r) => r.percentiles === report.benchmarks.percentiles.definition)).toBe(true);
  });

  it('the int8 variant carries the variants step\'s int8 entry whole', () => {
    const variants = JSON.parse(readFileSync(join(pack, 'reports', 'variants.json'), 'utf8'));
    expect(report.variants[2].int8).toEqual(variants.int8);
  });

  it('lists the hosts: this machine with /proc/cpuinfo\'s CPU model, the Python steps\' CUDA as torch says, and trtexec\'s GPU and TensorRT', async () => {
    const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim();
    const node = report.hosts.find((h) => h.steps.includes('bench'))!;
    expect(node.cpu.model).toBe(model);
    expect(node.cpu.cores).toBe(cpus().length);
    expect(node.steps).toEqual(expect.arrayContaining(['bench', 'coverage', 'variants', 'sign']));
    const smi = await execa('nvidia-smi', ['-L'], { reject: false });
    if (smi.exitCode !== 0) {
      expect(node.gpus).toEqual([]);
      expect(node.gpu_reason).toMatch(/nvidia-smi/);
      expect(node.driver).toMatchObject({ version: null });
    }
    const py = report.hosts.find((h) => h.steps.includes('export'))!;
    expect(py.steps).toContain('torch-bench');
    expect(py.cpu.model).toBe(model);
    const torch = JSON.parse((await execa(pythonBin(), ['-c', 'import json, torch; print(json.dumps([torch.version.cuda, torch.backends.cudnn.version() if torch.version.cuda else None]))'])).stdout) as [string | null, number | null];
    expect(py.cuda.version).toBe(torch[0]);
    if (torch[0] === null) expect(py.cuda.reason).toMatch(/without CUDA/);
    expect(py.cudnn.version).toBe(torch[1] === null ? null : String(torch[1]));
    const trt = report.hosts.find((h) => h.steps.includes('import-bench-h100_trt-plan') && h.tensorrt.version)!;
    expect(trt.tensorrt.version).toBe('10.16.1');
    expect(trt.gpus).toEqual([{ index: 0, name: 'NVIDIA H100 PCIe', driver: null, memory_mib: 81081, compute_capability: '9.0' }]);
    expect(trt.cpu).toMatchObject({ model: null, cores: null });
    expect(trt.cpu.reason).toMatch(/does not name the CPU/);
  });

  it('trtexec\'s flags are in the report beside its figures, with how it computes percentiles', () => {
    const t = report.benchmarks.imported['import-bench-h100_trt-plan'] as { command: string; options: Record<string, string>; percentile_definition: string; metrics: { name: string; percentile_definition: string | null }[] };
    expect(t.command).toMatch(/^trtexec --loadEngine=model-trained\.trt .*--useCudaGraph/);
    expect(t.options['CUDA Graph']).toBe('Enabled');
    expect(t.percentile_definition).toMatch(/^nearest-rank/);
    expect(t.metrics.find((m) => m.name === 'latency.p99_ms')?.percentile_definition).toBe(t.percentile_definition);
    expect(t.metrics.find((m) => m.name === 'latency.mean_ms')?.percentile_definition).toBeNull();
  });

  it('a skipped step stays skipped, with its reason', () => {
    expect(report.steps['contract-smoke']).toMatchObject({ status: 'skipped', reason: 'the recipe names no Triton image (contract-smoke.with.image)' });
    expect(report.steps.bench.status).toBe('succeeded');
  });

  it('a corrupted report is refused with a located error: by the schema, by verify, by paddock verify', async () => {
    const bad = structuredClone(report) as unknown as { variants: { opset: unknown }[]; hosts: { cpu: { cores: unknown } }[] };
    bad.variants[2].opset = '17';
    bad.hosts[0].cpu.cores = 2.5;
    const located = ['export_report.json: hosts[0].cpu.cores: expected integer, got 2.5', 'export_report.json: variants[2].opset: expected integer, got "17"'];
    expect(parseExportReport(bad).problems).toEqual(located);
    expect(parseExportReport({ ...report, format: 'paddock.export_report/9' }).problems).toEqual(['export_report.json: format: expected "paddock.export_report/2" (or "paddock.export_report/1" from before), got "paddock.export_report/9"']);

    // Signed again with the pack's own key: the signature holds, the schema does not.
    const copy = join(tmp.dir, 'corrupt', '1.1.0');
    cpSync(pack, copy, { recursive: true, dereference: true });
    const bytes = Buffer.from(`${JSON.stringify(bad, null, 1)}\n`);
    const signed = signBlob(bytes, privateKeyFromPem(key, 'test key'));
    writeFileSync(join(copy, REPORT), bytes);
    writeFileSync(join(copy, SIGNATURE), `${signed.sig}\n`);
    writeFileSync(join(copy, BUNDLE), JSON.stringify(signed.bundle));
    const v = verifyPack(copy);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual(located);
    const cli = await paddock(['verify', copy], {});
    expect(cli.exitCode).toBe(1);
    expect(cli.stdout).toContain('FAIL export_report.json: variants[2].opset: expected integer, got "17"');
    rmSync(join(tmp.dir, 'corrupt'), { recursive: true, force: true });
  });

  it('the sign step refuses to sign a report that would not meet its schema', async () => {
    const copy = join(tmp.dir, 'unsignable', '1.1.0');
    cpSync(pack, copy, { recursive: true, dereference: true });
    for (const f of [REPORT, SIGNATURE, BUNDLE]) rmSync(join(copy, f));
    // A step report with a host that is not one is listed as such, not trusted; a scans entry without a status fails the schema.
    const sbom = { step: 'sbom', status: 'succeeded', scans: { secrets: { reason: 'no status' } } };
    writeFileSync(join(copy, 'reports', 'sbom.json'), JSON.stringify(sbom));
    const r = await execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack: copy, model: 'candidate', version: '1.1.0', key: { env: 'K' } })], { env: { K: key }, reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('export_report.json: scans.secrets.status: expected string, got nothing');
    expect(existsSync(join(copy, REPORT))).toBe(false);
  });
});

describe('host details, parsed from real tool output', () => {
  it('reads the CPU model of /proc/cpuinfo on x86 and arm64', () => {
    expect(cpuModelOf('processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n')).toBe('Intel(R) Xeon(R) Processor');
    // A Jetson Orin's kernel names no "model name"; its "Model" line names the board.
    expect(cpuModelOf('processor\t: 0\nBogoMIPS\t: 62.50\nCPU implementer\t: 0x41\n\nModel\t\t: NVIDIA Jetson AGX Orin Developer Kit\n')).toBe('NVIDIA Jetson AGX Orin Developer Kit');
    expect(cpuModelOf('processor\t: 0\n')).toBeNull();
  });

  it('reads nvidia-smi as an H200 host printed it (driver 580.159.04, CUDA 13.0)', () => {
    // Captured on an H200 host: `nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits` and the header of `nvidia-smi`.
    expect(parseNvidiaSmiGpus('0, NVIDIA H200, 580.159.04, 143771\n')).toEqual([{ index: 0, name: 'NVIDIA H200', driver: '580.159.04', memory_mib: 143771 }]);
    expect(cudaOfNvidiaSmi('| NVIDIA-SMI 580.159.04             Driver Version: 580.159.04     CUDA Version: 13.0     |\n')).toBe('13.0');
    expect(parseNvidiaSmiGpus('0, Orin, N/A, [N/A]\n')).toEqual([{ index: 0, name: 'Orin', driver: null, memory_mib: null }]);
  });
});
