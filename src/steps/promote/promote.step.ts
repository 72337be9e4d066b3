/**
 * The `promote` step, the last of the pipeline: with the governance checks passed, the canary
 * analysis deciding "promote" (and the soak passed, where the recipe has one), the Sim Gate
 * passed where the policy requires it (governance.require_sim: simGateForProduction), and every role
 * the policy requires for production having approved this entry (approvals-wait.ts), production
 * moves to this version and the previous production becomes `rollback`, in one registry
 * transaction that refuses if production moved meanwhile (exactly one of two racing promotions
 * wins). Then the release notes (what changed against the previous production, links, digests,
 * approvals, the canary's decision) are written and, where the recipe gives a bucket, published
 * to the pack's S3 prefix; then the post-promotion hooks run (webhooks signed the way MLflow's
 * are, a data-mining request from this run's error clusters, the next weekly evaluation
 * scheduled, retention). A refused promotion is recorded as such, with why.
 */
import { z } from 'zod';
import { emit } from '../emit.js';
import { defineStep, nodeStep, absPath } from '../define.js';
import { PostPromotionHooks } from '../../schema/hooks.js';
import { RegistryParams, actorOf, homeOf, resolveRegistry, runGateRecords, writeReport, readReport } from './registry-common.js';
import type { EntrySimGate } from '../../schema/registry.js';
import type { RegistryPolicy } from '../../registry/policy.js';

export const PromoteParams = z
  .object({
    ...RegistryParams,
    policy: z.string().min(1),
    pack: z.string().min(1),
    /** The output directories of the register, governance, canary and (optional) soak steps. */
    registration: z.string().min(1),
    governance: z.string().min(1),
    canary: z.string().min(1),
    soak: z.string().min(1).optional(),
    evaluation: z.string().min(1).optional(),
    replay: z.string().min(1).optional(),
    /** Where the release notes are published besides `out`: the pack's S3 prefix. */
    release_notes: z.object({ s3: z.object({ bucket: z.string().min(1), prefix: z.string(), endpoint: z.string().optional(), region: z.string().optional(), force_path_style: z.boolean().optional() }).strict().optional() }).strict().default({}),
    hooks: PostPromotionHooks.default({ webhooks: [] }),
    reason: z.string().min(1).optional(),
    wait_s: z.number().int().positive().default(1800),
    out: z.string().min(1),
  })
  .strict();
type Params = z.infer<typeof PromoteParams> & { registry: string; audit_key: string; run_id?: string; base_dir: string; home: string; sim_signoff?: string[] };

type GateRecords = Awaited<ReturnType<typeof runGateRecords>>;

/**
 * governance.require_sim judged on the entry's Sim Gate (summary.sim_gate: the sim-gate step's
 * verdict and rationale) with a person's part from the run store, as for every gate: the current
 * verdict of each recipe gate on a `sim_gate.*` metric (`signoff`, e.g. sim-signoff) in the run
 * the sim ran in, and the answer to it. Green: the step's verdict is not fail, and each sign-off
 * gate that ran passed or was approved; a review verdict needs such an approval. Then
 * src/registry/policy.ts simRequirement says yes or no, and why.
 *   { ok: false, detail: "the policy requires the Sim Gate to have passed, and 1.1.0's was not answered: sim gate needs review: ...; missing: sim-signoff: review not answered in run r-..." }
 */
