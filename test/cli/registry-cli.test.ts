/**
 * The registry's command line through the real binary (dist/paddock.js) on both databases: a
 * SQLite registry in a temporary home and a database of its own on the tests' real PostgreSQL
 * (reached with the password in PGPASSWORD, not in the URL, as a team would). The registry is
 * filled with the Registry class from entries made by entryFromReports on real signed packs (the
 * sbom and sign steps, dist/step.js), and every approval is signed for real: SSH keys by
 * ssh-keygen, PEM keys by node:crypto (test/fixtures/registry/approvers.ts).
 *
 * One story per database, in order: list / show / history; waivers (one accepted, a past date
 * refused, a malformed one a usage error); a promotion refused for want of approvals and recorded
 * as refused; approvals by SSH (ed25519 and ecdsa) and by ECDSA PEM, a key that is not the
 * identity's refused; the promotion with the checks run on the pack, then one with a governance
 * report; a governance report of another version refused, a stale --expect refused; one-step
 * rollback (with a real webhook receiving the signed rolled_back event), a second refused; audit
 * verify passing with the policy's keys and with the local key (said so), the canned query; then
 * tampering (a trigger dropped and a row updated; the tail cut) named, exit 1.
 */
import { createHmac } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveEntry } from '../../src/registry/approve.js';
import { entryFromReports } from '../../src/registry/entry-from-reports.js';
import { runGovernance } from '../../src/registry/governance.js';
import { loadPolicy, type RegistryPolicy } from '../../src/registry/policy.js';
import { Registry } from '../../src/registry/registry.js';
import { resolveRegistry } from '../../src/steps/promote/registry-common.js';
import type { Role } from '../../src/schema/registry-policy.js';
import type { RegistryEntryBody } from '../../src/schema/registry.js';
import { makeApprovers, type Approvers } from '../fixtures/registry/approvers.js';
import { paddock, type CliResult } from '../helpers/cli.js';
import { MODEL_V1, ROOT, tempDir } from '../helpers/fixtures.js';
import { forEachRegistryDb } from '../helpers/registry-dbs.js';

