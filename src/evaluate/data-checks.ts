/**
 * Manifest integrity and split leakage guards: pure checks over manifest rows, each violation
 * naming the manifest, the line and the frame.
 *
 * Integrity: every row parses against the manifest schema (required fields, value sets,
 * ranges), frame ids are unique, and (with a dataset root) every image file exists and matches
 * its sha256. Leakage: no scene in two splits, a minimum time gap between the splits in their
 * declared order, and no city in two splits (the regional separation policy).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ManifestRow } from '../schema/manifest.js';
import { parseManifestText } from '../schema/manifest-load.js';

export interface Violation {
  check: 'schema' | 'duplicate-frame' | 'missing-file' | 'hash-mismatch' | 'scene-leak' | 'time-gap' | 'city-leak' | 'empty';
  manifest: string;
  /** 1-based line of the manifest, where one row is at fault. */
  line?: number;
  frameId?: string;
  message: string;
}

export interface LoadedManifest {
  name: string;
  file: string;
  rows: { line: number; row: ManifestRow }[];
  violations: Violation[];
}

/**
 * Parses a JSONL manifest (the one reader, src/schema/manifest-load.ts); bad rows become
 * violations, good rows are returned with their line.
 */
export function parseManifest(text: string, file: string, name = file): LoadedManifest {
  const parsed = parseManifestText(text, file);
  const violations: Violation[] = parsed.issues.map((i) => ({ check: i.kind === 'duplicate-frame' ? 'duplicate-frame' : 'schema', manifest: name, line: i.line, frameId: i.frameId, message: i.message }));
  if (parsed.rows.length === 0 && violations.length === 0) violations.push({ check: 'empty', manifest: name, message: 'the manifest has no rows' });
  return { name, file, rows: parsed.rows, violations };
}

/** Checks that every row's image exists under `root` and matches its sha256; `onFile` is told how many are checked. */
export function checkFiles(m: LoadedManifest, root: string, onFile?: (done: number, total: number) => void): Violation[] {
  const out: Violation[] = [];
  for (const [i, { line, row }] of m.rows.entries()) {
    onFile?.(i, m.rows.length);
    const path = join(root, row.path);
    if (!existsSync(path)) {
      out.push({ check: 'missing-file', manifest: m.name, line, frameId: row.frame_id, message: `image ${row.path} is missing` });
      continue;
    }
    const got = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (got !== row.sha256) out.push({ check: 'hash-mismatch', manifest: m.name, line, frameId: row.frame_id, message: `image ${row.path} has sha256 ${got}, the manifest says ${row.sha256}` });
  }
  onFile?.(m.rows.length, m.rows.length);
  return out;
}

export interface LeakagePolicy {
  /** Minimum days between the last frame of a split and the first frame of the next one. */
  minGapDays?: number;
  /** No city in two splits. */
  disjointCities?: boolean;
}

/** Leakage between splits, given in their temporal order (train, val, test). */
export function checkLeakage(splits: LoadedManifest[], policy: LeakagePolicy): Violation[] {
  const out: Violation[] = [];
  const owner = new Map<string, { split: string; line: number }>();
  const cityOwner = new Map<string, string>();
  for (const m of splits) {
    for (const { line, row } of m.rows) {
      const o = owner.get(row.scene_id);
      if (o && o.split !== m.name) out.push({ check: 'scene-leak', manifest: m.name, line, frameId: row.frame_id, message: `scene ${row.scene_id} is also in ${o.split} (line ${o.line})` });
      else if (!o) owner.set(row.scene_id, { split: m.name, line });
      if (policy.disjointCities) {
        const c = cityOwner.get(row.city);
        if (c && c !== m.name) out.push({ check: 'city-leak', manifest: m.name, line, frameId: row.frame_id, message: `city ${row.city} is also in ${c} (regional separation policy)` });
        else if (!c) cityOwner.set(row.city, m.name);
      }
    }
  }
  if (policy.minGapDays !== undefined) {
    for (let i = 0; i + 1 < splits.length; i++) {
      const a = splits[i];
      const b = splits[i + 1];
      if (!a.rows.length || !b.rows.length) continue;
      const last = a.rows.reduce((p, r) => (Date.parse(r.row.timestamp) > Date.parse(p.row.timestamp) ? r : p));
      const first = b.rows.reduce((p, r) => (Date.parse(r.row.timestamp) < Date.parse(p.row.timestamp) ? r : p));
      const gapDays = (Date.parse(first.row.timestamp) - Date.parse(last.row.timestamp)) / 86_400_000;
      if (gapDays < policy.minGapDays) {
        out.push({
          check: 'time-gap',
          manifest: b.name,
          line: first.line,
          frameId: first.row.frame_id,
          message: `${b.name} starts ${gapDays.toFixed(2)} days after ${a.name} ends (its line ${last.line}, ${last.row.timestamp}); the policy asks for at least ${policy.minGapDays}`,
        });
      }
    }
  }
  return out;
}
