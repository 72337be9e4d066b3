/**
 * paddock's step image, built on any Docker host without a registry:
 *
 * 1. base: `docker import` of a root filesystem holding busybox-static (a shell and the usual
 *    tools in one static binary), tagged paddock-base:busybox-<digest>;
 * 2. step: `docker build` FROM that base, adding this machine's Node binary and the shared
 *    libraries it and onnxruntime-node load (found with ldd), and paddock's built step entry
 *    point (dist/) with onnxruntime-node; tagged paddock-step:<version> and
 *    paddock-step:<version>-<digest>.
 *
 * Both go through dockerode (POST /images/create?fromSrc=-, POST /build), so an ssh:// host
 * gets them over its tunnel. The binaries are this machine's: a host of another architecture
 * (an aarch64 Orin board from an x86_64 desk) is refused with a message, not given a broken
 * image. Tags carry a digest of the content, so a build with the same content is skipped.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, realpathSync, lstatSync, readlinkSync } from 'node:fs';
import { join, relative, sep, posix } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import type Docker from 'dockerode';
import { installRoot } from '../src/files/install-root.js';

export const BUSYBOX = '/bin/busybox';

interface ImageFile {
  /** Path inside the image, no leading slash. */
  name: string;
  /** File on this machine, or inline content. */
  file?: string;
  content?: Buffer;
  mode: number;
  /** A symbolic link to this target. */
  link?: string;
}

function fileEntry(name: string, file: string): ImageFile {
  return { name, file, mode: statSync(file).mode & 0o777 };
}

/** The shared libraries `bin` needs, from ldd, as image files at their real paths plus the linked names. */
function sharedLibraries(bins: string[]): ImageFile[] {
  const out = new Map<string, ImageFile>();
  for (const bin of bins) {
    const text = execFileSync('ldd', [bin], { encoding: 'utf8' });
    for (const line of text.split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (!m) continue;
      const path = m[1];
      if (path.startsWith(installRoot())) continue; // our own (libonnxruntime), copied with its package
      const real = realpathSync(path);
      out.set(real, fileEntry(real.slice(1), real));
      if (real !== path) out.set(path, { name: path.slice(1), mode: 0o777, link: real });
      // ld.so is also linked from /lib64 on x86_64.
    }
  }
  return [...out.values()];
}

function walk(dir: string, under: string, keep: (rel: string) => boolean = () => true): ImageFile[] {
  const out: ImageFile[] = [];
  const go = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p).split(sep).join('/');
      if (!keep(rel)) continue;
      if (e.isDirectory()) go(p);
      else if (e.isFile()) out.push(fileEntry(posix.join(under, rel), p));
      else if (e.isSymbolicLink()) out.push({ name: posix.join(under, rel), mode: 0o777, link: readlinkSync(p) });
    }
  };
  go(dir);
  return out;
}

