/**
 * The replay screen: a flagged segment of a replayed drive (a `replay-divergence` failure),
 * played frame by frame. Enter on such a failure in the failures screen opens it here (`7` shows
 * the run's worst one). The frame is drawn with its ground truth (green) and the tracks of the
 * overlay chosen with `m`: the candidate's (cyan), the baseline's (magenta), both, or GT only;
 * the tracks are listed beside it with their ids. Above it, the segment's divergence strip, one
 * symbol a frame (replay-player.ts), a caret under the frame shown and what diverges there. Below,
 * the overlay and who reviewed or filed the segment for data mining.
 *
 * The frames are in the drive's bundle: they are loaded through `loadFrame` (the shell's, over
 * src/replay/bundle.ts by default), the one shown first, then the next two; a frame not loaded
 * yet shows "loading frame…" and keys keep working. Timelines are read through `readTimeline`.
 */
import React, { useEffect, useMemo, useRef, useState } from 'react';
import { readFileSync } from 'node:fs';
import { Box, Text } from 'ink';
import type { FailureItem } from '../../src/live/run-reader.js';
import { ReplayTimeline } from '../../src/schema/replay-timeline.js';
import { clip, type Theme } from '../theme.js';
import { frameCellSize, renderFrameCells, type RgbFrame } from '../frame-cells.js';
import type { ScreenBinding } from '../keymap.js';
import type { RowModel, ScreenProps } from './screen.js';
import { fitParts, wrapText } from '../table.js';
import { NoRun, pad, stamp } from './list.js';
import {
  divergenceStrip,
  frameFacts,
  frameOf,
  overlayBoxes,
  overlayLabel,
  playerFor,
  replayFailures,
  replayRef,
  replaySegment,
  segmentMarks,
  stripLegend,
  trackLines,
  type PlayerState,
  type ReplaySegment,
  type SegmentFacts,
} from '../replay-player.js';

const N = ['normal'] as const;

/** The player's keys, n/N between the run's flagged segments, r reviewed, d filed for data mining (a note is asked). */
export const REPLAY_BINDINGS: readonly ScreenBinding[] = [
  { keys: [' '], action: 'play', hint: 'play or pause the segment', short: 'play', label: 'Space', modes: [...N], footer: true },
  { keys: ['l', 'right'], action: 'frame-next', hint: 'next frame', short: 'frame', label: 'h/l', modes: [...N], footer: true },
  { keys: ['h', 'left'], action: 'frame-prev', hint: 'previous frame', modes: [...N] },
  { keys: ['H', '['], action: 'segment-start', hint: "the segment's first frame", modes: [...N] },
  { keys: ['L', ']'], action: 'segment-end', hint: "the segment's last frame", modes: [...N] },
  { keys: ['n'], action: 'next-failure', hint: 'next flagged segment', short: 'next', modes: [...N], footer: true },
  { keys: ['N'], action: 'prev-failure', hint: 'previous flagged segment', modes: [...N] },
  { keys: ['m'], action: 'overlay', hint: 'overlay: candidate, baseline, both, GT only', short: 'overlay', modes: [...N], footer: true },
  { keys: ['r'], action: 'reviewed', hint: 'mark the segment reviewed', short: 'reviewed', modes: [...N], footer: true },
  { keys: ['d'], action: 'file', hint: 'file the segment for data mining (a note is asked)', short: 'file', modes: [...N], footer: true },
];

/** The run's replay failures by severity: the segments `n`/`N` step through. */
export const REPLAY_ROWS: RowModel<FailureItem> = {
  select: (data) => replayFailures(data.run?.detail.failures ?? []),
  id: (f) => f.id,
};

/** Reads a frame of a drive bundle: its `sourceIndex`-th image (capture order), decoded to RGB. */
export type LoadFrame = (bundlePath: string, sourceIndex: number) => Promise<RgbFrame>;
/** A drive's timeline, read and checked, or why it cannot be. */
export type TimelineRead = { timeline: ReplayTimeline } | { error: string };

/** How the screen reads what it shows: the timelines and the bundles' frames. */
export interface ReplayIo {
  readTimeline(path: string): TimelineRead;
  loadFrame: LoadFrame;
}

/** What the replay screen gets from the shell besides a screen's props: the player's state and the redraw rate that caps playing. */
export interface ReplayProps {
  player: PlayerState;
  io: ReplayIo;
  maxFps: number;
}

const timelines = new Map<string, TimelineRead>();

