/**
 * An OpenSCENARIO 1.0-1.3 scenario as something paddock's simulator executes (SimScenario):
 * parameters resolved (global ones overridable, as CARLA's --openscenarioparams and esmini's
 * parameter distributions override them), entities mapped to the world's classes, positions on
 * the straight road, the Init and the storyboard's events with their triggers.
 *
 * What paddock cannot execute is refused by name with file:line, never dropped; what it reads and
 * deliberately does not execute (a catalog that is not here, CARLA's criteria_ conditions, the
 * ego's route) is kept in `notes`.
 *
 * The road: LanePositions put s along +x and the reference line at y = 0; laneId -n is the n-th
 * lane right of it (driving lanes), +n the n-th left (oncoming). A file placed by WorldPositions
 * whose ego does not head along +x is turned about the ego's start so that it does.
 *
 * Storyboard elements above events travel as SimEvents without actions (createStoryboard reads
 * them back): an Act is an event with a two-part path `Story/Act` whose trigger is the Act's
 * StartTrigger; an Act's StopTrigger is an event named `#stop` at `Story/Act/#stop`.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { InputError } from '../files/input-error.js';
import { Reader, Resolver, entity as parsedEntity, environmentOf, kid, kids, parser, properties, raw, type El } from '../replay/xosc.js';
import type { SimAction, SimClass, SimCondition, SimConditions, SimDynamics, SimEvent, SimRoad, SimRule, SimScenario, SimTrigger, Pose } from '../schema/sim-types.js';

/** Sizes (length, width, height) for entities a file does not size (a catalog entry that is not here). */
export const DEFAULT_SIZE: Record<SimClass, [number, number, number]> = { car: [4.6, 1.9, 1.5], pedestrian: [0.5, 0.6, 1.75], cyclist: [1.8, 0.6, 1.7] };
/** Run length when neither `paddock:durationS` nor a SimulationTimeCondition in the StopTrigger bounds it. */
export const DEFAULT_DURATION_S = 30;
const LANE_WIDTH = 3.5;
/** Speed limits by road type, m/s (raised to the ego's set speed: a scenario's demanded speed is not the model's violation). */
const SPEED_LIMIT: Record<SimRoad['roadType'], number> = { urban: 50 / 3.6, rural: 100 / 3.6, highway: 130 / 3.6 };
const EGO_NAMES = ['Ego', 'ego', 'hero', 'EgoVehicle'];
const SUPPORTED = 'supported: SpeedAction, LaneChangeAction, LaneOffsetAction, TeleportAction, FollowTrajectoryAction (Polyline, absolute timing); on the ego SpeedAction (the ACC set speed) and controller assignments';
const SUPPORTED_CONDITIONS = 'supported: SimulationTimeCondition, StoryboardElementStateCondition, ParameterCondition, TimeHeadwayCondition, TimeToCollisionCondition (to an entity), RelativeDistanceCondition, SpeedCondition, ReachPositionCondition, DistanceCondition (lessThan a position), TraveledDistanceCondition, StandStillCondition';
const RULES: SimRule[] = ['greaterThan', 'lessThan', 'equalTo', 'greaterOrEqual', 'lessOrEqual', 'notEqualTo'];

type Overrides = Record<string, string | number | boolean>;

interface Placed {
  /** Reference point in the file's frame, heading. */
  x: number;
  y: number;
  h: number;
}

/** Per-file context while reading: reader, resolver, the road frame, entities. */
class Ctx {
  notes: string[] = [];
  /** Lane ids used by LanePositions (to size the road). */
  laneIds = new Set<number>();
  roadIds = new Set<string>();
  /** Entity reference-point -> box-centre offsets along the heading, and sizes. */
  centre = new Map<string, [number, number]>();
  /** Init poses in the file's frame (reference points), as they resolve. */
  placed = new Map<string, Placed>();
  laneWidth = LANE_WIDTH;
  /** The road frame: rotation about (ox, oy) by -h0 (identity when the ego heads along +x). */
  h0 = 0;
  ox = 0;
  oy = 0;
  constructor(
    readonly r: Reader,
    readonly res: Resolver,
    readonly ego: string,
  ) {}

  fail(n: unknown, what: string): never {
    return this.r.fail(n, what);
  }

  refuse(n: unknown, element: string, why = SUPPORTED): never {
    return this.r.fail(n, `${element} is not supported by paddock's simulator (${why})`);
  }

  num(n: El, name: string, element: string, dflt?: number): number {
    const v = this.res.num(n, name);
    if (v !== undefined) return v;
    if (dflt !== undefined) return dflt;
    return this.fail(n, `${element} has no ${name}`);
  }

  text(n: El, name: string): string | undefined {
    return this.res.text(n, name);
  }

  /** y of a lane id's centre in the file's frame (reference line at 0). */
  laneY(laneId: number): number {
    return laneId < 0 ? (laneId + 0.5) * this.laneWidth : (laneId - 0.5) * this.laneWidth;
  }

  /** The lane id whose centre is nearest y (the file's frame). */
  laneIdAt(y: number): number {
    const n = Math.floor(Math.abs(y) / this.laneWidth) + 1;
    return y < 0 ? -n : n;
  }

  /** A point and heading from the file's frame into the road frame. */
  toRoad(p: Placed): Placed {
    if (this.h0 === 0) return p;
    const c = Math.cos(-this.h0);
    const s = Math.sin(-this.h0);
    const dx = p.x - this.ox;
    const dy = p.y - this.oy;
    return { x: this.ox + c * dx - s * dy, y: this.oy + s * dx + c * dy, h: wrap(p.h - this.h0) };
  }

  /** A reference-point pose (road frame) to the box centre's. */
  centreOf(name: string, p: Placed): Placed {
    const [cx, cy] = this.centre.get(name) ?? [0, 0];
    return { x: p.x + cx * Math.cos(p.h) - cy * Math.sin(p.h), y: p.y + cx * Math.sin(p.h) + cy * Math.cos(p.h), h: p.h };
  }
}

const wrap = (a: number): number => Math.atan2(Math.sin(a), Math.cos(a));

