/**
 * Drives: sequences at 10 Hz in which the ego and the actors move kinematically, with stable
 * track ids. An actor that falls behind the camera or too far ahead leaves; new ones enter ahead
 * (with new ids). Everything follows from the drive's seed.
 */
import { Rng, hashSeed } from './detmath.js';
import { CLASSES, PALETTES, SIZES, type Actor, type Conditions, type ObjectClass, type Road, type SceneState } from './scene.js';

export const DRIVE_HZ = 10;
const DT = 1 / DRIVE_HZ;
const Z_MIN = 3;
const Z_MAX = 75;

export interface DriveSpec {
  driveId: string;
  seed: number;
  conditions: Conditions;
}

function makeRoad(c: Conditions, rng: Rng): Road {
  if (c.roadType === 'highway') {
    const lanes = rng.int(3, 4);
    const egoLane = rng.int(1, lanes - 1);
    return { lanes, laneWidth: 3.7, leftEdge: -(egoLane + 0.5) * 3.7, egoLane, sidewalk: 0, oncomingBelow: 0 };
  }
  if (c.roadType === 'urban') {
    return { lanes: 2, laneWidth: 3.3, leftEdge: -1.5 * 3.3, egoLane: 1, sidewalk: 3, oncomingBelow: 1 };
  }
  return { lanes: 2, laneWidth: 3.0, leftEdge: -1.5 * 3.0, egoLane: 1, sidewalk: 0, oncomingBelow: 1 };
}

/** Class mix by road type: highways carry cars; towns have people and bikes. */
const MIX: Record<Conditions['roadType'], Record<ObjectClass, number>> = {
  highway: { car: 0.9, pedestrian: 0.02, cyclist: 0.08 },
  urban: { car: 0.45, pedestrian: 0.35, cyclist: 0.2 },
  rural: { car: 0.5, pedestrian: 0.25, cyclist: 0.25 },
};

export class Drive {
  readonly spec: DriveSpec;
  private readonly rng: Rng;
  private readonly road: Road;
  private readonly props: SceneState['props'];
  private actors: Actor[] = [];
  private nextTrack = 1;
  private odometer = 0;
  private readonly egoSpeed: number;
  private readonly density: number;
  frameIndex = 0;

  constructor(spec: DriveSpec) {
    this.spec = spec;
    this.rng = new Rng(spec.seed);
    const c = spec.conditions;
    this.road = makeRoad(c, this.rng);
    this.egoSpeed = c.roadType === 'highway' ? this.rng.uniform(22, 30) : c.roadType === 'urban' ? this.rng.uniform(7, 13) : this.rng.uniform(12, 20);
    this.density = c.roadType === 'urban' ? this.rng.uniform(5, 9) : this.rng.uniform(3, 7);
    this.props = this.makeProps();
    for (let k = 0; k < this.density; k++) this.spawn(this.rng.uniform(Z_MIN + 3, Z_MAX * 0.7));
  }

  private makeProps(): SceneState['props'] {
    const c = this.spec.conditions;
    const pal = PALETTES[c.region];
    const props: SceneState['props'] = [];
    const right = this.road.leftEdge + this.road.lanes * this.road.laneWidth;
    for (let z = 6; z < 160; z += this.rng.uniform(8, 16)) {
      for (const side of [-1, 1] as const) {
        const edge = side < 0 ? this.road.leftEdge : right;
        if (c.roadType === 'urban') {
          const w = this.rng.uniform(6, 14);
          props.push({ kind: 'building', x: edge + side * (this.road.sidewalk + 1.5 + w / 2), z, w, h: this.rng.uniform(6, 16), color: this.rng.pick(pal.buildings) });
          if (this.rng.next() < 0.35) props.push({ kind: 'lamp', x: edge + side * 0.6, z: z + 3, w: 0.18, h: 5, color: [0.3, 0.3, 0.3] });
        } else if (c.roadType === 'rural') {
          if (this.rng.next() < 0.6) props.push({ kind: 'tree', x: edge + side * this.rng.uniform(3, 9), z, w: this.rng.uniform(2.5, 4.5), h: this.rng.uniform(5, 9), color: [0.15, 0.32 + this.rng.next() * 0.1, 0.14] });
        } else {
          props.push({ kind: 'post', x: edge + side * 0.9, z, w: 0.15, h: 1.0, color: [0.75, 0.75, 0.72] });
        }
      }
    }
    return props;
  }

