/**
 * A scenario interval as ASAM OpenSCENARIO XML 1.3, its parser, and validation against the ASAM
 * schema shipped in data/openscenario/.
 *
 * The file replays the log: every entity is teleported to its first logged pose and follows its
 * logged trajectory (a Polyline with a time on each vertex, absolute timing, as esmini's examples
 * do), an actor that enters or leaves mid-interval is made invisible outside its samples, and the
 * storyboard stops at the interval's end. The sweep parameters are real knobs:
 *   $EgoSpeed    the ego's initial speed; its trajectory's time scale is `v0 / $EgoSpeed`
 *   $GapTime     the key actor's gap ahead of the ego, seconds at $EgoSpeed: its initial position
 *                and every vertex move along the ego's heading by `$GapTime * $EgoSpeed - gap0`
 *                ($GapDistance, metres, where the ego was standing and gap time means nothing)
 *   $ActorSpeed  the key actor's initial speed; its trajectory's time scale is `v0 / $ActorSpeed`
 *   $ActorType   the key actor's category: vehicleCategory (car, bicycle, truck, ...) or
 *                pedestrianCategory (pedestrian, wheelchair, animal). The XSD types those
 *                attributes as a parameter or the enumeration, so a sweep may change the
 *                category within the element; turning a vehicle into a pedestrian needs a catalog
 *                entry (CatalogReference entryName="$ActorType"), which this writer does not make.
 * With every parameter at its declared value, the expressions give back the logged numbers.
 *
 * Vehicles are placed by their reference point, the centre of the rear axle (OpenSCENARIO's
 * convention), with the bounding box's centre ahead of it; pedestrians by their box centre.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { InputError } from '../files/input-error.js';
import { installRoot } from '../files/install-root.js';
import type { ScenarioEntity, ScenarioInterval } from '../schema/scenario.js';
import { toOpenDrive } from './opendrive.js';
import { STANDING_SPEED } from './scenario.js';

export const OSC_REV_MAJOR = 1;
export const OSC_REV_MINOR = 3;

/** The schema our files declare and are validated against (shipped in data/, see its README). */
export function xsdPath(): string {
  return join(installRoot(), 'data', 'openscenario', `OpenSCENARIOv${OSC_REV_MAJOR}.${OSC_REV_MINOR}.xsd`);
}

/** Where the rear axle sits, as a fraction of the length from the rear, by vehicle category. */
const REAR_AXLE: Record<string, number> = { car: 0.2, van: 0.2, truck: 0.2, bus: 0.2, bicycle: 0.15, motorbike: 0.15 };
const FRONT_AXLE: Record<string, number> = { car: 0.8, van: 0.8, truck: 0.75, bus: 0.75, bicycle: 0.85, motorbike: 0.85 };
/** Plausible performance limits (maxSpeed m/s, acceleration and deceleration m/s^2) by category. */
const PERFORMANCE: Record<string, [number, number, number]> = {
  car: [70, 10, 10],
  van: [50, 6, 9],
  truck: [35, 3, 7],
  bus: [30, 3, 7],
  bicycle: [15, 2, 6],
  motorbike: [60, 8, 9],
};

/** How many decimals each quantity is written with. */
export const PRECISION = { position: 3, heading: 4, time: 3, speed: 3, gapTime: 4, size: 3 } as const;

const fx = (v: number, digits: number): string => {
  const s = v.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
};
/** A number inside an expression: negative ones in parentheses, so no operator meets a unary minus. */
const ex = (s: string): string => (s.startsWith('-') ? `(${s})` : s);

/** Offset from the reference point to the box centre, along the entity's heading, metres. */
export function centreOffset(entity: Pick<ScenarioEntity, 'type' | 'size'>): number {
  if (entity.type.kind === 'pedestrian') return 0;
  return entity.size[0] / 2 - (REAR_AXLE[entity.type.category] ?? 0.2) * entity.size[0];
}

export interface XoscOptions {
  /** For a generated road: the file name the caller writes `xodr` under, beside the .xosc (the RoadNetwork names it). */
  xodrFile?: string;
  /** FileHeader author (default paddock). */
  author?: string;
}

/** The default name of a generated road's OpenDRIVE file. */
export function defaultXodrFile(interval: ScenarioInterval): string {
  return `${interval.driveId.replace(/[^A-Za-z0-9_.-]/g, '_')}_${interval.fromIndex}-${interval.toIndex}.xodr`;
}

type Node = Record<string, unknown>;

function isoSeconds(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString().replace(/\.\d+Z$/, '');
}

function condition(name: string, rule: string, value: string): Node {
  return { '@_name': name, '@_delay': '0', '@_conditionEdge': 'none', ByValueCondition: { SimulationTimeCondition: { '@_value': value, '@_rule': rule } } };
}

const HOURS: Record<string, string> = { day: '12:00:00', dusk: '19:30:00', night: '23:00:00' };
/** Sun azimuth (0 north, pi/2 east), elevation (radians) and illuminance (lux) by time of day. */
const SUN: Record<string, [number, number, number]> = { day: [3.1416, 1.0, 100000], dusk: [4.7124, 0.05, 400], night: [0, -0.5, 0.05] };