/** Position element -> pose in the file's frame; `relative` gets another entity's Init pose. */
function position(ctx: Ctx, pos: El | undefined, where: El, relative: (name: string, at: El) => Placed): Placed {
  if (!pos) return ctx.fail(where, 'a Position is missing');
  const [kind] = Object.keys(pos).filter((k) => !k.startsWith('@_'));
  const el = kind ? kid(pos, kind)! : pos;
  const orientation = (base: number): number => {
    const o = kid(el, 'Orientation');
    if (!o) return base;
    const h = ctx.num(o, 'h', 'Orientation', 0);
    return ctx.text(o, 'type') === 'absolute' ? h : base + h;
  };
  switch (kind) {
    case 'WorldPosition':
      return { x: ctx.num(el, 'x', kind), y: ctx.num(el, 'y', kind), h: ctx.num(el, 'h', kind, 0) };
    case 'LanePosition': {
      const laneId = Number(ctx.text(el, 'laneId'));
      if (!Number.isInteger(laneId) || laneId === 0) ctx.fail(el, `LanePosition laneId "${raw(el, 'laneId')}" is not a lane (a non-zero integer)`);
      ctx.laneIds.add(laneId);
      ctx.roadIds.add(ctx.text(el, 'roadId') ?? '');
      const h = laneId > 0 ? Math.PI : 0;
      return { x: ctx.num(el, 's', kind), y: ctx.laneY(laneId) + ctx.num(el, 'offset', kind, 0), h: orientation(h) };
    }
    case 'RoadPosition':
      ctx.roadIds.add(ctx.text(el, 'roadId') ?? '');
      return { x: ctx.num(el, 's', kind), y: ctx.num(el, 't', kind), h: orientation(0) };
    case 'RelativeWorldPosition': {
      const ref = relative(ctx.text(el, 'entityRef') ?? ctx.fail(el, `${kind} has no entityRef`), el);
      return { x: ref.x + ctx.num(el, 'dx', kind), y: ref.y + ctx.num(el, 'dy', kind), h: orientation(ref.h) };
    }
    case 'RelativeObjectPosition': {
      const ref = relative(ctx.text(el, 'entityRef') ?? ctx.fail(el, `${kind} has no entityRef`), el);
      const dx = ctx.num(el, 'dx', kind);
      const dy = ctx.num(el, 'dy', kind);
      return { x: ref.x + dx * Math.cos(ref.h) - dy * Math.sin(ref.h), y: ref.y + dx * Math.sin(ref.h) + dy * Math.cos(ref.h), h: orientation(ref.h) };
    }
    case 'RelativeRoadPosition': {
      const ref = relative(ctx.text(el, 'entityRef') ?? ctx.fail(el, `${kind} has no entityRef`), el);
      return { x: ref.x + ctx.num(el, 'ds', kind), y: ref.y + ctx.num(el, 'dt', kind), h: orientation(ref.h) };
    }
    case 'RelativeLanePosition': {
      const ref = relative(ctx.text(el, 'entityRef') ?? ctx.fail(el, `${kind} has no entityRef`), el);
      const dLane = ctx.num(el, 'dLane', kind);
      const refLane = ctx.laneIdAt(ref.y);
      // laneId + dLane, skipping the reference line's id 0 (OpenDRIVE has no lane 0 for driving).
      let lane = refLane + dLane;
      if (refLane < 0 && lane >= 0) lane += 1;
      else if (refLane > 0 && lane <= 0) lane -= 1;
      ctx.laneIds.add(lane);
      const ds = ctx.res.num(el, 'ds') ?? ctx.res.num(el, 'dsLane') ?? ctx.fail(el, `${kind} has neither ds nor dsLane`);
      return { x: ref.x + ds, y: ctx.laneY(lane) + ctx.num(el, 'offset', kind, 0), h: orientation(ref.h) };
    }
    default:
      return ctx.refuse(el, kind ?? 'an empty Position', 'supported positions: WorldPosition, LanePosition, RoadPosition, RelativeWorldPosition, RelativeObjectPosition, RelativeRoadPosition, RelativeLanePosition');
  }
}

const rule = (ctx: Ctx, n: El): SimRule => {
  const v = ctx.text(n, 'rule');
  if (!RULES.includes(v as SimRule)) ctx.fail(n, `rule "${raw(n, 'rule')}" is not one of ${RULES.join(', ')}`);
  return v as SimRule;
};

const EDGES = ['rising', 'falling', 'risingOrFalling', 'none'] as const;

/** A (possibly relative) position as an absolute point in the road frame, for conditions. */
type Resolve = (pos: El | undefined, where: El) => Placed;

