/**
 * The simulation screen: the closed-loop sweep's failed runs for triage. Above, the heat map of
 * violations (scenario x parameter set, from the run's `sim-heatmap` artifact, SimHeatmap) with
 * the selected run's cell bracketed; below, the failed runs (failure events of kind `sim.*`, data
 * SimFailureData) worst first, windowed, and the selected one's facts: parameters, seed,
 * conditions, the violation types, whether production failed the same run, its figures, who
 * reviewed or filed it. `/type=collision` shows one violation type (and filters the list).
 *
 * Enter plays the run's clip on the whole body, frame by frame: each step of the run's trace is
 * re-rendered with the loop's own scene (src/sim/world-view.ts sceneForStep, the world's renderer)
 * and drawn in the terminal (frame-cells.ts) with the ground truth (green) and the tracks the
 * planner saw (cyan); beside it the ego's speed, the planner's mode and command, the lead and its
 * TTC; under it the strip of planner modes with the collision's step. The GIF the sim step wrote
 * is for people outside the terminal (no GIF decoder is at hand, and at 54x15 cells its overlay
 * text would not read); re-rendering from the trace gives the same frames the model saw.
 *
 * `r` marks the run reviewed, `i` adds a note, `d` files a data request: the note starts as the
 * slice and conditions to mine ("mine: pedestrian in rain/night/south, scenario cpnc, params ..."),
 * edited before Enter records it (the store's failure reviews, action `filed`, with who and when).
 */
import React, { useEffect, useMemo, useRef, useState } from 'react';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { Box, Text } from 'ink';
import type { FailureItem, RunDetail } from '../../src/live/run-reader.js';
import type { ArtifactRow } from '../../src/store/run-store.js';
import { SimHeatmap } from '../../src/schema/sim-report.js';
import type { SimRunTrace } from '../../src/schema/sim-types.js';
import { clip, type Theme } from '../theme.js';
import { frameCellSize, renderFrameCells, type FrameBox, type RgbFrame } from '../frame-cells.js';
import type { ScreenBinding } from '../keymap.js';
import type { RowModel, ScreenOptions, ScreenProps } from './screen.js';
import { fitColumns, fitParts, formatRow, wrapLines, wrapText, type ColumnSpec } from '../table.js';
import { NoRun, Row, pad, stamp, windowStart } from './list.js';
import { triageLine } from './replay-view.js';
import { frameOf, playerFor, type PlayerState, type SegmentFacts } from '../replay-player.js';
import { heatLegend, heatmapLines, heatmapModel, segmentsText, type HeatLevel } from '../sim-heatmap.js';
import {
  arrangeSimRuns,
  collisionStepOf,
  dataRequestDraft,
  formatConditions,
  formatParameters,
  metricsLine,
  modeLegend,
  modeStrip,
  parseSimFilter,
  resolveSimPath,
  simRunCells,
  simRuns,
  stepFacts,
  type SimRun,
} from '../sim-triage.js';

const N = ['normal'] as const;

/** Enter plays the clip (and closes it, as Esc does), the player's keys, n/N, r reviewed, i a note, d a data request; e and / shared. */
export const SIM_BINDINGS: readonly ScreenBinding[] = [
  { keys: ['return'], action: 'expand', hint: "play the run's clip on the whole screen, or back to the list", short: 'clip', modes: [...N], footer: true },
  { keys: [' '], action: 'play', hint: 'play or pause the clip', short: 'play', label: 'Space', modes: [...N], footer: true },
  { keys: ['l', 'right'], action: 'frame-next', hint: 'next frame of the clip', short: 'frame', label: 'h/l', modes: [...N], footer: true },
  { keys: ['h', 'left'], action: 'frame-prev', hint: 'previous frame of the clip', modes: [...N] },
  { keys: ['H', '['], action: 'segment-start', hint: "the clip's first frame", modes: [...N] },
  { keys: ['L', ']'], action: 'segment-end', hint: "the clip's last frame", modes: [...N] },
  { keys: ['n'], action: 'next-failure', hint: 'next failed run', short: 'next', modes: [...N], footer: 'spare' },
  { keys: ['N'], action: 'prev-failure', hint: 'previous failed run', modes: [...N] },
  { keys: ['r'], action: 'reviewed', hint: 'mark the failed run reviewed', short: 'reviewed', modes: [...N], footer: true },
  { keys: ['i'], action: 'note', hint: 'add a note to the failed run', short: 'note', modes: [...N], footer: 'spare' },
  { keys: ['d'], action: 'file', hint: 'file a data request: the slice and conditions to mine, prefilled, edited, Enter records it', short: 'file', modes: [...N], footer: true },
  'reverse',
  'expand',
  'filter',
];

