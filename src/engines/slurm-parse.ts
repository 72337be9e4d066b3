/**
 * Parsers for what Slurm's client commands print, for the Slurm job backend (docs/slurm.md,
 * "Parsers and batch scripts"). Pure functions on text: no I/O, no processes. Each returns typed
 * records; input it does not understand is an error naming the input and the line:
 *
 *   squeue output line 3: expected 8 fields separated by "|", got 4: "4_0|4|0|5"
 *
 * Written against the real outputs in test/fixtures/slurm/ (slurm-wlm 22.05.8, no slurmdbd):
 * state comes from squeue while a task is pending or running, from `scontrol show job -o` for
 * finished jobs within MinJobAge, and from the jobcomp/filetxt file after that. `taskStates`
 * merges them into one state per array task.
 */

/** A Slurm job state word (the long form squeue %T and scontrol print). */
export type SlurmState = (typeof SLURM_STATES)[number];

export const SLURM_STATES = [
  'BOOT_FAIL', 'CANCELLED', 'COMPLETED', 'CONFIGURING', 'COMPLETING', 'DEADLINE', 'FAILED', 'NODE_FAIL',
  'OUT_OF_MEMORY', 'PENDING', 'PREEMPTED', 'RUNNING', 'RESV_DEL_HOLD', 'REQUEUE_FED', 'REQUEUE_HOLD',
  'REQUEUED', 'RESIZING', 'REVOKED', 'SIGNALING', 'SPECIAL_EXIT', 'STAGE_OUT', 'STOPPED', 'SUSPENDED', 'TIMEOUT',
] as const;

/** squeue's compact codes (%t), from squeue(1) "JOB STATE CODES". */
const COMPACT_STATES: Record<string, SlurmState> = {
  BF: 'BOOT_FAIL', CA: 'CANCELLED', CD: 'COMPLETED', CF: 'CONFIGURING', CG: 'COMPLETING', DL: 'DEADLINE', F: 'FAILED',
  NF: 'NODE_FAIL', OOM: 'OUT_OF_MEMORY', PD: 'PENDING', PR: 'PREEMPTED', R: 'RUNNING', RD: 'RESV_DEL_HOLD',
  RF: 'REQUEUE_FED', RH: 'REQUEUE_HOLD', RQ: 'REQUEUED', RS: 'RESIZING', RV: 'REVOKED', SI: 'SIGNALING',
  SE: 'SPECIAL_EXIT', SO: 'STAGE_OUT', ST: 'STOPPED', S: 'SUSPENDED', TO: 'TIMEOUT',
};

/** An error in a command's output: names the input and (where there is one) the line. */
export class SlurmParseError extends Error {
  /** The input's name (`squeue output`, `jobcomp file`, ...). */
  readonly input: string;
  /** 1-based line, where the input has lines. */
  readonly line: number | undefined;

  constructor(input: string, line: number | undefined, detail: string) {
    super(`${input}${line === undefined ? '' : ` line ${line}`}: ${detail}`);
    this.name = 'SlurmParseError';
    this.input = input;
    this.line = line;
  }
}

