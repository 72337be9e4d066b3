/**
 * Packs are never torn (src/steps/package/common.ts): a run builds its pack version in
 * <pack>.versions/<run> and `sign` publishes it by renaming a new symlink over <pack>. Real runs
 * of the real binary on a small real pack (coverage, bench-variants on the committed candidate,
 * sign): a pack from before versions is moved aside whole; while a second run rewrites the
 * pack, a sampler verifies <pack> in a loop (verifyPack with the signing key's public key, kept
 * beside the key file) and every sample verifies, the old version or the new; a run killed
 * mid-rewrite leaves the old one verifying, and its resume finds its version again and publishes
 * it; a publish killed at each of its crash points leaves <pack> verifying (or, at the one point
 * of a migration, the old pack whole in the versions folder, kept by the next publish); a
 * published version is never written again; old versions are pruned, the previous one kept.
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paddock, paddockProcess } from '../helpers/cli.js';
import { FIXTURES, ROOT, tempDir, waitFor } from '../helpers/fixtures.js';
import { parseKeyring, verifyPack as verifyWith } from '../../src/pack/trust.js';
import { sha256FileSync } from '../../src/files/digest.js';
import { stagePack } from '../../src/steps/package/common.js';

const CAND = join(FIXTURES, 'world', 'models', 'candidate');
const STEP = join(ROOT, 'dist', 'step.js');
let tmp: ReturnType<typeof tempDir>;

function recipe(dir: string, iterations: number): string {
  const file = join(dir, `p-${iterations}.yaml`);
  writeFileSync(
    file,
    `version: 1
name: versions
models:
  candidate:
    version: 1.1.0
    onnx: { path: ${JSON.stringify(join(CAND, 'model.onnx'))}, sha256: ${sha256FileSync(join(CAND, 'model.onnx')).sha256} }
    lineage: { dataset: paddock-world }
targets:
  - { name: cpu-fp32, backend: onnxruntime, precision: fp32 }
stages:
  package:
    - { id: coverage, uses: coverage, with: { pack: ./pack } }
    - { id: bench, uses: bench-variants, needs: [coverage], with: { model: candidate, pack: ./pack, variants: [{ name: fp32, model: model.onnx }], batches: [1], iterations: ${iterations}, warmup: 2 } }
    - { id: sign, uses: sign, needs: [bench], with: { model: candidate, pack: ./pack, key: { file: ./keys/signing.pem, generate: true } } }
`,
  );
  return file;
}

/** A pack signed in place, as packs were before versions: a plain directory. */
async function legacyPack(dir: string, key: string): Promise<void> {
  mkdirSync(join(dir, 'reports'), { recursive: true });
  copyFileSync(join(CAND, 'model.onnx'), join(dir, 'model.onnx'));
  writeFileSync(join(dir, 'reports', 'legacy.json'), '{"status": "succeeded"}\n');
  const r = await execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack: dir, model: 'candidate', version: '1.1.0', key: { file: key, generate: true } })], { reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
}

/** verifyPack (src/pack/trust.ts) trusting the public key written beside the signing key, outside the pack. */
const verifyPack = (dir: string, pubPem: string) => verifyWith(dir, { trusted: parseKeyring(pubPem, 'signing.pem.pub') });
const runIdOf = (stdout: string) => (JSON.parse(stdout.split('\n').find((l) => l.includes('"type":"run"'))!) as { run: string }).run;
const versionsOf = (pack: string) => readdirSync(`${pack}.versions`).filter((n) => !n.startsWith('.')).sort();

beforeAll(() => {
  tmp = tempDir('paddock-versions-');
});
afterAll(() => tmp.cleanup());

