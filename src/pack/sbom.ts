/**
 * CycloneDX 1.6 JSON for a pack: every model file as a `machine-learning-model` component
 * (SHA-256, opset, precision, the calibration cache's hash for INT8), the pack's other files as
 * `file` components, the npm packages of the lock file (purl, SHA-512 from the lock's integrity)
 * and the Python packages the stage step recorded.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SbomModel {
  file: string;
  name: string;
  version: string;
  sha256: string;
  opset?: number;
  precision: string;
  format: string;
  calibrationCacheSha256?: string;
}

const prop = (name: string, value: string | number | undefined) => (value === undefined ? [] : [{ name, value: String(value) }]);

/**
 * The lockfile that says what npm packages paddock runs with: the checkout's package-lock.json,
 * else (an installed paddock: npm never packs package-lock.json) the hidden lockfile npm 7+
 * writes for the tree it installed, node_modules/.package-lock.json, which lists the versions
 * actually installed. Undefined when neither is there.
 */
export function npmLockFile(root: string): string | undefined {
  return [join(root, 'package-lock.json'), join(root, 'node_modules', '.package-lock.json')].find((f) => existsSync(f));
}

/** npm packages from a package-lock.json v2/v3 ("packages" map), with purls and hashes. */
export function npmComponents(lockFile: string): object[] {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages?: Record<string, { version?: string; integrity?: string; license?: string; dev?: boolean }> };
  const out: object[] = [];
  for (const [path, pkg] of Object.entries(lock.packages ?? {})) {
    if (!path || !pkg.version) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const purl = `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${pkg.version}`;
    const hashes = [];
    const m = /^sha512-(.+)$/.exec(pkg.integrity ?? '');
    if (m) hashes.push({ alg: 'SHA-512', content: Buffer.from(m[1], 'base64').toString('hex') });
    out.push({
      type: 'library',
      'bom-ref': `${purl}#${path}`,
      name,
      version: pkg.version,
      purl,
      ...(hashes.length ? { hashes } : {}),
      ...(pkg.license ? { licenses: [{ expression: pkg.license }] } : {}),
      scope: pkg.dev ? 'excluded' : 'required',
    });
  }
  return out;
}

export function buildSbom(opts: {
  name: string;
  version: string;
  paddockVersion: string;
  models: SbomModel[];
  files: { path: string; sha256: string; bytes: number }[];
  npm: object[];
  python: Record<string, string>;
  timestamp?: string;
}): object {
  const models = opts.models.map((m) => ({
    type: 'machine-learning-model',
    'bom-ref': `model:${m.file}`,
    name: `${m.name}${m.precision === 'fp32' ? '' : `-${m.precision}`}`,
    version: m.version,
    hashes: [{ alg: 'SHA-256', content: m.sha256 }],
    properties: [...prop('paddock:file', m.file), ...prop('paddock:format', m.format), ...prop('paddock:onnx:opset', m.opset), ...prop('paddock:precision', m.precision), ...prop('paddock:calibration-cache:sha256', m.calibrationCacheSha256)],
    modelCard: { modelParameters: { task: 'object-detection', architectureFamily: 'CenterNet' }, properties: prop('paddock:precision', m.precision) },
  }));
  const modelFiles = new Set(opts.models.map((m) => m.file));
  const files = opts.files
    .filter((f) => !modelFiles.has(f.path))
    .map((f) => ({ type: 'file', 'bom-ref': `file:${f.path}`, name: f.path, hashes: [{ alg: 'SHA-256', content: f.sha256 }], properties: prop('paddock:bytes', f.bytes) }));
  const python = Object.entries(opts.python)
    .filter(([k, v]) => k !== 'python' && !v.startsWith('missing'))
    .map(([k, v]) => ({ type: 'library', 'bom-ref': `pkg:pypi/${k}@${v}`, name: k, version: v, purl: `pkg:pypi/${k}@${encodeURIComponent(v)}` }));
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: opts.timestamp ?? new Date().toISOString(),
      tools: { components: [{ type: 'application', name: 'paddock', version: opts.paddockVersion }] },
      component: { type: 'machine-learning-model', 'bom-ref': `pack:${opts.name}@${opts.version}`, name: opts.name, version: opts.version },
    },
    components: [...models, ...files, ...opts.npm, ...python],
    dependencies: [{ ref: `pack:${opts.name}@${opts.version}`, dependsOn: [...models.map((m) => m['bom-ref'])] }],
  };
}
