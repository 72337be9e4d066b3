/**
 * CARLA's own results read into paddock's terms (docs/carla.md): Leaderboard 1.0, 2.0 and 2.1
 * results/checkpoint files (`--checkpoint`, simulation_results.json) and ScenarioRunner's outputs
 * (the `--json` report and the `--record` criteria dump).
 *
 * A Leaderboard file does not say which scoring code wrote it: 2.0 and 2.1 write the same JSON
 * shape with different penalty formulas. So each route's penalty is recomputed from the file's
 * own infraction lists under every known regime, and the regime is the one that reproduces the
 * file's numbers (to the file's rounding); a file no regime reproduces is reported so, plainly.
 * The regimes, from carla-simulator/leaderboard's statistics_manager.py on each branch:
 *
 *   lb1                  (leaderboard-1.0)  penalty = prod p_j^n_j x prod (1 - outside%/100)
 *                        p: pedestrian 0.5, vehicle 0.6, layout 0.65, red light 0.7, stop 0.8
 *   lb2.0                (leaderboard-2.0)  as lb1, plus scenario timeout 0.7, yield to EV 0.7 and
 *                        per min-speed checkpoint (1 - 0.3 (1 - speed%/100))
 *   lb2.1                (leaderboard-2.1)  penalty = prod (1 - outside%/100) / (1 + sum c_j n_j + sum 0.4 (1 - speed%/100))
 *                        c: pedestrian 1.0, vehicle 0.7, layout 0.6, red light 0.4, stop 0.25,
 *                        scenario timeout 0.4, yield to EV 0.4
 *   prerelease-2020      (commit b0cfc77, 2020-02-19, before 1.0 shipped) every collision 0.8,
 *                        red light and stop 0.95, outside lanes as lb1
 *   bench2drive          (Thinklab-SJTU/Bench2Drive's 2.0 fork) lb2.0 with min speed recorded, never penalised
 *
 * The regime is chosen among those that could have written the file's shape (a 2.x file: lb2.0,
 * lb2.1, bench2drive); every table that reproduces the numbers is listed besides.
 *
 * driving score = route completion x penalty, for every regime.
 */
import { z } from 'zod';
import { InputError } from '../files/input-error.js';
import { locateInText } from '../schema/recipe-load.js';
import type { RunMetrics, SimClass } from '../schema/sim-types.js';

/** The scoring code that produced a Leaderboard file. */
export type CarlaRegime = 'lb1' | 'lb2.0' | 'lb2.1' | 'prerelease-2020' | 'bench2drive';

/** What kind of file it is, from its shape (which code family wrote it). */
export type CarlaFormat = 'leaderboard-1.0' | 'leaderboard-2.x' | 'leaderboard-prerelease-2020' | 'scenario-runner-json' | 'scenario-runner-criteria';

/** The infraction lists a Leaderboard record may carry, by their current upstream names. */
export const INFRACTION_KEYS = [
  'collisions_pedestrian',
  'collisions_vehicle',
  'collisions_layout',
  'red_light',
  'stop_infraction',
  'outside_route_lanes',
  'route_dev',
  'route_timeout',
  'vehicle_blocked',
  'min_speed_infractions',
  'yield_emergency_vehicle_infractions',
  'scenario_timeouts',
] as const;
export type InfractionKey = (typeof INFRACTION_KEYS)[number];

/**
 * Older spellings accepted for the current key: upstream renamed the plural in leaderboard commit
 * 0c009ea (2023-06-21, "Change yield to ev name"); files written before it (the palma-or sample) use it.
 */
export const INFRACTION_ALIASES: Readonly<Record<string, InfractionKey>> = {
  yield_emergency_vehicles_infractions: 'yield_emergency_vehicle_infractions',
};

interface RegimeTable {
  /** How fixed penalties combine: multiplied (p^n) or summed into 1 / (1 + sum). */
  combine: 'multiplicative' | 'additive';
  fixed: Partial<Record<InfractionKey, number>>;
  /** Weight of a min-speed checkpoint at speed% of the traffic: lb2.0 multiplies by 1 - w (1 - speed%/100), lb2.1 adds w (1 - speed%/100); null: not scored. */
  minSpeed: number | null;
  source: string;
}

