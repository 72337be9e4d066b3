/**
 * The Python helper prints lines that paddock's own parser accepts, through the local runner,
 * and the fixture models regenerate byte for byte from their committed script.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync, readFileSync, mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { createLocalRunner } from '../../runners/local.js';
import type { Event } from '../../src/schema/events.js';
import { ROOT, FIXTURES, tempDir } from '../helpers/fixtures.js';

const PY = '/usr/bin/python3';

describe('runners/python/paddock_events.py', () => {
  it('prints every kind of event in protocol v1, live, through the local runner', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const art = join(dir, 'out.bin');
      writeFileSync(art, 'exported bytes');
      const script = join(dir, 'step.py');
      writeFileSync(
        script,
        `import sys
sys.path.insert(0, ${JSON.stringify(join(ROOT, 'runners', 'python'))})
from paddock_events import log, progress, latency, metric, artifact, failure, verdict
log("info", "exporting")
progress(1, 2, unit="models")
latency("cpu-fp32", [3.1, 3.0, 3.25])
metric("coco.ap", 0.41, slice="night", target="cpu-fp32", ci=(0.38, 0.44), denominators={"scenes": 12, "frames": 340})
artifact(${JSON.stringify(art)}, role="onnx")
failure("f1", "missed", "major", "pedestrian missed at 31 m", evidence=[{"path": "frames/12.png", "frames": [10, 14]}], data={"iou": 0.2})
verdict("night-ap", "review", ["AP dropped 0.02"])
try:
    latency("cpu-fp32", [float("nan")])
except ValueError as e:
    log("warn", str(e))
`,
      );
      const events: Event[] = [];
      const result = await createLocalRunner().run({ runId: 'r', stepId: 'py', command: [PY, script] }, { signal: new AbortController().signal, emit: (e) => events.push(e) });
      expect(result, JSON.stringify(events.filter((e) => e.type === 'log'))).toMatchObject({ status: 'succeeded', protocolErrors: 0 });
      expect(events.map((e) => e.type)).toEqual(['log', 'progress', 'latency', 'metric', 'artifact', 'failure', 'verdict', 'log']);
      const a = events[4];
      expect(a.type === 'artifact' && a.sha256).toBe(createHash('sha256').update('exported bytes').digest('hex'));
      const m = events[3];
      expect(m.type === 'metric' && m.ci).toEqual({ lo: 0.38, hi: 0.44, level: 0.95 });
      const w = events[7];
      expect(w.type === 'log' && w.message).toMatch(/must be finite/);
    } finally {
      cleanup();
    }
  });
});

describe('fixture models', () => {
  it('regenerate byte for byte from fixtures/models/make_tiny_detectors.py (python3-torch)', () => {
    const work = mkdtempSync(join(tmpdir(), 'paddock-models-'));
    try {
      copyFileSync(join(FIXTURES, 'models', 'make_tiny_detectors.py'), join(work, 'make_tiny_detectors.py'));
      execFileSync(PY, [join(work, 'make_tiny_detectors.py')], { cwd: work, stdio: 'pipe', timeout: 120_000 });
      for (const name of ['tiny-det-v1.0.0.onnx', 'tiny-det-v1.1.0.onnx']) {
        const made = createHash('sha256').update(readFileSync(join(work, name))).digest('hex');
        const committed = createHash('sha256').update(readFileSync(join(FIXTURES, 'models', name))).digest('hex');
        expect(made, name).toBe(committed);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
