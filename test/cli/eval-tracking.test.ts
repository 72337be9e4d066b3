/**
 * `paddock eval tracking` through the real binary (dist/): --json against the shared TrackEval
 * reference cases (every field of TrackEval's per-sequence result, and the devkit's TID/LGD),
 * the summary table, the frame count from --frames, and bad input: no seqinfo.ini, a malformed
 * line (with its line number), a tracker id twice in a frame, a missing option.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { paddock } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { REFERENCE, expectClose } from '../fixtures/tracking/helpers.js';

describe('paddock eval tracking', () => {
  it.each(['03_fragmentation', '05_missed_objects_empty_frames', '06_crowded_crossing'])('prints TrackEval\'s numbers for %s', async (name) => {
    const dir = join(REFERENCE, name);
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
    const r = await paddock(['eval', 'tracking', '--gt', join(dir, 'gt.txt'), '--tracker', join(dir, 'tracker.txt'), '--json'], {});
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['CLEAR', 'Identity', 'HOTA', 'Count', 'nuScenes']);
    for (const m of ['CLEAR', 'Identity', 'HOTA', 'Count']) {
      expectClose(out[m], expected.trackeval.sequence[m], `${name} ${m}`);
      expect(Object.keys(out[m]).sort()).toEqual(Object.keys(expected.trackeval.sequence[m]).sort());
    }
    expectClose(out.nuScenes.TID, expected.nuscenes_tid_lgd.devkit_frame_ids.TID_s, 'TID');
    expectClose(out.nuScenes.LGD, expected.nuscenes_tid_lgd.devkit_frame_ids.LGD_s, 'LGD');
    expect(out.nuScenes.per_object).toEqual(expected.nuscenes_tid_lgd.devkit_frame_ids.per_object);

    const text = await paddock(['eval', 'tracking', '--gt', join(dir, 'gt.txt'), '--tracker', join(dir, 'tracker.txt')], {});
    expect(text.exitCode).toBe(0);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(text.stdout).toContain(`HOTA      ${mean(expected.trackeval.sequence.HOTA.HOTA).toFixed(4)}`);
    expect(text.stdout).toContain(`MOTA      ${expected.trackeval.sequence.CLEAR.MOTA.toFixed(4)}`);
    expect(text.stdout).toContain(`IDSW      ${expected.trackeval.sequence.CLEAR.IDSW}`);
    const c = expected.trackeval.sequence.CLEAR;
    expect(text.stdout).toContain(`MT/PT/ML  ${c.MT}/${c.PT}/${c.ML}`);
  });

  it('takes the frame count from --frames when there is no seqinfo.ini; trailing empty frames count', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const ref = join(REFERENCE, '05_missed_objects_empty_frames');
      copyFileSync(join(ref, 'gt.txt'), join(dir, 'gt.txt'));
      copyFileSync(join(ref, 'tracker.txt'), join(dir, 'tracker.txt'));
      const none = await paddock(['eval', 'tracking', '--gt', join(dir, 'gt.txt'), '--tracker', join(dir, 'tracker.txt')], {});
      expect(none.exitCode).toBe(2);
      expect(none.stderr).toMatch(/no frame count: no seqinfo\.ini beside .*gt\.txt .*give --frames N/);
      const r = await paddock(['eval', 'tracking', '--gt', join(dir, 'gt.txt'), '--tracker', join(dir, 'tracker.txt'), '--frames', '32', '--json'], {});
      expect(r.exitCode, r.stderr).toBe(0);
      const expected = JSON.parse(readFileSync(join(ref, 'expected.json'), 'utf8'));
      expectClose(JSON.parse(r.stdout).CLEAR, expected.trackeval.sequence.CLEAR, 'CLEAR');
      const bad = await paddock(['eval', 'tracking', '--gt', join(dir, 'gt.txt'), '--tracker', join(dir, 'tracker.txt'), '--frames', 'ten'], {});
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toMatch(/--frames must be a positive whole number, not "ten"/);
    } finally {
      cleanup();
    }
  });

  it.each([
    ['a malformed line', 'tracker.txt', '1,1,10,10,20,20,1,-1,-1,-1\n2,1,10,oops,20,20,1,-1,-1,-1\n', /tracker\.txt:2: field 4 \(y\) is not a number: "oops"/],
    ['a tracker id twice in a frame', 'tracker.txt', '1,1,10,10,20,20,1,-1,-1,-1\n1,1,50,10,20,20,1,-1,-1,-1\n', /tracker\.txt:2: tracker id 1 appears twice in frame 1 \(also line 1\)/],
    ['a frame past seqLength', 'gt.txt', '1,1,10,10,20,20,1,1,1\n4,1,10,10,20,20,1,1,1\n', /gt\.txt:2: frame 4 is outside the sequence's frames 1\.\.3/],
    ['a bad seqinfo.ini', 'seqinfo.ini', '[Sequence]\nname=x\n', /seqinfo\.ini: no seqLength in its \[Sequence\] section/],
  ])('names the file and line of %s, exit 2', async (_what, file, text, message) => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'gt.txt'), '1,1,10,10,20,20,1,1,1\n');
      writeFileSync(join(dir, 'tracker.txt'), '1,1,10,10,20,20,1,-1,-1,-1\n');
      writeFileSync(join(dir, 'seqinfo.ini'), '[Sequence]\nseqLength=3\n');
      writeFileSync(join(dir, file), text);
      const r = await paddock(['eval', 'tracking', '--gt', join(dir, 'gt.txt'), '--tracker', join(dir, 'tracker.txt')], {});
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(message);
    } finally {
      cleanup();
    }
  });

  it('needs --gt and --tracker', async () => {
    const r = await paddock(['eval', 'tracking', '--gt', 'gt.txt'], {});
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/eval tracking needs --gt <gt\.txt> and --tracker <results\.txt>/);
  });
});
