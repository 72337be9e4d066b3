/**
 * `paddock run`, `paddock demo` and `paddock resume`: load (or reload) a recipe, plan it,
 * execute it with the TUI or a headless reporter, and turn the outcome into an exit code.
 *
 * A run records the options it was started with (gate policy, JUnit file, concurrency, hosts
 * file, --host); `paddock resume` goes on with them, and an option given on the resume command
 * line wins over the recorded one (and is recorded for the next resume). --host cannot change on
 * resume: where the targets run is part of the recipe text the run recorded. Resume claims the
 * run atomically (RunStore.claimRun): of two resumes at once, one runs and the other is refused.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { signalTree } from '../runners/process-tree.js';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { RecipeError } from '../src/schema/recipe-load.js';
import type { Recipe } from '../src/schema/recipe.js';
import { plan as makePlan, type Plan, type PlanNode } from '../src/pipeline/plan.js';
import { execute, type GateAsker } from '../src/pipeline/execute.js';
import { answerByPolicy, type GatePolicy } from '../src/pipeline/gates.js';
import { resolveLineage } from '../src/pipeline/lineage.js';
import { RunStore, newRunId, asStoreError, type RunOptions } from '../src/store/run-store.js';
import { REDACTED } from '../src/store/redact.js';
import { recordRunSlices } from '../src/store/run-files.js';
import type { PaddockEvent } from '../src/schema/events.js';
import { createLocalRunner, killActiveChildren } from '../runners/local.js';
import { createInProcessRunner } from '../runners/in-process.js';
import { createJsonReporter, createLineReporter, type Reporter } from './headless.js';
import { currentActor } from './identity.js';
import { findStep, loadRecipe, parseRecipe } from '../src/steps/catalogue.js';
import { installRoot } from '../src/files/install-root.js';
import { isAlive as isProcessAlive } from '../runners/process-tree.js';
import { createGateBroker } from '../src/pipeline/gate-broker.js';

export interface RunCommandOptions {
  recipePath?: string;
  resumeId?: string;
  headless: boolean;
  json: boolean;
  gatePolicy: GatePolicy;
  /** --gate-policy was on the command line (else gatePolicy is the default, and a resume takes the run's). */
  gatePolicyGiven?: boolean;
  home: string;
  concurrency?: number;
  /** Write the gates' verdicts as JUnit XML here when the run ends. */
  junit?: string;
  /** Run every target on this host (a name from hosts.yaml, "docker" for the local engine, or "pool" for the host pool). */
  host?: string;
  /** The gate policy was not given and is the demo's default (said in headless output). */
  policyDefaulted?: boolean;
  /** `paddock demo` from an installed paddock: its outputs go here, not into the install directory. */
  demoOutputs?: string;
  /** `paddock package`: run the package stage only, optionally for one target. */
  packageOnly?: { target?: string };
  /** hosts.yaml to use (else $PADDOCK_HOSTS, beside the recipe, ~/.config/paddock/hosts.yaml). */
  hostsFile?: string;
  /**
   * Ends the process at once with this code (a second Ctrl+C, a forced quit in the workbench):
   * bin/paddock.ts passes process.exit, being the one owner of it; the default only stops the
   * steps and sets the exit code.
   */
  exitNow?: (code: number) => void;
  /** Where lines go in headless mode. */
  write?: (line: string) => void;
  writeError?: (line: string) => void;
}

/** The command line of a built-in step, from its catalogue definition: the same node binary, paddock's dist/step.js. */
export function builtinCommand(recipe: Recipe, baseDir: string, runId?: string) {
  const entry = join(installRoot(), 'dist', 'step.js');
  return (node: PlanNode) => {
    const step = node.step!;
    if (!('uses' in step)) throw new Error(`${node.id} is not a built-in step`);
    if (!existsSync(entry)) throw new Error(`paddock's built-in steps are not built (${entry} is missing): run "npm run build"`);
    const def = findStep(step.uses);
    if (!def) throw new Error(`${node.id}: unknown built-in step ${JSON.stringify(step.uses)}`);
    return def.invoke(step.with, { stepId: step.id, recipe, baseDir, target: node.target, entry: [process.execPath, entry], runId });
  };
}

