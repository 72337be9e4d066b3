/**
 * The Docker runner: runs a step's command in a container on a Docker engine (local socket,
 * ssh:// or tcp+TLS; runners/docker-client.ts), through dockerode.
 *
 * - the image is named by reference, resolved on the host to its id (a sha256 digest), and the
 *   container is created from that id, so a tag moved meanwhile cannot change what runs;
 * - command, env, working directory, user, bind mounts, shm size, memory (no swap beyond it)
 *   and CPU limits, GPU device requests (the NVIDIA runtime's `gpu` capability), network
 *   ("none" unless asked), an init process (docker-init) so that signals reach the step and
 *   zombies are reaped, and labels: paddock, paddock.run, paddock.step, paddock.owner;
 * - attached before it starts, so no output is lost; stdout and stderr are demultiplexed into
 *   the same decoder as the local runner's (event lines, stderr as logs);
 * - inputs are copied in and outputs out through the archive API with sha256 checks
 *   (runners/docker-archive.ts); an artifact event for a file under an output is re-pointed at
 *   its copy here and its declared digest checked against the bytes received;
 * - timeout and abort: SIGTERM, SIGKILL after the grace period, then removal; out of memory
 *   (State.OOMKilled) and non-zero exits are failures that say so; a daemon or link that goes
 *   away is a host failure (`hostFailure`), which the host pool retries elsewhere;
 * - every container is removed when its step ends; sweep(runId) removes those a killed paddock
 *   left, close() those still running.
 */
import { hostname } from 'node:os';
import { posix } from 'node:path';
import type Docker from 'dockerode';
import type { Event } from '../src/schema/events.js';
import type { Runner, StepResult, StepSpec, RunnerContext, CopySpec } from '../src/pipeline/runner.js';
import { StepOutputDecoder } from './local.js';
import { packInputs, unpackOutput, CopyError, type CopiedFile } from './docker-archive.js';
import { isConnectionError, type DockerConnection } from './docker-client.js';

export const LABELS = { managed: 'paddock', run: 'paddock.run', step: 'paddock.step', owner: 'paddock.owner', job: 'paddock.job' } as const;

export interface DockerRunnerOptions {
  connection: DockerConnection;
  /** The image of steps that name none. */
  image?: string;
  /** Added to every step's environment. */
  env?: Record<string, string>;
}

/** The owner label of this paddock process: containers it made, for sweeps. */
export const OWNER = `${hostname()}:${process.pid}`;

interface HttpError {
  statusCode?: number;
  json?: { message?: string };
  message?: string;
}

