/**
 * A small KServe v2 HTTP server for the contract-smoke tests: it serves the ONNX models of a Triton
 * model repository (<repo>/<name>/1/model.onnx) with onnxruntime-node, answering
 * /v2/health/ready and POST /v2/models/<name>/infer with JSON tensors, as Triton's HTTP endpoint
 * does. `corrupt` makes it answer wrongly (a shape), to see the checks catch it.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

export async function startKserveServer(repo: string, opts: { corrupt?: boolean } = {}): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const sessions = new Map<string, ort.InferenceSession>();
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        if (req.method === 'GET' && req.url === '/v2/health/ready') return void res.writeHead(200).end();
        const m = /^\/v2\/models\/([^/]+)\/infer$/.exec(req.url ?? '');
        if (req.method !== 'POST' || !m) return void res.writeHead(404).end(JSON.stringify({ error: 'not found' }));
        state.requests++;
        const name = decodeURIComponent(m[1]);
        let s = sessions.get(name);
        if (!s) {
          s = await ort.InferenceSession.create(join(repo, name, '1', 'model.onnx'));
          sessions.set(name, s);
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { inputs: { name: string; shape: number[]; data: number[] }[] };
        const feeds = Object.fromEntries(body.inputs.map((i) => [i.name, new ort.Tensor('float32', Float32Array.from(i.data), i.shape)]));
        const out = await s.run(feeds);
        const outputs = Object.entries(out).map(([n, t]) => ({ name: n, datatype: 'FP32', shape: opts.corrupt && n === 'size' ? [...t.dims.slice(0, -1), 1] : [...t.dims], data: Array.from(t.data as Float32Array) }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model_name: name, model_version: '1', outputs }));
      } catch (err) {
        res.writeHead(400).end(JSON.stringify({ error: (err as Error).message }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    close: async () => {
      await new Promise((r) => server.close(r));
      for (const s of sessions.values()) await s.release();
    },
  };
}
