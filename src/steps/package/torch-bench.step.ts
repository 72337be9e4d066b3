/**
 * The `torch-bench` step: a PyTorch latency benchmark of the checkpoint (eager, autocast, TorchScript, CUDA graph). A Python script
 * (runners/python/torch_bench.py) in this machine's Python, or in a PyTorch image on a Docker host.
 */
import { join } from 'node:path';
import { defineStep, pathInputs } from '../define.js';
import { installRoot } from '../../files/install-root.js';
import { pythonBin } from '../../pack/python.js';
import { PackWith, contractIo, readPackWith } from './params.js';

export const torchBenchStep = defineStep({
  name: 'torch-bench',
  stage: 'package',
  summary: 'a PyTorch latency benchmark of the checkpoint (eager, autocast, TorchScript, CUDA graph)',
  with: PackWith,
  invoke(w, ctx) {
    const { rest, m } = readPackWith(w, ctx);
    if (!m?.checkpoint) throw new Error(`step ${ctx.stepId}: the model needs a checkpoint to benchmark with PyTorch`);
    const params = { ...rest, checkpoint: m.checkpoint.path, model: m.name, ...contractIo(m.contractDir) };
    return { command: [pythonBin(), join(installRoot(), 'runners', 'python', 'torch_bench.py'), JSON.stringify(params)], inputs: [m.checkpoint.path] };
  },
  container: {
    image: { recipe: 'a PyTorch image with python3 (the step\'s container.image)' },
    // The scripts travel with the checkpoint and the architecture's file; the image brings PyTorch.
    inputs: (p) => [...pathInputs(p), { path: join(installRoot(), 'runners', 'python') }],
    outputs: (p) => (typeof p.pack === 'string' ? [p.pack] : []),
    command: (local) => ['python3', ...local.slice(1)],
  },
});
