/**
 * One approval, from a person's decision to a stored row: the payload for the entry's digest,
 * signed in the identity's scheme, verified against the policy before it is stored (an approval
 * the policy would not count is refused here, with why, instead of being stored and ignored), and
 * recorded with its audit record. The CLI (`paddock registry approve`), the workbench's registry
 * screen and the promote step's headless policy answers all come through here.
 */
import { readFileSync } from 'node:fs';
import type { ApprovalScheme, Role, Stage } from '../schema/registry-policy.js';
import type { ApprovalRow } from '../schema/registry.js';
import { approvalPayload, signApproval, verifyApproval } from './approvals.js';
import type { RegistryPolicy } from './policy.js';
import { RegistryError, type Registry } from './registry.js';

export interface ApproveRequest {
  model: string;
  version: string;
  stage: Stage;
  role: Role;
  identity: string;
  decision: 'approved' | 'rejected';
  reason: string;
  /** ssh: an SSH private key; ecdsa: a PEM P-256 private key; policy: the registry's own key (the audit key). */
  scheme: ApprovalScheme;
  keyFile: string;
  /** The time the decision is dated (default: now). */
  at?: number;
}

/** The public half of the registry's key, which policy-scheme approvals are checked against. */
export function registryPublicPem(registry: Registry): string {
  return registry.signer.publicPem;
}

/**
 * Signs, checks and stores one approval. Refused (RegistryError naming why) when the version is
 * not registered, or when the signed approval would not verify under the policy: a key that is
 * not the identity's, an identity without the role, a policy answer the policy does not allow.
 */
export async function approveEntry(registry: Registry, policy: RegistryPolicy, r: ApproveRequest): Promise<ApprovalRow> {
  const entry = await registry.entry(r.model, r.version);
  if (!entry) throw new RegistryError(`${r.model} ${r.version} is not in the registry (${registry.db.where}): register it before approving it`);
  const at = r.at ?? Date.now();
  const payload = approvalPayload({ model: r.model, version: r.version, stage: r.stage, role: r.role, identity: r.identity, decision: r.decision, reason: r.reason, at, entry_digest: entry.digest });
  const signed = signApproval({ scheme: r.scheme, payload, keyFile: r.keyFile });
  const check = verifyApproval(policy, signed, { registryPublicPem: registryPublicPem(registry), now: at });
  if (!check.ok) throw new RegistryError(`${r.identity}'s ${r.decision === 'approved' ? 'approval' : 'rejection'} of ${r.model} ${r.version} as ${r.role} would not count, so it was not stored: ${check.why}`);
  return registry.recordApproval({ model: r.model, version: r.version, stage: r.stage, role: r.role, identity: r.identity, decision: r.decision, reason: r.reason, at, scheme: signed.scheme, payload: signed.payload, signature: signed.signature });
}

/** Whether a key file looks like an SSH private key (ssh scheme) or a PEM one (ecdsa). */
export function schemeOfKey(keyFile: string): 'ssh' | 'ecdsa' {
  const head = readFileSync(keyFile, 'utf8').slice(0, 200);
  return head.includes('OPENSSH PRIVATE KEY') || keyFile.endsWith('.pub') ? 'ssh' : 'ecdsa';
}
