/**
 * The simulation screen's pure parts besides the heat map (sim-heatmap.ts): which failures are
 * failed sim runs (kind `sim.*`, data SimFailureData) and their order by severity, the filter
 * words, the list's cells, the data request a filing starts from, and per clip frame what the
 * ego did (speed, planner mode, the lead and its TTC) and the strip of planner modes.
 * Data in, strings out; no I/O.
 */
import { isAbsolute, join } from 'node:path';
import { SimFailureData } from '../src/schema/sim-report.js';
import type { FailureItem } from '../src/live/run-reader.js';
import type { PlannerMode, SimRunTrace, TraceStep } from '../src/schema/sim-types.js';

/** The failure kinds the sim step gives a failed run start with this. */
export const SIM_KIND_PREFIX = 'sim.';

/** A failed run as the screen lists it: the failure, and its data read through the schema. */
export interface SimRun {
  item: FailureItem;
  data: SimFailureData;
}

/** Which failed runs to show: a violation type, a scenario or category (or their start), a model, words of the id or title. */
export interface SimFilter {
  type?: string;
  scenario?: string;
  model?: string;
  text?: string;
}

/** Parses "type=collision scenario=ccr model=candidate words" into a filter. */
export function parseSimFilter(s: string): SimFilter {
  const f: SimFilter = {};
  const words: string[] = [];
  for (const tok of s.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(type|scenario|model)=(.+)$/.exec(tok);
    if (m) f[m[1] as 'type' | 'scenario' | 'model'] = m[2];
    else words.push(tok);
  }
  if (words.length) f.text = words.join(' ');
  return f;
}

/** The run's failed sim runs whose data the schema reads, and how many `sim.*` failures it does not (shown, never dropped silently). */
export function simRuns(failures: readonly FailureItem[]): { runs: SimRun[]; unreadable: string[] } {
  const runs: SimRun[] = [];
  const unreadable: string[] = [];
  for (const item of failures) {
    if (!item.kind.startsWith(SIM_KIND_PREFIX)) continue;
    const parsed = SimFailureData.safeParse(item.data);
    if (parsed.success) runs.push({ item, data: parsed.data });
    else unreadable.push(`${item.id}: ${parsed.error.issues[0]?.path.join('.') || '(data)'}: ${parsed.error.issues[0]?.message}`);
  }
  return { runs, unreadable };
}

/** Failed runs matching `filter`, worst first (severityScore, highest first), ties by id; `reversed` turns the order round. */
export function arrangeSimRuns(runs: readonly SimRun[], filter: SimFilter, reversed = false): SimRun[] {
  const out = runs
    .filter((r) => !filter.type || r.data.types.includes(filter.type))
    .filter((r) => !filter.scenario || r.data.scenario.startsWith(filter.scenario) || r.data.category.startsWith(filter.scenario))
    .filter((r) => !filter.model || r.data.model === filter.model)
    .filter((r) => !filter.text || r.item.id.includes(filter.text) || r.item.title.toLowerCase().includes(filter.text.toLowerCase()))
    .sort((a, b) => b.data.severityScore - a.data.severityScore || a.item.id.localeCompare(b.item.id));
  return reversed ? out.reverse() : out;
}

/** A parameter set in a few words: "v_ego=30 gap=12". */
export function formatParameters(p: SimFailureData['parameters']): string {
  const entries = Object.entries(p);
  return entries.length ? entries.map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(3) : v}`).join(' ') : '(defaults)';
}

/** "rain/night/south", the density after it when asked: "rain/night/south d2". */
export function formatConditions(c: SimFailureData['conditions'], density = false): string {
  return `${c.weather}/${c.timeOfDay}/${c.region}${density ? ` d${c.density}` : ''}`;
}

/** Whether production failed the same run: "prod too", "prod ok", or "-" where the sweep did not run it. */
export function baselineWord(d: SimFailureData): string {
  if (!d.baseline) return '-';
  return d.baseline.failed ? `${d.baseline.model} too` : `${d.baseline.model} ok`;
}

/** The list's cells of a run: review mark, score, scenario, set, seed, conditions, types, production. */
export function simRunCells(r: SimRun, unicode: boolean): string[] {
  const mark = r.item.filed ? (unicode ? '⚑' : 'F') : r.item.reviewed ? (unicode ? '✔' : '+') : ' ';
  const d = r.data;
  return [mark, d.severityScore.toFixed(2), d.scenario, `#${d.paramIndex}`, `s${d.seed}`, formatConditions(d.conditions), d.types.join(','), baselineWord(d)];
}

