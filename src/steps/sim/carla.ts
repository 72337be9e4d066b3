/**
 * The `carla` step's body. With `results:` it reads that file; otherwise it looks both images up
 * on the Docker host, and where either is missing it says so plainly (a `skip` event with the
 * reason, `carla.ran` 0), as contract-smoke does for Triton. With both there it starts the CARLA
 * server (GPUs requested) and the leaderboard evaluator in a second container sharing the
 * server's network namespace (so the evaluator reaches it on localhost:2000 with no host port),
 * waits for the evaluator, keeps both logs, and reads the checkpoint the evaluator wrote under
 * `out`, which is mounted at the same path. docs/carla.md has the images and commands.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emit } from '../emit.js';
import { writeAtomic } from '../../files/atomic.js';
import { carlaToRunMetrics, parseCarlaResults, type CarlaResults, type CarlaRunMetrics } from '../../sim/carla.js';
import { localDocker, findImage, type DockerEngine } from '../../../runners/docker-client.js';
import type { CarlaParams } from './carla.step.js';

const CHECKPOINT = 'simulation_results.json';
const REPORT = 'carla_report.json';

function log(message: string, level: 'info' | 'warn' | 'error' = 'info'): void {
  emit({ type: 'log', level, message });
}

function skipped(p: CarlaParams, reason: string): number {
  log(`carla SKIPPED: ${reason}`, 'warn');
  emit({ type: 'metric', name: 'carla.ran', value: 0, target: p.name });
  mkdirSync(p.out, { recursive: true });
  writeAtomic(join(p.out, REPORT), `${JSON.stringify({ status: 'skipped', reason }, null, 2)}\n`);
  emit({ type: 'skip', reason });
  return 0;
}

/** Runs the step: reads `results`, or evaluates in containers, or says why it cannot. */
export async function runCarla(p: CarlaParams): Promise<number> {
  mkdirSync(p.out, { recursive: true });
  if (p.results) {
    if (!existsSync(p.results)) throw new Error(`carla.with.results ${p.results}: no such file`);
    return report(p, p.results, 'read');
  }
  const { socket, docker, why } = await localDocker(p.docker_socket);
  if (!docker) return skipped(p, why!);
  for (const image of [p.image, p.leaderboard_image!]) {
    const found = await findImage(docker, socket, image);
    if (!('id' in found)) return skipped(p, found.why);
  }
  return evaluate(p, docker, socket);
}

/** The evaluator's command line (leaderboard_evaluator.py's flags, 2.x; docs/carla.md for 1.0's --scenarios). */
export function evaluatorCommand(p: CarlaParams, checkpoint: string): string[] {
  const args = [
    `--routes=${p.routes}`,
    ...(p.routes_subset ? [`--routes-subset=${p.routes_subset}`] : []),
    `--repetitions=${p.repetitions}`,
    `--track=${p.track}`,
    `--checkpoint=${checkpoint}`,
    `--debug-checkpoint=${join(p.out, 'live_results.txt')}`,
    `--agent=${p.agent}`,
    ...(p.agent_config ? [`--agent-config=${p.agent_config}`] : []),
    '--host=127.0.0.1',
    '--port=2000',
    '--traffic-manager-port=8000',
  ];
  // The server takes tens of seconds to listen; the evaluator gives up at once if it is not there.
  const wait = 'for i in $(seq 1 300); do (echo > /dev/tcp/127.0.0.1/2000) 2>/dev/null && break; sleep 1; done';
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return ['/bin/bash', '-c', `${wait}; exec python3 "$LEADERBOARD_ROOT/leaderboard/leaderboard_evaluator.py" ${quoted}`];
}

