/**
 * The `canary` step: the recipe's rollout plan (src/schema/rollout.ts: canary steps with bake
 * times, shadow, or A/B; SLOs; Argo Rollouts' or Flagger's counting, named) analysed on telemetry
 * replay: a stream drawn from this run's own outcomes (the bench steps' latency samples of the
 * candidate and production, the replay stage's error, false-braking and disagreement rates;
 * src/registry/telemetry.ts says what each proxy is) at accelerated time, fed through the
 * analysis (src/registry/canary.ts). The decision (promote, pause, rollback) and the step and
 * minute it was taken at go to canary_report.json, which the promote step requires.
 *
 * `drills` are the same analysis on the same telemetry with regressions injected: each must end
 * in a rollback, or the analysis would not have caught it, and the step fails saying so.
 */
import { z } from 'zod';
import { emit } from '../emit.js';
import { defineStep, nodeStep, absPath } from '../define.js';
import { RolloutPlan } from '../../schema/rollout.js';
import { homeOf, writeReport } from './registry-common.js';

const Injection = z
  .object({
    kind: z.enum(['step', 'ramp', 'gap']),
    metric: z.string().min(1).optional(),
    from_minute: z.number().int().nonnegative(),
    to_minute: z.number().int().positive().optional(),
    factor: z.number().positive().optional(),
    add: z.number().optional(),
    ramp_minutes: z.number().int().positive().optional(),
    arm: z.enum(['canary', 'baseline']).optional(),
  })
  .strict();

/** The plan is checked when the recipe loads (its errors located in the recipe) and parsed again in the step. */
const Plan = z.unknown().superRefine((v, ctx) => {
  const r = RolloutPlan.safeParse(v);
  if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', path: i.path as (string | number)[], message: i.message });
});

export const CanaryParams = z
  .object({
    plan: Plan,
    /** The latency targets of the two arms, as the bench steps name them. */
    canary_target: z.string().min(1),
    baseline_target: z.string().min(1),
    /** The replay stage's output directory (replay_report.json): the rates. */
    replay: z.string().min(1),
    /** The evaluate stage's output directory (eval_report.json), named in the sources. */
    evaluation: z.string().min(1).optional(),
    /** Telemetry: requests a minute, and its seed. */
    per_minute: z.number().int().positive().default(600),
    seed: z.number().int().default(1),
    /** Regressions injected into the analysed stream itself (none: the outcomes as measured). */
    injections: z.array(Injection).default([]),
    /** Drills: the same stream with regressions injected; each must be rolled back. */
    drills: z.array(z.object({ name: z.string().min(1), injections: z.array(Injection).min(1) }).strict()).default([]),
    out: z.string().min(1),
  })
  .strict();
type Params = z.infer<typeof CanaryParams> & { run_id?: string; home: string };

