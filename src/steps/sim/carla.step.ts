/**
 * The `carla` step: a CARLA Leaderboard evaluation run in containers on a GPU Docker host (the
 * CARLA server image and the team's leaderboard image, both named by the recipe), its results
 * read back in paddock's metric schema; or an existing results file read (`results:`). Where the
 * host lacks an image the step says so and is skipped (body: ./carla.ts; docs/carla.md).
 */
import { z } from 'zod';
import { defineStep, nodeStep, absPath } from '../define.js';

/** A host file or folder the evaluation needs inside the leaderboard container (routes, agent code, weights). */
const Mount = z.object({ source: z.string().min(1), target: z.string().min(1), read_only: z.boolean().default(true) }).strict();

export const CarlaParams = z
  .object({
    /** Read this existing Leaderboard results/checkpoint file or ScenarioRunner output instead of running CARLA. */
    results: z.string().min(1).optional(),
    /** The CARLA server image (carlasim/carla on Docker Hub). */
    image: z.string().min(1).default('carlasim/carla:0.9.15'),
    /** The team's image with leaderboard, scenario_runner and the agent (leaderboard's scripts/make_docker.sh builds `leaderboard-user`). */
    leaderboard_image: z.string().min(1).optional(),
    /** Routes file, as a path inside the leaderboard container (e.g. /workspace/leaderboard/data/routes_devtest.xml). */
    routes: z.string().min(1).optional(),
    routes_subset: z.string().optional(),
    repetitions: z.number().int().positive().default(1),
    /** The agent's Python file and its config, inside the leaderboard container. */
    agent: z.string().min(1).optional(),
    agent_config: z.string().optional(),
    track: z.enum(['SENSORS', 'MAP']).default('SENSORS'),
    mounts: z.array(Mount).default([]),
    /** Where the checkpoint (simulation_results.json), the logs and carla_report.json go; mounted into the container at the same path. */
    out: z.string().default('carla'),
    /** The Docker host's socket (default: DOCKER_HOST or /var/run/docker.sock). */
    docker_socket: z.string().optional(),
    gpus: z.boolean().default(true),
    /** Wall-clock limit of the whole evaluation. */
    timeout_s: z.number().positive().default(4 * 3600),
    /** The target the metrics are reported for (the model or agent under test). */
    name: z.string().min(1).default('carla'),
    /** Fail when the file's scoring regime is not this one (docs/carla.md). */
    expect_regime: z.enum(['lb1', 'lb2.0', 'lb2.1', 'bench2drive', 'prerelease-2020']).optional(),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (w.results) return;
    for (const k of ['leaderboard_image', 'routes', 'agent'] as const) {
      if (!w[k]) ctx.addIssue({ code: 'custom', path: [k], message: `${k} is needed to run an evaluation (or give results: to read an existing results file)` });
    }
  });
export type CarlaParams = z.infer<typeof CarlaParams>;

export const carlaStep = defineStep({
  name: 'carla',
  stage: 'replay',
  summary: 'a CARLA Leaderboard evaluation in containers on a GPU Docker host (or an existing results file), scored in paddock\'s metric schema',
  produces: [
    'carla.{ran,routes,driving_score,route_completion,infraction_penalty,km_driven,collisions_per_1000km,regime_reproduced,checks_failed}',
    'carla.{collisions,red_lights,stop_signs,offroad,route_deviations,route_timeouts,blocked,min_speed,yield_emergency,scenario_timeouts}',
    'carla.collisions_{pedestrian,vehicle,cyclist,layout}',
    'carla.{scenario_success,criteria_failed}',
  ],
  with: CarlaParams,
  reportsAs: (w) => [typeof (w as { name?: unknown }).name === 'string' ? (w as { name: string }).name : 'carla'],
  invoke(w, ctx) {
    const params = { ...w, results: absPath(ctx, w.results), out: absPath(ctx, w.out), mounts: w.mounts.map((m) => ({ ...m, source: absPath(ctx, m.source) })) };
    return nodeStep(ctx, 'carla', params, params.results ? [params.results] : []);
  },
  container: { unsupported: "it starts CARLA's containers itself on the GPU Docker host it names (docker_socket)" },
  load: async () => ({ params: CarlaParams, run: (await import('./carla.js')).runCarla }),
});