/** The shown run's failed sim runs, filtered (`type=… scenario=… model=… words`), worst first. */
export const SIM_ROWS: RowModel<FailureItem> = {
  select: (data, options) => arrangeSimRuns(simRuns(data.run?.detail.failures ?? []).runs, parseSimFilter(options.filter), options.reversed).map((r) => r.item),
  id: (f) => f.id,
};

// ---------------------------------------------------------------- reading

/** A trace, read and checked, or why it cannot be. */
export type TraceRead = { trace: SimRunTrace } | { error: string };

const traces = new Map<string, TraceRead>();

/** Reads a run's trace JSON (src/schema/sim-types.ts SimRunTrace); kept once read (a shard writes it once). */
export function readSimTrace(path: string): TraceRead {
  const kept = traces.get(path);
  if (kept) return kept;
  let read: TraceRead;
  try {
    const t = JSON.parse(readFileSync(path, 'utf8')) as Partial<SimRunTrace>;
    const bad = !t || typeof t !== 'object' ? 'not an object' : !Array.isArray(t.steps) ? 'no steps' : !t.steps.length ? 'no steps' : typeof t.dt !== 'number' || !(t.dt > 0) ? 'no dt' : !t.road ? 'no road' : !t.spec?.conditions || typeof t.spec.seed !== 'number' ? 'no spec with conditions and seed' : '';
    read = bad ? { error: `${path} is not a sim run trace: ${bad}` } : { trace: t as SimRunTrace };
  } catch (err) {
    read = { error: `cannot read ${path}: ${(err as Error).message.split('\n')[0]}` };
  }
  if (traces.size > 16) traces.clear();
  traces.set(path, read);
  return read;
}

/** A heat map, read and checked, with its folder (the sim step's out folder), or why it cannot be. */
export type HeatmapRead = { heatmap: SimHeatmap; outDir: string; path: string } | { error: string } | { absent: string };

const heatmaps = new Map<string, HeatmapRead>();

/** The `sim-heatmap` artifact of the run (the failure's step's first, else the run's first): its path, absolute (a relative one is under the recipe's folder, where steps run). */
export function heatmapArtifact(detail: Pick<RunDetail, 'run'> & { artifacts?: readonly ArtifactRow[] }, step?: string): string | undefined {
  const all = (detail.artifacts ?? []).filter((a) => a.role === 'sim-heatmap');
  const a = all.find((x) => x.step_id === step) ?? all[0];
  if (!a) return undefined;
  return isAbsolute(a.path) ? a.path : join(dirname(detail.run.recipe_path), a.path);
}

/** Reads sim_heatmap.json through its schema; kept once read. */
export function readSimHeatmap(path: string | undefined): HeatmapRead {
  if (!path) return { absent: 'no sim-heatmap artifact in this run (the sim step writes sim_heatmap.json)' };
  const kept = heatmaps.get(path);
  if (kept) return kept;
  let read: HeatmapRead;
  try {
    const parsed = SimHeatmap.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    read = parsed.success ? { heatmap: parsed.data, outDir: dirname(path), path } : { error: `${path} is not a sim heat map: ${parsed.error.issues[0]?.path.join('.') || '(root)'}: ${parsed.error.issues[0]?.message}` };
  } catch (err) {
    read = { error: `cannot read ${path}: ${(err as Error).message.split('\n')[0]}` };
  }
  if (heatmaps.size > 16) heatmaps.clear();
  heatmaps.set(path, read);
  return read;
}

