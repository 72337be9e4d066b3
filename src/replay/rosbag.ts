/**
 * Reads a ROS 2 bag in its SQLite storage (.db3) into the same drive shapes as an MCAP bundle
 * (src/replay/bundle-assemble.ts does the mapping): sensor_msgs/msg/CompressedImage and
 * sensor_msgs/msg/CameraInfo are required, tf, odometry and foxglove_msgs/msg/SceneUpdate ground
 * truth are used where their topics are there. @foxglove/rosbag2 reads the bag through the SqliteDb
 * interface, which RosbagSqlite implements on better-sqlite3 (paddock's SQLite). Message types are
 * decoded with the bag's own definitions (the message_definitions table, Iron and later) or, for
 * older bags, with the standard ROS 2 and foxglove definitions @foxglove/rosbag2 ships. ROS 2 bags
 * in MCAP storage are MCAP bundles and go through src/replay/bundle-read.ts.
 */
import Database from 'better-sqlite3';
import { parse as parseRosMsg } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { ROS2_DEFINITIONS_ARRAY, ROS2_TO_DEFINITIONS, Rosbag2, type MessageReadOptions, type RawMessage, type SqliteDb, type TopicDefinition } from '@foxglove/rosbag2';
import { sha256FileSync } from '../files/digest.js';
import { BundleError, assembleDrive, roleTopics, type DecodedMessage, type DriveBundle } from './bundle-assemble.js';
import type { ReadBundleOptions } from './bundle-read.js';

type Time = { sec: number; nsec: number };

const toTime = (ns: bigint): Time => ({ sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) });
const toNs = (t: Time): bigint => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);

/** @foxglove/rosbag2's SqliteDb on better-sqlite3: the topics and messages tables of a rosbag2 .db3, read-only. */
export class RosbagSqlite implements SqliteDb {
  private db: Database.Database | undefined;
  private topics = new Map<bigint, TopicDefinition>();
  /** Row iterators still open: a reader that stops early leaves them, and SQLite will not close under them. */
  private readonly rows = new Set<IterableIterator<unknown>>();

  constructor(readonly file: string) {}

  private get open_(): Database.Database {
    if (!this.db) throw new Error(`${this.file}: the bag is not open`);
    return this.db;
  }

  async open(): Promise<void> {
    let db: Database.Database;
    try {
      db = new Database(this.file, { readonly: true, fileMustExist: true });
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
      for (const want of ['topics', 'messages']) {
        if (!tables.includes(want)) {
          db.close();
          throw new BundleError(`${this.file}: not a ROS 2 bag: no '${want}' table (tables: ${tables.join(', ') || 'none'})`);
        }
      }
      const rows = db.prepare('SELECT id, name, type, serialization_format FROM topics ORDER BY id').safeIntegers(true).all() as { id: bigint; name: string; type: string; serialization_format: string }[];
      for (const r of rows) this.topics.set(r.id, { name: r.name, type: r.type, serializationFormat: r.serialization_format, offeredQosProfiles: [] });
    } catch (err) {
      if (err instanceof BundleError) throw err;
      throw new BundleError(`${this.file}: cannot read the bag's SQLite database: ${(err as Error).message}`);
    }
    this.db = db;
  }

  async close(): Promise<void> {
    for (const it of this.rows) it.return?.();
    this.rows.clear();
    this.db?.close();
    this.db = undefined;
  }

  async readTopics(): Promise<TopicDefinition[]> {
    return [...this.topics.values()];
  }

  async *readMessages(opts: MessageReadOptions): AsyncIterableIterator<RawMessage> {
    const wanted = opts.topics ? new Set(opts.topics) : undefined;
    const ids = [...this.topics].filter(([, t]) => !wanted || wanted.has(t.name)).map(([id]) => id);
    if (ids.length === 0) return;
    const where = [`topic_id IN (${ids.map(() => '?').join(', ')})`];
    const args: bigint[] = [...ids];
    if (opts.startTime) {
      where.push('timestamp >= ?');
      args.push(toNs(opts.startTime));
    }
    if (opts.endTime) {
      where.push('timestamp <= ?');
      args.push(toNs(opts.endTime));
    }
    const stmt = this.open_.prepare(`SELECT topic_id, timestamp, data FROM messages WHERE ${where.join(' AND ')} ORDER BY timestamp, id`).safeIntegers(true);
    const rows = stmt.iterate(...args) as IterableIterator<{ topic_id: bigint; timestamp: bigint; data: Buffer }>;
    this.rows.add(rows);
    try {
      for (const row of rows) yield { topic: this.topics.get(row.topic_id)!, timestamp: toTime(row.timestamp), data: row.data };
    } finally {
      this.rows.delete(rows);
    }
  }

