/**
 * Drive bundles in MCAP: paddock's writer read back by paddock and by @mcap/core's own indexed
 * reader; bundles from another writer (JSON encoding, other topic order, log times out of order,
 * unchunked) and in ROS 2 encoding (CDR, ros2msg) read by paddock; truncated, corrupt and
 * incomplete bundles give errors that name the file and the offset or topic.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { McapIndexedReader, McapWriter, type IReadable } from '@mcap/core';
import { FileHandleWritable } from '@mcap/nodejs';
import * as foxgloveJson from '@foxglove/schemas/jsonschema.js';
import { generateRosMsgMergedSchema, foxgloveMessageSchemas } from '@foxglove/schemas/internal.js';
import { parse as parseRosMsg } from '@foxglove/rosmsg';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import { BundleError, DEFAULT_TOPICS, DRIVE_METADATA, readDrive, readDriveBundle, writeDriveBundle, zstdAvailable, type BundleHeader } from '../../src/replay/bundle.js';
import { protobufTypeFromDescriptor } from '../../src/replay/bundle-schemas.js';
import type { BundleFrame, GtObject } from '../../src/replay/types.js';
import { tempDir } from '../helpers/fixtures.js';

const T0 = 1_790_000_000_000_000_000n;
const STEP = 100_000_000n;

let dir: string;
let cleanup: () => void;
let pngs: Buffer[];

const header: BundleHeader = {
  driveId: 'drive-test',
  conditions: { weather: 'rain', timeOfDay: 'night', roadType: 'urban', region: 'east' },
  rateHz: 10,
  seed: 42,
  calibration: { frameId: 'camera_front_optical', width: 32, height: 16, distortionModel: 'plumb_bob', D: [0, 0, 0, 0, 0], K: [20, 0, 16, 0, 20, 8, 0, 0, 1], R: [1, 0, 0, 0, 1, 0, 0, 0, 1], P: [20, 0, 16, 0, 0, 20, 8, 0, 0, 0, 1, 0] },
  extrinsics: { parentFrameId: 'base_link', childFrameId: 'camera_front_optical', translation: [0, 0, 1.5], rotation: [-0.5, 0.5, -0.5, 0.5] },
};

function gt(i: number): GtObject[] {
  const objs: GtObject[] = [
    { trackId: 3, cls: 'car', box: [1.5, 2, 10.25, 6], visibility: 0.75, hard: false, position: [12.5 - i * 0.5, -1.25, 0.75], size: [4.4, 1.8, 1.5], yaw: 0.25, velocity: [9.5, 0, 0] },
    { trackId: 7, cls: 'pedestrian', box: [20, 3, 2, 7.5], visibility: 1, hard: true, position: [30, 4, 0.9], size: [0.4, 0.5, 1.8], yaw: -1.5, velocity: [0, -1.2, 0] },
  ];
  return i === 2 ? [] : objs.slice(0, i % 2 === 0 ? 2 : 1);
}

function frames(n: number): Omit<BundleFrame, 'index'>[] {
  return Array.from({ length: n }, (_, i) => ({
    captureNs: T0 + BigInt(i) * STEP,
    format: 'png',
    data: pngs[i % pngs.length],
    gt: gt(i),
    ego: { timeNs: T0 + BigInt(i) * STEP, position: [i * 1.2, 0, 0], orientation: [0, 0, 0, 1], speed: 12 },
  }));
}

/** An IReadable over a file in memory, for @mcap/core's indexed reader. */
function memReadable(buf: Uint8Array): IReadable {
  return { size: async () => BigInt(buf.length), read: async (offset, size) => buf.subarray(Number(offset), Number(offset + size)) };
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('paddock-bundle-'));
  pngs = await Promise.all([0, 80, 160].map((v) => sharp(Buffer.alloc(32 * 16 * 3, v), { raw: { width: 32, height: 16, channels: 3 } }).png().toBuffer()));
});
afterAll(() => cleanup());

