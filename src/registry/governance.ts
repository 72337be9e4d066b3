/**
 * Governance checks before any promotion (issue 20, item 4), on explicit inputs: the pack
 * directory, the publisher keys the registry's policy trusts, the policy's governance settings
 * (H4 parses the file; this takes the pieces), the waivers and the gate verdicts and approvals
 * recorded elsewhere, and the time `now` to judge expiry at. Each check says pass, fail, waived
 * or skipped, with a detail that cites its numbers and ids; the promotion may go on only when no
 * check fails.
 *
 *   signature        verifyPack (src/pack/trust.ts) against the trusted publisher keys, never the
 *                    cosign.pub inside the pack (whoever can change the pack can replace it); a
 *                    "trusted" key that is itself a file inside the pack is refused for the same
 *                    reason. Names the key that signed it, or why none did.
 *   digests          every file export_report.json lists has its sha256 and size, and the pack
 *                    holds nothing unlisted (verifyPack's content findings).
 *   sbom             sbom.cdx.json present, listed (so signed) and valid CycloneDX 1.6 against the
 *                    spec's JSON schema (src/pack/sbom.ts validateSbom).
 *   vulnerabilities  the `vulnerabilities` scan of the signed report and its scans/ file: every
 *                    finding at a `failOn` severity blocks unless waived. A scan that did not run
 *                    blocks too (a scan that did not run is never clean, src/schema/scans.ts),
 *                    unless the waiver `scan:vulnerabilities` accepts that.
 *   licenses         licenses the policy denies, in the components of the SBOMs (the pack's and
 *                    the serving image's) and in the license scans' findings, block unless waived.
 *   gates            each required gate has a pass verdict, or a review verdict a person
 *                    approved; a failed, rejected, unanswered or never-run gate blocks, named.
 *   consumption      the read-only IAM policy for the S3 prefix generated (./iam.ts) and checked.
 *
 * Waivers (the registry's waivers rows): one applies to a finding when its `finding` names it
 * (a vulnerability by its id or an alias; a license as `license:<id>` or
 * `license:<id>:<component>`; a scan that did not run as `scan:<name>`), its version is null or
 * the pack's, it has a justification and an approver, and it has not expired at `now`. An
 * expired waiver blocks and says when it expired; an incomplete one is refused, named.
 */
import type { WaiverRow } from '../schema/registry.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { InputError } from '../files/input-error.js';
import { installRoot } from '../files/install-root.js';
import { validateSbom } from '../pack/sbom.js';
import { BUNDLE, PUBLIC_KEY, REPORT, SIGNATURE, isInside, verifyPack, type PackVerification, type TrustedKey } from '../pack/trust.js';
import { ScanFindingsFile, ScanSeverity, ScanSummary, type LicenseFinding, type VulnerabilityFinding } from '../schema/scans.js';
import { IamPolicyError, checkConsumptionPolicy, consumptionPolicy, type IamPolicy } from './iam.js';

export class GovernanceError extends InputError {}

/**
 * A waiver as the registry stores it (WaiverRow, table waivers), without what judging it does not
 * need: the finding (a vulnerability id or alias, `license:<id>[:<component>]`, `scan:<name>`), the
 * version it holds for (null: every version), who approved it, why, and until when (ms).
 */
export type GovernanceWaiver = Omit<WaiverRow, 'id' | 'model' | 'audit_seq'> & { id?: string };

export interface GateVerdictInput {
  gate: string;
  verdict: 'pass' | 'fail' | 'review';
  /** Lines of why; the run store keeps them as a JSON array text, which is read as such. */
  rationale: string | string[];
}

export interface GateApprovalInput {
  gate: string;
  decision: 'approved' | 'rejected';
  actor: string;
  reason?: string | null;
}

