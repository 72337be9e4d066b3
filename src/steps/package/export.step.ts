/**
 * The `export` step: the checkpoint exported to ONNX (opset 17, dynamic batch) with PyTorch, smoke-tested (no NaN/Inf). A Python script
 * (runners/python/export.py) in this machine's Python, or in a PyTorch image on a Docker host.
 */
import { join } from 'node:path';
import { defineStep, pathInputs } from '../define.js';
import { installRoot } from '../../files/install-root.js';
import { pythonBin } from '../../pack/python.js';
import { PackWith, contractIo, readPackWith } from './params.js';

export const exportStep = defineStep({
  name: 'export',
  stage: 'package',
  summary: 'the checkpoint exported to ONNX (opset 17, dynamic batch) with PyTorch, smoke-tested (no NaN/Inf)',
  with: PackWith,
  invoke(w, ctx) {
    const { rest, pack, m } = readPackWith(w, ctx);
    if (!m?.checkpoint) throw new Error(`step ${ctx.stepId}: the model needs a checkpoint to export`);
    const params = { ...rest, checkpoint: m.checkpoint.path, out: pack, ...contractIo(m.contractDir) };
    return { command: [pythonBin(), join(installRoot(), 'runners', 'python', 'export.py'), JSON.stringify(params)], inputs: [m.checkpoint.path] };
  },
  container: {
    image: { recipe: 'a PyTorch image with python3 (the step\'s container.image)' },
    // The scripts travel with the checkpoint and the architecture's file; the image brings PyTorch.
    inputs: (p) => [...pathInputs(p), { path: join(installRoot(), 'runners', 'python') }],
    outputs: (p) => (typeof p.out === 'string' ? [p.out] : []),
    command: (local) => ['python3', ...local.slice(1)],
  },
});
