/**
 * The model registry's shapes (issue 20): an entry's immutable body (what a version points at
 * and the summary copied from its reports), and the rows the registry stores (src/registry/
 * schema.ts has the tables). An entry body is written once, as canonical JSON with its sha256
 * beside it, and never changed: a correction is a new, greater version naming `corrects`.
 *
 * Anything that is not known is null (or left out) with why in `absent`, keyed by its path:
 *   absent: { serving_image_digest: "the image-sbom scan did not run: no Docker engine ...", "runs.sim": "..." }
 * never a guess.
 */
import { z } from 'zod';

export const REGISTRY_ENTRY_FORMAT = 'paddock.registry_entry/1';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');
const nonEmpty = z.string().min(1);

/** The aliases of a model: staging -> candidate -> production, and rollback (the production before). */
export const ALIASES = ['staging', 'candidate', 'production', 'rollback'] as const;
export const Alias = z.enum(ALIASES);
export type Alias = z.infer<typeof Alias>;

/** One file of the pack, as export_report.json lists it, and where it was published. */
export const EntryFile = z
  .object({ path: nonEmpty, sha256, bytes: z.number().int().nonnegative(), s3_uri: z.string().regex(/^s3:\/\/[^/]+\/.+/, 'expected s3://bucket/key').optional() })
  .strict();

/** A slice's figure: the candidate's value with its interval, and the delta against the baseline. */
export const EntrySlice = z
  .object({ slice: nonEmpty, metric: nonEmpty, value: z.number(), ci_lo: z.number().optional(), ci_hi: z.number().optional(), delta: z.number().optional(), critical: z.boolean().optional() })
  .strict();

/** A target's latency budget as benchmarked (exact percentiles from the samples, src/metrics/percentile.ts). */
export const EntryLatency = z
  .object({ target: nonEmpty, p50_ms: z.number().nonnegative(), p95_ms: z.number().nonnegative(), p99_ms: z.number().nonnegative(), source: nonEmpty.optional() })
  .strict();

/**
 * The Sim Gate in an entry (sim_gate.json on the sim step's sim_report.json): its verdict on the
 * criteria, its final answer after a person's or the policy's approval, the rationale, and the
 * candidate's figures per category. The overall figures are summary.sim (numbers, as the release
 * notes compare them between versions).
 */
export const EntrySimGate = z
  .object({
    report_sha256: sha256,
    candidate: nonEmpty,
    baseline: nonEmpty.nullable(),
    verdict: z.enum(['pass', 'fail', 'review']),
    final: z.enum(['pass', 'fail']),
    rationale: z.array(z.string()),
    approval: z.object({ decision: z.enum(['approved', 'rejected']), actor: nonEmpty, by: z.enum(['person', 'policy']) }).strict().nullable(),
    subject_digest: sha256,
    categories: z.record(z.string(), z.object({ runs: z.number().int().nonnegative(), collisions: z.number().int().nonnegative(), vru_near_misses: z.number().int().nonnegative() }).strict()),
  })
  .strict();
export type EntrySimGate = z.infer<typeof EntrySimGate>;

export const EntrySummary = z
  .object({
    /** The candidate's overall figures, e.g. { "coco.AP": 0.412, "coco.AP50": 0.63 }. */
    headline: z.record(z.string(), z.number()),
    slices: z.array(EntrySlice),
    latency: z.array(EntryLatency),
    /** Targets whose operator coverage passed (the coverage step's), and the precisions the pack carries. */
    targets: z.array(nonEmpty),
    precisions: z.array(z.enum(['fp32', 'fp16', 'int8'])),
    /** The INT8 calibration cache's header (TRT-8601-EntropyCalibration2); null without an INT8 variant. */
    calibration_cache_version: nonEmpty.nullable(),
    /** The replay's overall tracking figures of the candidate, e.g. { HOTA: 0.61, IDSW: 3 }. */
    replay: z.record(z.string(), z.number()).optional(),
    /** The closed-loop simulation's overall figures of the candidate (sim_report.json), e.g. { runs: 48, collisions: 0, vru_near_misses: 1 }. */
    sim: z.record(z.string(), z.number()).optional(),
    /** The Sim Gate's verdict on that report (sim_gate.json); absent with why in absent["summary.sim_gate"]. */
    sim_gate: EntrySimGate.optional(),
    gates: z.array(z.object({ id: nonEmpty, verdict: nonEmpty, stage: nonEmpty.optional() }).strict()),
  })
  .strict();