/** The coefficient tables, as each branch of carla-simulator/leaderboard defines them. */
export const REGIMES: Readonly<Record<CarlaRegime, RegimeTable>> = {
  lb1: {
    combine: 'multiplicative',
    fixed: { collisions_pedestrian: 0.5, collisions_vehicle: 0.6, collisions_layout: 0.65, red_light: 0.7, stop_infraction: 0.8 },
    minSpeed: null,
    source: 'leaderboard-1.0 statistics_manager.py',
  },
  'lb2.0': {
    combine: 'multiplicative',
    fixed: { collisions_pedestrian: 0.5, collisions_vehicle: 0.6, collisions_layout: 0.65, red_light: 0.7, stop_infraction: 0.8, scenario_timeouts: 0.7, yield_emergency_vehicle_infractions: 0.7 },
    minSpeed: 0.3,
    source: 'leaderboard-2.0 statistics_manager.py (PENALTY_VALUE_DICT, PENALTY_PERC_DICT)',
  },
  'lb2.1': {
    combine: 'additive',
    fixed: { collisions_pedestrian: 1.0, collisions_vehicle: 0.7, collisions_layout: 0.6, red_light: 0.4, stop_infraction: 0.25, scenario_timeouts: 0.4, yield_emergency_vehicle_infractions: 0.4 },
    minSpeed: 0.4,
    source: 'leaderboard-2.1 statistics_manager.py (additive, 1 / (1 + sum))',
  },
  bench2drive: {
    combine: 'multiplicative',
    fixed: { collisions_pedestrian: 0.5, collisions_vehicle: 0.6, collisions_layout: 0.65, red_light: 0.7, stop_infraction: 0.8, scenario_timeouts: 0.7, yield_emergency_vehicle_infractions: 0.7 },
    minSpeed: null,
    source: "Thinklab-SJTU/Bench2Drive's fork of leaderboard 2.0 (MIN_SPEED_INFRACTION marked 'unused': recorded, never penalised)",
  },
  'prerelease-2020': {
    combine: 'multiplicative',
    fixed: { collisions_pedestrian: 0.8, collisions_vehicle: 0.8, collisions_layout: 0.8, red_light: 0.95, stop_infraction: 0.95 },
    minSpeed: null,
    source: 'leaderboard commit b0cfc77 (2020-02-19), before the 1.0 release',
  },
};

/** A percentage read from an infraction message, with the half-width of its printed rounding. */
interface Percent {
  value: number;
  halfUnit: number;
}

/** One route (x repetition) of a Leaderboard file, as written and as recomputed. */
export interface CarlaRoute {
  index: number;
  routeId: string;
  status: string;
  /** Every list under its current key (aliases folded in). */
  infractions: Record<InfractionKey, string[]>;
  scores: { route: number; penalty: number; composed: number };
  routeLengthM: number | null;
  durationGameS: number | null;
  /** Outside-route-lanes: metres and percentage from its message (null: none). */
  outsideLanes: { metres: number; percent: number } | null;
  /** Min-speed checkpoints: the ego's speed as a percentage of the traffic's, each. */
  minSpeedPercents: number[];
  /** The penalty each regime gives this route's infractions, with the interval the messages' rounding allows. */
  recomputed: Record<CarlaRegime, { penalty: number; lo: number; hi: number; composed: number; ok: boolean }>;
}

/** One comparison of a recomputed number with the file's. */
export interface CarlaCheck {
  what: string;
  file: number;
  recomputed: number;
  tolerance: number;
  ok: boolean;
}

/** A Leaderboard file read, its regime found and its numbers recomputed. */
export interface LeaderboardResults {
  kind: 'leaderboard';
  file: string;
  format: Exclude<CarlaFormat, 'scenario-runner-json' | 'scenario-runner-criteria'>;
  /** The regime that reproduces every route's penalty; null when none does (see `regimeNote`). */
  regime: CarlaRegime | null;
  /** Every regime that reproduces it (several when no route has a penalised infraction). */
  reproducedBy: CarlaRegime[];
  regimeNote: string;
  entryStatus: string | null;
  eligible: boolean | null;
  progress: [number, number] | null;
  routes: CarlaRoute[];
  global: { scores: { route: number; penalty: number; composed: number }; infractions: Record<string, number> } | null;
  /** Route composed = route x penalty, the global means and per-km rates, the values array: each against the file. */
  checks: CarlaCheck[];
  /** Spelling drift folded in, keys not known (kept, not scored): said, never silent. */
  notes: string[];
}

/** One ScenarioRunner criterion. */
export interface ScenarioCriterion {
  name: string;
  actor: string | null;
  optional: boolean;
  expected: unknown;
  actual: unknown;
  /** SUCCESS / ACCEPTABLE / FAILURE / RUNNING..., where the file says it. */
  status: string | null;
  success: boolean;
}

/** A ScenarioRunner output read: its criteria and overall result. */
export interface ScenarioRunnerResults {
  kind: 'scenario-runner';
  file: string;
  format: 'scenario-runner-json' | 'scenario-runner-criteria';
  scenario: string | null;
  success: boolean;
  criteria: ScenarioCriterion[];
  /** The scenario's game duration and its timeout, from the --json Duration entry. */
  duration: { actualS: number; timeoutS: number } | null;
  notes: string[];
}

