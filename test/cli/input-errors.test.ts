/**
 * Messages, not stack traces (issue 13): each input that printed a stack in the attack on a fresh
 * clone, given to the real binary again. `paddock hosts` and `images build` on broken hosts
 * files, `paddock infer` on models ONNX Runtime cannot load and on a `null` manifest line, a YAML
 * alias bomb as a recipe, and a built-in step's error: each is one line that names the file (and
 * where in it), exit 2 (1 for a step), no `    at ` frame; `--debug` / PADDOCK_DEBUG=1 brings the
 * stack back. (A damaged runs.sqlite: test/cli/resume-integrity.test.ts; malformed pack report
 * entries: test/pack/trust.test.ts.)
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paddock } from '../helpers/cli.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let env: Record<string, string>;
beforeAll(() => {
  tmp = tempDir();
  env = { PADDOCK_HOME: join(tmp.dir, '.paddock'), XDG_CONFIG_HOME: join(tmp.dir, 'config') };
});
afterAll(() => tmp.cleanup());

/** One message: names `file`, no stack frame, no "internal error". */
function oneMessage(stderr: string, file: string) {
  const text = stderr.trim();
  expect(text, text).toContain(file);
  expect(text, text).not.toMatch(/^\s+at /m);
  expect(text, text).not.toContain('internal error');
  return text;
}

const HOSTS: [string, string][] = [
  ['a list', 'hosts:\n  - desk\n'],
  ['not YAML', 'hosts: {desk: [\n'],
  ['an unknown key', 'hosts:\n  desk:\n    docker: unix:///var/run/docker.sock\n    gpus: 2\n'],
  ['a bad docker URL', 'hosts:\n  desk:\n    docker: http://desk\n'],
  ['tcp without TLS', 'hosts:\n  desk:\n    docker: tcp://desk:2376\n'],
  ['a bad host name', 'hosts:\n  "desk box":\n    docker: unix:///var/run/docker.sock\n'],
  ['a negative capacity', 'hosts:\n  desk:\n    docker: unix:///var/run/docker.sock\n    capacity: {gpus: -1}\n'],
  ['a null host', 'hosts:\n  desk:\n'],
  ['a number', '42\n'],
  ['an empty file', ''],
  ['a wrong version', 'version: 2\nhosts: {}\n'],
  ['an alias bomb', `a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nhosts: {}\n`],
];

describe('broken hosts files', () => {
  it(`paddock hosts and paddock images build: ${HOSTS.length} broken hosts files, one located message each, exit 2`, async () => {
    for (const [i, [what, text]] of HOSTS.entries()) {
      const file = join(tmp.dir, `hosts-${i}.yaml`);
      writeFileSync(file, text);
      for (const args of [['hosts', '--hosts', file], ['images', 'build', '--hosts', file, '--host', 'desk']]) {
        const r = await paddock(args, env);
        expect(r.exitCode, `${what}: ${args.join(' ')}: ${r.stderr}`).toBe(2);
        oneMessage(r.stderr, file);
      }
    }
  }, 120_000);
});

describe('paddock infer on models ONNX Runtime cannot load', () => {
  const real = join(ROOT, 'fixtures', 'world', 'models', 'candidate');
  let model: string;
  let manifest: string;
  beforeAll(() => {
    model = join(tmp.dir, 'model');
    mkdirSync(model);
    cpSync(join(real, 'inference_config.json'), join(model, 'inference_config.json'));
    manifest = join(tmp.dir, 'manifest.jsonl');
    writeFileSync(manifest, `${JSON.stringify({ frame_id: 'a', path: 'a.png', width: 320, height: 192 })}\n`);
  });
  const onnx = () => readFileSync(join(real, 'model.onnx'));
  const CASES: [string, (file: string) => void][] = [
    ['empty', (f) => writeFileSync(f, '')],
    ['truncated', (f) => writeFileSync(f, onnx().subarray(0, 3000))],
    ['garbage', (f) => writeFileSync(f, Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 131 + 7) % 256)))],
    ['JSON', (f) => writeFileSync(f, '{"graph": {}}\n')],
    ['a directory', (f) => mkdirSync(f)],
    ['overwritten bytes', (f) => writeFileSync(f, Buffer.concat([onnx().subarray(0, 40), Buffer.alloc(20, 0xff), onnx().subarray(60)]))],
    ['missing', () => {}],
  ];
  it(`${CASES.length} unloadable models: one message naming model.onnx, exit 2`, async () => {
    for (const [what, make] of CASES) {
      const file = join(model, 'model.onnx');
      rmSync(file, { recursive: true, force: true });
      make(file);
      const r = await paddock(['infer', '--model', model, '--manifest', manifest, '--out', join(tmp.dir, 'out.json')], env);
      expect(r.exitCode, `${what}: ${r.stderr}`).toBe(2);
      expect(oneMessage(r.stderr, file), what).toMatch(/ONNX Runtime cannot load it: \S/);
    }
  }, 120_000);

  it('a null manifest line: its file and line, exit 2', async () => {
    cpSync(join(real, 'model.onnx'), join(model, 'model.onnx'));
    const bad = join(tmp.dir, 'null.jsonl');
    writeFileSync(bad, `${JSON.stringify({ frame_id: 'a', path: 'a.png' })}\nnull\n`);
    const r = await paddock(['infer', '--model', model, '--manifest', bad, '--out', join(tmp.dir, 'out.json')], env);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(oneMessage(r.stderr, `${bad}:2`)).toBeTruthy();
  }, 60_000);
});

describe('recipes and steps', () => {
  it('a YAML alias bomb as a recipe: refused at once with its location, exit 2', async () => {
    const file = join(tmp.dir, 'bomb.yaml');
    const levels = ['a: &a [x,x,x,x,x,x,x,x,x]'];
    for (let i = 1; i < 9; i++) levels.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9).fill(`*${'abcdefghi'[i - 1]}`).join(',')}]`);
    writeFileSync(file, `${levels.join('\n')}\nversion: 1\n`);
    const r = await paddock(['run', file, '--headless'], env);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(oneMessage(r.stderr, `${file}:1:1`)).toMatch(/alias/);
  }, 60_000);

  it("a built-in step's error is its message; PADDOCK_DEBUG=1 (what --debug passes on) adds the stack", async () => {
    const step = join(ROOT, 'dist', 'step.js');
    const params = JSON.stringify({ pack: join(tmp.dir, 'no-pack'), model: 'm', version: '1.0.0', key: { file: join(tmp.dir, 'no-such-key.pem') } });
    const plain = await execa(process.execPath, [step, 'sign', params], { reject: false, env: { PADDOCK_DEBUG: '' } });
    expect(plain.exitCode).not.toBe(0);
    const msg = oneMessage(String(plain.stderr), 'no-such-key.pem');
    const debug = await execa(process.execPath, [step, 'sign', params], { reject: false, env: { PADDOCK_DEBUG: '1' } });
    expect(String(debug.stderr)).toMatch(/^\s+at /m);
    expect(msg.split('\n').length).toBe(1);
  }, 60_000);

  it('--debug on a bad input prints the stack; without it, the message alone', async () => {
    const file = join(tmp.dir, 'hosts-list.yaml');
    writeFileSync(file, 'hosts:\n  - desk\n');
    const r = await paddock(['hosts', '--hosts', file, '--debug'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^\s+at /m);
  }, 60_000);
});
