/**
 * Entry point of paddock's built-in steps when they run as their own process:
 *   node dist/step.js <step> '<json params>'
 * A step prints event-protocol lines on stdout and exits 0 on success.
 */
import type { z } from 'zod';
import { formatZodIssues } from '../schema/event-lines.js';

const [name, paramsText] = process.argv.slice(2);

/** Each built-in step: its parameter schema and its body, loaded only when it runs. */
const STEPS: Record<string, () => Promise<{ schema: z.ZodType; run: (params: never) => Promise<number> | number }>> = {
  bench: async () => {
    const m = await import('./package/bench.js');
    return { schema: m.BenchParams, run: m.runBench };
  },
  'world-build': async () => {
    const m = await import('./world/world-build.js');
    return { schema: m.WorldBuildParams, run: m.runWorldBuild };
  },
  'check-data': async () => {
    const m = await import('./evaluate/check-data.js');
    return { schema: m.CheckDataParams, run: m.runCheckData };
  },
  'stage': async () => {
    const m = await import('./package/stage.js');
    return { schema: m.StageParams, run: m.runStage };
  },
  'coverage': async () => {
    const m = await import('./package/coverage.js');
    return { schema: m.CoverageParams, run: m.runCoverage };
  },
  'variants': async () => {
    const m = await import('./package/variants.js');
    return { schema: m.VariantsParams, run: m.runVariants };
  },
  'equivalence': async () => {
    const m = await import('./package/equivalence.js');
    return { schema: m.EquivalenceParams, run: m.runEquivalence };
  },
  'bench-variants': async () => {
    const m = await import('./package/bench-variants.js');
    return { schema: m.BenchVariantsParams, run: m.runBenchVariants };
  },
  'triton-repo': async () => {
    const m = await import('./package/triton-repo.js');
    return { schema: m.TritonRepoParams, run: m.runTritonRepo };
  },
  'contract-smoke': async () => {
    const m = await import('./package/contract-smoke.js');
    return { schema: m.ContractSmokeParams, run: m.runContractSmoke };
  },
  'sbom': async () => {
    const m = await import('./package/sbom.js');
    return { schema: m.SbomParams, run: m.runSbom };
  },
  'sign': async () => {
    const m = await import('./package/sign.js');
    return { schema: m.SignParams, run: m.runSign };
  },
  'publish': async () => {
    const m = await import('./package/publish.js');
    return { schema: m.PublishParams, run: m.runPublish };
  },
  'import-bench': async () => {
    const m = await import('./package/import-bench.js');
    return { schema: m.ImportBenchParams, run: m.runImportBench };
  },
  evaluate: async () => {
    const m = await import('./evaluate/evaluate.js');
    return { schema: m.EvaluateParams, run: m.runEvaluate };
  },
};

async function main(): Promise<number> {
  let params: unknown = {};
  try {
    params = paramsText ? JSON.parse(paramsText) : {};
  } catch (err) {
    process.stderr.write(`paddock step ${name}: parameters are not valid JSON: ${(err as Error).message}\n`);
    return 2;
  }
  const load = STEPS[name as keyof typeof STEPS];
  if (!load) {
    process.stderr.write(`paddock step: unknown built-in step ${JSON.stringify(name)} (known: ${Object.keys(STEPS).join(', ')})\n`);
    return 2;
  }
  const { schema, run } = await load();
  const parsed = schema.safeParse(params);
  if (!parsed.success) {
    process.stderr.write(`${name}: invalid parameters: ${formatZodIssues(parsed.error)}\n`);
    return 2;
  }
  return run(parsed.data as never);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`paddock step ${name}: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  },
);
