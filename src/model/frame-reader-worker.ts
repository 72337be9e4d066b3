/**
 * The frame reader's worker thread (built to dist/frame-reader.js): reads the frames it is sent
 * into the buffer transferred with them, and transfers it back with their letterboxes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceContract } from '../schema/inference-contract.js';
import { readFramesInto, type FrameSource } from './frame-reader.js';

const { contract } = workerData as { contract: InferenceContract };

parentPort!.on('message', (m: { slot: number; sources: FrameSource[]; buffer: ArrayBuffer }) => {
  const t = performance.now();
  readFramesInto(m.sources, contract, new Float32Array(m.buffer)).then(
    (boxes) => parentPort!.postMessage({ slot: m.slot, buffer: m.buffer, boxes, ms: performance.now() - t }, [m.buffer]),
    (err: Error) => parentPort!.postMessage({ slot: m.slot, buffer: m.buffer, error: err.message }, [m.buffer]),
  );
});