export interface GovernanceInput {
  packDir: string;
  /** The policy's `publishers` keyring (src/pack/trust.ts loadTrustedKeys / parseKeyring); never the pack's cosign.pub. */
  trustedKeys: readonly TrustedKey[];
  requireSbom: boolean;
  scans: {
    /** Vulnerability severities that block unless waived (any case: `critical`, `HIGH`). */
    failOn: readonly string[];
    /** SPDX ids (or license names) that block unless waived. */
    denyLicenses?: readonly string[];
  };
  waivers: readonly GovernanceWaiver[];
  gates: {
    /** `all`: every gate that has a verdict; a list: these gates, each of which must have run. */
    required: 'all' | readonly string[];
    /** Gate verdicts in the order recorded; the last one of a gate is its current one. */
    verdicts: readonly GateVerdictInput[];
    /** Answers to review verdicts in the order recorded; the last one of a gate is its answer. */
    approvals: readonly GateApprovalInput[];
  };
  /** The policy's `consumption`; `document`: check this policy document instead of the generated one. */
  consumption?: { bucket: string; prefix: string; principal?: string; document?: unknown };
  /** ms since the epoch: when waivers are judged. */
  now: number;
}

export type GovernanceCheckId = 'signature' | 'digests' | 'sbom' | 'vulnerabilities' | 'licenses' | 'gates' | 'consumption';

/** One thing a check found: what it is, where, and whether it blocks or was waived (and by which waiver). */
export interface GovernanceFinding {
  id: string;
  subject: string;
  severity?: string;
  outcome: 'blocks' | 'waived';
  why: string;
  waiver?: string;
}

export interface GovernanceCheck {
  id: GovernanceCheckId;
  status: 'pass' | 'fail' | 'waived' | 'skipped';
  detail: string;
  findings?: GovernanceFinding[];
}

export interface GovernanceResult {
  /** No check failed. */
  ok: boolean;
  checks: GovernanceCheck[];
  /** The signed report's model and version, where it could be read. */
  model?: string;
  version?: string;
  signer?: { fingerprint: string; source: string };
  /** The consumption policy generated (or the one given), to publish beside the pack. */
  consumptionPolicy?: unknown;
}

const iso = (ms: number) => new Date(ms).toISOString();
const fp = (f: string) => `sha256:${f}`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const listSome = (xs: string[], n = 5) => `${xs.slice(0, n).join(', ')}${xs.length > n ? `, and ${xs.length - n} more` : ''}`;

// ---------------------------------------------------------------------------------------------
// Waivers.

type WaiverOutcome = { waived: true; waiver: string; why: string } | { waived: false; why: string };

const waiverName = (w: GovernanceWaiver) => (w.id ? `waiver ${w.id}` : `the waiver of ${w.finding}${w.version ? ` for ${w.version}` : ''}`);

/**
 * Whether a waiver covers a finding known by `ids` in `version` at `now`, and why (or why not):
 * the waivers naming it are judged one by one; any valid one waives it; otherwise the reason
 * told is the most telling (expired, then refused, then for another version, then none).
 */
export function judgeWaivers(ids: readonly string[], waivers: readonly GovernanceWaiver[], version: string | undefined, now: number): WaiverOutcome {
  const keys = new Set(ids.map((i) => i.toLowerCase()));
  const naming = waivers.filter((w) => keys.has(String(w.finding).toLowerCase()));
  const expired: string[] = [];
  const refused: string[] = [];
  const other: string[] = [];
  for (const w of naming) {
    const name = waiverName(w);
    if (w.version !== null && w.version !== version) {
      other.push(`${name} is for version ${w.version}${version ? `, not ${version}` : ''}`);
      continue;
    }
    const missing = [!(typeof w.justification === 'string' && w.justification.trim()) && 'justification', !(typeof w.approver === 'string' && w.approver.trim()) && 'approver'].filter(Boolean);
    if (missing.length) {
      refused.push(`${name} is refused: it has no ${missing.join(' and no ')}`);
      continue;
    }
    if (!Number.isFinite(w.expires_at) || w.expires_at <= w.at) {
      refused.push(`${name} is refused: it expires (${Number.isFinite(w.expires_at) ? iso(w.expires_at) : String(w.expires_at)}) before it was recorded (${iso(w.at)})`);
      continue;
    }
    if (w.expires_at <= now) {
      expired.push(`${name} (approved by ${w.approver}) expired at ${iso(w.expires_at)}`);
      continue;
    }
    return { waived: true, waiver: w.id ?? w.finding, why: `waived by ${w.approver} until ${iso(w.expires_at)}: ${w.justification.trim()}` };
  }
  const why = expired[0] ?? refused[0] ?? other[0];
  return { waived: false, why: why ?? 'no waiver' };
}