function environment(interval: ScenarioInterval): Node {
  const c = interval.conditions;
  const weather = c.weather;
  const tod = c.time_of_day ?? c.timeOfDay;
  const start = isoSeconds(BigInt(interval.startNs));
  const dateTime = tod && HOURS[tod] ? `${start.slice(0, 10)}T${HOURS[tod]}` : start;
  const w: Node = {};
  if (weather === 'clear') w['@_fractionalCloudCover'] = 'oneOktas';
  if (weather === 'rain') w['@_fractionalCloudCover'] = 'sevenOktas';
  if (weather === 'snow' || weather === 'fog') w['@_fractionalCloudCover'] = 'eightOktas';
  if (tod && SUN[tod]) w.Sun = { '@_azimuth': String(SUN[tod][0]), '@_elevation': String(SUN[tod][1]), '@_illuminance': String(SUN[tod][2]) };
  if (weather === 'fog') w.Fog = { '@_visualRange': '60' };
  if (weather === 'rain') w.Precipitation = { '@_precipitationType': 'rain', '@_precipitationIntensity': '5' };
  else if (weather === 'snow') w.Precipitation = { '@_precipitationType': 'snow', '@_precipitationIntensity': '2' };
  else if (weather === 'clear' || weather === 'fog') w.Precipitation = { '@_precipitationType': 'dry', '@_precipitationIntensity': '0' };
  const friction = weather === 'rain' ? '0.7' : weather === 'snow' ? '0.4' : '1.0';
  return {
    '@_name': `${interval.driveId}_environment`,
    TimeOfDay: { '@_animation': 'false', '@_dateTime': dateTime },
    Weather: w,
    RoadCondition: { '@_frictionScaleFactor': friction },
  };
}

function entityObject(e: ScenarioEntity, isKey: boolean): Node {
  const [l, w, h] = e.size;
  const box = {
    Center: { '@_x': fx(centreOffset(e), PRECISION.size), '@_y': '0', '@_z': fx(h / 2, PRECISION.size) },
    Dimensions: { '@_width': fx(w, PRECISION.size), '@_length': fx(l, PRECISION.size), '@_height': fx(h, PRECISION.size) },
  };
  const props = { Property: [{ '@_name': 'class', '@_value': e.cls }, ...(e.trackId === null ? [] : [{ '@_name': 'trackId', '@_value': String(e.trackId) }])] };
  const category = isKey ? '$ActorType' : e.type.category;
  if (e.type.kind === 'pedestrian') {
    return { Pedestrian: { '@_name': e.cls, '@_mass': '75', '@_pedestrianCategory': category, BoundingBox: box, Properties: props } };
  }
  const cat = e.type.category;
  const [maxSpeed, acc, dec] = PERFORMANCE[cat] ?? PERFORMANCE.car;
  const wheel = cat === 'bicycle' || cat === 'motorbike' ? 0.7 : 0.65;
  const track = cat === 'bicycle' || cat === 'motorbike' ? 0.05 : Math.max(0.05, w * 0.85);
  const axle = (x: number): Node => ({ '@_maxSteering': '0.5', '@_wheelDiameter': String(wheel), '@_trackWidth': fx(track, PRECISION.size), '@_positionX': fx(x, PRECISION.size), '@_positionZ': String(wheel / 2) });
  return {
    Vehicle: {
      '@_name': e.cls,
      '@_vehicleCategory': category,
      BoundingBox: box,
      Performance: { '@_maxSpeed': String(maxSpeed), '@_maxAcceleration': String(acc), '@_maxDeceleration': String(dec) },
      Axles: { FrontAxle: axle(((FRONT_AXLE[cat] ?? 0.8) - (REAR_AXLE[cat] ?? 0.2)) * l), RearAxle: axle(0) },
      Properties: props,
    },
  };
}

/** How one entity's numbers are written: plain for most, shifted by the gap expression for the key actor. */
interface Writer {
  x(v: number): string;
  y(v: number): string;
  /** The trajectory's time scale: '1' or an expression. */
  scale: string;
  /** A time of the log, scaled like the trajectory. */
  time(t: number): string;
}

/** Plain numbers; with `scale` (an expression's inner text, e.g. `25.000 / $EgoSpeed`), times scaled by it. */
function plainWriter(scale?: string): Writer {
  const p = PRECISION.position;
  return {
    x: (v) => fx(v, p),
    y: (v) => fx(v, p),
    scale: scale === undefined ? '1' : `\${${scale}}`,
    time: (t) => (scale === undefined ? fx(t, PRECISION.time) : `\${${fx(t, PRECISION.time)} * ${scale}}`),
  };
}

/**
 * The declared parameters, in order, and the writers of the ego and the key actor. The expressions
 * reuse the declared values' own text, so at the defaults they give back the logged numbers.
 */
