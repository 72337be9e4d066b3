/**
 * OSV advisories (the Open Source Vulnerability format, ossf.github.io/osv-schema, 1.6), as the
 * exports of osv.dev, GitHub's advisory database and others write them: one advisory per JSON
 * file, or a JSON array of them. Only the fields paddock matches and reports on are named here;
 * the others are kept as they are (an advisory is read, never rewritten).
 */
import { z } from 'zod';

/** `severity[]`: a scoring system and its score (for CVSS, the vector string). */
export const OsvSeverity = z.object({
  type: z.string().min(1),
  score: z.string().min(1),
});

/** One event of a range: exactly one of introduced, fixed, last_affected, limit. */
export const OsvEvent = z
  .object({
    introduced: z.string().min(1).optional(),
    fixed: z.string().min(1).optional(),
    last_affected: z.string().min(1).optional(),
    limit: z.string().min(1).optional(),
  })
  .refine((e) => Object.values(e).filter((v) => v !== undefined).length === 1, 'an event holds exactly one of introduced, fixed, last_affected, limit');
export type OsvEvent = z.infer<typeof OsvEvent>;

export const OsvRange = z.object({
  type: z.enum(['GIT', 'SEMVER', 'ECOSYSTEM']),
  repo: z.string().optional(),
  events: z.array(OsvEvent).min(1),
});
export type OsvRange = z.infer<typeof OsvRange>;

export const OsvAffected = z.object({
  package: z
    .object({
      ecosystem: z.string().min(1),
      name: z.string().min(1),
      purl: z.string().min(1).optional(),
    })
    .optional(),
  severity: z.array(OsvSeverity).optional(),
  ranges: z.array(OsvRange).optional(),
  versions: z.array(z.string()).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});
export type OsvAffected = z.infer<typeof OsvAffected>;

export const OsvAdvisory = z.object({
  schema_version: z.string().optional(),
  id: z.string().min(1),
  modified: z.string().min(1),
  published: z.string().optional(),
  withdrawn: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: z.array(OsvSeverity).optional(),
  affected: z.array(OsvAffected).default([]),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});
export type OsvAdvisory = z.infer<typeof OsvAdvisory>;

/** What an OSV export file holds: one advisory, or an array of them. */
export const OsvFile = z.union([OsvAdvisory, z.array(OsvAdvisory)]);
