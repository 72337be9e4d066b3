/**
 * The `register` step: the signed pack, with the evaluate, replay and sim stages' reports (and
 * the Sim Gate's verdict), becomes a
 * registry entry (src/registry/entry-from-reports.ts: the immutable pointers and the summary),
 * then moves to staging and on to candidate (with the policy's candidate approvals). An entry
 * never changes: a version already registered with this pack's manifest digest is reused; with
 * another, the step fails (a new pack is a new version). `prerelease: run` registers each run's
 * pack as its own pre-release (`1.1.0-run.20261203131204`), which is what the demo does: each
 * demo run builds a new pack.
 */
import { z } from 'zod';
import { emit } from '../emit.js';
import { defineStep, nodeStep, absPath } from '../define.js';
import { RegistryParams, actorOf, homeOf, resolveRegistry, runGateRecords, writeReport } from './registry-common.js';

export const RegisterParams = z
  .object({
    ...RegistryParams,
    /** The recipe's model (its version is the entry's, unless `version` says otherwise). */
    model: z.string().min(1),
    version: z.string().min(1).optional(),
    /** `run`: the version gets the run's time as a pre-release (1.1.0-run.20261203131204). */
    prerelease: z.enum(['run']).optional(),
    pack: z.string().min(1),
    /** The evaluate stage's output directory (eval_report.json). */
    evaluation: z.string().min(1).optional(),
    /** The replay stage's output directory (replay_report.json). */
    replay: z.string().min(1).optional(),
    /** The sim step's output directory (sim_report.json): summary.sim and runs.sim. */
    sim: z.string().min(1).optional(),
    /** The sim-gate step's output directory (sim_gate.json): summary.sim_gate, which a policy's governance.require_sim needs for production. */
    sim_gate: z.string().min(1).optional(),
    /** The policy file (for the candidate approvals). */
    policy: z.string().min(1),
    /** How far to move it: staging, or on to candidate (default). */
    to: z.enum(['staging', 'candidate']).default('candidate'),
    /** Seconds a person may take to approve in the workbench. */
    wait_s: z.number().int().positive().default(1800),
    /** Where the step writes registration.json. */
    out: z.string().min(1),
  })
  .strict();
type Params = z.infer<typeof RegisterParams> & { registry: string; audit_key: string; run_id?: string };

/** 1.1.0 and run r-20261203-131204-6a4cf1 -> 1.1.0-run.20261203131204. */
export function runPrerelease(version: string, runId: string | undefined): string {
  const m = /^r-(\d{8})-(\d{6})-/.exec(runId ?? '');
  if (!m) throw new Error(`prerelease: run needs the run id (r-YYYYMMDD-HHMMSS-xxxxxx), got ${runId ?? 'none'}`);
  return `${version.replace(/[-+].*$/, '')}-run.${m[1]}${m[2]}`;
}