// ---------------------------------------------------------------------------------------------
// Signature and digests.

/** Which of verifyPack's problems are about who signed the report (the rest are about the files it lists). */
function aboutSignature(p: string, dir: string): boolean {
  return [`${SIGNATURE}: `, `${BUNDLE}: `, `${PUBLIC_KEY}: `, 'the trusted key list', 'no trusted key', `${dir}: `].some((s) => p.startsWith(s)) || p === `${REPORT}: missing`;
}

/** The file a trusted key was read from: its source is `<file>:<line>`, with " ($PADDOCK_TRUSTED_KEYS)" when it came from there. */
const keyFile = (source: string) => source.replace(/ \(\$PADDOCK_TRUSTED_KEYS\)/, '').replace(/:\d+$/, '');

function signatureChecks(input: GovernanceInput): { checks: GovernanceCheck[]; v: PackVerification } {
  const inPack = input.trustedKeys.filter((k) => existsSync(keyFile(k.source)) && isInside(keyFile(k.source), input.packDir));
  const keys = input.trustedKeys.filter((k) => !inPack.includes(k));
  // Without a trusted key, verifyPack is still run for self-consistency, so the digests are checked.
  const v = keys.length ? verifyPack(input.packDir, { trusted: keys }) : verifyPack(input.packDir);
  const sig = v.problems.filter((p) => aboutSignature(p, input.packDir));
  const files = v.problems.filter((p) => !aboutSignature(p, input.packDir));
  const refusedKeys = inPack.map((k) => `trusted key ${fp(k.fingerprint)} (${k.source}) is refused: it is a file inside the pack, and a key shipped in the pack vouches for nothing`);
  let signature: GovernanceCheck;
  if (!keys.length) {
    signature = { id: 'signature', status: 'fail', detail: [...refusedKeys, `no trusted publisher key: the policy's publishers keyring gave ${input.trustedKeys.length ? 'none outside the pack' : 'none'}, so who signed the pack cannot be checked${v.signer ? ` (it is self-consistent with its own ${PUBLIC_KEY}, ${fp(v.signer.fingerprint)}, which anyone who can change the pack can replace)` : ''}`].join('; ') };
  } else if (!v.signer || v.trust !== 'trusted' || sig.length) {
    signature = { id: 'signature', status: 'fail', detail: [...refusedKeys, ...sig].join('; ') || 'not signed by a trusted key' };
  } else {
    signature = { id: 'signature', status: 'pass', detail: `${REPORT} is signed by trusted key ${fp(v.signer.fingerprint)} (${v.signer.source}); the .sig and the Sigstore bundle verify${refusedKeys.length ? `; ${refusedKeys.join('; ')}` : ''}` };
  }
  const listed = v.files.length;
  const digests: GovernanceCheck = files.length || !listed || v.checked !== listed
    ? { id: 'digests', status: 'fail', detail: `${plural(files.length, 'problem')} over ${plural(listed, 'listed file')} (${v.checked} checked): ${listSome(files, 8) || `${REPORT} lists no file that could be checked`}`, findings: files.map((p) => ({ id: 'digest', subject: p.split(': ')[0], outcome: 'blocks' as const, why: p })) }
    : { id: 'digests', status: 'pass', detail: `all ${listed} files listed in ${REPORT} match their sha256 and size; the pack holds no unlisted file` };
  return { checks: [signature, digests], v };
}

/** The signed report's parts governance reads, or why it cannot be read. */
interface ReportView {
  model?: string;
  version?: string;
  scans?: Record<string, unknown> | null;
}

function readReport(dir: string): ReportView | { problem: string } {
  try {
    const doc = JSON.parse(readFileSync(join(dir, REPORT), 'utf8')) as Record<string, unknown>;
    return { model: typeof doc.model === 'string' ? doc.model : undefined, version: typeof doc.version === 'string' ? doc.version : undefined, scans: (doc.scans as Record<string, unknown> | null | undefined) ?? null };
  } catch (err) {
    return { problem: `${REPORT}: cannot be read (${(err as Error).message})` };
  }
}

