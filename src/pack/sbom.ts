/**
 * CycloneDX 1.6 JSON for a pack: every model file as a `machine-learning-model` component
 * (SHA-256, opset, precision, the calibration cache's hash for INT8), the pack's other files as
 * `file` components, the npm packages of the lock file (purl, SHA-512 from the lock's integrity)
 * and the Python packages the stage step recorded; where the serving image was scanned, a `bom`
 * reference (with its SHA-256) to its own SBOM, scans/image.cdx.json.
 *
 * Built with @cyclonedx/cyclonedx-library's models and its JSON serializer for spec 1.6 (licenses
 * classified as SPDX ids, expressions or names; bom-refs and the dependency graph rendered by the
 * spec's rules), then checked against the spec's JSON schema by its strict validator before it is
 * written. The library has no model card model (10.3.0), so `modelCard` is added to the
 * serialized model components; the validator checks it with the rest.
 *
 * The library is loaded from node_modules at run time, not bundled: it finds its JSON schemas
 * relative to its own files (resources.node.js), which a bundle would move.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as CycloneDX from '@cyclonedx/cyclonedx-library';
import { installRoot } from '../files/install-root.js';

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

type Cdx = typeof CycloneDX;
let library: Cdx | undefined;
/** @cyclonedx/cyclonedx-library, required from paddock's install root (see the file's comment). */
function cdx(): Cdx {
  library ??= createRequire(join(installRoot(), 'package.json'))('@cyclonedx/cyclonedx-library') as Cdx;
  return library;
}

/** spdx-expression-parse (CommonJS, untyped): throws on what is not an SPDX expression; the library's license factory asks for it. */
function spdxValidate(expression: string): void {
  (createRequire(join(installRoot(), 'package.json'))('spdx-expression-parse') as (s: string) => unknown)(expression);
}

/** An npm package of the lock file, as the SBOM lists it. */
export interface NpmPackage {
  type: 'library';
  'bom-ref': string;
  name: string;
  version: string;
  purl: string;
  hashes?: { alg: 'SHA-512'; content: string }[];
  licenses?: { expression: string }[];
  scope: 'required' | 'excluded';
}

