/** The `import-bench` step: trtexec and perf_analyzer outputs read as paddock metrics (body: ./import-bench.ts). */
import { defineStep, nodeStep } from '../define.js';
import { PackWith, packContainer, readPackWith } from './params.js';

export const importBenchStep = defineStep({
  name: 'import-bench',
  stage: 'package',
  summary: 'trtexec and perf_analyzer outputs read as paddock metrics',
  // What it emits (docs/steps.md): the percentiles the tools print (trtexec p99.9 as p99_9).
  produces: ['latency.p*_ms', 'latency.mean_ms', 'throughput.items_per_s'],
  with: PackWith,
  invoke(w, ctx) {
    const { rest } = readPackWith(w, ctx);
    return nodeStep(ctx, 'import-bench', { ...rest });
  },
  container: packContainer,
  load: async () => {
    const m = await import('./import-bench.js');
    return { params: m.ImportBenchParams, run: m.runImportBench };
  },
});
