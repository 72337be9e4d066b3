/**
 * The simulator's world as the camera sees it: a step's world-frame entities (src/schema/sim-types.ts:
 * x forward along the road, y left) turned into the renderer's SceneState (src/world/scene.ts:
 * the ego frame, x right, z forward), so `renderFrame` draws the ego's camera view.
 *
 * The camera sits on the ego's front face, on its centre line, looking along its heading: a
 * range measured in the image is then the planner's range (ego front to the object's near face).
 *
 * What does not change per run is made once and cached (the "assets that do not change
 * per run"): the roadside props and the background traffic follow from the road, the region,
 * the density and the seed only. Background traffic (parked cars, oncoming cars, people walking
 * on the sidewalk) moves at constant velocity, so its state at any time is a pure function of
 * those and t: a clip re-renders the same frames from the trace alone (sceneForStep). It is drawn,
 * so the detector sees it, but stays out of the ego's lane and out of the trace's actors.
 */
import { Rng, hashSeed } from '../world/detmath.js';
import { PALETTES, SIZES, type Actor, type ObjectClass, type ObjectTruth, type Road, type SceneState } from '../world/scene.js';
import type { EntityState, SimConditions, SimRoad, TraceStep } from '../schema/sim-types.js';

/** Roadside props repeat with this period along the road (metres), as src/world/drive.ts's do. */
const PROP_PERIOD = 150;
/** How far ahead of the camera props and background traffic are drawn, metres. */
const VIEW_AHEAD = 160;
/** Track ids of background traffic start here; scenario actors are 1..n in the trace's order. */
export const BACKGROUND_TRACK_BASE = 1000;

type Prop = SceneState['props'][number];

/** Background traffic: constant velocity along the road from (x0, y) at t = 0. */
interface BackgroundAgent {
  cls: ObjectClass;
  x0: number;
  y: number;
  vx: number;
  w: number;
  h: number;
  l: number;
  color: Actor['color'];
  accent: Actor['accent'];
  oncoming: boolean;
}

interface StaticAssets {
  /** Props at world x in [0, PROP_PERIOD), world y. */
  props: { kind: Prop['kind']; x: number; y: number; w: number; h: number; color: Prop['color'] }[];
  background: BackgroundAgent[];
}

// A small cache: a shard runs a handful of scenario x seed combinations; clips re-render one run.
const CACHE_LIMIT = 64;
const assetCache = new Map<string, StaticAssets>();

const assetKey = (road: SimRoad, c: SimConditions, seed: number) =>
  [road.roadType, road.lanes, road.laneWidth, road.leftEdgeY, road.oncomingBelow, road.sidewalk, c.region, c.density, seed].join('|');

/** The props and background traffic of a road, region, density and seed (cached). */
export function staticAssets(road: SimRoad, conditions: SimConditions, seed: number): StaticAssets {
  const key = assetKey(road, conditions, seed);
  const hit = assetCache.get(key);
  if (hit) return hit;
  const assets = makeAssets(road, conditions, seed);
  if (assetCache.size >= CACHE_LIMIT) assetCache.delete(assetCache.keys().next().value as string);
  assetCache.set(key, assets);
  return assets;
}

/** How many times the assets were built (for the bench and the caching test). */
export function staticAssetsCached(): number {
  return assetCache.size;
}