/** The collision's actor class, when the run's metrics record one. */
function collisionClass(d: SimFailureData): string | undefined {
  const c = d.metrics.collision as { actorCls?: unknown } | null | undefined;
  return c && typeof c.actorCls === 'string' ? c.actorCls : undefined;
}

/**
 * The class of the actor the run is about: the one the ego hit; else, from the trace, the
 * nearest actor the ego came to; else the scenario's first actor; "object" without a trace.
 */
export function actorClassOf(d: SimFailureData, trace?: Pick<SimRunTrace, 'steps'>): string {
  const hit = collisionClass(d);
  if (hit) return hit;
  let best: { cls: string; gap: number } | undefined;
  for (const s of trace?.steps ?? []) {
    for (const a of s.actors) {
      const gap = Math.hypot(a.x - s.ego.x, a.y - s.ego.y);
      if (!best || gap < best.gap) best = { cls: a.cls, gap };
    }
  }
  return best?.cls ?? 'object';
}

/**
 * The data request a filing starts from, which the person edits before it is recorded: the slice
 * and conditions to mine. "mine: pedestrian in rain/night/south, scenario cpnc, params v_ego=40 impact=0.25 (collision; production ok)".
 */
export function dataRequestDraft(d: SimFailureData, trace?: Pick<SimRunTrace, 'steps'>): string {
  const prod = d.baseline ? `; ${baselineWord(d).replace(' too', ' failed too')}` : '';
  return `mine: ${actorClassOf(d, trace)} in ${formatConditions(d.conditions)}, scenario ${d.category}, params ${formatParameters(d.parameters)} (${d.types.join(', ')}${prod})`;
}

/** A path of the failure's data: as it is when absolute, else under the sim step's out folder (where sim_heatmap.json is), when known. */
export function resolveSimPath(path: string | undefined, outDir: string | undefined): string | undefined {
  if (!path) return undefined;
  return isAbsolute(path) || !outDir ? path : join(outDir, path);
}

/** The run's figures in a line: "collision with pedestrian at 6.1 m/s · TTC min 0.00 s · first brake 1.20 s at 9.8 m · AEB full". */
export function metricsLine(d: SimFailureData, sep: string): string {
  const m = d.metrics as Record<string, unknown>;
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
  const parts: string[] = [];
  const c = m.collision as { actorCls?: unknown; relativeSpeed?: unknown; t?: unknown } | null | undefined;
  if (c) parts.push(`collision with ${typeof c.actorCls === 'string' ? c.actorCls : '?'}${num(c.relativeSpeed) !== undefined ? ` at ${num(c.relativeSpeed)!.toFixed(1)} m/s` : ''}${num(c.t) !== undefined ? ` (t ${num(c.t)!.toFixed(2)} s)` : ''}`);
  if ('ttcMin' in m) parts.push(`TTC min ${num(m.ttcMin) !== undefined ? `${num(m.ttcMin)!.toFixed(2)} s` : 'none'}`);
  const fb = m.firstBrake as { t?: unknown; distance?: unknown } | null | undefined;
  if ('firstBrake' in m) parts.push(fb && num(fb.t) !== undefined ? `first brake ${num(fb.t)!.toFixed(2)} s${num(fb.distance) !== undefined ? ` at ${num(fb.distance)!.toFixed(1)} m` : ''}` : 'never braked');
  if (num(m.vruNearMisses)) parts.push(`VRU near misses ${m.vruNearMisses}`);
  if (typeof m.aeb === 'string') parts.push(`AEB ${m.aeb}`);
  return parts.join(sep);
}

