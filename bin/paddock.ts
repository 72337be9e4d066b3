#!/usr/bin/env node
/**
 * paddock's command line. This module is kept tiny and imports nothing heavy at the top, so
 * that `paddock --help` starts fast on a vehicle computer over SSH (bench/startup.ts); each
 * command loads what it needs. The one owner of process.exit().
 */
import { parseArgs } from 'node:util';
// Text only (cli/command-help.ts imports nothing): the commands, their options and their help.
import { OPTIONS, checkOptions, commandHelp, commandWords, didYouMean, findCommand, globalHelp, type CommandHelp, type OptionToken } from '../cli/command-help.js';

const USAGE_ERROR = 2;

// A reader that goes away (`paddock runs | head`) must not crash a run: stop writing, go on.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

/** The command being run, once known: a usage error points at its help. */
let usageOf: CommandHelp | undefined;

/** A usage error: its message (after `who`), where to read more, exit 2. */
function fail(message: string, who = 'paddock'): never {
  process.stderr.write(`${who}: ${message}\nTry "paddock ${usageOf ? `${usageOf.name} ` : ''}--help".\n`);
  process.exit(USAGE_ERROR);
}

/** `unknown command "rnu"; did you mean "run"?` */
function unknownCommand(word: string): never {
  const guess = didYouMean(word, commandWords());
  fail(`unknown command "${word}"${guess ? `; did you mean "${guess}"?` : ''}`);
}