/** Reads a timeline JSON through its schema; kept once read (a timeline is written once, by the replay step). */
export function defaultReadTimeline(path: string): TimelineRead {
  const kept = timelines.get(path);
  if (kept) return kept;
  let read: TimelineRead;
  try {
    const parsed = ReplayTimeline.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    read = parsed.success ? { timeline: parsed.data } : { error: `${path} is not a replay timeline: ${parsed.error.issues[0]?.path.join('.') || '(root)'}: ${parsed.error.issues[0]?.message}` };
  } catch (err) {
    read = { error: `cannot read ${path}: ${(err as Error).message.split('\n')[0]}` };
  }
  if (timelines.size > 32) timelines.clear();
  timelines.set(path, read);
  return read;
}

/** The bundles read, by path: a bundle is read whole once, its frames decoded one by one as they are shown. */
const bundles = new Map<string, Promise<{ frames: readonly { index: number; format: string; data: Uint8Array }[] }>>();

/**
 * Loads a frame from the drive's log (an MCAP bundle or a ROS 2 bag) with src/replay/bundle.ts's
 * reader, imported when a segment is first played (the workbench starts without it), the image
 * (PNG or JPEG) decoded by src/replay/frame-decode.ts.
 */
export const defaultLoadFrame: LoadFrame = async (bundlePath, sourceIndex) => {
  let bundle = bundles.get(bundlePath);
  if (!bundle) {
    bundle = import('../../src/replay/bundle.js').then(async (m) => m.readDrive(bundlePath));
    if (bundles.size > 4) bundles.clear();
    bundles.set(bundlePath, bundle);
    bundle.catch(() => bundles.delete(bundlePath));
  }
  const { frames } = await bundle;
  const f = frames.find((x) => x.index === sourceIndex);
  if (!f) throw new Error(`${bundlePath} has no frame ${sourceIndex} (it has ${frames.length})`);
  const { decodeFrameRgb } = await import('../../src/replay/frame-decode.js');
  return decodeFrameRgb(f.format, f.data, `${bundlePath} frame ${sourceIndex}`);
};

export const defaultReplayIo: ReplayIo = { readTimeline: defaultReadTimeline, loadFrame: defaultLoadFrame };

/** The segment a replay failure points at, read from its timeline; undefined for another failure. */
export function readReplaySegment(item: FailureItem | undefined, readTimeline: ReplayIo['readTimeline']): ReplaySegment | { error: string } | undefined {
  const ref = item && replayRef(item);
  if (!ref) return item ? { error: `${item.id} is a ${item.kind} failure without a timeline and segment in its data` } : undefined;
  const read = readTimeline(ref.timeline);
  return 'error' in read ? read : replaySegment(read.timeline, ref);
}

/** What the UI reducer needs of the segment of a replay failure (undefined until it can be read). */
export function segmentFacts(item: FailureItem | undefined, readTimeline: ReplayIo['readTimeline']): SegmentFacts | undefined {
  const seg = readReplaySegment(item, readTimeline);
  if (!item || !seg || 'error' in seg) return undefined;
  return { failureId: item.id, frames: seg.frames.length, rateHz: seg.timeline.rate_hz, hasBaseline: seg.timeline.baseline !== null };
}

/** A frame as the screen has it: drawn from the image loaded, still loading, or why it cannot be. */
type Loaded = { img: RgbFrame } | { error: string } | { loading: true };

/**
 * The segment's frames as they load: the one shown first, then the next two (playing needs them
 * next), kept while the segment is shown; a render never waits for one.
 */
function useSegmentFrames(load: LoadFrame, bundle: string | undefined, sources: readonly number[], index: number): Loaded {
  const key = bundle ? `${bundle}|${sources.join(',')}` : '';
  const cache = useRef<{ key: string; frames: Map<number, Loaded> }>({ key: '', frames: new Map() });
  const [, setVersion] = useState(0);
  if (cache.current.key !== key) cache.current = { key, frames: new Map() };
  const current = cache.current;
  useEffect(() => {
    if (!bundle) return;
    for (const s of sources.slice(index, index + 3)) {
      if (current.frames.has(s)) continue;
      current.frames.set(s, { loading: true });
      const done = (frame: Loaded) => {
        current.frames.set(s, frame);
        // A frame of a segment no longer shown is dropped with its cache.
        if (cache.current === current) setVersion((v) => v + 1);
      };
      load(bundle, s).then(
        (img) => done({ img }),
        (err: unknown) => done({ error: err instanceof Error ? err.message : String(err) }),
      );
    }
  }, [key, index, load]);
  const s = sources[index];
  return (s !== undefined && current.frames.get(s)) || { loading: true };
}

/** Columns the track list keeps beside the frame. */
const LIST_COLS = 24;
/** Widest the frame is drawn: Ink lays every escape of it out again at each render (see FailuresScreen). */
const MAX_FRAME_COLS = 120;
/** Lines besides the frame: the heading, the reasons, the strip and its caret, the overlay, the triage. */
const FIXED_LINES = 6;