describe('paddock writes, paddock reads', () => {
  it('round-trips every field of every frame, with the digest of the file', async () => {
    const file = join(dir, 'rt.mcap');
    const input = frames(12);
    const w = await writeDriveBundle(file, header, input);
    const bytes = readFileSync(file);
    expect(w).toMatchObject({ frames: 12, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), startNs: T0, endNs: T0 + 11n * STEP });
    const r = await readDriveBundle(file);
    expect(r.info).toEqual({ ...header, frames: 12, sha256: w.sha256 });
    expect(r.frames.length).toBe(12);
    r.frames.forEach((f, i) => {
      const { data, ...rest } = f;
      const { data: want, ...wantRest } = input[i];
      expect(Buffer.from(data).equals(Buffer.from(want))).toBe(true);
      // Yaw goes through a quaternion: equal to rounding.
      expect({ ...rest, gt: rest.gt.map((o) => ({ ...o, yaw: Math.round(o.yaw * 1e12) / 1e12 })) }).toEqual({ index: i, ...wantRest });
    });
    expect(await readDrive(file)).toEqual(r);
  });

  it('writes the same bytes for the same input', async () => {
    const a = await writeDriveBundle(join(dir, 'a.mcap'), header, frames(6));
    const b = await writeDriveBundle(join(dir, 'b.mcap'), header, frames(6));
    expect(a.sha256).toBe(b.sha256);
    expect(readFileSync(join(dir, 'a.mcap')).equals(readFileSync(join(dir, 'b.mcap')))).toBe(true);
    const c = await writeDriveBundle(join(dir, 'c.mcap'), { ...header, seed: 43 }, frames(6));
    expect(c.sha256).not.toBe(a.sha256);
  });

  it('is a chunked, indexed MCAP that @mcap/core reads with foxglove schemas, capture time as log time', async () => {
    const file = join(dir, 'indexed.mcap');
    await writeDriveBundle(file, header, frames(30), { chunkSize: 2048 });
    const buf = readFileSync(file);
    const reader = await McapIndexedReader.Initialize({ readable: memReadable(buf), decompressHandlers: zstdAvailable() ? { zstd: (b) => (zlib as unknown as { zstdDecompressSync(x: Uint8Array): Buffer }).zstdDecompressSync(b) } : {} });
    expect(reader.chunkIndexes.length).toBeGreaterThan(1);
    expect(new Set(reader.chunkIndexes.map((c) => c.compression))).toEqual(new Set([zstdAvailable() ? 'zstd' : '']));
    const topics = new Map([...reader.channelsById.values()].map((c) => [c.topic, { schema: reader.schemasById.get(c.schemaId)!.name, enc: c.messageEncoding, count: reader.statistics!.channelMessageCounts.get(c.id) }]));
    expect(Object.fromEntries(topics)).toEqual({
      [DEFAULT_TOPICS.image]: { schema: 'foxglove.CompressedImage', enc: 'protobuf', count: 30n },
      [DEFAULT_TOPICS.calibration]: { schema: 'foxglove.CameraCalibration', enc: 'protobuf', count: 30n },
      [DEFAULT_TOPICS.tf]: { schema: 'foxglove.FrameTransform', enc: 'protobuf', count: 1n },
      [DEFAULT_TOPICS.ego]: { schema: 'foxglove.Odometry', enc: 'protobuf', count: 30n },
      [DEFAULT_TOPICS.gt]: { schema: 'foxglove.SceneUpdate', enc: 'protobuf', count: 30n },
    });
    expect(reader.statistics!.messageStartTime).toBe(T0);
    expect(reader.statistics!.messageEndTime).toBe(T0 + 29n * STEP);
    const imageChannel = [...reader.channelsById.values()].find((c) => c.topic === DEFAULT_TOPICS.image)!;
    const type = protobufTypeFromDescriptor(reader.schemasById.get(imageChannel.schemaId)!.data, 'foxglove.CompressedImage');
    let k = 0;
    for await (const m of reader.readMessages({ topics: [DEFAULT_TOPICS.image] })) {
      const msg = type.toObject(type.decode(m.data), { longs: String }) as { timestamp: { seconds: string; nanos: number }; format: string; frame_id: string };
      expect(m.logTime).toBe(T0 + BigInt(k) * STEP);
      expect(BigInt(msg.timestamp.seconds) * 1_000_000_000n + BigInt(msg.timestamp.nanos)).toBe(m.logTime);
      expect(msg).toMatchObject({ format: 'png', frame_id: 'camera_front_optical' });
      k++;
    }
    expect(k).toBe(30);
    const meta = [];
    for await (const m of reader.readMetadata({ name: DRIVE_METADATA })) meta.push(Object.fromEntries(m.metadata));
    expect(meta).toEqual([{ drive_id: 'drive-test', rate_hz: '10', seed: '42', 'condition.region': 'east', 'condition.roadType': 'urban', 'condition.timeOfDay': 'night', 'condition.weather': 'rain' }]);
  });
});

