/**
 * The Python that runs paddock's Python steps (runners/python/): $PADDOCK_PYTHON, else Debian's
 * /usr/bin/python3 (where python3-torch and python3-onnx are; a pyenv shim on PATH may lack
 * them), else python3 on PATH.
 */
import { existsSync } from 'node:fs';

export function pythonBin(): string {
  if (process.env.PADDOCK_PYTHON) return process.env.PADDOCK_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}
