/**
 * One manifest reader, one slice-file loader, one slice evaluator (src/schema/manifest-load.ts,
 * src/schema/manifest.ts), seen through each of their users: inference, the package stage's
 * frames, the data checks, the run reader.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest as inferManifest, InferenceError } from '../../src/model/infer.js';
import { loadFrames } from '../../src/pack/samples.js';
import { parseManifest } from '../../src/evaluate/data-checks.js';
import { ManifestError, loadSliceFile, parseManifestText, readManifest } from '../../src/schema/manifest-load.js';
import { RecipeError } from '../../src/schema/recipe-load.js';
import { SliceFile, sliceSelects, type Slice } from '../../src/schema/manifest.js';
import { tempDir } from '../helpers/fixtures.js';

const ROW = { frame_id: 'f1', scene_id: 's1', drive_id: 'd1', timestamp: '2026-01-01T00:00:00.000Z', region: 'east', city: 'c', weather: 'rain', time_of_day: 'night', road_type: 'urban', seed: 1, path: 'frames/f1.png', width: 4, height: 4, sha256: 'a'.repeat(64), pixels_sha256: 'b'.repeat(64) };

describe('the manifest reader', () => {
  it.each([
    ['a line that is not JSON', `${JSON.stringify(ROW)}\n{not json\n`, 2, /^invalid JSON \(/],
    ['a row that is not a manifest row', `${JSON.stringify({ ...ROW, weather: 'hail' })}\n`, 1, /^not a manifest row: weather: Invalid option/],
    ['a repeated frame id', `${JSON.stringify(ROW)}\n\n${JSON.stringify(ROW)}\n`, 3, /^frame id f1 also on line 1$/],
  ])('names the file and line of %s, the same for every user', (_, text, line, message) => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'manifests', 'm.jsonl');
      mkdirSync(join(dir, 'manifests'));
      writeFileSync(file, text);
      const issue = parseManifestText(text, file).issues[0];
      expect(issue).toMatchObject({ file, line });
      expect(issue.message).toMatch(message);
      const expected = `${file}:${line}: ${issue.message}`;
      expect(() => readManifest(file)).toThrow(new ManifestError(issue));
      expect(() => loadFrames(file)).toThrow(expected);
      expect(parseManifest(text, file, 'm').violations[0]).toMatchObject({ manifest: 'm', line, message: issue.message });
      // Inference asks only for frame ids and paths, so a full row that fails the schema is fine there.
      if (!/not a manifest row/.test(issue.message)) {
        expect(() => inferManifest(file)).toThrow(InferenceError);
        expect(() => inferManifest(file)).toThrow(expected);
      } else expect(inferManifest(file).entries).toEqual([{ frame_id: 'f1', path: 'frames/f1.png', image_id: 1 }]);
    } finally {
      cleanup();
    }
  });

  it('reads rows with their dataset root and the classes of the ground truth beside them', () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, 'manifests'));
      const file = join(dir, 'manifests', 'golden.jsonl');
      writeFileSync(file, `${JSON.stringify(ROW)}\n`);
      writeFileSync(join(dir, 'manifests', 'golden.coco.json'), JSON.stringify({ images: [{ id: 7, file_name: 'frames/f1.png' }], annotations: [{ image_id: 7, category_id: 2 }], categories: [{ id: 2, name: 'pedestrian' }] }));
      expect(readManifest(file)).toEqual({ file, root: dir, rows: [ROW] });
      expect(inferManifest(file)).toEqual({ root: dir, entries: [{ frame_id: 'f1', path: 'frames/f1.png', image_id: 7 }] });
      const [frame] = loadFrames(file);
      expect(frame.file).toBe(join(dir, 'frames/f1.png'));
      expect([...frame.classes]).toEqual(['pedestrian']);
    } finally {
      cleanup();
    }
  });
});

describe('the slice-file loader', () => {
  it('names the file, path and line of a bad slice, for every user', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'slices.yaml');
      writeFileSync(file, 'version: 1\nslices:\n  - { id: all }\n  - { id: wet, where: { weather: [hail] } }\n');
      expect(() => loadSliceFile(file)).toThrow(RecipeError);
      expect(() => loadSliceFile(file)).toThrow(`${file}:4:35 slices[1].where.weather[0]: Invalid option`);
      writeFileSync(file, 'version: 1\nslices:\n  - { id: all }\n  - { id: all }\n');
      expect(() => loadSliceFile(file)).toThrow(`${file}:4:11 slices[1].id: duplicate slice id "all"`);
      expect(() => loadSliceFile(join(dir, 'none.yaml'))).toThrow(`${join(dir, 'none.yaml')}: cannot read the slices file: ENOENT`);
    } finally {
      cleanup();
    }
  });
});

describe('the slice evaluator', () => {
  const slice = (s: object): Slice => SliceFile.parse({ version: 1, slices: [{ id: 'x', ...s }] }).slices[0];
  const night = { weather: 'rain', time_of_day: 'night', road_type: 'urban', region: 'east' };
  it.each([
    ['every frame and class', {}, night, [], true],
    ['a frame predicate that holds', { where: { time_of_day: ['night'] } }, night, ['car'], true],
    ['a frame predicate that fails', { where: { time_of_day: ['day'] } }, night, ['car'], false],
    ['a class among the objects', { where: { time_of_day: ['night'] }, class: ['pedestrian'] }, night, ['car', 'pedestrian'], true],
    ['no class among the objects', { class: ['pedestrian'] }, night, ['car'], false],
    ['a class slice with no objects', { class: ['pedestrian'] }, night, [], false],
    ['a frame without the tested field', { where: { weather: ['rain'] } }, {}, [], false],
  ])('%s', (_, s, frame, classes, expected) => {
    expect(sliceSelects(slice(s), frame, classes)).toBe(expected);
  });
});
