/**
 * The scans of a pack, as reports/sbom.json's `scans` field and export_report.json carry them: an
 * object keyed by scan name, each with its status (`ran`, `not-run` with the reason, `failed` with
 * the reason), the tool and its version, the number of findings (null when the scan did not run:
 * a scan that did not run has no count, so it can never read as clean) and the file under scans/
 * that lists them. The findings files (scans/<name>.json) have the shapes below.
 */
import { z } from 'zod';

export const ScanName = z.enum(['image-sbom', 'secrets-pack', 'secrets-image', 'licenses-pack', 'licenses-image', 'vulnerabilities']);
export type ScanName = z.infer<typeof ScanName>;

export const ScanSeverity = z.enum(['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']);
export type ScanSeverity = z.infer<typeof ScanSeverity>;

export const ScanSummary = z.object({
  status: z.enum(['ran', 'not-run', 'failed']),
  /** Why it did not run or failed; null when it ran. */
  reason: z.string().nullable(),
  tool: z.string(),
  version: z.string().nullable(),
  /** Findings (secrets, licenses, vulnerabilities; components for image-sbom); null unless it ran. */
  findings: z.number().int().nonnegative().nullable(),
  /** The file under the pack (scans/...) that lists them; null unless it ran. */
  file: z.string().nullable(),
  /** What was scanned: "pack", an image reference with its id and digest, a database. */
  target: z.record(z.string(), z.unknown()).optional(),
  /** Findings by severity, where the scan grades them. */
  by_severity: z.record(z.string(), z.number().int().nonnegative()).optional(),
  /** Seconds the scan took (0 when it came from the cache). */
  seconds: z.number().nonnegative().optional(),
  cached: z.boolean().optional(),
});
export type ScanSummary = z.infer<typeof ScanSummary>;

export const Scans = z.record(ScanName, ScanSummary);
export type Scans = z.infer<typeof Scans>;

/** A secret: where, which rule, how bad. Never the secret itself, nor the line it is on. */
export const SecretFinding = z.object({
  file: z.string(),
  line: z.number().int().nonnegative(),
  rule: z.string(),
  category: z.string().optional(),
  title: z.string().optional(),
  severity: ScanSeverity,
});
export type SecretFinding = z.infer<typeof SecretFinding>;

/** A license found in a package's metadata or in a file (LICENSE, a source header). */
export const LicenseFinding = z.object({
  license: z.string(),
  /** The package that declares it; absent for a loose file. */
  package: z.string().optional(),
  file: z.string().optional(),
  /** Trivy's classification: forbidden, restricted, reciprocal, notice, permissive, unencumbered, unknown. */
  category: z.string(),
  severity: ScanSeverity,
});
export type LicenseFinding = z.infer<typeof LicenseFinding>;

export const VulnerabilityFinding = z.object({
  id: z.string(),
  aliases: z.array(z.string()).default([]),
  /** The component's purl (or its name where it has none). */
  component: z.string(),
  installed: z.string(),
  severity: ScanSeverity,
  /** Where the severity came from: a CVSS vector and its base score, the database's own grade. */
  severity_source: z.string().optional(),
  /** The lowest fixed version above the installed one; null when the advisory names none. */
  fixed: z.string().nullable(),
  summary: z.string().optional(),
  /** Which SBOM listed the component: sbom.cdx.json or scans/image.cdx.json. */
  sbom: z.string().optional(),
});
export type VulnerabilityFinding = z.infer<typeof VulnerabilityFinding>;

/** scans/<name>.json: a scan's findings with what it scanned and with which tool. */
export const ScanFindingsFile = z.object({
  format: z.literal('paddock.scan/1'),
  scan: ScanName,
  tool: z.string(),
  version: z.string().nullable(),
  target: z.record(z.string(), z.unknown()),
  findings: z.array(z.union([SecretFinding, LicenseFinding, VulnerabilityFinding])),
  /** Advisories that name a component of the SBOM but whose ranges paddock could not evaluate, and why. */
  unevaluated: z.array(z.object({ id: z.string(), component: z.string(), why: z.string() })).optional(),
});
