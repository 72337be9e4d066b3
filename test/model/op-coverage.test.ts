import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, makeNode } from '../../src/model/onnx-proto.js';
import { checkCoverage, formatProblem, listOperators, loadOperatorList, OPERATOR_LISTS } from '../../src/model/op-coverage.js';
import { FIXTURES, ROOT } from '../helpers/fixtures.js';

const model = () => decodeModel(readFileSync(join(FIXTURES, 'world', 'models', 'candidate', 'model.onnx')));

describe('operator coverage', () => {
  it('lists the operators by domain with the imported opset and node names', () => {
    const uses = listOperators(model());
    expect(uses.map((u) => `${u.op}:${u.count}`)).toEqual(['Add:2', 'Constant:2', 'Conv:19', 'Relu:14', 'Resize:2', 'Sigmoid:1']);
    expect(uses.every((u) => u.domain === 'ai.onnx' && u.opset === 17)).toBe(true);
    expect(uses.find((u) => u.op === 'Resize')!.nodes).toEqual(['/Resize', '/Resize_1']);
  });

  it('every shipped list parses', () => {
    for (const name of Object.keys(OPERATOR_LISTS)) expect(loadOperatorList(ROOT, name).operators.length).toBeGreaterThan(50);
  });

  it('passes the detector on onnxruntime 1.30 CPU, with the ops FP16 and INT8 add', () => {
    const list = loadOperatorList(ROOT, 'onnxruntime-cpu-1.30');
    for (const extra of [[], ['Cast'], ['QuantizeLinear', 'DequantizeLinear']]) expect(checkCoverage(listOperators(model()), list, extra)).toMatchObject({ ok: true, problems: [] });
  });

  it('passes the detector on TensorRT 10.15 (opsets 9 to 24), with the ops FP16 and INT8 add', () => {
    const list = loadOperatorList(ROOT, 'tensorrt-10.15');
    expect(list.opset).toEqual({ min: 9, max: 24 });
    for (const extra of [[], ['Cast'], ['QuantizeLinear', 'DequantizeLinear']]) expect(checkCoverage(listOperators(model()), list, extra).ok).toBe(true);
  });

  it('fails on TensorRT 8.4 (its parser stops at opset 13) before anything is built', () => {
    const r = checkCoverage(listOperators(model()), loadOperatorList(ROOT, 'tensorrt-8.4'));
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => formatProblem(p))).toEqual(['the model imports opset 17; tensorrt 8.4 parses opsets 1 to 13']);
  });

  it('names the nodes of an unsupported or unknown operator', () => {
    const m = model();
    m.graph.node.push(makeNode('Unique', ['heatmap'], ['u'], 'my_unique'), makeNode('MyOp', ['size'], ['v'], 'custom_1', {}, 'com.example'));
    m.opsetImport.push({ domain: 'com.example', version: 1 });
    const trt = checkCoverage(listOperators(m), { ...loadOperatorList(ROOT, 'tensorrt-8.4'), opset: undefined });
    expect(trt.problems.map((p) => formatProblem(p))).toEqual([
      'Unique (ai.onnx opset 17) at my_unique: tensorrt 8.4 marks Unique unsupported',
      "MyOp (com.example opset 1) at custom_1: com.example::MyOp is not in tensorrt 8.4's operator list",
    ]);
    const ort = checkCoverage(listOperators(m), loadOperatorList(ROOT, 'onnxruntime-cpu-1.30'));
    expect(ort.problems.map((p) => p.op)).toEqual(['MyOp']);
  });

  it('checks an operator\'s opset against the versions a backend implements', () => {
    const list = { backend: 'x', version: '1', source: 't', operators: [{ domain: 'ai.onnx', op: 'Relu', since: 6, until: 13 }] };
    const uses = [{ domain: 'ai.onnx', op: 'Relu', opset: 17, count: 1, nodes: ['r'] }];
    expect(formatProblem(checkCoverage(uses, list).problems[0])).toBe("Relu (ai.onnx opset 17) at r: Relu at opset 17 is outside x 1's versions (6-13)");
    expect(checkCoverage([{ ...uses[0], opset: 13 }], list).ok).toBe(true);
  });
});
