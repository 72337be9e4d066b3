/**
 * What the workbench's registry screen shows (issue 20 item 10), read from a registry in one go:
 * every model with its versions (newest first, with the aliases that point at each), where each
 * alias points and how it got there, the approvals the candidate headed to production has and
 * lacks, and the latest promotion attempt's governance checks and canary analysis. Plain data:
 * the views lay it out, and never read the registry, the policy or a key themselves.
 *
 * The promotion record's parts are other modules' results kept as they gave them
 * (src/schema/registry.ts PromotionRecord: governance and canary are `unknown`), so they are read
 * here tolerantly: a part that is absent is absent, a part that is not the shape
 * src/registry/governance.ts or src/registry/canary.ts returns is named in `unreadable`, never a
 * crash of the screen.
 */
import { join } from 'node:path';
import { ALIASES, type Alias, type ApprovalRow, type PromotionRow, type PromotionStatus, type StoredEntry, type TransitionAction, type TransitionRow } from '../schema/registry.js';
import type { Role } from '../schema/registry-policy.js';
import { approvalStatus, type ApprovalStatus } from './approvals.js';
import type { MeasurementStatus, RolloutAction } from './canary.js';
import type { GovernanceCheck } from './governance.js';
import type { RegistryPolicy } from './policy.js';
import type { Registry } from './registry.js';

/** The registry `paddock ui` opens when none is given: <home>/registry.db (the promote steps' default, src/steps/promote/registry-common.ts). */
export function defaultRegistrySpec(home: string): string {
  return join(home, 'registry.db');
}

/** One version of a model as the version list shows it. */
export interface VersionSnapshot {
  version: string;
  created_at: number;
  created_by: string;
  /** sha256 of the entry body (what approvals sign as entry_digest), and its first 12 digits. */
  digest: string;
  digest_short: string;
  /** The pack's export_report.json digest, first 12 digits. */
  manifest_short: string;
  /** The summary's headline figures in the entry's order: [{ name: "coco.AP", value: 0.412 }]. */
  headline: { name: string; value: number }[];
  /** The aliases that point at this version now, in ALIASES order. */
  aliases: Alias[];
  corrects: string | null;
}

/** One move of an alias: who pointed it at what, when and why (a transitions row). */
export interface AliasMove {
  seq: number;
  alias: Alias;
  from: string | null;
  to: string | null;
  action: TransitionAction;
  actor: string;
  reason: string;
  at: number;
  promotion_id: string | null;
}

/** One signed decision recorded for the pending version. */
export interface ApprovalDecision {
  id: string;
  role: string;
  identity: string;
  decision: 'approved' | 'rejected';
  reason: string;
  at: number;
  scheme: string;
}

/** The approvals of the candidate headed to production. */
export interface PendingApprovals {
  version: string;
  stage: 'production';
  /** The entry digest the approvals must be for. */
  digest: string;
  /** Every decision recorded for this version and stage, oldest first (counted or not). */
  decisions: ApprovalDecision[];
  /** With a policy: the roles required, who covered each, who rejected, what is missing, and why a decision did not count (src/registry/approvals.ts). */
  status?: ApprovalStatus;
}

/** One governance check as src/registry/governance.ts returns it. */
export interface GovernanceCheckSnapshot {
  id: string;
  status: GovernanceCheck['status'];
  detail: string;
}

/** One metric of the canary analysis over the timeline, with its bounds (the SLO). */
export interface CanarySeries {
  name: string;
  bound: { min?: number; max?: number; failure_min?: number; failure_max?: number };
  /** One point per analysis interval; value null: no data in that interval, or the metric was not measured there. */
  points: { t_s: number; step: number; weight: number; value: number | null; baseline: number | null; status: MeasurementStatus | 'absent' }[];
}

/** The canary analysis of a promotion attempt: the decision and the step it was taken at, the steps, each metric over time. */
export interface CanarySnapshot {
  strategy?: string;
  semantics: string;
  decision: { action: RolloutAction | string; step: number; weight: number; at_s: number; at: string; reason: string };
  steps: { index: number; weight: number; from_s: number; to_s: number; decision: string; reason: string }[];
  series: CanarySeries[];
}

/** The latest promotion attempt of a model and what it was decided on. */
export interface PromotionSnapshot {
  id: string;
  version: string;
  status: PromotionStatus;
  actor: string;
  at: number;
  reason?: string;
  governance?: { ok: boolean; checks: GovernanceCheckSnapshot[] };
  canary?: CanarySnapshot;
  /** Parts of the record that are there but not in the shape expected, and why. */
  unreadable: string[];
}

