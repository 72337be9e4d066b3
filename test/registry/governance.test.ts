/**
 * Governance checks before promotion (src/registry/governance.ts) on real packs: the sbom step
 * (node dist/step.js sbom) writes the CycloneDX SBOM from this checkout's package-lock and matches
 * OSV advisories written here against it (one CRITICAL with a CVE alias, one HIGH, one LOW, each
 * naming a package at the version installed, so they match whatever is installed), then the sign
 * step signs the pack with a publisher key. Then each check is shown passing and failing: a pack
 * signed by another key and a "trusted" key kept inside the pack; a changed and an added file;
 * a pack without SBOM and one whose SBOM is not CycloneDX; findings blocked, waived (by id, by
 * alias, for this version), and blocked again by an expired, an incomplete or another version's
 * waiver; denied licenses, an OR expression, a component's waiver; gates green, failed, rejected,
 * unanswered and never run; the consumption policy generated and a hand-written one refused.
 */
import { appendFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../src/pack/signing.js';
import { parseKeyring, type TrustedKey } from '../../src/pack/trust.js';
import { GovernanceError, judgeWaivers, runGovernance, type GovernanceCheck, type GovernanceInput, type GovernanceResult, type GovernanceWaiver } from '../../src/registry/governance.js';
import { MODEL_V1, ROOT, tempDir } from '../helpers/fixtures.js';

const STEP = join(ROOT, 'dist', 'step.js');
const DAY = 86_400_000;
const NOW = Date.parse('2026-03-01T12:00:00Z');
const installed = (name: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const ZOD = installed('zod');
const YAML = installed('yaml');
const EXECA = installed('execa');

let tmp: ReturnType<typeof tempDir>;
/** Signed packs: with SBOM and scans; without SBOM; with an SBOM that is not CycloneDX 1.6. */
let good: string;
let bare: string;
let badSbom: string;
let publisher: TrustedKey[];
let publisherPem: string;

const step = (name: string, params: object, env: Record<string, string> = {}) => execa(process.execPath, [STEP, name, JSON.stringify(params)], { env: { PADDOCK_TRUSTED_KEYS: '', ...env }, reject: false });

function makePack(dir: string) {
  mkdirSync(join(dir, 'reports'), { recursive: true });
  cpSync(MODEL_V1, join(dir, 'model.onnx'));
  writeFileSync(join(dir, 'reports', 'stage.json'), JSON.stringify({ step: 'stage', status: 'succeeded', environment: { node: process.versions.node } }));
}

async function sign(dir: string, privatePem: string) {
  const r = await step('sign', { pack: dir, model: 'world-detector', version: '1.0.0', key: { env: 'GOV_TEST_KEY' } }, { GOV_TEST_KEY: privatePem });
  expect(r.exitCode, r.stderr).toBe(0);
}

/** The advisories: written for these tests, not real vulnerabilities (OSV 1.6 format). */
function writeAdvisories(dir: string) {
  mkdirSync(dir, { recursive: true });
  const adv = (id: string, pkg: string, version: string, severity: string, aliases: string[] = []) => ({
    schema_version: '1.6.0',
    id,
    modified: '2026-01-15T00:00:00Z',
    aliases,
    summary: `test advisory for paddock's governance tests (not a real vulnerability): ${pkg} ${version}`,
    affected: [{ package: { ecosystem: 'npm', name: pkg }, versions: [version] }],
    database_specific: { severity },
  });
  writeFileSync(join(dir, 'advisories.json'), JSON.stringify([adv('GOV-TEST-CRIT', 'zod', ZOD, 'CRITICAL', ['CVE-2099-0001']), adv('GOV-TEST-HIGH', 'yaml', YAML, 'HIGH'), adv('GOV-TEST-LOW', 'execa', EXECA, 'LOW')]));
}

beforeAll(async () => {
  tmp = tempDir('paddock-governance-');
  const key = generateSigningKey();
  publisherPem = key.publicPem;
  const ring = join(tmp.dir, 'policy', 'publisher-keys.pem');
  mkdirSync(join(tmp.dir, 'policy'), { recursive: true });
  writeFileSync(ring, `# publishers the registry trusts\n${key.publicPem}`);
  publisher = parseKeyring(readFileSync(ring, 'utf8'), ring);

  const unsigned = join(tmp.dir, 'work', 'world-detector', '1.0.0');
  makePack(unsigned);
  writeAdvisories(join(tmp.dir, 'osv'));
  const sbom = await step('sbom', { pack: unsigned, model: 'world-detector', version: '1.0.0', docker_socket: '/nonexistent/docker.sock', cache_dir: join(tmp.dir, 'cache'), vulnerability_db: join(tmp.dir, 'osv') });
  expect(sbom.exitCode, sbom.stderr).toBe(0);

  good = join(tmp.dir, 'packs', 'good', '1.0.0');
  badSbom = join(tmp.dir, 'packs', 'bad-sbom', '1.0.0');
  bare = join(tmp.dir, 'packs', 'bare', '1.0.0');
  cpSync(unsigned, good, { recursive: true });
  cpSync(unsigned, badSbom, { recursive: true });
  const doc = JSON.parse(readFileSync(join(badSbom, 'sbom.cdx.json'), 'utf8'));
  doc.components[0].colour = 'red';
  writeFileSync(join(badSbom, 'sbom.cdx.json'), JSON.stringify(doc));
  makePack(bare);
  for (const p of [good, badSbom, bare]) await sign(p, key.privatePem);
}, 180_000);
afterAll(() => tmp.cleanup());

const waiver = (finding: string, over: Partial<GovernanceWaiver> = {}): GovernanceWaiver => ({ id: `w-${finding}`, finding, version: '1.0.0', justification: 'not reachable from the serving path: only the CLI parses with it', approver: 'carol@example.com', expires_at: NOW + 30 * DAY, at: NOW - DAY, ...over });
const greenGates: GovernanceInput['gates'] = { required: 'all', verdicts: [{ gate: 'map', verdict: 'pass', rationale: '["mAP 0.41 >= 0.35"]' }], approvals: [] };

function input(over: Partial<GovernanceInput> = {}): GovernanceInput {
  return {
    packDir: good,
    trustedKeys: publisher,
    requireSbom: true,
    scans: { failOn: ['critical', 'high'] },
    waivers: [waiver('GOV-TEST-CRIT'), waiver('GOV-TEST-HIGH')],
    gates: greenGates,
    consumption: { bucket: 'paddock-packs', prefix: 'world-detector/', principal: 'arn:aws:iam::123456789012:role/vehicle-fleet-reader' },
    now: NOW,
    ...over,
  };
}

const check = (r: GovernanceResult, id: GovernanceCheck['id']) => r.checks.find((c) => c.id === id)!;
const statuses = (r: GovernanceResult) => Object.fromEntries(r.checks.map((c) => [c.id, c.status]));

describe('runGovernance on a real signed pack', () => {
  it('every check passes or is waived: signed by the trusted publisher, digests, SBOM, findings waived, gates green, the consumption policy generated and checked', async () => {
    const r = await runGovernance(input());
    expect(statuses(r)).toEqual({ signature: 'pass', digests: 'pass', sbom: 'pass', vulnerabilities: 'waived', licenses: 'skipped', gates: 'pass', consumption: 'pass' });
    expect(r.ok).toBe(true);
    expect(r).toMatchObject({ model: 'world-detector', version: '1.0.0', signer: { fingerprint: publisher[0].fingerprint } });
    expect(check(r, 'signature').detail).toBe(`export_report.json is signed by trusted key sha256:${publisher[0].fingerprint} (${publisher[0].source}); the .sig and the Sigstore bundle verify`);
    expect(check(r, 'digests').detail).toMatch(/^all \d+ files listed in export_report\.json match their sha256 and size; the pack holds no unlisted file$/);
    expect(check(r, 'sbom').detail).toMatch(/^sbom\.cdx\.json: CycloneDX 1\.6, valid against the spec's JSON schema, listed and signed; \d+ components \(\d+ libraries, 1 models, \d+ files\)$/);
    const v = check(r, 'vulnerabilities');
    expect(v.detail).toMatch(/^scans\/vulnerabilities\.json \(paddock-osv\): 3 findings, 2 at critical\/high, each waived: GOV-TEST-(CRIT|HIGH) \(w-GOV-TEST-(CRIT|HIGH)\), GOV-TEST-(CRIT|HIGH) \(w-GOV-TEST-(CRIT|HIGH)\)$/);
    expect(v.findings).toEqual(
      expect.arrayContaining([
        { id: 'GOV-TEST-CRIT', subject: `pkg:npm/zod@${ZOD}`, severity: 'CRITICAL', outcome: 'waived', waiver: 'w-GOV-TEST-CRIT', why: `GOV-TEST-CRIT (CVE-2099-0001) in pkg:npm/zod@${ZOD} ${ZOD}, CRITICAL, no fix named: waived by carol@example.com until 2026-03-31T12:00:00.000Z: not reachable from the serving path: only the CLI parses with it` },
        expect.objectContaining({ id: 'GOV-TEST-HIGH', severity: 'HIGH', outcome: 'waived' }),
      ]),
    );
    expect(v.findings!.some((f) => f.id === 'GOV-TEST-LOW')).toBe(false);
    expect(check(r, 'gates').detail).toBe('1 required gate (all that ran), all green: map');
    expect(check(r, 'consumption').detail).toBe(
      'the generated bucket policy for arn:aws:iam::123456789012:role/vehicle-fleet-reader: 2 statements, read-only: s3:GetObject, s3:GetObjectVersion on arn:aws:s3:::paddock-packs/world-detector/*; s3:ListBucket on arn:aws:s3:::paddock-packs if s3:prefix ["world-detector/*"]',
    );
    expect(r.consumptionPolicy).toMatchObject({ Version: '2012-10-17', Statement: [{ Sid: 'ReadPackObjects' }, { Sid: 'ListPackPrefix' }] });
  });

  it('signature: a pack signed by another key fails naming the key it was signed with; the pack\'s own cosign.pub is never trusted, even when the policy lists it', async () => {
    const other = parseKeyring(generateSigningKey().publicPem, 'other.pem');
    const r = await runGovernance(input({ trustedKeys: other }));
    expect(check(r, 'signature').status).toBe('fail');
    expect(check(r, 'signature').detail).toBe(
      `export_report.json.sig: not signed by a trusted key: it was signed with key sha256:${publisher[0].fingerprint} (the cosign.pub in the pack); trusted: sha256:${other[0].fingerprint} (other.pem:1); export_report.sigstore.json: verificationMaterial.publicKey.hint names key sha256:${publisher[0].fingerprint}, which is not a trusted key`,
    );
    expect(check(r, 'digests').status).toBe('pass');
    expect(r.ok).toBe(false);
    expect(r.signer).toBeUndefined();

    const inPack = parseKeyring(readFileSync(join(good, 'cosign.pub'), 'utf8'), join(good, 'cosign.pub'));
    const s = await runGovernance(input({ trustedKeys: inPack }));
    expect(check(s, 'signature')).toMatchObject({ status: 'fail' });
    expect(check(s, 'signature').detail).toContain(`trusted key sha256:${publisher[0].fingerprint} (${join(good, 'cosign.pub')}:1) is refused: it is a file inside the pack, and a key shipped in the pack vouches for nothing`);
    expect(check(s, 'signature').detail).toContain("no trusted publisher key: the policy's publishers keyring gave none outside the pack");
    expect(check(s, 'digests').status).toBe('pass');

    const none = await runGovernance(input({ trustedKeys: [] }));
    expect(check(none, 'signature').detail).toBe(`no trusted publisher key: the policy's publishers keyring gave none, so who signed the pack cannot be checked (it is self-consistent with its own cosign.pub, sha256:${publisher[0].fingerprint}, which anyone who can change the pack can replace)`);
  });

  it('digests: a changed file and an added one fail, each named, while the signature over the report still verifies', async () => {
    const copy = join(tmp.dir, 'packs', 'tampered', '1.0.0');
    cpSync(good, copy, { recursive: true });
    appendFileSync(join(copy, 'model.onnx'), Buffer.from([0]));
    writeFileSync(join(copy, 'extra.txt'), 'not listed');
    const r = await runGovernance(input({ packDir: copy }));
    expect(check(r, 'signature').status).toBe('pass');
    const d = check(r, 'digests');
    expect(d.status).toBe('fail');
    expect(d.detail).toMatch(/^2 problems over \d+ listed files \(\d+ checked\): model\.onnx: sha256 [0-9a-f]{64}, the report says [0-9a-f]{64}, extra\.txt: in the pack but not listed in export_report\.json \(not covered by the signature\)$/);
    expect(d.findings!.map((f) => f.subject)).toEqual(['model.onnx', 'extra.txt']);
    rmSync(copy, { recursive: true });
  });

  it('sbom: required and missing fails; not required and missing is skipped; not CycloneDX 1.6 fails naming the schema error', async () => {
    const waived = [waiver('scan:vulnerabilities')];
    const r = await runGovernance(input({ packDir: bare, waivers: [] }));
    expect(check(r, 'sbom')).toEqual({ id: 'sbom', status: 'fail', detail: 'sbom.cdx.json: not in the pack; the policy requires an SBOM (governance.require_sbom)' });
    // A scan that did not run is never clean, unless a waiver accepts exactly that.
    expect(check(r, 'vulnerabilities')).toMatchObject({ status: 'fail', detail: 'no vulnerabilities scan in export_report.json (its scans are null: the sbom step did not run); not waived (scan:vulnerabilities): no waiver' });
    const s = await runGovernance(input({ packDir: bare, requireSbom: false, waivers: waived }));
    expect(check(s, 'sbom')).toMatchObject({ status: 'skipped', detail: 'sbom.cdx.json: not in the pack, and the policy does not require one' });
    expect(check(s, 'vulnerabilities')).toMatchObject({ status: 'waived', findings: [{ id: 'scan:vulnerabilities', outcome: 'waived', waiver: 'w-scan:vulnerabilities' }] });
    expect(s.ok).toBe(true);

    const b = await runGovernance(input({ packDir: badSbom }));
    expect(check(b, 'signature').status).toBe('pass');
    expect(check(b, 'sbom').status).toBe('fail');
    expect(check(b, 'sbom').detail).toMatch(/^sbom\.cdx\.json: not valid CycloneDX 1\.6: \/components\/0 /);
  });
});

describe('vulnerability waivers', () => {
  const vulns = async (waivers: GovernanceWaiver[], failOn: string[] = ['critical', 'high']) => check(await runGovernance(input({ waivers, scans: { failOn } })), 'vulnerabilities');

  it('without waivers each finding at a fail_on severity blocks, named with its component and severity; LOW is not graded', async () => {
    const v = await vulns([]);
    expect(v.status).toBe('fail');
    expect(v.detail).toContain('3 findings, 2 at critical/high: 2 not waived: ');
    expect(v.detail).toContain(`GOV-TEST-CRIT (CVE-2099-0001) in pkg:npm/zod@${ZOD} ${ZOD}, CRITICAL, no fix named: no waiver`);
    expect(v.detail).toContain(`GOV-TEST-HIGH in pkg:npm/yaml@${YAML} ${YAML}, HIGH, no fix named: no waiver`);
    expect((await vulns([], ['critical'])).detail).toContain('3 findings, 1 at critical: 1 not waived');
    expect(await vulns([], [])).toMatchObject({ status: 'pass', detail: 'scans/vulnerabilities.json (paddock-osv): 3 findings, 0 at none' });
  });

  it.each<[string, GovernanceWaiver[], string, string]>([
    ['waived by an alias (the CVE id), for any version', [waiver('CVE-2099-0001', { version: null }), waiver('GOV-TEST-HIGH')], 'waived', 'waived by carol@example.com until 2026-03-31T12:00:00.000Z'],
    ['an expired waiver blocks and says when it expired', [waiver('GOV-TEST-CRIT', { expires_at: NOW - 2 * DAY, at: NOW - 40 * DAY }), waiver('GOV-TEST-HIGH')], 'fail', 'waiver w-GOV-TEST-CRIT (approved by carol@example.com) expired at 2026-02-27T12:00:00.000Z'],
    ['a waiver expiring exactly now has expired', [waiver('GOV-TEST-CRIT', { expires_at: NOW }), waiver('GOV-TEST-HIGH')], 'fail', 'expired at 2026-03-01T12:00:00.000Z'],
    ['a waiver without a justification is refused', [waiver('GOV-TEST-CRIT', { justification: '  ' }), waiver('GOV-TEST-HIGH')], 'fail', 'waiver w-GOV-TEST-CRIT is refused: it has no justification'],
    ['a waiver without an approver or a justification is refused', [waiver('GOV-TEST-CRIT', { approver: '', justification: '' }), waiver('GOV-TEST-HIGH')], 'fail', 'it has no justification and no approver'],
    ["another version's waiver does not apply", [waiver('GOV-TEST-CRIT', { version: '0.9.0' }), waiver('GOV-TEST-HIGH')], 'fail', 'waiver w-GOV-TEST-CRIT is for version 0.9.0, not 1.0.0'],
    ['an expired waiver beside a valid one: the valid one waives', [waiver('GOV-TEST-CRIT', { id: 'old', expires_at: NOW - DAY }), waiver('GOV-TEST-CRIT', { id: 'renewed' }), waiver('GOV-TEST-HIGH')], 'waived', 'GOV-TEST-CRIT (renewed)'],
  ])('%s', async (_what, waivers, status, text) => {
    const v = await vulns(waivers);
    expect(v.status).toBe(status);
    expect(JSON.stringify(v)).toContain(text);
  });

  it('judgeWaivers is the same rule on its own: a waiver that expires before it was recorded is refused', () => {
    expect(judgeWaivers(['X-1'], [waiver('x-1', { expires_at: NOW - 5 * DAY, at: NOW - DAY })], '1.0.0', NOW)).toEqual({ waived: false, why: 'waiver w-x-1 is refused: it expires (2026-02-24T12:00:00.000Z) before it was recorded (2026-02-28T12:00:00.000Z)' });
    expect(judgeWaivers(['X-1'], [], '1.0.0', NOW)).toEqual({ waived: false, why: 'no waiver' });
  });

  it('a fail_on that is not a severity is an input error', async () => {
    await expect(runGovernance(input({ scans: { failOn: ['severe'] } }))).rejects.toThrow(GovernanceError);
    await expect(runGovernance(input({ scans: { failOn: ['severe'] } }))).rejects.toThrow('governance.scans.fail_on: "severe" is not a severity (unknown, low, medium, high, critical)');
  });
});

describe('licenses', () => {
  const lic = async (deny: string[], waivers: GovernanceWaiver[] = []) => check(await runGovernance(input({ scans: { failOn: [], denyLicenses: deny }, waivers })), 'licenses');

  it('a denied license in the SBOM\'s components blocks, each component named; waived by license, or by one component', async () => {
    const v = await lic(['MIT']);
    expect(v.status).toBe('fail');
    expect(v.detail).toMatch(/^denied MIT; checked sbom\.cdx\.json \(\d+ components\)(, scans\/licenses-pack\.json \(\d+ findings?\))?: \d+ denied license uses not waived: /);
    const zod = v.findings!.find((f) => f.subject === `pkg:npm/zod@${ZOD}`)!;
    expect(zod).toEqual({ id: 'license:MIT', subject: `pkg:npm/zod@${ZOD}`, outcome: 'blocks', why: `MIT in pkg:npm/zod@${ZOD} (sbom.cdx.json): no waiver` });
    const one = await lic(['MIT'], [waiver(`license:MIT:pkg:npm/zod@${ZOD}`)]);
    expect(one.status).toBe('fail');
    expect(one.findings!.find((f) => f.subject === `pkg:npm/zod@${ZOD}`)).toMatchObject({ outcome: 'waived', waiver: `w-license:MIT:pkg:npm/zod@${ZOD}` });
    const all = await lic(['MIT'], [waiver('license:MIT')]);
    expect(all.status).toBe('waived');
    expect(all.findings!.every((f) => f.outcome === 'waived')).toBe(true);
  });

  it('an OR expression is denied only when every choice is (expand-template is "MIT OR WTFPL"); a license nobody uses passes', async () => {
    const wtfpl = await lic(['WTFPL']);
    expect(wtfpl.status).toBe('pass');
    expect(wtfpl.detail).toMatch(/: none found$/);
    const both = await lic(['WTFPL', 'MIT']);
    const et = both.findings!.filter((f) => f.subject.startsWith('pkg:npm/expand-template@'));
    expect(et.map((f) => f.id)).toEqual(['license:MIT', 'license:WTFPL']);
    expect(et[1].why).toMatch(/^WTFPL in pkg:npm\/expand-template@[\d.]+ \(sbom\.cdx\.json, in "\(MIT OR WTFPL\)"\): no waiver$/);
    expect(await lic(['AGPL-3.0-only'])).toMatchObject({ status: 'pass' });
    expect(await lic([])).toEqual({ id: 'licenses', status: 'skipped', detail: 'the policy denies no license (governance.licenses.deny)' });
  });
});

describe('gates', () => {
  const gates = async (g: GovernanceInput['gates']) => check(await runGovernance(input({ gates: g })), 'gates');
  const V = (gate: string, verdict: 'pass' | 'fail' | 'review', rationale: string | string[] = []) => ({ gate, verdict, rationale });

  it.each<[string, GovernanceInput['gates'], 'pass' | 'fail', string]>([
    ['every gate green', { required: 'all', verdicts: [V('map', 'pass'), V('night-recall', 'pass')], approvals: [] }, 'pass', '2 required gates (all that ran), all green: map, night-recall'],
    ['a failed gate blocks, named with its rationale', { required: 'all', verdicts: [V('map', 'pass'), V('night-recall', 'fail', '["night recall 0.52 < 0.60", "slice night (n=48)"]')], approvals: [] }, 'fail', '2 required gates (all that ran): 1 not green: night-recall: failed: night recall 0.52 < 0.60; slice night (n=48); green: map'],
    ['a review approved is green', { required: ['latency'], verdicts: [V('latency', 'review', ['p95 41 ms > 40 ms'])], approvals: [{ gate: 'latency', decision: 'approved', actor: 'alice@example.com', reason: 'within noise' }] }, 'pass', '1 required gate, all green: latency (review approved by alice@example.com: within noise)'],
    ['a review rejected blocks', { required: 'all', verdicts: [V('latency', 'review')], approvals: [{ gate: 'latency', decision: 'approved', actor: 'alice@example.com' }, { gate: 'latency', decision: 'rejected', actor: 'bob@example.com', reason: 'regression' }] }, 'fail', 'latency: review rejected by bob@example.com: regression'],
    ['a review unanswered blocks', { required: 'all', verdicts: [V('latency', 'review', ['p95 41 ms > 40 ms'])], approvals: [] }, 'fail', 'latency: review not answered (p95 41 ms > 40 ms)'],
    ['a required gate that never ran blocks as not run', { required: ['map', 'sim-collisions'], verdicts: [V('map', 'pass')], approvals: [] }, 'fail', 'sim-collisions: not run (no verdict recorded)'],
    ['the last verdict of a gate is its current one (a re-run that passed)', { required: 'all', verdicts: [V('map', 'fail', ['mAP 0.30']), V('map', 'pass')], approvals: [] }, 'pass', 'all green: map'],
    ['`all` with no gate verdict at all blocks', { required: 'all', verdicts: [], approvals: [] }, 'fail', 'no gate verdict was given: `gates: all` needs the evaluate and sim gates to have run'],
  ])('%s', async (_what, g, status, text) => {
    const c = await gates(g);
    expect(c.status).toBe(status);
    expect(c.detail).toContain(text);
  });
});

describe('consumption policy', () => {
  it('absent is skipped; a bad bucket fails naming it; a hand-written document that grants writes fails naming the statement', async () => {
    expect(check(await runGovernance(input({ consumption: undefined })), 'consumption')).toMatchObject({ status: 'skipped' });
    const bad = await runGovernance(input({ consumption: { bucket: 'Paddock_Packs', prefix: 'world-detector/' } }));
    expect(check(bad, 'consumption')).toEqual({ id: 'consumption', status: 'fail', detail: 'consumption.bucket: "Paddock_Packs" is not a valid S3 bucket name: only lower-case letters, digits, dots (.) and hyphens (-) are allowed' });
    const document = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::paddock-packs/world-detector/*' }] };
    const r = await runGovernance(input({ consumption: { bucket: 'paddock-packs', prefix: 'world-detector/', document } }));
    expect(check(r, 'consumption')).toMatchObject({ status: 'fail', detail: 'the policy document given grants more than read-only arn:aws:s3:::paddock-packs/world-detector/*: Statement[0]: Action s3:PutObject: a write or delete action' });
    expect(r.ok).toBe(false);
    expect(r.consumptionPolicy).toBe(document);
    // The pack's own key was generated with the publisher's: both were the same PEM all along.
    expect(readFileSync(join(good, 'cosign.pub'), 'utf8')).toBe(publisherPem);
  });
});
