/**
 * Reports read back by independent readers: the Parquet file by @dsnp/parquetjs (a separate
 * implementation from the writer), the JUnit XML and SVG charts by Python's xml.etree.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { gatesJunit, prCurvesSvg, sliceDeltaSvg, sliceMetricsParquet } from '../../src/evaluate/reports.js';
import type { SliceMetric } from '../../src/evaluate/slices.js';
import { tempDir } from '../helpers/fixtures.js';

const rows: SliceMetric[] = [
  {
    slice: 'night+pedestrian',
    critical: true,
    denominators: { scenes: 12, scenes_with_objects: 12, effective_scenes: 10, frames: 120, objects: 87 },
    seed: 1,
    ap: { estimate: 0.41, lo: 0.36, hi: 0.47, level: 0.95, method: 'bca', replicates: 1000, drawn: 1000, se: 0.03 },
    baselineAp: 0.43,
    delta: { estimate: -0.02, lo: -0.05, hi: 0.01, level: 0.95, method: 'bca', replicates: 1000, drawn: 1000, se: 0.015, alpha: 0.05, lower: -0.045, upper: 0.005, margin: 0, p: 0.2, pAtResolution: false, pAdjusted: 0.6, adjustment: 'holm', power: 0.8, detectable: 0.037, scenesForMargin: null },
  },
  { slice: 'snow+cyclist', critical: false, denominators: { scenes: 1, scenes_with_objects: 1, effective_scenes: 1, frames: 4, objects: 2 }, seed: 2, note: 'insufficient data: 1 scene(s), 2 object(s)', insufficient: true },
];

/** Writes slice_metrics.parquet for the rows and reads it back with an independent reader. */
async function writeAndReadBack(file: string, metrics: SliceMetric[]): Promise<Record<string, unknown>[]> {
  writeFileSync(file, await sliceMetricsParquet(metrics, 'candidate', 'production'));
  const { ParquetReader } = await import('@dsnp/parquetjs');
  const reader = await ParquetReader.openFile(file);
  const cursor = reader.getCursor();
  const got: Record<string, unknown>[] = [];
  for (let r = await cursor.next(); r; r = await cursor.next()) got.push(r as Record<string, unknown>);
  await reader.close();
  return got;
}

const py = (code: string, ...args: string[]) => execFileSync('/usr/bin/python3', ['-c', code, ...args], { encoding: 'utf8' });

describe('reports', () => {
  it('slice_metrics.parquet reads back with an independent reader, nulls included', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const got = await writeAndReadBack(join(dir, 'slice_metrics.parquet'), rows);
      expect(got).toHaveLength(2);
      expect(got[0]).toMatchObject({ slice: 'night+pedestrian', critical: true, model: 'candidate', baseline: 'production', scenes: 12, frames: 120, objects: 87, ap: 0.41, ap_lo: 0.36, ap_hi: 0.47, baseline_ap: 0.43, delta: -0.02, p_adjusted: 0.6, adjustment: 'holm' });
      expect(got[1]).toMatchObject({ slice: 'snow+cyclist', critical: false, objects: 2, note: 'insufficient data: 1 scene(s), 2 object(s)' });
      expect(got[1].ap ?? null).toBeNull();
    } finally {
      cleanup();
    }
  });

  it('JUnit XML of the gates parses, with failures, skips and escaping', () => {
    const xml = gatesJunit('r-1', [
      { gate: 'overall-ap', stage: 'evaluate', verdict: 'pass', rationale: ['coco.AP = 0.5 meets >= 0.45'] },
      { gate: 'critical-slices', stage: 'evaluate', verdict: 'fail', rationale: ['coco.AP (slice night+pedestrian) = 0.3 does not meet >= 0.343 <& "quoted">'] },
      { gate: 'review-me', stage: 'promote', verdict: 'review', rationale: ['needs a person'] },
      { gate: 'rejected', stage: 'promote', verdict: 'review', rationale: ['asked'], answer: { decision: 'rejected', actor: 'ana@example.com', reason: 'too slow' } },
    ]);
    const out = py(
      'import sys, xml.etree.ElementTree as ET\nr = ET.fromstring(sys.argv[1].encode())\ns = r.find("testsuite")\nprint(r.get("tests"), r.get("failures"), r.get("skipped"), [(c.get("name"), [x.tag for x in c]) for c in s.findall("testcase")])\nprint(s.findall("testcase")[1].find("failure").get("message"))',
      xml,
    );
    expect(out.split('\n')[0]).toBe("4 2 1 [('overall-ap', ['system-out']), ('critical-slices', ['failure']), ('review-me', ['skipped']), ('rejected', ['failure'])]");
    expect(out.split('\n')[1]).toBe('coco.AP (slice night+pedestrian) = 0.3 does not meet >= 0.343 <& "quoted">');
  });

  it('charts are well-formed SVG', () => {
    const svgs = [sliceDeltaSvg(rows, 'AP delta <test>'), prCurvesSvg([{ name: 'car', iou: 0.5, recall: [0, 0.5, 1], precision: [1, 0.8, -1] }], 'PR')];
    for (const svg of svgs) {
      expect(py('import sys, xml.etree.ElementTree as ET\nprint(ET.fromstring(sys.argv[1].encode()).tag)', svg).trim()).toBe('{http://www.w3.org/2000/svg}svg');
    }
    expect(svgs[0]).toContain('night+pedestrian *');
  });
});