/** Where the run's trace is: its data's `trace`, under the sim step's out folder when relative. */
function tracePathOf(run: SimRun, detail: RunDetail | undefined): string | undefined {
  const hm = detail ? readSimHeatmap(heatmapArtifact(detail, run.item.step)) : undefined;
  return resolveSimPath(run.data.trace, hm && 'outDir' in hm ? hm.outDir : undefined);
}

/**
 * What the workbench's reducer needs of the sim screen's selected run: the clip's length and
 * rate for the player's keys and timer (one frame a trace step), and the data request a filing
 * starts from.
 */
export function simPlayerContext(item: FailureItem | undefined, detail: RunDetail | undefined): { facts?: SegmentFacts; fileDraft?: string } {
  const run = item ? simRuns([item]).runs[0] : undefined;
  if (!item || !run) return {};
  const path = tracePathOf(run, detail);
  const read = path ? readSimTrace(path) : undefined;
  const trace = read && 'trace' in read ? read.trace : undefined;
  return {
    facts: trace ? { failureId: item.id, frames: trace.steps.length, rateHz: Math.round(1 / trace.dt), hasBaseline: false } : undefined,
    fileDraft: dataRequestDraft(run.data, trace),
  };
}

/** A clip frame: the camera image re-rendered from the trace, and the boxes drawn over it. */
export interface ClipFrame {
  img: RgbFrame;
  boxes: FrameBox[];
}

/** Box colours: the scenario's actors' ground truth green, the tracks the planner saw cyan. */
export const CLIP_RGB = { gt: [40, 255, 80], track: [0, 200, 255] } as const;

/**
 * Renders step `index` of a trace as the loop saw it: sceneForStep (the same SceneState, same
 * bytes) through the world's renderer, imported when a clip is first played (the workbench starts
 * without them); the scenario's actors' boxes (background traffic is not in the trace) and the
 * step's confirmed tracks.
 */
export async function renderClipFrame(trace: SimRunTrace, index: number): Promise<ClipFrame> {
  const step = trace.steps[index];
  if (!step) throw new Error(`the trace has no step ${index} (it has ${trace.steps.length})`);
  const [{ sceneForStep, truthEntity }, { renderFrame }] = await Promise.all([import('../../src/sim/world-view.js'), import('../../src/world/render.js')]);
  const frame = renderFrame(sceneForStep(trace.road, trace.spec.conditions, trace.spec.seed, step, index));
  const boxes: FrameBox[] = frame.objects.filter((o) => truthEntity(o, step.actors) !== null).map((o) => ({ bbox: o.bbox, rgb: CLIP_RGB.gt }));
  for (const t of step.tracks) boxes.push({ bbox: t.box, rgb: CLIP_RGB.track });
  return { img: { data: frame.rgb, width: frame.width, height: frame.height }, boxes };
}

type Loaded = { frame: ClipFrame } | { error: string } | { loading: true };

/** The clip's frames as they render: the one shown first, then the next two (playing needs them next); a render never waits for one. */
function useClipFrames(trace: SimRunTrace | undefined, key: string, index: number): Loaded {
  const cache = useRef<{ key: string; frames: Map<number, Loaded> }>({ key: '', frames: new Map() });
  const [, setVersion] = useState(0);
  if (cache.current.key !== key) cache.current = { key, frames: new Map() };
  const current = cache.current;
  useEffect(() => {
    if (!trace) return;
    for (let i = index; i < Math.min(trace.steps.length, index + 3); i++) {
      if (current.frames.has(i)) continue;
      current.frames.set(i, { loading: true });
      const done = (l: Loaded) => {
        current.frames.set(i, l);
        if (cache.current === current) setVersion((v) => v + 1);
      };
      renderClipFrame(trace, i).then(
        (frame) => done({ frame }),
        (err: unknown) => done({ error: err instanceof Error ? err.message : String(err) }),
      );
    }
  }, [key, index, trace]);
  return current.frames.get(index) ?? { loading: true };
}

// ---------------------------------------------------------------- the container

