/**
 * The fuzz suite: every reader of outside input, fed seeded mutants of real inputs (the demo
 * recipe and its gates, a hosts file, a manifest, the slice file, pycocotools' reference cases,
 * the fixture ONNX models, a real run's event lines, trtexec / perf_analyzer / Triton outputs,
 * PNG frames, an inference contract, a signed pack). Each reader must either return or throw an
 * input error (a message naming the file and where; see src/files/input-error.ts), never crash
 * with anything else; event lines that decode are stored and the store stays sound; a pack that
 * was changed never verifies. Bounded: a few hundred cases a reader, the same on every machine
 * (a failure names the seed and case; `FUZZ_SEED=<n>` reruns with another seed).
 */
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInputError } from '../../src/files/input-error.js';
import { seededRandom } from '../../src/files/prng.js';
import { parseRecipe } from '../../src/schema/recipe-load.js';
import { STEP_RULES } from '../../src/steps/catalogue.js';
import { parseHosts } from '../../src/schema/hosts.js';
import { parseManifestText, parseSliceFile } from '../../src/schema/manifest-load.js';
import { indexDetections, indexGroundTruth } from '../../src/metrics/coco-load.js';
import { evaluateCoco } from '../../src/metrics/coco.js';
import { decodeModel } from '../../src/model/onnx-proto.js';
import { openSession } from '../../src/model/session.js';
import { decodeEventLine } from '../../src/schema/event-lines.js';
import { RunStore, newRunId } from '../../src/store/run-store.js';
import { parsePerfAnalyzerConsole, parsePerfAnalyzerCsv, parseTrtexecLog, parseTrtexecProfile, parseTrtexecTimes } from '../../src/pack/tool-outputs.js';
import { parsePbtxt } from '../../src/pack/pbtxt.js';
import { decodePngRgb } from '../../src/model/png.js';
import { loadContract } from '../../src/model/infer.js';
import { parseKeyring, verifyPack } from '../../src/pack/trust.js';
import { mutants, mutateBytes, mutateJson, mutateText, type Mutant, type Rng } from './mutate.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';

const SEED = Number(process.env.FUZZ_SEED ?? 13);
const REF = join(ROOT, '..', 'shared', 'reference');
const DEMO = join(ROOT, 'fixtures', 'demo');
const MODELS = join(ROOT, 'fixtures', 'world', 'models');

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('paddock-fuzz-');
});
afterAll(() => tmp.cleanup());

/** What a reader did with one mutant: returned, or threw an input error; anything else is a finding. */
function attempt(fn: () => unknown): { threw?: unknown } {
  try {
    fn();
    return {};
  } catch (err) {
    return { threw: err };
  }
}

/** Runs `read` over `n` mutants of `input`; collects every non-input exception with its case. */
function fuzz<T>(name: string, input: T, mutate: (r: Rng, x: T) => Mutant<T>, n: number, read: (x: T) => unknown, seed = SEED): { cases: number; rejected: number } {
  const findings: string[] = [];
  let rejected = 0;
  let cases = 0;
  for (const m of mutants(seed, n, input, mutate)) {
    cases++;
    const r = attempt(() => read(m.value));
    if (r.threw === undefined) continue;
    if (isInputError(r.threw) && (r.threw as Error).message.trim() !== '') rejected++;
    else findings.push(`${name} seed ${m.seed} case ${m.index} (${m.how}): ${(r.threw as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(r.threw)}`);
    if (findings.length >= 5) break;
  }
  expect(findings, findings.join('\n')).toEqual([]);
  return { cases, rejected };
}

const text = (file: string) => readFileSync(file, 'utf8');
/** JSON that may no longer parse: as the readers that take a parsed document see it. */
const parsedOr = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
};

