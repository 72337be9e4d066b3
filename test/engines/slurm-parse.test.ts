/**
 * The Slurm output parsers (src/engines/slurm-parse.ts) on the real outputs captured from the
 * test cluster (test/fixtures/slurm/, README.md says which command made each). The expected
 * values are written out from reading the fixtures, not from the parsers. Malformed inputs give
 * errors naming the input and the line.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SQUEUE_FORMAT, countStates, expandArraySpec, isTerminal, parseJobcomp, parseSbatchParsable, parseScontrolJobs, parseSlurmDuration,
  parseSqueue, parseSqueueJson, taskStates, type JobRecord,
} from '../../src/engines/slurm-parse.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'slurm');
const fixture = (name: string) => readFileSync(join(dir, name), 'utf8');
const W = '/tmp/paddock-slurm-capture/work';

/** Fixtures the parsers read, and those they do not (with why), so that a new capture is placed here. */
const PARSED = [
  'sbatch-parsable.txt', 'squeue-format.txt', 'squeue-format-r.txt', 'squeue-format-requeued.txt', 'squeue.json',
  'scontrol-job-completed.txt', 'scontrol-job-running.txt', 'scontrol-job-pending.txt', 'scontrol-job-array-all.txt',
  'scontrol-job-cancelled.txt', 'scontrol-job-requeued-pending.txt', 'scontrol-job-requeued-running.txt',
  'scontrol-job-requeued-cancelled.txt', 'jobcomp.txt',
];
const NOT_PARSED: Record<string, string> = {
  'README.md': 'the index', 'manifest.txt': 'the commands', 'capture.sh': 'the capture', 'capture.ts': 'the capture',
  'slurm.conf.example': 'the conf', 'version.txt': 'sinfo -V', 'squeue.txt': 'squeue default format (for people; rejected below)',
  'sinfo.txt': 'nodes: not a job parser', 'sinfo-nodes.txt': 'nodes', 'sinfo-nodes-down.txt': 'nodes', 'sinfo.json': 'nodes',
  'scontrol-node-down.txt': 'nodes', 'sacct.txt': 'empty: sacct fails without slurmdbd', 'sacct.stderr.txt': 'the error',
  'sacct-j.txt': 'empty', 'sacct-j.stderr.txt': 'the error',
  'sacct-c.txt': 'sacct -c drops ArrayJobId/ArrayTaskId: the jobcomp file itself is parsed', 'sacct-c.stderr.txt': 'its warnings',
};

describe('the fixtures', () => {
  it('are each parsed here or listed as not parsed, with why', () => {
    const files = readdirSync(dir).sort();
    expect(files.filter((f) => !PARSED.includes(f) && !(f in NOT_PARSED))).toEqual([]);
    expect([...PARSED, ...Object.keys(NOT_PARSED)].filter((f) => !files.includes(f))).toEqual([]);
  });
});

describe('parseSbatchParsable', () => {
  it('reads sbatch-parsable.txt: the job id alone', () => {
    expect(parseSbatchParsable(fixture('sbatch-parsable.txt'))).toEqual({ jobId: 1 });
  });
  it.each([
    ['12345\n', { jobId: 12345 }],
    ['12345;cluster\n', { jobId: 12345, cluster: 'cluster' }],
    ['  77;east  \n\n', { jobId: 77, cluster: 'east' }],
  ])('%j', (text, want) => {
    expect(parseSbatchParsable(text)).toEqual(want);
  });
  it.each([
    ['', 'sbatch --parsable output: empty (expected "<job id>" or "<job id>;<cluster>")'],
    ['Submitted batch job 5\n', 'sbatch --parsable output line 1: expected "<job id>" or "<job id>;<cluster>", got "Submitted batch job 5"'],
    ['5\n6\n', 'sbatch --parsable output line 2: expected one line, got another: "6"'],
    ['5;a;b', 'sbatch --parsable output line 1: expected "<job id>" or "<job id>;<cluster>", got "5;a;b"'],
  ])('rejects %j', (text, message) => {
    expect(() => parseSbatchParsable(text)).toThrow(message);
  });
});

