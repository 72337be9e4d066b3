/**
 * Reads a run back from the store for the workbench: its plan with dependencies, steps, gate
 * rules, verdicts and approvals, failures with their reviews, and its live state replayed from
 * its events (the same reducers the live view uses). Pure queries; the only writes are the
 * review records (append-only).
 */
import { dirname, isAbsolute, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { RunStore, RunRow, StepRow, VerdictRow, ApprovalRow } from '../store/run-store.js';
import type { FailureEvent } from '../schema/events.js';
import { parseRecipe } from '../schema/recipe-load.js';
import type { Gate, Recipe } from '../schema/recipe.js';
import { plan as makePlan } from '../pipeline/plan.js';
import { initialLiveState, reduceAll, withPlannedSteps, type LiveState } from './live-state.js';
import { SliceFile, frameInSlice, type Slice } from '../schema/manifest.js';

export interface PlanRow {
  id: string;
  stage: string;
  kind: 'step' | 'gate';
  needs: string[];
  target?: string;
  host?: string;
}

export interface GateRule {
  id: string;
  stage: string;
  rule: string;
}

export interface FailureItem {
  id: string;
  step?: string;
  kind: string;
  severity: 'critical' | 'major' | 'minor' | 'info';
  title: string;
  /** Full-size frame for an outside viewer, when the failure has one. */
  framePath?: string;
  note?: string;
  data: Record<string, unknown>;
  class?: string;
  /** Slices of the run's slice file whose frames and class the failure falls in. */
  slices: string[];
  /** How much it weighs in the regression: severity first, then the score that was lost or wrongly given. */
  contribution: number;
  reviewed?: { actor: string; at: number };
  notes: { actor: string; at: number; text: string }[];
}

export interface ReviewRow {
  id: number;
  run_id: string;
  failure_id: string;
  action: 'reviewed' | 'note';
  note: string | null;
  actor: string;
  at: number;
}

export interface RunDetail {
  run: RunRow;
  recipe?: Recipe;
  plan: PlanRow[];
  steps: StepRow[];
  gates: GateRule[];
  verdicts: VerdictRow[];
  approvals: ApprovalRow[];
  failures: FailureItem[];
  live: LiveState;
}

const SEVERITY_WEIGHT = { critical: 3, major: 2, minor: 1, info: 0 } as const;

/** "coco.AP[night] >= production + 0.01 (on the lower bound)" */
export function formatGateRule(g: Gate): string {
  const what = `${g.metric}${g.target ? ` of ${g.target}` : ''}${g.slice ? `[${g.slice}]` : ''}${g.slices ? (g.slices === 'critical' ? ' on every critical slice' : ` on ${g.slices.join(', ')}`) : ''}`;
  let bound: string;
  if (g.threshold !== undefined) bound = String(g.threshold);
  else if (g.baseline) bound = `${g.baseline.times !== 1 ? `${g.baseline.times} x ` : ''}${g.baseline.target}${g.baseline.plus ? ` + ${g.baseline.plus}` : ''}`;
  else bound = '?';
  const on = g.decide_on && g.decide_on !== 'point' ? ` (on the ${g.decide_on} bound)` : '';
  const extra = [g.approval === 'required' ? 'needs approval' : '', g.on_fail === 'review' ? 'a failure goes to review' : ''].filter(Boolean).join('; ');
  return `${what} ${g.op} ${bound}${on}${extra ? `; ${extra}` : ''}`;
}

/**
 * What the workbench needs from the run's evaluate step: its slices (from its slice file) and
 * its dataset root (where relative frame paths of older runs start), both resolved against the
 * recipe's folder.
 */
function evaluateContext(recipe: Recipe | undefined, recipeFile: string): { slices: Slice[]; root?: string } {
  const step = Object.values(recipe?.stages ?? {})
    .flat()
    .find((s) => s && 'uses' in s && s.uses === 'evaluate');
  const w = ((step && 'uses' in step ? step.with : undefined) ?? {}) as { slices?: string; manifest?: string };
  const abs = (p: string) => (isAbsolute(p) ? p : join(dirname(recipeFile), p));
  let slices: Slice[] = [];
  if (w.slices) {
    try {
      slices = SliceFile.parse(parseYaml(readFileSync(abs(w.slices), 'utf8'))).slices;
    } catch {
      slices = [];
    }
  }
  return { slices, root: w.manifest ? dirname(dirname(abs(w.manifest))) : undefined };
}

function failureItem(e: FailureEvent & { step?: string }, slices: Slice[], root: string | undefined): FailureItem {
  const data = (e.data ?? {}) as Record<string, unknown>;
  const cls = typeof data.class === 'string' ? data.class : undefined;
  const frame = (data.frame ?? {}) as Record<string, string>;
  const inSlices = slices
    .filter((s) => (!s.class || (cls !== undefined && (s.class as readonly string[]).includes(cls))) && Object.keys(frame).length > 0 && frameInSlice(s, frame as never))
    .map((s) => s.id);
  const score = typeof data.baseline_score === 'number' ? data.baseline_score : typeof data.score === 'number' ? data.score : 0;
  const ev = e.evidence?.find((x) => x.path && /\.(png|jpe?g)$/i.test(x.path));
  return {
    id: e.id,
    step: e.step,
    kind: e.kind,
    severity: e.severity,
    title: e.title,
    framePath: ev?.path && !isAbsolute(ev.path) && root ? join(root, ev.path) : ev?.path,
    note: ev?.note ?? e.evidence?.[0]?.note,
    data,
    class: cls,
    slices: inSlices,
    contribution: SEVERITY_WEIGHT[e.severity] + score,
    notes: [],
  };
}

export class RunReader {
  constructor(private readonly store: RunStore) {}

  listRuns(limit = 200): RunRow[] {
    return this.store.listRuns(limit);
  }

  findRun(idOrPrefix: string): RunRow | undefined {
    return this.store.findRun(idOrPrefix);
  }

  reviews(runId: string): ReviewRow[] {
    return this.store.db.prepare('SELECT * FROM failure_reviews WHERE run_id = ? ORDER BY id').all(runId) as ReviewRow[];
  }

  /** Records that a person reviewed a failure, or their note on it (append-only, with who and when). */
  recordReview(r: { runId: string; failureId: string; action: 'reviewed' | 'note'; note?: string; actor: string }): void {
    this.store.db.prepare('INSERT INTO failure_reviews (run_id, failure_id, action, note, actor, at) VALUES (?, ?, ?, ?, ?, ?)').run(r.runId, r.failureId, r.action, r.note ?? null, r.actor, Date.now());
  }

  /** Everything the workbench shows about a run; `live` is replayed from the stored events. */
  detail(runId: string, opts: { replay?: boolean } = {}): RunDetail | undefined {
    const run = this.store.getRun(runId);
    if (!run) return undefined;
    let recipe: Recipe | undefined;
    try {
      recipe = parseRecipe(run.recipe_text, run.recipe_path, { gatesText: run.gates_text ?? undefined });
    } catch {
      recipe = undefined;
    }
    let plan: PlanRow[] = [];
    if (recipe) {
      try {
        plan = makePlan(recipe).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind, needs: [...n.needs], target: n.target?.name, host: n.target?.host }));
      } catch {
        plan = [];
      }
    }
    const { slices, root } = evaluateContext(recipe, run.recipe_path);
    const reviews = this.reviews(runId);
    const failures = (this.store.events(runId, 'failure') as (FailureEvent & { step?: string; seq: number })[]).map((e) => failureItem(e, slices, root));
    const byId = new Map(failures.map((f) => [f.id, f]));
    for (const r of reviews) {
      const f = byId.get(r.failure_id);
      if (!f) continue;
      if (r.action === 'reviewed') f.reviewed = { actor: r.actor, at: r.at };
      else f.notes.push({ actor: r.actor, at: r.at, text: r.note ?? '' });
    }
    let live = withPlannedSteps({ ...initialLiveState, runId }, plan.map((p) => ({ id: p.id, stage: p.stage })));
    if (opts.replay !== false) live = reduceAll(live, this.store.events(runId));
    return {
      run,
      recipe,
      plan,
      steps: this.store.getSteps(runId),
      gates: (recipe?.gates ?? []).map((g) => ({ id: g.id, stage: g.stage, rule: formatGateRule(g) })),
      verdicts: this.store.currentVerdicts(runId),
      approvals: this.store.approvals(runId),
      failures,
      live,
    };
  }
}