/** Writes a bundle with @mcap/core directly, as another tool would. */
async function writeForeign(file: string, build: (w: McapWriter) => Promise<void>, opts: { useChunks?: boolean } = {}): Promise<void> {
  const handle = await open(file, 'w');
  const w = new McapWriter({ writable: new FileHandleWritable(handle), useChunks: opts.useChunks ?? true, chunkSize: 8192 });
  await w.start({ profile: '', library: 'another-writer' });
  await build(w);
  await w.end();
  await handle.close();
}

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const jsonTime = (ns: bigint) => ({ sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) });

/** A JSON-encoded bundle in paddock's layout: GT topic first, messages in a shuffled order, log time = arrival (after capture). */
async function writeJsonBundle(file: string, opts: { calibration?: boolean; format?: string; useChunks?: boolean; imageSchema?: string } = {}): Promise<void> {
  await writeForeign(
    file,
    async (w) => {
      const chan = async (topic: string, name: string, schema: object) => {
        const schemaId = await w.registerSchema({ name, encoding: 'jsonschema', data: enc(schema) });
        return w.registerChannel({ topic, schemaId, messageEncoding: 'json', metadata: new Map() });
      };
      const gtCh = await chan('/gt/objects', 'foxglove.SceneUpdate', foxgloveJson.SceneUpdate);
      const imgCh = await chan('/camera/front/image/compressed', opts.imageSchema ?? 'foxglove.CompressedImage', foxgloveJson.CompressedImage);
      const calCh = opts.calibration === false ? -1 : await chan('/camera/front/calibration', 'foxglove.CameraCalibration', foxgloveJson.CameraCalibration);
      const msgs: { ch: number; log: bigint; data: Uint8Array }[] = [];
      for (let i = 0; i < 6; i++) {
        const ns = T0 + BigInt(i) * STEP;
        // Arrival jitter: later frames sometimes logged before earlier ones.
        const log = ns + BigInt([70, 5, 90, 1, 40, 2][i]) * 1_000_000n;
        msgs.push({ ch: imgCh, log, data: enc({ timestamp: jsonTime(ns), frame_id: 'cam', format: opts.format ?? 'png', data: pngs[i % 3].toString('base64') }) });
        if (calCh >= 0) msgs.push({ ch: calCh, log, data: enc({ timestamp: jsonTime(ns), frame_id: 'cam', width: 32, height: 16, distortion_model: 'plumb_bob', D: [0.1, 0, 0, 0, 0], K: [20, 0, 16, 0, 20, 8, 0, 0, 1], R: [1, 0, 0, 0, 1, 0, 0, 0, 1], P: [20, 0, 16, 0, 0, 20, 8, 0, 0, 0, 1, 0] }) });
        msgs.push({
          ch: gtCh,
          log: log + 3_000_000n,
          data: enc({
            deletions: [],
            entities: [{ timestamp: jsonTime(ns), frame_id: 'base_link', id: `ped-${i % 2}`, metadata: [{ key: 'class', value: 'pedestrian' }, { key: 'box', value: `${i},2,3,4` }], cubes: [{ pose: { position: { x: 5 + i, y: 1, z: 0.9 }, orientation: { x: 0, y: 0, z: 0, w: 1 } }, size: { x: 0.4, y: 0.5, z: 1.8 }, color: { r: 1, g: 0, b: 0, a: 1 } }] }],
          }),
        });
      }
      msgs.reverse();
      let seq = 0;
      for (const m of msgs) await w.addMessage({ channelId: m.ch, sequence: seq++, logTime: m.log, publishTime: m.log, data: m.data });
    },
    { useChunks: opts.useChunks },
  );
}