export async function runCommand(opts: RunCommandOptions): Promise<number> {
  const write = opts.write ?? ((l: string) => process.stdout.write(`${l}\n`));
  const writeError = opts.writeError ?? ((l: string) => process.stderr.write(`${l}\n`));
  // A recipe that cannot be used fails before the store is touched.
  let fresh: Fresh | undefined;
  if (!opts.resumeId) {
    const recipeFile = resolve(opts.recipePath!);
    const loaded = loadRecipe(recipeFile);
    // The text as in the file: errors found later (a model file missing) name its lines.
    const fileText = loaded.text;
    if (opts.demoOutputs) {
      const { relocateDemoOutputs, DEMO_POLICY } = await import('./recipe-rewrite.js');
      loaded.text = relocateDemoOutputs(loaded.text, opts.demoOutputs);
      // The registry policy names the demo's keys under ../../build/ too: a relocated copy goes
      // beside the outputs, and the recipe names it (the install directory stays read-only).
      const policyFile = join(dirname(recipeFile), DEMO_POLICY);
      if (existsSync(policyFile)) {
        const { mkdirSync } = await import('node:fs');
        mkdirSync(opts.demoOutputs, { recursive: true });
        const relocated = join(opts.demoOutputs, DEMO_POLICY);
        writeFileSync(relocated, relocateDemoOutputs(readFileSync(policyFile, 'utf8'), opts.demoOutputs));
        loaded.text = loaded.text.replaceAll(`policy: ${DEMO_POLICY}`, `policy: ${relocated}`);
      }
      loaded.recipe = parseRecipe(loaded.text, recipeFile, { gatesText: loaded.gatesText });
      if (opts.headless || !isInteractive()) write(`paddock demo: its world, pack, keys and evaluation go to ${opts.demoOutputs} (set PADDOCK_DEMO_DIR to change)`);
    }
    if (opts.host) {
      // --host: every target runs there; the rewritten recipe is what the run records (and resumes).
      const { overrideTargetHosts } = await import('./run-hosts.js');
      loaded.text = overrideTargetHosts(loaded.text, opts.host);
      loaded.recipe = parseRecipe(loaded.text, recipeFile, { gatesText: loaded.gatesText });
    }
    if (opts.packageOnly) {
      const { restrictToPackage } = await import('./recipe-rewrite.js');
      let r: { text: string; gatesText?: string };
      try {
        r = restrictToPackage(loaded.text, loaded.gatesText, opts.packageOnly.target);
      } catch (err) {
        throw new RecipeError([{ file: recipeFile, path: 'targets', line: 1, column: 1, message: (err as Error).message }]);
      }
      loaded.text = r.text;
      loaded.gatesText = r.gatesText;
      loaded.recipe = parseRecipe(loaded.text, recipeFile, { gatesText: loaded.gatesText });
      if (!loaded.recipe.stages.package.length) throw new RecipeError([{ file: recipeFile, path: 'stages.package', line: 1, column: 1, message: `no package steps${opts.packageOnly.target ? ` for target ${opts.packageOnly.target}` : ''}` }]);
    }
    let recipe = loaded.recipe;
    if (opts.concurrency) recipe = { ...recipe, concurrency: opts.concurrency };
    makePlan(recipe);
    if (recipe.targets.some((t) => t.host === 'pool')) {
      // A pool target no host could ever take is a recipe error now, not a job that waits forever.
      const { checkPool } = await import('./run-hosts.js');
      await checkPool(recipe, recipeFile, loaded.text, opts.hostsFile);
    }
    const lineage = await resolveLineage(recipe, dirname(recipeFile), recipeFile, fileText);
    fresh = { recipeFile, recipe, text: loaded.text, gatesText: loaded.gatesText, lineage };
  }
  const store = new RunStore(opts.home);
  try {
    return await runWithStore(store, opts, fresh, write, writeError);
  } catch (err) {
    // A store that turns out damaged in a query (not at open) is said as such, not as a stack.
    throw asStoreError(err, store.file) ?? err;
  } finally {
    store.close();
  }
}

