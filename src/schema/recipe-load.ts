/**
 * Reads a recipe from YAML text and validates it, with errors that name the file, the YAML
 * path, the line:column and what was expected:
 *   fixtures/demo/paddock.yaml:14:18 stages.package[0].with.iterations: expected a positive integer
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { z } from 'zod';
import { GateFile, Recipe, STAGES, type Step } from './recipe.js';
import { dirname, resolve } from 'node:path';
import { InputError } from '../files/input-error.js';

/** One problem in a recipe, located. */
export interface RecipeIssue {
  file: string;
  path: string;
  line: number;
  column: number;
  message: string;
}

/** Thrown when a recipe cannot be used; `issues` lists every problem found. */
export class RecipeError extends InputError {
  readonly issues: RecipeIssue[];
  constructor(issues: RecipeIssue[]) {
    super(issues.map(formatRecipeIssue).join('\n'));
    this.name = 'RecipeError';
    this.issues = issues;
  }
}

/** `file:line:col path: message`; a problem with the whole file (line 0: unreadable) is `file: message`. */
export function formatRecipeIssue(i: RecipeIssue): string {
  if (i.line <= 0) return `${i.file}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
  return `${i.file}:${i.line}:${i.column} ${i.path || '(root)'}: ${i.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** Finds the deepest node on `path` that exists and returns its line and column. */
function locate(doc: Document, lc: LineCounter, path: readonly PropertyKey[]): { line: number; column: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) {
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}

/**
 * Where the value at `path` of a recipe's text is, for errors found after loading (a model file
 * missing, a digest that does not match): the line and column of that value, or of the deepest
 * enclosing one that is there; undefined when the text is not YAML.
 *   locateInText(text, ['models', 'candidate', 'onnx', 'sha256']) -> { line: 16, column: 15 }
 */
export function locateInText(text: string, path: readonly (string | number)[]): { line: number; column: number } | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  if (doc.errors.length > 0) return undefined;
  return locate(doc, lc, path);
}

type Problem = { path: (string | number)[]; message: string };

/**
 * What recipe loading needs of a built-in step; src/steps/ provides one per step (its catalogue),
 * passed in by the caller so that this layer names no step.
 */
export interface StepRule {
  /** What a recipe may write in the step's `with`. */
  with: z.ZodType;
  /** Checks of `with` against the rest of the recipe (e.g. a model it names); paths inside `with`. */
  check?(w: Record<string, unknown>, recipe: Recipe): Problem[];
  /** Names under which the step reports models' metrics, which gates may name. */
  reportsAs?(w: Record<string, unknown>): string[];
  /**
   * The metrics the step emits, as names or patterns (metricPattern: `latency.p{50,95,99}_ms`,
   * `scan.*`): a gate may only name a metric that a step at or before its stage produces.
   */
  produces?: readonly string[];
}

/**
 * A metric name pattern as a RegExp: `{a,b}` is one of the alternatives, `*` any non-empty run of
 * characters; everything else is literal.
 *   metricPattern('latency.p{50,95,99}_ms').test('latency.p99_ms') -> true
 */
export function metricPattern(pattern: string): RegExp {
  let re = '';
  for (const part of pattern.split(/(\{[^{}]*\}|\*)/)) {
    if (part === '*') re += '.+';
    else if (part.startsWith('{') && part.endsWith('}')) re += `(?:${part.slice(1, -1).split(',').map(escapeRe).join('|')})`;
    else re += escapeRe(part);
  }
  return new RegExp(`^${re}$`);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether a metric name matches any of the patterns (metricPattern). */
export function producesMetric(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => metricPattern(p).test(name));
}

/**
 * Problems of gates that name a metric no step up to their stage produces: built-in steps declare
 * theirs (StepRule.produces), a `run:` step may (`produces:`); a `run:` step that declares none
 * may emit anything, so a gate its stage reaches is taken on trust. Paths are the gates'.
 */
export function gateMetricProblems(recipe: Recipe, steps: StepRules): Problem[] {
  const problems: Problem[] = [];
  const producers = STAGES.map((stage) =>
    recipe.stages[stage].map((step) => ({ id: step.id, produces: 'uses' in step ? steps[step.uses]?.produces : step.produces })),
  );
  recipe.gates.forEach((g, i) => {
    const upTo = STAGES.indexOf(g.stage);
    const before = producers.slice(0, upTo + 1).flat();
    // A step that may emit anything (a command with no `produces:`) could produce it.
    if (before.some((p) => p.produces === undefined)) return;
    if (before.some((p) => producesMetric(p.produces!, g.metric))) return;
    const later = producers.slice(upTo + 1).flat().filter((p) => p.produces === undefined || producesMetric(p.produces, g.metric));
    if (later.length) {
      problems.push({ path: ['gates', i, 'metric'], message: `gate "${g.id}" (stage ${g.stage}): metric "${g.metric}" is produced only by steps of a later stage (${later.map((p) => p.id).join(', ')}), after this gate is decided` });
      return;
    }
    const known = [...new Set(before.flatMap((p) => p.produces!))];
    const shown = known.length > 24 ? `${known.slice(0, 24).join(', ')}, ... (paddock steps lists them all)` : known.join(', ') || 'none';
    problems.push({ path: ['gates', i, 'metric'], message: `gate "${g.id}": metric "${g.metric}" is produced by no step of this recipe up to stage ${g.stage} (steps produce: ${shown})` });
  });
  return problems;
}
export type StepRules = Readonly<Record<string, StepRule>>;

function cross(recipe: Recipe, steps: StepRules | undefined): Problem[] {
  const problems: Problem[] = [];
  const ids = new Map<string, string>();
  const targets = new Set(recipe.targets.map((t) => t.name));
  const seenTargets = new Set<string>();
  recipe.targets.forEach((t, i) => {
    if (seenTargets.has(t.name)) problems.push({ path: ['targets', i, 'name'], message: `duplicate target name "${t.name}"` });
    seenTargets.add(t.name);
  });
  const all: { stage: string; index: number; step: Step }[] = [];
  for (const stage of STAGES) {
    recipe.stages[stage].forEach((step, index) => {
      all.push({ stage, index, step });
      const prev = ids.get(step.id);
      if (prev) problems.push({ path: ['stages', stage, index, 'id'], message: `duplicate step id "${step.id}" (also in ${prev})` });
      else ids.set(step.id, `stages.${stage}[${index}]`);
    });
  }
  for (const { stage, index, step } of all) {
    step.needs.forEach((need, j) => {
      if (!ids.has(need)) problems.push({ path: ['stages', stage, index, 'needs', j], message: `needs unknown step "${need}"` });
      if (need === step.id) problems.push({ path: ['stages', stage, index, 'needs', j], message: 'a step cannot need itself' });
    });
    if (step.target && !targets.has(step.target)) {
      problems.push({ path: ['stages', stage, index, 'target'], message: `unknown target "${step.target}" (targets: ${[...targets].join(', ') || 'none'})` });
    }
    if ('uses' in step && steps) {
      const rule = steps[step.uses];
      if (!rule) {
        problems.push({ path: ['stages', stage, index, 'uses'], message: `unknown built-in step "${step.uses}" (known: ${Object.keys(steps).join(', ')})` });
        continue;
      }
      const params = rule.with.safeParse(step.with);
      if (!params.success) {
        const known = 'shape' in rule.with ? Object.keys((rule.with as z.ZodObject).shape).join(', ') : '';
        for (const issue of params.error.issues) {
          const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
          const message = unknownKey !== undefined ? `unknown ${step.uses} parameter "${unknownKey}" (known: ${known})` : issue.message;
          problems.push({ path: ['stages', stage, index, 'with', ...(issue.path as (string | number)[]), ...(unknownKey !== undefined ? [unknownKey] : [])], message });
        }
      }
      for (const p of rule.check?.(step.with, recipe) ?? []) problems.push({ path: ['stages', stage, index, 'with', ...p.path], message: p.message });
    }
  }
  // Names under which steps report their models' metrics (an evaluate step's candidate, baseline).
  const evaluated = new Set<string>();
  for (const { step } of all) if ('uses' in step) for (const name of steps?.[step.uses]?.reportsAs?.(step.with) ?? []) evaluated.add(name);
  recipe.gates.forEach((g, i) => {
    // A gate names a target ("cpu-fp32"), a model ("candidate": what the evaluate step measures),
    // or a model on a target ("candidate/cpu-fp32").
    const known = (t: string) => {
      const [a, b] = t.includes('/') ? t.split('/', 2) : [undefined, t];
      return a === undefined ? targets.has(b) || b in recipe.models || evaluated.has(b) : targets.has(b) && a in recipe.models;
    };
    const hint = `(expected a target, a model, or <model>/<target>, e.g. ${Object.keys(recipe.models)[0] ?? 'candidate'}/${recipe.targets[0]?.name ?? 'cpu-fp32'})`;
    // Without the step catalogue (a stored run read back), names a step reports are unknown here.
    if (!steps) return;
    if (g.target && !known(g.target)) problems.push({ path: ['gates', i, 'target'], message: `unknown target "${g.target}" ${hint}` });
    if (g.baseline && !known(g.baseline.target)) problems.push({ path: ['gates', i, 'baseline', 'target'], message: `unknown target "${g.baseline.target}" ${hint}` });
  });
  if (steps) problems.push(...gateMetricProblems(recipe, steps));
  const gateIds = new Set<string>();
  recipe.gates.forEach((g, i) => {
    if (gateIds.has(g.id)) problems.push({ path: ['gates', i, 'id'], message: `duplicate gate id "${g.id}"` });
    gateIds.add(g.id);
  });
  return problems;
}

type Issue = z.core.$ZodIssue;

/**
 * A union (a step is built-in or a command) fails with one issue holding each branch's issues;
 * report the branch that came closest (fewest issues), with full paths.
 */
function flattenIssues(issues: readonly Issue[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
      out.push(...flattenIssues(best.map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as Issue)));
    } else out.push(issue);
  }
  return out;
}

