/**
 * The shapes open-loop replay passes between its parts: a drive bundle's frames as read from
 * MCAP (src/replay/bundle.ts), the detector's and the tracker's output per frame
 * (src/replay/tracker.ts), and the per-frame tracking input of src/metrics/tracking.ts. Boxes are
 * image pixels, top-left corner and size (MOTChallenge's xywh), so the tracking metrics read them
 * as TrackEval does.
 */

/** [x, y, w, h] in pixels: top-left corner and size. */
export type BoxXYWH = [number, number, number, number];

/** Camera intrinsics as foxglove.CameraCalibration carries them (row-major K, R, P; plumb_bob D). */
export interface CameraCalibration {
  frameId: string;
  width: number;
  height: number;
  /** 'plumb_bob' (k1, k2, t1, t2, k3) or 'rational_polynomial'. */
  distortionModel: string;
  D: number[];
  /** 3x3 intrinsic matrix, row-major. */
  K: number[];
  /** 3x3 rectification, row-major. */
  R: number[];
  /** 3x4 projection, row-major. */
  P: number[];
}

/**
 * Frames follow ROS REP-103, as foxglove's and OpenSCENARIO's do: x forward, y left, z up,
 * metres, yaw about z counter-clockwise. The ego frame ('base_link') sits on the road under the
 * camera; the drive's world frame ('map') is where the ego started, x along the road.
 */

/** The camera's mounting on the ego (base_link to the camera's optical frame). */
export interface CameraExtrinsics {
  parentFrameId: string;
  childFrameId: string;
  translation: [number, number, number];
  /** Quaternion x, y, z, w. */
  rotation: [number, number, number, number];
}

/** The ego's pose in the drive's world frame ('map') at a capture time. */
export interface EgoPose {
  timeNs: bigint;
  position: [number, number, number];
  /** Quaternion x, y, z, w. */
  orientation: [number, number, number, number];
  /** Forward speed, m/s. */
  speed: number;
}

/** One ground-truth object at a frame. */
export interface GtObject {
  trackId: number;
  /** car | pedestrian | cyclist (the world's classes), or a bundle's own label. */
  cls: string;
  /** The object's full extent clipped to the image. */
  box: BoxXYWH;
  /** 1 - the fraction of its in-image pixels hidden by nearer objects. */
  visibility: number;
  /** Too small, too hidden or too far to count (COCO iscrowd in the world's datasets). */
  hard: boolean;
  /** Centre in the ego frame (REP-103: x forward, y left, z up), metres. */
  position: [number, number, number];
  /** Length (along x), width (along y), height, metres. */
  size: [number, number, number];
  /** Heading about z in the ego frame, radians (0 = the ego's forward axis). */
  yaw: number;
  /** Velocity relative to the ground, expressed in the ego frame, m/s. */
  velocity: [number, number, number];
}

/** One camera frame of a drive: the compressed image with its capture time, and the ground truth then. */
export interface BundleFrame {
  /** 0-based index in capture-time order. */
  index: number;
  /** Capture time (the message's header stamp), ns since the epoch. */
  captureNs: bigint;
  /** 'png' or 'jpeg' (foxglove.CompressedImage's format). */
  format: string;
  data: Uint8Array;
  /** Ground truth at this capture time (empty when the bundle has none for it). */
  gt: GtObject[];
  ego?: EgoPose;
}

/** What a bundle says about its drive besides the frames. */
export interface BundleInfo {
  driveId: string;
  /** Recording conditions (weather, time of day, road type, region, city) where the bundle names them. */
  conditions: Record<string, string>;
  calibration: CameraCalibration;
  extrinsics?: CameraExtrinsics;
  /** Nominal camera rate, Hz (from the metadata, else from the capture times). */
  rateHz: number;
  /** The seed the drive was generated from (the world's drives), where the bundle names one. */
  seed?: number;
  /** The road's layout where the bundle records it (the world's do): lanes of `laneWidth`, the left edge's y in base_link at the first frame, how many lanes from the left carry oncoming traffic, sidewalk width. */
  road?: RoadLayout;
  frames: number;
  /** sha256 of the bundle file. */
  sha256: string;
}

/** A detector's box at a frame. */
export interface Detection {
  box: BoxXYWH;
  score: number;
  cls: string;
}

/** A tracker's output box at a frame. */
export interface TrackBox {
  id: number;
  box: BoxXYWH;
  cls: string;
  score: number;
  /** Passed the recipe's confirmation rule (only confirmed tracks are reported as tracker output). */
  confirmed: boolean;
  /** Frames since the last detection matched it (0: updated this frame; > 0: coasting on the prediction). */
  sinceUpdate: number;
}

/** A straight road's cross-section, in the ego frame (REP-103) at a drive's first frame. */
export interface RoadLayout {
  lanes: number;
  laneWidth: number;
  leftEdgeY: number;
  oncomingLanes: number;
  sidewalk: number;
}
