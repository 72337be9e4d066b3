/**
 * loadScenario on real files: the esmini cut-in (its catalog missing), CARLA ScenarioRunner's
 * PedestrianCrossingFront (criteria_ conditions, a scene heading pi), a file the world exports
 * (toOpenScenario), and paddock's NCAP library (each validated by xmllint against the ASAM XSD of
 * its version). Positions are checked against the files' own numbers worked by hand; unsupported
 * elements are refused by name at their line; malformed XML and bad numbers are located.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isInputError } from '../../src/files/input-error.js';
import { intervalFromFrames } from '../../src/replay/scenario.js';
import { toOpenScenario, validateXosc } from '../../src/replay/xosc.js';
import { expandDistribution } from '../../src/sim/distribution.js';
import { loadScenario } from '../../src/sim/scenario.js';
import { cutIn } from '../fixtures/openscenario/frames.js';

const REF = join(import.meta.dirname, '..', 'fixtures', 'openscenario');
const NCAP = join(import.meta.dirname, '..', '..', 'fixtures', 'sim', 'ncap');
// The ASAM schemas paddock ships (data/openscenario: 1.3, the version of the NCAP library's files).
const XSD = join(import.meta.dirname, '..', '..', 'data', 'openscenario');
const dir = mkdtempSync(join(tmpdir(), 'paddock-sim-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const read = (f: string): string => readFileSync(f, 'utf8');

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}
const lineOf = (text: string, needle: string): number => text.slice(0, text.indexOf(needle)).split('\n').length;

describe('reference scenarios', () => {
  it('esmini cut-in: lane positions, $param and ${expr} resolved, catalog cars stand in, overrides apply', () => {
    const file = join(REF, 'esmini_cut-in.xosc');
    const s = loadScenario(read(file), file);
    expect(s.ego.name).toBe('Ego');
    expect(s.category).toBe('cut-in');
    // laneId -3 at s = EgoStartS 50: centre y = -2.5 lanes of 3.5 m; the box centre 0.3 x 4.6 m ahead of the rear axle.
    expect(s.ego.init).toMatchObject({ x: 50 + 1.38, heading: 0, speed: 108 / 3.6 });
    expect(s.ego.init.y).toBeCloseTo(-8.75, 12);
    expect(s.actors).toHaveLength(1);
    expect(s.actors[0]).toMatchObject({ name: 'OverTaker', cls: 'car', size: [4.6, 1.9, 1.5] });
    expect(s.actors[0].init.y).toBeCloseTo(-5.25, 12);
    expect(s.notes.filter((n) => n.includes('CatalogReference'))).toHaveLength(2);
    expect(s.road).toMatchObject({ lanes: 4, egoLane: 3, oncomingBelow: 1 });
    const cut = s.events.find((e) => e.name === 'CutInEvent')!;
    expect(cut.actions).toEqual([{ kind: 'laneChange', entity: 'OverTaker', target: { relative: 'Ego', value: 0 }, offset: 0, dynamics: { shape: 'sinusoidal', dimension: 'time', value: 3 } }]);
    expect(cut.trigger.groups[0][0]).toMatchObject({ kind: 'timeHeadway', triggering: ['Ego'], entity: 'OverTaker', value: 0.4, rule: 'greaterThan', edge: 'rising' });
    expect(s.stopTrigger!.groups[0][0]).toMatchObject({ kind: 'storyboardElementState', ref: 'CutInAndBrakeStory/CutInAndBrakeAct/CutInAndBrakeSequence/CutInManeuver', state: 'endTransition', delay: 5 });
    const o = loadScenario(read(file), file, { EgoSpeed: 72, HeadwayTime_Brake: '1.1' });
    expect(o.ego.init.speed).toBeCloseTo(20, 12);
    expect(o.parameters).toMatchObject({ EgoSpeed: 72, HeadwayTime_Brake: 1.1 });
    expect(o.events.find((e) => e.name.includes('BrakeCondition') || e.name === 'OvertakerBrakeEvent')!.trigger.groups[0][0]).toMatchObject({ value: 1.1 });
    expect(thrown(() => loadScenario(read(file), file, { EgoSpeeed: 72 })).message).toMatch(/parameter EgoSpeeed is not among the global ParameterDeclarations/);
    const bad = thrown(() => loadScenario(read(file), file, { EgoSpeed: 'fast' }));
    expect(isInputError(bad)).toBe(true);
    expect(bad.message).toBe(`${file}:${lineOf(read(file), 'name="EgoSpeed"')}: parameter EgoSpeed (double) is 'fast' (as overridden), not a number`);
  });

  it('ScenarioRunner PedestrianCrossingFront: turned to +x, criteria_ conditions noted, the ego controller noted', () => {
    const file = join(REF, 'scenario_runner_PedestrianCrossingFront.xosc');
    const s = loadScenario(read(file), file);
    expect(s.ego.name).toBe('hero');
    expect(s.ego.init.heading).toBe(0);
    // hero's rear axle at (150, 55) heading pi: the scene turns about it; the walker's at (110, 52) comes to (190, 58),
    // its box centre 1.5 m along its heading (now -pi/2): (190, 56.5).
    expect(s.ego.init.x).toBeCloseTo(151.5, 9);
    expect(s.ego.init.y).toBeCloseTo(55, 9);
    const ped = s.actors[0];
    expect(ped.cls).toBe('pedestrian');
    expect(ped.init.x).toBeCloseTo(190, 9);
    expect(ped.init.y).toBeCloseTo(56.5, 9);
    expect(ped.init.heading).toBeCloseTo(-Math.PI / 2, 9);
    expect(s.notes.filter((n) => /criteria_\w+ is CARLA ScenarioRunner's evaluation criterion/.test(n))).toHaveLength(7);
    expect(s.notes.some((n) => n.includes('ControllerAction on the ego hero'))).toBe(true);
    expect(s.stopTrigger).toBeUndefined();
    expect(s.environment).toEqual({ weather: 'rain', timeOfDay: 'day' });
    // The walker's reach-position trigger at (140, 55) is (160, 55) once turned.
    const walk = s.events.find((e) => e.name === 'PedestrianStartsWalking')!;
    expect(walk.trigger.groups[0][0]).toMatchObject({ kind: 'reachPosition', tolerance: 2 });
    const rp = walk.trigger.groups[0][0] as { x: number; y: number };
    expect(rp.x).toBeCloseTo(160, 9);
    expect(rp.y).toBeCloseTo(55, 9);
    // An action's state condition is its (single-action) event's.
    expect(s.events.find((e) => e.name === 'PedestrianWaits')!.trigger.groups[0][1]).toMatchObject({ kind: 'storyboardElementState', elementType: 'event', ref: 'MyStory/Behavior/ManeuverSequence/PedestrianCrossingManeuver/PedestrianWalksAway' });
  });

  it('a file the world exports (toOpenScenario) loads: logged trajectories become FollowTrajectory actions on box centres', async () => {
    const d = cutIn();
    const iv = intervalFromFrames(d.frames, d.info, 0, d.frames.length - 1, { reason: 'test' });
    const { xosc } = toOpenScenario(iv);
    const file = join(dir, 'exported.xosc');
    writeFileSync(file, xosc);
    expect(await validateXosc(file, { xsd: join(XSD, 'OpenSCENARIOv1.3.xsd') })).toEqual({ ok: true, errors: [] });
    const s = loadScenario(xosc, file);
    expect(s.ego.name).toBe(iv.ego.name);
    expect(s.notes.some((n) => n.includes('FollowTrajectoryAction on the ego'))).toBe(true);
    expect(s.durationS).toBeCloseTo(iv.durationS, 3);
    for (const a of iv.actors) {
      const ft = s.events.flatMap((e) => e.actions).find((x) => x.kind === 'followTrajectory' && x.entity === a.name);
      expect(ft, a.name).toBeDefined();
      if (ft?.kind !== 'followTrajectory') continue;
      expect(ft.vertices).toHaveLength(a.trajectory.length);
      // Written as rear-axle points to 3 decimals, read back as centres: the logged centres.
      ft.vertices.forEach((v, i) => {
        expect(v.t).toBeCloseTo(a.trajectory[i].t, 3);
        expect(Math.abs(v.x - a.trajectory[i].x)).toBeLessThan(2e-3);
        expect(Math.abs(v.y - a.trajectory[i].y)).toBeLessThan(2e-3);
      });
    }
    // Overriding a sweep parameter moves what it should: ActorSpeed scales the key actor's trajectory times.
    const key = iv.params.keyActor!;
    const o = loadScenario(xosc, file, { ActorSpeed: iv.params.actorSpeed! * 2 });
    const ft = o.events.flatMap((e) => e.actions).find((x) => x.kind === 'followTrajectory' && x.entity === key);
    if (ft?.kind !== 'followTrajectory') throw new Error('no trajectory for the key actor');
    expect(ft.vertices.at(-1)!.t).toBeCloseTo(iv.actors.find((a) => a.name === key)!.trajectory.at(-1)!.t / 2, 2);
  });
});

/** A small 1.3 scenario with `action` (inside a PrivateAction unless it is a GlobalAction/UserDefinedAction) on `actor`. */
function scenario(action: string, actor = 'Lead', extra = ''): string {
  const inner = /^<(GlobalAction|UserDefinedAction)/.test(action) ? action : `<PrivateAction>${action}</PrivateAction>`;
  return `<?xml version="1.0"?>
<OpenSCENARIO>
  <FileHeader revMajor="1" revMinor="3" date="2025-01-01T00:00:00" description="t" author="t"/>
  <ParameterDeclarations>
    <ParameterDeclaration name="Gap" parameterType="double" value="30"/>
  </ParameterDeclarations>
  <CatalogLocations/>
  <RoadNetwork/>
  <Entities>
    <ScenarioObject name="Ego"><Vehicle name="e" vehicleCategory="car"><BoundingBox><Center x="0" y="0" z="0.75"/><Dimensions width="1.9" length="4.6" height="1.5"/></BoundingBox><Performance maxSpeed="70" maxAcceleration="10" maxDeceleration="10"/><Axles><FrontAxle maxSteering="0.5" wheelDiameter="0.6" trackWidth="1.6" positionX="2.8" positionZ="0.3"/><RearAxle maxSteering="0" wheelDiameter="0.6" trackWidth="1.6" positionX="0" positionZ="0.3"/></Axles></Vehicle></ScenarioObject>
    <ScenarioObject name="Lead"><Vehicle name="l" vehicleCategory="car"><BoundingBox><Center x="0" y="0" z="0.75"/><Dimensions width="1.9" length="4.6" height="1.5"/></BoundingBox><Performance maxSpeed="70" maxAcceleration="10" maxDeceleration="10"/><Axles><FrontAxle maxSteering="0.5" wheelDiameter="0.6" trackWidth="1.6" positionX="2.8" positionZ="0.3"/><RearAxle maxSteering="0" wheelDiameter="0.6" trackWidth="1.6" positionX="0" positionZ="0.3"/></Axles></Vehicle></ScenarioObject>${extra}
  </Entities>
  <Storyboard>
    <Init><Actions>
      <Private entityRef="Ego"><PrivateAction><TeleportAction><Position><LanePosition roadId="0" laneId="-1" s="0" offset="0"/></Position></TeleportAction></PrivateAction></Private>
      <Private entityRef="Lead"><PrivateAction><TeleportAction><Position><RelativeLanePosition entityRef="Ego" dLane="0" ds="$Gap" offset="0"/></Position></TeleportAction></PrivateAction></Private>
    </Actions></Init>
    <Story name="s"><Act name="a"><ManeuverGroup maximumExecutionCount="1" name="g"><Actors selectTriggeringEntities="false"><EntityRef entityRef="${actor}"/></Actors>
      <Maneuver name="m"><Event name="e" priority="override"><Action name="x">
${inner}
      </Action><StartTrigger><ConditionGroup><Condition name="c" delay="0" conditionEdge="none"><ByValueCondition><SimulationTimeCondition value="1" rule="greaterThan"/></ByValueCondition></Condition></ConditionGroup></StartTrigger></Event></Maneuver>
    </ManeuverGroup></Act></Story>
    <StopTrigger/>
  </Storyboard>
</OpenSCENARIO>`;
}