/** One Condition element; null for one that is recorded in notes and not evaluated (CARLA criteria). */
function condition(ctx: Ctx, c: El, inStop: boolean, pending: { cond: SimCondition & { kind: 'storyboardElementState' }; node: El }[], resolve: Resolve): SimCondition | null {
  const name = raw(c, 'name') ?? '';
  const edge = ctx.text(c, 'conditionEdge') ?? 'none';
  if (!(EDGES as readonly string[]).includes(edge)) ctx.fail(c, `conditionEdge "${edge}" is not one of ${EDGES.join(', ')}`);
  const base = { name, delay: ctx.num(c, 'delay', 'Condition', 0), edge: edge as SimCondition['edge'] };
  const bv = kid(c, 'ByValueCondition');
  if (bv) {
    const [kind] = Object.keys(bv).filter((k) => !k.startsWith('@_'));
    const el = kid(bv, kind)!;
    if (kind === 'SimulationTimeCondition') return { ...base, kind: 'simulationTime', value: ctx.num(el, 'value', kind), rule: rule(ctx, el) };
    if (kind === 'StoryboardElementStateCondition') {
      const cond = { ...base, kind: 'storyboardElementState' as const, ref: ctx.text(el, 'storyboardElementRef') ?? ctx.fail(el, `${kind} has no storyboardElementRef`), elementType: ctx.text(el, 'storyboardElementType') ?? '', state: ctx.text(el, 'state') ?? '' };
      pending.push({ cond, node: el });
      return cond;
    }
    if (kind === 'ParameterCondition') {
      if (inStop && name.startsWith('criteria_')) {
        ctx.notes.push(`${ctx.r.file}:${ctx.r.lineOf(c) ?? '?'}: StopTrigger condition ${name} is CARLA ScenarioRunner's evaluation criterion, not a stop condition; paddock measures its own criteria (src/metrics/safety.ts)`);
        return null;
      }
      return { ...base, kind: 'parameter', parameter: ctx.text(el, 'parameterRef') ?? '', value: ctx.text(el, 'value') ?? '', rule: rule(ctx, el) };
    }
    return ctx.refuse(el, kind ?? 'an empty ByValueCondition', SUPPORTED_CONDITIONS);
  }
  const be = kid(c, 'ByEntityCondition') ?? ctx.fail(c, `Condition ${name} has neither a ByValueCondition nor a ByEntityCondition`);
  const te = kid(be, 'TriggeringEntities') ?? ctx.fail(be, 'ByEntityCondition has no TriggeringEntities');
  const triggering = kids(te, 'EntityRef').map((e) => ctx.text(e, 'entityRef') ?? ctx.fail(e, 'EntityRef without an entityRef'));
  const any = (ctx.text(te, 'triggeringEntitiesRule') ?? 'any') === 'any';
  const ec = kid(be, 'EntityCondition') ?? ctx.fail(be, 'ByEntityCondition has no EntityCondition');
  const [kind] = Object.keys(ec).filter((k) => !k.startsWith('@_'));
  const el = kid(ec, kind)!;
  const who = { ...base, triggering, any };
  const freespace = (): boolean => ctx.text(el, 'freespace') === 'true';
  switch (kind) {
    case 'TimeHeadwayCondition':
      if (ctx.text(el, 'relativeDistanceType') === 'lateral') ctx.refuse(el, 'TimeHeadwayCondition relativeDistanceType="lateral"', 'a time headway is along the road');
      return { ...who, kind: 'timeHeadway', entity: ctx.text(el, 'entityRef') ?? ctx.fail(el, `${kind} has no entityRef`), value: ctx.num(el, 'value', kind), rule: rule(ctx, el), freespace: freespace() };
    case 'TimeToCollisionCondition': {
      const target = kid(el, 'TimeToCollisionConditionTarget');
      const ref = kid(target, 'EntityRef');
      if (!ref) ctx.refuse(target ?? el, 'TimeToCollisionCondition to a Position', 'supported: a TimeToCollisionConditionTarget EntityRef');
      return { ...who, kind: 'timeToCollision', entity: ctx.text(ref!, 'entityRef') ?? ctx.fail(ref, 'EntityRef without an entityRef'), value: ctx.num(el, 'value', kind), rule: rule(ctx, el), freespace: freespace() };
    }
    case 'RelativeDistanceCondition': {
      const t = ctx.text(el, 'relativeDistanceType') ?? '';
      const type = t === 'euclidianDistance' ? 'cartesianDistance' : t;
      if (!['longitudinal', 'lateral', 'cartesianDistance'].includes(type)) ctx.fail(el, `RelativeDistanceCondition relativeDistanceType "${t}" is not longitudinal, lateral, cartesianDistance or euclidianDistance`);
      return { ...who, kind: 'relativeDistance', entity: ctx.text(el, 'entityRef') ?? ctx.fail(el, `${kind} has no entityRef`), value: ctx.num(el, 'value', kind), rule: rule(ctx, el), freespace: freespace(), type: type as 'longitudinal' | 'lateral' | 'cartesianDistance' };
    }
    case 'SpeedCondition':
      if ((ctx.text(el, 'direction') ?? 'longitudinal') !== 'longitudinal') ctx.refuse(el, `SpeedCondition direction="${ctx.text(el, 'direction')}"`, 'supported: the speed along the heading');
      return { ...who, kind: 'speed', value: ctx.num(el, 'value', kind), rule: rule(ctx, el) };
    case 'ReachPositionCondition': {
      const p = resolve(kid(el, 'Position'), el);
      return { ...who, kind: 'reachPosition', x: p.x, y: p.y, tolerance: ctx.num(el, 'tolerance', kind) };
    }
    case 'DistanceCondition': {
      const r = rule(ctx, el);
      if ((r !== 'lessThan' && r !== 'lessOrEqual') || freespace()) ctx.refuse(el, `DistanceCondition rule="${r}"${freespace() ? ' freespace="true"' : ''}`, 'supported: a DistanceCondition lessThan a position, reference point to point (a ReachPositionCondition)');
      const p = resolve(kid(el, 'Position'), el);
      return { ...who, kind: 'reachPosition', x: p.x, y: p.y, tolerance: ctx.num(el, 'value', kind) };
    }
    case 'TraveledDistanceCondition':
      return { ...who, kind: 'traveledDistance', value: ctx.num(el, 'value', kind) };
    case 'StandStillCondition':
      return { ...who, kind: 'standStill', duration: ctx.num(el, 'duration', kind) };
    default:
      return ctx.refuse(el, kind ?? 'an empty EntityCondition', SUPPORTED_CONDITIONS);
  }
}

function trigger(ctx: Ctx, t: El | undefined, inStop: boolean, pending: Parameters<typeof condition>[3], resolve: Resolve): SimTrigger | undefined {
  if (!t) return undefined;
  const groups: SimCondition[][] = [];
  for (const g of kids(t, 'ConditionGroup')) {
    const conds = kids(g, 'Condition').map((c) => condition(ctx, c, inStop, pending, resolve));
    const kept = conds.filter((c): c is SimCondition => c !== null);
    // A group left empty by criteria_ conditions would always hold; it is dropped with them.
    if (kept.length > 0) groups.push(kept);
  }
  return { groups };
}

function dynamics(ctx: Ctx, d: El | undefined, where: El): SimDynamics {
  if (!d) return ctx.fail(where, 'the action has no dynamics');
  const shape = ctx.text(d, 'dynamicsShape') ?? 'step';
  if (!['step', 'linear', 'cubic', 'sinusoidal'].includes(shape)) ctx.refuse(d, `dynamicsShape="${shape}"`, 'supported: step, linear, cubic, sinusoidal');
  const dimension = ctx.text(d, 'dynamicsDimension') ?? 'time';
  if (!['time', 'distance', 'rate'].includes(dimension)) ctx.fail(d, `dynamicsDimension "${dimension}" is not time, distance or rate`);
  return { shape: shape as SimDynamics['shape'], dimension: dimension as SimDynamics['dimension'], value: ctx.num(d, 'value', 'TransitionDynamics', 0) };
}

