/**
 * Signed approvals (src/registry/approvals.ts), with real keys and the real ssh-keygen: each
 * scheme signs and verifies; every kind of forgery is refused with its reason (bytes flipped,
 * another key, another identity, another namespace, a payload or a stored row edited, a role
 * not held, an expired key); and approvalStatus counts roles for one entry digest with
 * separation of duties, rejections, expiry and other digests.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/files/canonical-json.js';
import { approvalPayload, approvalStatus, signApproval, verifyApproval, type ApprovalRecord, type SignedApproval } from '../../src/registry/approvals.js';
import { loadPolicy, parsePolicy, type RegistryPolicy } from '../../src/registry/policy.js';
import type { ApprovalPayload, Role } from '../../src/schema/registry-policy.js';
import { POLICY, makeApprovers, type Approvers } from '../fixtures/registry/approvers.js';

let a: Approvers;
let policy: RegistryPolicy;
beforeAll(() => {
  a = makeApprovers();
  policy = loadPolicy(a.policyFile);
});
afterAll(() => a?.cleanup());

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const NOW = Date.now();
const base = { model: 'world-detector', version: '1.4.0', stage: 'production', decision: 'approved', reason: 'metrics and slices hold', at: NOW - 60_000, entry_digest: DIGEST } as const;
const payload = (role: Role, identity: string, over: Partial<ApprovalPayload> = {}): ApprovalPayload => ({ ...base, role, identity, ...over });

/** Who signs with what, as the fixture's approvers are set up. */
const KEYS = () =>
  ({
    'alice@example.com': { scheme: 'ssh', keyFile: a.ssh.alice },
    'carol@example.com': { scheme: 'ssh', keyFile: a.ssh.carol },
    'erin@example.com': { scheme: 'ssh', keyFile: a.ssh.erin },
    'grace@example.com': { scheme: 'ssh', keyFile: a.ssh.grace },
    'bob@example.com': { scheme: 'ecdsa', keyFile: a.ecdsa.bob },
    'dan@example.com': { scheme: 'ecdsa', keyFile: a.ecdsa.dan },
    'policy:demo': { scheme: 'policy', keyFile: a.registryKey },
  }) as const;
const signed = (role: Role, identity: keyof ReturnType<typeof KEYS>, over: Partial<ApprovalPayload> = {}): SignedApproval => signApproval({ ...KEYS()[identity], payload: payload(role, identity, over) });

const why = (x: ApprovalRecord, opts = {}) => {
  const v = verifyApproval(policy, x, opts);
  return v.ok ? 'ok' : v.why!.replaceAll(a.dir, '<dir>');
};
const paddockTemps = () => readdirSync(tmpdir()).filter((f) => f.startsWith('paddock-approval-'));

describe('approvalPayload', () => {
  it('is the canonical JSON of the approval, validated', () => {
    const text = approvalPayload(payload('technical', 'alice@example.com'));
    expect(text).toBe(canonicalJson(payload('technical', 'alice@example.com')));
    expect(text.startsWith('{"at":')).toBe(true);
    expect(() => approvalPayload({ ...payload('technical', 'alice@example.com'), reason: '' })).toThrow('approval payload: reason: an approval gives a reason');
    expect(() => approvalPayload({ ...payload('technical', 'alice@example.com'), role: 'legal' as Role })).toThrow('role: unknown role "legal"');
    expect(() => approvalPayload({ ...payload('technical', 'alice@example.com'), extra: 1 } as ApprovalPayload)).toThrow('Unrecognized key: "extra"');
  });
});