  async timeRange(): Promise<[min: Time, max: Time]> {
    const r = this.open_.prepare('SELECT MIN(timestamp) AS lo, MAX(timestamp) AS hi FROM messages').safeIntegers(true).get() as { lo: bigint | null; hi: bigint | null };
    return [toTime(r.lo ?? 0n), toTime(r.hi ?? 0n)];
  }

  async messageCounts(): Promise<Map<string, number>> {
    const rows = this.open_.prepare('SELECT topic_id, COUNT(*) AS n FROM messages GROUP BY topic_id').safeIntegers(true).all() as { topic_id: bigint; n: bigint }[];
    return new Map(rows.map((r) => [this.topics.get(r.topic_id)?.name ?? `topic ${r.topic_id}`, Number(r.n)]));
  }

  /** The bag's own ros2msg definitions by type (the message_definitions table; absent before Iron). */
  definitions(): Map<string, string> {
    const db = this.open_;
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_definitions'").get();
    if (!has) return new Map();
    const rows = db.prepare("SELECT topic_type, encoded_message_definition FROM message_definitions WHERE encoding = 'ros2msg'").all() as { topic_type: string; encoded_message_definition: string }[];
    return new Map(rows.filter((r) => r.encoded_message_definition.trim() !== '').map((r) => [r.topic_type, r.encoded_message_definition]));
  }
}

/** A CDR decoder for a message type: from the bag's definition if it has one, else the standard ones. */
function readerFor(file: string, topic: TopicDefinition, own: Map<string, string>): MessageReader {
  const where = `${file}: topic ${topic.name}`;
  if (topic.serializationFormat !== 'cdr') throw new BundleError(`${where}: serialization format '${topic.serializationFormat}'; paddock reads cdr`);
  const text = own.get(topic.type);
  if (text !== undefined) {
    try {
      return new MessageReader(parseRosMsg(text, { ros2: true }));
    } catch (err) {
      throw new BundleError(`${where}: the bag's definition of ${topic.type} does not parse: ${(err as Error).message}`);
    }
  }
  const def = ROS2_TO_DEFINITIONS.get(topic.type);
  if (!def) throw new BundleError(`${where}: unknown message type ${topic.type}: the bag has no definition of it and it is not a standard ROS 2 or foxglove message`);
  return new MessageReader([def, ...ROS2_DEFINITIONS_ARRAY]);
}

/** A drive from a ROS 2 .db3 bag: frames in capture-time order, GT and ego joined, the file's sha256 in info. */
export async function readRosbag2(file: string, opts: ReadBundleOptions = {}): Promise<DriveBundle> {
  let sha256: string;
  try {
    sha256 = sha256FileSync(file).sha256;
  } catch (err) {
    throw new BundleError(`${file}: cannot read the bag: ${(err as Error).message}`);
  }
  const db = new RosbagSqlite(file);
  const bag = new Rosbag2([db]);
  await bag.open();
  try {
    const own = db.definitions();
    const wanted = Object.values(roleTopics(opts.topics));
    const readers = new Map<string, MessageReader>();
    const counts = new Map<string, number>();
    const messages: DecodedMessage[] = [];
    try {
      for await (const m of bag.readMessages({ topics: wanted, rawMessages: true })) {
        let reader = readers.get(m.topic.name);
        if (!reader) readers.set(m.topic.name, (reader = readerFor(file, m.topic, own)));
        const k = counts.get(m.topic.name) ?? 0;
        counts.set(m.topic.name, k + 1);
        const logNs = toNs(m.timestamp);
        const where = `message ${k} on ${m.topic.name} (timestamp ${logNs} ns)`;
        let value: unknown;
        try {
          value = reader.readMessage(m.data);
        } catch (err) {
          throw new BundleError(`${file}: ${where}: cannot decode as ${m.topic.type}: ${(err as Error).message}`);
        }
        messages.push({ topic: m.topic.name, schema: m.topic.type, logNs, where, value });
      }
    } catch (err) {
      if (err instanceof BundleError) throw err;
      throw new BundleError(`${file}: reading the bag's messages: ${(err as Error).message}`);
    }
    const inFile = (await bag.readTopics()).map((t): [string, string] => [t.name, t.type]);
    return assembleDrive(file, sha256, messages, undefined, opts, inFile);
  } finally {
    await bag.close();
  }
}
