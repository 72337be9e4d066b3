/**
 * The real Slurm cluster the Slurm backend's tests will run on (test/helpers/slurm-service.ts):
 * Debian's slurmctld and two slurmd on this host, with munge. Checks the operations the backend
 * will use: sbatch --array with a %N limit, squeue/scontrol/jobcomp state, scancel, and a node
 * taken down under a --requeue task and resumed.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeStates, slurm, startSlurm, stopSlurm, waitIdle, type SlurmCluster } from '../helpers/slurm-service.js';

let c: SlurmCluster;
let work: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `scontrol show job -o <id>` as one record per line, each a key -> value map. */
function showJob(id: string): Record<string, string>[] {
  const out = slurm(c, c.bin.scontrol, ['show', 'job', '-o', id]);
  return out.split('\n').filter((l) => l.startsWith('JobId=')).map((l) => {
    const rec: Record<string, string> = {};
    for (const m of l.matchAll(/(\S+?)=(\S*)/g)) if (!(m[1] in rec)) rec[m[1]] = m[2];
    return rec;
  });
}

/** squeue rows of one job: `%i %T %N` (array task id, state, node). */
function queue(jobId: string): { id: string; state: string; node: string }[] {
  return slurm(c, c.bin.squeue, ['-h', '-j', jobId, '-o', '%i %T %N']).split('\n').filter(Boolean).map((l) => {
    const [id, state, node = ''] = l.trim().split(/\s+/);
    return { id, state, node };
  });
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 60_000, stepMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}\nsqueue:\n${slurm(c, c.bin.squeue, ['-o', '%i %T %N %r'])}\nsinfo:\n${slurm(c, c.bin.sinfo, ['-N', '-o', '%N %T %E'])}`);
    await sleep(stepMs);
  }
}

function script(name: string, body: string): string {
  const file = join(work, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

function sbatch(args: string[]): string {
  const id = slurm(c, c.bin.sbatch, ['--parsable', ...args]).trim().split(';')[0];
  expect(id).toMatch(/^\d+$/);
  return id;
}

function jobcomp(): string[] {
  try {
    return readFileSync(c.logs.jobcomp, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

beforeAll(async () => {
  // Two CPUs per node whatever the machine has: room for more tasks than the %2 limit lets run.
  c = await startSlurm({ nodes: 2, cpusPerNode: 2 });
  work = join(c.dir, 'work');
  mkdirSync(join(work, 'out'), { recursive: true });
}, 180_000);

afterAll(async () => {
  if (c) await stopSlurm(c);
}, 120_000);

describe('a real Slurm cluster (slurmctld + slurmd + munged)', () => {
  it('lists its nodes idle in sinfo', async () => {
    expect(c.nodes.length).toBe(2);
    expect(await nodeStates(c)).toEqual(Object.fromEntries(c.nodes.map((n) => [n, 'idle'])));
    expect(slurm(c, c.bin.sinfo, ['-h', '-o', '%P %a %D %T'])).toMatch(/^debug\* up 2 idle$/m);
  });

  it('runs sbatch --array=0-9%2 with at most 2 tasks at once, writing each task\'s output', async () => {
    const job = script('array.sh', 'echo "task=$SLURM_ARRAY_TASK_ID"\necho "node=$SLURMD_NODENAME"\nsleep 1');
    const id = sbatch(['--array=0-9%2', `--output=${work}/out/%A_%a.out`, '--job-name=array10', job]);
    let maxRunning = 0;
    const seen = new Set<string>();
    await until('the array to finish', () => {
      const rows = queue(id);
      const running = rows.filter((r) => r.state === 'RUNNING');
      maxRunning = Math.max(maxRunning, running.length);
      for (const r of running) seen.add(r.id);
      return rows.length === 0;
    }, 90_000, 150);
    expect(maxRunning).toBeLessThanOrEqual(2);
    expect(maxRunning).toBeGreaterThan(0);
    expect(seen.size).toBeGreaterThan(1);

    const files = readdirSync(join(work, 'out')).filter((f) => f.startsWith(`${id}_`)).sort();
    expect(files.length).toBe(10);
    for (let t = 0; t < 10; t++) {
      const text = readFileSync(join(work, 'out', `${id}_${t}.out`), 'utf8');
      expect(text).toMatch(new RegExp(`^task=${t}$`, 'm'));
      expect(text).toMatch(/^node=node[12]$/m);
    }
    const recs = showJob(id);
    expect(recs.length).toBe(10);
    expect(recs.every((r) => r.JobState === 'COMPLETED' && r.ExitCode === '0:0' && r.ArrayJobId === id)).toBe(true);
    expect(recs.map((r) => Number(r.ArrayTaskId)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(jobcomp().filter((l) => l.includes(`ArrayJobId=${id} `) && l.includes('JobState=COMPLETED')).length).toBe(10);
  });

  it('cancels a running array job with scancel', async () => {
    const job = script('long.sh', 'echo "task=$SLURM_ARRAY_TASK_ID"\nsleep 120');
    const id = sbatch(['--array=0-5%2', `--output=${work}/out/%A_%a.out`, '--job-name=cancelme', job]);
    await until('two running tasks', () => queue(id).filter((r) => r.state === 'RUNNING').length === 2);
    slurm(c, c.bin.scancel, [id]);
    await until('the array to leave the queue', () => queue(id).length === 0);
    const recs = showJob(id);
    expect(recs.length).toBeGreaterThan(0);
    expect(recs.every((r) => r.JobState === 'CANCELLED')).toBe(true);
    // The two that ran end CANCELLED in the jobcomp file too (the pending rest are one record).
    const ran = jobcomp().filter((l) => l.includes(`ArrayJobId=${id} `));
    expect(ran.length).toBeGreaterThanOrEqual(2);
    expect(ran.every((l) => l.includes('JobState=CANCELLED'))).toBe(true);
    await waitIdle(c, 30_000);
  });

  it('requeues a --requeue task when its node is set down, runs it on the other node, and resumes the node', async () => {
    const job = script('requeue.sh', 'echo "start task=$SLURM_ARRAY_TASK_ID node=$SLURMD_NODENAME restarts=${SLURM_RESTART_COUNT:-0}"\nsleep 5\necho done');
    const id = sbatch(['--requeue', '--array=0', `--output=${work}/out/%A_%a.out`, '--open-mode=append', '--job-name=requeue', job]);
    const first = await until('the task to run', () => showJob(`${id}_0`).find((r) => r.JobState === 'RUNNING'));
    const node = first.NodeList;
    const other = c.nodes.find((n) => n !== node)!;
    expect(c.nodes).toContain(node);
    await until('the task to have started', () => readFileSafe(`${id}_0`).includes('start'));

    slurm(c, c.bin.scontrol, ['update', `nodename=${node}`, 'state=down', 'reason=test']);
    const requeued = await until('the task to be requeued', () => showJob(`${id}_0`).find((r) => r.JobState === 'PENDING' && r.Restarts === '1'));
    expect(requeued.Requeue).toBe('1');
    expect((await nodeStates(c))[node]).toMatch(/^down/);
    expect(slurm(c, c.bin.sinfo, ['-h', '-N', '-n', node, '-o', '%T %E'])).toMatch(/^down\S* test$/m);

    // After the requeue delay it runs again, on the node that is still up, while the other stays down.
    const again = await until('the requeued task to run again', () => showJob(`${id}_0`).find((r) => r.JobState === 'RUNNING' || r.JobState === 'COMPLETED'), 60_000);
    expect(again.NodeList).toBe(other);
    expect((await nodeStates(c))[node]).toMatch(/^down/);
    await until('the task to complete', () => showJob(`${id}_0`).find((r) => r.JobState === 'COMPLETED'), 60_000);
    const out = readFileSafe(`${id}_0`);
    expect(out).toMatch(new RegExp(`start task=0 node=${node} restarts=0`));
    expect(out).toMatch(new RegExp(`start task=0 node=${other} restarts=1\\ndone`));
    expect(jobcomp().some((l) => l.includes(`ArrayJobId=${id} `) && l.includes('JobState=NODE_FAIL'))).toBe(true);

    slurm(c, c.bin.scontrol, ['update', `nodename=${node}`, 'state=resume']);
    await waitIdle(c, 30_000);
  });
});

function readFileSafe(name: string): string {
  try {
    return readFileSync(join(work, 'out', `${name}.out`), 'utf8');
  } catch {
    return '';
  }
}