describe('refusals and located errors', () => {
  const cases: [string, string, string, RegExp][] = [
    ['SynchronizeAction', scenario('<SynchronizeAction masterEntityRef="Ego"><TargetPositionMaster><WorldPosition x="1" y="0"/></TargetPositionMaster><TargetPosition><WorldPosition x="2" y="0"/></TargetPosition></SynchronizeAction>'), '<SynchronizeAction', /SynchronizeAction is not supported by paddock's simulator \(supported: SpeedAction, LaneChangeAction/],
    ['CustomCommandAction', scenario('<UserDefinedAction><CustomCommandAction type="shell">launch</CustomCommandAction></UserDefinedAction>'), '<CustomCommandAction', /CustomCommandAction is not supported by paddock's simulator/],
    ['EnvironmentAction in an event', scenario('<GlobalAction><EnvironmentAction><Environment name="n"/></EnvironmentAction></GlobalAction>'), '<EnvironmentAction', /EnvironmentAction is not supported/],
    ['LongitudinalDistanceAction', scenario('<LongitudinalAction><LongitudinalDistanceAction entityRef="Ego" distance="10" freespace="true" continuous="true"/></LongitudinalAction>'), '<LongitudinalDistanceAction', /LongitudinalDistanceAction is not supported/],
    ['a lane change on the ego', scenario('<LateralAction><LaneChangeAction><LaneChangeActionDynamics dynamicsShape="sinusoidal" value="3" dynamicsDimension="time"/><LaneChangeTarget><RelativeTargetLane entityRef="Ego" value="1"/></LaneChangeTarget></LaneChangeAction></LateralAction>', 'Ego'), '<LaneChangeAction', /LaneChangeAction on the ego Ego is not supported by paddock's simulator \(paddock's planner drives the ego/],
    ['a MiscObject', scenario('<LongitudinalAction><SpeedAction><SpeedActionDynamics dynamicsShape="step" value="0" dynamicsDimension="time"/><SpeedActionTarget><AbsoluteTargetSpeed value="0"/></SpeedActionTarget></SpeedAction></LongitudinalAction>', 'Lead', '\n    <ScenarioObject name="Cone"><MiscObject name="c" mass="1" miscObjectCategory="obstacle"><BoundingBox><Center x="0" y="0" z="0"/><Dimensions width="1" length="1" height="1"/></BoundingBox></MiscObject></ScenarioObject>'), '<ScenarioObject name="Cone"', /MiscObject Cone \(obstacle\) is not supported/],
  ];
  for (const [name, text, at, msg] of cases) {
    it(`refuses ${name} by name at its line`, () => {
      const e = thrown(() => loadScenario(text, 'x.xosc'));
      expect(isInputError(e)).toBe(true);
      expect(e.message).toMatch(msg);
      expect(e.message.startsWith(`x.xosc:${lineOf(text, at)}: `)).toBe(true);
    });
  }

  it('runs what it supports in the same file (a SpeedAction on the ego is its set speed)', () => {
    const s = loadScenario(scenario('<LongitudinalAction><SpeedAction><SpeedActionDynamics dynamicsShape="step" value="0" dynamicsDimension="time"/><SpeedActionTarget><AbsoluteTargetSpeed value="12"/></SpeedActionTarget></SpeedAction></LongitudinalAction>', 'Ego'), 'x.xosc');
    expect(s.events.find((e) => e.name === 'e')!.actions).toEqual([{ kind: 'speed', entity: 'Ego', target: { absolute: 12 }, dynamics: { shape: 'step', dimension: 'time', value: 0 } }]);
    // The Lead's rear axle $Gap ahead of the Ego's, both boxes centred on their reference points.
    expect(s.actors[0].init.x - s.ego.init.x).toBe(30);
  });

  it('locates malformed XML and bad numbers', () => {
    const good = scenario('<LongitudinalAction><SpeedAction><SpeedActionDynamics dynamicsShape="step" value="0" dynamicsDimension="time"/><SpeedActionTarget><AbsoluteTargetSpeed value="12"/></SpeedActionTarget></SpeedAction></LongitudinalAction>');
    const broken = good.replace('</Entities>', '</Entitie>');
    const e = thrown(() => loadScenario(broken, 'b.xosc'));
    expect(isInputError(e)).toBe(true);
    expect(e.message).toMatch(new RegExp(`^b\\.xosc:${lineOf(broken, '</Entitie>')}:\\d+: not well-formed XML`));
    const nan = good.replace('<AbsoluteTargetSpeed value="12"/>', '<AbsoluteTargetSpeed value="twelve"/>');
    expect(thrown(() => loadScenario(nan, 'n.xosc')).message).toBe(`n.xosc:${lineOf(nan, '<AbsoluteTargetSpeed value="twelve"')}: value="twelve" is not a number`);
    const badParam = good.replace('value="30"', 'value="thirty"');
    expect(thrown(() => loadScenario(badParam, 'p.xosc')).message).toBe(`p.xosc:${lineOf(badParam, 'name="Gap"')}: parameter Gap (double) is 'thirty', not a number`);
  });
});

describe('the NCAP library (fixtures/sim/ncap)', () => {
  const files = readdirSync(NCAP).filter((f) => f.endsWith('.xosc'));
  const scenarios = files.filter((f) => !f.endsWith('_variation.xosc'));

  it('has the six scenarios, each with a variation', () => {
    expect(scenarios.sort()).toEqual(['cbla.xosc', 'ccrb.xosc', 'ccrm.xosc', 'ccrs.xosc', 'cpfa.xosc', 'cpnc.xosc']);
    for (const f of scenarios) expect(files).toContain(f.replace('.xosc', '_variation.xosc'));
  });

  for (const f of files) {
    it(`${f} validates against the ASAM XSD of its declared version (xmllint)`, async () => {
      const text = read(join(NCAP, f));
      const [, minor] = /revMajor="1" revMinor="(\d)"/.exec(text)!;
      const xsd = join(XSD, `OpenSCENARIOv1.${minor}.xsd`);
      expect(await validateXosc(join(NCAP, f), { xsd })).toEqual({ ok: true, errors: [] });
    });
  }

  for (const f of scenarios) {
    it(`${f}: every parameter set of its variation loads, short (<= 8 s), with its category`, () => {
      const text = read(join(NCAP, f));
      const v = expandDistribution(read(join(NCAP, f.replace('.xosc', '_variation.xosc'))), f);
      expect(v.scenarioFile).toBe(f);
      for (const set of v.sets) {
        const s = loadScenario(text, join(NCAP, f), set);
        expect(s.category).toBe(f.replace('.xosc', ''));
        expect(s.durationS).toBeLessThanOrEqual(8);
        expect(s.ego.setSpeed).toBeCloseTo(Number(set.Ego_speed_kph) / 3.6, 12);
        expect(s.notes).toEqual([]);
      }
    });
  }

  it('CCRb takes the Vector file\'s variation: the GVT starts GVT_headway ahead (freespace) and brakes at GVT_deceleration', () => {
    const vector = join(REF, 'vector_NCAP_AEB_C2C_CCRb_Variation_2023.xosc');
    const sets = expandDistribution(read(vector), vector).sets;
    expect(sets).toHaveLength(4);
    const file = join(NCAP, 'ccrb.xosc');
    for (const set of sets) {
      const s = loadScenario(read(file), file, set);
      const gvt = s.actors.find((a) => a.name === 'GVT')!;
      const gap = gvt.init.x - gvt.size[0] / 2 - (s.ego.init.x + s.ego.size[0] / 2);
      expect(gap).toBeCloseTo(Number(set.GVT_headway), 9);
      expect(gvt.init.speed).toBeCloseTo(50 / 3.6, 12);
      expect(gvt.init.y).toBeCloseTo(s.ego.init.y, 12);
      const brake = s.events.find((e) => e.name === 'GVT_brakes')!;
      expect(brake.actions[0]).toMatchObject({ kind: 'speed', target: { absolute: 2 / 3.6 }, dynamics: { shape: 'linear', dimension: 'rate', value: Number(set.GVT_deceleration) } });
    }
  });

  it('CCRs/CCRm start at TTC_start 4 s; CPNC/CPFA walkers reach the impact point as the ego front arrives', () => {
    for (const [f, vt] of [['ccrs.xosc', 0], ['ccrm.xosc', 20 / 3.6]] as const) {
      const s = loadScenario(read(join(NCAP, f)), f, { Ego_speed_kph: 50, Overlap: 50 });
      const g = s.actors[0];
      expect((g.init.x - g.size[0] / 2 - (s.ego.init.x + s.ego.size[0] / 2)) / (50 / 3.6 - vt)).toBeCloseTo(4, 9);
      // 50 % overlap: the GVT half the ego's width to the left.
      expect(g.init.y - s.ego.init.y).toBeCloseTo(0.95, 12);
    }
    for (const [f, p, dir] of [['cpnc.xosc', 25, 1], ['cpnc.xosc', 75, 1], ['cpfa.xosc', 50, -1]] as const) {
      const s = loadScenario(read(join(NCAP, f)), f, { Ego_speed_kph: 30, Impact_point: p });
      const ped = s.actors[0];
      const t = 4;
      expect(ped.init.heading).toBeCloseTo((dir * Math.PI) / 2, 5);
      // Across the ego's front from its right side (y - 1.9/2), at time t.
      expect(ped.init.y + ped.init.speed * Math.sin(ped.init.heading) * t).toBeCloseTo(s.ego.init.y - 0.95 + (1.9 * p) / 100, 4);
      expect(ped.init.x - 0.3 - (s.ego.init.x + 2.3 + (30 / 3.6) * t)).toBeCloseTo(0, 9);
    }
  });
});
