/**
 * The `governance` step: the checks a promotion must pass, judged against the registry's policy
 * (src/registry/governance.ts): the pack's signature by a publisher key the policy trusts (never
 * only the key inside the pack) and every file's sha256, the SBOM, vulnerability and license
 * findings (each blocking one waived in the registry, unexpired, or the step fails), every
 * required gate of this run green or approved, and the read-only consumption policy (an IAM
 * policy document for the S3 prefix, generated and checked, written beside the report).
 */
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emit } from '../emit.js';
import { defineStep, nodeStep, absPath } from '../define.js';
import { RegistryParams, homeOf, resolveRegistry, runGateRecords, writeReport } from './registry-common.js';

export const GovernanceParams = z
  .object({
    ...RegistryParams,
    pack: z.string().min(1),
    policy: z.string().min(1),
    /**
     * Waivers the recipe declares, recorded in the registry (with their audit records) before the
     * checks unless an unexpired one with the same finding, approver and justification is there.
     * `paddock registry waive` records one by hand.
     */
    waivers: z
      .array(
        z
          .object({
            finding: z.string().min(1),
            /** this: only the version being promoted; all (default): every version of the model. */
            scope: z.enum(['this', 'all']).default('all'),
            justification: z.string().min(10, 'a waiver says why, in a sentence'),
            approver: z.string().min(1),
            expires_in_days: z.number().positive().max(366),
          })
          .strict(),
      )
      .default([]),
    /** The version being promoted: the register step's registration.json (its out directory). */
    registration: z.string().min(1).optional(),
    /** Where governance_report.json and consumption-policy.json go. */
    out: z.string().min(1),
  })
  .strict();
type Params = z.infer<typeof GovernanceParams> & { registry: string; audit_key: string; run_id?: string };

/**
 * runGovernance judges a waiver's version against the pack's signed version (export_report.json),
 * while the version being promoted is the registry's (registration.json), which `prerelease: run`
 * or `version:` make differ (1.1.0-run.20261203131204 for a pack signed as 1.1.0). So a waiver for
 * the registered version is passed as one for the pack's version, and one for another registered
 * version that happens to be the pack's is left out (it is not this entry's).
 */
function forPackVersion<W extends { version: string | null }>(waivers: readonly W[], registered: string | undefined, pack: string): W[] {
  let signed: string | undefined;
  try {
    signed = (JSON.parse(readFileSync(join(pack, 'export_report.json'), 'utf8')) as { version?: unknown }).version as string | undefined;
  } catch {
    // an unreadable report: the signature and digests checks say so; the waivers pass unchanged
  }
  if (registered === undefined || typeof signed !== 'string' || signed === registered) return [...waivers];
  return waivers.flatMap((w) => (w.version === registered ? [{ ...w, version: signed }] : w.version !== null && w.version === signed ? [] : [w]));
}