describe('signatures', () => {
  it('signs and verifies in each scheme, with the real ssh-keygen for ssh', () => {
    const before = paddockTemps().length;
    const ssh = signed('technical', 'alice@example.com');
    expect(ssh.signature).toMatch(/^-----BEGIN SSH SIGNATURE-----\n[\s\S]+-----END SSH SIGNATURE-----\n$/);
    expect(why(ssh)).toBe('ok');
    // An ecdsa-sha2-nistp256 SSH key works as an ed25519 one does.
    expect(why(signed('security', 'carol@example.com'))).toBe('ok');
    const ec = signed('safety', 'bob@example.com');
    expect(Buffer.from(ec.signature, 'base64').toString('base64')).toBe(ec.signature);
    expect(why(ec)).toBe('ok');
    // policy: checked with the registry key given, or with the policy's audit keys (the same key here).
    const pol = signed('product', 'policy:demo');
    expect(why(pol, { registryPublicPem: a.registryPublicPem })).toBe('ok');
    expect(why(pol)).toBe('ok');
    // ssh-keygen's temp signature files are gone again.
    expect(paddockTemps().length).toBe(before);
  });

  it('accepts an approval that ssh-keygen signed outside paddock (as git would run it)', () => {
    const text = approvalPayload(payload('technical', 'alice@example.com'));
    const signature = execFileSync('ssh-keygen', ['-Y', 'sign', '-f', a.ssh.alice, '-n', 'paddock-approval'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });
    expect(why({ scheme: 'ssh', payload: text, signature })).toBe('ok');
  });

  it('accepts the stored row when its columns are the payload (at as a BIGINT string, too)', () => {
    const s = signed('technical', 'alice@example.com');
    expect(why({ ...s, id: 'a1', model: 'world-detector', version: '1.4.0', stage: 'production', role: 'technical', identity: 'alice@example.com', decision: 'approved', reason: base.reason, at: String(base.at) })).toBe('ok');
  });

  it('refuses forgeries, each with its reason', () => {
    const alice = signed('technical', 'alice@example.com');
    const lines = alice.signature.split('\n');
    // Flip one character in the last line of the armor: the signature bytes themselves.
    const last = lines.length - 3;
    const flip = (l: string, i: number) => l.slice(0, i) + (l[i] === 'A' ? 'B' : 'A') + l.slice(i + 1);
    const flipped = { ...alice, signature: [...lines.slice(0, last), flip(lines[last], 8), ...lines.slice(last + 1)].join('\n') };
    expect(why(flipped)).toMatch(/^the signature does not verify over the payload with alice@example\.com's key SHA256:\S+: the payload was changed after signing, or the signature is forged \(ssh-keygen: Signature verification failed: incorrect signature\)$/);

    const edited = { ...alice, payload: approvalPayload(payload('technical', 'alice@example.com', { reason: 'looks fine to me' })) };
    expect(why(edited)).toMatch(/^the signature does not verify over the payload with alice@example\.com's key .*\(ssh-keygen: Signature verification failed: incorrect signature\)$/);

    // Signed with a key the allowed signers do not list.
    const mallory = signApproval({ scheme: 'ssh', payload: payload('technical', 'alice@example.com'), keyFile: a.ssh.mallory });
    expect(why(mallory)).toMatch(/^signed with key SHA256:\S+, which no line of <dir>\/allowed_signers lists \(ssh-keygen: Could not verify signature\.\)$/);

    // Signed by alice, for carol: another identity's approval.
    const asCarol = signApproval({ scheme: 'ssh', payload: payload('security', 'carol@example.com'), keyFile: a.ssh.alice });
    expect(why(asCarol)).toBe('signed with the key of alice@example.com (<dir>/allowed_signers:2), not a key allowed for carol@example.com (ssh-keygen: Could not verify signature.)');

    // alice's payload re-labelled as carol's, alice's signature kept.
    const relabelled = { ...alice, payload: approvalPayload(payload('technical', 'carol@example.com')) };
    expect(why(relabelled)).toBe('signed with the key of alice@example.com (<dir>/allowed_signers:2), not a key allowed for carol@example.com (ssh-keygen: Signature verification failed: incorrect signature)');

    // A signature alice made for git (her allowed_signers line allows git too) is no approval.
    const text = approvalPayload(payload('technical', 'alice@example.com'));
    const forGit = execFileSync('ssh-keygen', ['-Y', 'sign', '-f', a.ssh.alice, '-n', 'git'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });
    expect(why({ scheme: 'ssh', payload: text, signature: forGit })).toBe('signed for namespace "git", not "paddock-approval" (ssh-keygen: Couldn\'t verify signature: namespace does not match)');

    expect(why({ ...alice, signature: 'not a signature' })).toBe('not an SSH signature (no -----BEGIN SSH SIGNATURE----- block)');
    expect(why({ ...alice, signature: '-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n' })).toBe('the SSH signature is truncated');
  });

  it('refuses a key whose allowed_signers line does not allow the approval namespace', () => {
    // erin's SSH key is allowed for git only; she approves with an ECDSA key instead.
    const erinPub = readFileSync(`${a.ssh.erin}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(join(a.dir, 'allowed_signers_git'), `${readFileSync(join(a.dir, 'allowed_signers'), 'utf8').replace(/^erin@.*\n/m, '')}erin@example.com namespaces="git" ${erinPub}\n`);
    const p = parsePolicy(POLICY.replace('./allowed_signers', './allowed_signers_git').replace('ecdsa: { ', 'ecdsa: { erin@example.com: ./keys/mallory.pub.pem, '), a.policyFile);
    const v = verifyApproval(p, signed('technical', 'erin@example.com'));
    expect(v.why?.replaceAll(a.dir, '<dir>')).toMatch(/^<dir>\/allowed_signers_git:5 allows key SHA256:\S+ only for namespaces "git", not "paddock-approval" \(ssh-keygen: <dir>\/allowed_signers_git:5: key is not permitted for use in signature namespace "paddock-approval"\)$/);
  });

  it('refuses a good signature by an identity that does not hold the role', () => {
    expect(why(signed('safety', 'alice@example.com'))).toBe('alice@example.com does not hold the role safety (roles.safety: bob@example.com, erin@example.com)');
    expect(why(signed('technical', 'bob@example.com'))).toBe('bob@example.com does not hold the role technical (roles.technical: alice@example.com, erin@example.com, grace@example.com)');
  });

  it('refuses a key outside its allowed_signers validity window, judged at the time given', () => {
    const grace = signed('technical', 'grace@example.com');
    expect(why(grace)).toMatch(/^<dir>\/allowed_signers:5 limits key SHA256:\S+ to valid-before=20200101 \(ssh-keygen: <dir>\/allowed_signers:5: key has expired: verify time .* > valid-before 2020-01-01T00:00:00\)$/);
    expect(why(grace, { now: Date.UTC(2019, 5, 1) })).toBe('ok');
  });

  it('refuses a stored row changed after signing, and a payload not in canonical form', () => {
    const bob = signed('safety', 'bob@example.com');
    expect(why({ ...bob, role: 'technical' })).toBe('the stored approval was changed after signing: role is "technical" but the signed payload says "safety"');
    expect(why({ ...bob, decision: 'rejected', at: base.at + 1 })).toBe('the stored approval was changed after signing: decision is "rejected" but the signed payload says "approved"; at is ' + (base.at + 1) + ' but the signed payload says ' + base.at);
    expect(why({ ...bob, payload: JSON.stringify(JSON.parse(bob.payload), null, 1) })).toBe('the payload is not in canonical JSON form (sorted keys, no spaces), so it is not what was signed');
    expect(why({ ...bob, payload: '{"model":' })).toMatch(/^the payload is not JSON/);
    expect(why({ ...bob, payload: '{"model":"m"}' })).toMatch(/^the payload is not an approval: version: /);
    expect(why({ ...bob, scheme: 'pgp' as never })).toBe('unknown scheme "pgp" (ssh, ecdsa or policy)');
  });

  it('ecdsa: refuses flipped bytes, another identity\'s key, an unknown key and an edited payload', () => {
    const bob = signed('safety', 'bob@example.com');
    const der = Buffer.from(bob.signature, 'base64');
    der[der.length - 5] ^= 0x01;
    expect(why({ ...bob, signature: der.toString('base64') })).toBe("the signature does not verify over the payload with bob@example.com's key (<dir>/keys/bob.pub.pem): the payload was changed after signing, or the signature is forged");
    expect(why({ ...bob, signature: `${bob.signature}\n` })).toBe('the signature is not base64 of a DER ECDSA signature');
    const byDan = signApproval({ scheme: 'ecdsa', payload: payload('safety', 'bob@example.com'), keyFile: a.ecdsa.dan });
    expect(why(byDan)).toBe("signed with the key of dan@example.com (<dir>/keys/dan.pub.pem), not with bob@example.com's");
    const byMallory = signApproval({ scheme: 'ecdsa', payload: payload('safety', 'bob@example.com'), keyFile: a.ecdsa.mallory });
    expect(why(byMallory)).toBe("the signature does not verify over the payload with bob@example.com's key (<dir>/keys/bob.pub.pem): the payload was changed after signing, or the signature is forged");
    expect(why({ ...bob, payload: approvalPayload(payload('safety', 'bob@example.com', { version: '1.5.0' })) })).toBe("the signature does not verify over the payload with bob@example.com's key (<dir>/keys/bob.pub.pem): the payload was changed after signing, or the signature is forged");
    // alice signs with SSH only: no ecdsa key is listed for her.
    const aliceEc = signApproval({ scheme: 'ecdsa', payload: payload('technical', 'alice@example.com'), keyFile: a.ecdsa.bob });
    expect(why(aliceEc)).toBe('an ecdsa approval, and signers.ecdsa has no key for alice@example.com');
  });

  it('policy: valid only for the headless identity and the registry\'s key', () => {
    const asDan = signApproval({ scheme: 'policy', payload: payload('product', 'dan@example.com'), keyFile: a.registryKey });
    expect(why(asDan)).toBe('a policy approval may answer only as the headless identity policy:demo, not as dan@example.com');
    const notRegistry = signApproval({ scheme: 'policy', payload: payload('product', 'policy:demo'), keyFile: a.ecdsa.dan });
    expect(why(notRegistry)).toBe("the signature does not verify with the registry's key: the payload was changed after signing, or it was not signed by this registry");
    // The headless identity holds product only.
    expect(why(signApproval({ scheme: 'policy', payload: payload('safety', 'policy:demo'), keyFile: a.registryKey }))).toBe('policy:demo does not hold the role safety (roles.safety: bob@example.com, erin@example.com)');
    const noHeadless = parsePolicy(POLICY.replace('headless: { approve_as: "policy:demo" }\n', '').replace(', "policy:demo"]', ']'), a.policyFile);
    expect(verifyApproval(noHeadless, signed('product', 'policy:demo')).why).toBe('a policy approval, and the policy names no headless identity (headless.approve_as)');
    const noKeys = parsePolicy(POLICY.replace('audit_keys: ./keys/registry.pub.pem\n', ''), a.policyFile);
    expect(verifyApproval(noKeys, signed('product', 'policy:demo')).why).toBe("a policy approval is signed with the registry's key, and none is known (give registryPublicPem, or name audit_keys in the policy)");
    expect(verifyApproval(noKeys, signed('product', 'policy:demo'), { registryPublicPem: a.registryPublicPem }).ok).toBe(true);
  });

  it('refuses to sign with a missing key or a bad payload', () => {
    expect(() => signApproval({ scheme: 'ssh', payload: payload('technical', 'alice@example.com'), keyFile: `${a.dir}/nope` })).toThrow(`approval signing key ${a.dir}/nope: no such file`);
    expect(() => signApproval({ scheme: 'ecdsa', payload: payload('technical', 'alice@example.com'), keyFile: a.ssh.alice })).toThrow(/the key must be ECDSA P-256|not a PEM private key/);
    expect(() => signApproval({ scheme: 'ssh', payload: '{"a":1}', keyFile: a.ssh.alice })).toThrow('cannot sign the approval: the payload is not an approval');
    expect(() => signApproval({ scheme: 'ssh', payload: payload('technical', 'alice@example.com'), keyFile: `${a.dir}/allowed_signers` })).toThrow(/^ssh-keygen -Y sign -f .*allowed_signers failed: /);
  });
});

describe('approvalStatus', () => {
  const all = () => [signed('technical', 'alice@example.com'), signed('safety', 'bob@example.com'), signed('security', 'carol@example.com'), signed('product', 'policy:demo')];

  it('is satisfied when every required role is approved for this digest', () => {
    const s = approvalStatus(policy, 'production', all(), DIGEST);
    expect(s).toEqual({
      satisfied: true,
      required: ['technical', 'safety', 'security', 'product'],
      missing: [],
      approvedBy: [
        { role: 'technical', identity: 'alice@example.com', at: base.at },
        { role: 'safety', identity: 'bob@example.com', at: base.at },
        { role: 'security', identity: 'carol@example.com', at: base.at },
        { role: 'product', identity: 'policy:demo', at: base.at },
      ],
      rejectedBy: [],
      problems: [],
    });
    // candidate needs technical only; production approvals do not count for it.
    expect(approvalStatus(policy, 'candidate', all(), DIGEST)).toMatchObject({ satisfied: false, missing: ['technical'], problems: [] });
    expect(approvalStatus(policy, 'candidate', [signed('technical', 'alice@example.com', { stage: 'candidate' })], DIGEST)).toMatchObject({ satisfied: true, missing: [] });
    // staging needs nothing.
    expect(approvalStatus(policy, 'staging', [], DIGEST).satisfied).toBe(true);
  });

  it('names a missing role', () => {
    const s = approvalStatus(policy, 'production', all().slice(0, 3), DIGEST);
    expect(s).toMatchObject({ satisfied: false, missing: ['product'], problems: [] });
  });

  it('counts neither a forged approval nor one for another digest, naming both', () => {
    const good = all();
    const forged = { ...good[1], payload: approvalPayload(payload('safety', 'bob@example.com', { reason: 'rubber stamp' })) };
    const other = signed('security', 'carol@example.com', { entry_digest: `sha256:${'cd'.repeat(32)}` });
    const s = approvalStatus(policy, 'production', [good[0], { ...forged, id: 'ap-7' }, other, good[3]], DIGEST);
    expect(s.satisfied).toBe(false);
    expect(s.missing).toEqual(['safety', 'security']);
    expect(s.problems.map((p) => p.replaceAll(a.dir, '<dir>'))).toEqual([
      "approval ap-7 (safety approved by bob@example.com): refused: the signature does not verify over the payload with bob@example.com's key (<dir>/keys/bob.pub.pem): the payload was changed after signing, or the signature is forged",
      `approval #3 (security approved by carol@example.com): for entry digest sha256:${'cd'.repeat(32)}, not this entry's ${DIGEST}: not counted`,
    ]);
  });

  it('a verified rejection blocks, until the same person approves later', () => {
    const reject = signed('security', 'carol@example.com', { decision: 'rejected', reason: 'CVE-2025-1234 unpatched', at: base.at + 1000 });
    const s = approvalStatus(policy, 'production', [...all(), reject], DIGEST);
    expect(s.satisfied).toBe(false);
    expect(s.missing).toEqual(['security']);
    expect(s.rejectedBy).toEqual([{ role: 'security', identity: 'carol@example.com', reason: 'CVE-2025-1234 unpatched', at: base.at + 1000 }]);
    // A rejection blocks even when another holder covers the role... (technical: alice approved, erin rejected)
    const erinRejects = signed('technical', 'erin@example.com', { decision: 'rejected', reason: 'latency regression on orin' });
    expect(approvalStatus(policy, 'production', [...all(), erinRejects], DIGEST)).toMatchObject({ satisfied: false, missing: [], rejectedBy: [{ identity: 'erin@example.com', role: 'technical' }] });
    // ...and carol's later approval replaces her rejection.
    const again = signed('security', 'carol@example.com', { reason: 'patched in 1.4.0', at: base.at + 2000 });
    expect(approvalStatus(policy, 'production', [...all(), reject, again], DIGEST)).toMatchObject({ satisfied: true, rejectedBy: [] });
    // A forged rejection does not block (it is named instead).
    const forgedReject = { ...reject, signature: signApproval({ scheme: 'ssh', payload: reject.payload, keyFile: a.ssh.mallory }).signature };
    const f = approvalStatus(policy, 'production', [...all(), forgedReject], DIGEST);
    expect(f.satisfied).toBe(true);
    expect(f.problems[0]).toMatch(/^approval #5 \(security rejected by carol@example\.com\): refused: signed with key SHA256:\S+, which no line of .* lists/);
  });

  it('separation of duties: one identity counts for one role, and is named', () => {
    // erin holds technical and safety and approves both; bob and alice do not approve.
    const erin = [signed('technical', 'erin@example.com'), signed('safety', 'erin@example.com')];
    const s = approvalStatus(policy, 'production', [...erin, signed('security', 'carol@example.com'), signed('product', 'dan@example.com')], DIGEST);
    expect(s.satisfied).toBe(false);
    expect(s.missing).toEqual(['safety']);
    expect(s.approvedBy.map((x) => `${x.role}=${x.identity}`)).toEqual(['technical=erin@example.com', 'security=carol@example.com', 'product=dan@example.com']);
    expect(s.problems).toEqual(['erin@example.com approved as technical and safety; separation of duties counts one identity for one role (counted for technical)']);
    // With alice approving technical, erin's approval counts for safety: satisfied (the assignment is chosen to cover the most roles).
    const withAlice = approvalStatus(policy, 'production', [...erin, signed('technical', 'alice@example.com'), signed('security', 'carol@example.com'), signed('product', 'dan@example.com')], DIGEST);
    expect(withAlice.satisfied).toBe(true);
    expect(withAlice.approvedBy.map((x) => `${x.role}=${x.identity}`)).toEqual(['technical=alice@example.com', 'safety=erin@example.com', 'security=carol@example.com', 'product=dan@example.com']);
    expect(withAlice.problems).toEqual(['erin@example.com approved as technical and safety; separation of duties counts one identity for one role (counted for safety)']);
    // A policy that allows it counts erin twice.
    const lax = parsePolicy(POLICY.replace('separation_of_duties: true', 'separation_of_duties: false'), a.policyFile);
    expect(approvalStatus(lax, 'production', [...erin, signed('security', 'carol@example.com'), signed('product', 'dan@example.com')], DIGEST)).toMatchObject({ satisfied: true, missing: [], problems: [] });
  });

  it('does not count an approval older than approvals.max_age_days, nor one dated in the future', () => {
    const week = parsePolicy(`${POLICY}approvals: { max_age_days: 7 }\n`, a.policyFile);
    const old = signed('technical', 'alice@example.com', { at: NOW - 8 * 86_400_000 });
    const s = approvalStatus(week, 'production', [old, ...all().slice(1)], DIGEST, { now: NOW });
    expect(s.missing).toEqual(['technical']);
    expect(s.problems).toEqual([`approval #1 (technical approved by alice@example.com): given ${new Date(NOW - 8 * 86_400_000).toISOString()}, more than approvals.max_age_days (7) ago: expired, not counted`]);
    expect(approvalStatus(week, 'production', all(), DIGEST, { now: NOW }).satisfied).toBe(true);
    // Without max_age_days the same approval still counts.
    expect(approvalStatus(policy, 'production', [old, ...all().slice(1)], DIGEST, { now: NOW }).satisfied).toBe(true);
    const future = signed('technical', 'alice@example.com', { at: NOW + 3_600_000 });
    expect(approvalStatus(policy, 'production', [future, ...all().slice(1)], DIGEST, { now: NOW }).problems[0]).toBe(`approval #1 (technical approved by alice@example.com): dated ${new Date(NOW + 3_600_000).toISOString()}, in the future: not counted`);
  });

  it('does not count an approval from a key whose allowed_signers line has expired', () => {
    const s = approvalStatus(policy, 'candidate', [signed('technical', 'grace@example.com', { stage: 'candidate' })], DIGEST);
    expect(s.satisfied).toBe(false);
    expect(s.problems[0]).toMatch(/^approval #1 \(technical approved by grace@example\.com\): refused: .*allowed_signers:5 limits key .* valid-before=20200101/);
  });
});
