/**
 * CARLA's results read: each reference file (real Leaderboard 1.0, 2.0-era and 2020 pre-release
 * output, a real ScenarioRunner criteria dump) parsed, its scoring regime found and every route's
 * penalty and driving score recomputed from its own infraction lists to its own numbers; the 2.1
 * regime on files made with leaderboard-2.1's formula; spelling drift; located errors.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { carlaToRunMetrics, parseCarlaResults, parseLeaderboard, REGIMES, type LeaderboardResults } from '../../src/sim/carla.js';
import { isInputError } from '../../src/files/input-error.js';
import { ROOT } from '../helpers/fixtures.js';

/** The verbatim reference files (their README says where each comes from). */
const CARLA_REFERENCE = existsSync(join(ROOT, 'fixtures', 'reference', 'carla')) ? join(ROOT, 'fixtures', 'reference', 'carla') : join(ROOT, '..', 'shared', 'reference', 'carla');
const ref = (name: string) => join(CARLA_REFERENCE, name);
const read = (name: string) => readFileSync(ref(name), 'utf8');
const PALMA = 'leaderboard2x_simulation_results_palma-or.json';
const ADHOC = 'leaderboard1_simulation_results_adhocmaster.json';
const OFFICIAL_2020 = 'leaderboard1_simulation_results_official_2020.json';
const SR_CRITERIA = 'scenario_runner_DistanceBetweenVehicles_criteria.json';

