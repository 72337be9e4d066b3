/**
 * The `torch-bench` step: a PyTorch latency benchmark of the checkpoint (eager, autocast,
 * TorchScript, CUDA graph) by runners/python/torch_bench.py; its report goes into the pack.
 */
import { contractIo, pythonStep } from './params.js';

export const torchBenchStep = {
  ...pythonStep({
    name: 'torch-bench',
    summary: 'a PyTorch latency benchmark of the checkpoint (eager, autocast, TorchScript, CUDA graph)',
    script: 'torch_bench.py',
    verb: 'benchmark with PyTorch',
    params: (rest, _pack, m) => ({ ...rest, checkpoint: m.checkpoint.path, model: m.name, ...contractIo(m.contractDir) }),
    writes: 'pack',
  }),
  // What it emits (docs/steps.md): per <model>/<mode>/b<batch>; GPU memory only on CUDA.
  produces: ['latency.p{50,95,99}_ms', 'latency.mean_ms', 'throughput.items_per_s', 'memory.gpu_peak_{allocated,reserved}_mb'],
};
