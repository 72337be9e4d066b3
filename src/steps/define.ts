/**
 * What a built-in step is, declared once beside its body (`<name>.step.ts` next to `<name>.ts`):
 * its name and stage, what a recipe may write in `with`, what its process receives, how its
 * command line is built, whether and how it runs in a container, and its body, loaded only when
 * the step runs. src/steps/catalogue.ts lists them; nothing else names a step.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import type { Recipe, StageName, Target } from '../schema/recipe.js';
import type { StepRule } from '../schema/recipe-load.js';

/** What building a step's command line knows. */
export interface StepContext {
  stepId: string;
  recipe: Recipe;
  /** The recipe's directory: relative paths in `with` are relative to it. */
  baseDir: string;
  /** The target the step runs for, if it names one. */
  target?: Target;
  /** [node, dist/step.js]: how a built-in step's process starts. */
  entry: readonly string[];
  /** The run the step is part of (absent when no run is being executed). */
  runId?: string;
}

/** A step's process: its command line and the files whose digests enter its input digest. */
export interface StepInvocation {
  command: string[];
  inputs: string[];
}

/** How a step runs in a container on a Docker host (paths keep their absolute names inside). */
export interface ContainerUse {
  /**
   * The image: paddock's step image (node, dist/, onnxruntime-node, data/), or one the recipe
   * must name in the step's `container.image` (e.g. a PyTorch image), with why.
   */
  image: 'paddock' | { recipe: string };
  /** Host files and folders the step reads, copied in at the same paths (a sha256 is checked). */
  inputs(params: Record<string, unknown>, w: Record<string, unknown>, ctx: StepContext): { path: string; sha256?: string }[];
  /** Host folders the step writes, copied out to the same paths when it ends. */
  outputs(params: Record<string, unknown>): string[];
  /** The command line in the container, from the local one (default: the same, node steps use the image's node). */
  command?: (local: readonly string[]) => string[];
}

/** A step's body and the schema of the JSON its process receives, checked by dist/step.js before the body runs. */
export interface StepBody {
  params: z.ZodType;
  run: (params: never) => number | Promise<number>;
}

export interface StepDefinition<W extends z.ZodType = z.ZodType> extends StepRule {
  name: string;
  /** The stage whose steps it belongs with ("any": used in several). */
  stage: StageName | 'any';
  /** One line for `paddock steps` and the docs. */
  summary: string;
  /** What a recipe may write in `with` (checked when the recipe loads, errors located). */
  with: W;
  /** Builds the command line from the recipe's `with` (already checked against `with`). */
  invoke(w: z.infer<W>, ctx: StepContext): StepInvocation;
  /** How it runs in a container, or why it cannot (then its target must run on this machine). */
  container: ContainerUse | { unsupported: string };
  /** The body, loaded when the step's process starts (none: the command is not paddock's, e.g. Python). */
  load?: () => Promise<StepBody>;
  /**
   * The metrics it emits, names or patterns (`latency.p{50,95,99}_ms`, `scan.*`; metricPattern in
   * src/schema/recipe-load.ts); `[]` when it emits none. Every catalogue step declares it
   * (test/steps/catalogue.test.ts checks it against what the steps emit): a gate on a metric no
   * step up to its stage produces is a recipe error, located in the gates file.
   */
  produces?: readonly string[];
}

/** Declares a step (an identity function that types `invoke`'s `with` from the schema). */
export function defineStep<W extends z.ZodType>(d: StepDefinition<W>): StepDefinition<W> {
  return d;
}

/** A built-in node step's command line: [node, dist/step.js, name, '<json params>']. */
export function nodeStep(ctx: StepContext, name: string, params: unknown, inputs: string[] = []): StepInvocation {
  return { command: [...ctx.entry, name, JSON.stringify(params)], inputs };
}

/** A path of the recipe made absolute (relative to the recipe's directory). */
export function absPath(ctx: Pick<StepContext, 'baseDir'>, p: string): string;
export function absPath(ctx: Pick<StepContext, 'baseDir'>, p: string | undefined): string | undefined;
export function absPath(ctx: Pick<StepContext, 'baseDir'>, p: string | undefined): string | undefined {
  return p === undefined ? undefined : isAbsolute(p) ? p : resolve(ctx.baseDir, p);
}

/** Keys whose string values are paths, anywhere in a step's parameters. */
export const PATH_KEYS = new Set(['pack', 'onnx', 'reference', 'contract', 'manifest', 'slices', 'file', 'plan', 'key_file', 'public_key', 'trusted_keys', 'checkpoint', 'state_file', 'frame', 'model', 'gt', 'out', 'root', 'bundles']);

/** Every absolute path under a PATH_KEYS key in a parameter object that exists here, with its key. */
export function pathParams(params: unknown, key = ''): [key: string, path: string][] {
  if (typeof params === 'string') return PATH_KEYS.has(key) && isAbsolute(params) && existsSync(params) ? [[key, params]] : [];
  if (Array.isArray(params)) return params.flatMap((x) => pathParams(x, key));
  if (params && typeof params === 'object') return Object.entries(params).flatMap(([k, x]) => pathParams(x, k));
  return [];
}

/**
 * The inputs of a step in paddock's image: every existing path parameter, and for a manifest its
 * dataset root (the parent of its folder: frame paths are relative to it, src/model/infer.ts).
 * A folder that holds another input carries it, so each path is copied once.
 */
export function pathInputs(params: Record<string, unknown>): { path: string }[] {
  const paths = new Set<string>();
  for (const [key, p] of pathParams(params)) paths.add(key === 'manifest' ? dirname(dirname(p)) : p);
  const sorted = [...paths].sort();
  return sorted.filter((p) => !sorted.some((q) => q !== p && p.startsWith(`${q}/`))).map((path) => ({ path }));
}
