/**
 * Built-in steps other than bench in containers on a real Docker host, as their catalogue
 * definitions declare (src/steps/define.ts ContainerUse): coverage reads the pack copied in and
 * its report comes back out; verify-pack (the promote stage's first step) checks the signed pack
 * in a container, and fails naming a tampered file; steps that cannot run in a container, or need
 * an image the recipe must name, say so before anything starts; check-data and evaluate run on
 * host a over a tiny world (the manifests' dataset root copied in, the evaluation copied out) and
 * give the same metrics as the same steps run here.
 */
import { describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paddock } from '../helpers/cli.js';
import { FIXTURES, tempDir } from '../helpers/fixtures.js';
import { testHosts } from '../helpers/docker-services.js';
import { PaddockEvent } from '../../src/schema/events.js';

const CANDIDATE = join(FIXTURES, 'world', 'models', 'candidate', 'model.onnx');
const CHECKPOINT = join(FIXTURES, 'world', 'models', 'candidate', 'model.pt');
const CANDIDATE_SHA = '58d1f8de4bcfd1e1a9a94e54afd689ef722acdc0fce2fd614749dab01f02dac2';

function setup(dir: string, steps: string): string {
  const h = testHosts().a;
  writeFileSync(join(dir, 'hosts.yaml'), `version: 1\nhosts:\n  a:\n    docker: ${h.docker}\n    capacity: { slots: 2 }\n`);
  mkdirSync(join(dir, 'pack'), { recursive: true });
  if (!existsSync(join(dir, 'pack', 'model.onnx'))) copyFileSync(CANDIDATE, join(dir, 'pack', 'model.onnx'));
  const recipe = join(dir, 'paddock.yaml');
  writeFileSync(
    recipe,
    `version: 1
name: steps-in-containers
models:
  candidate:
    version: 1.1.0
    onnx: { path: ${JSON.stringify(CANDIDATE)}, sha256: ${CANDIDATE_SHA} }
    checkpoint: { path: ${JSON.stringify(CHECKPOINT)} }
    lineage: { dataset: paddock-world }
targets:
  - { name: cpu-fp32, backend: onnxruntime, host: a }
  - { name: here, backend: onnxruntime, host: local }
${steps}`,
  );
  return recipe;
}

const events = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => PaddockEvent.parse(JSON.parse(l)));