export type CarlaResults = LeaderboardResults | ScenarioRunnerResults;

// ---------------------------------------------------------------------------------------------
// Located errors

function at(text: string, file: string, path: (string | number)[]): string {
  const pos = locateInText(text, path);
  return pos ? `${file}:${pos.line}:${pos.column}` : file;
}

function dotted(path: readonly (string | number | PropertyKey)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${String(p)}` : String(p))).join('');
}

/** JSON.parse with the failure located at file:line:column. */
function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    // V8 names the offset ("... at position 123" or "(line 5 column 3)"); an empty file names none.
    const lc = /line (\d+) column (\d+)/.exec(msg);
    const pos = /position (\d+)/.exec(msg);
    let where = '';
    if (lc) where = `:${lc[1]}:${lc[2]}`;
    else if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      where = `:${line}:${Number(pos[1]) - before.lastIndexOf('\n')}`;
    } else if (!text.trim()) where = ':1:1';
    throw new InputError(`${file}${where}: not valid JSON (${msg.replace(/ in JSON at position \d+.*$/, '')}); a CARLA run killed mid-write leaves its checkpoint truncated`);
  }
}

function checked<T>(schema: z.ZodType<T>, value: unknown, text: string, file: string, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue.path as (string | number)[];
  throw new InputError(`${at(text, file, path)}: ${what}: ${path.length ? `${dotted(path)}: ` : ''}${issue.message}`);
}

// ---------------------------------------------------------------------------------------------
// Leaderboard

const Scores = z.object({ score_route: z.number(), score_penalty: z.number(), score_composed: z.number() });
const RouteRecordSchema = z.looseObject({
  index: z.number().int().optional(),
  route_id: z.union([z.string(), z.number()]),
  status: z.string(),
  infractions: z.record(z.string(), z.array(z.string())),
  scores: Scores,
  meta: z.looseObject({ route_length: z.number().optional(), duration_game: z.number().optional(), duration_system: z.number().optional() }).default({}),
  num_infractions: z.number().int().nonnegative().optional(),
});
const GlobalSchema = z.looseObject({
  infractions: z.record(z.string(), z.number()).optional(),
  scores: Scores.optional(),
  scores_mean: Scores.optional(),
});
const LeaderboardSchema = z.looseObject({
  _checkpoint: z.looseObject({
    global_record: z.union([GlobalSchema, z.object({}).strict()]).optional(),
    progress: z.union([z.tuple([z.number().int(), z.number().int()]), z.array(z.never()).length(0)]).optional(),
    records: z.array(RouteRecordSchema),
  }),
  entry_status: z.string().optional(),
  eligible: z.boolean().optional(),
  values: z.array(z.union([z.string(), z.number()])).optional(),
  labels: z.array(z.string()).optional(),
});

const OUTSIDE_RE = /for about (-?[\d.]+) meters \((-?[\d.]+)% of the completed route\)/;
const MIN_SPEED_RE = /Average speed is (-?[\d.]+)%/;

function percentOf(printed: string): Percent {
  const decimals = printed.includes('.') ? printed.length - printed.indexOf('.') - 1 : 0;
  return { value: Number(printed), halfUnit: 0.5 * 10 ** -decimals };
}

/** The penalty of one route's infractions under a regime, evaluated at given percentages. */
function penaltyWith(t: RegimeTable, counts: Record<InfractionKey, number>, outside: number | null, speeds: number[]): number {
  let p = outside === null ? 1 : 1 - outside / 100;
  if (t.combine === 'multiplicative') {
    for (const [k, c] of Object.entries(t.fixed) as [InfractionKey, number][]) p *= c ** counts[k];
    if (t.minSpeed !== null) for (const s of speeds) p *= 1 - t.minSpeed * (1 - s / 100);
    return p;
  }
  let sum = 0;
  for (const [k, c] of Object.entries(t.fixed) as [InfractionKey, number][]) sum += c * counts[k];
  if (t.minSpeed !== null) for (const s of speeds) sum += t.minSpeed * (1 - s / 100);
  return p / (1 + sum);
}

/**
 * A route's penalty under a regime and its interval over the messages' rounding: the outside-lanes
 * percentage is printed to 2 decimals while the code used the unrounded one; min-speed prints the
 * value it used. The penalty is monotone in each percentage, so the corners bound it.
 */
function recompute(t: RegimeTable, counts: Record<InfractionKey, number>, outside: Percent | null, speeds: Percent[]): { penalty: number; lo: number; hi: number } {
  const penalty = penaltyWith(t, counts, outside?.value ?? null, speeds.map((s) => s.value));
  const corners: number[] = [];
  for (const oSign of outside ? [-1, 1] : [0]) {
    for (const sSign of speeds.length ? [-1, 1] : [0]) {
      corners.push(penaltyWith(t, counts, outside ? outside.value + oSign * outside.halfUnit : null, speeds.map((s) => s.value + sSign * s.halfUnit)));
    }
  }
  return { penalty, lo: Math.min(penalty, ...corners), hi: Math.max(penalty, ...corners) };
}

/** Shape of the file: which code family wrote it (the regime is found from the numbers). */
function formatOf(data: z.infer<typeof LeaderboardSchema>): LeaderboardResults['format'] {
  const g = data._checkpoint.global_record as z.infer<typeof GlobalSchema> | undefined;
  if (g?.scores_mean || data._checkpoint.records.some((r) => r.num_infractions !== undefined) || (data.labels?.length ?? 0) >= 15) return 'leaderboard-2.x';
  // The pre-release code wrote neither entry_status nor labels, and a numeric values array.
  if (data.entry_status === undefined && data.labels === undefined) return 'leaderboard-prerelease-2020';
  return 'leaderboard-1.0';
}

/** The regimes whose code writes each shape, in the order a tie is settled (the upstream release first). */
const SHAPE_REGIMES: Record<LeaderboardResults['format'], CarlaRegime[]> = {
  'leaderboard-2.x': ['lb2.0', 'lb2.1', 'bench2drive'],
  'leaderboard-1.0': ['lb1'],
  'leaderboard-prerelease-2020': ['prerelease-2020'],
};

/** The rounding the writing code applied to route scores (LB 2.x: 6 digits; earlier: none). */
function scoreRounding(format: LeaderboardResults['format']): number {
  return format === 'leaderboard-2.x' ? 5e-7 : 0;
}

const FLOAT = 1e-12;

/** Reads a Leaderboard results/checkpoint file (1.0, 2.0, 2.1 or the 2020 pre-release), finds its regime and recomputes its numbers. */
export function parseLeaderboard(text: string, file: string, json: unknown = parseJson(text, file)): LeaderboardResults {
  const data = checked(LeaderboardSchema, json, text, file, 'not a CARLA Leaderboard results file');
  const format = formatOf(data);
  const notes: string[] = [];
  const seenAlias = new Set<string>();
  const unknown = new Set<string>();
  const r = scoreRounding(format);
  const regimes = Object.keys(REGIMES) as CarlaRegime[];

  const routes: CarlaRoute[] = data._checkpoint.records.map((rec, i) => {
    const infractions = Object.fromEntries(INFRACTION_KEYS.map((k) => [k, [] as string[]])) as Record<InfractionKey, string[]>;
    for (const [key, list] of Object.entries(rec.infractions)) {
      const canonical = (INFRACTION_KEYS as readonly string[]).includes(key) ? (key as InfractionKey) : INFRACTION_ALIASES[key];
      if (!canonical) {
        unknown.add(key);
        continue;
      }
      if (canonical !== key) seenAlias.add(key);
      infractions[canonical].push(...list);
    }
    const path = ['_checkpoint', 'records', i, 'infractions'];
    let outside: Percent | null = null;
    let outsideLanes: CarlaRoute['outsideLanes'] = null;
    for (const [j, m] of infractions.outside_route_lanes.entries()) {
      const hit = OUTSIDE_RE.exec(m);
      const where = at(text, file, [...path, key(rec.infractions, 'outside_route_lanes'), j]);
      if (!hit) throw new InputError(`${where}: outside_route_lanes: cannot read the metres and percentage from ${JSON.stringify(m)} (expected "... for about <m> meters (<p>% of the completed route)")`);
      if (j > 0) throw new InputError(`${where}: outside_route_lanes: a route has at most one entry (the Leaderboard writes one per route), found ${infractions.outside_route_lanes.length}`);
      outside = percentOf(hit[2]);
      outsideLanes = { metres: Number(hit[1]), percent: outside.value };
    }
    const speeds = infractions.min_speed_infractions.map((m, j) => {
      const hit = MIN_SPEED_RE.exec(m);
      if (!hit) throw new InputError(`${at(text, file, [...path, key(rec.infractions, 'min_speed_infractions'), j])}: min_speed_infractions: cannot read the percentage from ${JSON.stringify(m)} (expected "Average speed is <p>% of ...")`);
      // The criterion rounds to 2 digits and scores and prints that same value: exact.
      return { value: Number(hit[1]), halfUnit: 0 };
    });
    const counts = Object.fromEntries(INFRACTION_KEYS.map((k) => [k, infractions[k].length])) as Record<InfractionKey, number>;
    const scores = { route: rec.scores.score_route, penalty: rec.scores.score_penalty, composed: rec.scores.score_composed };
    const recomputed = Object.fromEntries(
      regimes.map((g) => {
        const x = recompute(REGIMES[g], counts, outside, speeds);
        const ok = scores.penalty >= x.lo - r - FLOAT && scores.penalty <= x.hi + r + FLOAT;
        return [g, { ...x, composed: scores.route * x.penalty, ok }];
      }),
    ) as CarlaRoute['recomputed'];
    return {
      index: rec.index ?? i,
      routeId: String(rec.route_id),
      status: rec.status,
      infractions,
      scores,
      routeLengthM: rec.meta.route_length ?? null,
      durationGameS: rec.meta.duration_game ?? null,
      outsideLanes,
      minSpeedPercents: speeds.map((s) => s.value),
      recomputed,
    };
  });
  for (const a of seenAlias) notes.push(`infraction key "${a}" read as "${INFRACTION_ALIASES[a]}" (renamed upstream in leaderboard commit 0c009ea, 2023-06-21)`);
  for (const u of unknown) notes.push(`infraction key "${u}" is not one the Leaderboard writes: kept out of the score (no regime penalises it)`);

  const reproducedBy = regimes.filter((g) => routes.every((rt) => rt.recomputed[g].ok));
  const regime = SHAPE_REGIMES[format].find((g) => reproducedBy.includes(g)) ?? null;
  const regimeNote = regimeSentence(format, regime, reproducedBy, routes);

  const checks: CarlaCheck[] = [];
  for (const [i, rt] of routes.entries()) {
    // composed = route x penalty as written (each rounded to 6 digits in LB 2.x).
    checks.push(check(`records[${i}] ${rt.routeId} score_composed = score_route x score_penalty`, rt.scores.composed, rt.scores.route * rt.scores.penalty, r + rt.scores.route * r + rt.scores.penalty * r + FLOAT * Math.max(1, rt.scores.route)));
    if (regime) {
      const x = rt.recomputed[regime];
      checks.push(check(`records[${i}] ${rt.routeId} score_penalty from its infractions (${regime})`, rt.scores.penalty, x.penalty, Math.max(x.hi - x.penalty, x.penalty - x.lo) + r + FLOAT));
      checks.push(check(`records[${i}] ${rt.routeId} driving score from its infractions (${regime})`, rt.scores.composed, x.composed, rt.scores.route * (Math.max(x.hi - x.penalty, x.penalty - x.lo) + r) + 2 * r + FLOAT * Math.max(1, rt.scores.route)));
    }
  }
  const g = data._checkpoint.global_record as z.infer<typeof GlobalSchema> | undefined;
  const gScores = g?.scores_mean ?? g?.scores;
  const total = data._checkpoint.progress?.length === 2 ? data._checkpoint.progress[1] : routes.length;
  if (gScores && total > 0) {
    const mean = (f: (x: CarlaRoute) => number) => routes.reduce((s, x) => s + f(x), 0) / total;
    checks.push(check('global score_route (mean over routes)', gScores.score_route, mean((x) => x.scores.route), r + FLOAT * 100));
    checks.push(check('global score_penalty (mean over routes)', gScores.score_penalty, mean((x) => x.scores.penalty), r + FLOAT));
    checks.push(check('global score_composed (mean over routes)', gScores.score_composed, mean((x) => x.scores.composed), r + FLOAT * 100));
  }
  if (g?.infractions) {
    for (const [k, v] of Object.entries(g.infractions)) {
      const canonical = (INFRACTION_KEYS as readonly string[]).includes(k) ? (k as InfractionKey) : INFRACTION_ALIASES[k];
      if (!canonical) continue;
      const { value, tolerance, how } = globalInfraction(format, canonical, routes);
      checks.push(check(`global ${k} (${how})`, v, value, tolerance));
    }
  }
  checks.push(...valuesChecks(data, format, gScores));
  return {
    kind: 'leaderboard',
    file,
    format,
    regime,
    reproducedBy,
    regimeNote,
    entryStatus: data.entry_status ?? null,
    eligible: data.eligible ?? null,
    progress: data._checkpoint.progress?.length === 2 ? [data._checkpoint.progress[0], data._checkpoint.progress[1]] : null,
    routes,
    global: gScores ? { scores: { route: gScores.score_route, penalty: gScores.score_penalty, composed: gScores.score_composed }, infractions: g?.infractions ?? {} } : null,
    checks,
    notes,
  };
}

/** The key a record uses for a canonical infraction (an alias where the file spells it so), for locating errors. */
function key(infractions: Record<string, unknown>, canonical: InfractionKey): string {
  return Object.keys(infractions).find((k) => k === canonical || INFRACTION_ALIASES[k] === canonical) ?? canonical;
}

function check(what: string, file: number, recomputed: number, tolerance: number): CarlaCheck {
  return { what, file, recomputed, tolerance, ok: Math.abs(file - recomputed) <= tolerance };
}

/**
 * A global infraction figure as the writing code computes it: LB 2.x divides the counts by the km
 * driven (sum of route_length x completion, at least 1 m) and rounds to 3 digits, outside-lanes
 * being the km driven outside them; LB 1.0 sums each route's count per its own km driven, skipping
 * routes not started; the pre-release code wrote plain counts.
 */
function globalInfraction(format: LeaderboardResults['format'], k: InfractionKey, routes: CarlaRoute[]): { value: number; tolerance: number; how: string } {
  const kmOf = (x: CarlaRoute) => ((x.routeLengthM ?? 0) / 1000) * (x.scores.route / 100);
  if (format === 'leaderboard-prerelease-2020') return { value: routes.reduce((s, x) => s + x.infractions[k].length, 0), tolerance: 0, how: 'count' };
  if (format === 'leaderboard-1.0') {
    const value = routes.reduce((s, x) => (x.scores.route === 0 ? s : s + x.infractions[k].length / kmOf(x)), 0);
    return { value, tolerance: 1e-9 * Math.max(1, Math.abs(value)), how: 'sum of per-route counts per km driven' };
  }
  if (k === 'outside_route_lanes') {
    const value = routes.reduce((s, x) => s + (x.outsideLanes ? x.outsideLanes.metres / 1000 : 0), 0);
    return { value, tolerance: 5e-4 + 1e-9, how: 'km driven outside route lanes' };
  }
  const km = Math.max(routes.reduce((s, x) => s + kmOf(x), 0), 0.001);
  return { value: routes.reduce((s, x) => s + x.infractions[k].length, 0) / km, tolerance: 5e-4 + 1e-9, how: 'count per km driven' };
}

/** The `values` array's first three entries (the headline scores) against the global record. */
function valuesChecks(data: z.infer<typeof LeaderboardSchema>, format: LeaderboardResults['format'], g: z.infer<typeof Scores> | undefined): CarlaCheck[] {
  if (!g || !data.values) return [];
  const v = data.values.map(Number);
  if (format === 'leaderboard-prerelease-2020') {
    // The pre-release code wrote [route, penalty, composed, counts...] as numbers.
    return [check('values[0] route completion', v[0], g.score_route, FLOAT * 100), check('values[1] penalty', v[1], g.score_penalty, FLOAT), check('values[2] driving score', v[2], g.score_composed, FLOAT * 100)];
  }
  // LB 1.0 prints them with 3 decimals; LB 2.x writes str() of the rounded means.
  const tol = format === 'leaderboard-1.0' ? 5e-4 + FLOAT : FLOAT * 100;
  return [check('values[0] driving score', v[0], g.score_composed, tol), check('values[1] route completion', v[1], g.score_route, tol), check('values[2] infraction penalty', v[2], g.score_penalty, tol)];
}

function regimeSentence(format: LeaderboardResults['format'], regime: CarlaRegime | null, by: CarlaRegime[], routes: CarlaRoute[]): string {
  if (!regime) {
    const others = by.length ? `; the numbers match ${by.join(', ')}, whose code never wrote a ${format} file` : '';
    const worst = (Object.keys(REGIMES) as CarlaRegime[]).map((g) => `${g}: ${routes.map((r) => r.recomputed[g].penalty.toPrecision(6)).join(', ')}`);
    return `no known regime reproduces this file's penalties (file: ${routes.map((r) => r.scores.penalty).join(', ')}; ${worst.join('; ')})${others}`;
  }
  const src = REGIMES[regime].source;
  if (regime === 'prerelease-2020') return `the 2020 pre-release scoring (${src}): every collision 0.8, not the published coefficients; no released regime reproduces it`;
  if (by.length > 1) return `${regime} by the file's shape (${format}); its infractions are penalised alike by ${by.join(', ')}, so the numbers alone do not tell the regimes apart`;
  return `${regime} (${src}) reproduces every route's penalty; no other regime for this shape does`;
}

