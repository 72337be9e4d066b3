/**
 * Promotions racing for one alias (issue 20 item 6), on SQLite and PostgreSQL: 8 real processes
 * (test/registry/race-worker.ts, bundled) open the same registry, each decides against the same
 * production it saw, and all write at one signal. Exactly one wins; every other is refused with
 * the reason (where production is now, since when, moved by whom and why); the aliases, the
 * history and the promotions agree with the one winner; and the audit chain still verifies.
 *
 * Rounds: 8 different versions onto an unset production; 8 different versions onto the first
 * winner; 8 rollbacks at once (one step back happens once); 8 promotions of the same version
 * from the same expected production.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadAuditSigner, verifyAudit, type AuditSigner } from '../../src/registry/audit.js';
import { Registry } from '../../src/registry/registry.js';
import { REGISTRY_ENTRY_FORMAT, type RegistryEntryBody } from '../../src/schema/registry.js';
import { tempDir } from '../helpers/fixtures.js';
import { bundleWorker, forEachRegistryDb } from '../helpers/registry-dbs.js';

const MODEL = 'world-detector';
const N = 8;
const VERSIONS = Array.from({ length: N + 2 }, (_, i) => `1.${i}.0`);

type Outcome = ({ ok: true; result: { promotionId: string; from?: string; to?: string } } | { ok: false; inputError: boolean; message: string }) & { began: number; ended: number };

const body = (n: number): RegistryEntryBody => ({
  format: REGISTRY_ENTRY_FORMAT,
  pack: { manifest_digest: n.toString(16).padStart(64, '0'), files: [{ path: 'model.onnx', sha256: 'b'.repeat(64), bytes: 1000 + n }] },
  serving_image_digest: null,
  commit: '0123456789abcdef0123456789abcdef01234567',
  dataset: { tag: 'golden-v1', content_digest: 'c'.repeat(64) },
  runs: {},
  summary: { headline: { 'coco.AP': 0.4 }, slices: [], latency: [], targets: [], precisions: ['fp32'], calibration_cache_version: null, gates: [] },
  absent: { serving_image_digest: 'not built here', 'summary.calibration_cache_version': 'no INT8 variant' },
});

let worker: string;
beforeAll(async () => {
  worker = await bundleWorker('test/registry/race-worker.ts');
}, 60_000);

/**
 * Starts one process per job, waits until every one has the registry open, then sends `go` to
 * all of them at once and collects each one's outcome.
 */