/** One glyph per planner mode for the clip's strip (ASCII in brackets): cruise · (.), follow - , warn w, partial b, full B, stopped _ ; the collision's step X. */
const MODE_GLYPHS: Record<PlannerMode, [string, string]> = {
  cruise: ['·', '.'],
  follow: ['-', '-'],
  'aeb-warn': ['w', 'w'],
  'aeb-partial': ['b', 'b'],
  'aeb-full': ['B', 'B'],
  stopped: ['_', '_'],
};
const MODE_RANK: Record<PlannerMode, number> = { cruise: 0, stopped: 1, follow: 2, 'aeb-warn': 3, 'aeb-partial': 4, 'aeb-full': 5 };

/** The strip's legend: "· cruise  - follow  w warn  b partial  B full AEB  _ stopped  X collision". */
export function modeLegend(unicode: boolean): string {
  return `${unicode ? '·' : '.'} cruise  - follow  w warn  b partial  B full AEB  _ stopped  X collision`;
}

/**
 * The planner's mode along the clip in at most `width` columns (several steps a glyph when the
 * clip is longer: the most severe mode shows; the collision's step shows X), and a caret line
 * under the frame shown: "···--wbBBX__" over "     ^".
 */
export function modeStrip(modes: readonly PlannerMode[], collisionStep: number | undefined, current: number, width: number, unicode: boolean): { strip: string; caret: string } {
  const per = Math.max(1, Math.ceil(modes.length / Math.max(1, width)));
  let strip = '';
  for (let i = 0; i < modes.length; i += per) {
    if (collisionStep !== undefined && collisionStep >= i && collisionStep < i + per) {
      strip += 'X';
      continue;
    }
    const worst = modes.slice(i, i + per).reduce((w, m) => (MODE_RANK[m] > MODE_RANK[w] ? m : w), modes[i]);
    strip += MODE_GLYPHS[worst][unicode ? 0 : 1];
  }
  const at = Math.floor(Math.max(0, Math.min(current, modes.length - 1)) / per);
  return { strip, caret: `${' '.repeat(at)}^` };
}

/** The step of the trace where the collision happened (the first at or after its time), if the run collided. */
export function collisionStepOf(d: SimFailureData, trace: Pick<SimRunTrace, 'steps'>): number | undefined {
  const c = d.metrics.collision as { t?: unknown } | null | undefined;
  if (!c || typeof c.t !== 'number') return undefined;
  const i = trace.steps.findIndex((s) => s.t >= (c.t as number) - 1e-9);
  return i >= 0 ? i : undefined;
}

/**
 * What the ego did at a step, as the lines beside the clip: its speed, the planner's mode and
 * command, the lead it reacted to with range and TTC, the tracks, then each actor's gap ahead.
 * ["ego 28.4 km/h", "mode aeb-full", "cmd -9.00 m/s2", "lead #3 12.1 m", "TTC 1.40 s", "tracks 2 dets 3", "target car +12.3 m"]
 */
export function stepFacts(step: TraceStep, unicode: boolean): string[] {
  const sq = unicode ? 'm/s²' : 'm/s2';
  const lines = [`ego ${(step.ego.speed * 3.6).toFixed(1)} km/h`, `mode ${step.mode}`, `cmd ${step.command.toFixed(2)} ${sq}`];
  if (step.lead) lines.push(`lead #${step.lead.trackId} ${step.lead.range.toFixed(1)} m`, `TTC ${step.lead.ttc === null ? 'none' : `${step.lead.ttc.toFixed(2)} s`}`);
  else lines.push('no lead');
  lines.push(`tracks ${step.tracks.length} dets ${step.detections}`);
  for (const a of step.actors) {
    const dx = a.x - step.ego.x - (a.size[0] + step.ego.size[0]) / 2;
    lines.push(`${a.name} ${a.cls} ${dx >= 0 ? '+' : ''}${dx.toFixed(1)} m`);
  }
  return lines;
}
