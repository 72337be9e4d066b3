/**
 * A real Slurm cluster for the tests, on this machine: Debian's slurm-wlm (22.05) and munge.
 * Everything lives in a private directory (default /tmp/paddock-slurm-<pid>-<n>): its own munge
 * key and munged (own socket, pid, log and seed files), a slurm.conf naming this host as the
 * controller and one or more compute nodes, slurmctld and one slurmd per node (`slurmd -N node`,
 * all on this host, each on its own port), state, spool, logs and pid files. Nothing is shared
 * with a system munged or slurmctld, so both can run side by side: commands reach this cluster
 * through SLURM_CONF (cluster.env).
 *
 * No slurmdbd: accounting storage is off, so plain `sacct` answers "Slurm accounting storage is
 * disabled". Job state comes from squeue (pending/running), `scontrol show job -o` (also finished
 * jobs, for MinJobAge seconds) and the jobcomp/filetxt file (one line per finished job; `sacct -c`
 * reads it). See docs/slurm.md.
 *
 * Needs root (SlurmUser=root: slurmd starts jobs as their owner). A missing program or a daemon
 * that does not come up is an Error carrying the failed command and the tail of every log: a setup
 * failure, never a skip.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';

export interface SlurmOptions {
  /** The private directory (created; must not hold another cluster). Default /tmp/paddock-slurm-<pid>-<n>. */
  dir?: string;
  /** How many compute nodes (node1..nodeN, one slurmd each on this host). Default 2. */
  nodes?: number;
  /**
   * CPUs each node declares. Default: the CPUs `slurmd -C` reports, split between the nodes (at
   * least 1). More than the machine has is allowed (SlurmdParameters=config_overrides): the
   * tests' jobs sleep, and a node with room for several tasks shows limits such as `%N`.
   */
  cpusPerNode?: number;
  /** Seconds a finished job stays visible to scontrol/squeue (MinJobAge). Default 300. */
  minJobAge?: number;
  /** Seconds a requeued job waits before it may start again (AuthInfo cred_expire; Slurm's default 120). Default 10. */
  requeueDelay?: number;
  /** Seconds to wait for the daemons and for every node to be idle. Default 60. */
  timeoutS?: number;
  /** Leave the directory in place after stopSlurm (and after a failed start). */
  keep?: boolean;
}

export interface SlurmCluster {
  dir: string;
  /** The slurm.conf path; also env.SLURM_CONF. */
  conf: string;
  /** process.env plus SLURM_CONF: the environment for the client commands. */
  env: NodeJS.ProcessEnv;
  hostname: string;
  version: string;
  nodes: string[];
  cpusPerNode: number;
  partition: string;
  ports: { slurmctld: number; slurmd: Record<string, number> };
  mungeSocket: string;
  logs: { munged: string; slurmctld: string; slurmd: Record<string, string>; jobcomp: string };
  pidFiles: { munged: string; slurmctld: string; slurmd: Record<string, string> };
  bin: { sbatch: string; squeue: string; sacct: string; scontrol: string; scancel: string; sinfo: string };
  keep: boolean;
}

const SBIN = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];
let started = 0;

function findProgram(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN];
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  throw new Error(`${name} is missing: the Slurm tests need Debian's slurm-wlm and munge (apt-get install -y --no-install-recommends slurm-wlm munge)`);
}