/** Widest the clip's frame is drawn (Ink lays every escape of it out again at each render; see FailuresScreen). */
const MAX_FRAME_COLS = 120;
/** Columns the facts keep beside the frame. */
const FACT_COLS = 24;
/** Lines of the clip view besides the frame: the heading, the strip and its caret, the player's state, the triage. */
const CLIP_FIXED = 5;

/** The cell area the clip's frame is drawn in at most: at 80x24 (a body of 21 lines), 54x16. */
export function simFrameArea(width: number, height: number): { cols: number; rows: number } {
  return { cols: Math.max(16, Math.min(MAX_FRAME_COLS, width - FACT_COLS - 2)), rows: Math.max(3, height - CLIP_FIXED) };
}

/** The sim screen (container): the selected failed run, the heat map, and, expanded, its clip frame by frame. */
export function SimScreen({ rows, cursor, options, data, width, height, theme, depth, replay }: ScreenProps<FailureItem>) {
  const detail = data.run?.detail;
  const all = useMemo(() => simRuns(detail?.failures ?? []), [detail?.failures]);
  const byId = useMemo(() => new Map(all.runs.map((r) => [r.item.id, r])), [all]);
  const list = useMemo(() => rows.map((f) => byId.get(f.id)).filter((r): r is SimRun => r !== undefined), [rows, byId]);
  const sel = list[cursor];
  const hm = useMemo(() => (detail ? readSimHeatmap(heatmapArtifact(detail, sel?.item.step ?? all.runs[0]?.item.step)) : undefined), [detail, sel?.item.step]);
  const tracePath = sel ? resolveSimPath(sel.data.trace, hm && 'outDir' in hm ? hm.outDir : undefined) : undefined;
  const traceRead = useMemo(() => (tracePath ? readSimTrace(tracePath) : undefined), [tracePath]);
  const trace = traceRead && 'trace' in traceRead ? traceRead.trace : undefined;
  const clipOpen = options.expanded && sel !== undefined;
  const player = playerFor(replay.player, sel?.item.id);
  const index = trace ? frameOf(player, trace.steps.length) : 0;
  const loaded = useClipFrames(clipOpen ? trace : undefined, clipOpen && tracePath ? tracePath : '', index);
  const area = simFrameArea(width, height);
  const drawn = useMemo(() => ('frame' in loaded ? renderFrameCells(loaded.frame.img, area.cols, area.rows, loaded.frame.boxes, depth, theme.unicode) : undefined), [loaded, area.cols, area.rows, depth, theme.unicode]);
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  if (clipOpen && sel) {
    return <SimClipView run={sel} position={cursor} count={list.length} trace={traceRead ?? { error: `${sel.item.id} has no trace in its data` }} player={player} index={index} loaded={loaded} frameLines={drawn} maxFps={replay.maxFps} width={width} height={height} theme={theme} />;
  }
  return <SimTriageView runs={list} total={all.runs.length} unreadable={all.unreadable} cursor={cursor} options={options} heatmap={hm ?? { absent: 'no run' }} width={width} height={height} theme={theme} />;
}

// ---------------------------------------------------------------- the triage view

/** The failed runs' columns: the scenario and the conditions are cut first, then the types; the mark, score, set, seed and production always show. */
export const SIM_COLUMNS: readonly ColumnSpec[] = [
  { id: 'mark', header: '' },
  { id: 'score', header: 'sev', align: 'right' },
  { id: 'scenario', header: 'scenario', max: 18, min: 6, shrink: 0 },
  { id: 'set', header: 'set' },
  { id: 'seed', header: 'seed' },
  { id: 'conditions', header: 'conditions', max: 24, min: 8, shrink: 1 },
  { id: 'types', header: 'types', max: 28, min: 9, shrink: 2 },
  { id: 'baseline', header: 'prod', max: 16, min: 7, shrink: 3 },
];