export function simGateForProduction(
  policy: Pick<RegistryPolicy, 'governance'>,
  entry: { version: string; body: { summary: { sim_gate?: EntrySimGate }; absent: Record<string, string>; runs: { sim?: string } } },
  signoff: readonly string[],
  records: GateRecords,
  simRun: string | undefined,
  simRequirement: (policy: Pick<RegistryPolicy, 'governance'>, entry: { version: string; body: { summary: { sim_gate?: EntrySimGate }; absent: Record<string, string> } }) => { ok: boolean; detail: string },
): { ok: boolean; detail: string } {
  const gate = entry.body.summary.sim_gate;
  if (!policy.governance.require_sim || !gate || gate.verdict === 'fail') return simRequirement(policy, entry);
  const inRun = simRun ? `in run ${simRun}` : '(no run recorded the sim)';
  const verdicts = new Map(records.verdicts.filter((v) => signoff.includes(v.gate)).map((v) => [v.gate, v]));
  const answers = new Map(records.approvals.filter((a) => signoff.includes(a.gate)).map((a) => [a.gate, a]));
  const missing: string[] = [];
  let approval: EntrySimGate['approval'] = null;
  for (const [id, v] of verdicts) {
    const a = answers.get(id);
    if (v.verdict === 'pass') continue;
    if (v.verdict === 'fail') missing.push(`${id}: failed ${inRun}`);
    else if (!a) missing.push(`${id}: review not answered ${inRun}`);
    else {
      approval = { decision: a.decision, actor: a.actor, by: /--gate-policy/.test(a.actor) ? 'policy' : 'person' };
      if (a.decision === 'rejected') missing.push(`${id}: rejected by ${a.actor}${a.reason ? ` (${a.reason})` : ''}`);
    }
  }
  if (gate.verdict === 'review' && !verdicts.size) {
    missing.push(signoff.length ? `no answer ${inRun} from the recipe gate${signoff.length === 1 ? '' : 's'} ${signoff.join(', ')} (not run)` : `no recipe gate on sim_gate.passed asked a person (add one with on_fail: review)`);
  }
  const green = !missing.length && (gate.verdict === 'pass' || approval?.decision === 'approved');
  const r = simRequirement(policy, { version: entry.version, body: { ...entry.body, summary: { ...entry.body.summary, sim_gate: { ...gate, final: green ? 'pass' : 'fail', approval } } } });
  return r.ok || !missing.length ? r : { ok: false, detail: `${r.detail}; missing: ${missing.join('; ')}` };
}

interface Registration {
  model: string;
  version: string;
  entry_digest: string;
}

