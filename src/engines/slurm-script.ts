/**
 * The sbatch command line and batch script for a batch of paddock tasks run as one Slurm job
 * array (docs/slurm.md, "Parsers and batch scripts"). Pure: builds argv and text, runs nothing.
 *
 * Every task runs the same script; SLURM_ARRAY_TASK_ID (0..tasks-1) tells the command which of
 * the batch's jobs it is. The script runs the command as a plain process or in a container:
 *
 *   process    exec <command...>
 *   docker     exec docker run --rm --name paddock-<name>-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID
 *                [--gpus "\"device=$SLURM_JOB_GPUS\""] [-v src:dst]... -e SLURM_ARRAY_TASK_ID ... [-e VAR]... image <command...>
 *   apptainer  exec apptainer exec [--nv] [--bind src:dst]... image <command...>
 *   enroot     exec enroot start [--mount src:dst]... --env SLURM_ARRAY_TASK_ID ... [--env VAR]... image <command...>
 *
 * The runtimes' syntax is taken from their documentation: docker run (`--gpus` with the device
 * list in literal double quotes, as NVIDIA's container toolkit documents, since the value is
 * CSV), `apptainer exec` (`--bind src[:dest[:opts]]`, `--nv`; the host environment passes into
 * the container by default), `enroot start [options] NAME|IMAGE [COMMAND] [ARG...]`
 * (`--env NAME` passes a host variable, `--mount src:dst`; GPUs through NVIDIA_VISIBLE_DEVICES,
 * read by enroot's 98-nvidia.sh hook). SLURM_JOB_GPUS (the allocated GPUs' global ids, sbatch(1))
 * names the GPUs for docker and enroot, which do not see the job's device cgroup the way a plain
 * process does; neither was run on a GPU cluster here.
 */

export interface SlurmMount {
  /** Host path. */
  source: string;
  /** Path inside the container. */
  target: string;
}

export type SlurmRuntime =
  | { kind: 'process' }
  | {
    kind: 'docker';
    image: string;
    mounts?: SlurmMount[];
    /** Give the container the task's GPUs (default: when resources.gpus > 0). */
    gpus?: boolean;
  }
  | { kind: 'apptainer'; image: string; binds?: SlurmMount[] }
  | { kind: 'enroot'; image: string; mounts?: SlurmMount[] };

export interface SlurmResources {
  /** --cpus-per-task. */
  cpus?: number;
  /** --mem (per node, i.e. per task here), in MiB. */
  memory_mb?: number;
  /** --gres=gpu:N. */
  gpus?: number;
  /** --time, rounded up to whole seconds (Slurm rounds up to the minute). */
  time_limit_s?: number;
  partition?: string;
  account?: string;
  qos?: string;
}

export interface SlurmBatch {
  /** The job name (--job-name), also in the container name: letters, digits, `._+-`. */
  name: string;
  /** Array tasks 0..tasks-1. */
  tasks: number;
  /** At most this many tasks run at once (`%N`). */
  concurrency: number;
  resources: SlurmResources;
  /** Whether Slurm may requeue a task whose node fails (--requeue / --no-requeue). */
  requeue: boolean;
  /** Absolute directory for the tasks' output: <dir>/<array job id>_<task>.out and .err. */
  outputDir: string;
  /** Working directory of the tasks (--chdir); default: sbatch's. */
  workDir?: string;
  runtime: SlurmRuntime;
  /** The task's command; it reads SLURM_ARRAY_TASK_ID to pick its job. */
  command: string[];
  /** Variables the command gets (exported by the script, passed into containers by name). */
  env: Record<string, string>;
}

/** The Slurm variables passed by name into docker and enroot containers (apptainer passes the whole environment). */
export const TASK_ENV = ['SLURM_ARRAY_JOB_ID', 'SLURM_ARRAY_TASK_ID', 'SLURM_JOB_ID', 'SLURM_RESTART_COUNT'] as const;

