/**
 * Reads a drive from an MCAP bundle: paddock's own (protobuf, foxglove schemas), or any writer's
 * in the same layout with the messages in protobuf, JSON (foxglove's JSON schemas) or CDR (ROS 2,
 * schema encoding ros2msg: sensor_msgs/msg/CompressedImage, CameraInfo, ...), which covers ROS 2
 * bags recorded with the MCAP storage plugin. Topic names default to DEFAULT_TOPICS.
 *
 * The file is read sequentially with @mcap/core's stream reader (chunk CRCs checked), not through
 * the index: a whole drive is wanted anyway, and that way an unindexed or unchunked bundle reads
 * too, and a truncated or corrupt one is located at the byte offset where it stops making sense.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as zlib from 'node:zlib';
import { McapStreamReader, type TypedMcapRecords, type DecompressHandlers } from '@mcap/core';
import { parse as parseRosMsg } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { protobufTypeFromDescriptor } from './bundle-schemas.js';
import { DRIVE_METADATA } from './bundle-write.js';
import { BundleError, assembleDrive, roleTopics, type AssembleOptions, type DecodedMessage, type DriveBundle } from './bundle-assemble.js';

export type ReadBundleOptions = AssembleOptions;

const MCAP_MAGIC = [0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a];
const SQLITE_MAGIC = 'SQLite format 3\0';

const OPCODES: Record<number, string> = { 1: 'Header', 2: 'Footer', 3: 'Schema', 4: 'Channel', 5: 'Message', 6: 'Chunk', 7: 'MessageIndex', 8: 'ChunkIndex', 9: 'Attachment', 10: 'AttachmentIndex', 11: 'Statistics', 12: 'Metadata', 13: 'MetadataIndex', 14: 'SummaryOffset', 15: 'DataEnd' };

/** Chunk decompressors this Node has: zstd through node:zlib (22.15+); lz4 is not. */
function decompressHandlers(): DecompressHandlers {
  const z = zlib as unknown as { zstdDecompressSync?: (b: Uint8Array) => Buffer };
  const handlers: DecompressHandlers = {};
  if (typeof z.zstdDecompressSync === 'function') handlers.zstd = (buf) => z.zstdDecompressSync!(buf);
  return handlers;
}

/** The container's records: schemas, channels, messages (in file order) and metadata. */
interface McapContents {
  schemas: Map<number, TypedMcapRecords['Schema']>;
  channels: Map<number, TypedMcapRecords['Channel']>;
  messages: TypedMcapRecords['Message'][];
  metadata: Map<string, Map<string, string>>;
}

/** What record starts at `offset`, for error messages. */
function recordAt(buf: Uint8Array, offset: number): string {
  if (offset + 9 > buf.length) return `${buf.length - offset} bytes that are not a whole record header (9 bytes)`;
  const op = buf[offset];
  const len = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readBigUInt64LE(offset + 1);
  return `a ${OPCODES[op] ?? `record of unknown opcode 0x${op.toString(16)}`} record of ${len} bytes, of which ${buf.length - offset - 9} are there`;
}

/** Every record of an MCAP file held in memory, with located errors. */
export function readMcapRecords(file: string, buf: Uint8Array): McapContents {
  if (buf.length < 8 || !MCAP_MAGIC.every((b, i) => buf[i] === b)) {
    const head = Buffer.from(buf.subarray(0, 16));
    if (head.toString('latin1') === SQLITE_MAGIC) throw new BundleError(`${file}: offset 0: bad magic: this is a SQLite file (a ROS 2 .db3 bag?), not MCAP; read it with readRosbag2 (src/replay/rosbag.ts)`);
    throw new BundleError(`${file}: offset 0: bad magic: not an MCAP file (starts ${head.subarray(0, 8).toString('hex') || 'empty'}, MCAP starts 894d434150300d0a)`);
  }
  const reader = new McapStreamReader({ includeChunks: true, decompressHandlers: decompressHandlers(), validateCrcs: true });
  const out: McapContents = { schemas: new Map(), channels: new Map(), messages: [], metadata: new Map() };
  reader.append(buf);
  // Offset of the end of the last whole top-level record (records inside a chunk come after it and leave it be).
  let at = 8;
  let inChunk = false;
  for (;;) {
    let record;
    const before = buf.length - reader.bytesRemaining();
    try {
      record = reader.nextRecord();
    } catch (err) {
      const msg = (err as Error).message;
      const hint = /compression/i.test(msg) ? ' (paddock reads uncompressed and zstd chunks)' : '';
      throw new BundleError(`${file}: offset ${inChunk ? at : before}: corrupt ${inChunk ? 'chunk' : 'record'}: ${msg}${hint}`);
    }
    if (!record) break;
    const after = buf.length - reader.bytesRemaining();
    if (after !== before) {
      at = after;
      inChunk = record.type === 'Chunk';
    }
    switch (record.type) {
      case 'Schema':
        out.schemas.set(record.id, record);
        break;
      case 'Channel':
        out.channels.set(record.id, record);
        break;
      case 'Message':
        out.messages.push(record);
        break;
      case 'Metadata':
        out.metadata.set(record.name, record.metadata);
        break;
      default:
        break;
    }
  }
  if (!reader.done()) {
    throw new BundleError(`${file}: offset ${at}: truncated at offset ${buf.length}: the file ends inside ${recordAt(buf, at)} (an MCAP file ends with a Footer record and the magic)`);
  }
  return out;
}

