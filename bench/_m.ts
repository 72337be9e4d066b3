import { runInference } from '../src/model/infer.js';
for (let i = 0; i < 3; i++) {
  (globalThis as any).__wait = 0;
  const r = await runInference({ modelDir: 'fixtures/world/models/candidate', manifest: 'build/world/manifests/golden_test.jsonl', limit: 400, batch: 8, threads: 2 });
  console.log(r.timings, 'wait', (globalThis as any).__wait);
}
