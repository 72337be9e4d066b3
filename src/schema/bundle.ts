/**
 * The world's list of replay drives, manifests/replay_drives.json: one MCAP bundle per drive
 * (src/world/dataset.ts writes it, the replay step reads it), each with the digest it had when
 * written, so a reader can tell a bundle that changed since.
 */
import { z } from 'zod';

export const ReplayDriveEntry = z.object({
  drive_id: z.string().min(1),
  /** The bundle, relative to the world directory (drives/<drive_id>.mcap). */
  path: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  frames: z.number().int().nonnegative(),
  rate_hz: z.number().positive(),
  /** From the first frame's capture to the last's, seconds. */
  duration_s: z.number().nonnegative(),
  /** The first frame's capture time, ISO 8601 UTC. */
  start: z.string(),
  seed: z.number().int(),
  /** weather, time_of_day, road_type, region (the manifest rows' names). */
  conditions: z.record(z.string(), z.string()),
});
export type ReplayDriveEntry = z.infer<typeof ReplayDriveEntry>;

export const ReplayDrivesManifest = z.object({
  version: z.literal(1),
  /** Schemas and topics of the bundles (docs/replay.md, "Log bundles"). */
  format: z.literal('mcap'),
  drives: z.array(ReplayDriveEntry),
});
export type ReplayDrivesManifest = z.infer<typeof ReplayDrivesManifest>;
