/**
 * The `export` step: the checkpoint exported to ONNX (opset 17, dynamic batch) with PyTorch and
 * smoke-tested (no NaN/Inf), by runners/python/export.py, into the pack.
 */
import { contractIo, pythonStep } from './params.js';

export const exportStep = {
  ...pythonStep({
    name: 'export',
    summary: 'the checkpoint exported to ONNX (opset 17, dynamic batch) with PyTorch, smoke-tested (no NaN/Inf)',
    script: 'export.py',
    verb: 'export',
    params: (rest, pack, m) => ({ ...rest, checkpoint: m.checkpoint.path, out: pack, ...contractIo(m.contractDir) }),
    writes: 'out',
  }),
  produces: ['smoke.nonfinite', 'export.torchscript_max_abs_error'],
};