/** A pack file's JSON, when the report lists it (so the digests check covered it); or why not. */
function listedJson(dir: string, v: PackVerification, file: string): { doc: unknown } | { problem: string } {
  if (!v.files.includes(file)) return { problem: `${file}: ${existsSync(join(dir, file)) ? `not listed in ${REPORT}, so not covered by the signature` : 'not in the pack'}` };
  try {
    return { doc: JSON.parse(readFileSync(join(dir, file), 'utf8')) };
  } catch (err) {
    return { problem: `${file}: not JSON (${(err as Error).message})` };
  }
}

// ---------------------------------------------------------------------------------------------
// SBOM.

const SBOM = 'sbom.cdx.json';
const IMAGE_SBOM = 'scans/image.cdx.json';

interface CdxComponent {
  type?: string;
  name?: string;
  version?: string;
  purl?: string;
  'bom-ref'?: string;
  licenses?: ({ license?: { id?: string; name?: string } } | { expression?: string })[];
  components?: CdxComponent[];
}

/** Every component of a CycloneDX document, nested ones included (components may hold components, CycloneDX 1.6 §components). */
function components(doc: unknown): CdxComponent[] {
  const out: CdxComponent[] = [];
  const walk = (cs: unknown) => {
    if (!Array.isArray(cs)) return;
    for (const c of cs) if (c && typeof c === 'object') {
      out.push(c as CdxComponent);
      walk((c as CdxComponent).components);
    }
  };
  walk((doc as { components?: unknown } | null)?.components);
  return out;
}

/**
 * validateSbom's verdict on an SBOM text, kept by the text's sha256: the strict validator compiles
 * the CycloneDX schemas on every call (seconds), and the same bytes always get the same verdict,
 * so governance run again on a pack (each promotion attempt, the workbench's refresh) asks once.
 */
const sbomVerdicts = new Map<string, string | null>();
async function sbomProblem(text: string): Promise<string | null> {
  const key = createHash('sha256').update(text).digest('hex');
  let v = sbomVerdicts.get(key);
  if (v === undefined) {
    try {
      await validateSbom(text, SBOM);
      v = null;
    } catch (err) {
      v = (err as Error).message;
    }
    sbomVerdicts.set(key, v);
  }
  return v;
}

async function sbomCheck(input: GovernanceInput, v: PackVerification): Promise<GovernanceCheck> {
  const present = existsSync(join(input.packDir, SBOM));
  if (!present) return input.requireSbom ? { id: 'sbom', status: 'fail', detail: `${SBOM}: not in the pack; the policy requires an SBOM (governance.require_sbom)` } : { id: 'sbom', status: 'skipped', detail: `${SBOM}: not in the pack, and the policy does not require one` };
  const got = listedJson(input.packDir, v, SBOM);
  if ('problem' in got) return { id: 'sbom', status: 'fail', detail: got.problem };
  const doc = got.doc as { bomFormat?: unknown; specVersion?: unknown };
  if (doc?.bomFormat !== 'CycloneDX') return { id: 'sbom', status: 'fail', detail: `${SBOM}: bomFormat ${JSON.stringify(doc?.bomFormat)}, expected "CycloneDX"` };
  // The sbom step writes 1.6 and the validator paddock ships checks 1.6 (src/pack/sbom.ts).
  if (doc.specVersion !== '1.6') return { id: 'sbom', status: 'fail', detail: `${SBOM}: specVersion ${JSON.stringify(doc.specVersion)}; paddock checks CycloneDX 1.6, as its sbom step writes` };
  const text = readFileSync(join(input.packDir, SBOM), 'utf8');
  const problem = await sbomProblem(text);
  if (problem) return { id: 'sbom', status: 'fail', detail: problem };
  const cs = components(doc);
  const by = (t: string) => cs.filter((c) => c.type === t).length;
  return { id: 'sbom', status: 'pass', detail: `${SBOM}: CycloneDX 1.6, valid against the spec's JSON schema, listed and signed; ${cs.length} components (${by('library')} libraries, ${by('machine-learning-model')} models, ${by('file')} files)` };
}

// ---------------------------------------------------------------------------------------------
// Vulnerabilities.

