/**
 * Operator coverage: which operators (by domain and opset) a model uses, checked against a
 * backend's supported-operator list (data/operators/<backend>-<version>.json), before anything is
 * built. Pure: the lists and the model come in as data.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { type OnnxModel, opsetOf, toNumber, walkNodes } from './onnx-proto.js';

export const OperatorList = z
  .object({
    backend: z.string().min(1),
    provider: z.string().optional(),
    version: z.string().min(1),
    source: z.string().min(1),
    /** The opset range the backend's parser accepts for the default domain, when it has one. */
    opset: z.object({ min: z.number().int(), max: z.number().int() }).optional(),
    operators: z.array(z.object({ domain: z.string(), op: z.string(), since: z.number().int().optional(), until: z.number().int().optional(), note: z.string().optional() }).strict()),
    unsupported: z.array(z.object({ domain: z.string(), op: z.string() }).strict()).optional(),
  })
  .strict();
export type OperatorList = z.infer<typeof OperatorList>;

/** The operator lists shipped with paddock: name -> file under data/operators/. */
export const OPERATOR_LISTS = { 'onnxruntime-cpu-1.30': 'onnxruntime-cpu-1.30.json', 'tensorrt-8.4': 'tensorrt-8.4.json', 'tensorrt-10.15': 'tensorrt-10.15.json' } as const;
export type OperatorListName = keyof typeof OPERATOR_LISTS;

/** The list a target uses by default, from its backend. */
export function defaultOperatorList(backend: string): OperatorListName | undefined {
  if (backend === 'onnxruntime' || backend === 'triton') return 'onnxruntime-cpu-1.30';
  if (backend === 'tensorrt') return 'tensorrt-10.15';
  return undefined;
}

export function loadOperatorList(root: string, name: string): OperatorList {
  const file = OPERATOR_LISTS[name as OperatorListName];
  if (!file) throw new Error(`unknown operator list "${name}" (known: ${Object.keys(OPERATOR_LISTS).join(', ')})`);
  const path = join(root, 'data', 'operators', file);
  const parsed = OperatorList.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: not an operator list: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

const normDomain = (d: string | undefined) => (!d || d === 'ai.onnx' ? 'ai.onnx' : d);

export interface OperatorUse {
  domain: string;
  op: string;
  /** The opset the model imports for this domain. */
  opset: number;
  count: number;
  /** Node names (or "op#i" for unnamed nodes), with the subgraph path. */
  nodes: string[];
}

/** Every operator the model uses, by domain, with the imported opset and its nodes. */
export function listOperators(model: OnnxModel): OperatorUse[] {
  const uses = new Map<string, OperatorUse>();
  let i = 0;
  for (const { node, path } of walkNodes(model.graph)) {
    const domain = normDomain(node.domain);
    const key = `${domain}\u0000${node.opType}`;
    let u = uses.get(key);
    if (!u) {
      u = { domain, op: node.opType, opset: opsetOf(model, domain === 'ai.onnx' ? '' : domain) ?? 0, count: 0, nodes: [] };
      uses.set(key, u);
    }
    u.count++;
    u.nodes.push(`${path}${node.name || `${node.opType}#${i}`}`);
    i++;
  }
  return [...uses.values()].sort((a, b) => a.domain.localeCompare(b.domain) || a.op.localeCompare(b.op));
}

export interface CoverageProblem {
  domain: string;
  op: string;
  opset: number;
  nodes: string[];
  reason: string;
}

export interface CoverageResult {
  list: string;
  ok: boolean;
  problems: CoverageProblem[];
}

/**
 * Checks operator uses against a list. `extraOps` are operators a precision variant will add
 * (Cast for FP16, QuantizeLinear/DequantizeLinear for INT8), checked at the model's opset.
 */
export function checkCoverage(uses: OperatorUse[], list: OperatorList, extraOps: string[] = []): CoverageResult {
  const problems: CoverageProblem[] = [];
  const defaultOpset = uses.find((u) => u.domain === 'ai.onnx')?.opset ?? 17;
  const all = [...uses, ...extraOps.filter((op) => !uses.some((u) => u.domain === 'ai.onnx' && u.op === op)).map((op) => ({ domain: 'ai.onnx', op, opset: defaultOpset, count: 0, nodes: [`(added by the ${op === 'Cast' ? 'FP16' : 'INT8'} variant)`] }))];
  if (list.opset && (defaultOpset > list.opset.max || defaultOpset < list.opset.min)) {
    problems.push({ domain: 'ai.onnx', op: '*', opset: defaultOpset, nodes: [], reason: `the model imports opset ${defaultOpset}; ${list.backend} ${list.version} parses opsets ${list.opset.min} to ${list.opset.max}` });
  }
  for (const u of all) {
    const entries = list.operators.filter((e) => normDomain(e.domain) === u.domain && e.op === u.op);
    if (!entries.length) {
      const known = list.unsupported?.some((e) => normDomain(e.domain) === u.domain && e.op === u.op);
      problems.push({ ...pick(u), reason: known ? `${list.backend} ${list.version} marks ${u.op} unsupported` : `${u.domain === 'ai.onnx' ? '' : `${u.domain}::`}${u.op} is not in ${list.backend} ${list.version}'s operator list` });
      continue;
    }
    const fits = entries.some((e) => (e.since ?? 0) <= u.opset && (e.until === undefined || u.opset <= e.until));
    if (!fits) {
      const ranges = entries.map((e) => `${e.since ?? '?'}-${e.until ?? ''}`).join(', ');
      problems.push({ ...pick(u), reason: `${u.op} at opset ${u.opset} is outside ${list.backend} ${list.version}'s versions (${ranges})` });
    }
  }
  return { list: `${list.backend}-${list.version}`, ok: problems.length === 0, problems };
}

const pick = (u: OperatorUse) => ({ domain: u.domain, op: u.op, opset: u.opset, nodes: u.nodes });

/** One line per problem: `Resize (ai.onnx opset 17) at /Resize, /Resize_1: reason`. */
export function formatProblem(p: CoverageProblem, maxNodes = 5): string {
  if (p.op === '*') return p.reason;
  const nodes = p.nodes.slice(0, maxNodes).join(', ') + (p.nodes.length > maxNodes ? ` and ${p.nodes.length - maxNodes} more` : '');
  return `${p.op} (${p.domain} opset ${p.opset}) at ${nodes || 'no node'}: ${p.reason}`;
}

/** What the export report says of an ONNX model: IR version, the opsets it imports, its producer, its operators with counts. */
export interface ModelInventory {
  ir_version: number;
  /** The default domain's opset (ai.onnx). */
  opset: number | null;
  opsets: { domain: string; version: number }[];
  producer: string | null;
  nodes: number;
  operators: { domain: string; op: string; opset: number; count: number }[];
}

/** The model's inventory (nodes in subgraphs counted too, as listOperators walks them). */
export function modelInventory(model: OnnxModel): ModelInventory {
  const uses = listOperators(model);
  const opsets = model.opsetImport.map((o) => ({ domain: normDomain(o.domain), version: toNumber(o.version) })).sort((a, b) => a.domain.localeCompare(b.domain));
  return {
    ir_version: toNumber(model.irVersion),
    opset: opsetOf(model, '') ?? null,
    opsets,
    producer: model.producerName ? `${model.producerName}${model.producerVersion ? ` ${model.producerVersion}` : ''}` : null,
    nodes: uses.reduce((a, u) => a + u.count, 0),
    operators: uses.map((u) => ({ domain: u.domain, op: u.op, opset: u.opset, count: u.count })),
  };
}