/** The options of this command line that a run records (RunOptions). */
function commandLineOptions(opts: RunCommandOptions): RunOptions {
  // Files as absolute paths: a resume may run from another folder.
  return { gatePolicy: opts.gatePolicy, policyDefaulted: opts.policyDefaulted, junit: absolute(opts.junit), concurrency: opts.concurrency, hostsFile: absolute(opts.hostsFile), host: opts.host };
}

function absolute(p: string | undefined): string | undefined {
  return p === undefined ? undefined : resolve(p);
}

/**
 * The options a resume goes on with: the run's recorded ones, and over them what its command line
 * gives (a gate policy only when --gate-policy was given: its default is no choice).
 */
export function resumeOptions(recorded: RunOptions, opts: RunCommandOptions): RunOptions {
  const merged: RunOptions = { ...recorded };
  if (opts.gatePolicyGiven || recorded.gatePolicy === undefined) {
    merged.gatePolicy = opts.gatePolicy;
    merged.policyDefaulted = opts.gatePolicyGiven ? false : opts.policyDefaulted;
  }
  if (opts.junit !== undefined) merged.junit = absolute(opts.junit);
  if (opts.concurrency !== undefined) merged.concurrency = opts.concurrency;
  if (opts.hostsFile !== undefined) merged.hostsFile = absolute(opts.hostsFile);
  return merged;
}

/**
 * The recipe of a resumed run with the secret env values back: the store keeps them redacted
 * (src/store/redact.ts), so they are read from the recipe file again, step by step and name by
 * name. Returns the recipe, or why it cannot be resumed.
 */
function restoreSecretEnv(recipe: Recipe, recipeFile: string): Recipe | string {
  const missing = Object.values(recipe.stages).flat().some((st) => Object.values(st.env).some((v) => v === REDACTED));
  if (!missing) return recipe;
  let file: Recipe;
  try {
    file = loadRecipe(recipeFile).recipe;
  } catch (err) {
    return `the run's recipe gave steps secret env values, which the run store does not keep, and ${recipeFile} cannot be read for them now (${(err as Error).message.split('\n')[0]}); use {from_env: NAME} for secrets`;
  }
  const fileSteps = new Map(Object.values(file.stages).flat().map((st) => [st.id, st]));
  const stages = { ...recipe.stages };
  for (const stage of Object.keys(stages) as (keyof Recipe['stages'])[]) {
    const steps = [];
    for (const st of stages[stage]) {
      const env = { ...st.env };
      for (const [name, v] of Object.entries(env)) {
        if (v !== REDACTED) continue;
        const real = fileSteps.get(st.id)?.env[name];
        if (real === undefined || real === REDACTED) return `step ${st.id}: its env ${name} was a secret, which the run store does not keep, and ${recipeFile} no longer gives it; put it back, or use {from_env: NAME}`;
        env[name] = real;
      }
      steps.push({ ...st, env });
    }
    stages[stage] = steps as never;
  }
  return { ...recipe, stages };
}

interface Fresh {
  recipeFile: string;
  recipe: Recipe;
  text: string;
  gatesText?: string;
  lineage: unknown;
}

/** The run a command works on: a new one recorded in the store, or a stored one reopened for resume. */
interface OpenedRun {
  runId: string;
  recipe: Recipe;
  recipeFile: string;
  resumed: boolean;
  /** The options it runs with: this command line's, or, resumed, the run's with this command line's over them. */
  options: RunOptions;
}