describe('expandArraySpec', () => {
  it.each([
    ['0-9%2', { ids: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], throttle: 2 }],
    ['1,3,5-7', { ids: [1, 3, 5, 6, 7] }],
    ['0-15:4', { ids: [0, 4, 8, 12] }],
    ['1-3%1', { ids: [1, 2, 3], throttle: 1 }],
    ['[1-3%1]', { ids: [1, 2, 3], throttle: 1 }],
    ['2', { ids: [2] }],
    ['5,1,1-2', { ids: [1, 2, 5] }],
  ])('%s', (spec, want) => {
    expect(expandArraySpec(spec)).toEqual(want);
  });
  it.each([
    ['3-1', 'array spec "3-1": range 3-1 ends before it starts'],
    ['a', 'array spec "a": expected "<id>", "<first>-<last>" or "<first>-<last>:<step>", got "a"'],
    ['1-3%0', 'array spec "1-3%0": expected a positive number after "%", got "0"'],
    ['0-4:0', 'array spec "0-4:0": range 0-4:0 has step 0'],
    ['', 'array spec "": no task ids'],
    ['1,3,5,7,9...', 'cut short by Slurm'],
    ['0-9999999', 'more than 4000001 task ids'],
  ])('rejects %j', (spec, message) => {
    expect(() => expandArraySpec(spec)).toThrow(message);
  });
});

describe('parseSqueue', () => {
  it('uses the captured format', () => {
    expect(SQUEUE_FORMAT).toBe('%i|%F|%K|%A|%T|%r|%N|%j');
  });

  it('reads squeue-format.txt: the pending rest folded into 4_[1-3%1], task 0 running', () => {
    const recs = parseSqueue(fixture('squeue-format.txt'));
    expect(recs.map(({ fields: _f, ...r }) => r)).toEqual([
      { source: 'squeue', line: 1, id: '4_[1-3%1]', jobId: 4, arrayJobId: 4, arrayTaskIds: [1, 2, 3], arrayTaskSpec: '1-3%1', throttle: 1, state: 'PENDING', reason: 'JobArrayTaskLimit', name: 'pending' },
      { source: 'squeue', line: 2, id: '4_0', jobId: 5, arrayJobId: 4, arrayTaskIds: [0], arrayTaskSpec: '0', state: 'RUNNING', nodeList: 'node1', name: 'pending' },
    ]);
    expect(recs[0].fields).toEqual({ i: '4_[1-3%1]', F: '4', K: '1-3%1', A: '4', T: 'PENDING', r: 'JobArrayTaskLimit', N: '', j: 'pending' });
  });

  it('reads squeue-format-r.txt: one line per task, the pending ones under the array\'s id 4', () => {
    const recs = parseSqueue(fixture('squeue-format-r.txt'));
    expect(recs.map((r) => [r.id, r.jobId, r.arrayJobId, r.arrayTaskIds, r.state, r.reason, r.nodeList])).toEqual([
      ['4_1', 4, 4, [1], 'PENDING', 'JobArrayTaskLimit', undefined],
      ['4_2', 4, 4, [2], 'PENDING', 'JobArrayTaskLimit', undefined],
      ['4_3', 4, 4, [3], 'PENDING', 'JobArrayTaskLimit', undefined],
      ['4_0', 5, 4, [0], 'RUNNING', undefined, 'node1'],
    ]);
  });

  it('reads squeue-format-requeued.txt: task 6_0 pending again, reason None, no node', () => {
    expect(parseSqueue(fixture('squeue-format-requeued.txt')).map(({ fields: _f, ...r }) => r)).toEqual([
      { source: 'squeue', line: 1, id: '6_0', jobId: 6, arrayJobId: 6, arrayTaskIds: [0], arrayTaskSpec: '0', state: 'PENDING', name: 'requeue' },
    ]);
  });

  it('takes other formats: widths, compact states, another delimiter, a plain job, a header, a name holding the delimiter', () => {
    const text = 'JOBID,STATE,NAME\n  12,R,a,b\n     7,PD,x\n';
    expect(parseSqueue(text, '%.18i,%t,%j').map(({ fields: _f, ...r }) => r)).toEqual([
      { source: 'squeue', line: 2, id: '12', jobId: 12, state: 'RUNNING', name: 'a,b' },
      { source: 'squeue', line: 3, id: '7', jobId: 7, state: 'PENDING', name: 'x' },
    ]);
    // a started array task has its own job id, which only %A gives
    expect(() => parseSqueue('7_3,R,x\n', '%i,%t,%j')).toThrow('squeue output line 1: job id: an array task needs %A for its own job id');
  });

  it.each([
    ['4_0|4|0|5|RUNNING|None|node1|pending\n\n4_0|4|0|5\n', 'squeue output line 3: expected 8 fields separated by "|", got 4: "4_0|4|0|5"'],
    ['4_0|4|0|5|WAITING|None|node1|pending\n', 'squeue output line 1: unknown job state "WAITING"'],
    ['4_0|4|1-x|5|RUNNING|None|node1|pending\n', 'squeue output line 1: array task id (%K): array spec "1-x": expected "<id>"'],
    ['4_0|4|0|five|RUNNING|None|node1|pending\n', 'squeue output line 1: job id (%A): expected a number, got "five"'],
    ['x_0|4|0|5|RUNNING|None|node1|pending\n', 'squeue output line 1: job id: expected "<job>" or "<job>_<task>", got "x_0"'],
  ])('rejects %j with a located error', (text, message) => {
    expect(() => parseSqueue(text)).toThrow(message);
  });

  it('rejects squeue.txt (the default, space-aligned format) at its first line', () => {
    expect(() => parseSqueue(fixture('squeue.txt'))).toThrow('squeue output line 1: expected 8 fields separated by "|", got 1: "             JOBID PARTITION');
  });

  it.each([
    ['%i|%j', 'needs %T (or %t) for the state'],
    ['%T|%j', 'needs %A (or %i) for the job id'],
    ['%i|%T,%j', 'fields must be separated by one and the same delimiter'],
    ['x%i|%T', 'text before the first field'],
  ])('rejects the format %j', (format, message) => {
    expect(() => parseSqueue('', format)).toThrow(message);
  });
});

