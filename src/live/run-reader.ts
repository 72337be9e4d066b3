/**
 * Reads a run back from the store for the workbench and `paddock show`: its plan with
 * dependencies, steps, gate rules, slices, verdicts and approvals, failures with their reviews,
 * and its live state replayed from its events (the same reducers the live view uses).
 *
 * A past run is read from the store alone: its recipe, its gates file and its slice files are the
 * texts the run recorded when it started, not the files as they are on disk today. Only for what
 * an older run did not record does it fall back to today's file, and `notes` says so. Pure
 * queries; the only writes are the review records (append-only).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { RunStore, RunRow, StepRow, VerdictRow, ApprovalRow, FailureReviewRow, ArtifactRow } from '../store/run-store.js';
import type { FailureEvent } from '../schema/events.js';
import { parseRecipe } from '../schema/recipe-load.js';
import type { Gate, Recipe } from '../schema/recipe.js';
import { plan as makePlan, gateNodeId } from '../pipeline/plan.js';
import { initialLiveState, reduceAll, withPlannedSteps, type LiveState } from './live-state.js';
import { sliceSelects, type Slice } from '../schema/manifest.js';
import { parseSliceFile, recipeSliceFiles } from '../schema/manifest-load.js';

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
  /** Filed for data mining (the latest filing), with the note that says what to mine. */
  filed?: { actor: string; at: number; note: string };
  notes: { actor: string; at: number; text: string }[];
}

/** Which failures to show: a kind (or its start), a class, a slice they belong to, words of the title or id. */
export interface FailureFilter {
  kind?: string;
  slice?: string;
  class?: string;
  text?: string;
}

/** Failures matching a filter, by contribution to the regression (largest first), ties by id; the workbench, `paddock failures` and `paddock show` list them so. */
export function arrangeFailures(items: readonly FailureItem[], filter: FailureFilter, reverse = false): FailureItem[] {
  const out = items
    .filter((x) => !filter.kind || x.kind.startsWith(filter.kind))
    .filter((x) => !filter.class || x.class === filter.class)
    .filter((x) => !filter.slice || x.slices.includes(filter.slice))
    .filter((x) => !filter.text || x.title.toLowerCase().includes(filter.text.toLowerCase()) || x.id.includes(filter.text))
    .sort((a, b) => b.contribution - a.contribution || a.id.localeCompare(b.id));
  return reverse ? out.reverse() : out;
}

/** A review, note or filing of a failure, as the store keeps it. */
export type ReviewRow = FailureReviewRow;

/** The slices of one evaluate step, as the run recorded its slice file (or, for an older run, the file as it is now). */
export interface RunSlices {
  step: string;
  /** The slice file, resolved against the recipe's folder, as it was named when the run started. */
  path: string;
  sha256: string;
  /** When the run recorded the file; absent when the run did not and these are the file as it is now (see the notes). */
  recordedAt?: number;
  slices: Slice[];
}

/** What a run was defined by: its recipe, gates and slices as it recorded them (readRunDefinition). */
export interface RunDefinition {
  recipe?: Recipe;
  plan: PlanRow[];
  gates: GateRule[];
  /** One entry per evaluate step with slices to show. */
  slices: RunSlices[];
  /** Where a run's frames are (relative frame paths of older runs start there). */
  datasetRoot?: string;
  /** What the store does not hold of the run's definition: shown from today's file, or not at all. */
  notes: string[];
}

export interface RunDetail {
  run: RunRow;
  recipe?: Recipe;
  plan: PlanRow[];
  steps: StepRow[];
  gates: GateRule[];
  /** The evaluate steps' slices as the run recorded them. */
  slices: RunSlices[];
  /** What the store does not hold of the run's definition (an older run): shown from today's file, or not at all. */
  notes: string[];
  /** Each gate's own verdict (only what its gate node recorded). */
  verdicts: VerdictRow[];
  /** Verdicts steps printed about their own work: findings, not gates. */
  stepVerdicts: VerdictRow[];
  approvals: ApprovalRow[];
  failures: FailureItem[];
  /** The files the run's steps produced (current attempts), with their roles: the sim screen reads its `sim-heatmap`. */
  artifacts: ArtifactRow[];
  live: LiveState;
}

const SEVERITY_WEIGHT = { critical: 3, major: 2, minor: 1, info: 0 } as const;