async function race(jobs: object[]): Promise<Outcome[]> {
  const procs = jobs.map((job) => {
    const child = spawn(process.execPath, [worker, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const lines = createInterface({ input: child.stdout });
    const queue: string[] = [];
    const waiters: ((l: string) => void)[] = [];
    lines.on('line', (l) => (waiters.length ? waiters.shift()!(l) : queue.push(l)));
    const exited = new Promise<number>((res) => child.on('exit', (code) => res(code ?? -1)));
    const next = () =>
      queue.length
        ? Promise.resolve(queue.shift()!)
        : Promise.race([new Promise<string>((res) => waiters.push(res)), exited.then((code) => Promise.reject(new Error(`worker exited ${code} before answering: ${stderr}`)))]);
    return { child, next, exited, stderr: () => stderr };
  });
  for (const p of procs) expect(await p.next()).toBe('ready');
  for (const p of procs) p.child.stdin.write('go\n');
  const out: Outcome[] = [];
  for (const p of procs) {
    out.push(JSON.parse(await p.next()) as Outcome);
    expect(await p.exited, p.stderr()).toBe(0);
  }
  return out;
}

forEachRegistryDb((target) => {
  let keys: ReturnType<typeof tempDir>;
  let auditKey: string;
  let signer: AuditSigner;
  let spec: string;
  let reg: Registry;

  beforeAll(async () => {
    keys = tempDir('paddock-race-');
    auditKey = join(keys.dir, 'audit.pem');
    signer = loadAuditSigner(auditKey);
    spec = await target.fresh();
    reg = await Registry.open(spec, { auditKey });
    for (const [i, v] of VERSIONS.entries()) {
      await reg.register({ model: MODEL, version: v, body: body(i), actor: 'alice@example.com' });
      await reg.transition({ model: MODEL, version: v, alias: 'staging', actor: 'alice@example.com', reason: `build ${v}` });
      await reg.transition({ model: MODEL, version: v, alias: 'candidate', actor: 'alice@example.com', reason: `evaluation of ${v} green` });
    }
  }, 120_000);
  afterAll(async () => {
    await reg?.close();
    keys?.cleanup();
  });

  const promoteJob = (i: number, version: string, expect: string | null) => ({ spec, auditKey, op: 'promote', model: MODEL, version, expect, actor: `worker-${i}@example.com`, reason: `promote ${version} (worker ${i})` });

  let overlaps = 0;
  /** The one winner of a round, and every loser's message. */
  function split(outcomes: Outcome[]) {
    const winners = outcomes.flatMap((o, i) => (o.ok ? [i] : []));
    expect(winners, JSON.stringify(outcomes, null, 1)).toHaveLength(1);
    const losers = outcomes.flatMap((o, i) => (o.ok ? [] : [{ i, ...o }]));
    for (const l of losers) expect(l.inputError, l.message).toBe(true);
    // They raced: contenders began their writes before the winner's had ended. Counted over the
    // rounds and checked once at the end: on a loaded machine one round's processes may happen to
    // start one after another (seen once in the full suite), which says nothing of the registry.
    overlaps += losers.filter((l) => l.began < outcomes[winners[0]].ended).length;
    return { winner: winners[0], losers };
  }

  async function chainValid() {
    const v = await verifyAudit(reg.db, [signer]);
    expect(v.problems).toEqual([]);
  }

  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it(`${N} processes promote different versions onto an unset production: one wins, the rest are refused with the reason`, async () => {
    const versions = VERSIONS.slice(0, N);
    const outcomes = await race(versions.map((v, i) => promoteJob(i, v, null)));
    const { winner, losers } = split(outcomes);
    const won = versions[winner];
    const moved = (await reg.history(MODEL, 'production')).at(-1)!;
    expect(moved).toMatchObject({ to_version: won, from_version: null, actor: `worker-${winner}@example.com`, reason: `promote ${won} (worker ${winner})` });
    for (const l of losers) expect(l.message).toBe(`production of ${MODEL} is ${won} since ${new Date(moved.at).toISOString()} (moved by worker-${winner}@example.com: "promote ${won} (worker ${winner})"); you expected it unset: refused`);
    expect(await reg.aliases(MODEL)).toMatchObject({ production: won, rollback: null });
    expect(await reg.history(MODEL, 'production')).toHaveLength(1);
    expect(await reg.history(MODEL, 'rollback')).toHaveLength(0);
    const promotions = await reg.promotions(MODEL);
    expect(promotions.map((p) => [p.version, p.status, p.id])).toEqual([[won, 'promoted', (outcomes[winner] as { result: { promotionId: string } }).result.promotionId]]);
    await chainValid();
  }, 120_000);

  it(`${N} processes promote different versions onto the same production: one wins and tags it rollback`, async () => {
    const before = (await reg.aliases(MODEL)).production!;
    const versions = VERSIONS.filter((v) => v !== before).slice(0, N);
    const { winner, losers } = split(await race(versions.map((v, i) => promoteJob(i, v, before))));
    const won = versions[winner];
    const moved = (await reg.history(MODEL, 'production')).at(-1)!;
    for (const l of losers) expect(l.message).toBe(`production of ${MODEL} is ${won} since ${new Date(moved.at).toISOString()} (moved by worker-${winner}@example.com: "promote ${won} (worker ${winner})"); you expected ${before}: refused`);
    expect(await reg.aliases(MODEL)).toMatchObject({ production: won, rollback: before });
    expect((await reg.history(MODEL, 'production')).map((t) => [t.from_version, t.to_version])).toEqual([
      [null, before],
      [before, won],
    ]);
    expect((await reg.history(MODEL, 'rollback')).map((t) => [t.from_version, t.to_version, t.promotion_id])).toEqual([[null, before, moved.promotion_id]]);
    expect(await reg.promotions(MODEL)).toHaveLength(2);
    await chainValid();
  }, 120_000);

  it(`${N} rollbacks at once go one step back, once`, async () => {
    const { production, rollback } = await reg.aliases(MODEL);
    const outcomes = await race(Array.from({ length: N }, (_, i) => ({ spec, auditKey, op: 'rollback', model: MODEL, expect: production, actor: `oncall-${i}@example.com`, reason: `regression (oncall ${i})` })));
    const { winner, losers } = split(outcomes);
    expect((outcomes[winner] as { result: object }).result).toMatchObject({ from: production, to: rollback });
    const cleared = (await reg.history(MODEL, 'rollback')).at(-1)!;
    for (const l of losers)
      expect(l.message).toBe(
        `${MODEL} has no rollback version (rollback was cleared ${new Date(cleared.at).toISOString()} by oncall-${winner}@example.com: "rolled back to ${rollback}: regression (oncall ${winner})"): a rollback is one step, to the production the last promotion replaced; production is ${rollback}`,
      );
    expect(await reg.aliases(MODEL)).toMatchObject({ production: rollback, rollback: null });
    expect((await reg.history(MODEL, 'production')).at(-1)).toMatchObject({ action: 'rollback', from_version: production, to_version: rollback });
    expect((await reg.promotions(MODEL)).filter((p) => p.status === 'rolled-back').map((p) => p.version)).toEqual([production]);
    await chainValid();
  }, 120_000);

  it(`${N} processes promote the same version from the same expected production: one wins`, async () => {
    const before = (await reg.aliases(MODEL)).production!;
    const version = VERSIONS.at(-1)!;
    const { winner, losers } = split(await race(Array.from({ length: N }, (_, i) => promoteJob(i, version, before))));
    for (const l of losers) expect(l.message).toMatch(new RegExp(`^production of ${MODEL} is ${esc(version)} since \\S+ \\(moved by worker-${winner}@example\\.com: "promote ${esc(version)} \\(worker ${winner}\\)"\\); you expected ${esc(before)}: refused$`));
    expect(await reg.aliases(MODEL)).toMatchObject({ production: version, rollback: before });
    // Every production move in order, each from where the one before left it.
    const h = await reg.history(MODEL, 'production');
    for (let i = 1; i < h.length; i++) expect(h[i].from_version).toBe(h[i - 1].to_version);
    expect(h).toHaveLength(4);
    const all = await reg.history(MODEL);
    expect(all.map((t) => t.seq)).toEqual(all.map((_, i) => i + 1));
    await chainValid();
  }, 120_000);

  it('the contenders really raced: in the rounds above, losers began their writes before the winner had ended', () => {
    // (Measured: 7 of 7 a round on both databases, the starts spread over 60-170 ms.)
    expect(overlaps).toBeGreaterThan(0);
  });
});
