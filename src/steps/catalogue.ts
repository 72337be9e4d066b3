/**
 * paddock's built-in steps: one line each. Adding a step is its definition file
 * (`<stage>/<name>.step.ts`, see define.ts) and one line here; recipe loading, the command line,
 * containers on Docker hosts and dist/step.js all read this list.
 */
import type { StepRules } from '../schema/recipe-load.js';
import { loadRecipe as loadRecipeWith, parseRecipe as parseRecipeWith } from '../schema/recipe-load.js';
import type { StepDefinition } from './define.js';
import { benchStep } from './package/bench.step.js';
import { worldBuildStep } from './world/world-build.step.js';
import { checkDataStep } from './evaluate/check-data.step.js';
import { evaluateStep } from './evaluate/evaluate.step.js';
import { stageStep } from './package/stage.step.js';
import { exportStep } from './package/export.step.js';
import { coverageStep } from './package/coverage.step.js';
import { variantsStep } from './package/variants.step.js';
import { equivalenceStep } from './package/equivalence.step.js';
import { benchVariantsStep } from './package/bench-variants.step.js';
import { tritonRepoStep } from './package/triton-repo.step.js';
import { contractSmokeStep } from './package/contract-smoke.step.js';
import { sbomStep } from './package/sbom.step.js';
import { signStep } from './package/sign.step.js';
import { publishStep } from './package/publish.step.js';
import { importBenchStep } from './package/import-bench.step.js';
import { torchBenchStep } from './package/torch-bench.step.js';
import { verifyPackStep } from './promote/verify-pack.step.js';
import { replayStep } from './replay/replay.step.js';
import { carlaStep } from './sim/carla.step.js';
import { simShardStep } from './sim/sim-shard.step.js';
import { simStep } from './sim/sim.step.js';
import { simGateStep } from './sim/sim-gate.step.js';
import { registerStep } from './promote/register.step.js';
import { governanceStep } from './promote/governance.step.js';
import { soakStep } from './promote/soak.step.js';
import { canaryStep } from './promote/canary.step.js';
import { promoteStep } from './promote/promote.step.js';

export const CATALOGUE: readonly StepDefinition[] = [
  benchStep,
  worldBuildStep,
  checkDataStep,
  evaluateStep,
  stageStep,
  exportStep,
  coverageStep,
  variantsStep,
  equivalenceStep,
  benchVariantsStep,
  tritonRepoStep,
  contractSmokeStep,
  sbomStep,
  signStep,
  publishStep,
  importBenchStep,
  torchBenchStep,
  replayStep,
  carlaStep,
  simShardStep,
  simStep,
  simGateStep,
  verifyPackStep,
  registerStep,
  governanceStep,
  soakStep,
  canaryStep,
  promoteStep,
] as readonly StepDefinition[];

const BY_NAME = new Map(CATALOGUE.map((s) => [s.name, s]));

/** A built-in step by name, or undefined. */
export function findStep(name: string): StepDefinition | undefined {
  return BY_NAME.get(name);
}

/** What recipe loading checks of each step (src/schema/recipe-load.ts takes these as an argument). */
export const STEP_RULES: StepRules = Object.fromEntries(CATALOGUE.map((s) => [s.name, s]));

/** Loads a recipe file, every built-in step's `with` checked against the catalogue. */
export function loadRecipe(file: string) {
  return loadRecipeWith(file, STEP_RULES);
}

/** Parses recipe text, every built-in step's `with` checked against the catalogue. */
export function parseRecipe(text: string, file: string, opts: { gatesText?: string; onGatesText?: (text: string) => void } = {}) {
  return parseRecipeWith(text, file, { ...opts, steps: STEP_RULES });
}