/** A line as an error quotes it: JSON-quoted, cut at 120 characters. */
function quoteLine(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 117)}...` : s);
}

function lines(text: string): string[] {
  return text.replace(/\r\n/g, '\n').split('\n');
}

// ---------------------------------------------------------------------------------------------
// sbatch --parsable

export interface SbatchResult {
  jobId: number;
  /** Present when sbatch printed `<id>;<cluster>` (a multi-cluster setup). */
  cluster?: string;
}

/** `sbatch --parsable` stdout: `12345` or `12345;cluster`. */
export function parseSbatchParsable(text: string, input = 'sbatch --parsable output'): SbatchResult {
  const all = lines(text);
  const filled = all.map((l, i) => ({ l: l.trim(), n: i + 1 })).filter((x) => x.l !== '');
  if (filled.length === 0) throw new SlurmParseError(input, undefined, 'empty (expected "<job id>" or "<job id>;<cluster>")');
  if (filled.length > 1) throw new SlurmParseError(input, filled[1].n, `expected one line, got another: ${quoteLine(filled[1].l)}`);
  const m = /^(\d+)(?:;([^;\s]+))?$/.exec(filled[0].l);
  if (!m) throw new SlurmParseError(input, filled[0].n, `expected "<job id>" or "<job id>;<cluster>", got ${quoteLine(filled[0].l)}`);
  return m[2] === undefined ? { jobId: Number(m[1]) } : { jobId: Number(m[1]), cluster: m[2] };
}

// ---------------------------------------------------------------------------------------------
// Array specs

export interface ArraySpec {
  /** The task ids, ascending, without repeats. */
  ids: number[];
  /** The `%N` limit on tasks running at once, when the spec has one. */
  throttle?: number;
}

/** Slurm's largest MaxArraySize is 4000001: no spec names more ids than that. */
const MAX_ARRAY_IDS = 4_000_001;

/**
 * An array index spec as sbatch takes and squeue/scontrol print it: `0-9%2`, `1,3,5-7`,
 * `0-15:4` (a step), optionally in brackets (`[1-3%1]`, as in squeue's `%i`).
 */
export function expandArraySpec(spec: string): ArraySpec {
  const fail = (why: string): never => {
    throw new Error(`array spec ${JSON.stringify(spec)}: ${why}`);
  };
  let body = spec.trim();
  if (body.startsWith('[') && body.endsWith(']')) body = body.slice(1, -1);
  if (body.endsWith('...')) fail('cut short by Slurm (squeue prints 64 characters of it unless SLURM_BITSTR_LEN=0; or use squeue -r)');
  let throttle: number | undefined;
  const pct = body.indexOf('%');
  if (pct >= 0) {
    const t = body.slice(pct + 1);
    if (!/^\d+$/.test(t) || Number(t) < 1) fail(`expected a positive number after "%", got ${JSON.stringify(t)}`);
    throttle = Number(t);
    body = body.slice(0, pct);
  }
  if (body === '') fail('no task ids');
  const ids = new Set<number>();
  for (const item of body.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(item);
    if (!m) fail(`expected "<id>", "<first>-<last>" or "<first>-<last>:<step>", got ${JSON.stringify(item)}`);
    const first = Number(m![1]);
    const last = m![2] === undefined ? first : Number(m![2]);
    const step = m![3] === undefined ? 1 : Number(m![3]);
    if (last < first) fail(`range ${item} ends before it starts`);
    if (step < 1) fail(`range ${item} has step 0`);
    if ((last - first) / step + ids.size >= MAX_ARRAY_IDS) fail(`more than ${MAX_ARRAY_IDS} task ids`);
    for (let i = first; i <= last; i += step) ids.add(i);
  }
  const sorted = [...ids].sort((a, b) => a - b);
  return throttle === undefined ? { ids: sorted } : { ids: sorted, throttle };
}

// ---------------------------------------------------------------------------------------------
// Common record shape

export type RecordSource = 'squeue' | 'squeue --json' | 'scontrol' | 'jobcomp';

/** What every parser gives per job record; taskStates merges these. */
export interface JobRecord {
  source: RecordSource;
  /** 1-based line of the input (for squeue --json: the index in `jobs` plus 1). */
  line: number;
  /** The raw job id: a started array task's own id; the array's id for its not-yet-started rest. */
  jobId: number;
  /** The array's job id (absent for a job that is not an array task, and in a jobcomp line for the never-started rest). */
  arrayJobId?: number;
  /** The array task ids the record stands for: one for a started task, several for the pending rest. */
  arrayTaskIds?: number[];
  /** The task id or spec as printed: `2`, `1-3%1`. */
  arrayTaskSpec?: string;
  /** The `%N` limit, where the record shows it. */
  throttle?: number;
  state: SlurmState;
  reason?: string;
  /** How many times the task was requeued (squeue -o has no field for it: absent there). */
  restarts?: number;
  /** `exit:signal` as scontrol prints it (`0:15`: killed by SIGTERM). */
  exitCode?: string;
  nodeList?: string;
  name?: string;
}

function stateOf(word: string, input: string, line: number): SlurmState {
  // sacct prints "CANCELLED by 0"; scontrol, squeue and jobcomp the bare word.
  const w = word.trim().split(/\s+/)[0] ?? '';
  if ((SLURM_STATES as readonly string[]).includes(w)) return w as SlurmState;
  if (w in COMPACT_STATES) return COMPACT_STATES[w];
  throw new SlurmParseError(input, line, `unknown job state ${JSON.stringify(word)}`);
}

function intOf(value: string, what: string, input: string, line: number): number {
  if (!/^\d+$/.test(value)) throw new SlurmParseError(input, line, `${what}: expected a number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function specOf(value: string, what: string, input: string, line: number): ArraySpec {
  try {
    return expandArraySpec(value);
  } catch (err) {
    throw new SlurmParseError(input, line, `${what}: ${(err as Error).message}`);
  }
}

/** `(null)`, `N/A`, `None`, `Unknown` and empty as absent. */
function present(v: string | undefined): string | undefined {
  return v === undefined || v === '' || v === '(null)' || v === 'N/A' || v === 'Unknown' ? undefined : v;
}

