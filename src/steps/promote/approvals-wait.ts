/**
 * Before an alias moves, the policy's approvals for that stage: counted from the registry, and
 * when some are missing, answered as the run is being answered: headless by --gate-policy
 * (approve: the policy's headless identity signs with the registry's key, scheme "policy",
 * recorded as such; reject: a recorded rejection; fail: the step fails saying how to approve),
 * in the workbench by a person on the registry screen, which this waits for.
 */
import { emit } from '../emit.js';
import { approvalStatus, type ApprovalStatus } from '../../registry/approvals.js';
import { approveEntry, registryPublicPem } from '../../registry/approve.js';
import type { RegistryPolicy } from '../../registry/policy.js';
import { RegistryError, type Registry } from '../../registry/registry.js';
import type { Stage } from '../../schema/registry-policy.js';

export interface ApprovalNeed {
  model: string;
  version: string;
  stage: Stage;
  entryDigest: string;
  /** How long a person may take in the workbench. */
  waitS: number;
  runId?: string;
}

const describe = (s: ApprovalStatus) => `${s.required.join(', ') || 'none'} required; ${s.approvedBy.map((a) => `${a.role} by ${a.identity}`).join(', ') || 'none given'}${s.missing.length ? `; missing ${s.missing.join(', ')}` : ''}`;

async function status(registry: Registry, policy: RegistryPolicy, n: ApprovalNeed): Promise<ApprovalStatus> {
  const rows = await registry.approvals(n.model, n.version, n.stage);
  return approvalStatus(policy, n.stage, rows, n.entryDigest, { registryPublicPem: registryPublicPem(registry) });
}

/** Returns the satisfied status, or throws a RegistryError saying who rejected or what is missing and how to give it. */
export async function ensureApprovals(registry: Registry, policy: RegistryPolicy, keyFile: string, n: ApprovalNeed): Promise<ApprovalStatus> {
  let s = await status(registry, policy, n);
  for (const p of s.problems) emit({ type: 'log', level: 'warn', message: `approvals of ${n.model} ${n.version} for ${n.stage}: ${p}` });
  const rejected = () => new RegistryError(`${n.model} ${n.version} is rejected for ${n.stage}: ${s.rejectedBy.map((r) => `${r.identity} as ${r.role}: "${r.reason}"`).join('; ')}`);
  if (s.rejectedBy.length) throw rejected();
  if (s.satisfied) return s;
  const answer = process.env.PADDOCK_GATE_POLICY ?? 'fail';
  const how = `approve with "paddock registry approve ${n.model} ${n.version} --stage ${n.stage} --role <role> --reason ..." or on the workbench's registry screen (8, then a)`;
  if (answer === 'approve' || answer === 'reject') {
    const as = policy.headless?.approve_as;
    if (!as) throw new RegistryError(`${n.model} ${n.version} needs ${n.stage} approvals (${describe(s)}); --gate-policy ${answer} answers only where the policy names a headless identity (headless.approve_as in ${policy.file}), and it names none: ${how}`);
    const roles = answer === 'approve' ? s.missing : s.missing.slice(0, 1);
    for (const role of roles) {
      await approveEntry(registry, policy, {
        model: n.model,
        version: n.version,
        stage: n.stage,
        role,
        identity: as,
        decision: answer === 'approve' ? 'approved' : 'rejected',
        reason: `answered by --gate-policy ${answer}, headless${n.runId ? ` (run ${n.runId})` : ''}: nobody was at the keyboard`,
        scheme: 'policy',
        keyFile,
      });
      emit({ type: 'log', level: 'warn', message: `${role} ${answer === 'approve' ? 'approved' : 'rejected'} for ${n.stage} by policy (${as}, --gate-policy ${answer}): signed with the registry's key, recorded as scheme "policy"` });
    }
    s = await status(registry, policy, n);
    if (s.rejectedBy.length) throw rejected();
    if (!s.satisfied) throw new RegistryError(`${n.model} ${n.version}: the policy's answers did not complete the ${n.stage} approvals (${describe(s)}${s.problems.length ? `; ${s.problems.join('; ')}` : ''})`);
    return s;
  }
  if (answer !== 'person') throw new RegistryError(`${n.model} ${n.version} needs ${n.stage} approvals: ${describe(s)}. Nobody answered (headless with --gate-policy fail): ${how}, then resume the run`);
  // In the workbench: a person answers on the registry screen; poll the registry until they have.
  const until = Date.now() + n.waitS * 1000;
  let said = 0;
  while (Date.now() < until) {
    if (Date.now() - said > 10_000) {
      emit({ type: 'log', level: 'info', message: `waiting for ${n.stage} approvals of ${n.model} ${n.version}: ${describe(s)} (registry screen: 8, then a or x)` });
      said = Date.now();
    }
    await new Promise((r) => setTimeout(r, 1000));
    s = await status(registry, policy, n);
    if (s.rejectedBy.length) throw rejected();
    if (s.satisfied) return s;
  }
  throw new RegistryError(`${n.model} ${n.version}: no complete ${n.stage} approvals within ${n.waitS} s (${describe(s)}): ${how}, then resume the run`);
}
