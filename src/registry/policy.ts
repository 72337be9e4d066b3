/**
 * Loads the registry's policy file (src/schema/registry-policy.ts) and the files it names: the
 * SSH allowed signers, the approvers' ECDSA keys, the publishers' keyring, the audit keys. Every
 * problem is located in the policy, `file:line:col: path: message`, and all of them are reported
 * at once; a problem inside a referenced file also names that file and its line:
 *   registry-policy.yaml:9:20: signers.allowed_signers: /srv/allowed_signers:3: unknown option "nmespaces" ...
 *
 * The allowed signers file is parsed here only to locate its mistakes and to explain a refused
 * signature (src/registry/approvals.ts); whether an SSH signature is good is always ssh-keygen's
 * answer (`ssh-keygen -Y verify` reads the file itself).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, isMap, isNode, isScalar, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { InputError } from '../files/input-error.js';
import { parseKeyring, type TrustedKey } from '../pack/trust.js';
import { RecipeError, parseYamlWith } from '../schema/recipe-load.js';
import { ROLES, STAGES, RegistryPolicyFile, type ConsumptionPolicy, type GovernancePolicy, type Role, type Stage } from '../schema/registry-policy.js';

/** The namespace approvals are signed in (`ssh-keygen -Y sign -n`): a signature made for git or for files cannot pass as an approval. */
export const APPROVAL_NAMESPACE = 'paddock-approval';

/** One problem in a policy, located in the policy file (line 0: the file itself could not be read). */
export interface PolicyIssue {
  file: string;
  path: string;
  line: number;
  column: number;
  message: string;
}

/** `file:line:col: path: message` (no path for a YAML syntax error), or `file: message` for a problem with the whole file. */
export function formatPolicyIssue(i: PolicyIssue): string {
  if (i.line <= 0) return `${i.file}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
  return `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

/** Thrown when a policy cannot be used; `issues` lists every problem found, in the file's order. */
export class PolicyError extends InputError {
  readonly issues: PolicyIssue[];
  constructor(issues: PolicyIssue[]) {
    issues = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
    super(issues.map(formatPolicyIssue).join('\n'));
    this.name = 'PolicyError';
    this.issues = issues;
  }
}

/** One line of an allowed signers file (ssh-keygen(1), ALLOWED SIGNERS). */
export interface AllowedSigner {
  line: number;
  /** A pattern-list (ssh_config(5) PATTERNS): `*` and `?` wildcards, `!` negation. */
  principals: string[];
  certAuthority: boolean;
  /** The namespaces the key may sign in (a pattern-list); absent: any. */
  namespaces?: string[];
  validAfter?: string;
  validBefore?: string;
  keyType: string;
  /** The key blob, base64 as written. */
  key: string;
  /** `SHA256:<base64, unpadded>` of the key blob, as ssh-keygen prints it. */
  fingerprint: string;
}

export interface AllowedSigners {
  file: string;
  signers: AllowedSigner[];
}

/** An approver's ECDSA P-256 public key. */
export interface EcdsaSigner {
  file: string;
  key: KeyObject;
  fingerprint: string;
}

/** A loaded policy: the file as written with every path read and parsed. */
export interface RegistryPolicy {
  /** The policy file, as given. */
  file: string;
  version: 1;
  roles: Partial<Record<Role, string[]>>;
  required: Partial<Record<Stage, Role[]>>;
  separation_of_duties: boolean;
  signers: { allowed_signers?: AllowedSigners; ecdsa: Record<string, EcdsaSigner> };
  /** Trusted pack publishers, for verifyPack(dir, { trusted }) (src/pack/trust.ts). */
  publishers: TrustedKey[];
  /** The audit chain's trusted keys (empty when the policy names none). */
  audit_keys: TrustedKey[];
  governance: GovernancePolicy;
  consumption?: ConsumptionPolicy;
  headless?: { approve_as: string };
  approvals?: { max_age_days: number };
  /** The referenced files, resolved against the policy's directory. */
  paths: { publishers: string; audit_keys: string[]; allowed_signers?: string; ecdsa: Record<string, string> };
}

/** The roles `identity` holds under the policy, in the policy's role order. */
export function rolesOf(policy: Pick<RegistryPolicy, 'roles'>, identity: string): Role[] {
  return ROLES.filter((r) => policy.roles[r]?.includes(identity));
}

/** The roles whose approval a move to `stage` needs (none when the policy lists none). */
export function requiredRoles(policy: Pick<RegistryPolicy, 'required'>, stage: Stage): Role[] {
  return [...(policy.required[stage] ?? [])];
}

/**
 * ssh's match_pattern (match.c): `*` any run of characters, `?` one; case-sensitive, as
 * sshsig.c matches principals and namespaces.
 */
function matchPattern(s: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(s);
}

/** ssh's match_pattern_list: a matching `!pattern` refuses outright, else any plain pattern that matches accepts. */
export function matchPatternList(s: string, patterns: readonly string[]): boolean {
  let ok = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchPattern(s, p.slice(1))) return false;
    } else if (matchPattern(s, p)) ok = true;
  }
  return ok;
}