/** Quotes a word for sh: as it is when it has only safe characters, else in single quotes. */
export function shQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Seconds as Slurm's `days-hours:minutes:seconds` (3661 -> 0-01:01:01). */
export function slurmTime(seconds: number): string {
  const s = Math.ceil(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${Math.floor(s / 86400)}-${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

function check(batch: SlurmBatch): void {
  const bad = (what: string, why: string): never => {
    throw new Error(`Slurm batch ${JSON.stringify(batch.name)}: ${what}: ${why}`);
  };
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/.test(batch.name)) bad('name', 'letters, digits and ._+- only (at most 128), starting with a letter or digit');
  const whole = (v: number | undefined, what: string, min: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) bad(what, `expected a whole number >= ${min}, got ${v}`);
  };
  whole(batch.tasks, 'tasks', 1);
  whole(batch.concurrency, 'concurrency', 1);
  if (batch.tasks > 4_000_001) bad('tasks', `at most 4000001 (Slurm's largest MaxArraySize), got ${batch.tasks}`);
  const r = batch.resources;
  whole(r.cpus, 'resources.cpus', 1);
  whole(r.memory_mb, 'resources.memory_mb', 1);
  whole(r.gpus, 'resources.gpus', 0);
  if (r.time_limit_s !== undefined && !(r.time_limit_s > 0 && Number.isFinite(r.time_limit_s))) bad('resources.time_limit_s', `expected a positive number of seconds, got ${r.time_limit_s}`);
  for (const k of ['partition', 'account', 'qos'] as const) {
    const v = r[k];
    if (v !== undefined && !/^[A-Za-z0-9_.,+-]+$/.test(v)) bad(`resources.${k}`, `unexpected characters in ${JSON.stringify(v)}`);
  }
  // Slurm expands %-patterns in --output, and a backslash turns them all off.
  if (!batch.outputDir.startsWith('/')) bad('outputDir', `must be absolute, got ${JSON.stringify(batch.outputDir)}`);
  for (const [what, dir] of [['outputDir', batch.outputDir], ['workDir', batch.workDir]] as const) {
    if (dir !== undefined && /[%\\\n]/.test(dir)) bad(what, `may not hold %, \\ or a newline: ${JSON.stringify(dir)}`);
  }
  if (batch.command.length === 0) bad('command', 'empty');
  for (const k of Object.keys(batch.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) bad('env', `${JSON.stringify(k)} is not a variable name`);
    if ((TASK_ENV as readonly string[]).includes(k) || k === 'NVIDIA_VISIBLE_DEVICES') bad('env', `${k} is set by Slurm or the script`);
  }
  const rt = batch.runtime;
  if (rt.kind !== 'process') {
    if (rt.image === '' || /\n/.test(rt.image)) bad('runtime.image', 'empty or holds a newline');
    const mounts = rt.kind === 'apptainer' ? rt.binds : rt.mounts;
    for (const m of mounts ?? []) {
      // src:dst syntax in all three; apptainer also splits its list on commas
      if (/[:,\n]/.test(m.source) || /[:,\n]/.test(m.target) || !m.source || !m.target.startsWith('/')) {
        bad(`runtime.${rt.kind === 'apptainer' ? 'binds' : 'mounts'}`, `${JSON.stringify(`${m.source}:${m.target}`)}: paths without ":" or ",", target absolute`);
      }
    }
    if (rt.kind === 'docker' && rt.gpus && !(r.gpus && r.gpus > 0)) bad('runtime.gpus', 'the batch asks Slurm for no GPUs (resources.gpus)');
  }
}

/** The array spec: 0-(tasks-1)%concurrency. */
export function arraySpec(tasks: number, concurrency: number): string {
  return tasks === 1 ? '0' : `0-${tasks - 1}%${concurrency}`;
}

/**
 * sbatch's options for the batch (the script path goes after them): --parsable (prints the job
 * id), the array with its limit, resources, requeue policy, and one output and error file per
 * task (`%A_%a`), opened in append mode so a requeued run writes after the lines of the run lost
 * with its node instead of over them.
 */
export function sbatchArgs(batch: SlurmBatch): string[] {
  check(batch);
  const r = batch.resources;
  const args = ['--parsable', `--job-name=${batch.name}`, `--array=${arraySpec(batch.tasks, batch.concurrency)}`];
  if (r.cpus !== undefined) args.push(`--cpus-per-task=${r.cpus}`);
  if (r.memory_mb !== undefined) args.push(`--mem=${r.memory_mb}M`);
  if (r.gpus) args.push(`--gres=gpu:${r.gpus}`);
  if (r.time_limit_s !== undefined) args.push(`--time=${slurmTime(r.time_limit_s)}`);
  if (r.partition !== undefined) args.push(`--partition=${r.partition}`);
  if (r.account !== undefined) args.push(`--account=${r.account}`);
  if (r.qos !== undefined) args.push(`--qos=${r.qos}`);
  args.push(batch.requeue ? '--requeue' : '--no-requeue');
  if (batch.workDir !== undefined) args.push(`--chdir=${batch.workDir}`);
  const dir = batch.outputDir.replace(/\/+$/, '') || '/';
  args.push(`--output=${dir}/%A_%a.out`, `--error=${dir}/%A_%a.err`, '--open-mode=append');
  return args;
}

/** The whole sbatch command line, quoted for sh (for logs and docs; run it with execFile and sbatchArgs). */
export function sbatchCommandLine(batch: SlurmBatch, scriptPath: string): string {
  return ['sbatch', ...sbatchArgs(batch), scriptPath].map(shQuote).join(' ');
}

/** A word of the generated command: a literal (quoted) or sh text used as it is. */
type Word = string | { sh: string };

function render(words: Word[]): string {
  return words.map((w) => (typeof w === 'string' ? shQuote(w) : w.sh)).join(' ');
}

/** The command line that runs one task, per runtime, as sh words (without the leading exec). */
function taskCommand(batch: SlurmBatch): Word[] {
  const rt = batch.runtime;
  const gpus = (batch.resources.gpus ?? 0) > 0;
  const envNames = Object.keys(batch.env).sort();
  switch (rt.kind) {
    case 'process':
      return [...batch.command];
    case 'docker': {
      const w: Word[] = ['docker', 'run', '--rm', '--name', { sh: `"paddock-${batch.name}-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID"` }];
      if (rt.gpus ?? gpus) w.push('--gpus', { sh: '"\\"device=$SLURM_JOB_GPUS\\""' });
      for (const m of rt.mounts ?? []) w.push('-v', `${m.source}:${m.target}`);
      for (const v of [...TASK_ENV, ...envNames]) w.push('-e', v);
      return [...w, rt.image, ...batch.command];
    }
    case 'apptainer': {
      const w: Word[] = ['apptainer', 'exec'];
      if (gpus) w.push('--nv');
      for (const m of rt.binds ?? []) w.push('--bind', `${m.source}:${m.target}`);
      return [...w, rt.image, ...batch.command];
    }
    case 'enroot': {
      const w: Word[] = ['enroot', 'start'];
      for (const m of rt.mounts ?? []) w.push('--mount', `${m.source}:${m.target}`);
      for (const v of [...TASK_ENV, ...(gpus ? ['NVIDIA_VISIBLE_DEVICES'] : []), ...envNames]) w.push('--env', v);
      return [...w, rt.image, ...batch.command];
    }
  }
}

/**
 * The batch script every task of the array runs: exports the batch's variables and execs the
 * task's command in its runtime (exec: scancel's SIGTERM reaches it, not a waiting shell).
 */
export function batchScript(batch: SlurmBatch): string {
  check(batch);
  const rt = batch.runtime;
  const gpus = (batch.resources.gpus ?? 0) > 0;
  const out = [
    '#!/bin/sh',
    `# paddock batch ${batch.name}: ${batch.tasks} task(s) as one Slurm job array, runtime ${rt.kind}.`,
    '# Generated by src/engines/slurm-script.ts; submitted as: sbatch <sbatchArgs> <this file>.',
    '# SLURM_ARRAY_TASK_ID (0..tasks-1) tells the command which job of the batch it runs.',
    'set -eu',
    ': "${SLURM_ARRAY_TASK_ID:?not a Slurm array task}"',
  ];
  for (const k of Object.keys(batch.env).sort()) out.push(`export ${k}=${shQuote(batch.env[k])}`);
  if (gpus && (rt.kind === 'enroot' || (rt.kind === 'docker' && (rt.gpus ?? true)))) {
    out.push(': "${SLURM_JOB_GPUS:?no GPUs allocated to this task (SLURM_JOB_GPUS unset)}"');
    if (rt.kind === 'enroot') out.push('export NVIDIA_VISIBLE_DEVICES="$SLURM_JOB_GPUS"');
  }
  out.push(`exec ${render(taskCommand(batch))}`, '');
  return out.join('\n');
}