// ---------------------------------------------------------------------------------------------
// ScenarioRunner

const SrJson = z.looseObject({
  scenario: z.string(),
  success: z.boolean(),
  criteria: z.array(z.looseObject({ name: z.string(), actor: z.string().nullable().optional(), optional: z.boolean().default(false), expected: z.unknown(), actual: z.unknown(), success: z.boolean() })),
});
const SrCriterion = z.looseObject({
  test_status: z.string(),
  expected_value_success: z.unknown().optional(),
  expected_value_acceptable: z.unknown().optional(),
  actual_value: z.unknown().optional(),
  optional: z.boolean().default(false),
});
const SrCriteria = z.record(z.string(), SrCriterion);

/** Reads ScenarioRunner's `--json` report ({scenario, success, criteria[]}, the last criterion `Duration`). */
export function parseScenarioRunnerJson(text: string, file: string, json: unknown = parseJson(text, file)): ScenarioRunnerResults {
  const d = checked(SrJson, json, text, file, 'not a ScenarioRunner --json report');
  const notes: string[] = [];
  const criteria: ScenarioCriterion[] = d.criteria.map((c) => ({ name: c.name, actor: c.actor ?? null, optional: c.optional, expected: c.expected, actual: c.actual, status: null, success: c.success }));
  const dur = criteria.find((c) => c.name === 'Duration');
  const duration = dur && typeof dur.actual === 'number' && typeof dur.expected === 'number' ? { actualS: dur.actual, timeoutS: dur.expected } : null;
  const allRequired = criteria.filter((c) => !c.optional).every((c) => c.success);
  if (allRequired !== d.success) notes.push(`the file's overall success (${d.success}) differs from its required criteria (${allRequired ? 'all passed' : 'some failed'}): ScenarioRunner takes the overall result from the scenario tree's status`);
  return { kind: 'scenario-runner', file, format: 'scenario-runner-json', scenario: d.scenario, success: d.success, criteria, duration, notes };
}