function tail(file: string, lines = 40): string {
  try {
    const all = readFileSync(file, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch (err) {
    return `(unreadable: ${(err as Error).message})`;
  }
}

function logTails(c: SlurmCluster): string {
  const files = [c.logs.munged, c.logs.slurmctld, ...Object.values(c.logs.slurmd)];
  return files.map((f) => `--- ${f} (last lines)\n${existsSync(f) ? tail(f) : '(not written)'}`).join('\n');
}

function fail(c: SlurmCluster, what: string, detail = ''): Error {
  return new Error(`Slurm test cluster: ${what}${detail ? `\n${detail.trim()}` : ''}\n${logTails(c)}`);
}

/** Runs a program of the cluster synchronously; throws with the command, its output and the daemons' logs. */
export function slurm(c: SlurmCluster, program: string, args: string[], timeoutMs = 30_000): string {
  try {
    return execFileSync(program, args, { env: c.env, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw fail(c, `\`${[program, ...args].join(' ')}\` failed: ${e.message.split('\n')[0]}`, `${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** Like slurm() but never throws: stdout, stderr and exit status (for commands whose failure is the answer, e.g. sacct). */
export function slurmTry(c: SlurmCluster, program: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(program, args, { env: c.env, encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/** A block of `count` consecutive free ports, tried from a fixed base (so a run's conf is predictable) upwards. */
async function freePortBlock(count: number): Promise<number[]> {
  for (let base = 46800 + ((process.pid % 40) * 10); base < 60000; base += 10) {
    const ports = Array.from({ length: count }, (_, i) => base + i);
    let ok = true;
    for (const p of ports) if (!(await portFree(p))) { ok = false; break; }
    if (ok) return ports;
  }
  throw new Error('Slurm test cluster: no free block of ports between 46800 and 60000');
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // a zombie still answers kill 0; it has exited for our purpose
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 200): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}

/** Hardware of this machine as slurmd sees it (`slurmd -C`), e.g. CPUs=2 RealMemory=24105. */
export function slurmdHardware(slurmd = findProgram('slurmd')): { line: string; cpus: number; realMemory: number } {
  const out = execFileSync(slurmd, ['-C'], { encoding: 'utf8', env: { ...process.env, SLURM_CONF: '/dev/null' } });
  const line = out.split('\n').find((l) => l.startsWith('NodeName=')) ?? '';
  const cpus = Number(/\bCPUs=(\d+)/.exec(line)?.[1]);
  const realMemory = Number(/\bRealMemory=(\d+)/.exec(line)?.[1]);
  if (!(cpus > 0)) throw new Error(`slurmd -C printed no CPU count: ${out}`);
  return { line, cpus, realMemory: realMemory > 0 ? realMemory : 1000 };
}

function userIds(name: string): { uid: number; gid: number } | undefined {
  try {
    return { uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()), gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()) };
  } catch {
    return undefined;
  }
}

/** The slurm.conf text for a cluster; paths and ports as given (the fixtures' slurm.conf.example uses placeholders). */
export function slurmConf(p: {
  dir: string; hostname: string; ctldPort: number; nodePorts: Record<string, number>; cpusPerNode: number; memPerNode: number;
  mungeSocket: string; minJobAge: number; requeueDelay: number; partition: string;
}): string {
  const nodes = Object.keys(p.nodePorts);
  return `# A private test cluster (test/helpers/slurm-service.ts): one controller and ${nodes.length} slurmd on this host.
ClusterName=paddock
SlurmctldHost=${p.hostname}(127.0.0.1)
SlurmctldPort=${p.ctldPort}
SlurmdPort=${p.nodePorts[nodes[0]]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (requeue_delay + 1).
AuthInfo=socket=${p.mungeSocket},cred_expire=${p.requeueDelay}
StateSaveLocation=${p.dir}/state
SlurmdSpoolDir=${p.dir}/spool/%n
SlurmctldPidFile=${p.dir}/run/slurmctld.pid
SlurmdPidFile=${p.dir}/run/slurmd-%n.pid
SlurmctldLogFile=${p.dir}/log/slurmctld.log
SlurmdLogFile=${p.dir}/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
TmpFS=${p.dir}/tmp
MailProg=/bin/true
MpiDefault=none
# No cgroups in a container: Linux process tracking (/proc), no task binding, no usage gathering
# (nowhere to store it without slurmdbd; jobacct_gather/linux works too, slurmctld then warns).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: no accounting storage; finished jobs are written to the jobcomp file (sacct -c reads it).
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${p.dir}/log/jobcomp.txt
SchedulerType=sched/backfill
# Short scheduling intervals: a requeued task whose begin time has come, or the next task of a
# %N-limited array, starts within a couple of seconds instead of at the next 30/60 s pass.
SchedulerParameters=sched_interval=2,bf_interval=2,sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# The nodes may declare more CPUs than this machine has (the tests' jobs sleep).
SlurmdParameters=config_overrides
MaxArraySize=4001
MaxJobCount=50000
MinJobAge=${p.minJobAge}
KillWait=5
SlurmdTimeout=60
SlurmctldTimeout=60
InactiveLimit=0
# 1, not 2: with 2 a node set DOWN by scontrol comes back as soon as its slurmd answers the next
# ping (a second later); with 1 only a node that was DOWN for not responding returns by itself,
# an administrative DOWN lasts until \`scontrol update nodename=... state=resume\`.
ReturnToService=1
${nodes.map((n) => `NodeName=${n} NodeHostname=${p.hostname} NodeAddr=127.0.0.1 Port=${p.nodePorts[n]} CPUs=${p.cpusPerNode} Boards=1 SocketsPerBoard=1 CoresPerSocket=${p.cpusPerNode} ThreadsPerCore=1 RealMemory=${p.memPerNode} State=UNKNOWN`).join('\n')}
PartitionName=${p.partition} Nodes=${nodes.join(',')} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
`;
}

/** `sinfo -h -N -o "%N %T"` as node -> state (e.g. idle, mixed, allocated, down, idle*). */
export async function nodeStates(c: SlurmCluster): Promise<Record<string, string>> {
  const r = await slurmTry(c, c.bin.sinfo, ['-h', '-N', '-o', '%N %T'], 10_000);
  const states: Record<string, string> = {};
  if (r.code !== 0) return states;
  for (const line of r.stdout.split('\n')) {
    const [n, s] = line.trim().split(/\s+/);
    if (n && s) states[n] = s;
  }
  return states;
}

/** Waits until every node is idle; throws with sinfo's last answer and the logs. */
export async function waitIdle(c: SlurmCluster, timeoutMs = 60_000): Promise<void> {
  let last: Record<string, string> = {};
  const ok = await waitFor(async () => {
    last = await nodeStates(c);
    return c.nodes.every((n) => last[n] === 'idle');
  }, timeoutMs, 300);
  if (!ok) {
    const r = await slurmTry(c, c.bin.sinfo, ['-h', '-N', '-o', '%N %T %E']);
    throw fail(c, `nodes not idle after ${timeoutMs / 1000}s (\`sinfo -h -N -o "%N %T %E"\`: exit ${r.code})`, `${r.stdout}\n${r.stderr}`);
  }
}

/** Starts a daemon that forks into the background and writes a pid file; throws (with logs) when it does not stay up. */
async function startDaemon(c: SlurmCluster, label: string, cmd: string, args: string[], pidFile: string, timeoutMs: number): Promise<number> {
  const line = [cmd, ...args].join(' ');
  try {
    execFileSync(cmd, args, { env: { ...c.env, SLURM_CONF: c.conf }, cwd: c.dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw fail(c, `${label} did not start: \`${line}\` failed: ${e.message.split('\n')[0]}`, `${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  let pid: number | undefined;
  const up = await waitFor(() => ((pid = readPid(pidFile)) !== undefined && alive(pid)), timeoutMs);
  if (!up || pid === undefined) throw fail(c, `${label} did not stay up: \`${line}\` (pid file ${pidFile}: ${pid ?? 'missing'})`);
  return pid;
}

/**
 * Starts munged, slurmctld and the slurmd(s) in a private directory and waits until every node is
 * idle. On failure, stops what it started and throws an Error with the failing command and the
 * tail of every daemon's log.
 */
export async function startSlurm(opts: SlurmOptions = {}): Promise<SlurmCluster> {
  const timeoutMs = (opts.timeoutS ?? 60) * 1000;
  if (process.getuid?.() !== 0) throw new Error('Slurm test cluster: needs root (SlurmUser=root, slurmd starts the jobs); run the Slurm tests as root');
  const bin = {
    sbatch: findProgram('sbatch'), squeue: findProgram('squeue'), sacct: findProgram('sacct'),
    scontrol: findProgram('scontrol'), scancel: findProgram('scancel'), sinfo: findProgram('sinfo'),
  };
  const slurmctld = findProgram('slurmctld');
  const slurmd = findProgram('slurmd');
  const munged = findProgram('munged');
  findProgram('mungekey');

  const dir = opts.dir ?? `/tmp/paddock-slurm-${process.pid}-${++started}`;
  if (existsSync(join(dir, 'slurm.conf'))) throw new Error(`Slurm test cluster: ${dir} already holds a cluster (slurm.conf); stop it or pick another directory`);
  const nodeCount = Math.max(1, opts.nodes ?? 2);
  const nodes = Array.from({ length: nodeCount }, (_, i) => `node${i + 1}`);
  const hw = slurmdHardware(slurmd);
  const cpusPerNode = opts.cpusPerNode ?? Math.max(1, Math.floor(hw.cpus / nodeCount));
  const memPerNode = Math.max(100, Math.floor(hw.realMemory / nodeCount));
  const hostname = osHostname().split('.')[0];
  const version = execFileSync(slurmd, ['-V'], { encoding: 'utf8' }).trim();
  const [ctldPort, ...nodePortList] = await freePortBlock(nodeCount + 1);
  const nodePorts = Object.fromEntries(nodes.map((n, i) => [n, nodePortList[i]]));

  const mungeDir = join(dir, 'munge');
  const c: SlurmCluster = {
    dir,
    conf: join(dir, 'slurm.conf'),
    env: { ...process.env, SLURM_CONF: join(dir, 'slurm.conf') },
    hostname,
    version,
    nodes,
    cpusPerNode,
    partition: 'debug',
    ports: { slurmctld: ctldPort, slurmd: nodePorts },
    mungeSocket: join(mungeDir, 'munge.socket'),
    logs: {
      munged: join(mungeDir, 'munged.log'),
      slurmctld: join(dir, 'log', 'slurmctld.log'),
      slurmd: Object.fromEntries(nodes.map((n) => [n, join(dir, 'log', `slurmd-${n}.log`)])),
      jobcomp: join(dir, 'log', 'jobcomp.txt'),
    },
    pidFiles: {
      munged: join(mungeDir, 'munged.pid'),
      slurmctld: join(dir, 'run', 'slurmctld.pid'),
      slurmd: Object.fromEntries(nodes.map((n) => [n, join(dir, 'run', `slurmd-${n}.pid`)])),
    },
    bin,
    keep: !!opts.keep,
  };
  // The client commands must not pick up settings meant for another cluster.
  for (const k of Object.keys(c.env)) if (k !== 'SLURM_CONF' && /^(SLURM_|SBATCH_|SQUEUE_|SINFO_|SACCT_|SCANCEL_)/.test(k)) delete c.env[k];

  try {
    // munged checks its paths: the socket's directory must be searchable by all, the key owned
    // by the user munged runs as and not readable by others.
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    for (const d of ['state', 'run', 'log', 'tmp', ...nodes.map((n) => join('spool', n))]) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
    mkdirSync(mungeDir, { mode: 0o755 });
    const key = join(mungeDir, 'munge.key');
    execFileSync(findProgram('mungekey'), ['--create', `--keyfile=${key}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    chmodSync(key, 0o400);
    const mungeUser = userIds('munge');
    const mungeArgs = [`--socket=${c.mungeSocket}`, `--pid-file=${c.pidFiles.munged}`, `--log-file=${c.logs.munged}`, `--seed-file=${join(mungeDir, 'munged.seed')}`, `--key-file=${key}`];
    if (mungeUser) {
      // As Debian runs it: as the munge user, which owns the key and the directory.
      chownSync(mungeDir, mungeUser.uid, mungeUser.gid);
      chownSync(key, mungeUser.uid, mungeUser.gid);
      await startDaemon(c, 'munged', findProgram('runuser'), ['-u', 'munge', '--', munged, ...mungeArgs], c.pidFiles.munged, timeoutMs);
    } else {
      await startDaemon(c, 'munged', munged, ['--force', ...mungeArgs], c.pidFiles.munged, timeoutMs);
    }

    writeFileSync(c.conf, slurmConf({ dir, hostname, ctldPort, nodePorts, cpusPerNode, memPerNode, mungeSocket: c.mungeSocket, minJobAge: opts.minJobAge ?? 300, requeueDelay: opts.requeueDelay ?? 10, partition: c.partition }));

    // -i: ignore state files (a fresh cluster either way).
    await startDaemon(c, 'slurmctld', slurmctld, ['-i', '-f', c.conf], c.pidFiles.slurmctld, timeoutMs);
    const ping = await waitFor(async () => / is UP/.test((await slurmTry(c, bin.scontrol, ['ping'], 10_000)).stdout), timeoutMs, 300);
    if (!ping) throw fail(c, `slurmctld does not answer \`scontrol ping\` after ${timeoutMs / 1000}s`, (await slurmTry(c, bin.scontrol, ['ping'])).stdout);
    for (const n of nodes) await startDaemon(c, `slurmd for ${n}`, slurmd, ['-N', n, '-f', c.conf], c.pidFiles.slurmd[n], timeoutMs);
    await waitIdle(c, timeoutMs);
    return c;
  } catch (err) {
    await stopSlurm(c).catch(() => undefined);
    throw err;
  }
}

/** Processes whose environment names this cluster's slurm.conf: slurmstepd and the jobs it started. */
function clusterProcesses(c: SlurmCluster): number[] {
  const needle = `SLURM_CONF=${c.conf}\0`;
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!(pid > 0) || pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (`${environ}\0`.includes(needle) || readlinkSync(`/proc/${pid}/cwd`).startsWith(`${c.dir}/`)) pids.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

async function terminate(pids: number[], graceMs: number): Promise<void> {
  for (const pid of pids) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  if (await waitFor(() => pids.every((p) => !alive(p)), graceMs)) return;
  for (const pid of pids) if (alive(pid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  await waitFor(() => pids.every((p) => !alive(p)), 5000);
}

/**
 * Cancels the cluster's jobs, stops the slurmd(s), slurmctld and munged (by their pid files;
 * SIGKILL after a grace period), ends any slurmstepd or job process left, and removes the
 * directory unless `keep`.
 */
export async function stopSlurm(c: SlurmCluster, opts: { keep?: boolean } = {}): Promise<void> {
  const ctld = readPid(c.pidFiles.slurmctld);
  if (ctld && alive(ctld)) {
    await slurmTry(c, c.bin.scancel, ['--full', `--partition=${c.partition}`], 10_000);
    await waitFor(async () => {
      const r = await slurmTry(c, c.bin.squeue, ['-h', '-t', 'RUNNING,COMPLETING', '-o', '%i'], 10_000);
      return r.code !== 0 || r.stdout.trim() === '';
    }, 15_000, 300);
  }
  const slurmds = Object.values(c.pidFiles.slurmd).map(readPid).filter((p): p is number => !!p && alive(p));
  await terminate(slurmds, 15_000);
  if (ctld && alive(ctld)) await terminate([ctld], 15_000);
  await terminate(clusterProcesses(c), 5000);
  const munged = readPid(c.pidFiles.munged);
  if (munged && alive(munged)) await terminate([munged], 10_000);
  const left = [...slurmds, ctld, munged].filter((p): p is number => !!p && alive(p));
  if (!(opts.keep ?? c.keep)) rmSync(c.dir, { recursive: true, force: true });
  if (left.length) throw new Error(`Slurm test cluster: processes still running after stop: ${left.join(', ')}`);
}
