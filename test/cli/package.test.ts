/**
 * The package stage end to end through the real binary, on a tiny world and the committed
 * candidate: stage, export (PyTorch), coverage, FP16 + INT8 variants, equivalence, benchmarks,
 * Triton repository, contract smoke (skipped: no Triton here, and it says so), SBOM, signatures;
 * then `paddock verify`. And the ways it must fail: a digest that does not match, a checkpoint
 * with NaN, an operator set a target cannot take.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paddock } from '../helpers/cli.js';
import { FIXTURES, ROOT, tempDir } from '../helpers/fixtures.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { parseCalibrationCache } from '../../src/metrics/int8-calibration.js';
import { parsePbtxt, pbMessages } from '../../src/pack/pbtxt.js';
import { generateSigningKey } from '../../src/pack/signing.js';
import { sha256FileSync } from '../../src/files/digest.js';

const CAND = join(FIXTURES, 'world', 'models', 'candidate');
const sha = (f: string) => sha256FileSync(f).sha256;
let tmp: ReturnType<typeof tempDir>;
let pack: string;
let events: PaddockEvent[];
let run: Awaited<ReturnType<typeof paddock>>;
const key = generateSigningKey().privatePem;

function recipe(opts: { checkpointSha?: string; extraTarget?: string } = {}) {
  return `version: 1
name: pkg
models:
  candidate:
    version: 1.1.0
    onnx: { path: ${JSON.stringify(join(CAND, 'model.onnx'))}, sha256: ${sha(join(CAND, 'model.onnx'))} }
    checkpoint: { path: ${JSON.stringify(join(CAND, 'model.pt'))}, sha256: ${opts.checkpointSha ?? sha(join(CAND, 'model.pt'))} }
    lineage: { commit: auto, dataset: paddock-world golden_train }
targets:
  - { name: cpu-fp32, backend: onnxruntime, precision: fp32 }
  - { name: cpu-int8, backend: onnxruntime, precision: int8 }
  - { name: gpu-trt-fp16, backend: tensorrt, precision: fp16 }
${opts.extraTarget ?? ''}
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
        int8: { calibrator: entropy, manifest: world/manifests/golden_val.jsonl, slices: ${JSON.stringify(join(FIXTURES, 'world', 'slices.yaml'))}, balance: [night, pedestrian, day], per_slice: 2, size: 8, sensitivity_inputs: 8, tolerance: { iou_drift: 0.05, min_match_rate: 0.5, min_class_agreement: 0.5 }, speed_runs: 3 }
    - id: equivalence
      uses: equivalence
      needs: [variants]
      with:
        model: candidate
        pack: *pack
        inputs: { manifest: world/manifests/golden_val.jsonl, count: 24, seed: 5 }
        variants:
          - { name: committed, kind: fp32, file: ${JSON.stringify(join(CAND, 'model.onnx'))} }
          - { name: fp16, kind: fp16, model: model.fp16.onnx }
          - { name: int8, kind: int8, model: model.int8.onnx, tolerances: { iou_drift: 0.2, min_match_rate: 0.5, min_class_agreement: 0.5 } }
    - id: bench
      uses: bench-variants
      needs: [equivalence]
      with: { model: candidate, pack: *pack, variants: [{ name: fp32, model: model.onnx }, { name: int8, model: model.int8.onnx }], batches: [1, 2], iterations: 5, warmup: 1 }
    - { id: torch-bench, uses: torch-bench, needs: [export], with: { model: candidate, pack: *pack, architecture: *arch, device: cpu, batches: [1], iterations: 4, warmup: 1, report_every: 2, modes: [fp32, torchscript] } }
    - id: triton
      uses: triton-repo
      needs: [bench]
      with: { model: candidate, pack: *pack, name: det, variants: [{ name: fp32, model: model.onnx }, { name: int8, model: model.int8.onnx }], ensemble: true, instances: { count: 2, kind: KIND_CPU } }
    - id: contract-smoke
      uses: contract-smoke
      needs: [triton]
      with: { model: candidate, pack: *pack, name: det, image: "nvcr.io/nvidia/tritonserver:24.08-py3", docker_socket: /nonexistent/docker.sock, frame: world/frames/golden_val/PLACEHOLDER }
    - { id: sbom, uses: sbom, needs: [contract-smoke], with: { model: candidate, pack: *pack, docker_socket: /nonexistent/docker.sock } }
    - { id: sign, uses: sign, needs: [sbom], with: { model: candidate, pack: *pack, key: { env: PKG_TEST_KEY } } }
  evaluate:
    - { id: never, run: [/bin/false] }
`;
}

beforeAll(async () => {
  tmp = tempDir('paddock-pkg-');
  // Build the tiny world once to learn its first golden_val frame (the contract smoke sends it).
  const w = await paddock(['world', 'build', '--tiny', '--out', join(tmp.dir, 'world')], {});
  expect(w.exitCode, w.stderr).toBe(0);
  const frame = readFileSync(join(tmp.dir, 'world', 'manifests', 'golden_val.jsonl'), 'utf8').split('\n')[0];
  const path = (JSON.parse(frame) as { path: string }).path.split('/').pop()!;
  writeFileSync(join(tmp.dir, 'p.yaml'), recipe().replace('PLACEHOLDER', path));
  run = await paddock(['package', join(tmp.dir, 'p.yaml'), '--json'], { PADDOCK_HOME: join(tmp.dir, 'home'), PKG_TEST_KEY: key });
  events = run.stdout.trim().split('\n').map((l) => PaddockEvent.parse(JSON.parse(l)));
  pack = join(tmp.dir, 'packs', 'detector', '1.1.0');
}, 240_000);
afterAll(() => tmp.cleanup());

const report = (step: string) => JSON.parse(readFileSync(join(pack, 'reports', `${step}.json`), 'utf8'));

describe('paddock package', () => {
  it('runs the package stage only: every step succeeds but the contract smoke, which is skipped with its reason', () => {
    const errors = events.filter((e) => e.type === 'log' && (e.level === 'error' || e.stream === 'stderr')).map((e) => (e.type === 'log' ? e.message : ''));
    expect(run.exitCode, `${run.stderr}\n${errors.slice(-20).join('\n')}`).toBe(0);
    const steps = events.flatMap((e) => (e.type === 'step' && e.status === 'succeeded' ? [e.step] : []));
    expect(steps).toEqual(expect.arrayContaining(['torch-bench', 'world', 'stage', 'export', 'coverage', 'variants', 'equivalence', 'bench', 'triton', 'sbom', 'sign']));
    expect(steps).not.toContain('contract-smoke');
    const skipped = events.find((e) => e.type === 'step' && e.step === 'contract-smoke' && e.status === 'skipped');
    expect(skipped).toMatchObject({ reason: 'no Docker engine at /nonexistent/docker.sock' });
    expect(steps).not.toContain('never'); // the evaluate stage is not part of `paddock package`
  });

  it('coverage passed every target, TensorRT 10.15 included', () => {
    const c = report('coverage');
    expect(c.targets.map((t: { target: string; list: string; ok: boolean }) => [t.target, t.list, t.ok])).toEqual([['cpu-fp32', 'onnxruntime-1.30.0', true], ['cpu-int8', 'onnxruntime-1.30.0', true], ['gpu-trt-fp16', 'tensorrt-10.15', true]]);
  });

  it('stage records the environment and the verified digests', () => {
    const s = report('stage');
    expect(s.environment.node).toBe(process.versions.node);
    expect(s.environment.onnxruntime_node).toBe('1.30.0');
    expect(s.environment.python.torch).toMatch(/^1\.13/);
    expect(s.environment.lock_files['package-lock.json']).toBe(sha(join(ROOT, 'package-lock.json')));
    expect(s.artifacts.map((a: { name: string; sha256: string }) => [a.name, a.sha256])).toEqual([['candidate.onnx', sha(join(CAND, 'model.onnx'))], ['candidate.checkpoint', sha(join(CAND, 'model.pt'))]]);
    expect(s.smoke.status).toBe('passed');
  });

  it('export reproduces the committed ONNX (byte for byte here; numerically by the equivalence verdict)', () => {
    expect(sha(join(pack, 'model.onnx'))).toBe(sha(join(CAND, 'model.onnx')));
    expect(existsSync(join(pack, 'model.ts'))).toBe(true);
    const v = events.find((e) => e.type === 'verdict' && e.gate === 'equivalence-committed');
    expect(v).toMatchObject({ verdict: 'pass' });
  });

  it('variants: FP16 keeps Sigmoid in FP32; INT8 wrote a TensorRT cache and a QDQ model, with per-layer sensitivity, the fallback search and the fusion check recorded', () => {
    const v = report('variants');
    expect(v.fp16.kept).toEqual(['/Sigmoid']);
    const cache = parseCalibrationCache(readFileSync(join(pack, 'calibration.cache'), 'utf8'));
    expect(cache.header).toBe('TRT-8601-EntropyCalibration2');
    expect(cache.scales.get('images')).toBeGreaterThan(0);
    expect(cache.scales.size).toBe(v.int8.tensors.length);
    expect(v.int8.layers).toHaveLength(21);
    for (const l of v.int8.layers) expect(l.alone.iou_drift).toBeGreaterThanOrEqual(0);
    // What the search left in FP32 is exactly what is not quantized, and the final measure meets its target.
    expect(v.int8.fallback).toEqual(v.int8.layers.filter((l: { quantized: boolean }) => !l.quantized).map((l: { node: string }) => l.node));
    expect(v.int8.quantized.length + v.int8.fallback.length).toBe(21);
    expect(v.int8.search.meets).toBe(true);
    expect(v.int8.search.final.iou_drift).toBeLessThan(0.05 * 0.8);
    // Every quantized layer is an integer kernel in ORT's optimised graph.
    expect(v.int8.optimized_graph.unfused).toEqual([]);
    expect(v.int8.optimized_graph.integer_kernels).toBe(v.int8.quantized.length);
    expect(v.int8.shard.frames.length).toBe(8);
    expect(v.int8.calibration_cache.sha256).toBe(sha(join(pack, 'calibration.cache')));
  });

  it('equivalence: 24 seeded inputs, tensor and task level, a verdict per variant', () => {
    const e = report('equivalence');
    expect(e.inputs.count).toBe(24);
    expect(Object.values(e.inputs.drawn as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(24);
    const fp16 = e.variants.find((v: { name: string }) => v.name === 'fp16');
    expect(fp16.outputs.heatmap.max_abs).toBeGreaterThan(0);
    expect(fp16.outputs.heatmap.max_abs).toBeLessThan(0.05);
    expect(fp16.task.images).toBe(24);
    expect(e.variants.map((v: { verdict: string }) => v.verdict)).toEqual(['pass', 'pass', 'pass']);
  });

  it('benchmarks stream latency per variant and batch size', () => {
    const targets = new Set(events.filter((e) => e.type === 'latency').map((e) => (e.type === 'latency' ? e.target : '')));
    for (const t of ['candidate/fp32/b1', 'candidate/fp32/b2', 'candidate/int8/b1', 'candidate/int8/b2']) expect(targets).toContain(t);
    expect(report('bench').results).toHaveLength(4);
    // The PyTorch step, on this machine's CPU (its GPU figures are in docs/benchmarks.md).
    for (const t of ['candidate/cpu-torch-fp32/b1', 'candidate/cpu-torch-torchscript/b1']) expect(targets).toContain(t);
    expect(report('torch-bench')).toMatchObject({ status: 'succeeded', device: 'cpu' });
    expect(report('torch-bench').results).toHaveLength(2);
  });

  it('the Triton repository parses back: models, ensemble wiring, inference_config.json', () => {
    const t = report('triton-repo');
    expect(t.models.map((m: { name: string }) => m.name)).toEqual(['det', 'det_int8', 'det_ensemble_preprocess', 'det_ensemble_postprocess', 'det_ensemble']);
    const det = parsePbtxt(readFileSync(join(pack, 'triton', 'det', 'config.pbtxt'), 'utf8'));
    expect(pbMessages(det, 'instance_group')[0].count).toEqual([2]);
    expect(pbMessages(det, 'input')[0].dims).toEqual([3, 192, 320]);
    expect(existsSync(join(pack, 'triton', 'det', '1', 'model.onnx'))).toBe(true);
    const ens = parsePbtxt(readFileSync(join(pack, 'triton', 'det_ensemble', 'config.pbtxt'), 'utf8'));
    expect(pbMessages(pbMessages(ens, 'ensemble_scheduling')[0], 'step')).toHaveLength(3);
    expect(readFileSync(join(pack, 'inference_config.json'), 'utf8')).toBe(readFileSync(join(CAND, 'inference_config.json'), 'utf8'));
    expect(t.tensorrt_plan).toMatch(/^none: no TensorRT engine was built/);
  });

  it('contract smoke and scans that could not run say so, and are never reported as passed or clean', () => {
    expect(report('contract-smoke')).toMatchObject({ status: 'skipped', reason: 'no Docker engine at /nonexistent/docker.sock' });
    const warn = events.filter((e) => e.type === 'log' && e.level === 'warn').map((e) => (e.type === 'log' ? e.message : ''));
    expect(warn).toContain('contract smoke SKIPPED: no Docker engine at /nonexistent/docker.sock');
    const scans = report('sbom').scans as Record<string, { status: string; findings: number | null }>;
    // The pack's scans ran (Trivy offline); the image ones had no engine; no database, no vulnerability scan.
    expect(Object.fromEntries(Object.entries(scans).map(([k, s]) => [k, s.status]))).toEqual({ 'image-sbom': 'not-run', 'secrets-pack': 'ran', 'secrets-image': 'not-run', 'licenses-pack': 'ran', 'licenses-image': 'not-run', vulnerabilities: 'not-run' });
    for (const [k, s] of Object.entries(scans)) if (s.status === 'not-run') expect(s.findings, k).toBeNull();
    expect(warn.filter((w) => w.includes('NOT a clean result'))).toHaveLength(4);
  });

  it('SBOM: CycloneDX 1.6 with model components (hash, opset, precision, calibration cache) and dependencies', () => {
    const b = JSON.parse(readFileSync(join(pack, 'sbom.cdx.json'), 'utf8'));
    expect(b).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 1 });
    expect(b.serialNumber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    const models = b.components.filter((c: { type: string }) => c.type === 'machine-learning-model');
    const prop = (c: { properties: { name: string; value: string }[] }, n: string) => c.properties.find((p) => p.name === n)?.value;
    const byFile = Object.fromEntries(models.map((c: { properties: { name: string; value: string }[] }) => [prop(c, 'paddock:file'), c]));
    expect(Object.keys(byFile).sort()).toEqual(['model.fp16.onnx', 'model.int8.onnx', 'model.onnx', 'model.ts']);
    expect(byFile['model.onnx'].hashes).toEqual([{ alg: 'SHA-256', content: sha(join(pack, 'model.onnx')) }]);
    expect(prop(byFile['model.onnx'], 'paddock:onnx:opset')).toBe('17');
    expect(prop(byFile['model.int8.onnx'], 'paddock:precision')).toBe('int8');
    expect(prop(byFile['model.int8.onnx'], 'paddock:calibration-cache:sha256')).toBe(sha(join(pack, 'calibration.cache')));
    const ort = b.components.find((c: { name: string }) => c.name === 'onnxruntime-node');
    expect(ort).toMatchObject({ type: 'library', version: '1.30.0', purl: 'pkg:npm/onnxruntime-node@1.30.0' });
    expect(ort.hashes[0].alg).toBe('SHA-512');
    expect(b.components.find((c: { name: string }) => c.name === 'torch')?.purl).toMatch(/^pkg:pypi\/torch@1\.13/);
  });

  it('the signed pack verifies with paddock verify, and a changed byte fails it', async () => {
    const ok = await paddock(['verify', pack], {});
    expect(ok.exitCode, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^OK .*: signature valid, \d+ files match their sha256$/m);
    const r = JSON.parse(readFileSync(join(pack, 'export_report.json'), 'utf8'));
    expect(r.verdicts.map((v: { gate: string; verdict: string }) => `${v.gate}:${v.verdict}`)).toEqual(['equivalence-committed:pass', 'equivalence-fp16:pass', 'equivalence-int8:pass']);
    expect(r.steps.sbom.status).toBe('succeeded');
    expect(r.contract_smoke.status).toBe('skipped');
    expect(r.benchmarks.onnxruntime).toHaveLength(4);
    expect(r.benchmarks.pytorch.results).toHaveLength(2);
    expect(r.thresholds.equivalence.int8.iou_drift).toBe(0.2);
    const f = join(pack, 'triton', 'det', 'config.pbtxt');
    const orig = readFileSync(f);
    writeFileSync(f, Buffer.concat([orig.subarray(0, 10), Buffer.from('X'), orig.subarray(11)]));
    const bad = await paddock(['verify', pack, '--json'], {});
    writeFileSync(f, orig);
    expect(bad.exitCode).toBe(1);
    expect(JSON.parse(bad.stdout).problems[0]).toMatch(/^triton\/det\/config\.pbtxt: sha256 /);
  });
});

describe('paddock package: failing early and clearly', () => {
  it('a checkpoint whose digest does not match the recipe fails, showing both digests', async () => {
    const wrong = 'a'.repeat(64);
    writeFileSync(join(tmp.dir, 'bad.yaml'), recipe({ checkpointSha: wrong }).replace('PLACEHOLDER', 'x.png'));
    const r = await paddock(['package', join(tmp.dir, 'bad.yaml'), '--headless'], { PADDOCK_HOME: join(tmp.dir, 'home2') });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`the recipe says ${wrong}`);
    expect(r.stderr).toContain(sha(join(CAND, 'model.pt')));
    // The stage step checks again at run time (a file changed after the run started).
    const s = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'stage', JSON.stringify({ pack: join(tmp.dir, 'p2'), artifacts: [{ name: 'ckpt', path: join(CAND, 'model.pt'), sha256: wrong }] })], { reject: false });
    expect(s.exitCode).toBe(1);
    expect(s.stderr).toContain(`recipe: ${wrong}`);
    expect(s.stderr).toContain(`file:   ${sha(join(CAND, 'model.pt'))}`);
  });

  it('a checkpoint that produces NaN fails the smoke forward', async () => {
    const nanCkpt = join(tmp.dir, 'nan.pt');
    await execa('/usr/bin/python3', ['-c', `import torch; s = torch.load(${JSON.stringify(join(CAND, 'model.pt'))}); k = [k for k in s if k.endswith('weight')][0]; s[k][0] = float('nan'); torch.save(s, ${JSON.stringify(nanCkpt)})`]);
    const s = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'stage', JSON.stringify({ pack: join(tmp.dir, 'p3'), checkpoint: nanCkpt, architecture: { file: join(FIXTURES, 'world', 'train_detector.py'), class: 'CenterNet', kwargs: { width: 16 } }, input: { name: 'images', shape: [-1, 3, 192, 320] }, outputs: ['heatmap', 'size', 'offset'] })], { reject: false });
    expect(s.exitCode).toBe(1);
    expect(s.stderr).toMatch(/smoke forward failed: export: smoke forward of .*nan\.pt produced non-finite values: heatmap: \d+ NaN/);
  });

  it('--target with a backend that cannot take the model fails at coverage, before any variant is built', async () => {
    const dir = join(tmp.dir, 'trt');
    mkdirSync(dir, { recursive: true });
    const text = readFileSync(join(tmp.dir, 'p.yaml'), 'utf8').replace('  - { name: cpu-int8, backend: onnxruntime, precision: int8 }', '  - { name: cpu-int8, backend: onnxruntime, precision: int8 }\n  - { name: trt-fp16, backend: tensorrt, precision: fp16, operators: tensorrt-8.4 }');
    writeFileSync(join(dir, 'p.yaml'), text);
    const r = await paddock(['package', join(dir, 'p.yaml'), '--target', 'trt-fp16', '--headless'], { PADDOCK_HOME: join(dir, 'home'), PKG_TEST_KEY: key });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toContain('package/coverage failed');
    expect(r.stdout).toContain('trt-fp16 (tensorrt-8.4): the model imports opset 17; tensorrt 8.4 parses opsets 1 to 13');
    expect(existsSync(join(dir, 'packs', 'detector', '1.1.0', 'model.fp16.onnx'))).toBe(false);
    const unknown = await paddock(['package', join(dir, 'p.yaml'), '--target', 'nope'], { PADDOCK_HOME: join(dir, 'home') });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('--target nope: the recipe\'s targets are cpu-fp32, cpu-int8, trt-fp16, gpu-trt-fp16');
  });
});
