/**
 * The message schemas of a drive bundle: foxglove's standard schemas as protobuf, generated at
 * first use from @foxglove/schemas' own definitions (its generateProto, the source of the .proto
 * files foxglove publishes) and turned into the FileDescriptorSet an MCAP Schema record carries.
 * Nothing is written by hand, so a field foxglove adds or renames shows up here with the package.
 *
 * Protobuf rather than JSON: Foxglove reads both natively, but JSON would carry every image as
 * base64 (a third larger) and parse slower; protobuf is also what foxglove's own SDK writes.
 */
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { foxgloveEnumSchemas, foxgloveMessageSchemas, generateProto } from '@foxglove/schemas/internal.js';

/** The foxglove schemas a paddock bundle writes, by their short name. */
export const BUNDLE_SCHEMAS = ['CompressedImage', 'CameraCalibration', 'FrameTransform', 'Odometry', 'SceneUpdate'] as const;
export type BundleSchemaName = (typeof BUNDLE_SCHEMAS)[number];

type SchemaKey = keyof typeof foxgloveMessageSchemas;

/** Well-known protobuf types the foxglove schemas import, as protobufjs ships them. */
const WELL_KNOWN: Record<string, string> = {
  'google/protobuf/timestamp.proto': 'google/protobuf/timestamp.proto',
  'google/protobuf/duration.proto': 'google/protobuf/duration.proto',
};

/** The .proto text of a foxglove schema (with its nested enums), as foxglove generates it. */
function protoText(name: SchemaKey): string {
  const schema = foxgloveMessageSchemas[name];
  const enums = Object.values(foxgloveEnumSchemas).filter((e) => e.parentSchemaName === schema.name);
  return generateProto(schema, enums);
}

/** A protobufjs root holding `name` and everything it imports, field names as in the .proto (snake_case). */
function rootFor(name: SchemaKey): protobuf.Root {
  const root = new protobuf.Root();
  const seen = new Set<string>();
  const add = (key: SchemaKey) => {
    if (seen.has(key)) return;
    seen.add(key);
    const text = protoText(key);
    for (const m of text.matchAll(/^import "([^"]+)";$/gm)) {
      const file = m[1];
      const wk = WELL_KNOWN[file];
      if (wk) {
        if (!seen.has(wk)) {
          seen.add(wk);
          const common = protobuf.common.get(wk);
          if (!common?.nested) throw new Error(`protobufjs lacks the well-known type ${wk}`);
          root.addJSON(common.nested);
        }
        continue;
      }
      const dep = /^foxglove\/(\w+)\.proto$/.exec(file)?.[1];
      if (!dep || !(dep in foxgloveMessageSchemas)) throw new Error(`foxglove schema ${String(key)} imports ${file}, which @foxglove/schemas does not define`);
      add(dep as SchemaKey);
    }
    protobuf.parse(text, root, { keepCase: true });
  };
  add(name);
  root.resolveAll();
  return root;
}

export interface BundleSchema {
  /** The MCAP schema name, e.g. foxglove.CompressedImage. */
  name: string;
  /** The serialized FileDescriptorSet (schema encoding 'protobuf'). */
  data: Uint8Array;
  type: protobuf.Type;
}

const cache = new Map<BundleSchemaName, BundleSchema>();

/** One foxglove schema as protobuf: its MCAP name, descriptor bytes and encoder. */
export function bundleSchema(name: BundleSchemaName): BundleSchema {
  let s = cache.get(name);
  if (!s) {
    const root = rootFor(name);
    const data = descriptor.FileDescriptorSet.encode((root as unknown as { toDescriptor(syntax: string): descriptor.IFileDescriptorSet }).toDescriptor('proto3')).finish();
    s = { name: `foxglove.${name}`, data, type: root.lookupType(`foxglove.${name}`) };
    cache.set(name, s);
  }
  return s;
}

/** The protobuf type `name` out of a Schema record's FileDescriptorSet (any writer's). */
export function protobufTypeFromDescriptor(data: Uint8Array, name: string): protobuf.Type {
  const set = descriptor.FileDescriptorSet.decode(data) as unknown as descriptor.IFileDescriptorSet;
  const root = (protobuf.Root as unknown as { fromDescriptor(d: descriptor.IFileDescriptorSet): protobuf.Root }).fromDescriptor(set);
  return root.lookupType(name);
}
