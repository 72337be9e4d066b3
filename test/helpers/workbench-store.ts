/**
 * A real run store holding the recorded demo run (test/fixtures/workbench-run.ndjson: benchmarks,
 * the evaluation's slices and 40 of its failures, the gates' verdicts), as the workbench, `paddock
 * show` and `paddock failures` read it. Each failure's frame is one rendered world frame, written
 * under a deep folder so that its path is longer than an 80-column line; optionally a person's
 * approval with a long reason and a failure review with a long note are recorded too.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { RunStore } from '../../src/store/run-store.js';
import { RunReader } from '../../src/live/run-reader.js';
import { PaddockEvent } from '../../src/schema/events.js';
import { parseRecipe } from '../../src/schema/recipe-load.js';
import { plan as makePlan } from '../../src/pipeline/plan.js';
import { Drive } from '../../src/world/drive.js';
import { renderFrame } from '../../src/world/render.js';
import { DEMO_RECIPE, ROOT, tempDir } from './fixtures.js';

/** The recorded run's id. */
export const RECORDED_RUN = 'r-20261125-215245-a1713b';
/** The reason recorded with the approval (long: it does not fit 80 columns with the rest of its line). */
export const APPROVAL_REASON = 'night+rain+pedestrian regresses inside its interval only; accepted for the Q4 shadow rollout, see ticket PER-4411';
/** The note recorded on the first failure. */
export const LONG_NOTE = 'the cyclist is half hidden behind the parked van; production sees the wheel, the candidate does not: label it occluded';

export interface WorkbenchStore {
  /** The store's home (what PADDOCK_HOME would be). */
  home: string;
  store: RunStore;
  reader: RunReader;
  /** The PNG every failure's evidence points at. */
  framePng: string;
  cleanup(): void;
}

/** Builds the store; `people` adds an approval of `overall-ap` with APPROVAL_REASON and a note (LONG_NOTE) on `lost/3653`. */
export async function buildWorkbenchStore(opts: { people?: boolean } = {}): Promise<WorkbenchStore> {
  const t = tempDir();
  const drive = new Drive({ driveId: 'd', seed: 5, conditions: { weather: 'clear', timeOfDay: 'day', roadType: 'rural', region: 'south' } });
  drive.step();
  const frames = join(t.dir, 'datasets', 'golden_test', 'frames', 'scene-c9e2f816', 'camera-front-wide-120deg');
  mkdirSync(frames, { recursive: true });
  const framePng = join(frames, 'scene-c9e2f816-t0005-full-resolution.png');
  writeFileSync(framePng, await sharp(Buffer.from(renderFrame(drive.state()).rgb), { raw: { width: 320, height: 192, channels: 3 } }).png().toBuffer());
  const home = join(t.dir, 'home');
  const store = new RunStore(home);
  const reader = new RunReader(store);
  const text = readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.recipe.yaml'), 'utf8');
  store.createRun({ id: RECORDED_RUN, name: 'demo', recipePath: DEMO_RECIPE, recipeText: text, recipeSha256: createHash('sha256').update(text).digest('hex'), lineage: {}, host: 'vm', actor: 'ci@example.com' });
  store.planSteps(RECORDED_RUN, makePlan(parseRecipe(text, DEMO_RECIPE)).nodes.map((n) => ({ id: n.id, stage: n.stage, kind: n.kind })));
  for (const l of readFileSync(join(ROOT, 'test', 'fixtures', 'workbench-run.ndjson'), 'utf8').trim().split('\n')) {
    const { attempt, event } = JSON.parse(l) as { attempt: number; event: unknown };
    const e = PaddockEvent.parse(event);
    if (e.type === 'failure') e.evidence = [{ path: framePng, note: 'frame' }];
    if (e.type === 'step' && e.step) {
      if (e.status === 'started') store.startStep(RECORDED_RUN, e.step, { inputDigest: 'fixture', runner: e.runner ?? 'local', host: e.host ?? 'local' });
      else if (e.status === 'succeeded' || e.status === 'failed' || e.status === 'cancelled') store.finishStep(RECORDED_RUN, e.step, e.status, e.error);
    }
    if (e.type !== 'run') store.appendEvents(RECORDED_RUN, [{ event: e, attempt }]);
  }
  if (opts.people) {
    store.recordApproval({ runId: RECORDED_RUN, gate: 'overall-ap', decision: 'approved', reason: APPROVAL_REASON, actor: 'ana@example.com', subjectDigest: 'sha256:fixture' });
    reader.recordReview({ runId: RECORDED_RUN, failureId: 'lost/3653', action: 'note', note: LONG_NOTE, actor: 'ana@example.com' });
    reader.recordReview({ runId: RECORDED_RUN, failureId: 'lost/3653', action: 'reviewed', actor: 'ana@example.com' });
  }
  store.finishRun(RECORDED_RUN, 'succeeded', 0);
  return {
    home,
    store,
    reader,
    framePng,
    cleanup() {
      store.close();
      t.cleanup();
    },
  };
}
