/**
 * The sbatch arguments and batch scripts of src/engines/slurm-script.ts: table-driven per
 * resource and per runtime; every generated script passes `sh -n`; arguments with spaces,
 * quotes, `$` and newlines reach the command unchanged (the process runtime's script run by sh,
 * and stand-in docker/apptainer/enroot programs that print the argv they were given).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batchScript, sbatchArgs, sbatchCommandLine, shQuote, slurmTime, type SlurmBatch } from '../../src/engines/slurm-script.js';

const tmp = mkdtempSync(join(tmpdir(), 'paddock-slurm-script-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A program that prints {prog, args, env} as JSON: the argv a runtime CLI would get. */
const argvJs = join(tmp, 'argv.js');
writeFileSync(argvJs, `const env = {};
for (const k of ['SLURM_ARRAY_TASK_ID', 'MSG', 'PLAIN', 'NVIDIA_VISIBLE_DEVICES']) if (process.env[k] !== undefined) env[k] = process.env[k];
process.stdout.write(JSON.stringify({ prog: process.argv[2], args: process.argv.slice(3), env }));
`);
const fakeBin = join(tmp, 'bin');
execFileSync('mkdir', ['-p', fakeBin]);
for (const prog of ['docker', 'apptainer', 'enroot']) {
  const f = join(fakeBin, prog);
  writeFileSync(f, `#!/bin/sh\nexec ${shQuote(process.execPath)} ${shQuote(argvJs)} ${prog} "$@"\n`);
  chmodSync(f, 0o755);
}

/** Words that break naive quoting. */
const NASTY = ['a b', "it's", '$HOME', '"dq"', '`echo hi`', '$(id)', '\\back\\slash', 'new\nline', '*', '', '-e', '--x=1', '#hash', '~', 'ü', "''", '!bang', ';', '&&', 'A=1', '\t'];

function batch(over: Partial<SlurmBatch> = {}): SlurmBatch {
  return {
    name: 'eval-7', tasks: 6, concurrency: 2, resources: {}, requeue: true, outputDir: '/shared/runs/7/slurm',
    runtime: { kind: 'process' }, command: ['paddock', 'step', '--job', 'x'], env: {}, ...over,
  };
}

function runScript(script: string, env: Record<string, string> = {}): { prog: string; args: string[]; env: Record<string, string> } {
  const file = join(tmp, `s-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, script);
  const out = execFileSync('sh', [file], {
    encoding: 'utf8',
    env: { PATH: `${fakeBin}:${process.env.PATH}`, SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_JOB_ID: '41', SLURM_JOB_ID: '44', SLURM_JOB_GPUS: '0,2' },
  });
  return JSON.parse(out);
}

describe('shQuote', () => {
  it.each([
    ['plain', 'plain'], ['/a/b.c', '/a/b.c'], ['--gres=gpu:1', "'--gres=gpu:1'"], ['a b', "'a b'"], ["it's", "'it'\\''s'"], ['', "''"], ['$X', "'$X'"],
  ])('%j -> %s', (word, want) => {
    expect(shQuote(word)).toBe(want);
  });

  it('round-trips every nasty word through sh -c', () => {
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${NASTY.map(shQuote).join(' ')}`], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(NASTY);
  });
});

describe('slurmTime', () => {
  it.each([[1, '0-00:00:01'], [59.2, '0-00:01:00'], [3661, '0-01:01:01'], [86_400, '1-00:00:00'], [90_061, '1-01:01:01'], [7 * 86_400, '7-00:00:00']])('%s s -> %s', (s, want) => {
    expect(slurmTime(s)).toBe(want);
  });
});

