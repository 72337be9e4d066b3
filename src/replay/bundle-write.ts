/**
 * Writes a drive as an MCAP log bundle (docs/replay.md, "Log bundles"): chunked and indexed, one
 * channel per topic, foxglove's standard schemas in protobuf (src/replay/bundle-schemas.ts), log
 * time = publish time = each frame's capture time. The bytes follow from the input alone (no wall
 * clock, no host name), so the world's drives are byte-deterministic.
 *
 * Chunks are zstd-compressed through node:zlib where the Node has it (24 does; no wasm, no
 * download), else written uncompressed; both are what the MCAP spec names and every reader
 * (Foxglove, the mcap CLI, @mcap/core with a zstd handler) reads.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as zlib from 'node:zlib';
import { McapWriter, type IWritable } from '@mcap/core';
import { FileHandleWritable } from '@mcap/nodejs';
import { bundleSchema, type BundleSchemaName } from './bundle-schemas.js';
import type { BundleFrame, BundleInfo, GtObject } from './types.js';

/** Topic names of a bundle; readers take the same names (src/replay/bundle-read.ts). */
export interface BundleTopics {
  image: string;
  calibration: string;
  tf: string;
  ego: string;
  gt: string;
}

export const DEFAULT_TOPICS: BundleTopics = {
  image: '/camera/front/image/compressed',
  calibration: '/camera/front/calibration',
  tf: '/tf',
  ego: '/ego/odometry',
  gt: '/gt/objects',
};

/** The MCAP Metadata record naming the drive. */
export const DRIVE_METADATA = 'paddock.drive';

/** What the writer needs besides the frames: BundleInfo less what only the file knows. */
export type BundleHeader = Omit<BundleInfo, 'frames' | 'sha256'>;

export interface WriteBundleOptions {
  topics?: Partial<BundleTopics>;
  /** Bytes of messages per chunk before it is closed (default 4 MiB: a few seconds of camera). */
  chunkSize?: number;
  /** 'zstd' (default where node:zlib has it) or 'none'. */
  compression?: 'zstd' | 'none';
}

export interface WrittenBundle {
  file: string;
  sha256: string;
  bytes: number;
  frames: number;
  /** First and last capture time, ns. */
  startNs: bigint;
  endNs: bigint;
}

/** Whether this Node compresses zstd itself (node:zlib, 22.15+ and 23.8+). */
export function zstdAvailable(): boolean {
  return typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
}

/** A Time message field from ns since the epoch (protobuf google.protobuf.Timestamp). */
function stamp(ns: bigint): { seconds: number; nanos: number } {
  return { seconds: Number(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) };
}

/** Quaternion of a rotation by `yaw` about z. */
export function yawQuaternion(yaw: number): { x: number; y: number; z: number; w: number } {
  return { x: 0, y: 0, z: Math.sin(yaw / 2), w: Math.cos(yaw / 2) };
}

const CLASS_COLORS: Record<string, { r: number; g: number; b: number; a: number }> = {
  car: { r: 0.2, g: 0.6, b: 1, a: 0.5 },
  pedestrian: { r: 1, g: 0.4, b: 0.2, a: 0.5 },
  cyclist: { r: 0.3, g: 0.9, b: 0.3, a: 0.5 },
};

/** The SceneEntity of one ground-truth object: a cube in base_link, its 2D truth in metadata. */
function gtEntity(o: GtObject, ns: bigint): Record<string, unknown> {
  return {
    timestamp: stamp(ns),
    frame_id: 'base_link',
    id: String(o.trackId),
    frame_locked: false,
    metadata: [
      { key: 'class', value: o.cls },
      { key: 'box', value: JSON.stringify(o.box) },
      { key: 'visibility', value: JSON.stringify(o.visibility) },
      { key: 'hard', value: String(o.hard) },
      { key: 'velocity', value: JSON.stringify(o.velocity) },
    ],
    cubes: [
      {
        pose: { position: { x: o.position[0], y: o.position[1], z: o.position[2] }, orientation: yawQuaternion(o.yaw) },
        size: { x: o.size[0], y: o.size[1], z: o.size[2] },
        color: CLASS_COLORS[o.cls] ?? { r: 0.8, g: 0.8, b: 0.8, a: 0.5 },
      },
    ],
  };
}