function severities(failOn: readonly string[]): Set<ScanSeverity> {
  const out = new Set<ScanSeverity>();
  for (const s of failOn) {
    const p = ScanSeverity.safeParse(String(s).toUpperCase());
    if (!p.success) throw new GovernanceError(`governance.scans.fail_on: "${s}" is not a severity (${ScanSeverity.options.map((x) => x.toLowerCase()).join(', ')})`);
    out.add(p.data);
  }
  return out;
}

/** A scan's summary in the signed report, or why it gives no result (not there, not run, failed); the waiver `scan:<name>` may accept the latter. */
function scanSummary(report: ReportView, name: string): { summary: ScanSummary } | { why: string } {
  const raw = report.scans?.[name];
  if (raw === undefined) return { why: `no ${name} scan in ${REPORT}${report.scans ? '' : ' (its scans are null: the sbom step did not run)'}` };
  const s = ScanSummary.safeParse(raw);
  if (!s.success) return { why: `${REPORT}: scans.${name}: ${s.error.issues[0].path.join('.')}: ${s.error.issues[0].message}` };
  if (s.data.status !== 'ran') return { why: `the ${name} scan ${s.data.status === 'failed' ? 'failed' : 'did not run'}: ${s.data.reason ?? 'no reason given'}; a scan that did not run is never clean` };
  return { summary: s.data };
}

/** A scans/<name>.json file of a scan that ran, parsed; or why it cannot be read. */
function scanFile(dir: string, v: PackVerification, name: string, summary: ScanSummary) {
  if (!summary.file) return { problem: `${REPORT}: scans.${name} ran but names no findings file` };
  const got = listedJson(dir, v, summary.file);
  if ('problem' in got) return got;
  const f = ScanFindingsFile.safeParse(got.doc);
  if (!f.success) return { problem: `${summary.file}: ${f.error.issues[0].path.join('.')}: ${f.error.issues[0].message}` };
  if (f.data.scan !== name) return { problem: `${summary.file}: holds the ${f.data.scan} scan, expected ${name}` };
  if (summary.findings !== null && summary.findings !== f.data.findings.length) return { problem: `${summary.file}: ${f.data.findings.length} findings, the signed report says ${summary.findings}` };
  return { file: f.data, at: summary.file };
}

function vulnerabilityCheck(input: GovernanceInput, v: PackVerification, report: ReportView): GovernanceCheck {
  const failOn = severities(input.scans.failOn);
  const s = scanSummary(report, 'vulnerabilities');
  if ('why' in s) {
    const w = judgeWaivers(['scan:vulnerabilities'], input.waivers, report.version, input.now);
    const finding: GovernanceFinding = { id: 'scan:vulnerabilities', subject: input.packDir, outcome: w.waived ? 'waived' : 'blocks', why: `${s.why}; ${w.why}`, ...(w.waived ? { waiver: w.waiver } : {}) };
    return { id: 'vulnerabilities', status: w.waived ? 'waived' : 'fail', detail: `${s.why}; ${w.waived ? w.why : `not waived (scan:vulnerabilities): ${w.why}`}`, findings: [finding] };
  }
  const got = scanFile(input.packDir, v, 'vulnerabilities', s.summary);
  if ('problem' in got) return { id: 'vulnerabilities', status: 'fail', detail: got.problem ?? 'unreadable' };
  const vulns = got.file.findings.filter((f): f is VulnerabilityFinding => 'installed' in f);
  const graded = vulns.filter((f) => failOn.has(f.severity));
  const findings: GovernanceFinding[] = graded.map((f) => {
    const w = judgeWaivers([f.id, ...f.aliases], input.waivers, report.version, input.now);
    const what = `${f.id}${f.aliases.length ? ` (${f.aliases.join(', ')})` : ''} in ${f.component} ${f.installed}, ${f.severity}${f.fixed ? `, fixed in ${f.fixed}` : ', no fix named'}`;
    return { id: f.id, subject: f.component, severity: f.severity, outcome: w.waived ? 'waived' : 'blocks', why: `${what}: ${w.why}`, ...(w.waived ? { waiver: w.waiver } : {}) };
  });
  const blocking = findings.filter((f) => f.outcome === 'blocks');
  const sev = [...failOn].map((x) => x.toLowerCase()).join('/') || 'none';
  const unevaluated = got.file.unevaluated?.length ? `; ${plural(got.file.unevaluated.length, 'advisory', 'advisories')} could not be evaluated (${listSome(got.file.unevaluated.map((u) => `${u.id} on ${u.component}`), 3)})` : '';
  const head = `${got.at} (${s.summary.tool}${s.summary.version ? ` ${s.summary.version}` : ''}): ${plural(vulns.length, 'finding')}, ${graded.length} at ${sev}`;
  if (blocking.length) return { id: 'vulnerabilities', status: 'fail', detail: `${head}: ${blocking.length} not waived: ${listSome(blocking.map((f) => f.why), 4)}${unevaluated}`, findings };
  if (findings.length) return { id: 'vulnerabilities', status: 'waived', detail: `${head}, each waived: ${listSome(findings.map((f) => `${f.id} (${f.waiver})`))}${unevaluated}`, findings };
  return { id: 'vulnerabilities', status: 'pass', detail: `${head}${unevaluated}`, findings };
}