function parameters(interval: ScenarioInterval): { decls: [string, string, string][]; ego: Writer; key?: Writer } {
  const p = interval.params;
  const egoSpeed = fx(p.egoSpeed, PRECISION.speed);
  const decls: [string, string, string][] = [['EgoSpeed', 'double', egoSpeed]];
  const ego = Number(egoSpeed) >= STANDING_SPEED ? plainWriter(`${egoSpeed} / $EgoSpeed`) : plainWriter();
  const keyEntity = interval.actors.find((a) => a.name === p.keyActor);
  if (!keyEntity || p.gapDistance === null || p.actorSpeed === null || p.actorType === null || p.gapAt === null) return { decls, ego };
  let gap: string;
  let gap0: number;
  if (p.gapTime !== null) {
    const gapTime = fx(p.gapTime, PRECISION.gapTime);
    decls.push(['GapTime', 'double', gapTime]);
    gap = '$GapTime * $EgoSpeed';
    gap0 = Number(gapTime) * Number(egoSpeed);
  } else {
    const gapDistance = fx(p.gapDistance, PRECISION.position);
    decls.push(['GapDistance', 'double', gapDistance]);
    gap = '$GapDistance';
    gap0 = Number(gapDistance);
  }
  const actorSpeed = fx(p.actorSpeed, PRECISION.speed);
  decls.push(['ActorSpeed', 'double', actorSpeed], ['ActorType', 'string', p.actorType]);
  const egoAt = interval.ego.trajectory.reduce((best, s) => (Math.abs(s.t - p.gapAt!) < Math.abs(best.t - p.gapAt!) ? s : best));
  const c = fx(Math.cos(egoAt.h), 6);
  const s = fx(Math.sin(egoAt.h), 6);
  const shift = `(${gap} - ${fx(gap0, 6)})`;
  const along = (v: number, k: string): string => (Number(k) === 0 ? fx(v, PRECISION.position) : `\${${ex(fx(v, PRECISION.position))} + ${shift} * ${ex(k)}}`);
  const base = Number(actorSpeed) >= STANDING_SPEED ? plainWriter(`${actorSpeed} / $ActorSpeed`) : plainWriter();
  return { decls, ego, key: { ...base, x: (v) => along(v, c), y: (v) => along(v, s) } };
}

function refPoint(e: ScenarioEntity, sample: { x: number; y: number; h: number }): { x: number; y: number } {
  const d = centreOffset(e);
  return { x: sample.x - d * Math.cos(sample.h), y: sample.y - d * Math.sin(sample.h) };
}

function worldPosition(e: ScenarioEntity, w: Writer, sample: { x: number; y: number; h: number }): Node {
  const r = refPoint(e, sample);
  return { WorldPosition: { '@_x': w.x(r.x), '@_y': w.y(r.y), '@_z': '0', '@_h': fx(sample.h, PRECISION.heading) } };
}

function visibility(on: boolean): Node {
  return { VisibilityAction: { '@_graphics': String(on), '@_traffic': String(on), '@_sensors': String(on) } };
}

function maneuverGroup(e: ScenarioEntity, w: Writer, end: number): Node {
  const traj = {
    '@_name': `${e.name}_log`,
    '@_closed': 'false',
    Shape: { Polyline: { Vertex: e.trajectory.map((s) => ({ '@_time': fx(s.t, PRECISION.time), Position: worldPosition(e, w, s) })) } },
  };
  const events: Node[] = [
    {
      '@_name': `${e.name}_follow`,
      '@_priority': 'parallel',
      '@_maximumExecutionCount': '1',
      Action: {
        '@_name': `${e.name}_follow_log`,
        PrivateAction: {
          RoutingAction: {
            FollowTrajectoryAction: {
              TrajectoryRef: { Trajectory: traj },
              TimeReference: { Timing: { '@_domainAbsoluteRelative': 'absolute', '@_scale': w.scale, '@_offset': '0' } },
              TrajectoryFollowingMode: { '@_followingMode': 'position' },
            },
          },
        },
      },
    },
  ];
  const first = e.trajectory[0].t;
  const last = e.trajectory[e.trajectory.length - 1].t;
  if (first > 0) {
    events.push({ '@_name': `${e.name}_appear`, '@_priority': 'parallel', '@_maximumExecutionCount': '1', Action: { '@_name': `${e.name}_show`, PrivateAction: visibility(true) }, StartTrigger: { ConditionGroup: { Condition: condition(`${e.name}_first_sample`, 'greaterOrEqual', w.time(first)) } } });
  }
  if (last < end) {
    events.push({ '@_name': `${e.name}_leave`, '@_priority': 'parallel', '@_maximumExecutionCount': '1', Action: { '@_name': `${e.name}_hide`, PrivateAction: visibility(false) }, StartTrigger: { ConditionGroup: { Condition: condition(`${e.name}_last_sample`, 'greaterThan', w.time(last)) } } });
  }
  return {
    '@_name': `${e.name}_group`,
    '@_maximumExecutionCount': '1',
    Actors: { '@_selectTriggeringEntities': 'false', EntityRef: { '@_entityRef': e.name } },
    Maneuver: { '@_name': `${e.name}_replay`, Event: events },
  };
}

/**
 * The interval as an OpenSCENARIO 1.3 document and, for a generated road, its OpenDRIVE 1.6
 * document, which the caller writes as `opts.xodrFile` (default defaultXodrFile) beside the .xosc.
 */
