/**
 * The committed ONNX of each world model computes what its checkpoint computes: PyTorch
 * (Debian's python3-torch) on the state dict and onnxruntime-node on the ONNX, the same fixed
 * inputs, every output within 1e-4; the TorchScript too.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, tempDir } from '../helpers/fixtures.js';

const MODELS = ['production', 'candidate'];

describe.each(MODELS)('world model %s', (name) => {
  const dir = join(FIXTURES, 'world', 'models', name);
  it('is committed with its checkpoint, TorchScript, ONNX, contract, training record and card, each under 5 MB', () => {
    for (const f of ['model.pt', 'model.ts', 'model.onnx', 'inference_config.json', 'training.json', 'MODEL_CARD.md']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
      expect(readFileSync(join(dir, f)).length).toBeLessThan(5 * 1024 * 1024);
    }
  });

  it('ONNX (onnxruntime) matches the checkpoint (PyTorch) within 1e-4', async () => {
    const { dir: out, cleanup } = tempDir();
    try {
      execFileSync('/usr/bin/python3', [join(FIXTURES, 'world', 'check_export.py'), '--model', dir, '--out', out], { stdio: 'pipe', timeout: 120_000 });
      const shapes = JSON.parse(readFileSync(join(out, 'shapes.json'), 'utf8')) as Record<string, number[]> & { torchscript_max_abs_error: number };
      expect(shapes.torchscript_max_abs_error).toBeLessThan(1e-5);
      const f32 = (f: string) => {
        const b = readFileSync(join(out, f));
        return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
      };
      const ort = await import('onnxruntime-node');
      const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
      const res = await session.run({ images: new ort.Tensor('float32', f32('input.f32'), shapes.input) });
      for (const head of ['heatmap', 'size', 'offset']) {
        const want = f32(`${head}.f32`);
        const got = res[head].data as Float32Array;
        expect(res[head].dims).toEqual(shapes[head]);
        let maxErr = 0;
        for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(want[i] - got[i]));
        expect(maxErr, head).toBeLessThan(1e-4);
      }
    } finally {
      cleanup();
    }
  });
});
