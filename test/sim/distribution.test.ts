/**
 * ParameterValueDistribution expansion: the esmini cut-in parameter set (esmini prints "Nr
 * permutations: 12"), the Vector CCRb variation, paddock's NCAP variations, and stochastic draws
 * (deterministic for a seed; their moments against the distributions' closed forms).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isInputError } from '../../src/files/input-error.js';
import { expandDistribution } from '../../src/sim/distribution.js';

const REF = join(import.meta.dirname, '..', 'fixtures', 'openscenario');
const NCAP = join(import.meta.dirname, '..', '..', 'fixtures', 'sim', 'ncap');
const read = (f: string): string => readFileSync(f, 'utf8');

describe('deterministic distributions', () => {
  it('esmini cut-in_parameter_set: 2 value sets x EgoSpeed {70, 110} x TargetSpeedFactor 1.1..1.5 step 0.2 = 12', () => {
    const f = join(REF, 'esmini_cut-in_parameter_set.xosc');
    const d = expandDistribution(read(f), f);
    expect(d.scenarioFile).toBe('cut-in.xosc');
    expect(d.sets).toHaveLength(12);
    expect(d.sets[0]).toEqual({ HostVehicle: 'car_blue', TargetVehicle: 'car_yellow', EgoSpeed: 70, TargetSpeedFactor: 1.1 });
    expect(d.sets[11]).toEqual({ TargetVehicle: 'van_red', EgoSpeed: 110, TargetSpeedFactor: 1.5 });
    expect([...new Set(d.sets.map((s) => s.TargetSpeedFactor))]).toEqual([1.1, 1.3, 1.5]);
    expect(new Set(d.sets.map((s) => JSON.stringify(s))).size).toBe(12);
  });

  it('Vector NCAP_AEB_C2C_CCRb_Variation_2023: six one-element sets x GVT_headway {12, 40} x GVT_deceleration {2, 6} = 4', () => {
    const f = join(REF, 'vector_NCAP_AEB_C2C_CCRb_Variation_2023.xosc');
    const d = expandDistribution(read(f), f);
    expect(d.scenarioFile).toBe('../NCAP_AEB_C2C_CCR_2023.xosc');
    expect(d.sets).toHaveLength(1 * 1 * 1 * 1 * 1 * 1 * 2 * 2);
    expect(d.sets.map((s) => [s.GVT_headway, s.GVT_deceleration])).toEqual([[12, 2], [12, 6], [40, 2], [40, 6]]);
    expect(d.sets[0]).toMatchObject({ Scenario_ID: 'CCRb', Overlap: 100, GVT_init_speed_kph: 50, Ego_speed_kph: 50, GVT_final_speed_kph: 2, isCCRbraking: true });
  });

  it("paddock's NCAP variations have the protocol's ranges", () => {
    const count = (f: string): number => expandDistribution(read(join(NCAP, f)), f).sets.length;
    // CCRs ego 10..50 step 5 (9) x overlap 3; CCRm 30..80 step 5 (11) x 3; CCRb as Vector's (4);
    // CPNC 20..60 step 5 (9) x impact 25/75; CPFA 9 x 50 %; CBLA 25..60 step 5 (8) x 25/50 %.
    expect(count('ccrs_variation.xosc')).toBe(27);
    expect(count('ccrm_variation.xosc')).toBe(33);
    expect(count('ccrb_variation.xosc')).toBe(4);
    expect(count('cpnc_variation.xosc')).toBe(18);
    expect(count('cpfa_variation.xosc')).toBe(9);
    expect(count('cbla_variation.xosc')).toBe(16);
    const speeds = expandDistribution(read(join(NCAP, 'ccrs_variation.xosc')), 'x').sets.map((s) => s.Ego_speed_kph);
    expect([...new Set(speeds)]).toEqual([10, 15, 20, 25, 30, 35, 40, 45, 50]);
  });
});

const stochastic = (seed: number, runs: number): string => `<?xml version="1.0"?>
<OpenSCENARIO>
  <FileHeader revMajor="1" revMinor="2" date="2025-01-01T00:00:00" description="s" author="t"/>
  <ParameterValueDistribution>
    <ScenarioFile filepath="ccrs.xosc"/>
    <Stochastic numberOfTestRuns="${runs}" randomSeed="${seed}">
      <StochasticDistribution parameterName="N"><NormalDistribution expectedValue="10" variance="4"/></StochasticDistribution>
      <StochasticDistribution parameterName="T"><NormalDistribution expectedValue="0" variance="1"><Range lowerLimit="0" upperLimit="10"/></NormalDistribution></StochasticDistribution>
      <StochasticDistribution parameterName="L"><LogNormalDistribution expectedValue="2" variance="0.5"/></StochasticDistribution>
      <StochasticDistribution parameterName="U"><UniformDistribution><Range lowerLimit="2" upperLimit="4"/></UniformDistribution></StochasticDistribution>
      <StochasticDistribution parameterName="P"><PoissonDistribution expectedValue="3"/></StochasticDistribution>
      <StochasticDistribution parameterName="H"><Histogram><Bin weight="1"><Range lowerLimit="0" upperLimit="1"/></Bin><Bin weight="3"><Range lowerLimit="5" upperLimit="6"/></Bin></Histogram></StochasticDistribution>
      <StochasticDistribution parameterName="S"><ProbabilityDistributionSet><Element value="car" weight="0.25"/><Element value="van" weight="0.75"/></ProbabilityDistributionSet></StochasticDistribution>
    </Stochastic>
  </ParameterValueDistribution>
</OpenSCENARIO>`;

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: number[]): number => {
  const m = mean(xs);
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1);
};

describe('stochastic distributions', () => {
  it('are deterministic for the file\'s randomSeed and differ for another', () => {
    const a = expandDistribution(stochastic(42, 50), 's.xosc').sets;
    expect(a).toHaveLength(50);
    expect(expandDistribution(stochastic(42, 50), 's.xosc').sets).toEqual(a);
    expect(expandDistribution(stochastic(43, 50), 's.xosc').sets).not.toEqual(a);
  });

  it('draw with the closed-form moments (4000 runs; tolerances 5 standard errors)', () => {
    const n = 4000;
    const sets = expandDistribution(stochastic(7, n), 's.xosc').sets;
    const col = (k: string): number[] => sets.map((s) => s[k] as number);
    const se = (sd: number): number => (5 * sd) / Math.sqrt(n);
    expect(Math.abs(mean(col('N')) - 10)).toBeLessThan(se(2));
    expect(Math.abs(variance(col('N')) - 4)).toBeLessThan(5 * 4 * Math.sqrt(2 / n));
    // A standard normal truncated to [0, 10]: the half-normal, mean sqrt(2/pi).
    expect(col('T').every((x) => x >= 0 && x <= 10)).toBe(true);
    expect(Math.abs(mean(col('T')) - Math.sqrt(2 / Math.PI))).toBeLessThan(se(Math.sqrt(1 - 2 / Math.PI)));
    expect(Math.abs(mean(col('L')) - 2)).toBeLessThan(se(Math.sqrt(0.5)));
    expect(Math.abs(variance(col('L')) - 0.5)).toBeLessThan(0.1);
    expect(col('U').every((x) => x >= 2 && x < 4)).toBe(true);
    expect(Math.abs(mean(col('U')) - 3)).toBeLessThan(se(2 / Math.sqrt(12)));
    expect(col('P').every((x) => Number.isInteger(x))).toBe(true);
    expect(Math.abs(mean(col('P')) - 3)).toBeLessThan(se(Math.sqrt(3)));
    const h = col('H');
    expect(h.every((x) => (x >= 0 && x <= 1) || (x >= 5 && x <= 6))).toBe(true);
    expect(Math.abs(h.filter((x) => x >= 5).length / n - 0.75)).toBeLessThan(se(Math.sqrt(0.75 * 0.25)));
    expect(Math.abs(sets.filter((s) => s.S === 'van').length / n - 0.75)).toBeLessThan(se(Math.sqrt(0.75 * 0.25)));
  });

  it('locates malformed files and bad numbers', () => {
    const broken = stochastic(1, 3).replace('</Stochastic>', '</Stochastik>');
    const e = (() => {
      try {
        expandDistribution(broken, 'd.xosc');
      } catch (err) {
        return err as Error;
      }
      throw new Error('expected an error');
    })();
    expect(isInputError(e)).toBe(true);
    expect(e.message).toMatch(/^d\.xosc:\d+:\d+: not well-formed XML/);
    expect(() => expandDistribution(stochastic(1, 3).replace('variance="4"', 'variance="four"'), 'd.xosc')).toThrow(/^d\.xosc:7: NormalDistribution variance="four" is not a number/);
  });
});
