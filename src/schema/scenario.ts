/**
 * A flagged replay interval as a scenario (`paddock.scenario_interval/1`): what open-loop replay
 * extracts from a drive bundle (src/replay/scenario.ts) and writes as OpenSCENARIO
 * (src/replay/xosc.ts), and what the closed-loop runs read back. It crosses that boundary as
 * JSON, so times are seconds from the interval's start and the bundle's nanosecond stamps are
 * decimal strings (JSON has no 64-bit integers).
 *
 * Positions are in the drive's world frame ('map', REP-103: x forward along the road at the
 * drive's start, y left, z up), metres; headings are radians about z, counter-clockwise; a
 * sample's position is the centre of the object's box footprint (the OpenSCENARIO writer moves
 * vehicles to their rear axle, the reference point that format uses).
 */
import { z } from 'zod';

export const SCENARIO_INTERVAL_FORMAT = 'paddock.scenario_interval/1';

const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const positive = finite.refine((v) => v > 0, 'expected a positive number');
const size = z.tuple([positive, positive, positive]);

/** One logged pose of an entity, at `t` seconds after the interval's first frame. */
export const TrajectorySample = z
  .object({
    t: finite.refine((v) => v >= 0, 'expected t >= 0'),
    x: finite,
    y: finite,
    /** Heading about z in 'map', radians. */
    h: finite,
    /** Ground speed, m/s. */
    speed: finite.refine((v) => v >= 0, 'expected speed >= 0'),
  })
  .strict();
export type TrajectorySample = z.infer<typeof TrajectorySample>;

/** How the entity is typed in OpenSCENARIO: the element and its category (the XSD's enumerations). */
export const OscType = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('vehicle'), category: z.enum(['car', 'bicycle', 'motorbike', 'truck', 'van', 'bus']) }).strict(),
  z.object({ kind: z.literal('pedestrian'), category: z.enum(['pedestrian', 'wheelchair', 'animal']) }).strict(),
]);
export type OscType = z.infer<typeof OscType>;

export const ScenarioEntity = z
  .object({
    /** The OpenSCENARIO ScenarioObject name (`Ego`, `car_12`). */
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an identifier'),
    /** The bundle's ground-truth track id; null for the ego. */
    trackId: z.number().int().nullable(),
    /** The bundle's class label (car | pedestrian | cyclist, or the bundle's own). */
    cls: z.string().min(1),
    type: OscType,
    /** Length, width, height, metres. */
    size,
    /** At least two samples, in time order (an OpenSCENARIO Polyline needs two vertices). */
    trajectory: z
      .array(TrajectorySample)
      .min(2)
      .refine((s) => s.every((p, i) => i === 0 || p.t > s[i - 1].t), 'expected strictly increasing t'),
  })
  .strict();
export type ScenarioEntity = z.infer<typeof ScenarioEntity>;

/**
 * The road the scenario drives on: a generated straight or constant-curvature road
 * (src/replay/opendrive.ts writes it as OpenDRIVE), or an OpenDRIVE file the user already has.
 */
export const ScenarioRoad = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('generated'),
      /** Lanes in the drive's direction plus oncoming ones, all `laneWidth` wide. */
      lanes: z.number().int().min(1).max(12),
      laneWidth: positive,
      /** y of the road's left edge in the ego frame at the interval's first frame (REP-103, left positive). */
      leftEdgeY: finite,
      /** How many of the lanes, counted from the left edge, carry oncoming traffic. */
      oncomingLanes: z.number().int().min(0),
      /** Sidewalk width beside each outer lane, metres (0: none). */
      sidewalk: finite.refine((v) => v >= 0, 'expected sidewalk >= 0'),
      /** Curvature of the road, 1/m (positive: turning left); 0 is straight. */
      curvature: finite,
      /** OpenDRIVE road type (motorway, town, rural, ...). */
      roadType: z.string().min(1),
    })
    .strict()
    .refine((r) => r.oncomingLanes < r.lanes, { message: 'expected oncomingLanes < lanes', path: ['oncomingLanes'] }),
  z.object({ kind: z.literal('opendrive'), filepath: z.string().min(1) }).strict(),
]);
export type ScenarioRoad = z.infer<typeof ScenarioRoad>;

/**
 * The sweep parameters. The key actor is the one the flag is about: of the actors that enter the
 * ego's corridor ahead of it, the one that comes closest (else the nearest actor ahead). The gap
 * is its longitudinal distance ahead of the ego (box centre, along the ego's heading) at its first
 * sample; gap time is that over the ego's speed at the interval's start (the $EgoSpeed a sweep
 * varies), null when the ego was (nearly) standing.
 */
export const ScenarioParams = z
  .object({
    /** Ego speed at the interval's first frame, m/s. */
    egoSpeed: finite.refine((v) => v >= 0, 'expected egoSpeed >= 0'),
    keyActor: z.string().nullable(),
    gapDistance: finite.nullable(),
    gapTime: finite.nullable(),
    actorSpeed: finite.nullable(),
    /** The key actor's OpenSCENARIO category (car, bicycle, pedestrian). */
    actorType: z.string().nullable(),
    /** The time (from the interval's start) at which the gap was measured: the key actor's first sample. */
    gapAt: finite.nullable(),
  })
  .strict();
export type ScenarioParams = z.infer<typeof ScenarioParams>;

export const ScenarioInterval = z
  .object({
    format: z.literal(SCENARIO_INTERVAL_FORMAT),
    driveId: z.string().min(1),
    /** Inclusive frame range of the bundle. */
    fromIndex: z.number().int().nonnegative(),
    toIndex: z.number().int().nonnegative(),
    /** Capture time of the first frame, ns since the epoch, as a decimal string. */
    startNs: z.string().regex(/^\d+$/, 'expected decimal nanoseconds'),
    durationS: finite.refine((v) => v > 0, 'expected durationS > 0'),
    /** Why the interval was flagged (the replay flag's reason). */
    reason: z.string().min(1),
    /** The bundle's recording conditions (weather, time_of_day, road_type, region, ...). */
    conditions: z.record(z.string(), z.string()),
    road: ScenarioRoad,
    ego: ScenarioEntity,
    actors: z.array(ScenarioEntity),
    /** Tracks seen in only one frame of the interval: too short for a trajectory, left out. */
    droppedTracks: z.array(z.number().int()),
    params: ScenarioParams,
  })
  .strict()
  .refine((s) => s.toIndex > s.fromIndex, { message: 'expected toIndex > fromIndex', path: ['toIndex'] });
export type ScenarioInterval = z.infer<typeof ScenarioInterval>;
