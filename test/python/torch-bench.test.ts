/**
 * The PyTorch benchmark step (runners/python/torch_bench.py) on this machine's CPU: it speaks the
 * event protocol (every line passes paddock's schema), streams latency per mode and batch, and
 * says which modes need CUDA. Its GPU figures come from the lent machine (docs/benchmarks.md).
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { Event } from '../../src/schema/events.js';
import { FIXTURES, ROOT } from '../helpers/fixtures.js';

const SCRIPT = join(ROOT, 'runners', 'python', 'torch_bench.py');
const params = {
  checkpoint: join(FIXTURES, 'world', 'models', 'candidate', 'model.pt'),
  architecture: { file: join(FIXTURES, 'world', 'train_detector.py'), class: 'CenterNet', kwargs: { width: 16 } },
  input: { shape: [-1, 3, 192, 320] },
  model: 'candidate',
  iterations: 6,
  warmup: 1,
  report_every: 3,
  batches: [1, 2],
  device: 'cpu',
};

describe('runners/python/torch_bench.py', () => {
  it('times FP32 and TorchScript on the CPU and streams valid events', async () => {
    const r = await execa('/usr/bin/python3', [SCRIPT, JSON.stringify(params)], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => Event.parse(JSON.parse(l)));
    const lat = events.filter((e) => e.type === 'latency');
    expect(new Set(lat.map((e) => (e.type === 'latency' ? e.target : '')))).toEqual(new Set(['candidate/cpu-torch-fp32/b1', 'candidate/cpu-torch-torchscript/b1', 'candidate/cpu-torch-fp32/b2', 'candidate/cpu-torch-torchscript/b2']));
    // Two latency batches of 3 per target: streamed, not one line at the end.
    expect(lat).toHaveLength(8);
    const p50 = events.filter((e) => e.type === 'metric' && e.name === 'latency.p50_ms');
    expect(p50).toHaveLength(4);
    const warn = events.filter((e) => e.type === 'log' && e.level === 'warn').map((e) => (e.type === 'log' ? e.message : ''));
    expect(warn).toContain('candidate/cpu-torch-cuda-graph/b1: mode cuda-graph needs CUDA; skipped on the CPU');
  }, 120_000);

  it('asking for CUDA where there is none, or a bad architecture, is a clear error', async () => {
    const cuda = await execa('/usr/bin/python3', [SCRIPT, JSON.stringify({ ...params, device: 'cuda' })], { reject: false });
    expect(cuda.exitCode).toBe(1);
    expect(cuda.stderr).toMatch(/device cuda asked for, but torch .* sees no CUDA device/);
    const bad = await execa('/usr/bin/python3', [SCRIPT, JSON.stringify({ ...params, architecture: { ...params.architecture, kwargs: { width: 8 } } })], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/checkpoint .*model\.pt does not fit CenterNet\(\{'width': 8\}\)/);
  }, 60_000);
});