describe('slice_metrics.parquet: sample sizes, one-sided bounds, power', () => {
  const small: SliceMetric = { slice: 'fog+cyclist', critical: true, denominators: { scenes: 4, scenes_with_objects: 3, effective_scenes: 2, frames: 30, objects: 11 }, seed: 4_000_000_000, apPoint: 0.25, baselineAp: 0.3, note: 'insufficient data: 3 scene(s) with objects (minimum 10)', insufficient: true };
  const atResolution: SliceMetric = { ...rows[0], slice: 'day', critical: false, delta: { ...rows[0].delta!, p: 1 / 201, pAtResolution: true, pAdjusted: 1 / 201, adjustment: 'benjamini-hochberg', margin: 0.02, scenesForMargin: 41 } };

  it('has the new columns, the point AP of an insufficient slice in `ap` and nulls where there is no test', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const got = await writeAndReadBack(join(dir, 'slice_metrics.parquet'), [rows[0], small, atResolution, rows[1]]);
      expect(got).toHaveLength(4);
      expect(got[0]).toMatchObject({ scenes_with_objects: 12, effective_scenes: 10, insufficient: false, method: 'bca', replicates: 1000, delta_lower: -0.045, delta_upper: 0.005, alpha: 0.05, margin: 0, p: 0.2, p_at_resolution: false, detectable: 0.037 });
      expect(Number(got[0].seed)).toBe(1);
      expect(got[0].scenes_for_margin ?? null).toBeNull();
      expect(got[1]).toMatchObject({ slice: 'fog+cyclist', insufficient: true, ap: 0.25, baseline_ap: 0.3, scenes_with_objects: 3, effective_scenes: 2 });
      expect(Number(got[1].seed)).toBe(4_000_000_000);
      for (const k of ['ap_lo', 'ap_hi', 'method', 'replicates', 'delta', 'delta_lower', 'delta_upper', 'p', 'p_at_resolution', 'p_adjusted', 'detectable', 'scenes_for_margin']) expect(got[1][k] ?? null, k).toBeNull();
      expect(got[2]).toMatchObject({ p_at_resolution: true, margin: 0.02, scenes_for_margin: 41, adjustment: 'benjamini-hochberg' });
      expect(got[3]).toMatchObject({ slice: 'snow+cyclist', insufficient: true });
      expect(got[3].ap ?? null).toBeNull();
    } finally {
      cleanup();
    }
  });

  it('the delta chart draws an insufficient slice as a point without a whisker, labelled', () => {
    const svg = sliceDeltaSvg([rows[0], small], 'AP delta');
    expect(py('import sys, xml.etree.ElementTree as ET\nr = ET.fromstring(sys.argv[1].encode())\nns = "{http://www.w3.org/2000/svg}"\nprint(len(r.findall(ns + "circle")), len(r.findall(ns + "rect")), len(r.findall(ns + "line")), sum(1 for t in r.findall(ns + "text") if t.text == "insufficient"))', svg).trim()).toBe('1 1 4 1');
    expect(svg).toContain('fog+cyclist *');
  });
});
