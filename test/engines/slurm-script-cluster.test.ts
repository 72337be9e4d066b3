/**
 * The generated sbatch arguments and batch script on the real test cluster
 * (test/helpers/slurm-service.ts): a process-runtime array of 6 tasks at concurrency 2 runs to
 * completion, its state read only through the parsers (squeue with SQUEUE_FORMAT, scontrol,
 * the jobcomp file) and merged by taskStates; each task's output file holds its two JSON lines.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQUEUE_FORMAT, parseJobcomp, parseSbatchParsable, parseScontrolJobs, parseSqueue, taskStates, type TaskState } from '../../src/engines/slurm-parse.js';
import { batchScript, sbatchArgs, type SlurmBatch } from '../../src/engines/slurm-script.js';
import { slurm, slurmTry, startSlurm, stopSlurm, type SlurmCluster } from '../helpers/slurm-service.js';

let c: SlurmCluster;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The jobcomp file; not there until the first job ends. */
const jobcompText = () => {
  try {
    return readFileSync(c.logs.jobcomp, 'utf8');
  } catch {
    return '';
  }
};

beforeAll(async () => {
  c = await startSlurm({ nodes: 2, cpusPerNode: 2 });
}, 120_000);

afterAll(async () => {
  if (c) await stopSlurm(c);
}, 120_000);

describe('a generated batch on the real cluster', () => {
  it('runs 6 tasks at most 2 at a time, tracked through the parsers until all completed', async () => {
    const work = join(c.dir, 'work');
    const out = join(work, 'out');
    mkdirSync(out, { recursive: true });
    // Two JSON lines with the task id and the batch's variable; a short sleep so the %2 limit shows.
    const js = "const t = Number(process.env.SLURM_ARRAY_TASK_ID); const m = process.env.PADDOCK_MSG;"
      + " console.log(JSON.stringify({ event: 'start', task: t, msg: m }));"
      + " setTimeout(() => console.log(JSON.stringify({ event: 'done', task: t })), 600);";
    const batch: SlurmBatch = {
      name: 'cluster-check', tasks: 6, concurrency: 2, resources: { cpus: 1, memory_mb: 100, time_limit_s: 120 }, requeue: false,
      outputDir: out, workDir: work, runtime: { kind: 'process' }, command: [process.execPath, '-e', js], env: { PADDOCK_MSG: "it's $ok" },
    };
    const script = join(work, 'batch.sh');
    writeFileSync(script, batchScript(batch), { mode: 0o755 });
    const { jobId } = parseSbatchParsable(slurm(c, c.bin.sbatch, [...sbatchArgs(batch), script]));

    let states: TaskState[] = [];
    let maxRunning = 0;
    const seen = new Set<string>();
    const end = Date.now() + 35_000;
    for (;;) {
      const q = parseSqueue(slurm(c, c.bin.squeue, ['-h', '-r', '-j', String(jobId), '-o', SQUEUE_FORMAT]));
      const sc = await slurmTry(c, c.bin.scontrol, ['show', 'job', '-o', String(jobId)]);
      const records = [...q, ...(sc.code === 0 ? parseScontrolJobs(sc.stdout) : []), ...parseJobcomp(jobcompText())];
      states = taskStates(records, { arrayJobId: jobId, taskCount: 6, previous: states });
      const running = states.filter((t) => t.state === 'running').length;
      maxRunning = Math.max(maxRunning, running);
      for (const t of states) seen.add(t.state);
      if (states.every((t) => t.state === 'completed')) break;
      if (Date.now() > end) throw new Error(`not all completed after 35 s: ${JSON.stringify(states)}`);
      await sleep(250);
    }
    expect(maxRunning).toBeGreaterThan(0);
    expect(maxRunning).toBeLessThanOrEqual(2);
    expect(seen.has('pending') || seen.has('running')).toBe(true);
    expect(states.map((t) => [t.taskId, t.state, t.restarts, t.exitCode])).toEqual([0, 1, 2, 3, 4, 5].map((t) => [t, 'completed', 0, '0:0']));
    expect(new Set(states.map((t) => t.jobId)).size).toBe(6);

    for (let t = 0; t < 6; t++) {
      const lines = readFileSync(join(out, `${jobId}_${t}.out`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines).toEqual([{ event: 'start', task: t, msg: "it's $ok" }, { event: 'done', task: t }]);
      expect(readFileSync(join(out, `${jobId}_${t}.err`), 'utf8')).toBe('');
    }
    // the jobcomp file has one COMPLETED line per task, named by ArrayJobId/ArrayTaskId
    const done = parseJobcomp(jobcompText()).filter((r) => r.arrayJobId === jobId);
    expect(done.map((r) => [r.arrayTaskIds, r.state]).sort()).toEqual([0, 1, 2, 3, 4, 5].map((t) => [[t], 'COMPLETED']));
  }, 60_000);
});
