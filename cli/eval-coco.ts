/**
 * `paddock eval coco --gt <gt.json> --dt <results.json> [--json]`: pycocotools's numbers.
 * With --json one object: {"stats": {AP, AP50, ... in pycocotools's order}, "per_category": [...]}.
 */
import { evaluateCoco, summaryLines, STAT_NAMES } from '../src/metrics/coco.js';
import { CocoInputError, loadDetections, loadGroundTruth } from '../src/metrics/coco-load.js';

export function evalCoco(opts: { gt: string; dt: string; json: boolean }): number {
  try {
    const gt = loadGroundTruth(opts.gt);
    const dt = loadDetections(opts.dt, gt);
    const r = evaluateCoco(gt.index, dt.index);
    if (opts.json) {
      const stats = Object.fromEntries(STAT_NAMES.map((s) => [s, r.stats[s]]));
      process.stdout.write(`${JSON.stringify({ stats, per_category: r.perCategory })}\n`);
    } else {
      process.stdout.write(`${summaryLines(r.stats).join('\n')}\n`);
      if (dt.droppedUnknownCategory > 0) {
        process.stderr.write(`note: ${dt.droppedUnknownCategory} detection(s) with a category_id not in the ground truth's categories were dropped (as pycocotools does)\n`);
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof CocoInputError) {
      process.stderr.write(`paddock eval coco: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