/** Heat map rows, failed-run rows and detail lines in a body of `height` lines (80x24: 5, 5 and 6). */
export function simLayout(height: number, scenarios: number, count: number): { heatRows: number; listRows: number; detailRows: number } {
  const heatRows = Math.max(1, Math.min(scenarios || 1, Math.floor((height - 1) / 4)));
  // Heading, the heat map's head, its cell line and legend, the list's header and position line.
  const rest = height - 1 - (heatRows + 3) - 2;
  const listRows = Math.max(2, Math.min(count || 1, Math.floor(rest / 2)));
  return { heatRows, listRows, detailRows: Math.max(1, rest - listRows) };
}

const LEVEL_COLORS: Record<Exclude<HeatLevel, null>, string> = { 0: 'green', 1: 'yellow', 2: 'yellow', 3: 'red', 4: 'redBright' };

export interface SimTriageViewProps {
  runs: readonly SimRun[];
  /** Failed runs before the filter. */
  total: number;
  /** `sim.*` failures whose data the schema does not read, with why. */
  unreadable: readonly string[];
  cursor: number;
  options: ScreenOptions;
  heatmap: HeatmapRead;
  width: number;
  height: number;
  theme: Theme;
}

/** The heat map, the failed runs windowed around the cursor, the selected one's facts wrapped whole: pure props to `height` lines at most. */
export function SimTriageView({ runs, total, unreadable, cursor, options, heatmap, width, height, theme }: SimTriageViewProps) {
  const sep = theme.unicode ? ' · ' : ' | ';
  const filter = parseSimFilter(options.filter);
  const sel = runs[cursor];
  const map = 'heatmap' in heatmap ? heatmap.heatmap : undefined;
  const { heatRows, listRows, detailRows } = simLayout(height, map?.scenarios.length ?? 1, runs.length);
  const model = map ? heatmapModel(map, filter.model, sel?.data.model) : sel?.data.model ?? '';
  const heat = map ? heatmapLines(map, { model, type: filter.type, selected: sel ? { scenario: sel.data.scenario, paramIndex: sel.data.paramIndex } : undefined, width, rows: heatRows, unicode: theme.unicode }) : undefined;
  const runsOf = map ? map.scenarios.flatMap((s) => s.cells.filter((c) => c.model === model)).reduce((n, c) => n + c.runs, 0) : undefined;
  const heading = fitParts(
    [
      { text: `  SIM ${runs.length}${runs.length !== total ? ` of ${total}` : ''} failed runs${runsOf !== undefined ? ` of ${runsOf}` : ''}` },
      { text: model },
      { text: filter.type ? `with ${filter.type}` : 'any violation' },
      { text: options.filter ? `(filter: ${options.filter})` : '', drop: 2 },
      { text: unreadable.length ? `${unreadable.length} unreadable` : '', drop: 1 },
    ],
    width,
    sep,
    theme.unicode,
  );

  const cells = runs.map((r) => simRunCells(r, theme.unicode));
  const layout = fitColumns(SIM_COLUMNS, cells, width - 2);
  const start = windowStart(cursor, runs.length, listRows);
  const details: string[] = [];
  if (sel) {
    const d = sel.data;
    // The run's identity and conditions, then people's words (the review, the notes, newest first), then the figures and the files.
    details.push(
      `${sel.item.severity.toUpperCase()} ${sel.item.kind}  ${d.scenario} (${d.category}) set #${d.paramIndex} ${formatParameters(d.parameters)}${sep}seed ${d.seed}${sep}${d.model}`,
      `conditions ${formatConditions(d.conditions)} density ${d.conditions.density}${sep}${d.types.join(', ')}${sep}${d.baseline ? `${d.baseline.model} ${d.baseline.failed ? `failed too (${d.baseline.types.join(', ')})` : 'did not fail'}` : 'no production run'}`,
      triageLine(sel.item, width - 2, theme.unicode),
    );
    for (const n of [...sel.item.notes].reverse()) details.push(`note by ${n.actor} at ${stamp(n.at)}: ${n.text}`);
    const figures = metricsLine(d, sep);
    if (figures) details.push(figures);
    details.push(`clip ${d.clip ?? '-'}${sep}trace ${d.trace ?? '-'}${d.trace ? ' (Enter plays it)' : ''}`);
  } else if (unreadable.length) details.push(...unreadable.map((u) => `unreadable: ${u}`));
  const wrapped = wrapLines(details, width, '  ');
  const shown = wrapped.length > detailRows ? [...wrapped.slice(0, Math.max(0, detailRows - 1)), clip(`... ${wrapped.length - detailRows + 1} more lines: paddock failures --json`, width, theme.unicode)] : wrapped;

  const heatBlock = heat ? (
    <>
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(heat.head, width, theme.unicode)}
      </Text>
      {heat.rows.map((r) => (
        <Text key={r.scenario} wrap="truncate" bold={r.selected}>
          {r.segments.map((s, i) => (
            <Text key={i} color={theme.color && s.level !== undefined && s.level !== null ? LEVEL_COLORS[s.level] : undefined}>
              {s.text}
            </Text>
          ))}
        </Text>
      ))}
      {pad(heatRows - heat.rows.length, 'hp')}
      <Text wrap="truncate">{clip(`  ${heat.cell || 'no failed run selected'}${heat.cut ? `${sep}${heat.cut}` : ''}`, width, theme.unicode)}</Text>
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(`  ${heatLegend(theme.unicode, filter.type)}`, width, theme.unicode)}
      </Text>
    </>
  ) : (
    <>
      {wrapText('error' in heatmap ? heatmap.error : 'absent' in heatmap ? heatmap.absent : '', width, '  ')
        .slice(0, heatRows + 3)
        .map((l, i) => (
          <Text key={i} wrap="truncate" color={theme.color && 'error' in heatmap ? 'red' : undefined}>
            {clip(l, width, theme.unicode)}
          </Text>
        ))}
      {pad(heatRows + 3 - Math.min(heatRows + 3, wrapText('error' in heatmap ? heatmap.error : 'absent' in heatmap ? heatmap.absent : '', width, '  ').length), 'ha')}
    </>
  );
  const dash = theme.unicode ? '─' : '-';
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {heading}
      </Text>
      {heatBlock}
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(`  ${formatRow(layout, SIM_COLUMNS.map((c) => c.header), theme.unicode)}`, width, theme.unicode)}
      </Text>
      {runs.slice(start, start + listRows).map((r, i) => (
        <Row key={r.item.id} text={formatRow(layout, cells[start + i], theme.unicode)} selected={start + i === cursor} theme={theme} width={width} color={r.data.types.includes('collision') ? 'red' : 'yellow'} />
      ))}
      {runs.length === 0 ? <Text>{clip(total ? '  no failed run matches the filter' : '  no failed sim runs in this run (failures of kind sim.*)', width, theme.unicode)}</Text> : null}
      {pad(listRows - Math.min(listRows, runs.length) - (runs.length === 0 ? 1 : 0), 'lp')}
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(sel ? `${dash} ${cursor + 1}/${runs.length} ${dash} n next, N previous, Enter plays the clip` : '', width, theme.unicode)}
      </Text>
      {shown.map((d, i) => (
        <Text key={i} wrap="truncate" bold={i === 0}>
          {clip(d, width, theme.unicode)}
        </Text>
      ))}
      {pad(detailRows - shown.length, 'dp')}
    </Box>
  );
}