async function runCanary(p: Params): Promise<number> {
  const { join } = await import('node:path');
  const { existsSync, writeFileSync, mkdirSync } = await import('node:fs');
  const { parseRolloutPlanValue } = await import('../../schema/rollout.js');
  const { analyzeRollout } = await import('../../registry/canary.js');
  const { readOutcomes, telemetryFromOutcomes } = await import('../../registry/telemetry.js');
  const { RunStore } = await import('../../store/run-store.js');
  const { sha256FileSync } = await import('../../files/digest.js');
  const plan = parseRolloutPlanValue(p.plan, 'plan');
  mkdirSync(p.out, { recursive: true });
  // The bench steps' latency samples, from this run's events in the store, as an NDJSON log.
  const events = join(p.out, 'telemetry-latency.ndjson');
  if (!p.run_id) throw new Error('canary: the latency samples come from the run store, and there is no run');
  const store = new RunStore(p.home, { readonly: true });
  try {
    writeFileSync(events, store.events(p.run_id, 'latency').map((e) => JSON.stringify(e)).join('\n') + '\n');
  } finally {
    store.close();
  }
  const evalReport = p.evaluation ? join(p.evaluation, 'eval_report.json') : undefined;
  const outcomes = readOutcomes({ events, canaryTarget: p.canary_target, baselineTarget: p.baseline_target, replayReport: join(p.replay, 'replay_report.json'), evalReport: evalReport && existsSync(evalReport) ? evalReport : undefined });
  const totalS = plan.strategy === 'canary' ? (plan.steps ?? []).reduce((s, x) => s + x.bake, 0) : plan.strategy === 'shadow' ? plan.shadow!.duration : 3600;
  const minutes = Math.max(1, Math.ceil(totalS / 60) + 1);
  const analyse = (injections: z.infer<typeof Injection>[]) => analyzeRollout(plan, telemetryFromOutcomes({ canary: outcomes.canary, baseline: outcomes.baseline, minutes, perMinute: p.per_minute, seed: p.seed, injections }));
  const result = analyse(p.injections);
  const d = result.decision;
  emit({ type: 'log', level: d.action === 'promote' ? 'info' : 'error', message: `canary (${result.semantics}): ${d.action} at step ${d.step} (${d.weight}%), ${d.at}: ${d.reason}` });
  const drills = p.drills.map((drill) => {
    const r = analyse([...p.injections, ...drill.injections]);
    const caught = r.decision.action === 'rollback';
    emit({ type: 'log', level: caught ? 'info' : 'error', message: `canary drill ${drill.name}: ${r.decision.action} at step ${r.decision.step} (${r.decision.weight}%), ${r.decision.at}${caught ? '' : ': the injected regression was NOT rolled back'}: ${r.decision.reason}` });
    return { name: drill.name, injections: drill.injections, caught, decision: r.decision, timeline: r.timeline };
  });
  const file = writeReport(p.out, 'canary_report.json', { format: 'paddock.canary_report/1', plan: p.plan, telemetry: { minutes, per_minute: p.per_minute, seed: p.seed, injections: p.injections, sources: outcomes.sources }, ...result, drills });
  emit({ type: 'artifact', path: file, ...sha256FileSync(file), role: 'canary-report' });
  emit({ type: 'metric', name: 'canary.promote', value: d.action === 'promote' ? 1 : 0 });
  emit({ type: 'metric', name: 'canary.decision_step', value: d.step });
  emit({ type: 'metric', name: 'canary.decision_at_s', value: d.at_s, unit: 's' });
  emit({ type: 'metric', name: 'canary.drills_caught', value: drills.filter((x) => x.caught).length });
  for (const tick of result.timeline) for (const m of tick.metrics) if (m.value !== null) emit({ type: 'metric', name: `canary.${m.name}`, value: m.value, slice: `t=${tick.t_s}s` });
  if (d.action !== 'promote') {
    process.stderr.write(`canary: the analysis decided ${d.action} at step ${d.step} (${d.weight}%), ${d.at}: ${d.reason}\n`);
    return 1;
  }
  const missed = drills.filter((x) => !x.caught);
  if (missed.length) {
    process.stderr.write(`canary: ${missed.length} drill(s) were not rolled back: ${missed.map((x) => `${x.name} (${x.decision.action}: ${x.decision.reason})`).join('; ')}\n`);
    return 1;
  }
  return 0;
}

export const canaryStep = defineStep({
  name: 'canary',
  stage: 'promote',
  summary: "the rollout plan's canary analysis (Argo or Flagger semantics) on telemetry replayed from this run's outcomes, with drills",
  produces: ['canary.promote', 'canary.decision_step', 'canary.decision_at_s', 'canary.drills_caught', 'canary.*'],
  with: CanaryParams,
  invoke: (w, ctx) => {
    const params = {
      ...w,
      replay: absPath(ctx, w.replay),
      out: absPath(ctx, w.out),
      ...(w.evaluation ? { evaluation: absPath(ctx, w.evaluation) } : {}),
      ...(ctx.runId ? { run_id: ctx.runId } : {}),
      home: homeOf(),
    };
    return nodeStep(ctx, 'canary', params, []);
  },
  container: { unsupported: "it reads the bench steps' latency samples from the run store on this machine" },
  load: async () => ({ params: CanaryParams.extend({ run_id: z.string().optional(), home: z.string() }), run: runCanary }),
});
