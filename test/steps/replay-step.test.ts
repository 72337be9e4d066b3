/**
 * The replay stage end to end through the real binary, on a tiny world's drive bundle and the
 * committed world models: the candidate and production replayed, tracked and scored; the scored
 * sequences written as MOTChallenge files and scored again by `paddock eval tracking`; divergence
 * flagged into failures with clips; stress variants changing what they should; flagged segments
 * exported as OpenSCENARIO that validates against the XSD; a truncated bundle refused by name.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync, copyFileSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { paddock } from '../helpers/cli.js';
import { FIXTURES, tempDir } from '../helpers/fixtures.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { ReplayReport } from '../../src/schema/replay-report.js';
import { ReplayTimeline } from '../../src/schema/replay-timeline.js';
import { parseOpenScenario, validateXosc } from '../../src/replay/xosc.js';

const models = join(FIXTURES, 'world', 'models');
let dir: string;
let cleanup: () => void;
let events: PaddockEvent[];
let exitCode: number;
let stderr: string;

const recipe = (bundles: string, out: string, extra = '') => `version: 1
name: replay
stages:
  replay:
    - { id: world, uses: world-build, with: { out: world, size: tiny } }
    - id: replay
      uses: replay
      needs: [world]
      with:
        # The older model as the candidate, against the newer as its baseline: on one short drive the
        # newer tracks objects the older loses, so divergence has something to flag.
        candidate: { name: v1, model: ${JSON.stringify(join(models, 'production'))} }
        baseline: { name: v2, model: ${JSON.stringify(join(models, 'candidate'))} }
        bundles: [${bundles}]
        timing: fast
        deadline_ms: 100
        # Low thresholds, so that the two models' differences on one short drive are flagged.
        divergence: { segment_s: 1, lost_frames: 1, lost_objects: 1, extra_breaks: 1, ttfd_s: 0.1 }
        variants:
          - { kind: drop_burst, name: bursts, seed: 1, every_s: 1, length_frames: 3, start_s: 0.2 }
          - { kind: duplicate, name: dups, seed: 2, rate: 0.2 }
          - { kind: blackout, name: blackout, seed: 3, segments: [{ at_s: 0.5, duration_s: 0.6 }] }
        degradation:
          - { kind: no_confident_boxes_after_fault, faults: [blackout], within_frames: 2, score_min: 0.5 }
          - { kind: max_coast_s, seconds: 1 }
        export_scenarios: 2
        out: ${out}${extra}
gates:
  - { id: tracked, stage: replay, metric: tracking.MOTA, target: v1, op: ">=", threshold: -1 }
`;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('paddock-replay-'));
  writeFileSync(join(dir, 'p.yaml'), recipe('world/manifests/replay_drives.json', 'replay'));
  const r = await paddock(['run', join(dir, 'p.yaml'), '--json'], { PADDOCK_HOME: join(dir, 'home') });
  exitCode = r.exitCode ?? -1;
  stderr = r.stderr;
  events = r.stdout.trim().split('\n').map((l) => PaddockEvent.parse(JSON.parse(l)));
}, 240_000);
afterAll(() => cleanup?.());

const metric = (name: string, slice: string | undefined, target = 'v1') => events.find((e) => e.type === 'metric' && e.name === name && e.slice === slice && e.target === target) as Extract<PaddockEvent, { type: 'metric' }> | undefined;

describe('replay stage', () => {
  it('replays the drive through both models and reports tracking metrics per drive, per condition, per class and overall', async () => {
    expect(exitCode, stderr + events.filter((e) => e.type === 'log' && e.level === 'error').map((e) => (e.type === 'log' ? e.message : '')).join('\n')).toBe(0);
    for (const t of ['v1', 'v2']) {
      for (const name of ['tracking.HOTA', 'tracking.MOTA', 'tracking.IDF1', 'tracking.IDSW']) expect(metric(name, undefined, t), `${name} ${t}`).toBeDefined();
      expect(metric('replay.latency_p99_ms', undefined, t)!.value).toBeGreaterThan(0);
    }
    const report = ReplayReport.parse(JSON.parse(readFileSync(join(dir, 'replay', 'replay_report.json'), 'utf8')));
    expect(report.drives).toHaveLength(1);
    const drive = report.drives[0];
    // The bundle records its road, which the exported scenarios use.
    const { readDrive } = await import('../../src/replay/bundle.js');
    expect((await readDrive(drive.bundle)).info.road).toMatchObject({ lanes: expect.any(Number), laneWidth: expect.any(Number) });
    // The bundle's digest is the file's.
    expect(drive.sha256).toBe(createHash('sha256').update(readFileSync(drive.bundle)).digest('hex'));
    expect(metric('tracking.HOTA', `road_type=${drive.conditions.road_type}`)).toBeDefined();
    expect(events.some((e) => e.type === 'metric' && e.name === 'tracking.HOTA' && e.slice?.startsWith('class='))).toBe(true);
    expect(metric('tracking.HOTA', `drive=${drive.drive_id}`)!.value).toBeCloseTo(drive.models.v1.HOTA!, 12);
  });

  it('writes the scored sequences as MOTChallenge files that paddock eval tracking scores to the same numbers', async () => {
    const report = ReplayReport.parse(JSON.parse(readFileSync(join(dir, 'replay', 'replay_report.json'), 'utf8')));
    const d = report.drives[0];
    for (const model of ['v1', 'v2']) {
      const mot = join(dir, 'replay', 'mot', d.drive_id);
      const r = await paddock(['eval', 'tracking', '--gt', join(mot, 'gt.txt'), '--tracker', join(mot, `${model}.txt`), '--json'], {});
      expect(r.exitCode, r.stderr).toBe(0);
      const again = JSON.parse(r.stdout) as { CLEAR: Record<string, number>; Identity: Record<string, number>; HOTA: Record<string, number[]> };
      const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
      expect(again.CLEAR.MOTA).toBe(d.models[model].MOTA);
      expect(again.CLEAR.IDSW).toBe(d.models[model].IDSW);
      expect(again.Identity.IDF1).toBe(d.models[model].IDF1);
      expect(mean(again.HOTA.HOTA)).toBeCloseTo(d.models[model].HOTA!, 14);
    }
  });

  it('writes a timeline per replay that the workbench schema accepts, and segment metrics as Parquet', async () => {
    const files = readdirSync(join(dir, 'replay', 'timelines'));
    expect(files.filter((f) => f.endsWith('.json')).sort()).toHaveLength(4);
    const nominal = ReplayTimeline.parse(JSON.parse(readFileSync(join(dir, 'replay', 'timelines', files.find((f) => /^drive-[0-9a-f]+\.json$/.test(f))!), 'utf8')));
    expect(nominal.frames).toHaveLength(20);
    expect(Object.keys(nominal.frames[0].models).sort()).toEqual(['v1', 'v2']);
    expect(files.some((f) => f.endsWith('.svg'))).toBe(true);
    const { parquetReadObjects } = await import('hyparquet');
    const buf = readFileSync(join(dir, 'replay', 'segment_metrics.parquet'));
    const rows = (await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) })) as Record<string, unknown>[];
    // Two 1 s segments, per model for the nominal replay, and per variant for the candidate.
    expect(rows.filter((r) => r.variant === 'nominal')).toHaveLength(4);
    expect(rows.filter((r) => r.variant === 'bursts')).toHaveLength(2);
    // Per frame: CLEAR's counts per model, whose ID switches sum to the drive's.
    const fbuf = readFileSync(join(dir, 'replay', 'frame_metrics.parquet'));
    const frames = (await parquetReadObjects({ file: fbuf.buffer.slice(fbuf.byteOffset, fbuf.byteOffset + fbuf.byteLength) })) as { variant: string; model: string; TP: number; FP: number; FN: number; IDSW: number }[];
    const report = ReplayReport.parse(JSON.parse(readFileSync(join(dir, 'replay', 'replay_report.json'), 'utf8')));
    for (const model of ['v1', 'v2']) {
      const mine = frames.filter((f) => f.variant === 'nominal' && f.model === model);
      expect(mine).toHaveLength(20);
      const m = report.drives[0].models[model];
      expect(mine.reduce((a, f) => a + f.IDSW, 0)).toBe(m.IDSW);
      expect(mine.reduce((a, f) => a + f.TP, 0)).toBe(m.TP);
      expect(mine.reduce((a, f) => a + f.FN, 0)).toBe(m.FN);
      // Per object: time to first detection and continuity.
      expect(m.objects.length).toBe(m.gtIds);
      for (const o of m.objects) expect(o.tracked_frames).toBeLessThanOrEqual(o.visible_frames);
      expect(m.objects.filter((o) => o.ttfd_frames === null).length).toBe(m.never_tracked);
    }
  });

  it('runs each stress variant on the candidate and changes what it should', () => {
    const report = ReplayReport.parse(JSON.parse(readFileSync(join(dir, 'replay', 'replay_report.json'), 'utf8')));
    const v = Object.fromEntries(report.drives[0].variants.map((x) => [x.name, x]));
    // Bursts of 3 frames every second from 0.2 s: frames 2-4 and 12-14 never arrive.
    expect(v.bursts.consumed).toMatchObject({ delivered: 14, processed: 14 });
    // Duplicates arrive and the queue drops them.
    expect(v.dups.consumed).toMatchObject({ delivered: 24, processed: 20, duplicates_dropped: 4 });
    expect(v.dups.summary.MOTA).toBe(report.drives[0].models.v1.MOTA);
    // The blackout is judged by its rules; the coast rule is judged on every variant.
    expect(v.blackout.verdicts.find((x) => x.rule === 'no_confident_boxes_after_fault')!.status).not.toBe('skipped');
    expect(v.bursts.verdicts.find((x) => x.rule === 'no_confident_boxes_after_fault')!.status).toBe('skipped');
    expect(metric('stress.LGD_s', 'variant=bursts')).toBeDefined();
    expect(events.some((e) => e.type === 'metric' && e.name === 'degradation.max_coast_s' && e.slice === 'variant=blackout')).toBe(true);
    // A blackout loses the objects the nominal replay tracks: flagged against the nominal replay.
    expect(v.blackout.flagged_segments).toBeGreaterThan(0);
  });

  it('turns flagged segments into failures with clips, most severe first, and exports the worst as OpenSCENARIO that validates', async () => {
    const failures = events.filter((e): e is Extract<PaddockEvent, { type: 'failure' }> => e.type === 'failure' && e.kind === 'replay-divergence');
    expect(failures.length).toBeGreaterThan(0);
    const sev = failures.map((f) => f.data.severity as number);
    expect([...sev].sort((a, b) => b - a)).toEqual(sev);
    for (const f of failures) {
      const clip = f.evidence.find((e) => e.note === 'clip')!.path!;
      expect(readFileSync(clip).subarray(0, 6).toString('latin1')).toBe('GIF89a');
      expect(existsSync(f.evidence.find((e) => e.note === 'timeline')!.path!)).toBe(true);
    }
    const report = ReplayReport.parse(JSON.parse(readFileSync(join(dir, 'replay', 'replay_report.json'), 'utf8')));
    expect(report.scenarios.length).toBeGreaterThan(0);
    for (const s of report.scenarios) {
      expect(s.valid, s.errors.join('\n')).toBe(true);
      expect((await validateXosc(s.file)).ok).toBe(true);
      const parsed = parseOpenScenario(readFileSync(s.file, 'utf8'), s.file);
      expect(Object.keys(parsed.parameters)).toEqual(expect.arrayContaining(['EgoSpeed']));
    }
  });

  it('refuses a truncated bundle, naming the file, and leaves what is stored alone', async () => {
    const { dir: d2, cleanup: c2 } = tempDir('paddock-replay-trunc-');
    try {
      const report = ReplayReport.parse(JSON.parse(readFileSync(join(dir, 'replay', 'replay_report.json'), 'utf8')));
      const cut = join(d2, 'cut.mcap');
      copyFileSync(report.drives[0].bundle, cut);
      truncateSync(cut, Math.floor(statSync(cut).size / 2));
      writeFileSync(join(d2, 'p.yaml'), recipe(JSON.stringify(cut), 'out'));
      const r = await paddock(['run', join(d2, 'p.yaml'), '--json'], { PADDOCK_HOME: join(d2, 'home') });
      expect(r.exitCode).not.toBe(0);
      const text = r.stdout + r.stderr;
      expect(text).toContain('cut.mcap');
      expect(text).toMatch(/truncat|offset/i);
    } finally {
      c2();
    }
  }, 240_000);
});
