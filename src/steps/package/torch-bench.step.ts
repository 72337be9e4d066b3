/**
 * The `torch-bench` step: a PyTorch latency benchmark of the checkpoint (eager, autocast,
 * TorchScript, CUDA graph) by runners/python/torch_bench.py; its report goes into the pack.
 */
import { contractIo, pythonStep } from './params.js';

export const torchBenchStep = pythonStep({
  name: 'torch-bench',
  summary: 'a PyTorch latency benchmark of the checkpoint (eager, autocast, TorchScript, CUDA graph)',
  script: 'torch_bench.py',
  verb: 'benchmark with PyTorch',
  params: (rest, _pack, m) => ({ ...rest, checkpoint: m.checkpoint.path, model: m.name, ...contractIo(m.contractDir) }),
  writes: 'pack',
});
