/**
 * Vulnerabilities from OSV advisories: the SBOM's components matched to the advisories' affected
 * packages by purl (type, namespace and name) and their versions checked against the affected
 * ranges as the OSV schema evaluates them (ossf.github.io/osv-schema, "Evaluation"): events in
 * version order, a version is affected from an `introduced` up to a `fixed` (excluded) or a
 * `last_affected` (included), below any `limit`; or listed in `versions`.
 *
 * Versions: npm (and SEMVER ranges) by SemVer 2.0.0 precedence, exactly; PyPI by an approximation
 * of PEP 440 (epoch, release, pre/post/dev; local versions and the spec's alternative spellings
 * beyond a/b/c/rc/alpha/beta/pre/preview are not ordered); other ecosystems only through
 * `versions` lists and SEMVER ranges. An advisory paddock cannot evaluate is listed as such,
 * never taken for "not affected" silently.
 *
 * Severity: a CVSS v3.x vector's base score (the v3.1 formulas; v3.0 vectors scored with them),
 * else the database's own grade (GitHub's `database_specific.severity`), else UNKNOWN.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PackageURL } from 'packageurl-js';
import { InputError } from '../files/input-error.js';
import { OsvFile, type OsvAdvisory, type OsvAffected, type OsvRange } from '../schema/osv.js';
import type { ScanSeverity, VulnerabilityFinding } from '../schema/scans.js';

// ---------------------------------------------------------------------------------------------
// Versions

type Cmp = (a: string, b: string) => number | undefined;

interface SemVer {
  release: number[];
  pre: (string | number)[];
}

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/;

/** SemVer 2.0.0 (a leading `v` allowed, as Go and some advisories write it); undefined if not one. */
export function parseSemver(v: string): SemVer | undefined {
  const m = SEMVER.exec(v.trim());
  if (!m) return undefined;
  return { release: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [] };
}

/** SemVer 2.0.0 precedence (§11): -1, 0, 1; undefined when either is not a SemVer. Build metadata is ignored. */
export function compareSemver(a: string, b: string): number | undefined {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < 3; i++) if (x.release[i] !== y.release[i]) return Math.sign(x.release[i] - y.release[i]);
  if (!x.pre.length || !y.pre.length) return Math.sign(y.pre.length - x.pre.length); // a pre-release sorts below its release
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return Math.sign(p - q);
    if (typeof p === 'number') return -1; // numeric identifiers sort below alphanumeric ones
    if (typeof q === 'number') return 1;
    return p < q ? -1 : 1; // ASCII order
  }
  return 0;
}