function makeAssets(road: SimRoad, c: SimConditions, seed: number): StaticAssets {
  const rng = new Rng(hashSeed(seed, 'sim-assets', road.roadType, c.region));
  const pal = PALETTES[c.region];
  const leftY = road.leftEdgeY;
  const rightY = road.leftEdgeY - road.lanes * road.laneWidth;
  const props: StaticAssets['props'] = [];
  // As src/world/drive.ts makes them, with "side" meaning left (+y) or right (-y) of the road.
  for (let x = 0; x < PROP_PERIOD; x += rng.uniform(8, 16)) {
    for (const side of [1, -1] as const) {
      const edge = side > 0 ? leftY : rightY;
      if (road.roadType === 'urban') {
        const w = rng.uniform(6, 14);
        props.push({ kind: 'building', x, y: edge + side * (road.sidewalk + 1.5 + w / 2), w, h: rng.uniform(6, 16), color: rng.pick(pal.buildings) });
        if (rng.next() < 0.35) props.push({ kind: 'lamp', x: x + 3, y: edge + side * 0.6, w: 0.18, h: 5, color: [0.3, 0.3, 0.3] });
      } else if (road.roadType === 'rural') {
        if (rng.next() < 0.6) props.push({ kind: 'tree', x, y: edge + side * rng.uniform(3, 9), w: rng.uniform(2.5, 4.5), h: rng.uniform(5, 9), color: [0.15, 0.32 + rng.next() * 0.1, 0.14] });
      } else {
        props.push({ kind: 'post', x, y: edge + side * 0.9, w: 0.15, h: 1.0, color: [0.75, 0.75, 0.72] });
      }
    }
  }

  // Background traffic over a stretch long enough for an NCAP run (<= 8 s at <= 80 km/h, ~180 m)
  // plus the view ahead: `density` agents per 100 m, none in a lane the ego drives with the flow.
  const background: BackgroundAgent[] = [];
  const stretch = 400;
  const count = Math.round((c.density * stretch) / 100);
  const bg = new Rng(hashSeed(seed, 'sim-background', c.density));
  for (let k = 0; k < count; k++) {
    const x0 = bg.uniform(-40, stretch - 40);
    const roll = bg.next();
    const oncomingLanes = road.oncomingBelow;
    let cls: ObjectClass;
    let y: number;
    let vx = 0;
    let oncoming = false;
    if (roll < 0.35 && oncomingLanes > 0) {
      cls = 'car';
      const lane = bg.int(0, oncomingLanes - 1);
      y = leftY - (lane + 0.5) * road.laneWidth;
      vx = -bg.uniform(8, 16);
      oncoming = true;
    } else if (roll < 0.7 || road.sidewalk === 0) {
      // Parked just beyond the right edge (on the shoulder or the kerb).
      cls = 'car';
      y = rightY - bg.uniform(1.2, 1.8);
      vx = 0;
    } else {
      cls = 'pedestrian';
      const left = bg.next() < 0.5;
      y = left ? leftY + bg.uniform(0.5, road.sidewalk - 0.3) : rightY - bg.uniform(0.5, road.sidewalk - 0.3);
      vx = bg.uniform(-1.4, 1.4);
    }
    const size = SIZES[cls];
    background.push({
      cls,
      x0,
      y,
      vx,
      w: bg.uniform(...size.w),
      h: bg.uniform(...size.h),
      l: bg.uniform(...size.l),
      color: bg.pick(cls === 'car' ? pal.paints : pal.clothes),
      accent: bg.pick(pal.clothes),
      oncoming,
    });
  }
  return { props, background };
}

/** An entity's paint and accent: a pure function of the seed, its name and the region. */
function colorsOf(e: EntityState, seed: number, region: SimConditions['region']): [Actor['color'], Actor['accent']] {
  const rng = new Rng(hashSeed(seed, 'sim-paint', e.name));
  const pal = PALETTES[region];
  return [rng.pick(e.cls === 'car' ? pal.paints : pal.clothes), rng.pick(pal.clothes)];
}

/**
 * The scene the loop rendered at a step: the same SceneState (same bytes) from the road, the
 * run's conditions and seed, the step's ego and actors and its index. `hidden` names entities
 * the scenario declared invisible to sensors (not drawn).
 */