// ---------------------------------------------------------------------------------------------
// Licenses.

type SpdxNode = { license: string; plus?: boolean; exception?: string } | { left: SpdxNode; conjunction: 'and' | 'or'; right: SpdxNode };
let spdxParse: ((s: string) => SpdxNode) | undefined;
/** spdx-expression-parse (CommonJS, untyped), required from paddock's install root as src/pack/sbom.ts does. */
const parseSpdx = (s: string) => (spdxParse ??= createRequire(join(installRoot(), 'package.json'))('spdx-expression-parse') as (s: string) => SpdxNode)(s);

/**
 * The denied licenses an SPDX expression commits its user to: under AND every part binds, under OR
 * the user may pick one, so an OR is denied only when all its choices are (SPDX specification
 * 2.3, Annex D, "disjunctive"/"conjunctive" license sets). Unparseable: every denied id among its
 * words (the cautious reading, said in the finding).
 */
function deniedIn(expression: string, deny: Map<string, string>): { ids: string[]; parsed: boolean } {
  const walk = (n: SpdxNode): string[] => {
    if ('license' in n) {
      const id = deny.get(n.license.toLowerCase()) ?? deny.get(`${n.license}${n.plus ? '+' : ''}`.toLowerCase());
      return id ? [id] : [];
    }
    const l = walk(n.left);
    const r = walk(n.right);
    if (n.conjunction === 'and') return [...l, ...r];
    return l.length && r.length ? [...l, ...r] : [];
  };
  try {
    return { ids: [...new Set(walk(parseSpdx(expression)))], parsed: true };
  } catch {
    const direct = deny.get(expression.trim().toLowerCase());
    if (direct) return { ids: [direct], parsed: true };
    const words = expression.split(/[\s()]+/).filter((w) => w && !/^(AND|OR|WITH)$/i.test(w));
    return { ids: [...new Set(words.map((w) => deny.get(w.toLowerCase())).filter((x): x is string => !!x))], parsed: false };
  }
}

