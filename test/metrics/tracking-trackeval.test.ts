/**
 * The tracking metrics against TrackEval run on cases we made (test/fixtures/tracking: 20 seeded
 * random sequences with drops, swaps, relabels, ghosts, frames without GT or tracker boxes, five
 * of them crowded, plus an empty tracker file and an empty GT file). TrackEval's outputs are
 * committed there (trackeval.json, from run_trackeval.py at the commit its README names), so this
 * test needs neither TrackEval nor Python: every field per sequence, and the COMBINED_SEQ row
 * over all 22, to 1e-12.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { combineTracking, evaluateTracking, type TrackEvalMetrics } from '../../src/metrics/tracking.js';
import { ROOT } from '../helpers/fixtures.js';
import { expectClose, loadCase } from '../fixtures/tracking/helpers.js';

const DIR = join(ROOT, 'test', 'fixtures', 'tracking');
const CASES = readdirSync(join(DIR, 'cases')).sort();
const REF = JSON.parse(readFileSync(join(DIR, 'trackeval.json'), 'utf8')) as { trackeval_commit: string; results: Record<string, TrackEvalMetrics> };
const METRICS = ['CLEAR', 'Identity', 'HOTA', 'Count'] as const;

describe('tracking metrics vs TrackEval on generated cases', () => {
  it('has TrackEval results for every case and the combined row', () => {
    expect(CASES.length).toBe(22);
    expect(Object.keys(REF.results).sort()).toEqual([...CASES, 'COMBINED_SEQ'].sort());
    expect(REF.trackeval_commit).toBe('12c8791b303e0a0b50f753af204249e622d0281a');
  });

  const results = new Map(CASES.map((c) => [c, evaluateTracking(loadCase(join(DIR, 'cases', c)))]));

  it.each(CASES)('%s, per sequence', (c) => {
    for (const m of METRICS) {
      expectClose(results.get(c)![m], REF.results[c][m], `${c} ${m}`);
      expect(Object.keys(results.get(c)![m]).sort()).toEqual(Object.keys(REF.results[c][m]).sort());
    }
  });

  it('COMBINED_SEQ over all cases', () => {
    const combined = combineTracking(CASES.map((c) => results.get(c)!));
    for (const m of METRICS) expectClose(combined[m], REF.results.COMBINED_SEQ[m], `COMBINED_SEQ ${m}`);
  });
});