/** The serving image's SBOM, scanned by Trivy, that the pack's SBOM refers to. */
export interface SbomImageRef {
  /** Path in the pack: scans/image.cdx.json. */
  file: string;
  sha256: string;
  /** The image reference scanned, its id (sha256:...) and repo digests. */
  ref: string;
  id: string;
  repoDigests: string[];
}

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
export function npmComponents(lockFile: string): NpmPackage[] {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages?: Record<string, { version?: string; integrity?: string; license?: string; dev?: boolean }> };
  const out: NpmPackage[] = [];
  for (const [path, pkg] of Object.entries(lock.packages ?? {})) {
    if (!path || !pkg.version) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const purl = `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${pkg.version}`;
    const hashes: { alg: 'SHA-512'; content: string }[] = [];
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

/**
 * The pack's SBOM as CycloneDX 1.6 JSON text, built with the library and validated against the
 * spec's schema (rejects with the first schema errors, their JSON paths named, when it is not).
 */
export async function buildSbom(opts: {
  name: string;
  version: string;
  paddockVersion: string;
  models: SbomModel[];
  files: { path: string; sha256: string; bytes: number }[];
  npm: NpmPackage[];
  python: Record<string, string>;
  image?: SbomImageRef;
  /** Tools that contributed (Trivy for the image SBOM): name and version. */
  tools?: { name: string; version: string }[];
  timestamp?: string;
}): Promise<string> {
  const { Models, Enums, Serialize, Spec, Contrib } = cdx();
  const property = (c: { properties: CycloneDX.Models.PropertyRepository }, name: string, value: string | number | undefined) => {
    if (value !== undefined) c.properties.add(new Models.Property(name, String(value)));
  };
  const sha = (alg: 'SHA-256' | 'SHA-512', content: string) => new Models.HashDictionary([[alg as CycloneDX.Enums.HashAlgorithm, content]]);
  const licenseFactory = new Contrib.License.Factories.LicenseFactory(spdxValidate);

  const pack = new Models.Component(Enums.ComponentType.MachineLearningModel, opts.name, { bomRef: `pack:${opts.name}@${opts.version}`, version: opts.version });
  if (opts.image) {
    pack.externalReferences.add(
      new Models.ExternalReference(opts.image.file, Enums.ExternalReferenceType.BOM, {
        hashes: sha('SHA-256', opts.image.sha256),
        comment: `CycloneDX SBOM of the serving image ${opts.image.ref} (${opts.image.id}), by Trivy`,
      }),
    );
    property(pack, 'paddock:image', opts.image.ref);
    property(pack, 'paddock:image:id', opts.image.id);
    for (const d of opts.image.repoDigests) property(pack, 'paddock:image:repo-digest', d);
  }
  const tools = new Models.ComponentRepository([new Models.Component(Enums.ComponentType.Application, 'paddock', { version: opts.paddockVersion })]);
  for (const t of opts.tools ?? []) tools.add(new Models.Component(Enums.ComponentType.Application, t.name, { version: t.version }));
  const bom = new Models.Bom({
    serialNumber: `urn:uuid:${randomUUID()}`,
    metadata: new Models.Metadata({ timestamp: new Date(opts.timestamp ?? Date.now()), tools: new Models.Tools({ components: tools }), component: pack }),
  });

  const modelRefs = new Map<string, SbomModel>();
  for (const m of opts.models) {
    const c = new Models.Component(Enums.ComponentType.MachineLearningModel, `${m.name}${m.precision === 'fp32' ? '' : `-${m.precision}`}`, { bomRef: `model:${m.file}`, version: m.version, hashes: sha('SHA-256', m.sha256) });
    property(c, 'paddock:file', m.file);
    property(c, 'paddock:format', m.format);
    property(c, 'paddock:onnx:opset', m.opset);
    property(c, 'paddock:precision', m.precision);
    property(c, 'paddock:calibration-cache:sha256', m.calibrationCacheSha256);
    bom.components.add(c);
    pack.dependencies.add(c.bomRef);
    modelRefs.set(`model:${m.file}`, m);
  }
  const modelFiles = new Set(opts.models.map((m) => m.file));
  for (const f of opts.files.filter((x) => !modelFiles.has(x.path))) {
    const c = new Models.Component(Enums.ComponentType.File, f.path, { bomRef: `file:${f.path}`, hashes: sha('SHA-256', f.sha256) });
    property(c, 'paddock:bytes', f.bytes);
    bom.components.add(c);
  }
  for (const p of opts.npm) {
    const c = new Models.Component(Enums.ComponentType.Library, p.name, {
      bomRef: p['bom-ref'],
      version: p.version,
      purl: p.purl,
      scope: p.scope === 'excluded' ? Enums.ComponentScope.Excluded : Enums.ComponentScope.Required,
      ...(p.hashes?.length ? { hashes: sha('SHA-512', p.hashes[0].content) } : {}),
    });
    for (const l of p.licenses ?? []) c.licenses.add(licenseFactory.makeFromString(l.expression));
    bom.components.add(c);
  }
  for (const [k, v] of Object.entries(opts.python)) {
    if (k === 'python' || v.startsWith('missing')) continue;
    bom.components.add(new Models.Component(Enums.ComponentType.Library, k, { bomRef: `pkg:pypi/${k}@${v}`, version: v, purl: `pkg:pypi/${k}@${encodeURIComponent(v)}` }));
  }

  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  const doc = JSON.parse(serializer.serialize(bom, { sortLists: false })) as { components?: { type: string; 'bom-ref'?: string; modelCard?: object }[] };
  // The model card: what the library does not model (see the file's comment).
  for (const c of doc.components ?? []) {
    const m = c['bom-ref'] ? modelRefs.get(c['bom-ref']) : undefined;
    if (m) c.modelCard = { modelParameters: { task: 'object-detection', architectureFamily: 'CenterNet' }, properties: [{ name: 'paddock:precision', value: m.precision }] };
  }
  const text = `${JSON.stringify(doc, null, 1)}\n`;
  await validateSbom(text, 'sbom.cdx.json');
  return text;
}

/** Checks CycloneDX 1.6 JSON text against the spec's JSON schema (strict: no unknown fields); throws naming the paths at fault. */
export async function validateSbom(text: string, where: string): Promise<void> {
  const { Validation, Spec } = cdx();
  const errors = (await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text)) as { instancePath?: string; message?: string }[] | null;
  if (errors) {
    const list = Array.isArray(errors) ? errors : [errors];
    throw new Error(`${where}: not valid CycloneDX 1.6: ${list.slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message ?? JSON.stringify(e)}`).join('; ')}${list.length > 3 ? ` (and ${list.length - 3} more)` : ''}`);
  }
}