/** The allowed-signers lines that may sign approvals for `identity` (principal and namespace match). */
export function signersFor(signers: AllowedSigners | undefined, identity: string): AllowedSigner[] {
  return (signers?.signers ?? []).filter((s) => matchPatternList(identity, s.principals) && (!s.namespaces || matchPatternList(APPROVAL_NAMESPACE, s.namespaces)));
}

/**
 * A largest assignment of roles to distinct identities (augmenting paths, Kuhn's algorithm):
 * `who` lists, per identity, the roles it could count for. Separation of duties counts one
 * identity for one role, and the choice matters: alice (technical, safety) and bob (technical)
 * cover both only with bob as technical.
 */
export function assignRoles(who: ReadonlyMap<string, readonly Role[]>, roles: readonly Role[]): Map<Role, string> {
  const holder = new Map<Role, string>();
  const tryAssign = (id: string, seen: Set<Role>): boolean => {
    for (const r of who.get(id) ?? []) {
      if (!roles.includes(r) || seen.has(r)) continue;
      seen.add(r);
      const other = holder.get(r);
      if (other === undefined || tryAssign(other, seen)) {
        holder.set(r, id);
        return true;
      }
    }
    return false;
  };
  for (const id of [...who.keys()].sort()) tryAssign(id, new Set());
  return holder;
}

const SSH_KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ssh-dss',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);
const isKeyType = (t: string) => SSH_KEY_TYPES.has(t) || SSH_KEY_TYPES.has(t.replace(/-cert-v01@openssh\.com$/, ''));

