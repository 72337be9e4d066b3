/**
 * The `carla` step as its own process (its definition and body bundled as dist/step.js bundles
 * them): against the real Docker engine of the test setup, where no CARLA image exists, it says
 * so and is skipped, naming the image and the host; a present image passes the lookup and the
 * missing leaderboard image is named instead. With `results:` it reads each reference file and
 * emits its metrics and failures, the numbers the files give.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { execa } from 'execa';
import { PaddockEvent } from '../../src/schema/events.js';
import { carlaStep } from '../../src/steps/sim/carla.step.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';
import { services } from '../helpers/docker-services.js';

/** The verbatim reference files (test/sim/carla.test.ts reads the same). */
const CARLA_REFERENCE = existsSync(join(ROOT, 'fixtures', 'reference', 'carla')) ? join(ROOT, 'fixtures', 'reference', 'carla') : join(ROOT, '..', 'shared', 'reference', 'carla');

let bundleDir: string;
let entry: string;
let dir: string;
let cleanup: () => void;

beforeAll(async () => {
  mkdirSync(join(ROOT, 'tmp'), { recursive: true });
  bundleDir = mkdtempSync(join(ROOT, 'tmp', 'carla-step-'));
  entry = join(bundleDir, 'carla-step.mjs');
  // What dist/step.js does for one step: check the parameters against the body's schema, run the body.
  await build({
    stdin: {
      contents: `import { carlaStep } from './src/steps/sim/carla.step.ts';
const { params, run } = await carlaStep.load();
const parsed = params.safeParse(JSON.parse(process.argv[2]));
if (!parsed.success) { process.stderr.write(JSON.stringify(parsed.error.issues) + '\\n'); process.exitCode = 2; }
else process.exitCode = await run(parsed.data);`,
      resolveDir: ROOT,
      loader: 'ts',
    },
    outfile: entry,
    bundle: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    logLevel: 'silent',
  });
  ({ dir, cleanup } = tempDir('paddock-carla-'));
}, 60_000);
afterAll(() => {
  cleanup?.();
  rmSync(bundleDir, { recursive: true, force: true });
});

async function step(params: Record<string, unknown>) {
  const r = await execa(process.execPath, [entry, JSON.stringify(params)], { reject: false, cwd: ROOT });
  const events = String(r.stdout).split('\n').filter(Boolean).map((l) => PaddockEvent.parse(JSON.parse(l)));
  return { code: r.exitCode, events, stderr: String(r.stderr) };
}
type Metric = Extract<PaddockEvent, { type: 'metric' }>;
const metric = (events: PaddockEvent[], name: string, slice?: string) => events.find((e): e is Metric => e.type === 'metric' && e.name === name && e.slice === slice);
const run = { routes: '/workspace/leaderboard/data/routes_devtest.xml', agent: '/workspace/team_code/agent.py', leaderboard_image: 'leaderboard-user:latest', gpus: false };

describe('carla step on the real Docker engine, where no CARLA image exists', () => {
  it('is skipped, saying which image is not on which host', async () => {
    const socket = services().daemons.a.socket;
    const r = await step({ ...run, out: join(dir, 'skip'), docker_socket: socket });
    expect(r.code, r.stderr).toBe(0);
    const skip = r.events.find((e) => e.type === 'skip');
    expect(skip && skip.type === 'skip' && skip.reason).toBe(`image carlasim/carla:0.9.15 is not on the Docker host at ${socket}`);
    expect(metric(r.events, 'carla.ran')?.value).toBe(0);
    expect(metric(r.events, 'carla.driving_score')).toBeUndefined();
    expect(JSON.parse(readFileSync(join(dir, 'skip', 'carla_report.json'), 'utf8'))).toEqual({ status: 'skipped', reason: skip && skip.type === 'skip' ? skip.reason : '' });
  });

  it('finds an image the host has (the step image standing for the server) and names the missing leaderboard image', async () => {
    const socket = services().daemons.a.socket;
    const r = await step({ ...run, image: services().image, out: join(dir, 'skip2'), docker_socket: socket });
    expect(r.code, r.stderr).toBe(0);
    const skip = r.events.find((e) => e.type === 'skip');
    expect(skip && skip.type === 'skip' && skip.reason).toBe(`image leaderboard-user:latest is not on the Docker host at ${socket}`);
  });

  it('is skipped when there is no Docker engine at the socket', async () => {
    const r = await step({ ...run, out: join(dir, 'skip3'), docker_socket: join(dir, 'no-such.sock') });
    const skip = r.events.find((e) => e.type === 'skip');
    expect(skip && skip.type === 'skip' && skip.reason).toBe(`no Docker engine at ${join(dir, 'no-such.sock')}`);
  });
});

