import Docker from 'dockerode';
import { buildStepImage } from '../runners/docker-images.js';
import { createDockerRunner } from '../runners/docker.js';
const docker = new Docker({ socketPath: '/tmp/dk1/docker.sock' });
let t = Date.now();
const img = await buildStepImage(docker, console.log);
console.log(img, Date.now() - t, 'ms');
const runner = createDockerRunner({ connection: { host: { name: 'dk1', docker: 'unix:///tmp/dk1/docker.sock', labels: {}, capacity: { gpus: 0, slots: 1 } }, address: 'unix:///tmp/dk1/docker.sock', docker, close: async () => {} } });
for (const b of ['events', 'fail', 'stderr', 'bad-lines']) {
  t = Date.now();
  const events: unknown[] = [];
  const r = await runner.run({ runId: 'r1', stepId: 's1', command: ['node', '/in/step-behaviours.mjs', b], container: { image: img.ref, inputs: [{ source: 'test/fixtures/step-behaviours.mjs', target: '/in/step-behaviours.mjs' }] } }, { signal: new AbortController().signal, emit: (e) => events.push(e) });
  console.log(b, r, events, Date.now() - t, 'ms');
}