function dockerMessage(err: unknown): string {
  const e = err as HttpError;
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

class HostFailure extends Error {}

export function createDockerRunner(opts: DockerRunnerOptions): Runner & { readonly active: number } {
  const { docker } = opts.connection;
  const hostName = opts.connection.host.name;
  const running = new Map<string, Docker.Container>();

  const wrap = async <T>(what: string, p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      if (isConnectionError(err)) throw new HostFailure(`host ${hostName} (${opts.connection.address}): ${what}: ${opts.connection.failure?.()?.message ?? dockerMessage(err)}`);
      throw err;
    }
  };

  const remove = async (c: Docker.Container) => {
    running.delete(c.id);
    await c.remove({ force: true, v: true }).catch(() => undefined);
  };

  async function runStep(spec: StepSpec, ctx: RunnerContext): Promise<StepResult> {
    const command = spec.command!;
    const cs = spec.container ?? (opts.image ? { image: opts.image } : undefined);
    if (!cs) return { status: 'failed', error: `step ${spec.stepId}: no image: name one in the step or as the host's image in hosts.yaml`, protocolErrors: 0 };

    // The image, by id.
    let imageId: string;
    try {
      imageId = (await wrap('inspecting the image', docker.getImage(cs.image).inspect())).Id;
    } catch (err) {
      if (err instanceof HostFailure) throw err;
      if ((err as HttpError).statusCode === 404) return { status: 'failed', error: `image ${cs.image} is not on host ${hostName}: build it there ("paddock images build --host ${hostName}") or load it`, protocolErrors: 0 };
      throw err;
    }

    const decoder = new StepOutputDecoder(spec.stepId, (e) => onEvent(e));
    const outputs = cs.outputs ?? [];
    const workdir = spec.cwd ?? '/';
    const held: Extract<Event, { type: 'artifact' }>[] = [];
    const stray: string[] = [];
    // Artifacts under an output are held until the output is copied out.
    const underOutput = (p: string) => {
      const abs = posix.resolve(workdir, p);
      return outputs.find((o) => abs === posix.normalize(o.source) || abs.startsWith(posix.normalize(o.source).replace(/\/?$/, '/')));
    };
    let execFailure: string | undefined;
    const onEvent = (e: Event) => {
      // docker-init (tini) runs the command: a command it cannot exec is its FATAL line and status 127.
      if (e.type === 'log' && e.stream === 'stderr' && /^\[FATAL tini \(\d+\)\] exec .* failed: /.test(e.message)) execFailure = e.message.replace(/^\[FATAL tini \(\d+\)\] /, '');
      if (e.type === 'artifact') {
        if (underOutput(e.path)) {
          held.push(e);
          return;
        }
        stray.push(e.path);
        ctx.emit({ v: 1, type: 'log', level: 'error', stream: 'paddock', step: spec.stepId, ts: Date.now(), message: `artifact ${e.path} is inside the container and under no declared output: it is not kept` });
        return;
      }
      ctx.emit(e);
    };

    const env = { ...opts.env, ...spec.env, PADDOCK_RUN_ID: spec.runId, PADDOCK_STEP_ID: spec.stepId };
    const gpus = cs.gpus;
    const container = await wrap(
      'creating the container',
      docker.createContainer({
        Image: imageId,
        Cmd: [...command],
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        WorkingDir: workdir,
        User: cs.user,
        AttachStdout: true,
        AttachStderr: true,
        AttachStdin: false,
        OpenStdin: false,
        Tty: false,
        Labels: { [LABELS.managed]: '1', [LABELS.run]: spec.runId, [LABELS.step]: spec.stepId, [LABELS.owner]: OWNER, ...spec.labels },
        HostConfig: {
          Init: true,
          AutoRemove: false,
          NetworkMode: cs.network ?? 'none',
          Binds: cs.mounts?.map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
          ShmSize: cs.shmSizeMb ? cs.shmSizeMb * 1024 * 1024 : undefined,
          Memory: cs.memoryMb ? cs.memoryMb * 1024 * 1024 : undefined,
          MemorySwap: cs.memoryMb ? cs.memoryMb * 1024 * 1024 : undefined,
          NanoCpus: cs.cpus ? Math.round(cs.cpus * 1e9) : undefined,
          DeviceRequests: gpus
            ? [{ Driver: '', Count: 'count' in gpus ? gpus.count : 0, DeviceIDs: 'deviceIds' in gpus ? [...gpus.deviceIds] : undefined, Capabilities: [['gpu']], Options: {} }]
            : undefined,
        },
      }),
    );
    running.set(container.id, container);
    ctx.onContainer?.({ container: container.id, image: cs.image, imageId });
    try {
      // Inputs.
      if (cs.inputs?.length) {
        let packed;
        try {
          packed = packInputs(cs.inputs);
        } catch (err) {
          return { status: 'failed', error: (err as Error).message, protocolErrors: 0 };
        }
        const put = wrap('copying the inputs in', container.putArchive(packed.stream, { path: '/' }));
        // Both settle before either is judged (a rejection of the other would go unhandled); a
        // host failure wins over a copy error.
        const failures = (await Promise.allSettled([packed.done, put])).flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
        const hostFailure = failures.find((e) => e instanceof HostFailure);
        if (hostFailure) throw hostFailure;
        if (failures.length) return { status: 'failed', error: failures[0] instanceof CopyError ? failures[0].message : `copying the inputs in: ${dockerMessage(failures[0])}`, protocolErrors: 0 };
      }

      // Attach, start.
      const stream = await wrap('attaching', container.attach({ stream: true, stdout: true, stderr: true }));
      const streamEnded = new Promise<void>((resolve) => {
        stream.once('end', resolve);
        stream.once('close', resolve);
        stream.once('error', () => resolve());
      });
      docker.modem.demuxStream(stream, { write: (c: Buffer) => decoder.stdout(c) } as unknown as NodeJS.WritableStream, { write: (c: Buffer) => decoder.stderrChunk(c) } as unknown as NodeJS.WritableStream);
      if (ctx.signal.aborted) return { status: 'cancelled', error: 'cancelled before it started', protocolErrors: 0 };
      try {
        await wrap('starting the container', container.start());
      } catch (err) {
        if (err instanceof HostFailure) throw err;
        const msg = dockerMessage(err);
        if (/executable file not found|no such file or directory/i.test(msg)) return { status: 'failed', error: `could not start ${JSON.stringify(command[0])}: ENOENT (${msg})`, protocolErrors: 0 };
        if (/capabilities: \[\[gpu\]\]|nvidia/i.test(msg)) return { status: 'failed', error: `host ${hostName} cannot give this step GPUs: ${msg}`, protocolErrors: 0 };
        return { status: 'failed', error: `could not start the container: ${msg}`, protocolErrors: 0 };
      }

      // Wait, with timeout and abort.
      let stopReason: 'timeout' | 'abort' | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      const graceMs = spec.graceMs ?? 3000;
      const stop = (reason: 'timeout' | 'abort') => {
        if (stopReason) return;
        stopReason = reason;
        container.kill({ signal: 'SIGTERM' }).catch(() => undefined);
        killTimer = setTimeout(() => container.kill({ signal: 'SIGKILL' }).catch(() => undefined), graceMs);
      };
      const onAbort = () => stop('abort');
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      // Its first events may have been read (and the run aborted on them) while it was starting.
      if (ctx.signal.aborted) stop('abort');
      const timeoutTimer = spec.timeoutMs ? setTimeout(() => stop('timeout'), spec.timeoutMs) : undefined;
      let waited: { StatusCode: number };
      try {
        waited = await wrap('waiting for the container', container.wait() as Promise<{ StatusCode: number }>);
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        if (timeoutTimer) clearTimeout(timeoutTimer);
        if (killTimer) clearTimeout(killTimer);
      }
      // The log stream may lag the exit by a moment; wait at most 5 s for it, and clear the timer
      // (left running, it kept paddock alive 5 s after a run whose last step ran in Docker).
      let lag: NodeJS.Timeout | undefined;
      await Promise.race([streamEnded, new Promise((r) => (lag = setTimeout(r, 5000)))]);
      clearTimeout(lag);
      decoder.end();
      const state = (await wrap('inspecting the container', container.inspect())).State;
      const base = { exitCode: waited.StatusCode, protocolErrors: decoder.protocolErrors };
      if (stopReason === 'abort') return { ...base, status: 'cancelled', error: 'cancelled: the run was stopped' };
      if (stopReason === 'timeout') return { ...base, status: 'failed', error: `timed out after ${(spec.timeoutMs! / 1000).toFixed(1)} s` };
      if (state.OOMKilled) return { ...base, status: 'failed', error: `out of memory: the container went over its memory limit${cs.memoryMb ? ` of ${cs.memoryMb} MiB` : ''} and was killed (OOMKilled, exit status ${waited.StatusCode})` };
      if (waited.StatusCode === 127 && execFailure) {
        const code = /No such file/i.test(execFailure) ? 'ENOENT' : /Permission denied/i.test(execFailure) ? 'EACCES' : 'exec failed';
        return { ...base, status: 'failed', error: `could not start ${JSON.stringify(command[0])}: ${code} (${execFailure})` };
      }
      if (waited.StatusCode !== 0) {
        const sig = waited.StatusCode > 128 ? ` (signal ${waited.StatusCode - 128})` : '';
        return { ...base, status: 'failed', error: `exited with status ${waited.StatusCode}${sig}` };
      }

      // Outputs.
      const copied: CopiedFile[] = [];
      for (const o of outputs) {
        try {
          const tarStream = await wrap(`copying ${o.source} out`, container.getArchive({ path: o.source }));
          copied.push(...(await unpackOutput(tarStream, o)));
        } catch (err) {
          if (err instanceof HostFailure) throw err;
          return { ...base, status: 'failed', error: `output ${o.source}: ${(err as HttpError).statusCode === 404 ? 'the step did not write it' : dockerMessage(err)}` };
        }
      }
      for (const a of held) {
        const abs = posix.resolve(workdir, a.path);
        const file = copied.find((f) => f.source === abs);
        if (!file) return { ...base, status: 'failed', error: `artifact ${a.path}: not found among the copied outputs` };
        if (file.sha256 !== a.sha256) return { ...base, status: 'failed', error: `artifact ${a.path}: declared sha256 ${a.sha256}, the copy out has ${file.sha256}` };
        ctx.emit({ ...a, path: file.path });
      }
      if (stray.length) return { ...base, status: 'failed', error: `artifact ${stray[0]} is under no declared output of the step` };
      return { ...base, status: 'succeeded' };
    } finally {
      await remove(container);
    }
  }

  return {
    kind: 'docker',
    host: hostName,
    get active() {
      return running.size;
    },
    async run(spec, ctx): Promise<StepResult> {
      if (!spec.command || spec.command.length === 0) return { status: 'failed', error: `step ${spec.stepId}: the docker runner needs a command`, protocolErrors: 0 };
      if (ctx.signal.aborted) return { status: 'cancelled', error: 'cancelled before it started', protocolErrors: 0 };
      try {
        return await runStep(spec, ctx);
      } catch (err) {
        if (err instanceof HostFailure) return { status: 'failed', error: err.message, protocolErrors: 0, hostFailure: true };
        return { status: 'failed', error: `host ${hostName}: ${dockerMessage(err)}`, protocolErrors: 0 };
      }
    },
    async sweep(runId) {
      const list = await docker.listContainers({ all: true, filters: { label: [`${LABELS.run}=${runId}`] } });
      await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
      return list.length;
    },
    async close() {
      await Promise.all([...running.values()].map(remove));
      await opts.connection.close();
    },
  };
}

/** Removes every paddock container on a host that a dead paddock process of this machine left. */
export async function sweepOrphans(docker: Docker, isAlive: (pid: number) => boolean): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [LABELS.managed] } });
  const me = hostname();
  const orphans = list.filter((c) => {
    const [h, pid] = (c.Labels[LABELS.owner] ?? '').split(':');
    return h === me && Number(pid) !== process.pid && !isAlive(Number(pid));
  });
  await Promise.all(orphans.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
  return orphans.length;
}