/** Converts one PrivateAction for each of `actorsOf`; refuses by name what cannot run. */
function actions(ctx: Ctx, pa: El, actorsOf: string[], place: (pos: El | undefined, where: El) => Placed): SimAction[] {
  const [group] = Object.keys(pa).filter((k) => !k.startsWith('@_'));
  const g = kid(pa, group)!;
  // TeleportAction, VisibilityAction, SynchronizeAction, ... are actions themselves; LongitudinalAction and the like hold one.
  const holder = ['LongitudinalAction', 'LateralAction', 'ControllerAction', 'RoutingAction'].includes(group);
  const kind = holder ? Object.keys(g).filter((k) => !k.startsWith('@_'))[0] : group;
  const a = holder && kind ? kid(g, kind)! : g;
  const out: SimAction[] = [];
  for (const entity of actorsOf) {
    const isEgo = entity === ctx.ego;
    if (group === 'ControllerAction' || group === 'ActivateControllerAction' || kind === 'AssignControllerAction' || kind === 'ActivateControllerAction') {
      if (!isEgo) ctx.refuse(g, `${group} on ${entity}`, 'the storyboard moves every entity but the ego; a controller for another entity cannot run here');
      ctx.notes.push(`${ctx.r.file}:${ctx.r.lineOf(g) ?? '?'}: ${group} on the ego ${entity}: paddock's planner and controller drive the ego`);
      continue;
    }
    if (group === 'VisibilityAction') {
      ctx.notes.push(`${ctx.r.file}:${ctx.r.lineOf(g) ?? '?'}: VisibilityAction on ${entity} during the run is not executed (SimAction has no visibility); the entity keeps its Init visibility`);
      continue;
    }
    if (kind === 'SpeedAction') {
      const target = kid(a, 'SpeedActionTarget') ?? ctx.fail(a, 'SpeedAction has no SpeedActionTarget');
      const abs = kid(target, 'AbsoluteTargetSpeed');
      const rel = kid(target, 'RelativeTargetSpeed');
      const dyn = dynamics(ctx, kid(a, 'SpeedActionDynamics'), a);
      if (abs) out.push({ kind: 'speed', entity, target: { absolute: ctx.num(abs, 'value', 'AbsoluteTargetSpeed') }, dynamics: dyn });
      else if (rel) {
        const vt = ctx.text(rel, 'speedTargetValueType') ?? 'delta';
        if (vt !== 'delta' && vt !== 'factor') ctx.fail(rel, `speedTargetValueType "${vt}" is not delta or factor`);
        out.push({ kind: 'speed', entity, target: { relative: ctx.text(rel, 'entityRef') ?? ctx.fail(rel, 'RelativeTargetSpeed has no entityRef'), value: ctx.num(rel, 'value', 'RelativeTargetSpeed'), valueType: vt as 'delta' | 'factor', continuous: ctx.text(rel, 'continuous') === 'true' }, dynamics: dyn });
      } else ctx.fail(target, 'SpeedActionTarget has neither AbsoluteTargetSpeed nor RelativeTargetSpeed');
      continue;
    }
    if ((kind === 'FollowTrajectoryAction' || kind === 'AssignRouteAction' || kind === 'AcquirePositionAction') && isEgo) {
      ctx.notes.push(`${ctx.r.file}:${ctx.r.lineOf(a) ?? '?'}: ${kind} on the ego ${entity}: paddock's planner drives the ego along its lane`);
      continue;
    }
    if (isEgo && kind !== 'TeleportAction') ctx.refuse(a, `${kind ?? group} on the ego ${entity}`, "paddock's planner drives the ego; only SpeedAction (the ACC's set speed) and controller assignments apply to it");
    if (kind === 'LaneChangeAction') {
      const target = kid(a, 'LaneChangeTarget') ?? ctx.fail(a, 'LaneChangeAction has no LaneChangeTarget');
      const rel = kid(target, 'RelativeTargetLane');
      const abs = kid(target, 'AbsoluteTargetLane');
      const dyn = dynamics(ctx, kid(a, 'LaneChangeActionDynamics'), a);
      const offset = ctx.num(a, 'targetLaneOffset', 'LaneChangeAction', 0);
      if (rel) out.push({ kind: 'laneChange', entity, target: { relative: ctx.text(rel, 'entityRef') ?? ctx.fail(rel, 'RelativeTargetLane has no entityRef'), value: ctx.num(rel, 'value', 'RelativeTargetLane') }, offset, dynamics: dyn });
      else if (abs) {
        const laneId = Number(ctx.text(abs, 'value'));
        if (!Number.isInteger(laneId) || laneId === 0) ctx.fail(abs, `AbsoluteTargetLane value "${raw(abs, 'value')}" is not a lane id`);
        ctx.laneIds.add(laneId);
        // Lane ids become lane indices once the road is sized; the id is kept negative-free here and fixed up by fixLanes.
        out.push({ kind: 'laneChange', entity, target: { absoluteLane: laneId }, offset, dynamics: dyn });
      } else ctx.fail(target, 'LaneChangeTarget has neither RelativeTargetLane nor AbsoluteTargetLane');
      continue;
    }
    if (kind === 'LaneOffsetAction') {
      const target = kid(a, 'LaneOffsetTarget') ?? ctx.fail(a, 'LaneOffsetAction has no LaneOffsetTarget');
      const abs = kid(target, 'AbsoluteTargetLaneOffset') ?? ctx.refuse(target, 'RelativeTargetLaneOffset', 'supported: AbsoluteTargetLaneOffset');
      const d = kid(a, 'LaneOffsetActionDynamics') ?? ctx.fail(a, 'LaneOffsetAction has no LaneOffsetActionDynamics');
      const shape = ctx.text(d, 'dynamicsShape') ?? 'sinusoidal';
      if (!['step', 'linear', 'cubic', 'sinusoidal'].includes(shape)) ctx.refuse(d, `dynamicsShape="${shape}"`, 'supported: step, linear, cubic, sinusoidal');
      // LaneOffsetActionDynamics bounds the lateral acceleration instead of giving a duration: 'rate' carries it.
      out.push({ kind: 'laneOffset', entity, offset: ctx.num(abs, 'value', 'AbsoluteTargetLaneOffset'), dynamics: { shape: shape as SimDynamics['shape'], dimension: 'rate', value: ctx.num(d, 'maxLateralAcc', 'LaneOffsetActionDynamics', 1) } });
      continue;
    }
    if (kind === 'TeleportAction') {
      const pos = kid(a, 'Position');
      const [pk] = Object.keys(pos ?? {}).filter((k) => !k.startsWith('@_'));
      const el = pk ? kid(pos, pk)! : undefined;
      if (el && (pk === 'RelativeWorldPosition' || pk === 'RelativeObjectPosition')) {
        const ref = ctx.text(el, 'entityRef') ?? ctx.fail(el, `${pk} has no entityRef`);
        out.push({ kind: 'teleport', entity, position: { relativeTo: ref, dx: ctx.num(el, 'dx', pk), dy: ctx.num(el, 'dy', pk) } });
      } else {
        const p = ctx.centreOf(entity, ctx.toRoad(place(pos, a)));
        out.push({ kind: 'teleport', entity, position: { x: p.x, y: p.y, heading: p.h } });
      }
      continue;
    }
    if (kind === 'FollowTrajectoryAction') {
      const traj = kid(kid(a, 'TrajectoryRef'), 'Trajectory') ?? kid(a, 'Trajectory') ?? ctx.refuse(a, 'FollowTrajectoryAction with a CatalogReference trajectory', 'the catalog is not here');
      const shape = kid(traj, 'Shape') ?? ctx.fail(traj, 'Trajectory has no Shape');
      const poly = kid(shape, 'Polyline') ?? ctx.refuse(shape, Object.keys(shape).filter((k) => !k.startsWith('@_'))[0] ?? 'an empty Shape', 'supported trajectory shape: Polyline');
      const timing = kid(kid(a, 'TimeReference'), 'Timing') ?? ctx.refuse(a, 'FollowTrajectoryAction without a Timing', 'supported: a Polyline with a time on each vertex and absolute Timing');
      if ((ctx.text(timing, 'domainAbsoluteRelative') ?? '') !== 'absolute') ctx.refuse(timing, `Timing domainAbsoluteRelative="${ctx.text(timing, 'domainAbsoluteRelative')}"`, 'supported: absolute timing');
      const scale = ctx.num(timing, 'scale', 'Timing');
      const offset = ctx.num(timing, 'offset', 'Timing');
      const vertices = kids(poly, 'Vertex').map((v) => {
        const p = ctx.centreOf(entity, ctx.toRoad(place(kid(v, 'Position'), v)));
        const t = ctx.res.num(v, 'time') ?? ctx.refuse(v, 'a trajectory Vertex without a time', 'supported: a time on each vertex');
        return { t: t * scale + offset, x: p.x, y: p.y, heading: p.h };
      });
      out.push({ kind: 'followTrajectory', entity, vertices });
      continue;
    }
    ctx.refuse(a, kind ?? group ?? 'an empty action');
  }
  return out;
}

