/**
 * The recipe (paddock.yaml): models with lineage, targets, stages and their steps, gates.
 * Paths in a recipe are relative to the recipe's own directory.
 */
import { z } from 'zod';

export const STAGES = ['package', 'evaluate', 'replay', 'promote'] as const;
export type StageName = (typeof STAGES)[number];

const ident = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'an identifier: lowercase letters, digits, ".", "_" or "-", at most 64 characters');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256 of 64 characters');
const semver = z.string().regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/, 'a semantic version such as 1.2.0');

export const Lineage = z
  .object({
    /** Git commit of the training code; "auto" reads HEAD of the recipe's repository with simple-git. */
    commit: z.union([z.literal('auto'), z.string().regex(/^[0-9a-f]{7,40}$/, 'a git commit hash or "auto"')]).default('auto'),
    dataset: z.string().min(1).describe('dataset tag, e.g. golden-v1'),
    training_run: z.string().min(1).optional(),
  })
  .strict();

export const ModelFile = z
  .object({
    path: z.string().min(1),
    sha256: sha256.optional(),
  })
  .strict();

export const Model = z
  .object({
    version: semver,
    /** The ONNX export the package stage starts from. */
    onnx: ModelFile.optional(),
    /** The trained checkpoint (state dict) it came from. */
    checkpoint: ModelFile.optional(),
    lineage: Lineage,
    role: z.enum(['candidate', 'production', 'baseline']).optional(),
  })
  .strict();

/** What a host of the pool needs for a target's steps: every label, and this many GPUs free. */
export const TargetRequires = z
  .object({
    labels: z.record(z.string().min(1), z.string()).default({}),
    gpus: z.number().int().min(0).default(0),
  })
  .strict();
export type TargetRequires = z.infer<typeof TargetRequires>;

export const Target = z
  .object({
    name: ident,
    backend: z.enum(['onnxruntime', 'tensorrt', 'torchscript', 'triton']),
    precision: z.enum(['fp32', 'fp16', 'int8']).default('fp32'),
    /** Where the target's steps run: "local", a host name from hosts.yaml, or "pool" (any host of the pool that meets `requires`). */
    host: z.string().min(1).default('local'),
    /** The operator list its coverage is checked against (data/operators/); default by backend. */
    operators: z.enum(['onnxruntime-cpu-1.30', 'tensorrt-8.4', 'tensorrt-10.15']).optional(),
    /** `host: pool`: what a host needs to take the target's steps (docs/hosts.md). */
    requires: TargetRequires.optional(),
  })
  .strict()
  .refine((t) => !t.requires || t.host === 'pool', { message: 'requires is for targets on the host pool (host: pool)', path: ['requires'] });

/** How a step's container is set up when its target runs on a Docker host (ignored locally). */
export const ContainerSettings = z
  .object({
    /** Image reference; default: the host's image, else paddock's step image. */
    image: z.string().min(1).optional(),
    memory_mb: z.number().int().positive().optional(),
    cpus: z.number().positive().optional(),
    shm_mb: z.number().int().positive().optional(),
    /** GPUs: a count, "all", or device ids. */
    gpus: z.union([z.number().int().positive(), z.literal('all'), z.array(z.string().min(1)).min(1)]).optional(),
    user: z.string().min(1).optional(),
    network: z.string().min(1).optional(),
    /** Folders or files the step writes in the container, copied out to paths here. */
    outputs: z.array(z.object({ from: z.string().startsWith('/', 'an absolute path in the container'), to: z.string().min(1) }).strict()).default([]),
  })
  .strict();
export type ContainerSettings = z.infer<typeof ContainerSettings>;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

/** A step's env value: the value itself, or the name of a variable of paddock's environment to take it from. */
export const EnvValue = z.union([z.string(), z.object({ from_env: envName }).strict()]);
export type EnvValue = z.infer<typeof EnvValue>;
export type StepEnv = Record<string, EnvValue>;

const stepCommon = {
  id: ident,
  needs: z.array(ident).default([]),
  /** Seconds before the step is stopped and failed. */
  timeout: z.number().positive().max(7 * 24 * 3600).optional(),
  /** Files whose digests enter the step's input digest (a change makes resume redo the step). */
  inputs: z.array(z.string().min(1)).default([]),
  /**
   * The step's environment: a value, or `{from_env: NAME}`, read from paddock's environment when
   * the step starts and never stored (for tokens). Values that look like secrets are redacted in
   * everything the run store keeps (src/store/redact.ts); the step gets them as they are.
   */
  env: z.record(envName, EnvValue).default({}),
  target: ident.optional(),
  container: ContainerSettings.optional(),
};

