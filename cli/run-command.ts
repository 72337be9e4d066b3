/**
 * `paddock run`, `paddock demo` and `paddock resume`: load (or reload) a recipe, plan it,
 * execute it with the TUI or a headless reporter, and turn the outcome into an exit code.
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
import { RunStore, newRunId } from '../src/store/run-store.js';
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
  home: string;
  concurrency?: number;
  /** Write the gates' verdicts as JUnit XML here when the run ends. */
  junit?: string;
  /** Run every target on this host (a name from hosts.yaml, or "docker" for the local engine). */
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
export function builtinCommand(recipe: Recipe, baseDir: string) {
  const entry = join(installRoot(), 'dist', 'step.js');
  return (node: PlanNode) => {
    const step = node.step!;
    if (!('uses' in step)) throw new Error(`${node.id} is not a built-in step`);
    if (!existsSync(entry)) throw new Error(`paddock's built-in steps are not built (${entry} is missing): run "npm run build"`);
    const def = findStep(step.uses);
    if (!def) throw new Error(`${node.id}: unknown built-in step ${JSON.stringify(step.uses)}`);
    return def.invoke(step.with, { stepId: step.id, recipe, baseDir, target: node.target, entry: [process.execPath, entry] });
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
    if (opts.demoOutputs) {
      const { relocateDemoOutputs } = await import('./recipe-rewrite.js');
      loaded.text = relocateDemoOutputs(loaded.text, opts.demoOutputs);
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
    const lineage = await resolveLineage(recipe, dirname(recipeFile), recipeFile);
    fresh = { recipeFile, recipe, text: loaded.text, gatesText: loaded.gatesText, lineage };
  }
  const store = new RunStore(opts.home);
  try {
    return await runWithStore(store, opts, fresh, write, writeError);
  } finally {
    store.close();
  }
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
}

/** Opens the run: records a fresh one, or checks and reopens the one to resume; a number is the exit code when there is nothing to run. */
function openRun(store: RunStore, opts: RunCommandOptions, fresh: Fresh | undefined, actor: string, write: (l: string) => void, writeError: (l: string) => void): OpenedRun | number {
  if (opts.resumeId) {
    const row = store.findRun(opts.resumeId);
    if (!row) {
      writeError(`paddock resume: no run "${opts.resumeId}" in ${store.home} (paddock runs lists them)`);
      return 2;
    }
    if (row.status === 'succeeded') {
      write(`run ${row.id} already succeeded; nothing to resume`);
      return 0;
    }
    if (row.status === 'running' && row.pid && row.pid !== process.pid && isProcessAlive(row.pid)) {
      writeError(`paddock resume: run ${row.id} is still running (pid ${row.pid})`);
      return 2;
    }
    const recipe = parseRecipe(row.recipe_text, row.recipe_path, { gatesText: row.gates_text ?? undefined });
    for (const line of reapOrphans(store, row.id)) writeError(line);
    store.reopenRun(row.id);
    return { runId: row.id, recipe, recipeFile: row.recipe_path, resumed: true };
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
  });
  return { runId, recipe: f.recipe, recipeFile: f.recipeFile, resumed: false };
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
    const ui = startRunApp({
      runId: run.runId,
      plan: thePlan,
      broker,
      actor,
      resumedSteps: store.getSteps(run.runId),
      store,
      onCancel: () => controller.abort(),
      onForceQuit: () => {
        killActiveChildren();
        exitNow(2);
      },
    });
    return { interactive: true, onEvent: (e) => ui.onEvent(e), askGate: (req) => broker.request(req.gate, req.decision, req.signal), end: () => ui.done() };
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
  writeFileSync(file, gatesJunit(runId, gates));
}

async function runWithStore(store: RunStore, opts: RunCommandOptions, fresh: Fresh | undefined, write: (l: string) => void, writeError: (l: string) => void): Promise<number> {
  const exitNow = opts.exitNow ?? ((code: number) => void (process.exitCode = code));
  const actor = currentActor();
  const opened = openRun(store, opts, fresh, actor, write, writeError);
  if (typeof opened === 'number') return opened;
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
      runHosts = await prepareRunHosts(recipe, recipeFile, runId, { hostsFile: opts.hostsFile, log: (message) => publishRun({ v: 1, type: 'log', level: 'info', stream: 'paddock', message }) });
    }
    const result = await execute({
      plan: thePlan,
      runId,
      store,
      baseDir,
      runners: { inProcess: createInProcessRunner(), local: createLocalRunner(), forHost: runHosts?.forHost },
      builtin: builtinCommand(recipe, baseDir),
      containerize: runHosts?.containerize,
      askGate: front.askGate,
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