const jsonMutant = (r: Rng, s: string): Mutant<string> => {
  // Half structural (a node of the wrong kind, removed, added), half textual.
  const doc = parsedOr(s);
  if (r() < 0.5 && doc !== undefined) {
    const m = mutateJson(r, doc);
    return { how: m.how, value: JSON.stringify(m.value) ?? 'undefined' };
  }
  return mutateText(r, s);
};
describe('readers of recipes and their companions', () => {
  const recipeFile = join(DEMO, 'paddock.yaml');
  const recipe = text(recipeFile);
  const gates = text(join(DEMO, 'gates.yaml'));

  it('the recipe: 400 mutants, each parsed or refused with a located message', () => {
    const r = fuzz('recipe', recipe, mutateText, 400, (t) => parseRecipe(t, recipeFile, { gatesText: gates, steps: STEP_RULES }));
    // The mutants do reach the checks: most are refused, some still parse.
    expect(r.rejected).toBeGreaterThan(100);
    expect(r.rejected).toBeLessThan(r.cases);
  });

  it('the gates file: 300 mutants', () => {
    const r = fuzz('gates', gates, mutateText, 300, (t) => parseRecipe(recipe, recipeFile, { gatesText: t, steps: STEP_RULES }));
    expect(r.rejected).toBeGreaterThan(50);
  });

  it('a hosts file: 300 mutants', () => {
    const hosts = ['hosts:', '  desk:', '    docker: unix:///var/run/docker.sock', '    labels: { gpu: rtx4090, arch: x86_64 }', '    capacity: { gpus: 1, slots: 2 }', '  orin-1:', '    docker: ssh://paddock@orin-1.lab:22', '    identity_env: PADDOCK_ORIN_KEY', '    known_hosts: ~/.ssh/known_hosts', '  gpu-box:', '    docker: tcp://gpu-box.lab:2376', '    tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }', ''].join('\n');
    expect(parseHosts(hosts, 'hosts.yaml').length).toBe(3);
    const r = fuzz('hosts', hosts, mutateText, 300, (t) => parseHosts(t, 'hosts.yaml'));
    expect(r.rejected).toBeGreaterThan(30);
  });

  it('the slice file: 300 mutants', () => {
    const file = join(ROOT, 'fixtures', 'world', 'slices.yaml');
    fuzz('slices', text(file), mutateText, 300, (t) => parseSliceFile(t, file));
  });

  it('a manifest: 300 mutants of JSON lines', () => {
    const row = (i: number) => JSON.stringify({ frame_id: `f${i}`, image: `images/f${i}.png`, width: 320, height: 192, split: 'golden_test', attributes: { time: i % 2 ? 'night' : 'day', weather: 'clear' } });
    const manifest = [row(1), row(2), row(3)].join('\n') + '\n';
    const lines = (r: Rng, s: string): Mutant<string> => {
      const ls = s.split('\n');
      const i = Math.floor(r() * ls.length);
      const m = jsonMutant(r, ls[i]);
      ls[i] = m.value;
      return { how: `line ${i + 1}: ${m.how}`, value: ls.join('\n') };
    };
    fuzz('manifest', manifest, (r, s) => (r() < 0.3 ? mutateText(r, s) : lines(r, s)), 300, (t) => parseManifestText(t, 'manifest.jsonl'));
  });
});

describe('COCO files', () => {
  const cases = readdirSync(join(REF, 'coco')).filter((d) => /^\d\d_/.test(d));
  it(`ground truth and results of ${cases.length} pycocotools cases: 60 mutants each, then evaluated`, () => {
    expect(cases.length).toBeGreaterThan(3);
    for (const [k, c] of cases.entries()) {
      const gtText = text(join(REF, 'coco', c, 'gt.json'));
      const dtText = text(join(REF, 'coco', c, 'dt.json'));
      const gt = indexGroundTruth(JSON.parse(gtText), 'gt.json');
      fuzz(`coco ${c} gt`, gtText, jsonMutant, 60, (t) => {
        const g = indexGroundTruth(parsedOr(t), 'gt.json');
        evaluateCoco(g.index, indexDetections(JSON.parse(dtText), g, 'dt.json').index);
      }, SEED + k);
      fuzz(`coco ${c} dt`, dtText, jsonMutant, 60, (t) => evaluateCoco(gt.index, indexDetections(parsedOr(t), gt, 'dt.json').index), SEED + k);
    }
  });
});