const PEP440 = /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d*))?(?:(?:-(\d+))|(?:[-_.]?(?:post|rev|r)[-_.]?(\d*)))?(?:[-_.]?dev[-_.]?(\d*))?(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$/i;

/**
 * A sort key for a PEP 440 version (approximate: see the file's comment):
 * [epoch, release..., phase, pre number, post, dev], with phase dev-only < a < b < rc < final < post.
 */
export function pep440Key(v: string): { epoch: number; release: number[]; rest: number[] } | undefined {
  const m = PEP440.exec(v.trim());
  if (!m) return undefined;
  const release = m[2].split('.').map(Number);
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  const preTag = m[3]?.toLowerCase();
  const pre = preTag ? ({ a: 1, alpha: 1, b: 2, beta: 2, c: 3, rc: 3, pre: 3, preview: 3 } as Record<string, number>)[preTag] : undefined;
  const post = m[5] ?? m[6];
  const hasPost = m[5] !== undefined || m[6] !== undefined;
  const dev = m[7];
  const hasDev = dev !== undefined;
  // 1.0.dev1 < 1.0a1 < 1.0a1.post1 < 1.0rc1 < 1.0 < 1.0.post1.dev1 < 1.0.post1
  const phase = pre !== undefined ? pre : hasDev && !hasPost ? 0 : 4;
  return {
    epoch: m[1] ? Number(m[1]) : 0,
    release,
    rest: [phase, pre !== undefined ? Number(m[4] || 0) : 0, hasPost ? Number(post || 0) : -1, hasDev ? Number(dev || 0) : Infinity],
  };
}

/** PEP 440 ordering (approximate); undefined when either does not parse. */
export function comparePep440(a: string, b: string): number | undefined {
  const x = pep440Key(a);
  const y = pep440Key(b);
  if (!x || !y) return undefined;
  if (x.epoch !== y.epoch) return Math.sign(x.epoch - y.epoch);
  for (let i = 0; i < Math.max(x.release.length, y.release.length); i++) {
    const d = (x.release[i] ?? 0) - (y.release[i] ?? 0);
    if (d) return Math.sign(d);
  }
  for (let i = 0; i < x.rest.length; i++) if (x.rest[i] !== y.rest[i]) return x.rest[i] < y.rest[i] ? -1 : 1;
  return 0;
}

/** How versions of a purl type compare under an ECOSYSTEM range; undefined where paddock has no ordering. */
function ecosystemCompare(purlType: string): Cmp | undefined {
  if (purlType === 'npm') return compareSemver;
  if (purlType === 'pypi') return comparePep440;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Ranges

/** The outcome of checking one version against one affected entry. */
export type RangeVerdict = { affected: true; fixed: string | null } | { affected: false } | { affected: 'unknown'; why: string };

/**
 * Whether `version` is affected by `entry` (its `versions` list and its SEMVER / ECOSYSTEM ranges;
 * GIT ranges name commits, which an SBOM's versions are not, and are passed over), and the lowest
 * fixed version above it. `purlType` picks the ordering of ECOSYSTEM ranges.
 */
export function affectedBy(version: string, entry: Pick<OsvAffected, 'ranges' | 'versions'>, purlType: string): RangeVerdict {
  if (entry.versions?.includes(version)) return { affected: true, fixed: lowestFixedAbove(version, entry.ranges ?? [], purlType) };
  let unknown: string | undefined;
  for (const range of entry.ranges ?? []) {
    if (range.type === 'GIT') continue;
    const cmp = range.type === 'SEMVER' ? compareSemver : ecosystemCompare(purlType);
    if (!cmp) {
      unknown ??= `no version ordering for ${purlType} ECOSYSTEM ranges`;
      continue;
    }
    const r = inRange(version, range, cmp);
    if (r === undefined) {
      unknown ??= `a version in ${JSON.stringify(range.events)} or ${JSON.stringify(version)} does not parse as ${range.type === 'SEMVER' ? 'SemVer' : purlType}`;
      continue;
    }
    if (r) return { affected: true, fixed: lowestFixedAbove(version, entry.ranges ?? [], purlType) };
  }
  return unknown ? { affected: 'unknown', why: unknown } : { affected: false };
}

/** One range, evaluated as the OSV schema's pseudocode does; undefined when a version does not parse. */
export function inRange(version: string, range: Pick<OsvRange, 'events'>, cmp: Cmp): boolean | undefined {
  const at = (e: OsvRange['events'][number]) => e.introduced ?? e.fixed ?? e.last_affected ?? e.limit!;
  // "0" (introduced) sorts below every version; "*" (limit) above every version.
  const order = (a: string, b: string): number | undefined => (a === b ? 0 : a === '0' ? -1 : b === '0' ? 1 : a === '*' ? 1 : b === '*' ? -1 : cmp(a, b));
  const limits = range.events.filter((e) => e.limit !== undefined);
  if (limits.length) {
    const below = limits.map((e) => order(version, e.limit!));
    if (below.some((c) => c === undefined)) return undefined;
    if (!below.some((c) => c! < 0)) return false;
  }
  const events = range.events.filter((e) => e.limit === undefined);
  let bad = false;
  const sorted = [...events].sort((a, b) => {
    const c = order(at(a), at(b));
    if (c === undefined) bad = true;
    return c ?? 0;
  });
  if (bad) return undefined;
  let vulnerable = false;
  for (const e of sorted) {
    const c = order(version, at(e));
    if (c === undefined) return undefined;
    if (e.introduced !== undefined && c >= 0) vulnerable = true;
    else if (e.fixed !== undefined && c >= 0) vulnerable = false;
    else if (e.last_affected !== undefined && c > 0) vulnerable = false;
  }
  return vulnerable;
}

function lowestFixedAbove(version: string, ranges: OsvRange[], purlType: string): string | null {
  let best: { v: string; cmp: Cmp } | undefined;
  for (const range of ranges) {
    const cmp = range.type === 'SEMVER' ? compareSemver : range.type === 'ECOSYSTEM' ? ecosystemCompare(purlType) : undefined;
    if (!cmp) continue;
    for (const e of range.events) {
      if (e.fixed === undefined || !((cmp(e.fixed, version) ?? -1) > 0)) continue;
      if (!best || (cmp(e.fixed, best.v) ?? 1) < 0) best = { v: e.fixed, cmp };
    }
  }
  return best?.v ?? null;
}

// ---------------------------------------------------------------------------------------------
// Packages

/** OSV ecosystem names -> purl types (purl-spec PURL-TYPES; OSV's ecosystem list). */
const ECOSYSTEM_PURL: Record<string, string> = { npm: 'npm', PyPI: 'pypi', Go: 'golang', 'crates.io': 'cargo', Maven: 'maven', RubyGems: 'gem', NuGet: 'nuget', Packagist: 'composer', Hex: 'hex', Pub: 'pub', Debian: 'deb', Ubuntu: 'deb', Alpine: 'apk', 'GitHub Actions': 'githubactions' };

/** The identity a match compares: "type/namespace/name", normalised as the purl type says (PyPI: PEP 503). */
export function packageKey(type: string, namespace: string | undefined | null, name: string): string {
  const t = type.toLowerCase();
  const norm = (s: string) => (t === 'pypi' ? s.toLowerCase().replace(/[-_.]+/g, '-') : t === 'npm' ? s.toLowerCase() : s);
  return `${t}/${namespace ? norm(namespace) : ''}/${norm(name)}`;
}

/** The key of a purl string (version, qualifiers and subpath dropped); undefined when it is not a purl. */
export function purlKey(purl: string): { key: string; type: string; version?: string } | undefined {
  try {
    const p = PackageURL.fromString(purl);
    return { key: packageKey(p.type, p.namespace, p.name), type: p.type, version: p.version ?? undefined };
  } catch {
    return undefined;
  }
}

/** The package key of an advisory's affected entry: its purl, else its ecosystem and name. */
export function affectedKey(entry: OsvAffected): { key: string; type: string } | undefined {
  if (!entry.package) return undefined;
  if (entry.package.purl) {
    const k = purlKey(entry.package.purl);
    if (k) return k;
  }
  const eco = entry.package.ecosystem.split(':')[0];
  const type = ECOSYSTEM_PURL[eco];
  if (!type) return undefined;
  const name = entry.package.name;
  if (type === 'npm' && name.startsWith('@') && name.includes('/')) return { key: packageKey(type, name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)), type };
  if (type === 'maven' && name.includes(':')) return { key: packageKey(type, name.split(':')[0], name.split(':')[1]), type };
  if (type === 'golang' && name.includes('/')) return { key: packageKey(type, name.slice(0, name.lastIndexOf('/')), name.slice(name.lastIndexOf('/') + 1)), type };
  return { key: packageKey(type, undefined, name), type };
}

// ---------------------------------------------------------------------------------------------
// Severity

const CVSS3: Record<string, Record<string, number>> = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  C: { H: 0.56, L: 0.22, N: 0 },
  I: { H: 0.56, L: 0.22, N: 0 },
  A: { H: 0.56, L: 0.22, N: 0 },
};