describe('bundles from other writers', () => {
  it.each([
    ['chunked', true],
    ['unchunked', false],
  ])('reads a JSON-encoded %s bundle in capture-time order, GT joined by timestamp', async (_name, useChunks) => {
    const file = join(dir, `json-${useChunks}.mcap`);
    await writeJsonBundle(file, { useChunks });
    const r = await readDriveBundle(file);
    expect(r.info).toMatchObject({ driveId: `json-${useChunks}`, frames: 6, rateHz: 10, conditions: {} });
    expect(r.info.calibration).toMatchObject({ frameId: 'cam', D: [0.1, 0, 0, 0, 0], width: 32 });
    expect(r.frames.map((f) => f.captureNs)).toEqual([0, 1, 2, 3, 4, 5].map((i) => T0 + BigInt(i) * STEP));
    r.frames.forEach((f, i) => {
      expect(Buffer.from(f.data).equals(pngs[i % 3])).toBe(true);
      expect(f.gt).toHaveLength(1);
      expect(f.gt[0]).toMatchObject({ cls: 'pedestrian', box: [i, 2, 3, 4], position: [5 + i, 1, 0.9], visibility: 1, hard: false, yaw: 0 });
    });
    // String entity ids become stable numbers.
    expect(r.frames[0].gt[0].trackId).toBe(r.frames[2].gt[0].trackId);
    expect(r.frames[0].gt[0].trackId).not.toBe(r.frames[1].gt[0].trackId);
  });

  it('reads a ROS 2 (CDR, ros2msg) bundle: sensor_msgs CompressedImage and CameraInfo, foxglove_msgs SceneUpdate', async () => {
    const file = join(dir, 'ros2.mcap');
    const sceneUpdate = generateRosMsgMergedSchema(foxgloveMessageSchemas.SceneUpdate, { rosVersion: 2 });
    await writeForeign(file, async (w) => {
      const chan = async (topic: string, name: string, text: string) => {
        const schemaId = await w.registerSchema({ name, encoding: 'ros2msg', data: new TextEncoder().encode(text) });
        const id = await w.registerChannel({ topic, schemaId, messageEncoding: 'cdr', metadata: new Map() });
        return { id, writer: new MessageWriter(parseRosMsg(text, { ros2: true })) };
      };
      const img = await chan('/cam/image', 'sensor_msgs/msg/CompressedImage', COMPRESSED_IMAGE_MSG);
      const info = await chan('/cam/info', 'sensor_msgs/msg/CameraInfo', CAMERA_INFO_MSG);
      const objs = await chan('/cam/gt', 'foxglove_msgs/msg/SceneUpdate', sceneUpdate);
      for (let i = 0; i < 4; i++) {
        const ns = T0 + BigInt(i) * STEP;
        const stamp = { sec: Number(ns / 1_000_000_000n), nanosec: Number(ns % 1_000_000_000n) };
        const hdr = { stamp, frame_id: 'cam_optical' };
        await w.addMessage({ channelId: info.id, sequence: i, logTime: ns, publishTime: ns, data: info.writer.writeMessage({ header: hdr, height: 16, width: 32, distortion_model: 'plumb_bob', d: [0, 0, 0, 0, 0], k: [20, 0, 16, 0, 20, 8, 0, 0, 1], r: [1, 0, 0, 0, 1, 0, 0, 0, 1], p: [20, 0, 16, 0, 0, 20, 8, 0, 0, 0, 1, 0], binning_x: 0, binning_y: 0, roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false } }) });
        await w.addMessage({ channelId: img.id, sequence: i, logTime: ns + 1000n, publishTime: ns, data: img.writer.writeMessage({ header: hdr, format: 'rgb8; png compressed bgr8', data: pngs[i % 3] }) });
        const entity = { timestamp: stamp, frame_id: 'base_link', id: '11', lifetime: { sec: 0, nanosec: 0 }, frame_locked: false, metadata: [{ key: 'class', value: 'car' }, { key: 'box', value: '[1,1,5,5]' }, { key: 'hard', value: 'true' }, { key: 'visibility', value: '0.5' }], arrows: [], cubes: [{ pose: { position: { x: 20, y: 0, z: 0.8 }, orientation: { x: 0, y: 0, z: 0, w: 1 } }, size: { x: 4, y: 2, z: 1.5 }, color: { r: 1, g: 1, b: 1, a: 1 } }], spheres: [], cylinders: [], lines: [], triangles: [], texts: [], models: [] };
        await w.addMessage({ channelId: objs.id, sequence: i, logTime: ns + 2000n, publishTime: ns, data: objs.writer.writeMessage({ deletions: [], entities: [entity] }) });
      }
    });
    const r = await readDriveBundle(file, { topics: { image: '/cam/image', calibration: '/cam/info', gt: '/cam/gt' } });
    expect(r.info.calibration).toEqual({ frameId: 'cam_optical', width: 32, height: 16, distortionModel: 'plumb_bob', D: [0, 0, 0, 0, 0], K: [20, 0, 16, 0, 20, 8, 0, 0, 1], R: [1, 0, 0, 0, 1, 0, 0, 0, 1], P: [20, 0, 16, 0, 0, 20, 8, 0, 0, 0, 1, 0] });
    expect(r.frames.map((f) => [f.captureNs, f.format])).toEqual([0, 1, 2, 3].map((i) => [T0 + BigInt(i) * STEP, 'png']));
    expect(r.frames[3].gt).toEqual([{ trackId: 11, cls: 'car', box: [1, 1, 5, 5], visibility: 0.5, hard: true, position: [20, 0, 0.8], size: [4, 2, 1.5], yaw: 0, velocity: [0, 0, 0] }]);
    // Without the topic names the defaults are looked for, and their absence is named.
    await expect(readDriveBundle(file)).rejects.toThrow(`${file}: topics: no image messages on /camera/front/image/compressed`);
  });
});