function licenseCheck(input: GovernanceInput, v: PackVerification, report: ReportView): GovernanceCheck {
  const denyList = input.scans.denyLicenses ?? [];
  if (!denyList.length) return { id: 'licenses', status: 'skipped', detail: 'the policy denies no license (governance.licenses.deny)' };
  const deny = new Map(denyList.map((d) => [d.toLowerCase(), d]));
  const hits = new Map<string, { license: string; subject: string; where: string; note?: string }>();
  const add = (license: string, subject: string, where: string, note?: string) => {
    const k = `${license}\n${subject}`;
    if (!hits.has(k)) hits.set(k, { license, subject, where, note });
  };
  const sources: string[] = [];
  const problems: string[] = [];
  for (const file of [SBOM, IMAGE_SBOM]) {
    if (!existsSync(join(input.packDir, file))) continue;
    const got = listedJson(input.packDir, v, file);
    if ('problem' in got) {
      problems.push(got.problem);
      continue;
    }
    const cs = components(got.doc);
    sources.push(`${file} (${plural(cs.length, 'component')})`);
    for (const c of cs) {
      const subject = c.purl ?? (c.name ? `${c.name}${c.version ? `@${c.version}` : ''}` : (c['bom-ref'] ?? '?'));
      for (const l of c.licenses ?? []) {
        const text = 'expression' in l && typeof l.expression === 'string' ? l.expression : 'license' in l ? (l.license?.id ?? l.license?.name) : undefined;
        if (!text) continue;
        const d = deniedIn(text, deny);
        for (const id of d.ids) add(id, subject, file, d.parsed ? (text !== id ? `in "${text}"` : undefined) : `in "${text}", which is not an SPDX expression, read word by word`);
      }
    }
  }
  for (const name of ['licenses-pack', 'licenses-image']) {
    const s = scanSummary(report, name);
    if ('why' in s) continue; // The SBOMs are the record of what ships; a license scan adds files' licenses where it ran.
    const got = scanFile(input.packDir, v, name, s.summary);
    if ('problem' in got) {
      problems.push(got.problem ?? 'unreadable');
      continue;
    }
    const lic = got.file.findings.filter((f): f is LicenseFinding => 'license' in f && 'category' in f);
    sources.push(`${got.at} (${plural(lic.length, 'finding')})`);
    for (const f of lic) for (const id of deniedIn(f.license, deny).ids) add(id, f.package ?? f.file ?? '?', got.at, `Trivy: ${f.category}`);
  }
  if (!sources.length && !problems.length) return { id: 'licenses', status: 'fail', detail: `the policy denies ${denyList.join(', ')}, but the pack has no SBOM and no license scan to check them against` };
  const findings: GovernanceFinding[] = [...hits.values()].map((h) => {
    const w = judgeWaivers([`license:${h.license}`, `license:${h.license}:${h.subject}`], input.waivers, report.version, input.now);
    return { id: `license:${h.license}`, subject: h.subject, outcome: w.waived ? 'waived' : 'blocks', why: `${h.license} in ${h.subject} (${h.where}${h.note ? `, ${h.note}` : ''}): ${w.why}`, ...(w.waived ? { waiver: w.waiver } : {}) };
  });
  const blocking = findings.filter((f) => f.outcome === 'blocks');
  const head = `denied ${denyList.join(', ')}; checked ${sources.join(', ') || 'nothing'}`;
  if (problems.length) return { id: 'licenses', status: 'fail', detail: `${head}; ${problems.join('; ')}`, findings };
  if (blocking.length) return { id: 'licenses', status: 'fail', detail: `${head}: ${plural(blocking.length, 'denied license use')} not waived: ${listSome(blocking.map((f) => f.why), 4)}`, findings };
  if (findings.length) return { id: 'licenses', status: 'waived', detail: `${head}: ${plural(findings.length, 'denied license use')}, each waived (${listSome(findings.map((f) => `${f.id} in ${f.subject}`), 4)})`, findings };
  return { id: 'licenses', status: 'pass', detail: `${head}: none found`, findings };
}

// ---------------------------------------------------------------------------------------------
// Gates.

function rationaleText(r: string | string[]): string {
  let lines: unknown = r;
  if (typeof r === 'string' && r.startsWith('[')) {
    try {
      lines = JSON.parse(r);
    } catch {
      lines = r;
    }
  }
  return (Array.isArray(lines) ? lines.map(String).join('; ') : String(lines)).trim() || 'no rationale';
}

