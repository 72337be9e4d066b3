/**
 * The registry's policy file (issue 20 items 3 and 4; .scratch/registry-design.md "Policy"): who
 * holds which approval role, which roles each stage needs, whose keys sign approvals, which
 * publishers a pack must come from, and the governance rules checked before a promotion. Strict
 * everywhere: an unknown key is a typo that would otherwise silently weaken a rule.
 * Loading it (files read, keys parsed, errors located) is src/registry/policy.ts.
 *
 * Also the approval payload: what an approver signs (src/registry/approvals.ts).
 */
import { z } from 'zod';

/** The four approval roles of issue 20 item 3. */
export const ROLES = ['technical', 'safety', 'security', 'product'] as const;
export const Role = z.enum(ROLES, { error: (iss) => `unknown role ${JSON.stringify(iss.input)} (roles: ${ROLES.join(', ')})` });
export type Role = z.infer<typeof Role>;

/** The stages a model moves to through recorded transitions, whose approvals a policy may require. */
export const STAGES = ['staging', 'candidate', 'production'] as const;
export const Stage = z.enum(STAGES, { error: (iss) => `unknown stage ${JSON.stringify(iss.input)} (stages: ${STAGES.join(', ')})` });
export type Stage = z.infer<typeof Stage>;

/** A path to a file; relative ones resolve against the policy file's directory. */
const FilePath = z.string({ error: 'expected a file path' }).min(1, 'expected a file path');

/** An identity: a git user (user.email), an SSH principal, or a recorded policy identity (`policy:demo`). */
export const Identity = z
  .string({ error: 'expected an identity (e.g. alice@example.com)' })
  .min(1, 'expected an identity (e.g. alice@example.com)')
  .refine((s) => !/\s/.test(s), 'an identity has no whitespace');

const unique = <T extends z.ZodType>(item: T, what: string) =>
  z.array(item).superRefine((list, ctx) => {
    list.forEach((v, i) => {
      if (list.indexOf(v) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `${what} ${JSON.stringify(v)} is listed twice` });
    });
  });

/** Severities as the policy writes them (lowercase); scans grade in ScanSeverity (src/schema/scans.ts), upper case. */
export const PolicySeverity = z.preprocess((v) => (typeof v === 'string' ? v.toLowerCase() : v), z.enum(['unknown', 'low', 'medium', 'high', 'critical']));
export type PolicySeverity = z.infer<typeof PolicySeverity>;

export const GovernancePolicy = z.strictObject({
  /** The pack must carry an SBOM. */
  require_sbom: z.boolean().default(true),
  /** Vulnerability severities that block a promotion unless each finding is waived. */
  scans: z.strictObject({ fail_on: unique(PolicySeverity, 'severity').default(['critical', 'high']) }).default({ fail_on: ['critical', 'high'] }),
  /** SPDX license ids that block unless waived. */
  licenses: z.strictObject({ deny: unique(z.string().min(1), 'license').default([]) }).default({ deny: [] }),
  /** `all`: every gate of the evaluate and sim stages must be green or approved; or the ids that must. */
  gates: z.union([z.literal('all'), unique(z.string().min(1), 'gate')], { error: 'expected "all" or a list of gate ids' }).default('all'),
  /**
   * Production only for an entry whose Sim Gate passed (its criteria passed, or its review was approved through the recipe's sign-off gate: promote.step.ts simGateForProduction; the
   * sim-gate step's verdict with its approval where the recipe required one). Absent: false.
   * src/registry/policy.ts simRequirement judges it.
   */
  require_sim: z.boolean().optional(),
});
export type GovernancePolicy = z.infer<typeof GovernancePolicy>;

export const ConsumptionPolicy = z.strictObject({
  bucket: z.string().min(1),
  /** The S3 prefix production consumers read (read-only). */
  prefix: z.string(),
  /** The IAM principal (an ARN) granted read access. */
  principal: z.string().min(1),
});
export type ConsumptionPolicy = z.infer<typeof ConsumptionPolicy>;

/** The policy file as written (paths not yet read); src/registry/policy.ts turns it into a RegistryPolicy. */
export const RegistryPolicyFile = z.strictObject({
  version: z.literal(1, { error: 'expected version: 1' }),
  /** Who holds each role; a role not listed is held by no one. */
  roles: z.strictObject({
    technical: unique(Identity, 'identity').optional(),
    safety: unique(Identity, 'identity').optional(),
    security: unique(Identity, 'identity').optional(),
    product: unique(Identity, 'identity').optional(),
  }),
  /** The roles whose approval a move to each stage needs; a stage not listed needs none. */
  required: z.strictObject({
    staging: unique(Role, 'role').optional(),
    candidate: unique(Role, 'role').optional(),
    production: unique(Role, 'role').optional(),
  }).default({}),
  /** One identity may approve under at most one role for one promotion (issue 20 item 3). */
  separation_of_duties: z.boolean().default(true),
  signers: z
    .strictObject({
      /** ssh-keygen's ALLOWED SIGNERS file (ssh-keygen(1)): the SSH keys approvals are checked against. */
      allowed_signers: FilePath.optional(),
      /** PEM P-256 public keys per identity (the pack's ECDSA scheme). */
      ecdsa: z.record(Identity, FilePath).default({}),
    })
    .default({ ecdsa: {} }),
  /** Keyring (src/pack/trust.ts format) of the publishers whose pack signatures are trusted. */
  publishers: FilePath,
  /** The audit chain's trusted public key(s): keyring files. */
  audit_keys: z.union([FilePath, z.array(FilePath).min(1)], { error: 'expected a keyring file or a list of them' }).optional(),
  governance: GovernancePolicy.default({ require_sbom: true, scans: { fail_on: ['critical', 'high'] }, licenses: { deny: [] }, gates: 'all' }),
  consumption: ConsumptionPolicy.optional(),
  /** Who answers approvals when no one is at a keyboard: a recorded policy identity (it must hold the roles it answers). */
  headless: z.strictObject({ approve_as: Identity }).optional(),
  /** How long an approval counts after it is given; without it, until the entry is promoted. */
  approvals: z.strictObject({ max_age_days: z.number().positive() }).optional(),
});
export type RegistryPolicyFile = z.infer<typeof RegistryPolicyFile>;

/** What an approver signs: its canonical JSON (src/files/canonical-json.ts) is the signed bytes. */
export const ApprovalPayload = z.strictObject({
  model: z.string().min(1),
  version: z.string().min(1),
  stage: Stage,
  role: Role,
  identity: Identity,
  decision: z.enum(['approved', 'rejected']),
  reason: z.string().min(1, 'an approval gives a reason'),
  /** Milliseconds since the epoch, as every `at` of the registry's tables. */
  at: z.number().int().nonnegative(),
  /** The registry entry's digest: an approval counts for that entry only. */
  entry_digest: z.string().min(1),
});
export type ApprovalPayload = z.infer<typeof ApprovalPayload>;

/** How an approval is signed: an SSH key (ssh-keygen -Y), an ECDSA P-256 key, or the registry's key for a headless policy answer. */
export const ApprovalScheme = z.enum(['ssh', 'ecdsa', 'policy']);
export type ApprovalScheme = z.infer<typeof ApprovalScheme>;
