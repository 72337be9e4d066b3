/**
 * The inference contract (inference_config.json): everything a runtime needs to feed a model and
 * read its outputs, so that paddock, Triton and a vehicle stack pre- and post-process alike.
 */
import { z } from 'zod';

export const InferenceContract = z
  .object({
    version: z.literal(1),
    model: z.string().min(1),
    model_version: z.string().min(1),
    input: z
      .object({
        name: z.string().min(1),
        shape: z.tuple([z.number().int(), z.literal(3), z.number().int().positive(), z.number().int().positive()]),
        dtype: z.literal('float32'),
        layout: z.literal('NCHW'),
        color: z.enum(['RGB', 'BGR']),
        scale: z.number().positive(),
        mean: z.tuple([z.number(), z.number(), z.number()]),
        std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
        resize: z.object({ mode: z.enum(['letterbox', 'stretch']), width: z.number().int().positive(), height: z.number().int().positive(), pad_value: z.number().min(0).max(255) }),
      })
      .strict(),
    outputs: z.record(z.string(), z.object({ shape: z.array(z.number().int()) }).passthrough()),
    decode: z.object({ type: z.literal('centernet'), stride: z.number().int().positive(), peak_kernel: z.literal(3), top_k: z.number().int().positive() }).strict(),
    score_threshold: z.number().min(0).max(1),
    nms_iou: z.number().gt(0).max(1),
    max_detections: z.number().int().positive(),
    classes: z.array(z.object({ index: z.number().int().nonnegative(), category_id: z.number().int(), name: z.string().min(1) }).strict()).min(1),
  })
  .strict();
export type InferenceContract = z.infer<typeof InferenceContract>;
