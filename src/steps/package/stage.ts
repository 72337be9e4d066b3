/**
 * The `stage` step: pin the environment (Node, onnxruntime-node, PyTorch, ONNX, NumPy, the
 * lock files' digests, container images by id where a target runs in one), verify every input
 * artifact's sha256 against the recipe (a mismatch fails and shows both digests), and run a smoke
 * forward of the checkpoint (one seeded batch; NaN or Inf fails).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { emit } from '../emit.js';
import { sha256FileSync } from '../../files/digest.js';
import { installRoot } from '../../files/install-root.js';
import { pythonBin } from '../../pack/python.js';
import { Architecture, log, writeReport, holdPack } from './common.js';
import { localDocker, findImage } from '../../../runners/docker-client.js';

export const StageParams = z
  .object({
    pack: z.string().min(1),
    /** Files to verify: path and the sha256 the recipe pins. */
    artifacts: z.array(z.object({ name: z.string().min(1), path: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/).optional() }).strict()).default([]),
    checkpoint: z.string().min(1).optional(),
    architecture: Architecture.optional(),
    input: z.object({ name: z.string(), shape: z.array(z.number().int()) }).passthrough().optional(),
    outputs: z.array(z.string()).default([]),
    /** Container images the recipe's steps run in, resolved to image ids on the Docker engine. */
    images: z.array(z.string().min(1)).default([]),
    /** The engine to resolve them on: a unix socket (default $DOCKER_HOST's, else /var/run/docker.sock). */
    docker_socket: z.string().optional(),
  })
  .strict();

const PY_VERSIONS = 'import json, sys\nout = {"python": sys.version.split()[0]}\nfor m in ("torch", "onnx", "numpy"):\n    try:\n        out[m] = __import__(m).__version__\n    except Exception as e:\n        out[m] = "missing (%s)" % e\nprint(json.dumps(out))';

/** Each image reference with its id and repo digests on the engine, or why it could not be resolved. */
async function resolveImages(refs: string[], socketParam?: string): Promise<{ ref: string; id?: string; repo_digests?: string[]; error?: string }[]> {
  if (!refs.length) return [];
  const { socket, docker, why } = await localDocker(socketParam);
  if (!docker) return refs.map((ref) => ({ ref, error: `not resolved: ${why}` }));
  return Promise.all(
    refs.map(async (ref) => {
      const r = await findImage(docker, socket, ref);
      if ('id' in r) return { ref, id: r.id, repo_digests: r.repoDigests };
      return { ref, error: `not resolved on ${socket}: ${r.missing ? 'no such image' : r.why}` };
    }),
  );
}

export async function runStage(p: z.infer<typeof StageParams>): Promise<number> {
  await holdPack(p.pack);
  const root = installRoot();
  const env: Record<string, unknown> = {
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    onnxruntime_node: JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version,
    paddock: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
  };
  const lock = join(root, 'package-lock.json');
  env.lock_files = existsSync(lock) ? { 'package-lock.json': sha256FileSync(lock).sha256 } : {};
  const py = await execa(pythonBin(), ['-c', PY_VERSIONS], { reject: false });
  env.python = py.exitCode === 0 ? JSON.parse(py.stdout) : { error: `${pythonBin()} failed: ${String(py.stderr || py.message || '').split('\n').slice(-1)[0]}` };
  env.python_executable = pythonBin();
  env.container_images = await resolveImages(p.images, p.docker_socket);
  for (const im of env.container_images as { ref: string; id?: string; error?: string }[]) log(im.id ? `image ${im.ref}: ${im.id}` : `image ${im.ref}: ${im.error}`, im.id ? 'info' : 'warn');
  log(`environment: node ${env.node}, onnxruntime-node ${env.onnxruntime_node}, ${Object.entries(env.python as object).map(([k, v]) => `${k} ${v}`).join(', ')}`);

  const verified: { name: string; path: string; sha256: string; bytes: number; pinned: boolean }[] = [];
  const mismatches: string[] = [];
  for (const a of p.artifacts) {
    if (!existsSync(a.path)) {
      mismatches.push(`${a.name}: ${a.path} does not exist`);
      continue;
    }
    const d = sha256FileSync(a.path);
    if (a.sha256 && a.sha256 !== d.sha256) mismatches.push(`${a.name}: ${a.path}\n  recipe: ${a.sha256}\n  file:   ${d.sha256}`);
    verified.push({ name: a.name, path: a.path, sha256: d.sha256, bytes: d.bytes, pinned: Boolean(a.sha256) });
    emit({ type: 'metric', name: 'stage.artifact_verified', value: a.sha256 && a.sha256 === d.sha256 ? 1 : 0, target: a.name, denominators: { bytes: d.bytes } });
  }
  const unpinned = verified.filter((v) => !v.pinned).map((v) => v.name);
  if (unpinned.length) log(`no sha256 in the recipe for: ${unpinned.join(', ')} (recorded, not verified)`, 'warn');
  if (mismatches.length) {
    writeReport(p.pack, 'stage', { status: 'failed', environment: env, artifacts: verified, errors: mismatches });
    process.stderr.write(`stage: artifact digests do not match the recipe:\n${mismatches.join('\n')}\n`);
    return 1;
  }
  log(`verified ${verified.length - unpinned.length} artifact digest(s) against the recipe`);

  let smoke: Record<string, unknown> = { status: 'not run (no checkpoint given)' };
  if (p.checkpoint && p.architecture) {
    const script = join(root, 'runners', 'python', 'export.py');
    const params = { checkpoint: p.checkpoint, architecture: p.architecture, input: p.input, outputs: p.outputs, smoke_only: true };
    const r = await execa(pythonBin(), [script, JSON.stringify(params)], { reject: false });
    // The script's own event lines go through as they are.
    for (const line of r.stdout.split('\n')) if (line.trim()) process.stdout.write(`${line}\n`);
    if (r.exitCode !== 0) {
      const why = r.stderr.split('\n').filter((l) => l.startsWith('export:')).join('; ') || r.stderr.split('\n').slice(-3).join(' ');
      writeReport(p.pack, 'stage', { status: 'failed', environment: env, artifacts: verified, smoke: { status: 'failed', error: why } });
      process.stderr.write(`stage: smoke forward failed: ${why}\n`);
      return 1;
    }
    smoke = { status: 'passed', checkpoint: p.checkpoint, batch: 2 };
  }
  writeReport(p.pack, 'stage', { status: 'succeeded', environment: env, artifacts: verified, smoke });
  return 0;
}