/** The cell area the frame is drawn in at most (its aspect kept inside it): at 80x24 (a body of 21 lines), 54x15. */
export function replayFrameArea(width: number, height: number): { cols: number; rows: number } {
  return { cols: Math.max(16, Math.min(MAX_FRAME_COLS, width - LIST_COLS - 2)), rows: Math.max(3, height - FIXED_LINES) };
}

/** The replay screen (container): reads the segment of the selected replay failure, loads its frames, draws the one shown. */
export function ReplayScreen({ rows, cursor, data, width, height, theme, depth, replay }: ScreenProps<FailureItem>) {
  const item = rows[cursor];
  const seg = useMemo(() => readReplaySegment(item, replay.io.readTimeline), [item?.id, replay.io]);
  const ok = seg && !('error' in seg) ? seg : undefined;
  const player = playerFor(replay.player, item?.id);
  const index = ok ? frameOf(player, ok.frames.length) : 0;
  const bundle = ok ? (item && replayRef(item)?.bundle) ?? ok.timeline.bundle : undefined;
  const sources = useMemo(() => ok?.frames.map((f) => f.source) ?? [], [ok]);
  const loaded = useSegmentFrames(replay.io.loadFrame, bundle, sources, index);
  const { cols: frameCols, rows: areaRows } = replayFrameArea(width, height);
  const frame = ok?.frames[index];
  const drawn = useMemo(() => {
    if (!ok || !frame || !('img' in loaded)) return undefined;
    return renderFrameCells(loaded.img, frameCols, areaRows, overlayBoxes(frame, ok.timeline, player.overlay), depth, theme.unicode);
  }, [ok, frame, loaded, frameCols, areaRows, player.overlay, depth, theme.unicode]);
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  if (!item) {
    const lines = wrapText('no replay segments in this run: the replay step makes each flagged segment a replay-divergence failure, and Enter on one in the failures screen plays it here', width, '  ');
    return (
      <Box flexDirection="column">
        <Text wrap="truncate" bold color={theme.accent}>
          {clip('  REPLAY', width, theme.unicode)}
        </Text>
        {lines.map((l, i) => (
          <Text key={i} wrap="truncate">
            {clip(l, width, theme.unicode)}
          </Text>
        ))}
      </Box>
    );
  }
  return <ReplayView item={item} position={cursor} count={rows.length} segment={seg ?? { error: 'no segment' }} player={player} index={index} loaded={loaded} frameLines={drawn} maxFps={replay.maxFps} width={width} height={height} theme={theme} />;
}

export interface ReplayViewProps {
  item: FailureItem;
  /** The failure's place among the run's replay failures, from 0, and how many there are. */
  position: number;
  count: number;
  segment: ReplaySegment | { error: string };
  player: PlayerState;
  /** The frame shown, inside the segment. */
  index: number;
  loaded: Loaded;
  /** The frame drawn (lines with escapes), once loaded. */
  frameLines?: string[];
  maxFps: number;
  width: number;
  height: number;
  theme: Theme;
}

/**
 * Who reviewed and filed the segment, in `width`: "reviewed by ana at 2026-11-25 21:52 · filed
 * for data mining by ana at 2026-11-25 21:53: night glare"; narrower, the times go, then the
 * reviewer's name (the filing's note stays longest).
 */
export function triageLine(f: FailureItem, width: number, unicode: boolean): string {
  const sep = unicode ? ' · ' : ' | ';
  const forms = [true, false].flatMap((times) => [true, false].map((reviewer) => ({ times, reviewer })));
  const lines = forms.map(({ times, reviewer }) => {
    const at = (ms: number) => (times ? ` at ${stamp(ms)}` : '');
    const reviewed = f.reviewed ? (reviewer || !f.filed ? `reviewed by ${f.reviewed.actor}${at(f.reviewed.at)}` : 'reviewed') : 'not reviewed (r)';
    const filed = f.filed ? `filed ${times ? 'for data mining ' : ''}by ${f.filed.actor}${at(f.filed.at)}: ${f.filed.note}` : 'not filed (d)';
    return `${reviewed}${sep}${filed}`;
  });
  return clip(lines.find((l) => l.length <= width) ?? lines.at(-1)!, width, unicode);
}

