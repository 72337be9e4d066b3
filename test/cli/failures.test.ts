/**
 * `paddock failures <run> [--slice S] [--kind K] [--json]` and the failures and reviews of
 * `paddock show --json`, through the real binary (dist/paddock.js) on a real store: the recorded
 * demo run with a person's note and review (test/helpers/workbench-store.ts). What each filter
 * should keep is worked out here from the stored failure events and the run's slice file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paddock } from '../helpers/cli.js';
import { APPROVAL_REASON, LONG_NOTE, RECORDED_RUN, buildWorkbenchStore, type WorkbenchStore } from '../helpers/workbench-store.js';
import type { FailureEvent } from '../../src/schema/events.js';

interface Listed {
  id: string;
  kind: string;
  slices: string[];
  contribution: number;
  framePath: string | null;
  reviewed: { actor: string; at: number } | null;
  notes: { actor: string; at: number; text: string }[];
}

let w: WorkbenchStore;
let events: FailureEvent[];
let env: Record<string, string>;

beforeAll(async () => {
  w = await buildWorkbenchStore({ people: true });
  events = w.store.events(RECORDED_RUN, 'failure') as FailureEvent[];
  env = { PADDOCK_HOME: w.home };
});
afterAll(() => w.cleanup());

/** The ids of the stored failures whose frame the run's slice `id` selects (its `where` and class). */
function inSlice(id: string): string[] {
  const slice = w.reader.detail(RECORDED_RUN, { replay: false })!.slices[0].slices.find((s) => s.id === id)!;
  return events
    .filter((e) => {
      const data = e.data as { frame?: Record<string, string>; class?: string };
      if (!data.frame) return false;
      const where = Object.entries(slice.where as Record<string, string[]>).every(([field, values]) => values.includes(data.frame![field]));
      return where && (!slice.class || (slice.class as readonly string[]).includes(data.class ?? ''));
    })
    .map((e) => e.id);
}

describe('paddock failures', () => {
  it.each([
    ['every failure', [], () => events.map((e) => e.id)],
    ['--slice fog', ['--slice', 'fog'], () => inSlice('fog')],
    ['--kind false (a kind\'s start)', ['--kind', 'false'], () => events.filter((e) => e.kind.startsWith('false-positive')).map((e) => e.id)],
    ['--kind lost-object --slice vulnerable-road-users', ['--kind', 'lost-object', '--slice', 'vulnerable-road-users'], () => inSlice('vulnerable-road-users').filter((id) => events.find((e) => e.id === id)!.kind === 'lost-object')],
  ] as const)('--json lists %s with its frame path, by contribution', async (_what, args, want) => {
    const r = await paddock(['failures', RECORDED_RUN.slice(0, 12), ...args, '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const listed = JSON.parse(r.stdout) as Listed[];
    const expected = want();
    expect(expected.length).toBeGreaterThan(0);
    expect(listed.map((f) => f.id).sort()).toEqual([...expected].sort());
    for (const f of listed) expect(f.framePath).toBe(w.framePng);
    for (let i = 1; i < listed.length; i++) expect(listed[i].contribution).toBeLessThanOrEqual(listed[i - 1].contribution);
    const noted = listed.find((f) => f.id === 'lost/3653');
    if (noted) {
      expect(noted.reviewed).toMatchObject({ actor: 'ana@example.com' });
      expect(noted.notes).toEqual([expect.objectContaining({ actor: 'ana@example.com', text: LONG_NOTE })]);
    }
  });

  it('prints a table whose last column is each failure\'s whole frame path', async () => {
    const r = await paddock(['failures', RECORDED_RUN, '--slice', 'fog'], env);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const fog = inSlice('fog');
    expect(lines[0]).toBe(`run ${RECORDED_RUN}: ${events.length} failures, ${fog.length} of them with slice fog, by contribution to the regression`);
    expect(lines[1]).toMatch(/^ID +SEVERITY +KIND +CLASS +REVIEWED +NOTES +TITLE +FRAME$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/)[0]).sort()).toEqual([...fog].sort());
    for (const l of lines.slice(2)) expect(l.endsWith(`  ${w.framePng}`)).toBe(true);
  });

  it('says which kinds there are when none matches, and exits 0', async () => {
    const r = await paddock(['failures', RECORDED_RUN, '--slice', 'fog', '--kind', 'false'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('no failure in slice fog has a kind starting "false"; kinds in this run: lost-object (20), ');
    expect(JSON.parse((await paddock(['failures', RECORDED_RUN, '--slice', 'fog', '--kind', 'false', '--json'], env)).stdout)).toEqual([]);
  });

  it('names the run\'s slices for a slice it does not have, and a run that is not there; exit 2', async () => {
    const slice = await paddock(['failures', RECORDED_RUN, '--slice', 'nigth'], env);
    expect(slice.exitCode).toBe(2);
    expect(slice.stderr).toMatch(/^paddock failures: --slice "nigth" is not a slice of run r-20261125-215245-a1713b \(its slices: all, clear, .*night, .*\)$/); // execa drops the last newline
    const run = await paddock(['failures', 'r-1999'], env);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe(`paddock failures: no run "r-1999" in ${w.home} (paddock runs lists them)`);
  });
});

describe('paddock show --json', () => {
  it('has the failures as paddock failures --json lists them, every review record, and the approvals', async () => {
    const shown = JSON.parse((await paddock(['show', RECORDED_RUN, '--json'], env)).stdout) as { failures: Listed[]; reviews: { failure_id: string; action: string; note: string | null; actor: string }[]; approvals: { gate: string; decision: string; reason: string; actor: string }[] };
    const listed = JSON.parse((await paddock(['failures', RECORDED_RUN, '--json'], env)).stdout) as Listed[];
    expect(shown.failures).toEqual(listed);
    expect(shown.failures).toHaveLength(events.length);
    expect(shown.reviews.map((r) => [r.failure_id, r.action, r.note, r.actor])).toEqual([
      ['lost/3653', 'note', LONG_NOTE, 'ana@example.com'],
      ['lost/3653', 'reviewed', null, 'ana@example.com'],
    ]);
    expect(shown.approvals).toEqual([expect.objectContaining({ gate: 'overall-ap', decision: 'approved', reason: APPROVAL_REASON, actor: 'ana@example.com' })]);
  });

  it('says how many failures there are, and where to list them, in text', async () => {
    const text = (await paddock(['show', RECORDED_RUN], env)).stdout;
    const critical = events.filter((e) => e.severity === 'critical').length;
    expect(text).toContain(`failures ${events.length} (${critical} critical, ${events.length - critical} major; 1 reviewed, 1 note): paddock failures ${RECORDED_RUN} lists them with their frames`);
  });
});