/** How many alias expansions one YAML document may make (the yaml library's default). */
const MAX_ALIASES = 100;

/** Parses a YAML text and validates it against a schema, with located errors. */
export function parseYamlWith<T>(
  text: string,
  file: string,
  schema: z.ZodType<T>,
  /** Rewrites the parsed data before validation; `at` locates a path of this document. */
  prepare: (data: unknown, at: (path: (string | number)[]) => { line: number; column: number }) => unknown = (d) => d,
): { value: T; doc: Document; lc: LineCounter } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new RecipeError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
        return { file, path: '', line: pos.line, column: pos.col, message: `YAML syntax: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}` };
      }),
    );
  }
  let data: unknown;
  try {
    // The yaml library refuses a document whose aliases expand past maxAliasCount (a
    // "billion laughs" bomb) with a ReferenceError: say so, located, instead of throwing it.
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    throw new RecipeError([{ file, path: '', line: 1, column: 1, message: `YAML: ${(err as Error).message.split('\n')[0]} (at most ${MAX_ALIASES} alias expansions are allowed)` }]);
  }
  const parsed = schema.safeParse(prepare(data, (path) => locate(doc, lc, path)));
  if (!parsed.success) {
    throw new RecipeError(
      flattenIssues(parsed.error.issues).map((issue) => {
        let path = issue.path;
        let message = issue.message;
        if (issue.code === 'unrecognized_keys') {
          message = `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
          path = [...path, issue.keys[0]];
        }
        const { line, column } = locate(doc, lc, path);
        return { file, path: formatPath(path), line, column, message };
      }),
    );
  }
  return { value: parsed.data, doc, lc };
}

/**
 * Parses and validates recipe text (each built-in step's `with` against `steps`, the catalogue's
 * rules; without them only the recipe's own shape); `file` is used in error messages and to find a gates file
 * named by `gates: <path>` (relative to the recipe), whose errors are located in that file.
 */
export function parseRecipe(text: string, file: string, opts: { gatesText?: string; onGatesText?: (text: string) => void; steps?: StepRules } = {}): Recipe {
  let gatesSource: { file: string; doc: Document; lc: LineCounter } | undefined;
  const { value, doc, lc } = parseYamlWith(text, file, Recipe, (data, at) => {
    const ref = (data as { gates?: unknown } | null)?.gates;
    if (typeof ref !== 'string') return data;
    const gatesFile = resolve(dirname(file), ref);
    let gatesText: string;
    try {
      // A stored run brings the gates it ran with; a new one reads the file (and keeps its text).
      gatesText = opts.gatesText ?? readFileSync(gatesFile, 'utf8');
      opts.onGatesText?.(gatesText);
    } catch (err) {
      throw new RecipeError([{ file, path: 'gates', ...at(['gates']), message: `cannot read the gates file ${gatesFile}: ${(err as Error).message}` }]);
    }
    const g = parseYamlWith(gatesText, gatesFile, GateFile);
    gatesSource = { file: gatesFile, doc: g.doc, lc: g.lc };
    return { ...(data as object), gates: g.value.gates };
  });
  const problems = cross(value, opts.steps);
  if (problems.length > 0) {
    throw new RecipeError(
      problems.map((p) => {
        const src = p.path[0] === 'gates' && gatesSource ? gatesSource : { file, doc, lc };
        return { file: src.file, path: formatPath(p.path), ...locate(src.doc, src.lc, p.path), message: p.message };
      }),
    );
  }
  return value;
}

/** Reads and validates a recipe file; `gatesText` is the text of the gates file it names, if any. */
export function loadRecipe(file: string, steps?: StepRules): { recipe: Recipe; text: string; gatesText?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RecipeError([{ file, path: '', line: 0, column: 0, message: `cannot read recipe: ${(err as Error).message}` }]);
  }
  let gatesText: string | undefined;
  const recipe = parseRecipe(text, file, { onGatesText: (t) => (gatesText = t), steps });
  return { recipe, text, gatesText };
}
