/**
 * How the package stage's steps read a recipe step's `with`: paths made absolute (relative to
 * the recipe), a recipe model named by `model:` expanded to its checkpoint, committed ONNX (with
 * the sha256 the recipe pins) and inference contract, and the pack's own files
 * (<pack>/model.onnx ...) as the defaults of later steps.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Recipe } from '../../schema/recipe.js';
import { defineStep, pathInputs, type ContainerUse, type StepContext, type StepDefinition } from '../define.js';
import { installRoot } from '../../files/install-root.js';
import { pythonBin } from '../../pack/python.js';
import { stagePack } from './common.js';

type With = Record<string, unknown>;

/** What every package step's `with` needs: the pack; each step checks the rest (strictly, naming the field) when it starts, after paddock filled in the recipe's models. */
export const PackWith = z.looseObject({ pack: z.string().min(1) });

/** Keys whose string values are paths relative to the recipe, anywhere in a package step's `with`. */
const RECIPE_PATHS = new Set(['pack', 'onnx', 'reference', 'contract', 'manifest', 'slices', 'file', 'plan', 'key_file', 'public_key', 'trusted_keys', 'checkpoint', 'state_file', 'frame']);

function absolutize(v: unknown, baseDir: string, key = ''): unknown {
  if (typeof v === 'string') return RECIPE_PATHS.has(key) && !isAbsolute(v) ? resolve(baseDir, v) : v;
  if (Array.isArray(v)) return v.map((x) => absolutize(x, baseDir, key === 'variants' ? '' : key));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, absolutize(x, baseDir, k)]));
  return v;
}

export interface ModelFiles {
  name: string;
  version: string;
  onnx?: { path: string; sha256?: string };
  checkpoint?: { path: string; sha256?: string };
  contractDir?: string;
}

function modelFiles(recipe: Recipe, name: unknown, baseDir: string, stepId: string): ModelFiles {
  if (typeof name !== 'string' || !recipe.models[name]) throw new Error(`step ${stepId}: "model" must name one of the recipe's models (${Object.keys(recipe.models).join(', ')})`);
  const m = recipe.models[name];
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const onnx = m.onnx && { path: abs(m.onnx.path), sha256: m.onnx.sha256 };
  const checkpoint = m.checkpoint && { path: abs(m.checkpoint.path), sha256: m.checkpoint.sha256 };
  const contractDir = onnx ? dirname(onnx.path) : checkpoint ? dirname(checkpoint.path) : undefined;
  return { name, version: m.version, onnx, checkpoint, contractDir };
}

/** The input name and shape and the output names of the model's inference contract, if it has one. */
export function contractIo(contractDir: string | undefined) {
  if (!contractDir) return {};
  try {
    const c = JSON.parse(readFileSync(join(contractDir, 'inference_config.json'), 'utf8')) as { input: { name: string; shape: number[] }; outputs: Record<string, unknown> };
    return { input: { name: c.input.name, shape: c.input.shape }, outputs: Object.keys(c.outputs) };
  } catch {
    return {};
  }
}

/**
 * A package step's `with`, read: paths absolute, the pack and its model.onnx, the model
 * expanded. A step that writes the pack (`writes`, the default) gets, in a run, the run's own
 * version of it instead of the recipe's path: `<pack>.versions/<run>/`, made here if it is not
 * there yet (common.ts stagePack: the one place that says how packs are versioned), so that
 * a container step has it to copy in and out; `sign` publishes it as `<pack>`. A step that only
 * reads the published pack (publish: `writes` false) keeps the recipe's path, and need not
 * be given one. `published` is the recipe's path either way.
 */
export function readPackWith(w0: With, ctx: StepContext, writes = true) {
  const w = absolutize(w0, ctx.baseDir) as With;
  const published = w.pack as string | undefined;
  if (!published && writes) throw new Error(`step ${ctx.stepId}: "pack" (the pack directory, e.g. packs/<task>/<version>) is required`);
  const pack = published && writes && ctx.runId ? stagePack(published, ctx.runId) : published;
  if (pack) w.pack = pack;
  const m = w.model !== undefined ? modelFiles(ctx.recipe, w.model, ctx.baseDir, ctx.stepId) : undefined;
  const { model: _model, ...rest } = w;
  return { w, rest, pack: pack!, published: published!, packOnnx: pack ? join(pack, 'model.onnx') : '', m };
}

/** The model a step reports on, by name, version and contract folder (triton-repo, sbom, contract-smoke). */
export function modelIdentity(m: ModelFiles | undefined): With {
  return m ? { model: m.name, version: m.version, contract: m.contractDir } : {};
}

/** Variants name a pack file (`model:`, relative to the pack) or any file (`file:`, relative to the recipe). */
export function variantPaths(list: unknown, pack: string): With[] {
  return ((list as With[]) ?? []).map(({ file, ...v }) => ({ ...v, model: file ?? (isAbsolute(v.model as string) ? v.model : resolve(pack, String(v.model))) }));
}

/** A package step in paddock's image: its path parameters copied in, the pack (the run's version of it, readPackWith) copied out. */
export const packContainer: ContainerUse = {
  image: 'paddock',
  inputs: (p) => pathInputs(p),
  outputs: (p) => (typeof p.pack === 'string' ? [p.pack] : []),
};

/**
 * A package step that is a Python script of runners/python/ on the model's checkpoint: in this
 * machine's Python (src/pack/python.ts), or on a Docker host in a PyTorch image the recipe names,
 * the scripts copied in with the checkpoint and the architecture's file.
 */
export function pythonStep(d: { name: string; summary: string; script: string; verb: string; params: (rest: With, pack: string, m: ModelFiles & { checkpoint: { path: string } }) => With; writes: string }): StepDefinition {
  const scripts = () => join(installRoot(), 'runners', 'python');
  return defineStep({
    name: d.name,
    stage: 'package',
    summary: d.summary,
    with: PackWith,
    invoke(w, ctx) {
      const { rest, pack, m } = readPackWith(w, ctx);
      if (!m?.checkpoint) throw new Error(`step ${ctx.stepId}: the model needs a checkpoint to ${d.verb}`);
      const params = d.params(rest, pack, m as ModelFiles & { checkpoint: { path: string } });
      return { command: [pythonBin(), join(scripts(), d.script), JSON.stringify(params)], inputs: [m.checkpoint.path] };
    },
    container: {
      image: { recipe: "a PyTorch image with python3 (the step's container.image)" },
      inputs: (p) => [...pathInputs(p), { path: scripts() }],
      // The folder the script writes (export: the pack as `out`; torch-bench: the pack's reports).
      outputs: (p) => (typeof p[d.writes] === 'string' ? [p[d.writes] as string] : []),
      command: (local) => ['python3', ...local.slice(1)],
    },
  });
}
