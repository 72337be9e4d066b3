export { isAlive as isProcessAlive } from '../../runners/process-tree.js';