describe('parseSqueueJson', () => {
  it('reads squeue.json (openapi v0.0.38): array 1 completed, array 4 with task 0 running and 1-3 pending', () => {
    const recs = parseSqueueJson(fixture('squeue.json'));
    const common = { source: 'squeue --json', restarts: 0, exitCode: '0:0', stdOut: `${W}/%A_%a.out` };
    expect(recs).toEqual([
      { ...common, line: 1, jobId: 2, arrayJobId: 1, arrayTaskIds: [0], arrayTaskSpec: '0', state: 'COMPLETED', nodeList: 'node1', name: 'done', eligibleTime: 1796416520, startTime: 1796416520 },
      { ...common, line: 2, jobId: 3, arrayJobId: 1, arrayTaskIds: [1], arrayTaskSpec: '1', state: 'COMPLETED', nodeList: 'node1', name: 'done', eligibleTime: 1796416520, startTime: 1796416520 },
      { ...common, line: 3, jobId: 1, arrayJobId: 1, arrayTaskIds: [2], arrayTaskSpec: '2', state: 'COMPLETED', nodeList: 'node2', name: 'done', eligibleTime: 1796416520, startTime: 1796416520 },
      { ...common, line: 4, jobId: 5, arrayJobId: 4, arrayTaskIds: [0], arrayTaskSpec: '0', throttle: 1, state: 'RUNNING', nodeList: 'node1', name: 'pending', eligibleTime: 1796416522, startTime: 1796416522 },
      { ...common, line: 5, jobId: 4, arrayJobId: 4, arrayTaskIds: [1, 2, 3], arrayTaskSpec: '1-3%1', throttle: 1, state: 'PENDING', reason: 'JobArrayTaskLimit', name: 'pending' },
    ]);
  });

  it('reads a raw wait status and later shapes (state list, {set, number})', () => {
    const doc = { errors: [], jobs: [{ job_id: 9, array_job_id: { set: true, number: 8 }, array_task_id: { set: true, number: 1 }, job_state: ['FAILED'], exit_code: 256, restart_cnt: 2 }] };
    expect(parseSqueueJson(JSON.stringify(doc))).toEqual([
      { source: 'squeue --json', line: 1, jobId: 9, arrayJobId: 8, arrayTaskIds: [1], arrayTaskSpec: '1', state: 'FAILED', restarts: 2, exitCode: '1:0' },
    ]);
  });

  it.each([
    ['{"jobs": [', 'squeue --json output: not JSON'],
    ['{"meta": {}}', 'squeue --json output: expected an object with a "jobs" list'],
    ['{"errors": [{"error": "boom"}], "jobs": []}', 'squeue --json output: Slurm reported errors: [{"error":"boom"}]'],
    ['{"jobs": [{"job_id": 1, "job_state": "PENDING"}, {"job_id": "2", "job_state": "PENDING"}]}', 'squeue --json output: jobs[1].job_id: expected a whole number, got "2"'],
    ['{"jobs": [{"job_id": 1, "job_state": "ASLEEP"}]}', 'squeue --json output: jobs[0].job_state: unknown job state "ASLEEP"'],
    ['{"jobs": [{"job_state": "PENDING"}]}', 'squeue --json output: jobs[0].job_id: missing'],
  ])('rejects %s', (text, message) => {
    expect(() => parseSqueueJson(text)).toThrow(message);
  });
});

