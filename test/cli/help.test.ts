/**
 * The command line's help and usage errors, through the real binary (dist/paddock.js): every
 * command's own help (`paddock <cmd> --help`, `paddock help <cmd>`), "did you mean" for a
 * mistyped option and command, and recipe errors found after loading (a model file missing, a
 * sha256 that does not match) located at the recipe's line and column.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paddock } from '../helpers/cli.js';
import { MODEL_V1, ROOT, tempDir } from '../helpers/fixtures.js';
import { COMMANDS, commandWords, didYouMean } from '../../cli/command-help.js';

const NO_STORE = { PADDOCK_HOME: '/tmp/paddock-help-never-created' };

/** The options a help text's "Options:" section lists: --name, in order. */
function listedOptions(help: string): string[] {
  const section = help.split('\nOptions:\n')[1].split('\n\n')[0];
  return [...section.matchAll(/^ {2}(?:-h, )?(--[a-z-]+)/gm)].map((m) => m[1]);
}

describe('paddock <command> --help and paddock help <command>', () => {
  it('the dispatch in bin/paddock.ts and the help table name the same commands', () => {
    const src = readFileSync(join(ROOT, 'bin', 'paddock.ts'), 'utf8');
    const dispatched = [...src.slice(src.indexOf('switch (command)')).matchAll(/^ {4}case '([a-z-]+)':/gm)].map((m) => m[1]);
    expect(new Set(dispatched)).toEqual(new Set(commandWords().filter((w) => w !== 'help')));
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s: its usage, options and examples, the same both ways, within 80 columns', async (name, command) => {
    const viaFlag = await paddock([...name.split(' '), '--help'], NO_STORE);
    const viaHelp = await paddock(['help', ...name.split(' ')], NO_STORE);
    const viaShort = await paddock([...name.split(' '), '-h'], NO_STORE);
    for (const r of [viaFlag, viaHelp, viaShort]) {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
    }
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaShort.stdout).toBe(viaFlag.stdout);
    const help = viaFlag.stdout;
    expect(help.startsWith(`Usage: paddock ${name}`)).toBe(true);
    for (const line of help.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    // Its own options, then --debug and --help; not the global help.
    const own = command.options.map((o) => `--${typeof o === 'string' ? o : o[0]}`);
    expect(listedOptions(help)).toEqual([...own, '--debug', '--help']);
    expect(help).not.toContain('Environment:');
    const examples = help.split('\nExamples:\n')[1].split('\n\n')[0];
    const commands = examples.split('\n').filter((l) => /^ {2}paddock /.test(l));
    expect(commands.length).toBeGreaterThanOrEqual(1);
    expect(commands.length).toBeLessThanOrEqual(3);
    for (const example of commands) {
      expect(example.trim().startsWith(`paddock ${name}`), example).toBe(true);
      // An example uses only options the command takes.
      for (const flag of example.match(/--[a-z-]+/g) ?? []) expect(own, `${example}: ${flag}`).toContain(flag);
    }
    expect(help).toMatch(/\nExit status: 0 /);
  });

  it('paddock --help lists every command within 80 columns and points at the per-command help', async () => {
    const r = await paddock(['--help'], NO_STORE);
    expect(r.exitCode).toBe(0);
    for (const line of r.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    for (const c of COMMANDS) expect(r.stdout).toContain(`  paddock ${c.name}`);
    expect(r.stdout).toContain('  paddock failures <run-id> [--slice S] [--kind K] [--json]\n');
    expect(r.stdout).toContain('"paddock help <command>" or "paddock <command> --help"');
    expect((await paddock(['help'], NO_STORE)).stdout).toBe(r.stdout);
    expect(existsSync(NO_STORE.PADDOCK_HOME)).toBe(false);
  });
});

describe('did you mean', () => {
  it.each([
    ['gate-polcy', ['gate-policy', 'junit', 'json'], 'gate-policy'],
    ['jsno', ['json', 'junit'], 'json'],
    ['limt', ['limit', 'json'], 'limit'],
    ['rnu', ['run', 'runs', 'resume'], 'run'],
    ['shwo', ['show', 'steps'], 'show'],
    ['gate', ['gate-policy', 'json'], 'gate-policy'],
    ['frobnicate', commandWords(), undefined],
    ['bogus', ['json', 'limit', 'host', 'hosts'], undefined],
    ['x', ['ui', 'run'], undefined],
  ])('%s among %j: %s', (word, candidates, expected) => {
    expect(didYouMean(word, candidates)).toBe(expected);
  });

  it.each([
    [['runs', '--limt', '3'], 'paddock runs: unknown option --limt; did you mean --limit?', 'paddock runs --help'],
    [['run', 'x.yaml', '--gate-polcy', 'approve'], 'paddock run: unknown option --gate-polcy; did you mean --gate-policy?', 'paddock run --help'],
    [['show', 'r-1', '--limit', '3'], 'paddock show: --limit is not an option of paddock show (its options: --json)', 'paddock show --help'],
    [['runs', '--limit'], 'paddock runs: --limit needs a value: --limit N', 'paddock runs --help'],
    [['runs', '--bogus'], 'paddock runs: unknown option --bogus\n', 'paddock runs --help'],
    [['rnu', 'x.yaml'], 'paddock: unknown command "rnu"; did you mean "run"?', 'paddock --help'],
    [['help', 'shwo'], 'paddock: unknown command "shwo"; did you mean "show"?', 'paddock --help'],
    [['frobnicate'], 'paddock: unknown command "frobnicate"\n', 'paddock --help'],
  ])('%j: exit 2, "%s", and where the help is', async (args, message, helpCommand) => {
    const r = await paddock(args, NO_STORE);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain(`Try "${helpCommand}".`);
    // Node's own parseArgs wording never reaches the user.
    expect(r.stderr).not.toMatch(/To specify a positional argument/);
    expect(existsSync(NO_STORE.PADDOCK_HOME)).toBe(false);
  });
});

describe('recipe errors found after loading name the line and column of the value', () => {
  const recipe = (models: string) => `version: 1\nname: located\nmodels:\n${models}stages:\n  package:\n    - { id: only, run: [${JSON.stringify(process.execPath)}, -e, "0"] }\n`;

  it('a model file that does not exist: the path, where it was written, and what it is relative to', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'paddock.yaml');
      writeFileSync(file, recipe('  tiny:\n    version: 1.0.0\n    onnx: { path: models/missing.onnx }\n    lineage: { dataset: placeholder }\n'));
      const r = await paddock(['run', file, '--headless'], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode).toBe(2);
      // Line 6, column 19: where "models/missing.onnx" starts in `    onnx: { path: models/missing.onnx }`.
      expect(r.stderr).toContain(`paddock: ${file}:6:19 models.tiny.onnx.path: file not found: ${join(dir, 'models', 'missing.onnx')} ("models/missing.onnx" is relative to the recipe's folder, ${dir})`);
      expect(existsSync(join(dir, 'home'))).toBe(false);
    } finally {
      cleanup();
    }
  });

  it('a sha256 that does not match the file: both digests, at the line of the recipe\'s', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'paddock.yaml');
      const real = createHash('sha256').update(readFileSync(MODEL_V1)).digest('hex');
      const wrong = 'ab'.repeat(32);
      writeFileSync(
        file,
        recipe(`  tiny:\n    version: 1.0.0\n    onnx: { path: ${JSON.stringify(MODEL_V1)}, sha256: ${real} }\n    checkpoint:\n      path: ${JSON.stringify(MODEL_V1)}\n      sha256: ${wrong}\n    lineage: { dataset: placeholder }\n`),
      );
      const r = await paddock(['package', file, '--json'], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode).toBe(2);
      // The onnx digest matches; the checkpoint's, on line 9 after `      sha256: `, does not.
      expect(r.stderr).toContain(`paddock: ${file}:9:15 models.tiny.checkpoint.sha256: the recipe says ${wrong}, but ${MODEL_V1} has ${real}`);
      expect(r.stdout).toBe('');
      expect(existsSync(join(dir, 'home'))).toBe(false);
    } finally {
      cleanup();
    }
  });
});
