/**
 * The contract smoke step against a real HTTP server speaking KServe v2 (the test helper serves
 * the repository's ONNX models with onnxruntime): a known frame goes in, the answer is checked
 * against the contract; a server that answers the wrong shape fails the step, naming it. And the
 * Python pre/post-processing models of the Triton ensemble agree with paddock's own.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCenterNet } from '../../src/model/decode.js';
import { readFramesInto } from '../../src/model/frame-reader.js';
import { loadContract } from '../../src/model/infer.js';
import { writeTritonRepo } from '../../src/pack/triton-repo.js';
import { FIXTURES, PADDOCK, ROOT, tempDir } from '../helpers/fixtures.js';
import { startKserveServer } from '../helpers/kserve-server.js';
import { paddock } from '../helpers/cli.js';

const CAND = join(FIXTURES, 'world', 'models', 'candidate');
const STEP = join(ROOT, 'dist', 'step.js');
let tmp: ReturnType<typeof tempDir>;
let pack: string;
let frame: string;

beforeAll(async () => {
  tmp = tempDir();
  pack = join(tmp.dir, 'pack');
  mkdirSync(pack, { recursive: true });
  writeTritonRepo([{ name: 'det', file: join(CAND, 'model.onnx'), format: 'onnx' }], loadContract(CAND), { repo: join(pack, 'triton'), version: 1, maxBatchSize: 4, instances: { count: 1, kind: 'KIND_CPU' } });
  const w = await paddock(['world', 'build', '--tiny', '--out', join(tmp.dir, 'world')], {});
  expect(w.exitCode, w.stderr).toBe(0);
  const row = JSON.parse(readFileSync(join(tmp.dir, 'world', 'manifests', 'golden_val.jsonl'), 'utf8').split('\n')[0]) as { path: string };
  frame = join(tmp.dir, 'world', row.path);
  void PADDOCK;
}, 120_000);
afterAll(() => tmp.cleanup());

const smoke = (url: string) => execa(process.execPath, [STEP, 'contract-smoke', JSON.stringify({ pack, model: 'det', contract: CAND, url, frame })], { reject: false });

describe('contract smoke over KServe v2', () => {
  it('passes against a server that answers per the contract, and decodes detections from the frame', async () => {
    const server = await startKserveServer(join(pack, 'triton'));
    try {
      const r = await smoke(server.url);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(server.requests).toBe(1);
      const rep = JSON.parse(readFileSync(join(pack, 'reports', 'contract-smoke.json'), 'utf8'));
      expect(rep).toMatchObject({ status: 'passed', problems: [], model: 'det' });
      expect(rep.detections).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it('fails against a server whose answer does not fit, naming the output', async () => {
    const server = await startKserveServer(join(pack, 'triton'), { corrupt: true });
    try {
      const r = await smoke(server.url);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('size: shape [1,2,48,1], expected [1,2,48,80]');
    } finally {
      await server.close();
    }
  });

  it('with no Triton image (or no Docker engine) it skips, says why in a `skip` event, and its report says skipped', async () => {
    const run = (extra: Record<string, unknown>) => execa(process.execPath, [STEP, 'contract-smoke', JSON.stringify({ pack, model: 'det', contract: CAND, frame, ...extra })], { reject: false });
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'the recipe names no Triton image (contract-smoke.with.image)'],
      [{ image: 'nvcr.io/nvidia/tritonserver:24.08-py3', docker_socket: '/nonexistent/docker.sock' }, 'no Docker engine at /nonexistent/docker.sock'],
    ];
    for (const [extra, reason] of cases) {
      const r = await run(extra);
      expect(r.exitCode, r.stderr).toBe(0);
      const events = String(r.stdout).trim().split('\n').map((l) => JSON.parse(l) as { type: string; reason?: string; name?: string; value?: number });
      // The skip is the step's word: paddock records the step as skipped with this reason, never succeeded.
      expect(events.filter((e) => e.type === 'skip')).toEqual([expect.objectContaining({ reason })]);
      expect(events.find((e) => e.type === 'metric' && e.name === 'contract_smoke.ran')?.value).toBe(0);
      expect(JSON.parse(readFileSync(join(pack, 'reports', 'contract-smoke.json'), 'utf8'))).toMatchObject({ step: 'contract-smoke', status: 'skipped', reason });
    }
  });

  it('an unreachable server is an error naming the URL', async () => {
    const r = await smoke('http://127.0.0.1:9');
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('127.0.0.1:9');
  });
});

describe('the ensemble\'s Python models', () => {
  it('pre-processing matches paddock\'s, and decoding finds the same boxes', async () => {
    const contract = loadContract(CAND);
    const x = new Float32Array(3 * 192 * 320);
    await readFramesInto([{ file: frame, label: 'f' }], contract, x);
    const s = await ort.InferenceSession.create(join(CAND, 'model.onnx'));
    const out = await s.run({ images: new ort.Tensor('float32', x, [1, 3, 192, 320]) });
    await s.release();
    const ts = decodeCenterNet(out.heatmap.data as Float32Array, out.size.data as Float32Array, out.offset.data as Float32Array, 0, 3, 48, 80, { scaleX: 1, scaleY: 1, padX: 0, padY: 0, width: 320, height: 192 }, { stride: 4, topK: contract.decode.top_k, scoreThreshold: contract.score_threshold, nmsIou: contract.nms_iou, maxDetections: contract.max_detections });
    const dir = join(tmp.dir, 'py');
    mkdirSync(dir, { recursive: true });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer));
    for (const k of ['heatmap', 'size', 'offset']) writeFileSync(join(dir, `${k}.f32`), Buffer.from((out[k].data as Float32Array).buffer));
    const py = `
import json, sys, zlib, struct
import numpy as np
sys.path.insert(0, ${JSON.stringify(join(ROOT, 'runners', 'triton'))})
from preprocess import preprocess
from postprocess import decode
c = json.load(open(${JSON.stringify(join(CAND, 'inference_config.json'))}))
sys.path.insert(0, ${JSON.stringify(join(FIXTURES, 'world'))})
from train_detector import read_png
img = read_png(${JSON.stringify(frame)})
x, lb = preprocess(img, c)
ref = np.fromfile(${JSON.stringify(join(dir, 'x.f32'))}, dtype=np.float32).reshape(3, 192, 320)
hm = np.fromfile(${JSON.stringify(join(dir, 'heatmap.f32'))}, dtype=np.float32).reshape(3, 48, 80)
sz = np.fromfile(${JSON.stringify(join(dir, 'size.f32'))}, dtype=np.float32).reshape(2, 48, 80)
of = np.fromfile(${JSON.stringify(join(dir, 'offset.f32'))}, dtype=np.float32).reshape(2, 48, 80)
dets, n = decode(hm, sz, of, lb, c)
print(json.dumps({"pre_max_abs": float(np.abs(x - ref).max()), "n": n, "dets": dets[:n].tolist()}))
`;
    const r = await execa('/usr/bin/python3', ['-c', py], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { pre_max_abs: number; n: number; dets: number[][] };
    expect(got.pre_max_abs).toBeLessThan(1e-5);
    expect(got.n).toBe(ts.length);
    got.dets.forEach((d, i) => {
      expect(d[5]).toBe(ts[i].classIndex);
      expect(d[4]).toBeCloseTo(ts[i].score, 5);
      for (let k = 0; k < 4; k++) expect(d[k]).toBeCloseTo(ts[i].bbox[k], 3);
    });
  });
});
