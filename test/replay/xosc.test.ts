/**
 * OpenSCENARIO export of flagged intervals: every file written is validated against the ASAM 1.3
 * XSD by xmllint (a real process) and parsed back; the parsed trajectories, parameters, entities
 * and environment match the interval to the precision written; the sweep parameters move what
 * they should; the parser reads the real files in test/fixtures/openscenario (copies of
 * ../shared/reference/openscenario) and names file:line on a malformed one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { XMLValidator } from 'fast-xml-parser';
import { intervalFromFrames } from '../../src/replay/scenario.js';
import { roadGeometry } from '../../src/replay/opendrive.js';
import { PRECISION, centreOffset, defaultXodrFile, evaluateExpression, parseOpenScenario, toOpenScenario, validateXosc, xsdPath, type ParsedPosition } from '../../src/replay/xosc.js';
import type { ScenarioInterval } from '../../src/schema/scenario.js';
import { cutIn, leadBraking, pedestrianCrossing, type Drive } from '../fixtures/openscenario/frames.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'openscenario');
const dir = mkdtempSync(join(tmpdir(), 'paddock-xosc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const drives: [string, () => Drive][] = [
  ['cut-in', cutIn],
  ['pedestrian crossing', pedestrianCrossing],
  ['lead car braking', leadBraking],
];
const intervalOf = (d: Drive): ScenarioInterval => intervalFromFrames(d.frames, d.info, 0, d.frames.length - 1, { reason: 'time to first detection 1.2 s' });

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function world(p: ParsedPosition | undefined): { x: number; y: number; h: number } {
  if (!p || p.kind !== 'WorldPosition' || !('x' in p)) throw new Error(`expected a WorldPosition, got ${JSON.stringify(p)}`);
  return { x: p.x, y: p.y, h: p.h ?? 0 };
}

/** Half a unit in the last written place, plus what the expressions' 6-decimal factors add. */
const POS_TOL = 0.5 * 10 ** -PRECISION.position + 1e-6;
const H_TOL = 0.5 * 10 ** -PRECISION.heading + 1e-9;

