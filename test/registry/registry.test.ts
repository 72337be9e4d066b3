/**
 * The registry core (src/registry/registry.ts) on both databases: entries immutable in the store
 * itself (a direct UPDATE or DELETE refused by its triggers), semver order table-driven (1.2.0
 * after 1.10.0 refused; prerelease order as semver 2.0.0 §11 lists it), the stage order
 * (skipping staging refused; production only by promotion), alias history, promote tagging the
 * previous production as rollback, one-step rollback recorded, refusal messages word for word,
 * approvals, waivers and refused attempts stored; every test ends with the audit chain verified
 * (src/registry/audit.ts). Then entryFromReports on the files real steps write: a pack made by the
 * coverage, bench-variants and sign steps, an eval_report.json from the evaluate step and a
 * replay_report.json from the replay step, on a tiny world.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/files/canonical-json.js';
import { isInputError } from '../../src/files/input-error.js';
import { formatCalibrationCache } from '../../src/metrics/int8-calibration.js';
import { loadAuditSigner, verifyAudit, type AuditSigner } from '../../src/registry/audit.js';
import { REFUSED, type RegistryDb } from '../../src/registry/db.js';
import { EntrySourceError, entryFromReports } from '../../src/registry/entry-from-reports.js';
import { Registry, RegistryError } from '../../src/registry/registry.js';
import { compareVersions, greatestVersion, parseVersion, sortVersions, versionProblem } from '../../src/registry/semver.js';
import { REGISTRY_ENTRY_FORMAT, RegistryEntryBody } from '../../src/schema/registry.js';
import { FIXTURES, ROOT, tempDir } from '../helpers/fixtures.js';
import { TINY_WORLD_STATISTICS } from '../helpers/promote-fixtures.js';
import { forEachRegistryDb } from '../helpers/registry-dbs.js';

const MODEL = 'world-detector';
const T0 = Date.UTC(2026, 4, 1, 10, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

/** A minimal valid body; `n` makes bodies differ. */
function body(n = 1): RegistryEntryBody {
  return {
    format: REGISTRY_ENTRY_FORMAT,
    pack: { manifest_digest: 'a'.repeat(63) + String(n % 10), files: [{ path: 'model.onnx', sha256: 'b'.repeat(64), bytes: 1000 + n }] },
    serving_image_digest: null,
    commit: '0123456789abcdef0123456789abcdef01234567',
    dataset: { tag: 'golden-v1', content_digest: 'c'.repeat(64) },
    runs: { package: `run-${n}` },
    summary: { headline: { 'coco.AP': 0.4 + n / 100 }, slices: [{ slice: 'night', metric: 'coco.AP', value: 0.3, ci_lo: 0.25, ci_hi: 0.35, delta: -0.01 }], latency: [{ target: 'cpu', p50_ms: 10, p95_ms: 12, p99_ms: 15 }], targets: ['cpu'], precisions: ['fp32'], calibration_cache_version: null, gates: [{ id: 'equivalence-fp32', verdict: 'pass' }] },
    absent: { serving_image_digest: 'no Docker engine here', 'summary.calibration_cache_version': 'no INT8 variant' },
  };
}