/** The fields every scontrol record of these fixtures has, as printed. */
function core(r: ReturnType<typeof parseScontrolJobs>[number]) {
  const { fields: _f, ...rest } = r;
  return rest;
}

describe('parseScontrolJobs', () => {
  it('reads scontrol-job-completed.txt: three tasks of array 1, the last under the array\'s own id', () => {
    const recs = parseScontrolJobs(fixture('scontrol-job-completed.txt'));
    const c = { source: 'scontrol', state: 'COMPLETED', restarts: 0, exitCode: '0:0', name: 'done', runTime: '00:00:01', runTimeS: 1, eligibleTime: '2026-12-04T20:35:20', arrayJobId: 1 };
    expect(recs.map(core)).toEqual([
      { ...c, line: 1, jobId: 1, arrayTaskIds: [2], arrayTaskSpec: '2', nodeList: 'node2', stdOut: `${W}/1_2.out` },
      { ...c, line: 2, jobId: 3, arrayTaskIds: [1], arrayTaskSpec: '1', nodeList: 'node1', stdOut: `${W}/1_1.out` },
      { ...c, line: 3, jobId: 2, arrayTaskIds: [0], arrayTaskSpec: '0', nodeList: 'node1', stdOut: `${W}/1_0.out` },
    ]);
    // values with spaces, empty values, keys with ':' and '/'
    expect(recs[0].fields.Command).toBe(`${W}/sleepy.sh 1`);
    expect(recs[0].fields.WorkDir).toBe(W);
    expect(recs[0].fields.StdErr).toBe(`${W}/1_2.out`);
    expect(recs[0].fields.Power).toBe('');
    expect(recs[0].fields['AllocNode:Sid']).toBe('localhost:17542');
    expect(recs[0].fields['CPUs/Task']).toBe('1');
    expect(recs[0].fields['ReqB:S:C:T']).toBe('0:0:*:*');
    expect(recs[0].fields.TRES).toBe('cpu=1,node=1,billing=1');
    expect(recs[0].fields.TimeLimit).toBe('365-00:00:00');
    expect(Object.keys(recs[0].fields).length).toBe(62);
  });

  it('reads scontrol-job-running.txt: task 4_0 running under its own JobId=5', () => {
    expect(parseScontrolJobs(fixture('scontrol-job-running.txt')).map(core)).toEqual([
      { source: 'scontrol', line: 1, jobId: 5, arrayJobId: 4, arrayTaskIds: [0], arrayTaskSpec: '0', throttle: 1, state: 'RUNNING', restarts: 0, exitCode: '0:0', nodeList: 'node1', name: 'pending', runTime: '00:00:00', runTimeS: 0, eligibleTime: '2026-12-04T20:35:22', stdOut: `${W}/4_0.out` },
    ]);
  });

  it('reads scontrol-job-pending.txt: task 4_2 pending in the array\'s record (JobId=4), reason JobArrayTaskLimit', () => {
    const [r] = parseScontrolJobs(fixture('scontrol-job-pending.txt'));
    expect(core(r)).toEqual({ source: 'scontrol', line: 1, jobId: 4, arrayJobId: 4, arrayTaskIds: [2], arrayTaskSpec: '2', throttle: 1, state: 'PENDING', reason: 'JobArrayTaskLimit', restarts: 0, exitCode: '0:0', name: 'pending', runTime: '00:00:00', runTimeS: 0, stdOut: `${W}/4_2.out` });
    expect(r.fields.NodeList).toBe('');
    expect(r.fields.EligibleTime).toBe('Unknown');
    expect(r.fields.Command).toBe(`${W}/sleepy.sh 60`);
  });

  it('reads scontrol-job-array-all.txt: the never-started rest 1-3%1 (NO_VAL in StdOut) and task 0', () => {
    expect(parseScontrolJobs(fixture('scontrol-job-array-all.txt')).map(core)).toEqual([
      { source: 'scontrol', line: 1, jobId: 4, arrayJobId: 4, arrayTaskIds: [1, 2, 3], arrayTaskSpec: '1-3%1', throttle: 1, state: 'PENDING', reason: 'JobArrayTaskLimit', restarts: 0, exitCode: '0:0', name: 'pending', runTime: '00:00:00', runTimeS: 0, stdOut: `${W}/4_4294967294.out` },
      { source: 'scontrol', line: 2, jobId: 5, arrayJobId: 4, arrayTaskIds: [0], arrayTaskSpec: '0', throttle: 1, state: 'RUNNING', restarts: 0, exitCode: '0:0', nodeList: 'node1', name: 'pending', runTime: '00:00:00', runTimeS: 0, eligibleTime: '2026-12-04T20:35:22', stdOut: `${W}/4_0.out` },
    ]);
  });

  it('reads scontrol-job-cancelled.txt: all CANCELLED, the ran task with 0:15 (SIGTERM)', () => {
    expect(parseScontrolJobs(fixture('scontrol-job-cancelled.txt')).map((r) => [r.jobId, r.arrayTaskIds, r.state, r.reason, r.exitCode, r.fields.NumTasks])).toEqual([
      [4, [1, 2, 3], 'CANCELLED', 'JobArrayTaskLimit', '0:0', 'N/A'],
      [5, [0], 'CANCELLED', undefined, '0:15', '1'],
    ]);
  });

  it.each([
    ['scontrol-job-requeued-pending.txt', 'PENDING', undefined, '0:0', '2026-12-04T20:35:35', 'Backfill:*'],
    ['scontrol-job-requeued-running.txt', 'RUNNING', 'node2', '0:0', '2026-12-04T20:35:35', 'Main'],
    ['scontrol-job-requeued-cancelled.txt', 'CANCELLED', 'node2', '0:15', '2026-12-04T20:35:35', 'Main'],
  ])('reads %s: task 6_0 after its node went down, Restarts=1', (file, state, nodeList, exitCode, eligibleTime, scheduler) => {
    const [r, more] = parseScontrolJobs(fixture(file));
    expect(more).toBeUndefined();
    expect([r.jobId, r.arrayJobId, r.arrayTaskIds, r.state, r.restarts, r.nodeList, r.exitCode, r.eligibleTime, r.reason, r.fields.Scheduler, r.fields.Requeue, r.stdOut])
      .toEqual([6, 6, [0], state, 1, nodeList, exitCode, eligibleTime, undefined, scheduler, '1', `${W}/6_0.out`]);
  });

  it('keeps spaces and key-like words in free-text values (JobName, Command), and reads "No jobs in the system" as none', () => {
    const line = fixture('scontrol-job-running.txt').trimEnd()
      .replace('JobName=pending', 'JobName=my long job')
      .replace(`Command=${W}/sleepy.sh 60`, `Command=${W}/train.py --lr=0.1 epochs=3 a b`)
      .replace('Reason=None', 'Reason=launch_failed_requeued_held');
    const [r] = parseScontrolJobs(`${line}\n`);
    expect(r.name).toBe('my long job');
    expect(r.fields.UserId).toBe('root(0)');
    expect(r.fields.Command).toBe(`${W}/train.py --lr=0.1 epochs=3 a b`);
    expect(r.fields.WorkDir).toBe(W);
    expect(r.reason).toBe('launch_failed_requeued_held');
    expect(parseScontrolJobs('No jobs in the system\n')).toEqual([]);
  });

  it.each([
    ['\nslurm_load_jobs error: Invalid job id specified\n', 'scontrol show job output line 2: expected a record starting with "JobId=", got "slurm_load_jobs error: Invalid job id specified"'],
    ['JobId=5 ArrayJobId=4 ArrayTaskId=0 Restarts=0 ExitCode=0:0\n', 'scontrol show job output line 1: no JobState= field in "JobId=5'],
    ['JobId=5 JobState=RUNNING Restarts=x ExitCode=0:0\n', 'scontrol show job output line 1: Restarts: expected a number, got "x"'],
    ['JobId=5 ArrayJobId=4 ArrayTaskId=2-1 JobState=RUNNING Restarts=0 ExitCode=0:0\n', 'scontrol show job output line 1: ArrayTaskId: array spec "2-1": range 2-1 ends before it starts'],
    ['JobId=5 JobState=RUNNING Restarts=0 ExitCode=0\n', 'scontrol show job output line 1: ExitCode: expected "<exit>:<signal>", got "0"'],
    ['JobId=5 JobState=Running Restarts=0 ExitCode=0:0\n', 'scontrol show job output line 1: unknown job state "Running"'],
  ])('rejects %j with a located error', (text, message) => {
    expect(() => parseScontrolJobs(text)).toThrow(message);
  });
});