describe('models and frames', () => {
  const onnx = readFileSync(join(MODELS, 'candidate', 'model.onnx'));

  it('ONNX files: 300 mutants decoded', () => {
    expect(decodeModel(onnx, 'model.onnx').graph).toBeTruthy();
    fuzz('onnx decode', onnx as Uint8Array, mutateBytes, 300, (b) => decodeModel(b, 'model.onnx'));
  });

  it('ONNX files: 20 mutants given to ONNX Runtime, each loaded or refused with a message naming the file', async () => {
    const ort = await import('onnxruntime-node');
    const dir = join(tmp.dir, 'onnx');
    mkdirSync(dir, { recursive: true });
    const findings: string[] = [];
    for (const m of mutants(SEED, 20, onnx as Uint8Array, mutateBytes)) {
      const file = join(dir, `m${m.index}.onnx`);
      writeFileSync(file, m.value);
      try {
        const s = await openSession(ort, file, { intraOpNumThreads: 1 });
        await s.release();
      } catch (err) {
        if (!isInputError(err) || !(err as Error).message.includes(file)) findings.push(`case ${m.index} (${m.how}): ${(err as Error).message}`);
      }
    }
    expect(findings, findings.join('\n')).toEqual([]);
  }, 120_000);

  it('an inference contract: 200 mutants', () => {
    const good = text(join(MODELS, 'candidate', 'inference_config.json'));
    const dir = join(tmp.dir, 'contract');
    mkdirSync(dir, { recursive: true });
    fuzz('contract', good, jsonMutant, 200, (t) => {
      writeFileSync(join(dir, 'inference_config.json'), t);
      return loadContract(dir);
    });
  });

  it('PNG frames: 300 mutants', () => {
    const png = tinyPng();
    expect(decodePngRgb(png, 'f.png')).toBeTruthy();
    fuzz('png', png as Uint8Array, mutateBytes, 300, (b) => decodePngRgb(Buffer.from(b), 'f.png'));
  });
});