export interface ModelSnapshot {
  name: string;
  aliases: Record<Alias, string | null>;
  /** Newest (greatest semver) first. */
  versions: VersionSnapshot[];
  /** Every move of every alias, oldest first. */
  history: AliasMove[];
  /** Present while a candidate is set and is not production. */
  pending?: PendingApprovals;
  /** The latest attempt to promote (rollbacks are in `history`); absent before any. */
  promotion?: PromotionSnapshot;
}

export interface RegistrySnapshot {
  /** Where the registry is (a file path, or a URL as the database port names it). */
  where: string;
  /** When it was read, ms since the epoch. */
  at: number;
  models: ModelSnapshot[];
  /** The policy the approvals were judged under: its file and who holds each role. */
  policy?: { file: string; roles: Partial<Record<Role, string[]>> };
}

export interface SnapshotOptions {
  /** The registry's policy: with it, the pending approvals say what is required and missing. */
  policy?: RegistryPolicy;
  /** The time approvals are judged at (expiry, clock skew), ms since the epoch. */
  now: number;
}

/** Reads every model of `registry` into a RegistrySnapshot (see the module comment). */
export async function loadRegistrySnapshot(registry: Registry, opts: SnapshotOptions): Promise<RegistrySnapshot> {
  const models: ModelSnapshot[] = [];
  for (const name of await registry.models()) {
    const [entries, aliases, history, promotions] = await Promise.all([registry.entries(name), registry.aliases(name), registry.history(name), registry.promotions(name)]);
    const candidate = aliases.candidate;
    const entry = candidate ? entries.find((e) => e.version === candidate) : undefined;
    const pending = entry && candidate !== aliases.production ? pendingOf(entry, await registry.approvals(name, entry.version, 'production'), opts, registry.signer.publicPem) : undefined;
    // A rollback is a promotions row too, but it decides nothing: the attempt shown is the last one that tried to promote.
    const attempt = promotions.filter((p) => p.status !== 'rolled-back').at(-1);
    models.push({
      name,
      aliases,
      versions: entries.map((e) => versionOf(e, aliases)).reverse(),
      history: history.map(moveOf),
      ...(pending ? { pending } : {}),
      ...(attempt ? { promotion: promotionOf(attempt) } : {}),
    });
  }
  return { where: registry.db.where, at: opts.now, models, ...(opts.policy ? { policy: { file: opts.policy.file, roles: opts.policy.roles } } : {}) };
}

function versionOf(e: StoredEntry, aliases: Record<Alias, string | null>): VersionSnapshot {
  return {
    version: e.version,
    created_at: e.created_at,
    created_by: e.created_by,
    digest: e.digest,
    digest_short: e.digest.slice(0, 12),
    manifest_short: e.body.pack.manifest_digest.slice(0, 12),
    headline: Object.entries(e.body.summary.headline).map(([name, value]) => ({ name, value })),
    aliases: ALIASES.filter((a) => aliases[a] === e.version),
    corrects: e.corrects,
  };
}

function moveOf(t: TransitionRow): AliasMove {
  return { seq: t.seq, alias: t.alias, from: t.from_version, to: t.to_version, action: t.action, actor: t.actor, reason: t.reason, at: t.at, promotion_id: t.promotion_id };
}

function pendingOf(entry: StoredEntry, rows: readonly ApprovalRow[], opts: SnapshotOptions, registryPublicPem: string): PendingApprovals {
  const decisions = rows.map((r) => ({ id: r.id, role: r.role, identity: r.identity, decision: r.decision, reason: r.reason, at: r.at, scheme: r.scheme }));
  const status = opts.policy ? approvalStatus(opts.policy, 'production', rows, entry.digest, { registryPublicPem, now: opts.now }) : undefined;
  return { version: entry.version, stage: 'production', digest: entry.digest, decisions, ...(status ? { status } : {}) };
}

