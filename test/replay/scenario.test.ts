/**
 * Scenario extraction from hand-made frames (test/fixtures/openscenario/frames.ts): the world the
 * frames were made from is known, so the extracted 'map' trajectories, the key actor and the
 * sweep parameters are checked against it.
 */
import { describe, expect, it } from 'vitest';
import { ScenarioInterval } from '../../src/schema/scenario.js';
import { defaultRoad, intervalFromFrames, yawOf } from '../../src/replay/scenario.js';
import { cutIn, leadBraking, pedestrianCrossing, type Drive } from '../fixtures/openscenario/frames.js';

const whole = (d: Drive): ScenarioInterval => intervalFromFrames(d.frames, d.info, 0, d.frames.length - 1, { reason: 'flagged' });

describe('intervalFromFrames', () => {
  const cases: { name: string; drive: () => Drive; key: string; type: string; gapDistance: number; gapTime: number; actorSpeed: number; gapAt: number; actors: string[]; dropped: number[] }[] = [
    { name: 'cut-in', drive: cutIn, key: 'car_7', type: 'car', gapDistance: 15, gapTime: 0.6, actorSpeed: 22, gapAt: 0, actors: ['car_3', 'car_7'], dropped: [] },
    { name: 'pedestrian crossing', drive: pedestrianCrossing, key: 'pedestrian_11', type: 'pedestrian', gapDistance: 28, gapTime: 2.8, actorSpeed: 1.4, gapAt: 0.5, actors: ['pedestrian_11', 'car_12'], dropped: [13] },
    { name: 'lead car braking', drive: leadBraking, key: 'car_21', type: 'car', gapDistance: 20, gapTime: 20 / 15, actorSpeed: 15, gapAt: 0, actors: ['car_21', 'cyclist_22'], dropped: [] },
  ];

  for (const c of cases) {
    it(`${c.name}: key actor, parameters and tracks`, () => {
      const iv = whole(c.drive());
      expect(iv.actors.map((a) => a.name)).toEqual(c.actors);
      expect(iv.droppedTracks).toEqual(c.dropped);
      expect(iv.params.keyActor).toBe(c.key);
      expect(iv.params.actorType).toBe(c.type);
      expect(iv.params.gapDistance).toBeCloseTo(c.gapDistance, 9);
      expect(iv.params.gapTime).toBeCloseTo(c.gapTime, 9);
      expect(iv.params.actorSpeed).toBeCloseTo(c.actorSpeed, 9);
      expect(iv.params.gapAt).toBeCloseTo(c.gapAt, 9);
      expect(iv.ego.trajectory).toHaveLength(c.drive().frames.length);
    });

    it(`${c.name}: every track's 'map' pose is the world's (the ego-frame transform undone)`, () => {
      const d = c.drive();
      const iv = whole(d);
      for (const a of iv.actors) {
        const world = d.actors.find((w) => w.trackId === a.trackId)!;
        for (const s of a.trajectory) {
          const w = world.at(s.t);
          expect(s.x).toBeCloseTo(w.x, 9);
          expect(s.y).toBeCloseTo(w.y, 9);
          expect(Math.cos(s.h - w.h)).toBeCloseTo(1, 12);
          expect(s.speed).toBeCloseTo(Math.hypot(w.vx, w.vy), 9);
        }
      }
      for (const s of iv.ego.trajectory) expect(s.x).toBeCloseTo(d.ego.at(s.t).x, 9);
    });
  }

  it('types the classes as the OpenSCENARIO XSD enumerates them (cyclist: Vehicle bicycle)', () => {
    const iv = whole(leadBraking());
    expect(iv.actors.find((a) => a.cls === 'cyclist')!.type).toEqual({ kind: 'vehicle', category: 'bicycle' });
    expect(whole(pedestrianCrossing()).actors.find((a) => a.cls === 'pedestrian')!.type).toEqual({ kind: 'pedestrian', category: 'pedestrian' });
  });

  it('a pedestrian that enters mid-interval starts its trajectory at its first frame', () => {
    const ped = whole(pedestrianCrossing()).actors.find((a) => a.name === 'pedestrian_11')!;
    expect(ped.trajectory[0].t).toBeCloseTo(0.5, 9);
    expect(ped.trajectory).toHaveLength(26);
  });

  it('a sub-range starts its clock at its first frame', () => {
    const d = leadBraking();
    const iv = intervalFromFrames(d.frames, d.info, 20, 30, { reason: 'braking' });
    expect(iv.ego.trajectory[0].t).toBe(0);
    expect(iv.durationS).toBeCloseTo(1, 9);
    expect(iv.startNs).toBe(d.frames[20].captureNs.toString());
    // at 2 s the lead is 48 m along the road at 11 m/s, the ego 30 m along
    expect(iv.params.gapDistance).toBeCloseTo(18, 9);
    expect(iv.params.actorSpeed).toBeCloseTo(11, 9);
    expect(iv.params.gapTime).toBeCloseTo(18 / 15, 9);
  });

  it('survives JSON (the closed-loop runs read it back with the schema)', () => {
    const iv = whole(cutIn());
    expect(ScenarioInterval.parse(JSON.parse(JSON.stringify(iv)))).toEqual(iv);
  });

  it('takes the road of the bundle\'s road_type unless one is given', () => {
    expect(whole(cutIn()).road).toEqual(defaultRoad('highway'));
    const d = cutIn();
    const road = { kind: 'generated' as const, lanes: 4, laneWidth: 3.5, leftEdgeY: 8.75, oncomingLanes: 0, sidewalk: 0, curvature: 0.002, roadType: 'motorway' };
    expect(intervalFromFrames(d.frames, d.info, 0, 5, { reason: 'x', road }).road).toEqual(road);
  });

  it('a standing ego has a gap distance but no gap time', () => {
    const d = pedestrianCrossing();
    for (const f of d.frames) f.ego!.speed = 0;
    const iv = whole(d);
    expect(iv.params.gapTime).toBeNull();
    expect(iv.params.gapDistance).toBeCloseTo(28, 9);
  });

  it('reads the yaw of a quaternion', () => {
    for (const yaw of [0, 0.3, -2, Math.PI - 0.01]) expect(yawOf([0, 0, Math.sin(yaw / 2), Math.cos(yaw / 2)])).toBeCloseTo(yaw, 12);
  });

  const bad: { name: string; change: (d: Drive) => void; from?: number; to?: number; message: RegExp }[] = [
    { name: 'a frame without an ego pose', change: (d) => delete d.frames[4].ego, message: /drive highway-0007: frame 4 has no ego pose/ },
    { name: 'a missing frame', change: (d) => d.frames.splice(6, 1), message: /frame 6 of interval 0\.\.40 is not among the 40 frames given/ },
    { name: 'an unknown class', change: (d) => d.frames.forEach((f) => f.gt.filter((g) => g.trackId === 7).forEach((g) => (g.cls = 'tram'))), message: /frame 0: track 7 has class 'tram', which has no OpenSCENARIO type/ },
    { name: 'a track that changes class', change: (d) => (d.frames[8].gt[0].cls = 'pedestrian'), message: /frame 8: track 7 changes class from car to pedestrian/ },
    { name: 'a track twice in a frame', change: (d) => d.frames[2].gt.push({ ...d.frames[2].gt[0] }), message: /frame 2 has track 7 twice/ },
    { name: 'capture times that do not increase', change: (d) => (d.frames[5].captureNs = d.frames[4].captureNs), message: /frame 5 is not later than frame 4/ },
    { name: 'an empty range', change: () => undefined, from: 5, to: 5, message: /interval 5\.\.5 is not a range of at least two frames/ },
  ];
  for (const b of bad) {
    it(`refuses ${b.name}, saying where`, () => {
      const d = cutIn();
      b.change(d);
      expect(() => intervalFromFrames(d.frames, d.info, b.from ?? 0, b.to ?? 40, { reason: 'x' })).toThrow(b.message);
    });
  }
});
