/**
 * What the promote stage's steps need, made by the real steps (node dist/step.js) once per test
 * file: a signed pack (operator coverage, bench-variants, an offline SBOM, signed by a publisher
 * key; a second one of another version; one signed by a key no policy trusts), an
 * eval_report.json and a replay_report.json (candidate against production) on a tiny world, and
 * the events of the bench and evaluate steps (latency samples of both models, the evaluation's
 * failures) to put into a run store the way `paddock run` does. Then: a recipe's promote stage
 * turned into command lines by the step definitions' own invoke() (as cli/run-command.ts does),
 * each run as its own process with the env paddock gives a step, and its NDJSON read back.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { generateSigningKey } from '../../src/pack/signing.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { loadRecipe, findStep } from '../../src/steps/catalogue.js';
import type { StepContext } from '../../src/steps/define.js';
import { RunStore, newRunId } from '../../src/store/run-store.js';

/** The tiny world has 18 frames in a few scenes: below the evaluate step's default minimum (10 scenes with objects), every slice would be insufficient data. */
export const TINY_WORLD_STATISTICS = { min_scenes: 2, min_effective_scenes: 1, min_objects: 1 };
import { FIXTURES, ROOT, tempDir } from './fixtures.js';

export const STEP = join(ROOT, 'dist', 'step.js');
export const WORLD_MODELS = join(FIXTURES, 'world', 'models');
export const LINEAGE = { commit: '0123456789abcdef0123456789abcdef01234567', dataset: 'golden-v1' };

export interface StepResult {
  exitCode: number;
  events: PaddockEvent[];
  stderr: string;
  /** The log lines' messages, then stderr: what a failure is explained by. */
  text: string;
}

const parseLines = (stdout: string): PaddockEvent[] =>
  stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => PaddockEvent.parse(JSON.parse(l)));

/** Runs a built-in step as paddock does (its own process: node dist/step.js <name> '<json>'), env added to this process's. */
export async function runStepProcess(command: readonly string[], env: Record<string, string | undefined> = {}): Promise<StepResult> {
  const r = await execa(command[0], command.slice(1), { env: { PADDOCK_TRUSTED_KEYS: '', ...env }, reject: false });
  return result(r.exitCode ?? -1, String(r.stdout), String(r.stderr));
}

function result(exitCode: number, stdout: string, stderr: string): StepResult {
  const events = parseLines(stdout);
  const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  return { exitCode, events, stderr, text: [...logs, stderr].join('\n') };
}

/** A step started in the background: its stdout lines as they come, and its end. */
export interface RunningStep {
  /** Resolves with the first log event whose message matches (rejects if the step ends first). */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  done: Promise<StepResult>;
  /** Ends the step's process (SIGTERM), e.g. when a test failed while it waited. */
  kill(): void;
}

const started = new Set<ResultPromise>();

/** Ends every step startStepProcess started that is still running (for an afterAll: a failed test leaves no step waiting). */
export function killStartedSteps(): void {
  for (const c of started) c.kill();
  started.clear();
}

/** Starts a step without waiting for it (for a step that waits for a person). */
export function startStepProcess(command: readonly string[], env: Record<string, string | undefined> = {}): RunningStep {
  const child: ResultPromise = execa(command[0], command.slice(1), { env: { PADDOCK_TRUSTED_KEYS: '', ...env }, reject: false, buffer: true });
  started.add(child);
  const seen: string[] = [];
  const waiters: { re: RegExp; resolve: (m: string) => void; reject: (e: Error) => void }[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      if (!l.trim()) continue;
      const e = JSON.parse(l) as { type: string; message?: string };
      if (e.type !== 'log' || !e.message) continue;
      seen.push(e.message);
      for (const w of waiters.splice(0)) if (w.re.test(e.message)) w.resolve(e.message);
      else waiters.push(w);
    }
  });
  const done = child.then((r) => (started.delete(child), result(r.exitCode ?? -1, String(r.stdout), String(r.stderr))));
  done.then((r) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`the step ended (exit ${r.exitCode}) before logging ${w.re}: ${r.text}`));
  });
  return {
    done,
    kill: () => void child.kill(),
    waitForLog: (re, timeoutMs = 30_000) =>
      new Promise<string>((resolve, reject) => {
        const hit = seen.find((m) => re.test(m));
        if (hit) return resolve(hit);
        const timer = setTimeout(() => reject(new Error(`no log line matching ${re} within ${timeoutMs} ms (seen: ${seen.join(' | ')})`)), timeoutMs);
        waiters.push({ re, resolve: (m) => (clearTimeout(timer), resolve(m)), reject: (e) => (clearTimeout(timer), reject(e)) });
      }),
  };
}