/** Reads ScenarioRunner's `--record` criteria dump (`<name>_criteria.json`: criteria keyed by name). */
export function parseScenarioRunnerCriteria(text: string, file: string, json: unknown = parseJson(text, file)): ScenarioRunnerResults {
  const d = checked(SrCriteria, json, text, file, 'not a ScenarioRunner criteria dump');
  const criteria: ScenarioCriterion[] = Object.entries(d).map(([name, c]) => ({
    name,
    actor: null,
    optional: c.optional,
    expected: c.expected_value_success ?? null,
    actual: c.actual_value ?? null,
    status: c.test_status,
    // result_writer.py counts SUCCESS and ACCEPTABLE as passed.
    success: c.test_status === 'SUCCESS' || c.test_status === 'ACCEPTABLE',
  }));
  const base = file.split('/').pop() ?? file;
  const scenario = /^(.*)_criteria\.json$/.exec(base)?.[1] ?? null;
  return { kind: 'scenario-runner', file, format: 'scenario-runner-criteria', scenario, success: criteria.filter((c) => !c.optional).every((c) => c.success), criteria, duration: null, notes: [] };
}

/** Reads any CARLA results file paddock knows, telling the kinds apart by their shape. */
export function parseCarlaResults(text: string, file: string): CarlaResults {
  const json = parseJson(text, file);
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    if ('_checkpoint' in o) return parseLeaderboard(text, file, json);
    if ('criteria' in o && 'scenario' in o) return parseScenarioRunnerJson(text, file, json);
    const values = Object.values(o);
    if (values.length && values.every((v) => v && typeof v === 'object' && 'test_status' in (v as object))) return parseScenarioRunnerCriteria(text, file, json);
  }
  throw new InputError(`${file}:1:1: not a CARLA results file paddock knows: expected a Leaderboard results/checkpoint file (_checkpoint.records), a ScenarioRunner --json report (scenario, criteria) or a criteria dump (criteria keyed by name, each with test_status)`);
}