/** One field of a line: a double-quoted run may hold spaces (ssh's strdelimw; opts in sshsig.c). */
function nextField(rest: string): { field: string; rest: string } | undefined {
  rest = rest.replace(/^[ \t]+/, '');
  if (!rest) return undefined;
  let i = 0;
  let quoted = false;
  for (; i < rest.length; i++) {
    const c = rest[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t')) break;
  }
  if (quoted) return { field: rest, rest: '' };
  return { field: rest.slice(0, i), rest: rest.slice(i) };
}

/** Splits `a,b="x,y",c` at commas outside quotes. */
function splitOptions(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of s) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** sshsig.c's timestamps: YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]. */
const TIMESTAMP = /^\d{8}(\d{4}(\d{2})?)?Z?$/;

/**
 * Parses an allowed signers file (ssh-keygen(1), ALLOWED SIGNERS): `principals [options]
 * keytype base64 [comment]` a line, `#` comments and blank lines skipped. Options are those
 * sshsig.c accepts (cert-authority, namespaces="...", valid-after="...", valid-before="..."),
 * case-insensitive; a key's base64 must decode to a blob of its stated type. Each malformed
 * line is a problem naming `file:line` and the line.
 */
export function parseAllowedSigners(text: string, file: string): { signers: AllowedSigner[]; problems: string[] } {
  const signers: AllowedSigner[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const shown = line.length > 100 ? `${line.slice(0, 97)}...` : line;
    const bad = (why: string) => problems.push(`${file}:${i + 1}: ${why} in: ${shown}`);
    const p = nextField(line)!;
    const principals = p.field.replace(/^"(.*)"$/, '$1');
    if (principals.includes('"')) return bad('an unclosed quote in the principals');
    let f = nextField(p.rest);
    if (!f) return bad('a principal with no key (expected: principals [options] keytype base64)');
    const entry: Partial<AllowedSigner> = { line: i + 1, principals: principals.split(','), certAuthority: false };
    if (entry.principals!.some((x) => x === '')) return bad('an empty principal');
    if (!isKeyType(f.field)) {
      if (/^(ssh-|ecdsa-|sk-)/.test(f.field)) return bad(`unknown key type "${f.field}"`);
      if (f.field.split('"').length % 2 === 0) return bad('an unclosed quote in the options');
      for (const opt of splitOptions(f.field)) {
        const m = /^([A-Za-z-]+)(?:=(.*))?$/.exec(opt);
        const name = m?.[1].toLowerCase();
        const value = m?.[2];
        const quoted = value !== undefined && /^"[^"]*"$/.test(value) ? value.slice(1, -1) : undefined;
        if (name === 'cert-authority' && value === undefined) entry.certAuthority = true;
        else if ((name === 'namespaces' || name === 'valid-after' || name === 'valid-before') && quoted === undefined) return bad(`option ${name} needs a double-quoted value (${name}="...")`);
        else if (name === 'namespaces') entry.namespaces = quoted!.split(',');
        else if (name === 'valid-after' || name === 'valid-before') {
          if (!TIMESTAMP.test(quoted!)) return bad(`${name}="${quoted}" is not a timestamp (YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z])`);
          if (name === 'valid-after') entry.validAfter = quoted;
          else entry.validBefore = quoted;
        } else return bad(`unknown option ${opt} (known: cert-authority, namespaces="...", valid-after="...", valid-before="...")`);
      }
      f = nextField(f.rest);
      if (!f) return bad('options with no key after them');
      if (!isKeyType(f.field)) return bad(`unknown key type "${f.field}"`);
    }
    entry.keyType = f.field;
    const k = nextField(f.rest);
    if (!k) return bad(`a ${entry.keyType} key with no base64 after it`);
    const blob = /^[A-Za-z0-9+/]+={0,2}$/.test(k.field) ? Buffer.from(k.field, 'base64') : undefined;
    // The blob starts with its own type (RFC 4253 section 6.6: string "ssh-ed25519", ...).
    const len = blob && blob.length >= 4 ? blob.readUInt32BE(0) : -1;
    const inner = blob && len >= 0 && 4 + len <= blob.length ? blob.subarray(4, 4 + len).toString('latin1') : undefined;
    if (!blob || blob.toString('base64') !== k.field) return bad('the key is not valid base64');
    if (inner !== entry.keyType) return bad(inner === undefined ? 'the key blob is truncated' : `the key blob holds a key of type ${inner}, the line says ${entry.keyType}`);
    entry.key = k.field;
    entry.fingerprint = sshFingerprint(blob);
    signers.push(entry as AllowedSigner);
  });
  return { signers, problems };
}

/** `SHA256:...` as ssh-keygen -l prints it: unpadded base64 of the blob's sha256. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** `a.b[0]`, as src/schema/recipe-load.ts writes paths (its errors and these read alike). */
function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** The line and column of the deepest node on `path` that exists (as src/schema/recipe-load.ts locates). */
function locate(doc: Document, lc: LineCounter, path: readonly (string | number)[]): { line: number; column: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}

/**
 * recipe-load's issue in this file's terms: an unknown key is pointed at the key itself, not its
 * value, and under roles or required it is an unknown role or stage.
 */
function renameIssue(i: PolicyIssue, text: string): PolicyIssue {
  if (!i.message.startsWith('unknown key') || i.path.includes('[')) return i;
  const path = i.path.split('.');
  const key = path.pop()!;
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const parent = path.length ? doc.getIn(path, true) : doc.contents;
  const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
  const at = isScalar(pair?.key) && pair.key.range ? lc.linePos(pair.key.range[0]) : undefined;
  const located = at ? { ...i, line: at.line, column: at.col } : i;
  if (path.length === 1 && path[0] === 'roles') return { ...located, message: `unknown role "${key}" (roles: ${ROLES.join(', ')})` };
  if (path.length === 1 && path[0] === 'required') return { ...located, message: `unknown stage "${key}" (stages: ${STAGES.join(', ')})` };
  const known = knownKeys(path);
  return known ? { ...located, message: `${located.message} (known: ${known.join(', ')})` } : located;
}

/** The keys the schema allows at `path` of the policy, for an unknown key's message. */
function knownKeys(path: readonly string[]): string[] | undefined {
  let t: z.ZodType = RegistryPolicyFile;
  for (let n = 0; ; n++) {
    // Unwrap .default() and .optional() to the object inside.
    while (t instanceof z.ZodDefault || t instanceof z.ZodOptional) t = t.def.innerType as z.ZodType;
    if (!(t instanceof z.ZodObject)) return undefined;
    if (n === path.length) return Object.keys(t.shape);
    t = t.shape[path[n]] as z.ZodType;
    if (!t) return undefined;
  }
}

