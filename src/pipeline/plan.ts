/**
 * plan(recipe) -> a DAG of steps and gates. Pure: data in, data out.
 *
 * Stages run in order (package, evaluate, replay, promote): every node of a stage needs every
 * node of the nearest earlier non-empty stage, and a stage's gates need all of its steps, so a
 * failed gate blocks everything after it. Within a stage, steps run in parallel unless `needs`
 * orders them.
 */
import { STAGES, type Gate, type Recipe, type StageName, type Step, type Target } from '../schema/recipe.js';
import { InputError } from '../files/input-error.js';

export interface PlanNode {
  /** The step id, or `gate:<id>` for a gate. */
  id: string;
  kind: 'step' | 'gate';
  stage: StageName;
  /** Node ids this node waits for. */
  needs: string[];
  step?: Step;
  gate?: Gate;
  target?: Target;
}

export interface Plan {
  name: string;
  concurrency: number;
  /** In a topological order, stable by stage and declaration. */
  nodes: PlanNode[];
}

export class PlanError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

export const gateNodeId = (gateId: string) => `gate:${gateId}`;

export function plan(recipe: Recipe): Plan {
  const targets = new Map(recipe.targets.map((t) => [t.name, t]));
  const stageOf = new Map<string, number>();
  STAGES.forEach((stage, si) => recipe.stages[stage].forEach((s) => stageOf.set(s.id, si)));

  const nodes: PlanNode[] = [];
  let previous: string[] = [];
  STAGES.forEach((stage, si) => {
    const steps = recipe.stages[stage];
    const gates = recipe.gates.filter((g) => g.stage === stage);
    const here: string[] = [];
    for (const step of steps) {
      for (const need of step.needs) {
        const ns = stageOf.get(need);
        if (ns === undefined) throw new PlanError(`step "${step.id}" needs unknown step "${need}"`);
        if (ns > si) throw new PlanError(`step "${step.id}" (stage ${stage}) needs "${need}" of the later stage ${STAGES[ns]}`);
      }
      const needs = [...new Set([...previous, ...step.needs])];
      nodes.push({ id: step.id, kind: 'step', stage, needs, step, target: step.target ? targets.get(step.target) : undefined });
      here.push(step.id);
    }
    const stepIds = steps.map((s) => s.id);
    for (const gate of gates) {
      nodes.push({
        id: gateNodeId(gate.id),
        kind: 'gate',
        stage,
        needs: stepIds.length ? stepIds : previous,
        gate,
        target: gate.target ? targets.get(gate.target) : undefined,
      });
      here.push(gateNodeId(gate.id));
    }
    if (here.length) previous = here;
  });
  return { name: recipe.name, concurrency: recipe.concurrency, nodes: topoSort(nodes) };
}

/** Kahn's algorithm, taking ready nodes in their declared order; throws on a cycle. */
export function topoSort(nodes: PlanNode[]): PlanNode[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const indeg = new Map(nodes.map((n) => [n.id, 0]));
  const users = new Map<string, string[]>();
  for (const n of nodes) {
    for (const d of n.needs) {
      if (!byId.has(d)) throw new PlanError(`"${n.id}" needs unknown node "${d}"`);
      indeg.set(n.id, indeg.get(n.id)! + 1);
      users.set(d, [...(users.get(d) ?? []), n.id]);
    }
  }
  const order: PlanNode[] = [];
  const position = new Map(nodes.map((n, i) => [n.id, i]));
  let ready = nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id);
  while (ready.length) {
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
    const id = ready.shift()!;
    order.push(byId.get(id)!);
    for (const u of users.get(id) ?? []) {
      indeg.set(u, indeg.get(u)! - 1);
      if (indeg.get(u) === 0) ready.push(u);
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((n) => !order.includes(n)).map((n) => n.id);
    throw new PlanError(`the steps' needs form a cycle among: ${stuck.join(', ')}`);
  }
  return order;
}

/** Every node that depends on `id`, directly or not. */
export function dependentsOf(p: Plan, id: string): string[] {
  const out = new Set<string>();
  const stack = [id];
  while (stack.length) {
    const cur = stack.pop()!;
    for (const n of p.nodes) if (n.needs.includes(cur) && !out.has(n.id)) {
      out.add(n.id);
      stack.push(n.id);
    }
  }
  return [...out];
}