/** The refusal `fn` ends in: a RegistryError (an input error: shown as it stands). */
async function refusal(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError);
    expect(isInputError(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a refusal, but it was accepted');
}

describe('semver (strict 2.0.0)', () => {
  it.each([
    ['v1.2.0', 'version "v1.2.0": a leading "v" is not part of a semantic version: write 1.2.0'],
    ['=1.2.0', 'version "=1.2.0": a leading "=" is not part of a semantic version: write 1.2.0'],
    [' 1.2.0', 'version " 1.2.0": it contains spaces'],
    ['1.2', 'version "1.2": "1.2" has 2 parts; a version is MAJOR.MINOR.PATCH, three numbers (1.2 is written 1.2.0)'],
    ['1.2.0.4', 'version "1.2.0.4": "1.2.0.4" has 4 parts; a version is MAJOR.MINOR.PATCH, three numbers (1.2 is written 1.2.0)'],
    ['01.2.0', 'version "01.2.0": MAJOR "01" has a leading zero (semver 2.0.0 §2)'],
    ['1.x.0', 'version "1.x.0": MINOR "x" is not a number'],
    ['1.2.0-', 'version "1.2.0-": the prerelease after "-" is empty'],
    ['1.2.0-rc..1', 'version "1.2.0-rc..1": the prerelease "rc..1" has an empty identifier (two dots in a row, or a dot at an end)'],
    ['1.2.0-01', 'version "1.2.0-01": the prerelease identifier "01" is a number with a leading zero (semver 2.0.0 §9)'],
    ['1.2.0-rc_1', 'version "1.2.0-rc_1": the prerelease identifier "rc_1" has characters other than 0-9, A-Z, a-z and "-"'],
    ['1.2.0+', 'version "1.2.0+": the build metadata after "+" is empty'],
    ['', 'version "": it is empty; expected MAJOR.MINOR.PATCH such as 1.2.0'],
    ['99999999999999999.0.0', `version "99999999999999999.0.0": MAJOR 99999999999999999 is larger than ${Number.MAX_SAFE_INTEGER}`],
  ])('%j is refused saying what is wrong', (text, message) => {
    expect(() => parseVersion(text)).toThrow(message);
  });

  it.each(['0.0.0', '1.2.3', '10.20.30', '1.0.0-alpha', '1.0.0-0.3.7', '1.0.0-x.7.z.92', '1.0.0-x-y-z.--', '1.0.0-alpha+001', '1.0.0+20130313144700', '1.0.0-beta+exp.sha.5114f85'])('%s is a version', (text) => {
    expect(versionProblem(text)).toBeUndefined();
  });

  it('orders by precedence as semver 2.0.0 §11 lists it; build metadata is ignored', () => {
    // The spec's own example chain (§11.4), shuffled.
    const spec = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
    expect(sortVersions([...spec].reverse())).toEqual(spec);
    expect(sortVersions(['1.10.0', '1.2.0', '1.9.1', '2.0.0-rc.1', '1.0.0'])).toEqual(['1.0.0', '1.2.0', '1.9.1', '1.10.0', '2.0.0-rc.1']);
    expect(compareVersions('1.0.0+a', '1.0.0+b')).toBe(0);
    expect(greatestVersion(['1.2.0', '1.10.0', '1.9.0'])).toBe('1.10.0');
  });
});

forEachRegistryDb((target) => {
  let keys: ReturnType<typeof tempDir>;
  let signer: AuditSigner;
  let db: RegistryDb;
  let reg: Registry;
  let clock: number;

  beforeAll(() => {
    keys = tempDir('paddock-registry-keys-');
    signer = loadAuditSigner(join(keys.dir, 'audit.pem'));
  });
  afterAll(() => keys.cleanup());
  beforeEach(async () => {
    db = await target.open();
    clock = T0;
    reg = Registry.over(db, signer, { now: () => (clock += 1000) });
  });

  /** The audit chain after the test's writes: valid, with one record per row. */
  async function chainValid(): Promise<number> {
    const v = await verifyAudit(db, [{ keyId: signer.keyId, publicPem: signer.publicPem }]);
    expect(v.problems).toEqual([]);
    return v.records;
  }

  /** Registers each version, and walks it through staging and candidate. */
  async function candidates(...versions: string[]) {
    for (const [i, v] of versions.entries()) {
      await reg.register({ model: MODEL, version: v, body: body(i), actor: 'alice@example.com' });
      await reg.transition({ model: MODEL, version: v, alias: 'staging', actor: 'alice@example.com', reason: `build ${v}` });
      await reg.transition({ model: MODEL, version: v, alias: 'candidate', actor: 'alice@example.com', reason: `evaluation of ${v} green` });
    }
  }

  describe('entries', () => {
    it('are stored with their body and digest, and the store refuses any UPDATE or DELETE of them', async () => {
      const e = await reg.register({ model: MODEL, version: '1.0.0', body: body(), actor: 'alice@example.com' });
      expect(e).toMatchObject({ model: MODEL, version: '1.0.0', created_by: 'alice@example.com', created_at: T0 + 1000, corrects: null, body: body() });
      expect(e.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(await reg.entry(MODEL, '1.0.0')).toEqual(e);
      expect(await reg.models()).toEqual([MODEL]);
      // Straight at the database, past the registry: the triggers refuse it.
      for (const sql of ["UPDATE entries SET body = '{}' WHERE version = '1.0.0'", "DELETE FROM entries WHERE version = '1.0.0'", "UPDATE models SET created_by = 'mallory' WHERE name = 'world-detector'", 'DELETE FROM audit']) {
        await expect(db.run(sql), sql).rejects.toThrow(REFUSED);
      }
      expect(await reg.entry(MODEL, '1.0.0')).toEqual(e);
      // The API has no update: registering the same version again is refused, naming the way to correct it.
      expect(await refusal(() => reg.register({ model: MODEL, version: '1.0.0', body: body(2), actor: 'alice@example.com' }))).toBe(
        'world-detector 1.0.0 is already registered, and an entry is never changed: register a correction as a new, greater version with corrects: 1.0.0',
      );
      expect(await chainValid()).toBe(2);
    });

    it('a correction is a new, greater version naming the one it corrects', async () => {
      await reg.register({ model: MODEL, version: '1.0.0', body: body(1), actor: 'alice@example.com' });
      const fix = await reg.register({ model: MODEL, version: '1.0.1', body: body(2), actor: 'alice@example.com', corrects: '1.0.0' });
      expect(fix.corrects).toBe('1.0.0');
      expect(await refusal(() => reg.register({ model: MODEL, version: '1.0.2', body: body(3), actor: 'alice@example.com', corrects: '0.9.0' }))).toBe('world-detector 1.0.2 corrects 0.9.0, which is not registered (registered: 1.0.0, 1.0.1)');
      expect((await reg.entries(MODEL)).map((x) => x.version)).toEqual(['1.0.0', '1.0.1']);
      await chainValid();
    });

    it('a body that does not meet its schema is refused, naming the field', async () => {
      const bad = body();
      bad.pack.files[0].sha256 = 'xyz';
      bad.serving_image_digest = null;
      delete (bad.absent as Record<string, string>).serving_image_digest;
      const m = await refusal(() => reg.register({ model: MODEL, version: '1.0.0', body: bad, actor: 'alice@example.com' }));
      expect(m).toContain('entry world-detector@1.0.0: its body does not meet paddock.registry_entry/1:');
      expect(m).toContain('body.pack.files[0].sha256: expected 64 lowercase hex digits');
      expect(m).toContain('body.absent.serving_image_digest: serving_image_digest is null, so absent must say why');
      expect(await refusal(() => reg.register({ model: 'world/detector', version: '1.0.0', body: body(), actor: 'alice@example.com' }))).toMatch(/^model name "world\/detector": expected letters/);
      expect(await refusal(() => reg.register({ model: MODEL, version: '1.0.0', body: body(), actor: ' ' }))).toBe('world-detector@1.0.0: an actor is required (who and why are part of every registry write)');
      expect(await reg.models()).toEqual([]);
    });

    // Each row: versions registered in order, and what the last one gets (null: accepted).
    it.each([
      { versions: ['1.10.0', '1.2.0'], refused: 'world-detector 1.2.0 is not greater than 1.10.0, the greatest version registered: a new version must be greater than every earlier one (semver 2.0.0 §11 precedence)' },
      { versions: ['1.2.0', '1.10.0'], refused: null },
      { versions: ['1.0.0-rc.1', '1.0.0'], refused: null },
      { versions: ['1.0.0', '1.0.0-rc.1'], refused: 'world-detector 1.0.0-rc.1 is not greater than 1.0.0, the greatest version registered: a new version must be greater than every earlier one (semver 2.0.0 §11 precedence)' },
      { versions: ['1.0.0-beta.11', '1.0.0-beta.2'], refused: 'world-detector 1.0.0-beta.2 is not greater than 1.0.0-beta.11, the greatest version registered: a new version must be greater than every earlier one (semver 2.0.0 §11 precedence)' },
      { versions: ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'], refused: null },
      { versions: ['1.0.0-alpha.beta', '1.0.0-alpha.1'], refused: 'world-detector 1.0.0-alpha.1 is not greater than 1.0.0-alpha.beta, the greatest version registered: a new version must be greater than every earlier one (semver 2.0.0 §11 precedence)' },
      { versions: ['2.0.0', '1.9.9'], refused: 'world-detector 1.9.9 is not greater than 2.0.0, the greatest version registered: a new version must be greater than every earlier one (semver 2.0.0 §11 precedence)' },
      { versions: ['1.0.0+build.1', '1.0.0+build.2'], refused: 'world-detector 1.0.0+build.2 has the precedence of 1.0.0+build.1, already registered (build metadata is ignored in ordering, semver 2.0.0 §10): give it a greater version' },
      { versions: ['v1.0.0'], refused: 'world-detector version "v1.0.0": a leading "v" is not part of a semantic version: write 1.0.0' },
      { versions: ['1.0'], refused: 'world-detector version "1.0": "1.0" has 2 parts; a version is MAJOR.MINOR.PATCH, three numbers (1.2 is written 1.2.0)' },
    ])('$versions: $refused', async ({ versions, refused }) => {
      for (const [i, v] of versions.slice(0, -1).entries()) await reg.register({ model: MODEL, version: v, body: body(i), actor: 'alice@example.com' });
      const last = () => reg.register({ model: MODEL, version: versions.at(-1)!, body: body(99), actor: 'alice@example.com' });
      if (refused === null) await last();
      else expect(await refusal(last)).toBe(refused);
      // What was accepted is there in semver order; the refused one is not.
      expect((await reg.entries(MODEL)).map((e) => e.version)).toEqual(refused === null ? versions : versions.slice(0, -1));
    });
  });

  describe('stages', () => {
    it('move only in the order staging -> candidate -> production, with a reason', async () => {
      await reg.register({ model: MODEL, version: '1.0.0', body: body(), actor: 'alice@example.com' });
      expect(await refusal(() => reg.transition({ model: MODEL, version: '1.0.0', alias: 'candidate', actor: 'alice@example.com', reason: 'looks good' }))).toBe(
        'world-detector 1.0.0 cannot go to candidate: it has never been at staging (the order is staging -> candidate -> production); move it to staging first',
      );
      expect(await refusal(() => reg.promote({ model: MODEL, version: '1.0.0', actor: 'alice@example.com', reason: 'ship it', expect: null, record: {} }))).toBe(
        'world-detector 1.0.0 cannot be promoted to production: it has never been candidate (the order is staging -> candidate -> production)',
      );
      expect(await refusal(() => reg.transition({ model: MODEL, version: '1.0.0', alias: 'production' as 'candidate', actor: 'alice@example.com', reason: 'x' }))).toBe(
        'world-detector: production moves only through a promotion (paddock promote), which also tags the previous production as rollback',
      );
      expect(await refusal(() => reg.transition({ model: MODEL, version: '1.0.0', alias: 'staging', actor: 'alice@example.com', reason: '' }))).toBe('world-detector/staging: a reason is required (who and why are part of every registry write)');
      expect(await refusal(() => reg.transition({ model: MODEL, version: '2.0.0', alias: 'staging', actor: 'alice@example.com', reason: 'x' }))).toBe('world-detector 2.0.0 is not registered (registered: 1.0.0)');
      await reg.transition({ model: MODEL, version: '1.0.0', alias: 'staging', actor: 'alice@example.com', reason: 'built' });
      expect(await refusal(() => reg.transition({ model: MODEL, version: '1.0.0', alias: 'staging', actor: 'alice@example.com', reason: 'again' }))).toBe('staging of world-detector is 1.0.0 already: nothing to move');
      // "Is or was": 1.0.0 left staging for 1.1.0 and may still go on to candidate.
      await reg.register({ model: MODEL, version: '1.1.0', body: body(2), actor: 'alice@example.com' });
      await reg.transition({ model: MODEL, version: '1.1.0', alias: 'staging', actor: 'alice@example.com', reason: 'built' });
      await reg.transition({ model: MODEL, version: '1.0.0', alias: 'candidate', actor: 'bob@example.com', reason: 'evaluation green' });
      expect(await reg.aliases(MODEL)).toEqual({ staging: '1.1.0', candidate: '1.0.0', production: null, rollback: null });
      await chainValid();
    });

    it('keep the full history of every alias: who pointed it at what, when, why', async () => {
      await candidates('1.0.0', '1.1.0');
      await reg.promote({ model: MODEL, version: '1.0.0', actor: 'carol@example.com', reason: 'canary green', expect: null, record: {} });
      const h = await reg.history(MODEL);
      expect(h.map((t) => [t.alias, t.from_version, t.to_version, t.action, t.actor, t.reason])).toEqual([
        ['staging', null, '1.0.0', 'assign', 'alice@example.com', 'build 1.0.0'],
        ['candidate', null, '1.0.0', 'assign', 'alice@example.com', 'evaluation of 1.0.0 green'],
        ['staging', '1.0.0', '1.1.0', 'assign', 'alice@example.com', 'build 1.1.0'],
        ['candidate', '1.0.0', '1.1.0', 'assign', 'alice@example.com', 'evaluation of 1.1.0 green'],
        ['production', null, '1.0.0', 'promote', 'carol@example.com', 'canary green'],
      ]);
      expect(h.map((t) => t.seq)).toEqual([1, 2, 3, 4, 5]);
      // The clock ticks once a write: entries at +1s, +4s; moves after them.
      expect(h.map((t) => t.at - T0)).toEqual([2000, 3000, 5000, 6000, 7000]);
      expect(h.every((t) => t.audit_seq > 0)).toBe(true);
      expect((await reg.history(MODEL, 'production')).map((t) => t.to_version)).toEqual(['1.0.0']);
      expect((await reg.history(MODEL, 'candidate')).map((t) => t.to_version)).toEqual(['1.0.0', '1.1.0']);
      await chainValid();
    });
  });

  describe('promote and roll back', () => {
    it('promoting moves production and tags the previous production as rollback, in one promotion', async () => {
      await candidates('1.0.0', '1.1.0');
      const first = await reg.promote({ model: MODEL, version: '1.0.0', actor: 'carol@example.com', reason: 'first release', expect: null, record: { approvals: ['a1'] } });
      expect(first.previous).toBeNull();
      expect(first.transitions).toHaveLength(1);
      expect(await reg.aliases(MODEL)).toMatchObject({ production: '1.0.0', rollback: null });
      const second = await reg.promote({ model: MODEL, version: '1.1.0', actor: 'carol@example.com', reason: 'canary green', expect: '1.0.0', record: { governance: { ok: true } } });
      expect(second.previous).toBe('1.0.0');
      expect(second.transitions.map((t) => [t.alias, t.from_version, t.to_version, t.action, t.promotion_id])).toEqual([
        ['production', '1.0.0', '1.1.0', 'promote', second.promotionId],
        ['rollback', null, '1.0.0', 'promote', second.promotionId],
      ]);
      expect(await reg.aliases(MODEL)).toEqual({ staging: '1.1.0', candidate: '1.1.0', production: '1.1.0', rollback: '1.0.0' });
      const promotions = await reg.promotions(MODEL);
      expect(promotions.map((p) => [p.id, p.version, p.status, p.record])).toEqual([
        [first.promotionId, '1.0.0', 'promoted', { reason: 'first release', approvals: ['a1'] }],
        [second.promotionId, '1.1.0', 'promoted', { reason: 'canary green', governance: { ok: true } }],
      ]);
      expect(await refusal(() => reg.promote({ model: MODEL, version: '1.1.0', actor: 'carol@example.com', reason: 'again', expect: '1.1.0', record: {} }))).toBe('production of world-detector is 1.1.0 already: nothing to move');
      await chainValid();
    });

    it('a promotion against a production that has moved is refused, naming who moved it, when and why', async () => {
      await candidates('1.0.0', '1.1.0', '1.2.0');
      await reg.promote({ model: MODEL, version: '1.0.0', actor: 'alice@example.com', reason: 'first release', expect: null, record: {} });
      const moved = await reg.promote({ model: MODEL, version: '1.2.0', actor: 'bob@example.com', reason: 'hotfix for night rain', expect: '1.0.0', record: {} });
      const at = moved.transitions[0].at;
      const before = await db.all('SELECT * FROM transitions ORDER BY seq');
      expect(await refusal(() => reg.promote({ model: MODEL, version: '1.1.0', actor: 'carol@example.com', reason: 'canary green', expect: '1.0.0', record: {} }))).toBe(
        `production of world-detector is 1.2.0 since ${iso(at)} (moved by bob@example.com: "hotfix for night rain"); you expected 1.0.0: refused`,
      );
      expect(await refusal(() => reg.promote({ model: MODEL, version: '1.1.0', actor: 'carol@example.com', reason: 'canary green', expect: null, record: {} }))).toBe(
        `production of world-detector is 1.2.0 since ${iso(at)} (moved by bob@example.com: "hotfix for night rain"); you expected it unset: refused`,
      );
      // Nothing of the refused attempts was written.
      expect(await db.all('SELECT * FROM transitions ORDER BY seq')).toEqual(before);
      expect(await reg.aliases(MODEL)).toMatchObject({ production: '1.2.0', rollback: '1.0.0' });
      // A transition with expect is a compare-and-swap too.
      expect(await refusal(() => reg.transition({ model: MODEL, version: '1.1.0', alias: 'staging', actor: 'dan@example.com', reason: 'retest', expect: '1.1.0' }))).toMatch(
        /^staging of world-detector is 1\.2\.0 since \S+ \(moved by alice@example\.com: "build 1\.2\.0"\); you expected 1\.1\.0: refused$/,
      );
      await chainValid();
    });

    it('rollback is one step back, recorded, and then there is nothing to roll back to', async () => {
      await candidates('1.0.0', '1.1.0');
      await reg.promote({ model: MODEL, version: '1.0.0', actor: 'alice@example.com', reason: 'first release', expect: null, record: {} });
      await reg.promote({ model: MODEL, version: '1.1.0', actor: 'alice@example.com', reason: 'canary green', expect: '1.0.0', record: {} });
      const r = await reg.rollback({ model: MODEL, actor: 'oncall@example.com', reason: 'false braking up 3x' });
      expect(r).toMatchObject({ from: '1.1.0', to: '1.0.0' });
      expect(await reg.aliases(MODEL)).toMatchObject({ production: '1.0.0', rollback: null });
      const last = (await reg.history(MODEL)).slice(-2);
      expect(last.map((t) => [t.alias, t.from_version, t.to_version, t.action, t.actor, t.promotion_id])).toEqual([
        ['production', '1.1.0', '1.0.0', 'rollback', 'oncall@example.com', r.promotionId],
        ['rollback', '1.0.0', null, 'clear', 'oncall@example.com', r.promotionId],
      ]);
      expect(last[0].reason).toBe('false braking up 3x');
      expect((await reg.promotions(MODEL, '1.1.0')).map((p) => [p.status, p.record])).toEqual([
        ['promoted', { reason: 'canary green' }],
        ['rolled-back', { reason: 'false braking up 3x', rolled_back_to: '1.0.0' }],
      ]);
      expect(await refusal(() => reg.rollback({ model: MODEL, actor: 'oncall@example.com', reason: 'again' }))).toBe(
        `world-detector has no rollback version (rollback was cleared ${iso(last[1].at)} by oncall@example.com: "rolled back to 1.0.0: false braking up 3x"): a rollback is one step, to the production the last promotion replaced; production is 1.0.0`,
      );
      // A promotion after a rollback tags the restored production as rollback again.
      await reg.promote({ model: MODEL, version: '1.1.0', actor: 'alice@example.com', reason: 'fixed threshold', expect: '1.0.0', record: {} });
      expect(await reg.aliases(MODEL)).toMatchObject({ production: '1.1.0', rollback: '1.0.0' });
      await chainValid();
    });

    it('rollback with nothing promoted is refused', async () => {
      await candidates('1.0.0');
      expect(await refusal(() => reg.rollback({ model: MODEL, actor: 'oncall@example.com', reason: 'x' }))).toBe('world-detector has no rollback version: a rollback is one step, to the production the last promotion replaced');
      expect(await refusal(() => reg.rollback({ model: 'nobody', actor: 'oncall@example.com', reason: 'x' }))).toBe(`no model nobody in the registry ${db.where}`);
    });
  });

  describe('approvals, waivers and refused attempts', () => {
    it('are stored with their audit records, for registered versions only', async () => {
      await candidates('1.0.0');
      const payload = canonicalJson({ model: MODEL, version: '1.0.0', stage: 'production', role: 'safety', decision: 'approved' });
      const a = await reg.recordApproval({ model: MODEL, version: '1.0.0', stage: 'production', role: 'safety', identity: 'bob@example.com', decision: 'approved', reason: 'sim suite green', at: T0, scheme: 'ssh', payload, signature: '-----BEGIN SSH SIGNATURE-----\nx\n-----END SSH SIGNATURE-----' });
      expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await reg.approvals(MODEL, '1.0.0', 'production')).toEqual([a]);
      expect(await reg.approvals(MODEL, '1.0.0', 'candidate')).toEqual([]);
      expect(await refusal(() => reg.recordApproval({ ...a, audit_seq: undefined, id: a.id } as never))).toMatch(/^approval of world-detector@1\.0\.0: \(the document\): Unrecognized key: "audit_seq"$/);
      expect(await refusal(() => reg.recordApproval({ id: a.id, model: MODEL, version: '1.0.0', stage: 'production', role: 'safety', identity: 'bob@example.com', decision: 'approved', reason: 'x', at: T0, scheme: 'ssh', payload, signature: 's' }))).toBe(`approval ${a.id} is already recorded, and an approval is never changed`);
      expect(await refusal(() => reg.recordApproval({ model: MODEL, version: '9.0.0', stage: 'production', role: 'safety', identity: 'bob@example.com', decision: 'approved', reason: 'x', at: T0, scheme: 'ssh', payload, signature: 's' }))).toBe('world-detector 9.0.0 is not registered (registered: 1.0.0)');
      const w = await reg.recordWaiver({ model: MODEL, finding: 'CVE-2025-0001', justification: 'not reachable from the serving path', approver: 'carol@example.com', expires_at: T0 + 86_400_000 });
      expect(await reg.waivers(MODEL)).toEqual([w]);
      expect(w).toMatchObject({ version: null, at: T0 + 5000 });
      const p = await reg.recordPromotion({ model: MODEL, version: '1.0.0', status: 'refused', actor: 'dan@example.com', record: { reason: 'governance failed', governance: { ok: false } } });
      expect((await reg.promotions(MODEL)).map((x) => [x.id, x.status, x.record])).toEqual([[p.promotionId, 'refused', { reason: 'governance failed', governance: { ok: false } }]]);
      expect(await refusal(() => reg.recordPromotion({ model: MODEL, version: '1.0.0', status: 'promoted' as 'refused', actor: 'dan@example.com', record: {} }))).toMatch(/recordPromotion stores refused or paused attempts/);
      // model + entry + 2 moves + approval + waiver + promotion.
      expect(await chainValid()).toBe(7);
    });
  });

  it('Registry.open opens and migrates the registry at a spec, with the audit key from its file', async () => {
    const spec = await target.fresh();
    const r = await Registry.open(spec, { auditKey: join(keys.dir, 'audit.pem') });
    try {
      expect(r.db.kind).toBe(target.kind);
      await r.register({ model: MODEL, version: '0.1.0', body: body(), actor: 'alice@example.com' });
      expect(r.signer.keyId).toBe(signer.keyId);
      const v = await verifyAudit(r.db, [signer]);
      expect(v).toMatchObject({ ok: true, records: 2 });
    } finally {
      await r.close();
    }
  });
});

describe('entryFromReports, on the files real steps write', () => {
  const STEP = join(ROOT, 'dist', 'step.js');
  const MODELS = join(FIXTURES, 'world', 'models');
  let tmp: ReturnType<typeof tempDir>;
  let pack: string;
  let evalReport: string;
  let replayReport: string;
  const step = (name: string, params: object) => execFileSync(process.execPath, [STEP, name, JSON.stringify(params)], { stdio: ['ignore', 'ignore', 'pipe'] });

  beforeAll(() => {
    tmp = tempDir('paddock-entry-');
    pack = join(tmp.dir, 'packs', MODEL, '1.0.0');
    mkdirSync(pack, { recursive: true });
    cpSync(join(MODELS, 'candidate', 'model.onnx'), join(pack, 'model.onnx'));
    step('coverage', { pack, model: join(pack, 'model.onnx'), targets: [{ name: 'cpu', backend: 'onnxruntime' }, { name: 'orin', backend: 'tensorrt', precision: 'fp16' }] });
    step('bench-variants', { pack, model: MODEL, variants: [{ name: 'fp32', model: join(pack, 'model.onnx') }], batches: [1], iterations: 20, warmup: 2 });
    step('sign', { pack, model: MODEL, version: '1.0.0', key: { file: join(tmp.dir, 'keys', 'publisher.pem'), generate: true }, lineage: { commit: '0123456789abcdef0123456789abcdef01234567', dataset: 'golden-v1' } });
    step('world-build', { out: join(tmp.dir, 'world'), size: 'tiny' });
    step('evaluate', { candidate: { name: 'candidate', model: join(MODELS, 'candidate') }, baseline: { name: 'production', model: join(MODELS, 'production') }, manifest: join(tmp.dir, 'world', 'manifests', 'golden_train.jsonl'), slices: join(FIXTURES, 'world', 'slices.yaml'), replicates: 50, statistics: TINY_WORLD_STATISTICS, out: join(tmp.dir, 'eval') });
    step('replay', { candidate: { name: 'candidate', model: join(MODELS, 'candidate') }, bundles: [join(tmp.dir, 'world', 'manifests', 'replay_drives.json')], timing: 'fast', out: join(tmp.dir, 'replay') });
    evalReport = join(tmp.dir, 'eval', 'eval_report.json');
    replayReport = join(tmp.dir, 'replay', 'replay_report.json');
  }, 120_000);
  afterAll(() => tmp?.cleanup());

  it('points at the pack by digest and copies the summary from the reports', () => {
    const b = entryFromReports({ pack, evalReport, replayReport, runs: { package: 'r-pkg', evaluate: 'r-eval', replay: 'r-replay' }, gates: [{ id: 'every-slice-vs-production', verdict: 'pass', stage: 'evaluate' }], published: { bucket: 'paddock-packs', prefix: 'world-detector/1.0.0/' } });
    expect(RegistryEntryBody.parse(b)).toEqual(b);
    const report = JSON.parse(readFileSync(join(pack, 'export_report.json'), 'utf8'));
    expect(b.pack.manifest_digest).toBe(execFileSync('sha256sum', [join(pack, 'export_report.json')], { encoding: 'utf8' }).split(' ')[0]);
    expect(b.pack.files).toEqual(report.files.map((f: { path: string; sha256: string; bytes: number }) => ({ path: f.path, sha256: f.sha256, bytes: f.bytes, s3_uri: `s3://paddock-packs/world-detector/1.0.0/${f.path}` })));
    expect(b.commit).toBe('0123456789abcdef0123456789abcdef01234567');
    expect(b.dataset.tag).toBe('golden-v1');
    expect(b.dataset.content_digest).toBe(execFileSync('sha256sum', [join(tmp.dir, 'world', 'manifests', 'golden_train.jsonl')], { encoding: 'utf8' }).split(' ')[0]);
    expect(b.runs).toEqual({ package: 'r-pkg', evaluate: 'r-eval', replay: 'r-replay' });
    expect(b.absent['runs.sim']).toBe('no sim run id was given');
    // Headline and slices are the evaluate step's, as its report has them.
    const ev = JSON.parse(readFileSync(evalReport, 'utf8'));
    expect(b.summary.headline['coco.AP']).toBe(ev.models.candidate.stats.AP);
    expect(b.summary.headline['coco.AP.delta']).toBeCloseTo(ev.models.candidate.stats.AP - ev.models.production.stats.AP, 12);
    const all = ev.slices.find((s: { slice: string }) => s.slice === 'all');
    expect(b.summary.slices.find((s) => s.slice === 'all')).toEqual({ slice: 'all', metric: 'coco.AP', value: all.ap.estimate, ci_lo: all.ap.lo, ci_hi: all.ap.hi, delta: all.delta.estimate, critical: all.critical });
    expect(b.summary.slices.length + Object.keys(b.absent).filter((k) => k.startsWith('summary.slices.')).length).toBe(ev.slices.length);
    // Latency from the bench step, exact percentiles.
    expect(b.summary.latency).toEqual(report.benchmarks.onnxruntime.map((r: { target: string; p50_ms: number; p95_ms: number; p99_ms: number }) => ({ target: r.target, p50_ms: r.p50_ms, p95_ms: r.p95_ms, p99_ms: r.p99_ms, source: 'bench (onnxruntime)' })));
    expect(b.summary.latency.map((l) => l.target)).toEqual(['world-detector/fp32/b1']);
    expect(b.summary.targets).toEqual(['cpu', 'orin']);
    expect(b.summary.precisions).toEqual(['fp32']);
    expect(b.summary.calibration_cache_version).toBeNull();
    expect(b.absent['summary.calibration_cache_version']).toBe('the pack has no INT8 variant, so no calibration cache');
    const rep = JSON.parse(readFileSync(replayReport, 'utf8'));
    expect(b.summary.replay?.IDSW).toBe(rep.overall.candidate.IDSW);
    expect(b.summary.replay?.HOTA).toBe(rep.overall.candidate.HOTA);
    expect(b.summary.gates).toEqual([{ id: 'every-slice-vs-production', verdict: 'pass', stage: 'evaluate' }]);
    // No sbom step ran: the serving image is not known, and the body says why.
    expect(b.serving_image_digest).toBeNull();
    expect(b.absent.serving_image_digest).toBe('the pack has no scans (its sbom step did not run), so which serving image it was checked with is not known');
  });

  it('says what is absent when optional inputs are not given', () => {
    const b = entryFromReports({ pack, reasons: { 'summary.replay': 'the recipe has no replay stage' } });
    expect(b.summary.headline).toEqual({});
    expect(b.summary.slices).toEqual([]);
    expect(b.summary.replay).toBeUndefined();
    expect(b.dataset.content_digest).toBeNull();
    expect(b.absent).toMatchObject({
      'summary.headline': 'no eval_report.json was given (the evaluate stage has not run for this version)',
      'summary.replay': 'the recipe has no replay stage',
      'dataset.content_digest': "no dataset manifest was given, and no eval_report.json to take the evaluated split's from",
      'pack.files.s3_uri': 'the pack was not published to S3 (or where was not given): no S3 URIs',
      'runs.package': 'no package run id was given',
    });
    expect(b.pack.files.every((f) => f.s3_uri === undefined)).toBe(true);
  });

  it('reads the serving image from the image-sbom scan and the calibration cache header from the pack', () => {
    // No Docker engine or INT8 variant in this test: the two parts of a report the sbom and
    // variants steps write are added to a copy, in the shapes those steps give them.
    const copy = join(tmp.dir, 'with-image');
    cpSync(pack, copy, { recursive: true });
    const cache = formatCalibrationCache([{ name: 'images', scale: 0.0123 }], 'entropy');
    writeFileSync(join(copy, 'calibration.cache'), cache);
    const report = JSON.parse(readFileSync(join(copy, 'export_report.json'), 'utf8'));
    const id = `sha256:${'d'.repeat(64)}`;
    const scan = { status: 'ran', reason: null, tool: 'trivy', version: '0.58.0', findings: 12, file: 'scans/image.cdx.json' };
    report.files.push({ path: 'calibration.cache', sha256: 'e'.repeat(64), bytes: cache.length, role: 'calibration-cache', produced_by: 'variants' });
    report.scans = { 'image-sbom': { ...scan, target: { image: 'paddock-step:0.1.0', id, repo_digests: [`registry.example.com/paddock-step@sha256:${'f'.repeat(64)}`] } } };
    writeFileSync(join(copy, 'export_report.json'), JSON.stringify(report));
    const b = entryFromReports({ pack: copy });
    expect(b.serving_image_digest).toBe(`registry.example.com/paddock-step@sha256:${'f'.repeat(64)}`);
    expect(b.summary.calibration_cache_version).toBe('TRT-8601-EntropyCalibration2');
    // A local image (never pushed) has no repo digest: its id is the digest.
    report.scans['image-sbom'].target.repo_digests = [];
    writeFileSync(join(copy, 'export_report.json'), JSON.stringify(report));
    expect(entryFromReports({ pack: copy }).serving_image_digest).toBe(id);
    report.scans['image-sbom'] = { ...scan, status: 'not-run', reason: 'no Docker engine at /var/run/docker.sock', findings: null, file: null };
    writeFileSync(join(copy, 'export_report.json'), JSON.stringify(report));
    const none = entryFromReports({ pack: copy });
    expect(none.serving_image_digest).toBeNull();
    expect(none.absent.serving_image_digest).toBe('the image-sbom scan did not run: no Docker engine at /var/run/docker.sock');
  });

  it('refuses malformed inputs with located errors', () => {
    const bad = join(tmp.dir, 'bad');
    mkdirSync(bad, { recursive: true });
    const ev = JSON.parse(readFileSync(evalReport, 'utf8'));
    ev.slices[1].ap.lo = '0.2';
    writeFileSync(join(bad, 'eval_report.json'), JSON.stringify(ev));
    expect(() => entryFromReports({ pack, evalReport: join(bad, 'eval_report.json') })).toThrow(`${join(bad, 'eval_report.json')}: slices[1].ap.lo: Invalid input: expected number, received string`);
    writeFileSync(join(bad, 'replay_report.json'), '{"version": 1,');
    expect(() => entryFromReports({ pack, replayReport: join(bad, 'replay_report.json') })).toThrow(new RegExp(`^${join(bad, 'replay_report.json')}: not JSON \\(`));
    expect(() => entryFromReports({ pack, evalReport: join(bad, 'missing.json') })).toThrow(`${join(bad, 'missing.json')}: cannot be read (ENOENT)`);
    // A pack whose report was edited (a field of the wrong type) and one that is not signed.
    const edited = join(tmp.dir, 'edited');
    cpSync(pack, edited, { recursive: true });
    const report = JSON.parse(readFileSync(join(edited, 'export_report.json'), 'utf8'));
    report.variants[0].opset = '17';
    writeFileSync(join(edited, 'export_report.json'), JSON.stringify(report));
    expect(() => entryFromReports({ pack: edited })).toThrow(`${join(edited, 'export_report.json')}: variants[0].opset: expected integer, got "17"`);
    rmSync(join(edited, 'export_report.json.sig'));
    expect(() => entryFromReports({ pack: edited })).toThrow(`${edited}: the pack is not signed (no export_report.json.sig): run the package stage's sign step before registering it`);
    let caught: unknown;
    try {
      entryFromReports({ pack: bad });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EntrySourceError);
    expect((caught as Error).message).toBe(`${bad}: not a pack: it has no export_report.json (the package stage's sign step writes it)`);
  });
});