/** An IWritable that hashes what it passes on, so the digest costs no second read. */
class HashingWritable implements IWritable {
  readonly hash = createHash('sha256');
  constructor(private readonly inner: IWritable) {}
  async write(buffer: Uint8Array): Promise<void> {
    this.hash.update(buffer);
    await this.inner.write(buffer);
  }
  position(): bigint {
    return this.inner.position();
  }
}

/**
 * A streaming bundle writer: `open`, `add` each frame in capture order, `close`. The file is
 * written under a temporary name and renamed on close, so a killed writer leaves no half bundle.
 */
export class DriveBundleWriter {
  private writer!: McapWriter;
  private handle!: FileHandle;
  private out!: HashingWritable;
  private readonly tmp: string;
  private readonly topics: BundleTopics;
  private readonly channels = new Map<keyof BundleTopics, { id: number; schema: BundleSchemaName; seq: number }>();
  private frames = 0;
  private lastNs: bigint | undefined;
  private startNs = 0n;

  private constructor(
    readonly file: string,
    private readonly header: BundleHeader,
    private readonly opts: WriteBundleOptions,
  ) {
    this.tmp = `${file}.tmp-${process.pid}`;
    this.topics = { ...DEFAULT_TOPICS, ...opts.topics };
  }

  static async open(file: string, header: BundleHeader, opts: WriteBundleOptions = {}): Promise<DriveBundleWriter> {
    const w = new DriveBundleWriter(file, header, opts);
    await w.start();
    return w;
  }

  private async start(): Promise<void> {
    mkdirSync(dirname(this.file), { recursive: true });
    this.handle = await open(this.tmp, 'w');
    this.out = new HashingWritable(new FileHandleWritable(this.handle));
    const compression = this.opts.compression ?? (zstdAvailable() ? 'zstd' : 'none');
    if (compression === 'zstd' && !zstdAvailable()) throw new Error(`writing ${this.file}: zstd chunk compression needs Node 22.15 or later (this is ${process.version})`);
    this.writer = new McapWriter({
      writable: this.out,
      chunkSize: this.opts.chunkSize ?? 4 << 20,
      compressChunk:
        compression === 'zstd'
          ? (data) => ({ compression: 'zstd', compressedData: (zlib as unknown as { zstdCompressSync(b: Uint8Array): Buffer }).zstdCompressSync(data) })
          : undefined,
    });
    await this.writer.start({ profile: '', library: 'paddock' });
    const roles: [keyof BundleTopics, BundleSchemaName][] = [
      ['image', 'CompressedImage'],
      ['calibration', 'CameraCalibration'],
      ['tf', 'FrameTransform'],
      ['ego', 'Odometry'],
      ['gt', 'SceneUpdate'],
    ];
    for (const [role, schemaName] of roles) {
      const s = bundleSchema(schemaName);
      const schemaId = await this.writer.registerSchema({ name: s.name, encoding: 'protobuf', data: s.data });
      const id = await this.writer.registerChannel({ topic: this.topics[role], schemaId, messageEncoding: 'protobuf', metadata: new Map() });
      this.channels.set(role, { id, schema: schemaName, seq: 0 });
    }
    const h = this.header;
    const meta = new Map<string, string>([
      ['drive_id', h.driveId],
      ['rate_hz', String(h.rateHz)],
    ]);
    if (h.seed !== undefined) meta.set('seed', String(h.seed));
    for (const k of Object.keys(h.conditions).sort()) meta.set(`condition.${k}`, h.conditions[k]);
    if (h.road) {
      meta.set('road.lanes', String(h.road.lanes));
      meta.set('road.lane_width', String(h.road.laneWidth));
      meta.set('road.left_edge_y', String(h.road.leftEdgeY));
      meta.set('road.oncoming_lanes', String(h.road.oncomingLanes));
      meta.set('road.sidewalk', String(h.road.sidewalk));
    }
    await this.writer.addMetadata({ name: DRIVE_METADATA, metadata: meta });
  }