/** A Slurm duration (`[D-]HH:MM:SS`, `MM:SS`) in seconds; UNLIMITED, N/A, INVALID as undefined. */
export function parseSlurmDuration(s: string): number | undefined {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

// ---------------------------------------------------------------------------------------------
// squeue -o

/**
 * The squeue format the backend uses (`squeue -h -r -o SQUEUE_FORMAT`): id as shown (`4_0`,
 * `4_[1-3%1]`), array job id, array task id or spec, raw job id, state, reason, nodes, name.
 * The name is last: it is the one field that may hold the delimiter.
 */
export const SQUEUE_FORMAT = '%i|%F|%K|%A|%T|%r|%N|%j';

/** Fields squeue -o prints that the records use, by format letter. */
const SQUEUE_FIELDS: Record<string, string> = {
  i: 'id', F: 'arrayJobId', K: 'arrayTaskId', A: 'jobId', T: 'state', t: 'state', r: 'reason', N: 'nodeList', j: 'name',
};

export interface SqueueRecord extends JobRecord {
  source: 'squeue';
  /** `%i`: `4_0`, `4_[1-3%1]`, or a plain job id. */
  id: string;
  /** Every field of the line by its format letter (`i`, `F`, `K`, ... as written, widths dropped). */
  fields: Record<string, string>;
}

interface SqueueFormat {
  letters: string[];
  delimiter: string;
}

function parseSqueueFormat(format: string): SqueueFormat {
  const re = /%\.?\d*([A-Za-z])/g;
  const letters: string[] = [];
  const between: string[] = [];
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(format))) {
    if (letters.length > 0) between.push(format.slice(last, m.index));
    else if (m.index !== 0) throw new Error(`squeue format ${JSON.stringify(format)}: text before the first field`);
    letters.push(m[1]);
    last = re.lastIndex;
  }
  if (last !== format.length) throw new Error(`squeue format ${JSON.stringify(format)}: text after the last field`);
  const delimiter = between[0] ?? '|';
  if (between.some((b) => b !== delimiter) || (letters.length > 1 && delimiter === '')) {
    throw new Error(`squeue format ${JSON.stringify(format)}: fields must be separated by one and the same delimiter`);
  }
  if (!letters.includes('A') && !letters.includes('i')) throw new Error(`squeue format ${JSON.stringify(format)}: needs %A (or %i) for the job id`);
  if (!letters.includes('T') && !letters.includes('t')) throw new Error(`squeue format ${JSON.stringify(format)}: needs %T (or %t) for the state`);
  return { letters, delimiter };
}

/**
 * `squeue -h [-r] -o <format>` output, for a format of `%` fields separated by one delimiter
 * (default SQUEUE_FORMAT). A header line (first field `JOBID`) is skipped. Pending tasks that
 * squeue folds into one line (`4_[1-3%1]`, without -r) are one record naming all their ids.
 */