/** "coco.AP[night] >= production + 0.01", "coco.AP on all >= production - 0.01 (on the paired lower bound, alpha 0.05)", "... (a regression test, Holm/BH-adjusted, alpha 0.05)" */
export function formatGateRule(g: Gate): string {
  const what = `${g.metric}${g.target ? ` of ${g.target}` : ''}${g.slice ? `[${g.slice}]` : ''}${g.slices ? (g.slices === 'critical' ? ' on every critical slice' : ` on ${g.slices.join(', ')}`) : ''}`;
  let bound: string;
  if (g.threshold !== undefined) bound = String(g.threshold);
  else if (g.baseline) bound = `${g.baseline.times !== 1 ? `${g.baseline.times} x ` : ''}${g.baseline.target}${g.baseline.plus ? ` ${g.baseline.plus < 0 ? '-' : '+'} ${Math.abs(g.baseline.plus)}` : ''}`;
  else bound = '?';
  const on =
    g.decide_on === 'regression'
      ? ` (a regression test, Holm/BH-adjusted, alpha ${g.alpha})`
      : g.decide_on === 'lower' || g.decide_on === 'upper'
        ? ` (on the ${g.baseline ? 'paired ' : ''}${g.decide_on} bound${g.baseline ? `, alpha ${g.alpha}` : ''})`
        : '';
  const extra = [g.approval === 'required' ? 'needs approval' : '', g.on_fail === 'review' ? 'a failure goes to review' : ''].filter(Boolean).join('; ');
  return `${what} ${g.op} ${bound}${on}${extra ? `; ${extra}` : ''}`;
}

/** An empty gates file: what a run is parsed with when its gates file is neither in the store nor on disk. */
const NO_GATES = 'version: 1\ngates: []\n';

/** The store schema versions that began recording gates files and slice files (src/store/migrations.ts). */
const GATES_RECORDED_SINCE = 5;
const SLICES_RECORDED_SINCE = 6;

/** The gates file a recipe text names (`gates: gates.yaml`), if it names one. */
function gatesFileRef(recipeText: string): string | undefined {
  try {
    const ref = (parseYaml(recipeText) as { gates?: unknown } | null)?.gates;
    return typeof ref === 'string' ? ref : undefined;
  } catch {
    return undefined;
  }
}

const firstLine = (err: unknown) => (err as Error).message.split('\n')[0];

/**
 * A run's recipe, plan, gate rules and slices, from the texts it recorded when it started: the
 * recipe, its gates file (store schema 5 on) and its evaluate steps' slice files (schema 6 on).
 * A run that recorded them is shown from the store alone, whatever happened to the files since.
 * A run from before (or one made without run-command) falls back to the files as they are on
 * disk now, and `notes` says so; a file that is gone is left out, and `notes` says that too.
 */
export function readRunDefinition(store: RunStore, run: RunRow): RunDefinition {
  const notes: string[] = [];
  let gatesText = run.gates_text ?? undefined;
  const gatesRef = gatesText === undefined ? gatesFileRef(run.recipe_text) : undefined;
  let gatesFromDisk = false;
  if (gatesRef !== undefined) {
    const file = resolve(dirname(run.recipe_path), gatesRef);
    const why = `this run did not record its gates file (runs before store schema ${GATES_RECORDED_SINCE} did not)`;
    try {
      gatesText = readFileSync(file, 'utf8');
      gatesFromDisk = true;
      notes.push(`${why}: the gates shown are ${file} as it is now, which may not be what the run used`);
    } catch (err) {
      gatesText = NO_GATES;
      notes.push(`${why}, and ${file} cannot be read now (${firstLine(err)}): its gates are not shown`);
    }
  }
  let recipe: Recipe | undefined;
  try {
    recipe = parseRecipe(run.recipe_text, run.recipe_path, { gatesText });
  } catch (err) {
    if (gatesFromDisk) {
      // Today's gates file no longer fits the run's recipe: show the run without gates.
      notes[notes.length - 1] = `this run did not record its gates file, and the file as it is now does not fit its recipe (${firstLine(err)}): its gates are not shown`;
      try {
        recipe = parseRecipe(run.recipe_text, run.recipe_path, { gatesText: NO_GATES });
      } catch (again) {
        notes.push(`the recipe this run recorded cannot be read by this paddock: ${firstLine(again)}`);
      }
    } else notes.push(`the recipe this run recorded cannot be read by this paddock: ${firstLine(err)}`);
  }
  let plan: PlanRow[] = [];
  if (recipe) {
    try {
      plan = makePlan(recipe).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind, needs: [...n.needs], target: n.target?.name, host: n.target?.host }));
    } catch (err) {
      notes.push(`the recipe this run recorded cannot be planned by this paddock: ${firstLine(err)}`);
    }
  }
  const slices: RunSlices[] = [];
  const named = recipe ? recipeSliceFiles(recipe, run.recipe_path) : [];
  if (named.length > 0) {
    const recorded = new Map(store.runFiles(run.id, 'slices').map((r) => [r.step_id, r]));
    const since = store.migrationAppliedAt(SLICES_RECORDED_SINCE);
    for (const { step, path } of named) {
      const r = recorded.get(step);
      if (r && r.text === null) {
        notes.push(`the slice file of ${step} could not be read when the run started (${r.error}): its slices are not shown`);
      } else if (r && r.text !== null) {
        try {
          slices.push({ step, path: r.path, sha256: r.sha256 ?? '', recordedAt: r.recorded_at, slices: parseSliceFile(r.text, r.path) });
        } catch (err) {
          notes.push(`the slice file of ${step} that the run recorded is not valid: ${firstLine(err)}`);
        }
      } else {
        const why = since === undefined || run.created_at < since ? `this run predates recorded slice files (store schema ${SLICES_RECORDED_SINCE})` : `this run did not record the slice file of ${step}`;
        try {
          const text = readFileSync(path, 'utf8');
          slices.push({ step, path, sha256: createHash('sha256').update(text).digest('hex'), slices: parseSliceFile(text, path) });
          notes.push(`${why}: the slices shown for ${step} are ${path} as it is now, which may not be what the run used`);
        } catch (err) {
          notes.push(`${why}, and ${path} cannot be used now (${firstLine(err)}): the slices of ${step} are not shown`);
        }
      }
    }
  }
  return { recipe, plan, gates: (recipe?.gates ?? []).map((g) => ({ id: g.id, stage: g.stage, rule: formatGateRule(g) })), slices, datasetRoot: datasetRootOf(recipe, run.recipe_path), notes };
}