describe('parseJobcomp', () => {
  it('reads jobcomp.txt: one line per finished run, the never-started rest of array 4 without array fields', () => {
    const recs = parseJobcomp(fixture('jobcomp.txt'));
    expect(recs.map((r) => [r.line, r.jobId, r.arrayJobId, r.arrayTaskIds, r.state, r.exitCode, r.nodeList, r.name, r.startTime, r.endTime])).toEqual([
      [1, 1, 1, [2], 'COMPLETED', '0:0', 'node2', 'done', '2026-12-04T20:35:20', '2026-12-04T20:35:21'],
      [2, 3, 1, [1], 'COMPLETED', '0:0', 'node1', 'done', '2026-12-04T20:35:20', '2026-12-04T20:35:21'],
      [3, 2, 1, [0], 'COMPLETED', '0:0', 'node1', 'done', '2026-12-04T20:35:20', '2026-12-04T20:35:21'],
      [4, 4, undefined, undefined, 'CANCELLED', '0:0', undefined, 'pending', '2026-12-04T20:35:22', '2026-12-04T20:35:22'],
      [5, 5, 4, [0], 'CANCELLED', '0:0', 'node1', 'pending', '2026-12-04T20:35:22', '2026-12-04T20:35:22'],
      [6, 6, 6, [0], 'NODE_FAIL', '0:0', 'node1', 'requeue', '2026-12-04T20:35:24', '2026-12-04T20:35:24'],
      [7, 6, 6, [0], 'CANCELLED', '0:0', 'node2', 'requeue', '2026-12-04T20:35:36', '2026-12-04T20:35:36'],
    ]);
    expect(recs[0].fields.WorkDir).toBe(W);
    expect(recs[0].fields.ReservationName).toBe('');
    expect(recs[0].fields.Tres).toBe('cpu=1,mem=12052M,node=1,billing=1');
    expect(recs[3].fields.EligibleTime).toBe('unknown');
    expect(recs[3].fields.TimeLimit).toBe('UNLIMITED');
    expect(recs[6].fields.EligibleTime).toBe('2026-12-04T20:35:35');
    expect(recs[6].raw.endsWith('ExitCode=0:0')).toBe(true);
  });

  it.each([
    ['JobId=1 JobState=COMPLETED\ngarbage\n', 'jobcomp file line 2: expected a line starting with "JobId=", got "garbage"'],
    ['JobId=1 Name=x\n', 'jobcomp file line 1: no JobState= field'],
    ['JobId=1 JobState=COMPLETED ArrayTaskId=3\n', 'jobcomp file line 1: ArrayTaskId without ArrayJobId'],
    ['JobId=one JobState=COMPLETED\n', 'jobcomp file line 1: JobId: expected a number, got "one"'],
  ])('rejects %j with a located error', (text, message) => {
    expect(() => parseJobcomp(text)).toThrow(message);
  });
});