async function evaluate(p: CarlaParams, docker: DockerEngine, socket: string): Promise<number> {
  const checkpoint = join(p.out, CHECKPOINT);
  const labels = { paddock: 'true', 'paddock.step': 'carla' };
  const gpus = p.gpus ? { DeviceRequests: [{ Count: -1, Capabilities: [['gpu']] }] } : {};
  const server = await docker.createContainer({
    Image: p.image,
    Cmd: ['/bin/bash', './CarlaUE4.sh', '-RenderOffScreen', '-nosound', '-carla-rpc-port=2000'],
    Labels: labels,
    Tty: true,
    HostConfig: { ShmSize: 2 * 2 ** 30, ...gpus },
  });
  let evaluator: Awaited<ReturnType<DockerEngine['createContainer']>> | undefined;
  try {
    await server.start();
    log(`started the CARLA server ${p.image} (${server.id.slice(0, 12)}) on ${socket}`);
    evaluator = await docker.createContainer({
      Image: p.leaderboard_image!,
      Cmd: evaluatorCommand(p, checkpoint),
      Labels: labels,
      Tty: true,
      Env: [`CHECKPOINT_ENDPOINT=${checkpoint}`, `CHALLENGE_TRACK_CODENAME=${p.track}`],
      HostConfig: {
        NetworkMode: `container:${server.id}`,
        Binds: [`${p.out}:${p.out}:rw`, ...p.mounts.map((m) => `${m.source}:${m.target}:${m.read_only ? 'ro' : 'rw'}`)],
        ...gpus,
      },
    });
    await evaluator.start();
    log(`started the leaderboard evaluator ${p.leaderboard_image} (${evaluator.id.slice(0, 12)}): routes ${p.routes}, agent ${p.agent}`);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      evaluator.wait() as Promise<{ StatusCode: number }>,
      new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), p.timeout_s * 1000))),
    ]).finally(() => clearTimeout(timer));
    for (const [c, file] of [[server, 'carla-server.log'], [evaluator, 'leaderboard.log']] as const) {
      const logs = await c.logs({ stdout: true, stderr: true }).catch(() => Buffer.from(''));
      writeFileSync(join(p.out, file), logs as Buffer);
    }
    if (outcome === 'timeout') log(`the evaluation ran past timeout_s ${p.timeout_s}; reading the routes it finished`, 'error');
    else if (outcome.StatusCode !== 0) log(`the evaluator exited ${outcome.StatusCode} (${join(p.out, 'leaderboard.log')}); reading the routes it finished`, 'warn');
    if (!existsSync(checkpoint)) {
      process.stderr.write(`carla: the evaluator wrote no ${checkpoint} (see ${join(p.out, 'leaderboard.log')})\n`);
      return 1;
    }
    const code = report(p, checkpoint, 'evaluated');
    return outcome === 'timeout' ? 1 : code;
  } finally {
    if (evaluator) await evaluator.remove({ force: true }).catch(() => undefined);
    await server.remove({ force: true }).catch(() => undefined);
  }
}

function sum(ms: CarlaRunMetrics[], f: (m: CarlaRunMetrics) => number): number {
  return ms.reduce((s, m) => s + f(m), 0);
}