function promotionOf(p: PromotionRow): PromotionSnapshot {
  const unreadable: string[] = [];
  const record = p.record as Record<string, unknown>;
  const governance = record.governance === undefined ? undefined : governanceOf(record.governance, unreadable);
  const canary = record.canary === undefined ? undefined : canaryOf(record.canary, unreadable);
  return {
    id: p.id,
    version: p.version,
    status: p.status,
    actor: p.actor,
    at: p.at,
    ...(typeof record.reason === 'string' ? { reason: record.reason } : {}),
    ...(governance ? { governance } : {}),
    ...(canary ? { canary } : {}),
    unreadable,
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const CHECK_STATUSES = ['pass', 'fail', 'waived', 'skipped'] as const;

/** governance.ts's GovernanceResult: { ok, checks: [{ id, status, detail }] }. */
function governanceOf(g: unknown, unreadable: string[]): PromotionSnapshot['governance'] {
  if (!isObj(g) || !Array.isArray(g.checks)) {
    unreadable.push('governance: expected { ok, checks: [{ id, status, detail }] } (src/registry/governance.ts)');
    return undefined;
  }
  const checks: GovernanceCheckSnapshot[] = [];
  g.checks.forEach((c, i) => {
    if (isObj(c) && typeof c.id === 'string' && (CHECK_STATUSES as readonly unknown[]).includes(c.status)) checks.push({ id: c.id, status: c.status as GovernanceCheck['status'], detail: typeof c.detail === 'string' ? c.detail : '' });
    else unreadable.push(`governance.checks[${i}]: expected { id, status: pass|fail|waived|skipped, detail }`);
  });
  // `ok` as recorded; a record without it is judged as governance.ts judges: no check failed.
  return { ok: typeof g.ok === 'boolean' ? g.ok : checks.every((c) => c.status !== 'fail'), checks };
}

/**
 * canary.ts's RolloutAnalysisResult (decision, steps, timeline), or one wrapped in { result } or
 * { analysis } by whoever recorded it. Metrics are collected in the order they first appear.
 */
function canaryOf(raw: unknown, unreadable: string[]): CanarySnapshot | undefined {
  const c = isObj(raw) && !isObj(raw.decision) ? (isObj(raw.result) ? raw.result : isObj(raw.analysis) ? raw.analysis : raw) : raw;
  if (!isObj(c) || !isObj(c.decision) || !Array.isArray(c.timeline)) {
    unreadable.push('canary: expected the analysis of src/registry/canary.ts (decision, steps, timeline)');
    return undefined;
  }
  const d = c.decision;
  const semantics = typeof c.semantics === 'string' ? c.semantics : typeof d.semantics === 'string' ? d.semantics : '?';
  const atS = num(d.at_s) ?? 0;
  const decision = { action: String(d.action ?? '?'), step: num(d.step) ?? 0, weight: num(d.weight) ?? 0, at_s: atS, at: typeof d.at === 'string' ? d.at : `${atS}s`, reason: typeof d.reason === 'string' ? d.reason : '' };
  const series = new Map<string, CanarySeries>();
  const ticks = c.timeline.filter(isObj);
  if (ticks.length < c.timeline.length) unreadable.push(`canary.timeline: ${c.timeline.length - ticks.length} entries are not ticks`);
  for (const t of ticks) {
    for (const m of Array.isArray(t.metrics) ? t.metrics.filter(isObj) : []) {
      if (typeof m.name !== 'string' || series.has(m.name)) continue;
      const b = isObj(m.bound) ? m.bound : {};
      const bound: CanarySeries['bound'] = {};
      for (const k of ['min', 'max', 'failure_min', 'failure_max'] as const) if (num(b[k]) !== undefined) bound[k] = num(b[k]);
      series.set(m.name, { name: m.name, bound, points: [] });
    }
  }
  for (const t of ticks) {
    const ms = Array.isArray(t.metrics) ? t.metrics.filter(isObj) : [];
    for (const s of series.values()) {
      const m = ms.find((x) => x.name === s.name);
      s.points.push({ t_s: num(t.t_s) ?? 0, step: num(t.step) ?? 0, weight: num(t.weight) ?? 0, value: m ? (num(m.value) ?? null) : null, baseline: m ? (num(m.baseline) ?? null) : null, status: m && typeof m.status === 'string' ? (m.status as MeasurementStatus) : 'absent' });
    }
  }
  const steps = (Array.isArray(c.steps) ? c.steps.filter(isObj) : []).map((s) => ({ index: num(s.index) ?? 0, weight: num(s.weight) ?? 0, from_s: num(s.from_s) ?? 0, to_s: num(s.to_s) ?? 0, decision: String(s.decision ?? ''), reason: typeof s.reason === 'string' ? s.reason : '' }));
  return { ...(typeof c.strategy === 'string' ? { strategy: c.strategy } : {}), semantics, decision, steps, series: [...series.values()] };
}
