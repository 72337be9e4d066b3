/**
 * What the registry's guarantees cost, on both databases, each against a baseline measured in
 * the same run:
 *
 *   - writes: a version's life (register, staging, candidate, promote: 4 registry writes, 6 rows,
 *     each with its signed audit record, aliases moved by compare-and-swap) against the bare
 *     database doing the same number of one-row write transactions (the lower bound: what the
 *     database's own commit costs); the ratio is what the audit chain, the checks and the
 *     serialization add;
 *   - audit verify: verifyAudit over every record (hash chain, ECDSA signatures, every table row
 *     against its record) against hashing the same records' bytes with sha256 alone;
 *   - canary: analyzeRollout of the demo's plan (4 steps, 60 simulated minutes) on telemetry of
 *     600 requests a minute, drawn with telemetryFromOutcomes: simulated seconds per wall second.
 *
 * PostgreSQL: $PADDOCK_BENCH_POSTGRES (a URL), else the tests' own instance
 * (test/helpers/postgres-service.ts starts Debian's PostgreSQL 15; as root, as user postgres).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRegistryDb, type RegistryDb } from '../src/registry/db.js';
import { Registry } from '../src/registry/registry.js';
import { verifyAudit } from '../src/registry/audit.js';
import { analyzeRollout } from '../src/registry/canary.js';
import { telemetryFromOutcomes } from '../src/registry/telemetry.js';
import { parseRolloutPlanValue } from '../src/schema/rollout.js';
import { REGISTRY_ENTRY_FORMAT, type RegistryEntryBody } from '../src/schema/registry.js';
import { canonicalJson } from '../src/files/canonical-json.js';
import { median, writeResults } from './common.js';

const VERSIONS = 60;
const ROUNDS = 3;

function body(n: number): RegistryEntryBody {
  return {
    format: REGISTRY_ENTRY_FORMAT,
    pack: { manifest_digest: createHash('sha256').update(`pack-${n}`).digest('hex'), files: [{ path: 'model.onnx', sha256: createHash('sha256').update(`onnx-${n}`).digest('hex'), bytes: 1_666_941 }] },
    serving_image_digest: null,
    commit: '0123456789abcdef0123456789abcdef01234567',
    dataset: { tag: 'golden-v1', content_digest: 'c'.repeat(64) },
    runs: { package: `r-${n}` },
    summary: { headline: { 'coco.AP': 0.4 }, slices: [{ slice: 'night', metric: 'coco.AP', value: 0.3, delta: 0.01 }], latency: [{ target: 'cpu', p50_ms: 10, p95_ms: 12, p99_ms: 15 }], targets: ['cpu'], precisions: ['fp32'], calibration_cache_version: null, gates: [] },
    absent: { serving_image_digest: 'bench', 'summary.calibration_cache_version': 'bench' },
  };
}

/** The version lives of VERSIONS versions on a fresh registry; ms per registry write. */
async function registryWrites(spec: string, keyFile: string): Promise<{ msPerWrite: number; registry: Registry }> {
  const reg = await Registry.open(spec, { auditKey: keyFile });
  const t0 = performance.now();
  let production: string | null = null;
  for (let i = 0; i < VERSIONS; i++) {
    const version = `1.${i}.0`;
    await reg.register({ model: 'bench', version, body: body(i), actor: 'bench' });
    const a = await reg.aliases('bench');
    await reg.transition({ model: 'bench', version, alias: 'staging', actor: 'bench', reason: 'bench', expect: a.staging });
    await reg.transition({ model: 'bench', version, alias: 'candidate', actor: 'bench', reason: 'bench', expect: a.candidate });
    await reg.promote({ model: 'bench', version, actor: 'bench', reason: 'bench', expect: production, record: {} });
    production = version;
  }
  return { msPerWrite: (performance.now() - t0) / (VERSIONS * 4), registry: reg };
}

/** The same number of bare one-row write transactions on a scratch table. */
async function bareWrites(db: RegistryDb): Promise<number> {
  await db.run('CREATE TABLE IF NOT EXISTS bench_bare (n BIGINT PRIMARY KEY, body TEXT NOT NULL)');
  const t0 = performance.now();
  for (let i = 0; i < VERSIONS * 4; i++) await db.write((tx) => tx.run('INSERT INTO bench_bare (n, body) VALUES (?, ?)', [i, canonicalJson(body(i))]));
  const ms = (performance.now() - t0) / (VERSIONS * 4);
  await db.run('DROP TABLE bench_bare');
  return ms;
}

