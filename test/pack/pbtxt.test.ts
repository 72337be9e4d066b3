import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPbtxt, parsePbtxt, pbMessages, pbString } from '../../src/pack/pbtxt.js';
import { FIXTURES } from '../helpers/fixtures.js';

const ref = (f: string) => readFileSync(join(FIXTURES, 'reference', 'triton', f), 'utf8');

describe('Triton config.pbtxt (text format)', () => {
  it('reads the ONNX Runtime config with dynamic batching and two GPU instances', () => {
    const c = parsePbtxt(ref('onnx_dynamic_batching_text_recognition.config.pbtxt'));
    expect(pbString(c, 'backend')).toBe('onnxruntime');
    expect(c.max_batch_size).toEqual([8]);
    expect(pbMessages(c, 'dynamic_batching')).toHaveLength(1);
    const ig = pbMessages(c, 'instance_group')[0];
    expect(ig.count).toEqual([2]);
    expect(pbString(ig, 'kind')).toBe('KIND_GPU');
    expect(pbMessages(c, 'input').map((i) => [pbString(i, 'name'), pbString(i, 'data_type'), i.dims])).toEqual([['input.1', 'TYPE_FP32', [1, 32, 100]]]);
  });

  it('reads the PeopleNet TensorRT plan config', () => {
    const c = parsePbtxt(ref('tensorrt_plan_instance_group_peoplenet.config.pbtxt'));
    expect(pbString(c, 'platform')).toBe('tensorrt_plan');
    expect(c.max_batch_size).toEqual([64]);
    expect(pbMessages(c, 'output').map((o) => pbString(o, 'name'))).toEqual(['output_bbox/BiasAdd', 'output_cov/Sigmoid']);
    expect(pbMessages(c, 'input')[0].dims).toEqual([3, 544, 960]);
  });

  it('reads the OCR ensemble: five steps and their maps', () => {
    const c = parsePbtxt(ref('ensemble_ocr_pipeline_ensemble_model.config.pbtxt'));
    const steps = pbMessages(pbMessages(c, 'ensemble_scheduling')[0], 'step');
    expect(steps.map((s) => pbString(s, 'model_name'))).toEqual(['detection_preprocessing', 'text_detection', 'detection_postprocessing', 'text_recognition', 'recognition_postprocessing']);
    expect(steps[0].model_version).toEqual([-1]);
    const firstIn = pbMessages(steps[0], 'input_map')[0];
    expect([pbString(firstIn, 'key'), pbString(firstIn, 'value')]).toEqual(['detection_preprocessing_input', 'input_image']);
  });

  it.each(['ensemble_ocr_pipeline_ensemble_model.config.pbtxt', 'ensemble_step_detection_preprocessing_python.config.pbtxt', 'onnx_dynamic_batching_text_recognition.config.pbtxt', 'tensorrt_plan_instance_group_peoplenet.config.pbtxt'])('%s round-trips through the writer', (f) => {
    const c = parsePbtxt(ref(f));
    expect(parsePbtxt(formatPbtxt(c))).toEqual(c);
  });

  it.each([
    ['name: "x"\ninput {\n  name: "a"\n', 'c.pbtxt: "}" is missing at the end'],
    ['name "x"', 'c.pbtxt:1:6: expected ":" or "{" after name'],
    ['dims: [1, 2\nname: "y"', 'c.pbtxt:2:1: expected "]", got "name"'],
    ['name: "x\n"', 'c.pbtxt:1:7: unterminated string'],
    ['max_batch_size: @', 'c.pbtxt:1:17: unexpected character "@"'],
  ])('locates errors: %j', (text, message) => {
    expect(() => parsePbtxt(text, 'c.pbtxt')).toThrow(message);
  });
});