export function sceneForStep(
  road: SimRoad,
  conditions: SimConditions,
  seed: number,
  step: Pick<TraceStep, 't' | 'ego' | 'actors'>,
  stepIndex: number,
  hidden?: ReadonlySet<string>,
): SceneState {
  const { ego } = step;
  const cos = Math.cos(ego.heading);
  const sin = Math.sin(ego.heading);
  // The camera on the ego's front face.
  const camX = ego.x + (ego.size[0] / 2) * cos;
  const camY = ego.y + (ego.size[0] / 2) * sin;
  /** World (x, y) to the ego frame (x right, z forward). */
  const toEgo = (x: number, y: number): [number, number] => {
    const dx = x - camX;
    const dy = y - camY;
    return [-(-dx * sin + dy * cos), dx * cos + dy * sin];
  };
  const toEgoVel = (vx: number, vy: number): [number, number] => [-(-vx * sin + vy * cos), vx * cos + vy * sin];

  const actors: Actor[] = [];
  step.actors.forEach((a, i) => {
    if (hidden?.has(a.name)) return;
    const [x, z] = toEgo(a.x, a.y);
    // src/metrics/safety.ts's convention: vy is the whole world-frame y velocity.
    const [vx, vz] = toEgoVel(a.speed * Math.cos(a.heading), a.vy);
    // The renderer's boxes are aligned with the camera: an entity turned across the road (a
    // crossing pedestrian) shows its length across the image.
    const rel = a.heading - ego.heading;
    const across = Math.abs(Math.sin(rel)) > Math.abs(Math.cos(rel));
    const [len, wid, hgt] = a.size;
    const [color, accent] = colorsOf(a, seed, conditions.region);
    actors.push({
      trackId: i + 1,
      cls: a.cls,
      x,
      z,
      w: across ? len : wid,
      h: hgt,
      l: across ? wid : len,
      vx,
      vz,
      color,
      accent,
      oncoming: Math.cos(rel) < 0,
    });
  });

  const assets = staticAssets(road, conditions, seed);
  assets.background.forEach((b, k) => {
    const bx = b.x0 + b.vx * step.t;
    const [x, z] = toEgo(bx, b.y);
    if (z - b.l / 2 < 0.5 || z > VIEW_AHEAD) return;
    const [vx, vz] = toEgoVel(b.vx, 0);
    actors.push({ trackId: BACKGROUND_TRACK_BASE + k, cls: b.cls, x, z, w: b.w, h: b.h, l: b.l, vx, vz, color: b.color, accent: b.accent, oncoming: b.oncoming });
  });

  // Props tile along the road so that they stay world-fixed while the ego drives on.
  const props: SceneState['props'] = [];
  const first = Math.floor((camX - PROP_PERIOD) / PROP_PERIOD);
  for (let k = first; k <= first + 2 + Math.ceil(VIEW_AHEAD / PROP_PERIOD); k++) {
    for (const p of assets.props) {
      const [x, z] = toEgo(p.x + k * PROP_PERIOD, p.y);
      if (z < 1 || z > VIEW_AHEAD) continue;
      props.push({ kind: p.kind, x, z, w: p.w, h: p.h, color: p.color });
    }
  }

  // The road as the ego sees it (the renderer draws it straight ahead; the ego's small heading
  // during a lane change is not drawn as a turned road).
  const laneFromLeft = Math.floor((road.leftEdgeY - ego.y) / road.laneWidth);
  const sceneRoad: Road = {
    lanes: road.lanes,
    laneWidth: road.laneWidth,
    leftEdge: ego.y - road.leftEdgeY,
    egoLane: Math.min(road.lanes - 1, Math.max(0, laneFromLeft)),
    sidewalk: road.sidewalk,
    oncomingBelow: road.oncomingBelow,
  };
  return {
    conditions: { weather: conditions.weather, timeOfDay: conditions.timeOfDay, roadType: road.roadType, region: conditions.region },
    road: sceneRoad,
    egoOdometer: ego.x,
    egoSpeed: ego.speed,
    actors,
    props,
    noiseSeed: hashSeed(seed, stepIndex, 'sim-noise'),
  };
}

/** The name of the entity behind a rendered object's ground truth (null: background traffic). */
export function truthEntity(o: Pick<ObjectTruth, 'trackId'>, actors: readonly Pick<EntityState, 'name'>[]): string | null {
  return o.trackId >= 1 && o.trackId <= actors.length && o.trackId < BACKGROUND_TRACK_BASE ? actors[o.trackId - 1].name : null;
}