/** Reads a scenario and its global parameters, `overrides` replacing declared values (typed as declared). */
function globals(r: Reader, root: El, overrides: Overrides): { scope: Map<string, string>; values: Record<string, string | number | boolean> } {
  const scope = new Map<string, string>();
  const values: Record<string, string | number | boolean> = {};
  const types = new Map<string, string>();
  const nodes = new Map<string, El>();
  for (const d of kids(kid(root, 'ParameterDeclarations'), 'ParameterDeclaration')) {
    const name = raw(d, 'name') ?? r.fail(d, 'ParameterDeclaration without a name');
    nodes.set(name, d);
    types.set(name, raw(d, 'parameterType') ?? 'string');
    scope.set(name, raw(d, 'value') ?? '');
  }
  for (const [name, v] of Object.entries(overrides)) {
    if (!types.has(name)) r.fail(undefined, `parameter ${name} is not among the global ParameterDeclarations (${[...types.keys()].join(', ') || 'none'})`);
    scope.set(name, typeof v === 'boolean' ? String(v) : String(v));
  }
  for (const [name, type] of types) {
    const text = scope.get(name)!;
    const at = nodes.get(name);
    const given = name in overrides ? ' (as overridden)' : '';
    // A parameter may be an expression of the ones declared before it (OpenSCENARIO 1.2).
    let resolved = text;
    if (text.startsWith('${') && text.endsWith('}')) resolved = new Resolver(r, scope).text({ '@_v': text }, 'v') ?? text;
    else if (/^\$[A-Za-z_]\w*$/.test(text)) resolved = scope.get(text.slice(1)) ?? r.fail(at, `parameter ${name}="${text}": no ParameterDeclaration named ${text.slice(1)}`);
    scope.set(name, resolved);
    if (['double', 'integer', 'int', 'unsignedInt', 'unsignedShort'].includes(type)) {
      const n = Number(resolved);
      if (resolved.trim() === '' || !Number.isFinite(n)) r.fail(at, `parameter ${name} (${type}) is '${resolved}'${given}, not a number`);
      if (type !== 'double' && !Number.isInteger(n)) r.fail(at, `parameter ${name} (${type}) is '${resolved}'${given}, not an integer`);
      values[name] = n;
    } else if (type === 'boolean') {
      if (resolved !== 'true' && resolved !== 'false') r.fail(at, `parameter ${name} (boolean) is '${resolved}'${given}, not true or false`);
      values[name] = resolved === 'true';
    } else values[name] = resolved;
  }
  return { scope, values };
}

function classOf(kind: string, category: string | undefined): SimClass {
  if (kind === 'pedestrian') return 'pedestrian';
  if (category === 'bicycle' || category === 'motorbike') return 'cyclist';
  return 'car';
}

function categoryOf(name: string, prop: string | undefined): string {
  if (prop) return prop;
  const n = name.toLowerCase();
  for (const c of ['ccrs', 'ccrm', 'ccrb', 'cpnc', 'cpfa', 'cbla']) if (n.includes(c)) return c;
  if (/cut.?in/.test(n)) return 'cut-in';
  if (/pedestrian/.test(n)) return 'pedestrian-crossing';
  return 'other';
}

function timeOfDay(dateTime: string): SimConditions['timeOfDay'] {
  const h = Number(dateTime.slice(11, 13));
  if (!Number.isFinite(h)) return 'day';
  return h >= 7 && h < 18 ? 'day' : (h >= 18 && h < 21) || (h >= 5 && h < 7) ? 'dusk' : 'night';
}

/**
 * An OpenSCENARIO 1.0-1.3 scenario's text as an executable SimScenario; `overrides` set global
 * parameters (a distribution's set). Throws an InputError at file:line for malformed XML, bad
 * numbers, unknown parameters and every element paddock cannot execute (by name).
 */