describe('pack versions through real runs', () => {
  it('migrates a pack from before versions, is never torn while rewritten, survives a kill mid-rewrite, and prunes', async () => {
    const dir = tmp.dir;
    const pack = join(dir, 'pack');
    const key = join(dir, 'keys', 'signing.pem');
    const env = { PADDOCK_HOME: join(dir, 'home') };
    await legacyPack(pack, key);
    const legacyReport = readFileSync(join(pack, 'export_report.json'), 'utf8');

    // Run 1: the plain directory is moved aside whole and <pack> becomes a symlink.
    const r1 = await paddock(['run', recipe(dir, 5), '--json'], env, dir);
    expect(r1.exitCode, r1.stderr + r1.stdout.slice(-3000)).toBe(0);
    const run1 = runIdOf(r1.stdout);
    expect(r1.stdout).toContain(`${pack} was a directory from before versioned packs: moved whole to ${pack}.versions/pre-versions-`);
    expect(lstatSync(pack).isSymbolicLink()).toBe(true);
    expect(readlinkSync(pack)).toBe(`pack.versions/${run1}`);
    const migrated = versionsOf(pack).find((n) => n.startsWith('pre-versions-'))!;
    expect(readFileSync(join(`${pack}.versions`, migrated, 'export_report.json'), 'utf8')).toBe(legacyReport);
    const pub = readFileSync(`${key}.pub`, 'utf8');
    expect(pub).toBe(readFileSync(join(pack, 'cosign.pub'), 'utf8'));
    expect(verifyPack(pack, pub).ok).toBe(true);
    expect(verifyPack(join(`${pack}.versions`, migrated), pub).ok).toBe(true);
    // The run's steps wrote its version, the reports of all three are in it.
    expect(readdirSync(join(pack, 'reports')).sort()).toEqual(['bench.json', 'coverage.json', 'legacy.json']);

    // Run 2, long enough to be sampled many times while it rewrites the pack.
    const child = paddockProcess(['run', recipe(dir, 4000), '--json'], env, dir);
    let ended = false;
    void child.then(() => (ended = true));
    const samples: { ok: boolean; problems: string[]; version?: string }[] = [];
    while (!ended) {
      const before = realpathSync(pack);
      const v = verifyPack(pack, pub);
      const after = realpathSync(pack);
      samples.push({ ok: v.ok, problems: v.problems, version: before === after ? basename(before) : undefined });
      await new Promise((r) => setTimeout(r, 2));
    }
    const r2 = await child;
    expect(r2.exitCode, String(r2.stderr)).toBe(0);
    const run2 = runIdOf(String(r2.stdout));
    const bad = samples.filter((s) => !s.ok);
    expect(bad.slice(0, 3), `${bad.length} of ${samples.length} samples failed`).toEqual([]);
    expect(samples.length).toBeGreaterThan(50);
    const seen = new Set(samples.map((s) => s.version));
    expect(seen.has(run1) && seen.has(run2), [...seen].join(' ')).toBe(true);
    // Run 2 replaced run 1 (kept) and pruned the migrated pack.
    expect(versionsOf(pack)).toEqual(['history.json', run1, run2].sort());

    // Run 3, killed while its bench step rewrites: <pack> is still run 2's, and verifies.
    const killed = paddockProcess(['run', recipe(dir, 1500), '--json'], env, dir);
    let out = '';
    killed.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => /"type":"step","step":"bench","status":"started"/.test(out), 'run 3 benchmarking', 60_000);
    await new Promise((r) => setTimeout(r, 500));
    killed.kill('SIGKILL');
    await killed;
    const run3 = runIdOf(out);
    expect(realpathSync(pack)).toBe(join(`${pack}.versions`, run2));
    expect(verifyPack(pack, pub).ok).toBe(true);
    expect(existsSync(join(`${pack}.versions`, run3, 'reports', 'coverage.json'))).toBe(true);
    // Its resume finds its version again (coverage reused), finishes and publishes it.
    const r3 = await paddock(['resume', run3, '--json'], env, dir);
    expect(r3.exitCode, r3.stderr).toBe(0);
    expect(r3.stdout).toMatch(/coverage: inputs unchanged/);
    expect(readlinkSync(pack)).toBe(`pack.versions/${run3}`);
    expect(verifyPack(pack, pub).ok).toBe(true);
    expect(versionsOf(pack)).toEqual(['history.json', run2, run3].sort());
    const history = JSON.parse(readFileSync(join(`${pack}.versions`, 'history.json'), 'utf8')) as { versions: { version: string; pruned?: string }[] };
    expect(history.versions.map((v) => `${v.version}${v.pruned ? ' pruned' : ''}`)).toEqual([`${migrated} pruned`, `${run1} pruned`, run2, run3]);

    // A published version is never written again (a step of its run that would, fails).
    const again = await execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack: join(`${pack}.versions`, run3), model: 'candidate', version: '1.1.0', key: { file: key } })], { reject: false });
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain(`${pack}.versions/${run3} is the published version of ${pack}`);
    expect(again.stderr).toContain('start a new run');
    expect(verifyPack(pack, pub).ok).toBe(true);
  }, 300_000);
});