export function toOpenScenario(interval: ScenarioInterval, opts: XoscOptions = {}): { xosc: string; xodr?: string } {
  const { decls, ego, key } = parameters(interval);
  const writer = (e: ScenarioEntity): Writer => (e.name === interval.ego.name ? ego : e.name === interval.params.keyActor && key ? key : plainWriter());
  const entities = [interval.ego, ...interval.actors];
  const speedAction = (value: string): Node => ({ LongitudinalAction: { SpeedAction: { SpeedActionDynamics: { '@_dynamicsShape': 'step', '@_dynamicsDimension': 'time', '@_value': '0' }, SpeedActionTarget: { AbsoluteTargetSpeed: { '@_value': value } } } } });
  const privates = entities.map((e) => {
    const s0 = e.trajectory[0];
    const speed = e === interval.ego ? '$EgoSpeed' : e.name === interval.params.keyActor && key ? '$ActorSpeed' : fx(s0.speed, PRECISION.speed);
    const actions = [{ TeleportAction: { Position: worldPosition(e, writer(e), s0) } }, speedAction(speed)];
    if (s0.t > 0) actions.push(visibility(false));
    return { '@_entityRef': e.name, PrivateAction: actions };
  });
  const end = interval.durationS;
  const description = `paddock replay of drive ${interval.driveId}, frames ${interval.fromIndex}-${interval.toIndex} (${fx(end, PRECISION.time)} s): ${interval.reason}`;
  const headerProps = [
    ['driveId', interval.driveId],
    ['fromIndex', String(interval.fromIndex)],
    ['toIndex', String(interval.toIndex)],
    ['startNs', interval.startNs],
    ['reason', interval.reason],
    ...(interval.params.keyActor ? [['keyActor', interval.params.keyActor]] : []),
    ...(interval.droppedTracks.length > 0 ? [['droppedTracks', interval.droppedTracks.join(',')]] : []),
  ];
  const logicFile = interval.road.kind === 'generated' ? (opts.xodrFile ?? defaultXodrFile(interval)) : interval.road.filepath;
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    OpenSCENARIO: {
      FileHeader: {
        '@_revMajor': String(OSC_REV_MAJOR),
        '@_revMinor': String(OSC_REV_MINOR),
        '@_date': isoSeconds(BigInt(interval.startNs)),
        '@_description': description,
        '@_author': opts.author ?? 'paddock',
        Properties: { Property: headerProps.map(([name, value]) => ({ '@_name': name, '@_value': value })) },
      },
      ParameterDeclarations: { ParameterDeclaration: decls.map(([name, type, value]) => ({ '@_name': name, '@_parameterType': type, '@_value': value })) },
      CatalogLocations: '',
      RoadNetwork: { LogicFile: { '@_filepath': logicFile } },
      Entities: { ScenarioObject: entities.map((e) => ({ '@_name': e.name, ...entityObject(e, e.name === interval.params.keyActor && key !== undefined) })) },
      Storyboard: {
        Init: { Actions: { GlobalAction: { EnvironmentAction: { Environment: environment(interval) } }, Private: privates } },
        Story: {
          '@_name': 'replay',
          Act: {
            '@_name': 'replay_log',
            ManeuverGroup: entities.map((e) => maneuverGroup(e, writer(e), end)),
            StartTrigger: { ConditionGroup: { Condition: condition('replay_start', 'greaterOrEqual', '0') } },
          },
        },
        StopTrigger: { ConditionGroup: { Condition: condition('interval_end', 'greaterOrEqual', ego.time(end)) } },
      },
    },
  };
  const xosc = new XMLBuilder({ ignoreAttributes: false, format: true, indentBy: '  ', suppressEmptyNode: true, suppressBooleanAttributes: false }).build(doc) as string;
  return interval.road.kind === 'generated' ? { xosc, xodr: toOpenDrive(interval, { name: logicFile }) } : { xosc };
}

/** A position as written, its parameters resolved: a WorldPosition's numbers, or any other kind's attributes. */
export type ParsedPosition =
  | { kind: 'WorldPosition'; x: number; y: number; z?: number; h?: number }
  | { kind: string; attributes: Record<string, string | number> };

export interface ParsedEntity {
  name: string;
  kind: 'vehicle' | 'pedestrian' | 'misc' | 'catalog' | 'external';
  /** vehicleCategory, pedestrianCategory or miscObjectCategory, resolved. */
  category?: string;
  catalog?: { catalogName: string; entryName: string };
  /** Length, width, height of the bounding box. */
  size?: [number, number, number];
  /** The bounding box's centre relative to the reference point. */
  center?: [number, number, number];
  properties: Record<string, string>;
}

export interface ParsedTrajectory {
  /** The entities of the enclosing ManeuverGroup's Actors. */
  entities: string[];
  name: string;
  timing?: { domain: string; scale: number; offset: number };
  followingMode?: string;
  vertices: { t?: number; position: ParsedPosition }[];
}

export interface ParsedEnvironment {
  name: string;
  timeOfDay?: { dateTime: string; animation: boolean };
  sun?: { azimuth: number; elevation: number; illuminance?: number };
  fogVisualRange?: number;
  precipitation?: { type: string; intensity?: number };
  cloudCover?: string;
  frictionScaleFactor?: number;
}

