/**
 * The simulation screen at 80x24 and 160x48, and in monochrome ASCII: a real run store holding a
 * run whose `sim` step recorded a sim_heatmap.json (artifact role `sim-heatmap`) and failure
 * events of kind `sim.*` with SimFailureData, two of them with a trace on disk (one relative to
 * the step's out folder, one absolute). The traces are a closed-form stop in front of a
 * stationary car (cruise, then full braking too late: contact, then standing); the clip is
 * re-rendered from them by the world's renderer. Keys are sent as the terminal sends them;
 * reviews, notes and filings are read back from SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import React from 'react';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { render } from 'ink-testing-library';
import { Workbench } from '../../views/workbench.js';
import { makeTheme } from '../../views/theme.js';
import type { ColorDepth } from '../../views/frame-cells.js';
import { footerHints, helpLines } from '../../views/screens/index.js';
import { CLIP_RGB, readSimTrace, renderClipFrame } from '../../views/screens/sim-view.js';
import { heatGlyph, heatLevel, heatmapLines } from '../../views/sim-heatmap.js';
import { dataRequestDraft, modeStrip } from '../../views/sim-triage.js';
import { RunStore, type FailureReviewRow } from '../../src/store/run-store.js';
import { RunReader } from '../../src/live/run-reader.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { SimFailureData, SimHeatmap } from '../../src/schema/sim-report.js';
import { parseRecipe } from '../../src/schema/recipe-load.js';
import { plan as makePlan } from '../../src/pipeline/plan.js';
import { CAMERA } from '../../src/world/scene.js';
import type { PlannerMode, SimRoad, SimRunTrace, TraceStep } from '../../src/schema/sim-types.js';
import { DEMO_RECIPE, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';

const KEYS = { enter: '\r', escape: '\x1b', right: '\x1b[C', left: '\x1b[D', space: ' ', ctrlW: '\x17', down: '\x1b[B' } as const;
const ANSI = /\x1b\[[0-9;]*m/g;
const RUN = 'r-20261203-120000-sim';
const ACTOR = 'ana@example.com';

let store: RunStore;
let reader: RunReader;
let cleanup: () => void;
let outDir: string;
let heatmap: SimHeatmap;
let trace1: SimRunTrace;

const ROAD: SimRoad = { roadType: 'urban', lanes: 2, laneWidth: 3.5, leftEdgeY: 1.75, egoLane: 0, oncomingBelow: 0, sidewalk: 2, speedLimit: 13.9, stopLines: [] };

/**
 * A stationary car `gap0` metres ahead of the ego's front at `v0` m/s: cruise for `reactS`, full
 * braking at 9 m/s^2 after; contact when the distance driven reaches the gap (closed form), then
 * the ego stands for 1 s. The steps are what a shard's trace holds.
 */
