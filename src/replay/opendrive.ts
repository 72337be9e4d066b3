/**
 * The generated road of a scenario as ASAM OpenDRIVE 1.6: one road whose reference line is a
 * straight line or a constant-curvature arc through the ego's pose at the interval's start, long
 * enough to hold every logged trajectory, with the drive's lanes. OpenDRIVE's right-hand-traffic
 * convention puts lanes driving along the reference line on its right (negative ids) and
 * oncoming lanes on its left (positive ids), so the reference line runs between the two: that is
 * where the world's two-way roads have their centre line.
 */
import { XMLBuilder } from 'fast-xml-parser';
import type { ScenarioInterval, ScenarioRoad } from '../schema/scenario.js';

type GeneratedRoad = Extract<ScenarioRoad, { kind: 'generated' }>;

/** Where the road's reference line starts and how long it is, in 'map'. */
export interface RoadGeometry {
  x: number;
  y: number;
  hdg: number;
  length: number;
  curvature: number;
}

/** Road length beyond the outermost logged positions, each end, metres. */
export const ROAD_MARGIN = 50;

const f = (v: number, digits = 4): string => {
  const s = v.toFixed(digits);
  return s === `-${(0).toFixed(digits)}` ? (0).toFixed(digits) : s;
};

/** The generated road of an interval, or an error naming why there is none. */
function generatedRoad(interval: ScenarioInterval): GeneratedRoad {
  if (interval.road.kind !== 'generated') throw new Error(`scenario ${interval.driveId} ${interval.fromIndex}..${interval.toIndex}: the road is the OpenDRIVE file ${interval.road.filepath}; nothing to generate`);
  return interval.road;
}

/**
 * The reference line's start pose and length: it passes through the ego's position at t = 0,
 * moved left by the y of the line between oncoming and same-direction lanes, along the ego's heading.
 */
export function roadGeometry(interval: ScenarioInterval): RoadGeometry {
  const road = generatedRoad(interval);
  const e = interval.ego.trajectory[0];
  const refY = road.leftEdgeY - road.oncomingLanes * road.laneWidth;
  const c = Math.cos(e.h);
  const s = Math.sin(e.h);
  const px = e.x - s * refY;
  const py = e.y + c * refY;
  let lo = 0;
  let hi = 0;
  for (const ent of [interval.ego, ...interval.actors]) {
    for (const p of ent.trajectory) {
      const along = (p.x - px) * c + (p.y - py) * s;
      lo = Math.min(lo, along);
      hi = Math.max(hi, along);
    }
  }
  const back = ROAD_MARGIN - lo;
  const length = hi - lo + 2 * ROAD_MARGIN;
  const k = road.curvature;
  if (k === 0) return { x: px - back * c, y: py - back * s, hdg: e.h, length, curvature: 0 };
  const hs = e.h - k * back;
  return { x: px - (Math.sin(e.h) - Math.sin(hs)) / k, y: py + (Math.cos(e.h) - Math.cos(hs)) / k, hdg: hs, length, curvature: k };
}

interface LaneSpec {
  id: number;
  type: 'driving' | 'sidewalk';
  width: number;
  /** The marking on the lane's outer edge. */
  mark: 'solid' | 'broken' | 'none';
}

function lanes(road: GeneratedRoad): { left: LaneSpec[]; right: LaneSpec[] } {
  const same = road.lanes - road.oncomingLanes;
  const side = (n: number, sign: 1 | -1): LaneSpec[] => {
    const out: LaneSpec[] = [];
    for (let i = 1; i <= n; i++) out.push({ id: sign * i, type: 'driving', width: road.laneWidth, mark: i === n ? 'solid' : 'broken' });
    if (road.sidewalk > 0) out.push({ id: sign * (n + 1), type: 'sidewalk', width: road.sidewalk, mark: 'none' });
    return out;
  };
  return { left: side(road.oncomingLanes, 1).reverse(), right: side(same, -1) };
}

function laneNode(l: LaneSpec): Record<string, unknown> {
  return {
    '@_id': String(l.id),
    '@_type': l.type,
    '@_level': 'false',
    link: '',
    width: { '@_sOffset': '0', '@_a': f(l.width), '@_b': '0', '@_c': '0', '@_d': '0' },
    roadMark: { '@_sOffset': '0', '@_type': l.mark, '@_weight': 'standard', '@_color': 'standard', '@_width': l.mark === 'none' ? '0' : '0.12' },
  };
}

/** The interval's generated road as an OpenDRIVE 1.6 document. */
export function toOpenDrive(interval: ScenarioInterval, opts: { name?: string } = {}): string {
  const road = generatedRoad(interval);
  const g = roadGeometry(interval);
  const { left, right } = lanes(road);
  const date = new Date(Number(BigInt(interval.startNs) / 1_000_000n)).toISOString().replace(/\.\d+Z$/, '');
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    OpenDRIVE: {
      header: {
        '@_revMajor': '1',
        '@_revMinor': '6',
        '@_name': opts.name ?? `${interval.driveId} frames ${interval.fromIndex}-${interval.toIndex}`,
        '@_version': '1.00',
        '@_date': date,
        '@_north': '0',
        '@_south': '0',
        '@_east': '0',
        '@_west': '0',
        '@_vendor': 'paddock',
      },
      road: {
        '@_name': 'road_1',
        '@_length': f(g.length),
        '@_id': '1',
        '@_junction': '-1',
        '@_rule': 'RHT',
        link: '',
        type: { '@_s': '0', '@_type': road.roadType },
        planView: {
          geometry: {
            '@_s': '0',
            '@_x': f(g.x),
            '@_y': f(g.y),
            '@_hdg': f(g.hdg, 8),
            '@_length': f(g.length),
            ...(g.curvature === 0 ? { line: '' } : { arc: { '@_curvature': String(g.curvature) } }),
          },
        },
        elevationProfile: { elevation: { '@_s': '0', '@_a': '0', '@_b': '0', '@_c': '0', '@_d': '0' } },
        lateralProfile: '',
        lanes: {
          laneSection: {
            '@_s': '0',
            ...(left.length > 0 ? { left: { lane: left.map(laneNode) } } : {}),
            center: { lane: { '@_id': '0', '@_type': 'none', '@_level': 'false', roadMark: { '@_sOffset': '0', '@_type': 'solid', '@_weight': 'standard', '@_color': road.oncomingLanes > 0 ? 'yellow' : 'standard', '@_width': '0.12' } } },
            right: { lane: right.map(laneNode) },
          },
        },
      },
    },
  };
  return new XMLBuilder({ ignoreAttributes: false, format: true, indentBy: '  ', suppressEmptyNode: true, suppressBooleanAttributes: false }).build(doc);
}