export interface ParsedScenario {
  file: string;
  rev: { major: number; minor: number };
  header: { author: string; date: string; description: string; properties: Record<string, string> };
  kind: 'scenario' | 'parameterValueDistribution' | 'catalog';
  /** Global parameters: type, the declared text, and the value it resolves to. */
  parameters: Record<string, { type: string; declared: string; value: string | number | boolean }>;
  roadNetwork?: { logicFile?: string; sceneGraphFile?: string };
  entities: ParsedEntity[];
  /** Per entity: the Init's teleport position, absolute target speed, visibility. */
  init: Record<string, { position?: ParsedPosition; speed?: number; visible?: boolean }>;
  trajectories: ParsedTrajectory[];
  environment?: ParsedEnvironment;
  /** The Storyboard StopTrigger's SimulationTimeCondition value, where it has one. */
  stopTime?: number;
  /** For a ParameterValueDistribution: the scenario it varies and the parameter names it sets. */
  distribution?: { scenarioFile?: string; parameters: string[] };
}

const META = XMLParser.getMetaDataSymbol();

/** Reads the nodes of an OpenSCENARIO document with their file positions, resolving parameters. */
export class Reader {
  private readonly lineStarts: number[] = [0];
  constructor(
    readonly file: string,
    text: string,
  ) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  lineOf(node: unknown): number | undefined {
    const idx = node && typeof node === 'object' ? ((node as Record<symbol, { startIndex?: number }>)[META as symbol]?.startIndex) : undefined;
    if (idx === undefined) return undefined;
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= idx) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  fail(node: unknown, what: string): never {
    const line = this.lineOf(node);
    throw new InputError(`${this.file}${line ? `:${line}` : ''}: ${what}`);
  }
}

export type El = Record<string, unknown>;
export const kids = (n: unknown, name: string): El[] => (n && typeof n === 'object' ? (((n as El)[name] as El[] | undefined) ?? []).map((k) => (typeof k === 'object' && k !== null ? k : {})) : []);
export const kid = (n: unknown, name: string): El | undefined => kids(n, name)[0];
export const raw = (n: El | undefined, name: string): string | undefined => (n ? (n[`@_${name}`] as string | undefined) : undefined);

export type Scope = Map<string, string>;

/** Evaluates an OpenSCENARIO expression's inner text: numbers, $params, + - * / %, unary -, parentheses, and round floor ceil sqrt pow. */
export function evaluateExpression(expr: string, lookup: (name: string) => number): number {
  const tokens = expr.match(/\s*(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+|\$[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_]+|[-+*/%(),])/gy);
  if (!tokens || tokens.join('').replace(/\s+/g, '') !== expr.replace(/\s+/g, '')) throw new Error(`cannot read the expression \${${expr}}`);
  const toks = tokens.map((t) => t.trim());
  let i = 0;
  const peek = (): string | undefined => toks[i];
  const take = (want?: string): string => {
    const t = toks[i++];
    if (t === undefined || (want !== undefined && t !== want)) throw new Error(`expression \${${expr}}: expected ${want ?? 'a value'}${t === undefined ? ' at its end' : `, got '${t}'`}`);
    return t;
  };
  const fns: Record<string, (...a: number[]) => number> = { round: Math.round, floor: Math.floor, ceil: Math.ceil, sqrt: Math.sqrt, pow: Math.pow };
  const primary = (): number => {
    const t = take();
    if (t === '-') return -primary();
    if (t === '+') return primary();
    if (t === '(') {
      const v = sum();
      take(')');
      return v;
    }
    if (t.startsWith('$')) return lookup(t.slice(1));
    if (/^[\d.]/.test(t)) return Number(t);
    const fn = fns[t];
    if (!fn) throw new Error(`expression \${${expr}}: unknown function or name '${t}'`);
    take('(');
    const args = [sum()];
    while (peek() === ',') {
      take(',');
      args.push(sum());
    }
    take(')');
    return fn(...args);
  };
  const product = (): number => {
    let v = primary();
    while (peek() === '*' || peek() === '/' || peek() === '%') {
      const op = take();
      const r = primary();
      v = op === '*' ? v * r : op === '/' ? v / r : v % r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (peek() === '+' || peek() === '-') {
      const op = take();
      const r = product();
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const v = sum();
  if (i !== toks.length) throw new Error(`expression \${${expr}}: unexpected '${toks[i]}'`);
  return v;
}

export class Resolver {
  constructor(
    private readonly r: Reader,
    private readonly scope: Scope,
  ) {}

  with(decls: El | undefined): Resolver {
    if (!decls) return this;
    const s = new Map(this.scope);
    for (const d of kids(decls, 'ParameterDeclaration')) s.set(raw(d, 'name') ?? this.r.fail(d, 'ParameterDeclaration without a name'), raw(d, 'value') ?? '');
    return new Resolver(this.r, s);
  }

  /** An attribute's text with a `$param` or `${expr}` replaced by its value. */
  text(n: El, name: string): string | undefined {
    const v = raw(n, name);
    if (v === undefined) return undefined;
    if (v.startsWith('${') && v.endsWith('}')) {
      try {
        return String(evaluateExpression(v.slice(2, -1), (p) => this.number(n, name, p)));
      } catch (e) {
        this.r.fail(n, `${name}="${v}": ${(e as Error).message}`);
      }
    }
    if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(v)) {
      const p = this.scope.get(v.slice(1));
      if (p === undefined) this.r.fail(n, `${name}="${v}": no ParameterDeclaration named ${v.slice(1)}`);
      return p;
    }
    return v;
  }

  private number(n: El, name: string, param: string): number {
    const p = this.scope.get(param);
    if (p === undefined) this.r.fail(n, `${name}: no ParameterDeclaration named ${param}`);
    const v = Number(p);
    if (p.trim() === '' || !Number.isFinite(v)) this.r.fail(n, `${name}: parameter ${param} is '${p}', not a number`);
    return v;
  }

  num(n: El, name: string): number | undefined {
    const t = this.text(n, name);
    if (t === undefined) return undefined;
    const v = Number(t);
    if (t.trim() === '' || !Number.isFinite(v)) this.r.fail(n, `${name}="${raw(n, name)}" is not a number`);
    return v;
  }

  need(n: El, name: string, element: string): number {
    return this.num(n, name) ?? this.r.fail(n, `${element} has no ${name}`);
  }

  position(p: El | undefined): ParsedPosition | undefined {
    if (!p) return undefined;
    const wp = kid(p, 'WorldPosition');
    if (wp) {
      const out: ParsedPosition = { kind: 'WorldPosition', x: this.need(wp, 'x', 'WorldPosition'), y: this.need(wp, 'y', 'WorldPosition') };
      const z = this.num(wp, 'z');
      const h = this.num(wp, 'h');
      if (z !== undefined) out.z = z;
      if (h !== undefined) out.h = h;
      return out;
    }
    const [kind] = Object.keys(p).filter((k) => !k.startsWith('@_'));
    if (!kind) return undefined;
    const el = kid(p, kind)!;
    const attributes: Record<string, string | number> = {};
    for (const k of Object.keys(el).filter((a) => a.startsWith('@_'))) {
      const t = this.text(el, k.slice(2))!;
      attributes[k.slice(2)] = t.trim() !== '' && Number.isFinite(Number(t)) ? Number(t) : t;
    }
    return { kind, attributes };
  }
}

/** Elements that may repeat or hold a list in OpenSCENARIO: everything is read as a list, so one reader serves all. */
export function parser(): XMLParser {
  return new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseAttributeValue: false, parseTagValue: false, isArray: (_n, _j, _leaf, isAttr) => !isAttr, captureMetaData: true, ignoreDeclaration: true, ignorePiTags: true, removeNSPrefix: true });
}

