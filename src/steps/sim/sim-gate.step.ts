/**
 * The `sim-gate` step: the Sim Gate (issue 19 item 6). The recipe's criteria per scenario
 * category (src/sim/gate.ts) judged on the sim step's sim_report.json: a `verdict` event for
 * gate `sim` whose rationale cites the numbers (the finding the gates screen shows), sim_gate.json
 * (which the register step attaches to the pack's registry entry), and the metrics a recipe gate
 * reads. A person's approval is that recipe gate's (body: ./sim-gate.ts):
 *
 *   gates:
 *     - { id: sim-signoff, stage: replay, metric: sim_gate.passed, target: candidate, op: ">=", threshold: 1, on_fail: review, approval: required }
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStep, nodeStep, absPath } from '../define.js';
import { SimGateCriteria } from '../../sim/gate.js';

export const SimGateParams = SimGateCriteria.extend({
  /** The sim step's out folder (or its sim_report.json). */
  report: z.string().min(1),
  /** Where sim_gate.json goes. */
  out: z.string().min(1),
}).strict();
export type SimGateParams = z.output<typeof SimGateParams>;

/** `report:` as given: the sim step's out folder (its sim_report.json) or the file itself. */
export function reportFile(report: string): string {
  return existsSync(report) && statSync(report).isDirectory() ? join(report, 'sim_report.json') : report;
}

export const simGateStep = defineStep({
  name: 'sim-gate',
  stage: 'replay',
  summary: 'the Sim Gate: criteria per scenario category on the sim report (collisions, paired VRU near misses, comfort regressions), a verdict citing the numbers; a recipe gate on sim_gate.passed asks a person',
  produces: ['sim_gate.passed', 'sim_gate.review', 'sim_gate.failed_checks', 'sim_gate.review_checks'],
  with: SimGateParams,
  invoke(w, ctx) {
    const params = { ...w, report: absPath(ctx, w.report), out: absPath(ctx, w.out), ...(ctx.runId ? { run_id: ctx.runId } : {}) };
    return nodeStep(ctx, 'sim-gate', params, [reportFile(params.report)]);
  },
  // It reads one JSON file and writes one: paddock's step image runs it on any Docker host.
  container: {
    image: 'paddock',
    inputs: (params) => [{ path: reportFile(String(params.report)) }],
    outputs: (params) => [String(params.out)],
  },
  load: async () => ({ params: SimGateParams.extend({ run_id: z.string().optional() }), run: (await import('./sim-gate.js')).runSimGate }),
});