function stopTrace(runId: string, v0: number, gap0: number, reactS: number, conditions: SimRunTrace['spec']['conditions'], seed: number): SimRunTrace {
  const dt = 0.1;
  const egoSize: [number, number, number] = [4.5, 1.8, 1.5];
  const carSize: [number, number, number] = [4.5, 1.8, 1.5];
  const carX = egoSize[0] / 2 + gap0 + carSize[0] / 2;
  const steps: TraceStep[] = [];
  let collidedAt: number | undefined;
  for (let i = 0; i < 200; i++) {
    const t = +(i * dt).toFixed(3);
    const braking = Math.max(0, t - reactS);
    const tStop = v0 / 9;
    let x = v0 * Math.min(t, reactS) + v0 * Math.min(braking, tStop) - 0.5 * 9 * Math.min(braking, tStop) ** 2;
    let speed = Math.max(0, v0 - 9 * braking);
    if (collidedAt === undefined && x >= gap0) collidedAt = i;
    if (collidedAt !== undefined) {
      x = Math.min(x, gap0);
      if (i > collidedAt) speed = 0;
    }
    const gap = gap0 - x;
    const mode: PlannerMode = collidedAt !== undefined && i > collidedAt ? 'stopped' : t < reactS - 0.2 ? 'cruise' : t < reactS ? 'aeb-warn' : 'aeb-full';
    steps.push({
      t,
      ego: { name: 'Ego', cls: 'car', x, y: 0, heading: 0, speed, accel: braking > 0 && speed > 0 ? -9 : 0, size: egoSize, vy: 0, jerk: 0, steer: 0 },
      actors: [{ name: 'target', cls: 'car', x: carX, y: 0, heading: 0, speed: 0, accel: 0, size: carSize, vy: 0 }],
      mode,
      command: t >= reactS && speed > 0 ? -9 : 0,
      lead: t >= 0.3 ? { trackId: 7, range: gap, ttc: speed > 0 ? gap / speed : null } : undefined,
      detections: 1,
      tracks: t >= 0.3 ? [{ id: 7, box: [140, 80, 40, 30], cls: 'car', score: 0.8 }] : [],
      latencyMs: 4,
    });
    if (collidedAt !== undefined && i >= collidedAt + 10) break;
  }
  return {
    spec: { runId, scenarioFile: 'ccrs.xosc', parameters: { v_ego: Math.round(v0 * 3.6) }, paramIndex: 8, seed, conditions, model: 'candidate', modelDir: 'models/candidate' },
    scenario: { name: 'ccrs', category: 'ccrs', sha256: '0'.repeat(64) },
    road: ROAD,
    dt,
    steps,
    ended: 'collision',
  };
}

/** A failed run's failure event as the sim step records it. */
function simFailure(d: SimFailureData, title: string) {
  const collided = d.types.includes('collision');
  return PaddockEvent.parse({ v: 1, type: 'failure', step: 'sim', id: `sim/${d.runId}`, kind: `sim.${d.types[0]}`, severity: collided ? 'critical' : 'major', title, evidence: d.clip ? [{ path: d.clip, note: 'clip' }] : [], data: SimFailureData.parse(d) });
}

const metrics = (over: Record<string, unknown> = {}) => ({ collision: null, ttcMin: 1.2, firstBrake: { t: 1.0, distance: 12 }, vruNearMisses: 0, aeb: 'full', ...over });