export function properties(n: El | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of kids(kid(n, 'Properties'), 'Property')) out[raw(p, 'name') ?? ''] = raw(p, 'value') ?? '';
  return out;
}

function parsedValue(type: string, declared: string): string | number | boolean {
  if (['double', 'integer', 'int', 'unsignedInt', 'unsignedShort'].includes(type) && declared.trim() !== '' && Number.isFinite(Number(declared))) return Number(declared);
  if (type === 'boolean') return declared === 'true';
  return declared;
}

/**
 * Reads an OpenSCENARIO 1.x file back: its header, global parameters (values resolved),
 * entities, Init positions and speeds, every FollowTrajectoryAction's trajectory, the Init's
 * environment and the stop time, with every `$param` and `${expr}` resolved. A file that is not
 * well-formed XML, or whose numbers or parameter references do not resolve, is an InputError
 * naming file:line.
 */
export function parseOpenScenario(text: string, file = '<xosc>'): ParsedScenario {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new InputError(`${file}:${valid.err.line}:${valid.err.col}: not well-formed XML: ${valid.err.msg}`);
  const r = new Reader(file, text);
  const doc = parser().parse(text) as El;
  const root = kid(doc, 'OpenSCENARIO') ?? r.fail(undefined, `the root element is not OpenSCENARIO (found ${Object.keys(doc).filter((k) => !k.startsWith('?')).join(', ') || 'none'})`);
  const fh = kid(root, 'FileHeader') ?? r.fail(root, 'OpenSCENARIO has no FileHeader');
  const rev = { major: Number(raw(fh, 'revMajor')), minor: Number(raw(fh, 'revMinor')) };
  if (!Number.isInteger(rev.major) || !Number.isInteger(rev.minor)) r.fail(fh, `FileHeader revMajor/revMinor "${raw(fh, 'revMajor')}"/"${raw(fh, 'revMinor')}" are not integers`);
  if (rev.major !== 1) r.fail(fh, `OpenSCENARIO ${rev.major}.${rev.minor} is not 1.x`);
  const out: ParsedScenario = {
    file,
    rev,
    header: { author: raw(fh, 'author') ?? '', date: raw(fh, 'date') ?? '', description: raw(fh, 'description') ?? '', properties: properties(fh) },
    kind: 'scenario',
    parameters: {},
    entities: [],
    init: {},
    trajectories: [],
  };
  const decls = kid(root, 'ParameterDeclarations');
  for (const d of kids(decls, 'ParameterDeclaration')) {
    const name = raw(d, 'name') ?? r.fail(d, 'ParameterDeclaration without a name');
    const type = raw(d, 'parameterType') ?? r.fail(d, `ParameterDeclaration ${name} has no parameterType`);
    const declared = raw(d, 'value') ?? r.fail(d, `ParameterDeclaration ${name} has no value`);
    if (['double', 'integer', 'int', 'unsignedInt', 'unsignedShort'].includes(type) && !Number.isFinite(Number(declared))) r.fail(d, `ParameterDeclaration ${name}: ${type} value '${declared}' is not a number`);
    out.parameters[name] = { type, declared, value: parsedValue(type, declared) };
  }
  const pvd = kid(root, 'ParameterValueDistribution');
  if (pvd) {
    out.kind = 'parameterValueDistribution';
    const names = new Set<string>();
    const walk = (n: unknown): void => {
      if (!n || typeof n !== 'object') return;
      for (const [k, v] of Object.entries(n as El)) {
        if (k === '@_parameterName') names.add(v as string);
        else if (Array.isArray(v)) v.forEach(walk);
      }
    };
    walk(pvd);
    out.distribution = { scenarioFile: raw(kid(pvd, 'ScenarioFile'), 'filepath'), parameters: [...names] };
    return out;
  }
  if (kid(root, 'Catalog')) {
    out.kind = 'catalog';
    return out;
  }
  const res = new Resolver(r, new Map()).with(decls);
  const rn = kid(root, 'RoadNetwork');
  if (rn) out.roadNetwork = { logicFile: raw(kid(rn, 'LogicFile'), 'filepath'), sceneGraphFile: raw(kid(rn, 'SceneGraphFile'), 'filepath') };
  for (const so of kids(kid(root, 'Entities'), 'ScenarioObject')) out.entities.push(entity(so, res, r));
  const sb = kid(root, 'Storyboard') ?? r.fail(root, 'OpenSCENARIO has neither a Storyboard, a ParameterValueDistribution nor a Catalog');
  const init = kid(kid(sb, 'Init'), 'Actions');
  for (const g of kids(init, 'GlobalAction')) {
    const env = kid(kid(g, 'EnvironmentAction'), 'Environment');
    if (env) out.environment = environmentOf(env, res);
  }
  for (const p of kids(init, 'Private')) {
    const name = raw(p, 'entityRef') ?? r.fail(p, 'Private without an entityRef');
    const slot = (out.init[name] ??= {});
    for (const a of kids(p, 'PrivateAction')) {
      const tp = kid(a, 'TeleportAction');
      if (tp) slot.position = res.position(kid(tp, 'Position'));
      const target = kid(kid(kid(kid(a, 'LongitudinalAction'), 'SpeedAction'), 'SpeedActionTarget'), 'AbsoluteTargetSpeed');
      if (target) slot.speed = res.need(target, 'value', 'AbsoluteTargetSpeed');
      const vis = kid(a, 'VisibilityAction');
      if (vis) slot.visible = res.text(vis, 'graphics') === 'true';
    }
  }
  for (const story of kids(sb, 'Story')) {
    const sres = res.with(kid(story, 'ParameterDeclarations'));
    for (const act of kids(story, 'Act')) {
      for (const mg of kids(act, 'ManeuverGroup')) {
        const actors = kids(kid(mg, 'Actors'), 'EntityRef').map((e) => raw(e, 'entityRef') ?? '');
        for (const m of kids(mg, 'Maneuver')) {
          const mres = sres.with(kid(m, 'ParameterDeclarations'));
          for (const ev of kids(m, 'Event')) {
            for (const a of kids(ev, 'Action')) {
              const fta = kid(kid(kid(a, 'PrivateAction'), 'RoutingAction'), 'FollowTrajectoryAction');
              if (fta) {
                const t = trajectoryOf(fta, actors, mres);
                if (t) out.trajectories.push(t);
              }
            }
          }
        }
      }
    }
  }
  for (const g of kids(kid(sb, 'StopTrigger'), 'ConditionGroup')) {
    for (const c of kids(g, 'Condition')) {
      const st = kid(kid(c, 'ByValueCondition'), 'SimulationTimeCondition');
      if (st) out.stopTime = res.need(st, 'value', 'SimulationTimeCondition');
    }
  }
  return out;
}