async function one(kind: 'sqlite' | 'postgres', fresh: () => Promise<string>, dir: string) {
  const rounds: { write: number; bare: number; verify: number; hash: number; records: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const spec = await fresh();
    const key = join(dir, `audit-${kind}-${r}.pem`);
    const { msPerWrite, registry } = await registryWrites(spec, key);
    const bare = await bareWrites(registry.db);
    const keys = [{ keyId: registry.signer.keyId, publicPem: registry.signer.publicPem }];
    const t1 = performance.now();
    const v = await verifyAudit(registry.db, keys);
    const verify = performance.now() - t1;
    if (!v.ok) throw new Error(`the bench's own chain does not verify: ${v.problems.join('; ')}`);
    const rows = await registry.db.all<{ prev_hash: string; body: string; actor: string; action: string; subject: string }>('SELECT prev_hash, body, actor, action, subject FROM audit ORDER BY seq');
    const t2 = performance.now();
    for (const row of rows) createHash('sha256').update(`${row.prev_hash}\n${canonicalJson(row)}`).digest('hex');
    const hash = performance.now() - t2;
    rounds.push({ write: msPerWrite, bare, verify, hash, records: v.records });
    await registry.close();
  }
  const m = (k: keyof (typeof rounds)[number]) => median(rounds.map((x) => x[k]));
  return { kind, ms_per_registry_write: m('write'), ms_per_bare_write: m('bare'), write_ratio: m('write') / m('bare'), audit_records: m('records'), verify_ms: m('verify'), hash_only_ms: m('hash'), verify_ratio: m('verify') / m('hash'), verify_us_per_record: (m('verify') * 1000) / m('records') };
}

async function canary() {
  const plan = parseRolloutPlanValue({
    strategy: 'canary',
    steps: [{ weight: 1, bake: '10m' }, { weight: 5, bake: '10m' }, { weight: 25, bake: '20m' }, { weight: 100, bake: '20m' }],
    analysis: { semantics: 'argo', interval: '5m', failureLimit: 1, metrics: [{ name: 'latency.p95_ms', max: 100, breach_for: '3m' }, { name: 'error_rate', max: 0.05 }, { name: 'false_emergency_braking_rate', max: 0.2 }] },
  });
  const arm = (mu: number) => ({ latency: { kind: 'lognormal' as const, mu: Math.log(mu), sigma: 0.1 }, errorRate: 0.001, falseBrakingRate: 0.02, disagreementRate: 0.1 });
  const walls: number[] = [];
  let decision = '';
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const telemetry = telemetryFromOutcomes({ canary: arm(23), baseline: arm(15), minutes: 61, perMinute: 600, seed: r + 1 });
    decision = analyzeRollout(plan, telemetry).decision.action;
    walls.push(performance.now() - t0);
  }
  const wall = median(walls);
  return { simulated_s: 3600, requests: 61 * 600 * 2, wall_ms: wall, acceleration: 3600 / (wall / 1000), decision };
}

const dir = mkdtempSync(join(tmpdir(), 'paddock-bench-registry-'));
try {
  let n = 0;
  const sqlite = await one('sqlite', async () => join(dir, `registry-${n++}.db`), dir);
  let pgUrl = process.env.PADDOCK_BENCH_POSTGRES;
  let fresh: () => Promise<string>;
  if (pgUrl) {
    const url = pgUrl;
    fresh = async () => {
      const db = await openRegistryDb(url);
      for (const t of ['audit', 'promotions', 'waivers', 'approvals', 'aliases', 'transitions', 'entries', 'models', 'registry_migrations']) await db.run(`DROP TABLE IF EXISTS ${t} CASCADE`);
      await db.run('DROP FUNCTION IF EXISTS paddock_refuse_change() CASCADE');
      await db.close();
      return url;
    };
  } else {
    const { createTestDatabase } = await import('../test/helpers/postgres-service.js');
    fresh = () => createTestDatabase(`bench_registry_${process.pid}_${n++}`);
    pgUrl = 'the tests\' PostgreSQL 15 (test/helpers/postgres-service.ts)';
  }
  const postgres = await one('postgres', fresh, dir);
  const c = await canary();
  for (const r of [sqlite, postgres]) {
    console.log(`${r.kind.padEnd(8)} registry write ${r.ms_per_registry_write.toFixed(2)} ms (bare one-row transaction ${r.ms_per_bare_write.toFixed(2)} ms: x${r.write_ratio.toFixed(1)}); audit verify ${r.audit_records} records ${r.verify_ms.toFixed(0)} ms, ${r.verify_us_per_record.toFixed(0)} us a record (sha256 alone ${r.hash_only_ms.toFixed(1)} ms: x${r.verify_ratio.toFixed(0)})`);
  }
  console.log(`postgres / sqlite per registry write: x${(postgres.ms_per_registry_write / sqlite.ms_per_registry_write).toFixed(2)}`);
  console.log(`canary analysis: ${c.simulated_s / 60} simulated minutes (${c.requests} requests) in ${c.wall_ms.toFixed(0)} ms: ${Math.round(c.acceleration)}x real time (${c.decision})`);
  const file = writeResults('registry', { versions: VERSIONS, rounds: ROUNDS, postgres: pgUrl.startsWith('postgres') ? 'PADDOCK_BENCH_POSTGRES' : pgUrl, sqlite, postgres_figures: postgres, postgres_over_sqlite: postgres.ms_per_registry_write / sqlite.ms_per_registry_write, canary: c });
  console.log(`figures: ${file}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
