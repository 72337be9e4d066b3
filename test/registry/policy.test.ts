/**
 * The registry policy file (src/registry/policy.ts): every kind of bad input refused with its
 * file:line:col and YAML path, the referenced files (allowed signers, ECDSA keys, keyrings) read
 * for real, and the role helpers. Keys are made by ssh-keygen and node:crypto per run
 * (test/fixtures/registry/approvers.ts).
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyError, assignRoles, loadPolicy, matchPatternList, parseAllowedSigners, parsePolicy, requiredRoles, rolesOf, signersFor } from '../../src/registry/policy.js';
import { POLICY, makeApprovers, type Approvers } from '../fixtures/registry/approvers.js';

let a: Approvers;
beforeAll(() => {
  a = makeApprovers();
  // A P-384 key (not the P-256 approvals are signed with) and an RSA one.
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
  writeFileSync(join(a.dir, 'keys', 'p384.pub.pem'), p384);
  writeFileSync(join(a.dir, 'keys', 'rsa.pub.pem'), generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string);
  mkdirSync(join(a.dir, 'a-dir'));
});
afterAll(() => a?.cleanup());

/** The policy's problems, with the temp dir written as <dir>. */
function problems(text: string, extra: Record<string, string> = {}): string[] {
  for (const [f, t] of Object.entries(extra)) writeFileSync(join(a.dir, f), t);
  const file = join(a.dir, 'case.yaml');
  writeFileSync(file, text);
  try {
    loadPolicy(file);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as Error).message.replaceAll(a.dir, '<dir>').split('\n');
  }
  throw new Error('the policy loaded');
}

const edit = (from: string, to: string) => {
  if (!POLICY.includes(from)) throw new Error(`not in POLICY: ${from}`);
  return POLICY.replace(from, to);
};
const F = '<dir>/case.yaml';
const ENOENT = "no such file (relative paths resolve against the policy file's directory)";

