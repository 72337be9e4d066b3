/**
 * `paddock infer --model <dir> --manifest <manifest.jsonl> --out <results.json>`.
 */
import { runInference, writeResults } from '../src/model/infer.js';
import { isInputError } from '../src/files/input-error.js';

export async function inferCommand(opts: { model: string; manifest: string; out: string; json: boolean; limit?: number }): Promise<number> {
  try {
    let last = 0;
    const r = await runInference({
      modelDir: opts.model,
      manifest: opts.manifest,
      limit: opts.limit,
      onProgress: (done, total) => {
        if (Date.now() - last > 2000 || done === total) {
          last = Date.now();
          process.stderr.write(`infer: ${done}/${total} frames\n`);
        }
      },
    });
    writeResults(opts.out, r.results);
    const t = r.timings;
    const summary = { out: opts.out, images: t.images, detections: r.results.length, seconds: +t.seconds.toFixed(2), imagesPerSecond: +t.imagesPerSecond.toFixed(1), phases: { readFrames: +t.readFrames.toFixed(2), readOn: t.readOn, waitForFrames: +t.waitForFrames.toFixed(2), inference: +t.inference.toFixed(2), postprocess: +t.postprocess.toFixed(2) } };
    process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `wrote ${r.results.length} detections for ${t.images} frames to ${opts.out} (${t.imagesPerSecond.toFixed(1)} images/s; inference ${t.inference.toFixed(2)} s, post-processing ${t.postprocess.toFixed(2)} s; reading + pre-processing ${t.readFrames.toFixed(2)} s on a ${t.readOn === 'worker' ? 'worker thread, overlapped' : 'the inference thread'}, waited ${t.waitForFrames.toFixed(2)} s)\n`);
    return 0;
  } catch (err) {
    if (isInputError(err)) {
      process.stderr.write(`paddock infer: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