export function parseSqueue(text: string, format = SQUEUE_FORMAT, input = 'squeue output'): SqueueRecord[] {
  const fmt = parseSqueueFormat(format);
  const out: SqueueRecord[] = [];
  lines(text).forEach((raw, i) => {
    const n = i + 1;
    if (raw.trim() === '') return;
    let parts = raw.split(fmt.delimiter);
    const free = fmt.letters[fmt.letters.length - 1] === 'j';
    if (parts.length > fmt.letters.length && free) {
      parts = [...parts.slice(0, fmt.letters.length - 1), parts.slice(fmt.letters.length - 1).join(fmt.delimiter)];
    }
    if (parts.length !== fmt.letters.length) {
      throw new SlurmParseError(input, n, `expected ${fmt.letters.length} fields separated by ${JSON.stringify(fmt.delimiter)}, got ${parts.length}: ${quoteLine(raw)}`);
    }
    const fields: Record<string, string> = {};
    fmt.letters.forEach((l, k) => {
      if (!(l in fields)) fields[l] = parts[k].trim();
    });
    if (n === 1 && (fields.i === 'JOBID' || fields.A === 'JOBID')) return;
    const named = (key: string): string | undefined => {
      const letter = Object.keys(SQUEUE_FIELDS).find((l) => SQUEUE_FIELDS[l] === key && l in fields);
      return letter === undefined ? undefined : fields[letter];
    };
    const id = fields.i ?? fields.A;
    // %i is "<array job>_<task or [spec]>" for an array task, the job id otherwise.
    const idm = /^(\d+)(?:_(\d+|\[[^\]]*\]))?$/.exec(id);
    if (!idm) throw new SlurmParseError(input, n, `job id: expected "<job>" or "<job>_<task>", got ${JSON.stringify(id)}`);
    const state = stateOf(named('state')!, input, n);
    let jobId: number;
    if (fields.A !== undefined) jobId = intOf(fields.A, 'job id (%A)', input, n);
    else if (idm[2] === undefined || idm[2].startsWith('[')) jobId = Number(idm[1]);
    else throw new SlurmParseError(input, n, 'job id: an array task needs %A for its own job id');
    const rec: SqueueRecord = { source: 'squeue', line: n, id, jobId, state, fields };
    const arrayJob = present(fields.F) ?? (idm[2] !== undefined ? idm[1] : undefined);
    const taskSpec = present(fields.K) ?? (idm[2] !== undefined ? idm[2].replace(/^\[|\]$/g, '') : undefined);
    if (taskSpec !== undefined) {
      rec.arrayJobId = intOf(arrayJob ?? '', 'array job id (%F)', input, n);
      const spec = specOf(taskSpec, 'array task id (%K)', input, n);
      rec.arrayTaskIds = spec.ids;
      rec.arrayTaskSpec = taskSpec;
      if (spec.throttle !== undefined) rec.throttle = spec.throttle;
    }
    const reason = present(named('reason'));
    if (reason !== undefined && reason !== 'None') rec.reason = reason;
    const nodes = present(named('nodeList'));
    if (nodes !== undefined) rec.nodeList = nodes;
    const name = named('name');
    if (name !== undefined) rec.name = name;
    out.push(rec);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// squeue --json (openapi v0.0.38, Slurm 22.05)

export interface SqueueJsonRecord extends JobRecord {
  source: 'squeue --json';
  /** `standard_output` as stored: the pattern (`.../%A_%a.out`), not the expanded path. */
  stdOut?: string;
  /** Seconds since the epoch; absent when 0 (not yet). */
  eligibleTime?: number;
  startTime?: number;
}

/**
 * `squeue --json` output as Slurm 22.05 prints it (openapi/v0.0.38): numbers for ids, times and
 * `exit_code`, `array_task_id` null and `array_task_string` "1-3%1" for the pending rest. Unlike
 * plain squeue it lists finished jobs too, as long as slurmctld keeps them (MinJobAge).
 * A few later shapes are accepted where cheap (`job_state` as a list, `{set, number}` numbers).
 */
export function parseSqueueJson(text: string, input = 'squeue --json output'): SqueueJsonRecord[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SlurmParseError(input, undefined, `not JSON: ${(err as Error).message}`);
  }
  const obj = doc as { errors?: unknown; jobs?: unknown };
  if (typeof doc !== 'object' || doc === null || !Array.isArray(obj.jobs)) throw new SlurmParseError(input, undefined, 'expected an object with a "jobs" list');
  if (Array.isArray(obj.errors) && obj.errors.length > 0) throw new SlurmParseError(input, undefined, `Slurm reported errors: ${JSON.stringify(obj.errors).slice(0, 300)}`);
  return obj.jobs.map((j, i) => {
    const at = `jobs[${i}]`;
    const n = i + 1;
    if (typeof j !== 'object' || j === null) throw new SlurmParseError(input, undefined, `${at}: expected an object`);
    const job = j as Record<string, unknown>;
    const num = (key: string, required: boolean): number | undefined => {
      let v = job[key];
      if (typeof v === 'object' && v !== null && 'number' in v) v = (v as { set?: boolean; number: unknown }).set === false ? null : (v as { number: unknown }).number;
      if (v === undefined || v === null) {
        if (required) throw new SlurmParseError(input, undefined, `${at}.${key}: missing`);
        return undefined;
      }
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SlurmParseError(input, undefined, `${at}.${key}: expected a whole number, got ${JSON.stringify(v)}`);
      return v;
    };
    const str = (key: string): string | undefined => {
      const v = job[key];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string') throw new SlurmParseError(input, undefined, `${at}.${key}: expected a string, got ${JSON.stringify(v)}`);
      return v;
    };
    const rawState = Array.isArray(job.job_state) ? job.job_state[0] : job.job_state;
    if (typeof rawState !== 'string') throw new SlurmParseError(input, undefined, `${at}.job_state: expected a string, got ${JSON.stringify(job.job_state)}`);
    let state: SlurmState;
    try {
      state = stateOf(rawState, input, n);
    } catch {
      throw new SlurmParseError(input, undefined, `${at}.job_state: unknown job state ${JSON.stringify(rawState)}`);
    }
    const rec: SqueueJsonRecord = { source: 'squeue --json', line: n, jobId: num('job_id', true)!, state };
    const arrayJob = num('array_job_id', false);
    const taskId = num('array_task_id', false);
    const taskString = str('array_task_string');
    if (arrayJob !== undefined && arrayJob > 0) {
      rec.arrayJobId = arrayJob;
      if (taskId !== undefined) {
        rec.arrayTaskIds = [taskId];
        rec.arrayTaskSpec = String(taskId);
      } else if (taskString) {
        let spec: ArraySpec;
        try {
          spec = expandArraySpec(taskString);
        } catch (err) {
          throw new SlurmParseError(input, undefined, `${at}.array_task_string: ${(err as Error).message}`);
        }
        rec.arrayTaskIds = spec.ids;
        rec.arrayTaskSpec = taskString;
      }
      const max = num('array_max_tasks', false);
      if (max !== undefined && max > 0) rec.throttle = max;
    }
    const reason = str('state_reason');
    if (reason && reason !== 'None') rec.reason = reason;
    const restarts = num('restart_cnt', false);
    if (restarts !== undefined) rec.restarts = restarts;
    // v0.0.38: the raw wait status (exit << 8 | signal); later versions an object.
    const exit = job.exit_code;
    if (typeof exit === 'number') rec.exitCode = `${(exit >> 8) & 0xff}:${exit & 0x7f}`;
    else if (typeof exit === 'object' && exit !== null) {
      const e = exit as { return_code?: unknown; signal?: { id?: unknown } };
      const rc = typeof e.return_code === 'object' && e.return_code !== null ? (e.return_code as { number?: unknown }).number : e.return_code;
      const sig = typeof e.signal?.id === 'object' && e.signal.id !== null ? (e.signal.id as { number?: unknown }).number : e.signal?.id;
      if (typeof rc === 'number') rec.exitCode = `${rc}:${typeof sig === 'number' ? sig : 0}`;
    }
    const nodes = str('nodes');
    if (nodes) rec.nodeList = nodes;
    const name = str('name');
    if (name !== undefined) rec.name = name;
    const stdOut = str('standard_output');
    if (stdOut) rec.stdOut = stdOut;
    const eligible = num('eligible_time', false);
    if (eligible) rec.eligibleTime = eligible;
    const start = num('start_time', false);
    if (start) rec.startTime = start;
    return rec;
  });
}

// ---------------------------------------------------------------------------------------------
// key=value lines: scontrol show job -o, jobcomp/filetxt

/**
 * Splits `Key=value Key=value ...` where some values may hold spaces (`Command=/x/run.sh 60`,
 * `JobName=my job`, paths). A field starts at ` Key=`: for a value of a free-text key only
 * where Key is one of the known keys, elsewhere at any word of the key shape. So a command
 * argument that looks like a key (`lr=0.1`) stays in Command; one that is a known key
 * (`WorkDir=x`) cannot be told apart from the real field: the first occurrence of a key wins.
 */
function splitKeyValues(line: string, known: ReadonlySet<string>, freeText: ReadonlySet<string>): Map<string, string> {
  const text = line.replace(/\s+$/, '');
  const starts: { key: string; at: number; value: number }[] = [];
  const re = /(?:^| )([A-Za-z][A-Za-z0-9_:/-]*)=/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const at = m[0].startsWith(' ') ? m.index + 1 : m.index;
    const current = starts[starts.length - 1];
    if (!current || !freeText.has(current.key) || known.has(m[1])) starts.push({ key: m[1], at, value: re.lastIndex });
  }
  const fields = new Map<string, string>();
  starts.forEach((s, k) => {
    const end = k + 1 < starts.length ? starts[k + 1].at - 1 : text.length;
    if (!fields.has(s.key)) fields.set(s.key, text.slice(s.value, Math.max(s.value, end)));
  });
  return fields;
}