/** Opens the run: records a fresh one, or checks and reopens the one to resume; a number is the exit code when there is nothing to run. */
function openRun(store: RunStore, opts: RunCommandOptions, fresh: Fresh | undefined, actor: string, write: (l: string) => void, writeError: (l: string) => void): OpenedRun | number {
  if (opts.resumeId) {
    const found = store.findRun(opts.resumeId);
    if (!found) {
      writeError(`paddock resume: no run "${opts.resumeId}" in ${store.home} (paddock runs lists them)`);
      return 2;
    }
    if (found.status === 'succeeded') {
      write(`run ${found.id} already succeeded; nothing to resume`);
      return 0;
    }
    const recorded = store.runOptions(found.id);
    if (opts.host !== undefined && opts.host !== recorded.host) {
      writeError(`paddock resume: --host ${opts.host}: run ${found.id} ${recorded.host ? `runs its targets on ${recorded.host}` : 'runs its targets where its recipe says'}, and a resume cannot move them; start a new run with paddock run --host`);
      return 2;
    }
    let recipe = parseRecipe(found.recipe_text, found.recipe_path, { gatesText: found.gates_text ?? undefined });
    const restored = restoreSecretEnv(recipe, found.recipe_path);
    if (typeof restored === 'string') {
      writeError(`paddock resume: ${restored}`);
      return 2;
    }
    recipe = restored;
    // Checked above for a clear message; decided here, atomically, against other resumes.
    const claim = store.claimRun(found.id, isProcessAlive);
    if (!claim.ok) {
      if (claim.why === 'succeeded') {
        write(claim.message);
        return 0;
      }
      writeError(`paddock resume: ${claim.message}`);
      return 2;
    }
    const row = claim.run;
    if (claim.tookOverFrom) writeError(`paddock resume: run ${row.id} was held by pid ${claim.tookOverFrom.pid}, which is gone; taken over`);
    for (const line of reapOrphans(store, row.id)) writeError(line);
    const options = resumeOptions(recorded, opts);
    store.setRunOptions(row.id, options);
    if (options.concurrency) recipe = { ...recipe, concurrency: options.concurrency };
    return { runId: row.id, recipe, recipeFile: row.recipe_path, resumed: true, options };
  }
  const f = fresh!;
  const runId = newRunId();
  store.createRun({
    id: runId,
    name: f.recipe.name,
    recipePath: f.recipeFile,
    recipeText: f.text,
    recipeSha256: createHash('sha256').update(f.text).digest('hex'),
    lineage: f.lineage,
    host: hostname(),
    actor,
    gatesText: f.gatesText,
    options: commandLineOptions(opts),
  });
  return { runId, recipe: f.recipe, recipeFile: f.recipeFile, resumed: false, options: commandLineOptions(opts) };
}

/** Who sees the run and answers its gates: the workbench on a terminal, else a line or JSON reporter and the gate policy. */
interface FrontEnd {
  interactive: boolean;
  onEvent(e: PaddockEvent): void;
  askGate: GateAsker;
  /** The run ended: flush the reporter, let the workbench show the outcome. */
  end(exitCode: number, error?: string): Promise<void>;
}

async function attachFrontEnd(store: RunStore, opts: RunCommandOptions, run: OpenedRun, thePlan: Plan, actor: string, controller: AbortController, exitNow: (code: number) => void, write: (l: string) => void): Promise<FrontEnd> {
  if (!opts.headless && !opts.json && isInteractive()) {
    const broker = createGateBroker();
    const { startRunApp } = await import('../views/start.js');
    // Screen 8, the registry: where the promote stage's approvals are given while its steps wait.
    const { openRegistrySource, registryAccess } = await import('./ui.js');
    const registry = openRegistrySource(registryAccess(opts.home, process.env.PADDOCK_REGISTRY));
    const ui = startRunApp({
      runId: run.runId,
      plan: thePlan,
      broker,
      actor,
      resumedSteps: store.getSteps(run.runId),
      store,
      registry,
      onCancel: () => controller.abort(),
      onForceQuit: () => {
        killActiveChildren();
        exitNow(2);
      },
    });
    return {
      interactive: true,
      onEvent: (e) => ui.onEvent(e),
      askGate: (req) => broker.request(req.gate, req.decision, req.signal),
      end: async () => {
        await ui.done();
        await registry.close();
      },
    };
  }
  const stageOf = new Map(thePlan.nodes.map((n) => [n.id, n.stage]));
  const reporter: Reporter = opts.json ? createJsonReporter(write) : createLineReporter(write, (s) => (s ? stageOf.get(s) : undefined));
  if (opts.policyDefaulted && !opts.json) write(`paddock demo: headless, so gates that need a person are answered by --gate-policy ${opts.gatePolicy} (pass --gate-policy fail to change that)`);
  return {
    interactive: false,
    onEvent: (e) => reporter.onEvent(e),
    askGate: async () => answerByPolicy(opts.gatePolicy, actor),
    end: async () => reporter.end(),
  };
}