beforeAll(() => {
  const t = tempDir();
  cleanup = t.cleanup;
  outDir = join(t.dir, 'sim-out');
  mkdirSync(join(outDir, 'runs'), { recursive: true });
  trace1 = stopTrace('r1', 50 / 3.6, 25, 1.2, { weather: 'rain', timeOfDay: 'night', region: 'south', density: 2 }, 1);
  writeFileSync(join(outDir, 'runs', 'r1.json'), JSON.stringify(trace1));
  const trace5 = stopTrace('r5', 40 / 3.6, 15, 1.0, { weather: 'clear', timeOfDay: 'dusk', region: 'north', density: 1 }, 3);
  writeFileSync(join(outDir, 'runs', 'r5.json'), JSON.stringify(trace5));

  // Three scenarios: ccrs with 9 sets, cpnc with 4, and a long sweep of 40 sets (windowed at 80 columns).
  const cell = (paramIndex: number, model: string, runs: number, failed: number, byType: Record<string, number> = {}) => ({ paramIndex, model, runs, failed, byType });
  const cols = (n: number, name: string) => Array.from({ length: n }, (_, i) => ({ paramIndex: i, label: `${name}=${i}`, parameters: { [name]: i } }));
  heatmap = SimHeatmap.parse({
    format: 'paddock.sim-heatmap/1',
    types: ['collision', 'vru-near-miss', 'offroad', 'speeding', 'lane-departure', 'stop-line'],
    models: ['candidate', 'production'],
    scenarios: [
      {
        scenario: 'ccrs',
        category: 'ccrs',
        file: 'ccrs.xosc',
        columns: Array.from({ length: 9 }, (_, i) => ({ paramIndex: i, label: `v_ego=${10 + 5 * i}`, parameters: { v_ego: 10 + 5 * i } })),
        cells: [
          ...Array.from({ length: 9 }, (_, i) => cell(i, 'candidate', 3, i < 5 ? 0 : i - 5, i >= 6 ? { collision: i - 5 } : i === 5 ? {} : {})),
          ...Array.from({ length: 9 }, (_, i) => cell(i, 'production', 3, i === 8 ? 1 : 0, i === 8 ? { collision: 1 } : {})),
        ].map((c) => (c.paramIndex === 5 && c.model === 'candidate' ? { ...c, failed: 1, byType: { 'lane-departure': 1 } } : c)),
      },
      { scenario: 'cpnc', category: 'cpnc', file: 'cpnc.xosc', columns: cols(4, 'v'), cells: [cell(0, 'candidate', 3, 0), cell(1, 'candidate', 3, 0), cell(2, 'candidate', 3, 1, { 'vru-near-miss': 1 }), cell(3, 'candidate', 3, 2, { collision: 1, 'vru-near-miss': 1 })] },
      { scenario: 'ccrm-long-sweep', category: 'ccrm', file: 'ccrm.xosc', columns: cols(40, 'v'), cells: Array.from({ length: 40 }, (_, i) => cell(i, 'candidate', 2, i === 37 ? 1 : 0, i === 37 ? { speeding: 1 } : {})) },
    ],
  });
  writeFileSync(join(outDir, 'sim_heatmap.json'), JSON.stringify(heatmap));

  store = new RunStore(join(t.dir, 'store'));
  reader = new RunReader(store);
  const text = readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.recipe.yaml'), 'utf8');
  store.createRun({ id: RUN, name: 'demo', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: createHash('sha256').update(text).digest('hex'), lineage: {}, host: 'vm', actor: 'ci@example.com' });
  store.planSteps(RUN, [...makePlan(parseRecipe(text, DEMO_RECIPE)).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind })), { id: 'sim', stage: 'replay', kind: 'step' }]);
  store.startStep(RUN, 'sim', { inputDigest: 'fixture', runner: 'local', host: 'local' });
  const hmBytes = readFileSync(join(outDir, 'sim_heatmap.json'));
  const base = { scenario: 'ccrs', category: 'ccrs', model: 'candidate' };
  const events = [
    PaddockEvent.parse({ v: 1, type: 'artifact', step: 'sim', path: join(outDir, 'sim_heatmap.json'), sha256: createHash('sha256').update(hmBytes).digest('hex'), bytes: hmBytes.length, role: 'sim-heatmap' }),
    simFailure({ ...base, runId: 'r6', paramIndex: 5, parameters: { v_ego: 35 }, seed: 4, conditions: { weather: 'fog', timeOfDay: 'day', region: 'east', density: 0 }, types: ['lane-departure'], severityScore: 1.1, metrics: metrics() }, 'ccrs lane departure'),
    simFailure({ ...base, runId: 'r1', paramIndex: 8, parameters: { v_ego: 50 }, seed: 1, conditions: { weather: 'rain', timeOfDay: 'night', region: 'south', density: 2 }, types: ['collision'], severityScore: 9.5, metrics: metrics({ collision: { t: trace1.steps.find((x) => x.ego.x >= 25)!.t, actor: 'target', actorCls: 'car', relativeSpeed: 4.2, egoSpeed: 4.2 }, ttcMin: 0 }), baseline: { model: 'production', failed: true, types: ['collision'] }, clip: 'clips/r1.gif', trace: 'runs/r1.json', clipFrames: trace1.steps.length, fps: 10 }, 'ccrs v_ego=50 collided with target'),
    simFailure({ ...base, scenario: 'cpnc', category: 'cpnc', runId: 'r2', paramIndex: 2, parameters: { v: 2 }, seed: 3, conditions: { weather: 'clear', timeOfDay: 'dusk', region: 'north', density: 1 }, types: ['vru-near-miss'], severityScore: 4.2, metrics: metrics({ vruNearMisses: 1 }), baseline: { model: 'production', failed: false, types: [] } }, 'cpnc near miss'),
    simFailure({ ...base, runId: 'r3', paramIndex: 6, parameters: { v_ego: 40 }, seed: 2, conditions: { weather: 'snow', timeOfDay: 'night', region: 'north', density: 3 }, types: ['collision'], severityScore: 7.1, metrics: metrics({ collision: { t: 2, actor: 'target', actorCls: 'car', relativeSpeed: 3, egoSpeed: 3 } }) }, 'ccrs v_ego=40 collided'),
    simFailure({ ...base, scenario: 'ccrm-long-sweep', category: 'ccrm', runId: 'r4', paramIndex: 37, parameters: { v: 37 }, seed: 0, conditions: { weather: 'clear', timeOfDay: 'day', region: 'south', density: 1 }, types: ['speeding'], severityScore: 0.8, metrics: metrics() }, 'ccrm speeding'),
    simFailure({ ...base, scenario: 'cpnc', category: 'cpnc', runId: 'r5', paramIndex: 3, parameters: { v: 3, impact: 0.25 }, seed: 3, conditions: { weather: 'clear', timeOfDay: 'dusk', region: 'north', density: 1 }, types: ['collision', 'vru-near-miss'], severityScore: 8, metrics: metrics({ collision: { t: 1.9, actor: 'walker', actorCls: 'pedestrian', relativeSpeed: 5, egoSpeed: 5 } }), baseline: { model: 'production', failed: false, types: [] }, trace: join(outDir, 'runs', 'r5.json') }, 'cpnc hit the pedestrian'),
    // A sim failure whose data is not SimFailureData: counted as unreadable, never listed as a run.
    PaddockEvent.parse({ v: 1, type: 'failure', step: 'sim', id: 'sim/broken', kind: 'sim.collision', severity: 'critical', title: 'broken', data: { runId: 'x' } }),
    PaddockEvent.parse({ v: 1, type: 'failure', step: 'evaluate', id: 'lost/42', kind: 'lost-object', severity: 'major', title: 'lost car 0.91 in frame 42', data: { class: 'car', baseline_score: 0.91 } }),
  ];
  store.appendEvents(RUN, events.map((event) => ({ event, attempt: 1 })));
  store.finishStep(RUN, 'sim', 'succeeded');
  store.finishRun(RUN, 'succeeded', 0);
});
afterAll(() => {
  store.close();
  cleanup();
});