// ---------------------------------------------------------------------------------------------
// Into paddock's metric schema

/** The class of what a collision message names: `type=walker.*` a pedestrian, two-wheelers cyclists, other vehicles cars. */
export function collisionClass(message: string, key: 'collisions_pedestrian' | 'collisions_vehicle' | 'collisions_layout'): SimClass | 'layout' {
  if (key === 'collisions_layout') return 'layout';
  if (key === 'collisions_pedestrian') return 'pedestrian';
  const type = /type=([\w.-]+)/.exec(message)?.[1] ?? '';
  // CARLA's two-wheelers (blueprint library, 0.9.x): bicycles and motorbikes, both 'cyclist' in paddock's world.
  return /crossbike|century|omafiets|harley|ninja|yzf|vespa|low_rider|zx125/.test(type) ? 'cyclist' : 'car';
}

/**
 * A CARLA route in the fields of paddock's RunMetrics that CARLA measures, under the same names,
 * so CARLA runs count in the same gate; what CARLA does not measure is null, never a made-up 0.
 */
export interface CarlaRunMetrics extends Pick<RunMetrics, 'offroadIncidents'> {
  source: 'carla';
  runId: string;
  /** km driven (route length x completion, as the Leaderboard counts it); null where the file has no route length. */
  distanceKm: number | null;
  /** A collision of the route: pedestrians before vehicles before layout (CARLA's lists carry no times, nor impact speeds). */
  collision: { actor: string; actorCls: SimClass | 'layout'; t: null; relativeSpeed: null; egoSpeed: null } | null;
  collisions: { pedestrian: number; vehicle: number; cyclist: number; layout: number; total: number };
  violations: { speedingS: null; laneDepartures: null; stopLines: number; redLights: number; minSpeed: number; yieldEmergency: number };
  outsideLanes: { metres: number; percent: number } | null;
  routeDeviation: boolean;
  timeouts: { route: number; scenario: number };
  blocked: boolean;
  ttcMin: null;
  vruNearMisses: null;
  firstBrake: null;
  comfort: null;
  aeb: null;
  score: { drivingScore: number; routeCompletion: number; penalty: number; regime: CarlaRegime | null } | null;
}

