/**
 * The `replay` step: logged drives (MCAP bundles) fed to the candidate and to production at the
 * recorded timing, tracked, scored against ground truth and against each other, under stress
 * variants and sensor faults; flagged segments become failures and OpenSCENARIO files
 * (body: ./replay.ts).
 */
import { z } from 'zod';
import { defineStep, nodeStep, absPath } from '../define.js';
import { TrackerParams } from '../../replay/tracker.js';
import { ReplayVariant } from '../../replay/stress.js';
import { DegradationRule } from '../../replay/degradation.js';
import { DivergenceThresholds } from '../../replay/divergence.js';

const Model = z.object({ name: z.string().min(1), model: z.string().min(1) }).strict();

export const ReplayParams = z
  .object({
    candidate: Model,
    baseline: Model.optional(),
    /** The drives: MCAP bundles or ROS 2 bags (.mcap, .db3), folders of them, or a world's manifests/replay_drives.json. */
    bundles: z.array(z.string().min(1)).min(1),
    /** At most this many drives (in the listed order), e.g. a quick demo's subset. */
    max_drives: z.number().int().positive().optional(),
    /**
     * `recorded`: each frame is released at its capture time (a 30 s drive takes 30 s);
     * `fast`: frames run back to back and the queue at the recorded rate is replayed on a clock
     * of measured latencies (the same late frames, without the wait). Either way a frame that
     * finishes more than `deadline_ms` after its release counts as late.
     */
    timing: z.enum(['recorded', 'fast']).default('fast'),
    deadline_ms: z.number().positive().default(100),
    tracker: TrackerParams.default(TrackerParams.parse({})),
    divergence: DivergenceThresholds.default(DivergenceThresholds.parse({})),
    /** Ghosts: a confirmed track matching no ground truth for at least this many frames. */
    ghost_frames: z.number().int().positive().default(5),
    variants: z.array(ReplayVariant).default([]),
    degradation: z.array(DegradationRule).default([]),
    /** Flagged segments exported as OpenSCENARIO, most severe first. */
    export_scenarios: z.number().int().min(0).default(3),
    /** At most this many flagged segments become failure events (all are in the report). */
    max_failures: z.number().int().min(0).default(50),
    out: z.string().default('replay'),
  })
  .strict();

export const replayStep = defineStep({
  name: 'replay',
  stage: 'replay',
  summary: 'open-loop replay of logged drives: tracking metrics, divergence against production, stress variants, OpenSCENARIO export',
  produces: [
    'tracking.{HOTA,DetA,AssA,MOTA,MOTP,IDF1,IDSW,Frag,MT,ML,TID_s,LGD_s,ttfd_mean_s}',
    'tracking.ghosts_per_1000_frames',
    'tracking.ghosts_per_km',
    'replay.{frames,late_frames,late_fraction,latency_p50_ms,latency_p95_ms,latency_p99_ms,tracker_us_per_frame}',
    'divergence.{flagged_segments,lost_objects,scenarios_exported}',
    'stress.*',
    'degradation.*',
  ],
  with: ReplayParams,
  reportsAs: (w) => [w.candidate, w.baseline].flatMap((m) => (m && typeof m === 'object' && typeof (m as { name?: unknown }).name === 'string' ? [(m as { name: string }).name] : [])),
  invoke(w, ctx) {
    const model = (m?: { name: string; model: string }) => (m ? { ...m, model: absPath(ctx, m.model) } : undefined);
    const params = { ...w, candidate: model(w.candidate), baseline: model(w.baseline), bundles: w.bundles.map((b) => absPath(ctx, b)), out: absPath(ctx, w.out) };
    return nodeStep(ctx, 'replay', params, params.bundles);
  },
  container: { unsupported: "it decodes the bundles' JPEG frames with sharp's libvips, which paddock's step image does not carry" },
  load: async () => ({ params: ReplayParams, run: (await import('./replay.js')).runReplay }),
});
