/**
 * The `sim-gate` step's body: decides the Sim Gate on sim_report.json (src/sim/gate.ts), emits
 * the verdict (gate `sim`: a finding, with the numbers), writes sim_gate.json and emits the
 * metrics a recipe gate decides on: `sim_gate.passed` (1 only when every check passed) and
 * `sim_gate.review` (1 when some check could not be decided). A fail verdict fails the step; a
 * review passes it on to the recipe gate (`on_fail: review`), where a person answers, as every
 * gate is answered (the workbench's gates screen, or --gate-policy headless), recorded in the
 * run store. The step itself never waits for anyone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { emit } from '../emit.js';
import { InputError } from '../../files/input-error.js';
import { decideSimGate, type SimGateDecision } from '../../sim/gate.js';
import { SimReport } from '../../schema/sim-report.js';
import { writeReport } from '../promote/registry-common.js';
import { sha256FileSync } from '../../files/digest.js';
import { reportFile, type SimGateParams } from './sim-gate.step.js';

/** The gate id the verdict is recorded under (a step's finding; the recipe's gate is another id). */
export const SIM_GATE = 'sim';

/** sim_gate.json: what the register step attaches to the registry entry (summary.sim_gate). */
export interface SimGateRecord {
  format: 'paddock.sim-gate/1';
  gate: typeof SIM_GATE;
  report: string;
  report_sha256: string;
  candidate: string;
  baseline: string | null;
  verdict: SimGateDecision['verdict'];
  /**
   * What the criteria alone decide: pass only when every check passed. A review is `fail` here
   * until a person approves it at the recipe gate; that answer is in the run store's gate
   * records (src/steps/promote/registry-common.ts runGateRecords), not in this file.
   */
  final: 'pass' | 'fail';
  rationale: string[];
  checks: SimGateDecision['checks'];
  subject_digest: string;
  /** Always unanswered here: `required` says whether the verdict needs a person (review). */
  approval: { required: boolean; decision: null; actor: null; reason: null; by: null };
  run: string | null;
}

export async function runSimGate(p: SimGateParams & { run_id?: string }): Promise<number> {
  const file = resolve(reportFile(p.report));
  if (!existsSync(file)) throw new InputError(`report: ${file} is missing: the sim step writes it (did it run?)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file}: not JSON (${(err as Error).message})`);
  }
  const parsed = SimReport.safeParse(json);
  if (!parsed.success) throw new InputError(parsed.error.issues.slice(0, 5).map((i) => `${file}: ${i.path.join('.')}: ${i.message}`).join('\n'));
  const report = parsed.data;
  const decision = decideSimGate({ criteria: p.criteria }, report);
  emit({ type: 'verdict', gate: SIM_GATE, verdict: decision.verdict, rationale: decision.rationale });
  for (const c of decision.checks) emit({ type: 'log', level: c.status === 'fail' ? 'error' : c.status === 'review' ? 'warn' : 'info', message: `sim gate: ${c.line}` });

  const record: SimGateRecord = {
    format: 'paddock.sim-gate/1',
    gate: SIM_GATE,
    report: file,
    report_sha256: sha256FileSync(file).sha256,
    candidate: report.candidate,
    baseline: report.baseline,
    verdict: decision.verdict,
    final: decision.verdict === 'pass' ? 'pass' : 'fail',
    rationale: decision.rationale,
    checks: decision.checks,
    subject_digest: decision.subjectDigest,
    approval: { required: decision.verdict === 'review', decision: null, actor: null, reason: null, by: null },
    run: p.run_id ?? null,
  };
  const out = writeReport(p.out, 'sim_gate.json', record);
  emit({ type: 'artifact', path: out, ...sha256FileSync(out), role: 'sim-gate' });
  const checks = { checks: decision.checks.length };
  emit({ type: 'metric', name: 'sim_gate.passed', value: decision.verdict === 'pass' ? 1 : 0, target: report.candidate });
  emit({ type: 'metric', name: 'sim_gate.review', value: decision.verdict === 'review' ? 1 : 0, target: report.candidate });
  emit({ type: 'metric', name: 'sim_gate.failed_checks', value: decision.checks.filter((c) => c.status === 'fail').length, target: report.candidate, denominators: checks });
  emit({ type: 'metric', name: 'sim_gate.review_checks', value: decision.checks.filter((c) => c.status === 'review').length, target: report.candidate, denominators: checks });
  if (decision.verdict === 'fail') {
    const why = decision.rationale[0];
    emit({ type: 'failure', id: 'sim-gate', kind: 'sim.gate', severity: 'critical', title: why.slice(0, 1024), evidence: [{ path: out, note: 'sim_gate.json' }], data: { verdict: decision.verdict, checks: decision.checks.filter((c) => c.status !== 'pass') } });
    process.stderr.write(`${why}\n`);
    return 1;
  }
  if (decision.verdict === 'review') emit({ type: 'log', level: 'warn', message: `${decision.rationale[0]}: a person decides at the recipe's gate on sim_gate.passed (on_fail: review)` });
  return 0;
}