describe('bad bundles', () => {
  it.each([4, 8, 30, 0.3, 0.7, -40, -1])('a bundle cut at %s gives a located error, not a crash', async (cut) => {
    const good = join(dir, 'good.mcap');
    await writeDriveBundle(good, header, frames(20), { chunkSize: 16 * 1024 });
    const buf = readFileSync(good);
    const at = cut < 0 ? buf.length + cut : cut < 1 ? Math.floor(buf.length * cut) : cut;
    const file = join(dir, `cut-${at}.mcap`);
    writeFileSync(file, buf.subarray(0, at));
    const err = await readDriveBundle(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BundleError);
    const msg = (err as Error).message;
    expect(msg.startsWith(`${file}: offset `)).toBe(true);
    if (at < 8) expect(msg).toMatch(/bad magic/);
    else expect(msg).toMatch(new RegExp(`truncated at offset ${at}: the file ends inside`));
  });

  it('a corrupt chunk names its offset', async () => {
    const good = join(dir, 'good2.mcap');
    await writeDriveBundle(good, header, frames(20), { chunkSize: 16 * 1024, compression: 'none' });
    const buf = Buffer.from(readFileSync(good));
    buf[5000] ^= 0xff;
    const file = join(dir, 'flipped.mcap');
    writeFileSync(file, buf);
    await expect(readDriveBundle(file)).rejects.toThrow(new RegExp(`^${file}: offset \\d+: corrupt chunk: .*crc`, 'i'));
  });

  it('bad magic and SQLite files are named', async () => {
    const file = join(dir, 'not.mcap');
    writeFileSync(file, 'hello, this is not a bundle');
    await expect(readDriveBundle(file)).rejects.toThrow(`${file}: offset 0: bad magic: not an MCAP file (starts 68656c6c6f2c2074`);
    const db = join(dir, 'bag.db3');
    writeFileSync(db, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(100)]));
    await expect(readDriveBundle(db)).rejects.toThrow(/bad magic: this is a SQLite file \(a ROS 2 \.db3 bag\?\)/);
    await expect(readDriveBundle(join(dir, 'missing.mcap'))).rejects.toThrow(/missing\.mcap: cannot read the bundle: ENOENT/);
  });

  it.each([
    ['missing calibration', { calibration: false }, /topics: no calibration: no messages on \/camera\/front\/calibration .*the bundle has: \/camera\/front\/image\/compressed \(foxglove\.CompressedImage\), \/gt\/objects \(foxglove\.SceneUpdate\)$/],
    ['unknown image format', { format: 'webp' }, /message \d+ on \/camera\/front\/image\/compressed \(log time \d+ ns\): unknown image format 'webp'/],
    ['a format that lies', { format: 'jpeg' }, /format says jpeg but the \d+ bytes of data do not start like a jpeg file/],
    ['unknown schema', { imageSchema: 'acme.Frame' }, /topic \/camera\/front\/image\/compressed: schema 'acme\.Frame' is not one paddock reads as image/],
  ] as const)('%s is named', async (name, opts, want) => {
    const file = join(dir, `${name.replace(/ /g, '-')}.mcap`);
    await writeJsonBundle(file, opts);
    const err = await readDriveBundle(file).catch((e: Error) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
    expect((err as Error).message).toMatch(want);
  });

  it('an unknown message encoding is named with its channel', async () => {
    const file = join(dir, 'cbor.mcap');
    await writeForeign(file, async (w) => {
      const schemaId = await w.registerSchema({ name: 'foxglove.CompressedImage', encoding: 'cbor-schema', data: new Uint8Array() });
      const channelId = await w.registerChannel({ topic: DEFAULT_TOPICS.image, schemaId, messageEncoding: 'cbor', metadata: new Map() });
      await w.addMessage({ channelId, sequence: 0, logTime: T0, publishTime: T0, data: new Uint8Array([1]) });
    });
    await expect(readDriveBundle(file)).rejects.toThrow(`${file}: channel 0 (/camera/front/image/compressed): unknown message encoding 'cbor'`);
  });
});

/** sensor_msgs/msg/CompressedImage as ros2 bag recorders store it (with its dependencies). */
const COMPRESSED_IMAGE_MSG = `std_msgs/Header header
string format
uint8[] data
================================================================================
MSG: std_msgs/Header
builtin_interfaces/Time stamp
string frame_id
================================================================================
MSG: builtin_interfaces/Time
int32 sec
uint32 nanosec
`;

const CAMERA_INFO_MSG = `std_msgs/Header header
uint32 height
uint32 width
string distortion_model
float64[] d
float64[9] k
float64[9] r
float64[12] p
uint32 binning_x
uint32 binning_y
sensor_msgs/RegionOfInterest roi
================================================================================
MSG: std_msgs/Header
builtin_interfaces/Time stamp
string frame_id
================================================================================
MSG: builtin_interfaces/Time
int32 sec
uint32 nanosec
================================================================================
MSG: sensor_msgs/RegionOfInterest
uint32 x_offset
uint32 y_offset
uint32 height
uint32 width
bool do_rectify
`;
