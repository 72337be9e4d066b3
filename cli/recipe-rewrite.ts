/**
 * Recipe texts rewritten for a command line (the rewritten text is what the run records and
 * resumes). Kept apart from run-hosts.ts, so that `paddock package` does not load the Docker side
 * to edit YAML.
 */
import { isMap, isSeq, parseDocument } from 'yaml';

/**
 * `paddock package`: the recipe text with the package stage only (and, with a target, only that
 * target and the package steps that run on it or on none), and the gates file with the package
 * stage's gates only. The rewritten texts are what the run records and resumes.
 */
export function restrictToPackage(text: string, gatesText: string | undefined, target?: string): { text: string; gatesText?: string } {
  const doc = parseDocument(text);
  const stages = doc.get('stages');
  if (isMap(stages)) for (const st of ['evaluate', 'replay', 'promote']) stages.delete(st);
  if (target) {
    const targets = doc.get('targets');
    if (isSeq(targets)) {
      const names = targets.items.filter(isMap).map((t) => String(t.get('name')));
      if (!names.includes(target)) throw new Error(`--target ${target}: the recipe's targets are ${names.join(', ') || 'none'}`);
      targets.items = targets.items.filter((t) => isMap(t) && t.get('name') === target);
    }
    const pkg = isMap(stages) ? stages.get('package') : undefined;
    if (isSeq(pkg)) {
      const kept = pkg.items.filter((s) => isMap(s) && (s.get('target') === undefined || s.get('target') === target));
      const keptIds = new Set(kept.map((s) => String((s as { get(k: string): unknown }).get('id'))));
      for (const s of kept) {
        const needs = (s as { get(k: string): unknown }).get('needs');
        if (isSeq(needs)) needs.items = needs.items.filter((n) => keptIds.has(String((n as { value?: unknown }).value ?? n)));
      }
      pkg.items = kept;
    }
  }
  const inline = doc.get('gates');
  if (isSeq(inline)) inline.items = inline.items.filter((g) => isMap(g) && g.get('stage') === 'package');
  let gates = gatesText;
  if (gatesText !== undefined) {
    const g = parseDocument(gatesText);
    const list = g.get('gates');
    if (isSeq(list)) list.items = list.items.filter((x) => isMap(x) && x.get('stage') === 'package');
    gates = g.toString();
  }
  return { text: doc.toString(), gatesText: gates };
}

/**
 * The demo recipe writes its outputs (world, packs, keys, evaluation) under `../../build/`,
 * relative to fixtures/demo/: the checkout's build/. An installed paddock must not write into its
 * install directory, so those paths move to `dir` (a plain prefix replacement; the rewritten text
 * is what the run records and resumes).
 */
/** The demo's registry policy, beside its recipe; its key paths move with the outputs (run-command.ts). */
export const DEMO_POLICY = 'registry-policy.yaml';

export function relocateDemoOutputs(text: string, dir: string): string {
  return text.replaceAll('../../build/', `${dir.replace(/\/+$/, '')}/`);
}