/** The view: pure props to lines, `height` of them at most. */
export function ReplayView({ item, position, count, segment, player, index, loaded, frameLines, maxFps, width, height, theme }: ReplayViewProps) {
  const dash = theme.unicode ? '─' : '-';
  const ref = replayRef(item);
  const ok = 'error' in segment ? undefined : segment;
  const frame = ok?.frames[index];
  const rate = ok ? Math.min(ok.timeline.rate_hz, maxFps) : 0;
  const state = player.playing ? `${theme.unicode ? '▶' : '>'} playing ${rate === ok?.timeline.rate_hz ? `${rate} Hz` : `at ${rate} of ${ok?.timeline.rate_hz} Hz`}` : `${theme.unicode ? '❚❚' : '||'} paused`;
  const heading = fitParts(
    [
      { text: `REPLAY ${position + 1}/${count}` },
      { text: `${ref?.driveId ?? '?'} ${ref?.variant ?? ''} seg ${ref?.segment ?? '?'}` },
      { text: `${item.severity.toUpperCase()}${ok ? ` ${ok.segment.severity.toFixed(2)}` : ''}` },
      { text: ok && frame ? `frame ${index + 1}/${ok.frames.length} #${frame.source} t ${frame.t.toFixed(2)} s` : '' },
    ],
    width,
    ` ${dash} `,
    theme.unicode,
  );
  const head = (
    <Text wrap="truncate" bold color={theme.accent}>
      {heading}
    </Text>
  );
  const reasons = ok?.segment.reasons.length ? ok.segment.reasons : (ref?.reasons ?? []);
  const reasonLine = <Text wrap="truncate">{clip(`  ${reasons.length ? reasons.join('; ') : item.title}`, width, theme.unicode)}</Text>;
  const triage = (
    <Text wrap="truncate" dimColor={theme.dim}>
      {`  ${triageLine(item, width - 2, theme.unicode)}`}
    </Text>
  );
  if (!ok) {
    const lines = wrapText(segment && 'error' in segment ? segment.error : '', width, '  ');
    return (
      <Box flexDirection="column">
        {head}
        {reasonLine}
        {lines.slice(0, Math.max(1, height - 3)).map((l, i) => (
          <Text key={i} wrap="truncate" color={theme.color ? 'red' : undefined}>
            {clip(l, width, theme.unicode)}
          </Text>
        ))}
        {triage}
      </Box>
    );
  }
  const label = 'divergence ';
  const room = Math.max(8, width - label.length - 2);
  const { strip, caret } = divergenceStrip(segmentMarks(ok), index, room, theme.unicode);
  const legend = stripLegend(theme.unicode);
  const stripLine = `${label}${strip}${label.length + strip.length + 2 + legend.length <= width ? `  ${legend}` : ''}`;
  const facts = frameFacts(ok, index);
  const caretLine = `${' '.repeat(label.length)}${caret}`.padEnd(label.length + strip.length + 2) + facts;
  const area = replayFrameArea(width, height);
  const areaRows = area.rows;
  const shown = frameLines ?? [];
  const frameW = shown.length ? Math.max(...shown.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').length)) : 0;
  const waiting = 'error' in loaded ? `cannot load frame #${frame?.source}: ${loaded.error}` : shown.length ? '' : `loading frame${theme.unicode ? '…' : '...'}`;
  // The frame's area keeps its width while a frame loads, so that the list beside it stays put.
  const img = 'img' in loaded ? loaded.img : undefined;
  const areaCols = frameW || (img ? frameCellSize(img, area.cols, areaRows).cols : area.cols);
  const listW = Math.max(10, width - areaCols - 2);
  const list = frame ? trackLines(frame, ok.timeline, player.overlay) : [];
  const listShown = list.length > areaRows ? [...list.slice(0, areaRows - 1), `+${list.length - areaRows + 1} more`] : list;
  const left = shown.length ? shown.slice(0, areaRows) : wrapText(waiting, areaCols).slice(0, areaRows);
  const overlay = `${state}${theme.unicode ? ' · ' : ' | '}overlay ${overlayLabel(player.overlay)}${theme.color ? ': GT green, candidate cyan, baseline magenta' : ''}`;
  const overlayLine = clip(`  ${overlay}`, width, theme.unicode);
  return (
    <Box flexDirection="column">
      {head}
      {reasonLine}
      <Text wrap="truncate">{clip(stripLine, width, theme.unicode)}</Text>
      <Text wrap="truncate">{clip(caretLine, width, theme.unicode)}</Text>
      {Array.from({ length: areaRows }, (_, i) => {
        // One row a line, the list's gap in its text (a margin between boxes is lost when the frame is wider than Ink's own idea of the terminal).
        const l = left[i];
        const frameText = l === undefined ? ' '.repeat(areaCols) : shown.length ? l : clip(l, areaCols, theme.unicode).padEnd(areaCols);
        const item = listShown[i];
        return (
          <Box key={i} flexDirection="row">
            <Text>{frameText}</Text>
            {item !== undefined ? (
              <Text wrap="truncate" bold={!item.startsWith(' ')}>
                {`  ${clip(item, listW, theme.unicode)}`}
              </Text>
            ) : null}
          </Box>
        );
      })}
      <Text wrap="truncate" dimColor={theme.dim}>
        {overlayLine}
      </Text>
      {triage}
      {pad(height - FIXED_LINES - areaRows, 'rv')}
    </Box>
  );
}