/** The keys `scontrol show job -o` prints (22.05), so that free-text values end at the right place. */
const SCONTROL_KEYS = new Set([
  'JobId', 'ArrayJobId', 'ArrayTaskId', 'ArrayTaskThrottle', 'HetJobId', 'HetJobOffset', 'HetJobIdSet', 'JobName', 'UserId',
  'GroupId', 'MCS_label', 'Priority', 'Nice', 'Account', 'QOS', 'WCKey', 'JobState', 'Reason', 'Dependency', 'Requeue',
  'Restarts', 'BatchFlag', 'Reboot', 'ExitCode', 'DerivedExitCode', 'RunTime', 'TimeLimit', 'TimeMin', 'SubmitTime',
  'EligibleTime', 'AccrueTime', 'StartTime', 'EndTime', 'Deadline', 'PreemptEligibleTime', 'PreemptTime', 'SuspendTime',
  'SecsPreSuspend', 'LastSchedEval', 'Scheduler', 'ResizeTime', 'Partition', 'AllocNode:Sid', 'ReqNodeList', 'ExcNodeList',
  'NodeList', 'BatchHost', 'SchedNodeList', 'NumNodes', 'NumCPUs', 'NumTasks', 'CPUs/Task', 'ReqB:S:C:T', 'TRES',
  'Socks/Node', 'NtasksPerN:B:S:C', 'CoreSpec', 'ThreadSpec', 'MinCPUsNode', 'MinMemoryNode', 'MinMemoryCPU',
  'MinTmpDiskNode', 'Features', 'Prefer', 'ClusterFeatures', 'BatchFeatures', 'DelayBoot', 'OverSubscribe', 'Contiguous',
  'Licenses', 'LicensesAlloc', 'Network', 'Command', 'WorkDir', 'AdminComment', 'SystemComment', 'Comment', 'StdErr',
  'StdIn', 'StdOut', 'Power', 'TresPerJob', 'TresPerNode', 'TresPerSocket', 'TresPerTask', 'TresBind', 'TresFreq',
  'CpusPerTres', 'MemPerTres', 'MailUser', 'MailType', 'NtasksPerTRES', 'Reservation', 'BurstBuffer', 'BurstBufferState',
  'CpuFreqMin', 'CpuFreqMax', 'CpuFreqGov', 'Container', 'ContainerID', 'KillOInInvalidDependent', 'FedOrigin',
  'FedViableSiblings', 'FedActiveSiblings', 'Switches', 'Wait-for-Switch', 'Nodes', 'CPU_IDs', 'Mem', 'GRES',
]);
/** Values that may hold spaces (scontrol turns spaces in Reason into "_", but a state description may slip through). */
const SCONTROL_FREE = new Set(['JobName', 'Reason', 'Command', 'WorkDir', 'StdErr', 'StdIn', 'StdOut', 'Comment', 'AdminComment', 'SystemComment', 'MailUser']);

export interface ScontrolJobRecord extends JobRecord {
  source: 'scontrol';
  restarts: number;
  exitCode: string;
  /** `RunTime=` as printed (`00:00:01`, `1-02:03:04`) and in seconds. */
  runTime?: string;
  runTimeS?: number;
  /** `EligibleTime=` (local time, `2026-12-04T20:35:20`); absent while Unknown. */
  eligibleTime?: string;
  /**
   * `StdOut=`: the expanded path for a started task; for the not-yet-started rest Slurm puts
   * 4294967294 (NO_VAL) where the task id goes (`4_4294967294.out`).
   */
  stdOut?: string;
  /** Every field of the line as printed. */
  fields: Record<string, string>;
}

/** A key=value record line's fields, and `need` for the required ones (a located error when absent). */
function recordFields(raw: string, n: number, input: string, keys: ReadonlySet<string>, free: ReadonlySet<string>): { f: Map<string, string>; need: (key: string) => string } {
  const f = splitKeyValues(raw, keys, free);
  const need = (key: string): string => {
    const v = f.get(key);
    if (v === undefined) throw new SlurmParseError(input, n, `no ${key}= field in ${quoteLine(raw)}`);
    return v;
  };
  return { f, need };
}

