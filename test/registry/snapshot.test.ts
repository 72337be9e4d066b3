/**
 * loadRegistrySnapshot (src/registry/snapshot.ts) on a real SQLite registry
 * (test/fixtures/registry/screen-registry.ts: entries, transitions, promotions and rollback
 * written through the registry, approvals signed with ssh-keygen and P-256 keys, canaries
 * analysed on telemetry replay): versions newest first with their aliases, every alias move,
 * the candidate's approvals judged under the policy (and listed without one), the latest
 * attempt's governance and canary, and records of other shapes named rather than crashing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveEntry } from '../../src/registry/approve.js';
import { defaultRegistrySpec, loadRegistrySnapshot, type ModelSnapshot, type RegistrySnapshot } from '../../src/registry/snapshot.js';
import { MODEL, buildScreenRegistry, type ScreenRegistry } from '../fixtures/registry/screen-registry.js';

let fx: ScreenRegistry;
let snap: RegistrySnapshot;
const model = (s: RegistrySnapshot, name: string): ModelSnapshot => s.models.find((m) => m.name === name)!;

beforeAll(async () => {
  fx = await buildScreenRegistry();
  snap = await loadRegistrySnapshot(fx.registry, { policy: fx.policy, now: Date.now() });
});
afterAll(() => fx?.cleanup());

describe('loadRegistrySnapshot', () => {
  it('lists every model, each version newest first with the aliases that point at it', () => {
    expect(snap.where).toContain(fx.spec);
    expect(snap.models.map((m) => m.name)).toEqual(['lane-detector', 'tolerant', MODEL]);
    const w = model(snap, MODEL);
    expect(w.aliases).toEqual({ staging: '1.2.0', candidate: '1.2.0', production: '1.1.0', rollback: '1.0.0' });
    expect(w.versions.map((v) => [v.version, v.aliases])).toEqual([
      ['1.2.0', ['staging', 'candidate']],
      ['1.1.0', ['production']],
      ['1.0.0', ['rollback']],
    ]);
    const v = w.versions[0];
    expect(v.created_by).toBe('ci@example.com');
    expect(v.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(v.digest_short).toBe(v.digest.slice(0, 12));
    expect(v.manifest_short).toBe('2'.repeat(12));
    expect(v.headline).toEqual([
      { name: 'coco.AP', value: 0.42 },
      { name: 'coco.AP50', value: 0.62 },
    ]);
  });

  it('keeps the history of every alias: who moved it to what, when and why, oldest first', async () => {
    const w = model(snap, MODEL);
    expect(w.history.map((h) => `${h.alias} ${h.from ?? '-'}->${h.to ?? '-'} ${h.action} ${h.actor}: ${h.reason}`)).toEqual([
      'staging -->1.0.0 assign ci@example.com: 1.0.0 packaged and evaluated',
      'candidate -->1.0.0 assign alice@example.com: 1.0.0 is the next release',
      'production -->1.0.0 promote alice@example.com: first release',
      'staging 1.0.0->1.1.0 assign ci@example.com: 1.1.0 packaged and evaluated',
      'candidate 1.0.0->1.1.0 assign alice@example.com: 1.1.0 is the next release',
      'production 1.0.0->1.1.0 promote alice@example.com: canary green',
      'rollback -->1.0.0 promote alice@example.com: the production before 1.1.0: canary green',
      'staging 1.1.0->1.2.0 assign ci@example.com: 1.2.0 packaged and evaluated',
      'candidate 1.1.0->1.2.0 assign alice@example.com: 1.2.0 is the next release',
    ]);
    expect(w.history.every((h, i) => i === 0 || h.seq > w.history[i - 1].seq)).toBe(true);
    expect(w.history[5].promotion_id).toMatch(/^[0-9a-f-]{36}$/);
    const lane = model(snap, 'lane-detector');
    expect(lane.history.slice(-2).map((h) => `${h.alias} ${h.action} ${h.to ?? 'cleared'} by ${h.actor}`)).toEqual(['production rollback 1.0.0 by dan@example.com', 'rollback clear cleared by dan@example.com']);
  });

  it("judges the candidate's production approvals under the policy: who approved, what is missing", () => {
    const p = model(snap, MODEL).pending!;
    expect(p.version).toBe('1.2.0');
    expect(p.digest).toBe(model(snap, MODEL).versions[0].digest);
    expect(p.decisions.map((d) => `${d.role} ${d.decision} ${d.identity} (${d.scheme}): ${d.reason}`)).toEqual(['technical approved alice@example.com (ssh): metrics and slices hold', 'security approved carol@example.com (ssh): scans reviewed']);
    expect(p.status).toMatchObject({ satisfied: false, required: ['technical', 'safety', 'security', 'product'], missing: ['safety', 'product'], rejectedBy: [], problems: [] });
    expect(p.status!.approvedBy.map((a) => `${a.role} ${a.identity}`)).toEqual(['technical alice@example.com', 'security carol@example.com']);
    expect(snap.policy).toEqual({ file: fx.approvers.policyFile, roles: fx.policy.roles });
    // A production that is also the candidate waits for nothing; a candidate rolled away from does.
    expect(model(snap, 'tolerant').pending).toBeUndefined();
    expect(model(snap, 'lane-detector').pending).toMatchObject({ version: '1.1.0', decisions: [], status: { missing: ['technical', 'safety', 'security', 'product'] } });
  });

  it('takes a rejection and a new approval at the next read; without a policy it lists the decisions only', async () => {
    await approveEntry(fx.registry, fx.policy, { model: MODEL, version: '1.2.0', stage: 'production', role: 'product', identity: 'dan@example.com', decision: 'rejected', reason: 'the release notes are missing', scheme: 'ecdsa', keyFile: fx.approvers.ecdsa.dan });
    await approveEntry(fx.registry, fx.policy, { model: MODEL, version: '1.2.0', stage: 'production', role: 'safety', identity: 'bob@example.com', decision: 'approved', reason: 'braking proxies hold', scheme: 'ecdsa', keyFile: fx.approvers.ecdsa.bob });
    const again = await loadRegistrySnapshot(fx.registry, { policy: fx.policy, now: Date.now() });
    const s = model(again, MODEL).pending!.status!;
    expect(s.missing).toEqual(['product']);
    expect(s.rejectedBy).toMatchObject([{ role: 'product', identity: 'dan@example.com', reason: 'the release notes are missing' }]);
    expect(s.satisfied).toBe(false);
    const bare = await loadRegistrySnapshot(fx.registry, { now: Date.now() });
    expect(bare.policy).toBeUndefined();
    expect(model(bare, MODEL).pending!.status).toBeUndefined();
    expect(model(bare, MODEL).pending!.decisions.map((d) => `${d.role} ${d.decision}`)).toEqual(['technical approved', 'security approved', 'product rejected', 'safety approved']);
  });

  it("shows the latest attempt's governance checks and canary analysis as recorded", () => {
    const pr = model(snap, MODEL).promotion!;
    expect(pr).toMatchObject({ version: '1.2.0', status: 'refused', actor: 'alice@example.com', reason: 'governance failed', unreadable: [] });
    expect(pr.governance!.ok).toBe(false);
    expect(pr.governance!.checks.map((c) => `${c.id} ${c.status}`)).toEqual(['signature pass', 'digests pass', 'sbom pass', 'vulnerabilities fail', 'licenses waived', 'gates pass', 'consumption skipped']);
    const c = pr.canary!;
    const ran = fx.refusedCanary;
    // The decision as canary.ts took it: Argo, the p95 breach after the injected slowdown at minute 12.
    expect(ran.decision).toMatchObject({ action: 'rollback', step: 2, weight: 50, at_s: 780 });
    expect(c.decision).toEqual({ action: ran.decision.action, step: 2, weight: 50, at_s: 780, at: '13m', reason: ran.decision.reason });
    expect(c.semantics).toBe('argo');
    expect(c.strategy).toBe('canary');
    expect(c.steps.map((s) => `${s.index} ${s.weight}% ${s.decision}`)).toEqual(['0 5% continue', '1 25% continue', '2 50% rollback']);
    expect(c.series.map((s) => [s.name, s.bound])).toEqual([
      ['latency.p95_ms', { max: 12 }],
      ['error_rate', { max: 0.02 }],
    ]);
    const p95 = c.series[0].points;
    expect(p95.map((p) => p.t_s)).toEqual(ran.timeline.map((t) => t.t_s));
    expect(p95.map((p) => p.value)).toEqual(ran.timeline.map((t) => t.metrics[0].value));
    expect(p95.at(-1)).toMatchObject({ step: 2, weight: 50, status: 'failed' });
    expect(p95.at(-1)!.value!).toBeGreaterThan(12);
    expect(p95.slice(0, -1).every((p) => p.value! < 12 && p.status === 'successful')).toBe(true);
  });

  it('passes over a rollback for the latest attempt, and names record parts of other shapes', () => {
    const lane = model(snap, 'lane-detector').promotion!;
    expect(lane).toMatchObject({ version: '1.1.0', status: 'promoted', unreadable: [] });
    expect(lane.governance!.ok).toBe(true);
    expect(lane.canary).toBeUndefined();
    const t = model(snap, 'tolerant').promotion!;
    expect(t.governance).toEqual({ ok: true, checks: [{ id: 'gates', status: 'pass', detail: 'green' }] });
    expect(t.canary).toBeUndefined();
    expect(t.unreadable).toEqual(['governance.checks[0]: expected { id, status: pass|fail|waived|skipped, detail }', 'canary: expected the analysis of src/registry/canary.ts (decision, steps, timeline)']);
  });

  it('names <home>/registry.db as the default registry', () => {
    expect(defaultRegistrySpec('/srv/paddock')).toBe('/srv/paddock/registry.db');
  });
});
