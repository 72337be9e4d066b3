/**
 * Opening an ONNX Runtime session on a model file, with the error a user can act on: ONNX
 * Runtime's own text carries its source paths and C++ signatures
 * (`/onnxruntime_src/.../model.cc:187 onnxruntime::Model::Model(...) ModelProto does not have a
 * graph.`); the message keeps the file and the reason.
 *   fixtures/m/model.onnx: ONNX Runtime cannot load it: ModelProto does not have a graph.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { InputError } from '../files/input-error.js';
import { decodeModel, encodeModel, type OnnxModel } from './onnx-proto.js';

export class ModelLoadError extends InputError {}

/** ONNX Runtime's load failure without its source locations and C++ signatures. */
export function ortReason(message: string): string {
  const first = message.replace(/^Load model from .*? failed:/, '').trim();
  // "/onnxruntime_src/onnxruntime/core/graph/model.cc:187 onnxruntime::Model::Model(...) reason"
  const located = /^\/?\S*onnxruntime\S*:\d+ [^\s(]+\(.*?\)\s+(.*)$/s.exec(first);
  return (located ? located[1] : first).split('\n')[0].trim() || first;
}

/** A session on `file`; a file ONNX Runtime cannot load is a ModelLoadError naming it. */
export async function openSession(ort: typeof import('onnxruntime-node'), file: string, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, options);
  } catch (err) {
    throw new ModelLoadError(`${file}: ONNX Runtime cannot load it: ${ortReason((err as Error).message)}`);
  }
}

/**
 * The session options paddock's ONNX Runtime benches use, the one place they are set, so the
 * report records what was used: every graph optimisation, the CPU execution provider (named, not
 * left to the default), sequential execution, `threads` intra-op threads (0: ONNX Runtime picks),
 * one inter-op thread (sequential execution uses none).
 */
export function benchSessionOptions(threads: number) {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  } satisfies InferenceSession.SessionOptions;
}

/**
 * What ONNX Runtime makes of `model` at graph optimisation level all (as the benches run it):
 * its optimised graph, written by `optimizedModelFilePath` to a temporary file and read back. It
 * may hold hardware-specific nodes (NCHWc), so it is for inspection, not for running elsewhere.
 */
export async function optimizedGraph(ort: typeof import('onnxruntime-node'), model: OnnxModel, where = 'model'): Promise<OnnxModel> {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-ort-'));
  const file = join(dir, 'optimized.onnx');
  try {
    const s = await ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', optimizedModelFilePath: file, logSeverityLevel: 3 });
    await s.release();
    return decodeModel(readFileSync(file), `${where}: ONNX Runtime's optimised graph`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resident memory of this process, from /proc/self/status (KiB), or undefined where there is none. */
export function readRss(): { rssKiB: number; hwmKiB: number } | undefined {
  try {
    const s = readFileSync('/proc/self/status', 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(s);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(s);
    return rss && hwm ? { rssKiB: Number(rss[1]), hwmKiB: Number(hwm[1]) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resets this process's resident high-water mark (VmHWM) to its current RSS, so that the next
 * reading is the peak of what runs after: `echo 5 > /proc/self/clear_refs` (Linux 4.0+,
 * Documentation/filesystems/proc.rst, "clear_refs"). False where that cannot be done.
 */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** How a session's peak memory was measured and what it includes (the export report's `memory`). */
export interface SessionMemory {
  peak_rss_mib: number;
  rss_before_mib: number;
  method: string;
  includes: string;
}

/**
 * Measures the peak resident memory around `work` (opening a session, running it): the
 * high-water mark reset first where Linux allows (then the peak is this work's alone), else
 * getrusage's maxRSS, the peak of the whole process so far (then it says so).
 */
export async function measurePeakRss<T>(work: () => Promise<T>): Promise<{ result: T; memory: SessionMemory }> {
  const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
  const before = readRss();
  const reset = before !== undefined && resetPeakRss();
  const beforeMaxRss = process.resourceUsage().maxRSS;
  const result = await work();
  const after = readRss();
  const includes = 'the whole process: the Node runtime and its heap, the onnxruntime-node library, the session (weights, graph, memory arena) and the input and output tensors';
  if (reset && after && before) {
    return { result, memory: { peak_rss_mib: mib(after.hwmKiB), rss_before_mib: mib(before.rssKiB), method: 'VmHWM of /proc/self/status after the runs, reset to the current RSS (clear_refs 5) just before the session was opened', includes } };
  }
  return {
    result,
    memory: {
      peak_rss_mib: mib(process.resourceUsage().maxRSS),
      rss_before_mib: mib(before?.rssKiB ?? beforeMaxRss),
      method: `process.resourceUsage().maxRSS after the runs: the peak of the process's whole life so far (the high-water mark could not be reset here), so it may be an earlier session's`,
      includes,
    },
  };
}
