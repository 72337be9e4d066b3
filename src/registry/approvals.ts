/**
 * Signed approvals by role (issue 20 item 3). An approval is the canonical JSON
 * (src/files/canonical-json.ts) of { model, version, stage, role, identity, decision, reason, at,
 * entry_digest } and a signature over exactly those bytes, in one of three schemes:
 *
 * - `ssh`: `ssh-keygen -Y sign -n paddock-approval` with the approver's SSH key, checked with
 *   `ssh-keygen -Y verify` against the policy's allowed signers file, the way git signs and
 *   verifies commits with gpg.format=ssh (git's gpg-interface.c; ssh-keygen(1), PROTOCOL.sshsig).
 *   The namespace keeps a signature made for git or for a file from passing as an approval.
 * - `ecdsa`: the pack's scheme (src/pack/signing.ts): ECDSA P-256 over the payload, SHA-256,
 *   base64 of the DER signature, checked with the identity's key from policy.signers.ecdsa.
 * - `policy`: a headless answer by policy (policy.headless.approve_as), signed with the
 *   registry's own P-256 key; valid only for the identity the policy names there.
 *
 * approvalStatus decides whether a stage's required roles are covered for one entry digest.
 */
import { spawnSync } from 'node:child_process';
import { sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../files/canonical-json.js';
import { InputError } from '../files/input-error.js';
import { privateKeyFromPem } from '../pack/signing.js';
import { parseKeyring } from '../pack/trust.js';
import { ApprovalPayload, ApprovalScheme, type Role, type Stage } from '../schema/registry-policy.js';
import { APPROVAL_NAMESPACE, assignRoles, matchPatternList, requiredRoles, rolesOf, sshFingerprint, type RegistryPolicy } from './policy.js';

export class ApprovalError extends InputError {}

/** An approval as stored: the signed payload text and its signature (the approvals table's scheme, payload, signature). */
export interface SignedApproval {
  scheme: ApprovalScheme;
  /** canonicalJson(ApprovalPayload): the signed bytes. */
  payload: string;
  /** ssh: the armored SSH SIGNATURE; ecdsa and policy: base64 DER. */
  signature: string;
}

/**
 * A stored approval row may carry its columns beside the payload (src/registry/schema.ts); when
 * it does, each must equal the signed payload's, or the row was changed after signing.
 */
export type ApprovalRecord = SignedApproval & { id?: string } & { [K in keyof ApprovalPayload]?: unknown };

/** The outcome of checking one approval; `payload` is the signed content when it could be read. */
export interface ApprovalVerification {
  ok: boolean;
  why?: string;
  payload?: ApprovalPayload;
}

/** The payload to sign, validated, as its canonical JSON text. */
export function approvalPayload(fields: ApprovalPayload): string {
  const parsed = ApprovalPayload.safeParse(fields);
  if (!parsed.success) throw new ApprovalError(`approval payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return canonicalJson(parsed.data);
}

/** ssh-keygen as git runs it (gpg.ssh.program's default): the one on PATH. */
const SSH_KEYGEN = 'ssh-keygen';

function runSshKeygen(args: string[], input: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(SSH_KEYGEN, args, { input, encoding: 'utf8', timeout: 30_000, stdio: ['pipe', 'pipe', 'pipe'] });
  if (r.error) throw new ApprovalError(`${SSH_KEYGEN} ${args[0]} ${args[1]}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'ssh-keygen is not installed (OpenSSH 8.2 or later signs with -Y)' : r.error.message}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * What ssh-keygen said, both streams: it prints some refusals ("Could not verify signature.") on
 * stdout, and "Signing data on standard input" first on stderr, which says nothing.
 */
const sshComplaint = (out: string) => {
  const lines = out.split('\n').map((l) => l.trim()).filter((l) => l && !/^Signing data on standard input/.test(l));
  // "Could not verify signature." closes every refusal; it says something only when nothing else does.
  const telling = lines.filter((l) => l !== 'Could not verify signature.');
  return (telling.length ? telling : lines).join('; ') || 'no message';
};

/**
 * Signs an approval. `keyFile`: ssh, the approver's SSH private key (or its .pub with the private
 * half in ssh-agent, as git allows); ecdsa and policy, a PEM P-256 private key (the registry's
 * own for policy). The payload is validated first; a string must be its canonical JSON.
 */
export function signApproval(a: { scheme: ApprovalScheme; payload: ApprovalPayload | string; keyFile: string }): SignedApproval {
  const scheme = ApprovalScheme.parse(a.scheme);
  const read = readPayload(typeof a.payload === 'string' ? a.payload : approvalPayload(a.payload));
  if ('why' in read) throw new ApprovalError(`cannot sign the approval: ${read.why}`);
  const payload = read.text;
  if (!existsSync(a.keyFile)) throw new ApprovalError(`approval signing key ${a.keyFile}: no such file`);
  if (scheme === 'ssh') {
    const r = runSshKeygen(['-Y', 'sign', '-f', a.keyFile, '-n', APPROVAL_NAMESPACE], payload);
    if (r.status !== 0 || !r.stdout.includes('-----BEGIN SSH SIGNATURE-----')) throw new ApprovalError(`ssh-keygen -Y sign -f ${a.keyFile} failed: ${sshComplaint(`${r.stderr}\n${r.stdout}`)}`);
    return { scheme, payload, signature: r.stdout.trim() + '\n' };
  }
  const key = privateKeyFromPem(readFileSync(a.keyFile, 'utf8'), a.keyFile);
  return { scheme, payload, signature: sign('sha256', Buffer.from(payload, 'utf8'), key).toString('base64') };
}

/** The payload text parsed: JSON, the schema, and canonical (its bytes are what approvalPayload makes). */
function readPayload(text: string): { payload: ApprovalPayload; text: string } | { why: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { why: `the payload is not JSON (${(err as Error).message})` };
  }
  const parsed = ApprovalPayload.safeParse(data);
  if (!parsed.success) return { why: `the payload is not an approval: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  // Canonical form is what was signed; any other spelling of the same JSON was not produced here.
  if (canonicalJson(parsed.data) !== text) return { why: 'the payload is not in canonical JSON form (sorted keys, no spaces), so it is not what was signed' };
  return { payload: parsed.data, text };
}

/** The fields of PROTOCOL.sshsig's blob that say who signed and for what. */
function parseSshSignature(armored: string): { publicKey: Buffer; namespace: string } | { problem: string } {
  const m = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/.exec(armored);
  if (!m) return { problem: 'not an SSH signature (no -----BEGIN SSH SIGNATURE----- block)' };
  const b64 = m[1].replace(/\s+/g, '');
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) return { problem: 'the SSH signature is not valid base64' };
  let at = 0;
  const str = (): Buffer | undefined => {
    if (at + 4 > blob.length) return undefined;
    const n = blob.readUInt32BE(at);
    if (at + 4 + n > blob.length) return undefined;
    const s = blob.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return s;
  };
  // byte[6] "SSHSIG", uint32 version, string publickey, string namespace, ...
  if (blob.subarray(0, 6).toString('latin1') !== 'SSHSIG') return { problem: 'the SSH signature lacks the SSHSIG preamble' };
  at = 10;
  const publicKey = str();
  const namespace = str();
  if (!publicKey || !namespace) return { problem: 'the SSH signature is truncated' };
  return { publicKey, namespace: namespace.toString('utf8') };
}

/** `-Overify-time` takes YYYYMMDDHHMMSSZ (ssh-keygen(1)); a key's valid-after/valid-before are judged at that time. */
function sshTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

function verifySsh(policy: RegistryPolicy, p: ApprovalPayload, payload: string, signature: string, now: number | undefined): string | undefined {
  const allowed = policy.signers.allowed_signers;
  if (!allowed) return 'an ssh approval, and the policy names no signers.allowed_signers to check it against';
  const sig = parseSshSignature(signature);
  if ('problem' in sig) return sig.problem;
  const dir = mkdtempSync(join(tmpdir(), 'paddock-approval-'));
  let r: { status: number; stdout: string; stderr: string };
  try {
    const sigFile = join(dir, 'approval.sig');
    writeFileSync(sigFile, signature, { mode: 0o600 });
    const args = ['-Y', 'verify', '-f', allowed.file, '-I', p.identity, '-n', APPROVAL_NAMESPACE, '-s', sigFile];
    if (now !== undefined) args.push('-O', `verify-time=${sshTime(now)}`);
    r = runSshKeygen(args, payload);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (r.status === 0) return undefined;
  // ssh-keygen says only "Could not verify signature." for most refusals: find out which.
  const said = `(ssh-keygen: ${sshComplaint(`${r.stderr}\n${r.stdout}`)})`;
  if (sig.namespace !== APPROVAL_NAMESPACE) return `signed for namespace "${sig.namespace}", not "${APPROVAL_NAMESPACE}" ${said}`;
  const fp = sshFingerprint(sig.publicKey);
  const lines = allowed.signers.filter((s) => Buffer.from(s.key, 'base64').equals(sig.publicKey));
  if (!lines.length) return `signed with key ${fp}, which no line of ${allowed.file} lists ${said}`;
  const mine = lines.filter((s) => matchPatternList(p.identity, s.principals));
  if (!mine.length) return `signed with the key of ${lines.map((s) => `${s.principals.join(',')} (${allowed.file}:${s.line})`).join(', ')}, not a key allowed for ${p.identity} ${said}`;
  const inNs = mine.filter((s) => !s.namespaces || matchPatternList(APPROVAL_NAMESPACE, s.namespaces));
  if (!inNs.length) return `${allowed.file}:${mine[0].line} allows key ${fp} only for namespaces "${mine[0].namespaces!.join(',')}", not "${APPROVAL_NAMESPACE}" ${said}`;
  const windowed = inNs.find((s) => s.validAfter || s.validBefore);
  if (windowed && /expired|not yet valid/i.test(r.stderr)) return `${allowed.file}:${windowed.line} limits key ${fp} to${windowed.validAfter ? ` valid-after=${windowed.validAfter}` : ''}${windowed.validBefore ? ` valid-before=${windowed.validBefore}` : ''} ${said}`;
  return `the signature does not verify over the payload with ${p.identity}'s key ${fp}: the payload was changed after signing, or the signature is forged ${said}`;
}

function verifyDer(keys: { key: KeyObject }[], payload: string, signature: string): 'bad-encoding' | number {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return 'bad-encoding';
  const der = Buffer.from(signature, 'base64');
  if (der.toString('base64') !== signature) return 'bad-encoding';
  return keys.findIndex((k) => {
    try {
      return verify('sha256', Buffer.from(payload, 'utf8'), k.key, der);
    } catch {
      return false; // a malformed DER signature
    }
  });
}

function verifyEcdsa(policy: RegistryPolicy, p: ApprovalPayload, payload: string, signature: string): string | undefined {
  const mine = policy.signers.ecdsa[p.identity];
  if (!mine) return `an ecdsa approval, and signers.ecdsa has no key for ${p.identity}`;
  const got = verifyDer([mine], payload, signature);
  if (got === 'bad-encoding') return 'the signature is not base64 of a DER ECDSA signature';
  if (got === 0) return undefined;
  const others = Object.entries(policy.signers.ecdsa).filter(([id]) => id !== p.identity);
  const by = verifyDer(others.map(([, s]) => s), payload, signature);
  if (typeof by === 'number' && by >= 0) return `signed with the key of ${others[by][0]} (${others[by][1].file}), not with ${p.identity}'s`;
  return `the signature does not verify over the payload with ${p.identity}'s key (${mine.file}): the payload was changed after signing, or the signature is forged`;
}

function verifyPolicy(policy: RegistryPolicy, p: ApprovalPayload, payload: string, signature: string, registryPublicPem: string | undefined): string | undefined {
  const headless = policy.headless?.approve_as;
  if (!headless) return 'a policy approval, and the policy names no headless identity (headless.approve_as)';
  if (p.identity !== headless) return `a policy approval may answer only as the headless identity ${headless}, not as ${p.identity}`;
  // The registry's own key: given, else the audit keys the policy trusts (the registry signs its audit chain with it).
  let keys: { key: KeyObject }[];
  try {
    keys = registryPublicPem !== undefined ? parseKeyring(registryPublicPem, 'the registry public key') : policy.audit_keys;
  } catch (err) {
    return (err as Error).message;
  }
  if (!keys.length) return "a policy approval is signed with the registry's key, and none is known (give registryPublicPem, or name audit_keys in the policy)";
  const got = verifyDer(keys, payload, signature);
  if (got === 'bad-encoding') return 'the signature is not base64 of a DER ECDSA signature';
  if (got < 0) return "the signature does not verify with the registry's key: the payload was changed after signing, or it was not signed by this registry";
  return undefined;
}

/** The row's columns that differ from the signed payload (a row edited after signing). */
function columnMismatches(a: ApprovalRecord, p: ApprovalPayload): string[] {
  const out: string[] = [];
  for (const k of Object.keys(p) as (keyof ApprovalPayload)[]) {
    const v = a[k];
    if (v === undefined || v === null) continue;
    // A BIGINT column may come back as a string (node-postgres returns int8 as text).
    const same = k === 'at' ? Number(v) === p.at : v === p[k];
    if (!same) out.push(`${k} is ${JSON.stringify(v)} but the signed payload says ${JSON.stringify(p[k])}`);
  }
  return out;
}

/**
 * Checks one approval: the payload is a canonical approval, the row's columns are the payload's,
 * the signature is good in its scheme and made by the identity's key, and the identity holds the
 * role. `now` (ms) is the time ssh-keygen judges key validity windows at (default: the clock).
 */
export function verifyApproval(policy: RegistryPolicy, approval: ApprovalRecord, opts: { registryPublicPem?: string; now?: number } = {}): ApprovalVerification {
  const scheme = ApprovalScheme.safeParse(approval.scheme);
  if (!scheme.success) return { ok: false, why: `unknown scheme ${JSON.stringify(approval.scheme)} (ssh, ecdsa or policy)` };
  if (typeof approval.payload !== 'string' || typeof approval.signature !== 'string') return { ok: false, why: 'an approval has a payload text and a signature text' };
  const read = readPayload(approval.payload);
  if ('why' in read) return { ok: false, why: read.why };
  const p = read.payload;
  const changed = columnMismatches(approval, p);
  if (changed.length) return { ok: false, why: `the stored approval was changed after signing: ${changed.join('; ')}`, payload: p };
  let why: string | undefined;
  try {
    why =
      scheme.data === 'ssh'
        ? verifySsh(policy, p, read.text, approval.signature, opts.now)
        : scheme.data === 'ecdsa'
          ? verifyEcdsa(policy, p, read.text, approval.signature)
          : verifyPolicy(policy, p, read.text, approval.signature, opts.registryPublicPem);
  } catch (err) {
    why = (err as Error).message;
  }
  if (why) return { ok: false, why, payload: p };
  if (!rolesOf(policy, p.identity).includes(p.role)) return { ok: false, why: `${p.identity} does not hold the role ${p.role} (roles.${p.role}: ${policy.roles[p.role]?.join(', ') || 'no one'})`, payload: p };
  return { ok: true, payload: p };
}

/** Whether a stage's approvals are complete for one entry, and why not. */
export interface ApprovalStatus {
  satisfied: boolean;
  required: Role[];
  /** Required roles with no counted approval. */
  missing: Role[];
  /** The approval counted for each covered required role. */
  approvedBy: { role: Role; identity: string; at: number }[];
  /** Verified rejections in force (each blocks). */
  rejectedBy: { role: Role; identity: string; reason: string; at: number }[];
  /** Approvals that were not counted, and why (refused signatures, another digest, expired, separation of duties). */
  problems: string[];
}

/** How far in the future an approval's `at` may lie (clock skew between machines). */
const FUTURE_SKEW_MS = 5 * 60_000;

/**
 * Whether `approvals` cover every role `stage` requires for the entry with `entryDigest`. Only
 * verified approvals of this stage and digest count (another stage's are ignored; another
 * digest's, an expired one's, a refused one's are named in problems). The latest decision of each
 * identity for each role stands; any standing rejection blocks. With separation_of_duties (the
 * default), one identity counts for one role at most, the roles being assigned so that as many
 * as possible are covered, and an identity that approved under several is named.
 */
export function approvalStatus(policy: RegistryPolicy, stage: Stage, approvals: readonly ApprovalRecord[], entryDigest: string, opts: { registryPublicPem?: string; now?: number } = {}): ApprovalStatus {
  const now = opts.now ?? Date.now();
  const required = requiredRoles(policy, stage);
  const problems: string[] = [];
  const latest = new Map<string, ApprovalPayload>();
  approvals.forEach((a, i) => {
    const v = verifyApproval(policy, a, { registryPublicPem: opts.registryPublicPem, now });
    const p = v.payload;
    const label = `approval ${a.id ?? `#${i + 1}`}${p ? ` (${p.role} ${p.decision} by ${p.identity})` : ''}`;
    if (!v.ok) return void problems.push(`${label}: refused: ${v.why}`);
    if (!p || p.stage !== stage) return;
    if (p.entry_digest !== entryDigest) return void problems.push(`${label}: for entry digest ${p.entry_digest}, not this entry's ${entryDigest}: not counted`);
    const maxDays = policy.approvals?.max_age_days;
    if (maxDays !== undefined && now - p.at > maxDays * 86_400_000) return void problems.push(`${label}: given ${new Date(p.at).toISOString()}, more than approvals.max_age_days (${maxDays}) ago: expired, not counted`);
    if (p.at > now + FUTURE_SKEW_MS) return void problems.push(`${label}: dated ${new Date(p.at).toISOString()}, in the future: not counted`);
    const key = `${p.identity}\u0000${p.role}`;
    const prev = latest.get(key);
    // A later decision replaces an earlier one; at the same instant a rejection stands.
    if (!prev || p.at > prev.at || (p.at === prev.at && p.decision === 'rejected')) latest.set(key, p);
  });
  const standing = [...latest.values()].sort((a, b) => a.at - b.at);
  const rejectedBy = standing.filter((p) => p.decision === 'rejected').map((p) => ({ role: p.role, identity: p.identity, reason: p.reason, at: p.at }));
  const approved = standing.filter((p) => p.decision === 'approved');
  const who = new Map<string, Role[]>();
  for (const p of approved) who.set(p.identity, [...(who.get(p.identity) ?? []), p.role]);
  const holder = new Map<Role, string>();
  if (policy.separation_of_duties) {
    for (const [r, id] of assignRoles(who, required)) holder.set(r, id);
    for (const [id, roles] of who) {
      if (roles.length < 2) continue;
      const counted = required.find((r) => holder.get(r) === id);
      problems.push(`${id} approved as ${roles.join(' and ')}; separation of duties counts one identity for one role (${counted ? `counted for ${counted}` : 'counted for none of the required roles'})`);
    }
  } else for (const r of required) for (const p of approved) if (p.role === r && !holder.has(r)) holder.set(r, p.identity);
  const approvedBy = required.filter((r) => holder.has(r)).map((r) => ({ role: r, identity: holder.get(r)!, at: approved.find((p) => p.role === r && p.identity === holder.get(r))!.at }));
  const missing = required.filter((r) => !holder.has(r));
  return { satisfied: missing.length === 0 && rejectedBy.length === 0, required, missing, approvedBy, rejectedBy, problems };
}