// ---------------------------------------------------------------- the clip view

export interface SimClipViewProps {
  run: SimRun;
  position: number;
  count: number;
  trace: TraceRead;
  player: PlayerState;
  /** The frame shown: a step of the trace. */
  index: number;
  loaded: Loaded;
  /** The frame drawn (lines with escapes), once rendered. */
  frameLines?: string[];
  maxFps: number;
  width: number;
  height: number;
  theme: Theme;
}

/** The clip: heading, the frame with the ego's facts beside it, the mode strip with its caret, the player's state, the triage. */
export function SimClipView({ run, position, count, trace, player, index, loaded, frameLines, maxFps, width, height, theme }: SimClipViewProps) {
  const sep = theme.unicode ? ' · ' : ' | ';
  const dash = theme.unicode ? '─' : '-';
  const d = run.data;
  const ok = 'trace' in trace ? trace.trace : undefined;
  const step = ok?.steps[index];
  const rateHz = ok ? Math.round(1 / ok.dt) : 0;
  const rate = Math.min(rateHz, maxFps);
  const heading = fitParts(
    [
      { text: `SIM CLIP ${position + 1}/${count}` },
      { text: `${d.scenario} #${d.paramIndex} seed ${d.seed}` },
      { text: d.types.join(',') },
      { text: ok && step ? `frame ${index + 1}/${ok.steps.length} t ${step.t.toFixed(2)} s` : '' },
    ],
    width,
    ` ${dash} `,
    theme.unicode,
  );
  const triage = (
    <Text wrap="truncate" dimColor={theme.dim}>
      {`  ${triageLine(run.item, width - 2, theme.unicode)}`}
    </Text>
  );
  if (!ok) {
    return (
      <Box flexDirection="column">
        <Text wrap="truncate" bold color={theme.accent}>
          {heading}
        </Text>
        {wrapText('error' in trace ? trace.error : '', width, '  ')
          .slice(0, Math.max(1, height - 2))
          .map((l, i) => (
            <Text key={i} wrap="truncate" color={theme.color ? 'red' : undefined}>
              {clip(l, width, theme.unicode)}
            </Text>
          ))}
        {triage}
      </Box>
    );
  }
  const area = simFrameArea(width, height);
  const shown = frameLines ?? [];
  const frameW = shown.length ? Math.max(...shown.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').length)) : 0;
  const img = 'frame' in loaded ? loaded.frame.img : undefined;
  const areaCols = frameW || (img ? frameCellSize(img, area.cols, area.rows).cols : frameCellSize({ width: 320, height: 192 }, area.cols, area.rows).cols);
  const waiting = 'error' in loaded ? `cannot render frame ${index + 1}: ${loaded.error}` : shown.length ? '' : `rendering frame${theme.unicode ? '…' : '...'}`;
  const left = shown.length ? shown.slice(0, area.rows) : wrapText(waiting, areaCols).slice(0, area.rows);
  const factW = Math.max(10, width - areaCols - 2);
  const facts = step ? stepFacts(step, theme.unicode) : [];
  const factsShown = facts.length > area.rows ? [...facts.slice(0, area.rows - 1), `+${facts.length - area.rows + 1} more`] : facts;
  const label = 'modes ';
  const room = Math.max(8, width - label.length - 2);
  const { strip, caret } = modeStrip(ok.steps.map((s) => s.mode), collisionStepOf(d, ok), index, room, theme.unicode);
  const legend = modeLegend(theme.unicode);
  const stripLine = `${label}${strip}${label.length + strip.length + 2 + legend.length <= width ? `  ${legend}` : ''}`;
  const caretLine = `${' '.repeat(label.length)}${caret}`;
  const state = player.playing ? `${theme.unicode ? '▶' : '>'} playing ${rate === rateHz ? `${rate} Hz` : `at ${rate} of ${rateHz} Hz`}` : `${theme.unicode ? '❚❚' : '||'} paused`;
  const stateLine = `${state}${sep}${theme.color ? 'GT green, tracks cyan' : 'boxes: GT and tracks'}${sep}Space play, h/l frame, Enter back`;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={theme.accent}>
        {heading}
      </Text>
      {Array.from({ length: area.rows }, (_, i) => {
        const l = left[i];
        const frameText = l === undefined ? ' '.repeat(areaCols) : shown.length ? l : clip(l, areaCols, theme.unicode).padEnd(areaCols);
        const f = factsShown[i];
        return (
          <Box key={i} flexDirection="row">
            <Text>{frameText}</Text>
            {f !== undefined ? (
              <Text wrap="truncate" bold={i === 0}>
                {`  ${clip(f, factW, theme.unicode)}`}
              </Text>
            ) : null}
          </Box>
        );
      })}
      <Text wrap="truncate">{clip(stripLine, width, theme.unicode)}</Text>
      <Text wrap="truncate">{clip(caretLine, width, theme.unicode)}</Text>
      <Text wrap="truncate" dimColor={theme.dim}>
        {clip(`  ${stateLine}`, width, theme.unicode)}
      </Text>
      {triage}
    </Box>
  );
}