describe('carla step reading existing results (results:)', () => {
  it('Leaderboard 2.0 file: driving score, collisions, km and collisions per 1000 km as the file gives them', async () => {
    const r = await step({ results: join(CARLA_REFERENCE, 'leaderboard2x_simulation_results_palma-or.json'), out: join(dir, 'palma'), name: 'agent-v2' });
    expect(r.code, r.stderr).toBe(0);
    expect(metric(r.events, 'carla.driving_score')).toMatchObject({ value: 59.496, target: 'agent-v2', denominators: { routes: 1 } });
    expect(metric(r.events, 'carla.driving_score', 'route=RouteScenario_1_rep0')?.value).toBe(59.496);
    expect(metric(r.events, 'carla.route_completion')?.value).toBe(100);
    expect(metric(r.events, 'carla.infraction_penalty')?.value).toBe(0.59496);
    expect(metric(r.events, 'carla.collisions')?.value).toBe(1);
    expect(metric(r.events, 'carla.collisions_vehicle')?.value).toBe(1);
    expect(metric(r.events, 'carla.min_speed')?.value).toBe(1);
    expect(metric(r.events, 'carla.km_driven')?.value).toBeCloseTo(3.206913, 9);
    // The file's own global rate is 0.312 per km (3 digits): 1000 / 3.206913 per 1000 km.
    expect(metric(r.events, 'carla.collisions_per_1000km')?.value).toBeCloseTo(1000 / 3.206913, 6);
    expect(metric(r.events, 'carla.regime_reproduced')?.value).toBe(1);
    expect(metric(r.events, 'carla.checks_failed')?.value).toBe(0);
    const failures = r.events.filter((e) => e.type === 'failure');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ kind: 'carla.collision', severity: 'major', data: { route: 'RouteScenario_1_rep0', infraction: 'collisions_vehicle' } });
    const report = JSON.parse(readFileSync(join(dir, 'palma', 'carla_report.json'), 'utf8'));
    expect(report.results.regime).toBe('lb2.0');
    expect(r.events.some((e) => e.type === 'artifact' && e.role === 'carla-report')).toBe(true);
  });

  it('the 2020 pre-release file: five collisions, the pedestrian one critical; expecting lb1 fails the step, saying why', async () => {
    const file = join(CARLA_REFERENCE, 'leaderboard1_simulation_results_official_2020.json');
    const r = await step({ results: file, out: join(dir, 'y2020') });
    expect(r.code, r.stderr).toBe(0);
    expect(metric(r.events, 'carla.collisions')?.value).toBe(5);
    expect(metric(r.events, 'carla.collisions_layout')?.value).toBe(4);
    expect(metric(r.events, 'carla.collisions_pedestrian')?.value).toBe(1);
    expect(metric(r.events, 'carla.offroad')?.value).toBe(1);
    expect(metric(r.events, 'carla.driving_score')?.value).toBeCloseTo(5.552925175105888, 12);
    // No route length in this file: no km, no rate, rather than a made-up one.
    expect(metric(r.events, 'carla.km_driven')).toBeUndefined();
    expect(r.events.filter((e) => e.type === 'failure' && e.severity === 'critical')).toHaveLength(1);
    const expecting = await step({ results: file, out: join(dir, 'y2020b'), expect_regime: 'lb1' });
    expect(expecting.code).toBe(1);
    expect(expecting.stderr).toMatch(/expected to be scored by lb1; the 2020 pre-release scoring/);
  });

  it('Leaderboard 1.0 file and the ScenarioRunner criteria dump', async () => {
    const lb1 = await step({ results: join(CARLA_REFERENCE, 'leaderboard1_simulation_results_adhocmaster.json'), out: join(dir, 'lb1') });
    expect(lb1.code, lb1.stderr).toBe(0);
    expect(metric(lb1.events, 'carla.route_timeouts')?.value).toBe(1);
    expect(metric(lb1.events, 'carla.driving_score')?.value).toBe(20.510067466907877);
    const sr = await step({ results: join(CARLA_REFERENCE, 'scenario_runner_DistanceBetweenVehicles_criteria.json'), out: join(dir, 'sr') });
    expect(sr.code, sr.stderr).toBe(0);
    expect(metric(sr.events, 'carla.scenario_success')?.value).toBe(1);
    expect(metric(sr.events, 'carla.collisions')?.value).toBe(0);
  });

  it("a recipe's carla step without results: must name what an evaluation needs (located by the recipe loader)", () => {
    const r = carlaStep.with.safeParse({ image: 'carlasim/carla:0.9.15' });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['agent', 'leaderboard_image', 'routes']);
    expect(carlaStep.with.safeParse({ results: 'simulation_results.json' }).success).toBe(true);
  });
});
