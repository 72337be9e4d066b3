/**
 * The screen table: one line per screen, in tab order. A line names the screen (its tab, its `:`
 * command and where its bindings apply), the key that shows it, its title in the help, what its
 * `:` command says, its component, its bindings, and the model of the rows its cursor moves over.
 * A new screen is a file in this folder and a line here; the binding table below (keys, footer
 * hints, the `?` help) is made from these lines and keymap.ts's global bindings.
 */
import { createKeymap } from '../keymap.js';
import type { ScreenEntry } from './screen.js';
import { RUNS_BINDINGS, RUN_ROWS, RunsScreen } from './runs.js';
import { RUN_BINDINGS, STEP_ROWS, RunScreen } from './run-dag.js';
import { LATENCY_BINDINGS, LatencyScreen } from './latency.js';
import { SLICES_BINDINGS, SLICE_ROWS, SlicesScreen } from './slices.js';
import { FAILURES_BINDINGS, FAILURE_ROWS, FailuresScreen } from './failures.js';
import { GATES_BINDINGS, GATE_ROWS, GatesScreen } from './gates.js';
import { REPLAY_BINDINGS, REPLAY_ROWS, ReplayScreen } from './replay-view.js';
import { REGISTRY_BINDINGS, RegistryScreen } from './registry.js';
import { SIM_BINDINGS, SIM_ROWS, SimScreen } from './sim-view.js';

export const SCREEN_TABLE = [
  { id: 'runs',     key: '1', title: 'runs',       about: 'the run history',                                                   component: RunsScreen,     bindings: RUNS_BINDINGS,     rows: RUN_ROWS },
  { id: 'run',      key: '2', title: 'run: steps', about: 'open a run by id or prefix: :run r-2026',                           component: RunScreen,      bindings: RUN_BINDINGS,      rows: STEP_ROWS },
  { id: 'latency',  key: '3', title: 'latency',    about: 'latency, candidate next to production',                             component: LatencyScreen,  bindings: LATENCY_BINDINGS },
  { id: 'slices',   key: '4', title: 'slices',     about: 'the slice table',                                                   component: SlicesScreen,   bindings: SLICES_BINDINGS,   rows: SLICE_ROWS },
  { id: 'failures', key: '5', title: 'failures',   about: 'failures; :failures kind=lost-object class=pedestrian slice=night', component: FailuresScreen, bindings: FAILURES_BINDINGS, rows: FAILURE_ROWS },
  { id: 'gates',    key: '6', title: 'gates',      about: 'gates, verdicts, approvals',                                        component: GatesScreen,    bindings: GATES_BINDINGS,    rows: GATE_ROWS },
  { id: 'replay',   key: '7', title: 'replay',     about: 'flagged replay segments, frame by frame',                           component: ReplayScreen,   bindings: REPLAY_BINDINGS,   rows: REPLAY_ROWS },
  { id: 'registry', key: '8', title: 'registry',   about: 'models, versions, aliases, approvals, governance, canary',          component: RegistryScreen, bindings: REGISTRY_BINDINGS },
  { id: 'sim',      key: '9', title: 'sim',        about: 'closed-loop sim: heat map, failed runs, clips; :sim type=collision', component: SimScreen,      bindings: SIM_BINDINGS,      rows: SIM_ROWS },
] as const satisfies readonly ScreenEntry[];

/** A screen's id: "runs", "run", "latency", "slices", "failures", "gates", "replay", "registry", "sim". */
export type Screen = (typeof SCREEN_TABLE)[number]['id'];

/** The workbench's binding table: key dispatch, the footer hints, the help overlay. */
export const KEYMAP = createKeymap(SCREEN_TABLE);
/** The table's parts by name: every binding, a key's action, the footer hints, the help lines. */
export const { bindings: BINDINGS, lookup, footerHints, helpLines } = KEYMAP;