export const RegistryEntryBody = z
  .object({
    format: z.literal(REGISTRY_ENTRY_FORMAT),
    pack: z
      .object({
        /** sha256 of the pack's export_report.json (the document its signature covers). */
        manifest_digest: sha256,
        files: z.array(EntryFile).min(1),
      })
      .strict(),
    /** The serving image, by digest (repo@sha256:... or the image id sha256:...); null with why in `absent`. */
    serving_image_digest: z.string().regex(/^(\S+@)?sha256:[0-9a-f]{64}$/, 'expected an image digest: name@sha256:<64 hex> or sha256:<64 hex>').nullable(),
    /** The training code's git commit; null with why in `absent`. */
    commit: z.string().regex(/^[0-9a-f]{7,64}$/, 'expected a git commit SHA (hex)').nullable(),
    dataset: z.object({ tag: nonEmpty.nullable(), content_digest: sha256.nullable(), source: nonEmpty.optional() }).strict(),
    /** The run ids (paddock's run store) of the runs this entry came from. */
    runs: z.object({ package: nonEmpty.optional(), evaluate: nonEmpty.optional(), replay: nonEmpty.optional(), sim: nonEmpty.optional() }).strict(),
    summary: EntrySummary,
    /** Why each null or missing pointer is so, by its path: { "dataset.content_digest": "..." }. */
    absent: z.record(z.string(), nonEmpty),
  })
  .strict()
  .superRefine((b, ctx) => {
    const need = (path: string, isNull: boolean) => {
      if (isNull && !b.absent[path]) ctx.addIssue({ code: 'custom', path: ['absent', path], message: `${path} is null, so absent must say why` });
    };
    need('serving_image_digest', b.serving_image_digest === null);
    need('commit', b.commit === null);
    need('dataset.tag', b.dataset.tag === null);
    need('dataset.content_digest', b.dataset.content_digest === null);
    need('summary.calibration_cache_version', b.summary.calibration_cache_version === null);
  });
export type RegistryEntryBody = z.infer<typeof RegistryEntryBody>;

/** An entry as stored: the body parsed back, with who wrote it and when (entries table). */
export interface StoredEntry {
  model: string;
  version: string;
  created_at: number;
  created_by: string;
  body: RegistryEntryBody;
  /** sha256 of the body's canonical JSON (src/files/canonical-json.ts), as stored. */
  digest: string;
  corrects: string | null;
  audit_seq: number;
}

export const TRANSITION_ACTIONS = ['assign', 'promote', 'rollback', 'clear'] as const;
export type TransitionAction = (typeof TRANSITION_ACTIONS)[number];

/** One move of an alias (transitions table): the history `paddock registry history` shows. */
export interface TransitionRow {
  seq: number;
  model: string;
  alias: Alias;
  from_version: string | null;
  to_version: string | null;
  action: TransitionAction;
  actor: string;
  reason: string;
  at: number;
  promotion_id: string | null;
  audit_seq: number;
}

/** What a caller gives to store an approval; the registry adds the id (when not given) and audit_seq. */
export const ApprovalInput = z
  .object({
    id: nonEmpty.optional(),
    model: nonEmpty,
    version: nonEmpty,
    /** The stage the approval is for (src/schema/registry-policy.ts STAGES). */
    stage: z.enum(['staging', 'candidate', 'production']),
    role: nonEmpty,
    identity: nonEmpty,
    decision: z.enum(['approved', 'rejected']),
    reason: nonEmpty,
    at: z.number().int().nonnegative(),
    scheme: z.enum(['ssh', 'ecdsa', 'policy']),
    /** The exact bytes that were signed (canonical JSON of the decision), as text. */
    payload: nonEmpty,
    signature: z.string(),
  })
  .strict();
export type StoredApprovalInput = z.infer<typeof ApprovalInput>;

/** A signed decision by role, as stored (approvals table). */
export type ApprovalRow = Required<Omit<StoredApprovalInput, 'id'>> & { id: string; audit_seq: number };

export const WaiverInput = z
  .object({
    id: nonEmpty.optional(),
    model: nonEmpty,
    /** The finding's id as the scan names it (CVE-2024-1234, a license, a secret rule). */
    finding: nonEmpty,
    /** The version it is limited to; null or absent: every version of the model. */
    version: nonEmpty.nullable().optional(),
    justification: nonEmpty,
    approver: nonEmpty,
    expires_at: z.number().int().nonnegative(),
  })
  .strict();
export type StoredWaiverInput = z.infer<typeof WaiverInput>;

/** A scan finding accepted until `expires_at` (waivers table). */
export interface WaiverRow {
  id: string;
  model: string;
  finding: string;
  version: string | null;
  justification: string;
  approver: string;
  expires_at: number;
  at: number;
  audit_seq: number;
}

/**
 * What one promotion attempt was decided on (the promotions table's `record`): the governance
 * result, the canary decision, the approvals used, and why it ended as it did. The parts are
 * other modules' results (src/registry/governance.ts, canary.ts), kept as they gave them.
 */
export const PromotionRecord = z
  .object({
    reason: z.string().optional(),
    governance: z.unknown().optional(),
    canary: z.unknown().optional(),
    /** Ids of the approvals (approvals table) the promotion relied on. */
    approvals: z.array(nonEmpty).optional(),
    waivers: z.array(nonEmpty).optional(),
    release_notes: z.string().optional(),
  })
  .catchall(z.unknown());
export type PromotionRecord = z.infer<typeof PromotionRecord>;

export const PROMOTION_STATUSES = ['promoted', 'refused', 'rolled-back', 'paused'] as const;
export type PromotionStatus = (typeof PROMOTION_STATUSES)[number];

/** One promotion attempt, as stored (promotions table). */
export interface PromotionRow {
  id: string;
  model: string;
  version: string;
  alias: Alias;
  status: PromotionStatus;
  actor: string;
  at: number;
  record: PromotionRecord;
  audit_seq: number;
}