export function loadScenario(original: string, file: string, overrides: Overrides = {}): SimScenario {
  // A UTF-8 byte-order mark is no XML; the digest is of the file as it is.
  const text = original.charCodeAt(0) === 0xfeff ? original.slice(1) : original;
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new InputError(`${file}:${valid.err.line}:${valid.err.col}: not well-formed XML: ${valid.err.msg}`);
  const r = new Reader(file, text);
  const doc = parser().parse(text) as El;
  const root = kid(doc, 'OpenSCENARIO') ?? r.fail(undefined, 'the root element is not OpenSCENARIO');
  const fh = kid(root, 'FileHeader') ?? r.fail(root, 'OpenSCENARIO has no FileHeader');
  if (raw(fh, 'revMajor') !== '1' || !['0', '1', '2', '3'].includes(raw(fh, 'revMinor') ?? '')) r.fail(fh, `OpenSCENARIO ${raw(fh, 'revMajor')}.${raw(fh, 'revMinor')} is not 1.0-1.3`);
  if (kid(root, 'ParameterValueDistribution')) r.fail(root, 'this is a ParameterValueDistribution, not a scenario (expand it with src/sim/distribution.ts expandDistribution)');
  const sb = kid(root, 'Storyboard') ?? r.fail(root, 'OpenSCENARIO has no Storyboard (not a scenario)');
  const header = properties(fh);
  const { scope, values } = globals(r, root, overrides);
  const res = new Resolver(r, scope);

  // Entities, and the ego among them.
  const objects = kids(kid(root, 'Entities'), 'ScenarioObject');
  const parsed = objects.map((so) => ({ so, e: parsedEntity(so, res, r) }));
  for (const { so, e } of parsed) {
    if (e.kind === 'misc') r.fail(so, `MiscObject ${e.name} (${e.category ?? 'no category'}) is not supported by paddock's simulator (the world has cars, pedestrians and cyclists)`);
    if (e.kind === 'external') r.fail(so, `ExternalObjectReference ${e.name} is not supported by paddock's simulator (no external object can be resolved here)`);
  }
  const names = parsed.map((p) => p.e.name);
  const egoName = header['paddock:ego'] ?? EGO_NAMES.find((n) => names.includes(n)) ?? parsed.find((p) => p.e.kind === 'vehicle' || p.e.kind === 'catalog')?.e.name ?? r.fail(kid(root, 'Entities'), 'no entity can be the ego (no vehicle, and no paddock:ego FileHeader property)');
  const egoP = parsed.find((p) => p.e.name === egoName) ?? r.fail(fh, `paddock:ego names ${egoName}, which is not an entity (${names.join(', ')})`);
  if (egoP.e.kind === 'pedestrian') r.fail(egoP.so, `the ego ${egoName} is a Pedestrian; paddock's ego is a car`);
  const ctx = new Ctx(r, res, egoName);
  if (header['paddock:laneWidth']) ctx.laneWidth = Number(header['paddock:laneWidth']);
  const cls = new Map<string, SimClass>();
  const size = new Map<string, [number, number, number]>();
  for (const { e } of parsed) {
    const c = e.kind === 'catalog' ? 'car' : classOf(e.kind, e.category);
    if (e.kind === 'catalog') ctx.notes.push(`${e.name}: CatalogReference ${e.catalog?.catalogName}/${e.catalog?.entryName} is not available here; a car of ${DEFAULT_SIZE.car.join(' x ')} m stands in`);
    cls.set(e.name, c);
    size.set(e.name, e.size ?? DEFAULT_SIZE[c]);
    const length = (e.size ?? DEFAULT_SIZE[c])[0];
    ctx.centre.set(e.name, e.center ? [e.center[0], e.center[1]] : [c === 'pedestrian' ? 0 : 0.3 * length, 0]);
  }

  // Init: positions resolve in dependency order (a relative position needs its reference first).
  const init = kid(kid(sb, 'Init'), 'Actions');
  const privates = kids(init, 'Private');
  const speeds = new Map<string, number>();
  const visible = new Map<string, boolean>();
  const initEvents: SimAction[] = [];
  const teleports = new Map<string, { pos: El | undefined; at: El }>();
  for (const p of privates) {
    const name = ctx.text(p, 'entityRef') ?? r.fail(p, 'Private without an entityRef');
    if (!names.includes(name)) r.fail(p, `Private entityRef ${name} is not an entity (${names.join(', ')})`);
    for (const pa of kids(p, 'PrivateAction')) {
      const tp = kid(pa, 'TeleportAction');
      if (tp) teleports.set(name, { pos: kid(tp, 'Position'), at: tp });
    }
  }
  const resolving = new Set<string>();
  const placeInit = (name: string, at: El): Placed => {
    const done = ctx.placed.get(name);
    if (done) return done;
    const t = teleports.get(name) ?? r.fail(at, `${name} has no TeleportAction in the Init, so nothing can be placed relative to it`);
    if (resolving.has(name)) r.fail(t.at, `the Init positions of ${[...resolving].join(', ')} refer to each other in a circle`);
    resolving.add(name);
    const p = position(ctx, t.pos, t.at, placeInit);
    resolving.delete(name);
    ctx.placed.set(name, p);
    return p;
  };
  for (const name of names) if (teleports.has(name)) placeInit(name, teleports.get(name)!.at);
  const egoStart = ctx.placed.get(egoName) ?? r.fail(init ?? sb, `the ego ${egoName} has no TeleportAction in the Init`);
  if (Math.abs(wrap(egoStart.h)) > 1e-3) {
    ctx.h0 = egoStart.h;
    ctx.ox = egoStart.x;
    ctx.oy = egoStart.y;
    ctx.notes.push(`the ego starts heading ${egoStart.h.toFixed(4)} rad; the scene is turned about its start so that it drives along +x`);
  }
  // Positions inside the storyboard relative to an entity use its Init pose (the only one known before the run).
  const placeAny = (pos: El | undefined, where: El): Placed => position(ctx, pos, where, (n, at) => (names.includes(n) ? placeInit(n, at) : r.fail(at, `entityRef ${n} is not an entity`)));
  const resolveAbs: Resolve = (pos, where) => ctx.toRoad(placeAny(pos, where));

  for (const p of privates) {
    const name = ctx.text(p, 'entityRef')!;
    for (const pa of kids(p, 'PrivateAction')) {
      if (kid(pa, 'TeleportAction')) continue;
      const speed = kid(kid(pa, 'LongitudinalAction'), 'SpeedAction');
      if (speed) {
        const target = kid(speed, 'SpeedActionTarget');
        const abs = kid(target, 'AbsoluteTargetSpeed');
        const rel = kid(target, 'RelativeTargetSpeed');
        if (abs) speeds.set(name, ctx.num(abs, 'value', 'AbsoluteTargetSpeed'));
        else if (rel) {
          const ref = speeds.get(ctx.text(rel, 'entityRef') ?? '') ?? 0;
          const v = ctx.num(rel, 'value', 'RelativeTargetSpeed');
          speeds.set(name, ctx.text(rel, 'speedTargetValueType') === 'factor' ? ref * v : ref + v);
        } else r.fail(speed, 'SpeedActionTarget has neither AbsoluteTargetSpeed nor RelativeTargetSpeed');
        continue;
      }
      const vis = kid(pa, 'VisibilityAction');
      if (vis) {
        visible.set(name, ctx.text(vis, 'graphics') !== 'false');
        continue;
      }
      // Anything else in the Init runs as an action at time 0 (or is refused by name there).
      initEvents.push(...actions(ctx, pa, [name], placeAny));
    }
  }
  let environment: SimScenario['environment'];
  for (const ga of kids(init, 'GlobalAction')) {
    const env = kid(kid(ga, 'EnvironmentAction'), 'Environment');
    if (!env) ctx.refuse(ga, `GlobalAction ${Object.keys(ga).filter((k) => !k.startsWith('@_'))[0] ?? ''}`.trim(), 'supported global action: EnvironmentAction in the Init');
    const e = environmentOf(env!, res);
    const precip = e.precipitation?.type;
    const weather: SimConditions['weather'] = precip === 'snow' ? 'snow' : precip === 'rain' && (e.precipitation?.intensity ?? 1) > 0 ? 'rain' : (e.fogVisualRange ?? Infinity) < 1000 ? 'fog' : 'clear';
    environment = { weather, ...(e.timeOfDay ? { timeOfDay: timeOfDay(e.timeOfDay.dateTime) } : {}) };
  }

  // The storyboard.
  const pending: Parameters<typeof condition>[3] = [];
  const events: SimEvent[] = [];
  const elements: { type: string; name: string; path: string; actions?: number }[] = [];
  const actionNames = new Map<string, { event: string; count: number }>();
  if (initEvents.length > 0) events.push({ path: 'Init', name: 'Init', trigger: { groups: [[{ name: 'init', delay: 0, edge: 'none', kind: 'simulationTime', value: 0, rule: 'greaterOrEqual' }]] }, actions: initEvents, maxExecutions: 1 });
  const always: SimTrigger = { groups: [[{ name: 'no StartTrigger', delay: 0, edge: 'none', kind: 'simulationTime', value: 0, rule: 'greaterOrEqual' }]] };
  for (const story of kids(sb, 'Story')) {
    const sname = raw(story, 'name') ?? r.fail(story, 'Story without a name');
    elements.push({ type: 'story', name: sname, path: sname });
    const sres = res.with(kid(story, 'ParameterDeclarations'));
    const sctx = Object.assign(Object.create(Object.getPrototypeOf(ctx)) as Ctx, ctx, { res: sres });
    for (const act of kids(story, 'Act')) {
      const aname = raw(act, 'name') ?? r.fail(act, 'Act without a name');
      const apath = `${sname}/${aname}`;
      elements.push({ type: 'act', name: aname, path: apath });
      events.push({ path: apath, name: aname, trigger: trigger(sctx, kid(act, 'StartTrigger'), false, pending, resolveAbs) ?? always, actions: [], maxExecutions: 1 });
      const stop = trigger(sctx, kid(act, 'StopTrigger'), true, pending, resolveAbs);
      if (stop && stop.groups.length > 0) events.push({ path: `${apath}/#stop`, name: '#stop', trigger: stop, actions: [], maxExecutions: 1 });
      for (const mg of kids(act, 'ManeuverGroup')) {
        const gname = raw(mg, 'name') ?? r.fail(mg, 'ManeuverGroup without a name');
        const gpath = `${apath}/${gname}`;
        elements.push({ type: 'maneuverGroup', name: gname, path: gpath });
        const actorsEl = kid(mg, 'Actors');
        if (sctx.text(actorsEl ?? {}, 'selectTriggeringEntities') === 'true') sctx.refuse(actorsEl, 'Actors selectTriggeringEntities="true"', 'name the actors with EntityRef');
        const actors = kids(actorsEl, 'EntityRef').map((e) => sctx.text(e, 'entityRef') ?? r.fail(e, 'EntityRef without an entityRef'));
        for (const a of actors) if (!names.includes(a)) r.fail(actorsEl, `Actors EntityRef ${a} is not an entity (${names.join(', ')})`);
        if (kids(mg, 'CatalogReference').length > 0) sctx.refuse(kid(mg, 'CatalogReference'), 'a Maneuver CatalogReference', 'the catalog is not here');
        if (Number(raw(mg, 'maximumExecutionCount') ?? '1') > 1) ctx.notes.push(`${file}:${r.lineOf(mg) ?? '?'}: ManeuverGroup ${gname} maximumExecutionCount ${raw(mg, 'maximumExecutionCount')} runs once (its events repeat by their own counts)`);
        for (const m of kids(mg, 'Maneuver')) {
          const mname = raw(m, 'name') ?? r.fail(m, 'Maneuver without a name');
          const mpath = `${gpath}/${mname}`;
          elements.push({ type: 'maneuver', name: mname, path: mpath });
          const mctx = Object.assign(Object.create(Object.getPrototypeOf(ctx)) as Ctx, ctx, { res: sres.with(kid(m, 'ParameterDeclarations')) });
          for (const ev of kids(m, 'Event')) {
            const ename = raw(ev, 'name') ?? r.fail(ev, 'Event without a name');
            const epath = `${mpath}/${ename}`;
            const acts: SimAction[] = [];
            const evActions = kids(ev, 'Action');
            for (const a of evActions) {
              const an = raw(a, 'name') ?? '';
              actionNames.set(an, { event: epath, count: evActions.length });
              const pa = kid(a, 'PrivateAction');
              if (!pa) {
                const [k] = Object.keys(a).filter((x) => !x.startsWith('@_'));
                const g = kid(a, k);
                const inner = g ? Object.keys(g).filter((x) => !x.startsWith('@_'))[0] : undefined;
                mctx.refuse(inner ? kid(g, inner) : a, inner ?? k ?? 'an empty Action', SUPPORTED);
              }
              acts.push(...actions(mctx, pa!, actors, placeAny));
            }
            elements.push({ type: 'event', name: ename, path: epath, actions: evActions.length });
            const max = mctx.res.num(ev, 'maximumExecutionCount') ?? 1;
            events.push({ path: epath, name: ename, trigger: trigger(mctx, kid(ev, 'StartTrigger'), false, pending, resolveAbs) ?? always, actions: acts, maxExecutions: max });
          }
        }
      }
    }
  }
  const stopTrigger = trigger(ctx, kid(sb, 'StopTrigger'), true, pending, resolveAbs);

  // storyboardElementState refs by name -> paths; an action's state is its event's (one action per event).
  for (const { cond, node } of pending) {
    const ref = cond.ref.split('::').pop()!;
    if (cond.elementType === 'action') {
      const a = actionNames.get(ref) ?? r.fail(node, `StoryboardElementStateCondition: no action named ${cond.ref}`);
      if (a.count !== 1) ctx.refuse(node, `StoryboardElementStateCondition on action ${cond.ref} of an event with ${a.count} actions`, 'supported: an action that is its event\'s only one');
      cond.ref = a.event;
      cond.elementType = 'event';
      continue;
    }
    const el = elements.find((e) => e.type === cond.elementType && e.name === ref) ?? r.fail(node, `StoryboardElementStateCondition: no ${cond.elementType} named ${cond.ref}`);
    cond.ref = el.path;
  }

  // The road, sized by the lanes the file uses.
  const w = ctx.laneWidth;
  let lanesRight = Math.max(1, ...[...ctx.laneIds].filter((l) => l < 0).map((l) => -l));
  let lanesLeft = Math.max(1, ...[...ctx.laneIds].filter((l) => l > 0));
  if (header['paddock:lanesRight']) lanesRight = Number(header['paddock:lanesRight']);
  if (header['paddock:lanesLeft']) lanesLeft = Number(header['paddock:lanesLeft']);
  if (ctx.roadIds.size > 1) r.fail(fh, `positions on roads ${[...ctx.roadIds].join(', ')}: paddock's road is one straight road`);
  const egoRoad = ctx.centreOf(egoName, ctx.toRoad(egoStart));
  let leftEdgeY = lanesLeft * w;
  if (ctx.laneIds.size === 0) {
    // Placed by WorldPositions only: the road is laid so that the ego starts in its first driving lane's centre.
    leftEdgeY = egoRoad.y + (lanesLeft + 0.5) * w;
  }
  const lanes = lanesLeft + lanesRight;
  const egoLane = Math.min(lanes - 1, Math.max(0, Math.floor((leftEdgeY - egoRoad.y) / w)));
  // Absolute target lanes are ids until here; the storyboard wants indices (0 = leftmost).
  const laneIndex = (id: number): number => (id > 0 ? lanesLeft - id : lanesLeft - id - 1);
  for (const e of events) for (const a of e.actions) if (a.kind === 'laneChange' && 'absoluteLane' in a.target) a.target = { absoluteLane: laneIndex(a.target.absoluteLane) };
  const hasVru = [...cls.values()].some((c) => c !== 'car');
  const roadType = (header['paddock:roadType'] as SimRoad['roadType'] | undefined) ?? (hasVru ? 'urban' : (speeds.get(egoName) ?? 0) > 25 ? 'highway' : 'rural');
  if (!['urban', 'rural', 'highway'].includes(roadType)) r.fail(fh, `paddock:roadType "${roadType}" is not urban, rural or highway`);
  const limitKph = header['paddock:speedLimit'] ? Number(header['paddock:speedLimit']) : undefined;
  let setSpeed = speeds.get(egoName) ?? 0;
  if (!speeds.has(egoName)) {
    // CARLA's scenarios leave the ego's speed to the agent under test; paddock's ACC needs a set speed.
    setSpeed = limitKph !== undefined ? limitKph / 3.6 : SPEED_LIMIT[roadType];
    ctx.notes.push(`the ego ${egoName} has no Init speed: it starts standing and the ACC's set speed is the road's limit, ${(setSpeed * 3.6).toFixed(0)} km/h`);
  }
  const road: SimRoad = {
    roadType,
    lanes,
    laneWidth: w,
    leftEdgeY,
    egoLane,
    oncomingBelow: lanesLeft,
    sidewalk: hasVru || roadType === 'urban' ? 2 : 0,
    speedLimit: limitKph !== undefined ? limitKph / 3.6 : Math.max(SPEED_LIMIT[roadType], Math.ceil((setSpeed * 3.6) / 10 - 1e-9) * (10 / 3.6)),
    stopLines: header['paddock:stopLines'] ? header['paddock:stopLines'].split(',').map(Number) : [],
  };

  const poseOf = (name: string): Pose => {
    const p = ctx.placed.get(name);
    if (!p) r.fail(init ?? sb, `${name} has no TeleportAction in the Init`);
    const c = ctx.centreOf(name, ctx.toRoad(p!));
    return { x: c.x, y: c.y, heading: c.h, speed: speeds.get(name) ?? 0 };
  };
  let durationS = header['paddock:durationS'] ? Number(header['paddock:durationS']) : undefined;
  if (durationS === undefined) {
    const times = (stopTrigger?.groups ?? []).flatMap((g) => (g.length === 1 && g[0].kind === 'simulationTime' && g[0].rule !== 'lessThan' && g[0].rule !== 'lessOrEqual' ? [g[0].value + g[0].delay] : []));
    if (times.length > 0) durationS = Math.min(...times);
    else {
      durationS = DEFAULT_DURATION_S;
      ctx.notes.push(`no paddock:durationS FileHeader property and no SimulationTimeCondition in the StopTrigger: a run lasts at most ${DEFAULT_DURATION_S} s`);
    }
  }
  if (!Number.isFinite(durationS) || durationS <= 0) r.fail(fh, `paddock:durationS "${header['paddock:durationS']}" is not a positive number of seconds`);
  const name = header['paddock:name'] ?? basename(file).replace(/\.xosc$/i, '');
  return {
    name,
    file,
    sha256: createHash('sha256').update(original).digest('hex'),
    category: categoryOf(name, header['paddock:category']),
    parameters: values,
    road,
    ego: { name: egoName, size: size.get(egoName)!, init: poseOf(egoName), setSpeed },
    actors: names.filter((n) => n !== egoName).map((n) => ({ name: n, cls: cls.get(n)!, size: size.get(n)!, init: poseOf(n), visible: visible.get(n) ?? true })),
    events,
    durationS,
    ...(stopTrigger && stopTrigger.groups.length > 0 ? { stopTrigger } : {}),
    ...(environment ? { environment } : {}),
    notes: ctx.notes,
  };
}