/** CARLA results in paddock's metric schema: one entry per Leaderboard route, one per ScenarioRunner scenario. */
export function carlaToRunMetrics(r: CarlaResults): CarlaRunMetrics[] {
  if (r.kind === 'leaderboard') {
    return r.routes.map((rt) => {
      const coll: { actor: string; actorCls: SimClass | 'layout' }[] = [];
      for (const k of ['collisions_pedestrian', 'collisions_vehicle', 'collisions_layout'] as const) {
        for (const m of rt.infractions[k]) coll.push({ actor: /type=([\w.-]+)/.exec(m)?.[1] ?? k, actorCls: collisionClass(m, k) });
      }
      const count = (c: SimClass | 'layout') => coll.filter((x) => x.actorCls === c).length;
      return {
        source: 'carla',
        runId: rt.routeId,
        distanceKm: rt.routeLengthM === null ? null : (rt.routeLengthM / 1000) * (rt.scores.route / 100),
        // The Leaderboard labels outside_route_lanes "Off-road infractions".
        offroadIncidents: rt.infractions.outside_route_lanes.length,
        collision: coll[0] ? { ...coll[0], t: null, relativeSpeed: null, egoSpeed: null } : null,
        collisions: { pedestrian: count('pedestrian'), vehicle: count('car'), cyclist: count('cyclist'), layout: count('layout'), total: coll.length },
        violations: {
          speedingS: null,
          laneDepartures: null,
          stopLines: rt.infractions.stop_infraction.length,
          redLights: rt.infractions.red_light.length,
          minSpeed: rt.infractions.min_speed_infractions.length,
          yieldEmergency: rt.infractions.yield_emergency_vehicle_infractions.length,
        },
        outsideLanes: rt.outsideLanes,
        routeDeviation: rt.infractions.route_dev.length > 0,
        timeouts: { route: rt.infractions.route_timeout.length, scenario: rt.infractions.scenario_timeouts.length },
        blocked: rt.infractions.vehicle_blocked.length > 0,
        ttcMin: null,
        vruNearMisses: null,
        firstBrake: null,
        comfort: null,
        aeb: null,
        score: { drivingScore: rt.scores.composed, routeCompletion: rt.scores.route, penalty: rt.scores.penalty, regime: r.regime },
      };
    });
  }
  // ScenarioRunner criteria carry counts in actual_value (CollisionTest, RunningRedLightTest, RunningStopTest).
  const n = (name: string) => {
    const c = r.criteria.filter((x) => x.name === name);
    return c.reduce((s, x) => s + (typeof x.actual === 'number' ? x.actual : x.success ? 0 : 1), 0);
  };
  const failed = (name: string) => r.criteria.some((x) => x.name === name && !x.success);
  const collisions = n('CollisionTest');
  return [
    {
      source: 'carla',
      runId: r.scenario ?? r.file,
      distanceKm: null,
      offroadIncidents: failed('OutsideRouteLanesTest') || failed('OnSidewalkTest') ? 1 : 0,
      // The criteria name no actor class; a collision counts, its class is unknown ('car' is not claimed).
      collision: null,
      collisions: { pedestrian: 0, vehicle: 0, cyclist: 0, layout: 0, total: collisions },
      violations: { speedingS: null, laneDepartures: null, stopLines: n('RunningStopTest'), redLights: n('RunningRedLightTest'), minSpeed: failed('MinimumSpeedRouteTest') || failed('MinSpeedRouteTest') ? 1 : 0, yieldEmergency: failed('YieldToEmergencyVehicleTest') ? 1 : 0 },
      outsideLanes: null,
      routeDeviation: failed('InRouteTest'),
      timeouts: { route: r.duration && r.duration.actualS > r.duration.timeoutS ? 1 : 0, scenario: 0 },
      blocked: failed('ActorBlockedTest') || failed('AgentBlockedTest'),
      ttcMin: null,
      vruNearMisses: null,
      firstBrake: null,
      comfort: null,
      aeb: null,
      score: null,
    },
  ];
}
