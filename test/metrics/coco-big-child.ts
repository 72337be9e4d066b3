/**
 * Child process of coco-memory.test.ts: loads and evaluates each <dir>/gt.json + <dir>/dt.json
 * given on the command line (one after the other, in this process), and prints one JSON line:
 * per case the stats, per-category values and counts, and the seconds it took; at the end the
 * process's peak RSS. Run under `node --max-old-space-size=...` by the test.
 *
 * Peak RSS is VmHWM of /proc/self/status: the high-water mark of this program's own memory.
 * process.resourceUsage().maxRSS is not used: Linux carries it over from the parent through
 * fork and exec, so a child of a large test process would report the parent's size.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateCoco } from '../../src/metrics/coco.js';
import { loadDetections, loadGroundTruth } from '../../src/metrics/coco-load.js';

const cases = process.argv.slice(2).map((dir) => {
  const start = performance.now();
  const gt = loadGroundTruth(join(dir, 'gt.json'));
  const dt = loadDetections(join(dir, 'dt.json'), gt);
  const r = evaluateCoco(gt.index, dt.index);
  return {
    dir,
    seconds: (performance.now() - start) / 1000,
    stats: r.stats,
    perCategory: r.perCategory.map((c) => [c.category_id, c.ap, c.ap50, c.ap75, c.ar100]),
    counts: r.counts,
    dropped: dt.droppedUnknownCategory,
  };
});
const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
if (!hwm) throw new Error('no VmHWM line in /proc/self/status');
process.stdout.write(`${JSON.stringify({ cases, peakRssMiB: Number(hwm[1]) / 1024 })}\n`);