async function step(name: string, params: object): Promise<StepResult> {
  const r = await runStepProcess([process.execPath, STEP, name, JSON.stringify(params)]);
  if (r.exitCode !== 0) throw new Error(`${name} failed (exit ${r.exitCode}): ${r.text}`);
  return r;
}

export interface PromoteFixtures {
  dir: string;
  /** Signed by the publisher: world-detector 1.1.0 (the candidate model), and 1.2.0 (the same files signed as another version). */
  packA: string;
  packB: string;
  /** The same files signed by a key that no policy lists. */
  packUntrusted: string;
  /** The publisher's public key (the policies' `publishers`), and the untrusted one. */
  publisherPub: string;
  untrustedPub: string;
  /** The evaluate and replay steps' output directories. */
  evaluation: string;
  replay: string;
  /** Latency events of bench on the two world models (targets candidate/cpu-fp32 and production/cpu-fp32). */
  benchCandidate: PaddockEvent[];
  benchProduction: PaddockEvent[];
  /** The evaluate step's failure events (the data-mining request's clusters). */
  evalFailures: PaddockEvent[];
  cleanup(): void;
}

/** Builds everything once (about 15 s on 2 cores: the SBOM's scans are the longest). */
export async function buildPromoteFixtures(): Promise<PromoteFixtures> {
  const tmp = tempDir('paddock-promote-fx-');
  const dir = tmp.dir;
  const unsigned = join(dir, 'work', 'unsigned');
  mkdirSync(unsigned, { recursive: true });
  cpSync(join(WORLD_MODELS, 'candidate', 'model.onnx'), join(unsigned, 'model.onnx'));
  const packSteps = (async () => {
    await step('coverage', { pack: unsigned, model: join(unsigned, 'model.onnx'), targets: [{ name: 'cpu-fp32', backend: 'onnxruntime' }] });
    await step('bench-variants', { pack: unsigned, model: 'world-detector', variants: [{ name: 'fp32', model: join(unsigned, 'model.onnx') }], batches: [1], iterations: 20, warmup: 2 });
    // Offline: no vulnerability database, so its scan does not run (the demo waives that, as the tests do).
    await step('sbom', { pack: unsigned, model: 'world-detector', version: '1.1.0', docker_socket: '/nonexistent/docker.sock', cache_dir: join(dir, 'cache') });
  })();
  const worldSteps = (async () => {
    await step('world-build', { out: join(dir, 'world'), size: 'tiny' });
    const models = { candidate: { name: 'candidate', model: join(WORLD_MODELS, 'candidate') }, baseline: { name: 'production', model: join(WORLD_MODELS, 'production') } };
    const ev = await step('evaluate', { ...models, manifest: join(dir, 'world', 'manifests', 'golden_train.jsonl'), slices: join(FIXTURES, 'world', 'slices.yaml'), replicates: 50, statistics: TINY_WORLD_STATISTICS, out: join(dir, 'evaluation') });
    await step('replay', { ...models, bundles: [join(dir, 'world', 'manifests', 'replay_drives.json')], timing: 'fast', deadline_ms: 100, out: join(dir, 'replay') });
    const bench = (m: string) => step('bench', { model: join(WORLD_MODELS, m, 'model.onnx'), target: `${m}/cpu-fp32`, iterations: 100, warmup: 5, threads: 1 });
    const production = await bench('production');
    const candidate = await bench('candidate');
    return { evalFailures: ev.events.filter((e) => e.type === 'failure'), benchProduction: production.events.filter((e) => e.type === 'latency'), benchCandidate: candidate.events.filter((e) => e.type === 'latency') };
  })();
  const [, events] = await Promise.all([packSteps, worldSteps]);
  const keyFile = join(dir, 'keys', 'publisher.pem');
  const untrusted = generateSigningKey();
  mkdirSync(join(dir, 'keys'), { recursive: true });
  writeFileSync(join(dir, 'keys', 'untrusted.pem'), untrusted.privatePem, { mode: 0o600 });
  const sign = async (to: string, version: string, key: string) => {
    cpSync(unsigned, to, { recursive: true });
    await step('sign', { pack: to, model: 'world-detector', version, key: { file: key, generate: true }, lineage: LINEAGE });
    return to;
  };
  const packA = await sign(join(dir, 'packs', 'world-detector', '1.1.0'), '1.1.0', keyFile);
  const packB = await sign(join(dir, 'packs', 'world-detector', '1.2.0'), '1.2.0', keyFile);
  const packUntrusted = await sign(join(dir, 'packs', 'untrusted', '1.1.0'), '1.1.0', join(dir, 'keys', 'untrusted.pem'));
  return {
    dir,
    packA,
    packB,
    packUntrusted,
    publisherPub: `${keyFile}.pub`,
    untrustedPub: join(dir, 'keys', 'untrusted.pem.pub'),
    evaluation: join(dir, 'evaluation'),
    replay: join(dir, 'replay'),
    ...events,
    cleanup: tmp.cleanup,
  };
}