export function entity(so: El, res: Resolver, r: Reader): ParsedEntity {
  const name = raw(so, 'name') ?? r.fail(so, 'ScenarioObject without a name');
  const box = (n: El): Pick<ParsedEntity, 'size' | 'center'> => {
    const bb = kid(n, 'BoundingBox');
    const d = kid(bb, 'Dimensions');
    const c = kid(bb, 'Center');
    return {
      ...(d ? { size: [res.need(d, 'length', 'Dimensions'), res.need(d, 'width', 'Dimensions'), res.need(d, 'height', 'Dimensions')] as [number, number, number] } : {}),
      ...(c ? { center: [res.need(c, 'x', 'Center'), res.need(c, 'y', 'Center'), res.need(c, 'z', 'Center')] as [number, number, number] } : {}),
    };
  };
  const v = kid(so, 'Vehicle');
  if (v) return { name, kind: 'vehicle', category: res.text(v, 'vehicleCategory'), ...box(v), properties: properties(v) };
  const p = kid(so, 'Pedestrian');
  if (p) return { name, kind: 'pedestrian', category: res.text(p, 'pedestrianCategory'), ...box(p), properties: properties(p) };
  const m = kid(so, 'MiscObject');
  if (m) return { name, kind: 'misc', category: res.text(m, 'miscObjectCategory'), ...box(m), properties: properties(m) };
  const cr = kid(so, 'CatalogReference');
  if (cr) return { name, kind: 'catalog', catalog: { catalogName: res.text(cr, 'catalogName') ?? '', entryName: res.text(cr, 'entryName') ?? '' }, properties: {} };
  if (kid(so, 'ExternalObjectReference')) return { name, kind: 'external', properties: {} };
  return r.fail(so, `ScenarioObject ${name} has no Vehicle, Pedestrian, MiscObject, CatalogReference or ExternalObjectReference`);
}