interface SetupOptions {
  columns?: number;
  rows?: number;
  color?: boolean;
  unicode?: boolean;
  depth?: ColorDepth;
  frameHz?: number;
}

function setup(opts: SetupOptions = {}) {
  const size = { columns: opts.columns ?? 80, rows: opts.rows ?? 24 };
  const app = render(<Workbench reader={reader} actor={ACTOR} theme={makeTheme(opts.color ?? true, opts.unicode ?? true)} depth={opts.depth ?? 'truecolor'} size={size} initialRun={RUN} initialScreen="runs" frameHz={opts.frameHz} onQuit={() => undefined} />);
  const raw = () => app.lastFrame() ?? '';
  const frame = () => raw().replace(ANSI, '');
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      app.stdin.write(k);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const see = (what: RegExp | string, timeoutMs?: number) => waitFor(() => (typeof what === 'string' ? frame().includes(what) : what.test(frame())), `${what} in:\n${frame()}`, timeoutMs);
  return { app, frame, raw, press, see, size };
}

function fits(frame: string, columns: number, rows: number) {
  const lines = frame.split('\n');
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
}

const reviews = (failureId: string) => store.db.prepare('SELECT * FROM failure_reviews WHERE run_id = ? AND failure_id = ? ORDER BY id').all(RUN, failureId) as FailureReviewRow[];
const line = (frame: string, start: string) => frame.split('\n').find((l) => l.trimStart().startsWith(start)) ?? '';

/** Shows the sim screen with `9` (as a person would, from the run list) and waits for it. */
async function open(s: ReturnType<typeof setup>) {
  await s.press('9');
  await s.see(/SIM 6 failed runs of \d+/);
}

