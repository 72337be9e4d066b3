/**
 * The condition vocabulary that manifests, slices and the built-in world share: weather, time of
 * day, road type, region and object class. Declared here, at the bottom, so that the manifest
 * schema and the world's renderer read the same lists.
 */

export const WEATHERS = ['clear', 'rain', 'fog', 'snow'] as const;
export const TIMES_OF_DAY = ['day', 'dusk', 'night'] as const;
export const ROAD_TYPES = ['highway', 'urban', 'rural'] as const;
export const REGIONS = ['north', 'south', 'east'] as const;
export const CLASSES = ['car', 'pedestrian', 'cyclist'] as const;
