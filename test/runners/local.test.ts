import { join } from 'node:path';
import { createLocalRunner } from '../../runners/local.js';
import { runnerContract } from './contract.js';
import { ROOT } from '../helpers/fixtures.js';

const SCRIPT = join(ROOT, 'test', 'fixtures', 'step-behaviours.mjs');

runnerContract({
  name: 'local process',
  make: () => createLocalRunner(),
  processes: true,
  spec: (behaviour, base, arg) => ({ ...base, command: [process.execPath, SCRIPT, behaviour, ...(arg ? [arg] : [])] }),
});