  private async put(role: keyof BundleTopics, ns: bigint, message: Record<string, unknown>): Promise<void> {
    const ch = this.channels.get(role)!;
    const type = bundleSchema(ch.schema).type;
    const err = type.verify(message);
    if (err) throw new Error(`writing ${this.file}: ${type.name} message at ${ns} ns: ${err}`);
    const data = type.encode(type.fromObject(message)).finish();
    await this.writer.addMessage({ channelId: ch.id, sequence: ch.seq++, logTime: ns, publishTime: ns, data });
  }

  /** Adds one frame: its image, calibration, ego odometry and ground truth, all at its capture time. */
  async add(frame: Omit<BundleFrame, 'index'>): Promise<void> {
    const ns = frame.captureNs;
    if (this.lastNs !== undefined && ns <= this.lastNs) throw new Error(`writing ${this.file}: frame ${this.frames} at ${ns} ns is not after the previous frame (${this.lastNs} ns): frames go in capture order`);
    if (frame.format !== 'png' && frame.format !== 'jpeg') throw new Error(`writing ${this.file}: frame ${this.frames}: format '${frame.format}' is not png or jpeg`);
    const h = this.header;
    const cal = h.calibration;
    if (this.frames === 0) {
      this.startNs = ns;
      if (h.extrinsics) {
        const e = h.extrinsics;
        await this.put('tf', ns, {
          timestamp: stamp(ns),
          parent_frame_id: e.parentFrameId,
          child_frame_id: e.childFrameId,
          translation: { x: e.translation[0], y: e.translation[1], z: e.translation[2] },
          rotation: { x: e.rotation[0], y: e.rotation[1], z: e.rotation[2], w: e.rotation[3] },
        });
      }
    }
    await this.put('calibration', ns, { timestamp: stamp(ns), frame_id: cal.frameId, width: cal.width, height: cal.height, distortion_model: cal.distortionModel, D: cal.D, K: cal.K, R: cal.R, P: cal.P });
    await this.put('image', ns, { timestamp: stamp(ns), frame_id: cal.frameId, data: frame.data, format: frame.format });
    if (frame.ego) {
      const e = frame.ego;
      await this.put('ego', ns, {
        timestamp: stamp(e.timeNs),
        frame_id: 'map',
        body_frame_id: 'base_link',
        pose: { position: { x: e.position[0], y: e.position[1], z: e.position[2] }, orientation: { x: e.orientation[0], y: e.orientation[1], z: e.orientation[2], w: e.orientation[3] } },
        linear_velocity: { x: e.speed, y: 0, z: 0 },
        angular_velocity: { x: 0, y: 0, z: 0 },
      });
    }
    // Every frame's update replaces the previous one's entities (deletion type 1: ALL).
    await this.put('gt', ns, { deletions: [{ timestamp: stamp(ns), type: 1, id: '' }], entities: frame.gt.map((o) => gtEntity(o, ns)) });
    this.frames++;
    this.lastNs = ns;
  }

  /** Finishes the summary and footer, renames the file into place, and says what was written. */
  async close(): Promise<WrittenBundle> {
    await this.writer.end();
    await this.handle.close();
    renameSync(this.tmp, this.file);
    return { file: this.file, sha256: this.out.hash.digest('hex'), bytes: Number(this.out.position()), frames: this.frames, startNs: this.startNs, endNs: this.lastNs ?? this.startNs };
  }

  /** Gives up: closes and removes the temporary file. */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    rmSync(this.tmp, { force: true });
  }
}

/** Writes a whole drive bundle from frames in capture order (an array or a stream of them). */
export async function writeDriveBundle(file: string, header: BundleHeader, frames: Iterable<Omit<BundleFrame, 'index'>> | AsyncIterable<Omit<BundleFrame, 'index'>>, opts: WriteBundleOptions = {}): Promise<WrittenBundle> {
  const w = await DriveBundleWriter.open(file, header, opts);
  try {
    for await (const f of frames) await w.add(f);
    return await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
}