/** A built-in step of paddock, configured by `with`. */
export const BuiltinStep = z
  .object({
    ...stepCommon,
    /** A step of paddock's catalogue (src/steps/catalogue.ts); checked when the recipe loads. */
    uses: ident,
    with: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** Any command that prints event-protocol lines on stdout. */
export const CommandStep = z
  .object({
    ...stepCommon,
    run: z.array(z.string()).min(1, 'a command and its arguments, e.g. [python3, export.py]'),
    cwd: z.string().optional(),
    /**
     * The metrics it emits, names or patterns (`latency.p{50,95,99}_ms`, `myco.*`): gates on
     * other metrics are refused when the recipe loads. Without it, any metric is taken on trust.
     */
    produces: z.array(z.string().min(1)).optional(),
  })
  .strict();

export const Step = z.union([BuiltinStep, CommandStep]);
export type Step = z.infer<typeof Step>;
export type BuiltinStep = z.infer<typeof BuiltinStep>;
export type CommandStep = z.infer<typeof CommandStep>;

export const Gate = z
  .object({
    id: ident,
    /** The stage after which the gate is decided. */
    stage: z.enum(STAGES),
    metric: z.string().min(1),
    target: z.string().optional(),
    slice: z.string().optional(),
    /** Apply the rule to every slice of a list, or every critical slice (all must pass). */
    slices: z.union([z.literal('critical'), z.array(z.string().min(1)).min(1)]).optional(),
    op: z.enum(['<', '<=', '>', '>=']),
    /** An absolute threshold ... */
    threshold: z.number().finite().optional(),
    /** ... or one from the baseline's value of the same metric and slice: value * times + plus. */
    baseline: z
      .object({ target: z.string().min(1), plus: z.number().finite().default(0), times: z.number().finite().default(1) })
      .strict()
      .optional(),
    /**
     * What the rule decides on (src/pipeline/gates.ts DECISION_RULES, docs/evaluate.md "Gates"):
     * the point estimate; with a baseline, the one-sided bound of the paired delta ('lower':
     * non-inferiority or superiority, 'upper') or the adjusted one-sided p-value of a regression
     * ('regression'); with a threshold, the end of the metric's own interval.
     */
    decide_on: z.enum(['point', 'lower', 'upper', 'regression']).default('point'),
    /** One-sided level of a statistical rule; it must be the level the step tested at (its `statistics.alpha`). */
    alpha: z.number().gt(0).lt(0.5).default(0.05),
    /** A slice whose interval is wider than +-margin says "insufficient data" (review). */
    margin: z.number().positive().optional(),
    /** What a failed rule means: fail the run, or ask a person to review. */
    on_fail: z.enum(['fail', 'review']).default('fail'),
    /** A person must approve even when the rule passes. */
    approval: z.enum(['none', 'required']).default('none'),
  })
  .strict()
  .refine((g) => (g.threshold === undefined) !== (g.baseline === undefined), { message: 'a gate needs exactly one of "threshold" or "baseline"', path: ['threshold'] })
  .refine((g) => g.decide_on !== 'regression' || g.baseline !== undefined, { message: 'decide_on: regression tests the candidate against a baseline: give "baseline" (its "plus" is minus the margin)', path: ['decide_on'] })
  .refine((g) => !(g.decide_on === 'lower' || g.decide_on === 'regression') || g.op === '>=' || g.op === '>', { message: 'decide_on: lower and regression ask "at least": op must be ">=" or ">"', path: ['op'] })
  .refine((g) => g.decide_on !== 'upper' || g.op === '<=' || g.op === '<', { message: 'decide_on: upper asks "at most": op must be "<=" or "<"', path: ['op'] })
  .refine((g) => g.decide_on === 'point' || !g.baseline || g.baseline.times === 1, {
    message: 'a statistical rule against a baseline decides on the paired delta (candidate minus baseline): "times" must be 1, and "plus" is the margin (e.g. plus: -0.01 for non-inferiority by 0.01)',
    path: ['baseline', 'times'],
  });
export type Gate = z.infer<typeof Gate>;

/** gates.yaml: the gates of a recipe kept in their own file (`gates: gates.yaml` in the recipe). */
export const GateFile = z.object({ version: z.literal(1), gates: z.array(Gate) }).strict();

export const Recipe = z
  .object({
    version: z.literal(1),
    name: ident,
    description: z.string().optional(),
    models: z.record(ident, Model).default({}),
    targets: z.array(Target).default([]),
    stages: z
      .object({
        package: z.array(Step).default([]),
        evaluate: z.array(Step).default([]),
        replay: z.array(Step).default([]),
        promote: z.array(Step).default([]),
      })
      .strict(),
    gates: z.array(Gate).default([]),
    /** At most this many steps run at once. */
    concurrency: z.number().int().min(1).max(256).default(2),
  })
  .strict();
export type Recipe = z.infer<typeof Recipe>;
export type Model = z.infer<typeof Model>;
export type Target = z.infer<typeof Target>;