describe('loadPolicy', () => {
  it('loads the policy and every file it names', () => {
    const p = loadPolicy(a.policyFile);
    expect(p.roles.technical).toEqual(['alice@example.com', 'erin@example.com', 'grace@example.com']);
    expect(p.required).toEqual({ production: ['technical', 'safety', 'security', 'product'], candidate: ['technical'] });
    expect(p.separation_of_duties).toBe(true);
    expect(p.signers.allowed_signers!.signers.map((s) => [s.line, s.principals, s.namespaces, s.validBefore, s.keyType])).toEqual([
      [2, ['alice@example.com'], ['paddock-approval', 'git'], undefined, 'ssh-ed25519'],
      [3, ['carol@example.com'], undefined, undefined, 'ecdsa-sha2-nistp256'],
      [4, ['erin@example.com'], undefined, undefined, 'ssh-ed25519'],
      [5, ['grace@example.com'], undefined, '20200101', 'ssh-ed25519'],
    ]);
    expect(Object.keys(p.signers.ecdsa)).toEqual(['bob@example.com', 'dan@example.com']);
    expect(p.signers.ecdsa['bob@example.com'].file).toBe(join(a.dir, 'keys', 'bob.pub.pem'));
    expect(p.publishers).toHaveLength(1);
    expect(p.publishers[0].source).toBe(`${join(a.dir, 'publisher-keys.pem')}:2`);
    expect(p.audit_keys).toHaveLength(1);
    expect(p.governance).toEqual({ require_sbom: true, scans: { fail_on: ['critical', 'high'] }, licenses: { deny: ['AGPL-3.0-only'] }, gates: 'all' });
    expect(p.consumption?.principal).toBe('arn:aws:iam::123456789012:role/vehicle-fleet-reader');
    expect(p.headless).toEqual({ approve_as: 'policy:demo' });
  });

  it('fills the defaults a short policy leaves out', () => {
    writeFileSync(join(a.dir, 'short.yaml'), 'version: 1\nroles: { technical: [bob@example.com] }\nsigners: { ecdsa: { bob@example.com: keys/bob.pub.pem } }\npublishers: publisher-keys.pem\n');
    const p = loadPolicy(join(a.dir, 'short.yaml'));
    expect(p.required).toEqual({});
    expect(p.separation_of_duties).toBe(true);
    expect(p.audit_keys).toEqual([]);
    expect(p.signers.allowed_signers).toBeUndefined();
    expect(p.governance).toEqual({ require_sbom: true, scans: { fail_on: ['critical', 'high'] }, licenses: { deny: [] }, gates: 'all' });
    expect(requiredRoles(p, 'production')).toEqual([]);
  });

  it('names an unreadable policy file', () => {
    expect(() => loadPolicy(join(a.dir, 'none.yaml'))).toThrow(`${join(a.dir, 'none.yaml')}: cannot read the registry policy: no such file`);
  });

  // Each bad input, with every line of the message: file:line:col: path: what.
  const cases: { name: string; text: string; files?: Record<string, string>; expect: string[] }[] = [
    { name: 'not YAML', text: edit('  safety: [bob@example.com, erin@example.com]', '  safety: [bob@example.com, erin@example.com'), expect: [`${F}:5:3: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]`] },
    { name: 'a duplicate key', text: edit('separation_of_duties: true', 'separation_of_duties: true\nseparation_of_duties: false'), expect: [`${F}:11:1: YAML syntax: Map keys must be unique`] },
    { name: 'empty', text: '', expect: [`${F}:1:1: version: expected version: 1`, `${F}:1:1: roles: Invalid input: expected object, received undefined`, `${F}:1:1: publishers: expected a file path`] },
    { name: 'a list, not a mapping', text: '- version: 1\n', expect: [`${F}:1:1: Invalid input: expected object, received array`] },
    { name: 'another version', text: edit('version: 1', 'version: 2'), expect: [`${F}:1:10: version: expected version: 1`] },
    { name: 'a wrong type', text: edit('separation_of_duties: true', 'separation_of_duties: yes please'), expect: [`${F}:10:23: separation_of_duties: Invalid input: expected boolean, received string`] },
    { name: 'a role holder that is not a list', text: edit('  security: [carol@example.com]', '  security: carol@example.com'), expect: [`${F}:5:13: roles.security: Invalid input: expected array, received string`] },
    { name: 'an unknown key', text: edit('headless:', 'approver: alice\nheadless:'), expect: [`${F}:22:1: approver: unknown key "approver" (known: version, roles, required, separation_of_duties, signers, publishers, audit_keys, governance, consumption, headless, approvals)`] },
    { name: 'an unknown key deeper down', text: edit('  require_sbom: true', '  require_sbom: true\n  require_sbmo: true'), expect: [`${F}:18:3: governance.require_sbmo: unknown key "require_sbmo" (known: require_sbom, scans, licenses, gates, require_sim)`] },
    { name: 'an unknown role under roles', text: edit('  security: [carol@example.com]', '  security: [carol@example.com]\n  legal: [alice@example.com]'), expect: [`${F}:6:3: roles.legal: unknown role "legal" (roles: technical, safety, security, product)`] },
    { name: 'an unknown role in required', text: edit('  production: [technical, safety, security, product]', '  production: [technical, legal, security, product]'), expect: [`${F}:8:27: required.production[1]: unknown role "legal" (roles: technical, safety, security, product)`] },
    { name: 'an unknown stage in required', text: edit('  candidate: [technical]', '  candidate: [technical]\n  release: [technical]'), expect: [`${F}:10:3: required.release: unknown stage "release" (stages: staging, candidate, production)`] },
    { name: 'a role listed twice in required', text: edit('  candidate: [technical]', '  candidate: [technical, technical]'), expect: [`${F}:9:26: required.candidate[1]: role "technical" is listed twice`] },
    { name: 'a required role that no one holds', text: edit('  security: [carol@example.com]\n', ''), expect: [`${F}:7:35: required.production[2]: role "security" is required for production but roles.security names no one who holds it`] },
    { name: 'a missing publishers keyring', text: edit('publishers: ./publisher-keys.pem', 'publishers: ./nope.pem'), expect: [`${F}:14:13: publishers: ./nope.pem (<dir>/nope.pem): ${ENOENT}`] },
    { name: 'a directory for a keyring', text: edit('publishers: ./publisher-keys.pem', 'publishers: a-dir'), expect: [`${F}:14:13: publishers: a-dir (<dir>/a-dir): a directory, not a file`] },
    { name: 'a missing audit key in a list', text: edit('audit_keys: ./keys/registry.pub.pem', 'audit_keys: [./keys/registry.pub.pem, ./keys/gone.pem]'), expect: [`${F}:15:39: audit_keys[1]: ./keys/gone.pem (<dir>/keys/gone.pem): ${ENOENT}`] },
    { name: 'a missing allowed signers file', text: edit('  allowed_signers: ./allowed_signers', '  allowed_signers: ./allowed-signers'), expect: [`${F}:12:20: signers.allowed_signers: ./allowed-signers (<dir>/allowed-signers): ${ENOENT}`] },
    { name: 'an ecdsa key that is not P-256', text: edit('dan@example.com: ./keys/dan.pub.pem', 'dan@example.com: ./keys/p384.pub.pem'), expect: [`${F}:13:66: signers.ecdsa.dan@example.com: <dir>/keys/p384.pub.pem:1: the key must be ECDSA P-256 (prime256v1), as paddock signs with, got ec secp384r1`] },
    { name: 'an RSA key for ecdsa', text: edit('bob@example.com: ./keys/bob.pub.pem', 'bob@example.com: ./keys/rsa.pub.pem'), expect: [`${F}:13:29: signers.ecdsa.bob@example.com: <dir>/keys/rsa.pub.pem:1: the key must be ECDSA P-256 (prime256v1), as paddock signs with, got rsa`] },
    { name: 'a private key for ecdsa', text: edit('dan@example.com: ./keys/dan.pub.pem', 'dan@example.com: ./keys/dan.pem'), expect: [`${F}:13:66: signers.ecdsa.dan@example.com: <dir>/keys/dan.pem:1: a private key; a keyring holds public keys only (give the .pub file written beside it)`] },
    { name: 'a keyring that is not PEM', text: edit('publishers: ./publisher-keys.pem', 'publishers: ./allowed_signers'), expect: [`${F}:14:13: publishers: <dir>/allowed_signers:2: not part of a PEM block (a keyring holds PUBLIC KEY blocks; comments start with #)`] },
    {
      name: 'allowed signers with malformed lines (each named with its line)',
      text: edit('  allowed_signers: ./allowed_signers', '  allowed_signers: ./bad_signers'),
      files: {
        bad_signers: [
          '# one good line, then each kind of mistake',
          'alice@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMpYiTumOmkHnSKin1vdMUF+5zIcXzLbioUJ1KSdr9kl',
          'carol@example.com nmespaces="paddock-approval" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMpYiTumOmkHnSKin1vdMUF+5zIcXzLbioUJ1KSdr9kl',
          'erin@example.com ssh-ed25519 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFo6UQm+24eX/6MIIicDch0yAeSUZsjVMXhk/JltdkLhuB0cKntAa9BMGo8z+NfAdfDMza5YK77+8gRKIqih8FM=',
          'bob@example.com ssh-ed25519 !!!',
          'dan@example.com namespaces="a ssh-ed25519 AAAA',
          'grace@example.com valid-before="yesterday" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMpYiTumOmkHnSKin1vdMUF+5zIcXzLbioUJ1KSdr9kl',
          'frank@example.com ssh-ed448 AAAA',
          'zed@example.com',
          '',
        ].join('\n'),
      },
      expect: [
        `${F}:12:20: signers.allowed_signers: <dir>/bad_signers:3: unknown option nmespaces="paddock-approval" (known: cert-authority, namespaces="...", valid-after="...", valid-before="...") in: carol@example.com nmespaces="paddock-approval" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMpYiTumOmkHnS...`,
        `${F}:12:20: signers.allowed_signers: <dir>/bad_signers:4: the key blob holds a key of type ecdsa-sha2-nistp256, the line says ssh-ed25519 in: erin@example.com ssh-ed25519 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFo6UQm+24eX/6MI...`,
        `${F}:12:20: signers.allowed_signers: <dir>/bad_signers:5: the key is not valid base64 in: bob@example.com ssh-ed25519 !!!`,
        `${F}:12:20: signers.allowed_signers: <dir>/bad_signers:6: an unclosed quote in the options in: dan@example.com namespaces="a ssh-ed25519 AAAA`,
        `${F}:12:20: signers.allowed_signers: <dir>/bad_signers:7: valid-before="yesterday" is not a timestamp (YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]) in: grace@example.com valid-before="yesterday" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMpYiTumOmkHnSKin1...`,
        `${F}:12:20: signers.allowed_signers: <dir>/bad_signers:8: unknown key type "ssh-ed448" in: frank@example.com ssh-ed448 AAAA`,
        `${F}:12:20: signers.allowed_signers: <dir>/bad_signers:9: a principal with no key (expected: principals [options] keytype base64) in: zed@example.com`,
      ],
    },
    { name: 'an allowed signers file with no signer', text: edit('  allowed_signers: ./allowed_signers', '  allowed_signers: ./empty_signers'), files: { empty_signers: '# nobody yet\n' }, expect: [`${F}:12:20: signers.allowed_signers: <dir>/empty_signers: holds no signer (a line is: principals [options] keytype base64)`] },
    { name: 'a role holder with no key', text: edit('  security: [carol@example.com]', '  security: [carol@example.com, zed@example.com]'), expect: [`${F}:5:33: roles.security[1]: zed@example.com holds the role but has no key to sign approvals with: no line of <dir>/allowed_signers names it for namespace "paddock-approval", and signers.ecdsa has no key for it, and it is not the headless identity (policy:demo)`] },
    { name: 'an ecdsa key for someone with no role', text: edit('dan@example.com: ./keys/dan.pub.pem', 'dan@example.com: ./keys/dan.pub.pem, zed@example.com: ./keys/mallory.pub.pem'), expect: [`${F}:13:103: signers.ecdsa.zed@example.com: zed@example.com holds no role (roles: technical: alice@example.com, erin@example.com, grace@example.com; safety: bob@example.com, erin@example.com; security: carol@example.com; product: dan@example.com, policy:demo)`] },
    { name: 'a headless identity that holds no role', text: edit('headless: { approve_as: "policy:demo" }', 'headless: { approve_as: "policy:ci" }'), expect: [`${F}:6:30: roles.product[1]: policy:demo holds the role but has no key to sign approvals with: no line of <dir>/allowed_signers names it for namespace "paddock-approval", and signers.ecdsa has no key for it, and it is not the headless identity (policy:ci)`, `${F}:22:25: headless.approve_as: policy:ci holds no role, so it can answer no approval (list it under the roles it answers for)`] },
    { name: 'an identity with a space', text: edit('  security: [carol@example.com]', '  security: ["carol example"]'), expect: [`${F}:5:14: roles.security[0]: an identity has no whitespace`] },
    { name: 'an unknown severity', text: edit('fail_on: [critical, high]', 'fail_on: [critical, severe]'), expect: [`${F}:18:32: governance.scans.fail_on[1]: Invalid option: expected one of "unknown"|"low"|"medium"|"high"|"critical"`] },
  ];

  it.each(cases)('$name', ({ text, files, expect: want }) => {
    expect(problems(text, files)).toEqual(want);
  });

  it('separation of duties that no holders can satisfy', () => {
    // erin holds three of the four roles production needs; with one identity counted once, three can never be covered.
    const text = edit('  safety: [bob@example.com, erin@example.com]', '  safety: [erin@example.com]').replace('  security: [carol@example.com]', '  security: [erin@example.com]').replace('ecdsa: { bob@example.com: ./keys/bob.pub.pem, ', 'ecdsa: { ');
    expect(problems(text)).toEqual([`${F}:8:15: required.production: production needs 4 roles approved by distinct identities (separation_of_duties), and no assignment of their holders covers them all: security cannot be covered (technical: alice@example.com, erin@example.com, grace@example.com; safety: erin@example.com; security: erin@example.com; product: dan@example.com, policy:demo)`]);
    // Without separation of duties the same holders suffice.
    expect(() => parsePolicy(text.replace('separation_of_duties: true', 'separation_of_duties: false'), join(a.dir, 'case.yaml'))).not.toThrow();
  });

  it('reports every problem of a policy at once', () => {
    const text = edit('version: 1', 'version: 1\nextra: 1').replace('publishers: ./publisher-keys.pem', 'publishers: 7');
    expect(problems(text)).toEqual([`${F}:2:1: extra: unknown key "extra" (known: version, roles, required, separation_of_duties, signers, publishers, audit_keys, governance, consumption, headless, approvals)`, `${F}:15:13: publishers: expected a file path`]);
    const files = edit('publishers: ./publisher-keys.pem', 'publishers: ./nope.pem').replace('audit_keys: ./keys/registry.pub.pem', 'audit_keys: ./keys/nope.pem');
    expect(problems(files)).toEqual([`${F}:14:13: publishers: ./nope.pem (<dir>/nope.pem): ${ENOENT}`, `${F}:15:13: audit_keys: ./keys/nope.pem (<dir>/keys/nope.pem): ${ENOENT}`]);
  });
});