/** `ExitCode=<exit>:<signal>`, checked. */
function exitCodeOf(v: string, input: string, n: number): string {
  if (!/^\d+:\d+$/.test(v)) throw new SlurmParseError(input, n, `ExitCode: expected "<exit>:<signal>", got ${JSON.stringify(v)}`);
  return v;
}

/** ArrayJobId= and ArrayTaskId= (a task id, or the not-yet-started rest's spec, expanded) into the record; returns the spec's %N throttle. */
function readArrayFields(rec: JobRecord, f: Map<string, string>, input: string, n: number): number | undefined {
  const arrayJob = present(f.get('ArrayJobId'));
  const task = present(f.get('ArrayTaskId'));
  if (arrayJob !== undefined) rec.arrayJobId = intOf(arrayJob, 'ArrayJobId', input, n);
  if (task === undefined) return undefined;
  if (rec.arrayJobId === undefined) throw new SlurmParseError(input, n, 'ArrayTaskId without ArrayJobId');
  const spec = specOf(task, 'ArrayTaskId', input, n);
  rec.arrayTaskIds = spec.ids;
  rec.arrayTaskSpec = task;
  return spec.throttle;
}

/**
 * `scontrol show job -o [<id>]`: one record per line. An array task that has started has its
 * own JobId with ArrayJobId/ArrayTaskId naming it; the tasks not yet started share the array's
 * record, `ArrayTaskId=1-3%1`, expanded here to their ids. "No jobs in the system" is no records.
 */
export function parseScontrolJobs(text: string, input = 'scontrol show job output'): ScontrolJobRecord[] {
  const out: ScontrolJobRecord[] = [];
  lines(text).forEach((raw, i) => {
    const n = i + 1;
    if (raw.trim() === '' || raw.trim() === 'No jobs in the system') return;
    if (!raw.startsWith('JobId=')) throw new SlurmParseError(input, n, `expected a record starting with "JobId=", got ${quoteLine(raw)}`);
    const { f, need } = recordFields(raw, n, input, SCONTROL_KEYS, SCONTROL_FREE);
    const rec: ScontrolJobRecord = {
      source: 'scontrol', line: n, jobId: intOf(need('JobId'), 'JobId', input, n), state: stateOf(need('JobState'), input, n),
      restarts: intOf(need('Restarts'), 'Restarts', input, n), exitCode: exitCodeOf(need('ExitCode'), input, n), fields: Object.fromEntries(f),
    };
    const throttleOfSpec = readArrayFields(rec, f, input, n);
    if (throttleOfSpec !== undefined) rec.throttle = throttleOfSpec;
    const throttle = present(f.get('ArrayTaskThrottle'));
    if (throttle !== undefined && rec.throttle === undefined && throttle !== '0') rec.throttle = intOf(throttle, 'ArrayTaskThrottle', input, n);
    const reason = present(f.get('Reason'));
    if (reason !== undefined && reason !== 'None') rec.reason = reason;
    const nodes = present(f.get('NodeList'));
    if (nodes !== undefined) rec.nodeList = nodes;
    const name = f.get('JobName');
    if (name !== undefined) rec.name = name;
    const runTime = present(f.get('RunTime'));
    if (runTime !== undefined) {
      rec.runTime = runTime;
      const s = parseSlurmDuration(runTime);
      if (s !== undefined) rec.runTimeS = s;
    }
    const eligible = present(f.get('EligibleTime'));
    if (eligible !== undefined) rec.eligibleTime = eligible;
    const stdOut = present(f.get('StdOut'));
    if (stdOut !== undefined) rec.stdOut = stdOut;
    out.push(rec);
  });
  return out;
}

/** The keys jobcomp/filetxt writes (22.05's JOB_FORMAT). */
const JOBCOMP_KEYS = new Set([
  'JobId', 'UserId', 'GroupId', 'Name', 'JobState', 'Partition', 'TimeLimit', 'StartTime', 'EndTime', 'NodeList', 'NodeCnt',
  'ProcCnt', 'WorkDir', 'ReservationName', 'Tres', 'Account', 'QOS', 'WcKey', 'Cluster', 'SubmitTime', 'EligibleTime',
  'ArrayJobId', 'ArrayTaskId', 'HetJobId', 'HetJobOffset', 'DerivedExitCode', 'ExitCode',
]);
const JOBCOMP_FREE = new Set(['Name', 'WorkDir']);

export interface JobcompRecord extends JobRecord {
  source: 'jobcomp';
  exitCode?: string;
  startTime?: string;
  endTime?: string;
  /** The line as written (trailing space dropped): two equal lines are one report. */
  raw: string;
  fields: Record<string, string>;
}

/**
 * The jobcomp/filetxt file (`JobCompType=jobcomp/filetxt`): one line per finished run, in the
 * order they ended, so a requeued task has a NODE_FAIL line and then its next run's. A started
 * array task's line has ArrayJobId=/ArrayTaskId=; the line for an array's never-started rest
 * (cancelled while pending) has neither: only JobId=<the array's id>.
 */
