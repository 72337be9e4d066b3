/**
 * The Docker side of a run: runners for the hosts its targets name, paddock's step image on
 * each (built when missing), leftovers of earlier attempts swept, and how each step becomes a
 * container step (ContainerResolver).
 */
import { isAbsolute, resolve } from 'node:path';
import { parseDocument, isMap, isSeq } from 'yaml';
import type { Recipe, Step } from '../src/schema/recipe.js';
import type { ResolvedHost } from '../src/schema/hosts.js';
import type { PlanNode } from '../src/pipeline/plan.js';
import type { ContainerResolver } from '../src/pipeline/execute.js';
import type { ContainerSpec, Runner } from '../src/pipeline/runner.js';
import { findHostsFile, loadAllHosts } from './hosts.js';
import { STEP_ENTRY } from '../runners/docker-images.js';
import { findStep } from '../src/steps/catalogue.js';

/** Rewrites every target's host in recipe text (comments kept), for `--host`. */
export function overrideTargetHosts(text: string, host: string): string {
  const doc = parseDocument(text);
  const targets = doc.get('targets');
  if (isSeq(targets)) for (const t of targets.items) if (isMap(t)) t.set('host', host);
  return doc.toString();
}

/** The hosts a recipe's targets name, other than "local". */
export function hostsUsed(recipe: Recipe): string[] {
  return [...new Set(recipe.targets.map((t) => t.host).filter((h) => h !== 'local'))];
}

export interface RunHosts {
  forHost(name: string): Runner | undefined;
  containerize: ContainerResolver;
  close(): Promise<void>;
}

/**
 * Connects to every host the recipe uses, makes sure paddock's step image is there (building it
 * when a host uses the default image and lacks it), and sweeps containers an earlier attempt of
 * this run left. Errors name the host and what failed.
 */
export async function prepareRunHosts(recipe: Recipe, recipeFile: string, runId: string, opts: { hostsFile?: string; log: (line: string) => void }): Promise<RunHosts> {
  const names = hostsUsed(recipe);
  const runners = new Map<string, Runner>();
  const hostOf = new Map<string, ResolvedHost>();
  const closers: (() => Promise<void>)[] = [];
  if (names.length) {
    const file = findHostsFile(opts.hostsFile, recipeFile);
    const { hosts } = await loadAllHosts(file);
    const { connectDocker } = await import('../runners/docker-client.js');
    const { createDockerRunner, sweepOrphans } = await import('../runners/docker.js');
    const { isAlive } = await import('../runners/process-tree.js');
    const { buildStepImage, stepImageRef } = await import('../runners/docker-images.js');
    for (const name of names) {
      const host = hosts.find((h) => h.name === name);
      if (!host) throw new Error(`target host "${name}" is not in ${file ?? 'any hosts.yaml (none found)'}; known hosts: ${hosts.map((h) => h.name).join(', ')}`);
      const conn = await connectDocker(host);
      closers.push(() => conn.close());
      try {
        await conn.docker.ping();
      } catch (err) {
        throw new Error(`host ${name} (${conn.address}) does not answer: ${(err as Error).message}`);
      }
      const image = host.image ?? stepImageRef();
      if (!host.image) {
        const img = await buildStepImage(conn.docker, (l) => opts.log(`host ${name}: ${l}`));
        if (img.built) opts.log(`host ${name}: built ${img.ref} (${img.id})`);
      }
      const runner = createDockerRunner({ connection: conn, image });
      const swept = await runner.sweep!(runId);
      if (swept) opts.log(`host ${name}: removed ${swept} container(s) left by an earlier attempt of ${runId}`);
      const orphans = await sweepOrphans(conn.docker, isAlive);
      if (orphans) opts.log(`host ${name}: removed ${orphans} container(s) left by paddock processes of this machine that are gone`);
      runners.set(name, runner);
      hostOf.set(name, { ...host, image });
    }
  }
  const baseDir = resolve(recipeFile, '..');
  return {
    forHost: (name) => runners.get(name),
    containerize: (node, local, runner) => containerStep(node, local, hostOf.get(runner.host)!, recipe, baseDir, STEP_ENTRY),
    async close() {
      await Promise.all(closers.map((c) => c().catch(() => undefined)));
    },
  };
}

function settings(step: Step, host: ResolvedHost): ContainerSpec {
  const c = step.container;
  const gpus = c?.gpus === undefined ? undefined : c.gpus === 'all' ? { count: -1 } : typeof c.gpus === 'number' ? { count: c.gpus } : { deviceIds: c.gpus };
  return {
    image: c?.image ?? host.image!,
    memoryMb: c?.memory_mb,
    cpus: c?.cpus,
    shmSizeMb: c?.shm_mb,
    gpus,
    user: c?.user,
    network: c?.network,
  };
}

/**
 * A step as a container step. A built-in step runs as its catalogue definition says: in paddock's
 * step image (or the image the recipe names where the step needs one, e.g. PyTorch), with the
 * files it reads copied in and the folders it writes copied out, at the same absolute paths; a
 * step that cannot run in a container says why. `run:` steps run in their image.
 */
export function containerStep(node: PlanNode, local: { command: string[]; inputs: string[] }, host: ResolvedHost, recipe: Recipe, baseDir: string, stepEntry: readonly string[]): { command: string[]; cwd?: string; container: ContainerSpec } {
  const step = node.step!;
  const base = settings(step, host);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const outputs = (step.container?.outputs ?? []).map((o) => ({ source: o.from, target: abs(o.to) }));
  if ('uses' in step) {
    const def = findStep(step.uses);
    if (!def) throw new Error(`${node.id}: unknown built-in step ${JSON.stringify(step.uses)}`);
    const use = def.container;
    if ('unsupported' in use) throw new Error(`step ${node.id} (uses: ${step.uses}) runs on this machine only: ${use.unsupported}; give its target host: local`);
    if (use.image !== 'paddock' && !step.container?.image) throw new Error(`step ${node.id} (uses: ${step.uses}) needs ${use.image.recipe} to run on host ${host.name}: paddock's step image has no such thing`);
    const params = JSON.parse(local.command[local.command.length - 1]) as Record<string, unknown>;
    const ctx = { stepId: step.id, recipe, baseDir, target: node.target, entry: stepEntry };
    // Node steps start the image's node and dist/step.js; others say how their command changes.
    const command = use.command ? use.command(local.command) : [...stepEntry, ...local.command.slice(2)];
    const written = use.outputs(params).map((dir) => ({ source: dir, target: dir }));
    return {
      command,
      cwd: '/work',
      container: { ...base, inputs: use.inputs(params, step.with, ctx).map((i) => ({ source: i.path, target: i.path, sha256: i.sha256 })), outputs: [...written, ...outputs] },
    };
  }
  // A command step: its input files are copied to the same absolute paths in the container.
  return {
    command: local.command,
    cwd: step.cwd?.startsWith('/') ? step.cwd : '/work',
    container: { ...base, inputs: local.inputs.map((p) => ({ source: abs(p), target: abs(p) })), outputs },
  };
}