describe('toOpenScenario', () => {
  for (const [name, drive] of drives) {
    it(`${name}: the .xosc validates against the OpenSCENARIO 1.3 XSD and parses back to the interval`, async () => {
      const iv = intervalOf(drive());
      const { xosc, xodr } = toOpenScenario(iv);
      const file = write(`${iv.driveId}.xosc`, xosc);
      expect(await validateXosc(file)).toEqual({ ok: true, errors: [] });
      expect(xodr).toBeDefined();
      write(defaultXodrFile(iv), xodr!);

      const p = parseOpenScenario(xosc, file);
      expect(p.rev).toEqual({ major: 1, minor: 3 });
      expect(p.header.description).toBe(`paddock replay of drive ${iv.driveId}, frames 0-${iv.toIndex} (${iv.durationS.toFixed(3)} s): time to first detection 1.2 s`);
      expect(p.header.properties).toMatchObject({ driveId: iv.driveId, fromIndex: '0', toIndex: String(iv.toIndex), reason: iv.reason, startNs: iv.startNs });
      expect(p.roadNetwork?.logicFile).toBe(defaultXodrFile(iv));
      expect(p.parameters.EgoSpeed.value).toBeCloseTo(iv.params.egoSpeed, PRECISION.speed);
      expect(p.parameters.GapTime.value).toBeCloseTo(iv.params.gapTime!, PRECISION.gapTime);
      expect(p.parameters.ActorSpeed.value).toBeCloseTo(iv.params.actorSpeed!, PRECISION.speed);
      expect(p.parameters.ActorType.value).toBe(iv.params.actorType);
      expect(p.stopTime).toBeCloseTo(iv.durationS, PRECISION.time);

      const all = [iv.ego, ...iv.actors];
      expect(p.entities.map((e) => e.name)).toEqual(all.map((e) => e.name));
      for (const e of all) {
        const pe = p.entities.find((x) => x.name === e.name)!;
        expect(pe.kind).toBe(e.type.kind);
        expect(pe.category).toBe(e.type.category);
        expect(pe.size![0]).toBeCloseTo(e.size[0], PRECISION.size);
        expect(pe.size![1]).toBeCloseTo(e.size[1], PRECISION.size);
        expect(pe.size![2]).toBeCloseTo(e.size[2], PRECISION.size);
        expect(pe.center![0]).toBeCloseTo(centreOffset(e), PRECISION.size);
        const tr = p.trajectories.filter((t) => t.entities.includes(e.name));
        expect(tr).toHaveLength(1);
        expect(tr[0].timing?.scale).toBeCloseTo(1, 12);
        expect(tr[0].vertices).toHaveLength(e.trajectory.length);
        tr[0].vertices.forEach((v, i) => {
          const s = e.trajectory[i];
          const w = world(v.position);
          expect(Math.abs(v.t! - s.t)).toBeLessThanOrEqual(0.5 * 10 ** -PRECISION.time + 1e-12);
          // the file places vehicles by the rear axle; its box centre is centreOffset ahead
          expect(Math.abs(w.x + pe.center![0] * Math.cos(w.h) - s.x)).toBeLessThanOrEqual(POS_TOL + pe.center![0] * H_TOL);
          expect(Math.abs(w.y + pe.center![0] * Math.sin(w.h) - s.y)).toBeLessThanOrEqual(POS_TOL + pe.center![0] * H_TOL);
          expect(Math.abs(w.h - s.h)).toBeLessThanOrEqual(H_TOL);
        });
        const init = p.init[e.name];
        expect(init.speed).toBeCloseTo(e.trajectory[0].speed, PRECISION.speed);
        expect(world(init.position)).toEqual(world(tr[0].vertices[0].position));
        expect(init.visible).toBe(e.trajectory[0].t > 0 ? false : undefined);
      }
    });

    it(`${name}: the generated OpenDRIVE is well-formed XML and its road holds every logged position`, () => {
      const iv = intervalOf(drive());
      const { xodr } = toOpenScenario(iv);
      expect(XMLValidator.validate(xodr!)).toBe(true);
      const file = write(`${iv.driveId}.xodr`, xodr!);
      execFileSync('xmllint', ['--noout', file]);
      const g = roadGeometry(iv);
      for (const e of [iv.ego, ...iv.actors]) {
        for (const s of e.trajectory) {
          const along = (s.x - g.x) * Math.cos(g.hdg) + (s.y - g.y) * Math.sin(g.hdg);
          expect(along).toBeGreaterThan(0);
          expect(along).toBeLessThan(g.length);
        }
      }
      expect(xodr).toContain('revMajor="1" revMinor="6"');
    });
  }

  it('the environment follows the bundle\'s conditions', () => {
    const env = (d: Drive) => parseOpenScenario(toOpenScenario(intervalOf(d)).xosc).environment!;
    expect(env(cutIn())).toMatchObject({ precipitation: { type: 'rain', intensity: 5 }, timeOfDay: { dateTime: '2023-11-14T19:30:00' }, sun: { elevation: 0.05 }, frictionScaleFactor: 0.7 });
    expect(env(pedestrianCrossing())).toMatchObject({ fogVisualRange: 60, precipitation: { type: 'dry' }, timeOfDay: { dateTime: '2023-11-14T23:00:00' } });
    expect(env(pedestrianCrossing()).sun!.elevation).toBeLessThan(0);
    expect(env(leadBraking())).toMatchObject({ precipitation: { type: 'snow' }, timeOfDay: { dateTime: '2023-11-14T12:00:00' }, sun: { elevation: 1 } });
  });

  it('a changed $EgoSpeed moves the ego\'s init speed and its trajectory\'s time scale; the file still validates', async () => {
    const iv = intervalOf(cutIn());
    const { xosc } = toOpenScenario(iv);
    const changed = xosc.replace('<ParameterDeclaration name="EgoSpeed" parameterType="double" value="25.000"/>', '<ParameterDeclaration name="EgoSpeed" parameterType="double" value="31.25"/>');
    expect(changed).not.toBe(xosc);
    const p = parseOpenScenario(changed);
    expect(p.init.Ego.speed).toBe(31.25);
    expect(p.trajectories.find((t) => t.entities[0] === 'Ego')!.timing!.scale).toBeCloseTo(25 / 31.25, 12);
    // the key actor keeps its gap time: at a faster ego it starts further ahead (heading 0: x only)
    const before = world(parseOpenScenario(xosc).init.car_7.position);
    expect(world(p.init.car_7.position).x - before.x).toBeCloseTo(0.6 * (31.25 - 25), 9);
    expect(p.stopTime).toBeCloseTo(iv.durationS * (25 / 31.25), 9);
    expect((await validateXosc(write('ego-speed.xosc', changed))).ok).toBe(true);
  });

  it('a changed $GapTime moves the key actor, init and every vertex, along the ego\'s heading', () => {
    const iv = intervalOf(leadBraking());
    const { xosc } = toOpenScenario(iv);
    const changed = xosc.replace(/name="GapTime" parameterType="double" value="[^"]+"/, 'name="GapTime" parameterType="double" value="2.3333"');
    const a = parseOpenScenario(xosc);
    const b = parseOpenScenario(changed);
    const h = iv.ego.trajectory[0].h;
    const moved = (pa: ParsedPosition | undefined, pb: ParsedPosition | undefined): [number, number] => [world(pb).x - world(pa).x, world(pb).y - world(pa).y];
    const expected: [number, number] = [15 * Math.cos(h), 15 * Math.sin(h)];
    expect(moved(a.init.car_21.position, b.init.car_21.position)[0]).toBeCloseTo(expected[0], 4);
    expect(moved(a.init.car_21.position, b.init.car_21.position)[1]).toBeCloseTo(expected[1], 4);
    const ta = a.trajectories.find((t) => t.entities[0] === 'car_21')!;
    const tb = b.trajectories.find((t) => t.entities[0] === 'car_21')!;
    ta.vertices.forEach((v, i) => expect(moved(v.position, tb.vertices[i].position)[0]).toBeCloseTo(expected[0], 4));
    // other actors stay where the log had them
    expect(b.init.cyclist_22.position).toEqual(a.init.cyclist_22.position);
  });

  it('$ActorType is the key actor\'s category attribute and $ActorSpeed its init speed and time scale', () => {
    const { xosc } = toOpenScenario(intervalOf(cutIn()));
    expect(xosc).toContain('vehicleCategory="$ActorType"');
    const p = parseOpenScenario(xosc.replace(/name="ActorType" parameterType="string" value="car"/, 'name="ActorType" parameterType="string" value="truck"').replace(/name="ActorSpeed" parameterType="double" value="22.000"/, 'name="ActorSpeed" parameterType="double" value="11"'));
    expect(p.entities.find((e) => e.name === 'car_7')!.category).toBe('truck');
    expect(p.init.car_7.speed).toBe(11);
    expect(p.trajectories.find((t) => t.entities[0] === 'car_7')!.timing!.scale).toBeCloseTo(2, 12);
    const ped = toOpenScenario(intervalOf(pedestrianCrossing())).xosc;
    expect(ped).toContain('pedestrianCategory="$ActorType"');
  });

  it('an actor that enters late is hidden until its first sample and shown then', () => {
    const { xosc } = toOpenScenario(intervalOf(pedestrianCrossing()));
    expect(xosc).toMatch(/<Event name="pedestrian_11_appear"[\s\S]*?SimulationTimeCondition value="\$\{0\.500 \* 1\.400 \/ \$ActorSpeed\}" rule="greaterOrEqual"/);
    expect(parseOpenScenario(xosc).init.pedestrian_11.visible).toBe(false);
  });

  it('a schema-invalid file is reported with xmllint\'s located errors', async () => {
    const { xosc } = toOpenScenario(intervalOf(cutIn()));
    const file = write('invalid.xosc', xosc.replace(/ vehicleCategory="\$ActorType"/, ''));
    const v = await validateXosc(file);
    expect(v.ok).toBe(false);
    expect(v.errors.join('\n')).toMatch(/invalid\.xosc:\d+: element Vehicle: Schemas validity error : Element 'Vehicle': The attribute 'vehicleCategory' is required but missing/);
  });

  it('ships the ASAM 1.3 schema in data/openscenario, unchanged', () => {
    expect(readFileSync(xsdPath(), 'utf8')).toContain('ASAM OpenSCENARIO XML V1.3.0');
  });
});

