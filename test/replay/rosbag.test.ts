/**
 * ROS 2 bags in SQLite storage (.db3), written here with better-sqlite3 in rosbag2's schema and
 * CDR bytes from @foxglove/rosmsg2-serialization, read into the drive shapes: with the standard
 * definitions (a Humble bag, no message_definitions table) and with the bag's own (Iron and
 * later); bags that are not bags, or lack what a drive needs, give errors naming the file.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { ROS2_DEFINITIONS_ARRAY, ROS2_TO_DEFINITIONS } from '@foxglove/rosbag2';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import { parse as parseRosMsg } from '@foxglove/rosmsg';
import { BundleError, readDrive, readRosbag2 } from '../../src/replay/bundle.js';
import { tempDir } from '../helpers/fixtures.js';

const T0 = 1_790_000_000_000_000_000n;
const STEP = 100_000_000n;

let dir: string;
let cleanup: () => void;
let pngs: Buffer[];

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('paddock-rosbag-'));
  pngs = await Promise.all([10, 120, 240].map((v) => sharp(Buffer.alloc(24 * 12 * 3, v), { raw: { width: 24, height: 12, channels: 3 } }).png().toBuffer()));
});
afterAll(() => cleanup());

const stampOf = (ns: bigint) => ({ sec: Number(ns / 1_000_000_000n), nanosec: Number(ns % 1_000_000_000n) });

type Topic = { name: string; type: string; definition?: string };

/** A rosbag2 .db3 as `ros2 bag record` writes it (Humble's tables; `iron` adds message_definitions). */
function writeBag(file: string, topics: Topic[], messages: { topic: string; ns: bigint; msg: unknown }[], opts: { iron?: boolean } = {}): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
    CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL, metadata TEXT NOT NULL);
    CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL${opts.iron ? ', type_description_hash TEXT NOT NULL' : ''});
    CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE INDEX timestamp_idx ON messages (timestamp ASC);`);
  db.prepare('INSERT INTO schema VALUES (?, ?)').run(opts.iron ? 4 : 3, opts.iron ? 'iron' : 'humble');
  if (opts.iron) db.exec('CREATE TABLE message_definitions(id INTEGER PRIMARY KEY, topic_type TEXT NOT NULL, encoding TEXT NOT NULL, encoded_message_definition TEXT NOT NULL, type_description_hash TEXT NOT NULL);');
  const writers = new Map<string, { id: number; w: MessageWriter }>();
  topics.forEach((t, i) => {
    const id = i + 1;
    db.prepare(`INSERT INTO topics VALUES (?, ?, ?, 'cdr', ''${opts.iron ? ", ''" : ''})`).run(id, t.name, t.type);
    if (opts.iron && t.definition) db.prepare("INSERT INTO message_definitions (topic_type, encoding, encoded_message_definition, type_description_hash) VALUES (?, 'ros2msg', ?, '')").run(t.type, t.definition);
    const defs = t.definition ? parseRosMsg(t.definition, { ros2: true }) : [ROS2_TO_DEFINITIONS.get(t.type)!, ...ROS2_DEFINITIONS_ARRAY];
    writers.set(t.name, { id, w: new MessageWriter(defs) });
  });
  const insert = db.prepare('INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)');
  for (const m of messages) {
    const t = writers.get(m.topic)!;
    insert.run(t.id, m.ns, Buffer.from(t.w.writeMessage(m.msg)));
  }
  db.close();
}

const TOPICS: Topic[] = [
  { name: '/tf', type: 'tf2_msgs/msg/TFMessage' },
  { name: '/gt/objects', type: 'foxglove_msgs/msg/SceneUpdate' },
  { name: '/camera/front/image/compressed', type: 'sensor_msgs/msg/CompressedImage' },
  { name: '/camera/front/calibration', type: 'sensor_msgs/msg/CameraInfo' },
  { name: '/ego/odometry', type: 'nav_msgs/msg/Odometry' },
];

const zero36 = new Array(36).fill(0);
const header = (ns: bigint, frame: string) => ({ stamp: stampOf(ns), frame_id: frame });

/** A short drive as ROS messages: one tf, then per frame a CameraInfo, an image (logged late, out of order), odometry and a SceneUpdate. */
function driveMessages(n: number, topics: Topic[] = TOPICS): { topic: string; ns: bigint; msg: unknown }[] {
  const has = new Set(topics.map((t) => t.name));
  const out: { topic: string; ns: bigint; msg: unknown }[] = [];
  out.push({ topic: '/tf', ns: T0, msg: { transforms: [{ header: header(T0, 'base_link'), child_frame_id: 'cam_optical', transform: { translation: { x: 1.2, y: 0, z: 1.5 }, rotation: { x: -0.5, y: 0.5, z: -0.5, w: 0.5 } } }] } });
  for (let i = 0; i < n; i++) {
    const ns = T0 + BigInt(i) * STEP;
    out.push({ topic: '/camera/front/calibration', ns, msg: { header: header(ns, 'cam_optical'), height: 12, width: 24, distortion_model: 'plumb_bob', d: [-0.1, 0.01, 0, 0, 0], k: [30, 0, 12, 0, 30, 6, 0, 0, 1], r: [1, 0, 0, 0, 1, 0, 0, 0, 1], p: [30, 0, 12, 0, 0, 30, 6, 0, 0, 0, 1, 0], binning_x: 0, binning_y: 0, roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false } } });
    // Recorded when it arrived: 0-250 ms after capture, so the log order is not the capture order.
    out.push({ topic: '/camera/front/image/compressed', ns: ns + BigInt([250, 10, 120, 0][i % 4]) * 1_000_000n, msg: { header: header(ns, 'cam_optical'), format: 'png', data: pngs[i % 3] } });
    out.push({ topic: '/ego/odometry', ns, msg: { header: header(ns, 'map'), child_frame_id: 'base_link', pose: { pose: { position: { x: i * 1.5, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } }, covariance: zero36 }, twist: { twist: { linear: { x: 15, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } }, covariance: zero36 } } });
    const entity = { timestamp: stampOf(ns), frame_id: 'base_link', id: String(40 + (i % 2)), lifetime: { sec: 0, nanosec: 0 }, frame_locked: false, metadata: [{ key: 'class', value: 'cyclist' }, { key: 'box', value: `[${i},1,4,6]` }, { key: 'velocity', value: '[4,0,0]' }], arrows: [], cubes: [{ pose: { position: { x: 8 + i, y: -2, z: 0.9 }, orientation: { x: 0, y: 0, z: Math.SQRT1_2, w: Math.SQRT1_2 } }, size: { x: 1.7, y: 0.6, z: 1.8 }, color: { r: 0, g: 1, b: 0, a: 1 } }], spheres: [], cylinders: [], lines: [], triangles: [], texts: [], models: [] };
    out.push({ topic: '/gt/objects', ns, msg: { deletions: [], entities: [entity] } });
  }
  return out.filter((m) => has.has(m.topic));
}

describe('ROS 2 .db3 bags', () => {
  it.each([
    ['a Humble bag (standard definitions)', false],
    ['an Iron bag (its own message_definitions)', true],
  ])('reads %s into frames in capture order with calibration, extrinsics, ego and GT', async (_name, iron) => {
    const file = join(dir, `drive-${iron ? 'iron' : 'humble'}.db3`);
    const topics = iron ? TOPICS.map((t) => (t.type === 'sensor_msgs/msg/CompressedImage' ? { ...t, definition: COMPRESSED_IMAGE_MSG } : t)) : TOPICS;
    writeBag(file, topics, driveMessages(8), { iron });
    const r = await readRosbag2(file);
    expect(r.info).toEqual({
      driveId: `drive-${iron ? 'iron' : 'humble'}`,
      conditions: {},
      calibration: { frameId: 'cam_optical', width: 24, height: 12, distortionModel: 'plumb_bob', D: [-0.1, 0.01, 0, 0, 0], K: [30, 0, 12, 0, 30, 6, 0, 0, 1], R: [1, 0, 0, 0, 1, 0, 0, 0, 1], P: [30, 0, 12, 0, 0, 30, 6, 0, 0, 0, 1, 0] },
      extrinsics: { parentFrameId: 'base_link', childFrameId: 'cam_optical', translation: [1.2, 0, 1.5], rotation: [-0.5, 0.5, -0.5, 0.5] },
      rateHz: 10,
      frames: 8,
      sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
    });
    expect(r.frames.map((f) => f.captureNs)).toEqual(Array.from({ length: 8 }, (_, i) => T0 + BigInt(i) * STEP));
    r.frames.forEach((f, i) => {
      expect(f.index).toBe(i);
      expect(Buffer.from(f.data).equals(pngs[i % 3])).toBe(true);
      expect(f.ego).toEqual({ timeNs: f.captureNs, position: [i * 1.5, 0, 0], orientation: [0, 0, 0, 1], speed: 15 });
      expect(f.gt).toHaveLength(1);
      const { yaw, ...rest } = f.gt[0];
      expect(rest).toEqual({ trackId: 40 + (i % 2), cls: 'cyclist', box: [i, 1, 4, 6], visibility: 1, hard: false, position: [8 + i, -2, 0.9], size: [1.7, 0.6, 1.8], velocity: [4, 0, 0] });
      expect(yaw).toBeCloseTo(Math.PI / 2, 12);
    });
    expect(await readDrive(file)).toEqual(r);
  });

  it('reads a bag with only images and calibration (GT, ego and tf optional), on topics it is told', async () => {
    const file = join(dir, 'minimal.db3');
    const topics = TOPICS.filter((t) => t.name.startsWith('/camera'));
    writeBag(
      file,
      topics.map((t) => ({ ...t, name: t.name.replace('/camera/front', '/cam0') })),
      driveMessages(3, topics).map((m) => ({ ...m, topic: m.topic.replace('/camera/front', '/cam0') })),
    );
    const r = await readRosbag2(file, { topics: { image: '/cam0/image/compressed', calibration: '/cam0/calibration' } });
    expect(r.frames.map((f) => [f.gt, f.ego])).toEqual([[[], undefined], [[], undefined], [[], undefined]]);
    expect(r.info.extrinsics).toBeUndefined();
    await expect(readRosbag2(file)).rejects.toThrow(`${file}: topics: no image messages on /camera/front/image/compressed (foxglove.CompressedImage or sensor_msgs/msg/CompressedImage); the bundle has: /cam0/calibration (sensor_msgs/msg/CameraInfo), /cam0/image/compressed (sensor_msgs/msg/CompressedImage)`);
  });

  it('names a missing calibration topic', async () => {
    const file = join(dir, 'nocal.db3');
    const topics = TOPICS.filter((t) => t.name !== '/camera/front/calibration');
    writeBag(file, topics, driveMessages(2, topics));
    await expect(readRosbag2(file)).rejects.toThrow(new RegExp(`^${file}: topics: no calibration: no messages on /camera/front/calibration`));
  });

  it('names a message type it has no definition for', async () => {
    const file = join(dir, 'acme.db3');
    const topics = [{ name: '/camera/front/image/compressed', type: 'acme_msgs/msg/Frame', definition: 'string format\nuint8[] data\n' }];
    writeBag(file, topics, [{ topic: '/camera/front/image/compressed', ns: T0, msg: { format: 'png', data: pngs[0] } }]);
    await expect(readRosbag2(file)).rejects.toThrow(`${file}: topic /camera/front/image/compressed: unknown message type acme_msgs/msg/Frame: the bag has no definition of it`);
  });

  it('names a SQLite file that is not a bag, and a file that is not SQLite', async () => {
    const notBag = join(dir, 'other.db3');
    const db = new Database(notBag);
    db.exec('CREATE TABLE things(id INTEGER)');
    db.close();
    await expect(readRosbag2(notBag)).rejects.toThrow(`${notBag}: not a ROS 2 bag: no 'topics' table (tables: things)`);
    const junk = join(dir, 'junk.db3');
    writeFileSync(junk, 'not sqlite at all, just text that goes on for a while '.repeat(20));
    const err = await readRosbag2(junk).catch((e: Error) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as Error).message).toMatch(new RegExp(`^${junk}: cannot read the bag's SQLite database: file is not a database`));
  });

  it('a truncated bag is an error naming it, not a crash', async () => {
    const file = join(dir, 'full.db3');
    writeBag(file, TOPICS, driveMessages(20));
    const buf = readFileSync(file);
    const cut = join(dir, 'cut.db3');
    writeFileSync(cut, buf.subarray(0, Math.floor(buf.length / 2)));
    const err = await readDrive(cut).catch((e: Error) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as Error).message).toMatch(new RegExp(`^${cut}: (cannot read the bag's SQLite database|reading the bag's messages): .*malformed`));
  });
});

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