async function runPromote(p: Params): Promise<number> {
  const { join } = await import('node:path');
  const { existsSync, writeFileSync } = await import('node:fs');
  const { Registry } = await import('../../registry/registry.js');
  const { loadPolicy, simRequirement } = await import('../../registry/policy.js');
  const { ensureApprovals } = await import('./approvals-wait.js');
  const { releaseNotes, publishReleaseNotes } = await import('../../registry/release-notes.js');
  const { runPostPromotionHooks } = await import('../../registry/hooks.js');
  const { sha256FileSync } = await import('../../files/digest.js');
  const { RunStore } = await import('../../store/run-store.js');
  const policy = loadPolicy(p.policy);
  const reg = readReport<Registration>(join(p.registration, 'registration.json'), 'register');
  const governance = readReport<{ ok: boolean; checks: { id: string; status: string; detail: string }[] }>(join(p.governance, 'governance_report.json'), 'governance');
  const canary = readReport<{ semantics: string; decision: { action: string; step: number; weight: number; at: string; at_s: number; reason: string }; timeline: unknown[]; steps: unknown[]; drills?: { name: string; caught: boolean }[] }>(join(p.canary, 'canary_report.json'), 'canary');
  const soak = p.soak ? readReport<{ ok: boolean; drift: { detail: string }; overall: unknown }>(join(p.soak, 'soak_report.json'), 'soak') : undefined;
  const actor = actorOf();
  const registry = await Registry.open(p.registry, { auditKey: p.audit_key });
  try {
    const { model, version } = reg;
    const entry = await registry.entry(model, version);
    if (!entry) throw new Error(`${model} ${version} is not in the registry ${registry.db.where} (the register step's registration.json names it)`);
    if (entry.digest !== reg.entry_digest) throw new Error(`${model} ${version}: the registry's entry digest ${entry.digest.slice(0, 12)} is not the one registered by this run (${reg.entry_digest.slice(0, 12)})`);
    const record = {
      run: p.run_id ?? null,
      governance: { ok: governance.ok, checks: governance.checks.map((c) => ({ id: c.id, status: c.status, detail: c.detail })) },
      canary: { semantics: canary.semantics, decision: canary.decision, timeline: canary.timeline, drills: (canary.drills ?? []).map((d) => ({ name: d.name, caught: d.caught })) },
      ...(soak ? { soak: { ok: soak.ok, drift: soak.drift.detail } } : {}),
    };
    // Awaited where it is returned: a bare `return refuse(...)` would let the finally below close the registry before the record is written.
    const refuse = async (why: string, status: 'refused' | 'paused' = 'refused') => {
      await registry.recordPromotion({ model, version, status, actor, record: { ...record, reason: why } });
      process.stderr.write(`promote: ${model} ${version} not promoted: ${why}\n`);
      emit({ type: 'metric', name: 'promote.promoted', value: 0 });
      return 1;
    };
    if (!governance.ok) return await refuse(`governance failed: ${governance.checks.filter((c) => c.status === 'fail').map((c) => c.id).join(', ')}`);
    if (canary.decision.action !== 'promote') return await refuse(`the canary analysis decided ${canary.decision.action} at step ${canary.decision.step}: ${canary.decision.reason}`, canary.decision.action === 'pause' ? 'paused' : 'refused');
    if (soak && !soak.ok) return await refuse(`the soak failed: ${soak.drift.detail}`);
    if (policy.governance.require_sim) {
      const simRun = entry.body.runs.sim ?? p.run_id;
      const sim = simGateForProduction(policy, entry, p.sim_signoff ?? [], await runGateRecords(p.home, simRun), simRun, simRequirement);
      if (!sim.ok) return await refuse(sim.detail);
      emit({ type: 'log', level: 'info', message: `governance.require_sim: ${sim.detail}` });
    }
    const aliases = await registry.aliases(model);
    if (aliases.production === version) {
      emit({ type: 'log', level: 'info', message: `${model} ${version} is production already (${registry.db.where}): nothing to move` });
      emit({ type: 'metric', name: 'promote.promoted', value: 1 });
      return 0;
    }
    const status = await ensureApprovals(registry, policy, p.audit_key, { model, version, stage: 'production', entryDigest: entry.digest, waitS: p.wait_s, runId: p.run_id });
    const approvalRows = await registry.approvals(model, version, 'production');
    const used = approvalRows.filter((a) => a.decision === 'approved' && status.approvedBy.some((b) => b.role === a.role && b.identity === a.identity && b.at === a.at));
    const at = Date.now();
    // Release notes against the previous production: its registry entry, else the baseline this run measured.
    const previousEntry = aliases.production ? await registry.entry(model, aliases.production) : undefined;
    const notes = releaseNotes({
      model,
      version,
      previous: previousEntry ? { version: previousEntry.version, summary: previousEntry.body.summary } : undefined,
      current: { summary: entry.body.summary },
      links: {
        pack: p.pack,
        ...(existsSync(join(p.pack, 'sbom.cdx.json')) ? { sbom: join(p.pack, 'sbom.cdx.json') } : {}),
        ...(p.evaluation ? { evaluation: join(p.evaluation, 'evaluation_summary.md') } : {}),
        ...(p.replay ? { replay: join(p.replay, 'replay_report.json') } : {}),
      },
      digests: { manifest: entry.body.pack.manifest_digest, files: entry.body.pack.files.map((f) => ({ path: f.path, sha256: f.sha256 })) },
      approvals: used.map((a) => ({ role: a.role, identity: a.identity, decision: a.decision, at: a.at, reason: a.reason, scheme: a.scheme })),
      governance: record.governance,
      canary: { decision: canary.decision.action, step: canary.decision.step, semantics: canary.semantics, reason: canary.decision.reason },
      at,
    });
    const notesFile = join(p.out, `release-notes-${version}.md`);
    writeReport(p.out, '.keep.json', {});
    writeFileSync(notesFile, notes);
    emit({ type: 'artifact', path: notesFile, ...sha256FileSync(notesFile), role: 'release-notes' });
    let published: { uri: string; sha256: string } | undefined;
    if (p.release_notes.s3) {
      const s3 = p.release_notes.s3;
      published = await publishReleaseNotes({ s3: { bucket: s3.bucket, prefix: s3.prefix, endpoint: s3.endpoint, region: s3.region, forcePathStyle: s3.force_path_style }, text: notes, name: `release-notes-${version}.md` });
      emit({ type: 'log', level: 'info', message: `release notes published: ${published.uri}` });
    }
    let promoted;
    try {
      promoted = await registry.promote({ model, version, actor, reason: p.reason ?? `promoted by run ${p.run_id ?? '(no run)'}: governance passed, canary ${canary.decision.action} at step ${canary.decision.step}, ${used.length} approvals`, expect: aliases.production, record: { ...record, approvals: used.map((a) => a.id), release_notes: published?.uri ?? notesFile } });
    } catch (err) {
      return await refuse((err as Error).message);
    }
    emit({ type: 'log', level: 'info', message: `${model}: production ${aliases.production ?? '-'} -> ${version}${promoted.previous ? `; rollback -> ${promoted.previous} (paddock rollback ${model})` : ''} (promotion ${promoted.promotionId})` });
    emit({ type: 'metric', name: 'promote.promoted', value: 1 });
    // The hooks, after the move: a hook that fails is reported, the promotion stands.
    let clusters: { slice: string; kind: string; count: number; frames: (string | number)[]; conditions: Record<string, string> }[] = [];
    if (p.run_id) {
      const store = new RunStore(p.home, { readonly: true });
      try {
        const groups = new Map<string, { slice: string; kind: string; count: number; frames: (string | number)[]; conditions: Record<string, string> }>();
        for (const f of store.events(p.run_id, 'failure') as { kind: string; id: string; data?: Record<string, unknown> }[]) {
          const slice = String(f.data?.slice ?? f.data?.variant ?? f.kind);
          const key = `${f.kind}\u0000${slice}`;
          const g = groups.get(key) ?? { slice, kind: f.kind, count: 0, frames: [], conditions: {} };
          g.count++;
          if (g.frames.length < 50) g.frames.push(f.id);
          groups.set(key, g);
        }
        clusters = [...groups.values()].sort((a, b) => b.count - a.count);
      } finally {
        store.close();
      }
    }
    const outcomes = await runPostPromotionHooks(
      p.hooks,
      { event: 'model_version.promoted', model, version, previous: promoted.previous, promotionId: promoted.promotionId, actor, at, ...(published ? { releaseNotes: published } : {}), canary: { decision: canary.decision.action, step: canary.decision.step, clusters } },
      { baseDir: p.base_dir },
    );
    for (const o of outcomes) emit({ type: 'log', level: o.status === 'failed' ? 'error' : o.status === 'ok' ? 'info' : 'warn', message: `hook ${o.hook}: ${o.status}: ${o.detail}` });
    const file = writeReport(p.out, 'promotion.json', { model, version, previous: promoted.previous, promotion: promoted.promotionId, release_notes: published?.uri ?? notesFile, approvals: used.map((a) => ({ id: a.id, role: a.role, identity: a.identity, scheme: a.scheme })), hooks: outcomes });
    emit({ type: 'artifact', path: file, ...sha256FileSync(file), role: 'promotion' });
    emit({ type: 'metric', name: 'promote.hooks_failed', value: outcomes.filter((o) => o.status === 'failed').length });
    return 0;
  } finally {
    await registry.close();
  }
}