  private spawn(z: number): void {
    const c = this.spec.conditions;
    const rng = this.rng;
    const cls = rng.choose(MIX[c.roadType]);
    const size = SIZES[cls];
    const w = rng.uniform(...size.w);
    const h = rng.uniform(...size.h);
    const l = rng.uniform(...size.l);
    const pal = PALETTES[c.region];
    const r = this.road;
    const right = r.leftEdge + r.lanes * r.laneWidth;
    let x: number;
    let vz: number;
    let vx = 0;
    let oncoming = false;
    if (cls === 'car') {
      const lane = rng.int(0, r.lanes - 1);
      x = r.leftEdge + (lane + 0.5) * r.laneWidth + rng.uniform(-0.3, 0.3);
      oncoming = lane < r.oncomingBelow;
      vz = oncoming ? -rng.uniform(0.6, 1.0) * this.egoSpeed : this.egoSpeed * rng.uniform(0.7, 1.15);
      if (!oncoming && lane === r.egoLane && z < 12) z += 12;
    } else if (cls === 'pedestrian') {
      const side = rng.next() < 0.5 ? -1 : 1;
      const crossing = c.roadType !== 'highway' && rng.next() < 0.25;
      if (crossing) {
        x = rng.uniform(r.leftEdge, right);
        vx = rng.uniform(0.8, 1.6) * (rng.next() < 0.5 ? -1 : 1);
        vz = 0;
      } else {
        x = side < 0 ? r.leftEdge - rng.uniform(0.5, Math.max(1, r.sidewalk)) : right + rng.uniform(0.5, Math.max(1, r.sidewalk));
        vz = rng.uniform(-1.5, 1.5);
      }
    } else {
      x = rng.next() < 0.7 ? right - rng.uniform(0.5, 1.2) : r.leftEdge + rng.uniform(0.5, 1.2);
      vz = rng.uniform(3, 7);
    }
    this.actors.push({ trackId: this.nextTrack++, cls, x, z, w, h, l, vx, vz, color: rng.pick(cls === 'car' ? pal.paints : pal.clothes), accent: rng.pick(pal.clothes), oncoming });
  }

  /** The scene now, as the renderer wants it (actors and props relative to the ego). */
  state(): SceneState {
    return {
      conditions: this.spec.conditions,
      road: this.road,
      egoOdometer: this.odometer,
      egoSpeed: this.egoSpeed,
      actors: this.actors.map((a) => ({ ...a })),
      props: this.props.map((p) => ({ ...p, z: p.z - (this.odometer % 150) })).map((p) => ({ ...p, z: p.z < 1 ? p.z + 150 : p.z })),
      noiseSeed: hashSeed(this.spec.seed, this.frameIndex, 'noise'),
    };
  }

  /** Advances one tick (0.1 s). */
  step(): void {
    this.odometer += this.egoSpeed * DT;
    for (const a of this.actors) {
      a.z += (a.vz - this.egoSpeed) * DT;
      a.x += a.vx * DT;
    }
    const right = this.road.leftEdge + this.road.lanes * this.road.laneWidth;
    this.actors = this.actors.filter((a) => a.z > Z_MIN - 1 && a.z < Z_MAX + 10 && a.x > this.road.leftEdge - 8 && a.x < right + 8);
    while (this.actors.length < this.density) this.spawn(this.rng.uniform(Z_MAX * 0.6, Z_MAX));
    this.frameIndex++;
  }
}

export { CLASSES };
