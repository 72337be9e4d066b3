/**
 * The parameters of the package stage's built-in steps, from a recipe step's `with`: paths made
 * absolute (relative to the recipe), a recipe model named by `model:` expanded to its checkpoint,
 * committed ONNX (with the sha256 the recipe pins) and inference contract, and the pack's own
 * files (<pack>/model.onnx ...) as the defaults of later steps.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Recipe } from '../src/schema/recipe.js';
import { installRoot } from '../src/files/install-root.js';
import { pythonBin } from '../src/pack/python.js';

export const PACKAGE_STEPS = ['stage', 'export', 'coverage', 'variants', 'equivalence', 'bench-variants', 'triton-repo', 'contract-smoke', 'sbom', 'sign', 'publish', 'import-bench', 'torch-bench'] as const;
export type PackageStep = (typeof PACKAGE_STEPS)[number];

type With = Record<string, unknown>;

/** Keys whose string values are paths, anywhere in `with`. */
const PATH_KEYS = new Set(['pack', 'onnx', 'reference', 'contract', 'manifest', 'slices', 'file', 'plan', 'key_file', 'public_key', 'checkpoint', 'state_file', 'frame']);

function absolutize(v: unknown, baseDir: string, key = ''): unknown {
  if (typeof v === 'string') return PATH_KEYS.has(key) && !isAbsolute(v) ? resolve(baseDir, v) : v;
  if (Array.isArray(v)) return v.map((x) => absolutize(x, baseDir, key === 'variants' ? '' : key));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, absolutize(x, baseDir, k)]));
  return v;
}

function modelFiles(recipe: Recipe, name: unknown, baseDir: string, stepId: string) {
  if (typeof name !== 'string' || !recipe.models[name]) throw new Error(`step ${stepId}: "model" must name one of the recipe's models (${Object.keys(recipe.models).join(', ')})`);
  const m = recipe.models[name];
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const onnx = m.onnx && { path: abs(m.onnx.path), sha256: m.onnx.sha256 };
  const checkpoint = m.checkpoint && { path: abs(m.checkpoint.path), sha256: m.checkpoint.sha256 };
  const contractDir = onnx ? dirname(onnx.path) : checkpoint ? dirname(checkpoint.path) : undefined;
  return { name, version: m.version, onnx, checkpoint, contractDir };
}

function contractIo(contractDir: string | undefined) {
  if (!contractDir) return {};
  try {
    const c = JSON.parse(readFileSync(join(contractDir, 'inference_config.json'), 'utf8')) as { input: { name: string; shape: number[] }; outputs: Record<string, unknown> };
    return { input: { name: c.input.name, shape: c.input.shape }, outputs: Object.keys(c.outputs) };
  } catch {
    return {};
  }
}

/**
 * The command line of a package step: [node, dist/step.js, uses, params] or, for export, the
 * Python script. `inputs` are files whose digests enter the step's input digest.
 */
export function packageStepCommand(uses: PackageStep, stepId: string, w0: With, recipe: Recipe, baseDir: string, stepEntry: string): { command: string[]; inputs: string[] } {
  const w = absolutize(w0, baseDir) as With;
  const pack = w.pack as string | undefined;
  if (!pack && uses !== 'publish') throw new Error(`step ${stepId}: "pack" (the pack directory, e.g. packs/<task>/<version>) is required`);
  const packOnnx = pack ? join(pack, 'model.onnx') : '';
  const node = (params: With, inputs: string[] = []) => ({ command: [process.execPath, stepEntry, uses, JSON.stringify(params)], inputs });
  const m = w.model !== undefined ? modelFiles(recipe, w.model, baseDir, stepId) : undefined;
  const { model: _model, ...rest } = w;
  switch (uses) {
    case 'stage': {
      const artifacts = m ? [m.onnx && { name: `${m.name}.onnx`, ...m.onnx }, m.checkpoint && { name: `${m.name}.checkpoint`, ...m.checkpoint }].filter(Boolean) : [];
      // Every container image a step of the recipe names, to be resolved to its id by the stage step.
      const images = [...new Set([...(['package', 'evaluate', 'replay', 'promote'] as const).flatMap((st) => recipe.stages[st].flatMap((s) => (s.container?.image ? [s.container.image] : []))), ...((w.images as string[]) ?? [])])];
      const params = { ...rest, images, artifacts: [...artifacts, ...((w.artifacts as unknown[]) ?? [])], checkpoint: m?.checkpoint?.path, ...contractIo(m?.contractDir) };
      return node(params, artifacts.map((a) => (a as { path: string }).path));
    }
    case 'export': {
      if (!m?.checkpoint) throw new Error(`step ${stepId}: the model needs a checkpoint to export`);
      const params = { ...rest, checkpoint: m.checkpoint.path, out: pack, ...contractIo(m.contractDir) };
      return { command: [pythonBin(), join(installRoot(), 'runners', 'python', 'export.py'), JSON.stringify(params)], inputs: [m.checkpoint.path] };
    }
    case 'torch-bench': {
      if (!m?.checkpoint) throw new Error(`step ${stepId}: the model needs a checkpoint to benchmark with PyTorch`);
      const params = { ...rest, checkpoint: m.checkpoint.path, model: m.name, ...contractIo(m.contractDir) };
      return { command: [pythonBin(), join(installRoot(), 'runners', 'python', 'torch_bench.py'), JSON.stringify(params)], inputs: [m.checkpoint.path] };
    }
    case 'coverage': {
      const targets = recipe.targets.filter((t) => !w.targets || (w.targets as string[]).includes(t.name)).map((t) => ({ name: t.name, backend: t.backend, precision: t.precision, ...(t.operators ? { operators: t.operators } : {}) }));
      return node({ ...rest, model: (w.onnx as string) ?? packOnnx, targets, onnx: undefined }, []);
    }
    case 'variants':
      return node({ ...rest, onnx: undefined, model: (w.onnx as string) ?? packOnnx, contract: m?.contractDir ?? w.contract });
    case 'equivalence': {
      return node({ ...rest, reference: (w.reference as string) ?? packOnnx, contract: m?.contractDir ?? w.contract, variants: variantPaths(w.variants, pack!) });
    }
    case 'bench-variants': {
      return node({ ...rest, variants: variantPaths(w.variants, pack!), model: m?.name ?? 'model' });
    }
    case 'sign':
      return node({ ...rest, ...(m ? { model: m.name, version: m.version, contract: m.contractDir, lineage: { ...recipe.models[m.name].lineage, onnx: m.onnx, checkpoint: m.checkpoint } } : {}) });
    case 'triton-repo':
    case 'sbom':
    case 'contract-smoke':
      return node({ ...rest, ...(m ? { model: m.name, version: m.version, contract: m.contractDir } : {}) });
    case 'publish':
    case 'import-bench':
      return node({ ...rest });
  }
}

/** Variants name a pack file (`model:`, relative to the pack) or any file (`file:`, relative to the recipe). */
function variantPaths(list: unknown, pack: string): With[] {
  return ((list as With[]) ?? []).map(({ file, ...v }) => ({ ...v, model: file ?? (isAbsolute(v.model as string) ? v.model : resolve(pack, String(v.model))) }));
}