function lb(name: string): LeaderboardResults {
  const r = parseCarlaResults(read(name), ref(name));
  if (r.kind !== 'leaderboard') throw new Error(`${name} read as ${r.format}`);
  return r;
}
const failedChecks = (r: LeaderboardResults) => r.checks.filter((c) => !c.ok);

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('Leaderboard reference files', () => {
  it('palma-or (2.0-era): LB 2.0 reproduces the penalty 0.6 x (1 - 0.3 x (1 - 0.972)) and no other regime does', () => {
    const r = lb(PALMA);
    expect(r.format).toBe('leaderboard-2.x');
    expect(r.regime).toBe('lb2.0');
    expect(r.reproducedBy).toEqual(['lb2.0']);
    expect(r.regimeNote).toMatch(/lb2\.0 .*reproduces every route's penalty; no other regime for this shape does/);
    const route = r.routes[0];
    expect(route.routeId).toBe('RouteScenario_1_rep0');
    expect(route.minSpeedPercents).toEqual([97.2]);
    // Closed forms: 2.0 multiplies 0.6 by 1 - 0.3 (1 - 0.972); 2.1 divides by 1 + 0.7 + 0.4 (1 - 0.972).
    expect(route.recomputed['lb2.0'].penalty).toBeCloseTo(0.6 * (1 - 0.3 * 0.028), 12);
    expect(route.recomputed['lb2.0'].penalty).toBeCloseTo(route.scores.penalty, 6);
    expect(route.recomputed['lb2.1'].penalty).toBeCloseTo(1 / (1 + 0.7 + 0.4 * 0.028), 12);
    expect(route.recomputed['lb2.1'].ok).toBe(false);
    expect(route.recomputed['lb2.0'].composed).toBeCloseTo(59.496, 4);
    expect(failedChecks(r)).toEqual([]);
    // Global collisions_vehicle 0.312 = 1 / 3.206913 km, checked by the parser among its checks.
    expect(r.checks.find((c) => c.what.startsWith('global collisions_vehicle'))).toMatchObject({ file: 0.312, ok: true });
    expect(r.checks.find((c) => c.what.startsWith('global collisions_vehicle'))!.recomputed).toBeCloseTo(1 / 3.206913, 9);
    // The plural spelling is read and said.
    expect(r.notes.join('\n')).toMatch(/yield_emergency_vehicles_infractions.*yield_emergency_vehicle_infractions.*0c009ea/);
  });

  it('adhocmaster (1.0 release): a timed-out route with no penalised infraction; LB 1.0 by shape, every regime agrees', () => {
    const r = lb(ADHOC);
    expect(r.format).toBe('leaderboard-1.0');
    expect(r.regime).toBe('lb1');
    expect(r.reproducedBy.sort()).toEqual(['bench2drive', 'lb1', 'lb2.0', 'lb2.1', 'prerelease-2020']);
    expect(r.regimeNote).toMatch(/do not tell the regimes apart/);
    expect(r.entryStatus).toBe('Finished with agent errors');
    expect(r.routes[0].status).toBe('Failed - Agent timed out');
    expect(r.routes[0].infractions.route_timeout).toEqual(['Route timeout.']);
    expect(failedChecks(r)).toEqual([]);
    // route_timeout per km: 1 / (34.09655 m / 1000 x 0.2051007), the file's 142.9955301915951.
    const c = r.checks.find((x) => x.what.startsWith('global route_timeout'))!;
    expect(c.recomputed).toBeCloseTo(1 / ((34.09655084923356 / 1000) * (20.510067466907877 / 100)), 9);
    expect(c.file).toBe(142.9955301915951);
  });

  it('official 2020: identified as the pre-release scoring (0.8 per collision); the published 1.0 coefficients do not reproduce it', () => {
    const r = lb(OFFICIAL_2020);
    expect(r.format).toBe('leaderboard-prerelease-2020');
    expect(r.regime).toBe('prerelease-2020');
    expect(r.reproducedBy).toEqual(['prerelease-2020']);
    expect(r.regimeNote).toMatch(/pre-release.*every collision 0\.8.*no released regime reproduces it/);
    const route = r.routes[0];
    expect(route.outsideLanes).toEqual({ metres: 50.626, percent: 61.17 });
    expect(route.recomputed['prerelease-2020'].penalty).toBeCloseTo(0.8 ** 5 * (1 - 0.6117), 12);
    // LB 1.0's coefficients: 0.65^4 (layout) x 0.5 (pedestrian) x (1 - 0.6117): far from the file's 0.1272.
    expect(route.recomputed.lb1.penalty).toBeCloseTo(0.65 ** 4 * 0.5 * (1 - 0.6117), 12);
    expect(route.recomputed.lb1.ok).toBe(false);
    expect(failedChecks(r)).toEqual([]);
    const m = carlaToRunMetrics(r)[0];
    expect(m.collisions).toEqual({ pedestrian: 1, vehicle: 0, cyclist: 0, layout: 4, total: 5 });
    expect(m.collision).toMatchObject({ actor: 'walker.pedestrian.0001', actorCls: 'pedestrian' });
    expect(m.offroadIncidents).toBe(1);
    expect(m.distanceKm).toBeNull();
  });

  it('maps the 2.0 route into paddock metrics: the vehicle collision, min speed, km driven, nothing invented', () => {
    const [m] = carlaToRunMetrics(lb(PALMA));
    expect(m.collision).toMatchObject({ actor: 'vehicle.lincoln.mkz_2020', actorCls: 'car', t: null, relativeSpeed: null });
    expect(m.collisions.vehicle).toBe(1);
    expect(m.violations).toMatchObject({ minSpeed: 1, redLights: 0, stopLines: 0, speedingS: null });
    expect(m.distanceKm).toBeCloseTo(3.206913, 9);
    expect(m.comfort).toBeNull();
    expect(m.score).toEqual({ drivingScore: 59.496, routeCompletion: 100, penalty: 0.59496, regime: 'lb2.0' });
  });
});

/** The palma-or file with its route's scores (and the global means) replaced. */
function withScores(penalty: number, edit: (rec: Record<string, unknown>) => void = () => undefined): string {
  const d = JSON.parse(read(PALMA));
  const rec = d._checkpoint.records[0];
  edit(rec);
  rec.scores.score_penalty = penalty;
  rec.scores.score_composed = Math.round(rec.scores.score_route * penalty * 1e6) / 1e6;
  d._checkpoint.global_record.scores_mean = { score_composed: rec.scores.score_composed, score_route: rec.scores.score_route, score_penalty: penalty };
  d.values[0] = String(rec.scores.score_composed);
  d.values[2] = String(penalty);
  return JSON.stringify(d, null, 4);
}
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

describe('regimes', () => {
  it('LB 2.1: the same infractions scored 1 / (1 + 0.7 + 0.4 (1 - 0.972)) are read as 2.1, not 2.0', () => {
    // leaderboard-2.1 statistics_manager.py: vehicle 0.7, min speed 0.4 x (1 - p/100), summed.
    const r = parseLeaderboard(withScores(round6(1 / (1 + 0.7 + 0.4 * 0.028))), 'lb21.json');
    expect(r.regime).toBe('lb2.1');
    expect(r.reproducedBy).toEqual(['lb2.1']);
    expect(failedChecks(r)).toEqual([]);
  });

  it('LB 2.1 with outside lanes: its percentage multiplies, to the rounding of the message (2 decimals)', () => {
    const pct = 12.3456; // what CARLA used; the message prints 12.35
    const msg = 'Agent went outside its route lanes for about 396.031 meters (12.35% of the completed route)';
    const edit = (rec: Record<string, unknown>) => ((rec.infractions as Record<string, string[]>).outside_route_lanes = [msg]);
    const r = parseLeaderboard(withScores(round6((1 - pct / 100) / (1 + 0.7 + 0.4 * 0.028)), edit), 'lb21-outside.json');
    expect(r.regime).toBe('lb2.1');
    expect(r.routes[0].outsideLanes).toEqual({ metres: 396.031, percent: 12.35 });
    expect(failedChecks(r).map((c) => c.what)).toEqual(['global outside_route_lanes (km driven outside route lanes)']);
    // Beyond the rounding's reach (12.36%), no regime reproduces it.
    const far = parseLeaderboard(withScores(round6((1 - 12.36 / 100) / (1 + 0.7 + 0.4 * 0.028)), edit), 'far.json');
    expect(far.regime).toBeNull();
  });

  it("Bench2Drive's fork (min speed recorded, never penalised): 0.6 for the vehicle collision alone", () => {
    const r = parseLeaderboard(withScores(0.6), 'b2d.json');
    expect(r.regime).toBe('bench2drive');
    // LB 1.0's table gives the same number; its code never wrote this shape.
    expect(r.reproducedBy.sort()).toEqual(['bench2drive', 'lb1']);
  });

  it('a penalty no regime gives is said plainly, with what each would have given', () => {
    const r = parseLeaderboard(withScores(0.61), 'odd.json');
    expect(r.regime).toBeNull();
    expect(r.reproducedBy).toEqual([]);
    expect(r.regimeNote).toMatch(/^no known regime reproduces this file's penalties \(file: 0\.61; lb1: .*lb2\.0: 0\.594960/);
    // The tolerance is the file's rounding (6 digits): a 1e-5 change is seen.
    expect(parseLeaderboard(withScores(0.59497), 'near.json').regime).toBeNull();
    expect(parseLeaderboard(withScores(0.5949604), 'rounding.json').regime).toBe('lb2.0');
  });

  it('the coefficient tables are the branches\' (a change here must be deliberate)', () => {
    expect(REGIMES.lb1.fixed).toEqual({ collisions_pedestrian: 0.5, collisions_vehicle: 0.6, collisions_layout: 0.65, red_light: 0.7, stop_infraction: 0.8 });
    expect(REGIMES['lb2.1'].fixed.collisions_pedestrian).toBe(1.0);
    expect(REGIMES['prerelease-2020'].fixed.collisions_layout).toBe(0.8);
  });
});

describe('ScenarioRunner outputs', () => {
  it('reads the criteria dump of --record: CollisionTest passed, no collision', () => {
    const r = parseCarlaResults(read(SR_CRITERIA), ref(SR_CRITERIA));
    expect(r).toMatchObject({ kind: 'scenario-runner', format: 'scenario-runner-criteria', scenario: 'scenario_runner_DistanceBetweenVehicles', success: true });
    if (r.kind !== 'scenario-runner') throw new Error('kind');
    expect(r.criteria).toEqual([{ name: 'CollisionTest', actor: null, optional: false, expected: 0, actual: 0, status: 'SUCCESS', success: true }]);
    expect(carlaToRunMetrics(r)[0].collisions.total).toBe(0);
  });

  it('reads the --json report (result_writer.py shape): failed collisions, red light, and the Duration entry', () => {
    const text = JSON.stringify({
      scenario: 'FollowLeadingVehicle_1',
      success: false,
      criteria: [
        { name: 'CollisionTest', actor: 'lincoln.mkz_2020-221', optional: false, expected: 0, actual: 2, success: false },
        { name: 'RunningRedLightTest', actor: 'lincoln.mkz_2020-221', optional: false, expected: 0, actual: 1, success: false },
        { name: 'Duration', actor: 'all', optional: false, expected: 120, actual: 37.2, success: true },
      ],
    });
    const r = parseCarlaResults(text, 'FollowLeadingVehicle_12024-01-01-10-00-00.json');
    expect(r).toMatchObject({ format: 'scenario-runner-json', scenario: 'FollowLeadingVehicle_1', success: false, duration: { actualS: 37.2, timeoutS: 120 } });
    const [m] = carlaToRunMetrics(r);
    expect(m.collisions.total).toBe(2);
    expect(m.violations.redLights).toBe(1);
    expect(m.timeouts.route).toBe(0);
  });
});

describe('malformed files: located errors', () => {
  const cases: { name: string; text: () => string; message: RegExp }[] = [
    { name: 'truncated mid-write', text: () => read(PALMA).slice(0, 800), message: /^bad\.json:\d+:\d+: not valid JSON .*truncated/ },
    { name: 'empty', text: () => '', message: /^bad\.json:1:1: not valid JSON/ },
    {
      name: 'a score that is not a number',
      text: () => read(PALMA).replace('"score_route": 100,', '"score_route": "100",'),
      // The palma-or file has score_route of the record on line 64.
      message: /^bad\.json:64:\d+: not a CARLA Leaderboard results file: _checkpoint\.records\[0\]\.scores\.score_route: .*number/,
    },
    {
      name: 'an unreadable min-speed message',
      text: () => read(PALMA).replace("Average speed is 97.2% of the surrounding traffic's one", 'slow'),
      message: /^bad\.json:55:\d+: min_speed_infractions: cannot read the percentage from "slow"/,
    },
    { name: 'not a CARLA file', text: () => '{"hello": 1}', message: /^bad\.json:1:1: not a CARLA results file paddock knows/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const err = thrown(() => parseCarlaResults(c.text(), 'bad.json'));
      expect(isInputError(err), err.stack).toBe(true);
      expect(err.message).toMatch(c.message);
    });
  }
});
