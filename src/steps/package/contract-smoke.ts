/**
 * The `contract-smoke` step: where the Docker host has the Triton image the recipe names, start it
 * on the pack's model repository, POST a KServe v2 inference request with a known frame and check
 * the answer against the contract. Where there is none, the step says so, visibly, and why: the
 * report's status is "skipped", never "passed", and the step prints a `skip` event with the
 * reason, so that the run records and shows the step as skipped (docs/events.md), not succeeded.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { emit } from '../emit.js';
import { loadContract } from '../../model/infer.js';
import { readFramesInto } from '../../model/frame-reader.js';
import { checkInferResponse, inferRequest, kserveInfer, waitReady } from '../../pack/kserve.js';
import { log, writeReport, holdPack } from './common.js';
import { localDocker, findImage } from '../../../runners/docker-client.js';

export const ContractSmokeParams = z
  .object({
    pack: z.string().min(1),
    model: z.string().min(1),
    version: z.string().optional(),
    contract: z.string().min(1),
    /** The Triton image, e.g. nvcr.io/nvidia/tritonserver:24.08-py3. */
    image: z.string().optional(),
    docker_socket: z.string().optional(),
    /** A running KServe v2 server to test instead of starting Triton (e.g. http://host:8000). */
    url: z.string().url().optional(),
    /** The frame to send (a PNG of the world or your data). */
    frame: z.string().min(1),
    name: z.string().optional(),
    timeout_s: z.number().positive().default(120),
    gpus: z.boolean().default(false),
  })
  .strict();
type Params = z.infer<typeof ContractSmokeParams>;

function skipped(p: Params, reason: string): number {
  log(`contract smoke SKIPPED: ${reason}`, 'warn');
  emit({ type: 'metric', name: 'contract_smoke.ran', value: 0 });
  writeReport(p.pack, 'contract-smoke', { status: 'skipped', reason });
  emit({ type: 'skip', reason });
  return 0;
}

async function check(p: Params, baseUrl: string): Promise<number> {
  const contract = loadContract(p.contract);
  const { width: W, height: H } = contract.input.resize;
  const x = new Float32Array(3 * W * H);
  await readFramesInto([{ file: p.frame, label: p.frame }], contract, x);
  const model = p.name ?? p.model;
  const body = await kserveInfer(baseUrl, model, inferRequest(contract, x));
  const { problems, detections } = checkInferResponse(contract, body);
  emit({ type: 'metric', name: 'contract_smoke.ran', value: 1 });
  emit({ type: 'metric', name: 'contract_smoke.problems', value: problems.length });
  writeReport(p.pack, 'contract-smoke', { status: problems.length ? 'failed' : 'passed', server: baseUrl, model, frame: p.frame, problems, detections });
  if (problems.length) {
    process.stderr.write(`contract-smoke: the answer of ${baseUrl} does not fit the contract:\n${problems.map((x) => `  ${x}`).join('\n')}\n`);
    return 1;
  }
  log(`contract smoke passed: ${model} at ${baseUrl} answered with every output of the contract (shapes, FP32, finite, heatmap in [0, 1]); ${detections} detections decoded from ${p.frame}`);
  return 0;
}

export async function runContractSmoke(p: Params): Promise<number> {
  await holdPack(p.pack);
  if (!existsSync(p.frame)) throw new Error(`frame ${p.frame}: no such file`);
  if (p.url) return check(p, p.url);
  if (!p.image) return skipped(p, 'the recipe names no Triton image (contract-smoke.with.image)');
  const { socket, docker, why } = await localDocker(p.docker_socket);
  if (!docker) return skipped(p, why!);
  const found = await findImage(docker, socket, p.image);
  if (!('id' in found)) return skipped(p, found.why);
  const container = await docker.createContainer({
    Image: p.image,
    Cmd: ['tritonserver', '--model-repository=/models', '--exit-on-error=true'],
    Labels: { paddock: 'true', 'paddock.step': 'contract-smoke' },
    ExposedPorts: { '8000/tcp': {} },
    HostConfig: { Binds: [`${join(p.pack, 'triton')}:/models:ro`], PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, ShmSize: 256 * 2 ** 20, ...(p.gpus ? { DeviceRequests: [{ Count: -1, Capabilities: [['gpu']] }] } : {}) },
  });
  try {
    await container.start();
    const info = await container.inspect();
    const port = info.NetworkSettings.Ports['8000/tcp']?.[0]?.HostPort;
    if (!port) throw new Error('Triton\'s port 8000 was not published');
    const url = `http://127.0.0.1:${port}`;
    log(`started ${p.image} (${container.id.slice(0, 12)}) on ${url}`);
    await waitReady(url, p.timeout_s * 1000);
    return await check(p, url);
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
