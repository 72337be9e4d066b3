/**
 * The world's frames rendered on worker threads. Frames are independent and deterministic
 * (exact IEEE math, seeded PRNGs: docs/world.md), so each job (a scene, or a replay drive written
 * as one MCAP bundle by the worker that renders it) renders to the same bytes on any thread; the main thread assembles rows, ground truth and the content
 * digest in job order (dataset.ts), so the world is byte for byte the single-thread one
 * (test/world/world.test.ts compares every file).
 *
 * The worker is a script of paddock's build that, on a worker thread whose workerData says
 * RENDER_WORKER, calls serveRenderJobs(): the world-build step's body in dist/step.js
 * (src/steps/world/world-build.ts), so no bundle entry of its own is needed.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { renderJob, renderOnThisThread, sharpPng, type RenderAll, type RenderJob, type RenderedJob } from './dataset.js';

/** workerData.role of a render worker. */
export const RENDER_WORKER = 'paddock-world-render';

/** Where render workers come from: a script, the argv it is started with, and how many. */
export interface RenderWorkers {
  script: string;
  argv?: string[];
  count: number;
}

type Request = { id: number; job: RenderJob; out: string };
type Reply = { id: number; rendered: RenderedJob } | { id: number; error: string };

/** Whether this thread was started as a render worker. */
export function isRenderWorker(): boolean {
  return !isMainThread && (workerData as { role?: string } | null)?.role === RENDER_WORKER;
}

/**
 * A RenderAll over `spec.count` worker threads; each holds up to two jobs, so it never waits for
 * the next one. Fewer than two workers render on this thread (a single worker only adds copies).
 */
export function renderOnWorkers(spec: RenderWorkers): RenderAll {
  return async (jobs, out, onDone) => {
    const count = Math.min(spec.count, jobs.length);
    if (count < 2) return renderOnThisThread(jobs, out, onDone);
    const results: RenderedJob[] = new Array(jobs.length);
    // Handed out largest first (a replay drive renders 300 frames, a scene 10): the drives last
    // left one worker rendering a whole drive alone at the end. Results stay in job order.
    const order = jobs.map((_, j) => j).sort((a, b) => framesOf(jobs[b]) - framesOf(jobs[a]) || a - b);
    let next = 0;
    let done = 0;
    const workers: Worker[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        let failed = false;
        const fail = (err: Error) => {
          if (failed) return;
          failed = true;
          reject(err);
        };
        const feed = (w: Worker) => {
          if (next < jobs.length) {
            const id = order[next++];
            w.postMessage({ id, job: jobs[id], out } satisfies Request);
          }
        };
        for (let k = 0; k < count; k++) {
          const w = new Worker(spec.script, { argv: spec.argv ?? [], workerData: { role: RENDER_WORKER } });
          workers.push(w);
          w.on('message', (m: Reply) => {
            if ('error' in m) return fail(new Error(`world build: ${m.error}`));
            results[m.id] = m.rendered;
            onDone(++done, jobs[m.id]);
            if (done === jobs.length) resolve();
            else feed(w);
          });
          w.on('error', (err) => fail(new Error(`world build: a render worker failed: ${err.message}`)));
          w.on('exit', (code) => {
            if (done < jobs.length) fail(new Error(`world build: a render worker (${spec.script}) ended with code ${code} before the world was rendered`));
          });
          feed(w);
          feed(w);
        }
      });
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    return results;
  };
}

/** How many frames a job renders: the measure of its cost the pool hands jobs out by. */
const framesOf = (job: RenderJob) => (job.kind === 'replay' ? job.ticks : job.framesPerScene);

/** The worker's side: renders each job it is sent, one at a time, and replies with its frames (and bundle). */
export async function serveRenderJobs(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('serveRenderJobs runs on a worker thread');
  const encode = await sharpPng();
  let queue = Promise.resolve();
  port.on('message', (m: Request) => {
    queue = queue.then(async () => {
      try {
        port.postMessage({ id: m.id, rendered: await renderJob(m.job, m.out, encode) } satisfies Reply);
      } catch (err) {
        port.postMessage({ id: m.id, error: (err as Error).message } satisfies Reply);
      }
    });
  });
}
