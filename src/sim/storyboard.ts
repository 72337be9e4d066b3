/**
 * A SimScenario's storyboard at run time: triggers evaluated every step (condition edges, delays,
 * maximum execution counts, storyboard element states), actions run with their transition
 * dynamics on every entity but the ego, which the loop's dynamics move (its state is read here,
 * never written). A SpeedAction on the ego sets the ACC's set speed.
 *
 * Acts arrive as events with a two-part path and an Act's StopTrigger as an event named `#stop`
 * (src/sim/scenario.ts). Semantics follow ASAM OpenSCENARIO 1.x: an event waits in standby until
 * its act runs and its trigger fires; it completes when its actions have; it goes back to standby
 * until it has run maximumExecutionCount times; a maneuver (group, act, story) completes when
 * everything in it has. A new action of the same kind on an entity (speed; lateral; trajectory)
 * ends the one before it. Transitions (startTransition, endTransition, stopTransition) hold in the
 * step they happen and the next, so a condition on one is seen whatever the evaluation order.
 * A trigger is evaluated only while its element waits for it (standby, parent running).
 *
 * Movement: x += v cos(h) dt; y += (v sin(h) + lateral rate) dt; `vy` is the whole y velocity
 * (src/metrics/safety.ts). A lane change moves the box sideways along its dynamics' shape and keeps
 * it aligned with the road.
 */
import { gapBetween, ttcBetween } from '../metrics/safety.js';
import type { EntityState, SimAction, SimCondition, SimDynamics, SimEvent, SimRule, SimScenario, SimTrigger } from '../schema/sim-types.js';

export interface StoryboardLogEntry {
  t: number;
  /** The event's path. */
  event: string;
  /** What started, e.g. `speed OverTaker`. */
  action: string;
}

export interface Storyboard {
  /** Evaluates triggers at time t on `world`, then moves the non-ego entities in it to t + dt. */
  step(t: number, dt: number, world: Map<string, EntityState>): void;
  /** The ACC's set speed for the ego, m/s. */
  egoSetSpeed(): number;
  /** Whether the storyboard's StopTrigger has fired. */
  stopped(): boolean;
  log: StoryboardLogEntry[];
}

type State = 'standby' | 'running' | 'complete';

interface Element {
  path: string;
  type: 'story' | 'act' | 'maneuverGroup' | 'maneuver' | 'event';
  state: State;
  start: number;
  end: number;
  stop: number;
  executions: number;
  event?: SimEvent;
  children: Element[];
  parent?: Element;
}

/** A running action. */
interface Running {
  action: SimAction;
  event: Element;
  t0: number;
  done: boolean;
  /** Start values (speed, y) and targets. */
  from: number;
  to: number;
  /** Duration of the transition, s (0: a step). */
  duration: number;
  /** For a speed action with a rate: |m/s^2|. */
  rate?: number;
}

const EPS = 1e-9;

function compare(a: number, rule: SimRule, b: number): boolean {
  switch (rule) {
    case 'greaterThan':
      return a > b;
    case 'lessThan':
      return a < b;
    case 'greaterOrEqual':
      return a >= b - EPS;
    case 'lessOrEqual':
      return a <= b + EPS;
    case 'equalTo':
      return Math.abs(a - b) < EPS;
    case 'notEqualTo':
      return Math.abs(a - b) >= EPS;
  }
}

/** Fraction of a transition done at tau in [0, 1] for a dynamics shape. */
function shapeAt(shape: SimDynamics['shape'], tau: number): number {
  const u = Math.min(1, Math.max(0, tau));
  if (shape === 'step') return 1;
  if (shape === 'linear') return u;
  if (shape === 'cubic') return u * u * (3 - 2 * u);
  return (1 - Math.cos(Math.PI * u)) / 2;
}

/** Time derivative factor of shapeAt (per unit tau). */
function shapeRate(shape: SimDynamics['shape'], tau: number): number {
  if (tau < 0 || tau > 1 || shape === 'step') return 0;
  if (shape === 'linear') return 1;
  if (shape === 'cubic') return 6 * tau * (1 - tau);
  return (Math.PI / 2) * Math.sin(Math.PI * tau);
}