describe('built-in steps in containers', () => {
  it('coverage and verify-pack run on host a with the pack copied in and out; a tampered pack fails verify-pack, naming the file', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const recipe = setup(
        dir,
        `stages:
  package:
    - { id: coverage, uses: coverage, target: cpu-fp32, with: { pack: ./pack } }
    - { id: sign, uses: sign, needs: [coverage], with: { model: candidate, pack: ./pack, key: { file: ./key.pem, generate: true } } }
  promote:
    - { id: verify, uses: verify-pack, target: cpu-fp32, needs: [sign], with: { pack: ./pack, public_key: ./pack/cosign.pub } }
`,
      );
      const env = { PADDOCK_HOME: join(dir, '.paddock'), PADDOCK_HOSTS: join(dir, 'hosts.yaml') };
      const r = await paddock(['run', recipe, '--json'], env, dir);
      expect(r.exitCode, r.stderr).toBe(0);
      const ev = events(r.stdout);
      for (const id of ['coverage', 'verify']) expect(ev.find((e) => e.type === 'step' && e.step === id && e.status === 'started')).toMatchObject({ host: 'a', runner: 'docker' });
      expect(ev.find((e) => e.type === 'step' && e.step === 'sign' && e.status === 'started')).not.toMatchObject({ runner: 'docker' });
      // Written in the container, copied back out: the report sign then lists and signs.
      const coverage = JSON.parse(readFileSync(join(dir, 'pack', 'reports', 'coverage.json'), 'utf8')) as { status: string; targets: { target: string; ok: boolean }[] };
      expect(coverage.status).toBe('succeeded');
      expect(coverage.targets.map((t) => [t.target, t.ok])).toEqual([['cpu-fp32', true], ['here', true]]);
      const metrics = ev.filter((e) => e.type === 'metric' && e.step === 'verify');
      expect(metrics.find((m) => m.type === 'metric' && m.name === 'pack.verified')).toMatchObject({ value: 1 });
      expect((metrics.find((m) => m.type === 'metric' && m.name === 'pack.files_verified') as { value: number }).value).toBeGreaterThanOrEqual(3);

      // One flipped byte in the model: verify-pack fails in its container and names the file.
      const model = join(dir, 'pack', 'model.onnx');
      const bytes = readFileSync(model);
      bytes[bytes.length - 10] ^= 0xff;
      writeFileSync(model, bytes);
      const only = setup(dir, `stages:\n  promote:\n    - { id: verify, uses: verify-pack, target: cpu-fp32, with: { pack: ./pack, public_key: ./pack/cosign.pub } }\n`);
      const bad = await paddock(['run', only, '--headless'], env, dir);
      expect(bad.exitCode).toBe(2);
      expect(`${bad.stdout}\n${bad.stderr}`).toMatch(/model\.onnx/);
      expect(`${bad.stdout}\n${bad.stderr}`).toMatch(/verify-pack: .*pack does not verify/);
    } finally {
      cleanup();
    }
  }, 240_000);

  it('a step that cannot run in a container, or needs an image the recipe must name, says so', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { PADDOCK_HOME: join(dir, '.paddock'), PADDOCK_HOSTS: join(dir, 'hosts.yaml') };
      const stage = setup(dir, `stages:\n  package:\n    - { id: stage, uses: stage, target: cpu-fp32, with: { model: candidate, pack: ./pack } }\n`);
      const a = await paddock(['run', stage, '--headless'], env, dir);
      expect(a.exitCode).toBe(2);
      expect(`${a.stdout}\n${a.stderr}`).toMatch(/step stage \(uses: stage\) runs on this machine only: it records this machine's environment .*give its target host: local/);
      const exp = setup(dir, `stages:\n  package:\n    - { id: export, uses: export, target: cpu-fp32, with: { model: candidate, pack: ./pack } }\n`);
      const b = await paddock(['run', exp, '--headless'], env, dir);
      expect(b.exitCode).toBe(2);
      expect(`${b.stdout}\n${b.stderr}`).toMatch(/step export \(uses: export\) needs a PyTorch image with python3 \(the step's container\.image\) to run on host a/);
    } finally {
      cleanup();
    }
  }, 120_000);

  it('check-data and evaluate run in containers over a tiny world and agree with the same steps run here', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await paddock(['world', 'build', '--tiny', '--out', join(dir, 'world')], {});
      expect(w.exitCode, w.stderr).toBe(0);
      const models = join(FIXTURES, 'world', 'models');
      const steps = (target: string, out: string) => `stages:
  evaluate:
    - id: check-data
      uses: check-data
      target: ${target}
      with: { splits: [{ name: golden_val, manifest: world/manifests/golden_val.jsonl }, { name: golden_test, manifest: world/manifests/golden_test.jsonl }] }
    - id: evaluate
      uses: evaluate
      target: ${target}
      needs: [check-data]
      with:
        candidate: { name: candidate, model: ${JSON.stringify(join(models, 'candidate'))} }
        baseline: { name: production, model: ${JSON.stringify(join(models, 'production'))} }
        manifest: world/manifests/golden_test.jsonl
        slices: ${JSON.stringify(join(FIXTURES, 'world', 'slices.yaml'))}
        replicates: 50
        seed: 1
        out: ${out}
`;
      const env = { PADDOCK_HOME: join(dir, '.paddock'), PADDOCK_HOSTS: join(dir, 'hosts.yaml') };
      const there = await paddock(['run', setup(dir, steps('cpu-fp32', 'eval-a')), '--json'], env, dir);
      expect(there.exitCode, there.stderr).toBe(0);
      const here = await paddock(['run', setup(dir, steps('here', 'eval-local')), '--json'], env, dir);
      expect(here.exitCode, here.stderr).toBe(0);
      const a = events(there.stdout);
      for (const id of ['check-data', 'evaluate']) expect(a.find((e) => e.type === 'step' && e.step === id && e.status === 'started')).toMatchObject({ host: 'a', runner: 'docker' });
      // Every metric but the timings (images/s depends on the machine's load) is the same bit for bit.
      const metrics = (ev: PaddockEvent[]) => ev.flatMap((e) => (e.type === 'metric' && e.step === 'evaluate' && !e.name.startsWith('infer.') ? [`${e.name} ${e.target ?? ''} ${e.slice ?? ''} ${e.value}`] : [])).sort();
      const inContainer = metrics(a);
      expect(inContainer.some((m) => m.startsWith('coco.AP candidate '))).toBe(true);
      expect(inContainer.length).toBeGreaterThan(50);
      expect(inContainer).toEqual(metrics(events(here.stdout)));
      // The evaluation written in the container came back out.
      expect(readFileSync(join(dir, 'eval-a', 'eval_report.json'), 'utf8')).toMatch(/"candidate"/);
    } finally {
      cleanup();
    }
  }, 300_000);
});
