/**
 * Entry point of paddock's built-in steps when they run as their own process:
 *   node dist/step.js <step> '<json params>'
 * A step prints event-protocol lines on stdout and exits 0 on success.
 */
const [name, paramsText] = process.argv.slice(2);

async function main(): Promise<number> {
  let params: unknown = {};
  try {
    params = paramsText ? JSON.parse(paramsText) : {};
  } catch (err) {
    process.stderr.write(`paddock step ${name}: parameters are not valid JSON: ${(err as Error).message}\n`);
    return 2;
  }
  switch (name) {
    case 'bench': {
      const { runBench } = await import('./package/bench.js');
      return runBench(params);
    }
    case 'world-build': {
      const { runWorldBuild } = await import('./world/world-build.js');
      return runWorldBuild(params);
    }
    case 'evaluate': {
      const { runEvaluate } = await import('./evaluate/evaluate.js');
      return runEvaluate(params);
    }
    case 'check-data': {
      const { runCheckData } = await import('./evaluate/check-data.js');
      return runCheckData(params);
    }
    default:
      process.stderr.write(`paddock step: unknown built-in step ${JSON.stringify(name)} (known: bench, world-build, check-data, evaluate)\n`);
      return 2;
  }
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