export function parseJobcomp(text: string, input = 'jobcomp file'): JobcompRecord[] {
  const out: JobcompRecord[] = [];
  lines(text).forEach((raw, i) => {
    const n = i + 1;
    if (raw.trim() === '') return;
    if (!raw.startsWith('JobId=')) throw new SlurmParseError(input, n, `expected a line starting with "JobId=", got ${quoteLine(raw)}`);
    const { f, need } = recordFields(raw, n, input, JOBCOMP_KEYS, JOBCOMP_FREE);
    const rec: JobcompRecord = {
      source: 'jobcomp', line: n, jobId: intOf(need('JobId'), 'JobId', input, n), state: stateOf(need('JobState'), input, n),
      raw: raw.replace(/\s+$/, ''), fields: Object.fromEntries(f),
    };
    readArrayFields(rec, f, input, n);
    const exit = present(f.get('ExitCode'));
    if (exit !== undefined) rec.exitCode = exitCodeOf(exit, input, n);
    const nodes = present(f.get('NodeList'));
    if (nodes !== undefined) rec.nodeList = nodes;
    const name = f.get('Name');
    if (name !== undefined) rec.name = name;
    const start = present(f.get('StartTime'));
    if (start !== undefined) rec.startTime = start;
    const end = present(f.get('EndTime'));
    if (end !== undefined) rec.endTime = end;
    out.push(rec);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// One state per array task

export type TaskStateName =
  | 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'timeout' | 'node_fail' | 'requeued-pending'
  /** No record names the task: not yet visible after sbatch, or gone (past MinJobAge, no jobcomp line). */
  | 'unknown';

export interface TaskState {
  taskId: number;
  state: TaskStateName;
  /** The Slurm state word the state came from (absent for unknown). */
  slurmState?: SlurmState;
  /** The run this state is of: 0 for the first; 1 after one requeue (NODE_FAIL, preemption). */
  restarts: number;
  /** The task's raw job id, where a record gave it for this task alone. */
  jobId?: number;
  exitCode?: string;
  nodeList?: string;
  reason?: string;
  /** Where the state came from ('previous': the `previous` states passed in). */
  source: RecordSource | 'previous' | 'none';
}

const TERMINAL: readonly TaskStateName[] = ['completed', 'failed', 'cancelled', 'timeout', 'node_fail'];

/** Whether a task in this state will not change by itself (a requeue starts a new run). */
export function isTerminal(state: TaskStateName): boolean {
  return TERMINAL.includes(state);
}

type Phase = 0 | 1 | 2; // pending, running, ended

function phaseOf(s: SlurmState): Phase {
  switch (s) {
    case 'PENDING': case 'REQUEUED': case 'REQUEUE_HOLD': case 'REQUEUE_FED': case 'RESV_DEL_HOLD': case 'SPECIAL_EXIT':
      return 0;
    case 'CONFIGURING': case 'RUNNING': case 'COMPLETING': case 'RESIZING': case 'SIGNALING': case 'STAGE_OUT': case 'STOPPED': case 'SUSPENDED':
      return 1;
    default:
      return 2;
  }
}

function nameOf(s: SlurmState, run: number): TaskStateName {
  switch (s) {
    case 'COMPLETED': return 'completed';
    case 'CANCELLED': case 'REVOKED': return 'cancelled';
    case 'TIMEOUT': case 'DEADLINE': return 'timeout';
    case 'NODE_FAIL': return 'node_fail';
    case 'BOOT_FAIL': case 'FAILED': case 'OUT_OF_MEMORY': case 'PREEMPTED': return 'failed';
    case 'REQUEUED': case 'REQUEUE_HOLD': case 'REQUEUE_FED': case 'SPECIAL_EXIT': return 'requeued-pending';
    default: return phaseOf(s) === 0 ? (run > 0 ? 'requeued-pending' : 'pending') : 'running';
  }
}

/** Ended runs after which the same task may run again by itself (a --requeue job). */
const REQUEUEABLE: readonly SlurmState[] = ['NODE_FAIL', 'PREEMPTED', 'REQUEUED'];

interface Observation {
  run: number;
  phase: Phase;
  order: number;
  state: TaskState;
}

export interface TaskStatesOptions {
  /** The array to report (default: the only array the records name). */
  arrayJobId?: number;
  /** How many tasks the array has (ids 0..taskCount-1): tasks no record names are 'unknown'. */
  taskCount?: number;
  /** The states of the last poll: a state never goes back (a stale squeue line changes nothing). */
  previous?: readonly TaskState[];
}

/**
 * Merges squeue, scontrol and jobcomp records (any mix, any order) into one state per array
 * task id, ascending. Rules (docs/slurm.md):
 *
 * - Every record is an observation of one run of a task: scontrol and squeue --json give the
 *   run (Restarts), the k-th jobcomp line of a task is its run k (file order, exact repeats of a
 *   line dropped), a squeue -o line (no restart count) is the run after the last jobcomp line if
 *   that one ended by NODE_FAIL/PREEMPTED/REQUEUED, else the last one's run.
 * - The latest observation wins: higher run first, then ended over running over pending; on a tie
 *   the first seen. So a NODE_FAIL run followed by a requeued run is the later run only (counted
 *   once), and a later or repeated report of an ended run changes nothing.
 * - Pending with run > 0 (or a REQUEUED/REQUEUE_HOLD state) is 'requeued-pending'.
 * - A jobcomp line for the array's id without ArrayTaskId is the never-started rest ending
 *   (cancelled while pending): it applies, with taskCount, to tasks seen at most pending in run 0.
 */
export function taskStates(records: readonly JobRecord[], opts: TaskStatesOptions = {}): TaskState[] {
  let arrayJobId = opts.arrayJobId;
  if (arrayJobId === undefined) {
    const ids = [...new Set(records.map((r) => r.arrayJobId).filter((x): x is number => x !== undefined))];
    if (ids.length > 1) throw new Error(`taskStates: the records name several arrays (${ids.join(', ')}); pass arrayJobId`);
    arrayJobId = ids[0];
  }
  const obs = new Map<number, Observation[]>();
  let order = 0;
  const add = (taskId: number, o: Omit<Observation, 'order'>) => {
    if (!obs.has(taskId)) obs.set(taskId, []);
    obs.get(taskId)!.push({ ...o, order: order++ });
  };
  for (const p of opts.previous ?? []) {
    if (p.state === 'unknown' || p.slurmState === undefined) continue;
    add(p.taskId, { run: p.restarts, phase: phaseOf(p.slurmState), state: { ...p, source: 'previous' } });
  }
  const mine = records.filter((r) => r.arrayJobId === arrayJobId && r.arrayTaskIds !== undefined);
  const rest = records.filter((r) => r.source === 'jobcomp' && r.arrayJobId === undefined && r.jobId === arrayJobId);

  // jobcomp: ended runs per task, in file order, repeats dropped.
  const ended = new Map<number, JobcompRecord[]>();
  const seenLines = new Set<string>();
  for (const r of mine) {
    if (r.source !== 'jobcomp') continue;
    const jr = r as JobcompRecord;
    if (seenLines.has(jr.raw)) continue;
    seenLines.add(jr.raw);
    for (const t of r.arrayTaskIds!) {
      if (!ended.has(t)) ended.set(t, []);
      ended.get(t)!.push(jr);
    }
  }
  const stateFrom = (r: JobRecord, taskId: number, run: number): TaskState => {
    const s: TaskState = { taskId, state: nameOf(r.state, run), slurmState: r.state, restarts: run, source: r.source };
    if (r.arrayTaskIds!.length === 1) s.jobId = r.jobId;
    if (r.exitCode !== undefined) s.exitCode = r.exitCode;
    if (r.nodeList !== undefined) s.nodeList = r.nodeList;
    if (r.reason !== undefined) s.reason = r.reason;
    return s;
  };
  for (const r of mine) {
    for (const t of r.arrayTaskIds!) {
      let run: number;
      if (r.source === 'jobcomp') {
        run = ended.get(t)!.indexOf(r as JobcompRecord);
        if (run < 0) continue; // a repeat of a line already counted
      } else if (r.restarts !== undefined) {
        run = r.restarts;
      } else {
        const past = ended.get(t) ?? [];
        const last = past[past.length - 1];
        run = last === undefined ? 0 : REQUEUEABLE.includes(last.state) ? past.length : past.length - 1;
      }
      add(t, { run, phase: r.source === 'jobcomp' ? 2 : phaseOf(r.state), state: stateFrom(r, t, run) });
    }
  }
  if (opts.taskCount !== undefined) {
    for (const r of rest) {
      for (let t = 0; t < opts.taskCount; t++) {
        const o = obs.get(t) ?? [];
        if (o.some((x) => x.run > 0 || x.phase > 0)) continue;
        add(t, { run: 0, phase: 2, state: { taskId: t, state: nameOf(r.state, 0), slurmState: r.state, restarts: 0, source: 'jobcomp', ...(r.exitCode ? { exitCode: r.exitCode } : {}) } });
      }
    }
  }

  const out: TaskState[] = [];
  const ids = new Set(obs.keys());
  if (opts.taskCount !== undefined) for (let t = 0; t < opts.taskCount; t++) ids.add(t);
  for (const t of [...ids].sort((a, b) => a - b)) {
    const o = obs.get(t);
    if (!o || o.length === 0) {
      out.push({ taskId: t, state: 'unknown', restarts: 0, source: 'none' });
      continue;
    }
    const best = o.reduce((a, b) => (b.run > a.run || (b.run === a.run && b.phase > a.phase) ? b : a));
    const merged: TaskState = { ...best.state };
    // Fill what the winning record lacks (squeue has no exit code) from others of the same run and phase.
    for (const x of o) {
      if (x.run !== best.run || x.phase !== best.phase || x.state.slurmState !== best.state.slurmState) continue;
      for (const k of ['jobId', 'exitCode', 'nodeList', 'reason'] as const) {
        if (merged[k] === undefined && x.state[k] !== undefined) (merged as unknown as Record<string, unknown>)[k] = x.state[k];
      }
    }
    out.push(merged);
  }
  return out;
}

/** How many tasks are in each state. */
export function countStates(tasks: readonly TaskState[]): Partial<Record<TaskStateName, number>> {
  const c: Partial<Record<TaskStateName, number>> = {};
  for (const t of tasks) c[t.state] = (c[t.state] ?? 0) + 1;
  return c;
}