export const promoteStep = defineStep({
  name: 'promote',
  stage: 'promote',
  summary: 'production := this version (rollback := the one before) with governance, canary and approvals complete; release notes and hooks',
  produces: ['promote.promoted', 'promote.hooks_failed'],
  with: PromoteParams,
  invoke: (w, ctx) => {
    const rel = (x: string | undefined) => (x ? absPath(ctx, x) : undefined);
    const params = {
      ...w,
      ...resolveRegistry(w, ctx, homeOf()),
      policy: absPath(ctx, w.policy),
      pack: absPath(ctx, w.pack),
      registration: absPath(ctx, w.registration),
      governance: absPath(ctx, w.governance),
      canary: absPath(ctx, w.canary),
      out: absPath(ctx, w.out),
      ...(w.soak ? { soak: rel(w.soak) } : {}),
      ...(w.evaluation ? { evaluation: rel(w.evaluation) } : {}),
      ...(w.replay ? { replay: rel(w.replay) } : {}),
      ...(ctx.runId ? { run_id: ctx.runId } : {}),
      base_dir: ctx.baseDir,
      home: homeOf(),
      // The recipe's gates on the Sim Gate's metrics: their answers are the person's part of it (simGateForProduction).
      sim_signoff: ctx.recipe.gates.filter((g) => g.metric.startsWith('sim_gate.')).map((g) => g.id),
    };
    return nodeStep(ctx, 'promote', params, [params.policy]);
  },
  container: { unsupported: 'it moves the registry\'s production alias with the audit key of the machine that holds it' },
  load: async () => ({ params: PromoteParams.extend({ registry: z.string(), audit_key: z.string(), run_id: z.string().optional(), base_dir: z.string(), home: z.string(), sim_signoff: z.array(z.string()).optional() }), run: runPromote }),
});
