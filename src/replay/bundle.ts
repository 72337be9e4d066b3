/**
 * Drive log bundles (docs/replay.md, "Log bundles"): the writer, the MCAP reader, and readDrive,
 * which reads whichever a file is (an MCAP bundle, or a ROS 2 .db3 bag) into the same shapes.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { BundleError, type DriveBundle } from './bundle-assemble.js';
import { readDriveBundle, type ReadBundleOptions } from './bundle-read.js';
import { readRosbag2 } from './rosbag.js';

export { BundleError, assembleDrive, canonicalSchema, quaternionYaw, type DecodedMessage, type DriveBundle, type AssembleOptions } from './bundle-assemble.js';
export { readDriveBundle, readDriveBundleSync, readMcapRecords, decodeMcap, type ReadBundleOptions } from './bundle-read.js';
export { DriveBundleWriter, writeDriveBundle, yawQuaternion, zstdAvailable, DEFAULT_TOPICS, DRIVE_METADATA, type BundleHeader, type BundleTopics, type WriteBundleOptions, type WrittenBundle } from './bundle-write.js';
export { bundleSchema, BUNDLE_SCHEMAS } from './bundle-schemas.js';
export { readRosbag2 } from './rosbag.js';

/** A drive from an MCAP bundle or a ROS 2 .db3 bag, told apart by their first bytes. */
export async function readDrive(file: string, opts: ReadBundleOptions = {}): Promise<DriveBundle> {
  let head: Buffer;
  try {
    const fd = openSync(file, 'r');
    head = Buffer.alloc(16);
    try {
      readSync(fd, head, 0, 16, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new BundleError(`${file}: cannot read: ${(err as Error).message}`);
  }
  if (head.toString('latin1') === 'SQLite format 3\0') return readRosbag2(file, opts);
  return readDriveBundle(file, opts);
}