/** Reads the results, emits their metrics and failures, writes carla_report.json. */
function report(p: CarlaParams, file: string, how: 'read' | 'evaluated'): number {
  const bytes = readFileSync(file);
  const r: CarlaResults = parseCarlaResults(bytes.toString('utf8'), file);
  const runs = carlaToRunMetrics(r);
  const target = p.name;
  const metric = (name: string, value: number, extra: { slice?: string; unit?: string; denominators?: Record<string, number> } = {}) => emit({ type: 'metric', name, value, target, ...extra });
  metric('carla.ran', how === 'evaluated' ? 1 : 0);
  const n = { runs: runs.length };
  const collisions = sum(runs, (m) => m.collisions.total);
  metric('carla.collisions', collisions, { denominators: n });
  metric('carla.red_lights', sum(runs, (m) => m.violations.redLights), { denominators: n });
  metric('carla.stop_signs', sum(runs, (m) => m.violations.stopLines), { denominators: n });
  metric('carla.offroad', sum(runs, (m) => m.offroadIncidents), { denominators: n });
  metric('carla.route_deviations', runs.filter((m) => m.routeDeviation).length, { denominators: n });
  metric('carla.route_timeouts', sum(runs, (m) => m.timeouts.route), { denominators: n });
  metric('carla.blocked', runs.filter((m) => m.blocked).length, { denominators: n });
  let failedChecks = 0;
  if (r.kind === 'leaderboard') {
    const mean = (f: (m: CarlaRunMetrics) => number) => sum(runs, f) / Math.max(runs.length, 1);
    metric('carla.routes', runs.length);
    metric('carla.driving_score', mean((m) => m.score!.drivingScore), { denominators: { routes: runs.length } });
    metric('carla.route_completion', mean((m) => m.score!.routeCompletion), { unit: '%', denominators: { routes: runs.length } });
    metric('carla.infraction_penalty', mean((m) => m.score!.penalty), { denominators: { routes: runs.length } });
    for (const m of runs) metric('carla.driving_score', m.score!.drivingScore, { slice: `route=${m.runId}` });
    for (const cls of ['pedestrian', 'vehicle', 'cyclist', 'layout'] as const) metric(`carla.collisions_${cls}`, sum(runs, (m) => m.collisions[cls]), { denominators: n });
    metric('carla.min_speed', sum(runs, (m) => m.violations.minSpeed), { denominators: n });
    metric('carla.yield_emergency', sum(runs, (m) => m.violations.yieldEmergency), { denominators: n });
    metric('carla.scenario_timeouts', sum(runs, (m) => m.timeouts.scenario), { denominators: n });
    if (runs.every((m) => m.distanceKm !== null)) {
      const km = sum(runs, (m) => m.distanceKm!);
      metric('carla.km_driven', km, { unit: 'km' });
      if (km > 0) metric('carla.collisions_per_1000km', (collisions / km) * 1000);
    }
    metric('carla.regime_reproduced', r.regime ? 1 : 0);
    failedChecks = r.checks.filter((c) => !c.ok).length;
    metric('carla.checks_failed', failedChecks, { denominators: { checks: r.checks.length } });
    log(`${file}: ${r.format}, ${runs.length} route(s); regime: ${r.regimeNote}`, r.regime ? 'info' : 'warn');
    for (const c of r.checks.filter((x) => !x.ok)) log(`${file}: ${c.what}: the file says ${c.file}, recomputed ${c.recomputed} (tolerance ${c.tolerance})`, 'warn');
    for (const rt of r.routes) {
      for (const k of ['collisions_pedestrian', 'collisions_vehicle', 'collisions_layout'] as const) {
        for (const message of rt.infractions[k]) {
          emit({ type: 'failure', id: `carla-${rt.routeId}-${k}-${createHash('sha256').update(message).digest('hex').slice(0, 8)}`, kind: 'carla.collision', severity: k === 'collisions_pedestrian' ? 'critical' : 'major', title: `${rt.routeId}: ${message}`, evidence: [{ path: file, note: `_checkpoint.records[${rt.index}].infractions.${k}` }], data: { route: rt.routeId, infraction: k, message, target } });
        }
      }
      for (const k of ['red_light', 'stop_infraction'] as const) {
        for (const message of rt.infractions[k]) {
          emit({ type: 'failure', id: `carla-${rt.routeId}-${k}-${createHash('sha256').update(message).digest('hex').slice(0, 8)}`, kind: 'carla.violation', severity: 'minor', title: `${rt.routeId}: ${message}`, evidence: [{ path: file, note: `_checkpoint.records[${rt.index}].infractions.${k}` }], data: { route: rt.routeId, infraction: k, message, target } });
        }
      }
    }
  } else {
    metric('carla.scenario_success', r.success ? 1 : 0);
    metric('carla.criteria_failed', r.criteria.filter((c) => !c.success && !c.optional).length, { denominators: { criteria: r.criteria.length } });
    log(`${file}: ${r.format}, scenario ${r.scenario ?? '(unnamed)'}: ${r.success ? 'SUCCESS' : 'FAILURE'} (${r.criteria.map((c) => `${c.name} ${c.success ? 'ok' : 'failed'}`).join(', ')})`);
  }
  for (const note of r.notes) log(`${file}: ${note}`, 'warn');
  const out = join(p.out, REPORT);
  const body = { status: how, file, sha256: createHash('sha256').update(bytes).digest('hex'), results: r, runs };
  const text = `${JSON.stringify(body, null, 2)}\n`;
  writeAtomic(out, text);
  emit({ type: 'artifact', path: out, sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.byteLength(text), role: 'carla-report' });
  if (p.expect_regime && (r.kind !== 'leaderboard' || r.regime !== p.expect_regime)) {
    process.stderr.write(`carla: ${file} was expected to be scored by ${p.expect_regime}; ${r.kind === 'leaderboard' ? r.regimeNote : `it is a ${r.format}, which has no scoring regime`}\n`);
    return 1;
  }
  return 0;
}