describe('a publish killed at each of its crash points', () => {
  const sign = (dir: string, key: string, killAt?: string) =>
    execa(process.execPath, [STEP, 'sign', JSON.stringify({ pack: dir, model: 'candidate', version: '1.1.0', key: { file: key, generate: true } })], { reject: false, env: killAt ? { PADDOCK_KILL_AT: killAt } : {} });

  it('leaves <pack> verifying, the old version or the new, and the next publish goes on', async () => {
    const pack = join(tmp.dir, 'kills', 'pack');
    const key = join(tmp.dir, 'kills', 'k.pem');
    // Two published versions first, so that the next publish prunes one.
    for (const v of ['r-a', 'r-b']) expect((await sign(stagePack(pack, v), key)).exitCode).toBe(0);
    const pub = readFileSync(`${key}.pub`, 'utf8');
    // 1: the new symlink made, 2: renamed over <pack>, 3: the oldest version moved to the trash.
    for (const n of [1, 2, 3]) {
      const before = readlinkSync(pack);
      const r = await sign(stagePack(pack, `r-kill-${n}`), key, `pack.publish:${n}`);
      expect(r.signal, r.stderr).toBe('SIGKILL');
      expect(r.stderr).toContain(`PADDOCK_KILL_AT reached at pack.publish #${n}`);
      expect(readlinkSync(pack)).toBe(n === 1 ? before : `pack.versions/r-kill-${n}`);
      const v = verifyPack(pack, pub);
      expect(v.problems).toEqual([]);
    }
    // The next publish cleans up after them: the trash is gone, two published versions stay,
    // the killed-before-publishing one is left for its run.
    expect((await sign(stagePack(pack, 'r-c'), key)).exitCode).toBe(0);
    expect(verifyPack(pack, pub).ok).toBe(true);
    expect(readdirSync(`${pack}.versions`).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(versionsOf(pack)).toEqual(['history.json', 'r-c', 'r-kill-1', 'r-kill-3']);
  }, 120_000);

  it('a migration killed between moving the old pack aside and linking it keeps the old pack whole, and the next publish keeps it', async () => {
    const pack = join(tmp.dir, 'migrate', 'pack');
    const key = join(tmp.dir, 'migrate', 'k.pem');
    await legacyPack(pack, key);
    const pub = readFileSync(`${key}.pub`, 'utf8');
    const stage = stagePack(pack, 'r-m');
    const r = await sign(stage, key, 'pack.publish:1');
    expect(r.signal, r.stderr).toBe('SIGKILL');
    expect(existsSync(pack)).toBe(false);
    const moved = versionsOf(pack).find((n) => n.startsWith('pre-versions-'))!;
    expect(verifyPack(join(`${pack}.versions`, moved), pub).ok).toBe(true);
    const ok = await sign(stage, key);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`the version it replaced, ${moved}, is kept for rollback`);
    expect(verifyPack(pack, pub).ok).toBe(true);
    expect(versionsOf(pack)).toEqual(['history.json', moved, 'r-m'].sort());
  }, 60_000);
});