const STEP = join(ROOT, 'dist', 'step.js');
const MODEL = 'world-detector';
const VERSIONS = ['1.0.0', '1.1.0', '1.2.0'] as const;
/** Output with its wrapping undone (every run of whitespace one space): messages are wrapped at 80 columns wherever their words fall. */
const flat = (text: string) => text.replace(/\s+/g, ' ');
const installed = (name: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

let tmp: ReturnType<typeof tempDir>;
let approvers: Approvers;
let policy: RegistryPolicy;
/** A signed pack per version, and the entry body made from it. */
const packs: Record<string, string> = {};
const bodies: Record<string, RegistryEntryBody> = {};

const step = (name: string, params: object, env: Record<string, string> = {}) => execa(process.execPath, [STEP, name, JSON.stringify(params)], { env: { PADDOCK_TRUSTED_KEYS: '', ...env }, reject: false });

beforeAll(async () => {
  tmp = tempDir('paddock-registry-cli-');
  approvers = makeApprovers();
  policy = loadPolicy(approvers.policyFile);
  // One HIGH advisory (written for this test, not a real one) against the yaml package as
  // installed: the pack's vulnerability scan finds it, and governance blocks until it is waived.
  const osv = join(tmp.dir, 'osv');
  mkdirSync(osv);
  writeFileSync(
    join(osv, 'advisories.json'),
    JSON.stringify([{ schema_version: '1.6.0', id: 'CLI-TEST-HIGH', modified: '2026-01-15T00:00:00Z', aliases: [], summary: 'test advisory for the registry CLI tests (not a real vulnerability)', affected: [{ package: { ecosystem: 'npm', name: 'yaml' }, versions: [installed('yaml')] }], database_specific: { severity: 'HIGH' } }]),
  );
  const unsigned = join(tmp.dir, 'unsigned');
  mkdirSync(join(unsigned, 'reports'), { recursive: true });
  cpSync(MODEL_V1, join(unsigned, 'model.onnx'));
  writeFileSync(join(unsigned, 'reports', 'stage.json'), JSON.stringify({ step: 'stage', status: 'succeeded' }));
  const sbom = await step('sbom', { pack: unsigned, model: MODEL, version: '1.0.0', docker_socket: '/nonexistent/docker.sock', cache_dir: join(tmp.dir, 'cache'), vulnerability_db: osv });
  expect(sbom.exitCode, sbom.stderr).toBe(0);
  const publisherKey = readFileSync(join(approvers.dir, 'keys', 'publisher.pem'), 'utf8');
  for (const v of VERSIONS) {
    packs[v] = join(tmp.dir, 'packs', v);
    cpSync(unsigned, packs[v], { recursive: true });
    const signed = await step('sign', { pack: packs[v], model: MODEL, version: v, key: { env: 'CLI_TEST_KEY' } }, { CLI_TEST_KEY: publisherKey });
    expect(signed.exitCode, signed.stderr).toBe(0);
    bodies[v] = entryFromReports({ pack: packs[v], runs: { package: `r-pkg-${v}` }, gates: [{ id: 'every-slice-vs-production', verdict: 'pass', stage: 'evaluate' }], reasons: { 'summary.replay': 'no replay stage in this test' } });
  }
}, 240_000);

afterAll(() => {
  approvers?.cleanup();
  tmp?.cleanup();
});

/** A receiver of webhooks: every request's headers and body. */
async function webhookReceiver(): Promise<{ url: string; got: { headers: IncomingMessage['headers']; body: string }[]; close: () => Promise<void> }> {
  const got: { headers: IncomingMessage['headers']; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, close: () => new Promise((r) => server.close(() => r())) };
}

forEachRegistryDb((target) => {
  let home: string;
  /** The --registry value: a file, or a URL without its password. */
  let spec: string;
  let env: Record<string, string>;
  let auditKey: string;

  /** The command on this registry; what it prints for people fits an 80-column terminal, every line. */
  const cli = async (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => {
    const r = await paddock([...args, '--registry', spec], { ...env, ...extra }, home);
    if (!args.includes('--json')) for (const l of r.stdout.split('\n')) expect(l.length, `paddock ${args.join(' ')}: ${l}`).toBeLessThanOrEqual(80);
    return r;
  };
  const withRegistry = async <T>(fn: (r: Registry) => Promise<T>): Promise<T> => {
    const r = await Registry.open(target.kind === 'postgres' ? fullUrl : spec, { auditKey });
    try {
      return await fn(r);
    } finally {
      await r.close();
    }
  };
  let fullUrl = '';
  /** Approvals signed and recorded as the CLI does (approveEntry), for versions whose CLI approvals are tested elsewhere. */
  const approveAll = (version: string) =>
    withRegistry(async (r) => {
      const who: [Role, string, 'ssh' | 'ecdsa', string][] = [
        ['technical', 'alice@example.com', 'ssh', approvers.ssh.alice],
        ['safety', 'bob@example.com', 'ecdsa', approvers.ecdsa.bob],
        ['security', 'carol@example.com', 'ssh', approvers.ssh.carol],
        ['product', 'dan@example.com', 'ecdsa', approvers.ecdsa.dan],
      ];
      for (const [role, identity, scheme, keyFile] of who) await approveEntry(r, policy, { model: MODEL, version, stage: 'production', role, identity, decision: 'approved', reason: `${role} review of ${version} done`, scheme, keyFile });
    });
  /** A governance report as the pipeline's governance step writes it: runGovernance's result with the pack and policy beside it. */
  const governanceReport = async (version: string): Promise<string> => {
    const waivers = await withRegistry((r) => r.waivers(MODEL));
    const result = await runGovernance({
      packDir: packs[version],
      trustedKeys: policy.publishers,
      requireSbom: policy.governance.require_sbom,
      scans: { failOn: policy.governance.scans.fail_on, denyLicenses: policy.governance.licenses.deny },
      waivers: waivers.map((w) => ({ ...w })),
      gates: { required: policy.governance.gates, verdicts: [{ gate: 'every-slice-vs-production', verdict: 'pass', rationale: '["every slice within its bound"]' }], approvals: [] },
      consumption: policy.consumption,
      now: Date.now(),
    });
    expect(result.ok, JSON.stringify(result.checks)).toBe(true);
    const file = join(home, `governance-${version}.json`);
    writeFileSync(file, JSON.stringify({ ...result, policy: policy.file, pack: packs[version], run: null }, null, 2));
    return file;
  };

  beforeAll(async () => {
    const dirs = tempDir('paddock-registry-cli-home-');
    home = dirs.dir;
    auditKey = join(home, 'keys', 'registry-audit.pem');
    // The registry's audit key is the one the policy's audit_keys names (keys/registry.pub.pem).
    mkdirSync(join(home, 'keys'));
    cpSync(approvers.registryKey, auditKey);
    const fresh = await target.fresh();
    env = { PADDOCK_HOME: home, HOME: home, USER: 'ops@example.com', GIT_CONFIG_NOSYSTEM: '1' };
    if (target.kind === 'postgres') {
      fullUrl = fresh;
      const u = new URL(fresh);
      env.PGPASSWORD = decodeURIComponent(u.password);
      u.password = '';
      spec = u.toString();
    } else spec = fresh;
    await withRegistry(async (r) => {
      for (const v of VERSIONS) {
        await r.register({ model: MODEL, version: v, body: bodies[v], actor: 'ci@example.com' });
        await r.transition({ model: MODEL, version: v, alias: 'staging', actor: 'ci@example.com', reason: `registered by run r-pkg-${v}` });
        await r.transition({ model: MODEL, version: v, alias: 'candidate', actor: 'alice@example.com', reason: `${v}: evaluation gates green` });
      }
    });
    return () => rmSync(home, { recursive: true, force: true });
  }, 120_000);

  it('registry list: the model, its version count and where each alias points', async () => {
    const r = await cli(['registry', 'list']);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('MODEL '));
    expect(lines[at]).toMatch(/^MODEL\s+VERSIONS\s+LATEST\s+STAGING\s+CANDIDATE\s+PRODUCTION\s+ROLLBACK$/);
    expect(lines[at + 1]).toMatch(/^world-detector\s+3\s+1\.2\.0\s+1\.2\.0\s+1\.2\.0\s+-\s+-$/);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
    const j = JSON.parse((await cli(['registry', 'list', '--json'])).stdout);
    expect(j.models).toEqual([{ model: MODEL, versions: 3, latest: '1.2.0', aliases: { staging: '1.2.0', candidate: '1.2.0', production: null, rollback: null } }]);
    // The password came from PGPASSWORD and stays out of what is printed.
    if (target.kind === 'postgres') expect(j.registry).toBe(spec);
  });

  it('registry show: the versions newest first; one entry with its pointers and digests; bad names exit 2', async () => {
    const all = await cli(['registry', 'show', MODEL]);
    expect(all.exitCode, all.stderr).toBe(0);
    expect(all.stdout.indexOf('\n1.2.0 ')).toBeLessThan(all.stdout.indexOf('\n1.1.0 '));
    expect(all.stdout.indexOf('\n1.1.0 ')).toBeLessThan(all.stdout.indexOf('\n1.0.0 '));
    expect(all.stdout).toMatch(/\n1\.2\.0\s+staging,candidate\s/);
    const one = await cli(['registry', 'show', MODEL, '1.1.0']);
    expect(one.exitCode, one.stderr).toBe(0);
    expect(one.stdout).toContain(`  manifest    ${bodies['1.1.0'].pack.manifest_digest}\n`);
    expect(one.stdout).toContain('  gates       every-slice-vs-production pass');
    expect(one.stdout).toContain('  runs        package r-pkg-1.1.0');
    expect(one.stdout).toContain('approvals: none');
    for (const l of one.stdout.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
    const j = JSON.parse((await cli(['registry', 'show', MODEL, '1.1.0', '--json'])).stdout);
    expect(j.body.pack.files.map((f: { path: string }) => f.path)).toContain('model.onnx');
    expect(j.digest).toMatch(/^[0-9a-f]{64}$/);

    const typo = await cli(['registry', 'show', 'world-detectr']);
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toContain('paddock registry show: no model world-detectr in the registry');
    expect(typo.stderr).toContain('did you mean world-detector?');
    const badVersion = await cli(['registry', 'show', MODEL, '1.2']);
    expect(badVersion.exitCode).toBe(2);
    expect(badVersion.stderr).toContain('world-detector version "1.2": "1.2" has 2 parts');
    const absent = await cli(['registry', 'show', MODEL, '9.9.9']);
    expect(absent.exitCode).toBe(2);
    expect(absent.stderr).toContain('world-detector 9.9.9 is not registered');
    expect(absent.stderr).toContain('(registered: 1.0.0, 1.1.0, 1.2.0)');
    for (const r of [typo, badVersion, absent]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('registry history: every move with when, who, from, to, action and why; --alias filters; a bad alias exits 2', async () => {
    const r = await cli(['registry', 'history', MODEL]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(flat(r.stdout)).toContain('world-detector: 6 moves, oldest first');
    expect(r.stdout).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}staging {5}- -> 1\.0\.0 {2}assign {2}by ci@example\.com\n {4}why: registered by run r-pkg-1\.0\.0/);
    expect(r.stdout).toMatch(/candidate {3}1\.0\.0 -> 1\.1\.0 {2}assign {2}by alice@example\.com\n {4}why: 1\.1\.0: evaluation gates green/);
    const c = JSON.parse((await cli(['registry', 'history', MODEL, '--alias', 'candidate', '--json'])).stdout);
    expect(c.transitions.map((t: { to_version: string }) => t.to_version)).toEqual(['1.0.0', '1.1.0', '1.2.0']);
    const bad = await cli(['registry', 'history', MODEL, '--alias', 'prod']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--alias "prod": the aliases are staging, candidate, production, rollback');
  });

  it('registry waive: recorded with why, who and until when; a past date refused (1), a malformed one a usage error (2)', async () => {
    const ok = await cli(['registry', 'waive', MODEL, 'CLI-TEST-HIGH', '--justification', 'yaml parses only the recipe, never vehicle input', '--approver', 'carol@example.com', '--expires', '2099-06-30']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(flat(ok.stdout)).toMatch(/^world-detector: CLI-TEST-HIGH waived for every version by carol@example\.com through 2099-06-30 \(UTC\), recorded \(audit record \d+\)/);
    const w = await withRegistry((r) => r.waivers(MODEL));
    expect(w).toHaveLength(1);
    expect(w[0].expires_at).toBe(Date.UTC(2099, 6, 1));

    const past = await cli(['registry', 'waive', MODEL, 'CLI-TEST-HIGH', '--justification', 'an old one', '--approver', 'carol@example.com', '--expires', '2020-01-01']);
    expect(past.exitCode).toBe(1);
    expect(past.stderr).toContain('paddock registry waive: --expires 2020-01-01 is past: a waiver must expire in the future');
    const malformed = await cli(['registry', 'waive', MODEL, 'CLI-TEST-HIGH', '--justification', 'x', '--approver', 'carol@example.com', '--expires', '2099-02-30']);
    expect(malformed.exitCode).toBe(2);
    expect(malformed.stderr).toContain('--expires "2099-02-30": expected a date YYYY-MM-DD');
    const missing = await cli(['registry', 'waive', MODEL, 'CLI-TEST-HIGH', '--approver', 'carol@example.com', '--expires', '2099-01-01']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('--justification is required');
    expect(missing.stderr).toContain('Try "paddock registry waive --help".');
    expect(await withRegistry((r) => r.waivers(MODEL))).toHaveLength(1);
  });

  it('promote without the production approvals: refused, exit 1, and recorded as refused', async () => {
    const r = await cli(['promote', MODEL, '1.0.0', '--reason', 'first production', '--pack', packs['1.0.0'], '--policy', approvers.policyFile]);
    expect(r.exitCode, r.stdout).toBe(1);
    expect(r.stderr).toContain('paddock promote: world-detector 1.0.0 not promoted: the production approvals are not complete');
    expect(r.stderr).toContain('requires technical, safety, security, product): missing technical, safety, security, product');
    expect(r.stderr).toMatch(/\(recorded: refused promotion [0-9a-f-]{36}\)/);
    const promotions = await withRegistry((x) => x.promotions(MODEL, '1.0.0'));
    expect(promotions.map((p) => [p.status, p.actor])).toEqual([['refused', 'ops@example.com']]);
    expect(promotions[0].record.governance).toMatchObject({ ok: true });
    expect((await withRegistry((x) => x.aliases(MODEL))).production).toBeNull();
  });

  it('registry approve: signed with SSH keys (ed25519, ecdsa) and PEM keys, checked against the policy; a key that is not the identity\'s refused', async () => {
    const approve = (role: string, as: string, key: string, reason = `${role} review done`) => cli(['registry', 'approve', MODEL, '1.0.0', '--role', role, '--reason', reason, '--as', as, '--key', key, '--policy', approvers.policyFile]);
    const alice = await approve('technical', 'alice@example.com', approvers.ssh.alice);
    expect(alice.exitCode, alice.stderr).toBe(0);
    expect(flat(alice.stdout)).toMatch(new RegExp(`^world-detector 1\\.0\\.0: approved for production as technical by alice@example\\.com, signed \\(ssh, ${approvers.ssh.alice.replace(/[.]/g, '\\.')}\\) and recorded \\(audit record \\d+\\)`));
    expect(alice.stdout).toContain('    missing: safety, security, product');

    // Mallory signs as alice with her own SSH key; then bob's PEM key signs as dan.
    const forged = await approve('technical', 'alice@example.com', approvers.ssh.mallory);
    expect(forged.exitCode).toBe(1);
    expect(forged.stderr).toContain("paddock registry approve: alice@example.com's approval of world-detector 1.0.0 as technical would not count, so it was not stored: signed with key SHA256:");
    expect(forged.stderr).toContain('which no line of');
    const otherIdentity = await approve('product', 'dan@example.com', approvers.ecdsa.bob);
    expect(otherIdentity.exitCode).toBe(1);
    expect(otherIdentity.stderr).toContain("dan@example.com's approval of world-detector 1.0.0 as product would not count");
    const noRole = await approve('security', 'bob@example.com', approvers.ecdsa.bob);
    expect(noRole.exitCode).toBe(1);
    expect(noRole.stderr).toContain('bob@example.com does not hold the role security');
    const badRole = await approve('ops', 'bob@example.com', approvers.ecdsa.bob);
    expect(badRole.exitCode).toBe(2);
    expect(badRole.stderr).toContain('--role "ops": the roles are technical, safety, security, product');

    expect((await approve('safety', 'bob@example.com', approvers.ecdsa.bob)).exitCode).toBe(0);
    const carol = await approve('security', 'carol@example.com', approvers.ssh.carol);
    expect(carol.exitCode, carol.stderr).toBe(0);
    expect(flat(carol.stdout)).toContain('signed (ssh,');
    const dan = await approve('product', 'dan@example.com', approvers.ecdsa.dan);
    expect(dan.exitCode, dan.stderr).toBe(0);
    expect(flat(dan.stdout)).toContain('signed (ecdsa,');
    expect(dan.stdout).toContain(': complete');
    const rows = await withRegistry((r) => r.approvals(MODEL, '1.0.0'));
    expect(rows.map((a) => [a.role, a.identity, a.scheme])).toEqual([
      ['technical', 'alice@example.com', 'ssh'],
      ['safety', 'bob@example.com', 'ecdsa'],
      ['security', 'carol@example.com', 'ssh'],
      ['product', 'dan@example.com', 'ecdsa'],
    ]);
    const shown = await cli(['registry', 'show', MODEL, '1.0.0', '--policy', approvers.policyFile]);
    expect(shown.stdout).toContain('production needs technical, safety, security, product');
    expect(shown.stdout).toContain('    security: approved by carol@example.com');
  });

  it('promote with the approvals and the checks run on the pack: production moves, the attempt and the promotion recorded', async () => {
    const r = await cli(['promote', MODEL, '1.0.0', '--reason', 'first production', '--pack', packs['1.0.0'], '--policy', approvers.policyFile]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('world-detector: production - -> 1.0.0\n');
    expect(flat(r.stdout)).toContain(' governance: signature pass, digests pass, sbom pass, vulnerabilities waived, licenses pass, gates pass, consumption pass ');
    expect(flat(r.stdout)).toContain(' approvals: technical alice@example.com, safety bob@example.com, security carol@example.com, product dan@example.com');
    for (const l of r.stdout.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
    expect((await withRegistry((x) => x.aliases(MODEL))).production).toBe('1.0.0');
    const again = await cli(['promote', MODEL, '1.0.0', '--reason', 'again', '--pack', packs['1.0.0'], '--policy', approvers.policyFile]);
    expect(again.exitCode).toBe(0);
    expect(flat(again.stdout)).toContain('world-detector 1.0.0 is production already');
  });

  it("promote with a governance report: another version's report refused, then the right one promotes and tags rollback", async () => {
    await approveAll('1.1.0');
    const wrong = await cli(['promote', MODEL, '1.1.0', '--reason', 'better at night', '--governance', await governanceReport('1.2.0'), '--policy', approvers.policyFile]);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain('world-detector 1.1.0 not promoted: the governance report is for world-detector 1.2.0, not world-detector 1.1.0');
    const r = await cli(['promote', MODEL, '1.1.0', '--reason', 'better at night', '--governance', await governanceReport('1.1.0'), '--policy', approvers.policyFile, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ promoted: true, previous: '1.0.0', version: '1.1.0' });
    expect(await withRegistry((x) => x.aliases(MODEL))).toMatchObject({ production: '1.1.0', rollback: '1.0.0' });
  });

  it('promote against a stale expectation: refused naming who moved production, recorded', async () => {
    await approveAll('1.2.0');
    const r = await cli(['promote', MODEL, '1.2.0', '--reason', 'decided on 1.0.0', '--governance', await governanceReport('1.2.0'), '--policy', approvers.policyFile, '--expect', '1.0.0']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/world-detector 1\.2\.0 not promoted: production of world-detector is 1\.1\.0 since \S+ \(moved by ops@example\.com: "better at night"\); you expected 1\.0\.0: refused/);
    expect((await withRegistry((x) => x.promotions(MODEL, '1.2.0'))).map((p) => p.status)).toEqual(['refused']);
    expect((await withRegistry((x) => x.aliases(MODEL))).production).toBe('1.1.0');
  });

  it('rollback: one step, recorded in the history, the rolled_back webhook signed; a second has nothing to go back to (exit 1)', async () => {
    const hook = await webhookReceiver();
    try {
      const hooks = join(home, 'hooks.yaml');
      writeFileSync(hooks, `webhooks:\n  - name: fleet\n    url: ${hook.url}\n    secret_env: CLI_HOOK_SECRET\n    events: [model_version.rolled_back]\n    max_retries: 0\n`);
      const r = await cli(['rollback', MODEL, '--reason', 'false braking up in the fleet', '--hooks', hooks], { CLI_HOOK_SECRET: 's3cret' });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(flat(r.stdout)).toContain('world-detector: production 1.1.0 -> 1.0.0 (rolled back by ops@example.com;');
      expect(flat(r.stdout)).toMatch(/hook webhook:fleet: ok/);
      expect(hook.got).toHaveLength(1);
      const { headers, body } = hook.got[0];
      const expected = `v1,${createHmac('sha256', 's3cret').update(`${headers['x-mlflow-delivery-id']}.${headers['x-mlflow-timestamp']}.${body}`).digest('base64')}`;
      expect(headers['x-mlflow-signature']).toBe(expected);
      expect(JSON.parse(body)).toMatchObject({ entity: 'model_version', action: 'rolled_back' });
    } finally {
      await hook.close();
    }
    const h = await cli(['registry', 'history', MODEL, '--alias', 'production']);
    expect(flat(h.stdout)).toContain('world-detector production: 3 moves, oldest first');
    expect(h.stdout).toMatch(/production {2}1\.1\.0 -> 1\.0\.0 {2}rollback {2}by ops@example\.com\n {4}why: false braking up in the fleet/);
    expect(await withRegistry((x) => x.aliases(MODEL))).toMatchObject({ production: '1.0.0', rollback: null });
    const second = await cli(['rollback', MODEL, '--reason', 'again']);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/paddock rollback: world-detector has no rollback version \(rollback was cleared \S+ by ops@example\.com: "rolled back to 1\.0\.0: false braking up in the fleet"\): a rollback is one step/);
    const noReason = await cli(['rollback', MODEL]);
    expect(noReason.exitCode).toBe(2);
    expect(noReason.stderr).toContain('--reason is required');
  });

  it('audit verify: ok with the policy\'s audit keys (head kept); with only the local key it says what that proves', async () => {
    const r = await cli(['audit', 'verify', '--policy', approvers.policyFile]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(flat(r.stdout)).toMatch(/^audit trail of \S+: \d+ records, trusting the policy's audit_keys/);
    expect(flat(r.stdout)).toContain('OK: the chain links, every signature verifies, every row matches its record');
    const heads = JSON.parse(readFileSync(join(home, 'audit-head.json'), 'utf8')).heads;
    expect(Object.keys(heads)).toHaveLength(1);
    const local = await cli(['audit', 'verify', '--json']);
    expect(local.exitCode, local.stdout).toBe(0);
    expect(JSON.parse(local.stdout)).toMatchObject({ ok: true, local_key_only: true, problems: [] });
    const text = await cli(['audit', 'verify']);
    expect(flat(text.stdout)).toContain("note: the only key trusted is this machine's own audit key: it vouches only for records this machine wrote");
    const stranger = join(approvers.dir, 'keys', 'mallory.pub.pem');
    const wrongKey = await cli(['audit', 'verify', '--key', stranger]);
    expect(wrongKey.exitCode).toBe(1);
    expect(flat(wrongKey.stdout)).toMatch(/FAIL audit record 1 \(model\.created world-detector\): signed by key \S+, which is not a trusted audit key/);
  });

  it('audit query: the canned who-approved-what lists every approval; SQL of your own as --json', async () => {
    const r = await cli(['audit', 'query', '--canned', 'who-approved-what']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('12 rows');
    for (const who of ['alice@example.com', 'bob@example.com', 'carol@example.com', 'dan@example.com']) expect(r.stdout).toMatch(new RegExp(`\\nidentity +${who}\\n`));
    for (const l of r.stdout.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
    const j = await cli(['audit', 'query', "SELECT version, count(*) AS n FROM approvals WHERE decision = 'approved' GROUP BY version ORDER BY version", '--json']);
    expect(j.exitCode, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual(VERSIONS.map((version) => ({ version, n: 4 })));
    const bad = await cli(['audit', 'query', 'SELEC 1']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('paddock audit query: audit query "SELEC 1": ');
    const unknown = await cli(['audit', 'query', '--canned', 'who']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('the canned queries are who-approved-what, versions-with-a-waived-finding');
  });

  it('audit verify after tampering: a row changed with its trigger dropped, then the tail cut, each named, exit 1', async () => {
    const sql = async (statements: string[]): Promise<void> => {
      if (target.kind === 'sqlite') {
        const db = new Database(spec);
        try {
          for (const s of statements) db.exec(s);
        } finally {
          db.close();
        }
      } else {
        const c = new pg.Client({ connectionString: fullUrl });
        await c.connect();
        try {
          for (const s of statements) await c.query(s);
        } finally {
          await c.end();
        }
      }
    };
    const drop = (t: string) => (target.kind === 'sqlite' ? [`DROP TRIGGER ${t}_immutable_u`, `DROP TRIGGER ${t}_immutable_d`] : [`DROP TRIGGER ${t}_immutable ON ${t}`]);
    const first = await withRegistry((r) => r.history(MODEL));
    await sql([...drop('transitions'), `UPDATE transitions SET reason = 'nothing to see here' WHERE seq = ${first[0].seq}`]);
    const changed = await cli(['audit', 'verify', '--policy', approvers.policyFile]);
    expect(changed.exitCode).toBe(1);
    expect(flat(changed.stdout)).toContain(`FAIL audit record ${first[0].audit_seq} (alias.moved world-detector/staging): the transitions row seq=${first[0].seq} (world-detector/staging) differs from the record`);
    expect(flat(changed.stdout)).toContain('reason: recorded "registered by run r-pkg-1.0.0", table "nothing to see here"');
    expect(changed.stdout).toContain('FAILED: 1 problem');
    await sql([`UPDATE transitions SET reason = 'registered by run r-pkg-1.0.0' WHERE seq = ${first[0].seq}`]);
    expect((await cli(['audit', 'verify', '--policy', approvers.policyFile])).exitCode).toBe(0);

    // The last record and its row deleted together: the chain alone stays consistent; the head kept by the last verify shows the cut.
    const last = await withRegistry((r) => r.db.get<{ seq: number; action: string }>('SELECT seq, action FROM audit ORDER BY seq DESC LIMIT 1'));
    expect(last!.action).toBe('promotion.recorded');
    await sql([...drop('promotions'), ...drop('audit'), `DELETE FROM promotions WHERE audit_seq = ${last!.seq}`, `DELETE FROM audit WHERE seq = ${last!.seq}`]);
    const cut = await cli(['audit', 'verify', '--policy', approvers.policyFile]);
    expect(cut.exitCode).toBe(1);
    expect(flat(cut.stdout)).toContain(`FAIL the chain ends at record ${last!.seq - 1}, before the expected head ${last!.seq} (its tail was cut)`);
    expect(existsSync(join(home, 'audit-head.json'))).toBe(true);
  });
});

describe('bad input, either database', () => {
  it('a registry that is not there, an unreachable PostgreSQL, a missing argument: a message and exit 2, no stack', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { PADDOCK_HOME: dir, HOME: dir };
      const missing = await paddock(['registry', 'list'], env, dir);
      expect(missing.exitCode).toBe(2);
      expect(missing.stderr).toContain(`paddock registry list: no registry at ${join(dir, 'registry.db')}`);
      expect(existsSync(join(dir, 'registry.db'))).toBe(false);
      const down = await paddock(['registry', 'list', '--registry', 'postgres://paddock@127.0.0.1:1/registry'], env, dir);
      expect(down.exitCode).toBe(2);
      expect(down.stderr).toContain('paddock registry list: registry postgres://paddock@127.0.0.1:1/registry: cannot connect: connection refused');
      const noVersion = await paddock(['promote', MODEL, '--reason', 'x'], env, dir);
      expect(noVersion.exitCode).toBe(2);
      expect(noVersion.stderr).toContain('promote needs a model and a version');
      const neither = await paddock(['promote', MODEL, '1.0.0', '--reason', 'x'], env, dir);
      expect(neither.exitCode).toBe(2);
      expect(neither.stderr).toContain('give either --governance FILE');
      const sub = await paddock(['registry', 'shwo', MODEL], env, dir);
      expect(sub.exitCode).toBe(2);
      expect(sub.stderr).toContain('unknown registry command "shwo"; did you mean "show"?');
      for (const r of [missing, down, noVersion, neither, sub]) expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      cleanup();
    }
  });
});

describe('paddock run --registry reaches the promote steps', () => {
  it('bin/paddock.ts puts it in PADDOCK_REGISTRY (absolute) for the steps it starts', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const seen = join(dir, 'seen.txt');
      const script = `require('fs').writeFileSync(${JSON.stringify(seen)}, process.env.PADDOCK_REGISTRY || 'unset')`;
      writeFileSync(join(dir, 'paddock.yaml'), `version: 1\nname: registry-env\nstages:\n  package:\n    - { id: only, run: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(script)}] }\n`);
      const r = await paddock(['run', 'paddock.yaml', '--headless', '--registry', 'team.db'], { PADDOCK_HOME: join(dir, 'home') }, dir);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readFileSync(seen, 'utf8')).toBe(join(dir, 'team.db'));
    } finally {
      cleanup();
    }
  });

  it("resolveRegistry: the recipe's registry, else PADDOCK_REGISTRY, else <home>/registry.db", () => {
    const before = process.env.PADDOCK_REGISTRY;
    const ctx = { baseDir: '/recipes' } as Parameters<typeof resolveRegistry>[1];
    try {
      delete process.env.PADDOCK_REGISTRY;
      expect(resolveRegistry({}, ctx, '/home/p').registry).toBe('/home/p/registry.db');
      process.env.PADDOCK_REGISTRY = 'postgres://paddock@db.example/registry';
      expect(resolveRegistry({}, ctx, '/home/p').registry).toBe('postgres://paddock@db.example/registry');
      expect(resolveRegistry({ registry: 'mine.db' }, ctx, '/home/p').registry).toBe('/recipes/mine.db');
      process.env.PADDOCK_REGISTRY = 'postgres://paddock:hunter2@db.example/registry';
      expect(() => resolveRegistry({}, ctx, '/home/p')).toThrow('put no password in $PADDOCK_REGISTRY (or --registry)');
      expect(() => resolveRegistry({ registry: 'postgres://paddock:hunter2@db.example/registry' }, ctx, '/home/p')).toThrow('put no password in the recipe');
    } finally {
      if (before === undefined) delete process.env.PADDOCK_REGISTRY;
      else process.env.PADDOCK_REGISTRY = before;
    }
  });
});