/** SIGINT/SIGTERM: the first stops the running steps, a second ends paddock at once. Returns the uninstaller. */
function onStopSignals(controller: AbortController, interactive: boolean, exitNow: (code: number) => void, writeError: (l: string) => void): () => void {
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      if (!interactive) writeError(`paddock: ${sig}: stopping the running steps (again to exit at once)`);
      controller.abort();
    } else {
      killActiveChildren();
      exitNow(2);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** The gates' verdicts and answers as JUnit XML (--junit); a gate the run never reached says so. */
async function writeJunit(store: RunStore, runId: string, thePlan: Plan, file: string): Promise<void> {
  const { gatesJunit } = await import('../src/evaluate/reports.js');
  const verdicts = store.currentVerdicts(runId);
  const approvals = store.approvals(runId);
  const gates = thePlan.nodes
    .filter((n) => n.kind === 'gate')
    .map((n) => {
      const v = verdicts.filter((x) => x.gate === n.gate!.id).at(-1);
      const a = approvals.filter((x) => x.gate === n.gate!.id).at(-1);
      return { gate: n.gate!.id, stage: n.stage, verdict: v?.verdict ?? ('review' as const), rationale: v ? (JSON.parse(v.rationale) as string[]) : ['not decided: the run ended before this gate'], answer: a ? { decision: a.decision, actor: a.actor, reason: a.reason } : undefined };
    });
  // The steps too, so that a skipped one is <skipped message="why">, never a pass.
  const steps = store.getSteps(runId).filter((s) => s.kind === 'step').map((s) => ({ step: s.step_id, stage: s.stage, status: s.status, reason: s.error }));
  writeFileSync(file, gatesJunit(runId, gates, steps));
}

async function runWithStore(store: RunStore, opts: RunCommandOptions, fresh: Fresh | undefined, write: (l: string) => void, writeError: (l: string) => void): Promise<number> {
  const exitNow = opts.exitNow ?? ((code: number) => void (process.exitCode = code));
  const actor = currentActor();
  const opened = openRun(store, opts, fresh, actor, write, writeError);
  if (typeof opened === 'number') return opened;
  // From here on the run's options: this command line's, or the resumed run's (see resumeOptions).
  const given = opts;
  opts = {
    ...opts,
    gatePolicy: opened.options.gatePolicy ?? opts.gatePolicy,
    policyDefaulted: opened.options.policyDefaulted,
    junit: opened.options.junit,
    hostsFile: opened.options.hostsFile,
  };
  if (opened.resumed && !given.gatePolicyGiven && opts.gatePolicy !== given.gatePolicy && !opts.json) {
    if (opts.headless || !isInteractive()) write(`paddock resume: gates that need a person are answered by --gate-policy ${opts.gatePolicy}, as when run ${opened.runId} started (pass --gate-policy to change that)`);
  }
  if (opened.resumed) opts = { ...opts, policyDefaulted: false };
  const { runId, recipe, recipeFile } = opened;
  const baseDir = dirname(recipeFile);
  const thePlan: Plan = makePlan(recipe);
  store.planSteps(runId, thePlan.nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind })));
  recordRunSlices(store, runId, recipe, recipeFile);

  const controller = new AbortController();
  const front = await attachFrontEnd(store, opts, opened, thePlan, actor, controller, exitNow, write);
  const publishRun = (e: PaddockEvent) => {
    e.ts ??= Date.now();
    store.appendEvents(runId, [{ event: e, attempt: 0 }]);
    front.onEvent(e);
  };
  const offSignals = onStopSignals(controller, front.interactive, exitNow, writeError);

  publishRun({ v: 1, type: 'run', run: runId, status: opened.resumed ? 'resumed' : 'started' });
  let exitCode: number;
  let error: string | undefined;
  let runHosts: import('./run-hosts.js').RunHosts | undefined;
  try {
    if (recipe.targets.some((t) => t.host !== 'local')) {
      const { prepareRunHosts } = await import('./run-hosts.js');
      runHosts = await prepareRunHosts(recipe, recipeFile, runId, { hostsFile: opts.hostsFile, store, signal: controller.signal, log: (message) => publishRun({ v: 1, type: 'log', level: 'info', stream: 'paddock', message }) });
    }
    const result = await execute({
      plan: thePlan,
      runId,
      store,
      baseDir,
      runners: { inProcess: createInProcessRunner(), local: createLocalRunner(), forHost: runHosts?.forHost },
      builtin: builtinCommand(recipe, baseDir, runId),
      containerize: runHosts?.containerize,
      askGate: front.askGate,
      stepEnvironment: { PADDOCK_GATE_POLICY: front.interactive ? 'person' : opts.gatePolicy, PADDOCK_ACTOR: actor, PADDOCK_HOME: opts.home },
      signal: controller.signal,
      onEvent: front.onEvent,
    });
    exitCode = result.exitCode;
    error = result.error;
    store.finishRun(runId, result.status, exitCode, error);
    publishRun({ v: 1, type: 'run', run: runId, status: result.status, exitCode, error });
  } catch (err) {
    exitCode = 2;
    error = (err as Error).message;
    try {
      store.finishRun(runId, 'failed', 2, error);
      publishRun({ v: 1, type: 'run', run: runId, status: 'failed', exitCode: 2, error });
    } catch {
      // the store itself failed; the message below says why
    }
    writeError(`paddock: ${error}`);
  } finally {
    await runHosts?.close();
    offSignals();
  }
  if (!front.interactive) await front.end(exitCode, error);
  if (opts.junit) await writeJunit(store, runId, thePlan, opts.junit);
  if (front.interactive) await front.end(exitCode, error);
  if (!opts.json && !front.interactive) {
    write(`run ${runId} ${exitCode === 0 ? 'succeeded' : exitCode === 1 ? 'failed a gate' : 'failed'} (exit ${exitCode}); details: paddock show ${runId}`);
  }
  return exitCode;
}

/**
 * Steps of an interrupted run may still be running (paddock was SIGKILLed, its children were
 * not). Before a resume reruns them, stop those whose environment proves they belong to this
 * run (a recycled pid never matches).
 */
export function reapOrphans(store: RunStore, runId: string): string[] {
  const notes: string[] = [];
  for (const step of store.getSteps(runId)) {
    if (step.status !== 'running' || !step.pid || !isProcessAlive(step.pid)) continue;
    let environ = '';
    try {
      environ = readFileSync(`/proc/${step.pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!environ.split('\0').includes(`PADDOCK_RUN_ID=${runId}`)) continue;
    signalTree(step.pid, 'SIGKILL');
    notes.push(`paddock resume: stopped ${step.step_id} (pid ${step.pid}), still running from the interrupted run`);
  }
  return notes;
}

/**
 * Interactive = stdin and stdout are TTYs and CI is not set. STYLE.md also made TERM=dumb
 * headless; issue 6 asks for the TUI there, drawn in ASCII without color (theme.ts), and the
 * issue wins.
 */
export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI);
}