describe('the pure parts', () => {
  it('grades a cell by the share of its runs that failed, and brackets the selected cell', () => {
    expect([heatLevel(0, 0), heatLevel(0, 3), heatLevel(1, 3), heatLevel(2, 3), heatLevel(3, 4), heatLevel(3, 3)]).toEqual([null, 0, 1, 2, 3, 4]);
    expect([0, 1, 2, 3, 4].map((l) => heatGlyph(l as 0, false)).join('')).toBe('.-+*#');
    const h = heatmapLines(heatmap, { model: 'candidate', selected: { scenario: 'ccrs', paramIndex: 8 }, width: 80, rows: 5, unicode: true });
    // ccrs candidate: sets 0-4 none failed, 5 one of 3, 6-8 one, two, three of 3.
    expect(h.rows[0].segments.map((s) => s.text).join('')).toBe('> ccrs         · · · · · ░ ░ ▒[█]');
    expect(h.cell).toBe('ccrs set 8 v_ego=50: 3 of 3 runs failed (collision 3)');
    // Only the collisions: set 5's lane departure counts no more.
    const c = heatmapLines(heatmap, { model: 'candidate', type: 'collision', selected: { scenario: 'ccrs', paramIndex: 5 }, width: 80, rows: 5, unicode: false });
    expect(c.rows[0].segments.map((s) => s.text).join('')).toBe('> ccrs         . . . . .[.]- + #');
    // 40 sets do not fit in 80 columns: the window is around the selected set.
    const w = heatmapLines(heatmap, { model: 'candidate', selected: { scenario: 'ccrm-long-sweep', paramIndex: 37 }, width: 80, rows: 5, unicode: false });
    expect(w.cut).toBe('sets 8-39 of 40');
    expect(w.rows[2].segments.map((s) => s.text).join('')).toMatch(/^> ccrm-long-s~ (\. ){28}\.\[\+\]\. \.$/);
    expect(w.head).toMatch(/^ {2}sets +10 {8}15/);
  });

  it('prefills the data request from the conditions, the actor class and the scenario', () => {
    const d = reader.detail(RUN, { replay: false })!.failures.find((f) => f.id === 'sim/r5')!.data as SimFailureData;
    expect(dataRequestDraft(d)).toBe('mine: pedestrian in clear/dusk/north, scenario cpnc, params v=3 impact=0.25 (collision, vru-near-miss; production ok)');
    const r6 = reader.detail(RUN, { replay: false })!.failures.find((f) => f.id === 'sim/r6')!.data as SimFailureData;
    // No collision: the class of the nearest actor of the trace.
    expect(dataRequestDraft(r6, trace1)).toMatch(/^mine: car in fog\/day\/east, scenario ccrs, params v_ego=35 \(lane-departure\)$/);
  });

  it('re-renders a clip frame from the trace where the pinhole camera puts the car ahead, its track boxed too', async () => {
    // Step 0: the target's rear face 25 m ahead of the camera (on the ego's front face), 1.8 m wide, 1.5 m high, on the ego's centre line.
    const f0 = await renderClipFrame(trace1, 0);
    expect(f0.img.width).toBe(320);
    expect(f0.boxes).toHaveLength(1);
    const [x, y, w, h] = f0.boxes[0].bbox;
    expect(f0.boxes[0].rgb).toEqual(CLIP_RGB.gt);
    expect(w).toBeCloseTo((CAMERA.fx * 1.8) / 25, 0);
    expect(h).toBeCloseTo((CAMERA.fy * 1.5) / 25, 0);
    expect(x + w / 2).toBeCloseTo(CAMERA.cx, 0);
    expect(y + h).toBeCloseTo(CAMERA.cy + (CAMERA.fy * CAMERA.mountHeight) / 25, 0);
    // Step 10 (t 1.0 s, 13.9 m driven): nearer, larger; the planner's track drawn beside the truth.
    const f10 = await renderClipFrame(trace1, 10);
    expect(f10.boxes[0].bbox[2]).toBeCloseTo((CAMERA.fx * 1.8) / (25 - (50 / 3.6) * 1.0), 0);
    expect(f10.boxes[1]).toEqual({ bbox: [140, 80, 40, 30], rgb: CLIP_RGB.track });
    await expect(renderClipFrame(trace1, 999)).rejects.toThrow(/no step 999 \(it has \d+\)/);
  });

  it("strips the planner's modes with the collision's step", () => {
    expect(modeStrip(['cruise', 'cruise', 'aeb-warn', 'aeb-full', 'aeb-full', 'stopped'], 4, 2, 80, false)).toEqual({ strip: '..wBX_', caret: '  ^' });
    expect(modeStrip(['cruise', 'follow', 'aeb-full', 'stopped'], undefined, 3, 2, true)).toEqual({ strip: '-B', caret: ' ^' });
    // The fixture's closed form: contact when the braking distance runs out (25 m gap at 50 km/h after 1.2 s).
    const r = readSimTrace(join(outDir, 'runs', 'r1.json'));
    if (!('trace' in r)) throw new Error(r.error);
    const hit = r.trace.steps.findIndex((s) => s.ego.x >= 25);
    expect(r.trace.steps[hit].t).toBeGreaterThan(1.2 + (25 - (50 / 3.6) * 1.2 - 0) / (50 / 3.6) - 0.1);
    expect(readSimTrace(join(outDir, 'nope.json'))).toEqual({ error: expect.stringMatching(/^cannot read .*nope\.json: ENOENT/) });
  });
});

