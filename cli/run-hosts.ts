/**
 * The Docker side of a run: runners for the hosts its targets name, paddock's step image on
 * each (built when missing), leftovers of earlier attempts swept, and how each step becomes a
 * container step (ContainerResolver). Targets with `host: pool` run on the host pool
 * (runners/host-pool.ts): every host of hosts.yaml that is in the pool, each step a job of it.
 */
import { isAbsolute, resolve } from 'node:path';
import { parseDocument, isMap, isSeq } from 'yaml';
import type { Recipe, Step, Target } from '../src/schema/recipe.js';
import type { ResolvedHost } from '../src/schema/hosts.js';
import type { PlanNode } from '../src/pipeline/plan.js';
import type { ContainerResolver } from '../src/pipeline/execute.js';
import type { ContainerSpec, Runner } from '../src/pipeline/runner.js';
import type { RunStore } from '../src/store/run-store.js';
import { findHostsFile, loadAllHosts } from '../runners/pool-hosts.js';
import { STEP_ENTRY } from '../runners/docker-images.js';
import { findStep } from '../src/steps/catalogue.js';

/** Rewrites every target's host in recipe text (comments kept), for `--host`. */
export function overrideTargetHosts(text: string, host: string): string {
  const doc = parseDocument(text);
  const targets = doc.get('targets');
  if (isSeq(targets)) for (const t of targets.items) if (isMap(t)) t.set('host', host);
  return doc.toString();
}

/** The target host that means the host pool. */
export const POOL = 'pool';

/** The hosts a recipe's targets name, other than "local" and the pool. */
export function hostsUsed(recipe: Recipe): string[] {
  return [...new Set(recipe.targets.map((t) => t.host).filter((h) => h !== 'local' && h !== POOL))];
}

/** What a host of the pool must have for one step: its target's `requires`, and the GPUs its container asks for. */
export function stepNeeds(target: Target | undefined, step: Step | undefined): { requires: Record<string, string>; gpus: number } {
  const g = step?.container?.gpus;
  const asked = g === undefined ? 0 : typeof g === 'number' ? g : g === 'all' ? 1 : g.length;
  return { requires: { ...target?.requires?.labels }, gpus: Math.max(target?.requires?.gpus ?? 0, asked) };
}

/** The hosts of the pool: those not marked `pool: false` (loadAllHosts puts the local engine in only when there is no hosts.yaml). */
export function poolMembers(hosts: readonly ResolvedHost[]): ResolvedHost[] {
  return hosts.filter((h) => h.pool !== false);
}

const describeHost = (h: ResolvedHost) => `${h.name} (${Object.entries(h.labels).map(([k, v]) => `${k}=${v}`).join(' ') || 'no labels'}, ${h.capacity.gpus} GPU(s))`;
const describeNeeds = (n: { requires: Record<string, string>; gpus: number }) =>
  [...Object.entries(n.requires).map(([k, v]) => `${k}=${v}`), ...(n.gpus ? [`${n.gpus} GPU(s)`] : [])].join(', ') || 'nothing';

/**
 * The pool targets (and steps) that no host of the pool could ever take, said with what they
 * need and what each host has; empty when every one has a host. Pure: the plan-time check.
 *   'target orin-fp16 (host: pool) needs arch=aarch64, 1 GPU(s): no host of the pool has that; the pool: a (site=desk arch=x86_64, 0 GPU(s)), b (...)'
 */
export function unplaceable(recipe: Recipe, pool: readonly ResolvedHost[]): { target: string; path: (string | number)[]; message: string }[] {
  const out: { target: string; path: (string | number)[]; message: string }[] = [];
  const fits = (n: { requires: Record<string, string>; gpus: number }) => pool.some((h) => h.capacity.gpus >= n.gpus && Object.entries(n.requires).every(([k, v]) => h.labels[k] === v));
  const hostsSaid = pool.length ? `the pool: ${pool.map(describeHost).join(', ')}` : 'the pool has no hosts (every host of hosts.yaml says pool: false, or there is none)';
  recipe.targets.forEach((t, i) => {
    if (t.host !== POOL) return;
    const n = stepNeeds(t, undefined);
    if (!fits(n)) {
      out.push({ target: t.name, path: ['targets', i, t.requires ? 'requires' : 'host'], message: `target ${t.name} (host: pool) needs ${describeNeeds(n)}: no host of the pool has that; ${hostsSaid}` });
      return;
    }
    for (const [stage, steps] of Object.entries(recipe.stages)) {
      steps.forEach((st, j) => {
        if (st.target !== t.name) return;
        const sn = stepNeeds(t, st);
        if (!fits(sn)) out.push({ target: t.name, path: ['stages', stage, j, 'container', 'gpus'], message: `step ${st.id} of target ${t.name} (host: pool) needs ${describeNeeds(sn)}: no host of the pool has that; ${hostsSaid}` });
      });
    }
  });
  return out;
}

