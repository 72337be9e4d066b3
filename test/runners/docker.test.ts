/**
 * The Docker runner passes the runner contract on a local socket and over SSH (real dockerd,
 * real sshd on loopback, both started by the test setup), and does what only a container
 * runner does: image by digest, archive copies with sha256 checks, limits, labels, OOM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join, dirname } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import Docker from 'dockerode';
import { createDockerRunner, LABELS } from '../../runners/docker.js';
import { connectDocker, type DockerConnection } from '../../runners/docker-client.js';
import type { Runner, StepSpec } from '../../src/pipeline/runner.js';
import type { Event } from '../../src/schema/events.js';
import { runnerContract, type Behaviour } from './contract.js';
import { ROOT, tempDir, waitFor } from '../helpers/fixtures.js';
import { services, testHosts } from '../helpers/docker-services.js';

const SCRIPT = join(ROOT, 'test', 'fixtures', 'step-behaviours.mjs');
const IN_CONTAINER = '/opt/behaviours/step-behaviours.mjs';

const connections: DockerConnection[] = [];
async function connect(name: 'a' | 'b-ssh'): Promise<DockerConnection> {
  const c = await connectDocker(testHosts()[name]);
  connections.push(c);
  return c;
}
afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
});

function behaviourSpec(image: string) {
  return (behaviour: Behaviour, base: Pick<StepSpec, 'runId' | 'stepId'> & Partial<StepSpec>, arg?: string): StepSpec => {
    // The tree step writes its pids to a file of this machine: its folder is mounted at the same path.
    const mounts = behaviour === 'tree' && arg ? [{ source: dirname(arg), target: dirname(arg) }] : undefined;
    return {
      ...base,
      command: ['node', IN_CONTAINER, behaviour, ...(arg ? [arg] : [])],
      container: { image, mounts, inputs: [{ source: SCRIPT, target: IN_CONTAINER }] },
    };
  };
}

for (const name of ['a', 'b-ssh'] as const) {
  let connection: DockerConnection;
  beforeAll(async () => {
    connection = await connect(name);
  });
  runnerContract({
    name: `docker (${name === 'a' ? 'unix socket' : 'over ssh://'})`,
    make: () => createDockerRunner({ connection }),
    processes: true,
    spec: (b, base, arg) => behaviourSpec(services().image)(b, base, arg),
    async treeGone(_pidFile, runId) {
      await waitFor(async () => (await connection.docker.listContainers({ all: true, filters: { label: [`${LABELS.run}=${runId}`] } })).length === 0, 'the container to be removed', 10_000);
    },
  });
}

async function collect(runner: Runner, spec: StepSpec) {
  const events: Event[] = [];
  const containers: { container: string; image: string; imageId: string }[] = [];
  const result = await runner.run(spec, { signal: new AbortController().signal, emit: (e) => events.push(e), onContainer: (c) => containers.push(c) });
  return { result, events, containers };
}

describe('docker runner', () => {
  let connection: DockerConnection;
  let docker: Docker;
  let runner: ReturnType<typeof createDockerRunner>;
  beforeAll(async () => {
    connection = await connect('a');
    docker = connection.docker;
    runner = createDockerRunner({ connection });
  });
  const sh = (script: string, extra: Partial<StepSpec['container']> = {}, spec: Partial<StepSpec> = {}): StepSpec => ({
    runId: 'r-docker',
    stepId: 'sh',
    command: ['sh', '-c', script],
    container: { image: services().image, ...extra },
    ...spec,
  });

  it('resolves the image to its id, runs by it, labels the container and removes it', async () => {
    const image = services().image;
    const id = (await docker.getImage(image).inspect()).Id;
    const { result, containers } = await collect(runner, sh('echo \'{"v":1,"type":"log","level":"info","message":"hi"}\'', {}, { labels: { 'paddock.job': 'j-1' } }));
    expect(result.status).toBe('succeeded');
    expect(containers).toEqual([{ container: expect.stringMatching(/^[0-9a-f]{64}$/), image, imageId: id }]);
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    await expect(docker.getContainer(containers[0].container).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(runner.active).toBe(0);
  });

  it('sets user, memory, CPU, shm, network and GPU requests as asked', async () => {
    // GPU requests need the NVIDIA runtime, which this host lacks: the create options are checked,
    // and the start fails with a message that names GPUs.
    const spec = sh('sleep 30', { user: '65534', memoryMb: 64, cpus: 0.5, shmSizeMb: 16, network: 'none', gpus: { count: 1 } });
    let inspected: Docker.ContainerInspectInfo | undefined;
    const events: Event[] = [];
    const result = await runner.run(spec, {
      signal: new AbortController().signal,
      emit: (e) => events.push(e),
      onContainer: ({ container }) => {
        void docker.getContainer(container).inspect().then((i) => (inspected = i));
      },
    });
    await waitFor(() => inspected, 'the container inspection');
    const hc = inspected!.HostConfig;
    expect(inspected!.Config.User).toBe('65534');
    expect(hc.Memory).toBe(64 * 1024 * 1024);
    expect(hc.MemorySwap).toBe(64 * 1024 * 1024);
    expect(hc.NanoCpus).toBe(5e8);
    expect(hc.ShmSize).toBe(16 * 1024 * 1024);
    expect(hc.NetworkMode).toBe('none');
    expect(hc.Init).toBe(true);
    expect(hc.DeviceRequests).toEqual([expect.objectContaining({ Count: 1, Capabilities: [['gpu']] })]);
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/cannot give this step GPUs/);
  });

  it('copies inputs in and outputs out through the archive API, checking sha256 both ways', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = join(dir, 'in.txt');
      writeFileSync(input, 'paddock input\n');
      const inSha = createHash('sha256').update('paddock input\n').digest('hex');
      mkdirSync(join(dir, 'folder', 'sub'), { recursive: true });
      writeFileSync(join(dir, 'folder', 'sub', 'x.bin'), Buffer.from([1, 2, 3]));
      const out = join(dir, 'out');
      // The step hashes what it got, writes an output and declares it as an artifact.
      const script = [
        'set -e',
        'cat /in/in.txt > /out/copy.txt && echo extra >> /out/copy.txt',
        'cp /in/folder/sub/x.bin /out/x.bin',
        'S=$(sha256sum /out/copy.txt | cut -d" " -f1); B=$(wc -c < /out/copy.txt)',
        'echo "{\\"v\\":1,\\"type\\":\\"artifact\\",\\"path\\":\\"/out/copy.txt\\",\\"sha256\\":\\"$S\\",\\"bytes\\":$B,\\"role\\":\\"report\\"}"',
      ].join('\n');
      const spec = sh(script, {
        inputs: [{ source: input, target: '/in/in.txt', sha256: inSha }, { source: join(dir, 'folder'), target: '/in/folder' }],
        outputs: [{ source: '/out', target: out }],
      });
      const cmd = spec.command!;
      spec.command = ['sh', '-c', `mkdir -p /out && ${cmd[2]}`];
      const { result, events } = await collect(runner, spec);
      expect(result.error).toBeUndefined();
      expect(result.status).toBe('succeeded');
      expect(readFileSync(join(out, 'copy.txt'), 'utf8')).toBe('paddock input\nextra\n');
      expect([...readFileSync(join(out, 'x.bin'))]).toEqual([1, 2, 3]);
      const art = events.find((e) => e.type === 'artifact');
      expect(art && art.type === 'artifact' && art.path).toBe(join(out, 'copy.txt'));

      // A wrong declared input digest stops the step before it starts.
      const bad = await collect(runner, sh('true', { inputs: [{ source: input, target: '/in/in.txt', sha256: '0'.repeat(64) }] }));
      expect(bad.result.status).toBe('failed');
      expect(bad.result.error).toMatch(new RegExp(`input ${input}: sha256 ${inSha} does not match the declared 0{64}`));

      // A declared artifact digest that is not what came out fails the step.
      const lie = await collect(runner, sh('mkdir -p /out && echo a > /out/f && echo \'{"v":1,"type":"artifact","path":"/out/f","sha256":"' + '1'.repeat(64) + '","bytes":2,"role":"report"}\'', { outputs: [{ source: '/out', target: join(dir, 'out2') }] }));
      expect(lie.result.status).toBe('failed');
      expect(lie.result.error).toMatch(/artifact \/out\/f: declared sha256 1{64}, the copy out has [0-9a-f]{64}/);

      // An output the step never wrote.
      const missing = await collect(runner, sh('true', { outputs: [{ source: '/nothing', target: join(dir, 'out3') }] }));
      expect(missing.result.error).toMatch(/output \/nothing: the step did not write it/);
    } finally {
      cleanup();
    }
  });

  it('reports a container over its memory limit as out of memory', async () => {
    const { result } = await collect(runner, sh('x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo done', { memoryMb: 16 }));
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/out of memory: the container went over its memory limit of 16 MiB and was killed \(OOMKilled/);
  });

  it('says when the image is not on the host', async () => {
    const { result } = await collect(runner, sh('true', { image: 'paddock-missing:0' }));
    expect(result.status).toBe('failed');
    expect(result.hostFailure).toBeFalsy();
    expect(result.error).toMatch(/image paddock-missing:0 is not on host a: build it there \("paddock images build --host a"\)/);
  });

  it('sweeps containers a killed paddock left behind', async () => {
    const leftover = await docker.createContainer({ Image: services().image, Cmd: ['sleep', '60'], Labels: { [LABELS.managed]: '1', [LABELS.run]: 'r-swept' } });
    await leftover.start();
    expect(await runner.sweep!('r-swept')).toBe(1);
    await expect(leftover.inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('a daemon that is not there is a host failure, not a step failure', async () => {
    const gone = await connectDocker({ ...services() && { name: 'gone', docker: 'unix:///tmp/paddock-no-such.sock', labels: {}, capacity: { gpus: 0, slots: 1 } } });
    const r = await collect(createDockerRunner({ connection: gone }), sh('true'));
    expect(r.result.status).toBe('failed');
    expect(r.result.hostFailure).toBe(true);
    expect(r.result.error).toMatch(/host gone \(unix:\/\/\/tmp\/paddock-no-such.sock\): inspecting the image: .*ENOENT/);
  });
});