/** Reads and checks a policy file; every problem, located, in one PolicyError. */
export function loadPolicy(file: string): RegistryPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PolicyError([{ file, path: '', line: 0, column: 0, message: `cannot read the registry policy: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : (err as Error).message}` }]);
  }
  return parsePolicy(text, file);
}

/** A policy from its text; `file` names it in messages, and relative paths resolve against its directory. */
export function parsePolicy(text: string, file: string): RegistryPolicy {
  let parsed: ReturnType<typeof parseYamlWith<RegistryPolicyFile>>;
  try {
    parsed = parseYamlWith(text, file, RegistryPolicyFile, (data) => (data === null || data === undefined ? {} : data));
  } catch (err) {
    // The YAML and schema errors, located by recipe-load's reader; given in this file's format.
    if (err instanceof RecipeError) throw new PolicyError(err.issues.map((i) => renameIssue(i, text)));
    throw err;
  }
  const { value: src, doc, lc } = parsed;
  const issues: PolicyIssue[] = [];
  const problem = (path: (string | number)[], message: string) => issues.push({ file, path: formatPath(path), ...locate(doc, lc, path), message });
  const dir = dirname(resolve(file));

  /** A referenced file's text, or undefined with the problem recorded at `path`. */
  const read = (path: (string | number)[], given: string): { abs: string; text: string } | undefined => {
    const abs = resolve(dir, given);
    const where = abs === given ? given : `${given} (${abs})`;
    try {
      if (statSync(abs).isDirectory()) return void problem(path, `${where}: a directory, not a file`);
      return { abs, text: readFileSync(abs, 'utf8') };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return void problem(path, `${where}: ${code === 'ENOENT' ? 'no such file (relative paths resolve against the policy file\'s directory)' : (err as Error).message}`);
    }
  };
  const keyring = (path: (string | number)[], given: string): { abs: string; keys: TrustedKey[] } | undefined => {
    const got = read(path, given);
    if (!got) return undefined;
    try {
      return { abs: got.abs, keys: parseKeyring(got.text, got.abs) };
    } catch (err) {
      return void problem(path, (err as Error).message);
    }
  };

  let allowed: AllowedSigners | undefined;
  if (src.signers.allowed_signers !== undefined) {
    const path = ['signers', 'allowed_signers'];
    const got = read(path, src.signers.allowed_signers);
    if (got) {
      const { signers, problems } = parseAllowedSigners(got.text, got.abs);
      for (const p of problems) problem(path, p);
      if (!problems.length && !signers.length) problem(path, `${got.abs}: holds no signer (a line is: principals [options] keytype base64)`);
      allowed = { file: got.abs, signers };
    }
  }

  const ecdsa: Record<string, EcdsaSigner> = {};
  const ecdsaPaths: Record<string, string> = {};
  for (const [identity, given] of Object.entries(src.signers.ecdsa)) {
    const path = ['signers', 'ecdsa', identity];
    const ring = keyring(path, given);
    if (!ring) continue;
    if (ring.keys.length > 1) problem(path, `${ring.abs}: holds ${ring.keys.length} keys; an identity signs with one`);
    else {
      ecdsa[identity] = { file: ring.abs, key: ring.keys[0].key, fingerprint: ring.keys[0].fingerprint };
      ecdsaPaths[identity] = ring.abs;
    }
  }

  const pub = keyring(['publishers'], src.publishers);
  const auditGiven = src.audit_keys === undefined ? [] : typeof src.audit_keys === 'string' ? [src.audit_keys] : src.audit_keys;
  const auditKeys: TrustedKey[] = [];
  const auditPaths: string[] = [];
  auditGiven.forEach((given, i) => {
    const ring = keyring(typeof src.audit_keys === 'string' ? ['audit_keys'] : ['audit_keys', i], given);
    if (!ring) return;
    auditPaths.push(ring.abs);
    for (const k of ring.keys) if (!auditKeys.some((x) => x.fingerprint === k.fingerprint)) auditKeys.push(k);
  });

  const headless = src.headless?.approve_as;
  // Everyone who holds a role must be able to sign an approval, or the role is held in name only
  // (checked only when the signer files themselves loaded, so one mistake is not reported twice).
  const signersLoaded = !issues.some((i) => i.path.startsWith('signers'));
  for (const role of ROLES) {
    (src.roles[role] ?? []).forEach((identity, i) => {
      if (!signersLoaded || identity === headless || ecdsa[identity] || signersFor(allowed, identity).length) return;
      problem(['roles', role, i], `${identity} holds the role but has no key to sign approvals with: ${allowed ? `no line of ${allowed.file} names it for namespace "${APPROVAL_NAMESPACE}"` : 'no signers.allowed_signers is given'}, and signers.ecdsa has no key for it${headless ? `, and it is not the headless identity (${headless})` : ''}`);
    });
  }
  if (headless !== undefined && !rolesOf(src, headless).length) problem(['headless', 'approve_as'], `${headless} holds no role, so it can answer no approval (list it under the roles it answers for)`);
  for (const id of Object.keys(src.signers.ecdsa)) if (!rolesOf(src, id).length) problem(['signers', 'ecdsa', id], `${id} holds no role (roles: ${ROLES.map((r) => `${r}: ${(src.roles[r] ?? []).join(', ') || 'no one'}`).join('; ')})`);

  for (const [stage, roles] of Object.entries(src.required) as [Stage, Role[] | undefined][]) {
    (roles ?? []).forEach((role, i) => {
      if (!src.roles[role]?.length) problem(['required', stage, i], `role "${role}" is required for ${stage} but roles.${role} names no one who holds it`);
    });
    if (!src.separation_of_duties || !roles?.length || roles.some((r) => !src.roles[r]?.length)) continue;
    const who = new Map<string, Role[]>();
    for (const r of roles) for (const id of src.roles[r]!) who.set(id, [...(who.get(id) ?? []), r]);
    const covered = assignRoles(who, roles);
    if (covered.size < roles.length) {
      const uncovered = roles.filter((r) => !covered.has(r));
      problem(['required', stage], `${stage} needs ${roles.length} roles approved by distinct identities (separation_of_duties), and no assignment of their holders covers them all: ${uncovered.join(', ')} cannot be covered (${roles.map((r) => `${r}: ${src.roles[r]!.join(', ')}`).join('; ')})`);
    }
  }

  if (issues.length) throw new PolicyError(issues);
  return {
    file,
    version: src.version,
    roles: src.roles,
    required: src.required,
    separation_of_duties: src.separation_of_duties,
    signers: { allowed_signers: allowed, ecdsa },
    publishers: pub!.keys,
    audit_keys: auditKeys,
    governance: src.governance,
    consumption: src.consumption,
    headless: src.headless,
    approvals: src.approvals,
    paths: { publishers: pub!.abs, audit_keys: auditPaths, allowed_signers: allowed?.file, ecdsa: ecdsaPaths },
  };
}