function gatesCheck(input: GovernanceInput): GovernanceCheck {
  const current = new Map<string, GateVerdictInput>();
  for (const v of input.gates.verdicts) current.set(v.gate, v);
  const answer = new Map<string, GateApprovalInput>();
  for (const a of input.gates.approvals) answer.set(a.gate, a);
  const required = input.gates.required === 'all' ? [...current.keys()] : [...new Set(input.gates.required)];
  if (!required.length) return { id: 'gates', status: 'fail', detail: input.gates.required === 'all' ? 'no gate verdict was given: `gates: all` needs the evaluate and sim gates to have run' : 'the policy names no required gate' };
  const findings: GovernanceFinding[] = [];
  const green: string[] = [];
  for (const g of required) {
    const v = current.get(g);
    if (!v) {
      findings.push({ id: g, subject: g, outcome: 'blocks', why: `${g}: not run (no verdict recorded)` });
      continue;
    }
    if (v.verdict === 'pass') {
      green.push(g);
      continue;
    }
    if (v.verdict === 'fail') {
      findings.push({ id: g, subject: g, outcome: 'blocks', why: `${g}: failed: ${rationaleText(v.rationale)}` });
      continue;
    }
    const a = answer.get(g);
    if (a?.decision === 'approved') green.push(`${g} (review approved by ${a.actor}${a.reason ? `: ${a.reason}` : ''})`);
    else if (a) findings.push({ id: g, subject: g, outcome: 'blocks', why: `${g}: review rejected by ${a.actor}${a.reason ? `: ${a.reason}` : ''}` });
    else findings.push({ id: g, subject: g, outcome: 'blocks', why: `${g}: review not answered (${rationaleText(v.rationale)})` });
  }
  const head = `${required.length} required gate${required.length === 1 ? '' : 's'}${input.gates.required === 'all' ? ' (all that ran)' : ''}`;
  if (findings.length) return { id: 'gates', status: 'fail', detail: `${head}: ${findings.length} not green: ${findings.map((f) => f.why).join('; ')}${green.length ? `; green: ${green.join(', ')}` : ''}`, findings };
  return { id: 'gates', status: 'pass', detail: `${head}, all green: ${green.join(', ')}` };
}

// ---------------------------------------------------------------------------------------------
// Consumption policy.

function consumptionCheck(input: GovernanceInput): { check: GovernanceCheck; policy?: unknown } {
  const c = input.consumption;
  if (!c) return { check: { id: 'consumption', status: 'skipped', detail: 'the policy has no consumption section: no read-only policy document was generated' } };
  let doc: unknown;
  try {
    doc = c.document ?? consumptionPolicy(c);
    const problems = checkConsumptionPolicy(doc, c);
    const target = `arn:aws:s3:::${c.bucket}/${c.prefix}*`;
    const kind = c.document !== undefined ? 'the policy document given' : `the generated ${c.principal ? `bucket policy for ${c.principal}` : 'identity policy'}`;
    if (problems.length) return { check: { id: 'consumption', status: 'fail', detail: `${kind} grants more than read-only ${target}: ${problems.join('; ')}`, findings: problems.map((p) => ({ id: 'iam', subject: p.split(': ')[0], outcome: 'blocks', why: p })) }, policy: doc };
    const statements = (doc as IamPolicy).Statement;
    return { check: { id: 'consumption', status: 'pass', detail: `${kind}: ${plural(statements.length, 'statement')}, read-only: ${statements.map((s) => `${[s.Action].flat().join(', ')} on ${[s.Resource].flat().join(', ')}${s.Condition ? ` if s3:prefix ${JSON.stringify(Object.values(s.Condition)[0]?.['s3:prefix'])}` : ''}`).join('; ')}` }, policy: doc };
  } catch (err) {
    if (err instanceof IamPolicyError) return { check: { id: 'consumption', status: 'fail', detail: err.message } };
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Runs every governance check on a pack (see the file's comment). Throws a GovernanceError only
 * for a policy input that is not one (a severity that is not a severity); what is wrong with the
 * pack, the waivers or the gates is a failed check, never a throw.
 */
export async function runGovernance(input: GovernanceInput): Promise<GovernanceResult> {
  severities(input.scans.failOn);
  const { checks, v } = signatureChecks(input);
  const report = readReport(input.packDir);
  checks.push(await sbomCheck(input, v));
  if ('problem' in report) {
    for (const id of ['vulnerabilities', 'licenses'] as const) checks.push({ id, status: 'fail', detail: report.problem });
  } else {
    checks.push(vulnerabilityCheck(input, v, report));
    checks.push(licenseCheck(input, v, report));
  }
  checks.push(gatesCheck(input));
  const consumption = consumptionCheck(input);
  checks.push(consumption.check);
  const r = 'problem' in report ? {} : report;
  return {
    ok: checks.every((c) => c.status !== 'fail'),
    checks,
    ...(r.model ? { model: r.model } : {}),
    ...(r.version ? { version: r.version } : {}),
    ...(v.signer && v.trust === 'trusted' ? { signer: v.signer } : {}),
    ...(consumption.policy !== undefined ? { consumptionPolicy: consumption.policy } : {}),
  };
}