describe('parseSlurmDuration', () => {
  it.each([
    ['00:00:01', 1], ['365-00:00:00', 31_536_000], ['1-02:03:04', 93_784], ['05:06', 306], ['UNLIMITED', undefined], ['INVALID', undefined],
  ])('%s', (s, want) => {
    expect(parseSlurmDuration(s)).toBe(want);
  });
});

describe('taskStates', () => {
  const jobcomp = parseJobcomp(fixture('jobcomp.txt'));
  const lines = fixture('jobcomp.txt').split('\n').filter(Boolean);
  const brief = (recs: JobRecord[], opts = {}) => taskStates(recs, opts).map((t) => [t.taskId, t.state, t.restarts]);

  it('array 1: three completed tasks, whichever source says so', () => {
    const want = [[0, 'completed', 0], [1, 'completed', 0], [2, 'completed', 0]];
    expect(brief(parseScontrolJobs(fixture('scontrol-job-completed.txt')))).toEqual(want);
    expect(brief(jobcomp, { arrayJobId: 1 })).toEqual(want);
    expect(brief(parseSqueueJson(fixture('squeue.json')), { arrayJobId: 1 })).toEqual(want);
    const all = taskStates([...parseScontrolJobs(fixture('scontrol-job-completed.txt')), ...jobcomp], { arrayJobId: 1, taskCount: 3 });
    expect(all[2]).toEqual({ taskId: 2, state: 'completed', slurmState: 'COMPLETED', restarts: 0, jobId: 1, exitCode: '0:0', nodeList: 'node2', source: 'scontrol' });
  });

  it('array 4 while task 0 runs: 0 running, 1-3 pending, from squeue folded or -r, scontrol or squeue --json', () => {
    const want = [[0, 'running', 0], [1, 'pending', 0], [2, 'pending', 0], [3, 'pending', 0]];
    expect(brief(parseSqueue(fixture('squeue-format.txt')))).toEqual(want);
    expect(brief(parseSqueue(fixture('squeue-format-r.txt')))).toEqual(want);
    expect(brief(parseScontrolJobs(fixture('scontrol-job-array-all.txt')))).toEqual(want);
    expect(brief(parseSqueueJson(fixture('squeue.json')), { arrayJobId: 4 })).toEqual(want);
    const [, t1] = taskStates(parseSqueue(fixture('squeue-format.txt')));
    expect(t1).toEqual({ taskId: 1, state: 'pending', slurmState: 'PENDING', restarts: 0, reason: 'JobArrayTaskLimit', source: 'squeue' });
  });

  it('array 4 after scancel: all four cancelled, from scontrol, or from jobcomp whose rest line needs the task count', () => {
    const want = [[0, 'cancelled', 0], [1, 'cancelled', 0], [2, 'cancelled', 0], [3, 'cancelled', 0]];
    expect(brief(parseScontrolJobs(fixture('scontrol-job-cancelled.txt')))).toEqual(want);
    expect(brief(jobcomp, { arrayJobId: 4, taskCount: 4 })).toEqual(want);
    expect(brief(jobcomp, { arrayJobId: 4 })).toEqual([[0, 'cancelled', 0]]);
    // the stale squeue view of the same moment changes nothing: the ended run wins over running/pending
    expect(brief([...parseSqueue(fixture('squeue-format.txt')), ...jobcomp], { arrayJobId: 4, taskCount: 4 })).toEqual(want);
  });

  it('array 6: NODE_FAIL then requeued: requeued-pending, running again, then cancelled, counted once', () => {
    const failed = parseJobcomp(lines[5]);
    expect(failed.map((r) => r.state)).toEqual(['NODE_FAIL']);
    expect(brief(failed)).toEqual([[0, 'node_fail', 0]]);
    expect(brief([...parseScontrolJobs(fixture('scontrol-job-requeued-pending.txt')), ...failed])).toEqual([[0, 'requeued-pending', 1]]);
    expect(brief(parseScontrolJobs(fixture('scontrol-job-requeued-pending.txt')))).toEqual([[0, 'requeued-pending', 1]]);
    // squeue -o has no restart count: the NODE_FAIL line before it makes it the second run
    expect(brief([...parseSqueue(fixture('squeue-format-requeued.txt')), ...failed])).toEqual([[0, 'requeued-pending', 1]]);
    expect(brief(parseSqueue(fixture('squeue-format-requeued.txt')))).toEqual([[0, 'pending', 0]]);
    // the NODE_FAIL line read twice is one run
    expect(brief([...failed, ...parseSqueue(fixture('squeue-format-requeued.txt')), ...parseJobcomp(lines[5])])).toEqual([[0, 'requeued-pending', 1]]);
    expect(brief([...failed, ...parseScontrolJobs(fixture('scontrol-job-requeued-running.txt'))])).toEqual([[0, 'running', 1]]);
    const end = taskStates([...parseScontrolJobs(fixture('scontrol-job-requeued-cancelled.txt')), ...jobcomp], { arrayJobId: 6, taskCount: 1 });
    expect(end).toEqual([{ taskId: 0, state: 'cancelled', slurmState: 'CANCELLED', restarts: 1, jobId: 6, exitCode: '0:15', nodeList: 'node2', source: 'scontrol' }]);
    expect(countStates(end)).toEqual({ cancelled: 1 });
  });

  it('a task lost with its node and then completed counts once, as completed; repeated reports change nothing', () => {
    const completedAfter = parseJobcomp(`${lines[5]}\n${lines[6].replace('JobState=CANCELLED', 'JobState=COMPLETED')}\n`);
    const once = taskStates(completedAfter, { taskCount: 1 });
    expect(once).toEqual([{ taskId: 0, state: 'completed', slurmState: 'COMPLETED', restarts: 1, jobId: 6, exitCode: '0:0', nodeList: 'node2', source: 'jobcomp' }]);
    expect(countStates(once)).toEqual({ completed: 1 });
    // the same lines read twice (a re-read of the file), in any order with the live records
    const twice = [...completedAfter, ...completedAfter, ...parseScontrolJobs(fixture('scontrol-job-requeued-running.txt'))];
    expect(taskStates(twice, { taskCount: 1 })).toEqual(once);
    // a stale squeue line (pending, no restart count) after the completion, with the last poll's states
    expect(taskStates([...parseSqueue(fixture('squeue-format-requeued.txt'))], { previous: once })).toEqual([{ ...once[0], source: 'previous' }]);
  });

  it('keeps a state from going back: previous states are observations too', () => {
    const running = taskStates(parseScontrolJobs(fixture('scontrol-job-running.txt')));
    expect(running.map((t) => t.state)).toEqual(['running']);
    const stale = parseSqueue('4_0|4|0|4|PENDING|None||pending\n');
    expect(taskStates(stale, { previous: running }).map((t) => [t.taskId, t.state, t.source])).toEqual([[0, 'running', 'previous']]);
  });

  it('names tasks no record mentions unknown, and refuses records of several arrays without arrayJobId', () => {
    expect(brief(parseSqueue(fixture('squeue-format-requeued.txt')), { taskCount: 2 })).toEqual([[0, 'pending', 0], [1, 'unknown', 0]]);
    expect(() => taskStates(jobcomp)).toThrow('taskStates: the records name several arrays (1, 4, 6); pass arrayJobId');
    expect(isTerminal('node_fail')).toBe(true);
    expect(isTerminal('requeued-pending')).toBe(false);
  });

  it.each([
    ['FAILED', 'failed'], ['OUT_OF_MEMORY', 'failed'], ['BOOT_FAIL', 'failed'], ['TIMEOUT', 'timeout'], ['DEADLINE', 'timeout'],
    ['NODE_FAIL', 'node_fail'], ['PREEMPTED', 'failed'], ['CANCELLED', 'cancelled'], ['COMPLETING', 'running'], ['CONFIGURING', 'running'],
    ['SUSPENDED', 'running'], ['REQUEUED', 'requeued-pending'], ['REQUEUE_HOLD', 'requeued-pending'], ['PENDING', 'pending'],
  ])('maps %s to %s', (slurm, want) => {
    const line = fixture('scontrol-job-running.txt').replace('JobState=RUNNING', `JobState=${slurm}`);
    expect(taskStates(parseScontrolJobs(line))[0].state).toBe(want);
  });
});