/**
 * Whether an entry may go to production under the policy's `governance.require_sim`: its Sim
 * Gate passed (summary.sim_gate.final, which promote.step.ts sets from the recipe's sign-off gate records for a review). `{ ok: true }` when the policy does not require it.
 *   { ok: false, detail: "the policy requires the Sim Gate to have passed, and 1.2.0's sim gate failed: ccrs (candidate): collisions 2 > 0 ..." }
 */
export function simRequirement(policy: Pick<RegistryPolicy, 'governance'>, entry: { version: string; body: { summary: { sim_gate?: { final: 'pass' | 'fail'; verdict: string; rationale: string[]; approval: { decision: string; actor: string } | null } } ; absent: Record<string, string> } }): { ok: boolean; detail: string } {
  const gate = entry.body.summary.sim_gate;
  if (!policy.governance.require_sim) return { ok: true, detail: gate ? `sim gate ${gate.final} (not required by the policy)` : 'the policy does not require the Sim Gate' };
  if (!gate) return { ok: false, detail: `the policy requires the Sim Gate to have passed, and ${entry.version} has no Sim Gate verdict (${entry.body.absent['summary.sim_gate'] ?? 'none recorded'})` };
  if (gate.final !== 'pass') return { ok: false, detail: `the policy requires the Sim Gate to have passed, and ${entry.version}'s ${gate.verdict === 'fail' ? 'failed' : `was ${gate.approval?.decision ?? 'not answered'}${gate.approval ? ` by ${gate.approval.actor}` : ''}`}: ${gate.rationale[0] ?? ''}`.trim() };
  return { ok: true, detail: `sim gate passed${gate.approval ? ` (${gate.approval.decision} by ${gate.approval.actor})` : ''}: ${gate.rationale[0] ?? ''}`.trim() };
}
