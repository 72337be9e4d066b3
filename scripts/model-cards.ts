/**
 * Evaluates the built-in world's models on golden_test with paddock's own inference and COCO
 * evaluation, per slice of fixtures/world/slices.yaml, and writes each model's MODEL_CARD.md
 * and metrics.json (the candidate's card compares it with production).
 *
 *   node scripts/run-ts.mjs scripts/model-cards.ts [--world build/world]
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runInference, writeResults } from '../src/model/infer.js';
import { evaluateSlice, type SliceResult } from '../src/metrics/slice-coco.js';
import { loadSliceFile } from '../src/schema/manifest-load.js';
import { STAT_NAMES } from '../src/metrics/coco.js';

const root = process.cwd();
const worldArg = process.argv.indexOf('--world');
const world = worldArg > 0 ? process.argv[worldArg + 1] : join(root, 'build', 'world');
const worldInfo = JSON.parse(readFileSync(join(world, 'world.json'), 'utf8'));
const gt = JSON.parse(readFileSync(join(world, 'manifests', 'golden_test.coco.json'), 'utf8'));
const slices = loadSliceFile(join(root, 'fixtures', 'world', 'slices.yaml'));
const models = ['production', 'candidate'];
const evals: Record<string, { slices: SliceResult[]; infer: Awaited<ReturnType<typeof runInference>>['timings'] }> = {};

const f3 = (x: number | undefined) => (x === undefined ? '-' : x < 0 ? 'n/a' : x.toFixed(3));
const sign = (x: number) => (x >= 0 ? `+${x.toFixed(3)}` : x.toFixed(3));

for (const name of models) {
  const dir = join(root, 'fixtures', 'world', 'models', name);
  const r = await runInference({ modelDir: dir, manifest: join(world, 'manifests', 'golden_test.jsonl') });
  mkdirSync(join(root, 'build', 'eval', name), { recursive: true });
  writeResults(join(root, 'build', 'eval', name, 'golden_test.results.json'), r.results);
  evals[name] = { slices: slices.map((s) => evaluateSlice(gt, r.results, s)), infer: r.timings };
  const all = evals[name].slices[0].result!;
  console.log(`${name}: AP ${all.stats.AP.toFixed(4)} AP50 ${all.stats.AP50.toFixed(4)} AP75 ${all.stats.AP75.toFixed(4)} (${r.timings.imagesPerSecond.toFixed(1)} images/s)`);
}

for (const name of models) {
  const dir = join(root, 'fixtures', 'world', 'models', name);
  const training = JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8'));
  const contract = JSON.parse(readFileSync(join(dir, 'inference_config.json'), 'utf8'));
  const mine = evals[name].slices;
  const base = name === 'candidate' ? evals.production.slices : undefined;
  const all = mine[0].result!;
  const metrics = {
    model: name,
    version: training.version,
    dataset: { split: 'golden_test', frames: mine[0].frames, scenes: mine[0].scenes, objects: mine[0].objects, worldContentDigest: worldInfo.contentDigest },
    stats: all.stats,
    perCategory: all.perCategory,
    slices: mine.map((s) => ({ slice: s.slice, frames: s.frames, scenes: s.scenes, objects: s.objects, AP: s.result?.stats.AP, AP50: s.result?.stats.AP50, AR100: s.result?.stats.AR100 })),
  };
  writeFileSync(join(dir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  const last = training.history[training.history.length - 1];
  const lines: string[] = [];
  lines.push(`# ${name} v${training.version}: CenterNet detector for paddock's built-in world`, '');
  lines.push(`A small single-stage detector (CenterNet: class heatmaps, box size and centre offset at stride 4, a two-level top-down path; width ${training.width}, ${training.parameters.toLocaleString('en')} parameters) for car, pedestrian and cyclist in the built-in world's 320x192 forward camera. ${name === 'production' ? 'The production baseline: smaller and trained for fewer epochs.' : 'The candidate: wider and trained longer than production.'}`, '');
  lines.push('**Synthetic data only.** It has seen nothing but the flat-shaded world paddock renders; it says nothing about real roads.', '');
  lines.push('## Data', '');
  lines.push(`Trained on golden_train (${training.train_frames} frames) of the world built by \`paddock world build\` (seed ${worldInfo.config.seed}, content digest \`${worldInfo.contentDigest}\`); evaluated on golden_test (${mine[0].frames} frames, ${mine[0].scenes} scenes, ${mine[0].objects} objects that count; objects too small, hidden or faint are marked iscrowd and ignored, as COCO does with crowd regions). Splits share no scene and no city, and are recorded in separate periods (src/world/dataset.ts).`, '');
  lines.push('## Training', '');
  lines.push('```', training.command.replace(/^python3(\.\d+)?/, '/usr/bin/python3'), '```', '');
  lines.push(`Seed ${training.seed}, ${training.epochs} epochs, batch ${training.batch}, AdamW with a one-cycle learning rate peaking at ${training.lr}, horizontal flips; PyTorch ${training.torch} on the ${training.device.toUpperCase()} (${(training.train_seconds / 60).toFixed(0)} min on a 2-core machine). Final epoch losses: heatmap ${last.hm}, size ${last.wh}, offset ${last.off}.`, '');
  lines.push('## Metrics on golden_test', '');
  lines.push(`Measured with \`paddock infer\` (contract-driven pre-processing, ONNX Runtime, decode and NMS: score threshold ${contract.score_threshold}, NMS IoU ${contract.nms_iou}, at most ${contract.max_detections} detections) and \`paddock eval coco\` (pycocotools's numbers).`, '');
  lines.push('| metric | value |', '|---|---|');
  for (const s of STAT_NAMES) lines.push(`| ${s} | ${f3(all.stats[s])}${base ? ` (${sign(all.stats[s] - base[0].result!.stats[s])} vs production)` : ''} |`);
  lines.push('', '| class | AP | AP50 | AP75 | AR100 |', '|---|---|---|---|---|');
  for (const c of all.perCategory) lines.push(`| ${c.name} | ${f3(c.ap)} | ${f3(c.ap50)} | ${f3(c.ap75)} | ${f3(c.ar100)} |`);
  lines.push('', '## Slices', '');
  lines.push(`AP@[.5:.95] per slice of fixtures/world/slices.yaml (point estimates; the evaluate stage adds bootstrap intervals).${base ? ' Delta: candidate minus production on the same frames.' : ''}`, '');
  lines.push(`| slice | frames | scenes | objects | AP | AP50 |${base ? ' delta AP |' : ''}`, `|---|---|---|---|---|---|${base ? '---|' : ''}`);
  mine.forEach((s, i) => {
    const d = base && s.result && base[i].result ? sign(s.result.stats.AP - base[i].result!.stats.AP) : '';
    lines.push(`| ${s.slice} | ${s.frames} | ${s.scenes} | ${s.objects} | ${f3(s.result?.stats.AP)} | ${f3(s.result?.stats.AP50)} |${base ? ` ${d} |` : ''}`);
  });
  lines.push('', '## Files', '', '| file | sha256 |', '|---|---|');
  for (const [f, h] of Object.entries(training.files as Record<string, string>)) lines.push(`| ${f} | \`${h}\` |`);
  lines.push('', '`inference_config.json` is the inference contract: input name, shape, dtype, layout, normalisation, letterbox; output heads and their decoding; score threshold, NMS IoU, detection cap; class map.', '');
  lines.push('## Regenerate', '', '```', 'node dist/paddock.js world build --out build/world', training.command.replace(/^python3(\.\d+)?/, '/usr/bin/python3'), 'node scripts/run-ts.mjs scripts/model-cards.ts', '```', '');
  lines.push('Training is deterministic for a given seed on the CPU with the same PyTorch build; test/model/export.test.ts checks that the committed ONNX computes what the checkpoint computes.', '');
  writeFileSync(join(dir, 'MODEL_CARD.md'), lines.join('\n'));
}
console.log('wrote MODEL_CARD.md and metrics.json for', models.join(', '));
