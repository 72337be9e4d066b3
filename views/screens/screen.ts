/**
 * What a screen is: one line of the screen table (index.ts) names it, the key that shows it, its
 * title, its component and its bindings, and, for a list, the model of its rows. The workbench
 * selects the rows, keeps the cursor, and hands a screen everything as props.
 */
import type { ReactNode } from 'react';
import type { LiveState } from '../../src/live/live-state.js';
import type { RunDetail } from '../../src/live/run-reader.js';
import type { RunRow } from '../../src/store/run-store.js';
import type { GateRequest } from '../../src/pipeline/gate-broker.js';
import type { ColorDepth, RgbFrame } from '../frame-cells.js';
import type { Theme } from '../theme.js';
import type { ScreenKeys } from '../keymap.js';
import type { Jump } from '../ui-state.js';
import type { ReplayProps } from './replay-view.js';
import type { RegistryProps } from './registry.js';

/** What the screens show, read from the run store, the live store and the gate broker at each render. */
export interface ScreenData {
  /** The run history, newest first. */
  runs: readonly RunRow[];
  runId?: string;
  /** The run shown: what the store holds of it, and its live state (frozen, live, or replayed from its events). */
  run?: { detail: RunDetail; view: LiveState };
  /** Gates waiting for a person: the live run's, none for a past run. */
  pending: readonly GateRequest[];
  now: number;
  /** The live data is frozen (`f`). */
  frozen: boolean;
  /** Which latency target is in front (Tab). */
  target: number;
}

/** What the person set on this screen: the list's filter and order, the pane expanded. */
export interface ScreenOptions {
  filter: string;
  reversed: boolean;
  /** The chosen one of the model's sorts. */
  sort?: string;
  /** The pane in front has the whole body (`e`). */
  expanded: boolean;
}

/** The rows a screen's cursor moves over. */
export interface RowModel<Row> {
  select(data: ScreenData, options: ScreenOptions): readonly Row[];
  /** The row's id: a run's, a step's, a slice's name, a failure's, a gate's. */
  id(row: Row): string;
  /** What Enter does on a row. */
  open?(id: string): Jump;
  /** Where Enter or `e` leads instead of expanding the row's pane, when it does (a replay failure: the replay screen). */
  expandTo?(id: string): Jump | undefined;
  /** The orders `o` steps through, the default first (without them, `o` reverses). */
  sorts?: readonly string[];
}

export interface ScreenProps<Row> {
  /** This screen's rows, selected, filtered and ordered. */
  rows: readonly Row[];
  /** The selected row, inside `rows`. */
  cursor: number;
  options: ScreenOptions;
  data: ScreenData;
  width: number;
  height: number;
  theme: Theme;
  depth: ColorDepth;
  /** Reads a frame for the failure browser. */
  readFrame(path: string): RgbFrame | undefined;
  /** The replay screen's player state and how it reads timelines and bundles' frames. */
  replay: ReplayProps;
  /** The registry screen's snapshot, panes and question asked (absent where no screen needs them). */
  registry?: RegistryProps;
}

/** One line of the screen table. */
export interface ScreenEntry<Row = unknown> extends ScreenKeys {
  // Declared as methods: an entry of any row type is a ScreenEntry<unknown>, its rows and component agreeing.
  component(props: ScreenProps<Row>): ReactNode;
  rows?: RowModel<Row>;
}
