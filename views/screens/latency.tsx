/**
 * Live latency, candidate next to production: one target's histogram and percentiles over time,
 * and the same target of the other model beside it (from 120 columns) or below it. Tab brings the
 * next target to the front, `e` gives it the whole screen, `f` freezes the data.
 */
import React from 'react';
import { Box, Text } from 'ink';
import type { LiveState } from '../../src/live/live-state.js';
import { clip, type Theme } from '../theme.js';
import { LatencyPane } from '../panes.js';
import type { ScreenBinding } from '../keymap.js';
import type { ScreenProps } from './screen.js';
import { NoRun, pad } from './list.js';

/** Tab (next target), f (freeze), e (the target in front alone). */
export const LATENCY_BINDINGS: readonly ScreenBinding[] = ['next-pane', 'freeze', 'expand'];

/** The target compared with `target`: the same target name after "/", another model. */
export function counterpartOf(target: string, targets: readonly string[]): string | undefined {
  const [model, ...rest] = target.split('/');
  const suffix = rest.join('/');
  const others = targets.filter((t) => t !== target && t.split('/').slice(1).join('/') === suffix && t.split('/')[0] !== model);
  return others.find((t) => /prod|baseline/.test(t)) ?? others[0];
}

/** The latency screen: the shown run's live latency, the target chosen with Tab in front. */
export function LatencyScreen({ data, options, width, height, theme }: ScreenProps<unknown>) {
  if (!data.run) return <NoRun runId={data.runId} width={width} theme={theme} />;
  return <LatencyPanes state={data.run.view} targetIndex={data.target} width={width} height={height} theme={theme} frozen={data.frozen} expanded={options.expanded} />;
}

export interface LatencyPanesProps {
  state: LiveState;
  /** Which target is in front: counts Tab presses, taken modulo the targets. */
  targetIndex: number;
  width: number;
  height: number;
  theme: Theme;
  frozen: boolean;
  /** Only the target in front, at full size. */
  expanded?: boolean;
}

/** The panes of the target in front and of its counterpart; candidates before production. */
export function LatencyPanes({ state, targetIndex, width, height, theme, frozen, expanded = false }: LatencyPanesProps) {
  const targets = Object.keys(state.latency).sort((a, b) => Number(/prod|baseline/.test(a)) - Number(/prod|baseline/.test(b)) || a.localeCompare(b));
  if (!targets.length) {
    return (
      <Box flexDirection="column">
        <Text bold color={theme.accent}>
          LATENCY
        </Text>
        <Text>{clip('  no latency samples in this run yet (bench steps stream them)', width, theme.unicode)}</Text>
        {pad(height - 2, 'lz')}
      </Box>
    );
  }
  const main = targets[targetIndex % targets.length];
  const other = expanded ? undefined : counterpartOf(main, targets);
  const side = width >= 120 && other;
  if (!other) return <LatencyPane latency={state.latency[main]} targets={targets} width={width} rows={height - 1} theme={theme} frozen={frozen} />;
  if (side) {
    const half = Math.floor((width - 1) / 2);
    return (
      <Box flexDirection="row">
        <Box width={half} flexDirection="column">
          <LatencyPane latency={state.latency[main]} targets={targets} width={half} rows={height - 1} theme={theme} frozen={frozen} />
        </Box>
        <Box width={1} />
        <Box width={width - half - 1} flexDirection="column">
          <LatencyPane latency={state.latency[other]} targets={targets} width={width - half - 1} rows={height - 1} theme={theme} frozen={frozen} />
        </Box>
      </Box>
    );
  }
  const top = Math.floor(height / 2);
  return (
    <Box flexDirection="column">
      <LatencyPane latency={state.latency[main]} targets={targets} width={width} rows={top - 1} theme={theme} frozen={frozen} />
      <LatencyPane latency={state.latency[other]} targets={targets} width={width} rows={height - top - 1} theme={theme} frozen={frozen} />
    </Box>
  );
}
