/**
 * The built-in world's vocabulary: conditions, regions, the camera, actors and their sizes.
 *
 * Coordinates are the ego frame in metres: x to the right, y up (ground at 0), z forward. The
 * camera is a pinhole at height CAMERA.mountHeight looking along +z with no pitch.
 */

import { CLASSES, REGIONS, ROAD_TYPES, TIMES_OF_DAY, WEATHERS } from '../schema/conditions.js';

export { CLASSES, REGIONS, ROAD_TYPES, TIMES_OF_DAY, WEATHERS };

export type Weather = (typeof WEATHERS)[number];
export type TimeOfDay = (typeof TIMES_OF_DAY)[number];
export type RoadType = (typeof ROAD_TYPES)[number];
export type Region = (typeof REGIONS)[number];
export type ObjectClass = (typeof CLASSES)[number];

export interface Conditions {
  weather: Weather;
  timeOfDay: TimeOfDay;
  roadType: RoadType;
  region: Region;
}

/**
 * 320x192: a 5:3 forward view. Small enough that the renderer makes a frame in a few
 * milliseconds and the CPU detector runs at a few ms per frame on two cores (bench/world.ts),
 * large enough that a pedestrian at 30 m is ~12 px tall. A CenterNet at stride 4 sees 80x48.
 */
export const CAMERA = {
  width: 320,
  height: 192,
  fx: 200,
  fy: 200,
  cx: 160,
  cy: 78,
  /** Mounting height above the road, metres. */
  mountHeight: 1.5,
} as const;

/** Physical sizes in metres (width across, height, length along z), with variation. */
export const SIZES: Record<ObjectClass, { w: [number, number]; h: [number, number]; l: [number, number] }> = {
  car: { w: [1.7, 2.0], h: [1.4, 1.7], l: [4.0, 4.8] },
  pedestrian: { w: [0.45, 0.6], h: [1.55, 1.9], l: [0.3, 0.45] },
  cyclist: { w: [0.55, 0.7], h: [1.6, 1.85], l: [1.6, 1.85] },
};

export const CATEGORY_IDS: Record<ObjectClass, number> = { car: 1, pedestrian: 2, cyclist: 3 };

export type RGB = [number, number, number];

/** Region palettes: asphalt, markings, roadside, sky tint, building colours, car paints. */
export interface Palette {
  asphalt: RGB;
  marking: RGB;
  centerLine: RGB;
  roadside: RGB;
  sidewalk: RGB;
  sky: RGB;
  buildings: RGB[];
  paints: RGB[];
  clothes: RGB[];
  /** Lane markings: dashed lane lines, and the centre line's style. */
  dash: { on: number; off: number };
  doubleCenter: boolean;
}

