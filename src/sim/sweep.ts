/**
 * Sweeps: scenarios x their ParameterValueDistribution's sets x seeds x randomised conditions x
 * models expand into runs (expandSweep, pure but for reading the distribution files), and the
 * runs of one model and scenario group into shards of `lockstep` runs (shardRuns). Running the
 * shards on the host pool, checkpointed, is src/steps/sim/sweep-run.ts (executeSweep).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { REGIONS, TIMES_OF_DAY, WEATHERS } from '../world/scene.js';
import { Rng, hashSeed } from '../world/detmath.js';
import { canonicalJson } from '../files/canonical-json.js';
import { TrackerParams } from '../replay/tracker.js';
import { PlannerParams } from './planner.js';
import { VehicleParams } from './dynamics.js';
import { expandDistribution } from './distribution.js';
import type { SimConditions, SimRunSpec } from '../schema/sim-types.js';

/** Model folders that name the known-outcome detectors instead of a model (src/sim/batch-detector.ts). */
export const BUILTIN_DETECTORS = { 'builtin:oracle': 'oracle', 'builtin:blind': 'blind' } as const;

const Model = z.object({ name: z.string().min(1), model: z.string().min(1) }).strict();

/** A sweep as a recipe's sim step writes it (snake_case), with defaults. */
export const SweepParams = z
  .object({
    scenarios: z
      .array(
        z
          .object({
            /** An OpenSCENARIO file (.xosc). */
            file: z.string().min(1),
            /** Its ParameterValueDistribution file (OpenSCENARIO 1.2); absent: the file's own parameter values. */
            distribution: z.string().min(1).optional(),
            /** At most this many of the distribution's sets, in its order. */
            max_sets: z.number().int().positive().optional(),
          })
          .strict(),
      )
      .min(1),
    /** How many seeds (0..n-1) or which. */
    seeds: z.union([z.number().int().positive(), z.array(z.number().int().nonnegative()).min(1)]).default(1),
    /** The randomised conditions: each run gets one combination (`random`) or every one (`all`). */
    conditions: z
      .object({
        weather: z.array(z.enum(WEATHERS)).min(1).default(['clear']),
        time_of_day: z.array(z.enum(TIMES_OF_DAY)).min(1).default(['day']),
        region: z.array(z.enum(REGIONS)).min(1).default(['north']),
        /** Background traffic per 100 m (src/sim/world-view.ts). */
        density: z.array(z.number().nonnegative()).min(1).default([0]),
      })
      .strict()
      .default({ weather: ['clear'], time_of_day: ['day'], region: ['north'], density: [0] }),
    conditions_per_seed: z.enum(['random', 'all']).default('random'),
    /** The models that drive; the same runs for each, so that they compare paired. */
    models: z.array(Model).min(1),
    /** Runs per shard, advancing together (one inference call of this batch per tick). */
    lockstep: z.number().int().min(1).max(64).default(8),
    rate_hz: z.number().min(10).max(20).default(10),
    planner: PlannerParams.default(PlannerParams.parse({})),
    vehicle: VehicleParams.default(VehicleParams.parse({})),
    tracker: TrackerParams.default(TrackerParams.parse({})),
    /** Pool hosts by name (hosts.yaml); `local`: this machine. */
    hosts: z.array(z.string().min(1)).min(1).default(['local']),
    /** The hosts.yaml naming them; default: $PADDOCK_HOSTS, hosts.yaml beside the recipe, ~/.config/paddock/hosts.yaml. */
    hosts_file: z.string().min(1).optional(),
  })
  .strict();
export type SweepParams = z.output<typeof SweepParams>;
export type SweepParamsInput = z.input<typeof SweepParams>;

const abs = (baseDir: string, p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));

/** The run id: the digest of everything that makes the run (canonical JSON, so key order does not matter). */
export function runIdOf(spec: Omit<SimRunSpec, 'runId'>): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 20);
}

/** Every combination of the condition lists, in a fixed order. */
function conditionGrid(c: SweepParams['conditions']): SimConditions[] {
  const out: SimConditions[] = [];
  for (const weather of c.weather) for (const timeOfDay of c.time_of_day) for (const region of c.region) for (const density of c.density) out.push({ weather, timeOfDay, region, density });
  return out;
}

/**
 * The runs of a sweep: per scenario, its distribution's sets (or one set of none) x seeds x
 * conditions (one drawn per scenario, set and seed, or all) x models. The conditions do not
 * depend on the model, so every model drives the same runs (paired).
 */
export function expandSweep(p: SweepParams, baseDir: string): SimRunSpec[] {
  const grid = conditionGrid(p.conditions);
  const seeds = typeof p.seeds === 'number' ? Array.from({ length: p.seeds }, (_, i) => i) : p.seeds;
  const runs: SimRunSpec[] = [];
  for (const sc of p.scenarios) {
    const file = abs(baseDir, sc.file);
    // The conditions a seed draws follow the scenario's text, not where the checkout is: the same
    // sweep from another folder (or with the path written another way) drives the same runs.
    const scenarioDigest = createHash('sha256').update(readFileSync(file)).digest('hex');
    let sets: Record<string, string | number | boolean>[] = [{}];
    if (sc.distribution) {
      const dfile = abs(baseDir, sc.distribution);
      sets = expandDistribution(readFileSync(dfile, 'utf8'), dfile).sets;
    }
    if (sc.max_sets !== undefined) sets = sets.slice(0, sc.max_sets);
    sets.forEach((parameters, paramIndex) => {
      for (const seed of seeds) {
        const conds = p.conditions_per_seed === 'all' ? grid : [grid[new Rng(hashSeed(seed, scenarioDigest, paramIndex, 'sim-conditions')).int(0, grid.length - 1)]];
        for (const conditions of conds) {
          for (const m of p.models) {
            const modelDir = m.model in BUILTIN_DETECTORS ? m.model : abs(baseDir, m.model);
            const spec = { scenarioFile: file, parameters, paramIndex, seed, conditions, model: m.name, modelDir };
            runs.push({ runId: runIdOf(spec), ...spec });
          }
        }
      }
    });
  }
  return runs;
}

/** A shard: runs of one model and one scenario, run together in lockstep. */
export interface Shard {
  /** Stable: the digest of its runs' ids. */
  id: string;
  model: string;
  scenarioFile: string;
  runs: SimRunSpec[];
}

/** Groups runs by (model, scenario), in order of first appearance, into shards of at most `size`. */
export function shardRuns(runs: readonly SimRunSpec[], size: number): Shard[] {
  const groups = new Map<string, SimRunSpec[]>();
  for (const r of runs) {
    const key = `${r.model}\u0000${r.modelDir}\u0000${r.scenarioFile}`;
    const g = groups.get(key) ?? [];
    g.push(r);
    groups.set(key, g);
  }
  const shards: Shard[] = [];
  for (const g of groups.values()) {
    for (let i = 0; i < g.length; i += size) {
      const chunk = g.slice(i, i + size);
      const id = createHash('sha256').update(chunk.map((r) => r.runId).join('\n')).digest('hex').slice(0, 16);
      shards.push({ id, model: chunk[0].model, scenarioFile: chunk[0].scenarioFile, runs: chunk });
    }
  }
  return shards;
}

/** Where a run's trace and metrics are written. */
export const runFiles = (out: string, runId: string) => ({ trace: join(out, 'runs', `${runId}.json`), metrics: join(out, 'runs', `${runId}.metrics.json`) });