describe('parseOpenScenario on real files', () => {
  const read = (f: string): string => readFileSync(join(FIXTURES, f), 'utf8');

  it('esmini cut-in (1.1): parameters, catalog entities and the $EgoSpeed expression resolved', () => {
    const p = parseOpenScenario(read('esmini_cut-in.xosc'), 'esmini_cut-in.xosc');
    expect(p.rev).toEqual({ major: 1, minor: 1 });
    expect(p.parameters.EgoSpeed).toEqual({ type: 'double', declared: '108', value: 108 });
    expect(p.entities).toEqual([
      { name: 'Ego', kind: 'catalog', catalog: { catalogName: 'VehicleCatalog', entryName: 'car_white' }, properties: {} },
      { name: 'OverTaker', kind: 'catalog', catalog: { catalogName: 'VehicleCatalog', entryName: 'car_red' }, properties: {} },
    ]);
    expect(p.init.Ego.speed).toBeCloseTo(30, 12);
    expect(p.init.Ego.position).toEqual({ kind: 'LanePosition', attributes: { roadId: 0, laneId: -3, offset: 0, s: 50 } });
  });

  it('CARLA ScenarioRunner pedestrian crossing (1.0): entities, Init and environment', () => {
    const p = parseOpenScenario(read('scenario_runner_PedestrianCrossingFront.xosc'));
    expect(p.rev).toEqual({ major: 1, minor: 0 });
    expect(p.entities.map((e) => [e.name, e.kind, e.category])).toContainEqual(['adversary', 'pedestrian', 'pedestrian']);
    expect(p.environment?.timeOfDay?.dateTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(world(p.init.hero.position).x).toBeTypeOf('number');
  });

  it('parameter distributions (esmini 1.2, Vector NCAP 1.3): the scenario file and the parameters varied', () => {
    const e = parseOpenScenario(read('esmini_cut-in_parameter_set.xosc'));
    expect(e.kind).toBe('parameterValueDistribution');
    expect(e.distribution).toEqual({ scenarioFile: 'cut-in.xosc', parameters: expect.arrayContaining(['EgoSpeed', 'TargetSpeedFactor']) });
    const v = parseOpenScenario(read('vector_NCAP_AEB_C2C_CCRb_Variation_2023.xosc'));
    expect(v.distribution?.parameters).toEqual(expect.arrayContaining(['Ego_speed_kph', 'GVT_init_speed_kph', 'GVT_final_speed_kph']));
  });

  it('validation picks no favourites: the 1.1 cut-in validates under 1.3, the 1.0 ScenarioRunner file does not (line 74)', async () => {
    expect((await validateXosc(join(FIXTURES, 'esmini_cut-in.xosc'))).ok).toBe(true);
    const v = await validateXosc(join(FIXTURES, 'scenario_runner_PedestrianCrossingFront.xosc'));
    expect(v.ok).toBe(false);
    expect(v.errors.join('\n')).toMatch(/scenario_runner_PedestrianCrossingFront\.xosc:74: element (Assign|Override)\w*: Schemas validity error/);
  });
});

describe('parseOpenScenario on malformed files', () => {
  const good = toOpenScenario(intervalOf(cutIn())).xosc;
  const lineOf = (text: string, needle: string): number => text.slice(0, text.indexOf(needle)).split('\n').length;
  const cases: { name: string; text: () => string; message: () => RegExp }[] = [
    { name: 'a truncated file', text: () => good.slice(0, good.indexOf('<Storyboard>') + 40), message: () => /^cut\.xosc:\d+:\d+: not well-formed XML: / },
    {
      name: 'a mismatched tag',
      text: () => good.replace('</Entities>', '</Entitys>'),
      message: () => new RegExp(`^cut\\.xosc:${lineOf(good, '</Entities>')}:\\d+: not well-formed XML: Expected closing tag 'Entities'`),
    },
    {
      name: 'a number that is not one',
      text: () => good.replace('<Dimensions width="1.800"', '<Dimensions width="wide"'),
      message: () => new RegExp(`^cut\\.xosc:${lineOf(good, '<Dimensions width="1.800"')}: width="wide" is not a number`),
    },
    {
      name: 'a reference to an undeclared parameter',
      text: () => good.replace('<AbsoluteTargetSpeed value="$EgoSpeed"/>', '<AbsoluteTargetSpeed value="$EgoSped"/>'),
      message: () => new RegExp(`^cut\\.xosc:${lineOf(good, '<AbsoluteTargetSpeed value="$EgoSpeed"/>')}: value="\\$EgoSped": no ParameterDeclaration named EgoSped`),
    },
    {
      name: 'a declared double that is not a number',
      text: () => good.replace('value="25.000"/>', 'value="fast"/>'),
      message: () => new RegExp(`^cut\\.xosc:${lineOf(good, 'name="EgoSpeed"')}: ParameterDeclaration EgoSpeed: double value 'fast' is not a number`),
    },
    { name: 'another root', text: () => '<OpenDRIVE><header/></OpenDRIVE>', message: () => /^cut\.xosc: the root element is not OpenSCENARIO \(found OpenDRIVE\)/ },
  ];
  for (const c of cases) {
    it(`${c.name} is an error naming file:line`, () => {
      expect(() => parseOpenScenario(c.text(), 'cut.xosc')).toThrow(c.message());
    });
  }
});

describe('evaluateExpression', () => {
  const params: Record<string, number> = { EgoSpeed: 108, Gap: 2 };
  const cases: [string, number][] = [
    ['$EgoSpeed / 3.6', 30],
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['12.5 + ($Gap * 10 - 15) * (-1)', 7.5],
    ['-$Gap * -3', 6],
    ['pow($Gap, 3) + round(2.4) + 7 % 4', 13],
  ];
  for (const [expr, value] of cases) it(`\${${expr}} = ${value}`, () => expect(evaluateExpression(expr, (n) => params[n])).toBeCloseTo(value, 12));
  it('refuses what it cannot read', () => {
    expect(() => evaluateExpression('1 +', () => 0)).toThrow(/expected a value at its end/);
    expect(() => evaluateExpression('sin(1)', () => 0)).toThrow(/unknown function or name 'sin'/);
    expect(() => evaluateExpression('1 2', () => 0)).toThrow(/unexpected '2'/);
  });
});