/** CVSS v3.1 Roundup (specification, Appendix A): the smallest one-decimal number >= x, free of float error. */
function roundup(x: number): number {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
}

/** The base score of a CVSS v3.x vector ("CVSS:3.1/AV:N/AC:L/..."); undefined when it is not one. */
export function cvss3BaseScore(vector: string): number | undefined {
  const parts = vector.trim().split('/');
  if (!/^CVSS:3\.[01]$/.test(parts[0] ?? '')) return undefined;
  const m: Record<string, string> = {};
  for (const p of parts.slice(1)) {
    const [k, v] = p.split(':');
    if (k && v) m[k] = v;
  }
  const scope = m.S;
  if (scope !== 'U' && scope !== 'C') return undefined;
  const pr = { N: 0.85, L: scope === 'C' ? 0.68 : 0.62, H: scope === 'C' ? 0.5 : 0.27 }[m.PR as 'N' | 'L' | 'H'];
  const w = (k: string) => CVSS3[k][m[k]];
  if ([w('AV'), w('AC'), w('UI'), w('C'), w('I'), w('A'), pr].some((x) => x === undefined)) return undefined;
  const iss = 1 - (1 - w('C')) * (1 - w('I')) * (1 - w('A'));
  const impact = scope === 'U' ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  const exploitability = 8.22 * w('AV') * w('AC') * pr! * w('UI');
  if (impact <= 0) return 0;
  return scope === 'U' ? roundup(Math.min(impact + exploitability, 10)) : roundup(Math.min(1.08 * (impact + exploitability), 10));
}

/** The qualitative rating of a CVSS v3 score (specification, section 5). */
export function cvssRating(score: number): ScanSeverity {
  return score >= 9 ? 'CRITICAL' : score >= 7 ? 'HIGH' : score >= 4 ? 'MEDIUM' : score > 0 ? 'LOW' : 'UNKNOWN';
}