describe('sbatchArgs', () => {
  const tail = ['--output=/shared/runs/7/slurm/%A_%a.out', '--error=/shared/runs/7/slurm/%A_%a.err', '--open-mode=append'];
  it.each<[string, Partial<SlurmBatch>, string[]]>([
    ['no resources', {}, ['--requeue']],
    ['cpus', { resources: { cpus: 4 } }, ['--cpus-per-task=4', '--requeue']],
    ['memory', { resources: { memory_mb: 8192 } }, ['--mem=8192M', '--requeue']],
    ['gpus', { resources: { gpus: 2 } }, ['--gres=gpu:2', '--requeue']],
    ['no gpus', { resources: { gpus: 0 } }, ['--requeue']],
    ['time limit', { resources: { time_limit_s: 5400 } }, ['--time=0-01:30:00', '--requeue']],
    ['partition, account, qos', { resources: { partition: 'gpu-a100', account: 'perception', qos: 'high' } }, ['--partition=gpu-a100', '--account=perception', '--qos=high', '--requeue']],
    ['everything, no requeue, workDir', { resources: { cpus: 8, memory_mb: 32_000, gpus: 1, time_limit_s: 3600, partition: 'p' }, requeue: false, workDir: '/shared/runs/7' },
      ['--cpus-per-task=8', '--mem=32000M', '--gres=gpu:1', '--time=0-01:00:00', '--partition=p', '--no-requeue', '--chdir=/shared/runs/7']],
  ])('%s', (_what, over, middle) => {
    expect(sbatchArgs(batch(over))).toEqual(['--parsable', '--job-name=eval-7', '--array=0-5%2', ...middle, ...tail]);
  });

  it.each([[1, 1, '0'], [6, 2, '0-5%2'], [10, 10, '0-9%10'], [3, 8, '0-2%8']])('%s tasks at %s -> --array=%s', (tasks, concurrency, spec) => {
    expect(sbatchArgs(batch({ tasks, concurrency }))[2]).toBe(`--array=${spec}`);
  });

  it('writes the command line quoted for sh', () => {
    expect(sbatchCommandLine(batch({ resources: { gpus: 1 } }), '/shared/runs/7/slurm/batch.sh')).toBe(
      "sbatch --parsable '--job-name=eval-7' '--array=0-5%2' '--gres=gpu:1' --requeue '--output=/shared/runs/7/slurm/%A_%a.out' '--error=/shared/runs/7/slurm/%A_%a.err' '--open-mode=append' /shared/runs/7/slurm/batch.sh",
    );
  });

  it.each<[Partial<SlurmBatch>, string]>([
    [{ name: 'a b' }, 'name: letters, digits and ._+- only'],
    [{ tasks: 0 }, 'tasks: expected a whole number >= 1, got 0'],
    [{ concurrency: 1.5 }, 'concurrency: expected a whole number >= 1, got 1.5'],
    [{ resources: { memory_mb: -1 } }, 'resources.memory_mb: expected a whole number >= 1, got -1'],
    [{ resources: { time_limit_s: 0 } }, 'resources.time_limit_s: expected a positive number of seconds, got 0'],
    [{ resources: { partition: 'a b' } }, 'resources.partition: unexpected characters in "a b"'],
    [{ outputDir: 'rel/dir' }, 'outputDir: must be absolute, got "rel/dir"'],
    [{ outputDir: '/x/%j' }, 'outputDir: may not hold %'],
    [{ command: [] }, 'command: empty'],
    [{ env: { 'BAD-NAME': 'x' } }, 'env: "BAD-NAME" is not a variable name'],
    [{ env: { SLURM_ARRAY_TASK_ID: '1' } }, 'env: SLURM_ARRAY_TASK_ID is set by Slurm or the script'],
    [{ runtime: { kind: 'docker', image: 'img', mounts: [{ source: '/a:b', target: '/b' }] } }, 'runtime.mounts: "/a:b:/b": paths without ":" or ","'],
    [{ runtime: { kind: 'apptainer', image: 'img.sif', binds: [{ source: '/a,b', target: '/b' }] } }, 'runtime.binds: "/a,b:/b"'],
    [{ runtime: { kind: 'enroot', image: 'img.sqsh', mounts: [{ source: '/a', target: 'rel' }] } }, 'runtime.mounts: "/a:rel": paths without ":" or ",", target absolute'],
    [{ runtime: { kind: 'docker', image: 'img', gpus: true } }, 'runtime.gpus: the batch asks Slurm for no GPUs (resources.gpus)'],
  ])('rejects %j', (over, message) => {
    expect(() => sbatchArgs(batch(over))).toThrow(`Slurm batch ${JSON.stringify(over.name ?? 'eval-7')}: ${message}`);
    expect(() => batchScript(batch(over))).toThrow(message);
  });
});

