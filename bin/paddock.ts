#!/usr/bin/env node
/**
 * paddock's command line. This module is kept tiny and imports nothing heavy at the top, so
 * that `paddock --help` starts fast on a vehicle computer over SSH (bench/startup.ts); each
 * command loads what it needs. The one owner of process.exit().
 */
import { parseArgs } from 'node:util';

const HELP = `paddock - take a perception model from candidate to production

Usage:
  paddock demo [--headless] [--json] [--gate-policy P] [--host NAME]
                                                         run the built-in demo recipe
  paddock run <recipe.yaml> [--headless] [--json] [--gate-policy P] [--concurrency N] [--host NAME]
  paddock package <recipe.yaml> [--target NAME] [--headless] [--json]
                                                         the package stage only: export, variants,
                                                         equivalence, benchmarks, Triton, SBOM, signing
  paddock verify <pack-dir> [--key FILE]... [--strict] [--json]
                                                         check a pack's signer, signature and
                                                         every file's sha256
  paddock steps [--json]                                 the built-in steps: stage, where they run, what they do
  paddock resume <run-id> [--headless] [--json] [--gate-policy P] [--junit FILE] [--concurrency N]
                                                         go on with a stopped run, with the options
                                                         it was started with unless given here
  paddock runs [--json] [--limit N]                      list recent runs
  paddock show <run-id> [--json]                         steps, metrics, verdicts, approvals
  paddock world build [--out DIR] [--tiny]                render the built-in world's datasets
  paddock eval coco --gt <gt.json> --dt <results.json> [--json]
                                                         COCO bbox metrics, pycocotools's numbers
  paddock infer --model <dir> --manifest <m.jsonl> --out <results.json> [--limit N]
                                                         run a model over a manifest (its contract)
  paddock ui [<run-id>]                                  the workbench: runs, steps, latency, slices,
                                                         failures, gates (needs a terminal)
  paddock hosts [--hosts FILE] [--json]                  Docker hosts: reachable, version, images, GPUs
  paddock images build [--host NAME]                     build paddock's step image on a host

Options:
  --headless         no TUI: one line per event (automatic when not on a terminal or CI is set)
  --json             NDJSON events on stdout (implies --headless)
  --junit FILE       write the gates' verdicts as JUnit XML (for CI systems)
  --gate-policy P    how headless runs answer gates that need a person:
                     fail (default: such a gate fails), approve, reject;
                     the demo's default is approve (its release gate needs sign-off)
  --target NAME      paddock package: only this target of the recipe
  --key FILE         paddock verify: a keyring file (PEM public keys) of publishers to
                     trust; repeatable, also --keyring (default: $PADDOCK_TRUSTED_KEYS,
                     else ~/.config/paddock/trusted-keys.pem; none: self-consistency only)
  --strict           paddock verify: fail when no trusted key is configured
  --host NAME        run every target's steps on this Docker host (from hosts.yaml;
                     "docker" is the local engine) instead of where the recipe says
  --hosts FILE       the hosts file (default: $PADDOCK_HOSTS, hosts.yaml beside the
                     recipe, ~/.config/paddock/hosts.yaml)
  --debug            print the stack of an error (also PADDOCK_DEBUG=1)
  -h, --help         this help
  --version          paddock's version

Environment:
  PADDOCK_HOME       the run store (default ./.paddock)
  PADDOCK_HOSTS      the hosts file
  PADDOCK_TRUSTED_KEYS  a keyring file of the publishers' public keys that verify, verify-pack
                     and publish trust
  PADDOCK_DEMO_DIR   where the demo writes its world, pack, keys and evaluation (default:
                     the checkout's build/; installed: ~/.cache/paddock/demo)
  NO_COLOR           monochrome TUI

Exit status: 0 ok, 1 a gate failed or was rejected, 2 an error.
Docs: docs/ (events.md: the event protocol every step speaks).
`;

const USAGE_ERROR = 2;

// A reader that goes away (`paddock runs | head`) must not crash a run: stop writing, go on.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

function fail(message: string): never {
  process.stderr.write(`paddock: ${message}\nTry "paddock --help".\n`);
  process.exit(USAGE_ERROR);
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        headless: { type: 'boolean' },
        json: { type: 'boolean' },
        'gate-policy': { type: 'string' },
        concurrency: { type: 'string' },
        junit: { type: 'string' },
        limit: { type: 'string' },
        gt: { type: 'string' },
        out: { type: 'string' },
        model: { type: 'string' },
        manifest: { type: 'string' },
        tiny: { type: 'boolean' },
        dt: { type: 'string' },
        host: { type: 'string' },
        hosts: { type: 'string' },
        target: { type: 'string' },
        key: { type: 'string', multiple: true },
        keyring: { type: 'string', multiple: true },
        strict: { type: 'boolean' },
        debug: { type: 'boolean' },
      },
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const { values, positionals } = parsed;
  // Step processes inherit it: their errors carry their stacks too.
  if (values.debug) process.env.PADDOCK_DEBUG = '1';
  const [command, ...rest] = positionals;
  if (values.help || command === 'help' || (!command && !values.version)) {
    process.stdout.write(HELP);
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
          recipePath = join(installRoot(), 'fixtures', 'demo', 'paddock.yaml');
          // Installed (npm install -g): outputs go to a cache folder, never into the install directory.
          const installed = installRoot().split(sep).includes('node_modules');
          demoOutputs = process.env.PADDOCK_DEMO_DIR || (installed ? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'paddock', 'demo') : undefined);
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
      if (rest[0] !== 'coco') fail(`eval needs a kind: paddock eval coco --gt <gt.json> --dt <results.json>${rest[0] ? ` (not "${rest[0]}")` : ''}`);
      if (rest.length > 1) fail(`unexpected argument "${rest[1]}"`);
      if (!values.gt || !values.dt) fail('eval coco needs --gt <gt.json> and --dt <results.json>');
      const { evalCoco } = await import('../cli/eval-coco.js');
      return evalCoco({ gt: values.gt, dt: values.dt, json: common.json });
    }
    case 'ui': {
      if (rest.length > 1) fail(`unexpected argument "${rest[1]}"`);
      const { uiCommand } = await import('../cli/ui.js');
      return uiCommand({ home, runId: rest[0] });
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
      fail(`unknown command "${command}"`);
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