/**
 * A run in the store at `home`, as `paddock run` leaves it after the package, evaluate and replay
 * stages: the bench steps' latency events, the evaluation's failures, and one gate's verdict (a
 * gate node's own, which is what currentVerdicts counts).
 */
export function seedRun(home: string, fx: PromoteFixtures, opts: { runId?: string; at?: Date; gateVerdict?: 'pass' | 'fail' | 'review' } = {}): string {
  const runId = opts.runId ?? newRunId(opts.at);
  const store = new RunStore(home);
  try {
    store.createRun({ id: runId, name: 'promote-test', recipePath: join(home, 'paddock.yaml'), recipeText: 'version: 1\n', recipeSha256: '0'.repeat(64), lineage: {}, host: 'local', actor: 'ci@example.com' });
    const steps = [
      { id: 'bench-production', stage: 'package', kind: 'step' },
      { id: 'bench-candidate', stage: 'package', kind: 'step' },
      { id: 'evaluate', stage: 'evaluate', kind: 'step' },
      { id: 'gate:latency-p95', stage: 'package', kind: 'gate' },
    ];
    store.planSteps(runId, steps);
    const add = (stepId: string, events: PaddockEvent[]) => {
      const attempt = store.startStep(runId, stepId, { inputDigest: '0'.repeat(64), runner: 'local', host: 'local' });
      store.appendEvents(runId, events.map((e) => ({ event: { ...e, step: stepId } as PaddockEvent, attempt })));
      store.finishStep(runId, stepId, 'succeeded', undefined, 0);
    };
    add('bench-production', fx.benchProduction);
    add('bench-candidate', fx.benchCandidate);
    add('evaluate', fx.evalFailures);
    add('gate:latency-p95', [{ v: 1, type: 'verdict', gate: 'latency-p95', verdict: opts.gateVerdict ?? 'pass', rationale: ['candidate/cpu-fp32 latency.p95_ms within 100 ms'] } as PaddockEvent]);
  } finally {
    store.close();
  }
  return runId;
}

/** The recipe's promote-stage steps turned into command lines by their definitions' invoke(), as cli/run-command.ts builtinCommand does. */
export function invokeSteps(recipeFile: string, o: { home: string; runId?: string }): Record<string, string[]> {
  const { recipe } = loadRecipe(recipeFile);
  const saved = process.env.PADDOCK_HOME;
  // The definitions find the run store's home as paddock's process does: $PADDOCK_HOME.
  process.env.PADDOCK_HOME = o.home;
  try {
    const out: Record<string, string[]> = {};
    for (const s of recipe.stages.promote) {
      if (!('uses' in s)) continue;
      const def = findStep(s.uses)!;
      const ctx: StepContext = { stepId: s.id, recipe, baseDir: join(recipeFile, '..'), entry: [process.execPath, STEP], ...(o.runId ? { runId: o.runId } : {}) };
      out[s.id] = def.invoke(s.with as never, ctx).command;
    }
    return out;
  } finally {
    if (saved === undefined) delete process.env.PADDOCK_HOME;
    else process.env.PADDOCK_HOME = saved;
  }
}

/** Four identities, one per role, each with its own ECDSA P-256 key (PEM), for a policy with separation of duties. */
export function makeIdentityKeys(dir: string): Record<'alice' | 'bob' | 'carol' | 'dan', { identity: string; keyFile: string; pubFile: string }> {
  mkdirSync(join(dir, 'keys'), { recursive: true });
  const out = {} as Record<'alice' | 'bob' | 'carol' | 'dan', { identity: string; keyFile: string; pubFile: string }>;
  for (const name of ['alice', 'bob', 'carol', 'dan'] as const) {
    const k = generateSigningKey();
    const keyFile = join(dir, 'keys', `${name}.pem`);
    const pubFile = join(dir, 'keys', `${name}.pub.pem`);
    writeFileSync(keyFile, k.privatePem, { mode: 0o600 });
    writeFileSync(pubFile, k.publicPem);
    out[name] = { identity: `${name}@example.com`, keyFile, pubFile };
  }
  return out;
}