describe('the sim screen', () => {
  it('at 80x24: the heat map with the worst run bracketed, the runs by severity, its facts; never more than rows - 1 lines', async () => {
    const s = setup();
    await open(s);
    const f = s.frame();
    fits(f, 80, 24);
    expect(f).toMatch(/SIM 6 failed runs of 119 · candidate · any violation · 1 unreadable/);
    expect(f).toContain('> ccrs         · · · · · ░ ░ ▒[█]');
    expect(f).toContain('  cpnc         · · ░ ▒');
    expect(f).toContain('ccrs set 8 v_ego=50: 3 of 3 runs failed (collision 3)');
    expect(f).toContain("· none  ░ ≤1/3  ▒ ≤2/3  ▓ more  █ all of a set's runs failed  [ ] selected");
    // The failed runs, worst first, each with its scenario, set, seed, conditions, types and production.
    const order = f.split('\n').filter((l) => /^[> ] {2}\s*\d+\.\d\d /.test(l)).map((l) => l.replace(/^> /, '').trim());
    expect(order.map((l) => l.split(/\s+/)[0])).toEqual(['9.50', '8.00', '7.10', '4.20', '1.10', '0.80']);
    expect(f).toMatch(/> +9\.50 ccrs +#8 +s1 +rain\/night\/south +collision +production too/);
    expect(f).toMatch(/8\.00 cpnc +#3 +s3 +clear\/dusk\/north +collision,vru-n\S* +production ok/);
    expect(f).toContain('CRITICAL sim.collision  ccrs (ccrs) set #8 v_ego=50 · seed 1 · candidate');
    expect(f).toContain('conditions rain/night/south density 2 · collision · production failed too');
    expect(f).toMatch(/collision with car at 4\.2 m\/s \(t \d\.\d\d s\) · TTC min 0\.00 s/);
    expect(f).toContain('not reviewed (r) · not filed (d)');
    // The footer: the screen's keys first.
    expect(line(f, 'Enter clip')).toMatch(/Enter clip · Space play · h\/l frame · r reviewed · d file/);
    s.app.unmount();
  });

  it('j/k and n/N move the bracket over the heat map with the run; a filter shows one violation type', async () => {
    const s = setup();
    await open(s);
    await s.press('j');
    await s.see('> cpnc         · · ░[▒]');
    expect(s.frame()).toContain('cpnc set 3 v=3: 2 of 3 runs failed (collision 1, vru-near-miss 1)');
    expect(s.frame()).toContain('  ccrs         · · · · · ░ ░ ▒ █');
    await s.press('n', 'n', 'n', 'n');
    await s.see(/> +0\.80 ccrm/);
    // The long sweep's row is windowed around set 37.
    expect(s.frame()).toMatch(/> ccrm-long-s… (· ){28}·\[▒\]· ·/);
    expect(s.frame()).toContain('ccrm-long-sweep set 37 v=37: 1 of 2 runs failed (speeding 1) · sets 8-39 of 40');
    await s.press('N');
    await s.see(/> +1\.10 ccrs +#5/);
    await s.press('/', ...'type=collision', KEYS.enter);
    await s.see(/SIM 3 of 6 failed runs of 119 · candidate · with collision/);
    expect(s.frame()).toContain("all of a set's runs with collision");
    // Set 5's lane departure is no collision: the cell shows none.
    expect(s.frame()).toMatch(/> ccrs +· · · · · · ░ ▒\[█\]/);
    s.app.unmount();
  });

  it('Enter plays the clip: the frame re-rendered from the trace, the ego facts, the mode strip; h/l, L/H step; Esc goes back', async () => {
    const s = setup();
    await open(s);
    await s.press(KEYS.enter);
    await s.see('SIM CLIP 1/6 ─ ccrs #8 seed 1 ─ collision ─ frame 1/');
    await waitFor(() => !s.frame().includes('rendering frame'), 'the first frame drawn');
    let f = s.frame();
    fits(f, 80, 24);
    const n = trace1.steps.length;
    expect(f).toContain(`frame 1/${n} t 0.00 s`);
    expect(f).toContain('ego 50.0 km/h');
    expect(f).toContain('mode cruise');
    expect(f).toContain('target car +25.0 m');
    // The frame: 53 cells of half blocks in 16 rows, the target's ground truth boxed green; the tracks (cyan) from step 3 on.
    const halfBlocks = () => s.frame().split('\n').filter((l) => (l.match(/▀/g) ?? []).length >= 53);
    expect(halfBlocks().length).toBe(16);
    expect(s.raw()).toContain('38;2;40;255;80m');
    expect(s.raw()).not.toContain('38;2;0;200;255m');
    const first = s.raw();
    await s.press('l');
    await s.see(`frame 2/${n} t 0.10 s`);
    await waitFor(() => !s.frame().includes('rendering frame') && s.raw() !== first, 'frame 2 drawn');
    await s.press('l', 'l', 'l');
    await s.see(`frame 5/${n} t 0.40 s`);
    await waitFor(() => s.raw().includes('38;2;0;200;255m'), 'the track drawn');
    expect(s.frame()).toContain('lead #7 ');
    await s.press('L');
    await s.see(`frame ${n}/${n}`);
    f = s.frame();
    expect(f).toContain('mode stopped');
    expect(f).toContain('ego 0.0 km/h');
    expect(line(f, 'modes')).toMatch(/^modes ·+w+B+X_+$/);
    expect(f.split('\n').find((l) => l.trim() === '^')?.indexOf('^')).toBe('modes '.length + n - 1);
    await s.press('l');
    await s.see('the last frame of the segment');
    await s.press('H');
    await s.see(`frame 1/${n}`);
    await s.press(KEYS.escape);
    await s.see(/SIM 6 failed runs/);
    fits(s.frame(), 80, 24);
    s.app.unmount();
  });

  it('Space plays the clip at the capped rate to its end, and pauses', async () => {
    const s = setup({ frameHz: 20 });
    await open(s);
    await s.press('j', KEYS.enter);
    await s.see('SIM CLIP 2/6 ─ cpnc #3 seed 3');
    const n = (readSimTrace(join(outDir, 'runs', 'r5.json')) as { trace: SimRunTrace }).trace.steps.length;
    await s.press(KEYS.space);
    await s.see('▶ playing 10 Hz');
    await s.see(`frame 3/${n}`, 5000);
    await s.see(`frame ${n}/${n}`, 10_000);
    await s.see('❚❚ paused');
    s.app.unmount();
  });

  it('r marks the run reviewed, i adds a note, d files the prefilled data request as edited; all in SQLite with who and when', async () => {
    const s = setup();
    await open(s);
    await s.press('j');
    await s.see(/> +8\.00 cpnc/);
    await s.press('r');
    await s.see(`sim/r5 marked reviewed by ${ACTOR}`);
    expect(reviews('sim/r5').map((r) => [r.action, r.actor, r.note])).toEqual([['reviewed', ACTOR, null]]);
    await s.press('k');
    await s.see(/> ✔ +8\.00 cpnc/);
    await s.press('i', ...'pedestrian hidden by the parked van', KEYS.enter);
    await s.see('note added to sim/r5');
    await s.see(/note by ana@example\.com at \d{4}-\d\d-\d\d \d\d:\d\d: pedestrian hidden by the parked van/);
    await s.press('d');
    await s.see('; production ok)▏  (Enter files, Esc cancels)');
    // The person edits it: the last words go, others come.
    await s.press(KEYS.ctrlW, KEYS.ctrlW, KEYS.ctrlW, KEYS.ctrlW, ...'at dusk near parked vans', KEYS.enter);
    await s.see('sim/r5 filed for data mining by ana@example.com');
    const filed = reviews('sim/r5').at(-1)!;
    expect(filed.action).toBe('filed');
    expect(filed.actor).toBe(ACTOR);
    expect(filed.note).toBe('mine: pedestrian in clear/dusk/north, scenario cpnc, params v=3 impact=0.25 at dusk near parked vans');
    expect(Math.abs(filed.at - Date.now())).toBeLessThan(60_000);
    await s.see(/> ⚑ +8\.00 cpnc/);
    await s.see('reviewed · filed by ana@example.com: mine: pedestrian');
    s.app.unmount();
  });

  it('at 160x48: more scenarios and runs, the whole list, a larger clip frame', async () => {
    const s = setup({ columns: 160, rows: 48 });
    await open(s);
    let f = s.frame();
    fits(f, 160, 48);
    // 40 sets fit in 160 columns: no window.
    expect(f).toMatch(/ ccrm-long-s… (· ){37}▒ · ·/);
    expect(f).not.toContain('sets 8-39 of 40');
    for (const score of ['9.50', '8.00', '7.10', '4.20', '1.10', '0.80']) expect(f).toContain(` ${score} `);
    await s.press(KEYS.enter);
    await waitFor(() => s.frame().includes('SIM CLIP 1/6') && !s.frame().includes('rendering frame'), 'the clip drawn');
    f = s.frame();
    fits(f, 160, 48);
    const wide = f.split('\n').filter((l) => (l.match(/▀/g) ?? []).length >= 100);
    expect(wide.length).toBeGreaterThanOrEqual(36);
    expect(wide[0]).toMatch(/▀ {2}ego 50\.0 km\/h$/);
    s.app.unmount();
  });

  it('in monochrome ASCII (NO_COLOR, TERM=dumb): no escapes, ASCII glyphs and markers, and it fits', async () => {
    const s = setup({ color: false, unicode: false, depth: 'mono' });
    await open(s);
    let f = s.frame();
    expect(s.raw()).not.toMatch(/\x1b\[[34]8;/);
    fits(f, 80, 24);
    expect(f).not.toMatch(/[·░▒▓█─…▀✔⚑]/);
    expect(f).toContain('> ccrs         . . . . . - - +[#]');
    expect(f).toContain(". none  - <=1/3  + <=2/3  * more  # all of a set's runs failed  [ ] selected");
    expect(f).toMatch(/> +9\.50 ccrs/);
    await s.press(KEYS.enter);
    await waitFor(() => s.frame().includes('SIM CLIP 1/6 - ccrs') && !s.frame().includes('rendering frame'), 'the clip drawn');
    f = s.frame();
    fits(f, 80, 24);
    expect(f).toContain('|| paused');
    expect(line(f, 'modes')).toMatch(/^modes \.+w+B+X_+/);
    s.app.unmount();
  });

  it('the help and the footer come from the one binding table', () => {
    const help = helpLines('sim', 'sim').join('\n');
    expect(help).toMatch(/d +file a data request.*\(sim\)/);
    expect(help).toMatch(/Space +play or pause the clip \(sim\)/);
    expect(help).toMatch(/9 +sim/);
    expect(footerHints('normal', 'sim', true, 80)).toMatch(/^Enter clip · Space play · h\/l frame · r reviewed · d file/);
  });

  it('says why when the run has no heat map or no sim failures', async () => {
    const s = setup();
    await s.press('9');
    await s.see('SIM');
    s.app.unmount();
    const d = reader.detail(RUN, { replay: false })!;
    expect(d.artifacts.find((a) => a.role === 'sim-heatmap')?.path).toBe(join(outDir, 'sim_heatmap.json'));
  });
});