type Decode = (data: Uint8Array) => unknown;

/** A decoder for a channel's messages from its message encoding and schema. */
function decoderFor(file: string, channel: TypedMcapRecords['Channel'], schema: TypedMcapRecords['Schema'] | undefined): Decode {
  const where = `channel ${channel.id} (${channel.topic})`;
  const enc = channel.messageEncoding;
  if (enc === 'json') {
    const text = new TextDecoder();
    return (data) => JSON.parse(text.decode(data));
  }
  if (!schema) throw new BundleError(`${file}: ${where}: message encoding '${enc}' needs a schema, and the channel has none (schema id ${channel.schemaId})`);
  if (enc === 'protobuf') {
    if (schema.encoding !== 'protobuf') throw new BundleError(`${file}: ${where}: protobuf messages with a '${schema.encoding}' schema; expected a protobuf FileDescriptorSet`);
    let type;
    try {
      type = protobufTypeFromDescriptor(schema.data, schema.name);
    } catch (err) {
      throw new BundleError(`${file}: ${where}: unknown schema: the FileDescriptorSet of '${schema.name}' does not define it (${(err as Error).message})`);
    }
    return (data) => type.toObject(type.decode(data), { longs: String, defaults: true, arrays: true });
  }
  if (enc === 'cdr') {
    if (schema.encoding !== 'ros2msg') throw new BundleError(`${file}: ${where}: CDR messages with a '${schema.encoding}' schema; paddock reads ros2msg definitions (not ros2idl)`);
    let reader: MessageReader;
    try {
      reader = new MessageReader(parseRosMsg(new TextDecoder().decode(schema.data), { ros2: true }));
    } catch (err) {
      throw new BundleError(`${file}: ${where}: unknown schema: the ros2msg definition of '${schema.name}' does not parse (${(err as Error).message})`);
    }
    return (data) => reader.readMessage(data);
  }
  throw new BundleError(`${file}: ${where}: unknown message encoding '${enc}' (schema '${schema.name}', ${schema.encoding}); paddock reads protobuf, json and cdr`);
}

/** The messages of the topics a drive is made of, decoded. */
export function decodeMcap(file: string, contents: McapContents, opts: ReadBundleOptions = {}): DecodedMessage[] {
  const wanted = new Set(Object.values(roleTopics(opts.topics)));
  const decoders = new Map<number, Decode>();
  const out: DecodedMessage[] = [];
  for (const m of contents.messages) {
    const channel = contents.channels.get(m.channelId)!;
    if (!wanted.has(channel.topic)) continue;
    const schema = contents.schemas.get(channel.schemaId);
    let decode = decoders.get(channel.id);
    if (!decode) decoders.set(channel.id, (decode = decoderFor(file, channel, schema)));
    const where = `message ${m.sequence} on ${channel.topic} (log time ${m.logTime} ns)`;
    let value: unknown;
    try {
      value = decode(m.data);
    } catch (err) {
      throw new BundleError(`${file}: ${where}: cannot decode as ${schema?.name ?? channel.messageEncoding}: ${(err as Error).message}`);
    }
    out.push({ topic: channel.topic, schema: schema?.name ?? '', logNs: m.logTime, where, value });
  }
  return out;
}

/** A drive from an MCAP bundle, with the file's sha256. */
export function readDriveBundleSync(file: string, opts: ReadBundleOptions = {}): DriveBundle {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new BundleError(`${file}: cannot read the bundle: ${(err as Error).message}`);
  }
  const sha256 = createHash('sha256').update(buf).digest('hex');
  const contents = readMcapRecords(file, buf);
  const inFile = [...contents.channels.values()].map((c): [string, string] => [c.topic, contents.schemas.get(c.schemaId)?.name ?? c.messageEncoding]);
  return assembleDrive(file, sha256, decodeMcap(file, contents, opts), contents.metadata.get(DRIVE_METADATA), opts, inFile);
}

/** A drive from an MCAP bundle: frames in capture-time order, GT and ego joined, the file's sha256 in info. */
export async function readDriveBundle(file: string, opts: ReadBundleOptions = {}): Promise<DriveBundle> {
  return readDriveBundleSync(file, opts);
}