export const PALETTES: Record<Region, Palette> = {
  north: {
    asphalt: [0.36, 0.37, 0.39],
    marking: [0.92, 0.92, 0.9],
    centerLine: [0.92, 0.92, 0.9],
    roadside: [0.22, 0.42, 0.2],
    sidewalk: [0.6, 0.6, 0.58],
    sky: [0.55, 0.7, 0.9],
    buildings: [[0.55, 0.5, 0.45], [0.7, 0.68, 0.62], [0.4, 0.42, 0.48], [0.62, 0.35, 0.3]],
    paints: [[0.85, 0.85, 0.86], [0.1, 0.1, 0.12], [0.55, 0.57, 0.6], [0.15, 0.25, 0.55], [0.6, 0.08, 0.08]],
    clothes: [[0.1, 0.12, 0.3], [0.2, 0.2, 0.2], [0.6, 0.55, 0.4], [0.7, 0.2, 0.2], [0.15, 0.4, 0.2]],
    dash: { on: 3, off: 6 },
    doubleCenter: false,
  },
  south: {
    asphalt: [0.45, 0.42, 0.38],
    marking: [0.95, 0.93, 0.85],
    centerLine: [0.95, 0.78, 0.15],
    roadside: [0.58, 0.5, 0.32],
    sidewalk: [0.75, 0.7, 0.6],
    sky: [0.6, 0.75, 0.95],
    buildings: [[0.9, 0.85, 0.7], [0.85, 0.6, 0.45], [0.95, 0.95, 0.9], [0.7, 0.55, 0.4]],
    paints: [[0.95, 0.95, 0.95], [0.8, 0.75, 0.55], [0.2, 0.5, 0.7], [0.85, 0.4, 0.1], [0.3, 0.3, 0.32]],
    clothes: [[0.9, 0.85, 0.75], [0.2, 0.45, 0.75], [0.85, 0.3, 0.2], [0.3, 0.3, 0.3], [0.95, 0.8, 0.2]],
    dash: { on: 4, off: 8 },
    doubleCenter: false,
  },
  east: {
    asphalt: [0.25, 0.25, 0.27],
    marking: [0.88, 0.88, 0.88],
    centerLine: [0.88, 0.88, 0.88],
    roadside: [0.42, 0.3, 0.24],
    sidewalk: [0.5, 0.48, 0.5],
    sky: [0.62, 0.66, 0.72],
    buildings: [[0.35, 0.35, 0.38], [0.55, 0.5, 0.52], [0.3, 0.28, 0.25], [0.6, 0.62, 0.65]],
    paints: [[0.7, 0.7, 0.72], [0.05, 0.05, 0.06], [0.35, 0.1, 0.1], [0.25, 0.35, 0.3], [0.85, 0.85, 0.8]],
    clothes: [[0.05, 0.05, 0.08], [0.35, 0.35, 0.4], [0.5, 0.1, 0.15], [0.6, 0.6, 0.65], [0.25, 0.2, 0.15]],
    dash: { on: 2, off: 4 },
    doubleCenter: true,
  },
};

export interface Road {
  lanes: number;
  laneWidth: number;
  /** x of the road's left edge in the ego frame (the ego drives in lane `egoLane`). */
  leftEdge: number;
  egoLane: number;
  sidewalk: number;
  /** Lanes left of this index carry oncoming traffic (urban and rural two-way roads). */
  oncomingBelow: number;
}

/** One actor of a frame, in the ego frame. */
export interface Actor {
  trackId: number;
  cls: ObjectClass;
  /** Centre of the box footprint: x right, z forward (metres); y is 0 (on the road). */
  x: number;
  z: number;
  w: number;
  h: number;
  l: number;
  /** Velocity relative to the ground, m/s. */
  vx: number;
  vz: number;
  color: RGB;
  accent: RGB;
  /** Faces the camera (oncoming): headlights, not tail lights. */
  oncoming: boolean;
}

export interface SceneState {
  conditions: Conditions;
  road: Road;
  /** Distance the ego has driven, metres (scrolls the road texture and markings). */
  egoOdometer: number;
  egoSpeed: number;
  actors: Actor[];
  /** Roadside props (buildings, trees, posts) at fixed world positions, relative z. */
  props: { kind: 'building' | 'tree' | 'post' | 'lamp'; x: number; z: number; w: number; h: number; color: RGB }[];
  /** Seed of the per-frame pixel noise. */
  noiseSeed: number;
}

/** Ground truth of one object in a rendered frame. */
export interface ObjectTruth {
  trackId: number;
  cls: ObjectClass;
  /** COCO [x, y, w, h] of the object's full extent, clipped to the image. */
  bbox: [number, number, number, number];
  /** Visible pixels (what COCO calls area). */
  area: number;
  /** Fraction of the object's in-image pixels hidden by nearer objects. */
  occlusion: number;
  /** Fraction of the object's projected box outside the image. */
  truncation: number;
  /** Too small, hidden or faint to expect a detection: COCO iscrowd (ignored in evaluation). */
  hard: boolean;
  position: [number, number, number];
  velocity: [number, number, number];
  distance: number;
}