/** The first evaluate step's dataset root: the parent of its manifest's folder, against the recipe's folder. */
function datasetRootOf(recipe: Recipe | undefined, recipeFile: string): string | undefined {
  const step = Object.values(recipe?.stages ?? {})
    .flat()
    .find((s) => s && 'uses' in s && s.uses === 'evaluate');
  const manifest = ((step && 'uses' in step ? step.with : undefined) as { manifest?: string } | undefined)?.manifest;
  if (!manifest) return undefined;
  return dirname(dirname(isAbsolute(manifest) ? manifest : join(dirname(recipeFile), manifest)));
}

function failureItem(e: FailureEvent & { step?: string }, slices: readonly Slice[], root: string | undefined): FailureItem {
  const data = (e.data ?? {}) as Record<string, unknown>;
  const cls = typeof data.class === 'string' ? data.class : undefined;
  const frame = (data.frame ?? {}) as Record<string, string>;
  // A failure without its frame's metadata falls in no slice.
  const inSlices = Object.keys(frame).length > 0 ? slices.filter((s) => sliceSelects(s, frame, cls === undefined ? [] : [cls])).map((s) => s.id) : [];
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
    return this.store.failureReviews(runId);
  }

  /** Records that a person reviewed a failure, their note on it, or that they filed it for data mining (append-only, with who and when). */
  recordReview(r: { runId: string; failureId: string; action: ReviewRow['action']; note?: string; actor: string }): void {
    this.store.recordFailureReview(r);
  }

  /** Everything the workbench shows about a run; `live` is replayed from the stored events. */
  detail(runId: string, opts: { replay?: boolean } = {}): RunDetail | undefined {
    const run = this.store.getRun(runId);
    if (!run) return undefined;
    const def = readRunDefinition(this.store, run);
    const slicesOf = new Map(def.slices.map((x) => [x.step, x.slices]));
    // A failure takes the slices of its own evaluate step, else those of the first one.
    const slicesFor = (step?: string) => (step !== undefined ? slicesOf.get(step) : undefined) ?? def.slices[0]?.slices ?? [];
    const reviews = this.reviews(runId);
    const failures = (this.store.events(runId, 'failure') as (FailureEvent & { step?: string; seq: number })[]).map((e) => failureItem(e, slicesFor(e.step), def.datasetRoot));
    const byId = new Map(failures.map((f) => [f.id, f]));
    for (const r of reviews) {
      const f = byId.get(r.failure_id);
      if (!f) continue;
      if (r.action === 'reviewed') f.reviewed = { actor: r.actor, at: r.at };
      else if (r.action === 'filed') f.filed = { actor: r.actor, at: r.at, note: r.note ?? '' };
      else f.notes.push({ actor: r.actor, at: r.at, text: r.note ?? '' });
    }
    let live = withPlannedSteps({ ...initialLiveState, runId }, def.plan.map((p) => ({ id: p.id, stage: p.stage })));
    // A gate's verdict is what its gate node recorded; a verdict a step printed (a forgery, or
    // its own finding) is not replayed as the gate's (RunStore.currentVerdicts reads the same way).
    if (opts.replay !== false) live = reduceAll(live, this.store.events(runId).filter((e) => e.type !== 'verdict' || e.step === gateNodeId(e.gate)));
    return {
      run,
      recipe: def.recipe,
      plan: def.plan,
      steps: this.store.getSteps(runId),
      gates: def.gates,
      slices: def.slices,
      notes: def.notes,
      verdicts: this.store.currentVerdicts(runId),
      stepVerdicts: this.store.stepVerdicts(runId),
      approvals: this.store.approvals(runId),
      failures,
      artifacts: this.store.currentArtifacts(runId),
      live,
    };
  }
}