/** The storyboard of a scenario (see the module's note); `log` lists each action as it starts. */
export function createStoryboard(s: SimScenario): Storyboard {
  const egoName = s.ego.name;
  const log: StoryboardLogEntry[] = [];
  const elements = new Map<string, Element>();
  const mk = (path: string, type: Element['type'], parent?: Element): Element => {
    let e = elements.get(path);
    if (!e) {
      e = { path, type, state: 'standby', start: -Infinity, end: -Infinity, stop: -Infinity, executions: 0, children: [], parent };
      elements.set(path, e);
      parent?.children.push(e);
    }
    return e;
  };
  const types: Element['type'][] = ['story', 'act', 'maneuverGroup', 'maneuver', 'event'];
  const actStops = new Map<Element, SimTrigger>();
  const initEvents: SimEvent[] = [];
  for (const ev of s.events) {
    if (ev.path === 'Init') {
      initEvents.push(ev);
      continue;
    }
    const parts = ev.path.split('/');
    if (ev.name === '#stop') {
      const act = mk(parts.slice(0, 2).join('/'), 'act', mk(parts[0], 'story'));
      actStops.set(act, ev.trigger);
      continue;
    }
    let parent: Element | undefined;
    for (let i = 1; i <= parts.length; i++) parent = mk(parts.slice(0, i).join('/'), types[i - 1], parent);
    parent!.event = ev;
  }
  const stories = [...elements.values()].filter((e) => e.type === 'story');
  const acts = [...elements.values()].filter((e) => e.type === 'act');
  const events = [...elements.values()].filter((e) => e.type === 'event');
  for (const st of stories) st.state = 'running';

  let stepIndex = 0;
  let now = 0;
  let isStopped = false;
  let setSpeed = s.ego.setSpeed;
  let egoSpeedAction: Running | undefined;
  const running: Running[] = [];
  const travelled = new Map<string, number>();
  const still = new Map<string, number>();
  const last = new Map<string, { x: number; y: number }>();
  /** Per condition: the previous value (for edges) and the history of results (for delays). */
  const condState = new Map<SimCondition, { prev: boolean; history: { t: number; v: boolean }[] }>();
  /** Lateral velocity each entity's lateral action gives it this step. */
  const lateral = new Map<string, number>();
  /** Mean speed over this step of an entity whose speed changes (so distance follows the profile), and entities a trajectory placed. */
  const meanSpeed = new Map<string, number>();
  const placed = new Set<string>();

  const entity = (world: Map<string, EntityState>, name: string): EntityState | undefined => world.get(name);

  const transitionHolds = (at: number): boolean => at === stepIndex || at === stepIndex - 1;
  const elementState = (c: SimCondition & { kind: 'storyboardElementState' }): boolean => {
    const e = elements.get(c.ref);
    if (!e) return false;
    switch (c.state) {
      case 'startTransition':
        return transitionHolds(e.start);
      case 'endTransition':
        return transitionHolds(e.end);
      case 'stopTransition':
        return transitionHolds(e.stop);
      case 'runningState':
        return e.state === 'running';
      case 'completeState':
        return e.state === 'complete';
      case 'standbyState':
        return e.state === 'standby';
      default:
        return false;
    }
  };

  const headway = (a: EntityState, b: EntityState, freespace: boolean): number => {
    const along = (b.x - a.x) * Math.cos(a.heading) + (b.y - a.y) * Math.sin(a.heading);
    const d = freespace ? Math.sign(along) * gapBetween(a, b).longitudinal : along;
    if (a.speed < 1e-6) return d > 0 ? Infinity : d < 0 ? -Infinity : 0;
    return d / a.speed;
  };
  const ttc = (a: EntityState, b: EntityState, freespace: boolean): number => {
    if (freespace) return ttcBetween(a, b) ?? Infinity;
    // Reference points (here box centres) closing along the road.
    const dx = b.x - a.x;
    const closing = (a.speed * Math.cos(a.heading) - b.speed * Math.cos(b.heading)) * Math.sign(dx);
    return closing > 1e-9 ? Math.abs(dx) / closing : Infinity;
  };

  const valueOf = (c: SimCondition, world: Map<string, EntityState>): boolean => {
    if (c.kind === 'simulationTime') return compare(now, c.rule, c.value);
    if (c.kind === 'storyboardElementState') return elementState(c);
    if (c.kind === 'parameter') {
      const p = s.parameters[c.parameter];
      if (p === undefined) return false;
      const n = Number(c.value);
      if (typeof p === 'number' && c.value.trim() !== '' && Number.isFinite(n)) return compare(p, c.rule, n);
      const eq = String(p) === c.value;
      return c.rule === 'equalTo' ? eq : c.rule === 'notEqualTo' ? !eq : false;
    }
    const test = (name: string): boolean => {
      const a = entity(world, name);
      if (!a) return false;
      switch (c.kind) {
        case 'timeHeadway': {
          const b = entity(world, c.entity);
          return b !== undefined && compare(headway(a, b, c.freespace), c.rule, c.value);
        }
        case 'timeToCollision': {
          const b = entity(world, c.entity);
          return b !== undefined && compare(ttc(a, b, c.freespace), c.rule, c.value);
        }
        case 'relativeDistance': {
          const b = entity(world, c.entity);
          if (!b) return false;
          const g = c.freespace ? gapBetween(a, b) : { longitudinal: Math.abs(b.x - a.x), lateral: Math.abs(b.y - a.y), euclid: Math.hypot(b.x - a.x, b.y - a.y) };
          const d = c.type === 'longitudinal' ? g.longitudinal : c.type === 'lateral' ? g.lateral : g.euclid;
          return compare(d, c.rule, c.value);
        }
        case 'speed':
          return compare(a.speed, c.rule, c.value);
        case 'reachPosition':
          return Math.hypot(a.x - c.x, a.y - c.y) < c.tolerance;
        case 'traveledDistance':
          return (travelled.get(name) ?? 0) >= c.value - EPS;
        case 'standStill':
          return (still.get(name) ?? 0) >= c.duration - EPS;
      }
    };
    return c.any ? c.triggering.some(test) : c.triggering.every(test);
  };

  /** A condition's value with its edge (against its previous evaluation) and delay. */
  const evaluate = (c: SimCondition, world: Map<string, EntityState>): boolean => {
    let st = condState.get(c);
    if (!st) {
      st = { prev: false, history: [] };
      condState.set(c, st);
    }
    const v = valueOf(c, world);
    const edged = c.edge === 'rising' ? v && !st.prev : c.edge === 'falling' ? !v && st.prev : c.edge === 'risingOrFalling' ? v !== st.prev : v;
    st.prev = v;
    if (c.delay <= 0) return edged;
    // OpenSCENARIO's delay: the condition's result as it was `delay` seconds ago.
    st.history.push({ t: now, v: edged });
    const at = now - c.delay + EPS;
    let out = false;
    while (st.history.length > 1 && st.history[1].t <= at) st.history.shift();
    if (st.history[0].t <= at) {
      out = st.history[0].v;
      st.history.shift();
    }
    return out;
  };
  const fires = (tr: SimTrigger, world: Map<string, EntityState>): boolean => {
    // All conditions are evaluated (no short-circuit) so their edges stay current.
    const groups = tr.groups.map((g) => g.map((c) => evaluate(c, world)).every(Boolean));
    return groups.some(Boolean);
  };

  const laneCentre = (k: number): number => s.road.leftEdgeY - (k + 0.5) * s.road.laneWidth;
  const laneOf = (y: number): number => Math.min(s.road.lanes - 1, Math.max(0, Math.floor((s.road.leftEdgeY - y) / s.road.laneWidth)));

  const targetSpeed = (a: SimAction & { kind: 'speed' }, world: Map<string, EntityState>): number => {
    if ('absolute' in a.target) return a.target.absolute;
    const ref = entity(world, a.target.relative)?.speed ?? 0;
    return a.target.valueType === 'factor' ? ref * a.target.value : ref + a.target.value;
  };

  const start = (a: SimAction, ev: Element, world: Map<string, EntityState>): void => {
    log.push({ t: now, event: ev.path, action: `${a.kind} ${a.entity}` });
    const e = entity(world, a.entity);
    if (a.entity === egoName) {
      if (a.kind === 'speed') {
        setSpeed = targetSpeed(a, world);
        egoSpeedAction = 'relative' in a.target && a.target.continuous ? { action: a, event: ev, t0: now, done: false, from: 0, to: 0, duration: 0 } : undefined;
      }
      running.push({ action: a, event: ev, t0: now, done: !egoSpeedAction, from: 0, to: 0, duration: 0 });
      return;
    }
    if (!e) {
      running.push({ action: a, event: ev, t0: now, done: true, from: 0, to: 0, duration: 0 });
      return;
    }
    const group = a.kind === 'speed' ? 'speed' : a.kind === 'followTrajectory' ? 'trajectory' : a.kind === 'teleport' ? 'teleport' : 'lateral';
    // A new action of a kind replaces the entity's running one (a trajectory replaces them all).
    for (const r of running) {
      if (r.done || r.action.entity !== a.entity) continue;
      const g = r.action.kind === 'speed' ? 'speed' : r.action.kind === 'followTrajectory' ? 'trajectory' : r.action.kind === 'teleport' ? 'teleport' : 'lateral';
      if (g === group || group === 'trajectory' || g === 'trajectory') r.done = true;
    }
    const run: Running = { action: a, event: ev, t0: now, done: false, from: 0, to: 0, duration: 0 };
    if (a.kind === 'speed') {
      run.from = e.speed;
      run.to = targetSpeed(a, world);
      const d = a.dynamics;
      if (d.shape === 'step' || d.value === 0) run.duration = 0;
      else if (d.dimension === 'time') run.duration = d.value;
      else if (d.dimension === 'distance') run.duration = (2 * Math.abs(d.value)) / Math.max(1e-6, run.from + run.to);
      else {
        run.rate = Math.abs(d.value);
        run.duration = Math.abs(run.to - run.from) / run.rate;
      }
    } else if (a.kind === 'laneChange' || a.kind === 'laneOffset') {
      run.from = e.y;
      if (a.kind === 'laneChange') {
        const lane = 'absoluteLane' in a.target ? a.target.absoluteLane : laneOf(entity(world, a.target.relative)?.y ?? e.y) - a.target.value;
        run.to = laneCentre(Math.min(s.road.lanes - 1, Math.max(0, lane))) + a.offset;
      } else run.to = laneCentre(laneOf(e.y)) + a.offset;
      const d = a.dynamics;
      const dy = Math.abs(run.to - run.from);
      if (d.shape === 'step' || d.value === 0) run.duration = 0;
      else if (d.dimension === 'time') run.duration = d.value;
      else if (d.dimension === 'distance') run.duration = d.value / Math.max(1e-6, e.speed);
      // A lane offset's rate bounds the lateral acceleration: y = dy (1 - cos(pi t/T))/2 peaks at dy pi^2 / (2 T^2).
      else run.duration = a.kind === 'laneOffset' ? Math.PI * Math.sqrt(dy / (2 * Math.abs(d.value))) : dy / Math.abs(d.value);
    }
    running.push(run);
  };

  const startEvent = (ev: Element, world: Map<string, EntityState>): void => {
    ev.state = 'running';
    ev.start = stepIndex;
    for (let p = ev.parent; p && p.state === 'standby'; p = p.parent) {
      p.state = 'running';
      p.start = stepIndex;
    }
    for (const a of ev.event?.actions ?? []) start(a, ev, world);
  };

  const completeUp = (e: Element): void => {
    for (let p = e.parent; p && p.type !== 'story'; p = p.parent) {
      if (p.state !== 'running' || !p.children.every((c) => c.state === 'complete')) break;
      p.state = 'complete';
      p.end = stepIndex;
    }
  };

  const advance = (r: Running, world: Map<string, EntityState>, dt: number): void => {
    const a = r.action;
    if (r.done || a.entity === egoName) return;
    const e = entity(world, a.entity);
    if (!e) {
      r.done = true;
      return;
    }
    const tEnd = now + dt;
    if (a.kind === 'speed') {
      if (r.duration <= 0) {
        e.speed = 'relative' in a.target && a.target.continuous ? targetSpeed(a, world) : r.to;
        e.accel = 0;
        if (!('relative' in a.target && a.target.continuous)) r.done = true;
        return;
      }
      const tau0 = (now - r.t0) / r.duration;
      const tau1 = (tEnd - r.t0) / r.duration;
      const shape = r.rate !== undefined ? 'linear' : a.dynamics.shape;
      const v0 = r.from + (r.to - r.from) * shapeAt(shape, tau0);
      const v1 = r.from + (r.to - r.from) * shapeAt(shape, tau1);
      e.accel = (v1 - v0) / dt;
      // The speed over the step is its mean, so distance follows the profile exactly for linear.
      e.speed = v1;
      meanSpeed.set(a.entity, (v0 + v1) / 2);
      if (tau1 >= 1 - EPS) {
        e.speed = r.to;
        if (!('relative' in a.target && a.target.continuous)) r.done = true;
        else r.duration = 0;
      }
      return;
    }
    if (a.kind === 'laneChange' || a.kind === 'laneOffset') {
      if (r.duration <= 0) {
        e.y = r.to;
        lateral.set(a.entity, 0);
        r.done = true;
        return;
      }
      const tau1 = (tEnd - r.t0) / r.duration;
      const y1 = r.from + (r.to - r.from) * shapeAt(a.dynamics.shape, tau1);
      lateral.set(a.entity, (y1 - e.y) / dt);
      if (tau1 >= 1 - EPS) r.done = true;
      return;
    }
    if (a.kind === 'teleport') {
      if ('relativeTo' in a.position) {
        const ref = entity(world, a.position.relativeTo);
        if (ref) {
          e.x = ref.x + a.position.dx;
          e.y = ref.y + a.position.dy;
        }
      } else {
        e.x = a.position.x;
        e.y = a.position.y;
        if (a.position.heading !== undefined) e.heading = a.position.heading;
      }
      r.done = true;
      return;
    }
    // followTrajectory: the pose at t + dt, interpolated between vertices (absolute times).
    const vs = a.vertices;
    if (vs.length === 0) {
      r.done = true;
      return;
    }
    let i = 0;
    while (i < vs.length - 2 && vs[i + 1].t <= tEnd) i++;
    const p = vs[i];
    const q = vs[Math.min(i + 1, vs.length - 1)];
    const span = q.t - p.t;
    const u = span > 0 ? Math.min(1, Math.max(0, (tEnd - p.t) / span)) : 1;
    const x = p.x + (q.x - p.x) * u;
    const y = p.y + (q.y - p.y) * u;
    const moving = tEnd > vs[0].t && tEnd <= vs[vs.length - 1].t + EPS && span > 0;
    const vx = moving ? (q.x - p.x) / span : 0;
    const vy = moving ? (q.y - p.y) / span : 0;
    const speed = Math.hypot(vx, vy);
    e.accel = (speed - e.speed) / dt;
    e.x = x;
    e.y = y;
    e.heading = p.heading !== undefined && q.heading !== undefined ? p.heading + (q.heading - p.heading) * u : speed > 0 ? Math.atan2(vy, vx) : e.heading;
    e.speed = speed;
    e.vy = vy;
    placed.add(a.entity);
    if (tEnd >= vs[vs.length - 1].t - EPS) r.done = true;
  };

  const step = (t: number, dt: number, world: Map<string, EntityState>): void => {
    now = t;
    // Entities the loop did not place yet start at their Init poses.
    for (const a of s.actors) {
      if (!world.has(a.name)) world.set(a.name, { name: a.name, cls: a.cls, x: a.init.x, y: a.init.y, heading: a.init.heading, speed: a.init.speed, accel: 0, size: a.size, vy: a.init.speed * Math.sin(a.init.heading) });
    }
    // Distance and standstill bookkeeping from the poses as they are now.
    for (const [name, e] of world) {
      const prev = last.get(name);
      if (prev) travelled.set(name, (travelled.get(name) ?? 0) + Math.hypot(e.x - prev.x, e.y - prev.y));
      last.set(name, { x: e.x, y: e.y });
      // Seconds standing (0 at the first standing step; -1 while moving).
      const before = still.get(name) ?? -1;
      still.set(name, Math.abs(e.speed) < 1e-3 ? (before >= 0 ? before + dt : 0) : -1);
    }
    if (isStopped) return;
    if (s.stopTrigger && fires(s.stopTrigger, world)) {
      isStopped = true;
      return;
    }
    if (stepIndex === 0) {
      const init = { path: 'Init', type: 'event' as const, state: 'running' as State, start: 0, end: -Infinity, stop: -Infinity, executions: 0, children: [] };
      for (const ev of initEvents) for (const a of ev.actions) start(a, init, world);
    }
    for (const act of acts) {
      if (act.state === 'standby' && act.event && fires(act.event.trigger, world)) {
        act.state = 'running';
        act.start = stepIndex;
        for (const c of act.children) {
          c.state = 'running';
          c.start = stepIndex;
          for (const m of c.children) {
            m.state = 'running';
            m.start = stepIndex;
          }
        }
      }
      const stop = actStops.get(act);
      if (stop && act.state === 'running' && fires(stop, world)) {
        act.state = 'complete';
        act.stop = stepIndex;
        const all = (e: Element): void => {
          if (e.state !== 'complete') {
            e.state = 'complete';
            e.stop = stepIndex;
          }
          for (const c of e.children) all(c);
        };
        for (const c of act.children) all(c);
        for (const r of running) if (r.event.path.startsWith(`${act.path}/`)) r.done = true;
      }
    }
    for (const ev of events) {
      const trig = ev.event!.trigger;
      const act = elements.get(ev.path.split('/').slice(0, 2).join('/'))!;
      // As esmini does: a trigger is evaluated only while it can start its event, so an edge is
      // against the previous evaluation in that time (a position reached before the act began still rises).
      if (ev.state === 'standby' && act.state === 'running' && fires(trig, world)) startEvent(ev, world);
    }
    // Continuous relative set speed for the ego.
    if (egoSpeedAction && egoSpeedAction.action.kind === 'speed') setSpeed = targetSpeed(egoSpeedAction.action, world);

    // Actions, then movement of every non-ego entity to t + dt.
    lateral.clear();
    meanSpeed.clear();
    placed.clear();
    for (const r of running) advance(r, world, dt);
    for (const a of s.actors) {
      const e = world.get(a.name)!;
      if (placed.has(a.name)) continue;
      const v = meanSpeed.get(a.name) ?? e.speed;
      const lat = lateral.get(a.name) ?? 0;
      e.x += v * Math.cos(e.heading) * dt;
      e.y += (v * Math.sin(e.heading) + lat) * dt;
      e.vy = e.speed * Math.sin(e.heading) + lat;
      if (!running.some((r) => !r.done && r.action.entity === a.name && r.action.kind === 'speed')) e.accel = 0;
    }
    // Completion: events whose actions are all done.
    for (const ev of events) {
      if (ev.state !== 'running') continue;
      const mine = running.filter((r) => r.event === ev);
      if (mine.every((r) => r.done)) {
        ev.executions += 1;
        ev.end = stepIndex;
        ev.state = ev.executions >= (ev.event?.maxExecutions ?? 1) ? 'complete' : 'standby';
        for (let i = running.length - 1; i >= 0; i--) if (running[i].event === ev) running.splice(i, 1);
        if (ev.state === 'complete') completeUp(ev);
      }
    }
    for (let i = running.length - 1; i >= 0; i--) if (running[i].done && running[i].event.path === 'Init') running.splice(i, 1);
    stepIndex += 1;
  };

  return { step, egoSetSpeed: () => setSpeed, stopped: () => isStopped, log };
}