/** The base root filesystem: busybox-static and its applets, /etc/passwd, /tmp. */
export function baseFiles(): ImageFile[] {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (npm test installs it as root)`);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  return [
    fileEntry('bin/busybox', BUSYBOX),
    ...applets.map((a) => ({ name: `bin/${a}`, mode: 0o777, link: 'busybox' })),
    { name: 'etc/passwd', content: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n'), mode: 0o644 },
    { name: 'etc/group', content: Buffer.from('root:x:0:\nnogroup:x:65534:\n'), mode: 0o644 },
  ];
}

/**
 * What the step image adds: Node, its libraries, dist/, data/ (operator lists), onnxruntime-node
 * (this platform only), and a package.json named paddock so that steps find their install root
 * (src/files/install-root.ts) inside the container as they do here.
 */
export function stepFiles(): ImageFile[] {
  const root = installRoot();
  const dist = join(root, 'dist');
  if (!existsSync(join(dist, 'step.js'))) throw new Error(`${dist}/step.js is missing: run "npm run build" first`);
  const ort = join(root, 'node_modules', 'onnxruntime-node');
  const platform = `bin/napi-v6/${process.platform}/${process.arch}`;
  const binding = join(ort, platform, 'onnxruntime_binding.node');
  return [
    fileEntry('usr/local/bin/node', process.execPath),
    ...sharedLibraries([process.execPath, binding]),
    ...walk(dist, 'opt/paddock/dist'),
    ...walk(join(root, 'data'), 'opt/paddock/data'),
    { name: 'opt/paddock/package.json', content: Buffer.from('{"name":"paddock","private":true,"type":"module"}\n'), mode: 0o644 },
    ...walk(ort, 'opt/paddock/node_modules/onnxruntime-node', (rel) => rel === 'package.json' || rel === 'dist' || rel.startsWith('dist/') || rel === 'bin' || platform.startsWith(rel) || rel.startsWith(platform)),
    ...walk(join(root, 'node_modules', 'onnxruntime-common'), 'opt/paddock/node_modules/onnxruntime-common'),
  ];
}

function digestOf(files: ImageFile[], extra: string): string {
  const h = createHash('sha256').update(extra);
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    h.update(`${f.name}\0${f.mode}\0${f.link ?? ''}\0`);
    if (f.content) h.update(f.content);
    else if (f.file) {
      const st = lstatSync(f.file);
      // Small files (dist/) by content, so a rebuild with the same output keeps the image; the
      // large binaries (node, libonnxruntime: 150 MB, seconds to hash) by size and mtime.
      if (st.size < 8 * 1024 * 1024) h.update(readFileSync(f.file));
      else h.update(`${st.size}:${st.mtimeMs}`);
    }
  }
  return h.digest('hex').slice(0, 12);
}

function tarOf(files: ImageFile[], prefix = '', extra: { name: string; content: Buffer }[] = []): Readable {
  const pack = tar.pack();
  (async () => {
    const dirs = new Set<string>();
    const addDirs = (name: string) => {
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const d = parts.slice(0, i).join('/');
        if (!dirs.has(d)) {
          dirs.add(d);
          pack.entry({ name: prefix + d, type: 'directory', mode: d === 'tmp' ? 0o1777 : 0o755 });
        }
      }
    };
    addDirs('tmp/x');
    for (const e of extra) pack.entry({ name: e.name, mode: 0o644 }, e.content);
    for (const f of files) {
      addDirs(f.name);
      if (f.link) pack.entry({ name: prefix + f.name, type: 'symlink', linkname: f.link, mode: 0o777 });
      else {
        const content = f.content ?? readFileSync(f.file!);
        await new Promise<void>((res, rej) => pack.entry({ name: prefix + f.name, mode: f.mode }, content, (err) => (err ? rej(err) : res())));
      }
    }
    pack.finalize();
  })().catch((err: Error) => pack.destroy(err));
  return pack as unknown as Readable;
}

async function follow(docker: Docker, stream: NodeJS.ReadableStream, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, out: { error?: string; errorDetail?: { message?: string } }[]) => {
        const bad = out?.find((o) => o.error || o.errorDetail);
        if (err || bad) reject(new Error(`${what}: ${err?.message ?? bad?.errorDetail?.message ?? bad?.error}`));
        else resolve();
      },
      () => undefined,
    );
  });
}

async function hasImage(docker: Docker, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

export interface BuiltImage {
  ref: string;
  id: string;
  built: boolean;
}

/** Builds (or finds) the base and step images on a host; returns the step image. */
export async function buildStepImage(docker: Docker, onLog: (line: string) => void = () => undefined, opts: { prune?: boolean } = {}): Promise<BuiltImage> {
  const info = (await docker.info()) as { Architecture?: string };
  const mine = ARCH[process.arch] ?? process.arch;
  if (info.Architecture && info.Architecture !== mine) {
    throw new Error(`the host is ${info.Architecture} and this machine ${mine}: the step image carries this machine's Node binary; build it on a ${info.Architecture} machine`);
  }
  const version = (JSON.parse(readFileSync(join(installRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const base = baseFiles();
  const baseRef = `paddock-base:busybox-${digestOf(base, 'base')}`;
  if (!(await hasImage(docker, baseRef))) {
    onLog(`importing ${baseRef} (busybox-static root filesystem)`);
    const [repo, tag] = baseRef.split(':');
    await follow(docker, await docker.importImage(tarOf(base), { repo, tag }), `docker import ${baseRef}`);
  }
  const files = stepFiles();
  const digest = digestOf(files, baseRef);
  const ref = `paddock-step:${version}-${digest}`;
  let id = await hasImage(docker, ref);
  const built = !id;
  if (!id) {
    onLog(`building ${ref} from ${baseRef} (${files.length} files)`);
    const dockerfile = [
      `FROM ${baseRef}`,
      'COPY rootfs/ /',
      'ENV PATH=/usr/local/bin:/bin NODE_ENV=production',
      'WORKDIR /work',
      `LABEL paddock=1 paddock.version=${version} paddock.step-entry=/opt/paddock/dist/step.js`,
      '',
    ].join('\n');
    const context = tarOf(files, 'rootfs/', [{ name: 'Dockerfile', content: Buffer.from(dockerfile) }]);
    await follow(docker, await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: ref, rm: true, forcerm: true }), `docker build ${ref}`);
    id = (await hasImage(docker, ref))!;
  }
  await docker.getImage(id).tag({ repo: 'paddock-step', tag: version });
  if (built && opts.prune !== false) {
    // Earlier builds of this version (other content digests) are replaced: remove their tags.
    const old = await docker.listImages({ filters: { reference: [`paddock-step:${version}-*`] } });
    for (const im of old) for (const t of im.RepoTags ?? []) if (t !== ref && t.startsWith(`paddock-step:${version}-`)) await docker.getImage(t).remove({ noprune: false }).catch(() => undefined);
  }
  return { ref, id, built };
}

/** The step image's moving tag for this version of paddock. */
export function stepImageRef(): string {
  const version = (JSON.parse(readFileSync(join(installRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return `paddock-step:${version}`;
}

/** Inside the step image: how to run a built-in step. */
export const STEP_ENTRY = ['/usr/local/bin/node', '/opt/paddock/dist/step.js'];