/** An advisory's severity for one affected entry: CVSS v3 of the entry, then of the advisory, then the database's grade. */
export function advisorySeverity(adv: OsvAdvisory, entry?: OsvAffected): { severity: ScanSeverity; source: string } {
  for (const list of [entry?.severity, adv.severity]) {
    for (const s of list ?? []) {
      if (!s.type.startsWith('CVSS_V3')) continue;
      const score = cvss3BaseScore(s.score);
      if (score !== undefined) return { severity: cvssRating(score), source: `${s.score} (base score ${score.toFixed(1)})` };
    }
  }
  for (const db of [entry?.database_specific, adv.database_specific]) {
    const grade = typeof db?.severity === 'string' ? db.severity.toUpperCase() : undefined;
    if (!grade) continue;
    const sev = grade === 'MODERATE' ? 'MEDIUM' : grade;
    if (['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].includes(sev)) return { severity: sev as ScanSeverity, source: `database_specific.severity ${grade}` };
  }
  return { severity: 'UNKNOWN', source: 'no CVSS v3 vector or database grade' };
}

// ---------------------------------------------------------------------------------------------
// Matching

/** What the matcher needs of an SBOM component. */
export interface SbomPackage {
  purl: string;
  name: string;
  version: string;
  /** Which SBOM listed it (sbom.cdx.json, scans/image.cdx.json). */
  sbom?: string;
}

export interface OsvMatch {
  findings: VulnerabilityFinding[];
  /** Advisories naming a component whose ranges could not be evaluated, and why. */
  unevaluated: { id: string; component: string; why: string }[];
}

/**
 * The vulnerabilities of `components` under `advisories`: one finding per (advisory, component),
 * withdrawn advisories left out. Pure: data in, data out.
 *
 *   matchAdvisories([{purl: 'pkg:npm/zod@4.6.7', ...}], [GHSA-... affecting zod <4.7.0])
 *   -> { findings: [{id: 'GHSA-...', component: 'pkg:npm/zod@4.6.7', installed: '4.6.7', fixed: '4.7.0', severity: 'HIGH', ...}], unevaluated: [] }
 */
export function matchAdvisories(components: readonly SbomPackage[], advisories: readonly OsvAdvisory[]): OsvMatch {
  const byKey = new Map<string, { adv: OsvAdvisory; entry: OsvAffected; type: string }[]>();
  for (const adv of advisories) {
    if (adv.withdrawn) continue;
    for (const entry of adv.affected) {
      const k = affectedKey(entry);
      if (!k) continue;
      const list = byKey.get(k.key) ?? [];
      list.push({ adv, entry, type: k.type });
      byKey.set(k.key, list);
    }
  }
  const findings: VulnerabilityFinding[] = [];
  const unevaluated: OsvMatch['unevaluated'] = [];
  const seen = new Set<string>();
  for (const c of components) {
    const k = purlKey(c.purl);
    if (!k) continue;
    const version = k.version ?? c.version;
    for (const { adv, entry, type } of byKey.get(k.key) ?? []) {
      const once = `${adv.id}\0${c.purl}`;
      if (seen.has(once)) continue;
      const v = affectedBy(version, entry, type);
      if (v.affected === 'unknown') {
        unevaluated.push({ id: adv.id, component: c.purl, why: v.why });
        continue;
      }
      if (!v.affected) continue;
      seen.add(once);
      const sev = advisorySeverity(adv, entry);
      findings.push({
        id: adv.id,
        aliases: adv.aliases ?? [],
        component: c.purl,
        installed: version,
        severity: sev.severity,
        severity_source: sev.source,
        fixed: v.fixed,
        ...(adv.summary ? { summary: adv.summary } : {}),
        ...(c.sbom ? { sbom: c.sbom } : {}),
      });
    }
  }
  return { findings, unevaluated };
}

// ---------------------------------------------------------------------------------------------
// Loading (I/O)

/** Thrown for an OSV file that is not OSV: the file, and where in it. */
export class OsvFileError extends InputError {}

/** Every advisory in an OSV export: a .json file (one advisory or an array), or a directory of them (recursively). */
export function loadAdvisories(path: string): { advisories: OsvAdvisory[]; files: number } {
  if (!existsSync(path)) throw new OsvFileError(`${path}: no such file or directory (vulnerability_db: an OSV export, or a Trivy cache directory)`);
  const files: string[] = [];
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
    else if (p.endsWith('.json')) files.push(p);
  };
  walk(path);
  if (!files.length) throw new OsvFileError(`${path}: no .json files (an OSV export is one advisory per .json file; unzip osv.dev's all.zip first)`);
  const advisories: OsvAdvisory[] = [];
  for (const f of files) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(f, 'utf8'));
    } catch (err) {
      throw new OsvFileError(`${f}: not JSON: ${(err as Error).message}`);
    }
    const r = OsvFile.safeParse(json);
    if (!r.success) {
      // The union's issues are its branches': report the single-advisory branch's, or the array's.
      const issues = Array.isArray(json) ? OsvFile.options[1].safeParse(json).error?.issues : OsvFile.options[0].safeParse(json).error?.issues;
      const i = (issues ?? r.error.issues)[0];
      throw new OsvFileError(`${f}: ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message} (not an OSV advisory)`);
    }
    advisories.push(...(Array.isArray(r.data) ? r.data : [r.data]));
  }
  return { advisories, files: files.length };
}