/** An 8x6 RGB PNG, written with node's zlib (paddock has no PNG encoder of its own). */
function tinyPng(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(8, 0);
  ihdr.writeUInt32BE(6, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc(6 * (1 + 8 * 3));
  for (let y = 0; y < 6; y++) for (let x = 0; x < 24; x++) raw[y * 25 + 1 + x] = (x * 11 + y * 5) & 255;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

describe('event lines and the store', () => {
  it("a real run's event lines, 600 mutants: decoded or refused (never thrown), and every decoded event stored with the store sound", () => {
    const lines = text(join(ROOT, 'test', 'fixtures', 'demo-run.ndjson')).split('\n').filter(Boolean);
    const store = new RunStore(join(tmp.dir, 'store', '.paddock'));
    try {
      const run = newRunId();
      store.createRun({ id: run, name: 'fuzz', recipePath: '/x/paddock.yaml', recipeText: 'version: 1', recipeSha256: 'a'.repeat(64), lineage: {}, host: 'h', actor: 'fuzz' });
      store.planSteps(run, [{ id: 'fuzz', stage: 'package', kind: 'step' }]);
      const att = store.startStep(run, 'fuzz', { inputDigest: 'd', runner: 'local', host: 'local' });
      const findings: string[] = [];
      let stored = 0;
      let refused = 0;
      const r = { i: 0 };
      for (const m of mutants(SEED, 600, '', (rng) => {
        r.i = Math.floor(rng() * lines.length);
        return rng() < 0.5 ? jsonMutant(rng, lines[r.i]) : mutateText(rng, lines[r.i]);
      }, 1)) {
        const got = attempt(() => decodeEventLine(m.value, m.index + 1));
        if (got.threw) {
          findings.push(`case ${m.index} (line ${r.i + 1}, ${m.how}): decodeEventLine threw ${(got.threw as Error).message}`);
          continue;
        }
        const d = decodeEventLine(m.value, m.index + 1);
        if (!d.ok) {
          refused++;
          if (!d.error.startsWith(`line ${m.index + 1}: `)) findings.push(`case ${m.index}: error does not name its line: ${d.error}`);
          continue;
        }
        const stepped = 'step' in d.event ? { ...d.event, step: 'fuzz' } : d.event;
        const s = attempt(() => store.appendEvents(run, [{ attempt: att, event: stepped as typeof d.event }]));
        if (s.threw) findings.push(`case ${m.index} (line ${r.i + 1}, ${m.how}): storing the decoded event threw ${(s.threw as Error).message}`);
        else stored++;
        if (findings.length > 5) break;
      }
      expect(findings, findings.join('\n')).toEqual([]);
      expect(refused).toBeGreaterThan(100);
      expect(stored).toBeGreaterThan(50);
      expect(store.events(run).length).toBe(stored);
      expect(store.integrityCheck()).toBe('ok');
    } finally {
      store.close();
    }
  });
});

describe('tool outputs', () => {
  const trt = join(REF, 'trtexec');
  const pa = join(REF, 'perf_analyzer');
  const tri = join(REF, 'triton');
  const files = (dir: string, re: RegExp) => readdirSync(dir).filter((f) => re.test(f)).map((f) => join(dir, f));

  it('trtexec logs, times and profiles: 100 mutants of each file', () => {
    for (const f of files(trt, /\.log$/)) fuzz(`trtexec ${f}`, text(f), mutateText, 100, (t) => parseTrtexecLog(t, f));
    for (const f of files(trt, /exportTimes.*\.json$/)) fuzz(`times ${f}`, text(f), jsonMutant, 100, (t) => parseTrtexecTimes(t, f));
    for (const f of files(trt, /exportProfile.*\.json$/)) fuzz(`profile ${f}`, text(f), jsonMutant, 100, (t) => parseTrtexecProfile(t, f));
  });

  it('perf_analyzer console and CSV: 100 mutants of each file', () => {
    for (const f of files(pa, /\.txt$/)) fuzz(`perf_analyzer ${f}`, text(f), mutateText, 100, (t) => parsePerfAnalyzerConsole(t, f));
    for (const f of files(pa, /\.csv$/)) fuzz(`perf csv ${f}`, text(f), mutateText, 100, (t) => parsePerfAnalyzerCsv(t, f));
  });

  it('Triton config.pbtxt: 150 mutants of each reference config', () => {
    for (const f of files(tri, /\.pbtxt$/)) fuzz(`pbtxt ${f}`, text(f), mutateText, 150, (t) => parsePbtxt(t, f));
  });
});

describe('signed packs', () => {
  let pack: string;
  let trusted: ReturnType<typeof parseKeyring>;
  beforeAll(async () => {
    pack = join(tmp.dir, 'pack', 'm', '1.0.0');
    mkdirSync(join(pack, 'triton', 'm', '1'), { recursive: true });
    writeFileSync(join(pack, 'model.onnx'), readFileSync(join(MODELS, 'candidate', 'model.onnx')));
    writeFileSync(join(pack, 'triton', 'm', 'config.pbtxt'), 'name: "m"\nbackend: "onnxruntime"\n');
    const key = join(tmp.dir, 'keys', 'k.pem');
    const r = await execa(process.execPath, [join(ROOT, 'dist', 'step.js'), 'sign', JSON.stringify({ pack, model: 'm', version: '1.0.0', key: { file: key, generate: true } })], { reject: false, env: { PADDOCK_TRUSTED_KEYS: '' } });
    expect(r.exitCode, r.stderr).toBe(0);
    trusted = parseKeyring(text(`${key}.pub`), `${key}.pub`);
    expect(verifyPack(pack, { trusted, strict: true }).ok).toBe(true);
  }, 60_000);

  it('40 packs with a changed report, signature, bundle, key or payload: verify never throws, and a changed report or payload never verifies', () => {
    const targets = ['export_report.json', 'export_report.json.sig', 'export_report.sigstore.json', 'cosign.pub', 'model.onnx', 'triton/m/config.pbtxt'];
    const findings: string[] = [];
    const work = join(tmp.dir, 'mutated', '1.0.0');
    let i = 0;
    for (const m of mutants(SEED, 40, 0, (r) => ({ how: String(Math.floor(r() * 1e9)), value: Math.floor(r() * 1e9) }), 1)) {
      const target = targets[i++ % targets.length];
      rmSync(work, { recursive: true, force: true });
      cpSync(pack, work, { recursive: true, dereference: true });
      const file = join(work, target);
      const before = readFileSync(file);
      const rng = seededRandom(m.value);
      const mut = target.endsWith('.json') && rng() < 0.5 ? Buffer.from(jsonMutant(rng, before.toString('utf8')).value) : Buffer.from(mutateBytes(rng, before).value);
      writeFileSync(file, mut);
      const got = attempt(() => verifyPack(work, { trusted, strict: true }));
      if (got.threw) {
        findings.push(`case ${m.index} (${target}): verifyPack threw ${(got.threw as Error).message}`);
        continue;
      }
      const v = verifyPack(work, { trusted, strict: true });
      const changed = !before.equals(mut);
      const mustFail = changed && (target === 'export_report.json' || target === 'model.onnx' || target.startsWith('triton/') || target === 'export_report.json.sig');
      if (mustFail && v.ok) findings.push(`case ${m.index}: ${target} was changed and the pack still verified`);
      if (!v.ok && v.problems.some((p) => p.trim() === '')) findings.push(`case ${m.index}: an empty problem message`);
    }
    expect(findings, findings.join('\n')).toEqual([]);
  }, 120_000);
});