function trajectoryOf(fta: El, entities: string[], res: Resolver): ParsedTrajectory | undefined {
  const traj = kid(kid(fta, 'TrajectoryRef'), 'Trajectory') ?? kid(fta, 'Trajectory');
  if (!traj) return undefined;
  const tres = res.with(kid(traj, 'ParameterDeclarations'));
  const timing = kid(kid(fta, 'TimeReference'), 'Timing');
  const poly = kid(kid(traj, 'Shape'), 'Polyline');
  return {
    entities,
    name: raw(traj, 'name') ?? '',
    ...(timing ? { timing: { domain: tres.text(timing, 'domainAbsoluteRelative') ?? '', scale: tres.need(timing, 'scale', 'Timing'), offset: tres.need(timing, 'offset', 'Timing') } } : {}),
    followingMode: tres.text(kid(fta, 'TrajectoryFollowingMode') ?? {}, 'followingMode'),
    vertices: kids(poly, 'Vertex').map((vx) => {
      const t = tres.num(vx, 'time');
      return { ...(t === undefined ? {} : { t }), position: tres.position(kid(vx, 'Position')) ?? { kind: 'none', attributes: {} } };
    }),
  };
}

export function environmentOf(env: El, res: Resolver): ParsedEnvironment {
  const out: ParsedEnvironment = { name: raw(env, 'name') ?? '' };
  const tod = kid(env, 'TimeOfDay');
  if (tod) out.timeOfDay = { dateTime: res.text(tod, 'dateTime') ?? '', animation: res.text(tod, 'animation') === 'true' };
  const w = kid(env, 'Weather');
  const sun = kid(w, 'Sun');
  if (sun) out.sun = { azimuth: res.need(sun, 'azimuth', 'Sun'), elevation: res.need(sun, 'elevation', 'Sun'), ...(raw(sun, 'illuminance') !== undefined ? { illuminance: res.num(sun, 'illuminance') } : {}) };
  const fog = kid(w, 'Fog');
  if (fog) out.fogVisualRange = res.need(fog, 'visualRange', 'Fog');
  const pr = kid(w, 'Precipitation');
  if (pr) out.precipitation = { type: res.text(pr, 'precipitationType') ?? '', ...(raw(pr, 'precipitationIntensity') !== undefined ? { intensity: res.num(pr, 'precipitationIntensity') } : raw(pr, 'intensity') !== undefined ? { intensity: res.num(pr, 'intensity') } : {}) };
  const cc = w ? (res.text(w, 'fractionalCloudCover') ?? res.text(w, 'cloudState')) : undefined;
  if (cc !== undefined) out.cloudCover = cc;
  const rc = kid(env, 'RoadCondition');
  if (rc) out.frictionScaleFactor = res.num(rc, 'frictionScaleFactor');
  return out;
}

/**
 * Validates a file against an OpenSCENARIO XSD (default: the 1.3 schema in data/openscenario/)
 * with xmllint (Debian/Ubuntu libxml2-utils), a real schema validator. `errors` are xmllint's
 * own lines (file:line: element ...: Schemas validity error : ...).
 */
export async function validateXosc(file: string, opts: { xsd?: string } = {}): Promise<{ ok: boolean; errors: string[] }> {
  const xsd = opts.xsd ?? xsdPath();
  return new Promise((resolve, reject) => {
    execFile('xmllint', ['--noout', '--schema', xsd, file], { maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('xmllint is not installed: OpenSCENARIO validation needs it (apt-get install libxml2-utils)'));
        return;
      }
      const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !/ validates$/.test(l) && !/ fails to validate$/.test(l));
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      // xmllint exits 1 on a file it cannot parse and 3 on one that breaks the schema; other codes mean the schema or the run failed.
      if (code !== 0 && code !== 1 && code !== 3) {
        reject(new Error(`xmllint --schema ${xsd} ${file} exited ${code}: ${lines.join('; ')}`));
        return;
      }
      resolve({ ok: code === 0, errors: code === 0 ? [] : lines.length > 0 ? lines : [`${file}: fails to validate against ${xsd}`] });
    });
  });
}
