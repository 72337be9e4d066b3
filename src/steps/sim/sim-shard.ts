/**
 * The `sim-shard` step's body: a shard's runs in lockstep (src/sim/closed-loop.ts), each run's
 * trace and RunMetrics written atomically under `<out>/runs/` as it ends (the metrics file last:
 * its presence means the run is done).
 *
 * Exactly once: the shard holds `<out>/shards/<id>.lock` while it runs (src/files/file-lock.ts),
 * so a shard process a killed sweep left behind (a local step leads its own process group and
 * outlives the sweep) finishes its runs while the resumed sweep's process for the same shard
 * waits, then finds them done and skips them. PADDOCK_SIM_RUN_LOG (tests) names a file that gets
 * one line per run started.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emit, progressReporter } from '../emit.js';
import { writeAtomic } from '../../files/atomic.js';
import { acquireDirLock, describeLockWait, releaseDirLock } from '../../files/file-lock.js';
import { runLockstep, type ScenarioLoader } from '../../sim/closed-loop.js';
import { blindDetector, modelDetector, oracleDetector, type SimDetector } from '../../sim/batch-detector.js';
import { loadScenario } from '../../sim/scenario.js';
import { runMetrics } from '../../metrics/safety.js';
import { runFiles } from '../../sim/sweep.js';
import type { SimRunSpec, SimScenario } from '../../schema/sim-types.js';
import type { SimShardParams } from './sim-shard.step.js';

/** Scenario loaders by file: the file read once, each parameter set's scenario loaded once (cached). */
export function scenarioLoaders(files: Iterable<string>): Map<string, ScenarioLoader> {
  const out = new Map<string, ScenarioLoader>();
  for (const file of new Set(files)) {
    const text = readFileSync(file, 'utf8');
    const cache = new Map<string, SimScenario>();
    out.set(file, (parameters) => {
      const key = JSON.stringify(Object.entries(parameters).sort(([a], [b]) => (a < b ? -1 : 1)));
      let s = cache.get(key);
      if (!s) {
        s = loadScenario(text, file, parameters);
        cache.set(key, s);
      }
      return s;
    });
  }
  return out;
}

/** The detector a run's model names: a model folder, or builtin:oracle / builtin:blind. */
export async function detectorFor(model: string, modelDir: string, threads: number): Promise<SimDetector> {
  if (modelDir === 'builtin:oracle') return oracleDetector();
  if (modelDir === 'builtin:blind') return blindDetector();
  return modelDetector(model, modelDir, { threads });
}

export async function runSimShard(p: SimShardParams): Promise<number> {
  const runs = p.runs as SimRunSpec[];
  const models = new Set(runs.map((r) => `${r.model}\u0000${r.modelDir}`));
  if (models.size !== 1) throw new Error(`sim-shard ${p.shard}: a shard's runs share one model (got ${models.size})`);
  const lockDir = join(p.out, 'shards', p.shard);
  await acquireDirLock(lockDir, { run: `sim-shard-${process.pid}`, pid: process.pid }, { onWait: (w) => emit({ type: 'log', level: 'info', message: `sim-shard ${p.shard}: waiting for an earlier process of this shard: ${describeLockWait(w)}` }) });
  try {
    const pending = runs.filter((r) => !existsSync(runFiles(p.out, r.runId).metrics));
    if (pending.length < runs.length) emit({ type: 'log', level: 'info', message: `sim-shard ${p.shard}: ${runs.length - pending.length} of ${runs.length} runs already done; ${pending.length} to run` });
    if (pending.length === 0) return 0;
    const detector = await detectorFor(runs[0].model, runs[0].modelDir, p.threads);
    const runLog = process.env.PADDOCK_SIM_RUN_LOG;
    const progress = progressReporter('ticks');
    let collisions = 0;
    try {
      await runLockstep(pending, {
        scenarios: scenarioLoaders(pending.map((r) => r.scenarioFile)),
        detector,
        planner: p.planner,
        vehicle: p.vehicle,
        tracker: p.tracker,
        rateHz: p.rate_hz,
        onRunStart: (spec) => runLog && appendFileSync(runLog, `${spec.runId} ${process.pid}\n`),
        onStep: (tick, live) => progress(tick, undefined, `${live} of ${pending.length} runs live`),
        onRunEnd: (trace) => {
          const f = runFiles(p.out, trace.spec.runId);
          const metrics = runMetrics(trace, p.thresholds);
          if (metrics.collision) collisions += 1;
          writeAtomic(f.trace, JSON.stringify(trace));
          writeAtomic(f.metrics, JSON.stringify(metrics));
        },
      });
    } finally {
      await detector.close();
    }
    emit({ type: 'log', level: 'info', message: `sim-shard ${p.shard}: ${pending.length} runs of ${runs[0].model} done, ${collisions} collided` });
    return 0;
  } finally {
    releaseDirLock(lockDir, `sim-shard-${process.pid}`);
  }
}
