/**
 * The KServe v2 inference protocol (what Triton speaks over HTTP) for the contract smoke test:
 * the request for one pre-processed frame, and the checks of the answer against the inference
 * contract (output names, datatypes, shapes, finite values, value ranges, decodable detections).
 */
import type { InferenceContract } from '../schema/inference-contract.js';
import { decodeCenterNet, decodeOptionsOf, identityLetterbox } from '../model/decode.js';

export interface KserveTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}

/** POST body for /v2/models/<model>/infer with the contract's input. */
export function inferRequest(contract: InferenceContract, x: Float32Array, batch = 1): { inputs: KserveTensor[]; outputs: { name: string }[] } {
  const { width: W, height: H } = contract.input.resize;
  return {
    inputs: [{ name: contract.input.name, datatype: 'FP32', shape: [batch, 3, H, W], data: Array.from(x) }],
    outputs: Object.keys(contract.outputs).map((name) => ({ name })),
  };
}

/** Problems with an inference answer (empty when it fits the contract), and the detections decoded from it. */
export function checkInferResponse(contract: InferenceContract, body: unknown, batch = 1): { problems: string[]; detections: number } {
  const problems: string[] = [];
  const outs = (body as { outputs?: KserveTensor[] })?.outputs;
  if (!Array.isArray(outs)) return { problems: ['the answer has no "outputs" list'], detections: 0 };
  const byName = new Map(outs.map((o) => [o.name, o]));
  for (const [name, spec] of Object.entries(contract.outputs)) {
    const o = byName.get(name);
    if (!o) {
      problems.push(`output "${name}" is missing (got ${outs.map((x) => x.name).join(', ')})`);
      continue;
    }
    if (o.datatype !== 'FP32') problems.push(`${name}: datatype ${o.datatype}, expected FP32`);
    const want = [batch, ...spec.shape.slice(1)];
    if (JSON.stringify(o.shape) !== JSON.stringify(want)) problems.push(`${name}: shape [${o.shape}], expected [${want}]`);
    const n = o.shape.reduce((a, b) => a * b, 1);
    if (!Array.isArray(o.data) || o.data.length !== n) {
      problems.push(`${name}: ${Array.isArray(o.data) ? o.data.length : 'no'} values, expected ${n}`);
      continue;
    }
    const bad = o.data.filter((v) => typeof v !== 'number' || !Number.isFinite(v)).length;
    if (bad) problems.push(`${name}: ${bad} non-finite values`);
    if (name === 'heatmap' && o.data.some((v) => v < 0 || v > 1)) problems.push('heatmap: values outside [0, 1] (the contract says sigmoid is applied in the model)');
  }
  let detections = 0;
  if (!problems.length && byName.has('heatmap') && byName.has('size') && byName.has('offset')) {
    const hm = byName.get('heatmap')!;
    const [, c, h, w] = hm.shape;
    const { width: W, height: H } = contract.input.resize;
    detections = decodeCenterNet(Float32Array.from(hm.data), Float32Array.from(byName.get('size')!.data), Float32Array.from(byName.get('offset')!.data), 0, c, h, w, identityLetterbox(W, H), decodeOptionsOf(contract)).length;
  }
  return { problems, detections };
}

/** POSTs an inference request; errors name the URL and the HTTP status. */
export async function kserveInfer(baseUrl: string, model: string, body: object, timeoutMs = 30_000): Promise<unknown> {
  const url = `${baseUrl.replace(/\/$/, '')}/v2/models/${encodeURIComponent(model)}/infer`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, a timeout) is its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`POST ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`POST ${url}: the answer is not JSON: ${text.slice(0, 200)}`);
  }
}

/** Waits for /v2/health/ready. */
export async function waitReady(baseUrl: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const r = await fetch(`${baseUrl}/v2/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${baseUrl}/v2/health/ready did not answer 200 within ${timeoutMs / 1000} s (last: ${last})`);
}
