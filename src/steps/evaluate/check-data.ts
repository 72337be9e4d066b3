/**
 * The `check-data` step: manifest integrity and split leakage guards over the datasets an
 * evaluation uses. Each violation is a `failure` event naming the manifest, line and frame; any
 * violation fails the step.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { emit, progressReporter } from '../emit.js';
import { checkFiles, checkLeakage, parseManifest, type Violation } from '../../evaluate/data-checks.js';
import { CheckDataParams } from './check-data.step.js';


const SEVERITY: Record<Violation['check'], 'major' | 'critical'> = {
  schema: 'major',
  'duplicate-frame': 'major',
  'missing-file': 'major',
  'hash-mismatch': 'critical',
  'scene-leak': 'critical',
  'time-gap': 'major',
  'city-leak': 'major',
  empty: 'major',
};

export function runCheckData(p: z.infer<typeof CheckDataParams>): number {
  const manifests = p.splits.map((s) => {
    let text: string;
    try {
      text = readFileSync(s.manifest, 'utf8');
    } catch (err) {
      process.stderr.write(`check-data: cannot read ${s.manifest}: ${(err as Error).message}\n`);
      return undefined;
    }
    return parseManifest(text, s.manifest, s.name);
  });
  if (manifests.some((m) => !m)) return 1;
  const ms = manifests as NonNullable<(typeof manifests)[number]>[];
  const violations: Violation[] = [];
  // Hashing every image is the long part: progress over all the splits' files.
  const report = progressReporter('files');
  const files = ms.reduce((n, m) => n + m.rows.length, 0);
  let before = 0;
  for (const m of ms) {
    violations.push(...m.violations);
    if (p.files) violations.push(...checkFiles(m, p.root ?? dirname(dirname(m.file)), (done) => report(before + done, files, `hashing ${m.name}`)));
    before += m.rows.length;
    emit({ type: 'metric', name: 'data.frames', value: m.rows.length, slice: m.name, denominators: { frames: m.rows.length, scenes: new Set(m.rows.map((r) => r.row.scene_id)).size } });
  }
  violations.push(...checkLeakage(ms, { minGapDays: p.min_gap_days, disjointCities: p.disjoint_cities }));
  violations.forEach((v, i) => {
    emit({
      type: 'failure',
      id: `${v.check}/${v.manifest}/${v.line ?? 0}/${i}`,
      kind: v.check === 'scene-leak' || v.check === 'city-leak' || v.check === 'time-gap' ? 'leakage' : 'data-integrity',
      severity: SEVERITY[v.check],
      title: `${v.manifest}${v.line ? ` line ${v.line}` : ''}${v.frameId ? ` (${v.frameId})` : ''}: ${v.message}`,
      evidence: [{ path: ms.find((m) => m.name === v.manifest)?.file, note: v.line ? `line ${v.line}` : undefined }],
      data: { check: v.check, line: v.line ?? null, frame_id: v.frameId ?? null },
    });
  });
  emit({ type: 'metric', name: 'data.violations', value: violations.length });
  emit({
    type: 'log',
    level: violations.length ? 'error' : 'info',
    message: violations.length ? `${violations.length} data violation(s); first: ${violations[0].manifest}${violations[0].line ? ` line ${violations[0].line}` : ''}: ${violations[0].message}` : `${ms.map((m) => `${m.name} ${m.rows.length} rows`).join(', ')}: schema, unique ids, files${p.min_gap_days !== undefined ? ', time gap' : ''}${p.disjoint_cities ? ', cities' : ''} and scenes all clean`,
  });
  return violations.length ? 1 : 0;
}