/** The hosts file and the pool a recipe's pool targets would use; throws, located, when a target can never be placed. */
export async function checkPool(recipe: Recipe, recipeFile: string, recipeText: string, hostsFile: string | undefined): Promise<void> {
  if (!recipe.targets.some((t) => t.host === POOL)) return;
  const file = findHostsFile(hostsFile, recipeFile);
  const { hosts } = await loadAllHosts(file);
  const problems = unplaceable(recipe, poolMembers(hosts));
  if (!problems.length) return;
  const { RecipeError, locateInText } = await import('../src/schema/recipe-load.js');
  throw new RecipeError(
    problems.map((p) => {
      const at = locateInText(recipeText, p.path) ?? { line: 1, column: 1 };
      return { file: recipeFile, path: p.path.map((x, k) => (typeof x === 'number' ? `[${x}]` : k ? `.${x}` : x)).join(''), line: at.line, column: at.column, message: `${p.message} (hosts from ${file ?? 'no hosts.yaml: the local engine only'})` };
    }),
  );
}

export interface RunHosts {
  forHost(name: string): Runner | undefined;
  containerize: ContainerResolver;
  close(): Promise<void>;
}

/**
 * Connects to every host the recipe uses, makes sure paddock's step image is there (building it
 * when a host uses the default image and lacks it), and sweeps containers an earlier attempt of
 * this run left. Errors name the host and what failed. A host named by a target must answer; a
 * host of the pool that does not is set aside (the pool probes it again, with backoff) and the
 * run goes on with the others.
 */
export async function prepareRunHosts(
  recipe: Recipe,
  recipeFile: string,
  runId: string,
  opts: { hostsFile?: string; log: (line: string) => void; store?: RunStore; signal?: AbortSignal; pool?: { retryBackoffMs?: number; hostBackoffMs?: number; noHostTimeoutMs?: number; watchMs?: number } },
): Promise<RunHosts> {
  const names = hostsUsed(recipe);
  const usesPool = recipe.targets.some((t) => t.host === POOL);
  const runners = new Map<string, Runner>();
  const hostOf = new Map<string, ResolvedHost>();
  const closers: (() => Promise<void>)[] = [];
  let closePool: (() => Promise<void>) | undefined;
  if (names.length || usesPool) {
    const file = findHostsFile(opts.hostsFile, recipeFile);
    const { hosts } = await loadAllHosts(file);
    const { connectHost, readyHost, sweepHost, dockerPoolHost } = await import('../runners/pool-hosts.js');
    for (const name of names) {
      const host = hosts.find((h) => h.name === name);
      if (!host) throw new Error(`target host "${name}" is not in ${file ?? 'any hosts.yaml (none found)'}; known hosts: ${hosts.map((h) => h.name).join(', ')}`);
      const c = await connectHost(host);
      closers.push(() => c.conn.close());
      await readyHost(c, opts.log);
      await sweepHost(c, runId, opts.log);
      runners.set(name, c.runner);
      hostOf.set(name, { ...host, image: c.image });
    }
    if (usesPool) {
      if (!opts.store || !opts.signal) throw new Error('the host pool needs the run store and the run\'s stop signal');
      const members = poolMembers(hosts);
      const problems = unplaceable(recipe, members);
      if (problems.length) throw new Error(problems.map((p) => p.message).join('; '));
      // Only hosts some pool step could use: a host no target can take is not connected to.
      const needs = poolStepNeeds(recipe);
      const useful = members.filter((h) => [...needs.values()].some((n) => h.capacity.gpus >= n.gpus && Object.entries(n.requires).every(([k, v]) => h.labels[k] === v)));
      const { HostPool, createPoolRunner } = await import('../runners/host-pool.js');
      const { JobQueue } = await import('../src/store/job-queue.js');
      const poolHosts = [];
      for (const host of useful) {
        const { poolHost, close } = await dockerPoolHost(host, runId, opts.log);
        closers.push(close);
        poolHosts.push(poolHost);
      }
      opts.log(`host pool: ${poolHosts.map((h) => `${h.name} (${h.slots} slot(s)${h.down ? ', not answering' : ''})`).join(', ')}`);
      const queue = new JobQueue(opts.store.db);
      const pool = new HostPool(queue, poolHosts, opts.pool);
      const session = await pool.serve(runId, {
        signal: opts.signal,
        onHost: (h) => opts.log(h.healthy ? `host pool: ${h.name} answers again` : `host pool: ${h.name} set aside: ${h.error ?? 'host failure'}`),
      });
      runners.set(POOL, createPoolRunner({ runId, queue, session, needs: (stepId) => needs.get(stepId) ?? { requires: {}, gpus: 0 } }));
      hostOf.set(POOL, { name: POOL, docker: 'unix:///pool', labels: {}, capacity: { gpus: 0, slots: 0 }, image: '' });
      closePool = async () => void (await session.close());
    }
  }
  const baseDir = resolve(recipeFile, '..');
  return {
    forHost: (name) => runners.get(name),
    containerize: (node, local, runner) => containerStep(node, local, hostOf.get(runner.host)!, recipe, baseDir, STEP_ENTRY),
    async close() {
      // The pool's jobs end first (a stop cancels them), then the connections under them close.
      await closePool?.().catch(() => undefined);
      await Promise.all(closers.map((c) => c().catch(() => undefined)));
    },
  };
}

/** What each step of a pool target needs of a host (stepNeeds), by step id. */
function poolStepNeeds(recipe: Recipe): Map<string, { requires: Record<string, string>; gpus: number }> {
  const out = new Map<string, { requires: Record<string, string>; gpus: number }>();
  const targets = new Map(recipe.targets.map((t) => [t.name, t]));
  for (const st of Object.values(recipe.stages).flat()) {
    const t = st.target ? targets.get(st.target) : undefined;
    if (t?.host === POOL) out.set(st.id, stepNeeds(t, st));
  }
  return out;
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
