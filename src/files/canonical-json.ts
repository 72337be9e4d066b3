/**
 * JSON with sorted keys and no undefined members, so that a digest or a signature does not
 * depend on key order: `{"a":1,"b":[2,{"c":3}]}`. Used for input digests (src/pipeline) and for
 * everything the registry hashes or signs (src/registry).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
