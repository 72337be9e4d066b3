/**
 * The `triton-repo` step: the pack's Triton model repository (triton/ in the pack) with one model
 * per variant, the TensorRT plan where one was built (paddock builds none on a machine without
 * TensorRT and says so), the optional ensemble, and inference_config.json from the contract.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { emit } from '../emit.js';
import { loadContract } from '../../model/infer.js';
import { writeTritonRepo, type TritonModelSpec } from '../../pack/triton-repo.js';
import { installRoot } from '../../files/install-root.js';
import { emitArtifact, log, writeReport, holdPack } from './common.js';

export const TritonRepoParams = z
  .object({
    pack: z.string().min(1),
    model: z.string().min(1),
    version: z.string().optional(),
    contract: z.string().min(1),
    /** Triton model name (default: the recipe model's name). */
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
    /** Triton's integer model version directory. */
    triton_version: z.number().int().positive().default(1),
    variants: z.array(z.object({ name: z.string(), model: z.string().min(1) }).strict()).default([{ name: 'fp32', model: 'model.onnx' }]),
    /** A TensorRT engine built elsewhere (trtexec on the GPU host), served as <name>_trt. */
    plan: z.string().optional(),
    max_batch_size: z.number().int().min(0).default(8),
    dynamic_batching: z.union([z.literal(false), z.object({ preferred: z.array(z.number().int().positive()).default([4, 8]), max_queue_delay_us: z.number().int().min(0).default(100) }).strict()]).default({ preferred: [4, 8], max_queue_delay_us: 100 }),
    instances: z.object({ count: z.number().int().positive().default(1), kind: z.enum(['KIND_GPU', 'KIND_CPU']).default('KIND_GPU') }).strict().default({ count: 1, kind: 'KIND_GPU' }),
    ensemble: z.boolean().default(false),
  })
  .strict();

export async function runTritonRepo(p: z.infer<typeof TritonRepoParams>): Promise<number> {
  await holdPack(p.pack);
  const contract = loadContract(p.contract);
  const base = p.name ?? p.model;
  const repo = join(p.pack, 'triton');
  const models: TritonModelSpec[] = p.variants.map((v) => ({ name: v.name === 'fp32' ? base : `${base}_${v.name}`, file: v.model.startsWith('/') ? v.model : join(p.pack, v.model), format: 'onnx' }));
  let plan: string;
  if (p.plan && existsSync(p.plan)) {
    models.push({ name: `${base}_trt`, file: p.plan, format: 'plan' });
    plan = `served as ${base}_trt from ${p.plan}`;
  } else {
    plan = p.plan ? `not served: ${p.plan} does not exist` : 'none: no TensorRT engine was built (TensorRT is not on this machine; build it with trtexec on the GPU host and give "plan")';
    log(`TensorRT plan ${plan}`, 'warn');
  }
  const written = writeTritonRepo(models, contract, {
    repo,
    version: p.triton_version,
    maxBatchSize: p.max_batch_size,
    dynamicBatching: p.dynamic_batching ? { preferred: p.dynamic_batching.preferred, maxQueueDelayUs: p.dynamic_batching.max_queue_delay_us } : undefined,
    instances: p.instances,
    ensemble: p.ensemble ? { name: `${base}_ensemble`, detector: base, preprocessPy: join(installRoot(), 'runners', 'triton', 'preprocess.py'), postprocessPy: join(installRoot(), 'runners', 'triton', 'postprocess.py') } : undefined,
  });
  copyFileSync(join(p.contract, 'inference_config.json'), join(p.pack, 'inference_config.json'));
  emitArtifact(join(p.pack, 'inference_config.json'), 'inference-config');
  for (const m of written.models) emitArtifact(m.config, 'triton-config');
  for (const c of written.checks) log(c);
  emit({ type: 'metric', name: 'triton.models', value: written.models.length });
  writeReport(p.pack, 'triton-repo', { status: 'succeeded', repository: 'triton', models: written.models.map((m) => ({ name: m.name, platform: m.platform, config: m.config.slice(p.pack.length + 1) })), tensorrt_plan: plan, checks: written.checks });
  return 0;
}