describe('batchScript', () => {
  const env = { MSG: "it's $HOME and \"q\"", PLAIN: 'x' };
  const cmd = ['paddock', 'step', 'run', '--job-index', 'from-env'];
  const envLines = `export MSG='it'\\''s $HOME and "q"'\nexport PLAIN=x\n`;
  const head = (kind: string) => `#!/bin/sh
# paddock batch eval-7: 6 task(s) as one Slurm job array, runtime ${kind}.
# Generated by src/engines/slurm-script.ts; submitted as: sbatch <sbatchArgs> <this file>.
# SLURM_ARRAY_TASK_ID (0..tasks-1) tells the command which job of the batch it runs.
set -eu
: "\${SLURM_ARRAY_TASK_ID:?not a Slurm array task}"
`;
  const gpuCheck = ': "${SLURM_JOB_GPUS:?no GPUs allocated to this task (SLURM_JOB_GPUS unset)}"\n';
  const TASK = ['SLURM_ARRAY_JOB_ID', 'SLURM_ARRAY_TASK_ID', 'SLURM_JOB_ID', 'SLURM_RESTART_COUNT'];

  it.each<[string, Partial<SlurmBatch>, string, { prog: string; args: string[] } | undefined]>([
    ['process', {}, `${envLines}exec paddock step run --job-index from-env\n`, undefined],
    ['docker', { runtime: { kind: 'docker', image: 'ghcr.io/acme/paddock:1.2', mounts: [{ source: '/shared/runs', target: '/runs' }, { source: '/data', target: '/data' }] } },
      `${envLines}exec docker run --rm --name "paddock-eval-7-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID" -v /shared/runs:/runs -v /data:/data -e SLURM_ARRAY_JOB_ID -e SLURM_ARRAY_TASK_ID -e SLURM_JOB_ID -e SLURM_RESTART_COUNT -e MSG -e PLAIN ghcr.io/acme/paddock:1.2 paddock step run --job-index from-env\n`,
      { prog: 'docker', args: ['run', '--rm', '--name', 'paddock-eval-7-41-3', '-v', '/shared/runs:/runs', '-v', '/data:/data', ...TASK.flatMap((v) => ['-e', v]), '-e', 'MSG', '-e', 'PLAIN', 'ghcr.io/acme/paddock:1.2', ...cmd] }],
    ['docker with GPUs', { resources: { gpus: 2 }, runtime: { kind: 'docker', image: 'img:1' } },
      `${envLines}${gpuCheck}exec docker run --rm --name "paddock-eval-7-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID" --gpus "\\"device=$SLURM_JOB_GPUS\\"" -e SLURM_ARRAY_JOB_ID -e SLURM_ARRAY_TASK_ID -e SLURM_JOB_ID -e SLURM_RESTART_COUNT -e MSG -e PLAIN img:1 paddock step run --job-index from-env\n`,
      { prog: 'docker', args: ['run', '--rm', '--name', 'paddock-eval-7-41-3', '--gpus', '"device=0,2"', ...TASK.flatMap((v) => ['-e', v]), '-e', 'MSG', '-e', 'PLAIN', 'img:1', ...cmd] }],
    ['docker, GPUs requested but not passed in', { resources: { gpus: 1 }, runtime: { kind: 'docker', image: 'img:1', gpus: false } },
      `${envLines}exec docker run --rm --name "paddock-eval-7-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID" -e SLURM_ARRAY_JOB_ID -e SLURM_ARRAY_TASK_ID -e SLURM_JOB_ID -e SLURM_RESTART_COUNT -e MSG -e PLAIN img:1 paddock step run --job-index from-env\n`,
      undefined],
    ['apptainer', { runtime: { kind: 'apptainer', image: '/shared/images/paddock.sif', binds: [{ source: '/shared/runs', target: '/runs' }] } },
      `${envLines}exec apptainer exec --bind /shared/runs:/runs /shared/images/paddock.sif paddock step run --job-index from-env\n`,
      { prog: 'apptainer', args: ['exec', '--bind', '/shared/runs:/runs', '/shared/images/paddock.sif', ...cmd] }],
    ['apptainer with GPUs', { resources: { gpus: 1 }, runtime: { kind: 'apptainer', image: 'docker://ghcr.io/acme/paddock:1.2' } },
      `${envLines}exec apptainer exec --nv docker://ghcr.io/acme/paddock:1.2 paddock step run --job-index from-env\n`,
      { prog: 'apptainer', args: ['exec', '--nv', 'docker://ghcr.io/acme/paddock:1.2', ...cmd] }],
    ['enroot', { runtime: { kind: 'enroot', image: '/shared/images/paddock.sqsh', mounts: [{ source: '/shared/runs', target: '/runs' }] } },
      `${envLines}exec enroot start --mount /shared/runs:/runs --env SLURM_ARRAY_JOB_ID --env SLURM_ARRAY_TASK_ID --env SLURM_JOB_ID --env SLURM_RESTART_COUNT --env MSG --env PLAIN /shared/images/paddock.sqsh paddock step run --job-index from-env\n`,
      { prog: 'enroot', args: ['start', '--mount', '/shared/runs:/runs', ...TASK.flatMap((v) => ['--env', v]), '--env', 'MSG', '--env', 'PLAIN', '/shared/images/paddock.sqsh', ...cmd] }],
    ['enroot with GPUs', { resources: { gpus: 4 }, runtime: { kind: 'enroot', image: 'paddock' } },
      `${envLines}${gpuCheck}export NVIDIA_VISIBLE_DEVICES="$SLURM_JOB_GPUS"\nexec enroot start --env SLURM_ARRAY_JOB_ID --env SLURM_ARRAY_TASK_ID --env SLURM_JOB_ID --env SLURM_RESTART_COUNT --env NVIDIA_VISIBLE_DEVICES --env MSG --env PLAIN paddock paddock step run --job-index from-env\n`,
      { prog: 'enroot', args: ['start', ...TASK.flatMap((v) => ['--env', v]), '--env', 'NVIDIA_VISIBLE_DEVICES', '--env', 'MSG', '--env', 'PLAIN', 'paddock', ...cmd] }],
  ])('%s', (kind, over, body, argv) => {
    const script = batchScript(batch({ env, command: cmd, ...over }));
    expect(script).toBe(head(over.runtime?.kind ?? 'process') + body);
    execFileSync('sh', ['-n'], { input: script });
    if (argv) {
      const got = runScript(script);
      expect({ prog: got.prog, args: got.args }).toEqual(argv);
      // the exported variables reach the runtime's environment unchanged
      expect(got.env.MSG).toBe(env.MSG);
      expect(got.env.PLAIN).toBe('x');
      if (kind === 'enroot with GPUs') expect(got.env.NVIDIA_VISIBLE_DEVICES).toBe('0,2');
    }
  });

  it.each(['process', 'docker', 'apptainer', 'enroot'] as const)('keeps nasty arguments intact (%s)', (kind) => {
    const runtime = kind === 'process' ? { kind } : kind === 'apptainer' ? { kind, image: 'i.sif', binds: [] } : { kind, image: 'img', mounts: [] };
    const command = kind === 'process' ? [process.execPath, argvJs, 'task', ...NASTY] : ['run', ...NASTY];
    const script = batchScript(batch({ runtime, command, env: { MSG: NASTY.join('|') } }));
    execFileSync('sh', ['-n'], { input: script });
    const got = runScript(script);
    expect(got.env.MSG).toBe(NASTY.join('|'));
    expect(got.env.SLURM_ARRAY_TASK_ID).toBe('3');
    if (kind === 'process') expect(got).toMatchObject({ prog: 'task', args: NASTY });
    else expect(got.args.slice(-NASTY.length - 2)).toEqual(kind === 'docker' || kind === 'enroot' ? ['img', 'run', ...NASTY] : ['i.sif', 'run', ...NASTY]);
  });

  it('refuses to run outside an array task', () => {
    const file = join(tmp, 'outside.sh');
    writeFileSync(file, batchScript(batch()));
    expect(() => execFileSync('sh', [file], { env: { PATH: process.env.PATH }, stdio: 'pipe' })).toThrow(/not a Slurm array task/);
  });

  it('stops a GPU container task that got no GPUs', () => {
    const file = join(tmp, 'nogpu.sh');
    writeFileSync(file, batchScript(batch({ resources: { gpus: 1 }, runtime: { kind: 'docker', image: 'img' } })));
    expect(() => execFileSync('sh', [file], { env: { PATH: `${fakeBin}:${process.env.PATH}`, SLURM_ARRAY_TASK_ID: '0' }, stdio: 'pipe' })).toThrow(/no GPUs allocated to this task/);
  });
});