async function main(argv: string[]): Promise<number> {
  // A first, lenient pass finds the command and every option as typed, so that a mistyped or
  // misplaced option gets a "did you mean" (parseArgs's strict errors name neither command nor help).
  const loose = parseArgs({ args: argv, allowPositionals: true, strict: false, tokens: true, options: OPTIONS });
  const tokens = loose.tokens.filter((t): t is typeof t & OptionToken & { kind: 'option' } => t.kind === 'option');
  const helpWanted = tokens.some((t) => t.name === 'help' && (t.rawName === '--help' || t.rawName === '-h'));
  const [first, ...words] = loose.positionals;
  if (first === 'help') {
    // paddock help [<command>]
    if (words.length === 0) {
      process.stdout.write(globalHelp());
      return 0;
    }
    const asked = findCommand(words);
    if (!asked) unknownCommand(words[0]);
    process.stdout.write(commandHelp(asked));
    return 0;
  }
  usageOf = first === undefined ? undefined : findCommand(loose.positionals);
  if (first !== undefined && !usageOf) {
    // `paddock --frob x run`: the option is what went wrong, not the command "x".
    const wrong = checkOptions(undefined, tokens);
    if (wrong) fail(wrong);
    unknownCommand(first);
  }
  if (helpWanted) {
    process.stdout.write(usageOf ? commandHelp(usageOf) : globalHelp());
    return 0;
  }
  const wrong = checkOptions(usageOf, tokens);
  if (wrong) fail(wrong, usageOf ? `paddock ${usageOf.name}` : 'paddock');
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    fail((err as Error).message);
  }
  const { values, positionals } = parsed;
  // Step processes inherit it: their errors carry their stacks too.
  if (values.debug) process.env.PADDOCK_DEBUG = '1';
  const [command, ...rest] = positionals;
  if (!command && !values.version) {
    process.stdout.write(globalHelp());
    return 0;
  }
  if (values.version) {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`paddock ${pkg.version}\n`);
    return 0;
  }
  // The demo's release gate needs a person: headless, nobody is there, so the demo approves it
  // by policy unless told otherwise (recorded as actor "policy:approve", and said so).
  const policyDefaulted = values['gate-policy'] === undefined && command === 'demo';
  const policy = values['gate-policy'] ?? (command === 'demo' ? 'approve' : 'fail');
  if (!['fail', 'approve', 'reject'].includes(policy)) fail(`--gate-policy must be fail, approve or reject, not "${policy}"`);
  let concurrency: number | undefined;
  if (values.concurrency !== undefined) {
    concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) fail(`--concurrency must be an integer from 1 to 256, not "${values.concurrency}"`);
  }
  const { defaultHome } = await import('../src/store/run-store.js');
  const home = defaultHome();
  const common = {
    headless: Boolean(values.headless || values.json),
    json: Boolean(values.json),
    gatePolicy: policy as 'fail' | 'approve' | 'reject',
    // A resume goes on with the run's own policy unless one is given here.
    gatePolicyGiven: values['gate-policy'] !== undefined,
    home,
    concurrency,
    junit: values.junit,
    host: values.host,
    hostsFile: values.hosts,
    // The second Ctrl+C and a forced quit end the process here, its one owner of exit().
    exitNow: (code: number) => process.exit(code),
    policyDefaulted,
  };

  switch (command) {
    case 'steps': {
      if (rest.length) fail(`unexpected argument "${rest[0]}"`);
      const { stepsCommand } = await import('../cli/steps.js');
      return stepsCommand({ json: Boolean(values.json) });
    }
    case 'verify': {
      if (rest.length !== 1) fail('verify needs one pack directory: paddock verify <pack-dir>');
      const { verifyCommand } = await import('../cli/verify.js');
      return verifyCommand(rest[0], { keys: [...(values.key ?? []), ...(values.keyring ?? [])], strict: Boolean(values.strict), json: Boolean(values.json) });
    }
    case 'package':
    case 'run':
    case 'demo':
    case 'resume': {
      const arg = rest[0];
      if ((command === 'run' || command === 'package') && !arg) fail(`${command} needs a recipe file: paddock ${command} <recipe.yaml>`);
      if (values.target !== undefined && command !== 'package') fail('--target goes with paddock package');
      if (command === 'resume' && !arg) fail('resume needs a run id: paddock resume <run-id> (paddock runs lists them)');
      if (rest.length > (command === 'demo' ? 0 : 1)) fail(`unexpected argument "${rest[command === 'demo' ? 0 : 1]}"`);
      if (typeof values.registry === 'string') {
        // The promote stage's steps run in other processes: they find the registry in the environment (src/steps/promote/registry-common.ts).
        const { resolve } = await import('node:path');
        process.env.PADDOCK_REGISTRY = /^postgres(ql)?:\/\//.test(values.registry) ? values.registry : resolve(values.registry);
      }
      const { runCommand } = await import('../cli/run-command.js');
      const { RecipeError } = await import('../src/schema/recipe-load.js');
      const { LineageError } = await import('../src/pipeline/lineage.js');
      const { PlanError } = await import('../src/pipeline/plan.js');
      try {
        if (command === 'resume') return await runCommand({ ...common, resumeId: arg });
        let recipePath = arg;
        let demoOutputs: string | undefined;
        if (command === 'demo') {
          const { installRoot } = await import('../src/files/install-root.js');
          const { join, sep } = await import('node:path');
          const { homedir } = await import('node:os');
          // --full: the same recipe with the long figures (fixtures/demo/paddock.full.yaml, docs/benchmarks.md "Demo time").
          recipePath = join(installRoot(), 'fixtures', 'demo', values.full ? 'paddock.full.yaml' : 'paddock.yaml');
          // Installed (npm install -g): outputs go to a cache folder, never into the install directory.
          const installed = installRoot().split(sep).includes('node_modules');
          demoOutputs = process.env.PADDOCK_DEMO_DIR || (installed ? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'paddock', 'demo') : undefined);
          // The demo policy's approver at the keyboard (cli/demo-approver.ts): its key, beside the demo's others.
          const { ensureDemoApprover } = await import('../cli/demo-approver.js');
          ensureDemoApprover(join(demoOutputs ?? join(installRoot(), 'build'), 'keys'));
          // The registry screen judges approvals by the demo's policy (relocated beside the outputs when installed).
          process.env.PADDOCK_REGISTRY_POLICY ??= demoOutputs ? join(demoOutputs, 'registry-policy.yaml') : join(installRoot(), 'fixtures', 'demo', 'registry-policy.yaml');
        }
        return await runCommand({ ...common, recipePath, demoOutputs, ...(command === 'package' ? { packageOnly: { target: values.target } } : {}) });
      } catch (err) {
        if (err instanceof RecipeError || err instanceof LineageError || err instanceof PlanError) {
          process.stderr.write(`paddock: ${err.message}\n`);
          return 2;
        }
        throw err;
      }
    }
    case 'runs': {
      if (rest.length) fail(`unexpected argument "${rest[0]}"`);
      let limit = 30;
      if (values.limit !== undefined) {
        limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) fail(`--limit must be a positive integer, not "${values.limit}"`);
      }
      const { listRuns } = await import('../cli/show.js');
      return listRuns(home, { json: common.json, limit });
    }
    case 'show': {
      if (!rest[0]) fail('show needs a run id: paddock show <run-id>');
      const { showRun } = await import('../cli/show.js');
      return showRun(home, rest[0], { json: common.json });
    }
    case 'infer': {
      if (!values.model || !values.manifest || !values.out) fail('infer needs --model <dir> --manifest <manifest.jsonl> --out <results.json>');
      let limit: number | undefined;
      if (values.limit !== undefined) {
        limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) fail(`--limit must be a positive integer, not "${values.limit}"`);
      }
      const { inferCommand } = await import('../cli/infer.js');
      return inferCommand({ model: values.model, manifest: values.manifest, out: values.out, json: common.json, limit });
    }
    case 'world': {
      if (rest[0] !== 'build') fail('world needs a command: paddock world build [--out DIR]');
      const { worldBuild } = await import('../cli/world-build.js');
      return worldBuild({ out: values.out, tiny: Boolean(values.tiny), json: common.json });
    }
    case 'eval': {
      if (rest[0] !== 'coco' && rest[0] !== 'tracking') fail(`eval needs a kind: paddock eval coco --gt <gt.json> --dt <results.json>, or paddock eval tracking --gt <gt.txt> --tracker <results.txt>${rest[0] ? ` (not "${rest[0]}")` : ''}`);
      if (rest.length > 1) fail(`unexpected argument "${rest[1]}"`);
      if (rest[0] === 'tracking') {
        if (!values.gt || !values.tracker) fail('eval tracking needs --gt <gt.txt> and --tracker <results.txt>');
        const { evalTracking } = await import('../cli/eval-tracking.js');
        return evalTracking({ gt: values.gt, tracker: values.tracker, frames: values.frames, json: common.json });
      }
      if (!values.gt || !values.dt) fail('eval coco needs --gt <gt.json> and --dt <results.json>');
      const { evalCoco } = await import('../cli/eval-coco.js');
      return evalCoco({ gt: values.gt, dt: values.dt, json: common.json });
    }
    case 'failures': {
      if (!rest[0]) fail('failures needs a run id: paddock failures <run-id> (paddock runs lists them)');
      if (rest.length > 1) fail(`unexpected argument "${rest[1]}"`);
      const { failuresCommand } = await import('../cli/failures.js');
      return failuresCommand({ home, runId: rest[0], slice: values.slice, kind: values.kind, json: common.json });
    }
    case 'ui': {
      if (rest.length > 1) fail(`unexpected argument "${rest[1]}"`);
      const { uiCommand } = await import('../cli/ui.js');
      return uiCommand({ home, runId: rest[0] });
    }
    case 'registry':
    case 'promote':
    case 'rollback': {
      const { registryCli } = await import('../cli/registry.js');
      return registryCli(command, rest, values, home);
    }
    case 'audit': {
      const { auditCli } = await import('../cli/audit.js');
      return auditCli(rest, values, home);
    }
    case 'hosts': {
      if (rest.length) fail(`unexpected argument "${rest[0]}"`);
      const { hostsCommand } = await import('../cli/hosts.js');
      return hostsCommand({ hostsFile: values.hosts, json: common.json });
    }
    case 'images': {
      if (rest[0] !== 'build') fail('images needs a command: paddock images build [--host NAME]');
      if (rest.length > 1) fail(`unexpected argument "${rest[1]}"`);
      const { imagesBuildCommand } = await import('../cli/hosts.js');
      return imagesBuildCommand({ hostsFile: values.hosts, host: values.host });
    }
    default:
      unknownCommand(command);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (err: unknown) => {
    // A bad input is its message; a bug says so; the stack only under --debug or PADDOCK_DEBUG.
    const { describeError, debugWanted } = await import('../src/files/input-error.js');
    // A damaged run store that a query (not the open) ran into: its one message, not a stack.
    const { asStoreError, defaultHome } = await import('../src/store/run-store.js');
    const { join } = await import('node:path');
    process.stderr.write(`paddock: ${describeError(asStoreError(err, join(defaultHome(), 'runs.sqlite')) ?? err, debugWanted())}\n`);
    process.exitCode = 2;
  },
);
