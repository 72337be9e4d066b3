/**
 * `paddock runs` and `paddock show <run-id>`: read the run store, print tables or JSON. A run is
 * shown from the store alone: its gates and slices are the ones it recorded when it started
 * (src/live/run-reader.ts), not the files as they are today.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RunStore, type RunRow, type StepRow } from '../src/store/run-store.js';
import { isAlive } from '../runners/process-tree.js';
import { formatDuration, formatNumber, formatTable } from '../src/files/format.js';
import type { RunSlices } from '../src/live/run-reader.js';
import type { Slice } from '../src/schema/manifest.js';

/** A run whose process died without finishing it (SIGKILL, power loss) shows as interrupted. */
export function displayStatus(run: Pick<RunRow, 'status' | 'pid'>): string {
  if (run.status === 'running' && run.pid && run.pid !== process.pid && !isAlive(run.pid)) return 'interrupted';
  return run.status;
}

/** The store, read-only: looking never writes, and never sweeps another process's temp files. */
export function openReadOnly(home: string): RunStore | undefined {
  if (!existsSync(join(home, 'runs.sqlite'))) return undefined;
  return new RunStore(home, { readonly: true });
}

export function listRuns(home: string, opts: { json: boolean; limit: number }): number {
  const store = openReadOnly(home);
  if (!store) {
    process.stdout.write(opts.json ? '[]\n' : `no runs yet in ${home} (paddock demo makes one)\n`);
    return 0;
  }
  try {
    const runs = store.listRuns(opts.limit);
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify(runs.map((r) => ({ id: r.id, name: r.name, status: displayStatus(r), exitCode: r.exit_code, host: r.host, startedAt: new Date(r.created_at).toISOString(), durationMs: r.ended_at ? r.ended_at - r.created_at : null })))}\n`,
      );
      return 0;
    }
    if (runs.length === 0) {
      process.stdout.write(`no runs yet in ${home}\n`);
      return 0;
    }
    const rows = runs.map((r) => [
      r.id,
      r.name,
      displayStatus(r),
      r.host,
      new Date(r.created_at).toISOString().replace('T', ' ').slice(0, 19),
      formatDuration((r.ended_at ?? Date.now()) - r.created_at),
    ]);
    process.stdout.write(`${formatTable(['RUN', 'RECIPE', 'STATUS', 'HOST', 'STARTED (UTC)', 'DURATION'], rows)}\n`);
    return 0;
  } finally {
    store.close();
  }
}

/** A step's row of the table; a skipped step's NOTE is why (it skipped its own work, or a need failed). */
function stepLine(s: StepRow): string[] {
  // A step skipped because a need failed did not run now: its times are of an earlier attempt.
  const ran = s.status !== 'skipped' || s.skipped_itself === 1;
  const dur = ran && s.started_at && s.ended_at ? formatDuration(s.ended_at - s.started_at) : '-';
  const status = (s.status === 'succeeded' || s.skipped_itself) && s.reused ? `${s.status} (reused)` : s.status;
  return [s.stage, s.step_id, status, String(s.attempt), s.host ?? '-', dur, s.error ?? ''];
}

/** "time_of_day in night; weather in rain" (or "every frame"). */
function sliceWhere(s: Slice): string {
  const parts = Object.entries(s.where).map(([field, values]) => `${field} in ${(values as string[]).join(', ')}`);
  return parts.join('; ') || 'every frame';
}

function slicesSection(x: RunSlices): string {
  const when = x.recordedAt !== undefined ? `recorded ${new Date(x.recordedAt).toISOString()}` : 'NOT RECORDED by the run: the file as it is now';
  const head = `slices of ${x.step}: ${x.slices.length} from ${x.path}  sha256 ${x.sha256.slice(0, 12)}  ${when}`;
  return `${head}\n${formatTable(['SLICE', 'CRITICAL', 'FRAMES', 'CLASSES'], x.slices.map((s) => [s.id, s.critical ? 'yes' : '-', sliceWhere(s), s.class?.join(', ') ?? 'all']))}`;
}

/**
 * `paddock show`: the run reader (recipe, gates, slices: yaml and zod) is loaded here only, so
 * `paddock runs` stays light. `--json` has the run's failures (as `paddock failures --json`
 * prints them, with their reviews and notes) and every review record beside the approvals.
 */
export async function showRun(home: string, id: string, opts: { json: boolean }): Promise<number> {
  const { RunReader, arrangeFailures } = await import('../src/live/run-reader.js');
  const { failureJson } = await import('./failures.js');
  const store = openReadOnly(home);
  const run = store?.findRun(id);
  if (!store || !run) {
    store?.close();
    process.stderr.write(`paddock show: no run "${id}" in ${home} (paddock runs lists them)\n`);
    return 2;
  }
  try {
    const steps = store.getSteps(run.id);
    const metrics = store.currentMetrics(run.id);
    // Gates' own verdicts only; what steps printed as verdicts are their findings, shown apart.
    const verdicts = store.currentVerdicts(run.id);
    const stepVerdicts = store.stepVerdicts(run.id);
    const approvals = store.approvals(run.id);
    const artifacts = store.currentArtifacts(run.id);
    const reader = new RunReader(store);
    // The run's definition and its failures with their reviews, read once (no replay of the events).
    const detail = reader.detail(run.id, { replay: false })!;
    const failures = arrangeFailures(detail.failures, {});
    const reviews = reader.reviews(run.id);
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({
          run: { ...run, recipe_text: undefined, status: displayStatus(run), lineage: JSON.parse(run.lineage) },
          // A skipped step's reason under its own name (the row keeps it in `error`).
          steps: steps.map((s) => (s.status === 'skipped' ? { ...s, reason: s.error } : s)),
          gates: detail.gates,
          slices: detail.slices,
          notes: detail.notes,
          metrics,
          verdicts: verdicts.map((v) => ({ ...v, rationale: JSON.parse(v.rationale) })),
          stepVerdicts: stepVerdicts.map((v) => ({ ...v, rationale: JSON.parse(v.rationale) })),
          approvals,
          failures: failures.map(failureJson),
          reviews,
          artifacts,
        })}\n`,
      );
      return 0;
    }
    const out: string[] = [];
    out.push(`run ${run.id}  ${run.name}  ${displayStatus(run)}${run.exit_code !== null ? ` (exit ${run.exit_code})` : ''}`);
    out.push(`recipe ${run.recipe_path}  sha256 ${run.recipe_sha256.slice(0, 12)}  host ${run.host}  by ${run.actor ?? '-'}`);
    out.push(`started ${new Date(run.created_at).toISOString()}  duration ${formatDuration((run.ended_at ?? Date.now()) - run.created_at)}`);
    if (run.error) out.push(`error: ${run.error}`);
    const lineage = JSON.parse(run.lineage) as Record<string, { version: string; commit: string; dataset: string; onnx?: { sha256: string } }>;
    for (const [name, m] of Object.entries(lineage)) {
      out.push(`model ${name} v${m.version}  onnx ${m.onnx?.sha256.slice(0, 12) ?? '-'}  commit ${m.commit.slice(0, 12)}  dataset ${m.dataset}`);
    }
    for (const note of detail.notes) out.push(`note: ${note}`);
    out.push('', formatTable(['STAGE', 'STEP', 'STATUS', 'TRY', 'HOST', 'TIME', 'NOTE'], steps.map(stepLine)));
    const skipped = steps.filter((s) => s.status === 'skipped');
    if (skipped.length) out.push(`${skipped.length} skipped: ${skipped.map((s) => `${s.step_id}: ${s.error ?? 'skipped'}`).join('; ')}`);
    if (detail.gates.length) out.push('', formatTable(['GATE', 'STAGE', 'RULE'], detail.gates.map((g) => [g.id, g.stage, g.rule])));
    for (const x of detail.slices) out.push('', slicesSection(x));
    if (metrics.length) {
      out.push('', formatTable(
        ['STEP', 'METRIC', 'TARGET', 'SLICE', 'VALUE', 'N'],
        metrics.map((m) => [m.step_id ?? '-', m.name, m.target ?? '-', m.slice ?? '-', `${formatNumber(m.value)}${m.unit ? ` ${m.unit}` : ''}`, m.denominators ? Object.entries(JSON.parse(m.denominators) as Record<string, number>).map(([k, v]) => `${k}=${v}`).join(' ') : '']),
      ));
    }
    if (verdicts.length) {
      out.push('', formatTable(['GATE', 'VERDICT', 'RATIONALE'], verdicts.map((v) => [v.gate, v.verdict.toUpperCase(), (JSON.parse(v.rationale) as string[]).join('; ')])));
    }
    if (stepVerdicts.length) {
      out.push('', formatTable(['STEP', 'FINDING', 'VERDICT', 'RATIONALE'], stepVerdicts.map((v) => [v.step_id, v.gate, v.verdict.toUpperCase(), (JSON.parse(v.rationale) as string[]).join('; ')])));
    }
    if (failures.length) {
      const bySeverity = ['critical', 'major', 'minor', 'info'].map((s) => [s, failures.filter((f) => f.severity === s).length] as const).filter(([, n]) => n > 0);
      const reviewed = failures.filter((f) => f.reviewed).length;
      const notes = reviews.filter((r) => r.action === 'note').length;
      out.push('', `failures ${failures.length} (${bySeverity.map(([s, n]) => `${n} ${s}`).join(', ')}; ${reviewed} reviewed, ${notes} note${notes === 1 ? '' : 's'}): paddock failures ${run.id} lists them with their frames`);
    }
    if (approvals.length) {
      out.push('', formatTable(['GATE', 'ANSWER', 'BY', 'AT', 'REASON'], approvals.map((a) => [a.gate, a.decision, a.actor, new Date(a.at).toISOString(), a.reason ?? ''])));
    }
    if (artifacts.length) {
      out.push('', formatTable(['STEP', 'ROLE', 'SHA256', 'BYTES', 'PATH'], artifacts.map((a) => [a.step_id ?? '-', a.role, a.sha256.slice(0, 16), String(a.bytes), a.path])));
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    store.close();
  }
}
