/**
 * `paddock failures <run> [--slice S] [--kind K] [--json]`: a run's failures with the paths of
 * their full-size frames, by contribution to the regression as the workbench lists them: the
 * way to the frames over SSH (scp them, open them elsewhere). Reads the store read-only, as
 * `paddock show` does. REVIEWED names who reviewed a failure and who filed it for data mining. `--slice` takes a slice of the run's slice file (another name is an
 * error that lists them); `--kind` a kind or its start (`false` for false-positive).
 */
import type { FailureItem } from '../src/live/run-reader.js';
import { formatTable } from '../src/files/format.js';
import { openReadOnly } from './show.js';

/** A failure as `paddock failures --json` and `paddock show --json` print it. */
export interface FailureJson {
  id: string;
  step: string | null;
  kind: string;
  severity: FailureItem['severity'];
  title: string;
  class: string | null;
  /** The run's slices the failure falls in. */
  slices: string[];
  contribution: number;
  /** The full-size frame, absolute (null when the failure has none). */
  framePath: string | null;
  reviewed: { actor: string; at: number } | null;
  /** Filed for data mining (the workbench's replay screen), with its note. */
  filed: { actor: string; at: number; note: string } | null;
  notes: { actor: string; at: number; text: string }[];
  data: Record<string, unknown>;
}

export function failureJson(f: FailureItem): FailureJson {
  return {
    id: f.id,
    step: f.step ?? null,
    kind: f.kind,
    severity: f.severity,
    title: f.title,
    class: f.class ?? null,
    slices: f.slices,
    contribution: f.contribution,
    framePath: f.framePath ?? null,
    reviewed: f.reviewed ?? null,
    filed: f.filed ?? null,
    notes: f.notes,
    data: f.data,
  };
}

/** Prints the failures of `runId` (an id or its start); 0 when listed (none matching included), 2 for a run or slice that is not there. */
export async function failuresCommand(opts: { home: string; runId: string; slice?: string; kind?: string; json: boolean }): Promise<number> {
  const { RunReader, arrangeFailures } = await import('../src/live/run-reader.js');
  const store = openReadOnly(opts.home);
  const run = store?.findRun(opts.runId);
  if (!store || !run) {
    store?.close();
    process.stderr.write(`paddock failures: no run "${opts.runId}" in ${opts.home} (paddock runs lists them)\n`);
    return 2;
  }
  try {
    const detail = new RunReader(store).detail(run.id, { replay: false });
    if (!detail) throw new Error(`run ${run.id} vanished from the store while it was read`);
    if (opts.slice !== undefined) {
      const known = [...new Set(detail.slices.flatMap((x) => x.slices.map((s) => s.id)))];
      if (!known.includes(opts.slice)) {
        const list = known.length ? `its slices: ${known.join(', ')}` : 'it recorded no slice file';
        process.stderr.write(`paddock failures: --slice "${opts.slice}" is not a slice of run ${run.id} (${list})\n`);
        return 2;
      }
    }
    const shown = arrangeFailures(detail.failures, { slice: opts.slice, kind: opts.kind });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(shown.map(failureJson))}\n`);
      return 0;
    }
    const filters = [opts.slice !== undefined ? `slice ${opts.slice}` : '', opts.kind !== undefined ? `kind ${opts.kind}*` : ''].filter(Boolean).join(', ');
    const out = [`run ${run.id}: ${detail.failures.length} failures${filters ? `, ${shown.length} of them with ${filters}` : ''}, by contribution to the regression`];
    if (shown.length === 0 && opts.kind !== undefined) {
      const kinds = new Map<string, number>();
      for (const f of detail.failures) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
      out.push(`no failure${opts.slice !== undefined ? ` in slice ${opts.slice}` : ''} has a kind starting "${opts.kind}"${kinds.size ? `; kinds in this run: ${[...kinds].map(([k, n]) => `${k} (${n})`).join(', ')}` : ''}`);
    }
    if (shown.length) {
      out.push(
        formatTable(
          ['ID', 'SEVERITY', 'KIND', 'CLASS', 'REVIEWED', 'NOTES', 'TITLE', 'FRAME'],
          shown.map((f) => [f.id, f.severity, f.kind, f.class ?? '-', [f.reviewed?.actor, f.filed ? `filed by ${f.filed.actor}` : undefined].filter(Boolean).join(', ') || '-', String(f.notes.length), f.title, f.framePath ?? '-']),
        ),
      );
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    store.close();
  }
}