async function runRegister(p: Params): Promise<number> {
  const { join } = await import('node:path');
  const { existsSync, readFileSync } = await import('node:fs');
  const { Registry } = await import('../../registry/registry.js');
  const { entryFromReports } = await import('../../registry/entry-from-reports.js');
  const { loadPolicy } = await import('../../registry/policy.js');
  const { ensureApprovals } = await import('./approvals-wait.js');
  const policy = loadPolicy(p.policy);
  const version = p.prerelease === 'run' ? runPrerelease(p.version!, p.run_id) : p.version!;
  const actor = actorOf();
  // This run's gate verdicts so far (package, evaluate, replay), copied into the summary.
  const gates = (await runGateRecords(homeOf(), p.run_id)).verdicts.map((v) => ({ id: v.gate, verdict: v.verdict }));
  const evalReport = p.evaluation ? join(p.evaluation, 'eval_report.json') : undefined;
  const replayReport = p.replay ? join(p.replay, 'replay_report.json') : undefined;
  const simReport = p.sim ? join(p.sim, 'sim_report.json') : undefined;
  const simGate = p.sim_gate ? join(p.sim_gate, 'sim_gate.json') : undefined;
  // Given but not written: the step that writes it did not run (or failed); say so rather than register without it.
  for (const [k, f] of [['sim', simReport], ['sim_gate', simGate]] as const) if (f && !existsSync(f)) throw new Error(`register: ${k}: ${f} is missing (the ${k === 'sim' ? 'sim' : 'sim-gate'} step writes it)`);
  const body = entryFromReports({
    pack: p.pack,
    evalReport: evalReport && existsSync(evalReport) ? evalReport : undefined,
    replayReport: replayReport && existsSync(replayReport) ? replayReport : undefined,
    simReport,
    simGate,
    runs: p.run_id ? { package: p.run_id, ...(evalReport ? { evaluate: p.run_id } : {}), ...(replayReport ? { replay: p.run_id } : {}), ...(simReport ? { sim: p.run_id } : {}) } : {},
    // The Sim Gate's own finding (pass, fail or review); a person's sign-off of it is the recipe gate's record, among `gates`.
    gates: [...gates, ...(simGate ? [{ id: 'sim', verdict: (JSON.parse(readFileSync(simGate, 'utf8')) as { verdict: string }).verdict, stage: 'replay' }] : [])],
    reasons: { 'runs.sim': simReport ? 'no run id was given' : 'no sim step output was given to register (sim:)' },
  });
  const registry = await Registry.open(p.registry, { auditKey: p.audit_key });
  try {
    let entry = await registry.entry(p.name, version);
    if (entry) {
      if (entry.body.pack.manifest_digest !== body.pack.manifest_digest) {
        process.stderr.write(`register: ${p.name} ${version} is already in the registry (${registry.db.where}) with pack manifest ${entry.body.pack.manifest_digest.slice(0, 12)}, and this pack's is ${body.pack.manifest_digest.slice(0, 12)}: an entry never changes; a new pack is a new version (or prerelease: run)\n`);
        return 1;
      }
      emit({ type: 'log', level: 'info', message: `${p.name} ${version} is already registered with this pack (manifest ${body.pack.manifest_digest.slice(0, 12)}, entry ${entry.digest.slice(0, 12)}): kept as it is` });
    } else {
      entry = await registry.register({ model: p.name, version, body, actor });
      emit({ type: 'log', level: 'info', message: `registered ${p.name} ${version} in ${registry.db.where}: entry ${entry.digest.slice(0, 12)}, pack manifest ${body.pack.manifest_digest.slice(0, 12)}, ${body.pack.files.length} files` });
    }
    const reason = `registered by run ${p.run_id ?? '(no run)'}`;
    const aliases = await registry.aliases(p.name);
    const history = await registry.history(p.name);
    const was = (alias: string) => history.some((t) => t.alias === alias && t.to_version === version);
    if (!was('staging')) await registry.transition({ model: p.name, version, alias: 'staging', actor, reason, expect: aliases.staging });
    if (p.to === 'candidate' && !was('candidate')) {
      await ensureApprovals(registry, policy, p.audit_key, { model: p.name, version, stage: 'candidate', entryDigest: entry.digest, waitS: p.wait_s, runId: p.run_id });
      await registry.transition({ model: p.name, version, alias: 'candidate', actor, reason: `${reason}; candidate approvals complete`, expect: (await registry.aliases(p.name)).candidate });
    }
    const now = await registry.aliases(p.name);
    const file = writeReport(p.out, 'registration.json', { model: p.name, version, entry_digest: entry.digest, manifest_digest: body.pack.manifest_digest, registry: registry.db.where, aliases: now });
    emit({ type: 'artifact', path: file, ...(await import('../../files/digest.js')).sha256FileSync(file), role: 'registration' });
    emit({ type: 'metric', name: 'registry.registered', value: 1 });
    emit({ type: 'log', level: 'info', message: `${p.name}: ${Object.entries(now).map(([a, v]) => `${a} ${v ?? '-'}`).join(', ')}` });
    return 0;
  } finally {
    await registry.close();
  }
}

export const registerStep = defineStep({
  name: 'register',
  stage: 'promote',
  summary: 'the signed pack and its reports as an immutable registry entry, moved to staging and candidate',
  produces: ['registry.registered'],
  with: RegisterParams,
  invoke: (w, ctx) => {
    const model = ctx.recipe.models[w.model];
    if (!model) throw new Error(`register: no model "${w.model}" in the recipe`);
    const params = {
      ...w,
      ...resolveRegistry(w, ctx, homeOf()),
      version: w.version ?? model.version,
      pack: absPath(ctx, w.pack),
      policy: absPath(ctx, w.policy),
      out: absPath(ctx, w.out),
      ...(w.evaluation ? { evaluation: absPath(ctx, w.evaluation) } : {}),
      ...(w.replay ? { replay: absPath(ctx, w.replay) } : {}),
      ...(w.sim ? { sim: absPath(ctx, w.sim) } : {}),
      ...(w.sim_gate ? { sim_gate: absPath(ctx, w.sim_gate) } : {}),
      ...(ctx.runId ? { run_id: ctx.runId } : {}),
    };
    return nodeStep(ctx, 'register', params, [params.policy]);
  },
  container: { unsupported: 'it writes the registry with the audit key of the machine that holds it' },
  load: async () => ({ params: RegisterParams.extend({ registry: z.string(), audit_key: z.string(), run_id: z.string().optional() }), run: runRegister }),
});
