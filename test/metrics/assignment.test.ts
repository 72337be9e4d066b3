/**
 * linearSumAssignment against scipy.optimize.linear_sum_assignment itself (Debian's python3-scipy
 * run as a subprocess): the same pairs, not merely the same total, on random matrices full of
 * ties (integers 0..3), zeros, constants, wide and tall shapes, minimise and maximise, and
 * IoU-like matrices with the CLEAR +1000 bonus. Plus the errors scipy raises.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { linearSumAssignment } from '../../src/metrics/assignment.js';
import { pythonBin } from '../../src/pack/python.js';
import { seededRandom } from '../../src/files/prng.js';

interface Case {
  name: string;
  rows: number;
  cols: number;
  cost: number[];
  maximize: boolean;
}

function cases(): Case[] {
  const rand = seededRandom(18);
  const out: Case[] = [];
  const kinds = ['int0to3', 'zeros', 'constant', 'uniform', 'sparse-iou', 'int0to1'] as const;
  let n = 0;
  for (const kind of kinds) {
    for (let k = 0; k < 60; k++) {
      const rows = 1 + Math.floor(rand() * 8);
      const cols = 1 + Math.floor(rand() * 8);
      const cost: number[] = [];
      for (let e = 0; e < rows * cols; e++) {
        if (kind === 'int0to3') cost.push(Math.floor(rand() * 4));
        else if (kind === 'int0to1') cost.push(Math.floor(rand() * 2));
        else if (kind === 'zeros') cost.push(0);
        else if (kind === 'constant') cost.push(2.5);
        else if (kind === 'uniform') cost.push(rand());
        else {
          const iou = rand() < 0.6 ? 0 : Math.round(rand() * 100) / 100;
          cost.push(iou < 0.5 ? 0 : iou + (rand() < 0.3 ? 1000 : 0));
        }
      }
      out.push({ name: `${kind}-${n++}`, rows, cols, cost, maximize: k % 2 === 0 });
    }
  }
  out.push({ name: 'empty-rows', rows: 0, cols: 3, cost: [], maximize: false });
  out.push({ name: 'empty-cols', rows: 4, cols: 0, cost: [], maximize: true });
  out.push({ name: 'big-tall', rows: 40, cols: 25, cost: Array.from({ length: 1000 }, () => Math.floor(rand() * 4)), maximize: true });
  out.push({ name: 'big-wide', rows: 25, cols: 40, cost: Array.from({ length: 1000 }, () => Math.floor(rand() * 4)), maximize: false });
  out.push({ name: 'with-inf', rows: 3, cols: 3, cost: [Infinity, 1, 2, 1, Infinity, 3, 2, 2, Infinity], maximize: false });
  return out;
}

const SCRIPT = `
import json, sys
import numpy as np
from scipy.optimize import linear_sum_assignment
out = {}
for c in json.load(sys.stdin):
    m = np.array([float(x) for x in c["cost"]], dtype=np.float64).reshape(c["rows"], c["cols"])
    r, k = linear_sum_assignment(m, maximize=c["maximize"])
    out[c["name"]] = [r.tolist(), k.tolist()]
print(json.dumps(out))
`;

describe('linearSumAssignment', () => {
  it('returns exactly the pairs scipy returns, ties included', async () => {
    const all = cases();
    const input = JSON.stringify(all.map((c) => ({ ...c, cost: c.cost.map((x) => (x === Infinity ? 'inf' : x)) })));
    const r = await execa(pythonBin(), ['-c', SCRIPT], { input });
    const scipy = JSON.parse(r.stdout) as Record<string, [number[], number[]]>;
    let tallTies = 0;
    for (const c of all) {
      const got = linearSumAssignment(Float64Array.from(c.cost), c.rows, c.cols, { maximize: c.maximize });
      expect([Array.from(got.rowInd), Array.from(got.colInd)], c.name).toEqual(scipy[c.name]);
      if (c.rows > c.cols && c.name.startsWith('int')) tallTies++;
    }
    expect(tallTies).toBeGreaterThan(20);
  });

  it('gives the identity on a constant square matrix, as scipy does (#11602)', () => {
    const got = linearSumAssignment(new Float64Array(16).fill(1), 4, 4);
    expect(Array.from(got.colInd)).toEqual([0, 1, 2, 3]);
  });

  it.each([
    ['NaN', [1, NaN, 2, 3], {}, /invalid cost entry NaN at row 0, column 1/],
    ['-Infinity', [1, 2, -Infinity, 3], {}, /invalid cost entry -Infinity at row 1, column 0/],
    ['+Infinity when maximising', [Infinity, 2, 1, 3], { maximize: true }, /invalid cost entry Infinity at row 0, column 0/],
    ['no finite assignment', [Infinity, Infinity, 1, 2], {}, /infeasible/],
  ])('rejects %s', (_name, cost, opts, message) => {
    expect(() => linearSumAssignment(Float64Array.from(cost), 2, 2, opts)).toThrow(message);
  });

  it('rejects a cost array of the wrong length, naming both sizes', () => {
    expect(() => linearSumAssignment(new Float64Array(5), 2, 3)).toThrow(/5 entries, expected 2 x 3 = 6/);
  });
});