async function runGovernanceStep(p: Params): Promise<number> {
  const { loadPolicy } = await import('../../registry/policy.js');
  const { runGovernance } = await import('../../registry/governance.js');
  const { Registry } = await import('../../registry/registry.js');
  const { sha256FileSync } = await import('../../files/digest.js');
  const policy = loadPolicy(p.policy);
  const registry = await Registry.open(p.registry, { auditKey: p.audit_key });
  let waivers;
  let version: string | undefined;
  try {
    version = p.registration ? (JSON.parse((await import('node:fs')).readFileSync(join(p.registration, 'registration.json'), 'utf8')) as { version: string }).version : undefined;
    const now = Date.now();
    const recorded = await registry.waivers(p.name);
    for (const w of p.waivers) {
      const have = recorded.some((x) => x.finding === w.finding && x.approver === w.approver && x.justification === w.justification && x.expires_at > now && (w.scope === 'all' ? x.version === null : x.version === version));
      if (have) continue;
      if (w.scope === 'this' && !version) throw new Error(`waivers: ${w.finding} is scoped to this version, and no registration names it (give registration:)`);
      const row = await registry.recordWaiver({ model: p.name, finding: w.finding, version: w.scope === 'this' ? version : null, justification: w.justification, approver: w.approver, expires_at: now + Math.round(w.expires_in_days * 86_400_000) });
      emit({ type: 'log', level: 'warn', message: `waiver recorded: ${w.finding} for ${row.version ?? 'every version'} of ${p.name}, by ${w.approver}, until ${new Date(row.expires_at).toISOString()}: ${w.justification}` });
    }
    waivers = await registry.waivers(p.name);
  } finally {
    await registry.close();
  }
  const { verdicts, approvals } = await runGateRecords(homeOf(), p.run_id);
  const result = await runGovernance({
    packDir: p.pack,
    trustedKeys: policy.publishers,
    requireSbom: policy.governance.require_sbom,
    scans: { failOn: policy.governance.scans.fail_on, denyLicenses: policy.governance.licenses.deny },
    waivers: forPackVersion(waivers, version, p.pack).map((w) => ({ id: w.id, finding: w.finding, version: w.version, justification: w.justification, approver: w.approver, expires_at: w.expires_at, at: w.at })),
    gates: { required: policy.governance.gates, verdicts, approvals },
    consumption: policy.consumption,
    now: Date.now(),
  });
  const file = writeReport(p.out, 'governance_report.json', { ...result, policy: policy.file, pack: p.pack, run: p.run_id ?? null });
  emit({ type: 'artifact', path: file, ...sha256FileSync(file), role: 'governance-report' });
  if (result.consumptionPolicy) {
    const iam = writeReport(p.out, 'consumption-policy.json', result.consumptionPolicy);
    emit({ type: 'artifact', path: iam, ...sha256FileSync(iam), role: 'iam-policy' });
  }
  for (const c of result.checks) {
    emit({ type: 'log', level: c.status === 'fail' ? 'error' : c.status === 'pass' ? 'info' : 'warn', message: `governance ${c.id}: ${c.status}: ${c.detail}` });
    if (c.status === 'fail') emit({ type: 'failure', id: `governance/${c.id}`, kind: 'governance', severity: 'critical', title: `governance check ${c.id} failed: ${c.detail}`.slice(0, 1024), evidence: [{ path: join(p.out, 'governance_report.json'), note: 'governance_report.json' }], data: { findings: c.findings ?? [] } });
  }
  emit({ type: 'metric', name: 'governance.ok', value: result.ok ? 1 : 0 });
  emit({ type: 'metric', name: 'governance.failed_checks', value: result.checks.filter((c) => c.status === 'fail').length });
  emit({ type: 'metric', name: 'governance.waived_checks', value: result.checks.filter((c) => c.status === 'waived').length });
  if (!result.ok) {
    process.stderr.write(`governance: ${p.pack} may not be promoted: ${result.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.detail}`).join('; ')}\n`);
    return 1;
  }
  return 0;
}

export const governanceStep = defineStep({
  name: 'governance',
  stage: 'promote',
  summary: "the policy's checks before promotion: trusted signature, digests, SBOM, scans with waivers, gates, the consumption IAM policy",
  produces: ['governance.ok', 'governance.failed_checks', 'governance.waived_checks'],
  with: GovernanceParams,
  invoke: (w, ctx) => {
    const params = { ...w, ...resolveRegistry(w, ctx, homeOf()), pack: absPath(ctx, w.pack), policy: absPath(ctx, w.policy), out: absPath(ctx, w.out), ...(w.registration ? { registration: absPath(ctx, w.registration) } : {}), ...(ctx.runId ? { run_id: ctx.runId } : {}) };
    return nodeStep(ctx, 'governance', params, [params.policy]);
  },
  container: { unsupported: "it reads the registry's waivers and the run store's verdicts on the machine that holds them" },
  load: async () => ({ params: GovernanceParams.extend({ registry: z.string(), audit_key: z.string(), run_id: z.string().optional() }), run: runGovernanceStep }),
});
