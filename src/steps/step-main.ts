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
