/**
 * The `coverage` step: list the model's operators by domain and opset, check them against each
 * target's operator list, and fail before anything is built, naming the unsupported nodes.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { emit } from '../emit.js';
import { decodeModel } from '../../model/onnx-proto.js';
import { checkCoverage, defaultOperatorList, formatProblem, listOperators, loadOperatorList } from '../../model/op-coverage.js';
import { installRoot } from '../../files/install-root.js';
import { log, writeReport, holdPack } from './common.js';

export const CoverageParams = z
  .object({
    pack: z.string().min(1),
    model: z.string().min(1),
    targets: z.array(z.object({ name: z.string(), backend: z.string(), precision: z.enum(['fp32', 'fp16', 'int8']).default('fp32'), operators: z.string().optional() }).strict()).min(1),
  })
  .strict();

export async function runCoverage(p: z.infer<typeof CoverageParams>): Promise<number> {
  await holdPack(p.pack);
  let model;
  try {
    model = decodeModel(readFileSync(p.model), p.model);
  } catch (err) {
    process.stderr.write(`coverage: ${(err as Error).message}\n`);
    return 1;
  }
  const uses = listOperators(model);
  log(`${p.model}: ${uses.reduce((a, u) => a + u.count, 0)} nodes, ${uses.length} operators: ${uses.map((u) => `${u.domain === 'ai.onnx' ? '' : `${u.domain}::`}${u.op}-${u.opset} x${u.count}`).join(', ')}`);
  const results = [];
  const failures: string[] = [];
  for (const t of p.targets) {
    const listName = t.operators ?? defaultOperatorList(t.backend);
    if (!listName) {
      failures.push(`${t.name}: no operator list for backend ${t.backend}; name one with "operators:"`);
      continue;
    }
    const list = loadOperatorList(installRoot(), listName);
    const extra = t.precision === 'fp16' ? ['Cast'] : t.precision === 'int8' ? ['QuantizeLinear', 'DequantizeLinear'] : [];
    const r = checkCoverage(uses, list, extra);
    // `operators_list`: the list's name, so the sign step can check each precision variant against the same list.
    results.push({ target: t.name, backend: t.backend, precision: t.precision, operators_list: listName, ...r });
    emit({ type: 'metric', name: 'coverage.unsupported_operators', value: r.problems.length, target: t.name, denominators: { operators: uses.length } });
    if (r.ok) log(`${t.name}: every operator is in ${r.list}`);
    else for (const pr of r.problems) failures.push(`${t.name} (${r.list}): ${formatProblem(pr)}`);
  }
  writeReport(p.pack, 'coverage', { status: failures.length ? 'failed' : 'succeeded', operators: uses.map((u) => ({ domain: u.domain, op: u.op, opset: u.opset, count: u.count })), targets: results, errors: failures });
  if (failures.length) {
    process.stderr.write(`coverage: unsupported operators, nothing was built:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}