describe('allowed signers', () => {
  it('parses principals, options and keys as ssh-keygen(1) ALLOWED SIGNERS describes', () => {
    const key = 'AAAAC3NzaC1lZDI1NTE5AAAAIMpYiTumOmkHnSKin1vdMUF+5zIcXzLbioUJ1KSdr9kl';
    const { signers, problems } = parseAllowedSigners(
      [
        '# comment',
        '   ',
        `user1@example.com,user2@example.com ssh-ed25519 ${key} a comment`,
        `*@example.com cert-authority ssh-ed25519 ${key}`,
        `"user3@example.com" NAMESPACES="file,paddock-*",Valid-After="20240101Z",valid-before="203001011200" ssh-ed25519 ${key}`,
        '',
      ].join('\r\n'),
      'as',
    );
    expect(problems).toEqual([]);
    expect(signers.map(({ fingerprint, key: _k, ...s }) => s)).toEqual([
      { line: 3, principals: ['user1@example.com', 'user2@example.com'], certAuthority: false, keyType: 'ssh-ed25519' },
      { line: 4, principals: ['*@example.com'], certAuthority: true, keyType: 'ssh-ed25519' },
      { line: 5, principals: ['user3@example.com'], certAuthority: false, namespaces: ['file', 'paddock-*'], validAfter: '20240101Z', validBefore: '203001011200', keyType: 'ssh-ed25519' },
    ]);
    const sf = { file: 'as', signers };
    expect(signersFor(sf, 'user2@example.com').map((s) => s.line)).toEqual([3, 4]);
    expect(signersFor(sf, 'user3@example.com').map((s) => s.line)).toEqual([4, 5]);
  });

  it('names keys by the fingerprint ssh-keygen -l prints', () => {
    for (const name of ['alice', 'carol'] as const) {
      const pub = readFileSync(`${a.ssh[name]}.pub`, 'utf8');
      const [type, b64] = pub.split(' ');
      const { signers } = parseAllowedSigners(`${name}@example.com ${type} ${b64}\n`, 'as');
      // `ssh-keygen -lf key.pub`: "256 SHA256:... comment (ED25519)"
      expect(signers[0].fingerprint).toBe(execFileSync('ssh-keygen', ['-lf', `${a.ssh[name]}.pub`], { encoding: 'utf8' }).split(' ')[1]);
    }
  });

  it('matches principals as ssh pattern-lists (wildcards, negation)', () => {
    expect(matchPatternList('alice@example.com', ['*@example.com'])).toBe(true);
    expect(matchPatternList('alice@example.com', ['*@example.com', '!alice@*'])).toBe(false);
    expect(matchPatternList('al@example.com', ['a?@example.com'])).toBe(true);
    expect(matchPatternList('alice@example.org', ['*@example.com'])).toBe(false);
    expect(matchPatternList('alice@example.com', ['Alice@example.com'])).toBe(false);
    expect(matchPatternList('a.b', ['a?b'])).toBe(true);
    expect(matchPatternList('axb', ['a.b'])).toBe(false);
  });
});

describe('roles', () => {
  it('rolesOf and requiredRoles read the policy', () => {
    const p = loadPolicy(a.policyFile);
    expect(rolesOf(p, 'erin@example.com')).toEqual(['technical', 'safety']);
    expect(rolesOf(p, 'policy:demo')).toEqual(['product']);
    expect(rolesOf(p, 'mallory')).toEqual([]);
    expect(requiredRoles(p, 'production')).toEqual(['technical', 'safety', 'security', 'product']);
    expect(requiredRoles(p, 'candidate')).toEqual(['technical']);
    expect(requiredRoles(p, 'staging')).toEqual([]);
  });

  it('assignRoles finds the assignment that covers the most roles', () => {
    const who = new Map([
      ['alice', ['technical', 'safety'] as const],
      ['bob', ['technical'] as const],
    ]);
    // Greedy in name order would give alice technical and leave safety uncovered.
    expect(Object.fromEntries(assignRoles(who as never, ['technical', 'safety']))).toEqual({ technical: 'bob', safety: 'alice' });
    expect(assignRoles(new Map([['erin', ['technical', 'safety']]]) as never, ['technical', 'safety']).size).toBe(1);
  });
});
